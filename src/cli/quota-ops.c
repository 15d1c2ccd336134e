/* objmail quota get|recalc (quota-ops.h). */
#include <string.h>

#include "cli/cli.h"
#include "cli/quota-ops.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

int quota_op_get(struct mail_user *user, bool json, struct buf *out, struct buf *err)
{
	struct mail_quota q;
	int ret = mail_user_quota_get(user, &q);
	if (ret < 0) {
		buf_printf(err, "user %s: reading the quota: %s", mail_user_name(user),
			   om_strerror(ret));
		return ret;
	}
	if (json) {
		buf_append_str(out, "{\"user\":");
		cli_json_str(out, mail_user_name(user));
		buf_printf(out,
			   ",\"storage_used\":%llu,\"storage_limit\":%llu,"
			   "\"messages_used\":%llu,\"messages_limit\":%llu}\n",
			   (unsigned long long)q.storage_used, (unsigned long long)q.storage_limit,
			   (unsigned long long)q.messages_used, (unsigned long long)q.messages_limit);
		return 0;
	}
	buf_printf(out, "user: %s\n", mail_user_name(user));
	buf_printf(out, "storage: %llu bytes used, limit ", (unsigned long long)q.storage_used);
	if (q.storage_limit > 0)
		buf_printf(out, "%llu bytes\n", (unsigned long long)q.storage_limit);
	else
		buf_append_str(out, "none\n");
	buf_printf(out, "messages: %llu, limit ", (unsigned long long)q.messages_used);
	if (q.messages_limit > 0)
		buf_printf(out, "%llu\n", (unsigned long long)q.messages_limit);
	else
		buf_append_str(out, "none\n");
	return 0;
}

int quota_op_recalc(struct mail_user *user, bool json, struct buf *out, struct buf *err)
{
	struct mailbox_info *boxes = NULL;
	size_t n = 0;
	const char *name = mail_user_name(user);
	int ret = mail_user_list_mailboxes(user, &boxes, &n);
	if (ret < 0)
		buf_printf(err, "user %s: listing mailboxes: %s", name, om_strerror(ret));
	for (size_t i = 0; i < n && ret == 0; i++) {
		if ((boxes[i].flags & (MBOX_NOSELECT | MBOX_NONEXISTENT)) != 0)
			continue;
		struct mailbox *box;
		struct mailbox_snapshot *snap;
		/* read-only: counting must not claim \Recent */
		ret = mailbox_open(user, boxes[i].name, true, &box);
		if (ret == -OM_ENOTFOUND) {
			ret = 0; /* deleted meanwhile (live) */
			continue;
		}
		if (ret == 0) {
			ret = mailbox_sync(box, &snap);
			if (ret == 0)
				mailbox_snapshot_free(snap);
			mailbox_close(box);
		}
		if (ret < 0)
			buf_printf(err, "user %s, mailbox %s: rescanning: %s", name, boxes[i].name,
				   om_strerror(ret));
	}
	mailbox_info_free(boxes, n);
	if (ret == 0) {
		ret = mail_storage_flush(name);
		if (ret == -OM_ENOTFOUND)
			ret = 0;
		if (ret < 0)
			buf_printf(err, "user %s: flushing the index: %s", name, om_strerror(ret));
	}
	if (ret < 0)
		return ret;
	return quota_op_get(user, json, out, err);
}
