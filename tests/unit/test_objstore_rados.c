/* LIBS: om_objstore om_lib */
/* The RADOS driver against a real Ceph: $OBJMAIL_TEST_RADOS, e.g.
 *   rados://mail?conf=/tmp/ceph/ceph.conf&id=admin
 * (scripts/ceph-dev start DIR; eval "$(scripts/ceph-dev env DIR)").
 * Without it the test fails: a missing Ceph must not pass as green. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rados/librados.h>

#include "lib/om-error.h"
#include "objstore/objstore.h"
#if __has_include("objstore-conformance.c")
#include "objstore-conformance.c"
#define HAVE_CONFORMANCE 1
#endif

static const char *spec;
static struct objstore *store;
static char prefix[64];

static void key_of(char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s%s", prefix, name);
	assert_true(n > 0 && (size_t)n < size);
}

static void put_str(const char *name, const char *data)
{
	char key[256];
	key_of(key, sizeof(key), name);
	assert_int_equal(objstore_put(store, key, data, strlen(data), NULL, 0, NULL, NULL), 0);
}

static int rt_delete_cb(void *ctx, const char *key, uint64_t size)
{
	(void)size;
	struct objstore *st = ctx;
	objstore_delete(st, key);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	char *err = NULL;
	int ret = objstore_open(spec, &store, &err);
	if (ret < 0) {
		fprintf(stderr, "objstore_open(%s): %s\n", spec, err != NULL ? err : "?");
		free(err);
		return -1;
	}
	snprintf(prefix, sizeof(prefix), "rt/%ld.%ld/", (long)getpid(), (long)time(NULL));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (store != NULL) {
		objstore_list(store, prefix, rt_delete_cb, store);
		objstore_close(store);
	}
	store = NULL;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Spec errors are -OM_EINVAL with a message; an unreachable cluster is
 * -OM_ETEMP, and quickly (connect_timeout), not after librados's 300 s. */
static void test_open_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"rados://", "rados://?conf=/x", "rados://mail?bogus=1", "rados://mail?timeout=x",
		"rados://mail?conf=/nonexistent/ceph.conf", "rados://a%zzb",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct objstore *s = NULL;
		char *err = NULL;
		assert_int_equal(objstore_open(bad[i], &s, &err), -OM_EINVAL);
		assert_non_null(err);
		free(err);
	}
	/* A pool that doesn't exist, on the real cluster. */
	const char *confp = strstr(spec, "conf=");
	char other[2048];
	snprintf(other, sizeof(other), "rados://no-such-pool-xyz?%s", confp != NULL ? confp : "");
	struct objstore *s = NULL;
	char *err = NULL;
	assert_int_equal(objstore_open(other, &s, &err), -OM_EINVAL);
	assert_non_null(strstr(err, "no-such-pool-xyz"));
	free(err);
}

static void test_unreachable(void **state)
{
	(void)state;
	char path[] = "/tmp/om-rados-conf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	/* Port 9 on loopback: nothing listens; the mon is never found. */
	const char *text = "[global]\nmon host = 127.0.0.1:9\nauth client required = none\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char sp[256];
	snprintf(sp, sizeof(sp), "rados://mail?conf=%s&connect_timeout=2", path);
	struct objstore *s = NULL;
	char *err = NULL;
	double t0 = now_ms();
	assert_int_equal(objstore_open(sp, &s, &err), -OM_ETEMP);
	double took = now_ms() - t0;
	assert_true(took < 6000);
	free(err);
	unlink(path);
}

static void test_meta_replaced(void **state)
{
	(void)state;
	char key[256];
	key_of(key, sizeof(key), "meta");
	struct objstore_meta m = { 0 };
	objstore_meta_set(&m, "a", "1");
	objstore_meta_set(&m, "b", "2");
	assert_int_equal(objstore_put(store, key, "x", 1, &m, 0, NULL, NULL), 0);
	objstore_meta_free(&m);
	objstore_meta_set(&m, "b", "3");
	assert_int_equal(objstore_put(store, key, "yy", 2, &m, 0, NULL, NULL), 0);
	objstore_meta_free(&m);

	struct objstore_meta got;
	struct objstore_stat st;
	assert_int_equal(objstore_head(store, key, &st, &got), 0);
	assert_int_equal(st.size, 2);
	assert_int_equal(got.n, 1); /* "a" of the first put is gone */
	assert_string_equal(objstore_meta_get(&got, "b"), "3");
	assert_null(objstore_meta_get(&got, "a"));
	objstore_meta_free(&got);
	/* A put without metadata clears it. */
	assert_int_equal(objstore_put(store, key, "z", 1, NULL, 0, NULL, NULL), 0);
	assert_int_equal(objstore_head(store, key, &st, &got), 0);
	assert_int_equal(got.n, 0);
	objstore_meta_free(&got);
}

