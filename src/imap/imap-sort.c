/* Sorting messages by SORT criteria (imap-sort.h). Strings compare as
 * their folded UTF-8 bytes (code point order of the case-folded text, the
 * effect of i;unicode-casemap for the scripts folding knows); a missing
 * field is the empty string and sorts first. */
#include "imap/imap-sort.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

static const struct {
	const char *name;
	enum sort_key_type type;
} key_names[] = {
	{ "ARRIVAL", SORT_ARRIVAL }, { "CC", SORT_CC },     { "DATE", SORT_DATE },
	{ "FROM", SORT_FROM },       { "SIZE", SORT_SIZE }, { "SUBJECT", SORT_SUBJECT },
	{ "TO", SORT_TO },           { "DISPLAYFROM", SORT_DISPLAYFROM },
	{ "DISPLAYTO", SORT_DISPLAYTO },
};

bool sort_parse_keys(const struct imap_arg *arg, struct sort_key *keys, size_t *n_r,
		     const char **error_r)
{
	size_t n = 0;
	bool reverse = false;

	if (arg == NULL || arg->type != IMAP_ARG_LIST || arg->list_count == 0) {
		*error_r = "Sort criteria must be a non-empty list";
		return false;
	}
	for (size_t i = 0; i < arg->list_count; i++) {
		const char *atom;
		if (!imap_arg_get_atom(&arg->list[i], &atom)) {
			*error_r = "Invalid sort criterion";
			return false;
		}
		if (om_str_ieq(atom, "REVERSE")) {
			if (reverse) {
				*error_r = "REVERSE twice";
				return false;
			}
			reverse = true;
			continue;
		}
		size_t k;
		for (k = 0; k < sizeof(key_names) / sizeof(key_names[0]); k++) {
			if (om_str_ieq(atom, key_names[k].name))
				break;
		}
		if (k == sizeof(key_names) / sizeof(key_names[0])) {
			*error_r = "Unknown sort criterion";
			return false;
		}
		if (n == SORT_MAX_KEYS) {
			*error_r = "Too many sort criteria";
			return false;
		}
		keys[n].type = key_names[k].type;
		keys[n].reverse = reverse;
		reverse = false;
		n++;
	}
	if (reverse || n == 0) {
		*error_r = "REVERSE without a criterion";
		return false;
	}
	*n_r = n;
	return true;
}

bool sort_keys_need_headers(const struct sort_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (keys[i].type != SORT_ARRIVAL && keys[i].type != SORT_SIZE)
			return true;
	}
	return false;
}

