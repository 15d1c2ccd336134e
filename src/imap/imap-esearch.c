/* ESEARCH responses, RETURN options and search contexts: see imap-esearch.h.
 *
 * A context keeps its result as UIDs. After each sync of the view, the
 * messages that changed since the context last looked (modseq above its
 * mark, or a UID above its highest) are evaluated again, and the
 * differences go out as one "* ESEARCH (TAG ..) REMOVEFROM (0 ..) ADDTO
 * (0 ..)" line, as Dovecot does (position 0: a SEARCH has no order). */
#include "imap/imap-esearch.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap-condstore.h"
#include "lib/log.h"
#include "lib/om-error.h"

bool esearch_parse_return(const struct imap_arg *args, size_t n_args,
			  struct esearch_options *opts, size_t *used_r, const char **error_r)
{
	const char *a;
	memset(opts, 0, sizeof(*opts));
	*used_r = 0;
	if (n_args == 0 || !imap_arg_get_atom(&args[0], &a) || !om_str_ieq(a, "RETURN"))
		return true;
	if (n_args < 2 || args[1].type != IMAP_ARG_LIST) {
		*error_r = "RETURN needs a list of options";
		return false;
	}
	opts->esearch = true;
	*used_r = 2;
	const struct imap_arg *l = args[1].list;
	for (size_t i = 0; i < args[1].list_count; i++) {
		if (!imap_arg_get_atom(&l[i], &a)) {
			*error_r = "Invalid RETURN option";
			return false;
		}
		if (om_str_ieq(a, "MIN")) {
			opts->ret |= ESEARCH_MIN;
		} else if (om_str_ieq(a, "MAX")) {
			opts->ret |= ESEARCH_MAX;
		} else if (om_str_ieq(a, "ALL")) {
			opts->ret |= ESEARCH_ALL;
		} else if (om_str_ieq(a, "COUNT")) {
			opts->ret |= ESEARCH_COUNT;
		} else if (om_str_ieq(a, "SAVE")) {
			opts->ret |= ESEARCH_SAVE;
		} else if (om_str_ieq(a, "UPDATE")) {
			opts->ret |= ESEARCH_UPDATE;
		} else if (om_str_ieq(a, "CONTEXT")) {
			opts->ret |= ESEARCH_CONTEXT; /* a hint only */
		} else if (om_str_ieq(a, "PARTIAL") && (opts->ret & ESEARCH_PARTIAL) == 0) {
			/* PARTIAL lo:hi, both positive or both negative */
			const char *r, *colon;
			long long lo, hi;
			char *end;
			if (i + 1 >= args[1].list_count || !imap_arg_get_atom(&l[i + 1], &r) ||
			    (colon = strchr(r, ':')) == NULL) {
				*error_r = "Invalid PARTIAL range";
				return false;
			}
			lo = strtoll(r, &end, 10);
			bool ok = end == colon && r[0] != '+';
			hi = strtoll(colon + 1, &end, 10);
			ok = ok && *end == '\0' && colon[1] != '+' && colon[1] != '\0';
			ok = ok && lo != 0 && hi != 0 && (lo > 0) == (hi > 0) &&
				lo >= -(long long)UINT32_MAX && hi >= -(long long)UINT32_MAX &&
				lo <= (long long)UINT32_MAX && hi <= (long long)UINT32_MAX;
			if (!ok) {
				*error_r = "Invalid PARTIAL range";
				return false;
			}
			if ((lo > 0 && lo > hi) || (lo < 0 && lo < hi)) {
				long long t = lo;
				lo = hi;
				hi = t;
			}
			opts->partial_lo = lo;
			opts->partial_hi = hi;
			opts->ret |= ESEARCH_PARTIAL;
			i++;
		} else {
			*error_r = "Unknown RETURN option";
			return false;
		}
	}
	/* RFC 4731 3.1: RETURN () means ALL (UPDATE alone does not: the
	 * client gets an empty ESEARCH and then the changes, as Dovecot) */
	if ((opts->ret & ~(unsigned)ESEARCH_CONTEXT) == 0)
		opts->ret |= ESEARCH_ALL;
	return true;
}

static void write_tag(struct buf *out, const char *tag)
{
	buf_append_str(out, "(TAG ");
	imap_write_string(out, tag, strlen(tag));
	buf_append_c(out, ')');
}

/* Numbers as the client knows them: UIDs or sequence numbers (sorted
 * either way, as the view is in UID order). */
