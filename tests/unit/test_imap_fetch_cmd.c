/* LIBS: om_imap om_storage om_auth om_mime om_lib */
/* FETCH, STORE, COPY, MOVE and EXPUNGE run against a real Maildir through a
 * session whose output is captured. The expected FETCH/STORE output was
 * recorded from Dovecot 2.3.19 given the same messages and commands (APPENDed
 * with CRLF, first SELECT); only the tagged texts differ, so those tests
 * check the untagged part exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-session-private.h"
#include "lib/config.h"
#include "lib/log.h"

static const char *const msgs[] = {
	"Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
	"From: Fred Foobar <foobar@Blurdybloop.example>\n"
	"Subject: afternoon meeting\n"
	"To: mooch@owatagu.example\n"
	"Message-Id: <B27397-0100000@Blurdybloop.example>\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\n"
	"\n"
	"preamble\n"
	"--XX\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"\n"
	"Hello Joe, do you think we can meet at 3:30 tomorrow?\n"
	"--XX\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: Inner <inner@example.com>\n"
	"Subject: inner\n"
	"Content-Type: multipart/alternative; boundary=\"YY\"\n"
	"\n"
	"--YY\n"
	"Content-Type: text/plain\n"
	"\n"
	"inner plain\n"
	"--YY\n"
	"Content-Type: text/html\n"
	"\n"
	"<b>inner html</b>\n"
	"--YY--\n"
	"--XX\n"
	"Content-Type: application/octet-stream\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"SGVsbG8gd29ybGQ=\n"
	"--XX--\n"
	"epilogue\n",

	"From: Simple <simple@example.com>\n"
	"To: a@example.com, b@example.com\n"
	"Subject: plain one\n"
	"Date: Tue, 1 Jan 2019 10:00:00 +0100\n"
	"\n"
	"Line one\n"
	"Line two\n",

	"From: Msg <m@example.com>\n"
	"Subject: rfc822 top\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: Embedded <e@example.com>\n"
	"Subject: embedded\n"
	"\n"
	"embedded body\n",
};

struct fixture {
	struct imap_session s;
	struct imap_session_priv priv;
	struct buf out;
	struct om_config cfg;
	struct mail_user *user;
	char dir[64];
};

static const struct imap_parser_limits lim = {
	.max_line = 65536, .max_literal = 65536, .max_small_literal = 65536,
	.max_depth = 100, .max_args = 100000,
};

static void select_box(struct fixture *f, const char *name, bool readonly)
{
	if (f->s.box != NULL) {
		imap_view_free(&f->s.view);
		mailbox_close(f->s.box);
	}
	f->s.readonly = readonly;
	assert_int_equal(mailbox_open(f->user, name, readonly, &f->s.box), 0);
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(f->s.box, &snap), 0);
	imap_view_init(&f->s, snap);
	mailbox_snapshot_free(snap);
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/om-test-fetch.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	config_defaults(&f->cfg);
	free(f->cfg.mail_location);
	struct buf loc = BUF_INIT;
	buf_printf(&loc, "maildir:%s/%%n/Maildir", f->dir);
	f->cfg.mail_location = buf_steal(&loc);
	log_set_level(LOG_LEVEL_ERROR);
	/* users stay open by name in the process: a new one per fixture */
	static unsigned n_users;
	struct buf name = BUF_INIT;
	buf_printf(&name, "u%u", ++n_users);
	assert_int_equal(mail_user_open(&f->cfg, name.data, NULL, &f->user), 0);
	buf_free(&name);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct mail_save save = {
			.data = msgs[i],
			.len = strlen(msgs[i]),
			.internal_date = 1577844000,
		};
		uint32_t uidv, uid;
		assert_int_equal(mailbox_append(f->user, "INBOX", &save, &uidv, &uid), 0);
		assert_int_equal(uid, i + 1);
	}
	f->s.priv = &f->priv;
	f->priv.capture = &f->out;
	f->s.state = IMAP_STATE_SELECTED;
	select_box(f, "INBOX", false);
	assert_int_equal(f->s.view.count, 3);
	return f;
}

