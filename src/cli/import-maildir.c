/* objmail import maildir PATH USER: a Dovecot (2.x) Maildir++ tree into
 * USER's storage, read with the maildir driver's own readers (uidlist,
 * dovecot-keywords, file name codec, folder names), keeping UIDVALIDITY,
 * UIDs, flags, keywords, received dates (file mtimes, as Dovecot) and the
 * subscriptions, so IMAP clients' caches stay valid. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli-mail.h"
#include "cli/import.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/maildir/maildir.h"

#define IMPORT_MAX_MESSAGE (1u << 30)
#define IMPORT_MAX_FOLDERS 100000

struct src_file {
	char *base;    /* without ":2,..." */
	char *path;    /* full path */
	uint32_t flags, letters;
	bool used;
};

static int cmp_base(const void *a, const void *b)
{
	return strcmp(((const struct src_file *)a)->base, ((const struct src_file *)b)->base);
}

static void scan_subdir(const char *dir, const char *sub, struct src_file **files, size_t *n,
			size_t *cap)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, sub);
	DIR *d = opendir(p.data);
	if (d == NULL) {
		buf_free(&p);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		struct maildir_filename fn;
		maildir_filename_parse(de->d_name, &fn);
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*files = realloc(*files, *cap * sizeof(**files));
			if (*files == NULL)
				abort();
		}
		struct src_file *f = &(*files)[(*n)++];
		memset(f, 0, sizeof(*f));
		f->base = strndup(de->d_name, fn.base_len);
		struct buf fp = BUF_INIT;
		buf_printf(&fp, "%s/%s", p.data, de->d_name);
		f->path = om_strdup(fp.data);
		buf_free(&fp);
		f->flags = fn.flags;
		f->letters = fn.kw_letters;
	}
	closedir(d);
	buf_free(&p);
}

static int read_file(const char *path, struct buf *out, int64_t *mtime_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -OM_ENOTFOUND : -OM_EIO;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size > IMPORT_MAX_MESSAGE) {
		close(fd);
		return -OM_ELIMIT;
	}
	*mtime_r = (int64_t)st.st_mtime;
	buf_reset(out);
	char chunk[65536];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (out->len + (size_t)n > IMPORT_MAX_MESSAGE)
			break;
		buf_append(out, chunk, (size_t)n);
	}
	close(fd);
	return n < 0 ? -OM_EIO : 0;
}

int import_prepare_mailbox(struct mail_user *user, const char *name, uint32_t src_uidvalidity,
			   bool *keep_r, struct buf *err)
{
	*keep_r = false;
	struct mailbox_status st;
	int ret = mail_user_mailbox_status(user, name, &st);
	if (ret == -OM_ENOTFOUND) {
		ret = mail_user_create_mailbox(user, name, 0);
		if (ret == 0)
			ret = mail_user_mailbox_status(user, name, &st);
	}
	if (ret < 0) {
		buf_printf(err, "user %s, mailbox %s: creating: %s", mail_user_name(user), name,
			   om_strerror(ret));
		return ret;
	}
	if (src_uidvalidity == 0)
		return 0;
	if (st.uidvalidity == src_uidvalidity) {
		*keep_r = true;
		return 0;
	}
	if (st.messages > 0)
		return 0; /* not fresh: new UIDs */
	ret = mail_user_set_mailbox_uids(user, name, src_uidvalidity, 1);
	if (ret < 0) {
		buf_printf(err, "user %s, mailbox %s: setting UIDVALIDITY %u: %s",
			   mail_user_name(user), name, src_uidvalidity, om_strerror(ret));
		return ret;
	}
	*keep_r = true;
	return 0;
}

int import_append(struct mail_user *user, const char *mailbox, const char *data, size_t len,
		  uint32_t flags, char *const *keywords, size_t n_keywords, int64_t idate,
		  int32_t itz, bool keep_uids, uint32_t uid)
{
	struct mail_save save = { .data = data, .len = len, .flags = flags & MAIL_FLAGS_STORED,
				  .keywords = (const char *const *)keywords,
				  .n_keywords = n_keywords, .internal_date = idate,
				  .internal_tz = itz };
	if (keep_uids && uid != 0) {
		int ret = mailbox_append_with_uid(user, mailbox, &save, uid);
		if (ret != -OM_EEXISTS)
			return ret;
		/* a UID below UIDNEXT: it can't be kept */
	}
	uint32_t uv, got;
	return mailbox_append(user, mailbox, &save, &uv, &got);
}

