/* LIBS: om_objstore om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "objstore-conformance.c"

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <ftw.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include "objstore/objstore-private.h"

static char *g_dir; /* a scratch directory for the non-conformance tests */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct objstore *open_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct objstore *open_ok(const char *fmt, ...)
{
	struct buf spec = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&spec, fmt, ap);
	va_end(ap);
	struct objstore *s = NULL;
	char *error = NULL;
	int ret = objstore_open(spec.data, &s, &error);
	if (ret < 0)
		fprintf(stderr, "open %s: %s\n", spec.data, error);
	assert_int_equal(ret, 0);
	free(error);
	buf_free(&spec);
	return s;
}

static int count_cb(void *ctx, const char *key, uint64_t size)
{
	(void)key;
	(void)size;
	(*(int *)ctx)++;
	return 0;
}

static void many_count_done(void *ctx, size_t i, int err, const struct buf *data,
			    const struct objstore_meta *meta)
{
	(void)i;
	(void)data;
	(void)meta;
	int *errs = ctx;
	if (err == -OM_ETEMP)
		(*errs)++;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* faulty */

static void test_faulty_rate1(void **state)
{
	(void)state;
	struct objstore *s = open_ok("faulty:rate=1:file:%s/f1", g_dir);
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_put(s, "k", "x", 1, NULL, 0, NULL, NULL), -OM_ETEMP);
	assert_int_equal(objstore_get(s, "k", 0, 0, &b, NULL, NULL), -OM_ETEMP);
	assert_int_equal(objstore_head(s, "k", NULL, NULL), -OM_ETEMP);
	assert_int_equal(objstore_delete(s, "k"), -OM_ETEMP);
	int n = 0;
	assert_int_equal(objstore_list(s, "", count_cb, &n), -OM_ETEMP);
	assert_int_equal(objstore_lock(s, "lease", "me", 10), -OM_ETEMP);
	assert_int_equal(objstore_unlock(s, "lease", "me"), -OM_ETEMP);
	const char *keys[] = { "a", "b", "c" };
	int errs = 0;
	assert_int_equal(objstore_get_many(s, keys, 3, 2, many_count_done, &errs), 0);
	assert_int_equal(errs, 3);
	/* nothing reached the inner store */
	struct objstore_counters c;
	const char *driver;
	assert_true(objstore_get_counters(s, 1, &c, &driver));
	assert_string_equal(driver, "file");
	for (int op = 0; op < OBJSTORE_OP_COUNT; op++)
		assert_int_equal(c.requests[op], 0);
	assert_true(objstore_get_counters(s, 0, &c, &driver));
	assert_string_equal(driver, "faulty");
	assert_int_equal(c.errors[OBJSTORE_OP_GET], 4);
	assert_false(objstore_get_counters(s, 2, &c, &driver));
	struct buf m = BUF_INIT;
	objstore_metrics(s, &m);
	assert_non_null(strstr(m.data, "objmail_faulty_injected_total{op=\"get\"} 4\n"));
	assert_non_null(strstr(m.data, "objmail_objstore_requests_total{driver=\"faulty\",op=\"put\",result=\"temp\"} 1\n"));
	buf_free(&m);
	buf_free(&b);
	objstore_close(s);
}

