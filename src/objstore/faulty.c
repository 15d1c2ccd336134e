/* faulty:OPTIONS:<inner> — wraps a store and fails or delays calls, for
 * tests (as Dovecot's fs-randomfail). OPTIONS, comma-separated:
 *   rate=R        fail this fraction (0..1) of calls with -OM_ETEMP
 *   delay=D       sleep D (10ms, 1s, 500us; bare number = ms) before each call
 *   ops=get+put   only these ops (put get head delete list lock); default all
 *   keys=S        only calls whose key (list: prefix) contains S (no ',' or ':')
 *   seed=N        PRNG seed, for repeatable runs
 *   phase=after   do the call, then report failure (the caller can't know
 *                 whether a put happened); default before (nothing done)
 *   mode=count    inject nothing: only the generic counters count
 *   ctl=/path     a file read at most every 100 ms: "fail" = fail all,
 *                 "ok" = fail none, a number = the rate; absent = rate=R
 * Every get_many key is one get decision. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/objstore-private.h"

#define CTL_INTERVAL_US 100000
#define OPTIONS_MAX 1024

struct faulty_store {
	struct objstore base;
	double rate;
	uint64_t delay_us;
	unsigned ops_mask; /* 1 << enum objstore_op */
	char *key_match;   /* keys=: only keys containing this, or NULL */
	bool count_only;
	bool after;
	char *ctl_path;

	pthread_mutex_t mutex; /* rng and the ctl cache */
	uint64_t rng;
	bool ctl_valid;
	double ctl_rate;
	uint64_t ctl_checked_us;
	atomic_uint_fast64_t injected[OBJSTORE_OP_COUNT];
};

