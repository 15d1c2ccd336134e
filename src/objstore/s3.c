/* The S3 object store driver (radosgw, AWS, MinIO...):
 *   s3://KEY:SECRET@HOST[:PORT]/BUCKET[/PREFIX][?region=R&timeout=30s&tls=1...]
 * s3s:// and https:// speak TLS, s3:// and http:// plain HTTP. Path-style
 * URLs, libcurl's SigV4, keep-alive connections on pooled handles, retries
 * with backoff (s3-http.c), parallel fetches (s3-many.c).
 *
 * Options: region (us-east-1), timeout (30s, a whole call with its
 * retries), connect_timeout (5s), tls=0|1, verify=0|1 (TLS certificate
 * check, default 1), cafile=PATH, retries=0..3 (3), check=0|1 (HEAD the
 * bucket at open, default 1). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/s3-private.h"
#include "objstore/s3-xml.h"

#define S3_LIST_PAGE_KEYS 1000

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct s3_store *s3_store(struct objstore *store)
{
	return (struct s3_store *)store;
}

/* ---- the spec ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..len) into a new string; NULL on a bad escape or NUL. */
static char *percent_decode(const char *s, size_t len)
{
	struct buf out = BUF_INIT;
	buf_reserve(&out, len + 1);
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			buf_append_c(&out, s[i]);
			continue;
		}
		int hi = len - i > 2 ? hexval(s[i + 1]) : -1;
		int lo = len - i > 2 ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			buf_free(&out);
			return NULL;
		}
		buf_append_c(&out, (char)(hi * 16 + lo));
		i += 2;
	}
	return buf_steal(&out);
}

static bool bucket_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static bool host_valid(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_'))
			return false;
	}
	return true;
}

static bool parse_bool(const char *v, size_t vlen, bool *out)
{
	if ((vlen == 1 && v[0] == '1') || (vlen == 3 && memcmp(v, "yes", 3) == 0) ||
	    (vlen == 4 && memcmp(v, "true", 4) == 0)) {
		*out = true;
		return true;
	}
	if ((vlen == 1 && v[0] == '0') || (vlen == 2 && memcmp(v, "no", 2) == 0) ||
	    (vlen == 5 && memcmp(v, "false", 5) == 0)) {
		*out = false;
		return true;
	}
	return false;
}

struct s3_spec_opts {
	bool check;
};

static int parse_option(struct s3_store *s, struct s3_spec_opts *o, const char *opt, size_t len,
			char **error_r)
{
	const char *eq = memchr(opt, '=', len);
	if (eq == NULL) {
		objstore_set_error(error_r, "s3: option \"%.*s\" needs a value", (int)len, opt);
		return -OM_EINVAL;
	}
	size_t nlen = (size_t)(eq - opt);
	const char *v = eq + 1;
	size_t vlen = len - nlen - 1;
	uint64_t us, n;
	bool ok = true;
#define OPT_IS(name) (nlen == strlen(name) && memcmp(opt, name, nlen) == 0)
	if (OPT_IS("region")) {
		ok = vlen > 0 && vlen <= 64 && bucket_name_valid(v, vlen);
		if (ok) {
			free(s->sigv4);
			struct buf b = BUF_INIT;
			buf_printf(&b, "aws:amz:%.*s:s3", (int)vlen, v);
			s->sigv4 = buf_steal(&b);
		}
	} else if (OPT_IS("timeout")) {
		ok = objstore_parse_duration_us(v, vlen, &us) && us >= 1000 && us <= 3600000000ULL;
		if (ok)
			s->timeout_ms = us / 1000;
	} else if (OPT_IS("connect_timeout")) {
		ok = objstore_parse_duration_us(v, vlen, &us) && us >= 1000 && us <= 600000000ULL;
		if (ok)
			s->connect_timeout_ms = us / 1000;
	} else if (OPT_IS("tls")) {
		ok = parse_bool(v, vlen, &s->tls);
	} else if (OPT_IS("verify")) {
		ok = parse_bool(v, vlen, &s->tls_verify);
	} else if (OPT_IS("check")) {
		ok = parse_bool(v, vlen, &o->check);
	} else if (OPT_IS("retries")) {
		ok = objstore_parse_size(v, vlen, &n) && n < S3_MAX_TRIES;
		if (ok)
			s->max_tries = (unsigned)n + 1;
	} else if (OPT_IS("cafile")) {
		free(s->cafile);
		s->cafile = percent_decode(v, vlen);
		ok = s->cafile != NULL && s->cafile[0] != '\0';
	} else {
		objstore_set_error(error_r, "s3: unknown option \"%.*s\"", (int)nlen, opt);
		return -OM_EINVAL;
	}
#undef OPT_IS
	if (!ok) {
		objstore_set_error(error_r, "s3: bad value for option \"%.*s\"", (int)nlen, opt);
		return -OM_EINVAL;
	}
	return 0;
}

