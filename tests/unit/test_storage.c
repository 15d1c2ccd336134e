/* LIBS: om_storage om_lib */
/* The storage API on the maildir driver, in a temporary directory: what
 * lands on disk must be what Dovecot 2.3 writes and reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth/passdb.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

static char tmpdir[256];
static struct om_config cfg;

static const char msg1[] = "From: a@example.com\r\nSubject: one\r\n\r\nbody line\r\nsecond\r\n";

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/om-test-storage.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	config_defaults(&cfg);
	free(cfg.mail_location);
	struct buf b = BUF_INIT;
	buf_printf(&b, "maildir:%s/%%d/%%n/Maildir", tmpdir);
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

static char *read_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *read_text(const char *fmt, ...)
{
	char path[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	buf_append(&b, "", 0);
	return buf_steal(&b);
}

/* The single file in DIR (cur or new), or NULL. */
static char *only_file(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *only_file(const char *fmt, ...)
{
	char path[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	DIR *d = opendir(path);
	if (d == NULL)
		return NULL;
	struct dirent *de;
	char *found = NULL;
	int n = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		free(found);
		found = strdup(de->d_name);
	}
	closedir(d);
	if (n != 1) {
		free(found);
		return NULL;
	}
	return found;
}

static struct mail_user *open_user(const char *name)
{
	struct mail_user *u = NULL;
	assert_int_equal(mail_user_open(&cfg, name, NULL, &u), 0);
	return u;
}

static uint32_t append(struct mail_user *u, const char *box, const char *data, uint32_t flags,
		       const char *const *kws, size_t n_kws)
{
	struct mail_save s = { .data = data, .len = strlen(data), .flags = flags,
			       .keywords = kws, .n_keywords = n_kws, .internal_date = 1700000000 };
	uint32_t uidv = 0, uid = 0;
	assert_int_equal(mailbox_append(u, box, &s, &uidv, &uid), 0);
	assert_true(uidv != 0);
	return uid;
}

static struct mailbox_snapshot *sync_box(struct mail_user *u, const char *name, bool ro)
{
	struct mailbox *box;
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_open(u, name, ro, &box), 0);
	assert_int_equal(mailbox_sync(box, &snap), 0);
	mailbox_close(box);
	return snap;
}

