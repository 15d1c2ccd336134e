/* SEARCH and UID SEARCH (RFC 3501 6.4.4): the program (imap-search.c)
 * evaluated over the session's view. A message is read and MIME-parsed only
 * when a key needs its contents, and then at most once. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-search.h"
#include "imap/imap-session.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "mime/mime.h"
#include "storage/mail-storage.h"

/* One message's contents, loaded on first use. */
struct search_loader {
	struct imap_session *s;
	const struct imap_msg *msg;
	bool tried, ok;
	int error;               /* a storage failure other than "expunged" */
	struct mail_data md;
	struct mime_message *mime;
	struct buf tmp;
};

static bool loader_load(struct search_loader *l)
{
	if (l->tried)
		return l->ok;
	l->tried = true;
	if (l->msg->expunged)
		return false;
	int ret = mailbox_msg_open(l->s->box, l->msg->uid, &l->md);
	if (ret < 0) {
		if (ret != -OM_ENOTFOUND)
			l->error = ret;
		return false;
	}
	l->mime = mime_parse(l->md.data, l->md.len);
	l->ok = true;
	return true;
}

static void loader_release(struct search_loader *l)
{
	if (l->ok) {
		mime_free(l->mime);
		mail_data_release(&l->md);
	}
	l->mime = NULL;
	l->tried = l->ok = false;
}

static bool src_header(void *ctx, const char *name, struct buf *out)
{
	struct search_loader *l = ctx;
	if (!loader_load(l))
		return false;
	const struct mime_part *root = &l->mime->root;
	return mime_header_get_all_utf8(l->md.data + root->hdr_off, root->hdr_len, name, out);
}

static bool src_text(void *ctx, bool with_headers, struct buf *out)
{
	struct search_loader *l = ctx;
	if (!loader_load(l))
		return false;
	mime_search_text(l->mime, with_headers, true, out);
	return true;
}

static bool src_sent_date(void *ctx, long long *time_r, int *tz_r)
{
	struct search_loader *l = ctx;
	if (!loader_load(l))
		return false;
	const struct mime_part *root = &l->mime->root;
	buf_reset(&l->tmp);
	if (!mime_header_get(l->md.data + root->hdr_off, root->hdr_len, "Date", &l->tmp))
		return false;
	return mime_parse_date(buf_cstr(&l->tmp), l->tmp.len, time_r, tz_r);
}

void cmd_search(struct imap_session *s, struct imap_command *cmd)
{
	const struct imap_arg *args = cmd->args;
	size_t n_args = cmd->n_args;
	const char *error, *atom;
	struct search_program *prog;

	/* "UID SEARCH ..." if the core passed the command as parsed */
	if (strcmp(cmd->name, "UID") == 0 && n_args > 0 && imap_arg_get_atom(&args[0], &atom) &&
	    om_str_ieq(atom, "SEARCH")) {
		args++;
		n_args--;
	}

	switch (search_program_parse(args, n_args, &prog, &error)) {
	case SEARCH_PARSE_OK:
		break;
	case SEARCH_PARSE_BADCHARSET:
		imap_cmd_no(s, "%s", error);
		return;
	case SEARCH_PARSE_BAD:
	default:
		imap_cmd_bad(s, "Error in IMAP command SEARCH: %s", error);
		return;
	}

	const struct imap_view *v = &s->view;
	uint32_t max_uid = v->count > 0 ? v->msgs[v->count - 1].uid : 0;
	if (!search_program_bind(prog, v->keywords, v->n_keywords, (uint32_t)v->count, max_uid,
				 &error)) {
		imap_cmd_bad(s, "Error in IMAP command SEARCH: %s", error);
		search_program_free(prog);
		return;
	}

	struct search_loader loader = { .s = s };
	struct search_source src = {
		.ctx = &loader,
		.header = src_header,
		.text = src_text,
		.sent_date = src_sent_date,
		.contains = mime_utf8_contains_ci,
	};
	struct buf line = BUF_INIT;
	buf_append_str(&line, "* SEARCH");
	int error_code = 0;
	for (size_t i = 0; i < v->count; i++) {
		const struct imap_msg *im = &v->msgs[i];
		struct search_msg m = {
			.seq = (uint32_t)(i + 1),
			.uid = im->uid,
			.flags = im->flags,
			.keywords = im->keywords,
			.size = im->size,
			.internal_date = im->internal_date,
			.internal_tz = im->internal_tz,
		};
		loader.msg = im;
		bool match = search_program_match(prog, &m, &src);
		loader_release(&loader);
		if (loader.error != 0) {
			error_code = loader.error;
			break;
		}
		if (match)
			buf_printf(&line, " %u", s->cmd_uid ? im->uid : (uint32_t)(i + 1));
	}
	buf_free(&loader.tmp);
	search_program_free(prog);

	if (error_code != 0) {
		log_warn("SEARCH: reading a message of %s failed: %s", mailbox_name(s->box),
			 om_strerror(error_code));
		imap_cmd_storage_error(s, error_code, "SEARCH");
		buf_free(&line);
		return;
	}
	buf_append(&line, "\r\n", 2);
	imap_send_buf(s, &line);
	buf_free(&line);
	imap_cmd_ok(s, "SEARCH completed");
}