static int cmp_num(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

/* Canonical decompositions of U+00C0..U+017F as i;unicode-casemap sees
 * them: base letter (0 = none) and combining mark (U+03xx low byte). */
static const char latin_base[] =
	"AAAAAA\0CEEEEIIII\0NOOOOO\0\0UUUUY\0\0" /* C0-DF */
	"aaaaaa\0ceeeeiiii\0nooooo\0\0uuuuy\0y" /* E0-FF */
	"AaAaAaCcCcCcCcDd\0\0EeEeEeEeEeGgGg" /* 100-11F */
	"GgGgHh\0\0IiIiIiIiI\0\0\0JjKk\0LlLlLl\0" /* 120-13F */
	"\0\0\0NnNnNn\0\0\0OoOoOo\0\0RrRrRrSsSsSs" /* 140-15F */
	"SsTtTt\0\0UuUuUuUuUuUuWwYyYZzZzZz\0" /* 160-17F */;
static const unsigned char latin_mark[] = {
	0x00, 0x01, 0x02, 0x03, 0x08, 0x0a, 0x00, 0x27, 0x00, 0x01, 0x02, 0x08, 0x00, 0x01, 0x02, 0x08,
	0x00, 0x03, 0x00, 0x01, 0x02, 0x03, 0x08, 0x00, 0x00, 0x00, 0x01, 0x02, 0x08, 0x01, 0x00, 0x00,
	0x00, 0x01, 0x02, 0x03, 0x08, 0x0a, 0x00, 0x27, 0x00, 0x01, 0x02, 0x08, 0x00, 0x01, 0x02, 0x08,
	0x00, 0x03, 0x00, 0x01, 0x02, 0x03, 0x08, 0x00, 0x00, 0x00, 0x01, 0x02, 0x08, 0x01, 0x00, 0x08,
	0x04, 0x04, 0x06, 0x06, 0x28, 0x28, 0x01, 0x01, 0x02, 0x02, 0x07, 0x07, 0x0c, 0x0c, 0x0c, 0x0c,
	0x00, 0x00, 0x04, 0x04, 0x06, 0x06, 0x07, 0x07, 0x28, 0x28, 0x0c, 0x0c, 0x02, 0x02, 0x06, 0x06,
	0x07, 0x07, 0x27, 0x27, 0x02, 0x02, 0x00, 0x00, 0x03, 0x03, 0x04, 0x04, 0x06, 0x06, 0x28, 0x28,
	0x07, 0x00, 0x00, 0x00, 0x02, 0x02, 0x27, 0x27, 0x00, 0x01, 0x01, 0x27, 0x27, 0x0c, 0x0c, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x01, 0x27, 0x27, 0x0c, 0x0c, 0x00, 0x00, 0x00, 0x04, 0x04, 0x06, 0x06,
	0x0b, 0x0b, 0x00, 0x00, 0x01, 0x01, 0x27, 0x27, 0x0c, 0x0c, 0x01, 0x01, 0x02, 0x02, 0x27, 0x27,
	0x0c, 0x0c, 0x27, 0x27, 0x0c, 0x0c, 0x00, 0x00, 0x03, 0x03, 0x04, 0x04, 0x06, 0x06, 0x0a, 0x0a,
	0x0b, 0x0b, 0x28, 0x28, 0x02, 0x02, 0x02, 0x02, 0x08, 0x01, 0x01, 0x07, 0x07, 0x0c, 0x0c, 0x00,
};

/* Code points of a folded string as i;unicode-casemap compares them:
 * titlecase (upper-case ASCII) and Latin letters decomposed into base
 * letter + combining mark. */
struct cp_iter {
	const unsigned char *p;
	unsigned pending; /* a combining mark still to return, or 0 */
};

static unsigned next_cp(struct cp_iter *it)
{
	if (it->pending != 0) {
		unsigned cp = it->pending;
		it->pending = 0;
		return cp;
	}
	const unsigned char *p = it->p;
	if (*p == '\0')
		return 0;
	unsigned cp = *p++;
	if (cp >= 0xc0 && cp < 0xe0 && (*p & 0xc0) == 0x80) {
		cp = ((cp & 0x1f) << 6) | (*p++ & 0x3f);
	} else if (cp >= 0xe0 && cp < 0xf0 && (p[0] & 0xc0) == 0x80 && (p[1] & 0xc0) == 0x80) {
		cp = ((cp & 0x0f) << 12) | ((unsigned)(p[0] & 0x3f) << 6) | (p[1] & 0x3f);
		p += 2;
	} else if (cp >= 0xf0 && (p[0] & 0xc0) == 0x80 && (p[1] & 0xc0) == 0x80 &&
		   (p[2] & 0xc0) == 0x80) {
		cp = ((cp & 0x07) << 18) | ((unsigned)(p[0] & 0x3f) << 12) |
		     ((unsigned)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
		p += 3;
	}
	it->p = p;
	if (cp >= 0xc0 && cp <= 0x17f && latin_base[cp - 0xc0] != '\0') {
		it->pending = 0x300 | latin_mark[cp - 0xc0];
		cp = (unsigned char)latin_base[cp - 0xc0];
	}
	if (cp >= 'a' && cp <= 'z')
		cp -= 32;
	return cp;
}

static int cmp_str(const char *a, const char *b)
{
	struct cp_iter x = { (const unsigned char *)(a != NULL ? a : ""), 0 };
	struct cp_iter y = { (const unsigned char *)(b != NULL ? b : ""), 0 };
	for (;;) {
		unsigned ca = next_cp(&x), cb = next_cp(&y);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca == 0)
			return 0;
	}
}

static int cmp_key(const struct sort_item *a, const struct sort_item *b, enum sort_key_type t)
{
	switch (t) {
	case SORT_ARRIVAL:
		return cmp_num(a->arrival, b->arrival);
	case SORT_CC:
		return cmp_str(a->cc, b->cc);
	case SORT_DATE:
		return cmp_num(a->date, b->date);
	case SORT_FROM:
		return cmp_str(a->from, b->from);
	case SORT_SIZE:
		return a->size < b->size ? -1 : a->size > b->size ? 1 : 0;
	case SORT_SUBJECT:
		return cmp_str(a->subject, b->subject);
	case SORT_TO:
		return cmp_str(a->to, b->to);
	case SORT_DISPLAYFROM:
		return cmp_str(a->dfrom, b->dfrom);
	case SORT_DISPLAYTO:
		return cmp_str(a->dto, b->dto);
	}
	return 0;
}

/* qsort has no context argument in C11: merge sort with one. */
static int cmp_items(const struct sort_item *a, const struct sort_item *b,
		     const struct sort_key *keys, size_t n_keys)
{
	for (size_t i = 0; i < n_keys; i++) {
		int c = cmp_key(a, b, keys[i].type);
		if (c != 0)
			return keys[i].reverse ? -c : c;
	}
	return cmp_num(a->seq, b->seq);
}

static void merge_sort(struct sort_item *items, struct sort_item *tmp, size_t n,
		       const struct sort_key *keys, size_t n_keys)
{
	if (n < 2)
		return;
	size_t mid = n / 2;
	merge_sort(items, tmp, mid, keys, n_keys);
	merge_sort(items + mid, tmp, n - mid, keys, n_keys);
	size_t i = 0, j = mid, k = 0;
	while (i < mid && j < n) {
		if (cmp_items(&items[j], &items[i], keys, n_keys) < 0)
			tmp[k++] = items[j++];
		else
			tmp[k++] = items[i++];
	}
	while (i < mid)
		tmp[k++] = items[i++];
	while (j < n)
		tmp[k++] = items[j++];
	memcpy(items, tmp, n * sizeof(*items));
}

void sort_items(struct sort_item *items, size_t n, const struct sort_key *keys, size_t n_keys)
{
	if (n < 2)
		return;
	struct sort_item *tmp = om_calloc(n, sizeof(*tmp));
	merge_sort(items, tmp, n, keys, n_keys);
	free(tmp);
}
