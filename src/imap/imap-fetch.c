/* FETCH item parsing: see imap-fetch.h. The IMAP parser hands us
 * BODY[...]<...> as one atom, so the section grammar (RFC 3501 9, "section")
 * is parsed here. Response names are canonical and upper-cased, as Dovecot
 * writes them: BODY[HEADER.FIELDS (FROM "TO")]<0>. */
#include "imap/imap-fetch.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"

struct simple_item {
	const char *name;
	enum imap_fetch_kind kind;
	enum imap_section_spec spec;
	bool peek;
};

static const struct simple_item simple_items[] = {
	{ "UID", IMAP_FETCH_UID, IMAP_SECTION_ALL, false },
	{ "FLAGS", IMAP_FETCH_FLAGS, IMAP_SECTION_ALL, false },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE, IMAP_SECTION_ALL, false },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE, IMAP_SECTION_ALL, false },
	{ "MODSEQ", IMAP_FETCH_MODSEQ, IMAP_SECTION_ALL, false },
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE, IMAP_SECTION_ALL, false },
	{ "BODY", IMAP_FETCH_BODY, IMAP_SECTION_ALL, false },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, IMAP_SECTION_ALL, false },
	/* RFC 3501 6.4.5: RFC822 = BODY[], RFC822.HEADER = BODY.PEEK[HEADER],
	 * RFC822.TEXT = BODY[TEXT]; the response keeps the old names. */
	{ "RFC822", IMAP_FETCH_SECTION, IMAP_SECTION_ALL, false },
	{ "RFC822.HEADER", IMAP_FETCH_SECTION, IMAP_SECTION_HEADER, true },
	{ "RFC822.TEXT", IMAP_FETCH_SECTION, IMAP_SECTION_TEXT, false },
};

static const char *const spec_names[] = {
	[IMAP_SECTION_ALL] = "",
	[IMAP_SECTION_HEADER] = "HEADER",
	[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
	[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
	[IMAP_SECTION_TEXT] = "TEXT",
	[IMAP_SECTION_MIME] = "MIME",
};

void imap_fetch_item_clear(struct imap_fetch_item *item)
{
	for (size_t i = 0; i < item->n_fields; i++)
		free(item->fields[i]);
	free(item->fields);
	free(item->name);
	memset(item, 0, sizeof(*item));
}

void imap_fetch_request_free(struct imap_fetch_request *req)
{
	for (size_t i = 0; i < req->n_items; i++)
		imap_fetch_item_clear(&req->items[i]);
	free(req->items);
	memset(req, 0, sizeof(*req));
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ATOM-CHAR minus ']' (which ends the section). */
static bool is_field_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* Does [p, end) start with keyword kw (case-insensitively), followed by
 * end, space or '(' ? */
static bool match_word(const char *p, const char *end, const char *kw, const char **next_r)
{
	size_t n = strlen(kw);
	if ((size_t)(end - p) < n || !om_mem_ieq(p, n, kw))
		return false;
	if (p + n < end && p[n] != ' ' && p[n] != '(')
		return false;
	*next_r = p + n;
	return true;
}

static void upper_append(struct buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		buf_append_c(b, c);
	}
}

/* "(" name *(SP name) ")" with atom or quoted names, to the end. */
static int parse_field_list(const char *p, const char *end, struct imap_fetch_item *item,
			    struct buf *name, const char **error_r)
{
	while (p < end && *p == ' ')
		p++;
	if (p == end || *p != '(') {
		*error_r = "Invalid BODY[..] section: missing header list";
		return -OM_EINVAL;
	}
	p++;
	buf_append_str(name, " (");
	struct buf field = BUF_INIT;
	int ret = 0;
	for (;;) {
		while (p < end && *p == ' ')
			p++;
		if (p == end) {
			*error_r = "Invalid BODY[..] section: unterminated header list";
			ret = -OM_EINVAL;
			break;
		}
		if (*p == ')') {
			p++;
			break;
		}
		buf_reset(&field);
		bool quoted = *p == '"';
		if (quoted) {
			p++;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					p++;
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
					ret = -OM_EINVAL;
					break;
				}
				buf_append_c(&field, *p++);
			}
			if (ret < 0 || p == end) {
				*error_r = "Invalid BODY[..] section: bad header name";
				ret = -OM_EINVAL;
				break;
			}
			p++; /* closing quote */
		} else {
			while (p < end && is_field_atom_char((unsigned char)*p))
				buf_append_c(&field, *p++);
		}
		if (field.len == 0 || field.len > IMAP_FETCH_MAX_FIELD_LEN ||
		    (p < end && *p != ' ' && *p != ')')) {
			*error_r = "Invalid BODY[..] section: bad header name";
			ret = -OM_EINVAL;
			break;
		}
		if (item->n_fields >= IMAP_FETCH_MAX_FIELDS) {
			*error_r = "Too many header names in BODY[..] section";
			ret = -OM_EINVAL;
			break;
		}
		if (item->n_fields > 0)
			buf_append_c(name, ' ');
		if (quoted) {
			buf_append_c(name, '"');
			for (size_t i = 0; i < field.len; i++) {
				char c = field.data[i];
				if (c == '"' || c == '\\')
					buf_append_c(name, '\\');
				upper_append(name, &c, 1);
			}
			buf_append_c(name, '"');
		} else {
			upper_append(name, field.data, field.len);
		}
		item->fields = om_reallocarray(item->fields, item->n_fields + 1, sizeof(char *));
		item->fields[item->n_fields++] = om_strndup(field.data, field.len);
	}
	buf_free(&field);
	if (ret < 0)
		return ret;
	if (item->n_fields == 0) {
		*error_r = "Invalid BODY[..] section: empty header list";
		return -OM_EINVAL;
	}
	if (p != end) {
		*error_r = "Invalid BODY[..] section: junk after header list";
		return -OM_EINVAL;
	}
	buf_append_c(name, ')');
	return 0;
}

