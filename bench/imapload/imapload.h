/* imapload: the benchmark client of bench/run (IMAP mixed load, idle
 * sessions, LMTP fill, timed FETCH). Not part of objmail itself. */
#ifndef IMAPLOAD_H
#define IMAPLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct opts {
	const char *host;
	int port;
	int users;            /* user000 .. user{users-1} */
	const char *user_fmt; /* user name prefix: PREFIX%03d */
	const char *pass;
	int clients;
	double duration;
	unsigned seed;
	int msgs;             /* fill: per user; mixed: messages each mailbox starts with */
	int conns;            /* idle: sessions; fill: LMTP connections */
	int parallel;         /* idle: logins in flight */
	int src_addrs;        /* idle: 127.0.0.2 .. 127.0.0.(1+n) */
	int idle_hold_ms;
	int first_user;       /* fill: deliver only to users first_user.. */
	const char *user;     /* fetch/count: one user */
};

/* --- net.c: blocking connection with a buffered reader --- */
struct conn {
	int fd;
	char *buf;
	size_t cap, start, end;
	char *line;           /* last logical response, literals left out */
	size_t line_len, line_cap;
	uint64_t literal_bytes; /* literal bytes skipped in the last response */
	int n_literals;
	unsigned tag;
	long exists;          /* tracked from untagged EXISTS/EXPUNGE */
	long last_number;     /* "* N ..." of the last untagged response */
};

int net_connect(struct conn *c, const char *host, int port);
void net_close(struct conn *c);
int net_write(struct conn *c, const void *data, size_t len);
int net_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One raw line (CRLF stripped) into c->line. -1 on EOF/error. */
int net_read_line(struct conn *c);
/* One IMAP response: a line, and after each {N} literal the rest of the
 * line; literal bytes are counted, not kept. -1 on EOF/error. */
int net_read_response(struct conn *c);

/* IMAP command: writes "<tag> <cmd>\r\n" and reads up to the tagged
 * answer, tracking EXISTS/EXPUNGE. Returns 0 for OK, 1 for NO/BAD, -1 on
 * I/O error. */
int imap_cmd(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Wait for the tagged answer of tag c->tag. Same returns as imap_cmd. */
int imap_wait_tagged(struct conn *c);
void imap_track_untagged(struct conn *c);

/* --- msg.c: deterministic test messages --- */
struct rng { uint64_t s; };
void rng_seed(struct rng *r, uint64_t seed);
uint32_t rng_next(struct rng *r);
/* A message for index id (same id -> same bytes), CRLF lines, no line
 * starting with '.', size near 5 KiB. Caller frees *out. */
size_t msg_make(uint64_t id, char **out);

/* --- stats.c --- */
enum op {
	OP_LOGIN, OP_SELECT, OP_FETCH_FLAGS, OP_FETCH_ENV, OP_FETCH_BODY,
	OP_STORE, OP_SEARCH, OP_APPEND, OP_EXPUNGE, OP_IDLE, OP_LOGOUT, OP_COUNT
};
extern const char *const op_names[OP_COUNT];
struct lat { uint32_t *v; size_t n, cap; };
struct stats {
	struct lat lat[OP_COUNT];
	uint64_t errors[OP_COUNT];
	uint64_t io_errors;
	uint64_t sessions;
	char first_error[256];
};
double now_s(void);
void stats_add(struct stats *s, enum op op, double secs, int ok);
void stats_error(struct stats *s, enum op op, const char *what);
void stats_merge(struct stats *into, struct stats *from);
void stats_json(struct stats *s, double elapsed, FILE *out);
void stats_free(struct stats *s);

/* --- modes --- */
int mode_mixed(const struct opts *o);
int mode_fill(const struct opts *o);
int mode_idle(const struct opts *o);
int mode_fetch(const struct opts *o);
int mode_count(const struct opts *o);

void user_name(const struct opts *o, int i, char *out, size_t outlen);

#endif
