/* The S3 driver's HTTP layer: one signed exchange on a pooled libcurl easy
 * handle, retried with backoff inside the store's time budget, and the map
 * from HTTP answers to objstore errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/s3-private.h"
#include "objstore/s3-xml.h"

uint64_t s3_now_ms(void)
{
	return objstore_now_us() / 1000u;
}

void s3_uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
			buf_append_c(out, (char)c);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_append(out, esc, 3);
		}
	}
}

void s3_url(const struct s3_store *store, const char *key, const char *query, struct buf *url)
{
	buf_reset(url);
	buf_append_str(url, store->endpoint);
	buf_append_c(url, '/');
	s3_uri_encode(url, store->bucket, strlen(store->bucket), false);
	if (key != NULL) {
		buf_append_c(url, '/');
		s3_uri_encode(url, store->prefix, strlen(store->prefix), true);
		s3_uri_encode(url, key, strlen(key), true);
	}
	if (query != NULL) {
		buf_append_c(url, '?');
		buf_append_str(url, query);
	}
}

void s3_req_init(struct s3_req *req, struct s3_store *store, const char *method, const char *key)
{
	memset(req, 0, sizeof(*req));
	req->store = store;
	req->method = method;
	req->key = key;
	/* libcurl's SigV4 signs this header's value as the payload hash;
	 * without it radosgw answers SignatureDoesNotMatch */
	req->headers = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	if (req->headers == NULL)
		fatal("out of memory");
}

void s3_req_add_header(struct s3_req *req, const char *fmt, ...)
{
	struct buf line = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	struct curl_slist *l = curl_slist_append(req->headers, buf_cstr(&line));
	if (l == NULL)
		fatal("out of memory");
	req->headers = l;
	buf_free(&line);
}

void s3_req_reset_response(struct s3_req *req)
{
	req->status = 0;
	req->have_length = false;
	req->content_length = 0;
	req->have_range_total = false;
	req->range_total = 0;
	req->mtime = 0;
	req->etag[0] = '\0';
	objstore_meta_free(&req->meta);
	buf_reset(&req->errbody);
	req->skip = 0;
}

void s3_req_free(struct s3_req *req)
{
	curl_slist_free_all(req->headers);
	curl_slist_free_all(req->attempt_headers);
	objstore_meta_free(&req->meta);
	buf_free(&req->errbody);
	buf_free(&req->url);
	memset(req, 0, sizeof(*req));
}

/* ---- libcurl callbacks ---- */

static bool header_is(const char *line, size_t len, const char *name, const char **value_r,
		      size_t *vlen_r)
{
	size_t nlen = strlen(name);
	if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
		return false;
	const char *v = line + nlen + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*value_r = v;
	*vlen_r = (size_t)(end - v);
	return true;
}

static void parse_status_line(struct s3_req *req, const char *line, size_t len)
{
	/* "HTTP/1.1 200 OK": a new response starts (100 Continue comes first) */
	s3_req_reset_response(req);
	const char *sp = memchr(line, ' ', len);
	unsigned long long code;
	if (sp != NULL && (size_t)(line + len - (sp + 1)) >= 3 && om_parse_u64(sp + 1, 3, &code))
		req->status = (long)code;
	if (req->status == 200 && req->range_set) {
		/* the server ignored our Range: cut the slice ourselves */
		req->skip = req->range_offset;
	}
}

static void parse_content_range(struct s3_req *req, const char *v, size_t vlen)
{
	const char *slash = memrchr(v, '/', vlen);
	unsigned long long total;
	if (slash != NULL && om_parse_u64(slash + 1, (size_t)(v + vlen - slash - 1), &total)) {
		req->range_total = total;
		req->have_range_total = true;
	}
}

