/* The Dovecot 2.3-compatible Maildir++ driver: internal interfaces.
 *
 * On disk (as Dovecot with "maildir:PATH" and namespace separator "/"):
 *   PATH/{cur,new,tmp}            INBOX
 *   PATH/.A.B/{cur,new,tmp}       mailbox "A/B", each component in modified
 *                                 UTF-7, plus an empty "maildirfolder" file
 *   PATH/subscriptions            "V\t2\n\n" then one name per line, '\t'
 *                                 as separator, modified UTF-7
 *   DIR/dovecot-uidlist           "3 V<uidvalidity> N<nextuid> G<guid>" then
 *                                 "<uid> [<ext>...] :<base name>" lines
 *   DIR/dovecot-keywords          "<index> <name>" lines; index 0 = 'a'
 *   PATH/dovecot-uidvalidity(.X)  Dovecot's UIDVALIDITY counter
 * objmail adds PATH/objmail-index.sqlite* (the index) and
 * PATH/objmail-special-use ("\Sent<TAB>Sent" lines, UTF-8 names), files
 * Dovecot ignores. A '.' in a name component, or a name beginning with '~',
 * is refused (-OM_EINVAL), as Dovecot does with separator "/". */
#ifndef OM_MAILDIR_H
#define OM_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"
#include "storage/mail-storage-private.h"

#define MAILDIR_INDEX_FILE "objmail-index.sqlite"
#define MAILDIR_SPECIAL_USE_FILE "objmail-special-use"
#define MAILDIR_UIDLIST "dovecot-uidlist"
#define MAILDIR_KEYWORDS "dovecot-keywords"
#define MAILDIR_SUBSCRIPTIONS "subscriptions"
#define MAILDIR_MAX_KEYWORDS 26
/* Biggest file we read or parse (messages, uidlists). */
#define MAILDIR_MAX_FILE_SIZE (UINT64_C(1) << 31)

struct maildir_user {
	struct mail_user user;
	struct timespec root_mtime;   /* of PATH at the last list refresh */
	struct timespec subs_mtime;
	bool list_valid;
};

/* --- maildir-name.c: names and modified UTF-7 --- */
int mutf7_encode(const char *utf8, size_t len, struct buf *out);
/* -OM_EINVAL on anything not strictly modified UTF-7. */
int mutf7_decode(const char *mutf7, size_t len, struct buf *out);
/* Mailbox name -> its directory ("INBOX" -> root, "A/B" -> root/.A.B). */
int maildir_name_to_dir(const char *root, const char *name, struct buf *out);
/* Directory entry ".A.B" -> "A/B"; -OM_EINVAL if it is not a folder name. */
int maildir_entry_to_name(const char *entry, struct buf *out);

/* --- maildir-notify.c: outside changes to watched mailboxes (IDLE) --- */
void *maildir_watch_start(struct mail_user *user, const char *mailbox);
void maildir_watch_stop(struct mail_user *user, void *handle);

/* --- maildir-filename.c: "<base>[:2,<flags>]" --- */
struct maildir_filename {
	size_t base_len;              /* bytes before ":2," (the whole name if none) */
	bool have_info;               /* ":2," present */
	bool have_size, have_vsize;
	uint64_t size, vsize;         /* S= (on disk), W= (CRLF) */
	uint32_t flags;               /* MAIL_* */
	uint32_t kw_letters;          /* bit i = letter 'a' + i */
	char other[32];               /* flag letters we don't interpret, sorted */
	size_t tail_off;              /* Dovecot's "<flags>,<fields>": offset of the
					 ',' in the name (kept as is), 0 if none */
};
void maildir_filename_parse(const char *fname, struct maildir_filename *out);
/* base + ":2," + flags (DFPRST order, kept unknown letters) + keyword letters. */
void maildir_filename_build(struct buf *out, const char *base, size_t base_len,
			    uint32_t flags, uint32_t kw_letters, const char *other);
/* A fresh unique "<sec>.M<usec>P<pid>.<host>" base name. */
void maildir_filename_new_base(struct buf *out);
/* Dovecot's hostname escaping: '/' -> "\057", ':' -> "\072". */
void maildir_hostname_escape(const char *host, struct buf *out);
/* 32 hex digits derived from a base name: the GUID of a message whose
 * uidlist line has none, stable across index rebuilds. */
