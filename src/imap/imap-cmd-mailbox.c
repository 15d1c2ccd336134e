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

void cmd_create(struct imap_session *s, struct imap_command *cmd)
{
	struct buf name = BUF_INIT;
	int ret;

	if (cmd->n_args != 1) {
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
	ret = mail_user_create_mailbox(s->user, buf_cstr(&name), 0);
	if (ret < 0)
		imap_cmd_storage_error(s, ret, "CREATE");
	else
		imap_cmd_ok(s, "Create completed.");
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
	if (ret < 0)
		imap_cmd_storage_error(s, ret, "RENAME");
	else
		imap_cmd_ok(s, "Rename completed.");
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
static bool pattern_make(const char *ref, size_t ref_len, const char *pat, size_t pat_len,
			 struct pattern *out)
{
	struct buf raw = BUF_INIT, utf8 = BUF_INIT;
	size_t w = 0;

	buf_append(&raw, ref, ref_len);
	buf_append(&raw, pat, pat_len);
	if (raw.len > MAX_PATTERN || memchr(buf_cstr(&raw), '\0', raw.len) != NULL ||
	    !mutf7_to_utf8(buf_cstr(&raw), raw.len, &utf8)) {
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

/* --- LIST --- */

enum list_opts {
	LSEL_SUBSCRIBED = 1 << 0,
	LSEL_RECURSIVEMATCH = 1 << 1,
	LSEL_SPECIAL_USE = 1 << 2,
	LSEL_REMOTE = 1 << 3,
	LRET_SUBSCRIBED = 1 << 8,
	LRET_CHILDREN = 1 << 9,
	LRET_SPECIAL_USE = 1 << 10,
};

static void write_attrs(struct buf *out, unsigned flags, bool show_subscribed)
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
		{ MBOX_SPECIAL_ALL, "\\All" },
		{ MBOX_SPECIAL_ARCHIVE, "\\Archive" },
		{ MBOX_SPECIAL_DRAFTS, "\\Drafts" },
		{ MBOX_SPECIAL_FLAGGED, "\\Flagged" },
		{ MBOX_SPECIAL_JUNK, "\\Junk" },
		{ MBOX_SPECIAL_SENT, "\\Sent" },
		{ MBOX_SPECIAL_TRASH, "\\Trash" },
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
	buf_append_c(out, ')');
}

static void send_list_line(struct imap_session *s, const char *verb, unsigned flags,
			   bool show_subscribed, const char *name, bool childinfo)
{
	struct buf line = BUF_INIT;

	buf_append_str(&line, verb);
	buf_append_c(&line, ' ');
	write_attrs(&line, flags, show_subscribed);
	buf_append_str(&line, " \"/\" ");
	imap_write_mailbox(&line, name);
	if (childinfo)
		buf_append_str(&line, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	imap_send(s, "%s", buf_cstr(&line));
	buf_free(&line);
}

static bool parse_opt_list(const struct imap_arg *arg, bool ret_opts, unsigned *opts)
{
	for (size_t i = 0; i < arg->list_count; i++) {
		const char *a;
		if (!imap_arg_get_atom(&arg->list[i], &a))
			return false;
		if (!ret_opts && om_str_ieq(a, "SUBSCRIBED"))
			*opts |= LSEL_SUBSCRIBED;
		else if (!ret_opts && om_str_ieq(a, "RECURSIVEMATCH"))
			*opts |= LSEL_RECURSIVEMATCH;
		else if (!ret_opts && om_str_ieq(a, "SPECIAL-USE"))
			*opts |= LSEL_SPECIAL_USE;
		else if (!ret_opts && om_str_ieq(a, "REMOTE"))
			*opts |= LSEL_REMOTE;
		else if (ret_opts && om_str_ieq(a, "SUBSCRIBED"))
			*opts |= LRET_SUBSCRIBED;
		else if (ret_opts && om_str_ieq(a, "CHILDREN"))
			*opts |= LRET_CHILDREN;
		else if (ret_opts && om_str_ieq(a, "SPECIAL-USE"))
			*opts |= LRET_SPECIAL_USE;
		else
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

static void list_run(struct imap_session *s, unsigned opts, bool extended,
		     const struct pattern *pats, size_t n_pats)
{
	struct mailbox_info *boxes = NULL;
	size_t n_boxes = 0, n_subs = 0;
	char **subs = NULL;
	bool show_sub = extended && (opts & (LSEL_SUBSCRIBED | LRET_SUBSCRIBED)) != 0;
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
		if ((opts & LSEL_SUBSCRIBED) != 0 && (mb->flags & MBOX_SUBSCRIBED) == 0) {
			if ((opts & LSEL_RECURSIVEMATCH) == 0 ||
			    !has_subscribed_child(subs, n_subs, mb->name))
				continue;
			childinfo = true;
		}
		send_list_line(s, "LIST", mb->flags, show_sub, mb->name, childinfo);
	}
	/* subscribed names that no longer exist */
	for (size_t i = 0; i < n_subs; i++) {
		bool exists = false;
		for (size_t k = 0; k < n_boxes && !exists; k++)
			exists = strcmp(boxes[k].name, subs[i]) == 0;
		if (exists || !match_any(pats, n_pats, subs[i]) ||
		    (opts & LSEL_SPECIAL_USE) != 0 || name_in(subs, i, subs[i]))
			continue;
		send_list_line(s, "LIST", MBOX_NONEXISTENT | MBOX_SUBSCRIBED, show_sub, subs[i],
			       false);
	}
	imap_cmd_ok(s, "List completed.");
out:
	mailbox_info_free(boxes, n_boxes);
	mail_names_free(subs, n_subs);
}

void cmd_list(struct imap_session *s, struct imap_command *cmd)
{
	unsigned opts = 0;
	bool extended = false;
	size_t i = 0, n_pats = 0;
	const char *ref, *pat;
	size_t ref_len, pat_len;
	struct pattern pats[MAX_PATTERNS];

	if (i < cmd->n_args && cmd->args[i].type == IMAP_ARG_LIST) {
		if (!parse_opt_list(&cmd->args[i], false, &opts)) {
			imap_cmd_bad(s, "Unknown LIST selection option.");
			return;
		}
		extended = true;
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
		    !parse_opt_list(&cmd->args[i + 1], true, &opts)) {
			imap_cmd_bad(s, "Invalid LIST return options.");
			return;
		}
		extended = true;
	}
	if ((opts & LSEL_RECURSIVEMATCH) != 0 &&
	    (opts & (LSEL_SUBSCRIBED | LSEL_SPECIAL_USE)) == 0) {
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
		extended = true;
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
		if (!pattern_make(ref, ref_len, pat, pat_len, &pats[n_pats])) {
			imap_cmd_bad(s, "Invalid mailbox pattern.");
			goto out;
		}
		n_pats++;
	}
	list_run(s, opts, extended, pats, n_pats);
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
	if (!pattern_make(ref, ref_len, pat, pat_len, &pattern)) {
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
	struct buf name = BUF_INIT, line = BUF_INIT;
	struct mailbox_status st;
	const struct imap_arg *items;
	int ret;

	if (cmd->n_args != 2 || cmd->args[1].type != IMAP_ARG_LIST ||
	    cmd->args[1].list_count == 0) {
		imap_cmd_bad(s, "STATUS needs a mailbox name and a list of items.");
		return;
	}
	items = &cmd->args[1];
	for (size_t i = 0; i < items->list_count; i++) {
		const char *a;
		if (!imap_arg_get_atom(&items->list[i], &a) ||
		    !(om_str_ieq(a, "MESSAGES") || om_str_ieq(a, "RECENT") ||
		      om_str_ieq(a, "UIDNEXT") || om_str_ieq(a, "UIDVALIDITY") ||
		      om_str_ieq(a, "UNSEEN") || om_str_ieq(a, "HIGHESTMODSEQ"))) {
			imap_cmd_bad(s, "Unknown STATUS item.");
			return;
		}
	}
	if (!imap_arg_mailbox(s, &cmd->args[0], &name))
		goto out;
	memset(&st, 0, sizeof(st));
	ret = mail_user_mailbox_status(s->user, buf_cstr(&name), &st);
	if (ret < 0) {
		imap_cmd_storage_error(s, ret, "STATUS");
		goto out;
	}
	bool want_modseq = false;
	buf_append_str(&line, "STATUS ");
	imap_write_mailbox(&line, buf_cstr(&name));
	buf_append_str(&line, " (");
	for (size_t i = 0; i < items->list_count; i++) {
		const char *a = items->list[i].str;
		if (i > 0)
			buf_append_c(&line, ' ');
		if (om_str_ieq(a, "MESSAGES"))
			buf_printf(&line, "MESSAGES %u", st.messages);
		else if (om_str_ieq(a, "RECENT"))
			buf_printf(&line, "RECENT %u", st.recent);
		else if (om_str_ieq(a, "UIDNEXT"))
			buf_printf(&line, "UIDNEXT %u", st.uidnext);
		else if (om_str_ieq(a, "UIDVALIDITY"))
			buf_printf(&line, "UIDVALIDITY %u", st.uidvalidity);
		else if (om_str_ieq(a, "HIGHESTMODSEQ")) {
			/* RFC 7162 3.1.8; a CONDSTORE-enabling command */
			buf_printf(&line, "HIGHESTMODSEQ %llu",
				   (unsigned long long)st.highest_modseq);
			want_modseq = true;
		} else
			buf_printf(&line, "UNSEEN %u", st.unseen);
	}
	buf_append_c(&line, ')');
	imap_send(s, "%s", buf_cstr(&line));
	if (want_modseq)
		imap_condstore_enable(s);
	imap_cmd_ok(s, "Status completed.");
out:
	buf_free(&name);
	buf_free(&line);
}
