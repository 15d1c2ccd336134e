/* The Ceph RADOS driver: rados://POOL?conf=PATH&id=NAME&namespace=NS
 *
 * One librados cluster handle and one I/O context per store; librados is
 * thread-safe for I/O on a shared ioctx as long as nobody changes its state
 * (namespace, snapshot), which happens only in open.
 *
 * Layout of an object: the data, plus xattrs
 *   "etag"        a random version tag, rewritten by every put; IF_MATCH is a
 *                 cmpxattr on it in the same write op, so it is a real
 *                 compare-and-swap in the OSD;
 *   "meta-names"  the metadata names of the last put, comma-separated;
 *   "meta.<name>" one xattr per metadata entry.
 * A put can't remove the xattrs of an earlier put without a read first (and
 * removing the whole object would drop a lock on it), so "meta-names" says
 * which meta.* xattrs are current.
 *
 * The lock (cls_lock) is in rados-lock.c; the directory catalogs that let
 * list avoid scanning the pool are in rados-catalog.c: put, delete and list
 * keep them in step here. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include <rados/librados.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/objstore-private.h"
#include "objstore/rados-private.h"
#include "objstore/rados-spec.h"

#define RADOS_XATTR_ETAG "etag"
#define RADOS_XATTR_NAMES "meta-names"
#define RADOS_XATTR_META "meta."
/* First read of a get: most mails fit, bigger objects take more reads. */
#define RADOS_FIRST_READ (128 * 1024)
#define RADOS_CHUNK (4 * 1024 * 1024)
/* Below the OSD's osd_max_write_size (90 MiB): a put is one atomic op. */
#define RADOS_PUT_MAX ((size_t)64 * 1024 * 1024)
#define RADOS_PARALLEL_MAX 256
#define RADOS_READ_RETRIES 3
#define RADOS_STAT_BATCH 128


/* librados errors -> objstore errors. */
static int rados_err(int r)
{
	switch (-r) {
	case 0:
		return 0;
	case ENOENT:
		return -OM_ENOTFOUND;
	case EEXIST:
	case ECANCELED:
	case EBUSY:
		return -OM_EEXISTS;
	case ETIMEDOUT:
	case ENOTCONN:
	case ESHUTDOWN:
	case ECONNREFUSED:
	case ECONNRESET:
	case EAGAIN:
	case EINTR:
	case ENOSPC:
	case EDQUOT:
	case ENOMEM:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return -OM_ETEMP;
	case ENAMETOOLONG:
	case EINVAL:
		return -OM_EINVAL;
	default:
		return -OM_EIO;
	}
}

int rados_fail(const char *what, const char *key, int r)
{
	int ret = rados_err(r);
	if (ret != -OM_ENOTFOUND && ret != -OM_EEXISTS)
		log_warn("rados: %s %s: %s", what, key, strerror(-r));
	return ret;
}

/* Open / close */

static int conf_set(rados_t cluster, const char *opt, const char *val, char **error_r)
{
	int r = rados_conf_set(cluster, opt, val);
	if (r < 0)
		objstore_set_error(error_r, "rados: can't set %s=%s: %s", opt, val, strerror(-r));
	return r;
}

/* Bound every wait: librados's defaults wait forever for an OSD (e.g. on a
 * full cluster) and 300 s for the first monitor contact. A value set in
 * ceph.conf wins unless the spec names one. */
static int set_timeouts(rados_t cluster, const struct rados_spec *sp, char **error_r)
{
	static const char *const op_opts[] = { "rados_osd_op_timeout", "rados_mon_op_timeout" };
	char val[32], cur[64];
	for (size_t i = 0; i < 2; i++) {
		if (sp->timeout_s == 0 && rados_conf_get(cluster, op_opts[i], cur, sizeof(cur)) == 0 &&
		    strtod(cur, NULL) > 0)
			continue;
		snprintf(val, sizeof(val), "%u", sp->timeout_s != 0 ? sp->timeout_s : 30);
		if (conf_set(cluster, op_opts[i], val, error_r) < 0)
			return -OM_EINVAL;
	}
	snprintf(val, sizeof(val), "%u", sp->connect_timeout_s != 0 ? sp->connect_timeout_s : 10);
	return conf_set(cluster, "client_mount_timeout", val, error_r) < 0 ? -OM_EINVAL : 0;
}

