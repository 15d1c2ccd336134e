/* The admin socket's `import`, `export` and `quota` requests: the objmail
 * tool's migrations and quota commands run live in the daemon, on the user
 * as its sessions have it open (IMAP sessions see imported mail at once:
 * the storage notifies their watchers; on obox the daemon already holds
 * the user's lease). The code is the tool's (admin-cli-src.c).
 *
 * A long import holds one worker (it is a conn_run job, never on an event
 * loop) and streams progress lines while it runs; if the client goes away
 * the import stops at the next message (as an interrupted offline one).
 *
 * objmaild runs as mail_uid: it reads and writes the paths with that uid's
 * rights, not the admin's. The paths are checked up front so that the error
 * names the path and the uid instead of a bare EACCES deep inside. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/passdb.h"
#include "cli/import.h"
#include "cli/quota-ops.h"
#include "daemon/admin.h"
#include "lib/admin-proto.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

/* Progress lines queued and unsent before the import waits for the client
 * (it never gets there unless the client stops reading). */
#define PROGRESS_BACKLOG (1u << 20)

bool admin_progress_sink(void *ctx, const char *what, unsigned long long done,
			 unsigned long long total, bool final)
{
	(void)final;
	struct admin_progress *ap = ctx;
	struct conn *c = ap->conn;
	/* SIGTERM: give up at the next message rather than hold the shutdown
	 * up until the job is done */
	if (conn_server_stopping(c)) {
		ap->stopping = true;
		return false;
	}
	struct buf line = BUF_INIT;
	admin_reply_progress(&line, what, done, total);
	conn_write(c, line.data, line.len);
	buf_free(&line);
	/* -OM_EIO: the client is gone; stop rather than work for nobody */
	return conn_wait_output(c, PROGRESS_BACKLOG) == 0;
}

/* " (objmaild runs as uid N, mail_uid X)" */
static void uid_note(const struct om_config *cfg, struct buf *msg)
{
	buf_printf(msg, " (objmaild runs as uid %u", (unsigned)geteuid());
	if (cfg->mail_uid != NULL && cfg->mail_uid[0] != '\0')
		buf_printf(msg, ", mail_uid %s", cfg->mail_uid);
	buf_append_str(msg, ")");
}

/* Can the daemon read (write = false) or create in (write = true) path?
 * For a path to be created, its directory is what counts. 0, or -OM_EPERM
 * with the message; a missing source is left to the import's own error. */
static int check_path(const struct om_config *cfg, const char *what, const char *user,
		      const char *path, bool is_dir, bool write, struct buf *msg)
{
	if (path[0] != '/') {
		buf_printf(msg, "%s: user %s: %s: not an absolute path (the daemon's working "
				"directory is not yours)", what, user, path);
		return -OM_EINVAL;
	}
	const char *check = path;
	char *dir = NULL;
	int mode = R_OK | (is_dir ? X_OK : 0);
	if (write) {
		struct stat sb;
		mode = W_OK | X_OK;
		if (stat(path, &sb) != 0) {
			/* to be created: its directory must let us */
			const char *slash = strrchr(path, '/');
			dir = slash == path ? om_strdup("/") : om_strndup(path, (size_t)(slash - path));
			check = dir;
		} else if (!S_ISDIR(sb.st_mode)) {
			return 0; /* an existing file: the export refuses it, naming it */
		}
	}
	int ret = 0;
	if (access(check, mode) != 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
		int e = errno;
		buf_printf(msg, "%s: user %s: %s: %s: objmaild can't %s it", what, user, check,
			   strerror(e),
			   write ? "write into" : is_dir ? "read and enter" : "read");
		uid_note(cfg, msg);
		buf_append_str(msg, write ? "; let that uid write there, or stop objmaild and run "
					    "the command offline"
					  : "; make it readable by that uid, or stop objmaild and run "
					    "the command offline");
		ret = -OM_EPERM;
	}
	free(dir);
	return ret;
}

static int usage(const char **code_r, struct buf *msg)
{
	*code_r = "usage";
	buf_append_str(msg, "usage: import json|text maildir PATH USER | mbox FILE USER MAILBOX | "
			    "imap URL USER [THREADS]; export json|text maildir USER PATH | "
			    "mbox USER MAILBOX FILE; quota json|text get|recalc USER");
	return -OM_EINVAL;
}

