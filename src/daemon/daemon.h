/* objmaild internals shared by the files of src/daemon/. */
#ifndef OM_DAEMON_H
#define OM_DAEMON_H

#include <stdbool.h>

#include "lib/config.h"

struct server;
struct passdb;

/* daemonize.c: fork into the background but keep stderr until ready, so
 * that startup errors still reach the terminal. The parent exits 0 once the
 * child called daemonize_ready(), else 1. */
int daemonize_start(void);
void daemonize_ready(void);

/* listeners.c: every configured listener; logs "listening <proto> <addr>".
 * 0, or -1 after printing why. */
int daemon_listen(struct server *srv, const struct om_config *cfg, struct passdb *passdb);
/* Unix-socket listeners become owned by uid/gid (before the privilege drop). */
void daemon_chown_sockets(const struct om_config *cfg, unsigned uid, unsigned gid);
void daemon_listeners_free(void);
/* The address recorded in this backend's obox leases (obox_lease_address,
 * else listen_imap's, else listen_lmtp's bound address when it names one
 * IP), or NULL. After daemon_listen. */
const char *daemon_lease_address(const struct om_config *cfg);

/* main.c: what SIGHUP and the admin `reload` do: reopen the log, reload
 * passdb (the old users stay on failure). 0, or -1 if either failed. */
int daemon_reload(struct passdb *passdb);

#endif
