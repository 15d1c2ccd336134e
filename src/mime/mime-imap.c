/* ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2) exactly as Dovecot 2.3
 * prints them, so clients that cached Dovecot's answers see the same bytes:
 * header values raw (never RFC 2047-decoded), types and parameter names as
 * sent, "message" "rfc822" lower-case, text/ * parts given a default
 * charset=us-ascii, multiparts without parts given an empty text/plain. */
#include "mime/mime-private.h"

#include <string.h>
#include <strings.h>

struct envelope {
	struct mime_hdr_field date, subject, in_reply_to, message_id;
	bool has_date, has_subject, has_in_reply_to, has_message_id;
	struct mime_address_list from, sender, reply_to, to, cc, bcc;
};

static void write_unfolded_nstring(struct buf *out, const struct mime_hdr_field *f, bool present)
{
	struct buf tmp = BUF_INIT;

	if (!present) {
		buf_append_str(out, "NIL");
		return;
	}
	mime_hdr_value_unfold(f->value, f->value_len, &tmp);
	mime_imap_nstring(out, tmp.len == 0 ? "" : tmp.data, tmp.len);
	buf_free(&tmp);
}

void mime_envelope(const struct mime_message *msg, const struct mime_part *part, struct buf *out)
{
	struct envelope env;
	struct mime_hdr_iter it;
	struct mime_hdr_field f;

	memset(&env, 0, sizeof(env));
	mime_hdr_iter_init(&it, msg->data + part->hdr_off, part->hdr_len);
	while (mime_hdr_iter_next(&it, &f)) {
		struct mime_address_list *list = NULL;

		/* the last Date/Subject/... wins; address fields add up */
		if (mime_hdr_name_is(&f, "Date")) {
			env.date = f;
			env.has_date = true;
		} else if (mime_hdr_name_is(&f, "Subject")) {
			env.subject = f;
			env.has_subject = true;
		} else if (mime_hdr_name_is(&f, "In-Reply-To")) {
			env.in_reply_to = f;
			env.has_in_reply_to = true;
		} else if (mime_hdr_name_is(&f, "Message-ID")) {
			env.message_id = f;
			env.has_message_id = true;
		} else if (mime_hdr_name_is(&f, "From")) {
			list = &env.from;
		} else if (mime_hdr_name_is(&f, "Sender")) {
			list = &env.sender;
		} else if (mime_hdr_name_is(&f, "Reply-To")) {
			list = &env.reply_to;
		} else if (mime_hdr_name_is(&f, "To")) {
			list = &env.to;
		} else if (mime_hdr_name_is(&f, "Cc")) {
			list = &env.cc;
		} else if (mime_hdr_name_is(&f, "Bcc")) {
			list = &env.bcc;
		}
		if (list != NULL)
			mime_address_parse(f.value, f.value_len, list);
	}

	buf_append_c(out, '(');
	write_unfolded_nstring(out, &env.date, env.has_date);
	buf_append_c(out, ' ');
	if (!env.has_subject) {
		buf_append_str(out, "NIL");
	} else {
		/* folds count as whitespace to collapse (a literal, then) */
		mime_imap_string_for_humans(out, env.subject.value, env.subject.value_len);
	}
	buf_append_c(out, ' ');
	mime_address_list_write(out, &env.from);
	buf_append_c(out, ' ');
	mime_address_list_write(out, env.sender.n > 0 ? &env.sender : &env.from);
	buf_append_c(out, ' ');
	mime_address_list_write(out, env.reply_to.n > 0 ? &env.reply_to : &env.from);
	buf_append_c(out, ' ');
	mime_address_list_write(out, &env.to);
	buf_append_c(out, ' ');
	mime_address_list_write(out, &env.cc);
	buf_append_c(out, ' ');
	mime_address_list_write(out, &env.bcc);
	buf_append_c(out, ' ');
	write_unfolded_nstring(out, &env.in_reply_to, env.has_in_reply_to);
	buf_append_c(out, ' ');
	write_unfolded_nstring(out, &env.message_id, env.has_message_id);
	buf_append_c(out, ')');

	mime_address_list_free(&env.from);
	mime_address_list_free(&env.sender);
	mime_address_list_free(&env.reply_to);
	mime_address_list_free(&env.to);
	mime_address_list_free(&env.cc);
	mime_address_list_free(&env.bcc);
}

static void write_params(struct buf *out, const struct mime_param *params, size_t n,
			 bool default_charset)
{
	bool seen_charset = false;
	size_t i;

	if (!default_charset && n == 0) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_c(out, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_append_c(out, ' ');
		if (strcasecmp(params[i].name, "charset") == 0)
			seen_charset = true;
		mime_imap_nstring_z(out, params[i].raw_name);
		buf_append_c(out, ' ');
		mime_imap_nstring_z(out, params[i].value);
	}
	if (default_charset && !seen_charset) {
		if (n > 0)
			buf_append_c(out, ' ');
		buf_append_str(out, "\"charset\" \"us-ascii\"");
	}
	buf_append_c(out, ')');
}

