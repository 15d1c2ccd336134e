/* LIBS: om_objstore om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "objstore-conformance.c"

#include <fcntl.h>
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

int main(void)
{
	int failed = 0;
	char *dir = make_tmpdir("file");
	struct buf spec = BUF_INIT;

	buf_printf(&spec, "file:%s", dir);
	failed += objstore_conformance_run("conformance file:", spec.data);
	buf_reset(&spec);
	buf_printf(&spec, "faulty:rate=0:file:%s/faulty", dir);
	failed += objstore_conformance_run("conformance faulty:rate=0", spec.data);

	g_dir = dir;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_faulty_rate1),
		cmocka_unit_test(test_faulty_ops_delay_phase),
		cmocka_unit_test(test_faulty_ctl),
	};
	failed += cmocka_run_group_tests_name("objstore drivers", tests, NULL, NULL);

	buf_free(&spec);
	rm_rf(dir);
	free(dir);
	return failed;
}
