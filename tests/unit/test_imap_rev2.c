/* LIBS: om_imap om_storage om_auth om_mime om_lib */
/* The IMAP additions for modern clients, run through the real parser,
 * passdb and Maildir storage without a network (as test_imap_session_cmds):
 * LIST-EXTENDED/LIST-STATUS, CREATE-SPECIAL-USE, STATUS SIZE/DELETED,
 * QUOTA, MULTIAPPEND, ENABLE IMAP4rev2/UTF8=ACCEPT, BINARY item parsing. */

#include "imap/imap-fetch.h"
#include "imap-harness.h"

static int setup(void **state)
{
	return harness_setup(state, "alice:{PLAIN}secret::::::quota_rule=*:storage=10K:messages=2\n");
}

static int teardown(void **state)
{
	return harness_teardown(state);
}

static void test_list_extended(void **state)
{
	struct fixture *f = *state;

	login(f);
	assert_has(run(f, "a CREATE Fruit/Apple\r\n"), "a OK");
	assert_has(run(f, "b SUBSCRIBE Fruit/Apple\r\n"), "b OK");
	assert_has(run(f, "c SUBSCRIBE Missing\r\n"), "c OK");
	const char *out = run(f, "d LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"\r\n");
	assert_has(out, "* LIST (\\HasChildren) \"/\" \"Fruit\" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	assert_has(out, "* LIST (\\NonExistent \\Subscribed) \"/\" \"Missing\"\r\n");
	assert_lacks(out, "Fruit/Apple");
	out = run(f, "e LIST \"\" \"*\"\r\n");
	assert_lacks(out, "Missing");
	out = run(f, "f LIST \"\" (\"Fruit\" \"Sent\") RETURN (STATUS (MESSAGES SIZE))\r\n");
	assert_has(out, "* LIST (\\HasChildren) \"/\" \"Fruit\"\r\n"
			"* STATUS \"Fruit\" (MESSAGES 0 SIZE 0)\r\n");
	assert_has(out, "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"
			"* STATUS \"Sent\" (MESSAGES 0 SIZE 0)\r\n");
	assert_has(run(f, "g LIST (RECURSIVEMATCH) \"\" \"*\"\r\n"), "g BAD");
	assert_has(run(f, "h LIST \"\" \"*\" RETURN (STATUS (BOGUS))\r\n"), "h BAD");
}

static void test_create_use_status(void **state)
{
	struct fixture *f = *state;

	login(f);
	assert_has(run(f, "a CREATE Arch (USE (\\Archive))\r\n"), "a OK");
	assert_has(run(f, "b LIST (SPECIAL-USE) \"\" \"Arch\"\r\n"),
		   "* LIST (\\HasNoChildren \\Archive) \"/\" \"Arch\"\r\n");
	assert_has(run(f, "c CREATE X (USE (\\Sent \\Trash))\r\n"), "c NO [USEATTR]");
	assert_has(run(f, "d CREATE X (USE (\\Bogus))\r\n"), "d NO [USEATTR]");
	assert_has(run(f, "e CREATE X (FOO)\r\n"), "e BAD");
	assert_has(run(f, "f APPEND Arch (\\Deleted) {4}\r\nab\r\n\r\n"), "f OK [APPENDUID ");
	assert_has(run(f, "g STATUS Arch (MESSAGES DELETED SIZE)\r\n"),
		   "* STATUS \"Arch\" (MESSAGES 1 DELETED 1 SIZE 4)\r\n");
}

static void test_quota_and_multiappend(void **state)
{
	struct fixture *f = *state;

	login(f);
	/* messages=2: the third of one MULTIAPPEND fails and none stays */
	const char *out = run(f, "a APPEND INBOX {4}\r\nab\r\n {4}\r\ncd\r\n"
				 " {4}\r\nef\r\n\r\n");
	assert_has(out, "a NO [OVERQUOTA]");
	assert_has(run(f, "b STATUS INBOX (MESSAGES)\r\n"), "(MESSAGES 0)");
	out = run(f, "c APPEND INBOX {4}\r\nab\r\n {4}\r\ncd\r\n\r\n");
	assert_has(out, "c OK [APPENDUID ");
	assert_has(out, " 3:4] "); /* UIDs 1 and 2 went with the rollback */
	out = run(f, "d GETQUOTAROOT INBOX\r\n");
	assert_has(out, "* QUOTAROOT \"INBOX\" \"User quota\"\r\n"
			"* QUOTA \"User quota\" (STORAGE 1 10 MESSAGE 2 2)\r\n");
	assert_has(run(f, "e APPEND INBOX {4}\r\nxy\r\n\r\n"), "e NO [OVERQUOTA]");
	assert_has(run(f, "f SETQUOTA \"User quota\" (STORAGE 1)\r\n"), "f NO");
	assert_has(run(f, "g GETQUOTA \"User quota\"\r\n"), "MESSAGE 2 2)\r\ng OK");
}

static void test_enable_rev2_utf8(void **state)
{
	struct fixture *f = *state;

	login(f);
	assert_has(run(f, "a CAPABILITY\r\n"), " IMAP4rev2 ");
	assert_has(run(f, "b CREATE \"Gr&APw-n\"\r\n"), "b OK");
	assert_has(run(f, "c LIST \"\" \"Gr*\"\r\n"), "\"Gr&APw-n\"\r\n");
	assert_string_equal(run(f, "d ENABLE IMAP4rev2 UTF8=ACCEPT\r\n"),
			    "* ENABLED IMAP4rev2 UTF8=ACCEPT\r\nd OK Enabled.\r\n");
	assert_true(f->s.enabled_rev2 && f->s.enabled_utf8);
	assert_has(run(f, "e LIST \"\" \"Gr*\"\r\n"), "\"Gr\xc3\xbcn\"\r\n");
	/* RECENT is no STATUS item of rev2 (RFC 9051 9, status-att) */
	assert_has(run(f, "f STATUS \"Gr\xc3\xbcn\" (RECENT)\r\n"), "f BAD");
	assert_has(run(f, "f2 LIST \"\" \"Gr*\" RETURN (STATUS (RECENT))\r\n"), "f2 BAD");
	assert_has(run(f, "g SELECT INBOX\r\n"), "g OK");
	assert_lacks(buf_cstr(&f->out), "RECENT");
}

/* SELECT/EXAMINE in rev2 (RFC 9051 6.3.2): a LIST line with the mailbox's
 * attributes, no RECENT, no [UNSEEN]; [CLOSED] when one was selected. A
 * rev1 session keeps RECENT and [UNSEEN]. */
static void test_rev2_select(void **state)
{
	struct fixture *f = *state;

	login(f);
	assert_has(run(f, "a APPEND INBOX (\\Seen) {4}\r\nab\r\n\r\n"), "a OK");
	assert_has(run(f, "b APPEND INBOX {4}\r\ncd\r\n\r\n"), "b OK");
	assert_has(run(f, "c CREATE Fruit/Apple\r\n"), "c OK");
	const char *out = run(f, "d SELECT INBOX\r\n");
	assert_has(out, "* 2 RECENT\r\n");
	assert_has(out, "* OK [UNSEEN 2] ");
	assert_lacks(out, "* LIST");
	assert_has(run(f, "d2 UNSELECT\r\n"), "d2 OK");
	assert_has(run(f, "e ENABLE IMAP4rev2\r\n"), "* ENABLED IMAP4rev2");
	assert_has(run(f, "e2 SELECT INBOX\r\n"), "e2 OK");
	out = run(f, "f SELECT inbox\r\n");
	assert_has(out, "* OK [CLOSED] ");
	assert_has(out, "* 2 EXISTS\r\n* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
			"* OK [UIDVALIDITY ");
	assert_lacks(out, "RECENT");
	assert_lacks(out, "UNSEEN");
	out = run(f, "g EXAMINE Sent\r\n");
	assert_has(out, "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n");
	assert_has(out, "g OK [READ-ONLY]");
	out = run(f, "h SELECT Fruit\r\n");
	assert_has(out, "* LIST (\\HasChildren) \"/\" \"Fruit\"\r\n");
	/* the storage reads "inbox/x" as "INBOX/x": the client's name as OLDNAME */
	assert_has(run(f, "i CREATE INBOX/Sub\r\n"), "i OK");
	out = run(f, "j SELECT inbox/Sub\r\n");
	assert_has(out, "* LIST (\\HasNoChildren) \"/\" \"INBOX/Sub\" (\"OLDNAME\" (\"inbox/Sub\"))\r\n");
	out = run(f, "k SELECT Nowhere\r\n");
	assert_has(out, "* OK [CLOSED] ");
	assert_has(out, "k NO [NONEXISTENT]");
	assert_int_equal(f->s.state, IMAP_STATE_AUTH);
}

/* What RFC 9051 removed is refused in a rev2 session and still answered
 * in a rev1 one: the RFC822 FETCH items, NEW/OLD/RECENT search keys. */
static void test_rev2_removed_items(void **state)
{
	struct fixture *f = *state;

	login(f);
	assert_has(run(f, "a APPEND INBOX {11}\r\nA: b\r\n\r\nx\r\n\r\n"), "a OK");
	assert_has(run(f, "b SELECT INBOX\r\n"), "b OK");
	assert_has(run(f, "c FETCH 1 RFC822.HEADER\r\n"), "* 1 FETCH (RFC822.HEADER {8}\r\nA: b\r\n\r\n)");
	assert_has(run(f, "d SEARCH NEW\r\n"), "* SEARCH 1\r\n");
	assert_has(run(f, "d2 UNSELECT\r\n"), "d2 OK");
	assert_has(run(f, "e ENABLE IMAP4rev2\r\n"), "e OK");
	assert_has(run(f, "e2 SELECT INBOX\r\n"), "e2 OK");
	static const char *const bad[] = {
		"f FETCH 1 RFC822\r\n", "f FETCH 1 (FLAGS RFC822.TEXT)\r\n",
		"f UID FETCH 1 RFC822.HEADER\r\n", "f SEARCH RECENT\r\n",
		"f SEARCH NOT OLD\r\n", "f UID SEARCH OR SEEN NEW\r\n",
		"f SORT (ARRIVAL) UTF-8 RECENT\r\n", "f THREAD REFERENCES UTF-8 NEW\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_has(run(f, bad[i]), "f BAD ");
	assert_has(run(f, "g FETCH 1 (RFC822.SIZE BODY.PEEK[HEADER])\r\n"),
		   "* 1 FETCH (RFC822.SIZE 11 BODY[HEADER] {8}\r\n");
	/* a string argument that reads NEW is no key */
	assert_has(run(f, "h SEARCH SUBJECT NEW\r\n"), "h OK");
	const char *out = run(f, "i SEARCH UNSEEN\r\n");
	assert_has(out, "* ESEARCH (TAG \"i\") ALL 1\r\n");
	/* no match: ESEARCH with the tag only (RFC 4731 3.1, RFC 9051 7.3.4) */
	out = run(f, "j SEARCH DELETED\r\n");
	assert_has(out, "* ESEARCH (TAG \"j\")\r\nj OK");
}

/* LIST in rev2: a level that exists only above a child is \NonExistent
 * (RFC 9051 7.3.1, RFC 5258 3.4); rev1 keeps \Noselect. */
static void test_rev2_list_nonexistent(void **state)
{
	struct fixture *f = *state;

	login(f);
	assert_has(run(f, "a CREATE Top/Mid/Leaf\r\n"), "a OK");
	assert_has(run(f, "b DELETE Top/Mid\r\n"), "b OK");
	const char *out = run(f, "c LIST \"\" \"Top/%\"\r\n");
	assert_has(out, "* LIST (\\Noselect \\HasChildren) \"/\" \"Top/Mid\"\r\n");
	assert_has(run(f, "d ENABLE IMAP4rev2\r\n"), "d OK");
	out = run(f, "e LIST \"\" \"Top/%\"\r\n");
	assert_has(out, "* LIST (\\NonExistent \\HasChildren) \"/\" \"Top/Mid\"\r\n");
	out = run(f, "f LIST \"\" \"*\" RETURN (STATUS (MESSAGES))\r\n");
	assert_has(out, "* LIST (\\NonExistent \\HasChildren) \"/\" \"Top/Mid\"\r\n"
			"* LIST (\\HasNoChildren) \"/\" \"Top/Mid/Leaf\"\r\n"
			"* STATUS \"Top/Mid/Leaf\" (MESSAGES 0)\r\n");
}

/* APPENDLIMIT (RFC 7889): announced with mail_max_size, answered by
 * STATUS and LIST-STATUS. */
static void test_appendlimit(void **state)
{
	struct fixture *f = *state;

	f->cfg.mail_max_size = 1000;
	login(f);
	assert_has(run(f, "a CAPABILITY\r\n"), " APPENDLIMIT=1000");
	assert_has(run(f, "b STATUS INBOX (MESSAGES APPENDLIMIT)\r\n"),
		   "* STATUS \"INBOX\" (MESSAGES 0 APPENDLIMIT 1000)\r\n");
	assert_has(run(f, "c LIST \"\" \"INBOX\" RETURN (STATUS (APPENDLIMIT))\r\n"),
		   "* STATUS \"INBOX\" (APPENDLIMIT 1000)\r\n");
	f->cfg.mail_max_size = 0;
	assert_has(run(f, "d CAPABILITY\r\n"), " APPENDLIMIT=67108864");
}

static void test_binary_items(void **state)
{
	(void)state;
	struct imap_fetch_item it;
	const char *err;

	assert_int_equal(imap_fetch_parse_item("BINARY.PEEK[1.2]<5.10>", 22, &it, &err), 0);
	assert_true(it.binary && it.peek && it.partial);
	assert_int_equal(it.path_len, 2);
	assert_string_equal(it.name, "BINARY[1.2]<5>");
	const char *data = "0123456789\0abcdef";
	size_t len = 17;
	struct buf out = BUF_INIT;
	imap_fetch_binary_write(&it, &data, &len, &out);
	assert_string_equal(buf_cstr(&out), "BINARY[1.2]<5> ~{10}\r\n");
	assert_int_equal(len, 10);
	assert_memory_equal(data, "56789\0abcd", 10);
	imap_fetch_item_clear(&it);
	buf_reset(&out);

	assert_int_equal(imap_fetch_parse_item("BINARY.SIZE[3]", 14, &it, &err), 0);
	assert_true(it.binary_size && it.peek);
	data = "abc";
	len = 3;
	imap_fetch_binary_write(&it, &data, &len, &out);
	assert_string_equal(buf_cstr(&out), "BINARY.SIZE[3] 3");
	imap_fetch_item_clear(&it);

	assert_int_equal(imap_fetch_parse_item("BINARY[]", 8, &it, &err), 0);
	assert_true(it.binary && !it.peek && it.path_len == 0);
	imap_fetch_item_clear(&it);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_extended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_use_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_and_multiappend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable_rev2_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rev2_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rev2_removed_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rev2_list_nonexistent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appendlimit, setup, teardown),
		cmocka_unit_test(test_binary_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
