/* SORT, UID SORT (RFC 5256; DISPLAYFROM/DISPLAYTO of RFC 5957; ESORT's
 * RETURN (MIN MAX ALL COUNT) of RFC 5267) and THREAD, UID THREAD (RFC 5256
 * ORDEREDSUBJECT, REFERENCES). The search criteria are evaluated as for
 * SEARCH (imap_search_match_msg: full-text index first); the keys come from
 * the sort fields cached in the index (storage/fts.h), so message bodies
 * are read only for messages not yet cached. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-esearch.h"
#include "imap/imap-search.h"
#include "imap/imap-session.h"
#include "imap/imap-sort.h"
#include "imap/imap-thread.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/fts.h"
#include "storage/mail-storage.h"

/* The matching messages: indexes into the view, with their sort fields. */
struct matches {
	size_t *idx;
	struct mail_sort_fields *sf;
	bool *have_sf;
	size_t n;
};

static void matches_free(struct matches *m)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->have_sf[i])
			mail_sort_fields_free(&m->sf[i]);
	}
	free(m->idx);
	free(m->sf);
	free(m->have_sf);
	memset(m, 0, sizeof(*m));
}

/* Skip "UID <name>" as the core may pass it. */
static void skip_uid_prefix(struct imap_command *cmd, const char *name,
			    const struct imap_arg **args, size_t *n_args)
{
	const char *atom;
	*args = cmd->args;
	*n_args = cmd->n_args;
	if (strcmp(cmd->name, "UID") == 0 && *n_args > 0 && imap_arg_get_atom(&(*args)[0], &atom) &&
	    om_str_ieq(atom, name)) {
		(*args)++;
		(*n_args)--;
	}
}

/* Parse "charset criteria...", evaluate over the view and collect the
 * matches (with sort fields when want_fields). false: the tagged reply is
 * set. */
static bool run_search(struct imap_session *s, const char *cmd_name, const struct imap_arg *args,
		       size_t n_args, bool want_fields, struct matches *m_r,
		       struct search_program **keep_prog_r)
{
	const char *charset, *error;
	size_t len;
	struct search_program *prog;

	memset(m_r, 0, sizeof(*m_r));
	if (n_args < 2 || !imap_arg_get_astring(&args[0], &charset, &len)) {
		imap_cmd_bad(s, "Error in IMAP command %s: Missing charset or search criteria", cmd_name);
		return false;
	}
	if (!om_str_ieq(charset, "UTF-8") && !om_str_ieq(charset, "US-ASCII")) {
		imap_cmd_no(s, "[BADCHARSET (UTF-8 US-ASCII)] Unknown charset");
		return false;
	}
	switch (search_program_parse(args + 1, n_args - 1, &prog, &error)) {
	case SEARCH_PARSE_OK:
		break;
	case SEARCH_PARSE_BADCHARSET:
		imap_cmd_no(s, "%s", error);
		return false;
	case SEARCH_PARSE_BAD:
	default:
		imap_cmd_bad(s, "Error in IMAP command %s: %s", cmd_name, error);
		return false;
	}
	if (s->enabled_rev2 && search_program_uses_recent(prog)) {
		/* no \Recent in an IMAP4rev2 session (RFC 9051) */
		imap_cmd_bad(s, "Error in IMAP command %s: NEW, OLD and RECENT are not "
				"IMAP4rev2 search keys", cmd_name);
		search_program_free(prog);
		return false;
	}
	const struct imap_view *v = &s->view;
	uint32_t max_uid = v->count > 0 ? v->msgs[v->count - 1].uid : 0;
	/* an empty mailbox answers an empty result, as Dovecot does */
	if (!search_program_bind(prog, v->keywords, v->n_keywords, (uint32_t)v->count, max_uid,
				 &error) && v->count > 0) {
		imap_cmd_bad(s, "Error in IMAP command %s: %s", cmd_name, error);
		search_program_free(prog);
		return false;
	}
	search_program_bind_saved(prog, s->searchres, s->n_searchres);