static void fixture_free(struct fixture *f)
{
	imap_view_free(&f->s.view);
	mailbox_close(f->s.box);
	buf_free(&f->out);
	buf_free(&f->s.tagged);
	buf_free(&f->s.out);
	mail_user_unref(f->user);
	config_free(&f->cfg);
	struct buf rm = BUF_INIT;
	buf_printf(&rm, "rm -rf '%s'", f->dir);
	assert_int_equal(system(rm.data), 0);
	buf_free(&rm);
	free(f);
}

static imap_cmd_fn *find_fn(const char *name)
{
	if (strcmp(name, "FETCH") == 0)
		return cmd_fetch;
	if (strcmp(name, "STORE") == 0)
		return cmd_store;
	if (strcmp(name, "COPY") == 0)
		return cmd_copy;
	if (strcmp(name, "MOVE") == 0)
		return cmd_move;
	if (strcmp(name, "EXPUNGE") == 0)
		return cmd_expunge;
	fail_msg("no command %s", name);
	return NULL;
}

/* Run "a <line>" (uid: as the UID form); *tagged_r = the tagged line. */
static const char *exec(struct fixture *f, const char *line, bool uid, const char **tagged_r)
{
	struct buf full = BUF_INIT;
	buf_printf(&full, "a %s\r\n", line);
	struct imap_parser *p = imap_parser_new(&lim);
	size_t consumed;
	assert_int_equal(imap_parser_run(p, full.data, full.len, &consumed), IMAP_PARSE_COMMAND);
	struct imap_command *cmd = imap_parser_take(p);
	imap_parser_free(p);
	buf_free(&full);
	buf_reset(&f->out);
	buf_reset(&f->s.tagged);
	f->s.cmd = cmd;
	f->s.cmd_uid = uid;
	find_fn(cmd->name)(&f->s, cmd);
	f->s.cmd = NULL;
	imap_command_free(cmd);
	*tagged_r = buf_cstr(&f->s.tagged);
	return buf_cstr(&f->out);
}

/* The untagged output must be want, the tagged reply OK. */
static void run(struct fixture *f, const char *line, bool uid, const char *want)
{
	const char *tagged;
	const char *out = exec(f, line, uid, &tagged);
	if (strncmp(tagged, "a OK ", 5) != 0)
		fail_msg("%s: %s", line, tagged);
	assert_string_equal(out, want);
}

/* Nothing untagged; the tagged reply starts with want. */
static void run_tagged(struct fixture *f, const char *line, bool uid, const char *want)
{
	const char *tagged;
	const char *out = exec(f, line, uid, &tagged);
	assert_string_equal(out, "");
	if (strncmp(tagged, want, strlen(want)) != 0)
		fail_msg("%s: got %s, want %s", line, tagged, want);
}

