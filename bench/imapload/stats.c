/* Per-operation latency samples and errors, merged across threads and
 * printed as JSON for bench/run. */
#include "imapload.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const op_names[OP_COUNT] = {
	"LOGIN", "SELECT", "FETCH_FLAGS", "FETCH_ENVELOPE", "FETCH_BODY",
	"STORE", "SEARCH", "APPEND", "EXPUNGE", "IDLE", "LOGOUT",
};

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void lat_push(struct lat *l, uint32_t us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (l->v == NULL)
			abort();
	}
	l->v[l->n++] = us;
}

void stats_add(struct stats *s, enum op op, double secs, int ok)
{
	double us = secs * 1e6;
	lat_push(&s->lat[op], us > 4e9 ? 4000000000u : (uint32_t)us);
	if (!ok)
		s->errors[op]++;
}

void stats_error(struct stats *s, enum op op, const char *what)
{
	if (s->first_error[0] == '\0') {
		/* JSON-safe: drop quotes and backslashes */
		size_t j = 0;
		for (size_t i = 0; what[i] != '\0' && j + 1 < sizeof(s->first_error); i++)
			if (what[i] != '"' && what[i] != '\\' && (unsigned char)what[i] >= 0x20)
				s->first_error[j++] = what[i];
		s->first_error[j] = '\0';
	}
	(void)op;
}

void stats_merge(struct stats *into, struct stats *from)
{
	for (int i = 0; i < OP_COUNT; i++) {
		for (size_t k = 0; k < from->lat[i].n; k++)
			lat_push(&into->lat[i], from->lat[i].v[k]);
		into->errors[i] += from->errors[i];
	}
	into->io_errors += from->io_errors;
	into->sessions += from->sessions;
	if (into->first_error[0] == '\0')
		memcpy(into->first_error, from->first_error, sizeof(into->first_error));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const struct lat *l, double p)
{
	if (l->n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(l->n - 1) + 0.5);
	return l->v[i] / 1000.0;
}

void stats_json(struct stats *s, double elapsed, FILE *out)
{
	uint64_t total = 0, errors = s->io_errors;
	for (int i = 0; i < OP_COUNT; i++) {
		total += s->lat[i].n;
		errors += s->errors[i];
	}
	fprintf(out, "{\"elapsed\": %.3f, \"ops\": %llu, \"ops_per_s\": %.1f, "
		"\"errors\": %llu, \"io_errors\": %llu, \"sessions\": %llu, "
		"\"first_error\": \"%s\", \"per_op\": {",
		elapsed, (unsigned long long)total,
		elapsed > 0 ? (double)total / elapsed : 0.0,
		(unsigned long long)errors, (unsigned long long)s->io_errors,
		(unsigned long long)s->sessions, s->first_error);
	for (int i = 0; i < OP_COUNT; i++) {
		struct lat *l = &s->lat[i];
		qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
		fprintf(out, "%s\"%s\": {\"n\": %zu, \"errors\": %llu, "
			"\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f}",
			i ? ", " : "", op_names[i], l->n,
			(unsigned long long)s->errors[i],
			pct(l, 0.50), pct(l, 0.90), pct(l, 0.99));
	}
	fprintf(out, "}}\n");
}

void stats_free(struct stats *s)
{
	for (int i = 0; i < OP_COUNT; i++)
		free(s->lat[i].v);
}
