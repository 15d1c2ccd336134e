/* objmail lease USER: which backend holds USER's lease (live through the
 * daemon when it runs, else read from the store). */
#include <stdio.h>

#include "cli/cli.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

int cmd_lease(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	if (cli_admin_reachable(ctx)) {
		const char *req[2] = { "lease", argv[0] };
		return cli_admin_print(ctx, req, 2);
	}
	/* Offline: read the lease object from the store directly. */
	struct buf json = BUF_INIT;
	r = mail_user_lease_info(&ctx->cfg, argv[0], &json);
	if (r < 0) {
		fprintf(stderr, "objmail: lease %s: %s\n", argv[0],
			r == -OM_EINVAL ? "this storage (maildir) has no leases" : om_strerror(r));
		buf_free(&json);
		return CLI_FAIL;
	}
	printf("%s\n", json.data);
	buf_free(&json);
	return CLI_OK;
}
