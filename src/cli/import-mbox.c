/* objmail import mbox FILE USER MAILBOX: an mbox (mboxrd/mboxo as written by
 * mutt, Thunderbird, Dovecot): messages start at "From " lines after a blank
 * line (or at the top), ">From " quoting is undone one level (mboxrd:
 * ">>From " -> ">From "), Status:/X-Status: give the flags (R=\Seen,
 * O=old, A=\Answered, F=\Flagged, T=\Draft, D=\Deleted) and are dropped
 * from the stored header, and the From_ line's date is the internal date. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli-mail.h"
#include "cli/import.h"
#include "lib/om-error.h"
#include "storage/mail-storage.h"

#define MBOX_MAX_LINE (1u << 20)
#define MBOX_MAX_MESSAGE (1u << 30)

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* "From sender Thu Nov 27 10:00:00 2026" -> unix time (UTC); 0 if unknown. */
static int64_t from_line_date(const char *line)
{
	const char *p = line + 5;
	p = strchr(p, ' ');
	if (p == NULL)
		return 0;
	char wd[4], mon[4];
	int day, h, m, s, y;
	if (sscanf(p, " %3s %3s %d %d:%d:%d %d", wd, mon, &day, &h, &m, &s, &y) != 7)
		return 0;
	struct tm tm = { 0 };
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (strcmp(mon, months[i]) == 0)
			tm.tm_mon = i;
	if (tm.tm_mon < 0)
		return 0;
	tm.tm_mday = day;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = s;
	tm.tm_year = y - 1900;
	return (int64_t)timegm(&tm);
}

struct mbox_msg {
	struct buf data;
	uint32_t flags;
	int64_t date;
	bool in_header;
};

static void parse_status(const char *v, uint32_t *flags)
{
	for (; *v != '\0' && *v != '\n'; v++) {
		switch (*v) {
		case 'R': *flags |= MAIL_SEEN; break;
		case 'A': *flags |= MAIL_ANSWERED; break;
		case 'F': *flags |= MAIL_FLAGGED; break;
		case 'T': *flags |= MAIL_DRAFT; break;
		case 'D': *flags |= MAIL_DELETED; break;
		default: break;
		}
	}
}

static int flush_msg(struct mail_user *user, const char *mailbox, struct mbox_msg *m,
		     struct import_stats *st, struct cli_progress *prog, struct buf *err)
{
	/* the blank line before the next From_ (or the end) is the separator */
	const char *d = m->data.data;
	size_t n = m->data.len;
	if (n >= 2 && d[n - 1] == '\n' && d[n - 2] == '\n')
		m->data.len--;
	else if (n >= 4 && memcmp(d + n - 4, "\r\n\r\n", 4) == 0)
		m->data.len -= 2;
	int ret = import_append(user, mailbox, m->data.data != NULL ? m->data.data : "",
				m->data.len, m->flags, NULL, 0, m->date, 0, false, 0);
	if (ret < 0) {
		buf_printf(err, "user %s, mailbox %s: saving message %llu: %s",
			   mail_user_name(user), mailbox, st->messages + 1, om_strerror(ret));
		return ret;
	}
	st->messages++;
	cli_progress_add(prog, 1);
	if (cli_progress_cancelled(prog)) {
		buf_printf(err, "user %s, mailbox %s: " IMPORT_CANCELLED, mail_user_name(user),
			   mailbox);
		return -OM_EIO;
	}
	return 0;
}

int import_mbox(struct mail_user *user, const char *file, const char *mailbox,
		struct import_stats *st, struct buf *err)
{
	FILE *f = fopen(file, "r");
	if (f == NULL) {
		buf_printf(err, "user %s, mailbox %s: opening %s: %m", mail_user_name(user), mailbox,
			   file);
		return -OM_ENOTFOUND;
	}
	bool keep;
	int ret = import_prepare_mailbox(user, mailbox, 0, &keep, err);
	if (ret < 0) {
		fclose(f);
		return ret;
	}
	struct cli_progress *prog = cli_progress_new("import mbox", 0);
	struct mbox_msg m = { .data = BUF_INIT };
	bool have = false, prev_blank = true;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while (ret == 0 && (len = getline(&line, &cap, f)) >= 0) {
		if ((size_t)len > MBOX_MAX_LINE) {
			buf_printf(err, "user %s, mailbox %s: %s: line over %u bytes",
				   mail_user_name(user), mailbox, file, MBOX_MAX_LINE);
			ret = -OM_ELIMIT;
			break;
		}
		if (prev_blank && strncmp(line, "From ", 5) == 0) {
			if (have)
				ret = flush_msg(user, mailbox, &m, st, prog, err);
			buf_reset(&m.data);
			m.flags = 0;
			m.date = from_line_date(line);
			m.in_header = true;
			have = true;
			prev_blank = false;
			continue;
		}
		bool blank = line[0] == '\n' || (line[0] == '\r' && line[1] == '\n');
		if (!have) {
			prev_blank = blank;
			continue; /* garbage before the first From_ */
		}
		if (m.in_header && blank)
			m.in_header = false;
		if (m.in_header && (strncasecmp(line, "Status:", 7) == 0 ||
				    strncasecmp(line, "X-Status:", 9) == 0)) {
			parse_status(strchr(line, ':') + 1, &m.flags);
			prev_blank = false;
			continue;
		}
		const char *p = line;
		size_t l = (size_t)len;
		/* >From, >>From: one '>' less */
		size_t q = 0;
		while (q < l && p[q] == '>')
			q++;
		if (q > 0 && strncmp(p + q, "From ", 5) == 0) {
			p++;
			l--;
		}
		if (m.data.len + l > MBOX_MAX_MESSAGE) {
			buf_printf(err, "user %s, mailbox %s: %s: message over %u bytes",
				   mail_user_name(user), mailbox, file, MBOX_MAX_MESSAGE);
			ret = -OM_ELIMIT;
			break;
		}
		buf_append(&m.data, p, l);
		prev_blank = blank;
	}
	if (ret == 0 && have)
		ret = flush_msg(user, mailbox, &m, st, prog, err);
	if (ret == 0 && ferror(f)) {
		buf_printf(err, "user %s, mailbox %s: reading %s failed", mail_user_name(user),
			   mailbox, file);
		ret = -OM_EIO;
	}
	st->mailboxes = 1;
	cli_progress_done(prog);
	free(line);
	buf_free(&m.data);
	fclose(f);
	return ret;
}
