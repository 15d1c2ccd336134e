/* objmail quota get|recalc on one open user: run by the tool (offline)
 * and by objmaild's admin `quota` request (live, src/daemon/admin-import.c
 * compiles quota-ops.c in), so both answer alike. */
#ifndef OM_CLI_QUOTA_OPS_H
#define OM_CLI_QUOTA_OPS_H

#include <stdbool.h>

#include "lib/buf.h"

struct mail_user;

/* Usage (from the index) and limits. JSON: one line
 * {"user":..,"storage_used":N,"storage_limit":N,"messages_used":N,
 * "messages_limit":N}; text: "user:", "storage:", "messages:" lines.
 * 0, or a negative OM_E* code with the reason in err. */
int quota_op_get(struct mail_user *user, bool json, struct buf *out, struct buf *err);
/* Sync every selectable mailbox read-only (the index catches up with mail
 * put into a Maildir by hand), flush, then quota_op_get. */
int quota_op_recalc(struct mail_user *user, bool json, struct buf *out, struct buf *err);

#endif
