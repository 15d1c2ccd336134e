/* COMPRESS=DEFLATE (RFC 4978): a bufferevent filter over the connection's
 * stack (socket or TLS) that inflates what the client sends and deflates
 * what we send. Both are raw deflate streams (no zlib header). Output is
 * flushed with Z_SYNC_FLUSH after each batch, so a response never waits in
 * the compressor for more data. */
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <zlib.h>

#include "lib/buf.h"

#include "lib/conn-private.h"
#include "lib/log.h"
#include "lib/om-error.h"

#define DEFLATE_OUT_CHUNK 16384
/* Inflated input produced per filter call when no limit is given: bounds
 * what a small compressed burst can make us buffer at once. */
#define INFLATE_MAX_BATCH (1024 * 1024)

struct deflate_ctx {
	z_stream in;   /* inflate: client -> us */
	z_stream out;  /* deflate: us -> client */
	bool out_pending; /* input taken since the last flush */
	bool failed;      /* bad input: the connection is being closed */
	struct conn *c;
};

static void deflate_ctx_free(void *arg)
{
	struct deflate_ctx *z = arg;

	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
}

static enum bufferevent_filter_result inflate_locked(struct evbuffer *src, struct evbuffer *dst,
						     ev_ssize_t dst_limit,
						     enum bufferevent_flush_mode mode, void *arg)
{
	struct deflate_ctx *z = arg;
	size_t limit = dst_limit > 0 ? (size_t)dst_limit : INFLATE_MAX_BATCH;

	(void)mode;
	if (z->failed)
		return BEV_ERROR;
	while (evbuffer_get_length(dst) < limit) {
		struct evbuffer_iovec in = { 0 }, out;
		size_t have = evbuffer_get_length(src);
		if (have > 0 && evbuffer_peek(src, -1, NULL, &in, 1) < 1)
			return BEV_ERROR;
		if (evbuffer_reserve_space(dst, DEFLATE_OUT_CHUNK, &out, 1) < 1)
			return BEV_ERROR;
		z->in.next_in = in.iov_base;
		z->in.avail_in = (uInt)in.iov_len;
		z->in.next_out = out.iov_base;
		z->in.avail_out = (uInt)out.iov_len;
		int r = inflate(&z->in, Z_SYNC_FLUSH);
		size_t used = in.iov_len - z->in.avail_in;
		size_t made = out.iov_len - z->in.avail_out;
		out.iov_len = made;
		evbuffer_commit_space(dst, &out, 1);
		if (used > 0)
			evbuffer_drain(src, used);
		if (r != Z_OK && r != Z_BUF_ERROR) {
			/* libevent drops a filter's error silently: close here */
			log_info("compress: bad deflate data from the client (%d)", r);
			z->failed = true;
			if (z->c != NULL)
				conn_close(z->c);
			return BEV_ERROR;
		}
		if (used == 0 && made == 0)
			break;
	}
	return BEV_OK;
}

static bool deflate_step(struct deflate_ctx *z, struct evbuffer *dst, int flush, bool *full_r)
{
	struct evbuffer_iovec out;

	if (evbuffer_reserve_space(dst, DEFLATE_OUT_CHUNK, &out, 1) < 1)
		return false;
	z->out.next_out = out.iov_base;
	z->out.avail_out = (uInt)out.iov_len;
	int r = deflate(&z->out, flush);
	out.iov_len = out.iov_len - z->out.avail_out;
	*full_r = z->out.avail_out == 0;
	evbuffer_commit_space(dst, &out, 1);
	return r == Z_OK || r == Z_BUF_ERROR;
}

static enum bufferevent_filter_result deflate_locked(struct evbuffer *src, struct evbuffer *dst,
						     ev_ssize_t dst_limit,
						     enum bufferevent_flush_mode mode, void *arg)
{
	struct deflate_ctx *z = arg;
	bool full;

