/* The director's IMAP side. Before login it is a tiny IMAP server of its
 * own (CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN, AUTHENTICATE PLAIN);
 * a login runs as one worker job (passdb check, route, connect, greeting,
 * AUTHENTICATE PLAIN at the backend) and, once the backend said OK, the
 * connection becomes a relay. It starts as an evbuffer relay: bytes move
 * between the client's bufferevent and the backend's by
 * evbuffer_add_buffer (chains change owner, nothing is parsed). A client
 * without TLS then switches to splice-relay.c as soon as both sides'
 * buffers are empty (the login reply has gone out, pipelined commands have
 * reached the backend): from there the kernel moves the bytes. With TLS the
 * evbuffer relay stays. Nothing of the IMAP stream is parsed after login
 * either way (COMPRESS, if the client enables it, is between it and the
 * backend). */
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "auth/passdb.h"
#include "director/director.h"
#include "lib/log.h"
#include "lib/om-error.h"

#define PRE_MAX_COMMAND 8192     /* a pre-login command, literals included */
#define PRE_MAX_ARGS 8
#define BACKEND_TIMEOUT_MS 5000
#define BACKEND_MAX_REPLY (64 * 1024)
/* backpressure toward a slow client: stop reading the backend above HIGH,
 * resume below LOW */
#define RELAY_HIGH (4 * 1024 * 1024)
#define RELAY_LOW (1024 * 1024)
#define RELAY_POLL_MS 2
#define RELAY_READ_MAX (256 * 1024)

enum iproxy_state { ST_PRE, ST_SASL, ST_LOGIN, ST_RELAY };

struct iproxy {
	struct conn *c;
	const struct director_listener *ls;
	enum iproxy_state state;
	bool literal_plus;
	size_t literal_left;
	struct buf cmd;             /* pre-login only; freed at relay */
	char *sasl_tag;             /* AUTHENTICATE waiting for its response line */
	struct bufferevent *be;     /* the backend, in the evbuffer relay */
	int be_fd;                  /* the backend's socket, in relay; -1 */
	struct splice_relay *sr;    /* the splice relay, once switched */
	unsigned switch_wait_ms;    /* backoff of the switch check */
	bool paused;                /* backend reads stopped (client slow) */
	bool in_paused;             /* client reads stopped (backend slow) */
	struct director_session ds;
	bool registered;
};

struct login_job {
	struct iproxy *p;
	char *tag, *user, *pass;
	bool ok;
	int fd;
	struct buf reply;           /* lines for the client, tagged last, then extra bytes */
	bool auth_failed;           /* answer after auth_failure_delay */
};

static void relay_stop(struct iproxy *p)
{
	if (p->be != NULL) {
		bufferevent_free(p->be);
		p->be = NULL;
	}
	if (p->sr != NULL) {
		splice_relay_free(p->sr);
		p->sr = NULL;
	}
	if (p->be_fd >= 0) {
		close(p->be_fd);
		p->be_fd = -1;
	}
	if (p->registered) {
		director_session_remove(&p->ds);
		p->registered = false;
	}
}

/* --- relay --- */

static void relay_resume_check(struct conn *c, void *arg);

static void be_readcb(struct bufferevent *bev, void *arg)
{
	struct iproxy *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	if (n == 0)
		return;
	director_count_bytes(false, n);
	conn_write_buffer(p->c, in);
	if (!p->paused && conn_output_pending(p->c) > RELAY_HIGH) {
		p->paused = true;
		bufferevent_disable(bev, EV_READ);
		conn_post_delayed(p->c, RELAY_POLL_MS, relay_resume_check, p);
	}
}

static void relay_resume_check(struct conn *c, void *arg)
{
	/* c != NULL: the conn (and so its session p) is alive */
	struct iproxy *p = arg;
	if (c == NULL || p->be == NULL || !p->paused)
		return;
	if (conn_output_pending(c) <= RELAY_LOW) {
		p->paused = false;
		bufferevent_enable(p->be, EV_READ);
	} else {
		conn_post_delayed(c, RELAY_POLL_MS, relay_resume_check, p);
	}
}

/* The backend took enough of what the client sent: read the client again. */
static void be_writecb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct iproxy *p = arg;
	if (p->in_paused) {
		p->in_paused = false;
		conn_pause_input(p->c, false);
	}
}

