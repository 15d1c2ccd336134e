/* Mailbox and message operations shared by the objmail tool (offline) and
 * objmaild's admin socket (live): see mail-ops.h. */
#include <stdlib.h>
#include <string.h>

#include "cli/mail-ops.h"
#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "imap/imap-search-loader.h"
#include "lib/om-error.h"
#include "mime/mime.h"
#include "storage/mail-storage.h"

/* A query bigger than this is refused (it arrives on one line anyway). */
#define MAIL_OP_MAX_QUERY 65536
#define MAIL_OP_MAX_BOXES 16

static void json_str(struct buf *out, const char *s, size_t len)
{
	buf_append_c(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': buf_append_str(out, "\\\""); break;
		case '\\': buf_append_str(out, "\\\\"); break;
		case '\n': buf_append_str(out, "\\n"); break;
		case '\r': buf_append_str(out, "\\r"); break;
		case '\t': buf_append_str(out, "\\t"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(out, "\\u%04x", c);
			else
				buf_append_c(out, (char)c);
		}
	}
	buf_append_c(out, '"');
}

static void json_cstr(struct buf *out, const char *s)
{
	json_str(out, s, strlen(s));
}

/* The cause in words (om_strerror gives the code's name). */
static const char *cause(int ret)
{
	switch (-ret) {
	case OM_ENOTFOUND: return "not found";
	case OM_EEXISTS: return "already exists";
	case OM_ETEMP: return "temporary failure (store unavailable or user busy), try again";
	case OM_EQUOTA: return "over quota";
	case OM_EINVAL: return "invalid name or argument";
	case OM_EIO: return "I/O error";
	case OM_EPERM: return "not allowed";
	case OM_ELIMIT: return "limit exceeded";
	case OM_ENOTEMPTY: return "has children";
	default: return om_strerror(ret);
	}
}

static int fail(struct buf *err, struct mail_user *user, const char *box, int ret,
		const char *what)
{
	buf_printf(err, "user %s", mail_user_name(user));
	if (box != NULL)
		buf_printf(err, ", mailbox %s", box);
	buf_printf(err, ": %s: %s", what, cause(ret));
	const char *le = mail_user_last_error(user);
	if (ret != -OM_ENOTFOUND && ret != -OM_EINVAL && le != NULL && le[0] != '\0')
		buf_printf(err, " (%s)", le);
	return ret;
}

static const struct {
	unsigned bit;
	const char *name;
} mbox_flag_names[] = {
	{ MBOX_NOSELECT, "\\Noselect" },     { MBOX_NOINFERIORS, "\\Noinferiors" },
	{ MBOX_HASCHILDREN, "\\HasChildren" }, { MBOX_HASNOCHILDREN, "\\HasNoChildren" },
	{ MBOX_SUBSCRIBED, "\\Subscribed" }, { MBOX_NONEXISTENT, "\\NonExistent" },
	{ MBOX_SPECIAL_ALL, "\\All" },       { MBOX_SPECIAL_ARCHIVE, "\\Archive" },
	{ MBOX_SPECIAL_DRAFTS, "\\Drafts" }, { MBOX_SPECIAL_FLAGGED, "\\Flagged" },
	{ MBOX_SPECIAL_JUNK, "\\Junk" },     { MBOX_SPECIAL_SENT, "\\Sent" },
	{ MBOX_SPECIAL_TRASH, "\\Trash" },
};

static const struct {
	uint32_t bit;
	const char *name;
} mail_flag_names[] = {
	{ MAIL_ANSWERED, "\\Answered" }, { MAIL_FLAGGED, "\\Flagged" },
	{ MAIL_DELETED, "\\Deleted" },   { MAIL_SEEN, "\\Seen" },
	{ MAIL_DRAFT, "\\Draft" },
};

