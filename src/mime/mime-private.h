/* Internals shared by the MIME module's files: an RFC 822 tokenizer (the
 * lexical rules Dovecot uses, so our ENVELOPE/BODYSTRUCTURE strings come
 * out identical), header-block iteration and IMAP string writers. */
#ifndef OM_MIME_PRIVATE_H
#define OM_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "mime/mime.h"

/* RFC 2046 caps boundaries at 70 chars; allow some slack like Dovecot. */
#define MIME_BOUNDARY_MAX_LEN 80
/* Bound on parameters per header and addresses per header we keep. */
#define MIME_MAX_PARAMS 256
#define MIME_MAX_ADDRESSES 10000

/* ---- RFC 822 tokenizer (mime-rfc822.c) ---- */
struct rfc822_ctx {
	const unsigned char *data, *end;
	struct buf *last_comment; /* NULL = don't keep comments */
	bool nul_replacement;     /* NUL in quoted/comment text -> U+FFFD */
};

void rfc822_init(struct rfc822_ctx *c, const char *data, size_t len, struct buf *last_comment);
/* The rfc822_* parsers return 1 = ok and more input follows, 0 = ok and at
 * the end, -1 = syntax error. Output is appended to out. */
int rfc822_skip_lwsp(struct rfc822_ctx *c);
int rfc822_parse_atom(struct rfc822_ctx *c, struct buf *out);
int rfc822_parse_dot_atom(struct rfc822_ctx *c, struct buf *out);
int rfc822_parse_mime_token(struct rfc822_ctx *c, struct buf *out);
int rfc822_parse_quoted_string(struct rfc822_ctx *c, struct buf *out);
int rfc822_parse_phrase(struct rfc822_ctx *c, struct buf *out);
int rfc822_parse_domain(struct rfc822_ctx *c, struct buf *out);
int rfc822_parse_content_type(struct rfc822_ctx *c, struct buf *out);
bool rfc822_is_atext(unsigned char ch);

/* ";"-separated MIME parameters with RFC 2231 continuations merged. */
void mime_params_parse(struct rfc822_ctx *c, struct mime_param **params_r, size_t *n_r);
void mime_params_free(struct mime_param *params, size_t n);

/* ---- header blocks (mime-header.c) ---- */
struct mime_hdr_iter {
	const char *p, *end;
	bool all_lines; /* also return lines without ':' (for HEADER.FIELDS) */
};

struct mime_hdr_field {
	const char *start;      /* whole field: name, folded lines, newline */
	size_t len;
	const char *name;       /* LWSP before ':' dropped */
	size_t name_len;
	const char *value;      /* after ':' and leading LWSP, folds kept */
	size_t value_len;       /* final newline excluded */
	bool has_colon;         /* false: a line without ':' (name = line) */
};

void mime_hdr_iter_init(struct mime_hdr_iter *it, const char *hdr, size_t len);
/* false at the blank line or the end of the block. Lines without ':' are
 * skipped (Dovecot ignores them) unless it->all_lines. */
bool mime_hdr_iter_next(struct mime_hdr_iter *it, struct mime_hdr_field *f);
bool mime_hdr_name_is(const struct mime_hdr_field *f, const char *name);
/* Value with CR and LF dropped (folds keep their whitespace), NUL -> 0x80. */
void mime_hdr_value_unfold(const char *v, size_t len, struct buf *out);

/* ---- IMAP strings (mime-imap-string.c) ---- */
/* NIL (s == NULL), "quoted" or {n}\r\n literal, as Dovecot chooses. */
void mime_imap_nstring(struct buf *out, const char *s, size_t len);
void mime_imap_nstring_z(struct buf *out, const char *s);
/* Like nstring, but CR/LF removed first (Content-ID, -Description, ...). */
void mime_imap_nstring_nolf(struct buf *out, const char *s);
/* Whitespace runs collapsed to one space, trimmed (Subject, names). */
void mime_imap_string_for_humans(struct buf *out, const char *s, size_t len);

/* ---- addresses (mime-address.c) ---- */
struct mime_address {
	char *name, *route, *mailbox, *domain; /* NULL = NIL */
};

struct mime_address_list {
	struct mime_address *addrs;
	size_t n;
};

/* Appends the addresses of a header value to list (groups as Dovecot
 * represents them; missing parts filled with MISSING_MAILBOX/_DOMAIN). */
void mime_address_parse(const char *value, size_t len, struct mime_address_list *list);
void mime_address_list_free(struct mime_address_list *list);
void mime_address_list_write(struct buf *out, const struct mime_address_list *list);

/* ---- decoding (mime-decode.c) ---- */
void mime_base64_decode(const char *in, size_t len, struct buf *out);
void mime_qp_decode(const char *in, size_t len, bool header_q, struct buf *out);
/* Copy bytes: valid UTF-8 sequences kept, any other byte read as latin-1. */
void mime_utf8_sanitize(const char *in, size_t len, struct buf *out);

/* ---- parts (mime-parse.c) ---- */
/* The part's body as text: transfer encoding undone, charset -> UTF-8. */
void mime_part_text_utf8(const struct mime_message *msg, const struct mime_part *part,
			 struct buf *out);
const char *mime_param_find(const struct mime_param *params, size_t n, const char *name);

#endif