static uint32_t *client_numbers(const struct imap_session *s, bool uid, const uint32_t *uids,
				size_t n, size_t *n_r)
{
	uint32_t *out = om_calloc(n > 0 ? n : 1, sizeof(*out));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (uid) {
			out[k++] = uids[i];
		} else {
			long idx = imap_view_find_uid(s, uids[i]);
			if (idx >= 0)
				out[k++] = (uint32_t)idx + 1;
		}
	}
	*n_r = k;
	return out;
}

void esearch_send(struct imap_session *s, const struct esearch_options *opts,
		  const uint32_t *uids, const uint64_t *modseqs, size_t n, bool with_modseq)
{
	unsigned ret = opts->ret;
	if ((ret & (ESEARCH_MIN | ESEARCH_MAX | ESEARCH_ALL | ESEARCH_COUNT | ESEARCH_PARTIAL |
		    ESEARCH_UPDATE)) == 0)
		return; /* RFC 5182 2.1: SAVE alone answers nothing */
	size_t nn;
	uint32_t *nums = client_numbers(s, s->cmd_uid, uids, n, &nn);
	struct buf line = BUF_INIT;
	buf_append_str(&line, "* ESEARCH ");
	write_tag(&line, s->cmd != NULL && s->cmd->tag != NULL ? s->cmd->tag : "");
	if (s->cmd_uid)
		buf_append_str(&line, " UID");
	if ((ret & ESEARCH_MIN) != 0 && nn > 0)
		buf_printf(&line, " MIN %u", nums[0]);
	if ((ret & ESEARCH_MAX) != 0 && nn > 0)
		buf_printf(&line, " MAX %u", nums[nn - 1]);
	if ((ret & ESEARCH_ALL) != 0 && nn > 0) {
		buf_append_str(&line, " ALL ");
		imap_write_num_set(&line, nums, nn);
	}
	if ((ret & ESEARCH_PARTIAL) != 0) {
		/* positions lo..hi of the result, 1-based; negative ones count
		 * from the end (RFC 5267 4.4) */
		long long lo = opts->partial_lo, hi = opts->partial_hi;
		long long first, last;
		if (lo > 0) {
			first = lo;
			last = hi;
		} else {
			first = (long long)nn + hi + 1;
			last = (long long)nn + lo + 1;
		}
		if (first < 1)
			first = 1;
		if (last > (long long)nn)
			last = (long long)nn;
		buf_printf(&line, " PARTIAL (%lld:%lld ", (long long)opts->partial_lo,
			   (long long)opts->partial_hi);
		if (first <= last)
			imap_write_num_set(&line, nums + first - 1, (size_t)(last - first + 1));
		else
			buf_append_str(&line, "NIL");
		buf_append_c(&line, ')');
	}
	if ((ret & ESEARCH_COUNT) != 0)
		buf_printf(&line, " COUNT %zu", nn);
	if (with_modseq && n > 0) {
		/* RFC 4731 3.2: with MIN/MAX only, the modseq of those */
		uint64_t best = 0;
		bool all = (ret & (ESEARCH_ALL | ESEARCH_COUNT | ESEARCH_PARTIAL)) != 0;
		for (size_t i = 0; i < n; i++) {
			bool pick = all || ((ret & ESEARCH_MIN) != 0 && i == 0) ||
				((ret & ESEARCH_MAX) != 0 && i == n - 1);
			if (pick && modseqs[i] > best)
				best = modseqs[i];
		}
		buf_printf(&line, " MODSEQ %llu", (unsigned long long)best);
	}
	buf_append(&line, "\r\n", 2);
	imap_send_buf(s, &line);
	buf_free(&line);
	free(nums);
}

/* --- contexts --- */

bool imap_search_context_exists(const struct imap_session *s, const char *tag)
{
	for (size_t i = 0; i < s->n_search_contexts; i++)
		if (strcmp(s->search_contexts[i].tag, tag) == 0)
			return true;
	return false;
}

static void context_clear(struct imap_search_context *c)
{
	free(c->tag);
	search_program_free(c->prog);
	free(c->uids);
	memset(c, 0, sizeof(*c));
}

static struct imap_search_context *context_new(struct imap_session *s,
					       struct search_program *prog, const uint32_t *uids,
					       size_t n);