static int op_mailbox_list(struct mail_user *user, bool json, struct buf *out, struct buf *err)
{
	struct mailbox_info *list;
	size_t n;
	int ret = mail_user_list_mailboxes(user, &list, &n);
	if (ret < 0)
		return fail(err, user, NULL, ret, "listing mailboxes");
	if (json)
		buf_append_str(out, "{\"mailboxes\":[");
	for (size_t i = 0; i < n; i++) {
		if (json) {
			buf_append_str(out, i > 0 ? ",{\"name\":" : "{\"name\":");
			json_cstr(out, list[i].name);
			buf_printf(out, ",\"subscribed\":%s,\"flags\":[",
				   (list[i].flags & MBOX_SUBSCRIBED) ? "true" : "false");
		} else {
			buf_append_str(out, list[i].name);
		}
		bool first = true;
		for (size_t f = 0; f < sizeof(mbox_flag_names) / sizeof(mbox_flag_names[0]); f++) {
			if ((list[i].flags & mbox_flag_names[f].bit) == 0)
				continue;
			if (json) {
				if (!first)
					buf_append_c(out, ',');
				json_cstr(out, mbox_flag_names[f].name);
			} else {
				buf_append_str(out, first ? "\t" : " ");
				buf_append_str(out, mbox_flag_names[f].name);
			}
			first = false;
		}
		buf_append_str(out, json ? "]}" : "\n");
	}
	if (json)
		buf_append_str(out, "]}\n");
	mailbox_info_free(list, n);
	return 0;
}

static int status_one(struct mail_user *user, const char *name, bool json, bool first,
		      struct buf *out, struct buf *err)
{
	struct mailbox_status st;
	int ret = mail_user_mailbox_status(user, name, &st);
	if (ret < 0)
		return fail(err, user, name, ret, "status");
	if (json) {
		buf_append_str(out, first ? "{\"name\":" : ",{\"name\":");
		json_cstr(out, name);
		buf_printf(out,
			   ",\"messages\":%u,\"recent\":%u,\"unseen\":%u,\"uidnext\":%u,"
			   "\"uidvalidity\":%u,\"highestmodseq\":%llu,\"size\":%llu}",
			   st.messages, st.recent, st.unseen, st.uidnext, st.uidvalidity,
			   (unsigned long long)st.highest_modseq, (unsigned long long)st.size);
	} else {
		buf_printf(out,
			   "%s messages=%u recent=%u unseen=%u uidnext=%u uidvalidity=%u "
			   "highestmodseq=%llu size=%llu\n",
			   name, st.messages, st.recent, st.unseen, st.uidnext, st.uidvalidity,
			   (unsigned long long)st.highest_modseq, (unsigned long long)st.size);
	}
	return 0;
}

static int op_mailbox_status(struct mail_user *user, const char *name, bool json,
			     struct buf *out, struct buf *err)
{
	int ret = 0;
	if (json)
		buf_append_str(out, "{\"mailboxes\":[");
	if (name != NULL) {
		ret = status_one(user, name, json, true, out, err);
	} else {
		struct mailbox_info *list;
		size_t n;
		ret = mail_user_list_mailboxes(user, &list, &n);
		if (ret < 0)
			return fail(err, user, NULL, ret, "listing mailboxes");
		bool first = true;
		for (size_t i = 0; i < n && ret == 0; i++) {
			if ((list[i].flags & (MBOX_NOSELECT | MBOX_NONEXISTENT)) != 0)
				continue;
			ret = status_one(user, list[i].name, json, first, out, err);
			first = false;
		}
		mailbox_info_free(list, n);
	}
	if (json)
		buf_append_str(out, "]}\n");
	return ret;
}

/* --- queries --- */

struct query {
	struct imap_command *cmd;
	struct search_program *prog;
	char *boxes[MAIL_OP_MAX_BOXES];
	size_t n_boxes;
};

static void query_free(struct query *q)
{
	if (q->prog != NULL)
		search_program_free(q->prog);
	if (q->cmd != NULL)
		imap_command_free(q->cmd);
	for (size_t i = 0; i < q->n_boxes; i++)
		free(q->boxes[i]);
}

