/* Generic passdb layer: picks the driver from the "driver:args" spec and
 * applies the user-name rules every driver shares. */
#include "auth/passdb.h"

#include <crypt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"

#define PASSDB_USER_MAX 255

extern const struct passdb_ops passdb_passwd_file_ops;

static const struct passdb_ops *const passdb_drivers[] = {
	&passdb_passwd_file_ops,
};

int passdb_open(const char *spec, struct passdb **db_r, char **error_r)
{
	*db_r = NULL;
	*error_r = NULL;
	const char *colon = spec != NULL ? strchr(spec, ':') : NULL;
	if (colon == NULL) {
		struct buf e = BUF_INIT;
		buf_printf(&e, "bad passdb '%s': expected driver:args, e.g. passwd-file:/path",
			   spec != NULL ? spec : "");
		*error_r = buf_steal(&e);
		return -OM_EINVAL;
	}
	size_t nlen = (size_t)(colon - spec);
	for (size_t i = 0; i < sizeof(passdb_drivers) / sizeof(passdb_drivers[0]); i++) {
		const struct passdb_ops *ops = passdb_drivers[i];
		if (strlen(ops->name) != nlen || strncmp(ops->name, spec, nlen) != 0)
			continue;
		int r = ops->open(colon + 1, db_r, error_r);
		if (r < 0) {
			if (*error_r == NULL)
				*error_r = om_strdup(om_strerror(r));
			*db_r = NULL;
			return r;
		}
		(*db_r)->ops = ops;
		return 0;
	}
	struct buf e = BUF_INIT;
	buf_printf(&e, "unknown passdb driver '%.*s'", (int)(nlen > 64 ? 64 : nlen), spec);
	*error_r = buf_steal(&e);
	return -OM_EINVAL;
}

/* Names from the network (LOGIN, RCPT TO) before any driver sees them. */
static bool passdb_name_ok(const char *user)
{
	if (user == NULL)
		return false;
	size_t len = strnlen(user, PASSDB_USER_MAX + 1);
	if (len == 0 || len > PASSDB_USER_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];
		if (c < 0x20 || c == 0x7f || c == '/')
			return false;
	}
	return true;
}

/* The fallback names tried when the exact name is unknown: the local part
 * before the last '@' as given, then lowercased -- Dovecot's
 * auth_username_format=%Ln, so LMTP "Alice@example.com" and IMAP "alice"
 * reach one user. Returns how many were written (0..2). */
static size_t passdb_fallbacks(const char *user, char *names_r[2])
{
	const char *at = strrchr(user, '@');
	if (at == NULL || at == user)
		return 0;
	size_t n = 0;
	char *local = om_strndup(user, (size_t)(at - user));
	char *lower = om_strdup(local);
	bool differs = false;
	for (char *p = lower; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z') {
			*p = (char)(*p - 'A' + 'a');
			differs = true;
		}
	}
	names_r[n++] = local;
	if (differs)
		names_r[n++] = lower;
	else
		free(lower);
	return n;
}

int passdb_lookup(struct passdb *db, const char *user, struct passdb_user *user_r)
{
	memset(user_r, 0, sizeof(*user_r));
	if (!passdb_name_ok(user))
		return -OM_ENOTFOUND;
	int r = db->ops->lookup(db, user, user_r);
	if (r != -OM_ENOTFOUND)
		return r;
	char *names[2];
	size_t n = passdb_fallbacks(user, names);
	for (size_t i = 0; i < n; i++) {
		if (r == -OM_ENOTFOUND)
			r = db->ops->lookup(db, names[i], user_r);
		free(names[i]);
	}
	return r;
}

/* A hash of the same cost as a typical stored one, so that "no such user"
 * takes as long as "wrong password" and does not reveal which names exist. */
static char *dummy_hash;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_hash_init(void)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return;
	struct crypt_data *cd = om_calloc(1, sizeof(*cd));
	const char *h = crypt_rn("objmail-dummy", salt, cd, (int)sizeof(*cd));
	if (h != NULL && h[0] != '*')
		dummy_hash = om_strdup(h);
	free(cd);
}

static void passdb_burn_time(const char *password)
{
	pthread_once(&dummy_once, dummy_hash_init);
	if (dummy_hash != NULL)
		(void)password_verify(dummy_hash, password);
}

int passdb_verify(struct passdb *db, const char *user, const char *password)
{
	if (password == NULL)
		return -OM_EAUTH;
	if (!passdb_name_ok(user)) {
		passdb_burn_time(password);
		return -OM_ENOTFOUND;
	}
	int r = db->ops->verify(db, user, password);
	if (r == -OM_ENOTFOUND) {
		char *names[2];
		size_t n = passdb_fallbacks(user, names);
		for (size_t i = 0; i < n; i++) {
			if (r == -OM_ENOTFOUND)
				r = db->ops->verify(db, names[i], password);
			free(names[i]);
		}
	}
	if (r == -OM_ENOTFOUND)
		passdb_burn_time(password);
	return r;
}

int passdb_reload(struct passdb *db)
{
	return db->ops->reload != NULL ? db->ops->reload(db) : 0;
}

void passdb_close(struct passdb *db)
{
	if (db != NULL)
		db->ops->close(db);
}

void passdb_user_free(struct passdb_user *u)
{
	if (u == NULL)
		return;
	free(u->user);
	free(u->home);
	u->user = NULL;
	u->home = NULL;
}
