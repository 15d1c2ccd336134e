/* The object store conformance suite (see objstore-conformance.h). Included
 * by test_objstore*.c; needs <cmocka.h> and the usual headers before it. */
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/om-error.h"
#include "objstore/objstore.h"
#include "objstore-conformance.h"

static struct {
	const char *spec;
	struct objstore *store;
	char run[64]; /* "conf/<pid>.<time>" */
} conf;

/* A key under this run's prefix. Returns a static-per-call buffer. */
static char *ckey(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *ckey(const char *fmt, ...)
{
	static __thread char out[8][1200];
	static __thread unsigned slot;
	char tail[1100];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	char *o = out[slot++ % 8];
	snprintf(o, sizeof(out[0]), "%s/%s", conf.run, tail);
	return o;
}

static void fill_random(unsigned char *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

static void put_ok(const char *key, const void *data, size_t len)
{
	assert_int_equal(objstore_put(conf.store, key, data, len, NULL, 0, NULL, NULL), 0);
}

static void expect_content(const char *key, const void *data, size_t len)
{
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(conf.store, key, 0, 0, &b, NULL, NULL), 0);
	assert_int_equal(b.len, len);
	if (len > 0)
		assert_memory_equal(b.data, data, len);
	buf_free(&b);
}

static void test_conf_put_get(void **state)
{
	(void)state;
	char etag1[80], etag2[80];
	const char *k = ckey("pg/one");
	assert_int_equal(objstore_put(conf.store, k, "hello", 5, NULL, 0, NULL, etag1), 0);
	assert_true(etag1[0] != '\0');
	expect_content(k, "hello", 5);

	struct buf b = BUF_INIT;
	struct objstore_stat st;
	assert_int_equal(objstore_get(conf.store, k, 0, 0, &b, NULL, &st), 0);
	assert_int_equal(st.size, 5);
	assert_string_equal(st.etag, etag1);
	/* get appends */
	assert_int_equal(objstore_get(conf.store, k, 0, 0, &b, NULL, NULL), 0);
	assert_string_equal(b.data, "hellohello");
	buf_free(&b);

	/* overwrite: new content, new etag */
	assert_int_equal(objstore_put(conf.store, k, "bye", 3, NULL, 0, NULL, etag2), 0);
	assert_string_not_equal(etag1, etag2);
	expect_content(k, "bye", 3);

	/* empty and binary objects */
	put_ok(ckey("pg/empty"), "", 0);
	expect_content(ckey("pg/empty"), "", 0);
	static const char bin[] = { 0, 1, 2, '\n', 0, (char)0xff };
	put_ok(ckey("pg/bin"), bin, sizeof(bin));
	expect_content(ckey("pg/bin"), bin, sizeof(bin));

	/* a few MB */
	size_t big = 3 * 1024 * 1024 + 17;
	unsigned char *data = malloc(big);
	fill_random(data, big, 7);
	put_ok(ckey("pg/big"), data, big);
	expect_content(ckey("pg/big"), data, big);
	free(data);

	struct buf missing = BUF_INIT;
	assert_int_equal(objstore_get(conf.store, ckey("pg/nope"), 0, 0, &missing, NULL, NULL),
			 -OM_ENOTFOUND);
	assert_int_equal(missing.len, 0);
	buf_free(&missing);
}

static void test_conf_range(void **state)
{
	(void)state;
	unsigned char data[10000];
	fill_random(data, sizeof(data), 3);
	const char *k = ckey("range/obj");
	put_ok(k, data, sizeof(data));
	static const struct { uint64_t off, len, want_off, want_len; } cases[] = {
		{ 0, 10, 0, 10 },
		{ 5, 0, 5, 9995 },
		{ 1234, 4321, 1234, 4321 },
		{ 9990, 100, 9990, 10 },
		{ 9999, 1, 9999, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;
		struct objstore_stat st;
		assert_int_equal(objstore_get(conf.store, k, cases[i].off, cases[i].len, &b, NULL, &st), 0);
		assert_int_equal(b.len, cases[i].want_len);
		assert_memory_equal(b.data, data + cases[i].want_off, cases[i].want_len);
		assert_int_equal(st.size, sizeof(data)); /* the object's size, not the range's */
		buf_free(&b);
	}
	/* a range past the end is empty, not an error */
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(conf.store, k, 20000, 0, &b, NULL, NULL), 0);
	assert_int_equal(objstore_get(conf.store, k, 10000, 5, &b, NULL, NULL), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static int stream_sink(void *ctx, const void *data, size_t len)
{
	buf_append(ctx, data, len);
	return 0;
}

static int stream_abort(void *ctx, const void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return 42;
}

static void test_conf_stream(void **state)
{
	(void)state;
	size_t len = 2 * 1024 * 1024 + 5;
	unsigned char *data = malloc(len);
	fill_random(data, len, 11);
	const char *k = ckey("stream/obj");
	put_ok(k, data, len);
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get_stream(conf.store, k, 0, 0, stream_sink, &b), 0);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.data, data, len);
	buf_reset(&b);
	assert_int_equal(objstore_get_stream(conf.store, k, 100, 300000, stream_sink, &b), 0);
	assert_int_equal(b.len, 300000);
	assert_memory_equal(b.data, data + 100, 300000);
	assert_int_equal(objstore_get_stream(conf.store, k, 0, 0, stream_abort, NULL), 42);
	assert_int_equal(objstore_get_stream(conf.store, ckey("stream/nope"), 0, 0, stream_sink, &b),
			 -OM_ENOTFOUND);
	buf_free(&b);
	free(data);
}

static void test_conf_head_meta(void **state)
{
	(void)state;
	struct objstore_meta m = { 0 };
	objstore_meta_set(&m, "mailbox-guid", "0123456789abcdef");
	objstore_meta_set(&m, "flags", "\\Seen $Junk");
	objstore_meta_set(&m, "flags", "\\Seen"); /* replaces */
	assert_int_equal(m.n, 2);
	const char *k = ckey("meta/obj");
	char etag[80];
	assert_int_equal(objstore_put(conf.store, k, "body", 4, &m, 0, NULL, etag), 0);
	objstore_meta_free(&m);

	struct objstore_stat st;
	struct objstore_meta got;
	assert_int_equal(objstore_head(conf.store, k, &st, &got), 0);
	assert_int_equal(st.size, 4);
	assert_string_equal(st.etag, etag);
	assert_true(st.mtime == 0 || st.mtime > 1500000000);
	assert_int_equal(got.n, 2);
	assert_string_equal(objstore_meta_get(&got, "mailbox-guid"), "0123456789abcdef");
	assert_string_equal(objstore_meta_get(&got, "flags"), "\\Seen");
	assert_null(objstore_meta_get(&got, "nope"));
	objstore_meta_free(&got);

	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(conf.store, k, 0, 0, &b, &got, NULL), 0);
	assert_string_equal(objstore_meta_get(&got, "flags"), "\\Seen");
	objstore_meta_free(&got);
	buf_free(&b);

	/* overwrite without meta drops it */
	put_ok(k, "x", 1);
	assert_int_equal(objstore_head(conf.store, k, &st, &got), 0);
	assert_int_equal(got.n, 0);
	assert_int_equal(st.size, 1);
	assert_int_equal(objstore_head(conf.store, ckey("meta/nope"), &st, &got), -OM_ENOTFOUND);

	/* invalid metadata names and values */
	objstore_meta_set(&m, "Upper", "x");
	assert_int_equal(objstore_put(conf.store, k, "x", 1, &m, 0, NULL, NULL), -OM_EINVAL);
	objstore_meta_free(&m);
	objstore_meta_set(&m, "ok", "line\nbreak");
	assert_int_equal(objstore_put(conf.store, k, "x", 1, &m, 0, NULL, NULL), -OM_EINVAL);
	objstore_meta_free(&m);
}

