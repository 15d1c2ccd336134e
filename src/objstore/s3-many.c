/* objstore_get_many for S3: up to `parallel` GETs in flight on one libcurl
 * multi handle, whose connections stay open in a pool between calls. Each
 * transfer is retried alone with the same backoff as a single request;
 * done() runs in completion order on the calling thread. */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/s3-private.h"

#define MANY_POLL_MAX_MS 1000

struct s3_multi {
	CURLM *multi;
	CURL **easy;
	size_t n_easy;
};

enum slot_state { SLOT_FREE, SLOT_RUNNING, SLOT_WAITING };

struct many_slot {
	enum slot_state state;
	CURL *easy;
	struct s3_req req;
	struct buf body;
	size_t idx;
	unsigned attempt;
	uint64_t deadline_ms;
	uint64_t retry_at_ms;
};

void s3_multi_free(struct s3_multi *m)
{
	for (size_t i = 0; i < m->n_easy; i++)
		curl_easy_cleanup(m->easy[i]);
	free(m->easy);
	curl_multi_cleanup(m->multi);
	free(m);
}

static struct s3_multi *multi_get(struct s3_store *s, unsigned parallel)
{
	struct s3_multi *m = NULL;
	pthread_mutex_lock(&s->pool_lock);
	if (s->n_idle_multi > 0)
		m = s->idle_multi[--s->n_idle_multi];
	pthread_mutex_unlock(&s->pool_lock);
	if (m == NULL) {
		m = om_calloc(1, sizeof(*m));
		m->multi = curl_multi_init();
		if (m->multi == NULL)
			fatal("curl_multi_init failed");
	}
	if (m->n_easy < parallel) {
		m->easy = om_reallocarray(m->easy, parallel, sizeof(*m->easy));
		for (size_t i = m->n_easy; i < parallel; i++) {
			m->easy[i] = curl_easy_init();
			if (m->easy[i] == NULL)
				fatal("curl_easy_init failed");
		}
		m->n_easy = parallel;
	}
	/* keep as many idle connections as transfers we run at once */
	curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)m->n_easy);
	return m;
}