static void write_language(struct buf *out, const char *value)
{
	struct rfc822_ctx rc;
	struct buf lang = BUF_INIT;
	size_t count = 0;

	if (value != NULL) {
		rfc822_init(&rc, value, strlen(value), NULL);
		(void)rfc822_skip_lwsp(&rc);
		while (count < MIME_MAX_PARAMS && rfc822_parse_atom(&rc, &lang) >= 0) {
			buf_append_c(out, count == 0 ? '(' : ' ');
			mime_imap_nstring(out, buf_cstr(&lang), lang.len);
			count++;
			buf_reset(&lang);
			if (rc.data >= rc.end || *rc.data != ',')
				break;
			rc.data++;
			(void)rfc822_skip_lwsp(&rc);
		}
	}
	buf_append_str(out, count == 0 ? "NIL" : ")");
	buf_free(&lang);
}

static void write_common_ext(struct buf *out, const struct mime_part *part)
{
	buf_append_c(out, ' ');
	if (part->disposition == NULL) {
		buf_append_str(out, "NIL");
	} else {
		buf_append_c(out, '(');
		mime_imap_nstring_z(out, part->disposition);
		buf_append_c(out, ' ');
		write_params(out, part->disp_params, part->n_disp_params, false);
		buf_append_c(out, ')');
	}
	buf_append_c(out, ' ');
	write_language(out, part->language);
	buf_append_c(out, ' ');
	mime_imap_nstring_nolf(out, part->location);
}

static void write_part(const struct mime_message *msg, const struct mime_part *part, bool extended,
		       struct buf *out);

static void write_multipart(const struct mime_message *msg, const struct mime_part *part,
			    bool extended, struct buf *out)
{
	size_t i;

	if (part->n_children == 0) {
		/* RFC 3501 wants at least one part */
		buf_append_str(out, extended ?
			       "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)" :
			       "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
	}
	for (i = 0; i < part->n_children; i++)
		write_part(msg, &part->children[i], extended, out);
	buf_append_c(out, ' ');
	mime_imap_nstring_z(out, part->subtype);
	if (!extended)
		return;
	buf_append_c(out, ' ');
	write_params(out, part->params, part->n_params, false);
	write_common_ext(out, part);
}

static void write_leaf(const struct mime_message *msg, const struct mime_part *part, bool extended,
		       struct buf *out)
{
	bool rfc822 = part->is_message_rfc822 && part->n_children == 1;
	bool text = false;

	if (rfc822) {
		buf_append_str(out, "\"message\" \"rfc822\"");
	} else if (strcasecmp(part->type, "multipart") == 0) {
		/* "multipart" without parts (no subtype, or over our limits):
		 * Dovecot calls it what it is to a client, opaque bytes */
		buf_append_str(out, "\"application\" \"octet-stream\"");
	} else {
		text = strcasecmp(part->type, "text") == 0;
		mime_imap_nstring_z(out, part->type);
		buf_append_c(out, ' ');
		mime_imap_nstring_z(out, part->subtype);
	}
	buf_append_c(out, ' ');
	write_params(out, part->params, part->n_params, text);
	buf_append_c(out, ' ');
	mime_imap_nstring_nolf(out, part->id);
	buf_append_c(out, ' ');
	mime_imap_nstring_nolf(out, part->description);
	buf_append_c(out, ' ');
	if (part->encoding != NULL)
		mime_imap_nstring_z(out, part->encoding);
	else
		buf_append_str(out, "\"7bit\"");
	buf_printf(out, " %zu", part->body_len);
	if (text) {
		buf_printf(out, " %u", part->body_lines);
	} else if (rfc822) {
		buf_append_c(out, ' ');
		mime_envelope(msg, &part->children[0], out);
		buf_append_c(out, ' ');
		write_part(msg, &part->children[0], extended, out);
		buf_printf(out, " %u", part->body_lines);
	}
	if (!extended)
		return;
	buf_append_c(out, ' ');
	mime_imap_nstring_nolf(out, part->md5);
	write_common_ext(out, part);
}

static void write_part(const struct mime_message *msg, const struct mime_part *part, bool extended,
		       struct buf *out)
{
	buf_append_c(out, '(');
	if (part->is_multipart)
		write_multipart(msg, part, extended, out);
	else
		write_leaf(msg, part, extended, out);
	buf_append_c(out, ')');
}

/* A message that is plain 7-bit US-ASCII text in every respect gets a
 * fixed lower-case answer from Dovecot (it caches just that fact), even
 * when its header wrote "TEXT/PLAIN; CHARSET=US-ASCII". */
static bool is_plain_7bit_message(const struct mime_part *part)
{
	if (part->parent != NULL || part->is_multipart || part->is_message_rfc822 ||
	    strcasecmp(part->type, "text") != 0 || strcasecmp(part->subtype, "plain") != 0)
		return false;
	if (part->n_params > 1 ||
	    (part->n_params == 1 && (strcasecmp(part->params[0].name, "charset") != 0 ||
				     strcasecmp(part->params[0].value, "us-ascii") != 0)))
		return false;
	if (part->id != NULL || part->description != NULL ||
	    (part->encoding != NULL && strcasecmp(part->encoding, "7bit") != 0))
		return false;
	return part->md5 == NULL && part->disposition == NULL && part->language == NULL &&
	       part->location == NULL;
}

void mime_bodystructure(const struct mime_message *msg, const struct mime_part *part,
			bool extended, struct buf *out)
{
	if (is_plain_7bit_message(part)) {
		buf_printf(out, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" %zu %u%s)",
			   part->body_len, part->body_lines, extended ? " NIL NIL NIL NIL" : "");
		return;
	}
	write_part(msg, part, extended, out);
}
