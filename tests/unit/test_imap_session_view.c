/* LIBS: om_imap om_storage om_auth om_mime om_lib */
/* The session's mailbox view: sequence/UID set resolution, sync against new
 * snapshots (EXPUNGE/EXISTS/RECENT/FETCH FLAGS and their order, the RFC 3501
 * 7.4.1 no-EXPUNGE rule), the command table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap-session-private.h"
#include "lib/om-error.h"

struct fixture {
	struct imap_session s;
	struct imap_session_priv priv;
	struct buf out;
};

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->s.priv = &f->priv;
	f->priv.capture = &f->out;
	f->s.state = IMAP_STATE_SELECTED;
	return f;
}

static void fixture_free(struct fixture *f)
{
	imap_view_free(&f->s.view);
	buf_free(&f->out);
	buf_free(&f->s.tagged);
	free(f);
}

/* A snapshot with the given UIDs; flags[i] for each. */
static struct mailbox_snapshot *snap_new(const uint32_t *uids, const uint32_t *flags, size_t n)
{
	struct mailbox_snapshot *snap = calloc(1, sizeof(*snap));
	snap->uidvalidity = 1234;
	snap->recs = calloc(n ? n : 1, sizeof(*snap->recs));
	snap->count = n;
	for (size_t i = 0; i < n; i++) {
		snap->recs[i].uid = uids[i];
		snap->recs[i].flags = flags != NULL ? flags[i] : 0;
		snap->recs[i].modseq = 1;
	}
	snap->uidnext = n > 0 ? uids[n - 1] + 1 : 1;
	return snap;
}

static void snap_free(struct mailbox_snapshot *snap)
{
	for (size_t i = 0; i < snap->n_keywords; i++)
		free(snap->keywords[i]);
	free(snap->keywords);
	free(snap->recs);
	free(snap);
}

static void assert_resolve(struct fixture *f, const char *set, bool uid, const char *expect)
{
	uint32_t *idx = NULL;
	size_t n = 0;
	struct buf got = BUF_INIT;

	assert_int_equal(imap_view_resolve(&f->s, set, uid, &idx, &n), 0);
	for (size_t i = 0; i < n; i++)
		buf_printf(&got, "%s%u", i > 0 ? "," : "", idx[i]);
	assert_string_equal(buf_cstr(&got), expect);
	buf_free(&got);
	free(idx);
}

static void assert_resolve_fails(struct fixture *f, const char *set, bool uid)
{
	uint32_t *idx = NULL;
	size_t n = 0;
	assert_int_equal(imap_view_resolve(&f->s, set, uid, &idx, &n), -OM_EINVAL);
	free(idx);
}

static void test_resolve(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	uint32_t uids[] = { 1, 3, 5, 7 };
	struct mailbox_snapshot *snap = snap_new(uids, NULL, 4);

	imap_view_init(&f->s, snap);
	assert_resolve(f, "1:*", false, "0,1,2,3");
	assert_resolve(f, "*", false, "3");
	assert_resolve(f, "*:2", false, "1,2,3");
	assert_resolve(f, "4,2,2,1:2", false, "0,1,3");
	assert_resolve_fails(f, "5", false);
	assert_resolve_fails(f, "3:5", false);
	assert_resolve_fails(f, "0", false);
	assert_resolve_fails(f, "x", false);

	assert_resolve(f, "3:6", true, "1,2");
	assert_resolve(f, "2", true, "");
	assert_resolve(f, "1:*", true, "0,1,2,3");
	assert_resolve(f, "*", true, "3");
	/* "n:*" past the highest UID still names the last message */
	assert_resolve(f, "100:*", true, "3");
	assert_resolve(f, "8:100", true, "");
	assert_resolve(f, "7,1,3:4", true, "0,1,3");

	assert_int_equal(imap_view_find_uid(&f->s, 5), 2);
	assert_int_equal(imap_view_find_uid(&f->s, 4), -1);
	assert_int_equal(imap_view_find_uid(&f->s, 8), -1);
	snap_free(snap);

	/* empty mailbox: UID sets name nothing, message numbers are invalid */
	snap = snap_new(NULL, NULL, 0);
	imap_view_init(&f->s, snap);
	assert_resolve(f, "1:*", true, "");
	assert_resolve_fails(f, "1:*", false);
	assert_resolve_fails(f, "*", false);
	snap_free(snap);
	fixture_free(f);
}

static void test_sync_expunge_exists_flags(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	uint32_t uids1[] = { 1, 2, 3 };
	struct mailbox_snapshot *snap = snap_new(uids1, NULL, 3);
	imap_view_init(&f->s, snap);
	snap_free(snap);

	/* 2 expunged, 3 got \Seen from elsewhere, 4 arrived (recent for us) */
	uint32_t uids2[] = { 1, 3, 4 };
	uint32_t flags2[] = { 0, MAIL_SEEN, 0 };
	snap = snap_new(uids2, flags2, 3);
	snap->recent_lo = 4;
	snap->recent_hi = 5;
	imap_view_update(&f->s, snap, true);
	assert_string_equal(buf_cstr(&f->out), "* 2 EXPUNGE\r\n"
					       "* 3 EXISTS\r\n"
					       "* 1 RECENT\r\n"
					       "* 2 FETCH (FLAGS (\\Seen))\r\n");
	assert_int_equal(f->s.view.count, 3);
	assert_int_equal(f->s.view.msgs[2].uid, 4);
	assert_true((f->s.view.msgs[2].flags & MAIL_RECENT) != 0);

	/* the same state again: nothing to say */
	buf_reset(&f->out);
	snap->recent_lo = snap->recent_hi = 0;
	imap_view_update(&f->s, snap, true);
	assert_string_equal(buf_cstr(&f->out), "");
	snap_free(snap);

	/* several expunges: descending numbers, each valid when sent */
	uint32_t uids3[] = { 3 };
	uint32_t flags3[] = { MAIL_SEEN };
	snap = snap_new(uids3, flags3, 1);
	buf_reset(&f->out);
	imap_view_update(&f->s, snap, true);
	assert_string_equal(buf_cstr(&f->out), "* 3 EXPUNGE\r\n* 1 EXPUNGE\r\n* 0 RECENT\r\n");
	assert_int_equal(f->s.view.count, 1);
	snap_free(snap);
	fixture_free(f);
}

