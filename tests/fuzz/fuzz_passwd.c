/* libFuzzer entry point for the passwd-file passdb (auth/passwd_file.c):
 * the input is the whole file. Every listed user is looked up (and must be
 * found), plain-text entries are verified; a name that is not listed must
 * not be found. crypt(3) schemes are not verified: a bcrypt cost of 31
 * would stall the fuzzer and says nothing about the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/passdb.h"
#include "lib/log.h"
#include "fuzz_tmpfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		log_set_level(LOG_LEVEL_ERROR);
		quiet = true;
	}
	if (size > 65536)
		return 0;
	const char *path = fuzz_tmpfile(data, size);
	char spec[128];
	snprintf(spec, sizeof(spec), "passwd-file:%s", path);
	struct passdb *db;
	char *error = NULL;
	if (passdb_open(spec, &db, &error) != 0) {
		free(error);
		return 0;
	}
	char **names = NULL;
	size_t n = 0;
	if (passdb_list_users(db, &names, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct passdb_user u;
			if (passdb_lookup(db, names[i], &u) != 0)
				abort();
			passdb_user_free(&u);
			free(names[i]);
		}
		free(names);
	}
	struct passdb_user u;
	if (passdb_lookup(db, "no such user \x01", &u) == 0)
		abort();
	/* {PLAIN} lines: verify with the password they store */
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t l = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p);
		const char *c1 = memchr(p, ':', l);
		if (c1 != NULL && (size_t)(c1 - p) < 64 && l - (size_t)(c1 - p) > 8 &&
		    memcmp(c1 + 1, "{PLAIN}", 7) == 0) {
			char user[64], pw[64];
			memcpy(user, p, (size_t)(c1 - p));
			user[c1 - p] = '\0';
			const char *pws = c1 + 8;
			const char *c2 = memchr(pws, ':', (size_t)(p + l - pws));
			size_t pl = c2 != NULL ? (size_t)(c2 - pws) : (size_t)(p + l - pws);
			if (pl < sizeof(pw)) {
				memcpy(pw, pws, pl);
				pw[pl] = '\0';
				(void)passdb_verify(db, user, pw);
				(void)passdb_verify(db, user, "wrong");
			}
		}
		p += l + 1;
	}
	passdb_close(db);
	return 0;
}
