/* LIBS: om_storage om_lib */
/* The full-text rows and sort fields in the user's index (storage/fts.h),
 * on the maildir driver in a temporary directory: filled at append and
 * copy, gone with an expunge, built lazily for mail that arrived behind
 * the index's back, rebuilt by fts_rescan_user; candidate lookups with
 * substring semantics on folded text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/fts.h"
#include "storage/mail-storage.h"

static char tmpdir[256];
static struct om_config cfg;

static const char m1[] = "From: \"Ann Lee\" <ann@example.com>\r\nTo: bob@example.com\r\n"
			 "Subject: Re: [x] Budget Plans\r\nDate: Tue, 2 Mar 2021 09:00:00 +0100\r\n"
			 "Message-ID: <m1@x>\r\nReferences: <r0@x> <r1@x>\r\n\r\n"
			 "Grand Total: 42\r\nMore TEXT here\r\n";
static const char m2[] = "From: c@example.org\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
			 "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
			 "--B\nContent-Type: text/plain; charset=utf-8\n"
			 "Content-Transfer-Encoding: base64\n\nw5xCRVIgYWxsZXM=\n"
			 "--B\nContent-Type: application/pdf; name=plan.pdf\n\nPDFDATA zebra\n--B--\n";

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/om-test-fts.XXXXXX");
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
	config_free(&cfg);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint32_t append(struct mail_user *u, const char *box, const char *data)
{
	struct mail_save save = { .data = data, .len = strlen(data) };
	uint32_t uidv, uid;
	assert_int_equal(mailbox_append(u, box, &save, &uidv, &uid), 0);
	return uid;
}

static bool has(const uint32_t *uids, size_t n, uint32_t uid)
{
	for (size_t i = 0; i < n; i++) {
		if (uids[i] == uid)
			return true;
	}
	return false;
}

/* UIDs whose `cols` contain needle, per the index. */
static size_t cand(struct mailbox *box, unsigned cols, const char *needle, uint32_t *first_r)
{
	uint32_t *m, *idx;
	size_t nm, ni;
	assert_int_equal(fts_candidates(box, cols, needle, strlen(needle), &m, &nm, &idx, &ni), 0);
	*first_r = nm > 0 ? m[0] : 0;
	free(m);
	free(idx);
	return nm;
}

