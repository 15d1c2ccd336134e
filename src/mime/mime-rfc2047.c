/* RFC 2047 encoded-words in header values -> UTF-8. Words separated only
 * by whitespace are joined (the whitespace between them goes), charset
 * names may carry an RFC 2231 "*language" suffix, and the decoded bytes of
 * adjacent words with the same charset are converted together so a
 * multi-byte character split across two words survives. Text outside
 * encoded-words is taken as UTF-8 when valid, otherwise latin-1. */
#include "mime/mime-private.h"

#include <string.h>
#include <strings.h>

#define CHARSET_MAX 64

struct eword {
	size_t len;              /* bytes of "=?...?=" */
	char charset[CHARSET_MAX];
	char enc;                /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
};

/* Is there an encoded-word at p? */
static bool parse_eword(const char *p, size_t len, struct eword *w)
{
	const char *cs, *q, *end = p + len, *star;
	size_t cs_len;

	if (len < 8 || p[0] != '=' || p[1] != '?')
		return false;
	cs = p + 2;
	q = memchr(cs, '?', (size_t)(end - cs));
	if (q == NULL || q == cs || q + 3 > end)
		return false;
	cs_len = (size_t)(q - cs);
	star = memchr(cs, '*', cs_len);
	if (star != NULL)
		cs_len = (size_t)(star - cs);
	if (cs_len == 0 || cs_len >= CHARSET_MAX)
		return false;
	if ((q[1] != 'B' && q[1] != 'b' && q[1] != 'Q' && q[1] != 'q') || q[2] != '?')
		return false;
	w->enc = (char)(q[1] == 'b' || q[1] == 'B' ? 'B' : 'Q');
	w->text = q + 3;
	q = w->text;
	while (q + 1 < end && !(q[0] == '?' && q[1] == '=')) {
		if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
			return false; /* encoded-words contain no whitespace */
		q++;
	}
	if (q + 1 >= end)
		return false;
	w->text_len = (size_t)(q - w->text);
	memcpy(w->charset, cs, cs_len);
	w->charset[cs_len] = '\0';
	w->len = (size_t)(q + 2 - p);
	return true;
}

static void flush_pending(struct buf *pending, const char *charset, struct buf *out)
{
	if (pending->len > 0)
		(void)mime_charset_to_utf8(charset, pending->data, pending->len, out);
	buf_reset(pending);
}

void mime_decode_header_utf8(const char *raw, size_t len, struct buf *out)
{
	struct buf plain = BUF_INIT, pending = BUF_INIT;
	char pending_cs[CHARSET_MAX] = "";
	size_t i = 0;

	while (i < len) {
		struct eword w;

		if (raw[i] == '=' && parse_eword(raw + i, len - i, &w)) {
			/* whitespace between two encoded-words is dropped */
			bool only_ws = true;
			size_t k;

			for (k = 0; k < plain.len && only_ws; k++)
				only_ws = plain.data[k] == ' ' || plain.data[k] == '\t';
			if (!(only_ws && pending.len > 0)) {
				flush_pending(&pending, pending_cs, out);
				mime_utf8_sanitize(buf_cstr(&plain), plain.len, out);
			}
			buf_reset(&plain);
			if (strcasecmp(pending_cs, w.charset) != 0)
				flush_pending(&pending, pending_cs, out);
			memcpy(pending_cs, w.charset, sizeof(pending_cs));
			if (w.enc == 'B')
				mime_base64_decode(w.text, w.text_len, &pending);
			else
				mime_qp_decode(w.text, w.text_len, true, &pending);
			i += w.len;
			continue;
		}
		if (raw[i] != '\r' && raw[i] != '\n')
			buf_append_c(&plain, raw[i] == '\0' ? ' ' : raw[i]);
		i++;
	}
	flush_pending(&pending, pending_cs, out);
	mime_utf8_sanitize(buf_cstr(&plain), plain.len, out);
	buf_free(&plain);
	buf_free(&pending);
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

void mime_param_value_utf8(const struct mime_param *param, struct buf *out)
{
	size_t name_len = strlen(param->name);
	const char *v = param->value, *q1, *q2;
	struct buf raw = BUF_INIT;
	char charset[CHARSET_MAX];

	if (name_len == 0 || param->name[name_len - 1] != '*' ||
	    (q1 = strchr(v, '\'')) == NULL || (q2 = strchr(q1 + 1, '\'')) == NULL ||
	    (size_t)(q1 - v) >= sizeof(charset)) {
		mime_decode_header_utf8(v, strlen(v), out);
		return;
	}
	memcpy(charset, v, (size_t)(q1 - v));
	charset[q1 - v] = '\0';
	for (v = q2 + 1; *v != '\0'; v++) {
		if (*v == '%' && hex_digit(v[1]) >= 0 && hex_digit(v[2]) >= 0) {
			buf_append_c(&raw, (char)(hex_digit(v[1]) * 16 + hex_digit(v[2])));
			v += 2;
		} else {
			buf_append_c(&raw, *v);
		}
	}
	(void)mime_charset_to_utf8(charset[0] == '\0' ? NULL : charset, buf_cstr(&raw), raw.len, out);
	buf_free(&raw);
}
