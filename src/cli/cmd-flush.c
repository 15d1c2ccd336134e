/* objmail flush [USER]: upload the dirty index bundles of USER (or of every
 * open user) now. Live: only the daemon has users open. */
#include "cli/cli.h"

int cmd_flush(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc > 1 || (argc == 1 && argv[0][0] == '-'))
		return cli_usage(ctx);
	const char *req[2] = { "flush", argc == 1 ? argv[0] : NULL };
	return cli_admin_print(ctx, req, argc == 1 ? 2 : 1);
}
