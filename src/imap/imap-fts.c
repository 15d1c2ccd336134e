/* SEARCH from the full-text index (imap-fts.h). */
#include "imap/imap-fts.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/om-error.h"
#include "mime/mime.h"
#include "storage/mail-storage.h"

#define CAND_SLOTS 8
#define CAND_TTL 10 /* seconds */

/* One MATCH over a mailbox: which UIDs contain the needle, which had a
 * row at all then. */
struct cand {
	char *user;
	char *mailbox;
	uint32_t uidvalidity;
	char kind;
	char *name;
	char *needle;
	size_t nlen;
	time_t at;
	uint32_t *match, *indexed;
	size_t n_match, n_indexed;
};

/* Shared by the workers; answers are looked up under the mutex. */
static pthread_mutex_t cand_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cand cands[CAND_SLOTS];
static unsigned cand_next;

static void cand_clear(struct cand *c)
{
	free(c->user);
	free(c->mailbox);
	free(c->name);
	free(c->needle);
	free(c->match);
	free(c->indexed);
	memset(c, 0, sizeof(*c));
}

static bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool has_uid(const uint32_t *uids, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (uids[mid] == uid)
			return true;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* -1 unknown (no entry), else the answer for uid. Under cand_lock. */
static int cand_lookup(const char *user, const char *mbox, uint32_t uidvalidity, char kind,
		       const char *name, const char *needle, size_t nlen, uint32_t uid,
		       time_t now)
{
	for (unsigned i = 0; i < CAND_SLOTS; i++) {
		struct cand *c = &cands[i];
		if (c->user == NULL)
			continue;
		if (now - c->at > CAND_TTL || now < c->at) {
			cand_clear(c);
			continue;
		}
		if (c->kind == kind && c->uidvalidity == uidvalidity && c->nlen == nlen &&
		    memcmp(c->needle, needle, nlen) == 0 && str_eq(c->name, name) &&
		    strcmp(c->user, user) == 0 && strcmp(c->mailbox, mbox) == 0) {
			if (has_uid(c->match, c->n_match, uid))
				return 2; /* a candidate */
			return has_uid(c->indexed, c->n_indexed, uid) ? 0 : 1;
		}
	}
	return -1;
}

static int src_index_match(void *ctx, char kind, const char *name, const char *needle, size_t nlen)
{
	struct imap_fts_src *f = ctx;
	if (f->expunged || f->s->box == NULL)
		return -1;
	struct mailbox *box = f->s->box;
	const char *user = mail_user_name(mailbox_user(box));
	const char *mbox = mailbox_name(box);
	uint32_t uidvalidity = f->s->view.uidvalidity;
	time_t now = time(NULL);

	pthread_mutex_lock(&cand_lock);
	int r = cand_lookup(user, mbox, uidvalidity, kind, name, needle, nlen, f->uid, now);
	pthread_mutex_unlock(&cand_lock);
	if (r < 0) {
		unsigned cols = kind == 'B' ? FTS_COL_BODY
				: kind == 'H' ? FTS_COL_HDR
				: (FTS_COL_HDR | FTS_COL_PARTS | FTS_COL_BODY);
		struct cand n = { 0 };
		if (fts_candidates(box, cols, needle, nlen, &n.match, &n.n_match, &n.indexed,
				   &n.n_indexed) < 0)
			return -1; /* too short for the index: the stored text is scanned */
		n.user = om_strdup(user);
		n.mailbox = om_strdup(mbox);
		n.uidvalidity = uidvalidity;
		n.kind = kind;
		n.name = name != NULL ? om_strdup(name) : NULL;
		n.needle = om_malloc(nlen + 1);
		memcpy(n.needle, needle, nlen);
		n.needle[nlen] = '\0';
		n.nlen = nlen;
		n.at = now;
		pthread_mutex_lock(&cand_lock);
		struct cand *c = &cands[cand_next++ % CAND_SLOTS];
		cand_clear(c);
		*c = n;
		r = cand_lookup(user, mbox, uidvalidity, kind, name, needle, nlen, f->uid, now);
		pthread_mutex_unlock(&cand_lock);
	}
	/* 2: verified against the stored text; 1: not indexed yet */
	return r == 0 ? 0 : -1;
}

static bool load_doc(struct imap_fts_src *f)
{
	if (!f->doc_tried) {
		f->doc_tried = true;
		f->doc_ok = !f->expunged && fts_doc_get(f->s->box, f->uid, &f->doc) == 0;
	}
	return f->doc_ok;
}

static bool src_header(void *ctx, const char *name, struct buf *out)
{
	struct imap_fts_src *f = ctx;
	if (!load_doc(f))
		return f->fallback->header(f->fallback->ctx, name, out);
	return fts_doc_header(&f->doc, name, out);
}

static void append_piece(struct buf *out, const struct buf *b)
{
	if (b->len > 0)
		buf_append(out, b->data, b->len);
}

static bool src_text(void *ctx, bool with_headers, struct buf *out)
{
	struct imap_fts_src *f = ctx;
	if (!load_doc(f))
		return f->fallback->text(f->fallback->ctx, with_headers, out);
	if (with_headers) {
		append_piece(out, &f->doc.hdr);
		append_piece(out, &f->doc.parts);
	}
	append_piece(out, &f->doc.body);
	return true;
}

static bool src_sent_date(void *ctx, long long *time_r, int *tz_r)
{
	struct imap_fts_src *f = ctx;
	if (!f->sf_tried) {
		f->sf_tried = true;
		f->sf_ok = !f->expunged && mail_sort_fields_get(f->s->box, f->uid, &f->sf) == 0;
	}
	if (!f->sf_ok)
		return f->fallback->sent_date(f->fallback->ctx, time_r, tz_r);
	if (!f->sf.has_date)
		return false;
	*time_r = f->sf.date;
	*tz_r = f->sf.tz;
	return true;
}

void imap_fts_src_init(struct imap_fts_src *f, struct imap_session *s, const struct imap_msg *im,
		       const struct search_source *fallback)
{
	memset(f, 0, sizeof(*f));
	f->s = s;
	f->uid = im->uid;
	f->expunged = im->expunged;
	f->fallback = fallback;
	f->src.ctx = f;
	f->src.header = src_header;
	f->src.text = src_text;
	f->src.sent_date = src_sent_date;
	f->src.contains = mime_utf8_contains_ci;
	f->src.index_match = src_index_match;
}

void imap_fts_src_deinit(struct imap_fts_src *f)
{
	if (f->doc_ok)
		fts_doc_free(&f->doc);
	if (f->sf_ok)
		mail_sort_fields_free(&f->sf);
	f->doc_ok = f->sf_ok = false;
}