static void parse_meta_header(struct s3_req *req, const char *line, size_t len)
{
	/* "x-amz-meta-NAME: value" (len without CRLF) */
	const size_t plen = strlen("x-amz-meta-");
	const char *colon = memchr(line, ':', len);
	char name[65];
	if (colon == NULL)
		return;
	size_t nlen = (size_t)(colon - line) - plen;
	if (nlen == 0 || nlen >= sizeof(name))
		return;
	for (size_t i = 0; i < nlen; i++) {
		char c = line[plen + i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return; /* not one we could have written */
		name[i] = c;
	}
	name[nlen] = '\0';
	const char *v = colon + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vlen = (size_t)(end - v);
	if (vlen > 1024)
		return;
	for (size_t i = 0; i < vlen; i++) {
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return;
	}
	char *value = om_strndup(v, vlen);
	objstore_meta_set(&req->meta, name, value);
	free(value);
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *userdata)
{
	struct s3_req *req = userdata;
	size_t total = size * nitems;
	size_t len = total;
	const char *v;
	size_t vlen;
	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		parse_status_line(req, data, len);
	} else if (header_is(data, len, "ETag", &v, &vlen)) {
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
			v++;
			vlen -= 2;
		}
		if (vlen < sizeof(req->etag)) {
			memcpy(req->etag, v, vlen);
			req->etag[vlen] = '\0';
		}
	} else if (header_is(data, len, "Content-Length", &v, &vlen)) {
		unsigned long long n;
		if (om_parse_u64(v, vlen, &n)) {
			req->content_length = n;
			req->have_length = true;
		}
	} else if (header_is(data, len, "Content-Range", &v, &vlen)) {
		parse_content_range(req, v, vlen);
	} else if (header_is(data, len, "Last-Modified", &v, &vlen)) {
		char date[64];
		if (vlen < sizeof(date)) {
			memcpy(date, v, vlen);
			date[vlen] = '\0';
			time_t t = curl_getdate(date, NULL);
			if (t > 0)
				req->mtime = (int64_t)t;
		}
	} else if (req->collect_meta && len > 11 && strncasecmp(data, "x-amz-meta-", 11) == 0) {
		parse_meta_header(req, data, len);
	}
	return total;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct s3_req *req = userdata;
	size_t total = size * nmemb;
	size_t len = total;
	if (req->status < 200 || req->status > 299) {
		size_t room = S3_ERRBODY_MAX - req->errbody.len;
		buf_append(&req->errbody, data, len < room ? len : room);
		return total;
	}
	if (req->skip > 0) {
		size_t drop = req->skip < len ? (size_t)req->skip : len;
		req->skip -= drop;
		data += drop;
		len -= drop;
	}
	if (req->range_set && req->range_length > 0) {
		uint64_t room = req->range_length > req->delivered
					? req->range_length - req->delivered : 0;
		if (len > room)
			len = (size_t)room;
	}
	if (len == 0)
		return total;
	if (req->body_limit > 0 && req->delivered + len > req->body_limit) {
		req->too_big = true;
		return 0;
	}
	if (req->sink != NULL) {
		int ret = req->sink(req->sink_ctx, data, len);
		if (ret != 0) {
			req->sink_ret = ret;
			return 0;
		}
	} else if (req->out != NULL) {
		buf_append(req->out, data, len);
	}
	req->delivered += len;
	return total;
}

static size_t read_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	struct s3_req *req = userdata;
	size_t room = size * nitems;
	size_t left = req->body_len - req->body_pos;
	size_t n = left < room ? left : room;
	memcpy(buffer, req->body + req->body_pos, n);
	req->body_pos += n;
	return n;
}

