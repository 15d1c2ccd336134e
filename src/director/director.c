/* The live backend table of a director: one thread re-reads the list
 * (cluster/backends, skipped while its etag is unchanged) and probes every
 * backend's IMAP port (connect + "* OK" greeting) and LMTP port (connect +
 * "220") each director_probe_interval. Health is kept per protocol: a
 * failed IMAP probe takes the backend out of IMAP logins, a failed LMTP
 * probe out of LMTP recipients, at once; a good probe brings that side
 * back. (A backend whose LMTP alone is dead still serves its IMAP users:
 * moving them too would only make their new logins race the lease their
 * open sessions hold there.) Proxies call director_route() on their loop
 * threads; the table is guarded by one mutex held for microseconds. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "director/director.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/objstore.h"

#define PROBE_TIMEOUT_MS 1500

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool started, stopping;
	pthread_t thread;
	const struct om_config *cfg;
	struct objstore *store;
	char etag[80];
	struct director_backend *b; /* mu */
	size_t n;                   /* mu */

	pthread_mutex_t sess_mu;
	struct director_session *sessions; /* sess_mu */
} D = { .mu = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.sess_mu = PTHREAD_MUTEX_INITIALIZER };

static atomic_uint_fast64_t c_logins_ok, c_logins_failed, c_bytes_to_backend, c_bytes_to_client;
static atomic_int_fast64_t g_conns;

static int64_t mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- probes --- */

