/* objmail fts rescan USER [--json]: rebuild USER's full-text index and SORT
 * header cache from the messages (each one is read once; maint-ops.h),
 * with progress. On obox the rebuilt index is uploaded before the command
 * ends.
 *
 * Live through the daemon's admin socket (`fts-rescan` request, the same
 * code inside objmaild) when it answers: sessions keep working meanwhile and
 * their SEARCHes stay right (a message whose rows are not rebuilt yet is
 * read instead); progress is streamed. Offline on the storage otherwise. */
#include <stdio.h>
#include <string.h>

#include "cli/cli-mail.h"
#include "cli/cli.h"
#include "cli/import.h"
#include "cli/maint-ops.h"
#include "lib/om-error.h"

int cmd_fts_rescan(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	struct buf out = BUF_INIT, err = BUF_INIT;
	if (cli_admin_reachable(ctx)) {
		const char *req[] = { "fts-rescan", json ? "json" : "text", argv[0] };
		r = cli_admin_call_progress(ctx, req, 3, &out);
	} else {
		struct mail_user *user;
		r = cli_mail_user_open(ctx, argv[0], &user);
		if (r != CLI_OK)
			return r;
		int ret = maint_fts_rescan(user, json, &out, &err);
		cli_mail_user_close(user);
		if (ret < 0) {
			fprintf(stderr, "objmail: %s\n", buf_cstr(&err));
			r = CLI_FAIL;
		}
	}
	if (r == CLI_OK && !cli_write_stdout(&out)) {
		fprintf(stderr, "objmail: writing to stdout failed\n");
		r = CLI_FAIL;
	}
	buf_free(&out);
	buf_free(&err);
	return r;
}
