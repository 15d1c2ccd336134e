/* fscache:SIZE:DIR:<inner> — a write-through LRU disk cache over any store.
 *
 * The inner store is the truth. put goes to it first and only then is the
 * cached copy written; get serves DIR when it has the key (a hit needs no
 * inner call: metadata and etag are cached too) and otherwise fetches the
 * whole object from inner, serves it and keeps it. head/list/lock go to
 * inner; delete also drops the cached copy.
 *
 * One file per cached object, DIR/<h>/<32 hex of SHA-256(key)>: a header
 * ("OMC1 <hdrlen> <datalen> <mtime>\n" "K <key>\n" + the file-attrs record)
 * then the data. Written to a temp file and renamed, so readers never see a
 * torn entry; not fsynced (a cache): a hit checks that the file is as long
 * as its header says and that the key matches.
 *
 * Size: bytes are reserved (evicting least recently used entries) before a
 * temp file is written, so DIR never holds more than SIZE bytes of entries,
 * in-flight ones included. Objects that don't fit in SIZE are not cached.
 * LRU order survives restarts: every write and hit sets the file's mtime to
 * a strictly increasing stamp; open rebuilds the order from the mtimes.
 *
 * Staleness: each put/delete bumps an epoch (4096 slots by key hash) before
 * and after the inner call; a miss caches what it fetched only if its slot's
 * epoch did not move meanwhile, so an old copy can't land after a new one,
 * and a put caches its data only if no other put/delete of the slot
 * overlapped it (the inner store's order of the two is unknown). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/file-attrs.h"
#include "objstore/fscache-index.h"
#include "objstore/objstore-private.h"

#define HDR_FIRST_LINE 58 /* "OMC1 " + 10 + " " + 20 + " " + 20 + "\n" */
#define HDR_MAX (64 * 1024)
#define STREAM_CHUNK (256 * 1024)
#define EPOCH_SLOTS 4096

static size_t slot_of(const uint8_t *id)
{
	return ((size_t)id[0] << 4 | id[1] >> 4) % EPOCH_SLOTS;
}

struct fscache_store {
	struct objstore base;
	char *dir;
	int dir_fd;
	int lock_fd;
	uint64_t limit;
	pthread_mutex_t mutex; /* everything below */
	struct fscache_index index;
	uint64_t used; /* bytes of entries + reservations */
	int64_t last_stamp_ns;
	uint64_t epoch[EPOCH_SLOTS];
	atomic_uint tmp_counter;
};

#define FSC(store) ((struct fscache_store *)(store))

static void key_id(const char *key, uint8_t id[FSCACHE_ID_LEN])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)key, strlen(key), md);
	memcpy(id, md, FSCACHE_ID_LEN);
}

static void entry_name(const uint8_t *id, struct buf *out)
{
	static const char hex[] = "0123456789abcdef";
	buf_reset(out);
	buf_append_c(out, hex[id[0] >> 4]);
	buf_append_c(out, hex[id[0] & 15]);
	buf_append_c(out, '/');
	for (int i = 0; i < FSCACHE_ID_LEN; i++) {
		buf_append_c(out, hex[id[i] >> 4]);
		buf_append_c(out, hex[id[i] & 15]);
	}
}

static void publish_used(struct fscache_store *fs)
{
	atomic_store(&fs->base.stats.cache_bytes, fs->used);
}

/* Locked. Strictly increasing, so mtimes order entries even within one
 * timestamp tick. */
static int64_t next_stamp(struct fscache_store *fs)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	fs->last_stamp_ns = now > fs->last_stamp_ns ? now : fs->last_stamp_ns + 1;
	return fs->last_stamp_ns;
}

/* Locked. Drop an entry and its file. */
static void drop_entry(struct fscache_store *fs, struct fscache_entry *e, bool eviction)
{
	struct buf name = BUF_INIT;
	entry_name(e->id, &name);
	if (unlinkat(fs->dir_fd, name.data, 0) < 0 && errno != ENOENT)
		log_warn("fscache: unlink %s/%s: %m", fs->dir, name.data);
	buf_free(&name);
	fs->used -= e->size;
	fscache_index_remove(&fs->index, e);
	if (eviction)
		atomic_fetch_add(&fs->base.stats.cache_evictions, 1);
	publish_used(fs);
}

