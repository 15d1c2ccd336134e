/* LIBS: om_imap om_lib */
/* FETCH item and section parsing (imap-fetch.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-fetch.h"
#include "lib/om-error.h"

static void parse_ok(const char *s, struct imap_fetch_item *it)
{
	const char *error = NULL;
	int ret = imap_fetch_parse_item(s, strlen(s), it, &error);
	if (ret != 0)
		fail_msg("%s: %s", s, error);
}

static void parse_bad(const char *s)
{
	struct imap_fetch_item it;
	const char *error = NULL;
	int ret = imap_fetch_parse_item(s, strlen(s), &it, &error);
	if (ret != -OM_EINVAL)
		fail_msg("accepted: %s", s);
	assert_non_null(error);
}

static void test_simple_items(void **state)
{
	(void)state;
	static const struct {
		const char *in, *name;
		enum imap_fetch_kind kind;
	} cases[] = {
		{ "uid", "UID", IMAP_FETCH_UID },
		{ "Flags", "FLAGS", IMAP_FETCH_FLAGS },
		{ "INTERNALDATE", "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
		{ "rfc822.size", "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
		{ "ENVELOPE", "ENVELOPE", IMAP_FETCH_ENVELOPE },
		{ "BODY", "BODY", IMAP_FETCH_BODY },
		{ "bodystructure", "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_fetch_item it;
		parse_ok(cases[i].in, &it);
		assert_int_equal(it.kind, cases[i].kind);
		assert_string_equal(it.name, cases[i].name);
		imap_fetch_item_clear(&it);
	}
}

static void test_rfc822_items(void **state)
{
	(void)state;
	struct imap_fetch_item it;
	parse_ok("RFC822", &it);
	assert_int_equal(it.kind, IMAP_FETCH_SECTION);
	assert_int_equal(it.spec, IMAP_SECTION_ALL);
	assert_false(it.peek);
	assert_string_equal(it.name, "RFC822");
	imap_fetch_item_clear(&it);

	parse_ok("rfc822.header", &it);
	assert_int_equal(it.spec, IMAP_SECTION_HEADER);
	assert_true(it.peek);
	assert_string_equal(it.name, "RFC822.HEADER");
	imap_fetch_item_clear(&it);

	parse_ok("RFC822.TEXT", &it);
	assert_int_equal(it.spec, IMAP_SECTION_TEXT);
	assert_false(it.peek);
	assert_string_equal(it.name, "RFC822.TEXT");
	imap_fetch_item_clear(&it);
}

static void test_sections(void **state)
{
	(void)state;
	struct imap_fetch_item it;

	parse_ok("BODY[]", &it);
	assert_int_equal(it.spec, IMAP_SECTION_ALL);
	assert_int_equal(it.path_len, 0);
	assert_false(it.peek);
	assert_false(it.partial);
	assert_string_equal(it.name, "BODY[]");
	imap_fetch_item_clear(&it);

	parse_ok("body.peek[header]", &it);
	assert_true(it.peek);
	assert_int_equal(it.spec, IMAP_SECTION_HEADER);
	assert_string_equal(it.name, "BODY[HEADER]");
	imap_fetch_item_clear(&it);

	parse_ok("BODY[text]<3.4>", &it);
	assert_int_equal(it.spec, IMAP_SECTION_TEXT);
	assert_true(it.partial);
	assert_int_equal(it.origin, 3);
	assert_int_equal(it.count, 4);
	assert_string_equal(it.name, "BODY[TEXT]<3>");
	imap_fetch_item_clear(&it);

	parse_ok("BODY[1.2.3]", &it);
	assert_int_equal(it.spec, IMAP_SECTION_ALL);
	assert_int_equal(it.path_len, 3);
	assert_int_equal(it.path[0], 1);
	assert_int_equal(it.path[1], 2);
	assert_int_equal(it.path[2], 3);
	assert_string_equal(it.name, "BODY[1.2.3]");
	imap_fetch_item_clear(&it);

	parse_ok("BODY.PEEK[2.mime]<0.10>", &it);
	assert_int_equal(it.spec, IMAP_SECTION_MIME);
	assert_int_equal(it.path_len, 1);
	assert_string_equal(it.name, "BODY[2.MIME]<0>");
	imap_fetch_item_clear(&it);

	parse_ok("BODY[10.Header]", &it);
	assert_int_equal(it.spec, IMAP_SECTION_HEADER);
	assert_int_equal(it.path[0], 10);
	assert_string_equal(it.name, "BODY[10.HEADER]");
	imap_fetch_item_clear(&it);

	parse_ok("BODY[3.TEXT]", &it);
	assert_int_equal(it.spec, IMAP_SECTION_TEXT);
	imap_fetch_item_clear(&it);

	/* partial numbers beyond 32 bits are answered with empty data */
	parse_ok("BODY[]<4294967296.1>", &it);
	assert_int_equal(it.origin, 4294967296ULL);
	imap_fetch_item_clear(&it);
}