	size_t cap = v->count > 0 ? v->count : 1;
	m_r->idx = om_calloc(cap, sizeof(*m_r->idx));
	m_r->sf = om_calloc(cap, sizeof(*m_r->sf));
	m_r->have_sf = om_calloc(cap, sizeof(*m_r->have_sf));
	int err = 0;
	for (size_t i = 0; i < v->count && err == 0; i++) {
		if (imap_search_match_msg(s, prog, i, &err))
			m_r->idx[m_r->n++] = i;
	}
	if (keep_prog_r != NULL && err == 0)
		*keep_prog_r = prog; /* CONTEXT=SORT keeps evaluating it */
	else
		search_program_free(prog);
	for (size_t k = 0; k < m_r->n && err == 0 && want_fields; k++) {
		const struct imap_msg *im = &v->msgs[m_r->idx[k]];
		if (im->expunged)
			continue;
		int r = mail_sort_fields_get(s->box, im->uid, &m_r->sf[k]);
		if (r == 0)
			m_r->have_sf[k] = true;
		else if (r != -OM_ENOTFOUND)
			err = r;
	}
	if (err != 0) {
		log_warn("%s: reading a message of %s failed: %s", cmd_name, mailbox_name(s->box),
			 om_strerror(err));
		imap_cmd_storage_error(s, err, cmd_name);
		matches_free(m_r);
		return false;
	}
	return true;
}

static const char *bufz(const struct buf *b, bool have)
{
	return have && b->data != NULL ? b->data : "";
}

static int64_t sent_date(const struct mail_sort_fields *sf, bool have, const struct imap_msg *im)
{
	return have && sf->has_date ? sf->date : im->internal_date;
}

/* ESORT's ALL: numbers in sort order, runs of consecutive ascending
 * numbers as ranges. */
static void write_sorted_set(struct buf *out, const uint32_t *nums, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && nums[j + 1] == nums[j] + 1)
			j++;
		if (i > 0)
			buf_append_c(out, ',');
		if (j > i)
			buf_printf(out, "%u:%u", nums[i], nums[j]);
		else
			buf_printf(out, "%u", nums[i]);
		i = j + 1;
	}
}

static void write_tag(struct buf *out, const char *tag)
{
	buf_append_str(out, "(TAG \"");
	for (const char *p = tag; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_append_c(out, '\\');
		buf_append_c(out, *p);
	}
	buf_append_str(out, "\")");
}

void cmd_sort(struct imap_session *s, struct imap_command *cmd)
{
	const struct imap_arg *args;
	size_t n_args, used = 0;
	const char *error;
	struct esearch_options opts;
	struct sort_key keys[SORT_MAX_KEYS];
	size_t n_keys;

	skip_uid_prefix(cmd, "SORT", &args, &n_args);
	if (!esearch_parse_return(args, n_args, &opts, &used, &error)) {
		imap_cmd_bad(s, "Error in IMAP command SORT: %s", error);
		return;
	}
	if ((opts.ret & ~(unsigned)(ESEARCH_MIN | ESEARCH_MAX | ESEARCH_ALL | ESEARCH_COUNT |
				    ESEARCH_UPDATE | ESEARCH_CONTEXT)) != 0) {
		imap_cmd_bad(s, "Error in IMAP command SORT: Unsupported RETURN option for SORT");
		return;
	}
	bool update = (opts.ret & ESEARCH_UPDATE) != 0;
	if (update && imap_search_context_exists(s, cmd->tag)) {
		imap_cmd_bad(s, "Error in IMAP command SORT: Tag already names a search context");
		return;
	}
	if (opts.esearch && opts.ret == 0)
		opts.ret = ESEARCH_ALL; /* RFC 4731 3.1: RETURN () means ALL */
	args += used;
	n_args -= used;
	if (n_args < 1 || !sort_parse_keys(&args[0], keys, &n_keys, &error)) {
		imap_cmd_bad(s, "Error in IMAP command SORT: %s",
			     n_args < 1 ? "Missing sort criteria" : error);
		return;
	}
	struct matches m;
	struct search_program *prog = NULL;
	if (!run_search(s, "SORT", args + 1, n_args - 1, sort_keys_need_headers(keys, n_keys), &m,
			update ? &prog : NULL))
		return;

	const struct imap_view *v = &s->view;
	struct sort_item *items = om_calloc(m.n > 0 ? m.n : 1, sizeof(*items));
	for (size_t k = 0; k < m.n; k++) {
		const struct imap_msg *im = &v->msgs[m.idx[k]];
		const struct mail_sort_fields *sf = &m.sf[k];
		bool h = m.have_sf[k];
		items[k] = (struct sort_item){
			.seq = (uint32_t)(m.idx[k] + 1),
			.uid = im->uid,
			.size = im->size,
			.arrival = im->internal_date,
			.date = sent_date(sf, h, im),
			.cc = bufz(&sf->cc, h),
			.from = bufz(&sf->from, h),
			.to = bufz(&sf->to, h),
			.dfrom = bufz(&sf->dfrom, h),
			.dto = bufz(&sf->dto, h),
			.subject = bufz(&sf->subject, h),
		};
	}
	sort_items(items, m.n, keys, n_keys);
	uint32_t *nums = om_calloc(m.n > 0 ? m.n : 1, sizeof(*nums));
	for (size_t k = 0; k < m.n; k++)
		nums[k] = s->cmd_uid ? items[k].uid : items[k].seq;

	struct buf line = BUF_INIT;
	if (opts.esearch) {
		buf_append_str(&line, "* ESEARCH ");
		write_tag(&line, cmd->tag != NULL ? cmd->tag : "");
		if (s->cmd_uid)
			buf_append_str(&line, " UID");
		if ((opts.ret & ESEARCH_MIN) != 0 && m.n > 0)
			buf_printf(&line, " MIN %u", nums[0]);
		if ((opts.ret & ESEARCH_MAX) != 0 && m.n > 0)
			buf_printf(&line, " MAX %u", nums[m.n - 1]);
		if ((opts.ret & ESEARCH_ALL) != 0 && m.n > 0) {
			buf_append_str(&line, " ALL ");
			write_sorted_set(&line, nums, m.n);
		}
		if ((opts.ret & ESEARCH_COUNT) != 0)
			buf_printf(&line, " COUNT %zu", m.n);
	} else {
		buf_append_str(&line, "* SORT");
		for (size_t k = 0; k < m.n; k++)
			buf_printf(&line, " %u", nums[k]);
	}
	buf_append(&line, "\r\n", 2);
	imap_send_buf(s, &line);
	buf_free(&line);
	if (update) {
		/* CONTEXT=SORT (RFC 5267): kept current by imap-esearch.c */
		for (size_t k = 0; k < m.n; k++)
			nums[k] = items[k].uid;
		(void)imap_sort_context_add(s, prog, keys, n_keys, nums, m.n);
	}
	free(nums);
	free(items);
	matches_free(&m);
	imap_cmd_ok(s, "%sSORT completed", s->cmd_uid ? "UID " : "");
}