bool imap_search_context_add(struct imap_session *s, struct search_program *prog,
			     const uint32_t *uids, size_t n)
{
	return context_new(s, prog, uids, n) != NULL;
}

bool imap_sort_context_add(struct imap_session *s, struct search_program *prog,
			   const struct sort_key *keys, size_t n_keys, const uint32_t *uids,
			   size_t n)
{
	struct imap_search_context *c = context_new(s, prog, uids, n);
	if (c == NULL)
		return false;
	c->sorted = true;
	om_assert(n_keys <= SORT_MAX_KEYS);
	memcpy(c->keys, keys, n_keys * sizeof(*keys));
	c->n_keys = n_keys;
	return true;
}

static struct imap_search_context *context_new(struct imap_session *s,
					       struct search_program *prog, const uint32_t *uids,
					       size_t n)
{
	const char *tag = s->cmd != NULL && s->cmd->tag != NULL ? s->cmd->tag : "";
	if (s->n_search_contexts >= IMAP_MAX_SEARCH_CONTEXTS) {
		struct buf line = BUF_INIT;
		buf_append_str(&line, "* NO [NOUPDATE ");
		imap_write_string(&line, tag, strlen(tag));
		buf_append_str(&line, "] Too many search contexts\r\n");
		imap_send_buf(s, &line);
		buf_free(&line);
		search_program_free(prog);
		return NULL;
	}
	s->search_contexts = om_reallocarray(s->search_contexts, s->n_search_contexts + 1,
					     sizeof(*s->search_contexts));
	struct imap_search_context *c = &s->search_contexts[s->n_search_contexts++];
	memset(c, 0, sizeof(*c));
	c->tag = om_strdup(tag);
	c->uid = s->cmd_uid;
	c->prog = prog;
	c->alloc = n > 0 ? n : 4;
	c->uids = om_reallocarray(NULL, c->alloc, sizeof(*c->uids));
	if (n > 0)
		memcpy(c->uids, uids, n * sizeof(*uids));
	c->n = n;
	c->seen_modseq = s->view.highest_modseq;
	c->seen_uid = s->view.count > 0 ? s->view.msgs[s->view.count - 1].uid : 0;
	for (size_t i = 0; i < s->view.count; i++)
		if (s->view.msgs[i].modseq > c->seen_modseq)
			c->seen_modseq = s->view.msgs[i].modseq;
	return c;
}

void cmd_cancelupdate(struct imap_session *s, struct imap_command *cmd)
{
	const char *tag;
	size_t len;
	if (cmd->n_args == 0) {
		imap_cmd_bad(s, "CANCELUPDATE needs tags.");
		return;
	}
	for (size_t i = 0; i < cmd->n_args; i++) {
		if (!imap_arg_get_string(&cmd->args[i], &tag, &len)) {
			imap_cmd_bad(s, "CANCELUPDATE needs quoted tags.");
			return;
		}
		if (!imap_search_context_exists(s, tag)) {
			imap_cmd_no(s, "Unknown tag.");
			return;
		}
	}
	for (size_t i = 0; i < cmd->n_args; i++) {
		(void)imap_arg_get_string(&cmd->args[i], &tag, &len);
		for (size_t j = 0; j < s->n_search_contexts; j++) {
			if (strcmp(s->search_contexts[j].tag, tag) != 0)
				continue;
			context_clear(&s->search_contexts[j]);
			s->search_contexts[j] = s->search_contexts[--s->n_search_contexts];
			break;
		}
	}
	imap_cmd_ok(s, "Updates cancelled.");
}

void imap_search_contexts_free(struct imap_session *s)
{
	for (size_t i = 0; i < s->n_search_contexts; i++)
		context_clear(&s->search_contexts[i]);
	free(s->search_contexts);
	s->search_contexts = NULL;
	s->n_search_contexts = 0;
	free(s->searchres);
	s->searchres = NULL;
	s->n_searchres = 0;
}