static void test_faulty_ops_delay_phase(void **state)
{
	(void)state;
	/* only gets fail; puts pass */
	struct objstore *s = open_ok("faulty:rate=1,ops=get+head:file:%s/f2", g_dir);
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_put(s, "k", "x", 1, NULL, 0, NULL, NULL), 0);
	assert_int_equal(objstore_get(s, "k", 0, 0, &b, NULL, NULL), -OM_ETEMP);
	assert_int_equal(objstore_head(s, "k", NULL, NULL), -OM_ETEMP);
	assert_int_equal(objstore_delete(s, "k"), 0);
	objstore_close(s);

	/* phase=after: the put happens although the caller is told it failed */
	s = open_ok("faulty:rate=1,ops=put,phase=after:file:%s/f2", g_dir);
	assert_int_equal(objstore_put(s, "k2", "yes", 3, NULL, 0, NULL, NULL), -OM_ETEMP);
	assert_int_equal(objstore_get(s, "k2", 0, 0, &b, NULL, NULL), 0);
	assert_string_equal(b.data, "yes");
	objstore_close(s);

	/* delay */
	s = open_ok("faulty:rate=0,delay=30ms:file:%s/f2", g_dir);
	uint64_t start = objstore_now_us();
	assert_int_equal(objstore_head(s, "k2", NULL, NULL), 0);
	assert_true(objstore_now_us() - start >= 30000);
	objstore_close(s);

	/* mode=count injects nothing */
	s = open_ok("faulty:rate=1,mode=count:file:%s/f2", g_dir);
	assert_int_equal(objstore_head(s, "k2", NULL, NULL), 0);
	objstore_close(s);

	/* a seeded half rate fails some but not all */
	s = open_ok("faulty:rate=0.5,seed=42:file:%s/f2", g_dir);
	int fails = 0;
	for (int i = 0; i < 200; i++)
		fails += objstore_head(s, "k2", NULL, NULL) == -OM_ETEMP;
	assert_true(fails > 50 && fails < 150);
	assert_non_null(strstr(objstore_describe(s), "faulty:rate=0.5,seed=42:file:"));
	objstore_close(s);
	buf_free(&b);

	static const char *const bad[] = {
		"faulty:rate=2:file:/tmp", "faulty:rate=x:file:/tmp", "faulty:ops=foo:file:/tmp",
		"faulty:delay=abc:file:/tmp", "faulty:rate=0", "faulty:bogus=1:file:/tmp",
		"faulty:rate=0:nosuch:/x", "faulty:phase=sometimes:file:/tmp",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *error = NULL;
		assert_int_equal(objstore_open(bad[i], &s, &error), -OM_EINVAL);
		assert_non_null(error);
		free(error);
	}
}

static void test_faulty_ctl(void **state)
{
	(void)state;
	struct buf ctl = BUF_INIT;
	buf_printf(&ctl, "%s/ctl", g_dir);
	unlink(ctl.data);
	struct objstore *s = open_ok("faulty:rate=0,ctl=%s:file:%s/f3", ctl.data, g_dir);
	assert_int_equal(objstore_put(s, "k", "x", 1, NULL, 0, NULL, NULL), 0);
	write_file(ctl.data, "fail\n");
	sleep_ms(150);
	assert_int_equal(objstore_head(s, "k", NULL, NULL), -OM_ETEMP);
	assert_int_equal(objstore_put(s, "k", "x", 1, NULL, 0, NULL, NULL), -OM_ETEMP);
	write_file(ctl.data, "ok");
	sleep_ms(150);
	assert_int_equal(objstore_head(s, "k", NULL, NULL), 0);
	write_file(ctl.data, "1");
	sleep_ms(150);
	assert_int_equal(objstore_head(s, "k", NULL, NULL), -OM_ETEMP);
	unlink(ctl.data); /* back to rate=0 */
	sleep_ms(150);
	assert_int_equal(objstore_head(s, "k", NULL, NULL), 0);
	objstore_close(s);
	buf_free(&ctl);
}

static char *make_tmpdir(const char *tag)
{
	struct buf b = BUF_INIT;
	const char *base = getenv("TMPDIR");
	buf_printf(&b, "%s/om-objstore-%s-XXXXXX", base != NULL ? base : "/tmp", tag);
	if (mkdtemp(b.data) == NULL)
		abort();
	return buf_steal(&b);
}

static void rm_rf(const char *dir)
{
	struct buf cmd = BUF_INIT;
	buf_printf(&cmd, "rm -rf '%s'", dir);
	if (system(cmd.data) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	buf_free(&cmd);
}

/* fscache */

static uint64_t g_du;

static int du_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		g_du += (uint64_t)st->st_size;
	return 0;
}

