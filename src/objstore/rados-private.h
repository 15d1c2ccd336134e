/* Shared by the RADOS driver's files: rados.c (objects) and rados-lock.c
 * (the cls_lock lease). */
#ifndef OM_RADOS_PRIVATE_H
#define OM_RADOS_PRIVATE_H

#include <stdint.h>

#include <rados/librados.h>

#include "objstore/objstore-private.h"

struct rados_store {
	struct objstore base;
	rados_t cluster;
	rados_ioctx_t io;
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

#endif