static void test_first_use(void **state)
{
	(void)state;
	struct mail_user *u = open_user("first@example.com");
	struct mail_user *u2 = open_user("first@example.com");
	assert_ptr_equal(u, u2);
	mail_user_unref(u2);

	struct mailbox_info *list;
	size_t n;
	assert_int_equal(mail_user_list_mailboxes(u, &list, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(list[0].name, "INBOX");
	assert_string_equal(list[1].name, "Drafts");
	assert_true(list[1].flags & MBOX_SPECIAL_DRAFTS);
	assert_string_equal(list[2].name, "Junk");
	assert_true(list[2].flags & MBOX_SPECIAL_JUNK);
	assert_string_equal(list[3].name, "Sent");
	assert_true(list[3].flags & MBOX_SPECIAL_SENT);
	assert_string_equal(list[4].name, "Trash");
	assert_true(list[4].flags & MBOX_SPECIAL_TRASH);
	for (size_t i = 0; i < n; i++) {
		assert_true(list[i].flags & MBOX_SUBSCRIBED);
		assert_true(list[i].flags & MBOX_HASNOCHILDREN);
	}
	mailbox_info_free(list, n);

	char *subs = read_text("%s/example.com/first/Maildir/subscriptions", tmpdir);
	assert_non_null(subs);
	assert_string_equal(subs, "V\t2\n\nDrafts\nINBOX\nJunk\nSent\nTrash\n");
	free(subs);
	char *mf = read_text("%s/example.com/first/Maildir/.Sent/maildirfolder", tmpdir);
	assert_non_null(mf);
	free(mf);
	char *ul = read_text("%s/example.com/first/Maildir/.Sent/dovecot-uidlist", tmpdir);
	assert_non_null(ul);
	assert_int_equal(strncmp(ul, "3 V", 3), 0);
	assert_non_null(strstr(ul, " N1 G"));
	free(ul);

	struct mailbox_status st;
	assert_int_equal(mail_user_mailbox_status(u, "inbox", &st), 0);
	assert_int_equal(st.messages, 0);
	assert_true(st.uidvalidity != 0);
	assert_int_equal(st.uidnext, 1);
	mail_user_unref(u);
}

static void test_append_on_disk(void **state)
{
	(void)state;
	struct mail_user *u = open_user("app");
	const char *kws[] = { "$Label1", "Junk" };
	uint32_t uid = append(u, "INBOX", msg1, MAIL_SEEN | MAIL_FLAGGED, kws, 2);
	assert_int_equal(uid, 1);
	uint32_t uid2 = append(u, "INBOX", "Subject: two\n\nlf only\n", 0, NULL, 0);
	assert_int_equal(uid2, 2);

	char *cur = only_file("%s/app/Maildir/cur", tmpdir);
	assert_non_null(cur);
	size_t lf_len = strlen(msg1) - 5; /* five CRLFs */
	char want[128];
	snprintf(want, sizeof(want), ",S=%zu,W=%zu:2,FSab", lf_len, strlen(msg1));
	assert_non_null(strstr(cur, want));
	char *data = read_text("%s/app/Maildir/cur/%s", tmpdir, cur);
	assert_non_null(data);
	assert_null(strchr(data, '\r'));
	assert_int_equal(strlen(data), lf_len);
	free(data);
	char *newf = only_file("%s/app/Maildir/new", tmpdir);
	assert_non_null(newf);
	assert_null(strchr(newf, ':'));

	char *kw = read_text("%s/app/Maildir/dovecot-keywords", tmpdir);
	assert_string_equal(kw, "0 $Label1\n1 Junk\n");
	free(kw);
	char *ul = read_text("%s/app/Maildir/dovecot-uidlist", tmpdir);
	assert_non_null(ul);
	char line[256];
	snprintf(line, sizeof(line), "\n1 :%.*s\n", (int)(strstr(cur, ":2,") - cur), cur);
	assert_non_null(strstr(ul, line));
	snprintf(line, sizeof(line), "\n2 :%s\n", newf);
	assert_non_null(strstr(ul, line));
	free(ul);

	/* served with CRLF, identical to what was appended */
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	struct mail_data md;
	assert_int_equal(mailbox_msg_open(box, 1, &md), 0);
	assert_int_equal(md.len, strlen(msg1));
	assert_memory_equal(md.data, msg1, md.len);
	mail_data_release(&md);
	assert_int_equal(mailbox_msg_open(box, 2, &md), 0);
	assert_string_equal(md.data, "Subject: two\r\n\r\nlf only\r\n");
	mail_data_release(&md);
	assert_int_equal(mailbox_msg_open(box, 3, &md), -OM_ENOTFOUND);

	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(box, &snap), 0);
	assert_int_equal(snap->count, 2);
	assert_int_equal(snap->recs[0].flags, MAIL_SEEN | MAIL_FLAGGED);
	assert_int_equal(snap->recs[0].keywords, 3);
	assert_int_equal(snap->recs[0].size, strlen(msg1));
	assert_int_equal(snap->recs[0].internal_date, 1700000000);
	assert_int_equal(snap->n_keywords, 2);
	assert_string_equal(snap->keywords[0], "$Label1");
	assert_string_equal(snap->keywords[1], "Junk");
	assert_string_not_equal(snap->recs[0].guid, snap->recs[1].guid);
	mailbox_snapshot_free(snap);

	/* cache */
	struct buf out = BUF_INIT;
	assert_int_equal(mailbox_cache_get(box, 1, "envelope", &out), -OM_ENOTFOUND);
	mailbox_cache_put(box, 1, "envelope", "(NIL)", 5);
	assert_int_equal(mailbox_cache_get(box, 1, "envelope", &out), 0);
	assert_string_equal(out.data, "(NIL)");
	buf_free(&out);
	mailbox_close(box);
	free(cur);
	free(newf);
	mail_user_unref(u);
}

static void test_external_changes(void **state)
{
	(void)state;
	struct mail_user *u = open_user("ext");
	append(u, "INBOX", msg1, 0, NULL, 0);
	struct mailbox_snapshot *snap = sync_box(u, "INBOX", false);
	assert_int_equal(snap->count, 1);
	uint64_t modseq = snap->highest_modseq;
	mailbox_snapshot_free(snap);

	/* another MUA delivers into new/ (no S=/W=) */
	char path[1024];
	snprintf(path, sizeof(path), "%s/ext/Maildir/new/1700000001.12345_0.otherhost", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("Subject: x\n\nhello\n", f);
	fclose(f);
	/* and Dovecot (or mutt) marks the first one seen+answered */
	char *name = only_file("%s/ext/Maildir/new", tmpdir);
	assert_null(name); /* two files now */
	DIR *d;
	struct dirent *de;
	char oldp[1024], newp[1024];
	snprintf(oldp, sizeof(oldp), "%s/ext/Maildir/new", tmpdir);
	d = opendir(oldp);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ",S=") != NULL) {
			snprintf(oldp, sizeof(oldp), "%s/ext/Maildir/new/%s", tmpdir, de->d_name);
			snprintf(newp, sizeof(newp), "%s/ext/Maildir/cur/%s:2,RS", tmpdir, de->d_name);
			break;
		}
	}
	closedir(d);
	assert_int_equal(rename(oldp, newp), 0);

	snap = sync_box(u, "INBOX", false);
	assert_int_equal(snap->count, 2);
	assert_int_equal(snap->recs[0].uid, 1);
	assert_int_equal(snap->recs[0].flags, MAIL_SEEN | MAIL_ANSWERED);
	assert_int_equal(snap->recs[1].uid, 2);
	assert_int_equal(snap->recs[1].size, strlen("Subject: x\r\n\r\nhello\r\n"));
	assert_true(snap->highest_modseq > modseq);
	assert_true(snap->recs[0].modseq > modseq);
	mailbox_snapshot_free(snap);
	char *ul = read_text("%s/ext/Maildir/dovecot-uidlist", tmpdir);
	assert_non_null(strstr(ul, "\n2 :1700000001.12345_0.otherhost\n"));
	free(ul);

	/* a file vanishes: an expunge */
	assert_int_equal(unlink(newp), 0);
	snap = sync_box(u, "INBOX", false);
	assert_int_equal(snap->count, 1);
	assert_int_equal(snap->recs[0].uid, 2);
	assert_int_equal(snap->uidnext, 3);
	mailbox_snapshot_free(snap);

	/* Dovecot's "<flags>,<fields>" survive our flag changes */
	append(u, "INBOX", msg1, MAIL_FLAGGED, NULL, 0);
	char *cur = only_file("%s/ext/Maildir/cur", tmpdir);
	assert_non_null(cur);
	snprintf(oldp, sizeof(oldp), "%s/ext/Maildir/cur/%s", tmpdir, cur);
	snprintf(newp, sizeof(newp), "%s/ext/Maildir/cur/%s,custom", tmpdir, cur);
	assert_int_equal(rename(oldp, newp), 0);
	free(cur);
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	uint32_t uid3[] = { 3 };
	struct mail_rec *recs;
	size_t n;
	assert_int_equal(mailbox_store(box, uid3, 1, MAIL_FLAGS_ADD, MAIL_SEEN, NULL, 0, &recs, &n), 0);
	assert_int_equal(n, 1);
	free(recs);
	mailbox_close(box);
	cur = only_file("%s/ext/Maildir/cur", tmpdir);
	assert_non_null(cur);
	assert_non_null(strstr(cur, ":2,FS,custom"));
	free(cur);
	mail_user_unref(u);
}

