/* Incremental IMAP command parser (RFC 3501 section 9 grammar, RFC 7888
 * LITERAL+). Bytes are fed as they arrive; a complete command (tag, name and
 * arguments, literals included) comes out as a tree of `struct imap_arg`.
 * Every input is bounded: line length, literal size, nesting depth and
 * argument count; violations give an error, never a crash.
 *
 * Atoms may carry a bracketed part, as FETCH items and BODY[...] sections do:
 * in `BODY.PEEK[HEADER.FIELDS (From To)]<0.100>` everything from '[' to the
 * matching ']' (spaces and parentheses included) and the following atom
 * characters belong to one atom. */
#ifndef OM_IMAP_PARSER_H
#define OM_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_STRING,  /* quoted string, unescaped */
	IMAP_ARG_LITERAL, /* {N} / {N+} / ~{N} literal (may contain NUL) */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,    /* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	char *str;               /* atom/string/literal, NUL-terminated */
	size_t len;
	bool literal8;           /* ~{N} (RFC 3516) */
	struct imap_arg *list;   /* IMAP_ARG_LIST */
	size_t list_count;
};

struct imap_command {
	char *tag;
	char *name;              /* upper-cased command name */
	struct imap_arg *args;   /* arguments after the name */
	size_t n_args;
};

struct imap_parser_limits {
	size_t max_line;          /* bytes of a command outside literals (64K) */
	size_t max_literal;       /* literal size for APPEND (mail_max_size) */
	size_t max_small_literal; /* literal size for other commands (64K) */
	/* (each bounds one literal and also the sum of a command's literals) */
	unsigned max_depth;       /* list nesting (100) */
	size_t max_args;          /* arguments in all lists of one command (100000) */
};

enum imap_parse_result {
	IMAP_PARSE_MORE,     /* all given bytes consumed; need more */
	IMAP_PARSE_COMMAND,  /* a command is ready: imap_parser_take() */
	IMAP_PARSE_CONTINUE, /* a synchronizing literal was accepted: send
				"+ OK\r\n", then feed more */
	IMAP_PARSE_ERROR,    /* bad command; the bad line is consumed. Reply
				"<tag|*> BAD <imap_parser_error()>" and go on */
	IMAP_PARSE_FATAL,    /* cannot resync (e.g. an oversized non-synchronizing
				literal): reply "* BYE <error>" and close */
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser *p);
/* Feed data[0..len); *consumed_r tells how many bytes were used (the caller
 * drains them). Call again with the rest after COMMAND/CONTINUE/ERROR. */
enum imap_parse_result imap_parser_run(struct imap_parser *p, const char *data, size_t len,
				       size_t *consumed_r);
/* The ready command; the caller owns it (imap_command_free). */
struct imap_command *imap_parser_take(struct imap_parser *p);
/* For IMAP_PARSE_ERROR/FATAL: the message (may start with a response code
 * such as "[TOOBIG]") and the tag if one was read (else NULL). */
const char *imap_parser_error(const struct imap_parser *p);
const char *imap_parser_error_tag(const struct imap_parser *p);
void imap_command_free(struct imap_command *cmd);

/* --- argument helpers --- */
/* atom, string or literal: its text (NIL counts: it is the atom "NIL"). */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* string or literal (not atom, not NIL). */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* atom (NIL included). */
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r);
/* Append an IMAP string, never a bare atom: quoted "..." (with \" and \\
 * escapes) when the bytes are 7-bit without NUL/CR/LF and at most 1024 long,
 * else a {N} literal. NULL -> NIL. */
void imap_write_string(struct buf *out, const char *s, size_t len);
/* The same (nstring: NIL for NULL); kept for call sites that say nstring. */
void imap_write_nstring(struct buf *out, const char *s, size_t len);

/* --- sequence sets (RFC 3501 sequence-set) --- */
struct seq_range {
	uint32_t lo, hi; /* inclusive; '*' = UINT32_MAX; lo <= hi after parse */
};
/* "1:4,7,9:*" -> ranges. false on syntax error. Caller frees *ranges_r. */
bool imap_seqset_parse(const char *s, struct seq_range **ranges_r, size_t *n_r);

/* --- dates --- */
/* date-time "17-Jul-1996 02:44:25 -0700" (quoted string contents). */
bool imap_parse_datetime(const char *s, long long *time_r, int *tz_minutes_r);
/* date "1-Feb-1994" (SEARCH): the day's start, UTC-agnostic: y/m/d out. */
bool imap_parse_date(const char *s, int *year_r, int *month_r, int *day_r);
/* Write "17-Jul-1996 02:44:25 -0700" (with quotes) for INTERNALDATE. */
void imap_write_datetime(struct buf *out, long long t, int tz_minutes);

/* --- modified UTF-7 mailbox names: lib/mutf7.h (shared with maildir) --- */
#include "lib/mutf7.h"

#endif