static void to_backend(struct iproxy *p, struct evbuffer *in)
{
	size_t n = evbuffer_get_length(in);
	if (n == 0)
		return;
	director_count_bytes(true, n);
	struct evbuffer *out = bufferevent_get_output(p->be);
	evbuffer_add_buffer(out, in);
	if (!p->in_paused && evbuffer_get_length(out) > RELAY_HIGH) {
		p->in_paused = true;
		conn_pause_input(p->c, true);
	}
}

static void be_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct iproxy *p = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* whatever the backend said last still goes to the client */
		be_readcb(bev, p);
		if (what & BEV_EVENT_ERROR)
			log_debug("director: conn %lu: backend %s: %s", conn_id(p->c),
				  p->ds.backend_id, strerror(EVUTIL_SOCKET_ERROR()));
		relay_stop(p);
		conn_close(p->c);
	}
}

/* --- the switch to splice --- */

static void splice_done(void *arg, bool client_gone)
{
	struct iproxy *p = arg;
	(void)client_gone;
	relay_stop(p);
	conn_close(p->c);
}

static bool relay_quiet(struct iproxy *p)
{
	return !p->paused && !p->in_paused && !conn_is_closing(p->c) &&
	       evbuffer_get_length(conn_input(p->c)) == 0 && conn_output_pending(p->c) == 0 &&
	       evbuffer_get_length(bufferevent_get_input(p->be)) == 0 &&
	       evbuffer_get_length(bufferevent_get_output(p->be)) == 0;
}

/* Loop thread. Switch when nothing is buffered on either side, so that no
 * byte can overtake another; until then the evbuffer relay runs, and we look
 * again (1, 2, 4 .. 64 ms: a stream in progress has no quiet moment, the
 * next command/response pause has). */
static void splice_switch_check(struct conn *c, void *arg)
{
	struct iproxy *p = arg;
	if (c == NULL || p->state != ST_RELAY || p->be == NULL || p->sr != NULL)
		return;
	int cfd = conn_socket_fd(c);
	if (cfd < 0)
		return;
	if (!relay_quiet(p)) {
		p->switch_wait_ms = p->switch_wait_ms < 64 ? p->switch_wait_ms * 2 : 64;
		conn_post_delayed(c, p->switch_wait_ms, splice_switch_check, p);
		return;
	}
	struct splice_relay *sr = splice_relay_new(conn_event_base(c), cfd, p->be_fd, splice_done, p);
	if (sr == NULL)
		return; /* the evbuffer relay goes on */
	conn_pause_input(c, true);
	bufferevent_free(p->be);
	p->be = NULL;
	p->sr = sr;
	log_debug("director: conn %lu: relay by splice", conn_id(c));
}

void director_imap_kick(struct conn *c, void *arg)
{
	if (c == NULL)
		return;
	struct iproxy *p = (struct iproxy *)((char *)arg - offsetof(struct iproxy, ds));
	if (p->state != ST_RELAY)
		return;
	relay_stop(p);
	conn_write_str(c, "* BYE Backend is being drained\r\n");
	conn_close(c);
}

/* --- pre-login --- */

static void capability(struct iproxy *p, struct buf *out)
{
	buf_append_str(out, "IMAP4rev1 LITERAL+ SASL-IR ID");
	if (conn_tls_available(p->c) && !conn_is_tls(p->c))
		buf_append_str(out, " STARTTLS");
	if (p->ls->cfg->ssl_required && !conn_is_tls(p->c))
		buf_append_str(out, " LOGINDISABLED");
	else
		buf_append_str(out, " AUTH=PLAIN");
}

