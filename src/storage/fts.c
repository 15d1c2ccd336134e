/* Full-text rows and sort fields in the user's index (fts.h). */
#include "storage/fts.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "mime/mime.h"
#include "storage/mail-storage-private.h"

#define SORT_FIELD "sort"
#define SORT_VERSION "S1"
/* Text kept per piece; bigger texts are cut (a search past it falls back
 * to nothing: bounded like every input). */
#define FTS_MAX_PIECE (64u * 1024 * 1024)

static const char schema_sql[] =
	"CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(hdr, parts, body,"
	" tokenize='trigram case_sensitive 1', detail='full');"
	"CREATE TRIGGER IF NOT EXISTS fts_message_gone AFTER DELETE ON messages BEGIN"
	" DELETE FROM fts WHERE rowid = (old.mailbox_id << 32) | old.uid; END;";

static int64_t doc_key(int64_t mailbox_id, uint32_t uid)
{
	return (int64_t)((uint64_t)mailbox_id << 32 | uid);
}

static int db_fail(sqlite3 *db, const char *what)
{
	int code = sqlite3_errcode(db);
	log_error("fts: %s: %s", what, sqlite3_errmsg(db));
	return code == SQLITE_BUSY || code == SQLITE_LOCKED ? -OM_ETEMP : -OM_EIO;
}

static int schema(struct om_index *idx)
{
	sqlite3 *db = index_sqlite(idx);
	char *msg = NULL;
	if (sqlite3_exec(db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("fts: creating the tables failed: %s", msg != NULL ? msg : "?");
		sqlite3_free(msg);
		return -OM_EIO;
	}
	return 0;
}

/* --- building --- */

static void fold_into(struct buf *tmp, struct buf *out)
{
	buf_reset(out);
	mime_utf8_fold(tmp->data != NULL ? tmp->data : "", tmp->len, out);
	if (out->len > FTS_MAX_PIECE) {
		out->len = FTS_MAX_PIECE;
		out->data[out->len] = '\0';
	}
	buf_reset(tmp);
}

static void fold_str(const struct buf *in, struct buf *out)
{
	mime_utf8_fold(in->data != NULL ? in->data : "", in->len, out);
}

void fts_build(const char *data, size_t len, struct fts_doc *doc, struct mail_sort_fields *sf)
{
	struct buf crlf = BUF_INIT, a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;

	memset(doc, 0, sizeof(*doc));
	memset(sf, 0, sizeof(*sf));
	/* the bytes as IMAP serves them, so the text equals what a SEARCH
	 * reading the message would see */
	mail_data_to_crlf(data, len, &crlf);
	const char *d = crlf.data != NULL ? crlf.data : "";
	struct mime_message *msg = mime_parse(d, crlf.len);
	mime_search_parts(msg, &a, &b, &c);
	fold_into(&a, &doc->hdr);
	fold_into(&b, &doc->parts);
	fold_into(&c, &doc->body);

	const char *hdr = d + msg->root.hdr_off;
	size_t hlen = msg->root.hdr_len;
	if (mime_header_get(hdr, hlen, "Date", &a)) {
		long long t;
		int tz;
		if (mime_parse_date(buf_cstr(&a), a.len, &t, &tz)) {
			sf->has_date = true;
			sf->date = t;
			sf->tz = tz;
		}
	}
	buf_reset(&a);
	if (mime_header_get_all_utf8(hdr, hlen, "Subject", &a)) {
		/* the first Subject: only */
		char *nl = memchr(buf_cstr(&a), '\n', a.len);
		if (nl != NULL) {
			a.len = (size_t)(nl - a.data);
			a.data[a.len] = '\0';
		}
		mime_base_subject(buf_cstr(&a), a.len, &b, &sf->subject_reply);
		fold_str(&b, &sf->subject);
	}
	struct {
		const char *name;
		struct buf *mbox, *display;
	} addrs[] = {
		{ "From", &sf->from, &sf->dfrom },
		{ "To", &sf->to, &sf->dto },
		{ "Cc", &sf->cc, NULL },
	};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		buf_reset(&a);
		buf_reset(&b);
		if (mime_first_address(hdr, hlen, addrs[i].name, &a, &b)) {
			fold_str(&a, addrs[i].mbox);
			if (addrs[i].display != NULL)
				fold_str(&b, addrs[i].display);
		}
	}
	(void)mime_header_get(hdr, hlen, "Message-ID", &sf->message_id);
	(void)mime_header_get(hdr, hlen, "References", &sf->references);
	(void)mime_header_get(hdr, hlen, "In-Reply-To", &sf->in_reply_to);
	mime_free(msg);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	buf_free(&crlf);
}

