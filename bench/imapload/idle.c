/* Idle sessions: opens --conns IMAP connections, logs each in, and holds
 * them all until stdin closes. Non-blocking, --parallel logins in flight,
 * source addresses 127.0.0.2.. so one source port range is never the limit.
 * Prints "READY <ok> <failed>" once every session is logged in (or failed). */
#include "imapload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum st { S_NEW, S_CONNECTING, S_GREETING, S_LOGIN, S_DONE, S_FAILED };

struct ic {
	int fd;
	enum st st;
	char buf[512];
	size_t len;
};

static int start_connect(const struct opts *o, struct ic *c, int i)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };
	inet_pton(AF_INET, o->host, &dst.sin_addr);
	src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % o->src_addrs));
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->st = S_CONNECTING;
	c->len = 0;
	return 0;
}

/* Feeds received bytes; returns 1 when a full line ending in CRLF is in buf. */
static int read_some(struct ic *c)
{
	for (;;) {
		if (c->len >= sizeof(c->buf) - 1)
			c->len = 0; /* only the start of the last line matters: keep the tail */
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
	}
}

/* The last complete line in buf, or NULL. */
static const char *last_line(struct ic *c)
{
	if (c->len < 2 || c->buf[c->len - 1] != '\n')
		return NULL;
	size_t i = c->len - 1;
	while (i > 0 && c->buf[i - 1] != '\n')
		i--;
	return c->buf + i;
}

int mode_idle(const struct opts *o)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if ((rlim_t)o->conns + 16 > rl.rlim_cur) {
		fprintf(stderr, "imapload: %d sessions need more than the %llu fds allowed\n",
			o->conns, (unsigned long long)rl.rlim_cur);
		return 2;
	}
	int n = o->conns;
	struct ic *cs = calloc((size_t)n, sizeof(*cs));
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	int *idx = calloc((size_t)n, sizeof(*idx));
	if (cs == NULL || pf == NULL || idx == NULL)
		abort();
	int next = 0, inflight = 0, ok = 0, failed = 0;
	double t0 = now_s();
	while (ok + failed < n) {
		while (next < n && inflight < o->parallel) {
			if (start_connect(o, &cs[next], next) == 0) {
				inflight++;
			} else {
				cs[next].st = S_FAILED;
				cs[next].fd = -1;
				failed++;
			}
			next++;
		}
		int np = 0;
		for (int i = 0; i < next; i++) {
			if (cs[i].st == S_DONE || cs[i].st == S_FAILED)
				continue;
			pf[np].fd = cs[i].fd;
			pf[np].events = cs[i].st == S_CONNECTING ? POLLOUT : POLLIN;
			pf[np].revents = 0;
			idx[np++] = i;
		}
		if (np == 0)
			continue;
		if (poll(pf, (nfds_t)np, 30000) <= 0) {
			fprintf(stderr, "imapload: idle: no progress for 30 s\n");
			break;
		}
		for (int k = 0; k < np; k++) {
			if (pf[k].revents == 0)
				continue;
			struct ic *c = &cs[idx[k]];
			int bad = 0;
			if (c->st == S_CONNECTING) {
				int err = 0;
				socklen_t el = sizeof(err);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err != 0)
					bad = 1;
				else
					c->st = S_GREETING;
			} else if (read_some(c) < 0) {
				bad = 1;
			} else {
				const char *l = last_line(c);
				if (l != NULL && c->st == S_GREETING) {
					char user[64], cmd[200];
					user_name(o, idx[k] % o->users, user, sizeof(user));
					int m = snprintf(cmd, sizeof(cmd), "L LOGIN %s %s\r\n", user, o->pass);
					c->len = 0;
					if (strncmp(l, "* OK", 4) != 0 ||
					    send(c->fd, cmd, (size_t)m, MSG_NOSIGNAL) != m)
						bad = 1;
					else
						c->st = S_LOGIN;
				} else if (l != NULL && c->st == S_LOGIN && strncmp(l, "L ", 2) == 0) {
					if (strncmp(l, "L OK", 4) == 0) {
						c->st = S_DONE;
						ok++;
						inflight--;
					} else {
						bad = 1;
					}
				}
			}
			if (bad) {
				close(c->fd);
				c->fd = -1;
				c->st = S_FAILED;
				failed++;
				inflight--;
			}
		}
	}
	double el = now_s() - t0;
	/* sessions still connecting or logging in when progress stopped count as failed */
	printf("READY %d %d %.3f\n", ok, n - ok, el);
	fflush(stdout);
	/* hold the sessions until bench/run has measured the server */
	char tmp[64];
	while (read(0, tmp, sizeof(tmp)) > 0)
		;
	for (int i = 0; i < n; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
	free(cs);
	free(pf);
	free(idx);
	return 0;
}
