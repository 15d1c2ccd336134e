/* The generic object store layer: spec dispatch, key checks, and a counted,
 * timed wrapper around every driver call. Drivers: objstore-private.h. */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/objstore-private.h"

/* s3.c and rados.c are written separately. A weak reference to a missing
 * driver resolves to NULL, so the tree links without them; but a weak
 * reference does not pull a member out of a static library, so once the
 * source exists the reference must be strong. */
#if defined(__has_include) && __has_include("s3.c")
extern const struct objstore_ops objstore_s3_ops;
#else
extern const struct objstore_ops objstore_s3_ops __attribute__((weak));
#endif
#if defined(__has_include) && __has_include("rados.c")
extern const struct objstore_ops objstore_rados_ops;
#else
extern const struct objstore_ops objstore_rados_ops __attribute__((weak));
#endif

static const struct {
	const char *prefix;
	const struct objstore_ops *ops;
	const char *name;
} schemes[] = {
	{ "file:", &objstore_file_ops, "file" },
	{ "fscache:", &objstore_fscache_ops, "fscache" },
	{ "faulty:", &objstore_faulty_ops, "faulty" },
	{ "s3://", &objstore_s3_ops, "s3" },
	{ "s3s://", &objstore_s3_ops, "s3" },
	{ "http://", &objstore_s3_ops, "s3" },
	{ "https://", &objstore_s3_ops, "s3" },
	{ "rados://", &objstore_rados_ops, "rados" },
};

#define SPEC_MAX 4096

/* "s3://KEY:SECRET@host/..." -> "s3://KEY:***@host/...", for drivers that
 * don't describe themselves. */
static char *describe_masked(const char *spec)
{
	const char *auth = strstr(spec, "://");
	const char *at = auth == NULL ? NULL : strchr(auth + 3, '@');
	const char *slash = auth == NULL ? NULL : strchr(auth + 3, '/');
	if (at == NULL || (slash != NULL && slash < at))
		return om_strdup(spec);
	const char *colon = memchr(auth + 3, ':', (size_t)(at - auth - 3));
	struct buf b = BUF_INIT;
	buf_append(&b, spec, (size_t)((colon != NULL ? colon : auth + 2) - spec));
	buf_append_str(&b, colon != NULL ? ":***" : "/***");
	buf_append_str(&b, at);
	return buf_steal(&b);
}

int objstore_open(const char *spec, struct objstore **store_r, char **error_r)
{
	char *dummy_error = NULL;
	if (error_r == NULL)
		error_r = &dummy_error;
	*error_r = NULL;
	*store_r = NULL;
	if (spec == NULL || strnlen(spec, SPEC_MAX + 1) > SPEC_MAX) {
		objstore_set_error(error_r, "object store spec missing or too long");
		free(dummy_error);
		return -OM_EINVAL;
	}
	const struct objstore_ops *ops = NULL;
	const char *name = NULL;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strncmp(spec, schemes[i].prefix, strlen(schemes[i].prefix)) == 0) {
			ops = schemes[i].ops;
			name = schemes[i].name;
			break;
		}
	}
	if (name == NULL) {
		objstore_set_error(error_r, "unknown object store scheme in \"%.40s\"", spec);
		free(dummy_error);
		return -OM_EINVAL;
	}
	if (ops == NULL) {
		objstore_set_error(error_r, "object store driver %s not built", name);
		free(dummy_error);
		return -OM_EINVAL;
	}
	struct objstore *store = NULL;
	int ret = ops->open(spec, &store, error_r);
	if (ret < 0) {
		if (*error_r == NULL)
			objstore_set_error(error_r, "%s: %s", name, om_strerror(ret));
		free(dummy_error);
		return ret;
	}
	store->ops = ops;
	if (store->describe == NULL)
		store->describe = describe_masked(spec);
	*store_r = store;
	free(dummy_error);
	return 0;
}

void objstore_close(struct objstore *store)
{
	if (store == NULL)
		return;
	struct objstore *inner = store->inner;
	free(store->describe);
	store->describe = NULL;
	store->ops->close(store);
	objstore_close(inner);
}

unsigned objstore_caps(const struct objstore *store)
{
	return store->caps;
}

const char *objstore_describe(const struct objstore *store)
{
	return store->describe;
}

/* Counting */

static enum objstore_result result_of(int ret)
{
	switch (ret >= 0 ? 0 : -ret) {
	case 0: return OBJSTORE_RES_OK;
	case OM_ENOTFOUND: return OBJSTORE_RES_NOTFOUND;
	case OM_EEXISTS: return OBJSTORE_RES_EXISTS;
	case OM_ETEMP: return OBJSTORE_RES_TEMP;
	default: return OBJSTORE_RES_ERROR;
	}
}

