/* Index bundles and rebuilds (DESIGN.md rule 2).
 *
 * A bundle is a SQLite backup of the user's index, zstd-compressed, taken
 * under the user lock (so every change already recorded in the pending log
 * is in it, or was rolled back). Records logged before the snapshot are
 * dropped once the bundle is up, and put back in front of the queue if the
 * upload fails; seq advances only on success, so log.<seq>.* always
 * follow bundle.<seq> and nothing is ever applied out of order.
 *
 * A local state file says which bundle/log the local index reflects: at
 * open, if the store has something newer (another backend served the user,
 * or the cache was lost) the index is rebuilt from the store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/obox/obox.h"

/* --- the state file --- */

void obox_state_write(struct obox_user *ou, bool clean)
{
	/* The state says how far the store has our changes; the index must
	 * not be behind it after a power loss (its commits aren't fsynced).
	 * If the WAL can't be synced, write no state: the next open then
	 * treats the cache as unclean and rebuilds from the store. */
	if (ou->user.index != NULL && index_sync(ou->user.index) < 0)
		return;
	pthread_mutex_lock(&ou->olock);
	uint64_t seq = ou->seq;
	uint32_t n = ou->log_n;
	bool dirty = ou->dirty || ou->pending.len > 0;
	pthread_mutex_unlock(&ou->olock);
	struct buf path = BUF_INIT, tmp = BUF_INIT, data = BUF_INIT;
	buf_printf(&path, "%s/" OBOX_STATE_FILE, ou->dir);
	buf_printf(&tmp, "%s.tmp", path.data);
	buf_printf(&data, "%llu %u %d\n", (unsigned long long)seq, n, clean && !dirty ? 1 : 0);
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, data.data, data.len) == (ssize_t)data.len;
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	if (!ok || rename(tmp.data, path.data) < 0) {
		log_warn("obox %s: writing %s: %s", ou->user.name, path.data, strerror(errno));
		(void)unlink(tmp.data);
	}
	buf_free(&path);
	buf_free(&tmp);
	buf_free(&data);
}

/* false if missing or unreadable */
static bool state_read(struct obox_user *ou, uint64_t *seq_r, uint32_t *n_r, bool *clean_r)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/" OBOX_STATE_FILE, ou->dir);
	FILE *f = fopen(path.data, "re");
	buf_free(&path);
	if (f == NULL)
		return false;
	unsigned long long seq;
	unsigned n;
	int clean;
	bool ok = fscanf(f, "%llu %u %d", &seq, &n, &clean) == 3;
	fclose(f);
	if (ok) {
		*seq_r = seq;
		*n_r = n;
		*clean_r = clean == 1;
	}
	return ok;
}

/* --- listing idx/ --- */

struct idx_obj {
	uint64_t seq;
	uint32_t n;        /* logs */
	bool bundle;
};

struct idx_list {
	struct idx_obj *v;
	size_t n, cap;
	size_t prefix_len;
};

static bool parse_hex(const char *s, size_t len, uint64_t *v)
{
	if (len == 0 || len > 16)
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		x = x * 16 + d;
	}
	*v = x;
	return true;
}

static int idx_list_cb(void *ctx, const char *key, uint64_t size)
{
	struct idx_list *l = ctx;
	(void)size;
	const char *name = key + l->prefix_len;
	struct idx_obj o = { 0 };
	uint64_t v;
	if (strncmp(name, "bundle.", 7) == 0 && parse_hex(name + 7, strlen(name + 7), &o.seq)) {
		o.bundle = true;
	} else if (strncmp(name, "log.", 4) == 0) {
		const char *dot = strchr(name + 4, '.');
		if (dot == NULL || !parse_hex(name + 4, (size_t)(dot - name - 4), &o.seq) ||
		    !parse_hex(dot + 1, strlen(dot + 1), &v) || v > UINT32_MAX)
			return 0;
		o.n = (uint32_t)v;
	} else {
		return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = om_reallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = o;
	return 0;
}

static int idx_obj_cmp(const void *a, const void *b)
{
	const struct idx_obj *x = a, *y = b;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	if (x->bundle != y->bundle)
		return x->bundle ? -1 : 1; /* the bundle before its logs */
	return x->n < y->n ? -1 : x->n > y->n;
}

static int idx_list_get(struct obox_user *ou, struct idx_list *l)
{
	struct buf prefix = BUF_INIT;
	buf_printf(&prefix, "%sidx/", ou->key_prefix);
	memset(l, 0, sizeof(*l));
	l->prefix_len = prefix.len;
	int ret = objstore_list(obox_store(), prefix.data, idx_list_cb, l);
	buf_free(&prefix);
	if (ret < 0) {
		free(l->v);
		memset(l, 0, sizeof(*l));
		return ret;
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), idx_obj_cmp);
	return 0;
}

