/* file:DIR — every object is the file DIR/<key>.
 *
 * A put writes a temp file beside the target (.om.tmp.<pid>.<tid>.<n>),
 * fsyncs it, and renames (IF_ABSENT: link, which fails if the key exists)
 * and then fsyncs the directory: readers see the old or the new object,
 * never a torn one, and a returned put survives a crash.
 *
 * The etag and the metadata live in one xattr "user.objmail" set on the temp
 * file before the rename, so they change atomically with the data. The etag
 * is random per put (a stat-based one can repeat when an inode number is
 * reused). On filesystems without user xattrs they go to a sidecar file
 * ".om.meta.<name>" written right after the data (documented as weaker).
 *
 * IF_MATCH takes flock() on the current file, re-checks that it is still the
 * file under the name, compares the etag and renames while holding it; flock
 * works across processes and across threads (separate open()s). Locks are
 * the generic emulation over these conditional puts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/file-attrs.h"
#include "objstore/objstore-private.h"

#define XATTR_NAME "user.objmail"
#define STREAM_CHUNK (256 * 1024)
#define MATCH_RETRIES 100

bool objstore_file_force_sidecar;

struct file_store {
	struct objstore base;
	char *root;
	int root_fd;
	bool use_xattr;
	atomic_uint tmp_counter;
};

static int errno_to_om(int err)
{
	switch (err) {
	case ENOENT: case ENOTDIR: return -OM_ENOTFOUND;
	case EEXIST: return -OM_EEXISTS;
	case ENOSPC: case EDQUOT: return -OM_EQUOTA;
	case EACCES: case EPERM: case EROFS: return -OM_EPERM;
	case ENAMETOOLONG: return -OM_EINVAL; /* a component > NAME_MAX */
	default: return -OM_EIO;
	}
}

/* "a/b/c" -> dir "a/b", base "c"; "c" -> dir "" */
static void split_key(const char *key, struct buf *dir, const char **base_r)
{
	const char *slash = strrchr(key, '/');
	buf_reset(dir);
	if (slash == NULL) {
		*base_r = key;
		return;
	}
	buf_append(dir, key, (size_t)(slash - key));
	*base_r = slash + 1;
}

