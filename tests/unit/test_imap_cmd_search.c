/* LIBS: om_imap om_storage om_auth om_mime om_lib */
/* cmd_search against a session view (no mailbox opened: content keys are
 * only tried on messages whose bytes are gone, which never match). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-session-private.h"

struct fixture {
	struct imap_session s;
	struct imap_session_priv priv;
	struct buf out;
};

static const struct imap_parser_limits lim = {
	.max_line = 65536, .max_literal = 65536, .max_small_literal = 65536,
	.max_depth = 100, .max_args = 100000,
};

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->s.priv = &f->priv;
	f->priv.capture = &f->out;
	f->s.state = IMAP_STATE_SELECTED;
	struct imap_view *v = &f->s.view;
	v->count = v->alloc = 4;
	v->msgs = calloc(4, sizeof(*v->msgs));
	static const uint32_t uids[] = { 3, 7, 8, 20 };
	static const uint32_t flags[] = { MAIL_SEEN, MAIL_RECENT, MAIL_SEEN | MAIL_FLAGGED, 0 };
	for (size_t i = 0; i < 4; i++) {
		v->msgs[i].uid = uids[i];
		v->msgs[i].flags = flags[i];
		v->msgs[i].size = 100 * (i + 1);
		v->msgs[i].expunged = true; /* no bytes to read in this test */
	}
	v->msgs[3].keywords = 1;
	v->n_keywords = 1;
	v->keywords = calloc(1, sizeof(char *));
	v->keywords[0] = strdup("$Junk");
	v->uidnext = 21;
	return f;
}

static void fixture_free(struct fixture *f)
{
	imap_view_free(&f->s.view);
	buf_free(&f->out);
	buf_free(&f->s.tagged);
	free(f);
}

/* Run "<line>" through the parser and cmd_search; out = untagged + tagged. */
static void run(struct fixture *f, const char *line, bool uid, const char *want)
{
	struct imap_parser *p = imap_parser_new(&lim);
	size_t consumed;
	assert_int_equal(imap_parser_run(p, line, strlen(line), &consumed), IMAP_PARSE_COMMAND);
	struct imap_command *cmd = imap_parser_take(p);
	imap_parser_free(p);
	buf_reset(&f->out);
	buf_reset(&f->s.tagged);
	f->s.cmd = cmd;
	f->s.cmd_uid = uid;
	cmd_search(&f->s, cmd);
	buf_append(&f->out, buf_cstr(&f->s.tagged), f->s.tagged.len);
	assert_string_equal(buf_cstr(&f->out), want);
	f->s.cmd = NULL;
	imap_command_free(cmd);
}

static void test_cmd_search(void **state)
{
	struct fixture *f = fixture_new();
	run(f, "a SEARCH SEEN\r\n", false, "* SEARCH 1 3\r\na OK SEARCH completed\r\n");
	run(f, "a SEARCH UNSEEN\r\n", true, "* SEARCH 7 20\r\na OK SEARCH completed\r\n");
	/* the command as parsed: UID SEARCH ... */
	run(f, "a UID SEARCH UID 4:* FLAGGED\r\n", true, "* SEARCH 8\r\na OK SEARCH completed\r\n");
	run(f, "a SEARCH KEYWORD $junk LARGER 100\r\n", false,
	    "* SEARCH 4\r\na OK SEARCH completed\r\n");
	run(f, "a SEARCH DELETED\r\n", false, "* SEARCH\r\na OK SEARCH completed\r\n");
	/* content keys on messages whose bytes are gone never match */
	run(f, "a SEARCH OR SUBJECT x SEEN\r\n", false, "* SEARCH 1 3\r\na OK SEARCH completed\r\n");
	run(f, "a SEARCH CHARSET KOI8-R ALL\r\n", false,
	    "a NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n");
	run(f, "a SEARCH BLAH\r\n", false, "a BAD Error in IMAP command SEARCH: Unknown search key\r\n");
	run(f, "a SEARCH 5\r\n", false,
	    "a BAD Error in IMAP command SEARCH: Message sequence number out of range\r\n");
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_search),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
