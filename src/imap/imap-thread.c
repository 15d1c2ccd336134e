/* THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 3). */
#include "imap/imap-thread.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

#define NONE (-1)

bool thread_parse_algo(const char *name, enum thread_algo *algo_r)
{
	if (om_str_ieq(name, "REFERENCES"))
		*algo_r = THREAD_REFERENCES;
	else if (om_str_ieq(name, "ORDEREDSUBJECT"))
		*algo_r = THREAD_ORDEREDSUBJECT;
	else
		return false;
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t thread_parse_msgids(const char *value, struct buf *out)
{
	size_t n = 0;
	const char *p = value;

	if (value == NULL)
		return 0;
	while ((p = strchr(p, '<')) != NULL) {
		const char *start = p + 1, *q = start;
		bool at = false, ok = true;
		while (*q != '\0' && *q != '>') {
			if (*q == '<' || is_space(*q)) {
				ok = false;
				break;
			}
			if (*q == '@')
				at = true;
			q++;
		}
		if (ok && *q == '>' && at && q > start) {
			buf_append(out, start, (size_t)(q - start));
			buf_append_c(out, '\0');
			n++;
			p = q + 1;
		} else {
			p = start;
		}
	}
	return n;
}

/* --- the container tree --- */

struct node {
	int msg;          /* index into msgs, NONE = dummy */
	int parent;
	int first, last;  /* children */
	int next;         /* sibling */
	int64_t date;     /* sort key (dummies: their first child's) */
	uint32_t seq;
};

struct tree {
	const struct thread_msg *msgs;
	struct node *nodes;
	size_t n, cap;
	/* Message-ID -> node: open addressing */
	char **keys;
	int *vals;
	size_t hcap, hn;
};

static int node_new(struct tree *t, int msg)
{
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->nodes = om_reallocarray(t->nodes, t->cap, sizeof(*t->nodes));
	}
	struct node *nd = &t->nodes[t->n];
	nd->msg = msg;
	nd->parent = nd->first = nd->last = nd->next = NONE;
	nd->date = 0;
	nd->seq = 0;
	return (int)t->n++;
}

static size_t hash_str(const char *s)
{
	size_t h = 5381;
	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static void hash_grow(struct tree *t)
{
	size_t old = t->hcap;
	char **keys = t->keys;
	int *vals = t->vals;
	t->hcap = old == 0 ? 256 : old * 2;
	t->keys = om_calloc(t->hcap, sizeof(*t->keys));
	t->vals = om_calloc(t->hcap, sizeof(*t->vals));
	for (size_t i = 0; i < old; i++) {
		if (keys[i] == NULL)
			continue;
		size_t h = hash_str(keys[i]) & (t->hcap - 1);
		while (t->keys[h] != NULL)
			h = (h + 1) & (t->hcap - 1);
		t->keys[h] = keys[i];
		t->vals[h] = vals[i];
	}
	free(keys);
	free(vals);
}

/* The node of id, NONE if unknown (create: make a dummy). */
static int id_node(struct tree *t, const char *id, bool create)
{
	if (t->hcap > 0) {
		size_t h = hash_str(id) & (t->hcap - 1);
		while (t->keys[h] != NULL) {
			if (strcmp(t->keys[h], id) == 0)
				return t->vals[h];
			h = (h + 1) & (t->hcap - 1);
		}
	}
	if (!create)
		return NONE;
	if ((t->hn + 1) * 2 > t->hcap)
		hash_grow(t);
	size_t h = hash_str(id) & (t->hcap - 1);
	while (t->keys[h] != NULL)
		h = (h + 1) & (t->hcap - 1);
	t->keys[h] = om_strdup(id);
	t->vals[h] = node_new(t, NONE);
	t->hn++;
	return t->vals[h];
}

static void unlink_node(struct tree *t, int c)
{
	int p = t->nodes[c].parent;
	if (p == NONE)
		return;
	int prev = NONE;
	for (int x = t->nodes[p].first; x != NONE; prev = x, x = t->nodes[x].next) {
		if (x != c)
			continue;
		if (prev == NONE)
			t->nodes[p].first = t->nodes[c].next;
		else
			t->nodes[prev].next = t->nodes[c].next;
		if (t->nodes[p].last == c)
			t->nodes[p].last = prev;
		break;
	}
	t->nodes[c].parent = NONE;
	t->nodes[c].next = NONE;
}

static void link_node(struct tree *t, int p, int c)
{
	unlink_node(t, c);
	t->nodes[c].parent = p;
	t->nodes[c].next = NONE;
	if (t->nodes[p].last == NONE)
		t->nodes[p].first = c;
	else
		t->nodes[t->nodes[p].last].next = c;
	t->nodes[p].last = c;
}

/* Is a an ancestor of b (or b itself)? */
static bool is_ancestor(const struct tree *t, int a, int b)
{
	for (int x = b; x != NONE; x = t->nodes[x].parent) {
		if (x == a)
			return true;
	}
	return false;
}

/* Step 1 of REFERENCES for message i. */
static void add_message(struct tree *t, int i)
{
	const struct thread_msg *m = &t->msgs[i];
	struct buf ids = BUF_INIT, own = BUF_INIT;
	int self = NONE;

	if (thread_parse_msgids(m->message_id, &own) > 0) {
		self = id_node(t, own.data, true);
		if (t->nodes[self].msg != NONE)
			self = node_new(t, i); /* a duplicate Message-ID: its own */
		else
			t->nodes[self].msg = i;
	} else {
		self = node_new(t, i);
	}

	size_t n = thread_parse_msgids(m->references, &ids);
	if (n == 0) {
		buf_reset(&ids);
		if (thread_parse_msgids(m->in_reply_to, &ids) > 0)
			n = 1;
	}
	const char *p = ids.data;
	size_t skip = n > THREAD_MAX_REFS ? n - THREAD_MAX_REFS : 0;
	int prev = NONE;
	for (size_t k = 0; k < n; k++) {
		size_t len = strlen(p);
		if (k >= skip) {
			int cur = id_node(t, p, true);
			if (prev != NONE && cur != prev && t->nodes[cur].parent == NONE &&
			    !is_ancestor(t, cur, prev))
				link_node(t, prev, cur);
			prev = cur;
		}
		p += len + 1;
	}
	if (prev != NONE && prev != self && !is_ancestor(t, self, prev))
		link_node(t, prev, self);
	else if (n == 0)
		unlink_node(t, self); /* no references: a root (as Dovecot does) */
	buf_free(&ids);
	buf_free(&own);
}

/* --- helpers over child lists as arrays --- */

struct ivec {
	int *v;
	size_t n, cap;
};

static void ivec_push(struct ivec *a, int x)
{
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 8 : a->cap * 2;
		a->v = om_reallocarray(a->v, a->cap, sizeof(*a->v));
	}
	a->v[a->n++] = x;
}