static int seek_cb(void *userdata, curl_off_t offset, int origin)
{
	struct s3_req *req = userdata;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > req->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	req->body_pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- one attempt ---- */

static void build_attempt_headers(struct s3_req *req)
{
	curl_slist_free_all(req->attempt_headers);
	req->attempt_headers = NULL;
	struct curl_slist *l = NULL;
	for (struct curl_slist *h = req->headers; h != NULL; h = h->next) {
		l = curl_slist_append(l, h->data);
		if (l == NULL)
			fatal("out of memory");
	}
	if (req->range_set) {
		struct buf line = BUF_INIT;
		if (req->range_length > 0)
			buf_printf(&line, "Range: bytes=%llu-%llu",
				   (unsigned long long)req->range_offset,
				   (unsigned long long)(req->range_offset + req->range_length - 1));
		else
			buf_printf(&line, "Range: bytes=%llu-", (unsigned long long)req->range_offset);
		l = curl_slist_append(l, buf_cstr(&line));
		if (l == NULL)
			fatal("out of memory");
		buf_free(&line);
	}
	req->attempt_headers = l;
}

void s3_easy_setup(CURL *easy, struct s3_req *req, uint64_t timeout_ms)
{
	struct s3_store *s = req->store;
	uint64_t connect_ms = s->connect_timeout_ms < timeout_ms ? s->connect_timeout_ms : timeout_ms;
	if (timeout_ms == 0)
		timeout_ms = 1; /* 0 would mean "no timeout" to libcurl */
	if (connect_ms == 0)
		connect_ms = 1;
	build_attempt_headers(req);
	req->curl_error[0] = '\0';

	curl_easy_reset(easy);
	curl_easy_setopt(easy, CURLOPT_URL, buf_cstr(&req->url));
	curl_easy_setopt(easy, CURLOPT_SHARE, s->share);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(easy, CURLOPT_USERNAME, s->access_key);
	curl_easy_setopt(easy, CURLOPT_PASSWORD, s->secret_key);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->attempt_headers);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, req);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->curl_error);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
	if (s->tls) {
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, s->tls_verify ? 1L : 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, s->tls_verify ? 2L : 0L);
		if (s->cafile != NULL)
			curl_easy_setopt(easy, CURLOPT_CAINFO, s->cafile);
	}
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "PUT") == 0) {
		req->body_pos = 0;
		curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(easy, CURLOPT_READDATA, req);
		curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(easy, CURLOPT_SEEKDATA, req);
		curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
	}
}

bool s3_retryable(CURLcode code, long status)
{
	switch (code) {
	case CURLE_OK:
		return status >= 500 || status == 429;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return true;
	default:
		return false;
	}
}

uint64_t s3_backoff_ms(const struct s3_store *store, unsigned attempt)
{
	if (attempt == 0)
		return 0;
	uint64_t base = store->backoff_ms[attempt - 1 < S3_MAX_TRIES ? attempt - 1 : S3_MAX_TRIES - 1];
	/* +-25 % jitter so that many threads failing together spread out */
	static _Thread_local uint32_t seed;
	if (seed == 0)
		seed = (uint32_t)(objstore_now_us() ^ (uintptr_t)&seed) | 1u;
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	uint64_t span = base / 2;
	return span == 0 ? base : base - span / 2 + seed % (span + 1);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *req_what(const struct s3_req *req)
{
	return req->key != NULL ? req->key : "(bucket)";
}

int s3_perform(struct s3_req *req)
{
	struct s3_store *s = req->store;
	uint64_t deadline = s3_now_ms() + s->timeout_ms;
	size_t out_base = req->out != NULL ? req->out->len : 0;
	CURL *easy = s3_easy_get(s);
	CURLcode code = CURLE_OK;
	req->attempts = 0;
	for (unsigned attempt = 0; attempt < s->max_tries; attempt++) {
		if (attempt > 0) {
			uint64_t now = s3_now_ms();
			uint64_t wait = s3_backoff_ms(s, attempt);
			if (now + wait >= deadline)
				break;
			log_debug("s3: %s %s: retry %u in %llu ms (%s)", req->method, req_what(req),
				  attempt, (unsigned long long)wait,
				  code != CURLE_OK ? curl_easy_strerror(code) : "server error");
			sleep_ms(wait);
			atomic_fetch_add(&s->retries, 1);
			/* a stream already handed bytes to its sink: ask only
			 * for the rest */
			if (req->sink != NULL && req->delivered > 0) {
				if (req->range_set && req->range_length > 0)
					req->range_length -= req->delivered;
				req->range_offset += req->delivered;
				req->range_set = true;
				req->delivered = 0;
			}
		}
		if (req->out != NULL)
			buf_truncate(req->out, out_base);
		if (req->sink == NULL)
			req->delivered = 0;
		s3_req_reset_response(req);
		uint64_t now = s3_now_ms();
		if (now >= deadline)
			break;
		s3_easy_setup(easy, req, deadline - now);
		req->attempts++;
		code = curl_easy_perform(easy);
		req->curl_code = code;
		long connects = 0;
		if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
			atomic_fetch_add(&s->connections, (uint64_t)connects);
		if (code == CURLE_OK)
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &req->status);
		if (req->sink_ret != 0 || req->too_big)
			break;
		if (!s3_retryable(code, req->status))
			break;
		if (code != CURLE_OK && code != CURLE_COULDNT_CONNECT &&
		    code != CURLE_COULDNT_RESOLVE_HOST)
			req->maybe_applied = true;
		if (code == CURLE_OK)
			log_debug("s3: %s %s: HTTP %ld", req->method, req_what(req), req->status);
	}
	s3_easy_put(s, easy);
	if (req->sink_ret != 0)
		return req->sink_ret;
	if (req->too_big) {
		log_warn("s3: %s %s: answer bigger than %llu bytes", req->method, req_what(req),
			 (unsigned long long)req->body_limit);
		return -OM_EIO;
	}
	if (code != CURLE_OK || req->status == 0) {
		log_warn("s3: %s %s: %s%s%s (after %u tries)", req->method, req_what(req),
			 curl_easy_strerror(code), req->curl_error[0] != '\0' ? ": " : "",
			 req->curl_error, req->attempts);
		return s3_retryable(code, 500) ? -OM_ETEMP : -OM_EIO;
	}
	return 0;
}