static int parse_spec(struct s3_store *s, const char *spec, struct s3_spec_opts *o,
		      char **error_r)
{
	static const struct { const char *scheme; bool tls; } schemes[] = {
		{ "s3://", false }, { "s3s://", true }, { "http://", false }, { "https://", true },
	};
	const char *p = NULL;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t l = strlen(schemes[i].scheme);
		if (strncmp(spec, schemes[i].scheme, l) == 0) {
			p = spec + l;
			s->tls = schemes[i].tls;
		}
	}
	if (p == NULL) {
		objstore_set_error(error_r, "s3: spec must start with s3://, s3s://, http:// or https://");
		return -OM_EINVAL;
	}
	const char *query = strchr(p, '?');
	const char *end = query != NULL ? query : p + strlen(p);
	/* The secret may hold a raw '/' (AWS secrets often do): the user part
	 * ends at the last '@' before the options. */
	const char *at = memrchr(p, '@', (size_t)(end - p));
	if (at == NULL) {
		objstore_set_error(error_r, "s3: spec needs KEY:SECRET@ before the host");
		return -OM_EINVAL;
	}
	const char *colon = memchr(p, ':', (size_t)(at - p));
	if (colon == NULL || colon == p || colon + 1 == at) {
		objstore_set_error(error_r, "s3: spec needs KEY:SECRET@ before the host");
		return -OM_EINVAL;
	}
	s->access_key = percent_decode(p, (size_t)(colon - p));
	s->secret_key = percent_decode(colon + 1, (size_t)(at - colon - 1));
	if (s->access_key == NULL || s->secret_key == NULL) {
		objstore_set_error(error_r, "s3: bad %%-escape in KEY or SECRET");
		return -OM_EINVAL;
	}
	const char *host = at + 1;
	const char *slash = memchr(host, '/', (size_t)(end - host));
	if (slash == NULL || !host_valid(host, (size_t)(slash - host))) {
		objstore_set_error(error_r, "s3: spec needs HOST[:PORT]/BUCKET after the '@'");
		return -OM_EINVAL;
	}
	const char *bucket = slash + 1;
	const char *bslash = memchr(bucket, '/', (size_t)(end - bucket));
	const char *bend = bslash != NULL ? bslash : end;
	if (!bucket_name_valid(bucket, (size_t)(bend - bucket))) {
		objstore_set_error(error_r, "s3: bad or missing bucket name");
		return -OM_EINVAL;
	}
	s->bucket = om_strndup(bucket, (size_t)(bend - bucket));
	/* the prefix: "a/b" or "a/b/" both mean keys under "a/b/" */
	struct buf prefix = BUF_INIT;
	if (bslash != NULL && bslash + 1 < end) {
		const char *pp = bslash + 1;
		size_t plen = (size_t)(end - pp);
		while (plen > 0 && pp[plen - 1] == '/')
			plen--;
		buf_append(&prefix, pp, plen);
		if (plen > 0) {
			buf_append_c(&prefix, '/');
			/* the same rules as a key, so that keys under it stay valid */
			char *probe = om_strndup(pp, plen);
			bool ok = objstore_key_valid(probe) && plen <= 512;
			free(probe);
			if (!ok) {
				buf_free(&prefix);
				objstore_set_error(error_r, "s3: bad key prefix after the bucket");
				return -OM_EINVAL;
			}
		}
	}
	s->prefix = buf_steal(&prefix);
	struct buf ep = BUF_INIT;
	buf_printf(&ep, "%s://%.*s", s->tls ? "https" : "http", (int)(slash - host), host);
	s->endpoint = buf_steal(&ep);

	if (query != NULL) {
		const char *q = query + 1;
		while (*q != '\0') {
			const char *amp = strchr(q, '&');
			size_t olen = amp != NULL ? (size_t)(amp - q) : strlen(q);
			if (olen > 0) {
				int ret = parse_option(s, o, q, olen, error_r);
				if (ret < 0)
					return ret;
			}
			q += olen + (amp != NULL ? 1 : 0);
		}
	}
	/* the scheme may have been overridden by tls= */
	if (s->tls && strncmp(s->endpoint, "http://", 7) == 0) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "https://%s", s->endpoint + 7);
		free(s->endpoint);
		s->endpoint = buf_steal(&b);
	} else if (!s->tls && strncmp(s->endpoint, "https://", 8) == 0) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "http://%s", s->endpoint + 8);
		free(s->endpoint);
		s->endpoint = buf_steal(&b);
	}
	struct buf d = BUF_INIT;
	buf_printf(&d, "%s://%s:***@%s/%s%s%.*s", s->tls ? "s3s" : "s3", s->access_key,
		   s->endpoint + (s->tls ? 8 : 7), s->bucket, s->prefix[0] != '\0' ? "/" : "",
		   (int)(s->prefix[0] != '\0' ? strlen(s->prefix) - 1 : 0), s->prefix);
	s->base.describe = buf_steal(&d);
	return 0;
}