static int query_parse(struct mail_user *user, const char *text, struct query *q, struct buf *err)
{
	memset(q, 0, sizeof(*q));
	size_t len = strlen(text);
	if (len > MAIL_OP_MAX_QUERY) {
		buf_printf(err, "user %s: search query too long", mail_user_name(user));
		return -OM_EINVAL;
	}
	struct buf line = BUF_INIT;
	buf_printf(&line, "q SEARCH %s\r\n", text);
	struct imap_parser_limits lim = { .max_line = MAIL_OP_MAX_QUERY + 64,
					  .max_literal = 65536,
					  .max_small_literal = 65536,
					  .max_depth = SEARCH_MAX_DEPTH,
					  .max_args = 100000 };
	struct imap_parser *p = imap_parser_new(&lim);
	size_t used = 0;
	enum imap_parse_result r = imap_parser_run(p, line.data, line.len, &used);
	int ret = 0;
	if (r == IMAP_PARSE_COMMAND) {
		q->cmd = imap_parser_take(p);
	} else {
		buf_printf(err, "user %s: bad search query: %s", mail_user_name(user),
			   r == IMAP_PARSE_MORE ? "incomplete (a literal?)" : imap_parser_error(p));
		ret = -OM_EINVAL;
	}
	imap_parser_free(p);
	buf_free(&line);
	if (ret < 0)
		return ret;

	/* take "MAILBOX name" pairs out of the top level */
	size_t w = 0;
	struct imap_arg *args = q->cmd->args;
	for (size_t i = 0; i < q->cmd->n_args; i++) {
		const char *atom;
		const char *name;
		size_t nlen;
		if (imap_arg_get_atom(&args[i], &atom) && strcasecmp(atom, "MAILBOX") == 0 &&
		    i + 1 < q->cmd->n_args && imap_arg_get_astring(&args[i + 1], &name, &nlen)) {
			if (q->n_boxes >= MAIL_OP_MAX_BOXES) {
				buf_printf(err, "user %s: too many MAILBOX keys", mail_user_name(user));
				return -OM_EINVAL;
			}
			q->boxes[q->n_boxes++] = strndup(name, nlen);
			i++;
			continue;
		}
		if (w != i) {
			struct imap_arg tmp = args[w];
			args[w] = args[i];
			args[i] = tmp;
		}
		w++;
	}
	/* (moved-out args stay in the array and are freed with it) */
	const char *perr = NULL;
	struct imap_arg all = { .type = IMAP_ARG_ATOM, .str = (char *)"ALL", .len = 3 };
	enum search_parse_result sr = w > 0 ? search_program_parse(args, w, &q->prog, &perr)
					    : search_program_parse(&all, 1, &q->prog, &perr);
	if (sr != SEARCH_PARSE_OK) {
		buf_printf(err, "user %s: bad search query: %s", mail_user_name(user),
			   perr != NULL ? perr : "unsupported charset");
		return -OM_EINVAL;
	}
	return 0;
}

/* Called for every match; box is open, l loaded on demand for this uid. */
typedef int match_fn(void *ctx, struct mailbox *box, const struct mailbox_snapshot *snap,
		     const struct mail_rec *rec, struct search_loader *l);
/* Called per mailbox after its matches (expunge, flags). */
typedef int box_done_fn(void *ctx, struct mailbox *box, const uint32_t *uids, size_t n);

static int run_one_box(struct mail_user *user, const char *name, struct query *q, bool readonly,
		       match_fn *on_match, box_done_fn *on_box, void *ctx, struct buf *err)
{
	struct mailbox *box;
	int ret = mailbox_open(user, name, readonly, &box);
	if (ret < 0)
		return fail(err, user, name, ret, "open");
	struct mailbox_snapshot *snap;
	ret = mailbox_sync(box, &snap);
	if (ret < 0) {
		fail(err, user, name, ret, "sync");
		mailbox_close(box);
		return ret;
	}
	uint32_t max_uid = snap->count > 0 ? snap->recs[snap->count - 1].uid : 0;
	const char *berr = NULL;
	if (!search_program_bind(q->prog, snap->keywords, snap->n_keywords, (uint32_t)snap->count,
				 max_uid, &berr)) {
		/* a sequence set past the end matches nothing here */
		mailbox_snapshot_free(snap);
		mailbox_close(box);
		return 0;
	}
	struct search_loader l;
	search_loader_init(&l, box);
	struct search_source src;
	search_loader_source(&l, &src);
	uint32_t *uids = om_calloc(snap->count + 1, sizeof(*uids));
	size_t n_uids = 0;
	for (size_t i = 0; i < snap->count && ret == 0; i++) {
		const struct mail_rec *rec = &snap->recs[i];
		search_loader_reset(&l, rec->uid, false);
		struct search_msg m = { .seq = (uint32_t)(i + 1), .uid = rec->uid,
					.flags = rec->flags, .keywords = rec->keywords,
					.size = rec->size, .internal_date = rec->internal_date,
					.internal_tz = rec->internal_tz, .modseq = rec->modseq };
		if (!search_program_match(q->prog, &m, &src)) {
			if (l.error != 0 && l.error != -OM_ENOTFOUND) {
				buf_printf(err, "user %s, mailbox %s, UID %u: ",
					   mail_user_name(user), name, rec->uid);
				ret = fail(err, user, NULL, l.error, "reading");
			}
			continue;
		}
		uids[n_uids++] = rec->uid;
		if (on_match != NULL)
			ret = on_match(ctx, box, snap, rec, &l);
	}
	search_loader_deinit(&l);
	if (ret == 0 && on_box != NULL && n_uids > 0) {
		ret = on_box(ctx, box, uids, n_uids);
		if (ret < 0)
			fail(err, user, name, ret, "changing messages");
	}
	free(uids);
	mailbox_snapshot_free(snap);
	mailbox_close(box);
	return ret;
}

