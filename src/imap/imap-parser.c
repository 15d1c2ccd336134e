/* Incremental IMAP command parser: a byte-driven state machine.
 *
 * Everything a command needs is copied as it arrives into one string arena
 * (tag, name, atoms, unescaped strings, literal bytes, each NUL-terminated)
 * plus a flat pre-order array of argument records; when the line ends the
 * records are turned into the `struct imap_arg` tree in one allocation and
 * the arena is handed over with it. So a command costs two allocations (plus
 * arena growth), and the records' array is reused.
 *
 * After a bad line the parser discards up to the line end, storing nothing;
 * it watches the discarded bytes for a trailing literal announcement, since
 * a non-synchronizing literal's bytes must be skipped too (a synchronizing
 * one is never sent without our "+", which we then don't give). */
#include "imap/imap-parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

enum pstate {
	PS_TAG_START,
	PS_TAG,
	PS_NAME_START,
	PS_NAME,
	PS_ARG_START, /* an argument, ')' or the line end may come */
	PS_ARG_SEP,   /* after an argument: SP, ')' or the line end */
	PS_ATOM,
	PS_QUOTED,
	PS_QUOTED_ESC,
	PS_TILDE,     /* '~' read: literal8 if '{' follows, else an atom */
	PS_LIT_LEN,   /* inside {...} */
	PS_LIT_EOL,   /* after '}': CRLF or LF */
	PS_LIT_DATA,
	PS_DISCARD,   /* skipping a bad line */
	PS_DISCARD_LIT, /* skipping a non-synchronizing literal of a bad line */
};

/* One argument while parsing; lists count their direct children. */
struct parg {
	enum imap_arg_type type;
	bool literal8;
	size_t off, len;     /* in the arena */
	size_t parent;       /* index of the enclosing list, NO_PARENT at top */
	size_t ordinal;      /* position among the parent's children */
	size_t count;        /* lists: direct children */
	size_t base;         /* lists, while building: slot of child 0 */
};
#define NO_PARENT SIZE_MAX
#define LITERAL_PREALLOC (1024 * 1024)

/* The command and its argument array in one block; the arena beside it. */
struct cmd_block {
	struct imap_command cmd;
	char *arena;
	struct imap_arg args[];
};

struct imap_parser {
	struct imap_parser_limits lim;
	enum pstate state;
	bool cr_pending;      /* CR seen where a line may end: LF must follow */

	struct buf arena;
	size_t tag_off, tag_len;
	size_t name_off, name_len;
	bool have_tag;

	struct parg *pargs;
	size_t n_pargs, alloc_pargs;
	size_t n_top;
	size_t *stack;        /* open lists, indexes into pargs */
	unsigned depth;
	size_t stack_alloc;

	size_t line_len;      /* bytes outside literals */
	uint64_t lit_total;   /* literal bytes of this command */
	uint64_t lit_len;     /* literal being announced / read */
	uint64_t lit_left;
	bool lit_nonsync;
	bool lit_digits;
	bool lit8;
	unsigned bracket;     /* '[' depth inside an atom */

	/* discarding a bad line: the announcement tracker */
	int trk;              /* 0 nothing, 1 inside {digits, 2 after '}' */
	uint64_t trk_n;
	bool trk_plus;

	const char *error;
	struct buf err_tag;
	bool have_err_tag;
	bool last_was_error;

	struct imap_command *ready;
};

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = om_calloc(1, sizeof(*p));
	p->lim = *limits;
	buf_init(&p->arena);
	buf_init(&p->err_tag);
	return p;
}

void imap_parser_free(struct imap_parser *p)
{
	if (p == NULL)
		return;
	buf_free(&p->arena);
	buf_free(&p->err_tag);
	free(p->pargs);
	free(p->stack);
	imap_command_free(p->ready);
	free(p);
}

void imap_command_free(struct imap_command *cmd)
{
	if (cmd == NULL)
		return;
	struct cmd_block *blk = (struct cmd_block *)cmd;
	free(blk->arena);
	free(blk);
}

