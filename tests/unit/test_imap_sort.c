/* LIBS: om_imap om_mime om_lib */
/* SORT: base subject extraction (RFC 5256 2.1), criteria parsing and the
 * ordering of messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-parser.h"
#include "imap/imap-sort.h"
#include "lib/buf.h"
#include "mime/mime.h"

static void check_base(const char *subject, const char *want, bool want_reply)
{
	struct buf out = BUF_INIT;
	bool reply = !want_reply;
	mime_base_subject(subject, strlen(subject), &out, &reply);
	if (strcmp(buf_cstr(&out), want) != 0 || reply != want_reply)
		fail_msg("base subject of [%s]: [%s] reply=%d, want [%s] reply=%d", subject,
			 buf_cstr(&out), reply, want, want_reply);
	buf_free(&out);
}

static void test_base_subject(void **state)
{
	(void)state;
	check_base("hello", "hello", false);
	check_base("Re: hello", "hello", true);
	check_base("RE: Re: re: hello", "hello", true);
	check_base("Fwd: hello", "hello", true);
	check_base("FW: hello", "hello", true);
	check_base("fw:hello", "hello", true);
	check_base("Re[2]: hello", "hello", true);
	check_base("Re [2]: hello", "hello", true);
	check_base("[list] Re: hello", "hello", true);
	check_base("[list] hello", "hello", false);
	check_base("[list]", "[list]", false);       /* blob kept: nothing after it */
	check_base("[a][b] hello", "hello", false);
	check_base("hello (fwd)", "hello", true);
	check_base("hello (FWD) (fwd)  ", "hello", true);
	check_base("[Fwd: hello]", "hello", true);
	check_base("[fwd: Re: hello (fwd)]", "hello", true);
	check_base("  hello \t  world  ", "hello world", false);
	check_base("Re:", "", true);
	check_base("", "", false);
	check_base("Really: hello", "Really: hello", false);
	check_base("Re: [list] Re: hello", "hello", true);
	check_base("Réponse: été", "Réponse: été", false);
	check_base("Re: (fwd)", "", true);
	check_base("[fwd: [x]]", "[x]", true);
}

static void test_first_address(void **state)
{
	(void)state;
	const char hdr[] = "From: \"Zed Alpha\" <zed@example.com>, b@example.com\r\n"
			   "To: undisclosed-recipients:;\r\n"
			   "Cc: =?utf-8?q?J=C3=B6rg?= <jorg@example.org>\r\n\r\n";
	struct buf mb = BUF_INIT, disp = BUF_INIT;
	assert_true(mime_first_address(hdr, strlen(hdr), "From", &mb, &disp));
	assert_string_equal(buf_cstr(&mb), "zed");
	assert_string_equal(buf_cstr(&disp), "Zed Alpha");
	buf_reset(&mb);
	buf_reset(&disp);
	assert_false(mime_first_address(hdr, strlen(hdr), "To", &mb, &disp));
	buf_reset(&mb);
	buf_reset(&disp);
	assert_true(mime_first_address(hdr, strlen(hdr), "Cc", &mb, &disp));
	assert_string_equal(buf_cstr(&mb), "jorg");
	assert_string_equal(buf_cstr(&disp), "J\xc3\xb6rg");
	buf_reset(&mb);
	buf_reset(&disp);
	const char hdr2[] = "From: plain@example.net\r\n\r\n";
	assert_true(mime_first_address(hdr2, strlen(hdr2), "From", &mb, &disp));
	assert_string_equal(buf_cstr(&disp), "plain@example.net");
	buf_free(&mb);
	buf_free(&disp);
}

static struct imap_arg atom(const char *s)
{
	struct imap_arg a = { .type = IMAP_ARG_ATOM, .str = (char *)s, .len = strlen(s) };
	return a;
}