static void test_store_expunge_copy_move(void **state)
{
	(void)state;
	struct mail_user *u = open_user("sec");
	for (int i = 0; i < 4; i++)
		append(u, "INBOX", msg1, 0, NULL, 0);
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(box, &snap), 0);
	uint64_t modseq = snap->highest_modseq;
	mailbox_snapshot_free(snap);

	uint32_t uids[] = { 1, 2, 9 };
	const char *kws[] = { "Work" };
	struct mail_rec *recs;
	size_t n;
	assert_int_equal(mailbox_store(box, uids, 3, MAIL_FLAGS_ADD, MAIL_SEEN | MAIL_DELETED, kws, 1,
				       &recs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(recs[0].flags, MAIL_SEEN | MAIL_DELETED);
	assert_int_equal(recs[0].keywords, 1);
	assert_true(recs[0].modseq > modseq);
	free(recs);
	char *kwf = read_text("%s/sec/Maildir/dovecot-keywords", tmpdir);
	assert_string_equal(kwf, "0 Work\n");
	free(kwf);
	assert_int_equal(mailbox_store(box, uids, 1, MAIL_FLAGS_REMOVE, MAIL_DELETED, NULL, 0, &recs, &n), 0);
	assert_int_equal(recs[0].flags, MAIL_SEEN);
	free(recs);
	/* bad keyword */
	const char *bad[] = { "a b" };
	assert_int_equal(mailbox_store(box, uids, 1, MAIL_FLAGS_ADD, 0, bad, 1, &recs, &n), -OM_EINVAL);

	uint32_t ex[] = { 2 };
	assert_int_equal(mailbox_expunge(box, ex, 1), 0);
	uint32_t cp[] = { 1, 2, 3 };
	uint32_t uidv, *su, *du;
	assert_int_equal(mailbox_copy(box, cp, 3, "Trash", false, &uidv, &su, &du, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(su[0], 1);
	assert_int_equal(du[0], 1);
	assert_int_equal(su[1], 3);
	assert_int_equal(du[1], 2);
	free(su);
	free(du);
	assert_int_equal(mailbox_copy(box, cp, 1, "Nope", false, &uidv, &su, &du, &n), -OM_ENOTFOUND);
	uint32_t mv[] = { 3, 4 };
	assert_int_equal(mailbox_copy(box, mv, 2, "Sent", true, &uidv, &su, &du, &n), 0);
	assert_int_equal(n, 2);
	free(su);
	free(du);
	assert_int_equal(mailbox_sync(box, &snap), 0);
	assert_int_equal(snap->count, 1);
	assert_int_equal(snap->recs[0].uid, 1);
	mailbox_snapshot_free(snap);
	mailbox_close(box);

	snap = sync_box(u, "Trash", false);
	assert_int_equal(snap->count, 2);
	assert_int_equal(snap->recs[0].flags, MAIL_SEEN);
	assert_int_equal(snap->n_keywords, 1);
	assert_int_equal(snap->recs[0].keywords, 1);
	assert_int_equal(snap->recent_lo, 1);
	assert_int_equal(snap->recent_hi, 3);
	mailbox_snapshot_free(snap);
	char *kwt = read_text("%s/sec/Maildir/.Trash/dovecot-keywords", tmpdir);
	assert_string_equal(kwt, "0 Work\n");
	free(kwt);
	snap = sync_box(u, "Sent", false);
	assert_int_equal(snap->count, 2);
	mailbox_snapshot_free(snap);

	/* read-only: no flag changes */
	assert_int_equal(mailbox_open(u, "Sent", true, &box), 0);
	assert_int_equal(mailbox_store(box, uids, 1, MAIL_FLAGS_ADD, MAIL_SEEN, NULL, 0, &recs, &n), -OM_EPERM);
	mailbox_close(box);
	mail_user_unref(u);
}

static void test_recent_once(void **state)
{
	(void)state;
	struct mail_user *u = open_user("rec");
	append(u, "INBOX", msg1, 0, NULL, 0);
	append(u, "INBOX", msg1, 0, NULL, 0);
	struct mailbox_status st;
	assert_int_equal(mail_user_mailbox_status(u, "INBOX", &st), 0);
	assert_int_equal(st.recent, 2);
	assert_int_equal(st.unseen, 2);
	struct mailbox_snapshot *snap = sync_box(u, "INBOX", true);
	assert_int_equal(snap->recent_lo, snap->recent_hi);
	mailbox_snapshot_free(snap);
	snap = sync_box(u, "INBOX", false);
	assert_int_equal(snap->recent_lo, 1);
	assert_int_equal(snap->recent_hi, 3);
	mailbox_snapshot_free(snap);
	snap = sync_box(u, "INBOX", false);
	assert_int_equal(snap->recent_lo, snap->recent_hi);
	mailbox_snapshot_free(snap);
	append(u, "INBOX", msg1, 0, NULL, 0);
	snap = sync_box(u, "INBOX", false);
	assert_int_equal(snap->recent_lo, 3);
	assert_int_equal(snap->recent_hi, 4);
	mailbox_snapshot_free(snap);
	assert_int_equal(mail_user_mailbox_status(u, "INBOX", &st), 0);
	assert_int_equal(st.recent, 0);
	assert_int_equal(st.messages, 3);
	mail_user_unref(u);
}

static void test_mailbox_ops(void **state)
{
	(void)state;
	struct mail_user *u = open_user("ops");
	assert_int_equal(mail_user_create_mailbox(u, "Archive/2024/Q1", 0), 0);
	assert_int_equal(mail_user_create_mailbox(u, "Archive", 0), -OM_EEXISTS);
	assert_int_equal(mail_user_create_mailbox(u, "Entwürfe", MBOX_SPECIAL_ARCHIVE), 0);
	struct stat st;
	char p[1024];
	snprintf(p, sizeof(p), "%s/ops/Maildir/.Entw&APw-rfe/cur", tmpdir);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/ops/Maildir/.Archive.2024.Q1/maildirfolder", tmpdir);
	assert_int_equal(stat(p, &st), 0);
	append(u, "Archive/2024", msg1, MAIL_SEEN, NULL, 0);

	assert_int_equal(mail_user_rename_mailbox(u, "Archive", "Old/Arch"), 0);
	snprintf(p, sizeof(p), "%s/ops/Maildir/.Old.Arch.2024.Q1/cur", tmpdir);
	assert_int_equal(stat(p, &st), 0);
	struct mailbox_status ms;
	assert_int_equal(mail_user_mailbox_status(u, "Old/Arch/2024", &ms), 0);
	assert_int_equal(ms.messages, 1);
	assert_int_equal(mail_user_mailbox_status(u, "Archive/2024", &ms), -OM_ENOTFOUND);
	assert_int_equal(mail_user_rename_mailbox(u, "Old/Arch", "Old/Arch/x"), -OM_EINVAL);
	assert_int_equal(mail_user_rename_mailbox(u, "Old/Arch", "Sent"), -OM_EEXISTS);
	assert_int_equal(mail_user_rename_mailbox(u, "Nope", "Nope2"), -OM_ENOTFOUND);

	struct mailbox_info *list;
	size_t n;
	assert_int_equal(mail_user_list_mailboxes(u, &list, &n), 0);
	bool saw_old = false, saw_arch = false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].name, "Old") == 0) {
			/* RENAME creates the superiors it needs (RFC 3501 6.3.5) */
			saw_old = true;
			assert_false(list[i].flags & MBOX_NOSELECT);
			assert_true(list[i].flags & MBOX_HASCHILDREN);
		}
		if (strcmp(list[i].name, "Old/Arch") == 0) {
			saw_arch = true;
			assert_false(list[i].flags & MBOX_NOSELECT);
		}
		if (strcmp(list[i].name, "Entwürfe") == 0)
			assert_true(list[i].flags & MBOX_SPECIAL_ARCHIVE);
	}
	mailbox_info_free(list, n);
	assert_true(saw_old && saw_arch);
	struct mailbox *box;

	/* delete with a child: the child stays, the parent becomes \Noselect */
	assert_int_equal(mail_user_delete_mailbox(u, "Old/Arch/2024"), 0);
	assert_int_equal(mail_user_mailbox_status(u, "Old/Arch/2024", &ms), -OM_EPERM);
	assert_int_equal(mailbox_open(u, "Old/Arch/2024", false, &box), -OM_EPERM);
	assert_int_equal(mail_user_delete_mailbox(u, "Old/Arch/2024"), -OM_ENOTEMPTY);
	assert_int_equal(mail_user_list_mailboxes(u, &list, &n), 0);
	bool noselect = false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].name, "Old/Arch/2024") == 0)
			noselect = (list[i].flags & MBOX_NOSELECT) && (list[i].flags & MBOX_HASCHILDREN);
	}
	mailbox_info_free(list, n);
	assert_true(noselect);
	assert_int_equal(mail_user_mailbox_status(u, "Old/Arch/2024/Q1", &ms), 0);
	assert_int_equal(mail_user_delete_mailbox(u, "INBOX"), -OM_EPERM);
	assert_int_equal(mail_user_delete_mailbox(u, "Nope"), -OM_ENOTFOUND);

	/* INBOX rename: messages move, INBOX stays, empty */
	append(u, "INBOX", msg1, MAIL_FLAGGED, NULL, 0);
	append(u, "INBOX", msg1, 0, NULL, 0);
	assert_int_equal(mail_user_rename_mailbox(u, "inbox", "Saved"), 0);
	assert_int_equal(mail_user_mailbox_status(u, "INBOX", &ms), 0);
	assert_int_equal(ms.messages, 0);
	assert_int_equal(ms.uidnext, 3);
	struct mailbox_snapshot *snap = sync_box(u, "Saved", false);
	assert_int_equal(snap->count, 2);
	assert_int_equal(snap->recs[0].flags, MAIL_FLAGGED);
	mailbox_snapshot_free(snap);

	/* subscriptions */
	assert_int_equal(mail_user_subscribe(u, "Entwürfe", true), 0);
	assert_int_equal(mail_user_subscribe(u, "Old/Arch/2024/Q1", true), 0);
	assert_int_equal(mail_user_subscribe(u, "Trash", false), 0);
	char *subs = read_text("%s/ops/Maildir/subscriptions", tmpdir);
	assert_string_equal(subs, "V\t2\n\nDrafts\nEntw&APw-rfe\nINBOX\nJunk\nOld\tArch\t2024\tQ1\nSent\n");
	free(subs);
	char **names;
	assert_int_equal(mail_user_list_subscriptions(u, &names, &n), 0);
	assert_int_equal(n, 6);
	mail_names_free(names, n);
	mail_user_unref(u);
}

