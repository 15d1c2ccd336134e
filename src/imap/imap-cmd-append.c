/* APPEND mailbox [(flags)] [date-time] message (RFC 3501 6.3.11), answered
 * with APPENDUID (RFC 4315). */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-session-private.h"
#include "lib/log.h"
#include "lib/om-error.h"

/* Flags of APPEND into save; false with a tagged BAD set. */
static bool parse_flags(struct imap_session *s, const struct imap_arg *list,
			struct mail_save *save, const char ***keywords_r)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} system[] = {
		{ "\\Seen", MAIL_SEEN },       { "\\Answered", MAIL_ANSWERED },
		{ "\\Flagged", MAIL_FLAGGED }, { "\\Deleted", MAIL_DELETED },
		{ "\\Draft", MAIL_DRAFT },
	};
	const char **kw = NULL;
	size_t n_kw = 0;

	if (list->list_count > 0)
		kw = om_reallocarray(NULL, list->list_count, sizeof(*kw));
	for (size_t i = 0; i < list->list_count; i++) {
		const char *a;
		size_t k;
		if (!imap_arg_get_atom(&list->list[i], &a) || *a == '\0') {
			imap_cmd_bad(s, "Invalid flag list.");
			goto fail;
		}
		if (a[0] == '\\') {
			for (k = 0; k < sizeof(system) / sizeof(system[0]); k++) {
				if (om_str_ieq(a, system[k].name))
					break;
			}
			if (k == sizeof(system) / sizeof(system[0])) {
				imap_cmd_bad(s, "Invalid system flag %s.",
					     om_str_ieq(a, "\\Recent") ? "\\Recent" : "");
				goto fail;
			}
			save->flags |= system[k].bit;
			continue;
		}
		for (const char *c = a; *c != '\0'; c++) {
			if (*c == ']' || (unsigned char)*c > 0x7e || (unsigned char)*c < 0x21) {
				imap_cmd_bad(s, "Invalid keyword.");
				goto fail;
			}
		}
		bool dup = false;
		for (k = 0; k < n_kw && !dup; k++)
			dup = om_str_ieq(kw[k], a);
		if (dup)
			continue;
		if (n_kw >= MAIL_MAX_KEYWORDS) {
			imap_cmd_no(s, "[LIMIT] Too many keywords.");
			goto fail;
		}
		kw[n_kw++] = a;
	}
	save->keywords = kw;
	save->n_keywords = n_kw;
	*keywords_r = kw;
	return true;
fail:
	free(kw);
	return false;
}

void cmd_append(struct imap_session *s, struct imap_command *cmd)
{
	struct mail_save save;
	struct buf name = BUF_INIT;
	const char **keywords = NULL;
	const char *data;
	size_t n = cmd->n_args, i = 1, len;
	uint32_t uidvalidity = 0, uid = 0;
	int ret;

	memset(&save, 0, sizeof(save));
	if (n < 2 || n > 4) {
		imap_cmd_bad(s, "APPEND needs a mailbox and a message.");
		return;
	}
	if (cmd->args[i].type == IMAP_ARG_LIST) {
		if (!parse_flags(s, &cmd->args[i], &save, &keywords))
			return;
		i++;
	}
	if (i < n - 1) {
		long long t;
		int tz;
		if (cmd->args[i].type != IMAP_ARG_STRING ||
		    !imap_parse_datetime(cmd->args[i].str, &t, &tz)) {
			imap_cmd_bad(s, "Invalid date-time.");
			goto out;
		}
		save.internal_date = (int64_t)t;
		save.internal_tz = tz;
		i++;
	}
	if (i != n - 1 || !imap_arg_get_string(&cmd->args[i], &data, &len)) {
		imap_cmd_bad(s, "APPEND needs the message as a literal.");
		goto out;
	}
	if (len == 0) {
		imap_cmd_no(s, "[CANNOT] Can't save an empty message.");
		goto out;
	}
	if (!imap_arg_mailbox(s, &cmd->args[0], &name))
		goto out;
	save.data = data;
	save.len = len;
	ret = mailbox_append(s->user, buf_cstr(&name), &save, &uidvalidity, &uid);
	if (ret == -OM_ENOTFOUND)
		imap_cmd_no(s, "[TRYCREATE] Mailbox doesn't exist.");
	else if (ret == -OM_ELIMIT && (uint64_t)len > s->cfg->mail_max_size)
		imap_cmd_no(s, "[TOOBIG] Message is too big.");
	else if (ret < 0)
		imap_cmd_storage_error(s, ret, "APPEND");
	else
		imap_cmd_ok(s, "[APPENDUID %u %u] Append completed.", uidvalidity, uid);
out:
	buf_free(&name);
	free(keywords);
}
