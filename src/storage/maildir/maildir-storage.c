/* The maildir driver: the user's Maildir root, folders, subscriptions and
 * special-use, and the ops table. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/maildir/maildir.h"

#define SUBS_MAX_SIZE (1024 * 1024)

static const struct {
	const char *name;
	unsigned special_use;
} default_mailboxes[] = {
	{ "Drafts", MBOX_SPECIAL_DRAFTS },
	{ "Sent", MBOX_SPECIAL_SENT },
	{ "Trash", MBOX_SPECIAL_TRASH },
	{ "Junk", MBOX_SPECIAL_JUNK },
};

static const struct {
	const char *attr;
	unsigned flag;
} special_attrs[] = {
	{ "\\All", MBOX_SPECIAL_ALL },
	{ "\\Archive", MBOX_SPECIAL_ARCHIVE },
	{ "\\Drafts", MBOX_SPECIAL_DRAFTS },
	{ "\\Flagged", MBOX_SPECIAL_FLAGGED },
	{ "\\Junk", MBOX_SPECIAL_JUNK },
	{ "\\Sent", MBOX_SPECIAL_SENT },
	{ "\\Trash", MBOX_SPECIAL_TRASH },
};

int maildir_io_error(struct mail_user *user, const char *op, const char *path, int err)
{
	mail_user_set_error(user, "%s %s: %s", op, path, strerror(err));
	switch (err) {
	case ENOENT: return -OM_ENOTFOUND;
	case EEXIST: case ENOTEMPTY: return -OM_EEXISTS;
	case ENOSPC: case EDQUOT: case EAGAIN: case EMFILE: case ENFILE: return -OM_ETEMP;
	case EACCES: case EPERM: case EROFS: return -OM_EPERM;
	case ENAMETOOLONG: return -OM_EINVAL;
	default: return -OM_EIO;
	}
}

int maildir_mailbox_dir(struct mail_user *user, const char *name, struct buf *out)
{
	return maildir_name_to_dir(user->root, name, out);
}

static int mkdir_p(struct mail_user *user, const char *path)
{
	struct buf p = BUF_INIT;
	buf_append_str(&p, path);
	int ret = 0;
	for (char *s = p.data + 1; ret == 0; s++) {
		bool last = *s == '\0';
		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p.data, 0700) < 0 && errno != EEXIST)
			ret = maildir_io_error(user, "mkdir", p.data, errno);
		if (last)
			break;
		*s = '/';
	}
	buf_free(&p);
	return ret;
}

/* cur/, new/, tmp/ (and maildirfolder for folders) inside dir. */
static int make_maildir(struct mail_user *user, const char *dir, bool folder)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	struct buf p = BUF_INIT;
	int ret = 0;
	for (size_t i = 0; i < 3 && ret == 0; i++) {
		buf_reset(&p);
		buf_printf(&p, "%s/%s", dir, subs[i]);
		if (mkdir(p.data, 0700) < 0 && errno != EEXIST)
			ret = maildir_io_error(user, "mkdir", p.data, errno);
	}
	if (ret == 0 && folder) {
		buf_reset(&p);
		buf_printf(&p, "%s/maildirfolder", dir);
		int fd = open(p.data, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			ret = maildir_io_error(user, "create", p.data, errno);
		else
			close(fd);
	}
	buf_free(&p);
	return ret;
}

/* --- special-use file --- */

static unsigned special_from_attr(const char *attr)
{
	for (size_t i = 0; i < sizeof(special_attrs) / sizeof(special_attrs[0]); i++) {
		if (om_str_ieq(special_attrs[i].attr, attr))
			return special_attrs[i].flag;
	}
	return 0;
}

static const char *special_attr(unsigned flag)
{
	for (size_t i = 0; i < sizeof(special_attrs) / sizeof(special_attrs[0]); i++) {
		if (special_attrs[i].flag == flag)
			return special_attrs[i].attr;
	}
	return NULL;
}

