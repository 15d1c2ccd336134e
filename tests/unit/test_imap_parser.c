/* LIBS: om_imap om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-parser.h"
#include "imap/imap-util.h"

static const struct imap_parser_limits test_limits = {
	.max_line = 1000,
	.max_literal = 100000,
	.max_small_literal = 500,
	.max_depth = 20,
	.max_args = 200,
};

/* One result of feeding: a command serialized, or "+" / "ERR tag msg" / "FATAL msg". */
struct events {
	char *ev[64];
	size_t n;
};

static void serialize_args(const struct imap_arg *args, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &args[i];
		if (i > 0)
			buf_append_c(out, ' ');
		switch (a->type) {
		case IMAP_ARG_ATOM:
			buf_append(out, a->str, a->len);
			break;
		case IMAP_ARG_STRING:
			buf_append_c(out, '"');
			buf_append(out, a->str, a->len);
			buf_append_c(out, '"');
			break;
		case IMAP_ARG_LITERAL:
			buf_printf(out, "%s{%zu}", a->literal8 ? "~" : "", a->len);
			buf_append(out, a->str, a->len);
			break;
		case IMAP_ARG_NIL:
			buf_append_str(out, "<NIL>");
			break;
		case IMAP_ARG_LIST:
			buf_append_c(out, '(');
			serialize_args(a->list, a->list_count, out);
			buf_append_c(out, ')');
			break;
		}
	}
}

static char *serialize(const struct imap_command *cmd)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s %s", cmd->tag, cmd->name);
	if (cmd->n_args > 0) {
		buf_append_c(&b, ' ');
		serialize_args(cmd->args, cmd->n_args, &b);
	}
	return buf_steal(&b);
}

/* Feed data as a network would deliver it, `chunk` bytes at a time; the
 * caller drains consumed bytes and re-runs on the rest. */
static void feed(struct imap_parser *p, const char *data, size_t len, size_t chunk,
		 struct events *evs)
{
	size_t pos = 0, avail = len < chunk ? len : chunk;
	evs->n = 0;
	for (;;) {
		size_t consumed = 0;
		enum imap_parse_result r = imap_parser_run(p, data + pos, avail - pos, &consumed);
		assert_true(consumed <= avail - pos);
		pos += consumed;
		char *ev = NULL;
		struct buf b = BUF_INIT;
		switch (r) {
		case IMAP_PARSE_MORE:
			assert_int_equal(pos, avail);
			if (avail == len)
				return;
			avail = avail + chunk < len ? avail + chunk : len;
			continue;
		case IMAP_PARSE_COMMAND: {
			struct imap_command *cmd = imap_parser_take(p);
			assert_non_null(cmd);
			ev = serialize(cmd);
			imap_command_free(cmd);
			break;
		}
		case IMAP_PARSE_CONTINUE:
			ev = om_strdup("+");
			break;
		case IMAP_PARSE_ERROR: {
			const char *tag = imap_parser_error_tag(p);
			buf_printf(&b, "ERR %s %s", tag != NULL ? tag : "*", imap_parser_error(p));
			ev = buf_steal(&b);
			break;
		}
		case IMAP_PARSE_FATAL:
			buf_printf(&b, "FATAL %s", imap_parser_error(p));
			ev = buf_steal(&b);
			break;
		}
		assert_true(evs->n < 64);
		evs->ev[evs->n++] = ev;
		if (r == IMAP_PARSE_FATAL)
			return;
	}
}

static void free_events(struct events *evs)
{
	for (size_t i = 0; i < evs->n; i++)
		free(evs->ev[i]);
	evs->n = 0;
}

/* Parse `in` with every chunk size in chunks[] and expect the same events. */
static void check_chunks(const char *in, size_t in_len, const char *const *expect, size_t n_expect,
			 const struct imap_parser_limits *lim)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64, 100000 };
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct imap_parser *p = imap_parser_new(lim != NULL ? lim : &test_limits);
		struct events evs;
		feed(p, in, in_len, chunks[c], &evs);
		for (size_t i = 0; i < evs.n && i < n_expect; i++) {
			if (strcmp(evs.ev[i], expect[i]) != 0)
				fail_msg("chunk %zu, event %zu: got [%s] want [%s]", chunks[c], i,
					 evs.ev[i], expect[i]);
		}
		if (evs.n != n_expect)
			fail_msg("chunk %zu: %zu events, want %zu (last [%s])", chunks[c], evs.n,
				 n_expect, evs.n > 0 ? evs.ev[evs.n - 1] : "");
		free_events(&evs);
		imap_parser_free(p);
	}
}

