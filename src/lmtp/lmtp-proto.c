/* The LMTP protocol state machine (see lmtp.h): commands, DATA with
 * dot-unstuffing, BDAT chunks, and the per-recipient replies. No storage
 * and no passdb here; blocking steps are returned to the driver. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "lmtp/lmtp.h"

/* DATA: a line longer than this is taken in pieces (it can't be the "."). */
#define LMTP_DATA_PIECE 8192

static void transaction_reset(struct lmtp_session *s)
{
	free(s->sender);
	s->sender = NULL;
	s->size_param = 0;
	for (size_t i = 0; i < s->n_rcpts; i++) {
		free(s->rcpts[i].addr);
		free(s->rcpts[i].user);
		if (s->rcpts[i].priv != NULL && s->priv_free != NULL)
			s->priv_free(s->rcpts[i].priv);
	}
	s->n_rcpts = 0;
	if (s->alloc_rcpts > 16) {
		/* an idle session shouldn't keep a big recipient array */
		free(s->rcpts);
		s->rcpts = NULL;
		s->alloc_rcpts = 0;
	}
	s->bdat_used = false;
	s->bdat_last = false;
	s->too_big = false;
	s->chunk_left = 0;
	s->mode = LMTP_MODE_CMD;
	/* Keep no big body around between transactions. */
	buf_free(&s->body);
}

void lmtp_session_init(struct lmtp_session *s)
{
	s->lhlo = NULL;
	s->sender = NULL;
	s->rcpts = NULL;
	s->n_rcpts = s->alloc_rcpts = 0;
	memset(&s->pending, 0, sizeof(s->pending));
	s->lookup_pending = false;
	s->mode = LMTP_MODE_CMD;
	s->errors = 0;
	s->transactions = 0;
	s->skip_to_eol = false;
	buf_init(&s->body);
	transaction_reset(s);
}

void lmtp_session_free(struct lmtp_session *s)
{
	transaction_reset(s);
	free(s->rcpts);
	s->rcpts = NULL;
	free(s->lhlo);
	s->lhlo = NULL;
	free(s->pending.addr);
	free(s->pending.user);
	if (s->pending.priv != NULL && s->priv_free != NULL)
		s->priv_free(s->pending.priv);
	memset(&s->pending, 0, sizeof(s->pending));
}

void lmtp_reply(struct lmtp_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_append(&b, "\r\n", 2);
	s->write(s->write_ctx, b.data, b.len);
	buf_free(&b);
}

void lmtp_greeting(struct lmtp_session *s)
{
	lmtp_reply(s, "220 %s objmail LMTP ready", s->hostname);
}

const char *lmtp_body(const struct lmtp_session *s, size_t *len_r)
{
	if (s->body.len < LMTP_HEADROOM) {
		*len_r = 0;
		return "";
	}
	*len_r = s->body.len - LMTP_HEADROOM;
	return s->body.data + LMTP_HEADROOM;
}

char *lmtp_strip_detail(const char *addr, const char *delim)
{
	const char *at = strrchr(addr, '@');
	size_t local_len = at != NULL ? (size_t)(at - addr) : strlen(addr);
	if (delim == NULL || delim[0] == '\0')
		return om_strdup(addr);
	size_t cut = strcspn(addr, delim);
	if (cut >= local_len || cut == 0)
		return om_strdup(addr); /* no detail, or nothing would be left */
	struct buf b = BUF_INIT;
	buf_append(&b, addr, cut);
	if (at != NULL)
		buf_append_str(&b, at);
	return buf_steal(&b);
}

/* --- small parsing helpers --- */

static bool protocol_error(struct lmtp_session *s)
{
	s->errors++;
	if (s->errors > LMTP_MAX_ERRORS) {
		lmtp_reply(s, "421 4.7.0 %s Too many errors, closing connection", s->hostname);
		return true;
	}
	return false;
}

static bool addr_chars_ok(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

/* Parse "<path>" at *pp (after "FROM:" / "TO:"); *pp moves past it.
 * A source route "@a,@b:" is dropped. Returns a malloc'd address or NULL. */
static char *parse_path(const char **pp)
{
	const char *p = *pp;
	while (*p == ' ')
		p++;
	if (*p != '<')
		return NULL;
	p++;
	const char *start = p;
	bool quoted = false;
	for (; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '>' && !quoted)
			break;
	}
	if (*p != '>')
		return NULL;
	size_t len = (size_t)(p - start);
	if (len > 0 && start[0] == '@') {
		const char *colon = memchr(start, ':', len);
		if (colon == NULL)
			return NULL;
		len -= (size_t)(colon + 1 - start);
		start = colon + 1;
	}
	if (len > LMTP_MAX_ADDR || !addr_chars_ok(start, len))
		return NULL;
	*pp = p + 1;
	return om_strndup(start, len);
}