static const char *const op_names[OBJSTORE_OP_COUNT] = {
	"put", "get", "head", "delete", "list", "lock",
};

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: good enough and tiny */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void ctl_refresh(struct faulty_store *fs)
{
	uint64_t now = objstore_now_us();
	if (fs->ctl_checked_us != 0 && now - fs->ctl_checked_us < CTL_INTERVAL_US)
		return;
	fs->ctl_checked_us = now;
	fs->ctl_valid = false;
	int fd = open(fs->ctl_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char text[64];
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ' || text[n - 1] == '\r'))
		n--;
	text[n] = '\0';
	if (strcmp(text, "fail") == 0) {
		fs->ctl_rate = 1.0;
	} else if (strcmp(text, "ok") == 0) {
		fs->ctl_rate = 0.0;
	} else {
		char *end;
		double r = strtod(text, &end);
		if (end == text || *end != '\0' || !(r >= 0.0 && r <= 1.0))
			return;
		fs->ctl_rate = r;
	}
	fs->ctl_valid = true;
}

/* Delay, then decide whether this call of op on key fails. */
static bool inject(struct faulty_store *fs, enum objstore_op op, const char *key)
{
	if (fs->count_only || (fs->ops_mask & (1u << op)) == 0)
		return false;
	if (fs->key_match != NULL && (key == NULL || strstr(key, fs->key_match) == NULL))
		return false;
	if (fs->delay_us > 0) {
		struct timespec ts = { (time_t)(fs->delay_us / 1000000),
				       (long)(fs->delay_us % 1000000) * 1000 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_lock(&fs->mutex);
	double rate = fs->rate;
	if (fs->ctl_path != NULL) {
		ctl_refresh(fs);
		if (fs->ctl_valid)
			rate = fs->ctl_rate;
	}
	bool fail = rate >= 1.0 ||
		    (rate > 0.0 && (double)(rng_next(&fs->rng) >> 11) * 0x1.0p-53 < rate);
	pthread_mutex_unlock(&fs->mutex);
	if (fail)
		atomic_fetch_add_explicit(&fs->injected[op], 1, memory_order_relaxed);
	return fail;
}

#define FAULTY(store) ((struct faulty_store *)(store))

/* Before-phase faults skip the call; after-phase ones make it and lie. */
#define WRAP(op, key, call)                                     \
	do {                                                    \
		struct faulty_store *fs_ = FAULTY(store);       \
		bool fail_ = inject(fs_, op, key);              \
		if (fail_ && !fs_->after)                       \
			return -OM_ETEMP;                       \
		int ret_ = (call);                              \
		return fail_ ? -OM_ETEMP : ret_;                \
	} while (0)

static int faulty_put(struct objstore *store, const char *key, const void *data, size_t len,
		      const struct objstore_meta *meta, unsigned flags, const char *if_match,
		      char *etag_r)
{
	WRAP(OBJSTORE_OP_PUT, key,
	     objstore_put(store->inner, key, data, len, meta, flags, if_match, etag_r));
}

static int faulty_get(struct objstore *store, const char *key, uint64_t offset, uint64_t length,
		      struct buf *out, struct objstore_meta *meta_r, struct objstore_stat *stat_r)
{
	WRAP(OBJSTORE_OP_GET, key,
	     objstore_get(store->inner, key, offset, length, out, meta_r, stat_r));
}

static int faulty_get_stream(struct objstore *store, const char *key, uint64_t offset,
			     uint64_t length, int (*sink)(void *ctx, const void *data, size_t len),
			     void *ctx)
{
	WRAP(OBJSTORE_OP_GET, key, objstore_get_stream(store->inner, key, offset, length, sink, ctx));
}

static int faulty_head(struct objstore *store, const char *key, struct objstore_stat *stat_r,
		       struct objstore_meta *meta_r)
{
	WRAP(OBJSTORE_OP_HEAD, key, objstore_head(store->inner, key, stat_r, meta_r));
}

static int faulty_del(struct objstore *store, const char *key)
{
	WRAP(OBJSTORE_OP_DELETE, key, objstore_delete(store->inner, key));
}

static int faulty_list(struct objstore *store, const char *prefix,
		       int (*cb)(void *ctx, const char *key, uint64_t size), void *ctx)
{
	WRAP(OBJSTORE_OP_LIST, prefix, objstore_list(store->inner, prefix, cb, ctx));
}

static int faulty_lock(struct objstore *store, const char *key, const char *owner, unsigned ttl)
{
	WRAP(OBJSTORE_OP_LOCK, key, objstore_lock(store->inner, key, owner, ttl));
}

static int faulty_unlock(struct objstore *store, const char *key, const char *owner)
{
	WRAP(OBJSTORE_OP_LOCK, key, objstore_unlock(store->inner, key, owner));
}

static int faulty_lock_holder(struct objstore *store, const char *key,
			      struct objstore_lock_holder *h_r)
{
	WRAP(OBJSTORE_OP_LOCK, key, objstore_lock_holder(store->inner, key, h_r));
}

static int faulty_lock_break(struct objstore *store, const char *key,
			     const struct objstore_lock_holder *h, const char *owner, unsigned ttl)
{
	WRAP(OBJSTORE_OP_LOCK, key, objstore_lock_break(store->inner, key, h, owner, ttl));
}

static int faulty_lock_info(struct objstore *store, const char *key, char *owner_r,
			    size_t owner_size, int64_t *expiry_r)
{
	WRAP(OBJSTORE_OP_LOCK, key, objstore_lock_info(store->inner, key, owner_r, owner_size, expiry_r));
}

struct many_ctx {
	void (*done)(void *ctx, size_t i, int err, const struct buf *data,
		     const struct objstore_meta *meta);
	void *ctx;
	const size_t *idx;
	const bool *fail_after;
};

static void many_done(void *ctx, size_t i, int err, const struct buf *data,
		      const struct objstore_meta *meta)
{
	struct many_ctx *mc = ctx;
	if (mc->fail_after[i])
		mc->done(mc->ctx, mc->idx[i], -OM_ETEMP, NULL, NULL);
	else
		mc->done(mc->ctx, mc->idx[i], err, data, meta);
}

static int faulty_get_many(struct objstore *store, const char *const *keys, size_t n,
			   unsigned parallel,
			   void (*done)(void *ctx, size_t i, int err, const struct buf *data,
					const struct objstore_meta *meta),
			   void *ctx)
{
	struct faulty_store *fs = FAULTY(store);
	const char **pass = om_calloc(n, sizeof(*pass));
	size_t *idx = om_calloc(n, sizeof(*idx));
	bool *fail_after = om_calloc(n, sizeof(*fail_after));
	size_t npass = 0;
	for (size_t i = 0; i < n; i++) {
		bool fail = inject(fs, OBJSTORE_OP_GET, keys[i]);
		if (fail && !fs->after) {
			done(ctx, i, -OM_ETEMP, NULL, NULL);
			continue;
		}
		fail_after[npass] = fail;
		idx[npass] = i;
		pass[npass++] = keys[i];
	}
	struct many_ctx mc = { done, ctx, idx, fail_after };
	int ret = npass == 0 ? 0
			     : objstore_get_many(store->inner, pass, npass, parallel, many_done, &mc);
	free(pass);
	free(idx);
	free(fail_after);
	return ret;
}

static void faulty_metrics(const struct objstore *store, struct buf *out)
{
	const struct faulty_store *fs = (const struct faulty_store *)store;
	buf_append_str(out, "# HELP objmail_faulty_injected_total Failures injected by the faulty driver.\n"
			    "# TYPE objmail_faulty_injected_total counter\n");
	for (int op = 0; op < OBJSTORE_OP_COUNT; op++) {
		buf_printf(out, "objmail_faulty_injected_total{op=\"%s\"} %llu\n", op_names[op],
			   (unsigned long long)atomic_load(&fs->injected[op]));
	}
}

static int parse_ops(const char *s, size_t len, unsigned *mask_r)
{
	unsigned mask = 0;
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && s[j] != '+')
			j++;
		int found = -1;
		for (int op = 0; op < OBJSTORE_OP_COUNT; op++) {
			if (strlen(op_names[op]) == j - i && memcmp(s + i, op_names[op], j - i) == 0)
				found = op;
		}
		if (found < 0)
			return -1;
		mask |= 1u << found;
		i = j + 1;
	}
	*mask_r = mask;
	return mask == 0 ? -1 : 0;
}

static int parse_option(struct faulty_store *fs, const char *opt, size_t len, char **error_r)
{
	const char *eq = memchr(opt, '=', len);
	if (eq == NULL) {
		objstore_set_error(error_r, "faulty: option \"%.*s\" needs a value", (int)len, opt);
		return -1;
	}
	size_t nlen = (size_t)(eq - opt);
	const char *v = eq + 1;
	size_t vlen = len - nlen - 1;
	char *value = om_strndup(v, vlen);
	int ret = 0;
	unsigned long long u;
	if (nlen == 4 && memcmp(opt, "rate", 4) == 0) {
		char *end;
		fs->rate = strtod(value, &end);
		if (vlen == 0 || *end != '\0' || !(fs->rate >= 0.0 && fs->rate <= 1.0))
			ret = -1;
	} else if (nlen == 5 && memcmp(opt, "delay", 5) == 0) {
		if (!objstore_parse_duration_us(v, vlen, &fs->delay_us) || fs->delay_us > 60000000)
			ret = -1;
	} else if (nlen == 3 && memcmp(opt, "ops", 3) == 0) {
		ret = parse_ops(v, vlen, &fs->ops_mask);
	} else if (nlen == 4 && memcmp(opt, "seed", 4) == 0) {
		if (om_parse_u64(v, vlen, &u))
			fs->rng = u;
		else
			ret = -1;
	} else if (nlen == 5 && memcmp(opt, "phase", 5) == 0) {
		if (strcmp(value, "after") == 0)
			fs->after = true;
		else if (strcmp(value, "before") != 0)
			ret = -1;
	} else if (nlen == 4 && memcmp(opt, "mode", 4) == 0) {
		if (strcmp(value, "count") == 0)
			fs->count_only = true;
		else if (strcmp(value, "fail") != 0)
			ret = -1;
	} else if (nlen == 4 && memcmp(opt, "keys", 4) == 0 && vlen > 0) {
		free(fs->key_match);
		fs->key_match = om_strdup(value);
	} else if (nlen == 3 && memcmp(opt, "ctl", 3) == 0 && vlen > 0) {
		free(fs->ctl_path);
		fs->ctl_path = om_strdup(value);
	} else {
		ret = -1;
	}
	if (ret < 0)
		objstore_set_error(error_r, "faulty: bad option \"%.*s\"", (int)len, opt);
	free(value);
	return ret;
}

static void faulty_free(struct faulty_store *fs)
{
	pthread_mutex_destroy(&fs->mutex);
	free(fs->ctl_path);
	free(fs->key_match);
	free(fs);
}

static int faulty_open(const char *spec, struct objstore **store_r, char **error_r)
{
	const char *opts = spec + strlen("faulty:");
	const char *colon = strchr(opts, ':');
	if (colon == NULL || (size_t)(colon - opts) > OPTIONS_MAX) {
		objstore_set_error(error_r, "faulty: expected faulty:OPTIONS:<inner spec>");
		return -OM_EINVAL;
	}
	struct faulty_store *fs = om_calloc(1, sizeof(*fs));
	pthread_mutex_init(&fs->mutex, NULL);
	fs->ops_mask = (1u << OBJSTORE_OP_COUNT) - 1;
	fs->rng = (uint64_t)objstore_now_us() ^ ((uint64_t)getpid() << 32);
	const char *p = opts;
	while (p < colon) {
		const char *comma = memchr(p, ',', (size_t)(colon - p));
		const char *end = comma != NULL ? comma : colon;
		if (end > p && parse_option(fs, p, (size_t)(end - p), error_r) < 0) {
			faulty_free(fs);
			return -OM_EINVAL;
		}
		p = end + 1;
	}
	int ret = objstore_open(colon + 1, &fs->base.inner, error_r);
	if (ret < 0) {
		faulty_free(fs);
		return ret;
	}
	fs->base.caps = objstore_caps(fs->base.inner);
	struct buf d = BUF_INIT;
	buf_printf(&d, "faulty:%.*s:%s", (int)(colon - opts), opts,
		   objstore_describe(fs->base.inner));
	fs->base.describe = buf_steal(&d);
	*store_r = &fs->base;
	return 0;
}

static void faulty_close(struct objstore *store)
{
	faulty_free(FAULTY(store));
}

const struct objstore_ops objstore_faulty_ops = {
	.name = "faulty",
	.open = faulty_open,
	.close = faulty_close,
	.put = faulty_put,
	.get = faulty_get,
	.head = faulty_head,
	.del = faulty_del,
	.list = faulty_list,
	.get_stream = faulty_get_stream,
	.get_many = faulty_get_many,
	.lock = faulty_lock,
	.unlock = faulty_unlock,
	.lock_info = faulty_lock_info,
	.lock_holder = faulty_lock_holder,
	.lock_break = faulty_lock_break,
	.metrics = faulty_metrics,
};
