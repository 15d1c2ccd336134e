/* LIBS: om_lib */
/* The LMTP protocol layer alone (lmtp-proto.c is compiled into this test, so
 * it needs neither passdb nor storage): command sequencing, pipelining,
 * dot-unstuffing, BDAT, size limits, per-recipient replies, bounded errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "lmtp/lmtp-proto.c"

struct harness {
	struct lmtp_session s;
	struct evbuffer *in;
	struct buf out;
	bool closed;
	unsigned deliveries;
	struct buf body;            /* last delivered body */
	char lookups[8][128];       /* keys asked for, in order */
	unsigned n_lookups;
};

static void h_write(void *ctx, const char *data, size_t len)
{
	struct harness *h = ctx;
	buf_append(&h->out, data, len);
}

static void h_free_priv(void *priv)
{
	free(priv);
}

static struct harness *h_new(uint64_t max_size)
{
	struct harness *h = calloc(1, sizeof(*h));
	h->s.hostname = "mx.test";
	h->s.max_size = max_size;
	h->s.delimiter = "+";
	h->s.write = h_write;
	h->s.write_ctx = h;
	h->s.priv_free = h_free_priv;
	lmtp_session_init(&h->s);
	h->in = evbuffer_new();
	lmtp_greeting(&h->s);
	return h;
}

static void h_free(struct harness *h)
{
	lmtp_session_free(&h->s);
	evbuffer_free(h->in);
	buf_free(&h->out);
	buf_free(&h->body);
	free(h);
}

static int fake_lookup(const char *key)
{
	if (strcmp(key, "alice@example.com") == 0 || strcmp(key, "bob@example.com") == 0 ||
	    strcmp(key, "fail@example.com") == 0 || strcmp(key, "quota@example.com") == 0)
		return 0;
	if (strcmp(key, "full@example.com") == 0)
		return -OM_EQUOTA;
	if (strcmp(key, "down@example.com") == 0)
		return -OM_ETEMP;
	return -OM_ENOTFOUND;
}

/* Run the state machine like lmtp-server.c does, with the blocking steps
 * done inline. */
static void h_run(struct harness *h)
{
	while (!h->closed) {
		switch (lmtp_process(&h->s, h->in)) {
		case LMTP_MORE:
			return;
		case LMTP_LOOKUP: {
			const char *key = h->s.pending.user;
			if (h->n_lookups < 8)
				snprintf(h->lookups[h->n_lookups++], 128, "%s", key);
			int r = fake_lookup(key);
			lmtp_rcpt_result(&h->s, r, r == 0 ? strdup(key) : NULL);
			break;
		}
		case LMTP_DELIVER: {
			size_t len;
			const char *body = lmtp_body(&h->s, &len);
			buf_reset(&h->body);
			buf_append(&h->body, body, len);
			for (size_t i = 0; i < h->s.n_rcpts; i++) {
				const char *u = h->s.rcpts[i].priv;
				h->s.rcpts[i].result = strcmp(u, "fail@example.com") == 0 ? -OM_EIO :
						       strcmp(u, "quota@example.com") == 0 ? -OM_EQUOTA : 0;
				if (h->s.rcpts[i].result == 0)
					h->deliveries++;
			}
			lmtp_deliver_result(&h->s, "ID1");
			break;
		}
		case LMTP_CLOSE:
			h->closed = true;
			return;
		}
	}
}

static void h_feed(struct harness *h, const char *data, size_t len)
{
	evbuffer_add(h->in, data, len);
	h_run(h);
}

static void h_send(struct harness *h, const char *s)
{
	h_feed(h, s, strlen(s));
}

/* The output since the last call. */
static char *h_take(struct harness *h)
{
	char *s = buf_steal(&h->out);
	return s;
}

static void expect_out(struct harness *h, const char *want)
{
	char *got = h_take(h);
	assert_string_equal(got, want);
	free(got);
}

#define GREETING "220 mx.test objmail LMTP ready\r\n"
#define LHLO_REPLY "250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n250-CHUNKING\r\n250 SIZE 1000\r\n"

