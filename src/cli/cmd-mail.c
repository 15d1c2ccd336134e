/* objmail search|fetch|expunge|flags: IMAP SEARCH queries over a user's
 * mailboxes (mail-ops.c). */
#include <string.h>

#include "cli/cli-mail.h"

int cmd_search(struct cli_ctx *ctx, int argc, char **argv);
int cmd_fetch(struct cli_ctx *ctx, int argc, char **argv);
int cmd_expunge(struct cli_ctx *ctx, int argc, char **argv);
int cmd_flags(struct cli_ctx *ctx, int argc, char **argv);

int cmd_search(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 2)
		return cli_usage(ctx);
	char *op[] = { (char *)"search", argv[1] };
	return cli_mail_op(ctx, argv[0], 2, op, json);
}

int cmd_fetch(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 3)
		return cli_usage(ctx);
	char *op[] = { (char *)"fetch", argv[1], argv[2] };
	return cli_mail_op(ctx, argv[0], 3, op, json);
}

int cmd_expunge(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 2)
		return cli_usage(ctx);
	char *op[] = { (char *)"expunge", argv[1] };
	return cli_mail_op(ctx, argv[0], 2, op, json);
}

int cmd_flags(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 4)
		return cli_usage(ctx);
	const char *op = strcmp(argv[0], "add") == 0       ? "flags-add"
			 : strcmp(argv[0], "remove") == 0  ? "flags-remove"
			 : strcmp(argv[0], "replace") == 0 ? "flags-replace"
							   : NULL;
	if (op == NULL)
		return cli_usage(ctx);
	char *ops[] = { (char *)op, argv[2], argv[3] };
	return cli_mail_op(ctx, argv[1], 3, ops, json);
}
