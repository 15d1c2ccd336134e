/* CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE LIST LSUB STATUS.
 * LIST follows RFC 3501 6.3.8 with CHILDREN (RFC 3348), SPECIAL-USE
 * (RFC 6154) attributes and the LIST-EXTENDED forms of RFC 5258. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-condstore.h"
#include "imap/imap-session-private.h"
#include "lib/log.h"
#include "lib/om-error.h"

/* Longest LIST pattern we match; mailbox names are at most 255 bytes. */
#define MAX_PATTERN 1024
#define MAX_PATTERNS 100

static bool is_inbox(const char *name)
{
	return om_str_ieq(name, "INBOX");
}

/* "foo/" names the same mailbox as "foo" (RFC 3501 6.3.3). */
static void strip_trailing_sep(struct buf *name)
{
	if (name->len > 1 && name->data[name->len - 1] == '/')
		buf_truncate(name, name->len - 1);
}

/* --- CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE --- */

/* RFC 9051 6.3.4/6.3.6: when the storage keeps a name in another form than
 * the client sent (its only change: "inbox/x" is "INBOX/x"), a rev2 client
 * is told with a LIST line carrying OLDNAME. */
static void send_oldname(struct imap_session *s, const char *sent)
{
	const char *slash = strchr(sent, '/');
	if (!s->enabled_rev2 || slash == NULL || slash - sent != 5 ||
	    strncasecmp(sent, "INBOX", 5) != 0 || strncmp(sent, "INBOX", 5) == 0)
		return;
	struct buf canon = BUF_INIT;
	buf_append_str(&canon, "INBOX");
	buf_append_str(&canon, slash);
	imap_send_mailbox_list(s, buf_cstr(&canon), sent);
	buf_free(&canon);
}

static const struct {
	unsigned bit;
	const char *name;
} special_uses[] = {
	{ MBOX_SPECIAL_ALL, "\\All" },         { MBOX_SPECIAL_ARCHIVE, "\\Archive" },
	{ MBOX_SPECIAL_DRAFTS, "\\Drafts" },   { MBOX_SPECIAL_FLAGGED, "\\Flagged" },
	{ MBOX_SPECIAL_JUNK, "\\Junk" },       { MBOX_SPECIAL_SENT, "\\Sent" },
	{ MBOX_SPECIAL_TRASH, "\\Trash" },
};

/* CREATE's "(USE (\Sent))" (RFC 6154 3): false with the reply set. The
 * storage keeps one special use per mailbox. */
static bool parse_create_use(struct imap_session *s, const struct imap_arg *arg,
			     unsigned *special_r)
{
	const char *a;

	if (arg->type != IMAP_ARG_LIST || arg->list_count != 2 ||
	    !imap_arg_get_atom(&arg->list[0], &a) || !om_str_ieq(a, "USE") ||
	    arg->list[1].type != IMAP_ARG_LIST) {
		imap_cmd_bad(s, "Invalid CREATE parameters.");
		return false;
	}
	const struct imap_arg *uses = &arg->list[1];
	for (size_t i = 0; i < uses->list_count; i++) {
		size_t k, n = sizeof(special_uses) / sizeof(special_uses[0]);
		if (!imap_arg_get_atom(&uses->list[i], &a)) {
			imap_cmd_bad(s, "Invalid USE attribute.");
			return false;
		}
		for (k = 0; k < n && !om_str_ieq(a, special_uses[k].name); k++)
			;
		if (k == n) {
			imap_cmd_no(s, "[USEATTR] Unsupported special-use attribute.");
			return false;
		}
		if (*special_r != 0 && *special_r != special_uses[k].bit) {
			imap_cmd_no(s, "[USEATTR] Only one special use per mailbox.");
			return false;
		}
		*special_r = special_uses[k].bit;
	}
	return true;
}

void cmd_create(struct imap_session *s, struct imap_command *cmd)
{
	struct buf name = BUF_INIT;
	int ret;

	unsigned special = 0;
	if (cmd->n_args == 2 && !parse_create_use(s, &cmd->args[1], &special))
		return;
	if (cmd->n_args != 1 && cmd->n_args != 2) {
		imap_cmd_bad(s, "CREATE needs one mailbox name.");
		return;
	}
	if (!imap_arg_mailbox(s, &cmd->args[0], &name))
		goto out;
	strip_trailing_sep(&name);
	if (name.len == 0) {
		imap_cmd_no(s, "[CANNOT] Empty mailbox name.");
		goto out;
	}
	if (is_inbox(buf_cstr(&name))) {
		imap_cmd_no(s, "[ALREADYEXISTS] INBOX already exists.");
		goto out;
	}
	ret = mail_user_create_mailbox(s->user, buf_cstr(&name), special);
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, "CREATE");
	} else {
		send_oldname(s, buf_cstr(&name));
		imap_cmd_ok(s, "Create completed.");
	}