static uint64_t dir_bytes(const char *dir)
{
	g_du = 0;
	assert_int_equal(nftw(dir, du_cb, 16, FTW_PHYS), 0);
	return g_du;
}

/* Is key's entry file in the cache directory? (without touching the LRU) */
static bool cached(const char *cache_dir, const char *key)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)key, strlen(key), md);
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/%02x/", cache_dir, md[0]);
	for (int i = 0; i < 16; i++)
		buf_printf(&path, "%02x", md[i]);
	bool ok = access(path.data, F_OK) == 0;
	buf_free(&path);
	return ok;
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 9));
}

static void test_fscache_bound(void **state)
{
	(void)state;
	const uint64_t limit = 5 * 1024 * 1024;
	struct buf cdir = BUF_INIT;
	buf_printf(&cdir, "%s/c-bound", g_dir);
	struct objstore *s = open_ok("fscache:5M:%s:file:%s/s-bound", cdir.data, g_dir);
	unsigned char *data = malloc(7 * 1024 * 1024);
	char key[64];
	uint64_t total = 0;
	int n = 0;
	/* 50 MB through a 5 MB cache, in objects of 100 KB .. 1 MB */
	while (total < 50 * 1024 * 1024) {
		size_t len = 100 * 1024 + (size_t)((n * 7919) % 900) * 1024;
		fill_pattern(data, len, (unsigned)n);
		snprintf(key, sizeof(key), "obj/%04d", n);
		assert_int_equal(objstore_put(s, key, data, len, NULL, 0, NULL, NULL), 0);
		assert_true(dir_bytes(cdir.data) <= limit);
		total += len;
		n++;
	}
	/* read them back in a scattered order */
	for (int i = 0; i < 2 * n; i++) {
		int k = (i * 37) % n;
		size_t len = 100 * 1024 + (size_t)((k * 7919) % 900) * 1024;
		fill_pattern(data, len, (unsigned)k);
		snprintf(key, sizeof(key), "obj/%04d", k);
		struct buf b = BUF_INIT;
		assert_int_equal(objstore_get(s, key, 0, 0, &b, NULL, NULL), 0);
		assert_int_equal(b.len, len);
		assert_memory_equal(b.data, data, len);
		buf_free(&b);
		assert_true(dir_bytes(cdir.data) <= limit);
	}
	/* bigger than the cache: served, never cached */
	fill_pattern(data, 6 * 1024 * 1024, 999);
	assert_int_equal(objstore_put(s, "huge", data, 6 * 1024 * 1024, NULL, 0, NULL, NULL), 0);
	assert_false(cached(cdir.data, "huge"));
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(s, "huge", 0, 0, &b, NULL, NULL), 0);
	assert_int_equal(b.len, 6 * 1024 * 1024);
	assert_memory_equal(b.data, data, b.len);
	assert_false(cached(cdir.data, "huge"));
	buf_reset(&b);
	assert_int_equal(objstore_get_stream(s, "huge", 0, 0, stream_sink, &b), 0);
	assert_int_equal(b.len, 6 * 1024 * 1024);
	buf_free(&b);
	assert_true(dir_bytes(cdir.data) <= limit);

	struct objstore_counters c;
	assert_true(objstore_get_counters(s, 0, &c, NULL));
	assert_int_equal(c.cache_limit, limit);
	assert_int_equal(c.cache_bytes, dir_bytes(cdir.data));
	assert_true(c.cache_evictions > 0);
	assert_true(c.cache_hits + c.cache_misses >= (uint64_t)(2 * n));
	objstore_close(s);
	free(data);
	buf_free(&cdir);
}

static void put_n(struct objstore *s, const char *key, size_t len)
{
	unsigned char data[4000];
	fill_pattern(data, len, (unsigned)key[0]);
	assert_int_equal(objstore_put(s, key, data, len, NULL, 0, NULL, NULL), 0);
}

