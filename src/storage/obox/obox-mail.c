/* Messages in obox: one immutable object per message under m/<guid>. A
 * save returns only after the store says the object is durable (rule 1);
 * flags live only in the index (and its logs/bundles); copies reference the
 * same object (rule 3); an expunge only queues the object's delete until a
 * bundle without it is uploaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <zstd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/obox/obox.h"

void obox_guid_random(char guid[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
		if (r <= 0)
			fatal("getrandom failed");
		got += (size_t)r;
	}
	for (size_t i = 0; i < 16; i++) {
		guid[2 * i] = hex[raw[i] >> 4];
		guid[2 * i + 1] = hex[raw[i] & 15];
	}
	guid[32] = '\0';
}

void obox_msg_key(const struct obox_user *ou, const char *guid, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "%sm/%s", ou->key_prefix, guid);
}

int obox_store_error(struct obox_user *ou, const char *op, const char *key, int err)
{
	mail_user_set_error(&ou->user, "object store: %s %s: %s", op, key, om_strerror(err));
	return err == -OM_EINVAL ? -OM_EINVAL : -OM_ETEMP;
}

int obox_append_record(struct om_index *idx, const struct index_mailbox *mb,
		       const struct index_msg *msg, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "A\t%s\t%u\t%s\t%u\t", mb->guid, msg->rec.uid, msg->rec.guid,
		   msg->rec.flags & MAIL_FLAGS_STORED);
	int ret = obox_keywords_field(idx, mb->id, msg->rec.keywords, out);
	buf_printf(out, "\t%llu\t%lld\t%d", (unsigned long long)msg->rec.size,
		   (long long)msg->rec.internal_date, (int)msg->rec.internal_tz);
	return ret;
}

/* Write the message object (CRLF bytes, optionally zstd) with its
 * metadata; durable when this returns 0. */
static int object_put(struct obox_user *ou, const char *mb_guid, uint32_t uid,
		      const struct mail_save_req *req, const char *kws, const char *guid)
{
	struct buf crlf = BUF_INIT, z = BUF_INIT, key = BUF_INIT;
	mail_data_to_crlf(req->data, req->len, &crlf);
	const char *data = crlf.data != NULL ? crlf.data : "";
	size_t len = crlf.len;
	struct objstore_meta meta = { 0 };
	char num[64];
	objstore_meta_set(&meta, "mailbox", mb_guid);
	snprintf(num, sizeof(num), "%u", uid);
	objstore_meta_set(&meta, "uid", num);
	snprintf(num, sizeof(num), "%lld", (long long)req->internal_date);
	objstore_meta_set(&meta, "date", num);
	snprintf(num, sizeof(num), "%d", (int)req->internal_tz);
	objstore_meta_set(&meta, "tz", num);
	snprintf(num, sizeof(num), "%u", req->flags & MAIL_FLAGS_STORED);
	objstore_meta_set(&meta, "flags", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)req->vsize);
	objstore_meta_set(&meta, "vsize", num);
	if (kws[0] != '\0' && strlen(kws) <= 1000) /* the index has them all anyway */
		objstore_meta_set(&meta, "keywords", kws);
	if (obox_settings()->compress && len >= OBOX_COMPRESS_MIN) {
		size_t bound = ZSTD_compressBound(len);
		buf_reserve(&z, bound);
		size_t zl = ZSTD_compress(z.data, bound, data, len, 3);
		if (!ZSTD_isError(zl) && zl < len) {
			z.len = zl;
			data = z.data;
			len = zl;
			objstore_meta_set(&meta, "compress", "zstd");
		}
	}
	obox_msg_key(ou, guid, &key);
	int ret = objstore_put(obox_store(), key.data, data, len, &meta, 0, NULL, NULL);
	if (ret < 0)
		ret = obox_store_error(ou, "put", key.data, ret);
	objstore_meta_free(&meta);
	buf_free(&crlf);
	buf_free(&z);
	buf_free(&key);
	return ret;
}

struct obox_prep {
	char guid[33];
};

