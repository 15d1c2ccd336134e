/* libFuzzer entry point for the IMAP command parser.
 *
 *   clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_imap_parser.c src/imap/imap-parser.c src/imap/imap-util.c \
 *     src/imap/mutf7.c src/imap/imap-search.c src/lib/buf.c src/lib/log.c \
 *     -o fuzz_imap_parser
 *   ./fuzz_imap_parser tests/fuzz/corpus/imap_parser
 *
 * The first two input bytes seed the chunking: the rest is fed in pieces of
 * pseudo-random size, the way a slow network delivers it, and the caller
 * drains what the parser consumed. Every command that comes out is walked;
 * its strings go through the argument helpers and modified UTF-7 (checking
 * that decoding accepts only canonical forms: re-encoding gives the input
 * back), and its arguments are tried as a SEARCH program. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-parser.h"
#include "imap/imap-search.h"

static const struct imap_parser_limits fuzz_limits = {
	.max_line = 4096,
	.max_literal = 65536,
	.max_small_literal = 1024,
	.max_depth = 16,
	.max_args = 512,
};

static size_t walk(const struct imap_arg *args, size_t n, unsigned depth)
{
	size_t total = 0;
	if (depth > fuzz_limits.max_depth + 1)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &args[i];
		const char *s;
		size_t len;
		if (a->type == IMAP_ARG_LIST) {
			total += walk(a->list, a->list_count, depth + 1);
			continue;
		}
		if (a->str == NULL || a->str[a->len] != '\0')
			abort();
		total += a->len;
		if (imap_arg_get_astring(a, &s, &len)) {
			struct buf b = BUF_INIT, back = BUF_INIT;
			imap_write_string(&b, s, len);
			buf_reset(&b);
			if (mutf7_to_utf8(s, len, &b)) {
				if (!utf8_to_mutf7(buf_cstr(&b), b.len, &back) || back.len != len ||
				    memcmp(buf_cstr(&back), s, len) != 0)
					abort();
			}
			buf_reset(&b);
			buf_reset(&back);
			if (utf8_to_mutf7(s, len, &b)) {
				if (!mutf7_to_utf8(buf_cstr(&b), b.len, &back) || back.len != len ||
				    memcmp(buf_cstr(&back), s, len) != 0)
					abort();
			}
			buf_free(&b);
			buf_free(&back);
		}
	}
	return total;
}

static bool fake_header(void *ctx, const char *name, struct buf *out)
{
	buf_append_str(out, name);
	return true;
}

static bool fake_text(void *ctx, bool with_headers, struct buf *out)
{
	buf_append_str(out, with_headers ? "Subject: x\nbody" : "body");
	return true;
}

static bool fake_date(void *ctx, long long *t, int *tz)
{
	*t = 1000000000;
	*tz = -120;
	return true;
}

static bool fake_contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	return nlen <= hlen && memmem(hay, hlen, needle, nlen) != NULL;
}

static void try_search(const struct imap_command *cmd)
{
	struct search_program *prog;
	const char *error;
	static char kw0[] = "$Junk";
	static char *kws[] = { kw0 };
	if (search_program_parse(cmd->args, cmd->n_args, &prog, &error) != SEARCH_PARSE_OK) {
		if (error == NULL)
			abort();
		return;
	}
	if (search_program_bind(prog, kws, 1, 3, 30, &error)) {
		struct search_source src = { .ctx = NULL, .header = fake_header, .text = fake_text,
					      .sent_date = fake_date, .contains = fake_contains };
		for (uint32_t i = 1; i <= 3; i++) {
			struct search_msg m = { .seq = i, .uid = i * 10, .flags = i * 7, .keywords = i & 1,
						 .size = i * 100, .internal_date = i * 86400,
						 .internal_tz = 60, .modseq = i };
			(void)search_program_match(prog, &m, &src);
		}
	}
	search_program_free(prog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = 1;
	if (size >= 2) {
		seed = (uint32_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
	}
	struct imap_parser *p = imap_parser_new(&fuzz_limits);
	size_t pos = 0, avail = 0;
	while (pos < size) {
		seed = seed * 1103515245u + 12345u;
		size_t chunk = 1 + (seed >> 16) % 97;
		avail = avail + chunk < size ? avail + chunk : size;
		for (;;) {
			size_t consumed = 0;
			enum imap_parse_result r =
				imap_parser_run(p, (const char *)data + pos, avail - pos, &consumed);
			if (consumed > avail - pos)
				abort();
			pos += consumed;
			if (r == IMAP_PARSE_MORE) {
				if (pos != avail)
					abort();
				break;
			}
			if (r == IMAP_PARSE_COMMAND) {
				struct imap_command *cmd = imap_parser_take(p);
				if (cmd == NULL || cmd->tag[0] == '\0' || cmd->name[0] == '\0')
					abort();
				(void)walk(cmd->args, cmd->n_args, 0);
				try_search(cmd);
				imap_command_free(cmd);
			} else if (r == IMAP_PARSE_ERROR || r == IMAP_PARSE_FATAL) {
				if (imap_parser_error(p) == NULL)
					abort();
				(void)imap_parser_error_tag(p);
				if (r == IMAP_PARSE_FATAL) {
					imap_parser_free(p);
					p = imap_parser_new(&fuzz_limits);
				}
			}
		}
	}
	imap_parser_free(p);
	return 0;
}
