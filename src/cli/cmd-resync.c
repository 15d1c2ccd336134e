/* objmail force-resync USER [--json]: forget USER's index and rebuild it
 * from the store (maint-ops.h: obox: newest bundle + logs + listing of m/;
 * maildir: the folders, dovecot-uidlist UIDs kept).
 *
 * Live through the daemon's admin socket (`force-resync` request, the same
 * maint-ops.c inside objmaild) when it answers: the user's IMAP sessions are
 * closed first (BYE; clients reconnect to the same UIDVALIDITY and UIDs),
 * then the index is rebuilt in the daemon. On obox the daemon holds the
 * user's lease, so this is the only way there. Offline on the storage
 * otherwise. */
#include <stdio.h>
#include <string.h>

#include "auth/passdb.h"
#include "cli/cli-mail.h"
#include "cli/cli.h"
#include "cli/maint-ops.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

int cmd_force_resync(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	if (cli_admin_reachable(ctx)) {
		const char *req[] = { "force-resync", json ? "json" : "text", argv[0] };
		return cli_admin_print(ctx, req, 3);
	}
	struct passdb *db;
	r = cli_open_passdb(ctx, &db);
	if (r != CLI_OK)
		return r;
	struct passdb_user pu;
	memset(&pu, 0, sizeof(pu));
	int ret = passdb_lookup(db, argv[0], &pu);
	passdb_close(db);
	if (ret < 0) {
		fprintf(stderr, "objmail: force-resync: user %s: %s\n", argv[0],
			ret == -OM_ENOTFOUND ? "no such user" : om_strerror(ret));
		return CLI_FAIL;
	}
	struct buf out = BUF_INIT, err = BUF_INIT;
	ret = maint_resync(&ctx->cfg, &pu, NULL, json, &out, &err);
	mail_storage_shutdown();
	passdb_user_free(&pu);
	if (ret < 0) {
		fprintf(stderr, "objmail: force-resync: %s%s\n", buf_cstr(&err),
			ret == -OM_ETEMP ? " (on obox: is the user's lease held by an objmaild "
					   "without listen_admin?)" : "");
		r = CLI_FAIL;
	} else if (!cli_write_stdout(&out)) {
		fprintf(stderr, "objmail: writing to stdout failed\n");
		r = CLI_FAIL;
	}
	buf_free(&out);
	buf_free(&err);
	return r;
}
