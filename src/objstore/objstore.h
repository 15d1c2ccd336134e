/* The object store API (DESIGN.md "Object layout"). Callers see one API;
 * drivers sit behind struct objstore_ops (objstore-private.h), one file each:
 *   file:DIR                          local directory (embedded default)
 *   s3://KEY:SECRET@HOST:PORT/BUCKET  S3 / radosgw (libcurl, SigV4); https:// too
 *   rados://POOL?conf=..&id=..&namespace=..   Ceph RADOS (librados)
 *   fscache:SIZE:DIR:<inner>          LRU disk cache over any store
 *   faulty:rate=R,delay=D[,...]:<inner>  fails/delays calls on demand (tests)
 * Stacked forms nest: "fscache:1G:/var/cache/objmail/objects:s3://...".
 *
 * Keys are '/'-separated ASCII strings (no "..", no leading '/', <= 1024
 * bytes). Every call is thread-safe. Errors: -OM_ENOTFOUND (no such key),
 * -OM_EEXISTS (a conditional put's precondition failed, or the lock is held
 * by someone else), -OM_ETEMP (store unreachable, timeout, 5xx, throttled:
 * retry later), -OM_EIO (anything else), -OM_EINVAL (bad key/spec). */
#ifndef OM_OBJSTORE_H
#define OM_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct objstore;

enum objstore_caps {
	OBJSTORE_CAP_LOCK = 1 << 0,     /* objstore_lock/unlock are real locks */
	OBJSTORE_CAP_COND_PUT = 1 << 1, /* OBJSTORE_PUT_IF_ABSENT / IF_MATCH */
	OBJSTORE_CAP_PARALLEL = 1 << 2, /* get_many really overlaps requests */
	OBJSTORE_CAP_LOCAL = 1 << 3,    /* data is on local disk (file, fscache hit path) */
};

/* Small string metadata stored with an object (S3 x-amz-meta-*, RADOS
 * xattrs, file sidecar/xattrs). Names: [a-z0-9-], <= 64 bytes; values
 * printable ASCII, <= 1024 bytes; at most OBJSTORE_META_MAX entries. */
#define OBJSTORE_META_MAX 16
struct objstore_meta {
	size_t n;
	char *names[OBJSTORE_META_MAX];
	char *values[OBJSTORE_META_MAX];
};
void objstore_meta_set(struct objstore_meta *m, const char *name, const char *value);
const char *objstore_meta_get(const struct objstore_meta *m, const char *name);
void objstore_meta_free(struct objstore_meta *m);

/* What head() tells about an object. */
struct objstore_stat {
	uint64_t size;
	char etag[80];   /* opaque version tag, for OBJSTORE_PUT_IF_MATCH */
	int64_t mtime;   /* unix seconds, 0 if unknown */
};

/* Open a store from its spec. -OM_EINVAL with *error_r (malloc'd) for a bad
 * spec; -OM_ETEMP if it can't be reached now. */
int objstore_open(const char *spec, struct objstore **store_r, char **error_r);
void objstore_close(struct objstore *store);
unsigned objstore_caps(const struct objstore *store);
/* The spec without secrets (for logs): "s3://KEY:***@host:7480/bucket". */
const char *objstore_describe(const struct objstore *store);

enum objstore_put_flags {
	OBJSTORE_PUT_IF_ABSENT = 1 << 0, /* fail -OM_EEXISTS if the key exists */
	OBJSTORE_PUT_IF_MATCH = 1 << 1,  /* fail -OM_EEXISTS unless etag matches */
};
/* Write a whole object, durably: when this returns 0 the object survives a
 * crash of this process and of the machine (fsync / store acknowledgement).
 * if_match: the etag for OBJSTORE_PUT_IF_MATCH, else NULL. On success
 * *etag_r (if not NULL, >= 80 bytes) gets the new etag. */
int objstore_put(struct objstore *store, const char *key, const void *data, size_t len,
		 const struct objstore_meta *meta, unsigned flags, const char *if_match,
		 char *etag_r);
/* Read an object (or bytes [offset, offset+length) of it; length 0 = to the
 * end) into out (appended). meta_r / stat_r optional. */
int objstore_get(struct objstore *store, const char *key, uint64_t offset, uint64_t length,
		 struct buf *out, struct objstore_meta *meta_r, struct objstore_stat *stat_r);
/* Streaming read: sink(ctx, chunk) is called with consecutive chunks; a
 * non-zero return from sink aborts with that value. */
int objstore_get_stream(struct objstore *store, const char *key, uint64_t offset,
			uint64_t length, int (*sink)(void *ctx, const void *data, size_t len),
			void *ctx);