static void test_conf_delete(void **state)
{
	(void)state;
	const char *k = ckey("del/obj");
	put_ok(k, "abc", 3);
	assert_int_equal(objstore_delete(conf.store, k), 0);
	struct buf b = BUF_INIT;
	assert_int_equal(objstore_get(conf.store, k, 0, 0, &b, NULL, NULL), -OM_ENOTFOUND);
	assert_int_equal(objstore_head(conf.store, k, NULL, NULL), -OM_ENOTFOUND);
	assert_int_equal(objstore_delete(conf.store, k), -OM_ENOTFOUND);
	assert_int_equal(objstore_delete(conf.store, ckey("del/never/was")), -OM_ENOTFOUND);
	/* put again after delete */
	put_ok(k, "again", 5);
	expect_content(k, "again", 5);
	buf_free(&b);
}

struct list_ctx {
	char **keys;
	uint64_t *sizes;
	size_t n, cap;
	size_t stop_after;
};

static int list_cb(void *ctx, const char *key, uint64_t size)
{
	struct list_ctx *lc = ctx;
	if (lc->n == lc->cap) {
		lc->cap = lc->cap == 0 ? 64 : lc->cap * 2;
		lc->keys = realloc(lc->keys, lc->cap * sizeof(*lc->keys));
		lc->sizes = realloc(lc->sizes, lc->cap * sizeof(*lc->sizes));
	}
	lc->keys[lc->n] = strdup(key);
	lc->sizes[lc->n++] = size;
	if (lc->stop_after != 0 && lc->n == lc->stop_after)
		return 7;
	return 0;
}