/* The text between '[' and ']'. Appends its canonical form to name. */
static int parse_section(const char *p, const char *end, struct imap_fetch_item *item,
			 struct buf *name, const char **error_r)
{
	*error_r = "Invalid BODY[..] section";
	item->spec = IMAP_SECTION_ALL;
	if (p == end)
		return 0;

	/* section-part: nz-number *("." nz-number) */
	while (p < end && is_digit(*p)) {
		if (*p == '0')
			return -OM_EINVAL;
		unsigned long n = 0;
		while (p < end && is_digit(*p)) {
			n = n * 10 + (unsigned long)(*p - '0');
			if (n > IMAP_FETCH_MAX_PART)
				return -OM_EINVAL;
			p++;
		}
		if (item->path_len >= IMAP_FETCH_MAX_PATH) {
			*error_r = "BODY[..] section part path too deep";
			return -OM_EINVAL;
		}
		item->path[item->path_len++] = (unsigned)n;
		if (item->path_len > 1)
			buf_append_c(name, '.');
		buf_printf(name, "%lu", n);
		if (p == end)
			return 0;
		if (*p != '.' || p + 1 == end)
			return -OM_EINVAL;
		p++;
		if (!is_digit(*p))
			break;
	}
	if (item->path_len > 0)
		buf_append_c(name, '.');

	const char *next;
	if (match_word(p, end, "HEADER.FIELDS.NOT", &next))
		item->spec = IMAP_SECTION_HEADER_FIELDS_NOT;
	else if (match_word(p, end, "HEADER.FIELDS", &next))
		item->spec = IMAP_SECTION_HEADER_FIELDS;
	else if (match_word(p, end, "HEADER", &next))
		item->spec = IMAP_SECTION_HEADER;
	else if (match_word(p, end, "TEXT", &next))
		item->spec = IMAP_SECTION_TEXT;
	else if (item->path_len > 0 && match_word(p, end, "MIME", &next))
		item->spec = IMAP_SECTION_MIME;
	else
		return -OM_EINVAL;
	buf_append_str(name, spec_names[item->spec]);
	if (item->spec == IMAP_SECTION_HEADER_FIELDS || item->spec == IMAP_SECTION_HEADER_FIELDS_NOT)
		return parse_field_list(next, end, item, name, error_r);
	return next == end ? 0 : -OM_EINVAL;
}

