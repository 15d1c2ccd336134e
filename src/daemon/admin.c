/* The admin socket: one request line at a time (lib/admin-proto.h), each
 * run as a conn_run() job, since flush, stats and imports touch storage and
 * must not block the loop. Requests on one connection run in order. A job
 * may write data lines while it runs (import progress), the rest of the
 * reply when it ends; the idle timeout does not run meanwhile.
 *
 * Listing commands (who, cache-stats) answer one JSON data line; given the
 * extra field "text" they answer human-readable lines instead, so that the
 * objmail tool needs no JSON parser. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "daemon/admin.h"
#include "daemon/daemon.h"
#include "director/director.h"
#include "imap/imap-registry.h"
#include "lib/admin-proto.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "lib/stats.h"
#include "storage/mail-storage.h"

#define ADMIN_IDLE_TIMEOUT 300
/* `who` lists at most this many sessions (the reply must stay bounded). */
#define ADMIN_WHO_MAX 100000

struct admin_session {
	struct conn *conn;
	struct admin_server *server;
	bool close_after;
	/* "mail-data" uploads for the next "mail ... save" (one job at a time
	 * per connection, so no lock) */
	struct buf upload;
};

/* Biggest message `objmail save` may upload. */
#define ADMIN_UPLOAD_MAX (256u << 20)

struct admin_job {
	struct admin_session *sess;
	struct admin_request req;
	struct buf out;
};

struct admin_command {
	const char *name;
	size_t min_args, max_args; /* after the command word */
	const char *usage;
	void (*run)(struct admin_job *job);
};

static bool want_text(const struct admin_job *job, size_t pos)
{
	return job->req.argc > pos && strcmp(job->req.argv[pos], "text") == 0;
}

static void cmd_ping(struct admin_job *job)
{
	admin_reply_data(&job->out, OBJMAIL_VERSION, strlen(OBJMAIL_VERSION));
	admin_reply_ok(&job->out);
}

static void cmd_quit(struct admin_job *job)
{
	job->sess->close_after = true;
	admin_reply_ok(&job->out);
}

static void cmd_flush(struct admin_job *job)
{
	const char *user = job->req.argc > 1 ? job->req.argv[1] : NULL;
	int r = mail_storage_flush(user);
	if (r == -OM_ENOTFOUND && user != NULL) {
		admin_reply_err(&job->out, "notfound", "%s is not open here: nothing to flush", user);
		return;
	}
	if (r < 0) {
		log_warn("admin: flush %s failed: %s", user != NULL ? user : "(all)",
			 om_strerror(r));
		admin_reply_err(&job->out, r == -OM_ETEMP ? "temporary" : "failed",
				"flush failed: %s", om_strerror(r));
		return;
	}
	log_info("admin: flushed %s", user != NULL ? user : "every open user");
	admin_reply_ok(&job->out);
}

static void cmd_stats(struct admin_job *job)
{
	struct buf text = BUF_INIT;
	metrics_render(&text);
	admin_reply_data(&job->out, text.data, text.len);
	admin_reply_ok(&job->out);
	buf_free(&text);
}

static void cmd_cache_stats(struct admin_job *job)
{
	struct buf text = BUF_INIT;
	mail_storage_metrics(&text);
	if (want_text(job, 1)) {
		/* samples only, comments dropped */
		struct buf lines = BUF_INIT;
		const char *p = buf_cstr(&text), *end = p + text.len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
			if (n > 0 && p[0] != '#') {
				buf_append(&lines, p, n);
				buf_append_c(&lines, '\n');
			}
			p += n + 1;
		}
		if (lines.len == 0)
			buf_append_str(&lines, "(no storage statistics: the store is not open "
					       "yet, or this storage keeps none)\n");
		admin_reply_data(&job->out, lines.data, lines.len);
		buf_free(&lines);
	} else {
		struct buf json = BUF_INIT;
		admin_prom_to_json(buf_cstr(&text), text.len, &json);
		admin_reply_data(&job->out, json.data, json.len);
		buf_free(&json);
	}
	admin_reply_ok(&job->out);
	buf_free(&text);
}

