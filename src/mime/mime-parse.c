/* The MIME structure of a message in memory (RFC 2045/2046), recovering
 * from broken input the way Dovecot 2.3 does so that BODYSTRUCTURE and
 * section numbers agree with it:
 *  - a boundary line is "--" + a boundary of ANY enclosing multipart as a
 *    prefix (longest match wins, innermost on a tie); it ends every part
 *    nested inside that multipart, even in the middle of a part's header;
 *  - the [CR]LF before a boundary line belongs to the boundary;
 *  - "--b--" closes b; what follows is the epilogue, up to an outer
 *    boundary or the end; a missing close runs the last part to the end;
 *  - Content-* fields count only in MIME parts: a Mime-Version or
 *    Content-Type field, or a parent multipart, makes a part MIME.
 * Nesting depth and total part count are bounded; past the bounds parts
 * are opaque leaves. */
#include "mime/mime-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"

struct boundary {
	const char *s;
	size_t len;
};

struct parse_ctx {
	const char *d;
	size_t len;
	struct boundary stack[MIME_MAX_DEPTH + 2];
	size_t n_bound;
	size_t n_parts;
};

/* a boundary line, found at line_start */
struct bevent {
	bool found;
	bool close;
	size_t idx;        /* index into the boundary stack */
	size_t nl_start;   /* where the ending part stops: the [CR]LF before */
	size_t line_start; /* the "--" */
	/* Where the enclosing parts below the boundary's owner stop:
	 * nl_start, except when the boundary cut a header short. Dovecot
	 * then gives the [CR]LF to the cut part's parent. */
	size_t up_end;
};

static bool boundary_at(const struct parse_ctx *c, size_t pos, size_t *idx_r, bool *close_r)
{
	const char *p = c->d + pos;
	size_t rest = c->len - pos, i, best = 0;
	bool have_best = false;

	if (c->n_bound == 0 || rest < 2 || p[0] != '-' || p[1] != '-')
		return false;
	p += 2;
	rest -= 2;
	/* Dovecot 2.3.19: a boundary matches when the text after "--"
	 * starts with it, whatever follows (so a boundary may itself end in
	 * "--"); the longest matching boundary wins, the innermost on ties */
	for (i = c->n_bound; i-- > 0;) {
		const struct boundary *b = &c->stack[i];
		if (b->len <= rest && memcmp(b->s, p, b->len) == 0 &&
		    (!have_best || c->stack[best].len < b->len)) {
			best = i;
			have_best = true;
		}
	}
	if (!have_best)
		return false;
	*idx_r = best;
	*close_r = rest >= c->stack[best].len + 2 && memcmp(p + c->stack[best].len, "--", 2) == 0;
	return true;
}

/* Every multipart on the path pushes at most one boundary and the path is
 * at most MIME_MAX_DEPTH long, so the stack can't overflow; check anyway. */
static void push_boundary(struct parse_ctx *c, const char *b)
{
	om_assert(c->n_bound < sizeof(c->stack) / sizeof(c->stack[0]));
	c->stack[c->n_bound].s = b;
	c->stack[c->n_bound].len = strlen(b);
	c->n_bound++;
}

static size_t next_line(const struct parse_ctx *c, size_t pos)
{
	const char *lf = memchr(c->d + pos, '\n', c->len - pos);
	return lf == NULL ? c->len : (size_t)(lf - c->d) + 1;
}

static void make_event(const struct parse_ctx *c, size_t from, size_t pos, size_t idx, bool close,
		       struct bevent *ev)
{
	ev->found = true;
	ev->idx = idx;
	ev->close = close;
	ev->line_start = pos;
	ev->nl_start = pos;
	ev->up_end = pos;
	if (pos > from) {
		ev->nl_start = pos - 1; /* the LF */
		if (ev->nl_start > from && c->d[ev->nl_start - 1] == '\r')
			ev->nl_start--;
	}
	ev->up_end = ev->nl_start;
}

/* The first boundary line at or after the line starting at `from`. */
static void find_boundary(const struct parse_ctx *c, size_t from, struct bevent *ev)
{
	size_t pos = from, idx;
	bool close;

	ev->found = false;
	if (c->n_bound == 0)
		return;
	while (pos < c->len) {
		if (c->d[pos] == '-' && boundary_at(c, pos, &idx, &close)) {
			make_event(c, from, pos, idx, close, ev);
			return;
		}
		pos = next_line(c, pos);
	}
}

const char *mime_param_find(const struct mime_param *params, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcasecmp(params[i].name, name) == 0)
			return params[i].value;
	}
	return NULL;
}

static char *dup_unfolded(const struct mime_hdr_field *f)
{
	struct buf b = BUF_INIT;
	mime_hdr_value_unfold(f->value, f->value_len, &b);
	return buf_steal(&b);
}

