/* objmail user auth|info: questions to the passdb, answered offline. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/om-error.h"

#define PASSWORD_LINE_MAX 4096

/* One line from stdin, without its line ending; echo off on a terminal. */
char *cli_read_password(void)
{
	struct termios saved, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		fputs("Password: ", stderr);
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	if (n < 0 || (size_t)n > PASSWORD_LINE_MAX) {
		if (line != NULL)
			explicit_bzero(line, cap);
		free(line);
		return NULL;
	}
	size_t len = (size_t)n;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	line[len] = '\0';
	return line;
}

int cmd_user_auth(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 1)
		return cli_usage(ctx);
	struct passdb *db;
	int r = cli_open_passdb(ctx, &db);
	if (r != CLI_OK)
		return r;
	char *password = cli_read_password();
	if (password == NULL) {
		fprintf(stderr, "objmail: no password on stdin\n");
		passdb_close(db);
		return CLI_FAIL;
	}
	r = passdb_verify(db, argv[0], password);
	explicit_bzero(password, strlen(password));
	free(password);
	passdb_close(db);
	if (r == 0) {
		puts("auth succeeded");
		return CLI_OK;
	}
	puts("auth failed");
	if (r != -OM_EAUTH && r != -OM_ENOTFOUND)
		fprintf(stderr, "objmail: passdb error: %s\n", om_strerror(r));
	return CLI_FAIL;
}

static void format_size(struct buf *out, uint64_t v)
{
	static const char units[] = "TGMK";
	for (int i = 0; i < 4; i++) {
		uint64_t m = 1ULL << (10 * (4 - i));
		if (v != 0 && v % m == 0) {
			buf_printf(out, "%llu%c", (unsigned long long)(v / m), units[i]);
			return;
		}
	}
	buf_printf(out, "%llu", (unsigned long long)v);
}

int cmd_user_info(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	struct passdb *db;
	int r = cli_open_passdb(ctx, &db);
	if (r != CLI_OK)
		return r;
	struct passdb_user u;
	r = passdb_lookup(db, argv[0], &u);
	passdb_close(db);
	if (r < 0) {
		if (r == -OM_ENOTFOUND)
			fprintf(stderr, "objmail: user %s not found\n", argv[0]);
		else
			fprintf(stderr, "objmail: passdb error: %s\n", om_strerror(r));
		return CLI_FAIL;
	}

	/* the per-user quota wins; else the config default (0 = unlimited) */
	uint64_t quota = u.quota_set ? u.quota : ctx->cfg.quota;
	const char *quota_source = u.quota_set ? "passdb" : "config";

	/* mail_location is "driver:path"; only the path carries %-variables */
	struct buf mail = BUF_INIT;
	const char *loc = ctx->cfg.mail_location;
	const char *colon = strchr(loc, ':');
	if (colon != NULL) {
		buf_append(&mail, loc, (size_t)(colon - loc + 1));
		if (config_expand_user_path(colon + 1, u.user, &mail) < 0)
			buf_reset(&mail);
	}

	struct buf out = BUF_INIT;
	if (json) {
		buf_append_str(&out, "{\"user\":");
		cli_json_str(&out, u.user);
		buf_append_str(&out, ",\"home\":");
		if (u.home != NULL)
			cli_json_str(&out, u.home);
		else
			buf_append_str(&out, "null");
		buf_printf(&out, ",\"quota\":%llu,\"quota_source\":", (unsigned long long)quota);
		cli_json_str(&out, quota_source);
		buf_append_str(&out, ",\"mail_location\":");
		if (mail.len > 0)
			cli_json_str(&out, buf_cstr(&mail));
		else
			buf_append_str(&out, "null");
		buf_append_str(&out, "}\n");
	} else {
		buf_printf(&out, "user: %s\n", u.user);
		buf_printf(&out, "home: %s\n", u.home != NULL ? u.home : "");
		buf_append_str(&out, "quota: ");
		if (quota == 0)
			buf_append_str(&out, "unlimited");
		else
			format_size(&out, quota);
		buf_printf(&out, " (%s)\n", quota_source);
		buf_printf(&out, "mail_location: %s\n", buf_cstr(&mail));
	}
	bool ok = cli_write_stdout(&out);
	buf_free(&out);
	buf_free(&mail);
	passdb_user_free(&u);
	return ok ? CLI_OK : CLI_FAIL;
}

int cmd_user_list(struct cli_ctx *ctx, int argc, char **argv);

int cmd_user_list(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc > 1)
		return cli_usage(ctx);
	const char *pattern = argc == 1 ? argv[0] : NULL;
	struct passdb *db;
	int r = cli_open_passdb(ctx, &db);
	if (r != CLI_OK)
		return r;
	char **names = NULL;
	size_t n = 0;
	r = passdb_list_users(db, &names, &n);
	passdb_close(db);
	if (r < 0) {
		fprintf(stderr, "objmail: this passdb cannot list its users: %s\n", om_strerror(r));
		return CLI_FAIL;
	}
	struct buf out = BUF_INIT;
	if (json)
		buf_append_str(&out, "{\"users\":[");
	size_t shown = 0;
	for (size_t i = 0; i < n; i++) {
		if (pattern == NULL || fnmatch(pattern, names[i], 0) == 0) {
			if (json) {
				if (shown > 0)
					buf_append_c(&out, ',');
				cli_json_str(&out, names[i]);
			} else {
				buf_printf(&out, "%s\n", names[i]);
			}
			shown++;
		}
		free(names[i]);
	}
	free(names);
	if (json)
		buf_append_str(&out, "]}\n");
	bool ok = cli_write_stdout(&out);
	buf_free(&out);
	return ok ? CLI_OK : CLI_FAIL;
}
