/* LIBS: om_lib */
/* The IO core over real loopback sockets: a small line protocol exercising
 * jobs, posts, timers, timeouts, close during a job, STARTTLS, implicit TLS,
 * unix sockets and a graceful stop with connections open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"

/* Live libevent allocations (event_set_mem_functions, set first thing in
 * main): a server that is stopped and freed must give all of its back. */
static atomic_long ev_live;

static void *ev_malloc(size_t n)
{
	void *p = malloc(n);
	if (p != NULL)
		atomic_fetch_add(&ev_live, 1);
	return p;
}

static void *ev_realloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (p == NULL && q != NULL)
		atomic_fetch_add(&ev_live, 1);
	return q;
}

static void ev_free(void *p)
{
	if (p != NULL)
		atomic_fetch_sub(&ev_live, 1);
	free(p);
}

/* --- the server side: a line protocol --- */

struct sess {
	struct conn *c;
	atomic_bool job_active;
	char arg[64];
	unsigned sleep_ms;
	size_t seen_input;
};

static atomic_int opened_count, closed_count, close_during_job;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void *t_open(struct conn *c, void *ctx)
{
	struct sess *s = calloc(1, sizeof(*s));
	s->c = c;
	atomic_fetch_add(&opened_count, 1);
	conn_write_str(c, "hello\r\n");
	return s;
}

static void t_close(struct conn *c, void *session)
{
	struct sess *s = session;
	if (atomic_load(&s->job_active))
		atomic_fetch_add(&close_during_job, 1);
	atomic_fetch_add(&closed_count, 1);
	free(s);
}

static void t_timeout(struct conn *c, void *session)
{
	conn_write_str(c, "timeout\r\n");
	conn_close(c);
}

static void job_sleep(void *arg)
{
	struct sess *s = arg;
	sleep_ms(s->sleep_ms);
	conn_printf(s->c, "job %s\r\n", s->arg);
}

static void job_close(void *arg)
{
	struct sess *s = arg;
	conn_write_str(s->c, "closing\r\n");
	conn_close(s->c);
	sleep_ms(200); /* on_close must wait for us */
}

static void job_measure(void *arg)
{
	struct sess *s = arg;
	sleep_ms(s->sleep_ms);
	s->seen_input = evbuffer_get_length(conn_input(s->c));
}

static atomic_int big_chunks_written;

/* 16 MiB in 64 KiB pieces, never more than 256 KiB queued. */
static void job_big(void *arg)
{
	struct sess *s = arg;
	static char chunk[65536];
	memset(chunk, 'b', sizeof(chunk));
	chunk[sizeof(chunk) - 1] = '\n';
	for (int i = 0; i < 256; i++) {
		if (conn_wait_output(s->c, 256 * 1024) != 0)
			return;
		conn_write(s->c, chunk, sizeof(chunk));
		atomic_fetch_add(&big_chunks_written, 1);
	}
}

static void done_common(void *arg)
{
	struct sess *s = arg;
	atomic_store(&s->job_active, false);
	conn_printf(s->c, "done %s\r\n", s->arg);
}

