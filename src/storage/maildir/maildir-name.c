/* Mailbox names on disk: modified UTF-7 (RFC 3501 5.1.3) per component,
 * '.' between components, as Dovecot's Maildir++ layout does by default. */
#include <string.h>

#include "lib/om-error.h"
#include "storage/maildir/maildir.h"

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Decode one UTF-8 code point (input already validated by the caller's name
 * rules, but re-checked here). 0 on error. */
static size_t utf8_next(const unsigned char *s, size_t left, uint32_t *cp_r)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp, min;
	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
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
	*cp_r = cp;
	return n;
}

static void utf8_put(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp; n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6)); b[1] = (char)(0x80 | (cp & 0x3f)); n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12)); b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f)); n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18)); b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); b[3] = (char)(0x80 | (cp & 0x3f)); n = 4;
	}
	buf_append(out, b, n);
}

int mutf7_encode(const char *utf8, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t i = 0;
	while (i < len) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			if (s[i] == '&')
				buf_append(out, "&-", 2);
			else
				buf_append_c(out, (char)s[i]);
			i++;
			continue;
		}
		/* a run of non-printables as UTF-16BE in modified base64 */
		buf_append_c(out, '&');
		uint32_t bits = 0;
		unsigned nbits = 0;
		while (i < len && !(s[i] >= 0x20 && s[i] < 0x7f)) {
			uint32_t cp;
			size_t n = utf8_next(s + i, len - i, &cp);
			if (n == 0)
				return -OM_EINVAL;
			i += n;
			uint16_t units[2];
			size_t nu = 1;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[0] = (uint16_t)(0xd800 | (cp >> 10));
				units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
				nu = 2;
			} else {
				units[0] = (uint16_t)cp;
			}
			for (size_t u = 0; u < nu; u++) {
				bits = (bits << 16) | units[u];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					buf_append_c(out, b64chars[(bits >> nbits) & 0x3f]);
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits > 0)
			buf_append_c(out, b64chars[(bits << (6 - nbits)) & 0x3f]);
		buf_append_c(out, '-');
	}
	if (out->data == NULL)
		buf_append(out, "", 0);
	return 0;
}

int mutf7_decode(const char *mutf7, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)mutf7;
	size_t i = 0;
	while (i < len) {
		if (s[i] < 0x20 || s[i] >= 0x7f)
			return -OM_EINVAL;
		if (s[i] != '&') {
			buf_append_c(out, (char)s[i++]);
			continue;
		}
		i++;
		if (i < len && s[i] == '-') {
			buf_append_c(out, '&');
			i++;
			continue;
		}
		uint32_t bits = 0;
		unsigned nbits = 0;
		uint32_t high = 0;   /* pending high surrogate */
		size_t units = 0;
		while (i < len && s[i] != '-') {
			int v = b64val(s[i]);
			if (v < 0)
				return -OM_EINVAL;
			i++;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			uint32_t u = (bits >> nbits) & 0xffff;
			bits &= (1u << nbits) - 1;
			units++;
			if (high != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					return -OM_EINVAL;
				utf8_put(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return -OM_EINVAL;
			} else if (u >= 0x20 && u < 0x7f) {
				/* printable ASCII must not be encoded */
				return -OM_EINVAL;
			} else {
				utf8_put(out, u);
			}
		}
		if (i >= len || units == 0 || high != 0 || nbits >= 6 || bits != 0)
			return -OM_EINVAL;
		i++; /* '-' */
	}
	if (out->data == NULL)
		buf_append(out, "", 0);
	return 0;
}

int maildir_name_to_dir(const char *root, const char *name, struct buf *out)
{
	buf_reset(out);
	buf_append_str(out, root);
	if (strcmp(name, "INBOX") == 0)
		return 0;
	if (name[0] == '~')
		return -OM_EINVAL;
	buf_append_c(out, '/');
	const char *p = name;
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);
		if (memchr(p, '.', clen) != NULL || clen == 0)
			return -OM_EINVAL;
		buf_append_c(out, '.');
		int ret = mutf7_encode(p, clen, out);
		if (ret < 0)
			return ret;
		p += clen;
		if (*p == '/')
			p++;
	}
	return 0;
}

int maildir_entry_to_name(const char *entry, struct buf *out)
{
	buf_reset(out);
	if (entry[0] != '.' || entry[1] == '\0' || strcmp(entry, "..") == 0)
		return -OM_EINVAL;
	const char *p = entry + 1;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t clen = dot ? (size_t)(dot - p) : strlen(p);
		if (clen == 0)
			return -OM_EINVAL;
		if (p != entry + 1)
			buf_append_c(out, '/');
		size_t before = out->len;
		int ret = mutf7_decode(p, clen, out);
		if (ret < 0)
			return ret;
		/* reject what could never have been created here */
		if (memchr(out->data + before, '/', out->len - before) != NULL)
			return -OM_EINVAL;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	struct buf norm = BUF_INIT;
	int ret = mail_name_normalize(out->data, &norm);
	if (ret == 0 && strcmp(norm.data, "INBOX") == 0)
		ret = -OM_EINVAL;
	buf_free(&norm);
	return ret;
}