/* Special-use of name per the file, or per the standard names when the
 * file is missing (a Maildir objmail never opened). */
static unsigned special_use_lookup(struct mail_user *user, const char *name)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/" MAILDIR_SPECIAL_USE_FILE, user->root);
	FILE *f = fopen(path.data, "re");
	buf_free(&path);
	if (f == NULL) {
		for (size_t i = 0; i < sizeof(default_mailboxes) / sizeof(default_mailboxes[0]); i++) {
			if (strcmp(default_mailboxes[i].name, name) == 0)
				return default_mailboxes[i].special_use;
		}
		return 0;
	}
	char line[1024];
	unsigned found = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *tab = strchr(line, '\t');
		if (tab == NULL)
			continue;
		*tab = '\0';
		if (strcmp(tab + 1, name) == 0)
			found = special_from_attr(line);
	}
	fclose(f);
	return found;
}

/* Rewrite the special-use file from the index. */
static int special_use_write(struct mail_user *user)
{
	struct index_mailbox *mbs;
	size_t n;
	int ret = index_mailbox_list(user->index, &mbs, &n);
	if (ret < 0)
		return ret;
	struct buf data = BUF_INIT, path = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		const char *attr = special_attr(mbs[i].special_use);
		if (attr != NULL)
			buf_printf(&data, "%s\t%s\n", attr, mbs[i].name);
	}
	index_mailboxes_free(mbs, n);
	buf_printf(&path, "%s/" MAILDIR_SPECIAL_USE_FILE, user->root);
	ret = file_replace(path.data, buf_cstr(&data), data.len);
	buf_free(&data);
	buf_free(&path);
	return ret;
}

/* --- subscriptions --- */

static int names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The index's subscriptions become names[] (sorted here). Every user open
 * read the file, and rewriting an unchanged table cost a write transaction
 * and an fdatasync per LOGIN and per delivery: write only what differs. */
static int subs_store(struct mail_user *user, char **names, size_t n)
{
	char **cur = NULL;
	size_t n_cur = 0;
	int ret = index_subs_list(user->index, &cur, &n_cur);
	if (ret < 0)
		return ret;
	if (n > 1)
		qsort(names, n, sizeof(*names), names_cmp);
	if (n_cur > 1)
		qsort(cur, n_cur, sizeof(*cur), names_cmp);
	bool same = n == n_cur;
	for (size_t i = 0; same && i < n; i++)
		same = strcmp(names[i], cur[i]) == 0;
	mail_names_free(cur, n_cur);
	if (same)
		return 0;
	return index_subs_replace(user->index, names, n);
}

static int subs_read(struct mail_user *user, const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT)
			return subs_store(user, NULL, 0);
		return maildir_io_error(user, "open", path, errno);
	}
	char **names = NULL;
	size_t n = 0;
	char *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t len;
	bool v2 = false, in_header = false, first = true;
	struct buf raw = BUF_INIT, name = BUF_INIT, norm = BUF_INIT;
	while ((len = getline(&line, &cap, f)) > 0 && total < SUBS_MAX_SIZE) {
		total += (size_t)len;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (first && strncmp(line, "V\t", 2) == 0) {
			/* Dovecot 2.3: "V\t2", header lines, an empty line */
			v2 = true;
			in_header = true;
			first = false;
			continue;
		}
		first = false;
		if (in_header) {
			if (len == 0)
				in_header = false;
			continue;
		}
		if (len == 0)
			continue;
		buf_reset(&raw);
		buf_append(&raw, line, (size_t)len);
		if (v2) {
			for (char *p = raw.data; *p != '\0'; p++) {
				if (*p == '\t')
					*p = '/';
			}
		}
		buf_reset(&name);
		if (mutf7_decode(raw.data, raw.len, &name) < 0 || mail_name_normalize(name.data, &norm) < 0) {
			log_warn("maildir: %s: bad name '%s' ignored", path, raw.data);
			continue;
		}
		names = om_reallocarray(names, n + 1, sizeof(*names));
		names[n++] = om_strdup(norm.data);
	}
	free(line);
	fclose(f);
	buf_free(&raw);
	buf_free(&name);
	buf_free(&norm);
	int ret = subs_store(user, names, n);
	mail_names_free(names, n);
	return ret;
}

