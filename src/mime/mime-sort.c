/* What SORT and THREAD (RFC 5256, RFC 5957) need from a message: the base
 * subject and the first address of From/To/Cc. */
#include "mime/mime-private.h"

#include <string.h>
#include <strings.h>

/* RFC 5256 2.1 subj-blob at s: "[" *BLOBCHAR "]" *WSP; its length or 0. */
static size_t blob_len(const char *s, size_t len)
{
	size_t i = 1;

	if (len == 0 || s[0] != '[')
		return 0;
	while (i < len && s[i] != ']' && s[i] != '[')
		i++;
	if (i >= len || s[i] != ']')
		return 0;
	i++;
	while (i < len && s[i] == ' ')
		i++;
	return i;
}

/* subj-leader at s: (*subj-blob subj-refwd) / WSP; its length or 0. */
static size_t leader_len(const char *s, size_t len)
{
	size_t i = 0, n;

	if (len > 0 && s[0] == ' ')
		return 1;
	while ((n = blob_len(s + i, len - i)) > 0)
		i += n;
	/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" */
	if (len - i >= 3 && strncasecmp(s + i, "fwd", 3) == 0)
		i += 3;
	else if (len - i >= 2 && (strncasecmp(s + i, "fw", 2) == 0 || strncasecmp(s + i, "re", 2) == 0))
		i += 2;
	else
		return 0;
	while (i < len && s[i] == ' ')
		i++;
	i += blob_len(s + i, len - i);
	if (i >= len || s[i] != ':')
		return 0;
	return i + 1;
}

static bool has_nonspace(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != ' ')
			return true;
	}
	return false;
}

void mime_base_subject(const char *subject, size_t len, struct buf *out, bool *is_reply_r)
{
	struct buf norm = BUF_INIT;
	bool reply = false, last_space = false;

	/* (1) decoded already; whitespace runs (folds included) -> one space */
	for (size_t i = 0; i < len; i++) {
		char c = subject[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (!last_space)
				buf_append_c(&norm, ' ');
			last_space = true;
			continue;
		}
		buf_append_c(&norm, c);
		last_space = false;
	}
	const char *s = norm.data != NULL ? norm.data : "";
	size_t start = 0, end = norm.len;
	for (;;) {
		/* (2) subj-trailer: "(fwd)" / WSP, repeatedly */
		for (;;) {
			if (end > start && s[end - 1] == ' ') {
				end--;
			} else if (end - start >= 5 && strncasecmp(s + end - 5, "(fwd)", 5) == 0) {
				end -= 5;
				reply = true;
			} else {
				break;
			}
		}
		/* (3), (4) until neither changes anything (5) */
		bool changed = true;
		while (changed) {
			size_t n;
			changed = false;
			while ((n = leader_len(s + start, end - start)) > 0) {
				if (s[start] != ' ')
					reply = true;
				start += n;
				changed = true;
			}
			n = blob_len(s + start, end - start);
			if (n > 0 && has_nonspace(s + start + n, end - start - n)) {
				start += n;
				changed = true;
			}
		}
		/* (6) "[fwd:" ... "]" wrapper */
		if (end - start >= 6 && strncasecmp(s + start, "[fwd:", 5) == 0 && s[end - 1] == ']') {
			start += 5;
			end--;
			reply = true;
			continue;
		}
		break;
	}
	buf_append(out, s + start, end - start);
	buf_free(&norm);
	if (is_reply_r != NULL)
		*is_reply_r = reply;
}

bool mime_first_address(const char *hdr, size_t hdr_len, const char *name,
			struct buf *mailbox_r, struct buf *display_r)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;
	struct mime_address_list list = { 0 };
	bool found = false;

	mime_hdr_iter_init(&it, hdr, hdr_len);
	while (mime_hdr_iter_next(&it, &f)) {
		if (mime_hdr_name_is(&f, name)) {
			mime_address_parse(f.value, f.value_len, &list);
			break;
		}
	}
	for (size_t i = 0; i < list.n && !found; i++) {
		const struct mime_address *a = &list.addrs[i];
		if (a->domain == NULL)
			continue; /* group markers */
		found = true;
		if (a->mailbox != NULL)
			buf_append_str(mailbox_r, a->mailbox);
		if (a->name != NULL && a->name[0] != '\0') {
			mime_decode_header_utf8(a->name, strlen(a->name), display_r);
		} else {
			if (a->mailbox != NULL)
				buf_append_str(display_r, a->mailbox);
			buf_append_c(display_r, '@');
			buf_append_str(display_r, a->domain);
		}
	}
	mime_address_list_free(&list);
	return found;
}
