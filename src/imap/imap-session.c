/* The IMAP session core: greeting, reading commands with the incremental
 * parser, dispatch to workers, the tagged reply after the untagged updates,
 * the lines read outside the parser (IDLE's DONE, AUTHENTICATE's response),
 * delayed replies to failed logins, timeouts and teardown.
 *
 * Threads: on_open/on_input/on_timeout/on_close and every *_done callback run
 * on the connection's loop thread; command functions run in conn_run jobs.
 * Only one job per connection is in flight (conn_run), and input is not read
 * while it runs, so the session needs no lock. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/passdb.h"
#include "imap/imap-session-private.h"
#include "imap/imap-registry.h"
#include "lib/authlimit.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "lib/stats.h"

/* the longest line read outside the parser (a SASL response, "DONE") */
#define IMAP_MAX_AUTH_LINE 16384
#define IMAP_MAX_IDLE_LINE 1024
/* bytes handed to the parser per call */
#define IMAP_INPUT_CHUNK 65536
/* failed logins before the connection is closed */
#define IMAP_MAX_AUTH_FAILURES 3
/* scratch output kept between commands */
#define IMAP_KEEP_OUT_BUF 65536
/* input buffered while a failed login's reply is delayed */
#define IMAP_MAX_HELD_INPUT (1024 * 1024)

static void process_input(struct imap_session *s);

/* ssl_required: plaintext auth only over TLS. Loopback counts as a network
 * here (an admin who sets it wants TLS, and tests run on loopback); only a
 * unix socket is trusted. */
bool imap_login_disabled(const struct imap_session *s)
{
	if (s->conn == NULL || !s->cfg->ssl_required || conn_is_tls(s->conn))
		return false;
	return strcmp(conn_peer_ip(s->conn), "unix") != 0;
}

/* STARTTLS and the login mechanisms, before authentication only. */
static void write_login_capability(const struct imap_session *s, struct buf *out)
{
	if (s->state != IMAP_STATE_NOT_AUTH)
		return;
	if (s->conn != NULL && conn_tls_available(s->conn) && !conn_is_tls(s->conn))
		buf_append_str(out, " STARTTLS");
	if (imap_login_disabled(s))
		buf_append_str(out, " LOGINDISABLED");
	else
		buf_append_str(out, " AUTH=PLAIN");
}

uint64_t imap_append_limit(const struct om_config *cfg)
{
	return cfg->mail_max_size > 0 ? cfg->mail_max_size : (uint64_t)64 << 20;
}

void imap_write_capability(const struct imap_session *s, struct buf *out)
{
	buf_append_str(out, "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE "
			    "UNSELECT CHILDREN SPECIAL-USE LIST-EXTENDED");
	/* RFC 7162, 4731, 5182, 5267 */
	buf_append_str(out, " CONDSTORE QRESYNC ESEARCH SEARCHRES CONTEXT=SEARCH CONTEXT=SORT");
	/* RFC 5256, 5957, 5267 (imap-cmd-sort.c) */
	buf_append_str(out, " SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT");
	/* RFC 9051, 5819, 8438, 6154, 9208, 3502, 6855, 3516; LITERAL+
	 * covers LITERAL- (part of rev2), and RFC 7888 5 forbids announcing
	 * both */
	buf_append_str(out, " IMAP4rev2 LIST-STATUS STATUS=SIZE CREATE-SPECIAL-USE QUOTA "
			    "QUOTA=RES-STORAGE QUOTA=RES-MESSAGE MULTIAPPEND UTF8=ACCEPT BINARY");
	/* RFC 7889: one limit for all mailboxes */
	buf_printf(out, " APPENDLIMIT=%llu", (unsigned long long)imap_append_limit(s->cfg));
	if (s->state != IMAP_STATE_NOT_AUTH && !s->compress_active)
		buf_append_str(out, " COMPRESS=DEFLATE");
	write_login_capability(s, out);
}

