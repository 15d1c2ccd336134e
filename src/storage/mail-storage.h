/* The mail storage API: what IMAP, LMTP and the admin tool call.
 *
 * A `struct mail_user` is one user's mail, opened once per process and shared
 * (refcounted) by all of that user's sessions and deliveries; its operations
 * are serialized by a per-user lock, so callers from different workers are
 * safe. Drivers (maildir now, obox next) sit behind `struct mail_storage_ops`
 * (mail-storage-private.h); this header is driver-independent.
 *
 * Mailbox names here are UTF-8 with '/' as the hierarchy separator; "INBOX"
 * (any case) is the inbox. The IMAP layer converts modified UTF-7. Names with
 * empty, "." or ".." components, control characters, a leading or trailing '/',
 * or over 255 bytes are refused with -OM_EINVAL.
 *
 * Messages are served with CRLF line ends (IMAP's view); sizes are of that form.
 * All functions return 0 or a negative OM_E* code (lib/om-error.h). */
#ifndef OM_MAIL_STORAGE_H
#define OM_MAIL_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/config.h"

struct passdb_user;
struct mail_user;
struct mailbox;
struct mail_watch;

/* --- users --- */

/* Open (or find already open) user USERNAME. pu may be NULL (then no home
 * and the config's quota). At the user's first use ever, INBOX, Drafts, Sent,
 * Trash and Junk are created (with SPECIAL-USE) and subscribed. */
int mail_user_open(const struct om_config *cfg, const char *username,
		   const struct passdb_user *pu, struct mail_user **user_r);
void mail_user_ref(struct mail_user *user);
void mail_user_unref(struct mail_user *user);
const char *mail_user_name(const struct mail_user *user);
/* Last error text for logs (not for clients). */
const char *mail_user_last_error(const struct mail_user *user);
/* Storage in use and the limit (0 = none), bytes. */
int mail_user_quota(struct mail_user *user, uint64_t *used_r, uint64_t *limit_r);
/* Storage (bytes) and message count in use and their limits (0 = none),
 * as counted from the index. */
struct mail_quota {
	uint64_t storage_used, storage_limit;
	uint64_t messages_used, messages_limit;
};
int mail_user_quota_get(struct mail_user *user, struct mail_quota *q);

/* --- mailboxes --- */

enum mailbox_flags {
	MBOX_NOSELECT = 1 << 0,      /* exists only as a parent of others */
	MBOX_NOINFERIORS = 1 << 1,
	MBOX_HASCHILDREN = 1 << 2,
	MBOX_HASNOCHILDREN = 1 << 3,
	MBOX_SUBSCRIBED = 1 << 4,
	MBOX_NONEXISTENT = 1 << 5,   /* subscribed but missing */
	MBOX_MARKED = 1 << 6,
	MBOX_UNMARKED = 1 << 7,
	/* SPECIAL-USE (RFC 6154) */
	MBOX_SPECIAL_ALL = 1 << 8,
	MBOX_SPECIAL_ARCHIVE = 1 << 9,
	MBOX_SPECIAL_DRAFTS = 1 << 10,
	MBOX_SPECIAL_FLAGGED = 1 << 11,
	MBOX_SPECIAL_JUNK = 1 << 12,
	MBOX_SPECIAL_SENT = 1 << 13,
	MBOX_SPECIAL_TRASH = 1 << 14,
};
#define MBOX_SPECIAL_MASK (0x7f << 8)

struct mailbox_info {
	char *name;     /* UTF-8, '/' separated */
	unsigned flags; /* enum mailbox_flags */
};

/* Every existing mailbox (INBOX first, then by name), with SUBSCRIBED, the
 * children flags and special-use set. Parents that exist only because a
 * child does are listed with NOSELECT. */
int mail_user_list_mailboxes(struct mail_user *user, struct mailbox_info **list_r, size_t *count_r);
/* Subscribed names (may name mailboxes that no longer exist). */
int mail_user_list_subscriptions(struct mail_user *user, char ***names_r, size_t *count_r);
void mailbox_info_free(struct mailbox_info *list, size_t count);
void mail_names_free(char **names, size_t count);