static int maildir_subscriptions_changed(struct mail_user *user)
{
	struct maildir_user *mu = (struct maildir_user *)user;
	char **names;
	size_t n;
	int ret = index_subs_list(user->index, &names, &n);
	if (ret < 0)
		return ret;
	struct buf data = BUF_INIT, path = BUF_INIT;
	buf_append_str(&data, "V\t2\n\n");
	for (size_t i = 0; i < n; i++) {
		size_t start = data.len;
		if (mutf7_encode(names[i], strlen(names[i]), &data) < 0) {
			buf_truncate(&data, start);
			continue;
		}
		for (size_t j = start; j < data.len; j++) {
			if (data.data[j] == '/')
				data.data[j] = '\t';
		}
		buf_append_c(&data, '\n');
	}
	mail_names_free(names, n);
	buf_printf(&path, "%s/" MAILDIR_SUBSCRIPTIONS, user->root);
	ret = dotlock_take(path.data);
	if (ret == 0) {
		ret = file_replace(path.data, data.data, data.len);
		dotlock_release(path.data);
	}
	struct stat st;
	if (ret == 0 && stat(path.data, &st) == 0)
		mu->subs_mtime = st.st_mtim;
	buf_free(&data);
	buf_free(&path);
	return ret;
}

/* --- the folder list --- */

static bool ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* An mtime this recent may hide a change made within the same tick. */
static bool ts_settled(const struct timespec *t)
{
	return t->tv_sec + 1 < time(NULL);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int maildir_list_refresh(struct mail_user *user)
{
	struct maildir_user *mu = (struct maildir_user *)user;
	struct stat st, sst;
	struct buf subs = BUF_INIT;
	int ret = 0;

	buf_printf(&subs, "%s/" MAILDIR_SUBSCRIPTIONS, user->root);
	if (stat(user->root, &st) < 0) {
		buf_free(&subs);
		return maildir_io_error(user, "stat", user->root, errno);
	}
	if (stat(subs.data, &sst) < 0)
		memset(&sst, 0, sizeof(sst));
	if (!mu->list_valid || !ts_eq(&sst.st_mtim, &mu->subs_mtime) || !ts_settled(&sst.st_mtim)) {
		ret = subs_read(user, subs.data);
		mu->subs_mtime = sst.st_mtim;
	}
	buf_free(&subs);
	if (ret < 0)
		return ret;
	if (mu->list_valid && ts_eq(&st.st_mtim, &mu->root_mtime) && ts_settled(&st.st_mtim))
		return 0;

	DIR *d = opendir(user->root);
	if (d == NULL)
		return maildir_io_error(user, "opendir", user->root, errno);
	char **names = NULL;
	size_t n = 0;
	struct buf name = BUF_INIT, path = BUF_INIT;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || maildir_entry_to_name(de->d_name, &name) < 0)
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s/%s/cur", user->root, de->d_name);
		struct stat dst;
		/* lstat: a symlinked folder or cur/ could lead out of the user's
		 * root (into another user's Maildir): not a folder of this user */
		if (lstat(path.data, &dst) < 0 || !S_ISDIR(dst.st_mode))
			continue;
		buf_truncate(&path, path.len - 4);
		if (lstat(path.data, &dst) < 0 || !S_ISDIR(dst.st_mode))
			continue;
		names = om_reallocarray(names, n + 1, sizeof(*names));
		names[n++] = om_strdup(name.data);
	}
	closedir(d);
	buf_free(&name);
	buf_free(&path);
	if (n > 1)
		qsort(names, n, sizeof(*names), str_cmp);

	struct index_mailbox *mbs = NULL;
	size_t n_mbs = 0;
	ret = index_begin(user->index);
	if (ret == 0)
		ret = index_mailbox_list(user->index, &mbs, &n_mbs);
	bool have_inbox = false;
	for (size_t i = 0; ret == 0 && i < n_mbs; i++) {
		if (strcmp(mbs[i].name, "INBOX") == 0) {
			have_inbox = true;
			continue;
		}
		const char *key = mbs[i].name;
		if (n == 0 || bsearch(&key, names, n, sizeof(*names), str_cmp) == NULL) {
			log_info("maildir %s: mailbox %s vanished from disk", user->name, mbs[i].name);
			ret = index_mailbox_delete(user->index, mbs[i].id);
		}
	}
	for (size_t i = 0; ret == 0 && i <= n; i++) {
		const char *nm = i < n ? names[i] : "INBOX";
		if (i == n && have_inbox)
			break;
		bool known = false;
		for (size_t j = 0; j < n_mbs && !known; j++)
			known = strcmp(mbs[j].name, nm) == 0;
		if (known)
			continue;
		/* uidvalidity 0: the first sync reads it from dovecot-uidlist */
		struct index_mailbox mb = { .name = (char *)nm, .uidnext = 1, .first_recent_uid = 1,
					    .highest_modseq = 1 };
		mb.special_use = special_use_lookup(user, nm);
		ret = index_mailbox_add(user->index, &mb);
		if (ret == -OM_EEXISTS)
			ret = 0;
	}
	if (ret == 0)
		ret = index_commit(user->index);
	if (ret < 0)
		index_rollback(user->index);
	index_mailboxes_free(mbs, n_mbs);
	mail_names_free(names, n);
	if (ret == 0) {
		mu->root_mtime = st.st_mtim;
		mu->list_valid = true;
	}
	return ret;
}

