/* Responses: untagged lines, the tagged result, storage errors as RFC 5530
 * response codes, and mailbox names in modified UTF-7. */
#include <stdarg.h>
#include <string.h>

#include "imap/imap-session-private.h"
#include "lib/log.h"
#include "lib/om-error.h"

void imap_send_raw(struct imap_session *s, const void *data, size_t len)
{
	if (s->priv != NULL && s->priv->capture != NULL) {
		buf_append(s->priv->capture, data, len);
		return;
	}
	if (s->conn != NULL)
		conn_write(s->conn, data, len);
}

void imap_send_buf(struct imap_session *s, const struct buf *b)
{
	imap_send_raw(s, buf_cstr(b), b->len);
}

void imap_send(struct imap_session *s, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	va_list ap;

	buf_append_str(&line, "* ");
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	buf_append(&line, "\r\n", 2);
	imap_send_buf(s, &line);
	buf_free(&line);
}

static void set_tagged(struct imap_session *s, const char *status, const char *fmt, va_list ap)
{
	const char *tag = s->cmd != NULL && s->cmd->tag != NULL ? s->cmd->tag : "*";

	buf_reset(&s->tagged);
	buf_printf(&s->tagged, "%s %s ", tag, status);
	buf_vprintf(&s->tagged, fmt, ap);
	/* a response line must not be split by the client's text */
	for (size_t i = 0; i < s->tagged.len; i++) {
		if (s->tagged.data[i] == '\r' || s->tagged.data[i] == '\n')
			s->tagged.data[i] = ' ';
	}
	buf_append(&s->tagged, "\r\n", 2);
}

void imap_cmd_ok(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_tagged(s, "OK", fmt, ap);
	va_end(ap);
}

void imap_cmd_no(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_tagged(s, "NO", fmt, ap);
	va_end(ap);
}

void imap_cmd_bad(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_tagged(s, "BAD", fmt, ap);
	va_end(ap);
}

void imap_cmd_storage_error(struct imap_session *s, int err, const char *what)
{
	const char *code, *text;

	if (err < 0)
		err = -err;
	switch (err) {
	case OM_ENOTFOUND: code = "NONEXISTENT"; text = "No such mailbox or message"; break;
	case OM_EEXISTS: code = "ALREADYEXISTS"; text = "Already exists"; break;
	case OM_EQUOTA: code = "OVERQUOTA"; text = "Quota exceeded"; break;
	case OM_ELIMIT: code = "LIMIT"; text = "Limit exceeded"; break;
	case OM_EPERM: code = "NOPERM"; text = "Not allowed"; break;
	case OM_EINVAL: code = "CANNOT"; text = "Invalid name or argument"; break;
	case OM_ENOTEMPTY: code = "CANNOT"; text = "Has children"; break;
	case OM_ETEMP:
	case OM_EIO: code = "UNAVAILABLE"; text = "Temporary failure, try again later"; break;
	default: code = "SERVERBUG"; text = "Internal error"; break;
	}
	if (strcmp(code, "SERVERBUG") == 0 || strcmp(code, "UNAVAILABLE") == 0)
		log_warn("imap %s: %s failed: %s (%s)", s->username ? s->username : "-",
			 what ? what : "command", om_strerror(-err),
			 s->user ? mail_user_last_error(s->user) : "");
	if (what != NULL && *what != '\0')
		imap_cmd_no(s, "[%s] %s: %s", code, what, text);
	else
		imap_cmd_no(s, "[%s] %s", code, text);
}

void imap_write_mailbox(struct buf *out, const char *utf8_name)
{
	struct buf enc = BUF_INIT;
	size_t len = strlen(utf8_name);

	if (!utf8_to_mutf7(utf8_name, len, &enc)) {
		/* storage names are valid UTF-8; keep going with the raw bytes */
		buf_reset(&enc);
		buf_append(&enc, utf8_name, len);
	}
	imap_write_string(out, buf_cstr(&enc), enc.len);
	buf_free(&enc);
}

void imap_write_mailbox_s(const struct imap_session *s, struct buf *out, const char *utf8_name)
{
	size_t len = strlen(utf8_name);
	bool plain = true;

	if (!s->enabled_utf8 && !s->enabled_rev2) {
		imap_write_mailbox(out, utf8_name);
		return;
	}
	/* a quoted UTF-8 string (RFC 6855 3): no CR/LF, bounded length */
	for (size_t i = 0; i < len && plain; i++)
		plain = utf8_name[i] != '\r' && utf8_name[i] != '\n';
	if (!plain || len > 1024) {
		imap_write_string(out, utf8_name, len);
		return;
	}
	buf_append_c(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (utf8_name[i] == '"' || utf8_name[i] == '\\')
			buf_append_c(out, '\\');
		buf_append_c(out, utf8_name[i]);
	}
	buf_append_c(out, '"');
}

bool imap_arg_mailbox(struct imap_session *s, const struct imap_arg *arg, struct buf *name_r)
{
	const char *str;
	size_t len;

	buf_reset(name_r);
	if (arg == NULL || !imap_arg_get_astring(arg, &str, &len)) {
		imap_cmd_bad(s, "Invalid mailbox name argument");
		return false;
	}
	if (memchr(str, '\0', len) != NULL) {
		imap_cmd_bad(s, "Invalid mailbox name");
		return false;
	}
	if (s->enabled_utf8 || s->enabled_rev2) {
		/* RFC 6855 3 / RFC 9051 5.1: names are UTF-8, no mUTF-7 decoding */
		struct buf check = BUF_INIT;
		bool ok = utf8_to_mutf7(str, len, &check);
		buf_free(&check);
		if (!ok) {
			imap_cmd_bad(s, "Mailbox name is not valid UTF-8");
			return false;
		}
		buf_append(name_r, str, len);
		return true;
	}
	if (!mutf7_to_utf8(str, len, name_r)) {
		imap_cmd_bad(s, "Mailbox name is not valid modified UTF-7");
		return false;
	}
	return true;
}

void imap_write_system_flags(struct buf *out, uint32_t flags)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ MAIL_ANSWERED, "\\Answered" }, { MAIL_FLAGGED, "\\Flagged" },
		{ MAIL_DELETED, "\\Deleted" },   { MAIL_SEEN, "\\Seen" },
		{ MAIL_DRAFT, "\\Draft" },       { MAIL_RECENT, "\\Recent" },
	};
	bool first = true;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((flags & names[i].bit) == 0)
			continue;
		if (!first)
			buf_append_c(out, ' ');
		buf_append_str(out, names[i].name);
		first = false;
	}
}