static bool word_ieq(const char *p, size_t len, const char *word)
{
	return strlen(word) == len && om_mem_ieq(p, len, word);
}

/* --- commands --- */

static void cmd_lhlo(struct lmtp_session *s, const char *args)
{
	while (*args == ' ')
		args++;
	if (*args == '\0' || strlen(args) > 255 || !addr_chars_ok(args, strlen(args))) {
		lmtp_reply(s, "501 5.5.4 Syntax: LHLO hostname");
		return;
	}
	const char *end = strchr(args, ' ');
	free(s->lhlo);
	s->lhlo = end != NULL ? om_strndup(args, (size_t)(end - args)) : om_strdup(args);
	transaction_reset(s);
	lmtp_reply(s, "250-%s", s->hostname);
	lmtp_reply(s, "250-PIPELINING");
	lmtp_reply(s, "250-ENHANCEDSTATUSCODES");
	lmtp_reply(s, "250-8BITMIME");
	lmtp_reply(s, "250-CHUNKING");
	lmtp_reply(s, "250 SIZE %llu", (unsigned long long)s->max_size);
}

/* Returns false when the error budget is spent (close). */
static bool cmd_mail(struct lmtp_session *s, const char *args)
{
	if (s->lhlo == NULL) {
		lmtp_reply(s, "503 5.5.1 Send LHLO first");
		return !protocol_error(s);
	}
	if (s->sender != NULL) {
		lmtp_reply(s, "503 5.5.1 Nested MAIL command");
		return !protocol_error(s);
	}
	if (strncasecmp(args, " FROM:", 6) != 0) {
		lmtp_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return !protocol_error(s);
	}
	const char *p = args + 6;
	char *path = parse_path(&p);
	if (path == NULL) {
		lmtp_reply(s, "501 5.1.7 Bad sender address syntax");
		return !protocol_error(s);
	}
	uint64_t size = 0;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		const char *end = strchr(p, ' ');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq != NULL ? (size_t)(eq - p) : len;
		const char *val = eq != NULL ? eq + 1 : "";
		size_t vlen = eq != NULL ? len - klen - 1 : 0;
		unsigned long long n;
		if (word_ieq(p, klen, "SIZE") && om_parse_u64(val, vlen, &n)) {
			size = n;
		} else if (word_ieq(p, klen, "BODY") &&
			   (word_ieq(val, vlen, "7BIT") || word_ieq(val, vlen, "8BITMIME"))) {
			/* both stored as they come */
		} else {
			lmtp_reply(s, "555 5.5.4 Unsupported parameter %.*s", (int)(klen < 64 ? klen : 64), p);
			free(path);
			return !protocol_error(s);
		}
		p += len;
	}
	if (s->max_size > 0 && size > s->max_size) {
		lmtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		free(path);
		return true;
	}
	s->sender = path;
	s->size_param = size;
	s->transactions++;
	lmtp_reply(s, "250 2.1.0 OK");
	return true;
}

/* Returns LMTP_LOOKUP when a recipient waits for the driver. */
static enum lmtp_action cmd_rcpt(struct lmtp_session *s, const char *args)
{
	if (s->sender == NULL) {
		lmtp_reply(s, "503 5.5.1 Send MAIL first");
		return protocol_error(s) ? LMTP_CLOSE : LMTP_MORE;
	}
	if (strncasecmp(args, " TO:", 4) != 0) {
		lmtp_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return protocol_error(s) ? LMTP_CLOSE : LMTP_MORE;
	}
	const char *p = args + 4;
	char *addr = parse_path(&p);
	if (addr == NULL || addr[0] == '\0') {
		free(addr);
		lmtp_reply(s, "501 5.1.3 Bad recipient address syntax");
		return protocol_error(s) ? LMTP_CLOSE : LMTP_MORE;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0') {
		/* no DSN here, so no RCPT parameters */
		lmtp_reply(s, "555 5.5.4 Unsupported parameter");
		free(addr);
		return protocol_error(s) ? LMTP_CLOSE : LMTP_MORE;
	}
	if (s->n_rcpts >= LMTP_MAX_RCPTS) {
		lmtp_reply(s, "452 4.5.3 Too many recipients");
		free(addr);
		return LMTP_MORE;
	}
	s->pending.addr = addr;
	s->pending.user = lmtp_strip_detail(addr, s->delimiter);
	s->pending.result = 0;
	s->pending.priv = NULL;
	s->lookup_pending = true;
	return LMTP_LOOKUP;
}