/* IF_MATCH is a compare-and-swap on the etag xattr in the OSD. */
static void test_cond_put(void **state)
{
	(void)state;
	char key[256], e1[80], e2[80];
	key_of(key, sizeof(key), "cond");
	assert_int_equal(objstore_put(store, key, "a", 1, NULL, OBJSTORE_PUT_IF_MATCH, "nope", NULL),
			 -OM_EEXISTS);
	assert_int_equal(objstore_put(store, key, "a", 1, NULL, OBJSTORE_PUT_IF_ABSENT, NULL, e1), 0);
	assert_int_equal(objstore_put(store, key, "b", 1, NULL, OBJSTORE_PUT_IF_ABSENT, NULL, NULL),
			 -OM_EEXISTS);
	assert_int_equal(objstore_put(store, key, "c", 1, NULL, OBJSTORE_PUT_IF_MATCH, e1, e2), 0);
	assert_string_not_equal(e1, e2);
	assert_int_equal(objstore_put(store, key, "d", 1, NULL, OBJSTORE_PUT_IF_MATCH, e1, NULL),
			 -OM_EEXISTS);
	struct buf b = BUF_INIT;
	struct objstore_stat st;
	assert_int_equal(objstore_get(store, key, 0, 0, &b, NULL, &st), 0);
	assert_string_equal(b.data, "c");
	assert_string_equal(st.etag, e2);
	buf_free(&b);
}

static int sink_append(void *ctx, const void *data, size_t len)
{
	buf_append(ctx, data, len);
	return 0;
}

static int sink_stop(void *ctx, const void *data, size_t len)
{
	(void)data;
	(void)len;
	(*(int *)ctx)++;
	return 42;
}

/* Objects bigger than the first read (128 KiB) and than one chunk (4 MiB). */
static void test_big_object(void **state)
{
	(void)state;
	char key[256];
	key_of(key, sizeof(key), "big");
	size_t len = 9 * 1024 * 1024 + 17;
	char *data = malloc(len);
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	assert_int_equal(objstore_put(store, key, data, len, NULL, 0, NULL, NULL), 0);

	struct buf b = BUF_INIT;
	buf_append_str(&b, "pre");
	assert_int_equal(objstore_get(store, key, 0, 0, &b, NULL, NULL), 0);
	assert_int_equal(b.len, len + 3);
	assert_memory_equal(b.data + 3, data, len);
	buf_reset(&b);
	uint64_t off = 4 * 1024 * 1024 - 100, rl = 5 * 1024 * 1024;
	assert_int_equal(objstore_get(store, key, off, rl, &b, NULL, NULL), 0);
	assert_int_equal(b.len, rl);
	assert_memory_equal(b.data, data + off, rl);
	buf_reset(&b);
	assert_int_equal(objstore_get(store, key, len - 10, 100, &b, NULL, NULL), 0);
	assert_int_equal(b.len, 10);
	buf_reset(&b);
	assert_int_equal(objstore_get_stream(store, key, 1, 0, sink_append, &b), 0);
	assert_int_equal(b.len, len - 1);
	assert_memory_equal(b.data, data + 1, len - 1);
	int calls = 0;
	assert_int_equal(objstore_get_stream(store, key, 0, 0, sink_stop, &calls), 42);
	assert_int_equal(calls, 1);
	buf_free(&b);
	free(data);
}

struct rt_many_result {
	size_t n, ok, missing;
	char *seen;
	const char *expect_prefix;
};

static void rt_many_done(void *ctx, size_t i, int err, const struct buf *data,
		      const struct objstore_meta *meta)
{
	struct rt_many_result *r = ctx;
	assert_true(i < r->n);
	assert_false(r->seen[i]);
	r->seen[i] = 1;
	if (err == -OM_ENOTFOUND) {
		r->missing++;
		return;
	}
	assert_int_equal(err, 0);
	char want[32];
	snprintf(want, sizeof(want), "%zu:", i);
	assert_true(data->len > strlen(want));
	assert_memory_equal(data->data, want, strlen(want));
	assert_string_equal(objstore_meta_get(meta, "n"), want);
	r->ok++;
}

/* Many gets in flight: all arrive once, right data, missing keys fail
 * alone; and 16 in flight beat one at a time. Prints latencies. */
