/* The text SEARCH matches against: decoded header values and the decoded
 * UTF-8 text of the text parts (also inside attached messages). */
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

static void append_body(const struct mime_message *msg, const struct mime_part *part,
			struct buf *out)
{
	size_t i;

	if (part->is_multipart) {
		for (i = 0; i < part->n_children; i++)
			append_body(msg, &part->children[i], out);
		return;
	}
	if (part->is_message_rfc822 && part->n_children == 1) {
		append_headers(msg, &part->children[0], out);
		append_body(msg, &part->children[0], out);
		return;
	}
	if (!is_searchable_leaf(part))
		return;
	mime_part_text_utf8(msg, part, out);
	buf_append_c(out, '\n');
}

void mime_search_text(const struct mime_message *msg, bool headers, bool body, struct buf *out)
{
	if (headers)
		append_headers(msg, &msg->root, out);
	if (body)
		append_body(msg, &msg->root, out);
}