/* Locked. Make room for size bytes and count them as used. */
static bool reserve(struct fscache_store *fs, uint64_t size)
{
	if (size > fs->limit)
		return false;
	while (fs->used + size > fs->limit) {
		struct fscache_entry *e = fscache_index_oldest(&fs->index);
		if (e == NULL)
			return false; /* the rest is other threads' reservations */
		drop_entry(fs, e, true);
	}
	fs->used += size;
	publish_used(fs);
	return true;
}

static void unreserve(struct fscache_store *fs, uint64_t size)
{
	pthread_mutex_lock(&fs->mutex);
	fs->used -= size;
	publish_used(fs);
	pthread_mutex_unlock(&fs->mutex);
}

/* Bump the key's epoch and drop its cached copy; returns the new epoch. */
static uint64_t invalidate(struct fscache_store *fs, const uint8_t *id)
{
	pthread_mutex_lock(&fs->mutex);
	uint64_t e = ++fs->epoch[slot_of(id)];
	struct fscache_entry *old = fscache_index_find(&fs->index, id);
	if (old != NULL)
		drop_entry(fs, old, false);
	pthread_mutex_unlock(&fs->mutex);
	return e;
}

static uint64_t epoch_of(struct fscache_store *fs, const uint8_t *id)
{
	pthread_mutex_lock(&fs->mutex);
	uint64_t e = fs->epoch[slot_of(id)];
	pthread_mutex_unlock(&fs->mutex);
	return e;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct cached_obj {
	const char *key;
	const void *data;
	size_t len;
	const char *etag; /* "" if unknown */
	int64_t mtime;
	const struct objstore_meta *meta;
};

/* Keep a copy of an object, unless its epoch moved since `epoch_seen`.
 * Failures only cost the copy. */
static void cache_store(struct fscache_store *fs, const uint8_t *id, uint64_t epoch_seen,
			const struct cached_obj *o)
{
	struct buf hdr = BUF_INIT, attrs = BUF_INIT, name = BUF_INIT, tmp = BUF_INIT;
	file_attrs_format(o->etag, o->meta, &attrs);
	size_t hdr_len = HDR_FIRST_LINE + 2 + strlen(o->key) + 1 + attrs.len;
	buf_printf(&hdr, "OMC1 %010zu %020llu %020llu\nK %s\n", hdr_len,
		   (unsigned long long)o->len, (unsigned long long)(o->mtime > 0 ? o->mtime : 0),
		   o->key);
	buf_append(&hdr, attrs.data, attrs.len);
	om_assert(hdr.len == hdr_len);
	uint64_t total = hdr.len + (uint64_t)o->len;

	pthread_mutex_lock(&fs->mutex);
	bool ok = fs->epoch[slot_of(id)] == epoch_seen && reserve(fs, total);
	pthread_mutex_unlock(&fs->mutex);
	if (!ok)
		goto out;

	entry_name(id, &name);
	buf_append(&tmp, name.data, 3); /* "xx/" */
	buf_printf(&tmp, ".om.tmp.%ld.%ld.%u", (long)getpid(), (long)gettid(),
		   atomic_fetch_add(&fs->tmp_counter, 1));
	int fd = openat(fs->dir_fd, tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, hdr.data, hdr.len) < 0 || write_all(fd, o->data, o->len) < 0) {
		log_warn("fscache: write %s/%s: %m", fs->dir, tmp.data);
		if (fd >= 0) {
			close(fd);
			(void)unlinkat(fs->dir_fd, tmp.data, 0);
		}
		unreserve(fs, total);
		goto out;
	}

	pthread_mutex_lock(&fs->mutex);
	bool committed = false;
	if (fs->epoch[slot_of(id)] == epoch_seen) {
		int64_t stamp = next_stamp(fs);
		struct timespec times[2] = { { stamp / 1000000000, stamp % 1000000000 },
					     { stamp / 1000000000, stamp % 1000000000 } };
		(void)futimens(fd, times);
		if (renameat(fs->dir_fd, tmp.data, fs->dir_fd, name.data) == 0) {
			struct fscache_entry *old = fscache_index_find(&fs->index, id);
			if (old != NULL) {
				/* its file was just replaced by ours */
				fs->used -= old->size;
				fscache_index_remove(&fs->index, old);
			}
			fscache_index_add(&fs->index, id, total, stamp);
			committed = true;
		} else {
			log_warn("fscache: rename to %s/%s: %m", fs->dir, name.data);
		}
	}
	if (!committed) {
		(void)unlinkat(fs->dir_fd, tmp.data, 0);
		fs->used -= total;
	}
	publish_used(fs);
	pthread_mutex_unlock(&fs->mutex);
	close(fd);
out:
	buf_free(&hdr);
	buf_free(&attrs);
	buf_free(&name);
	buf_free(&tmp);
}