/* Tokens of a complete command: atoms, quoted strings, literals. */
static int tokenize(const char *s, size_t len, char **tok, size_t max, size_t *n_r)
{
	size_t n = 0, i = 0;
	while (i < len) {
		if (s[i] == ' ') {
			i++;
			continue;
		}
		if (n == max)
			return -OM_ELIMIT;
		struct buf t = BUF_INIT;
		if (s[i] == '"') {
			i++;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				buf_append_c(&t, s[i++]);
			}
			if (i >= len) {
				buf_free(&t);
				return -OM_EINVAL;
			}
			i++;
		} else if (s[i] == '{') {
			unsigned long long lit = 0;
			size_t j = i + 1;
			while (j < len && s[j] >= '0' && s[j] <= '9')
				j++;
			if (!om_parse_u64(s + i + 1, j - i - 1, &lit)) {
				buf_free(&t);
				return -OM_EINVAL;
			}
			if (j < len && s[j] == '+')
				j++;
			if (j + 3 > len || s[j] != '}' || s[j + 1] != '\r' || s[j + 2] != '\n' ||
			    lit > len - (j + 3)) {
				buf_free(&t);
				return -OM_EINVAL;
			}
			buf_append(&t, s + j + 3, lit);
			i = j + 3 + lit;
		} else {
			while (i < len && s[i] != ' ')
				buf_append_c(&t, s[i++]);
		}
		buf_append_c(&t, '\0');
		tok[n++] = buf_steal(&t);
	}
	*n_r = n;
	return 0;
}

static void free_tokens(char **tok, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (tok[i] != NULL) {
			OPENSSL_cleanse(tok[i], strlen(tok[i]));
			free(tok[i]);
		}
	}
}

static void process_input(struct iproxy *p);

static void login_reply_post(struct conn *c, void *arg)
{
	struct login_job *j = arg;
	if (c != NULL) {
		conn_write(c, j->reply.data, j->reply.len);
		j->p->state = ST_PRE;
		process_input(j->p);
	}
	buf_free(&j->reply);
	free(j);
}

static void job_free_secrets(struct login_job *j)
{
	if (j->pass != NULL) {
		OPENSSL_cleanse(j->pass, strlen(j->pass));
		free(j->pass);
		j->pass = NULL;
	}
	free(j->user);
	free(j->tag);
	j->user = j->tag = NULL;
}

/* One line (CRLF stripped) from a blocking fd, through rbuf. */
static int read_line(int fd, struct buf *rbuf, struct buf *line)
{
	for (;;) {
		char *nl = rbuf->len > 0 ? memchr(rbuf->data, '\n', rbuf->len) : NULL;
		if (nl != NULL) {
			size_t l = (size_t)(nl - rbuf->data);
			buf_reset(line);
			buf_append(line, rbuf->data, l > 0 && rbuf->data[l - 1] == '\r' ? l - 1 : l);
			memmove(rbuf->data, nl + 1, rbuf->len - l - 1);
			rbuf->len -= l + 1;
			return 0;
		}
		if (rbuf->len >= BACKEND_MAX_REPLY)
			return -OM_ELIMIT;
		buf_reserve(rbuf, 4096);
		ssize_t r = read(fd, rbuf->data + rbuf->len, 4096);
		if (r <= 0)
			return -OM_ETEMP;
		rbuf->len += (size_t)r;
	}
}

static void sasl_plain(struct buf *out, const char *authz, const char *authc, const char *pass)
{
	struct buf raw = BUF_INIT;
	buf_append_str(&raw, authz);
	buf_append_c(&raw, '\0');
	buf_append_str(&raw, authc);
	buf_append_c(&raw, '\0');
	buf_append_str(&raw, pass);
	size_t enc_len = 4 * ((raw.len + 2) / 3) + 1;
	buf_reserve(out, enc_len);
	int n = EVP_EncodeBlock((unsigned char *)out->data + out->len, (unsigned char *)raw.data,
				(int)raw.len);
	out->len += (size_t)n;
	OPENSSL_cleanse(raw.data, raw.len);
	buf_free(&raw);
}