static int rados_open(const char *spec, struct objstore **store_r, char **error_r)
{
	struct rados_spec sp;
	int ret = rados_spec_parse(spec, &sp, error_r);
	if (ret < 0)
		return ret;
	struct buf name = BUF_INIT;
	if (strncmp(sp.id, "client.", 7) != 0)
		buf_append_str(&name, "client.");
	buf_append_str(&name, sp.id);

	rados_t cluster = NULL;
	rados_ioctx_t io = NULL;
	int r = rados_create2(&cluster, "ceph", buf_cstr(&name), 0);
	if (r < 0) {
		objstore_set_error(error_r, "rados: can't create a client %s: %s", buf_cstr(&name),
				   strerror(-r));
		cluster = NULL;
		ret = -OM_EINVAL;
		goto out;
	}
	/* NULL searches $CEPH_CONF, /etc/ceph/ceph.conf, ~/.ceph/config. */
	r = rados_conf_read_file(cluster, sp.conf);
	if (r < 0 && sp.conf != NULL) {
		objstore_set_error(error_r, "rados: can't read %s: %s", sp.conf, strerror(-r));
		ret = -OM_EINVAL;
		goto out;
	}
	(void)rados_conf_parse_env(cluster, NULL); /* CEPH_ARGS */
	if (sp.keyring != NULL && conf_set(cluster, "keyring", sp.keyring, error_r) < 0) {
		ret = -OM_EINVAL;
		goto out;
	}
	ret = set_timeouts(cluster, &sp, error_r);
	if (ret < 0)
		goto out;
	uint64_t start = objstore_now_us();
	r = rados_connect(cluster);
	if (r < 0) {
		/* Bad credentials or a missing keyring are configuration errors. */
		if (r == -EACCES || r == -EPERM || r == -ENOENT || r == -EINVAL)
			ret = -OM_EINVAL;
		else
			ret = -OM_ETEMP;
		objstore_set_error(error_r, "rados: can't connect as %s (conf %s): %s",
				   buf_cstr(&name), sp.conf != NULL ? sp.conf : "default",
				   strerror(-r));
		goto out;
	}
	r = rados_ioctx_create(cluster, sp.pool, &io);
	if (r < 0) {
		ret = r == -ENOENT ? -OM_EINVAL : rados_err(r);
		objstore_set_error(error_r, "rados: pool %s: %s", sp.pool,
				   r == -ENOENT ? "no such pool" : strerror(-r));
		io = NULL;
		goto out;
	}
	if (sp.ns != NULL)
		rados_ioctx_set_namespace(io, sp.ns);
	log_debug("rados: connected to pool %s as %s in %llu ms", sp.pool, buf_cstr(&name),
		  (unsigned long long)((objstore_now_us() - start) / 1000));

	struct rados_store *s = om_calloc(1, sizeof(*s));
	s->cluster = cluster;
	s->io = io;
	s->cat_mode = sp.catalog == RADOS_SPEC_CAT_BUILD ? RADOS_CAT_BUILD
		      : sp.catalog == RADOS_SPEC_CAT_OFF ? RADOS_CAT_OFF
							 : RADOS_CAT_AUTO;
	s->base.caps = OBJSTORE_CAP_LOCK | OBJSTORE_CAP_COND_PUT | OBJSTORE_CAP_PARALLEL;
	r = rados_catalog_open(s);
	if (r < 0) {
		ret = rados_err(r);
		objstore_set_error(error_r, "rados: pool %s: catalog build failed: %s",
				   sp.pool, strerror(-r));
		rados_catalog_close(s);
		free(s);
		goto out;
	}
	*store_r = &s->base;
	cluster = NULL;
	io = NULL;
	ret = 0;
out:
	if (io != NULL)
		rados_ioctx_destroy(io);
	if (cluster != NULL)
		rados_shutdown(cluster);
	buf_free(&name);
	rados_spec_free(&sp);
	return ret;
}

static void rados_close(struct objstore *store)
{
	struct rados_store *s = rs(store);
	rados_catalog_close(s);
	rados_ioctx_destroy(s->io);
	rados_shutdown(s->cluster);
	free(s);
}

/* put */

static void make_etag(char etag[33])
{
	unsigned char rnd[16];
	static const char hex[] = "0123456789abcdef";
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* Never on Linux >= 3.17; a clock-based tag still changes per put. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(rnd, &ts, sizeof(rnd) < sizeof(ts) ? sizeof(rnd) : sizeof(ts));
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		etag[2 * i] = hex[rnd[i] >> 4];
		etag[2 * i + 1] = hex[rnd[i] & 15];
	}
	etag[32] = '\0';
}

