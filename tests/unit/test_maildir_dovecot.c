/* LIBS: om_storage om_lib */
/* A Maildir written by Dovecot 2.3.19 (tests/unit/maildir/dovecot-2.3, made
 * over IMAP with folders, flags, keywords, expunges and copies) opens with
 * the UIDVALIDITY, UIDNEXT, UIDs, flags and keywords that Dovecot itself
 * reported (expected.txt, from UID FETCH 1:* (UID FLAGS) and STATUS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

static char tmpdir[256];
static struct om_config cfg;

static int setup(void **state)
{
	(void)state;
	const char *src = getenv("OM_SRCDIR");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/om-test-dovecot.XXXXXX");
	if (src == NULL || mkdtemp(tmpdir) == NULL)
		return -1;
	char cmd[2048];
	/* git keeps no empty directories: recreate cur/new/tmp */
	snprintf(cmd, sizeof(cmd),
		 "cp -a '%s/tests/unit/maildir/dovecot-2.3/.' '%s/' && cd '%s/Maildir' && "
		 "for d in . .??*; do [ -d \"$d\" ] && mkdir -p \"$d/cur\" \"$d/new\" \"$d/tmp\"; done",
		 src, tmpdir, tmpdir);
	if (system(cmd) != 0)
		return -1;
	config_defaults(&cfg);
	free(cfg.mail_location);
	struct buf b = BUF_INIT;
	buf_printf(&b, "maildir:%s/Maildir", tmpdir);
	cfg.mail_location = buf_steal(&b);
	buf_free(&b);
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(&cfg);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static bool has_flag(const char *flags, const char *flag)
{
	size_t n = strlen(flag);
	for (const char *p = flags; (p = strstr(p, flag)) != NULL; p += n) {
		if ((p == flags || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	}
	return false;
}

static void check_msg(const struct mailbox_snapshot *snap, size_t i, const char *flags)
{
	const struct mail_rec *r = &snap->recs[i];
	static const struct { const char *name; uint32_t flag; } sys[] = {
		{ "\\Seen", MAIL_SEEN }, { "\\Answered", MAIL_ANSWERED }, { "\\Flagged", MAIL_FLAGGED },
		{ "\\Deleted", MAIL_DELETED }, { "\\Draft", MAIL_DRAFT },
	};
	unsigned n_expected = 0;
	for (size_t k = 0; k < sizeof(sys) / sizeof(sys[0]); k++) {
		assert_int_equal(has_flag(flags, sys[k].name), (r->flags & sys[k].flag) != 0);
		n_expected += has_flag(flags, sys[k].name);
	}
	unsigned n_kw = 0;
	for (size_t k = 0; k < snap->n_keywords; k++) {
		if (r->keywords & (UINT64_C(1) << k)) {
			if (!has_flag(flags, snap->keywords[k]))
				fail_msg("UID %u: keyword %s not in Dovecot's '%s'", r->uid, snap->keywords[k], flags);
			n_kw++;
		}
	}
	/* every word of Dovecot's list is accounted for */
	unsigned words = 0;
	for (const char *p = flags; *p != '\0'; p++) {
		if (*p != ' ' && (p == flags || p[-1] == ' '))
			words++;
	}
	assert_int_equal(words, n_expected + n_kw);
	assert_true(r->size > 0);
}

static void test_open_dovecot_maildir(void **state)
{
	(void)state;
	struct mail_user *u = NULL;
	assert_int_equal(mail_user_open(&cfg, "alice", NULL, &u), 0);

	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/unit/maildir/dovecot-2.3/expected.txt", getenv("OM_SRCDIR"));
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[1024];
	struct mailbox_snapshot *snap = NULL;
	size_t idx = 0, n_boxes = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "box ", 4) == 0) {
			if (snap != NULL) {
				assert_int_equal(idx, snap->count);
				mailbox_snapshot_free(snap);
			}
			char *name = line + 4;
			char *t1 = strchr(name, '\t');
			assert_non_null(t1);
			*t1 = '\0';
			unsigned long uidv = strtoul(t1 + 1, &t1, 10);
			unsigned long uidnext = strtoul(t1 + 1, NULL, 10);
			struct mailbox_status st;
			assert_int_equal(mail_user_mailbox_status(u, name, &st), 0);
			assert_int_equal(st.uidvalidity, uidv);
			assert_int_equal(st.uidnext, uidnext);
			struct mailbox *box;
			assert_int_equal(mailbox_open(u, name, true, &box), 0);
			assert_int_equal(mailbox_sync(box, &snap), 0);
			assert_int_equal(snap->uidvalidity, uidv);
			assert_int_equal(snap->uidnext, uidnext);
			mailbox_close(box);
			idx = 0;
			n_boxes++;
		} else if (strncmp(line, "msg ", 4) == 0) {
			assert_non_null(snap);
			char *tab = strchr(line, '\t');
			assert_non_null(tab);
			unsigned long uid = strtoul(line + 4, NULL, 10);
			assert_true(idx < snap->count);
			assert_int_equal(snap->recs[idx].uid, uid);
			check_msg(snap, idx, tab + 1);
			idx++;
		}
	}
	fclose(f);
	assert_non_null(snap);
	assert_int_equal(idx, snap->count);
	mailbox_snapshot_free(snap);

	/* the same set of mailboxes */
	struct mailbox_info *list;
	size_t n;
	assert_int_equal(mail_user_list_mailboxes(u, &list, &n), 0);
	size_t selectable = 0;
	for (size_t i = 0; i < n; i++) {
		if (!(list[i].flags & MBOX_NOSELECT))
			selectable++;
		if (strcmp(list[i].name, "Sent") == 0)
			assert_true(list[i].flags & MBOX_SPECIAL_SENT);
		if (strcmp(list[i].name, "Entwürfe") == 0)
			assert_true(list[i].flags & MBOX_SUBSCRIBED);
		if (strcmp(list[i].name, "Urlaub") == 0)
			assert_true(list[i].flags & MBOX_NOSELECT);
	}
	assert_int_equal(selectable, n_boxes);
	mailbox_info_free(list, n);

	/* the bytes, CRLF again */
	struct mailbox *box;
	struct mail_data md;
	assert_int_equal(mailbox_open(u, "INBOX", true, &box), 0);
	assert_int_equal(mailbox_msg_open(box, 1, &md), 0);
	assert_int_equal(md.len, 103);
	assert_non_null(strstr(md.data, "Subject: test 1\r\n"));
	mail_data_release(&md);
	mailbox_close(box);
	mail_user_unref(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_dovecot_maildir),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