static int run_query(struct mail_user *user, struct query *q, bool readonly, match_fn *on_match,
		     box_done_fn *on_box, void *ctx, struct buf *err)
{
	int ret = 0;
	if (q->n_boxes > 0) {
		for (size_t i = 0; i < q->n_boxes && ret == 0; i++)
			ret = run_one_box(user, q->boxes[i], q, readonly, on_match, on_box, ctx, err);
		return ret;
	}
	struct mailbox_info *list;
	size_t n;
	ret = mail_user_list_mailboxes(user, &list, &n);
	if (ret < 0)
		return fail(err, user, NULL, ret, "listing mailboxes");
	for (size_t i = 0; i < n && ret == 0; i++) {
		if ((list[i].flags & (MBOX_NOSELECT | MBOX_NONEXISTENT)) != 0)
			continue;
		ret = run_one_box(user, list[i].name, q, readonly, on_match, on_box, ctx, err);
	}
	mailbox_info_free(list, n);
	return ret;
}

/* --- search / fetch --- */

struct out_ctx {
	struct mail_user *user;
	bool json;
	size_t n;
	struct buf *out;
	struct buf *err;
	char **fields;
	size_t n_fields;
	/* flags ops */
	enum mail_flag_op op;
	uint32_t flags;
	char **keywords;
	size_t n_keywords;
};

static int search_match(void *arg, struct mailbox *box, const struct mailbox_snapshot *snap,
			const struct mail_rec *rec, struct search_loader *l)
{
	(void)snap;
	(void)l;
	struct out_ctx *c = arg;
	if (c->json) {
		buf_append_str(c->out, c->n > 0 ? ",{\"mailbox\":" : "{\"mailbox\":");
		json_cstr(c->out, mailbox_name(box));
		buf_printf(c->out, ",\"uid\":%u,\"guid\":\"%s\"}", rec->uid, rec->guid);
	} else {
		buf_printf(c->out, "%s %u\n", mailbox_name(box), rec->uid);
	}
	c->n++;
	return 0;
}

static void write_flags(struct buf *out, const struct mail_rec *rec,
			const struct mailbox_snapshot *snap, bool json)
{
	bool first = true;
	if (json)
		buf_append_c(out, '[');
	for (size_t f = 0; f < sizeof(mail_flag_names) / sizeof(mail_flag_names[0]); f++) {
		if ((rec->flags & mail_flag_names[f].bit) == 0)
			continue;
		if (!first)
			buf_append_c(out, json ? ',' : ' ');
		if (json)
			json_cstr(out, mail_flag_names[f].name);
		else
			buf_append_str(out, mail_flag_names[f].name);
		first = false;
	}
	for (size_t k = 0; k < snap->n_keywords && k < 64; k++) {
		if ((rec->keywords & (UINT64_C(1) << k)) == 0)
			continue;
		if (!first)
			buf_append_c(out, json ? ',' : ' ');
		if (json)
			json_cstr(out, snap->keywords[k]);
		else
			buf_append_str(out, snap->keywords[k]);
		first = false;
	}
	if (json)
		buf_append_c(out, ']');
}

static const char *const fetch_fields_known[] = {
	"mailbox", "uid", "seq", "guid", "flags", "internaldate", "date.received", "size",
	"modseq", "hdr", "body", "text", NULL,
};

static bool fetch_field_ok(const char *f)
{
	if (strncasecmp(f, "hdr.", 4) == 0 && f[4] != '\0')
		return true;
	for (size_t i = 0; fetch_fields_known[i] != NULL; i++)
		if (strcasecmp(f, fetch_fields_known[i]) == 0)
			return true;
	return false;
}