static void cmd_who(struct admin_job *job)
{
	struct buf json = BUF_INIT;
	if (want_text(job, 1))
		imap_registry_text(&json, ADMIN_WHO_MAX);
	else
		imap_registry_json(&json, ADMIN_WHO_MAX);
	admin_reply_data(&job->out, json.data, json.len);
	admin_reply_ok(&job->out);
	buf_free(&json);
}

static void cmd_kick(struct admin_job *job)
{
	size_t n = imap_registry_kick(job->req.argv[1]);
	log_info("admin: kicked %zu session(s) of %s", n, job->req.argv[1]);
	struct buf line = BUF_INIT;
	buf_printf(&line, "{\"kicked\":%zu}", n);
	admin_reply_data(&job->out, line.data, line.len);
	admin_reply_ok(&job->out);
	buf_free(&line);
}

static void cmd_reload(struct admin_job *job)
{
	log_info("admin: reload");
	if (daemon_reload(job->sess->server->passdb) != 0) {
		admin_reply_err(&job->out, "failed", "reload failed (see the log); old users kept");
		return;
	}
	admin_reply_ok(&job->out);
}

static void cmd_lease(struct admin_job *job)
{
	struct buf json = BUF_INIT;
	int r = mail_user_lease_info(job->sess->server->cfg, job->req.argv[1], &json);
	if (r == -OM_EINVAL)
		admin_reply_err(&job->out, "notavailable",
				"%s: this storage (maildir) has no leases", job->req.argv[1]);
	else if (r < 0)
		admin_reply_err(&job->out, "failed", "%s: reading the lease failed: %s",
				job->req.argv[1], om_strerror(r));
	else {
		admin_reply_data(&job->out, json.data, json.len);
		admin_reply_ok(&job->out);
	}
	buf_free(&json);
}

/* director: the backends as this director sees them (JSON, or text) */
static void cmd_director_status(struct admin_job *job)
{
	struct buf b = BUF_INIT;
	director_status(&b, !want_text(job, 1));
	size_t pos = 0;
	while (pos < b.len) {
		const char *nl = memchr(b.data + pos, '\n', b.len - pos);
		size_t l = nl != NULL ? (size_t)(nl - (b.data + pos)) : b.len - pos;
		admin_reply_data(&job->out, b.data + pos, l);
		pos += l + 1;
	}
	buf_free(&b);
	admin_reply_ok(&job->out);
}

/* The answer of a request run by another file: its data and OK, or the
 * error; frees data and msg. */
static void reply_result(struct admin_job *job, int r, const char *code, struct buf *data,
			 struct buf *msg)
{
	if (r < 0) {
		admin_reply_err(&job->out, code, "%s", buf_cstr(msg));
	} else {
		admin_reply_data(&job->out, data->data != NULL ? data->data : "", data->len);
		admin_reply_ok(&job->out);
	}
	buf_free(data);
	buf_free(msg);
}

/* mail json|text USER OP [ARGS...]: the objmail tool's mail operations, live */
static void cmd_mail(struct admin_job *job)
{
	struct buf data = BUF_INIT, msg = BUF_INIT;
	const char *code = "failed";
	struct admin_session *sess = job->sess;
	int r = admin_mail_run(sess->server->cfg, sess->server->passdb, job->req.argc - 1,
			       job->req.argv + 1, sess->upload.data, sess->upload.len, &data, &code,
			       &msg);
	buf_free(&sess->upload);
	reply_result(job, r, code, &data, &msg);
}

/* import|export|quota json|text KIND ARGS...: the objmail tool's imports,
 * exports and quota commands, live; imports and exports stream progress
 * data lines before the summary */
static void cmd_import(struct admin_job *job)
{
	struct buf data = BUF_INIT, msg = BUF_INIT;
	const char *code = "failed";
	struct admin_session *sess = job->sess;
	int r = admin_import_run(sess->server->cfg, sess->server->passdb, sess->conn,
				 job->req.argc, job->req.argv, &data, &code, &msg);
	reply_result(job, r, code, &data, &msg);
}

