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

static int cmp_str(const char *a, const char *b)
{
	int c = strcmp(a != NULL ? a : "", b != NULL ? b : "");
	return c < 0 ? -1 : c > 0 ? 1 : 0;
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