out:
	buf_free(&name);
}

static bool is_selected(const struct imap_session *s, const char *name)
{
	if (s->box == NULL)
		return false;
	const char *cur = mailbox_name(s->box);
	if (is_inbox(cur) && is_inbox(name))
		return true;
	return strcmp(cur, name) == 0;
}

void cmd_delete(struct imap_session *s, struct imap_command *cmd)
{
	struct buf name = BUF_INIT;
	int ret;

	if (cmd->n_args != 1) {
		imap_cmd_bad(s, "DELETE needs one mailbox name.");
		return;
	}
	if (!imap_arg_mailbox(s, &cmd->args[0], &name))
		goto out;
	strip_trailing_sep(&name);
	if (is_inbox(buf_cstr(&name))) {
		imap_cmd_no(s, "[CANNOT] INBOX can't be deleted.");
		goto out;
	}
	if (is_selected(s, buf_cstr(&name))) {
		/* the view would point at nothing: leave it first */
		imap_session_deselect(s);
	}
	ret = mail_user_delete_mailbox(s->user, buf_cstr(&name));
	if (ret < 0)
		imap_cmd_storage_error(s, ret, "DELETE");
	else
		imap_cmd_ok(s, "Delete completed.");
out:
	buf_free(&name);
}

void cmd_rename(struct imap_session *s, struct imap_command *cmd)
{
	struct buf from = BUF_INIT, to = BUF_INIT;
	int ret;

	if (cmd->n_args != 2) {
		imap_cmd_bad(s, "RENAME needs two mailbox names.");
		return;
	}
	if (!imap_arg_mailbox(s, &cmd->args[0], &from) ||
	    !imap_arg_mailbox(s, &cmd->args[1], &to))
		goto out;
	strip_trailing_sep(&from);
	strip_trailing_sep(&to);
	if (to.len == 0 || from.len == 0) {
		imap_cmd_no(s, "[CANNOT] Empty mailbox name.");
		goto out;
	}
	if (is_inbox(buf_cstr(&to))) {
		imap_cmd_no(s, "[ALREADYEXISTS] INBOX already exists.");
		goto out;
	}
	ret = mail_user_rename_mailbox(s->user, buf_cstr(&from), buf_cstr(&to));
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, "RENAME");
	} else {
		send_oldname(s, buf_cstr(&to));
		imap_cmd_ok(s, "Rename completed.");
	}
out:
	buf_free(&from);
	buf_free(&to);
}