void fts_doc_free(struct fts_doc *doc)
{
	buf_free(&doc->hdr);
	buf_free(&doc->parts);
	buf_free(&doc->body);
}

void mail_sort_fields_free(struct mail_sort_fields *sf)
{
	struct buf *bufs[] = { &sf->from, &sf->to, &sf->cc, &sf->dfrom, &sf->dto, &sf->subject,
			       &sf->message_id, &sf->references, &sf->in_reply_to };
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		buf_free(bufs[i]);
}

/* --- the sort record: "S1" then fields as <decimal length>:<bytes> --- */

static void rec_put(struct buf *out, const char *s, size_t len)
{
	buf_printf(out, "%zu:", len);
	buf_append(out, s != NULL ? s : "", len);
}

static void rec_put_buf(struct buf *out, const struct buf *b)
{
	rec_put(out, b->data, b->len);
}

static void rec_put_num(struct buf *out, long long v)
{
	struct buf tmp = BUF_INIT;
	buf_printf(&tmp, "%lld", v);
	rec_put_buf(out, &tmp);
	buf_free(&tmp);
}

static void sort_rec_write(const struct mail_sort_fields *sf, struct buf *out)
{
	buf_append_str(out, SORT_VERSION);
	rec_put_num(out, sf->has_date ? 1 : 0);
	rec_put_num(out, sf->date);
	rec_put_num(out, sf->tz);
	rec_put_num(out, sf->subject_reply ? 1 : 0);
	const struct buf *bufs[] = { &sf->from, &sf->to, &sf->cc, &sf->dfrom, &sf->dto,
				     &sf->subject, &sf->message_id, &sf->references,
				     &sf->in_reply_to };
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		rec_put_buf(out, bufs[i]);
}

/* Next field at *p (< end) into out; false if malformed. */
static bool rec_get(const char **p, const char *end, struct buf *out)
{
	size_t len = 0, digits = 0;
	const char *s = *p;
	while (s < end && *s >= '0' && *s <= '9' && digits < 10) {
		len = len * 10 + (size_t)(*s - '0');
		s++;
		digits++;
	}
	if (digits == 0 || s >= end || *s != ':' || (size_t)(end - s - 1) < len)
		return false;
	s++;
	buf_reset(out);
	buf_append(out, s, len);
	*p = s + len;
	return true;
}

static bool sort_rec_read(const char *data, size_t len, struct mail_sort_fields *sf)
{
	const char *p = data, *end = data + len;
	struct buf tmp = BUF_INIT;
	long long nums[4];
	bool ok = len >= 2 && memcmp(data, SORT_VERSION, 2) == 0;

	memset(sf, 0, sizeof(*sf));
	p += 2;
	for (size_t i = 0; ok && i < 4; i++) {
		ok = rec_get(&p, end, &tmp);
		nums[i] = ok ? strtoll(buf_cstr(&tmp), NULL, 10) : 0;
	}
	struct buf *bufs[] = { &sf->from, &sf->to, &sf->cc, &sf->dfrom, &sf->dto, &sf->subject,
			       &sf->message_id, &sf->references, &sf->in_reply_to };
	for (size_t i = 0; ok && i < sizeof(bufs) / sizeof(bufs[0]); i++)
		ok = rec_get(&p, end, bufs[i]);
	buf_free(&tmp);
	if (!ok) {
		mail_sort_fields_free(sf);
		memset(sf, 0, sizeof(*sf));
		return false;
	}
	sf->has_date = nums[0] != 0;
	sf->date = nums[1];
	sf->tz = (int32_t)nums[2];
	sf->subject_reply = nums[3] != 0;
	return true;
}

/* --- locked layer --- */

static void bind_buf(sqlite3_stmt *st, int col, const struct buf *b)
{
	sqlite3_bind_text(st, col, b->data != NULL ? b->data : "", (int)b->len, SQLITE_STATIC);
}

