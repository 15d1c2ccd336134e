/* RFC 5322 address lists for ENVELOPE: mailboxes, name-addr with routes,
 * groups (start marker: mailbox = group name, domain NULL; end marker:
 * all NULL), comments as display names, obsolete forms. Broken input is
 * recovered from the way Dovecot 2.3 does it, with MISSING_MAILBOX /
 * MISSING_DOMAIN / SYNTAX_ERROR / INVALID_ROUTE filling the holes. */
#include "mime/mime-private.h"

#include <stdlib.h>
#include <string.h>

struct addr_ctx {
	struct rfc822_ctx p;
	struct buf str;
	struct buf comment;
	struct mime_address cur;
	bool invalid;
	struct mime_address_list *list;
	size_t cap;
};

static void set_field(char **field, const char *value)
{
	free(*field);
	*field = value == NULL ? NULL : om_strdup(value);
}

static void add_address(struct addr_ctx *c)
{
	struct mime_address_list *l = c->list;

	if (l->n >= MIME_MAX_ADDRESSES) {
		free(c->cur.name);
		free(c->cur.route);
		free(c->cur.mailbox);
		free(c->cur.domain);
	} else {
		if (l->n == c->cap) {
			c->cap = c->cap == 0 ? 4 : c->cap * 2;
			l->addrs = om_reallocarray(l->addrs, c->cap, sizeof(*l->addrs));
		}
		l->addrs[l->n++] = c->cur;
	}
	memset(&c->cur, 0, sizeof(c->cur));
	c->invalid = false;
}

static bool at_end(const struct addr_ctx *c)
{
	return c->p.data >= c->p.end;
}

/* Dovecot 2.3 parses ENVELOPE local parts with "non-strict dots":
 * leading, trailing and doubled dots are accepted (".org", "a..b"). */
static int parse_nonstrict_dot_atom(struct rfc822_ctx *p, struct buf *out)
{
	int ret = -1;

	do {
		while (*p->data == '.') {
			buf_append_c(out, '.');
			p->data++;
			if (p->data >= p->end)
				return 0; /* no @domain, but a local part */
			ret = 1;
		}
		if (*p->data == '@')
			break;
		ret = rfc822_parse_atom(p, out);
	} while (ret > 0 && *p->data == '.');
	return ret;
}

static int parse_local_part(struct addr_ctx *c)
{
	int ret;

	buf_reset(&c->str);
	if (*c->p.data == '"')
		ret = rfc822_parse_quoted_string(&c->p, &c->str);
	else
		ret = parse_nonstrict_dot_atom(&c->p, &c->str);
	if (ret < 0)
		return -1;
	set_field(&c->cur.mailbox, buf_cstr(&c->str));
	return ret;
}

static int parse_domain(struct addr_ctx *c)
{
	int ret;

	buf_reset(&c->str);
	if ((ret = rfc822_parse_domain(&c->p, &c->str)) < 0)
		return -1;
	set_field(&c->cur.domain, buf_cstr(&c->str));
	return ret;
}

static int parse_domain_list(struct addr_ctx *c)
{
	int ret;

	/* obs-domain-list = "@" domain *(*(CFWS / ",") [CFWS] "@" domain) */
	buf_reset(&c->str);
	for (;;) {
		if (at_end(c))
			return 0;
		if (*c->p.data != '@')
			break;
		if (c->str.len > 0)
			buf_append_c(&c->str, ',');
		buf_append_c(&c->str, '@');
		if ((ret = rfc822_parse_domain(&c->p, &c->str)) <= 0)
			return ret;
		while (rfc822_skip_lwsp(&c->p) > 0 && *c->p.data == ',')
			c->p.data++;
	}
	set_field(&c->cur.route, buf_cstr(&c->str));
	return 1;
}

static int parse_angle_addr(struct addr_ctx *c)
{
	/* "<" [ "@" route ":" ] local-part "@" domain ">" */
	c->p.data++;
	if (rfc822_skip_lwsp(&c->p) <= 0)
		return -1;
	if (*c->p.data == '@') {
		if (parse_domain_list(c) > 0 && *c->p.data == ':') {
			c->p.data++;
		} else {
			set_field(&c->cur.route, "INVALID_ROUTE");
			if (at_end(c))
				return -1;
		}
		if (rfc822_skip_lwsp(&c->p) <= 0)
			return -1;
	}
	if (*c->p.data != '>') {
		if (parse_local_part(c) <= 0)
			return -1;
		if (*c->p.data == '@') {
			if (parse_domain(c) <= 0)
				return -1;
		}
	}
	if (*c->p.data != '>')
		return -1;
	c->p.data++;
	return rfc822_skip_lwsp(&c->p);
}

static int parse_name_addr(struct addr_ctx *c)
{
	buf_reset(&c->str);
	if (rfc822_parse_phrase(&c->p, &c->str) <= 0 || *c->p.data != '<')
		return -1;
	set_field(&c->cur.name, c->str.len == 0 ? NULL : buf_cstr(&c->str));
	if (parse_angle_addr(c) < 0) {
		set_field(&c->cur.domain, "SYNTAX_ERROR");
		c->invalid = true;
	}
	return at_end(c) ? 0 : 1;
}

