/* objmail mailbox list|status|create|delete|rename|subscribe|unsubscribe. */
#include <string.h>

#include "cli/cli-mail.h"

int cmd_mailbox(struct cli_ctx *ctx, int argc, char **argv);

int cmd_mailbox(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc < 2)
		return cli_usage(ctx);
	static const char *const verbs[] = { "list", "status", "create", "delete", "rename",
					     "subscribe", "unsubscribe", NULL };
	const char *verb = argv[0];
	bool ok = false;
	for (size_t i = 0; verbs[i] != NULL; i++)
		ok = ok || strcmp(verb, verbs[i]) == 0;
	if (!ok)
		return cli_usage(ctx);
	char opname[32];
	memcpy(opname, "mailbox-", 8);
	size_t vl = strlen(verb);
	memcpy(opname + 8, verb, vl + 1);
	char *op[4] = { opname };
	size_t n = 1;
	for (int i = 2; i < argc && n < 4; i++)
		op[n++] = argv[i];
	if (argc - 2 > 3)
		return cli_usage(ctx);
	return cli_mail_op(ctx, argv[1], n, op, json);
}
