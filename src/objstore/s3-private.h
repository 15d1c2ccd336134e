/* Inside the S3 driver: the store, one HTTP exchange, and the pieces the
 * files share. s3.c has the spec and the operations, s3-http.c the libcurl
 * plumbing (handle pools, signing, retries, error mapping), s3-many.c the
 * parallel fetch on the multi interface, s3-xml.c the XML answers. */
#ifndef OM_S3_PRIVATE_H
#define OM_S3_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "lib/buf.h"
#include "objstore/objstore-private.h"

#define S3_ERRBODY_MAX (16u * 1024)      /* error body kept for its <Code> */
#define S3_LIST_BODY_MAX (32u * 1024 * 1024)
#define S3_MAX_TRIES 4                   /* the first try and three retries */
#define S3_IDLE_EASY_MAX 64              /* pooled easy handles (one connection each) */
#define S3_IDLE_MULTI_MAX 8              /* pooled multi handles (get_many) */

struct s3_store {
	struct objstore base;

	char *endpoint;      /* "http://127.0.0.1:7480", no trailing '/' */
	char *bucket;
	char *prefix;        /* "" or "some/prefix/" prepended to every key */
	char *access_key;
	char *secret_key;
	char *sigv4;         /* "aws:amz:REGION:s3" */
	bool tls;
	bool tls_verify;
	char *cafile;        /* NULL = system CAs */
	uint64_t timeout_ms; /* a whole call, retries included */
	uint64_t connect_timeout_ms;
	unsigned max_tries;
	uint64_t backoff_ms[S3_MAX_TRIES];

	/* DNS cache and TLS sessions are shared by every handle; connections
	 * are not (libcurl does not support sharing them between threads), so
	 * each pooled easy handle keeps its own. */
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

	pthread_mutex_t pool_lock;
	CURL *idle_easy[S3_IDLE_EASY_MAX];
	size_t n_idle_easy;
	struct s3_multi *idle_multi[S3_IDLE_MULTI_MAX];
	size_t n_idle_multi;

	atomic_uint_fast64_t retries;     /* tries after the first */
	atomic_uint_fast64_t connections; /* new TCP connections made */
};

/* One exchange: what to send and what came back. */
struct s3_req {
	struct s3_store *store;
	const char *method;          /* "GET", "PUT", "HEAD", "DELETE" */
	const char *key;             /* for logs; NULL for bucket requests */
	struct buf url;
	struct curl_slist *headers;  /* every try */
	struct curl_slist *attempt_headers; /* headers + Range, rebuilt per try */
	bool range_set;
	uint64_t range_offset, range_length; /* length 0 = to the end */
	const char *body;            /* PUT payload */
	size_t body_len, body_pos;

	/* response: reset at every status line (100 Continue, retries) */
	long status;
	bool have_length;
	uint64_t content_length;
	bool have_range_total;
	uint64_t range_total;        /* from Content-Range: bytes a-b/TOTAL */
	int64_t mtime;
	char etag[80];
	bool collect_meta;
	struct objstore_meta meta;

	/* where a 2xx body goes: appended to out, or handed to sink */
	struct buf *out;
	int (*sink)(void *ctx, const void *data, size_t len);
	void *sink_ctx;
	int sink_ret;
	uint64_t body_limit;         /* > 0: refuse bigger bodies (lists) */
	uint64_t delivered;          /* 2xx body bytes taken by out/sink */
	uint64_t skip;               /* bytes to drop first (Range ignored) */
	bool too_big;
	struct buf errbody;

	char curl_error[CURL_ERROR_SIZE];
	CURLcode curl_code;
	unsigned attempts;
	bool maybe_applied;          /* a try broke off after it may have been processed */
};

void s3_req_init(struct s3_req *req, struct s3_store *store, const char *method,
		 const char *key);
/* Forget the response so the request can be sent again. */
void s3_req_reset_response(struct s3_req *req);
void s3_req_free(struct s3_req *req);
void s3_req_add_header(struct s3_req *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* URL of key (NULL: the bucket), prefix applied, each segment encoded;
 * query (already canonical: sorted, encoded) appended if not NULL. */
void s3_url(const struct s3_store *store, const char *key, const char *query,
	    struct buf *url);
/* RFC 3986 unreserved characters kept, everything else %XX (uppercase);
 * '/' kept when keep_slash. */
void s3_uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash);

/* Send req with retries and backoff inside the store's time budget; the
 * body goes where req says. 0 with req->status set (any HTTP status), or
 * -OM_ETEMP when no answer came (logged). */
int s3_perform(struct s3_req *req);
/* Set up easy for req (after curl_easy_reset); used by s3-many.c. */
void s3_easy_setup(CURL *easy, struct s3_req *req, uint64_t timeout_ms);
/* Is this transfer result worth another try? */
bool s3_retryable(CURLcode code, long status);
/* Map a final status to an objstore error (2xx = 0) and log failures. */
int s3_status_error(struct s3_req *req);
/* Milliseconds to wait before try number `attempt` (1 = first retry). */
uint64_t s3_backoff_ms(const struct s3_store *store, unsigned attempt);
uint64_t s3_now_ms(void);

CURL *s3_easy_get(struct s3_store *store);
void s3_easy_put(struct s3_store *store, CURL *easy);
void s3_pools_free(struct s3_store *store);

/* s3-many.c */
struct s3_multi;
int s3_get_many(struct objstore *store, const char *const *keys, size_t n, unsigned parallel,
		void (*done)(void *ctx, size_t i, int err, const struct buf *data,
			     const struct objstore_meta *meta),
		void *ctx);
void s3_multi_free(struct s3_multi *m);

#endif
