/* LIBS: om_storage om_lib */
/* The storage layer's fast paths (doc/benchmarks.md): LF->CRLF conversion,
 * lingering users, the unchanged-subscriptions skip and the per-connection
 * statement cache must not change what callers see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/mail-storage-private.h"

static char tmpdir[256];
static struct om_config cfg;

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/om-test-storage-perf.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	config_defaults(&cfg);
	free(cfg.mail_location);
	struct buf b = BUF_INIT;
	buf_printf(&b, "maildir:%s/%%n/Maildir", tmpdir);
	cfg.mail_location = buf_steal(&b);
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mail_storage_set_linger(0);
	config_free(&cfg);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* the byte-by-byte definition the fast version must match */
static void crlf_ref(const char *d, size_t len, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r'))
			buf_append_c(out, '\r');
		buf_append_c(out, d[i]);
	}
}

static void test_crlf(void **state)
{
	(void)state;
	static const char *const cases[] = {
		"", "\n", "\r\n", "a", "a\n", "\na", "a\r\nb\nc", "\n\n\r\n\n", "\r", "x\r\r\n\ny",
		"no newline at all", "From: a\nSubject: b\n\nbody\n",
	};
	struct buf out = BUF_INIT, ref = BUF_INIT;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i]);
		mail_data_to_crlf(cases[i], len, &out);
		crlf_ref(cases[i], len, &ref);
		assert_int_equal(out.len, ref.len);
		assert_memory_equal(out.data, buf_cstr(&ref), ref.len);
		assert_int_equal(out.data[out.len], '\0');
		assert_int_equal(mail_data_crlf_size(cases[i], len), ref.len);
	}
	/* random mixes, and a buffer that had content before */
	srand(7);
	char big[4096];
	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)rand() % sizeof(big);
		for (size_t i = 0; i < len; i++) {
			int r = rand() % 8;
			big[i] = r == 0 ? '\n' : r == 1 ? '\r' : (char)('a' + r);
		}
		mail_data_to_crlf(big, len, &out);
		crlf_ref(big, len, &ref);
		assert_int_equal(out.len, ref.len);
		assert_memory_equal(out.data, buf_cstr(&ref), ref.len);
	}
	buf_free(&out);
	buf_free(&ref);
}

static struct mail_user *open_user(const char *name)
{
	struct mail_user *u = NULL;
	assert_int_equal(mail_user_open(&cfg, name, NULL, &u), 0);
	assert_non_null(u);
	return u;
}

static void append_one(struct mail_user *u, const char *text)
{
	struct mail_save save = { .data = text, .len = strlen(text), .internal_date = 1700000000 };
	uint32_t uidv, uid;
	assert_int_equal(mailbox_append(u, "INBOX", &save, &uidv, &uid), 0);
}

static bool file_exists(const char *fmt, const char *user)
{
	char path[512];
	snprintf(path, sizeof(path), fmt, tmpdir, user);
	struct stat st;
	return stat(path, &st) == 0;
}

static void test_linger(void **state)
{
	(void)state;
	/* without linger (the default): the last unref closes, the WAL goes */
	struct mail_user *u = open_user("nolinger");
	append_one(u, "Subject: a\n\nx\n");
	mail_user_unref(u);
	assert_false(file_exists("%s/%s/Maildir/objmail-index.sqlite-wal", "nolinger"));

	mail_storage_set_linger(5);
	u = open_user("linger");
	append_one(u, "Subject: a\n\nx\n");
	mail_user_unref(u);
	/* still open: the same user comes back, its index was not closed */
	assert_true(file_exists("%s/%s/Maildir/objmail-index.sqlite-wal", "linger"));
	struct mail_user *u2 = open_user("linger");
	assert_ptr_equal(u, u2);
	assert_int_equal(mail_user_refs(u2), 1);
	append_one(u2, "Subject: b\n\ny\n");
	struct mailbox_status st;
	assert_int_equal(mail_user_mailbox_status(u2, "INBOX", &st), 0);
	assert_int_equal(st.messages, 2);
	mail_user_unref(u2);
	/* 0 closes what lingers, at once */
	mail_storage_set_linger(0);
	assert_false(file_exists("%s/%s/Maildir/objmail-index.sqlite-wal", "linger"));
	u = open_user("linger");
	assert_int_equal(mail_user_mailbox_status(u, "INBOX", &st), 0);
	assert_int_equal(st.messages, 2);
	mail_user_unref(u);

	/* the closer thread closes a user after its time */
	mail_storage_set_linger(1);
	u = open_user("expire");
	mail_user_unref(u);
	assert_true(file_exists("%s/%s/Maildir/objmail-index.sqlite-wal", "expire"));
	for (int i = 0; i < 60 && file_exists("%s/%s/Maildir/objmail-index.sqlite-wal", "expire"); i++)
		usleep(100 * 1000);
	assert_false(file_exists("%s/%s/Maildir/objmail-index.sqlite-wal", "expire"));
	mail_storage_set_linger(0);
}