static void children_of(const struct tree *t, int p, struct ivec *out)
{
	out->n = 0;
	for (int x = t->nodes[p].first; x != NONE; x = t->nodes[x].next)
		ivec_push(out, x);
}

static void set_children(struct tree *t, int p, const int *list, size_t n)
{
	t->nodes[p].first = t->nodes[p].last = NONE;
	for (size_t i = 0; i < n; i++) {
		int c = list[i];
		t->nodes[c].parent = p;
		t->nodes[c].next = NONE;
		if (t->nodes[p].last == NONE)
			t->nodes[p].first = c;
		else
			t->nodes[t->nodes[p].last].next = c;
		t->nodes[p].last = c;
	}
}

/* Step 4: list is one level; the kept nodes go to out. */
static void prune(struct tree *t, const int *list, size_t n, bool at_root, struct ivec *out,
		  unsigned depth)
{
	for (size_t i = 0; i < n; i++) {
		int c = list[i];
		struct ivec kids = { 0 }, kept = { 0 };
		children_of(t, c, &kids);
		/* the tree has no loops; depth is bounded by the node count */
		prune(t, kids.v, kids.n, false, &kept, depth + 1);
		set_children(t, c, kept.v, kept.n);
		if (t->nodes[c].msg != NONE || (at_root && kept.n > 1)) {
			ivec_push(out, c);
		} else {
			for (size_t k = 0; k < kept.n; k++)
				ivec_push(out, kept.v[k]);
		}
		free(kids.v);
		free(kept.v);
	}
}

static const char *node_subject(const struct tree *t, int c, bool *reply_r)
{
	int x = c;
	if (t->nodes[x].msg == NONE)
		x = t->nodes[x].first;
	*reply_r = false;
	if (x == NONE || t->nodes[x].msg == NONE)
		return "";
	const struct thread_msg *m = &t->msgs[t->nodes[x].msg];
	*reply_r = m->subject_reply;
	return m->subject != NULL ? m->subject : "";
}

