/* objmail cache stats [--json]: the storage layer's object store and
 * fscache figures from the running daemon. */
#include "cli/cli.h"

int cmd_cache_stats(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 0)
		return cli_usage(ctx);
	const char *req[2] = { "cache-stats", "text" };
	return cli_admin_print(ctx, req, json ? 1 : 2);
}
