/* LIBS: om_objstore om_lib */
/* The S3 driver against a real radosgw (OBJMAIL_TEST_S3, from
 * `scripts/ceph-dev env DIR`), plus retry and outage behaviour against a
 * small fake S3 server run in a thread of this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/objstore.h"

#if defined(__has_include) && __has_include("objstore-conformance.c")
#include "objstore-conformance.c"
#define HAVE_CONFORMANCE 1
#endif

static const char *s3_spec;  /* OBJMAIL_TEST_S3 */
static char run_prefix[64];  /* "s3t-<pid>-<time>" */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The test spec with "/<run_prefix>/<sub>" added to its path. */
static char *spec_under(const char *sub)
{
	struct buf b = BUF_INIT;
	const char *q = strchr(s3_spec, '?');
	size_t plen = q != NULL ? (size_t)(q - s3_spec) : strlen(s3_spec);
	while (plen > 0 && s3_spec[plen - 1] == '/')
		plen--;
	buf_append(&b, s3_spec, plen);
	buf_printf(&b, "/%s/%s", run_prefix, sub);
	if (q != NULL)
		buf_append_str(&b, q);
	return buf_steal(&b);
}

static struct objstore *open_s3(const char *sub)
{
	char *spec = spec_under(sub);
	struct objstore *store = NULL;
	char *err = NULL;
	int ret = objstore_open(spec, &store, &err);
	if (ret != 0)
		fail_msg("objstore_open(%s): %d %s", spec, ret, err != NULL ? err : "");
	free(spec);
	return store;
}

struct key_list {
	size_t n, cap;
	char **keys;
	uint64_t *sizes;
};

static int collect_key(void *ctx, const char *key, uint64_t size)
{
	struct key_list *kl = ctx;
	if (kl->n == kl->cap) {
		kl->cap = kl->cap == 0 ? 64 : kl->cap * 2;
		kl->keys = om_reallocarray(kl->keys, kl->cap, sizeof(*kl->keys));
		kl->sizes = om_reallocarray(kl->sizes, kl->cap, sizeof(*kl->sizes));
	}
	kl->keys[kl->n] = om_strdup(key);
	kl->sizes[kl->n++] = size;
	return 0;
}

static void key_list_free(struct key_list *kl)
{
	for (size_t i = 0; i < kl->n; i++)
		free(kl->keys[i]);
	free(kl->keys);
	free(kl->sizes);
	memset(kl, 0, sizeof(*kl));
}

/* Delete everything the store sees (its spec prefix is ours alone). */
static void wipe(struct objstore *store)
{
	struct key_list kl = { 0 };
	assert_int_equal(objstore_list(store, "", collect_key, &kl), 0);
	for (size_t i = 0; i < kl.n; i++)
		assert_int_equal(objstore_delete(store, kl.keys[i]), 0);
	key_list_free(&kl);
}

/* ---- against radosgw ---- */

static void test_basic(void **state)
{
	(void)state;
	struct objstore *store = open_s3("basic");
	assert_true((objstore_caps(store) & OBJSTORE_CAP_COND_PUT) != 0);
	assert_true((objstore_caps(store) & OBJSTORE_CAP_PARALLEL) != 0);
	assert_null(strstr(objstore_describe(store), "objmailDevSecret"));
	assert_non_null(strstr(objstore_describe(store), ":***@"));

	struct objstore_meta meta = { 0 };
	objstore_meta_set(&meta, "flags", "\\Seen \\Answered");
	objstore_meta_set(&meta, "x-size", "12");
	char etag[80];
	assert_int_equal(objstore_put(store, "m/a", "hello world!", 12, &meta, 0, NULL, etag), 0);
	objstore_meta_free(&meta);
	assert_int_equal(strlen(etag), 32); /* MD5, quotes stripped */
	assert_null(strchr(etag, '"'));

	struct buf out = BUF_INIT;
	struct objstore_stat st;
	assert_int_equal(objstore_get(store, "m/a", 0, 0, &out, &meta, &st), 0);
	assert_string_equal(buf_cstr(&out), "hello world!");
	assert_int_equal(st.size, 12);
	assert_string_equal(st.etag, etag);
	assert_true(st.mtime > 1600000000);
	assert_string_equal(objstore_meta_get(&meta, "flags"), "\\Seen \\Answered");
	assert_string_equal(objstore_meta_get(&meta, "x-size"), "12");
	objstore_meta_free(&meta);

	/* ranges: middle, to the end, past the end */
	buf_reset(&out);
	assert_int_equal(objstore_get(store, "m/a", 6, 5, &out, NULL, &st), 0);
	assert_string_equal(buf_cstr(&out), "world");
	assert_int_equal(st.size, 12);
	buf_reset(&out);
	assert_int_equal(objstore_get(store, "m/a", 6, 0, &out, NULL, NULL), 0);
	assert_string_equal(buf_cstr(&out), "world!");
	buf_reset(&out);
	assert_int_equal(objstore_get(store, "m/a", 100, 5, &out, NULL, NULL), 0);
	assert_int_equal(out.len, 0);

	assert_int_equal(objstore_head(store, "m/a", &st, &meta), 0);
	assert_int_equal(st.size, 12);
	assert_string_equal(objstore_meta_get(&meta, "x-size"), "12");
	objstore_meta_free(&meta);

	assert_int_equal(objstore_get(store, "m/none", 0, 0, &out, NULL, NULL), -OM_ENOTFOUND);
	assert_int_equal(objstore_head(store, "m/none", &st, NULL), -OM_ENOTFOUND);
	assert_int_equal(objstore_delete(store, "m/none"), -OM_ENOTFOUND);

	/* empty objects */
	assert_int_equal(objstore_put(store, "m/empty", "", 0, NULL, 0, NULL, NULL), 0);
	buf_reset(&out);
	assert_int_equal(objstore_get(store, "m/empty", 0, 0, &out, NULL, &st), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(st.size, 0);

	assert_int_equal(objstore_delete(store, "m/a"), 0);
	assert_int_equal(objstore_delete(store, "m/a"), -OM_ENOTFOUND);
	wipe(store);
	buf_free(&out);
	objstore_close(store);
}

static void test_odd_keys(void **state)
{
	(void)state;
	/* every printable ASCII character a key may hold must survive the
	 * URL encoding, the signature and the XML listing */
	static const char *const keys[] = {
		"k/a+b=c&d", "k/%41%2F%zz", "k/q?x=1#frag", "k/<tag>&amp;\"'", "k/~_.-!*(),;:@$[]{}|^`\\",
	};
	struct objstore *store = open_s3("odd");
	size_t nkeys = sizeof(keys) / sizeof(keys[0]);
	for (size_t i = 0; i < nkeys; i++) {
		if (objstore_put(store, keys[i], keys[i], strlen(keys[i]), NULL, 0, NULL, NULL) != 0)
			fail_msg("put %s", keys[i]);
	}
	for (size_t i = 0; i < nkeys; i++) {
		struct buf out = BUF_INIT;
		if (objstore_get(store, keys[i], 0, 0, &out, NULL, NULL) != 0)
			fail_msg("get %s", keys[i]);
		assert_string_equal(buf_cstr(&out), keys[i]);
		buf_free(&out);
	}
	struct key_list kl = { 0 };
	assert_int_equal(objstore_list(store, "k/", collect_key, &kl), 0);
	assert_int_equal(kl.n, nkeys);
	for (size_t i = 0; i < kl.n; i++) {
		bool found = false;
		for (size_t j = 0; j < nkeys; j++)
			found = found || strcmp(kl.keys[i], keys[j]) == 0;
		if (!found)
			fail_msg("listed unknown key %s", kl.keys[i]);
		if (i > 0)
			assert_true(strcmp(kl.keys[i - 1], kl.keys[i]) < 0);
	}
	key_list_free(&kl);
	for (size_t i = 0; i < nkeys; i++)
		assert_int_equal(objstore_delete(store, keys[i]), 0);
	objstore_close(store);
}

struct race {
	struct objstore *store;
	const char *key;
	unsigned flags;
	const char *if_match;
	int id;
	atomic_int *go;
	int ret;
};

static void *race_thread(void *arg)
{
	struct race *r = arg;
	char body[48];
	/* distinct bytes per phase: S3's ETag is the MD5 of the content, so
	 * rewriting the same bytes would not change it */
	int len = snprintf(body, sizeof(body), "%s writer %d",
			   r->flags == OBJSTORE_PUT_IF_ABSENT ? "absent" : "match", r->id);
	while (atomic_load(r->go) == 0)
		;
	r->ret = objstore_put(r->store, r->key, body, (size_t)len, NULL, r->flags, r->if_match, NULL);
	return NULL;
}

/* n threads put key at once with flags; returns the number of winners. */
static int run_race(struct objstore *store, const char *key, unsigned flags, const char *if_match,
		    int *winner_r)
{
	enum { N = 8 };
	struct race r[N];
	pthread_t t[N];
	atomic_int go = 0;
	for (int i = 0; i < N; i++) {
		r[i] = (struct race){ store, key, flags, if_match, i, &go, 1 };
		assert_int_equal(pthread_create(&t[i], NULL, race_thread, &r[i]), 0);
	}
	atomic_store(&go, 1);
	int winners = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		if (r[i].ret == 0) {
			winners++;
			*winner_r = i;
		} else if (r[i].ret != -OM_EEXISTS) {
			fail_msg("racer %d: %d", i, r[i].ret);
		}
	}
	return winners;
}

