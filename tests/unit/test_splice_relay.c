/* LIBS: om_director om_objstore om_auth om_lmtp om_lib */
/* The director's splice(2) relay (src/director/splice-relay.c) between two
 * loopback TCP connections: bytes arrive exactly, in both directions at
 * once and toward a slow reader; the end-of-stream rules (backend EOF
 * flushes then ends, client half-close is passed on, a client that goes
 * ends it at once); idle relays hold no pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "director/director.h"

/* one TCP connection on loopback: a = the "app" end, b = the relay's end */
static void tcp_pair(int *a_r, int *b_r)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(l >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	int a = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int b = accept(l, NULL, NULL);
	assert_true(b >= 0);
	close(l);
	fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK);
	fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK);
	*a_r = a;
	*b_r = b;
}

struct fx {
	struct event_base *base;
	int client, c_relay; /* client app end, relay's client socket */
	int backend, b_relay;
	struct splice_relay *r;
	int done_calls;
	bool client_gone;
};

static void on_done(void *arg, bool client_gone)
{
	struct fx *f = arg;
	f->done_calls++;
	f->client_gone = client_gone;
	splice_relay_free(f->r);
	f->r = NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->base = event_base_new();
	tcp_pair(&f->client, &f->c_relay);
	tcp_pair(&f->backend, &f->b_relay);
	f->r = splice_relay_new(f->base, f->c_relay, f->b_relay, on_done, f);
	assert_non_null(f->r);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	splice_relay_free(f->r);
	close(f->client);
	close(f->c_relay);
	if (f->backend >= 0)
		close(f->backend);
	close(f->b_relay);
	event_base_free(f->base);
	free(f);
	return 0;
}

static void spin(struct fx *f)
{
	event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static uint8_t pattern(size_t i, unsigned seed)
{
	return (uint8_t)((i * 2654435761u + seed) >> 7);
}

/* Moves `total` bytes from one app end to the other through the relay
 * (writing and reading as the sockets allow, the reader slower: at most
 * `read_chunk` per turn) and checks them. */
static void transfer(struct fx *f, int from, int to, size_t total, size_t read_chunk,
		     unsigned seed)
{
	size_t sent = 0, got = 0;
	uint8_t *buf = malloc(256 * 1024);
	time_t deadline = time(NULL) + 30;
	while (got < total) {
		assert_true(time(NULL) < deadline);
		if (sent < total) {
			size_t n = total - sent < 65536 ? total - sent : 65536;
			for (size_t i = 0; i < n; i++)
				buf[i] = pattern(sent + i, seed);
			ssize_t w = write(from, buf, n);
			if (w > 0)
				sent += (size_t)w;
			else
				assert_true(errno == EAGAIN);
		}
		spin(f);
		ssize_t r = read(to, buf, read_chunk);
		if (r > 0) {
			for (ssize_t i = 0; i < r; i++)
				assert_int_equal(buf[i], pattern(got + (size_t)i, seed));
			got += (size_t)r;
		} else {
			assert_true(r < 0 && errno == EAGAIN);
		}
	}
	free(buf);
}

static void test_both_ways_exact(void **state)
{
	struct fx *f = *state;
	/* a slow client: 4 KiB per turn, the relay must hold back */
	transfer(f, f->backend, f->client, 8u << 20, 4096, 1);
	transfer(f, f->client, f->backend, 3u << 20, 65536, 2);
	transfer(f, f->backend, f->client, 100, 65536, 3);
	int64_t relays = 0, pipes = 0;
	splice_relay_counts(&relays, &pipes);
	assert_int_equal(relays, 1);
	/* idle now: the pipes went back to the pool (at most 8 kept) */
	assert_true(pipes <= 8);
	assert_int_equal(f->done_calls, 0);
}

static size_t drain_all(struct fx *f, int fd, int *eof_r)
{
	uint8_t buf[65536];
	size_t total = 0;
	*eof_r = 0;
	for (int i = 0; i < 2000 && !*eof_r; i++) {
		spin(f);
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r > 0)
			total += (size_t)r;
		else if (r == 0)
			*eof_r = 1;
		else
			poll(NULL, 0, 1);
	}
	return total;
}

