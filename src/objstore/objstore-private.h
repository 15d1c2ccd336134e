/* For object store driver authors (callers use objstore.h).
 *
 * A driver is one file exporting one `const struct objstore_ops` with named
 * fields. Its store struct embeds `struct objstore` as the FIRST member:
 *
 *     struct s3_store { struct objstore base; CURLM *multi; ... };
 *     static int s3_open(const char *spec, struct objstore **store_r, char **error_r)
 *     {
 *         struct s3_store *s = om_calloc(1, sizeof(*s));   // counters start at 0
 *         ... parse spec ...
 *         s->base.caps = OBJSTORE_CAP_COND_PUT | OBJSTORE_CAP_PARALLEL;
 *         s->base.describe = om_strdup("s3://KEY:***@host:7480/bucket");
 *         *store_r = &s->base;
 *         return 0;
 *     }
 *     const struct objstore_ops objstore_s3_ops = { .name = "s3", .open = s3_open, ... };
 *
 * The generic layer (objstore.c) does, so drivers need not:
 *  - dispatch a spec to a driver by its scheme (table below); the driver's
 *    open() gets the WHOLE spec string, scheme included;
 *  - validate keys (objstore_key_valid) and metadata before any driver call;
 *  - time each call and count it per op / result / bytes (base.stats);
 *  - objstore_get_many: a sequential fallback when .get_many is NULL;
 *  - objstore_get_stream: a fallback through .get when .get_stream is NULL;
 *  - objstore_lock/unlock: emulation by conditional put when .lock is NULL
 *    and caps has OBJSTORE_CAP_COND_PUT (lease object "owner\nexpiry\n");
 *  - free base.describe and close base.inner (after .close).
 *
 * Scheme table (objstore.c):
 *   file:            objstore_file_ops     (file.c)
 *   s3:// s3s:// http:// https://   objstore_s3_ops (s3.c; it decides TLS
 *                    from the scheme: s3:// and http:// plain, s3s:// and
 *                    https:// TLS)
 *   rados://         objstore_rados_ops    (rados.c)
 *   fscache:         objstore_fscache_ops  (fscache.c)
 *   faulty:          objstore_faulty_ops   (faulty.c)
 * s3 and rados are referenced weakly until their source files exist, so a
 * tree without them still links; objstore_open then says "driver not built".
 *
 * Error codes: see objstore.h. A driver returns them as-is; the generic layer
 * never remaps. Every driver function must be thread-safe.
 */
#ifndef OM_OBJSTORE_PRIVATE_H
#define OM_OBJSTORE_PRIVATE_H

#include <stdatomic.h>

#include "objstore/objstore.h"

/* Latency histogram upper bounds in microseconds (+Inf is implicit). */
#define OBJSTORE_HIST_BUCKETS 14
extern const uint64_t objstore_hist_bounds_us[OBJSTORE_HIST_BUCKETS];

/* Result classes, the `result` label of objmail_objstore_requests_total. */
enum objstore_result { OBJSTORE_RES_OK, OBJSTORE_RES_NOTFOUND, OBJSTORE_RES_EXISTS,
		       OBJSTORE_RES_TEMP, OBJSTORE_RES_ERROR, OBJSTORE_RES_COUNT };

struct objstore_stats {
	atomic_uint_fast64_t requests[OBJSTORE_OP_COUNT][OBJSTORE_RES_COUNT];
	atomic_uint_fast64_t latency_us_sum[OBJSTORE_OP_COUNT];
	atomic_uint_fast64_t hist[OBJSTORE_OP_COUNT][OBJSTORE_HIST_BUCKETS + 1];
	atomic_uint_fast64_t bytes_in;  /* read from the store (get) */
	atomic_uint_fast64_t bytes_out; /* written to the store (put) */
	/* Only fscache sets these (cache_bytes/limit are current values). */
	atomic_uint_fast64_t cache_hits, cache_misses, cache_bytes, cache_limit,
		cache_evictions;
};

struct objstore {
	const struct objstore_ops *ops; /* set by objstore_open */
	unsigned caps;                  /* enum objstore_caps, set by the driver */
	char *describe;                 /* malloc'd by the driver; NULL = the spec */
	struct objstore *inner;         /* wrapped store (fscache, faulty) or NULL */
	struct objstore_stats stats;
};

struct objstore_ops {
	const char *name; /* the `driver` metrics label: "file", "s3", ... */

	/* spec is the full spec ("s3://..."). On -OM_EINVAL set *error_r
	 * (malloc'd). Allocate the store zeroed (om_calloc). */
	int (*open)(const char *spec, struct objstore **store_r, char **error_r);
	/* Free the driver's state and the struct itself; do NOT close
	 * base.inner or free base.describe (the generic layer does). */
	void (*close)(struct objstore *store);