static void test_parse_keys(void **state)
{
	(void)state;
	struct imap_arg items[] = { atom("REVERSE"), atom("date"), atom("SUBJECT"),
				    atom("DISPLAYFROM") };
	struct imap_arg list = { .type = IMAP_ARG_LIST, .list = items, .list_count = 4 };
	struct sort_key keys[SORT_MAX_KEYS];
	size_t n = 0;
	const char *error;
	assert_true(sort_parse_keys(&list, keys, &n, &error));
	assert_int_equal(n, 3);
	assert_int_equal(keys[0].type, SORT_DATE);
	assert_true(keys[0].reverse);
	assert_int_equal(keys[1].type, SORT_SUBJECT);
	assert_false(keys[1].reverse);
	assert_int_equal(keys[2].type, SORT_DISPLAYFROM);
	assert_true(sort_keys_need_headers(keys, n));

	struct imap_arg bad1[] = { atom("REVERSE") };
	list.list = bad1;
	list.list_count = 1;
	assert_false(sort_parse_keys(&list, keys, &n, &error));
	struct imap_arg bad2[] = { atom("FOO") };
	list.list = bad2;
	assert_false(sort_parse_keys(&list, keys, &n, &error));
	list.list_count = 0;
	assert_false(sort_parse_keys(&list, keys, &n, &error));
	struct imap_arg a = atom("DATE");
	assert_false(sort_parse_keys(&a, keys, &n, &error));
	struct imap_arg cheap[] = { atom("SIZE"), atom("ARRIVAL") };
	list.list = cheap;
	list.list_count = 2;
	assert_true(sort_parse_keys(&list, keys, &n, &error));
	assert_false(sort_keys_need_headers(keys, n));
}

static void order_of(struct sort_item *items, size_t n, struct sort_key *keys, size_t nk,
		     const char *want)
{
	struct sort_item copy[16];
	memcpy(copy, items, n * sizeof(*items));
	sort_items(copy, n, keys, nk);
	struct buf got = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		buf_printf(&got, "%s%u", i > 0 ? " " : "", copy[i].seq);
	if (strcmp(buf_cstr(&got), want) != 0)
		fail_msg("sorted %s, want %s", buf_cstr(&got), want);
	buf_free(&got);
}

static void test_sort(void **state)
{
	(void)state;
	struct sort_item items[] = {
		{ .seq = 1, .uid = 10, .size = 300, .arrival = 50, .date = 1000, .from = "bob",
		  .to = "x", .cc = NULL, .subject = "b", .dfrom = "zed", .dto = "x" },
		{ .seq = 2, .uid = 11, .size = 100, .arrival = 40, .date = 900, .from = "alice",
		  .to = "y", .cc = "c", .subject = "a", .dfrom = "bob", .dto = "" },
		{ .seq = 3, .uid = 12, .size = 200, .arrival = 60, .date = 1000, .from = "",
		  .to = "x", .cc = "a", .subject = "b", .dfrom = "amy", .dto = "w" },
		{ .seq = 4, .uid = 13, .size = 100, .arrival = 40, .date = 800, .from = "bob",
		  .to = NULL, .cc = "b", .subject = "", .dfrom = "", .dto = "z" },
	};
	struct sort_key k[3];
	k[0] = (struct sort_key){ SORT_ARRIVAL, false };
	order_of(items, 4, k, 1, "2 4 1 3");
	k[0].reverse = true;
	order_of(items, 4, k, 1, "3 1 2 4"); /* ties stay by sequence */
	k[0] = (struct sort_key){ SORT_DATE, false };
	order_of(items, 4, k, 1, "4 2 1 3");
	k[0] = (struct sort_key){ SORT_SIZE, false };
	order_of(items, 4, k, 1, "2 4 3 1");
	k[0] = (struct sort_key){ SORT_FROM, false };
	order_of(items, 4, k, 1, "3 2 1 4");
	k[0] = (struct sort_key){ SORT_TO, false };
	order_of(items, 4, k, 1, "4 1 3 2");
	k[0] = (struct sort_key){ SORT_CC, false };
	order_of(items, 4, k, 1, "1 3 4 2");
	k[0] = (struct sort_key){ SORT_SUBJECT, false };
	k[1] = (struct sort_key){ SORT_SIZE, true };
	order_of(items, 4, k, 2, "4 2 1 3");
	k[0] = (struct sort_key){ SORT_DISPLAYFROM, false };
	order_of(items, 4, k, 1, "4 3 2 1");
	k[0] = (struct sort_key){ SORT_DISPLAYTO, false };
	order_of(items, 4, k, 1, "2 3 1 4");
	sort_items(items, 0, k, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_first_address),
		cmocka_unit_test(test_parse_keys),
		cmocka_unit_test(test_sort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
