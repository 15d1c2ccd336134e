/* RFC 822/5322 lexical tokens (atoms, quoted strings, comments, phrases,
 * domains) and MIME tokens, with the same leniency Dovecot's parser has:
 * comments are skipped anywhere whitespace may be, obsolete LWSP around
 * dots is accepted, 8-bit bytes count as atom text. */
#include "mime/mime-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/* bit 1: atext; bit 2: alnum or 8-bit; bit 4: atext that is a MIME tspecial */
static const unsigned char atext_chars[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 4, /* 32-47 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 4, 0, 4, /* 48-63 */
	0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 1, 1,
	1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 0,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

bool rfc822_is_atext(unsigned char ch)
{
	return atext_chars[ch] != 0;
}

static bool is_mime_token_char(unsigned char ch)
{
	return (atext_chars[ch] & 3) != 0 || ch == '.';
}

void rfc822_init(struct rfc822_ctx *c, const char *data, size_t len, struct buf *last_comment)
{
	c->data = (const unsigned char *)data;
	c->end = c->data + len;
	c->last_comment = last_comment;
	c->nul_replacement = false;
}

static int skip_comment(struct rfc822_ctx *c)
{
	const unsigned char *start;
	unsigned level = 1;
	size_t len;

	if (c->last_comment != NULL)
		buf_reset(c->last_comment);
	start = ++c->data;
	for (; c->data < c->end; c->data++) {
		switch (*c->data) {
		case '\0':
			if (c->last_comment != NULL && c->nul_replacement) {
				buf_append(c->last_comment, start, (size_t)(c->data - start));
				buf_append_str(c->last_comment, UTF8_REPLACEMENT);
				start = c->data + 1;
			}
			break;
		case '(':
			level++;
			break;
		case ')':
			if (--level == 0) {
				if (c->last_comment != NULL)
					buf_append(c->last_comment, start, (size_t)(c->data - start));
				c->data++;
				return c->data < c->end ? 1 : 0;
			}
			break;
		case '\n':
			/* a fold: the line break goes, even if the comment
			 * never ends (what was seen so far is kept) */
			if (c->last_comment == NULL)
				break;
			len = (size_t)(c->data - start);
			if (len > 0 && start[len - 1] == '\r')
				len--;
			buf_append(c->last_comment, start, len);
			start = c->data + 1;
			break;
		case '\\':
			c->data++;
			if (c->data >= c->end)
				return -1;
			if (*c->data == '\r' || *c->data == '\n' || *c->data == '\0') {
				c->data--; /* not an escape */
				break;
			}
			if (c->last_comment != NULL)
				buf_append(c->last_comment, start, (size_t)(c->data - start - 1));
			start = c->data;
			break;
		default:
			break;
		}
	}
	return -1; /* unterminated comment */
}

int rfc822_skip_lwsp(struct rfc822_ctx *c)
{
	while (c->data < c->end) {
		unsigned char ch = *c->data;
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			c->data++;
			continue;
		}
		if (ch != '(')
			break;
		if (skip_comment(c) < 0)
			return -1;
	}
	return c->data < c->end ? 1 : 0;
}

int rfc822_parse_atom(struct rfc822_ctx *c, struct buf *out)
{
	const unsigned char *start;

	if (c->data >= c->end || !rfc822_is_atext(*c->data))
		return -1;
	for (start = c->data++; c->data < c->end; c->data++) {
		if (rfc822_is_atext(*c->data))
			continue;
		buf_append(out, start, (size_t)(c->data - start));
		return rfc822_skip_lwsp(c);
	}
	buf_append(out, start, (size_t)(c->data - start));
	return 0;
}

int rfc822_parse_dot_atom(struct rfc822_ctx *c, struct buf *out)
{
	const unsigned char *start;
	int ret;

	/* RFC 822 allowed LWSP around the dots; an empty atom (".." or a
	 * trailing dot) is an error, as in Dovecot 2.3 */
	if (c->data >= c->end || !rfc822_is_atext(*c->data))
		return -1;
	for (start = c->data++; c->data < c->end;) {
		if (rfc822_is_atext(*c->data)) {
			c->data++;
			continue;
		}
		if (start == c->data)
			return -1;
		buf_append(out, start, (size_t)(c->data - start));
		if ((ret = rfc822_skip_lwsp(c)) <= 0)
			return ret;
		if (*c->data != '.')
			return 1;
		c->data++;
		buf_append_c(out, '.');
		if (rfc822_skip_lwsp(c) <= 0)
			return -1;
		start = c->data;
	}
	if (start == c->data)
		return -1;
	buf_append(out, start, (size_t)(c->data - start));
	return 0;
}