/* special_use: 0 or one MBOX_SPECIAL_* bit. Creates missing parents. */
int mail_user_create_mailbox(struct mail_user *user, const char *name, unsigned special_use);
/* INBOX can't be deleted (-OM_EPERM). */
int mail_user_delete_mailbox(struct mail_user *user, const char *name);
/* Renames children too. Renaming INBOX moves its messages to the new
 * mailbox and leaves INBOX empty (RFC 3501 6.3.5). */
int mail_user_rename_mailbox(struct mail_user *user, const char *old_name, const char *new_name);
int mail_user_subscribe(struct mail_user *user, const char *name, bool subscribe);

struct mailbox_status {
	uint32_t messages;
	uint32_t recent;
	uint32_t unseen;      /* messages without \Seen */
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint64_t highest_modseq;
	uint64_t size;        /* sum of message sizes */
};
int mail_user_mailbox_status(struct mail_user *user, const char *name, struct mailbox_status *st);

/* --- messages --- */

enum mail_flags {
	MAIL_SEEN = 1 << 0,
	MAIL_ANSWERED = 1 << 1,
	MAIL_FLAGGED = 1 << 2,
	MAIL_DELETED = 1 << 3,
	MAIL_DRAFT = 1 << 4,
	MAIL_RECENT = 1 << 5, /* never stored: the session adds it */
};
#define MAIL_FLAGS_STORED (MAIL_SEEN | MAIL_ANSWERED | MAIL_FLAGGED | MAIL_DELETED | MAIL_DRAFT)

#define MAIL_MAX_KEYWORDS 64

struct mail_rec {
	uint32_t uid;
	uint32_t flags;         /* enum mail_flags */
	uint64_t keywords;      /* bit i = snapshot keywords[i] */
	uint64_t size;          /* RFC822.SIZE (CRLF form) */
	int64_t internal_date;  /* unix seconds */
	int32_t internal_tz;    /* zone of the internal date, minutes east of UTC */
	uint64_t modseq;        /* last change */
	char guid[33];          /* hex, unique per message within the user */
};

struct mailbox_snapshot {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highest_modseq;
	/* UIDs in [recent_lo, recent_hi) became \Recent for the caller of this
	 * sync (claimed by it; no other session gets them). Empty when lo == hi. */
	uint32_t recent_lo, recent_hi;
	size_t count;
	struct mail_rec *recs;  /* sorted by uid */
	size_t n_keywords;
	char **keywords;        /* the mailbox's keyword names, index = bit;
				   indexes are stable: new keywords are only
				   appended (like dovecot-keywords) */
};

/* Open a mailbox for a session. readonly: EXAMINE (no \Recent claims, no
 * flag changes). -OM_ENOTFOUND if missing, -OM_EPERM if \Noselect. */
int mailbox_open(struct mail_user *user, const char *name, bool readonly, struct mailbox **box_r);
void mailbox_close(struct mailbox *box);
const char *mailbox_name(const struct mailbox *box);
struct mail_user *mailbox_user(const struct mailbox *box);

/* Bring the index up to date with the store (e.g. scan the Maildir for
 * changes made by others) and return the current state. Free with
 * mailbox_snapshot_free. */
int mailbox_sync(struct mailbox *box, struct mailbox_snapshot **snap_r);
void mailbox_snapshot_free(struct mailbox_snapshot *snap);

/* The mailbox's keyword names now (index = bit, as in mail_rec.keywords). */
int mailbox_keywords(struct mailbox *box, char ***names_r, size_t *n_r);

/* Save a message. data may use LF or CRLF line ends. internal_date 0 = now.
 * Keywords not known to the mailbox are added (-OM_ELIMIT past the driver's
 * limit). -OM_EQUOTA over quota, -OM_ELIMIT over mail_max_size. */