static void s3_share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *ctx)
{
	struct s3_store *s = ctx;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&s->share_locks[data]);
}

static void s3_share_unlock(CURL *handle, curl_lock_data data, void *ctx)
{
	struct s3_store *s = ctx;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&s->share_locks[data]);
}

static void s3_close(struct objstore *store)
{
	struct s3_store *s = s3_store(store);
	s3_pools_free(s);
	if (s->share != NULL)
		curl_share_cleanup(s->share);
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s->share_locks[i]);
	pthread_mutex_destroy(&s->pool_lock);
	free(s->endpoint);
	free(s->bucket);
	free(s->prefix);
	if (s->secret_key != NULL)
		explicit_bzero(s->secret_key, strlen(s->secret_key));
	free(s->access_key);
	free(s->secret_key);
	free(s->sigv4);
	free(s->cafile);
	free(s);
}

/* Is the bucket there and are we allowed in? */
static int s3_check_bucket(struct s3_store *s, char **error_r)
{
	struct s3_req req;
	s3_req_init(&req, s, "HEAD", NULL);
	s3_url(s, NULL, NULL, &req.url);
	int ret = s3_perform(&req);
	if (ret == 0 && (req.status < 200 || req.status > 299)) {
		if (req.status == 404) {
			objstore_set_error(error_r, "s3: no bucket \"%s\" at %s", s->bucket, s->endpoint);
			ret = -OM_EINVAL;
		} else if (req.status == 403) {
			objstore_set_error(error_r, "s3: access to bucket \"%s\" denied (check key and secret)",
					   s->bucket);
			ret = -OM_EINVAL;
		} else {
			ret = s3_status_error(&req);
			objstore_set_error(error_r, "s3: HEAD bucket \"%s\": HTTP %ld", s->bucket, req.status);
		}
	} else if (ret < 0) {
		objstore_set_error(error_r, "s3: %s unreachable: %s", s->endpoint,
				   req.curl_error[0] != '\0' ? req.curl_error
							     : curl_easy_strerror(req.curl_code));
	}
	s3_req_free(&req);
	return ret;
}

