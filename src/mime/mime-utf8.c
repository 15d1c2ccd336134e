/* Case-insensitive substring search on UTF-8 for SEARCH. Our own simple
 * case folding (no locale needed, same answer in every process): ASCII,
 * Latin-1, Latin Extended-A, Latin Extended Additional, Greek, Cyrillic,
 * Armenian. Invalid bytes are compared as they are. */
#include "mime/mime-private.h"

#include <string.h>

static unsigned fold_cp(unsigned cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
		return cp + 32;
	if (cp >= 0x100 && cp <= 0x17f) {
		if (cp == 0x130)
			return 'i';
		if (cp == 0x178)
			return 0xff;
		if (cp == 0x17f)
			return 's';
		if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e))
			return (cp & 1) ? cp + 1 : cp;
		if (cp == 0x131 || cp == 0x138 || cp == 0x149)
			return cp;
		return (cp & 1) ? cp : cp + 1;
	}
	if (cp >= 0x370 && cp <= 0x3ff) {
		if (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2)
			return cp + 32;
		if (cp == 0x386)
			return 0x3ac;
		if (cp >= 0x388 && cp <= 0x38a)
			return cp + 37;
		if (cp == 0x38c)
			return 0x3cc;
		if (cp == 0x38e || cp == 0x38f)
			return cp + 63;
		if (cp == 0x3c2)
			return 0x3c3; /* final sigma */
		if (cp >= 0x3d8 && cp <= 0x3ef)
			return (cp & 1) ? cp : cp + 1;
		return cp;
	}
	if (cp >= 0x400 && cp <= 0x52f) {
		if (cp <= 0x40f)
			return cp + 80;
		if (cp <= 0x42f)
			return cp + 32;
		if (cp <= 0x45f)
			return cp;
		if (cp == 0x4c0)
			return 0x4cf;
		if (cp >= 0x4c1 && cp <= 0x4ce)
			return (cp & 1) ? cp + 1 : cp;
		if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48a && cp <= 0x4bf) ||
		    (cp >= 0x4d0 && cp <= 0x52f))
			return (cp & 1) ? cp : cp + 1;
		return cp;
	}
	if (cp >= 0x531 && cp <= 0x556)
		return cp + 48;
	if (cp >= 0x1e00 && cp <= 0x1eff && !(cp >= 0x1e96 && cp <= 0x1e9f))
		return (cp & 1) ? cp : cp + 1;
	return cp;
}

static void put_utf8(struct buf *out, unsigned cp)
{
	if (cp < 0x80) {
		buf_append_c(out, (char)cp);
	} else if (cp < 0x800) {
		buf_append_c(out, (char)(0xc0 | (cp >> 6)));
		buf_append_c(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_append_c(out, (char)(0xe0 | (cp >> 12)));
		buf_append_c(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_c(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_append_c(out, (char)(0xf0 | (cp >> 18)));
		buf_append_c(out, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_append_c(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_c(out, (char)(0x80 | (cp & 0x3f)));
	}
}

static void fold_utf8(const char *s, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	buf_reserve(out, len);
	while (i < len) {
		unsigned cp;
		size_t n, k;

		if (p[i] < 0x80) {
			buf_append_c(out, (char)fold_cp(p[i]));
			i++;
			continue;
		}
		n = p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : p[i] >= 0xc0 ? 2 : 0;
		if (n == 0 || i + n > len) {
			buf_append_c(out, (char)p[i++]);
			continue;
		}
		cp = p[i] & (0x7f >> n);
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				break;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (k < n) {
			buf_append_c(out, (char)p[i++]);
			continue;
		}
		put_utf8(out, fold_cp(cp));
		i += n;
	}
}

void mime_utf8_fold(const char *s, size_t len, struct buf *out)
{
	fold_utf8(s, len, out);
}

bool mime_utf8_contains_ci(const char *haystack, size_t hlen, const char *needle, size_t nlen)
{
	struct buf h = BUF_INIT, n = BUF_INIT;
	bool found;

	if (nlen == 0)
		return true;
	fold_utf8(haystack, hlen, &h);
	fold_utf8(needle, nlen, &n);
	found = h.len >= n.len && memmem(h.data, h.len, n.data, n.len) != NULL;
	buf_free(&h);
	buf_free(&n);
	return found;
}