static void test_cond_put_race(void **state)
{
	(void)state;
	struct objstore *store = open_s3("race");
	for (int round = 0; round < 5; round++) {
		char key[32], expect[48];
		int winner = -1;
		snprintf(key, sizeof(key), "lease/%d", round);
		assert_int_equal(run_race(store, key, OBJSTORE_PUT_IF_ABSENT, NULL, &winner), 1);
		struct buf out = BUF_INIT;
		struct objstore_stat st;
		assert_int_equal(objstore_get(store, key, 0, 0, &out, NULL, &st), 0);
		snprintf(expect, sizeof(expect), "absent writer %d", winner);
		assert_string_equal(buf_cstr(&out), expect);
		/* the compare-and-swap: 8 writers with the same etag */
		char etag[80];
		memcpy(etag, st.etag, sizeof(etag));
		assert_int_equal(run_race(store, key, OBJSTORE_PUT_IF_MATCH, etag, &winner), 1);
		buf_reset(&out);
		assert_int_equal(objstore_get(store, key, 0, 0, &out, NULL, NULL), 0);
		snprintf(expect, sizeof(expect), "match writer %d", winner);
		assert_string_equal(buf_cstr(&out), expect);
		buf_free(&out);
	}
	printf("conditional put races: 5 x 8 IF_ABSENT and 5 x 8 IF_MATCH, one winner each\n");
	wipe(store);
	objstore_close(store);
}

static void test_if_match(void **state)
{
	(void)state;
	struct objstore *store = open_s3("ifmatch");
	char e1[80], e2[80], e3[80];
	assert_int_equal(objstore_put(store, "x", "one", 3, NULL, OBJSTORE_PUT_IF_ABSENT, NULL, e1), 0);
	assert_int_equal(objstore_put(store, "x", "two", 3, NULL, OBJSTORE_PUT_IF_ABSENT, NULL, e2),
			 -OM_EEXISTS);
	assert_int_equal(objstore_put(store, "x", "two", 3, NULL, OBJSTORE_PUT_IF_MATCH, e1, e2), 0);
	assert_string_not_equal(e1, e2);
	/* stale etag */
	assert_int_equal(objstore_put(store, "x", "three", 5, NULL, OBJSTORE_PUT_IF_MATCH, e1, e3),
			 -OM_EEXISTS);
	/* a quoted etag (as HTTP writes it) works too */
	char quoted[84];
	snprintf(quoted, sizeof(quoted), "\"%s\"", e2);
	assert_int_equal(objstore_put(store, "x", "four", 4, NULL, OBJSTORE_PUT_IF_MATCH, quoted, e3), 0);
	/* no object to match */
	assert_int_equal(objstore_put(store, "y", "y", 1, NULL, OBJSTORE_PUT_IF_MATCH, e3, NULL),
			 -OM_EEXISTS);
	struct buf out = BUF_INIT;
	assert_int_equal(objstore_get(store, "x", 0, 0, &out, NULL, NULL), 0);
	assert_string_equal(buf_cstr(&out), "four");
	buf_free(&out);
	/* the generic lock emulation on top of conditional puts */
	assert_int_equal(objstore_lock(store, "lease", "backend-a", 30), 0);
	assert_int_equal(objstore_lock(store, "lease", "backend-b", 30), -OM_EEXISTS);
	assert_int_equal(objstore_lock(store, "lease", "backend-a", 30), 0);
	assert_int_equal(objstore_unlock(store, "lease", "backend-a"), 0);
	assert_int_equal(objstore_lock(store, "lease", "backend-b", 30), 0);
	assert_int_equal(objstore_unlock(store, "lease", "backend-b"), 0);
	wipe(store);
	objstore_close(store);
}

