/* Dropping root: once, early, after binding listeners and opening logs
 * (DESIGN.md: "started as root, it binds, then runs as mail_uid"). */
#ifndef OM_PRIVS_H
#define OM_PRIVS_H

#include <sys/types.h>

/* "vmail" or "1001" -> uid and gid (the user's primary group; a numeric uid
 * with no passwd entry gets gid = uid). 0, or -1 with *error_r (malloc'd). */
int privs_resolve(const char *spec, uid_t *uid_r, gid_t *gid_r, char **error_r);

/* Become spec for good: setgroups(1, gid), setresgid, setresuid, no
 * capabilities kept; then verify that it took (ids, setuid(0) fails, CapEff
 * is 0). spec "" while root: stays root with a warning. Not root: spec must
 * be empty or name the current user. 0, or -1 with *error_r (malloc'd). */
int privs_drop(const char *spec, char **error_r);

#endif