static void subscribe(struct imap_session *s, struct imap_command *cmd, bool on)
{
	struct buf name = BUF_INIT;
	int ret;

	if (cmd->n_args != 1) {
		imap_cmd_bad(s, "%s needs one mailbox name.", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
		return;
	}
	if (imap_arg_mailbox(s, &cmd->args[0], &name)) {
		strip_trailing_sep(&name);
		if (is_inbox(buf_cstr(&name))) {
			buf_reset(&name);
			buf_append_str(&name, "INBOX");
		}
		ret = mail_user_subscribe(s->user, buf_cstr(&name), on);
		if (ret < 0)
			imap_cmd_storage_error(s, ret, on ? "SUBSCRIBE" : "UNSUBSCRIBE");
		else
			imap_cmd_ok(s, "%s completed.", on ? "Subscribe" : "Unsubscribe");
	}
	buf_free(&name);
}

void cmd_subscribe(struct imap_session *s, struct imap_command *cmd)
{
	subscribe(s, cmd, true);
}

void cmd_unsubscribe(struct imap_session *s, struct imap_command *cmd)
{
	subscribe(s, cmd, false);
}

/* --- pattern matching --- */

struct pattern {
	char *p; /* UTF-8, wildcards '*' and '%' */
	size_t len;
};

/* reference + pattern (mUTF-7) -> UTF-8 pattern, runs of wildcards
 * collapsed, "inbox" prefix upper-cased. false: invalid. */
static bool pattern_make(const struct imap_session *s, const char *ref, size_t ref_len,
			 const char *pat, size_t pat_len, struct pattern *out)
{
	struct buf raw = BUF_INIT, utf8 = BUF_INIT;
	size_t w = 0;
	/* UTF8=ACCEPT / IMAP4rev2: the pattern is UTF-8 already */
	bool utf8_names = s->enabled_utf8 || s->enabled_rev2;

	buf_append(&raw, ref, ref_len);
	buf_append(&raw, pat, pat_len);
	if (utf8_names && raw.len <= MAX_PATTERN)
		buf_append(&utf8, buf_cstr(&raw), raw.len);
	if (raw.len > MAX_PATTERN || memchr(buf_cstr(&raw), '\0', raw.len) != NULL ||
	    (!utf8_names && !mutf7_to_utf8(buf_cstr(&raw), raw.len, &utf8))) {
		buf_free(&raw);
		buf_free(&utf8);
		return false;
	}
	buf_free(&raw);
	char *p = utf8.data != NULL ? utf8.data : om_strdup("");
	size_t len = utf8.len;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if ((c == '*' || c == '%') && w > 0 && (p[w - 1] == '*' || p[w - 1] == '%')) {
			if (c == '*')
				p[w - 1] = '*'; /* '*' covers '%' */
			continue;
		}
		p[w++] = c;
	}
	p[w] = '\0';
	if (w >= 5 && strncasecmp(p, "INBOX", 5) == 0 && (p[5] == '\0' || p[5] == '/'))
		memcpy(p, "INBOX", 5);
	out->p = p;
	out->len = w;
	return true;
}

static bool pattern_match(const struct pattern *pat, const char *name)
{
	size_t nlen = strlen(name), plen = pat->len;
	bool *next = om_calloc(nlen + 1, sizeof(bool)), *cur = om_calloc(nlen + 1, sizeof(bool));
	const char *p = pat->p;
	bool result;

	/* next = row i+1, cur = row i; M[i][j]: p[i..] matches name[j..] */
	next[nlen] = true;
	for (size_t i = plen; i-- > 0;) {
		for (size_t j = nlen + 1; j-- > 0;) {
			bool m;
			if (p[i] == '*')
				m = next[j] || (j < nlen && cur[j + 1]);
			else if (p[i] == '%')
				m = next[j] || (j < nlen && name[j] != '/' && cur[j + 1]);
			else
				m = j < nlen && p[i] == name[j] && next[j + 1];
			cur[j] = m;
		}
		bool *t = next;
		next = cur;
		cur = t;
	}
	result = next[0];
	free(next);
	free(cur);
	return result;
}

static bool match_any(const struct pattern *pats, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (pattern_match(&pats[i], name))
			return true;
	}
	return false;
}

/* --- STATUS items (STATUS and LIST-STATUS) --- */

enum status_item {
	ST_MESSAGES = 1 << 0,
	ST_RECENT = 1 << 1,
	ST_UIDNEXT = 1 << 2,
	ST_UIDVALIDITY = 1 << 3,
	ST_UNSEEN = 1 << 4,
	ST_HIGHESTMODSEQ = 1 << 5,
	ST_SIZE = 1 << 6,    /* RFC 8438 */
	ST_DELETED = 1 << 7, /* RFC 9051 */
	ST_APPENDLIMIT = 1 << 8, /* RFC 7889 */
};

static const struct {
	unsigned bit;
	const char *name;
} status_items[] = {
	{ ST_MESSAGES, "MESSAGES" },   { ST_RECENT, "RECENT" },
	{ ST_UIDNEXT, "UIDNEXT" },     { ST_UIDVALIDITY, "UIDVALIDITY" },
	{ ST_UNSEEN, "UNSEEN" },       { ST_HIGHESTMODSEQ, "HIGHESTMODSEQ" },
	{ ST_SIZE, "SIZE" },           { ST_DELETED, "DELETED" },
	{ ST_APPENDLIMIT, "APPENDLIMIT" },
};
#define N_STATUS_ITEMS (sizeof(status_items) / sizeof(status_items[0]))

/* "(MESSAGES UNSEEN ...)" -> items in the order given (bits, no repeats).
 * RECENT is not a status item of IMAP4rev2 (RFC 9051 9, "status-att"). */
