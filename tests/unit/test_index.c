/* LIBS: om_storage om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/index.h"

static char tmpdir[256];
static char dbpath[512];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/om-test-index.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/index.sqlite", tmpdir);
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_index_roundtrip(void **state)
{
	(void)state;
	struct om_index *idx;
	bool created;
	assert_int_equal(index_open(dbpath, &idx, &created), 0);
	assert_true(created);

	struct index_mailbox mb = { .name = (char *)"INBOX", .uidvalidity = 42, .uidnext = 1,
				    .first_recent_uid = 1, .highest_modseq = 1, .special_use = 0 };
	memcpy(mb.guid, "0123456789abcdef0123456789abcdef", 33);
	assert_int_equal(index_mailbox_add(idx, &mb), 0);
	assert_true(mb.id > 0);
	assert_int_equal(index_mailbox_add(idx, &mb), -OM_EEXISTS);

	assert_int_equal(index_begin(idx), 0);
	for (uint32_t uid = 1; uid <= 3; uid++) {
		struct index_msg m = { .rec = { .uid = uid, .flags = uid, .keywords = 1u << uid, .size = 100 * uid,
						.internal_date = 1700000000 + uid, .internal_tz = -120,
						.modseq = uid }, .ddata = (char *)"cur/x" };
		snprintf(m.rec.guid, sizeof(m.rec.guid), "%032u", uid);
		assert_int_equal(index_msg_add(idx, mb.id, &m), 0);
	}
	assert_int_equal(index_commit(idx), 0);
	uint64_t used;
	assert_int_equal(index_quota_used(idx, &used), 0);
	assert_int_equal(used, 600);

	struct index_msg m;
	assert_int_equal(index_msg_get(idx, mb.id, 2, &m), 0);
	assert_int_equal(m.rec.internal_tz, -120);
	m.rec.flags = 16;
	free(m.ddata);
	m.ddata = strdup("cur/y:2,D");
	assert_int_equal(index_msg_update(idx, mb.id, &m), 0);
	index_msg_clear(&m);
	assert_int_equal(index_cache_put(idx, mb.id, 2, "envelope", "E", 1), 0);
	assert_int_equal(index_msg_expunge(idx, mb.id, 1, 5), 0);
	assert_int_equal(index_msg_get(idx, mb.id, 1, &m), -OM_ENOTFOUND);

	assert_int_equal(index_keyword_add(idx, mb.id, 0, "$Label1"), 0);
	assert_int_equal(index_keyword_add(idx, mb.id, 1, "Work"), 0);
	assert_int_equal(index_subs_set(idx, "INBOX", true), 0);
	assert_int_equal(index_meta_set(idx, "k", "v"), 0);
	index_close(idx);

	/* everything survives a reopen */
	assert_int_equal(index_open(dbpath, &idx, &created), 0);
	assert_false(created);
	struct index_msg *msgs;
	size_t n;
	assert_int_equal(index_msgs_get(idx, mb.id, &msgs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(msgs[0].rec.uid, 2);
	assert_int_equal(msgs[0].rec.flags, 16);
	assert_string_equal(msgs[0].ddata, "cur/y:2,D");
	assert_string_equal(msgs[1].rec.guid, "00000000000000000000000000000003");
	index_msgs_free(msgs, n);
	char **names;
	assert_int_equal(index_keywords_get(idx, mb.id, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[1], "Work");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	struct buf b = BUF_INIT;
	assert_int_equal(index_cache_get(idx, mb.id, 2, "envelope", &b), 0);
	assert_string_equal(b.data, "E");
	assert_int_equal(index_meta_get(idx, "k", &b), 0);
	assert_string_equal(b.data, "v");
	assert_int_equal(index_meta_get(idx, "nope", &b), -OM_ENOTFOUND);
	buf_free(&b);

	assert_int_equal(index_mailbox_set_name(idx, mb.id, "Renamed"), 0);
	struct index_mailbox got;
	assert_int_equal(index_mailbox_get(idx, "Renamed", &got), 0);
	assert_int_equal(got.uidvalidity, 42);
	assert_string_equal(got.guid, mb.guid);
	index_mailbox_clear(&got);
	assert_int_equal(index_mailbox_delete(idx, mb.id), 0);
	assert_int_equal(index_mailbox_get_by_id(idx, mb.id, &got), -OM_ENOTFOUND);
	assert_int_equal(index_quota_used(idx, &used), 0);
	assert_int_equal(used, 0);
	index_close(idx);
}

/* Every open user keeps its index connection: its page cache must stay
 * small (sqlite's default is 2 MB per connection). */
static void test_index_cache_bounded(void **state)
{
	(void)state;
	struct om_index *idx;
	assert_int_equal(index_open(dbpath, &idx, NULL), 0);
	sqlite3 *db = index_sqlite(idx);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA cache_size", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int pages_or_kib = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	/* negative: KiB; positive: pages of the page size */
	long long bytes = pages_or_kib < 0 ? -1024LL * pages_or_kib : 4096LL * pages_or_kib;
	assert_true(bytes > 0 && bytes <= 512 * 1024);
	index_close(idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_roundtrip),
		cmocka_unit_test(test_index_cache_bounded),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
