/* The admin socket's line protocol (doc/admin.md), shared by objmaild
 * (src/daemon/admin.c) and the objmail tool.
 *
 * Request: one line, fields separated by TAB, ended by LF (a CR before it
 * is dropped): "COMMAND\targ1\targ2\n". Fields are non-empty and hold no
 * control characters. At most ADMIN_MAX_LINE bytes and ADMIN_MAX_ARGS
 * fields (the command included).
 *
 * Reply: any number of data lines, each "+" followed by the payload, then
 * exactly one final line: "OK" or "ERR <code> <message>". The payload never
 * holds CR or LF, so a data line can't be mistaken for the final one. */
#ifndef OM_ADMIN_PROTO_H
#define OM_ADMIN_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define ADMIN_MAX_LINE 4096
#define ADMIN_MAX_ARGS 8
/* A client stops reading a reply past this (a whole /metrics text fits). */
#define ADMIN_MAX_REPLY (16u << 20)

struct admin_request {
	size_t argc;               /* >= 1: argv[0] is the command */
	char *argv[ADMIN_MAX_ARGS];
	char *storage;             /* one allocation holding the fields */
};

/* Parse one request line (without its LF). 0, -OM_EINVAL (empty line,
 * empty field, control character) or -OM_ELIMIT (too long, too many fields).
 * On success free with admin_request_free. */
int admin_request_parse(const char *line, size_t len, struct admin_request *req_r);
void admin_request_free(struct admin_request *req);
/* Encode a request line (LF included) into out. -OM_EINVAL if a field is
 * empty or holds a control character, -OM_ELIMIT past the limits. */
int admin_request_format(const char *const *argv, size_t argc, struct buf *out);

/* Reply building: text is split at LF into one data line each (CRs are
 * dropped; a trailing LF adds no empty line). */
void admin_reply_data(struct buf *out, const char *text, size_t len);
void admin_reply_ok(struct buf *out);
/* code: one lowercase word (doc/admin.md lists them). */
void admin_reply_err(struct buf *out, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

enum admin_line_kind {
	ADMIN_LINE_DATA,  /* *text_r = payload */
	ADMIN_LINE_OK,
	ADMIN_LINE_ERR,   /* *text_r = "<code> <message>" */
	ADMIN_LINE_BAD,   /* not a reply line */
};
/* Classify one reply line (without its LF; a trailing CR is ignored).
 * *text_r / *text_len_r point into line. */
enum admin_line_kind admin_reply_line(const char *line, size_t len, const char **text_r,
				      size_t *text_len_r);

/* Progress of a long request (import, export), streamed while it runs: a
 * data line "progress<TAB>DONE<TAB>TOTAL<TAB>WHAT" (WHAT: "import maildir").
 * Requests that stream progress say so in doc/admin.md; their other data
 * lines (the result) never start with "progress<TAB>". */
void admin_reply_progress(struct buf *out, const char *what, unsigned long long done,
			  unsigned long long total);
/* Is this data line payload a progress line? Then its parts (what_r points
 * into text, what_len_r bytes). */
bool admin_progress_parse(const char *text, size_t len, unsigned long long *done_r,
			  unsigned long long *total_r, const char **what_r, size_t *what_len_r);

/* Prometheus text samples as one JSON object (the payload of cache-stats):
 * {"metrics":[{"name":..,"labels":{..},"value":N},..]}; comments are
 * skipped, NaN/Inf values become null, malformed lines are left out. */
void admin_prom_to_json(const char *text, size_t len, struct buf *out);

#endif
