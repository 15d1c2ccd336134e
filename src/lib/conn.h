/* Connections and the server's IO model (DESIGN.md "Inside a backend").
 *
 * A few event-loop threads own the sockets (libevent bufferevents, with an
 * OpenSSL filter for TLS). Protocol code sees a `struct conn`: its input
 * handler runs on the connection's loop thread and parses what has arrived;
 * a complete command that needs storage goes to the worker pool with
 * conn_run(), and while that job runs the connection's input is not
 * delivered (so one session's commands run in order). Output may be written
 * from any thread. An idle connection costs the conn struct, the session
 * struct and two (empty) evbuffers. */
#ifndef OM_CONN_H
#define OM_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"

struct evbuffer;
struct event_base;
struct conn;
struct server;

struct conn_handler {
	const char *name; /* "imap", "lmtp": used in logs */
	/* A connection was accepted (loop thread). Return the protocol session
	 * (may write the greeting). NULL = refuse (conn is closed). */
	void *(*on_open)(struct conn *c, void *handler_ctx);
	/* New input is in conn_input(c) (loop thread). Also called again after a
	 * conn_run() job's done callback if input is still buffered. */
	void (*on_input)(struct conn *c, void *session);
	/* The read timeout (conn_set_timeout) expired (loop thread). Optional:
	 * NULL closes the connection. */
	void (*on_timeout)(struct conn *c, void *session);
	/* The connection is gone (peer closed, error, or conn_close() finished
	 * flushing). Loop thread; called exactly once and never while a
	 * conn_run() job is in flight. The session must free itself; the conn is
	 * freed after this returns. */
	void (*on_close)(struct conn *c, void *session);
	/* The server is stopping (loop thread; after the running job's done, if
	 * any): say goodbye ("* BYE ...", "421 ..."). The connection is closed
	 * right after, with its output flushed. Optional. */
	void (*on_shutdown)(struct conn *c, void *session);
};

/* --- per connection --- */

/* Input bytes not yet consumed (loop thread, or the job of conn_run while it
 * runs, since input is not touched then). Drain what you consume. */
struct evbuffer *conn_input(struct conn *c);
/* Queue output. Any thread. */
void conn_write(struct conn *c, const void *data, size_t len);
void conn_write_str(struct conn *c, const char *s);
void conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Output backpressure for a conn_run() job that writes a lot (FETCH of big
 * messages): block until at most max_pending bytes of output are queued.
 * Job thread only (never the loop thread). 0, or -OM_EIO if the connection
 * failed meanwhile (stop writing). */
int conn_wait_output(struct conn *c, size_t max_pending);
/* Proxying (src/director): move every byte of data to the output without
 * copying (evbuffer_add_buffer). Any thread. */
void conn_write_buffer(struct conn *c, struct evbuffer *data);
/* Bytes queued for output and not yet sent (TLS filter included). Loop
 * thread. */
size_t conn_output_pending(struct conn *c);
/* The libevent base of the conn's loop, for sockets the protocol opens
 * itself (a director's backend connection); use them on the loop thread. */
struct event_base *conn_event_base(struct conn *c);
/* Stop (pause = true) or resume reading from the peer, for a relay whose
 * other side is slow (src/director). Loop thread; a resume is ignored while
 * the conn is closing or a job runs (the job's end resumes it). */
void conn_pause_input(struct conn *c, bool pause);
/* The connection's socket, for a relay that moves bytes with splice(2)
 * itself (src/director): -1 while a TLS or DEFLATE filter is on (or the
 * conn is finished). While using it the caller keeps input paused
 * (conn_pause_input) and queues no output; it drops its events on the fd
 * in on_close at the latest (the conn closes the fd just before). Loop
 * thread. */
int conn_socket_fd(struct conn *c);
/* Close once queued output is flushed (bounded wait). Any thread.
 * Input is no longer delivered after this. */
