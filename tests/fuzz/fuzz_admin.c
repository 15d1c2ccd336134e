/* libFuzzer entry point for the admin socket's line protocol and the
 * Prometheus-text-to-JSON conversion (lib/admin-proto.c).
 *
 *   clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_admin.c src/lib/admin-proto.c src/lib/buf.c src/lib/log.c \
 *     -o fuzz_admin
 *   ./fuzz_admin tests/fuzz/corpus/admin
 *
 * Invariants: a parsed request has 1..ADMIN_MAX_ARGS non-empty fields free
 * of control characters that format back to the same line; reply data
 * never yields a line that reads as a final one; the JSON is balanced. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/admin-proto.h"

static void check_request(const char *data, size_t len)
{
	struct admin_request req;
	if (admin_request_parse(data, len, &req) != 0)
		return;
	if (req.argc == 0 || req.argc > ADMIN_MAX_ARGS)
		abort();
	for (size_t i = 0; i < req.argc; i++) {
		if (req.argv[i][0] == '\0')
			abort();
		for (const char *p = req.argv[i]; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		}
	}
	struct buf b = BUF_INIT;
	if (admin_request_format((const char *const *)req.argv, req.argc, &b) != 0)
		abort();
	size_t want = len > 0 && data[len - 1] == '\r' ? len - 1 : len;
	if (b.len != want + 1 || memcmp(b.data, data, want) != 0)
		abort();
	buf_free(&b);
	admin_request_free(&req);
}

static void check_reply_data(const char *data, size_t len)
{
	struct buf b = BUF_INIT;
	admin_reply_data(&b, data, len);
	if (b.data == NULL)
		return;
	const char *p = b.data, *end = b.data + b.len;
	while (p != NULL && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			abort(); /* every line ends in LF */
		const char *text;
		size_t text_len;
		if (admin_reply_line(p, (size_t)(nl - p), &text, &text_len) != ADMIN_LINE_DATA)
			abort();
		if (memchr(text, '\r', text_len) != NULL)
			abort();
		p = nl + 1;
	}
	buf_free(&b);
}

static void check_json(const char *data, size_t len)
{
	struct buf b = BUF_INIT;
	admin_prom_to_json(data, len, &b);
	int depth = 0;
	int in_str = 0;
	for (size_t i = 0; i < b.len; i++) {
		char ch = b.data[i];
		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = 0;
			else if ((unsigned char)ch < 0x20)
				abort();
			continue;
		}
		if (ch == '"')
			in_str = 1;
		else if (ch == '{' || ch == '[')
			depth++;
		else if (ch == '}' || ch == ']')
			depth--;
		if (depth < 0)
			abort();
	}
	if (depth != 0 || in_str)
		abort();
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	check_request(s, size);
	check_reply_data(s, size);
	check_json(s, size);
	return 0;
}
