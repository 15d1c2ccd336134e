/* The session's view of the selected mailbox and its sync with storage.
 *
 * Message sequence numbers are the view's indexes + 1 and change only where
 * this file sends EXPUNGE (removal) or EXISTS (append at the end), so the
 * client's idea of them always matches ours (RFC 3501 5.2, 7.4.1). */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-condstore.h"
#include "imap/imap-session-private.h"
#include "lib/log.h"
#include "lib/om-error.h"

static void view_set_keywords(struct imap_view *v, char *const *names, size_t n)
{
	for (size_t i = 0; i < v->n_keywords; i++)
		free(v->keywords[i]);
	free(v->keywords);
	v->keywords = NULL;
	v->n_keywords = 0;
	if (n == 0)
		return;
	v->keywords = om_reallocarray(NULL, n, sizeof(*v->keywords));
	for (size_t i = 0; i < n; i++)
		v->keywords[i] = om_strdup(names[i]);
	v->n_keywords = n;
}

/* Did the mailbox's keyword list change from what the client was told? */
static bool view_keywords_differ(const struct imap_view *v, char *const *names, size_t n)
{
	if (n != v->n_keywords)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v->keywords[i], names[i]) != 0)
			return true;
	}
	return false;
}

static void view_reserve(struct imap_view *v, size_t extra)
{
	size_t need;

	if (__builtin_add_overflow(v->count, extra, &need))
		fatal("view size overflow");
	if (need <= v->alloc)
		return;
	size_t alloc = v->alloc < 64 ? 64 : v->alloc;
	while (alloc < need) {
		if (__builtin_mul_overflow(alloc, 2, &alloc))
			fatal("view size overflow");
	}
	v->msgs = om_reallocarray(v->msgs, alloc, sizeof(*v->msgs));
	v->alloc = alloc;
}

static bool is_claimed_recent(const struct mailbox_snapshot *snap, uint32_t uid)
{
	return uid >= snap->recent_lo && uid < snap->recent_hi;
}

static void msg_from_rec(struct imap_msg *m, const struct mail_rec *rec)
{
	memset(m, 0, sizeof(*m));
	m->uid = rec->uid;
	m->flags = rec->flags & MAIL_FLAGS_STORED;
	m->keywords = rec->keywords;
	m->modseq = rec->modseq;
	m->size = rec->size;
	m->internal_date = rec->internal_date;
	m->internal_tz = rec->internal_tz;
}

void imap_view_init(struct imap_session *s, const struct mailbox_snapshot *snap)
{
	struct imap_view *v = &s->view;

	imap_view_free(v);
	view_reserve(v, snap->count);
	for (size_t i = 0; i < snap->count; i++) {
		struct imap_msg *m = &v->msgs[v->count++];
		msg_from_rec(m, &snap->recs[i]);
		if (is_claimed_recent(snap, m->uid))
			m->flags |= MAIL_RECENT;
	}
	v->uidvalidity = snap->uidvalidity;
	v->uidnext = snap->uidnext;
	v->highest_modseq = snap->highest_modseq;
	view_set_keywords(v, snap->keywords, snap->n_keywords);
}

void imap_view_free(struct imap_view *v)
{
	view_set_keywords(v, NULL, 0);
	free(v->msgs);
	memset(v, 0, sizeof(*v));
}

uint32_t imap_view_recent_count(const struct imap_view *v)
{
	uint32_t n = 0;
	for (size_t i = 0; i < v->count; i++) {
		if ((v->msgs[i].flags & MAIL_RECENT) != 0 && !v->msgs[i].expunged)
			n++;
	}
	return n;
}

static void write_flag_names(const struct imap_view *v, struct buf *out)
{
	buf_append_str(out, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < v->n_keywords; i++) {
		buf_append_c(out, ' ');
		buf_append_str(out, v->keywords[i]);
	}
}

void imap_view_send_flags(struct imap_session *s)
{
	struct buf line = BUF_INIT;

	buf_append_str(&line, "FLAGS (");
	write_flag_names(&s->view, &line);
	buf_append_c(&line, ')');
	imap_send(s, "%s", buf_cstr(&line));

	buf_reset(&line);
	if (s->readonly) {
		imap_send(s, "OK [PERMANENTFLAGS ()] Read-only mailbox.");
	} else {
		buf_append_str(&line, "OK [PERMANENTFLAGS (");
		write_flag_names(&s->view, &line);
		/* \* only while new keywords can still be made */
		if (s->view.n_keywords < MAIL_MAX_KEYWORDS)
			buf_append_str(&line, " \\*");
		buf_append_str(&line, ")] Flags permitted.");
		imap_send(s, "%s", buf_cstr(&line));
	}
	buf_free(&line);
}

