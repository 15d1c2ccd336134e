/* Header blocks: splitting into fields (folded lines kept together),
 * looking fields up, and the HEADER.FIELDS[.NOT] selection. A field's
 * name ends at the first ':' of its first line; LWSP before the ':' is not
 * part of the name; a line without ':' is a field whose name is the line. */
#include "mime/mime-private.h"

#include <string.h>
#include <strings.h>

void mime_hdr_iter_init(struct mime_hdr_iter *it, const char *hdr, size_t len)
{
	it->p = hdr;
	it->end = hdr + len;
	it->all_lines = false;
}

static const char *line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	return lf == NULL ? end : lf + 1;
}

static bool iter_next_line(struct mime_hdr_iter *it, struct mime_hdr_field *f)
{
	const char *p = it->p, *end = it->end, *first_end, *fend, *colon, *v, *vend;

	if (p >= end)
		return false;
	if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
		return false; /* the blank line */

	first_end = line_end(p, end);
	fend = first_end;
	while (fend < end && (*fend == ' ' || *fend == '\t'))
		fend = line_end(fend, end);

	f->start = p;
	f->len = (size_t)(fend - p);
	it->p = fend;

	/* the value stops before the field's final newline */
	vend = fend;
	if (vend > p && vend[-1] == '\n') {
		vend--;
		if (vend > p && vend[-1] == '\r')
			vend--;
	}

	colon = memchr(p, ':', (size_t)(first_end - p));
	if (colon == NULL) {
		const char *nend = first_end;
		if (nend > p && nend[-1] == '\n')
			nend--;
		if (nend > p && nend[-1] == '\r')
			nend--;
		f->name = p;
		f->name_len = (size_t)(nend - p);
		f->value = nend;
		f->value_len = 0;
		f->has_colon = false;
		return true;
	}
	f->has_colon = true;
	f->name = p;
	f->name_len = (size_t)(colon - p);
	while (f->name_len > 0 && (p[f->name_len - 1] == ' ' || p[f->name_len - 1] == '\t'))
		f->name_len--;

	/* Skip all LWSP after ':' on the first line, except when the line's
	 * value is nothing but LWSP: then skip just one (Dovecot's rule). */
	v = colon + 1;
	{
		const char *q = v, *first_vend = first_end < vend ? first_end : vend;
		while (q < first_vend && (*q == ' ' || *q == '\t'))
			q++;
		if (q < first_vend && *q != '\r' && *q != '\n')
			v = q;
		else if (v < first_vend && (*v == ' ' || *v == '\t'))
			v++;
	}
	if (v > vend)
		v = vend;
	f->value = v;
	f->value_len = (size_t)(vend - v);
	return true;
}

bool mime_hdr_iter_next(struct mime_hdr_iter *it, struct mime_hdr_field *f)
{
	while (iter_next_line(it, f)) {
		if (f->has_colon || it->all_lines)
			return true;
	}
	return false;
}

bool mime_hdr_name_is(const struct mime_hdr_field *f, const char *name)
{
	size_t n = strlen(name);
	return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

void mime_hdr_value_unfold(const char *v, size_t len, struct buf *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (v[i] == '\r' || v[i] == '\n')
			continue;
		buf_append_c(out, v[i] == '\0' ? (char)0x80 : v[i]);
	}
}

bool mime_header_get(const char *hdr, size_t hdr_len, const char *name, struct buf *out)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;

	mime_hdr_iter_init(&it, hdr, hdr_len);
	while (mime_hdr_iter_next(&it, &f)) {
		if (mime_hdr_name_is(&f, name)) {
			mime_hdr_value_unfold(f.value, f.value_len, out);
			return true;
		}
	}
	return false;
}

bool mime_header_get_all_utf8(const char *hdr, size_t hdr_len, const char *name, struct buf *out)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;
	bool found = false;

	mime_hdr_iter_init(&it, hdr, hdr_len);
	while (mime_hdr_iter_next(&it, &f)) {
		if (!mime_hdr_name_is(&f, name))
			continue;
		if (found)
			buf_append_c(out, '\n');
		mime_decode_header_utf8(f.value, f.value_len, out);
		found = true;
	}
	return found;
}

/* Copy with every line ending as CRLF, as IMAP sends it, and NUL as
 * 0x80 (a literal can't carry NUL). */
static void append_crlf(struct buf *out, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			buf_append_c(out, '\r');
		buf_append_c(out, p[i] == '\0' ? (char)0x80 : p[i]);
	}
}

/* As Dovecot answers a plain FETCH of them: HEADER.FIELDS always ends
 * with a CRLF (after a field cut short at the end of the message, that
 * CRLF ends the field), .NOT has the blank line only when the header has
 * one. Lines without ':' never match a name. */
void mime_header_fields(const char *hdr, size_t hdr_len, const char *const *names,
			size_t n_names, bool exclude, struct buf *out)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;
	size_t i;

	mime_hdr_iter_init(&it, hdr, hdr_len);
	it.all_lines = true;
	while (mime_hdr_iter_next(&it, &f)) {
		bool match = false;

		for (i = 0; i < n_names && !match && f.has_colon; i++)
			match = mime_hdr_name_is(&f, names[i]);
		if (match != exclude)
			append_crlf(out, f.start, f.len);
	}
	if (!exclude || it.p < it.end)
		buf_append(out, "\r\n", 2); /* it.p < it.end: at the blank line */
}
