/* The server: event-loop threads, listeners, the worker pool and the
 * graceful stop (see conn.h).
 *
 * Listeners live on the main thread's event_base; an accepted socket is
 * handed round-robin to one of the io_threads loops, which owns it from then
 * on. server_stop writes a byte into a self-pipe (async-signal-safe); the
 * main loop then stops accepting, closes every connection (each after its
 * running job and with its output flushed), waits for the count to reach 0,
 * stops the loops (each first runs the callbacks still queued on it, so
 * the closes in flight are finished) and drains the worker pool.
 *
 * Unix sockets are created with mode 0660: who may connect is decided by the
 * socket's group and by the permissions of the directory it lives in (the
 * daemon hands the socket to mail_uid when it drops privileges). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "lib/buf.h"
#include "lib/conn-private.h"
#include "lib/log.h"

#define LISTEN_BACKLOG 511
/* Non-blocking loop rounds at the stop to run the callbacks still queued
 * (each round runs every callback that is active when it starts). */
#define LOOP_QUIESCE_MAX_ROUNDS 10000
#define LOOP_QUIESCE_MAX_SEC 5

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;

static void evthread_setup(void)
{
	if (evthread_use_pthreads() != 0)
		fatal("evthread_use_pthreads failed");
}

static void stop_pipe_cb(evutil_socket_t fd, short what, void *arg);

struct server *server_new(const struct om_config *cfg)
{
	pthread_once(&evthread_once, evthread_setup);
	signal(SIGPIPE, SIG_IGN); /* a peer that went away is an error return, not a signal */

	struct server *srv = om_calloc(1, sizeof(*srv));
	srv->cfg = cfg;
	srv->iplimit = iplimit_new();
	atomic_init(&srv->conn_count, 0);
	atomic_init(&srv->stopping, false);
	atomic_init(&srv->next_loop, 0);
	srv->main_base = event_base_new();
	if (srv->main_base == NULL)
		fatal("event_base_new failed");
	if (pipe2(srv->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		fatal("pipe2: %s", strerror(errno));
	srv->stop_ev = event_new(srv->main_base, srv->stop_pipe[0], EV_READ | EV_PERSIST,
				 stop_pipe_cb, srv);
	event_add(srv->stop_ev, NULL);

	srv->n_loops = cfg->io_threads > 0 ? cfg->io_threads : 1;
	srv->loops = om_calloc(srv->n_loops, sizeof(struct loop));
	for (unsigned i = 0; i < srv->n_loops; i++) {
		srv->loops[i].srv = srv;
		srv->loops[i].base = event_base_new();
		if (srv->loops[i].base == NULL)
			fatal("event_base_new failed");
	}
	unsigned workers = cfg->worker_threads;
	if (workers == 0) {
		/* Workers mostly wait in fsync/fdatasync (message saves, index
		 * commits), not on the CPU: size the pool for blocked I/O, not
		 * for cores. 8 x cores, at least 16, at most the config cap. */
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned long w = n > 0 ? 8ul * (unsigned long)n : 16;
		if (w < 16)
			w = 16;
		if (w > 256)
			w = 256;
		workers = (unsigned)w;
	}
	workq_init(&srv->wq, workers);
	return srv;
}

int server_tls_init(struct server *srv, const char *cert, const char *key, char **error_r)
{
	SSL_CTX *ctx = tls_server_ctx_new(cert, key, error_r);
	if (ctx == NULL)
		return -1;
	if (srv->ssl_ctx != NULL)
		SSL_CTX_free(srv->ssl_ctx);
	srv->ssl_ctx = ctx;
	return 0;
}

/* --- listening --- */

static char *err_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *err_printf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return buf_steal(&b);
}

static char *sockaddr_format(const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];
	struct buf b = BUF_INIT;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		buf_printf(&b, "%s:%u", host, ntohs(sin->sin_port));
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		buf_printf(&b, "[%s]:%u", host, ntohs(sin6->sin6_port));
	}
	return buf_steal(&b);
}

