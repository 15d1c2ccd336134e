/* The etag + metadata record shared by file.c and fscache.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/om-error.h"
#include "objstore/file-attrs.h"
#include "objstore/objstore-private.h"

void file_attrs_format(const char *etag, const struct objstore_meta *meta, struct buf *out)
{
	buf_printf(out, "E %s\n", etag);
	for (size_t i = 0; meta != NULL && i < meta->n; i++)
		buf_printf(out, "%s=%s\n", meta->names[i], meta->values[i]);
}

int file_attrs_parse(const struct buf *blob, struct file_attrs *a)
{
	memset(a, 0, sizeof(*a));
	const char *p = blob->data, *end = blob->data + blob->len;
	if (blob->len < 3 || memcmp(p, "E ", 2) != 0)
		return -1;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || (size_t)(nl - p - 2) >= sizeof(a->etag))
		return -1;
	memcpy(a->etag, p + 2, (size_t)(nl - p - 2));
	p = nl + 1;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		const char *eq = nl == NULL ? NULL : memchr(p, '=', (size_t)(nl - p));
		if (eq == NULL || a->meta.n >= OBJSTORE_META_MAX)
			goto bad;
		char *name = om_strndup(p, (size_t)(eq - p));
		char *value = om_strndup(eq + 1, (size_t)(nl - eq - 1));
		objstore_meta_set(&a->meta, name, value);
		free(name);
		free(value);
		p = nl + 1;
	}
	if (!objstore_meta_valid(&a->meta))
		goto bad;
	return 0;
bad:
	objstore_meta_free(&a->meta);
	return -1;
}

void file_attrs_from_stat(const struct stat *st, struct file_attrs *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->etag, sizeof(a->etag), "s%llx-%llx-%llx.%lx",
		 (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
		 (unsigned long long)st->st_mtim.tv_sec, (unsigned long)st->st_mtim.tv_nsec);
}

void file_attrs_take_meta(struct file_attrs *a, struct objstore_meta *meta_r)
{
	*meta_r = a->meta;
	memset(&a->meta, 0, sizeof(a->meta));
}

void file_attrs_free(struct file_attrs *a)
{
	objstore_meta_free(&a->meta);
}

int file_attrs_fget(int fd, const char *name, struct buf *blob)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		ssize_t size = fgetxattr(fd, name, NULL, 0);
		if (size < 0)
			return errno == ENODATA || errno == ENOTSUP ? -OM_ENOTFOUND : -OM_EIO;
		if (size > FILE_ATTRS_MAX)
			return -OM_EIO;
		buf_reset(blob);
		buf_reserve(blob, (size_t)size);
		ssize_t n = fgetxattr(fd, name, blob->data, (size_t)size);
		if (n < 0 && errno == ERANGE)
			continue; /* grew between the two calls */
		if (n < 0)
			return errno == ENODATA ? -OM_ENOTFOUND : -OM_EIO;
		blob->len = (size_t)n;
		blob->data[n] = '\0';
		return 0;
	}
	return -OM_EIO;
}

int file_attrs_read_file(int dir_fd, const char *name, struct buf *blob)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? -OM_ENOTFOUND : -OM_EIO;
	buf_reset(blob);
	int ret = 0;
	for (;;) {
		buf_reserve(blob, 4096);
		ssize_t n = read(fd, blob->data + blob->len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -OM_EIO;
			break;
		}
		if (n == 0)
			break;
		blob->len += (size_t)n;
		blob->data[blob->len] = '\0';
		if (blob->len > FILE_ATTRS_MAX) {
			ret = -OM_EIO;
			break;
		}
	}
	close(fd);
	return ret;
}

int file_attrs_write_file(int dir_fd, const char *name, const char *tmp_name,
			  const struct buf *blob)
{
	int fd = openat(dir_fd, tmp_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -OM_EIO;
	int ret = 0;
	size_t off = 0;
	while (ret == 0 && off < blob->len) {
		ssize_t n = write(fd, blob->data + off, blob->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = errno == ENOSPC ? -OM_EQUOTA : -OM_EIO;
		else
			off += (size_t)n;
	}
	if (ret == 0 && fsync(fd) < 0)
		ret = -OM_EIO;
	close(fd);
	if (ret == 0 && renameat(dir_fd, tmp_name, dir_fd, name) < 0)
		ret = -OM_EIO;
	if (ret < 0)
		(void)unlinkat(dir_fd, tmp_name, 0);
	return ret;
}