static void list_free(struct list_ctx *lc)
{
	for (size_t i = 0; i < lc->n; i++)
		free(lc->keys[i]);
	free(lc->keys);
	free(lc->sizes);
	memset(lc, 0, sizeof(*lc));
}

static int strptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List prefix and compare with the sorted subset of `all` that starts with it. */
static void expect_list(const char *prefix, char **all, size_t nall)
{
	char **want = calloc(nall + 1, sizeof(*want));
	size_t nwant = 0;
	for (size_t i = 0; i < nall; i++) {
		if (strncmp(all[i], prefix, strlen(prefix)) == 0)
			want[nwant++] = all[i];
	}
	qsort(want, nwant, sizeof(*want), strptr_cmp);
	struct list_ctx lc = { 0 };
	assert_int_equal(objstore_list(conf.store, prefix, list_cb, &lc), 0);
	if (lc.n != nwant) {
		fprintf(stderr, "list %s: got %zu keys, want %zu\n", prefix, lc.n, nwant);
		for (size_t i = 0; i < lc.n; i++)
			fprintf(stderr, "  got %s\n", lc.keys[i]);
	}
	assert_int_equal(lc.n, nwant);
	for (size_t i = 0; i < nwant; i++)
		assert_string_equal(lc.keys[i], want[i]);
	list_free(&lc);
	free(want);
}

static void test_conf_list(void **state)
{
	(void)state;
	char *all[400];
	size_t n = 0;
	static const char *const fixed[] = {
		"l/a", "l/a.b", "l/a/b", "l/a/b/c", "l/a-", "l/a0", "l/b", "l/a/b.c", "l/A",
		"l/a/bb", "l/z/y/x/w", "l/~",
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		/* "l/a" as an object and as a directory can't both exist on
		 * file stores; keep the object out of file-like stores. */
		if (strcmp(fixed[i], "l/a") == 0 || strcmp(fixed[i], "l/a/b") == 0)
			continue;
		all[n++] = strdup(ckey("%s", fixed[i]));
	}
	for (int i = 0; i < 300; i++)
		all[n++] = strdup(ckey("l/m/%c/%05d", 'a' + i % 3, (i * 7919) % 1000));
	for (size_t i = 0; i < n; i++)
		put_ok(all[i], all[i], strlen(all[i]) % 50);
	expect_list(ckey("l/"), all, n);
	expect_list(ckey("l/a"), all, n);
	expect_list(ckey("l/a/"), all, n);
	expect_list(ckey("l/a/b"), all, n);
	expect_list(ckey("l/m/b/"), all, n);
	expect_list(ckey("l/m/c/005"), all, n);
	expect_list(ckey("l/nothing"), all, n);
	expect_list(ckey("l/nothing/"), all, n);

	/* sizes, and stopping early */
	struct list_ctx lc = { .stop_after = 5 };
	assert_int_equal(objstore_list(conf.store, ckey("l/m/"), list_cb, &lc), 7);
	assert_int_equal(lc.n, 5);
	for (size_t i = 0; i < lc.n; i++)
		assert_int_equal(lc.sizes[i], strlen(lc.keys[i]) % 50);
	list_free(&lc);
	/* hostile prefixes list nothing (and don't escape) */
	assert_int_equal(objstore_list(conf.store, "../", list_cb, &lc), 0);
	assert_int_equal(objstore_list(conf.store, "/", list_cb, &lc), 0);
	assert_int_equal(lc.n, 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(objstore_delete(conf.store, all[i]), 0);
		free(all[i]);
	}
	expect_list(ckey("l/"), all, 0);
}