#define CHECK(in, ...)                                                              \
	do {                                                                        \
		const char *const exp_[] = { __VA_ARGS__ };                         \
		check_chunks(in, sizeof(in) - 1, exp_, sizeof(exp_) / sizeof(exp_[0]), NULL); \
	} while (0)

static void test_simple(void **state)
{
	CHECK("a1 noop\r\n", "a1 NOOP");
	CHECK("a1 NOOP\n", "a1 NOOP");
	CHECK("A LOGIN user \"pass word\"\r\n", "A LOGIN user \"pass word\"");
	CHECK("\r\n\r\nA NOOP\r\n", "A NOOP");
	CHECK("t1 select INBOX\r\nt2 logout\r\n", "t1 SELECT INBOX", "t2 LOGOUT");
	CHECK("x FETCH 1:* (FLAGS UID)\r\n", "x FETCH 1:* (FLAGS UID)");
	CHECK("x LIST \"\" *\r\n", "x LIST \"\" *");
	CHECK("x LIST \"\" %\r\n", "x LIST \"\" %");
	CHECK("x STORE 1 +FLAGS (\\Seen \\Deleted)\r\n", "x STORE 1 +FLAGS (\\Seen \\Deleted)");
	CHECK("x Y nil NIL Nil \"NIL\"\r\n", "x Y <NIL> <NIL> <NIL> \"NIL\"");
	CHECK("x Y () (()) (a (b (c)) d)\r\n", "x Y () (()) (a (b (c)) d)");
	CHECK("x Y \"a\\\"b\\\\c\"\r\n", "x Y \"a\"b\\c\"");
	CHECK("x Y \"\xc3\xa4\xff\"\r\n", "x Y \"\xc3\xa4\xff\"");
	CHECK("x Y \"\"\r\n", "x Y \"\"");
	CHECK("x SELECT [Gmail]/Sent\r\n", "x SELECT [Gmail]/Sent");
	CHECK("x Y ~abc\r\n", "x Y ~abc");
}

static void test_brackets(void **state)
{
	CHECK("a FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100> UID)\r\n",
	      "a FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100> UID)");
	CHECK("a FETCH 1 BODY[]\r\n", "a FETCH 1 BODY[]");
	CHECK("a FETCH 1 (BODY[1.2.MIME] BODY[TEXT]<5.10>)\r\n",
	      "a FETCH 1 (BODY[1.2.MIME] BODY[TEXT]<5.10>)");
	/* an unclosed bracket ends with the line */
	CHECK("a X foo[bar\r\nb NOOP\r\n", "a X foo[bar", "b NOOP");
}

static void test_literals(void **state)
{
	CHECK("a LOGIN {4}\r\nuser {4}\r\npass\r\n", "+", "+", "a LOGIN {4}user {4}pass");
	CHECK("a LOGIN {4+}\r\nuser {4+}\r\npass\r\n", "a LOGIN {4}user {4}pass");
	CHECK("a X {0}\r\n\r\n", "+", "a X {0}");
	CHECK("a X {0+}\r\n (x)\r\n", "a X {0} (x)");
	CHECK("a X ({3}\r\na\r\n)\r\n", "+", "a X ({3}a\r\n)");
	CHECK("a X {3}\n\0\"(\r\n", "+", "a X {3}\0\"(");
	CHECK("a APPEND box (\\Seen) ~{5+}\r\nhello\r\n", "a APPEND box (\\Seen) ~{5}hello");
	CHECK("a APPEND box ~{5}\r\nhello\r\n", "+", "a APPEND box ~{5}hello");
	/* bad literal syntax */
	CHECK("a X {}\r\nb NOOP\r\n", "ERR a Invalid literal size", "b NOOP");
	CHECK("a X {5x}\r\nb NOOP\r\n", "ERR a Invalid literal size", "b NOOP");
	CHECK("a X {5} \r\nb NOOP\r\n", "ERR a Missing CRLF after literal size", "b NOOP");
	CHECK("a X {5}{5}\r\nb NOOP\r\n", "ERR a Missing CRLF after literal size", "b NOOP");
}

