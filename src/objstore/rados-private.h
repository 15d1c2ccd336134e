/* Shared by the RADOS driver's files: rados.c (objects), rados-lock.c
 * (the cls_lock lease) and rados-catalog.c (the directory catalogs that
 * answer prefix listings). */
#ifndef OM_RADOS_PRIVATE_H
#define OM_RADOS_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rados/librados.h>

#include "objstore/objstore-private.h"

/* Slots of the cache of directories already entered in their parent's
 * catalog (rados-catalog.c). */
#define RADOS_DIR_CACHE 4096

enum rados_cat_mode {
	RADOS_CAT_AUTO,  /* catalogs once the marker exists (default) */
	RADOS_CAT_BUILD, /* catalog=build: build them at open if missing */
	RADOS_CAT_OFF,   /* catalog=off: always scan the pool (still written) */
};

struct rados_store {
	struct objstore base;
	rados_t cluster;
	rados_ioctx_t io;
	enum rados_cat_mode cat_mode;
	atomic_bool cat_ready;            /* the marker exists: lists read catalogs */
	atomic_bool cat_warned;           /* "no catalog" logged */
	_Atomic int64_t cat_checked;      /* last look for the marker (unix s) */
	atomic_uint_fast64_t full_scans;  /* pool listings (metrics, tests) */
	atomic_uint_fast64_t catalog_reads;
	pthread_mutex_t cat_mu;           /* dir_cache */
	char **dir_cache;
};

static inline struct rados_store *rs(struct objstore *store)
{
	return (struct rados_store *)store;
}

/* A librados error as an objstore error, logged unless NOTFOUND/EEXISTS. */
int rados_fail(const char *what, const char *key, int r);

/* rados-lock.c: the objstore_ops lock entries. */
int rados_lock(struct objstore *store, const char *key, const char *owner, unsigned ttl);
int rados_unlock_key(struct objstore *store, const char *key, const char *owner);
int rados_lock_info(struct objstore *store, const char *key, char *owner_r,
		    size_t owner_size, int64_t *expiry_r);
int rados_lock_holder(struct objstore *store, const char *key,
		      struct objstore_lock_holder *h_r);
int rados_lock_break(struct objstore *store, const char *key,
		     const struct objstore_lock_holder *h, const char *owner, unsigned ttl);

/* rados-catalog.c. Errors are raw librados codes (< 0). */
int rados_catalog_open(struct rados_store *s); /* after the ioctx exists */
void rados_catalog_close(struct rados_store *s);
/* The catalog writes of a put of key, in flight together with the object
 * write: start them, then wait (ok: the object write succeeded, so the
 * directories may be remembered as entered). */
struct rados_cat_pending {
	rados_completion_t *comps;
	rados_write_op_t *ops;
	size_t n, cap;
	const char *key;
	size_t dirs[16]; /* lengths of the directories being entered */
	size_t dirs_n;
	int start_err;
};
int rados_catalog_put_start(struct rados_store *s, const char *key, const char *etag,
			    struct rados_cat_pending *p);
int rados_catalog_put_wait(struct rados_store *s, struct rados_cat_pending *p, bool ok);
/* Both in one: after a conditional put succeeded. */
int rados_catalog_put(struct rados_store *s, const char *key, const char *etag);
/* After the object (version etag, "" if it had none) is deleted. */
int rados_catalog_del(struct rados_store *s, const char *key, const char *etag);
/* false: list must scan the pool (no marker yet, or catalog=off). */
bool rados_catalog_usable(struct rados_store *s);
/* The keys (unsorted, malloc'd) starting with prefix. */
int rados_catalog_list(struct rados_store *s, const char *prefix, char ***keys_r, size_t *n_r);
void rados_catalog_metrics(const struct objstore *store, struct buf *out);

#endif