/* The greeting's list: what a client needs before logging in (LOGIN's OK
 * and CAPABILITY give the whole list). Kept short: the full one is over
 * 400 bytes, and some peers read the greeting into a small buffer. */
static void write_greeting_capability(const struct imap_session *s, struct buf *out)
{
	buf_append_str(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE");
	write_login_capability(s, out);
}

/* --- teardown helpers --- */

static void free_command(struct imap_session *s)
{
	struct imap_session_priv *p = s->priv;

	if (p->parsed != NULL)
		imap_command_free(p->parsed);
	p->parsed = NULL;
	memset(&p->uid_cmd, 0, sizeof(p->uid_cmd));
	p->def = NULL;
	s->cmd = NULL;
	s->cmd_uid = false;
	buf_reset(&s->tagged);
	/* an idle session should not keep a big FETCH's buffer */
	if (s->out.cap > IMAP_KEEP_OUT_BUF)
		buf_free(&s->out);
}

void imap_session_deselect(struct imap_session *s)
{
	if (s->watch != NULL) {
		mail_user_unwatch(s->watch);
		s->watch = NULL;
	}
	if (s->box != NULL) {
		mailbox_close(s->box);
		s->box = NULL;
		imap_registry_mailbox(s->conn, NULL);
	}
	imap_view_free(&s->view);
	imap_search_contexts_free(s);
	s->readonly = false;
	if (s->state == IMAP_STATE_SELECTED)
		s->state = IMAP_STATE_AUTH;
}

/* --- login --- */

void imap_session_login(struct imap_session *s, const struct passdb_user *pu)
{
	struct mail_user *user = NULL;
	struct buf caps = BUF_INIT;
	int ret;

	if (s->conn != NULL && s->cfg->max_connections_per_user > 0 &&
	    imap_registry_user_count(pu->user) >= s->cfg->max_connections_per_user) {
		log_info("imap: login of %s refused: %u sessions already (max_connections_per_user)",
			 pu->user, s->cfg->max_connections_per_user);
		imap_cmd_no(s, "[UNAVAILABLE] Maximum number of connections for this user exceeded.");
		return;
	}
	ret = mail_user_open(s->cfg, pu->user, pu, &user);
	if (ret < 0) {
		log_warn("imap: opening the mail of %s failed: %s", pu->user, om_strerror(-ret));
		imap_cmd_no(s, "[UNAVAILABLE] Mail storage is not available, try again later.");
		return;
	}
	free(s->username);
	s->username = om_strdup(pu->user);
	s->user = user;
	s->state = IMAP_STATE_AUTH;
	imap_registry_login(s->conn, s->username);
	om_stat_inc(OM_STAT_IMAP_LOGIN_OK);
	log_info("imap: %s logged in from %s", s->username,
		 s->conn != NULL ? conn_peer_ip(s->conn) : "-");
	imap_write_capability(s, &caps);
	imap_cmd_ok(s, "[CAPABILITY %s] Logged in", buf_cstr(&caps));
	buf_free(&caps);
}

void imap_session_auth_failed(struct imap_session *s)
{
	s->auth_failures++;
	s->priv->delay_reply = true;
	if (s->conn != NULL && s->cfg != NULL)
		authlimit_failed(conn_peer_ip(s->conn), s->cfg->auth_failure_window);
	om_stat_inc(OM_STAT_IMAP_LOGIN_FAILED);
}

static void delayed_reply(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	if (c == NULL)
		return; /* the connection is gone; on_close freed the session */
	s->priv->held = false;
	s->priv->delay_reply = false;
	imap_send_buf(s, &s->tagged);
	free_command(s);
	if (s->auth_failures >= IMAP_MAX_AUTH_FAILURES) {
		conn_write_str(c, "* BYE Too many invalid authentication attempts.\r\n");
		conn_close(c);
		return;
	}
	process_input(s);
}

/* --- running commands --- */

/* Job thread: the untagged updates the command may be followed by, then the
 * tagged line. */
static void finish_command(struct imap_session *s)
{
	struct imap_session_priv *p = s->priv;

	if (p->line_mode != IMAP_LINE_NONE && s->tagged.len == 0)
		return; /* a continuation is outstanding */
	if (s->tagged.len == 0) {
		log_error("imap: command %s set no reply", s->cmd ? s->cmd->name : "?");
		imap_cmd_no(s, "[SERVERBUG] Internal error");
	}
	if (p->delay_reply)
		return; /* sent from delayed_reply() */
	if (s->box != NULL && p->def != NULL && (p->def->flags & IMAP_CMD_NO_SYNC) == 0) {
		bool allow_expunge = (p->def->flags & IMAP_CMD_NO_EXPUNGE) == 0 || s->cmd_uid;
		(void)imap_session_sync(s, allow_expunge);
	}
	imap_send_buf(s, &s->tagged);
	buf_reset(&s->tagged);
}

static void update_timeout(struct imap_session *s)
{
	if (s->priv->timeout_state == (unsigned)s->state)
		return;
	s->priv->timeout_state = (unsigned)s->state;
	conn_set_timeout(s->conn, s->state == IMAP_STATE_NOT_AUTH ? s->cfg->login_timeout
								  : s->cfg->imap_idle_timeout);
}

static void start_idle_sync(struct imap_session *s);

static void command_done(void *arg)
{
	struct imap_session *s = arg;
	struct imap_session_priv *p = s->priv;

	p->job_running = false;
	if (p->delay_reply) {
		p->held = true;
		conn_post_delayed(s->conn, s->cfg->auth_failure_delay * 1000u, delayed_reply, s);
	} else if (p->line_mode == IMAP_LINE_NONE) {
		free_command(s);
	}
	if (p->starttls_after) {
		p->starttls_after = false;
		if (conn_starttls(s->conn) < 0) {
			conn_write_str(s->conn, "* BYE TLS negotiation failed.\r\n");
			conn_close(s->conn);
			return;
		}
	}
	if (p->compress_after) {
		p->compress_after = false;
		if (conn_start_deflate(s->conn) < 0) {
			log_warn("imap: starting DEFLATE failed; closing");
			conn_close(s->conn);
			return;
		}
	}
	if (p->close_after) {
		conn_close(s->conn);
		return;
	}
	update_timeout(s);
	if (p->line_mode == IMAP_LINE_IDLE && p->idle_wake_pending)
		start_idle_sync(s);
}

static void command_job(void *arg)
{
	struct imap_session *s = arg;

	buf_reset(&s->tagged);
	s->priv->def->fn(s, s->cmd);
	finish_command(s);
}

static void line_job(void *arg)
{
	struct imap_session *s = arg;
	struct imap_session_priv *p = s->priv;
	void (*fn)(struct imap_session *, const char *, size_t) = p->line_fn;

	p->line_fn = NULL;
	buf_reset(&s->tagged);
	fn(s, buf_cstr(&p->line), p->line.len);
	/* the response may hold a password: don't keep it around */
	if (p->line.data != NULL)
		memset(p->line.data, 0, p->line.cap);
	buf_reset(&p->line);
	finish_command(s);
}

static void send_now(struct imap_session *s, const char *tag, const char *status, const char *text)
{
	struct buf line = BUF_INIT;

	buf_printf(&line, "%s %s %s\r\n", tag != NULL ? tag : "*", status, text);
	imap_send_buf(s, &line);
	buf_free(&line);
}

static const char *state_error(const struct imap_session *s, const struct imap_cmd_def *def)
{
	if (s->state == IMAP_STATE_NOT_AUTH)
		return "Not logged in.";
	if ((def->states & IMAP_STATE_NOT_AUTH) != 0)
		return "Already logged in.";
	if ((def->states & IMAP_STATE_SELECTED) != 0 && (def->states & IMAP_STATE_AUTH) == 0)
		return "No mailbox selected.";
	return "Command not allowed in this state.";
}

/* Find the command (seeing "UID X" as X) and check the state. NULL and
 * p->def/s->cmd set, or the text of a BAD reply. */
static const char *prepare(struct imap_session *s, struct imap_command *cmd)
{
	struct imap_session_priv *p = s->priv;
	const struct imap_cmd_def *def;

	p->parsed = cmd;
	s->cmd = cmd;
	s->cmd_uid = false;
	def = imap_cmd_find(cmd->name);
	if (def != NULL && def->fn == NULL) {
		/* UID */
		const char *sub = NULL;
		if (cmd->n_args < 1 || !imap_arg_get_atom(&cmd->args[0], &sub))
			return "UID needs a command.";
		for (char *q = cmd->args[0].str; *q != '\0'; q++) {
			if (*q >= 'a' && *q <= 'z')
				*q = (char)(*q - 'a' + 'A');
		}
		def = imap_cmd_find(cmd->args[0].str);
		if (def == NULL || (def->flags & IMAP_CMD_UID) == 0)
			return "Unknown UID command.";
		p->uid_cmd.tag = cmd->tag;
		p->uid_cmd.name = cmd->args[0].str;
		p->uid_cmd.args = cmd->args + 1;
		p->uid_cmd.n_args = cmd->n_args - 1;
		s->cmd = &p->uid_cmd;
		s->cmd_uid = true;
	}
	if (def == NULL)
		return "Unknown command.";
	if ((def->states & (unsigned)s->state) == 0)
		return state_error(s, def);
	p->def = def;
	return NULL;
}

/* Loop thread: a parsed command. Starts its job, or answers it at once. */
static void dispatch(struct imap_session *s, struct imap_command *cmd)
{
	const char *error = prepare(s, cmd);

	if (error != NULL) {
		send_now(s, cmd->tag, "BAD", error);
		free_command(s);
		return;
	}
	s->priv->job_running = true;
	conn_run(s->conn, command_job, command_done, s);
}

void imap_session_exec(struct imap_session *s, struct imap_command *cmd)
{
	const char *error = prepare(s, cmd);

	if (error != NULL) {
		send_now(s, cmd->tag, "BAD", error);
	} else {
		command_job(s);
		if (s->priv->delay_reply) {
			s->priv->delay_reply = false;
			imap_send_buf(s, &s->tagged);
		}
	}
	if (s->priv->line_mode == IMAP_LINE_NONE)
		free_command(s);
}

/* --- IDLE --- */

static void idle_sync_job(void *arg)
{
	struct imap_session *s = arg;
	(void)imap_session_sync(s, true);
}

static void idle_sync_done(void *arg)
{
	struct imap_session *s = arg;
	struct imap_session_priv *p = s->priv;

	p->job_running = false;
	if (p->line_mode == IMAP_LINE_IDLE && p->idle_wake_pending)
		start_idle_sync(s);
}

static void start_idle_sync(struct imap_session *s)
{
	s->priv->idle_wake_pending = false;
	s->priv->job_running = true;
	conn_run(s->conn, idle_sync_job, idle_sync_done, s);
}

static void idle_wake(struct conn *c, void *arg)
{
	struct imap_session *s = arg;

	if (c == NULL)
		return;
	if (s->priv->line_mode != IMAP_LINE_IDLE || conn_is_closing(c))
		return;
	if (s->priv->job_running || s->priv->held) {
		s->priv->idle_wake_pending = true;
		return;
	}
	start_idle_sync(s);
}

/* Storage's thread, no lock held: hand over to the loop. */
static void idle_notify(void *arg)
{
	struct imap_session *s = arg;
	conn_post(s->conn, idle_wake, s);
}

void imap_session_idle_start(struct imap_session *s)
{
	if (s->box != NULL && s->watch == NULL)
		s->watch = mail_user_watch(s->user, mailbox_name(s->box), idle_notify, s);
	imap_send_raw(s, "+ idling\r\n", 10);
	s->priv->line_mode = IMAP_LINE_IDLE;
	/* whatever happened before the watch started */
	(void)imap_session_sync(s, true);
}

static void idle_end(struct imap_session *s, bool done)
{
	struct imap_session_priv *p = s->priv;

	if (s->watch != NULL) {
		mail_user_unwatch(s->watch);
		s->watch = NULL;
	}
	p->line_mode = IMAP_LINE_NONE;
	p->idle_wake_pending = false;
	if (done)
		send_now(s, s->cmd->tag, "OK", "Idle completed.");
	else
		send_now(s, s->cmd->tag, "BAD", "Expected DONE.");
	free_command(s);
}

/* --- lines outside the parser --- */

void imap_session_want_line(struct imap_session *s, enum imap_line_mode mode,
			    void (*fn)(struct imap_session *s, const char *line, size_t len))
{
	s->priv->line_mode = mode;
	s->priv->line_fn = fn;
}

/* false: wait for more input (or a job was started). */
static bool handle_line(struct imap_session *s)
{
	struct imap_session_priv *p = s->priv;
	struct evbuffer *in = conn_input(s->conn);
	size_t max = p->line_mode == IMAP_LINE_IDLE ? IMAP_MAX_IDLE_LINE : IMAP_MAX_AUTH_LINE;
	size_t eol_len = 0;
	struct evbuffer_ptr pos = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);

	if (pos.pos < 0) {
		size_t avail = evbuffer_get_length(in);
		if (avail <= max)
			return false;
		/* an endless line: refuse it and drop what came */
		evbuffer_drain(in, avail);
		if (p->line_mode == IMAP_LINE_IDLE) {
			idle_end(s, false);
		} else {
			p->line_mode = IMAP_LINE_NONE;
			send_now(s, s->cmd->tag, "BAD", "Authentication response too long.");
			free_command(s);
		}
		conn_write_str(s->conn, "* BYE Line too long.\r\n");
		conn_close(s->conn);
		return false;
	}
	size_t len = (size_t)pos.pos;
	if (len > max) {
		evbuffer_drain(in, len + eol_len);
		len = max + 1; /* handled as junk below */
		buf_reset(&p->line);
	} else {
		buf_reset(&p->line);
		buf_reserve(&p->line, len);
		evbuffer_remove(in, p->line.data, len);
		p->line.len = len;
		p->line.data[len] = '\0';
		evbuffer_drain(in, eol_len);
	}

	if (p->line_mode == IMAP_LINE_IDLE) {
		idle_end(s, len <= max && strcasecmp(buf_cstr(&p->line), "DONE") == 0);
		buf_reset(&p->line);
		return true;
	}
	/* IMAP_LINE_AUTH */
	p->line_mode = IMAP_LINE_NONE;
	if (len > max) {
		send_now(s, s->cmd->tag, "BAD", "Authentication response too long.");
		free_command(s);
		return true;
	}
	if (strcmp(buf_cstr(&p->line), "*") == 0) {
		buf_reset(&p->line);
		send_now(s, s->cmd->tag, "BAD", "Authentication cancelled.");
		free_command(s);
		return true;
	}
	p->job_running = true;
	conn_run(s->conn, line_job, command_done, s);
	return false;
}

