/* The little XML the S3 driver reads: ListObjectsV2 results and error
 * bodies. A bounded, non-validating parser of exactly what S3 sends; it
 * refuses DOCTYPEs, deep nesting, oversized text and unknown entities
 * rather than guessing, so hostile or broken answers become -OM_EIO. */
#ifndef OM_S3_XML_H
#define OM_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define S3_XML_MAX_INPUT (64u * 1024 * 1024) /* bytes of one response */
#define S3_XML_MAX_DEPTH 16
#define S3_XML_MAX_TEXT (64u * 1024)         /* decoded text of one element */
#define S3_XML_MAX_KEYS 100000               /* entries in one list page */

struct s3_list_entry {
	char *key;
	uint64_t size;
};

struct s3_list_page {
	bool truncated;
	char *next_token; /* NULL when absent */
	size_t n;
	struct s3_list_entry *entries;
};

/* Parse a ListBucketResult (ListObjectsV2). 0, or -OM_EIO for anything that
 * is not one. page_r is filled on success and must be freed either way. */
int s3_xml_parse_list(const char *xml, size_t len, struct s3_list_page *page_r);
void s3_list_page_free(struct s3_list_page *page);

/* The <Code> of an <Error> body into code_r (reset first). false when the
 * body is not an S3 error document. */
bool s3_xml_error_code(const char *xml, size_t len, struct buf *code_r);

/* Decode XML character data (the five named entities and &#N; / &#xH;)
 * appending to out. -OM_EIO on an unknown or malformed reference, a NUL or
 * a code point that is not a Unicode scalar value. */
int s3_xml_decode_text(const char *s, size_t len, struct buf *out);

#endif
