/* SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO): sort criteria and the
 * ordering of messages by them. Storage-independent: the caller fills one
 * `struct sort_item` per message from the cached sort fields. */
#ifndef OM_IMAP_SORT_H
#define OM_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"

#define SORT_MAX_KEYS 16

enum sort_key_type {
	SORT_ARRIVAL,
	SORT_CC,
	SORT_DATE,
	SORT_FROM,
	SORT_SIZE,
	SORT_SUBJECT,
	SORT_TO,
	SORT_DISPLAYFROM,
	SORT_DISPLAYTO,
};

struct sort_key {
	enum sort_key_type type;
	bool reverse;
};

struct sort_item {
	uint32_t seq, uid;
	uint64_t size;
	int64_t arrival;       /* internal date */
	int64_t date;          /* Date: header, else the internal date */
	/* folded (mime_utf8_fold); NULL = "" */
	const char *cc, *from, *to, *dfrom, *dto, *subject;
};

/* The parenthesized criteria list "(REVERSE DATE SUBJECT)". false and
 * *error_r for BAD. */
bool sort_parse_keys(const struct imap_arg *arg, struct sort_key *keys, size_t *n_r,
		     const char **error_r);
/* Do the keys need header fields (anything but ARRIVAL and SIZE)? */
bool sort_keys_need_headers(const struct sort_key *keys, size_t n);
/* Order items by the keys; ties by sequence number. */
void sort_items(struct sort_item *items, size_t n, const struct sort_key *keys, size_t n_keys);

#endif