static void count(struct objstore *store, enum objstore_op op, int ret, uint64_t start_us)
{
	uint64_t us = objstore_now_us() - start_us;
	struct objstore_stats *st = &store->stats;
	atomic_fetch_add_explicit(&st->requests[op][result_of(ret)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->latency_us_sum[op], us, memory_order_relaxed);
	size_t b = 0;
	while (b < OBJSTORE_HIST_BUCKETS && us > objstore_hist_bounds_us[b])
		b++;
	atomic_fetch_add_explicit(&st->hist[op][b], 1, memory_order_relaxed);
}

static void count_bytes(atomic_uint_fast64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* Operations */

int objstore_put(struct objstore *store, const char *key, const void *data, size_t len,
		 const struct objstore_meta *meta, unsigned flags, const char *if_match,
		 char *etag_r)
{
	if (etag_r != NULL)
		etag_r[0] = '\0';
	if (!objstore_key_valid(key) || !objstore_meta_valid(meta) ||
	    (data == NULL && len > 0))
		return -OM_EINVAL;
	if ((flags & ~(unsigned)(OBJSTORE_PUT_IF_ABSENT | OBJSTORE_PUT_IF_MATCH)) != 0 ||
	    flags == (OBJSTORE_PUT_IF_ABSENT | OBJSTORE_PUT_IF_MATCH))
		return -OM_EINVAL;
	if ((flags & OBJSTORE_PUT_IF_MATCH) != 0 && (if_match == NULL || if_match[0] == '\0'))
		return -OM_EINVAL;
	if (flags != 0 && (store->caps & OBJSTORE_CAP_COND_PUT) == 0)
		return -OM_EINVAL;
	if ((flags & OBJSTORE_PUT_IF_MATCH) == 0)
		if_match = NULL;
	uint64_t start = objstore_now_us();
	int ret = store->ops->put(store, key, data, len, meta, flags, if_match, etag_r);
	count(store, OBJSTORE_OP_PUT, ret, start);
	if (ret == 0)
		count_bytes(&store->stats.bytes_out, len);
	return ret;
}

static int get_uncounted(struct objstore *store, const char *key, uint64_t offset,
			 uint64_t length, struct buf *out, struct objstore_meta *meta_r,
			 struct objstore_stat *stat_r)
{
	if (meta_r != NULL)
		memset(meta_r, 0, sizeof(*meta_r));
	if (stat_r != NULL)
		memset(stat_r, 0, sizeof(*stat_r));
	if (!objstore_key_valid(key))
		return -OM_EINVAL;
	size_t before = out->len;
	int ret = store->ops->get(store, key, offset, length, out, meta_r, stat_r);
	if (ret < 0) {
		buf_truncate(out, before);
		objstore_meta_free(meta_r);
	}
	return ret;
}

int objstore_get(struct objstore *store, const char *key, uint64_t offset, uint64_t length,
		 struct buf *out, struct objstore_meta *meta_r, struct objstore_stat *stat_r)
{
	size_t before = out->len;
	uint64_t start = objstore_now_us();
	int ret = get_uncounted(store, key, offset, length, out, meta_r, stat_r);
	count(store, OBJSTORE_OP_GET, ret, start);
	if (ret == 0)
		count_bytes(&store->stats.bytes_in, out->len - before);
	return ret;
}

struct stream_count {
	int (*sink)(void *ctx, const void *data, size_t len);
	void *ctx;
	uint64_t bytes;
};

static int stream_count_sink(void *ctx, const void *data, size_t len)
{
	struct stream_count *sc = ctx;
	sc->bytes += len;
	return sc->sink(sc->ctx, data, len);
}

#define STREAM_FALLBACK_CHUNK (1024 * 1024)

/* Without a streaming driver call: fetch in ranged pieces so memory stays
 * bounded even for big objects. */
static int get_stream_fallback(struct objstore *store, const char *key, uint64_t offset,
			       uint64_t length, struct stream_count *sc)
{
	struct buf chunk = BUF_INIT;
	int ret = 0;
	for (;;) {
		uint64_t want = STREAM_FALLBACK_CHUNK;
		if (length != 0 && length - sc->bytes < want)
			want = length - sc->bytes;
		if (want == 0)
			break;
		buf_reset(&chunk);
		ret = store->ops->get(store, key, offset + sc->bytes, want, &chunk, NULL, NULL);
		if (ret < 0)
			break;
		if (chunk.len > 0) {
			ret = stream_count_sink(sc, chunk.data, chunk.len);
			if (ret != 0)
				break;
		}
		if (chunk.len < want)
			break;
	}
	buf_free(&chunk);
	return ret;
}

int objstore_get_stream(struct objstore *store, const char *key, uint64_t offset,
			uint64_t length, int (*sink)(void *ctx, const void *data, size_t len),
			void *ctx)
{
	if (!objstore_key_valid(key) || sink == NULL)
		return -OM_EINVAL;
	struct stream_count sc = { sink, ctx, 0 };
	uint64_t start = objstore_now_us();
	int ret;
	if (store->ops->get_stream != NULL)
		ret = store->ops->get_stream(store, key, offset, length, stream_count_sink, &sc);
	else
		ret = get_stream_fallback(store, key, offset, length, &sc);
	count(store, OBJSTORE_OP_GET, ret, start);
	count_bytes(&store->stats.bytes_in, sc.bytes);
	return ret;
}

int objstore_head(struct objstore *store, const char *key, struct objstore_stat *stat_r,
		  struct objstore_meta *meta_r)
{
	if (meta_r != NULL)
		memset(meta_r, 0, sizeof(*meta_r));
	if (stat_r != NULL)
		memset(stat_r, 0, sizeof(*stat_r));
	if (!objstore_key_valid(key))
		return -OM_EINVAL;
	uint64_t start = objstore_now_us();
	int ret = store->ops->head(store, key, stat_r, meta_r);
	count(store, OBJSTORE_OP_HEAD, ret, start);
	if (ret < 0)
		objstore_meta_free(meta_r);
	return ret;
}

int objstore_delete(struct objstore *store, const char *key)
{
	if (!objstore_key_valid(key))
		return -OM_EINVAL;
	uint64_t start = objstore_now_us();
	int ret = store->ops->del(store, key);
	count(store, OBJSTORE_OP_DELETE, ret, start);
	return ret;
}

int objstore_list(struct objstore *store, const char *prefix,
		  int (*cb)(void *ctx, const char *key, uint64_t size), void *ctx)
{
	if (prefix == NULL)
		prefix = "";
	if (strnlen(prefix, 1025) > 1024 || cb == NULL)
		return -OM_EINVAL;
	uint64_t start = objstore_now_us();
	int ret = store->ops->list(store, prefix, cb, ctx);
	count(store, OBJSTORE_OP_LIST, ret, start);
	return ret;
}

/* get_many */

struct many_ctx {
	struct objstore *store;
	void (*done)(void *ctx, size_t i, int err, const struct buf *data,
		     const struct objstore_meta *meta);
	void *ctx;
	const size_t *idx; /* driver's index (into the valid keys) -> caller's */
	uint64_t start_us;
};

static void many_done(void *ctx, size_t i, int err, const struct buf *data,
		      const struct objstore_meta *meta)
{
	struct many_ctx *mc = ctx;
	/* Latency of one key: from the start of the batch to its completion. */
	count(mc->store, OBJSTORE_OP_GET, err, mc->start_us);
	if (err == 0 && data != NULL)
		count_bytes(&mc->store->stats.bytes_in, data->len);
	mc->done(mc->ctx, mc->idx[i], err, data, meta);
}

#define GET_MANY_MAX 100000

int objstore_get_many(struct objstore *store, const char *const *keys, size_t n,
		      unsigned parallel,
		      void (*done)(void *ctx, size_t i, int err, const struct buf *data,
				   const struct objstore_meta *meta),
		      void *ctx)
{
	if (done == NULL || (n > 0 && keys == NULL) || n > GET_MANY_MAX)
		return -OM_EINVAL;
	if (parallel == 0)
		parallel = 1;
	/* Bad keys fail alone; the rest still go to the driver together. */
	const char **good = om_calloc(n == 0 ? 1 : n, sizeof(*good));
	size_t *good_idx = om_calloc(n == 0 ? 1 : n, sizeof(*good_idx));
	size_t ngood = 0;
	for (size_t i = 0; i < n; i++) {
		if (!objstore_key_valid(keys[i])) {
			done(ctx, i, -OM_EINVAL, NULL, NULL);
			continue;
		}
		good[ngood] = keys[i];
		good_idx[ngood++] = i;
	}
	int ret = 0;
	if (store->ops->get_many != NULL && ngood > 0) {
		struct many_ctx mc = { store, done, ctx, good_idx, objstore_now_us() };
		ret = store->ops->get_many(store, good, ngood, parallel, many_done, &mc);
	} else {
		struct buf data = BUF_INIT;
		for (size_t g = 0; g < ngood; g++) {
			struct objstore_meta meta;
			buf_reset(&data);
			uint64_t start = objstore_now_us();
			int err = get_uncounted(store, good[g], 0, 0, &data, &meta, NULL);
			count(store, OBJSTORE_OP_GET, err, start);
			if (err == 0)
				count_bytes(&store->stats.bytes_in, data.len);
			done(ctx, good_idx[g], err, err == 0 ? &data : NULL, err == 0 ? &meta : NULL);
			objstore_meta_free(&meta);
		}
		buf_free(&data);
	}
	free(good);
	free(good_idx);
	return ret;
}

/* Locks */

static bool owner_valid(const char *owner)
{
	size_t len = owner == NULL ? 0 : strnlen(owner, OBJSTORE_OWNER_MAX + 1);
	if (len == 0 || len > OBJSTORE_OWNER_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)owner[i] < 0x20 || (unsigned char)owner[i] > 0x7e)
			return false;
	}
	return true;
}

