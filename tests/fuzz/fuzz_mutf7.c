/* libFuzzer entry point for modified UTF-7 (RFC 3501 5.1.3): the IMAP
 * layer's codec (lib/mutf7.c) and the maildir driver's wrappers
 * (maildir-name.c), plus mailbox name -> directory mapping.
 *
 * Invariants: decoding accepts only canonical input (re-encoding gives it
 * back), encoding output decodes to the input, both codecs agree, and a
 * mailbox name never maps to a directory outside the root. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-parser.h"
#include "storage/maildir/maildir.h"

static bool same(const struct buf *b, const char *s, size_t len)
{
	return b->len == len && memcmp(buf_cstr(b), s, len) == 0;
}

#define ROOT "/srv/mail/alice"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	const char *s = (const char *)data;
	struct buf a = BUF_INIT, back = BUF_INIT, m = BUF_INIT;

	if (mutf7_to_utf8(s, size, &a)) {
		if (!utf8_to_mutf7(buf_cstr(&a), a.len, &back) || !same(&back, s, size))
			abort();
		/* the maildir codec must accept what IMAP accepts */
		if (mutf7_decode(s, size, &m) != 0 || !same(&m, buf_cstr(&a), a.len))
			abort();
	}
	buf_reset(&a);
	buf_reset(&back);
	buf_reset(&m);
	if (utf8_to_mutf7(s, size, &a)) {
		if (!mutf7_to_utf8(buf_cstr(&a), a.len, &back) || !same(&back, s, size))
			abort();
		if (mutf7_encode(s, size, &m) != 0 || !same(&m, buf_cstr(&a), a.len))
			abort();
	}
	buf_reset(&a);
	buf_reset(&back);
	buf_reset(&m);

	if (memchr(s, '\0', size) == NULL) {
		char *name = malloc(size + 1);
		if (name == NULL)
			abort();
		memcpy(name, s, size);
		name[size] = '\0';
		if (maildir_name_to_dir(ROOT, name, &a) == 0) {
			const char *dir = buf_cstr(&a);
			if (strncmp(dir, ROOT, strlen(ROOT)) != 0)
				abort();
			const char *rest = dir + strlen(ROOT);
			/* the root itself, or one entry directly below it */
			if (*rest != '\0') {
				if (rest[0] != '/' || strchr(rest + 1, '/') != NULL ||
				    strcmp(rest + 1, ".") == 0 || strcmp(rest + 1, "..") == 0)
					abort();
			}
		}
		buf_reset(&a);
		(void)maildir_entry_to_name(name, &a);
		free(name);
	}
	buf_free(&a);
	buf_free(&back);
	buf_free(&m);
	return 0;
}