int s3_status_error(struct s3_req *req)
{
	long st = req->status;
	if (st >= 200 && st <= 299)
		return 0;
	struct buf code = BUF_INIT;
	(void)s3_xml_error_code(buf_cstr(&req->errbody), req->errbody.len, &code);
	int ret;
	if (st == 404)
		ret = -OM_ENOTFOUND;
	else if (st == 412)
		ret = -OM_EEXISTS;
	else if (st >= 500 || st == 429)
		ret = -OM_ETEMP;
	else
		ret = -OM_EIO;
	if (ret == -OM_ENOTFOUND || ret == -OM_EEXISTS)
		log_debug("s3: %s %s: HTTP %ld %s", req->method, req_what(req), st, buf_cstr(&code));
	else
		log_warn("s3: %s %s: HTTP %ld %s%s", req->method, req_what(req), st,
			 code.len > 0 ? buf_cstr(&code) : "(no S3 error code)",
			 ret == -OM_ETEMP ? " (after retries)" : "");
	buf_free(&code);
	return ret;
}

/* ---- handle pools ---- */

CURL *s3_easy_get(struct s3_store *s)
{
	CURL *easy = NULL;
	pthread_mutex_lock(&s->pool_lock);
	if (s->n_idle_easy > 0)
		easy = s->idle_easy[--s->n_idle_easy];
	pthread_mutex_unlock(&s->pool_lock);
	if (easy == NULL) {
		easy = curl_easy_init();
		if (easy == NULL)
			fatal("curl_easy_init failed");
	}
	return easy;
}

void s3_easy_put(struct s3_store *s, CURL *easy)
{
	pthread_mutex_lock(&s->pool_lock);
	if (s->n_idle_easy < S3_IDLE_EASY_MAX) {
		s->idle_easy[s->n_idle_easy++] = easy;
		easy = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	if (easy != NULL)
		curl_easy_cleanup(easy);
}

void s3_pools_free(struct s3_store *s)
{
	for (size_t i = 0; i < s->n_idle_easy; i++)
		curl_easy_cleanup(s->idle_easy[i]);
	s->n_idle_easy = 0;
	for (size_t i = 0; i < s->n_idle_multi; i++)
		s3_multi_free(s->idle_multi[i]);
	s->n_idle_multi = 0;
}
