/* RFC 5322 / MIME parsing of a message held in memory, and the IMAP forms
 * computed from it: ENVELOPE, BODY, BODYSTRUCTURE, section bodies, and the
 * decoded UTF-8 text that SEARCH matches against.
 *
 * The parser never fails on malformed input: it recovers the way Dovecot
 * does (missing boundary -> the rest is the part's body; missing header/body
 * separator -> all header; bad charset -> bytes kept). Nesting is bounded
 * (MIME_MAX_DEPTH); deeper parts are treated as opaque bodies. */
#ifndef OM_MIME_H
#define OM_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define MIME_MAX_DEPTH 50
#define MIME_MAX_PARTS 10000

struct mime_param {
	char *name;  /* lower-case */
	char *value; /* RFC 2231 continuations joined; still encoded as sent */
	char *raw_name; /* the name as sent (BODYSTRUCTURE prints this) */
};

struct mime_part {
	/* Offsets into the message buffer given to mime_parse. */
	size_t hdr_off, hdr_len;    /* header block, including the blank line */
	size_t body_off, body_len;  /* body, for multiparts the whole body */
	unsigned body_lines;        /* lines in the body */

	/* Content-Type; defaults text/plain (message/rfc822 inside digest). */
	char *type, *subtype;       /* as sent, e.g. "TEXT" "plain" */
	struct mime_param *params;
	size_t n_params;
	char *id, *description, *encoding; /* raw header values or NULL */
	char *md5, *disposition, *language, *location;
	struct mime_param *disp_params;
	size_t n_disp_params;

	bool is_multipart;
	bool is_message_rfc822;     /* message/rfc822 (or a headerless part of
				       multipart/digest). message/global is a
				       leaf, as in Dovecot 2.3. */
	struct mime_part *children; /* multipart: the parts; rfc822: one child,
				       the embedded message (its header+body) */
	size_t n_children;
	struct mime_part *parent;
};

struct mime_message {
	const char *data; /* not owned */
	size_t len;
	struct mime_part root; /* the message itself */
};

/* Parse data[0..len). The message must stay alive as long as the result. */
struct mime_message *mime_parse(const char *data, size_t len);
void mime_free(struct mime_message *msg);

/* Output functions append to `out`. */

/* IMAP ENVELOPE of a part's header (RFC 3501 7.4.2), e.g. for the root:
 * ("date" "subject" ((from)) ((sender)) ...). Sender/Reply-To default to From. */
void mime_envelope(const struct mime_message *msg, const struct mime_part *part, struct buf *out);
/* BODY (extended = false) or BODYSTRUCTURE (extended = true) of a part,
 * with its parentheses: "(\"text\" \"plain\" ...)". Byte-identical to
 * Dovecot 2.3 for CRLF input (sizes are of the bytes given). */
void mime_bodystructure(const struct mime_message *msg, const struct mime_part *part,
			bool extended, struct buf *out);

/* Find the part named by an IMAP section part number: "1", "1.2.3" (path of
 * n numbers, 1-based). n == 0 -> root. For a message/rfc822 part, the numbers
 * continue into the embedded message. For a non-multipart message, part 1 is
 * the root's body. NULL if there is no such part. */
const struct mime_part *mime_part_by_path(const struct mime_message *msg,
					  const unsigned *path, size_t n);

/* Header fields of a header block (HEADER.FIELDS / .NOT): each matching field
 * whole (folded lines and CRLF included), then the blank line. names are
 * matched case-insensitively. */
void mime_header_fields(const char *hdr, size_t hdr_len, const char *const *names,
			size_t n_names, bool exclude, struct buf *out);
/* First value of header `name` in a header block, unfolded, raw (not decoded).
 * false if absent. */
bool mime_header_get(const char *hdr, size_t hdr_len, const char *name, struct buf *out);
/* All values of header `name`, each unfolded and RFC 2047-decoded to UTF-8,
 * joined with "\n" (for SEARCH HEADER). false if absent. */
bool mime_header_get_all_utf8(const char *hdr, size_t hdr_len, const char *name, struct buf *out);
/* RFC 2047 encoded-words -> UTF-8 (other charsets converted via iconv;
 * raw 8-bit: valid UTF-8 sequences kept, other bytes read as latin-1). */
void mime_decode_header_utf8(const char *raw, size_t len, struct buf *out);
/* The body of a leaf part with its Content-Transfer-Encoding undone (base64,
 * quoted-printable; 7bit/8bit/binary copied). */
void mime_part_decode_body(const struct mime_message *msg, const struct mime_part *part,
			   struct buf *out);
/* Text for SEARCH: headers (decoded, "Name: value\n" each) when `headers`,
 * and the decoded UTF-8 text of every text/ * part (and message/rfc822 inside)
 * when `body`. */
void mime_search_text(const struct mime_message *msg, bool headers, bool body, struct buf *out);

/* Charset conversion to UTF-8 (iconv). Unknown charset: false, bytes copied
 * (valid UTF-8 sequences kept, other bytes read as latin-1). Bytes the
 * charset can't convert: U+FFFD. */
bool mime_charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out);
/* A parameter's value as UTF-8 (e.g. a filename): RFC 2231 "name*" values
 * charset'lang'%XX-decoded, others RFC 2047-decoded (as mailers send). */
void mime_param_value_utf8(const struct mime_param *param, struct buf *out);
/* Case-insensitive (Unicode simple folding for Latin/Greek/Cyrillic at
 * least, ASCII always) substring search on UTF-8, as SEARCH needs. */
bool mime_utf8_contains_ci(const char *haystack, size_t hlen, const char *needle, size_t nlen);
/* The case folding mime_utf8_contains_ci uses, appended to out: contains_ci
 * (h, n) is memmem(fold(h), fold(n)); folding is idempotent. */
void mime_utf8_fold(const char *s, size_t len, struct buf *out);

/* SEARCH's text in three pieces (full-text index): the root header as
 * mime_search_text(headers only) gives it, the headers of every part below
 * the root (MIME part headers, attached messages' headers), and the body
 * text as BODY matches it. TEXT matches a needle without a line break iff
 * one of the three contains it. Each is appended to its buffer. */
void mime_search_parts(const struct mime_message *msg, struct buf *hdr, struct buf *part_hdrs,
		       struct buf *body);

/* SORT / THREAD (RFC 5256, 5957) helpers. */
/* Base subject (RFC 5256 2.1) of a decoded UTF-8 subject, appended to out;
 * *is_reply_r (may be NULL): a Re:/Fwd: leader, (fwd) trailer or [fwd: ]
 * wrapper was removed. */
void mime_base_subject(const char *subject, size_t len, struct buf *out, bool *is_reply_r);
/* The first address of header `name` (From, To, Cc) of a header block:
 * its addr-mailbox (SORT FROM) and its display form (SORT DISPLAYFROM:
 * the decoded display name, else mailbox@domain). false if none. */
bool mime_first_address(const char *hdr, size_t hdr_len, const char *name,
			struct buf *mailbox_r, struct buf *display_r);

/* RFC 5322 date-time -> unix time and zone (minutes east). false if unparsable. */
bool mime_parse_date(const char *s, size_t len, long long *time_r, int *tz_r);

#endif