static bool language_has_tag(const struct mime_hdr_field *f)
{
	struct rfc822_ctx rc;
	struct buf tag = BUF_INIT;
	bool ok;

	rfc822_init(&rc, f->value, f->value_len, NULL);
	(void)rfc822_skip_lwsp(&rc);
	ok = rfc822_parse_atom(&rc, &tag) >= 0;
	buf_free(&tag);
	return ok;
}

struct hdr_info {
	bool is_mime, seen_ct, multipart, rfc822;
	char *boundary;
};

static void parse_content_type(struct mime_part *part, const struct mime_hdr_field *f,
			       struct hdr_info *info)
{
	struct rfc822_ctx rc;
	struct buf ct = BUF_INIT;
	const char *slash;
	int ret;

	rfc822_init(&rc, f->value, f->value_len, NULL);
	(void)rfc822_skip_lwsp(&rc);
	ret = rfc822_parse_content_type(&rc, &ct);
	slash = strchr(buf_cstr(&ct), '/');
	if (slash != NULL) {
		part->type = om_strndup(buf_cstr(&ct), (size_t)(slash - buf_cstr(&ct)));
		part->subtype = om_strdup(slash + 1);
	} else {
		part->type = om_strdup(buf_cstr(&ct));
		part->subtype = om_strdup("");
	}
	if (strcasecmp(buf_cstr(&ct), "message/rfc822") == 0)
		info->rfc822 = true;
	else if (strncasecmp(buf_cstr(&ct), "multipart/", 10) == 0)
		info->multipart = true;
	if (ret >= 0) {
		const char *b;

		mime_params_parse(&rc, &part->params, &part->n_params);
		b = mime_param_find(part->params, part->n_params, "boundary");
		if (b != NULL && info->multipart)
			info->boundary = om_strndup(b, strnlen(b, MIME_BOUNDARY_MAX_LEN));
	}
	buf_free(&ct);
}

static void parse_content_disposition(struct mime_part *part, const struct mime_hdr_field *f)
{
	struct rfc822_ctx rc;
	struct buf tok = BUF_INIT;

	rfc822_init(&rc, f->value, f->value_len, NULL);
	(void)rfc822_skip_lwsp(&rc);
	if (rfc822_parse_mime_token(&rc, &tok) < 0) {
		buf_free(&tok);
		return;
	}
	free(part->disposition);
	part->disposition = buf_steal(&tok);
	mime_params_parse(&rc, &part->disp_params, &part->n_disp_params);
}

static void parse_content_transfer_encoding(struct mime_part *part, const struct mime_hdr_field *f)
{
	struct rfc822_ctx rc;
	struct buf tok = BUF_INIT;

	rfc822_init(&rc, f->value, f->value_len, NULL);
	(void)rfc822_skip_lwsp(&rc);
	if (rfc822_parse_mime_token(&rc, &tok) >= 0 && rfc822_skip_lwsp(&rc) == 0 && tok.len > 0)
		part->encoding = buf_steal(&tok);
	buf_free(&tok);
}

static void clear_content_fields(struct mime_part *part)
{
	free(part->type);
	free(part->subtype);
	mime_params_free(part->params, part->n_params);
	free(part->id);
	free(part->description);
	free(part->encoding);
	free(part->md5);
	free(part->disposition);
	free(part->language);
	free(part->location);
	mime_params_free(part->disp_params, part->n_disp_params);
	part->type = part->subtype = NULL;
	part->params = part->disp_params = NULL;
	part->n_params = part->n_disp_params = 0;
	part->id = part->description = part->encoding = NULL;
	part->md5 = part->disposition = part->language = part->location = NULL;
}