/* force-resync|fts-rescan|check json|text USER: the objmail tool's
 * maintenance commands, live; fts-rescan streams progress data lines; a
 * check that finds problems answers its report, then ERR inconsistent */
static void cmd_maint(struct admin_job *job)
{
	struct buf data = BUF_INIT, msg = BUF_INIT;
	const char *code = "failed";
	struct admin_session *sess = job->sess;
	int r = admin_maint_run(sess->server->cfg, sess->server->passdb, sess->conn,
				job->req.argc, job->req.argv, &data, &code, &msg);
	if (data.len > 0 || r == 0)
		admin_reply_data(&job->out, data.data != NULL ? data.data : "", data.len);
	if (r < 0)
		admin_reply_err(&job->out, code, "%s", buf_cstr(&msg));
	else
		admin_reply_ok(&job->out);
	buf_free(&data);
	buf_free(&msg);
}

/* mail-data HEX: a piece of the message for the next `mail ... save` */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void cmd_mail_data(struct admin_job *job)
{
	struct admin_session *sess = job->sess;
	const char *h = job->req.argv[1];
	size_t len = strlen(h);
	if (len % 2 != 0) {
		admin_reply_err(&job->out, "badrequest", "mail-data: odd number of hex digits");
		return;
	}
	if (sess->upload.len + len / 2 > ADMIN_UPLOAD_MAX) {
		buf_free(&sess->upload);
		admin_reply_err(&job->out, "toolong", "mail-data: message over %u bytes",
				ADMIN_UPLOAD_MAX);
		return;
	}
	for (size_t i = 0; i < len; i += 2) {
		int hi = hexval(h[i]), lo = hexval(h[i + 1]);
		if (hi < 0 || lo < 0) {
			buf_free(&sess->upload);
			admin_reply_err(&job->out, "badrequest", "mail-data: not hex");
			return;
		}
		buf_append_c(&sess->upload, (char)(hi * 16 + lo));
	}
	admin_reply_ok(&job->out);
}

static void cmd_help(struct admin_job *job);

static const struct admin_command admin_commands[] = {
	{ "ping", 0, 0, "ping", cmd_ping },
	{ "flush", 0, 1, "flush [USER]", cmd_flush },
	{ "stats", 0, 0, "stats", cmd_stats },
	{ "cache-stats", 0, 1, "cache-stats [text]", cmd_cache_stats },
	{ "who", 0, 1, "who [text]", cmd_who },
	{ "kick", 1, 1, "kick USER", cmd_kick },
	{ "reload", 0, 0, "reload", cmd_reload },
	{ "lease", 1, 1, "lease USER", cmd_lease },
	{ "director-status", 0, 1, "director-status [text]", cmd_director_status },
	{ "mail", 3, 7, "mail json|text USER OP [ARGS...]", cmd_mail },
	{ "mail-data", 1, 1, "mail-data HEX", cmd_mail_data },
	{ "import", 4, 5,
	  "import json|text maildir PATH USER | mbox FILE USER MAILBOX | imap URL USER [THREADS]",
	  cmd_import },
	{ "export", 4, 5, "export json|text maildir USER PATH | mbox USER MAILBOX FILE",
	  cmd_import },
	{ "quota", 3, 3, "quota json|text get|recalc USER", cmd_import },
	{ "force-resync", 2, 2, "force-resync json|text USER", cmd_maint },
	{ "fts-rescan", 2, 2, "fts-rescan json|text USER", cmd_maint },
	{ "check", 2, 2, "check json|text USER", cmd_maint },
	{ "help", 0, 0, "help", cmd_help },
	{ "quit", 0, 0, "quit", cmd_quit },
};
#define ADMIN_NCOMMANDS (sizeof(admin_commands) / sizeof(admin_commands[0]))

