/* LIBS: om_imap om_lib */
/* SEARCH programs parsed from real command lines and evaluated against a
 * fake mailbox through the storage-independent evaluation API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "imap/imap-util.h"
#include "storage/mail-storage.h"

struct fake_msg {
	struct search_msg m;
	const char *headers; /* "Name: value\n" lines */
	const char *body;
	bool has_date;
	long long sent;
	int sent_tz;
};

static struct fake_msg msgs[5];
static size_t n_msgs = 5;
static char *keywords[] = { "$Forwarded", "Junk" };
static unsigned header_calls, text_calls;

static long long at(int y, int m, int d, int hh, int mm, int tz)
{
	return imap_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 - tz * 60LL;
}

static void setup_msgs(void)
{
	memset(msgs, 0, sizeof(msgs));
	for (size_t i = 0; i < 5; i++) {
		msgs[i].m.seq = (uint32_t)i + 1;
		msgs[i].m.uid = (uint32_t)(i + 1) * 10;
		msgs[i].headers = "";
		msgs[i].body = "";
	}
	/* 23:30 at -0500 on Jan 1st is Jan 2nd in UTC: the local day counts */
	msgs[0].m.flags = MAIL_SEEN | MAIL_ANSWERED;
	msgs[0].m.keywords = 1;
	msgs[0].m.size = 100;
	msgs[0].m.internal_date = at(2020, 1, 1, 23, 30, -300);
	msgs[0].m.internal_tz = -300;
	msgs[0].headers = "Subject: Re: lunch\nTo: bob@example.org\n";
	msgs[0].body = "see you at noon";
	msgs[0].has_date = true;
	msgs[0].sent = at(2020, 1, 1, 1, 0, 120);
	msgs[0].sent_tz = 120;

	msgs[1].m.flags = MAIL_RECENT;
	msgs[1].m.size = 2000;
	msgs[1].m.internal_date = at(2020, 1, 5, 12, 0, 0);
	msgs[1].headers = "From: Alice <alice@example.com>\nSubject: Hello World\n"
			  "Cc: carol@example.net\nCc: dave@example.net\n";
	msgs[1].body = "the quick brown fox \xc3\xa4";
	msgs[1].has_date = true;
	msgs[1].sent = at(2019, 12, 31, 23, 0, -60);
	msgs[1].sent_tz = -60;

	msgs[2].m.flags = MAIL_DELETED | MAIL_FLAGGED | MAIL_DRAFT;
	msgs[2].m.keywords = 2;
	msgs[2].m.size = 500;
	msgs[2].m.internal_date = at(2020, 1, 10, 0, 0, 0);
	msgs[2].headers = "Subject: draft\nBcc: eve@example.com\n";

	msgs[3].m.flags = MAIL_RECENT | MAIL_SEEN;
	msgs[3].m.size = 501;
	msgs[3].m.internal_date = at(2020, 2, 1, 0, 0, 0);
	msgs[3].has_date = true;
	msgs[3].sent = at(2020, 2, 1, 0, 0, 0);

	msgs[4].m.size = 0;
	msgs[4].m.internal_date = at(2020, 3, 1, 0, 0, 0);
	msgs[4].headers = "X-Mailer: test\n";
	msgs[4].body = "FOX";
}

static bool fake_header(void *ctx, const char *name, struct buf *out)
{
	const struct fake_msg *f = ctx;
	size_t nlen = strlen(name);
	bool found = false;
	header_calls++;
	for (const char *p = f->headers; *p != '\0';) {
		const char *eol = strchr(p, '\n');
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			if (found)
				buf_append_c(out, '\n');
			const char *v = p + nlen + 1;
			while (*v == ' ')
				v++;
			buf_append(out, v, (size_t)(eol - v));
			found = true;
		}
		p = eol + 1;
	}
	return found;
}

static bool fake_text(void *ctx, bool with_headers, struct buf *out)
{
	const struct fake_msg *f = ctx;
	text_calls++;
	if (with_headers)
		buf_append_str(out, f->headers);
	buf_append_str(out, f->body);
	return true;
}

static bool fake_sent_date(void *ctx, long long *t, int *tz)
{
	const struct fake_msg *f = ctx;
	if (!f->has_date)
		return false;
	*t = f->sent;
	*tz = f->sent_tz;
	return true;
}

