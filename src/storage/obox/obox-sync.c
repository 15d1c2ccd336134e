/* The process-wide side of obox: the one store (fscache stacked over the
 * configured objstore), the background flusher thread, leases, and the
 * storage-level entry points of mail-storage.h (flush, force-resync,
 * shutdown, metrics), callable from any thread.
 *
 * The flusher holds one reference to every open obox user ("keeper"), so a
 * user stays open for OBOX_CLOSE_GRACE seconds after its last session or
 * delivery: a burst of LMTP deliveries costs one lease and one bundle, not
 * one per mail. Every second it queues a "tick" of every open user; the
 * ticks run on obox_flush_threads threads (a user whose store calls hang
 * holds one of them, not every other user's lease renewal), and a user is
 * queued again only when its last tick has ended. A tick renews the lease
 * (every ttl/3), uploads pending change records as a log, uploads a bundle
 * when one is due, and closes an idle user after its final bundle.
 *
 * Lock order: a user's flush_lock, then user->lock, then its olock; the
 * global lock is never held while taking any of them. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/obox/obox.h"


static pthread_mutex_t glock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gcond = PTHREAD_COND_INITIALIZER;
static struct objstore *g_store;
static char *g_root;
static struct obox_settings g_set;
static pthread_t g_thread;
static bool g_thread_running, g_stop;
/* the tick queue (a ring) and its threads, under glock */
static pthread_cond_t tick_cond = PTHREAD_COND_INITIALIZER;
static struct obox_user **g_tickq;
static size_t g_tickq_head, g_tickq_len, g_tickq_cap;
static pthread_t *g_tickers;
static unsigned g_n_tickers;
static struct obox_user *g_users;
static char **g_closing;
static size_t g_n_closing;
/* the users a force-resync is rebuilding, and the threads doing it */
static char **g_resync;
static pthread_t *g_resync_thread;
static size_t g_n_resync;
static atomic_uint_fast64_t g_counters[OBOX_C_COUNT];

time_t obox_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void obox_touch(struct obox_user *ou)
{
	pthread_mutex_lock(&ou->olock);
	ou->last_use = obox_now();
	pthread_mutex_unlock(&ou->olock);
}

void obox_count(enum obox_counter c, uint64_t n)
{
	atomic_fetch_add(&g_counters[c], n);
}

struct objstore *obox_store(void)
{
	return g_store;
}

const struct obox_settings *obox_settings(void)
{
	return &g_set;
}

static void *flusher_main(void *arg);
static void *ticker_main(void *arg);

int obox_global_init(const struct om_config *cfg, const char *root)
{
	pthread_mutex_lock(&glock);
	if (g_store != NULL) {
		if (strcmp(root, g_root) != 0)
			log_warn("obox: one cache directory per process: using %s, not %s", g_root, root);
		pthread_mutex_unlock(&glock);
		return 0;
	}
	struct buf spec = BUF_INIT, fsdir = BUF_INIT;
	int ret = obox_mkdir_p(root);
	buf_printf(&fsdir, "%s/fscache", root);
	if (ret == 0)
		ret = obox_mkdir_p(fsdir.data);
	if (ret < 0)
		goto out;
	struct buf inner = BUF_INIT;
	if (cfg->objstore != NULL && cfg->objstore[0] != '\0')
		buf_append_str(&inner, cfg->objstore);
	else
		buf_printf(&inner, "file:%s/objects", root);
	buf_printf(&spec, "fscache:%llu:%s:%s", (unsigned long long)(cfg->fscache_size > 0
				   ? cfg->fscache_size : UINT64_C(1) << 30), fsdir.data, inner.data);
	char *error = NULL;
	ret = objstore_open(spec.data, &g_store, &error);
	if (ret == -OM_EINVAL && error != NULL && strstr(error, "not built") != NULL) {
		/* a tree without the fscache driver: serve from the store itself */
		log_warn("obox: %s; running without the local object cache", error);
		free(error);
		error = NULL;
		ret = objstore_open(inner.data, &g_store, &error);
	}
	buf_free(&inner);
	if (ret < 0) {
		log_error("obox: opening the object store failed: %s (%s)",
			  error != NULL ? error : "", om_strerror(ret));
		free(error);
		g_store = NULL;
		ret = ret == -OM_EINVAL ? -OM_EINVAL : -OM_ETEMP;
		goto out;
	}
	g_root = om_strdup(root);
	g_set.flush_interval = cfg->index_flush_interval > 0 ? cfg->index_flush_interval : 300;
	g_set.compress = cfg->mail_compress != NULL && strcmp(cfg->mail_compress, "zstd") == 0;
	g_set.prefetch_budget = (cfg->fscache_size > 0 ? cfg->fscache_size : UINT64_C(1) << 30) / 4;
	g_set.flush_threads = cfg->obox_flush_threads > 0 ? cfg->obox_flush_threads : 1;
	obox_lease_init(cfg, root);
	g_stop = false;
	g_tickers = om_calloc(g_set.flush_threads, sizeof(*g_tickers));
	for (g_n_tickers = 0; g_n_tickers < g_set.flush_threads; g_n_tickers++)
		if (pthread_create(&g_tickers[g_n_tickers], NULL, ticker_main, NULL) != 0)
			break;
	if (g_n_tickers == 0 || pthread_create(&g_thread, NULL, flusher_main, NULL) != 0)
		fatal("obox: can't start the flusher threads");
	g_thread_running = true;
	log_info("obox: cache %s, store %s, lease owner %s", root, objstore_describe(g_store),
		 obox_lease_owner());
out:
	pthread_mutex_unlock(&glock);
	buf_free(&spec);
	buf_free(&fsdir);
	return ret;
}

