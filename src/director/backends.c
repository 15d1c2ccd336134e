/* The backend list in its two written forms: the config's director_backends
 * and the cluster/backends object in the store (one line per backend, so
 * that an operator can read it with `rados get` or `cat`). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "director/director.h"
#include "lib/om-error.h"
#include "objstore/objstore.h"

#define BACKENDS_MAX_OBJECT (1024 * 1024)
#define BACKENDS_UPDATE_TRIES 10

static bool parse_port(const char *s, size_t len, unsigned *port_r)
{
	unsigned long long v = 0;
	if (len == 0 || !om_parse_u64(s, len, &v) || v == 0 || v > 65535)
		return false;
	*port_r = (unsigned)v;
	return true;
}

static bool host_ok(const char *h, size_t len)
{
	if (len == 0 || len >= DIRECTOR_HOST_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!isalnum(c) && c != '.' && c != '-' && c != ':' && c != '_')
			return false;
	}
	return true;
}

static void set_id(struct director_backend *b)
{
	bool v6 = strchr(b->host, ':') != NULL;
	snprintf(b->id, sizeof(b->id), v6 ? "[%s]:%u" : "%s:%u", b->host, b->imap_port);
}

int director_backend_parse_addr(const char *s, struct director_backend *b_r)
{
	memset(b_r, 0, sizeof(*b_r));
	b_r->imap_port = 143;
	b_r->lmtp_port = 24;
	b_r->weight = DIRECTOR_DEFAULT_WEIGHT;
	const char *host = s, *rest;
	size_t hlen;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL)
			return -OM_EINVAL;
		host = s + 1;
		hlen = (size_t)(end - host);
		rest = end + 1;
	} else {
		hlen = strcspn(s, ":/");
		rest = s + hlen;
	}
	if (!host_ok(host, hlen))
		return -OM_EINVAL;
	memcpy(b_r->host, host, hlen);
	b_r->host[hlen] = '\0';
	if (*rest == ':') {
		rest++;
		size_t n = strcspn(rest, "/");
		if (!parse_port(rest, n, &b_r->imap_port))
			return -OM_EINVAL;
		rest += n;
	}
	if (*rest == '/') {
		rest++;
		if (!parse_port(rest, strlen(rest), &b_r->lmtp_port))
			return -OM_EINVAL;
		rest += strlen(rest);
	}
	if (*rest != '\0')
		return -OM_EINVAL;
	set_id(b_r);
	return 0;
}

static int add_backend(struct director_backend **list, size_t *n, const struct director_backend *b,
		       struct buf *why)
{
	if (*n >= DIRECTOR_MAX_BACKENDS) {
		buf_printf(why, "more than %d backends", DIRECTOR_MAX_BACKENDS);
		return -OM_EINVAL;
	}
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*list)[i].id, b->id) == 0) {
			buf_printf(why, "backend %s listed twice", b->id);
			return -OM_EINVAL;
		}
	}
	*list = om_reallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = *b;
	return 0;
}

int director_backends_parse_config(const char *spec, struct director_backend **list_r,
				   size_t *n_r, struct buf *why)
{
	struct director_backend *list = NULL;
	size_t n = 0;
	const char *p = spec;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		size_t len = strcspn(p, ", \t");
		if (len == 0)
			break;
		char *item = om_strndup(p, len);
		struct director_backend b;
		int r = director_backend_parse_addr(item, &b);
		if (r != 0)
			buf_printf(why, "director_backends: bad backend '%s' (HOST:IMAPPORT/LMTPPORT)",
				   item);
		free(item);
		if (r == 0) {
			b.healthy = true;
			b.lmtp_healthy = true;
			r = add_backend(&list, &n, &b, why);
		}
		if (r != 0) {
			free(list);
			return r;
		}
		p += len;
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

/* One "backend ..." line (NUL-terminated, without its LF). */
static int parse_line(char *line, struct director_backend *b, struct buf *why)
{
	char *save = NULL;
	char *w = strtok_r(line, " \t", &save);
	char *host = strtok_r(NULL, " \t", &save);
	char *imap = strtok_r(NULL, " \t", &save);
	char *lmtp = strtok_r(NULL, " \t", &save);
	if (w == NULL || strcmp(w, "backend") != 0 || host == NULL || imap == NULL ||
	    lmtp == NULL) {
		buf_append_str(why, "expected: backend HOST IMAPPORT LMTPPORT [key=value ...]");
		return -OM_EINVAL;
	}
	memset(b, 0, sizeof(*b));
	b->weight = DIRECTOR_DEFAULT_WEIGHT;
	if (!host_ok(host, strlen(host)) || !parse_port(imap, strlen(imap), &b->imap_port) ||
	    !parse_port(lmtp, strlen(lmtp), &b->lmtp_port)) {
		buf_printf(why, "bad address %s %s %s", host, imap, lmtp);
		return -OM_EINVAL;
	}
	memcpy(b->host, host, strlen(host) + 1);
	for (char *kv; (kv = strtok_r(NULL, " \t", &save)) != NULL;) {
		unsigned long long v = 0;
		if (strncmp(kv, "weight=", 7) == 0 && om_parse_u64(kv + 7, strlen(kv + 7), &v) &&
		    v <= 1000000)
			b->weight = (unsigned)v;
		else if (strcmp(kv, "state=active") == 0)
			b->drained = false;
		else if (strcmp(kv, "state=drained") == 0)
			b->drained = true;
		else if (strncmp(kv, "updated=", 8) == 0 &&
			 om_parse_u64(kv + 8, strlen(kv + 8), &v))
			b->updated = (int64_t)v;
		/* unknown keys: a newer objmail wrote them; ignore */
	}
	set_id(b);
	return 0;
}

