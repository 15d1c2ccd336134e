/* A bounded XML reader for S3 answers (see s3-xml.h). It walks the
 * document once, keeps the open element names on a fixed stack and hands
 * the decoded text of every leaf element to a callback; attributes,
 * comments and processing instructions are skipped. */
#include "objstore/s3-xml.h"

#include <stdlib.h>
#include <string.h>

#include "lib/om-error.h"

#define XML_MAX_NAME 128

struct xml_walker {
	const char *p, *end;
	unsigned depth;
	char names[S3_XML_MAX_DEPTH][XML_MAX_NAME + 1];
	bool has_child[S3_XML_MAX_DEPTH];
	struct buf text;
	void *ctx;
	/* depth counts the element itself: the root is 1 */
	int (*on_start)(struct xml_walker *w);
	int (*on_leaf)(struct xml_walker *w, const char *text, size_t len);
	int (*on_end)(struct xml_walker *w);
};

static void put_utf8(struct buf *out, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, u, n);
}

static int decode_charref(const char *s, size_t len, struct buf *out)
{
	/* s is what sits between "&#" and ";" */
	unsigned long cp = 0;
	unsigned base = 10;
	size_t i = 0;
	if (len > 0 && (s[0] == 'x' || s[0] == 'X')) {
		base = 16;
		i = 1;
	}
	if (i >= len || len - i > 8)
		return -OM_EIO;
	for (; i < len; i++) {
		unsigned d;
		char c = s[i];
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -OM_EIO;
		cp = cp * base + d;
		if (cp > 0x10ffff)
			return -OM_EIO;
	}
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
		return -OM_EIO;
	put_utf8(out, cp);
	return 0;
}

int s3_xml_decode_text(const char *s, size_t len, struct buf *out)
{
	size_t i = 0;
	while (i < len) {
		const char *amp = memchr(s + i, '&', len - i);
		size_t run = amp != NULL ? (size_t)(amp - (s + i)) : len - i;
		if (memchr(s + i, '\0', run) != NULL)
			return -OM_EIO;
		buf_append(out, s + i, run);
		i += run;
		if (i >= len)
			break;
		/* an entity: the longest we accept is "&#x10FFFF;" */
		size_t max = len - i < 12 ? len - i : 12;
		const char *semi = memchr(s + i, ';', max);
		if (semi == NULL)
			return -OM_EIO;
		const char *name = s + i + 1;
		size_t nlen = (size_t)(semi - name);
		if (nlen == 3 && memcmp(name, "amp", 3) == 0)
			buf_append_c(out, '&');
		else if (nlen == 2 && memcmp(name, "lt", 2) == 0)
			buf_append_c(out, '<');
		else if (nlen == 2 && memcmp(name, "gt", 2) == 0)
			buf_append_c(out, '>');
		else if (nlen == 4 && memcmp(name, "quot", 4) == 0)
			buf_append_c(out, '"');
		else if (nlen == 4 && memcmp(name, "apos", 4) == 0)
			buf_append_c(out, '\'');
		else if (nlen >= 1 && name[0] == '#') {
			int ret = decode_charref(name + 1, nlen - 1, out);
			if (ret < 0)
				return ret;
		} else
			return -OM_EIO;
		i = (size_t)(semi - s) + 1;
	}
	return 0;
}

static const char *find_str(const char *p, const char *end, const char *needle)
{
	size_t nlen = strlen(needle);
	while ((size_t)(end - p) >= nlen) {
		const char *c = memchr(p, needle[0], (size_t)(end - p) - nlen + 1);
		if (c == NULL)
			return NULL;
		if (memcmp(c, needle, nlen) == 0)
			return c;
		p = c + 1;
	}
	return NULL;
}

static bool is_name_char(char c)
{
	return c != '\0' && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '/' &&
	       c != '>' && c != '<' && c != '=' && c != '"' && c != '\'' && c != '&';
}

/* Read a tag name at w->p into name (NUL-terminated); advance past it. */
static int read_name(struct xml_walker *w, char *name)
{
	size_t n = 0;
	while (w->p < w->end && is_name_char(*w->p)) {
		if (n >= XML_MAX_NAME)
			return -OM_EIO;
		name[n++] = *w->p++;
	}
	if (n == 0)
		return -OM_EIO;
	name[n] = '\0';
	return 0;
}

/* Skip attributes up to '>' (quotes may hide a '>'); *empty_r says "/>". */
static int skip_to_tag_end(struct xml_walker *w, bool *empty_r)
{
	char quote = 0;
	for (; w->p < w->end; w->p++) {
		char c = *w->p;
		if (quote != 0) {
			if (c == quote)
				quote = 0;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '<') {
			return -OM_EIO;
		} else if (c == '>') {
			*empty_r = w->p[-1] == '/';
			w->p++;
			return 0;
		}
	}
	return -OM_EIO;
}