static int rados_put(struct objstore *store, const char *key, const void *data, size_t len,
		     const struct objstore_meta *meta, unsigned flags, const char *if_match,
		     char *etag_r)
{
	struct rados_store *s = rs(store);
	if (len > RADOS_PUT_MAX) {
		log_error("rados: put %s: %zu bytes is over the %zu byte limit of one write", key,
			  len, RADOS_PUT_MAX);
		return -OM_EIO;
	}
	char etag[33];
	make_etag(etag);
	struct buf names = BUF_INIT, xname = BUF_INIT;
	rados_write_op_t op = rados_create_write_op();
	if (op == NULL)
		return -OM_ETEMP;
	if ((flags & OBJSTORE_PUT_IF_ABSENT) != 0)
		rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	if ((flags & OBJSTORE_PUT_IF_MATCH) != 0)
		rados_write_op_cmpxattr(op, RADOS_XATTR_ETAG, LIBRADOS_CMPXATTR_OP_EQ, if_match,
					strlen(if_match));
	rados_write_op_write_full(op, len > 0 ? data : "", len);
	rados_write_op_setxattr(op, RADOS_XATTR_ETAG, etag, strlen(etag));
	/* xattr names are copied into the op when added (librados encodes
	 * them at once), so one scratch buffer serves all entries. */
	size_t n = meta != NULL ? meta->n : 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append_c(&names, ',');
		buf_append_str(&names, meta->names[i]);
		buf_reset(&xname);
		buf_printf(&xname, RADOS_XATTR_META "%s", meta->names[i]);
		rados_write_op_setxattr(op, buf_cstr(&xname), meta->values[i],
					strlen(meta->values[i]));
	}
	rados_write_op_setxattr(op, RADOS_XATTR_NAMES, buf_cstr(&names), names.len);
	/* A plain put enters the key in its catalog while the object is
	 * written (one round trip, not two); a conditional one only after it
	 * succeeded, so a failed precondition leaves no entry behind. Either
	 * way the put succeeds only once both are durable: a crash between
	 * them leaves an unacknowledged object without an entry, or an entry
	 * without an object (list stats every entry and drops it). */
	struct rados_cat_pending cat;
	bool cat_first = flags == 0;
	if (cat_first)
		(void)rados_catalog_put_start(s, key, etag, &cat);
	int r = rados_write_op_operate2(op, s->io, key, NULL, 0);
	rados_release_write_op(op);
	buf_free(&names);
	buf_free(&xname);
	int rc = 0;
	if (cat_first)
		rc = rados_catalog_put_wait(s, &cat, r == 0);
	else if (r == 0)
		rc = rados_catalog_put(s, key, etag);
	if (r < 0) {
		/* IF_MATCH on a missing object: the precondition failed too. */
		if (r == -ENOENT && (flags & OBJSTORE_PUT_IF_MATCH) != 0)
			return -OM_EEXISTS;
		return rados_fail("put", key, r);
	}
	if (rc < 0)
		return rados_fail("put catalog", key, rc);
	if (etag_r != NULL)
		memcpy(etag_r, etag, sizeof(etag));
	return 0;
}

/* Reading: stat + xattrs + the first bytes in one op, the rest in guarded
 * reads (cmpxattr on the etag, so a concurrent put can't splice two
 * versions together). */

/* What an object's xattrs say. */
struct rados_attrs {
	char etag[80];
	struct objstore_meta *meta_r; /* NULL: caller doesn't want metadata */
};

static bool name_listed(const char *names, size_t names_len, const char *name, size_t len)
{
	const char *p = names, *end = names + names_len;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *stop = comma != NULL ? comma : end;
		if ((size_t)(stop - p) == len && memcmp(p, name, len) == 0)
			return true;
		p = stop + 1;
	}
	return false;
}

/* librados gives an empty xattr value as NULL. */
static char *dup_val(const char *v, size_t len)
{
	return v != NULL ? om_strndup(v, len) : om_strdup("");
}

static char *strndup_printable(const char *v, size_t len)
{
	char *s = dup_val(v, len);
	for (char *c = s; *c != '\0'; c++) {
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	}
	return s;
}

