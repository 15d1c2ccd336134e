/* LIBS: om_imap om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap-registry.h"

static void test_registry_without_conn(void **state)
{
	(void)state;
	/* unit tests of the IMAP core run sessions without a conn */
	imap_registry_login(NULL, "alice");
	imap_registry_mailbox(NULL, "INBOX");
	imap_registry_logout(NULL);
	assert_int_equal(imap_registry_count(), 0);
	struct buf b = BUF_INIT;
	imap_registry_json(&b, 0);
	assert_string_equal(buf_cstr(&b), "{\"sessions\":[],\"truncated\":false}");
	buf_reset(&b);
	imap_registry_text(&b, 0);
	assert_non_null(strstr(buf_cstr(&b), "USER"));
	assert_int_equal(imap_registry_kick("alice"), 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_without_conn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