static void test_get_many(void **state)
{
	(void)state;
	enum { N = 300, SIZE = 5 * 1024 };
	char **keys = calloc(N + 2, sizeof(*keys));
	char *body = malloc(SIZE);
	memset(body, 'm', SIZE);
	double t0 = now_ms();
	for (size_t i = 0; i < N; i++) {
		char name[64], k[256], tag[32];
		snprintf(name, sizeof(name), "many/%04zu", i);
		key_of(k, sizeof(k), name);
		keys[i] = strdup(k);
		int tl = snprintf(tag, sizeof(tag), "%zu:", i);
		memcpy(body, tag, (size_t)tl);
		struct objstore_meta m = { 0 };
		objstore_meta_set(&m, "n", tag);
		assert_int_equal(objstore_put(store, keys[i], body, SIZE, &m, 0, NULL, NULL), 0);
		objstore_meta_free(&m);
	}
	double t_put = now_ms() - t0;
	char k[256];
	key_of(k, sizeof(k), "many/missing-1");
	keys[N] = strdup(k);
	key_of(k, sizeof(k), "many/missing-2");
	keys[N + 1] = strdup(k);

	double t_seq = 0, t_par = 0;
	unsigned pars[] = { 1, 16 };
	for (size_t p = 0; p < 2; p++) {
		struct rt_many_result r = { .n = N + 2, .seen = calloc(N + 2, 1) };
		t0 = now_ms();
		assert_int_equal(objstore_get_many(store, (const char *const *)keys, N + 2, pars[p],
						   rt_many_done, &r),
				 0);
		double t = now_ms() - t0;
		if (p == 0)
			t_seq = t;
		else
			t_par = t;
		assert_int_equal(r.ok, N);
		assert_int_equal(r.missing, 2);
		free(r.seen);
	}
	t0 = now_ms();
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < N; i++) {
		buf_reset(&b);
		assert_int_equal(objstore_get(store, keys[i], 0, 0, &b, NULL, NULL), 0);
		assert_int_equal(b.len, SIZE);
	}
	double t_get = now_ms() - t0;
	buf_free(&b);
	fprintf(stderr,
		"rados latency (%d x %d B): put %.2f ms, get %.2f ms, get_many x1 %.2f ms/obj, "
		"x16 %.3f ms/obj (%.0f obj/s)\n",
		N, SIZE, t_put / N, t_get / N, t_seq / N, t_par / N, N / (t_par / 1000));
	(void)t_seq;

	/* Overlap, measured where it can't hide behind a busy CPU: a client
	 * whose OSD replies are each held up to 20 ms (librados's messenger
	 * delay injection), so 1 in flight costs ~10 ms per object. */
	setenv("CEPH_ARGS", "--ms_inject_delay_type osd --ms_inject_delay_max 0.02 "
			    "--ms_inject_delay_probability 1", 1);
	struct objstore *slow = NULL;
	char *err = NULL;
	int ret = objstore_open(spec, &slow, &err);
	unsetenv("CEPH_ARGS");
	assert_int_equal(ret, 0);
	double t_slow[2];
	for (size_t p = 0; p < 2; p++) {
		struct rt_many_result r = { .n = 64, .seen = calloc(64, 1) };
		t0 = now_ms();
		assert_int_equal(objstore_get_many(slow, (const char *const *)keys, 64, pars[p],
						   rt_many_done, &r),
				 0);
		t_slow[p] = now_ms() - t0;
		assert_int_equal(r.ok, 64);
		free(r.seen);
	}
	fprintf(stderr, "get_many of 64 with OSD replies delayed 0-20 ms: x1 %.0f ms, x16 %.0f ms\n",
		t_slow[0], t_slow[1]);
	assert_true(t_slow[1] * 3 < t_slow[0]);
	objstore_close(slow);
	for (size_t i = 0; i < N + 2; i++)
		free(keys[i]);
	free(keys);
	free(body);
}

struct list_state {
	size_t n;
	char last[256];
	bool sorted;
};

static int rt_list_cb(void *ctx, const char *key, uint64_t size)
{
	struct list_state *ls = ctx;
	if (ls->n > 0 && strcmp(ls->last, key) >= 0)
		ls->sorted = false;
	snprintf(ls->last, sizeof(ls->last), "%s", key);
	assert_int_equal(size, strlen(strrchr(key, '/') + 1));
	ls->n++;
	return 0;
}

static void test_list_sorted(void **state)
{
	(void)state;
	/* Written in an order RADOS won't list back (it lists by hash). */
	for (int i = 40; i >= 0; i--) {
		char name[64];
		snprintf(name, sizeof(name), "ls/%c%d", 'a' + (i * 7) % 26, i);
		put_str(name, strrchr(name, '/') + 1);
	}
	put_str("ls-not/x", "x");
	char pfx[256];
	key_of(pfx, sizeof(pfx), "ls/");
	struct list_state ls = { .sorted = true };
	assert_int_equal(objstore_list(store, pfx, rt_list_cb, &ls), 0);
	assert_int_equal(ls.n, 41);
	assert_true(ls.sorted);
}

/* cls_lock with a duration: renewal by the same owner, takeover by the same
 * owner from another client instance, refusal for others until expiry. */