static bool parse_status_items(const struct imap_session *s, const struct imap_arg *list,
			       unsigned *order_r, size_t *n_r)
{
	unsigned seen = 0;

	*n_r = 0;
	if (list->type != IMAP_ARG_LIST || list->list_count == 0)
		return false;
	for (size_t i = 0; i < list->list_count; i++) {
		const char *a;
		size_t k;
		if (!imap_arg_get_atom(&list->list[i], &a))
			return false;
		for (k = 0; k < N_STATUS_ITEMS && !om_str_ieq(a, status_items[k].name); k++)
			;
		if (k == N_STATUS_ITEMS || (status_items[k].bit == ST_RECENT && s->enabled_rev2))
			return false;
		if ((seen & status_items[k].bit) != 0)
			continue;
		seen |= status_items[k].bit;
		order_r[(*n_r)++] = status_items[k].bit;
	}
	return true;
}

/* \Deleted messages now (DELETED is not in the index's status row). */
static int count_deleted(struct imap_session *s, const char *name, uint32_t *count_r)
{
	struct mailbox *box = NULL;
	struct mailbox_snapshot *snap = NULL;
	int ret = mailbox_open(s->user, name, true, &box);

	*count_r = 0;
	if (ret == 0)
		ret = mailbox_sync(box, &snap);
	if (ret == 0) {
		for (size_t i = 0; i < snap->count; i++) {
			if ((snap->recs[i].flags & MAIL_DELETED) != 0)
				(*count_r)++;
		}
		mailbox_snapshot_free(snap);
	}
	if (box != NULL)
		mailbox_close(box);
	return ret;
}

/* "* STATUS name (...)"; the storage error if the status can't be read. */
static int send_status(struct imap_session *s, const char *name, const unsigned *items, size_t n)
{
	struct mailbox_status st;
	struct buf line = BUF_INIT;
	uint32_t deleted = 0;
	int ret;

	memset(&st, 0, sizeof(st));
	ret = mail_user_mailbox_status(s->user, name, &st);
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (items[i] == ST_DELETED)
			ret = count_deleted(s, name, &deleted);
	}
	if (ret < 0)
		return ret;
	buf_append_str(&line, "STATUS ");
	imap_write_mailbox_s(s, &line, name);
	buf_append_str(&line, " (");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append_c(&line, ' ');
		switch (items[i]) {
		case ST_MESSAGES:
			buf_printf(&line, "MESSAGES %u", st.messages);
			break;
		case ST_RECENT:
			buf_printf(&line, "RECENT %u", st.recent);
			break;
		case ST_UIDNEXT:
			buf_printf(&line, "UIDNEXT %u", st.uidnext);
			break;
		case ST_UIDVALIDITY:
			buf_printf(&line, "UIDVALIDITY %u", st.uidvalidity);
			break;
		case ST_UNSEEN:
			buf_printf(&line, "UNSEEN %u", st.unseen);
			break;
		case ST_HIGHESTMODSEQ:
			/* RFC 7162 3.1.8; a CONDSTORE-enabling command */
			buf_printf(&line, "HIGHESTMODSEQ %llu", (unsigned long long)st.highest_modseq);
			s->enabled_condstore = true;
			break;
		case ST_SIZE:
			buf_printf(&line, "SIZE %llu", (unsigned long long)st.size);
			break;
		case ST_APPENDLIMIT:
			/* one limit for every mailbox: the capability's */
			buf_printf(&line, "APPENDLIMIT %llu",
				   (unsigned long long)imap_append_limit(s->cfg));
			break;
		default:
			buf_printf(&line, "DELETED %u", deleted);
			break;
		}
	}
	buf_append_c(&line, ')');
	imap_send(s, "%s", buf_cstr(&line));
	buf_free(&line);
	return 0;
}

/* --- LIST --- */

enum list_opts {
	LSEL_SUBSCRIBED = 1 << 0,
	LSEL_RECURSIVEMATCH = 1 << 1,
	LSEL_SPECIAL_USE = 1 << 2,
	LSEL_REMOTE = 1 << 3,
	LRET_SUBSCRIBED = 1 << 8,
	LRET_CHILDREN = 1 << 9,
	LRET_SPECIAL_USE = 1 << 10,
	LRET_STATUS = 1 << 11,
};

struct list_req {
	unsigned opts;
	bool extended;
	unsigned status[N_STATUS_ITEMS]; /* RETURN (STATUS (...)) */
	size_t n_status;
};