int objstore_lock(struct objstore *store, const char *key, const char *owner, unsigned ttl)
{
	if (!objstore_key_valid(key) || !owner_valid(owner) || ttl == 0)
		return -OM_EINVAL;
	uint64_t start = objstore_now_us();
	int ret;
	if (store->ops->lock != NULL)
		ret = store->ops->lock(store, key, owner, ttl);
	else if ((store->caps & OBJSTORE_CAP_COND_PUT) != 0)
		ret = objstore_lease_lock(store, key, owner, ttl);
	else
		ret = -OM_EINVAL;
	count(store, OBJSTORE_OP_LOCK, ret, start);
	return ret;
}

int objstore_lock_info(struct objstore *store, const char *key, char *owner_r,
		       size_t owner_size, int64_t *expiry_r)
{
	if (!objstore_key_valid(key) || owner_size == 0)
		return -OM_EINVAL;
	owner_r[0] = '\0';
	*expiry_r = 0;
	uint64_t start = objstore_now_us();
	int ret;
	if (store->ops->lock_info != NULL)
		ret = store->ops->lock_info(store, key, owner_r, owner_size, expiry_r);
	else if (store->ops->lock == NULL && (store->caps & OBJSTORE_CAP_COND_PUT) != 0)
		ret = objstore_lease_info(store, key, owner_r, owner_size, expiry_r);
	else
		ret = -OM_EINVAL;
	count(store, OBJSTORE_OP_LOCK, ret == -OM_ENOTFOUND ? 0 : ret, start);
	return ret;
}

