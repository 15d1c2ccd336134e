/* APPEND mailbox [(flags)] [date-time] message (RFC 3501 6.3.11), answered
 * with APPENDUID (RFC 4315); MULTIAPPEND (RFC 3502): more than one
 * [(flags)] [date-time] message group, all or nothing; the message may be a
 * literal8 ~{N} (BINARY, RFC 3516) or UTF8 (~{N}) (UTF8=ACCEPT, RFC 6855). */
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

/* One message of the command, parsed. */
struct append_msg {
	struct mail_save save;
	const char **keywords;
};

/* Most messages in one MULTIAPPEND (each bounded by the parser's literal
 * limits, which also bound their sum). */
#define MAX_MULTIAPPEND 1000

/* Parse [(flags)] [date-time] message at args[*i]; false with BAD/NO set. */
static bool parse_one(struct imap_session *s, const struct imap_command *cmd, size_t *i,
		      struct append_msg *m)
{
	size_t n = cmd->n_args;
	const char *data;
	size_t len;

	memset(m, 0, sizeof(*m));
	if (*i < n && cmd->args[*i].type == IMAP_ARG_LIST) {
		if (!parse_flags(s, &cmd->args[*i], &m->save, &m->keywords))
			return false;
		(*i)++;
	}
	if (*i < n && cmd->args[*i].type == IMAP_ARG_STRING) {
		long long t;
		int tz;
		if (!imap_parse_datetime(cmd->args[*i].str, &t, &tz)) {
			imap_cmd_bad(s, "Invalid date-time.");
			return false;
		}
		m->save.internal_date = (int64_t)t;
		m->save.internal_tz = tz;
		(*i)++;
	}
	const struct imap_arg *msg = *i < n ? &cmd->args[*i] : NULL;
	const char *atom;
	if (msg != NULL && imap_arg_get_atom(msg, &atom) && om_str_ieq(atom, "UTF8") &&
	    *i + 1 < n && cmd->args[*i + 1].type == IMAP_ARG_LIST &&
	    cmd->args[*i + 1].list_count == 1) {
		/* RFC 6855 4: UTF8 (~{N}...) */
		if (!s->enabled_utf8) {
			imap_cmd_bad(s, "APPEND UTF8 needs ENABLE UTF8=ACCEPT.");
			return false;
		}
		(*i)++;
		msg = &cmd->args[*i].list[0];
		if (msg->type != IMAP_ARG_LITERAL || !msg->literal8) {
			imap_cmd_bad(s, "APPEND UTF8 needs a literal8.");
			return false;
		}
	}
	if (msg == NULL || msg->type != IMAP_ARG_LITERAL ||
	    !imap_arg_get_string(msg, &data, &len)) {
		imap_cmd_bad(s, "APPEND needs the message as a literal.");
		return false;
	}
	(*i)++;
	if (len == 0) {
		imap_cmd_no(s, "[CANNOT] Can't save an empty message.");
		return false;
	}
	if (!msg->literal8 && memchr(data, '\0', len) != NULL) {
		/* RFC 3516 4.4: NUL only in a literal8 */
		imap_cmd_no(s, "[UNKNOWN-CTE] NUL in a message sent as a plain literal.");
		return false;
	}
	m->save.data = data;
	m->save.len = len;
	return true;
}

/* Take back the messages of a failed MULTIAPPEND. Between their saves and
 * this expunge other sessions may see them (there is no transaction across
 * saves); they never see a partial result stay. */
static void undo_appends(struct imap_session *s, const char *name, const uint32_t *uids,
			 size_t n)
{
	struct mailbox *box = NULL;

	if (n == 0)
		return;
	int ret = mailbox_open(s->user, name, false, &box);
	if (ret == 0) {
		ret = mailbox_expunge(box, uids, n);
		mailbox_close(box);
	}
	if (ret < 0)
		log_warn("imap %s: MULTIAPPEND to %s failed and %zu saved messages could not be "
			 "removed: %s", s->username ? s->username : "-", name, n,
			 om_strerror(-ret));
}

static void append_error(struct imap_session *s, int ret, size_t len)
{
	if (ret == -OM_ENOTFOUND)
		imap_cmd_no(s, "[TRYCREATE] Mailbox doesn't exist.");
	else if (ret == -OM_ELIMIT && (uint64_t)len > s->cfg->mail_max_size)
		imap_cmd_no(s, "[TOOBIG] Message is too big.");
	else
		imap_cmd_storage_error(s, ret, "APPEND");
}

/* "1:3,5" for the UIDs (ascending as assigned). */
static void write_uid_set(struct buf *out, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (i > 0)
			buf_append_c(out, ',');
		if (j > i)
			buf_printf(out, "%u:%u", uids[i], uids[j]);
		else
			buf_printf(out, "%u", uids[i]);
		i = j + 1;
	}
}

void cmd_append(struct imap_session *s, struct imap_command *cmd)
{
	struct buf name = BUF_INIT, set = BUF_INIT;
	struct append_msg *msgs = NULL;
	uint32_t *uids = NULL;
	size_t n_msgs = 0, n_saved = 0, i = 1;
	uint32_t uidvalidity = 0;
	int ret = 0;

	if (cmd->n_args < 2) {
		imap_cmd_bad(s, "APPEND needs a mailbox and a message.");
		return;
	}
	while (i < cmd->n_args) {
		if (n_msgs >= MAX_MULTIAPPEND) {
			imap_cmd_no(s, "[LIMIT] Too many messages in one APPEND.");
			goto out;
		}
		msgs = om_reallocarray(msgs, n_msgs + 1, sizeof(*msgs));
		if (!parse_one(s, cmd, &i, &msgs[n_msgs])) {
			free(msgs[n_msgs].keywords);
			goto out;
		}
		n_msgs++;
	}
	if (!imap_arg_mailbox(s, &cmd->args[0], &name))
		goto out;
	uids = om_reallocarray(NULL, n_msgs, sizeof(*uids));
	for (size_t k = 0; k < n_msgs; k++) {
		uint32_t uv = 0, uid = 0;
		ret = mailbox_append(s->user, buf_cstr(&name), &msgs[k].save, &uv, &uid);
		if (ret == 0 && n_saved > 0 && uv != uidvalidity)
			ret = -OM_ETEMP; /* the mailbox was recreated under us */
		if (ret < 0) {
			undo_appends(s, buf_cstr(&name), uids, n_saved);
			append_error(s, ret, msgs[k].save.len);
			goto out;
		}
		uidvalidity = uv;
		uids[n_saved++] = uid;
	}
	write_uid_set(&set, uids, n_saved);
	imap_cmd_ok(s, "[APPENDUID %u %s] Append completed.", uidvalidity, buf_cstr(&set));
out:
	for (size_t k = 0; k < n_msgs; k++)
		free(msgs[k].keywords);
	free(msgs);
	free(uids);
	buf_free(&name);
	buf_free(&set);
}