int fts_put_locked(struct om_index *idx, int64_t mailbox_id, uint32_t uid,
		   const struct fts_doc *doc, const struct mail_sort_fields *sf)
{
	sqlite3 *db = index_sqlite(idx);
	sqlite3_stmt *st = NULL;
	int64_t key = doc_key(mailbox_id, uid);
	int ret = schema(idx);
	if (ret < 0)
		return ret;
	if (sqlite3_prepare_v2(db, "DELETE FROM fts WHERE rowid = ?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, "delete");
	sqlite3_bind_int64(st, 1, key);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, "delete");
	if (sqlite3_prepare_v2(db, "INSERT INTO fts (rowid, hdr, parts, body) VALUES (?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, "insert");
	sqlite3_bind_int64(st, 1, key);
	bind_buf(st, 2, &doc->hdr);
	bind_buf(st, 3, &doc->parts);
	bind_buf(st, 4, &doc->body);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, "insert");
	struct buf rec = BUF_INIT;
	sort_rec_write(sf, &rec);
	ret = index_cache_put(idx, mailbox_id, uid, SORT_FIELD, rec.data, rec.len);
	buf_free(&rec);
	return ret;
}

int fts_copy_locked(struct om_index *idx, int64_t src_mailbox_id, uint32_t src_uid,
		    int64_t dst_mailbox_id, uint32_t dst_uid)
{
	sqlite3 *db = index_sqlite(idx);
	sqlite3_stmt *st = NULL;
	int ret = schema(idx);
	if (ret < 0)
		return ret;
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO fts (rowid, hdr, parts, body)"
			       " SELECT ?, hdr, parts, body FROM fts WHERE rowid = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, "copy");
	sqlite3_bind_int64(st, 1, doc_key(dst_mailbox_id, dst_uid));
	sqlite3_bind_int64(st, 2, doc_key(src_mailbox_id, src_uid));
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, "copy");
	struct buf rec = BUF_INIT;
	if (index_cache_get(idx, src_mailbox_id, src_uid, SORT_FIELD, &rec) == 0)
		ret = index_cache_put(idx, dst_mailbox_id, dst_uid, SORT_FIELD, rec.data, rec.len);
	buf_free(&rec);
	return ret;
}

static int doc_read_locked(struct om_index *idx, int64_t mailbox_id, uint32_t uid,
			   struct fts_doc *doc)
{
	sqlite3 *db = index_sqlite(idx);
	sqlite3_stmt *st = NULL;
	int ret = schema(idx);
	if (ret < 0)
		return ret;
	if (sqlite3_prepare_v2(db, "SELECT hdr, parts, body FROM fts WHERE rowid = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return db_fail(db, "read");
	sqlite3_bind_int64(st, 1, doc_key(mailbox_id, uid));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct buf *bufs[] = { &doc->hdr, &doc->parts, &doc->body };
		for (int i = 0; i < 3; i++) {
			const unsigned char *t = sqlite3_column_text(st, i);
			int n = sqlite3_column_bytes(st, i);
			buf_reset(bufs[i]);
			buf_append(bufs[i], t != NULL ? (const char *)t : "", (size_t)(n > 0 ? n : 0));
		}
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret = -OM_ENOTFOUND;
	} else {
		ret = db_fail(db, "read");
	}
	sqlite3_finalize(st);
	return ret;
}

/* --- sessions --- */

/* Read the message, compute its rows and store them (if it still exists). */
static int index_message(struct mailbox *box, uint32_t uid, struct fts_doc *doc,
			 struct mail_sort_fields *sf)
{
	struct mail_data md;
	int ret = mailbox_msg_open(box, uid, &md);
	if (ret < 0)
		return ret;
	fts_build(md.data, md.len, doc, sf);
	mail_data_release(&md);

	struct mail_user *user = box->user;
	struct index_msg msg;
	mail_user_lock(user);
	if (index_msg_get(user->index, box->id, uid, &msg) == 0) {
		index_msg_clear(&msg);
		if (fts_put_locked(user->index, box->id, uid, doc, sf) < 0)
			log_warn("fts %s: indexing UID %u of %s failed", user->name, uid, box->name);
	}
	mail_user_unlock(user);
	return 0;
}

int fts_doc_get(struct mailbox *box, uint32_t uid, struct fts_doc *doc)
{
	struct mail_user *user = box->user;
	memset(doc, 0, sizeof(*doc));
	mail_user_lock(user);
	int ret = doc_read_locked(user->index, box->id, uid, doc);
	mail_user_unlock(user);
	if (ret != -OM_ENOTFOUND)
		return ret;
	fts_doc_free(doc);
	struct mail_sort_fields sf;
	ret = index_message(box, uid, doc, &sf);
	if (ret == 0)
		mail_sort_fields_free(&sf);
	return ret;
}

int mail_sort_fields_get(struct mailbox *box, uint32_t uid, struct mail_sort_fields *sf)
{
	struct mail_user *user = box->user;
	struct buf rec = BUF_INIT;
	mail_user_lock(user);
	int ret = index_cache_get(user->index, box->id, uid, SORT_FIELD, &rec);
	mail_user_unlock(user);
	if (ret == 0 && sort_rec_read(rec.data, rec.len, sf)) {
		buf_free(&rec);
		return 0;
	}
	buf_free(&rec);
	if (ret < 0 && ret != -OM_ENOTFOUND)
		return ret;
	struct fts_doc doc;
	ret = index_message(box, uid, &doc, sf);
	if (ret == 0)
		fts_doc_free(&doc);
	return ret;
}

static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	}
	return n;
}

