/* LIBS: om_imap om_mime om_lib */
/* THREAD ORDEREDSUBJECT and REFERENCES (RFC 5256 3) on small hand-built
 * sets: reference chains, dummies, loops, duplicate IDs, subject merging,
 * date ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-thread.h"
#include "lib/buf.h"

#define M(seq_, date_, id_, refs_, irt_, subj_, re_)                                     \
	{ .seq = (seq_), .uid = (seq_) + 100, .date = (date_), .message_id = (id_),      \
	  .references = (refs_), .in_reply_to = (irt_), .subject = (subj_),              \
	  .subject_reply = (re_) }

static void check(const struct thread_msg *msgs, size_t n, enum thread_algo algo, const char *want)
{
	struct buf out = BUF_INIT;
	thread_write(msgs, n, algo, false, &out);
	if (strcmp(buf_cstr(&out), want) != 0)
		fail_msg("thread: %s\n  want: %s", buf_cstr(&out), want);
	buf_free(&out);
}

static void test_msgids(void **state)
{
	(void)state;
	struct buf out = BUF_INIT;
	assert_int_equal(thread_parse_msgids("<a@b> junk <c@d>\t<bad> <e f@g> <x@y>", &out), 3);
	assert_string_equal(out.data, "a@b");
	assert_string_equal(out.data + 4, "c@d");
	assert_string_equal(out.data + 8, "x@y");
	buf_reset(&out);
	assert_int_equal(thread_parse_msgids(NULL, &out), 0);
	assert_int_equal(thread_parse_msgids("<<a@b>", &out), 1);
	buf_free(&out);
}

static void test_references_chain(void **state)
{
	(void)state;
	struct thread_msg m[] = {
		M(1, 100, "<1@x>", NULL, NULL, "a", false),
		M(2, 200, "<2@x>", "<1@x>", NULL, "a", true),
		M(3, 300, "<3@x>", "<1@x> <2@x>", NULL, "a", true),
		M(4, 250, "<4@x>", "<1@x>", NULL, "a", true),
		M(5, 50, "<5@x>", NULL, NULL, "other", false),
	};
	check(m, 5, THREAD_REFERENCES, "(5)(1 (2 3)(4))");
	/* UIDs */
	struct buf out = BUF_INIT;
	thread_write(m, 2, THREAD_REFERENCES, true, &out);
	assert_string_equal(buf_cstr(&out), "(101 102)");
	buf_free(&out);
}

static void test_references_dummy(void **state)
{
	(void)state;
	/* two replies to a missing parent: kept under a dummy at the root */
	struct thread_msg m[] = {
		M(1, 100, "<1@x>", "<0@x>", NULL, "q", true),
		M(2, 50, "<2@x>", "<0@x>", NULL, "q", true),
		M(3, 10, "<3@x>", NULL, "<1@x>", "q", true),
	};
	check(m, 3, THREAD_REFERENCES, "((2)(1 3))");
	/* a missing parent with one child: the child is promoted */
	struct thread_msg m2[] = {
		M(1, 100, "<1@x>", "<0@x>", NULL, "q", true),
		M(2, 200, "<2@x>", "<z@x> <1@x>", NULL, "r", true),
	};
	check(m2, 2, THREAD_REFERENCES, "(1 2)");
}

static void test_references_loops_dups(void **state)
{
	(void)state;
	struct thread_msg m[] = {
		M(1, 100, "<1@x>", "<2@x>", NULL, "a", false),
		M(2, 200, "<2@x>", "<1@x>", NULL, "b", false),
		M(3, 300, "<1@x>", NULL, NULL, "c", false), /* duplicate ID */
		M(4, 400, NULL, "<3@x> <3@x>", NULL, "d", false),
		M(5, 500, "<5@x>", "<5@x>", NULL, "e", false), /* self reference */
	};
	struct buf out = BUF_INIT;
	thread_write(m, 5, THREAD_REFERENCES, false, &out);
	/* every message appears once; no crash, no loop */
	const char *s = buf_cstr(&out);
	for (char c = '1'; c <= '5'; c++) {
		const char *p = strchr(s, c);
		assert_non_null(p);
		assert_null(strchr(p + 1, c));
	}
	buf_free(&out);
}

static void test_references_subjects(void **state)
{
	(void)state;
	/* unrelated by references, merged by base subject: a reply goes under
	 * the non-reply; two non-replies get a dummy */
	struct thread_msg m[] = {
		M(1, 100, "<1@x>", NULL, NULL, "meeting", false),
		M(2, 200, "<2@x>", NULL, NULL, "meeting", true),
		M(3, 300, "<3@x>", NULL, NULL, "lunch", false),
		M(4, 400, "<4@x>", NULL, NULL, "lunch", false),
		M(5, 500, "<5@x>", NULL, NULL, "", false),
		M(6, 600, "<6@x>", NULL, NULL, "", false),
	};
	check(m, 6, THREAD_REFERENCES, "(1 2)((3)(4))(5)(6)");
}

static void test_orderedsubject(void **state)
{
	(void)state;
	struct thread_msg m[] = {
		M(1, 300, NULL, NULL, NULL, "b", false),
		M(2, 100, NULL, NULL, NULL, "a", false),
		M(3, 200, NULL, NULL, NULL, "b", true),
		M(4, 400, NULL, NULL, NULL, "a", true),
		M(5, 150, NULL, NULL, NULL, "a", true),
		M(6, 50, NULL, NULL, NULL, "c", false),
	};
	check(m, 6, THREAD_ORDEREDSUBJECT, "(6)(2 (5)(4))(3 1)");
	check(m, 0, THREAD_ORDEREDSUBJECT, "");
}

/* A hostile chain far deeper than THREAD_MAX_DEPTH: cut, no stack
 * exhaustion, every message once. */
static void test_deep_chain(void **state)
{
	(void)state;
	size_t n = 20000;
	struct thread_msg *m = calloc(n, sizeof(*m));
	char (*ids)[32] = calloc(n, sizeof(*ids));
	char (*refs)[32] = calloc(n, sizeof(*refs));
	assert_non_null(m);
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "<%zu@deep>", i);
		if (i > 0)
			snprintf(refs[i], sizeof(refs[i]), "<%zu@deep>", i - 1);
		m[i] = (struct thread_msg){ .seq = (uint32_t)(i + 1), .uid = (uint32_t)(i + 1),
					    .date = (int64_t)i, .message_id = ids[i],
					    .in_reply_to = i > 0 ? refs[i] : NULL, .subject = "deep",
					    .subject_reply = i > 0 };
	}
	struct buf out = BUF_INIT;
	thread_write(m, n, THREAD_REFERENCES, false, &out);
	/* 20000 messages in threads of at most 1001 */
	size_t opens = 0;
	for (size_t i = 0; i < out.len; i++)
		opens += out.data[i] == '(';
	assert_true(opens >= n / (THREAD_MAX_DEPTH + 1));
	assert_non_null(strstr(out.data, " 20000"));
	buf_free(&out);
	free(m);
	free(ids);
	free(refs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msgids),
		cmocka_unit_test(test_references_chain),
		cmocka_unit_test(test_references_dummy),
		cmocka_unit_test(test_references_loops_dups),
		cmocka_unit_test(test_references_subjects),
		cmocka_unit_test(test_orderedsubject),
		cmocka_unit_test(test_deep_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