/* A cache hit, opened. */
struct hit {
	int fd;
	uint64_t hdr_len, data_len;
	int64_t mtime;
	struct file_attrs attrs;
};

static bool parse_header(const char *key, int fd, struct hit *h)
{
	char first[HDR_FIRST_LINE];
	if (pread(fd, first, sizeof(first), 0) != (ssize_t)sizeof(first) ||
	    memcmp(first, "OMC1 ", 5) != 0 || first[15] != ' ' || first[36] != ' ' ||
	    first[57] != '\n')
		return false;
	unsigned long long hl, dl, mt;
	if (!om_parse_u64(first + 5, 10, &hl) || !om_parse_u64(first + 16, 20, &dl) ||
	    !om_parse_u64(first + 37, 20, &mt) || hl > HDR_MAX || hl < HDR_FIRST_LINE ||
	    mt > INT64_MAX)
		return false;
	struct buf rest = BUF_INIT;
	size_t rest_len = (size_t)hl - HDR_FIRST_LINE;
	buf_reserve(&rest, rest_len);
	bool ok = pread(fd, rest.data, rest_len, HDR_FIRST_LINE) == (ssize_t)rest_len;
	rest.len = ok ? rest_len : 0;
	rest.data[rest.len] = '\0';
	size_t klen = strlen(key);
	ok = ok && rest_len > klen + 3 && memcmp(rest.data, "K ", 2) == 0 &&
	     memcmp(rest.data + 2, key, klen) == 0 && rest.data[2 + klen] == '\n';
	if (ok) {
		struct buf attrs = BUF_INIT;
		buf_append(&attrs, rest.data + klen + 3, rest_len - klen - 3);
		ok = file_attrs_parse(&attrs, &h->attrs) == 0;
		buf_free(&attrs);
	}
	buf_free(&rest);
	struct stat st;
	if (ok && (fstat(fd, &st) < 0 || (uint64_t)st.st_size != hl + dl)) {
		file_attrs_free(&h->attrs);
		ok = false;
	}
	h->hdr_len = hl;
	h->data_len = dl;
	h->mtime = (int64_t)mt;
	return ok;
}

/* 0 and an open hit, or -1 for a miss. */
static int cache_open(struct fscache_store *fs, const char *key, const uint8_t *id,
		      struct hit *h)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_lock(&fs->mutex);
	struct fscache_entry *e = fscache_index_find(&fs->index, id);
	int64_t stamp = 0;
	if (e != NULL) {
		fscache_index_touch(&fs->index, e);
		stamp = e->stamp_ns = next_stamp(fs);
	}
	pthread_mutex_unlock(&fs->mutex);
	if (e == NULL)
		return -1;
	struct buf name = BUF_INIT;
	entry_name(id, &name);
	h->fd = openat(fs->dir_fd, name.data, O_RDONLY | O_CLOEXEC);
	buf_free(&name);
	if (h->fd >= 0 && parse_header(key, h->fd, h)) {
		struct timespec times[2] = { { stamp / 1000000000, stamp % 1000000000 },
					     { stamp / 1000000000, stamp % 1000000000 } };
		(void)futimens(h->fd, times);
		return 0;
	}
	/* Gone (evicted meanwhile), or broken by a crash: forget it. A hash
	 * collision of two keys lands here too and simply stays a miss. */
	if (h->fd >= 0) {
		close(h->fd);
		log_debug("fscache: dropping bad entry for %s", key);
		pthread_mutex_lock(&fs->mutex);
		e = fscache_index_find(&fs->index, id);
		if (e != NULL)
			drop_entry(fs, e, false);
		pthread_mutex_unlock(&fs->mutex);
	}
	return -1;
}

static void hit_close(struct hit *h)
{
	close(h->fd);
	file_attrs_free(&h->attrs);
}