int import_names_before(struct mail_user *user, char ***names_r, size_t *n_r)
{
	struct mailbox_info *list;
	size_t n;
	int ret = mail_user_list_mailboxes(user, &list, &n);
	if (ret < 0)
		return ret;
	char **names = om_calloc(n + 1, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = om_strdup(list[i].name);
	mailbox_info_free(list, n);
	*names_r = names;
	*n_r = n;
	return 0;
}

static bool in_list(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

void import_drop_parents(struct mail_user *user, char **before, size_t n_before,
			 char *const *source, size_t n_source)
{
	struct mailbox_info *list;
	size_t n;
	if (mail_user_list_mailboxes(user, &list, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *name = list[i].name;
		if ((list[i].flags & (MBOX_NOSELECT | MBOX_NONEXISTENT)) != 0 ||
		    in_list(before, n_before, name) || in_list(source, n_source, name))
			continue;
		struct mailbox_status st;
		if (mail_user_mailbox_status(user, name, &st) == 0 && st.messages == 0 &&
		    mail_user_delete_mailbox(user, name) == 0)
			(void)mail_user_subscribe(user, name, false);
	}
	mailbox_info_free(list, n);
}

static int import_folder(struct mail_user *user, const char *dir, const char *name,
			 struct import_stats *st, struct cli_progress *prog, struct buf *err)
{
	struct uidlist ul = { 0 };
	struct maildir_keywords kw;
	struct src_file *files = NULL;
	size_t n_files = 0, cap = 0;
	struct buf data = BUF_INIT;
	int ret = uidlist_read(dir, &ul);
	if (ret < 0) {
		buf_printf(err, "user %s, mailbox %s: reading %s/dovecot-uidlist: %s",
			   mail_user_name(user), name, dir, om_strerror(ret));
		return ret;
	}
	ret = maildir_keywords_read(dir, &kw);
	if (ret < 0) {
		buf_printf(err, "user %s, mailbox %s: reading %s/dovecot-keywords: %s",
			   mail_user_name(user), name, dir, om_strerror(ret));
		uidlist_free(&ul);
		return ret;
	}
	scan_subdir(dir, "cur", &files, &n_files, &cap);
	scan_subdir(dir, "new", &files, &n_files, &cap);
	if (n_files > 0)
		qsort(files, n_files, sizeof(*files), cmp_base);
	cli_progress_grow(prog, n_files);

	bool keep = false;
	ret = import_prepare_mailbox(user, name, ul.exists ? ul.uidvalidity : 0, &keep, err);
	if (ret == 0 && keep)
		st->uids_kept++;

	/* uidlist order (ascending UIDs) first, then files it does not know */
	for (size_t pass = 0; pass < 2 && ret == 0; pass++) {
		size_t count = pass == 0 ? ul.n : n_files;
		for (size_t i = 0; i < count && ret == 0; i++) {
			struct src_file *f;
			uint32_t uid = 0;
			if (pass == 0) {
				struct src_file key = { .base = ul.recs[i].base };
				f = n_files > 0 ? bsearch(&key, files, n_files, sizeof(*files),
							  cmp_base)
						: NULL;
				if (f == NULL || f->used)
					continue; /* expunged since */
				uid = ul.recs[i].uid;
			} else {
				f = &files[i];
				if (f->used)
					continue;
			}
			f->used = true;
			int64_t mtime = 0;
			int r = read_file(f->path, &data, &mtime);
			if (r == -OM_ENOTFOUND)
				continue;
			if (r < 0) {
				buf_printf(err, "user %s, mailbox %s: reading %s: %s",
					   mail_user_name(user), name, f->path, om_strerror(r));
				ret = r;
				break;
			}
			char *kws[MAILDIR_MAX_KEYWORDS];
			size_t nk = 0;
			for (unsigned b = 0; b < MAILDIR_MAX_KEYWORDS; b++)
				if ((f->letters & (1u << b)) != 0 && kw.names[b] != NULL)
					kws[nk++] = kw.names[b];
			r = import_append(user, name, data.data, data.len, f->flags, kws, nk, mtime,
					  0, keep, uid);
			if (r < 0) {
				buf_printf(err, "user %s, mailbox %s: saving %s (UID %u): %s",
					   mail_user_name(user), name, f->path, uid, om_strerror(r));
				ret = r;
				break;
			}
			st->messages++;
			cli_progress_add(prog, 1);
			if (cli_progress_cancelled(prog)) {
				buf_printf(err, "user %s, mailbox %s: " IMPORT_CANCELLED,
					   mail_user_name(user), name);
				ret = -OM_EIO;
			}
		}
	}
	if (ret == 0 && keep && ul.exists && ul.nextuid > 1)
		(void)mail_user_set_mailbox_uids(user, name, 0, ul.nextuid);
	st->mailboxes++;
	for (size_t i = 0; i < n_files; i++) {
		free(files[i].base);
		free(files[i].path);
	}
	free(files);
	buf_free(&data);
	maildir_keywords_free(&kw);
	uidlist_free(&ul);
	return ret;
}

static void import_subscriptions(struct mail_user *user, const char *path)
{
	struct buf p = BUF_INIT, data = BUF_INIT, name = BUF_INIT, utf8 = BUF_INIT;
	int64_t mtime;
	buf_printf(&p, "%s/" MAILDIR_SUBSCRIPTIONS, path);
	if (read_file(p.data, &data, &mtime) < 0 || data.len == 0)
		goto out;
	const char *s = data.data, *end = s + data.len;
	bool v2 = data.len >= 2 && s[0] == 'V' && s[1] == '\t';
	if (v2) { /* "V\t2\n\n" header */
		const char *hdr_end = strstr(s, "\n\n");
		s = hdr_end != NULL ? hdr_end + 2 : end;
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
		if (len > 0) {
			buf_reset(&name);
			for (size_t i = 0; i < len; i++)
				buf_append_c(&name, v2 && s[i] == '\t' ? '/' : s[i]);
			buf_reset(&utf8);
			if (mutf7_decode(name.data, name.len, &utf8) == 0 &&
			    mail_user_subscribe(user, utf8.data, true) < 0)
				log_warn("import %s: subscribing %s failed", mail_user_name(user),
					 utf8.data);
		}
		s += len + 1;
	}
out:
	buf_free(&p);
	buf_free(&data);
	buf_free(&name);
	buf_free(&utf8);
}

int import_maildir(struct mail_user *user, const char *path, struct import_stats *st,
		   struct buf *err)
{
	struct stat sb;
	struct buf cur = BUF_INIT;
	buf_printf(&cur, "%s/cur", path);
	if (stat(cur.data, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		buf_printf(err, "user %s: %s is not a Maildir (no cur/)", mail_user_name(user), path);
		buf_free(&cur);
		return -OM_ENOTFOUND;
	}
	buf_free(&cur);
	char **names = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(path);
	if (d == NULL) {
		buf_printf(err, "user %s: opening %s: %s", mail_user_name(user), path, strerror(errno));
		return -OM_EIO;
	}
	struct dirent *de;
	struct buf nm = BUF_INIT;
	while ((de = readdir(d)) != NULL && n < IMPORT_MAX_FOLDERS) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		buf_reset(&nm);
		if (maildir_entry_to_name(de->d_name, &nm) < 0)
			continue;
		struct buf sub = BUF_INIT;
		buf_printf(&sub, "%s/%s/cur", path, de->d_name);
		bool is_dir = stat(sub.data, &sb) == 0 && S_ISDIR(sb.st_mode);
		buf_free(&sub);
		if (!is_dir)
			continue;
		if (n + 2 >= cap) {
			cap = cap ? cap * 2 : 16;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				abort();
		}
		names[n++] = om_strdup(de->d_name);
	}
	closedir(d);
	buf_free(&nm);

	char **before = NULL, **source = om_calloc(n + 2, sizeof(char *));
	size_t n_before = 0, n_source = 0;
	int ret = import_names_before(user, &before, &n_before);
	if (ret < 0) {
		buf_printf(err, "user %s: listing mailboxes: %s", mail_user_name(user),
			   om_strerror(ret));
		n_before = 0;
	}
	struct cli_progress *prog = cli_progress_new("import maildir", 0);
	if (ret == 0)
		ret = import_folder(user, path, "INBOX", st, prog, err);
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct buf dir = BUF_INIT, name = BUF_INIT;
		buf_printf(&dir, "%s/%s", path, names[i]);
		if (maildir_entry_to_name(names[i], &name) == 0) {
			source[n_source++] = om_strdup(name.data);
			ret = import_folder(user, dir.data, name.data, st, prog, err);
		}
		buf_free(&dir);
		buf_free(&name);
	}
	cli_progress_done(prog);
	if (ret == 0)
		import_drop_parents(user, before, n_before, source, n_source);
	for (size_t i = 0; i < n_before; i++)
		free(before[i]);
	free(before);
	for (size_t i = 0; i < n_source; i++)
		free(source[i]);
	free(source);
	if (ret == 0)
		import_subscriptions(user, path);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}
