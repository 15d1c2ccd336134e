/* The configured listeners: IMAP, IMAPS (implicit TLS) and LMTP. The admin
 * socket and /metrics are accepted by the config but not served yet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/passdb.h"
#include "daemon/daemon.h"
#include "imap/imap-session.h"
#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lmtp/lmtp.h"

/* Handler contexts live as long as the server. */
static struct imap_server *imap_ctx, *imaps_ctx;
static struct lmtp_server *lmtp_ctx;
static unsigned n_listeners;

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
	log_info("listening %s %s", proto, server_bound_addr(srv, n_listeners));
	n_listeners++;
	return 0;
}

static bool set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int daemon_listen(struct server *srv, const struct om_config *cfg, struct passdb *passdb)
{
	if (set(cfg->listen_imap)) {
		imap_ctx = om_calloc(1, sizeof(*imap_ctx));
		imap_ctx->cfg = cfg;
		imap_ctx->passdb = passdb;
		imap_ctx->implicit_tls = false;
		if (listen_one(srv, "imap", cfg->listen_imap, &imap_conn_handler, imap_ctx, false) != 0)
			return -1;
	}
	if (set(cfg->listen_imaps)) {
		if (!set(cfg->ssl_cert)) {
			fprintf(stderr, "objmaild: %s: listen_imaps needs ssl_cert\n", cfg->path);
			return -1;
		}
		imaps_ctx = om_calloc(1, sizeof(*imaps_ctx));
		imaps_ctx->cfg = cfg;
		imaps_ctx->passdb = passdb;
		imaps_ctx->implicit_tls = true;
		if (listen_one(srv, "imaps", cfg->listen_imaps, &imap_conn_handler, imaps_ctx, true) != 0)
			return -1;
	}
	if (set(cfg->listen_lmtp)) {
		lmtp_ctx = om_calloc(1, sizeof(*lmtp_ctx));
		lmtp_ctx->cfg = cfg;
		lmtp_ctx->passdb = passdb;
		if (listen_one(srv, "lmtp", cfg->listen_lmtp, &lmtp_conn_handler, lmtp_ctx, false) != 0)
			return -1;
	}
	if (set(cfg->listen_admin))
		log_info("admin socket: not implemented in this build");
	if (set(cfg->listen_metrics))
		log_info("metrics: not implemented in this build");
	if (n_listeners == 0)
		log_warn("no listeners configured (listen_imap, listen_imaps, listen_lmtp)");
	return 0;
}

void daemon_chown_sockets(const struct om_config *cfg, unsigned uid, unsigned gid)
{
	const char *specs[] = { cfg->listen_imap, cfg->listen_imaps, cfg->listen_lmtp };
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
	imap_ctx = imaps_ctx = NULL;
	lmtp_ctx = NULL;
}