static int collect_text(struct xml_walker *w, const char *s, size_t len, bool raw)
{
	if (w->depth == 0) {
		/* only whitespace may sit outside the root */
		for (size_t i = 0; i < len; i++)
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
				return -OM_EIO;
		return 0;
	}
	if (len > S3_XML_MAX_TEXT || w->text.len > S3_XML_MAX_TEXT - len)
		return -OM_EIO;
	if (raw) {
		if (memchr(s, '\0', len) != NULL)
			return -OM_EIO;
		buf_append(&w->text, s, len);
		return 0;
	}
	return s3_xml_decode_text(s, len, &w->text);
}

static int walk_start_tag(struct xml_walker *w)
{
	char name[XML_MAX_NAME + 1];
	bool empty = false;
	int ret;
	if ((ret = read_name(w, name)) < 0 || (ret = skip_to_tag_end(w, &empty)) < 0)
		return ret;
	if (w->depth > 0)
		w->has_child[w->depth - 1] = true;
	if (w->depth >= S3_XML_MAX_DEPTH)
		return -OM_EIO;
	memcpy(w->names[w->depth], name, strlen(name) + 1);
	w->has_child[w->depth] = false;
	w->depth++;
	buf_reset(&w->text);
	if (w->on_start != NULL && (ret = w->on_start(w)) < 0)
		return ret;
	if (empty) {
		if (w->on_leaf != NULL && (ret = w->on_leaf(w, "", 0)) < 0)
			return ret;
		if (w->on_end != NULL && (ret = w->on_end(w)) < 0)
			return ret;
		w->depth--;
	}
	return 0;
}

static int walk_end_tag(struct xml_walker *w)
{
	char name[XML_MAX_NAME + 1];
	int ret;
	if ((ret = read_name(w, name)) < 0)
		return ret;
	while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\r' || *w->p == '\n'))
		w->p++;
	if (w->p >= w->end || *w->p != '>')
		return -OM_EIO;
	w->p++;
	if (w->depth == 0 || strcmp(w->names[w->depth - 1], name) != 0)
		return -OM_EIO;
	if (!w->has_child[w->depth - 1] && w->on_leaf != NULL &&
	    (ret = w->on_leaf(w, buf_cstr(&w->text), w->text.len)) < 0)
		return ret;
	if (w->on_end != NULL && (ret = w->on_end(w)) < 0)
		return ret;
	w->depth--;
	buf_reset(&w->text);
	return 0;
}

static int xml_walk(struct xml_walker *w, const char *xml, size_t len)
{
	bool seen_root = false;
	int ret;
	if (len > S3_XML_MAX_INPUT)
		return -OM_EIO;
	w->p = xml;
	w->end = xml + len;
	w->depth = 0;
	while (w->p < w->end) {
		const char *lt = memchr(w->p, '<', (size_t)(w->end - w->p));
		if (lt == NULL)
			lt = w->end;
		if ((ret = collect_text(w, w->p, (size_t)(lt - w->p), false)) < 0)
			return ret;
		w->p = lt;
		if (w->p >= w->end)
			break;
		size_t left = (size_t)(w->end - w->p);
		if (left >= 2 && w->p[1] == '?') {
			const char *q = find_str(w->p + 2, w->end, "?>");
			if (q == NULL)
				return -OM_EIO;
			w->p = q + 2;
		} else if (left >= 4 && memcmp(w->p, "<!--", 4) == 0) {
			const char *q = find_str(w->p + 4, w->end, "-->");
			if (q == NULL)
				return -OM_EIO;
			w->p = q + 3;
		} else if (left >= 9 && memcmp(w->p, "<![CDATA[", 9) == 0) {
			const char *q = find_str(w->p + 9, w->end, "]]>");
			if (q == NULL || w->depth == 0)
				return -OM_EIO;
			if ((ret = collect_text(w, w->p + 9, (size_t)(q - (w->p + 9)), true)) < 0)
				return ret;
			w->p = q + 3;
		} else if (left >= 2 && w->p[1] == '!') {
			/* DOCTYPE and friends: S3 never sends them, and they
			 * are how entity bombs arrive */
			return -OM_EIO;
		} else if (left >= 2 && w->p[1] == '/') {
			w->p += 2;
			if ((ret = walk_end_tag(w)) < 0)
				return ret;
			if (w->depth == 0)
				seen_root = true;
		} else {
			if (seen_root && w->depth == 0)
				return -OM_EIO; /* a second root */
			w->p++;
			if ((ret = walk_start_tag(w)) < 0)
				return ret;
			if (w->depth == 0)
				seen_root = true;
		}
	}
	return w->depth == 0 && seen_root ? 0 : -OM_EIO;
}

static const char *walker_name(const struct xml_walker *w, unsigned level)
{
	/* level 1 = root */
	return level >= 1 && level <= w->depth ? w->names[level - 1] : "";
}

/* ---- ListObjectsV2 ---- */

