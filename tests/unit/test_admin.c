/* LIBS: om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/admin-proto.h"
#include "lib/om-error.h"
#include "lib/stats.h"

static int parse(const char *line, struct admin_request *req)
{
	return admin_request_parse(line, strlen(line), req);
}

static void test_request_parse(void **state)
{
	(void)state;
	struct admin_request req;
	assert_int_equal(parse("flush", &req), 0);
	assert_int_equal(req.argc, 1);
	assert_string_equal(req.argv[0], "flush");
	admin_request_free(&req);

	assert_int_equal(parse("flush\talice@example.com\r", &req), 0);
	assert_int_equal(req.argc, 2);
	assert_string_equal(req.argv[0], "flush");
	assert_string_equal(req.argv[1], "alice@example.com");
	admin_request_free(&req);

	/* spaces are data, not separators */
	assert_int_equal(parse("lease\tjohn doe", &req), 0);
	assert_int_equal(req.argc, 2);
	assert_string_equal(req.argv[1], "john doe");
	admin_request_free(&req);
}

static void test_request_parse_errors(void **state)
{
	(void)state;
	struct admin_request req;
	assert_int_equal(parse("", &req), -OM_EINVAL);
	assert_int_equal(parse("\r", &req), -OM_EINVAL);
	assert_int_equal(parse("flush\t", &req), -OM_EINVAL);       /* empty field */
	assert_int_equal(parse("\tflush", &req), -OM_EINVAL);
	assert_int_equal(parse("flush\t\talice", &req), -OM_EINVAL);
	assert_int_equal(parse("flush\x01", &req), -OM_EINVAL);     /* control */
	assert_int_equal(parse("flush\x7f", &req), -OM_EINVAL);
	assert_int_equal(admin_request_parse("fl\0ush", 6, &req), -OM_EINVAL); /* NUL */
	assert_int_equal(parse("a\tb\tc\td\te\tf\tg\th", &req), 0);  /* 8 fields: the limit */
	assert_int_equal(req.argc, 8);
	admin_request_free(&req);
	assert_int_equal(parse("a\tb\tc\td\te\tf\tg\th\ti", &req), -OM_ELIMIT);

	char *big = malloc(ADMIN_MAX_LINE + 1);
	memset(big, 'x', ADMIN_MAX_LINE);
	big[ADMIN_MAX_LINE] = '\0';
	assert_int_equal(parse(big, &req), -OM_ELIMIT);
	big[ADMIN_MAX_LINE - 1] = '\0';
	assert_int_equal(parse(big, &req), 0);
	admin_request_free(&req);
	free(big);
}