static void test_greeting_and_lhlo(void **state)
{
	struct harness *h = h_new(1000);
	expect_out(h, GREETING);
	h_send(h, "HELO x\r\nEHLO x\r\nMAIL FROM:<a@b>\r\nLHLO client.test\r\n");
	expect_out(h, "500 5.5.1 This is LMTP: use LHLO\r\n"
		      "500 5.5.1 This is LMTP: use LHLO\r\n"
		      "503 5.5.1 Send LHLO first\r\n" LHLO_REPLY);
	assert_string_equal(h->s.lhlo, "client.test");
	h_send(h, "LHLO\r\nNOOP\r\nVRFY x\r\nFOO\r\nQUIT\r\nNOOP\r\n");
	expect_out(h, "501 5.5.4 Syntax: LHLO hostname\r\n250 2.0.0 OK\r\n"
		      "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n"
		      "500 5.5.1 Unknown command\r\n221 2.0.0 mx.test Bye\r\n");
	assert_true(h->closed);
	h_free(h);
}

static const char *TXN =
	"LHLO c\r\n"
	"MAIL FROM:<sender@example.org> BODY=8BITMIME SIZE=100\r\n"
	"RCPT TO:<alice+lists@example.com>\r\n"
	"RCPT TO:<nobody@example.com>\r\n"
	"RCPT TO:<bob@example.com>\r\n"
	"RCPT TO:<full@example.com>\r\n"
	"RCPT TO:<down@example.com>\r\n"
	"DATA\r\n"
	"Subject: hi\r\n"
	"\r\n"
	"..leading dot\r\n"
	".\r\n"
	"QUIT\r\n";

static const char *TXN_REPLY =
	GREETING LHLO_REPLY
	"250 2.1.0 OK\r\n"
	"250 2.1.5 OK\r\n"
	"550 5.1.1 <nobody@example.com> User doesn't exist\r\n"
	"250 2.1.5 OK\r\n"
	"552 5.2.2 <full@example.com> Mailbox is full\r\n"
	"451 4.3.0 <down@example.com> Temporary internal failure\r\n"
	"354 Start mail input; end with <CRLF>.<CRLF>\r\n"
	"250 2.0.0 <alice+lists@example.com> ID1 Saved\r\n"
	"250 2.0.0 <bob@example.com> ID1 Saved\r\n"
	"221 2.0.0 mx.test Bye\r\n";

static void test_pipelined_transaction(void **state)
{
	struct harness *h = h_new(1000);
	h_send(h, TXN);
	expect_out(h, TXN_REPLY);
	assert_true(h->closed);
	assert_int_equal(h->deliveries, 2);
	assert_string_equal(buf_cstr(&h->body), "Subject: hi\r\n\r\n.leading dot\r\n");
	assert_string_equal(h->lookups[0], "alice@example.com"); /* +detail stripped */
	assert_string_equal(h->s.sender == NULL ? "" : "x", "");
	h_free(h);
}

static void test_byte_by_byte(void **state)
{
	struct harness *h = h_new(1000);
	for (const char *p = TXN; *p != '\0'; p++)
		h_feed(h, p, 1);
	expect_out(h, TXN_REPLY);
	assert_string_equal(buf_cstr(&h->body), "Subject: hi\r\n\r\n.leading dot\r\n");
	h_free(h);
}

static void test_lf_only_and_dots(void **state)
{
	struct harness *h = h_new(1000);
	h_send(h, "LHLO c\nMAIL FROM:<>\nRCPT TO:<bob@example.com>\nDATA\n"
		  "a\n...\n. \n.x\n\n.\nQUIT\n");
	char *out = h_take(h);
	assert_non_null(strstr(out, "250 2.0.0 <bob@example.com> ID1 Saved\r\n"));
	free(out);
	assert_string_equal(buf_cstr(&h->body), "a\r\n..\r\n \r\nx\r\n\r\n");
	h_free(h);
}

static void test_long_data_line(void **state)
{
	struct harness *h = h_new(100000);
	h_send(h, "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n.");
	struct buf big = BUF_INIT;
	for (int i = 0; i < 20000; i++)
		buf_append_c(&big, (char)('a' + i % 26));
	/* in pieces, with the CR at a piece boundary */
	h_feed(h, big.data, 9000);
	h_feed(h, big.data + 9000, big.len - 9000);
	h_send(h, "\r");
	h_send(h, "\n.\r\n");
	char *out = h_take(h);
	assert_non_null(strstr(out, "Saved\r\n"));
	free(out);
	assert_int_equal(h->body.len, 20002);
	assert_memory_equal(h->body.data, big.data, 20000);
	assert_memory_equal(h->body.data + 20000, "\r\n", 2);
	buf_free(&big);
	h_free(h);
}

