/* Deterministic pseudo-random test messages and the RNG (splitmix64), so
 * that both servers get byte-identical mailboxes and the same command mix. */
#include "imapload.h"

#include <stdlib.h>
#include <string.h>

void rng_seed(struct rng *r, uint64_t seed)
{
	r->s = seed * 0x9E3779B97F4A7C15ull + 1;
}

uint32_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (uint32_t)((z ^ (z >> 31)) >> 16);
}

static const char *const words[] = {
	"meeting", "invoice", "report", "holiday", "project", "budget", "lunch",
	"server", "update", "release", "weekly", "review", "question", "urgent",
	"photos", "family", "order", "shipping", "account", "password", "offer",
	"newsletter", "conference", "draft", "contract", "ticket", "backup",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

struct sb { char *p; size_t n, cap; };

static void sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		while (b->n + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 8192;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

size_t msg_make(uint64_t id, char **out)
{
	struct rng r;
	rng_seed(&r, id ^ 0x5eedull);
	struct sb b = { 0 };
	char tmp[512];
	unsigned from = rng_next(&r) % 50;
	snprintf(tmp, sizeof(tmp),
		 "Return-Path: <sender%u@example.org>\r\n"
		 "Message-ID: <bench.%llu@example.org>\r\n"
		 "Date: Tue, %u Nov 2026 %02u:%02u:%02u +0000\r\n"
		 "From: Sender %u <sender%u@example.org>\r\n"
		 "To: Someone <someone@example.com>\r\n"
		 "Subject: %s %s %llu\r\n"
		 "MIME-Version: 1.0\r\n"
		 "Content-Type: text/plain; charset=us-ascii\r\n"
		 "\r\n",
		 from, (unsigned long long)id, 1 + rng_next(&r) % 28,
		 rng_next(&r) % 24, rng_next(&r) % 60, rng_next(&r) % 60,
		 from, from, words[rng_next(&r) % NWORDS], words[rng_next(&r) % NWORDS],
		 (unsigned long long)id);
	sb_str(&b, tmp);
	/* body of 3..7 KiB: mean near the 5 KiB of smtp-source -l 5120 */
	size_t want = 3072 + rng_next(&r) % 4096;
	while (b.n < want) {
		size_t linelen = 0;
		while (linelen < 60) {
			const char *w = words[rng_next(&r) % NWORDS];
			sb_str(&b, w);
			sb_add(&b, " ", 1);
			linelen += strlen(w) + 1;
		}
		sb_add(&b, "\r\n", 2);
	}
	*out = b.p;
	return b.n;
}