static int parse_addr_spec(struct addr_ctx *c)
{
	int ret, ret2 = -2;
	bool quoted = *c->p.data == '"';

	buf_reset(&c->comment);
	ret = parse_local_part(c);
	if (ret <= 0)
		c->invalid = true;
	if (ret != 0 && !at_end(c) && *c->p.data == '@') {
		ret2 = parse_domain(c);
		if (ret2 <= 0)
			ret = ret2;
	}
	if (c->comment.len > 0) {
		set_field(&c->cur.name, buf_cstr(&c->comment));
	} else if (ret2 == -2) {
		/* "user" alone is a mailbox; "user more words" a display name */
		size_t orig_len;

		buf_append_c(&c->str, ' ');
		orig_len = c->str.len;
		(void)rfc822_parse_phrase(&c->p, &c->str);
		if (c->str.len != orig_len) {
			set_field(&c->cur.mailbox, NULL);
			set_field(&c->cur.name, buf_cstr(&c->str));
		} else if (!quoted) {
			set_field(&c->cur.domain, "");
		}
		c->invalid = true;
		ret = -1;
	}
	return ret;
}

static void add_fixed_address(struct addr_ctx *c)
{
	if (c->cur.mailbox == NULL)
		set_field(&c->cur.mailbox, "MISSING_MAILBOX");
	if (c->cur.domain == NULL || c->cur.domain[0] == '\0')
		set_field(&c->cur.domain, "MISSING_DOMAIN");
	add_address(c);
}

static int parse_mailbox(struct addr_ctx *c)
{
	const unsigned char *start = c->p.data;
	int ret;

	if ((ret = parse_name_addr(c)) < 0) {
		c->p.data = start;
		ret = parse_addr_spec(c);
		if (c->invalid && c->cur.name == NULL && c->cur.mailbox != NULL &&
		    c->cur.domain == NULL) {
			c->cur.name = c->cur.mailbox;
			c->cur.mailbox = NULL;
		}
	}
	add_fixed_address(c);
	return ret;
}

static int parse_group(struct addr_ctx *c)
{
	int ret;

	buf_reset(&c->str);
	if (rfc822_parse_phrase(&c->p, &c->str) <= 0 || *c->p.data != ':')
		return -1;
	/* from here on it is a group, however broken */
	c->p.data++;
	ret = rfc822_skip_lwsp(&c->p);
	set_field(&c->cur.mailbox, buf_cstr(&c->str));
	add_address(c);

	if (ret > 0 && *c->p.data != ';') {
		for (;;) {
			(void)parse_mailbox(c);
			if (at_end(c) || *c->p.data != ',')
				break;
			c->p.data++;
			if (rfc822_skip_lwsp(&c->p) <= 0) {
				ret = -1;
				break;
			}
		}
	}
	if (ret >= 0) {
		if (at_end(c) || *c->p.data != ';') {
			ret = -1;
		} else {
			c->p.data++;
			ret = rfc822_skip_lwsp(&c->p);
		}
	}
	add_address(c); /* group end */
	return ret == 0 ? 0 : 1;
}

static int parse_address(struct addr_ctx *c)
{
	const unsigned char *start = c->p.data;
	int ret;

	if ((ret = parse_group(c)) < 0) {
		c->p.data = start;
		ret = parse_mailbox(c);
	}
	return ret;
}

void mime_address_parse(const char *value, size_t len, struct mime_address_list *list)
{
	struct addr_ctx c;
	int ret;

	memset(&c, 0, sizeof(c));
	buf_init(&c.str);
	buf_init(&c.comment);
	c.list = list;
	c.cap = list->n;
	rfc822_init(&c.p, value, len, &c.comment);
	c.p.nul_replacement = true;

	if (rfc822_skip_lwsp(&c.p) > 0) {
		while (list->n < MIME_MAX_ADDRESSES) {
			if (parse_address(&c) == 0)
				break;
			if (at_end(&c) || *c.p.data != ',')
				break;
			c.p.data++;
			if ((ret = rfc822_skip_lwsp(&c.p)) <= 0) {
				if (ret < 0)
					add_fixed_address(&c); /* trailing garbage */
				break;
			}
		}
	}
	free(c.cur.name);
	free(c.cur.route);
	free(c.cur.mailbox);
	free(c.cur.domain);
	buf_free(&c.str);
	buf_free(&c.comment);
}

void mime_address_list_free(struct mime_address_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++) {
		free(list->addrs[i].name);
		free(list->addrs[i].route);
		free(list->addrs[i].mailbox);
		free(list->addrs[i].domain);
	}
	free(list->addrs);
	list->addrs = NULL;
	list->n = 0;
}

void mime_address_list_write(struct buf *out, const struct mime_address_list *list)
{
	size_t i;

	if (list == NULL || list->n == 0) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_c(out, '(');
	for (i = 0; i < list->n; i++) {
		const struct mime_address *a = &list->addrs[i];

		buf_append_c(out, '(');
		if (a->name == NULL)
			buf_append_str(out, "NIL");
		else
			mime_imap_string_for_humans(out, a->name, strlen(a->name));
		buf_append_c(out, ' ');
		mime_imap_nstring_z(out, a->route);
		buf_append_c(out, ' ');
		mime_imap_nstring_z(out, a->mailbox);
		buf_append_c(out, ' ');
		mime_imap_nstring_z(out, a->domain);
		buf_append_c(out, ')');
	}
	buf_append_c(out, ')');
}
