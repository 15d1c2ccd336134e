/* LIBS: om_imap om_storage om_auth om_mime om_lib */
/* cmd_search against a session view: first a hand-made view (no mailbox:
 * content keys are only tried on messages whose bytes are gone, which never
 * match), then a real Maildir with MIME-encoded messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <cmocka.h>

#include "imap/imap-session-private.h"
#include "lib/config.h"
#include "lib/log.h"

struct fixture {
	struct imap_session s;
	struct imap_session_priv priv;
	struct buf out;
};

static const struct imap_parser_limits lim = {
	.max_line = 65536, .max_literal = 65536, .max_small_literal = 65536,
	.max_depth = 100, .max_args = 100000,
};

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->s.priv = &f->priv;
	f->priv.capture = &f->out;
	f->s.state = IMAP_STATE_SELECTED;
	struct imap_view *v = &f->s.view;
	v->count = v->alloc = 4;
	v->msgs = calloc(4, sizeof(*v->msgs));
	static const uint32_t uids[] = { 3, 7, 8, 20 };
	static const uint32_t flags[] = { MAIL_SEEN, MAIL_RECENT, MAIL_SEEN | MAIL_FLAGGED, 0 };
	for (size_t i = 0; i < 4; i++) {
		v->msgs[i].uid = uids[i];
		v->msgs[i].flags = flags[i];
		v->msgs[i].size = 100 * (i + 1);
		v->msgs[i].expunged = true; /* no bytes to read in this test */
	}
	v->msgs[3].keywords = 1;
	v->n_keywords = 1;
	v->keywords = calloc(1, sizeof(char *));
	v->keywords[0] = strdup("$Junk");
	v->uidnext = 21;
	return f;
}

static void fixture_free(struct fixture *f)
{
	imap_view_free(&f->s.view);
	buf_free(&f->out);
	buf_free(&f->s.tagged);
	free(f);
}

/* Run "<line>" through the parser and cmd_search; out = untagged + tagged. */
static void run(struct fixture *f, const char *line, bool uid, const char *want)
{
	struct imap_parser *p = imap_parser_new(&lim);
	size_t consumed;
	assert_int_equal(imap_parser_run(p, line, strlen(line), &consumed), IMAP_PARSE_COMMAND);
	struct imap_command *cmd = imap_parser_take(p);
	imap_parser_free(p);
	buf_reset(&f->out);
	buf_reset(&f->s.tagged);
	f->s.cmd = cmd;
	f->s.cmd_uid = uid;
	cmd_search(&f->s, cmd);
	buf_append(&f->out, buf_cstr(&f->s.tagged), f->s.tagged.len);
	assert_string_equal(buf_cstr(&f->out), want);
	f->s.cmd = NULL;
	imap_command_free(cmd);
}

static void test_cmd_search(void **state)
{
	struct fixture *f = fixture_new();
	run(f, "a SEARCH SEEN\r\n", false, "* SEARCH 1 3\r\na OK SEARCH completed\r\n");
	run(f, "a SEARCH UNSEEN\r\n", true, "* SEARCH 7 20\r\na OK SEARCH completed\r\n");
	/* the command as parsed: UID SEARCH ... */
	run(f, "a UID SEARCH UID 4:* FLAGGED\r\n", true, "* SEARCH 8\r\na OK SEARCH completed\r\n");
	run(f, "a SEARCH KEYWORD $junk LARGER 100\r\n", false,
	    "* SEARCH 4\r\na OK SEARCH completed\r\n");
	run(f, "a SEARCH DELETED\r\n", false, "* SEARCH\r\na OK SEARCH completed\r\n");
	/* content keys on messages whose bytes are gone never match */
	run(f, "a SEARCH OR SUBJECT x SEEN\r\n", false, "* SEARCH 1 3\r\na OK SEARCH completed\r\n");
	run(f, "a SEARCH CHARSET KOI8-R ALL\r\n", false,
	    "a NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n");
	run(f, "a SEARCH BLAH\r\n", false, "a BAD Error in IMAP command SEARCH: Unknown search key\r\n");
	run(f, "a SEARCH 5\r\n", false,
	    "a BAD Error in IMAP command SEARCH: Message sequence number out of range\r\n");
	fixture_free(f);
}

static const char *const maildir_msgs[] = {
	"From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.com>\r\n"
	"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n"
	"Date: Tue, 31 Dec 2019 23:30:00 -0500\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\n"
	"SGVsbG8gV8OkbGQK\r\n",

	"From: bob@example.org\r\nTo: alice@example.com\r\nSubject: plain\r\n"
	"X-Tag: one\r\nX-Tag: two\r\n"
	"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
	"--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	"sch=F6ne Gr=FC=DFe\r\n"
	"--XX\r\nContent-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\nbmVlZGxl\r\n--XX--\r\n",

	"From: carol@example.net\r\nSubject: no date\r\n\r\nneedle in body\r\n",
};