int rfc822_parse_mime_token(struct rfc822_ctx *c, struct buf *out)
{
	const unsigned char *start;

	for (start = c->data; c->data < c->end; c->data++) {
		if (is_mime_token_char(*c->data))
			continue;
		buf_append(out, start, (size_t)(c->data - start));
		return rfc822_skip_lwsp(c);
	}
	buf_append(out, start, (size_t)(c->data - start));
	return 0;
}

int rfc822_parse_quoted_string(struct rfc822_ctx *c, struct buf *out)
{
	const unsigned char *start;
	size_t len;

	c->data++; /* the opening quote */
	for (start = c->data; c->data < c->end; c->data++) {
		switch (*c->data) {
		case '\0':
			if (c->nul_replacement) {
				buf_append(out, start, (size_t)(c->data - start));
				buf_append_str(out, UTF8_REPLACEMENT);
				start = c->data + 1;
			}
			break;
		case '"':
			buf_append(out, start, (size_t)(c->data - start));
			c->data++;
			return rfc822_skip_lwsp(c);
		case '\n':
			/* folding inside the quotes: the line break goes */
			len = (size_t)(c->data - start);
			if (len > 0 && start[len - 1] == '\r')
				len--;
			buf_append(out, start, len);
			start = c->data + 1;
			break;
		case '\\':
			c->data++;
			if (c->data >= c->end)
				return -1;
			if (*c->data == '\r' || *c->data == '\n' || *c->data == '\0') {
				c->data--; /* not an escape */
				break;
			}
			buf_append(out, start, (size_t)(c->data - start - 1));
			start = c->data;
			break;
		default:
			break;
		}
	}
	return -1; /* missing closing quote */
}

static int parse_atom_or_dot(struct rfc822_ctx *c, struct buf *out)
{
	const unsigned char *start;

	for (start = c->data; c->data < c->end; c->data++) {
		if (rfc822_is_atext(*c->data) || *c->data == '.')
			continue;
		buf_append(out, start, (size_t)(c->data - start));
		return rfc822_skip_lwsp(c);
	}
	buf_append(out, start, (size_t)(c->data - start));
	return 0;
}

int rfc822_parse_phrase(struct rfc822_ctx *c, struct buf *out)
{
	int ret;

	if (c->data >= c->end)
		return 0;
	if (*c->data == '.')
		return -1;
	for (;;) {
		if (*c->data == '"')
			ret = rfc822_parse_quoted_string(c, out);
		else
			ret = parse_atom_or_dot(c, out);
		if (ret <= 0)
			return ret;
		if (!rfc822_is_atext(*c->data) && *c->data != '"' && *c->data != '.')
			break;
		buf_append_c(out, ' ');
	}
	return rfc822_skip_lwsp(c);
}

static int parse_domain_literal(struct rfc822_ctx *c, struct buf *out)
{
	const unsigned char *start;
	size_t len;

	for (start = c->data++; c->data < c->end; c->data++) {
		switch (*c->data) {
		case '\0':
			if (c->nul_replacement) {
				buf_append(out, start, (size_t)(c->data - start));
				buf_append_str(out, UTF8_REPLACEMENT);
				start = c->data + 1;
			}
			break;
		case '[':
			return -1;
		case ']':
			buf_append(out, start, (size_t)(c->data - start + 1));
			c->data++;
			return rfc822_skip_lwsp(c);
		case '\n':
			len = (size_t)(c->data - start);
			if (len > 0 && start[len - 1] == '\r')
				len--;
			buf_append(out, start, len);
			start = c->data + 1;
			break;
		case '\\':
			c->data++;
			if (c->data >= c->end)
				return -1;
			if (*c->data == '\r' || *c->data == '\n' || *c->data == '\0') {
				buf_append(out, start, (size_t)(c->data - start));
				start = c->data;
				c->data--;
			}
			break;
		default:
			break;
		}
	}
	return -1; /* missing ']' */
}