static int rowids(sqlite3 *db, sqlite3_stmt *st, uint32_t **uids_r, size_t *n_r)
{
	size_t n = 0, cap = 64;
	uint32_t *uids = om_calloc(cap, sizeof(*uids));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap *= 2;
			uids = om_reallocarray(uids, cap, sizeof(*uids));
		}
		uids[n++] = (uint32_t)((uint64_t)sqlite3_column_int64(st, 0) & 0xffffffffu);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(uids);
		return db_fail(db, "query");
	}
	*uids_r = uids;
	*n_r = n;
	return 0;
}

int fts_candidates(struct mailbox *box, unsigned cols, const char *needle, size_t len,
		   uint32_t **match_r, size_t *n_match_r, uint32_t **indexed_r, size_t *n_indexed_r)
{
	struct buf folded = BUF_INIT, q = BUF_INIT;
	*match_r = *indexed_r = NULL;
	*n_match_r = *n_indexed_r = 0;
	if (memchr(needle, '\n', len) != NULL || memchr(needle, '\r', len) != NULL ||
	    memchr(needle, '\0', len) != NULL)
		return -OM_EINVAL;
	mime_utf8_fold(needle, len, &folded);
	if (utf8_chars(buf_cstr(&folded), folded.len) < 3) {
		buf_free(&folded);
		return -OM_EINVAL;
	}
	buf_append_c(&q, '{');
	if (cols & FTS_COL_HDR)
		buf_append_str(&q, " hdr");
	if (cols & FTS_COL_PARTS)
		buf_append_str(&q, " parts");
	if (cols & FTS_COL_BODY)
		buf_append_str(&q, " body");
	buf_append_str(&q, " } : \"");
	for (size_t i = 0; i < folded.len; i++) {
		if (folded.data[i] == '"')
			buf_append_c(&q, '"');
		buf_append_c(&q, folded.data[i]);
	}
	buf_append_c(&q, '"');
	buf_free(&folded);

	struct mail_user *user = box->user;
	sqlite3 *db = index_sqlite(user->index);
	sqlite3_stmt *st = NULL;
	int64_t lo = doc_key(box->id, 0), hi = doc_key(box->id, UINT32_MAX);
	mail_user_lock(user);
	int ret = schema(user->index);
	if (ret == 0 && sqlite3_prepare_v2(db, "SELECT rowid FROM fts WHERE fts MATCH ?"
					   " AND rowid BETWEEN ? AND ? ORDER BY rowid",
					   -1, &st, NULL) != SQLITE_OK)
		ret = db_fail(db, "match");
	if (ret == 0) {
		sqlite3_bind_text(st, 1, buf_cstr(&q), (int)q.len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, lo);
		sqlite3_bind_int64(st, 3, hi);
		ret = rowids(db, st, match_r, n_match_r);
	}
	if (ret == 0 && sqlite3_prepare_v2(db, "SELECT rowid FROM fts WHERE rowid BETWEEN ? AND ?"
					   " ORDER BY rowid", -1, &st, NULL) != SQLITE_OK)
		ret = db_fail(db, "list");
	if (ret == 0) {
		sqlite3_bind_int64(st, 1, lo);
		sqlite3_bind_int64(st, 2, hi);
		ret = rowids(db, st, indexed_r, n_indexed_r);
	}
	mail_user_unlock(user);
	buf_free(&q);
	if (ret < 0) {
		free(*match_r);
		free(*indexed_r);
		*match_r = *indexed_r = NULL;
		*n_match_r = *n_indexed_r = 0;
	}
	return ret;
}