static void test_request_format(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	const char *ok[] = { "flush", "alice" };
	assert_int_equal(admin_request_format(ok, 2, &b), 0);
	assert_string_equal(buf_cstr(&b), "flush\talice\n");

	/* round trip */
	struct admin_request req;
	assert_int_equal(admin_request_parse(b.data, b.len - 1, &req), 0);
	assert_int_equal(req.argc, 2);
	assert_string_equal(req.argv[1], "alice");
	admin_request_free(&req);

	buf_reset(&b);
	const char *tab[] = { "flush", "a\tb" };
	assert_int_equal(admin_request_format(tab, 2, &b), -OM_EINVAL);
	const char *nl[] = { "flush", "a\nOK" };
	assert_int_equal(admin_request_format(nl, 2, &b), -OM_EINVAL);
	const char *empty[] = { "flush", "" };
	assert_int_equal(admin_request_format(empty, 2, &b), -OM_EINVAL);
	assert_int_equal(admin_request_format(ok, 0, &b), -OM_EINVAL);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_reply(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	admin_reply_data(&b, "line one\r\nOK\nERR x y\n", 21);
	admin_reply_data(&b, "no newline", 10);
	admin_reply_ok(&b);
	/* data that looks like a final line stays data */
	assert_string_equal(buf_cstr(&b), "+line one\n+OK\n+ERR x y\n+no newline\nOK\n");

	const char *text;
	size_t len;
	assert_int_equal(admin_reply_line("+OK", 3, &text, &len), ADMIN_LINE_DATA);
	assert_int_equal(len, 2);
	assert_memory_equal(text, "OK", 2);
	assert_int_equal(admin_reply_line("+", 1, &text, &len), ADMIN_LINE_DATA);
	assert_int_equal(len, 0);
	assert_int_equal(admin_reply_line("OK", 2, &text, &len), ADMIN_LINE_OK);
	assert_int_equal(admin_reply_line("OK\r", 3, &text, &len), ADMIN_LINE_OK);
	assert_int_equal(admin_reply_line("OKAY", 4, &text, &len), ADMIN_LINE_BAD);
	assert_int_equal(admin_reply_line("", 0, &text, &len), ADMIN_LINE_BAD);
	assert_int_equal(admin_reply_line("ERR", 3, &text, &len), ADMIN_LINE_BAD);

	buf_reset(&b);
	admin_reply_err(&b, "failed", "flush of %s: %s\nOK", "bob", "ETEMP");
	/* one line, whatever the message holds */
	assert_string_equal(buf_cstr(&b), "ERR failed flush of bob: ETEMP OK\n");
	assert_int_equal(admin_reply_line(b.data, b.len - 1, &text, &len), ADMIN_LINE_ERR);
	assert_int_equal(len, strlen("failed flush of bob: ETEMP OK"));
	assert_memory_equal(text, "failed ", 7);
	buf_free(&b);
}

static void test_prom_to_json(void **state)
{
	(void)state;
	const char *text =
		"# HELP objmail_x a help\n"
		"# TYPE objmail_x counter\n"
		"objmail_x 12\n"
		"objmail_req_total{driver=\"s3\",op=\"get\"} 3\n"
		"objmail_q{l=\"a \\\"quoted\\\" \\\\ value\"} 1.5e3\n"
		"objmail_nan NaN\n"
		"objmail_inf{a=\"b\"} +Inf\r\n"
		"objmail_broken{a=} 1\n"
		"\n";
	struct buf b = BUF_INIT;
	admin_prom_to_json(text, strlen(text), &b);
	assert_string_equal(buf_cstr(&b),
		"{\"metrics\":["
		"{\"name\":\"objmail_x\",\"labels\":{},\"value\":12},"
		"{\"name\":\"objmail_req_total\",\"labels\":{\"driver\":\"s3\",\"op\":\"get\"},\"value\":3},"
		"{\"name\":\"objmail_q\",\"labels\":{\"l\":\"a \\\"quoted\\\" \\\\ value\"},\"value\":1.5e3},"
		"{\"name\":\"objmail_nan\",\"labels\":{},\"value\":null},"
		"{\"name\":\"objmail_inf\",\"labels\":{\"a\":\"b\"},\"value\":null}"
		"]}");
	buf_reset(&b);
	admin_prom_to_json("", 0, &b);
	assert_string_equal(buf_cstr(&b), "{\"metrics\":[]}");
	buf_free(&b);
}

static void test_stats(void **state)
{
	(void)state;
	uint64_t ok = om_stat_get(OM_STAT_LMTP_DELIVERY_OK);
	uint64_t temp = om_stat_get(OM_STAT_LMTP_DELIVERY_TEMPFAIL);
	uint64_t perm = om_stat_get(OM_STAT_LMTP_DELIVERY_PERMFAIL);
	om_stat_lmtp_delivery(0);
	om_stat_lmtp_delivery(-OM_ETEMP);
	om_stat_lmtp_delivery(-OM_EIO);
	om_stat_lmtp_delivery(-OM_EQUOTA);
	om_stat_lmtp_delivery(-OM_ELIMIT);
	assert_int_equal(om_stat_get(OM_STAT_LMTP_DELIVERY_OK), ok + 1);
	assert_int_equal(om_stat_get(OM_STAT_LMTP_DELIVERY_TEMPFAIL), temp + 2);
	assert_int_equal(om_stat_get(OM_STAT_LMTP_DELIVERY_PERMFAIL), perm + 2);
	om_gauge_add(OM_GAUGE_CONN_IMAP, 2);
	om_gauge_add(OM_GAUGE_CONN_IMAP, -1);
	assert_int_equal(om_gauge_get(OM_GAUGE_CONN_IMAP), 1);
	om_stat_inc(OM_STAT_COUNT); /* out of range: ignored */
	assert_int_equal(om_stat_get(OM_STAT_COUNT), 0);
}

static void test_progress(void **state)
{
	(void)state;
	struct buf out = BUF_INIT;
	admin_reply_progress(&out, "import maildir", 12, 40);
	assert_string_equal(buf_cstr(&out), "+progress\t12\t40\timport maildir\n");
	const char *text, *what;
	size_t tlen, wlen;
	assert_int_equal(admin_reply_line(out.data, out.len - 1, &text, &tlen), ADMIN_LINE_DATA);
	unsigned long long done, total;
	assert_true(admin_progress_parse(text, tlen, &done, &total, &what, &wlen));
	assert_int_equal(done, 12);
	assert_int_equal(total, 40);
	assert_int_equal(wlen, strlen("import maildir"));
	assert_memory_equal(what, "import maildir", wlen);
	/* results are not progress */
	static const char *const not_progress[] = { "{\"user\":1}", "progress 1 2 x",
						    "progress\t1\tx\ty",
						    "progress\t99999999999999999999\t1\tx" };
	for (size_t i = 0; i < sizeof(not_progress) / sizeof(not_progress[0]); i++)
		assert_false(admin_progress_parse(not_progress[i], strlen(not_progress[i]), &done,
						  &total, &what, &wlen));
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_parse),
		cmocka_unit_test(test_request_parse_errors),
		cmocka_unit_test(test_request_format),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_prom_to_json),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