static void test_size_limits(void **state)
{
	struct harness *h = h_new(50);
	h_send(h, "LHLO c\r\n");
	free(h_take(h));
	h_send(h, "MAIL FROM:<a@b> SIZE=51\r\nMAIL FROM:<a@b> BODY=BINARYMIME\r\n"
		  "MAIL FROM:<a@b> FOO=1\r\nMAIL FROM:<a@b> SIZE=50\r\nMAIL FROM:<a@b>\r\n");
	expect_out(h, "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
		      "555 5.5.4 Unsupported parameter BODY\r\n"
		      "555 5.5.4 Unsupported parameter FOO\r\n"
		      "250 2.1.0 OK\r\n"
		      "503 5.5.1 Nested MAIL command\r\n");
	h_send(h, "RCPT TO:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n");
	free(h_take(h));
	for (int i = 0; i < 10; i++)
		h_send(h, "0123456789\r\n");
	h_send(h, ".\r\nNOOP\r\n");
	expect_out(h, "552 5.3.4 <alice@example.com> Message too big\r\n"
		      "552 5.3.4 <bob@example.com> Message too big\r\n"
		      "250 2.0.0 OK\r\n");
	assert_int_equal(h->deliveries, 0);
	assert_null(h->s.sender); /* transaction over */
	h_free(h);
}

static void test_bdat(void **state)
{
	struct harness *h = h_new(1000);
	h_send(h, "LHLO c\r\n");
	free(h_take(h));
	/* BDAT without a transaction: 503, and its bytes are skipped */
	h_send(h, "BDAT 6\r\nNOOP\r\nNOOP\r\n");
	expect_out(h, "503 5.5.1 Send MAIL first\r\n250 2.0.0 OK\r\n");
	h_send(h, "MAIL FROM:<s@x>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<alice@example.com>\r\n"
		  "BDAT 9\r\nhi\r\n.\r\nxxBDAT 0\r\nBDAT 4 LAST\r\nend\n");
	expect_out(h, "250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n"
		      "250 2.0.0 9 octets received\r\n"
		      "250 2.0.0 9 octets received\r\n"
		      "250 2.0.0 <bob@example.com> ID1 Saved\r\n"
		      "250 2.0.0 <alice@example.com> ID1 Saved\r\n");
	/* binary: no dot handling, no line end rewriting */
	assert_string_equal(buf_cstr(&h->body), "hi\r\n.\r\nxxend\n");
	/* DATA after BDAT in one transaction is refused; BDAT split across reads */
	h_send(h, "MAIL FROM:<s@x>\r\nRCPT TO:<bob@example.com>\r\nBDAT 3\r\nabcDATA\r\nBDAT 5 LAST\r\nab");
	h_send(h, "cde");
	expect_out(h, "250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.0.0 3 octets received\r\n"
		      "503 5.5.1 DATA not allowed after BDAT\r\n"
		      "250 2.0.0 <bob@example.com> ID1 Saved\r\n");
	assert_string_equal(buf_cstr(&h->body), "abcabcde");
	/* over the size limit across chunks */
	h_send(h, "MAIL FROM:<s@x>\r\nRCPT TO:<bob@example.com>\r\nBDAT 2000\r\n");
	struct buf big = BUF_INIT;
	for (int i = 0; i < 2000; i++)
		buf_append_c(&big, 'z');
	h_feed(h, big.data, big.len);
	buf_free(&big);
	h_send(h, "BDAT 1 LAST\r\nz");
	expect_out(h, "250 2.1.0 OK\r\n250 2.1.5 OK\r\n552 5.3.4 Message too big\r\n"
		      "552 5.3.4 <bob@example.com> Message too big\r\n");
	/* a bad BDAT size */
	h_send(h, "BDAT x\r\nBDAT 1 NOTLAST\r\n");
	expect_out(h, "501 5.5.4 Syntax: BDAT size [LAST]\r\n501 5.5.4 Syntax: BDAT size [LAST]\r\n");
	h_free(h);
}

