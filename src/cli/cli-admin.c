/* The client side of the admin socket (lib/admin-proto.h): connect to the
 * config's listen_admin, send one request, collect the data lines until
 * the final OK / ERR. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli-mail.h"
#include "cli/import.h"
#include "lib/admin-proto.h"
#include "lib/om-error.h"

/* A flush of every user may take a while; a hung daemon must not hang us
 * forever. Per read: a long import streams progress lines (at least one
 * per message copied, at most one a second), which keep it going. */
#define ADMIN_CLIENT_TIMEOUT 600

static int connect_unix(const char *path, struct buf *why)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(sun.sun_path)) {
		buf_printf(why, "unix socket path too long or empty");
		return -1;
	}
	memcpy(sun.sun_path, path, len + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		buf_printf(why, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int connect_inet(const char *spec, struct buf *why)
{
	char host[256];
	const char *port;
	size_t hlen;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (end == NULL || end[1] != ':') {
			buf_printf(why, "bad address");
			return -1;
		}
		hlen = (size_t)(end - spec - 1);
		port = end + 2;
		spec++;
	} else {
		const char *colon = strrchr(spec, ':');
		if (colon == NULL) {
			buf_printf(why, "bad address");
			return -1;
		}
		hlen = (size_t)(colon - spec);
		port = colon + 1;
	}
	if (hlen >= sizeof(host)) {
		buf_printf(why, "bad address");
		return -1;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	/* a wildcard listener is reached on loopback */
	if (hlen == 0 || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
	else if (strcmp(host, "::") == 0)
		memcpy(host, "::1", sizeof("::1"));

	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		buf_printf(why, "%s", gai_strerror(gai));
		return -1;
	}
	int fd = -1;
	int err = 0;
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		buf_printf(why, "%s", strerror(err));
	return fd;
}

static int admin_connect(struct cli_ctx *ctx, struct buf *why)
{
	const char *spec = ctx->cfg.listen_admin;
	if (spec == NULL || spec[0] == '\0') {
		buf_printf(why, "listen_admin is not set in %s", ctx->config_path);
		return -1;
	}
	int fd = strncmp(spec, "unix:", 5) == 0 ? connect_unix(spec + 5, why)
						 : connect_inet(spec, why);
	if (fd < 0)
		return -1;
	struct timeval tv = { .tv_sec = ADMIN_CLIENT_TIMEOUT };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static bool write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read the reply; 0 = OK, 1 = ERR (text in err), -1 = broken. With prog,
 * progress lines (admin_progress_parse) are drawn as they arrive (the
 * progress made at the first one) instead of collected. */
static int read_reply_progress(int fd, struct buf *data, struct buf *err,
			       struct cli_progress **prog)
{
	struct buf in = BUF_INIT;
	size_t scanned = 0;
	int ret = -1;
	for (;;) {
		char *nl = in.len > scanned ? memchr(in.data + scanned, '\n', in.len - scanned) : NULL;
		if (nl == NULL) {
			if (data->len + in.len - scanned > ADMIN_MAX_REPLY) {
				buf_printf(err, "reply too long");
				break;
			}
			if (scanned > 65536) {
				/* a long import streams progress for hours: keep in small */
				memmove(in.data, in.data + scanned, in.len - scanned);
				in.len -= scanned;
				scanned = 0;
			}
			char chunk[16384];
			ssize_t n = read(fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n == 0)
					buf_printf(err, "the daemon closed the connection");
				else if (errno == EAGAIN || errno == EWOULDBLOCK)
					buf_printf(err, "no answer from the daemon for %d seconds",
						   ADMIN_CLIENT_TIMEOUT);
				else
					buf_printf(err, "reading the reply: %s", strerror(errno));
				break;
			}
			buf_append(&in, chunk, (size_t)n);
			continue;
		}
		size_t line_len = (size_t)(nl - (in.data + scanned));
		const char *text;
		size_t text_len;
		enum admin_line_kind k = admin_reply_line(in.data + scanned, line_len, &text, &text_len);
		scanned += line_len + 1;
		unsigned long long done, total;
		const char *what;
		size_t what_len;
		if (k == ADMIN_LINE_DATA && prog != NULL &&
		    admin_progress_parse(text, text_len, &done, &total, &what, &what_len)) {
			if (*prog == NULL) {
				char w[64];
				snprintf(w, sizeof(w), "%.*s", (int)(what_len < 63 ? what_len : 63),
					 what);
				*prog = cli_progress_new(w, total);
			}
			cli_progress_set(*prog, done, total);
		} else if (k == ADMIN_LINE_DATA) {
			buf_append(data, text, text_len);
			buf_append_c(data, '\n');
		} else if (k == ADMIN_LINE_OK) {
			ret = 0;
			break;
		} else if (k == ADMIN_LINE_ERR) {
			buf_append(err, text, text_len);
			ret = 1;
			break;
		} else {
			buf_printf(err, "unexpected reply line");
			break;
		}
	}
	buf_free(&in);
	return ret;
}

static int read_reply(int fd, struct buf *data, struct buf *err)
{
	return read_reply_progress(fd, data, err, NULL);
}

static int admin_call(struct cli_ctx *ctx, const char *const *argv, size_t argc,
		      struct buf *data_r, struct cli_progress **prog)
{
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	struct buf req = BUF_INIT, why = BUF_INIT, err = BUF_INIT;
	if (admin_request_format(argv, argc, &req) < 0) {
		fprintf(stderr, "objmail: invalid argument (empty, or a control character)\n");
		buf_free(&req);
		return CLI_USAGE;
	}
	int fd = admin_connect(ctx, &why);
	if (fd < 0) {
		fprintf(stderr, "objmail: daemon not running? cannot connect to the admin socket "
				"%s: %s\n", ctx->cfg.listen_admin, buf_cstr(&why));
		buf_free(&req);
		buf_free(&why);
		return CLI_FAIL;
	}
	int ret = CLI_FAIL;
	if (!write_all(fd, req.data, req.len)) {
		fprintf(stderr, "objmail: sending to the admin socket: %s\n", strerror(errno));
	} else {
		int rr = read_reply_progress(fd, data_r, &err, prog);
		if (prog != NULL && *prog != NULL) {
			/* the last progress line before the result or the error */
			cli_progress_done(*prog);
			*prog = NULL;
		}
		if (rr == 0) {
			ret = CLI_OK;
		} else if (rr == 1) {
			/* "<code> <message>": show the message */
			const char *msg = strchr(buf_cstr(&err), ' ');
			fprintf(stderr, "objmail: %s\n", msg != NULL ? msg + 1 : buf_cstr(&err));
			ret = strncmp(buf_cstr(&err), "usage ", 6) == 0 ? CLI_USAGE : CLI_FAIL;
		} else {
			fprintf(stderr, "objmail: admin socket: %s\n", buf_cstr(&err));
		}
	}
	close(fd);
	buf_free(&req);
	buf_free(&why);
	buf_free(&err);
	return ret;
}

int cli_admin_call(struct cli_ctx *ctx, const char *const *argv, size_t argc, struct buf *data_r)
{
	return admin_call(ctx, argv, argc, data_r, NULL);
}

int cli_admin_call_progress(struct cli_ctx *ctx, const char *const *argv, size_t argc,
			    struct buf *data_r)
{
	struct cli_progress *prog = NULL;
	return admin_call(ctx, argv, argc, data_r, &prog);
}

bool cli_admin_reachable(struct cli_ctx *ctx)
{
	if (cli_load_config(ctx) != CLI_OK)
		return false;
	struct buf why = BUF_INIT;
	int fd = admin_connect(ctx, &why);
	buf_free(&why);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int cli_admin_print(struct cli_ctx *ctx, const char *const *argv, size_t argc)
{
	struct buf data = BUF_INIT;
	int r = cli_admin_call(ctx, argv, argc, &data);
	if (r == CLI_OK && !cli_write_stdout(&data)) {
		fprintf(stderr, "objmail: writing to stdout failed\n");
		r = CLI_FAIL;
	}
	buf_free(&data);
	return r;
}

/* Upload `blob` as hex "mail-data" requests on one connection, then send
 * the request argv there (the daemon's `mail ... save` takes the upload). */
#define ADMIN_UPLOAD_CHUNK 2000

int cli_admin_call_upload(struct cli_ctx *ctx, const char *blob, size_t len,
			  const char *const *argv, size_t argc, struct buf *data_r)
{
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	struct buf why = BUF_INIT, req = BUF_INIT, err = BUF_INIT, junk = BUF_INIT;
	int fd = admin_connect(ctx, &why);
	if (fd < 0) {
		fprintf(stderr, "objmail: daemon not running? cannot connect to the admin socket "
				"%s: %s\n", ctx->cfg.listen_admin, buf_cstr(&why));
		buf_free(&why);
		return CLI_FAIL;
	}
	static const char hex[] = "0123456789abcdef";
	int ret = CLI_OK;
	for (size_t off = 0; off < len && ret == CLI_OK; off += ADMIN_UPLOAD_CHUNK) {
		size_t n = len - off < ADMIN_UPLOAD_CHUNK ? len - off : ADMIN_UPLOAD_CHUNK;
		buf_reset(&req);
		buf_append_str(&req, "mail-data\t");
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)blob[off + i];
			buf_append_c(&req, hex[c >> 4]);
			buf_append_c(&req, hex[c & 15]);
		}
		buf_append_c(&req, '\n');
		if (!write_all(fd, req.data, req.len)) {
			fprintf(stderr, "objmail: sending to the admin socket: %s\n", strerror(errno));
			ret = CLI_FAIL;
		} else if (read_reply(fd, &junk, &err) != 0) {
			fprintf(stderr, "objmail: admin socket: upload refused: %s\n", buf_cstr(&err));
			ret = CLI_FAIL;
		}
	}
	if (ret == CLI_OK) {
		buf_reset(&req);
		if (admin_request_format(argv, argc, &req) < 0) {
			fprintf(stderr, "objmail: invalid argument (empty, or a control character)\n");
			ret = CLI_USAGE;
		} else if (!write_all(fd, req.data, req.len)) {
			fprintf(stderr, "objmail: sending to the admin socket: %s\n", strerror(errno));
			ret = CLI_FAIL;
		} else {
			int rr = read_reply(fd, data_r, &err);
			if (rr != 0) {
				const char *msg = strchr(buf_cstr(&err), ' ');
				fprintf(stderr, "objmail: %s\n",
					rr == 1 && msg != NULL ? msg + 1 : buf_cstr(&err));
				ret = CLI_FAIL;
			}
		}
	}
	close(fd);
	buf_free(&why);
	buf_free(&req);
	buf_free(&err);
	buf_free(&junk);
	return ret;
}