/* --- the open users --- */

void obox_user_register(struct obox_user *ou)
{
	pthread_mutex_lock(&glock);
	ou->next = g_users;
	g_users = ou;
	ou->listed = true;
	ou->keeper = true;
	pthread_mutex_unlock(&glock);
	mail_user_ref(&ou->user);
}

void obox_user_unregister(struct obox_user *ou)
{
	pthread_mutex_lock(&glock);
	for (struct obox_user **p = &g_users; *p != NULL; p = &(*p)->next) {
		if (*p == ou) {
			*p = ou->next;
			break;
		}
	}
	ou->listed = false;
	ou->next = NULL;
	pthread_mutex_unlock(&glock);
}

static bool closing_has(const char *name)
{
	for (size_t i = 0; i < g_n_closing; i++) {
		if (strcmp(g_closing[i], name) == 0)
			return true;
	}
	return false;
}

void obox_closing_wait(const char *name)
{
	pthread_mutex_lock(&glock);
	while (closing_has(name))
		pthread_cond_wait(&gcond, &glock);
	pthread_mutex_unlock(&glock);
}

void obox_closing_set(const char *name, bool closing)
{
	pthread_mutex_lock(&glock);
	if (closing) {
		g_closing = om_reallocarray(g_closing, g_n_closing + 1, sizeof(*g_closing));
		g_closing[g_n_closing++] = om_strdup(name);
	} else {
		for (size_t i = 0; i < g_n_closing; i++) {
			if (strcmp(g_closing[i], name) == 0) {
				free(g_closing[i]);
				g_closing[i] = g_closing[--g_n_closing];
				break;
			}
		}
		pthread_cond_broadcast(&gcond);
	}
	pthread_mutex_unlock(&glock);
}

bool obox_resync_blocks(const char *name)
{
	bool blocks = false;
	pthread_mutex_lock(&glock);
	for (size_t i = 0; i < g_n_resync && !blocks; i++)
		blocks = strcmp(g_resync[i], name) == 0 &&
			 !pthread_equal(g_resync_thread[i], pthread_self());
	pthread_mutex_unlock(&glock);
	return blocks;
}

/* Mark name as being resynced by this thread (false: another resync of it
 * runs already), or unmark it. */
static bool resync_mark(const char *name, bool on)
{
	bool ok = true;
	pthread_mutex_lock(&glock);
	size_t i = 0;
	while (i < g_n_resync && strcmp(g_resync[i], name) != 0)
		i++;
	if (on && i < g_n_resync) {
		ok = false;
	} else if (on) {
		g_resync = om_reallocarray(g_resync, g_n_resync + 1, sizeof(*g_resync));
		g_resync_thread = om_reallocarray(g_resync_thread, g_n_resync + 1,
						  sizeof(*g_resync_thread));
		g_resync[g_n_resync] = om_strdup(name);
		g_resync_thread[g_n_resync++] = pthread_self();
	} else if (i < g_n_resync) {
		free(g_resync[i]);
		g_n_resync--;
		g_resync[i] = g_resync[g_n_resync];
		g_resync_thread[i] = g_resync_thread[g_n_resync];
		if (g_n_resync == 0) {
			free(g_resync);
			free(g_resync_thread);
			g_resync = NULL;
			g_resync_thread = NULL;
		}
	}
	pthread_mutex_unlock(&glock);
	return ok;
}