static int listen_unix(const char *path, char **error_r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(sun.sun_path)) {
		*error_r = err_printf("unix socket path too long or empty: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, len + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*error_r = err_printf("socket: %s", strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*error_r = err_printf("%s exists and is not a socket", path);
			close(fd);
			return -1;
		}
		/* A live server answers; a stale socket from a crash doesn't. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			close(fd);
			*error_r = err_printf("%s: in use by another process", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r != 0 || chmod(path, 0660) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		*error_r = err_printf("bind/listen %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int listen_inet(const char *spec, char **bound_r, char **error_r)
{
	char host[256];
	const char *port;
	size_t hlen;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (end == NULL || end[1] != ':') {
			*error_r = err_printf("bad listen address '%s' (want [v6]:port)", spec);
			return -1;
		}
		hlen = (size_t)(end - spec - 1);
		memcpy(host, spec + 1, hlen < sizeof(host) ? hlen : 0);
		port = end + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (colon == NULL) {
			*error_r = err_printf("bad listen address '%s' (want host:port)", spec);
			return -1;
		}
		hlen = (size_t)(colon - spec);
		memcpy(host, spec, hlen < sizeof(host) ? hlen : 0);
		port = colon + 1;
	}
	unsigned long long portnum;
	if (hlen >= sizeof(host) || !om_parse_u64(port, strlen(port), &portnum) ||
	    portnum > 65535) {
		*error_r = err_printf("bad listen address '%s'", spec);
		return -1;
	}
	host[hlen] = '\0';
	bool any = hlen == 0 || strcmp(host, "*") == 0;

	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(any ? NULL : host, port, &hints, &res);
	if (gai != 0) {
		*error_r = err_printf("listen address '%s': %s", spec, gai_strerror(gai));
		return -1;
	}
	int fd = -1;
	int saved_errno = 0;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			saved_errno = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
			break;
		saved_errno = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		*error_r = err_printf("bind %s: %s", spec, strerror(saved_errno));
		return -1;
	}
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
		*error_r = err_printf("getsockname %s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	*bound_r = sockaddr_format((struct sockaddr *)&ss);
	return fd;
}

struct accepted {
	struct loop *loop;
	struct listener *lst;
	int fd;
	socklen_t salen;
	struct sockaddr_storage ss;
};

static void accept_on_loop_cb(evutil_socket_t unused, short what, void *arg)
{
	struct accepted *a = arg;
	if (atomic_load(&a->loop->srv->stopping))
		close(a->fd);
	else
		conn_accept(a->loop, a->lst, a->fd, (struct sockaddr *)&a->ss, (int)a->salen);
	free(a);
}

static void listener_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
			       struct sockaddr *sa, int salen, void *arg)
{
	struct listener *lst = arg;
	struct server *srv = lst->srv;
	if (atomic_load(&srv->stopping)) {
		close(fd);
		return;
	}
	struct accepted *a = om_calloc(1, sizeof(*a));
	unsigned i = atomic_fetch_add(&srv->next_loop, 1) % srv->n_loops;
	a->loop = &srv->loops[i];
	a->lst = lst;
	a->fd = fd;
	if (salen > 0 && (size_t)salen <= sizeof(a->ss)) {
		memcpy(&a->ss, sa, (size_t)salen);
		a->salen = (socklen_t)salen;
	} else {
		a->ss.ss_family = AF_UNIX;
	}
	static const struct timeval zero = { 0, 0 };
	if (event_base_once(a->loop->base, -1, EV_TIMEOUT, accept_on_loop_cb, a, &zero) != 0) {
		close(fd);
		free(a);
	}
}

static void listener_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *lst = arg;
	if (lst->lev != NULL)
		evconnlistener_enable(lst->lev);
}

static void listener_error_cb(struct evconnlistener *lev, void *arg)
{
	struct listener *lst = arg;
	int err = EVUTIL_SOCKET_ERROR();
	log_warn("%s listener %s: accept: %s", lst->h->name, lst->bound, strerror(err));
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		/* Out of descriptors: pause instead of spinning on the ready socket. */
		evconnlistener_disable(lev);
		struct timeval tv = { 1, 0 };
		event_add(lst->retry_ev, &tv);
	}
}