static void test_literal_limits(void **state)
{
	/* synchronizing and too big: no "+", the line is over */
	CHECK("a X {501}\r\nb NOOP\r\n", "ERR a [TOOBIG] Literal too large", "b NOOP");
	CHECK("a X {99999999999999999999999}\r\nb NOOP\r\n", "ERR a [TOOBIG] Literal too large",
	      "b NOOP");
	/* APPEND has the big limit */
	struct buf in = BUF_INIT, want = BUF_INIT;
	buf_append_str(&in, "a APPEND box {2000+}\r\n");
	for (int i = 0; i < 2000; i++)
		buf_append_c(&in, (char)('a' + i % 26));
	buf_append_str(&in, "\r\n");
	buf_printf(&want, "a APPEND box {2000}%.*s", 2000, in.data + 22);
	const char *exp1[] = { want.data };
	check_chunks(in.data, in.len, exp1, 1, NULL);
	CHECK("a APPEND box {100001}\r\nb NOOP\r\n", "ERR a [TOOBIG] Literal too large", "b NOOP");
	/* non-synchronizing and too big: can't resync */
	CHECK("a X {501+}\r\nb NOOP\r\n", "FATAL [TOOBIG] Literal too large");
	/* total literal bytes of a command are bounded too */
	buf_reset(&in);
	buf_append_str(&in, "a X {300+}\r\n");
	for (int i = 0; i < 300; i++)
		buf_append_c(&in, 'x');
	buf_append_str(&in, " {300}\r\nb NOOP\r\n");
	const char *exp2[] = { "ERR a [TOOBIG] Literal too large", "b NOOP" };
	check_chunks(in.data, in.len, exp2, 2, NULL);
	buf_free(&in);
	buf_free(&want);
}

static void test_errors_recover(void **state)
{
	CHECK(" NOOP\r\nb NOOP\r\n", "ERR * Empty tag", "b NOOP");
	CHECK("a+b NOOP\r\nb NOOP\r\n", "ERR * Invalid tag", "b NOOP");
	CHECK("a{ NOOP\r\nb NOOP\r\n", "ERR * Invalid tag", "b NOOP");
	CHECK("*\r\nb NOOP\r\n", "ERR * Invalid tag", "b NOOP");
	CHECK("abc\r\nb NOOP\r\n", "ERR abc Missing command", "b NOOP");
	CHECK("abc \r\nb NOOP\r\n", "ERR abc Missing command", "b NOOP");
	CHECK("abc NO(OP\r\nb NOOP\r\n", "ERR abc Invalid command name", "b NOOP");
	CHECK("a X \"abc\r\nb NOOP\r\n", "ERR a Line end inside a quoted string", "b NOOP");
	CHECK("a X \"a\\bc\"\r\nb NOOP\r\n", "ERR a Invalid escape in quoted string", "b NOOP");
	CHECK("a X (a b\r\nb NOOP\r\n", "ERR a Missing ')'", "b NOOP");
	CHECK("a X a)\r\nb NOOP\r\n", "ERR a Unexpected ')'", "b NOOP");
	CHECK("a X \"a\"b\r\nb NOOP\r\n", "ERR a Missing space between arguments", "b NOOP");
	CHECK("a X a\0b\r\nb NOOP\r\n", "ERR a NUL byte in command", "b NOOP");
	CHECK("a X \"a\0b\"\r\nb NOOP\r\n", "ERR a NUL byte in command", "b NOOP");
	CHECK("a X\0\r\nb NOOP\r\n", "ERR a NUL byte in command", "b NOOP");
	CHECK("a X a\rb\r\nb NOOP\r\n", "ERR a CR without LF", "b NOOP");
	CHECK("a X a\"b\r\nb NOOP\r\n", "ERR a Invalid characters in atom", "b NOOP");
	CHECK("a X a\x01\r\nb NOOP\r\n", "ERR a Invalid characters in atom", "b NOOP");
	/* the bad line ends with a literal announcement */
	CHECK("a X \"a\\q\" {5}\r\nb NOOP\r\n", "ERR a Invalid escape in quoted string", "b NOOP");
	CHECK("a X \"a\\q\" {5+}\r\nb\r\nc\r\nb NOOP\r\n", "ERR a Invalid escape in quoted string",
	      "b NOOP");
	CHECK("a X \"a\\q\" {5+}\r\nb\r\nc {3+}\r\nxyz\r\nb NOOP\r\n",
	      "ERR a Invalid escape in quoted string", "b NOOP");
	CHECK("a X \"a\\q\" {501+}\r\nb NOOP\r\n", "FATAL [TOOBIG] Literal too large");
}

