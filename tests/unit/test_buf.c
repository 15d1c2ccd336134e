/* LIBS: om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/om-error.h"

static void test_append_and_printf(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_string_equal(buf_cstr(&b), "");
	buf_append_str(&b, "abc");
	buf_append_c(&b, '-');
	buf_printf(&b, "%d/%s", 42, "x");
	assert_string_equal(buf_cstr(&b), "abc-42/x");
	assert_int_equal(b.len, 8);
	buf_truncate(&b, 3);
	assert_string_equal(buf_cstr(&b), "abc");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	/* growth across many reallocations keeps content */
	for (int i = 0; i < 10000; i++)
		buf_append(&b, "0123456789", 10);
	assert_int_equal(b.len, 100000);
	assert_int_equal(memcmp(b.data + 99990, "0123456789", 10), 0);
	assert_int_equal(b.data[b.len], '\0');
	char *s = buf_steal(&b);
	assert_int_equal(b.len, 0);
	assert_null(b.data);
	free(s);
	buf_free(&b);
}

static void test_binary_and_nul(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_append(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.data[1], '\0');
	buf_free(&b);
}

static void test_parse_u64(void **state)
{
	(void)state;
	unsigned long long v;
	assert_true(om_parse_u64("0", 1, &v));
	assert_int_equal(v, 0);
	assert_true(om_parse_u64("18446744073709551615", 20, &v));
	assert_true(v == 18446744073709551615ULL);
	assert_false(om_parse_u64("18446744073709551616", 20, &v));
	assert_false(om_parse_u64("", 0, &v));
	assert_false(om_parse_u64("12a", 3, &v));
	assert_false(om_parse_u64("-1", 2, &v));
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(om_strerror(-OM_ENOTFOUND), "ENOTFOUND");
	assert_string_equal(om_strerror(OM_EQUOTA), "EQUOTA");
	assert_string_equal(om_strerror(-999), "EUNKNOWN");
	assert_true(om_str_ieq("InBoX", "INBOX"));
	assert_true(om_mem_ieq("inboxX", 5, "INBOX"));
	assert_false(om_mem_ieq("inbo", 4, "INBOX"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_printf),
		cmocka_unit_test(test_binary_and_nul),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