static void test_conf_if_absent(void **state)
{
	(void)state;
	const char *k = ckey("cond/absent");
	char etag[80];
	assert_int_equal(objstore_put(conf.store, k, "first", 5, NULL, OBJSTORE_PUT_IF_ABSENT, NULL, etag), 0);
	assert_true(etag[0] != '\0');
	assert_int_equal(objstore_put(conf.store, k, "second", 6, NULL, OBJSTORE_PUT_IF_ABSENT, NULL, NULL),
			 -OM_EEXISTS);
	expect_content(k, "first", 5);
	assert_int_equal(objstore_delete(conf.store, k), 0);
	assert_int_equal(objstore_put(conf.store, k, "third", 5, NULL, OBJSTORE_PUT_IF_ABSENT, NULL, NULL), 0);
	expect_content(k, "third", 5);
}

static void test_conf_if_match(void **state)
{
	(void)state;
	const char *k = ckey("cond/match");
	char e1[80], e2[80];
	assert_int_equal(objstore_put(conf.store, k, "v1", 2, NULL, 0, NULL, e1), 0);
	assert_int_equal(objstore_put(conf.store, k, "vx", 2, NULL, OBJSTORE_PUT_IF_MATCH, "wrong", NULL),
			 -OM_EEXISTS);
	assert_int_equal(objstore_put(conf.store, k, "v2", 2, NULL, OBJSTORE_PUT_IF_MATCH, e1, e2), 0);
	assert_string_not_equal(e1, e2);
	assert_int_equal(objstore_put(conf.store, k, "v3", 2, NULL, OBJSTORE_PUT_IF_MATCH, e1, NULL),
			 -OM_EEXISTS);
	expect_content(k, "v2", 2);
	struct objstore_stat st;
	assert_int_equal(objstore_head(conf.store, k, &st, NULL), 0);
	assert_string_equal(st.etag, e2);
	/* on a missing key the precondition fails too (some stores say not found) */
	int ret = objstore_put(conf.store, ckey("cond/none"), "x", 1, NULL, OBJSTORE_PUT_IF_MATCH, e2, NULL);
	assert_true(ret == -OM_EEXISTS || ret == -OM_ENOTFOUND);
	/* bad flag combinations */
	assert_int_equal(objstore_put(conf.store, k, "x", 1, NULL, OBJSTORE_PUT_IF_MATCH, NULL, NULL),
			 -OM_EINVAL);
	assert_int_equal(objstore_put(conf.store, k, "x", 1, NULL,
				      OBJSTORE_PUT_IF_MATCH | OBJSTORE_PUT_IF_ABSENT, e2, NULL),
			 -OM_EINVAL);
}

#define RACE_THREADS 6
#define RACE_INCREMENTS 8

struct race_arg {
	const char *key;
	int id;
	int wins;
	int errors;
};

static void *race_absent_thread(void *p)
{
	struct race_arg *a = p;
	char body[16];
	snprintf(body, sizeof(body), "t%d", a->id);
	int ret = objstore_put(conf.store, a->key, body, strlen(body), NULL, OBJSTORE_PUT_IF_ABSENT, NULL, NULL);
	if (ret == 0)
		a->wins++;
	else if (ret != -OM_EEXISTS)
		a->errors++;
	return NULL;
}