static void test_long_line(void **state)
{
	struct buf in = BUF_INIT;
	buf_append_str(&in, "a X ");
	for (int i = 0; i < 5000; i++)
		buf_append_c(&in, (char)('a' + i % 26));
	buf_append_str(&in, "\r\nb NOOP\r\n");
	const char *exp[] = { "ERR a Command line too long", "b NOOP" };
	check_chunks(in.data, in.len, exp, 2, NULL);

	/* in a quoted string, and with a literal announced at the end */
	buf_reset(&in);
	buf_append_str(&in, "a X \"");
	for (int i = 0; i < 5000; i++)
		buf_append_c(&in, 'q');
	buf_append_str(&in, "\" {4+}\r\nab\r\n\r\nb NOOP\r\n");
	check_chunks(in.data, in.len, exp, 2, NULL);

	/* many short arguments */
	buf_reset(&in);
	buf_append_str(&in, "a X");
	for (int i = 0; i < 180; i++)
		buf_append_str(&in, " aaaaaa");
	buf_append_str(&in, "\r\nb NOOP\r\n");
	check_chunks(in.data, in.len, exp, 2, NULL);

	/* exactly at the limit is fine: 1000 bytes of line */
	buf_reset(&in);
	buf_append_str(&in, "a X ");
	while (in.len < 1000)
		buf_append_c(&in, 'z');
	buf_append_str(&in, "\r\n");
	struct imap_parser *p = imap_parser_new(&test_limits);
	size_t consumed;
	assert_int_equal(imap_parser_run(p, in.data, in.len, &consumed), IMAP_PARSE_COMMAND);
	imap_command_free(imap_parser_take(p));
	imap_parser_free(p);
	buf_free(&in);
}

static void test_deep_nesting(void **state)
{
	struct buf in = BUF_INIT;
	buf_append_str(&in, "a X ");
	for (int i = 0; i < 10000; i++)
		buf_append_c(&in, '(');
	for (int i = 0; i < 10000; i++)
		buf_append_c(&in, ')');
	buf_append_str(&in, "\r\nb NOOP\r\n");
	struct imap_parser_limits lim = test_limits;
	lim.max_line = 100000;
	const char *exp[] = { "ERR a Too deep nesting", "b NOOP" };
	check_chunks(in.data, in.len, exp, 2, &lim);

	/* max_depth itself is fine */
	buf_reset(&in);
	buf_append_str(&in, "a X ");
	for (int i = 0; i < 20; i++)
		buf_append_c(&in, '(');
	for (int i = 0; i < 20; i++)
		buf_append_c(&in, ')');
	buf_append_str(&in, "\r\n");
	struct imap_parser *p = imap_parser_new(&test_limits);
	size_t consumed;
	assert_int_equal(imap_parser_run(p, in.data, in.len, &consumed), IMAP_PARSE_COMMAND);
	struct imap_command *cmd = imap_parser_take(p);
	const struct imap_arg *a = &cmd->args[0];
	for (int i = 1; i < 20; i++) {
		assert_int_equal(a->type, IMAP_ARG_LIST);
		assert_int_equal(a->list_count, 1);
		a = &a->list[0];
	}
	assert_int_equal(a->list_count, 0);
	imap_command_free(cmd);
	imap_parser_free(p);
	buf_free(&in);
}

static void test_max_args(void **state)
{
	struct buf in = BUF_INIT;
	buf_append_str(&in, "a X (");
	for (int i = 0; i < 250; i++)
		buf_append_str(&in, "1 ");
	buf_append_str(&in, ")\r\nb NOOP\r\n");
	const char *exp[] = { "ERR a Too many arguments", "b NOOP" };
	check_chunks(in.data, in.len, exp, 2, NULL);
	buf_free(&in);
}

