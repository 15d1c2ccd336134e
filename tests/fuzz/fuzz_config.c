/* libFuzzer entry point for the config reader (lib/config.c): the input is
 * the whole file. Loaded configs are printed back (every key) and loaded
 * again from that output, which must succeed. The first line is also tried
 * as a size, a duration and a user name for config_expand_user_path, whose
 * result must never leave the template's directory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/log.h"
#include "fuzz_tmpfile.h"

static void check_expand(const char *user)
{
	struct buf out = BUF_INIT;
	if (config_expand_user_path("/srv/mail/%d/%n", user, &out) == 0) {
		const char *p = buf_cstr(&out);
		if (strncmp(p, "/srv/mail/", 10) != 0 || strstr(p, "/../") != NULL ||
		    strstr(p, "/./") != NULL || strlen(p) != out.len)
			abort();
		size_t l = out.len;
		if ((l >= 3 && strcmp(p + l - 3, "/..") == 0) || (l >= 2 && strcmp(p + l - 2, "/.") == 0))
			abort();
	}
	buf_reset(&out);
	if (config_expand_user_path("/srv/mail/%u", user, &out) == 0) {
		const char *p = buf_cstr(&out) + 10;
		if (strchr(p, '/') != NULL || strcmp(p, "..") == 0 || strcmp(p, ".") == 0 || *p == '\0')
			abort();
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		log_set_level(LOG_LEVEL_ERROR);
		quiet = true;
	}
	if (size > 65536)
		return 0;
	struct om_config cfg;
	struct buf err = BUF_INIT;
	if (config_load(&cfg, fuzz_tmpfile(data, size), &err) == 0) {
		struct buf out = BUF_INIT;
		config_print(&cfg, &out);
		config_free(&cfg);
		buf_reset(&err);
		if (config_load(&cfg, fuzz_tmpfile((const uint8_t *)buf_cstr(&out), out.len), &err) != 0)
			abort();
		buf_free(&out);
	}
	config_free(&cfg);
	buf_free(&err);

	const uint8_t *nl = memchr(data, '\n', size);
	size_t first = nl != NULL ? (size_t)(nl - data) : size;
	if (first < 512) {
		char line[512];
		memcpy(line, data, first);
		line[first] = '\0';
		uint64_t sz;
		unsigned secs;
		(void)config_parse_size(line, &sz);
		(void)config_parse_duration(line, &secs);
		check_expand(line);
	}
	return 0;
}
