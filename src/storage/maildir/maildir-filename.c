/* Maildir file names: "<base>:2,<flags>", base = "<sec>.M<usec>P<pid>.<host>"
 * optionally followed by ",S=<size>,W=<vsize>" (Dovecot), or other MUAs'
 * variants (Courier's ",S=<size>" only; no ":2," at all in new/). */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/om-error.h"
#include "storage/maildir/maildir.h"

static const struct {
	char letter;
	uint32_t flag;
} flag_letters[] = {
	{ 'D', MAIL_DRAFT },
	{ 'F', MAIL_FLAGGED },
	{ 'R', MAIL_ANSWERED },
	{ 'S', MAIL_SEEN },
	{ 'T', MAIL_DELETED },
};

static uint32_t flag_of(char c)
{
	for (size_t i = 0; i < sizeof(flag_letters) / sizeof(flag_letters[0]); i++) {
		if (flag_letters[i].letter == c)
			return flag_letters[i].flag;
	}
	return 0;
}

/* Parse ",S=123" style fields of the base name. */
static void parse_base_fields(const char *base, size_t len, struct maildir_filename *out)
{
	const char *end = base + len;
	const char *p = memchr(base, ',', len);
	while (p != NULL && p < end) {
		p++;
		const char *next = memchr(p, ',', (size_t)(end - p));
		const char *fend = next ? next : end;
		if (fend - p > 2 && p[1] == '=' && (p[0] == 'S' || p[0] == 'W')) {
			unsigned long long v;
			if (om_parse_u64(p + 2, (size_t)(fend - p - 2), &v)) {
				if (p[0] == 'S') {
					out->size = v;
					out->have_size = true;
				} else {
					out->vsize = v;
					out->have_vsize = true;
				}
			}
		}
		p = next;
	}
}

void maildir_filename_parse(const char *fname, struct maildir_filename *out)
{
	memset(out, 0, sizeof(*out));
	const char *info = strstr(fname, ":2,");
	/* The base ends at the first ':' (Dovecot's rule), info or not. */
	const char *colon = strchr(fname, ':');
	out->base_len = colon ? (size_t)(colon - fname) : strlen(fname);
	parse_base_fields(fname, out->base_len, out);
	if (info == NULL || info != colon)
		return;
	out->have_info = true;
	size_t n_other = 0;
	for (const char *p = info + 3; *p != '\0'; p++) {
		if (*p == ',') {
			/* non-standard fields after the flags: not ours to touch */
			out->tail_off = (size_t)(p - fname);
			break;
		}
		uint32_t f = flag_of(*p);
		if (f != 0) {
			out->flags |= f;
		} else if (*p >= 'a' && *p <= 'z') {
			out->kw_letters |= 1u << (*p - 'a');
		} else if (*p >= 'A' && *p <= 'Z' && n_other + 1 < sizeof(out->other) &&
			   strchr(out->other, *p) == NULL) {
			/* P (passed) and others we don't map: keep them as they are */
			size_t pos = n_other;
			while (pos > 0 && out->other[pos - 1] > *p) {
				out->other[pos] = out->other[pos - 1];
				pos--;
			}
			out->other[pos] = *p;
			out->other[++n_other] = '\0';
		}
	}
}

void maildir_filename_build(struct buf *out, const char *base, size_t base_len,
			    uint32_t flags, uint32_t kw_letters, const char *other)
{
	buf_append(out, base, base_len);
	buf_append(out, ":2,", 3);
	/* uppercase letters in ASCII order, as Dovecot writes them */
	for (char c = 'A'; c <= 'Z'; c++) {
		uint32_t f = flag_of(c);
		if ((f != 0 && (flags & f) != 0) || (f == 0 && other != NULL && strchr(other, c) != NULL))
			buf_append_c(out, c);
	}
	for (unsigned i = 0; i < MAILDIR_MAX_KEYWORDS; i++) {
		if (kw_letters & (1u << i))
			buf_append_c(out, (char)('a' + i));
	}
}

void maildir_hostname_escape(const char *host, struct buf *out)
{
	for (const char *p = host; *p != '\0'; p++) {
		if (*p == '/')
			buf_append_str(out, "\\057");
		else if (*p == ':')
			buf_append_str(out, "\\072");
		else
			buf_append_c(out, *p);
	}
}

static pthread_mutex_t base_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timeval last_tv;
static char *escaped_host;

void maildir_filename_new_base(struct buf *out)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	pthread_mutex_lock(&base_lock);
	if (escaped_host == NULL) {
		char host[256];
		if (gethostname(host, sizeof(host) - 1) < 0)
			memcpy(host, "localhost", sizeof("localhost"));
		host[sizeof(host) - 1] = '\0';
		struct buf h = BUF_INIT;
		maildir_hostname_escape(host, &h);
		escaped_host = buf_steal(&h);
		buf_free(&h);
	}
	/* unique within the process: never reuse a (sec, usec) pair */
	if (tv.tv_sec < last_tv.tv_sec ||
	    (tv.tv_sec == last_tv.tv_sec && tv.tv_usec <= last_tv.tv_usec)) {
		tv = last_tv;
		if (++tv.tv_usec >= 1000000) {
			tv.tv_usec = 0;
			tv.tv_sec++;
		}
	}
	last_tv = tv;
	pthread_mutex_unlock(&base_lock);
	buf_printf(out, "%lld.M%ldP%ld.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
		   (long)getpid(), escaped_host);
}

static void hex_encode(const unsigned char *bin, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[i * 2] = hex[bin[i] >> 4];
		out[i * 2 + 1] = hex[bin[i] & 15];
	}
	out[n * 2] = '\0';
}

void maildir_guid_from_base(const char *base, size_t base_len, char guid[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(base, base_len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16) {
		/* can't happen with a working libcrypto; still give a value */
		memset(md, 0, 16);
	}
	hex_encode(md, 16, guid);
}

void maildir_guid_random(char guid[33])
{
	unsigned char bin[16];
	if (RAND_bytes(bin, sizeof(bin)) != 1) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		memset(bin, 0, sizeof(bin));
		memcpy(bin, &tv, sizeof(tv) < sizeof(bin) ? sizeof(tv) : sizeof(bin));
	}
	hex_encode(bin, sizeof(bin), guid);
}