static void get_check(struct objstore *s, const char *key, size_t len)
{
	unsigned char data[4000];
	fill_pattern(data, len, (unsigned)key[0]);
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(s, key, 0, 0, &b, NULL, NULL), 0);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.data, data, len);
	buf_free(&b);
}

static void test_fscache_lru_restart(void **state)
{
	(void)state;
	struct buf cdir = BUF_INIT;
	buf_printf(&cdir, "%s/c-lru", g_dir);
	/* room for three 3000-byte objects (plus headers), not four */
	const char *fmt = "fscache:10000:%s:file:%s/s-lru";
	struct objstore *s = open_ok(fmt, cdir.data, g_dir);
	put_n(s, "a", 3000);
	put_n(s, "b", 3000);
	put_n(s, "c", 3000);
	assert_true(cached(cdir.data, "a") && cached(cdir.data, "b") && cached(cdir.data, "c"));
	get_check(s, "a", 3000); /* a is now the most recent */
	put_n(s, "d", 3000);
	assert_false(cached(cdir.data, "b"));
	assert_true(cached(cdir.data, "a") && cached(cdir.data, "c") && cached(cdir.data, "d"));
	objstore_close(s);

	/* restart: the order is c < a < d */
	s = open_ok(fmt, cdir.data, g_dir);
	struct objstore_counters c;
	assert_true(objstore_get_counters(s, 0, &c, NULL));
	assert_int_equal(c.cache_bytes, dir_bytes(cdir.data));
	assert_int_equal(c.cache_hits, 0);
	put_n(s, "e", 3000);
	assert_false(cached(cdir.data, "c"));
	assert_true(cached(cdir.data, "a") && cached(cdir.data, "d") && cached(cdir.data, "e"));
	get_check(s, "a", 3000); /* hit: order d < e < a */
	get_check(s, "b", 3000); /* miss: fetched, cached, evicts d */
	assert_false(cached(cdir.data, "d"));
	assert_true(cached(cdir.data, "b"));
	assert_true(objstore_get_counters(s, 0, &c, NULL));
	assert_int_equal(c.cache_hits, 1);
	assert_int_equal(c.cache_misses, 1);
	assert_int_equal(c.cache_evictions, 2);
	objstore_close(s);

	/* a smaller SIZE at restart evicts down to it, oldest first */
	s = open_ok("fscache:7000:%s:file:%s/s-lru", cdir.data, g_dir);
	assert_true(dir_bytes(cdir.data) <= 7000);
	assert_false(cached(cdir.data, "e"));
	assert_true(cached(cdir.data, "b"));
	objstore_close(s);
	buf_free(&cdir);
}

