/* The LMTP conn_handler: drives lmtp-proto.c and runs its two blocking
 * steps as worker jobs: the recipient lookup (passdb + quota) and the
 * delivery (one mailbox_append per recipient, each with its own trace
 * headers put in the body's headroom, so the message is never copied). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/passdb.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "lib/stats.h"
#include "lmtp/lmtp.h"
#include "storage/mail-storage.h"

#define LMTP_IDLE_TIMEOUT 300 /* RFC 5321 4.5.3.2: at least 5 minutes */

struct lmtp_conn {
	struct lmtp_session proto;   /* first: the write callback gets it */
	struct conn *c;
	struct lmtp_server *srv;
	const struct om_config *cfg;
	char session_id[32];
	char txn_id[48];
	/* job results */
	int lookup_result;
	struct passdb_user *lookup_pu;
};

static char default_hostname[256];
static pthread_once_t hostname_once = PTHREAD_ONCE_INIT;

static void hostname_init(void)
{
	if (gethostname(default_hostname, sizeof(default_hostname) - 1) != 0 ||
	    default_hostname[0] == '\0')
		memcpy(default_hostname, "localhost", 10);
	default_hostname[sizeof(default_hostname) - 1] = '\0';
}

static const char *lmtp_hostname(const struct om_config *cfg)
{
	if (cfg->hostname != NULL && cfg->hostname[0] != '\0')
		return cfg->hostname;
	pthread_once(&hostname_once, hostname_init);
	return default_hostname;
}

static void lmtp_write(void *ctx, const char *data, size_t len)
{
	struct lmtp_conn *lc = ctx;
	conn_write(lc->c, data, len);
}

static void pu_free(void *priv)
{
	struct passdb_user *pu = priv;
	passdb_user_free(pu);
	free(pu);
}

static void lmtp_continue(struct lmtp_conn *lc);

/* --- recipient lookup (worker) --- */

static int rcpt_check(struct lmtp_conn *lc, const char *key, struct passdb_user *pu)
{
	if (lc->srv->passdb == NULL)
		return -OM_ETEMP;
	int r = passdb_lookup(lc->srv->passdb, key, pu);
	if (r != 0)
		return r;
	struct mail_user *mu = NULL;
	r = mail_user_open(lc->cfg, pu->user, pu, &mu);
	if (r != 0) {
		log_warn("lmtp(%s): can't open mail user: %s", pu->user, om_strerror(r));
		return r == -OM_ENOTFOUND ? -OM_ETEMP : r;
	}
	struct mail_quota q;
	r = mail_user_quota_get(mu, &q);
	if (r == 0) {
		uint64_t want = lc->proto.size_param;
		if (q.storage_limit > 0 &&
		    (q.storage_used >= q.storage_limit || want > q.storage_limit - q.storage_used))
			r = -OM_EQUOTA;
		if (q.messages_limit > 0 && q.messages_used >= q.messages_limit)
			r = -OM_EQUOTA;
	} else {
		log_warn("lmtp(%s): quota lookup failed: %s", pu->user, om_strerror(r));
		r = 0; /* a broken quota shouldn't bounce mail; the append checks again */
	}
	mail_user_unref(mu);
	return r;
}

static void lookup_job(void *arg)
{
	struct lmtp_conn *lc = arg;
	struct passdb_user *pu = om_calloc(1, sizeof(*pu));
	int r = rcpt_check(lc, lc->proto.pending.user, pu);
	if (r == -OM_ENOTFOUND || r == -OM_EQUOTA)
		log_info("lmtp(%s): rcpt <%s> rejected: %s", conn_peer_ip(lc->c),
			 lc->proto.pending.addr, om_strerror(r));
	if (r != 0) {
		pu_free(pu);
		pu = NULL;
	}
	lc->lookup_result = r;
	lc->lookup_pu = pu;
}

static void lookup_done(void *arg)
{
	struct lmtp_conn *lc = arg;
	lmtp_rcpt_result(&lc->proto, lc->lookup_result, lc->lookup_pu);
	lc->lookup_pu = NULL;
	/* conn.c calls on_input again if more commands are buffered */
}

/* --- delivery (worker) --- */

