/* Fields can't hold TAB or control characters, so a request needs no
 * quoting and is trivially safe to log. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/admin-proto.h"
#include "lib/om-error.h"

static bool field_byte_ok(unsigned char ch)
{
	return ch >= 0x20 && ch != 0x7f;
}

int admin_request_parse(const char *line, size_t len, struct admin_request *req_r)
{
	memset(req_r, 0, sizeof(*req_r));
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return -OM_EINVAL;
	if (len >= ADMIN_MAX_LINE)
		return -OM_ELIMIT;
	size_t fields = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch == '\t')
			fields++;
		else if (!field_byte_ok(ch))
			return -OM_EINVAL;
	}
	if (fields > ADMIN_MAX_ARGS)
		return -OM_ELIMIT;

	char *s = om_strndup(line, len);
	size_t n = 0;
	char *p = s;
	for (;;) {
		char *tab = strchr(p, '\t');
		if (tab != NULL)
			*tab = '\0';
		if (*p == '\0') {
			free(s);
			return -OM_EINVAL;
		}
		req_r->argv[n++] = p;
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	req_r->argc = n;
	req_r->storage = s;
	return 0;
}

void admin_request_free(struct admin_request *req)
{
	free(req->storage);
	memset(req, 0, sizeof(*req));
}

int admin_request_format(const char *const *argv, size_t argc, struct buf *out)
{
	if (argc == 0)
		return -OM_EINVAL;
	if (argc > ADMIN_MAX_ARGS)
		return -OM_ELIMIT;
	size_t total = 0;
	for (size_t i = 0; i < argc; i++) {
		const char *a = argv[i];
		size_t alen = strlen(a);
		if (alen == 0)
			return -OM_EINVAL;
		for (size_t j = 0; j < alen; j++) {
			if (!field_byte_ok((unsigned char)a[j]))
				return -OM_EINVAL;
		}
		total += alen + 1;
		if (total >= ADMIN_MAX_LINE)
			return -OM_ELIMIT;
	}
	for (size_t i = 0; i < argc; i++) {
		if (i > 0)
			buf_append_c(out, '\t');
		buf_append_str(out, argv[i]);
	}
	buf_append_c(out, '\n');
	return 0;
}

void admin_reply_data(struct buf *out, const char *text, size_t len)
{
	size_t start = 0;
	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		buf_append_c(out, '+');
		for (size_t i = start; i < end; i++) {
			if (text[i] != '\r' && text[i] != '\0')
				buf_append_c(out, text[i]);
		}
		buf_append_c(out, '\n');
		start = end + 1;
	}
}

void admin_reply_ok(struct buf *out)
{
	buf_append_str(out, "OK\n");
}

void admin_reply_err(struct buf *out, const char *code, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	buf_printf(out, "ERR %s ", code);
	/* the message must stay on the final line */
	for (size_t i = 0; i < msg.len; i++)
		buf_append_c(out, (unsigned char)msg.data[i] < 0x20 ? ' ' : msg.data[i]);
	buf_append_c(out, '\n');
	buf_free(&msg);
}

enum admin_line_kind admin_reply_line(const char *line, size_t len, const char **text_r,
				      size_t *text_len_r)
{
	*text_r = "";
	*text_len_r = 0;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len >= 1 && line[0] == '+') {
		*text_r = line + 1;
		*text_len_r = len - 1;
		return ADMIN_LINE_DATA;
	}
	if (len == 2 && memcmp(line, "OK", 2) == 0)
		return ADMIN_LINE_OK;
	if (len >= 4 && memcmp(line, "ERR ", 4) == 0) {
		*text_r = line + 4;
		*text_len_r = len - 4;
		return ADMIN_LINE_ERR;
	}
	return ADMIN_LINE_BAD;
}

/* --- Prometheus text to JSON (cache-stats) --- */

