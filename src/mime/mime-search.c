/* The text SEARCH matches against: decoded header values and the decoded
 * UTF-8 text of the text parts (also inside attached messages). As in
 * Dovecot, TEXT also sees the header of every part below the root (MIME
 * part headers with their Content-Type names, filename parameters,
 * Content-IDs; attached messages' headers), while BODY sees only the body
 * text. */
#include "mime/mime-private.h"

#include <string.h>
#include <strings.h>

static void append_headers(const struct mime_message *msg, const struct mime_part *part,
			   struct buf *out)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;

	mime_hdr_iter_init(&it, msg->data + part->hdr_off, part->hdr_len);
	while (mime_hdr_iter_next(&it, &f)) {
		mime_utf8_sanitize(f.name, f.name_len, out);
		buf_append_str(out, ": ");
		mime_decode_header_utf8(f.value, f.value_len, out);
		buf_append_c(out, '\n');
	}
}

static bool is_searchable_leaf(const struct mime_part *part)
{
	/* text/ *, and message/ * bodies we didn't descend into (e.g.
	 * message/global): their bytes are readable text too */
	return strcasecmp(part->type, "text") == 0 || strcasecmp(part->type, "message") == 0;
}

/* hdrs: where the headers of the parts below go (NULL: skipped); body:
 * where the text goes. Both may be the same buffer (document order). */
static void append_body(const struct mime_message *msg, const struct mime_part *part,
			struct buf *hdrs, struct buf *body)
{
	size_t i;

	if (part->is_multipart) {
		for (i = 0; i < part->n_children; i++) {
			if (hdrs != NULL)
				append_headers(msg, &part->children[i], hdrs);
			append_body(msg, &part->children[i], hdrs, body);
		}
		return;
	}
	if (part->is_message_rfc822 && part->n_children == 1) {
		if (hdrs != NULL)
			append_headers(msg, &part->children[0], hdrs);
		append_body(msg, &part->children[0], hdrs, body);
		return;
	}
	if (!is_searchable_leaf(part))
		return;
	mime_part_text_utf8(msg, part, body);
	buf_append_c(body, '\n');
}

void mime_search_text(const struct mime_message *msg, bool headers, bool body, struct buf *out)
{
	if (headers)
		append_headers(msg, &msg->root, out);
	if (body)
		append_body(msg, &msg->root, headers ? out : NULL, out);
}

void mime_search_parts(const struct mime_message *msg, struct buf *hdr, struct buf *part_hdrs,
		       struct buf *body)
{
	append_headers(msg, &msg->root, hdr);
	append_body(msg, &msg->root, part_hdrs, body);
}