/* The open users matching name (NULL: all), each with a reference. */
static struct obox_user **users_get(const char *name, size_t *n_r)
{
	pthread_mutex_lock(&glock);
	size_t n = 0;
	for (struct obox_user *ou = g_users; ou != NULL; ou = ou->next)
		n++;
	struct obox_user **v = om_calloc(n + 1, sizeof(*v));
	n = 0;
	for (struct obox_user *ou = g_users; ou != NULL; ou = ou->next) {
		if (name != NULL && strcmp(ou->user.name, name) != 0)
			continue;
		/* a user whose close took the last reference is still listed
		 * until its deinit: not ours to touch (the flusher ran its ticks
		 * on other threads, so this can be seen) */
		if (mail_user_tryref(&ou->user))
			v[n++] = ou;
	}
	pthread_mutex_unlock(&glock);
	*n_r = n;
	return v;
}

/* Drop the flusher's reference if it and the caller's are the last ones:
 * then the user closes (final bundle, lease released). Consumes the
 * caller's reference. true if closed. from_tick: the caller is the user's
 * tick, which ends here (another tick may start: it holds a reference, so
 * the user then stays open). */
static bool user_close_if_idle(struct obox_user *ou, bool from_tick)
{
	pthread_mutex_lock(&glock);
	if (from_tick)
		ou->ticking = false;
	bool mine = ou->keeper;
	ou->keeper = false;
	pthread_mutex_unlock(&glock);
	mail_user_unref(&ou->user); /* the caller's; the keeper's is still counted */
	if (!mine)
		return false;
	/* Marked closing before it leaves the registry: a new instance opened
	 * right after must wait for this one's final upload and lease release
	 * (same owner name), not run alongside it. */
	char *name = om_strdup(ou->user.name);
	obox_closing_set(name, true);
	ou->closing_marked = true;
	bool closed = mail_user_unref_if_last(&ou->user);
	if (!closed) {
		ou->closing_marked = false;
		obox_closing_set(name, false);
		pthread_mutex_lock(&glock);
		ou->keeper = true;
		pthread_mutex_unlock(&glock);
	}
	free(name);
	return closed;
}

/* Upload what is pending (and a bundle if dirty and `bundle`). */
static int user_flush(struct obox_user *ou, bool bundle, bool blocking)
{
	if (blocking)
		pthread_mutex_lock(&ou->flush_lock);
	else if (pthread_mutex_trylock(&ou->flush_lock) != 0)
		return -OM_ETEMP;
	pthread_mutex_lock(&ou->olock);
	bool dirty = ou->dirty, lost = ou->lease_lost;
	pthread_mutex_unlock(&ou->olock);
	int ret = lost ? -OM_ETEMP : 0;
	if (!lost && bundle && dirty) {
		ret = obox_bundle_upload(ou, blocking);
		if (ret < 0)
			(void)obox_log_upload(ou);
	} else if (!lost) {
		ret = obox_log_upload(ou);
	}
	pthread_mutex_unlock(&ou->flush_lock);
	return ret;
}

static void user_tick(struct obox_user *ou, time_t now)
{
	obox_lease_renew(ou, now);
	pthread_mutex_lock(&ou->olock);
	bool dirty = ou->dirty, lost = ou->lease_lost;
	bool logs = ou->pending.len > 0;
	bool bundle_due = dirty && now >= ou->bundle_retry_at &&
			  (now - ou->last_bundle >= (time_t)g_set.flush_interval ||
			   ou->log_n >= OBOX_MAX_LOGS);
	bool idle = now - ou->last_use >= OBOX_CLOSE_GRACE;
	pthread_mutex_unlock(&ou->olock);
	bool last = mail_user_refs(&ou->user) <= 2; /* the keeper's and ours */

	pthread_mutex_lock(&ou->olock);
	bool leased = obox_now() + obox_lease_margin() < ou->lease_until;
	pthread_mutex_unlock(&ou->olock);
	if (!lost && leased) {
		if (bundle_due || (last && idle && dirty && now >= ou->bundle_retry_at))
			(void)user_flush(ou, true, false);
		else if (logs)
			(void)user_flush(ou, false, false);
	}
	if (last && idle) {
		pthread_mutex_lock(&ou->olock);
		bool clean = !ou->dirty && ou->pending.len == 0;
		pthread_mutex_unlock(&ou->olock);
		if (clean || lost) {
			user_close_if_idle(ou, true); /* consumes our reference */
			return;
		}
	}
	pthread_mutex_lock(&glock);
	ou->ticking = false;
	pthread_mutex_unlock(&glock);
	mail_user_unref(&ou->user);
}