struct imap_command *imap_parser_take(struct imap_parser *p)
{
	struct imap_command *cmd = p->ready;
	p->ready = NULL;
	return cmd;
}

const char *imap_parser_error(const struct imap_parser *p)
{
	return p->error != NULL ? p->error : "Parse error";
}

const char *imap_parser_error_tag(const struct imap_parser *p)
{
	return p->have_err_tag ? buf_cstr(&p->err_tag) : NULL;
}

static void reset_command(struct imap_parser *p)
{
	p->state = PS_TAG_START;
	p->cr_pending = false;
	buf_reset(&p->arena);
	p->have_tag = false;
	p->tag_off = p->tag_len = p->name_off = p->name_len = 0;
	p->n_pargs = 0;
	p->n_top = 0;
	p->depth = 0;
	p->line_len = 0;
	p->lit_total = 0;
	p->bracket = 0;
}

/* Enter discard mode. The byte being looked at is NOT consumed: the
 * discarder sees it (it may be the line's LF). */
static void fail(struct imap_parser *p, const char *msg)
{
	p->error = msg;
	buf_reset(&p->err_tag);
	p->have_err_tag = false;
	if (p->have_tag) {
		buf_append(&p->err_tag, p->arena.data + p->tag_off, p->tag_len);
		p->have_err_tag = true;
	}
	p->state = PS_DISCARD;
	p->cr_pending = false;
	p->trk = 0;
	p->trk_n = 0;
	p->trk_plus = false;
}

static bool is_append(const struct imap_parser *p)
{
	return p->name_len == 6 && memcmp(p->arena.data + p->name_off, "APPEND", 6) == 0;
}

static uint64_t literal_limit(const struct imap_parser *p)
{
	return is_append(p) ? p->lim.max_literal : p->lim.max_small_literal;
}

/* Tag: ASTRING-CHAR except '+' (RFC 3501 tag). */
static bool is_tag_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case '+':
		return false;
	default:
		return true;
	}
}

/* Bytes that may continue an atom outside brackets. Lenient by design:
 * '*', '%', '\\' (flags) and ']' appear in real arguments, 8-bit in UTF-8
 * mailbox names. */
static bool is_atom_char(unsigned char c)
{
	if (c < 0x20 || c == 0x7f)
		return false;
	switch (c) {
	case ' ': case '(': case ')': case '"': case '[':
		return false;
	default:
		return true;
	}
}

/* The byte c will be looked at again (by another state): undo its count. */
static void uncount(struct imap_parser *p, unsigned char c)
{
	if (c != '\r' && c != '\n' && p->line_len > 0)
		p->line_len--;
}

static struct parg *add_arg(struct imap_parser *p, enum imap_arg_type type)
{
	if (p->n_pargs >= p->lim.max_args) {
		fail(p, "Too many arguments");
		return NULL;
	}
	if (p->n_pargs == p->alloc_pargs) {
		size_t n = p->alloc_pargs ? p->alloc_pargs * 2 : 16;
		p->pargs = om_reallocarray(p->pargs, n, sizeof(*p->pargs));
		p->alloc_pargs = n;
	}
	struct parg *a = &p->pargs[p->n_pargs++];
	a->type = type;
	a->literal8 = false;
	a->off = p->arena.len;
	a->len = 0;
	a->count = 0;
	a->base = 0;
	if (p->depth == 0) {
		a->parent = NO_PARENT;
		a->ordinal = p->n_top++;
	} else {
		struct parg *parent = &p->pargs[p->stack[p->depth - 1]];
		a->parent = p->stack[p->depth - 1];
		a->ordinal = parent->count++;
	}
	return a;
}

static struct parg *cur_arg(struct imap_parser *p)
{
	return &p->pargs[p->n_pargs - 1];
}

/* Close the string of the last argument: record its length, add the NUL. */
static void end_string(struct imap_parser *p)
{
	struct parg *a = cur_arg(p);
	a->len = p->arena.len - a->off;
	buf_append_c(&p->arena, '\0');
}