struct mail_save {
	const char *data;
	size_t len;
	uint32_t flags;               /* stored flags only */
	const char *const *keywords;
	size_t n_keywords;
	int64_t internal_date;
	int32_t internal_tz;
};
int mailbox_append(struct mail_user *user, const char *mailbox, const struct mail_save *save,
		   uint32_t *uidvalidity_r, uint32_t *uid_r);

enum mail_flag_op { MAIL_FLAGS_REPLACE, MAIL_FLAGS_ADD, MAIL_FLAGS_REMOVE };
/* Change flags/keywords of the given UIDs (sorted, may name expunged ones:
 * skipped). On success *recs_r holds the resulting state of every UID that
 * still exists (malloc'd array, *n_r entries), modseq bumped where changed. */
int mailbox_store(struct mailbox *box, const uint32_t *uids, size_t n_uids,
		  enum mail_flag_op op, uint32_t flags,
		  const char *const *keywords, size_t n_keywords,
		  struct mail_rec **recs_r, size_t *n_r);
/* mailbox_store, but only for messages whose modseq is still at most
 * unchangedsince (CONDSTORE STORE UNCHANGEDSINCE, checked under the lock):
 * the others are left alone and listed, sorted, in *failed_r (malloc'd or
 * NULL, *n_failed_r entries). */
int mailbox_store_unchanged(struct mailbox *box, const uint32_t *uids, size_t n_uids,
			    uint64_t unchangedsince, enum mail_flag_op op, uint32_t flags,
			    const char *const *keywords, size_t n_keywords,
			    struct mail_rec **recs_r, size_t *n_r,
			    uint32_t **failed_r, size_t *n_failed_r);
/* UIDs expunged from the mailbox at a modseq above `modseq`, ascending
 * (QRESYNC VANISHED (EARLIER)); as far back as the index remembers.
 * Free *uids_r. */
int mailbox_vanished_since(struct mailbox *box, uint64_t modseq, uint32_t **uids_r, size_t *n_r);
/* The same, and *forgot_max_r > 0 when modseq is older than the oldest
 * expunge the index still remembers (index_expunge_history): then every
 * UID up to *forgot_max_r that is not in the mailbox may have vanished
 * since modseq as well (RFC 7162 lets VANISHED (EARLIER) name more). */
int mailbox_vanished(struct mailbox *box, uint64_t modseq, uint32_t **uids_r, size_t *n_r,
		     uint32_t *forgot_max_r);
/* Remove the given UIDs (the caller picked the \Deleted ones). */
int mailbox_expunge(struct mailbox *box, const uint32_t *uids, size_t n_uids);
/* Copy (or move) UIDs to mailbox dest of the same user. On success, for each
 * source UID that existed, (*src_uids_r)[i] was saved as (*dst_uids_r)[i]
 * in dest (both malloc'd, *n_r entries). Flags and keywords are kept;
 * \Recent is set for dest sessions. -OM_ENOTFOUND if dest is missing
 * (IMAP: NO [TRYCREATE]). */
int mailbox_copy(struct mailbox *src, const uint32_t *uids, size_t n_uids,
		 const char *dest, bool move, uint32_t *dst_uidvalidity_r,
		 uint32_t **src_uids_r, uint32_t **dst_uids_r, size_t *n_r);

/* The message's bytes, CRLF line ends. -OM_ENOTFOUND if it was expunged. */
struct mail_data {
	const char *data;
	size_t len;
	void *priv;
};
int mailbox_msg_open(struct mailbox *box, uint32_t uid, struct mail_data *out);
void mail_data_release(struct mail_data *md);
/* Hint that the bodies of these UIDs will be read soon: obox fetches them
 * into its local cache in parallel (a no-op for maildir). Best effort:
 * errors surface at mailbox_msg_open. */
int mailbox_msg_prefetch(struct mailbox *box, const uint32_t *uids, size_t n_uids);

/* Per-message cache of computed fields in the index ("envelope",
 * "bodystructure", "body", header values for SORT...). get: 0 and out set,
 * or -OM_ENOTFOUND. put is best effort. */
