/* The in-memory LRU index of an fscache directory: which entries exist, how
 * big, in what order of use. Not thread-safe: fscache.c holds its mutex. */
#ifndef OM_OBJSTORE_FSCACHE_INDEX_H
#define OM_OBJSTORE_FSCACHE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define FSCACHE_ID_LEN 16

struct fscache_entry {
	uint8_t id[FSCACHE_ID_LEN]; /* SHA-256(key), first 16 bytes */
	uint64_t size;              /* bytes on disk */
	int64_t stamp_ns;           /* last use, also the file's mtime */
	struct fscache_entry *lru_prev, *lru_next; /* head = most recent */
	struct fscache_entry *hash_next;
};

struct fscache_index {
	struct fscache_entry **buckets;
	size_t nbuckets, count;
	struct fscache_entry lru; /* sentinel */
};

void fscache_index_init(struct fscache_index *ix);
void fscache_index_free(struct fscache_index *ix);
struct fscache_entry *fscache_index_find(struct fscache_index *ix, const uint8_t *id);
/* Add as the most recently used; the id must not be present. */
struct fscache_entry *fscache_index_add(struct fscache_index *ix, const uint8_t *id,
					uint64_t size, int64_t stamp_ns);
void fscache_index_touch(struct fscache_index *ix, struct fscache_entry *e);
/* The least recently used entry, or NULL. */
struct fscache_entry *fscache_index_oldest(struct fscache_index *ix);
/* Unlink from the index and free. */
void fscache_index_remove(struct fscache_index *ix, struct fscache_entry *e);

#endif