static void login_job_run(void *arg)
{
	struct login_job *j = arg;
	const struct om_config *cfg = j->p->ls->cfg;
	j->fd = -1;
	char *canon = NULL;
	if (strcmp(cfg->director_auth, "local") == 0) {
		int r = j->p->ls->passdb != NULL
				? passdb_verify(j->p->ls->passdb, j->user, j->pass)
				: -OM_EAUTH;
		if (r == -OM_EAUTH || r == -OM_ENOTFOUND) {
			buf_printf(&j->reply, "%s NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
				   j->tag);
			j->auth_failed = true;
			return;
		}
		if (r != 0) {
			buf_printf(&j->reply, "%s NO [UNAVAILABLE] Authentication temporarily "
					      "unavailable\r\n", j->tag);
			return;
		}
	}
	/* hash the passdb's name for the user (as LMTP does), also when the
	 * backend checks the password */
	struct passdb_user pu = { 0 };
	if (j->p->ls->passdb != NULL && passdb_lookup(j->p->ls->passdb, j->user, &pu) == 0) {
		canon = om_strdup(pu.user);
		passdb_user_free(&pu);
	}
	const char *user = canon != NULL ? canon : j->user;
	char host[DIRECTOR_HOST_MAX], id[DIRECTOR_ID_MAX];
	unsigned port = 0;
	if (director_route(user, false, host, &port, id) != 0) {
		buf_printf(&j->reply, "%s NO [UNAVAILABLE] No backend available, try again later\r\n",
			   j->tag);
		free(canon);
		return;
	}
	memcpy(j->p->ds.backend_id, id, sizeof(id));
	int fd = director_connect(host, port, BACKEND_TIMEOUT_MS);
	struct buf rbuf = BUF_INIT, line = BUF_INIT, out = BUF_INIT;
	bool backend_bad = true;
	if (fd < 0)
		goto unavailable;
	if (read_line(fd, &rbuf, &line) != 0 || line.len < 4 || memcmp(line.data, "* OK", 4) != 0)
		goto unavailable;
	buf_append_str(&out, "D1 AUTHENTICATE PLAIN ");
	const char *mu = cfg->director_master_user;
	if (mu != NULL && mu[0] != '\0')
		sasl_plain(&out, user, mu, cfg->director_master_password);
	else
		sasl_plain(&out, "", user, j->pass);
	buf_append_str(&out, "\r\n");
	ssize_t w = write(fd, out.data, out.len);
	OPENSSL_cleanse(out.data, out.len);
	if (w != (ssize_t)out.len)
		goto unavailable;
	for (;;) {
		if (read_line(fd, &rbuf, &line) != 0)
			goto unavailable;
		if (line.len >= 3 && memcmp(line.data, "D1 ", 3) == 0)
			break;
		if (line.len >= 2 && memcmp(line.data, "+ ", 2) == 0)
			goto unavailable; /* it did not take SASL-IR */
		buf_append(&j->reply, line.data, line.len);
		buf_append_str(&j->reply, "\r\n");
	}
	backend_bad = false;
	buf_printf(&j->reply, "%s %s\r\n", j->tag, buf_cstr(&line) + 3);
	if (line.len >= 5 && memcmp(line.data + 3, "OK", 2) == 0) {
		j->ok = true;
		j->fd = fd;
		fd = -1;
		buf_append(&j->reply, rbuf.data, rbuf.len); /* anything after the tagged line */
		log_info("director: %s logged in via backend %s", user, id);
	} else if (mu != NULL && mu[0] != '\0') {
		/* the client's own password was fine (or not ours to check): a
		 * refused master login is the operator's to fix, and not worth
		 * a failed-login delay for the user */
		buf_reset(&j->reply);
		buf_printf(&j->reply, "%s NO [UNAVAILABLE] Backend login failed, try again later\r\n",
			   j->tag);
		log_error("director: backend %s refused master user %s for %s: %s (check "
			  "director_master_user/director_master_password and the backend's passdb)",
			  id, mu, user, buf_cstr(&line) + 3);
	} else {
		j->auth_failed = strstr(buf_cstr(&line), "AUTHENTICATIONFAILED") != NULL;
		log_info("director: backend %s refused %s: %s", id, user, buf_cstr(&line) + 3);
	}
	goto out;
unavailable:
	buf_reset(&j->reply);
	buf_printf(&j->reply, "%s NO [UNAVAILABLE] Backend not available, try again\r\n", j->tag);
	if (backend_bad) {
		log_warn("director: backend %s (%s:%u) failed for %s", id, host, port, user);
		director_backend_failed(id, false);
	}
out:
	if (fd >= 0)
		close(fd);
	buf_free(&rbuf);
	buf_free(&line);
	buf_free(&out);
	free(canon);
}

