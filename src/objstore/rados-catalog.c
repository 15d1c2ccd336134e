/* The RADOS driver's catalog: a prefix listing without listing the pool.
 *
 * RADOS can only list a whole pool (namespace), in hash order. So every
 * object put through this driver is also an omap key of the catalog object
 * of its directory (the key up to and including its last '/', "" for keys
 * without one):
 *
 *   object "u/ab/joe/m/0123"   -> omap key "0123" of ".om.cat:u/ab/joe/m/"
 *   directory "u/ab/joe/m/"    -> omap key "m/"   of ".om.cat:u/ab/joe/"
 *                                 ... up to "u/" in ".om.cat:" (the root)
 *
 * The omap value of an object entry is the etag of the put that wrote it
 * ("" when the catalog was built from a scan); a delete removes the entry
 * only while it still holds the etag of the version it deleted (omap_cmp
 * in the same op), so a put racing a delete of the same key never loses its
 * entry. Subdirectory entries are never removed (an empty directory costs
 * one omap read in a recursive list).
 *
 * No key can collide: objstore_key_valid refuses any component starting
 * with ".om.", and ".om.cat:<dir>" doesn't start with any directory of
 * objmail keys either, so a prefix listing never meets a catalog object.
 *
 * A store written before the catalog existed has objects without entries,
 * so catalogs are trusted only once the marker object ".om.catalog" exists.
 * It is written (1) at open when the pool/namespace holds no object at all,
 * (2) by catalog=build once a full scan has entered every object. Without
 * it, list scans the pool (the old way, logged once). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/rados-private.h"

#define CAT_PREFIX ".om.cat:"
#define CAT_MARKER ".om.catalog"
#define CAT_PAGE 1000
#define CAT_BUILD_BATCH 1024
/* How often a store without the marker looks for it again (a build run by
 * another process). */
#define CAT_MARKER_RECHECK_S 60

static void cat_name(struct buf *out, const char *dir, size_t dir_len)
{
	buf_reset(out);
	buf_append_str(out, CAT_PREFIX);
	buf_append(out, dir, dir_len);
}

/* Length of key's directory part (up to and including the last '/'). */
static size_t dir_len_of(const char *key)
{
	const char *slash = strrchr(key, '/');
	return slash != NULL ? (size_t)(slash - key) + 1 : 0;
}

/* The cache of directories known to be entered in their parent's catalog
 * (and so all their ancestors): a lossy hash table, an evicted entry only
 * costs an idempotent omap_set again. */
static uint64_t dir_hash(const char *d, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)d[i]) * 1099511628211ULL;
	return h;
}

static bool dir_cached(struct rados_store *s, const char *d, size_t len)
{
	size_t slot = dir_hash(d, len) % RADOS_DIR_CACHE;
	pthread_mutex_lock(&s->cat_mu);
	const char *e = s->dir_cache[slot];
	bool hit = e != NULL && strlen(e) == len && memcmp(e, d, len) == 0;
	pthread_mutex_unlock(&s->cat_mu);
	return hit;
}

static void dir_remember(struct rados_store *s, const char *d, size_t len)
{
	size_t slot = dir_hash(d, len) % RADOS_DIR_CACHE;
	char *copy = om_strndup(d, len);
	pthread_mutex_lock(&s->cat_mu);
	char *old = s->dir_cache[slot];
	s->dir_cache[slot] = copy;
	pthread_mutex_unlock(&s->cat_mu);
	free(old);
}

/* Pending catalog writes of one put */

static int pend_add(struct rados_store *s, struct rados_cat_pending *p, const char *dir,
		    size_t dir_len, const char *name, size_t name_len, const char *val,
		    size_t val_len)
{
	if (p->n == p->cap) {
		p->cap = p->cap == 0 ? 4 : p->cap * 2;
		p->comps = om_reallocarray(p->comps, p->cap, sizeof(*p->comps));
		p->ops = om_reallocarray(p->ops, p->cap, sizeof(*p->ops));
	}
	struct buf obj = BUF_INIT;
	cat_name(&obj, dir, dir_len);
	rados_write_op_t op = rados_create_write_op();
	if (op == NULL) {
		buf_free(&obj);
		return -ENOMEM;
	}
	const char *keys[1] = { name };
	const char *vals[1] = { val };
	size_t klens[1] = { name_len }, vlens[1] = { val_len };
	rados_write_op_omap_set2(op, keys, vals, klens, vlens, 1);
	rados_completion_t c;
	int r = rados_aio_create_completion2(NULL, NULL, &c);
	if (r == 0) {
		r = rados_aio_write_op_operate(op, s->io, c, buf_cstr(&obj), NULL, 0);
		if (r < 0) {
			rados_aio_release(c);
		} else {
			/* kept until it completes, as librados's own users do */
			p->comps[p->n] = c;
			p->ops[p->n++] = op;
			op = NULL;
		}
	}
	if (op != NULL)
		rados_release_write_op(op);
	buf_free(&obj);
	return r;
}