struct list_ctx {
	struct s3_list_page *page;
	size_t cap;
	char *key;
	bool have_size;
	uint64_t size;
	bool seen_truncated;
};

static bool in_root(const struct xml_walker *w)
{
	return strcmp(walker_name(w, 1), "ListBucketResult") == 0;
}

static int list_on_start(struct xml_walker *w)
{
	struct list_ctx *lc = w->ctx;
	if (w->depth == 1 && !in_root(w))
		return -OM_EIO;
	if (w->depth == 2 && strcmp(walker_name(w, 2), "Contents") == 0) {
		free(lc->key);
		lc->key = NULL;
		lc->have_size = false;
	}
	return 0;
}

static int list_on_leaf(struct xml_walker *w, const char *text, size_t len)
{
	struct list_ctx *lc = w->ctx;
	const char *name = walker_name(w, w->depth);
	if (w->depth == 2) {
		if (strcmp(name, "IsTruncated") == 0) {
			if (strcmp(text, "true") == 0)
				lc->page->truncated = true;
			else if (strcmp(text, "false") == 0)
				lc->page->truncated = false;
			else
				return -OM_EIO;
			lc->seen_truncated = true;
		} else if (strcmp(name, "NextContinuationToken") == 0) {
			if (lc->page->next_token != NULL || len == 0 || strlen(text) != len)
				return -OM_EIO;
			lc->page->next_token = om_strndup(text, len);
		}
	} else if (w->depth == 3 && strcmp(walker_name(w, 2), "Contents") == 0) {
		if (strcmp(name, "Key") == 0) {
			if (lc->key != NULL || len == 0 || strlen(text) != len)
				return -OM_EIO;
			lc->key = om_strndup(text, len);
		} else if (strcmp(name, "Size") == 0) {
			unsigned long long v;
			if (lc->have_size || !om_parse_u64(text, len, &v))
				return -OM_EIO;
			lc->size = v;
			lc->have_size = true;
		}
	}
	return 0;
}

static int list_on_end(struct xml_walker *w)
{
	struct list_ctx *lc = w->ctx;
	struct s3_list_page *page = lc->page;
	if (w->depth != 2 || strcmp(walker_name(w, 2), "Contents") != 0)
		return 0;
	if (lc->key == NULL || !lc->have_size || page->n >= S3_XML_MAX_KEYS)
		return -OM_EIO;
	if (page->n == lc->cap) {
		lc->cap = lc->cap == 0 ? 64 : lc->cap * 2;
		page->entries = om_reallocarray(page->entries, lc->cap, sizeof(*page->entries));
	}
	page->entries[page->n].key = lc->key;
	page->entries[page->n].size = lc->size;
	page->n++;
	lc->key = NULL;
	return 0;
}

int s3_xml_parse_list(const char *xml, size_t len, struct s3_list_page *page_r)
{
	struct list_ctx lc = { .page = page_r };
	struct xml_walker w = { .ctx = &lc, .on_start = list_on_start,
				.on_leaf = list_on_leaf, .on_end = list_on_end };
	memset(page_r, 0, sizeof(*page_r));
	int ret = xml_walk(&w, xml, len);
	free(lc.key);
	buf_free(&w.text);
	if (ret == 0 && !lc.seen_truncated)
		ret = -OM_EIO;
	if (ret == 0 && page_r->truncated && page_r->next_token == NULL)
		ret = -OM_EIO; /* we could never get the next page */
	return ret;
}

void s3_list_page_free(struct s3_list_page *page)
{
	for (size_t i = 0; i < page->n; i++)
		free(page->entries[i].key);
	free(page->entries);
	free(page->next_token);
	memset(page, 0, sizeof(*page));
}

/* ---- <Error><Code>...</Code></Error> ---- */

struct error_ctx {
	struct buf *code;
	bool found;
};

static int error_on_start(struct xml_walker *w)
{
	return w->depth == 1 && strcmp(walker_name(w, 1), "Error") != 0 ? -OM_EIO : 0;
}

static int error_on_leaf(struct xml_walker *w, const char *text, size_t len)
{
	struct error_ctx *ec = w->ctx;
	if (w->depth == 2 && strcmp(walker_name(w, 2), "Code") == 0 && !ec->found) {
		/* it goes to logs: keep it short and printable */
		for (size_t i = 0; i < len && i < 64; i++)
			buf_append_c(ec->code, text[i] > 0x20 && text[i] < 0x7f ? text[i] : '?');
		ec->found = true;
	}
	return 0;
}

bool s3_xml_error_code(const char *xml, size_t len, struct buf *code_r)
{
	struct error_ctx ec = { .code = code_r };
	struct xml_walker w = { .ctx = &ec, .on_start = error_on_start, .on_leaf = error_on_leaf };
	buf_reset(code_r);
	int ret = xml_walk(&w, xml, len);
	buf_free(&w.text);
	if (ret < 0 || !ec.found) {
		buf_reset(code_r);
		return false;
	}
	return true;
}