static void test_hostile_names(void **state)
{
	(void)state;
	struct mail_user *u = open_user("hostile");
	static const char *const bad[] = {
		"../x", "a//b", "", "/a", "a/", "a/../b", ".", "..", "a\nb", "a\tb", "a\x7f",
		"a.b", "~x", "\xff\xfe", "a/./b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mail_user_create_mailbox(u, bad[i], 0), -OM_EINVAL);
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(mail_user_create_mailbox(u, longname, 0), -OM_EINVAL);
	struct mail_user *x = NULL;
	assert_int_equal(mail_user_open(&cfg, "../evil", NULL, &x), -OM_EINVAL);
	assert_int_equal(mail_user_open(&cfg, "a/b", NULL, &x), -OM_EINVAL);
	assert_int_equal(mail_user_open(&cfg, "", NULL, &x), -OM_EINVAL);
	assert_null(x);
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "../../etc", false, &box), -OM_EINVAL);
	mail_user_unref(u);
}

static void test_quota_and_limits(void **state)
{
	(void)state;
	struct passdb_user pu = { .user = (char *)"quota", .quota = 150, .quota_set = true };
	struct mail_user *u = NULL;
	assert_int_equal(mail_user_open(&cfg, "quota", &pu, &u), 0);
	append(u, "INBOX", msg1, 0, NULL, 0);
	uint64_t used, limit;
	assert_int_equal(mail_user_quota(u, &used, &limit), 0);
	assert_int_equal(used, strlen(msg1));
	assert_int_equal(limit, 150);
	struct mail_save s = { .data = msg1, .len = strlen(msg1) };
	uint32_t uidv, uid;
	assert_int_equal(mailbox_append(u, "INBOX", &s, &uidv, &uid), 0);
	assert_int_equal(mailbox_append(u, "INBOX", &s, &uidv, &uid), -OM_EQUOTA);
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	uint32_t uids[] = { 1 };
	uint32_t *su, *du;
	size_t n;
	assert_int_equal(mailbox_copy(box, uids, 1, "Trash", false, &uidv, &su, &du, &n), -OM_EQUOTA);
	/* a move doesn't grow usage */
	assert_int_equal(mailbox_copy(box, uids, 1, "Trash", true, &uidv, &su, &du, &n), 0);
	free(su);
	free(du);
	mailbox_close(box);
	mail_user_unref(u);

	/* mail_max_size */
	uint64_t old = cfg.mail_max_size;
	cfg.mail_max_size = 10;
	u = open_user("small");
	assert_int_equal(mailbox_append(u, "INBOX", &s, &uidv, &uid), -OM_ELIMIT);
	cfg.mail_max_size = old;
	/* keyword limit of Maildir: 26 letters */
	char kwbuf[30][8];
	const char *kws[30];
	for (int i = 0; i < 30; i++) {
		snprintf(kwbuf[i], sizeof(kwbuf[i]), "k%d", i);
		kws[i] = kwbuf[i];
	}
	struct mail_save s2 = { .data = "x\n", .len = 2, .keywords = kws, .n_keywords = 30 };
	assert_int_equal(mailbox_append(u, "INBOX", &s2, &uidv, &uid), -OM_ELIMIT);
	s2.n_keywords = 26;
	assert_int_equal(mailbox_append(u, "INBOX", &s2, &uidv, &uid), 0);
	mail_user_unref(u);
}