static void test_maildir_search(void **state)
{
	char tmpdir[] = "/tmp/om-test-search.XXXXXX";
	assert_non_null(mkdtemp(tmpdir));
	struct om_config cfg;
	config_defaults(&cfg);
	free(cfg.mail_location);
	struct buf loc = BUF_INIT;
	buf_printf(&loc, "maildir:%s/%%n/Maildir", tmpdir);
	cfg.mail_location = buf_steal(&loc);
	log_set_level(LOG_LEVEL_ERROR);

	struct mail_user *user;
	assert_int_equal(mail_user_open(&cfg, "u", NULL, &user), 0);
	for (size_t i = 0; i < 3; i++) {
		struct mail_save save = {
			.data = maildir_msgs[i],
			.len = strlen(maildir_msgs[i]),
			.flags = i == 1 ? MAIL_SEEN : 0,
			/* 2020-01-01 02:00 UTC, at -0500: Dec 31st 21:00 local */
			.internal_date = 1577844000 + (int64_t)i * 86400,
			.internal_tz = -300,
		};
		uint32_t uidv, uid;
		assert_int_equal(mailbox_append(user, "INBOX", &save, &uidv, &uid), 0);
	}

	struct fixture *f = calloc(1, sizeof(*f));
	f->s.priv = &f->priv;
	f->priv.capture = &f->out;
	f->s.state = IMAP_STATE_SELECTED;
	f->s.readonly = true;
	assert_int_equal(mailbox_open(user, "INBOX", true, &f->s.box), 0);
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(f->s.box, &snap), 0);
	imap_view_init(&f->s, snap);
	mailbox_snapshot_free(snap);
	assert_int_equal(f->s.view.count, 3);

#define OK_LINE "a OK SEARCH completed\r\n"
	run(f, "a SEARCH FROM j\xc3\xbcrgen\r\n", false, "* SEARCH 1\r\n" OK_LINE);
	run(f, "a SEARCH FROM J\xc3\x9cRGEN\r\n", false, "* SEARCH 1\r\n" OK_LINE);
	run(f, "a SEARCH CHARSET UTF-8 SUBJECT {7+}\r\ngr\xc3\xbc\xc3\x9f" "e\r\n", false,
	    "* SEARCH 1\r\n" OK_LINE);
	run(f, "a SEARCH BODY w\xc3\xa4ld\r\n", false, "* SEARCH 1\r\n" OK_LINE);
	run(f, "a SEARCH BODY sch\xc3\xb6ne\r\n", false, "* SEARCH 2\r\n" OK_LINE);
	/* base64 of a non-text part is not text */
	run(f, "a SEARCH BODY needle\r\n", false, "* SEARCH 3\r\n" OK_LINE);
	run(f, "a SEARCH TEXT alice\r\n", false, "* SEARCH 2\r\n" OK_LINE);
	run(f, "a SEARCH TO alice\r\n", false, "* SEARCH 2\r\n" OK_LINE);
	run(f, "a SEARCH HEADER X-Tag two\r\n", false, "* SEARCH 2\r\n" OK_LINE);
	run(f, "a SEARCH HEADER X-Tag \"\"\r\n", false, "* SEARCH 2\r\n" OK_LINE);
	run(f, "a SEARCH HEADER Date \"\"\r\n", false, "* SEARCH 1\r\n" OK_LINE);
	/* Date: in its own zone; messages 2 and 3 have none: their internal
	 * dates (Jan 1st and 2nd at -0500) */
	run(f, "a SEARCH SENTON 31-Dec-2019\r\n", false, "* SEARCH 1\r\n" OK_LINE);
	run(f, "a SEARCH SENTON 1-Jan-2020\r\n", false, "* SEARCH 2\r\n" OK_LINE);
	run(f, "a SEARCH SENTSINCE 1-Jan-2020\r\n", false, "* SEARCH 2 3\r\n" OK_LINE);
	/* internal dates in their -0500 zone: Dec 31, Jan 1, Jan 2 */
	run(f, "a SEARCH ON 31-Dec-2019\r\n", false, "* SEARCH 1\r\n" OK_LINE);
	run(f, "a SEARCH SINCE 1-Jan-2020\r\n", false, "* SEARCH 2 3\r\n" OK_LINE);
	run(f, "a SEARCH UNSEEN BODY needle\r\n", true, "* SEARCH 3\r\n" OK_LINE);
	run(f, "a SEARCH OR SEEN SUBJECT date\r\n", false, "* SEARCH 2 3\r\n" OK_LINE);
	run(f, "a SEARCH NOT TEXT gr\xc3\xbc\xc3\x9f" "e\r\n", false, "* SEARCH 3\r\n" OK_LINE);
#undef OK_LINE

	imap_view_free(&f->s.view);
	mailbox_close(f->s.box);
	buf_free(&f->out);
	buf_free(&f->s.tagged);
	free(f);
	mail_user_unref(user);
	config_free(&cfg);
	struct buf rm = BUF_INIT;
	buf_printf(&rm, "rm -rf '%s'", tmpdir);
	assert_int_equal(system(rm.data), 0);
	buf_free(&rm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_search),
		cmocka_unit_test(test_maildir_search),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
