/* Content-Transfer-Encoding and charset decoding. Lenient like mail
 * clients: base64 skips junk and tolerates missing padding, QP keeps
 * invalid escapes as they are. Charsets go through iconv to UTF-8; bytes
 * iconv can't convert become U+FFFD. Text of unknown or absent charset is
 * kept where it is valid UTF-8 and other bytes are read as ISO-8859-1
 * (byte by byte), so SEARCH always works on valid UTF-8. */
#include "mime/mime-private.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

void mime_base64_decode(const char *in, size_t len, struct buf *out)
{
	unsigned long acc = 0;
	unsigned n = 0;
	size_t i;

	buf_reserve(out, len / 4 * 3 + 3);
	for (i = 0; i <= len; i++) {
		int v = i < len ? b64_value((unsigned char)in[i]) : -1;

		if (v >= 0) {
			acc = (acc << 6) | (unsigned)v;
			if (++n == 4) {
				buf_append_c(out, (char)(acc >> 16));
				buf_append_c(out, (char)(acc >> 8));
				buf_append_c(out, (char)acc);
				acc = 0;
				n = 0;
			}
			continue;
		}
		if (i < len && in[i] != '=')
			continue; /* whitespace and junk */
		/* padding or the end: flush a partial quantum */
		if (n == 2) {
			buf_append_c(out, (char)(acc >> 4));
		} else if (n == 3) {
			buf_append_c(out, (char)(acc >> 10));
			buf_append_c(out, (char)(acc >> 2));
		}
		acc = 0;
		n = 0;
	}
}

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

void mime_qp_decode(const char *in, size_t len, bool header_q, struct buf *out)
{
	size_t i = 0, pending_ws = 0, ws_start = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)in[i];

		if (!header_q && (ch == ' ' || ch == '\t')) {
			/* trailing whitespace on a line is transport padding */
			if (pending_ws == 0)
				ws_start = i;
			pending_ws++;
			i++;
			continue;
		}
		if (ch == '\r' || ch == '\n') {
			pending_ws = 0;
			buf_append_c(out, (char)ch);
			i++;
			continue;
		}
		if (pending_ws > 0) {
			buf_append(out, in + ws_start, pending_ws);
			pending_ws = 0;
		}
		if (ch == '_' && header_q) {
			buf_append_c(out, ' ');
			i++;
		} else if (ch != '=') {
			buf_append_c(out, (char)ch);
			i++;
		} else if (i + 2 < len && hex_value((unsigned char)in[i + 1]) >= 0 &&
			   hex_value((unsigned char)in[i + 2]) >= 0) {
			buf_append_c(out, (char)(hex_value((unsigned char)in[i + 1]) * 16 +
						 hex_value((unsigned char)in[i + 2])));
			i += 3;
		} else {
			/* soft line break: "=" [WSP] [CR] LF */
			size_t j = i + 1;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < len && in[j] == '\r' && j + 1 < len && in[j + 1] == '\n') {
				i = j + 2;
			} else if (j < len && in[j] == '\n') {
				i = j + 1;
			} else if (j >= len) {
				i = j;
			} else {
				buf_append_c(out, '='); /* invalid escape kept */
				i++;
			}
		}
	}
	if (pending_ws > 0 && header_q)
		buf_append(out, in + ws_start, pending_ws);
}

/* Length of a valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t len)
{
	unsigned cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (len < n)
		return 0;
	cp = p[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void append_latin1(struct buf *out, const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] < 0x80) {
			buf_append_c(out, (char)p[i]);
		} else {
			buf_append_c(out, (char)(0xc0 | (p[i] >> 6)));
			buf_append_c(out, (char)(0x80 | (p[i] & 0x3f)));
		}
	}
}

void mime_utf8_sanitize(const char *in, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, n;

	/* Per sequence, so a header mixing UTF-8 and latin-1 (it happens)
	 * stays searchable in both parts. */
	while (i < len) {
		if ((n = utf8_seq_len(p + i, len - i)) > 0) {
			buf_append(out, in + i, n);
			i += n;
		} else {
			append_latin1(out, p + i, 1);
			i++;
		}
	}
}

static bool charset_is_utf8ish(const char *cs)
{
	return cs == NULL || *cs == '\0' || strcasecmp(cs, "us-ascii") == 0 ||
	       strcasecmp(cs, "ascii") == 0 || strcasecmp(cs, "utf-8") == 0 ||
	       strcasecmp(cs, "utf8") == 0 || strcasecmp(cs, "unknown-8bit") == 0 ||
	       strcasecmp(cs, "x-unknown") == 0;
}

/* Charset names come from mail: only plain names reach iconv_open (no
 * "//TRANSLIT"-style suffixes, no paths, bounded length). */
static bool charset_name_ok(const char *cs)
{
	size_t i;

	for (i = 0; cs[i] != '\0'; i++) {
		char ch = cs[i];
		if (i >= 40 || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				 (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
				 ch == ':' || ch == '+' || ch == '(' || ch == ')'))
			return false;
	}
	return i > 0;
}

bool mime_charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
	iconv_t cd;
	char *inp = (char *)in;
	size_t inleft = len;

	if (charset_is_utf8ish(charset)) {
		mime_utf8_sanitize(in, len, out);
		return true;
	}
	if (strcasecmp(charset, "iso-8859-1") == 0 || strcasecmp(charset, "latin1") == 0) {
		append_latin1(out, (const unsigned char *)in, len);
		return true;
	}
	cd = charset_name_ok(charset) ? iconv_open("UTF-8", charset) : (iconv_t)-1;
	if (cd == (iconv_t)-1) {
		mime_utf8_sanitize(in, len, out);
		return false;
	}
	while (inleft > 0) {
		char *outp;
		size_t outleft, room = inleft * 4 + 16, r;

		buf_reserve(out, room);
		outp = out->data + out->len;
		outleft = room;
		r = iconv(cd, &inp, &inleft, &outp, &outleft);
		out->len += room - outleft;
		out->data[out->len] = '\0';
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or a truncated sequence at the end */
		buf_append_str(out, "\xef\xbf\xbd");
		if (errno == EINVAL) {
			break;
		}
		inp++;
		inleft--;
	}
	/* flush a stateful encoding's shift state */
	{
		char tail[16], *outp = tail;
		size_t outleft = sizeof(tail);
		if (iconv(cd, NULL, NULL, &outp, &outleft) != (size_t)-1)
			buf_append(out, tail, sizeof(tail) - outleft);
	}
	iconv_close(cd);
	return true;
}

void mime_part_decode_body(const struct mime_message *msg, const struct mime_part *part,
			   struct buf *out)
{
	const char *body = msg->data + part->body_off;
	const char *enc = part->encoding;

	if (enc != NULL && strcasecmp(enc, "base64") == 0)
		mime_base64_decode(body, part->body_len, out);
	else if (enc != NULL && strcasecmp(enc, "quoted-printable") == 0)
		mime_qp_decode(body, part->body_len, false, out);
	else
		buf_append(out, body, part->body_len);
}

void mime_part_text_utf8(const struct mime_message *msg, const struct mime_part *part,
			 struct buf *out)
{
	struct buf raw = BUF_INIT;
	const char *cs = mime_param_find(part->params, part->n_params, "charset");

	mime_part_decode_body(msg, part, &raw);
	(void)mime_charset_to_utf8(cs, raw.len == 0 ? "" : raw.data, raw.len, out);
	buf_free(&raw);
}
