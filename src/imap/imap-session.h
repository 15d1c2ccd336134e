/* One IMAP connection's state (RFC 3501 section 3) and the contract between
 * the session core (imap-session.c: reading, dispatch, sync of untagged
 * updates) and the command files (imap-cmd-*.c).
 *
 * A command function runs on a worker thread (conn_run). It writes untagged
 * responses with imap_send*() as it goes and ends by setting its tagged
 * result with imap_cmd_ok/no/bad(); the core then sends pending untagged
 * updates (EXISTS, EXPUNGE, FETCH FLAGS: only where RFC 3501 7.4.1 allows)
 * and only then the tagged line. */
#ifndef OM_IMAP_SESSION_H
#define OM_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"
#include "lib/conn.h"
#include "storage/mail-storage.h"

struct passdb;

enum imap_state {
	IMAP_STATE_NOT_AUTH = 1 << 0,
	IMAP_STATE_AUTH = 1 << 1,
	IMAP_STATE_SELECTED = 1 << 2,
	IMAP_STATE_LOGOUT = 1 << 3,
};

/* The session's view of the selected mailbox: message sequence number n is
 * msgs[n - 1]. Changes only where the core emits EXISTS/EXPUNGE. */
struct imap_msg {
	uint32_t uid;
	uint32_t flags;     /* enum mail_flags, MAIL_RECENT included */
	uint64_t keywords;  /* bits into view.keywords */
	uint64_t modseq;
	uint64_t size;
	int64_t internal_date;
	int32_t internal_tz;
	/* Gone from the mailbox, but its EXPUNGE could not be sent yet (RFC
	 * 3501 7.4.1): it keeps its sequence number until the next sync that
	 * may send EXPUNGE. Its bytes can no longer be read. */
	bool expunged;
};

struct imap_view {
	struct imap_msg *msgs;
	size_t count, alloc;
	uint32_t uidvalidity, uidnext;
	uint64_t highest_modseq;
	char **keywords;     /* names, index = bit */
	size_t n_keywords;
};

/* Shared by all IMAP sessions of one listener. */
struct imap_server {
	const struct om_config *cfg;
	struct passdb *passdb;
	bool implicit_tls;   /* IMAPS listener */
};

struct imap_session {
	struct conn *conn;
	struct imap_server *server;
	const struct om_config *cfg;
	struct imap_parser *parser;
	enum imap_state state;

	char *username;
	struct mail_user *user;
	struct mailbox *box;
	bool readonly;           /* EXAMINE */
	struct imap_view view;
	struct mail_watch *watch;/* IDLE/NOTIFY wakeups */

	/* capabilities turned on with ENABLE */
	bool enabled_utf8;       /* UTF8=ACCEPT (later) */
	bool enabled_condstore;  /* CONDSTORE (RFC 7162; also turned on by
				    any CONDSTORE-enabling command) */
	bool enabled_qresync;    /* QRESYNC: VANISHED instead of EXPUNGE */
	bool enabled_rev2;       /* IMAP4rev2 (RFC 9051): no RECENT, ESEARCH
				    answers, UTF-8 mailbox names */
	bool compress_active;    /* COMPRESS=DEFLATE (RFC 4978) is on */

	/* SEARCHRES (RFC 5182): UIDs of the last SEARCH RETURN (SAVE), "$" */
	uint32_t *searchres;
	size_t n_searchres;
	/* CONTEXT=SEARCH (RFC 5267): searches kept current (imap-esearch.c) */
	struct imap_search_context *search_contexts;
	size_t n_search_contexts;

	/* the command running now */
	struct imap_command *cmd;
	bool cmd_uid;            /* UID FETCH/STORE/COPY/MOVE/SEARCH/EXPUNGE */
	struct buf tagged;       /* pending tagged reply (set by imap_cmd_*) */
	struct buf out;          /* scratch for building responses */
	unsigned auth_failures;
	/* the core's private state (imap-session-private.h) */
	struct imap_session_priv *priv;
};

