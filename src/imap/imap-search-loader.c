/* A search program's message source that loads lazily (see the header). */
#include <string.h>

#include "imap/imap-search-loader.h"
#include "mime/mime.h"

void search_loader_init(struct search_loader *l, struct mailbox *box)
{
	memset(l, 0, sizeof(*l));
	l->box = box;
}

void search_loader_reset(struct search_loader *l, uint32_t uid, bool gone)
{
	if (l->ok) {
		mime_free(l->mime);
		mail_data_release(&l->md);
	}
	l->mime = NULL;
	l->tried = l->ok = false;
	l->error = 0;
	l->uid = uid;
	l->gone = gone;
}

bool search_loader_load(struct search_loader *l)
{
	if (l->tried)
		return l->ok;
	l->tried = true;
	if (l->gone)
		return false;
	int ret = mailbox_msg_open(l->box, l->uid, &l->md);
	if (ret < 0) {
		l->error = ret;
		return false;
	}
	l->mime = mime_parse(l->md.data, l->md.len);
	l->ok = true;
	return true;
}

void search_loader_deinit(struct search_loader *l)
{
	search_loader_reset(l, 0, false);
	buf_free(&l->tmp);
}

static bool src_header(void *ctx, const char *name, struct buf *out)
{
	struct search_loader *l = ctx;
	if (!search_loader_load(l))
		return false;
	const struct mime_part *root = &l->mime->root;
	return mime_header_get_all_utf8(l->md.data + root->hdr_off, root->hdr_len, name, out);
}

static bool src_text(void *ctx, bool with_headers, struct buf *out)
{
	struct search_loader *l = ctx;
	if (!search_loader_load(l))
		return false;
	mime_search_text(l->mime, with_headers, true, out);
	return true;
}

/* A message without a parsable Date: makes the program use its internal date. */
static bool src_sent_date(void *ctx, long long *time_r, int *tz_r)
{
	struct search_loader *l = ctx;
	if (!search_loader_load(l))
		return false;
	const struct mime_part *root = &l->mime->root;
	buf_reset(&l->tmp);
	if (!mime_header_get(l->md.data + root->hdr_off, root->hdr_len, "Date", &l->tmp))
		return false;
	return mime_parse_date(buf_cstr(&l->tmp), l->tmp.len, time_r, tz_r);
}

void search_loader_source(struct search_loader *l, struct search_source *src_r)
{
	memset(src_r, 0, sizeof(*src_r));
	src_r->ctx = l;
	src_r->header = src_header;
	src_r->text = src_text;
	src_r->sent_date = src_sent_date;
	src_r->contains = mime_utf8_contains_ci;
}
