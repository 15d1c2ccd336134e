/* Change records: what happens to a user's index between two bundles, so
 * that a rebuild (newest bundle + its logs) loses nothing older than the
 * flusher's batching delay. One record per line, fields separated by TAB,
 * each field %XX-escaped (obox_field_escape):
 *
 *   A <mbox guid> <uid> <guid> <flags> <keywords> <vsize> <date> <tz>
 *                                          message added (append, copy, move)
 *   F <mbox guid> <uid> <flags> <keywords>  flags/keywords now are these
 *   X <mbox guid> <uid>                     expunged
 *   C <mbox guid> <name> <uidvalidity> <special-use bit>   mailbox created
 *   R <mbox guid> <new name>                mailbox renamed
 *   D <mbox guid>                           mailbox deleted
 *   S <name> <name> ...                     the subscriptions now are these
 *
 * Mailboxes are named by GUID, so renames don't confuse later records.
 * Every record states a result, not a delta, so applying it twice (a log
 * replayed over an index that already has it) changes nothing. */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/obox/obox.h"

#define MAX_FIELDS 4096

void obox_field_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c == 0x7f || c == '%' || c == ',') {
			buf_append_c(out, '%');
			buf_append_c(out, hex[c >> 4]);
			buf_append_c(out, hex[c & 15]);
		} else {
			buf_append_c(out, (char)c);
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void field_unescape(const char *s, size_t len, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			buf_append_c(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			buf_append_c(out, s[i]);
		}
	}
	buf_append(out, "", 0);
}

void obox_log_add(struct obox_user *ou, const char *record)
{
	pthread_mutex_lock(&ou->olock);
	buf_append_str(&ou->pending, record);
	buf_append_c(&ou->pending, '\n');
	ou->dirty = true;
	ou->last_use = obox_now();
	pthread_mutex_unlock(&ou->olock);
}

int obox_keywords_field(struct om_index *idx, int64_t mailbox_id, uint64_t mask, struct buf *out)
{
	if (mask == 0)
		return 0;
	char **names;
	size_t n;
	int ret = index_keywords_get(idx, mailbox_id, &names, &n);
	if (ret < 0)
		return ret;
	bool first = true;
	for (size_t i = 0; i < n && i < 64; i++) {
		if ((mask & (UINT64_C(1) << i)) == 0)
			continue;
		if (!first)
			buf_append_c(out, ',');
		first = false;
		obox_field_escape(out, names[i]);
	}
	mail_names_free(names, n);
	return 0;
}

int obox_maybe_pending_delete(struct om_index *idx, const char *guid, int64_t mailbox_id,
			      uint32_t uid, uint64_t after_seq)
{
	unsigned refs;
	int ret = index_guid_refs(idx, guid, mailbox_id, uid, &refs);
	if (ret == 0 && refs == 0)
		ret = index_pending_delete_add(idx, guid, after_seq);
	return ret;
}

/* --- applying --- */

struct rec {
	const char *f[16];
	size_t len[16];
	size_t n;
	/* the S record may have many names */
	const char **more;
	size_t *more_len;
	size_t n_more;
};

static bool field_u64(const struct rec *r, size_t i, unsigned long long *v)
{
	return i < r->n && om_parse_u64(r->f[i], r->len[i], v);
}

static bool field_i64(const struct rec *r, size_t i, long long *v)
{
	if (i >= r->n || r->len[i] == 0)
		return false;
	bool neg = r->f[i][0] == '-';
	unsigned long long u;
	if (!om_parse_u64(r->f[i] + neg, r->len[i] - neg, &u) || u > (unsigned long long)INT64_MAX)
		return false;
	*v = neg ? -(long long)u : (long long)u;
	return true;
}

static char *field_str(const struct rec *r, size_t i)
{
	struct buf b = BUF_INIT;
	field_unescape(r->f[i], r->len[i], &b);
	return buf_steal(&b);
}