static int watch_calls;
static void on_change(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&watch_calls, 1, __ATOMIC_SEQ_CST);
}

static void test_watchers(void **state)
{
	(void)state;
	struct mail_user *u = open_user("watch");
	struct mail_watch *w_inbox = mail_user_watch(u, "INBOX", on_change, NULL);
	struct mail_watch *w_sent = mail_user_watch(u, "Sent", on_change, NULL);
	watch_calls = 0;
	append(u, "INBOX", msg1, 0, NULL, 0);
	assert_int_equal(watch_calls, 1);
	mail_user_unwatch(w_sent);
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	uint32_t uids[] = { 1 };
	struct mail_rec *recs;
	size_t n;
	assert_int_equal(mailbox_store(box, uids, 1, MAIL_FLAGS_ADD, MAIL_SEEN, NULL, 0, &recs, &n), 0);
	free(recs);
	assert_int_equal(watch_calls, 2);
	assert_int_equal(mailbox_expunge(box, uids, 1), 0);
	assert_int_equal(watch_calls, 3);
	mailbox_close(box);
	mail_user_unwatch(w_inbox);
	append(u, "INBOX", msg1, 0, NULL, 0);
	assert_int_equal(watch_calls, 3);
	mail_user_unref(u);
}

#define THREADS 4
#define PER_THREAD 25

