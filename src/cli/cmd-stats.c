/* objmail stats and reload: the daemon's /metrics text, and SIGHUP's work
 * (reopen the log, reload users) without a signal. */
#include "cli/cli.h"

int cmd_stats(struct cli_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return cli_usage(ctx);
	const char *req[1] = { "stats" };
	return cli_admin_print(ctx, req, 1);
}

int cmd_reload(struct cli_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return cli_usage(ctx);
	const char *req[1] = { "reload" };
	return cli_admin_print(ctx, req, 1);
}