static void idx_key(const struct obox_user *ou, const struct idx_obj *o, struct buf *out)
{
	buf_reset(out);
	if (o->bundle)
		buf_printf(out, "%sidx/bundle.%016llx", ou->key_prefix, (unsigned long long)o->seq);
	else
		buf_printf(out, "%sidx/log.%016llx.%08x", ou->key_prefix,
			   (unsigned long long)o->seq, o->n);
}

/* Newest bundle seq (0: none) and the next log n after it. */
static void idx_list_head(const struct idx_list *l, uint64_t *seq_r, uint32_t *next_n_r,
			  bool *any_r)
{
	uint64_t seq = 0;
	uint32_t next = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].bundle && l->v[i].seq >= seq)
			seq = l->v[i].seq;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i].bundle && l->v[i].seq == seq && l->v[i].n + 1 > next)
			next = l->v[i].n + 1;
	}
	*seq_r = seq;
	*next_n_r = next;
	*any_r = l->n > 0;
}

int obox_store_head(struct obox_user *ou, uint64_t *seq_r, uint32_t *n_r)
{
	struct idx_list l;
	int ret = idx_list_get(ou, &l);
	if (ret < 0)
		return ret;
	bool any;
	idx_list_head(&l, seq_r, n_r, &any);
	free(l.v);
	return 0;
}

/* --- bundle upload --- */

uint64_t obox_delete_after_seq(struct obox_user *ou)
{
	pthread_mutex_lock(&ou->olock);
	/* a snapshot taken before this change may still become seq+1 */
	uint64_t after = ou->seq + (ou->snap_inflight ? 2 : 1);
	pthread_mutex_unlock(&ou->olock);
	return after;
}

static int read_file(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -OM_EIO;
	char tmp[65536];
	ssize_t r;
	while ((r = read(fd, tmp, sizeof(tmp))) > 0) {
		buf_append(out, tmp, (size_t)r);
		if (out->len > OBOX_MAX_INDEX_SIZE) {
			close(fd);
			return -OM_ELIMIT;
		}
	}
	close(fd);
	return r < 0 ? -OM_EIO : 0;
}

/* Delete bundles older than the previous one and logs older than it. */
static void cleanup_old(struct obox_user *ou, uint64_t new_seq)
{
	struct idx_list l;
	if (idx_list_get(ou, &l) < 0)
		return;
	struct buf key = BUF_INIT;
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].seq + 1 >= new_seq)
			continue;
		idx_key(ou, &l.v[i], &key);
		int r = objstore_delete(obox_store(), key.data);
		if (r < 0 && r != -OM_ENOTFOUND)
			log_warn("obox %s: deleting %s: %s", ou->user.name, key.data, om_strerror(r));
	}
	buf_free(&key);
	free(l.v);
}

/* Objects whose delete waited for bundle seq (or older). */
static void pending_deletes_run(struct obox_user *ou, uint64_t seq, bool blocking)
{
	struct mail_user *user = &ou->user;
	char **guids = NULL;
	size_t n = 0;
	if (blocking)
		mail_user_lock(user);
	else if (pthread_mutex_trylock(&user->lock) != 0)
		return;
	int ret = user->index != NULL ? index_pending_delete_list(user->index, seq, &guids, &n) : -OM_EIO;
	/* paranoia: never delete what a row references */
	size_t kept = 0;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		unsigned refs = 1;
		if (index_guid_refs(user->index, guids[i], 0, 0, &refs) == 0 && refs == 0)
			guids[kept++] = guids[i];
		else {
			(void)index_pending_delete_remove(user->index, guids[i]);
			free(guids[i]);
		}
	}
	mail_user_unlock(user);
	if (ret < 0 || kept == 0) {
		mail_names_free(guids, ret < 0 ? n : kept);
		return;
	}
	struct buf key = BUF_INIT;
	bool *done = om_calloc(kept, sizeof(*done));
	for (size_t i = 0; i < kept; i++) {
		obox_msg_key(ou, guids[i], &key);
		int r = objstore_delete(obox_store(), key.data);
		done[i] = r == 0 || r == -OM_ENOTFOUND;
		if (!done[i])
			log_warn("obox %s: deleting %s: %s (will retry)", user->name, key.data,
				 om_strerror(r));
		else
			obox_count(OBOX_C_DELETED, 1);
	}
	buf_free(&key);
	mail_user_lock(user);
	for (size_t i = 0; i < kept; i++) {
		if (done[i] && user->index != NULL)
			(void)index_pending_delete_remove(user->index, guids[i]);
	}
	mail_user_unlock(user);
	free(done);
	mail_names_free(guids, kept);
}

