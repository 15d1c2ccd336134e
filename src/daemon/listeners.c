/* The configured listeners: IMAP, IMAPS (implicit TLS), LMTP, the admin
 * socket and /metrics. IMAP and LMTP handlers are wrapped to count open
 * connections per protocol for /metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/passdb.h"
#include "daemon/admin.h"
#include "daemon/daemon.h"
#include "director/director.h"
#include "imap/imap-session.h"
#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/stats.h"
#include "lmtp/lmtp.h"

/* Handler contexts live as long as the server. */
static struct imap_server *imap_ctx, *imaps_ctx;
static struct lmtp_server *lmtp_ctx;
static struct admin_server *admin_ctx;
static unsigned n_listeners;
/* What listen_imap / listen_lmtp got bound to (the server owns the strings). */
static const char *imap_bound, *lmtp_bound;

/* A protocol handler with its connections counted in a gauge: on_open and
 * on_close are wrapped per gauge (on_close gets no handler context), the
 * other callbacks are the protocol's own. */
#define COUNTED_HANDLER(tag, inner, gauge)                                     \
	static void *tag##_counted_open(struct conn *c, void *ctx)             \
	{                                                                      \
		void *session = (inner).on_open(c, ctx);                       \
		if (session != NULL)                                           \
			om_gauge_add(gauge, 1);                                \
		return session;                                                \
	}                                                                      \
	static void tag##_counted_close(struct conn *c, void *session)         \
	{                                                                      \
		om_gauge_add(gauge, -1);                                       \
		(inner).on_close(c, session);                                  \
	}                                                                      \
	static struct conn_handler tag##_counted_handler;                      \
	static const struct conn_handler *tag##_handler(void)                  \
	{                                                                      \
		tag##_counted_handler = (inner);                               \
		tag##_counted_handler.on_open = tag##_counted_open;            \
		tag##_counted_handler.on_close = tag##_counted_close;          \
		return &tag##_counted_handler;                                 \
	}

COUNTED_HANDLER(imap, imap_conn_handler, OM_GAUGE_CONN_IMAP)
COUNTED_HANDLER(imaps, imap_conn_handler, OM_GAUGE_CONN_IMAPS)
COUNTED_HANDLER(lmtp, lmtp_conn_handler, OM_GAUGE_CONN_LMTP)

static int listen_one(struct server *srv, const char *proto, const char *spec,
		      const struct conn_handler *h, void *ctx, bool implicit_tls)
{
	char *error = NULL;
	if (server_listen(srv, spec, h, ctx, implicit_tls, &error) != 0) {
		fprintf(stderr, "objmaild: listen_%s = %s: %s\n", proto, spec,
			error != NULL ? error : "failed");
		log_error("listen_%s = %s: %s", proto, spec, error != NULL ? error : "failed");
		free(error);
		return -1;
	}
	const char *bound = server_bound_addr(srv, n_listeners);
	log_info("listening %s %s", proto, bound);
	if (strcmp(proto, "imap") == 0)
		imap_bound = bound;
	else if (strcmp(proto, "lmtp") == 0)
		lmtp_bound = bound;
	n_listeners++;
	return 0;
}

static bool set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* role = director: the proxies instead of the mail protocols */
static struct director_listener *dir_imap_ctx, *dir_imaps_ctx, *dir_lmtp_ctx;

static struct director_listener *dir_ctx(const struct om_config *cfg, struct passdb *passdb,
					 bool implicit_tls)
{
	struct director_listener *l = om_calloc(1, sizeof(*l));
	l->cfg = cfg;
	l->passdb = passdb;
	l->implicit_tls = implicit_tls;
	return l;
}

static int director_listen(struct server *srv, const struct om_config *cfg,
			   struct passdb *passdb)
{
	if (set(cfg->listen_imap)) {
		dir_imap_ctx = dir_ctx(cfg, passdb, false);
		if (listen_one(srv, "imap", cfg->listen_imap, &director_imap_handler, dir_imap_ctx,
			       false) != 0)
			return -1;
	}
	if (set(cfg->listen_imaps)) {
		if (!set(cfg->ssl_cert)) {
			fprintf(stderr, "objmaild: %s: listen_imaps needs ssl_cert\n", cfg->path);
			return -1;
		}
		dir_imaps_ctx = dir_ctx(cfg, passdb, true);
		if (listen_one(srv, "imaps", cfg->listen_imaps, &director_imap_handler,
			       dir_imaps_ctx, true) != 0)
			return -1;
	}
	if (set(cfg->listen_lmtp)) {
		dir_lmtp_ctx = dir_ctx(cfg, passdb, false);
		if (listen_one(srv, "lmtp", cfg->listen_lmtp, &director_lmtp_handler, dir_lmtp_ctx,
			       false) != 0)
			return -1;
	}
	return 0;
}