static void range_of(uint64_t size, uint64_t offset, uint64_t length, uint64_t *start_r,
		     uint64_t *end_r)
{
	*start_r = offset < size ? offset : size;
	*end_r = size;
	if (length != 0 && length < size - *start_r)
		*end_r = *start_r + length;
}

/* Copy [start, end) of the hit's data to out or to sink. */
static int hit_read(const struct hit *h, uint64_t start, uint64_t end, struct buf *out,
		    int (*sink)(void *ctx, const void *data, size_t len), void *ctx)
{
	char *chunk = out == NULL ? om_malloc(STREAM_CHUNK) : NULL;
	int ret = 0;
	while (ret == 0 && start < end) {
		size_t want = end - start > STREAM_CHUNK ? STREAM_CHUNK : (size_t)(end - start);
		char *dst = chunk;
		if (out != NULL) {
			buf_reserve(out, want);
			dst = out->data + out->len;
		}
		ssize_t n = pread(h->fd, dst, want, (off_t)(h->hdr_len + start));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = -OM_EIO;
			break;
		}
		start += (uint64_t)n;
		if (out != NULL) {
			out->len += (size_t)n;
			out->data[out->len] = '\0';
		} else {
			ret = sink(ctx, chunk, (size_t)n);
		}
	}
	free(chunk);
	return ret;
}

/* stat of a hit; entries cached by get_many have no etag: ask inner. */
static int hit_stat(struct fscache_store *fs, const char *key, const struct hit *h,
		    struct objstore_stat *stat_r)
{
	if (stat_r == NULL)
		return 0;
	if (h->attrs.etag[0] == '\0')
		return objstore_head(fs->base.inner, key, stat_r, NULL);
	stat_r->size = h->data_len;
	stat_r->mtime = h->mtime;
	memcpy(stat_r->etag, h->attrs.etag, sizeof(stat_r->etag));
	return 0;
}

static void count_hit(struct fscache_store *fs, bool hit)
{
	atomic_fetch_add(hit ? &fs->base.stats.cache_hits : &fs->base.stats.cache_misses, 1);
}

/* Driver calls */

static int fscache_put(struct objstore *store, const char *key, const void *data, size_t len,
		       const struct objstore_meta *meta, unsigned flags, const char *if_match,
		       char *etag_r)
{
	struct fscache_store *fs = FSC(store);
	uint8_t id[FSCACHE_ID_LEN];
	key_id(key, id);
	uint64_t before = invalidate(fs, id);
	char etag[80];
	int ret = objstore_put(store->inner, key, data, len, meta, flags, if_match, etag);
	if (ret < 0)
		return ret;
	if (etag_r != NULL)
		memcpy(etag_r, etag, sizeof(etag));
	/* Another put or delete of this slot overlapped ours: which one the
	 * inner store kept last is unknown, so keep neither. */
	uint64_t after = invalidate(fs, id);
	if (after != before + 1)
		return 0;
	struct cached_obj o = { key, data, len, etag, (int64_t)time(NULL), meta };
	cache_store(fs, id, after, &o);
	return 0;
}

/* Miss: fetch the whole object from inner and keep it. */
static int fetch_and_cache(struct fscache_store *fs, const char *key, const uint8_t *id,
			   struct buf *full, struct objstore_meta *meta, struct objstore_stat *st)
{
	uint64_t epoch = epoch_of(fs, id);
	int ret = objstore_get(fs->base.inner, key, 0, 0, full, meta, st);
	if (ret < 0)
		return ret;
	struct cached_obj o = { key, full->data, full->len, st->etag, st->mtime, meta };
	cache_store(fs, id, epoch, &o);
	return 0;
}

