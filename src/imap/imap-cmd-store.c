/* STORE, COPY, MOVE, EXPUNGE and their UID forms (RFC 3501 6.4.3, 6.4.6,
 * 6.4.7, 6.4.8; RFC 4315 UIDPLUS; RFC 6851 MOVE). Output follows Dovecot:
 * STORE reports only messages whose flags really changed; MOVE sends
 * "* OK [COPYUID ...]" before its EXPUNGEs. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-condstore.h"
#include "imap/imap-session.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

#define KEYWORD_MAX_LEN 255

static const struct {
	const char *name;
	enum mail_flags flag;
} system_flags[] = {
	{ "\\Seen", MAIL_SEEN },
	{ "\\Answered", MAIL_ANSWERED },
	{ "\\Flagged", MAIL_FLAGGED },
	{ "\\Deleted", MAIL_DELETED },
	{ "\\Draft", MAIL_DRAFT },
};

/* BAD the way Dovecot words it. */
static void cmd_bad_text(struct imap_session *s, const char *text)
{
	imap_cmd_bad(s, "Error in IMAP command %s%s: %s", s->cmd_uid ? "UID " : "",
		     s->cmd != NULL && s->cmd->name != NULL ? s->cmd->name : "", text);
}

/* ATOM-CHAR (RFC 3501 9), which a keyword is made of. */
static bool is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

static void upper_copy(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		buf_append_c(b, (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s);
}

/* One flag of a STORE list: a system flag or a keyword. false (with a BAD
 * text in err) if it can't be stored. */
static bool parse_flag(const struct imap_arg *arg, uint32_t *flags, const char **kws,
		       size_t *n_kws, struct buf *err)
{
	const char *f;
	if (!imap_arg_get_atom(arg, &f)) {
		buf_append_str(err, "Flags must be atoms");
		return false;
	}
	if (f[0] == '\\') {
		for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
			if (om_str_ieq(f, system_flags[i].name)) {
				*flags |= system_flags[i].flag;
				return true;
			}
		}
		/* \Recent included: only the server sets it (RFC 3501 2.3.2) */
		buf_append_str(err, "Invalid system flag ");
		upper_copy(err, f);
		return false;
	}
	size_t len = strlen(f);
	if (len == 0 || len > KEYWORD_MAX_LEN) {
		buf_append_str(err, "Invalid keyword");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_atom_char((unsigned char)f[i])) {
			buf_append_str(err, "Invalid characters in keyword");
			return false;
		}
	}
	for (size_t i = 0; i < *n_kws; i++)
		if (om_str_ieq(kws[i], f))
			return true;
	if (*n_kws >= MAIL_MAX_KEYWORDS) {
		buf_append_str(err, "Too many keywords");
		return false;
	}
	kws[(*n_kws)++] = f;
	return true;
}

/* UIDs of the view messages idx[0..n), skipping ones known to be gone. */
static uint32_t *idx_to_uids(const struct imap_session *s, const uint32_t *idx, size_t n,
			     size_t *n_r)
{
	uint32_t *uids = om_calloc(n > 0 ? n : 1, sizeof(*uids));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct imap_msg *m = &s->view.msgs[idx[i]];
		if (!m->expunged)
			uids[k++] = m->uid;
	}
	*n_r = k;
	return uids;
}

static int resolve_set(struct imap_session *s, const char *set, uint32_t **idx_r, size_t *n_r)
{
	int ret = imap_view_resolve(s, set, s->cmd_uid, idx_r, n_r);
	if (ret == -OM_EINVAL)
		cmd_bad_text(s, "Invalid messageset");
	else if (ret < 0)
		imap_cmd_storage_error(s, ret, "Resolving the message set");
	return ret;
}

/* STORE modifiers (RFC 7162 3.1.3): "(UNCHANGEDSINCE n)". */
static bool parse_store_modifiers(const struct imap_arg *arg, uint64_t *unchangedsince_r)
{
	const char *a, *num;
	if (arg->list_count != 2 || !imap_arg_get_atom(&arg->list[0], &a) ||
	    !om_str_ieq(a, "UNCHANGEDSINCE") || !imap_arg_get_atom(&arg->list[1], &num))
		return false;
	return imap_parse_modseq(num, true, unchangedsince_r);
}