int obox_bundle_upload(struct obox_user *ou, bool blocking)
{
	struct mail_user *user = &ou->user;
	struct buf tmp = BUF_INIT, raw = BUF_INIT, z = BUF_INIT, key = BUF_INIT, covered = BUF_INIT;
	int ret;
	if (blocking)
		mail_user_lock(user);
	else if (pthread_mutex_trylock(&user->lock) != 0)
		return -OM_ETEMP;
	ret = user->index != NULL ? obox_writable(ou) : -OM_EIO;
	uint64_t new_seq = 0;
	if (ret == 0) {
		buf_printf(&tmp, "%s/bundle.tmp", ou->dir);
		ret = index_backup_to(user->index, tmp.data);
	}
	if (ret == 0) {
		pthread_mutex_lock(&ou->olock);
		new_seq = ou->seq + 1;
		covered = ou->pending;
		buf_init(&ou->pending);
		ou->snap_inflight = true;
		ou->dirty = false;
		pthread_mutex_unlock(&ou->olock);
	}
	mail_user_unlock(user);
	if (ret < 0)
		goto out;

	ret = read_file(tmp.data, &raw);
	(void)unlink(tmp.data);
	if (ret == 0) {
		size_t bound = ZSTD_compressBound(raw.len);
		buf_reserve(&z, bound);
		size_t zl = ZSTD_compress(z.data, bound, raw.data, raw.len, 3);
		if (ZSTD_isError(zl))
			ret = -OM_EIO;
		else
			z.len = zl;
	}
	if (ret == 0) {
		struct objstore_meta meta = { 0 };
		objstore_meta_set(&meta, "compress", "zstd");
		buf_printf(&key, "%sidx/bundle.%016llx", ou->key_prefix, (unsigned long long)new_seq);
		ret = objstore_put(obox_store(), key.data, z.data, z.len, &meta, 0, NULL, NULL);
		objstore_meta_free(&meta);
		if (ret < 0)
			log_warn("obox %s: uploading %s failed (%s); will retry", user->name, key.data,
				 om_strerror(ret));
	}

	pthread_mutex_lock(&ou->olock);
	ou->snap_inflight = false;
	if (ret == 0) {
		ou->seq = new_seq;
		ou->log_n = 0;
		ou->last_bundle = obox_now();
	} else {
		/* the records still have to reach the store, before newer ones */
		buf_append(&covered, ou->pending.data != NULL ? ou->pending.data : "", ou->pending.len);
		buf_free(&ou->pending);
		ou->pending = covered;
		buf_init(&covered);
		ou->dirty = true;
		ou->bundle_retry_at = obox_now() + OBOX_BUNDLE_RETRY;
	}
	pthread_mutex_unlock(&ou->olock);
	obox_count(ret == 0 ? OBOX_C_BUNDLE_OK : OBOX_C_BUNDLE_ERR, 1);
	if (ret == 0) {
		log_debug("obox %s: uploaded bundle %llu (%zu bytes)", user->name,
			  (unsigned long long)new_seq, z.len);
		obox_state_write(ou, false);
		cleanup_old(ou, new_seq);
		pending_deletes_run(ou, new_seq, blocking);
	} else {
		ret = -OM_ETEMP;
	}
out:
	buf_free(&tmp);
	buf_free(&raw);
	buf_free(&z);
	buf_free(&key);
	buf_free(&covered);
	return ret;
}

/* --- rebuild --- */

static void unlink_db(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	struct buf p = BUF_INIT;
	for (size_t i = 0; i < 4; i++) {
		buf_reset(&p);
		buf_printf(&p, "%s%s", path, sfx[i]);
		(void)unlink(p.data);
	}
	buf_free(&p);
}