static void login_job_done(void *arg)
{
	struct login_job *j = arg;
	struct iproxy *p = j->p;
	struct conn *c = p->c;
	job_free_secrets(j);
	director_count_login(j->ok);
	if (!j->ok) {
		if (j->fd >= 0)
			close(j->fd);
		unsigned delay = j->auth_failed ? p->ls->cfg->auth_failure_delay : 0;
		if (delay > 0) {
			conn_post_delayed(c, delay * 1000, login_reply_post, j);
		} else {
			conn_write(c, j->reply.data, j->reply.len);
			p->state = ST_PRE;
			buf_free(&j->reply);
			free(j);
		}
		return;
	}
	int one = 1;
	(void)setsockopt(j->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	evutil_make_socket_nonblocking(j->fd);
	/* not BEV_OPT_CLOSE_ON_FREE: the fd outlives it when the relay switches
	 * to splice; relay_stop closes it */
	p->be = bufferevent_socket_new(conn_event_base(c), j->fd, 0);
	if (p->be == NULL) {
		close(j->fd);
		conn_printf(c, "* BYE Out of resources\r\n");
		conn_close(c);
		buf_free(&j->reply);
		free(j);
		return;
	}
	p->be_fd = j->fd;
	conn_write(c, j->reply.data, j->reply.len);
	buf_free(&j->reply);
	free(j);
	p->state = ST_RELAY;
	buf_free(&p->cmd);
	conn_set_timeout(c, 0);
	p->ds.conn = c;
	director_session_add(&p->ds);
	p->registered = true;
	/* libevent reads 16 KiB per call by default: big FETCHes want more */
	bufferevent_set_max_single_read(p->be, RELAY_READ_MAX);
	bufferevent_set_max_single_write(p->be, RELAY_READ_MAX);
	bufferevent_setcb(p->be, be_readcb, be_writecb, be_eventcb, p);
	/* the write callback runs once the output is down to RELAY_LOW */
	bufferevent_setwatermark(p->be, EV_WRITE, RELAY_LOW, 0);
	bufferevent_enable(p->be, EV_READ | EV_WRITE);
	/* commands the client pipelined behind its LOGIN */
	to_backend(p, conn_input(c));
	if (conn_socket_fd(c) >= 0) {
		p->switch_wait_ms = 1;
		conn_post_delayed(c, p->switch_wait_ms, splice_switch_check, p);
	}
}

static void start_login(struct iproxy *p, const char *tag, const char *user, const char *pass)
{
	struct login_job *j = om_calloc(1, sizeof(*j));
	j->p = p;
	j->tag = om_strdup(tag);
	j->user = om_strdup(user);
	j->pass = om_strdup(pass);
	j->fd = -1;
	p->state = ST_LOGIN;
	conn_run(p->c, login_job_run, login_job_done, j);
}

static bool login_allowed(struct iproxy *p, const char *tag)
{
	if (p->ls->cfg->ssl_required && !conn_is_tls(p->c)) {
		conn_printf(p->c, "%s NO [PRIVACYREQUIRED] Use STARTTLS first\r\n", tag);
		return false;
	}
	return true;
}

/* AUTHENTICATE PLAIN's response: base64 of authzid NUL authcid NUL passwd */
static void sasl_response(struct iproxy *p, const char *tag, const char *b64)
{
	size_t len = strlen(b64);
	if (strcmp(b64, "=") == 0)
		len = 0;
	unsigned char *raw = om_malloc(len / 4 * 3 + 4);
	int n = len > 0 ? EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len) : 0;
	if (n < 0 || len % 4 != 0) {
		conn_printf(p->c, "%s BAD Invalid base64\r\n", tag);
		free(raw);
		return;
	}
	/* EVP_DecodeBlock counts the '=' padding as zero bytes */
	if (len >= 1 && b64[len - 1] == '=')
		n--;
	if (len >= 2 && b64[len - 2] == '=')
		n--;
	const char *authz = (const char *)raw;
	const char *z1 = memchr(raw, '\0', (size_t)n);
	const char *z2 = z1 != NULL ? memchr(z1 + 1, '\0', (size_t)n - (size_t)(z1 + 1 - authz))
				    : NULL;
	if (z1 == NULL || z2 == NULL) {
		conn_printf(p->c, "%s NO [AUTHENTICATIONFAILED] Malformed PLAIN response\r\n", tag);
		OPENSSL_cleanse(raw, (size_t)n);
		free(raw);
		return;
	}
	const char *authc = z1 + 1;
	char *pass = om_strndup(z2 + 1, (size_t)n - (size_t)(z2 + 1 - authz));
	if (authz[0] != '\0' && strcmp(authz, authc) != 0)
		conn_printf(p->c, "%s NO [AUTHORIZATIONFAILED] Proxy authorization not allowed\r\n",
			    tag);
	else if (authc[0] == '\0')
		conn_printf(p->c, "%s NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", tag);
	else
		start_login(p, tag, authc, pass);
	OPENSSL_cleanse(pass, strlen(pass));
	free(pass);
	OPENSSL_cleanse(raw, (size_t)n);
	free(raw);
}