static void *append_thread(void *arg)
{
	struct mail_user *u = NULL;
	if (mail_user_open(&cfg, arg, NULL, &u) != 0)
		return (void *)1;
	for (int i = 0; i < PER_THREAD; i++) {
		struct mail_save s = { .data = msg1, .len = strlen(msg1) };
		uint32_t uidv, uid;
		if (mailbox_append(u, "INBOX", &s, &uidv, &uid) != 0) {
			mail_user_unref(u);
			return (void *)1;
		}
		if (i % 5 == 0) {
			struct mailbox *box;
			struct mailbox_snapshot *snap;
			if (mailbox_open(u, "INBOX", false, &box) == 0) {
				if (mailbox_sync(box, &snap) == 0)
					mailbox_snapshot_free(snap);
				mailbox_close(box);
			}
		}
	}
	mail_user_unref(u);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct mail_user *u = open_user("threads");
	watch_calls = 0;
	struct mail_watch *w = mail_user_watch(u, NULL, on_change, NULL);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, append_thread, (void *)"threads"), 0);
	for (int i = 0; i < THREADS; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	mail_user_unwatch(w);
	assert_int_equal(watch_calls, THREADS * PER_THREAD);
	struct mailbox_snapshot *snap = sync_box(u, "INBOX", false);
	assert_int_equal(snap->count, THREADS * PER_THREAD);
	for (size_t i = 0; i < snap->count; i++)
		assert_int_equal(snap->recs[i].uid, i + 1);
	mailbox_snapshot_free(snap);
	mail_user_unref(u);

	/* first opens racing on a user nobody has opened yet */
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, append_thread, (void *)"race"), 0);
	for (int i = 0; i < THREADS; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	u = open_user("race");
	snap = sync_box(u, "INBOX", false);
	assert_int_equal(snap->count, THREADS * PER_THREAD);
	mailbox_snapshot_free(snap);
	mail_user_unref(u);
}