/* librados hands xattrs over sorted by name, so "meta-names" comes before
 * the meta.* entries and they are filtered as they come; entries seen
 * before it (no such order promised by the docs) are filtered at the end. */
static void attrs_parse(rados_xattrs_iter_t it, struct rados_attrs *a)
{
	const char *name, *val;
	size_t len;
	struct objstore_meta early;
	char *names = NULL;
	size_t names_len = 0;
	memset(&early, 0, sizeof(early));
	a->etag[0] = '\0';
	while (rados_getxattrs_next(it, &name, &val, &len) == 0 && name != NULL) {
		if (strcmp(name, RADOS_XATTR_ETAG) == 0) {
			if (val != NULL && len < sizeof(a->etag)) {
				memcpy(a->etag, val, len);
				a->etag[len] = '\0';
			}
			continue;
		}
		if (strcmp(name, RADOS_XATTR_NAMES) == 0) {
			free(names);
			names = dup_val(val, len);
			names_len = strlen(names);
			continue;
		}
		if (a->meta_r == NULL ||
		    strncmp(name, RADOS_XATTR_META, sizeof(RADOS_XATTR_META) - 1) != 0 || len > 1024)
			continue;
		const char *mname = name + sizeof(RADOS_XATTR_META) - 1;
		if (names != NULL) {
			if (name_listed(names, names_len, mname, strlen(mname))) {
				char *v = strndup_printable(val, len);
				objstore_meta_set(a->meta_r, mname, v);
				free(v);
			}
		} else if (early.n < OBJSTORE_META_MAX) {
			early.names[early.n] = om_strdup(mname);
			early.values[early.n] = strndup_printable(val, len);
			early.n++;
		}
	}
	/* Without "meta-names" (an object written by another tool) every
	 * meta.* entry counts. */
	for (size_t i = 0; a->meta_r != NULL && i < early.n; i++) {
		if (names == NULL || name_listed(names, names_len, early.names[i],
						 strlen(early.names[i])))
			objstore_meta_set(a->meta_r, early.names[i], early.values[i]);
	}
	objstore_meta_free(&early);
	free(names);
}

/* Delivers bytes to a buf or to a stream sink. */
struct rados_dest {
	struct buf *out;
	int (*sink)(void *ctx, const void *data, size_t len);
	void *ctx;
	size_t out_start;
	uint64_t delivered;
	int sink_ret; /* the sink's non-zero answer, returned as is */
};

/* read_pass's answer when the sink said stop (librados errors are < 0). */
#define RADOS_SINK_STOP 1

/* A read target of `want` bytes: straight into the buf, else scratch. */
static char *dest_space(struct rados_dest *d, struct buf *scratch, size_t want)
{
	struct buf *b = d->out != NULL ? d->out : scratch;
	if (d->out == NULL)
		buf_reset(b);
	buf_reserve(b, want);
	return b->data + b->len;
}

static int dest_commit(struct rados_dest *d, struct buf *scratch, size_t got)
{
	struct buf *b = d->out != NULL ? d->out : scratch;
	b->len += got;
	b->data[b->len] = '\0';
	d->delivered += got;
	if (d->out != NULL || got == 0)
		return 0;
	d->sink_ret = d->sink(d->ctx, scratch->data, got);
	return d->sink_ret != 0 ? RADOS_SINK_STOP : 0;
}

/* One pass of a read; -ECANCELED (raw) when the object changed under us. */
static int read_pass(struct rados_store *s, const char *key, uint64_t offset, uint64_t length,
		     struct rados_dest *d, struct rados_attrs *a, struct objstore_stat *stat_r)
{
	struct buf scratch = BUF_INIT;
	uint64_t size = 0;
	time_t mtime = 0;
	int pr_stat = 0, pr_x = 0, pr_read = 0;
	size_t got = 0;
	rados_xattrs_iter_t it = NULL;
	size_t first = RADOS_FIRST_READ;
	if (length != 0 && length < RADOS_CHUNK)
		first = (size_t)length;
	else if (length != 0)
		first = RADOS_CHUNK;