int admin_import_run(const struct om_config *cfg, struct passdb *db, struct conn *conn,
		     size_t argc, char *const *argv, struct buf *out, const char **code_r,
		     struct buf *msg)
{
	/* argv: import|export|quota json|text KIND ARGS... */
	if (argc < 4 || (strcmp(argv[1], "json") != 0 && strcmp(argv[1], "text") != 0))
		return usage(code_r, msg);
	bool json = strcmp(argv[1], "json") == 0;
	bool import = strcmp(argv[0], "import") == 0, quota = strcmp(argv[0], "quota") == 0;
	const char *kind = argv[2];
	const char *user, *path = NULL, *mailbox = NULL;
	unsigned threads = 4;
	bool is_dir = strcmp(kind, "maildir") == 0, write = !import;
	if (quota) {
		if (argc != 4 || (strcmp(kind, "get") != 0 && strcmp(kind, "recalc") != 0))
			return usage(code_r, msg);
		user = argv[3];
	} else if (import && is_dir && argc == 5) {
		path = argv[3];
		user = argv[4];
	} else if (import && strcmp(kind, "mbox") == 0 && argc == 6) {
		path = argv[3];
		user = argv[4];
		mailbox = argv[5];
	} else if (import && strcmp(kind, "imap") == 0 && (argc == 5 || argc == 6)) {
		user = argv[4];
		if (argc == 6) {
			char *end;
			unsigned long n = strtoul(argv[5], &end, 10);
			if (*end != '\0' || n < 1 || n > 32)
				return usage(code_r, msg);
			threads = (unsigned)n;
		}
	} else if (!import && is_dir && argc == 5) {
		user = argv[3];
		path = argv[4];
	} else if (!import && strcmp(kind, "mbox") == 0 && argc == 6) {
		user = argv[3];
		mailbox = argv[4];
		path = argv[5];
	} else {
		return usage(code_r, msg);
	}

	struct buf what = BUF_INIT;
	buf_printf(&what, "%s %s", argv[0], kind);
	int ret = 0;
	if (path != NULL)
		ret = check_path(cfg, what.data, user, path, is_dir, write, msg);
	struct mail_user *mu = NULL;
	if (ret == 0)
		ret = admin_open_user(cfg, db, user, &mu, code_r, msg);
	else
		*code_r = admin_code_of(ret);
	if (ret < 0) {
		buf_free(&what);
		return ret;
	}

	struct buf err = BUF_INIT;
	struct admin_progress ap = { conn, false };
	unsigned long long st_messages = 0;
	if (quota) {
		ret = strcmp(kind, "get") == 0 ? quota_op_get(mu, json, out, &err)
					       : quota_op_recalc(mu, json, out, &err);
	} else {
		struct import_stats st = { 0 };
		cli_progress_sink_set(admin_progress_sink, &ap);
		if (import && is_dir)
			ret = import_maildir(mu, path, &st, &err);
		else if (import && mailbox != NULL)
			ret = import_mbox(mu, path, mailbox, &st, &err);
		else if (import)
			ret = import_imap(mu, argv[3], threads, &st, &err);
		else if (is_dir)
			ret = export_maildir(mu, path, &st, &err);
		else
			ret = export_mbox(mu, mailbox, path, &st, &err);
		cli_progress_sink_set(NULL, NULL);
		st_messages = st.messages;
		if (import && ret == 0) {
			/* durable when the tool says done, as offline */
			int r = mail_storage_flush(mail_user_name(mu));
			if (r < 0 && r != -OM_ENOTFOUND)
				log_warn("admin: %s %s: flushing the index failed: %s", what.data,
					 user, om_strerror(r));
		}
		if (ret == 0) {
			import_summary(what.data, user, &st, json, out);
			log_info("admin: %s %s: %llu mailboxes, %llu messages", what.data, user,
				 st.mailboxes, st.messages);
		}
	}
	if (ret < 0 && ap.stopping) {
		*code_r = "stopping";
		buf_printf(msg, "%s: user %s: objmaild is stopping; %s after %llu messages", what.data,
			   user, import ? "the import was stopped" : "the export was stopped",
			   st_messages);
		buf_append_str(msg, !import ? ": run it again"
				    : strcmp(kind, "imap") == 0
					? ": run the import again, it resumes (only what is missing is copied)"
					: ": run the import again into an empty mailbox, or use import imap "
					  "to resume (a second maildir or mbox import copies everything "
					  "again)");
		log_info("admin: %s %s stopped by the shutdown: %s", what.data, user,
			 buf_cstr(&err));
	} else if (ret < 0) {
		*code_r = admin_code_of(ret);
		buf_printf(msg, "%s: %s", what.data, err.len > 0 ? buf_cstr(&err) : om_strerror(ret));
		if (strstr(buf_cstr(&err), strerror(EACCES)) != NULL)
			uid_note(cfg, msg);
		log_info("admin: %s %s failed: %s", what.data, user, buf_cstr(&err));
	}
	buf_free(&err);
	buf_free(&what);
	mail_user_unref(mu);
	return ret;
}