int obox_msg_upload(struct mail_user *user, const char *mailbox, const struct mail_save *save,
		    const struct mail_save_req *req, void **prep_r)
{
	struct obox_user *ou = obox_user(user);
	struct index_mailbox mb = { 0 };
	*prep_r = NULL;
	mail_user_lock(user);
	int ret = mail_user_find_mailbox(user, mailbox, &mb);
	if (ret == 0)
		ret = obox_writable(ou);
	mail_user_unlock(user);
	struct buf kws = BUF_INIT;
	for (size_t i = 0; ret == 0 && i < save->n_keywords; i++) {
		if (!mail_keyword_valid(save->keywords[i]))
			continue;
		if (kws.len > 0)
			buf_append_c(&kws, ',');
		obox_field_escape(&kws, save->keywords[i]);
	}
	struct obox_prep *prep = NULL;
	if (ret == 0) {
		prep = om_calloc(1, sizeof(*prep));
		obox_guid_random(prep->guid);
		/* the UID is a hint (the next free one now): a rebuild that finds
		 * the object without its index row tries it first */
		ret = object_put(ou, mb.guid, mb.uidnext, req, buf_cstr(&kws), prep->guid);
	}
	if (ret < 0) {
		free(prep);
		prep = NULL;
	}
	*prep_r = prep;
	buf_free(&kws);
	index_mailbox_clear(&mb);
	return ret;
}

void obox_msg_upload_done(struct mail_user *user, void *p, bool saved)
{
	struct obox_prep *prep = p;
	if (!saved) {
		/* never indexed nor logged: nobody references it */
		struct buf key = BUF_INIT;
		obox_msg_key(obox_user(user), prep->guid, &key);
		int ret = objstore_delete(obox_store(), key.data);
		if (ret < 0 && ret != -OM_ENOTFOUND)
			log_warn("obox %s: removing %s of a failed save: %s (a rebuild may add it)",
				 user->name, key.data, om_strerror(ret));
		buf_free(&key);
	}
	free(prep);
}

int obox_msg_save(struct mail_user *user, struct index_mailbox *mb,
		  const struct mail_save_req *req, struct index_msg *msg_r)
{
	struct obox_user *ou = obox_user(user);
	int ret = obox_writable(ou);
	if (ret < 0)
		return ret;
	memset(msg_r, 0, sizeof(*msg_r));
	msg_r->rec.uid = mb->uidnext;
	msg_r->rec.flags = req->flags & MAIL_FLAGS_STORED;
	msg_r->rec.keywords = req->keywords;
	msg_r->rec.size = req->vsize;
	msg_r->rec.internal_date = req->internal_date;
	msg_r->rec.internal_tz = req->internal_tz;
	msg_r->ddata = om_strdup("");
	struct buf kws = BUF_INIT, rec = BUF_INIT;
	if (req->prep != NULL) {
		/* uploaded before the lock (obox_msg_upload) */
		memcpy(msg_r->rec.guid, ((const struct obox_prep *)req->prep)->guid, 33);
	} else {
		obox_guid_random(msg_r->rec.guid);
		ret = obox_keywords_field(user->index, mb->id, req->keywords, &kws);
		if (ret == 0)
			ret = object_put(ou, mb->guid, msg_r->rec.uid, req, buf_cstr(&kws),
					 msg_r->rec.guid);
	}
	/* Durable now: the index may learn of it. */
	if (ret == 0)
		ret = obox_append_record(user->index, mb, msg_r, &rec);
	if (ret == 0)
		obox_log_add(ou, rec.data);
	else
		index_msg_clear(msg_r);
	buf_free(&kws);
	buf_free(&rec);
	return ret;
}

int obox_msg_set_flags(struct mail_user *user, const struct index_mailbox *mb,
		       struct index_msg *msg, uint32_t flags, uint64_t keywords)
{
	struct obox_user *ou = obox_user(user);
	int ret = obox_writable(ou);
	if (ret < 0)
		return ret;
	struct buf rec = BUF_INIT;
	buf_printf(&rec, "F\t%s\t%u\t%u\t", mb->guid, msg->rec.uid, flags & MAIL_FLAGS_STORED);
	ret = obox_keywords_field(user->index, mb->id, keywords, &rec);
	if (ret == 0)
		obox_log_add(ou, rec.data);
	buf_free(&rec);
	return ret;
}

int obox_msg_expunge(struct mail_user *user, const struct index_mailbox *mb,
		     const struct index_msg *msg)
{
	struct obox_user *ou = obox_user(user);
	int ret = obox_writable(ou);
	if (ret == 0)
		ret = obox_maybe_pending_delete(user->index, msg->rec.guid, mb->id, msg->rec.uid,
						obox_delete_after_seq(ou));
	if (ret == 0) {
		struct buf rec = BUF_INIT;
		buf_printf(&rec, "X\t%s\t%u", mb->guid, msg->rec.uid);
		obox_log_add(ou, rec.data);
		buf_free(&rec);
	}
	return ret;
}

