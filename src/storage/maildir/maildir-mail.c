/* Messages in a Maildir: save (tmp/ -> new/ or cur/), flag changes
 * (renames within cur/), expunge (unlink), copy (hard link), read. */
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

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Another process may have renamed the file (flags changed by Dovecot or a
 * MUA): look for the same base name in cur/ and new/. */
static int find_by_base(const char *dir, const char *ddata, struct buf *found)
{
	const char *fname = ddata + 4;
	const char *colon = strchr(fname, ':');
	size_t base_len = colon ? (size_t)(colon - fname) : strlen(fname);
	static const char *const subs[] = { "cur", "new" };
	struct buf p = BUF_INIT;
	int ret = -OM_ENOTFOUND;
	for (size_t i = 0; i < 2 && ret != 0; i++) {
		buf_reset(&p);
		buf_printf(&p, "%s/%s", dir, subs[i]);
		DIR *d = opendir(p.data);
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, fname, base_len) == 0 &&
			    (de->d_name[base_len] == '\0' || de->d_name[base_len] == ':')) {
				buf_reset(found);
				buf_printf(found, "%s/%s", subs[i], de->d_name);
				ret = 0;
				break;
			}
		}
		if (d != NULL)
			closedir(d);
	}
	buf_free(&p);
	return ret;
}

/* Take the uidlist lock and read it, creating its header if missing. */
static int uidlist_open_locked(struct mail_user *user, const char *dir, struct index_mailbox *mb,
			       struct uidlist *ul, struct buf *lock_path, uint32_t *min_uid_r)
{
	buf_printf(lock_path, "%s/" MAILDIR_UIDLIST, dir);
	int ret = dotlock_take(lock_path->data);
	if (ret < 0)
		return ret;
	ret = uidlist_read(dir, ul);
	if (ret < 0) {
		dotlock_release(lock_path->data);
		return ret;
	}
	if (!ul->exists) {
		ul->uidvalidity = mb->uidvalidity != 0 ? mb->uidvalidity : maildir_uidvalidity_next(user->root);
		ul->nextuid = mb->uidnext > 0 ? mb->uidnext : 1;
		if (mb->guid[0] != '\0')
			memcpy(ul->guid, mb->guid, sizeof(ul->guid));
		else
			maildir_guid_random(ul->guid);
	}
	*min_uid_r = ul->uidvalidity == mb->uidvalidity ? mb->uidnext : 1;
	if (mb->uidvalidity == 0) {
		/* first write to a mailbox not synced yet */
		mb->uidvalidity = ul->uidvalidity;
		memcpy(mb->guid, ul->guid, sizeof(mb->guid));
	}
	return 0;
}

/* ddata for a message with this base and flags: cur/ with ":2,..." if it
 * has any flag, else new/ like a fresh delivery. */
static void final_ddata(struct buf *out, const char *base, size_t base_len, uint32_t flags,
			uint32_t letters)
{
	if (flags == 0 && letters == 0) {
		buf_append_str(out, "new/");
		buf_append(out, base, base_len);
	} else {
		buf_append_str(out, "cur/");
		maildir_filename_build(out, base, base_len, flags, letters, NULL);
	}
}

/* What maildir_msg_upload wrote: a durable file in tmp/ of the mailbox. */
struct maildir_prep {
	char *dir;
	char *base;
};

/* Writes req's message to dir/tmp/<new base>, fsynced, mtime = the
 * received date; base gets the base name, tmp the path (also on failure,
 * for the caller's unlink). */
static int tmp_write(struct mail_user *user, const char *dir, const struct mail_save_req *req,
		     struct buf *base, struct buf *tmp)
{
	maildir_filename_new_base(base);
	buf_printf(base, ",S=%zu,W=%llu", req->len, (unsigned long long)req->vsize);
	buf_reset(tmp);
	buf_printf(tmp, "%s/tmp/%s", dir, base->data);
	int fd = open(tmp->data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, req->data, req->len) < 0 || fsync(fd) < 0) {
		int ret = maildir_io_error(user, fd < 0 ? "create" : "write", tmp->data, errno);
		if (fd >= 0)
			close(fd);
		return ret;
	}
	/* Dovecot takes the received date from the file's mtime */
	struct timespec times[2] = { { req->internal_date, 0 }, { req->internal_date, 0 } };
	if (futimens(fd, times) < 0)
		log_warn("maildir %s: futimens %s: %s", user->name, tmp->data, strerror(errno));
	if (close(fd) < 0)
		return maildir_io_error(user, "close", tmp->data, errno);
	return 0;
}

/* Write and fsync the file before the user lock is taken: with the fsync
 * under the lock, concurrent deliveries to one user queued behind each
 * other's disk flush. A mailbox that isn't there (yet) is left to
 * msg_save, which reports it as before. */