int director_backends_parse(const char *text, size_t len, struct director_backend **list_r,
			    size_t *n_r, struct buf *why)
{
	struct director_backend *list = NULL;
	size_t n = 0;
	size_t pos = 0;
	unsigned lineno = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		char *line = om_strndup(text + pos, l);
		pos += l + (nl != NULL ? 1 : 0);
		lineno++;
		size_t t = strlen(line);
		while (t > 0 && (line[t - 1] == '\r' || line[t - 1] == ' '))
			line[--t] = '\0';
		const char *s = line + strspn(line, " \t");
		if (*s == '\0' || *s == '#') {
			free(line);
			continue;
		}
		struct director_backend b;
		struct buf lw = BUF_INIT;
		int r = parse_line(line, &b, &lw);
		if (r == 0)
			r = add_backend(&list, &n, &b, &lw);
		if (r != 0)
			buf_printf(why, "%s line %u: %s", DIRECTOR_BACKENDS_KEY, lineno, buf_cstr(&lw));
		buf_free(&lw);
		free(line);
		if (r != 0) {
			free(list);
			return r;
		}
	}
	*list_r = list;
	*n_r = n;
	return 0;
}

void director_backends_format(const struct director_backend *b, size_t n, struct buf *out)
{
	buf_append_str(out, "# objmail cluster/backends: backend HOST IMAPPORT LMTPPORT "
			    "weight=N state=active|drained updated=UNIXTIME\n");
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "backend %s %u %u weight=%u state=%s updated=%lld\n", b[i].host,
			   b[i].imap_port, b[i].lmtp_port, b[i].weight,
			   b[i].drained ? "drained" : "active", (long long)b[i].updated);
}

int director_backend_find(const struct director_backend *b, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(b[i].id, name) == 0)
			return (int)i;
	}
	/* "host:imap/lmtp" as given to add */
	struct director_backend probe;
	if (strchr(name, '/') != NULL && director_backend_parse_addr(name, &probe) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(b[i].id, probe.id) == 0)
				return (int)i;
		}
	}
	int found = -1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(b[i].host, name) == 0) {
			if (found >= 0)
				return -2;
			found = (int)i;
		}
	}
	return found;
}

int director_store_load(struct objstore *store, struct director_backend **list_r, size_t *n_r,
			char *etag_r, struct buf *why)
{
	struct buf data = BUF_INIT;
	struct objstore_stat st;
	memset(&st, 0, sizeof(st));
	etag_r[0] = '\0';
	int r = objstore_get(store, DIRECTOR_BACKENDS_KEY, 0, 0, &data, NULL, &st);
	if (r == -OM_ENOTFOUND) {
		buf_free(&data);
		*list_r = NULL;
		*n_r = 0;
		return 0;
	}
	if (r != 0) {
		buf_printf(why, "reading %s: %s", DIRECTOR_BACKENDS_KEY, om_strerror(r));
		buf_free(&data);
		return r;
	}
	if (data.len > BACKENDS_MAX_OBJECT) {
		buf_printf(why, "%s is too big (%zu bytes)", DIRECTOR_BACKENDS_KEY, data.len);
		buf_free(&data);
		return -OM_ELIMIT;
	}
	memcpy(etag_r, st.etag, sizeof(st.etag));
	etag_r[sizeof(st.etag) - 1] = '\0';
	r = director_backends_parse(data.data != NULL ? data.data : "", data.len, list_r, n_r, why);
	buf_free(&data);
	return r;
}

int director_store_update(struct objstore *store,
			  int (*edit)(struct director_backend **list, size_t *n, void *ctx,
				      struct buf *why),
			  void *ctx, struct buf *why)
{
	for (unsigned tries = 0; tries < BACKENDS_UPDATE_TRIES; tries++) {
		struct director_backend *list = NULL;
		size_t n = 0;
		char etag[80];
		int r = director_store_load(store, &list, &n, etag, why);
		if (r != 0)
			return r;
		r = edit(&list, &n, ctx, why);
		if (r != 0) {
			free(list);
			return r;
		}
		struct buf out = BUF_INIT;
		director_backends_format(list, n, &out);
		free(list);
		unsigned flags = etag[0] != '\0' ? OBJSTORE_PUT_IF_MATCH : OBJSTORE_PUT_IF_ABSENT;
		r = objstore_put(store, DIRECTOR_BACKENDS_KEY, out.data, out.len, NULL, flags,
				 etag[0] != '\0' ? etag : NULL, NULL);
		buf_free(&out);
		if (r == -OM_EEXISTS)
			continue; /* someone else wrote it meanwhile: redo on theirs */
		if (r != 0)
			buf_printf(why, "writing %s: %s", DIRECTOR_BACKENDS_KEY, om_strerror(r));
		return r;
	}
	buf_printf(why, "%s keeps changing under us; try again", DIRECTOR_BACKENDS_KEY);
	return -OM_ETEMP;
}