/* Keyword list field -> bits of mailbox_id (names added as needed). */
static int apply_keywords(struct om_index *idx, int64_t mailbox_id, const char *f, size_t len,
			  uint64_t *mask_r)
{
	*mask_r = 0;
	if (len == 0)
		return 0;
	char **names;
	size_t n;
	int ret = index_keywords_get(idx, mailbox_id, &names, &n);
	if (ret < 0)
		return ret;
	struct buf kw = BUF_INIT;
	const char *p = f, *end = f + len;
	while (p < end && ret == 0) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t l = comma ? (size_t)(comma - p) : (size_t)(end - p);
		field_unescape(p, l, &kw);
		p += l + 1;
		if (kw.len == 0 || !mail_keyword_valid(kw.data))
			continue;
		size_t k;
		for (k = 0; k < n && !om_str_ieq(names[k], kw.data); k++)
			;
		if (k == n) {
			if (n >= MAIL_MAX_KEYWORDS)
				continue;
			ret = index_keyword_add(idx, mailbox_id, (unsigned)n, kw.data);
			if (ret < 0)
				break;
			names = om_reallocarray(names, n + 1, sizeof(*names));
			names[n++] = om_strdup(kw.data);
		}
		*mask_r |= UINT64_C(1) << k;
	}
	buf_free(&kw);
	mail_names_free(names, n);
	return ret;
}

static int mb_by_guid(struct om_index *idx, const struct rec *r, struct index_mailbox *mb)
{
	if (r->n < 2 || r->len[1] != 32)
		return -OM_EINVAL;
	char guid[33];
	memcpy(guid, r->f[1], 32);
	guid[32] = '\0';
	return index_mailbox_get_by_guid(idx, guid, mb);
}

static int apply_append(struct om_index *idx, const struct rec *r)
{
	unsigned long long uid, flags, vsize;
	long long date, tz;
	if (r->n < 9 || r->len[3] != 32 || !field_u64(r, 2, &uid) || uid == 0 || uid > UINT32_MAX ||
	    !field_u64(r, 4, &flags) || !field_u64(r, 6, &vsize) || !field_i64(r, 7, &date) ||
	    !field_i64(r, 8, &tz))
		return -OM_EINVAL;
	struct index_mailbox mb;
	int ret = mb_by_guid(idx, r, &mb);
	if (ret < 0)
		return ret;
	struct index_msg msg = { 0 }, old;
	memcpy(msg.rec.guid, r->f[3], 32);
	msg.rec.uid = (uint32_t)uid;
	ret = index_msg_get(idx, mb.id, msg.rec.uid, &old);
	if (ret == 0) {
		bool same = strcmp(old.rec.guid, msg.rec.guid) == 0;
		index_msg_clear(&old);
		if (same) {
			index_mailbox_clear(&mb);
			return 0; /* already there */
		}
		msg.rec.uid = mb.uidnext; /* the UID went to another message */
	} else if (ret != -OM_ENOTFOUND) {
		index_mailbox_clear(&mb);
		return ret;
	}
	ret = apply_keywords(idx, mb.id, r->f[5], r->len[5], &msg.rec.keywords);
	msg.rec.flags = (uint32_t)flags & MAIL_FLAGS_STORED;
	msg.rec.size = vsize;
	msg.rec.internal_date = date;
	msg.rec.internal_tz = (int32_t)tz;
	msg.rec.modseq = ++mb.highest_modseq;
	if (ret == 0)
		ret = index_msg_add(idx, mb.id, &msg);
	if (ret == 0 && msg.rec.uid >= mb.uidnext)
		mb.uidnext = msg.rec.uid + 1;
	if (ret == 0)
		ret = index_mailbox_update(idx, &mb);
	if (ret == 0)
		ret = index_pending_delete_remove(idx, msg.rec.guid);
	index_mailbox_clear(&mb);
	return ret;
}

static int apply_flags(struct om_index *idx, const struct rec *r)
{
	unsigned long long uid, flags;
	if (r->n < 5 || !field_u64(r, 2, &uid) || uid > UINT32_MAX || !field_u64(r, 3, &flags))
		return -OM_EINVAL;
	struct index_mailbox mb;
	int ret = mb_by_guid(idx, r, &mb);
	if (ret < 0)
		return ret;
	struct index_msg msg;
	ret = index_msg_get(idx, mb.id, (uint32_t)uid, &msg);
	if (ret == 0) {
		uint64_t kw;
		ret = apply_keywords(idx, mb.id, r->f[4], r->len[4], &kw);
		if (ret == 0 && (msg.rec.flags != (flags & MAIL_FLAGS_STORED) || msg.rec.keywords != kw)) {
			msg.rec.flags = (uint32_t)flags & MAIL_FLAGS_STORED;
			msg.rec.keywords = kw;
			msg.rec.modseq = ++mb.highest_modseq;
			ret = index_msg_update(idx, mb.id, &msg);
			if (ret == 0)
				ret = index_mailbox_update(idx, &mb);
		}
		index_msg_clear(&msg);
	}
	index_mailbox_clear(&mb);
	return ret;
}