static void cmd_help(struct admin_job *job)
{
	for (size_t i = 0; i < ADMIN_NCOMMANDS; i++)
		admin_reply_data(&job->out, admin_commands[i].usage,
				 strlen(admin_commands[i].usage));
	admin_reply_ok(&job->out);
}

static const struct admin_command *command_find(const char *name)
{
	for (size_t i = 0; i < ADMIN_NCOMMANDS; i++) {
		if (om_str_ieq(admin_commands[i].name, name))
			return &admin_commands[i];
	}
	return NULL;
}

static void admin_job_run(void *arg)
{
	struct admin_job *job = arg;
	const struct admin_command *cmd = command_find(job->req.argv[0]);
	size_t nargs = job->req.argc - 1;
	if (cmd == NULL)
		admin_reply_err(&job->out, "unknown", "unknown command %s", job->req.argv[0]);
	else if (nargs < cmd->min_args || nargs > cmd->max_args)
		admin_reply_err(&job->out, "usage", "usage: %s", cmd->usage);
	else
		cmd->run(job);
	conn_write(job->sess->conn, job->out.data, job->out.len);
}

static void admin_job_done(void *arg)
{
	struct admin_job *job = arg;
	struct admin_session *s = job->sess;
	admin_request_free(&job->req);
	buf_free(&job->out);
	free(job);
	if (s->close_after)
		conn_close(s->conn);
}

static void send_error(struct conn *c, const char *code, const char *msg)
{
	struct buf out = BUF_INIT;
	admin_reply_err(&out, code, "%s", msg);
	conn_write(c, out.data, out.len);
	buf_free(&out);
}

/* --- the conn handler --- */

static void *admin_on_open(struct conn *c, void *handler_ctx)
{
	if (!conn_is_local(c)) {
		log_warn("admin: refused a connection from %s (local peers only)",
			 conn_peer_ip(c));
		return NULL;
	}
	struct admin_session *s = om_calloc(1, sizeof(*s));
	s->conn = c;
	s->server = handler_ctx;
	conn_set_timeout(c, ADMIN_IDLE_TIMEOUT);
	om_gauge_add(OM_GAUGE_CONN_ADMIN, 1);
	return s;
}

static void admin_on_input(struct conn *c, void *session)
{
	struct admin_session *s = session;
	struct evbuffer *in = conn_input(c);
	/* Bad lines are answered here and the next one looked at; a good one
	 * becomes a job, and the conn calls us again after its done. */
	while (!s->close_after && !conn_is_closing(c)) {
		size_t eol_len = 0;
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0 ? evbuffer_get_length(in) >= ADMIN_MAX_LINE
				: (size_t)eol.pos >= ADMIN_MAX_LINE) {
			evbuffer_drain(in, evbuffer_get_length(in));
			send_error(c, "toolong", "request line too long");
			conn_close(c);
			return;
		}
		if (eol.pos < 0)
			return;
		size_t len = (size_t)eol.pos;
		char *line = om_malloc(len + 1);
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		line[len] = '\0';

		struct admin_job *job = om_calloc(1, sizeof(*job));
		job->sess = s;
		int r = admin_request_parse(line, len, &job->req);
		free(line);
		if (r < 0) {
			send_error(c, r == -OM_ELIMIT ? "toolong" : "badrequest",
				   r == -OM_ELIMIT ? "too many fields" : "malformed request");
			free(job);
			continue;
		}
		log_debug("admin: %s (%zu args)", job->req.argv[0], job->req.argc - 1);
		conn_run(c, admin_job_run, admin_job_done, job);
		return;
	}
}

static void admin_on_close(struct conn *c, void *session)
{
	(void)c;
	om_gauge_add(OM_GAUGE_CONN_ADMIN, -1);
	buf_free(&((struct admin_session *)session)->upload);
	free(session);
}

const struct conn_handler admin_conn_handler = {
	.name = "admin",
	.on_open = admin_on_open,
	.on_input = admin_on_input,
	.on_close = admin_on_close,
};
