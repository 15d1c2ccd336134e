/* LIBS: om_imap om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-parser.h"

static void check_pair(const char *mutf7, const char *utf8)
{
	struct buf b = BUF_INIT;
	if (!mutf7_to_utf8(mutf7, strlen(mutf7), &b))
		fail_msg("decode of [%s] failed", mutf7);
	assert_string_equal(buf_cstr(&b), utf8);
	buf_reset(&b);
	if (!utf8_to_mutf7(utf8, strlen(utf8), &b))
		fail_msg("encode of [%s] failed", utf8);
	assert_string_equal(buf_cstr(&b), mutf7);
	buf_free(&b);
}

static void check_bad_mutf7(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	if (mutf7_to_utf8(s, len, &b))
		fail_msg("[%.*s] decoded to [%s]", (int)len, s, buf_cstr(&b));
	buf_free(&b);
}

static void check_bad_utf8(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	if (utf8_to_mutf7(s, len, &b))
		fail_msg("bad UTF-8 encoded to [%s]", buf_cstr(&b));
	buf_free(&b);
}

#define BAD7(s) check_bad_mutf7(s, sizeof(s) - 1)
#define BAD8(s) check_bad_utf8(s, sizeof(s) - 1)

static void test_examples(void **state)
{
	/* RFC 3501 5.1.3 */
	check_pair("~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		   "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	check_pair("", "");
	check_pair("INBOX", "INBOX");
	check_pair("&-", "&");
	check_pair("&-&-x&-", "&&x&");
	check_pair("Entw&APw-rfe", "Entw\xc3\xbc" "rfe");
	check_pair("&AOQA5A-", "\xc3\xa4\xc3\xa4");
	check_pair("a&AOQ-b&AOQ-", "a\xc3\xa4" "b\xc3\xa4");
	check_pair("&2D3eAA-", "\xf0\x9f\x98\x80");
	check_pair("&Jjo-", "\xe2\x98\xba");
	check_pair("&AOQ-&-", "\xc3\xa4&");
	check_pair("&-&AOQ-", "&\xc3\xa4");
	/* control characters are encoded */
	check_pair("a&AAk-b", "a\tb");
	check_pair("&AH8-", "\x7f");
}

static void test_bad_mutf7(void **state)
{
	BAD7("&");
	BAD7("&A");
	BAD7("&AOQ");
	BAD7("a&AOQ");
	BAD7("&AGE-");      /* 'a' must be direct */
	BAD7("&ACY-");      /* '&' must be "&-" */
	BAD7("&ACA-");      /* ' ' */
	BAD7("&AOQ-&AOQ-"); /* two runs touching */
	BAD7("&AOR-");      /* non-zero padding bits */
	BAD7("&AOQA-");     /* a surplus base64 character */
	BAD7("&AOQAAA-");   /* encoded NUL */
	BAD7("&AA-");
	BAD7("&2D0-");      /* lone high surrogate */
	BAD7("&2D0AYQ-");   /* high surrogate + 'a' */
	BAD7("&3gA-");      /* lone low surrogate */
	BAD7("&AO=-");
	BAD7("&AO/-");      /* '/' is not in the modified alphabet */
	BAD7("\xc3\xa4");   /* raw 8-bit */
	BAD7("a\tb");       /* raw control */
	BAD7("a\0b");
	check_pair("&--", "&-");
	BAD7("a&-&");
}

static void test_bad_utf8(void **state)
{
	BAD8("\xc0\xaf");
	BAD8("\xc1\xbf");
	BAD8("\xe0\x80\xaf");
	BAD8("\xe0\x9f\xbf");
	BAD8("\xf0\x80\x80\xaf");
	BAD8("\xf0\x8f\xbf\xbf");
	BAD8("\xed\xa0\x80");       /* surrogate */
	BAD8("\xed\xbf\xbf");
	BAD8("\xf4\x90\x80\x80");   /* > U+10FFFF */
	BAD8("\xf5\x80\x80\x80");
	BAD8("\xe5\x8f");           /* truncated */
	BAD8("a\xe5\x8f" "b");
	BAD8("\x80");
	BAD8("\xff");
	BAD8("\xc3\xa4\xc3");
	BAD8("a\0b");
	/* the boundaries that are fine */
	struct buf b = BUF_INIT;
	assert_true(utf8_to_mutf7("\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80", 12, &b));
	struct buf u = BUF_INIT;
	assert_true(mutf7_to_utf8(b.data, b.len, &u));
	assert_memory_equal(u.data, "\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80", 12);
	buf_free(&u);
	buf_free(&b);
}

static size_t put_utf8(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Random strings: UTF-8 -> mUTF-7 -> UTF-8 gives the input back, and the
 * mUTF-7 form re-encodes to itself. */
static void test_round_trip(void **state)
{
	unsigned seed = 12345;
	for (int iter = 0; iter < 3000; iter++) {
		char in[256];
		size_t len = 0;
		int n = (int)(seed % 20);
		for (int k = 0; k < n; k++) {
			seed = seed * 1103515245 + 12345;
			uint32_t cp;
			switch ((seed >> 16) % 5) {
			case 0: cp = 0x20 + (seed >> 8) % 95; break;
			case 1: cp = '&'; break;
			case 2: cp = 0x80 + (seed >> 4) % 0x780; break;
			case 3: cp = 0x800 + (seed >> 3) % 0xf000; break;
			default: cp = 0x10000 + (seed >> 2) % 0x100000; break;
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0x1 + cp % 0x1f;
			len += put_utf8(in + len, cp);
		}
		seed = seed * 1103515245 + 12345;
		struct buf m = BUF_INIT, u = BUF_INIT, m2 = BUF_INIT;
		assert_true(utf8_to_mutf7(in, len, &m));
		if (!mutf7_to_utf8(buf_cstr(&m), m.len, &u))
			fail_msg("decode of own encoding [%s] failed", buf_cstr(&m));
		assert_int_equal(u.len, len);
		assert_memory_equal(buf_cstr(&u), in, len);
		assert_true(utf8_to_mutf7(buf_cstr(&u), u.len, &m2));
		assert_string_equal(buf_cstr(&m), buf_cstr(&m2));
		buf_free(&m);
		buf_free(&u);
		buf_free(&m2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_bad_mutf7),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
