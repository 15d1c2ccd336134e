/* Replay driver for the libFuzzer targets without libFuzzer (gcc, ASan):
 * every argument is an input file or a directory whose regular files are
 * replayed (recursively, in readdir order). Exit 0 when every input ran;
 * a sanitizer report or abort() in the target ends the process non-zero.
 *
 *   build/fuzz_mime tests/fuzz/corpus/mime */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (16u * 1024 * 1024)

static unsigned replayed;

static int replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL) {
		perror(path);
		return -1;
	}
	uint8_t *data = malloc(REPLAY_MAX_INPUT);
	if (data == NULL)
		abort();
	size_t n = fread(data, 1, REPLAY_MAX_INPUT, fp);
	fclose(fp);
	/* an exact-size copy so ASan sees reads past the input's end */
	uint8_t *exact = malloc(n > 0 ? n : 1);
	if (exact == NULL)
		abort();
	memcpy(exact, data, n);
	free(data);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	replayed++;
	return 0;
}

static int replay_path(const char *path, unsigned depth)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	if (depth > 8)
		return 0;
	DIR *d = opendir(path);
	if (d == NULL) {
		perror(path);
		return -1;
	}
	int ret = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		size_t len = strlen(path) + strlen(e->d_name) + 2;
		char *sub = malloc(len);
		if (sub == NULL)
			abort();
		snprintf(sub, len, "%s/%s", path, e->d_name);
		if (replay_path(sub, depth + 1) < 0)
			ret = -1;
		free(sub);
	}
	closedir(d);
	return ret;
}

int main(int argc, char **argv)
{
	int ret = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (replay_path(argv[i], 0) < 0)
			ret = 1;
	}
	printf("%u inputs replayed\n", replayed);
	return ret;
}
