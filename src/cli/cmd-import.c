/* objmail import maildir|mbox|imap and export maildir|mbox: offline on
 * USER's storage (a migration runs before the user is served; for obox the
 * user's lease must be free: stop objmaild or let it close the user). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-mail.h"
#include "cli/import.h"
#include "lib/om-error.h"

int cmd_import_maildir(struct cli_ctx *ctx, int argc, char **argv);
int cmd_import_mbox(struct cli_ctx *ctx, int argc, char **argv);
int cmd_import_imap(struct cli_ctx *ctx, int argc, char **argv);
int cmd_export_maildir(struct cli_ctx *ctx, int argc, char **argv);
int cmd_export_mbox(struct cli_ctx *ctx, int argc, char **argv);

enum job { JOB_IMPORT_MAILDIR, JOB_IMPORT_MBOX, JOB_IMPORT_IMAP, JOB_EXPORT_MAILDIR,
	   JOB_EXPORT_MBOX };

static int run(struct cli_ctx *ctx, enum job job, const char *user, char **args, bool json,
	       unsigned threads)
{
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	struct mail_user *mu;
	r = cli_mail_user_open(ctx, user, &mu);
	if (r != CLI_OK)
		return r;
	struct import_stats st = { 0 };
	struct buf err = BUF_INIT;
	int ret;
	const char *what;
	switch (job) {
	case JOB_IMPORT_MAILDIR:
		what = "import maildir";
		ret = import_maildir(mu, args[0], &st, &err);
		break;
	case JOB_IMPORT_MBOX:
		what = "import mbox";
		ret = import_mbox(mu, args[0], args[1], &st, &err);
		break;
	case JOB_IMPORT_IMAP:
		what = "import imap";
		ret = import_imap(mu, args[0], threads, &st, &err);
		break;
	case JOB_EXPORT_MAILDIR:
		what = "export maildir";
		ret = export_maildir(mu, args[0], &st, &err);
		break;
	default:
		what = "export mbox";
		ret = export_mbox(mu, args[0], args[1], &st, &err);
		break;
	}
	cli_mail_user_close(mu);
	if (ret < 0) {
		fprintf(stderr, "objmail: %s: %s\n", what,
			err.len > 0 ? buf_cstr(&err) : om_strerror(ret));
		r = CLI_FAIL;
	} else if (json) {
		printf("{\"user\":\"%s\",\"mailboxes\":%llu,\"messages\":%llu,\"skipped\":%llu,"
		       "\"uids_kept\":%llu}\n",
		       user, st.mailboxes, st.messages, st.skipped, st.uids_kept);
	} else {
		printf("%s %s: %llu mailboxes, %llu messages copied, %llu already there, "
		       "UIDs kept in %llu mailboxes\n",
		       what, user, st.mailboxes, st.messages, st.skipped, st.uids_kept);
	}
	buf_free(&err);
	return r;
}

static bool user_ok(const char *u)
{
	for (const char *p = u; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return false;
	return u[0] != '\0' && u[0] != '-';
}

int cmd_import_maildir(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 2 || !user_ok(argv[1]))
		return cli_usage(ctx);
	return run(ctx, JOB_IMPORT_MAILDIR, argv[1], argv, json, 0);
}

int cmd_import_mbox(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 3 || !user_ok(argv[1]))
		return cli_usage(ctx);
	char *args[] = { argv[0], argv[2] };
	return run(ctx, JOB_IMPORT_MBOX, argv[1], args, json, 0);
}

int cmd_import_imap(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	unsigned threads = 4;
	for (int i = 0; i + 1 < argc; i++) {
		if (strcmp(argv[i], "-j") == 0) {
			threads = (unsigned)atoi(argv[i + 1]);
			if (threads < 1 || threads > 32)
				return cli_usage(ctx);
			memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 2) * sizeof(*argv));
			argc -= 2;
			break;
		}
	}
	if (argc != 2 || !user_ok(argv[1]))
		return cli_usage(ctx);
	return run(ctx, JOB_IMPORT_IMAP, argv[1], argv, json, threads);
}

int cmd_export_maildir(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 2 || !user_ok(argv[0]))
		return cli_usage(ctx);
	return run(ctx, JOB_EXPORT_MAILDIR, argv[0], argv + 1, json, 0);
}

int cmd_export_mbox(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 3 || !user_ok(argv[0]))
		return cli_usage(ctx);
	return run(ctx, JOB_EXPORT_MBOX, argv[0], argv + 1, json, 0);
}