/* Dovecot 2.3's answers to the same commands on the same mailbox. */
static void test_like_dovecot(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	run(f, "FETCH 1:3 (UID FLAGS RFC822.SIZE)", false,
	    "* 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE 742)\r\n"
	    "* 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE 149)\r\n"
	    "* 3 FETCH (UID 3 FLAGS (\\Recent) RFC822.SIZE 148)\r\n");
	run(f, "FETCH 1:3 (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[1.HEADER] BODY.PEEK[1.TEXT] BODY.PEEK[2.HEADER] BODY.PEEK[2.1] BODY.PEEK[1.1] BODY.PEEK[1.1.1])", false,
	    "* 1 FETCH (BODY[1] {53}\r\n"
	    "Hello Joe, do you think we can meet at 3:30 tomorrow? BODY[1.MIME] {46}\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n"
	    " BODY[1.HEADER] {0}\r\n"
	    " BODY[1.TEXT] {0}\r\n"
	    " BODY[2.HEADER] {103}\r\n"
	    "From: Inner <inner@example.com>\r\n"
	    "Subject: inner\r\n"
	    "Content-Type: multipart/alternative; boundary=\"YY\"\r\n"
	    "\r\n"
	    " BODY[2.1] {11}\r\n"
	    "inner plain BODY[1.1] {53}\r\n"
	    "Hello Joe, do you think we can meet at 3:30 tomorrow? BODY[1.1.1] {0}\r\n"
	    ")\r\n"
	    "* 2 FETCH (BODY[1] {20}\r\n"
	    "Line one\r\n"
	    "Line two\r\n"
	    " BODY[1.MIME] {129}\r\n"
	    "From: Simple <simple@example.com>\r\n"
	    "To: a@example.com, b@example.com\r\n"
	    "Subject: plain one\r\n"
	    "Date: Tue, 1 Jan 2019 10:00:00 +0100\r\n"
	    "\r\n"
	    " BODY[1.HEADER] {0}\r\n"
	    " BODY[1.TEXT] {0}\r\n"
	    " BODY[2.HEADER] {0}\r\n"
	    " BODY[2.1] {0}\r\n"
	    " BODY[1.1] {0}\r\n"
	    " BODY[1.1.1] {0}\r\n"
	    ")\r\n"
	    "* 3 FETCH (BODY[1] {68}\r\n"
	    "From: Embedded <e@example.com>\r\n"
	    "Subject: embedded\r\n"
	    "\r\n"
	    "embedded body\r\n"
	    " BODY[1.MIME] {80}\r\n"
	    "From: Msg <m@example.com>\r\n"
	    "Subject: rfc822 top\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "\r\n"
	    " BODY[1.HEADER] {53}\r\n"
	    "From: Embedded <e@example.com>\r\n"
	    "Subject: embedded\r\n"
	    "\r\n"
	    " BODY[1.TEXT] {15}\r\n"
	    "embedded body\r\n"
	    " BODY[2.HEADER] {0}\r\n"
	    " BODY[2.1] {0}\r\n"
	    " BODY[1.1] {15}\r\n"
	    "embedded body\r\n"
	    " BODY[1.1.1] {0}\r\n"
	    ")\r\n");
	run(f, "FETCH 1 (BODY.PEEK[2.TEXT] BODY.PEEK[2.MIME] BODY.PEEK[2.1.MIME] BODY.PEEK[2.2] BODY.PEEK[3] BODY.PEEK[4] BODY.PEEK[2.HEADER.FIELDS (subject)])", false,
	    "* 1 FETCH (BODY[2.TEXT] {107}\r\n"
	    "--YY\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "inner plain\r\n"
	    "--YY\r\n"
	    "Content-Type: text/html\r\n"
	    "\r\n"
	    "<b>inner html</b>\r\n"
	    "--YY--\r\n"
	    " BODY[2.MIME] {32}\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "\r\n"
	    " BODY[2.1.MIME] {28}\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    " BODY[2.2] {17}\r\n"
	    "<b>inner html</b> BODY[3] {16}\r\n"
	    "SGVsbG8gd29ybGQ= BODY[4] {0}\r\n"
	    " BODY[2.HEADER.FIELDS (SUBJECT)] {18}\r\n"
	    "Subject: inner\r\n"
	    "\r\n"
	    ")\r\n");
	run(f, "FETCH 1 (BODY.PEEK[HEADER.FIELDS (from \"To\")] BODY.PEEK[HEADER.FIELDS.NOT (Subject From Date To Message-Id MIME-Version)] BODY.PEEK[]<10.5> BODY.PEEK[TEXT]<9999.5>)", false,
	    "* 1 FETCH (BODY[HEADER.FIELDS (FROM \"TO\")] {77}\r\n"
	    "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
	    "To: mooch@owatagu.example\r\n"
	    "\r\n"
	    " BODY[HEADER.FIELDS.NOT (SUBJECT FROM DATE TO MESSAGE-ID MIME-VERSION)] {48}\r\n"
	    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
	    "\r\n"
	    " BODY[]<10> {5}\r\n"
	    " 7 Fe BODY[TEXT]<9999> {0}\r\n"
	    ")\r\n");
	run(f, "FETCH 2:3 (RFC822.HEADER BODY.PEEK[HEADER] BODY.PEEK[TEXT])", false,
	    "* 2 FETCH (RFC822.HEADER {129}\r\n"
	    "From: Simple <simple@example.com>\r\n"
	    "To: a@example.com, b@example.com\r\n"
	    "Subject: plain one\r\n"
	    "Date: Tue, 1 Jan 2019 10:00:00 +0100\r\n"
	    "\r\n"
	    " BODY[HEADER] {129}\r\n"
	    "From: Simple <simple@example.com>\r\n"
	    "To: a@example.com, b@example.com\r\n"
	    "Subject: plain one\r\n"
	    "Date: Tue, 1 Jan 2019 10:00:00 +0100\r\n"
	    "\r\n"
	    " BODY[TEXT] {20}\r\n"
	    "Line one\r\n"
	    "Line two\r\n"
	    ")\r\n"
	    "* 3 FETCH (RFC822.HEADER {80}\r\n"
	    "From: Msg <m@example.com>\r\n"
	    "Subject: rfc822 top\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "\r\n"
	    " BODY[HEADER] {80}\r\n"
	    "From: Msg <m@example.com>\r\n"
	    "Subject: rfc822 top\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "\r\n"
	    " BODY[TEXT] {68}\r\n"
	    "From: Embedded <e@example.com>\r\n"
	    "Subject: embedded\r\n"
	    "\r\n"
	    "embedded body\r\n"
	    ")\r\n");
	run(f, "FETCH 1:3 (ENVELOPE BODY)", false,
	    "* 1 FETCH (ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"afternoon meeting\" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((NIL NIL \"mooch\" \"owatagu.example\")) NIL NIL NIL \"<B27397-0100000@Blurdybloop.example>\") BODY ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 53 0)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 210 (NIL \"inner\" ((\"Inner\" NIL \"inner\" \"example.com\")) ((\"Inner\" NIL \"inner\" \"example.com\")) ((\"Inner\" NIL \"inner\" \"example.com\")) NIL NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 0)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 0) \"alternative\") 13)(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 16) \"mixed\"))\r\n"
	    "* 2 FETCH (ENVELOPE (\"Tue, 1 Jan 2019 10:00:00 +0100\" \"plain one\" ((\"Simple\" NIL \"simple\" \"example.com\")) ((\"Simple\" NIL \"simple\" \"example.com\")) ((\"Simple\" NIL \"simple\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")(NIL NIL \"b\" \"example.com\")) NIL NIL NIL NIL) BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2))\r\n"
	    "* 3 FETCH (ENVELOPE (NIL \"rfc822 top\" ((\"Msg\" NIL \"m\" \"example.com\")) ((\"Msg\" NIL \"m\" \"example.com\")) ((\"Msg\" NIL \"m\" \"example.com\")) NIL NIL NIL NIL NIL) BODY (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 68 (NIL \"embedded\" ((\"Embedded\" NIL \"e\" \"example.com\")) ((\"Embedded\" NIL \"e\" \"example.com\")) ((\"Embedded\" NIL \"e\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 15 1) 4))\r\n");
	run(f, "FETCH 1:3 BODYSTRUCTURE", false,
	    "* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 53 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 210 (NIL \"inner\" ((\"Inner\" NIL \"inner\" \"example.com\")) ((\"Inner\" NIL \"inner\" \"example.com\")) ((\"Inner\" NIL \"inner\" \"example.com\")) NIL NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"YY\") NIL NIL NIL) 13 NIL NIL NIL NIL)(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 16 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"XX\") NIL NIL NIL))\r\n"
	    "* 2 FETCH (BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL NIL))\r\n"
	    "* 3 FETCH (BODYSTRUCTURE (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 68 (NIL \"embedded\" ((\"Embedded\" NIL \"e\" \"example.com\")) ((\"Embedded\" NIL \"e\" \"example.com\")) ((\"Embedded\" NIL \"e\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 15 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL))\r\n");
	run(f, "FETCH 2 (BODY[TEXT] RFC822.SIZE)", false,
	    "* 2 FETCH (RFC822.SIZE 149 FLAGS (\\Seen \\Recent) BODY[TEXT] {20}\r\n"
	    "Line one\r\n"
	    "Line two\r\n"
	    ")\r\n");
	run(f, "FETCH 2:3 (FLAGS RFC822.TEXT)", true,
	    "* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent) RFC822.TEXT {20}\r\n"
	    "Line one\r\n"
	    "Line two\r\n"
	    ")\r\n"
	    "* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent) RFC822.TEXT {68}\r\n"
	    "From: Embedded <e@example.com>\r\n"
	    "Subject: embedded\r\n"
	    "\r\n"
	    "embedded body\r\n"
	    ")\r\n");
	run(f, "FETCH 2:3 FLAGS", false,
	    "* 2 FETCH (FLAGS (\\Seen \\Recent))\r\n"
	    "* 3 FETCH (FLAGS (\\Seen \\Recent))\r\n");
	run(f, "STORE 1 +FLAGS (\\Flagged kw1)", false,
	    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft kw1)\r\n"
	    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft kw1 \\*)] Flags permitted.\r\n"
	    "* 1 FETCH (FLAGS (\\Flagged \\Recent kw1))\r\n");
	run(f, "STORE 1 +FLAGS (\\Flagged)", false,
	    "");
	run(f, "STORE 1:3 FLAGS.SILENT (\\Answered)", false,
	    "");
	run(f, "STORE 1:3 -FLAGS \\Answered", true,
	    "* 1 FETCH (UID 1 FLAGS (\\Recent))\r\n"
	    "* 2 FETCH (UID 2 FLAGS (\\Recent))\r\n"
	    "* 3 FETCH (UID 3 FLAGS (\\Recent))\r\n");
	run(f, "STORE 2,3 +FLAGS (\\Deleted)", false,
	    "* 2 FETCH (FLAGS (\\Deleted \\Recent))\r\n"
	    "* 3 FETCH (FLAGS (\\Deleted \\Recent))\r\n");
	fixture_free(f);
}