static void test_fscache_hits_without_inner(void **state)
{
	(void)state;
	struct buf ctl = BUF_INIT, cdir = BUF_INIT;
	buf_printf(&ctl, "%s/ctl-cache", g_dir);
	buf_printf(&cdir, "%s/c-down", g_dir);
	write_file(ctl.data, "ok");
	struct objstore *s = open_ok("fscache:1M:%s:faulty:rate=0,ctl=%s:file:%s/s-down",
				     cdir.data, ctl.data, g_dir);
	struct objstore_meta m = { 0 };
	objstore_meta_set(&m, "guid", "abc");
	char etag[80];
	assert_int_equal(objstore_put(s, "x", "0123456789", 10, &m, 0, NULL, etag), 0);
	objstore_meta_free(&m);
	assert_int_equal(objstore_put(s, "y", "yy", 2, NULL, 0, NULL, NULL), 0);
	assert_int_equal(objstore_delete(s, "y"), 0);
	assert_false(cached(cdir.data, "y"));

	write_file(ctl.data, "fail");
	sleep_ms(150);
	struct buf b = BUF_INIT;
	struct objstore_stat st;
	assert_int_equal(objstore_get(s, "x", 2, 3, &b, &m, &st), 0);
	assert_string_equal(b.data, "234");
	assert_string_equal(st.etag, etag);
	assert_int_equal(st.size, 10);
	assert_string_equal(objstore_meta_get(&m, "guid"), "abc");
	objstore_meta_free(&m);
	buf_reset(&b);
	assert_int_equal(objstore_get_stream(s, "x", 5, 0, stream_sink, &b), 0);
	assert_string_equal(b.data, "56789");
	const char *keys[] = { "x", "z" };
	int errs = 0;
	assert_int_equal(objstore_get_many(s, keys, 2, 2, many_count_done, &errs), 0);
	assert_int_equal(errs, 1); /* z is not cached and the inner store is down */
	assert_int_equal(objstore_get(s, "z", 0, 0, &b, NULL, NULL), -OM_ETEMP);
	assert_int_equal(objstore_head(s, "x", NULL, NULL), -OM_ETEMP);
	/* a failed put leaves no cached copy */
	assert_int_equal(objstore_put(s, "x", "new", 3, NULL, 0, NULL, NULL), -OM_ETEMP);
	assert_false(cached(cdir.data, "x"));

	write_file(ctl.data, "ok");
	sleep_ms(150);
	buf_reset(&b);
	assert_int_equal(objstore_get(s, "x", 0, 0, &b, NULL, NULL), 0); /* miss, refetched */
	assert_string_equal(b.data, "0123456789");
	assert_true(cached(cdir.data, "x"));

	struct objstore_counters c;
	const char *driver;
	assert_true(objstore_get_counters(s, 0, &c, &driver));
	assert_string_equal(driver, "fscache");
	assert_int_equal(c.cache_hits, 3);
	assert_int_equal(c.cache_misses, 3);
	assert_true(objstore_get_counters(s, 1, &c, &driver));
	assert_string_equal(driver, "faulty");
	assert_true(objstore_get_counters(s, 2, &c, &driver));
	assert_string_equal(driver, "file");
	struct buf metrics = BUF_INIT;
	objstore_metrics(s, &metrics);
	assert_non_null(strstr(metrics.data, "objmail_fscache_hits_total 3\n"));
	assert_non_null(strstr(metrics.data, "objmail_fscache_misses_total 3\n"));
	assert_non_null(strstr(metrics.data, "objmail_fscache_limit_bytes 1048576\n"));
	assert_non_null(strstr(metrics.data, "driver=\"file\""));
	buf_free(&metrics);
	buf_free(&b);
	objstore_close(s);
	buf_free(&ctl);
	buf_free(&cdir);
}

#define CONC_THREADS 6
#define CONC_LEN (150 * 1000)

static struct objstore *g_conc;

static void *conc_thread(void *p)
{
	long id = (long)p;
	unsigned char *data = malloc(CONC_LEN);
	for (int i = 0; i < 40; i++) {
		struct buf b = BUF_INIT;
		if (i % 5 == (int)id % 5) {
			memset(data, 'a' + (int)id, CONC_LEN);
			if (objstore_put(g_conc, "same", data, CONC_LEN, NULL, 0, NULL, NULL) != 0)
				fail_msg("put failed");
		}
		if (objstore_get(g_conc, i % 2 ? "same" : "other", 0, 0, &b, NULL, NULL) != 0)
			fail_msg("get failed");
		if (b.len != CONC_LEN)
			fail_msg("torn read: %zu bytes", b.len);
		for (size_t j = 1; j < b.len; j++) {
			if (b.data[j] != b.data[0])
				fail_msg("mixed content at %zu", j);
		}
		buf_free(&b);
	}
	free(data);
	return NULL;
}