static int fscache_get(struct objstore *store, const char *key, uint64_t offset, uint64_t length,
		       struct buf *out, struct objstore_meta *meta_r, struct objstore_stat *stat_r)
{
	struct fscache_store *fs = FSC(store);
	uint8_t id[FSCACHE_ID_LEN];
	key_id(key, id);
	struct hit h;
	uint64_t start, end;
	if (cache_open(fs, key, id, &h) == 0) {
		range_of(h.data_len, offset, length, &start, &end);
		size_t before = out->len;
		int ret = hit_read(&h, start, end, out, NULL, NULL);
		if (ret == 0)
			ret = hit_stat(fs, key, &h, stat_r);
		if (ret == 0) {
			count_hit(fs, true);
			if (meta_r != NULL)
				file_attrs_take_meta(&h.attrs, meta_r);
			hit_close(&h);
			return 0;
		}
		buf_truncate(out, before);
		hit_close(&h);
	}
	count_hit(fs, false);
	struct buf full = BUF_INIT;
	struct objstore_meta meta;
	struct objstore_stat st;
	int ret = fetch_and_cache(fs, key, id, &full, &meta, &st);
	if (ret == 0) {
		range_of(full.len, offset, length, &start, &end);
		buf_append(out, full.data + start, (size_t)(end - start));
		if (stat_r != NULL)
			*stat_r = st;
		if (meta_r != NULL)
			*meta_r = meta;
		else
			objstore_meta_free(&meta);
	}
	buf_free(&full);
	return ret;
}

static int fscache_get_stream(struct objstore *store, const char *key, uint64_t offset,
			      uint64_t length, int (*sink)(void *ctx, const void *data, size_t len),
			      void *ctx)
{
	struct fscache_store *fs = FSC(store);
	uint8_t id[FSCACHE_ID_LEN];
	key_id(key, id);
	struct hit h;
	uint64_t start, end;
	if (cache_open(fs, key, id, &h) == 0) {
		count_hit(fs, true);
		range_of(h.data_len, offset, length, &start, &end);
		int ret = hit_read(&h, start, end, NULL, sink, ctx);
		hit_close(&h);
		return ret;
	}
	count_hit(fs, false);
	/* Only what could be cached is fetched into memory; bigger objects
	 * stream straight through. */
	struct objstore_stat st;
	int ret = objstore_head(store->inner, key, &st, NULL);
	if (ret < 0)
		return ret;
	if (st.size >= fs->limit)
		return objstore_get_stream(store->inner, key, offset, length, sink, ctx);
	struct buf full = BUF_INIT;
	struct objstore_meta meta;
	ret = fetch_and_cache(fs, key, id, &full, &meta, &st);
	if (ret == 0) {
		objstore_meta_free(&meta);
		range_of(full.len, offset, length, &start, &end);
		while (ret == 0 && start < end) {
			size_t n = end - start > STREAM_CHUNK ? STREAM_CHUNK : (size_t)(end - start);
			ret = sink(ctx, full.data + start, n);
			start += n;
		}
	}
	buf_free(&full);
	return ret;
}

static int fscache_head(struct objstore *store, const char *key, struct objstore_stat *stat_r,
			struct objstore_meta *meta_r)
{
	return objstore_head(store->inner, key, stat_r, meta_r);
}

static int fscache_del(struct objstore *store, const char *key)
{
	struct fscache_store *fs = FSC(store);
	uint8_t id[FSCACHE_ID_LEN];
	key_id(key, id);
	(void)invalidate(fs, id);
	int ret = objstore_delete(store->inner, key);
	(void)invalidate(fs, id);
	return ret;
}

static int fscache_list(struct objstore *store, const char *prefix,
			int (*cb)(void *ctx, const char *key, uint64_t size), void *ctx)
{
	return objstore_list(store->inner, prefix, cb, ctx);
}

static int fscache_lock(struct objstore *store, const char *key, const char *owner, unsigned ttl)
{
	return objstore_lock(store->inner, key, owner, ttl);
}

static int fscache_unlock(struct objstore *store, const char *key, const char *owner)
{
	return objstore_unlock(store->inner, key, owner);
}

static int fscache_lock_holder(struct objstore *store, const char *key,
			       struct objstore_lock_holder *h_r)
{
	return objstore_lock_holder(store->inner, key, h_r);
}

static int fscache_lock_break(struct objstore *store, const char *key,
			      const struct objstore_lock_holder *h, const char *owner, unsigned ttl)
{
	return objstore_lock_break(store->inner, key, h, owner, ttl);
}

static int fscache_lock_info(struct objstore *store, const char *key, char *owner_r,
			     size_t owner_size, int64_t *expiry_r)
{
	return objstore_lock_info(store->inner, key, owner_r, owner_size, expiry_r);
}

struct many_ctx {
	struct fscache_store *fs;
	void (*done)(void *ctx, size_t i, int err, const struct buf *data,
		     const struct objstore_meta *meta);
	void *ctx;
	const char *const *keys; /* the misses */
	const size_t *idx;       /* miss -> caller's index */
	const uint64_t *epochs;
};

