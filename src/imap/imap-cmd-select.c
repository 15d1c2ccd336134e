/* SELECT EXAMINE CHECK CLOSE UNSELECT IDLE */
#include <stdlib.h>

#include "imap/imap-session-private.h"
#include "imap/imap-registry.h"
#include "lib/log.h"
#include "lib/om-error.h"

static void select_mailbox(struct imap_session *s, struct imap_command *cmd, bool readonly)
{
	const char *what = readonly ? "EXAMINE" : "SELECT";
	struct buf name = BUF_INIT;
	struct mailbox *box = NULL;
	struct mailbox_snapshot *snap = NULL;
	int ret;

	if (cmd->n_args != 1) {
		imap_cmd_bad(s, "%s needs exactly one mailbox name.", what);
		return;
	}
	if (!imap_arg_mailbox(s, &cmd->args[0], &name)) {
		buf_free(&name);
		return;
	}
	/* RFC 3501 6.3.1: the old mailbox is closed even if this one fails */
	imap_session_deselect(s);

	ret = mailbox_open(s->user, buf_cstr(&name), readonly, &box);
	if (ret == 0) {
		ret = mailbox_sync(box, &snap);
		if (ret < 0)
			mailbox_close(box);
	}
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, what);
		buf_free(&name);
		return;
	}
	buf_free(&name);

	s->box = box;
	imap_registry_mailbox(s->conn, mailbox_name(box));
	s->readonly = readonly;
	s->state = IMAP_STATE_SELECTED;
	imap_view_init(s, snap);
	mailbox_snapshot_free(snap);

	const struct imap_view *v = &s->view;
	imap_view_send_flags(s);
	imap_send(s, "%zu EXISTS", v->count);
	imap_send(s, "%u RECENT", imap_view_recent_count(v));
	for (size_t i = 0; i < v->count; i++) {
		if ((v->msgs[i].flags & MAIL_SEEN) == 0) {
			imap_send(s, "OK [UNSEEN %zu] First unseen.", i + 1);
			break;
		}
	}
	imap_send(s, "OK [UIDVALIDITY %u] UIDs valid.", v->uidvalidity);
	imap_send(s, "OK [UIDNEXT %u] Predicted next UID.", v->uidnext);
	imap_cmd_ok(s, "[%s] %s completed.", readonly ? "READ-ONLY" : "READ-WRITE", what);
}

void cmd_select(struct imap_session *s, struct imap_command *cmd)
{
	select_mailbox(s, cmd, false);
}

void cmd_examine(struct imap_session *s, struct imap_command *cmd)
{
	select_mailbox(s, cmd, true);
}

void cmd_check(struct imap_session *s, struct imap_command *cmd)
{
	(void)cmd;
	imap_cmd_ok(s, "Check completed.");
}

/* Expunge the \Deleted messages without telling the client (RFC 3501 6.4.2). */
static int expunge_deleted(struct imap_session *s)
{
	struct mailbox_snapshot *snap = NULL;
	uint32_t *uids;
	size_t n = 0;
	int ret;

	ret = mailbox_sync(s->box, &snap);
	if (ret < 0)
		return ret;
	uids = om_reallocarray(NULL, snap->count, sizeof(*uids));
	for (size_t i = 0; i < snap->count; i++) {
		if ((snap->recs[i].flags & MAIL_DELETED) != 0)
			uids[n++] = snap->recs[i].uid;
	}
	if (n > 0)
		ret = mailbox_expunge(s->box, uids, n);
	free(uids);
	mailbox_snapshot_free(snap);
	return ret;
}

void cmd_close(struct imap_session *s, struct imap_command *cmd)
{
	int ret = 0;

	if (cmd->n_args != 0) {
		imap_cmd_bad(s, "CLOSE takes no arguments.");
		return;
	}
	if (!s->readonly)
		ret = expunge_deleted(s);
	imap_session_deselect(s);
	if (ret < 0)
		imap_cmd_storage_error(s, ret, "CLOSE");
	else
		imap_cmd_ok(s, "Close completed.");
}

void cmd_unselect(struct imap_session *s, struct imap_command *cmd)
{
	if (cmd->n_args != 0) {
		imap_cmd_bad(s, "UNSELECT takes no arguments.");
		return;
	}
	imap_session_deselect(s);
	imap_cmd_ok(s, "Unselect completed.");
}

void cmd_idle(struct imap_session *s, struct imap_command *cmd)
{
	if (cmd->n_args != 0) {
		imap_cmd_bad(s, "IDLE takes no arguments.");
		return;
	}
	imap_session_idle_start(s);
}