int rfc822_parse_domain(struct rfc822_ctx *c, struct buf *out)
{
	c->data++; /* '@' */
	if (rfc822_skip_lwsp(c) <= 0)
		return -1;
	if (*c->data == '[')
		return parse_domain_literal(c, out);
	return rfc822_parse_dot_atom(c, out);
}

int rfc822_parse_content_type(struct rfc822_ctx *c, struct buf *out)
{
	size_t start_len = out->len, sub_len;
	int ret;

	/* On garbage Dovecot 2.3.19 keeps no type at all ("" ""), except
	 * for a lone type token at the very end ("text" ""). */
	if (rfc822_skip_lwsp(c) <= 0)
		return -1;
	if (rfc822_parse_mime_token(c, out) <= 0 || out->len == start_len)
		return -1;
	if (*c->data != '/')
		goto broken;
	c->data++;
	if (rfc822_skip_lwsp(c) <= 0)
		goto broken;
	buf_append_c(out, '/');
	sub_len = out->len;
	ret = rfc822_parse_mime_token(c, out);
	if (ret < 0 || out->len == sub_len || (c->data < c->end && *c->data != ';'))
		goto broken;
	return ret;
broken:
	buf_truncate(out, start_len);
	return -1;
}

/* One ";" attribute "=" value. 1 = got one, 0 = end, -1 = junk here. */
static int parse_content_param(struct rfc822_ctx *c, struct buf *key, struct buf *value)
{
	int ret;

	buf_reset(key);
	buf_reset(value);
	if (c->data >= c->end)
		return 0;
	if (*c->data != ';')
		return -1;
	c->data++;
	if (rfc822_skip_lwsp(c) <= 0)
		return -1;
	if (rfc822_parse_mime_token(c, key) <= 0)
		return -1;
	if (*c->data != '=')
		return -1;
	c->data++;
	if ((ret = rfc822_skip_lwsp(c)) <= 0) {
		/* no value */
	} else if (*c->data == '"') {
		ret = rfc822_parse_quoted_string(c, value);
	} else if (*c->data == '=') {
		/* broken senders write name==?utf-8?b?...?= unquoted */
		while (c->data < c->end && *c->data != ';' && *c->data != ' ' &&
		       *c->data != '\t' && *c->data != '\r' && *c->data != '\n') {
			buf_append_c(value, (char)*c->data);
			c->data++;
		}
	} else {
		ret = rfc822_parse_mime_token(c, value);
	}
	return ret < 0 ? -1 : 1;
}

struct rfc2231_piece {
	char *key; /* without the "*<n>[*]" suffix */
	char *value;
	unsigned idx;
	bool extended;
	size_t seq;
};

static int piece_cmp(const void *a, const void *b)
{
	const struct rfc2231_piece *p1 = a, *p2 = b;
	int ret = strcmp(p1->key, p2->key);
	if (ret != 0)
		return ret;
	if (p1->idx != p2->idx)
		return p1->idx < p2->idx ? -1 : 1;
	return p1->seq < p2->seq ? -1 : (p1->seq > p2->seq ? 1 : 0);
}

static void add_param(struct mime_param **params, size_t *n, size_t *cap, char *raw_name,
		      char *value)
{
	struct mime_param *p;
	size_t i;

	if (*n >= MIME_MAX_PARAMS) {
		free(raw_name);
		free(value);
		return;
	}
	if (*n == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		*params = om_reallocarray(*params, *cap, sizeof(**params));
	}
	p = &(*params)[(*n)++];
	p->raw_name = raw_name;
	p->name = om_strdup(raw_name);
	for (i = 0; p->name[i] != '\0'; i++) {
		if (p->name[i] >= 'A' && p->name[i] <= 'Z')
			p->name[i] = (char)(p->name[i] - 'A' + 'a');
	}
	p->value = value;
}

static void escape_percent(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '%')
			buf_append_str(out, "%25");
		else
			buf_append_c(out, *s);
	}
}