static void many_miss_done(void *ctx, size_t i, int err, const struct buf *data,
			   const struct objstore_meta *meta)
{
	struct many_ctx *mc = ctx;
	if (err == 0) {
		uint8_t id[FSCACHE_ID_LEN];
		key_id(mc->keys[i], id);
		struct cached_obj o = { mc->keys[i], data->data, data->len, "", 0, meta };
		cache_store(mc->fs, id, mc->epochs[i], &o);
	}
	mc->done(mc->ctx, mc->idx[i], err, data, meta);
}

static int fscache_get_many(struct objstore *store, const char *const *keys, size_t n,
			    unsigned parallel,
			    void (*done)(void *ctx, size_t i, int err, const struct buf *data,
					 const struct objstore_meta *meta),
			    void *ctx)
{
	struct fscache_store *fs = FSC(store);
	const char **miss = om_calloc(n, sizeof(*miss));
	size_t *idx = om_calloc(n, sizeof(*idx));
	uint64_t *epochs = om_calloc(n, sizeof(*epochs));
	size_t nmiss = 0;
	struct buf data = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		uint8_t id[FSCACHE_ID_LEN];
		key_id(keys[i], id);
		struct hit h;
		if (cache_open(fs, keys[i], id, &h) == 0) {
			buf_reset(&data);
			int ret = hit_read(&h, 0, h.data_len, &data, NULL, NULL);
			if (ret == 0) {
				count_hit(fs, true);
				done(ctx, i, 0, &data, &h.attrs.meta);
				hit_close(&h);
				continue;
			}
			hit_close(&h);
		}
		count_hit(fs, false);
		epochs[nmiss] = epoch_of(fs, id);
		idx[nmiss] = i;
		miss[nmiss++] = keys[i];
	}
	buf_free(&data);
	struct many_ctx mc = { fs, done, ctx, miss, idx, epochs };
	int ret = nmiss == 0 ? 0
			     : objstore_get_many(store->inner, miss, nmiss, parallel, many_miss_done, &mc);
	free(miss);
	free(idx);
	free(epochs);
	return ret;
}

/* Open: rebuild the index from the directory */

struct scanned {
	uint8_t id[FSCACHE_ID_LEN];
	uint64_t size;
	int64_t mtime_ns;
};

static int scanned_cmp(const void *pa, const void *pb)
{
	const struct scanned *a = pa, *b = pb;
	return a->mtime_ns < b->mtime_ns ? -1 : a->mtime_ns > b->mtime_ns ? 1 : 0;
}

static bool parse_hex_id(const char *name, uint8_t id[FSCACHE_ID_LEN])
{
	if (strlen(name) != FSCACHE_ID_LEN * 2)
		return false;
	for (int i = 0; i < FSCACHE_ID_LEN * 2; i++) {
		char c = name[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return false;
		if (i % 2 == 0)
			id[i / 2] = (uint8_t)(v << 4);
		else
			id[i / 2] |= (uint8_t)v;
	}
	return true;
}

static void scan_subdir(struct fscache_store *fs, unsigned sub, struct scanned **all,
			size_t *n, size_t *cap)
{
	char subname[3];
	snprintf(subname, sizeof(subname), "%02x", sub);
	if (mkdirat(fs->dir_fd, subname, 0700) < 0 && errno != EEXIST)
		log_warn("fscache: mkdir %s/%s: %m", fs->dir, subname);
	int fd = openat(fs->dir_fd, subname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".om.tmp.", 8) == 0) {
			(void)unlinkat(dirfd(d), de->d_name, 0); /* a crashed write */
			continue;
		}
		struct scanned s;
		struct stat st;
		if (!parse_hex_id(de->d_name, s.id) || s.id[0] != sub ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		s.size = (uint64_t)st.st_size;
		s.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		if (*n == *cap) {
			*cap = *cap == 0 ? 256 : *cap * 2;
			*all = om_reallocarray(*all, *cap, sizeof(**all));
		}
		(*all)[(*n)++] = s;
	}
	closedir(d);
}