static void test_lock(void **state)
{
	(void)state;
	char key[256];
	key_of(key, sizeof(key), "lease");
	struct objstore *other = NULL;
	char *err = NULL;
	assert_int_equal(objstore_open(spec, &other, &err), 0);

	assert_int_equal(objstore_lock(store, key, "backend-a", 2), 0);
	assert_int_equal(objstore_lock(store, key, "backend-a", 2), 0); /* renew */
	assert_int_equal(objstore_lock(other, key, "backend-b", 2), -OM_EEXISTS);
	assert_int_equal(objstore_unlock(other, key, "backend-b"), -OM_EEXISTS);
	/* The same owner from another process (a restarted backend). */
	assert_int_equal(objstore_lock(other, key, "backend-a", 2), 0);
	assert_int_equal(objstore_lock(store, key, "backend-b", 2), -OM_EEXISTS);
	/* Renewal keeps it past the first ttl. */
	sleep(1);
	assert_int_equal(objstore_lock(other, key, "backend-a", 2), 0);
	sleep(1);
	assert_int_equal(objstore_lock(store, key, "backend-b", 2), -OM_EEXISTS);
	/* Expiry hands it over. */
	sleep(2);
	assert_int_equal(objstore_lock(store, key, "backend-b", 10), 0);
	assert_int_equal(objstore_lock(other, key, "backend-a", 10), -OM_EEXISTS);
	assert_int_equal(objstore_unlock(store, key, "backend-b"), 0);
	assert_int_equal(objstore_unlock(store, key, "backend-b"), -OM_ENOTFOUND);
	assert_int_equal(objstore_lock(other, key, "backend-a", 10), 0);
	/* Unlock from another instance of the same owner. */
	assert_int_equal(objstore_unlock(store, key, "backend-a"), 0);
	assert_int_equal(objstore_lock(store, key, "backend-b", 10), 0);
	assert_int_equal(objstore_unlock(store, key, "backend-b"), 0);
	char missing[256];
	key_of(missing, sizeof(missing), "no-lease");
	assert_int_equal(objstore_unlock(store, missing, "backend-a"), -OM_ENOTFOUND);
	objstore_close(other);
}

static void timeout_done(void *ctx, size_t i, int err, const struct buf *data,
			 const struct objstore_meta *meta)
{
	(void)i;
	(void)data;
	(void)meta;
	if (err == -OM_ETEMP)
		(*(int *)ctx)++;
}

#define CHECK(cond)                                                             \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "timeout child: %s failed\n", #cond);    \
			return 1;                                               \
		}                                                               \
	} while (0)

/* Runs in a child process (librados reads the delay injection settings
 * once per process): OSD replies are held for up to 1000 s on the client
 * side, so every call must end in -OM_ETEMP after the spec's timeout. */
static int timeout_child(const char *key)
{
	struct buf sp = BUF_INIT;
	buf_printf(&sp, "%s%stimeout=1", spec, strchr(spec, '?') != NULL ? "&" : "?");
	struct objstore *slow = NULL;
	char *err = NULL;
	CHECK(objstore_open(buf_cstr(&sp), &slow, &err) == 0);
	double t0 = now_ms();
	CHECK(objstore_put(slow, key, "x", 1, NULL, 0, NULL, NULL) == -OM_ETEMP);
	struct buf b = BUF_INIT;
	CHECK(objstore_get(slow, key, 0, 0, &b, NULL, NULL) == -OM_ETEMP);
	CHECK(objstore_head(slow, key, NULL, NULL) == -OM_ETEMP);
	CHECK(objstore_lock(slow, key, "backend-a", 10) == -OM_ETEMP);
	const char *keys[4] = { key, key, key, key };
	int temp = 0;
	CHECK(objstore_get_many(slow, keys, 4, 4, timeout_done, &temp) == 0);
	CHECK(temp == 4);
	double took = now_ms() - t0;
	fprintf(stderr, "timeout child: 5 timed-out calls in %.0f ms\n", took);
	CHECK(took < 15000); /* 5 rounds of ~1 s, not 1000 s */
	buf_free(&b);
	buf_free(&sp);
	objstore_close(slow);
	return 0;
}

static void test_op_timeout(void **state)
{
	(void)state;
	char key[256];
	key_of(key, sizeof(key), "slow");
	put_str("slow", "data");
	char *argv[] = { "test_objstore_rados", "--timeout-child", key, NULL };
	setenv("CEPH_ARGS", "--ms_inject_delay_type osd --ms_inject_delay_max 1000 "
			    "--ms_inject_delay_probability 1", 1);
	pid_t pid;
	int ret = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
	unsetenv("CEPH_ARGS");
	assert_int_equal(ret, 0);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* A timed-out put has an unknown outcome: the OSD may still apply it
	 * (it does here: only the reply was held back). Either version is
	 * whole, never a mix. */
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(store, key, 0, 0, &b, NULL, NULL), 0);
	assert_true(strcmp(b.data, "data") == 0 || strcmp(b.data, "x") == 0);
	buf_free(&b);
}