static void tickq_push(struct obox_user *ou)
{
	if (g_tickq_len == g_tickq_cap) {
		size_t cap = g_tickq_cap > 0 ? g_tickq_cap * 2 : 64;
		struct obox_user **q = om_calloc(cap, sizeof(*q));
		for (size_t i = 0; i < g_tickq_len; i++)
			q[i] = g_tickq[(g_tickq_head + i) % g_tickq_cap];
		free(g_tickq);
		g_tickq = q;
		g_tickq_cap = cap;
		g_tickq_head = 0;
	}
	g_tickq[(g_tickq_head + g_tickq_len) % g_tickq_cap] = ou;
	g_tickq_len++;
}

static void *ticker_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&glock);
	for (;;) {
		while (g_tickq_len == 0 && !g_stop)
			pthread_cond_wait(&tick_cond, &glock);
		if (g_tickq_len == 0)
			break; /* stopping */
		struct obox_user *ou = g_tickq[g_tickq_head];
		g_tickq_head = (g_tickq_head + 1) % g_tickq_cap;
		g_tickq_len--;
		bool stop = g_stop;
		if (stop)
			ou->ticking = false;
		pthread_mutex_unlock(&glock);
		if (stop)
			mail_user_unref(&ou->user); /* the shutdown flushes it */
		else
			user_tick(ou, obox_now());
		pthread_mutex_lock(&glock);
	}
	pthread_mutex_unlock(&glock);
	return NULL;
}

static void *flusher_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&glock);
	while (!g_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&gcond, &glock, &ts);
		if (g_stop)
			break;
		pthread_mutex_unlock(&glock);
		size_t n, n_busy = 0;
		struct obox_user **v = users_get(NULL, &n);
		pthread_mutex_lock(&glock);
		for (size_t i = 0; i < n; i++) {
			if (v[i]->ticking) {
				v[n_busy++] = v[i]; /* its last tick still runs */
				continue;
			}
			v[i]->ticking = true;
			tickq_push(v[i]); /* the tick owns the reference */
		}
		pthread_cond_broadcast(&tick_cond);
		pthread_mutex_unlock(&glock);
		for (size_t i = 0; i < n_busy; i++)
			mail_user_unref(&v[i]->user);
		free(v);
		pthread_mutex_lock(&glock);
	}
	pthread_mutex_unlock(&glock);
	return NULL;
}

/* --- mail-storage.h entry points --- */

int mail_storage_flush(const char *username)
{
	pthread_mutex_lock(&glock);
	bool up = g_store != NULL;
	pthread_mutex_unlock(&glock);
	if (!up)
		return 0;
	size_t n;
	struct obox_user **v = users_get(username, &n);
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		int r = user_flush(v[i], true, true);
		if (r < 0 && ret == 0)
			ret = r;
		mail_user_unref(&v[i]->user);
	}
	free(v);
	return ret;
}

static void unlink_local_index(const char *dir)
{
	static const char *const files[] = { OBOX_INDEX_FILE, OBOX_INDEX_FILE "-wal",
					     OBOX_INDEX_FILE "-shm", OBOX_INDEX_FILE "-journal",
					     OBOX_STATE_FILE };
	struct buf p = BUF_INIT;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		buf_reset(&p);
		buf_printf(&p, "%s/%s", dir, files[i]);
		if (unlink(p.data) < 0 && errno != ENOENT)
			log_warn("obox: unlink %s: %s", p.data, strerror(errno));
	}
	buf_free(&p);
}