static void test_subscriptions_external(void **state)
{
	(void)state;
	struct mail_user *u = open_user("subs");
	assert_int_equal(mail_user_create_mailbox(u, "Lists", 0), 0);
	assert_int_equal(mail_user_subscribe(u, "Lists", true), 0);
	mail_user_unref(u);
	/* unchanged file: reopen keeps the same set */
	u = open_user("subs");
	char **names;
	size_t n;
	assert_int_equal(mail_user_list_subscriptions(u, &names, &n), 0);
	assert_int_equal(n, 6);
	mail_names_free(names, n);
	mail_user_unref(u);
	/* changed by someone else (Dovecot): the index follows */
	char path[512];
	snprintf(path, sizeof(path), "%s/subs/Maildir/subscriptions", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("V\t2\n\nINBOX\nLists\n", f);
	fclose(f);
	u = open_user("subs");
	assert_int_equal(mail_user_list_subscriptions(u, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "INBOX");
	assert_string_equal(names[1], "Lists");
	mail_names_free(names, n);
	mail_user_unref(u);
}

static void test_stmt_cache(void **state)
{
	(void)state;
	/* many statements of many kinds, nested uses, across a close */
	struct mail_user *u = open_user("stmts");
	for (int i = 0; i < 30; i++) {
		char text[64];
		snprintf(text, sizeof(text), "Subject: m%d\n\nbody %d\n", i, i);
		append_one(u, text);
	}
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	for (int pass = 0; pass < 3; pass++) {
		for (uint32_t uid = 1; uid <= 30; uid++) {
			struct mail_data md;
			assert_int_equal(mailbox_msg_open(box, uid, &md), 0);
			char want[32];
			snprintf(want, sizeof(want), "body %u\r\n", uid - 1);
			assert_non_null(strstr(md.data, want));
			mail_data_release(&md);
			char field[16];
			snprintf(field, sizeof(field), "f%d", pass);
			mailbox_cache_put(box, uid, field, "v", 1);
			struct buf v = BUF_INIT;
			assert_int_equal(mailbox_cache_get(box, uid, field, &v), 0);
			assert_string_equal(buf_cstr(&v), "v");
			buf_free(&v);
		}
		uint32_t uids[] = { 2, 4, 6 };
		struct mail_rec *recs;
		size_t n;
		const char *kw[] = { "k1" };
		assert_int_equal(mailbox_store(box, uids, 3, MAIL_FLAGS_ADD, MAIL_SEEN, kw, 1, &recs, &n), 0);
		assert_int_equal(n, 3);
		free(recs);
	}
	uint32_t gone[] = { 2, 4, 6 };
	assert_int_equal(mailbox_expunge(box, gone, 3), 0);
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(box, &snap), 0);
	mailbox_snapshot_free(snap);
	mailbox_close(box);
	struct mailbox_status st;
	assert_int_equal(mail_user_mailbox_status(u, "INBOX", &st), 0);
	assert_int_equal(st.messages, 27);
	mail_user_unref(u);
	u = open_user("stmts");
	assert_int_equal(mail_user_mailbox_status(u, "INBOX", &st), 0);
	assert_int_equal(st.messages, 27);
	mail_user_unref(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crlf),
		cmocka_unit_test_setup_teardown(test_linger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscriptions_external, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stmt_cache, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
