/* LIBS: om_director om_objstore om_auth om_lmtp om_lib */
/* Rendezvous hashing and the backend list forms (src/director). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "director/director.h"
#include "lib/om-error.h"
#include "objstore/objstore.h"

#define NUSERS 20000

static struct director_backend mk(const char *addr, unsigned weight)
{
	struct director_backend b;
	assert_int_equal(director_backend_parse_addr(addr, &b), 0);
	b.weight = weight;
	b.healthy = true;
	return b;
}

static void user_name(char *out, size_t len, unsigned i)
{
	snprintf(out, len, "user%u@example.com", i);
}

static void test_hash_fixed(void **state)
{
	(void)state;
	/* the value must never change between builds and machines: directors
	 * of different versions have to agree */
	assert_true(director_hash("alice", "10.0.0.1:143") == director_hash("alice", "10.0.0.1:143"));
	assert_true(director_hash("alice", "10.0.0.1:143") != director_hash("alice", "10.0.0.2:143"));
	assert_true(director_hash("ab", "c") != director_hash("a", "bc"));
	assert_true(director_hash("alice", "10.0.0.1:143") == 0xf3f672f8a5e2c01eULL);
	double s = director_score("alice", "10.0.0.1:143", 100);
	assert_true(s > 0);
	assert_true(director_score("alice", "x", 0) < 0);
}

static void test_stable_and_minimal_moves(void **state)
{
	(void)state;
	struct director_backend b[4] = { mk("10.0.0.1:143/24", 100), mk("10.0.0.2:143/24", 100),
					 mk("10.0.0.3:143/24", 100), mk("10.0.0.4:143/24", 100) };
	int *before = calloc(NUSERS, sizeof(int));
	unsigned count[4] = { 0 };
	char u[64];
	for (unsigned i = 0; i < NUSERS; i++) {
		user_name(u, sizeof(u), i);
		before[i] = director_pick(u, b, 4, false);
		assert_true(before[i] >= 0);
		assert_int_equal(director_pick(u, b, 4, false), before[i]); /* stable */
		count[before[i]]++;
	}
	for (int i = 0; i < 4; i++)
		assert_true(count[i] > NUSERS / 4 * 0.9 && count[i] < NUSERS / 4 * 1.1);

	/* backend 2 goes down: only its users move, spread over the rest */
	b[2].healthy = false;
	unsigned moved = 0, moved_to[4] = { 0 };
	for (unsigned i = 0; i < NUSERS; i++) {
		user_name(u, sizeof(u), i);
		int now = director_pick(u, b, 4, false);
		assert_int_not_equal(now, 2);
		if (before[i] != 2) {
			assert_int_equal(now, before[i]);
		} else {
			moved++;
			moved_to[now]++;
		}
	}
	assert_int_equal(moved, count[2]);
	for (int i = 0; i < 4; i++) {
		if (i != 2)
			assert_true(moved_to[i] > moved / 3 * 0.8 && moved_to[i] < moved / 3 * 1.2);
	}
	/* drained is out the same way; ignore_health sees a down one */
	b[2].healthy = true;
	b[2].drained = true;
	for (unsigned i = 0; i < 2000; i++) {
		user_name(u, sizeof(u), i);
		assert_int_not_equal(director_pick(u, b, 4, true), 2);
	}
	b[2].drained = false;
	b[2].healthy = false;
	for (unsigned i = 0; i < NUSERS; i++) {
		user_name(u, sizeof(u), i);
		assert_int_equal(director_pick(u, b, 4, true), before[i]);
	}
	/* nobody eligible */
	for (int i = 0; i < 4; i++)
		b[i].healthy = false;
	assert_int_equal(director_pick("x", b, 4, false), -1);
	free(before);
}

static void test_added_backend_takes_its_share(void **state)
{
	(void)state;
	struct director_backend b[4] = { mk("10.0.0.1:143/24", 100), mk("10.0.0.2:143/24", 100),
					 mk("10.0.0.3:143/24", 100), mk("10.0.0.4:143/24", 100) };
	char u[64];
	unsigned moved = 0;
	for (unsigned i = 0; i < NUSERS; i++) {
		user_name(u, sizeof(u), i);
		int three = director_pick(u, b, 3, false);
		int four = director_pick(u, b, 4, false);
		if (three != four) {
			assert_int_equal(four, 3); /* moves only to the new one */
			moved++;
		}
	}
	assert_true(moved > NUSERS / 4 * 0.9 && moved < NUSERS / 4 * 1.1);
}

