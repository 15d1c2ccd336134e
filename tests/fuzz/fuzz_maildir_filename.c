/* libFuzzer entry point for Maildir file names (maildir-filename.c):
 * "<base>[:2,<flags>][,S=<size>,W=<vsize>]" as Dovecot, Courier and other
 * MUAs write them.
 *
 * Invariants: offsets stay inside the name, and building a name from the
 * parsed flags and parsing it again gives the same flags. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/mail-storage.h"
#include "storage/maildir/maildir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024)
		return 0;
	char *name = malloc(size + 1);
	if (name == NULL)
		abort();
	memcpy(name, data, size);
	name[size] = '\0';
	size_t len = strlen(name);

	struct maildir_filename f, g;
	maildir_filename_parse(name, &f);
	if (f.base_len > len || f.tail_off > len)
		abort();
	if (memchr(f.other, '\0', sizeof(f.other)) == NULL)
		abort();

	struct buf b = BUF_INIT;
	maildir_filename_build(&b, name, f.base_len, f.flags, f.kw_letters, f.other);
	maildir_filename_parse(buf_cstr(&b), &g);
	if (g.flags != f.flags || g.kw_letters != f.kw_letters || !g.have_info)
		abort();
	buf_reset(&b);

	char guid[33];
	maildir_guid_from_base(name, f.base_len, guid);
	if (strlen(guid) != 32)
		abort();
	maildir_hostname_escape(name, &b);
	if (strchr(buf_cstr(&b), '/') != NULL || strchr(buf_cstr(&b), ':') != NULL)
		abort();
	buf_free(&b);
	free(name);
	return 0;
}
