/* A small blocking IMAP client for `objmail import imap` (imap-client.c):
 * plain TCP or TLS (OpenSSL), tagged commands, responses read whole with
 * their literals, and a tokenizer over them. Every input is bounded. */
#ifndef OM_CLI_IMAP_CLIENT_H
#define OM_CLI_IMAP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define IMAPC_MAX_LINE (1u << 20)      /* response text outside literals */
#define IMAPC_MAX_LITERAL (256u << 20) /* one message */
#define IMAPC_TIMEOUT 120

struct imapc_url {
	bool tls;
	char *host, *port, *user, *password;
};
/* imap[s]://user:password@host[:port] (user/password %-encoded). */
int imapc_url_parse(const char *url, struct imapc_url *u, struct buf *err);
void imapc_url_free(struct imapc_url *u);

struct imapc;
/* Connect, read the greeting, LOGIN. */
int imapc_connect(const struct imapc_url *u, struct imapc **c_r, struct buf *err);
void imapc_close(struct imapc *c);

/* One response line with its literals inlined as sent ("{N}\r\n" + bytes). */
struct imapc_resp {
	struct buf raw;
	bool tagged;   /* the final response of the command */
};
/* Send "<tag> <cmd>\r\n" and call fn for every untagged response; returns
 * 0 on OK, -OM_EINVAL on NO/BAD (the text in err), -OM_EIO when the
 * connection broke. fn may return < 0 to stop (the rest is read). */
int imapc_cmd(struct imapc *c, const char *cmd,
	      int (*fn)(void *ctx, const struct imapc_resp *r), void *ctx, struct buf *err);

/* Tokenizer over raw: atoms, quoted strings, literals, NIL, '(' and ')'. */
enum imapc_tok { IMAPC_T_END, IMAPC_T_ATOM, IMAPC_T_STRING, IMAPC_T_NIL, IMAPC_T_OPEN,
		 IMAPC_T_CLOSE, IMAPC_T_BAD };
struct imapc_lex {
	const char *p, *end;
	struct buf tok;      /* atom/string text (unescaped) */
	const char *lit;     /* literal: points into raw */
	size_t lit_len;
	bool is_literal;
};
void imapc_lex_init(struct imapc_lex *l, const struct imapc_resp *r);
enum imapc_tok imapc_lex_next(struct imapc_lex *l);
void imapc_lex_free(struct imapc_lex *l);
/* Skip a value (atom/string/list) whose first token was t. */
void imapc_lex_skip(struct imapc_lex *l, enum imapc_tok t);
/* Append an IMAP string for a command (quoted, or a literal is refused). */
void imapc_quote(struct buf *out, const char *s);

#endif
