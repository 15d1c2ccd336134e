/* Modified UTF-7 (RFC 3501 5.1.3) <-> UTF-8, both strict.
 *
 * Decoding accepts only the one canonical encoding of a name, so that two
 * different client strings never map to the same mailbox: printable ASCII
 * must be sent as itself, "&" only as "&-", a run must hold at least one
 * character, its unused padding bits must be zero and fewer than 6, two runs
 * may not touch (they would be one), and UTF-16 surrogates must pair. */
#include "lib/mutf7.h"

#include <stdint.h>

static const char mb64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int mb64_value(unsigned char c)
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

static bool is_printable_ascii(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

static void append_utf8(struct buf *out, uint32_t cp)
{
	char tmp[4];
	size_t n;
	if (cp < 0x80) {
		tmp[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | (cp >> 6));
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | (cp >> 12));
		tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (char)(0xf0 | (cp >> 18));
		tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, tmp, n);
}

bool mutf7_to_utf8(const char *in, size_t len, struct buf *out)
{
	size_t i = 0;
	bool after_run = false;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];
		if (c != '&') {
			if (!is_printable_ascii(c))
				return false;
			buf_append_c(out, (char)c);
			after_run = false;
			i++;
			continue;
		}
		if (i + 1 < len && in[i + 1] == '-') {
			buf_append_c(out, '&');
			after_run = false;
			i += 2;
			continue;
		}
		if (after_run)
			return false; /* "&AOQ-&AOQ-" is "&AOQA5A-" */
		i++;
		uint32_t bits = 0, high = 0;
		unsigned nbits = 0;
		bool any = false;
		while (i < len && in[i] != '-') {
			int v = mb64_value((unsigned char)in[i]);
			if (v < 0)
				return false;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			i++;
			if (nbits < 16)
				continue;
			nbits -= 16;
			uint32_t u = (bits >> nbits) & 0xffff;
			bits &= (1u << nbits) - 1;
			uint32_t cp;
			if (high != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					return false;
				cp = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
				continue;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return false;
			} else {
				cp = u;
			}
			if (cp == 0 || is_printable_ascii(cp))
				return false;
			append_utf8(out, cp);
			any = true;
		}
		if (i == len || !any || high != 0 || nbits >= 6 || bits != 0)
			return false;
		i++; /* '-' */
		after_run = true;
	}
	return true;
}

/* One strictly valid UTF-8 sequence at in[*i]: no overlongs, no surrogates,
 * nothing past U+10FFFF. */
static bool next_utf8(const char *in, size_t len, size_t *i, uint32_t *cp_r)
{
	const unsigned char *s = (const unsigned char *)in + *i;
	size_t left = len - *i;
	unsigned char c = s[0];
	uint32_t cp;
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80) {
		*cp_r = c;
		*i += 1;
		return true;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return false;
	}
	if (left < n)
		return false;
	for (size_t k = 1; k < n; k++) {
		unsigned char cc = s[k];
		if (k == 1 ? (cc < lo || cc > hi) : (cc < 0x80 || cc > 0xbf))
			return false;
		cp = (cp << 6) | (cc & 0x3f);
	}
	*cp_r = cp;
	*i += n;
	return true;
}

bool utf8_to_mutf7(const char *in, size_t len, struct buf *out)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)in[i];
		if (is_printable_ascii(c)) {
			if (c == '&')
				buf_append(out, "&-", 2);
			else
				buf_append_c(out, (char)c);
			i++;
			continue;
		}
		/* one run for all characters up to the next printable ASCII */
		uint32_t bits = 0;
		unsigned nbits = 0;
		buf_append_c(out, '&');
		while (i < len && !is_printable_ascii((unsigned char)in[i])) {
			uint32_t cp, units[2];
			size_t n_units;
			if (!next_utf8(in, len, &i, &cp) || cp == 0)
				return false;
			if (cp >= 0x10000) {
				units[0] = 0xd800 + ((cp - 0x10000) >> 10);
				units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
				n_units = 2;
			} else {
				units[0] = cp;
				n_units = 1;
			}
			for (size_t k = 0; k < n_units; k++) {
				bits = (bits << 16) | units[k];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					buf_append_c(out, mb64_chars[(bits >> nbits) & 0x3f]);
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits > 0)
			buf_append_c(out, mb64_chars[(bits << (6 - nbits)) & 0x3f]);
		buf_append_c(out, '-');
	}
	return true;
}