static int apply_expunge(struct om_index *idx, const struct rec *r, uint64_t after_seq)
{
	unsigned long long uid;
	if (r->n < 3 || !field_u64(r, 2, &uid) || uid > UINT32_MAX)
		return -OM_EINVAL;
	struct index_mailbox mb;
	int ret = mb_by_guid(idx, r, &mb);
	if (ret < 0)
		return ret;
	struct index_msg msg;
	ret = index_msg_get(idx, mb.id, (uint32_t)uid, &msg);
	if (ret == 0) {
		ret = obox_maybe_pending_delete(idx, msg.rec.guid, mb.id, msg.rec.uid, after_seq);
		if (ret == 0)
			ret = index_msg_expunge(idx, mb.id, msg.rec.uid, ++mb.highest_modseq);
		if (ret == 0)
			ret = index_mailbox_update(idx, &mb);
		index_msg_clear(&msg);
	}
	index_mailbox_clear(&mb);
	return ret;
}

static int apply_create(struct om_index *idx, const char *user, const struct rec *r)
{
	unsigned long long uidvalidity, special;
	if (r->n < 5 || r->len[1] != 32 || !field_u64(r, 3, &uidvalidity) ||
	    uidvalidity > UINT32_MAX || !field_u64(r, 4, &special))
		return -OM_EINVAL;
	struct index_mailbox mb;
	int ret = mb_by_guid(idx, r, &mb);
	if (ret == 0) {
		index_mailbox_clear(&mb);
		return 0;
	}
	struct index_mailbox nmb = { .uidvalidity = (uint32_t)uidvalidity, .uidnext = 1,
				     .first_recent_uid = 1, .highest_modseq = 1,
				     .special_use = (unsigned)special & MBOX_SPECIAL_MASK };
	memcpy(nmb.guid, r->f[1], 32);
	nmb.name = field_str(r, 2);
	ret = index_mailbox_add(idx, &nmb);
	if (ret == -OM_EEXISTS) {
		log_warn("obox %s: log creates mailbox %s, which exists with another GUID; skipped",
			 user, nmb.name);
		ret = 0;
	}
	free(nmb.name);
	return ret;
}

static int apply_rename(struct om_index *idx, const char *user, const struct rec *r)
{
	if (r->n < 3)
		return -OM_EINVAL;
	struct index_mailbox mb, other;
	int ret = mb_by_guid(idx, r, &mb);
	if (ret < 0)
		return ret;
	char *name = field_str(r, 2);
	ret = index_mailbox_get(idx, name, &other);
	if (ret == 0) {
		if (other.id != mb.id)
			log_warn("obox %s: log renames a mailbox to %s, which exists; skipped", user, name);
		index_mailbox_clear(&other);
	} else if (ret == -OM_ENOTFOUND) {
		ret = index_mailbox_set_name(idx, mb.id, name);
	}
	free(name);
	index_mailbox_clear(&mb);
	return ret;
}

static int apply_delete(struct om_index *idx, const struct rec *r, uint64_t after_seq)
{
	struct index_mailbox mb;
	int ret = mb_by_guid(idx, r, &mb);
	if (ret < 0)
		return ret;
	struct index_msg *msgs;
	size_t n;
	ret = index_msgs_get(idx, mb.id, &msgs, &n);
	if (ret == 0) {
		for (size_t i = 0; ret == 0 && i < n; i++)
			ret = obox_maybe_pending_delete(idx, msgs[i].rec.guid, mb.id, 0, after_seq);
		index_msgs_free(msgs, n);
	}
	if (ret == 0)
		ret = index_mailbox_delete(idx, mb.id);
	index_mailbox_clear(&mb);
	return ret;
}

static int apply_subs(struct om_index *idx, const struct rec *r)
{
	size_t total = r->n - 1 + r->n_more;
	char **names = om_calloc(total + 1, sizeof(*names));
	size_t n = 0;
	for (size_t i = 1; i < r->n; i++)
		names[n++] = field_str(r, i);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < r->n_more; i++) {
		field_unescape(r->more[i], r->more_len[i], &b);
		names[n++] = buf_steal(&b);
	}
	buf_free(&b);
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (names[i][0] != '\0')
			names[kept++] = names[i];
		else
			free(names[i]);
	}
	int ret = index_subs_replace(idx, names, kept);
	mail_names_free(names, kept);
	return ret;
}