/* The numbers MODIFIED names: UIDs for UID STORE, else sequence numbers. */
static void write_modified(struct imap_session *s, const uint32_t *failed, size_t n,
			   struct buf *out)
{
	if (s->cmd_uid) {
		imap_write_num_set(out, failed, n);
		return;
	}
	uint32_t *seqs = om_calloc(n > 0 ? n : 1, sizeof(*seqs));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		long idx = imap_view_find_uid(s, failed[i]);
		if (idx >= 0)
			seqs[k++] = (uint32_t)idx + 1;
	}
	imap_write_num_set(out, seqs, k); /* UID order is sequence order */
	free(seqs);
}

void cmd_store(struct imap_session *s, struct imap_command *cmd)
{
	const char *set, *item;
	uint64_t unchangedsince = 0;
	bool conditional = false;
	if (cmd->n_args >= 4 && cmd->args[1].type == IMAP_ARG_LIST) {
		if (!parse_store_modifiers(&cmd->args[1], &unchangedsince)) {
			cmd_bad_text(s, "Invalid STORE modifiers");
			return;
		}
		conditional = true;
	}
	const struct imap_arg *item_arg = &cmd->args[conditional ? 2 : 1];
	if (cmd->n_args < (conditional ? 4u : 3u) || !imap_arg_get_atom(&cmd->args[0], &set) ||
	    !imap_arg_get_atom(item_arg, &item)) {
		cmd_bad_text(s, "Invalid arguments");
		return;
	}
	size_t first_flag = conditional ? 3 : 2;

	enum mail_flag_op op = MAIL_FLAGS_REPLACE;
	if (item[0] == '+') {
		op = MAIL_FLAGS_ADD;
		item++;
	} else if (item[0] == '-') {
		op = MAIL_FLAGS_REMOVE;
		item++;
	}
	bool silent;
	if (om_str_ieq(item, "FLAGS"))
		silent = false;
	else if (om_str_ieq(item, "FLAGS.SILENT"))
		silent = true;
	else {
		cmd_bad_text(s, "Invalid arguments");
		return;
	}

	/* a flag list, or flags without parentheses */
	const struct imap_arg *flag_args = &cmd->args[first_flag];
	size_t n_flag_args = cmd->n_args - first_flag;
	if (cmd->args[first_flag].type == IMAP_ARG_LIST) {
		if (cmd->n_args != first_flag + 1) {
			cmd_bad_text(s, "Invalid arguments");
			return;
		}
		flag_args = cmd->args[first_flag].list;
		n_flag_args = cmd->args[first_flag].list_count;
	}
	uint32_t flags = 0;
	const char *kws[MAIL_MAX_KEYWORDS];
	size_t n_kws = 0;
	struct buf err = BUF_INIT;
	for (size_t i = 0; i < n_flag_args; i++) {
		if (!parse_flag(&flag_args[i], &flags, kws, &n_kws, &err)) {
			cmd_bad_text(s, buf_cstr(&err));
			buf_free(&err);
			return;
		}
	}
	buf_free(&err);

	if (s->readonly) {
		imap_cmd_no(s, "Mailbox is read-only");
		return;
	}

	uint32_t *idx;
	size_t n;
	if (resolve_set(s, set, &idx, &n) < 0)
		return;
	if (conditional)
		imap_condstore_enable(s);
	size_t n_uids;
	uint32_t *uids = idx_to_uids(s, idx, n, &n_uids);
	free(idx);
	if (n_uids == 0) {
		free(uids);
		imap_cmd_ok(s, "Store completed.");
		return;
	}

	struct mail_rec *recs = NULL;
	size_t n_recs = 0, n_failed = 0;
	uint32_t *failed = NULL;
	int ret;
	if (conditional)
		ret = mailbox_store_unchanged(s->box, uids, n_uids, unchangedsince, op, flags, kws,
					      n_kws, &recs, &n_recs, &failed, &n_failed);
	else
		ret = mailbox_store(s->box, uids, n_uids, op, flags, kws, n_kws, &recs, &n_recs);
	free(uids);
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, "STORE");
		return;
	}

	/* Remember the flags as the client knows them, to report only
	 * changes (what Dovecot does). */
	struct old_state {
		long idx;
		uint32_t flags;
		uint64_t keywords;
		uint64_t modseq;
	} *old = om_calloc(n_recs > 0 ? n_recs : 1, sizeof(*old));
	for (size_t i = 0; i < n_recs; i++) {
		old[i].idx = imap_view_find_uid(s, recs[i].uid);
		if (old[i].idx >= 0) {
			const struct imap_msg *m = &s->view.msgs[old[i].idx];
			old[i].flags = m->flags;
			old[i].keywords = m->keywords;
			old[i].modseq = m->modseq;
		}
	}
	imap_view_apply_recs(s, recs, n_recs);

	/* With CONDSTORE, even .SILENT tells the new MODSEQ (RFC 7162
	 * 3.1.3, example 7). */
	if (!silent || s->enabled_condstore) {
		struct buf *out = &s->out;
		buf_reset(out);
		for (size_t i = 0; i < n_recs; i++) {
			if (old[i].idx < 0)
				continue;
			const struct imap_msg *m = &s->view.msgs[old[i].idx];
			bool flags_changed = m->flags != old[i].flags || m->keywords != old[i].keywords;
			if (!flags_changed && !(s->enabled_condstore && m->modseq != old[i].modseq))
				continue;
			buf_printf(out, "* %ld FETCH (", old[i].idx + 1);
			/* QRESYNC clients match FETCH responses by UID */
			if (s->cmd_uid || s->enabled_qresync)
				buf_printf(out, "UID %u ", m->uid);
			if (!silent) {
				buf_append_str(out, "FLAGS ");
				imap_view_write_flags(s, (size_t)old[i].idx, out);
				if (s->enabled_condstore)
					buf_append_c(out, ' ');
			}
			if (s->enabled_condstore)
				buf_printf(out, "MODSEQ (%llu)", (unsigned long long)m->modseq);
			buf_append_str(out, ")\r\n");
			if (out->len >= 64 * 1024) {
				imap_send_buf(s, out);
				buf_reset(out);
			}
		}
		if (out->len > 0) {
			imap_send_buf(s, out);
			buf_reset(out);
		}
	}
	free(old);
	free(recs);
	if (n_failed > 0) {
		struct buf set_text = BUF_INIT;
		write_modified(s, failed, n_failed, &set_text);
		imap_cmd_ok(s, "[MODIFIED %s] Conditional STORE failed", buf_cstr(&set_text));
		buf_free(&set_text);
	} else {
		imap_cmd_ok(s, "Store completed.");
	}
	free(failed);
}