long imap_view_find_uid(const struct imap_session *s, uint32_t uid)
{
	size_t lo = 0, hi = s->view.count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t u = s->view.msgs[mid].uid;
		if (u == uid)
			return (long)mid;
		if (u < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* First index whose uid >= uid. */
static size_t lower_bound(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct idx_range {
	size_t lo, hi; /* inclusive */
};

static int cmp_idx_range(const void *a, const void *b)
{
	const struct idx_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

int imap_view_resolve(const struct imap_session *s, const char *set, bool uid,
		      uint32_t **idx_r, size_t *n_r)
{
	const struct imap_view *v = &s->view;
	struct seq_range *ranges = NULL;
	struct idx_range *ir;
	size_t n_ranges = 0, n_ir = 0, total = 0;
	uint32_t *out;

	*idx_r = NULL;
	*n_r = 0;
	if (strcmp(set, "$") == 0) {
		/* SEARCHRES (RFC 5182): the saved UIDs still in the view; an
		 * empty result is no error */
		out = om_reallocarray(NULL, s->n_searchres > 0 ? s->n_searchres : 1, sizeof(*out));
		for (size_t i = 0; i < s->n_searchres; i++) {
			long idx = imap_view_find_uid(s, s->searchres[i]);
			if (idx >= 0)
				out[total++] = (uint32_t)idx;
		}
		*idx_r = out;
		*n_r = total;
		return 0;
	}
	if (!imap_seqset_parse(set, &ranges, &n_ranges))
		return -OM_EINVAL;
	if (!uid && v->count == 0) {
		/* every message number is invalid in an empty mailbox */
		free(ranges);
		return -OM_EINVAL;
	}
	ir = om_reallocarray(NULL, n_ranges, sizeof(*ir));
	uint32_t max_uid = v->count > 0 ? v->msgs[v->count - 1].uid : 0;
	for (size_t i = 0; i < n_ranges; i++) {
		uint32_t lo = ranges[i].lo, hi = ranges[i].hi;
		if (uid) {
			if (v->count == 0)
				break;
			/* '*' is the highest UID in use, so "n:*" with n past
			 * it still names the last message (RFC 3501 6.4.8) */
			if (lo == UINT32_MAX)
				lo = max_uid;
			if (hi == UINT32_MAX)
				hi = max_uid;
			if (lo > hi) {
				uint32_t t = lo;
				lo = hi;
				hi = t;
			}
			size_t a = lower_bound(v, lo);
			size_t b = lower_bound(v, hi);
			/* b: first uid >= hi; include it only if it is hi */
			if (b == v->count || v->msgs[b].uid != hi) {
				if (b == 0)
					continue;
				b--;
			}
			if (a > b || a >= v->count)
				continue;
			ir[n_ir].lo = a;
			ir[n_ir].hi = b;
			n_ir++;
		} else {
			if (lo == UINT32_MAX)
				lo = (uint32_t)v->count;
			if (hi == UINT32_MAX)
				hi = (uint32_t)v->count;
			if (lo > hi) {
				uint32_t t = lo;
				lo = hi;
				hi = t;
			}
			if (lo == 0 || hi > v->count) {
				free(ranges);
				free(ir);
				return -OM_EINVAL;
			}
			ir[n_ir].lo = lo - 1;
			ir[n_ir].hi = hi - 1;
			n_ir++;
		}
	}
	free(ranges);

	qsort(ir, n_ir, sizeof(*ir), cmp_idx_range);
	size_t merged = 0;
	for (size_t i = 0; i < n_ir; i++) {
		if (merged > 0 && ir[i].lo <= ir[merged - 1].hi + 1) {
			if (ir[i].hi > ir[merged - 1].hi)
				ir[merged - 1].hi = ir[i].hi;
		} else {
			ir[merged++] = ir[i];
		}
	}
	for (size_t i = 0; i < merged; i++)
		total += ir[i].hi - ir[i].lo + 1;
	out = om_reallocarray(NULL, total, sizeof(*out));
	size_t k = 0;
	for (size_t i = 0; i < merged; i++) {
		for (size_t j = ir[i].lo; j <= ir[i].hi; j++)
			out[k++] = (uint32_t)j;
	}
	free(ir);
	*idx_r = out;
	*n_r = total;
	return 0;
}

void imap_view_write_flags(const struct imap_session *s, size_t idx, struct buf *out)
{
	const struct imap_view *v = &s->view;
	const struct imap_msg *m = &v->msgs[idx];
	size_t start;

	buf_append_c(out, '(');
	start = out->len;
	/* IMAP4rev2 has no \Recent (RFC 9051) */
	imap_write_system_flags(out, s->enabled_rev2 ? m->flags & ~(uint32_t)MAIL_RECENT : m->flags);
	for (size_t i = 0; i < v->n_keywords && i < 64; i++) {
		if ((m->keywords & ((uint64_t)1 << i)) == 0)
			continue;
		if (out->len > start)
			buf_append_c(out, ' ');
		buf_append_str(out, v->keywords[i]);
	}
	buf_append_c(out, ')');
}

/* Learn the mailbox's keyword names again when a message uses a bit the view
 * has no name for; tell the client about new ones. */
static void refresh_keywords(struct imap_session *s)
{
	char **names = NULL;
	size_t n = 0;

	if (s->box == NULL || mailbox_keywords(s->box, &names, &n) < 0)
		return;
	if (view_keywords_differ(&s->view, names, n)) {
		view_set_keywords(&s->view, names, n);
		imap_view_send_flags(s);
	}
	mail_names_free(names, n);
}

void imap_view_apply_recs(struct imap_session *s, const struct mail_rec *recs, size_t n)
{
	struct imap_view *v = &s->view;
	uint64_t known = v->n_keywords >= 64 ? UINT64_MAX
					     : (((uint64_t)1 << v->n_keywords) - 1);

	for (size_t i = 0; i < n; i++) {
		if ((recs[i].keywords & ~known) != 0) {
			refresh_keywords(s);
			break;
		}
	}
	for (size_t i = 0; i < n; i++) {
		long idx = imap_view_find_uid(s, recs[i].uid);
		if (idx < 0)
			continue;
		struct imap_msg *m = &v->msgs[idx];
		if (m->expunged)
			continue;
		m->flags = (recs[i].flags & MAIL_FLAGS_STORED) | (m->flags & MAIL_RECENT);
		m->keywords = recs[i].keywords;
		m->modseq = recs[i].modseq;
		if (m->modseq > v->highest_modseq)
			v->highest_modseq = m->modseq;
	}
}

void imap_view_update(struct imap_session *s, const struct mailbox_snapshot *snap,
		      bool allow_expunge)
{
	struct imap_view *v = &s->view;
	uint32_t old_recent = imap_view_recent_count(v);
	size_t old_count, j;
	bool *changed = NULL;

	if (snap->uidvalidity != v->uidvalidity) {
		/* our UIDs mean nothing any more; a client can only start over */
		log_warn("imap %s: UIDVALIDITY of %s changed, disconnecting",
			 s->username ? s->username : "-", s->box ? mailbox_name(s->box) : "?");
		imap_send(s, "BYE Mailbox UIDVALIDITY changed, reconnect.");
		if (s->conn != NULL)
			conn_close(s->conn);
		return;
	}

	/* 1. messages gone from the store */
	j = 0;
	for (size_t i = 0; i < v->count; i++) {
		struct imap_msg *m = &v->msgs[i];
		while (j < snap->count && snap->recs[j].uid < m->uid)
			j++;
		if (j >= snap->count || snap->recs[j].uid != m->uid)
			m->expunged = true;
	}
	if (allow_expunge) {
		size_t w = 0, n_gone = 0;
		for (size_t i = 0; i < v->count; i++)
			n_gone += v->msgs[i].expunged;
		if (n_gone > 0) {
			uint32_t *gone = om_calloc(n_gone, sizeof(*gone));
			size_t k = 0;
			for (size_t i = 0; i < v->count; i++)
				if (v->msgs[i].expunged)
					gone[k++] = v->msgs[i].uid;
			/* RFC 5267: REMOVEFROM while the numbers still hold */
			if (s->n_search_contexts > 0)
				imap_search_contexts_removed(s, gone, k);
			if (s->enabled_qresync)
				imap_send_vanished(s, false, gone, k);
			free(gone);
		}
		/* Descending, each EXPUNGE's number is still the original
		 * index + 1: only higher messages went before it. */
		for (size_t i = v->count; i-- > 0 && !s->enabled_qresync;) {
			if (v->msgs[i].expunged)
				imap_send(s, "%zu EXPUNGE", i + 1);
		}
		for (size_t i = 0; i < v->count; i++) {
			if (!v->msgs[i].expunged)
				v->msgs[w++] = v->msgs[i];
		}
		v->count = w;
	}

	/* 2. keyword names before anything that may use them */
	if (view_keywords_differ(v, snap->keywords, snap->n_keywords)) {
		view_set_keywords(v, snap->keywords, snap->n_keywords);
		imap_view_send_flags(s);
	}

	/* 3. flag changes by others, found before appending */
	old_count = v->count;
	if (old_count > 0)
		changed = om_calloc(old_count, sizeof(*changed));
	j = 0;
	for (size_t i = 0; i < old_count; i++) {
		struct imap_msg *m = &v->msgs[i];
		while (j < snap->count && snap->recs[j].uid < m->uid)
			j++;
		if (m->expunged || j >= snap->count || snap->recs[j].uid != m->uid)
			continue;
		const struct mail_rec *rec = &snap->recs[j];
		bool recent_now = (m->flags & MAIL_RECENT) != 0 || is_claimed_recent(snap, m->uid);
		uint32_t flags = (rec->flags & MAIL_FLAGS_STORED) | (recent_now ? MAIL_RECENT : 0);
		if (flags != m->flags || rec->keywords != m->keywords)
			changed[i] = true;
		m->flags = flags;
		m->keywords = rec->keywords;
		m->modseq = rec->modseq;
	}

	/* 4. new messages: UIDs only grow, so they go at the end */
	uint32_t max_uid = v->count > 0 ? v->msgs[v->count - 1].uid : 0;
	size_t first_new = 0, hi_new = snap->count;
	while (first_new < hi_new) {
		size_t mid = first_new + (hi_new - first_new) / 2;
		if (snap->recs[mid].uid <= max_uid)
			first_new = mid + 1;
		else
			hi_new = mid;
	}
	if (first_new < snap->count) {
		view_reserve(v, snap->count - first_new);
		for (size_t i = first_new; i < snap->count; i++) {
			struct imap_msg *m = &v->msgs[v->count++];
			msg_from_rec(m, &snap->recs[i]);
			if (is_claimed_recent(snap, m->uid))
				m->flags |= MAIL_RECENT;
		}
		imap_send(s, "%zu EXISTS", v->count);
	}
	uint32_t new_recent = imap_view_recent_count(v);
	if ((first_new < snap->count || new_recent != old_recent) && !s->enabled_rev2)
		imap_send(s, "%u RECENT", new_recent);

	if (changed != NULL) {
		struct buf line = BUF_INIT;
		for (size_t i = 0; i < old_count; i++) {
			if (!changed[i])
				continue;
			buf_reset(&line);
			buf_printf(&line, "%zu FETCH (", i + 1);
			/* QRESYNC clients match updates by UID (RFC 7162 3.2.4);
			 * IMAP4rev2 requires it of every unsolicited FETCH
			 * (RFC 9051 7.5.2) */
			if (s->enabled_qresync || s->enabled_rev2)
				buf_printf(&line, "UID %u ", v->msgs[i].uid);
			buf_append_str(&line, "FLAGS ");
			imap_view_write_flags(s, i, &line);
			if (s->enabled_condstore)
				buf_printf(&line, " MODSEQ (%llu)",
					   (unsigned long long)v->msgs[i].modseq);
			buf_append_c(&line, ')');
			imap_send(s, "%s", buf_cstr(&line));
		}
		buf_free(&line);
		free(changed);
	}

	v->uidnext = snap->uidnext;
	if (snap->highest_modseq > v->highest_modseq)
		v->highest_modseq = snap->highest_modseq;
	if (s->n_search_contexts > 0)
		imap_search_contexts_update(s);
}

int imap_session_sync(struct imap_session *s, bool allow_expunge)
{
	struct mailbox_snapshot *snap = NULL;
	int ret;

	if (s->box == NULL)
		return 0;
	ret = mailbox_sync(s->box, &snap);
	if (ret == -OM_ENOTFOUND) {
		/* deleted (or renamed away) by another session: nothing we
		 * could tell the client would keep its sequence numbers right */
		imap_send(s, "BYE Selected mailbox was deleted, have to disconnect.");
		if (s->conn != NULL)
			conn_close(s->conn);
		return ret;
	}
	if (ret < 0) {
		log_warn("imap %s: sync of %s failed: %s", s->username ? s->username : "-",
			 mailbox_name(s->box), om_strerror(-ret));
		return ret;
	}
	imap_view_update(s, snap, allow_expunge);
	mailbox_snapshot_free(snap);
	return 0;
}