/* --- create / delete / rename --- */

static int maildir_mailbox_create(struct mail_user *user, const char *name, unsigned special_use)
{
	struct buf dir = BUF_INIT;
	int ret = maildir_mailbox_dir(user, name, &dir);
	if (ret < 0)
		goto out;
	if (mkdir(dir.data, 0700) < 0) {
		ret = errno == EEXIST ? -OM_EEXISTS : maildir_io_error(user, "mkdir", dir.data, errno);
		goto out;
	}
	ret = make_maildir(user, dir.data, true);
	struct index_mailbox mb = { .name = (char *)name, .uidnext = 1, .first_recent_uid = 1,
				    .highest_modseq = 1, .special_use = special_use };
	if (ret == 0) {
		/* dovecot-uidlist at once, as Dovecot does: UIDVALIDITY is fixed now */
		struct uidlist ul = { .uidvalidity = maildir_uidvalidity_next(user->root), .nextuid = 1 };
		maildir_guid_random(ul.guid);
		ret = uidlist_write_locked(dir.data, &ul);
		mb.uidvalidity = ul.uidvalidity;
		memcpy(mb.guid, ul.guid, sizeof(mb.guid));
	}
	if (ret == 0)
		ret = index_mailbox_add(user->index, &mb);
	if (ret == 0 && special_use != 0)
		ret = special_use_write(user);
out:
	buf_free(&dir);
	return ret;
}

/* Remove dir and what is in it, at most depth levels down. */
static int remove_tree(struct mail_user *user, const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : maildir_io_error(user, "opendir", dir, errno);
	struct dirent *de;
	struct buf p = BUF_INIT;
	int ret = 0;
	while (ret == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		buf_reset(&p);
		buf_printf(&p, "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(p.data, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth <= 0)
				ret = maildir_io_error(user, "remove", p.data, ENOTEMPTY);
			else
				ret = remove_tree(user, p.data, depth - 1);
		} else if (unlink(p.data) < 0 && errno != ENOENT) {
			ret = maildir_io_error(user, "unlink", p.data, errno);
		}
	}
	closedir(d);
	buf_free(&p);
	if (ret == 0 && rmdir(dir) < 0 && errno != ENOENT)
		ret = maildir_io_error(user, "rmdir", dir, errno);
	return ret;
}

