/* One connection: its bufferevent stack, input delivery, jobs, posts,
 * STARTTLS and the close/flush path (see conn.h and conn-private.h).
 *
 * Lifetime: refs counts the loop's own reference (dropped when the conn is
 * finished), each job in flight, each pending post/timer and conn_ref()
 * holders. "Finished" means the bufferevent is freed and on_close ran; that
 * happens on the loop thread and never while a job runs. The struct itself
 * is freed at the last unref, on whatever thread that is. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "lib/buf.h"
#include "lib/conn-private.h"
#include "lib/log.h"
#include "lib/om-error.h"

#define BEV_OPTS (BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE | BEV_OPT_DEFER_CALLBACKS | \
		  BEV_OPT_UNLOCK_CALLBACKS)

static atomic_ulong conn_next_id = 1;

static void conn_readcb(struct bufferevent *bev, void *arg);
static void conn_writecb(struct bufferevent *bev, void *arg);
static void conn_eventcb(struct bufferevent *bev, short what, void *arg);
static void conn_finish(struct conn *c);
static void conn_close_start(struct conn *c);
static void conn_shutdown_now(struct conn *c);

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- refcounting --- */

void conn_ref(struct conn *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void conn_unref(struct conn *c)
{
	unsigned old = atomic_fetch_sub(&c->refs, 1);
	om_assert(old > 0);
	if (old != 1)
		return;
	om_assert(c->bev == NULL && c->posts == NULL);
	pthread_cond_destroy(&c->out_cond);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* --- accessors --- */

struct evbuffer *conn_input(struct conn *c)
{
	return bufferevent_get_input(c->bev);
}

bool conn_is_closing(const struct conn *c)
{
	return atomic_load(&c->closing);
}

bool conn_server_stopping(const struct conn *c)
{
	return atomic_load(&c->srv->stopping);
}

bool conn_tls_available(const struct conn *c)
{
	return c->srv->ssl_ctx != NULL;
}

bool conn_is_tls(const struct conn *c)
{
	return c->tls;
}

const char *conn_peer_ip(const struct conn *c)
{
	return c->peer_ip;
}

bool conn_is_local(const struct conn *c)
{
	return c->local;
}

const struct om_config *conn_config(const struct conn *c)
{
	return c->srv->cfg;
}

unsigned long conn_id(const struct conn *c)
{
	return c->id;
}

/* --- output --- */

void conn_write(struct conn *c, const void *data, size_t len)
{
	if (len == 0)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->bev != NULL && !c->error)
		bufferevent_write(c->bev, data, len);
	pthread_mutex_unlock(&c->mu);
}

void conn_write_buffer(struct conn *c, struct evbuffer *data)
{
	pthread_mutex_lock(&c->mu);
	if (c->bev != NULL && !c->error)
		evbuffer_add_buffer(bufferevent_get_output(c->bev), data);
	else
		evbuffer_drain(data, evbuffer_get_length(data));
	pthread_mutex_unlock(&c->mu);
}

struct event_base *conn_event_base(struct conn *c)
{
	return c->loop->base;
}

void conn_pause_input(struct conn *c, bool pause)
{
	if (c->bev == NULL)
		return;
	if (pause)
		bufferevent_disable(c->bev, EV_READ);
	else if (!c->error && !conn_is_closing(c) && !c->eof && !c->job_running)
		bufferevent_enable(c->bev, EV_READ);
}

int conn_socket_fd(struct conn *c)
{
	if (c->bev == NULL || c->tls || c->compressed || c->error)
		return -1;
	return (int)bufferevent_getfd(c->bev);
}

void conn_write_str(struct conn *c, const char *s)
{
	conn_write(c, s, strlen(s));
}

void conn_printf(struct conn *c, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	conn_write(c, b.data, b.len);
	buf_free(&b);
}

static size_t conn_pending_output(struct conn *c);

/* Loop thread: output drained (write callback) or the conn failed. */
static void conn_wake_writers(struct conn *c)
{
	pthread_mutex_lock(&c->mu);
	if (c->out_waiters > 0)
		pthread_cond_broadcast(&c->out_cond);
	pthread_mutex_unlock(&c->mu);
}

int conn_wait_output(struct conn *c, size_t max_pending)
{
	int ret = 0;
	pthread_mutex_lock(&c->mu);
	while (c->bev != NULL && !c->error && conn_pending_output(c) > max_pending) {
		/* the write callback fires when the top buffer is down to this */
		bufferevent_setwatermark(c->bev, EV_WRITE, max_pending, 0);
		c->out_waiters++;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L; /* a TLS filter drains below the top: recheck */
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->out_cond, &c->mu, &ts);
		c->out_waiters--;
	}
	if (c->bev == NULL || c->error)
		ret = -OM_EIO;
	pthread_mutex_unlock(&c->mu);
	return ret;
}