/* Read-modify-write a counter with IF_MATCH until it sticks. */
static void *race_counter_thread(void *p)
{
	struct race_arg *a = p;
	for (int i = 0; i < RACE_INCREMENTS; i++) {
		for (int attempt = 0; attempt < 1000; attempt++) {
			struct buf b = BUF_INIT;
			struct objstore_stat st;
			if (objstore_get(conf.store, a->key, 0, 0, &b, NULL, &st) < 0) {
				a->errors++;
				buf_free(&b);
				return NULL;
			}
			char next[32];
			snprintf(next, sizeof(next), "%ld", strtol(buf_cstr(&b), NULL, 10) + 1);
			buf_free(&b);
			int ret = objstore_put(conf.store, a->key, next, strlen(next), NULL,
					       OBJSTORE_PUT_IF_MATCH, st.etag, NULL);
			if (ret == 0) {
				a->wins++;
				break;
			}
			if (ret != -OM_EEXISTS && ret != -OM_ENOTFOUND) {
				a->errors++;
				return NULL;
			}
		}
	}
	return NULL;
}

static void run_threads(void *(*fn)(void *), const char *key, int *wins_r, int *errors_r)
{
	pthread_t th[RACE_THREADS];
	struct race_arg args[RACE_THREADS];
	for (int i = 0; i < RACE_THREADS; i++) {
		args[i] = (struct race_arg){ key, i, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, fn, &args[i]), 0);
	}
	*wins_r = *errors_r = 0;
	for (int i = 0; i < RACE_THREADS; i++) {
		pthread_join(th[i], NULL);
		*wins_r += args[i].wins;
		*errors_r += args[i].errors;
	}
}

static void test_conf_cond_races(void **state)
{
	(void)state;
	int wins, errors;
	for (int round = 0; round < 5; round++) {
		run_threads(race_absent_thread, ckey("race/absent%d", round), &wins, &errors);
		assert_int_equal(errors, 0);
		assert_int_equal(wins, 1);
	}
	const char *k = ckey("race/counter");
	put_ok(k, "0", 1);
	run_threads(race_counter_thread, k, &wins, &errors);
	assert_int_equal(errors, 0);
	assert_int_equal(wins, RACE_THREADS * RACE_INCREMENTS);
	char want[16];
	snprintf(want, sizeof(want), "%d", RACE_THREADS * RACE_INCREMENTS);
	expect_content(k, want, strlen(want));
}

