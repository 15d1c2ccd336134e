/* Parsing of the rados:// spec (rados-spec.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/om-error.h"
#include "objstore/objstore-private.h"
#include "objstore/rados-spec.h"

#define RADOS_POOL_MAX 255
#define RADOS_PARAM_MAX 1024

void rados_spec_free(struct rados_spec *sp)
{
	free(sp->pool);
	free(sp->conf);
	free(sp->id);
	free(sp->ns);
	free(sp->keyring);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..len) into a new string; NULL on bad escapes or NUL. */
static char *pct_decode(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= len || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
				buf_free(&b);
				return NULL;
			}
			c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			if (c == '\0') {
				buf_free(&b);
				return NULL;
			}
			i += 2;
		}
		buf_append_c(&b, c);
	}
	return buf_steal(&b);
}

/* "30", "30s", "500ms", "1m" -> whole seconds (at least 1). */
static bool parse_seconds(const char *v, unsigned *s_r)
{
	unsigned long long n;
	uint64_t us;
	size_t len = strlen(v);
	if (om_parse_u64(v, len, &n)) {
		us = n * 1000000ULL;
		if (n > 86400)
			return false;
	} else if (!objstore_parse_duration_us(v, len, &us)) {
		return false;
	}
	if (us > 86400ULL * 1000000ULL)
		return false;
	*s_r = us < 1000000 ? 1 : (unsigned)(us / 1000000);
	return true;
}

int rados_spec_parse(const char *spec, struct rados_spec *sp, char **error_r)
{
	static const char scheme[] = "rados://";
	memset(sp, 0, sizeof(*sp));
	if (strncmp(spec, scheme, sizeof(scheme) - 1) != 0) {
		objstore_set_error(error_r, "rados: spec must start with rados://");
		return -OM_EINVAL;
	}
	const char *p = spec + sizeof(scheme) - 1;
	const char *q = strchr(p, '?');
	size_t pool_len = q != NULL ? (size_t)(q - p) : strlen(p);
	if (pool_len > 0 && p[pool_len - 1] == '/')
		pool_len--; /* "rados://mail/" */
	sp->pool = pct_decode(p, pool_len);
	if (sp->pool == NULL || sp->pool[0] == '\0' || strlen(sp->pool) > RADOS_POOL_MAX ||
	    strchr(sp->pool, '/') != NULL) {
		objstore_set_error(error_r, "rados: bad or missing pool name in \"%s\"", spec);
		goto bad;
	}
	while (q != NULL && q[1] != '\0') {
		const char *kv = q + 1;
		q = strchr(kv, '&');
		size_t kvlen = q != NULL ? (size_t)(q - kv) : strlen(kv);
		const char *eq = memchr(kv, '=', kvlen);
		if (eq == NULL || kvlen > RADOS_PARAM_MAX) {
			objstore_set_error(error_r, "rados: bad parameter \"%.*s\"", (int)kvlen, kv);
			goto bad;
		}
		size_t klen = (size_t)(eq - kv);
		char *val = pct_decode(eq + 1, kvlen - klen - 1);
		if (val == NULL) {
			objstore_set_error(error_r, "rados: bad %%-escape in \"%.*s\"", (int)kvlen, kv);
			goto bad;
		}
		char **slot = NULL;
		unsigned *secs = NULL;
		if (klen == 4 && memcmp(kv, "conf", 4) == 0)
			slot = &sp->conf;
		else if (klen == 2 && memcmp(kv, "id", 2) == 0)
			slot = &sp->id;
		else if (klen == 9 && memcmp(kv, "namespace", 9) == 0)
			slot = &sp->ns;
		else if (klen == 7 && memcmp(kv, "keyring", 7) == 0)
			slot = &sp->keyring;
		else if (klen == 7 && memcmp(kv, "timeout", 7) == 0)
			secs = &sp->timeout_s;
		else if (klen == 15 && memcmp(kv, "connect_timeout", 15) == 0)
			secs = &sp->connect_timeout_s;
		if (slot != NULL) {
			free(*slot);
			*slot = val;
			continue;
		}
		if (klen == 7 && memcmp(kv, "catalog", 7) == 0) {
			bool known = true;
			if (strcmp(val, "auto") == 0)
				sp->catalog = RADOS_SPEC_CAT_AUTO;
			else if (strcmp(val, "build") == 0)
				sp->catalog = RADOS_SPEC_CAT_BUILD;
			else if (strcmp(val, "off") == 0)
				sp->catalog = RADOS_SPEC_CAT_OFF;
			else
				known = false;
			free(val);
			if (known)
				continue;
			objstore_set_error(error_r, "rados: bad parameter \"%.*s\" (auto, build or off)",
					   (int)kvlen, kv);
			goto bad;
		}
		bool ok = secs != NULL && parse_seconds(val, secs);
		free(val);
		if (!ok) {
			objstore_set_error(error_r, "rados: %s parameter \"%.*s\"",
					   secs != NULL ? "bad" : "unknown", (int)kvlen, kv);
			goto bad;
		}
	}
	if (sp->id == NULL)
		sp->id = om_strdup("admin");
	if (sp->id[0] == '\0' || (sp->conf != NULL && sp->conf[0] == '\0')) {
		objstore_set_error(error_r, "rados: empty id or conf in \"%s\"", spec);
		goto bad;
	}
	return 0;
bad:
	rados_spec_free(sp);
	return -OM_EINVAL;
}
