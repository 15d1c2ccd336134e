/* objmail who [--json] and kick USER: the daemon's logged-in IMAP sessions. */
#include "cli/cli.h"

int cmd_who(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 0)
		return cli_usage(ctx);
	const char *req[2] = { "who", "text" };
	return cli_admin_print(ctx, req, json ? 1 : 2);
}

int cmd_kick(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	const char *req[2] = { "kick", argv[0] };
	return cli_admin_print(ctx, req, 2);
}
