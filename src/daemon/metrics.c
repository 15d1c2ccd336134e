/* /metrics: the Prometheus text exposition format (version 0.0.4) over a
 * deliberately small HTTP/1.x server: one GET per connection, request head
 * bounded, Connection: close. The body is built on a worker (the storage
 * layer's figures may take locks). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "daemon/admin.h"
#include "director/director.h"
#include "imap/imap-registry.h"
#include "lib/log.h"
#include "lib/stats.h"
#include "storage/mail-storage.h"

#define METRICS_MAX_REQUEST 8192
#define METRICS_TIMEOUT 10

static time_t start_time;

/* --- the text --- */

void metrics_init(void)
{
	start_time = time(NULL);
}

static void metric_head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_render(struct buf *out)
{
	metric_head(out, "objmail_up", "gauge", "1 while objmaild serves");
	buf_append_str(out, "objmail_up 1\n");
	metric_head(out, "objmail_build_info", "gauge", "objmaild version");
	buf_printf(out, "objmail_build_info{version=\"%s\"} 1\n", OBJMAIL_VERSION);
	metric_head(out, "objmail_start_time_seconds", "gauge", "when objmaild started, unix time");
	buf_printf(out, "objmail_start_time_seconds %lld\n", (long long)start_time);

	metric_head(out, "objmail_connections", "gauge", "open client connections by protocol");
	static const struct { const char *proto; enum om_gauge g; } conns[] = {
		{ "imap", OM_GAUGE_CONN_IMAP },
		{ "imaps", OM_GAUGE_CONN_IMAPS },
		{ "lmtp", OM_GAUGE_CONN_LMTP },
	};
	for (size_t i = 0; i < sizeof(conns) / sizeof(conns[0]); i++)
		buf_printf(out, "objmail_connections{protocol=\"%s\"} %lld\n", conns[i].proto,
			   (long long)om_gauge_get(conns[i].g));
	metric_head(out, "objmail_imap_sessions", "gauge", "logged-in IMAP sessions");
	buf_printf(out, "objmail_imap_sessions %zu\n", imap_registry_count());

	metric_head(out, "objmail_imap_logins_total", "counter", "IMAP LOGIN/AUTHENTICATE attempts");
	buf_printf(out, "objmail_imap_logins_total{result=\"ok\"} %llu\n",
		   (unsigned long long)om_stat_get(OM_STAT_IMAP_LOGIN_OK));
	buf_printf(out, "objmail_imap_logins_total{result=\"failed\"} %llu\n",
		   (unsigned long long)om_stat_get(OM_STAT_IMAP_LOGIN_FAILED));

	metric_head(out, "objmail_lmtp_deliveries_total", "counter",
		    "LMTP deliveries per recipient by reply class");
	static const struct { const char *result; enum om_stat s; } lmtp[] = {
		{ "ok", OM_STAT_LMTP_DELIVERY_OK },
		{ "tempfail", OM_STAT_LMTP_DELIVERY_TEMPFAIL },
		{ "permfail", OM_STAT_LMTP_DELIVERY_PERMFAIL },
	};
	for (size_t i = 0; i < sizeof(lmtp) / sizeof(lmtp[0]); i++)
		buf_printf(out, "objmail_lmtp_deliveries_total{result=\"%s\"} %llu\n",
			   lmtp[i].result, (unsigned long long)om_stat_get(lmtp[i].s));

	mail_storage_metrics(out);
	director_metrics(out); /* nothing unless role = director */
}

/* --- HTTP --- */

struct metrics_session {
	struct conn *conn;
	bool answered;
	bool head_only;
};

static void http_reply(struct conn *c, const char *status, const char *ctype,
		       const char *body, size_t body_len, bool head_only)
{
	struct buf out = BUF_INIT;
	buf_printf(&out,
		   "HTTP/1.1 %s\r\n"
		   "Content-Type: %s\r\n"
		   "Content-Length: %zu\r\n"
		   "Cache-Control: no-store\r\n"
		   "Connection: close\r\n\r\n",
		   status, ctype, body_len);
	if (!head_only)
		buf_append(&out, body, body_len);
	conn_write(c, out.data, out.len);
	buf_free(&out);
}