static void end_atom(struct imap_parser *p)
{
	end_string(p);
	struct parg *a = cur_arg(p);
	if (a->len == 3 && om_mem_ieq(p->arena.data + a->off, 3, "NIL"))
		a->type = IMAP_ARG_NIL;
}

static bool open_list(struct imap_parser *p)
{
	if (p->depth >= p->lim.max_depth) {
		fail(p, "Too deep nesting");
		return false;
	}
	if (add_arg(p, IMAP_ARG_LIST) == NULL)
		return false;
	if (p->depth == p->stack_alloc) {
		size_t n = p->stack_alloc ? p->stack_alloc * 2 : 8;
		p->stack = om_reallocarray(p->stack, n, sizeof(*p->stack));
		p->stack_alloc = n;
	}
	p->stack[p->depth++] = p->n_pargs - 1;
	return true;
}

/* Turn the pre-order records into the tree: each list's children get a
 * contiguous slice, assigned in pre-order (a parent precedes its children). */
static struct imap_command *build_command(struct imap_parser *p)
{
	size_t n = p->n_pargs, size;
	if (__builtin_mul_overflow(n, sizeof(struct imap_arg), &size) ||
	    __builtin_add_overflow(size, sizeof(struct cmd_block), &size))
		fatal("imap parser: argument array overflow");
	struct cmd_block *blk = om_malloc(size);
	char *arena = buf_steal(&p->arena);
	size_t next_free = p->n_top;

	blk->arena = arena;
	blk->cmd.tag = arena + p->tag_off;
	blk->cmd.name = arena + p->name_off;
	blk->cmd.args = n > 0 ? blk->args : NULL;
	blk->cmd.n_args = p->n_top;
	for (size_t i = 0; i < n; i++) {
		struct parg *a = &p->pargs[i];
		size_t slot = a->parent == NO_PARENT ? a->ordinal
						     : p->pargs[a->parent].base + a->ordinal;
		struct imap_arg *out = &blk->args[slot];
		out->type = a->type;
		out->literal8 = a->literal8;
		out->list = NULL;
		out->list_count = 0;
		if (a->type == IMAP_ARG_LIST) {
			out->str = NULL;
			out->len = 0;
			a->base = next_free;
			next_free += a->count;
			out->list_count = a->count;
			if (a->count > 0)
				out->list = &blk->args[a->base];
		} else {
			out->str = arena + a->off;
			out->len = a->len;
		}
	}
	return &blk->cmd;
}

/* The line ended (LF seen) in a state where that is allowed. */
static enum imap_parse_result line_end(struct imap_parser *p)
{
	if (p->depth > 0) {
		fail(p, "Missing ')'");
		return IMAP_PARSE_MORE; /* the caller re-feeds the LF to the discarder */
	}
	imap_command_free(p->ready);
	p->ready = build_command(p);
	reset_command(p);
	return IMAP_PARSE_COMMAND;
}

/* One byte of a bad line. Returns true when the line is over. */
static bool discard_byte(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '\n':
		if (p->trk == 2 && p->trk_plus) {
			p->lit_left = p->trk_n;
			p->trk = 0;
			p->trk_n = 0;
			p->trk_plus = false;
			p->state = PS_DISCARD_LIT;
			return false;
		}
		return true;
	case '\r':
		if (p->trk != 2)
			p->trk = 0;
		return false;
	case '{':
		p->trk = 1;
		p->trk_n = 0;
		p->trk_plus = false;
		return false;
	case '}':
		p->trk = p->trk == 1 ? 2 : 0;
		return false;
	case '+':
		if (p->trk == 1)
			p->trk_plus = true;
		return false;
	default:
		if (p->trk == 1 && c >= '0' && c <= '9' && !p->trk_plus) {
			if (p->trk_n > (UINT64_MAX - 9) / 10)
				p->trk_n = UINT64_MAX;
			else
				p->trk_n = p->trk_n * 10 + (uint64_t)(c - '0');
		} else {
			p->trk = 0;
		}
		return false;
	}
}