static void test_fetch_cache_and_seen(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	const char *tagged;
	/* the second ENVELOPE comes from the cache: same text */
	struct buf first = BUF_INIT;
	buf_append_str(&first, exec(f, "FETCH 1:3 (ENVELOPE BODYSTRUCTURE BODY)", false, &tagged));
	struct buf cached = BUF_INIT;
	buf_append_str(&cached, exec(f, "FETCH 1:3 (ENVELOPE BODYSTRUCTURE BODY)", false, &tagged));
	assert_string_equal(first.data, cached.data);
	buf_free(&first);
	buf_free(&cached);

	/* FLAGS asked for and \Seen set: FLAGS once, in its place */
	run(f, "FETCH 1 (FLAGS BODY[]<0.4>)", false,
	    "* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[]<0> {4}\r\nDate)\r\n");
	/* already \Seen: no FLAGS */
	run(f, "FETCH 1 BODY[]<0.4>", false, "* 1 FETCH (BODY[]<0> {4}\r\nDate)\r\n");
	/* a UID set skips UIDs not there */
	run(f, "FETCH 2:99 (FLAGS)", true, "* 2 FETCH (UID 2 FLAGS (\\Recent))\r\n"
	    "* 3 FETCH (UID 3 FLAGS (\\Recent))\r\n");
	run(f, "FETCH 99 FLAGS", true, "");
	run(f, "FETCH 1:* FAST", false,
	    "* 1 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE \"01-Jan-2020 02:00:00 +0000\" RFC822.SIZE 742)\r\n"
	    "* 2 FETCH (FLAGS (\\Recent) INTERNALDATE \"01-Jan-2020 02:00:00 +0000\" RFC822.SIZE 149)\r\n"
	    "* 3 FETCH (FLAGS (\\Recent) INTERNALDATE \"01-Jan-2020 02:00:00 +0000\" RFC822.SIZE 148)\r\n");

	/* NUL can't go in a literal: 0x80 instead, as Dovecot does */
	static const char nul_msg[] = "Subject: nul\r\n\r\nab\0cd\r\n";
	struct mail_save save = { .data = nul_msg, .len = sizeof(nul_msg) - 1 };
	uint32_t uidv, uid;
	assert_int_equal(mailbox_append(f->user, "INBOX", &save, &uidv, &uid), 0);
	select_box(f, "INBOX", false);
	exec(f, "FETCH 4 (BODY.PEEK[TEXT] BODY.PEEK[TEXT]<1.2>)", false, &tagged);
	static const char want_nul[] =
		"* 4 FETCH (BODY[TEXT] {7}\r\nab\x80" "cd\r\n BODY[TEXT]<1> {2}\r\nb\x80)\r\n";
	assert_int_equal(f->out.len, sizeof(want_nul) - 1);
	assert_memory_equal(buf_cstr(&f->out), want_nul, f->out.len);

	/* read-only: nothing is set */
	select_box(f, "INBOX", true);
	run(f, "FETCH 2 RFC822.TEXT", false, "* 2 FETCH (RFC822.TEXT {20}\r\nLine one\r\nLine two\r\n)\r\n");
	run(f, "FETCH 2 FLAGS", false, "* 2 FETCH (FLAGS ())\r\n");
	run_tagged(f, "STORE 2 +FLAGS (\\Seen)", false, "a NO ");
	run_tagged(f, "EXPUNGE", false, "a NO ");
	run_tagged(f, "MOVE 1 Trash", false, "a NO ");
	fixture_free(f);
}