struct s3t_stream_check {
	const char *expect;
	size_t len;
	size_t got;
	int mismatch;
	int stop_after;
	int calls;
};

static int s3t_stream_sink(void *ctx, const void *data, size_t len)
{
	struct s3t_stream_check *sc = ctx;
	if (sc->got + len > sc->len || memcmp(sc->expect + sc->got, data, len) != 0)
		sc->mismatch++;
	sc->got += len;
	if (sc->stop_after > 0 && ++sc->calls >= sc->stop_after)
		return 42;
	return 0;
}

static void test_big_and_stream(void **state)
{
	(void)state;
	/* past 1 MiB libcurl sends "Expect: 100-continue" */
	struct objstore *store = open_s3("big");
	size_t len = 3 * 1024 * 1024 + 17;
	char *data = om_malloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i * 131 + (i >> 12));
	assert_int_equal(objstore_put(store, "big", data, len, NULL, 0, NULL, NULL), 0);
	struct buf out = BUF_INIT;
	assert_int_equal(objstore_get(store, "big", 0, 0, &out, NULL, NULL), 0);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, data, len);
	buf_reset(&out);
	assert_int_equal(objstore_get(store, "big", 1000000, 2000000, &out, NULL, NULL), 0);
	assert_int_equal(out.len, 2000000);
	assert_memory_equal(out.data, data + 1000000, 2000000);
	/* streamed, in the chunks libcurl hands over */
	struct s3t_stream_check sc = { .expect = data + 5, .len = len - 5 };
	assert_int_equal(objstore_get_stream(store, "big", 5, 0, s3t_stream_sink, &sc), 0);
	assert_int_equal(sc.got, len - 5);
	assert_int_equal(sc.mismatch, 0);
	/* a sink's non-zero return stops the transfer and is returned */
	sc = (struct s3t_stream_check){ .expect = data, .len = len, .stop_after = 1 };
	assert_int_equal(objstore_get_stream(store, "big", 0, 0, s3t_stream_sink, &sc), 42);
	buf_free(&out);
	free(data);
	wipe(store);
	objstore_close(store);
}

struct s3t_pattern {
	size_t n;
	size_t ok, failed, bad;
};

static void fill_obj(char *buf, size_t len, size_t i)
{
	for (size_t j = 0; j < len; j++)
		buf[j] = (char)('a' + (i * 7 + j) % 26);
}

#define BULK_N 1200
#define BULK_SIZE 5120

struct bulk_put {
	struct objstore *store;
	int first, step;
	int errors;
};

static void *bulk_put_thread(void *arg)
{
	struct bulk_put *bp = arg;
	char body[BULK_SIZE];
	for (int i = bp->first; i < BULK_N; i += bp->step) {
		char key[32];
		snprintf(key, sizeof(key), "bulk/%05d", i);
		fill_obj(body, sizeof(body), (size_t)i);
		if (objstore_put(bp->store, key, body, sizeof(body), NULL, 0, NULL, NULL) != 0)
			bp->errors++;
	}
	return NULL;
}

static void s3t_many_done(void *ctx, size_t i, int err, const struct buf *data,
		      const struct objstore_meta *meta)
{
	struct s3t_pattern *p = ctx;
	char expect[BULK_SIZE];
	if (err != 0) {
		p->failed++;
		return;
	}
	fill_obj(expect, sizeof(expect), i);
	if (data == NULL || data->len != BULK_SIZE || memcmp(data->data, expect, BULK_SIZE) != 0 ||
	    meta == NULL)
		p->bad++;
	else
		p->ok++;
}

static uint64_t metric_value(struct objstore *store, const char *name)
{
	struct buf m = BUF_INIT;
	objstore_metrics(store, &m);
	const char *p = buf_cstr(&m);
	uint64_t v = UINT64_MAX;
	size_t nlen = strlen(name);
	while ((p = strstr(p, name)) != NULL) {
		if ((p == m.data || p[-1] == '\n') && p[nlen] == ' ') {
			v = strtoull(p + nlen + 1, NULL, 10);
			break;
		}
		p += nlen;
	}
	buf_free(&m);
	return v;
}