static void test_fscache_concurrent(void **state)
{
	(void)state;
	g_conc = open_ok("fscache:1M:%s/c-conc:file:%s/s-conc", g_dir, g_dir);
	unsigned char *data = malloc(CONC_LEN);
	memset(data, 'z', CONC_LEN);
	assert_int_equal(objstore_put(g_conc, "same", data, CONC_LEN, NULL, 0, NULL, NULL), 0);
	assert_int_equal(objstore_put(g_conc, "other", data, CONC_LEN, NULL, 0, NULL, NULL), 0);
	free(data);
	pthread_t th[CONC_THREADS];
	for (long i = 0; i < CONC_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, conc_thread, (void *)i), 0);
	for (int i = 0; i < CONC_THREADS; i++)
		pthread_join(th[i], NULL);
	/* the cached copy matches the store */
	struct buf cached_copy = BUF_INIT, truth = BUF_INIT;
	assert_int_equal(objstore_get(g_conc, "same", 0, 0, &cached_copy, NULL, NULL), 0);
	assert_int_equal(objstore_get(g_conc->inner, "same", 0, 0, &truth, NULL, NULL), 0);
	assert_int_equal(cached_copy.len, truth.len);
	assert_memory_equal(cached_copy.data, truth.data, truth.len);
	buf_free(&cached_copy);
	buf_free(&truth);
	objstore_close(g_conc);
}

static struct objstore *g_bound_store;
static atomic_int g_bound_running;

static void *bound_writer(void *p)
{
	long id = (long)p;
	unsigned char *data = malloc(400 * 1024);
	for (int i = 0; i < 30; i++) {
		size_t len = 200 * 1024 + (size_t)((i * 37 + id * 11) % 200) * 1024;
		char key[32];
		snprintf(key, sizeof(key), "t%ld/%d", id, i);
		fill_pattern(data, len, (unsigned)(id * 100 + i));
		if (objstore_put(g_bound_store, key, data, len, NULL, 0, NULL, NULL) != 0)
			fail_msg("put failed");
		snprintf(key, sizeof(key), "t%ld/%d", (id + 1) % 4, i / 2);
		struct buf b = BUF_INIT;
		int ret = objstore_get(g_bound_store, key, 0, 0, &b, NULL, NULL);
		if (ret != 0 && ret != -OM_ENOTFOUND)
			fail_msg("get failed");
		buf_free(&b);
	}
	free(data);
	atomic_fetch_sub(&g_bound_running, 1);
	return NULL;
}

/* The bound holds with writers in parallel (temp files included). */
static void test_fscache_bound_concurrent(void **state)
{
	(void)state;
	struct buf cdir = BUF_INIT;
	buf_printf(&cdir, "%s/c-bound2", g_dir);
	g_bound_store = open_ok("fscache:2M:%s:file:%s/s-bound2", cdir.data, g_dir);
	pthread_t th[4];
	atomic_store(&g_bound_running, 4);
	for (long i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, bound_writer, (void *)i), 0);
	/* The accounting (reservations included) is exact at every instant; a
	 * directory walk is not a snapshot (a file evicted after being counted
	 * and its replacement both show), so it gets one object per writer of
	 * slack. */
	int samples = 0;
	uint64_t worst = 0;
	while (atomic_load(&g_bound_running) > 0) {
		struct objstore_counters c;
		assert_true(objstore_get_counters(g_bound_store, 0, &c, NULL));
		assert_true(c.cache_bytes <= 2 * 1024 * 1024);
		uint64_t du = dir_bytes(cdir.data);
		if (du > worst)
			worst = du;
		samples++;
	}
	if (worst > 2 * 1024 * 1024)
		fprintf(stderr, "directory walk saw %llu bytes (limit %u)\n",
			(unsigned long long)worst, 2 * 1024 * 1024);
	assert_true(worst <= 2 * 1024 * 1024 + 4 * 400 * 1024);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(samples > 0);
	struct objstore_counters c;
	assert_true(objstore_get_counters(g_bound_store, 0, &c, NULL));
	assert_int_equal(c.cache_bytes, dir_bytes(cdir.data));
	objstore_close(g_bound_store);
	buf_free(&cdir);
}

