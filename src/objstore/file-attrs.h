/* The etag + metadata record of the file and fscache drivers:
 *   "E <etag>\n" then one "<name>=<value>\n" per metadata entry.
 * Stored as an xattr, a sidecar file, or an fscache entry header. */
#ifndef OM_OBJSTORE_FILE_ATTRS_H
#define OM_OBJSTORE_FILE_ATTRS_H

#include <sys/stat.h>

#include "objstore/objstore.h"

#define FILE_ETAG_LEN 32
#define FILE_ATTRS_MAX (64 * 1024)

struct file_attrs {
	char etag[80];
	struct objstore_meta meta;
};

void file_attrs_format(const char *etag, const struct objstore_meta *meta, struct buf *out);
/* 0, or -1 (meta left empty) if blob is not a valid record. */
int file_attrs_parse(const struct buf *blob, struct file_attrs *a);
/* An etag from what stat says, for files written by someone else. */
void file_attrs_from_stat(const struct stat *st, struct file_attrs *a);
/* Move a->meta into *meta_r. */
void file_attrs_take_meta(struct file_attrs *a, struct objstore_meta *meta_r);
void file_attrs_free(struct file_attrs *a);

/* xattr `name` of fd into blob: 0, -OM_ENOTFOUND if absent, -OM_EIO. */
int file_attrs_fget(int fd, const char *name, struct buf *blob);
/* Whole small file dir_fd/name into blob: 0, -OM_ENOTFOUND, -OM_EIO. */
int file_attrs_read_file(int dir_fd, const char *name, struct buf *blob);
/* Write blob durably to dir_fd/name through dir_fd/tmp_name + rename. */
int file_attrs_write_file(int dir_fd, const char *name, const char *tmp_name,
			  const struct buf *blob);

#endif
