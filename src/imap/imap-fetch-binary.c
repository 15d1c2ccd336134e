/* BINARY (RFC 3516): parsing BINARY[part]<partial>, BINARY.PEEK[...] and
 * BINARY.SIZE[part], and the decoded content of a part. The FETCH renderer
 * (imap-cmd-fetch.c) resolves the part and sends the data; this file keeps
 * the rules: the section is a part path only, the content is the part's
 * body with its Content-Transfer-Encoding undone, and data holding NUL goes
 * out as a literal8 "~{N}". */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-fetch.h"
#include "lib/buf.h"
#include "lib/om-error.h"
#include "mime/mime.h"

static bool parse_number(const char **p, const char *end, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;
	const char *s = *p;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return false;
		s++;
	}
	*p = s;
	*v_r = v;
	return true;
}

int imap_fetch_parse_binary(const char *str, size_t len, struct imap_fetch_item *item,
			    const char **error_r)
{
	const char *end = str + len, *open = memchr(str, '[', len);
	size_t prefix = open != NULL ? (size_t)(open - str) : 0;
	struct buf name = BUF_INIT;

	memset(item, 0, sizeof(*item));
	*error_r = "Invalid BINARY item";
	if (open == NULL)
		return -OM_EINVAL;
	if (prefix == 6 && om_mem_ieq(str, 6, "BINARY")) {
		item->binary = true;
	} else if (prefix == 11 && om_mem_ieq(str, 11, "BINARY.PEEK")) {
		item->binary = true;
		item->peek = true;
	} else if (prefix == 11 && om_mem_ieq(str, 11, "BINARY.SIZE")) {
		item->binary_size = true;
		item->peek = true;
	} else {
		return -OM_EINVAL;
	}
	item->kind = IMAP_FETCH_SECTION;
	item->spec = IMAP_SECTION_ALL;
	buf_append_str(&name, item->binary_size ? "BINARY.SIZE[" : "BINARY[");

	/* section-binary = "[" [section-part] "]" */
	const char *p = open + 1;
	while (p < end && *p != ']') {
		uint64_t n;
		if (item->path_len > 0) {
			if (*p != '.')
				goto bad;
			p++;
		}
		if (item->path_len >= IMAP_FETCH_MAX_PATH ||
		    !parse_number(&p, end, IMAP_FETCH_MAX_PART, &n) || n == 0)
			goto bad;
		item->path[item->path_len++] = (unsigned)n;
		buf_printf(&name, "%s%u", item->path_len > 1 ? "." : "", (unsigned)n);
	}
	if (p >= end)
		goto bad;
	buf_append_c(&name, ']');
	p++;
	if (p < end) {
		/* <origin.count>; not for BINARY.SIZE */
		uint64_t origin, count;
		if (item->binary_size || *p++ != '<' ||
		    !parse_number(&p, end, UINT64_MAX / 10, &origin) || p >= end || *p++ != '.' ||
		    !parse_number(&p, end, UINT64_MAX / 10, &count) || count == 0 ||
		    p + 1 != end || *p != '>')
			goto bad;
		item->partial = true;
		item->origin = origin;
		item->count = count;
		buf_printf(&name, "<%llu>", (unsigned long long)origin);
	}
	item->name = buf_steal(&name);
	return 0;
bad:
	buf_free(&name);
	return -OM_EINVAL;
}

void imap_fetch_binary_decode(const struct mime_message *msg, const struct mime_part *part,
			      struct buf *out)
{
	buf_reset(out);
	if (part->is_multipart || part->is_message_rfc822) {
		/* no transfer encoding applies to a container: its bytes */
		buf_append(out, msg->data + part->body_off, part->body_len);
		return;
	}
	mime_part_decode_body(msg, part, out);
}

void imap_fetch_binary_write(const struct imap_fetch_item *it, const char **data, size_t *len,
			     struct buf *out)
{
	if (it->binary_size) {
		buf_printf(out, "%s %zu", it->name, *len);
		*len = 0;
		return;
	}
	if (it->partial) {
		if (it->origin >= *len) {
			*len = 0;
		} else {
			*data += it->origin;
			*len -= (size_t)it->origin;
			if (it->count < *len)
				*len = (size_t)it->count;
		}
	}
	bool nul = *len > 0 && memchr(*data, '\0', *len) != NULL;
	buf_printf(out, "%s %s{%zu}\r\n", it->name, nul ? "~" : "", *len);
}
