/* SEARCH programs (RFC 3501 6.4.4): the search keys of a command parsed
 * into a tree, then evaluated message by message.
 *
 * Evaluation is independent of storage: the cheap keys (flags, keywords,
 * size, internal date, sequence number, UID) read a `struct search_msg`; the
 * keys that need the message (header fields, Date:, body, text) ask a
 * `struct search_source`, which loads and parses the message only when first
 * asked. Within AND lists and ORs, cheap keys are evaluated first, so a
 * message is never opened when its flags already decide.
 *
 * Strings match as case-insensitive substrings of the decoded UTF-8 text.
 * Dates: BEFORE/ON/SINCE compare the calendar day of the internal date in
 * the zone it was stored with (internal_tz), SENTBEFORE/SENTON/SENTSINCE the
 * day of the Date: header in its own zone; a message without a parsable
 * Date: header uses its internal date instead. */
#ifndef OM_IMAP_SEARCH_H
#define OM_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"

/* Nesting of parentheses, NOT and OR together. */
#define SEARCH_MAX_DEPTH 100

enum search_parse_result {
	SEARCH_PARSE_OK,
	SEARCH_PARSE_BAD,        /* syntax: reply BAD <error> */
	SEARCH_PARSE_BADCHARSET, /* reply NO [BADCHARSET (UTF-8 US-ASCII)] ... */
};

struct search_program;

/* Parse the arguments of SEARCH (after the command name, CHARSET included).
 * On error *error_r is a static message. */
enum search_parse_result search_program_parse(const struct imap_arg *args, size_t n_args,
					      struct search_program **prog_r,
					      const char **error_r);
void search_program_free(struct search_program *prog);

/* Prepare to evaluate against one mailbox view: keyword names (index = bit
 * of search_msg.keywords), the message count ('*' of sequence sets) and the
 * highest UID ('*' of UID sets). As for FETCH, a sequence set naming a
 * message past `count` (or any message of an empty mailbox) is an error:
 * false and *error_r set. May be called again for a changed view. */
bool search_program_bind(struct search_program *prog, char *const *keywords, size_t n_keywords,
			 uint32_t count, uint32_t max_uid, const char **error_r);

/* SEARCHRES (RFC 5182): the UIDs "$" stands for (sorted; copied). A
 * program using "$" matches nothing until this is called. */
void search_program_bind_saved(struct search_program *prog, const uint32_t *uids, size_t n);
/* Does the program use the MODSEQ key (RFC 7162 3.1.5)? Then the reply
 * tells the highest modseq of the matches. */
bool search_program_has_modseq(const struct search_program *prog);

/* Does it use NEW, OLD or RECENT (keys IMAP4rev2 removed with \Recent)? */
bool search_program_uses_recent(const struct search_program *prog);

/* Does any key need the message itself (headers, body)? */
bool search_program_needs_message(const struct search_program *prog);

struct search_msg {
	uint32_t seq;            /* 1-based */
	uint32_t uid;
	uint32_t flags;          /* enum mail_flags, MAIL_RECENT included */
	uint64_t keywords;
	uint64_t size;
	int64_t internal_date;
	int32_t internal_tz;     /* minutes east of UTC */
	uint64_t modseq;         /* MODSEQ key (RFC 7162) */
};

/* Access to the message's contents; each callback may load it on first use.
 * Callbacks return false when the message has no such thing (or can't be
 * read: then no content key matches). */
struct search_source {
	void *ctx;
	/* All values of header `name`, decoded to UTF-8, joined by "\n". */
	bool (*header)(void *ctx, const char *name, struct buf *out);
	/* Decoded text of the body (with_headers false: BODY) or of the header
	 * and body (TEXT). */
	bool (*text)(void *ctx, bool with_headers, struct buf *out);
	/* The Date: header, parsed. */
	bool (*sent_date)(void *ctx, long long *time_r, int *tz_r);
	/* Case-insensitive UTF-8 substring test (mime_utf8_contains_ci). */
	bool (*contains)(const char *hay, size_t hay_len, const char *needle, size_t needle_len);
	/* Optional (full-text index, imap-fts.h): decide a non-empty string
	 * key without the text. kind 'H' (header `name`), 'B' (BODY), 'T'
	 * (TEXT). 1 matches, 0 doesn't, -1 undecided (header/text are asked). */
	int (*index_match)(void *ctx, char kind, const char *name, const char *needle,
			   size_t needle_len);
};

/* Evaluate the bound program for one message. Not thread-safe per program
 * (it keeps per-message scratch buffers). */
bool search_program_match(struct search_program *prog, const struct search_msg *msg,
			  const struct search_source *src);

#endif
