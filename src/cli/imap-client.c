/* The blocking IMAP client of `objmail import imap` (imap-client.h). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cli/imap-client.h"
#include "lib/om-error.h"

struct imapc {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char rbuf[65536];
	size_t rpos, rlen;
	unsigned tag;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *pct_decode(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len + 0 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			buf_append_c(&b, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			buf_append_c(&b, s[i]);
		}
	}
	char *r = om_strdup(buf_cstr(&b));
	buf_free(&b);
	return r;
}

int imapc_url_parse(const char *url, struct imapc_url *u, struct buf *err)
{
	memset(u, 0, sizeof(*u));
	const char *p;
	if (strncmp(url, "imaps://", 8) == 0) {
		u->tls = true;
		p = url + 8;
	} else if (strncmp(url, "imap://", 7) == 0) {
		p = url + 7;
	} else {
		buf_printf(err, "URL must start with imap:// or imaps://");
		return -OM_EINVAL;
	}
	const char *at = strrchr(p, '@');
	if (at == NULL) {
		buf_printf(err, "URL needs user:password@host");
		return -OM_EINVAL;
	}
	const char *colon = memchr(p, ':', (size_t)(at - p));
	if (colon == NULL) {
		buf_printf(err, "URL needs user:password@host");
		return -OM_EINVAL;
	}
	u->user = pct_decode(p, (size_t)(colon - p));
	u->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
	const char *h = at + 1;
	size_t hl = strcspn(h, "/");
	const char *pc = memchr(h, ':', hl);
	if (h[0] == '[') {
		const char *rb = memchr(h, ']', hl);
		if (rb == NULL) {
			buf_printf(err, "bad host in URL");
			return -OM_EINVAL;
		}
		u->host = strndup(h + 1, (size_t)(rb - h - 1));
		pc = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		u->host = strndup(h, pc != NULL ? (size_t)(pc - h) : hl);
	}
	if (pc != NULL)
		u->port = strndup(pc + 1, (size_t)(h + hl - pc - 1));
	else
		u->port = om_strdup(u->tls ? "993" : "143");
	if (u->user[0] == '\0' || u->host[0] == '\0') {
		buf_printf(err, "URL needs a user and a host");
		return -OM_EINVAL;
	}
	return 0;
}

void imapc_url_free(struct imapc_url *u)
{
	free(u->host);
	free(u->port);
	free(u->user);
	if (u->password != NULL)
		explicit_bzero(u->password, strlen(u->password));
	free(u->password);
	memset(u, 0, sizeof(*u));
}

static ssize_t c_read(struct imapc *c, char *p, size_t n)
{
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, p, (int)(n > 1 << 30 ? 1 << 30 : n));
		return r > 0 ? r : -1;
	}
	ssize_t r;
	do
		r = read(c->fd, p, n);
	while (r < 0 && errno == EINTR);
	return r > 0 ? r : -1;
}

static int c_write(struct imapc *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r;
		if (c->ssl != NULL) {
			int w = SSL_write(c->ssl, p, (int)n);
			r = w > 0 ? w : -1;
		} else {
			r = send(c->fd, p, n, MSG_NOSIGNAL);
			if (r < 0 && errno == EINTR)
				continue;
		}
		if (r <= 0)
			return -OM_EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int fill(struct imapc *c)
{
	if (c->rpos < c->rlen)
		return 0;
	ssize_t r = c_read(c, c->rbuf, sizeof(c->rbuf));
	if (r <= 0)
		return -OM_EIO;
	c->rpos = 0;
	c->rlen = (size_t)r;
	return 0;
}

/* One response: a line, and for every "{N}" at its end N bytes and the
 * rest of the line, until a line without a literal. */