int maildir_msg_upload(struct mail_user *user, const char *mailbox, const struct mail_save *save,
		       const struct mail_save_req *req, void **prep_r)
{
	(void)save;
	*prep_r = NULL;
	struct buf dir = BUF_INIT, base = BUF_INIT, tmp = BUF_INIT;
	struct stat st;
	int ret = maildir_mailbox_dir(user, mailbox, &dir);
	if (ret == 0) {
		buf_printf(&tmp, "%s/tmp", dir.data);
		if (stat(tmp.data, &st) < 0 || !S_ISDIR(st.st_mode))
			ret = 1; /* msg_save's path decides */
	}
	if (ret == 0) {
		ret = tmp_write(user, dir.data, req, &base, &tmp);
		if (ret < 0 && tmp.len > 0)
			(void)unlink(tmp.data);
	}
	if (ret == 0) {
		struct maildir_prep *p = om_calloc(1, sizeof(*p));
		p->dir = buf_steal(&dir);
		p->base = buf_steal(&base);
		*prep_r = p;
	}
	buf_free(&dir);
	buf_free(&base);
	buf_free(&tmp);
	return ret < 0 ? ret : 0;
}

void maildir_msg_upload_done(struct mail_user *user, void *prep, bool saved)
{
	(void)user;
	struct maildir_prep *p = prep;
	if (p == NULL)
		return;
	if (!saved && p->base[0] != '\0') {
		struct buf tmp = BUF_INIT;
		buf_printf(&tmp, "%s/tmp/%s", p->dir, p->base);
		(void)unlink(tmp.data);
		buf_free(&tmp);
	}
	free(p->dir);
	free(p->base);
	free(p);
}

int maildir_msg_save(struct mail_user *user, struct index_mailbox *mb,
		     const struct mail_save_req *req, struct index_msg *msg_r)
{
	struct buf dir = BUF_INIT, base = BUF_INIT, tmp = BUF_INIT, dd = BUF_INIT,
		   dst = BUF_INIT, lock = BUF_INIT;
	struct uidlist ul = { 0 };
	uint32_t letters = 0, uid = 0, min_uid;
	bool locked = false;
	int fd = -1;
	struct maildir_prep *prep = req->prep;

	int ret = maildir_mailbox_dir(user, mb->name, &dir);
	if (ret < 0)
		goto out;
	if (prep != NULL && strcmp(prep->dir, dir.data) == 0) {
		/* written by maildir_msg_upload; a failure below leaves it to
		 * msg_upload_done */
		buf_append_str(&base, prep->base);
		buf_printf(&tmp, "%s/tmp/%s", dir.data, base.data);
	} else {
		ret = tmp_write(user, dir.data, req, &base, &tmp);
		if (ret < 0)
			goto out;
	}
	ret = maildir_keywords_to_letters(user, mb->id, dir.data, req->keywords, &letters);
	if (ret < 0)
		goto out;
	final_ddata(&dd, base.data, base.len, req->flags, letters);
	buf_printf(&dst, "%s/%s", dir.data, dd.data);

	/* Lock before the file becomes visible, so no one else gives it a UID. */
	ret = uidlist_open_locked(user, dir.data, mb, &ul, &lock, &min_uid);
	if (ret < 0)
		goto out;
	locked = true;
	if (rename(tmp.data, dst.data) < 0) {
		ret = maildir_io_error(user, "rename", tmp.data, errno);
		goto out;
	}
	buf_reset(&tmp);
	if (prep != NULL && strcmp(prep->dir, dir.data) == 0)
		prep->base[0] = '\0'; /* renamed: not upload_done's any more */
	ret = uidlist_add_locked(dir.data, &ul, base.data, base.len, min_uid, &uid);
	if (ret < 0)
		goto out;

	memset(msg_r, 0, sizeof(*msg_r));
	msg_r->rec.uid = uid;
	msg_r->rec.flags = req->flags;
	msg_r->rec.keywords = req->keywords;
	msg_r->rec.size = req->vsize;
	msg_r->rec.internal_date = req->internal_date;
	msg_r->rec.internal_tz = req->internal_tz;
	maildir_guid_from_base(base.data, base.len, msg_r->rec.guid);
	msg_r->ddata = buf_steal(&dd);
out:
	if (locked)
		dotlock_release(lock.data);
	if (fd >= 0)
		close(fd);
	if (ret < 0 && tmp.len > 0)
		(void)unlink(tmp.data);
	uidlist_free(&ul);
	buf_free(&dir);
	buf_free(&base);
	buf_free(&tmp);
	buf_free(&dd);
	buf_free(&dst);
	buf_free(&lock);
	return ret;
}

