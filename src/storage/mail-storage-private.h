/* For storage drivers: the base structs and the driver vtable.
 *
 * The driver-independent layer (mail-storage.c) validates names, takes the
 * per-user lock, checks quota, maps keyword names to index bits, assigns
 * modseqs, writes message rows to the index and calls watchers. A driver
 * keeps the store and the index's view of it in step: it owns the mailbox
 * rows (create/delete/rename/sync) and the store side of each message; every
 * op runs with the user lock held. A driver embeds struct mail_user first in
 * its own user struct. */
#ifndef OM_MAIL_STORAGE_PRIVATE_H
#define OM_MAIL_STORAGE_PRIVATE_H

#include <pthread.h>

#include "storage/index.h"
#include "storage/mail-storage.h"

struct mail_storage_ops;

struct mail_user {
	const struct mail_storage_ops *ops;
	char *name;
	unsigned refcount;          /* under the registry lock */
	struct mail_user *hash_next;
	/* refcount 0 but still in the registry until this (monotonic seconds;
	 * mail_storage_set_linger), under the registry lock */
	int64_t linger_until;
	bool init_failed;           /* set before the opener drops lock */

	pthread_mutex_t lock;       /* serializes every operation */
	struct om_index *index;
	char *root;                 /* the driver's location, expanded */
	uint64_t quota_limit;       /* 0 = none */
	uint64_t quota_messages;    /* message-count limit, 0 = none */
	uint64_t max_size;          /* biggest message, 0 = none */
	unsigned max_mailboxes;     /* max_mailboxes, 0 = none */
	const struct om_config *cfg; /* the opener's config, during user_init only */
	char last_error[256];

	pthread_mutex_t watch_lock;
	pthread_cond_t watch_cond;
	struct mail_watch *watches;
};

struct mailbox {
	struct mail_user *user;
	int64_t id;                 /* index row; survives renames */
	char *name;
	bool readonly;
};

/* A message to store: LF line ends, size = len, vsize = CRLF size. */
struct mail_save_req {
	const char *data;
	size_t len;
	uint64_t vsize;
	uint32_t flags;
	uint64_t keywords;          /* bits of the mailbox's index keywords */
	int64_t internal_date;
	int32_t internal_tz;
	void *prep;                 /* what the driver's msg_upload made, or NULL */
};

struct mail_storage_ops {
	const char *name;
	/* Most keywords a mailbox can have. */
	unsigned max_keywords;

	struct mail_user *(*user_alloc)(void);
	void (*user_free)(struct mail_user *user);
	/* Open the store at user->root and user->index; create the default
	 * mailboxes at first use; rebuild the index if it is new. */
	int (*user_init)(struct mail_user *user);
	void (*user_deinit)(struct mail_user *user);

	/* Bring the index's mailboxes and subscriptions up to date with the
	 * store (changes made by others). */
	int (*list_refresh)(struct mail_user *user);
	/* The parents exist already; adds the index row. */
	int (*mailbox_create)(struct mail_user *user, const char *name, unsigned special_use);
	/* Deletes mb (not its children) from store and index. */
	int (*mailbox_delete)(struct mail_user *user, const struct index_mailbox *mb);
	/* Renames old_name and every "old_name/..." mailbox, store and index. */
	int (*mailbox_rename)(struct mail_user *user, const char *old_name, const char *new_name);
	/* The index's subscriptions changed: write them to the store. */
	int (*subscriptions_changed)(struct mail_user *user);

	/* Scan the store for changes to mb and apply them to the index (new
	 * messages, flag changes, expunges); updates *mb. */
	int (*mailbox_sync)(struct mail_user *user, struct index_mailbox *mb);

