/* The admin socket's `mail` request: the objmail tool's mailbox and message
 * operations run live in the daemon, on the user as its sessions have it
 * open, so IMAP sessions are told of changes at once (the storage notifies
 * their watchers). The operations themselves are the tool's own
 * (src/cli/mail-ops.c, compiled into objmaild here too), so live and
 * offline answers are the same. */
#include "cli/mail-ops.c"

#include "auth/passdb.h"
#include "daemon/admin.h"
#include "lib/log.h"

int admin_mail_run(const struct om_config *cfg, struct passdb *db, size_t argc,
		   char *const *argv, const char *upload, size_t upload_len, struct buf *out,
		   const char **code_r, struct buf *msg)
{
	/* argv: json|text USER OP [ARGS...] */
	bool json = strcmp(argv[0], "json") == 0;
	const char *name = argv[1];
	bool save = argc == 4 && strcmp(argv[2], "save") == 0;
	if (!save && !mail_op_known(argc - 2, argv + 2)) {
		*code_r = "usage";
		buf_printf(msg, "usage: mail json|text USER OP [ARGS...]");
		return -OM_EINVAL;
	}
	struct mail_user *user;
	int ret = admin_open_user(cfg, db, name, &user, code_r, msg);
	if (ret < 0)
		return ret;
	if (save)
		ret = mail_op_save(user, argv[3], upload != NULL ? upload : "", upload_len, json,
				   out, msg);
	else
		ret = mail_op_run(user, argc - 2, argv + 2, json, out, msg);
	if (ret < 0) {
		*code_r = ret == -OM_ENOTFOUND ? "notfound"
			  : ret == -OM_ETEMP  ? "temporary"
			  : strncmp(buf_cstr(msg), "usage", 5) == 0 ? "usage"
								   : "failed";
	} else {
		log_info("admin: mail %s %s", argv[2], name);
	}
	mail_user_unref(user);
	return ret;
}
