/* objstore_lock emulated with conditional puts, for stores that can do
 * IF_ABSENT / IF_MATCH but have no native lock (S3, file). The lease object
 * is the lock: "OWNER\nEXPIRY\n". Taking it is a put IF_ABSENT when there is
 * none, else IF_MATCH on the etag we read, so two contenders can't both win. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/om-error.h"
#include "objstore/objstore-private.h"

#define LEASE_MAX (OBJSTORE_OWNER_MAX + 32)
#define LEASE_RETRIES 4

struct lease {
	char owner[OBJSTORE_OWNER_MAX + 1];
	int64_t expiry;
	char etag[80];
};

/* A lease is held through the second EXPIRY (now > EXPIRY = expired), so a
 * ttl of N seconds lasts at least N seconds whatever the clock's phase.
 * A lease we can't parse counts as expired: garbage must not block a user
 * forever. */
static void lease_parse(const struct buf *b, struct lease *l)
{
	l->owner[0] = '\0';
	l->expiry = 0;
	const char *nl = memchr(b->data, '\n', b->len);
	if (nl == NULL || b->len > LEASE_MAX)
		return;
	size_t olen = (size_t)(nl - b->data);
	const char *exp = nl + 1;
	const char *nl2 = memchr(exp, '\n', b->len - olen - 1);
	unsigned long long v;
	if (olen == 0 || olen > OBJSTORE_OWNER_MAX || nl2 == NULL ||
	    !om_parse_u64(exp, (size_t)(nl2 - exp), &v) || v > INT64_MAX)
		return;
	memcpy(l->owner, b->data, olen);
	l->owner[olen] = '\0';
	l->expiry = (int64_t)v;
}

/* Read the current lease: 0, -OM_ENOTFOUND or an error. */
static int lease_read(struct objstore *store, const char *key, struct lease *l)
{
	struct buf b = BUF_INIT;
	struct objstore_stat st;
	memset(&st, 0, sizeof(st));
	int ret = store->ops->get(store, key, 0, 0, &b, NULL, &st);
	if (ret == 0) {
		lease_parse(&b, l);
		memcpy(l->etag, st.etag, sizeof(l->etag));
		l->etag[sizeof(l->etag) - 1] = '\0';
		if (l->etag[0] == '\0')
			ret = -OM_EIO; /* a store without etags can't do IF_MATCH */
	}
	buf_free(&b);
	return ret;
}

static int lease_write(struct objstore *store, const char *key, const char *owner,
		       int64_t expiry, const char *if_match)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s\n%lld\n", owner, (long long)expiry);
	int ret = store->ops->put(store, key, b.data, b.len, NULL,
				  if_match == NULL ? OBJSTORE_PUT_IF_ABSENT : OBJSTORE_PUT_IF_MATCH,
				  if_match, NULL);
	buf_free(&b);
	return ret;
}

int objstore_lease_lock(struct objstore *store, const char *key, const char *owner,
			unsigned ttl)
{
	for (int attempt = 0; attempt < LEASE_RETRIES; attempt++) {
		struct lease l;
		int64_t now = (int64_t)time(NULL);
		int ret = lease_read(store, key, &l);
		if (ret == -OM_ENOTFOUND)
			ret = lease_write(store, key, owner, now + ttl, NULL);
		else if (ret < 0)
			return ret;
		else if (strcmp(l.owner, owner) != 0 && l.expiry >= now)
			return -OM_EEXISTS;
		else
			ret = lease_write(store, key, owner, now + ttl, l.etag);
		/* EEXISTS: someone changed it between our read and write; look
		 * again, it may be another owner's now (or deleted). */
		if (ret != -OM_EEXISTS)
			return ret;
	}
	return -OM_EEXISTS;
}

int objstore_lease_unlock(struct objstore *store, const char *key, const char *owner)
{
	for (int attempt = 0; attempt < LEASE_RETRIES; attempt++) {
		struct lease l;
		int ret = lease_read(store, key, &l);
		if (ret < 0)
			return ret;
		if (strcmp(l.owner, owner) != 0) {
			int64_t now = (int64_t)time(NULL);
			return l.expiry >= now ? -OM_EEXISTS : -OM_ENOTFOUND;
		}
		/* Overwrite rather than delete: a delete could remove a lease
		 * that another owner took after ours expired. */
		ret = lease_write(store, key, owner, 0, l.etag);
		if (ret != -OM_EEXISTS)
			return ret;
	}
	return -OM_EEXISTS;
}

int objstore_lease_info(struct objstore *store, const char *key, char *owner_r,
			size_t owner_size, int64_t *expiry_r)
{
	struct lease l;
	int ret = lease_read(store, key, &l);
	if (ret < 0)
		return ret;
	if (l.owner[0] == '\0' || l.expiry < (int64_t)time(NULL))
		return -OM_ENOTFOUND;
	snprintf(owner_r, owner_size, "%s", l.owner);
	*expiry_r = l.expiry;
	return 0;
}

int objstore_lease_holder(struct objstore *store, const char *key,
			  struct objstore_lock_holder *h_r)
{
	struct lease l;
	int ret = lease_read(store, key, &l);
	if (ret < 0)
		return ret;
	if (l.owner[0] == '\0' || l.expiry < (int64_t)time(NULL))
		return -OM_ENOTFOUND;
	snprintf(h_r->owner, sizeof(h_r->owner), "%s", l.owner);
	snprintf(h_r->token, sizeof(h_r->token), "%s", l.etag);
	h_r->expiry = l.expiry;
	return 0;
}

/* The etag names the lease version the caller saw: a renewal by the holder
 * (or any other write) changes it and the put fails, so only a hold that
 * stayed exactly as seen is replaced, by ours, in the same step. */
int objstore_lease_break(struct objstore *store, const char *key,
			 const struct objstore_lock_holder *h, const char *owner, unsigned ttl)
{
	return lease_write(store, key, owner, (int64_t)time(NULL) + ttl, h->token);
}