void lmtp_rcpt_result(struct lmtp_session *s, int result, void *priv)
{
	om_assert(s->lookup_pending);
	s->lookup_pending = false;
	struct lmtp_rcpt r = s->pending;
	memset(&s->pending, 0, sizeof(s->pending));
	if (result == 0) {
		if (s->n_rcpts == s->alloc_rcpts) {
			s->alloc_rcpts = s->alloc_rcpts ? s->alloc_rcpts * 2 : 4;
			s->rcpts = om_reallocarray(s->rcpts, s->alloc_rcpts, sizeof(*s->rcpts));
		}
		r.priv = priv;
		s->rcpts[s->n_rcpts++] = r;
		lmtp_reply(s, "250 2.1.5 OK");
		return;
	}
	if (priv != NULL && s->priv_free != NULL)
		s->priv_free(priv);
	if (result == -OM_ENOTFOUND)
		lmtp_reply(s, "550 5.1.1 <%s> User doesn't exist", r.addr);
	else if (result == -OM_EQUOTA)
		lmtp_reply(s, "552 5.2.2 <%s> Mailbox is full", r.addr);
	else if (result == -OM_EINVAL)
		lmtp_reply(s, "550 5.1.3 <%s> Invalid recipient address", r.addr);
	else
		lmtp_reply(s, "451 4.3.0 <%s> Temporary internal failure", r.addr);
	free(r.addr);
	free(r.user);
}

static void body_start(struct lmtp_session *s)
{
	buf_reset(&s->body);
	buf_reserve(&s->body, LMTP_HEADROOM + 4096);
	memset(s->body.data, 0, LMTP_HEADROOM);
	s->body.len = LMTP_HEADROOM;
	s->body.data[s->body.len] = '\0';
	s->too_big = false;
}

static void body_append(struct lmtp_session *s, const void *data, size_t len)
{
	if (s->too_big)
		return;
	size_t have = s->body.len - LMTP_HEADROOM;
	if (s->max_size > 0 && (len > s->max_size || have > s->max_size - len)) {
		s->too_big = true;
		buf_free(&s->body); /* keep reading, stop storing */
		return;
	}
	buf_append(&s->body, data, len);
}

/* End of DATA or BDAT LAST. */
static enum lmtp_action body_end(struct lmtp_session *s)
{
	s->mode = LMTP_MODE_CMD;
	if (s->too_big) {
		for (size_t i = 0; i < s->n_rcpts; i++)
			lmtp_reply(s, "552 5.3.4 <%s> Message too big", s->rcpts[i].addr);
		transaction_reset(s);
		return LMTP_MORE;
	}
	return LMTP_DELIVER;
}

void lmtp_deliver_result(struct lmtp_session *s, const char *id)
{
	for (size_t i = 0; i < s->n_rcpts; i++) {
		const char *a = s->rcpts[i].addr;
		switch (-s->rcpts[i].result) {
		case OM_OK:
			lmtp_reply(s, "250 2.0.0 <%s> %s Saved", a, id);
			break;
		case OM_EQUOTA:
			lmtp_reply(s, "552 5.2.2 <%s> Mailbox is full", a);
			break;
		case OM_ELIMIT:
			lmtp_reply(s, "552 5.3.4 <%s> Message too big", a);
			break;
		default:
			lmtp_reply(s, "451 4.3.0 <%s> Temporary internal failure", a);
			break;
		}
	}
	transaction_reset(s);
}

static bool cmd_data(struct lmtp_session *s)
{
	if (s->sender == NULL) {
		lmtp_reply(s, "503 5.5.1 Send MAIL first");
		return !protocol_error(s);
	}
	if (s->n_rcpts == 0) {
		lmtp_reply(s, "503 5.5.1 No valid recipients");
		return !protocol_error(s);
	}
	if (s->bdat_used) {
		lmtp_reply(s, "503 5.5.1 DATA not allowed after BDAT");
		return !protocol_error(s);
	}
	body_start(s);
	s->mode = LMTP_MODE_DATA;
	s->at_line_start = true;
	lmtp_reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
	return true;
}