int rados_catalog_put_start(struct rados_store *s, const char *key, const char *etag,
			    struct rados_cat_pending *p)
{
	memset(p, 0, sizeof(*p));
	size_t dl = dir_len_of(key);
	int r = pend_add(s, p, key, dl, key + dl, strlen(key + dl), etag, strlen(etag));
	/* Enter the directory and its ancestors, deepest first, until one
	 * this process already entered. */
	while (r == 0 && dl > 0 && !dir_cached(s, key, dl)) {
		size_t parent = 0;
		for (size_t i = dl - 1; i > 0; i--) {
			if (key[i - 1] == '/') {
				parent = i;
				break;
			}
		}
		r = pend_add(s, p, key, parent, key + parent, dl - parent, "", 0);
		if (p->dirs_n < sizeof(p->dirs) / sizeof(p->dirs[0]))
			p->dirs[p->dirs_n++] = dl;
		dl = parent;
	}
	p->key = key;
	p->start_err = r;
	return r;
}

int rados_catalog_put_wait(struct rados_store *s, struct rados_cat_pending *p, bool ok)
{
	int ret = p->start_err;
	for (size_t i = 0; i < p->n; i++) {
		rados_aio_wait_for_complete(p->comps[i]);
		int r = rados_aio_get_return_value(p->comps[i]);
		rados_aio_release(p->comps[i]);
		rados_release_write_op(p->ops[i]);
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (ret == 0 && ok) {
		for (size_t i = 0; i < p->dirs_n; i++)
			dir_remember(s, p->key, p->dirs[i]);
	}
	free(p->comps);
	free(p->ops);
	memset(p, 0, sizeof(*p));
	return ret;
}

int rados_catalog_put(struct rados_store *s, const char *key, const char *etag)
{
	struct rados_cat_pending p;
	(void)rados_catalog_put_start(s, key, etag, &p);
	return rados_catalog_put_wait(s, &p, true);
}

/* delete: drop the entry while it still names the deleted version; an
 * entry a scan built ("") goes too. */
static int cat_rm_if(struct rados_store *s, const char *obj, const char *name, const char *val)
{
	rados_write_op_t op = rados_create_write_op();
	if (op == NULL)
		return -ENOMEM;
	int prval = 0;
	const char *keys[1] = { name };
	rados_write_op_omap_cmp(op, name, LIBRADOS_CMPXATTR_OP_EQ, val, strlen(val), &prval);
	rados_write_op_omap_rm_keys(op, keys, 1);
	int r = rados_write_op_operate2(op, s->io, obj, NULL, 0);
	rados_release_write_op(op);
	return r;
}

int rados_catalog_del(struct rados_store *s, const char *key, const char *etag)
{
	size_t dl = dir_len_of(key);
	struct buf obj = BUF_INIT;
	cat_name(&obj, key, dl);
	int r = cat_rm_if(s, buf_cstr(&obj), key + dl, etag);
	if ((r == -ECANCELED || r == -ENOENT) && etag[0] != '\0')
		r = cat_rm_if(s, buf_cstr(&obj), key + dl, "");
	buf_free(&obj);
	/* no catalog, no entry, or a newer put's entry: nothing to remove */
	if (r == -ECANCELED || r == -ENOENT)
		r = 0;
	return r;
}

/* The marker */

static int marker_stat(struct rados_store *s)
{
	uint64_t size;
	time_t mtime;
	return rados_stat(s->io, CAT_MARKER, &size, &mtime);
}

static int marker_write(struct rados_store *s)
{
	static const char text[] = "objmail catalog v1\n";
	return rados_write_full(s->io, CAT_MARKER, text, sizeof(text) - 1);
}

/* true if the pool (namespace) holds no object at all. */
static int pool_empty(struct rados_store *s, bool *empty_r)
{
	rados_list_ctx_t lc;
	int r = rados_nobjects_list_open(s->io, &lc);
	if (r < 0)
		return r;
	const char *entry;
	r = rados_nobjects_list_next2(lc, &entry, NULL, NULL, NULL, NULL, NULL);
	rados_nobjects_list_close(lc);
	if (r == 0 || r == -ENOENT) {
		*empty_r = r == -ENOENT;
		return 0;
	}
	return r;
}

/* Is the catalog to be trusted now? Looks for the marker again at most
 * every CAT_MARKER_RECHECK_S while it is missing. */
bool rados_catalog_usable(struct rados_store *s)
{
	if (s->cat_mode == RADOS_CAT_OFF)
		return false;
	if (atomic_load(&s->cat_ready))
		return true;
	int64_t now = (int64_t)time(NULL);
	int64_t last = atomic_load(&s->cat_checked);
	if (now - last >= CAT_MARKER_RECHECK_S &&
	    atomic_compare_exchange_strong(&s->cat_checked, &last, now) && marker_stat(s) == 0) {
		log_info("rados: the catalog marker appeared: listings use the catalog now");
		atomic_store(&s->cat_ready, true);
		return true;
	}
	if (!atomic_exchange(&s->cat_warned, true))
		log_warn("rados: no catalog in this pool/namespace (%s missing): every list scans "
			 "the whole pool; build it with the spec option catalog=build "
			 "(doc/ceph.md)", CAT_MARKER);
	return false;
}

/* catalog=build: enter every object a full scan finds, then the marker. */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int build_flush(struct rados_store *s, char **keys, size_t n)
{
	qsort(keys, n, sizeof(*keys), cmp_str);
	struct rados_cat_pending p;
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		/* Sorted: most keys of one directory find it cached already;
		 * one omap_set per key is slow but this runs once. */
		(void)rados_catalog_put_start(s, keys[i], "", &p);
		ret = rados_catalog_put_wait(s, &p, true);
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	return ret;
}

static int catalog_build(struct rados_store *s)
{
	log_info("rados: building the catalog from a scan of the whole pool/namespace");
	rados_list_ctx_t lc;
	int r = rados_nobjects_list_open(s->io, &lc);
	if (r < 0)
		return r;
	char **keys = om_calloc(CAT_BUILD_BATCH, sizeof(*keys));
	size_t n = 0;
	uint64_t total = 0;
	atomic_fetch_add(&s->full_scans, 1);
	for (;;) {
		const char *entry;
		size_t elen = 0;
		r = rados_nobjects_list_next2(lc, &entry, NULL, NULL, &elen, NULL, NULL);
		if (r < 0)
			break;
		if (elen == 0 || elen > 1024 || memchr(entry, '\0', elen) != NULL ||
		    (elen >= 4 && memcmp(entry, ".om.", 4) == 0))
			continue;
		keys[n++] = om_strndup(entry, elen);
		if (n == CAT_BUILD_BATCH) {
			r = build_flush(s, keys, n);
			total += n;
			n = 0;
			if (r < 0)
				break;
			if (total % (CAT_BUILD_BATCH * 64) == 0)
				log_info("rados: catalog build: %llu objects entered",
					 (unsigned long long)total);
		}
	}
	rados_nobjects_list_close(lc);
	if (r == -ENOENT) {
		total += n;
		r = build_flush(s, keys, n);
		n = 0;
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	if (r == 0)
		r = marker_write(s);
	if (r == 0)
		log_info("rados: catalog built: %llu objects entered", (unsigned long long)total);
	return r;
}

int rados_catalog_open(struct rados_store *s)
{
	pthread_mutex_init(&s->cat_mu, NULL);
	s->dir_cache = om_calloc(RADOS_DIR_CACHE, sizeof(*s->dir_cache));
	atomic_store(&s->cat_checked, (int64_t)time(NULL));
	if (s->cat_mode == RADOS_CAT_OFF)
		return 0;
	int r = marker_stat(s);
	if (r == 0) {
		atomic_store(&s->cat_ready, true);
		return 0;
	}
	if (r == -ENOENT && s->cat_mode == RADOS_CAT_BUILD) {
		r = catalog_build(s);
		if (r == 0)
			atomic_store(&s->cat_ready, true);
		return r; /* the admin asked for it: say when it failed */
	}
	bool empty = false, ready = false;
	if (r == -ENOENT)
		r = pool_empty(s, &empty);
	if (r == 0 && empty) {
		r = marker_write(s);
		ready = r == 0;
	} else if (r == 0) {
		/* Not empty: maybe because another process just found it
		 * empty and wrote the marker (the first object we saw). */
		ready = marker_stat(s) == 0;
	}
	if (ready) {
		atomic_store(&s->cat_ready, true);
	} else if (r < 0) {
		/* The OSDs don't answer now (open only needs the monitors):
		 * open anyway, the first list looks again. */
		log_debug("rados: can't look for the catalog marker now: %s", strerror(-r));
		atomic_store(&s->cat_checked, 0);
	}
	return 0;
}

void rados_catalog_close(struct rados_store *s)
{
	if (s->dir_cache == NULL)
		return;
	for (size_t i = 0; i < RADOS_DIR_CACHE; i++)
		free(s->dir_cache[i]);
	free(s->dir_cache);
	pthread_mutex_destroy(&s->cat_mu);
}

/* list */

struct key_vec {
	char **v;
	size_t n, cap;
};

static void kv_push(struct key_vec *kv, char *k)
{
	if (kv->n == kv->cap) {
		kv->cap = kv->cap == 0 ? 64 : kv->cap * 2;
		kv->v = om_reallocarray(kv->v, kv->cap, sizeof(*kv->v));
	}
	kv->v[kv->n++] = k;
}

/* One directory's catalog, entries starting with filter: objects into out,
 * subdirectories onto the work list. */
static int walk_dir(struct rados_store *s, const char *dir, const char *filter,
		    struct key_vec *out, struct key_vec *todo)
{
	struct buf obj = BUF_INIT, after = BUF_INIT, full = BUF_INIT;
	size_t dlen = strlen(dir);
	cat_name(&obj, dir, dlen);
	int r = 0;
	unsigned char more = 1;
	while (r == 0 && more) {
		rados_read_op_t op = rados_create_read_op();
		if (op == NULL) {
			r = -ENOMEM;
			break;
		}
		rados_omap_iter_t it = NULL;
		int prval = 0;
		more = 0;
		rados_read_op_omap_get_vals2(op, after.len > 0 ? buf_cstr(&after) : "", filter,
					     CAT_PAGE, &it, &more, &prval);
		r = rados_read_op_operate(op, s->io, buf_cstr(&obj), 0);
		if (r == 0)
			r = prval;
		size_t got = 0;
		while (r == 0) {
			char *k = NULL, *v = NULL;
			size_t klen = 0, vlen = 0;
			if (rados_omap_get_next2(it, &k, &v, &klen, &vlen) < 0 || k == NULL)
				break;
			got++;
			buf_reset(&after);
			buf_append(&after, k, klen);
			const char *slash = memchr(k, '/', klen);
			/* bound what the catalog may say: names without
			 * NUL, a subdirectory only as "name/" */
			if (klen == 0 || memchr(k, '\0', klen) != NULL || dlen + klen > 1024 ||
			    (slash != NULL && slash != k + klen - 1) || (slash != NULL && klen == 1))
				continue;
			buf_reset(&full);
			buf_append_str(&full, dir);
			buf_append(&full, k, klen);
			kv_push(slash != NULL ? todo : out, om_strdup(buf_cstr(&full)));
		}
		if (it != NULL)
			rados_omap_get_end(it);
		rados_release_read_op(op);
		if (got == 0)
			more = 0;
	}
	atomic_fetch_add(&s->catalog_reads, 1);
	buf_free(&obj);
	buf_free(&after);
	buf_free(&full);
	return r == -ENOENT ? 0 : r; /* no catalog: an empty directory */
}

int rados_catalog_list(struct rados_store *s, const char *prefix, char ***keys_r, size_t *n_r)
{
	struct key_vec out = { 0 }, todo = { 0 };
	size_t dl = dir_len_of(prefix);
	char *dir = om_strndup(prefix, dl);
	int r = walk_dir(s, dir, prefix + dl, &out, &todo);
	free(dir);
	/* Subdirectories below the prefix: every entry of theirs matches. */
	while (r == 0 && todo.n > 0) {
		char *d = todo.v[--todo.n];
		r = walk_dir(s, d, "", &out, &todo);
		free(d);
	}
	for (size_t i = 0; i < todo.n; i++)
		free(todo.v[i]);
	free(todo.v);
	if (r < 0) {
		for (size_t i = 0; i < out.n; i++)
			free(out.v[i]);
		free(out.v);
		return r;
	}
	*keys_r = out.v;
	*n_r = out.n;
	return 0;
}

void rados_catalog_metrics(const struct objstore *store, struct buf *out)
{
	const struct rados_store *s = (const struct rados_store *)store;
	buf_printf(out,
		   "# HELP objmail_objstore_rados_full_scans_total Listings of the whole RADOS "
		   "pool/namespace (no catalog, or a catalog build).\n"
		   "# TYPE objmail_objstore_rados_full_scans_total counter\n"
		   "objmail_objstore_rados_full_scans_total %llu\n"
		   "# HELP objmail_objstore_rados_catalog_reads_total Directory catalogs read "
		   "by prefix listings.\n"
		   "# TYPE objmail_objstore_rados_catalog_reads_total counter\n"
		   "objmail_objstore_rados_catalog_reads_total %llu\n"
		   "# HELP objmail_objstore_rados_catalog_ready 1 when listings use the catalog.\n"
		   "# TYPE objmail_objstore_rados_catalog_ready gauge\n"
		   "objmail_objstore_rados_catalog_ready %d\n",
		   (unsigned long long)atomic_load(&s->full_scans),
		   (unsigned long long)atomic_load(&s->catalog_reads),
		   atomic_load(&s->cat_ready) ? 1 : 0);
}
