/* What the index's own files (index.c, index-expunged.c) share: the
 * connection and its statement cache. Not for other modules. */
#ifndef OM_STORAGE_INDEX_PRIVATE_H
#define OM_STORAGE_INDEX_PRIVATE_H

#include <sqlite3.h>
#include <stdbool.h>

#include "storage/index.h"

/* Prepared statements kept per connection: FETCH, SEARCH and delivery
 * run the same few queries once per message, and preparing each time
 * (parsing, planning) showed in every profile. Keyed by the SQL's address
 * (the callers pass literals), checked by content. */
#define STMT_CACHE_SIZE 48

struct stmt_slot {
	const char *key;
	sqlite3_stmt *st;
	bool busy;                /* handed out, not yet released */
};

struct om_index {
	sqlite3 *db;
	char *path;
	struct stmt_slot stmts[STMT_CACHE_SIZE];
	unsigned stmt_evict;      /* round-robin victim */
	unsigned expunges;        /* recorded since the last look at the table's size */
};

/* Logs what failed; -OM_ETEMP for a busy/locked database, else -OM_EIO. */
int index_db_err(struct om_index *idx, const char *what);
/* A prepared statement for sql (a string literal: the cache is keyed by its
 * address), from the cache when one is free; give it back with
 * index_unprep. */
int index_prep(struct om_index *idx, const char *sql, sqlite3_stmt **st);
void index_unprep(struct om_index *idx, sqlite3_stmt *st);
/* Run a statement that returns no rows and give it back. */
int index_step_done(struct om_index *idx, sqlite3_stmt *st);
/* index-expunged.c: note that uid was expunged at modseq (and now and
 * then forget the oldest such notes). Inside the caller's transaction. */
int index_expunged_record(struct om_index *idx, int64_t mailbox_id, uint32_t uid,
			  uint64_t modseq);

#endif
