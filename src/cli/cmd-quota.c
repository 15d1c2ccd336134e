/* objmail quota get USER [--json] / objmail quota recalc USER [--json].
 * Usage is counted from USER's index (sum of RFC822.SIZE, number of
 * messages), the limits come from the passdb entry or the config. recalc
 * rescans every mailbox first so the index matches the store (e.g. after
 * messages were put into or removed from a Maildir by hand).
 *
 * Live through the daemon's admin socket (`quota` request, the same
 * quota-ops.c inside objmaild) when it answers, so the numbers are those of
 * the user as the daemon has it open (on obox the daemon holds the user's
 * lease and an offline open would fail); else offline on the storage. */
#include <stdio.h>
#include <string.h>

#include "cli/cli-mail.h"
#include "cli/quota-ops.h"
#include "lib/om-error.h"

int cmd_quota_get(struct cli_ctx *ctx, int argc, char **argv);
int cmd_quota_recalc(struct cli_ctx *ctx, int argc, char **argv);

static int run(struct cli_ctx *ctx, int argc, char **argv, bool recalc)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	const char *op = recalc ? "recalc" : "get";
	if (cli_admin_reachable(ctx)) {
		const char *req[] = { "quota", json ? "json" : "text", op, argv[0] };
		return cli_admin_print(ctx, req, 4);
	}
	struct mail_user *user;
	r = cli_mail_user_open(ctx, argv[0], &user);
	if (r != CLI_OK)
		return r;
	struct buf out = BUF_INIT, err = BUF_INIT;
	int ret = recalc ? quota_op_recalc(user, json, &out, &err)
			 : quota_op_get(user, json, &out, &err);
	cli_mail_user_close(user);
	if (ret < 0) {
		fprintf(stderr, "objmail: quota %s: %s\n", op, buf_cstr(&err));
		r = CLI_FAIL;
	} else if (!cli_write_stdout(&out)) {
		fprintf(stderr, "objmail: writing to stdout failed\n");
		r = CLI_FAIL;
	}
	buf_free(&out);
	buf_free(&err);
	return r;
}

int cmd_quota_get(struct cli_ctx *ctx, int argc, char **argv)
{
	return run(ctx, argc, argv, false);
}

int cmd_quota_recalc(struct cli_ctx *ctx, int argc, char **argv)
{
	return run(ctx, argc, argv, true);
}