static void write_attrs(struct buf *out, unsigned flags, bool show_subscribed,
			bool show_special)
{
	static const struct {
		unsigned bit;
		const char *name;
	} attrs[] = {
		{ MBOX_NONEXISTENT, "\\NonExistent" },
		{ MBOX_NOSELECT, "\\Noselect" },
		{ MBOX_NOINFERIORS, "\\NoInferiors" },
		{ MBOX_HASCHILDREN, "\\HasChildren" },
		{ MBOX_HASNOCHILDREN, "\\HasNoChildren" },
		{ MBOX_MARKED, "\\Marked" },
		{ MBOX_UNMARKED, "\\Unmarked" },
		{ MBOX_SUBSCRIBED, "\\Subscribed" },
	};
	size_t start = out->len;

	if ((flags & MBOX_NONEXISTENT) != 0)
		flags &= ~(unsigned)MBOX_NOSELECT; /* \NonExistent implies it */
	if (!show_subscribed)
		flags &= ~(unsigned)MBOX_SUBSCRIBED;
	buf_append_c(out, '(');
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		if ((flags & attrs[i].bit) == 0)
			continue;
		if (out->len > start + 1)
			buf_append_c(out, ' ');
		buf_append_str(out, attrs[i].name);
	}
	for (size_t i = 0; show_special && i < sizeof(special_uses) / sizeof(special_uses[0]); i++) {
		if ((flags & special_uses[i].bit) == 0)
			continue;
		if (out->len > start + 1)
			buf_append_c(out, ' ');
		buf_append_str(out, special_uses[i].name);
	}
	buf_append_c(out, ')');
}

static void send_list_line(struct imap_session *s, const char *verb, unsigned flags,
			   bool show_subscribed, const char *name, bool childinfo)
{
	struct buf line = BUF_INIT;

	buf_append_str(&line, verb);
	buf_append_c(&line, ' ');
	write_attrs(&line, flags, show_subscribed, true);
	buf_append_str(&line, " \"/\" ");
	imap_write_mailbox_s(s, &line, name);
	if (childinfo)
		buf_append_str(&line, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	imap_send(s, "%s", buf_cstr(&line));
	buf_free(&line);
}

static bool parse_opt_list(const struct imap_session *s, const struct imap_arg *arg,
			   bool ret_opts, struct list_req *req)
{
	for (size_t i = 0; i < arg->list_count; i++) {
		const char *a;
		if (!imap_arg_get_atom(&arg->list[i], &a))
			return false;
		if (!ret_opts && om_str_ieq(a, "SUBSCRIBED"))
			req->opts |= LSEL_SUBSCRIBED;
		else if (!ret_opts && om_str_ieq(a, "RECURSIVEMATCH"))
			req->opts |= LSEL_RECURSIVEMATCH;
		else if (!ret_opts && om_str_ieq(a, "SPECIAL-USE"))
			req->opts |= LSEL_SPECIAL_USE;
		else if (!ret_opts && om_str_ieq(a, "REMOTE"))
			req->opts |= LSEL_REMOTE;
		else if (ret_opts && om_str_ieq(a, "SUBSCRIBED"))
			req->opts |= LRET_SUBSCRIBED;
		else if (ret_opts && om_str_ieq(a, "CHILDREN"))
			req->opts |= LRET_CHILDREN;
		else if (ret_opts && om_str_ieq(a, "SPECIAL-USE"))
			req->opts |= LRET_SPECIAL_USE;
		else if (ret_opts && om_str_ieq(a, "STATUS") && i + 1 < arg->list_count &&
			 (req->opts & LRET_STATUS) == 0) {
			/* LIST-STATUS (RFC 5819) */
			if (!parse_status_items(s, &arg->list[++i], req->status, &req->n_status))
				return false;
			req->opts |= LRET_STATUS;
		} else
			return false;
	}
	return true;
}

/* Does a subscribed name lie below `name`? */
static bool has_subscribed_child(char **subs, size_t n_subs, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n_subs; i++) {
		if (strncmp(subs[i], name, len) == 0 && subs[i][len] == '/')
			return true;
	}
	return false;
}

static bool name_in(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

static bool box_exists(const struct mailbox_info *boxes, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++) {
		if (strcmp(boxes[k].name, name) == 0)
			return true;
	}
	return false;
}