/* --- output (any thread; the command's job thread normally) --- */
/* One untagged response line; "* " and CRLF are added. */
void imap_send(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes as they are (must include their own CRLFs; for literals). */
void imap_send_raw(struct imap_session *s, const void *data, size_t len);
void imap_send_buf(struct imap_session *s, const struct buf *b);

/* The tagged result of the running command: "<tag> OK <text>". text may
 * start with a response code, e.g. "[READ-WRITE] SELECT completed". */
void imap_cmd_ok(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_cmd_no(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_cmd_bad(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NO for a storage error: [NONEXISTENT], [ALREADYEXISTS], [OVERQUOTA],
 * [LIMIT], [NOPERM], [UNAVAILABLE] / [SERVERBUG] by code (RFC 5530). */
void imap_cmd_storage_error(struct imap_session *s, int err, const char *what);

/* --- the selected mailbox view (job thread) --- */
/* Resolve a sequence set (uid = UID set) against the view into 0-based
 * message indexes, sorted, without duplicates. For UID sets, UIDs not in the
 * view are skipped (RFC 3501); for sequence sets, a number past the view is
 * an error (-OM_EINVAL). '*' is the last message (or uidnext-1 / max uid). */
int imap_view_resolve(const struct imap_session *s, const char *set, bool uid,
		      uint32_t **idx_r, size_t *n_r);
/* 0-based index of uid in the view, or -1. */
long imap_view_find_uid(const struct imap_session *s, uint32_t uid);
/* Write "(\Seen \Flagged kw1 ...)" for message idx. */
void imap_view_write_flags(const struct imap_session *s, size_t idx, struct buf *out);
/* Apply the result of mailbox_store() to the view (flags, keywords, modseq),
 * refreshing the keyword names if new ones appeared. */
void imap_view_apply_recs(struct imap_session *s, const struct mail_rec *recs, size_t n);
/* Emit pending untagged updates now (EXISTS/RECENT always; EXPUNGE and
 * vanished messages only if allow_expunge). Used by the core after each
 * command, by NOOP/CHECK/IDLE, and by commands that must sync first. */
int imap_session_sync(struct imap_session *s, bool allow_expunge);

/* imap-esearch.c: after the view changed (imap_view_update), send ESEARCH
 * ADDTO/REMOVEFROM for the search contexts; expunged_uids[] (sorted) are
 * about to be reported as expunged (REMOVEFROM goes before that). */
void imap_search_contexts_removed(struct imap_session *s, const uint32_t *expunged_uids,
				  size_t n);
void imap_search_contexts_update(struct imap_session *s);
/* Drop the contexts and the saved result (the mailbox is closed). */
void imap_search_contexts_free(struct imap_session *s);

/* --- command functions (run on a worker thread) --- */
typedef void imap_cmd_fn(struct imap_session *s, struct imap_command *cmd);

/* imap-cmd-fetch.c */
imap_cmd_fn cmd_fetch;
/* imap-cmd-store.c: STORE, COPY, MOVE, EXPUNGE, UID EXPUNGE */
imap_cmd_fn cmd_store, cmd_copy, cmd_move, cmd_expunge;
/* imap-cmd-search.c */
imap_cmd_fn cmd_search, cmd_cancelupdate;
/* imap-cmd-sort.c: SORT, THREAD (RFC 5256) */
imap_cmd_fn cmd_sort, cmd_thread;
/* imap-cmd-quota.c (RFC 9208) */
imap_cmd_fn cmd_getquota, cmd_getquotaroot, cmd_setquota;
/* imap-cmd-auth.c: COMPRESS (RFC 4978) */
imap_cmd_fn cmd_compress;
/* imap-cmd-*.c (session core's helper) */
imap_cmd_fn cmd_capability, cmd_noop, cmd_logout, cmd_id, cmd_enable, cmd_namespace;
imap_cmd_fn cmd_login, cmd_authenticate, cmd_starttls;
imap_cmd_fn cmd_select, cmd_examine, cmd_create, cmd_delete, cmd_rename, cmd_subscribe,
	cmd_unsubscribe, cmd_list, cmd_lsub, cmd_status, cmd_append, cmd_check, cmd_close,
	cmd_unselect, cmd_idle;

/* The session core's entry points (imap-session.c). */
extern const struct conn_handler imap_conn_handler; /* ctx: struct imap_server */

#endif