void cmd_thread(struct imap_session *s, struct imap_command *cmd)
{
	const struct imap_arg *args;
	size_t n_args;
	const char *algo_name;
	enum thread_algo algo;

	skip_uid_prefix(cmd, "THREAD", &args, &n_args);
	if (n_args < 1 || !imap_arg_get_atom(&args[0], &algo_name)) {
		imap_cmd_bad(s, "Error in IMAP command THREAD: Missing threading algorithm");
		return;
	}
	if (!thread_parse_algo(algo_name, &algo)) {
		imap_cmd_bad(s, "Error in IMAP command THREAD: Unknown thread algorithm");
		return;
	}
	struct matches m;
	if (!run_search(s, "THREAD", args + 1, n_args - 1, true, &m, NULL))
		return;

	const struct imap_view *v = &s->view;
	struct thread_msg *tm = om_calloc(m.n > 0 ? m.n : 1, sizeof(*tm));
	for (size_t k = 0; k < m.n; k++) {
		const struct imap_msg *im = &v->msgs[m.idx[k]];
		const struct mail_sort_fields *sf = &m.sf[k];
		bool h = m.have_sf[k];
		tm[k] = (struct thread_msg){
			.seq = (uint32_t)(m.idx[k] + 1),
			.uid = im->uid,
			.date = sent_date(sf, h, im),
			.message_id = h ? buf_cstr(&m.sf[k].message_id) : NULL,
			.references = h ? buf_cstr(&m.sf[k].references) : NULL,
			.in_reply_to = h ? buf_cstr(&m.sf[k].in_reply_to) : NULL,
			.subject = bufz(&sf->subject, h),
			.subject_reply = h && sf->subject_reply,
		};
	}
	struct buf line = BUF_INIT;
	buf_append_str(&line, "* THREAD");
	if (m.n > 0)
		buf_append_c(&line, ' ');
	thread_write(tm, m.n, algo, s->cmd_uid, &line);
	buf_append(&line, "\r\n", 2);
	imap_send_buf(s, &line);
	buf_free(&line);
	free(tm);
	matches_free(&m);
	imap_cmd_ok(s, "%sTHREAD completed", s->cmd_uid ? "UID " : "");
}
