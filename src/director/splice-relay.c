/* The relay of a logged-in IMAP connection without TLS: splice(2) moves
 * bytes socket -> pipe -> socket inside the kernel, so the director neither
 * copies them into user space nor looks at them.
 *
 * Pipes cost two descriptors each, and a director holds tens of thousands
 * of idle connections under one RLIMIT_NOFILE, so a direction holds a pipe
 * only while bytes are in flight: it takes one from a small per-loop-thread
 * pool when its source becomes readable and gives it back (empty) when the
 * source has nothing more. An idle relay holds no pipe.
 *
 * End of stream follows the evbuffer relay: the backend closing ends the
 * relay once what it sent reached the client; the client closing its side
 * is passed on (shutdown(SHUT_WR) to the backend, which answers and
 * closes), with a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "director/director.h"
#include "lib/log.h"
#include "lib/om-error.h"

/* Bigger than the default 64 KiB: fewer system calls per megabyte. If the
 * user's pipe budget (fs/pipe-user-pages-soft) is spent, the kernel keeps
 * the default and we live with it. */
#define PIPE_SIZE (256 * 1024)
/* idle pipes kept per loop thread */
#define POOL_MAX 8
/* moves per wakeup before yielding to the other connections of the loop */
#define PUMP_ROUNDS 16
/* half-closed client, or a flush toward a client that does not read */
#define CLOSE_DEADLINE_MS 10000
#define PIPE_RETRY_MS 20

struct pipe_pair {
	int rd, wr;
	size_t cap;
};

static __thread struct {
	struct pipe_pair p[POOL_MAX];
	size_t n;
} pool;

static atomic_int_fast64_t g_pipes, g_relays;

struct sdir {
	struct splice_relay *r;
	int src, dst;
	bool to_backend;
	struct event *rev, *wev; /* src readable, dst writable */
	bool rev_on, wev_on;
	struct pipe_pair pp;     /* rd = -1: none held */
	size_t inpipe;           /* bytes in the pipe */
	bool eof;                /* src gave EOF (or failed) */
	bool finished;           /* eof and the pipe is empty (or dst is gone) */
};

struct splice_relay {
	struct event_base *base;
	struct sdir up, down;    /* client -> backend, backend -> client */
	struct event *timer;     /* deadline, or a retry for a pipe */
	int64_t deadline_ms;     /* 0: none */
	bool counted;
	bool ended;
	bool client_gone;
	void (*done)(void *arg, bool client_gone);
	void *arg;
};

static int pipe_get(struct pipe_pair *pp)
{
	if (pool.n > 0) {
		*pp = pool.p[--pool.n];
		return 0;
	}
	int fds[2];
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		return -OM_ETEMP;
	(void)fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
	int sz = fcntl(fds[1], F_GETPIPE_SZ);
	pp->rd = fds[0];
	pp->wr = fds[1];
	pp->cap = sz > 0 ? (size_t)sz : 65536;
	atomic_fetch_add_explicit(&g_pipes, 1, memory_order_relaxed);
	return 0;
}

static void pipe_close(struct pipe_pair *pp)
{
	close(pp->rd);
	close(pp->wr);
	pp->rd = pp->wr = -1;
	atomic_fetch_sub_explicit(&g_pipes, 1, memory_order_relaxed);
}

/* An empty pipe goes back to the pool; one with bytes in it is closed. */
static void pipe_release(struct sdir *d)
{
	if (d->pp.rd < 0)
		return;
	if (d->inpipe == 0 && pool.n < POOL_MAX)
		pool.p[pool.n++] = d->pp;
	else
		pipe_close(&d->pp);
	d->pp.rd = d->pp.wr = -1;
	d->inpipe = 0;
}

