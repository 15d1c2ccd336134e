/* The obox driver: mail in an object store (DESIGN.md "Object layout").
 *
 *   u/<h>/<user>/m/<guid>             one message, immutable (CRLF bytes,
 *                                     optionally zstd), metadata below
 *   u/<h>/<user>/idx/bundle.<seq>     zstd'd SQLite backup of the index
 *   u/<h>/<user>/idx/log.<seq>.<n>    change records since bundle <seq>
 *   u/<h>/<user>/lease                the backend serving the user
 * <h> = first two hex digits of SHA-256(user); <seq> 16 hex digits, <n> 8,
 * so names sort. The local index is DIR/users/<h>/<user>/index.sqlite, a
 * cache of what the bundle and logs say; doc/obox.md has the whole story.
 *
 * Files: obox-storage.c (ops table, user open/close, mailboxes),
 * obox-mail.c (messages), obox-log.c (change records), obox-bundle.c
 * (bundles, rebuild), obox-sync.c (the process-wide store, the background
 * flusher, mail_storage_* entry points), obox-lease.c (leases: owner name,
 * take / renew / release, breaking a dead holder's). */
#ifndef OM_OBOX_H
#define OM_OBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "objstore/objstore.h"
#include "storage/mail-storage-private.h"

#define OBOX_LEASE_PROBE_MS 1000     /* connect to a holder's address for this long */
#define OBOX_CLOSE_GRACE 5           /* idle seconds before a closed user's final bundle */
#define OBOX_PARALLEL_READS 16       /* GETs in flight for a prefetch */
#define OBOX_MAX_LOGS 1000           /* logs after which a bundle is due anyway */
#define OBOX_MAX_LOG_BYTES (1 << 20) /* records per log object, at most */
#define OBOX_MAX_INDEX_SIZE (UINT64_C(4) << 30)
#define OBOX_BUNDLE_RETRY 15         /* seconds between failed periodic bundles */
#define OBOX_COMPRESS_MIN 512        /* smaller messages are stored as they are */
#define OBOX_INDEX_FILE "index.sqlite"
#define OBOX_STATE_FILE "state"

struct obox_user {
	struct mail_user user;          /* first */
	struct obox_user *next;         /* open users, under the global lock */
	char *key_prefix;               /* "u/<h>/<user>/" */
	char *dir;                      /* DIR/users/<h>/<user> */
	bool listed;                    /* in the open list */
	bool keeper;                    /* the flusher holds a reference (global lock) */
	bool ticking;                   /* queued for or in a flusher tick (global lock) */
	bool lease_taken;
	bool closing_marked;            /* the closer marked it closing already */

	pthread_mutex_t flush_lock;     /* one uploader at a time; before user->lock */
	pthread_mutex_t olock;          /* the fields below; innermost lock */
	struct buf pending;             /* records not uploaded yet */
	uint64_t seq;                   /* newest bundle; logs go to log.<seq>.<n> */
	uint32_t log_n;                 /* next <n> */
	bool snap_inflight;             /* a bundle snapshot is being uploaded */
	bool dirty;                     /* the index has changes no uploaded bundle has */
	bool lease_lost;
	time_t last_bundle;
	time_t bundle_retry_at;         /* after a failed bundle: not before */
	time_t last_use;
	time_t lease_until;             /* our lease holds until (monotonic s) */
	time_t lease_renewed;
};

static inline struct obox_user *obox_user(struct mail_user *user)
{
	return (struct obox_user *)user;
}

/* --- obox-sync.c: the process-wide part --- */
struct obox_settings {
	unsigned flush_interval;        /* index_flush_interval, seconds */
	bool compress;                  /* mail_compress = zstd */
	uint64_t prefetch_budget;       /* bytes one prefetch may pull into fscache */
	unsigned flush_threads;         /* obox_flush_threads: users ticked at once */
};
/* Open the process's store at first use (and start the flusher). */
int obox_global_init(const struct om_config *cfg, const char *root);
struct objstore *obox_store(void);
const struct obox_settings *obox_settings(void);
time_t obox_now(void);             /* monotonic seconds */

/* --- obox-lease.c --- */
/* At obox_global_init (under its lock): the ttl, the owner name (with the
 * contact address when there is one) and DIR/lock. */
void obox_lease_init(const struct om_config *cfg, const char *root);
void obox_lease_fini(void);
const char *obox_lease_owner(void);
/* Take the user's lease (breaking a provably dead holder's, see
 * doc/obox.md). -OM_ETEMP if another backend has it. */
int obox_lease_take(struct obox_user *ou);
void obox_lease_release(struct obox_user *ou);
/* The flusher's tick: renew when due (every ttl/3); notice a loss. */
void obox_lease_renew(struct obox_user *ou, time_t now);
/* 0 if the user may be written now, else -OM_ETEMP (lease lost/expiring). */
int obox_writable(struct obox_user *ou);
/* Writes stop this long before an unrenewed lease would end (ttl/6). */
time_t obox_lease_margin(void);
/* Tests: a lease of this many seconds instead of obox_lease_ttl's
 * (renewed every ttl/3); 0 = the config's again. */
