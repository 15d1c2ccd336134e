/* FETCH item parsing (RFC 3501 6.4.5, 9 "fetch-att"): the argument list of
 * FETCH / UID FETCH turned into a request the renderer (imap-cmd-fetch.c)
 * walks once per message. Pure functions: no session, no storage. */
#ifndef OM_IMAP_FETCH_H
#define OM_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"

#define IMAP_FETCH_MAX_ITEMS 100    /* items of one FETCH */
#define IMAP_FETCH_MAX_FIELDS 100   /* names in one HEADER.FIELDS list */
#define IMAP_FETCH_MAX_PATH 50      /* numbers in a section part path */
#define IMAP_FETCH_MAX_PART 100000  /* one part number */
#define IMAP_FETCH_MAX_FIELD_LEN 200

enum imap_fetch_kind {
	/* answered from the view: cheap, written first (as Dovecot does) */
	IMAP_FETCH_UID,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_MODSEQ,        /* RFC 7162: "MODSEQ (n)" */
	/* need the cache or the message; written after, in request order */
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY,          /* BODY without a section: BODYSTRUCTURE w/o extensions */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_SECTION,       /* BODY[..], BODY.PEEK[..], RFC822, RFC822.HEADER/TEXT */
};

enum imap_section_spec {
	IMAP_SECTION_ALL,               /* "" (whole message) or a part number alone */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,              /* only after a part number */
};

struct imap_fetch_item {
	enum imap_fetch_kind kind;
	/* IMAP_FETCH_SECTION only: */
	enum imap_section_spec spec;
	bool peek;                      /* does not set \Seen */
	bool partial;
	uint64_t origin, count;         /* <origin.count> */
	unsigned path[IMAP_FETCH_MAX_PATH];
	size_t path_len;
	char **fields;                  /* HEADER.FIELDS names as sent */
	size_t n_fields;
	char *name;                     /* response name before the data, e.g.
					   "BODY[HEADER.FIELDS (FROM)]<0>" */
	/* BINARY[..] / BINARY.PEEK[..] (binary) or BINARY.SIZE[..]
	 * (binary_size), RFC 3516: spec is ALL, path the part */
	bool binary, binary_size;
};

struct imap_fetch_request {
	struct imap_fetch_item *items;  /* view items first, then the rest,
					   each group in request order */
	size_t n_items;
	size_t n_view_items;            /* items[0..n_view_items) are view items */
	bool want_flags;                /* FLAGS was asked for */
	bool want_modseq;               /* MODSEQ was asked for */
	bool sets_seen;                 /* a non-PEEK body item */
	bool need_message;              /* a section item (must open the message) */
	bool need_structure;            /* ENVELOPE/BODY/BODYSTRUCTURE */
};

/* Parse FETCH's arguments after the sequence set: a macro (ALL, FAST,
 * FULL), one item, or a parenthesized list of items. uid: UID FETCH (UID is
 * then always returned, first). Duplicate items are answered once.
 * On error, *error_r is a text for "BAD". */
int imap_fetch_parse(const struct imap_arg *args, size_t n_args, bool uid,
		     struct imap_fetch_request *req, const char **error_r);
/* One item: "FLAGS", "BODY.PEEK[1.HEADER.FIELDS (From \"To\")]<0.100>" ... */
int imap_fetch_parse_item(const char *str, size_t len, struct imap_fetch_item *item,
			  const char **error_r);
void imap_fetch_item_clear(struct imap_fetch_item *item);

/* --- BINARY (RFC 3516), imap-fetch-binary.c --- */
struct mime_message;
struct mime_part;
struct buf;
/* "BINARY[1.2]<0.10>", "BINARY.PEEK[..]", "BINARY.SIZE[..]". */
int imap_fetch_parse_binary(const char *str, size_t len, struct imap_fetch_item *item,
			    const char **error_r);
/* The part's body with its Content-Transfer-Encoding undone, into out. */
void imap_fetch_binary_decode(const struct mime_message *msg, const struct mime_part *part,
			      struct buf *out);
/* Append "BINARY[..] {N}\r\n" (or "~{N}" when the data holds NUL) after
 * applying the partial range to *data and *len, which then name the bytes to
 * send; for BINARY.SIZE, "BINARY.SIZE[..] N" and *len = 0. */
void imap_fetch_binary_write(const struct imap_fetch_item *it, const char **data, size_t *len,
			     struct buf *out);
void imap_fetch_request_free(struct imap_fetch_request *req);

#endif