static int open_dir(struct file_store *fs, const char *dir)
{
	if (dir[0] == '\0')
		return dup(fs->root_fd);
	return openat(fs->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Create each missing component of dir, fsyncing the parent of every new one
 * (a new directory entry is data too). */
static int make_dirs(struct file_store *fs, const char *dir)
{
	struct buf path = BUF_INIT;
	int ret = 0;
	const char *p = dir;
	while (ret == 0 && *p != '\0') {
		const char *slash = strchr(p, '/');
		size_t clen = slash == NULL ? strlen(p) : (size_t)(slash - p);
		size_t parent_len = path.len;
		if (path.len > 0)
			buf_append_c(&path, '/');
		buf_append(&path, p, clen);
		p += clen;
		if (*p == '/')
			p++;
		if (mkdirat(fs->root_fd, path.data, 0755) == 0) {
			char *parent = om_strndup(path.data, parent_len);
			int pfd = open_dir(fs, parent);
			free(parent);
			if (pfd >= 0) {
				(void)fsync(pfd);
				close(pfd);
			}
		} else if (errno != EEXIST) {
			log_warn("objstore file: mkdir %s/%s: %m", fs->root, path.data);
			/* A file where a directory should be: the key space
			 * collides ("a" and "a/b"); the store can't hold both. */
			ret = errno == ENOTDIR ? -OM_EINVAL : errno_to_om(errno);
		}
	}
	buf_free(&path);
	return ret;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void new_etag(char etag[FILE_ETAG_LEN + 1])
{
	unsigned char rnd[FILE_ETAG_LEN / 2];
	size_t got = 0;
	while (got < sizeof(rnd)) {
		ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom: %m");
		}
		got += (size_t)n;
	}
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof(rnd); i++) {
		etag[2 * i] = hex[rnd[i] >> 4];
		etag[2 * i + 1] = hex[rnd[i] & 15];
	}
	etag[FILE_ETAG_LEN] = '\0';
}

/* A sidecar starts with "I <inode>\n" of the data file it describes: while
 * a put replaces both, a reader can pair old data with a new sidecar or the
 * reverse; a mismatch then reads as "no sidecar" (a stat etag, which no
 * IF_MATCH will accept: the caller retries). */
static bool sidecar_strip_ino(struct buf *blob, const struct stat *st)
{
	const char *nl = memchr(blob->data, '\n', blob->len);
	unsigned long long ino;
	if (blob->len < 3 || memcmp(blob->data, "I ", 2) != 0 || nl == NULL ||
	    !om_parse_u64(blob->data + 2, (size_t)(nl - blob->data - 2), &ino) ||
	    ino != (unsigned long long)st->st_ino)
		return false;
	size_t skip = (size_t)(nl - blob->data) + 1;
	memmove(blob->data, blob->data + skip, blob->len - skip + 1);
	blob->len -= skip;
	return true;
}

/* Read the attrs of the open object fd: xattr, else sidecar, else derived
 * from stat (files put there by hand). */
static int read_attrs(struct file_store *fs, int fd, int dir_fd, const char *base,
		      const struct stat *st, struct file_attrs *a)
{
	struct buf blob = BUF_INIT;
	int ret = -OM_ENOTFOUND;
	if (fs->use_xattr) {
		ret = file_attrs_fget(fd, XATTR_NAME, &blob);
	} else {
		struct buf side = BUF_INIT;
		buf_printf(&side, ".om.meta.%s", base);
		ret = file_attrs_read_file(dir_fd, side.data, &blob);
		buf_free(&side);
		if (ret == 0 && !sidecar_strip_ino(&blob, st))
			ret = -OM_ENOTFOUND; /* it belongs to another version */
	}
	if (ret == 0 && file_attrs_parse(&blob, a) < 0)
		ret = -OM_ENOTFOUND;
	buf_free(&blob);
	if (ret == -OM_ENOTFOUND) {
		file_attrs_from_stat(st, a);
		ret = 0;
	}
	return ret;
}

static void fill_stat(const struct stat *st, const struct file_attrs *a,
		      struct objstore_stat *stat_r)
{
	if (stat_r == NULL)
		return;
	stat_r->size = (uint64_t)st->st_size;
	stat_r->mtime = (int64_t)st->st_mtim.tv_sec;
	size_t n = strnlen(a->etag, sizeof(stat_r->etag) - 1);
	memcpy(stat_r->etag, a->etag, n);
	stat_r->etag[n] = '\0';
}

/* Put */

struct put_ctx {
	struct file_store *fs;
	int dir_fd;
	const char *base;
	char tmp[96];
	char etag[FILE_ETAG_LEN + 1];
	struct buf attrs;
	ino_t ino; /* of the temp file, which becomes the object */
};

static int write_sidecar(struct put_ctx *pc)
{
	if (pc->fs->use_xattr)
		return 0;
	struct buf name = BUF_INIT, blob = BUF_INIT;
	buf_printf(&name, ".om.meta.%s", pc->base);
	buf_printf(&blob, "I %llu\n", (unsigned long long)pc->ino);
	buf_append(&blob, pc->attrs.data, pc->attrs.len);
	int ret = file_attrs_write_file(pc->dir_fd, name.data, pc->tmp, &blob);
	buf_free(&name);
	buf_free(&blob);
	return ret;
}

/* Write data + attrs to the temp file and make it durable. */
static int put_write_tmp(struct put_ctx *pc, const void *data, size_t len)
{
	int fd = openat(pc->dir_fd, pc->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_warn("objstore file: create %s/%s: %m", pc->fs->root, pc->tmp);
		return errno_to_om(errno);
	}
	int ret = 0;
	struct stat st;
	if (fstat(fd, &st) == 0)
		pc->ino = st.st_ino;
	if (write_all(fd, data, len) < 0) {
		log_warn("objstore file: write %s: %m", pc->fs->root);
		ret = errno_to_om(errno);
	} else if (pc->fs->use_xattr &&
		   fsetxattr(fd, XATTR_NAME, pc->attrs.data, pc->attrs.len, 0) < 0) {
		/* ext4 keeps all xattrs of a file in one block. */
		ret = errno == E2BIG || errno == ENOSPC || errno == ERANGE ? -OM_EINVAL
									     : errno_to_om(errno);
		log_warn("objstore file: set metadata (%zu bytes) in %s: %m", pc->attrs.len,
			 pc->fs->root);
	} else if (fsync(fd) < 0) {
		log_warn("objstore file: fsync in %s: %m", pc->fs->root);
		ret = errno_to_om(errno);
	}
	close(fd);
	if (ret < 0)
		(void)unlinkat(pc->dir_fd, pc->tmp, 0);
	return ret;
}

static int put_if_absent(struct put_ctx *pc)
{
	int ret = 0;
	if (linkat(pc->dir_fd, pc->tmp, pc->dir_fd, pc->base, 0) < 0) {
		ret = errno == EEXIST ? -OM_EEXISTS : errno_to_om(errno);
		if (ret != -OM_EEXISTS)
			log_warn("objstore file: link %s: %m", pc->fs->root);
	}
	(void)unlinkat(pc->dir_fd, pc->tmp, 0);
	if (ret == 0)
		ret = write_sidecar(pc);
	return ret;
}

static int put_if_match(struct put_ctx *pc, const char *if_match)
{
	for (int attempt = 0; attempt < MATCH_RETRIES; attempt++) {
		int cur = openat(pc->dir_fd, pc->base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (cur < 0)
			return errno == ENOENT ? -OM_EEXISTS : errno_to_om(errno);
		struct stat locked, now;
		if (flock(cur, LOCK_EX) < 0 || fstat(cur, &locked) < 0) {
			close(cur);
			return errno_to_om(errno);
		}
		if (fstatat(pc->dir_fd, pc->base, &now, AT_SYMLINK_NOFOLLOW) < 0) {
			close(cur);
			if (errno == ENOENT)
				return -OM_EEXISTS; /* deleted meanwhile */
			return errno_to_om(errno);
		}
		if (now.st_ino != locked.st_ino || now.st_dev != locked.st_dev) {
			close(cur); /* replaced while we waited: lock the new one */
			continue;
		}
		struct file_attrs a;
		int ret = read_attrs(pc->fs, cur, pc->dir_fd, pc->base, &locked, &a);
		if (ret == 0 && strcmp(a.etag, if_match) != 0)
			ret = -OM_EEXISTS;
		if (ret == 0 && renameat(pc->dir_fd, pc->tmp, pc->dir_fd, pc->base) < 0)
			ret = errno_to_om(errno);
		if (ret == 0)
			ret = write_sidecar(pc);
		close(cur);
		return ret;
	}
	return -OM_ETEMP;
}

static int file_put(struct objstore *store, const char *key, const void *data, size_t len,
		    const struct objstore_meta *meta, unsigned flags, const char *if_match,
		    char *etag_r)
{
	struct file_store *fs = (struct file_store *)store;
	struct buf dir = BUF_INIT;
	struct put_ctx pc = { .fs = fs, .attrs = BUF_INIT };
	split_key(key, &dir, &pc.base);
	pc.dir_fd = open_dir(fs, buf_cstr(&dir));
	if (pc.dir_fd < 0 && errno == ENOENT) {
		int ret = make_dirs(fs, buf_cstr(&dir));
		if (ret < 0) {
			buf_free(&dir);
			return ret;
		}
		pc.dir_fd = open_dir(fs, buf_cstr(&dir));
	}
	if (pc.dir_fd < 0) {
		int ret = errno == ENOTDIR ? -OM_EINVAL : errno_to_om(errno);
		buf_free(&dir);
		return ret;
	}
	unsigned n = atomic_fetch_add(&fs->tmp_counter, 1);
	struct buf tmp = BUF_INIT;
	buf_printf(&tmp, ".om.tmp.%ld.%ld.%u", (long)getpid(), (long)gettid(), n);
	om_assert(tmp.len < sizeof(pc.tmp));
	memcpy(pc.tmp, tmp.data, tmp.len + 1);
	buf_free(&tmp);
	new_etag(pc.etag);
	file_attrs_format(pc.etag, meta, &pc.attrs);

	int ret = put_write_tmp(&pc, data, len);
	if (ret == 0) {
		if ((flags & OBJSTORE_PUT_IF_ABSENT) != 0) {
			ret = put_if_absent(&pc);
		} else if ((flags & OBJSTORE_PUT_IF_MATCH) != 0) {
			ret = put_if_match(&pc, if_match);
		} else {
			if (renameat(pc.dir_fd, pc.tmp, pc.dir_fd, pc.base) < 0) {
				ret = errno == EISDIR ? -OM_EINVAL : errno_to_om(errno);
				log_warn("objstore file: rename to %s/%s: %m", fs->root, key);
			} else {
				ret = write_sidecar(&pc);
			}
		}
		if (ret < 0)
			(void)unlinkat(pc.dir_fd, pc.tmp, 0);
	}
	if (ret == 0 && fsync(pc.dir_fd) < 0) {
		log_warn("objstore file: fsync dir of %s/%s: %m", fs->root, key);
		ret = errno_to_om(errno);
	}
	if (ret == 0 && etag_r != NULL)
		memcpy(etag_r, pc.etag, sizeof(pc.etag));
	close(pc.dir_fd);
	buf_free(&pc.attrs);
	buf_free(&dir);
	return ret;
}

/* Read side */

struct open_obj {
	int fd;
	int dir_fd;
	struct stat st;
	struct file_attrs attrs;
};

static int open_object(struct file_store *fs, const char *key, struct open_obj *o)
{
	struct buf dir = BUF_INIT;
	const char *base;
	split_key(key, &dir, &base);
	o->fd = -1;
	o->dir_fd = open_dir(fs, buf_cstr(&dir));
	buf_free(&dir);
	if (o->dir_fd < 0)
		return errno_to_om(errno);
	o->fd = openat(o->dir_fd, base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int ret = 0;
	if (o->fd < 0)
		ret = errno == ELOOP ? -OM_ENOTFOUND : errno_to_om(errno);
	else if (fstat(o->fd, &o->st) < 0)
		ret = errno_to_om(errno);
	else if (!S_ISREG(o->st.st_mode))
		ret = -OM_ENOTFOUND;
	else
		ret = read_attrs(fs, o->fd, o->dir_fd, base, &o->st, &o->attrs);
	if (ret < 0) {
		if (o->fd >= 0)
			close(o->fd);
		close(o->dir_fd);
		if (ret == -OM_EIO)
			log_warn("objstore file: open %s/%s failed", fs->root, key);
	}
	return ret;
}

static void close_object(struct open_obj *o)
{
	close(o->fd);
	close(o->dir_fd);
	file_attrs_free(&o->attrs);
}

static void range_of(const struct stat *st, uint64_t offset, uint64_t length,
		     uint64_t *start_r, uint64_t *end_r)
{
	uint64_t size = (uint64_t)st->st_size;
	*start_r = offset < size ? offset : size;
	*end_r = size;
	if (length != 0 && length < size - *start_r)
		*end_r = *start_r + length;
}

static int pread_range(int fd, uint64_t start, uint64_t end,
		       int (*sink)(void *ctx, const void *data, size_t len), void *ctx,
		       struct buf *out)
{
	char *chunk = out == NULL ? om_malloc(STREAM_CHUNK) : NULL;
	int ret = 0;
	while (ret == 0 && start < end) {
		size_t want = end - start > STREAM_CHUNK ? STREAM_CHUNK : (size_t)(end - start);
		char *dst = chunk;
		if (out != NULL) {
			buf_reserve(out, want);
			dst = out->data + out->len;
		}
		ssize_t n = pread(fd, dst, want, (off_t)start);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno_to_om(errno);
			break;
		}
		if (n == 0)
			break; /* shorter than fstat said: can't happen to our files */
		start += (uint64_t)n;
		if (out != NULL) {
			out->len += (size_t)n;
			out->data[out->len] = '\0';
		} else {
			ret = sink(ctx, chunk, (size_t)n);
		}
	}
	free(chunk);
	return ret;
}

static int file_get(struct objstore *store, const char *key, uint64_t offset, uint64_t length,
		    struct buf *out, struct objstore_meta *meta_r, struct objstore_stat *stat_r)
{
	struct open_obj o;
	int ret = open_object((struct file_store *)store, key, &o);
	if (ret < 0)
		return ret;
	uint64_t start, end;
	range_of(&o.st, offset, length, &start, &end);
	if (end - start > SIZE_MAX / 2)
		ret = -OM_ELIMIT;
	else
		ret = pread_range(o.fd, start, end, NULL, NULL, out);
	if (ret == 0) {
		fill_stat(&o.st, &o.attrs, stat_r);
		if (meta_r != NULL)
			file_attrs_take_meta(&o.attrs, meta_r);
	}
	close_object(&o);
	return ret;
}

static int file_get_stream(struct objstore *store, const char *key, uint64_t offset,
			   uint64_t length, int (*sink)(void *ctx, const void *data, size_t len),
			   void *ctx)
{
	struct open_obj o;
	int ret = open_object((struct file_store *)store, key, &o);
	if (ret < 0)
		return ret;
	uint64_t start, end;
	range_of(&o.st, offset, length, &start, &end);
	ret = pread_range(o.fd, start, end, sink, ctx, NULL);
	close_object(&o);
	return ret;
}

static int file_head(struct objstore *store, const char *key, struct objstore_stat *stat_r,
		     struct objstore_meta *meta_r)
{
	struct open_obj o;
	int ret = open_object((struct file_store *)store, key, &o);
	if (ret < 0)
		return ret;
	fill_stat(&o.st, &o.attrs, stat_r);
	if (meta_r != NULL)
		file_attrs_take_meta(&o.attrs, meta_r);
	close_object(&o);
	return 0;
}

static int file_del(struct objstore *store, const char *key)
{
	struct file_store *fs = (struct file_store *)store;
	struct buf dir = BUF_INIT;
	const char *base;
	split_key(key, &dir, &base);
	int dir_fd = open_dir(fs, buf_cstr(&dir));
	buf_free(&dir);
	if (dir_fd < 0)
		return errno_to_om(errno);
	int ret = 0;
	if (unlinkat(dir_fd, base, 0) < 0)
		ret = errno == EISDIR ? -OM_ENOTFOUND : errno_to_om(errno);
	if (ret == 0 && !fs->use_xattr) {
		struct buf side = BUF_INIT;
		buf_printf(&side, ".om.meta.%s", base);
		(void)unlinkat(dir_fd, side.data, 0);
		buf_free(&side);
	}
	if (ret == 0 && fsync(dir_fd) < 0)
		ret = errno_to_om(errno);
	close(dir_fd);
	return ret;
}

/* Open / close */

/* Probe user xattrs once: tmpfs before 6.6, some NFS and FUSE lack them. */
static bool probe_xattr(struct file_store *fs)
{
	struct buf name = BUF_INIT;
	buf_printf(&name, ".om.probe.%ld.%ld", (long)getpid(), (long)gettid());
	int fd = openat(fs->root_fd, name.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = false;
	if (fd >= 0) {
		ok = fsetxattr(fd, XATTR_NAME, "x", 1, 0) == 0;
		close(fd);
		(void)unlinkat(fs->root_fd, name.data, 0);
	}
	buf_free(&name);
	if (!ok)
		log_info("objstore file: %s has no user xattrs; metadata goes to sidecar files",
			 fs->root);
	return ok;
}

static int file_open(const char *spec, struct objstore **store_r, char **error_r)
{
	const char *dir = spec + strlen("file:");
	if (strncmp(dir, "//", 2) == 0)
		dir += 2;
	if (dir[0] == '\0') {
		objstore_set_error(error_r, "file: needs a directory (file:/path)");
		return -OM_EINVAL;
	}
	struct file_store *fs = om_calloc(1, sizeof(*fs));
	fs->root = om_strdup(dir);
	size_t rl = strlen(fs->root);
	while (rl > 1 && fs->root[rl - 1] == '/')
		fs->root[--rl] = '\0';
	if (mkdir(fs->root, 0755) < 0 && errno != EEXIST) {
		objstore_set_error(error_r, "file: mkdir %s: %s", fs->root, strerror(errno));
		free(fs->root);
		free(fs);
		return -OM_EINVAL;
	}
	fs->root_fd = open(fs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->root_fd < 0) {
		objstore_set_error(error_r, "file: open %s: %s", fs->root, strerror(errno));
		free(fs->root);
		free(fs);
		return -OM_EINVAL;
	}
	fs->use_xattr = !objstore_file_force_sidecar && probe_xattr(fs);
	fs->base.caps = OBJSTORE_CAP_COND_PUT | OBJSTORE_CAP_LOCK | OBJSTORE_CAP_LOCAL;
	struct buf d = BUF_INIT;
	buf_printf(&d, "file:%s", fs->root);
	fs->base.describe = buf_steal(&d);
	*store_r = &fs->base;
	return 0;
}

static void file_close(struct objstore *store)
{
	struct file_store *fs = (struct file_store *)store;
	close(fs->root_fd);
	free(fs->root);
	free(fs);
}

/* Shared with file-list.c */
int objstore_file_list(struct objstore *store, const char *prefix,
		       int (*cb)(void *ctx, const char *key, uint64_t size), void *ctx);
int objstore_file_root_fd(const struct objstore *store);

int objstore_file_root_fd(const struct objstore *store)
{
	return ((const struct file_store *)store)->root_fd;
}

const struct objstore_ops objstore_file_ops = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.put = file_put,
	.get = file_get,
	.head = file_head,
	.del = file_del,
	.list = objstore_file_list,
	.get_stream = file_get_stream,
};
