/* passwd-file driver: Dovecot's format
 *   user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields
 * The whole file is read into a sorted array at open. Worker threads look
 * up concurrently; a reload (SIGHUP, or the file changed on disk) builds a
 * new table outside the lock and swaps it in under the write lock. */
#include "auth/passdb.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/om-error.h"

#define PF_MAX_LINE 16384
#define PF_MAX_USERS 1000000
#define PF_USER_MAX 255
/* at most one stat() of the file per this many seconds per db */
#define PF_CHECK_INTERVAL 1

extern const struct passdb_ops passdb_passwd_file_ops;

struct pf_entry {
	char *user;
	char *password; /* "" = login disabled */
	char *home;     /* NULL if none */
	uint64_t quota;
	bool quota_set;
	uint64_t quota_messages;
	bool quota_messages_set;
	bool master;
	unsigned line;
};

struct pf_table {
	struct pf_entry *entries;
	size_t count;
};

struct pf_ident {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct passwd_file {
	struct passdb base;
	char *path;
	pthread_rwlock_t lock; /* guards table and ident */
	struct pf_table *table;
	struct pf_ident ident;
	pthread_mutex_t reload_lock; /* one reload at a time */
	_Atomic long long last_check;
};

static void pf_entry_free(struct pf_entry *e)
{
	free(e->user);
	if (e->password != NULL) {
		explicit_bzero(e->password, strlen(e->password));
		free(e->password);
	}
	free(e->home);
}

static void pf_table_free(struct pf_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->count; i++)
		pf_entry_free(&t->entries[i]);
	free(t->entries);
	free(t);
}

static bool pf_valid_user(const char *s, size_t len)
{
	if (len == 0 || len > PF_USER_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c == 0x7f || c == '/')
			return false;
	}
	return true;
}

/* "*:messages=N" (alone or as a further ":"-separated limit of a root
 * rule, "*:storage=1G:messages=1000"): the message-count part, if any. */
static bool parse_quota_rule_messages(const char *v, uint64_t *count_r)
{
	if (strncmp(v, "*:", 2) != 0)
		return false;
	for (const char *p = strstr(v, "messages="); p != NULL; p = strstr(p + 1, "messages=")) {
		if (p[-1] != ':')
			continue;
		p += 9;
		size_t digits = strspn(p, "0123456789");
		if (digits == 0 || digits > 12 || (p[digits] != '\0' && p[digits] != ':'))
			return false;
		*count_r = strtoull(p, NULL, 10);
		return true;
	}
	return false;
}

/* "*:storage=2G" / "*:bytes=123": only the root ("*") rule matters here.
 * Dovecot reads a bare storage number as kilobytes, bytes= as bytes. */
static bool parse_quota_rule(const char *v, uint64_t *quota_r)
{
	if (strncmp(v, "*:", 2) != 0)
		return false;
	v += 2;
	char *cut = NULL;
	const char *colon = strchr(v, ':');
	if (colon != NULL) {
		/* further limits (messages=) are read by parse_quota_rule_messages */
		cut = om_strndup(v, (size_t)(colon - v));
		v = cut;
	}
	bool ok = false, kilobytes = false;
	if (strncmp(v, "storage=", 8) == 0) {
		v += 8;
		kilobytes = true;
		ok = true;
	} else if (strncmp(v, "bytes=", 6) == 0) {
		v += 6;
		ok = true;
	}
	uint64_t q = 0;
	if (ok) {
		size_t digits = strspn(v, "0123456789");
		ok = config_parse_size(v, &q) &&
		     !(kilobytes && v[digits] == '\0' && __builtin_mul_overflow(q, 1024, &q));
	}
	if (ok)
		*quota_r = q;
	free(cut);
	return ok;
}