static void run_command(struct iproxy *p, char **tok, size_t n)
{
	struct conn *c = p->c;
	if (n < 2) {
		conn_printf(c, "%s BAD Missing command\r\n", n == 1 ? tok[0] : "*");
		return;
	}
	const char *tag = tok[0], *cmd = tok[1];
	if (om_str_ieq(cmd, "CAPABILITY")) {
		struct buf caps = BUF_INIT;
		capability(p, &caps);
		conn_printf(c, "* CAPABILITY %s\r\n%s OK Capability completed.\r\n", buf_cstr(&caps),
			    tag);
		buf_free(&caps);
	} else if (om_str_ieq(cmd, "NOOP")) {
		conn_printf(c, "%s OK NOOP completed.\r\n", tag);
	} else if (om_str_ieq(cmd, "ID")) {
		conn_printf(c, "* ID (\"name\" \"objmail-director\")\r\n%s OK ID completed.\r\n", tag);
	} else if (om_str_ieq(cmd, "LOGOUT")) {
		conn_printf(c, "* BYE Logging out\r\n%s OK Logout completed.\r\n", tag);
		conn_close(c);
	} else if (om_str_ieq(cmd, "STARTTLS")) {
		if (!conn_tls_available(c) || conn_is_tls(c)) {
			conn_printf(c, "%s BAD STARTTLS not available\r\n", tag);
			return;
		}
		conn_printf(c, "%s OK Begin TLS negotiation now.\r\n", tag);
		buf_reset(&p->cmd);
		(void)conn_starttls(c);
	} else if (om_str_ieq(cmd, "LOGIN")) {
		if (n != 4) {
			conn_printf(c, "%s BAD LOGIN needs user and password\r\n", tag);
			return;
		}
		if (login_allowed(p, tag))
			start_login(p, tag, tok[2], tok[3]);
	} else if (om_str_ieq(cmd, "AUTHENTICATE")) {
		if (n < 3 || n > 4) {
			conn_printf(c, "%s BAD AUTHENTICATE needs a mechanism\r\n", tag);
			return;
		}
		if (!om_str_ieq(tok[2], "PLAIN")) {
			conn_printf(c, "%s NO Unsupported authentication mechanism\r\n", tag);
			return;
		}
		if (!login_allowed(p, tag))
			return;
		if (n == 4) {
			sasl_response(p, tag, tok[3]);
			return;
		}
		free(p->sasl_tag);
		p->sasl_tag = om_strdup(tag);
		p->state = ST_SASL;
		conn_write_str(c, "+ \r\n");
	} else {
		conn_printf(c, "%s BAD Command not allowed before login\r\n", tag);
	}
}

