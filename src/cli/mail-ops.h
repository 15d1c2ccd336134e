/* The mailbox and message operations of the objmail tool, on one open
 * user: run by the tool itself (offline) and by objmaild's admin socket
 * (live; src/daemon/admin-mail.c compiles mail-ops.c into the daemon), so
 * both answer alike.
 *
 * argv[0] is the operation, the rest its arguments:
 *   mailbox-list | mailbox-status [NAME] | mailbox-create NAME |
 *   mailbox-delete NAME | mailbox-rename OLD NEW | mailbox-subscribe NAME |
 *   mailbox-unsubscribe NAME | search QUERY | fetch FIELDS QUERY |
 *   expunge QUERY | flags-add|flags-remove|flags-replace FLAGS QUERY
 * QUERY: IMAP SEARCH keys in one string, optionally with "MAILBOX name"
 * pairs at the top level choosing the mailboxes (default: all). */
#ifndef OM_CLI_MAIL_OPS_H
#define OM_CLI_MAIL_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

struct mail_user;

/* 0 and the answer in out (JSON: one line), or a negative OM_E* code and
 * the reason in err ("user U, mailbox M: cause"); -OM_EINVAL with
 * "usage: ..." for bad arguments. */
int mail_op_run(struct mail_user *user, size_t argc, char *const *argv, bool json,
		struct buf *out, struct buf *err);
/* Store one message in mailbox (objmail save); out: the new UID. */
int mail_op_save(struct mail_user *user, const char *mailbox, const char *data, size_t len,
		 bool json, struct buf *out, struct buf *err);
/* Is argv[0] an operation mail_op_run knows, with a valid argument count? */
bool mail_op_known(size_t argc, char *const *argv);

#endif
