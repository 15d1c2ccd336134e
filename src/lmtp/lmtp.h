/* LMTP server (RFC 2033) with PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME,
 * SIZE and CHUNKING/BDAT.
 *
 * Two layers:
 *  - lmtp-proto.c: the protocol state machine. It reads commands and DATA /
 *    BDAT bodies from an evbuffer, writes replies through a callback, and
 *    asks its driver for the two blocking steps (recipient lookup, delivery)
 *    by returning an action. It knows nothing of passdb or storage, so it is
 *    unit-tested alone.
 *  - lmtp-server.c: the conn_handler driver: runs lookups and deliveries as
 *    conn_run() jobs against passdb and the mail storage. */
#ifndef OM_LMTP_H
#define OM_LMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/conn.h"

struct evbuffer;
struct passdb;

/* --- the server (conn handler) --- */

/* handler_ctx for lmtp_conn_handler */
struct lmtp_server {
	const struct om_config *cfg;
	struct passdb *passdb;
};

extern const struct conn_handler lmtp_conn_handler;

/* --- the protocol layer --- */

#define LMTP_MAX_LINE 4096        /* command line, CRLF included */
#define LMTP_MAX_RCPTS 1000       /* per transaction, then 452 4.5.3 */
#define LMTP_MAX_ERRORS 20        /* bad commands before we hang up */
#define LMTP_MAX_ADDR 512         /* longest address we accept */
/* Bytes kept free before the body so that the per-recipient trace headers
 * can be put in front of it without copying the message. */
#define LMTP_HEADROOM 4096

enum lmtp_action {
	LMTP_MORE,    /* need more input */
	LMTP_LOOKUP,  /* check s->pending; then lmtp_rcpt_result() */
	LMTP_DELIVER, /* deliver to every s->rcpts[i]; then lmtp_deliver_result() */
	LMTP_CLOSE,   /* hang up after the queued output */
};

struct lmtp_rcpt {
	char *addr;   /* as given in RCPT TO, without <> */
	char *user;   /* lookup key: addr with "+detail" removed */
	int result;   /* delivery result: 0 or -OM_E* */
	void *priv;   /* the driver's (freed with lmtp_session.priv_free) */
};

enum lmtp_mode { LMTP_MODE_CMD, LMTP_MODE_DATA, LMTP_MODE_BDAT, LMTP_MODE_SKIP };

struct lmtp_session {
	/* set by the driver before lmtp_session_init's caller uses it */
	const char *hostname;
	uint64_t max_size;          /* of the message body */
	const char *delimiter;      /* recipient_delimiter; "" = none */
	void (*write)(void *ctx, const char *data, size_t len);
	void *write_ctx;
	void (*priv_free)(void *priv);

	/* state */
	char *lhlo;                 /* LHLO argument; NULL before LHLO */
	char *sender;               /* MAIL FROM path ("" = null sender); NULL = no transaction */
	uint64_t size_param;        /* MAIL FROM SIZE=, 0 if not given */
	struct lmtp_rcpt *rcpts;
	size_t n_rcpts, alloc_rcpts;
	struct lmtp_rcpt pending;   /* RCPT being looked up */
	bool lookup_pending;
	enum lmtp_mode mode;
	bool at_line_start;         /* DATA: next byte starts a line */
	bool bdat_used;             /* this transaction uses BDAT (no DATA) */
	bool bdat_last;             /* the chunk being read is the LAST one */
	bool too_big;               /* body went over max_size: discard, fail at end */
	bool skip_to_eol;           /* dropping the rest of an over-long command line */
	uint64_t chunk_left;        /* BDAT / SKIP: bytes still to read */
	struct buf body;            /* LMTP_HEADROOM bytes, then the message */
	unsigned errors;
	unsigned transactions;
};

void lmtp_session_init(struct lmtp_session *s);
void lmtp_session_free(struct lmtp_session *s);
void lmtp_greeting(struct lmtp_session *s);
/* Handle as much input as possible; stop at an action. */
enum lmtp_action lmtp_process(struct lmtp_session *s, struct evbuffer *in);
/* Result of LMTP_LOOKUP: 0 (priv is kept with the recipient), -OM_ENOTFOUND,
 * -OM_EQUOTA, -OM_EINVAL, or anything else (temporary failure). */
void lmtp_rcpt_result(struct lmtp_session *s, int result, void *priv);
/* After LMTP_DELIVER: one reply per recipient from rcpts[i].result, then
 * the transaction is reset. id goes into "250 2.0.0 <addr> <id> Saved". */
void lmtp_deliver_result(struct lmtp_session *s, const char *id);
/* The message body (after the headroom). */
const char *lmtp_body(const struct lmtp_session *s, size_t *len_r);
/* One reply line; CRLF is added. */
void lmtp_reply(struct lmtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Strip "+detail" from the local part (any char of delim starts it). */
char *lmtp_strip_detail(const char *addr, const char *delim);

#endif
