/* libFuzzer entry point for the S3 driver's XML reader (s3-xml.c):
 * ListObjectsV2 pages, error bodies and character data.
 *
 * Invariants: a parsed page has n keys, each a NUL-free string, and the
 * page is freed cleanly whether or not parsing succeeded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/s3-xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024 * 1024)
		return 0;
	char *xml = malloc(size > 0 ? size : 1);
	if (xml == NULL)
		abort();
	memcpy(xml, data, size);

	struct s3_list_page page;
	memset(&page, 0, sizeof(page));
	if (s3_xml_parse_list(xml, size, &page) == 0) {
		if (page.n > S3_XML_MAX_KEYS || (page.n > 0 && page.entries == NULL))
			abort();
		for (size_t i = 0; i < page.n; i++) {
			if (page.entries[i].key == NULL)
				abort();
			(void)strlen(page.entries[i].key);
		}
		if (page.next_token != NULL)
			(void)strlen(page.next_token);
	}
	s3_list_page_free(&page);

	struct buf b = BUF_INIT;
	if (s3_xml_error_code(xml, size, &b) && memchr(buf_cstr(&b), '\0', b.len) != NULL)
		abort();
	buf_reset(&b);
	if (s3_xml_decode_text(xml, size, &b) == 0 && memchr(buf_cstr(&b), '\0', b.len) != NULL)
		abort();
	buf_free(&b);
	free(xml);
	return 0;
}