/* --- posts and timers --- */

static void post_unlink_locked(struct conn *c, struct post *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		c->posts = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
}

static void post_cb(evutil_socket_t fd, short what, void *arg)
{
	struct post *p = arg;
	struct conn *c = p->c;
	pthread_mutex_lock(&c->mu);
	post_unlink_locked(c, p);
	bool finished = c->finished;
	pthread_mutex_unlock(&c->mu);
	event_free(p->ev);
	p->fn(finished ? NULL : c, p->arg);
	free(p);
	conn_unref(c);
}

static void conn_post_at(struct conn *c, const struct timeval *tv,
			 void (*fn)(struct conn *c, void *arg), void *arg)
{
	pthread_mutex_lock(&c->mu);
	if (c->finished) {
		pthread_mutex_unlock(&c->mu);
		fn(NULL, arg); /* nothing to run on; let the caller free arg */
		return;
	}
	struct post *p = om_calloc(1, sizeof(*p));
	p->c = c;
	p->fn = fn;
	p->arg = arg;
	p->ev = event_new(c->loop->base, -1, 0, post_cb, p);
	if (p->ev == NULL)
		fatal("event_new failed");
	p->next = c->posts;
	if (c->posts != NULL)
		c->posts->prev = p;
	c->posts = p;
	conn_ref(c);
	if (tv != NULL)
		event_add(p->ev, tv);
	else
		event_active(p->ev, EV_TIMEOUT, 0);
	pthread_mutex_unlock(&c->mu);
}

void conn_post(struct conn *c, void (*fn)(struct conn *c, void *arg), void *arg)
{
	conn_post_at(c, NULL, fn, arg);
}

void conn_post_delayed(struct conn *c, unsigned msec, void (*fn)(struct conn *c, void *arg),
		       void *arg)
{
	struct timeval tv = { .tv_sec = msec / 1000, .tv_usec = (msec % 1000) * 1000 };
	conn_post_at(c, &tv, fn, arg);
}

/* Finish: every pending post gets fn(NULL, arg) now (loop thread). */
static void conn_cancel_posts(struct conn *c)
{
	pthread_mutex_lock(&c->mu);
	struct post *list = c->posts;
	c->posts = NULL;
	pthread_mutex_unlock(&c->mu);
	while (list != NULL) {
		struct post *p = list;
		list = p->next;
		event_free(p->ev); /* also removes it if active or pending */
		p->fn(NULL, p->arg);
		free(p);
		conn_unref(c);
	}
}

/* --- input delivery --- */

static void conn_deliver_input(struct conn *c)
{
	if (c->bev == NULL || c->job_running || conn_is_closing(c))
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		c->h->on_input(c, c->session);
	/* The peer half-closed: answer what it sent, then close. */
	if (c->eof && !c->job_running && !conn_is_closing(c))
		conn_close(c);
}

static void conn_readcb(struct bufferevent *bev, void *arg)
{
	conn_deliver_input(arg);
}

/* --- jobs --- */

void conn_run(struct conn *c, void (*job)(void *arg), void (*done)(void *arg), void *arg)
{
	om_assert(!c->job_running);
	struct job *j = om_calloc(1, sizeof(*j));
	j->c = c;
	j->fn = job;
	j->done = done;
	j->arg = arg;
	c->job_running = true;
	conn_ref(c);
	if (c->bev != NULL)
		bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_JOB_INPUT_HIGH_WATER);
	workq_push(&c->srv->wq, j);
}