/* Namespaces separate keys and listings. */
static void test_namespace(void **state)
{
	(void)state;
	struct buf sp = BUF_INIT;
	buf_append_str(&sp, spec);
	buf_append_str(&sp, strchr(spec, '?') != NULL ? "&" : "?");
	buf_append_str(&sp, "namespace=om-test-ns");
	struct objstore *ns = NULL;
	char *err = NULL;
	assert_int_equal(objstore_open(buf_cstr(&sp), &ns, &err), 0);
	char key[256];
	key_of(key, sizeof(key), "ns-key");
	assert_int_equal(objstore_put(ns, key, "in-ns", 5, NULL, 0, NULL, NULL), 0);
	assert_int_equal(objstore_head(store, key, NULL, NULL), -OM_ENOTFOUND);
	struct list_state ls = { .sorted = true };
	char pfx[256];
	key_of(pfx, sizeof(pfx), "ns-");
	assert_int_equal(objstore_list(store, pfx, rt_list_cb, &ls), 0);
	assert_int_equal(ls.n, 0);
	assert_int_equal(objstore_delete(ns, key), 0);
	assert_int_equal(objstore_delete(ns, key), -OM_ENOTFOUND);
	objstore_close(ns);
	buf_free(&sp);
}

/* --- the catalog (src/objstore/rados-catalog.c) --- */

/* spec with extra parameters ("namespace=x&catalog=off") */
static char *spec_with(const char *extra)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, spec);
	buf_append_str(&b, strchr(spec, '?') != NULL ? "&" : "?");
	buf_append_str(&b, extra);
	return buf_steal(&b);
}

/* A fresh namespace of this run, "cat-<pid>.<time>-<tag>". */
static void fresh_ns(char *out, size_t size, const char *tag)
{
	static unsigned seq;
	snprintf(out, size, "cat-%ld.%ld.%u-%s", (long)getpid(), (long)time(NULL), seq++, tag);
}

static struct objstore *open_ns(const char *ns, const char *more)
{
	struct buf extra = BUF_INIT;
	buf_printf(&extra, "namespace=%s%s%s", ns, more != NULL ? "&" : "", more != NULL ? more : "");
	char *sp = spec_with(buf_cstr(&extra));
	struct objstore *st = NULL;
	char *err = NULL;
	int ret = objstore_open(sp, &st, &err);
	if (ret != 0)
		fprintf(stderr, "objstore_open(%s): %s\n", sp, err != NULL ? err : "?");
	assert_int_equal(ret, 0);
	free(sp);
	buf_free(&extra);
	return st;
}

/* A metric of the driver, from objstore_metrics. */
static unsigned long long metric(struct objstore *st, const char *name)
{
	struct buf m = BUF_INIT;
	objstore_metrics(st, &m);
	char pat[128];
	snprintf(pat, sizeof(pat), "\n%s ", name);
	const char *p = strstr(buf_cstr(&m), pat);
	assert_non_null(p);
	unsigned long long v = strtoull(p + strlen(pat), NULL, 10);
	buf_free(&m);
	return v;
}

/* librados itself, as an older driver or an operator would see the pool. */
struct raw {
	rados_t cluster;
	rados_ioctx_t io;
};

static void raw_open(struct raw *r, const char *ns)
{
	const char *c = strstr(spec, "conf=");
	assert_non_null(c);
	char confp[1024];
	size_t len = strcspn(c + 5, "&");
	assert_true(len < sizeof(confp));
	memcpy(confp, c + 5, len);
	confp[len] = '\0';
	const char *pool_start = spec + strlen("rados://");
	size_t plen = strcspn(pool_start, "?/");
	char pool[256];
	assert_true(plen < sizeof(pool));
	memcpy(pool, pool_start, plen);
	pool[plen] = '\0';
	assert_int_equal(rados_create2(&r->cluster, "ceph", "client.admin", 0), 0);
	assert_int_equal(rados_conf_read_file(r->cluster, confp), 0);
	assert_int_equal(rados_connect(r->cluster), 0);
	assert_int_equal(rados_ioctx_create(r->cluster, pool, &r->io), 0);
	rados_ioctx_set_namespace(r->io, ns);
}

static void raw_close(struct raw *r)
{
	rados_ioctx_destroy(r->io);
	rados_shutdown(r->cluster);
}

/* Does catalog object cat hold omap key name? */
static bool omap_has(struct raw *r, const char *cat, const char *name)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	int prval = 0;
	const char *keys[1] = { name };
	rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
	int ret = rados_read_op_operate(op, r->io, cat, 0);
	bool found = false;
	if (ret == 0 && prval == 0) {
		char *k = NULL, *v = NULL;
		size_t vlen = 0;
		found = rados_omap_get_next(it, &k, &v, &vlen) == 0 && k != NULL;
	}
	if (it != NULL)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return found;
}

struct keys_ctx {
	size_t n;
	char keys[64][128];
};

