/* objmail force-resync, fts rescan and check on one user: run by the tool
 * offline and by objmaild's admin requests `force-resync`, `fts-rescan` and
 * `check` live (src/daemon/admin-maint.c; admin-maint-src.c compiles
 * maint-ops.c and check-ops.c in), so that both answer alike. Each returns
 * 0 and the answer in out (JSON: one line), or a negative OM_E* code with
 * the reason in err, naming the user. */
#ifndef OM_CLI_MAINT_OPS_H
#define OM_CLI_MAINT_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

struct mail_user;
struct om_config;
struct passdb_user;

/* Live: closes the user's IMAP sessions (with a BYE saying why), returns
 * how many. NULL offline. */
typedef size_t maint_kick_fn(const char *user);

/* Forget pu's index and rebuild it from the store. obox: the newest bundle,
 * its logs and the listing of m/ (mail_user_force_resync). maildir: a new
 * index from the folders, their dovecot-uidlist (UIDVALIDITY and UIDs
 * kept), file names (flags) and dovecot-keywords. The user's sessions are
 * closed first (kick): a rebuilt index has new mailbox rows and modseqs
 * under a session's feet, so a session's view would be wrong; clients
 * reconnect and find the same UIDVALIDITY and UIDs. Waits up to
 * MAINT_IDLE_WAIT seconds for the user to be idle (deliveries in flight),
 * else -OM_ETEMP. Answer: {"user":..,"mailboxes":N,"messages":N,
 * "sessions_closed":N} or "USER: index rebuilt from the store: ...". */
int maint_resync(const struct om_config *cfg, const struct passdb_user *pu,
		 maint_kick_fn *kick, bool json, struct buf *out, struct buf *err);
#define MAINT_IDLE_WAIT 20

/* fts_rescan_user_progress with the progress shown (cli-progress.c: stderr
 * offline, the admin client's progress lines live; a cancelled progress
 * stops it). Answer: {"user":..,"indexed":N} or "USER: N messages
 * indexed". */
int maint_fts_rescan(struct mail_user *user, bool json, struct buf *out, struct buf *err);

/* check-ops.c: USER's index against the store (cmd-check.c lists what is
 * checked), read-only, under the user lock. live: the user is in use, so a
 * problem is only reported if a second look a moment later still sees it (a
 * delivery between its upload and its index row looks like an unreferenced
 * object for that moment). *problems_r: how many (exit 1 when > 0). */
int maint_check(struct mail_user *user, bool live, bool json, struct buf *out, struct buf *err,
		unsigned long *problems_r);

#endif
