/* Password databases. One backend per file behind `struct passdb_ops`;
 * passwd_file.c reads Dovecot's passwd-file format:
 *   user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields
 * extra fields are space-separated key=value (e.g. userdb_quota_rule=*:storage=1G,
 * or quota=2G). Schemes: {PLAIN} {CLEARTEXT} {CRYPT} {SHA512-CRYPT}
 * {SHA256-CRYPT} {BLF-CRYPT} {MD5-CRYPT} via crypt(3); no scheme = CRYPT. */
#ifndef OM_PASSDB_H
#define OM_PASSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/om-error.h"

struct passdb;

struct passdb_user {
	char *user;     /* canonical name as in the file */
	char *home;     /* may be NULL */
	uint64_t quota; /* bytes; 0 = use the config default */
	bool quota_set;
	/* message-count limit (quota_messages=N, quota_rule=*:messages=N);
	 * 0 = use the config default */
	uint64_t quota_messages;
	bool quota_messages_set;
	/* a master user (extra field master=yes): may log in for any user
	 * (SASL PLAIN with that user as authorization id; a director does),
	 * never as itself */
	bool master;
};

struct passdb_ops {
	const char *name; /* "passwd-file" */
	int (*open)(const char *args, struct passdb **db_r, char **error_r);
	/* 0 and *user_r filled (caller frees with passdb_user_free) if the user
	 * exists; -OM_ENOTFOUND if not. password NULL = lookup only (LMTP). */
	int (*lookup)(struct passdb *db, const char *user, struct passdb_user *user_r);
	/* 0 if the password matches; -OM_EAUTH if not; -OM_ENOTFOUND if no user. */
	int (*verify)(struct passdb *db, const char *user, const char *password);
	int (*reload)(struct passdb *db); /* SIGHUP */
	void (*close)(struct passdb *db);
	/* Optional (NULL: not supported): every user name, in file order.
	 * Caller frees each name and the array. */
	int (*list)(struct passdb *db, char ***names_r, size_t *n_r);
};

/* Base struct, embedded first in each driver's struct. */
struct passdb {
	const struct passdb_ops *ops;
};

/* "passwd-file:/path" -> opened db. -OM_EINVAL with *error_r (malloc'd) on error. */
int passdb_open(const char *spec, struct passdb **db_r, char **error_r);
int passdb_lookup(struct passdb *db, const char *user, struct passdb_user *user_r);
int passdb_verify(struct passdb *db, const char *user, const char *password);
int passdb_reload(struct passdb *db);
void passdb_close(struct passdb *db);
void passdb_user_free(struct passdb_user *u);

/* Every user of the passdb (objmail user list). -OM_EINVAL if the
 * backend can't enumerate. */
static inline int passdb_list_users(struct passdb *db, char ***names_r, size_t *n_r)
{
	if (db->ops->list == NULL)
		return -OM_EINVAL;
	return db->ops->list(db, names_r, n_r);
}

/* Check a password against one stored "{SCHEME}hash" string. */
bool password_verify(const char *stored, const char *password);

#endif
