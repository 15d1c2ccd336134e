/* SELECT EXAMINE CHECK CLOSE UNSELECT IDLE */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-condstore.h"
#include "imap/imap-session-private.h"
#include "imap/imap-registry.h"
#include "lib/log.h"
#include "lib/om-error.h"

/* SELECT/EXAMINE (QRESYNC (uidvalidity modseq [known-uids [seq-match]])) */
struct qresync_param {
	bool present;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct seq_range *known; /* NULL: 1:* */
	size_t n_known;
};

static bool parse_u32(const char *s, uint32_t *v_r)
{
	unsigned long long v;
	if (s == NULL || !om_parse_u64(s, strlen(s), &v) || v == 0 || v > UINT32_MAX)
		return false;
	*v_r = (uint32_t)v;
	return true;
}

static bool parse_qresync(const struct imap_arg *arg, struct qresync_param *q)
{
	const char *a;
	if (arg->type != IMAP_ARG_LIST || arg->list_count < 2 || arg->list_count > 4)
		return false;
	const struct imap_arg *l = arg->list;
	if (!imap_arg_get_atom(&l[0], &a) || !parse_u32(a, &q->uidvalidity))
		return false;
	if (!imap_arg_get_atom(&l[1], &a) || !imap_parse_modseq(a, false, &q->modseq))
		return false;
	size_t next = 2;
	if (next < arg->list_count && l[next].type == IMAP_ARG_ATOM) {
		if (!imap_seqset_parse(l[next].str, &q->known, &q->n_known))
			return false;
		next++;
	}
	if (next < arg->list_count) {
		/* seq-match-data: checked for syntax only; the index keeps
		 * every expunge, so the server needs no hint */
		const struct imap_arg *m = &l[next];
		struct seq_range *r = NULL;
		size_t n = 0;
		bool ok = m->type == IMAP_ARG_LIST && m->list_count == 2;
		for (size_t i = 0; ok && i < 2; i++) {
			ok = m->list[i].type == IMAP_ARG_ATOM &&
				imap_seqset_parse(m->list[i].str, &r, &n);
			free(r);
			r = NULL;
		}
		if (!ok)
			return false;
		next++;
	}
	q->present = true;
	return next == arg->list_count;
}

/* The select parameters: CONDSTORE, QRESYNC (...). */
static bool parse_select_params(struct imap_session *s, const struct imap_arg *arg,
				bool *condstore_r, struct qresync_param *q)
{
	const char *a;
	if (arg->type != IMAP_ARG_LIST)
		goto bad;
	for (size_t i = 0; i < arg->list_count; i++) {
		if (!imap_arg_get_atom(&arg->list[i], &a))
			goto bad;
		if (om_str_ieq(a, "CONDSTORE")) {
			*condstore_r = true;
		} else if (om_str_ieq(a, "QRESYNC") && !q->present) {
			if (!s->enabled_qresync) {
				imap_cmd_bad(s, "QRESYNC is not enabled (ENABLE QRESYNC first).");
				return false;
			}
			if (i + 1 >= arg->list_count || !parse_qresync(&arg->list[i + 1], q))
				goto bad;
			i++;
		} else {
			goto bad;
		}
	}
	return true;
bad:
	imap_cmd_bad(s, "Invalid SELECT parameters.");
	return false;
}