static void parse_part_header(const struct parse_ctx *c, struct mime_part *part, bool parent_multipart,
			      bool parent_digest, struct hdr_info *info)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;

	memset(info, 0, sizeof(*info));
	info->is_mime = parent_multipart;
	mime_hdr_iter_init(&it, c->d + part->hdr_off, part->hdr_len);
	while (mime_hdr_iter_next(&it, &f)) {
		if (mime_hdr_name_is(&f, "Mime-Version")) {
			info->is_mime = true;
			continue;
		}
		if (f.name_len < 8 || strncasecmp(f.name, "Content-", 8) != 0)
			continue;
		if (mime_hdr_name_is(&f, "Content-Type")) {
			info->is_mime = true;
			if (!info->seen_ct) {
				info->seen_ct = true;
				parse_content_type(part, &f, info);
			}
		} else if (mime_hdr_name_is(&f, "Content-Transfer-Encoding")) {
			if (part->encoding == NULL)
				parse_content_transfer_encoding(part, &f);
		} else if (mime_hdr_name_is(&f, "Content-ID")) {
			if (part->id == NULL)
				part->id = dup_unfolded(&f);
		} else if (mime_hdr_name_is(&f, "Content-Description")) {
			if (part->description == NULL)
				part->description = dup_unfolded(&f);
		} else if (mime_hdr_name_is(&f, "Content-MD5")) {
			if (part->md5 == NULL)
				part->md5 = dup_unfolded(&f);
		} else if (mime_hdr_name_is(&f, "Content-Language")) {
			/* kept only if it names a language (else as if absent) */
			if (part->language == NULL && language_has_tag(&f))
				part->language = dup_unfolded(&f);
		} else if (mime_hdr_name_is(&f, "Content-Location")) {
			if (part->location == NULL)
				part->location = dup_unfolded(&f);
		} else if (mime_hdr_name_is(&f, "Content-Disposition")) {
			/* Dovecot re-reads it while no parameters were seen */
			if (part->n_disp_params == 0)
				parse_content_disposition(part, &f);
		}
	}

	if (!info->is_mime) {
		/* not MIME: the Content-* fields mean nothing */
		clear_content_fields(part);
		info->multipart = info->rfc822 = false;
		free(info->boundary);
		info->boundary = NULL;
	}
	if (!info->seen_ct || !info->is_mime) {
		free(part->type);
		free(part->subtype);
		if (parent_digest) {
			info->rfc822 = true;
			part->type = om_strdup("message");
			part->subtype = om_strdup("rfc822");
		} else {
			part->type = om_strdup("text");
			part->subtype = om_strdup("plain");
		}
	}
}

static unsigned count_lines(const char *p, size_t len)
{
	unsigned n = 0;
	const char *end = p + len, *lf;

	while (p < end && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p = lf + 1;
	}
	return n;
}

static void parse_entity(struct parse_ctx *c, struct mime_part *part, size_t start, unsigned depth,
			 bool parent_multipart, bool parent_digest, struct bevent *ev);

static struct mime_part *add_child(struct parse_ctx *c, struct mime_part *part, size_t *cap)
{
	if (part->n_children == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		part->children = om_reallocarray(part->children, *cap, sizeof(*part->children));
	}
	memset(&part->children[part->n_children], 0, sizeof(*part->children));
	c->n_parts++;
	return &part->children[part->n_children++];
}

/* Preamble, parts, epilogue; the part's boundary is on top of the stack.
 * Returns the end of the multipart's body. */
static size_t parse_multipart_body(struct parse_ctx *c, struct mime_part *part, size_t body_start,
				   unsigned depth, bool digest, struct bevent *ev)
{
	size_t my_idx = c->n_bound - 1, cap = 0, pos;
	struct bevent e;

	find_boundary(c, body_start, &e);
	for (;;) {
		if (!e.found) {
			ev->found = false;
			return c->len;
		}
		if (e.idx < my_idx) {
			*ev = e;
			return e.up_end;
		}
		pos = next_line(c, e.line_start);
		if (e.close || c->d[pos - 1] != '\n' || c->n_parts >= MIME_MAX_PARTS) {
			/* the epilogue (also when out of part budget); a
			 * boundary line without LF ends the message */
			c->n_bound = my_idx;
			if (c->d[pos - 1] != '\n') {
				ev->found = false;
				return c->len;
			}
			find_boundary(c, pos, &e);
			if (!e.found) {
				ev->found = false;
				return c->len;
			}
			*ev = e;
			return e.nl_start;
		}
		c->n_bound = my_idx + 1; /* forget boundaries of finished parts */
		parse_entity(c, add_child(c, part, &cap), pos, depth + 1, true, digest, &e);
	}
}