/* "<" number "." number ">" to the end of the item. */
static int parse_partial(const char *p, const char *end, struct imap_fetch_item *item,
			 struct buf *name, const char **error_r)
{
	*error_r = "Invalid BODY[..] partial";
	if (end - p < 5 || *p != '<' || end[-1] != '>')
		return -OM_EINVAL;
	p++;
	end--;
	const char *dot = memchr(p, '.', (size_t)(end - p));
	if (dot == NULL)
		return -OM_EINVAL;
	unsigned long long origin, count;
	if (!om_parse_u64(p, (size_t)(dot - p), &origin) ||
	    !om_parse_u64(dot + 1, (size_t)(end - dot - 1), &count))
		return -OM_EINVAL;
	item->partial = true;
	item->origin = origin;
	item->count = count;
	buf_printf(name, "<%llu>", origin);
	return 0;
}

int imap_fetch_parse_item(const char *str, size_t len, struct imap_fetch_item *item,
			  const char **error_r)
{
	memset(item, 0, sizeof(*item));
	const char *bracket = memchr(str, '[', len);
	if (bracket == NULL) {
		for (size_t i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]); i++) {
			const struct simple_item *si = &simple_items[i];
			if (strlen(si->name) == len && om_mem_ieq(str, len, si->name)) {
				item->kind = si->kind;
				item->spec = si->spec;
				item->peek = si->peek;
				item->name = om_strdup(si->name);
				return 0;
			}
		}
		*error_r = "Unknown FETCH item";
		return -OM_EINVAL;
	}

	size_t prefix = (size_t)(bracket - str);
	if (prefix >= 6 && om_mem_ieq(str, 6, "BINARY"))
		return imap_fetch_parse_binary(str, len, item, error_r); /* RFC 3516 */
	if (prefix == 9 && om_mem_ieq(str, 9, "BODY.PEEK"))
		item->peek = true;
	else if (!(prefix == 4 && om_mem_ieq(str, 4, "BODY"))) {
		*error_r = "Unknown FETCH item";
		return -OM_EINVAL;
	}
	item->kind = IMAP_FETCH_SECTION;

	/* The first ']' outside a quoted string ends the section. */
	const char *end = str + len, *p = bracket + 1, *close = NULL;
	bool quoted = false;
	for (; p < end; p++) {
		if (quoted) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				quoted = false;
		} else if (*p == '"') {
			quoted = true;
		} else if (*p == ']') {
			close = p;
			break;
		}
	}
	if (close == NULL) {
		*error_r = "Invalid BODY[..] section: missing ']'";
		return -OM_EINVAL;
	}

	struct buf name = BUF_INIT;
	buf_append_str(&name, "BODY[");
	int ret = parse_section(bracket + 1, close, item, &name, error_r);
	if (ret == 0) {
		buf_append_c(&name, ']');
		if (close + 1 < end)
			ret = parse_partial(close + 1, end, item, &name, error_r);
	}
	if (ret < 0) {
		buf_free(&name);
		imap_fetch_item_clear(item);
		return ret;
	}
	item->name = buf_steal(&name);
	return 0;
}

static bool item_same(const struct imap_fetch_item *a, const struct imap_fetch_item *b)
{
	if (a->kind != b->kind)
		return false;
	return a->kind != IMAP_FETCH_SECTION ||
		(strcmp(a->name, b->name) == 0 && a->peek == b->peek);
}

static bool is_view_item(enum imap_fetch_kind kind)
{
	return kind == IMAP_FETCH_UID || kind == IMAP_FETCH_FLAGS ||
		kind == IMAP_FETCH_INTERNALDATE || kind == IMAP_FETCH_RFC822_SIZE ||
		kind == IMAP_FETCH_MODSEQ;
}