void mime_params_parse(struct rfc822_ctx *c, struct mime_param **params_r, size_t *n_r)
{
	struct buf key = BUF_INIT, value = BUF_INIT, joined = BUF_INIT;
	struct rfc2231_piece *pieces = NULL;
	size_t n_pieces = 0, cap_pieces = 0, cap = 0, i, j, next;
	unsigned last_idx = 0;
	int ret;

	*params_r = NULL;
	*n_r = 0;
	while ((ret = parse_content_param(c, &key, &value)) != 0) {
		const char *star, *p;
		struct rfc2231_piece piece;

		if (ret < 0) {
			/* skip a byte of junk and look for the next ';' */
			if (c->data >= c->end)
				break;
			c->data++;
			continue;
		}
		star = strchr(buf_cstr(&key), '*');
		if (star != NULL && n_pieces < MIME_MAX_PARAMS) {
			memset(&piece, 0, sizeof(piece));
			p = star;
			/* A bare "key*" keeps the index of the piece before it:
			 * Dovecot's quirk, visible in BODYSTRUCTURE ("key*1*") */
			if (p[1] != '\0') {
				p++;
				last_idx = 0;
				for (; *p >= '0' && *p <= '9'; p++) {
					if (last_idx < 100000)
						last_idx = last_idx * 10 + (unsigned)(*p - '0');
				}
			}
			piece.idx = last_idx;
			if (*p == '*') {
				piece.extended = true;
				p++;
			}
			if (*p == '\0') {
				piece.key = om_strndup(buf_cstr(&key), (size_t)(star - buf_cstr(&key)));
				piece.value = om_strdup(buf_cstr(&value));
				piece.seq = n_pieces;
				if (n_pieces == cap_pieces) {
					cap_pieces = cap_pieces == 0 ? 4 : cap_pieces * 2;
					pieces = om_reallocarray(pieces, cap_pieces, sizeof(*pieces));
				}
				pieces[n_pieces++] = piece;
				continue;
			}
		}
		add_param(params_r, n_r, &cap, om_strdup(buf_cstr(&key)), om_strdup(buf_cstr(&value)));
	}

	/* Merge key*0, key*1... in index order; with an index missing, keep
	 * the pieces as separate parameters, as Dovecot does. */
	if (n_pieces > 0)
		qsort(pieces, n_pieces, sizeof(*pieces), piece_cmp);
	for (i = 0; i < n_pieces; i = next) {
		bool ok = true, have_ext = false;
		unsigned next_idx = 0;

		for (j = i; j < n_pieces; j++) {
			if (strcasecmp(pieces[i].key, pieces[j].key) != 0)
				break;
			if (pieces[j].idx != next_idx)
				ok = false;
			if (pieces[j].extended)
				have_ext = true;
			next_idx++;
		}
		next = j;
		if (!ok) {
			for (j = i; j < next; j++) {
				buf_reset(&joined);
				buf_printf(&joined, pieces[j].extended ? "%s*%u*" : "%s*%u",
					   pieces[j].key, pieces[j].idx);
				add_param(params_r, n_r, &cap, buf_steal(&joined),
					  om_strdup(pieces[j].value));
			}
			continue;
		}
		buf_reset(&joined);
		if (!pieces[i].extended && have_ext)
			buf_append_str(&joined, "''");
		for (j = i; j < next; j++) {
			if (!pieces[j].extended && have_ext)
				escape_percent(&joined, pieces[j].value);
			else
				buf_append_str(&joined, pieces[j].value);
		}
		{
			struct buf name = BUF_INIT;
			buf_append_str(&name, pieces[i].key);
			if (have_ext)
				buf_append_c(&name, '*');
			add_param(params_r, n_r, &cap, buf_steal(&name), buf_steal(&joined));
		}
	}
	for (i = 0; i < n_pieces; i++) {
		free(pieces[i].key);
		free(pieces[i].value);
	}
	free(pieces);
	buf_free(&key);
	buf_free(&value);
	buf_free(&joined);
}

void mime_params_free(struct mime_param *params, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(params[i].name);
		free(params[i].raw_name);
		free(params[i].value);
	}
	free(params);
}