int maildir_msg_set_flags(struct mail_user *user, const struct index_mailbox *mb,
			  struct index_msg *msg, uint32_t flags, uint64_t keywords)
{
	struct buf dir = BUF_INIT, dd = BUF_INIT, from = BUF_INIT, to = BUF_INIT, found = BUF_INIT;
	uint32_t letters;
	int ret = maildir_mailbox_dir(user, mb->name, &dir);
	if (ret == 0)
		ret = maildir_keywords_to_letters(user, mb->id, dir.data, keywords, &letters);
	if (ret < 0)
		goto out;
	const char *cur_dd = msg->ddata;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct maildir_filename fn;
		maildir_filename_parse(cur_dd + 4, &fn);
		buf_reset(&dd);
		buf_append_str(&dd, "cur/");
		maildir_filename_build(&dd, cur_dd + 4, fn.base_len, flags, letters, fn.other);
		if (fn.tail_off != 0)
			buf_append_str(&dd, cur_dd + 4 + fn.tail_off);
		if (strcmp(dd.data, cur_dd) == 0)
			break;
		buf_reset(&from);
		buf_reset(&to);
		buf_printf(&from, "%s/%s", dir.data, cur_dd);
		buf_printf(&to, "%s/%s", dir.data, dd.data);
		if (rename(from.data, to.data) == 0)
			break;
		if (errno != ENOENT || attempt > 0) {
			ret = maildir_io_error(user, "rename", from.data, errno);
			goto out;
		}
		ret = find_by_base(dir.data, msg->ddata, &found);
		if (ret < 0)
			goto out;
		cur_dd = found.data;
	}
	free(msg->ddata);
	msg->ddata = buf_steal(&dd);
out:
	buf_free(&dir);
	buf_free(&dd);
	buf_free(&from);
	buf_free(&to);
	buf_free(&found);
	return ret;
}

int maildir_msg_expunge(struct mail_user *user, const struct index_mailbox *mb,
			const struct index_msg *msg)
{
	struct buf dir = BUF_INIT, path = BUF_INIT, found = BUF_INIT;
	int ret = maildir_mailbox_dir(user, mb->name, &dir);
	if (ret < 0)
		goto out;
	buf_printf(&path, "%s/%s", dir.data, msg->ddata);
	if (unlink(path.data) == 0)
		goto out;
	if (errno != ENOENT) {
		ret = maildir_io_error(user, "unlink", path.data, errno);
		goto out;
	}
	if (find_by_base(dir.data, msg->ddata, &found) == 0) {
		buf_reset(&path);
		buf_printf(&path, "%s/%s", dir.data, found.data);
		if (unlink(path.data) < 0 && errno != ENOENT)
			ret = maildir_io_error(user, "unlink", path.data, errno);
	}
out:
	buf_free(&dir);
	buf_free(&path);
	buf_free(&found);
	return ret;
}

/* Open the message file, following a rename by someone else. */
static int open_msg(struct mail_user *user, const char *dir, const char *ddata, struct buf *path)
{
	buf_reset(path);
	buf_printf(path, "%s/%s", dir, ddata);
	/* O_NOFOLLOW: a symlink planted as a message file must not read
	 * another user's mail */
	int fd = open(path->data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 || errno != ENOENT) {
		if (fd < 0)
			return maildir_io_error(user, "open", path->data, errno);
		return fd;
	}
	struct buf found = BUF_INIT;
	int ret = find_by_base(dir, ddata, &found);
	if (ret == 0) {
		buf_reset(path);
		buf_printf(path, "%s/%s", dir, found.data);
		fd = open(path->data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		ret = fd >= 0 ? fd : errno == ENOENT ? -OM_ENOTFOUND
						     : maildir_io_error(user, "open", path->data, errno);
	}
	buf_free(&found);
	return ret;
}

static int read_fd(struct mail_user *user, int fd, const char *path, struct buf *out)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return maildir_io_error(user, "fstat", path, errno);
	if ((uint64_t)st.st_size > MAILDIR_MAX_FILE_SIZE) {
		mail_user_set_error(user, "%s: too big (%lld bytes)", path, (long long)st.st_size);
		return -OM_ELIMIT;
	}
	buf_reset(out);
	buf_reserve(out, (size_t)st.st_size + 1);
	char tmp[65536];
	ssize_t r;
	while ((r = read(fd, tmp, sizeof(tmp))) > 0) {
		if (out->len + (size_t)r > MAILDIR_MAX_FILE_SIZE)
			return -OM_ELIMIT;
		buf_append(out, tmp, (size_t)r);
	}
	if (r < 0)
		return maildir_io_error(user, "read", path, errno);
	if (out->data == NULL)
		buf_append(out, "", 0);
	return 0;
}

