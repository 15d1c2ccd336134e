/* Listing a file: store: a directory walk in key byte order. Each directory
 * is read whole and sorted as its keys would sort: a subdirectory "a" sorts
 * as "a/", so that "a.c" (0x2e) comes before "a/b" (0x2f). A prefix that
 * names a directory ("u/ab/user/m/") starts the walk there. Temp files of
 * puts that crashed are removed on the way. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/objstore-private.h"

int objstore_file_list(struct objstore *store, const char *prefix,
		       int (*cb)(void *ctx, const char *key, uint64_t size), void *ctx);
int objstore_file_root_fd(const struct objstore *store);

#define DIR_ENTRIES_MAX 10000000
#define STALE_TMP_SECS 3600

struct entry {
	char *name;
	bool is_dir;
	uint64_t size;
};

static int entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	const unsigned char *x = (const unsigned char *)a->name;
	const unsigned char *y = (const unsigned char *)b->name;
	while (*x != '\0' && *x == *y) {
		x++;
		y++;
	}
	unsigned cx = *x != '\0' ? *x : a->is_dir ? '/' : 0;
	unsigned cy = *y != '\0' ? *y : b->is_dir ? '/' : 0;
	return cx < cy ? -1 : cx > cy ? 1 : 0;
}

struct walk {
	int root_fd;
	int (*cb)(void *ctx, const char *key, uint64_t size);
	void *ctx;
	struct buf key; /* the directory being walked, "" or "a/b/" */
};

static void free_entries(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

/* Read the directory at w->key (relative to the root), entries starting
 * with name_prefix. */
static int read_dir(struct walk *w, const char *name_prefix, struct entry **entries_r,
		    size_t *n_r)
{
	*entries_r = NULL;
	*n_r = 0;
	int fd = w->key.len == 0 ? dup(w->root_fd)
				 : openat(w->root_fd, w->key.data,
					  O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -OM_EIO;
	int fd2 = dup(fd);
	DIR *d = fd2 < 0 ? NULL : fdopendir(fd2);
	if (d == NULL) {
		if (fd2 >= 0)
			close(fd2);
		close(fd);
		return -OM_EIO;
	}
	size_t plen = strlen(name_prefix), n = 0, cap = 0;
	struct entry *e = NULL;
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		struct stat st;
		if (strncmp(name, ".om.tmp.", 8) == 0) {
			/* A put's temp file lives for milliseconds; one this old
			 * was left by a crash. */
			if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
			    st.st_mtime < time(NULL) - STALE_TMP_SECS && unlinkat(fd, name, 0) == 0)
				log_info("objstore file: removed stale %s%s", w->key.data, name);
			continue;
		}
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		    strncmp(name, ".om.", 4) == 0 || strncmp(name, name_prefix, plen) != 0)
			continue;
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* deleted meanwhile */
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue;
		if (n >= DIR_ENTRIES_MAX) {
			ret = -OM_ELIMIT;
			break;
		}
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			e = om_reallocarray(e, cap, sizeof(*e));
		}
		e[n].name = om_strdup(name);
		e[n].is_dir = S_ISDIR(st.st_mode);
		e[n].size = (uint64_t)st.st_size;
		n++;
	}
	closedir(d);
	close(fd);
	if (ret < 0) {
		free_entries(e, n);
		return ret;
	}
	if (n > 1)
		qsort(e, n, sizeof(*e), entry_cmp);
	*entries_r = e;
	*n_r = n;
	return 0;
}

static int walk_dir(struct walk *w, const char *name_prefix, unsigned depth)
{
	/* Keys are <= 1024 bytes, so no real tree is deeper than 512. */
	if (depth > 512)
		return 0;
	struct entry *e;
	size_t n;
	int ret = read_dir(w, name_prefix, &e, &n);
	if (ret < 0)
		return ret;
	size_t base_len = w->key.len;
	for (size_t i = 0; i < n && ret == 0; i++) {
		buf_truncate(&w->key, base_len);
		buf_append_str(&w->key, e[i].name);
		if (e[i].is_dir) {
			buf_append_c(&w->key, '/');
			ret = walk_dir(w, "", depth + 1);
		} else if (objstore_key_valid(w->key.data)) {
			ret = w->cb(w->ctx, w->key.data, e[i].size);
		}
	}
	buf_truncate(&w->key, base_len);
	free_entries(e, n);
	return ret;
}

int objstore_file_list(struct objstore *store, const char *prefix,
		       int (*cb)(void *ctx, const char *key, uint64_t size), void *ctx)
{
	struct walk w = { objstore_file_root_fd(store), cb, ctx, BUF_INIT };
	const char *slash = strrchr(prefix, '/');
	const char *name_prefix = prefix;
	if (slash != NULL) {
		/* The directory part must itself be a valid key path, else no
		 * key can start with it (and "../" must not walk out). */
		char *dir = om_strndup(prefix, (size_t)(slash - prefix));
		bool ok = objstore_key_valid(dir);
		free(dir);
		if (!ok)
			return 0;
		buf_append(&w.key, prefix, (size_t)(slash - prefix) + 1);
		name_prefix = slash + 1;
	}
	int ret = walk_dir(&w, name_prefix, 0);
	buf_free(&w.key);
	return ret;
}
