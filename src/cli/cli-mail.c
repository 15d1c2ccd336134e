/* Running a mail-ops.h operation for a command: live through the daemon's
 * admin socket when it answers (so open sessions see the change at once),
 * else offline on the storage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli-mail.h"
#include "cli/mail-ops.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

int cli_mail_user_open(struct cli_ctx *ctx, const char *name, struct mail_user **user_r)
{
	struct passdb *db;
	int r = cli_open_passdb(ctx, &db);
	if (r != CLI_OK)
		return r;
	struct passdb_user pu;
	memset(&pu, 0, sizeof(pu));
	int ret = passdb_lookup(db, name, &pu);
	passdb_close(db);
	if (ret < 0) {
		fprintf(stderr, "objmail: user %s: %s\n", name,
			ret == -OM_ENOTFOUND ? "no such user" : om_strerror(ret));
		return CLI_FAIL;
	}
	ret = mail_user_open(&ctx->cfg, pu.user, &pu, user_r);
	passdb_user_free(&pu);
	if (ret < 0) {
		fprintf(stderr, "objmail: user %s: opening the mail storage failed: %s%s\n", name,
			om_strerror(ret),
			ret == -OM_ETEMP ? " (the user's lease is held: an objmaild serves this "
					   "user; with listen_admin set in the config, objmail goes "
					   "live through that daemon)"
					 : "");
		return CLI_FAIL;
	}
	return CLI_OK;
}

void cli_mail_user_close(struct mail_user *user)
{
	int ret = mail_storage_flush(mail_user_name(user));
	if (ret < 0 && ret != -OM_ENOTFOUND)
		fprintf(stderr, "objmail: user %s: flushing the index failed: %s\n",
			mail_user_name(user), om_strerror(ret));
	mail_user_unref(user);
	mail_storage_shutdown();
}

int cli_mail_op(struct cli_ctx *ctx, const char *user, size_t argc, char **argv, bool json)
{
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	if (!mail_op_known(argc, argv))
		return cli_usage(ctx);
	if (cli_admin_reachable(ctx)) {
		const char *req[ADMIN_REQ_MAX];
		size_t n = 0;
		req[n++] = "mail";
		req[n++] = json ? "json" : "text";
		req[n++] = user;
		for (size_t i = 0; i < argc && n < ADMIN_REQ_MAX; i++)
			req[n++] = argv[i];
		return cli_admin_print(ctx, req, n);
	}
	struct mail_user *mu;
	r = cli_mail_user_open(ctx, user, &mu);
	if (r != CLI_OK)
		return r;
	struct buf out = BUF_INIT, err = BUF_INIT;
	int ret = mail_op_run(mu, argc, argv, json, &out, &err);
	cli_mail_user_close(mu);
	if (ret < 0) {
		fprintf(stderr, "objmail: %s\n", buf_cstr(&err));
		r = strncmp(buf_cstr(&err), "usage", 5) == 0 ? CLI_USAGE : CLI_FAIL;
	} else if (!cli_write_stdout(&out)) {
		fprintf(stderr, "objmail: writing to stdout failed\n");
		r = CLI_FAIL;
	}
	buf_free(&out);
	buf_free(&err);
	return r;
}
