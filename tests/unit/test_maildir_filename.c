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

#include "lib/om-error.h"
#include "storage/maildir/maildir.h"

static void test_parse_dovecot(void **state)
{
	(void)state;
	struct maildir_filename fn;
	const char *name = "1795873287.M186069P14840.vm,S=96,W=103:2,Fab";
	maildir_filename_parse(name, &fn);
	assert_int_equal(fn.base_len, strlen("1795873287.M186069P14840.vm,S=96,W=103"));
	assert_true(fn.have_info);
	assert_true(fn.have_size);
	assert_true(fn.have_vsize);
	assert_int_equal(fn.size, 96);
	assert_int_equal(fn.vsize, 103);
	assert_int_equal(fn.flags, MAIL_FLAGGED);
	assert_int_equal(fn.kw_letters, 0x3);
	assert_string_equal(fn.other, "");

	maildir_filename_parse("1.M1P1.h,S=5,W=7:2,DRSTz", &fn);
	assert_int_equal(fn.flags, MAIL_DRAFT | MAIL_ANSWERED | MAIL_SEEN | MAIL_DELETED);
	assert_int_equal(fn.kw_letters, 1u << 25);
}

static void test_parse_odd_names(void **state)
{
	(void)state;
	struct maildir_filename fn;
	/* no ":2," at all (new/) */
	maildir_filename_parse("1234.5678.host", &fn);
	assert_false(fn.have_info);
	assert_false(fn.have_size);
	assert_int_equal(fn.base_len, strlen("1234.5678.host"));
	assert_int_equal(fn.flags, 0);
	/* Courier: only S= */
	maildir_filename_parse("1234.M5P6.host,S=1234:2,S", &fn);
	assert_true(fn.have_size);
	assert_false(fn.have_vsize);
	assert_int_equal(fn.size, 1234);
	assert_int_equal(fn.flags, MAIL_SEEN);
	assert_int_equal(fn.base_len, strlen("1234.M5P6.host,S=1234"));
	/* junk sizes are ignored, not fatal */
	maildir_filename_parse("x,S=abc,W=,Q=1:2,", &fn);
	assert_false(fn.have_size);
	assert_false(fn.have_vsize);
	assert_true(fn.have_info);
	/* P (passed) and unknown letters are kept for a rewrite */
	maildir_filename_parse("b:2,PSX", &fn);
	assert_int_equal(fn.flags, MAIL_SEEN);
	assert_string_equal(fn.other, "PX");
	/* Dovecot's "<flags>,<fields>": fields are not flags */
	maildir_filename_parse("b,S=3:2,RS,xyz", &fn);
	assert_int_equal(fn.flags, MAIL_ANSWERED | MAIL_SEEN);
	assert_int_equal(fn.kw_letters, 0);
	assert_int_equal(fn.tail_off, strlen("b,S=3:2,RS"));
	/* ":" but no "2,": old experimental info, base still ends at ':' */
	maildir_filename_parse("b:1,foo", &fn);
	assert_false(fn.have_info);
	assert_int_equal(fn.base_len, 1);
	/* empty */
	maildir_filename_parse("", &fn);
	assert_int_equal(fn.base_len, 0);
}

static void test_build(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	const char *base = "1795873287.M187380P14840.vm,S=96,W=103";
	maildir_filename_build(&b, base, strlen(base), MAIL_DRAFT | MAIL_DELETED, 1u << 2, NULL);
	assert_string_equal(b.data, "1795873287.M187380P14840.vm,S=96,W=103:2,DTc");
	buf_reset(&b);
	maildir_filename_build(&b, base, strlen(base),
			       MAIL_SEEN | MAIL_ANSWERED | MAIL_FLAGGED | MAIL_DRAFT | MAIL_DELETED, 0, "P");
	assert_string_equal(b.data, "1795873287.M187380P14840.vm,S=96,W=103:2,DFPRST");
	buf_reset(&b);
	maildir_filename_build(&b, "x", 1, 0, 0, NULL);
	assert_string_equal(b.data, "x:2,");
	buf_free(&b);
}

