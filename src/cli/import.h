/* Imports and exports of the objmail tool (import-*.c, export-*.c). Each
 * works on an open user (offline) and reports per-mailbox progress. */
#ifndef OM_CLI_IMPORT_H
#define OM_CLI_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"

struct mail_user;
struct cli_progress;

struct import_stats {
	unsigned long long mailboxes;
	unsigned long long messages;   /* copied */
	unsigned long long skipped;    /* already there (resumed imports) */
	unsigned long long uids_kept;  /* mailboxes whose UIDVALIDITY/UIDs were kept */
};

/* Append in the source's UID order keeping uid when the target allows
 * (fresh mailbox: keep_uids); else a plain append. */
int import_append(struct mail_user *user, const char *mailbox, const char *data, size_t len,
		  uint32_t flags, char *const *keywords, size_t n_keywords, int64_t idate,
		  int32_t itz, bool keep_uids, uint32_t uid);
/* Prepare a target mailbox: create it if missing; if it holds no message
 * and src_uidvalidity != 0, give it src_uidvalidity (*keep_r true). */
int import_prepare_mailbox(struct mail_user *user, const char *name, uint32_t src_uidvalidity,
			   bool *keep_r, struct buf *err);

/* Mailboxes that exist before an import (names, for import_drop_parents). */
int import_names_before(struct mail_user *user, char ***names_r, size_t *n_r);
/* Creating "A/B" creates "A" too; where the source had no mailbox "A" (a
 * \Noselect parent there), delete the empty one the import made, so the
 * target lists what the source did (clients would otherwise sync a new
 * folder). */
void import_drop_parents(struct mail_user *user, char **before, size_t n_before,
			 char *const *source, size_t n_source);

int import_maildir(struct mail_user *user, const char *path, struct import_stats *st,
		   struct buf *err);
int import_mbox(struct mail_user *user, const char *file, const char *mailbox,
		struct import_stats *st, struct buf *err);
/* url: imap[s]://user:pass@host[:port]; threads: mailboxes copied at once. */
int import_imap(struct mail_user *user, const char *url, unsigned threads,
		struct import_stats *st, struct buf *err);

int export_maildir(struct mail_user *user, const char *path, struct import_stats *st,
		   struct buf *err);
int export_mbox(struct mail_user *user, const char *mailbox, const char *file,
		struct import_stats *st, struct buf *err);

#endif