static int fetch_match(void *arg, struct mailbox *box, const struct mailbox_snapshot *snap,
		       const struct mail_rec *rec, struct search_loader *l)
{
	struct out_ctx *c = arg;
	struct buf v = BUF_INIT;
	if (c->json)
		buf_append_str(c->out, c->n > 0 ? ",{" : "{");
	else if (c->n > 0)
		buf_append_str(c->out, "\f\n");
	for (size_t i = 0; i < c->n_fields; i++) {
		const char *f = c->fields[i];
		bool raw = false, multiline = false; /* raw: a JSON number / list */
		buf_reset(&v);
		if (strcasecmp(f, "mailbox") == 0) {
			buf_append_str(&v, mailbox_name(box));
		} else if (strcasecmp(f, "uid") == 0) {
			buf_printf(&v, "%u", rec->uid);
			raw = true;
		} else if (strcasecmp(f, "seq") == 0) {
			buf_printf(&v, "%zu", (size_t)(rec - snap->recs) + 1);
			raw = true;
		} else if (strcasecmp(f, "guid") == 0) {
			buf_append_str(&v, rec->guid);
		} else if (strcasecmp(f, "flags") == 0) {
			write_flags(&v, rec, snap, c->json);
			raw = c->json;
		} else if (strcasecmp(f, "internaldate") == 0) {
			imap_write_datetime(&v, rec->internal_date, rec->internal_tz);
			/* drop the quotes */
			memmove(v.data, v.data + 1, v.len - 2);
			v.len -= 2;
			v.data[v.len] = '\0';
		} else if (strcasecmp(f, "date.received") == 0) {
			buf_printf(&v, "%lld", (long long)rec->internal_date);
			raw = true;
		} else if (strcasecmp(f, "size") == 0) {
			buf_printf(&v, "%llu", (unsigned long long)rec->size);
			raw = true;
		} else if (strcasecmp(f, "modseq") == 0) {
			buf_printf(&v, "%llu", (unsigned long long)rec->modseq);
			raw = true;
		} else {
			if (!search_loader_load(l)) {
				int e = l->error != 0 ? l->error : -OM_EIO;
				buf_printf(c->err, "user %s, mailbox %s, UID %u: reading: %s",
					   mail_user_name(c->user), mailbox_name(box), rec->uid,
					   om_strerror(e));
				buf_free(&v);
				return e;
			}
			const struct mime_part *root = &l->mime->root;
			if (strcasecmp(f, "hdr") == 0) {
				buf_append(&v, l->md.data + root->hdr_off, root->hdr_len);
				multiline = true;
			} else if (strcasecmp(f, "body") == 0) {
				size_t off = root->hdr_off + root->hdr_len;
				if (off < l->md.len)
					buf_append(&v, l->md.data + off, l->md.len - off);
				multiline = true;
			} else if (strcasecmp(f, "text") == 0) {
				buf_append(&v, l->md.data, l->md.len);
				multiline = true;
			} else { /* hdr.NAME */
				mime_header_get_all_utf8(l->md.data + root->hdr_off,
							 root->hdr_len, f + 4, &v);
			}
		}
		if (c->json) {
			if (i > 0)
				buf_append_c(c->out, ',');
			json_cstr(c->out, f);
			buf_append_c(c->out, ':');
			if (raw)
				buf_append(c->out, v.data != NULL ? v.data : "", v.len);
			else
				json_str(c->out, v.data != NULL ? v.data : "", v.len);
		} else if (multiline) {
			buf_printf(c->out, "%s:\n", f);
			buf_append(c->out, v.data != NULL ? v.data : "", v.len);
			if (v.len == 0 || v.data[v.len - 1] != '\n')
				buf_append_c(c->out, '\n');
		} else {
			buf_printf(c->out, "%s: ", f);
			buf_append(c->out, v.data != NULL ? v.data : "", v.len);
			buf_append_c(c->out, '\n');
		}
	}
	if (c->json)
		buf_append_c(c->out, '}');
	buf_free(&v);
	c->n++;
	return 0;
}

static void split_words(const char *s, char ***words_r, size_t *n_r)
{
	size_t cap = 8, n = 0;
	char **w = om_calloc(cap, sizeof(*w));
	const char *p = s;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, " \t,");
		if (n + 1 >= cap) {
			cap *= 2;
			w = realloc(w, cap * sizeof(*w));
			if (w == NULL)
				abort();
		}
		w[n++] = strndup(p, len);
		p += len;
	}
	*words_r = w;
	*n_r = n;
}