int obox_msg_copy(struct mail_user *user, const struct index_mailbox *src,
		  const struct index_msg *msg, struct index_mailbox *dst,
		  uint32_t flags, uint64_t keywords, struct index_msg *msg_r)
{
	struct obox_user *ou = obox_user(user);
	int ret = obox_writable(ou);
	if (ret < 0)
		return ret;
	(void)src;
	memset(msg_r, 0, sizeof(*msg_r));
	msg_r->rec = msg->rec;
	msg_r->rec.uid = dst->uidnext;
	msg_r->rec.flags = flags & MAIL_FLAGS_STORED;
	msg_r->rec.keywords = keywords;
	msg_r->rec.modseq = 0;
	msg_r->ddata = om_strdup(msg->ddata != NULL ? msg->ddata : "");
	/* the same object: nothing to copy in the store */
	struct buf rec = BUF_INIT;
	ret = obox_append_record(user->index, dst, msg_r, &rec);
	if (ret == 0)
		obox_log_add(ou, rec.data);
	else
		index_msg_clear(msg_r);
	buf_free(&rec);
	return ret;
}

static int decompress(const struct buf *in, uint64_t limit, struct buf *out)
{
	unsigned long long size = ZSTD_getFrameContentSize(in->data, in->len);
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > limit)
		return -OM_EIO;
	size_t start = out->len;
	buf_reserve(out, (size_t)size + 1);
	size_t got = ZSTD_decompress(out->data + start, (size_t)size, in->data, in->len);
	if (ZSTD_isError(got) || got != size)
		return -OM_EIO;
	out->len = start + got;
	out->data[out->len] = '\0';
	return 0;
}

int obox_msg_read(struct mail_user *user, const struct index_mailbox *mb,
		  const struct index_msg *msg, struct buf *out)
{
	struct obox_user *ou = obox_user(user);
	(void)mb;
	obox_touch(ou);
	struct buf key = BUF_INIT, raw = BUF_INIT;
	struct objstore_meta meta = { 0 };
	obox_msg_key(ou, msg->rec.guid, &key);
	int ret = objstore_get(obox_store(), key.data, 0, 0, &raw, &meta, NULL);
	if (ret < 0) {
		ret = obox_store_error(ou, "get", key.data, ret);
	} else {
		const char *c = objstore_meta_get(&meta, "compress");
		if (c != NULL && strcmp(c, "zstd") == 0) {
			uint64_t limit = user->max_size > 0 ? user->max_size * 2 + 65536 : UINT64_C(1) << 32;
			ret = decompress(&raw, limit, out);
			if (ret < 0)
				mail_user_set_error(user, "object %s: bad zstd data", key.data);
		} else if (raw.len > 0) {
			buf_append(out, raw.data, raw.len);
		}
	}
	objstore_meta_free(&meta);
	buf_free(&key);
	buf_free(&raw);
	return ret;
}

static void prefetch_done(void *ctx, size_t i, int err, const struct buf *data,
			  const struct objstore_meta *meta)
{
	(void)i;
	(void)data;
	(void)meta;
	if (err == 0)
		(*(size_t *)ctx)++;
}

int obox_msg_prefetch(struct mail_user *user, const struct index_msg *msgs, size_t n)
{
	struct obox_user *ou = obox_user(user);
	/* more than the cache holds would only evict what we fetched first */
	uint64_t total = 0;
	size_t fit = 0;
	while (fit < n && (fit == 0 || total + msgs[fit].rec.size <= obox_settings()->prefetch_budget))
		total += msgs[fit++].rec.size;
	n = fit;
	char **keys = om_calloc(n, sizeof(*keys));
	struct buf key = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		obox_msg_key(ou, msgs[i].rec.guid, &key);
		keys[i] = om_strdup(key.data);
	}
	buf_free(&key);
	size_t ok = 0;
	int ret = objstore_get_many(obox_store(), (const char *const *)keys, n,
				    OBOX_PARALLEL_READS, prefetch_done, &ok);
	obox_count(OBOX_C_PREFETCHED, ok);
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return ret;
}
