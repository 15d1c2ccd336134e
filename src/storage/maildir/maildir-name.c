/* Mailbox names on disk: modified UTF-7 (RFC 3501 5.1.3) per component,
 * '.' between components, as Dovecot's Maildir++ layout does by default. */
#include <string.h>

#include "lib/mutf7.h"
#include "lib/om-error.h"
#include "storage/maildir/maildir.h"

/* Folder names on disk are modified UTF-7 as Dovecot writes them; the codec
 * is the IMAP layer's strict one (lib/mutf7.c). */
int mutf7_encode(const char *utf8, size_t len, struct buf *out)
{
	if (!utf8_to_mutf7(utf8, len, out))
		return -OM_EINVAL;
	if (out->data == NULL)
		buf_append(out, "", 0);
	return 0;
}

int mutf7_decode(const char *mutf7, size_t len, struct buf *out)
{
	if (!mutf7_to_utf8(mutf7, len, out))
		return -OM_EINVAL;
	if (out->data == NULL)
		buf_append(out, "", 0);
	return 0;
}

int maildir_name_to_dir(const char *root, const char *name, struct buf *out)
{
	buf_reset(out);
	buf_append_str(out, root);
	if (strcmp(name, "INBOX") == 0)
		return 0;
	if (name[0] == '~')
		return -OM_EINVAL;
	buf_append_c(out, '/');
	const char *p = name;
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);
		if (memchr(p, '.', clen) != NULL || clen == 0)
			return -OM_EINVAL;
		buf_append_c(out, '.');
		int ret = mutf7_encode(p, clen, out);
		if (ret < 0)
			return ret;
		p += clen;
		if (*p == '/')
			p++;
	}
	return 0;
}

int maildir_entry_to_name(const char *entry, struct buf *out)
{
	buf_reset(out);
	if (entry[0] != '.' || entry[1] == '\0' || strcmp(entry, "..") == 0)
		return -OM_EINVAL;
	const char *p = entry + 1;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t clen = dot ? (size_t)(dot - p) : strlen(p);
		if (clen == 0)
			return -OM_EINVAL;
		if (p != entry + 1)
			buf_append_c(out, '/');
		size_t before = out->len;
		int ret = mutf7_decode(p, clen, out);
		if (ret < 0)
			return ret;
		/* reject what could never have been created here */
		if (memchr(out->data + before, '/', out->len - before) != NULL)
			return -OM_EINVAL;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	struct buf norm = BUF_INIT;
	int ret = mail_name_normalize(out->data, &norm);
	if (ret == 0 && strcmp(norm.data, "INBOX") == 0)
		ret = -OM_EINVAL;
	buf_free(&norm);
	return ret;
}
