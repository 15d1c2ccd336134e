/* What the admin socket's mail, import and maintenance requests share:
 * opening the user named in a request, and the protocol's error code for a
 * storage error. */
#include <string.h>

#include "auth/passdb.h"
#include "daemon/admin.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

const char *admin_code_of(int ret)
{
	switch (-ret) {
	case OM_ENOTFOUND: return "notfound";
	case OM_ETEMP: return "temporary";
	case OM_EPERM: return "denied";
	default: return "failed";
	}
}

int admin_open_user(const struct om_config *cfg, struct passdb *db, const char *name,
		    struct mail_user **user_r, const char **code_r, struct buf *msg)
{
	struct passdb_user pu;
	memset(&pu, 0, sizeof(pu));
	int ret = passdb_lookup(db, name, &pu);
	if (ret < 0) {
		*code_r = ret == -OM_ENOTFOUND ? "notfound" : "failed";
		buf_printf(msg, "user %s: %s", name,
			   ret == -OM_ENOTFOUND ? "no such user" : om_strerror(ret));
		return ret;
	}
	ret = mail_user_open(cfg, pu.user, &pu, user_r);
	passdb_user_free(&pu);
	if (ret < 0) {
		*code_r = ret == -OM_ETEMP ? "temporary" : "failed";
		buf_printf(msg, "user %s: opening the mail storage failed: %s", name,
			   om_strerror(ret));
	}
	return ret;
}