static void test_conf_lock(void **state)
{
	(void)state;
	if ((objstore_caps(conf.store) & (OBJSTORE_CAP_LOCK | OBJSTORE_CAP_COND_PUT)) == 0)
		skip();
	const char *k = ckey("lock/lease");
	char owner[64];
	int64_t expires;
	assert_int_equal(objstore_lock_info(conf.store, k, owner, sizeof(owner), &expires),
			 -OM_ENOTFOUND);
	assert_int_equal(objstore_lock(conf.store, k, "backend-a", 30), 0);
	/* the holder is visible (expiry only where the store tells it) */
	assert_int_equal(objstore_lock_info(conf.store, k, owner, sizeof(owner), &expires), 0);
	assert_string_equal(owner, "backend-a");
	assert_true(expires == 0 || expires >= (int64_t)time(NULL) + 20);
	assert_int_equal(objstore_lock(conf.store, k, "backend-b", 30), -OM_EEXISTS);
	assert_int_equal(objstore_lock(conf.store, k, "backend-a", 30), 0); /* renew */
	assert_int_equal(objstore_unlock(conf.store, k, "backend-b"), -OM_EEXISTS);
	assert_int_equal(objstore_unlock(conf.store, k, "backend-a"), 0);
	assert_int_equal(objstore_lock_info(conf.store, k, owner, sizeof(owner), &expires),
			 -OM_ENOTFOUND);
	assert_int_equal(objstore_lock(conf.store, k, "backend-b", 1), 0);
	assert_int_equal(objstore_lock(conf.store, k, "backend-a", 30), -OM_EEXISTS);
	/* expiry: b's 1-second lease runs out */
	struct timespec ts = { 2, 200 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	assert_int_equal(objstore_lock(conf.store, k, "backend-a", 30), 0);
	assert_int_equal(objstore_lock(conf.store, k, "backend-b", 30), -OM_EEXISTS);
	assert_int_equal(objstore_unlock(conf.store, k, "backend-a"), 0);
	/* bad owners */
	assert_int_equal(objstore_lock(conf.store, k, "", 30), -OM_EINVAL);
	assert_int_equal(objstore_lock(conf.store, k, "a\nb", 30), -OM_EINVAL);
}

/* objstore_lock_break: only the very hold that objstore_lock_holder saw is
 * broken (and replaced by ours), never a later one of the same owner. The
 * "dead" holders lock through stores of their own: for RADOS each open is
 * another client instance, as another backend would be. */
static void test_conf_lock_break(void **state)
{
	(void)state;
	if ((objstore_caps(conf.store) & (OBJSTORE_CAP_LOCK | OBJSTORE_CAP_COND_PUT)) == 0)
		skip();
	const char *k = ckey("lock/break");
	struct objstore *s2 = NULL, *s3 = NULL;
	char *err = NULL;
	assert_int_equal(objstore_open(conf.spec, &s2, &err), 0);
	assert_int_equal(objstore_open(conf.spec, &s3, &err), 0);
	struct objstore_lock_holder h1, h2, h;
	assert_int_equal(objstore_lock_holder(conf.store, k, &h1), -OM_ENOTFOUND);
	assert_int_equal(objstore_lock(s2, k, "dead-a", 60), 0);
	assert_int_equal(objstore_lock_holder(conf.store, k, &h1), 0);
	assert_string_equal(h1.owner, "dead-a");
	assert_true(h1.token[0] != '\0');
	assert_true(h1.expiry == 0 || h1.expiry >= (int64_t)time(NULL) + 50);
	/* a token that names no hold breaks nothing */
	h = h1;
	snprintf(h.token, sizeof(h.token), "client.1");
	assert_int_equal(objstore_lock_break(conf.store, k, &h, "taker-b", 30), -OM_EEXISTS);
	assert_int_equal(objstore_lock(conf.store, k, "taker-b", 30), -OM_EEXISTS);
	/* the same owner again, in another instance (a restarted backend):
	 * the old hold's token must not break it */
	assert_int_equal(objstore_unlock(s2, k, "dead-a"), 0);
	struct timespec ts = { 1, 100 * 1000 * 1000 }; /* another expiry second */
	nanosleep(&ts, NULL);
	assert_int_equal(objstore_lock(s3, k, "dead-a", 60), 0);
	assert_int_equal(objstore_lock_break(conf.store, k, &h1, "taker-b", 30), -OM_EEXISTS);
	assert_int_equal(objstore_lock_holder(conf.store, k, &h2), 0);
	assert_string_equal(h2.owner, "dead-a");
	/* its holder "dies" (the store handle goes, the lock stays) */
	objstore_close(s3);
	assert_int_equal(objstore_lock_break(conf.store, k, &h2, "taker-b", 30), 0);
	assert_int_equal(objstore_lock_holder(conf.store, k, &h), 0);
	assert_string_equal(h.owner, "taker-b");
	assert_int_equal(objstore_lock(s2, k, "dead-a", 60), -OM_EEXISTS);
	assert_int_equal(objstore_lock(conf.store, k, "taker-b", 30), 0); /* ours: renews */
	/* a broken hold can't be broken twice */
	assert_int_equal(objstore_lock_break(conf.store, k, &h2, "taker-c", 30), -OM_EEXISTS);
	assert_int_equal(objstore_unlock(conf.store, k, "taker-b"), 0);
	assert_int_equal(objstore_lock_holder(conf.store, k, &h), -OM_ENOTFOUND);
	/* bad arguments */
	h = h2;
	h.token[0] = '\0';
	assert_int_equal(objstore_lock_break(conf.store, k, &h, "taker-b", 30), -OM_EINVAL);
	assert_int_equal(objstore_lock_break(conf.store, k, &h2, "", 30), -OM_EINVAL);
	objstore_close(s2);
}

struct many_result {
	int calls[32];
	int err[32];
	size_t len[32];
	char first[32];
	char meta_seen[32];
};

static void many_done(void *ctx, size_t i, int err, const struct buf *data,
		      const struct objstore_meta *meta)
{
	struct many_result *r = ctx;
	assert_true(i < 32);
	r->calls[i]++;
	r->err[i] = err;
	if (err == 0) {
		r->len[i] = data->len;
		r->first[i] = data->len > 0 ? data->data[0] : 0;
		const char *v = objstore_meta_get(meta, "n");
		r->meta_seen[i] = v != NULL ? v[0] : 0;
	}
}

static void test_conf_get_many(void **state)
{
	(void)state;
	const char *keys[24];
	char names[24][1200];
	for (int i = 0; i < 24; i++) {
		snprintf(names[i], sizeof(names[i]), "%s", ckey("many/%02d", i));
		keys[i] = names[i];
		if (i == 13)
			continue; /* missing */
		char body[64];
		memset(body, 'a' + i, sizeof(body));
		struct objstore_meta m = { 0 };
		char v[2] = { (char)('a' + i), 0 };
		objstore_meta_set(&m, "n", v);
		assert_int_equal(objstore_put(conf.store, keys[i], body, (size_t)(10 + i), &m, 0, NULL, NULL), 0);
		objstore_meta_free(&m);
	}
	keys[20] = "../hostile";
	struct many_result r;
	memset(&r, 0, sizeof(r));
	assert_int_equal(objstore_get_many(conf.store, keys, 24, 4, many_done, &r), 0);
	for (int i = 0; i < 24; i++) {
		assert_int_equal(r.calls[i], 1);
		if (i == 13) {
			assert_int_equal(r.err[i], -OM_ENOTFOUND);
		} else if (i == 20) {
			assert_int_equal(r.err[i], -OM_EINVAL);
		} else {
			assert_int_equal(r.err[i], 0);
			assert_int_equal(r.len[i], 10 + i);
			assert_int_equal(r.first[i], 'a' + i);
			assert_int_equal(r.meta_seen[i], 'a' + i);
		}
	}
	/* serial and empty */
	memset(&r, 0, sizeof(r));
	assert_int_equal(objstore_get_many(conf.store, keys, 3, 1, many_done, &r), 0);
	assert_int_equal(r.calls[0] + r.calls[1] + r.calls[2], 3);
	assert_int_equal(objstore_get_many(conf.store, keys, 0, 4, many_done, &r), 0);
}

static void test_conf_hostile_keys(void **state)
{
	(void)state;
	char longkey[1100];
	memset(longkey, 'k', 1025);
	longkey[1025] = '\0';
	const char *bad[] = {
		"", "../x", "a/../../x", "/a", "a//b", "a/", "./a", "a/./b", "a/..", "..",
		"a b", "a\tb", "a\x01", "caf\xc3\xa9", longkey, ".om.tmp.1", "a/.om.meta.x",
	};
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(objstore_put(conf.store, bad[i], "x", 1, NULL, 0, NULL, NULL), -OM_EINVAL);
		assert_int_equal(objstore_get(conf.store, bad[i], 0, 0, &b, NULL, NULL), -OM_EINVAL);
		assert_int_equal(objstore_head(conf.store, bad[i], NULL, NULL), -OM_EINVAL);
		assert_int_equal(objstore_delete(conf.store, bad[i]), -OM_EINVAL);
		assert_int_equal(objstore_lock(conf.store, bad[i], "me", 10), -OM_EINVAL);
	}
	assert_int_equal(objstore_put(conf.store, NULL, "x", 1, NULL, 0, NULL, NULL), -OM_EINVAL);
	/* an embedded NUL just ends the key: "a\0b" is the key "a" */
	buf_free(&b);

	/* the longest key: 1024 bytes in components of <= 255 (NAME_MAX) */
	char maxkey[1100];
	int n = snprintf(maxkey, sizeof(maxkey), "%s/", conf.run);
	while (n < 1024) {
		int comp = 1024 - n > 200 ? 200 : 1024 - n;
		memset(maxkey + n, 'q', (size_t)comp);
		n += comp;
		if (n < 1023)
			maxkey[n++] = '/';
	}
	maxkey[1024] = '\0';
	assert_int_equal(strlen(maxkey), 1024);
	put_ok(maxkey, "max", 3);
	expect_content(maxkey, "max", 3);
	assert_int_equal(objstore_delete(conf.store, maxkey), 0);
	/* odd but valid characters */
	const char *odd = ckey("odd/%s", "a!\"#$%&'()*+,-.:;<=>?@[\\]^_`{|}~");
	put_ok(odd, "odd", 3);
	expect_content(odd, "odd", 3);
}