void maildir_guid_from_base(const char *base, size_t base_len, char guid[33]);
void maildir_guid_random(char guid[33]);

/* --- maildir-uidlist.c --- */
struct uidlist_rec {
	uint32_t uid;
	char *base;
	char guid[33];               /* "" if none */
	char *ext;                   /* other extension tokens, kept as read */
};
struct uidlist {
	unsigned version;
	uint32_t uidvalidity;
	uint32_t nextuid;            /* max(header N, last uid + 1) */
	char guid[33];
	struct uidlist_rec *recs;
	size_t n, cap;
	bool exists;
};
/* A missing file is not an error: ul->exists = false. */
int uidlist_read(const char *dir, struct uidlist *ul);
void uidlist_free(struct uidlist *ul);
/* Dovecot's dotlock "<path>.lock" (O_EXCL; stale after 2 minutes).
 * -OM_ETEMP after waiting ~10s. */
int dotlock_take(const char *path);
void dotlock_release(const char *path);
/* Replace path's content atomically (temp file, fsync, rename); the caller
 * holds path's dotlock. */
int file_replace(const char *path, const char *data, size_t len);
/* Under the uidlist lock: add a record for base with UID
 * max(ul->nextuid, min_uid) (appended to the file; the whole file is
 * written if missing or in an old format). */
int uidlist_add_locked(const char *dir, struct uidlist *ul, const char *base, size_t base_len,
		       uint32_t min_uid, uint32_t *uid_r);
/* Under the uidlist lock: write the whole file. */
int uidlist_write_locked(const char *dir, const struct uidlist *ul);
/* Next UIDVALIDITY from PATH/dovecot-uidvalidity, as Dovecot does. */
uint32_t maildir_uidvalidity_next(const char *root);

/* --- maildir-keywords.c --- */
struct maildir_keywords {
	char *names[MAILDIR_MAX_KEYWORDS];
};
int maildir_keywords_read(const char *dir, struct maildir_keywords *kw);
void maildir_keywords_free(struct maildir_keywords *kw);
/* Index keyword bits -> letters, adding names to dovecot-keywords. */
int maildir_keywords_to_letters(struct mail_user *user, int64_t mailbox_id, const char *dir,
				uint64_t keywords, uint32_t *letters_r);
/* Letters -> index keyword bits, adding names to the index. */
int maildir_keywords_from_letters(struct mail_user *user, int64_t mailbox_id,
				  const struct maildir_keywords *kw, char **index_names,
				  size_t *n_index_names, uint32_t letters, uint64_t *keywords_r);

/* --- maildir-storage.c --- */
int maildir_mailbox_dir(struct mail_user *user, const char *name, struct buf *out);
int maildir_io_error(struct mail_user *user, const char *op, const char *path, int err);

/* --- maildir-sync.c --- */
int maildir_sync(struct mail_user *user, struct index_mailbox *mb);

/* --- maildir-mail.c --- */
int maildir_msg_upload(struct mail_user *user, const char *mailbox, const struct mail_save *save,
		       const struct mail_save_req *req, void **prep_r);
void maildir_msg_upload_done(struct mail_user *user, void *prep, bool saved);
int maildir_msg_save(struct mail_user *user, struct index_mailbox *mb,
		     const struct mail_save_req *req, struct index_msg *msg_r);
int maildir_msg_set_flags(struct mail_user *user, const struct index_mailbox *mb,
			  struct index_msg *msg, uint32_t flags, uint64_t keywords);
int maildir_msg_expunge(struct mail_user *user, const struct index_mailbox *mb,
			const struct index_msg *msg);
int maildir_msg_copy(struct mail_user *user, const struct index_mailbox *src,
		     const struct index_msg *msg, struct index_mailbox *dst,
		     uint32_t flags, uint64_t keywords, struct index_msg *msg_r);
int maildir_msg_read(struct mail_user *user, const struct index_mailbox *mb,
		     const struct index_msg *msg, struct buf *out);

#endif