static bool ascii_contains_ci(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen > hlen)
		return false;
	for (size_t i = 0; i + nlen <= hlen; i++) {
		if (strncasecmp(hay + i, needle, nlen) == 0)
			return true;
	}
	return false;
}

static const struct imap_parser_limits lim = {
	.max_line = 100000,
	.max_literal = 100000,
	.max_small_literal = 10000,
	.max_depth = 300,
	.max_args = 100000,
};

static struct imap_command *parse_cmd(const char *keys)
{
	struct buf line = BUF_INIT;
	buf_printf(&line, "a SEARCH %s\r\n", keys);
	struct imap_parser *p = imap_parser_new(&lim);
	size_t consumed;
	size_t pos = 0;
	enum imap_parse_result r;
	while ((r = imap_parser_run(p, line.data + pos, line.len - pos, &consumed)) ==
	       IMAP_PARSE_CONTINUE)
		pos += consumed;
	if (r != IMAP_PARSE_COMMAND)
		fail_msg("[%s] did not parse: %d %s", keys, r, imap_parser_error(p));
	struct imap_command *cmd = imap_parser_take(p);
	imap_parser_free(p);
	buf_free(&line);
	return cmd;
}

/* "1 3" (sequence numbers), or "BAD ...", "NO ...", "BIND ..." */
static char *run(const char *keys)
{
	struct imap_command *cmd = parse_cmd(keys);
	struct search_program *prog;
	const char *error;
	struct buf out = BUF_INIT;
	switch (search_program_parse(cmd->args, cmd->n_args, &prog, &error)) {
	case SEARCH_PARSE_BAD:
		buf_printf(&out, "BAD %s", error);
		goto done;
	case SEARCH_PARSE_BADCHARSET:
		buf_printf(&out, "NO %s", error);
		goto done;
	case SEARCH_PARSE_OK:
		break;
	}
	uint32_t max_uid = n_msgs > 0 ? msgs[n_msgs - 1].m.uid : 0;
	if (!search_program_bind(prog, keywords, 2, (uint32_t)n_msgs, max_uid, &error)) {
		buf_printf(&out, "BIND %s", error);
		search_program_free(prog);
		goto done;
	}
	for (size_t i = 0; i < n_msgs; i++) {
		struct search_source src = {
			.ctx = &msgs[i],
			.header = fake_header,
			.text = fake_text,
			.sent_date = fake_sent_date,
			.contains = ascii_contains_ci,
		};
		if (search_program_match(prog, &msgs[i].m, &src))
			buf_printf(&out, "%s%u", out.len > 0 ? " " : "", msgs[i].m.seq);
	}
	search_program_free(prog);
done:
	imap_command_free(cmd);
	return buf_steal(&out);
}

#define EXPECT(keys, want)                                                     \
	do {                                                                   \
		char *got_ = run(keys);                                        \
		if (strcmp(got_, want) != 0)                                   \
			fail_msg("SEARCH %s: got [%s] want [%s]", keys, got_, want); \
		free(got_);                                                    \
	} while (0)

static int setup(void **state)
{
	setup_msgs();
	n_msgs = 5;
	return 0;
}

static void test_flags(void **state)
{
	EXPECT("ALL", "1 2 3 4 5");
	EXPECT("all", "1 2 3 4 5");
	EXPECT("SEEN", "1 4");
	EXPECT("UNSEEN", "2 3 5");
	EXPECT("NEW", "2");
	EXPECT("OLD", "1 3 5");
	EXPECT("RECENT", "2 4");
	EXPECT("ANSWERED", "1");
	EXPECT("UNANSWERED", "2 3 4 5");
	EXPECT("DELETED", "3");
	EXPECT("UNDELETED", "1 2 4 5");
	EXPECT("FLAGGED", "3");
	EXPECT("UNFLAGGED", "1 2 4 5");
	EXPECT("DRAFT", "3");
	EXPECT("UNDRAFT", "1 2 4 5");
	EXPECT("KEYWORD $forwarded", "1");
	EXPECT("KEYWORD Junk", "3");
	EXPECT("UNKEYWORD Junk", "1 2 4 5");
	EXPECT("KEYWORD nosuch", "");
	EXPECT("UNKEYWORD nosuch", "1 2 3 4 5");
	EXPECT("LARGER 499", "2 3 4");
	EXPECT("LARGER 500", "2 4");
	EXPECT("SMALLER 500", "1 5");
	EXPECT("SMALLER \"101\"", "1 5");
}

