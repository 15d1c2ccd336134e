/* The per-user SQLite index (DESIGN.md "Inside a backend"): mailboxes,
 * messages, keywords, subscriptions, cached fields and expunged UIDs. One
 * connection per open user, always used under that user's lock, so nothing
 * here locks. Every function returns 0 or a negative OM_E* code. */
#ifndef OM_STORAGE_INDEX_H
#define OM_STORAGE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "storage/mail-storage.h"

#define INDEX_SCHEMA_VERSION 1

struct om_index;

struct index_mailbox {
	int64_t id;
	char *name;               /* UTF-8, '/' separated */
	char guid[33];
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t first_recent_uid;
	uint64_t highest_modseq;
	unsigned special_use;     /* one MBOX_SPECIAL_* bit or 0 */
	char *sync_state;         /* driver's "nothing changed since" stamp */
};

struct index_msg {
	struct mail_rec rec;
	char *ddata;              /* driver data (maildir: "cur/<file name>") */
};

/* created_r: the database file did not exist (the caller rebuilds). */
int index_open(const char *path, struct om_index **idx_r, bool *created_r);
void index_close(struct om_index *idx);
const char *index_path(const struct om_index *idx);
/* Make every committed transaction durable now: the index runs WAL with
 * synchronous=NORMAL (commits are not fsynced), so fsync its -wal file.
 * obox calls it before its state file records uploaded change logs, so a
 * power loss can't leave that file claiming commits the index lost. */
int index_sync(const struct om_index *idx);
/* The sqlite3 handle, for modules keeping their own tables in the user's
 * index (fts.c); same locking rules. */
void *index_sqlite(struct om_index *idx);

int index_begin(struct om_index *idx);
int index_commit(struct om_index *idx);
void index_rollback(struct om_index *idx);

void index_mailbox_clear(struct index_mailbox *mb);
int index_mailbox_get(struct om_index *idx, const char *name, struct index_mailbox *mb_r);
int index_mailbox_get_by_id(struct om_index *idx, int64_t id, struct index_mailbox *mb_r);
/* mb->id is set on success. -OM_EEXISTS if the name is taken. */
int index_mailbox_add(struct om_index *idx, struct index_mailbox *mb);
/* Writes every field except id and name. */
int index_mailbox_update(struct om_index *idx, const struct index_mailbox *mb);
/* Drops the mailbox with its messages, keywords, cache and expunge records. */
int index_mailbox_delete(struct om_index *idx, int64_t id);
int index_mailbox_set_name(struct om_index *idx, int64_t id, const char *name);
/* All mailboxes sorted by name. Free with index_mailboxes_free. */
int index_mailbox_list(struct om_index *idx, struct index_mailbox **list_r, size_t *n_r);
void index_mailboxes_free(struct index_mailbox *list, size_t n);

int index_subs_list(struct om_index *idx, char ***names_r, size_t *n_r);
int index_subs_set(struct om_index *idx, const char *name, bool subscribed);
int index_subs_replace(struct om_index *idx, char *const *names, size_t n);

/* Messages of a mailbox sorted by uid. Free with index_msgs_free. */
int index_msgs_get(struct om_index *idx, int64_t mailbox_id, struct index_msg **msgs_r, size_t *n_r);
void index_msgs_free(struct index_msg *msgs, size_t n);
int index_msg_get(struct om_index *idx, int64_t mailbox_id, uint32_t uid, struct index_msg *msg_r);
void index_msg_clear(struct index_msg *msg);
int index_msg_add(struct om_index *idx, int64_t mailbox_id, const struct index_msg *msg);
/* Writes flags, keywords, modseq and ddata. */
int index_msg_update(struct om_index *idx, int64_t mailbox_id, const struct index_msg *msg);
/* Removes the message and its cache, records the expunge at modseq. */
int index_msg_expunge(struct om_index *idx, int64_t mailbox_id, uint32_t uid, uint64_t modseq);