/* '}' of a literal announcement was consumed: check the size. */
static enum imap_parse_result literal_announced(struct imap_parser *p)
{
	uint64_t limit = literal_limit(p), total;
	bool too_big = !p->lit_digits || p->lit_len > limit ||
		       __builtin_add_overflow(p->lit_total, p->lit_len, &total) || total > limit;
	if (!p->lit_digits) {
		fail(p, "Invalid literal size");
		return IMAP_PARSE_MORE;
	}
	if (too_big) {
		if (p->lit_nonsync) {
			p->error = "[TOOBIG] Literal too large";
			buf_reset(&p->err_tag);
			p->have_err_tag = false;
			reset_command(p);
			return IMAP_PARSE_FATAL;
		}
		fail(p, "[TOOBIG] Literal too large");
		/* the '}' was already consumed: tell the discarder about it */
		p->trk = 2;
		p->trk_plus = false;
		return IMAP_PARSE_MORE;
	}
	p->lit_total = total;
	struct parg *a = add_arg(p, IMAP_ARG_LITERAL);
	if (a == NULL) {
		p->trk = 2;
		p->trk_plus = p->lit_nonsync;
		p->trk_n = p->lit_len;
		return IMAP_PARSE_MORE;
	}
	a->literal8 = p->lit8;
	/* grow as the bytes come: an announcement alone must not cost memory */
	buf_reserve(&p->arena, p->lit_len < LITERAL_PREALLOC ? (size_t)p->lit_len + 1
							      : LITERAL_PREALLOC);
	p->state = PS_LIT_EOL;
	return IMAP_PARSE_MORE;
}