static void test_backend_eof_flushes_then_ends(void **state)
{
	struct fx *f = *state;
	/* the backend says its last words and closes before the client read
	 * anything */
	static const char bye[] = "* BYE Logging out\r\nL OK Logout completed.\r\n";
	assert_int_equal(write(f->backend, bye, sizeof(bye) - 1), (ssize_t)sizeof(bye) - 1);
	close(f->backend);
	f->backend = -1;
	char buf[128];
	size_t got = 0;
	for (int i = 0; i < 2000 && got < sizeof(bye) - 1; i++) {
		spin(f);
		ssize_t r = read(f->client, buf + got, sizeof(buf) - got);
		if (r > 0)
			got += (size_t)r;
		else
			poll(NULL, 0, 1);
	}
	assert_int_equal(got, sizeof(bye) - 1);
	assert_memory_equal(buf, bye, got);
	for (int i = 0; i < 1000 && f->done_calls == 0; i++) {
		spin(f);
		poll(NULL, 0, 1);
	}
	assert_int_equal(f->done_calls, 1);
	assert_false(f->client_gone);
}

static void test_client_half_close_passed_on(void **state)
{
	struct fx *f = *state;
	static const char cmd[] = "L LOGOUT\r\n";
	assert_int_equal(write(f->client, cmd, sizeof(cmd) - 1), (ssize_t)sizeof(cmd) - 1);
	shutdown(f->client, SHUT_WR);
	/* the backend gets the command, then EOF */
	int eof = 0;
	size_t got = drain_all(f, f->backend, &eof);
	assert_int_equal(got, sizeof(cmd) - 1);
	assert_true(eof);
	assert_int_equal(f->done_calls, 0); /* the backend still answers */
	static const char reply[] = "* BYE\r\nL OK\r\n";
	assert_int_equal(write(f->backend, reply, sizeof(reply) - 1), (ssize_t)sizeof(reply) - 1);
	close(f->backend);
	f->backend = -1;
	got = drain_all(f, f->client, &eof);
	assert_int_equal(got, sizeof(reply) - 1);
	for (int i = 0; i < 1000 && f->done_calls == 0; i++) {
		spin(f);
		poll(NULL, 0, 1);
	}
	assert_int_equal(f->done_calls, 1);
	assert_false(f->client_gone);
}

static void test_client_gone_mid_stream(void **state)
{
	struct fx *f = *state;
	/* the backend streams; the client reads a little and resets */
	uint8_t chunk[65536];
	memset(chunk, 'z', sizeof(chunk));
	for (int i = 0; i < 4; i++) {
		(void)!write(f->backend, chunk, sizeof(chunk));
		spin(f);
	}
	(void)!read(f->client, chunk, 1000);
	struct linger lg = { 1, 0 };
	setsockopt(f->client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(f->client);
	f->client = open("/dev/null", O_RDONLY); /* teardown closes something */
	for (int i = 0; i < 2000 && f->done_calls == 0; i++) {
		ssize_t w = write(f->backend, chunk, sizeof(chunk));
		(void)w;
		spin(f);
		poll(NULL, 0, 1);
	}
	assert_int_equal(f->done_calls, 1);
	assert_true(f->client_gone);
}

/* The backend resets while the client is still sending: the relay ends,
 * and the pipe that held undelivered bytes is not handed to the next
 * relay (which would then send them to its peer). */
static void test_backend_reset_leaves_no_dirty_pipe(void **state)
{
	struct fx *f = *state;
	uint8_t chunk[65536];
	memset(chunk, 'D', sizeof(chunk));
	struct linger lg = { 1, 0 };
	setsockopt(f->backend, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	/* fill the way toward the backend, then it resets */
	for (int i = 0; i < 64; i++) {
		(void)!write(f->client, chunk, sizeof(chunk));
		spin(f);
	}
	close(f->backend);
	f->backend = -1;
	for (int i = 0; i < 2000 && f->done_calls == 0; i++) {
		(void)!write(f->client, chunk, sizeof(chunk));
		spin(f);
		poll(NULL, 0, 1);
	}
	assert_int_equal(f->done_calls, 1);
	/* a new relay on the same thread (same pool): exact bytes only */
	struct fx g = { .base = f->base };
	tcp_pair(&g.client, &g.c_relay);
	tcp_pair(&g.backend, &g.b_relay);
	g.r = splice_relay_new(g.base, g.c_relay, g.b_relay, on_done, &g);
	assert_non_null(g.r);
	transfer(&g, g.client, g.backend, 2u << 20, 65536, 7);
	transfer(&g, g.backend, g.client, 2u << 20, 65536, 8);
	splice_relay_free(g.r);
	close(g.client);
	close(g.c_relay);
	close(g.backend);
	close(g.b_relay);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_both_ways_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_eof_flushes_then_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_half_close_passed_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_gone_mid_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_reset_leaves_no_dirty_pipe, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