static void test_hostname_and_base(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	maildir_hostname_escape("a/b:c.d", &b);
	assert_string_equal(b.data, "a\\057b\\072c.d");
	buf_reset(&b);

	maildir_filename_new_base(&b);
	char *first = om_strdup(b.data);
	buf_reset(&b);
	maildir_filename_new_base(&b);
	assert_string_not_equal(first, b.data);
	assert_null(strchr(b.data, '/'));
	assert_null(strchr(b.data, ':'));
	assert_non_null(strstr(b.data, ".M"));
	char pid[32];
	snprintf(pid, sizeof(pid), "P%ld.", (long)getpid());
	assert_non_null(strstr(b.data, pid));
	free(first);
	buf_free(&b);

	char g1[33], g2[33];
	maildir_guid_from_base("abc", 3, g1);
	maildir_guid_from_base("abc", 3, g2);
	assert_string_equal(g1, g2);
	assert_int_equal(strlen(g1), 32);
	maildir_guid_random(g2);
	assert_string_not_equal(g1, g2);
}

static void test_mutf7(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	static const struct { const char *utf8, *mutf7; } cases[] = {
		{ "Entwürfe", "Entw&APw-rfe" },
		{ "A&B", "A&-B" },
		{ "日本語", "&ZeVnLIqe-" },
		{ "Hi Mom -☺-!", "Hi Mom -&Jjo--!" },
		{ "\xf0\x9f\x98\x80", "&2D3eAA-" },
		{ "plain", "plain" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		assert_int_equal(mutf7_encode(cases[i].utf8, strlen(cases[i].utf8), &b), 0);
		assert_string_equal(b.data, cases[i].mutf7);
		buf_reset(&b);
		assert_int_equal(mutf7_decode(cases[i].mutf7, strlen(cases[i].mutf7), &b), 0);
		assert_string_equal(b.data, cases[i].utf8);
	}
	static const char *const bad[] = { "&", "&AGE-", "&Jjo", "&-&", "&2D0-", "&3gA-", "a\x80", "&J-" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		assert_int_equal(mutf7_decode(bad[i], strlen(bad[i]), &b), -OM_EINVAL);
	}
	buf_reset(&b);
	assert_int_equal(mutf7_encode("\xff", 1, &b), -OM_EINVAL);
	buf_free(&b);
}

static void test_folder_names(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(maildir_name_to_dir("/m", "INBOX", &b), 0);
	assert_string_equal(b.data, "/m");
	assert_int_equal(maildir_name_to_dir("/m", "Urlaub/Spanien", &b), 0);
	assert_string_equal(b.data, "/m/.Urlaub.Spanien");
	assert_int_equal(maildir_name_to_dir("/m", "Entwürfe", &b), 0);
	assert_string_equal(b.data, "/m/.Entw&APw-rfe");
	assert_int_equal(maildir_name_to_dir("/m", "a.b", &b), -OM_EINVAL);
	assert_int_equal(maildir_name_to_dir("/m", "~x", &b), -OM_EINVAL);

	assert_int_equal(maildir_entry_to_name(".Urlaub.Spanien", &b), 0);
	assert_string_equal(b.data, "Urlaub/Spanien");
	assert_int_equal(maildir_entry_to_name(".Entw&APw-rfe", &b), 0);
	assert_string_equal(b.data, "Entwürfe");
	assert_int_equal(maildir_entry_to_name(".x\\y", &b), 0);
	assert_string_equal(b.data, "x\\y");
	static const char *const bad[] = { ".", "..", "...", ".a..b", ".a.", "..objmail-deleted.x",
					   ".&Jjo", ".INBOX", "cur" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(maildir_entry_to_name(bad[i], &b), -OM_EINVAL);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_dovecot),
		cmocka_unit_test(test_parse_odd_names),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_hostname_and_base),
		cmocka_unit_test(test_mutf7),
		cmocka_unit_test(test_folder_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