static void parse_extra_fields(struct pf_entry *e, char *extra, const char *path)
{
	char *save = NULL;
	for (char *tok = strtok_r(extra, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		if (eq == NULL)
			continue; /* flags like "nologin" are Dovecot passdb extras we don't use */
		*eq = '\0';
		const char *key = tok, *val = eq + 1;
		if (strncmp(key, "userdb_", 7) == 0)
			key += 7;
		uint64_t q;
		if (strcmp(key, "quota") == 0 || strcmp(key, "quota_bytes") == 0) {
			if (config_parse_size(val, &q)) {
				e->quota = q;
				e->quota_set = true;
			} else {
				log_warn("%s:%u: user %s: bad quota '%s' ignored",
					 path, e->line, e->user, val);
			}
		} else if (strcmp(key, "quota_messages") == 0) {
			size_t digits = strspn(val, "0123456789");
			if (digits > 0 && digits <= 12 && val[digits] == '\0') {
				e->quota_messages = strtoull(val, NULL, 10);
				e->quota_messages_set = true;
			} else {
				log_warn("%s:%u: user %s: bad quota_messages '%s' ignored",
					 path, e->line, e->user, val);
			}
		} else if (strcmp(key, "quota_rule") == 0 || strcmp(key, "quota_rule2") == 0) {
			bool any = false;
			if (parse_quota_rule_messages(val, &q)) {
				e->quota_messages = q;
				e->quota_messages_set = true;
				any = true;
			}
			if (parse_quota_rule(val, &q)) {
				e->quota = q;
				e->quota_set = true;
			} else if (!any) {
				log_warn("%s:%u: user %s: quota_rule '%s' not understood, ignored",
					 path, e->line, e->user, val);
			}
		} else if (strcmp(key, "master") == 0) {
			e->master = strcmp(val, "yes") == 0 || strcmp(val, "y") == 0 ||
				    strcmp(val, "1") == 0 || strcmp(val, "true") == 0;
		} else if (strcmp(key, "home") == 0 && e->home == NULL && val[0] != '\0') {
			e->home = om_strdup(val);
		}
	}
}

/* Parses one non-comment line. false = malformed (caller logs). */
static bool parse_line(char *line, struct pf_entry *e, const char *path, const char **why)
{
	char *fields[8] = { NULL };
	size_t nfields = 0;
	char *p = line;
	/* the 8th field (extra fields) is the rest of the line: quota rules
	 * contain ':' themselves */
	while (nfields < 7) {
		fields[nfields++] = p;
		char *colon = strchr(p, ':');
		if (colon == NULL)
			break;
		*colon = '\0';
		p = colon + 1;
	}
	if (nfields == 7 && fields[6] != p)
		fields[nfields++] = p;
	if (nfields < 2) {
		*why = "expected user:password[:uid:gid:gecos:home:shell:extra]";
		return false;
	}
	if (!pf_valid_user(fields[0], strlen(fields[0]))) {
		*why = "bad user name";
		return false;
	}
	e->user = om_strdup(fields[0]);
	e->password = om_strdup(fields[1]);
	e->home = nfields > 5 && fields[5][0] != '\0' ? om_strdup(fields[5]) : NULL;
	if (nfields > 7)
		parse_extra_fields(e, fields[7], path);
	return true;
}

static int pf_entry_cmp(const void *a, const void *b)
{
	const struct pf_entry *x = a, *y = b;
	int r = strcmp(x->user, y->user);
	if (r != 0)
		return r;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int pf_load(const char *path, struct pf_table **table_r, struct pf_ident *ident_r)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		int e = errno;
		log_error("passdb: cannot open %s: %s", path, strerror(e));
		return e == ENOENT ? -OM_ENOTFOUND : -OM_EIO;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0) {
		log_error("passdb: fstat %s: %s", path, strerror(errno));
		fclose(f);
		return -OM_EIO;
	}
	ident_r->dev = st.st_dev;
	ident_r->ino = st.st_ino;
	ident_r->size = st.st_size;
	ident_r->mtime = st.st_mtim;

	struct pf_table *t = om_calloc(1, sizeof(*t));
	size_t cap = 0;
	char *line = NULL;
	size_t line_cap = 0;
	unsigned lineno = 0;
	ssize_t n;
	int ret = 0;
	while ((n = getline(&line, &line_cap, f)) >= 0) {
		lineno++;
		size_t len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		line[len] = '\0';
		if (len > PF_MAX_LINE) {
			log_warn("%s:%u: line too long, skipped", path, lineno);
			continue;
		}
		size_t skip = strspn(line, " \t");
		if (line[skip] == '\0' || line[skip] == '#')
			continue;
		if (memchr(line, '\0', len) != NULL) {
			log_warn("%s:%u: NUL byte in line, skipped", path, lineno);
			continue;
		}
		if (t->count >= PF_MAX_USERS) {
			log_error("%s:%u: more than %d users", path, lineno, PF_MAX_USERS);
			ret = -OM_ELIMIT;
			break;
		}
		if (t->count == cap) {
			cap = cap ? cap * 2 : 64;
			t->entries = om_reallocarray(t->entries, cap, sizeof(*t->entries));
		}
		struct pf_entry *e = &t->entries[t->count];
		memset(e, 0, sizeof(*e));
		e->line = lineno;
		const char *why = NULL;
		if (!parse_line(line, e, path, &why)) {
			log_warn("%s:%u: malformed line skipped: %s", path, lineno, why);
			continue;
		}
		t->count++;
	}
	if (ret == 0 && ferror(f)) {
		log_error("passdb: reading %s: %s", path, strerror(errno));
		ret = -OM_EIO;
	}
	if (line != NULL) {
		explicit_bzero(line, line_cap);
		free(line);
	}
	fclose(f);
	if (ret < 0) {
		pf_table_free(t);
		return ret;
	}

	/* an empty file has no entries array: qsort(NULL, 0) is undefined */
	if (t->count > 1)
		qsort(t->entries, t->count, sizeof(*t->entries), pf_entry_cmp);
	/* drop later duplicates: the first line for a user wins, as in Dovecot */
	size_t out = 0;
	for (size_t i = 0; i < t->count; i++) {
		if (out > 0 && strcmp(t->entries[out - 1].user, t->entries[i].user) == 0) {
			log_warn("%s:%u: duplicate user %s (first on line %u), skipped",
				 path, t->entries[i].line, t->entries[i].user,
				 t->entries[out - 1].line);
			pf_entry_free(&t->entries[i]);
			continue;
		}
		t->entries[out++] = t->entries[i];
	}
	t->count = out;
	*table_r = t;
	return 0;
}