static void test_bulk_get_many_and_list(void **state)
{
	(void)state;
	struct objstore *store = open_s3("bulk");
	enum { T = 8 };
	struct bulk_put bp[T];
	pthread_t t[T];
	double t0 = now_s();
	for (int i = 0; i < T; i++) {
		bp[i] = (struct bulk_put){ store, i, T, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, bulk_put_thread, &bp[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(bp[i].errors, 0);
	}
	double t_put = now_s() - t0;
	printf("put %d x %d B from %d threads: %.2f s (%.0f/s)\n", BULK_N, BULK_SIZE, T, t_put,
	       BULK_N / t_put);

	/* list: 1,200 keys come in two pages of at most 1,000 */
	struct key_list kl = { 0 };
	t0 = now_s();
	assert_int_equal(objstore_list(store, "bulk/", collect_key, &kl), 0);
	printf("list %d keys (2 pages): %.3f s\n", BULK_N, now_s() - t0);
	assert_int_equal(kl.n, BULK_N);
	for (size_t i = 0; i < kl.n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "bulk/%05zu", i);
		assert_string_equal(kl.keys[i], key);
		assert_int_equal(kl.sizes[i], BULK_SIZE);
	}
	key_list_free(&kl);

	/* a callback's non-zero return stops the listing */
	struct key_list one = { 0 };
	assert_int_equal(objstore_list(store, "bulk/0000", collect_key, &one), 0);
	assert_int_equal(one.n, 10);
	key_list_free(&one);

	enum { GETS = 1000 };
	const char **keys = om_calloc(GETS, sizeof(*keys));
	for (size_t i = 0; i < GETS; i++) {
		char key[32];
		snprintf(key, sizeof(key), "bulk/%05zu", i);
		keys[i] = om_strdup(key);
	}
	double times[2];
	unsigned pars[2] = { 1, 16 };
	for (int r = 0; r < 2; r++) {
		struct s3t_pattern p = { GETS, 0, 0, 0 };
		uint64_t conn0 = metric_value(store, "objmail_objstore_s3_connections_total");
		t0 = now_s();
		assert_int_equal(objstore_get_many(store, (const char *const *)keys, GETS, pars[r],
						   s3t_many_done, &p), 0);
		times[r] = now_s() - t0;
		uint64_t conns = metric_value(store, "objmail_objstore_s3_connections_total") - conn0;
		printf("get_many %d x %d B, parallel=%u: %.3f s (%.0f/s), %llu new connections\n",
		       GETS, BULK_SIZE, pars[r], times[r], GETS / times[r], (unsigned long long)conns);
		assert_int_equal(p.ok, GETS);
		assert_int_equal(p.failed, 0);
		assert_int_equal(p.bad, 0);
		/* keep-alive: one connection per transfer slot at most */
		assert_true(conns <= pars[r]);
	}
	/* radosgw shares this machine's cores with everything else, so its
	 * speed-up is printed, not asserted (test_parallel_overlap checks
	 * the overlap itself) */
	printf("get_many speed-up parallel=16 over 1: %.1fx\n", times[0] / times[1]);
	/* a second parallel run reuses the pooled connections */
	struct s3t_pattern p = { GETS, 0, 0, 0 };
	uint64_t conn0 = metric_value(store, "objmail_objstore_s3_connections_total");
	t0 = now_s();
	assert_int_equal(objstore_get_many(store, (const char *const *)keys, GETS, 16, s3t_many_done, &p), 0);
	printf("get_many again, parallel=16: %.3f s, %llu new connections\n", now_s() - t0,
	       (unsigned long long)(metric_value(store, "objmail_objstore_s3_connections_total") - conn0));
	assert_int_equal(p.ok, GETS);

	/* sequential single GETs on one thread reuse one connection */
	conn0 = metric_value(store, "objmail_objstore_s3_connections_total");
	t0 = now_s();
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < 200; i++) {
		buf_reset(&out);
		assert_int_equal(objstore_get(store, keys[i], 0, 0, &out, NULL, NULL), 0);
	}
	double t_seq = now_s() - t0;
	uint64_t seq_conns = metric_value(store, "objmail_objstore_s3_connections_total") - conn0;
	printf("200 sequential objstore_get: %.3f s (%.2f ms each), %llu new connections\n", t_seq,
	       t_seq * 1000 / 200, (unsigned long long)seq_conns);
	assert_true(seq_conns <= 1);
	buf_free(&out);

	for (size_t i = 0; i < GETS; i++)
		free((char *)keys[i]);
	free(keys);
	wipe(store);
	objstore_close(store);
}

struct churn {
	struct objstore *store;
	int id;
	int errors;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	struct buf out = BUF_INIT;
	for (int i = 0; i < 40; i++) {
		char key[48], body[64];
		snprintf(key, sizeof(key), "t%d/%d", c->id, i);
		int len = snprintf(body, sizeof(body), "thread %d item %d", c->id, i);
		buf_reset(&out);
		if (objstore_put(c->store, key, body, (size_t)len, NULL, 0, NULL, NULL) != 0 ||
		    objstore_get(c->store, key, 0, 0, &out, NULL, NULL) != 0 ||
		    strcmp(buf_cstr(&out), body) != 0 || objstore_delete(c->store, key) != 0)
			c->errors++;
	}
	buf_free(&out);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct objstore *store = open_s3("threads");
	enum { T = 8 };
	struct churn c[T];
	pthread_t t[T];
	double t0 = now_s();
	for (int i = 0; i < T; i++) {
		c[i] = (struct churn){ store, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, churn_thread, &c[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(c[i].errors, 0);
	}
	printf("8 threads x 40 put+get+delete: %.2f s\n", now_s() - t0);
	objstore_close(store);
}

static void test_bad_specs(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"s3://127.0.0.1:1/b",                      /* no credentials */
		"s3://k:s@127.0.0.1:1",                    /* no bucket */
		"s3://k:s@127.0.0.1:1/",                   /* empty bucket */
		"s3://k:s@127.0.0.1:1/b?nope=1",           /* unknown option */
		"s3://k:s@127.0.0.1:1/b?timeout=abc",
		"s3://k:s@127.0.0.1:1/b?region=",
		"s3://k%zz:s@127.0.0.1:1/b",               /* bad escape */
		"s3://k:s@127.0.0.1:1/b/../x",             /* bad prefix */
		"s3://k:s@bad host/b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct objstore *store = NULL;
		char *err = NULL;
		int ret = objstore_open(bad[i], &store, &err);
		if (ret != -OM_EINVAL)
			fail_msg("%s: %d", bad[i], ret);
		assert_non_null(err);
		free(err);
	}
	/* a wrong secret or bucket is a configuration error, said at open */
	struct buf spec = BUF_INIT;
	const char *at = strrchr(s3_spec, '@');
	const char *colon = strchr(s3_spec + 5, ':');
	buf_append(&spec, s3_spec, (size_t)(colon - s3_spec));
	buf_append_str(&spec, ":wrong-secret");
	buf_append_str(&spec, at);
	struct objstore *store = NULL;
	char *err = NULL;
	assert_int_equal(objstore_open(buf_cstr(&spec), &store, &err), -OM_EINVAL);
	printf("wrong secret: %s\n", err);
	free(err);
	err = NULL;
	buf_reset(&spec);
	const char *slash = strchr(at, '/');
	buf_append(&spec, s3_spec, (size_t)(slash - s3_spec));
	buf_append_str(&spec, "/no-such-bucket-objmail");
	assert_int_equal(objstore_open(buf_cstr(&spec), &store, &err), -OM_EINVAL);
	printf("wrong bucket: %s\n", err);
	free(err);
	buf_free(&spec);
}

/* ---- a fake S3 server: one thread accepting, one per connection ---- */

enum fake_mode { FAKE_OK, FAKE_FAIL_ONCE, FAKE_ALWAYS_503, FAKE_404, FAKE_400, FAKE_CLOSE_ONCE,
		 FAKE_TRUNCATE_ONCE };

#define FAKE_BIG_LEN 200000

/* The body of a GET in FAKE_TRUNCATE_ONCE mode: big, position-dependent. */
static char fake_big_byte(size_t i)
{
	return (char)('A' + (i * 7 + i / 1000) % 26);
}

#define FAKE_MAX_CONN 64
#define FAKE_MAX_SEEN 4096

struct fake_srv;

struct fake_conn {
	struct fake_srv *srv;
	int fd;
	pthread_t thread;
	struct buf in;
};

struct fake_srv {
	int lfd;
	int port;
	int wake[2];
	pthread_t thread;
	enum fake_mode mode;
	unsigned delay_ms;       /* before every answer */
	atomic_int requests;
	atomic_int connections;
	atomic_int in_flight, max_in_flight;
	pthread_mutex_t lock;    /* seen */
	char *seen[FAKE_MAX_SEEN]; /* paths answered once already */
	size_t n_seen;
	struct fake_conn conns[FAKE_MAX_CONN];
};

static bool fake_seen(struct fake_srv *f, const char *path)
{
	bool seen = false;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n_seen && !seen; i++)
		seen = strcmp(f->seen[i], path) == 0;
	if (!seen && f->n_seen < FAKE_MAX_SEEN)
		f->seen[f->n_seen++] = om_strdup(path);
	pthread_mutex_unlock(&f->lock);
	return seen;
}