static int apply_line(struct om_index *idx, const char *user, const char *line, size_t len,
		      uint64_t after_seq)
{
	struct rec r = { .n = 0 };
	const char *p = line, *end = line + len;
	size_t cap_more = 0;
	while (p <= end) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		size_t l = tab ? (size_t)(tab - p) : (size_t)(end - p);
		if (r.n < 16) {
			r.f[r.n] = p;
			r.len[r.n++] = l;
		} else if (r.n_more < MAX_FIELDS) {
			if (r.n_more == cap_more) {
				cap_more = cap_more ? cap_more * 2 : 16;
				r.more = om_reallocarray(r.more, cap_more, sizeof(*r.more));
				r.more_len = om_reallocarray(r.more_len, cap_more, sizeof(*r.more_len));
			}
			r.more[r.n_more] = p;
			r.more_len[r.n_more++] = l;
		}
		p += l + 1;
	}
	int ret;
	if (r.len[0] != 1) {
		ret = -OM_EINVAL;
	} else {
		switch (r.f[0][0]) {
		case 'A': ret = apply_append(idx, &r); break;
		case 'F': ret = apply_flags(idx, &r); break;
		case 'X': ret = apply_expunge(idx, &r, after_seq); break;
		case 'C': ret = apply_create(idx, user, &r); break;
		case 'R': ret = apply_rename(idx, user, &r); break;
		case 'D': ret = apply_delete(idx, &r, after_seq); break;
		case 'S': ret = apply_subs(idx, &r); break;
		default: ret = -OM_EINVAL; break;
		}
	}
	free(r.more);
	free(r.more_len);
	return ret;
}

int obox_log_apply(struct om_index *idx, const char *user, const char *data, size_t len,
		   uint64_t after_seq)
{
	int ret = index_begin(idx);
	if (ret < 0)
		return ret;
	const char *p = data, *end = data + len;
	while (p < end && ret == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (l > 0) {
			int r = apply_line(idx, user, p, l, after_seq);
			if (r == -OM_EINVAL || r == -OM_ENOTFOUND) {
				/* a record about a mailbox deleted since, or garbage */
				log_debug("obox %s: log record skipped (%s): %.*s", user,
					  om_strerror(r), (int)(l > 200 ? 200 : l), p);
			} else {
				ret = r;
			}
		}
		p += l + 1;
	}
	if (ret == 0)
		ret = index_commit(idx);
	if (ret < 0)
		index_rollback(idx);
	return ret;
}

/* --- uploading --- */

int obox_log_upload(struct obox_user *ou)
{
	int ret = 0;
	for (;;) {
		pthread_mutex_lock(&ou->olock);
		if (ou->pending.len == 0 || ou->lease_lost) {
			ret = ou->pending.len == 0 ? ret : -OM_ETEMP;
			pthread_mutex_unlock(&ou->olock);
			return ret;
		}
		/* cut at a record boundary so one log stays small */
		size_t take = ou->pending.len;
		if (take > OBOX_MAX_LOG_BYTES) {
			const char *cut = ou->pending.data + OBOX_MAX_LOG_BYTES;
			while (cut > ou->pending.data && cut[-1] != '\n')
				cut--;
			if (cut > ou->pending.data)
				take = (size_t)(cut - ou->pending.data);
		}
		struct buf data = BUF_INIT;
		buf_append(&data, ou->pending.data, take);
		uint64_t seq = ou->seq;
		uint32_t n = ou->log_n;
		pthread_mutex_unlock(&ou->olock);

		struct buf key = BUF_INIT;
		buf_printf(&key, "%sidx/log.%016llx.%08x", ou->key_prefix, (unsigned long long)seq, n);
		ret = objstore_put(obox_store(), key.data, data.data, data.len, NULL, 0, NULL, NULL);
		pthread_mutex_lock(&ou->olock);
		if (ret == 0) {
			/* only this thread (flush_lock) removes from the front */
			memmove(ou->pending.data, ou->pending.data + take, ou->pending.len - take);
			buf_truncate(&ou->pending, ou->pending.len - take);
			ou->log_n = n + 1;
		}
		pthread_mutex_unlock(&ou->olock);
		if (ret < 0) {
			obox_count(OBOX_C_LOG_ERR, 1);
			log_warn("obox %s: uploading %s failed (%s); kept, will retry",
				 ou->user.name, key.data, om_strerror(ret));
			ret = -OM_ETEMP;
		} else {
			obox_count(OBOX_C_LOG_OK, 1);
			obox_state_write(ou, false);
		}
		buf_free(&key);
		buf_free(&data);
		if (ret < 0)
			return ret;
	}
}
