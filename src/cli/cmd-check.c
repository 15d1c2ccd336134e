/* objmail check USER [--json]: consistency check of USER's mail, index
 * against the store (check-ops.c says what is checked). Exit 0 when
 * consistent, 1 with one line (or JSON item) per problem.
 *
 * Live through the daemon's admin socket (`check` request, the same
 * check-ops.c inside objmaild) when it answers: read-only, under the user
 * lock, on the user as its sessions have it open (on obox the daemon holds
 * the user's lease, so this is the only way there). Offline on the storage
 * otherwise (obox: the user's lease must be free). */
#include <stdio.h>
#include <string.h>

#include "cli/cli-mail.h"
#include "cli/cli.h"
#include "cli/maint-ops.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

int cmd_check(struct cli_ctx *ctx, int argc, char **argv);

int cmd_check(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	struct buf out = BUF_INIT, err = BUF_INIT;
	if (cli_admin_reachable(ctx)) {
		/* ERR inconsistent after the report: the report is printed all
		 * the same, and the exit code is 1 as offline */
		const char *req[] = { "check", json ? "json" : "text", argv[0] };
		r = cli_admin_call(ctx, req, 3, &out);
		if (out.len > 0 && !cli_write_stdout(&out)) {
			fprintf(stderr, "objmail: writing to stdout failed\n");
			r = CLI_FAIL;
		}
		buf_free(&out);
		return r;
	}
	struct mail_user *user;
	r = cli_mail_user_open(ctx, argv[0], &user);
	if (r != CLI_OK)
		return r;
	unsigned long problems = 0;
	int ret = maint_check(user, false, json, &out, &err, &problems);
	if (ret < 0) {
		fprintf(stderr, "objmail: check: %s\n", buf_cstr(&err));
		r = CLI_FAIL;
	} else {
		if (!cli_write_stdout(&out)) {
			fprintf(stderr, "objmail: writing to stdout failed\n");
			r = CLI_FAIL;
		}
		if (problems > 0) {
			fprintf(stderr, "objmail: check: user %s: %lu problem(s): the index and the "
					"store disagree\n", argv[0], problems);
			r = CLI_FAIL;
		}
	}
	buf_free(&out);
	buf_free(&err);
	cli_mail_user_close(user);
	return r;
}
