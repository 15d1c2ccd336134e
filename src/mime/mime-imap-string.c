/* IMAP string output for header-derived values, choosing between quoted
 * string and literal the way Dovecot does, so our FETCH responses are
 * byte-identical: a literal when the value has CR, LF or 8-bit bytes, or
 * more than four characters that would need a backslash. NUL bytes can't
 * travel in either form and become 0x80 (as Dovecot's header code does). */
#include "mime/mime-private.h"

#include <string.h>

#define QUOTED_MAX_ESCAPES 4

static void append_literal(struct buf *out, const char *s, size_t len)
{
	size_t i;

	buf_printf(out, "{%zu}\r\n", len);
	for (i = 0; i < len; i++)
		buf_append_c(out, s[i] == '\0' ? (char)0x80 : s[i]);
}

void mime_imap_nstring(struct buf *out, const char *s, size_t len)
{
	unsigned escapes = 0;
	size_t i;

	if (s == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			if (escapes++ < QUOTED_MAX_ESCAPES)
				continue;
			append_literal(out, s, len);
			return;
		}
		if (ch == '\r' || ch == '\n' || ch == '\0' || ch >= 0x80) {
			append_literal(out, s, len);
			return;
		}
	}
	buf_append_c(out, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_append_c(out, '\\');
		buf_append_c(out, s[i]);
	}
	buf_append_c(out, '"');
}

void mime_imap_nstring_z(struct buf *out, const char *s)
{
	mime_imap_nstring(out, s, s == NULL ? 0 : strlen(s));
}

void mime_imap_nstring_nolf(struct buf *out, const char *s)
{
	struct buf tmp = BUF_INIT;
	size_t i, len;

	if (s == NULL || strpbrk(s, "\r\n") == NULL) {
		mime_imap_nstring_z(out, s);
		return;
	}
	len = strlen(s);
	for (i = 0; i < len; i++) {
		if (s[i] != '\r' && s[i] != '\n') {
			buf_append_c(&tmp, s[i]);
		} else if (s[i + 1] != ' ' && s[i + 1] != '\t' && s[i + 1] != '\r' &&
			   s[i + 1] != '\n' && s[i + 1] != '\0') {
			/* keep words on both sides of a bare line break apart */
			buf_append_c(&tmp, ' ');
		}
	}
	mime_imap_nstring(out, buf_cstr(&tmp), tmp.len);
	buf_free(&tmp);
}

static bool is_lwsp_or_nl(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

void mime_imap_string_for_humans(struct buf *out, const char *s, size_t len)
{
	struct buf tmp = BUF_INIT;
	bool last_lwsp = true, modify = false;
	size_t i;

	/* Collapse whitespace runs, drop leading and trailing whitespace. Any
	 * change (or a byte a quoted string can't hold) makes it a literal:
	 * that's Dovecot's choice, and clients cache what they saw. */
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (is_lwsp_or_nl(s[i])) {
			if (ch != ' ' || last_lwsp)
				modify = true;
			if (!last_lwsp)
				buf_append_c(&tmp, ' ');
			last_lwsp = true;
			continue;
		}
		if (ch == '\0' || ch == '"' || ch == '\\' || ch >= 0x80)
			modify = true;
		last_lwsp = false;
		buf_append_c(&tmp, ch == '\0' ? (char)0x80 : s[i]);
	}
	if (tmp.len > 0 && tmp.data[tmp.len - 1] == ' ') {
		buf_truncate(&tmp, tmp.len - 1);
		modify = true;
	}
	if (!modify) {
		buf_append_c(out, '"');
		buf_append(out, s, len);
		buf_append_c(out, '"');
	} else if (tmp.len == 0) {
		buf_append_str(out, "\"\"");
	} else {
		buf_printf(out, "{%zu}\r\n", tmp.len);
		buf_append(out, tmp.data, tmp.len);
	}
	buf_free(&tmp);
}