static int keys_cb(void *ctx, const char *key, uint64_t size)
{
	struct keys_ctx *k = ctx;
	(void)size;
	assert_true(k->n < 64);
	snprintf(k->keys[k->n++], sizeof(k->keys[0]), "%s", key);
	return 0;
}

/* list(prefix) == the space-separated keys in want */
static void expect_keys(struct objstore *st, const char *pfx, const char *want)
{
	struct keys_ctx k = { 0 };
	assert_int_equal(objstore_list(st, pfx, keys_cb, &k), 0);
	struct buf got = BUF_INIT;
	for (size_t i = 0; i < k.n; i++)
		buf_printf(&got, "%s%s", i > 0 ? " " : "", k.keys[i]);
	if (strcmp(buf_cstr(&got), want) != 0)
		fprintf(stderr, "list %s: got \"%s\", want \"%s\"\n", pfx, buf_cstr(&got), want);
	assert_string_equal(buf_cstr(&got), want);
	buf_free(&got);
}

static void put_key(struct objstore *st, const char *key)
{
	assert_int_equal(objstore_put(st, key, key, strlen(key), NULL, 0, NULL, NULL), 0);
}

/* Nested directories, prefixes inside a directory, deletes, conditional
 * puts; and the lease object (a lock only) is never listed. */