static void test_sequence_errors(void **state)
{
	struct harness *h = h_new(1000);
	h_send(h, "LHLO c\r\n");
	free(h_take(h));
	h_send(h, "RCPT TO:<bob@example.com>\r\nDATA\r\nMAIL FROM:<a@b>\r\nDATA\r\n"
		  "RCPT TO:<>\r\nRCPT TO:bob@example.com\r\nRCPT TO:<bob@example.com> NOTIFY=NEVER\r\n"
		  "RCPT TO:<bob@example.com>\r\nRSET\r\nDATA\r\n");
	expect_out(h, "503 5.5.1 Send MAIL first\r\n"
		      "503 5.5.1 Send MAIL first\r\n"
		      "250 2.1.0 OK\r\n"
		      "503 5.5.1 No valid recipients\r\n"
		      "501 5.1.3 Bad recipient address syntax\r\n"
		      "501 5.1.3 Bad recipient address syntax\r\n"
		      "555 5.5.4 Unsupported parameter\r\n"
		      "250 2.1.5 OK\r\n"
		      "250 2.0.0 OK\r\n"
		      "503 5.5.1 Send MAIL first\r\n");
	h_free(h);
}

static void test_delivery_failures(void **state)
{
	struct harness *h = h_new(1000);
	h_send(h, "LHLO c\r\nMAIL FROM:<@relay.example:s@x>\r\nRCPT TO:<fail@example.com>\r\n"
		  "RCPT TO:<quota@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nx\r\n.\r\n");
	char *out = h_take(h);
	const char *tail = "451 4.3.0 <fail@example.com> Temporary internal failure\r\n"
			   "552 5.2.2 <quota@example.com> Mailbox is full\r\n"
			   "250 2.0.0 <bob@example.com> ID1 Saved\r\n";
	assert_true(strlen(out) > strlen(tail));
	assert_string_equal(out + strlen(out) - strlen(tail), tail);
	free(out);
	h_free(h);
}

static void test_line_too_long_and_error_limit(void **state)
{
	struct harness *h = h_new(1000);
	free(h_take(h));
	struct buf big = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		buf_append_c(&big, 'A');
	h_feed(h, big.data, big.len);
	h_feed(h, big.data, big.len);
	h_send(h, "\r\nNOOP\r\n");
	expect_out(h, "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n");
	/* a complete but over-long line */
	buf_append_str(&big, "\r\nNOOP\r\n");
	h_feed(h, big.data, big.len);
	expect_out(h, "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n");
	buf_free(&big);
	h_feed(h, "NO\0OP\r\n", 7);
	expect_out(h, "500 5.5.2 NUL in command\r\n");
	for (int i = 0; i < 30 && !h->closed; i++)
		h_send(h, "BOGUS\r\n");
	assert_true(h->closed);
	char *out = h_take(h);
	assert_non_null(strstr(out, "421 4.7.0 mx.test Too many errors"));
	free(out);
	h_free(h);
}

static void test_too_many_rcpts(void **state)
{
	struct harness *h = h_new(1000);
	h_send(h, "LHLO c\r\nMAIL FROM:<a@b>\r\n");
	free(h_take(h));
	for (int i = 0; i < LMTP_MAX_RCPTS; i++)
		h_send(h, "RCPT TO:<bob@example.com>\r\n");
	assert_int_equal(h->s.n_rcpts, LMTP_MAX_RCPTS);
	free(h_take(h));
	h_send(h, "RCPT TO:<bob@example.com>\r\n");
	expect_out(h, "452 4.5.3 Too many recipients\r\n");
	h_send(h, "RSET\r\n");
	expect_out(h, "250 2.0.0 OK\r\n");
	assert_int_equal(h->s.n_rcpts, 0);
	h_free(h);
}

static void test_strip_detail(void **state)
{
	static const char *const cases[][3] = {
		{ "user+detail@example.com", "+", "user@example.com" },
		{ "user@example.com", "+", "user@example.com" },
		{ "user+a+b@example.com", "+", "user@example.com" },
		{ "user-x@example.com", "+-", "user@example.com" },
		{ "+only@example.com", "+", "+only@example.com" },
		{ "user+x", "+", "user" },
		{ "user+x@example.com", "", "user+x@example.com" },
		{ "us@er+x@example.com", "+", "us@er@example.com" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = lmtp_strip_detail(cases[i][0], cases[i][1]);
		assert_string_equal(got, cases[i][2]);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_and_lhlo),
		cmocka_unit_test(test_pipelined_transaction),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_lf_only_and_dots),
		cmocka_unit_test(test_long_data_line),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_sequence_errors),
		cmocka_unit_test(test_delivery_failures),
		cmocka_unit_test(test_line_too_long_and_error_limit),
		cmocka_unit_test(test_too_many_rcpts),
		cmocka_unit_test(test_strip_detail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