static void test_conf_metrics(void **state)
{
	(void)state;
	put_ok(ckey("metrics/x"), "12345", 5);
	expect_content(ckey("metrics/x"), "12345", 5);
	struct objstore_counters c;
	const char *driver;
	assert_true(objstore_get_counters(conf.store, 0, &c, &driver));
	assert_true(c.requests[OBJSTORE_OP_PUT] > 0);
	assert_true(c.requests[OBJSTORE_OP_GET] > 0);
	assert_true(c.bytes_out >= 5);
	assert_true(c.bytes_in >= 5);
	assert_non_null(driver);

	struct buf m = BUF_INIT;
	objstore_metrics(conf.store, &m);
	regex_t sample, comment;
	assert_int_equal(regcomp(&sample,
				 "^[a-zA-Z_:][a-zA-Z0-9_:]*"
				 "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\")*\\})?"
				 " [-+]?([0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?|\\+Inf|NaN)$",
				 REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regcomp(&comment, "^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$",
				 REG_EXTENDED | REG_NOSUB), 0);
	char *save = NULL;
	int lines = 0;
	bool saw_put = false;
	for (char *line = strtok_r(m.data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		lines++;
		bool ok = regexec(line[0] == '#' ? &comment : &sample, line, 0, NULL, 0) == 0;
		if (!ok)
			fprintf(stderr, "bad metrics line: %s\n", line);
		assert_true(ok);
		if (strstr(line, "objmail_objstore_requests_total{") != NULL &&
		    strstr(line, "op=\"put\",result=\"ok\"") != NULL && strstr(line, "} 0") == NULL)
			saw_put = true;
	}
	assert_true(lines > 10);
	assert_true(saw_put);
	regfree(&sample);
	regfree(&comment);
	buf_free(&m);
}

static int delete_cb(void *ctx, const char *key, uint64_t size)
{
	(void)size;
	struct list_ctx *lc = ctx;
	return list_cb(lc, key, 0);
}

static int conf_setup(void **state)
{
	(void)state;
	char *error = NULL;
	int ret = objstore_open(conf.spec, &conf.store, &error);
	if (ret < 0) {
		fprintf(stderr, "objstore_open(%s): %s\n", conf.spec, error != NULL ? error : "?");
		free(error);
		return -1;
	}
	snprintf(conf.run, sizeof(conf.run), "conf/%ld.%ld", (long)getpid(), (long)time(NULL));
	return 0;
}

static int conf_teardown(void **state)
{
	(void)state;
	if (conf.store == NULL)
		return 0;
	struct list_ctx lc = { 0 };
	char prefix[80];
	snprintf(prefix, sizeof(prefix), "%s/", conf.run);
	(void)objstore_list(conf.store, prefix, delete_cb, &lc);
	for (size_t i = 0; i < lc.n; i++)
		(void)objstore_delete(conf.store, lc.keys[i]);
	list_free(&lc);
	objstore_close(conf.store);
	conf.store = NULL;
	return 0;
}

int objstore_conformance_run(const char *group_name, const char *spec)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_put_get),
		cmocka_unit_test(test_conf_range),
		cmocka_unit_test(test_conf_stream),
		cmocka_unit_test(test_conf_head_meta),
		cmocka_unit_test(test_conf_delete),
		cmocka_unit_test(test_conf_list),
		cmocka_unit_test(test_conf_if_absent),
		cmocka_unit_test(test_conf_if_match),
		cmocka_unit_test(test_conf_cond_races),
		cmocka_unit_test(test_conf_lock),
		cmocka_unit_test(test_conf_lock_break),
		cmocka_unit_test(test_conf_get_many),
		cmocka_unit_test(test_conf_hostile_keys),
		cmocka_unit_test(test_conf_metrics),
	};
	conf.spec = spec;
	return _cmocka_run_group_tests(group_name, tests, sizeof(tests) / sizeof(tests[0]),
				       conf_setup, conf_teardown);
}