int maildir_msg_read(struct mail_user *user, const struct index_mailbox *mb,
		     const struct index_msg *msg, struct buf *out)
{
	struct buf dir = BUF_INIT, path = BUF_INIT;
	int ret = maildir_mailbox_dir(user, mb->name, &dir);
	if (ret == 0) {
		int fd = open_msg(user, dir.data, msg->ddata, &path);
		if (fd < 0) {
			ret = fd;
		} else {
			ret = read_fd(user, fd, path.data, out);
			close(fd);
		}
	}
	buf_free(&dir);
	buf_free(&path);
	return ret;
}

/* Copy by content when a hard link isn't possible. */
static int copy_file(struct mail_user *user, const char *src, const char *dstdir,
		     const char *tmpname, const char *dst)
{
	struct buf data = BUF_INIT, tmp = BUF_INIT;
	struct stat st;
	int ret;
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -OM_ENOTFOUND : maildir_io_error(user, "open", src, errno);
	ret = read_fd(user, fd, src, &data);
	if (fstat(fd, &st) < 0)
		st.st_mtime = time(NULL);
	close(fd);
	if (ret < 0)
		goto out;
	buf_printf(&tmp, "%s/tmp/%s", dstdir, tmpname);
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, data.data, data.len) < 0 || fsync(fd) < 0) {
		ret = maildir_io_error(user, "write", tmp.data, errno);
		if (fd >= 0)
			close(fd);
		(void)unlink(tmp.data);
		goto out;
	}
	struct timespec times[2] = { { st.st_mtime, 0 }, { st.st_mtime, 0 } };
	(void)futimens(fd, times);
	close(fd);
	if (rename(tmp.data, dst) < 0) {
		ret = maildir_io_error(user, "rename", tmp.data, errno);
		(void)unlink(tmp.data);
	}
out:
	buf_free(&data);
	buf_free(&tmp);
	return ret;
}

int maildir_msg_copy(struct mail_user *user, const struct index_mailbox *src,
		     const struct index_msg *msg, struct index_mailbox *dst,
		     uint32_t flags, uint64_t keywords, struct index_msg *msg_r)
{
	struct buf sdir = BUF_INIT, ddir = BUF_INIT, spath = BUF_INIT, base = BUF_INIT,
		   dd = BUF_INIT, dpath = BUF_INIT, lock = BUF_INIT;
	struct uidlist ul = { 0 };
	bool locked = false;
	uint32_t letters, min_uid, uid;
	int ret = maildir_mailbox_dir(user, src->name, &sdir);
	if (ret == 0)
		ret = maildir_mailbox_dir(user, dst->name, &ddir);
	if (ret < 0)
		goto out;
	int fd = open_msg(user, sdir.data, msg->ddata, &spath);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		ret = maildir_io_error(user, "fstat", spath.data, errno);
		close(fd);
		goto out;
	}
	close(fd);
	ret = maildir_keywords_to_letters(user, dst->id, ddir.data, keywords, &letters);
	if (ret < 0)
		goto out;
	maildir_filename_new_base(&base);
	buf_printf(&base, ",S=%lld,W=%llu", (long long)st.st_size, (unsigned long long)msg->rec.size);
	final_ddata(&dd, base.data, base.len, flags, letters);
	buf_printf(&dpath, "%s/%s", ddir.data, dd.data);

	ret = uidlist_open_locked(user, ddir.data, dst, &ul, &lock, &min_uid);
	if (ret < 0)
		goto out;
	locked = true;
	if (link(spath.data, dpath.data) < 0) {
		if (errno == ENOENT) {
			ret = -OM_ENOTFOUND;
			goto out;
		}
		ret = copy_file(user, spath.data, ddir.data, base.data, dpath.data);
		if (ret < 0)
			goto out;
	}
	ret = uidlist_add_locked(ddir.data, &ul, base.data, base.len, min_uid, &uid);
	if (ret < 0)
		goto out;
	memset(msg_r, 0, sizeof(*msg_r));
	msg_r->rec = msg->rec;
	msg_r->rec.uid = uid;
	msg_r->rec.flags = flags;
	msg_r->rec.keywords = keywords;
	msg_r->rec.modseq = 0;
	maildir_guid_from_base(base.data, base.len, msg_r->rec.guid);
	msg_r->ddata = buf_steal(&dd);
out:
	if (locked)
		dotlock_release(lock.data);
	uidlist_free(&ul);
	buf_free(&sdir);
	buf_free(&ddir);
	buf_free(&spath);
	buf_free(&base);
	buf_free(&dd);
	buf_free(&dpath);
	buf_free(&lock);
	return ret;
}