static void test_index_rebuild(void **state)
{
	(void)state;
	struct mail_user *u = open_user("rebuild");
	const char *kws[] = { "$Forwarded", "NonJunk" };
	append(u, "INBOX", msg1, MAIL_SEEN, kws, 2);
	append(u, "INBOX", msg1, MAIL_DRAFT, kws + 1, 1);
	append(u, "INBOX", msg1, 0, NULL, 0);
	assert_int_equal(mail_user_create_mailbox(u, "Lists/Dev", 0), 0);
	append(u, "Lists/Dev", msg1, MAIL_ANSWERED, NULL, 0);
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	uint32_t ex[] = { 1 };
	assert_int_equal(mailbox_expunge(box, ex, 1), 0);
	struct mailbox_snapshot *before;
	assert_int_equal(mailbox_sync(box, &before), 0);
	mailbox_close(box);
	struct mailbox_status dev1;
	assert_int_equal(mail_user_mailbox_status(u, "Lists/Dev", &dev1), 0);
	mail_user_unref(u);

	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "rm -f %s/rebuild/Maildir/objmail-index.sqlite*", tmpdir);
	assert_int_equal(system(cmd), 0);

	u = open_user("rebuild");
	struct mailbox_snapshot *after = sync_box(u, "INBOX", false);
	assert_int_equal(after->uidvalidity, before->uidvalidity);
	assert_int_equal(after->uidnext, before->uidnext);
	assert_int_equal(after->count, before->count);
	assert_int_equal(after->n_keywords, 2);
	for (size_t i = 0; i < after->count; i++) {
		assert_int_equal(after->recs[i].uid, before->recs[i].uid);
		assert_int_equal(after->recs[i].flags, before->recs[i].flags);
		assert_int_equal(after->recs[i].size, before->recs[i].size);
		assert_int_equal(after->recs[i].internal_date, before->recs[i].internal_date);
		assert_string_equal(after->recs[i].guid, before->recs[i].guid);
		/* keyword bits by name */
		for (size_t k = 0; k < 64; k++) {
			if (after->recs[i].keywords & (UINT64_C(1) << k)) {
				bool found = false;
				for (size_t j = 0; j < before->n_keywords; j++) {
					if (strcmp(before->keywords[j], after->keywords[k]) == 0)
						found = (before->recs[i].keywords >> j) & 1;
				}
				assert_true(found);
			}
		}
	}
	/* nothing already there turns \Recent after a rebuild */
	assert_int_equal(after->recent_lo, after->recent_hi);
	mailbox_snapshot_free(after);
	mailbox_snapshot_free(before);
	struct mailbox_status dev2;
	assert_int_equal(mail_user_mailbox_status(u, "Lists/Dev", &dev2), 0);
	assert_int_equal(dev2.uidvalidity, dev1.uidvalidity);
	assert_int_equal(dev2.messages, 1);
	struct mailbox_info *list;
	size_t n;
	assert_int_equal(mail_user_list_mailboxes(u, &list, &n), 0);
	bool sent_special = false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].name, "Sent") == 0)
			sent_special = (list[i].flags & MBOX_SPECIAL_SENT) && (list[i].flags & MBOX_SUBSCRIBED);
	}
	assert_true(sent_special);
	mailbox_info_free(list, n);
	mail_user_unref(u);

	/* a damaged index is set aside and rebuilt */
	snprintf(cmd, sizeof(cmd), "rm -f %s/rebuild/Maildir/objmail-index.sqlite-* && "
		 "head -c 8192 /dev/urandom > %s/rebuild/Maildir/objmail-index.sqlite", tmpdir, tmpdir);
	assert_int_equal(system(cmd), 0);
	u = open_user("rebuild");
	assert_int_equal(mail_user_mailbox_status(u, "Lists/Dev", &dev2), 0);
	assert_int_equal(dev2.uidvalidity, dev1.uidvalidity);
	assert_int_equal(dev2.messages, 1);
	mail_user_unref(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_use),
		cmocka_unit_test(test_append_on_disk),
		cmocka_unit_test(test_external_changes),
		cmocka_unit_test(test_store_expunge_copy_move),
		cmocka_unit_test(test_recent_once),
		cmocka_unit_test(test_mailbox_ops),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_quota_and_limits),
		cmocka_unit_test(test_watchers),
		cmocka_unit_test(test_index_rebuild),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
