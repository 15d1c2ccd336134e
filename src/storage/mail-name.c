/* Mailbox name rules and line-end conversion shared by every driver. */
#include <string.h>

#include "lib/om-error.h"
#include "storage/mail-storage-private.h"

#define MAIL_NAME_MAX 255

/* Length of the UTF-8 sequence at s (strict: no overlongs, surrogates or
 * values past U+10FFFF), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	unsigned min;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 2; cp = c & 0x1f; min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3; cp = c & 0x0f; min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4; cp = c & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool mail_name_is_inbox(const char *name)
{
	return om_str_ieq(name, "INBOX");
}

int mail_name_normalize(const char *name, struct buf *out)
{
	size_t len = strlen(name);
	buf_reset(out);
	if (len == 0 || len > MAIL_NAME_MAX || name[0] == '/' || name[len - 1] == '/')
		return -OM_EINVAL;
	const unsigned char *s = (const unsigned char *)name;
	size_t comp_start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			size_t clen = i - comp_start;
			const char *comp = name + comp_start;
			if (clen == 0 || (clen == 1 && comp[0] == '.') ||
			    (clen == 2 && comp[0] == '.' && comp[1] == '.'))
				return -OM_EINVAL;
			comp_start = i + 1;
			continue;
		}
		if (s[i] < 0x20 || s[i] == 0x7f)
			return -OM_EINVAL;
		if (s[i] >= 0x80) {
			size_t n = utf8_seq_len(s + i, len - i);
			if (n == 0)
				return -OM_EINVAL;
			/* C1 controls (U+0080..U+009F) are control characters too */
			if (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)
				return -OM_EINVAL;
			i += n - 1;
		}
	}
	/* The inbox is case-insensitive, also as the first component. */
	const char *slash = strchr(name, '/');
	size_t first = slash ? (size_t)(slash - name) : len;
	if (first == 5 && om_mem_ieq(name, 5, "INBOX")) {
		buf_append_str(out, "INBOX");
		buf_append_str(out, name + 5);
	} else {
		buf_append_str(out, name);
	}
	return 0;
}

bool mail_name_is_child(const char *child, const char *parent)
{
	size_t plen = strlen(parent);
	return strncmp(child, parent, plen) == 0 && child[plen] == '/';
}

bool mail_keyword_valid(const char *kw)
{
	size_t len = strlen(kw);
	if (len == 0 || len > 128 || kw[0] == '\\')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)kw[i];
		/* IMAP atom-specials, and what Maildir keyword files can't hold */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

uint64_t mail_data_to_lf(const char *data, size_t len, struct buf *out)
{
	uint64_t lines = 0;
	buf_reset(out);
	buf_reserve(out, len);
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		lines++;
		size_t end = i;
		if (end > start && data[end - 1] == '\r')
			end--;
		buf_append(out, data + start, end - start);
		buf_append_c(out, '\n');
		start = i + 1;
	}
	buf_append(out, data + start, len - start);
	return (uint64_t)out->len + lines;
}

/* The top function of the FETCH profile when it went byte by byte with
 * an append per line: memchr (vectorised) to count the bare LFs, one
 * exact reservation, then line copies straight into the buffer. */
void mail_data_to_crlf(const char *data, size_t len, struct buf *out)
{
	buf_reset(out);
	const char *end = data + len;
	size_t extra = 0;
	for (const char *p = data; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		if (nl == data || nl[-1] != '\r')
			extra++;
		p = nl + 1;
	}
	buf_reserve(out, len + extra); /* extra <= len, and mails are far below SIZE_MAX / 2 */
	char *o = out->data;
	for (const char *p = data; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl != NULL ? nl : end) - p);
		memcpy(o, p, n);
		o += n;
		if (nl == NULL)
			break;
		if (nl == data || nl[-1] != '\r')
			*o++ = '\r';
		*o++ = '\n';
		p = nl + 1;
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
}

uint64_t mail_data_crlf_size(const char *data, size_t len)
{
	uint64_t size = len;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			size++;
	}
	return size;
}