static void test_header_fields(void **state)
{
	(void)state;
	struct imap_fetch_item it;

	parse_ok("BODY[HEADER.FIELDS (From \"To\")]", &it);
	assert_int_equal(it.spec, IMAP_SECTION_HEADER_FIELDS);
	assert_int_equal(it.n_fields, 2);
	assert_string_equal(it.fields[0], "From");
	assert_string_equal(it.fields[1], "To");
	assert_string_equal(it.name, "BODY[HEADER.FIELDS (FROM \"TO\")]");
	imap_fetch_item_clear(&it);

	parse_ok("body.peek[header.fields.not (subject  message-id)]<0.100>", &it);
	assert_true(it.peek);
	assert_int_equal(it.spec, IMAP_SECTION_HEADER_FIELDS_NOT);
	assert_int_equal(it.n_fields, 2);
	assert_string_equal(it.fields[1], "message-id");
	assert_string_equal(it.name, "BODY[HEADER.FIELDS.NOT (SUBJECT MESSAGE-ID)]<0>");
	imap_fetch_item_clear(&it);

	parse_ok("BODY[2.HEADER.FIELDS (Subject)]", &it);
	assert_int_equal(it.path_len, 1);
	assert_int_equal(it.spec, IMAP_SECTION_HEADER_FIELDS);
	assert_string_equal(it.name, "BODY[2.HEADER.FIELDS (SUBJECT)]");
	imap_fetch_item_clear(&it);

	/* a quoted name may hold ']' and escapes */
	parse_ok("BODY[HEADER.FIELDS (\"X]\\\"y\")]", &it);
	assert_int_equal(it.n_fields, 1);
	assert_string_equal(it.fields[0], "X]\"y");
	assert_string_equal(it.name, "BODY[HEADER.FIELDS (\"X]\\\"Y\")]");
	imap_fetch_item_clear(&it);
}

static void test_bad_items(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "BOGUS", "ALL", "BODY.PEEK", "BODY[", "BODY]", "BODY[MIME]", "BODY[0]",
		"BODY[1.0]", "BODY[01]", "BODY[1.]", "BODY[.1]", "BODY[1..2]", "BODY[HEADER ]",
		"BODY[HEADERX]", "BODY[TEXT.MIME]", "BODY[HEADER.FIELDS]",
		"BODY[HEADER.FIELDS ()]", "BODY[HEADER.FIELDS (a]", "BODY[HEADER.FIELDS a]",
		"BODY[HEADER.FIELDS (\"a)]", "BODY[HEADER.FIELDS (\"\")]",
		"BODY[HEADER.FIELDS (a) x]", "BODY[]<", "BODY[]<1>", "BODY[]<1.>", "BODY[]<.1>",
		"BODY[]<a.1>", "BODY[]<1.2>x", "BODY[]x", "BODYX[]",
		/* BINARY (RFC 3516): a part path only; no partial for .SIZE */
		"BINARY[HEADER]", "BINARY.SIZE[1]<0.1>", "BINARY[0]", "BINARY[1.]", "BINARYX[]",
		"BODY[HEADER.FIELDS (a{b)]", "BODY[1.MIME.TEXT]", "BODY[999999999]",
		"BODY[]<99999999999999999999999.1>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i]);
}

static void test_limits(void **state)
{
	(void)state;
	/* path depth */
	struct buf b = BUF_INIT;
	buf_append_str(&b, "BODY[1");
	for (int i = 1; i < IMAP_FETCH_MAX_PATH; i++)
		buf_append_str(&b, ".1");
	size_t n = b.len;
	buf_append_str(&b, "]");
	struct imap_fetch_item it;
	parse_ok(buf_cstr(&b), &it);
	assert_int_equal(it.path_len, IMAP_FETCH_MAX_PATH);
	imap_fetch_item_clear(&it);
	buf_truncate(&b, n);
	buf_append_str(&b, ".1]");
	parse_bad(buf_cstr(&b));

	/* header name count */
	buf_reset(&b);
	buf_append_str(&b, "BODY[HEADER.FIELDS (");
	for (int i = 0; i < IMAP_FETCH_MAX_FIELDS; i++)
		buf_printf(&b, "%sX%d", i > 0 ? " " : "", i);
	buf_append_str(&b, ")]");
	parse_ok(buf_cstr(&b), &it);
	assert_int_equal(it.n_fields, IMAP_FETCH_MAX_FIELDS);
	imap_fetch_item_clear(&it);
	buf_truncate(&b, b.len - 2);
	buf_append_str(&b, " Y)]");
	parse_bad(buf_cstr(&b));

	/* header name length */
	buf_reset(&b);
	buf_append_str(&b, "BODY[HEADER.FIELDS (");
	for (int i = 0; i <= IMAP_FETCH_MAX_FIELD_LEN; i++)
		buf_append_c(&b, 'a');
	buf_append_str(&b, ")]");
	parse_bad(buf_cstr(&b));
	buf_free(&b);
}

static struct imap_arg atom(const char *s)
{
	struct imap_arg a;
	memset(&a, 0, sizeof(a));
	a.type = IMAP_ARG_ATOM;
	a.str = (char *)s;
	a.len = strlen(s);
	return a;
}