static void free_words(char **w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

static int expunge_box(void *arg, struct mailbox *box, const uint32_t *uids, size_t n)
{
	struct out_ctx *c = arg;
	int ret = mailbox_expunge(box, uids, n);
	if (ret == 0) {
		if (c->json) {
			buf_append_str(c->out, c->n > 0 ? ",{\"mailbox\":" : "{\"mailbox\":");
			json_cstr(c->out, mailbox_name(box));
			buf_printf(c->out, ",\"expunged\":%zu}", n);
		} else {
			buf_printf(c->out, "%s %zu expunged\n", mailbox_name(box), n);
		}
		c->n++;
	}
	return ret;
}

static int flags_box(void *arg, struct mailbox *box, const uint32_t *uids, size_t n)
{
	struct out_ctx *c = arg;
	struct mail_rec *recs = NULL;
	size_t nr = 0;
	int ret = mailbox_store(box, uids, n, c->op, c->flags, (const char *const *)c->keywords,
				c->n_keywords, &recs, &nr);
	free(recs);
	if (ret == 0) {
		if (c->json) {
			buf_append_str(c->out, c->n > 0 ? ",{\"mailbox\":" : "{\"mailbox\":");
			json_cstr(c->out, mailbox_name(box));
			buf_printf(c->out, ",\"changed\":%zu}", nr);
		} else {
			buf_printf(c->out, "%s %zu changed\n", mailbox_name(box), nr);
		}
		c->n++;
	}
	return ret;
}

static int parse_flags(struct mail_user *user, const char *text, struct out_ctx *c,
		       struct buf *err)
{
	char **words;
	size_t n;
	split_words(text, &words, &n);
	c->keywords = om_calloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		if (words[i][0] == '\\') {
			bool found = false;
			for (size_t f = 0; f < sizeof(mail_flag_names) / sizeof(mail_flag_names[0]);
			     f++) {
				if (strcasecmp(words[i], mail_flag_names[f].name) == 0) {
					c->flags |= mail_flag_names[f].bit;
					found = true;
				}
			}
			if (!found) {
				buf_printf(err, "user %s: unknown system flag %s",
					   mail_user_name(user), words[i]);
				free_words(words, n);
				return -OM_EINVAL;
			}
		} else {
			if (c->n_keywords >= MAIL_MAX_KEYWORDS) {
				buf_printf(err, "user %s: too many keywords", mail_user_name(user));
				free_words(words, n);
				return -OM_EINVAL;
			}
			c->keywords[c->n_keywords++] = om_strdup(words[i]);
		}
	}
	free_words(words, n);
	return 0;
}

int mail_op_save(struct mail_user *user, const char *mailbox, const char *data, size_t len,
		 bool json, struct buf *out, struct buf *err)
{
	if (len == 0) {
		buf_printf(err, "user %s, mailbox %s: save: no message", mail_user_name(user),
			   mailbox);
		return -OM_EINVAL;
	}
	struct mail_save save = { .data = data, .len = len };
	uint32_t uv = 0, uid = 0;
	int ret = mailbox_append(user, mailbox, &save, &uv, &uid);
	if (ret < 0)
		return fail(err, user, mailbox, ret, "save");
	if (json) {
		buf_append_str(out, "{\"mailbox\":");
		json_cstr(out, mailbox);
		buf_printf(out, ",\"uidvalidity\":%u,\"uid\":%u}\n", uv, uid);
	} else {
		buf_printf(out, "%s uidvalidity=%u uid=%u\n", mailbox, uv, uid);
	}
	return 0;
}

bool mail_op_known(size_t argc, char *const *argv)
{
	static const struct {
		const char *name;
		size_t min, max;
	} ops[] = {
		{ "mailbox-list", 1, 1 },   { "mailbox-status", 1, 2 },
		{ "mailbox-create", 2, 2 }, { "mailbox-delete", 2, 2 },
		{ "mailbox-rename", 3, 3 }, { "mailbox-subscribe", 2, 2 },
		{ "mailbox-unsubscribe", 2, 2 }, { "search", 2, 2 },
		{ "fetch", 3, 3 },          { "expunge", 2, 2 },
		{ "flags-add", 3, 3 },      { "flags-remove", 3, 3 },
		{ "flags-replace", 3, 3 },
	};
	if (argc == 0)
		return false;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(argv[0], ops[i].name) == 0)
			return argc >= ops[i].min && argc <= ops[i].max;
	return false;
}