static void multi_put(struct s3_store *s, struct s3_multi *m)
{
	pthread_mutex_lock(&s->pool_lock);
	if (s->n_idle_multi < S3_IDLE_MULTI_MAX) {
		s->idle_multi[s->n_idle_multi++] = m;
		m = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	if (m != NULL)
		s3_multi_free(m);
}

static void slot_launch(struct s3_store *s, struct s3_multi *m, struct many_slot *slot)
{
	uint64_t now = s3_now_ms();
	buf_reset(&slot->body);
	slot->req.delivered = 0;
	s3_req_reset_response(&slot->req);
	s3_easy_setup(slot->easy, &slot->req, slot->deadline_ms > now ? slot->deadline_ms - now : 1);
	curl_easy_setopt(slot->easy, CURLOPT_PRIVATE, slot);
	CURLMcode mc = curl_multi_add_handle(m->multi, slot->easy);
	if (mc != CURLM_OK)
		fatal("curl_multi_add_handle: %s", curl_multi_strerror(mc));
	slot->state = SLOT_RUNNING;
}

static void slot_start(struct s3_store *s, struct s3_multi *m, struct many_slot *slot,
		       const char *key, size_t idx)
{
	s3_req_init(&slot->req, s, "GET", key);
	s3_url(s, key, NULL, &slot->req.url);
	slot->req.out = &slot->body;
	slot->req.collect_meta = true;
	slot->idx = idx;
	slot->attempt = 0;
	slot->deadline_ms = s3_now_ms() + s->timeout_ms;
	slot_launch(s, m, slot);
}

/* A transfer ended: try again later, or report it and free the slot. */
static void slot_finished(struct s3_store *s, struct s3_multi *m, struct many_slot *slot,
			  CURLcode code,
			  void (*done)(void *ctx, size_t i, int err, const struct buf *data,
				       const struct objstore_meta *meta),
			  void *ctx)
{
	struct s3_req *req = &slot->req;
	long connects = 0;
	curl_multi_remove_handle(m->multi, slot->easy);
	req->curl_code = code;
	req->status = 0;
	if (code == CURLE_OK)
		curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &req->status);
	if (curl_easy_getinfo(slot->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK &&
	    connects > 0)
		atomic_fetch_add(&s->connections, (uint64_t)connects);

	if (s3_retryable(code, req->status) && slot->attempt + 1 < s->max_tries) {
		uint64_t now = s3_now_ms();
		uint64_t wait = s3_backoff_ms(s, slot->attempt + 1);
		if (now + wait < slot->deadline_ms) {
			log_debug("s3: GET %s: retry %u in %llu ms (%s, HTTP %ld)", req->key,
				  slot->attempt + 1, (unsigned long long)wait,
				  curl_easy_strerror(code), req->status);
			slot->attempt++;
			slot->retry_at_ms = now + wait;
			slot->state = SLOT_WAITING;
			atomic_fetch_add(&s->retries, 1);
			return;
		}
	}
	req->attempts = slot->attempt + 1;
	int err;
	if (code != CURLE_OK) {
		log_warn("s3: GET %s: %s%s%s (after %u tries)", req->key, curl_easy_strerror(code),
			 req->curl_error[0] != '\0' ? ": " : "", req->curl_error, req->attempts);
		err = s3_retryable(code, 500) ? -OM_ETEMP : -OM_EIO;
	} else {
		err = s3_status_error(req);
	}
	if (err == 0)
		done(ctx, slot->idx, 0, &slot->body, &req->meta);
	else
		done(ctx, slot->idx, err, NULL, NULL);
	s3_req_free(req);
	slot->state = SLOT_FREE;
}

int s3_get_many(struct objstore *store, const char *const *keys, size_t n, unsigned parallel,
		void (*done)(void *ctx, size_t i, int err, const struct buf *data,
			     const struct objstore_meta *meta),
		void *ctx)
{
	struct s3_store *s = (struct s3_store *)store;
	if (parallel == 0)
		parallel = 1;
	if (parallel > n)
		parallel = (unsigned)n;
	if (parallel > 256)
		parallel = 256;
	if (n == 0)
		return 0;
	struct s3_multi *m = multi_get(s, parallel);
	struct many_slot *slots = om_calloc(parallel, sizeof(*slots));
	for (unsigned i = 0; i < parallel; i++)
		slots[i].easy = m->easy[i];
	size_t next = 0;
	size_t busy = 0;
	while (next < n || busy > 0) {
		uint64_t now = s3_now_ms();
		uint64_t wait_ms = MANY_POLL_MAX_MS;
		for (unsigned i = 0; i < parallel; i++) {
			struct many_slot *slot = &slots[i];
			if (slot->state == SLOT_FREE && next < n) {
				slot_start(s, m, slot, keys[next], next);
				next++;
				busy++;
			} else if (slot->state == SLOT_WAITING) {
				if (slot->retry_at_ms <= now)
					slot_launch(s, m, slot);
				else if (slot->retry_at_ms - now < wait_ms)
					wait_ms = slot->retry_at_ms - now;
			}
		}
		int running = 0;
		CURLMcode mc = curl_multi_perform(m->multi, &running);
		if (mc != CURLM_OK)
			fatal("curl_multi_perform: %s", curl_multi_strerror(mc));
		CURLMsg *msg;
		int left;
		bool finished_any = false;
		while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct many_slot *slot = NULL;
			CURLcode code = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&slot);
			slot_finished(s, m, slot, code, done, ctx);
			if (slot->state == SLOT_FREE)
				busy--;
			finished_any = true;
		}
		if (finished_any)
			continue; /* refill the free slots before waiting */
		if (running > 0 || busy > 0) {
			mc = curl_multi_poll(m->multi, NULL, 0, (int)wait_ms, NULL);
			if (mc != CURLM_OK)
				fatal("curl_multi_poll: %s", curl_multi_strerror(mc));
		}
	}
	for (unsigned i = 0; i < parallel; i++)
		buf_free(&slots[i].body);
	free(slots);
	multi_put(s, m);
	return 0;
}
