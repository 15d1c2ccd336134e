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

/* Progress (cli-progress.c; the rest is in cli-mail.h). Inside objmaild a
 * sink takes the reports (at most one a second, and the final one) instead
 * of stderr: set it on the thread that then calls import_* / export_*; it
 * applies to the progress that call makes. A sink returning false (the
 * admin client is gone) cancels: the import stops at the next message
 * with -OM_EIO. */
typedef bool cli_progress_sink_fn(void *ctx, const char *what, unsigned long long done,
				  unsigned long long total, bool final);
void cli_progress_sink_set(cli_progress_sink_fn *fn, void *ctx);
bool cli_progress_cancelled(struct cli_progress *p);
/* Show done/total as reported by the daemon (the tool's live imports). */
void cli_progress_set(struct cli_progress *p, unsigned long long done, unsigned long long total);

/* cli_admin_call (cli.h) for requests that stream progress lines
 * (import, export): they are drawn with cli_progress as they arrive, the
 * other data lines go to data_r. */
struct cli_ctx;
int cli_admin_call_progress(struct cli_ctx *ctx, const char *const *argv, size_t argc,
			    struct buf *data_r);

/* The one-line summary of an import or export: JSON
 * {"user":..,"mailboxes":N,"messages":N,"skipped":N,"uids_kept":N}, or
 * text "WHAT USER: N mailboxes, ...". Both the tool and objmaild print it,
 * so live and offline answers are the same. */
void import_summary(const char *what, const char *user, const struct import_stats *st,
		    bool json, struct buf *out);
/* The message of a cancelled import (the client went away). */
#define IMPORT_CANCELLED "cancelled (the admin client went away)"

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