/* "1:3,5" from UIDs in the given order: runs of +1 become ranges
 * (UIDPLUS uid-set; the order pairs source and destination UIDs). */
static void write_uid_set(struct buf *out, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (i > 0)
			buf_append_c(out, ',');
		if (j == i)
			buf_printf(out, "%u", uids[i]);
		else
			buf_printf(out, "%u:%u", uids[i], uids[j]);
		i = j + 1;
	}
}

static void copy_or_move(struct imap_session *s, struct imap_command *cmd, bool move)
{
	const char *set, *name;
	size_t name_len;
	if (cmd->n_args != 2 || !imap_arg_get_atom(&cmd->args[0], &set) ||
	    !imap_arg_get_astring(&cmd->args[1], &name, &name_len)) {
		cmd_bad_text(s, "Invalid arguments");
		return;
	}
	struct buf dest = BUF_INIT;
	if (memchr(name, '\0', name_len) != NULL || !mutf7_to_utf8(name, name_len, &dest)) {
		buf_free(&dest);
		imap_cmd_no(s, "Mailbox name is not valid mUTF-7");
		return;
	}
	if (move && s->readonly) {
		buf_free(&dest);
		imap_cmd_no(s, "Mailbox is read-only");
		return;
	}

	uint32_t *idx;
	size_t n;
	if (resolve_set(s, set, &idx, &n) < 0) {
		buf_free(&dest);
		return;
	}
	size_t n_uids;
	uint32_t *uids = idx_to_uids(s, idx, n, &n_uids);
	free(idx);
	if (n_uids == 0) {
		free(uids);
		buf_free(&dest);
		if (n == 0 && s->cmd_uid)
			imap_cmd_ok(s, "No messages found.");
		else
			imap_cmd_ok(s, move ? "Move completed." : "Copy completed.");
		return;
	}

	uint32_t uidvalidity = 0, *src_uids = NULL, *dst_uids = NULL;
	size_t n_copied = 0;
	int ret = mailbox_copy(s->box, uids, n_uids, buf_cstr(&dest), move, &uidvalidity,
			       &src_uids, &dst_uids, &n_copied);
	free(uids);
	if (ret == -OM_ENOTFOUND) {
		/* echo the name as sent (7-bit) if it is safe to */
		bool printable = name_len <= 1000;
		for (size_t i = 0; i < name_len && printable; i++)
			if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] >= 0x7f)
				printable = false;
		imap_cmd_no(s, "[TRYCREATE] Mailbox doesn't exist: %s", printable ? name : "");
		buf_free(&dest);
		return;
	}
	buf_free(&dest);
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, move ? "MOVE" : "COPY");
		return;
	}

	struct buf code = BUF_INIT;
	if (n_copied > 0) {
		buf_printf(&code, "[COPYUID %u ", uidvalidity);
		write_uid_set(&code, src_uids, n_copied);
		buf_append_c(&code, ' ');
		write_uid_set(&code, dst_uids, n_copied);
		buf_append_str(&code, "] ");
	}
	free(src_uids);
	free(dst_uids);

	if (move) {
		/* RFC 6851 3.3: COPYUID goes untagged, before the EXPUNGEs,
		 * which the sync sends for the messages now gone. */
		if (n_copied > 0)
			imap_send(s, "OK %sMoved UIDs.", buf_cstr(&code));
		ret = imap_session_sync(s, true);
		if (ret < 0)
			log_warn("MOVE: sync failed: %s", om_strerror(-ret));
		imap_cmd_ok(s, "Move completed.");
	} else {
		imap_cmd_ok(s, "%sCopy completed.", buf_cstr(&code));
	}
	buf_free(&code);
}