	rados_read_op_t op = rados_create_read_op();
	if (op == NULL)
		return -ENOMEM;
	char *target = dest_space(d, &scratch, first);
	rados_read_op_stat(op, &size, &mtime, &pr_stat);
	rados_read_op_getxattrs(op, &it, &pr_x);
	rados_read_op_read(op, offset, first, target, &got, &pr_read);
	int r = rados_read_op_operate(op, s->io, key, 0);
	if (r == 0)
		r = pr_stat < 0 ? pr_stat : pr_x < 0 ? pr_x : pr_read;
	if (r == 0 && got > first)
		r = -EIO;
	if (r == 0)
		attrs_parse(it, a);
	if (it != NULL)
		rados_getxattrs_end(it);
	rados_release_read_op(op);
	if (r < 0) {
		buf_free(&scratch);
		return r;
	}
	if (stat_r != NULL) {
		stat_r->size = size;
		stat_r->mtime = (int64_t)mtime;
		memcpy(stat_r->etag, a->etag, sizeof(stat_r->etag));
	}
	uint64_t end = size;
	if (length != 0 && offset < size && size - offset > length)
		end = offset + length;
	uint64_t pos = offset + got;
	r = dest_commit(d, &scratch, got);
	while (r == 0 && pos < end) {
		size_t want = end - pos < RADOS_CHUNK ? (size_t)(end - pos) : RADOS_CHUNK;
		op = rados_create_read_op();
		if (op == NULL) {
			r = -ENOMEM;
			break;
		}
		target = dest_space(d, &scratch, want);
		got = 0;
		pr_read = 0;
		if (a->etag[0] != '\0')
			rados_read_op_cmpxattr(op, RADOS_XATTR_ETAG, LIBRADOS_CMPXATTR_OP_EQ,
					       a->etag, strlen(a->etag));
		rados_read_op_read(op, pos, want, target, &got, &pr_read);
		r = rados_read_op_operate(op, s->io, key, 0);
		rados_release_read_op(op);
		if (r == 0)
			r = pr_read;
		if (r == -ENOENT)
			r = -ECANCELED; /* deleted since the first read */
		if (r == 0 && (got == 0 || got > want))
			r = -ECANCELED; /* shrank: a foreign writer without etag */
		if (r < 0)
			break;
		pos += got;
		r = dest_commit(d, &scratch, got);
	}
	buf_free(&scratch);
	return r;
}

static int read_object(struct rados_store *s, const char *key, uint64_t offset,
		       uint64_t length, struct rados_dest *d, struct objstore_meta *meta_r,
		       struct objstore_stat *stat_r)
{
	int r = -ECANCELED;
	for (int attempt = 0; attempt < RADOS_READ_RETRIES && r == -ECANCELED; attempt++) {
		struct rados_attrs a;
		memset(&a, 0, sizeof(a));
		a.meta_r = meta_r;
		if (meta_r != NULL)
			objstore_meta_free(meta_r);
		if (d->out != NULL)
			buf_truncate(d->out, d->out_start);
		else if (d->delivered > 0 && attempt > 0)
			break; /* a stream can't take back what it got */
		d->delivered = 0;
		r = read_pass(s, key, offset, length, d, &a, stat_r);
	}
	if (r == -ECANCELED) {
		log_warn("rados: get %s: object kept changing while being read", key);
		return -OM_ETEMP;
	}
	if (r == RADOS_SINK_STOP)
		return d->sink_ret;
	return r < 0 ? rados_fail("get", key, r) : 0;
}

static int rados_get(struct objstore *store, const char *key, uint64_t offset, uint64_t length,
		     struct buf *out, struct objstore_meta *meta_r, struct objstore_stat *stat_r)
{
	struct rados_dest d = { .out = out, .out_start = out->len };
	return read_object(rs(store), key, offset, length, &d, meta_r, stat_r);
}

static int rados_get_stream(struct objstore *store, const char *key, uint64_t offset,
			    uint64_t length, int (*sink)(void *ctx, const void *data, size_t len),
			    void *ctx)
{
	struct rados_dest d = { .sink = sink, .ctx = ctx };
	return read_object(rs(store), key, offset, length, &d, NULL, NULL);
}