static void test_request(void **state)
{
	(void)state;
	struct imap_fetch_request req;
	const char *error;

	/* macros */
	struct imap_arg a = atom("full");
	assert_int_equal(imap_fetch_parse(&a, 1, false, &req, &error), 0);
	assert_int_equal(req.n_items, 5);
	assert_int_equal(req.n_view_items, 3);
	assert_string_equal(req.items[0].name, "FLAGS");
	assert_string_equal(req.items[1].name, "INTERNALDATE");
	assert_string_equal(req.items[2].name, "RFC822.SIZE");
	assert_string_equal(req.items[3].name, "ENVELOPE");
	assert_string_equal(req.items[4].name, "BODY");
	assert_true(req.want_flags);
	assert_true(req.need_structure);
	assert_false(req.need_message);
	assert_false(req.sets_seen);
	imap_fetch_request_free(&req);

	a = atom("FAST");
	assert_int_equal(imap_fetch_parse(&a, 1, true, &req, &error), 0);
	assert_int_equal(req.n_items, 4);
	assert_string_equal(req.items[0].name, "UID");
	assert_false(req.need_structure);
	imap_fetch_request_free(&req);

	/* view items first; UID first for UID FETCH; duplicates once */
	struct imap_arg items[] = {
		atom("BODY[header.fields (from)]"), atom("body.peek[1]<0.5>"),
		atom("rfc822.size"), atom("UID"), atom("flags"), atom("FLAGS"),
		atom("BODY.PEEK[1]<0.5>"),
	};
	struct imap_arg list;
	memset(&list, 0, sizeof(list));
	list.type = IMAP_ARG_LIST;
	list.list = items;
	list.list_count = sizeof(items) / sizeof(items[0]);
	assert_int_equal(imap_fetch_parse(&list, 1, true, &req, &error), 0);
	assert_int_equal(req.n_items, 5);
	assert_int_equal(req.n_view_items, 3);
	assert_string_equal(req.items[0].name, "UID");
	assert_string_equal(req.items[1].name, "RFC822.SIZE");
	assert_string_equal(req.items[2].name, "FLAGS");
	assert_string_equal(req.items[3].name, "BODY[HEADER.FIELDS (FROM)]");
	assert_string_equal(req.items[4].name, "BODY[1]<0>");
	assert_true(req.sets_seen);
	assert_true(req.need_message);
	imap_fetch_request_free(&req);

	/* PEEK only: no \Seen */
	a = atom("BODY.PEEK[]");
	assert_int_equal(imap_fetch_parse(&a, 1, false, &req, &error), 0);
	assert_false(req.sets_seen);
	imap_fetch_request_free(&req);
	a = atom("RFC822.HEADER");
	assert_int_equal(imap_fetch_parse(&a, 1, false, &req, &error), 0);
	assert_false(req.sets_seen);
	imap_fetch_request_free(&req);
	a = atom("RFC822");
	assert_int_equal(imap_fetch_parse(&a, 1, false, &req, &error), 0);
	assert_true(req.sets_seen);
	imap_fetch_request_free(&req);

	/* errors: empty list, macro in a list, non-atom, extra args, bad item */
	list.list_count = 0;
	assert_int_equal(imap_fetch_parse(&list, 1, false, &req, &error), -OM_EINVAL);
	struct imap_arg macro_in_list[] = { atom("ALL") };
	list.list = macro_in_list;
	list.list_count = 1;
	assert_int_equal(imap_fetch_parse(&list, 1, false, &req, &error), -OM_EINVAL);
	struct imap_arg two[] = { atom("UID"), atom("FLAGS") };
	assert_int_equal(imap_fetch_parse(two, 2, false, &req, &error), -OM_EINVAL);
	struct imap_arg str = atom("UID");
	str.type = IMAP_ARG_STRING;
	assert_int_equal(imap_fetch_parse(&str, 1, false, &req, &error), -OM_EINVAL);
	struct imap_arg bad_in_list[] = { atom("UID"), atom("BODY[0]") };
	list.list = bad_in_list;
	list.list_count = 2;
	assert_int_equal(imap_fetch_parse(&list, 1, true, &req, &error), -OM_EINVAL);

	/* item count bound */
	struct imap_arg many[IMAP_FETCH_MAX_ITEMS + 1];
	for (size_t i = 0; i < IMAP_FETCH_MAX_ITEMS + 1; i++)
		many[i] = atom("UID");
	list.list = many;
	list.list_count = IMAP_FETCH_MAX_ITEMS + 1;
	assert_int_equal(imap_fetch_parse(&list, 1, false, &req, &error), -OM_EINVAL);
	list.list_count = IMAP_FETCH_MAX_ITEMS;
	assert_int_equal(imap_fetch_parse(&list, 1, false, &req, &error), 0);
	assert_int_equal(req.n_items, 1);
	imap_fetch_request_free(&req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_items),
		cmocka_unit_test(test_rfc822_items),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_bad_items),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