void cmd_copy(struct imap_session *s, struct imap_command *cmd)
{
	copy_or_move(s, cmd, false);
}

void cmd_move(struct imap_session *s, struct imap_command *cmd)
{
	copy_or_move(s, cmd, true);
}

void cmd_expunge(struct imap_session *s, struct imap_command *cmd)
{
	const char *set = NULL;
	if (s->cmd_uid) {
		if (cmd->n_args != 1 || !imap_arg_get_atom(&cmd->args[0], &set)) {
			cmd_bad_text(s, "Invalid arguments");
			return;
		}
	} else if (cmd->n_args != 0) {
		cmd_bad_text(s, "Invalid arguments");
		return;
	}
	if (s->readonly) {
		imap_cmd_no(s, "Mailbox is read-only");
		return;
	}

	/* Flags seen by this session may be stale (another session may have
	 * removed \Deleted): sync first. EXPUNGE may report expunges. */
	int ret = imap_session_sync(s, true);
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, "EXPUNGE");
		return;
	}

	uint32_t *idx = NULL;
	size_t n;
	if (set != NULL) {
		if (resolve_set(s, set, &idx, &n) < 0)
			return;
	} else {
		n = s->view.count;
	}
	uint32_t *uids = om_calloc(n > 0 ? n : 1, sizeof(*uids));
	size_t n_uids = 0;
	for (size_t i = 0; i < n; i++) {
		const struct imap_msg *m = &s->view.msgs[idx != NULL ? idx[i] : i];
		if ((m->flags & MAIL_DELETED) != 0 && !m->expunged)
			uids[n_uids++] = m->uid;
	}
	free(idx);
	if (n_uids > 0) {
		ret = mailbox_expunge(s->box, uids, n_uids);
		if (ret < 0) {
			free(uids);
			imap_cmd_storage_error(s, ret, "EXPUNGE");
			return;
		}
		ret = imap_session_sync(s, true);
		if (ret < 0)
			log_warn("EXPUNGE: sync failed: %s", om_strerror(-ret));
	}
	free(uids);
	if (s->enabled_qresync)
		/* RFC 7162 3.2.7: the modseq the expunge moved the mailbox to */
		imap_cmd_ok(s, "[HIGHESTMODSEQ %llu] Expunge completed.",
			    (unsigned long long)s->view.highest_modseq);
	else
		imap_cmd_ok(s, "Expunge completed.");
}
