/* Key and metadata rules, small parsers shared by the drivers. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "objstore/objstore-private.h"

#define KEY_MAX 1024
#define META_NAME_MAX 64
#define META_VALUE_MAX 1024

bool objstore_key_valid(const char *key)
{
	if (key == NULL)
		return false;
	size_t len = strnlen(key, KEY_MAX + 1);
	if (len == 0 || len > KEY_MAX)
		return false;
	const char *comp = key;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c == '/' || c == '\0') {
			size_t clen = (size_t)(key + i - comp);
			if (clen == 0)
				return false; /* leading '/', "//" or trailing '/' */
			if ((clen == 1 && comp[0] == '.') ||
			    (clen == 2 && comp[0] == '.' && comp[1] == '.'))
				return false;
			if (clen >= 4 && memcmp(comp, ".om.", 4) == 0)
				return false;
			comp = key + i + 1;
			continue;
		}
		if (c < 0x21 || c > 0x7e)
			return false;
	}
	return true;
}

static bool meta_name_valid(const char *name)
{
	size_t len = name == NULL ? 0 : strnlen(name, META_NAME_MAX + 1);
	if (len == 0 || len > META_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

static bool meta_value_valid(const char *value)
{
	if (value == NULL)
		return false;
	size_t len = strnlen(value, META_VALUE_MAX + 1);
	if (len > META_VALUE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] > 0x7e)
			return false;
	}
	return true;
}

bool objstore_meta_valid(const struct objstore_meta *meta)
{
	if (meta == NULL)
		return true;
	if (meta->n > OBJSTORE_META_MAX)
		return false;
	for (size_t i = 0; i < meta->n; i++) {
		if (!meta_name_valid(meta->names[i]) || !meta_value_valid(meta->values[i]))
			return false;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(meta->names[i], meta->names[j]) == 0)
				return false;
		}
	}
	return true;
}

void objstore_meta_set(struct objstore_meta *m, const char *name, const char *value)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->names[i], name) == 0) {
			free(m->values[i]);
			m->values[i] = om_strdup(value);
			return;
		}
	}
	/* A full set drops the entry; the caller's limit is OBJSTORE_META_MAX
	 * and a put with more would be refused anyway. */
	if (m->n >= OBJSTORE_META_MAX)
		return;
	m->names[m->n] = om_strdup(name);
	m->values[m->n] = om_strdup(value);
	m->n++;
}

const char *objstore_meta_get(const struct objstore_meta *m, const char *name)
{
	for (size_t i = 0; m != NULL && i < m->n; i++) {
		if (strcmp(m->names[i], name) == 0)
			return m->values[i];
	}
	return NULL;
}

void objstore_meta_free(struct objstore_meta *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n && i < OBJSTORE_META_MAX; i++) {
		free(m->names[i]);
		free(m->values[i]);
	}
	memset(m, 0, sizeof(*m));
}

void objstore_meta_copy(struct objstore_meta *dst, const struct objstore_meta *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; src != NULL && i < src->n && i < OBJSTORE_META_MAX; i++)
		objstore_meta_set(dst, src->names[i], src->values[i]);
}

static bool parse_unit(const char *s, size_t len, const char *unit, size_t *numlen_r)
{
	size_t ulen = strlen(unit);
	if (len <= ulen || memcmp(s + len - ulen, unit, ulen) != 0)
		return false;
	*numlen_r = len - ulen;
	return true;
}

bool objstore_parse_duration_us(const char *s, size_t len, uint64_t *us_r)
{
	static const struct { const char *unit; uint64_t mult; } units[] = {
		{ "us", 1 }, { "ms", 1000 }, { "s", 1000000 }, { "m", 60000000 },
	};
	unsigned long long v;
	size_t numlen;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (parse_unit(s, len, units[i].unit, &numlen)) {
			if (!om_parse_u64(s, numlen, &v))
				continue; /* "10ms" also ends in "s": try the next unit */
			return !__builtin_mul_overflow(v, units[i].mult, us_r);
		}
	}
	if (!om_parse_u64(s, len, &v))
		return false;
	return !__builtin_mul_overflow(v, 1000ULL, us_r);
}

bool objstore_parse_size(const char *s, size_t len, uint64_t *bytes_r)
{
	uint64_t mult = 1;
	if (len > 0) {
		switch (s[len - 1]) {
		case 'k': case 'K': mult = 1ULL << 10; break;
		case 'm': case 'M': mult = 1ULL << 20; break;
		case 'g': case 'G': mult = 1ULL << 30; break;
		case 't': case 'T': mult = 1ULL << 40; break;
		default: break;
		}
		if (mult != 1)
			len--;
	}
	unsigned long long v;
	if (!om_parse_u64(s, len, &v))
		return false;
	return !__builtin_mul_overflow(v, mult, bytes_r);
}

void objstore_set_error(char **error_r, const char *fmt, ...)
{
	if (error_r == NULL)
		return;
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	free(*error_r);
	*error_r = buf_steal(&b);
}

uint64_t objstore_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