/* Append item (taking ownership) unless an equal one is there. */
static void req_add(struct imap_fetch_item *items, size_t *n, struct imap_fetch_item *item)
{
	for (size_t i = 0; i < *n; i++) {
		if (item_same(&items[i], item)) {
			imap_fetch_item_clear(item);
			return;
		}
	}
	items[(*n)++] = *item;
}

static int add_named(struct imap_fetch_item *items, size_t *n, const char *s)
{
	struct imap_fetch_item item;
	const char *error;
	int ret = imap_fetch_parse_item(s, strlen(s), &item, &error);
	om_assert(ret == 0);
	req_add(items, n, &item);
	return 0;
}

int imap_fetch_parse(const struct imap_arg *args, size_t n_args, bool uid,
		     struct imap_fetch_request *req, const char **error_r)
{
	memset(req, 0, sizeof(*req));
	if (n_args != 1 || (args[0].type != IMAP_ARG_ATOM && args[0].type != IMAP_ARG_LIST)) {
		*error_r = "Invalid arguments";
		return -OM_EINVAL;
	}
	const struct imap_arg *list = args;
	size_t n_list = 1;
	if (args[0].type == IMAP_ARG_LIST) {
		list = args[0].list;
		n_list = args[0].list_count;
		if (n_list == 0) {
			*error_r = "FETCH list is empty";
			return -OM_EINVAL;
		}
		if (n_list > IMAP_FETCH_MAX_ITEMS) {
			*error_r = "Too many FETCH items";
			return -OM_EINVAL;
		}
	}

	/* +4: UID and the macro expansions */
	struct imap_fetch_item *tmp = om_calloc(n_list + 5, sizeof(*tmp));
	size_t n = 0;
	int ret = 0;
	if (uid)
		add_named(tmp, &n, "UID");
	const char *macro[5] = { NULL };
	if (args[0].type == IMAP_ARG_ATOM) {
		const char *a = args[0].str;
		if (om_str_ieq(a, "ALL") || om_str_ieq(a, "FAST") || om_str_ieq(a, "FULL")) {
			macro[0] = "FLAGS";
			macro[1] = "INTERNALDATE";
			macro[2] = "RFC822.SIZE";
			if (!om_str_ieq(a, "FAST"))
				macro[3] = "ENVELOPE";
			if (om_str_ieq(a, "FULL"))
				macro[4] = "BODY";
		}
	}
	if (macro[0] != NULL) {
		for (size_t i = 0; i < 5; i++)
			if (macro[i] != NULL)
				add_named(tmp, &n, macro[i]);
	} else {
		for (size_t i = 0; i < n_list; i++) {
			struct imap_fetch_item item;
			if (list[i].type != IMAP_ARG_ATOM) {
				*error_r = "Invalid FETCH item";
				ret = -OM_EINVAL;
				break;
			}
			ret = imap_fetch_parse_item(list[i].str, list[i].len, &item, error_r);
			if (ret < 0)
				break;
			req_add(tmp, &n, &item);
		}
	}
	if (ret < 0) {
		for (size_t i = 0; i < n; i++)
			imap_fetch_item_clear(&tmp[i]);
		free(tmp);
		return ret;
	}

	/* Dovecot's order: the small items from the view first, then the
	 * ones that may be big, each group as requested. */
	req->items = om_calloc(n, sizeof(*req->items));
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			if (is_view_item(tmp[i].kind) == (pass == 0))
				req->items[req->n_items++] = tmp[i];
		}
		if (pass == 0)
			req->n_view_items = req->n_items;
	}
	free(tmp);
	for (size_t i = 0; i < req->n_items; i++) {
		const struct imap_fetch_item *it = &req->items[i];
		switch (it->kind) {
		case IMAP_FETCH_FLAGS:
			req->want_flags = true;
			break;
		case IMAP_FETCH_MODSEQ:
			req->want_modseq = true;
			break;
		case IMAP_FETCH_ENVELOPE:
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODYSTRUCTURE:
			req->need_structure = true;
			break;
		case IMAP_FETCH_SECTION:
			req->need_message = true;
			if (!it->peek)
				req->sets_seen = true;
			break;
		default:
			break;
		}
	}
	return 0;
}