/* --- input --- */

static void process_input(struct imap_session *s)
{
	struct imap_session_priv *p = s->priv;
	struct conn *c = s->conn;
	struct evbuffer *in = conn_input(c);

	if (p->held && evbuffer_get_length(in) > IMAP_MAX_HELD_INPUT) {
		/* reading is not paused while a reply is delayed: bound it */
		conn_write_str(c, "* BYE Too much input.\r\n");
		conn_close(c);
		return;
	}
	while (!p->job_running && !p->held && !conn_is_closing(c)) {
		if (p->line_mode != IMAP_LINE_NONE) {
			if (!handle_line(s))
				return;
			continue;
		}
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			return;
		size_t chunk = avail < IMAP_INPUT_CHUNK ? avail : IMAP_INPUT_CHUNK;
		const unsigned char *data = evbuffer_pullup(in, (ssize_t)chunk);
		size_t consumed = 0;
		if (data == NULL)
			return;
		enum imap_parse_result r =
			imap_parser_run(s->parser, (const char *)data, chunk, &consumed);
		if (consumed > chunk)
			consumed = chunk;
		evbuffer_drain(in, consumed);
		switch (r) {
		case IMAP_PARSE_MORE:
			if (consumed == 0)
				return; /* no progress: wait for more bytes */
			break;
		case IMAP_PARSE_CONTINUE:
			conn_write_str(c, "+ OK\r\n");
			break;
		case IMAP_PARSE_ERROR:
			send_now(s, imap_parser_error_tag(s->parser), "BAD",
				 imap_parser_error(s->parser));
			break;
		case IMAP_PARSE_FATAL:
			conn_printf(c, "* BYE %s\r\n", imap_parser_error(s->parser));
			conn_close(c);
			return;
		case IMAP_PARSE_COMMAND: {
			struct imap_command *cmd = imap_parser_take(s->parser);
			if (cmd != NULL)
				dispatch(s, cmd);
			break;
		}
		}
	}
}