static void test_sync_no_expunge(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	uint32_t uids1[] = { 10, 20, 30 };
	struct mailbox_snapshot *snap = snap_new(uids1, NULL, 3);
	imap_view_init(&f->s, snap);
	snap_free(snap);

	/* during FETCH/STORE/SEARCH: 20 is gone but keeps its number */
	uint32_t uids2[] = { 10, 30, 40 };
	uint32_t flags2[] = { MAIL_FLAGGED, 0, 0 };
	snap = snap_new(uids2, flags2, 3);
	imap_view_update(&f->s, snap, false);
	assert_string_equal(buf_cstr(&f->out), "* 4 EXISTS\r\n"
					       "* 0 RECENT\r\n"
					       "* 1 FETCH (FLAGS (\\Flagged))\r\n");
	assert_int_equal(f->s.view.count, 4);
	assert_true(f->s.view.msgs[1].expunged);
	assert_int_equal(imap_view_find_uid(&f->s, 30), 2);

	/* a later allowed point sends it */
	buf_reset(&f->out);
	imap_view_update(&f->s, snap, true);
	assert_string_equal(buf_cstr(&f->out), "* 2 EXPUNGE\r\n");
	assert_int_equal(f->s.view.count, 3);
	snap_free(snap);
	fixture_free(f);
}

static void test_sync_keywords(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	uint32_t uids[] = { 1 };
	struct mailbox_snapshot *snap = snap_new(uids, NULL, 1);
	imap_view_init(&f->s, snap);

	snap->n_keywords = 1;
	snap->keywords = calloc(1, sizeof(char *));
	snap->keywords[0] = strdup("$Junk");
	snap->recs[0].keywords = 1;
	snap->recs[0].flags = MAIL_SEEN;
	imap_view_update(&f->s, snap, true);
	assert_string_equal(buf_cstr(&f->out),
			    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk)\r\n"
			    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
			    "$Junk \\*)] Flags permitted.\r\n"
			    "* 1 FETCH (FLAGS (\\Seen $Junk))\r\n");
	struct buf flags = BUF_INIT;
	imap_view_write_flags(&f->s, 0, &flags);
	assert_string_equal(buf_cstr(&flags), "(\\Seen $Junk)");
	buf_free(&flags);

	/* our own STORE result: no untagged echo on the next sync */
	struct mail_rec rec = snap->recs[0];
	rec.flags = MAIL_SEEN | MAIL_DELETED;
	rec.modseq = 5;
	imap_view_apply_recs(&f->s, &rec, 1);
	snap->recs[0] = rec;
	buf_reset(&f->out);
	imap_view_update(&f->s, snap, true);
	assert_string_equal(buf_cstr(&f->out), "");
	snap_free(snap);
	fixture_free(f);
}

static void test_output(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	struct imap_command cmd = { .tag = "a1", .name = "SELECT" };

	f->s.cmd = &cmd;
	imap_cmd_storage_error(&f->s, -OM_ENOTFOUND, "SELECT");
	assert_string_equal(buf_cstr(&f->s.tagged),
			    "a1 NO [NONEXISTENT] SELECT: No such mailbox or message\r\n");
	imap_cmd_storage_error(&f->s, -OM_EEXISTS, NULL);
	assert_string_equal(buf_cstr(&f->s.tagged), "a1 NO [ALREADYEXISTS] Already exists\r\n");
	imap_cmd_ok(&f->s, "[READ-WRITE] %s\r\nx", "done");
	assert_string_equal(buf_cstr(&f->s.tagged), "a1 OK [READ-WRITE] done  x\r\n");
	imap_send(&f->s, "%d EXISTS", 3);
	assert_string_equal(buf_cstr(&f->out), "* 3 EXISTS\r\n");
	fixture_free(f);
}

static void test_command_table(void **state)
{
	(void)state;
	const char *names[] = { "APPEND", "AUTHENTICATE", "CAPABILITY", "CHECK", "CLOSE",
				"COPY", "CREATE", "DELETE", "ENABLE", "EXAMINE", "EXPUNGE",
				"FETCH", "ID", "IDLE", "LIST", "LOGIN", "LOGOUT", "LSUB", "MOVE",
				"NAMESPACE", "NOOP", "RENAME", "SEARCH", "SELECT", "STARTTLS",
				"STATUS", "STORE", "SUBSCRIBE", "UID", "UNSELECT", "UNSUBSCRIBE" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct imap_cmd_def *d = imap_cmd_find(names[i]);
		assert_non_null(d);
		assert_string_equal(d->name, names[i]);
	}
	assert_null(imap_cmd_find("XYZZY"));
	assert_null(imap_cmd_find("fetch"));
	assert_true((imap_cmd_find("FETCH")->flags & IMAP_CMD_NO_EXPUNGE) != 0);
	assert_true((imap_cmd_find("COPY")->flags & IMAP_CMD_NO_EXPUNGE) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_sync_expunge_exists_flags),
		cmocka_unit_test(test_sync_no_expunge),
		cmocka_unit_test(test_sync_keywords),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_command_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
