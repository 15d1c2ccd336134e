/* dovecot-uidlist (versions 1 and 3), Dovecot's dotlocks, and its
 * UIDVALIDITY counter. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/maildir/maildir.h"

#define UIDLIST_MAX_SIZE (256u * 1024 * 1024)
#define DOTLOCK_STALE_SECS 120
#define DOTLOCK_WAIT_MSECS 10000

/* Read a whole (bounded) file. -OM_ENOTFOUND if missing. */
static int read_file(const char *path, size_t max, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return -OM_ENOTFOUND;
		log_error("maildir: open %s: %s", path, strerror(errno));
		return -OM_EIO;
	}
	char tmp[8192];
	ssize_t r;
	buf_reset(out);
	while ((r = read(fd, tmp, sizeof(tmp))) > 0) {
		if (out->len + (size_t)r > max) {
			log_error("maildir: %s is bigger than %zu bytes", path, max);
			close(fd);
			return -OM_ELIMIT;
		}
		buf_append(out, tmp, (size_t)r);
	}
	int err = errno;
	close(fd);
	if (r < 0) {
		log_error("maildir: read %s: %s", path, strerror(err));
		return -OM_EIO;
	}
	if (out->data == NULL)
		buf_append(out, "", 0);
	return 0;
}

static bool parse_u32(const char *s, size_t len, uint32_t *out)
{
	unsigned long long v;
	if (!om_parse_u64(s, len, &v) || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool is_hex32(const char *s, size_t len)
{
	if (len != 32)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static void copy_guid(char dst[33], const char *s, size_t len)
{
	for (size_t i = 0; i < 32; i++)
		dst[i] = (char)((s[i] >= 'A' && s[i] <= 'F') ? s[i] - 'A' + 'a' : s[i]);
	dst[32] = '\0';
	(void)len;
}

static bool parse_header(const char *line, size_t len, struct uidlist *ul)
{
	const char *end = line + len;
	const char *sp = memchr(line, ' ', len);
	if (sp == NULL || !parse_u32(line, (size_t)(sp - line), &ul->version))
		return false;
	const char *p = sp + 1;
	if (ul->version == 1) {
		/* "1 <uidvalidity> <nextuid>" */
		sp = memchr(p, ' ', (size_t)(end - p));
		return sp != NULL && parse_u32(p, (size_t)(sp - p), &ul->uidvalidity) &&
		       parse_u32(sp + 1, (size_t)(end - sp - 1), &ul->nextuid);
	}
	if (ul->version != 2 && ul->version != 3)
		return false;
	while (p < end) {
		sp = memchr(p, ' ', (size_t)(end - p));
		const char *tend = sp ? sp : end;
		size_t tlen = (size_t)(tend - p);
		if (tlen >= 1) {
			if (p[0] == 'V' && !parse_u32(p + 1, tlen - 1, &ul->uidvalidity))
				return false;
			if (p[0] == 'N' && !parse_u32(p + 1, tlen - 1, &ul->nextuid))
				return false;
			if (p[0] == 'G' && is_hex32(p + 1, tlen - 1))
				copy_guid(ul->guid, p + 1, tlen - 1);
		}
		p = tend + 1;
	}
	return true;
}

static bool parse_record(const char *line, size_t len, unsigned version, struct uidlist_rec *rec)
{
	const char *end = line + len;
	const char *sp = memchr(line, ' ', len);
	memset(rec, 0, sizeof(*rec));
	if (sp == NULL || !parse_u32(line, (size_t)(sp - line), &rec->uid) || rec->uid == 0)
		return false;
	const char *p = sp + 1;
	const char *name;
	if (version == 1) {
		name = p;
	} else {
		/* extensions, then " :<file name>" */
		const char *colon = NULL;
		for (const char *q = p; q < end; q++) {
			if (*q == ':' && (q == p || q[-1] == ' ')) {
				colon = q;
				break;
			}
		}
		if (colon == NULL)
			return false;
		name = colon + 1;
		struct buf ext = BUF_INIT;
		while (p < colon) {
			sp = memchr(p, ' ', (size_t)(colon - p));
			const char *tend = sp ? sp : colon;
			size_t tlen = (size_t)(tend - p);
			if (tlen > 1 && p[0] == 'G' && is_hex32(p + 1, tlen - 1)) {
				copy_guid(rec->guid, p + 1, tlen - 1);
			} else if (tlen > 0) {
				if (ext.len > 0)
					buf_append_c(&ext, ' ');
				buf_append(&ext, p, tlen);
			}
			p = tend + 1;
		}
		if (ext.len > 0)
			rec->ext = buf_steal(&ext);
		buf_free(&ext);
	}
	/* the base name: up to any ":2," info (old versions stored it) */
	const char *ncolon = memchr(name, ':', (size_t)(end - name));
	size_t nlen = (size_t)((ncolon ? ncolon : end) - name);
	if (nlen == 0 || memchr(name, '/', nlen) != NULL) {
		free(rec->ext);
		rec->ext = NULL;
		return false;
	}
	rec->base = om_strndup(name, nlen);
	return true;
}

static void rec_push(struct uidlist *ul, const struct uidlist_rec *rec)
{
	if (ul->n == ul->cap) {
		ul->cap = ul->cap ? ul->cap * 2 : 64;
		ul->recs = om_reallocarray(ul->recs, ul->cap, sizeof(*ul->recs));
	}
	ul->recs[ul->n++] = *rec;
}

void uidlist_free(struct uidlist *ul)
{
	for (size_t i = 0; i < ul->n; i++) {
		free(ul->recs[i].base);
		free(ul->recs[i].ext);
	}
	free(ul->recs);
	memset(ul, 0, sizeof(*ul));
}

int uidlist_read(const char *dir, struct uidlist *ul)
{
	struct buf path = BUF_INIT, data = BUF_INIT;
	memset(ul, 0, sizeof(*ul));
	buf_printf(&path, "%s/" MAILDIR_UIDLIST, dir);
	int ret = read_file(path.data, UIDLIST_MAX_SIZE, &data);
	if (ret == -OM_ENOTFOUND) {
		ret = 0;
		goto out;
	}
	if (ret < 0)
		goto out;
	ul->exists = true;
	const char *p = data.data, *end = data.data + data.len;
	bool header = true;
	uint32_t last_uid = 0;
	unsigned line_no = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *lend = nl ? nl : end;
		size_t len = (size_t)(lend - p);
		line_no++;
		if (header) {
			if (!parse_header(p, len, ul)) {
				log_warn("maildir: %s: unsupported header, treating as missing", path.data);
				uidlist_free(ul);
				goto out;
			}
			header = false;
		} else if (len > 0) {
			struct uidlist_rec rec;
			if (!parse_record(p, len, ul->version, &rec) || rec.uid <= last_uid) {
				log_warn("maildir: %s:%u: bad record ignored", path.data, line_no);
			} else {
				last_uid = rec.uid;
				rec_push(ul, &rec);
			}
		}
		p = lend + 1;
	}
	if (ul->nextuid <= last_uid)
		ul->nextuid = last_uid + 1;
	if (ul->nextuid == 0)
		ul->nextuid = 1;
out:
	buf_free(&path);
	buf_free(&data);
	return ret;
}

int dotlock_take(const char *path)
{
	struct buf lock = BUF_INIT;
	buf_printf(&lock, "%s.lock", path);
	int ret = -OM_ETEMP;
	for (int waited = 0; waited < DOTLOCK_WAIT_MSECS; waited += 10) {
		int fd = open(lock.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			close(fd);
			ret = 0;
			break;
		}
		if (errno != EEXIST) {
			log_error("maildir: create %s: %s", lock.data, strerror(errno));
			ret = errno == ENOSPC || errno == EDQUOT ? -OM_ETEMP : -OM_EIO;
			break;
		}
		struct stat st;
		if (stat(lock.data, &st) == 0 && st.st_mtime + DOTLOCK_STALE_SECS < time(NULL)) {
			log_warn("maildir: removing stale lock %s", lock.data);
			(void)unlink(lock.data);
			continue;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (ret == -OM_ETEMP)
		log_error("maildir: timed out waiting for lock %s", lock.data);
	buf_free(&lock);
	return ret;
}

void dotlock_release(const char *path)
{
	struct buf lock = BUF_INIT;
	buf_printf(&lock, "%s.lock", path);
	if (unlink(lock.data) < 0 && errno != ENOENT)
		log_error("maildir: unlink %s: %s", lock.data, strerror(errno));
	buf_free(&lock);
}

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

static int errno_code(int err)
{
	return err == ENOSPC || err == EDQUOT ? -OM_ETEMP : -OM_EIO;
}

int file_replace(const char *path, const char *data, size_t len)
{
	struct buf tmp = BUF_INIT;
	buf_printf(&tmp, "%s.objmail-tmp", path);
	int ret = 0;
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int err = errno;
		log_error("maildir: write %s: %s", tmp.data, strerror(err));
		ret = errno_code(err);
	}
	if (fd >= 0 && close(fd) < 0 && ret == 0) {
		log_error("maildir: close %s: %s", tmp.data, strerror(errno));
		ret = errno_code(errno);
	}
	if (ret == 0 && rename(tmp.data, path) < 0) {
		log_error("maildir: rename %s: %s", tmp.data, strerror(errno));
		ret = errno_code(errno);
	}
	if (ret < 0)
		(void)unlink(tmp.data);
	buf_free(&tmp);
	return ret;
}

static void rec_line(struct buf *out, const struct uidlist_rec *rec)
{
	buf_printf(out, "%u", rec->uid);
	if (rec->guid[0] != '\0')
		buf_printf(out, " G%s", rec->guid);
	if (rec->ext != NULL)
		buf_printf(out, " %s", rec->ext);
	buf_printf(out, " :%s\n", rec->base);
}

int uidlist_write_locked(const char *dir, const struct uidlist *ul)
{
	struct buf data = BUF_INIT, path = BUF_INIT;
	buf_printf(&data, "3 V%u N%u", ul->uidvalidity, ul->nextuid);
	if (ul->guid[0] != '\0')
		buf_printf(&data, " G%s", ul->guid);
	buf_append_c(&data, '\n');
	for (size_t i = 0; i < ul->n; i++)
		rec_line(&data, &ul->recs[i]);
	buf_printf(&path, "%s/" MAILDIR_UIDLIST, dir);
	int ret = file_replace(path.data, data.data, data.len);
	buf_free(&data);
	buf_free(&path);
	return ret;
}

int uidlist_add_locked(const char *dir, struct uidlist *ul, const char *base, size_t base_len,
		       uint32_t min_uid, uint32_t *uid_r)
{
	uint32_t uid = ul->nextuid > min_uid ? ul->nextuid : min_uid;
	if (uid == 0)
		uid = 1;
	if (uid == UINT32_MAX) {
		log_error("maildir: %s: UIDs exhausted", dir);
		return -OM_ELIMIT;
	}
	struct uidlist_rec rec = { .uid = uid, .base = om_strndup(base, base_len) };
	rec_push(ul, &rec);
	ul->nextuid = uid + 1;
	*uid_r = uid;
	if (!ul->exists || ul->version != 3) {
		int ret = uidlist_write_locked(dir, ul);
		if (ret == 0) {
			ul->exists = true;
			ul->version = 3;
		}
		return ret;
	}
	/* Dovecot appends too, leaving the header's N behind; readers take
	 * max(N, last uid + 1). */
	struct buf path = BUF_INIT, line = BUF_INIT;
	buf_printf(&path, "%s/" MAILDIR_UIDLIST, dir);
	rec_line(&line, &rec);
	int ret = 0;
	int fd = open(path.data, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd >= 0) {
		/* a line must start at a line start even if the file was cut */
		struct stat st;
		char last = '\n';
		if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
			last = '\n';
		if ((last != '\n' && write_all(fd, "\n", 1) < 0) || write_all(fd, line.data, line.len) < 0)
			ret = errno_code(errno);
		if (close(fd) < 0 && ret == 0)
			ret = errno_code(errno);
	} else {
		ret = errno_code(errno);
	}
	if (ret < 0)
		log_error("maildir: append to %s: %s", path.data, strerror(errno));
	buf_free(&path);
	buf_free(&line);
	return ret;
}

static pthread_mutex_t uidvalidity_lock = PTHREAD_MUTEX_INITIALIZER;

uint32_t maildir_uidvalidity_next(const char *root)
{
	static const char prefix[] = "dovecot-uidvalidity.";
	struct buf path = BUF_INIT, data = BUF_INIT, marker = BUF_INIT, newmarker = BUF_INIT;
	uint32_t cur = 0;

	pthread_mutex_lock(&uidvalidity_lock);
	buf_printf(&path, "%s/dovecot-uidvalidity", root);
	if (read_file(path.data, 64, &data) == 0) {
		char *end;
		unsigned long v = strtoul(data.data, &end, 16);
		if (end != data.data && v <= UINT32_MAX)
			cur = (uint32_t)v;
	}
	DIR *d = opendir(root);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, sizeof(prefix) - 1) != 0)
			continue;
		char *end;
		const char *hex = de->d_name + sizeof(prefix) - 1;
		unsigned long v = strtoul(hex, &end, 16);
		if (*end != '\0' || end == hex || v > UINT32_MAX)
			continue;
		if ((uint32_t)v >= cur)
			cur = (uint32_t)v;
		buf_reset(&marker);
		buf_printf(&marker, "%s/%s", root, de->d_name);
	}
	if (d != NULL)
		closedir(d);
	uint32_t now = (uint32_t)time(NULL);
	uint32_t next = cur + 1 > now ? cur + 1 : now;
	if (next == 0)
		next = 1;
	buf_printf(&newmarker, "%s/%s%08x", root, prefix, next);
	if (marker.len > 0 && rename(marker.data, newmarker.data) == 0) {
		/* moved */
	} else {
		int fd = open(newmarker.data, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
	buf_reset(&data);
	buf_printf(&data, "%08x", next);
	(void)file_replace(path.data, data.data, data.len);
	pthread_mutex_unlock(&uidvalidity_lock);
	buf_free(&path);
	buf_free(&data);
	buf_free(&marker);
	buf_free(&newmarker);
	return next;
}