static void done_measure(void *arg)
{
	struct sess *s = arg;
	atomic_store(&s->job_active, false);
	conn_printf(s->c, "buffered %zu\r\n", s->seen_input);
	struct evbuffer *in = conn_input(s->c);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void post_write(struct conn *c, void *arg)
{
	if (c != NULL)
		conn_write_str(c, (const char *)arg);
}

static void *post_thread(void *arg)
{
	struct conn *c = arg;
	conn_post(c, post_write, (void *)"posted\r\n");
	conn_unref(c);
	return NULL;
}

static void t_input(struct conn *c, void *session)
{
	struct sess *s = session;
	struct evbuffer *in = conn_input(c);
	size_t n;
	char *line;
	while (!conn_is_closing(c) && (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		unsigned ms = 0;
		char word[64] = "";
		if (strncmp(line, "echo ", 5) == 0) {
			conn_printf(c, "%s\r\n", line + 5);
		} else if (sscanf(line, "job %u %63s", &ms, word) == 2) {
			s->sleep_ms = ms;
			snprintf(s->arg, sizeof(s->arg), "%s", word);
			atomic_store(&s->job_active, true);
			conn_run(c, job_sleep, done_common, s);
			free(line);
			return; /* the rest waits for the job */
		} else if (strcmp(line, "closejob") == 0) {
			snprintf(s->arg, sizeof(s->arg), "x");
			atomic_store(&s->job_active, true);
			conn_run(c, job_close, done_common, s);
			free(line);
			return;
		} else if (sscanf(line, "measure %u", &ms) == 1) {
			s->sleep_ms = ms;
			atomic_store(&s->job_active, true);
			conn_run(c, job_measure, done_measure, s);
			free(line);
			return;
		} else if (strcmp(line, "big") == 0) {
			snprintf(s->arg, sizeof(s->arg), "big");
			atomic_store(&s->job_active, true);
			conn_run(c, job_big, done_common, s);
			free(line);
			return;
		} else if (strcmp(line, "post") == 0) {
			pthread_t t;
			conn_ref(c);
			pthread_create(&t, NULL, post_thread, c);
			pthread_detach(t);
		} else if (sscanf(line, "delay %u", &ms) == 1) {
			conn_post_delayed(c, ms, post_write, (void *)"delayed\r\n");
		} else if (sscanf(line, "timeout %u", &ms) == 1) {
			conn_set_timeout(c, ms);
			conn_write_str(c, "ok\r\n");
		} else if (strcmp(line, "starttls") == 0) {
			conn_write_str(c, "go\r\n");
			if (conn_starttls(c) != 0)
				conn_write_str(c, "notls\r\n");
			free(line);
			return; /* anything after it was discarded */
		} else if (strcmp(line, "tls?") == 0) {
			conn_printf(c, "%s %s\r\n", conn_is_tls(c) ? "tls" : "plain",
				    conn_is_local(c) ? conn_peer_ip(c) : "remote");
		} else if (strcmp(line, "quit") == 0) {
			conn_write_str(c, "bye\r\n");
			conn_close(c);
		} else {
			conn_write_str(c, "?\r\n");
		}
		free(line);
	}
}

static void t_shutdown(struct conn *c, void *session)
{
	conn_write_str(c, "shutdown\r\n");
}

static const struct conn_handler test_handler = {
	.name = "test",
	.on_open = t_open,
	.on_input = t_input,
	.on_timeout = t_timeout,
	.on_close = t_close,
	.on_shutdown = t_shutdown,
};

/* No goodbye line (like IMAP): at the stop a conn is finished at once,
 * while the deferred callbacks of its peer's hang-up are still queued. */
static const struct conn_handler quiet_handler = {
	.name = "quiet",
	.on_open = t_open,
	.on_input = t_input,
	.on_close = t_close,
};

/* --- fixture: one server with a plain, an implicit-TLS and a unix listener --- */

static struct om_config cfg;
static struct server *srv;
static pthread_t srv_thread;
static char tmpdir[64];
static char cert_path[128], key_path[128], sock_path[96];
static int plain_port, tls_port;

static void *run_thread(void *arg)
{
	server_run(srv);
	return NULL;
}

static int port_of(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	return colon ? atoi(colon + 1) : -1;
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/om-test-conn-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
	snprintf(sock_path, sizeof(sock_path), "%s/sock", tmpdir);
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout %s -out %s -days 2 -subj /CN=localhost >/dev/null 2>&1",
		 key_path, cert_path);
	if (system(cmd) != 0)
		return -1;

	memset(&cfg, 0, sizeof(cfg));
	cfg.io_threads = 2;
	cfg.worker_threads = 3;
	srv = server_new(&cfg);
	char *err = NULL;
	if (server_tls_init(srv, cert_path, key_path, &err) != 0) {
		fprintf(stderr, "tls: %s\n", err);
		return -1;
	}
	if (server_listen(srv, "127.0.0.1:0", &test_handler, NULL, false, &err) != 0 ||
	    server_listen(srv, "127.0.0.1:0", &test_handler, NULL, true, &err) != 0) {
		fprintf(stderr, "listen: %s\n", err);
		return -1;
	}
	char spec[160];
	snprintf(spec, sizeof(spec), "unix:%s", sock_path);
	if (server_listen(srv, spec, &test_handler, NULL, false, &err) != 0) {
		fprintf(stderr, "listen: %s\n", err);
		return -1;
	}
	plain_port = port_of(server_bound_addr(srv, 0));
	tls_port = port_of(server_bound_addr(srv, 1));
	if (strcmp(server_bound_addr(srv, 2), spec) != 0 || plain_port <= 0 || tls_port <= 0)
		return -1;
	pthread_create(&srv_thread, NULL, run_thread, NULL);
	return 0;
}

static int teardown(void **state)
{
	server_free(srv);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* --- client helpers (blocking sockets with a receive timeout) --- */

struct client {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char buf[8192];
	size_t len;
};

static void client_timeouts(int fd)
{
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void client_connect(struct client *cl, int port)
{
	memset(cl, 0, sizeof(*cl));
	cl->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(cl->fd >= 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(cl->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	client_timeouts(cl->fd);
}

static void client_connect_unix(struct client *cl)
{
	memset(cl, 0, sizeof(*cl));
	cl->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	assert_int_equal(connect(cl->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	client_timeouts(cl->fd);
}

static void client_tls(struct client *cl)
{
	cl->ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(cl->ctx);
	cl->ssl = SSL_new(cl->ctx);
	SSL_set_fd(cl->ssl, cl->fd);
	int r = SSL_connect(cl->ssl);
	if (r != 1)
		ERR_print_errors_fp(stderr);
	assert_int_equal(r, 1);
	assert_true(SSL_version(cl->ssl) >= TLS1_2_VERSION);
}

static void client_send(struct client *cl, const char *s)
{
	size_t len = strlen(s);
	if (cl->ssl != NULL) {
		assert_int_equal(SSL_write(cl->ssl, s, (int)len), (int)len);
	} else {
		assert_int_equal(send(cl->fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
	}
}

/* One line without CRLF into out; returns false on EOF/timeout. */
static bool client_line(struct client *cl, char *out, size_t outsz)
{
	for (;;) {
		char *nl = memchr(cl->buf, '\n', cl->len);
		if (nl != NULL) {
			size_t n = (size_t)(nl - cl->buf) + 1;
			size_t copy = n - 1;
			if (copy > 0 && cl->buf[copy - 1] == '\r')
				copy--;
			if (copy >= outsz)
				copy = outsz - 1;
			memcpy(out, cl->buf, copy);
			out[copy] = '\0';
			memmove(cl->buf, cl->buf + n, cl->len - n);
			cl->len -= n;
			return true;
		}
		if (cl->len == sizeof(cl->buf))
			return false;
		ssize_t r;
		if (cl->ssl != NULL)
			r = SSL_read(cl->ssl, cl->buf + cl->len, (int)(sizeof(cl->buf) - cl->len));
		else
			r = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, 0);
		if (r <= 0)
			return false;
		cl->len += (size_t)r;
	}
}

static void expect_line(struct client *cl, const char *want)
{
	char line[1024];
	assert_true(client_line(cl, line, sizeof(line)));
	assert_string_equal(line, want);
}

static void expect_eof(struct client *cl)
{
	char line[1024];
	assert_false(client_line(cl, line, sizeof(line)));
}

static void client_close(struct client *cl)
{
	if (cl->ssl != NULL)
		SSL_free(cl->ssl);
	if (cl->ctx != NULL)
		SSL_CTX_free(cl->ctx);
	close(cl->fd);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- tests --- */

static void test_echo_many(void **state)
{
	enum { N = 200 };
	static struct client cl[N];
	for (int i = 0; i < N; i++) {
		client_connect(&cl[i], plain_port);
		expect_line(&cl[i], "hello");
	}
	for (int i = 0; i < N; i++) {
		char msg[64];
		snprintf(msg, sizeof(msg), "echo n%d\r\n", i);
		client_send(&cl[i], msg);
	}
	for (int i = 0; i < N; i++) {
		char want[64];
		snprintf(want, sizeof(want), "n%d", i);
		expect_line(&cl[i], want);
		client_send(&cl[i], "quit\r\n");
		expect_line(&cl[i], "bye");
		expect_eof(&cl[i]);
		client_close(&cl[i]);
	}
}

static void test_pipelined_jobs_in_order(void **state)
{
	struct client cl;
	client_connect(&cl, plain_port);
	expect_line(&cl, "hello");
	client_send(&cl, "job 100 a\r\njob 0 b\r\necho c\r\njob 30 d\r\necho e\r\n");
	expect_line(&cl, "job a");
	expect_line(&cl, "done a");
	expect_line(&cl, "job b");
	expect_line(&cl, "done b");
	expect_line(&cl, "c");
	expect_line(&cl, "job d");
	expect_line(&cl, "done d");
	expect_line(&cl, "e");
	client_close(&cl);
}

static void test_post_and_delayed(void **state)
{
	struct client cl;
	client_connect(&cl, plain_port);
	expect_line(&cl, "hello");
	client_send(&cl, "post\r\n");
	expect_line(&cl, "posted");
	long long t0 = now_ms();
	client_send(&cl, "delay 300\r\necho now\r\n");
	expect_line(&cl, "now");
	expect_line(&cl, "delayed");
	assert_true(now_ms() - t0 >= 290);
	/* a pending timer on a conn that closes gets fn(NULL) and no crash */
	client_send(&cl, "delay 5000\r\nquit\r\n");
	expect_line(&cl, "bye");
	expect_eof(&cl);
	client_close(&cl);
}

static void wait_closed(int want)
{
	for (int i = 0; i < 500 && atomic_load(&closed_count) < want; i++)
		sleep_ms(10);
	assert_true(atomic_load(&closed_count) >= want);
}

static void test_close_during_job(void **state)
{
	int closed0 = atomic_load(&closed_count);
	struct client cl;
	client_connect(&cl, plain_port);
	expect_line(&cl, "hello");
	client_send(&cl, "closejob\r\necho never\r\n");
	expect_line(&cl, "closing");
	expect_line(&cl, "done x"); /* done runs before the close completes */
	expect_eof(&cl);
	client_close(&cl);
	wait_closed(closed0 + 1);
	assert_int_equal(atomic_load(&close_during_job), 0);

	/* The peer vanishes while a job runs: on_close still waits for it. */
	closed0 = atomic_load(&closed_count);
	client_connect(&cl, plain_port);
	expect_line(&cl, "hello");
	client_send(&cl, "job 200 gone\r\n");
	sleep_ms(50);
	struct linger lg = { 1, 0 }; /* RST */
	setsockopt(cl.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	client_close(&cl);
	wait_closed(closed0 + 1);
	assert_int_equal(atomic_load(&close_during_job), 0);
}

static void test_timeout(void **state)
{
	struct client cl;
	client_connect(&cl, plain_port);
	expect_line(&cl, "hello");
	long long t0 = now_ms();
	client_send(&cl, "timeout 1\r\n");
	expect_line(&cl, "ok");
	expect_line(&cl, "timeout");
	expect_eof(&cl);
	long long dt = now_ms() - t0;
	assert_true(dt >= 900 && dt < 4000);
	client_close(&cl);

	/* a job longer than the timeout doesn't count as idle time */
	client_connect(&cl, plain_port);
	expect_line(&cl, "hello");
	client_send(&cl, "timeout 1\r\njob 1500 long\r\n");
	expect_line(&cl, "ok");
	expect_line(&cl, "job long");
	expect_line(&cl, "done long");
	client_send(&cl, "echo alive\r\n");
	expect_line(&cl, "alive");
	client_close(&cl);
}

static void test_half_close(void **state)
{
	struct client cl;
	client_connect(&cl, plain_port);
	expect_line(&cl, "hello");
	client_send(&cl, "job 100 h\r\necho last\r\n");
	shutdown(cl.fd, SHUT_WR);
	expect_line(&cl, "job h");
	expect_line(&cl, "done h");
	expect_line(&cl, "last");
	expect_eof(&cl);
	client_close(&cl);
}

static void test_input_bounded_during_job(void **state)
{
	struct client cl;
	client_connect(&cl, plain_port);
	expect_line(&cl, "hello");
	client_send(&cl, "measure 400\r\n");
	/* 4 MiB while the job sleeps; the kernel buffers absorb some, the
	 * server must stop reading near its high-water mark. */
	static char junk[4 << 20];
	memset(junk, 'x', sizeof(junk));
	size_t off = 0;
	struct timeval tv = { 0, 600 * 1000 };
	setsockopt(cl.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	long long t0 = now_ms();
	while (off < sizeof(junk) && now_ms() - t0 < 600) {
		ssize_t w = send(cl.fd, junk + off, sizeof(junk) - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	char line[128];
	assert_true(client_line(&cl, line, sizeof(line)));
	unsigned long long buffered = 0;
	assert_int_equal(sscanf(line, "buffered %llu", &buffered), 1);
	assert_true(buffered <= 1024 * 1024 + 256 * 1024);
	client_close(&cl);
}

static void big_download(struct client *cl)
{
	atomic_store(&big_chunks_written, 0);
	client_send(cl, "big\r\n");
	sleep_ms(300);
	/* we read nothing yet: the job must be waiting, not buffering 16 MiB */
	assert_true(atomic_load(&big_chunks_written) < 64);
	const size_t want = 256 * 65536 + strlen("done big\r\n");
	size_t total = cl->len;
	char tail[16] = "";
	char buf[65536];
	while (total < want) {
		ssize_t r = cl->ssl != NULL ? SSL_read(cl->ssl, buf, sizeof(buf))
					    : recv(cl->fd, buf, sizeof(buf), 0);
		assert_true(r > 0);
		total += (size_t)r;
		if (r >= 10)
			memcpy(tail, buf + r - 10, 10);
	}
	cl->len = 0;
	assert_int_equal(total, want);
	assert_memory_equal(tail, "done big\r\n", 10);
	assert_int_equal(atomic_load(&big_chunks_written), 256);
}

static void test_output_backpressure(void **state)
{
	struct client cl;
	client_connect(&cl, plain_port);
	expect_line(&cl, "hello");
	big_download(&cl);
	client_send(&cl, "echo after\r\n");
	expect_line(&cl, "after");
	client_close(&cl);

	/* the same through TLS (the filter buffers below the top bufferevent) */
	client_connect(&cl, tls_port);
	client_tls(&cl);
	expect_line(&cl, "hello");
	big_download(&cl);
	client_close(&cl);
}

static void test_starttls(void **state)
{
	struct client cl;
	client_connect(&cl, plain_port);
	expect_line(&cl, "hello");
	client_send(&cl, "tls?\r\n");
	expect_line(&cl, "plain 127.0.0.1");
	/* the injected command after STARTTLS must not survive */
	client_send(&cl, "starttls\r\necho injected\r\n");
	expect_line(&cl, "go");
	assert_int_equal(cl.len, 0);
	client_tls(&cl);
	client_send(&cl, "tls?\r\necho secret\r\n");
	expect_line(&cl, "tls 127.0.0.1");
	expect_line(&cl, "secret");
	client_send(&cl, "job 20 t\r\nquit\r\n");
	expect_line(&cl, "job t");
	expect_line(&cl, "done t");
	expect_line(&cl, "bye");
	expect_eof(&cl);
	client_close(&cl);
}

static void test_implicit_tls_and_unix(void **state)
{
	struct client cl;
	client_connect(&cl, tls_port);
	client_tls(&cl);
	expect_line(&cl, "hello");
	client_send(&cl, "tls?\r\nstarttls\r\n");
	expect_line(&cl, "tls 127.0.0.1");
	expect_line(&cl, "go");
	expect_line(&cl, "notls");
	client_send(&cl, "quit\r\n");
	expect_line(&cl, "bye");
	client_close(&cl);

	client_connect_unix(&cl);
	expect_line(&cl, "hello");
	client_send(&cl, "tls?\r\n");
	expect_line(&cl, "plain unix");
	client_close(&cl);
}

static void test_stop_with_open_conns(void **state)
{
	enum { N = 20 };
	struct client cl[N];
	for (int i = 0; i < N; i++) {
		client_connect(&cl[i], plain_port);
		expect_line(&cl[i], "hello");
	}
	client_send(&cl[0], "job 300 last\r\n");
	sleep_ms(50);
	server_stop(srv);
	/* the running job finishes and its output is flushed before the close */
	expect_line(&cl[0], "job last");
	expect_line(&cl[0], "done last");
	for (int i = 0; i < N; i++) {
		expect_line(&cl[i], "shutdown");
		expect_eof(&cl[i]);
		client_close(&cl[i]);
	}
	pthread_join(srv_thread, NULL);
	assert_int_equal(server_conn_count(srv), 0);
	assert_int_equal(atomic_load(&opened_count), atomic_load(&closed_count));
	assert_int_equal(atomic_load(&close_during_job), 0);
	/* no longer accepting, but the socket stays until server_free (an obox
	 * backend must not look dead before it released its leases): a
	 * connect may complete in the kernel, nobody serves it */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)plain_port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	struct timeval tv = { 0, 200 * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char c;
	assert_true(recv(fd, &c, 1, 0) < 0);
	close(fd);
	/* after server_free: refused */
	server_free(srv);
	srv = NULL;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_not_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
}

static void test_listen_errors(void **state)
{
	struct om_config c2;
	memset(&c2, 0, sizeof(c2));
	struct server *s2 = server_new(&c2);
	char *err = NULL;
	assert_int_equal(server_listen(s2, "nonsense", &test_handler, NULL, false, &err), -1);
	assert_non_null(err);
	free(err);
	assert_int_equal(server_listen(s2, "127.0.0.1:99999", &test_handler, NULL, false, &err), -1);
	free(err);
	assert_int_equal(server_listen(s2, "127.0.0.1:0", &test_handler, NULL, true, &err), -1);
	free(err); /* implicit TLS without a certificate */
	assert_int_equal(server_listen(s2, "[::1]:0", &test_handler, NULL, false, &err) == 0 ||
			 err != NULL, 1);
	if (err == NULL)
		assert_true(strncmp(server_bound_addr(s2, 0), "[::1]:", 6) == 0);
	free(err);
	assert_int_equal(server_tls_init(s2, "/nonexistent", NULL, &err), -1);
	free(err);
	/* stop before run: run returns at once */
	server_stop(s2);
	assert_int_equal(server_run(s2), 0);
	server_free(s2);
}

static void test_ip_limit(void **state)
{
	struct om_config c2;
	memset(&c2, 0, sizeof(c2));
	c2.max_connections_per_ip = 3;
	struct server *s2 = server_new(&c2);
	char *err = NULL;
	assert_int_equal(server_listen(s2, "127.0.0.1:0", &test_handler, NULL, false, &err), 0);
	int port = port_of(server_bound_addr(s2, 0));
	struct server *saved = srv;
	srv = s2;
	pthread_t t;
	pthread_create(&t, NULL, run_thread, NULL);
	struct client cl[4];
	for (int i = 0; i < 3; i++) {
		client_connect(&cl[i], port);
		expect_line(&cl[i], "hello");
	}
	client_connect(&cl[3], port);
	expect_eof(&cl[3]); /* over the limit: closed at once */
	client_close(&cl[3]);
	client_send(&cl[0], "quit\r\n");
	expect_line(&cl[0], "bye");
	expect_eof(&cl[0]);
	client_close(&cl[0]);
	for (int i = 0; i < 100 && server_conn_count(s2) > 2; i++)
		sleep_ms(10);
	client_connect(&cl[0], port);
	expect_line(&cl[0], "hello");
	server_stop(s2);
	pthread_join(t, NULL);
	for (int i = 0; i < 3; i++)
		client_close(&cl[i]);
	server_free(s2);
	srv = saved;
}

/* SIGTERM right after many clients hung up: the closes are in flight
 * (deferred bufferevent callbacks holding references) when the loops stop.
 * Every bufferevent, evbuffer and lock must still be freed by server_free. */
static void test_stop_right_after_disconnects(void **state)
{
	enum { ROUNDS = 4 };
	/* 2N descriptors (both ends are ours): raise the soft limit if we may */
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 4096 && rl.rlim_max > rl.rlim_cur) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	int N = rl.rlim_cur >= 2200 ? 1000 : (int)(rl.rlim_cur - 200) / 2;
	struct client *cl = calloc((size_t)N, sizeof(*cl));
	assert_non_null(cl);
	for (int round = 0; round < ROUNDS; round++) {
		long before = atomic_load(&ev_live);
		struct om_config c2;
		memset(&c2, 0, sizeof(c2));
		c2.io_threads = 1;
		c2.worker_threads = 2;
		struct server *s2 = server_new(&c2);
		char *err = NULL;
		assert_int_equal(server_listen(s2, "127.0.0.1:0", &quiet_handler, NULL, false, &err),
				 0);
		int port = port_of(server_bound_addr(s2, 0));
		struct server *saved = srv;
		srv = s2;
		pthread_t t;
		pthread_create(&t, NULL, run_thread, NULL);
		for (int i = 0; i < N; i++) {
			client_connect(&cl[i], port);
			expect_line(&cl[i], "hello");
		}
		for (int i = 0; i < N; i++)
			client_close(&cl[i]);
		server_stop(s2);
		pthread_join(t, NULL);
		assert_int_equal(server_conn_count(s2), 0);
		server_free(s2);
		srv = saved;
		long leaked = atomic_load(&ev_live) - before;
		if (leaked != 0)
			fprintf(stderr, "round %d: %ld libevent allocation(s) not freed\n", round,
				leaked);
		assert_int_equal(leaked, 0);
	}
	free(cl);
}

int main(void)
{
	/* before anything allocates through libevent */
	event_set_mem_functions(ev_malloc, ev_realloc, ev_free);
	log_set_level(LOG_LEVEL_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_many),
		cmocka_unit_test(test_pipelined_jobs_in_order),
		cmocka_unit_test(test_post_and_delayed),
		cmocka_unit_test(test_close_during_job),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_input_bounded_during_job),
		cmocka_unit_test(test_output_backpressure),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_implicit_tls_and_unix),
		cmocka_unit_test(test_stop_with_open_conns), /* last: stops the server */
	};
	int r = cmocka_run_group_tests(tests, setup, teardown);
	const struct CMUnitTest solo[] = {
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_ip_limit),
		cmocka_unit_test(test_stop_right_after_disconnects),
	};
	return r + cmocka_run_group_tests(solo, NULL, NULL);
}