	/* Required. Same contracts as the objstore_* functions of the same
	 * name; key/meta are already validated, flags have at most one of
	 * IF_ABSENT / IF_MATCH (if_match non-NULL for IF_MATCH). */
	int (*put)(struct objstore *store, const char *key, const void *data, size_t len,
		   const struct objstore_meta *meta, unsigned flags, const char *if_match,
		   char *etag_r);
	int (*get)(struct objstore *store, const char *key, uint64_t offset, uint64_t length,
		   struct buf *out, struct objstore_meta *meta_r, struct objstore_stat *stat_r);
	int (*head)(struct objstore *store, const char *key, struct objstore_stat *stat_r,
		    struct objstore_meta *meta_r);
	int (*del)(struct objstore *store, const char *key);
	int (*list)(struct objstore *store, const char *prefix,
		    int (*cb)(void *ctx, const char *key, uint64_t size), void *ctx);

	/* Optional (NULL = generic fallback). */
	int (*get_stream)(struct objstore *store, const char *key, uint64_t offset,
			  uint64_t length, int (*sink)(void *ctx, const void *data, size_t len),
			  void *ctx);
	/* Keys are validated; parallel >= 1. done() must be called exactly
	 * once per key, from the calling thread. */
	int (*get_many)(struct objstore *store, const char *const *keys, size_t n,
			unsigned parallel,
			void (*done)(void *ctx, size_t i, int err, const struct buf *data,
				     const struct objstore_meta *meta),
			void *ctx);
	int (*lock)(struct objstore *store, const char *key, const char *owner, unsigned ttl);
	int (*unlock)(struct objstore *store, const char *key, const char *owner);
	/* Optional: who holds the lock (see objstore_lock_info). Drivers
	 * with .lock should have it; wrappers forward it. */
	int (*lock_info)(struct objstore *store, const char *key, char *owner_r,
			 size_t owner_size, int64_t *expiry_r);
	/* Optional: objstore_lock_holder / objstore_lock_break (drivers with
	 * .lock should have them; wrappers forward them). */
	int (*lock_holder)(struct objstore *store, const char *key,
			   struct objstore_lock_holder *h_r);
	int (*lock_break)(struct objstore *store, const char *key,
			  const struct objstore_lock_holder *h, const char *owner, unsigned ttl);
	/* Extra Prometheus lines of this driver (without HELP/TYPE clashes
	 * with the generic families). */
	void (*metrics)(const struct objstore *store, struct buf *out);
};

extern const struct objstore_ops objstore_file_ops;
extern const struct objstore_ops objstore_fscache_ops;
extern const struct objstore_ops objstore_faulty_ops;
/* Weak in objstore.c (NULL when the driver is not in the tree). */
extern const struct objstore_ops objstore_s3_ops;
extern const struct objstore_ops objstore_rados_ops;

/* Helpers shared by drivers. */

/* true if key is acceptable to every driver: 1..1024 bytes of printable
 * ASCII (0x21..0x7e), '/'-separated components that are non-empty, not
 * "." or "..", and don't start with ".om." (reserved for driver files). */
bool objstore_key_valid(const char *key);
/* true if meta obeys the limits in objstore.h (NULL is valid). */
bool objstore_meta_valid(const struct objstore_meta *meta);
void objstore_meta_copy(struct objstore_meta *dst, const struct objstore_meta *src);
/* Parse "10ms", "2s", "500us", "1m" or a bare number of milliseconds. */
bool objstore_parse_duration_us(const char *s, size_t len, uint64_t *us_r);
/* Parse "123", "10K", "5M", "1G", "2T" (powers of 1024). */
bool objstore_parse_size(const char *s, size_t len, uint64_t *bytes_r);
/* Store an error message for objstore_open's error_r. */
void objstore_set_error(char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t objstore_now_us(void); /* CLOCK_MONOTONIC */

/* Tests only: file stores opened while this is true keep metadata in
 * sidecar files, as on filesystems without user xattrs. */
extern bool objstore_file_force_sidecar;

/* Lock emulation by conditional put (objstore-lease.c), used by the generic
 * layer for drivers without .lock. The lease object holds "OWNER\nEXPIRY\n"
 * (EXPIRY in unix seconds; 0 = released). Owners: printable ASCII, at most
 * OBJSTORE_OWNER_MAX bytes. Calls the driver directly (not counted). */
#define OBJSTORE_OWNER_MAX 256
int objstore_lease_lock(struct objstore *store, const char *key, const char *owner,
			unsigned ttl);
int objstore_lease_unlock(struct objstore *store, const char *key, const char *owner);
int objstore_lease_info(struct objstore *store, const char *key, char *owner_r,
			size_t owner_size, int64_t *expiry_r);
int objstore_lease_holder(struct objstore *store, const char *key,
			  struct objstore_lock_holder *h_r);
int objstore_lease_break(struct objstore *store, const char *key,
			 const struct objstore_lock_holder *h, const char *owner, unsigned ttl);

#endif
