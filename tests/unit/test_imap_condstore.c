/* LIBS: om_imap om_lib */
/* The storage-independent parts of CONDSTORE/QRESYNC, ESEARCH, SEARCHRES
 * and CONTEXT=SEARCH: number sets, mod-sequence values, RETURN options,
 * and the MODSEQ and "$" search keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-condstore.h"
#include "imap/imap-esearch.h"
#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "storage/mail-storage.h"

static const struct imap_parser_limits lim = {
	.max_line = 100000,
	.max_literal = 100000,
	.max_small_literal = 10000,
	.max_depth = 300,
	.max_args = 100000,
};

static struct imap_command *parse_cmd(const char *args)
{
	struct buf line = BUF_INIT;
	buf_printf(&line, "a SEARCH %s\r\n", args);
	struct imap_parser *p = imap_parser_new(&lim);
	size_t consumed, pos = 0;
	enum imap_parse_result r;
	while ((r = imap_parser_run(p, line.data + pos, line.len - pos, &consumed)) ==
	       IMAP_PARSE_CONTINUE)
		pos += consumed;
	if (r != IMAP_PARSE_COMMAND)
		fail_msg("[%s] did not parse: %d %s", args, r, imap_parser_error(p));
	struct imap_command *cmd = imap_parser_take(p);
	imap_parser_free(p);
	buf_free(&line);
	return cmd;
}

static void test_num_set(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	const uint32_t a[] = { 1, 2, 3, 5, 7, 8, 4000000000u };
	imap_write_num_set(&b, a, 7);
	assert_string_equal(buf_cstr(&b), "1:3,5,7:8,4000000000");
	buf_reset(&b);
	imap_write_num_set(&b, a, 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_reset(&b);
	imap_write_num_set(&b, a + 3, 1);
	assert_string_equal(buf_cstr(&b), "5");
	buf_free(&b);
}

static void test_parse_modseq(void **state)
{
	(void)state;
	uint64_t v = 7;
	assert_true(imap_parse_modseq("1", false, &v) && v == 1);
	assert_false(imap_parse_modseq("0", false, &v));
	assert_true(imap_parse_modseq("0", true, &v) && v == 0);
	assert_true(imap_parse_modseq("9223372036854775807", false, &v) &&
		    v == 9223372036854775807ull);
	assert_false(imap_parse_modseq("9223372036854775808", false, &v));
	assert_false(imap_parse_modseq("", false, &v));
	assert_false(imap_parse_modseq("-1", true, &v));
	assert_false(imap_parse_modseq("12a", true, &v));
	assert_false(imap_parse_modseq(NULL, true, &v));
}

static void test_uids_in_ranges(void **state)
{
	(void)state;
	uint32_t uids[] = { 1, 2, 5, 9, 10, 12 };
	struct seq_range *r = NULL;
	size_t n_r = 0;
	assert_true(imap_seqset_parse("2:5,10:*", &r, &n_r));
	size_t n = imap_uids_in_ranges(uids, 6, r, n_r, 11);
	assert_int_equal(n, 3);
	assert_int_equal(uids[0], 2);
	assert_int_equal(uids[1], 5);
	assert_int_equal(uids[2], 10);
	free(r);
	/* "*:3" is "3:*" */
	uint32_t more[] = { 1, 3, 4, 8 };
	assert_true(imap_seqset_parse("*:3", &r, &n_r));
	n = imap_uids_in_ranges(more, 4, r, n_r, 4);
	assert_int_equal(n, 2);
	assert_int_equal(more[0], 3);
	assert_int_equal(more[1], 4);
	free(r);
	/* unordered, overlapping, reversed ranges */
	uint32_t mixed[] = { 1, 2, 3, 6, 8, 9, 20 };
	assert_true(imap_seqset_parse("8:6,1,2:3,7,5:7", &r, &n_r));
	n = imap_uids_in_ranges(mixed, 7, r, n_r, 20);
	assert_int_equal(n, 5);
	assert_int_equal(mixed[3], 6);
	assert_int_equal(mixed[4], 8);
	assert_int_equal(imap_uids_in_ranges(mixed, 0, r, n_r, 20), 0);
	free(r);
}

/* RETURN parsing: "ok <ret bits> <used>" or "bad" */
static void check_return(const char *args, bool ok, unsigned ret, size_t used)
{
	struct imap_command *cmd = parse_cmd(args);
	struct esearch_options o;
	size_t u = 99;
	const char *error = NULL;
	bool r = esearch_parse_return(cmd->args, cmd->n_args, &o, &u, &error);
	if (r != ok)
		fail_msg("[%s]: %d (%s)", args, r, error ? error : "");
	if (ok) {
		if (o.ret != ret || u != used)
			fail_msg("[%s]: ret %x used %zu", args, o.ret, u);
		assert_int_equal(o.esearch, used > 0);
	} else {
		assert_non_null(error);
	}
	imap_command_free(cmd);
}