static void test_weights(void **state)
{
	(void)state;
	struct director_backend b[3] = { mk("a:143", 100), mk("b:143", 200), mk("c:143", 300) };
	unsigned count[3] = { 0 };
	char u[64];
	for (unsigned i = 0; i < 60000; i++) {
		user_name(u, sizeof(u), i);
		count[director_pick(u, b, 3, false)]++;
	}
	/* shares 1/6, 2/6, 3/6 within 5 % */
	assert_true(count[0] > 10000 * 0.95 && count[0] < 10000 * 1.05);
	assert_true(count[1] > 20000 * 0.95 && count[1] < 20000 * 1.05);
	assert_true(count[2] > 30000 * 0.95 && count[2] < 30000 * 1.05);
	b[1].weight = 0;
	for (unsigned i = 0; i < 1000; i++) {
		user_name(u, sizeof(u), i);
		assert_int_not_equal(director_pick(u, b, 3, false), 1);
	}
}

static void test_parse_config(void **state)
{
	(void)state;
	struct director_backend *l = NULL;
	size_t n = 0;
	struct buf why = BUF_INIT;
	int r = director_backends_parse_config("10.0.0.1:143/24, 10.0.0.2:1143/2424,"
					       "[::1]:143, host-x",
					       &l, &n, &why);
	if (r != 0)
		fprintf(stderr, "%s\n", buf_cstr(&why));
	assert_int_equal(r, 0);
	assert_int_equal(n, 4);
	assert_string_equal(l[0].id, "10.0.0.1:143");
	assert_int_equal(l[1].imap_port, 1143);
	assert_int_equal(l[1].lmtp_port, 2424);
	assert_string_equal(l[2].host, "::1");
	assert_string_equal(l[2].id, "[::1]:143");
	assert_int_equal(l[3].imap_port, 143);
	assert_int_equal(l[3].lmtp_port, 24);
	assert_int_equal(director_backend_find(l, n, "10.0.0.2"), 1);
	assert_int_equal(director_backend_find(l, n, "10.0.0.2:1143"), 1);
	assert_int_equal(director_backend_find(l, n, "nope"), -1);
	free(l);
	static const char *bad[] = { "10.0.0.1:0", "10.0.0.1:143/99999", "a/b:1", "x:1,x:1", "a!b",
				     "[::1", "h:12x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = NULL;
		buf_reset(&why);
		assert_int_equal(director_backends_parse_config(bad[i], &l, &n, &why), -OM_EINVAL);
		assert_true(why.len > 0);
	}
	buf_free(&why);
}

static void test_store_form_roundtrip(void **state)
{
	(void)state;
	struct director_backend b[2] = { mk("10.0.0.1:143/24", 100), mk("10.0.0.2:1143/2424", 7) };
	b[1].drained = true;
	b[1].updated = 1700000000;
	struct buf text = BUF_INIT, why = BUF_INIT;
	director_backends_format(b, 2, &text);
	struct director_backend *l = NULL;
	size_t n = 0;
	assert_int_equal(director_backends_parse(text.data, text.len, &l, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_string_equal(l[1].id, "10.0.0.2:1143");
	assert_int_equal(l[1].weight, 7);
	assert_true(l[1].drained);
	assert_false(l[0].drained);
	assert_int_equal(l[1].updated, 1700000000);
	free(l);
	const char *junk = "backend h 1 2 weight=3 future=ok\nbogus line\n";
	assert_int_equal(director_backends_parse(junk, strlen(junk), &l, &n, &why), -OM_EINVAL);
	assert_non_null(strstr(buf_cstr(&why), "line 2"));
	buf_free(&text);
	buf_free(&why);
}

static int add_edit(struct director_backend **list, size_t *n, void *ctx, struct buf *why)
{
	(void)why;
	struct director_backend b;
	if (director_backend_parse_addr(ctx, &b) != 0)
		return -OM_EINVAL;
	*list = om_reallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = b;
	return 0;
}

static void test_store_update(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_director.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct buf spec = BUF_INIT, why = BUF_INIT;
	buf_printf(&spec, "file:%s", dir);
	struct objstore *st = NULL;
	char *err = NULL;
	assert_int_equal(objstore_open(buf_cstr(&spec), &st, &err), 0);
	struct director_backend *l = NULL;
	size_t n = 9;
	char etag[80];
	assert_int_equal(director_store_load(st, &l, &n, etag, &why), 0);
	assert_int_equal(n, 0);
	assert_int_equal(director_store_update(st, add_edit, "h1:143/24", &why), 0);
	assert_int_equal(director_store_update(st, add_edit, "h2:143/24", &why), 0);
	assert_int_equal(director_store_load(st, &l, &n, etag, &why), 0);
	assert_int_equal(n, 2);
	assert_string_equal(l[1].id, "h2:143");
	assert_true(etag[0] != '\0');
	free(l);
	objstore_close(st);
	buf_free(&spec);
	buf_free(&why);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_fixed),
		cmocka_unit_test(test_stable_and_minimal_moves),
		cmocka_unit_test(test_added_backend_takes_its_share),
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_parse_config),
		cmocka_unit_test(test_store_form_roundtrip),
		cmocka_unit_test(test_store_update),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