static int read_resp(struct imapc *c, struct imapc_resp *r)
{
	buf_reset(&r->raw);
	size_t line_bytes = 0, lit_bytes = 0;
	for (;;) {
		/* a line */
		size_t start = r->raw.len;
		for (;;) {
			if (fill(c) < 0)
				return -OM_EIO;
			char *nl = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos);
			size_t n = nl != NULL ? (size_t)(nl - (c->rbuf + c->rpos)) + 1 : c->rlen - c->rpos;
			line_bytes += n;
			if (line_bytes > IMAPC_MAX_LINE)
				return -OM_ELIMIT;
			buf_append(&r->raw, c->rbuf + c->rpos, n);
			c->rpos += n;
			if (nl != NULL)
				break;
		}
		/* "{N}\r\n" at the end? */
		const char *s = r->raw.data + start, *e = r->raw.data + r->raw.len;
		if (e - s >= 2 && e[-1] == '\n')
			e--;
		if (e > s && e[-1] == '\r')
			e--;
		if (e > s && e[-1] == '}') {
			const char *ob = e - 1;
			while (ob > s && ob[-1] >= '0' && ob[-1] <= '9')
				ob--;
			if (ob > s && ob[-1] == '{' && ob < e - 1) {
				unsigned long long n = strtoull(ob, NULL, 10);
				lit_bytes += n;
				if (n > IMAPC_MAX_LITERAL || lit_bytes > IMAPC_MAX_LITERAL)
					return -OM_ELIMIT;
				size_t want = (size_t)n;
				while (want > 0) {
					if (fill(c) < 0)
						return -OM_EIO;
					size_t k = c->rlen - c->rpos < want ? c->rlen - c->rpos : want;
					buf_append(&r->raw, c->rbuf + c->rpos, k);
					c->rpos += k;
					want -= k;
				}
				continue;
			}
		}
		return 0;
	}
}

static bool is_ok(const char *text)
{
	return strncasecmp(text, "OK", 2) == 0 && (text[2] == ' ' || text[2] == '\r' ||
						   text[2] == '\n' || text[2] == '\0');
}

int imapc_cmd(struct imapc *c, const char *cmd,
	      int (*fn)(void *ctx, const struct imapc_resp *r), void *ctx, struct buf *err)
{
	char tag[16];
	snprintf(tag, sizeof(tag), "a%u", ++c->tag);
	struct buf line = BUF_INIT;
	buf_printf(&line, "%s %s\r\n", tag, cmd);
	int ret = c_write(c, line.data, line.len);
	buf_free(&line);
	if (ret < 0) {
		buf_printf(err, "sending to the IMAP server failed");
		return ret;
	}
	struct imapc_resp r = { .raw = BUF_INIT };
	size_t tl = strlen(tag);
	int cb = 0;
	for (;;) {
		ret = read_resp(c, &r);
		if (ret < 0) {
			buf_printf(err, ret == -OM_ELIMIT ? "IMAP response too big"
							  : "the IMAP server closed the connection");
			break;
		}
		const char *s = buf_cstr(&r.raw);
		if (strncmp(s, tag, tl) == 0 && s[tl] == ' ') {
			if (!is_ok(s + tl + 1)) {
				size_t n = strcspn(s + tl + 1, "\r\n");
				buf_printf(err, "%s: %.*s", cmd, (int)n, s + tl + 1);
				ret = -OM_EINVAL;
			}
			break;
		}
		if (s[0] == '*' && fn != NULL && cb == 0)
			cb = fn(ctx, &r);
	}
	buf_free(&r.raw);
	if (ret == 0 && cb < 0) {
		buf_printf(err, "%s: could not use the answer", cmd);
		ret = cb;
	}
	return ret;
}

void imapc_quote(struct buf *out, const char *s)
{
	buf_append_c(out, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_append_c(out, '\\');
		buf_append_c(out, *s);
	}
	buf_append_c(out, '"');
}

int imapc_connect(const struct imapc_url *u, struct imapc **c_r, struct buf *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(u->host, u->port, &hints, &res);
	if (gai != 0) {
		buf_printf(err, "%s:%s: %s", u->host, u->port, gai_strerror(gai));
		return -OM_ETEMP;
	}
	int fd = -1, e = 0;
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		buf_printf(err, "connecting to %s:%s: %s", u->host, u->port, strerror(e));
		return -OM_ETEMP;
	}
	struct timeval tv = { .tv_sec = IMAPC_TIMEOUT };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct imapc *c = om_calloc(1, sizeof(*c));
	c->fd = fd;
	if (u->tls) {
		c->ctx = SSL_CTX_new(TLS_client_method());
		/* Migration sources often have self-signed certificates; the
		 * channel is encrypted, the peer is not verified (doc/migration.md). */
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
		c->ssl = SSL_new(c->ctx);
		SSL_set_fd(c->ssl, fd);
		SSL_set_tlsext_host_name(c->ssl, u->host);
		if (SSL_connect(c->ssl) != 1) {
			unsigned long le = ERR_get_error();
			buf_printf(err, "TLS handshake with %s:%s failed: %s", u->host, u->port,
				   le != 0 ? ERR_reason_error_string(le) : "closed");
			imapc_close(c);
			return -OM_ETEMP;
		}
	}
	struct imapc_resp r = { .raw = BUF_INIT };
	int ret = read_resp(c, &r);
	if (ret < 0 || strncasecmp(buf_cstr(&r.raw), "* OK", 4) != 0) {
		buf_printf(err, "%s:%s: no IMAP greeting", u->host, u->port);
		buf_free(&r.raw);
		imapc_close(c);
		return -OM_ETEMP;
	}
	buf_free(&r.raw);
	struct buf cmd = BUF_INIT;
	buf_append_str(&cmd, "LOGIN ");
	imapc_quote(&cmd, u->user);
	buf_append_c(&cmd, ' ');
	imapc_quote(&cmd, u->password);
	struct buf e2 = BUF_INIT;
	ret = imapc_cmd(c, cmd.data, NULL, NULL, &e2);
	explicit_bzero(cmd.data, cmd.len);
	buf_free(&cmd);
	if (ret < 0) {
		/* e2 holds the password-bearing command: say it plainly */
		buf_printf(err, "login as %s at %s:%s failed", u->user, u->host, u->port);
		buf_free(&e2);
		imapc_close(c);
		return ret == -OM_EINVAL ? -OM_EAUTH : ret;
	}
	buf_free(&e2);
	*c_r = c;
	return 0;
}

