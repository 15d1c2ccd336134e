/* The harness of the IMAP session unit tests: one session run through the
 * real parser, passdb and Maildir storage in a temporary directory, without
 * a network; run() parses and executes command lines as the session's
 * worker jobs would and returns what the session wrote. Included by the
 * test files that use it (static functions, one copy per test program). */
#ifndef OM_TEST_IMAP_HARNESS_H
#define OM_TEST_IMAP_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth/passdb.h"
#include "imap/imap-session-private.h"
#include "lib/config.h"
#include "lib/om-error.h"

struct fixture {
	char dir[64];
	struct om_config cfg;
	struct imap_server server;
	struct imap_session s;
	struct imap_session_priv priv;
	struct buf out;
};

static int harness_setup(void **state, const char *passwd_line)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128];
	char *error = NULL;
	FILE *fp;

	snprintf(f->dir, sizeof(f->dir), "/tmp/om-imap-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/users", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(passwd_line, fp);
	fclose(fp);

	config_defaults(&f->cfg);
	free(f->cfg.mail_location);
	struct buf loc = BUF_INIT;
	buf_printf(&loc, "maildir:%s/mail/%%u", f->dir);
	f->cfg.mail_location = buf_steal(&loc);
	f->cfg.auth_failure_delay = 0;

	struct buf spec = BUF_INIT;
	buf_printf(&spec, "passwd-file:%s", path);
	assert_int_equal(passdb_open(buf_cstr(&spec), &f->server.passdb, &error), 0);
	buf_free(&spec);
	f->server.cfg = &f->cfg;

	struct imap_parser_limits limits = { 65536, 1 << 20, 65536, 100, 100000 };
	f->s.server = &f->server;
	f->s.cfg = &f->cfg;
	f->s.parser = imap_parser_new(&limits);
	f->s.priv = &f->priv;
	f->s.state = IMAP_STATE_NOT_AUTH;
	f->priv.capture = &f->out;
	*state = f;
	return 0;
}

static int harness_teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	imap_session_deselect(&f->s);
	if (f->priv.parsed != NULL)
		imap_command_free(f->priv.parsed);
	if (f->s.user != NULL)
		mail_user_unref(f->s.user);
	imap_parser_free(f->s.parser);
	buf_free(&f->priv.line);
	buf_free(&f->s.tagged);
	buf_free(&f->s.out);
	free(f->s.username);
	buf_free(&f->out);
	passdb_close(f->server.passdb);
	config_free(&f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Parse and run one command (literals included); the output. */
static const char *run(struct fixture *f, const char *line)
{
	size_t len = strlen(line), off = 0;

	buf_reset(&f->out);
	while (off < len) {
		size_t consumed = 0;
		enum imap_parse_result r = imap_parser_run(f->s.parser, line + off, len - off, &consumed);
		off += consumed;
		if (r == IMAP_PARSE_COMMAND) {
			imap_session_exec(&f->s, imap_parser_take(f->s.parser));
		} else if (r == IMAP_PARSE_ERROR || r == IMAP_PARSE_FATAL) {
			buf_printf(&f->out, "PARSE %s\r\n", imap_parser_error(f->s.parser));
		}
	}
	return buf_cstr(&f->out);
}

static void login(struct fixture *f)
{
	const char *out = run(f, "l LOGIN alice secret\r\n");
	assert_non_null(strstr(out, "l OK [CAPABILITY IMAP4rev1 "));
	assert_int_equal(f->s.state, IMAP_STATE_AUTH);
}

static void assert_has(const char *out, const char *needle)
{
	if (strstr(out, needle) == NULL)
		fail_msg("expected %s in:\n%s", needle, out);
}

static void assert_lacks(const char *out, const char *needle)
{
	if (strstr(out, needle) != NULL)
		fail_msg("unexpected %s in:\n%s", needle, out);
}

#endif