/* Step 5: merge the roots by base subject. */
static void group_subjects(struct tree *t, struct ivec *roots)
{
	size_t n = roots->n;
	/* the subject table as an array of (root position); n is small
	 * enough per command (bounded by the mailbox) for a hash over
	 * subjects: reuse a local open-addressing table */
	size_t cap = 16;
	while (cap < n * 2 + 2)
		cap *= 2;
	int *tab = om_calloc(cap, sizeof(*tab));
	for (size_t i = 0; i < cap; i++)
		tab[i] = NONE;
	bool *removed = om_calloc(n > 0 ? n : 1, sizeof(*removed));
	/* tab holds node ids; find by subject */
#define SUBJ_SLOT(s_)                                                                  \
	({                                                                             \
		size_t h_ = hash_str(s_) & (cap - 1);                                  \
		bool r_;                                                               \
		while (tab[h_] != NONE && strcmp(node_subject(t, tab[h_], &r_), s_) != 0) \
			h_ = (h_ + 1) & (cap - 1);                                     \
		h_;                                                                    \
	})
	for (size_t i = 0; i < n; i++) {
		int c = roots->v[i];
		bool reply;
		const char *s = node_subject(t, c, &reply);
		if (*s == '\0')
			continue;
		size_t h = SUBJ_SLOT(s);
		int old = tab[h];
		if (old == NONE) {
			tab[h] = c;
			continue;
		}
		bool old_reply;
		(void)node_subject(t, old, &old_reply);
		bool old_dummy = t->nodes[old].msg == NONE, dummy = t->nodes[c].msg == NONE;
		if ((dummy && !old_dummy) || (!dummy && !old_dummy && old_reply && !reply))
			tab[h] = c;
	}
	for (size_t i = 0; i < n; i++) {
		int c = roots->v[i];
		bool reply;
		const char *s = node_subject(t, c, &reply);
		if (removed[i] || *s == '\0')
			continue;
		size_t h = SUBJ_SLOT(s);
		int o = tab[h];
		if (o == c || o == NONE)
			continue;
		bool o_reply;
		(void)node_subject(t, o, &o_reply);
		bool o_dummy = t->nodes[o].msg == NONE, dummy = t->nodes[c].msg == NONE;
		if (o_dummy && dummy) {
			struct ivec kids = { 0 };
			children_of(t, c, &kids);
			for (size_t k = 0; k < kids.n; k++)
				link_node(t, o, kids.v[k]);
			free(kids.v);
			removed[i] = true;
		} else if (o_dummy) {
			link_node(t, o, c);
			removed[i] = true;
		} else if (dummy) {
			/* not reached: a dummy is preferred in the table */
			for (size_t k = 0; k < n; k++) {
				if (roots->v[k] == o)
					removed[k] = true;
			}
			link_node(t, c, o);
			tab[SUBJ_SLOT(s)] = c;
		} else if (!o_reply && reply) {
			link_node(t, o, c);
			removed[i] = true;
		} else {
			int d = node_new(t, NONE);
			for (size_t k = 0; k < n; k++) {
				if (roots->v[k] == o)
					roots->v[k] = d;
			}
			link_node(t, d, o);
			link_node(t, d, c);
			removed[i] = true;
			tab[h] = d;
		}
	}
#undef SUBJ_SLOT
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!removed[i])
			roots->v[k++] = roots->v[i];
	}
	roots->n = k;
	free(removed);
	free(tab);
}

/* Stable merge sort of node/message indexes with a context. */
typedef int (*idx_cmp_fn)(const void *ctx, int a, int b);

static void merge_sort_idx(int *v, int *tmp, size_t n, idx_cmp_fn cmp, const void *ctx)
{
	if (n < 2)
		return;
	size_t mid = n / 2, i = 0, j = mid, k = 0;
	merge_sort_idx(v, tmp, mid, cmp, ctx);
	merge_sort_idx(v + mid, tmp, n - mid, cmp, ctx);
	while (i < mid && j < n)
		tmp[k++] = cmp(ctx, v[j], v[i]) < 0 ? v[j++] : v[i++];
	while (i < mid)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

static void sort_idx(int *v, size_t n, idx_cmp_fn cmp, const void *ctx)
{
	if (n < 2)
		return;
	int *tmp = om_calloc(n, sizeof(*tmp));
	merge_sort_idx(v, tmp, n, cmp, ctx);
	free(tmp);
}

static int cmp_nodes(const void *ctx, int a, int b)
{
	const struct tree *t = ctx;
	const struct node *x = &t->nodes[a], *y = &t->nodes[b];
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

/* Step 6: sort every sibling list by date (ties: sequence); a dummy sorts
 * by its first child after its children are sorted. */
static void sort_level(struct tree *t, int *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int c = list[i];
		struct ivec kids = { 0 };
		children_of(t, c, &kids);
		sort_level(t, kids.v, kids.n);
		set_children(t, c, kids.v, kids.n);
		free(kids.v);
		if (t->nodes[c].msg != NONE) {
			t->nodes[c].date = t->msgs[t->nodes[c].msg].date;
			t->nodes[c].seq = t->msgs[t->nodes[c].msg].seq;
		} else if (t->nodes[c].first != NONE) {
			t->nodes[c].date = t->nodes[t->nodes[c].first].date;
			t->nodes[c].seq = t->nodes[t->nodes[c].first].seq;
		}
	}
	sort_idx(list, n, cmp_nodes, t);
}

static void write_node(const struct tree *t, int c, bool uids, struct buf *out)
{
	const struct node *nd = &t->nodes[c];
	if (nd->msg != NONE) {
		const struct thread_msg *m = &t->msgs[nd->msg];
		buf_printf(out, "%u", uids ? m->uid : m->seq);
	}
	if (nd->first == NONE)
		return;
	if (nd->msg != NONE && t->nodes[nd->first].next == NONE) {
		buf_append_c(out, ' ');
		write_node(t, nd->first, uids, out);
		return;
	}
	if (nd->msg != NONE)
		buf_append_c(out, ' ');
	for (int x = nd->first; x != NONE; x = t->nodes[x].next) {
		buf_append_c(out, '(');
		write_node(t, x, uids, out);
		buf_append_c(out, ')');
	}
}

static void tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->hcap; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t->vals);
	free(t->nodes);
}