static void rfc5322_date(struct buf *out)
{
	time_t now = time(NULL);
	struct tm tm;
	char tmp[64];
	localtime_r(&now, &tm);
	if (strftime(tmp, sizeof(tmp), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		tmp[0] = '\0';
	buf_append_str(out, tmp);
}

static void trace_headers(struct lmtp_conn *lc, const struct lmtp_rcpt *r, struct buf *h)
{
	buf_printf(h, "Return-Path: <%s>\r\n", lc->proto.sender);
	buf_printf(h, "Delivered-To: %s\r\n", r->addr);
	buf_printf(h, "Received: from %s (%s)\r\n\tby %s (objmail) with LMTP id %s\r\n\tfor <%s>; ",
		   lc->proto.lhlo, conn_peer_ip(lc->c), lmtp_hostname(lc->cfg), lc->txn_id,
		   r->addr);
	rfc5322_date(h);
	buf_append(h, "\r\n", 2);
}

static int deliver_one(struct lmtp_conn *lc, struct lmtp_rcpt *r)
{
	struct passdb_user *pu = r->priv;
	size_t body_len;
	const char *body = lmtp_body(&lc->proto, &body_len);
	struct buf h = BUF_INIT;
	trace_headers(lc, r, &h);

	struct mail_save save = { 0 };
	char *copy = NULL;
	if (h.len <= LMTP_HEADROOM) {
		/* The headroom is ours (the body's first LMTP_HEADROOM bytes). */
		char *start = (char *)body - h.len;
		memcpy(start, h.data, h.len);
		save.data = start;
		save.len = h.len + body_len;
	} else {
		copy = om_malloc(h.len + body_len);
		memcpy(copy, h.data, h.len);
		memcpy(copy + h.len, body, body_len);
		save.data = copy;
		save.len = h.len + body_len;
	}
	buf_free(&h);

	struct mail_user *mu = NULL;
	int r2 = mail_user_open(lc->cfg, pu->user, pu, &mu);
	uint32_t uidvalidity = 0, uid = 0;
	if (r2 == 0) {
		r2 = mailbox_append(mu, "INBOX", &save, &uidvalidity, &uid);
		if (r2 != 0 && r2 != -OM_EQUOTA && r2 != -OM_ELIMIT)
			log_error("lmtp(%s): delivery failed: %s: %s", pu->user, om_strerror(r2),
				  mail_user_last_error(mu));
		mail_user_unref(mu);
	} else {
		log_error("lmtp(%s): can't open mail user: %s", pu->user, om_strerror(r2));
	}
	free(copy);
	if (r2 == 0)
		log_info("lmtp(%s): %s: saved mail to INBOX (uid %u, %zu bytes)", pu->user,
			 lc->txn_id, uid, save.len);
	else
		log_info("lmtp(%s): %s: not delivered: %s", pu->user, lc->txn_id, om_strerror(r2));
	return r2;
}

static void deliver_job(void *arg)
{
	struct lmtp_conn *lc = arg;
	for (size_t i = 0; i < lc->proto.n_rcpts; i++) {
		lc->proto.rcpts[i].result = deliver_one(lc, &lc->proto.rcpts[i]);
		om_stat_lmtp_delivery(lc->proto.rcpts[i].result);
	}
}

static void deliver_done(void *arg)
{
	struct lmtp_conn *lc = arg;
	lmtp_deliver_result(&lc->proto, lc->txn_id);
}

/* --- the handler --- */

static void lmtp_continue(struct lmtp_conn *lc)
{
	struct conn *c = lc->c;
	switch (lmtp_process(&lc->proto, conn_input(c))) {
	case LMTP_MORE:
		return;
	case LMTP_LOOKUP:
		conn_run(c, lookup_job, lookup_done, lc);
		return;
	case LMTP_DELIVER:
		snprintf(lc->txn_id, sizeof(lc->txn_id), "%s-%u", lc->session_id,
			 lc->proto.transactions);
		conn_run(c, deliver_job, deliver_done, lc);
		return;
	case LMTP_CLOSE:
		conn_close(c);
		return;
	}
}

static void *lmtp_on_open(struct conn *c, void *ctx)
{
	struct lmtp_server *srv = ctx;
	struct lmtp_conn *lc = om_calloc(1, sizeof(*lc));
	lc->c = c;
	lc->srv = srv;
	lc->cfg = srv->cfg;
	snprintf(lc->session_id, sizeof(lc->session_id), "%lx%04lx", (unsigned long)time(NULL),
		 conn_id(c) & 0xffff);
	lc->proto.hostname = lmtp_hostname(lc->cfg);
	lc->proto.max_size = lc->cfg->mail_max_size;
	lc->proto.delimiter = lc->cfg->recipient_delimiter != NULL ? lc->cfg->recipient_delimiter : "+";
	lc->proto.write = lmtp_write;
	lc->proto.write_ctx = lc;
	lc->proto.priv_free = pu_free;
	lmtp_session_init(&lc->proto);
	lmtp_greeting(&lc->proto);
	conn_set_timeout(c, LMTP_IDLE_TIMEOUT);
	return lc;
}

static void lmtp_on_input(struct conn *c, void *session)
{
	lmtp_continue(session);
}

static void lmtp_on_timeout(struct conn *c, void *session)
{
	struct lmtp_conn *lc = session;
	lmtp_reply(&lc->proto, "421 4.4.2 %s Timeout, closing connection", lc->proto.hostname);
	conn_close(c);
}

static void lmtp_on_shutdown(struct conn *c, void *session)
{
	struct lmtp_conn *lc = session;
	lmtp_reply(&lc->proto, "421 4.3.2 %s Server shutting down", lc->proto.hostname);
}

static void lmtp_on_close(struct conn *c, void *session)
{
	struct lmtp_conn *lc = session;
	if (lc->lookup_pu != NULL)
		pu_free(lc->lookup_pu);
	lmtp_session_free(&lc->proto);
	free(lc);
}

const struct conn_handler lmtp_conn_handler = {
	.name = "lmtp",
	.on_open = lmtp_on_open,
	.on_input = lmtp_on_input,
	.on_timeout = lmtp_on_timeout,
	.on_close = lmtp_on_close,
	.on_shutdown = lmtp_on_shutdown,
};