static void test_catalog_nested(void **state)
{
	(void)state;
	char ns[96];
	fresh_ns(ns, sizeof(ns), "nested");
	struct objstore *st = open_ns(ns, NULL);
	assert_int_equal(metric(st, "objmail_objstore_rados_catalog_ready"), 1);
	static const char *const keys[] = { "a/b/c", "a/b/d", "a/x", "a/b/e/f", "a/bz", "top",
					    "u/ab/joe/m/1", "u/ab/joe/m/2", "u/ab/joe/idx/bundle.1" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		put_key(st, keys[i]);
	assert_int_equal(objstore_put(st, "a/cond", "1", 1, NULL, OBJSTORE_PUT_IF_ABSENT, NULL, NULL),
			 0);
	assert_int_equal(objstore_put(st, "a/nope", "1", 1, NULL, OBJSTORE_PUT_IF_MATCH, "x", NULL),
			 -OM_EEXISTS);
	assert_int_equal(objstore_lock(st, "u/ab/joe/lease", "backend-a", 30), 0);
	expect_keys(st, "a/", "a/b/c a/b/d a/b/e/f a/bz a/cond a/x");
	expect_keys(st, "a/b/", "a/b/c a/b/d a/b/e/f");
	expect_keys(st, "a/b", "a/b/c a/b/d a/b/e/f a/bz");
	expect_keys(st, "a/b/e/", "a/b/e/f");
	expect_keys(st, "a/c", "a/cond");
	expect_keys(st, "", "a/b/c a/b/d a/b/e/f a/bz a/cond a/x top u/ab/joe/idx/bundle.1 "
			    "u/ab/joe/m/1 u/ab/joe/m/2");
	expect_keys(st, "t", "top");
	expect_keys(st, "u/ab/joe/", "u/ab/joe/idx/bundle.1 u/ab/joe/m/1 u/ab/joe/m/2");
	expect_keys(st, "u/ab/joe/m/", "u/ab/joe/m/1 u/ab/joe/m/2");
	expect_keys(st, "a/nothing/", "");
	expect_keys(st, ".om.", "");

	assert_int_equal(objstore_delete(st, "a/b/c"), 0);
	assert_int_equal(objstore_delete(st, "a/b/e/f"), 0);
	assert_int_equal(objstore_delete(st, "a/b/e/f"), -OM_ENOTFOUND);
	assert_int_equal(objstore_delete(st, "u/ab/joe/m/1"), 0);
	expect_keys(st, "a/b", "a/b/d a/bz");
	expect_keys(st, "u/ab/joe/m/", "u/ab/joe/m/2");
	/* the entries went with the objects */
	struct raw r;
	raw_open(&r, ns);
	assert_false(omap_has(&r, ".om.cat:a/b/", "c"));
	assert_true(omap_has(&r, ".om.cat:a/b/", "d"));
	assert_true(omap_has(&r, ".om.cat:a/", "b/"));
	assert_false(omap_has(&r, ".om.cat:u/ab/joe/m/", "1"));
	/* put again after a delete: listed again */
	put_key(st, "a/b/c");
	expect_keys(st, "a/b/", "a/b/c a/b/d");
	assert_int_equal(metric(st, "objmail_objstore_rados_full_scans_total"), 0);
	assert_int_equal(objstore_unlock(st, "u/ab/joe/lease", "backend-a"), 0);
	raw_close(&r);
	objstore_close(st);
}

/* An entry whose object is gone (a crash between the two, or a put that
 * failed after its entry was written) is not listed. */
static void test_catalog_dangling(void **state)
{
	(void)state;
	char ns[96];
	fresh_ns(ns, sizeof(ns), "dangling");
	struct objstore *st = open_ns(ns, NULL);
	put_key(st, "d/keep");
	put_key(st, "d/gone");
	struct raw r;
	raw_open(&r, ns);
	assert_int_equal(rados_remove(r.io, "d/gone"), 0);
	assert_true(omap_has(&r, ".om.cat:d/", "gone"));
	/* and an entry that never had an object */
	const char *k[1] = { "ghost" }, *v[1] = { "e" };
	size_t vl[1] = { 1 };
	rados_write_op_t op = rados_create_write_op();
	rados_write_op_omap_set(op, k, v, vl, 1);
	assert_int_equal(rados_write_op_operate(op, r.io, ".om.cat:d/", NULL, 0), 0);
	rados_release_write_op(op);
	expect_keys(st, "d/", "d/keep");
	expect_keys(st, "", "d/keep");
	/* A delete leaves an entry that a put racing it rewrote (its etag):
	 * stand-in for that put, an entry naming another version. */
	put_key(st, "d/race");
	const char *rk[1] = { "race" }, *rv[1] = { "another-put" };
	size_t rvl[1] = { strlen(rv[0]) };
	op = rados_create_write_op();
	rados_write_op_omap_set(op, rk, rv, rvl, 1);
	assert_int_equal(rados_write_op_operate(op, r.io, ".om.cat:d/", NULL, 0), 0);
	rados_release_write_op(op);
	assert_int_equal(objstore_delete(st, "d/race"), 0);
	assert_true(omap_has(&r, ".om.cat:d/", "race"));
	assert_int_equal(objstore_delete(st, "d/keep"), 0);
	assert_false(omap_has(&r, ".om.cat:d/", "keep"));
	expect_keys(st, "d/", "");
	raw_close(&r);
	objstore_close(st);
}

/* A store written before the catalog existed (objects without entries, no
 * marker): listings scan the pool and find everything; catalog=build
 * enters them all, after which listings read catalogs only; an entry the
 * build wrote is removed by a delete. */
static void test_catalog_fallback_build(void **state)
{
	(void)state;
	char ns[96];
	fresh_ns(ns, sizeof(ns), "old");
	struct raw r;
	raw_open(&r, ns);
	static const char *const old[] = { "u/ab/old/m/g1", "u/ab/old/m/g2", "u/ab/old/idx/bundle.1",
					   "cluster/backends" };
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		assert_int_equal(rados_write_full(r.io, old[i], "x", 1), 0);
	struct objstore *st = open_ns(ns, NULL);
	assert_int_equal(metric(st, "objmail_objstore_rados_catalog_ready"), 0);
	/* new puts are entered even without the marker */
	put_key(st, "u/ab/old/m/g3");
	expect_keys(st, "u/ab/old/m/", "u/ab/old/m/g1 u/ab/old/m/g2 u/ab/old/m/g3");
	expect_keys(st, "cluster/", "cluster/backends");
	assert_int_equal(metric(st, "objmail_objstore_rados_full_scans_total"), 2);
	assert_true(omap_has(&r, ".om.cat:u/ab/old/m/", "g3"));
	assert_false(omap_has(&r, ".om.cat:u/ab/old/m/", "g1"));

	struct objstore *b = open_ns(ns, "catalog=build");
	assert_int_equal(metric(b, "objmail_objstore_rados_catalog_ready"), 1);
	assert_true(omap_has(&r, ".om.cat:u/ab/old/m/", "g1"));
	assert_true(omap_has(&r, ".om.cat:u/ab/old/", "idx/"));
	objstore_close(b);

	struct objstore *st2 = open_ns(ns, NULL);
	assert_int_equal(metric(st2, "objmail_objstore_rados_catalog_ready"), 1);
	expect_keys(st2, "u/ab/old/m/", "u/ab/old/m/g1 u/ab/old/m/g2 u/ab/old/m/g3");
	expect_keys(st2, "u/", "u/ab/old/idx/bundle.1 u/ab/old/m/g1 u/ab/old/m/g2 u/ab/old/m/g3");
	expect_keys(st2, "cluster/", "cluster/backends");
	assert_int_equal(metric(st2, "objmail_objstore_rados_full_scans_total"), 0);
	assert_int_equal(objstore_delete(st2, "u/ab/old/m/g1"), 0); /* built entry: "" */
	assert_int_equal(objstore_delete(st2, "u/ab/old/m/g3"), 0); /* put's entry: etag */
	assert_false(omap_has(&r, ".om.cat:u/ab/old/m/", "g1"));
	assert_false(omap_has(&r, ".om.cat:u/ab/old/m/", "g3"));
	expect_keys(st2, "u/ab/old/m/", "u/ab/old/m/g2");
	/* catalog=off: the scan as before, same answer */
	struct objstore *off = open_ns(ns, "catalog=off");
	expect_keys(off, "u/ab/old/m/", "u/ab/old/m/g2");
	assert_int_equal(metric(off, "objmail_objstore_rados_full_scans_total"), 1);
	objstore_close(off);
	objstore_close(st2);
	objstore_close(st);
	raw_close(&r);
}

/* A list of one small directory reads its catalog, never the pool: 2,000
 * objects under other prefixes don't matter. */
static void test_catalog_no_scan(void **state)
{
	(void)state;
	char ns[96];
	fresh_ns(ns, sizeof(ns), "noscan");
	struct objstore *st = open_ns(ns, NULL);
	struct raw r;
	raw_open(&r, ns);
	/* the bulk through librados aio (fast); not catalogued, which a
	 * directory list must not care about either */
	enum { BULK = 2000 };
	rados_completion_t *comps = calloc(BULK, sizeof(*comps));
	for (size_t i = 0; i < BULK; i++) {
		char key[64];
		snprintf(key, sizeof(key), "u/%02zx/user%zu/m/%zu", i % 256, i % 97, i);
		assert_int_equal(rados_aio_create_completion2(NULL, NULL, &comps[i]), 0);
		assert_int_equal(rados_aio_write_full(r.io, key, comps[i], "x", 1), 0);
	}
	for (size_t i = 0; i < BULK; i++) {
		rados_aio_wait_for_complete(comps[i]);
		assert_int_equal(rados_aio_get_return_value(comps[i]), 0);
		rados_aio_release(comps[i]);
	}
	free(comps);
	put_key(st, "u/ab/small/m/1");
	put_key(st, "u/ab/small/m/2");
	put_key(st, "u/ab/small/idx/bundle.1");
	uint64_t reads0 = metric(st, "objmail_objstore_rados_catalog_reads_total");
	double t0 = now_ms();
	expect_keys(st, "u/ab/small/m/", "u/ab/small/m/1 u/ab/small/m/2");
	double t_cat = now_ms() - t0;
	expect_keys(st, "u/ab/small/idx/", "u/ab/small/idx/bundle.1");
	assert_int_equal(metric(st, "objmail_objstore_rados_full_scans_total"), 0);
	assert_int_equal(metric(st, "objmail_objstore_rados_catalog_reads_total") - reads0, 2);
	/* the same list by scanning, for comparison */
	struct objstore *off = open_ns(ns, "catalog=off");
	t0 = now_ms();
	expect_keys(off, "u/ab/small/m/", "u/ab/small/m/1 u/ab/small/m/2");
	double t_scan = now_ms() - t0;
	assert_int_equal(metric(off, "objmail_objstore_rados_full_scans_total"), 1);
	fprintf(stderr, "list of a 2-object directory among %d objects: catalog %.1f ms, pool scan "
			"%.1f ms\n", BULK, t_cat, t_scan);
	objstore_close(off);
	raw_close(&r);
	objstore_close(st);
}

int main(int argc, char **argv)
{
	spec = getenv("OBJMAIL_TEST_RADOS");
	if (argc == 3 && strcmp(argv[1], "--timeout-child") == 0 && spec != NULL)
		return timeout_child(argv[2]);
	if (spec == NULL || spec[0] == '\0') {
		fprintf(stderr, "test_objstore_rados: OBJMAIL_TEST_RADOS is not set. Start a test "
				"cluster:\n  scripts/ceph-dev start /tmp/ceph && eval \"$(scripts/ceph-dev "
				"env /tmp/ceph)\"\n(make test does this.)\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors), cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_meta_replaced), cmocka_unit_test(test_cond_put),
		cmocka_unit_test(test_big_object),   cmocka_unit_test(test_get_many),
		cmocka_unit_test(test_list_sorted),  cmocka_unit_test(test_lock),
		cmocka_unit_test(test_namespace),    cmocka_unit_test(test_op_timeout),
		cmocka_unit_test(test_catalog_nested), cmocka_unit_test(test_catalog_dangling),
		cmocka_unit_test(test_catalog_fallback_build), cmocka_unit_test(test_catalog_no_scan),
	};
	int failed = cmocka_run_group_tests_name("rados", tests, setup, teardown);
#ifdef HAVE_CONFORMANCE
	/* Twice: listings from the catalogs (a fresh namespace gets its
	 * marker at open) and from pool scans (catalog=off). */
	char ns[96], extra[128];
	fresh_ns(ns, sizeof(ns), "conf");
	snprintf(extra, sizeof(extra), "namespace=%s", ns);
	char *cat_spec = spec_with(extra), *scan_spec = spec_with("catalog=off");
	failed += objstore_conformance_run("rados-conformance-catalog", cat_spec);
	failed += objstore_conformance_run("rados-conformance-scan", scan_spec);
	free(cat_spec);
	free(scan_spec);
#else
	fprintf(stderr, "test_objstore_rados: tests/unit/objstore-conformance.c is missing\n");
	failed++;
#endif
	return failed != 0;
}
