/* Hash table (chained, by the key's hash) + doubly linked LRU list. */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "objstore/fscache-index.h"

void fscache_index_init(struct fscache_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	ix->nbuckets = 256;
	ix->buckets = om_calloc(ix->nbuckets, sizeof(*ix->buckets));
	ix->lru.lru_next = ix->lru.lru_prev = &ix->lru;
}

void fscache_index_free(struct fscache_index *ix)
{
	struct fscache_entry *e = ix->lru.lru_next;
	while (e != &ix->lru) {
		struct fscache_entry *next = e->lru_next;
		free(e);
		e = next;
	}
	free(ix->buckets);
	memset(ix, 0, sizeof(*ix));
}

static size_t bucket_of(const struct fscache_index *ix, const uint8_t *id)
{
	uint64_t h;
	memcpy(&h, id, sizeof(h)); /* already a cryptographic hash */
	return (size_t)(h & (ix->nbuckets - 1));
}

struct fscache_entry *fscache_index_find(struct fscache_index *ix, const uint8_t *id)
{
	for (struct fscache_entry *e = ix->buckets[bucket_of(ix, id)]; e != NULL; e = e->hash_next) {
		if (memcmp(e->id, id, FSCACHE_ID_LEN) == 0)
			return e;
	}
	return NULL;
}

static void grow(struct fscache_index *ix)
{
	size_t old_n = ix->nbuckets;
	struct fscache_entry **old = ix->buckets;
	ix->nbuckets = old_n * 2;
	ix->buckets = om_calloc(ix->nbuckets, sizeof(*ix->buckets));
	for (size_t i = 0; i < old_n; i++) {
		struct fscache_entry *e = old[i];
		while (e != NULL) {
			struct fscache_entry *next = e->hash_next;
			size_t b = bucket_of(ix, e->id);
			e->hash_next = ix->buckets[b];
			ix->buckets[b] = e;
			e = next;
		}
	}
	free(old);
}

static void lru_unlink(struct fscache_entry *e)
{
	e->lru_prev->lru_next = e->lru_next;
	e->lru_next->lru_prev = e->lru_prev;
}

static void lru_push_head(struct fscache_index *ix, struct fscache_entry *e)
{
	e->lru_prev = &ix->lru;
	e->lru_next = ix->lru.lru_next;
	ix->lru.lru_next->lru_prev = e;
	ix->lru.lru_next = e;
}

struct fscache_entry *fscache_index_add(struct fscache_index *ix, const uint8_t *id,
					uint64_t size, int64_t stamp_ns)
{
	if (ix->count >= ix->nbuckets && ix->nbuckets < ((size_t)1 << 30))
		grow(ix);
	struct fscache_entry *e = om_calloc(1, sizeof(*e));
	memcpy(e->id, id, FSCACHE_ID_LEN);
	e->size = size;
	e->stamp_ns = stamp_ns;
	size_t b = bucket_of(ix, id);
	e->hash_next = ix->buckets[b];
	ix->buckets[b] = e;
	lru_push_head(ix, e);
	ix->count++;
	return e;
}

void fscache_index_touch(struct fscache_index *ix, struct fscache_entry *e)
{
	lru_unlink(e);
	lru_push_head(ix, e);
}

struct fscache_entry *fscache_index_oldest(struct fscache_index *ix)
{
	return ix->lru.lru_prev == &ix->lru ? NULL : ix->lru.lru_prev;
}

void fscache_index_remove(struct fscache_index *ix, struct fscache_entry *e)
{
	struct fscache_entry **pp = &ix->buckets[bucket_of(ix, e->id)];
	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	lru_unlink(e);
	ix->count--;
	free(e);
}