static int s3_open(const char *spec, struct objstore **store_r, char **error_r)
{
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK) {
		objstore_set_error(error_r, "s3: curl_global_init failed");
		return -OM_EIO;
	}
	struct s3_store *s = om_calloc(1, sizeof(*s));
	pthread_mutex_init(&s->pool_lock, NULL);
	for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s->share_locks[i], NULL);
	s->sigv4 = om_strdup("aws:amz:us-east-1:s3");
	s->tls_verify = true;
	s->timeout_ms = 30000;
	s->connect_timeout_ms = 5000;
	s->max_tries = S3_MAX_TRIES;
	s->backoff_ms[0] = 50;
	s->backoff_ms[1] = 200;
	s->backoff_ms[2] = 800;
	s->backoff_ms[3] = 800;
	struct s3_spec_opts opts = { .check = true };
	int ret = parse_spec(s, spec, &opts, error_r);
	if (ret < 0) {
		free(s->base.describe);
		s3_close(&s->base);
		return ret;
	}
	s->share = curl_share_init();
	if (s->share == NULL)
		fatal("curl_share_init failed");
	curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, s3_share_lock);
	curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, s3_share_unlock);
	curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	s->base.caps = OBJSTORE_CAP_COND_PUT | OBJSTORE_CAP_PARALLEL;
	if (opts.check && (ret = s3_check_bucket(s, error_r)) < 0) {
		free(s->base.describe);
		s3_close(&s->base);
		return ret;
	}
	*store_r = &s->base;
	return 0;
}

/* ---- operations ---- */

