/* objmail lease USER: which backend holds USER's lease, as the daemon sees
 * it. */
#include "cli/cli.h"

int cmd_lease(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	const char *req[2] = { "lease", argv[0] };
	return cli_admin_print(ctx, req, 2);
}