static void send_update(struct imap_session *s, const struct imap_search_context *c,
			const uint32_t *removed, size_t n_removed, const uint32_t *added,
			size_t n_added)
{
	if (n_removed == 0 && n_added == 0)
		return;
	struct buf line = BUF_INIT;
	buf_append_str(&line, "* ESEARCH ");
	write_tag(&line, c->tag);
	if (c->uid)
		buf_append_str(&line, " UID");
	size_t nn;
	uint32_t *nums;
	bool any = false;
	if (n_removed > 0) {
		nums = client_numbers(s, c->uid, removed, n_removed, &nn);
		if (nn > 0) {
			any = true;
			buf_append_str(&line, " REMOVEFROM (0 ");
			imap_write_num_set(&line, nums, nn);
			buf_append_c(&line, ')');
		}
		free(nums);
	}
	if (n_added > 0) {
		nums = client_numbers(s, c->uid, added, n_added, &nn);
		if (nn > 0) {
			any = true;
			buf_append_str(&line, " ADDTO (0 ");
			imap_write_num_set(&line, nums, nn);
			buf_append_c(&line, ')');
		}
		free(nums);
	}
	buf_append(&line, "\r\n", 2);
	if (any)
		imap_send_buf(s, &line);
	buf_free(&line);
}

/* Index of uid in a sorted context's result, or -1. */
static long sorted_find(const struct imap_search_context *c, uint32_t uid)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->uids[i] == uid)
			return (long)i;
	return -1;
}

/* Remove uid from c's result; true if it was there. */
static bool result_remove(struct imap_search_context *c, uint32_t uid)
{
	if (c->sorted) {
		long i = sorted_find(c, uid);
		if (i < 0)
			return false;
		memmove(&c->uids[i], &c->uids[i + 1], (c->n - (size_t)i - 1) * sizeof(*c->uids));
		c->n--;
		return true;
	}
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= c->n || c->uids[lo] != uid)
		return false;
	memmove(&c->uids[lo], &c->uids[lo + 1], (c->n - lo - 1) * sizeof(*c->uids));
	c->n--;
	return true;
}