static void fake_send(int fd, int status, const char *reason, const char *extra, const char *body,
		      bool head)
{
	struct buf r = BUF_INIT;
	buf_printf(&r, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s\r\n", status, reason,
		   strlen(body), extra);
	if (!head)
		buf_append_str(&r, body);
	size_t off = 0;
	while (off < r.len) {
		ssize_t n = send(fd, r.data + off, r.len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf_free(&r);
}

/* FAKE_TRUNCATE_ONCE: a big body that breaks off halfway the first time;
 * Range requests are honoured (206) afterwards. */
static bool fake_answer_big(struct fake_conn *c, bool first)
{
	unsigned long long a = 0, b = FAKE_BIG_LEN - 1;
	const char *range = strcasestr(c->in.data, "\r\nRange: bytes=");
	const char *end = strstr(c->in.data, "\r\n\r\n");
	bool ranged = range != NULL && range < end;
	if (ranged) {
		char *p;
		a = strtoull(range + strlen("\r\nRange: bytes="), &p, 10);
		if (*p == '-' && p[1] >= '0' && p[1] <= '9')
			b = strtoull(p + 1, NULL, 10);
		if (b >= FAKE_BIG_LEN)
			b = FAKE_BIG_LEN - 1;
	}
	size_t len = (size_t)(b - a + 1);
	struct buf r = BUF_INIT;
	if (ranged)
		buf_printf(&r, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %llu-%llu/%d\r\n",
			   a, b, FAKE_BIG_LEN);
	else
		buf_append_str(&r, "HTTP/1.1 200 OK\r\n");
	buf_printf(&r, "Content-Length: %zu\r\nETag: \"big\"\r\n\r\n", len);
	size_t send_len = first ? len / 2 : len;
	for (size_t i = 0; i < send_len; i++)
		buf_append_c(&r, fake_big_byte((size_t)a + i));
	size_t off = 0;
	while (off < r.len) {
		ssize_t n = send(c->fd, r.data + off, r.len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf_free(&r);
	return !first; /* close after the short answer */
}

/* Answer the request at the start of c->in; false to close the connection. */
static bool fake_answer(struct fake_srv *f, struct fake_conn *c)
{
	char method[16] = "", path[512] = "";
	if (sscanf(c->in.data, "%15s %511s", method, path) != 2)
		return false;
	atomic_fetch_add(&f->requests, 1);
	int now = atomic_fetch_add(&f->in_flight, 1) + 1;
	int max = atomic_load(&f->max_in_flight);
	while (now > max && !atomic_compare_exchange_weak(&f->max_in_flight, &max, now))
		;
	if (f->delay_ms > 0)
		usleep(f->delay_ms * 1000);
	atomic_fetch_sub(&f->in_flight, 1);
	bool head = strcmp(method, "HEAD") == 0;
	bool first = !fake_seen(f, path);
	switch (f->mode) {
	case FAKE_ALWAYS_503:
		fake_send(c->fd, 503, "Slow Down", "", "<Error><Code>SlowDown</Code></Error>", head);
		return true;
	case FAKE_404:
		fake_send(c->fd, 404, "Not Found", "", "<Error><Code>NoSuchKey</Code></Error>", head);
		return true;
	case FAKE_400:
		fake_send(c->fd, 400, "Bad Request", "",
			  "<Error><Code>InvalidArgument</Code></Error>", head);
		return true;
	case FAKE_CLOSE_ONCE:
		if (first)
			return false; /* drop the connection without an answer */
		break;
	case FAKE_FAIL_ONCE:
		if (first) {
			fake_send(c->fd, 503, "Slow Down", "",
				  "<Error><Code>SlowDown</Code></Error>", head);
			return true;
		}
		break;
	case FAKE_TRUNCATE_ONCE:
		return fake_answer_big(c, first);
	case FAKE_OK:
		break;
	}
	struct buf body = BUF_INIT;
	if (strcmp(method, "GET") == 0 || head)
		buf_printf(&body, "data:%s", path);
	fake_send(c->fd, 200, "OK", "ETag: \"fake-etag\"\r\nx-amz-meta-color: blue\r\n",
		  buf_cstr(&body), head);
	buf_free(&body);
	return true;
}

/* Answer every complete request in c->in; false to close. */
static bool fake_process(struct fake_srv *f, struct fake_conn *c)
{
	for (;;) {
		const char *end = c->in.len > 0 ? strstr(c->in.data, "\r\n\r\n") : NULL;
		if (end == NULL)
			return true;
		size_t hdr_len = (size_t)(end - c->in.data) + 4;
		size_t body_len = 0;
		const char *cl = strcasestr(c->in.data, "\r\nContent-Length:");
		if (cl != NULL && cl < end)
			body_len = strtoul(cl + 17, NULL, 10);
		if (c->in.len < hdr_len + body_len)
			return true;
		if (!fake_answer(f, c))
			return false;
		size_t used = hdr_len + body_len;
		memmove(c->in.data, c->in.data + used, c->in.len - used);
		buf_truncate(&c->in, c->in.len - used);
	}
}

static void *fake_conn_thread(void *arg)
{
	struct fake_conn *c = arg;
	char tmp[16384];
	for (;;) {
		ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
		if (r <= 0 || c->in.len > 4 * 1024 * 1024)
			break;
		buf_append(&c->in, tmp, (size_t)r);
		if (!fake_process(c->srv, c))
			break;
	}
	shutdown(c->fd, SHUT_RDWR);
	return NULL;
}

static void *fake_thread(void *arg)
{
	struct fake_srv *f = arg;
	int n = 0;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = f->wake[0], .events = POLLIN },
					 { .fd = f->lfd, .events = POLLIN } };
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[0].revents != 0)
			break;
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (n >= FAKE_MAX_CONN) {
			close(fd);
			continue;
		}
		struct fake_conn *c = &f->conns[n++];
		c->srv = f;
		c->fd = fd;
		buf_init(&c->in);
		atomic_fetch_add(&f->connections, 1);
		if (pthread_create(&c->thread, NULL, fake_conn_thread, c) != 0)
			abort();
	}
	return NULL;
}