int mail_op_run(struct mail_user *user, size_t argc, char *const *argv, bool json,
		struct buf *out, struct buf *err)
{
	if (!mail_op_known(argc, argv)) {
		buf_printf(err, "usage: unknown operation or wrong argument count");
		return -OM_EINVAL;
	}
	const char *op = argv[0];
	int ret;
	if (strcmp(op, "mailbox-list") == 0)
		return op_mailbox_list(user, json, out, err);
	if (strcmp(op, "mailbox-status") == 0)
		return op_mailbox_status(user, argc > 1 ? argv[1] : NULL, json, out, err);
	if (strcmp(op, "mailbox-create") == 0) {
		ret = mail_user_create_mailbox(user, argv[1], 0);
		if (ret == 0)
			ret = mail_user_subscribe(user, argv[1], true);
		return ret < 0 ? fail(err, user, argv[1], ret, "create") : 0;
	}
	if (strcmp(op, "mailbox-delete") == 0) {
		ret = mail_user_delete_mailbox(user, argv[1]);
		if (ret == 0)
			(void)mail_user_subscribe(user, argv[1], false);
		return ret < 0 ? fail(err, user, argv[1], ret, "delete") : 0;
	}
	if (strcmp(op, "mailbox-rename") == 0) {
		ret = mail_user_rename_mailbox(user, argv[1], argv[2]);
		return ret < 0 ? fail(err, user, argv[1], ret, "rename") : 0;
	}
	if (strcmp(op, "mailbox-subscribe") == 0 || strcmp(op, "mailbox-unsubscribe") == 0) {
		ret = mail_user_subscribe(user, argv[1], op[8] == 's');
		return ret < 0 ? fail(err, user, argv[1], ret, "subscribe") : 0;
	}

	struct query q;
	struct out_ctx c = { .user = user, .json = json, .out = out, .err = err };
	const char *query = argv[argc - 1];
	ret = query_parse(user, query, &q, err);
	if (ret < 0) {
		query_free(&q);
		return ret;
	}
	if (strcmp(op, "search") == 0) {
		if (json)
			buf_append_str(out, "{\"results\":[");
		ret = run_query(user, &q, true, search_match, NULL, &c, err);
		if (json)
			buf_append_str(out, "]}\n");
	} else if (strcmp(op, "fetch") == 0) {
		split_words(argv[1], &c.fields, &c.n_fields);
		for (size_t i = 0; i < c.n_fields; i++) {
			if (!fetch_field_ok(c.fields[i])) {
				buf_printf(err, "user %s: unknown fetch field %s",
					   mail_user_name(user), c.fields[i]);
				ret = -OM_EINVAL;
			}
		}
		if (c.n_fields == 0) {
			buf_printf(err, "user %s: no fetch fields", mail_user_name(user));
			ret = -OM_EINVAL;
		}
		if (ret == 0) {
			if (json)
				buf_append_str(out, "{\"messages\":[");
			ret = run_query(user, &q, true, fetch_match, NULL, &c, err);
			if (json)
				buf_append_str(out, "]}\n");
		}
		free_words(c.fields, c.n_fields);
	} else if (strcmp(op, "expunge") == 0) {
		if (json)
			buf_append_str(out, "{\"mailboxes\":[");
		ret = run_query(user, &q, false, NULL, expunge_box, &c, err);
		if (json)
			buf_append_str(out, "]}\n");
	} else { /* flags-* */
		c.op = strcmp(op, "flags-add") == 0      ? MAIL_FLAGS_ADD
		       : strcmp(op, "flags-remove") == 0 ? MAIL_FLAGS_REMOVE
							 : MAIL_FLAGS_REPLACE;
		ret = parse_flags(user, argv[1], &c, err);
		if (ret == 0) {
			if (json)
				buf_append_str(out, "{\"mailboxes\":[");
			ret = run_query(user, &q, false, NULL, flags_box, &c, err);
			if (json)
				buf_append_str(out, "]}\n");
		}
		for (size_t i = 0; i < c.n_keywords; i++)
			free(c.keywords[i]);
		free(c.keywords);
	}
	query_free(&q);
	return ret;
}