	(void)dst_limit;
	(void)mode;
	while (evbuffer_get_length(src) > 0) {
		struct evbuffer_iovec in;
		if (evbuffer_peek(src, -1, NULL, &in, 1) < 1)
			return BEV_ERROR;
		z->out.next_in = in.iov_base;
		z->out.avail_in = (uInt)in.iov_len;
		do {
			if (!deflate_step(z, dst, Z_NO_FLUSH, &full))
				return BEV_ERROR;
		} while (full);
		evbuffer_drain(src, in.iov_len - z->out.avail_in);
		z->out_pending = true;
	}
	if (z->out_pending) {
		z->out.next_in = NULL;
		z->out.avail_in = 0;
		do {
			if (!deflate_step(z, dst, Z_SYNC_FLUSH, &full))
				return BEV_ERROR;
		} while (full);
		z->out_pending = false;
	}
	return BEV_OK;
}

/* The filter bufferevent gets a lock of its own (libevent takes the
 * underlying's only when it is known, which it isn't yet inside
 * bufferevent_filter_new), so the buffer of the layer below can be drained
 * by the loop thread, or the input above by a worker, while a filter runs.
 * Hold both buffers' locks across peek/reserve..drain/commit. */
static enum bufferevent_filter_result inflate_filter(struct evbuffer *src, struct evbuffer *dst,
						     ev_ssize_t dst_limit,
						     enum bufferevent_flush_mode mode, void *arg)
{
	evbuffer_lock(dst);
	evbuffer_lock(src);
	enum bufferevent_filter_result r = inflate_locked(src, dst, dst_limit, mode, arg);
	evbuffer_unlock(src);
	evbuffer_unlock(dst);
	return r;
}

static enum bufferevent_filter_result deflate_filter(struct evbuffer *src, struct evbuffer *dst,
						     ev_ssize_t dst_limit,
						     enum bufferevent_flush_mode mode, void *arg)
{
	evbuffer_lock(src);
	evbuffer_lock(dst);
	enum bufferevent_filter_result r = deflate_locked(src, dst, dst_limit, mode, arg);
	evbuffer_unlock(dst);
	evbuffer_unlock(src);
	return r;
}

bool conn_is_compressed(const struct conn *c)
{
	return c->compressed;
}

int conn_start_deflate(struct conn *c)
{
	if (c->bev == NULL || c->compressed)
		return -OM_EINVAL;
	struct deflate_ctx *z = om_calloc(1, sizeof(*z));
	if (inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		return -OM_EINVAL;
	}
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		return -OM_EINVAL;
	}
	struct bufferevent *filter =
		bufferevent_filter_new(c->bev, inflate_filter, deflate_filter,
				       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE |
					       BEV_OPT_DEFER_CALLBACKS | BEV_OPT_UNLOCK_CALLBACKS,
				       deflate_ctx_free, z);
	if (filter == NULL) {
		deflate_ctx_free(z);
		return -OM_EINVAL;
	}
	/* The client may have sent compressed bytes as soon as it saw our OK,
	 * before the filter was in place: they wait, still compressed, in the
	 * layer below. Inflate them now; the filter only sees newer reads. */
	enum bufferevent_filter_result r = BEV_OK;
	struct evbuffer *raw = bufferevent_get_input(bufferevent_get_underlying(filter));
	if (evbuffer_get_length(raw) > 0) {
		struct evbuffer *tmp = evbuffer_new();
		evbuffer_add_buffer(tmp, raw);
		r = inflate_filter(tmp, bufferevent_get_input(filter),
				       (ev_ssize_t)(4 * CONN_JOB_INPUT_HIGH_WATER), BEV_NORMAL, z);
		evbuffer_prepend_buffer(raw, tmp);
		evbuffer_free(tmp);
	}
	c->compressed = true;
	z->c = c;
	conn_push_filter(c, filter);
	/* (the filter owns the stack now: on bad data the caller closes) */
	return r == BEV_ERROR ? -OM_EIO : 0;
}