static void test_fetch_expunged(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	/* another session expunges message 2; our view still has it */
	uint32_t uid = 2;
	assert_int_equal(mailbox_expunge(f->s.box, &uid, 1), 0);
	run(f, "FETCH 1:3 (UID BODY.PEEK[HEADER.FIELDS (Subject)])", false,
	    "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {30}\r\nSubject: afternoon meeting\r\n\r\n)\r\n"
	    "* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] NIL)\r\n"
	    "* 3 FETCH (UID 3 BODY[HEADER.FIELDS (SUBJECT)] {23}\r\nSubject: rfc822 top\r\n\r\n)\r\n");
	const char *tagged;
	exec(f, "FETCH 2 ENVELOPE", false, &tagged);
	assert_string_equal(tagged, "a OK [EXPUNGEISSUED] Some messages were already expunged.\r\n");
	assert_string_equal(buf_cstr(&f->out),
			    "* 2 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n");
	/* what the view knows is still answered */
	run(f, "FETCH 2 (UID RFC822.SIZE)", false, "* 2 FETCH (UID 2 RFC822.SIZE 149)\r\n");
	/* EXPUNGE reports it first (its sync), then its own */
	run(f, "STORE 3 +FLAGS.SILENT (\\Deleted)", false, "");
	run(f, "EXPUNGE", false, "* 2 EXPUNGE\r\n* 2 RECENT\r\n* 2 EXPUNGE\r\n* 1 RECENT\r\n");
	assert_int_equal(f->s.view.count, 1);
	fixture_free(f);
}