void obox_set_lease_ttl(unsigned seconds);
/* Register an opened user with the flusher (which takes a reference). */
void obox_user_register(struct obox_user *ou);
void obox_user_unregister(struct obox_user *ou);
/* Wait until no other instance of name is closing (its final upload). */
void obox_closing_wait(const char *name);
void obox_closing_set(const char *name, bool closing);
/* A force-resync of name runs in another thread: opening the user now
 * must fail (temporarily), or the opener would read the local index the
 * resync is about to delete. */
bool obox_resync_blocks(const char *name);
/* Counters for metrics. */
enum obox_counter {
	OBOX_C_BUNDLE_OK, OBOX_C_BUNDLE_ERR, OBOX_C_LOG_OK, OBOX_C_LOG_ERR,
	OBOX_C_REBUILDS, OBOX_C_DELETED, OBOX_C_LEASE_LOST, OBOX_C_PREFETCHED,
	OBOX_C_LEASE_BROKEN,
	OBOX_C_COUNT
};
void obox_count(enum obox_counter c, uint64_t n);

/* Note activity (the close grace counts from the last one). */
void obox_touch(struct obox_user *ou);

/* --- obox-log.c: change records --- */
/* Append a record (fields joined by TAB; each already escaped) to the
 * user's pending log; marks the user dirty. Under the user lock. */
void obox_log_add(struct obox_user *ou, const char *record);
/* Escape a field for a record ('%', TAB, LF, CR, space, ',', controls). */
void obox_field_escape(struct buf *out, const char *s);
/* Keyword names of mask in mailbox_id as an escaped comma list. */
int obox_keywords_field(struct om_index *idx, int64_t mailbox_id, uint64_t mask, struct buf *out);
/* Apply the records in data (one per line) to idx; unknown or conflicting
 * records are skipped with a warning. after_seq for deletes they cause. */
int obox_log_apply(struct om_index *idx, const char *user, const char *data, size_t len,
		   uint64_t after_seq);
/* Record that guid's object may go once no row references it (other than
 * mailbox_id/uid; uid 0 = the whole mailbox). Under the user lock. */
int obox_maybe_pending_delete(struct om_index *idx, const char *guid, int64_t mailbox_id,
			      uint32_t uid, uint64_t after_seq);
/* Upload the pending records as the next log. flush_lock held. */
int obox_log_upload(struct obox_user *ou);

/* --- obox-bundle.c --- */
/* Snapshot the index and upload it as bundle <seq+1>; then drop old logs,
 * old bundles and objects whose delete was waiting for it. flush_lock
 * held; blocking false: give up (-OM_ETEMP) if the user lock is busy. */
int obox_bundle_upload(struct obox_user *ou, bool blocking);
/* Write DIR/users/../state: "<seq> <log_n> <clean>". */
void obox_state_write(struct obox_user *ou, bool clean);
/* Open the user's index: the local one if it is as new as the store's,
 * else rebuilt from the newest bundle + logs. Sets ou->seq/log_n,
 * user->index. Returns 1 when m/ must be scanned (rebuilt, or the last
 * run did not close cleanly), 0, or an error. */
int obox_index_load(struct obox_user *ou);
/* The store's newest bundle seq and the next log n after it. */
int obox_store_head(struct obox_user *ou, uint64_t *seq_r, uint32_t *n_r);
/* Add every object under m/ that the index doesn't know. */
int obox_scan_objects(struct obox_user *ou);
/* The seq the next bundle snapshot will surely be newer than (for pending
 * deletes). Under the user lock. */
uint64_t obox_delete_after_seq(struct obox_user *ou);

/* --- obox-mail.c --- */
int obox_msg_save(struct mail_user *user, struct index_mailbox *mb,
		  const struct mail_save_req *req, struct index_msg *msg_r);
int obox_msg_upload(struct mail_user *user, const char *mailbox, const struct mail_save *save,
		    const struct mail_save_req *req, void **prep_r);
void obox_msg_upload_done(struct mail_user *user, void *prep, bool saved);
int obox_msg_set_flags(struct mail_user *user, const struct index_mailbox *mb,
		       struct index_msg *msg, uint32_t flags, uint64_t keywords);
int obox_msg_expunge(struct mail_user *user, const struct index_mailbox *mb,
		     const struct index_msg *msg);
int obox_msg_copy(struct mail_user *user, const struct index_mailbox *src,
		  const struct index_msg *msg, struct index_mailbox *dst,
		  uint32_t flags, uint64_t keywords, struct index_msg *msg_r);
int obox_msg_read(struct mail_user *user, const struct index_mailbox *mb,
		  const struct index_msg *msg, struct buf *out);
int obox_msg_prefetch(struct mail_user *user, const struct index_msg *msgs, size_t n);
/* "u/<h>/<user>/m/<guid>" */
void obox_msg_key(const struct obox_user *ou, const char *guid, struct buf *out);
/* The A (append) record of a message row. */
int obox_append_record(struct om_index *idx, const struct index_mailbox *mb,
		       const struct index_msg *msg, struct buf *out);
void obox_guid_random(char guid[33]);
/* Map a store error to what callers see (every store failure is temporary). */
int obox_store_error(struct obox_user *ou, const char *op, const char *key, int err);

/* --- obox-storage.c --- */
/* Per-user names: the escaped user, its <h>. */
void obox_user_paths(const char *root, const char *username, struct buf *prefix_r,
		     struct buf *dir_r);
uint32_t obox_uidvalidity_next(struct om_index *idx);
int obox_mkdir_p(const char *path);

#endif