static void conn_job_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct conn *c = j->c;
	c->job_running = false;
	if (c->bev != NULL) {
		bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
		if (!c->error && !conn_is_closing(c) && !c->eof)
			bufferevent_enable(c->bev, EV_READ); /* a timeout may have stopped it */
	}
	if (j->done != NULL)
		j->done(j->arg);
	free(j);
	if (c->error) {
		conn_finish(c);
	} else if (c->shutdown && !c->job_running) {
		conn_shutdown_now(c);
	} else if (conn_is_closing(c)) {
		conn_close_start(c);
	} else {
		conn_deliver_input(c);
	}
	conn_unref(c);
}

void conn_job_finished(struct job *j)
{
	static const struct timeval zero = { 0, 0 };
	if (event_base_once(j->c->loop->base, -1, EV_TIMEOUT, conn_job_done_cb, j, &zero) != 0)
		fatal("event_base_once failed");
}

/* --- timeouts --- */

void conn_set_timeout(struct conn *c, unsigned seconds)
{
	c->timeout_sec = seconds;
	if (c->bev == NULL)
		return;
	if (seconds == 0) {
		bufferevent_set_timeouts(c->bev, NULL, NULL);
	} else {
		struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };
		bufferevent_set_timeouts(c->bev, &tv, NULL);
	}
}

static void conn_on_timeout(struct conn *c)
{
	if (c->job_running) {
		/* The client waits for us: not its idle time. */
		bufferevent_enable(c->bev, EV_READ);
		return;
	}
	if (conn_is_closing(c))
		return;
	log_debug("%s conn %lu: timeout", c->h->name, c->id);
	if (c->h->on_timeout == NULL) {
		conn_close(c);
		return;
	}
	c->h->on_timeout(c, c->session);
	if (!conn_is_closing(c) && c->bev != NULL)
		bufferevent_enable(c->bev, EV_READ);
}

/* --- events, close --- */

static void conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT) {
		conn_on_timeout(c);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		c->eof = true;
		if (c->flushing)
			return; /* a half-closed peer still reads: keep flushing */
		if (!c->job_running)
			conn_deliver_input(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = c->tls ? bufferevent_get_openssl_error(bev) : 0;
		if (e != 0) {
			char msg[256];
			ERR_error_string_n(e, msg, sizeof(msg));
			log_debug("%s conn %lu: TLS error: %s", c->h->name, c->id, msg);
		} else {
			log_debug("%s conn %lu: socket error: %s", c->h->name, c->id,
				  strerror(EVUTIL_SOCKET_ERROR()));
		}
		pthread_mutex_lock(&c->mu);
		c->error = true;
		pthread_cond_broadcast(&c->out_cond);
		pthread_mutex_unlock(&c->mu);
		if (!c->job_running)
			conn_finish(c);
	}
}

static size_t conn_pending_output(struct conn *c)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));
	/* every layer: TLS, and DEFLATE above or below it */
	for (struct bufferevent *under = bufferevent_get_underlying(c->bev); under != NULL;
	     under = bufferevent_get_underlying(under))
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

size_t conn_output_pending(struct conn *c)
{
	return c->bev != NULL ? conn_pending_output(c) : 0;
}

static void conn_flush_check(struct conn *c)
{
	if (c->bev == NULL)
		return;
	if (conn_pending_output(c) == 0 || now_ms() >= c->flush_deadline_ms)
		conn_finish(c);
}

static void conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	conn_wake_writers(c);
	if (c->flushing)
		conn_flush_check(c);
}

static void conn_flush_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_flush_check(arg);
}