enum imap_parse_result imap_parser_run(struct imap_parser *p, const char *data, size_t len,
				       size_t *consumed_r)
{
	size_t i = 0;
	enum imap_parse_result res;

	if (p->last_was_error) {
		p->last_was_error = false;
		p->error = NULL;
		p->have_err_tag = false;
	}

	while (i < len) {
		unsigned char c = (unsigned char)data[i];

		/* literal data and discarding count nothing against max_line */
		if (p->state == PS_LIT_DATA) {
			size_t n = len - i;
			if (n > p->lit_left)
				n = (size_t)p->lit_left;
			buf_append(&p->arena, data + i, n);
			i += n;
			p->lit_left -= n;
			if (p->lit_left == 0) {
				end_string(p);
				p->state = PS_ARG_SEP;
			}
			continue;
		}
		if (p->state == PS_DISCARD_LIT) {
			size_t n = len - i;
			if (n > p->lit_left)
				n = (size_t)p->lit_left;
			i += n;
			p->lit_left -= n;
			if (p->lit_left == 0)
				p->state = PS_DISCARD;
			continue;
		}
		if (p->state == PS_DISCARD) {
			if (p->trk == 2 && p->trk_plus && c == '\n' &&
			    p->trk_n > literal_limit(p)) {
				p->error = "[TOOBIG] Literal too large";
				reset_command(p);
				*consumed_r = i + 1;
				return IMAP_PARSE_FATAL;
			}
			i++;
			if (discard_byte(p, c)) {
				reset_command(p);
				p->last_was_error = true;
				*consumed_r = i;
				return IMAP_PARSE_ERROR;
			}
			continue;
		}

		if (p->cr_pending) {
			if (c != '\n') {
				fail(p, "CR without LF");
				continue;
			}
			p->cr_pending = false;
		} else if (c != '\r' && c != '\n') {
			/* the line end doesn't count against max_line */
			if (++p->line_len > p->lim.max_line) {
				fail(p, "Command line too long");
				continue;
			}
		}
		if (c == '\0') {
			fail(p, "NUL byte in command");
			continue;
		}

		switch (p->state) {
		case PS_TAG_START:
			if (c == '\r') {
				p->cr_pending = true;
			} else if (c == '\n') {
				/* an empty line: ignored */
				p->cr_pending = false;
			} else if (c == ' ') {
				fail(p, "Empty tag");
				continue;
			} else if (is_tag_char(c)) {
				/* most commands fit: one allocation for their strings */
				buf_reserve(&p->arena, 256);
				p->tag_off = p->arena.len;
				buf_append_c(&p->arena, (char)c);
				p->state = PS_TAG;
			} else {
				fail(p, "Invalid tag");
				continue;
			}
			i++;
			break;
		case PS_TAG:
			if (c == ' ') {
				p->tag_len = p->arena.len - p->tag_off;
				buf_append_c(&p->arena, '\0');
				p->have_tag = true;
				p->state = PS_NAME_START;
			} else if (is_tag_char(c)) {
				buf_append_c(&p->arena, (char)c);
			} else if (c == '\r' || c == '\n') {
				p->tag_len = p->arena.len - p->tag_off;
				buf_append_c(&p->arena, '\0');
				p->have_tag = true;
				fail(p, "Missing command");
				continue;
			} else {
				fail(p, "Invalid tag");
				continue;
			}
			i++;
			break;
		case PS_NAME_START:
			if (c == ' ') {
				i++;
				break;
			}
			if (c == '\r' || c == '\n' || !is_atom_char(c)) {
				fail(p, "Missing command");
				continue;
			}
			p->name_off = p->arena.len;
			p->state = PS_NAME;
			/* fall through */
		case PS_NAME:
			if (c == ' ' || c == '\r' || c == '\n') {
				p->name_len = p->arena.len - p->name_off;
				buf_append_c(&p->arena, '\0');
				p->state = PS_ARG_SEP;
				uncount(p, c); /* the separator counts it again */
				continue;
			}
			if (!is_atom_char(c) || c == '{' || c == '*' || c == '%' || c == ']') {
				fail(p, "Invalid command name");
				continue;
			}
			if (c >= 'a' && c <= 'z')
				c = (unsigned char)(c - 'a' + 'A');
			buf_append_c(&p->arena, (char)c);
			i++;
			break;
		case PS_ARG_SEP:
			if (c == ' ') {
				p->state = PS_ARG_START;
				i++;
				break;
			}
			if (c == ')' || c == '\r' || c == '\n') {
				p->state = PS_ARG_START;
				uncount(p, c); /* ARG_START counts it again */
				continue;
			}
			fail(p, "Missing space between arguments");
			continue;
		case PS_ARG_START:
			switch (c) {
			case ' ':
				i++;
				break;
			case '\r':
				p->cr_pending = true;
				i++;
				break;
			case '\n':
				i++;
				res = line_end(p);
				if (res == IMAP_PARSE_COMMAND) {
					*consumed_r = i;
					return res;
				}
				i--; /* let the discarder see the LF */
				break;
			case '(':
				if (!open_list(p))
					continue;
				i++;
				break;
			case ')':
				if (p->depth == 0) {
					fail(p, "Unexpected ')'");
					continue;
				}
				p->depth--;
				p->state = PS_ARG_SEP;
				i++;
				break;
			case '"':
				if (add_arg(p, IMAP_ARG_STRING) == NULL)
					continue;
				p->state = PS_QUOTED;
				i++;
				break;
			case '{':
				p->lit8 = false;
				p->lit_len = 0;
				p->lit_nonsync = false;
				p->lit_digits = false;
				p->state = PS_LIT_LEN;
				i++;
				break;
			case '~':
				p->state = PS_TILDE;
				i++;
				break;
			default:
				if (!is_atom_char(c) && c != '[') {
					fail(p, "Invalid characters in atom");
					continue;
				}
				if (add_arg(p, IMAP_ARG_ATOM) == NULL)
					continue;
				p->bracket = 0;
				p->state = PS_ATOM;
				uncount(p, c); /* PS_ATOM takes this byte */
			}
			break;
		case PS_TILDE:
			if (c == '{') {
				p->lit8 = true;
				p->lit_len = 0;
				p->lit_nonsync = false;
				p->lit_digits = false;
				p->state = PS_LIT_LEN;
				i++;
				break;
			}
			if (add_arg(p, IMAP_ARG_ATOM) == NULL)
				continue;
			buf_append_c(&p->arena, '~');
			p->bracket = 0;
			p->state = PS_ATOM;
			uncount(p, c); /* counted again in PS_ATOM */
			continue;
		case PS_ATOM: {
			/* the common case: a run of plain atom bytes (data[i] was
			 * counted above; the byte after the run is not) */
			size_t start = i;
			while (i < len) {
				c = (unsigned char)data[i];
				if (p->bracket > 0) {
					if (c == ']')
						p->bracket--;
					else if (c == '[')
						p->bracket++;
					else if (c < 0x20 || c == 0x7f)
						break;
				} else if (c == '[') {
					p->bracket++;
				} else if (!is_atom_char(c)) {
					break;
				}
				i++;
			}
			size_t run = i - start;
			if (run > 0) {
				p->line_len += run - 1;
				if (p->line_len > p->lim.max_line) {
					i = start; /* the discarder looks at them */
					fail(p, "Command line too long");
					break;
				}
				buf_append(&p->arena, data + start, run);
			} else {
				uncount(p, c);
			}
			if (i == len)
				break;
			c = (unsigned char)data[i];
			if (c == ' ' || c == ')' || c == '\r' || c == '\n') {
				/* an unclosed '[' at the line end: take the atom as is */
				p->bracket = 0;
				end_atom(p);
				p->state = PS_ARG_SEP;
				break;
			}
			fail(p, c == '\0' ? "NUL byte in command" : "Invalid characters in atom");
			break;
		}
		case PS_QUOTED: {
			size_t start = i;
			while (i < len) {
				c = (unsigned char)data[i];
				if (c == '"' || c == '\\' || c == '\r' || c == '\n' || c == '\0')
					break;
				i++;
			}
			size_t run = i - start;
			if (run > 0) {
				p->line_len += run - 1;
				if (p->line_len > p->lim.max_line) {
					i = start;
					fail(p, "Command line too long");
					break;
				}
				buf_append(&p->arena, data + start, run);
			} else {
				uncount(p, c);
			}
			if (i == len)
				break;
			c = (unsigned char)data[i];
			if (++p->line_len > p->lim.max_line) {
				fail(p, "Command line too long");
				break;
			}
			if (c == '"') {
				end_string(p);
				p->state = PS_ARG_SEP;
				i++;
			} else if (c == '\\') {
				p->state = PS_QUOTED_ESC;
				i++;
			} else {
				fail(p, c == '\0' ? "NUL byte in command"
						  : "Line end inside a quoted string");
			}
			break;
		}
		case PS_QUOTED_ESC:
			if (c != '\\' && c != '"') {
				fail(p, "Invalid escape in quoted string");
				continue;
			}
			buf_append_c(&p->arena, (char)c);
			p->state = PS_QUOTED;
			i++;
			break;
		case PS_LIT_LEN:
			if (c >= '0' && c <= '9' && !p->lit_nonsync) {
				if (p->lit_len > (UINT64_MAX - 9) / 10)
					p->lit_len = UINT64_MAX;
				else
					p->lit_len = p->lit_len * 10 + (uint64_t)(c - '0');
				p->lit_digits = true;
				i++;
			} else if (c == '+' && p->lit_digits && !p->lit_nonsync) {
				p->lit_nonsync = true;
				i++;
			} else if (c == '}') {
				i++;
				res = literal_announced(p);
				if (res == IMAP_PARSE_FATAL) {
					*consumed_r = i;
					return res;
				}
			} else {
				fail(p, "Invalid literal size");
			}
			break;
		case PS_LIT_EOL:
			if (c == '\r') {
				p->cr_pending = true;
				i++;
				break;
			}
			if (c != '\n') {
				fail(p, "Missing CRLF after literal size");
				continue;
			}
			i++;
			p->lit_left = p->lit_len;
			p->state = PS_LIT_DATA;
			if (p->lit_left == 0) {
				end_string(p);
				p->state = PS_ARG_SEP;
			}
			if (!p->lit_nonsync) {
				*consumed_r = i;
				return IMAP_PARSE_CONTINUE;
			}
			break;
		default:
			fatal("imap parser: bad state %d", (int)p->state);
		}
	}
	*consumed_r = len;
	return IMAP_PARSE_MORE;
}