static void ev_set(struct event *ev, bool *on, bool want)
{
	if (*on == want)
		return;
	if (want)
		event_add(ev, NULL);
	else
		event_del(ev);
	*on = want;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void timer_arm(struct splice_relay *r, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	event_add(r->timer, &tv);
}

static void deadline_set(struct splice_relay *r)
{
	if (r->deadline_ms != 0)
		return;
	r->deadline_ms = now_ms() + CLOSE_DEADLINE_MS;
	timer_arm(r, CLOSE_DEADLINE_MS);
}

static void relay_end(struct splice_relay *r, bool client_gone)
{
	if (r->ended)
		return;
	r->ended = true;
	r->client_gone = client_gone;
}

/* The client closed its side (or the backend stopped taking bytes): pass
 * the half-close on and wait, bounded, for the backend's last words. */
static void up_finished(struct splice_relay *r)
{
	struct sdir *d = &r->up;
	d->finished = true;
	ev_set(d->rev, &d->rev_on, false);
	ev_set(d->wev, &d->wev_on, false);
	pipe_release(d);
	(void)shutdown(d->dst, SHUT_WR);
	if (!r->down.finished)
		deadline_set(r);
}

/* Move what can be moved now; then wait for what blocks. */
static void pump(struct sdir *d)
{
	struct splice_relay *r = d->r;
	if (d->finished || r->ended)
		return;
	for (int round = 0; round < PUMP_ROUNDS; round++) {
		bool progress = false;
		if (!d->eof) {
			if (d->pp.rd < 0 && pipe_get(&d->pp) != 0) {
				/* out of descriptors: try again soon, the pool refills as
				 * other relays go idle */
				static __thread int64_t warned_ms;
				int64_t now = now_ms();
				if (now - warned_ms >= 10000) {
					warned_ms = now;
					log_warn("director: no pipe for a relay (%s): waiting",
						 strerror(errno));
				}
				ev_set(d->rev, &d->rev_on, false);
				timer_arm(r, PIPE_RETRY_MS);
				return;
			}
			ssize_t n = d->inpipe < d->pp.cap
					    ? splice(d->src, NULL, d->pp.wr, NULL, d->pp.cap - d->inpipe,
						     SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
					    : -1;
			if (n > 0) {
				d->inpipe += (size_t)n;
				director_count_bytes(d->to_backend, (uint64_t)n);
				progress = true;
			} else if (n == 0) {
				d->eof = true;
			} else if (d->inpipe >= d->pp.cap || errno == EAGAIN || errno == EINTR) {
				/* socket empty, or the pipe is out of slots: the drain
				 * below tells which */
			} else {
				log_debug("director: relay read from the %s: %s",
					  d->to_backend ? "client" : "backend", strerror(errno));
				if (d->to_backend) {
					relay_end(r, true);
					return;
				}
				d->eof = true; /* the backend failed: flush what we have */
			}
		}
		if (d->inpipe > 0) {
			ssize_t n = splice(d->pp.rd, NULL, d->dst, NULL, d->inpipe,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->inpipe -= (size_t)n;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				log_debug("director: relay write to the %s: %s",
					  d->to_backend ? "backend" : "client", strerror(errno));
				if (!d->to_backend) {
					relay_end(r, true);
					return;
				}
				/* the backend takes nothing more: its EOF follows (the
				 * pipe still holds bytes: closed, not pooled) */
				up_finished(r);
				return;
			}
		}
		if (d->eof && !d->to_backend)
			deadline_set(r); /* a client that does not read can't hold us */
		if (d->eof && d->inpipe == 0) {
			if (d->to_backend) {
				up_finished(r);
			} else {
				d->finished = true;
				relay_end(r, false);
			}
			return;
		}
		if (!progress) {
			if (d->inpipe > 0) {
				/* dst is full: wait for it, read no more meanwhile */
				ev_set(d->rev, &d->rev_on, false);
				ev_set(d->wev, &d->wev_on, true);
			} else {
				pipe_release(d);
				ev_set(d->wev, &d->wev_on, false);
				ev_set(d->rev, &d->rev_on, true);
			}
			return;
		}
	}
	/* still busy: let the loop run others, come back on readiness */
	ev_set(d->rev, &d->rev_on, !d->eof);
	ev_set(d->wev, &d->wev_on, d->inpipe > 0);
}

static void finish_if_ended(struct splice_relay *r)
{
	if (r->ended && r->done != NULL) {
		void (*done)(void *, bool) = r->done;
		r->done = NULL;
		done(r->arg, r->client_gone); /* may free r */
	}
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sdir *d = arg;
	struct splice_relay *r = d->r;
	pump(d);
	finish_if_ended(r);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct splice_relay *r = arg;
	int64_t now = now_ms();
	if (r->deadline_ms != 0 && now >= r->deadline_ms) {
		/* a half-closed client's backend, or a last flush, took too long */
		log_debug("director: relay close deadline passed");
		relay_end(r, false);
	} else {
		/* a retry for a pipe */
		pump(&r->up);
		pump(&r->down);
		if (!r->ended && r->deadline_ms != 0 && !evtimer_pending(r->timer, NULL))
			timer_arm(r, r->deadline_ms - now);
	}
	finish_if_ended(r);
}

static int dir_init(struct splice_relay *r, struct sdir *d, int src, int dst, bool to_backend)
{
	d->r = r;
	d->src = src;
	d->dst = dst;
	d->to_backend = to_backend;
	d->pp.rd = d->pp.wr = -1;
	d->rev = event_new(r->base, src, EV_READ | EV_PERSIST, io_cb, d);
	d->wev = event_new(r->base, dst, EV_WRITE | EV_PERSIST, io_cb, d);
	return d->rev != NULL && d->wev != NULL ? 0 : -OM_ETEMP;
}

struct splice_relay *splice_relay_new(struct event_base *base, int client_fd, int backend_fd,
				      void (*done)(void *arg, bool client_gone), void *arg)
{
	struct splice_relay *r = om_calloc(1, sizeof(*r));
	r->base = base;
	r->done = done;
	r->arg = arg;
	r->timer = evtimer_new(base, timer_cb, r);
	if (r->timer == NULL || dir_init(r, &r->up, client_fd, backend_fd, true) != 0 ||
	    dir_init(r, &r->down, backend_fd, client_fd, false) != 0) {
		r->done = NULL;
		splice_relay_free(r);
		return NULL;
	}
	atomic_fetch_add_explicit(&g_relays, 1, memory_order_relaxed);
	r->counted = true;
	ev_set(r->up.rev, &r->up.rev_on, true);
	ev_set(r->down.rev, &r->down.rev_on, true);
	return r;
}

static void dir_free(struct sdir *d)
{
	if (d->rev != NULL)
		event_free(d->rev);
	if (d->wev != NULL)
		event_free(d->wev);
	d->rev = d->wev = NULL;
	if (d->pp.rd >= 0)
		pipe_release(d);
}

void splice_relay_free(struct splice_relay *r)
{
	if (r == NULL)
		return;
	if (r->counted)
		atomic_fetch_sub_explicit(&g_relays, 1, memory_order_relaxed);
	dir_free(&r->up);
	dir_free(&r->down);
	if (r->timer != NULL)
		event_free(r->timer);
	free(r);
}

void splice_relay_counts(int64_t *relays_r, int64_t *pipes_r)
{
	*relays_r = atomic_load(&g_relays);
	*pipes_r = atomic_load(&g_pipes);
}