static int rados_head(struct objstore *store, const char *key, struct objstore_stat *stat_r,
		      struct objstore_meta *meta_r)
{
	struct rados_store *s = rs(store);
	struct rados_attrs a;
	uint64_t size = 0;
	time_t mtime = 0;
	int pr_stat = 0, pr_x = 0;
	rados_xattrs_iter_t it = NULL;
	memset(&a, 0, sizeof(a));
	a.meta_r = meta_r;
	rados_read_op_t op = rados_create_read_op();
	if (op == NULL)
		return -OM_ETEMP;
	rados_read_op_stat(op, &size, &mtime, &pr_stat);
	rados_read_op_getxattrs(op, &it, &pr_x);
	int r = rados_read_op_operate(op, s->io, key, 0);
	if (r == 0)
		r = pr_stat < 0 ? pr_stat : pr_x;
	if (r == 0)
		attrs_parse(it, &a);
	if (it != NULL)
		rados_getxattrs_end(it);
	rados_release_read_op(op);
	if (r < 0)
		return rados_fail("head", key, r);
	if (stat_r != NULL) {
		stat_r->size = size;
		stat_r->mtime = (int64_t)mtime;
		memcpy(stat_r->etag, a.etag, sizeof(stat_r->etag));
	}
	return 0;
}

/* delete: learn the version's etag, remove exactly that version (a put
 * in between makes us look again), then its catalog entry if it still
 * names that version (a put racing us keeps its entry). */
static int rados_del(struct objstore *store, const char *key)
{
	struct rados_store *s = rs(store);
	int r = -ECANCELED;
	char etag[80];
	for (int attempt = 0; attempt < RADOS_READ_RETRIES && r == -ECANCELED; attempt++) {
		etag[0] = '\0';
		r = rados_getxattr(s->io, key, RADOS_XATTR_ETAG, etag, sizeof(etag) - 1);
		if (r == -ENODATA) {
			r = 0; /* written by another tool: no etag */
		} else if (r >= 0) {
			etag[r] = '\0';
			r = 0;
		}
		if (r < 0)
			break;
		rados_write_op_t op = rados_create_write_op();
		if (op == NULL)
			return -OM_ETEMP;
		if (etag[0] != '\0')
			rados_write_op_cmpxattr(op, RADOS_XATTR_ETAG, LIBRADOS_CMPXATTR_OP_EQ, etag,
						strlen(etag));
		rados_write_op_remove(op);
		r = rados_write_op_operate2(op, s->io, key, NULL, 0);
		rados_release_write_op(op);
	}
	if (r < 0)
		return rados_fail("delete", key, r);
	r = rados_catalog_del(s, key, etag);
	return r < 0 ? rados_fail("delete catalog", key, r) : 0;
}

/* list: the keys from the directory catalogs, or (no catalog yet) from a
 * scan of the whole pool (namespace), which RADOS lists in hash order;
 * sorted, then stat'ed in parallel for their sizes (an entry whose object
 * is gone is dropped). */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct stat_slot {
	rados_completion_t comp;
	uint64_t size;
	time_t mtime;
};

/* Sizes of keys[0..n) into sizes[]; UINT64_MAX for a key deleted since the
 * listing. */
static int stat_batch(struct rados_store *s, char **keys, size_t n, uint64_t *sizes)
{
	struct stat_slot slots[RADOS_STAT_BATCH];
	int ret = 0;
	size_t started = 0;
	for (; started < n; started++) {
		struct stat_slot *sl = &slots[started];
		if (rados_aio_create_completion2(NULL, NULL, &sl->comp) < 0) {
			ret = -ENOMEM;
			break;
		}
		int r = rados_aio_stat(s->io, keys[started], sl->comp, &sl->size, &sl->mtime);
		if (r < 0) {
			rados_aio_release(sl->comp);
			ret = r;
			break;
		}
	}
	for (size_t i = 0; i < started; i++) {
		rados_aio_wait_for_complete(slots[i].comp);
		int r = rados_aio_get_return_value(slots[i].comp);
		rados_aio_release(slots[i].comp);
		if (r == -ENOENT)
			sizes[i] = UINT64_MAX;
		else if (r < 0 && ret == 0)
			ret = r;
		else
			sizes[i] = slots[i].size;
	}
	return ret;
}

static int scan_pool(struct rados_store *s, const char *prefix, char ***keys_r, size_t *n_r)
{
	rados_list_ctx_t lc;
	size_t plen = strlen(prefix), n = 0, cap = 0;
	char **keys = NULL;
	atomic_fetch_add(&s->full_scans, 1);
	int r = rados_nobjects_list_open(s->io, &lc);
	if (r < 0)
		return r;
	for (;;) {
		const char *entry;
		size_t elen = 0;
		r = rados_nobjects_list_next2(lc, &entry, NULL, NULL, &elen, NULL, NULL);
		if (r < 0)
			break;
		if (elen < plen || memcmp(entry, prefix, plen) != 0 || memchr(entry, '\0', elen))
			continue;
		if (elen >= 4 && memcmp(entry, ".om.", 4) == 0)
			continue; /* the catalogs and their marker */
		if (n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			keys = om_reallocarray(keys, cap, sizeof(*keys));
		}
		keys[n++] = om_strndup(entry, elen);
	}
	rados_nobjects_list_close(lc);
	if (r != -ENOENT) {
		for (size_t i = 0; i < n; i++)
			free(keys[i]);
		free(keys);
		return r;
	}
	*keys_r = keys;
	*n_r = n;
	return 0;
}