static int maildir_mailbox_delete(struct mail_user *user, const struct index_mailbox *mb)
{
	struct buf dir = BUF_INIT, trash = BUF_INIT;
	int ret = maildir_mailbox_dir(user, mb->name, &dir);
	if (ret < 0)
		goto out;
	/* Move it out of sight first, so a half-deleted folder never lists.
	 * The name can't be a folder: an empty component. */
	char guid[33];
	maildir_guid_random(guid);
	buf_printf(&trash, "%s/..objmail-deleted.%s", user->root, guid);
	if (rename(dir.data, trash.data) < 0) {
		ret = maildir_io_error(user, "rename", dir.data, errno);
		goto out;
	}
	ret = index_mailbox_delete(user->index, mb->id);
	if (ret == 0 && mb->special_use != 0)
		ret = special_use_write(user);
	if (remove_tree(user, trash.data, 2) < 0)
		log_warn("maildir %s: left %s behind", user->name, trash.data);
out:
	buf_free(&dir);
	buf_free(&trash);
	return ret;
}

static int maildir_mailbox_rename(struct mail_user *user, const char *old_name, const char *new_name)
{
	struct index_mailbox *mbs;
	size_t n;
	int ret = index_mailbox_list(user->index, &mbs, &n);
	if (ret < 0)
		return ret;
	size_t old_len = strlen(old_name);
	struct buf newn = BUF_INIT, from = BUF_INIT, to = BUF_INIT;
	bool special = false;
	/* Check every target first: all or nothing on the common path. */
	for (int pass = 0; pass < 2 && ret == 0; pass++) {
		for (size_t i = 0; i < n && ret == 0; i++) {
			if (strcmp(mbs[i].name, old_name) != 0 && !mail_name_is_child(mbs[i].name, old_name))
				continue;
			buf_reset(&newn);
			buf_printf(&newn, "%s%s", new_name, mbs[i].name + old_len);
			ret = maildir_mailbox_dir(user, mbs[i].name, &from);
			if (ret == 0)
				ret = maildir_mailbox_dir(user, newn.data, &to);
			if (ret < 0 || newn.len > 255) {
				ret = ret < 0 ? ret : -OM_EINVAL;
				break;
			}
			struct stat st;
			if (pass == 0) {
				if (lstat(to.data, &st) == 0)
					ret = -OM_EEXISTS;
				continue;
			}
			if (rename(from.data, to.data) < 0) {
				ret = maildir_io_error(user, "rename", from.data, errno);
				break;
			}
			ret = index_mailbox_set_name(user->index, mbs[i].id, newn.data);
			special |= mbs[i].special_use != 0;
		}
	}
	if (ret == 0 && special)
		ret = special_use_write(user);
	index_mailboxes_free(mbs, n);
	buf_free(&newn);
	buf_free(&from);
	buf_free(&to);
	return ret;
}

/* --- users --- */

static struct mail_user *maildir_user_alloc(void)
{
	struct maildir_user *mu = om_calloc(1, sizeof(*mu));
	return &mu->user;
}

static void maildir_user_free(struct mail_user *user)
{
	free(user);
}

