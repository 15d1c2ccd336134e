/* A per-process scratch file for targets whose API reads a path
 * (config_load, passwd-file): each input is written to it before the call. */
#ifndef OM_FUZZ_TMPFILE_H
#define OM_FUZZ_TMPFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *fuzz_tmpfile(const uint8_t *data, size_t size)
{
	static char path[64];
	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/om-fuzz-XXXXXX");
		int fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
	}
	FILE *fp = fopen(path, "wb");
	if (fp == NULL || fwrite(data, 1, size, fp) != size || fclose(fp) != 0)
		abort();
	return path;
}

static void fuzz_tmpfile_cleanup(void) __attribute__((destructor));
static void fuzz_tmpfile_cleanup(void)
{
	/* remove the file fuzz_tmpfile() created, if any */
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", fuzz_tmpfile((const uint8_t *)"", 0));
	unlink(buf);
}

#endif
