/* objmail config: the effective configuration with every default. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_config(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 0)
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	struct buf out = BUF_INIT;
	config_print(&ctx->cfg, &out);
	bool ok = cli_write_stdout(&out);
	buf_free(&out);
	if (!ok) {
		perror("objmail: stdout");
		return CLI_FAIL;
	}
	return CLI_OK;
}