static void scan_dir(struct fscache_store *fs)
{
	struct scanned *all = NULL;
	size_t n = 0, cap = 0;
	for (unsigned sub = 0; sub < 256; sub++)
		scan_subdir(fs, sub, &all, &n, &cap);
	if (n > 1)
		qsort(all, n, sizeof(*all), scanned_cmp);
	for (size_t i = 0; i < n; i++) {
		fscache_index_add(&fs->index, all[i].id, all[i].size, all[i].mtime_ns);
		fs->used += all[i].size;
		if (all[i].mtime_ns > fs->last_stamp_ns)
			fs->last_stamp_ns = all[i].mtime_ns;
	}
	free(all);
	/* SIZE may have shrunk since the last run */
	while (fs->used > fs->limit)
		drop_entry(fs, fscache_index_oldest(&fs->index), true);
	publish_used(fs);
}

static void fscache_free(struct fscache_store *fs)
{
	if (fs->dir_fd >= 0)
		close(fs->dir_fd);
	if (fs->lock_fd >= 0)
		close(fs->lock_fd);
	fscache_index_free(&fs->index);
	pthread_mutex_destroy(&fs->mutex);
	free(fs->dir);
	free(fs);
}

static int fscache_open(const char *spec, struct objstore **store_r, char **error_r)
{
	const char *size_s = spec + strlen("fscache:");
	const char *c1 = strchr(size_s, ':');
	const char *c2 = c1 == NULL ? NULL : strchr(c1 + 1, ':');
	uint64_t limit;
	if (c2 == NULL || c2 == c1 + 1) {
		objstore_set_error(error_r, "fscache: expected fscache:SIZE:DIR:<inner spec>");
		return -OM_EINVAL;
	}
	if (!objstore_parse_size(size_s, (size_t)(c1 - size_s), &limit) || limit == 0) {
		objstore_set_error(error_r, "fscache: bad size \"%.*s\"", (int)(c1 - size_s), size_s);
		return -OM_EINVAL;
	}
	struct fscache_store *fs = om_calloc(1, sizeof(*fs));
	fs->dir_fd = fs->lock_fd = -1;
	fs->limit = limit;
	pthread_mutex_init(&fs->mutex, NULL);
	fscache_index_init(&fs->index);
	fs->dir = om_strndup(c1 + 1, (size_t)(c2 - c1 - 1));
	if (mkdir(fs->dir, 0700) < 0 && errno != EEXIST) {
		objstore_set_error(error_r, "fscache: mkdir %s: %s", fs->dir, strerror(errno));
		fscache_free(fs);
		return -OM_EINVAL;
	}
	fs->dir_fd = open(fs->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->dir_fd < 0) {
		objstore_set_error(error_r, "fscache: open %s: %s", fs->dir, strerror(errno));
		fscache_free(fs);
		return -OM_EINVAL;
	}
	/* Two processes on one cache directory would each count only their
	 * own bytes; it still works, but the bound doubles. */
	fs->lock_fd = openat(fs->dir_fd, ".om.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fs->lock_fd >= 0 && flock(fs->lock_fd, LOCK_EX | LOCK_NB) < 0)
		log_warn("fscache: %s is used by another process; its size bound is not shared",
			 fs->dir);
	int ret = objstore_open(c2 + 1, &fs->base.inner, error_r);
	if (ret < 0) {
		fscache_free(fs);
		return ret;
	}
	scan_dir(fs);
	atomic_store(&fs->base.stats.cache_limit, limit);
	fs->base.caps = objstore_caps(fs->base.inner) | OBJSTORE_CAP_LOCAL;
	struct buf d = BUF_INIT;
	buf_printf(&d, "fscache:%.*s:%s:%s", (int)(c1 - size_s), size_s, fs->dir,
		   objstore_describe(fs->base.inner));
	fs->base.describe = buf_steal(&d);
	*store_r = &fs->base;
	return 0;
}

static void fscache_close(struct objstore *store)
{
	fscache_free(FSC(store));
}

const struct objstore_ops objstore_fscache_ops = {
	.name = "fscache",
	.open = fscache_open,
	.close = fscache_close,
	.put = fscache_put,
	.get = fscache_get,
	.head = fscache_head,
	.del = fscache_del,
	.list = fscache_list,
	.get_stream = fscache_get_stream,
	.get_many = fscache_get_many,
	.lock = fscache_lock,
	.unlock = fscache_unlock,
	.lock_info = fscache_lock_info,
	.lock_holder = fscache_lock_holder,
	.lock_break = fscache_lock_break,
};
