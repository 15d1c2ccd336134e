/* SEARCH program: parsing the keys into a tree and evaluating it. */
#include "imap/imap-search.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap-util.h"
#include "storage/mail-storage.h"

enum search_key_type {
	SK_ALL,
	SK_FLAG,     /* flag set (or not, with !set) */
	SK_NEW,      /* \Recent and not \Seen */
	SK_KEYWORD,
	SK_LARGER,
	SK_SMALLER,
	SK_DATE,
	SK_HEADER,
	SK_BODY,
	SK_TEXT,
	SK_SEQSET,
	SK_UIDSET,
	SK_SAVED,    /* "$" (RFC 5182) */
	SK_MODSEQ,   /* MODSEQ [entry type] n (RFC 7162) */
	SK_NOT,
	SK_OR,
	SK_AND,
};

enum date_op { DATE_BEFORE, DATE_ON, DATE_SINCE };

/* What a key costs to evaluate; lists are ordered by it. */
enum key_cost { COST_VIEW = 0, COST_HEADER = 1, COST_BODY = 2 };

struct search_key {
	enum search_key_type type;
	enum key_cost cost;
	bool set;              /* SK_FLAG / SK_KEYWORD: must be set */
	bool sent;             /* SK_DATE: Date: header */
	enum date_op date_op;
	uint32_t flag;
	uint64_t size;
	long long day;         /* days since 1970-01-01 */
	char *name;            /* header name or keyword (NUL-terminated) */
	char *value;           /* string to find */
	size_t value_len;
	int kw_bit;            /* bound keyword index, -1: not in the mailbox */
	struct seq_range *ranges;  /* as parsed ('*' = UINT32_MAX) */
	size_t n_ranges;
	struct seq_range *bound;   /* resolved, sorted, merged */
	size_t n_bound;
	struct search_key *children;
	size_t n_children;
};

struct search_program {
	struct search_key root; /* SK_AND */
	uint32_t *saved;        /* "$" */
	size_t n_saved;
	bool has_modseq;
	/* per-message scratch */
	const struct search_msg *msg;
	const struct search_source *src;
	bool have_body, body_ok, have_text, text_ok, have_sent;
	long long sent_day;
	struct buf body, text, hdr;
};

struct parse_ctx {
	const struct imap_arg *args;
	size_t n, pos;
	const char *error;
	bool has_modseq;
};

static void key_free(struct search_key *k)
{
	free(k->name);
	free(k->value);
	free(k->ranges);
	free(k->bound);
	for (size_t i = 0; i < k->n_children; i++)
		key_free(&k->children[i]);
	free(k->children);
}

void search_program_free(struct search_program *prog)
{
	if (prog == NULL)
		return;
	key_free(&prog->root);
	free(prog->saved);
	buf_free(&prog->body);
	buf_free(&prog->text);
	buf_free(&prog->hdr);
	free(prog);
}

static bool next_astring(struct parse_ctx *c, const char **s_r, size_t *len_r)
{
	if (c->pos >= c->n || !imap_arg_get_astring(&c->args[c->pos], s_r, len_r)) {
		c->error = "Missing or invalid search key argument";
		return false;
	}
	c->pos++;
	return true;
}

static bool next_string_dup(struct parse_ctx *c, char **out, size_t *len_r)
{
	const char *s;
	size_t len;
	if (!next_astring(c, &s, &len))
		return false;
	*out = om_strndup(s, len);
	if (len_r != NULL)
		*len_r = len;
	return true;
}

static bool next_number(struct parse_ctx *c, uint64_t *out)
{
	const char *s;
	size_t len;
	unsigned long long v;
	if (!next_astring(c, &s, &len))
		return false;
	if (!om_parse_u64(s, len, &v)) {
		c->error = "Invalid number in search key";
		return false;
	}
	*out = v;
	return true;
}

static bool next_date(struct parse_ctx *c, long long *day_r)
{
	const char *s;
	size_t len;
	int y, m, d;
	if (!next_astring(c, &s, &len))
		return false;
	if (strlen(s) != len || !imap_parse_date(s, &y, &m, &d)) {
		c->error = "Invalid date in search key";
		return false;
	}
	*day_r = imap_days_from_civil(y, m, d);
	return true;
}