/* Fetch a bundle and write it, decompressed, to path. */
static int bundle_fetch(struct obox_user *ou, const struct idx_obj *o, const char *path)
{
	struct buf key = BUF_INIT, z = BUF_INIT;
	idx_key(ou, o, &key);
	int ret = objstore_get(obox_store(), key.data, 0, 0, &z, NULL, NULL);
	if (ret < 0) {
		log_warn("obox %s: fetching %s: %s", ou->user.name, key.data, om_strerror(ret));
		goto out;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -OM_EIO;
		goto out;
	}
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	ZSTD_inBuffer in = { z.data, z.len, 0 };
	size_t out_cap = ZSTD_DStreamOutSize();
	char *obuf = om_malloc(out_cap);
	uint64_t total = 0;
	size_t r = 1;
	while (ret == 0 && (in.pos < in.size || r != 0)) {
		ZSTD_outBuffer outb = { obuf, out_cap, 0 };
		r = ZSTD_decompressStream(dctx, &outb, &in);
		if (ZSTD_isError(r) || (outb.pos == 0 && in.pos == in.size && r != 0)) {
			ret = -OM_EIO;
			break;
		}
		total += outb.pos;
		if (total > OBOX_MAX_INDEX_SIZE ||
		    (outb.pos > 0 && write(fd, obuf, outb.pos) != (ssize_t)outb.pos))
			ret = -OM_EIO;
		if (r == 0 && in.pos == in.size)
			break;
	}
	free(obuf);
	ZSTD_freeDCtx(dctx);
	if (fsync(fd) < 0)
		ret = ret < 0 ? ret : -OM_EIO;
	close(fd);
	if (ret < 0)
		log_error("obox %s: bundle %s is damaged", ou->user.name, key.data);
out:
	buf_free(&key);
	buf_free(&z);
	return ret;
}

/* Build the index at path from the store: the newest usable bundle, then
 * every log from its seq on. Sets *seq_r, *n_r to what was applied. */
static int rebuild_into(struct obox_user *ou, const struct idx_list *l, const char *path,
			uint64_t *seq_r, uint32_t *n_r)
{
	struct om_index *idx = NULL;
	uint64_t base = 0;
	bool have_bundle = false;
	int ret = 0;
	unlink_db(path);
	for (size_t i = l->n; i-- > 0;) {
		if (!l->v[i].bundle)
			continue;
		ret = bundle_fetch(ou, &l->v[i], path);
		if (ret == 0) {
			base = l->v[i].seq;
			have_bundle = true;
			break;
		}
		unlink_db(path);
		if (ret == -OM_ETEMP)
			return ret;
		/* damaged: fall back to the previous one (its logs are kept) */
	}
	if (!have_bundle && ret < 0)
		return ret;
	ret = index_open(path, &idx, NULL);
	if (ret < 0)
		return ret;
	uint32_t next_n = 0;
	struct buf key = BUF_INIT, data = BUF_INIT;
	for (size_t i = 0; i < l->n && ret == 0; i++) {
		const struct idx_obj *o = &l->v[i];
		if (o->bundle || o->seq < base)
			continue;
		idx_key(ou, o, &key);
		buf_reset(&data);
		ret = objstore_get(obox_store(), key.data, 0, 0, &data, NULL, NULL);
		if (ret == -OM_ENOTFOUND) {
			ret = 0;
			continue;
		}
		if (ret == 0)
			ret = obox_log_apply(idx, ou->user.name, data.data != NULL ? data.data : "",
					     data.len, base + 1);
		if (o->seq == base && o->n + 1 > next_n)
			next_n = o->n + 1;
	}
	buf_free(&key);
	buf_free(&data);
	index_close(idx);
	*seq_r = base;
	*n_r = next_n;
	return ret;
}

static int index_load(struct obox_user *ou, bool force_rebuild);

int obox_index_load(struct obox_user *ou)
{
	int ret = index_load(ou, false);
	if (ret == -OM_EIO && ou->user.index == NULL) {
		/* the local copy is damaged: it is only a cache */
		log_warn("obox %s: the local index can't be opened; rebuilding it from the store",
			 ou->user.name);
		ret = index_load(ou, true);
	}
	return ret;
}

