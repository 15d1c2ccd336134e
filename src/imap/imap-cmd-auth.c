/* CAPABILITY NOOP LOGOUT ID ENABLE NAMESPACE LOGIN AUTHENTICATE STARTTLS
 * COMPRESS */
#include <stdlib.h>
#include <string.h>

#include "auth/passdb.h"
#include "imap/imap-session-private.h"
#include "lib/authlimit.h"
#include "lib/log.h"
#include "lib/om-error.h"

#define MAX_USERNAME 255
#define MAX_PASSWORD 1024
/* RFC 2971 3.3 */
#define ID_MAX_PAIRS 30
#define ID_MAX_FIELD 30
#define ID_MAX_VALUE 1024

void cmd_capability(struct imap_session *s, struct imap_command *cmd)
{
	struct buf caps = BUF_INIT;

	(void)cmd;
	imap_write_capability(s, &caps);
	imap_send(s, "CAPABILITY %s", buf_cstr(&caps));
	buf_free(&caps);
	imap_cmd_ok(s, "Capability completed.");
}

void cmd_noop(struct imap_session *s, struct imap_command *cmd)
{
	(void)cmd;
	imap_cmd_ok(s, "NOOP completed.");
}

void cmd_logout(struct imap_session *s, struct imap_command *cmd)
{
	(void)cmd;
	imap_send(s, "BYE Logging out");
	imap_cmd_ok(s, "Logout completed.");
	s->state = IMAP_STATE_LOGOUT;
	s->priv->close_after = true;
}