/* --- the conn handler --- */

static void *imap_on_open(struct conn *c, void *handler_ctx)
{
	struct imap_server *server = handler_ctx;
	struct imap_session *s = om_calloc(1, sizeof(*s));
	struct buf caps = BUF_INIT;

	s->conn = c;
	s->server = server;
	s->cfg = server->cfg != NULL ? server->cfg : conn_config(c);
	s->priv = om_calloc(1, sizeof(*s->priv));
	s->state = IMAP_STATE_NOT_AUTH;
	struct imap_parser_limits limits = {
		.max_line = s->cfg->imap_max_line > 0 ? s->cfg->imap_max_line : 65536,
		.max_literal = imap_append_limit(s->cfg),
		.max_small_literal = 65536,
		.max_depth = 100,
		.max_args = 100000,
	};
	s->parser = imap_parser_new(&limits);
	s->priv->timeout_state = (unsigned)s->state;
	conn_set_timeout(c, s->cfg->login_timeout);

	write_greeting_capability(s, &caps);
	conn_printf(c, "* OK [CAPABILITY %s] objmail ready.\r\n", buf_cstr(&caps));
	buf_free(&caps);
	log_debug("imap: connection %lu from %s", conn_id(c), conn_peer_ip(c));
	return s;
}

static void imap_on_input(struct conn *c, void *session)
{
	(void)c;
	process_input(session);
}

static void imap_on_timeout(struct conn *c, void *session)
{
	(void)session;
	conn_write_str(c, "* BYE Disconnected for inactivity.\r\n");
	conn_close(c);
}

static void imap_on_close(struct conn *c, void *session)
{
	struct imap_session *s = session;

	(void)c;
	if (s->user != NULL)
		log_debug("imap: %s disconnected", s->username);
	imap_session_deselect(s);
	imap_registry_logout(c);
	if (s->user != NULL)
		mail_user_unref(s->user);
	free_command(s);
	imap_parser_free(s->parser);
	if (s->priv->line.data != NULL)
		memset(s->priv->line.data, 0, s->priv->line.cap);
	buf_free(&s->priv->line);
	buf_free(&s->tagged);
	buf_free(&s->out);
	free(s->priv);
	free(s->username);
	free(s);
}

const struct conn_handler imap_conn_handler = {
	.name = "imap",
	.on_open = imap_on_open,
	.on_input = imap_on_input,
	.on_timeout = imap_on_timeout,
	.on_close = imap_on_close,
};