static int index_load(struct obox_user *ou, bool force_rebuild)
{
	struct mail_user *user = &ou->user;
	struct buf path = BUF_INIT, tmp = BUF_INIT;
	struct idx_list l = { 0 };
	buf_printf(&path, "%s/" OBOX_INDEX_FILE, ou->dir);
	int ret = idx_list_get(ou, &l);
	if (ret < 0) {
		ret = obox_store_error(ou, "list", "idx/", ret);
		goto out;
	}
	uint64_t store_seq, st_seq = 0;
	uint32_t store_n, st_n = 0;
	bool store_any, clean = false;
	idx_list_head(&l, &store_seq, &store_n, &store_any);
	struct stat sb;
	bool have_local = !force_rebuild && stat(path.data, &sb) == 0 &&
			  state_read(ou, &st_seq, &st_n, &clean);
	bool rebuild = !have_local;
	if (have_local && (store_seq > st_seq || (store_seq == st_seq && store_n > st_n))) {
		log_info("obox %s: the store has newer index data (bundle %llu log %u) than the "
			 "local cache (%llu/%u): rebuilding", user->name,
			 (unsigned long long)store_seq, store_n, (unsigned long long)st_seq, st_n);
		rebuild = true;
	}
	bool scan = rebuild || !clean;
	if (rebuild) {
		obox_count(OBOX_C_REBUILDS, 1);
		buf_printf(&tmp, "%s.rebuild", path.data);
		uint64_t seq = 0;
		uint32_t n = 0;
		ret = rebuild_into(ou, &l, tmp.data, &seq, &n);
		if (ret < 0) {
			unlink_db(tmp.data);
			mail_user_set_error(user, "rebuilding the index from the store failed: %s",
					    om_strerror(ret));
			ret = ret == -OM_EIO || ret == -OM_ELIMIT ? -OM_EIO : -OM_ETEMP;
			goto out;
		}
		unlink_db(path.data);
		if (rename(tmp.data, path.data) < 0) {
			ret = -OM_EIO;
			goto out;
		}
		ou->seq = seq;
		ou->log_n = n;
		/* a fresh bundle makes the next open cheap */
		ou->dirty = store_any;
		if (store_any)
			log_info("obox %s: index rebuilt from the store (bundle %llu, %u logs)",
				 user->name, (unsigned long long)seq, n);
		else
			log_debug("obox %s: no index data in the store: a new user", user->name);
	} else {
		ou->seq = st_seq;
		ou->log_n = st_n;
		/* a crash may have left changes that never reached the store */
		ou->dirty = !clean;
	}
	ret = index_open(path.data, &user->index, NULL);
	if (ret < 0) {
		user->index = NULL;
		ret = -OM_EIO;
		goto out;
	}
	if (scan)
		ou->last_bundle = 0; /* bundle soon */
	if (!rebuild && (store_seq < st_seq || (store_seq == st_seq && store_n < st_n))) {
		log_warn("obox %s: the local index is newer than the store's; uploading it",
			 user->name);
		ou->dirty = true;
	}
	ret = scan ? 1 : 0;
out:
	free(l.v);
	buf_free(&path);
	buf_free(&tmp);
	return ret;
}

/* --- scanning m/ for objects the index doesn't know --- */