/* The tree: list children are contiguous, strings are NUL-terminated. */
static void test_tree(void **state)
{
	static const char in[] = "t FETCH 1 (A (B C) \"D\" {1+}\r\nE ((F)) G)\r\n";
	struct imap_parser *p = imap_parser_new(&test_limits);
	size_t consumed;
	assert_int_equal(imap_parser_run(p, in, sizeof(in) - 1, &consumed), IMAP_PARSE_COMMAND);
	assert_int_equal(consumed, sizeof(in) - 1);
	struct imap_command *cmd = imap_parser_take(p);
	assert_null(imap_parser_take(p));
	assert_string_equal(cmd->tag, "t");
	assert_string_equal(cmd->name, "FETCH");
	assert_int_equal(cmd->n_args, 2);
	const char *s;
	size_t len;
	assert_true(imap_arg_get_atom(&cmd->args[0], &s));
	assert_string_equal(s, "1");
	const struct imap_arg *l = &cmd->args[1];
	assert_int_equal(l->type, IMAP_ARG_LIST);
	assert_int_equal(l->list_count, 6);
	assert_string_equal(l->list[0].str, "A");
	assert_int_equal(l->list[1].list_count, 2);
	assert_string_equal(l->list[1].list[1].str, "C");
	assert_true(imap_arg_get_string(&l->list[2], &s, &len));
	assert_string_equal(s, "D");
	assert_false(imap_arg_get_string(&l->list[0], &s, &len));
	assert_true(imap_arg_get_astring(&l->list[3], &s, &len));
	assert_int_equal(l->list[3].type, IMAP_ARG_LITERAL);
	assert_string_equal(s, "E");
	assert_int_equal(l->list[4].list[0].list[0].len, 1);
	assert_string_equal(l->list[5].str, "G");
	assert_false(imap_arg_get_atom(&l->list[2], &s));
	assert_false(imap_arg_get_astring(l, &s, &len));
	imap_command_free(cmd);
	imap_parser_free(p);
}

/* CONTINUE comes once per synchronizing literal, right after its CRLF, and
 * only that much is consumed. */
static void test_continue_sequencing(void **state)
{
	static const char in[] = "a LOGIN {3}\r\nabc {2}\r\nde\r\n";
	struct imap_parser *p = imap_parser_new(&test_limits);
	size_t consumed, pos = 0;
	assert_int_equal(imap_parser_run(p, in, sizeof(in) - 1, &consumed), IMAP_PARSE_CONTINUE);
	assert_int_equal(consumed, 13);
	pos += consumed;
	assert_int_equal(imap_parser_run(p, in + pos, sizeof(in) - 1 - pos, &consumed),
			 IMAP_PARSE_CONTINUE);
	pos += consumed;
	assert_int_equal(pos, 22);
	assert_int_equal(imap_parser_run(p, in + pos, 1, &consumed), IMAP_PARSE_MORE);
	pos += consumed;
	assert_int_equal(imap_parser_run(p, in + pos, sizeof(in) - 1 - pos, &consumed),
			 IMAP_PARSE_COMMAND);
	imap_command_free(imap_parser_take(p));
	/* nothing given: MORE */
	assert_int_equal(imap_parser_run(p, "", 0, &consumed), IMAP_PARSE_MORE);
	assert_int_equal(consumed, 0);
	imap_parser_free(p);
}

static void test_write_string(void **state)
{
	struct buf b = BUF_INIT;
	imap_write_string(&b, "abc", 3);
	imap_write_string(&b, NULL, 0);
	imap_write_nstring(&b, NULL, 0);
	imap_write_string(&b, "", 0);
	imap_write_string(&b, "a\"b\\c", 5);
	imap_write_string(&b, "a\r\nb", 4);
	imap_write_nstring(&b, "\xc3\xa4", 2);
	assert_string_equal(b.data, "\"abc\"NILNIL\"\"\"a\\\"b\\\\c\"{4}\r\na\r\nb{2}\r\n\xc3\xa4");
	buf_free(&b);
}

static void check_seqset(const char *s, const char *want)
{
	struct seq_range *r = NULL;
	size_t n = 0;
	bool ok = imap_seqset_parse(s, &r, &n);
	if (want == NULL) {
		if (ok)
			fail_msg("seqset [%s] accepted", s);
		return;
	}
	if (!ok)
		fail_msg("seqset [%s] rejected", s);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%u-%u", i ? "," : "", r[i].lo, r[i].hi);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
	free(r);
}