static void process_input(struct iproxy *p)
{
	struct conn *c = p->c;
	struct evbuffer *in = conn_input(c);
	while ((p->state == ST_PRE || p->state == ST_SASL) && !conn_is_closing(c)) {
		if (p->literal_left > 0) {
			size_t avail = evbuffer_get_length(in);
			size_t take = avail < p->literal_left ? avail : p->literal_left;
			if (take == 0)
				return;
			buf_reserve(&p->cmd, take);
			evbuffer_remove(in, p->cmd.data + p->cmd.len, take);
			p->cmd.len += take;
			p->literal_left -= take;
			if (p->literal_left > 0)
				return;
			continue;
		}
		size_t len = 0;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) + p->cmd.len > PRE_MAX_COMMAND) {
				conn_write_str(c, "* BYE Command line too long\r\n");
				conn_close(c);
			}
			return;
		}
		if (p->cmd.len + len + 2 > PRE_MAX_COMMAND) {
			free(line);
			conn_write_str(c, "* BYE Command line too long\r\n");
			conn_close(c);
			return;
		}
		buf_append(&p->cmd, line, len);
		free(line);
		if (p->state == ST_PRE && len > 2 && p->cmd.data[p->cmd.len - 1] == '}') {
			/* a literal follows: {N} or {N+} */
			const char *open = memrchr(p->cmd.data, '{', p->cmd.len);
			if (open != NULL) {
				const char *digits = open + 1;
				size_t dl = (size_t)(p->cmd.data + p->cmd.len - 1 - digits);
				bool plus = dl > 0 && digits[dl - 1] == '+';
				unsigned long long lit = 0;
				if (dl > (plus ? 1u : 0u) &&
				    om_parse_u64(digits, dl - (plus ? 1 : 0), &lit)) {
					if (lit + p->cmd.len + 2 > PRE_MAX_COMMAND) {
						conn_write_str(c, "* BYE Literal too big\r\n");
						conn_close(c);
						return;
					}
					buf_append_str(&p->cmd, "\r\n");
					p->literal_left = (size_t)lit;
					if (!plus)
						conn_write_str(c, "+ Ready for literal data\r\n");
					if (lit > 0)
						continue;
				}
			}
		}
		if (p->state == ST_SASL) {
			char *tag = p->sasl_tag;
			p->sasl_tag = NULL;
			p->state = ST_PRE;
			buf_append_c(&p->cmd, '\0');
			if (strcmp(p->cmd.data, "*") == 0)
				conn_printf(c, "%s BAD Authentication cancelled\r\n", tag);
			else
				sasl_response(p, tag, p->cmd.data);
			OPENSSL_cleanse(p->cmd.data, p->cmd.len);
			buf_reset(&p->cmd);
			free(tag);
			continue;
		}
		char *tok[PRE_MAX_ARGS] = { 0 };
		size_t n = 0;
		int r = tokenize(p->cmd.data, p->cmd.len, tok, PRE_MAX_ARGS, &n);
		if (r != 0)
			conn_write_str(c, "* BAD Malformed command\r\n");
		else
			run_command(p, tok, n);
		free_tokens(tok, r == 0 ? n : PRE_MAX_ARGS);
		OPENSSL_cleanse(p->cmd.data, p->cmd.len);
		buf_reset(&p->cmd);
	}
}

/* --- the handler --- */

static void *ip_on_open(struct conn *c, void *ctx)
{
	struct iproxy *p = om_calloc(1, sizeof(*p));
	p->c = c;
	p->ls = ctx;
	p->state = ST_PRE;
	p->be_fd = -1;
	director_count_conn(1);
	struct buf caps = BUF_INIT;
	capability(p, &caps);
	conn_printf(c, "* OK [CAPABILITY %s] objmail director ready.\r\n", buf_cstr(&caps));
	buf_free(&caps);
	conn_set_timeout(c, p->ls->cfg->login_timeout);
	return p;
}

static void ip_on_input(struct conn *c, void *session)
{
	struct iproxy *p = session;
	if (p->state == ST_RELAY) {
		struct evbuffer *in = conn_input(c);
		if (p->sr != NULL) {
			/* input is paused while splicing: bytes here would be out of
			 * order with the spliced ones */
			log_error("director: conn %lu: input while splicing", conn_id(c));
			relay_stop(p);
			conn_close(c);
			evbuffer_drain(in, evbuffer_get_length(in));
		} else if (p->be != NULL)
			to_backend(p, in);
		else
			evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (p->state == ST_LOGIN)
		return; /* pipelined behind LOGIN: for the backend */
	process_input(p);
}

static void ip_on_timeout(struct conn *c, void *session)
{
	(void)session;
	conn_write_str(c, "* BYE Disconnected for inactivity.\r\n");
	conn_close(c);
}

static void ip_on_shutdown(struct conn *c, void *session)
{
	struct iproxy *p = session;
	/* the socket goes back to the conn alone before it writes */
	if (p->sr != NULL)
		relay_stop(p);
	conn_write_str(c, "* BYE Server shutting down.\r\n");
}

static void ip_on_close(struct conn *c, void *session)
{
	(void)c;
	struct iproxy *p = session;
	relay_stop(p);
	director_count_conn(-1);
	free(p->sasl_tag);
	OPENSSL_cleanse(p->cmd.data, p->cmd.len);
	buf_free(&p->cmd);
	free(p);
}

const struct conn_handler director_imap_handler = {
	.name = "imap-director",
	.on_open = ip_on_open,
	.on_input = ip_on_input,
	.on_timeout = ip_on_timeout,
	.on_close = ip_on_close,
	.on_shutdown = ip_on_shutdown,
};