static enum lmtp_action cmd_bdat(struct lmtp_session *s, const char *args)
{
	while (*args == ' ')
		args++;
	const char *sp = strchr(args, ' ');
	size_t nlen = sp != NULL ? (size_t)(sp - args) : strlen(args);
	unsigned long long n;
	bool last = false;
	if (sp != NULL) {
		const char *rest = sp;
		while (*rest == ' ')
			rest++;
		if (!om_str_ieq(rest, "LAST"))
			nlen = 0; /* junk after the size */
		last = true;
	}
	if (nlen == 0 || !om_parse_u64(args, nlen, &n)) {
		/* we can't know how many bytes follow: they will read as commands */
		lmtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		return protocol_error(s) ? LMTP_CLOSE : LMTP_MORE;
	}
	const char *why = NULL;
	if (s->sender == NULL)
		why = "503 5.5.1 Send MAIL first";
	else if (s->n_rcpts == 0)
		why = "503 5.5.1 No valid recipients";
	if (why != NULL) {
		lmtp_reply(s, "%s", why);
		s->mode = LMTP_MODE_SKIP; /* the chunk still comes */
		s->chunk_left = n;
		return protocol_error(s) ? LMTP_CLOSE : LMTP_MORE;
	}
	if (!s->bdat_used) {
		body_start(s);
		s->bdat_used = true;
	}
	if (s->max_size > 0 && n > s->max_size)
		body_append(s, NULL, n); /* only marks too_big */
	s->mode = LMTP_MODE_BDAT;
	s->chunk_left = n;
	s->bdat_last = last;
	return LMTP_MORE;
}

static enum lmtp_action handle_line(struct lmtp_session *s, char *line)
{
	char *sp = strchr(line, ' ');
	size_t vlen = sp != NULL ? (size_t)(sp - line) : strlen(line);
	const char *args = sp != NULL ? sp : "";

	if (word_ieq(line, vlen, "LHLO")) {
		cmd_lhlo(s, args);
	} else if (word_ieq(line, vlen, "MAIL")) {
		if (!cmd_mail(s, args))
			return LMTP_CLOSE;
	} else if (word_ieq(line, vlen, "RCPT")) {
		return cmd_rcpt(s, args);
	} else if (word_ieq(line, vlen, "DATA")) {
		if (!cmd_data(s))
			return LMTP_CLOSE;
	} else if (word_ieq(line, vlen, "BDAT")) {
		return cmd_bdat(s, args);
	} else if (word_ieq(line, vlen, "RSET")) {
		transaction_reset(s);
		lmtp_reply(s, "250 2.0.0 OK");
	} else if (word_ieq(line, vlen, "NOOP")) {
		lmtp_reply(s, "250 2.0.0 OK");
	} else if (word_ieq(line, vlen, "QUIT")) {
		lmtp_reply(s, "221 2.0.0 %s Bye", s->hostname);
		return LMTP_CLOSE;
	} else if (word_ieq(line, vlen, "VRFY")) {
		lmtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
	} else if (word_ieq(line, vlen, "HELO") || word_ieq(line, vlen, "EHLO")) {
		lmtp_reply(s, "500 5.5.1 This is LMTP: use LHLO");
		if (protocol_error(s))
			return LMTP_CLOSE;
	} else {
		lmtp_reply(s, "500 5.5.1 Unknown command");
		if (protocol_error(s))
			return LMTP_CLOSE;
	}
	return LMTP_MORE;
}

/* --- input --- */