	/* Store a new message; fills *msg_r except modseq (uid, guid, size,
	 * dates, flags, keywords, ddata). The caller writes the index row. */
	int (*msg_save)(struct mail_user *user, struct index_mailbox *mb,
			const struct mail_save_req *req, struct index_msg *msg_r);
	/* Set the stored flags/keywords of msg; updates msg->ddata.
	 * -OM_ENOTFOUND if the message vanished from the store. */
	int (*msg_set_flags)(struct mail_user *user, const struct index_mailbox *mb,
			     struct index_msg *msg, uint32_t flags, uint64_t keywords);
	int (*msg_expunge)(struct mail_user *user, const struct index_mailbox *mb,
			   const struct index_msg *msg);
	/* Copy msg into dst with the given flags/keywords (dst's bits). */
	int (*msg_copy)(struct mail_user *user, const struct index_mailbox *src,
			const struct index_msg *msg, struct index_mailbox *dst,
			uint32_t flags, uint64_t keywords, struct index_msg *msg_r);
	/* The stored bytes (LF or CRLF line ends). */
	int (*msg_read)(struct mail_user *user, const struct index_mailbox *mb,
			const struct index_msg *msg, struct buf *out);
	/* Optional: warm a cache with these messages' bytes before they are
	 * read one by one. Called WITHOUT the user lock (msgs are copies);
	 * best effort. */
	int (*msg_prefetch)(struct mail_user *user, const struct index_msg *msgs, size_t n);
	/* Optional: write the message's bytes to the store BEFORE the user
	 * lock is taken (slow I/O that would otherwise serialize a user's
	 * deliveries); called without the lock. On success *prep_r goes to
	 * msg_save as req->prep, and then, whatever happened, to
	 * msg_upload_done: saved = msg_save succeeded (else the driver
	 * removes what it wrote). */
	int (*msg_upload)(struct mail_user *user, const char *mailbox, const struct mail_save *save,
			  const struct mail_save_req *req, void **prep_r);
	void (*msg_upload_done)(struct mail_user *user, void *prep, bool saved);

	/* Optional: while mailbox (normalized name) is watched, changes others
	 * make to the store outside this process call mail_user_notify.
	 * Called without the user lock and without the watch lock; the handle
	 * (NULL: can't) goes to watch_stop. */
	void *(*watch_start)(struct mail_user *user, const char *mailbox);
	void (*watch_stop)(struct mail_user *user, void *handle);
};

extern const struct mail_storage_ops maildir_storage_ops;
extern const struct mail_storage_ops obox_storage_ops;

/* Logs the message with log_error and keeps it as the user's last error. */
void mail_user_set_error(struct mail_user *user, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Core helpers shared by the core's files. */
void mail_user_lock(struct mail_user *user);
void mail_user_unlock(struct mail_user *user);
/* Look up a normalized name in the index, refreshing the list from the store
 * once if it is missing. */
int mail_user_find_mailbox(struct mail_user *user, const char *name, struct index_mailbox *mb_r);
/* A reference, unless the user's last one is gone already (it is being
 * destroyed: a driver's list of its users may still show it). */
bool mail_user_tryref(struct mail_user *user);
/* Call the watchers of mailbox (NULL: all of the user's). No lock held. */
void mail_user_notify(struct mail_user *user, const char *mailbox);
void mail_user_watches_destroy(struct mail_user *user);
/* The user's current reference count (a hint: it may change at once). */
unsigned mail_user_refs(struct mail_user *user);
/* Drop a reference only if it is the last one (then the user is closed and
 * true returned); otherwise change nothing and return false. */
bool mail_user_unref_if_last(struct mail_user *user);

/* Names (mail-name.c): validate and normalize a mailbox name ("inbox" ->
 * "INBOX"), or -OM_EINVAL. */
int mail_name_normalize(const char *name, struct buf *out);
bool mail_name_is_inbox(const char *name);
bool mail_keyword_valid(const char *kw);
/* Is child a strict descendant of parent ("a/b" of "a")? */
bool mail_name_is_child(const char *child, const char *parent);

/* Convert LF/CRLF data to LF (*out) and return the CRLF size. */
uint64_t mail_data_to_lf(const char *data, size_t len, struct buf *out);
/* Convert stored data to CRLF line ends. */
void mail_data_to_crlf(const char *data, size_t len, struct buf *out);
/* CRLF size of stored data. */
uint64_t mail_data_crlf_size(const char *data, size_t len);

#endif
