/* Shared helpers of CONDSTORE/QRESYNC and the ESEARCH family: see
 * imap-condstore.h. */
#include "imap/imap-condstore.h"

#include <stdlib.h>
#include <string.h>

#include "lib/om-error.h"

void imap_write_num_set(struct buf *out, const uint32_t *nums, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && nums[j + 1] == nums[j] + 1)
			j++;
		if (i > 0)
			buf_append_c(out, ',');
		if (j == i)
			buf_printf(out, "%u", nums[i]);
		else
			buf_printf(out, "%u:%u", nums[i], nums[j]);
		i = j + 1;
	}
}

bool imap_parse_modseq(const char *s, bool zero_ok, uint64_t *modseq_r)
{
	unsigned long long v;
	if (s == NULL || !om_parse_u64(s, strlen(s), &v))
		return false;
	if (v > (unsigned long long)INT64_MAX || (v == 0 && !zero_ok))
		return false;
	*modseq_r = v;
	return true;
}

void imap_condstore_enable(struct imap_session *s)
{
	if (s->enabled_condstore)
		return;
	s->enabled_condstore = true;
	if (s->box != NULL)
		imap_send(s, "OK [HIGHESTMODSEQ %llu] Highest",
			  (unsigned long long)s->view.highest_modseq);
}

void imap_send_vanished(struct imap_session *s, bool earlier, const uint32_t *uids, size_t n)
{
	if (n == 0)
		return;
	struct buf line = BUF_INIT;
	buf_append_str(&line, earlier ? "* VANISHED (EARLIER) " : "* VANISHED ");
	imap_write_num_set(&line, uids, n);
	buf_append(&line, "\r\n", 2);
	imap_send_buf(s, &line);
	buf_free(&line);
}

static int cmp_range(const void *a, const void *b)
{
	const struct seq_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort r[0..n) and merge overlapping or adjacent ranges; the new count. */
static size_t ranges_merge(struct seq_range *r, size_t n)
{
	qsort(r, n, sizeof(*r), cmp_range);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && (r[i].lo <= r[m - 1].hi || (r[i].lo > 0 && r[i].lo - 1 == r[m - 1].hi))) {
			if (r[i].hi > r[m - 1].hi)
				r[m - 1].hi = r[i].hi;
		} else {
			r[m++] = r[i];
		}
	}
	return m;
}

/* A copy of ranges with '*' resolved to star, each lo <= hi, merged. */
static struct seq_range *ranges_resolve(const struct seq_range *ranges, size_t n_ranges,
					uint32_t star, size_t *n_r)
{
	struct seq_range *r = om_reallocarray(NULL, n_ranges, sizeof(*r));
	for (size_t i = 0; i < n_ranges; i++) {
		uint32_t lo = ranges[i].lo == UINT32_MAX ? star : ranges[i].lo;
		uint32_t hi = ranges[i].hi == UINT32_MAX ? star : ranges[i].hi;
		r[i].lo = lo < hi ? lo : hi;
		r[i].hi = lo < hi ? hi : lo;
	}
	*n_r = ranges_merge(r, n_ranges);
	return r;
}

void imap_send_vanished_earlier(struct imap_session *s, const uint32_t *uids, size_t n,
				uint32_t forgot_max, const struct seq_range *ranges,
				size_t n_ranges)
{
	const struct imap_view *v = &s->view;
	/* the candidates as ranges: the recorded UIDs, and the gaps between
	 * the view's UIDs up to forgot_max */
	size_t cap = n + (forgot_max > 0 ? v->count + 1 : 0), nc = 0;
	struct seq_range *c = om_reallocarray(NULL, cap > 0 ? cap : 1, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		if (imap_view_find_uid(s, uids[i]) < 0)
			c[nc++] = (struct seq_range){ uids[i], uids[i] };
	if (forgot_max > 0) {
		uint32_t next = 1; /* the lowest UID not yet covered */
		for (size_t i = 0; i < v->count && next <= forgot_max; i++) {
			uint32_t u = v->msgs[i].uid;
			if (u > next)
				c[nc++] = (struct seq_range){ next, u - 1 < forgot_max ? u - 1 : forgot_max };
			if (u >= next)
				next = u == UINT32_MAX ? UINT32_MAX : u + 1;
		}
		if (next <= forgot_max)
			c[nc++] = (struct seq_range){ next, forgot_max };
	}
	nc = ranges_merge(c, nc);
	if (n_ranges > 0 && nc > 0) {
		/* intersect with the client's set; both sorted and disjoint */
		size_t nk;
		uint32_t star = v->uidnext > 0 ? v->uidnext - 1 : 0;
		struct seq_range *k = ranges_resolve(ranges, n_ranges, star, &nk);
		struct seq_range *out = om_reallocarray(NULL, nc + nk, sizeof(*out));
		size_t no = 0, i = 0, j = 0;
		while (i < nc && j < nk) {
			uint32_t lo = c[i].lo > k[j].lo ? c[i].lo : k[j].lo;
			uint32_t hi = c[i].hi < k[j].hi ? c[i].hi : k[j].hi;
			if (lo <= hi)
				out[no++] = (struct seq_range){ lo, hi };
			if (c[i].hi < k[j].hi)
				i++;
			else
				j++;
		}
		free(k);
		free(c);
		c = out;
		nc = no;
	}
	if (nc > 0) {
		struct buf line = BUF_INIT;
		buf_append_str(&line, "* VANISHED (EARLIER) ");
		for (size_t i = 0; i < nc; i++) {
			if (i > 0)
				buf_append_c(&line, ',');
			if (c[i].lo == c[i].hi)
				buf_printf(&line, "%u", c[i].lo);
			else
				buf_printf(&line, "%u:%u", c[i].lo, c[i].hi);
		}
		buf_append(&line, "\r\n", 2);
		imap_send_buf(s, &line);
		buf_free(&line);
	}
	free(c);
}

size_t imap_uids_in_ranges(uint32_t *uids, size_t n, const struct seq_range *ranges,
			   size_t n_ranges, uint32_t star)
{
	if (n == 0 || n_ranges == 0)
		return 0;
	/* resolved, sorted and merged, so each UID is one binary search
	 * (a client's known-uids may hold many ranges) */
	size_t m;
	struct seq_range *r = ranges_resolve(ranges, n_ranges, star, &m);
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		size_t lo = 0, hi = m;
		bool in = false;
		while (lo < hi && !in) {
			size_t mid = lo + (hi - lo) / 2;
			if (uids[i] < r[mid].lo)
				hi = mid;
			else if (uids[i] > r[mid].hi)
				lo = mid + 1;
			else
				in = true;
		}
		if (in)
			uids[w++] = uids[i];
	}
	free(r);
	return w;
}
