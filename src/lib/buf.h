/* A length-carrying, always NUL-terminated byte buffer. Growth is
 * overflow-checked; allocation failure aborts (mail servers don't limp on). */
#ifndef OM_BUF_H
#define OM_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated; NULL only when cap == 0 */
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);         /* len = 0, keeps memory */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_append_c(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_truncate(struct buf *b, size_t len);
/* Pointer to the string; "" for an empty, never-allocated buffer. */
const char *buf_cstr(const struct buf *b);
/* Hand the allocated string to the caller (never NULL) and reset b. */
char *buf_steal(struct buf *b);

/* Overflow-checked allocation helpers; they abort on failure. */
void *om_malloc(size_t n);
void *om_calloc(size_t nmemb, size_t size);
void *om_realloc(void *p, size_t n);
void *om_reallocarray(void *p, size_t nmemb, size_t size);
char *om_strdup(const char *s);
char *om_strndup(const char *s, size_t n);

/* ASCII helpers */
bool om_str_ieq(const char *a, const char *b);
bool om_mem_ieq(const char *a, size_t alen, const char *b); /* b is NUL-terminated */
/* Parse a full decimal uint64 (no sign, no spaces); false on junk/overflow. */
bool om_parse_u64(const char *s, size_t len, unsigned long long *out);

#endif