/* DATA: consume lines up to the lone ".". */
static enum lmtp_action process_data(struct lmtp_session *s, struct evbuffer *in)
{
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			return LMTP_MORE;
		size_t eol_len = 0;
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (eol.pos < 0) {
			if (avail < LMTP_DATA_PIECE)
				return LMTP_MORE;
			/* A long line: take a piece (it can't be the end marker). */
			size_t take = avail;
			unsigned char *p = evbuffer_pullup(in, (ssize_t)take);
			size_t skip = (s->at_line_start && p[0] == '.') ? 1 : 0;
			/* leave a trailing CR: it may pair with the LF that comes next */
			if (p[take - 1] == '\r')
				take--;
			body_append(s, p + skip, take - skip);
			evbuffer_drain(in, take);
			s->at_line_start = false;
			continue;
		}
		size_t len = (size_t)eol.pos;
		unsigned char *p = evbuffer_pullup(in, (ssize_t)(len + eol_len));
		if (s->at_line_start && len == 1 && p[0] == '.') {
			evbuffer_drain(in, len + eol_len);
			return body_end(s);
		}
		size_t skip = (s->at_line_start && len > 0 && p[0] == '.') ? 1 : 0;
		body_append(s, p + skip, len - skip);
		body_append(s, "\r\n", 2);
		evbuffer_drain(in, len + eol_len);
		s->at_line_start = true;
	}
}

/* BDAT / SKIP: consume chunk_left bytes as they are. */
static enum lmtp_action process_chunk(struct lmtp_session *s, struct evbuffer *in)
{
	while (s->chunk_left > 0) {
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			return LMTP_MORE;
		size_t take = avail < s->chunk_left ? avail : (size_t)s->chunk_left;
		if (s->mode == LMTP_MODE_BDAT && !s->too_big) {
			size_t have = s->body.len;
			buf_reserve(&s->body, take);
			int got = evbuffer_remove(in, s->body.data + have, take);
			om_assert(got == (int)take);
			s->body.len = have + take;
			s->body.data[s->body.len] = '\0';
			if (s->max_size > 0 && s->body.len - LMTP_HEADROOM > s->max_size)
				body_append(s, NULL, s->max_size + 1); /* marks too_big */
		} else {
			evbuffer_drain(in, take);
		}
		s->chunk_left -= take;
	}
	if (s->mode == LMTP_MODE_SKIP) {
		s->mode = LMTP_MODE_CMD;
		return LMTP_MORE;
	}
	if (s->bdat_last)
		return body_end(s);
	s->mode = LMTP_MODE_CMD;
	if (s->too_big)
		lmtp_reply(s, "552 5.3.4 Message too big");
	else
		lmtp_reply(s, "250 2.0.0 %zu octets received", s->body.len - LMTP_HEADROOM);
	return LMTP_MORE;
}

enum lmtp_action lmtp_process(struct lmtp_session *s, struct evbuffer *in)
{
	if (s->lookup_pending)
		return LMTP_MORE;
	for (;;) {
		enum lmtp_action a;
		switch (s->mode) {
		case LMTP_MODE_DATA:
			a = process_data(s, in);
			if (a != LMTP_MORE || s->mode == LMTP_MODE_DATA)
				return a;
			continue;
		case LMTP_MODE_BDAT:
		case LMTP_MODE_SKIP:
			a = process_chunk(s, in);
			if (a != LMTP_MORE || s->mode != LMTP_MODE_CMD)
				return a;
			continue;
		case LMTP_MODE_CMD:
			break;
		}

		size_t eol_len = 0;
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		size_t avail = evbuffer_get_length(in);
		if (eol.pos < 0) {
			if (avail < LMTP_MAX_LINE)
				return LMTP_MORE;
			/* Too long: throw it away up to its end. */
			evbuffer_drain(in, avail);
			if (s->skip_to_eol)
				return LMTP_MORE; /* still the same line */
			s->skip_to_eol = true;
			lmtp_reply(s, "500 5.5.2 Line too long");
			return protocol_error(s) ? LMTP_CLOSE : LMTP_MORE;
		}
		size_t len = (size_t)eol.pos;
		if (s->skip_to_eol) {
			s->skip_to_eol = false;
			evbuffer_drain(in, len + eol_len);
			continue;
		}
		if (len + eol_len > LMTP_MAX_LINE) {
			evbuffer_drain(in, len + eol_len);
			lmtp_reply(s, "500 5.5.2 Line too long");
			if (protocol_error(s))
				return LMTP_CLOSE;
			continue;
		}
		char *line = om_malloc(len + 1);
		evbuffer_remove(in, line, len);
		line[len] = '\0';
		evbuffer_drain(in, eol_len);
		if (memchr(line, '\0', len) != NULL) {
			lmtp_reply(s, "500 5.5.2 NUL in command");
			free(line);
			if (protocol_error(s))
				return LMTP_CLOSE;
			continue;
		}
		a = handle_line(s, line);
		free(line);
		if (a != LMTP_MORE)
			return a;
	}
}
