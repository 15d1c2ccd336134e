/* QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA, SETQUOTA. Every mailbox of a
 * user shares one quota root, "User quota", with the resources STORAGE (in
 * KiB, of the messages' RFC822.SIZE) and MESSAGE. Limits come from the
 * config (quota, quota_messages) and the passdb (quota=, quota_messages=,
 * quota_rule=*:storage=...:messages=...); SETQUOTA is for admins, not
 * clients, so it is refused. */
#include <string.h>

#include "imap/imap-session-private.h"
#include "lib/om-error.h"

#define QUOTA_ROOT "User quota"

/* "* QUOTA "User quota" (STORAGE used limit MESSAGE used limit)": only the
 * resources that have a limit (RFC 9208 5.1); an empty list if none has. */
static int send_quota(struct imap_session *s)
{
	struct mail_quota q;
	struct buf line = BUF_INIT;
	int ret = mail_user_quota_get(s->user, &q);

	if (ret < 0)
		return ret;
	buf_append_str(&line, "QUOTA ");
	imap_write_string(&line, QUOTA_ROOT, strlen(QUOTA_ROOT));
	buf_append_str(&line, " (");
	if (q.storage_limit > 0) {
		/* KiB, rounded up: a byte over is a unit used */
		buf_printf(&line, "STORAGE %llu %llu",
			   (unsigned long long)((q.storage_used + 1023) / 1024),
			   (unsigned long long)(q.storage_limit / 1024));
	}
	if (q.messages_limit > 0) {
		if (q.storage_limit > 0)
			buf_append_c(&line, ' ');
		buf_printf(&line, "MESSAGE %llu %llu", (unsigned long long)q.messages_used,
			   (unsigned long long)q.messages_limit);
	}
	buf_append_c(&line, ')');
	imap_send(s, "%s", buf_cstr(&line));
	buf_free(&line);
	return 0;
}

void cmd_getquotaroot(struct imap_session *s, struct imap_command *cmd)
{
	struct buf name = BUF_INIT, line = BUF_INIT;
	struct mailbox_status st;
	int ret;

	if (cmd->n_args != 1) {
		imap_cmd_bad(s, "GETQUOTAROOT needs one mailbox name.");
		return;
	}
	if (!imap_arg_mailbox(s, &cmd->args[0], &name))
		goto out;
	/* the mailbox must exist (RFC 9208 4.3) */
	ret = mail_user_mailbox_status(s->user, buf_cstr(&name), &st);
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, "GETQUOTAROOT");
		goto out;
	}
	buf_append_str(&line, "QUOTAROOT ");
	imap_write_mailbox_s(s, &line, buf_cstr(&name));
	buf_append_c(&line, ' ');
	imap_write_string(&line, QUOTA_ROOT, strlen(QUOTA_ROOT));
	imap_send(s, "%s", buf_cstr(&line));
	ret = send_quota(s);
	if (ret < 0)
		imap_cmd_storage_error(s, ret, "GETQUOTAROOT");
	else
		imap_cmd_ok(s, "Getquotaroot completed.");
out:
	buf_free(&name);
	buf_free(&line);
}

void cmd_getquota(struct imap_session *s, struct imap_command *cmd)
{
	const char *root;
	size_t len;

	if (cmd->n_args != 1 || !imap_arg_get_astring(&cmd->args[0], &root, &len)) {
		imap_cmd_bad(s, "GETQUOTA needs one quota root.");
		return;
	}
	if (len != strlen(QUOTA_ROOT) || memcmp(root, QUOTA_ROOT, len) != 0) {
		imap_cmd_no(s, "[NONEXISTENT] No such quota root.");
		return;
	}
	int ret = send_quota(s);
	if (ret < 0)
		imap_cmd_storage_error(s, ret, "GETQUOTA");
	else
		imap_cmd_ok(s, "Getquota completed.");
}

void cmd_setquota(struct imap_session *s, struct imap_command *cmd)
{
	if (cmd->n_args != 2 || cmd->args[1].type != IMAP_ARG_LIST) {
		imap_cmd_bad(s, "SETQUOTA needs a quota root and a list of limits.");
		return;
	}
	imap_cmd_no(s, "[NOPERM] Quota limits are set by the administrator.");
}