static bool parse_seqset(struct parse_ctx *c, const char *s, struct search_key *k)
{
	if (!imap_seqset_parse(s, &k->ranges, &k->n_ranges)) {
		c->error = "Invalid sequence set";
		return false;
	}
	return true;
}

static bool parse_list(struct parse_ctx *c, const struct imap_arg *args, size_t n,
		       struct search_key *and_key, unsigned depth);

static int cost_cmp(const void *a, const void *b)
{
	const struct search_key *ka = a, *kb = b;
	return (int)ka->cost - (int)kb->cost;
}

static void order_children(struct search_key *k)
{
	enum key_cost cost = COST_VIEW;
	for (size_t i = 0; i < k->n_children; i++) {
		if (k->children[i].cost > cost)
			cost = k->children[i].cost;
	}
	k->cost = cost;
	if (k->type == SK_AND && k->n_children > 1) {
		/* insertion sort keeps it stable; lists are short */
		for (size_t i = 1; i < k->n_children; i++) {
			struct search_key t = k->children[i];
			size_t j = i;
			while (j > 0 && cost_cmp(&k->children[j - 1], &t) > 0) {
				k->children[j] = k->children[j - 1];
				j--;
			}
			k->children[j] = t;
		}
	} else if (k->type == SK_OR && k->children[1].cost < k->children[0].cost) {
		struct search_key t = k->children[0];
		k->children[0] = k->children[1];
		k->children[1] = t;
	}
}

static bool set_flag(struct search_key *k, uint32_t flag, bool set)
{
	k->type = SK_FLAG;
	k->flag = flag;
	k->set = set;
	return true;
}

static bool parse_header_key(struct parse_ctx *c, struct search_key *k, const char *name)
{
	k->type = SK_HEADER;
	k->cost = COST_HEADER;
	k->name = om_strdup(name);
	return next_string_dup(c, &k->value, &k->value_len);
}

static bool parse_date_key(struct parse_ctx *c, struct search_key *k, enum date_op op, bool sent)
{
	k->type = SK_DATE;
	k->date_op = op;
	k->sent = sent;
	k->cost = sent ? COST_HEADER : COST_VIEW;
	return next_date(c, &k->day);
}

/* MODSEQ [<entry-name> <entry-type-req>] <mod-sequence-valzer>: the
 * entry (a flag's own modseq) is accepted but the message's modseq is used,
 * which is never lower (RFC 7162 3.1.5 allows this). */
static bool parse_modseq_key(struct parse_ctx *c, struct search_key *k)
{
	const char *s;
	unsigned long long v;
	k->type = SK_MODSEQ;
	c->has_modseq = true;
	if (c->pos < c->n && (c->args[c->pos].type == IMAP_ARG_STRING ||
			      c->args[c->pos].type == IMAP_ARG_LITERAL)) {
		c->pos++; /* entry name */
		if (c->pos >= c->n || !imap_arg_get_atom(&c->args[c->pos], &s) ||
		    !(om_str_ieq(s, "priv") || om_str_ieq(s, "shared") || om_str_ieq(s, "all"))) {
			c->error = "Invalid MODSEQ entry type";
			return false;
		}
		c->pos++;
	}
	if (c->pos >= c->n || !imap_arg_get_atom(&c->args[c->pos], &s) ||
	    !om_parse_u64(s, strlen(s), &v) || v > (unsigned long long)INT64_MAX) {
		c->error = "Invalid MODSEQ value";
		return false;
	}
	c->pos++;
	k->size = v;
	return true;
}

