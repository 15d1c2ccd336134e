/* LIBS: om_objstore om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/om-error.h"
#include "objstore/s3-xml.h"

static int parse(const char *xml, struct s3_list_page *page)
{
	return s3_xml_parse_list(xml, strlen(xml), page);
}

/* As radosgw 16 answers ListObjectsV2 (trimmed). */
static const char rgw_page[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	"<Name>mail-test</Name><Prefix>u/</Prefix><MaxKeys>2</MaxKeys>"
	"<IsTruncated>true</IsTruncated>"
	"<Contents><Key>u/a</Key><LastModified>2026-11-28T14:00:00.000Z</LastModified>"
	"<ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size>"
	"<StorageClass>STANDARD</StorageClass>"
	"<Owner><ID>mailtest</ID><DisplayName>mailtest</DisplayName></Owner>"
	"<Type>Normal</Type></Contents>"
	"<Contents><Key>u/b&amp;c &lt;d&gt; &#233;&#x20AC;</Key><Size>18446744073709551615</Size></Contents>"
	"<KeyCount>2</KeyCount>"
	"<NextContinuationToken>1ek&#43;Zx/+==</NextContinuationToken>"
	"</ListBucketResult>\n";

static void test_rgw_page(void **state)
{
	(void)state;
	struct s3_list_page page;
	assert_int_equal(parse(rgw_page, &page), 0);
	assert_true(page.truncated);
	assert_string_equal(page.next_token, "1ek+Zx/+==");
	assert_int_equal(page.n, 2);
	assert_string_equal(page.entries[0].key, "u/a");
	assert_int_equal(page.entries[0].size, 1);
	assert_string_equal(page.entries[1].key, "u/b&c <d> \xc3\xa9\xe2\x82\xac");
	assert_true(page.entries[1].size == UINT64_MAX);
	s3_list_page_free(&page);
}

static void test_empty_and_last_page(void **state)
{
	(void)state;
	struct s3_list_page page;
	assert_int_equal(parse("<ListBucketResult><IsTruncated>false</IsTruncated>"
			       "<KeyCount>0</KeyCount></ListBucketResult>", &page), 0);
	assert_false(page.truncated);
	assert_null(page.next_token);
	assert_int_equal(page.n, 0);
	s3_list_page_free(&page);
	/* whitespace, comments, CDATA, self-closing elements, attributes */
	assert_int_equal(parse("\n<?xml version='1.0'?>\n<!-- hi -->\n<ListBucketResult a='>'>\n"
			       "  <Name/>\n  <Contents>\n    <Key><![CDATA[x&y<z]]></Key>\n"
			       "    <Size >7</Size>\n  </Contents>\n"
			       "  <IsTruncated>false</IsTruncated >\n</ListBucketResult>\n", &page), 0);
	assert_int_equal(page.n, 1);
	assert_string_equal(page.entries[0].key, "x&y<z");
	assert_int_equal(page.entries[0].size, 7);
	s3_list_page_free(&page);
}

static void test_many_keys(void **state)
{
	(void)state;
	struct buf xml = BUF_INIT;
	buf_append_str(&xml, "<ListBucketResult><IsTruncated>false</IsTruncated>");
	for (int i = 0; i < 1000; i++)
		buf_printf(&xml, "<Contents><Key>k/%04d</Key><Size>%d</Size></Contents>", i, i);
	buf_append_str(&xml, "</ListBucketResult>");
	struct s3_list_page page;
	assert_int_equal(s3_xml_parse_list(xml.data, xml.len, &page), 0);
	assert_int_equal(page.n, 1000);
	assert_string_equal(page.entries[999].key, "k/0999");
	assert_int_equal(page.entries[999].size, 999);
	s3_list_page_free(&page);
	buf_free(&xml);
}

static void test_hostile(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"not xml",
		"<Error><Code>x</Code></Error>",                      /* wrong root */
		"<ListBucketResult>",                                  /* unterminated */
		"<ListBucketResult><IsTruncated>false</IsTruncated></Other>",
		"<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
		"<ListBucketResult></ListBucketResult>",               /* no IsTruncated */
		"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", /* no token */
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Size>1</Size></Contents></ListBucketResult>", /* no key */
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a</Key></Contents></ListBucketResult>",   /* no size */
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a</Key><Size>99999999999999999999</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a&bogus;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a&#0;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a&#xD800;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a&#x110000;</Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a&amp</Key><Size>1</Size></Contents></ListBucketResult>",
		"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult><IsTruncated>false"
		"</IsTruncated></ListBucketResult>",
		"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult><x/>",
		"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>junk",
		"<ListBucketResult><IsTruncated>false</IsTruncated><!-- open",
		"<ListBucketResult><IsTruncated>false</IsTruncated><![CDATA[ open",
		"<ListBucketResult a=\"></ListBucketResult>",
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a</Key><Key>b</Key><Size>1</Size></Contents></ListBucketResult>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct s3_list_page page;
		int ret = parse(bad[i], &page);
		if (ret != -OM_EIO)
			fail_msg("accepted #%zu: %s", i, bad[i]);
		s3_list_page_free(&page);
	}
	/* a NUL inside the body */
	struct s3_list_page page;
	static const char nul[] = "<ListBucketResult><IsTruncated>false</IsTruncated>"
				  "<Contents><Key>a\0b</Key><Size>1</Size></Contents></ListBucketResult>";
	assert_int_equal(s3_xml_parse_list(nul, sizeof(nul) - 1, &page), -OM_EIO);
	s3_list_page_free(&page);
}

