/* objmail quota get USER [--json] / objmail quota recalc USER.
 * Usage is counted from USER's index (sum of RFC822.SIZE, number of
 * messages), the limits come from the passdb entry or the config. recalc is
 * offline: it rescans every mailbox so the index matches the store (e.g.
 * after messages were put into or removed from a Maildir by hand), then
 * prints the result. */
#include <stdio.h>
#include <string.h>

#include "auth/passdb.h"
#include "cli/cli.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

int cmd_quota_get(struct cli_ctx *ctx, int argc, char **argv);
int cmd_quota_recalc(struct cli_ctx *ctx, int argc, char **argv);

static int open_user(struct cli_ctx *ctx, const char *name, struct mail_user **user_r)
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
		fprintf(stderr, "objmail: %s: %s\n", name,
			ret == -OM_ENOTFOUND ? "no such user" : om_strerror(ret));
		return CLI_FAIL;
	}
	ret = mail_user_open(&ctx->cfg, pu.user, &pu, user_r);
	passdb_user_free(&pu);
	if (ret < 0) {
		fprintf(stderr, "objmail: opening %s failed: %s\n", name, om_strerror(ret));
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int print_quota(struct mail_user *user, bool json)
{
	struct mail_quota q;
	int ret = mail_user_quota_get(user, &q);
	if (ret < 0) {
		fprintf(stderr, "objmail: reading the quota of %s failed: %s\n",
			mail_user_name(user), om_strerror(ret));
		return CLI_FAIL;
	}
	struct buf out = BUF_INIT;
	if (json) {
		buf_append_str(&out, "{\"user\":");
		cli_json_str(&out, mail_user_name(user));
		buf_printf(&out,
			   ",\"storage_used\":%llu,\"storage_limit\":%llu,"
			   "\"messages_used\":%llu,\"messages_limit\":%llu}\n",
			   (unsigned long long)q.storage_used, (unsigned long long)q.storage_limit,
			   (unsigned long long)q.messages_used, (unsigned long long)q.messages_limit);
	} else {
		buf_printf(&out, "user: %s\n", mail_user_name(user));
		buf_printf(&out, "storage: %llu bytes used, limit ",
			   (unsigned long long)q.storage_used);
		if (q.storage_limit > 0)
			buf_printf(&out, "%llu bytes\n", (unsigned long long)q.storage_limit);
		else
			buf_append_str(&out, "none\n");
		buf_printf(&out, "messages: %llu, limit ", (unsigned long long)q.messages_used);
		if (q.messages_limit > 0)
			buf_printf(&out, "%llu\n", (unsigned long long)q.messages_limit);
		else
			buf_append_str(&out, "none\n");
	}
	bool ok = cli_write_stdout(&out);
	buf_free(&out);
	return ok ? CLI_OK : CLI_FAIL;
}

int cmd_quota_get(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	struct mail_user *user;
	r = open_user(ctx, argv[0], &user);
	if (r != CLI_OK)
		return r;
	r = print_quota(user, json);
	mail_user_unref(user);
	mail_storage_shutdown();
	return r;
}

int cmd_quota_recalc(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	if (cli_admin_reachable(ctx)) {
		fprintf(stderr, "objmail: objmaild is running (admin socket %s answers); "
				"stop it first: quota recalc needs the user closed\n",
			ctx->cfg.listen_admin);
		return CLI_FAIL;
	}
	struct mail_user *user;
	r = open_user(ctx, argv[0], &user);
	if (r != CLI_OK)
		return r;
	struct mailbox_info *boxes = NULL;
	size_t n = 0;
	int ret = mail_user_list_mailboxes(user, &boxes, &n);
	for (size_t i = 0; i < n && ret == 0; i++) {
		if ((boxes[i].flags & (MBOX_NOSELECT | MBOX_NONEXISTENT)) != 0)
			continue;
		struct mailbox *box;
		struct mailbox_snapshot *snap;
		/* read-only: counting must not claim \Recent */
		ret = mailbox_open(user, boxes[i].name, true, &box);
		if (ret < 0)
			break;
		ret = mailbox_sync(box, &snap);
		if (ret == 0)
			mailbox_snapshot_free(snap);
		mailbox_close(box);
	}
	mailbox_info_free(boxes, n);
	if (ret == 0)
		ret = mail_storage_flush(mail_user_name(user));
	if (ret < 0) {
		fprintf(stderr, "objmail: quota recalc %s failed: %s\n", argv[0], om_strerror(ret));
		r = CLI_FAIL;
	} else {
		r = print_quota(user, false);
	}
	mail_user_unref(user);
	mail_storage_shutdown();
	return r;
}