static const struct pf_entry *pf_find(const struct pf_table *t, const char *user)
{
	size_t lo = 0, hi = t->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(user, t->entries[mid].user);
		if (r == 0)
			return &t->entries[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int pf_reload_now(struct passwd_file *pf)
{
	struct pf_table *t = NULL;
	struct pf_ident ident;
	int r = pf_load(pf->path, &t, &ident);
	if (r < 0) {
		log_error("passdb: reload of %s failed (%s), keeping the old users",
			  pf->path, om_strerror(r));
		return r;
	}
	pthread_rwlock_wrlock(&pf->lock);
	struct pf_table *old = pf->table;
	pf->table = t;
	pf->ident = ident;
	pthread_rwlock_unlock(&pf->lock);
	pf_table_free(old);
	log_info("passdb: loaded %zu users from %s", t->count, pf->path);
	return 0;
}

/* Like Dovecot, pick up edits of the file without a SIGHUP, so that a user
 * added for LMTP delivery works at once. Cheap: one stat per second. */
static void pf_maybe_reload(struct passwd_file *pf)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long last = atomic_load(&pf->last_check);
	if (now.tv_sec - last < PF_CHECK_INTERVAL)
		return;
	if (!atomic_compare_exchange_strong(&pf->last_check, &last, (long long)now.tv_sec))
		return; /* another thread checks */
	struct stat st;
	if (stat(pf->path, &st) != 0)
		return; /* keep serving the old table; reload will log */
	pthread_rwlock_rdlock(&pf->lock);
	bool changed = st.st_dev != pf->ident.dev || st.st_ino != pf->ident.ino ||
		       st.st_size != pf->ident.size ||
		       st.st_mtim.tv_sec != pf->ident.mtime.tv_sec ||
		       st.st_mtim.tv_nsec != pf->ident.mtime.tv_nsec;
	pthread_rwlock_unlock(&pf->lock);
	if (changed && pthread_mutex_trylock(&pf->reload_lock) == 0) {
		pf_reload_now(pf);
		pthread_mutex_unlock(&pf->reload_lock);
	}
}

static int pf_open(const char *args, struct passdb **db_r, char **error_r)
{
	if (args == NULL || args[0] == '\0') {
		*error_r = om_strdup("passwd-file: missing path");
		return -OM_EINVAL;
	}
	struct passwd_file *pf = om_calloc(1, sizeof(*pf));
	pf->base.ops = &passdb_passwd_file_ops;
	pf->path = om_strdup(args);
	int r = pf_load(pf->path, &pf->table, &pf->ident);
	if (r < 0) {
		struct buf e = BUF_INIT;
		buf_printf(&e, "passwd-file: cannot load %s: %s", pf->path,
			   r == -OM_ENOTFOUND ? "no such file" : om_strerror(r));
		*error_r = buf_steal(&e);
		free(pf->path);
		free(pf);
		return -OM_EINVAL;
	}
	pthread_rwlock_init(&pf->lock, NULL);
	pthread_mutex_init(&pf->reload_lock, NULL);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	atomic_store(&pf->last_check, (long long)now.tv_sec);
	log_debug("passdb: loaded %zu users from %s", pf->table->count, pf->path);
	*db_r = &pf->base;
	return 0;
}

static int pf_lookup(struct passdb *db, const char *user, struct passdb_user *user_r)
{
	struct passwd_file *pf = (struct passwd_file *)db;
	pf_maybe_reload(pf);
	int ret = -OM_ENOTFOUND;
	pthread_rwlock_rdlock(&pf->lock);
	const struct pf_entry *e = pf_find(pf->table, user);
	if (e != NULL) {
		memset(user_r, 0, sizeof(*user_r));
		user_r->user = om_strdup(e->user);
		user_r->home = e->home != NULL ? om_strdup(e->home) : NULL;
		user_r->quota = e->quota;
		user_r->quota_set = e->quota_set;
		user_r->quota_messages = e->quota_messages;
		user_r->quota_messages_set = e->quota_messages_set;
		user_r->master = e->master;
		ret = 0;
	}
	pthread_rwlock_unlock(&pf->lock);
	return ret;
}

static int pf_verify(struct passdb *db, const char *user, const char *password)
{
	struct passwd_file *pf = (struct passwd_file *)db;
	pf_maybe_reload(pf);
	char *stored = NULL;
	pthread_rwlock_rdlock(&pf->lock);
	const struct pf_entry *e = pf_find(pf->table, user);
	if (e != NULL)
		stored = om_strdup(e->password);
	pthread_rwlock_unlock(&pf->lock);
	if (stored == NULL)
		return -OM_ENOTFOUND;
	/* hashing is slow (bcrypt): done outside the lock */
	bool ok = stored[0] != '\0' && password_verify(stored, password);
	explicit_bzero(stored, strlen(stored));
	free(stored);
	return ok ? 0 : -OM_EAUTH;
}

static int pf_reload(struct passdb *db)
{
	struct passwd_file *pf = (struct passwd_file *)db;
	pthread_mutex_lock(&pf->reload_lock);
	int r = pf_reload_now(pf);
	pthread_mutex_unlock(&pf->reload_lock);
	return r;
}

static void pf_close(struct passdb *db)
{
	struct passwd_file *pf = (struct passwd_file *)db;
	pf_table_free(pf->table);
	pthread_rwlock_destroy(&pf->lock);
	pthread_mutex_destroy(&pf->reload_lock);
	free(pf->path);
	free(pf);
}

static int pf_list(struct passdb *db, char ***names_r, size_t *n_r)
{
	struct passwd_file *pf = (struct passwd_file *)db;
	pf_maybe_reload(pf);
	pthread_rwlock_rdlock(&pf->lock);
	size_t n = pf->table->count;
	char **names = om_calloc(n + 1, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = om_strdup(pf->table->entries[i].user);
	pthread_rwlock_unlock(&pf->lock);
	*names_r = names;
	*n_r = n;
	return 0;
}

const struct passdb_ops passdb_passwd_file_ops = {
	.name = "passwd-file",
	.open = pf_open,
	.lookup = pf_lookup,
	.verify = pf_verify,
	.reload = pf_reload,
	.close = pf_close,
	.list = pf_list,
};