int daemon_listen(struct server *srv, const struct om_config *cfg, struct passdb *passdb)
{
	if (cfg->role == OM_ROLE_DIRECTOR) {
		if (director_listen(srv, cfg, passdb) != 0)
			return -1;
	} else if (set(cfg->listen_imap)) {
		imap_ctx = om_calloc(1, sizeof(*imap_ctx));
		imap_ctx->cfg = cfg;
		imap_ctx->passdb = passdb;
		imap_ctx->implicit_tls = false;
		if (listen_one(srv, "imap", cfg->listen_imap, imap_handler(), imap_ctx, false) != 0)
			return -1;
	}
	if (cfg->role != OM_ROLE_DIRECTOR && set(cfg->listen_imaps)) {
		if (!set(cfg->ssl_cert)) {
			fprintf(stderr, "objmaild: %s: listen_imaps needs ssl_cert\n", cfg->path);
			return -1;
		}
		imaps_ctx = om_calloc(1, sizeof(*imaps_ctx));
		imaps_ctx->cfg = cfg;
		imaps_ctx->passdb = passdb;
		imaps_ctx->implicit_tls = true;
		if (listen_one(srv, "imaps", cfg->listen_imaps, imaps_handler(), imaps_ctx, true) != 0)
			return -1;
	}
	if (cfg->role != OM_ROLE_DIRECTOR && set(cfg->listen_lmtp)) {
		lmtp_ctx = om_calloc(1, sizeof(*lmtp_ctx));
		lmtp_ctx->cfg = cfg;
		lmtp_ctx->passdb = passdb;
		if (listen_one(srv, "lmtp", cfg->listen_lmtp, lmtp_handler(), lmtp_ctx, false) != 0)
			return -1;
	}
	if (set(cfg->listen_admin) || set(cfg->listen_metrics)) {
		metrics_init();
		admin_ctx = om_calloc(1, sizeof(*admin_ctx));
		admin_ctx->srv = srv;
		admin_ctx->cfg = cfg;
		admin_ctx->passdb = passdb;
	}
	if (set(cfg->listen_admin) &&
	    listen_one(srv, "admin", cfg->listen_admin, &admin_conn_handler, admin_ctx, false) != 0)
		return -1;
	if (set(cfg->listen_metrics) &&
	    listen_one(srv, "metrics", cfg->listen_metrics, &metrics_conn_handler, admin_ctx,
		       false) != 0)
		return -1;
	if (n_listeners == 0)
		log_warn("no listeners configured (listen_imap, listen_imaps, listen_lmtp)");
	return 0;
}

/* A bound "IP:PORT" / "[IPv6]:PORT" that names one host: not a unix
 * socket, not 0.0.0.0 or [::]. */
static bool specific_ip(const char *bound)
{
	if (bound == NULL || strncmp(bound, "unix:", 5) == 0 || bound[0] == '/')
		return false;
	const char *colon = strrchr(bound, ':');
	if (colon == NULL)
		return false;
	char host[INET6_ADDRSTRLEN + 2];
	size_t len = (size_t)(colon - bound);
	unsigned char a[16];
	static const unsigned char zero[16];
	if (bound[0] == '[') {
		if (len < 3 || len - 2 >= sizeof(host) || bound[len - 1] != ']')
			return false;
		memcpy(host, bound + 1, len - 2);
		host[len - 2] = '\0';
		return inet_pton(AF_INET6, host, a) == 1 && memcmp(a, zero, 16) != 0;
	}
	if (len >= sizeof(host))
		return false;
	memcpy(host, bound, len);
	host[len] = '\0';
	return inet_pton(AF_INET, host, a) == 1 && memcmp(a, zero, 4) != 0;
}

const char *daemon_lease_address(const struct om_config *cfg)
{
	if (cfg->role == OM_ROLE_DIRECTOR)
		return NULL;
	if (set(cfg->obox_lease_address))
		return cfg->obox_lease_address;
	if (set(cfg->listen_imap))
		return specific_ip(imap_bound) ? imap_bound : NULL;
	return specific_ip(lmtp_bound) ? lmtp_bound : NULL;
}

void daemon_chown_sockets(const struct om_config *cfg, unsigned uid, unsigned gid)
{
	const char *specs[] = { cfg->listen_imap, cfg->listen_imaps, cfg->listen_lmtp,
				cfg->listen_admin, cfg->listen_metrics };
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		if (specs[i] != NULL && strncmp(specs[i], "unix:", 5) == 0 &&
		    chown(specs[i] + 5, uid, gid) != 0)
			log_warn("chown %s: %s", specs[i] + 5, strerror(errno));
	}
}

void daemon_listeners_free(void)
{
	free(imap_ctx);
	free(imaps_ctx);
	free(lmtp_ctx);
	free(admin_ctx);
	admin_ctx = NULL;
	free(dir_imap_ctx);
	free(dir_imaps_ctx);
	free(dir_lmtp_ctx);
	dir_imap_ctx = dir_imaps_ctx = dir_lmtp_ctx = NULL;
	imap_ctx = imaps_ctx = NULL;
	lmtp_ctx = NULL;
	imap_bound = lmtp_bound = NULL;
}
