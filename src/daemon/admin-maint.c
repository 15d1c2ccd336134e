/* The admin socket's `force-resync`, `fts-rescan` and `check` requests: the
 * objmail tool's maintenance commands run live in the daemon, on the user as
 * its sessions have it open (maint-ops.h; the code is the tool's,
 * admin-maint-src.c), so an admin repairs one user without stopping the
 * server, and on obox (where the daemon holds the lease) at all.
 *
 * force-resync closes the user's IMAP sessions first (BYE [UNAVAILABLE]:
 * their views would not survive new mailbox rows and modseqs) and rebuilds
 * while no one holds the user; fts-rescan leaves sessions alone (their
 * SEARCHes read what is not indexed yet) and streams progress; check is
 * read-only under the user lock. A shutdown (SIGTERM) stops a running
 * fts-rescan at the next message. */
#include <string.h>

#include "auth/passdb.h"
#include "cli/import.h"
#include "cli/maint-ops.h"
#include "daemon/admin.h"
#include "imap/imap-registry.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

static size_t kick_for_resync(const char *user)
{
	size_t n = imap_registry_kick_with(user, "* BYE [UNAVAILABLE] The administrator is "
						 "rebuilding this account's index; reconnect.\r\n");
	if (n > 0)
		log_info("admin: force-resync %s: closed %zu session(s)", user, n);
	return n;
}

int admin_maint_run(const struct om_config *cfg, struct passdb *db, struct conn *conn,
		    size_t argc, char *const *argv, struct buf *out, const char **code_r,
		    struct buf *msg)
{
	/* argv: force-resync|fts-rescan|check json|text USER */
	if (argc != 3 || (strcmp(argv[1], "json") != 0 && strcmp(argv[1], "text") != 0)) {
		*code_r = "usage";
		buf_printf(msg, "usage: %s json|text USER", argv[0]);
		return -OM_EINVAL;
	}
	const char *cmd = argv[0], *name = argv[2];
	bool json = strcmp(argv[1], "json") == 0;
	struct passdb_user pu;
	memset(&pu, 0, sizeof(pu));
	int ret = passdb_lookup(db, name, &pu);
	if (ret < 0) {
		*code_r = ret == -OM_ENOTFOUND ? "notfound" : "failed";
		buf_printf(msg, "%s: user %s: %s", cmd, name,
			   ret == -OM_ENOTFOUND ? "no such user" : om_strerror(ret));
		return ret;
	}
	struct buf err = BUF_INIT;
	if (strcmp(cmd, "force-resync") == 0) {
		ret = maint_resync(cfg, &pu, kick_for_resync, json, out, &err);
		if (ret == 0)
			log_info("admin: force-resync %s: index rebuilt", name);
	} else {
		struct mail_user *user;
		ret = mail_user_open(cfg, pu.user, &pu, &user);
		if (ret < 0) {
			buf_printf(&err, "user %s: opening the mail storage failed: %s", name,
				   om_strerror(ret));
		} else if (strcmp(cmd, "fts-rescan") == 0) {
			struct admin_progress ap = { conn, false };
			cli_progress_sink_set(admin_progress_sink, &ap);
			ret = maint_fts_rescan(user, json, out, &err);
			cli_progress_sink_set(NULL, NULL);
			if (ret < 0 && ap.stopping) {
				buf_reset(&err);
				buf_printf(&err, "user %s: objmaild is stopping; the rescan was "
						 "stopped: run it again (until then SEARCH reads the "
						 "messages not indexed yet)", name);
				*code_r = "stopping";
			}
			if (ret == 0)
				log_info("admin: fts-rescan %s: done", name);
		} else {
			unsigned long problems = 0;
			ret = maint_check(user, true, json, out, &err, &problems);
			if (ret == 0 && problems > 0) {
				/* the report is the data lines, the verdict the ERR */
				buf_printf(&err, "user %s: %lu problem(s): the index and the store "
						 "disagree", name, problems);
				*code_r = "inconsistent";
				ret = -OM_EIO;
				log_warn("admin: check %s: %lu problem(s)", name, problems);
			}
		}
		mail_user_unref(user);
	}
	if (ret < 0) {
		if (strcmp(*code_r, "failed") == 0)
			*code_r = admin_code_of(ret);
		buf_printf(msg, "%s: %s", cmd, buf_cstr(&err));
		log_info("admin: %s %s failed: %s", cmd, name, buf_cstr(&err));
	}
	buf_free(&err);
	passdb_user_free(&pu);
	return ret;
}