int objstore_head(struct objstore *store, const char *key, struct objstore_stat *stat_r,
		  struct objstore_meta *meta_r);
/* -OM_ENOTFOUND if it did not exist. */
int objstore_delete(struct objstore *store, const char *key);
/* Every key starting with prefix, in byte order, paged inside the driver:
 * cb(ctx, key, size) per key; a non-zero return stops and is returned. */
int objstore_list(struct objstore *store, const char *prefix,
		  int (*cb)(void *ctx, const char *key, uint64_t size), void *ctx);

/* Fetch many objects with up to `parallel` requests in flight (drivers
 * without OBJSTORE_CAP_PARALLEL do them one by one). done(ctx, i, err, data)
 * is called once per key, in completion order, from the calling thread;
 * data is valid during the call only. Returns 0 when every key was
 * attempted (per-key errors go to done). */
int objstore_get_many(struct objstore *store, const char *const *keys, size_t n,
		      unsigned parallel,
		      void (*done)(void *ctx, size_t i, int err, const struct buf *data,
				   const struct objstore_meta *meta),
		      void *ctx);

/* Exclusive lock on key held by `owner` for ttl seconds (renew by calling
 * again with the same owner). -OM_EEXISTS if another owner holds it and it
 * has not expired. Stores without OBJSTORE_CAP_LOCK emulate it with a
 * conditional put when they have OBJSTORE_CAP_COND_PUT. */
int objstore_lock(struct objstore *store, const char *key, const char *owner, unsigned ttl);
int objstore_unlock(struct objstore *store, const char *key, const char *owner);
/* Who holds the lock on key: 0 with the owner (NUL-terminated, truncated to
 * owner_size) and the expiry (unix seconds; 0 when the store doesn't say),
 * or -OM_ENOTFOUND when nobody holds it (or the holder's time ran out). */
int objstore_lock_info(struct objstore *store, const char *key, char *owner_r,
		       size_t owner_size, int64_t *expiry_r);

/* One hold of a lock, as objstore_lock_holder found it: the owner, the
 * expiry (unix seconds; 0 when the store doesn't say) and a token naming
 * that very hold (the lease object's etag; the RADOS client instance), so
 * that objstore_lock_break can't hit a later hold of the same owner. */
#define OBJSTORE_LOCK_OWNER_MAX 256
struct objstore_lock_holder {
	char owner[OBJSTORE_LOCK_OWNER_MAX + 1];
	char token[128];
	int64_t expiry;
};
/* 0 with the current hold, -OM_ENOTFOUND when nobody holds the lock (or
 * the holder's time ran out), -OM_EINVAL when the store can't say. */
int objstore_lock_holder(struct objstore *store, const char *key,
			 struct objstore_lock_holder *h_r);
/* Break hold h (the caller proved its holder dead) and take the lock for
 * owner: only if h is still the hold on key (S3/file: a conditional put
 * If-Match the lease's etag, which also writes ours; RADOS: cls_lock
 * break_lock of exactly that client instance and cookie, then a lock).
 * 0: ours for ttl seconds; -OM_EEXISTS: h is no longer the hold (renewed,
 * released, broken or taken by another), look again; other errors as
 * objstore_lock. */
int objstore_lock_break(struct objstore *store, const char *key,
			const struct objstore_lock_holder *h, const char *owner, unsigned ttl);

/* Prometheus text for this store and the stores it wraps: request counts
 * per operation and result, bytes in/out, latency histogram; fscache hits,
 * misses, bytes, evictions. labels: extra labels, e.g. "" */
void objstore_metrics(const struct objstore *store, struct buf *out);
/* The same figures for `objmail cache stats` (human/JSON by the caller). */
struct objstore_counters {
	uint64_t requests[8];   /* by enum objstore_op */
	uint64_t errors[8];
	uint64_t bytes_in, bytes_out;
	uint64_t latency_us_sum[8];
	uint64_t cache_hits, cache_misses, cache_bytes, cache_limit, cache_evictions;
};
enum objstore_op { OBJSTORE_OP_PUT, OBJSTORE_OP_GET, OBJSTORE_OP_HEAD, OBJSTORE_OP_DELETE,
		   OBJSTORE_OP_LIST, OBJSTORE_OP_LOCK, OBJSTORE_OP_COUNT };
/* Counters summed for the store itself (level 0) or the n-th wrapped store. */
bool objstore_get_counters(const struct objstore *store, unsigned level,
			   struct objstore_counters *c_r, const char **driver_r);

#endif