int objstore_lock_holder(struct objstore *store, const char *key,
			 struct objstore_lock_holder *h_r)
{
	memset(h_r, 0, sizeof(*h_r));
	if (!objstore_key_valid(key))
		return -OM_EINVAL;
	uint64_t start = objstore_now_us();
	int ret;
	if (store->ops->lock_holder != NULL)
		ret = store->ops->lock_holder(store, key, h_r);
	else if (store->ops->lock == NULL && (store->caps & OBJSTORE_CAP_COND_PUT) != 0)
		ret = objstore_lease_holder(store, key, h_r);
	else
		ret = -OM_EINVAL;
	count(store, OBJSTORE_OP_LOCK, ret == -OM_ENOTFOUND ? 0 : ret, start);
	return ret;
}

int objstore_lock_break(struct objstore *store, const char *key,
			const struct objstore_lock_holder *h, const char *owner, unsigned ttl)
{
	if (!objstore_key_valid(key) || !owner_valid(owner) || ttl == 0 ||
	    !owner_valid(h->owner) || h->token[0] == '\0' ||
	    memchr(h->token, '\0', sizeof(h->token)) == NULL)
		return -OM_EINVAL;
	uint64_t start = objstore_now_us();
	int ret;
	if (store->ops->lock_break != NULL)
		ret = store->ops->lock_break(store, key, h, owner, ttl);
	else if (store->ops->lock == NULL && (store->caps & OBJSTORE_CAP_COND_PUT) != 0)
		ret = objstore_lease_break(store, key, h, owner, ttl);
	else
		ret = -OM_EINVAL;
	count(store, OBJSTORE_OP_LOCK, ret, start);
	return ret;
}

int objstore_unlock(struct objstore *store, const char *key, const char *owner)
{
	if (!objstore_key_valid(key) || !owner_valid(owner))
		return -OM_EINVAL;
	uint64_t start = objstore_now_us();
	int ret;
	if (store->ops->unlock != NULL)
		ret = store->ops->unlock(store, key, owner);
	else if ((store->caps & OBJSTORE_CAP_COND_PUT) != 0)
		ret = objstore_lease_unlock(store, key, owner);
	else
		ret = -OM_EINVAL;
	count(store, OBJSTORE_OP_LOCK, ret, start);
	return ret;
}