/* A parent listed only because a child exists is no mailbox at all. RFC
 * 9051 makes LIST-EXTENDED part of the base protocol, and there \NonExistent
 * (which implies \Noselect, RFC 9051 7.3.1) must be accurate (RFC 5258 3.4):
 * a rev2 session gets \NonExistent for it; rev1 keeps RFC 3501's \Noselect. */
static unsigned rev2_attrs(const struct imap_session *s, unsigned flags)
{
	if (s->enabled_rev2 && (flags & MBOX_NOSELECT) != 0)
		flags = (flags & ~(unsigned)MBOX_NOSELECT) | MBOX_NONEXISTENT;
	return flags;
}

static void list_one(struct imap_session *s, const struct list_req *req, unsigned flags,
		     const char *name, bool childinfo)
{
	unsigned opts = req->opts;
	bool show_sub = (opts & (LSEL_SUBSCRIBED | LRET_SUBSCRIBED)) != 0;

	flags = rev2_attrs(s, flags);
	send_list_line(s, "LIST", flags, show_sub, name, childinfo);
	/* RFC 5819: STATUS follows its LIST line, only for selectable ones */
	if ((opts & LRET_STATUS) != 0 && (flags & (MBOX_NOSELECT | MBOX_NONEXISTENT)) == 0) {
		int ret = send_status(s, name, req->status, req->n_status);
		if (ret < 0)
			log_debug("imap: LIST-STATUS of %s: %s", name, om_strerror(-ret));
	}
}

void imap_send_mailbox_list(struct imap_session *s, const char *name, const char *sent)
{
	struct mailbox_info *boxes = NULL;
	size_t n_boxes = 0;
	unsigned flags = 0;

	/* the attributes a plain LIST gives it (children, special use) */
	if (mail_user_list_mailboxes(s->user, &boxes, &n_boxes) == 0) {
		for (size_t i = 0; i < n_boxes; i++) {
			if (strcmp(boxes[i].name, name) == 0 ||
			    (is_inbox(name) && is_inbox(boxes[i].name))) {
				flags = boxes[i].flags & ~(unsigned)MBOX_SUBSCRIBED;
				break;
			}
		}
	}
	mailbox_info_free(boxes, n_boxes);

	struct buf line = BUF_INIT;
	buf_append_str(&line, "LIST ");
	write_attrs(&line, rev2_attrs(s, flags), false, true);
	buf_append_str(&line, " \"/\" ");
	imap_write_mailbox_s(s, &line, name);
	/* RFC 9051 6.3.2/6.3.9.7: the name as the client gave it when the
	 * storage changed it ("inbox/a" is "INBOX/a"); INBOX itself in any
	 * case is simply INBOX (RFC 9051 9, "mailbox") */
	if (sent != NULL && strcmp(sent, name) != 0 && !is_inbox(sent)) {
		buf_append_str(&line, " (\"OLDNAME\" (");
		imap_write_mailbox_s(s, &line, sent);
		buf_append_str(&line, "))");
	}
	imap_send(s, "%s", buf_cstr(&line));
	buf_free(&line);
}

/* Subscribed names below hierarchy levels that don't exist at all: with
 * RECURSIVEMATCH their parents are listed as \NonExistent with CHILDINFO. */
static void list_missing_parents(struct imap_session *s, const struct list_req *req,
				 const struct pattern *pats, size_t n_pats,
				 const struct mailbox_info *boxes, size_t n_boxes, char **subs,
				 size_t n_subs)
{
	char **done = NULL;
	size_t n_done = 0;

	for (size_t i = 0; i < n_subs; i++) {
		for (char *slash = strchr(subs[i], '/'); slash != NULL;
		     slash = strchr(slash + 1, '/')) {
			char *parent = om_strndup(subs[i], (size_t)(slash - subs[i]));
			if (box_exists(boxes, n_boxes, parent) || name_in(subs, n_subs, parent) ||
			    name_in(done, n_done, parent) || !match_any(pats, n_pats, parent)) {
				free(parent);
				continue;
			}
			list_one(s, req, MBOX_NONEXISTENT | MBOX_HASCHILDREN, parent, true);
			done = om_reallocarray(done, n_done + 1, sizeof(*done));
			done[n_done++] = parent;
		}
	}
	mail_names_free(done, n_done);
}

