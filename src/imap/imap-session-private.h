/* Internals shared by the IMAP session core and its own command files
 * (imap-session.c, imap-view.c, imap-output.c, imap-commands.c,
 * imap-cmd-{auth,mailbox,select,append}.c). Command files of other modules
 * only need imap-session.h. */
#ifndef OM_IMAP_SESSION_PRIVATE_H
#define OM_IMAP_SESSION_PRIVATE_H

#include "imap/imap-session.h"

/* Lines the core reads outside the command parser. */
enum imap_line_mode {
	IMAP_LINE_NONE,
	IMAP_LINE_IDLE, /* waiting for "DONE" */
	IMAP_LINE_AUTH, /* waiting for the SASL response of AUTHENTICATE */
};

enum imap_cmd_flags {
	/* RFC 3501 7.4.1: no EXPUNGE while answering it (FETCH, STORE, SEARCH);
	 * the UID forms lift this. */
	IMAP_CMD_NO_EXPUNGE = 1 << 0,
	/* May follow "UID". */
	IMAP_CMD_UID = 1 << 1,
	/* Don't sync after it (it syncs itself or has no mailbox). */
	IMAP_CMD_NO_SYNC = 1 << 2,
};

struct imap_cmd_def {
	const char *name;
	imap_cmd_fn *fn;
	unsigned states; /* enum imap_state bits */
	unsigned flags;  /* enum imap_cmd_flags */
};

/* imap-commands.c */
const struct imap_cmd_def *imap_cmd_find(const char *name);

struct imap_session_priv {
	enum imap_line_mode line_mode;
	bool job_running;       /* a conn_run job is in flight */
	bool held;              /* a delayed reply is pending: don't read input */
	bool delay_reply;       /* hold the tagged reply for auth_failure_delay */
	bool starttls_after;    /* switch to TLS once the reply is queued */
	bool close_after;       /* close once the reply is queued */
	bool compress_after;    /* start DEFLATE once the reply is queued */
	bool idle_wake_pending; /* a change arrived while a job ran */
	unsigned timeout_state; /* state the read timeout was set for */

	struct imap_command *parsed; /* as parsed; s->cmd may be a UID view */
	struct imap_command uid_cmd; /* "UID X args" seen as "X args" */
	const struct imap_cmd_def *def;

	/* continuation of AUTHENTICATE: the client's line and the job */
	struct buf line;
	void (*line_fn)(struct imap_session *s, const char *line, size_t len);

	/* Tests: output goes here instead of the connection. */
	struct buf *capture;
};

/* --- imap-session.c --- */
/* Capabilities for the session's state, space-separated, no prefix. */
void imap_write_capability(const struct imap_session *s, struct buf *out);
/* The biggest message APPEND takes (APPENDLIMIT, RFC 7889): the parser's
 * literal limit, mail_max_size or 64 MiB when that is 0. */
uint64_t imap_append_limit(const struct om_config *cfg);
/* LOGINDISABLED: plaintext auth refused on this connection now? */
bool imap_login_disabled(const struct imap_session *s);
/* Close the selected mailbox and go back to the authenticated state. */
void imap_session_deselect(struct imap_session *s);
/* Enter a line mode after the command function returns; fn gets the line
 * (AUTH) on a worker. */
void imap_session_want_line(struct imap_session *s, enum imap_line_mode mode,
			    void (*fn)(struct imap_session *s, const char *line, size_t len));
/* A failed authentication: count it and send the tagged reply (already set
 * with imap_cmd_no) only after cfg->auth_failure_delay. */
void imap_session_auth_failed(struct imap_session *s);
/* Successful login as pu->user (job thread): open storage, switch state,
 * set the tagged OK with the new capabilities. */
struct passdb_user;
void imap_session_login(struct imap_session *s, const struct passdb_user *pu);
/* IDLE (job thread): start watching the selected mailbox. */
void imap_session_idle_start(struct imap_session *s);
/* Tests: run a parsed command now, on this thread, as its job would (takes
 * cmd; a failed login's reply is not delayed). */
void imap_session_exec(struct imap_session *s, struct imap_command *cmd);

/* --- imap-cmd-mailbox.c --- */
/* "* LIST (attributes) "/" name" as a plain LIST would answer for the
 * mailbox `name` (SELECT/EXAMINE in IMAP4rev2, RFC 9051 6.3.2), with
 * ("OLDNAME" (sent)) when the client named it differently (sent may be
 * NULL). */
void imap_send_mailbox_list(struct imap_session *s, const char *name, const char *sent);

/* --- imap-view.c --- */
/* Fill the view from the first snapshot after SELECT (takes its data). */
void imap_view_init(struct imap_session *s, const struct mailbox_snapshot *snap);
void imap_view_free(struct imap_view *v);
/* The view against a new snapshot: the work of imap_session_sync, without
 * the storage call (tests use it directly). */
void imap_view_update(struct imap_session *s, const struct mailbox_snapshot *snap,
		      bool allow_expunge);
/* "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" for the view. */
void imap_view_send_flags(struct imap_session *s);
uint32_t imap_view_recent_count(const struct imap_view *v);

/* --- imap-output.c --- */
/* Mailbox name (UTF-8) as an IMAP string in modified UTF-7. */
void imap_write_mailbox(struct buf *out, const char *utf8_name);
/* The same for this session: UTF-8 as it is once UTF8=ACCEPT or IMAP4rev2
 * is enabled (RFC 6855, RFC 9051), else modified UTF-7. */
void imap_write_mailbox_s(const struct imap_session *s, struct buf *out, const char *utf8_name);
/* An astring argument as a UTF-8 mailbox name; false (and a tagged BAD set)
 * if it is not a string or not valid modified UTF-7. */
bool imap_arg_mailbox(struct imap_session *s, const struct imap_arg *arg, struct buf *name_r);
/* Append "\Seen \Draft ..." for enum mail_flags (no parentheses). */
void imap_write_system_flags(struct buf *out, uint32_t flags);

#endif
