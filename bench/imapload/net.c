/* Blocking TCP connection with a buffered reader that understands IMAP
 * literals well enough to skip them. */
#include "imapload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINE (16u << 20)

int net_connect(struct conn *c, const char *host, int port)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	/* a real client sends whole commands; don't let Nagle time us */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->cap = 65536;
	c->buf = malloc(c->cap);
	c->line_cap = 4096;
	c->line = malloc(c->line_cap);
	if (c->buf == NULL || c->line == NULL)
		abort();
	return 0;
}

void net_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	free(c->line);
	c->buf = c->line = NULL;
}

int net_write(struct conn *c, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int net_printf(struct conn *c, const char *fmt, ...)
{
	char tmp[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	return net_write(c, tmp, (size_t)n);
}

static int fill(struct conn *c)
{
	if (c->start > 0 && c->start == c->end)
		c->start = c->end = 0;
	if (c->end == c->cap) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->end, c->cap - c->end, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->end += (size_t)n;
		return 0;
	}
}

static void line_append(struct conn *c, const char *p, size_t n)
{
	if (c->line_len + n + 1 > c->line_cap) {
		while (c->line_len + n + 1 > c->line_cap)
			c->line_cap *= 2;
		c->line = realloc(c->line, c->line_cap);
		if (c->line == NULL)
			abort();
	}
	memcpy(c->line + c->line_len, p, n);
	c->line_len += n;
	c->line[c->line_len] = '\0';
}

/* Appends one raw line (without CRLF) to c->line. */
static int read_line_append(struct conn *c)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (nl != NULL) {
			size_t n = (size_t)(nl - (c->buf + c->start));
			size_t keep = n > 0 && c->buf[c->start + n - 1] == '\r' ? n - 1 : n;
			line_append(c, c->buf + c->start, keep);
			c->start += n + 1;
			return 0;
		}
		/* no newline in the buffer: keep what we have and read more */
		line_append(c, c->buf + c->start, c->end - c->start);
		c->start = c->end;
		if (c->line_len > MAX_LINE || fill(c) < 0)
			return -1;
		/* a CR split from its LF would stay in the line: drop it later */
		if (c->line_len > 0 && c->line[c->line_len - 1] == '\r' &&
		    c->start < c->end && c->buf[c->start] == '\n') {
			c->line[--c->line_len] = '\0';
			c->start++;
			return 0;
		}
	}
}

int net_read_line(struct conn *c)
{
	c->line_len = 0;
	c->line[0] = '\0';
	c->literal_bytes = 0;
	c->n_literals = 0;
	return read_line_append(c);
}

/* "{123}" or "{123+}" at the end of the line: its size, else -1. */
static long literal_size(const char *line, size_t len)
{
	if (len < 3 || line[len - 1] != '}')
		return -1;
	size_t i = len - 1;
	if (i > 0 && line[i - 1] == '+')
		i--;
	size_t end = i;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == end || i == 0 || line[i - 1] != '{')
		return -1;
	return strtol(line + i, NULL, 10);
}

int net_read_response(struct conn *c)
{
	if (net_read_line(c) < 0)
		return -1;
	for (;;) {
		long n = literal_size(c->line, c->line_len);
		if (n < 0)
			return 0;
		c->n_literals++;
		c->literal_bytes += (uint64_t)n;
		size_t left = (size_t)n;
		while (left > 0) {
			if (c->start == c->end && fill(c) < 0)
				return -1;
			size_t take = c->end - c->start;
			if (take > left)
				take = left;
			c->start += take;
			left -= take;
		}
		if (read_line_append(c) < 0)
			return -1;
	}
}

void imap_track_untagged(struct conn *c)
{
	const char *l = c->line;
	if (l[0] != '*' || l[1] != ' ' || l[2] < '0' || l[2] > '9')
		return;
	char *end;
	long n = strtol(l + 2, &end, 10);
	c->last_number = n;
	if (strncmp(end, " EXISTS", 7) == 0)
		c->exists = n;
	else if (strncmp(end, " EXPUNGE", 8) == 0 && c->exists > 0)
		c->exists--;
}

int imap_wait_tagged(struct conn *c)
{
	char tag[16];
	int tl = snprintf(tag, sizeof(tag), "a%u ", c->tag);
	uint64_t lit = 0;
	int nlit = 0;
	for (;;) {
		if (net_read_response(c) < 0)
			return -1;
		lit += c->literal_bytes;
		nlit += c->n_literals;
		if (strncmp(c->line, tag, (size_t)tl) == 0) {
			c->literal_bytes = lit;
			c->n_literals = nlit;
			return strncmp(c->line + tl, "OK", 2) == 0 ? 0 : 1;
		}
		imap_track_untagged(c);
	}
}

int imap_cmd(struct conn *c, const char *fmt, ...)
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof(tmp), "a%u ", ++c->tag);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(tmp + n, sizeof(tmp) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + m) >= sizeof(tmp) - 2)
		return -1;
	memcpy(tmp + n + m, "\r\n", 2);
	if (net_write(c, tmp, (size_t)(n + m + 2)) < 0)
		return -1;
	return imap_wait_tagged(c);
}