/* The later steps recurse along the tree: a thread deeper than
 * THREAD_MAX_DEPTH (hostile References chains) is cut there, the rest
 * becoming a thread of its own. Breadth-first, with an explicit queue. */
static void limit_depth(struct tree *t)
{
	int *depth = om_calloc(t->n > 0 ? t->n : 1, sizeof(*depth));
	struct ivec queue = { 0 }, kids = { 0 };
	for (size_t i = 0; i < t->n; i++) {
		if (t->nodes[i].parent == NONE)
			ivec_push(&queue, (int)i);
	}
	for (size_t q = 0; q < queue.n; q++) {
		int x = queue.v[q];
		children_of(t, x, &kids);
		for (size_t k = 0; k < kids.n; k++) {
			int c = kids.v[k];
			depth[c] = depth[x] + 1;
			if (depth[c] > THREAD_MAX_DEPTH) {
				unlink_node(t, c);
				depth[c] = 0;
			}
			ivec_push(&queue, c);
		}
	}
	free(kids.v);
	free(queue.v);
	free(depth);
}

static void thread_references(struct tree *t, size_t n, bool uids, struct buf *out)
{
	for (size_t i = 0; i < n; i++)
		add_message(t, (int)i);
	limit_depth(t);
	struct ivec roots = { 0 }, kept = { 0 };
	for (size_t i = 0; i < t->n; i++) {
		if (t->nodes[i].parent == NONE)
			ivec_push(&roots, (int)i);
	}
	prune(t, roots.v, roots.n, true, &kept, 0);
	for (size_t i = 0; i < kept.n; i++) {
		t->nodes[kept.v[i]].parent = NONE;
		t->nodes[kept.v[i]].next = NONE;
	}
	group_subjects(t, &kept);
	sort_level(t, kept.v, kept.n);
	for (size_t i = 0; i < kept.n; i++) {
		buf_append_c(out, '(');
		write_node(t, kept.v[i], uids, out);
		buf_append_c(out, ')');
	}
	free(roots.v);
	free(kept.v);
}

static int cmp_str0(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "");
}

static int cmp_subject_date(const void *ctx, int x, int y)
{
	const struct thread_msg *a = (const struct thread_msg *)ctx + x;
	const struct thread_msg *b = (const struct thread_msg *)ctx + y;
	int c = cmp_str0(a->subject, b->subject);
	if (c != 0)
		return c;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq ? 1 : 0;
}

static void thread_orderedsubject(struct tree *t, size_t n, bool uids, struct buf *out)
{
	/* sort by (base subject, date, seq) */
	int *order = om_calloc(n > 0 ? n : 1, sizeof(*order));
	for (size_t i = 0; i < n; i++)
		order[i] = (int)i;
	sort_idx(order, n, cmp_subject_date, t->msgs);
	struct ivec roots = { 0 };
	int root = NONE;
	for (size_t i = 0; i < n; i++) {
		int nd = node_new(t, order[i]);
		if (root != NONE && cmp_str0(t->msgs[t->nodes[root].msg].subject,
					     t->msgs[order[i]].subject) == 0) {
			link_node(t, root, nd);
			continue;
		}
		root = nd;
		ivec_push(&roots, nd);
	}
	for (size_t i = 0; i < roots.n; i++) {
		int r = roots.v[i];
		t->nodes[r].date = t->msgs[t->nodes[r].msg].date;
		t->nodes[r].seq = t->msgs[t->nodes[r].msg].seq;
	}
	sort_level(t, roots.v, roots.n);
	for (size_t i = 0; i < roots.n; i++) {
		buf_append_c(out, '(');
		write_node(t, roots.v[i], uids, out);
		buf_append_c(out, ')');
	}
	free(roots.v);
	free(order);
}

void thread_write(const struct thread_msg *msgs, size_t n, enum thread_algo algo, bool uids,
		  struct buf *out)
{
	struct tree t = { .msgs = msgs };
	if (algo == THREAD_REFERENCES)
		thread_references(&t, n, uids, out);
	else
		thread_orderedsubject(&t, n, uids, out);
	tree_free(&t);
}