struct scan_ctx {
	size_t prefix_len;
	char **known;
	size_t n_known;
	char **found;
	size_t n_found, cap;
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int scan_cb(void *ctx, const char *key, uint64_t size)
{
	struct scan_ctx *s = ctx;
	(void)size;
	const char *guid = key + s->prefix_len;
	if (strlen(guid) != 32)
		return 0;
	if (s->n_known > 0 && bsearch(&guid, s->known, s->n_known, sizeof(char *), str_cmp) != NULL)
		return 0;
	if (s->n_found == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->found = om_reallocarray(s->found, s->cap, sizeof(*s->found));
	}
	s->found[s->n_found++] = om_strdup(guid);
	return 0;
}

static long long meta_num(const struct objstore_meta *m, const char *name, long long def)
{
	const char *v = objstore_meta_get(m, name);
	if (v == NULL || *v == '\0')
		return def;
	char *end;
	long long x = strtoll(v, &end, 10);
	return *end == '\0' ? x : def;
}

/* Add the object guid (its metadata in meta) to the index. User locked. */
static int scan_add(struct obox_user *ou, const char *guid, const struct objstore_meta *meta,
		    uint64_t size)
{
	struct mail_user *user = &ou->user;
	struct index_mailbox mb;
	const char *mbguid = objstore_meta_get(meta, "mailbox");
	int ret = mbguid != NULL ? index_mailbox_get_by_guid(user->index, mbguid, &mb) : -OM_ENOTFOUND;
	if (ret == -OM_ENOTFOUND)
		ret = index_mailbox_get(user->index, "INBOX", &mb);
	if (ret < 0)
		return ret;
	struct index_msg msg = { 0 };
	memcpy(msg.rec.guid, guid, 33);
	long long uid = meta_num(meta, "uid", 0);
	msg.rec.uid = mb.uidnext;
	if (uid > 0 && uid <= UINT32_MAX) {
		/* the UID it was given, when nobody else has it */
		struct index_msg old;
		bool expunged = false;
		int r = index_msg_get(user->index, mb.id, (uint32_t)uid, &old);
		if (r == 0)
			index_msg_clear(&old);
		else if (r == -OM_ENOTFOUND &&
			 index_expunged_has(user->index, mb.id, (uint32_t)uid, &expunged) == 0 &&
			 !expunged)
			msg.rec.uid = (uint32_t)uid;
	}
	msg.rec.flags = (uint32_t)meta_num(meta, "flags", 0) & MAIL_FLAGS_STORED;
	msg.rec.size = (uint64_t)meta_num(meta, "vsize", (long long)size);
	msg.rec.internal_date = meta_num(meta, "date", 0);
	msg.rec.internal_tz = (int32_t)meta_num(meta, "tz", 0);
	const char *kws = objstore_meta_get(meta, "keywords");
	struct buf rec = BUF_INIT;
	msg.rec.modseq = ++mb.highest_modseq;
	ret = index_begin(user->index);
	if (ret == 0)
		ret = index_msg_add(user->index, mb.id, &msg);
	if (ret == 0 && msg.rec.uid >= mb.uidnext)
		mb.uidnext = msg.rec.uid + 1;
	if (ret == 0)
		ret = index_mailbox_update(user->index, &mb);
	if (ret == 0)
		ret = index_commit(user->index);
	else
		index_rollback(user->index);
	if (ret == 0 && kws != NULL && *kws != '\0') {
		/* keywords by name, as a log record would set them */
		buf_printf(&rec, "F\t%s\t%u\t%u\t%s", mb.guid, msg.rec.uid, msg.rec.flags, kws);
		ret = obox_log_apply(user->index, user->name, rec.data, rec.len, 0);
		if (ret == 0)
			(void)index_msg_get(user->index, mb.id, msg.rec.uid, &msg);
	}
	if (ret == 0) {
		ret = obox_append_record(user->index, &mb, &msg, &rec);
		if (ret == 0)
			obox_log_add(ou, rec.data);
		log_info("obox %s: found message %s in the store, not in the index: added to %s as UID %u",
			 user->name, guid, mb.name, msg.rec.uid);
	}
	buf_free(&rec);
	index_msg_clear(&msg);
	index_mailbox_clear(&mb);
	return ret;
}

int obox_scan_objects(struct obox_user *ou)
{
	struct mail_user *user = &ou->user;
	struct scan_ctx s = { 0 };
	struct buf prefix = BUF_INIT, key = BUF_INIT;
	buf_printf(&prefix, "%sm/", ou->key_prefix);
	s.prefix_len = prefix.len;
	int ret = index_known_guids(user->index, &s.known, &s.n_known);
	if (ret == 0)
		ret = objstore_list(obox_store(), prefix.data, scan_cb, &s);
	if (ret < 0 && ret != -OM_EIO)
		ret = obox_store_error(ou, "list", prefix.data, ret);
	for (size_t i = 0; ret == 0 && i < s.n_found; i++) {
		struct objstore_meta meta = { 0 };
		struct objstore_stat st = { 0 };
		obox_msg_key(ou, s.found[i], &key);
		ret = objstore_head(obox_store(), key.data, &st, &meta);
		if (ret == -OM_ENOTFOUND) {
			ret = 0; /* deleted meanwhile */
		} else if (ret < 0) {
			ret = obox_store_error(ou, "head", key.data, ret);
		} else {
			ret = scan_add(ou, s.found[i], &meta, st.size);
		}
		objstore_meta_free(&meta);
	}
	mail_names_free(s.known, s.n_known);
	mail_names_free(s.found, s.n_found);
	buf_free(&prefix);
	buf_free(&key);
	return ret;
}
