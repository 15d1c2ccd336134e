/* libFuzzer entry point for the MIME parser and the IMAP forms computed
 * from it: ENVELOPE, BODY, BODYSTRUCTURE, part paths, decoded bodies,
 * SEARCH text, SORT helpers and dates (src/mime).
 *
 * The input is the message. Part paths are taken from the message's first
 * bytes so that nested paths get tried. Invariants: every part's offsets
 * lie inside the message, ENVELOPE and BODYSTRUCTURE are balanced
 * parenthesised lists, folding is idempotent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"

static void check_balanced(const struct buf *b)
{
	int depth = 0;
	bool in_quote = false;
	const char *s = buf_cstr(b);
	for (size_t i = 0; i < b->len; i++) {
		char c = s[i];
		if (in_quote) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_quote = false;
			continue;
		}
		if (c == '{') {
			/* literal {N}\r\n<N bytes> */
			char *end;
			unsigned long n = strtoul(s + i + 1, &end, 10);
			if (*end != '}' || end[1] != '\r' || end[2] != '\n')
				abort();
			i = (size_t)(end - s) + 2 + n;
			if (i >= b->len)
				abort();
			continue;
		}
		if (c == '"')
			in_quote = true;
		else if (c == '(')
			depth++;
		else if (c == ')' && --depth < 0)
			abort();
	}
	if (depth != 0 || in_quote)
		abort();
}

static void walk(const struct mime_message *msg, const struct mime_part *part, unsigned depth)
{
	struct buf b = BUF_INIT;
	if (depth > MIME_MAX_DEPTH + 2)
		abort();
	if (part->hdr_off > msg->len || part->hdr_len > msg->len - part->hdr_off ||
	    part->body_off > msg->len || part->body_len > msg->len - part->body_off)
		abort();
	mime_bodystructure(msg, part, false, &b);
	check_balanced(&b);
	buf_reset(&b);
	mime_bodystructure(msg, part, true, &b);
	check_balanced(&b);
	buf_reset(&b);
	if (part->is_message_rfc822 && part->n_children == 1) {
		mime_envelope(msg, &part->children[0], &b);
		check_balanced(&b);
		buf_reset(&b);
	}
	if (!part->is_multipart) {
		mime_part_decode_body(msg, part, &b);
		buf_reset(&b);
	}
	for (size_t i = 0; i < part->n_params; i++) {
		mime_param_value_utf8(&part->params[i], &b);
		buf_reset(&b);
	}
	buf_free(&b);
	for (size_t i = 0; i < part->n_children; i++) {
		if (part->children[i].parent != part)
			abort();
		walk(msg, &part->children[i], depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024 * 1024)
		return 0;
	/* exact-size, unterminated copy: the parser must not read past len */
	char *copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	struct mime_message *msg = mime_parse(copy, size);
	if (msg == NULL)
		abort();
	struct buf b = BUF_INIT, b2 = BUF_INIT, b3 = BUF_INIT;
	const struct mime_part *root = &msg->root;

	mime_envelope(msg, root, &b);
	check_balanced(&b);
	buf_reset(&b);
	walk(msg, root, 0);

	/* part paths: up to 4 numbers from the first bytes */
	for (size_t start = 0; start + 4 <= size && start < 16; start += 4) {
		unsigned path[4];
		for (size_t i = 0; i < 4; i++)
			path[i] = (unsigned)(data[start + i] % 6);
		for (size_t n = 0; n <= 4; n++) {
			const struct mime_part *p = mime_part_by_path(msg, path, n);
			if (p != NULL && n > 0)
				walk(msg, p, 0);
		}
	}

	mime_search_text(msg, true, true, &b);
	buf_reset(&b);
	mime_search_parts(msg, &b, &b2, &b3);
	/* folding is idempotent */
	struct buf f1 = BUF_INIT, f2 = BUF_INIT;
	mime_utf8_fold(buf_cstr(&b3), b3.len, &f1);
	mime_utf8_fold(buf_cstr(&f1), f1.len, &f2);
	if (f1.len != f2.len || memcmp(buf_cstr(&f1), buf_cstr(&f2), f1.len) != 0)
		abort();
	if (size > 2)
		(void)mime_utf8_contains_ci(buf_cstr(&b3), b3.len, copy, size < 8 ? size : 8);
	buf_free(&f1);
	buf_free(&f2);
	buf_reset(&b);
	buf_reset(&b2);
	buf_reset(&b3);

	const char *hdr = copy + root->hdr_off;
	size_t hdr_len = root->hdr_len;
	if (mime_header_get(hdr, hdr_len, "subject", &b)) {
		mime_decode_header_utf8(buf_cstr(&b), b.len, &b2);
		bool reply;
		mime_base_subject(buf_cstr(&b2), b2.len, &b3, &reply);
	}
	buf_reset(&b);
	buf_reset(&b2);
	(void)mime_header_get_all_utf8(hdr, hdr_len, "received", &b);
	buf_reset(&b);
	if (mime_header_get(hdr, hdr_len, "date", &b)) {
		long long t;
		int tz;
		(void)mime_parse_date(buf_cstr(&b), b.len, &t, &tz);
	}
	buf_reset(&b);
	(void)mime_first_address(hdr, hdr_len, "from", &b, &b2);
	buf_reset(&b);
	static const char *const names[] = { "from", "to", "subject" };
	mime_header_fields(hdr, hdr_len, names, 3, false, &b);
	mime_header_fields(hdr, hdr_len, names, 3, true, &b);
	buf_free(&b);
	buf_free(&b2);
	buf_free(&b3);
	mime_free(msg);
	free(copy);
	return 0;
}