static void json_str_n(struct buf *out, const char *s, size_t n)
{
	buf_append_c(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			buf_printf(out, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			buf_printf(out, "\\u%04x", ch);
		else
			buf_append_c(out, (char)ch);
	}
	buf_append_c(out, '"');
}

static bool is_json_number(const char *s, size_t n)
{
	if (n == 0 || n > 64 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return false;
	char tmp[65];
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	/* JSON has no NaN, Inf or hex: only these characters, then strtod */
	if (strspn(tmp, "0123456789.eE+-") < n)
		return false;
	char *end = NULL;
	(void)strtod(tmp, &end);
	return end == tmp + n;
}

/* labels: the text between '{' and '}': name="value",... */
static bool labels_to_json(const char *p, size_t n, struct buf *out)
{
	size_t i = 0;
	bool first = true;
	buf_append_c(out, '{');
	while (i < n) {
		size_t name_start = i;
		while (i < n && p[i] != '=')
			i++;
		if (i + 1 >= n || p[i + 1] != '"')
			return false;
		size_t name_len = i - name_start;
		i += 2;
		struct buf val = BUF_INIT;
		while (i < n && p[i] != '"') {
			if (p[i] == '\\' && i + 1 < n) {
				i++;
				buf_append_c(&val, p[i] == 'n' ? '\n' : p[i]);
			} else {
				buf_append_c(&val, p[i]);
			}
			i++;
		}
		if (i >= n) {
			buf_free(&val);
			return false;
		}
		i++; /* closing quote */
		if (!first)
			buf_append_c(out, ',');
		first = false;
		json_str_n(out, p + name_start, name_len);
		buf_append_c(out, ':');
		json_str_n(out, buf_cstr(&val), val.len);
		buf_free(&val);
		if (i < n && p[i] == ',')
			i++;
	}
	buf_append_c(out, '}');
	return true;
}

static void sample_to_json(const char *line, size_t n, struct buf *out, bool *first)
{
	size_t i = 0;
	while (i < n && line[i] != '{' && line[i] != ' ')
		i++;
	size_t name_len = i;
	if (name_len == 0)
		return;
	struct buf item = BUF_INIT;
	buf_append_str(&item, "{\"name\":");
	json_str_n(&item, line, name_len);
	buf_append_str(&item, ",\"labels\":");
	if (i < n && line[i] == '{') {
		/* the closing brace: the last '}' before the value */
		const char *close = NULL;
		for (size_t j = n; j > i; j--) {
			if (line[j - 1] == '}') {
				close = line + j - 1;
				break;
			}
		}
		if (close == NULL || !labels_to_json(line + i + 1, (size_t)(close - line) - i - 1,
						     &item)) {
			buf_free(&item);
			return;
		}
		i = (size_t)(close - line) + 1;
	} else {
		buf_append_str(&item, "{}");
	}
	while (i < n && line[i] == ' ')
		i++;
	size_t v_start = i;
	while (i < n && line[i] != ' ')
		i++;
	buf_append_str(&item, ",\"value\":");
	if (is_json_number(line + v_start, i - v_start))
		buf_append(&item, line + v_start, i - v_start);
	else
		buf_append_str(&item, "null");
	buf_append_c(&item, '}');
	if (!*first)
		buf_append_c(out, ',');
	*first = false;
	buf_append(out, item.data, item.len);
	buf_free(&item);
}

void admin_prom_to_json(const char *text, size_t len, struct buf *out)
{
	bool first = true;
	buf_append_str(out, "{\"metrics\":[");
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0 && p[0] != '#')
			sample_to_json(p, n, out, &first);
		p = nl != NULL ? nl + 1 : end;
	}
	buf_append_str(out, "]}");
}

#define PROGRESS_TAG "progress\t"

void admin_reply_progress(struct buf *out, const char *what, unsigned long long done,
			  unsigned long long total)
{
	struct buf line = BUF_INIT;
	buf_printf(&line, PROGRESS_TAG "%llu\t%llu\t%s", done, total, what);
	admin_reply_data(out, line.data, line.len);
	buf_free(&line);
}

/* a decimal number ended by TAB; advances *p past the TAB */
static bool parse_count(const char **p, const char *end, unsigned long long *v_r)
{
	unsigned long long v = 0;
	const char *s = *p;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');
		if (v > (~0ULL - d) / 10)
			return false;
		v = v * 10 + d;
		s++;
	}
	if (s >= end || *s != '\t')
		return false;
	*p = s + 1;
	*v_r = v;
	return true;
}

bool admin_progress_parse(const char *text, size_t len, unsigned long long *done_r,
			  unsigned long long *total_r, const char **what_r, size_t *what_len_r)
{
	size_t tag = sizeof(PROGRESS_TAG) - 1;
	if (len < tag || memcmp(text, PROGRESS_TAG, tag) != 0)
		return false;
	const char *p = text + tag, *end = text + len;
	if (!parse_count(&p, end, done_r) || !parse_count(&p, end, total_r))
		return false;
	*what_r = p;
	*what_len_r = (size_t)(end - p);
	return true;
}