static void test_dates(void **state)
{
	EXPECT("ON 1-Jan-2020", "1");
	EXPECT("ON 2-Jan-2020", "");
	EXPECT("BEFORE 2-Jan-2020", "1");
	EXPECT("BEFORE 1-Jan-2020", "");
	EXPECT("SINCE 5-Jan-2020", "2 3 4 5");
	EXPECT("SINCE \"10-Jan-2020\"", "3 4 5");
	EXPECT("SINCE 1-Feb-2020 BEFORE 1-Mar-2020", "4");
	/* Date: header in its own zone; none: the internal date */
	EXPECT("SENTON 31-Dec-2019", "2");
	EXPECT("SENTON 1-Jan-2020", "1");
	EXPECT("SENTBEFORE 1-Jan-2020", "2");
	EXPECT("SENTSINCE 10-Jan-2020", "3 4 5");
	EXPECT("SENTON 1-Mar-2020", "5");
	EXPECT("BEFORE 31-Feb-2020", "BAD Invalid date in search key");
	EXPECT("ON 2020-01-01", "BAD Invalid date in search key");
	EXPECT("ON", "BAD Missing or invalid search key argument");
}

static void test_strings(void **state)
{
	EXPECT("FROM alice", "2");
	EXPECT("FROM ALICE@EXAMPLE", "2");
	EXPECT("SUBJECT \"hello w\"", "2");
	EXPECT("SUBJECT {5+}\r\nHELLO", "2");
	EXPECT("SUBJECT {5}\r\nHELLO", "2");
	EXPECT("TO bob", "1");
	EXPECT("CC dave", "2");
	EXPECT("CC carol", "2");
	EXPECT("BCC eve", "3");
	EXPECT("HEADER subject \"\"", "1 2 3");
	EXPECT("HEADER X-Mailer \"\"", "5");
	EXPECT("HEADER X-Nope \"\"", "");
	EXPECT("HEADER X-MAILER TEST", "5");
	EXPECT("BODY fox", "2 5");
	EXPECT("BODY hello", "");
	EXPECT("TEXT hello", "2");
	EXPECT("TEXT fox", "2 5");
	EXPECT("TEXT \"\"", "1 2 3 4 5");
	EXPECT("SUBJECT nil", "");
	EXPECT("CHARSET UTF-8 SUBJECT hello", "2");
	EXPECT("CHARSET us-ascii ALL", "1 2 3 4 5");
	EXPECT("CHARSET \"UTF-8\" ALL", "1 2 3 4 5");
	EXPECT("CHARSET ISO-8859-1 ALL", "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
	EXPECT("CHARSET", "BAD Missing charset");
	EXPECT("CHARSET UTF-8", "BAD Missing search keys");
	EXPECT("SUBJECT", "BAD Missing or invalid search key argument");
	EXPECT("HEADER Subject", "BAD Missing or invalid search key argument");
	EXPECT("SUBJECT (a)", "BAD Missing or invalid search key argument");
}

static void test_sets(void **state)
{
	EXPECT("1:3", "1 2 3");
	EXPECT("3:1", "1 2 3");
	EXPECT("2,4:*", "2 4 5");
	EXPECT("*", "5");
	EXPECT("*:4", "4 5");
	EXPECT("1,1,1:2", "1 2");
	EXPECT("UID 20:40", "2 3 4");
	EXPECT("UID 60:*", "5");
	EXPECT("UID *", "5");
	EXPECT("UID 1:5", "");
	EXPECT("UID 10,50", "1 5");
	EXPECT("UID 15:25,41:4294967295", "2 5");
	EXPECT("6", "BIND Message sequence number out of range");
	EXPECT("5:7", "BIND Message sequence number out of range");
	EXPECT("NOT 1:9", "BIND Message sequence number out of range");
	EXPECT("0", "BAD Invalid sequence set");
	EXPECT("1:x", "BAD Invalid sequence set");
	EXPECT("UID", "BAD Missing sequence set after UID");
	EXPECT("UID x", "BAD Invalid sequence set");
	EXPECT("4294967296", "BAD Invalid sequence set");
}

static void test_logic(void **state)
{
	EXPECT("SEEN ANSWERED", "1");
	EXPECT("(SEEN ANSWERED)", "1");
	EXPECT("((SEEN) (ANSWERED))", "1");
	EXPECT("OR SEEN FLAGGED", "1 3 4");
	EXPECT("NOT SEEN", "2 3 5");
	EXPECT("NOT NOT SEEN", "1 4");
	EXPECT("OR (SEEN ANSWERED) (DELETED FLAGGED)", "1 3");
	EXPECT("OR OR SEEN FLAGGED NEW", "1 2 3 4");
	EXPECT("NOT OR SEEN FLAGGED", "2 5");
	EXPECT("OR SUBJECT hello BODY fox", "2 5");
	EXPECT("UNSEEN OR FROM alice UID 30", "2 3");
	EXPECT("", "BAD Missing search keys");
	EXPECT("FOO", "BAD Unknown search key");
	EXPECT("\"SEEN\"", "BAD Invalid search key");
	EXPECT("OR SEEN", "BAD Missing search key after OR");
	EXPECT("NOT", "BAD Missing search key after NOT");
	EXPECT("()", "BAD Empty search key list");
	EXPECT("SEEN (FOO)", "BAD Unknown search key");
	EXPECT("LARGER abc", "BAD Invalid number in search key");
	EXPECT("LARGER -1", "BAD Invalid number in search key");
}

static void test_depth(void **state)
{
	struct buf keys = BUF_INIT;
	for (int i = 0; i < 200; i++)
		buf_append_str(&keys, "NOT ");
	buf_append_str(&keys, "SEEN");
	EXPECT(keys.data, "BAD Too deep nesting in search keys");
	buf_reset(&keys);
	for (int i = 0; i < 150; i++)
		buf_append_c(&keys, '(');
	buf_append_str(&keys, "SEEN");
	for (int i = 0; i < 150; i++)
		buf_append_c(&keys, ')');
	EXPECT(keys.data, "BAD Too deep nesting in search keys");
	buf_reset(&keys);
	for (int i = 0; i < 50; i++)
		buf_append_str(&keys, "NOT NOT ");
	buf_append_str(&keys, "SEEN");
	EXPECT(keys.data, "1 4");
	buf_free(&keys);
}

/* Keys needing the message are only evaluated when the cheap ones don't
 * decide, whatever order the client gave. */
static void test_lazy(void **state)
{
	header_calls = text_calls = 0;
	EXPECT("SUBJECT hello SEEN", "");
	assert_int_equal(header_calls, 2);
	header_calls = 0;
	EXPECT("OR SUBJECT draft SEEN", "1 3 4");
	assert_int_equal(header_calls, 3);
	header_calls = 0;
	EXPECT("BODY fox SUBJECT hello UNSEEN", "2");
	assert_int_equal(header_calls, 3);
	assert_int_equal(text_calls, 1);
	text_calls = 0;
	EXPECT("BODY fox BODY quick", "2");
	assert_int_equal(text_calls, 5); /* once per message */
	header_calls = text_calls = 0;
	EXPECT("SEEN FLAGGED", "");
	assert_int_equal(header_calls + text_calls, 0);
}

static void test_empty_mailbox(void **state)
{
	n_msgs = 0;
	EXPECT("ALL", "");
	EXPECT("UID 1:*", "");
	EXPECT("1", "BIND No messages in the mailbox");
	EXPECT("1:*", "BIND No messages in the mailbox");
	n_msgs = 5;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_flags, setup),
		cmocka_unit_test_setup(test_dates, setup),
		cmocka_unit_test_setup(test_strings, setup),
		cmocka_unit_test_setup(test_sets, setup),
		cmocka_unit_test_setup(test_logic, setup),
		cmocka_unit_test_setup(test_depth, setup),
		cmocka_unit_test_setup(test_lazy, setup),
		cmocka_unit_test_setup(test_empty_mailbox, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