bool fts_doc_header(const struct fts_doc *doc, const char *name, struct buf *out)
{
	const char *p = doc->hdr.data != NULL ? doc->hdr.data : "";
	const char *end = p + doc->hdr.len;
	size_t nlen = strlen(name);
	bool found = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		if ((size_t)(eol - p) >= nlen + 2 && strncasecmp(p, name, nlen) == 0 &&
		    p[nlen] == ':' && p[nlen + 1] == ' ') {
			if (found)
				buf_append_c(out, '\n');
			buf_append(out, p + nlen + 2, (size_t)(eol - p) - nlen - 2);
			found = true;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	return found;
}

int fts_rescan_user(struct mail_user *user, unsigned *n_r)
{
	struct index_mailbox *mbs = NULL;
	size_t n_mbs = 0;
	*n_r = 0;
	mail_user_lock(user);
	int ret = user->ops->list_refresh(user);
	if (ret == 0)
		ret = schema(user->index);
	if (ret == 0) {
		char *msg = NULL;
		if (sqlite3_exec(index_sqlite(user->index),
				 "DELETE FROM fts; DELETE FROM cache WHERE field = 'sort';",
				 NULL, NULL, &msg) != SQLITE_OK) {
			log_error("fts %s: clearing failed: %s", user->name, msg != NULL ? msg : "?");
			sqlite3_free(msg);
			ret = -OM_EIO;
		}
	}
	if (ret == 0)
		ret = index_mailbox_list(user->index, &mbs, &n_mbs);
	for (size_t i = 0; i < n_mbs && ret == 0; i++) {
		struct index_msg *msgs = NULL;
		size_t n = 0;
		ret = index_msgs_get(user->index, mbs[i].id, &msgs, &n);
		for (size_t j = 0; j < n && ret == 0; j++) {
			struct buf data = BUF_INIT;
			int r = user->ops->msg_read(user, &mbs[i], &msgs[j], &data);
			if (r == -OM_ENOTFOUND) {
				buf_free(&data);
				continue;
			}
			if (r == 0) {
				struct fts_doc doc;
				struct mail_sort_fields sf;
				fts_build(data.data != NULL ? data.data : "", data.len, &doc, &sf);
				r = fts_put_locked(user->index, mbs[i].id, msgs[j].rec.uid, &doc, &sf);
				fts_doc_free(&doc);
				mail_sort_fields_free(&sf);
				if (r == 0)
					(*n_r)++;
			}
			buf_free(&data);
			ret = r;
		}
		index_msgs_free(msgs, n);
	}
	index_mailboxes_free(mbs, n_mbs);
	mail_user_unlock(user);
	return ret;
}

/* --- rescan while sessions use the user --- */

#define RESCAN_PREFETCH 64

static int drop_rows_locked(struct om_index *idx, int64_t mailbox_id)
{
	sqlite3 *db = index_sqlite(idx);
	sqlite3_stmt *st = NULL;
	int ret = schema(idx);
	if (ret < 0)
		return ret;
	if (sqlite3_prepare_v2(db, "DELETE FROM fts WHERE rowid BETWEEN ? AND ?", -1, &st,
			       NULL) != SQLITE_OK)
		return db_fail(db, "drop");
	sqlite3_bind_int64(st, 1, doc_key(mailbox_id, 0));
	sqlite3_bind_int64(st, 2, doc_key(mailbox_id, UINT32_MAX));
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, "drop");
	if (sqlite3_prepare_v2(db, "DELETE FROM cache WHERE mailbox_id = ? AND field = '" SORT_FIELD
				   "'", -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, "drop sort");
	sqlite3_bind_int64(st, 1, mailbox_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, "drop sort");
}

/* Rows of messages that are gone (of mailboxes deleted meanwhile). */
static int drop_orphans_locked(struct om_index *idx)
{
	char *msg = NULL;
	int ret = schema(idx);
	if (ret == 0 &&
	    sqlite3_exec(index_sqlite(idx),
			 "DELETE FROM fts WHERE rowid NOT IN"
			 " (SELECT (mailbox_id << 32) | uid FROM messages);",
			 NULL, NULL, &msg) != SQLITE_OK) {
		log_error("fts: dropping orphan rows failed: %s", msg != NULL ? msg : "?");
		ret = -OM_EIO;
	}
	sqlite3_free(msg);
	return ret;
}

static int rescan_message(struct mail_user *user, const struct index_mailbox *mb,
			  const struct index_msg *msg, bool *done_r)
{
	struct buf data = BUF_INIT;
	struct index_msg cur;
	*done_r = false;
	mail_user_lock(user);
	/* expunged since the listing: nothing to do */
	int ret = index_msg_get(user->index, mb->id, msg->rec.uid, &cur);
	if (ret == 0) {
		ret = user->ops->msg_read(user, mb, &cur, &data);
		index_msg_clear(&cur);
	}
	mail_user_unlock(user);
	if (ret == -OM_ENOTFOUND) {
		buf_free(&data);
		return 0;
	}
	if (ret < 0) {
		buf_free(&data);
		return ret;
	}
	struct fts_doc doc;
	struct mail_sort_fields sf;
	fts_build(data.data != NULL ? data.data : "", data.len, &doc, &sf);
	buf_free(&data);
	mail_user_lock(user);
	if (index_msg_get(user->index, mb->id, msg->rec.uid, &cur) == 0) {
		index_msg_clear(&cur);
		ret = fts_put_locked(user->index, mb->id, msg->rec.uid, &doc, &sf);
		*done_r = ret == 0;
	}
	mail_user_unlock(user);
	fts_doc_free(&doc);
	mail_sort_fields_free(&sf);
	return ret;
}

int fts_rescan_user_progress(struct mail_user *user, fts_rescan_progress_fn *progress,
			     void *ctx, unsigned *n_r)
{
	struct index_mailbox *mbs = NULL;
	size_t n_mbs = 0;
	unsigned long long total = 0, done = 0;
	*n_r = 0;
	mail_user_lock(user);
	int ret = user->ops->list_refresh(user);
	if (ret == 0)
		ret = drop_orphans_locked(user->index);
	if (ret == 0)
		ret = index_mailbox_list(user->index, &mbs, &n_mbs);
	/* the total, for the progress shown */
	for (size_t i = 0; i < n_mbs && ret == 0; i++) {
		struct index_msg *msgs = NULL;
		size_t n = 0;
		ret = index_msgs_get(user->index, mbs[i].id, &msgs, &n);
		total += n;
		index_msgs_free(msgs, n);
	}
	mail_user_unlock(user);
	if (ret == 0 && progress != NULL && !progress(ctx, 0, total))
		ret = -OM_EIO;

	for (size_t i = 0; i < n_mbs && ret == 0; i++) {
		struct index_msg *msgs = NULL;
		size_t n = 0;
		/* this mailbox's rows go first: until a message is done again a
		 * SEARCH finds it unindexed and reads it (fts_candidates) */
		mail_user_lock(user);
		ret = index_msgs_get(user->index, mbs[i].id, &msgs, &n);
		if (ret == 0)
			ret = drop_rows_locked(user->index, mbs[i].id);
		mail_user_unlock(user);
		for (size_t j = 0; j < n && ret == 0; j++) {
			if (j % RESCAN_PREFETCH == 0 && user->ops->msg_prefetch != NULL) {
				size_t k = n - j < RESCAN_PREFETCH ? n - j : RESCAN_PREFETCH;
				(void)user->ops->msg_prefetch(user, msgs + j, k);
			}
			bool put = false;
			ret = rescan_message(user, &mbs[i], &msgs[j], &put);
			if (put)
				(*n_r)++;
			done++;
			if (ret == 0 && progress != NULL && !progress(ctx, done, total))
				ret = -OM_EIO;
		}
		index_msgs_free(msgs, n);
	}
	index_mailboxes_free(mbs, n_mbs);
	return ret;
}