static void test_fscache_bad_specs(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"fscache:", "fscache:1M", "fscache:1M:/tmp", "fscache:0:/tmp/x:file:/tmp/y",
		"fscache:abc:/tmp/x:file:/tmp/y", "fscache:1M::file:/tmp/y", "fscache:1M:/tmp/x:bogus",
		"file:", "nosuch:/x", "", "s3", 
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct objstore *s = NULL;
		char *error = NULL;
		assert_int_equal(objstore_open(bad[i], &s, &error), -OM_EINVAL);
		assert_null(s);
		assert_non_null(error);
		free(error);
	}
}

/* file: specifics */

static void test_file_layout(void **state)
{
	(void)state;
	struct objstore *s = open_ok("file://%s/layout/", g_dir);
	assert_int_equal(objstore_caps(s) & (OBJSTORE_CAP_COND_PUT | OBJSTORE_CAP_LOCK | OBJSTORE_CAP_LOCAL),
			 OBJSTORE_CAP_COND_PUT | OBJSTORE_CAP_LOCK | OBJSTORE_CAP_LOCAL);
	assert_int_equal(objstore_put(s, "u/ab/user/m/guid1", "mail", 4, NULL, 0, NULL, NULL), 0);
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/layout/u/ab/user/m/guid1", g_dir);
	struct stat st;
	assert_int_equal(stat(path.data, &st), 0);
	assert_int_equal(st.st_size, 4);
	/* no temp files left behind */
	buf_reset(&path);
	buf_printf(&path, "%s/layout/u/ab/user/m", g_dir);
	int entries = 0;
	DIR *d = opendir(path.data);
	for (struct dirent *de; (de = readdir(d)) != NULL;)
		entries += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 1);
	/* a file where a directory is needed */
	assert_int_equal(objstore_put(s, "u/ab/user/m/guid1/x", "x", 1, NULL, 0, NULL, NULL), -OM_EINVAL);
	assert_string_equal(objstore_describe(s), strstr(objstore_describe(s), "file:"));
	/* files put there by hand are objects too, with a stat etag */
	buf_reset(&path);
	buf_printf(&path, "%s/layout/hand", g_dir);
	write_file(path.data, "by hand");
	struct objstore_stat ost;
	assert_int_equal(objstore_head(s, "hand", &ost, NULL), 0);
	assert_int_equal(ost.size, 7);
	assert_true(ost.etag[0] != '\0');
	assert_int_equal(objstore_put(s, "hand", "v2", 2, NULL, OBJSTORE_PUT_IF_MATCH, ost.etag, NULL), 0);
	/* list removes temp files a crash left behind (old ones only) */
	buf_reset(&path);
	buf_printf(&path, "%s/layout/u/ab/user/m/.om.tmp.1.1.1", g_dir);
	write_file(path.data, "crash");
	struct timespec old_times[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, path.data, old_times, 0), 0);
	struct buf fresh = BUF_INIT;
	buf_printf(&fresh, "%s/layout/u/ab/user/m/.om.tmp.2.2.2", g_dir);
	write_file(fresh.data, "in flight");
	int n = 0;
	assert_int_equal(objstore_list(s, "u/", count_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(access(path.data, F_OK), -1);
	assert_int_equal(access(fresh.data, F_OK), 0);
	unlink(fresh.data);
	buf_free(&fresh);
	buf_free(&path);
	objstore_close(s);
}

/* Two processes take turns on one lease and count with IF_MATCH. */
static void test_file_two_processes(void **state)
{
	(void)state;
	struct buf spec = BUF_INIT;
	buf_printf(&spec, "file:%s/procs", g_dir);
	struct objstore *s = open_ok("%s", spec.data);
	assert_int_equal(objstore_put(s, "counter", "0", 1, NULL, 0, NULL, NULL), 0);
	objstore_close(s);
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			struct objstore *cs = NULL;
			if (objstore_open(spec.data, &cs, NULL) < 0)
				_exit(2);
			int done = 0;
			while (done < 50) {
				struct buf b = BUF_INIT;
				struct objstore_stat st;
				if (objstore_get(cs, "counter", 0, 0, &b, NULL, &st) < 0)
					_exit(3);
				char next[32];
				snprintf(next, sizeof(next), "%ld", strtol(b.data, NULL, 10) + 1);
				buf_free(&b);
				int ret = objstore_put(cs, "counter", next, strlen(next), NULL,
						       OBJSTORE_PUT_IF_MATCH, st.etag, NULL);
				if (ret == 0)
					done++;
				else if (ret != -OM_EEXISTS)
					_exit(4);
			}
			/* the lease: held by one at a time */
			char owner[32];
			snprintf(owner, sizeof(owner), "proc-%d", k);
			int held = 0;
			while (held < 20) {
				int ret = objstore_lock(cs, "lease", owner, 30);
				if (ret == -OM_EEXISTS)
					continue;
				if (ret < 0)
					_exit(5);
				/* inside: nobody else may hold it */
				if (objstore_put(cs, "holder", owner, strlen(owner), NULL, 0, NULL, NULL) < 0)
					_exit(6);
				struct buf b = BUF_INIT;
				if (objstore_get(cs, "holder", 0, 0, &b, NULL, NULL) < 0 ||
				    strcmp(b.data, owner) != 0)
					_exit(7);
				buf_free(&b);
				if (objstore_unlock(cs, "lease", owner) < 0)
					_exit(8);
				held++;
			}
			objstore_close(cs);
			_exit(0);
		}
	}
	for (int k = 0; k < 2; k++) {
		int status;
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	s = open_ok("%s", spec.data);
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(s, "counter", 0, 0, &b, NULL, NULL), 0);
	assert_string_equal(b.data, "100");
	buf_free(&b);
	objstore_close(s);
	buf_free(&spec);
}