void imapc_close(struct imapc *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* --- tokenizer --- */

void imapc_lex_init(struct imapc_lex *l, const struct imapc_resp *r)
{
	memset(l, 0, sizeof(*l));
	l->p = r->raw.data;
	l->end = r->raw.data + r->raw.len;
	l->tok = (struct buf)BUF_INIT;
}

void imapc_lex_free(struct imapc_lex *l)
{
	buf_free(&l->tok);
}

enum imapc_tok imapc_lex_next(struct imapc_lex *l)
{
	buf_reset(&l->tok);
	l->is_literal = false;
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\r' || *l->p == '\n'))
		l->p++;
	if (l->p >= l->end)
		return IMAPC_T_END;
	char ch = *l->p;
	if (ch == '(') {
		l->p++;
		return IMAPC_T_OPEN;
	}
	if (ch == ')') {
		l->p++;
		return IMAPC_T_CLOSE;
	}
	if (ch == '"') {
		l->p++;
		while (l->p < l->end && *l->p != '"') {
			if (*l->p == '\\' && l->p + 1 < l->end)
				l->p++;
			buf_append_c(&l->tok, *l->p++);
		}
		if (l->p >= l->end)
			return IMAPC_T_BAD;
		l->p++;
		buf_cstr(&l->tok);
		return IMAPC_T_STRING;
	}
	if (ch == '{' || (ch == '~' && l->p + 1 < l->end && l->p[1] == '{')) {
		const char *q = l->p + (ch == '~' ? 2 : 1);
		char *endp;
		unsigned long long n = strtoull(q, &endp, 10);
		if (endp >= l->end || *endp != '}')
			return IMAPC_T_BAD;
		q = endp + 1;
		if (q < l->end && *q == '\r')
			q++;
		if (q < l->end && *q == '\n')
			q++;
		if ((unsigned long long)(l->end - q) < n)
			return IMAPC_T_BAD;
		l->lit = q;
		l->lit_len = (size_t)n;
		l->is_literal = true;
		buf_append(&l->tok, q, (size_t)n);
		buf_cstr(&l->tok);
		l->p = q + n;
		return IMAPC_T_STRING;
	}
	/* atom, with a bracketed part as BODY[] has */
	int depth = 0;
	while (l->p < l->end) {
		char a = *l->p;
		if (a == '[')
			depth++;
		else if (a == ']')
			depth--;
		else if (depth <= 0 && (a == ' ' || a == '(' || a == ')' || a == '\r' || a == '\n'))
			break;
		buf_append_c(&l->tok, a);
		l->p++;
	}
	buf_cstr(&l->tok);
	if (strcasecmp(l->tok.data, "NIL") == 0)
		return IMAPC_T_NIL;
	return IMAPC_T_ATOM;
}

void imapc_lex_skip(struct imapc_lex *l, enum imapc_tok t)
{
	if (t != IMAPC_T_OPEN)
		return;
	int depth = 1;
	while (depth > 0) {
		enum imapc_tok k = imapc_lex_next(l);
		if (k == IMAPC_T_END || k == IMAPC_T_BAD)
			return;
		if (k == IMAPC_T_OPEN)
			depth++;
		else if (k == IMAPC_T_CLOSE)
			depth--;
	}
}
