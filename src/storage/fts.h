/* Full-text search and the SORT/THREAD header cache, kept in the user's
 * SQLite index so that SEARCH, SORT and THREAD never read message bodies
 * (on obox: never GET an object) once a message is indexed.
 *
 * FTS: one FTS5 row per message (rowid = mailbox_id << 32 | uid) with the
 * three pieces of SEARCH's text (mime_search_parts): root header, the
 * headers of the parts below it, body text; each case-folded with
 * mime_utf8_fold, tokenized by trigrams (case-sensitive, as the text is
 * folded already). A trigram phrase MATCH of a folded needle of >= 3
 * characters finds exactly the rows containing it as a substring; shorter
 * needles are answered by scanning the stored text. Rows go away with their
 * message (trigger on the messages table).
 *
 * Sort fields: a record per message in the index cache table (field
 * "sort"): Date: (sent date), first From/To/Cc addr-mailbox and display
 * form, base subject, Message-ID, References, In-Reply-To.
 *
 * Both are filled at append/copy (mail-message.c) and lazily for messages
 * that arrived another way (maildir delivery by others, rebuilds), and can be
 * rebuilt with fts_rescan_user (`objmail fts rescan USER`). */
#ifndef OM_STORAGE_FTS_H
#define OM_STORAGE_FTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "storage/mail-storage.h"

struct om_index;

/* Folded text pieces. */
struct fts_doc {
	struct buf hdr, parts, body;
};

struct mail_sort_fields {
	bool has_date;
	int64_t date;            /* Date: header, unix time */
	int32_t tz;              /* its zone, minutes east */
	bool subject_reply;      /* base subject had Re:/Fwd: etc. removed */
	/* folded (case-insensitive comparisons) */
	struct buf from, to, cc;   /* addr-mailbox of the first address */
	struct buf dfrom, dto;     /* display name or mailbox@domain */
	struct buf subject;        /* base subject (RFC 5256 2.1) */
	/* raw, unfolded */
	struct buf message_id, references, in_reply_to;
};

/* Compute both from a message's bytes (LF or CRLF line ends). */
void fts_build(const char *data, size_t len, struct fts_doc *doc, struct mail_sort_fields *sf);
void fts_doc_free(struct fts_doc *doc);
void mail_sort_fields_free(struct mail_sort_fields *sf);

/* --- with the user lock held (storage core) --- */
int fts_put_locked(struct om_index *idx, int64_t mailbox_id, uint32_t uid,
		   const struct fts_doc *doc, const struct mail_sort_fields *sf);
/* The copy of a message gets the original's rows (no parsing). Missing
 * rows are not an error. */
int fts_copy_locked(struct om_index *idx, int64_t src_mailbox_id, uint32_t src_uid,
		    int64_t dst_mailbox_id, uint32_t dst_uid);

/* --- sessions (take the user lock themselves) --- */

/* The message's stored text; indexes it first if needed (then the message
 * is read once). -OM_ENOTFOUND if expunged. */
int fts_doc_get(struct mailbox *box, uint32_t uid, struct fts_doc *doc);
/* The message's sort fields, computed and cached if needed. */
int mail_sort_fields_get(struct mailbox *box, uint32_t uid, struct mail_sort_fields *sf);

enum fts_cols {
	FTS_COL_HDR = 1 << 0,
	FTS_COL_PARTS = 1 << 1,
	FTS_COL_BODY = 1 << 2,
};
/* UIDs of box's indexed messages (*indexed_r, sorted) and of those whose
 * columns `cols` contain the needle (*match_r, sorted). -OM_EINVAL if the
 * needle is too short for the index (under 3 characters) or holds a line
 * break. Free both arrays. */
int fts_candidates(struct mailbox *box, unsigned cols, const char *needle, size_t len,
		   uint32_t **match_r, size_t *n_match_r, uint32_t **indexed_r, size_t *n_indexed_r);

/* All values of header `name` in a stored (folded) root header, joined by
 * "\n" as mime_header_get_all_utf8 does. false if absent. */
bool fts_doc_header(const struct fts_doc *doc, const char *name, struct buf *out);

/* Rebuild the FTS rows and sort fields of every message of an open user
 * (reads every message). *n_r: messages indexed. */
int fts_rescan_user(struct mail_user *user, unsigned *n_r);
/* The same for a user whose sessions keep working meanwhile (objmaild's
 * live `fts-rescan`): the user lock is held per message, never while a
 * message is parsed. Each mailbox's rows are dropped as it comes up, so
 * until its messages are done again SEARCH reads them (fts_candidates
 * lists them as not indexed): answers stay right throughout. progress
 * (NULL: none) hears (ctx, done, total) after each message; false stops the
 * rescan with -OM_EIO (what is done stays). */
typedef bool fts_rescan_progress_fn(void *ctx, unsigned long long done,
				    unsigned long long total);
int fts_rescan_user_progress(struct mail_user *user, fts_rescan_progress_fn *progress,
			     void *ctx, unsigned *n_r);

#endif