int mail_user_force_resync(const struct om_config *cfg, const char *username)
{
	const char *loc = cfg->mail_location != NULL ? cfg->mail_location : "";
	if (strncmp(loc, "obox:", 5) != 0)
		return 0; /* maildir: the index is rebuilt from the Maildir as needed */
	if (username == NULL || username[0] == '\0')
		return -OM_EINVAL;
	struct buf root = BUF_INIT, prefix = BUF_INIT, dir = BUF_INIT;
	bool marked = false;
	int ret = config_expand_user_path(loc + 5, username, &root);
	if (ret == 0)
		ret = obox_global_init(cfg, root.data);
	if (ret < 0)
		goto out;
	/* From here until the rebuilt index is there, other threads can't
	 * open the user: between its close and the deletion of its local
	 * index, an opener would read files that are about to go. */
	if (!resync_mark(username, true)) {
		log_warn("obox %s: force-resync: another one runs", username);
		ret = -OM_ETEMP;
		goto out;
	}
	marked = true;
	/* Open here: upload what it has, then close it (unless in use). */
	size_t n;
	struct obox_user **v = users_get(username, &n);
	for (size_t i = 0; i < n; i++) {
		(void)user_flush(v[i], true, true);
		if (!user_close_if_idle(v[i], false) && ret == 0) {
			log_warn("obox %s: force-resync: the user is in use; try again later", username);
			ret = -OM_ETEMP;
		}
	}
	free(v);
	if (ret < 0)
		goto out;
	obox_closing_wait(username);
	obox_user_paths(root.data, username, &prefix, &dir);
	unlink_local_index(dir.data);
	log_info("obox %s: force-resync: local index dropped, rebuilding from the store", username);
	struct mail_user *user;
	/* an opener that got in before the mark fails its open: try again */
	for (int tries = 0; tries < 3; tries++) {
		ret = mail_user_open(cfg, username, NULL, &user);
		if (ret != -OM_ETEMP)
			break;
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (ret < 0)
		goto out;
	mail_user_unref(user);
	/* Upload the rebuilt index and let the user go (lease released), so
	 * that an offline run leaves nothing behind and the store is current. */
	v = users_get(username, &n);
	for (size_t i = 0; i < n; i++) {
		int r = user_flush(v[i], true, true);
		if (r < 0 && ret == 0)
			ret = r;
		(void)user_close_if_idle(v[i], false);
	}
	free(v);
out:
	if (marked)
		resync_mark(username, false);
	buf_free(&root);
	buf_free(&prefix);
	buf_free(&dir);
	return ret;
}

void mail_storage_shutdown(void)
{
	pthread_mutex_lock(&glock);
	if (g_store == NULL) {
		pthread_mutex_unlock(&glock);
		return;
	}
	g_stop = true;
	pthread_cond_broadcast(&gcond);
	pthread_cond_broadcast(&tick_cond);
	bool joined = g_thread_running;
	g_thread_running = false;
	pthread_mutex_unlock(&glock);
	if (joined) {
		pthread_join(g_thread, NULL);
		for (unsigned i = 0; i < g_n_tickers; i++)
			pthread_join(g_tickers[i], NULL);
	}
	pthread_mutex_lock(&glock);
	free(g_tickers);
	g_tickers = NULL;
	g_n_tickers = 0;
	free(g_tickq);
	g_tickq = NULL;
	g_tickq_head = g_tickq_len = g_tickq_cap = 0;
	pthread_mutex_unlock(&glock);

	size_t n;
	struct obox_user **v = users_get(NULL, &n);
	for (size_t i = 0; i < n; i++) {
		struct obox_user *ou = v[i];
		int r = user_flush(ou, true, true);
		if (r < 0)
			log_error("obox %s: final upload failed (%s): the changes stay in the local "
				  "cache and go up at the next start", ou->user.name, om_strerror(r));
		if (!user_close_if_idle(ou, false)) {
			/* sessions still hold it: let go of the lease all the same */
			pthread_mutex_lock(&ou->olock);
			bool clean = !ou->dirty && ou->pending.len == 0 && ou->lease_taken;
			if (clean)
				ou->lease_lost = true;
			pthread_mutex_unlock(&ou->olock);
			if (clean)
				obox_lease_release(ou);
		}
	}
	free(v);

	pthread_mutex_lock(&glock);
	if (g_users == NULL) {
		objstore_close(g_store);
		g_store = NULL;
		free(g_root);
		g_root = NULL;
		obox_lease_fini();
		free(g_closing);
		g_closing = NULL;
		g_n_closing = 0;
	} else {
		log_warn("obox: storage shut down with users still open");
	}
	pthread_mutex_unlock(&glock);
}

void mail_storage_metrics(struct buf *out)
{
	pthread_mutex_lock(&glock);
	if (g_store == NULL) {
		pthread_mutex_unlock(&glock);
		return;
	}
	size_t open = 0;
	for (struct obox_user *ou = g_users; ou != NULL; ou = ou->next)
		open++;
	objstore_metrics(g_store, out);
	pthread_mutex_unlock(&glock);
	static const struct {
		const char *name, *help, *labels;
		enum obox_counter c;
	} m[] = {
		{ "objmail_obox_bundle_uploads_total", "Index bundles uploaded.", "result=\"ok\"", OBOX_C_BUNDLE_OK },
		{ "objmail_obox_bundle_uploads_total", NULL, "result=\"error\"", OBOX_C_BUNDLE_ERR },
		{ "objmail_obox_log_uploads_total", "Change logs uploaded.", "result=\"ok\"", OBOX_C_LOG_OK },
		{ "objmail_obox_log_uploads_total", NULL, "result=\"error\"", OBOX_C_LOG_ERR },
		{ "objmail_obox_index_rebuilds_total", "Indexes rebuilt from the store.", "", OBOX_C_REBUILDS },
		{ "objmail_obox_objects_deleted_total", "Message objects deleted (deferred deletes).", "", OBOX_C_DELETED },
		{ "objmail_obox_leases_lost_total", "User leases lost to another backend.", "", OBOX_C_LEASE_LOST },
		{ "objmail_obox_leases_broken_total", "Leases of dead backends broken and taken here.", "", OBOX_C_LEASE_BROKEN },
		{ "objmail_obox_prefetched_total", "Messages fetched ahead into the cache.", "", OBOX_C_PREFETCHED },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (m[i].help != NULL)
			buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", m[i].name, m[i].help, m[i].name);
		buf_printf(out, "%s%s%s%s %llu\n", m[i].name, m[i].labels[0] ? "{" : "", m[i].labels,
			   m[i].labels[0] ? "}" : "",
			   (unsigned long long)atomic_load(&g_counters[m[i].c]));
	}
	buf_printf(out, "# HELP objmail_obox_users_open Users open on this backend.\n"
		   "# TYPE objmail_obox_users_open gauge\nobjmail_obox_users_open %zu\n", open);
}

/* --- lease introspection (objmail lease USER) --- */

static void json_str(struct buf *out, const char *s)
{
	buf_append_c(out, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(out, "\\u%04x", c);
		else
			buf_append_c(out, (char)c);
	}
	buf_append_c(out, '"');
}

int mail_user_lease_info(const struct om_config *cfg, const char *username, struct buf *json)
{
	const char *loc = cfg->mail_location != NULL ? cfg->mail_location : "";
	if (strncmp(loc, "obox:", 5) != 0)
		return -OM_EINVAL; /* maildir has no leases */
	if (username == NULL || username[0] == '\0')
		return -OM_EINVAL;
	struct buf root = BUF_INIT, prefix = BUF_INIT, dir = BUF_INIT;
	int ret = config_expand_user_path(loc + 5, username, &root);
	if (ret == 0)
		ret = obox_global_init(cfg, root.data);
	if (ret < 0)
		goto out;
	obox_user_paths(root.data, username, &prefix, &dir);
	buf_append_str(&prefix, "lease");
	char owner[512];
	int64_t expires = 0;
	ret = objstore_lock_info(g_store, prefix.data, owner, sizeof(owner), &expires);
	if (ret < 0 && ret != -OM_ENOTFOUND)
		goto out;
	bool held = ret == 0;
	ret = 0;
	buf_append_str(json, "{\"user\":");
	json_str(json, username);
	buf_append_str(json, ",\"key\":");
	json_str(json, prefix.data);
	buf_printf(json, ",\"held\":%s,\"owner\":", held ? "true" : "false");
	if (held)
		json_str(json, owner);
	else
		buf_append_str(json, "null");
	buf_printf(json, ",\"expires\":%lld,\"this_backend\":%s}", (long long)expires,
		   held && strcmp(owner, obox_lease_owner()) == 0 ? "true" : "false");
out:
	buf_free(&root);
	buf_free(&prefix);
	buf_free(&dir);
	return ret;
}
