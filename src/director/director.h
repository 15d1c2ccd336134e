/* The director (DESIGN.md "Director", doc/director.md): a stateless proxy
 * tier. Every director computes user -> backend by rendezvous (highest
 * random weight) hashing over the healthy, undrained backends, so they
 * agree without talking to each other; the obox lease keeps a user on one
 * backend while they briefly don't.
 *
 *   hrw.c          the hash and the pick (pure; unit-tested)
 *   backends.c     the backend list: config form, cluster/backends form
 *   director.c     the live table: refresh from the store, health probes,
 *                  routing, drain kicks, metrics, status
 *   imap-proxy.c   IMAP: pre-login, authentication, backend login, relay
 *   lmtp-proxy.c   LMTP: per-recipient routing over lmtp-proto */
#ifndef OM_DIRECTOR_H
#define OM_DIRECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/conn.h"

struct passdb;
struct objstore;

#define DIRECTOR_MAX_BACKENDS 256
#define DIRECTOR_HOST_MAX 64
#define DIRECTOR_ID_MAX (DIRECTOR_HOST_MAX + 8)
#define DIRECTOR_DEFAULT_WEIGHT 100
/* The object in the store that lists the backends. */
#define DIRECTOR_BACKENDS_KEY "cluster/backends"

struct director_backend {
	char id[DIRECTOR_ID_MAX];   /* "host:imapport": what is hashed, and its name */
	char host[DIRECTOR_HOST_MAX];
	unsigned imap_port, lmtp_port;
	unsigned weight;            /* 0 = takes no users */
	bool drained;
	int64_t updated;            /* unix time of the last change by `objmail director` */

	/* live state (director.c): health per protocol, each from its own
	 * probe; IMAP logins go by healthy, LMTP recipients by lmtp_healthy */
	bool healthy;
	bool lmtp_healthy;
	int64_t lmtp_probe_ms;      /* last LMTP probe's round trip */
	int64_t drained_since;      /* monotonic seconds; 0 = not drained */
	int64_t probe_ms;           /* last probe's round trip */
	unsigned slow_probes;       /* IMAP probes in a row that got no answer in time */
	unsigned lmtp_slow_probes;
	uint64_t logins;            /* logins routed here */
	unsigned sessions;          /* proxied IMAP sessions open now */
};

/* --- hrw.c --- */

/* 64-bit hash of user || '\0' || backend id: the same on every machine. */
uint64_t director_hash(const char *user, const char *backend_id);
/* The weighted rendezvous score: -weight / ln(h), h = hash scaled into (0,1). */
double director_score(const char *user, const char *backend_id, unsigned weight);
/* Index of the backend that gets user among b[0..n): the highest score over
 * those that are eligible (weight > 0, not drained, and healthy unless
 * ignore_health). -1 if none is. */
int director_pick(const char *user, const struct director_backend *b, size_t n,
		  bool ignore_health);
/* The same for LMTP: health is lmtp_healthy. */
int director_pick_lmtp(const char *user, const struct director_backend *b, size_t n);

/* --- backends.c --- */

/* "10.0.0.1:143/24, 10.0.0.2:143/24" (also "[v6]:143/24"; "/lmtp" optional,
 * default 24). 0, or -OM_EINVAL with why. */
int director_backends_parse_config(const char *spec, struct director_backend **list_r,
				   size_t *n_r, struct buf *why);
/* cluster/backends: one line per backend,
 *   backend HOST IMAPPORT LMTPPORT weight=N state=active|drained updated=T
 * '#' lines are comments. 0, or -OM_EINVAL with why. */
int director_backends_parse(const char *text, size_t len, struct director_backend **list_r,
			    size_t *n_r, struct buf *why);
void director_backends_format(const struct director_backend *b, size_t n, struct buf *out);
/* "host", "host:imap" or "host:imap/lmtp" -> fields (missing ports: 143/24). */
int director_backend_parse_addr(const char *s, struct director_backend *b_r);
/* Find by id ("host:port") or, if unique, by host alone. -1 if none,
 * -2 if the host alone is ambiguous. */
int director_backend_find(const struct director_backend *b, size_t n, const char *name);

/* Read cluster/backends; *etag_r (>= 80 bytes) gets its etag, "" if absent.
 * An absent object is an empty list (0). */
int director_store_load(struct objstore *store, struct director_backend **list_r, size_t *n_r,
			char *etag_r, struct buf *why);
/* Read-modify-write with a conditional put (retried on a race). edit
 * returns 0 to write, or a negative code to give up with it. */
int director_store_update(struct objstore *store,
			  int (*edit)(struct director_backend **list, size_t *n, void *ctx,
				      struct buf *why),
			  void *ctx, struct buf *why);

/* Blocking TCP connect with a deadline; the fd stays blocking with
 * send/receive timeouts of the same length. -1 on failure. */
int director_connect(const char *host, unsigned port, int timeout_ms);

/* --- director.c: the live table (objmaild role = director) --- */

/* Opens the store (if objstore is set), loads the list, starts the probe
 * thread. 0, or -1 with *error_r. */
int director_start(const struct om_config *cfg, char **error_r);
void director_stop(void);

/* Where user goes now. host_r: DIRECTOR_HOST_MAX bytes, id_r: DIRECTOR_ID_MAX.
 * -OM_ETEMP if no backend is available. */
int director_route(const char *user, bool lmtp, char *host_r, unsigned *port_r, char *id_r);
/* A connection to the backend's IMAP (lmtp false) or LMTP side failed:
 * take that side out now (its probe brings it back). */
void director_backend_failed(const char *id, bool lmtp);

/* Proxied IMAP sessions, so that a drained backend's are closed after the
 * grace time. kick(c) runs on the conn's loop thread (via conn_post). */
struct director_session {
	struct director_session *prev, *next;
	struct conn *conn;
	char backend_id[DIRECTOR_ID_MAX];
	bool kicked;
};
void director_session_add(struct director_session *ds);
void director_session_remove(struct director_session *ds);
/* imap-proxy.c: says BYE and closes (a conn_post callback: loop thread;
 * c NULL = gone; arg = the struct director_session). */
void director_imap_kick(struct conn *c, void *arg);

/* Counters for /metrics. */
void director_count_login(bool ok);
void director_count_bytes(bool to_backend, uint64_t n);
void director_count_conn(int delta);
void director_metrics(struct buf *out);
/* Backends with their state and health as this director sees them. */
void director_status(struct buf *out, bool json);

/* --- splice-relay.c: the relay of a connection without TLS --- */

/* Moves bytes between client_fd and backend_fd (both non-blocking sockets,
 * owned and closed by the caller) with splice(2), on base's loop thread.
 * done(arg, client_gone) runs once when the relay is over: the backend
 * closed and its bytes reached the client, or the client is gone, or a
 * half-close timed out. Call splice_relay_free() from it or any time later.
 * NULL if out of memory. */
struct splice_relay;
struct event_base;
struct splice_relay *splice_relay_new(struct event_base *base, int client_fd, int backend_fd,
				      void (*done)(void *arg, bool client_gone), void *arg);
void splice_relay_free(struct splice_relay *r);
/* For /metrics: relays running now, pipes open (in use or pooled). */
void splice_relay_counts(int64_t *relays_r, int64_t *pipes_r);

/* --- the proxies --- */

struct director_listener {
	const struct om_config *cfg;
	struct passdb *passdb;
	bool implicit_tls;
};
extern const struct conn_handler director_imap_handler;
extern const struct conn_handler director_lmtp_handler;

#endif