static void md5_hex(const void *data, size_t len, char hex_r[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char digits[] = "0123456789abcdef";
	hex_r[0] = '\0';
	if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
		return;
	for (unsigned i = 0; i < 16; i++) {
		hex_r[i * 2] = digits[md[i] >> 4];
		hex_r[i * 2 + 1] = digits[md[i] & 15];
	}
	hex_r[32] = '\0';
}

static int s3_head_req(struct s3_store *s, const char *key, struct s3_req *req)
{
	s3_req_init(req, s, "HEAD", key);
	s3_url(s, key, NULL, &req->url);
	int ret = s3_perform(req);
	return ret < 0 ? ret : s3_status_error(req);
}

/* A conditional put whose earlier try broke off without an answer may have
 * landed, and then its retry sees 412 for our own write: if the object now
 * holds exactly our bytes (S3's single-part ETag is their MD5), call it
 * ours. Only after a lost answer: a 5xx is a real failure (radosgw answers
 * 500 to the losers of an If-Match race), and a writer of the same bytes as
 * a winner must not count as a winner too. */
static bool put_landed_earlier(struct s3_store *s, const char *key, const void *data, size_t len,
			       char *etag_r)
{
	char md5[33];
	struct s3_req head;
	md5_hex(data, len, md5);
	int ret = s3_head_req(s, key, &head);
	bool ours = ret == 0 && md5[0] != '\0' && strcmp(head.etag, md5) == 0;
	if (ours && etag_r != NULL)
		memcpy(etag_r, head.etag, sizeof(head.etag));
	s3_req_free(&head);
	if (ours)
		log_info("s3: PUT %s: an earlier try had succeeded", key);
	return ours;
}

static int s3_put(struct objstore *store, const char *key, const void *data, size_t len,
		  const struct objstore_meta *meta, unsigned flags, const char *if_match,
		  char *etag_r)
{
	struct s3_store *s = s3_store(store);
	struct s3_req req;
	s3_req_init(&req, s, "PUT", key);
	s3_url(s, key, NULL, &req.url);
	req.body = data;
	req.body_len = len;
	for (size_t i = 0; meta != NULL && i < meta->n; i++)
		s3_req_add_header(&req, "x-amz-meta-%s: %s", meta->names[i], meta->values[i]);
	if ((flags & OBJSTORE_PUT_IF_ABSENT) != 0)
		s3_req_add_header(&req, "If-None-Match: *");
	if ((flags & OBJSTORE_PUT_IF_MATCH) != 0) {
		/* radosgw compares the header text with its unquoted ETag */
		size_t elen = strlen(if_match);
		if (elen >= 2 && if_match[0] == '"' && if_match[elen - 1] == '"') {
			if_match++;
			elen -= 2;
		}
		if (elen == 0 || elen > 200 || memchr(if_match, '\r', elen) != NULL ||
		    memchr(if_match, '\n', elen) != NULL) {
			s3_req_free(&req);
			return -OM_EINVAL;
		}
		s3_req_add_header(&req, "If-Match: %.*s", (int)elen, if_match);
	}
	int ret = s3_perform(&req);
	if (ret == 0)
		ret = s3_status_error(&req);
	if (ret == -OM_EEXISTS && req.maybe_applied && put_landed_earlier(s, key, data, len, etag_r)) {
		s3_req_free(&req);
		return 0;
	}
	if (ret == 0 && etag_r != NULL) {
		if (req.etag[0] != '\0')
			memcpy(etag_r, req.etag, sizeof(req.etag));
		else
			md5_hex(data, len, etag_r);
	}
	s3_req_free(&req);
	return ret;
}

static void fill_stat(const struct s3_req *req, struct objstore_stat *stat_r)
{
	if (stat_r == NULL)
		return;
	memset(stat_r, 0, sizeof(*stat_r));
	if (req->have_range_total)
		stat_r->size = req->range_total;
	else if (req->have_length)
		stat_r->size = req->content_length;
	memcpy(stat_r->etag, req->etag, sizeof(stat_r->etag));
	stat_r->mtime = req->mtime;
}

static int s3_get_req(struct s3_store *s, struct s3_req *req, const char *key, uint64_t offset,
		      uint64_t length)
{
	s3_url(s, key, NULL, &req->url);
	if (offset > 0 || length > 0) {
		if (length > 0 && offset > UINT64_MAX - length)
			return -OM_EINVAL;
		req->range_set = true;
		req->range_offset = offset;
		req->range_length = length;
	}
	int ret = s3_perform(req);
	if (ret != 0)
		return ret; /* an error, or what the sink returned */
	if (req->status == 416)
		return 0; /* the range starts past the end: nothing to read */
	return s3_status_error(req);
}

static int s3_get(struct objstore *store, const char *key, uint64_t offset, uint64_t length,
		  struct buf *out, struct objstore_meta *meta_r, struct objstore_stat *stat_r)
{
	struct s3_store *s = s3_store(store);
	struct s3_req req;
	s3_req_init(&req, s, "GET", key);
	req.out = out;
	req.collect_meta = meta_r != NULL;
	int ret = s3_get_req(s, &req, key, offset, length);
	if (ret == 0) {
		fill_stat(&req, stat_r);
		if (meta_r != NULL) {
			*meta_r = req.meta;
			memset(&req.meta, 0, sizeof(req.meta));
		}
	}
	s3_req_free(&req);
	return ret;
}

static int s3_get_stream(struct objstore *store, const char *key, uint64_t offset,
			 uint64_t length, int (*sink)(void *ctx, const void *data, size_t len),
			 void *ctx)
{
	struct s3_store *s = s3_store(store);
	struct s3_req req;
	s3_req_init(&req, s, "GET", key);
	req.sink = sink;
	req.sink_ctx = ctx;
	int ret = s3_get_req(s, &req, key, offset, length);
	s3_req_free(&req);
	return ret;
}

static int s3_head(struct objstore *store, const char *key, struct objstore_stat *stat_r,
		   struct objstore_meta *meta_r)
{
	struct s3_store *s = s3_store(store);
	struct s3_req req;
	s3_req_init(&req, s, "HEAD", key);
	s3_url(s, key, NULL, &req.url);
	req.collect_meta = meta_r != NULL;
	int ret = s3_perform(&req);
	if (ret == 0)
		ret = s3_status_error(&req);
	if (ret == 0) {
		fill_stat(&req, stat_r);
		if (meta_r != NULL) {
			*meta_r = req.meta;
			memset(&req.meta, 0, sizeof(req.meta));
		}
	}
	s3_req_free(&req);
	return ret;
}

static int s3_del(struct objstore *store, const char *key)
{
	struct s3_store *s = s3_store(store);
	struct s3_req req;
	/* S3 answers 204 whether or not the key existed; the contract wants
	 * -OM_ENOTFOUND, so ask first */
	int ret = s3_head_req(s, key, &req);
	s3_req_free(&req);
	if (ret < 0)
		return ret;
	s3_req_init(&req, s, "DELETE", key);
	s3_url(s, key, NULL, &req.url);
	ret = s3_perform(&req);
	if (ret == 0)
		ret = s3_status_error(&req);
	s3_req_free(&req);
	return ret;
}

static int s3_list(struct objstore *store, const char *prefix,
		   int (*cb)(void *ctx, const char *key, uint64_t size), void *ctx)
{
	struct s3_store *s = s3_store(store);
	size_t plen = strlen(s->prefix);
	struct buf full_prefix = BUF_INIT;
	struct buf query = BUF_INIT;
	struct buf body = BUF_INIT;
	char *token = NULL;
	int ret = 0;
	buf_append_str(&full_prefix, s->prefix);
	buf_append_str(&full_prefix, prefix != NULL ? prefix : "");
	do {
		/* SigV4 wants the query canonical: names sorted, values encoded */
		buf_reset(&query);
		if (token != NULL) {
			buf_append_str(&query, "continuation-token=");
			s3_uri_encode(&query, token, strlen(token), false);
			buf_append_c(&query, '&');
		}
		buf_printf(&query, "list-type=2&max-keys=%d&prefix=", S3_LIST_PAGE_KEYS);
		s3_uri_encode(&query, full_prefix.data, full_prefix.len, false);

		struct s3_req req;
		s3_req_init(&req, s, "GET", prefix != NULL && prefix[0] != '\0' ? prefix : "(list)");
		s3_url(s, NULL, buf_cstr(&query), &req.url);
		buf_reset(&body);
		req.out = &body;
		req.body_limit = S3_LIST_BODY_MAX;
		ret = s3_perform(&req);
		if (ret == 0)
			ret = s3_status_error(&req);
		s3_req_free(&req);
		if (ret < 0)
			break;

		struct s3_list_page page;
		ret = s3_xml_parse_list(body.data, body.len, &page);
		if (ret < 0) {
			log_warn("s3: list %s: unreadable ListObjectsV2 answer (%zu bytes)",
				 buf_cstr(&full_prefix), body.len);
			s3_list_page_free(&page);
			break;
		}
		for (size_t i = 0; i < page.n && ret == 0; i++) {
			const char *k = page.entries[i].key;
			if (strncmp(k, full_prefix.data, full_prefix.len) != 0)
				continue; /* not ours; S3 would not send it */
			ret = cb(ctx, k + plen, page.entries[i].size);
		}
		if (ret == 0 && page.truncated) {
			if (token != NULL && strcmp(token, page.next_token) == 0) {
				log_warn("s3: list %s: the server repeats its continuation token",
					 buf_cstr(&full_prefix));
				ret = -OM_EIO;
			}
			free(token);
			token = page.next_token;
			page.next_token = NULL;
		} else {
			free(token);
			token = NULL;
		}
		s3_list_page_free(&page);
	} while (ret == 0 && token != NULL);
	free(token);
	buf_free(&body);
	buf_free(&query);
	buf_free(&full_prefix);
	return ret;
}

static void s3_metrics(const struct objstore *store, struct buf *out)
{
	const struct s3_store *s = (const struct s3_store *)store;
	buf_printf(out,
		   "# HELP objmail_objstore_s3_retries_total S3 requests tried again after a failure.\n"
		   "# TYPE objmail_objstore_s3_retries_total counter\n"
		   "objmail_objstore_s3_retries_total %llu\n"
		   "# HELP objmail_objstore_s3_connections_total TCP connections opened to S3.\n"
		   "# TYPE objmail_objstore_s3_connections_total counter\n"
		   "objmail_objstore_s3_connections_total %llu\n",
		   (unsigned long long)atomic_load(&s->retries),
		   (unsigned long long)atomic_load(&s->connections));
}

const struct objstore_ops objstore_s3_ops = {
	.name = "s3",
	.open = s3_open,
	.close = s3_close,
	.put = s3_put,
	.get = s3_get,
	.head = s3_head,
	.del = s3_del,
	.list = s3_list,
	.get_stream = s3_get_stream,
	.get_many = s3_get_many,
	.metrics = s3_metrics,
};