static int maildir_user_init(struct mail_user *user)
{
	struct stat st;
	struct buf path = BUF_INIT;
	bool fresh_index = false;
	int ret = mkdir_p(user, user->root);
	if (ret == 0)
		ret = make_maildir(user, user->root, false);
	if (ret < 0)
		goto out;
	buf_printf(&path, "%s/" MAILDIR_SPECIAL_USE_FILE, user->root);
	bool first_use = stat(path.data, &st) < 0 && errno == ENOENT;

	buf_reset(&path);
	buf_printf(&path, "%s/" MAILDIR_INDEX_FILE, user->root);
	ret = index_open(path.data, &user->index, &fresh_index);
	if (ret == -OM_EIO) {
		/* A damaged index only caches what the Maildir holds: set it
		 * aside and rebuild. */
		struct buf aside = BUF_INIT;
		buf_printf(&aside, "%s.broken", path.data);
		log_warn("maildir %s: index %s unusable, rebuilding it (old one kept as %s)",
			 user->name, path.data, aside.data);
		if (rename(path.data, aside.data) < 0)
			log_error("maildir %s: rename %s: %s", user->name, path.data, strerror(errno));
		static const char *const side[] = { "-wal", "-shm" };
		for (size_t i = 0; i < 2; i++) {
			buf_reset(&aside);
			buf_printf(&aside, "%s%s", path.data, side[i]);
			(void)unlink(aside.data);
		}
		buf_free(&aside);
		ret = index_open(path.data, &user->index, &fresh_index);
	}
	if (ret < 0)
		goto out;
	if (fresh_index)
		log_info("maildir %s: building the index from %s", user->name, user->root);
	ret = maildir_list_refresh(user);
	if (ret < 0 || !first_use)
		goto out;

	/* First use by objmail: the default folders, created and subscribed
	 * where missing (a Dovecot-made Maildir may have them already). */
	for (size_t i = 0; i < sizeof(default_mailboxes) / sizeof(default_mailboxes[0]) && ret == 0; i++) {
		struct index_mailbox mb;
		ret = index_mailbox_get(user->index, default_mailboxes[i].name, &mb);
		if (ret == 0) {
			mb.special_use = default_mailboxes[i].special_use;
			ret = index_mailbox_update(user->index, &mb);
			index_mailbox_clear(&mb);
		} else if (ret == -OM_ENOTFOUND) {
			ret = maildir_mailbox_create(user, default_mailboxes[i].name,
						     default_mailboxes[i].special_use);
		}
		if (ret == 0)
			ret = index_subs_set(user->index, default_mailboxes[i].name, true);
	}
	if (ret == 0)
		ret = index_subs_set(user->index, "INBOX", true);
	if (ret == 0)
		ret = maildir_subscriptions_changed(user);
	if (ret == 0)
		ret = special_use_write(user);
out:
	buf_free(&path);
	if (ret < 0 && user->last_error[0] == '\0')
		mail_user_set_error(user, "opening %s failed: %s", user->root, om_strerror(ret));
	return ret;
}

static void maildir_user_deinit(struct mail_user *user)
{
	index_close(user->index);
	user->index = NULL;
}

const struct mail_storage_ops maildir_storage_ops = {
	.name = "maildir",
	.max_keywords = MAILDIR_MAX_KEYWORDS,
	.user_alloc = maildir_user_alloc,
	.user_free = maildir_user_free,
	.user_init = maildir_user_init,
	.user_deinit = maildir_user_deinit,
	.list_refresh = maildir_list_refresh,
	.mailbox_create = maildir_mailbox_create,
	.mailbox_delete = maildir_mailbox_delete,
	.mailbox_rename = maildir_mailbox_rename,
	.subscriptions_changed = maildir_subscriptions_changed,
	.mailbox_sync = maildir_sync,
	.msg_save = maildir_msg_save,
	.msg_set_flags = maildir_msg_set_flags,
	.msg_expunge = maildir_msg_expunge,
	.msg_copy = maildir_msg_copy,
	.msg_read = maildir_msg_read,
	.msg_upload = maildir_msg_upload,
	.msg_upload_done = maildir_msg_upload_done,
	.watch_start = maildir_watch_start,
	.watch_stop = maildir_watch_stop,
};
