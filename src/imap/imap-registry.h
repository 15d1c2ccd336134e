/* The live IMAP sessions of this process, for the admin socket's `who`
 * and `kick` (src/daemon/admin.c). The session core reports login,
 * mailbox changes and close; entries are keyed by the connection, which
 * stays valid while its entry exists (removed in on_close, before the conn
 * is freed). Calls with c == NULL (unit tests) do nothing. */
#ifndef OM_IMAP_REGISTRY_H
#define OM_IMAP_REGISTRY_H

#include <stddef.h>

#include "lib/buf.h"

struct conn;

void imap_registry_login(struct conn *c, const char *user);
/* The selected mailbox (UTF-8), or NULL after CLOSE/UNSELECT. */
void imap_registry_mailbox(struct conn *c, const char *mailbox);
void imap_registry_logout(struct conn *c);

/* Number of logged-in sessions. */
size_t imap_registry_count(void);
/* Number of logged-in sessions of user (max_connections_per_user). */
size_t imap_registry_user_count(const char *user);
/* {"sessions":[{"user":..,"ip":..,"mailbox":..|null,"since":UNIX,"conn":N},..]}
 * At most max entries (0 = all); "truncated":true when more exist. */
void imap_registry_json(struct buf *out, size_t max);
/* The same as lines "USER IP MAILBOX SINCE" (UTC, ISO 8601; "-" for no
 * mailbox), headed by the column names. */
void imap_registry_text(struct buf *out, size_t max);
/* Say BYE to and close every session of user; returns how many. */
size_t imap_registry_kick(const char *user);
/* The same with another BYE line (a whole "* BYE ...\r\n"); callable from
 * any thread. */
size_t imap_registry_kick_with(const char *user, const char *bye_line);

#endif