static void parse_entity(struct parse_ctx *c, struct mime_part *part, size_t start, unsigned depth,
			 bool parent_multipart, bool parent_digest, struct bevent *ev)
{
	struct hdr_info info;
	size_t pos = start, body_start, end;
	bool hdr_cut = false;
	size_t idx;
	bool close;

	/* the header: up to the blank line, a boundary line or the end */
	for (;;) {
		if (pos >= c->len) {
			body_start = c->len;
			part->hdr_len = c->len - start;
			break;
		}
		if (c->d[pos] == '-' && boundary_at(c, pos, &idx, &close)) {
			make_event(c, start, pos, idx, close, ev);
			ev->up_end = ev->line_start;
			part->hdr_len = ev->nl_start - start;
			body_start = ev->nl_start;
			hdr_cut = true;
			break;
		}
		if (c->d[pos] == '\n' || (c->d[pos] == '\r' && pos + 1 < c->len && c->d[pos + 1] == '\n')) {
			body_start = pos + (c->d[pos] == '\n' ? 1 : 2);
			part->hdr_len = body_start - start;
			break;
		}
		pos = next_line(c, pos);
	}
	part->hdr_off = start;
	part->body_off = body_start;
	parse_part_header(c, part, parent_multipart, parent_digest, &info);
	part->is_multipart = info.multipart;

	if (!hdr_cut && body_start < c->len && c->d[body_start] == '-') {
		/* An enclosing boundary right after the blank line takes the
		 * blank line's newline as its own (Dovecot: the header ends
		 * before it). The part's own boundary is known here already,
		 * so a longer own boundary wins the prefix match. */
		size_t own = c->n_bound;
		if (info.multipart && info.boundary != NULL)
			push_boundary(c, info.boundary);
		if (boundary_at(c, body_start, &idx, &close) && idx < own) {
			make_event(c, start, body_start, idx, close, ev);
			ev->up_end = ev->line_start;
			part->hdr_len = ev->nl_start - start;
			part->body_off = body_start = ev->nl_start;
			hdr_cut = true;
		}
		c->n_bound = own;
	}

	if (hdr_cut) {
		end = body_start;
		if (info.rfc822 && depth < MIME_MAX_DEPTH && c->n_parts < MIME_MAX_PARTS) {
			/* an empty attached message, as Dovecot has it */
			size_t cap = 0;
			struct mime_part *child = add_child(c, part, &cap);
			struct hdr_info child_info;

			part->is_message_rfc822 = true;
			child->hdr_off = child->body_off = ev->line_start;
			parse_part_header(c, child, false, false, &child_info);
			free(child_info.boundary);
		}
	} else if (info.multipart && info.boundary != NULL && depth < MIME_MAX_DEPTH &&
		   c->n_parts < MIME_MAX_PARTS) {
		push_boundary(c, info.boundary);
		end = parse_multipart_body(c, part, body_start, depth,
					   strcasecmp(part->subtype, "digest") == 0, ev);
	} else if (info.rfc822 && depth < MIME_MAX_DEPTH && c->n_parts < MIME_MAX_PARTS) {
		size_t cap = 0;
		part->is_message_rfc822 = true;
		parse_entity(c, add_child(c, part, &cap), body_start, depth + 1, false, false, ev);
		end = ev->found ? ev->up_end : c->len;
	} else if (info.multipart && info.boundary != NULL) {
		/* Over a limit: an opaque leaf. Its own boundary lines are
		 * still known, so they don't end outer parts by prefix match. */
		size_t my_idx = c->n_bound;

		part->is_multipart = false;
		push_boundary(c, info.boundary);
		find_boundary(c, body_start, ev);
		while (ev->found && ev->idx == my_idx) {
			size_t next = next_line(c, ev->line_start);
			find_boundary(c, next, ev);
		}
		c->n_bound = my_idx;
		end = ev->found ? ev->nl_start : c->len;
	} else {
		find_boundary(c, body_start, ev);
		end = ev->found ? ev->nl_start : c->len;
	}
	if (end < body_start)
		end = body_start;
	part->body_len = end - body_start;
	part->body_lines = count_lines(c->d + body_start, part->body_len);
	free(info.boundary);
}

static void set_parents(struct mime_part *part, struct mime_part *parent)
{
	size_t i;

	part->parent = parent;
	for (i = 0; i < part->n_children; i++)
		set_parents(&part->children[i], part);
}

struct mime_message *mime_parse(const char *data, size_t len)
{
	struct mime_message *msg = om_calloc(1, sizeof(*msg));
	struct parse_ctx *c = om_calloc(1, sizeof(*c));
	struct bevent ev;

	msg->data = data;
	msg->len = len;
	c->d = data;
	c->len = len;
	c->n_parts = 1;
	parse_entity(c, &msg->root, 0, 0, false, false, &ev);
	set_parents(&msg->root, NULL);
	free(c);
	return msg;
}

static void free_part(struct mime_part *part)
{
	size_t i;

	for (i = 0; i < part->n_children; i++)
		free_part(&part->children[i]);
	free(part->children);
	clear_content_fields(part);
}

void mime_free(struct mime_message *msg)
{
	if (msg == NULL)
		return;
	free_part(&msg->root);
	free(msg);
}

const struct mime_part *mime_part_by_path(const struct mime_message *msg, const unsigned *path,
					  size_t n)
{
	const struct mime_part *part = &msg->root;
	size_t i;

	/* As Dovecot: a number picks a child of a multipart, or (only "1")
	 * the part itself; a message/rfc822 part followed by more numbers
	 * is entered, so "2.1" is part 1 of the message attached as 2. */
	for (i = 0; i < n; i++) {
		unsigned num = path[i];

		if (num == 0)
			return NULL;
		if (part->is_multipart) {
			if (num > part->n_children)
				return NULL;
			part = &part->children[num - 1];
		} else if (num != 1) {
			return NULL;
		}
		if (i + 1 < n && part->is_message_rfc822 && part->n_children == 1)
			part = &part->children[0];
	}
	return part;
}