int index_keywords_get(struct om_index *idx, int64_t mailbox_id, char ***names_r, size_t *n_r);
int index_keyword_add(struct om_index *idx, int64_t mailbox_id, unsigned kw_index, const char *name);

int index_cache_get(struct om_index *idx, int64_t mailbox_id, uint32_t uid, const char *field, struct buf *out);
int index_cache_put(struct om_index *idx, int64_t mailbox_id, uint32_t uid, const char *field,
		    const char *data, size_t len);

/* Sum of message sizes over all mailboxes. */
int index_quota_used(struct om_index *idx, uint64_t *used_r);
/* Bytes and number of messages of the user (all mailboxes). */
int index_quota_usage(struct om_index *idx, uint64_t *bytes_r, uint64_t *messages_r);

/* Small key/value table for drivers. get: -OM_ENOTFOUND if unset. */
int index_meta_get(struct om_index *idx, const char *key, struct buf *out);
int index_meta_set(struct om_index *idx, const char *key, const char *value);

/* --- object-store helpers (obox) --- */

/* A consistent copy of the whole database into a new file at path (a
 * rollback-journal database, ready to compress and upload). */
int index_backup_to(struct om_index *idx, const char *path);
/* How many message rows reference guid, not counting (skip_mailbox_id,
 * skip_uid), or every row of skip_mailbox_id when skip_uid is 0. */
int index_guid_refs(struct om_index *idx, const char *guid, int64_t skip_mailbox_id,
		    uint32_t skip_uid, unsigned *n_r);
/* Objects to delete from the store once bundle after_seq is uploaded. */
int index_pending_delete_add(struct om_index *idx, const char *guid, uint64_t after_seq);
int index_pending_delete_remove(struct om_index *idx, const char *guid);
int index_pending_delete_list(struct om_index *idx, uint64_t max_seq, char ***guids_r, size_t *n_r);
/* Every GUID of a message row or a pending delete, sorted (strcmp). */
int index_known_guids(struct om_index *idx, char ***guids_r, size_t *n_r);
int index_mailbox_get_by_guid(struct om_index *idx, const char *guid, struct index_mailbox *mb_r);
/* Whether uid was expunged from the mailbox (or may have been: at or below
 * the floor of forgotten expunges) -- such a UID is never given again. */
int index_expunged_has(struct om_index *idx, int64_t mailbox_id, uint32_t uid, bool *has_r);
/* The index keeps the newest `n` expunges of each mailbox (default
 * INDEX_EXPUNGE_HISTORY_DEFAULT, config index_expunge_history) and forgets
 * older ones, so an index doesn't grow with every mail ever deleted. */
#define INDEX_EXPUNGE_HISTORY_DEFAULT 10000
#define INDEX_EXPUNGE_HISTORY_MIN 10
#define INDEX_EXPUNGE_PRUNE_EVERY 64    /* expunges between size checks */
void index_set_expunge_history(unsigned n);
/* What the forgotten expunges covered: modseqs up to *modseq_r, UIDs up to
 * *max_uid_r (both 0: nothing forgotten). */
int index_expunged_floor(struct om_index *idx, int64_t mailbox_id, uint64_t *modseq_r,
			 uint32_t *max_uid_r);
/* Raise that floor (never lowers it): a client that synced before modseq
 * is told every UID up to max_uid that is gone. For a rebuilt index, which
 * has no expunge records of the old one (objmail force-resync). */
int index_expunged_floor_raise(struct om_index *idx, int64_t mailbox_id, uint64_t modseq,
			       uint32_t max_uid);
/* UIDs expunged from the mailbox at a modseq above `modseq`, ascending
 * (QRESYNC's VANISHED). Free *uids_r. */
int index_expunged_since(struct om_index *idx, int64_t mailbox_id, uint64_t modseq,
			 uint32_t **uids_r, size_t *n_r);

#endif