static bool parse_key(struct parse_ctx *c, struct search_key *k, unsigned depth)
{
	const struct imap_arg *arg = &c->args[c->pos];
	const char *s;

	memset(k, 0, sizeof(*k));
	k->kw_bit = -1;
	if (depth > SEARCH_MAX_DEPTH) {
		c->error = "Too deep nesting in search keys";
		return false;
	}
	if (arg->type == IMAP_ARG_LIST) {
		c->pos++;
		k->type = SK_AND;
		if (arg->list_count == 0) {
			c->error = "Empty search key list";
			return false;
		}
		return parse_list(c, arg->list, arg->list_count, k, depth + 1);
	}
	if (!imap_arg_get_atom(arg, &s)) {
		c->error = "Invalid search key";
		return false;
	}
	c->pos++;
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '*') {
		k->type = SK_SEQSET;
		return parse_seqset(c, s, k);
	}
	if (strcmp(s, "$") == 0) {
		k->type = SK_SAVED;
		return true;
	}

	switch (s[0] | 0x20) {
	case 'a':
		if (om_str_ieq(s, "ALL")) {
			k->type = SK_ALL;
			return true;
		}
		if (om_str_ieq(s, "ANSWERED"))
			return set_flag(k, MAIL_ANSWERED, true);
		break;
	case 'b':
		if (om_str_ieq(s, "BCC"))
			return parse_header_key(c, k, "Bcc");
		if (om_str_ieq(s, "BEFORE"))
			return parse_date_key(c, k, DATE_BEFORE, false);
		if (om_str_ieq(s, "BODY")) {
			k->type = SK_BODY;
			k->cost = COST_BODY;
			return next_string_dup(c, &k->value, &k->value_len);
		}
		break;
	case 'c':
		if (om_str_ieq(s, "CC"))
			return parse_header_key(c, k, "Cc");
		break;
	case 'd':
		if (om_str_ieq(s, "DELETED"))
			return set_flag(k, MAIL_DELETED, true);
		if (om_str_ieq(s, "DRAFT"))
			return set_flag(k, MAIL_DRAFT, true);
		break;
	case 'f':
		if (om_str_ieq(s, "FLAGGED"))
			return set_flag(k, MAIL_FLAGGED, true);
		if (om_str_ieq(s, "FROM"))
			return parse_header_key(c, k, "From");
		break;
	case 'h':
		if (om_str_ieq(s, "HEADER")) {
			k->type = SK_HEADER;
			k->cost = COST_HEADER;
			if (!next_string_dup(c, &k->name, NULL))
				return false;
			return next_string_dup(c, &k->value, &k->value_len);
		}
		break;
	case 'k':
		if (om_str_ieq(s, "KEYWORD")) {
			k->type = SK_KEYWORD;
			k->set = true;
			return next_string_dup(c, &k->name, NULL);
		}
		break;
	case 'l':
		if (om_str_ieq(s, "LARGER")) {
			k->type = SK_LARGER;
			return next_number(c, &k->size);
		}
		break;
	case 'm':
		if (om_str_ieq(s, "MODSEQ"))
			return parse_modseq_key(c, k);
		break;
	case 'n':
		if (om_str_ieq(s, "NEW")) {
			k->type = SK_NEW;
			return true;
		}
		if (om_str_ieq(s, "NOT")) {
			k->type = SK_NOT;
			if (c->pos >= c->n) {
				c->error = "Missing search key after NOT";
				return false;
			}
			k->children = om_calloc(1, sizeof(*k->children));
			k->n_children = 1;
			if (!parse_key(c, &k->children[0], depth + 1))
				return false;
			order_children(k);
			return true;
		}
		break;
	case 'o':
		if (om_str_ieq(s, "OLD"))
			return set_flag(k, MAIL_RECENT, false);
		if (om_str_ieq(s, "ON"))
			return parse_date_key(c, k, DATE_ON, false);
		if (om_str_ieq(s, "OR")) {
			k->type = SK_OR;
			k->children = om_calloc(2, sizeof(*k->children));
			for (int i = 0; i < 2; i++) {
				if (c->pos >= c->n) {
					c->error = "Missing search key after OR";
					return false;
				}
				k->n_children = (size_t)i + 1;
				if (!parse_key(c, &k->children[i], depth + 1))
					return false;
			}
			order_children(k);
			return true;
		}
		break;
	case 'r':
		if (om_str_ieq(s, "RECENT"))
			return set_flag(k, MAIL_RECENT, true);
		break;
	case 's':
		if (om_str_ieq(s, "SEEN"))
			return set_flag(k, MAIL_SEEN, true);
		if (om_str_ieq(s, "SENTBEFORE"))
			return parse_date_key(c, k, DATE_BEFORE, true);
		if (om_str_ieq(s, "SENTON"))
			return parse_date_key(c, k, DATE_ON, true);
		if (om_str_ieq(s, "SENTSINCE"))
			return parse_date_key(c, k, DATE_SINCE, true);
		if (om_str_ieq(s, "SINCE"))
			return parse_date_key(c, k, DATE_SINCE, false);
		if (om_str_ieq(s, "SMALLER")) {
			k->type = SK_SMALLER;
			return next_number(c, &k->size);
		}
		if (om_str_ieq(s, "SUBJECT"))
			return parse_header_key(c, k, "Subject");
		break;
	case 't':
		if (om_str_ieq(s, "TEXT")) {
			k->type = SK_TEXT;
			k->cost = COST_BODY;
			return next_string_dup(c, &k->value, &k->value_len);
		}
		if (om_str_ieq(s, "TO"))
			return parse_header_key(c, k, "To");
		break;
	case 'u':
		if (om_str_ieq(s, "UID")) {
			const char *set;
			k->type = SK_UIDSET;
			if (c->pos >= c->n || !imap_arg_get_atom(&c->args[c->pos], &set)) {
				c->error = "Missing sequence set after UID";
				return false;
			}
			c->pos++;
			if (strcmp(set, "$") == 0) {
				k->type = SK_SAVED;
				return true;
			}
			return parse_seqset(c, set, k);
		}
		if (om_str_ieq(s, "UNANSWERED"))
			return set_flag(k, MAIL_ANSWERED, false);
		if (om_str_ieq(s, "UNDELETED"))
			return set_flag(k, MAIL_DELETED, false);
		if (om_str_ieq(s, "UNDRAFT"))
			return set_flag(k, MAIL_DRAFT, false);
		if (om_str_ieq(s, "UNFLAGGED"))
			return set_flag(k, MAIL_FLAGGED, false);
		if (om_str_ieq(s, "UNKEYWORD")) {
			k->type = SK_KEYWORD;
			k->set = false;
			return next_string_dup(c, &k->name, NULL);
		}
		if (om_str_ieq(s, "UNSEEN"))
			return set_flag(k, MAIL_SEEN, false);
		break;
	default:
		break;
	}
	c->error = "Unknown search key";
	return false;
}

