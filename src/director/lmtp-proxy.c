/* The director's LMTP side: lmtp-proto parses the MTA's commands and
 * bodies (DATA and BDAT); each RCPT is routed to its user's backend and
 * relayed there over one backend LMTP connection per backend per
 * transaction (worker jobs with blocking sockets); at the end of the body
 * every involved backend gets it (BDAT LAST: no dot-stuffing to redo) and
 * the MTA gets one reply per recipient, in its RCPT order. The backends'
 * own reply lines are passed on: lmtp-proto writes its generic line and
 * the write hook puts the backend's in its place. A backend that fails
 * means 451 4.4.0 for its recipients only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/passdb.h"
#include "director/director.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "lmtp/lmtp.h"

#define BACKEND_TIMEOUT_MS 30000
#define LMTP_PROXY_IDLE_TIMEOUT 300
#define REPLY_MAX 4096

struct lbackend {
	char id[DIRECTOR_ID_MAX];
	int fd;                  /* -1 = failed */
	struct buf rbuf;
	size_t n_accepted;       /* recipients accepted there, in order */
};

struct lrcpt_priv {
	size_t backend;          /* index in lp->be */
	char *reply;             /* final reply line for this recipient */
};

struct lproxy {
	struct conn *c;
	const struct director_listener *ls;
	struct lmtp_session proto;
	struct lbackend *be;
	size_t n_be;
	/* the next lines lmtp-proto writes are replaced by these (in order) */
	char **override;
	size_t n_override, i_override;
	/* job in/out */
	int lookup_result;
	char *lookup_reply;
};

static void lp_write(void *ctx, const char *data, size_t len)
{
	struct lproxy *lp = ctx;
	if (lp->i_override < lp->n_override) {
		char *o = lp->override[lp->i_override++];
		if (o != NULL) {
			conn_printf(lp->c, "%s\r\n", o);
			return;
		}
	}
	conn_write(lp->c, data, len);
}

static void override_clear(struct lproxy *lp)
{
	for (size_t i = 0; i < lp->n_override; i++)
		free(lp->override[i]);
	free(lp->override);
	lp->override = NULL;
	lp->n_override = lp->i_override = 0;
}

static void backends_close(struct lproxy *lp)
{
	for (size_t i = 0; i < lp->n_be; i++) {
		if (lp->be[i].fd >= 0) {
			(void)!write(lp->be[i].fd, "QUIT\r\n", 6);
			close(lp->be[i].fd);
		}
		buf_free(&lp->be[i].rbuf);
	}
	free(lp->be);
	lp->be = NULL;
	lp->n_be = 0;
}

/* One whole (possibly multi-line) reply; *last_r = its last line. */
static int read_reply(struct lbackend *b, struct buf *last_r)
{
	for (;;) {
		char *nl = b->rbuf.len > 0 ? memchr(b->rbuf.data, '\n', b->rbuf.len) : NULL;
		if (nl != NULL) {
			size_t l = (size_t)(nl - b->rbuf.data);
			size_t ll = l > 0 && b->rbuf.data[l - 1] == '\r' ? l - 1 : l;
			bool more = ll >= 4 && b->rbuf.data[3] == '-';
			buf_reset(last_r);
			buf_append(last_r, b->rbuf.data, ll);
			memmove(b->rbuf.data, nl + 1, b->rbuf.len - l - 1);
			b->rbuf.len -= l + 1;
			if (ll < 3)
				return -OM_EIO;
			if (!more)
				return 0;
			continue;
		}
		if (b->rbuf.len > REPLY_MAX * 4)
			return -OM_ELIMIT;
		buf_reserve(&b->rbuf, 4096);
		ssize_t r = read(b->fd, b->rbuf.data + b->rbuf.len, 4096);
		if (r <= 0)
			return -OM_ETEMP;
		b->rbuf.len += (size_t)r;
	}
}

static int send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w <= 0)
			return -OM_ETEMP;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int cmd(struct lbackend *b, const char *line, struct buf *reply)
{
	if (send_all(b->fd, line, strlen(line)) != 0)
		return -OM_ETEMP;
	return read_reply(b, reply);
}