/* QRESYNC (RFC 7162 3.2.5): what changed since the client's modseq. */
static int qresync_report(struct imap_session *s, const struct qresync_param *q)
{
	const struct imap_view *v = &s->view;
	if (q->uidvalidity != v->uidvalidity)
		return 0; /* the client's cache is void: a plain SELECT */
	uint32_t *uids = NULL, forgot_max = 0;
	size_t n = 0;
	int ret = mailbox_vanished(s->box, q->modseq, &uids, &n, &forgot_max);
	if (ret < 0)
		return ret;
	imap_send_vanished_earlier(s, uids, n, forgot_max, q->known,
				   q->known != NULL ? q->n_known : 0);
	free(uids);

	struct buf line = BUF_INIT;
	for (size_t i = 0; i < v->count; i++) {
		const struct imap_msg *m = &v->msgs[i];
		if (m->modseq <= q->modseq)
			continue;
		buf_reset(&line);
		buf_printf(&line, "%zu FETCH (UID %u FLAGS ", i + 1, m->uid);
		imap_view_write_flags(s, i, &line);
		buf_printf(&line, " MODSEQ (%llu))", (unsigned long long)m->modseq);
		imap_send(s, "%s", buf_cstr(&line));
	}
	buf_free(&line);
	return 0;
}

static void select_mailbox(struct imap_session *s, struct imap_command *cmd, bool readonly)
{
	const char *what = readonly ? "EXAMINE" : "SELECT";
	struct buf name = BUF_INIT;
	struct mailbox *box = NULL;
	struct mailbox_snapshot *snap = NULL;
	struct qresync_param qresync = { 0 };
	bool condstore = false;
	int ret;

	if (cmd->n_args != 1 && cmd->n_args != 2) {
		imap_cmd_bad(s, "%s needs exactly one mailbox name.", what);
		return;
	}
	if (cmd->n_args == 2 && !parse_select_params(s, &cmd->args[1], &condstore, &qresync)) {
		free(qresync.known);
		return;
	}
	if (!imap_arg_mailbox(s, &cmd->args[0], &name)) {
		buf_free(&name);
		free(qresync.known);
		return;
	}
	/* RFC 3501 6.3.1: the old mailbox is closed even if this one fails */
	bool had_box = s->box != NULL;
	imap_session_deselect(s);
	/* RFC 7162 3.2.11; IMAP4rev2 always (RFC 9051 6.3.2) */
	if (had_box && (s->enabled_qresync || s->enabled_rev2))
		imap_send(s, "OK [CLOSED] Previous mailbox closed.");
	if (condstore || qresync.present)
		imap_condstore_enable(s);

	ret = mailbox_open(s->user, buf_cstr(&name), readonly, &box);
	if (ret == 0) {
		ret = mailbox_sync(box, &snap);
		if (ret < 0)
			mailbox_close(box);
	}
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, what);
		buf_free(&name);
		free(qresync.known);
		return;
	}

	s->box = box;
	imap_registry_mailbox(s->conn, mailbox_name(box));
	s->readonly = readonly;
	s->state = IMAP_STATE_SELECTED;
	imap_view_init(s, snap);
	mailbox_snapshot_free(snap);

	const struct imap_view *v = &s->view;
	imap_view_send_flags(s);
	imap_send(s, "%zu EXISTS", v->count);
	if (s->enabled_rev2) {
		/* RFC 9051 6.3.2: a LIST line for the mailbox; no RECENT and no
		 * [UNSEEN] (both gone from rev2) */
		imap_send_mailbox_list(s, mailbox_name(box), buf_cstr(&name));
	} else {
		imap_send(s, "%u RECENT", imap_view_recent_count(v));
		for (size_t i = 0; i < v->count; i++) {
			if ((v->msgs[i].flags & MAIL_SEEN) == 0) {
				imap_send(s, "OK [UNSEEN %zu] First unseen.", i + 1);
				break;
			}
		}
	}
	imap_send(s, "OK [UIDVALIDITY %u] UIDs valid.", v->uidvalidity);
	imap_send(s, "OK [UIDNEXT %u] Predicted next UID.", v->uidnext);
	if (s->enabled_condstore)
		imap_send(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)v->highest_modseq);
	buf_free(&name);
	if (qresync.present) {
		ret = qresync_report(s, &qresync);
		free(qresync.known);
		if (ret < 0) {
			imap_session_deselect(s);
			imap_cmd_storage_error(s, ret, what);
			return;
		}
	}
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