static void test_copy_move_expunge(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	struct mailbox_status st;
	assert_int_equal(mail_user_mailbox_status(f->user, "Trash", &st), 0);
	struct buf want = BUF_INIT;
	const char *tagged;

	exec(f, "COPY 1:3 Trash", false, &tagged);
	buf_printf(&want, "a OK [COPYUID %u 1:3 1:3] Copy completed.\r\n", st.uidvalidity);
	assert_string_equal(tagged, want.data);
	exec(f, "COPY 3,1 Trash", true, &tagged);
	buf_reset(&want);
	buf_printf(&want, "a OK [COPYUID %u 1,3 4:5] Copy completed.\r\n", st.uidvalidity);
	assert_string_equal(tagged, want.data);
	run_tagged(f, "COPY 1 Nope", false, "a NO [TRYCREATE] ");
	run_tagged(f, "COPY 1 \"&Jjo\"", false, "a NO ");
	run_tagged(f, "COPY 4 Trash", false, "a BAD ");
	run_tagged(f, "COPY 1", false, "a BAD ");
	run_tagged(f, "COPY 99 Trash", true, "a OK ");

	/* mUTF-7 names */
	assert_int_equal(mail_user_create_mailbox(f->user, "D\xc3\xa9j\xc3\xa0", 0), 0);
	run(f, "COPY 2 D&AOk-j&AOA-", false, "");
	assert_int_equal(mail_user_mailbox_status(f->user, "D\xc3\xa9j\xc3\xa0", &st), 0);
	assert_int_equal(st.messages, 1);

	/* MOVE: COPYUID untagged first, then the EXPUNGEs, highest first */
	assert_int_equal(mail_user_mailbox_status(f->user, "Trash", &st), 0);
	exec(f, "MOVE 1,3 Trash", false, &tagged);
	buf_reset(&want);
	buf_printf(&want, "* OK [COPYUID %u 1,3 6:7] Moved UIDs.\r\n* 3 EXPUNGE\r\n* 1 EXPUNGE\r\n"
		   "* 1 RECENT\r\n", st.uidvalidity);
	assert_string_equal(buf_cstr(&f->out), want.data);
	assert_string_equal(tagged, "a OK Move completed.\r\n");
	assert_int_equal(f->s.view.count, 1);
	assert_int_equal(f->s.view.msgs[0].uid, 2);

	/* UID EXPUNGE only takes \Deleted messages within its set */
	select_box(f, "Trash", false);
	assert_int_equal(f->s.view.count, 7);
	run(f, "STORE 1:3,6 +FLAGS.SILENT (\\Deleted)", false, "");
	run(f, "EXPUNGE 2:5", true, "* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n* 5 RECENT\r\n");
	run(f, "FETCH 1:* UID", false, "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 4)\r\n"
	    "* 3 FETCH (UID 5)\r\n* 4 FETCH (UID 6)\r\n* 5 FETCH (UID 7)\r\n");
	run_tagged(f, "EXPUNGE 1", false, "a BAD ");
	run_tagged(f, "EXPUNGE", true, "a BAD ");
	run(f, "EXPUNGE", false, "* 4 EXPUNGE\r\n* 1 EXPUNGE\r\n* 3 RECENT\r\n");
	run(f, "EXPUNGE", false, "");
	assert_int_equal(f->s.view.count, 3);
	buf_free(&want);
	fixture_free(f);
}