int main(void)
{
	int failed = 0;
	char *dir = make_tmpdir("file");
	struct buf spec = BUF_INIT;

	buf_printf(&spec, "file:%s", dir);
	failed += objstore_conformance_run("conformance file:", spec.data);
	buf_reset(&spec);
	buf_printf(&spec, "file:%s/sidecar", dir);
	objstore_file_force_sidecar = true;
	failed += objstore_conformance_run("conformance file: (sidecar metadata)", spec.data);
	objstore_file_force_sidecar = false;
	buf_reset(&spec);
	buf_printf(&spec, "faulty:rate=0:file:%s/faulty", dir);
	failed += objstore_conformance_run("conformance faulty:rate=0", spec.data);
	buf_reset(&spec);
	buf_printf(&spec, "fscache:64M:%s/cache:file:%s/cached", dir, dir);
	failed += objstore_conformance_run("conformance fscache:", spec.data);
	buf_reset(&spec);
	buf_printf(&spec, "fscache:256K:%s/small-cache:file:%s/small-cached", dir, dir);
	failed += objstore_conformance_run("conformance fscache: (small)", spec.data);

	g_dir = dir;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_faulty_rate1),
		cmocka_unit_test(test_faulty_ops_delay_phase),
		cmocka_unit_test(test_faulty_ctl),
		cmocka_unit_test(test_fscache_bound),
		cmocka_unit_test(test_fscache_lru_restart),
		cmocka_unit_test(test_fscache_hits_without_inner),
		cmocka_unit_test(test_fscache_concurrent),
		cmocka_unit_test(test_fscache_bound_concurrent),
		cmocka_unit_test(test_fscache_bad_specs),
		cmocka_unit_test(test_file_layout),
		cmocka_unit_test(test_file_two_processes),
	};
	failed += cmocka_run_group_tests_name("objstore drivers", tests, NULL, NULL);

	buf_free(&spec);
	rm_rf(dir);
	free(dir);
	return failed;
}