static int listen_any(int *port_r)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t slen = sizeof(sin);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	*port_r = ntohs(sin.sin_port);
	return fd;
}

static struct fake_srv *fake_start(enum fake_mode mode)
{
	struct fake_srv *f = om_calloc(1, sizeof(*f));
	f->mode = mode;
	f->lfd = listen_any(&f->port);
	for (int i = 0; i < FAKE_MAX_CONN; i++)
		f->conns[i].fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	assert_int_equal(pipe(f->wake), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_thread, f), 0);
	return f;
}

static void fake_stop(struct fake_srv *f)
{
	assert_int_equal(write(f->wake[1], "x", 1), 1);
	pthread_join(f->thread, NULL);
	for (int i = 0; i < FAKE_MAX_CONN; i++) {
		struct fake_conn *c = &f->conns[i];
		if (c->fd < 0)
			continue;
		shutdown(c->fd, SHUT_RDWR);
		pthread_join(c->thread, NULL);
		close(c->fd);
		buf_free(&c->in);
	}
	close(f->wake[0]);
	close(f->wake[1]);
	close(f->lfd);
	for (size_t i = 0; i < f->n_seen; i++)
		free(f->seen[i]);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static struct objstore *open_fake(int port, const char *opts)
{
	char spec[256];
	snprintf(spec, sizeof(spec), "s3://AKFAKE:fake%%2Fsecret@127.0.0.1:%d/bucket/pre?check=0%s",
		 port, opts);
	struct objstore *store = NULL;
	char *err = NULL;
	if (objstore_open(spec, &store, &err) != 0)
		fail_msg("open %s: %s", spec, err);
	return store;
}

struct fake_res {
	size_t ok, failed;
};

static void fake_many_done(void *ctx, size_t i, int err, const struct buf *data,
			   const struct objstore_meta *m)
{
	struct fake_res *res = ctx;
	char expect[64];
	snprintf(expect, sizeof(expect), "data:/bucket/pre/k%03zu", i);
	if (err == 0 && data != NULL && strcmp(buf_cstr(data), expect) == 0 && m != NULL &&
	    strcmp(objstore_meta_get(m, "color"), "blue") == 0)
		res->ok++;
	else
		res->failed++;
}

static void test_retry_503_once(void **state)
{
	(void)state;
	struct fake_srv *f = fake_start(FAKE_FAIL_ONCE);
	struct objstore *store = open_fake(f->port, "");
	struct buf out = BUF_INIT;
	struct objstore_meta meta;
	double t0 = now_s();
	assert_int_equal(objstore_get(store, "a/b", 0, 0, &out, &meta, NULL), 0);
	double took = now_s() - t0;
	assert_string_equal(buf_cstr(&out), "data:/bucket/pre/a/b");
	assert_string_equal(objstore_meta_get(&meta, "color"), "blue");
	objstore_meta_free(&meta);
	assert_int_equal(atomic_load(&f->requests), 2);
	printf("GET after one 503: ok in %.0f ms, %d requests\n", took * 1000,
	       atomic_load(&f->requests));
	char etag[80];
	assert_int_equal(objstore_put(store, "p", "x", 1, NULL, 0, NULL, etag), 0);
	assert_string_equal(etag, "fake-etag");
	assert_int_equal(atomic_load(&f->requests), 4);
	/* a dropped connection is retried the same way */
	objstore_close(store);
	fake_stop(f);

	f = fake_start(FAKE_CLOSE_ONCE);
	store = open_fake(f->port, "");
	buf_reset(&out);
	assert_int_equal(objstore_get(store, "c", 0, 0, &out, NULL, NULL), 0);
	assert_string_equal(buf_cstr(&out), "data:/bucket/pre/c");
	assert_int_equal(atomic_load(&f->requests), 2);
	objstore_close(store);
	fake_stop(f);

	/* get_many: every key fails once and is retried on its own */
	f = fake_start(FAKE_FAIL_ONCE);
	store = open_fake(f->port, "");
	enum { N = 100 };
	char *keys[N];
	for (int i = 0; i < N; i++) {
		char k[32];
		snprintf(k, sizeof(k), "k%03d", i);
		keys[i] = om_strdup(k);
	}
	struct fake_res res = { 0, 0 };
	t0 = now_s();
	assert_int_equal(objstore_get_many(store, (const char *const *)keys, N, 8, fake_many_done, &res), 0);
	printf("get_many of %d keys, each failing once with 503, parallel=8: %.0f ms, %d requests\n",
	       N, (now_s() - t0) * 1000, atomic_load(&f->requests));
	assert_int_equal(res.ok, N);
	assert_int_equal(res.failed, 0);
	assert_int_equal(atomic_load(&f->requests), 2 * N);
	assert_true(atomic_load(&f->connections) <= 8);
	for (int i = 0; i < N; i++)
		free(keys[i]);
	buf_free(&out);
	objstore_close(store);
	fake_stop(f);
}

static int big_sink(void *ctx, const void *data, size_t len)
{
	struct buf *b = ctx;
	buf_append(b, data, len);
	return 0;
}

static void test_broken_transfers(void **state)
{
	(void)state;
	/* a server that ignores Range: the driver cuts the slice itself */
	struct fake_srv *f = fake_start(FAKE_OK);
	struct objstore *store = open_fake(f->port, "");
	struct buf out = BUF_INIT;
	struct objstore_stat st;
	assert_int_equal(objstore_get(store, "a/b", 5, 3, &out, NULL, &st), 0);
	assert_string_equal(buf_cstr(&out), "/bu");
	buf_reset(&out);
	assert_int_equal(objstore_get(store, "a/b", 13, 0, &out, NULL, NULL), 0);
	assert_string_equal(buf_cstr(&out), "pre/a/b");
	objstore_close(store);
	fake_stop(f);

	/* a body that breaks off halfway: a buffered get starts over, a
	 * stream goes on from where it broke (Range), no byte twice */
	for (int streamed = 0; streamed < 2; streamed++) {
		f = fake_start(FAKE_TRUNCATE_ONCE);
		store = open_fake(f->port, "");
		buf_reset(&out);
		if (streamed)
			assert_int_equal(objstore_get_stream(store, "big", 100, 0, big_sink, &out), 0);
		else
			assert_int_equal(objstore_get(store, "big", 100, 0, &out, NULL, &st), 0);
		assert_int_equal(out.len, FAKE_BIG_LEN - 100);
		for (size_t i = 0; i < out.len; i++) {
			if (out.data[i] != fake_big_byte(i + 100))
				fail_msg("byte %zu differs (streamed=%d)", i, streamed);
		}
		if (!streamed)
			assert_int_equal(st.size, FAKE_BIG_LEN);
		assert_int_equal(atomic_load(&f->requests), 2);
		objstore_close(store);
		fake_stop(f);
	}
	buf_free(&out);
}

static void test_parallel_overlap(void **state)
{
	(void)state;
	/* a server that takes 50 ms per answer: only overlapping requests
	 * make get_many fast, whatever the machine's load */
	struct fake_srv *f = fake_start(FAKE_OK);
	f->delay_ms = 50;
	struct objstore *store = open_fake(f->port, "");
	enum { N = 48 };
	char *keys[N];
	for (int i = 0; i < N; i++) {
		char k[32];
		snprintf(k, sizeof(k), "k%03d", i);
		keys[i] = om_strdup(k);
	}
	double t[2];
	unsigned pars[2] = { 1, 16 };
	for (int r = 0; r < 2; r++) {
		struct fake_res res = { 0, 0 };
		atomic_store(&f->max_in_flight, 0);
		double t0 = now_s();
		assert_int_equal(objstore_get_many(store, (const char *const *)keys, N, pars[r],
						   fake_many_done, &res), 0);
		t[r] = now_s() - t0;
		printf("get_many %d keys from a 50 ms server, parallel=%u: %.0f ms, %d in flight at most\n",
		       N, pars[r], t[r] * 1000, atomic_load(&f->max_in_flight));
		assert_int_equal(res.ok, N);
		assert_int_equal(atomic_load(&f->max_in_flight), (int)pars[r]);
	}
	assert_true(t[0] > N * 0.045);
	assert_true(t[1] < t[0] / 4);
	assert_true(atomic_load(&f->connections) <= 16);
	for (int i = 0; i < N; i++)
		free(keys[i]);
	objstore_close(store);
	fake_stop(f);
}

static int tls_get(const char *spec, struct buf *out)
{
	struct objstore *store = NULL;
	char *err = NULL;
	if (objstore_open(spec, &store, &err) != 0)
		fail_msg("open %s: %s", spec, err);
	buf_reset(out);
	int ret = objstore_get(store, "x", 0, 0, out, NULL, NULL);
	objstore_close(store);
	return ret;
}

static void test_tls(void **state)
{
	(void)state;
	/* a throw-away self-signed certificate for 127.0.0.1 and `openssl
	 * s_server -www`, which answers any GET with 200 and a status page */
	char dir[] = "/tmp/s3t-tls-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct buf cmd = BUF_INIT;
	buf_printf(&cmd, "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
		   "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
		   dir, dir);
	if (system(cmd.data) != 0)
		fail_msg("could not make a certificate with the openssl command");
	int port;
	close(listen_any(&port));
	char accept[64], cert[64], key[64];
	snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	char *const argv[] = { "openssl", "s_server", "-quiet", "-www", "-accept", accept,
			       "-cert", cert, "-key", key, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	extern char **environ;
	assert_int_equal(posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	bool up = false;
	for (int i = 0; i < 100 && !up; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		up = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(fd);
		if (!up)
			usleep(50 * 1000);
	}
	struct buf out = BUF_INIT;
	char spec[256];
	if (!up)
		goto done;
	snprintf(spec, sizeof(spec), "s3s://k:s@127.0.0.1:%d/b?check=0&retries=0&verify=0", port);
	assert_int_equal(tls_get(spec, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "s_server"));
	/* verified against the certificate as CA */
	snprintf(spec, sizeof(spec), "s3s://k:s@127.0.0.1:%d/b?check=0&retries=0&cafile=%s", port, cert);
	assert_int_equal(tls_get(spec, &out), 0);
	snprintf(spec, sizeof(spec), "https://k:s@127.0.0.1:%d/b?check=0&retries=0&cafile=%s", port, cert);
	assert_int_equal(tls_get(spec, &out), 0);
	snprintf(spec, sizeof(spec), "s3://k:s@127.0.0.1:%d/b?check=0&retries=0&tls=1&cafile=%s", port,
		 cert);
	assert_int_equal(tls_get(spec, &out), 0);
	/* a self-signed certificate the system does not trust: refused */
	snprintf(spec, sizeof(spec), "s3s://k:s@127.0.0.1:%d/b?check=0&retries=0", port);
	assert_int_equal(tls_get(spec, &out), -OM_EIO);
	printf("TLS: s3s://, https:// and tls=1 fetch over TLS; an untrusted certificate is refused\n");
done:
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(cert);
	unlink(key);
	rmdir(dir);
	buf_free(&cmd);
	buf_free(&out);
	if (!up)
		fail_msg("openssl s_server did not start on port %d", port);
}

static void test_error_mapping(void **state)
{
	(void)state;
	struct buf out = BUF_INIT;
	/* always 503: -OM_ETEMP after 4 tries, about 1 s of backoff */
	struct fake_srv *f = fake_start(FAKE_ALWAYS_503);
	struct objstore *store = open_fake(f->port, "");
	double t0 = now_s();
	assert_int_equal(objstore_get(store, "x", 0, 0, &out, NULL, NULL), -OM_ETEMP);
	double took = now_s() - t0;
	printf("always 503: -OM_ETEMP after %d requests, %.0f ms\n", atomic_load(&f->requests),
	       took * 1000);
	assert_int_equal(atomic_load(&f->requests), 4);
	assert_true(took < 3.0);
	assert_int_equal(objstore_put(store, "x", "1", 1, NULL, 0, NULL, NULL), -OM_ETEMP);
	objstore_close(store);
	/* retries=0: one request */
	atomic_store(&f->requests, 0);
	store = open_fake(f->port, "&retries=0");
	assert_int_equal(objstore_get(store, "x", 0, 0, &out, NULL, NULL), -OM_ETEMP);
	assert_int_equal(atomic_load(&f->requests), 1);
	objstore_close(store);
	fake_stop(f);

	/* 404 and 400 are final at once */
	f = fake_start(FAKE_404);
	store = open_fake(f->port, "");
	assert_int_equal(objstore_get(store, "x", 0, 0, &out, NULL, NULL), -OM_ENOTFOUND);
	assert_int_equal(objstore_head(store, "x", NULL, NULL), -OM_ENOTFOUND);
	assert_int_equal(atomic_load(&f->requests), 2);
	objstore_close(store);
	fake_stop(f);
	f = fake_start(FAKE_400);
	store = open_fake(f->port, "");
	assert_int_equal(objstore_get(store, "x", 0, 0, &out, NULL, NULL), -OM_EIO);
	assert_int_equal(atomic_load(&f->requests), 1);
	objstore_close(store);
	fake_stop(f);
	buf_free(&out);
}

static void test_endpoint_down(void **state)
{
	(void)state;
	/* nothing listens: connection refused at once, four tries */
	int port;
	int fd = listen_any(&port);
	close(fd);
	struct objstore *store = open_fake(port, "&timeout=3s");
	struct buf out = BUF_INIT;
	double t0 = now_s();
	assert_int_equal(objstore_get(store, "x", 0, 0, &out, NULL, NULL), -OM_ETEMP);
	double took = now_s() - t0;
	printf("endpoint down (refused): -OM_ETEMP in %.0f ms\n", took * 1000);
	assert_true(took < 3.5);
	assert_int_equal(objstore_put(store, "x", "1", 1, NULL, 0, NULL, NULL), -OM_ETEMP);
	struct s3t_pattern p = { 0 };
	const char *keys[3] = { "a", "b", "c" };
	assert_int_equal(objstore_get_many(store, keys, 3, 2, s3t_many_done, &p), 0);
	assert_int_equal(p.failed, 3);
	objstore_close(store);

	/* open with the check on: -OM_ETEMP, not a hang */
	char spec[128];
	snprintf(spec, sizeof(spec), "s3://k:s@127.0.0.1:%d/bucket?timeout=2s", port);
	char *err = NULL;
	t0 = now_s();
	assert_int_equal(objstore_open(spec, &store, &err), -OM_ETEMP);
	printf("open against a down endpoint: -OM_ETEMP in %.0f ms: %s\n", (now_s() - t0) * 1000, err);
	free(err);

	/* a black hole: it accepts (the kernel does) but never answers */
	fd = listen_any(&port);
	store = open_fake(port, "&timeout=1500ms");
	t0 = now_s();
	assert_int_equal(objstore_get(store, "x", 0, 0, &out, NULL, NULL), -OM_ETEMP);
	took = now_s() - t0;
	printf("endpoint silent: -OM_ETEMP in %.0f ms (timeout=1500ms)\n", took * 1000);
	assert_true(took >= 1.4 && took < 2.5);
	t0 = now_s();
	memset(&p, 0, sizeof(p));
	assert_int_equal(objstore_get_many(store, keys, 3, 3, s3t_many_done, &p), 0);
	took = now_s() - t0;
	printf("endpoint silent, get_many of 3: all failed in %.0f ms\n", took * 1000);
	assert_int_equal(p.failed, 3);
	assert_true(took < 2.5);
	objstore_close(store);
	close(fd);
	buf_free(&out);
}

int main(void)
{
	s3_spec = getenv("OBJMAIL_TEST_S3");
	if (s3_spec == NULL || s3_spec[0] == '\0') {
		fprintf(stderr,
			"test_objstore_s3: FAIL: OBJMAIL_TEST_S3 is not set.\n"
			"  Start a radosgw and export its spec, e.g.:\n"
			"    scripts/ceph-dev start /tmp/ceph && eval \"$(scripts/ceph-dev env /tmp/ceph)\"\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("S3T_DEBUG") != NULL)
		log_set_level(LOG_LEVEL_DEBUG);
	snprintf(run_prefix, sizeof(run_prefix), "s3t-%d-%ld", (int)getpid(), (long)time(NULL));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_odd_keys),
		cmocka_unit_test(test_cond_put_race),
		cmocka_unit_test(test_if_match),
		cmocka_unit_test(test_big_and_stream),
		cmocka_unit_test(test_bulk_get_many_and_list),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_retry_503_once),
		cmocka_unit_test(test_broken_transfers),
		cmocka_unit_test(test_parallel_overlap),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_error_mapping),
		cmocka_unit_test(test_endpoint_down),
	};
	int failed = cmocka_run_group_tests_name("s3", tests, NULL, NULL);
#ifdef HAVE_CONFORMANCE
	failed += objstore_conformance_run("s3 conformance", s3_spec);
#else
	fprintf(stderr, "test_objstore_s3: FAIL: tests/unit/objstore-conformance.c is missing\n");
	failed++;
#endif
	return failed == 0 ? 0 : 1;
}