void cmd_namespace(struct imap_session *s, struct imap_command *cmd)
{
	(void)cmd;
	imap_send(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_cmd_ok(s, "Namespace completed.");
}

void cmd_id(struct imap_session *s, struct imap_command *cmd)
{
	const struct imap_arg *arg;

	if (cmd->n_args != 1) {
		imap_cmd_bad(s, "ID needs one argument: NIL or a list.");
		return;
	}
	arg = &cmd->args[0];
	if (arg->type == IMAP_ARG_LIST) {
		if (arg->list_count % 2 != 0 || arg->list_count / 2 > ID_MAX_PAIRS) {
			imap_cmd_bad(s, "Invalid ID parameter list.");
			return;
		}
		for (size_t i = 0; i < arg->list_count; i += 2) {
			const char *field, *value = NULL;
			size_t flen, vlen = 0;
			if (!imap_arg_get_string(&arg->list[i], &field, &flen) || flen > ID_MAX_FIELD ||
			    (arg->list[i + 1].type != IMAP_ARG_NIL &&
			     (!imap_arg_get_string(&arg->list[i + 1], &value, &vlen) ||
			      vlen > ID_MAX_VALUE))) {
				imap_cmd_bad(s, "Invalid ID parameter list.");
				return;
			}
			log_debug("imap: client id %.*s=%.*s", (int)flen, field, (int)vlen,
				  value ? value : "");
		}
	} else if (arg->type != IMAP_ARG_NIL) {
		imap_cmd_bad(s, "ID needs NIL or a list.");
		return;
	}
	imap_send(s, "ID (\"name\" \"objmail\" \"version\" \"0.1\")");
	imap_cmd_ok(s, "ID completed.");
}

void cmd_enable(struct imap_session *s, struct imap_command *cmd)
{
	const char *atom;

	if (cmd->n_args == 0) {
		imap_cmd_bad(s, "ENABLE needs capability names.");
		return;
	}
	for (size_t i = 0; i < cmd->n_args; i++) {
		if (!imap_arg_get_atom(&cmd->args[i], &atom)) {
			imap_cmd_bad(s, "Invalid capability name.");
			return;
		}
	}
	/* RFC 5161: unknown ones are ignored; ENABLED lists those newly on */
	struct buf line = BUF_INIT;
	buf_append_str(&line, "ENABLED");
	for (size_t i = 0; i < cmd->n_args; i++) {
		(void)imap_arg_get_atom(&cmd->args[i], &atom);
		if (om_str_ieq(atom, "CONDSTORE") && !s->enabled_condstore) {
			s->enabled_condstore = true;
			buf_append_str(&line, " CONDSTORE");
		} else if (om_str_ieq(atom, "QRESYNC") && !s->enabled_qresync) {
			/* QRESYNC implies CONDSTORE (RFC 7162 3.2.3) */
			s->enabled_qresync = true;
			s->enabled_condstore = true;
			buf_append_str(&line, " QRESYNC");
		} else if (om_str_ieq(atom, "UTF8=ACCEPT") && !s->enabled_utf8) {
			s->enabled_utf8 = true;
			buf_append_str(&line, " UTF8=ACCEPT");
		} else if (om_str_ieq(atom, "IMAP4rev2") && !s->enabled_rev2) {
			s->enabled_rev2 = true;
			buf_append_str(&line, " IMAP4rev2");
		}
	}
	imap_send(s, "%s", buf_cstr(&line));
	buf_free(&line);
	imap_cmd_ok(s, "Enabled.");
}

/* --- authentication --- */

/* The checks before any password is looked at. false: answered. */
static bool auth_precheck(struct imap_session *s, const char *user, size_t user_len,
			  const char *pass, size_t pass_len)
{
	struct passdb *db = s->server != NULL ? s->server->passdb : NULL;

	if (user_len == 0 || user_len > MAX_USERNAME || pass_len > MAX_PASSWORD ||
	    memchr(user, '\0', user_len) != NULL || memchr(pass, '\0', pass_len) != NULL) {
		imap_cmd_no(s, "[AUTHENTICATIONFAILED] Authentication failed.");
		imap_session_auth_failed(s);
		return false;
	}
	if (db == NULL) {
		imap_cmd_no(s, "[UNAVAILABLE] Authentication is not available.");
		return false;
	}
	if (s->conn != NULL && s->cfg != NULL &&
	    authlimit_blocked(conn_peer_ip(s->conn), s->cfg->auth_failures_per_ip,
			      s->cfg->auth_failure_window)) {
		/* the password is not even looked at: no oracle for a guesser */
		log_info("imap: login refused from %s: too many authentication failures "
			 "(auth_failures_per_ip %u)", conn_peer_ip(s->conn), s->cfg->auth_failures_per_ip);
		imap_cmd_no(s, "[UNAVAILABLE] Too many authentication failures from your address, "
			       "try again later.");
		s->priv->delay_reply = true;
		return false;
	}
	return true;
}

/* user's password against the passdb, then its passdb entry into *pu
 * (caller frees). 0, or the passdb's error. */
static int auth_verify(struct passdb *db, const char *u, const char *pass, size_t pass_len,
		       struct passdb_user *pu)
{
	char *p = om_strndup(pass, pass_len);
	int ret = passdb_verify(db, u, p);
	memset(p, 0, pass_len);
	free(p);
	if (ret == 0) {
		memset(pu, 0, sizeof(*pu));
		ret = passdb_lookup(db, u, pu);
	}
	return ret;
}

/* Verify user/password and log in; sets the tagged reply. */
static void authenticate(struct imap_session *s, const char *user, size_t user_len,
			 const char *pass, size_t pass_len)
{
	struct passdb_user pu;
	char *u;
	int ret;

	if (!auth_precheck(s, user, user_len, pass, pass_len))
		return;
	struct passdb *db = s->server->passdb;
	u = om_strndup(user, user_len);
	ret = auth_verify(db, u, pass, pass_len, &pu);
	if (ret == 0 && pu.master) {
		/* a master account is a credential for logging in as others,
		 * not a mailbox */
		log_info("imap: master user %s may only log in for another user", u);
		passdb_user_free(&pu);
		ret = -OM_EAUTH;
	} else if (ret == 0) {
		imap_session_login(s, &pu);
		passdb_user_free(&pu);
		free(u);
		return;
	}
	if (ret == -OM_EAUTH || ret == -OM_ENOTFOUND || ret == -OM_EINVAL) {
		log_info("imap: authentication failed for %s from %s", u,
			 s->conn != NULL ? conn_peer_ip(s->conn) : "-");
		imap_cmd_no(s, "[AUTHENTICATIONFAILED] Authentication failed.");
		imap_session_auth_failed(s);
	} else {
		log_warn("imap: passdb error for %s: %s", u, om_strerror(-ret));
		imap_cmd_no(s, "[UNAVAILABLE] Temporary authentication failure.");
	}
	free(u);
}

void cmd_login(struct imap_session *s, struct imap_command *cmd)
{
	const char *user, *pass;
	size_t ulen, plen;

	if (cmd->n_args != 2 || !imap_arg_get_astring(&cmd->args[0], &user, &ulen) ||
	    !imap_arg_get_astring(&cmd->args[1], &pass, &plen)) {
		imap_cmd_bad(s, "LOGIN needs a user name and a password.");
		return;
	}
	if (imap_login_disabled(s)) {
		imap_cmd_no(s, "[PRIVACYREQUIRED] Plaintext authentication disallowed on "
			       "non-secure connections.");
		return;
	}
	authenticate(s, user, ulen, pass, plen);
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict base64 (RFC 4648, padding required) into out. */
static bool base64_decode(const char *in, size_t len, struct buf *out)
{
	if (len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;
		for (size_t k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			if (c == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return false; /* data after '=' */
			v[k] = b64_value(c);
			if (v[k] < 0)
				return false;
		}
		unsigned long n = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
				  ((unsigned long)v[2] << 6) | (unsigned long)v[3];
		char bytes[3] = { (char)(n >> 16), (char)(n >> 8), (char)n };
		buf_append(out, bytes, 3 - pad);
	}
	return true;
}

/* SASL PLAIN with an authorization id other than the authentication id:
 * master's password, master must be a master user (passdb extra field
 * master=yes), then the session is target's. */
static void authenticate_master(struct imap_session *s, const char *target, size_t target_len,
				const char *master, size_t master_len, const char *pass,
				size_t pass_len)
{
	struct passdb_user mu, tu;
	int ret;

	if (target_len > MAX_USERNAME) {
		imap_cmd_no(s, "[AUTHORIZATIONFAILED] Authorization failed.");
		imap_session_auth_failed(s);
		return;
	}
	if (!auth_precheck(s, master, master_len, pass, pass_len))
		return;
	struct passdb *db = s->server->passdb;
	char *m = om_strndup(master, master_len);
	char *t = om_strndup(target, target_len);
	const char *peer = s->conn != NULL ? conn_peer_ip(s->conn) : "-";
	ret = auth_verify(db, m, pass, pass_len, &mu);
	if (ret == -OM_EAUTH || ret == -OM_ENOTFOUND || ret == -OM_EINVAL) {
		log_info("imap: authentication failed for master user %s (for %s) from %s", m, t,
			 peer);
		imap_cmd_no(s, "[AUTHENTICATIONFAILED] Authentication failed.");
		imap_session_auth_failed(s);
	} else if (ret != 0) {
		log_warn("imap: passdb error for %s: %s", m, om_strerror(-ret));
		imap_cmd_no(s, "[UNAVAILABLE] Temporary authentication failure.");
	} else if (!mu.master) {
		/* a good password, but no right to be anyone else */
		log_info("imap: %s from %s may not log in as %s (not a master user)", m, peer, t);
		imap_cmd_no(s, "[AUTHORIZATIONFAILED] Authorization failed.");
		imap_session_auth_failed(s);
		passdb_user_free(&mu);
	} else {
		passdb_user_free(&mu);
		memset(&tu, 0, sizeof(tu));
		ret = passdb_lookup(db, t, &tu);
		if (ret == 0 && tu.master) {
			passdb_user_free(&tu);
			ret = -OM_ENOTFOUND; /* no mailbox behind a master account */
		}
		if (ret == 0) {
			log_info("imap: master user %s logs in as %s from %s", m, tu.user, peer);
			imap_session_login(s, &tu);
			passdb_user_free(&tu);
		} else if (ret == -OM_ENOTFOUND || ret == -OM_EINVAL) {
			log_info("imap: master user %s: no user %s", m, t);
			imap_cmd_no(s, "[AUTHORIZATIONFAILED] Authorization failed.");
		} else {
			log_warn("imap: passdb error for %s: %s", t, om_strerror(-ret));
			imap_cmd_no(s, "[UNAVAILABLE] Temporary authentication failure.");
		}
	}
	free(m);
	free(t);
}

/* SASL PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd */
static void auth_plain(struct imap_session *s, const char *b64, size_t len)
{
	struct buf raw = BUF_INIT;
	const char *authzid, *authcid, *pass, *end, *nul1, *nul2;

	if (!base64_decode(b64, len, &raw)) {
		buf_free(&raw);
		imap_cmd_bad(s, "Invalid base64 data.");
		return;
	}
	authzid = raw.data != NULL ? raw.data : "";
	end = authzid + raw.len;
	nul1 = memchr(authzid, '\0', raw.len);
	nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1)) : NULL;
	if (nul1 == NULL || nul2 == NULL) {
		imap_cmd_no(s, "[AUTHENTICATIONFAILED] Authentication failed.");
		imap_session_auth_failed(s);
	} else {
		authcid = nul1 + 1;
		pass = nul2 + 1;
		size_t zlen = (size_t)(nul1 - authzid), clen = (size_t)(nul2 - authcid);
		if (zlen != 0 && (zlen != clen || memcmp(authzid, authcid, clen) != 0)) {
			/* acting as another user: only a master user may */
			authenticate_master(s, authzid, zlen, authcid, clen, pass,
					    (size_t)(end - pass));
		} else {
			authenticate(s, authcid, clen, pass, (size_t)(end - pass));
		}
	}
	if (raw.data != NULL)
		memset(raw.data, 0, raw.cap);
	buf_free(&raw);
}

static void auth_plain_line(struct imap_session *s, const char *line, size_t len)
{
	auth_plain(s, line, len);
}

void cmd_authenticate(struct imap_session *s, struct imap_command *cmd)
{
	const char *mech, *ir;
	size_t ir_len;

	if (cmd->n_args < 1 || cmd->n_args > 2 || !imap_arg_get_atom(&cmd->args[0], &mech)) {
		imap_cmd_bad(s, "AUTHENTICATE needs a mechanism name.");
		return;
	}
	if (!om_str_ieq(mech, "PLAIN")) {
		imap_cmd_no(s, "Unsupported authentication mechanism.");
		return;
	}
	if (imap_login_disabled(s)) {
		imap_cmd_no(s, "[PRIVACYREQUIRED] Plaintext authentication disallowed on "
			       "non-secure connections.");
		return;
	}
	if (cmd->n_args == 2) {
		/* SASL-IR (RFC 4959): "=" is an empty initial response */
		if (!imap_arg_get_astring(&cmd->args[1], &ir, &ir_len)) {
			imap_cmd_bad(s, "Invalid initial response.");
			return;
		}
		if (ir_len == 1 && ir[0] == '=')
			ir_len = 0;
		auth_plain(s, ir, ir_len);
		return;
	}
	imap_send_raw(s, "+ \r\n", 4);
	imap_session_want_line(s, IMAP_LINE_AUTH, auth_plain_line);
}

void cmd_compress(struct imap_session *s, struct imap_command *cmd)
{
	const char *alg;

	if (cmd->n_args != 1 || !imap_arg_get_atom(&cmd->args[0], &alg)) {
		imap_cmd_bad(s, "COMPRESS needs one algorithm name.");
		return;
	}
	if (!om_str_ieq(alg, "DEFLATE")) {
		imap_cmd_bad(s, "Unknown compression algorithm.");
		return;
	}
	if (s->compress_active) {
		imap_cmd_no(s, "[COMPRESSIONACTIVE] DEFLATE is already active.");
		return;
	}
	if (s->conn == NULL) {
		imap_cmd_no(s, "[CANNOT] No connection to compress.");
		return;
	}
	/* the filter goes in after this reply is queued (RFC 4978 3) */
	s->compress_active = true;
	s->priv->compress_after = true;
	imap_cmd_ok(s, "DEFLATE active");
}

void cmd_starttls(struct imap_session *s, struct imap_command *cmd)
{
	(void)cmd;
	if (s->conn == NULL || conn_is_tls(s->conn)) {
		imap_cmd_bad(s, "TLS is already active.");
		return;
	}
	if (!conn_tls_available(s->conn)) {
		imap_cmd_bad(s, "TLS support isn't enabled.");
		return;
	}
	imap_cmd_ok(s, "Begin TLS negotiation now.");
	s->priv->starttls_after = true;
}