/* Loop thread: stop reading and wait until the output is out. */
static void conn_close_start(struct conn *c)
{
	if (c->bev == NULL || c->flushing || c->job_running)
		return;
	if (c->error) {
		conn_finish(c); /* nothing can be sent any more */
		return;
	}
	/* after eof too: a half-closed peer may still read what we owe it */
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	c->flushing = true;
	c->flush_deadline_ms = now_ms() + CONN_CLOSE_FLUSH_MSEC;
	if (conn_pending_output(c) == 0) {
		conn_finish(c);
		return;
	}
	/* The write callback sees the top buffer drain; a TLS filter may still
	 * hold bytes below it, so poll too (closing conns only). */
	c->flush_ev = event_new(c->loop->base, -1, EV_PERSIST, conn_flush_timer_cb, c);
	struct timeval tv = { 0, 50 * 1000 };
	event_add(c->flush_ev, &tv);
}

static void conn_close_post(struct conn *c, void *arg)
{
	if (c != NULL)
		conn_close_start(c);
}

void conn_close(struct conn *c)
{
	if (atomic_exchange(&c->closing, true))
		return;
	/* Always via the loop: we may be inside a handler callback, or on a
	 * worker, and the close must not run under either's feet. */
	conn_post(c, conn_close_post, NULL);
}

static void conn_finish(struct conn *c)
{
	if (c->bev == NULL)
		return;
	if (c->job_running) {
		/* deferred to the job's done */
		atomic_store(&c->closing, true);
		return;
	}
	if (c->flush_ev != NULL) {
		event_free(c->flush_ev);
		c->flush_ev = NULL;
	}
	pthread_mutex_lock(&c->mu);
	struct bufferevent *bev = c->bev;
	c->bev = NULL;
	c->finished = true;
	pthread_mutex_unlock(&c->mu);
	bufferevent_free(bev);
	atomic_store(&c->closing, true);

	/* Pending posts first, so their fn(NULL, arg) still sees a live session. */
	conn_cancel_posts(c);
	if (c->opened && c->h->on_close != NULL)
		c->h->on_close(c, c->session);
	c->session = NULL;

	struct loop *loop = c->loop;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		loop->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->ip_counted)
		iplimit_release(c->srv->iplimit, c->peer_ip, c->srv->cfg->max_connections_per_ip);
	atomic_fetch_sub(&c->srv->conn_count, 1);
	log_debug("%s conn %lu: closed", c->h->name, c->id);
	conn_unref(c); /* the loop's reference */
}

/* Server stop: goodbye line (not in the middle of a job's output), close. */
static void conn_shutdown_now(struct conn *c)
{
	c->shutdown = false;
	bool was_closing = atomic_exchange(&c->closing, true);
	if (!was_closing && c->opened && c->h->on_shutdown != NULL && !c->error)
		c->h->on_shutdown(c, c->session);
	conn_close_start(c);
}

void conn_close_all(struct loop *loop)
{
	struct conn *c = loop->conns;
	while (c != NULL) {
		struct conn *next = c->next;
		if (c->job_running)
			c->shutdown = true; /* the job's done callback continues */
		else
			conn_shutdown_now(c);
		c = next;
	}
}

/* --- TLS --- */

static SSL *conn_ssl_new(struct conn *c)
{
	SSL *ssl = SSL_new(c->srv->ssl_ctx);
	if (ssl == NULL)
		log_error("%s conn %lu: SSL_new failed", c->h->name, c->id);
	return ssl;
}

