/* LIBS: om_lib */
/* auth_failures_per_ip bookkeeping (lib/authlimit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/authlimit.h"

static void test_blocks_after_max(void **state)
{
	(void)state;
	authlimit_reset();
	for (int i = 0; i < 3; i++) {
		assert_false(authlimit_blocked("192.0.2.1", 3, 60));
		authlimit_failed("192.0.2.1", 60);
	}
	assert_true(authlimit_blocked("192.0.2.1", 3, 60));
	/* other addresses, unix peers and a disabled limit are unaffected */
	assert_false(authlimit_blocked("192.0.2.2", 3, 60));
	assert_false(authlimit_blocked("192.0.2.1", 0, 60));
	for (int i = 0; i < 10; i++)
		authlimit_failed("unix", 60);
	assert_false(authlimit_blocked("unix", 3, 60));
}

static void test_window_ends(void **state)
{
	(void)state;
	authlimit_reset();
	authlimit_failed("2001:db8::1", 1);
	assert_true(authlimit_blocked("2001:db8::1", 1, 1));
	sleep(2);
	assert_false(authlimit_blocked("2001:db8::1", 1, 1));
}

static void test_table_is_bounded(void **state)
{
	(void)state;
	authlimit_reset();
	char ip[48];
	/* far more addresses than entries: no crash, the newest still counts */
	for (unsigned i = 0; i < AUTHLIMIT_MAX_ENTRIES * 3; i++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		authlimit_failed(ip, 60);
	}
	authlimit_failed(ip, 60);
	assert_true(authlimit_blocked(ip, 2, 60));
	char long_ip[100];
	memset(long_ip, 'a', sizeof(long_ip) - 1);
	long_ip[sizeof(long_ip) - 1] = '\0';
	authlimit_failed(long_ip, 60); /* too long to track: ignored */
	assert_false(authlimit_blocked(long_ip, 1, 60));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks_after_max),
		cmocka_unit_test(test_window_ends),
		cmocka_unit_test(test_table_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
