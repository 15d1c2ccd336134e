/* objmail export maildir USER PATH: USER's mail as a Dovecot 2.x Maildir++
 * (what `import maildir` and Dovecot read): UIDVALIDITY, UIDs and UIDNEXT in
 * each dovecot-uidlist, keywords in dovecot-keywords, flags in the file
 * names, internal dates as file mtimes, subscriptions. Messages are stored
 * with LF line ends (S= on-disk size, W= CRLF size, as Dovecot). PATH must
 * not hold a Maildir already. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli-mail.h"
#include "cli/import.h"
#include "lib/om-error.h"
#include "storage/maildir/maildir.h"

static int write_file(const char *path, const char *data, size_t len, int64_t mtime)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -OM_EIO;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n <= 0) {
			close(fd);
			return -OM_EIO;
		}
		off += (size_t)n;
	}
	if (mtime != 0) {
		struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
		(void)futimens(fd, ts);
	}
	return close(fd) == 0 ? 0 : -OM_EIO;
}

static int make_dirs(const char *dir, bool folder)
{
	static const char *const subs[] = { "", "/cur", "/new", "/tmp" };
	for (size_t i = 0; i < 4; i++) {
		struct buf p = BUF_INIT;
		buf_printf(&p, "%s%s", dir, subs[i]);
		int r = mkdir(p.data, 0700);
		buf_free(&p);
		if (r < 0 && errno != EEXIST)
			return -OM_EIO;
	}
	if (folder) {
		struct buf p = BUF_INIT;
		buf_printf(&p, "%s/maildirfolder", dir);
		int fd = open(p.data, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		buf_free(&p);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

static void to_lf(const char *s, size_t len, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
			continue;
		buf_append_c(out, s[i]);
	}
}

static int export_box(struct mail_user *user, const char *name, const char *root,
		      struct import_stats *st, struct cli_progress *prog, struct buf *err)
{
	struct buf dir = BUF_INIT, ul = BUF_INIT, kw = BUF_INIT, lf = BUF_INIT, fn = BUF_INIT,
		   path = BUF_INIT;
	struct mailbox *box = NULL;
	struct mailbox_snapshot *snap = NULL;
	int ret = maildir_name_to_dir(root, name, &dir);
	if (ret < 0) {
		buf_printf(err, "user %s, mailbox %s: no Maildir++ name for it", mail_user_name(user),
			   name);
		goto out;
	}
	ret = make_dirs(dir.data, strcmp(name, "INBOX") != 0);
	if (ret < 0) {
		buf_printf(err, "user %s, mailbox %s: creating %s: %s", mail_user_name(user), name,
			   dir.data, strerror(errno));
		goto out;
	}
	ret = mailbox_open(user, name, true, &box);
	if (ret == 0)
		ret = mailbox_sync(box, &snap);
	if (ret < 0) {
		buf_printf(err, "user %s, mailbox %s: opening: %s", mail_user_name(user), name,
			   om_strerror(ret));
		goto out;
	}
	cli_progress_grow(prog, snap->count);
	char guid[33];
	maildir_guid_random(guid);
	buf_printf(&ul, "3 V%u N%u G%s\n", snap->uidvalidity, snap->uidnext, guid);
	for (size_t k = 0; k < snap->n_keywords && k < MAILDIR_MAX_KEYWORDS; k++)
		buf_printf(&kw, "%zu %s\n", k, snap->keywords[k]);
	time_t now = time(NULL);
	for (size_t i = 0; i < snap->count; i++) {
		const struct mail_rec *rec = &snap->recs[i];
		struct mail_data md;
		ret = mailbox_msg_open(box, rec->uid, &md);
		if (ret == -OM_ENOTFOUND) {
			ret = 0;
			continue;
		}
		if (ret < 0) {
			buf_printf(err, "user %s, mailbox %s, UID %u: reading: %s",
				   mail_user_name(user), name, rec->uid, om_strerror(ret));
			goto out;
		}
		to_lf(md.data, md.len, &lf);
		mail_data_release(&md);
		uint32_t letters = 0;
		for (size_t k = 0; k < snap->n_keywords && k < MAILDIR_MAX_KEYWORDS; k++)
			if ((rec->keywords & (UINT64_C(1) << k)) != 0)
				letters |= 1u << k;
		buf_reset(&fn);
		buf_printf(&fn, "%lld.M%zuP%d.objmail-export,S=%zu,W=%llu", (long long)now, i,
			   (int)getpid(), lf.len, (unsigned long long)rec->size);
		char *base = om_strdup(fn.data);
		buf_reset(&fn);
		maildir_filename_build(&fn, base, strlen(base), rec->flags & MAIL_FLAGS_STORED,
				       letters, NULL);
		buf_reset(&path);
		buf_printf(&path, "%s/cur/%s", dir.data, fn.data);
		ret = write_file(path.data, lf.data != NULL ? lf.data : "", lf.len,
				 rec->internal_date);
		if (ret == 0)
			buf_printf(&ul, "%u :%s\n", rec->uid, base);
		free(base);
		if (ret < 0) {
			buf_printf(err, "user %s, mailbox %s, UID %u: writing %s: %s",
				   mail_user_name(user), name, rec->uid, path.data, strerror(errno));
			goto out;
		}
		st->messages++;
		cli_progress_add(prog, 1);
		if (cli_progress_cancelled(prog)) {
			buf_printf(err, "user %s, mailbox %s: " IMPORT_CANCELLED,
				   mail_user_name(user), name);
			ret = -OM_EIO;
			goto out;
		}
	}
	buf_reset(&path);
	buf_printf(&path, "%s/" MAILDIR_UIDLIST, dir.data);
	ret = write_file(path.data, ul.data, ul.len, 0);
	if (ret == 0 && kw.len > 0) {
		buf_reset(&path);
		buf_printf(&path, "%s/" MAILDIR_KEYWORDS, dir.data);
		ret = write_file(path.data, kw.data, kw.len, 0);
	}
	if (ret < 0)
		buf_printf(err, "user %s, mailbox %s: writing %s: %s", mail_user_name(user), name,
			   path.data, strerror(errno));
	st->mailboxes++;
out:
	if (snap != NULL)
		mailbox_snapshot_free(snap);
	if (box != NULL)
		mailbox_close(box);
	buf_free(&dir);
	buf_free(&ul);
	buf_free(&kw);
	buf_free(&lf);
	buf_free(&fn);
	buf_free(&path);
	return ret;
}

int export_maildir(struct mail_user *user, const char *path, struct import_stats *st,
		   struct buf *err)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/cur", path);
	struct stat sb;
	bool exists = stat(p.data, &sb) == 0;
	buf_free(&p);
	if (exists) {
		buf_printf(err, "user %s: %s holds a Maildir already", mail_user_name(user), path);
		return -OM_EEXISTS;
	}
	struct mailbox_info *list;
	size_t n;
	int ret = mail_user_list_mailboxes(user, &list, &n);
	if (ret < 0) {
		buf_printf(err, "user %s: listing mailboxes: %s", mail_user_name(user),
			   om_strerror(ret));
		return ret;
	}
	if (make_dirs(path, false) < 0) {
		buf_printf(err, "user %s: creating %s: %s", mail_user_name(user), path,
			   strerror(errno));
		mailbox_info_free(list, n);
		return -OM_EIO;
	}
	struct cli_progress *prog = cli_progress_new("export maildir", 0);
	for (size_t i = 0; i < n && ret == 0; i++) {
		if ((list[i].flags & (MBOX_NOSELECT | MBOX_NONEXISTENT)) != 0)
			continue;
		ret = export_box(user, list[i].name, path, st, prog, err);
	}
	cli_progress_done(prog);
	mailbox_info_free(list, n);
	if (ret < 0)
		return ret;
	char **subs;
	size_t ns;
	if (mail_user_list_subscriptions(user, &subs, &ns) == 0) {
		struct buf data = BUF_INIT, enc = BUF_INIT, sp = BUF_INIT;
		buf_append_str(&data, "V\t2\n\n");
		for (size_t i = 0; i < ns; i++) {
			buf_reset(&enc);
			if (mutf7_encode(subs[i], strlen(subs[i]), &enc) < 0)
				continue;
			for (size_t k = 0; k < enc.len; k++)
				buf_append_c(&data, enc.data[k] == '/' ? '\t' : enc.data[k]);
			buf_append_c(&data, '\n');
		}
		buf_printf(&sp, "%s/" MAILDIR_SUBSCRIPTIONS, path);
		if (write_file(sp.data, data.data, data.len, 0) < 0) {
			buf_printf(err, "user %s: writing %s failed", mail_user_name(user), sp.data);
			ret = -OM_EIO;
		}
		mail_names_free(subs, ns);
		buf_free(&data);
		buf_free(&enc);
		buf_free(&sp);
	}
	return ret;
}
