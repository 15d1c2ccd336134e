/* Counters of a store stack as Prometheus text and as plain numbers. */
#include <stddef.h>
#include <string.h>

#include "objstore/objstore-private.h"

const uint64_t objstore_hist_bounds_us[OBJSTORE_HIST_BUCKETS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

static const char *const op_names[OBJSTORE_OP_COUNT] = {
	"put", "get", "head", "delete", "list", "lock",
};
static const char *const result_names[OBJSTORE_RES_COUNT] = {
	"ok", "notfound", "exists", "temp", "error",
};

static uint64_t load(const atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static const char *driver_name(const struct objstore *s)
{
	return s->ops != NULL && s->ops->name != NULL ? s->ops->name : "unknown";
}

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void requests(const struct objstore *top, struct buf *out)
{
	family(out, "objmail_objstore_requests_total", "counter",
	       "Object store calls by driver, operation and result.");
	for (const struct objstore *s = top; s != NULL; s = s->inner) {
		for (int op = 0; op < OBJSTORE_OP_COUNT; op++) {
			for (int r = 0; r < OBJSTORE_RES_COUNT; r++) {
				buf_printf(out,
					   "objmail_objstore_requests_total{driver=\"%s\",op=\"%s\",result=\"%s\"} %llu\n",
					   driver_name(s), op_names[op], result_names[r],
					   (unsigned long long)load(&s->stats.requests[op][r]));
			}
		}
	}
	family(out, "objmail_objstore_bytes_total", "counter",
	       "Object data bytes read from (in) and written to (out) the store.");
	for (const struct objstore *s = top; s != NULL; s = s->inner) {
		buf_printf(out, "objmail_objstore_bytes_total{driver=\"%s\",direction=\"in\"} %llu\n",
			   driver_name(s), (unsigned long long)load(&s->stats.bytes_in));
		buf_printf(out, "objmail_objstore_bytes_total{driver=\"%s\",direction=\"out\"} %llu\n",
			   driver_name(s), (unsigned long long)load(&s->stats.bytes_out));
	}
}

static void histogram(const struct objstore *top, struct buf *out)
{
	family(out, "objmail_objstore_request_seconds", "histogram",
	       "Object store call latency.");
	for (const struct objstore *s = top; s != NULL; s = s->inner) {
		for (int op = 0; op < OBJSTORE_OP_COUNT; op++) {
			uint64_t cum = 0;
			for (int b = 0; b <= OBJSTORE_HIST_BUCKETS; b++) {
				cum += load(&s->stats.hist[op][b]);
				buf_printf(out, "objmail_objstore_request_seconds_bucket{driver=\"%s\",op=\"%s\",le=\"",
					   driver_name(s), op_names[op]);
				if (b == OBJSTORE_HIST_BUCKETS)
					buf_append_str(out, "+Inf");
				else
					buf_printf(out, "%g", (double)objstore_hist_bounds_us[b] / 1e6);
				buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
			}
			buf_printf(out, "objmail_objstore_request_seconds_sum{driver=\"%s\",op=\"%s\"} %.6f\n",
				   driver_name(s), op_names[op],
				   (double)load(&s->stats.latency_us_sum[op]) / 1e6);
			buf_printf(out, "objmail_objstore_request_seconds_count{driver=\"%s\",op=\"%s\"} %llu\n",
				   driver_name(s), op_names[op], (unsigned long long)cum);
		}
	}
}

static bool is_cache(const struct objstore *s)
{
	return strcmp(driver_name(s), "fscache") == 0;
}

static void cache(const struct objstore *top, struct buf *out)
{
	static const struct {
		const char *name, *type, *help;
		size_t offset;
	} fields[] = {
		{ "objmail_fscache_hits_total", "counter", "fscache gets served from disk.",
		  offsetof(struct objstore_stats, cache_hits) },
		{ "objmail_fscache_misses_total", "counter", "fscache gets fetched from the inner store.",
		  offsetof(struct objstore_stats, cache_misses) },
		{ "objmail_fscache_bytes", "gauge", "Bytes of cached data now.",
		  offsetof(struct objstore_stats, cache_bytes) },
		{ "objmail_fscache_limit_bytes", "gauge", "The configured cache size.",
		  offsetof(struct objstore_stats, cache_limit) },
		{ "objmail_fscache_evictions_total", "counter", "Cached objects evicted for space.",
		  offsetof(struct objstore_stats, cache_evictions) },
	};
	bool any = false;
	for (const struct objstore *s = top; s != NULL; s = s->inner)
		any = any || is_cache(s);
	if (!any)
		return;
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		family(out, fields[f].name, fields[f].type, fields[f].help);
		for (const struct objstore *s = top; s != NULL; s = s->inner) {
			if (!is_cache(s))
				continue;
			const atomic_uint_fast64_t *v =
				(const atomic_uint_fast64_t *)((const char *)&s->stats + fields[f].offset);
			buf_printf(out, "%s %llu\n", fields[f].name, (unsigned long long)load(v));
		}
	}
}

void objstore_metrics(const struct objstore *store, struct buf *out)
{
	requests(store, out);
	histogram(store, out);
	cache(store, out);
	for (const struct objstore *s = store; s != NULL; s = s->inner) {
		if (s->ops != NULL && s->ops->metrics != NULL)
			s->ops->metrics(s, out);
	}
}

bool objstore_get_counters(const struct objstore *store, unsigned level,
			   struct objstore_counters *c_r, const char **driver_r)
{
	const struct objstore *s = store;
	for (unsigned i = 0; i < level && s != NULL; i++)
		s = s->inner;
	if (s == NULL)
		return false;
	memset(c_r, 0, sizeof(*c_r));
	for (int op = 0; op < OBJSTORE_OP_COUNT; op++) {
		for (int r = 0; r < OBJSTORE_RES_COUNT; r++) {
			uint64_t v = load(&s->stats.requests[op][r]);
			c_r->requests[op] += v;
			/* Not-found and precondition-failed are answers, not errors. */
			if (r == OBJSTORE_RES_TEMP || r == OBJSTORE_RES_ERROR)
				c_r->errors[op] += v;
		}
		c_r->latency_us_sum[op] = load(&s->stats.latency_us_sum[op]);
	}
	c_r->bytes_in = load(&s->stats.bytes_in);
	c_r->bytes_out = load(&s->stats.bytes_out);
	c_r->cache_hits = load(&s->stats.cache_hits);
	c_r->cache_misses = load(&s->stats.cache_misses);
	c_r->cache_bytes = load(&s->stats.cache_bytes);
	c_r->cache_limit = load(&s->stats.cache_limit);
	c_r->cache_evictions = load(&s->stats.cache_evictions);
	if (driver_r != NULL)
		*driver_r = driver_name(s);
	return true;
}
