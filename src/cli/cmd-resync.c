/* objmail force-resync USER: offline. Forget USER's local index and rebuild
 * it from the store (newest bundle + logs + listing of m/). The user must
 * not be open, so a running daemon (reachable admin socket) is refused. */
#include <stdio.h>

#include "cli/cli.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

int cmd_force_resync(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	if (cli_admin_reachable(ctx)) {
		fprintf(stderr, "objmail: objmaild is running (admin socket %s answers); "
				"stop it first: force-resync needs the user closed\n",
			ctx->cfg.listen_admin);
		return CLI_FAIL;
	}
	r = mail_user_force_resync(&ctx->cfg, argv[0]);
	if (r < 0) {
		fprintf(stderr, "objmail: force-resync %s failed: %s\n", argv[0], om_strerror(r));
		return CLI_FAIL;
	}
	printf("%s: index rebuilt from the store\n", argv[0]);
	return CLI_OK;
}