static void http_error(struct metrics_session *s, const char *status)
{
	struct buf body = BUF_INIT;
	buf_printf(&body, "%s\n", status);
	http_reply(s->conn, status, "text/plain; charset=utf-8", body.data, body.len, false);
	buf_free(&body);
	s->answered = true;
	conn_close(s->conn);
}

static void metrics_job(void *arg)
{
	struct metrics_session *s = arg;
	struct buf body = BUF_INIT;
	metrics_render(&body);
	http_reply(s->conn, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body.data,
		   body.len, s->head_only);
	buf_free(&body);
}

static void metrics_job_done(void *arg)
{
	struct metrics_session *s = arg;
	conn_close(s->conn);
}

static void *metrics_on_open(struct conn *c, void *handler_ctx)
{
	(void)handler_ctx;
	struct metrics_session *s = om_calloc(1, sizeof(*s));
	s->conn = c;
	conn_set_timeout(c, METRICS_TIMEOUT);
	return s;
}

/* The request head is complete in `in`: answer it. */
static void metrics_request(struct metrics_session *s, const char *head, size_t len)
{
	const char *eol = memchr(head, '\n', len);
	size_t line_len = eol != NULL ? (size_t)(eol - head) : len;
	if (line_len > 0 && head[line_len - 1] == '\r')
		line_len--;
	char line[1024];
	if (line_len >= sizeof(line)) {
		http_error(s, "414 URI Too Long");
		return;
	}
	memcpy(line, head, line_len);
	line[line_len] = '\0';
	char *method = line;
	char *sp1 = strchr(method, ' ');
	char *target = sp1 != NULL ? sp1 + 1 : NULL;
	char *sp2 = target != NULL ? strchr(target, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		http_error(s, "400 Bad Request");
		return;
	}
	*sp1 = '\0';
	*sp2 = '\0';
	bool head_only = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head_only) {
		http_error(s, "405 Method Not Allowed");
		return;
	}
	size_t path_len = strcspn(target, "?");
	if (path_len != 8 || strncmp(target, "/metrics", 8) != 0) {
		http_error(s, "404 Not Found");
		return;
	}
	s->answered = true;
	s->head_only = head_only;
	conn_run(s->conn, metrics_job, metrics_job_done, s);
}

static void metrics_on_input(struct conn *c, void *session)
{
	struct metrics_session *s = session;
	struct evbuffer *in = conn_input(c);
	if (s->answered || conn_is_closing(c)) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	size_t have = evbuffer_get_length(in);
	size_t look = have < METRICS_MAX_REQUEST ? have : METRICS_MAX_REQUEST;
	const char *data = (const char *)evbuffer_pullup(in, (ssize_t)look);
	size_t head_len = 0;
	for (size_t i = 0; i + 1 < look && head_len == 0; i++) {
		if (data[i] != '\n')
			continue;
		if (data[i + 1] == '\n')
			head_len = i + 2;
		else if (i + 2 < look && data[i + 1] == '\r' && data[i + 2] == '\n')
			head_len = i + 3;
	}
	if (head_len == 0) {
		if (have >= METRICS_MAX_REQUEST) {
			/* what was read is dropped; more still in flight may make
			 * the peer see a reset instead of the reply */
			evbuffer_drain(in, have);
			http_error(s, "431 Request Header Fields Too Large");
		}
		return;
	}
	char *head = om_strndup(data, head_len);
	evbuffer_drain(in, evbuffer_get_length(in));
	metrics_request(s, head, head_len);
	free(head);
}

static void metrics_on_close(struct conn *c, void *session)
{
	(void)c;
	free(session);
}

const struct conn_handler metrics_conn_handler = {
	.name = "metrics",
	.on_open = metrics_on_open,
	.on_input = metrics_on_input,
	.on_close = metrics_on_close,
};
