/* objmail fts rescan USER: offline. Rebuild USER's full-text index and SORT
 * header cache from the messages (each one is read once). The user must not
 * be open elsewhere, so a running daemon (reachable admin socket) is
 * refused. On obox the rebuilt index is uploaded before exiting. */
#include <stdio.h>
#include <string.h>

#include "auth/passdb.h"
#include "cli/cli.h"
#include "lib/om-error.h"
#include "storage/fts.h"
#include "storage/mail-storage.h"

int cmd_fts_rescan(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	if (cli_admin_reachable(ctx)) {
		fprintf(stderr, "objmail: objmaild is running (admin socket %s answers); "
				"stop it first: fts rescan needs the user closed\n",
			ctx->cfg.listen_admin);
		return CLI_FAIL;
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
		fprintf(stderr, "objmail: %s: %s\n", argv[0],
			ret == -OM_ENOTFOUND ? "no such user" : om_strerror(ret));
		return CLI_FAIL;
	}
	struct mail_user *user;
	ret = mail_user_open(&ctx->cfg, argv[0], &pu, &user);
	if (ret < 0) {
		fprintf(stderr, "objmail: opening %s failed: %s\n", argv[0], om_strerror(ret));
		passdb_user_free(&pu);
		return CLI_FAIL;
	}
	unsigned n = 0;
	ret = fts_rescan_user(user, &n);
	if (ret == 0)
		ret = mail_storage_flush(argv[0]);
	mail_user_unref(user);
	mail_storage_shutdown();
	passdb_user_free(&pu);
	if (ret < 0) {
		fprintf(stderr, "objmail: fts rescan %s failed: %s\n", argv[0], om_strerror(ret));
		return CLI_FAIL;
	}
	printf("%s: %u messages indexed\n", argv[0], n);
	return CLI_OK;
}