int server_listen(struct server *srv, const char *spec, const struct conn_handler *h,
		  void *handler_ctx, bool implicit_tls, char **error_r)
{
	*error_r = NULL;
	if (implicit_tls && srv->ssl_ctx == NULL) {
		*error_r = err_printf("%s: implicit TLS needs ssl_cert", spec);
		return -1;
	}
	char *bound = NULL;
	char *unix_path = NULL;
	int fd;
	if (strncmp(spec, "unix:", 5) == 0) {
		fd = listen_unix(spec + 5, error_r);
		if (fd >= 0) {
			unix_path = om_strdup(spec + 5);
			bound = om_strdup(spec);
		}
	} else {
		fd = listen_inet(spec, &bound, error_r);
	}
	if (fd < 0)
		return -1;

	struct listener *lst = om_calloc(1, sizeof(*lst));
	lst->srv = srv;
	lst->h = h;
	lst->ctx = handler_ctx;
	lst->implicit_tls = implicit_tls;
	lst->bound = bound;
	lst->unix_path = unix_path;
	lst->lev = evconnlistener_new(srv->main_base, listener_accept_cb, lst,
				      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (lst->lev == NULL) {
		*error_r = err_printf("evconnlistener_new %s failed", spec);
		close(fd);
		if (unix_path != NULL)
			unlink(unix_path);
		free(bound);
		free(unix_path);
		free(lst);
		return -1;
	}
	evconnlistener_set_error_cb(lst->lev, listener_error_cb);
	lst->retry_ev = evtimer_new(srv->main_base, listener_retry_cb, lst);
	srv->listeners = om_reallocarray(srv->listeners, srv->n_listeners + 1,
					 sizeof(*srv->listeners));
	srv->listeners[srv->n_listeners++] = lst;
	return 0;
}

const char *server_bound_addr(struct server *srv, unsigned i)
{
	if (i >= srv->n_listeners)
		return NULL;
	return srv->listeners[i]->bound;
}

void server_run_job(struct server *srv, void (*job)(void *arg), void *arg)
{
	struct job *j = om_calloc(1, sizeof(*j));
	j->fn = job;
	j->arg = arg;
	workq_push(&srv->wq, j);
}

unsigned server_conn_count(struct server *srv)
{
	return atomic_load(&srv->conn_count);
}

/* --- running and stopping --- */

/* After the loop was told to exit: run what is still queued on it. A
 * bufferevent freed by conn_finish is only released by callbacks that come
 * later: its deferred read/write/event callbacks (each holds a reference)
 * and then its finalizer. event_base_free cancels deferred callbacks without
 * running them, so without this every bufferevent whose close was in flight
 * at the stop leaked (with its evbuffers, chains and locks). Posts of
 * accepted sockets still queued are closed here too. Bounded: those
 * callbacks schedule a few more, never an endless chain. */
static void loop_quiesce(struct loop *loop)
{
	/* A round runs until nothing is active: a callback that kept itself
	 * active would never return, so the rounds also end at a deadline. */
	struct timeval bound = { LOOP_QUIESCE_MAX_SEC, 0 };
	event_base_loopexit(loop->base, &bound);
	struct timeval t0, now;
	evutil_gettimeofday(&t0, NULL);
	unsigned rounds = 0;
	for (;;) {
		event_base_loop(loop->base, EVLOOP_NONBLOCK);
		if (event_base_get_num_events(loop->base, EVENT_BASE_COUNT_ACTIVE) == 0 ||
		    ++rounds >= LOOP_QUIESCE_MAX_ROUNDS)
			break;
		evutil_gettimeofday(&now, NULL);
		if (now.tv_sec - t0.tv_sec >= LOOP_QUIESCE_MAX_SEC)
			break;
	}
	int left = event_base_get_num_events(loop->base, EVENT_BASE_COUNT_ACTIVE);
	if (left > 0)
		log_warn("io loop stopped with %d callback(s) still queued", left);
	unsigned n_open = 0;
	for (struct conn *c = loop->conns; c != NULL; c = c->next)
		n_open++;
	if (n_open > 0)
		log_warn("io loop stopped with %u connection(s) still open", n_open);
}

static void *loop_main(void *arg)
{
	struct loop *loop = arg;
	event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
	loop_quiesce(loop);
	return NULL;
}

static void close_all_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_close_all(arg);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	if (atomic_load(&srv->conn_count) == 0)
		event_base_loopbreak(srv->main_base);
}

