/* Internals shared by conn.c (one connection), server.c (loops, listeners,
 * shutdown), workq.c (worker pool) and tls.c. Not for protocol code.
 *
 * Threads: the main thread runs srv->main_base (listeners, the stop pipe);
 * each of io_threads loops runs its own event_base; workers run jobs. A conn
 * belongs to one loop; its fields are touched on that loop's thread except
 * where marked "mu" (guarded by c->mu) or atomic. */
#ifndef OM_CONN_PRIVATE_H
#define OM_CONN_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "lib/conn.h"

struct event;
struct event_base;
struct bufferevent;
struct evconnlistener;

/* While a job runs the loop keeps reading, but stops at this many buffered
 * bytes, so a client can't make us buffer without bound. */
#define CONN_JOB_INPUT_HIGH_WATER (1024 * 1024)
/* conn_close waits at most this long for queued output to drain. */
#define CONN_CLOSE_FLUSH_MSEC 10000

struct loop {
	struct server *srv;
	struct event_base *base;
	pthread_t thread;
	bool started;
	struct conn *conns; /* loop thread only */
};

struct listener {
	struct server *srv;
	struct evconnlistener *lev;
	const struct conn_handler *h;
	void *ctx;
	bool implicit_tls;
	char *bound;       /* "127.0.0.1:40123" / "[::1]:143" / "unix:/path" */
	char *unix_path;   /* unlinked at server_free */
	struct event *retry_ev; /* re-enable after EMFILE */
};

struct job {
	struct job *next;
	struct conn *c;    /* NULL for server_run_job */
	void (*fn)(void *arg);
	void (*done)(void *arg);
	void *arg;
};

struct workq {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct job *head, *tail;
	bool stop;
	unsigned n_threads;
	pthread_t *threads;
	bool started;
};

struct iplimit;

struct server {
	const struct om_config *cfg;
	struct iplimit *iplimit;  /* max_connections_per_ip */
	struct event_base *main_base;
	int stop_pipe[2];
	struct event *stop_ev;
	struct event *drain_ev;   /* polls conn_count during shutdown */
	struct loop *loops;
	unsigned n_loops;
	atomic_uint next_loop;
	struct listener **listeners;
	unsigned n_listeners;
	SSL_CTX *ssl_ctx;
	struct workq wq;
	atomic_uint conn_count;
	atomic_bool stopping;
	bool running;
};

struct post {
	struct post *prev, *next;
	struct conn *c;
	struct event *ev;
	void (*fn)(struct conn *c, void *arg);
	void *arg;
};

struct conn {
	struct conn *prev, *next; /* in loop->conns */
	struct server *srv;
	struct loop *loop;
	struct listener *lst;
	const struct conn_handler *h;
	void *session;
	unsigned long id;
	atomic_uint refs;

	pthread_mutex_t mu;
	struct bufferevent *bev;  /* mu for writers; top of the stack (TLS filter) */
	struct post *posts;       /* mu */
	bool finished;            /* mu: on_close done, bev freed */
	pthread_cond_t out_cond;  /* mu: conn_wait_output sleeps here */
	unsigned out_waiters;     /* mu */

	atomic_bool closing;      /* conn_close called */
	bool opened;              /* on_open returned a session */
	bool job_running;
	bool eof;                 /* peer closed its side */
	bool error;               /* socket error: close without flushing */
	bool tls;
	bool compressed;          /* COMPRESS=DEFLATE filter on top */
	bool ip_counted;          /* holds an iplimit slot */
	bool shutdown;            /* server stopping: on_shutdown, then close */
	bool flushing;            /* close_start ran; waiting for output to drain */
	unsigned timeout_sec;
	struct event *flush_ev;
	long long flush_deadline_ms;
	char peer_ip[48];
	bool local;
};

/* conn.c */
void conn_accept(struct loop *loop, struct listener *lst, int fd, const struct sockaddr *sa,
		 int salen);
void conn_close_all(struct loop *loop);

/* workq.c */
void workq_init(struct workq *wq, unsigned n_threads);
void workq_start(struct workq *wq);
void workq_push(struct workq *wq, struct job *j);
/* Runs the remaining jobs, then joins the threads. */
void workq_stop(struct workq *wq);
void workq_destroy(struct workq *wq);
/* Called by workq.c after a conn job ran (worker thread). */
void conn_job_finished(struct job *j);

/* iplimit.c: thread-safe; max 0 = unlimited, unix peers never count. */
struct iplimit *iplimit_new(void);
void iplimit_free(struct iplimit *l);
bool iplimit_acquire(struct iplimit *l, const char *ip, unsigned max);
void iplimit_release(struct iplimit *l, const char *ip, unsigned max);

/* conn.c: put filter (a bufferevent over c->bev) on top of the stack and
 * route the connection's callbacks to it (loop thread). */
void conn_push_filter(struct conn *c, struct bufferevent *filter);

/* tls.c */
SSL_CTX *tls_server_ctx_new(const char *cert, const char *key, char **error_r);

#endif
