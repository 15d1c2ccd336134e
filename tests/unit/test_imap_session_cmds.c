/* LIBS: om_imap om_storage om_auth om_mime om_lib */
/* IMAP commands of the session core run through the real parser, passdb and
 * Maildir storage (in a temporary directory), without a network: each
 * command line is parsed and executed as its worker job would, and the
 * session's output is compared. */
#include "imap-harness.h"

static int setup(void **state)
{
	return harness_setup(state, "alice:{PLAIN}secret::::::\n");
}

static int teardown(void **state)
{
	return harness_teardown(state);
}

static void test_not_authenticated(void **state)
{
	struct fixture *f = *state;

	assert_has(run(f, "a CAPABILITY\r\n"), "* CAPABILITY IMAP4rev1 ");
	assert_has(run(f, "a CAPABILITY\r\n"), " AUTH=PLAIN\r\na OK");
	assert_string_equal(run(f, "b SELECT INBOX\r\n"), "b BAD Not logged in.\r\n");
	assert_string_equal(run(f, "c UID FETCH 1 FLAGS\r\n"), "c BAD Not logged in.\r\n");
	assert_string_equal(run(f, "d XYZZY\r\n"), "d BAD Unknown command.\r\n");
	assert_string_equal(run(f, "e LOGIN alice wrong\r\n"),
			    "e NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
	assert_string_equal(run(f, "e LOGIN nobody wrong\r\n"),
			    "e NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
	assert_int_equal(f->s.auth_failures, 2);
	assert_string_equal(run(f, "f LOGIN alice\r\n"),
			    "f BAD LOGIN needs a user name and a password.\r\n");
	/* SASL-IR: "\0alice\0secret" */
	assert_has(run(f, "g AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"), "g OK [CAPABILITY ");
	assert_int_equal(f->s.state, IMAP_STATE_AUTH);
	assert_string_equal(run(f, "h LOGIN alice secret\r\n"), "h BAD Already logged in.\r\n");
	assert_lacks(run(f, "i CAPABILITY\r\n"), "AUTH=PLAIN");
}

static void test_authenticate_continuation(void **state)
{
	struct fixture *f = *state;
	static const char resp[] = "AGFsaWNlAHNlY3JldA=="; /* "\0alice\0secret" */

	assert_string_equal(run(f, "a AUTHENTICATE PLAIN\r\n"), "+ \r\n");
	assert_int_equal(f->priv.line_mode, IMAP_LINE_AUTH);
	/* what the core does with the client's next line */
	f->priv.line_mode = IMAP_LINE_NONE;
	f->priv.line_fn(&f->s, resp, strlen(resp));
	assert_non_null(strstr(buf_cstr(&f->s.tagged), "a OK [CAPABILITY "));
	assert_int_equal(f->s.state, IMAP_STATE_AUTH);
}

static void test_authenticate_errors(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(run(f, "a AUTHENTICATE CRAM-MD5\r\n"),
			    "a NO Unsupported authentication mechanism.\r\n");
	assert_string_equal(run(f, "b AUTHENTICATE PLAIN !!!!\r\n"), "b BAD Invalid base64 data.\r\n");
	/* "=" is an empty response */
	assert_string_equal(run(f, "c AUTHENTICATE PLAIN =\r\n"),
			    "c NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
	/* another identity than one's own: "bob\0alice\0secret" */
	assert_has(run(f, "d AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n"),
		   "d NO [AUTHORIZATIONFAILED]");
	/* "alice\0alice\0secret" */
	assert_has(run(f, "e AUTHENTICATE PLAIN YWxpY2UAYWxpY2UAc2VjcmV0\r\n"), "e OK");
}

static void test_misc(void **state)
{
	struct fixture *f = *state;

	login(f);
	assert_string_equal(run(f, "a NAMESPACE\r\n"),
			    "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\na OK Namespace completed.\r\n");
	assert_string_equal(run(f, "b ID NIL\r\n"),
			    "* ID (\"name\" \"objmail\" \"version\" \"0.1\")\r\nb OK ID completed.\r\n");
	assert_has(run(f, "c ID (\"name\" \"test\" \"version\" NIL)\r\n"), "c OK");
	assert_has(run(f, "d ID (\"name\")\r\n"), "d BAD");
	assert_string_equal(run(f, "e ENABLE X-UNKNOWN\r\n"), "* ENABLED\r\ne OK Enabled.\r\n");
	assert_string_equal(run(f, "e ENABLE CONDSTORE X-UNKNOWN\r\n"),
			    "* ENABLED CONDSTORE\r\ne OK Enabled.\r\n");
	assert_string_equal(run(f, "e ENABLE CONDSTORE\r\n"), "* ENABLED\r\ne OK Enabled.\r\n");
	assert_string_equal(run(f, "f NOOP\r\n"), "f OK NOOP completed.\r\n");
	assert_string_equal(run(f, "g CHECK\r\n"), "g BAD No mailbox selected.\r\n");
	assert_string_equal(run(f, "h LOGOUT\r\n"), "* BYE Logging out\r\nh OK Logout completed.\r\n");
	assert_true(f->priv.close_after);
}

static void test_mailboxes(void **state)
{
	struct fixture *f = *state;
	const char *out;

	login(f);
	out = run(f, "a LIST \"\" *\r\n");
	assert_has(out, "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n");
	assert_has(out, "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n");
	assert_has(out, "\\Trash) \"/\" \"Trash\"\r\n");
	assert_has(out, "\\Drafts) \"/\" \"Drafts\"\r\n");
	assert_has(out, "\\Junk) \"/\" \"Junk\"\r\n");
	assert_string_equal(run(f, "b LIST \"\" \"\"\r\n"),
			    "* LIST (\\Noselect) \"/\" \"\"\r\nb OK List completed.\r\n");

	assert_string_equal(run(f, "c CREATE Work/Projects/\r\n"), "c OK Create completed.\r\n");
	assert_has(run(f, "c CREATE Work/Projects\r\n"), "c NO [ALREADYEXISTS]");
	assert_has(run(f, "c CREATE inbox\r\n"), "c NO [ALREADYEXISTS]");
	assert_has(run(f, "c CREATE a/../b\r\n"), "c NO [CANNOT]");
	assert_has(run(f, "c CREATE \"&Jjo\"\r\n"), "c BAD");
	out = run(f, "d LIST \"\" %\r\n");
	assert_has(out, "* LIST (\\HasChildren) \"/\" \"Work\"\r\n");
	assert_lacks(out, "Work/Projects");
	assert_string_equal(run(f, "e LIST Work/ %\r\n"),
			    "* LIST (\\HasNoChildren) \"/\" \"Work/Projects\"\r\ne OK List completed.\r\n");

	/* UTF-8 names travel as modified UTF-7 */
	assert_string_equal(run(f, "f CREATE \"Entw&APw-rfe\"\r\n"), "f OK Create completed.\r\n");
	assert_has(run(f, "g LIST \"\" Entw*\r\n"), "\"/\" \"Entw&APw-rfe\"\r\n");

	assert_string_equal(run(f, "h RENAME Work Job\r\n"), "h OK Rename completed.\r\n");
	out = run(f, "i LIST \"\" Job*\r\n");
	assert_has(out, "\"Job/Projects\"");
	assert_has(run(f, "j RENAME Nope Other\r\n"), "j NO [NONEXISTENT]");
	assert_has(run(f, "k DELETE Nope\r\n"), "k NO [NONEXISTENT]");
	assert_has(run(f, "k DELETE INBOX\r\n"), "k NO");
	assert_string_equal(run(f, "l DELETE Job/Projects\r\n"), "l OK Delete completed.\r\n");

	/* subscriptions, LSUB and LIST-EXTENDED */
	assert_string_equal(run(f, "m SUBSCRIBE Entw&APw-rfe\r\n"), "m OK Subscribe completed.\r\n");
	assert_has(run(f, "n LSUB \"\" *\r\n"), "* LSUB () \"/\" \"Entw&APw-rfe\"\r\n");
	assert_string_equal(run(f, "o UNSUBSCRIBE Entw&APw-rfe\r\n"), "o OK Unsubscribe completed.\r\n");
	assert_lacks(run(f, "p LSUB \"\" *\r\n"), "Entw");
	out = run(f, "q LIST (SUBSCRIBED) \"\" *\r\n");
	assert_has(out, "\\Subscribed");
	assert_lacks(out, "Entw");
	assert_lacks(run(f, "r LIST \"\" *\r\n"), "\\Subscribed");
	out = run(f, "s LIST (SPECIAL-USE) \"\" * RETURN (SUBSCRIBED)\r\n");
	assert_has(out, "\\Subscribed \\Sent)");
	assert_lacks(out, "INBOX");
	assert_has(run(f, "t LIST (BOGUS) \"\" *\r\n"), "t BAD");
}

static void test_select(void **state)
{
	struct fixture *f = *state;
	const char *out;
	uint32_t uidvalidity;
	char expect[256];

	login(f);
	out = run(f, "a APPEND INBOX (\\Seen) {21+}\r\nSubject: one\r\n\r\nbody\r\n\r\n");
	assert_has(out, "a OK [APPENDUID ");
	assert_int_equal(sscanf(out, "a OK [APPENDUID %u 1]", &uidvalidity), 1);
	out = run(f, "b APPEND INBOX (\\Deleted $Work) \"17-Jul-1996 02:44:25 -0700\" {21+}\r\n"
		     "Subject: two\r\n\r\nbody\r\n\r\n");
	assert_has(out, "b OK [APPENDUID ");
	assert_has(run(f, "c APPEND Nope {3+}\r\nabc\r\n"), "c NO [TRYCREATE]");
	assert_has(run(f, "c APPEND INBOX (\\Recent) {3+}\r\nabc\r\n"), "c BAD");

	out = run(f, "d SELECT INBOX\r\n");
	assert_has(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n");
	assert_has(out, "* 2 EXISTS\r\n* 2 RECENT\r\n* OK [UNSEEN 2] ");
	snprintf(expect, sizeof(expect), "* OK [UIDVALIDITY %u] ", uidvalidity);
	assert_has(out, expect);
	assert_has(out, "* OK [UIDNEXT 3] ");
	assert_has(out, "d OK [READ-WRITE] SELECT completed.\r\n");
	assert_int_equal(f->s.state, IMAP_STATE_SELECTED);

	/* a new message in the selected mailbox: EXISTS before the tagged OK */
	out = run(f, "e APPEND INBOX {3+}\r\nabc\r\n");
	assert_has(out, "* 3 EXISTS\r\n* 3 RECENT\r\ne OK [APPENDUID ");

	out = run(f, "f STATUS INBOX (MESSAGES UNSEEN UIDNEXT)\r\n");
	assert_has(out, "* STATUS \"INBOX\" (MESSAGES 3 UNSEEN 2 UIDNEXT 4)\r\nf OK");
	assert_has(run(f, "f STATUS INBOX (BOGUS)\r\n"), "f BAD");
	assert_has(run(f, "f STATUS Nope (MESSAGES)\r\n"), "f NO [NONEXISTENT]");

	/* EXAMINE of the same mailbox: read-only, \Recent stays ours */
	out = run(f, "g EXAMINE INBOX\r\n");
	assert_has(out, "* OK [PERMANENTFLAGS ()] ");
	assert_has(out, "g OK [READ-ONLY] EXAMINE completed.\r\n");
	assert_string_equal(run(f, "h CLOSE\r\n"), "h OK Close completed.\r\n");
	assert_has(run(f, "i STATUS INBOX (MESSAGES)\r\n"), "(MESSAGES 3)");

	/* CLOSE expunges \Deleted silently */
	run(f, "j SELECT INBOX\r\n");
	assert_string_equal(run(f, "k CLOSE\r\n"), "k OK Close completed.\r\n");
	assert_int_equal(f->s.state, IMAP_STATE_AUTH);
	assert_has(run(f, "l STATUS INBOX (MESSAGES)\r\n"), "(MESSAGES 2)");

	/* a failed SELECT leaves the selected state */
	run(f, "m SELECT INBOX\r\n");
	assert_has(run(f, "n SELECT Nope\r\n"), "n NO [NONEXISTENT]");
	assert_int_equal(f->s.state, IMAP_STATE_AUTH);
	assert_string_equal(run(f, "o UNSELECT\r\n"), "o BAD No mailbox selected.\r\n");
	run(f, "p SELECT INBOX\r\n");
	assert_string_equal(run(f, "q UNSELECT\r\n"), "q OK Unselect completed.\r\n");
	assert_string_equal(run(f, "r UID BOGUS 1\r\n"), "r BAD Unknown UID command.\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_not_authenticated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authenticate_continuation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authenticate_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailboxes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_select, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