static void test_bounds(void **state)
{
	(void)state;
	struct buf xml = BUF_INIT;
	struct s3_list_page page;
	/* nesting deeper than the stack */
	buf_append_str(&xml, "<ListBucketResult>");
	for (int i = 0; i < 1000; i++)
		buf_append_str(&xml, "<a>");
	assert_int_equal(s3_xml_parse_list(xml.data, xml.len, &page), -OM_EIO);
	s3_list_page_free(&page);
	/* text bigger than the bound */
	buf_reset(&xml);
	buf_append_str(&xml, "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>");
	for (int i = 0; i < 20000; i++)
		buf_append_str(&xml, "&amp;");
	buf_append_str(&xml, "</Key><Size>1</Size></Contents></ListBucketResult>");
	assert_int_equal(s3_xml_parse_list(xml.data, xml.len, &page), -OM_EIO);
	s3_list_page_free(&page);
	/* an overlong element name */
	buf_reset(&xml);
	buf_append_c(&xml, '<');
	for (int i = 0; i < 5000; i++)
		buf_append_c(&xml, 'n');
	buf_append_str(&xml, "/>");
	assert_int_equal(s3_xml_parse_list(xml.data, xml.len, &page), -OM_EIO);
	s3_list_page_free(&page);
	/* every prefix of a good document is refused, never crashes */
	size_t full = strlen(rgw_page);
	for (size_t cut = 0; cut + 1 < full; cut++) {
		char *copy = om_strndup(rgw_page, cut);
		assert_int_equal(s3_xml_parse_list(copy, cut, &page), -OM_EIO);
		s3_list_page_free(&page);
		free(copy);
	}
	/* random byte flips: anything but a crash or leak is fine */
	srand(7);
	for (int round = 0; round < 3000; round++) {
		char *copy = om_strndup(rgw_page, full);
		for (int k = 0; k < 3; k++)
			copy[rand() % (int)full] = (char)(rand() % 256);
		(void)s3_xml_parse_list(copy, full, &page);
		s3_list_page_free(&page);
		free(copy);
	}
	buf_free(&xml);
}

static void test_decode_text(void **state)
{
	(void)state;
	struct buf out = BUF_INIT;
	assert_int_equal(s3_xml_decode_text("&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#X43;", 42, &out), 0);
	assert_string_equal(out.data, "<>&\"'ABC");
	buf_reset(&out);
	assert_int_equal(s3_xml_decode_text("&#x1F600;", 9, &out), 0);
	assert_string_equal(out.data, "\xf0\x9f\x98\x80");
	buf_reset(&out);
	assert_int_equal(s3_xml_decode_text("&#;", 3, &out), -OM_EIO);
	assert_int_equal(s3_xml_decode_text("&#x;", 4, &out), -OM_EIO);
	assert_int_equal(s3_xml_decode_text("&#12a;", 6, &out), -OM_EIO);
	assert_int_equal(s3_xml_decode_text("&#00000000065;", 14, &out), -OM_EIO);
	assert_int_equal(s3_xml_decode_text("&", 1, &out), -OM_EIO);
	assert_int_equal(s3_xml_decode_text("&AMP;", 5, &out), -OM_EIO);
	buf_free(&out);
}

static void test_error_code(void **state)
{
	(void)state;
	struct buf code = BUF_INIT;
	static const char body[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>PreconditionFailed</Code>"
		"<BucketName>mail-test</BucketName><RequestId>tx0</RequestId><HostId>x</HostId></Error>";
	assert_true(s3_xml_error_code(body, strlen(body), &code));
	assert_string_equal(buf_cstr(&code), "PreconditionFailed");
	assert_false(s3_xml_error_code("<html>503</html>", 16, &code));
	assert_string_equal(buf_cstr(&code), "");
	assert_false(s3_xml_error_code("", 0, &code));
	static const char evil[] = "<Error><Code>a\nb\x01&#x7f;</Code></Error>";
	assert_true(s3_xml_error_code(evil, strlen(evil), &code));
	assert_string_equal(buf_cstr(&code), "a?b??");
	buf_free(&code);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rgw_page),
		cmocka_unit_test(test_empty_and_last_page),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_decode_text),
		cmocka_unit_test(test_error_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
