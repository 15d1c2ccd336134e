/* Privilege drop in the order OpenSMTPD uses (groups, gid, uid), verified
 * afterwards so that a silent failure can't leave us running as root. */
#include "lib/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"

static int fail(char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **error_r, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	*error_r = buf_steal(&b);
	return -1;
}

int privs_resolve(const char *spec, uid_t *uid_r, gid_t *gid_r, char **error_r)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];
	unsigned long long num;
	if (spec == NULL || spec[0] == '\0')
		return fail(error_r, "mail_uid: empty");
	if (om_parse_u64(spec, strlen(spec), &num)) {
		if (num == 0 || num >= (uid_t)-1)
			return fail(error_r, "mail_uid %s: not a usable uid", spec);
		*uid_r = (uid_t)num;
		if (getpwuid_r(*uid_r, &pw, tmp, sizeof(tmp), &res) == 0 && res != NULL)
			*gid_r = res->pw_gid;
		else
			*gid_r = (gid_t)num;
		return 0;
	}
	int r = getpwnam_r(spec, &pw, tmp, sizeof(tmp), &res);
	if (r != 0 || res == NULL)
		return fail(error_r, "mail_uid %s: no such user", spec);
	if (res->pw_uid == 0)
		return fail(error_r, "mail_uid %s: is root", spec);
	*uid_r = res->pw_uid;
	*gid_r = res->pw_gid;
	return 0;
}

/* Effective capabilities from /proc (0 after a proper drop). */
static int cap_eff_is_zero(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (f == NULL)
		return -1; /* no /proc: can't tell */
	char line[256];
	int zero = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "CapEff:", 7) == 0) {
			zero = strtoull(line + 7, NULL, 16) == 0 ? 1 : 0;
			break;
		}
	}
	fclose(f);
	return zero;
}

int privs_drop(const char *spec, char **error_r)
{
	*error_r = NULL;
	bool root = geteuid() == 0;
	if (spec == NULL || spec[0] == '\0') {
		if (root)
			log_warn("running as root: set mail_uid to the user that owns the mail");
		return 0;
	}
	uid_t uid;
	gid_t gid;
	if (privs_resolve(spec, &uid, &gid, error_r) != 0)
		return -1;
	if (!root) {
		if (geteuid() == uid)
			return 0; /* already that user (started without root) */
		return fail(error_r, "mail_uid %s: can't switch users without root", spec);
	}
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
		return fail(error_r, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	/* empty the bounding and ambient sets while we may (CAP_SETPCAP): a
	 * later exec can then never regain a capability */
	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
			return fail(error_r, "prctl(PR_CAPBSET_DROP, %d): %s", cap, strerror(errno));
	}
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (setgroups(1, &gid) != 0)
		return fail(error_r, "setgroups(%u): %s", (unsigned)gid, strerror(errno));
	if (setresgid(gid, gid, gid) != 0)
		return fail(error_r, "setresgid(%u): %s", (unsigned)gid, strerror(errno));
	if (setresuid(uid, uid, uid) != 0)
		return fail(error_r, "setresuid(%u): %s", (unsigned)uid, strerror(errno));

	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) != 0 || ru != uid || eu != uid || su != uid)
		return fail(error_r, "privilege drop did not take (uid)");
	if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid)
		return fail(error_r, "privilege drop did not take (gid)");
	if (setuid(0) == 0 || seteuid(0) == 0)
		return fail(error_r, "privilege drop did not take: could become root again");
	if (cap_eff_is_zero() == 0)
		return fail(error_r, "privilege drop did not take: capabilities remain");
	/* no exec'd program (none today) may gain privileges via setuid bits
	 * or file capabilities */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return fail(error_r, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
	log_info("running as uid %u gid %u (%s)", (unsigned)uid, (unsigned)gid, spec);
	return 0;
}