static void test_return_options(void **state)
{
	(void)state;
	check_return("ALL", true, 0, 0);
	check_return("RETURN () ALL", true, ESEARCH_ALL, 2);
	check_return("RETURN (MIN max Count) ALL", true, ESEARCH_MIN | ESEARCH_MAX | ESEARCH_COUNT, 2);
	check_return("RETURN (SAVE) ALL", true, ESEARCH_SAVE, 2);
	check_return("RETURN (UPDATE) ALL", true, ESEARCH_UPDATE, 2);
	check_return("RETURN (COUNT UPDATE) ALL", true, ESEARCH_COUNT | ESEARCH_UPDATE, 2);
	check_return("RETURN (PARTIAL 1:10) ALL", true, ESEARCH_PARTIAL, 2);
	check_return("RETURN (PARTIAL -1:-10) ALL", true, ESEARCH_PARTIAL, 2);
	check_return("RETURN (PARTIAL 0:10) ALL", false, 0, 0);
	check_return("RETURN (PARTIAL 1:-10) ALL", false, 0, 0);
	check_return("RETURN (PARTIAL 1) ALL", false, 0, 0);
	check_return("RETURN (PARTIAL) ALL", false, 0, 0);
	check_return("RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL", false, 0, 0);
	check_return("RETURN (FOO) ALL", false, 0, 0);
	check_return("RETURN ALL", false, 0, 0);

	struct imap_command *cmd = parse_cmd("RETURN (PARTIAL 10:2) ALL");
	struct esearch_options o;
	size_t u;
	const char *error;
	assert_true(esearch_parse_return(cmd->args, cmd->n_args, &o, &u, &error));
	assert_int_equal(o.partial_lo, 2);
	assert_int_equal(o.partial_hi, 10);
	imap_command_free(cmd);
}

/* Which of 5 messages (UIDs 1..5, modseq 10*uid) match. */
static char *run(const char *keys, const uint32_t *saved, size_t n_saved, bool *has_modseq)
{
	struct imap_command *cmd = parse_cmd(keys);
	struct search_program *prog;
	const char *error;
	struct buf out = BUF_INIT;
	if (search_program_parse(cmd->args, cmd->n_args, &prog, &error) != SEARCH_PARSE_OK) {
		buf_printf(&out, "BAD %s", error);
		imap_command_free(cmd);
		return buf_steal(&out);
	}
	assert_true(search_program_bind(prog, NULL, 0, 5, 5, &error));
	if (saved != NULL)
		search_program_bind_saved(prog, saved, n_saved);
	*has_modseq = search_program_has_modseq(prog);
	struct search_source src = { 0 };
	for (uint32_t i = 1; i <= 5; i++) {
		struct search_msg m = { .seq = i, .uid = i, .modseq = 10 * i };
		if (search_program_match(prog, &m, &src))
			buf_printf(&out, "%s%u", out.len > 0 ? " " : "", i);
	}
	search_program_free(prog);
	imap_command_free(cmd);
	if (out.len == 0)
		buf_append_str(&out, "");
	return buf_steal(&out);
}

static void expect(const char *keys, const uint32_t *saved, size_t n_saved, const char *want,
		   bool want_modseq)
{
	bool has_modseq = false;
	char *got = run(keys, saved, n_saved, &has_modseq);
	if (strcmp(got ? got : "", want) != 0)
		fail_msg("[%s]: got \"%s\", want \"%s\"", keys, got ? got : "", want);
	if (has_modseq != want_modseq)
		fail_msg("[%s]: has_modseq %d", keys, has_modseq);
	free(got);
}

static void test_search_modseq_and_saved(void **state)
{
	(void)state;
	const uint32_t saved[] = { 2, 4, 9 };
	expect("MODSEQ 30", NULL, 0, "3 4 5", true);
	expect("MODSEQ 0", NULL, 0, "1 2 3 4 5", true);
	expect("MODSEQ \"/flags/\\\\seen\" all 41", NULL, 0, "5", true);
	expect("MODSEQ \"/flags/keyword\" priv 20 NOT 5", NULL, 0, "2 3 4", true);
	expect("NOT MODSEQ 31", NULL, 0, "1 2 3", true);
	expect("OR 1 (MODSEQ 50)", NULL, 0, "1 5", true);
	expect("MODSEQ \"/flags/\\\\seen\" bogus 41", NULL, 0, "BAD Invalid MODSEQ entry type",
	       false);
	expect("MODSEQ x", NULL, 0, "BAD Invalid MODSEQ value", false);
	expect("MODSEQ", NULL, 0, "BAD Invalid MODSEQ value", false);
	expect("$", saved, 3, "2 4", false);
	expect("UID $", saved, 3, "2 4", false);
	expect("NOT $", saved, 3, "1 3 5", false);
	expect("$", NULL, 0, "", false);
	expect("$ MODSEQ 40", saved, 3, "4", true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_num_set),
		cmocka_unit_test(test_parse_modseq),
		cmocka_unit_test(test_uids_in_ranges),
		cmocka_unit_test(test_return_options),
		cmocka_unit_test(test_search_modseq_and_saved),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