static void test_seqset(void **state)
{
	check_seqset("1", "1-1");
	check_seqset("1:4", "1-4");
	check_seqset("4:1", "1-4");
	check_seqset("*", "4294967295-4294967295");
	check_seqset("1,3:*", "1-1,3-4294967295");
	check_seqset("*:3", "3-4294967295");
	check_seqset("4294967295", "4294967295-4294967295");
	check_seqset("2,2,1:1", "2-2,2-2,1-1");
	check_seqset("0", NULL);
	check_seqset("1:0", NULL);
	check_seqset("01", NULL);
	check_seqset("", NULL);
	check_seqset("1,", NULL);
	check_seqset(",1", NULL);
	check_seqset("1,,2", NULL);
	check_seqset("1:", NULL);
	check_seqset(":1", NULL);
	check_seqset("1:2:3", NULL);
	check_seqset("1x", NULL);
	check_seqset("-1", NULL);
	check_seqset("4294967296", NULL);
	check_seqset("99999999999999999999", NULL);
	check_seqset("1 2", NULL);
	check_seqset("**", NULL);
}

static void test_dates(void **state)
{
	long long t;
	int tz, y, m, d;
	assert_true(imap_parse_datetime("17-Jul-1996 02:44:25 -0700", &t, &tz));
	assert_int_equal(t, 837596665);
	assert_int_equal(tz, -420);
	assert_true(imap_parse_datetime(" 7-Jul-1996 02:44:25 -0700", &t, &tz));
	assert_int_equal(t, 837596665 - 10 * 86400);
	assert_true(imap_parse_datetime("07-jul-1996 02:44:25 +0130", &t, &tz));
	assert_int_equal(tz, 90);
	assert_true(imap_parse_datetime("01-Jan-1970 00:00:00 +0000", &t, &tz));
	assert_int_equal(t, 0);
	assert_true(imap_parse_datetime("29-Feb-2000 23:59:60 +0000", &t, &tz));
	assert_false(imap_parse_datetime("29-Feb-1900 00:00:00 +0000", &t, &tz));
	assert_false(imap_parse_datetime("31-Apr-2000 00:00:00 +0000", &t, &tz));
	assert_false(imap_parse_datetime("17-Jul-1996 24:00:00 +0000", &t, &tz));
	assert_false(imap_parse_datetime("17-Jul-1996 02:44:25 -0760", &t, &tz));
	assert_false(imap_parse_datetime("17-Jul-1996 02:44:25 0700", &t, &tz));
	assert_false(imap_parse_datetime("17-Jul-1996 02:44:25 -0700 ", &t, &tz));
	assert_false(imap_parse_datetime("17-Jux-1996 02:44:25 -0700", &t, &tz));
	assert_false(imap_parse_datetime("17-Jul-96 02:44:25 -0700", &t, &tz));
	assert_false(imap_parse_datetime("", &t, &tz));
	assert_false(imap_parse_datetime("17-Ju", &t, &tz));

	assert_true(imap_parse_date("1-Feb-1994", &y, &m, &d));
	assert_int_equal(y, 1994);
	assert_int_equal(m, 2);
	assert_int_equal(d, 1);
	assert_true(imap_parse_date("01-FEB-1994", &y, &m, &d));
	assert_false(imap_parse_date("0-Feb-1994", &y, &m, &d));
	assert_false(imap_parse_date("1-Feb-1994 ", &y, &m, &d));
	assert_false(imap_parse_date("1-Feb-19", &y, &m, &d));
	assert_false(imap_parse_date("123-Feb-1994", &y, &m, &d));

	struct buf b = BUF_INIT;
	imap_write_datetime(&b, 837596665, -420);
	assert_string_equal(b.data, "\"17-Jul-1996 02:44:25 -0700\"");
	buf_reset(&b);
	imap_write_datetime(&b, 0, 0);
	assert_string_equal(b.data, "\"01-Jan-1970 00:00:00 +0000\"");
	buf_reset(&b);
	imap_write_datetime(&b, 1700000000, 330);
	assert_true(imap_parse_datetime("15-Nov-2023 03:43:20 +0530", &t, &tz));
	assert_int_equal(t, 1700000000);
	assert_string_equal(b.data, "\"15-Nov-2023 03:43:20 +0530\"");
	buf_free(&b);

	/* calendar round trip */
	for (long long day = -800000; day < 800000; day += 997) {
		imap_civil_from_days(day, &y, &m, &d);
		assert_int_equal(imap_days_from_civil(y, m, d), day);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_brackets),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_literal_limits),
		cmocka_unit_test(test_errors_recover),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_max_args),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_continue_sequencing),
		cmocka_unit_test(test_write_string),
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