static void stop_pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	char tmp[64];
	while (read(fd, tmp, sizeof(tmp)) > 0)
		;
	if (atomic_exchange(&srv->stopping, true))
		return;
	log_info("shutting down: %u connection(s) open", atomic_load(&srv->conn_count));
	/* Stop accepting but keep the sockets (server_free closes them): an
	 * obox backend must not look dead (connection refused) to others
	 * before it released its leases (doc/obox.md "Leases"). */
	for (unsigned i = 0; i < srv->n_listeners; i++) {
		struct listener *lst = srv->listeners[i];
		evconnlistener_disable(lst->lev);
		event_del(lst->retry_ev);
	}
	static const struct timeval zero = { 0, 0 };
	for (unsigned i = 0; i < srv->n_loops; i++)
		event_base_once(srv->loops[i].base, -1, EV_TIMEOUT, close_all_cb, &srv->loops[i],
				&zero);
	srv->drain_ev = event_new(srv->main_base, -1, EV_PERSIST, drain_cb, srv);
	struct timeval tv = { 0, 20 * 1000 };
	event_add(srv->drain_ev, &tv);
}

int server_run(struct server *srv)
{
	srv->running = true;
	for (unsigned i = 0; i < srv->n_loops; i++) {
		if (pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]) != 0)
			fatal("pthread_create (io loop) failed");
		srv->loops[i].started = true;
	}
	workq_start(&srv->wq);

	event_base_loop(srv->main_base, EVLOOP_NO_EXIT_ON_EMPTY);

	for (unsigned i = 0; i < srv->n_loops; i++) {
		event_base_loopexit(srv->loops[i].base, NULL);
		pthread_join(srv->loops[i].thread, NULL);
		srv->loops[i].started = false;
	}
	workq_stop(&srv->wq);
	srv->running = false;
	log_info("stopped");
	return 0;
}

void server_stop(struct server *srv)
{
	int saved = errno;
	ssize_t w = write(srv->stop_pipe[1], "x", 1);
	(void)w;
	errno = saved;
}

void server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	for (unsigned i = 0; i < srv->n_listeners; i++) {
		struct listener *lst = srv->listeners[i];
		if (lst->lev != NULL)
			evconnlistener_free(lst->lev);
		event_free(lst->retry_ev);
		if (lst->unix_path != NULL)
			unlink(lst->unix_path);
		free(lst->unix_path);
		free(lst->bound);
		free(lst);
	}
	free(srv->listeners);
	if (srv->drain_ev != NULL)
		event_free(srv->drain_ev);
	event_free(srv->stop_ev);
	for (unsigned i = 0; i < srv->n_loops; i++)
		event_base_free(srv->loops[i].base);
	free(srv->loops);
	event_base_free(srv->main_base);
	close(srv->stop_pipe[0]);
	close(srv->stop_pipe[1]);
	workq_destroy(&srv->wq);
	if (srv->ssl_ctx != NULL)
		SSL_CTX_free(srv->ssl_ctx);
	iplimit_free(srv->iplimit);
	free(srv);
}