static void backend_fail(struct lbackend *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

/* The transaction's connection to backend id, opened (LHLO, MAIL) if new. */
static int backend_get(struct lproxy *lp, const char *id, const char *host, unsigned port,
		       size_t *idx_r)
{
	for (size_t i = 0; i < lp->n_be; i++) {
		if (strcmp(lp->be[i].id, id) == 0) {
			*idx_r = i;
			return lp->be[i].fd >= 0 ? 0 : -OM_ETEMP;
		}
	}
	lp->be = om_reallocarray(lp->be, lp->n_be + 1, sizeof(*lp->be));
	struct lbackend *b = &lp->be[lp->n_be];
	memset(b, 0, sizeof(*b));
	memcpy(b->id, id, sizeof(b->id));
	*idx_r = lp->n_be++;
	b->fd = director_connect(host, port, BACKEND_TIMEOUT_MS);
	if (b->fd < 0) {
		director_backend_failed(id, true);
		return -OM_ETEMP;
	}
	struct buf reply = BUF_INIT, line = BUF_INIT;
	int r = read_reply(b, &reply);
	if (r == 0 && reply.data[0] != '2')
		r = -OM_ETEMP;
	if (r == 0) {
		buf_printf(&line, "LHLO %s\r\n", lp->ls->cfg->hostname);
		r = cmd(b, buf_cstr(&line), &reply);
		if (r == 0 && reply.data[0] != '2')
			r = -OM_ETEMP;
	}
	if (r == 0) {
		buf_reset(&line);
		buf_printf(&line, "MAIL FROM:<%s>\r\n", lp->proto.sender);
		r = cmd(b, buf_cstr(&line), &reply);
		if (r == 0 && reply.data[0] != '2')
			r = -OM_ETEMP;
	}
	if (r != 0) {
		log_warn("director: lmtp backend %s (%s:%u) failed at setup", id, host, port);
		backend_fail(b);
	}
	buf_free(&reply);
	buf_free(&line);
	return r;
}

static void lookup_job(void *arg)
{
	struct lproxy *lp = arg;
	const struct lmtp_rcpt *rc = &lp->proto.pending;
	lp->lookup_reply = NULL;
	/* a new transaction: the previous one's backend connections are done */
	if (lp->proto.n_rcpts == 0 && lp->n_be > 0)
		backends_close(lp);
	const char *user = rc->user;
	char *canon = NULL;
	if (lp->ls->passdb != NULL) {
		struct passdb_user pu = { 0 };
		int r = passdb_lookup(lp->ls->passdb, user, &pu);
		if (r == -OM_ENOTFOUND) {
			lp->lookup_result = -OM_ENOTFOUND;
			return;
		}
		if (r == 0) {
			canon = om_strdup(pu.user);
			passdb_user_free(&pu);
		}
	}
	char host[DIRECTOR_HOST_MAX], id[DIRECTOR_ID_MAX];
	unsigned port = 0;
	struct buf reply = BUF_INIT, line = BUF_INIT;
	if (director_route(canon != NULL ? canon : user, true, host, &port, id) != 0) {
		lp->lookup_result = -OM_ETEMP;
		buf_printf(&reply, "451 4.4.0 <%s> No backend available", rc->addr);
		goto out;
	}
	size_t bi = 0;
	if (backend_get(lp, id, host, port, &bi) != 0) {
		lp->lookup_result = -OM_ETEMP;
		buf_printf(&reply, "451 4.4.0 <%s> Backend %s not available", rc->addr, id);
		goto out;
	}
	struct lbackend *b = &lp->be[bi];
	buf_printf(&line, "RCPT TO:<%s>\r\n", rc->addr);
	int r = cmd(b, buf_cstr(&line), &reply);
	if (r != 0) {
		backend_fail(b);
		lp->lookup_result = -OM_ETEMP;
		buf_reset(&reply);
		buf_printf(&reply, "451 4.4.0 <%s> Backend %s failed", rc->addr, id);
		goto out;
	}
	if (reply.data[0] == '2') {
		struct lrcpt_priv *pr = om_calloc(1, sizeof(*pr));
		pr->backend = bi;
		b->n_accepted++;
		lp->lookup_result = 0;
		lp->lookup_reply = (char *)pr; /* handed over in lookup_done */
		buf_free(&reply);
		buf_free(&line);
		free(canon);
		return;
	}
	lp->lookup_result = reply.data[0] == '5' ? -OM_ENOTFOUND : -OM_ETEMP;
out:
	free(lp->lookup_reply);
	lp->lookup_reply = buf_steal(&reply);
	buf_free(&line);
	free(canon);
}

static void lp_continue(struct lproxy *lp);

static void lookup_done(void *arg)
{
	struct lproxy *lp = arg;
	override_clear(lp);
	if (lp->lookup_result == 0) {
		lmtp_rcpt_result(&lp->proto, 0, lp->lookup_reply);
	} else {
		if (lp->lookup_reply != NULL) {
			lp->override = om_calloc(1, sizeof(char *));
			lp->override[0] = lp->lookup_reply;
			lp->n_override = 1;
		}
		lmtp_rcpt_result(&lp->proto, lp->lookup_result, NULL);
		override_clear(lp);
	}
	lp->lookup_reply = NULL;
}

static void deliver_job(void *arg)
{
	struct lproxy *lp = arg;
	size_t body_len = 0;
	const char *body = lmtp_body(&lp->proto, &body_len);
	size_t n = lp->proto.n_rcpts;
	/* per backend: send the body, then read its recipients' replies in order */
	struct buf reply = BUF_INIT, line = BUF_INIT;
	for (size_t bi = 0; bi < lp->n_be; bi++) {
		struct lbackend *b = &lp->be[bi];
		if (b->n_accepted == 0)
			continue;
		int r = b->fd >= 0 ? 0 : -OM_ETEMP;
		if (r == 0) {
			buf_reset(&line);
			buf_printf(&line, "BDAT %zu LAST\r\n", body_len);
			r = send_all(b->fd, line.data, line.len);
		}
		if (r == 0)
			r = send_all(b->fd, body, body_len);
		for (size_t i = 0; i < n; i++) {
			struct lrcpt_priv *pr = lp->proto.rcpts[i].priv;
			if (pr == NULL || pr->backend != bi)
				continue;
			if (r == 0)
				r = read_reply(b, &reply);
			if (r != 0) {
				free(pr->reply);
				struct buf t = BUF_INIT;
				buf_printf(&t, "451 4.4.0 <%s> Backend %s failed during delivery",
					   lp->proto.rcpts[i].addr, b->id);
				pr->reply = buf_steal(&t);
				lp->proto.rcpts[i].result = -OM_ETEMP;
				continue;
			}
			pr->reply = om_strdup(buf_cstr(&reply));
			lp->proto.rcpts[i].result = reply.data[0] == '2'   ? 0
						    : reply.data[0] == '5' ? -OM_EQUOTA
									   : -OM_ETEMP;
		}
		if (r != 0) {
			log_warn("director: lmtp backend %s failed during delivery", b->id);
			backend_fail(b);
		}
	}
	buf_free(&reply);
	buf_free(&line);
}

static void deliver_done(void *arg)
{
	struct lproxy *lp = arg;
	override_clear(lp);
	size_t n = lp->proto.n_rcpts;
	lp->override = om_calloc(n > 0 ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		struct lrcpt_priv *pr = lp->proto.rcpts[i].priv;
		lp->override[i] = pr != NULL ? pr->reply : NULL;
		if (pr != NULL)
			pr->reply = NULL;
	}
	lp->n_override = n;
	lmtp_deliver_result(&lp->proto, "proxied");
	override_clear(lp);
	backends_close(lp);
}

static void priv_free(void *priv)
{
	struct lrcpt_priv *pr = priv;
	if (pr != NULL)
		free(pr->reply);
	free(pr);
}

static void lp_continue(struct lproxy *lp)
{
	struct conn *c = lp->c;
	switch (lmtp_process(&lp->proto, conn_input(c))) {
	case LMTP_MORE:
		/* RSET or a new MAIL: nothing accepted anywhere any more */
		if (lp->proto.sender == NULL && lp->n_be > 0)
			backends_close(lp);
		return;
	case LMTP_LOOKUP:
		conn_run(c, lookup_job, lookup_done, lp);
		return;
	case LMTP_DELIVER:
		conn_run(c, deliver_job, deliver_done, lp);
		return;
	case LMTP_CLOSE:
		conn_close(c);
		return;
	}
}

static void *lp_on_open(struct conn *c, void *ctx)
{
	struct lproxy *lp = om_calloc(1, sizeof(*lp));
	lp->c = c;
	lp->ls = ctx;
	const struct om_config *cfg = lp->ls->cfg;
	director_count_conn(1);
	lp->proto.hostname = cfg->hostname;
	lp->proto.max_size = cfg->mail_max_size;
	lp->proto.delimiter = cfg->recipient_delimiter != NULL ? cfg->recipient_delimiter : "+";
	lp->proto.write = lp_write;
	lp->proto.write_ctx = lp;
	lp->proto.priv_free = priv_free;
	lmtp_session_init(&lp->proto);
	lmtp_greeting(&lp->proto);
	conn_set_timeout(c, LMTP_PROXY_IDLE_TIMEOUT);
	return lp;
}

static void lp_on_input(struct conn *c, void *session)
{
	(void)c;
	lp_continue(session);
}

static void lp_on_timeout(struct conn *c, void *session)
{
	struct lproxy *lp = session;
	lmtp_reply(&lp->proto, "421 4.4.2 %s Timeout, closing connection", lp->proto.hostname);
	conn_close(c);
}

static void lp_on_shutdown(struct conn *c, void *session)
{
	(void)c;
	struct lproxy *lp = session;
	lmtp_reply(&lp->proto, "421 4.3.2 %s Server shutting down", lp->proto.hostname);
}

static void lp_on_close(struct conn *c, void *session)
{
	(void)c;
	struct lproxy *lp = session;
	director_count_conn(-1);
	backends_close(lp);
	override_clear(lp);
	free(lp->lookup_reply);
	lmtp_session_free(&lp->proto);
	free(lp);
}

const struct conn_handler director_lmtp_handler = {
	.name = "lmtp-director",
	.on_open = lp_on_open,
	.on_input = lp_on_input,
	.on_timeout = lp_on_timeout,
	.on_close = lp_on_close,
	.on_shutdown = lp_on_shutdown,
};