int conn_starttls(struct conn *c)
{
	if (c->srv->ssl_ctx == NULL || c->tls || c->bev == NULL)
		return -OM_EINVAL;
	SSL *ssl = conn_ssl_new(c);
	if (ssl == NULL)
		return -OM_EINVAL;
	/* The filter's timeouts take over; a stale one below would fire too. */
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	/* Drop whatever the client sent after STARTTLS in the clear. */
	struct evbuffer *in = bufferevent_get_input(c->bev);
	evbuffer_drain(in, evbuffer_get_length(in));

	/* The filter writes below the plaintext already queued in the socket
	 * bufferevent, so "OK Begin TLS" goes out first, in clear. */
	struct bufferevent *filter = bufferevent_openssl_filter_new(
		c->loop->base, c->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPTS);
	if (filter == NULL) {
		SSL_free(ssl);
		return -OM_EINVAL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
	pthread_mutex_lock(&c->mu);
	c->bev = filter;
	c->tls = true;
	pthread_mutex_unlock(&c->mu);
	bufferevent_setcb(filter, conn_readcb, conn_writecb, conn_eventcb, c);
	conn_set_timeout(c, c->timeout_sec);
	if (c->job_running)
		bufferevent_setwatermark(filter, EV_READ, 0, CONN_JOB_INPUT_HIGH_WATER);
	bufferevent_enable(filter, EV_READ | EV_WRITE);
	return 0;
}

void conn_push_filter(struct conn *c, struct bufferevent *filter)
{
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	c->bev = filter;
	pthread_mutex_unlock(&c->mu);
	bufferevent_setcb(filter, conn_readcb, conn_writecb, conn_eventcb, c);
	conn_set_timeout(c, c->timeout_sec);
	if (c->job_running)
		bufferevent_setwatermark(filter, EV_READ, 0, CONN_JOB_INPUT_HIGH_WATER);
	bufferevent_enable(filter, EV_READ | EV_WRITE);
}

/* --- accept --- */

static void conn_set_peer(struct conn *c, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, c->peer_ip, sizeof(c->peer_ip));
		c->local = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			struct in_addr a4;
			memcpy(&a4, &sin6->sin6_addr.s6_addr[12], 4);
			inet_ntop(AF_INET, &a4, c->peer_ip, sizeof(c->peer_ip));
			c->local = (ntohl(a4.s_addr) >> 24) == 127;
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, c->peer_ip, sizeof(c->peer_ip));
			c->local = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		}
	} else {
		memcpy(c->peer_ip, "unix", 5);
		c->local = true;
	}
}

void conn_accept(struct loop *loop, struct listener *lst, int fd, const struct sockaddr *sa,
		 int salen)
{
	struct server *srv = loop->srv;
	struct conn *c = om_calloc(1, sizeof(*c));
	c->srv = srv;
	c->loop = loop;
	c->lst = lst;
	c->h = lst->h;
	c->id = atomic_fetch_add(&conn_next_id, 1);
	atomic_init(&c->refs, 1);
	atomic_init(&c->closing, false);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->out_cond, NULL);
	conn_set_peer(c, sa);
	if (!iplimit_acquire(srv->iplimit, c->peer_ip, srv->cfg->max_connections_per_ip)) {
		log_warn("%s: too many connections from %s (max_connections_per_ip %u)",
			 c->h->name, c->peer_ip, srv->cfg->max_connections_per_ip);
		close(fd);
		pthread_cond_destroy(&c->out_cond);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return;
	}
	c->ip_counted = true;

	/* Replies often go out in more than one write (untagged lines, then
	 * the tagged one); with Nagle + delayed ACK each such reply stalls
	 * ~40 ms. Unix sockets don't take the option: ignore the error. */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}

	if (lst->implicit_tls) {
		SSL *ssl = conn_ssl_new(c);
		if (ssl != NULL)
			c->bev = bufferevent_openssl_socket_new(loop->base, fd, ssl,
								BUFFEREVENT_SSL_ACCEPTING, BEV_OPTS);
		if (c->bev == NULL && ssl != NULL)
			SSL_free(ssl);
		if (c->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		c->tls = true;
	} else {
		c->bev = bufferevent_socket_new(loop->base, fd, BEV_OPTS);
	}
	if (c->bev == NULL) {
		log_error("%s: cannot set up connection from %s", c->h->name, c->peer_ip);
		iplimit_release(srv->iplimit, c->peer_ip, srv->cfg->max_connections_per_ip);
		close(fd);
		pthread_cond_destroy(&c->out_cond);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return;
	}
	c->next = loop->conns;
	if (loop->conns != NULL)
		loop->conns->prev = c;
	loop->conns = c;
	atomic_fetch_add(&srv->conn_count, 1);
	log_debug("%s conn %lu: accepted from %s", c->h->name, c->id, c->peer_ip);

	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	bufferevent_enable(c->bev, EV_WRITE);
	c->session = c->h->on_open(c, lst->ctx);
	if (c->session == NULL) {
		conn_close(c);
		return;
	}
	c->opened = true;
	bufferevent_enable(c->bev, EV_READ);
}