int director_connect(const char *host, unsigned port, int timeout_ms)
{
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	if (getaddrinfo(host, portstr, &hints, &res) != 0 || res == NULL)
		return -1;
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		return -1;
	}
	int r = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (r != 0 && errno == EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t len = sizeof(err);
		int pr = poll(&p, 1, timeout_ms);
		if (pr == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			r = 0;
		else
			errno = pr == 0 ? ETIMEDOUT : err != 0 ? err : errno;
	}
	if (r != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* 1: up; 0: down (refused, closed, a wrong greeting); -1: no answer in
 * PROBE_TIMEOUT_MS (a loaded backend may be slow: see probe_all). */
static int probe(const struct director_backend *b, bool lmtp, int64_t *ms_r)
{
	int64_t t0 = mono_ms();
	int fd = director_connect(b->host, lmtp ? b->lmtp_port : b->imap_port, PROBE_TIMEOUT_MS);
	if (fd < 0)
		return errno == ETIMEDOUT ? -1 : 0;
	/* the greeting's start is enough: "* OK" (the rest may be a long
	 * CAPABILITY), "220" (or "220-" of a multi-line one) */
	const char *want = lmtp ? "220" : "* OK";
	size_t want_len = strlen(want);
	char line[8];
	size_t got = 0;
	bool slow = false;
	while (got < want_len) {
		ssize_t r = read(fd, line + got, want_len - got);
		if (r <= 0) {
			slow = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
			break;
		}
		got += (size_t)r;
	}
	bool ok = got == want_len && memcmp(line, want, want_len) == 0;
	if (ok) {
		const char *bye = lmtp ? "QUIT\r\n" : "p LOGOUT\r\n";
		(void)!write(fd, bye, strlen(bye));
	}
	close(fd);
	*ms_r = mono_ms() - t0;
	return ok ? 1 : slow ? -1 : 0;
}

/* --- the list --- */

/* Takes the new list, keeping the live state of backends already known. */
static void table_replace(struct director_backend *nb, size_t nn, bool from_store)
{
	pthread_mutex_lock(&D.mu);
	for (size_t i = 0; i < nn; i++) {
		nb[i].healthy = !from_store; /* store entries: after their first probe */
		nb[i].lmtp_healthy = !from_store;
		for (size_t j = 0; j < D.n; j++) {
			if (strcmp(D.b[j].id, nb[i].id) != 0)
				continue;
			nb[i].healthy = D.b[j].healthy;
			nb[i].probe_ms = D.b[j].probe_ms;
			nb[i].lmtp_healthy = D.b[j].lmtp_healthy;
			nb[i].lmtp_probe_ms = D.b[j].lmtp_probe_ms;
			nb[i].slow_probes = D.b[j].slow_probes;
			nb[i].lmtp_slow_probes = D.b[j].lmtp_slow_probes;
			nb[i].logins = D.b[j].logins;
			nb[i].sessions = D.b[j].sessions;
			nb[i].drained_since = nb[i].drained ? D.b[j].drained_since : 0;
			break;
		}
		if (nb[i].drained && nb[i].drained_since == 0) {
			nb[i].drained_since = mono_s();
			log_info("director: backend %s is drained: no new logins; its sessions "
				 "close in %us",
				 nb[i].id, D.cfg->director_drain_grace);
		}
	}
	free(D.b);
	D.b = nb;
	D.n = nn;
	pthread_mutex_unlock(&D.mu);
}

static int refresh(bool force)
{
	if (D.store == NULL)
		return 0;
	if (!force && D.etag[0] != '\0') {
		struct objstore_stat st;
		memset(&st, 0, sizeof(st));
		int r = objstore_head(D.store, DIRECTOR_BACKENDS_KEY, &st, NULL);
		if (r == 0 && strcmp(st.etag, D.etag) == 0)
			return 0;
	}
	struct director_backend *nb = NULL;
	size_t nn = 0;
	char etag[80];
	struct buf why = BUF_INIT;
	int r = director_store_load(D.store, &nb, &nn, etag, &why);
	if (r != 0) {
		/* keep the last good list: the store may be down for a moment */
		log_warn("director: %s", buf_cstr(&why));
		buf_free(&why);
		return r;
	}
	buf_free(&why);
	if (strcmp(etag, D.etag) != 0 || force)
		log_info("director: %zu backends in %s", nn, DIRECTOR_BACKENDS_KEY);
	memcpy(D.etag, etag, sizeof(D.etag));
	table_replace(nb, nn, true);
	return 0;
}

struct probe_run {
	const struct director_backend *b;
	bool lmtp;
	pthread_t thread;
	bool started;
	int result;               /* probe() */
	int64_t ms;
};

static void *probe_thread(void *arg)
{
	struct probe_run *r = arg;
	r->result = probe(r->b, r->lmtp, &r->ms);
	return NULL;
}

static void probe_all(void)
{
	pthread_mutex_lock(&D.mu);
	size_t n = D.n;
	struct director_backend *copy = om_calloc(n > 0 ? n : 1, sizeof(*copy));
	if (n > 0)
		memcpy(copy, D.b, n * sizeof(*copy));
	pthread_mutex_unlock(&D.mu);

	/* all at once, one short-lived thread each (IMAP and LMTP of every
	 * backend): a backend that swallows packets costs the round
	 * PROBE_TIMEOUT_MS, not that times N */
	size_t nr = 2 * n;
	struct probe_run *runs = om_calloc(nr > 0 ? nr : 1, sizeof(*runs));
	for (size_t i = 0; i < nr; i++) {
		runs[i].b = &copy[i / 2];
		runs[i].lmtp = i % 2 == 1;
		if (runs[i].lmtp && runs[i].b->lmtp_port == 0)
			continue; /* no LMTP side: not probed, never routed to */
		runs[i].started = pthread_create(&runs[i].thread, NULL, probe_thread, &runs[i]) == 0;
		if (!runs[i].started)
			probe_thread(&runs[i]);
	}
	for (size_t i = 0; i < nr; i++) {
		if (runs[i].started)
			pthread_join(runs[i].thread, NULL);
		pthread_mutex_lock(&D.mu);
		int k = director_backend_find(D.b, D.n, runs[i].b->id);
		if (k >= 0) {
			struct director_backend *b = &D.b[k];
			/* A refusal or a wrong answer takes the side out at once;
			 * no answer in time only the second time in a row, so a
			 * backend slowed by load doesn't flap its users over. */
			unsigned *slow = runs[i].lmtp ? &b->lmtp_slow_probes : &b->slow_probes;
			bool *healthy = runs[i].lmtp ? &b->lmtp_healthy : &b->healthy;
			*slow = runs[i].result < 0 ? *slow + 1 : 0;
			bool ok = runs[i].result > 0 || (runs[i].result < 0 && *slow < 2 && *healthy);
			if (*healthy != ok)
				log_info("director: backend %s %s is %s", b->id,
					 runs[i].lmtp ? "LMTP" : "IMAP", ok ? "up" : "DOWN");
			*healthy = ok;
			*(runs[i].lmtp ? &b->lmtp_probe_ms : &b->probe_ms) =
				runs[i].result > 0 ? runs[i].ms : -1;
		}
		pthread_mutex_unlock(&D.mu);
	}
	free(runs);
	free(copy);
}

/* Sessions on backends drained for longer than the grace time: BYE. */
static void kick_drained(void)
{
	int64_t now = mono_s();
	char ids[DIRECTOR_MAX_BACKENDS][DIRECTOR_ID_MAX];
	size_t nk = 0;
	pthread_mutex_lock(&D.mu);
	for (size_t i = 0; i < D.n && nk < DIRECTOR_MAX_BACKENDS; i++) {
		if (D.b[i].drained && D.b[i].drained_since != 0 &&
		    now - D.b[i].drained_since >= (int64_t)D.cfg->director_drain_grace)
			memcpy(ids[nk++], D.b[i].id, DIRECTOR_ID_MAX);
	}
	pthread_mutex_unlock(&D.mu);
	if (nk == 0)
		return;
	unsigned kicked = 0;
	pthread_mutex_lock(&D.sess_mu);
	for (struct director_session *s = D.sessions; s != NULL; s = s->next) {
		if (s->kicked)
			continue;
		for (size_t i = 0; i < nk; i++) {
			if (strcmp(s->backend_id, ids[i]) == 0) {
				s->kicked = true;
				conn_post(s->conn, director_imap_kick, s);
				kicked++;
				break;
			}
		}
	}
	pthread_mutex_unlock(&D.sess_mu);
	if (kicked > 0)
		log_info("director: closing %u sessions on drained backends", kicked);
}

static void *director_thread(void *arg)
{
	(void)arg;
	unsigned interval = D.cfg->director_probe_interval > 0 ? D.cfg->director_probe_interval : 1;
	pthread_mutex_lock(&D.mu);
	while (!D.stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += interval;
		pthread_cond_timedwait(&D.cond, &D.mu, &ts);
		if (D.stopping)
			break;
		pthread_mutex_unlock(&D.mu);
		(void)refresh(false);
		probe_all();
		kick_drained();
		pthread_mutex_lock(&D.mu);
	}
	pthread_mutex_unlock(&D.mu);
	return NULL;
}

int director_start(const struct om_config *cfg, char **error_r)
{
	D.cfg = cfg;
	struct buf why = BUF_INIT;
	if ((cfg->director_backends == NULL || cfg->director_backends[0] == '\0') &&
	    (cfg->objstore == NULL || cfg->objstore[0] == '\0')) {
		*error_r = om_strdup("a director needs director_backends, or objstore (for "
				     "cluster/backends)");
		return -1;
	}
	if (strcmp(cfg->director_auth, "local") == 0 &&
	    (cfg->passdb == NULL || cfg->passdb[0] == '\0')) {
		*error_r = om_strdup("director_auth = local needs passdb");
		return -1;
	}
	if (cfg->director_master_user != NULL && cfg->director_master_user[0] != '\0' &&
	    strcmp(cfg->director_auth, "local") != 0) {
		/* nobody would check the user's password */
		*error_r = om_strdup("director_master_user needs director_auth = local");
		return -1;
	}
	if (cfg->objstore != NULL && cfg->objstore[0] != '\0') {
		char *err = NULL;
		int r = objstore_open(cfg->objstore, &D.store, &err);
		if (r != 0) {
			buf_printf(&why, "objstore: %s", err != NULL ? err : om_strerror(r));
			free(err);
			*error_r = buf_steal(&why);
			return -1;
		}
		r = refresh(true);
		if (r != 0) {
			/* a director must start even while the store is briefly away:
			 * it retries every probe interval */
			log_warn("director: no backend list yet; retrying");
		}
	} else {
		struct director_backend *nb = NULL;
		size_t nn = 0;
		if (director_backends_parse_config(cfg->director_backends, &nb, &nn, &why) != 0) {
			*error_r = buf_steal(&why);
			return -1;
		}
		table_replace(nb, nn, false);
		log_info("director: %zu backends from director_backends", nn);
	}
	buf_free(&why);
	probe_all();
	if (pthread_create(&D.thread, NULL, director_thread, NULL) != 0) {
		*error_r = om_strdup("pthread_create failed");
		return -1;
	}
	D.started = true;
	return 0;
}

void director_stop(void)
{
	if (D.started) {
		pthread_mutex_lock(&D.mu);
		D.stopping = true;
		pthread_cond_broadcast(&D.cond);
		pthread_mutex_unlock(&D.mu);
		pthread_join(D.thread, NULL);
		D.started = false;
	}
	if (D.store != NULL)
		objstore_close(D.store);
	D.store = NULL;
	free(D.b);
	D.b = NULL;
	D.n = 0;
}

/* --- routing --- */

int director_route(const char *user, bool lmtp, char *host_r, unsigned *port_r, char *id_r)
{
	pthread_mutex_lock(&D.mu);
	int i = lmtp ? director_pick_lmtp(user, D.b, D.n) : director_pick(user, D.b, D.n, false);
	if (i < 0) {
		pthread_mutex_unlock(&D.mu);
		return -OM_ETEMP;
	}
	struct director_backend *b = &D.b[i];
	memcpy(host_r, b->host, DIRECTOR_HOST_MAX);
	memcpy(id_r, b->id, DIRECTOR_ID_MAX);
	*port_r = lmtp ? b->lmtp_port : b->imap_port;
	if (!lmtp)
		b->logins++;
	pthread_mutex_unlock(&D.mu);
	return 0;
}

void director_backend_failed(const char *id, bool lmtp)
{
	pthread_mutex_lock(&D.mu);
	int k = director_backend_find(D.b, D.n, id);
	bool *healthy = k >= 0 ? (lmtp ? &D.b[k].lmtp_healthy : &D.b[k].healthy) : NULL;
	if (healthy != NULL && *healthy) {
		*healthy = false;
		log_warn("director: backend %s failed an %s connection: its %s side is DOWN until a "
			 "probe succeeds", id, lmtp ? "LMTP" : "IMAP", lmtp ? "LMTP" : "IMAP");
	}
	pthread_mutex_unlock(&D.mu);
}

/* --- sessions --- */

void director_session_add(struct director_session *ds)
{
	pthread_mutex_lock(&D.sess_mu);
	ds->prev = NULL;
	ds->next = D.sessions;
	if (D.sessions != NULL)
		D.sessions->prev = ds;
	D.sessions = ds;
	pthread_mutex_unlock(&D.sess_mu);
	pthread_mutex_lock(&D.mu);
	int k = director_backend_find(D.b, D.n, ds->backend_id);
	if (k >= 0)
		D.b[k].sessions++;
	pthread_mutex_unlock(&D.mu);
}

void director_session_remove(struct director_session *ds)
{
	pthread_mutex_lock(&D.sess_mu);
	if (ds->prev != NULL)
		ds->prev->next = ds->next;
	else
		D.sessions = ds->next;
	if (ds->next != NULL)
		ds->next->prev = ds->prev;
	ds->prev = ds->next = NULL;
	pthread_mutex_unlock(&D.sess_mu);
	pthread_mutex_lock(&D.mu);
	int k = director_backend_find(D.b, D.n, ds->backend_id);
	if (k >= 0 && D.b[k].sessions > 0)
		D.b[k].sessions--;
	pthread_mutex_unlock(&D.mu);
}

/* --- figures --- */

void director_count_login(bool ok)
{
	atomic_fetch_add_explicit(ok ? &c_logins_ok : &c_logins_failed, 1, memory_order_relaxed);
}

void director_count_bytes(bool to_backend, uint64_t n)
{
	atomic_fetch_add_explicit(to_backend ? &c_bytes_to_backend : &c_bytes_to_client, n,
				  memory_order_relaxed);
}

void director_count_conn(int delta)
{
	atomic_fetch_add_explicit(&g_conns, delta, memory_order_relaxed);
}

static void head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void director_metrics(struct buf *out)
{
	if (!D.started)
		return;
	head(out, "objmail_director_connections", "gauge", "open proxied client connections");
	buf_printf(out, "objmail_director_connections %lld\n", (long long)atomic_load(&g_conns));
	head(out, "objmail_director_logins_total", "counter", "IMAP logins through the director");
	buf_printf(out, "objmail_director_logins_total{result=\"ok\"} %llu\n",
		   (unsigned long long)atomic_load(&c_logins_ok));
	buf_printf(out, "objmail_director_logins_total{result=\"failed\"} %llu\n",
		   (unsigned long long)atomic_load(&c_logins_failed));
	head(out, "objmail_director_proxied_bytes_total", "counter", "bytes relayed");
	buf_printf(out, "objmail_director_proxied_bytes_total{direction=\"to_backend\"} %llu\n",
		   (unsigned long long)atomic_load(&c_bytes_to_backend));
	buf_printf(out, "objmail_director_proxied_bytes_total{direction=\"to_client\"} %llu\n",
		   (unsigned long long)atomic_load(&c_bytes_to_client));
	int64_t relays = 0, pipes = 0;
	splice_relay_counts(&relays, &pipes);
	head(out, "objmail_director_splice_relays", "gauge",
	     "logged-in connections relayed by splice(2) now (the others: TLS, or not switched yet)");
	buf_printf(out, "objmail_director_splice_relays %lld\n", (long long)relays);
	head(out, "objmail_director_splice_pipes", "gauge",
	     "pipes the splice relays hold (2 descriptors each; in use or pooled)");
	buf_printf(out, "objmail_director_splice_pipes %lld\n", (long long)pipes);
	pthread_mutex_lock(&D.mu);
	head(out, "objmail_director_backend_up", "gauge",
	     "1 if the backend passed its last probe and is not drained");
	for (size_t i = 0; i < D.n; i++)
		buf_printf(out, "objmail_director_backend_up{backend=\"%s\"} %d\n", D.b[i].id,
			   D.b[i].healthy && !D.b[i].drained ? 1 : 0);
	head(out, "objmail_director_backend_healthy", "gauge",
	     "1 if the last IMAP probe succeeded (IMAP logins go there)");
	for (size_t i = 0; i < D.n; i++)
		buf_printf(out, "objmail_director_backend_healthy{backend=\"%s\"} %d\n", D.b[i].id,
			   D.b[i].healthy ? 1 : 0);
	head(out, "objmail_director_backend_lmtp_healthy", "gauge",
	     "1 if the last LMTP probe succeeded (LMTP recipients go there)");
	for (size_t i = 0; i < D.n; i++)
		buf_printf(out, "objmail_director_backend_lmtp_healthy{backend=\"%s\"} %d\n",
			   D.b[i].id, D.b[i].lmtp_healthy ? 1 : 0);
	head(out, "objmail_director_backend_sessions", "gauge",
	     "proxied IMAP sessions per backend (users connected through this director)");
	for (size_t i = 0; i < D.n; i++)
		buf_printf(out, "objmail_director_backend_sessions{backend=\"%s\"} %u\n", D.b[i].id,
			   D.b[i].sessions);
	head(out, "objmail_director_backend_logins_total", "counter", "logins routed per backend");
	for (size_t i = 0; i < D.n; i++)
		buf_printf(out, "objmail_director_backend_logins_total{backend=\"%s\"} %llu\n",
			   D.b[i].id, (unsigned long long)D.b[i].logins);
	pthread_mutex_unlock(&D.mu);
}

void director_status(struct buf *out, bool json)
{
	pthread_mutex_lock(&D.mu);
	if (json)
		buf_append_str(out, "[");
	for (size_t i = 0; i < D.n; i++) {
		const struct director_backend *b = &D.b[i];
		if (json)
			buf_printf(out,
				   "%s{\"id\":\"%s\",\"host\":\"%s\",\"imap_port\":%u,\"lmtp_port\":%u,"
				   "\"weight\":%u,\"state\":\"%s\",\"health\":\"%s\","
				   "\"lmtp_health\":\"%s\",\"sessions\":%u,"
				   "\"logins\":%llu,\"probe_ms\":%lld,\"lmtp_probe_ms\":%lld}",
				   i > 0 ? "," : "", b->id, b->host, b->imap_port, b->lmtp_port,
				   b->weight, b->drained ? "drained" : "active",
				   b->healthy ? "up" : "down", b->lmtp_healthy ? "up" : "down",
				   b->sessions, (unsigned long long)b->logins, (long long)b->probe_ms,
				   (long long)b->lmtp_probe_ms);
		else
			buf_printf(out, "%-24s imap %-5u lmtp %-5u weight %-5u %-8s %-5s lmtp %-5s "
					"sessions %u\n",
				   b->id, b->imap_port, b->lmtp_port, b->weight,
				   b->drained ? "drained" : "active", b->healthy ? "up" : "down",
				   b->lmtp_healthy ? "up" : "down", b->sessions);
	}
	if (json)
		buf_append_str(out, "]\n");
	pthread_mutex_unlock(&D.mu);
}