/* The keys of args[0..n) as the children of and_key. */
static bool parse_list(struct parse_ctx *parent, const struct imap_arg *args, size_t n,
		       struct search_key *and_key, unsigned depth)
{
	struct parse_ctx c = { .args = args, .n = n, .pos = 0, .error = NULL };
	size_t alloc = 0;
	bool ok = true;

	and_key->type = SK_AND;
	while (c.pos < n) {
		if (and_key->n_children == alloc) {
			alloc = alloc ? alloc * 2 : 4;
			and_key->children =
				om_reallocarray(and_key->children, alloc, sizeof(*and_key->children));
		}
		/* counted before parsing, so a failed key is freed with the rest */
		struct search_key *k = &and_key->children[and_key->n_children++];
		if (!parse_key(&c, k, depth)) {
			ok = false;
			break;
		}
	}
	parent->has_modseq |= c.has_modseq;
	if (!ok) {
		parent->error = c.error;
		return false;
	}
	order_children(and_key);
	return true;
}

enum search_parse_result search_program_parse(const struct imap_arg *args, size_t n_args,
					      struct search_program **prog_r,
					      const char **error_r)
{
	const char *s;
	size_t len;

	*prog_r = NULL;
	*error_r = NULL;
	if (n_args > 0 && imap_arg_get_atom(&args[0], &s) && om_str_ieq(s, "CHARSET")) {
		if (n_args < 2 || !imap_arg_get_astring(&args[1], &s, &len)) {
			*error_r = "Missing charset";
			return SEARCH_PARSE_BAD;
		}
		if (!om_mem_ieq(s, len, "UTF-8") && !om_mem_ieq(s, len, "US-ASCII")) {
			*error_r = "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset";
			return SEARCH_PARSE_BADCHARSET;
		}
		args += 2;
		n_args -= 2;
	}
	if (n_args == 0) {
		*error_r = "Missing search keys";
		return SEARCH_PARSE_BAD;
	}

	struct search_program *prog = om_calloc(1, sizeof(*prog));
	struct parse_ctx top = { .args = args, .n = n_args };
	prog->root.kw_bit = -1;
	if (!parse_list(&top, args, n_args, &prog->root, 0)) {
		*error_r = top.error != NULL ? top.error : "Invalid search keys";
		search_program_free(prog);
		return SEARCH_PARSE_BAD;
	}
	prog->has_modseq = top.has_modseq;
	*prog_r = prog;
	return SEARCH_PARSE_OK;
}

