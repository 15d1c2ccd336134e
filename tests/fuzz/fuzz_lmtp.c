/* libFuzzer entry point for the LMTP protocol layer (lmtp-proto.c).
 *
 *   clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_lmtp.c src/lmtp/lmtp-proto.c src/lib/buf.c src/lib/log.c \
 *     $(pkg-config --cflags --libs libevent) -o fuzz_lmtp
 *   ./fuzz_lmtp tests/fuzz/corpus/lmtp
 *
 * The first two bytes seed the chunking (input arrives in pieces, as from a
 * slow network); lookups succeed for users starting with 'a', deliveries
 * for users without a 'q'. Invariants: the session never buffers more than
 * its limits allow, replies are whole CRLF lines, and every DATA/BDAT end
 * gets exactly one reply per accepted recipient. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "lib/om-error.h"
#include "lmtp/lmtp.h"

#define MAX_SIZE 2048

static size_t out_len;

static void fuzz_write(void *ctx, const char *data, size_t len)
{
	if (len < 2 || data[len - 2] != '\r' || data[len - 1] != '\n')
		abort();
	if (memchr(data, '\n', len - 1) != NULL)
		abort(); /* one line per reply */
	out_len += len;
}

static void fuzz_priv_free(void *priv)
{
	free(priv);
}

static bool run(struct lmtp_session *s, struct evbuffer *in)
{
	for (;;) {
		switch (lmtp_process(s, in)) {
		case LMTP_MORE:
			return true;
		case LMTP_LOOKUP: {
			const char *u = s->pending.user;
			int r = u[0] == 'a' ? 0 : u[0] == 'f' ? -OM_EQUOTA : -OM_ENOTFOUND;
			lmtp_rcpt_result(s, r, r == 0 ? strdup(u) : NULL);
			break;
		}
		case LMTP_DELIVER: {
			size_t len;
			const char *body = lmtp_body(s, &len);
			if (len > MAX_SIZE || s->n_rcpts == 0 || s->n_rcpts > LMTP_MAX_RCPTS)
				abort();
			if (len > 0 && (body[0] == '\0' && body[len - 1] == '\0'))
				(void)body; /* readable */
			for (size_t i = 0; i < s->n_rcpts; i++)
				s->rcpts[i].result = strchr(s->rcpts[i].user, 'q') ? -OM_EIO : 0;
			lmtp_deliver_result(s, "FUZZ");
			break;
		}
		case LMTP_CLOSE:
			return false;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned seed = (unsigned)data[0] << 8 | data[1];
	data += 2;
	size -= 2;

	struct lmtp_session s = { 0 };
	s.hostname = "fuzz.test";
	s.max_size = MAX_SIZE;
	s.delimiter = "+-";
	s.write = fuzz_write;
	s.priv_free = fuzz_priv_free;
	lmtp_session_init(&s);
	lmtp_greeting(&s);
	struct evbuffer *in = evbuffer_new();
	size_t off = 0;
	bool open = true;
	while (open && off < size) {
		seed = seed * 1103515245u + 12345u;
		size_t piece = 1 + (seed >> 16) % 64;
		if (piece > size - off)
			piece = size - off;
		evbuffer_add(in, data + off, piece);
		off += piece;
		open = run(&s, in);
		/* bounded buffering: a command line never piles up */
		if (s.mode == LMTP_MODE_CMD && evbuffer_get_length(in) >= LMTP_MAX_LINE)
			abort();
		if (s.body.len > LMTP_HEADROOM + MAX_SIZE + 64)
			abort();
	}
	evbuffer_free(in);
	lmtp_session_free(&s);
	return 0;
}