static void test_fill_and_lookup(void **state)
{
	(void)state;
	struct mail_user *u;
	assert_int_equal(mail_user_open(&cfg, "ann", NULL, &u), 0);
	uint32_t u1 = append(u, "INBOX", m1), u2 = append(u, "INBOX", m2);
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);

	struct fts_doc doc;
	assert_int_equal(fts_doc_get(box, u1, &doc), 0);
	assert_non_null(strstr(doc.body.data, "grand total: 42"));  /* folded */
	struct buf v = BUF_INIT;
	assert_true(fts_doc_header(&doc, "SUBJECT", &v));
	assert_string_equal(buf_cstr(&v), "re: [x] budget plans");
	buf_reset(&v);
	assert_false(fts_doc_header(&doc, "Cc", &v));
	fts_doc_free(&doc);

	assert_int_equal(fts_doc_get(box, u2, &doc), 0);
	assert_non_null(strstr(doc.body.data, "\xc3\xbc" "ber alles"));  /* base64, folded */
	assert_null(strstr(doc.body.data, "zebra"));                     /* not a text part */
	assert_non_null(strstr(doc.parts.data, "plan.pdf"));              /* part header */
	assert_true(fts_doc_header(&doc, "subject", &v));
	assert_string_equal(buf_cstr(&v), "gr\xc3\xbc\xc3\x9f" "e");
	fts_doc_free(&doc);
	buf_free(&v);

	uint32_t first;
	assert_int_equal(cand(box, FTS_COL_BODY, "TOTAL", &first), 1);
	assert_int_equal(first, u1);
	assert_int_equal(cand(box, FTS_COL_BODY, "\xc3\x9c" "BER", &first), 1);
	assert_int_equal(first, u2);
	assert_int_equal(cand(box, FTS_COL_BODY, "plan.pdf", &first), 0);
	assert_int_equal(cand(box, FTS_COL_PARTS, "plan.pdf", &first), 1);
	assert_int_equal(cand(box, FTS_COL_HDR | FTS_COL_BODY, "\"quoted\" x", &first), 0);
	uint32_t *m, *idx;
	size_t nm, ni;
	assert_int_equal(fts_candidates(box, FTS_COL_BODY, "ab", 2, &m, &nm, &idx, &ni), -OM_EINVAL);
	assert_int_equal(fts_candidates(box, FTS_COL_BODY, "a\nbc", 4, &m, &nm, &idx, &ni),
			 -OM_EINVAL);

	struct mail_sort_fields sf;
	assert_int_equal(mail_sort_fields_get(box, u1, &sf), 0);
	assert_true(sf.has_date);
	assert_int_equal(sf.date, 1614672000);
	assert_int_equal(sf.tz, 60);
	assert_string_equal(buf_cstr(&sf.subject), "budget plans");
	assert_true(sf.subject_reply);
	assert_string_equal(buf_cstr(&sf.from), "ann");
	assert_string_equal(buf_cstr(&sf.dfrom), "ann lee");
	assert_string_equal(buf_cstr(&sf.to), "bob");
	assert_string_equal(buf_cstr(&sf.dto), "bob@example.com");
	assert_string_equal(buf_cstr(&sf.message_id), "<m1@x>");
	assert_string_equal(buf_cstr(&sf.references), "<r0@x> <r1@x>");
	mail_sort_fields_free(&sf);

	/* copy carries the rows; expunge drops them */
	uint32_t *src, *dst;
	size_t n;
	uint32_t uidv;
	assert_int_equal(mail_user_create_mailbox(u, "Other", 0), 0);
	assert_int_equal(mailbox_copy(box, &u1, 1, "Other", false, &uidv, &src, &dst, &n), 0);
	assert_int_equal(n, 1);
	struct mailbox *other;
	assert_int_equal(mailbox_open(u, "Other", false, &other), 0);
	assert_int_equal(cand(other, FTS_COL_BODY, "total", &first), 1);
	assert_int_equal(first, dst[0]);
	free(src);
	free(dst);
	assert_int_equal(mailbox_expunge(box, &u1, 1), 0);
	assert_int_equal(fts_candidates(box, FTS_COL_BODY, "total", 5, &m, &nm, &idx, &ni), 0);
	assert_int_equal(nm, 0);
	assert_false(has(idx, ni, u1));
	assert_true(has(idx, ni, u2));
	free(m);
	free(idx);

	/* rescan rebuilds everything */
	unsigned count = 0;
	assert_int_equal(fts_rescan_user(u, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(cand(other, FTS_COL_BODY, "total", &first), 1);
	assert_int_equal(cand(box, FTS_COL_BODY, "alles", &first), 1);
	mailbox_close(other);
	mailbox_close(box);
	mail_user_unref(u);
}

static void test_lazy(void **state)
{
	(void)state;
	struct mail_user *u;
	assert_int_equal(mail_user_open(&cfg, "lazy", NULL, &u), 0);
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	/* a message dropped into the Maildir by someone else */
	char path[512];
	snprintf(path, sizeof(path), "%s/lazy/Maildir/new/1.M1P1.test", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("Subject: outside\n\nwritten behind the index\n", f);
	fclose(f);
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(box, &snap), 0);
	assert_int_equal(snap->count, 1);
	uint32_t uid = snap->recs[0].uid;
	mailbox_snapshot_free(snap);
	uint32_t first;
	assert_int_equal(cand(box, FTS_COL_BODY, "behind", &first), 0);  /* not indexed yet */
	struct fts_doc doc;
	assert_int_equal(fts_doc_get(box, uid, &doc), 0);                 /* reads and indexes */
	fts_doc_free(&doc);
	assert_int_equal(cand(box, FTS_COL_BODY, "behind", &first), 1);
	assert_int_equal(fts_doc_get(box, 999, &doc), -OM_ENOTFOUND);
	mailbox_close(box);
	mail_user_unref(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_and_lookup),
		cmocka_unit_test(test_lazy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
