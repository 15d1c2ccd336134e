/* objmaild's admin socket (admin.c) and its /metrics endpoint
 * (metrics.c). doc/admin.md is the user's view. */
#ifndef OM_DAEMON_ADMIN_H
#define OM_DAEMON_ADMIN_H

#include "lib/buf.h"
#include "lib/conn.h"

struct passdb;

#ifndef OBJMAIL_VERSION
#define OBJMAIL_VERSION "0.2.0"
#endif

/* handler_ctx of admin_conn_handler and metrics_conn_handler; lives as
 * long as the server. */
struct admin_server {
	struct server *srv;
	const struct om_config *cfg;
	struct passdb *passdb;
};

/* The line protocol of lib/admin-proto.h. Only local peers (loopback or
 * the unix socket) are accepted. */
extern const struct conn_handler admin_conn_handler;
/* GET /metrics (HTTP/1.x, Connection: close). */
extern const struct conn_handler metrics_conn_handler;

/* The Prometheus text served at /metrics and by the admin `stats` command:
 * the daemon's counters, then mail_storage_metrics(). Worker thread (the
 * storage part may block). */
void metrics_render(struct buf *out);
/* Records the start time (objmail_start_time_seconds). */
void metrics_init(void);

/* admin-user.c: the protocol's error code for a storage error
 * (notfound, temporary, denied, failed). */
const char *admin_code_of(int ret);
/* Look name up in the passdb and open its storage; errors as the tool's
 * offline open words them ("user NAME: ..."), *code_r the protocol's code. */
struct mail_user;
struct om_config;
int admin_open_user(const struct om_config *cfg, struct passdb *db, const char *name,
		    struct mail_user **user_r, const char **code_r, struct buf *msg);

/* admin-mail.c: `mail json|text USER OP [ARGS...]` (cli/mail-ops.h; OP
 * `save MAILBOX` stores upload, sent before by `mail-data`). 0 and
 * the answer in out, or an error: *code_r the protocol's error code, msg
 * the message naming user, mailbox and cause. Worker thread. */
struct om_config;
int admin_mail_run(const struct om_config *cfg, struct passdb *db, size_t argc,
		   char *const *argv, const char *upload, size_t upload_len, struct buf *out,
		   const char **code_r, struct buf *msg);

/* admin-import.c: `import|export|quota json|text KIND ARGS...` (the
 * objmail tool's import, export and quota commands, live). argv[0] is the
 * command word. Progress lines are streamed to conn while it runs; then 0
 * and the summary in out, or an error as admin_mail_run. Worker thread. */
int admin_import_run(const struct om_config *cfg, struct passdb *db, struct conn *conn,
		     size_t argc, char *const *argv, struct buf *out, const char **code_r,
		     struct buf *msg);

/* The progress sink (cli/import.h) of live admin jobs (admin-import.c):
 * streams "+progress" lines to conn; false (cancel) when the client is gone
 * or the daemon is stopping (then stopping is set: the job's error says
 * so). */
struct admin_progress {
	struct conn *conn;
	bool stopping;
};
bool admin_progress_sink(void *ctx, const char *what, unsigned long long done,
			 unsigned long long total, bool final);

/* admin-maint.c: `force-resync|fts-rescan|check json|text USER` (the objmail
 * tool's maintenance commands, live). argv[0] is the command word. 0 and
 * the answer in out, or an error as admin_mail_run; check answers its
 * report in out also when it fails with code "inconsistent". Worker
 * thread. */
int admin_maint_run(const struct om_config *cfg, struct passdb *db, struct conn *conn,
		    size_t argc, char *const *argv, struct buf *out, const char **code_r,
		    struct buf *msg);

#endif