static bool result_has(const struct imap_search_context *c, uint32_t uid)
{
	if (c->sorted)
		return sorted_find(c, uid) >= 0;
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->uids[mid] == uid)
			return true;
		if (c->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static void result_insert(struct imap_search_context *c, uint32_t uid)
{
	size_t lo = c->sorted ? c->n : 0, hi = c->n;
	/* sorted contexts append here and are ordered afterwards */
	while (!c->sorted && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (c->n == c->alloc) {
		if (__builtin_mul_overflow(c->alloc, 2, &c->alloc))
			fatal("search context overflow");
		c->uids = om_reallocarray(c->uids, c->alloc, sizeof(*c->uids));
	}
	memmove(&c->uids[lo + 1], &c->uids[lo], (c->n - lo) * sizeof(*c->uids));
	c->uids[lo] = uid;
	c->n++;
}

/* --- sorted contexts: updates name positions --- */

struct pos_uid {
	uint32_t pos, uid;
};

static int cmp_pos_desc(const void *a, const void *b)
{
	const struct pos_uid *x = a, *y = b;
	return x->pos < y->pos ? 1 : x->pos > y->pos ? -1 : 0;
}

static int cmp_pos_asc(const void *a, const void *b)
{
	return -cmp_pos_desc(a, b);
}

static void write_pairs(const struct imap_session *s, const struct imap_search_context *c,
			const char *name, const struct pos_uid *p, size_t n, struct buf *line)
{
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		uint32_t num = p[i].uid;
		if (!c->uid) {
			long idx = imap_view_find_uid(s, p[i].uid);
			if (idx < 0)
				continue;
			num = (uint32_t)idx + 1;
		}
		buf_printf(line, "%s%u %u", first ? name : " ", p[i].pos, num);
		first = false;
	}
	if (!first)
		buf_append_c(line, ')');
}

/* Take removed[] out of sorted context c and put added[] in, telling the
 * client: REMOVEFROM with positions from the highest down (each still
 * right when the client applies them in order), ADDTO with the final
 * positions from the lowest up. */
static void sorted_apply(struct imap_session *s, struct imap_search_context *c,
			 const uint32_t *removed, size_t n_removed, const uint32_t *added,
			 size_t n_added)
{
	struct pos_uid *rm = om_calloc(n_removed > 0 ? n_removed : 1, sizeof(*rm));
	struct pos_uid *ad = om_calloc(n_added > 0 ? n_added : 1, sizeof(*ad));
	size_t k = 0;
	for (size_t i = 0; i < n_removed; i++) {
		long at = sorted_find(c, removed[i]);
		if (at >= 0)
			rm[k++] = (struct pos_uid){ (uint32_t)at + 1, removed[i] };
	}
	n_removed = k;
	qsort(rm, n_removed, sizeof(*rm), cmp_pos_desc);
	for (size_t i = 0; i < n_removed; i++)
		(void)result_remove(c, rm[i].uid);
	for (size_t i = 0; i < n_added; i++)
		result_insert(c, added[i]);
	if (n_added > 0) {
		int err = imap_sort_uids(s, c->keys, c->n_keys, c->uids, c->n);
		if (err < 0)
			log_warn("sort context %s: reading sort fields failed: %s", c->tag,
				 om_strerror(-err));
	}
	for (size_t i = 0; i < n_added; i++)
		ad[i] = (struct pos_uid){ (uint32_t)sorted_find(c, added[i]) + 1, added[i] };
	qsort(ad, n_added, sizeof(*ad), cmp_pos_asc);

	if (n_removed > 0 || n_added > 0) {
		struct buf line = BUF_INIT;
		buf_append_str(&line, "* ESEARCH ");
		write_tag(&line, c->tag);
		if (c->uid)
			buf_append_str(&line, " UID");
		size_t before = line.len;
		write_pairs(s, c, " REMOVEFROM (", rm, n_removed, &line);
		write_pairs(s, c, " ADDTO (", ad, n_added, &line);
		buf_append(&line, "\r\n", 2);
		if (line.len > before + 2)
			imap_send_buf(s, &line);
		buf_free(&line);
	}
	free(rm);
	free(ad);
}

void imap_search_contexts_removed(struct imap_session *s, const uint32_t *expunged_uids, size_t n)
{
	uint32_t *removed = om_calloc(n > 0 ? n : 1, sizeof(*removed));
	for (size_t i = 0; i < s->n_search_contexts; i++) {
		struct imap_search_context *c = &s->search_contexts[i];
		size_t k = 0;
		for (size_t j = 0; j < n; j++)
			if (result_has(c, expunged_uids[j]))
				removed[k++] = expunged_uids[j];
		if (c->sorted) {
			sorted_apply(s, c, removed, k, NULL, 0);
			continue;
		}
		/* numbers first (the view still holds them), then forget */
		send_update(s, c, removed, k, NULL, 0);
		for (size_t j = 0; j < k; j++)
			(void)result_remove(c, removed[j]);
	}
	free(removed);
}

void imap_search_contexts_update(struct imap_session *s)
{
	const struct imap_view *v = &s->view;
	uint32_t max_uid = v->count > 0 ? v->msgs[v->count - 1].uid : 0;
	uint64_t max_modseq = v->highest_modseq;
	for (size_t i = 0; i < v->count; i++)
		if (v->msgs[i].modseq > max_modseq)
			max_modseq = v->msgs[i].modseq;

	for (size_t ci = 0; ci < s->n_search_contexts; ci++) {
		struct imap_search_context *c = &s->search_contexts[ci];
		const char *error;
		if (!search_program_bind(c->prog, v->keywords, v->n_keywords, (uint32_t)v->count,
					 max_uid, &error))
			continue; /* its sequence numbers no longer exist; keep it as is */
		uint32_t *added = NULL, *removed = NULL;
		size_t n_added = 0, n_removed = 0;
		for (size_t i = 0; i < v->count; i++) {
			const struct imap_msg *m = &v->msgs[i];
			if (m->expunged || (m->modseq <= c->seen_modseq && m->uid <= c->seen_uid))
				continue;
			int err = 0;
			bool match = imap_search_match_msg(s, c->prog, i, &err);
			if (err != 0) {
				log_warn("search context %s: reading UID %u failed: %s", c->tag,
					 m->uid, om_strerror(err));
				continue;
			}
			bool had = result_has(c, m->uid);
			if (match == had)
				continue;
			uint32_t **list = match ? &added : &removed;
			size_t *cnt = match ? &n_added : &n_removed;
			*list = om_reallocarray(*list, *cnt + 1, sizeof(**list));
			(*list)[(*cnt)++] = m->uid;
		}
		if (c->sorted) {
			sorted_apply(s, c, removed, n_removed, added, n_added);
			goto next;
		}
		/* view order is UID order, so both lists are sorted */
		for (size_t j = 0; j < n_removed; j++)
			(void)result_remove(c, removed[j]);
		for (size_t j = 0; j < n_added; j++)
			result_insert(c, added[j]);
		send_update(s, c, removed, n_removed, added, n_added);
	next:
		free(added);
		free(removed);
		c->seen_modseq = max_modseq;
		c->seen_uid = max_uid;
	}
}