void search_program_bind_saved(struct search_program *prog, const uint32_t *uids, size_t n)
{
	free(prog->saved);
	prog->saved = om_reallocarray(NULL, n > 0 ? n : 1, sizeof(*prog->saved));
	if (n > 0)
		memcpy(prog->saved, uids, n * sizeof(*uids));
	prog->n_saved = n;
}

bool search_program_has_modseq(const struct search_program *prog)
{
	return prog->has_modseq;
}

static bool key_uses_recent(const struct search_key *k)
{
	if (k->type == SK_NEW || (k->type == SK_FLAG && k->flag == MAIL_RECENT))
		return true;
	for (size_t i = 0; i < k->n_children; i++) {
		if (key_uses_recent(&k->children[i]))
			return true;
	}
	return false;
}

bool search_program_uses_recent(const struct search_program *prog)
{
	return key_uses_recent(&prog->root);
}

static bool in_saved(const struct search_program *prog, uint32_t uid)
{
	size_t lo = 0, hi = prog->n_saved;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (prog->saved[mid] == uid)
			return true;
		if (prog->saved[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool search_program_needs_message(const struct search_program *prog)
{
	return prog->root.cost != COST_VIEW;
}

/* --- binding to a view --- */

static int range_cmp(const void *a, const void *b)
{
	const struct seq_range *ra = a, *rb = b;
	return ra->lo < rb->lo ? -1 : ra->lo > rb->lo;
}

static bool bind_key(struct search_key *k, char *const *keywords, size_t n_keywords,
		     uint32_t count, uint32_t max_uid, const char **error_r)
{
	for (size_t i = 0; i < k->n_children; i++) {
		if (!bind_key(&k->children[i], keywords, n_keywords, count, max_uid, error_r))
			return false;
	}
	if (k->type == SK_KEYWORD) {
		k->kw_bit = -1;
		for (size_t i = 0; i < n_keywords && i < 64; i++) {
			if (keywords[i] != NULL && om_str_ieq(keywords[i], k->name)) {
				k->kw_bit = (int)i;
				break;
			}
		}
		return true;
	}
	if (k->type != SK_SEQSET && k->type != SK_UIDSET)
		return true;

	bool uid = k->type == SK_UIDSET;
	uint32_t star = uid ? max_uid : count;
	if (!uid && count == 0) {
		*error_r = "No messages in the mailbox";
		return false;
	}
	free(k->bound);
	k->bound = om_reallocarray(NULL, k->n_ranges, sizeof(*k->bound));
	k->n_bound = 0;
	for (size_t i = 0; i < k->n_ranges; i++) {
		uint32_t lo = k->ranges[i].lo == UINT32_MAX ? star : k->ranges[i].lo;
		uint32_t hi = k->ranges[i].hi == UINT32_MAX ? star : k->ranges[i].hi;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		if (!uid && hi > count) {
			*error_r = "Message sequence number out of range";
			return false;
		}
		k->bound[k->n_bound].lo = lo;
		k->bound[k->n_bound].hi = hi;
		k->n_bound++;
	}
	qsort(k->bound, k->n_bound, sizeof(*k->bound), range_cmp);
	size_t out = 0;
	for (size_t i = 0; i < k->n_bound; i++) {
		if (out > 0 && (k->bound[i].lo <= k->bound[out - 1].hi ||
				k->bound[i].lo - 1 == k->bound[out - 1].hi)) {
			if (k->bound[i].hi > k->bound[out - 1].hi)
				k->bound[out - 1].hi = k->bound[i].hi;
		} else {
			k->bound[out++] = k->bound[i];
		}
	}
	k->n_bound = out;
	return true;
}

bool search_program_bind(struct search_program *prog, char *const *keywords, size_t n_keywords,
			 uint32_t count, uint32_t max_uid, const char **error_r)
{
	*error_r = NULL;
	return bind_key(&prog->root, keywords, n_keywords, count, max_uid, error_r);
}

/* --- evaluation --- */

static bool in_bound(const struct search_key *k, uint32_t v)
{
	size_t lo = 0, hi = k->n_bound;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v < k->bound[mid].lo)
			hi = mid;
		else if (v > k->bound[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static long long floor_div(long long a, long long b)
{
	long long q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static long long day_of(long long t, int tz_minutes)
{
	return floor_div(t + tz_minutes * 60LL, 86400);
}

static long long sent_day(struct search_program *prog)
{
	if (!prog->have_sent) {
		long long t;
		int tz;
		prog->have_sent = true;
		if (prog->src->sent_date != NULL && prog->src->sent_date(prog->src->ctx, &t, &tz))
			prog->sent_day = day_of(t, tz);
		else
			prog->sent_day = day_of(prog->msg->internal_date, prog->msg->internal_tz);
	}
	return prog->sent_day;
}

static bool contains(struct search_program *prog, const char *hay, size_t hay_len,
		     const struct search_key *k)
{
	if (k->value_len == 0)
		return true;
	return prog->src->contains(hay, hay_len, k->value, k->value_len);
}

/* The index's answer for a string key, or -1 (imap-fts.h). */
static int index_decides(struct search_program *prog, const struct search_key *k, char kind)
{
	const struct search_source *src = prog->src;
	if (src->index_match == NULL || k->value_len == 0)
		return -1;
	return src->index_match(src->ctx, kind, kind == 'H' ? k->name : NULL, k->value,
				k->value_len);
}

static bool match_key(struct search_program *prog, const struct search_key *k)
{
	const struct search_msg *m = prog->msg;
	const struct search_source *src = prog->src;

	switch (k->type) {
	case SK_ALL:
		return true;
	case SK_FLAG:
		return ((m->flags & k->flag) != 0) == k->set;
	case SK_NEW:
		return (m->flags & MAIL_RECENT) != 0 && (m->flags & MAIL_SEEN) == 0;
	case SK_KEYWORD: {
		bool has = k->kw_bit >= 0 && (m->keywords >> k->kw_bit & 1) != 0;
		return has == k->set;
	}
	case SK_LARGER:
		return m->size > k->size;
	case SK_SMALLER:
		return m->size < k->size;
	case SK_DATE: {
		long long day = k->sent ? sent_day(prog) : day_of(m->internal_date, m->internal_tz);
		switch (k->date_op) {
		case DATE_BEFORE:
			return day < k->day;
		case DATE_ON:
			return day == k->day;
		case DATE_SINCE:
			return day >= k->day;
		}
		return false;
	}
	case SK_HEADER:
		if (index_decides(prog, k, 'H') == 0)
			return false;
		buf_reset(&prog->hdr);
		if (src->header == NULL || !src->header(src->ctx, k->name, &prog->hdr))
			return false;
		return contains(prog, buf_cstr(&prog->hdr), prog->hdr.len, k);
	case SK_BODY:
		if (index_decides(prog, k, 'B') == 0)
			return false;
		if (!prog->have_body) {
			prog->have_body = true;
			buf_reset(&prog->body);
			prog->body_ok = src->text != NULL && src->text(src->ctx, false, &prog->body);
		}
		return prog->body_ok && contains(prog, buf_cstr(&prog->body), prog->body.len, k);
	case SK_TEXT:
		if (index_decides(prog, k, 'T') == 0)
			return false;
		if (!prog->have_text) {
			prog->have_text = true;
			buf_reset(&prog->text);
			prog->text_ok = src->text != NULL && src->text(src->ctx, true, &prog->text);
		}
		return prog->text_ok && contains(prog, buf_cstr(&prog->text), prog->text.len, k);
	case SK_SEQSET:
		return in_bound(k, m->seq);
	case SK_UIDSET:
		return in_bound(k, m->uid);
	case SK_SAVED:
		return in_saved(prog, m->uid);
	case SK_MODSEQ:
		return m->modseq >= k->size;
	case SK_NOT:
		return !match_key(prog, &k->children[0]);
	case SK_OR:
		return match_key(prog, &k->children[0]) || match_key(prog, &k->children[1]);
	case SK_AND:
		for (size_t i = 0; i < k->n_children; i++) {
			if (!match_key(prog, &k->children[i]))
				return false;
		}
		return true;
	}
	return false;
}

bool search_program_match(struct search_program *prog, const struct search_msg *msg,
			  const struct search_source *src)
{
	prog->msg = msg;
	prog->src = src;
	prog->have_body = prog->have_text = prog->have_sent = false;
	bool ok = match_key(prog, &prog->root);
	prog->msg = NULL;
	prog->src = NULL;
	return ok;
}