static void test_bad_commands(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	static const char *const bad[] = {
		"FETCH", "FETCH 1", "FETCH 1 BOGUS", "FETCH 1 (ALL)", "FETCH 1 ()", "FETCH 4 UID",
		"FETCH 0 UID", "FETCH x UID", "FETCH 1 BODY[0]", "FETCH 1 (UID) extra",
		"FETCH 1 \"UID\"", "FETCH 1 BODY.PEEK[HEADER.FIELDS ()]",
		"STORE 1 FLAGS", "STORE 1 XFLAGS (\\Seen)", "STORE 1 +FLAGS (\\Recent)",
		"STORE 1 +FLAGS (\\Bogus)", "STORE 1 +FLAGS (\\Seen) (x)", "STORE 1 +FLAGS (\"x\")",
		"STORE 1 +FLAGS (a]b)", "STORE 9 FLAGS ()",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *tagged;
		const char *out = exec(f, bad[i], false, &tagged);
		if (strncmp(tagged, "a BAD ", 6) != 0 || *out != '\0')
			fail_msg("%s: %s%s", bad[i], out, tagged);
	}
	/* too many keywords: the storage's limit */
	struct buf line = BUF_INIT;
	buf_append_str(&line, "STORE 1 +FLAGS (");
	for (int i = 0; i <= MAIL_MAX_KEYWORDS; i++)
		buf_printf(&line, "%sk%d", i > 0 ? " " : "", i);
	buf_append_c(&line, ')');
	const char *tagged;
	exec(f, line.data, false, &tagged);
	assert_true(strncmp(tagged, "a BAD ", 6) == 0 || strncmp(tagged, "a NO ", 5) == 0);
	buf_free(&line);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_like_dovecot),
		cmocka_unit_test(test_fetch_cache_and_seen),
		cmocka_unit_test(test_fetch_expunged),
		cmocka_unit_test(test_copy_move_expunge),
		cmocka_unit_test(test_bad_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
