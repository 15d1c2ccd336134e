/* LIBS: om_storage om_objstore om_lib */
/* The storage calls behind CONDSTORE/QRESYNC, on maildir and on obox (over
 * a file: store): mailbox_store_unchanged leaves messages changed after
 * the given modseq alone and lists them; mailbox_vanished_since lists the
 * UIDs expunged after a modseq, also after the index was rebuilt from
 * the store (obox, the local cache lost). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

static char tmpdir[256];
static struct om_config cfg;

static const char msg[] = "From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n";

static int setup_common(bool obox)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/om-test-condstore.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	config_defaults(&cfg);
	struct buf b = BUF_INIT;
	if (obox)
		buf_printf(&b, "obox:%s/cache", tmpdir);
	else
		buf_printf(&b, "maildir:%s/%%n", tmpdir);
	free(cfg.mail_location);
	cfg.mail_location = buf_steal(&b);
	if (obox) {
		buf_printf(&b, "file:%s/objects", tmpdir);
		free(cfg.objstore);
		cfg.objstore = buf_steal(&b);
	}
	buf_free(&b);
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static int setup_maildir(void **state)
{
	(void)state;
	return setup_common(false);
}

static int setup_obox(void **state)
{
	(void)state;
	return setup_common(true);
}

static int teardown(void **state)
{
	(void)state;
	mail_storage_shutdown();
	config_free(&cfg);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint64_t modseq_of(struct mailbox *box, uint32_t uid)
{
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(box, &snap), 0);
	uint64_t m = 0;
	for (size_t i = 0; i < snap->count; i++)
		if (snap->recs[i].uid == uid)
			m = snap->recs[i].modseq;
	mailbox_snapshot_free(snap);
	return m;
}

static void test_store_unchanged_and_vanished(void **state)
{
	(void)state;
	struct mail_user *u;
	struct mailbox *box;
	assert_int_equal(mail_user_open(&cfg, "cs", NULL, &u), 0);
	struct mail_save save = { .data = msg, .len = sizeof(msg) - 1 };
	for (int i = 0; i < 5; i++) {
		uint32_t uv, uid;
		assert_int_equal(mailbox_append(u, "INBOX", &save, &uv, &uid), 0);
		assert_int_equal(uid, (uint32_t)i + 1);
	}
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	uint64_t base = modseq_of(box, 5);
	assert_true(base > 0);

	/* another change to UID 3 after `base` */
	uint32_t three = 3;
	struct mail_rec *recs;
	size_t n;
	assert_int_equal(mailbox_store(box, &three, 1, MAIL_FLAGS_ADD, MAIL_FLAGGED, NULL, 0,
				       &recs, &n), 0);
	free(recs);
	uint64_t m3 = modseq_of(box, 3);
	assert_true(m3 > base);

	uint32_t all[] = { 1, 2, 3, 4, 5, 9 };
	uint32_t *failed;
	size_t n_failed;
	assert_int_equal(mailbox_store_unchanged(box, all, 6, base, MAIL_FLAGS_ADD, MAIL_SEEN, NULL,
						 0, &recs, &n, &failed, &n_failed), 0);
	assert_int_equal(n_failed, 1);
	assert_int_equal(failed[0], 3);
	assert_int_equal(n, 4); /* 9 does not exist */
	for (size_t i = 0; i < n; i++) {
		assert_int_not_equal(recs[i].uid, 3);
		assert_true((recs[i].flags & MAIL_SEEN) != 0);
		assert_true(recs[i].modseq > m3);
	}
	free(recs);
	free(failed);
	assert_int_equal(modseq_of(box, 3), m3); /* untouched */

	/* 0 fails everything; UINT64_MAX passes everything */
	assert_int_equal(mailbox_store_unchanged(box, all, 5, 0, MAIL_FLAGS_ADD, MAIL_DRAFT, NULL, 0,
						 &recs, &n, &failed, &n_failed), 0);
	assert_int_equal(n_failed, 5);
	assert_int_equal(n, 0);
	free(recs);
	free(failed);
	assert_int_equal(mailbox_store_unchanged(box, all, 5, UINT64_MAX, MAIL_FLAGS_ADD, MAIL_DRAFT,
						 NULL, 0, &recs, &n, &failed, &n_failed), 0);
	assert_int_equal(n_failed, 0);
	assert_null(failed);
	assert_int_equal(n, 5);
	free(recs);

	/* expunges: 2 and 4 now, 5 later */
	uint64_t before = modseq_of(box, 1);
	uint32_t gone[] = { 2, 4 };
	assert_int_equal(mailbox_expunge(box, gone, 2), 0);
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(box, &snap), 0);
	uint64_t mid = snap->highest_modseq;
	mailbox_snapshot_free(snap);
	uint32_t five = 5;
	assert_int_equal(mailbox_expunge(box, &five, 1), 0);

	uint32_t *v;
	assert_int_equal(mailbox_vanished_since(box, before, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0], 2);
	assert_int_equal(v[1], 4);
	assert_int_equal(v[2], 5);
	free(v);
	assert_int_equal(mailbox_vanished_since(box, mid, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0], 5);
	free(v);
	assert_int_equal(mailbox_sync(box, &snap), 0);
	assert_int_equal(mailbox_vanished_since(box, snap->highest_modseq, &v, &n), 0);
	mailbox_snapshot_free(snap);
	assert_int_equal(n, 0);
	free(v);

	mailbox_close(box);
	mail_user_unref(u);

	if (strncmp(cfg.mail_location, "obox:", 5) != 0)
		return;
	/* obox: the expunge records come back with the index from the store */
	mail_storage_shutdown();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/cache'", tmpdir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(mail_user_open(&cfg, "cs", NULL, &u), 0);
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	assert_int_equal(mailbox_vanished_since(box, before, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0], 2);
	assert_int_equal(v[2], 5);
	free(v);
	mailbox_close(box);
	mail_user_unref(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_unchanged_and_vanished, setup_maildir,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_unchanged_and_vanished, setup_obox,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