static void list_run(struct imap_session *s, const struct list_req *req,
		     const struct pattern *pats, size_t n_pats)
{
	struct mailbox_info *boxes = NULL;
	size_t n_boxes = 0, n_subs = 0;
	char **subs = NULL;
	unsigned opts = req->opts;
	bool recursive = (opts & LSEL_RECURSIVEMATCH) != 0;
	int ret;

	ret = mail_user_list_mailboxes(s->user, &boxes, &n_boxes);
	if (ret == 0 && (opts & LSEL_SUBSCRIBED) != 0)
		ret = mail_user_list_subscriptions(s->user, &subs, &n_subs);
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, "LIST");
		goto out;
	}
	for (size_t i = 0; i < n_boxes; i++) {
		const struct mailbox_info *mb = &boxes[i];
		bool childinfo = false;
		if (!match_any(pats, n_pats, mb->name))
			continue;
		if ((opts & LSEL_SPECIAL_USE) != 0 && (mb->flags & MBOX_SPECIAL_MASK) == 0)
			continue;
		if ((opts & LSEL_SUBSCRIBED) != 0) {
			/* RFC 5258 3: CHILDINFO for a matching name with a
			 * subscribed descendant, subscribed itself or not */
			childinfo = recursive && has_subscribed_child(subs, n_subs, mb->name);
			if ((mb->flags & MBOX_SUBSCRIBED) == 0 && !childinfo)
				continue;
		}
		list_one(s, req, mb->flags, mb->name, childinfo);
	}
	/* subscribed names that no longer exist (only SUBSCRIBED selects them) */
	for (size_t i = 0; i < n_subs; i++) {
		if (box_exists(boxes, n_boxes, subs[i]) || !match_any(pats, n_pats, subs[i]) ||
		    (opts & LSEL_SPECIAL_USE) != 0 || name_in(subs, i, subs[i]))
			continue;
		bool childinfo = recursive && has_subscribed_child(subs, n_subs, subs[i]);
		list_one(s, req, MBOX_NONEXISTENT | MBOX_SUBSCRIBED, subs[i], childinfo);
	}
	if (recursive && (opts & LSEL_SUBSCRIBED) != 0)
		list_missing_parents(s, req, pats, n_pats, boxes, n_boxes, subs, n_subs);
	imap_cmd_ok(s, "List completed.");
out:
	mailbox_info_free(boxes, n_boxes);
	mail_names_free(subs, n_subs);
}

void cmd_list(struct imap_session *s, struct imap_command *cmd)
{
	struct list_req req;
	size_t i = 0, n_pats = 0;
	const char *ref, *pat;
	size_t ref_len, pat_len;
	struct pattern pats[MAX_PATTERNS];

	memset(&req, 0, sizeof(req));
	if (i < cmd->n_args && cmd->args[i].type == IMAP_ARG_LIST) {
		if (!parse_opt_list(s, &cmd->args[i], false, &req)) {
			imap_cmd_bad(s, "Unknown LIST selection option.");
			return;
		}
		req.extended = true;
		i++;
	}
	if (i + 2 > cmd->n_args || !imap_arg_get_astring(&cmd->args[i], &ref, &ref_len)) {
		imap_cmd_bad(s, "LIST needs a reference and a mailbox pattern.");
		return;
	}
	const struct imap_arg *pat_arg = &cmd->args[i + 1];
	i += 2;
	if (i < cmd->n_args) {
		const char *ret_atom;
		if (i + 2 != cmd->n_args || !imap_arg_get_atom(&cmd->args[i], &ret_atom) ||
		    !om_str_ieq(ret_atom, "RETURN") || cmd->args[i + 1].type != IMAP_ARG_LIST ||
		    !parse_opt_list(s, &cmd->args[i + 1], true, &req)) {
			imap_cmd_bad(s, "Invalid LIST return options.");
			return;
		}
		req.extended = true;
	}
	if ((req.opts & LSEL_RECURSIVEMATCH) != 0 &&
	    (req.opts & (LSEL_SUBSCRIBED | LSEL_SPECIAL_USE)) == 0) {
		imap_cmd_bad(s, "RECURSIVEMATCH needs another selection option.");
		return;
	}
	if (memchr(ref, '\0', ref_len) != NULL) {
		imap_cmd_bad(s, "Invalid reference.");
		return;
	}

	if (pat_arg->type == IMAP_ARG_LIST) {
		if (pat_arg->list_count == 0 || pat_arg->list_count > MAX_PATTERNS) {
			imap_cmd_bad(s, "Invalid pattern list.");
			return;
		}
		req.extended = true;
	}
	size_t n_in = pat_arg->type == IMAP_ARG_LIST ? pat_arg->list_count : 1;
	for (size_t k = 0; k < n_in; k++) {
		const struct imap_arg *a = pat_arg->type == IMAP_ARG_LIST ? &pat_arg->list[k] : pat_arg;
		if (!imap_arg_get_astring(a, &pat, &pat_len)) {
			imap_cmd_bad(s, "Invalid mailbox pattern.");
			goto out;
		}
		if (pat_len == 0 && n_in == 1) {
			/* RFC 3501: the hierarchy delimiter and root name */
			imap_send(s, "LIST (\\Noselect) \"/\" \"\"");
			imap_cmd_ok(s, "List completed.");
			goto out;
		}
		if (!pattern_make(s, ref, ref_len, pat, pat_len, &pats[n_pats])) {
			imap_cmd_bad(s, "Invalid mailbox pattern.");
			goto out;
		}
		n_pats++;
	}
	list_run(s, &req, pats, n_pats);
out:
	for (size_t k = 0; k < n_pats; k++)
		free(pats[k].p);
}