int mailbox_cache_get(struct mailbox *box, uint32_t uid, const char *field, struct buf *out);
void mailbox_cache_put(struct mailbox *box, uint32_t uid, const char *field, const char *data, size_t len);

/* --- imports (mail-import.c): keep a source's UIDs --- */

/* Set mailbox's UIDVALIDITY (only while it holds no message and never held
 * one: else -OM_EEXISTS unless it already has that value; 0 = keep) and
 * raise its UIDNEXT to at least uidnext (0 = keep; never lowered). */
int mail_user_set_mailbox_uids(struct mail_user *user, const char *mailbox,
			       uint32_t uidvalidity, uint32_t uidnext);
/* mailbox_append, but the message gets UID `uid`, which must be at least
 * the mailbox's UIDNEXT (-OM_EEXISTS otherwise): imports in UID order. */
int mailbox_append_with_uid(struct mail_user *user, const char *mailbox,
			    const struct mail_save *save, uint32_t uid);
/* Small per-user state kept in the index (and so, for obox, in its bundles),
 * e.g. how far an `import imap` got. get: 0 or -OM_ENOTFOUND. */
int mail_user_meta_get(struct mail_user *user, const char *key, struct buf *value);
int mail_user_meta_set(struct mail_user *user, const char *key, const char *value);

/* --- object storage operations (obox; harmless no-ops for maildir) --- */

/* Upload every dirty index (bundle, DESIGN.md) of the open user `username`,
 * or of every open user when NULL. Called every index_flush_interval, at
 * the last logout, at SIGTERM and by `objmail flush`. */
int mail_storage_flush(const char *username);
/* Forget the local index of username and rebuild it from the store
 * (newest bundle + logs + listing of m/). The user must not be open. */
int mail_user_force_resync(const struct om_config *cfg, const char *username);
/* Keep a maildir user (its open index) for `seconds` after its last
 * mail_user_unref, so that the next LMTP delivery or LOGIN reuses it instead
 * of reopening and checkpointing the index (obox users have their own
 * grace time in the flusher). 0 (the default) closes every lingering user
 * now and stops the background closer: call it before mail_storage_shutdown. */
void mail_storage_set_linger(unsigned seconds);
/* Who serves username now (obox: the holder of u/<h>/<user>/lease), as a
 * JSON object {"user","key","held","owner","expires","this_backend"}.
 * -OM_EINVAL for a storage without leases (maildir). */
int mail_user_lease_info(const struct om_config *cfg, const char *username, struct buf *json);
/* obox: the address (numeric "IP:PORT" / "[IPv6]:PORT", one of this
 * process's listeners) recorded in its leases, so that other backends can
 * tell that it died and break them (doc/obox.md "Leases"); NULL or "" =
 * none (then obox_lease_address, else leases only expire). Call before the
 * first user is opened. */
void mail_storage_set_lease_address(const char *addr);
/* Called (on a storage thread, no storage lock held) when this process
 * lost username's lease to another backend: nothing more is written for
 * the user here, and its sessions should be closed. The daemon wires it
 * to its session registry. NULL = no hook. */
void mail_storage_set_lease_lost_hook(void (*hook)(const char *username));
/* For storage drivers: run the hook. */
void mail_storage_lease_lost(const char *username);
/* Release every lease and close the storage layer (at shutdown, after the
 * last flush). */
void mail_storage_shutdown(void);
/* Prometheus text of the storage layer (objstore, fscache, bundles, logs). */
void mail_storage_metrics(struct buf *out);

/* --- change notification (IDLE) --- */

/* fn(arg) runs on the changing thread, with no storage lock held, after any
 * change to `mailbox` (NULL = any mailbox) of this user: new mail, flags,
 * expunges. It must be quick (post to a loop). */
struct mail_watch *mail_user_watch(struct mail_user *user, const char *mailbox,
				   void (*fn)(void *arg), void *arg);
/* After this returns, fn is neither running nor called again. */
void mail_user_unwatch(struct mail_watch *w);

#endif