void conn_close(struct conn *c);
bool conn_is_closing(const struct conn *c);
/* Is the conn's server stopping (SIGTERM: server_stop)? Any thread. A long
 * job (a live admin import) checks it to give up early instead of holding
 * the shutdown up until it is done. */
bool conn_server_stopping(const struct conn *c);

/* Run job(arg) on a worker thread, then done(arg) on the conn's loop thread.
 * One job per connection at a time; input is held back meanwhile. */
void conn_run(struct conn *c, void (*job)(void *arg), void (*done)(void *arg), void *arg);
/* Run fn(c, arg) on the conn's loop thread soon. Any thread. Keeps the conn
 * alive until then; fn is not called if the conn closed meanwhile (then arg
 * is handed to fn with c == NULL so it can be freed; pending posts get this
 * before on_close runs). */
void conn_post(struct conn *c, void (*fn)(struct conn *c, void *arg), void *arg);
/* Same, after msec milliseconds (a timer on the conn's loop; e.g. the delay
 * before answering a failed login, which must not hold a worker). */
void conn_post_delayed(struct conn *c, unsigned msec, void (*fn)(struct conn *c, void *arg),
		       void *arg);
/* Reference counting for holders outside the loop (e.g. notifiers). */
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* Read timeout in seconds (0 = none). Loop thread. */
void conn_set_timeout(struct conn *c, unsigned seconds);

/* TLS. conn_tls_available: the server has a certificate. conn_starttls:
 * loop thread (or from a done callback); discards any input already
 * buffered (no plaintext injection), then switches the connection to TLS
 * after the output queued so far (e.g. "OK Begin TLS") is sent in clear.
 * 0 or -OM_EINVAL if TLS is not available or already on. */
bool conn_tls_available(const struct conn *c);
bool conn_is_tls(const struct conn *c);
int conn_starttls(struct conn *c);
/* COMPRESS=DEFLATE (RFC 4978; conn-compress.c): from now on both
 * directions are raw deflate streams; output queued so far goes out
 * uncompressed. Loop thread (a done callback). 0, or -OM_EINVAL if already
 * compressed or the connection is gone. */
int conn_start_deflate(struct conn *c);
bool conn_is_compressed(const struct conn *c);

/* "127.0.0.1", "::1", or "unix" */
const char *conn_peer_ip(const struct conn *c);
/* Is the peer on loopback or a unix socket (trusted for plaintext auth)? */
bool conn_is_local(const struct conn *c);
const struct om_config *conn_config(const struct conn *c);
/* Per-connection id for logs. */
unsigned long conn_id(const struct conn *c);

/* --- the server --- */

/* io_threads event loops + worker_threads workers (config). */
struct server *server_new(const struct om_config *cfg);
/* Load cert/key for STARTTLS and implicit TLS. 0 or -1 with *error_r. */
int server_tls_init(struct server *srv, const char *cert, const char *key, char **error_r);
/* Listen on "host:port", "[v6]:port" or "unix:/path". implicit_tls: TLS from
 * the first byte (IMAPS). Port 0 picks a free port; server_bound_addr tells
 * which. 0 or -1 with *error_r. */
int server_listen(struct server *srv, const char *spec, const struct conn_handler *h,
		  void *handler_ctx, bool implicit_tls, char **error_r);
/* The address listener number i (in server_listen order) is bound to,
 * "127.0.0.1:40123" or "unix:/path". */
const char *server_bound_addr(struct server *srv, unsigned i);
/* Run a job on the worker pool with no connection (admin, flushes). */
void server_run_job(struct server *srv, void (*job)(void *arg), void *arg);
/* Run until server_stop(); returns 0. */
int server_run(struct server *srv);
/* Async-signal-safe: stop accepting, let running commands finish, close
 * connections, make server_run return. The listening sockets stay open
 * (connects complete in the kernel, nothing is served) until server_free:
 * an obox backend must not look dead before it released its leases. */
void server_stop(struct server *srv);
/* Number of open connections (for metrics, tests). */
unsigned server_conn_count(struct server *srv);
void server_free(struct server *srv);

#endif