/* --- LSUB --- */

void cmd_lsub(struct imap_session *s, struct imap_command *cmd)
{
	const char *ref, *pat;
	size_t ref_len, pat_len;
	struct pattern pattern;
	char **subs = NULL, **parents = NULL;
	size_t n_subs = 0, n_parents = 0;
	int ret;

	if (cmd->n_args != 2 || !imap_arg_get_astring(&cmd->args[0], &ref, &ref_len) ||
	    !imap_arg_get_astring(&cmd->args[1], &pat, &pat_len)) {
		imap_cmd_bad(s, "LSUB needs a reference and a mailbox pattern.");
		return;
	}
	if (pat_len == 0) {
		imap_send(s, "LSUB (\\Noselect) \"/\" \"\"");
		imap_cmd_ok(s, "Lsub completed.");
		return;
	}
	if (!pattern_make(s, ref, ref_len, pat, pat_len, &pattern)) {
		imap_cmd_bad(s, "Invalid mailbox pattern.");
		return;
	}
	ret = mail_user_list_subscriptions(s->user, &subs, &n_subs);
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, "LSUB");
		free(pattern.p);
		return;
	}
	for (size_t i = 0; i < n_subs; i++) {
		if (name_in(subs, i, subs[i]))
			continue;
		if (pattern_match(&pattern, subs[i])) {
			send_list_line(s, "LSUB", 0, false, subs[i], false);
			continue;
		}
		/* RFC 3501 6.3.9: "%" matching a parent of a subscribed name
		 * that is not itself subscribed -> \Noselect */
		for (char *slash = strchr(subs[i], '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
			char *parent = om_strndup(subs[i], (size_t)(slash - subs[i]));
			if (!name_in(subs, n_subs, parent) && !name_in(parents, n_parents, parent) &&
			    pattern_match(&pattern, parent)) {
				send_list_line(s, "LSUB", MBOX_NOSELECT, false, parent, false);
				parents = om_reallocarray(parents, n_parents + 1, sizeof(*parents));
				parents[n_parents++] = parent;
			} else {
				free(parent);
			}
		}
	}
	imap_cmd_ok(s, "Lsub completed.");
	for (size_t i = 0; i < n_parents; i++)
		free(parents[i]);
	free(parents);
	mail_names_free(subs, n_subs);
	free(pattern.p);
}

/* --- STATUS --- */

void cmd_status(struct imap_session *s, struct imap_command *cmd)
{
	struct buf name = BUF_INIT;
	unsigned items[N_STATUS_ITEMS];
	size_t n_items;
	int ret;

	if (cmd->n_args != 2 || cmd->args[1].type != IMAP_ARG_LIST ||
	    cmd->args[1].list_count == 0) {
		imap_cmd_bad(s, "STATUS needs a mailbox name and a list of items.");
		return;
	}
	if (!parse_status_items(s, &cmd->args[1], items, &n_items)) {
		imap_cmd_bad(s, "Unknown STATUS item.");
		return;
	}
	if (!imap_arg_mailbox(s, &cmd->args[0], &name))
		goto out;
	ret = send_status(s, buf_cstr(&name), items, n_items);
	if (ret < 0)
		imap_cmd_storage_error(s, ret, "STATUS");
	else
		imap_cmd_ok(s, "Status completed.");
out:
	buf_free(&name);
}
