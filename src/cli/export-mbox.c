/* objmail export mbox USER MAILBOX FILE: MAILBOX as an mboxrd file: a
 * "From MAILER-DAEMON <internal date>" line per message, Status:/X-Status:
 * headers for the flags (what `import mbox` and mutt read), lines matching
 * ">*From " quoted with one more '>', LF line ends, a blank line after each
 * message. FILE must not exist. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli-mail.h"
#include "cli/import.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

static void write_message(struct buf *out, const char *d, size_t len, uint32_t flags,
			  int64_t date)
{
	time_t t = (time_t)date;
	struct tm tm;
	char when[64];
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
	buf_printf(out, "From MAILER-DAEMON %s\n", when);
	bool in_header = true;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(d + pos, '\n', len - pos);
		size_t l = nl != NULL ? (size_t)(nl - (d + pos)) : len - pos;
		size_t content = l > 0 && d[pos + l - 1] == '\r' ? l - 1 : l;
		if (in_header && content == 0) {
			in_header = false;
			if ((flags & MAIL_SEEN) != 0)
				buf_append_str(out, "Status: RO\n");
			else
				buf_append_str(out, "Status: O\n");
			if ((flags & (MAIL_ANSWERED | MAIL_FLAGGED | MAIL_DRAFT | MAIL_DELETED)) != 0) {
				buf_append_str(out, "X-Status: ");
				if (flags & MAIL_ANSWERED)
					buf_append_c(out, 'A');
				if (flags & MAIL_FLAGGED)
					buf_append_c(out, 'F');
				if (flags & MAIL_DRAFT)
					buf_append_c(out, 'T');
				if (flags & MAIL_DELETED)
					buf_append_c(out, 'D');
				buf_append_c(out, '\n');
			}
		}
		size_t q = 0;
		while (q < content && d[pos + q] == '>')
			q++;
		if (content - q >= 5 && memcmp(d + pos + q, "From ", 5) == 0)
			buf_append_c(out, '>');
		buf_append(out, d + pos, content);
		buf_append_c(out, '\n');
		pos += l + (nl != NULL ? 1 : 0);
	}
	buf_append_c(out, '\n');
}

int export_mbox(struct mail_user *user, const char *mailbox, const char *file,
		struct import_stats *st, struct buf *err)
{
	struct mailbox *box;
	struct mailbox_snapshot *snap;
	int ret = mailbox_open(user, mailbox, true, &box);
	if (ret < 0) {
		buf_printf(err, "user %s, mailbox %s: opening: %s", mail_user_name(user), mailbox,
			   om_strerror(ret));
		return ret;
	}
	ret = mailbox_sync(box, &snap);
	if (ret < 0) {
		buf_printf(err, "user %s, mailbox %s: sync: %s", mail_user_name(user), mailbox,
			   om_strerror(ret));
		mailbox_close(box);
		return ret;
	}
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		buf_printf(err, "user %s, mailbox %s: creating %s: %m", mail_user_name(user),
			   mailbox, file);
		mailbox_snapshot_free(snap);
		mailbox_close(box);
		return -OM_EIO;
	}
	struct cli_progress *prog = cli_progress_new("export mbox", snap->count);
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < snap->count && ret == 0; i++) {
		struct mail_data md;
		int r = mailbox_msg_open(box, snap->recs[i].uid, &md);
		if (r == -OM_ENOTFOUND)
			continue;
		if (r < 0) {
			buf_printf(err, "user %s, mailbox %s, UID %u: reading: %s",
				   mail_user_name(user), mailbox, snap->recs[i].uid, om_strerror(r));
			ret = r;
			break;
		}
		buf_reset(&out);
		write_message(&out, md.data, md.len, snap->recs[i].flags, snap->recs[i].internal_date);
		mail_data_release(&md);
		size_t off = 0;
		while (off < out.len) {
			ssize_t n = write(fd, out.data + off, out.len - off);
			if (n <= 0) {
				buf_printf(err, "user %s, mailbox %s: writing %s: %m",
					   mail_user_name(user), mailbox, file);
				ret = -OM_EIO;
				break;
			}
			off += (size_t)n;
		}
		st->messages++;
		cli_progress_add(prog, 1);
		if (cli_progress_cancelled(prog)) {
			buf_printf(err, "user %s, mailbox %s: " IMPORT_CANCELLED,
				   mail_user_name(user), mailbox);
			ret = -OM_EIO;
		}
	}
	st->mailboxes = 1;
	cli_progress_done(prog);
	if (close(fd) < 0 && ret == 0) {
		buf_printf(err, "user %s, mailbox %s: closing %s: %m", mail_user_name(user), mailbox,
			   file);
		ret = -OM_EIO;
	}
	buf_free(&out);
	mailbox_snapshot_free(snap);
	mailbox_close(box);
	return ret;
}
