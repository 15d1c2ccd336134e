/* The RADOS driver's lock: the OSD's cls_lock (rados_lock_exclusive) named
 * "objmail-lease" with the owner as cookie. cls_lock keys a lock by (client
 * instance, cookie); a new process of the same owner takes its lock over by
 * breaking the old instance's entry, so "same owner renews" holds across
 * restarts as it does for the lease emulation of other stores.
 *
 * objstore_lock_break names one hold by its client instance ("client.4123")
 * and cookie: rados_break_lock removes exactly that entry (a holder that
 * came back, or another taker, is a different entry) before we lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "lib/om-error.h"
#include "objstore/rados-private.h"

#define RADOS_LOCK_NAME "objmail-lease"

/* The lockers of key: NUL-separated lists (clients, cookies), n entries. */
struct lockers {
	char *tag, *clients, *cookies, *addrs;
	size_t tag_len, clients_len, cookies_len, addrs_len;
	ssize_t n;
};

static void lockers_get(struct rados_store *s, const char *key, struct lockers *l)
{
	memset(l, 0, sizeof(*l));
	l->tag_len = 256;
	l->clients_len = l->cookies_len = l->addrs_len = 1024;
	int exclusive = 0;
	l->n = -ERANGE;
	/* on ERANGE the lengths were raised to what is needed */
	for (int attempt = 0; attempt < 3 && l->n == -ERANGE; attempt++) {
		l->tag = om_realloc(l->tag, l->tag_len);
		l->clients = om_realloc(l->clients, l->clients_len);
		l->cookies = om_realloc(l->cookies, l->cookies_len);
		l->addrs = om_realloc(l->addrs, l->addrs_len);
		l->n = rados_list_lockers(s->io, key, RADOS_LOCK_NAME, &exclusive, l->tag,
					  &l->tag_len, l->clients, &l->clients_len, l->cookies,
					  &l->cookies_len, l->addrs, &l->addrs_len);
	}
	if (l->n > 0) {
		/* never trust the lists to end in NUL */
		if (l->clients_len > 0)
			l->clients[l->clients_len - 1] = '\0';
		if (l->cookies_len > 0)
			l->cookies[l->cookies_len - 1] = '\0';
	}
}

static void lockers_free(struct lockers *l)
{
	free(l->tag);
	free(l->clients);
	free(l->cookies);
	free(l->addrs);
}

/* Break the entries of `owner` held by other client instances (an earlier
 * process of the same owner). Returns how many were broken, or an error. */
static int break_own(struct rados_store *s, const char *key, const char *owner,
		     bool *others_r)
{
	struct lockers l;
	*others_r = false;
	lockers_get(s, key, &l);
	int ret = 0;
	if (l.n < 0) {
		ret = (int)l.n;
		goto out;
	}
	const char *c = l.clients, *k = l.cookies;
	for (ssize_t i = 0; i < l.n; i++) {
		if (c >= l.clients + l.clients_len || k >= l.cookies + l.cookies_len)
			break;
		if (strcmp(k, owner) == 0) {
			int r = rados_break_lock(s->io, key, RADOS_LOCK_NAME, c, k);
			if (r < 0 && r != -ENOENT) {
				ret = r;
				goto out;
			}
			ret++;
		} else {
			*others_r = true;
		}
		c += strlen(c) + 1;
		k += strlen(k) + 1;
	}
out:
	lockers_free(&l);
	return ret;
}

int rados_lock(struct objstore *store, const char *key, const char *owner, unsigned ttl)
{
	struct rados_store *s = rs(store);
	struct timeval tv = { .tv_sec = ttl, .tv_usec = 0 };
	int r = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		/* MAY_RENEW: our own (instance, owner) entry is renewed to
		 * now + ttl instead of failing with -EEXIST. */
		r = rados_lock_exclusive(s->io, key, RADOS_LOCK_NAME, owner, "objmail lease",
					 ttl != 0 ? &tv : NULL, LIBRADOS_LOCK_FLAG_MAY_RENEW);
		if (r == 0)
			return 0;
		if (r != -EBUSY && r != -EEXIST)
			break;
		bool others;
		int broken = break_own(s, key, owner, &others);
		if (broken < 0) {
			r = broken;
			break;
		}
		if (broken == 0 || others)
			return -OM_EEXISTS;
	}
	return rados_fail("lock", key, r);
}

int rados_unlock_key(struct objstore *store, const char *key, const char *owner)
{
	struct rados_store *s = rs(store);
	int r = rados_unlock(s->io, key, RADOS_LOCK_NAME, owner);
	if (r == 0)
		return 0;
	if (r != -ENOENT)
		return rados_fail("unlock", key, r);
	/* Not ours in this instance: maybe an earlier process's, or someone
	 * else's (cls_lock drops expired entries when it reads them). */
	bool others;
	int broken = break_own(s, key, owner, &others);
	if (broken < 0)
		return broken == -ENOENT ? -OM_ENOTFOUND : rados_fail("unlock", key, broken);
	if (broken > 0)
		return 0;
	return others ? -OM_EEXISTS : -OM_ENOTFOUND;
}

/* The first locker (an exclusive lock has one, or a stale entry of ours
 * next to it). cls_lock doesn't tell the expiry through list_lockers, so
 * expiry is 0 ("not said"). */
int rados_lock_holder(struct objstore *store, const char *key, struct objstore_lock_holder *h_r)
{
	struct rados_store *s = rs(store);
	struct lockers l;
	lockers_get(s, key, &l);
	int ret;
	if (l.n == -ENOENT || l.n == 0) {
		ret = -OM_ENOTFOUND;
	} else if (l.n < 0) {
		ret = rados_fail("lock_info", key, (int)l.n);
	} else {
		snprintf(h_r->owner, sizeof(h_r->owner), "%s", l.cookies);
		snprintf(h_r->token, sizeof(h_r->token), "%s", l.clients);
		h_r->expiry = 0;
		ret = 0;
	}
	lockers_free(&l);
	return ret;
}

int rados_lock_info(struct objstore *store, const char *key, char *owner_r,
		    size_t owner_size, int64_t *expiry_r)
{
	struct objstore_lock_holder h;
	int ret = rados_lock_holder(store, key, &h);
	*expiry_r = 0;
	if (ret == 0)
		snprintf(owner_r, owner_size, "%s", h.owner);
	return ret;
}

int rados_lock_break(struct objstore *store, const char *key,
		     const struct objstore_lock_holder *h, const char *owner, unsigned ttl)
{
	struct rados_store *s = rs(store);
	int r = rados_break_lock(s->io, key, RADOS_LOCK_NAME, h->token, h->owner);
	if (r == -ENOENT) {
		/* that hold is gone (expired, released, broken by another):
		 * whoever holds the lock now is someone else's business */
		return -OM_EEXISTS;
	}
	if (r < 0)
		return rados_fail("break_lock", key, r);
	/* Another taker may get in between the break and this lock: then
	 * it is theirs and we wait like for any held lock. */
	return rados_lock(store, key, owner, ttl);
}