static int rados_list(struct objstore *store, const char *prefix,
		      int (*cb)(void *ctx, const char *key, uint64_t size), void *ctx)
{
	struct rados_store *s = rs(store);
	char **keys = NULL;
	size_t n = 0;
	int r = rados_catalog_usable(s) ? rados_catalog_list(s, prefix, &keys, &n)
					: scan_pool(s, prefix, &keys, &n);
	if (r < 0)
		return rados_fail("list", prefix, r);
	int ret = 0;
	if (n > 1)
		qsort(keys, n, sizeof(*keys), cmp_str);
	uint64_t sizes[RADOS_STAT_BATCH];
	for (size_t i = 0; i < n && ret == 0; i += RADOS_STAT_BATCH) {
		size_t batch = n - i < RADOS_STAT_BATCH ? n - i : RADOS_STAT_BATCH;
		r = stat_batch(s, keys + i, batch, sizes);
		if (r < 0) {
			ret = rados_fail("list stat", keys[i], r);
			break;
		}
		for (size_t j = 0; j < batch && ret == 0; j++) {
			if (sizes[j] != UINT64_MAX)
				ret = cb(ctx, keys[i + j], sizes[j]);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return ret;
}

/* get_many: up to `parallel` aio read ops in flight. Completions arrive on
 * librados threads; they only queue their slot, and the calling thread
 * finishes each (and calls done()) in completion order. */

struct many_slot {
	size_t idx;
	rados_completion_t comp;
	rados_read_op_t op;
	rados_xattrs_iter_t it;
	struct buf data;
	uint64_t size;
	time_t mtime;
	size_t got;
	int pr_stat, pr_x, pr_read;
};

struct many_queue {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	size_t *ring; /* completed slot numbers */
	size_t cap, head, count;
};

struct many_cb_arg {
	struct many_queue *q;
	size_t slot;
};

static void many_complete(rados_completion_t comp, void *arg)
{
	struct many_cb_arg *a = arg;
	struct many_queue *q = a->q;
	(void)comp;
	pthread_mutex_lock(&q->mu);
	q->ring[(q->head + q->count) % q->cap] = a->slot;
	q->count++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

static size_t many_wait(struct many_queue *q)
{
	pthread_mutex_lock(&q->mu);
	while (q->count == 0)
		pthread_cond_wait(&q->cond, &q->mu);
	size_t slot = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->count--;
	pthread_mutex_unlock(&q->mu);
	return slot;
}

static int many_start(struct rados_store *s, const char *key, struct many_slot *sl,
		      struct many_cb_arg *arg)
{
	sl->op = rados_create_read_op();
	if (sl->op == NULL)
		return -ENOMEM;
	if (rados_aio_create_completion2(arg, many_complete, &sl->comp) < 0) {
		rados_release_read_op(sl->op);
		sl->op = NULL;
		return -ENOMEM;
	}
	sl->it = NULL;
	sl->got = 0;
	sl->size = 0;
	sl->pr_stat = sl->pr_x = sl->pr_read = 0;
	buf_reset(&sl->data);
	buf_reserve(&sl->data, RADOS_FIRST_READ);
	rados_read_op_stat(sl->op, &sl->size, &sl->mtime, &sl->pr_stat);
	rados_read_op_getxattrs(sl->op, &sl->it, &sl->pr_x);
	rados_read_op_read(sl->op, 0, RADOS_FIRST_READ, sl->data.data, &sl->got, &sl->pr_read);
	int r = rados_aio_read_op_operate(sl->op, s->io, sl->comp, key, 0);
	if (r < 0) {
		if (sl->it != NULL)
			rados_getxattrs_end(sl->it);
		rados_release_read_op(sl->op);
		rados_aio_release(sl->comp);
		sl->op = NULL;
	}
	return r;
}

/* After the first read: the result, with the rest of a big object read
 * synchronously (rare for mail). */
static int many_finish(struct rados_store *s, const char *key, struct many_slot *sl,
		       struct objstore_meta *meta)
{
	rados_aio_wait_for_complete_and_cb(sl->comp);
	int r = rados_aio_get_return_value(sl->comp);
	if (r == 0)
		r = sl->pr_stat < 0 ? sl->pr_stat : sl->pr_x < 0 ? sl->pr_x : sl->pr_read;
	if (r == 0 && sl->got > RADOS_FIRST_READ)
		r = -EIO;
	struct rados_attrs a;
	memset(&a, 0, sizeof(a));
	a.meta_r = meta;
	if (r == 0)
		attrs_parse(sl->it, &a);
	if (sl->it != NULL)
		rados_getxattrs_end(sl->it);
	rados_release_read_op(sl->op);
	rados_aio_release(sl->comp);
	sl->op = NULL;
	if (r < 0)
		return rados_fail("get", key, r);
	sl->data.len = sl->got;
	sl->data.data[sl->got] = '\0';
	if (sl->size <= sl->got)
		return 0;
	/* Bigger than the first read: read it all again, consistently. */
	objstore_meta_free(meta);
	buf_reset(&sl->data);
	struct rados_dest d = { .out = &sl->data };
	return read_object(s, key, 0, 0, &d, meta, NULL);
}

static int rados_get_many(struct objstore *store, const char *const *keys, size_t n,
			  unsigned parallel,
			  void (*done)(void *ctx, size_t i, int err, const struct buf *data,
				       const struct objstore_meta *meta),
			  void *ctx)
{
	struct rados_store *s = rs(store);
	size_t nslots = parallel > RADOS_PARALLEL_MAX ? RADOS_PARALLEL_MAX : parallel;
	if (nslots > n)
		nslots = n;
	if (nslots == 0)
		return 0;
	struct many_slot *slots = om_calloc(nslots, sizeof(*slots));
	struct many_cb_arg *args = om_calloc(nslots, sizeof(*args));
	size_t *free_slots = om_calloc(nslots, sizeof(*free_slots));
	struct many_queue q = { .cap = nslots };
	q.ring = om_calloc(nslots, sizeof(*q.ring));
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.cond, NULL);
	size_t nfree = nslots;
	for (size_t i = 0; i < nslots; i++) {
		free_slots[i] = nslots - 1 - i;
		args[i].q = &q;
		args[i].slot = i;
	}

	size_t next = 0, inflight = 0;
	while (next < n || inflight > 0) {
		while (next < n && nfree > 0) {
			size_t sn = free_slots[--nfree];
			slots[sn].idx = next;
			int r = many_start(s, keys[next], &slots[sn], &args[sn]);
			if (r < 0) {
				free_slots[nfree++] = sn;
				done(ctx, next, rados_fail("get", keys[next], r), NULL, NULL);
			} else {
				inflight++;
			}
			next++;
		}
		if (inflight == 0)
			continue;
		size_t sn = many_wait(&q);
		inflight--;
		struct many_slot *sl = &slots[sn];
		struct objstore_meta meta;
		memset(&meta, 0, sizeof(meta));
		int err = many_finish(s, keys[sl->idx], sl, &meta);
		done(ctx, sl->idx, err, err == 0 ? &sl->data : NULL, err == 0 ? &meta : NULL);
		objstore_meta_free(&meta);
		if (sl->data.cap > RADOS_CHUNK)
			buf_free(&sl->data); /* don't hold a big object's memory */
		free_slots[nfree++] = sn;
	}

	for (size_t i = 0; i < nslots; i++)
		buf_free(&slots[i].data);
	pthread_mutex_destroy(&q.mu);
	pthread_cond_destroy(&q.cond);
	free(q.ring);
	free(free_slots);
	free(args);
	free(slots);
	return 0;
}

const struct objstore_ops objstore_rados_ops = {
	.name = "rados",
	.open = rados_open,
	.close = rados_close,
	.put = rados_put,
	.get = rados_get,
	.head = rados_head,
	.del = rados_del,
	.list = rados_list,
	.get_stream = rados_get_stream,
	.get_many = rados_get_many,
	.lock = rados_lock,
	.unlock = rados_unlock_key,
	.lock_info = rados_lock_info,
	.lock_holder = rados_lock_holder,
	.lock_break = rados_lock_break,
	.metrics = rados_catalog_metrics,
};
