/* Password schemes: "{SCHEME}data" as Dovecot writes them. crypt(3)
 * families go through libxcrypt; {PLAIN} and the salted SHA family are
 * compared here. Every comparison is constant-time. */
#include "auth/passdb.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib/buf.h"
#include "lib/log.h"

/* Longer passwords are refused outright: bcrypt ignores bytes past 72 and
 * nobody types 4 KB, so a huge one is an attack on the hash functions. */
#define PASSWORD_MAX 4096
#define STORED_MAX 4096

enum scheme_kind { SCHEME_PLAIN, SCHEME_CRYPT, SCHEME_DIGEST, SCHEME_SALTED_DIGEST };

struct scheme {
	const char *name;
	enum scheme_kind kind;
	const char *digest; /* OpenSSL digest name for the SHA family */
};

static const struct scheme schemes[] = {
	{ "PLAIN", SCHEME_PLAIN, NULL },
	{ "CLEARTEXT", SCHEME_PLAIN, NULL },
	{ "CRYPT", SCHEME_CRYPT, NULL },
	{ "DES-CRYPT", SCHEME_CRYPT, NULL },
	{ "MD5-CRYPT", SCHEME_CRYPT, NULL },
	{ "MD5", SCHEME_CRYPT, NULL }, /* Dovecot: {MD5} is MD5-CRYPT */
	{ "SHA256-CRYPT", SCHEME_CRYPT, NULL },
	{ "SHA512-CRYPT", SCHEME_CRYPT, NULL },
	{ "BLF-CRYPT", SCHEME_CRYPT, NULL },
	{ "SHA", SCHEME_DIGEST, "SHA1" },
	{ "SHA1", SCHEME_DIGEST, "SHA1" },
	{ "SHA256", SCHEME_DIGEST, "SHA256" },
	{ "SHA512", SCHEME_DIGEST, "SHA512" },
	{ "SSHA", SCHEME_SALTED_DIGEST, "SHA1" },
	{ "SSHA256", SCHEME_SALTED_DIGEST, "SHA256" },
	{ "SSHA512", SCHEME_SALTED_DIGEST, "SHA512" },
};

/* Equal-length compare in constant time; unequal lengths are compared via
 * digests so that the time does not depend on where they differ. */
static bool ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen == blen)
		return CRYPTO_memcmp(a, b, alen) == 0;
	unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
	unsigned int la = 0, lb = 0;
	if (EVP_Digest(a, alen, da, &la, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(b, blen, db, &lb, EVP_sha256(), NULL) != 1)
		return false;
	(void)CRYPTO_memcmp(da, db, la);
	return false;
}

static bool verify_crypt(const char *hash, const char *password)
{
	if (hash[0] == '\0' || hash[0] == '*' || hash[0] == '!')
		return false; /* locked / disabled */
	struct crypt_data *cd = om_calloc(1, sizeof(*cd));
	const char *res = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	bool ok = res != NULL && res[0] != '*' &&
		  ct_equal(res, strlen(res), hash, strlen(hash));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool decode_hex(const char *s, size_t len, unsigned char *out, size_t out_cap)
{
	if (len % 2 != 0 || len / 2 > out_cap)
		return false;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* Dovecot stores the SHA family base64 by default, hex with a .HEX scheme
 * suffix; an unsalted hex digest is also recognised by its length.
 * Returns the decoded length or -1. */
static int decode_digest(const char *s, bool hex, unsigned char *out, size_t out_cap,
			 size_t md_len)
{
	size_t len = strlen(s);
	if (hex || len == md_len * 2) {
		if (decode_hex(s, len, out, out_cap))
			return (int)(len / 2);
		if (hex)
			return -1;
	}
	if (len % 4 != 0 || len / 4 * 3 > out_cap)
		return -1;
	int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0)
		return -1;
	/* EVP_DecodeBlock counts padding as zero bytes */
	if (len >= 1 && s[len - 1] == '=')
		n--;
	if (len >= 2 && s[len - 2] == '=')
		n--;
	return n;
}

static bool verify_digest(const struct scheme *sc, bool hex, const char *data,
			  const char *password)
{
	const EVP_MD *md = EVP_get_digestbyname(sc->digest);
	if (md == NULL)
		return false;
	size_t md_len = (size_t)EVP_MD_size(md);
	unsigned char stored[STORED_MAX];
	int n = decode_digest(data, hex, stored, sizeof(stored), md_len);
	if (n < 0 || (size_t)n < md_len)
		return false;
	if (sc->kind == SCHEME_DIGEST && (size_t)n != md_len)
		return false;
	const unsigned char *salt = stored + md_len;
	size_t salt_len = (size_t)n - md_len;

	unsigned char got[EVP_MAX_MD_SIZE];
	unsigned int got_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
		  EVP_DigestUpdate(ctx, password, strlen(password)) == 1 &&
		  EVP_DigestUpdate(ctx, salt, salt_len) == 1 &&
		  EVP_DigestFinal_ex(ctx, got, &got_len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok && ct_equal(got, got_len, stored, md_len);
}

bool password_verify(const char *stored, const char *password)
{
	if (stored == NULL || password == NULL || password[0] == '\0')
		return false;
	if (strlen(password) > PASSWORD_MAX || strlen(stored) > STORED_MAX)
		return false;
	const struct scheme *sc = &schemes[2]; /* no prefix = CRYPT */
	const char *data = stored;
	bool hex = false;
	if (stored[0] == '{') {
		const char *end = strchr(stored, '}');
		if (end == NULL)
			return false;
		size_t nlen = (size_t)(end - stored - 1);
		/* Dovecot's encoding suffixes; decode_digest() detects hex by length */
		static const char *const enc[] = { ".HEX", ".B64", ".BASE64" };
		size_t match_len = nlen;
		for (size_t i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
			size_t elen = strlen(enc[i]);
			if (nlen > elen && om_mem_ieq(stored + 1 + nlen - elen, elen, enc[i])) {
				match_len = nlen - elen;
				hex = i == 0;
			}
		}
		sc = NULL;
		for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
			if (om_mem_ieq(stored + 1, match_len, schemes[i].name)) {
				sc = &schemes[i];
				break;
			}
		}
		if (sc == NULL) {
			log_warn("passdb: unsupported password scheme %.*s",
				 (int)(nlen > 32 ? 32 : nlen), stored + 1);
			return false;
		}
		data = end + 1;
	}
	switch (sc->kind) {
	case SCHEME_PLAIN:
		return data[0] != '\0' &&
		       ct_equal(data, strlen(data), password, strlen(password));
	case SCHEME_CRYPT:
		return verify_crypt(data, password);
	case SCHEME_DIGEST:
	case SCHEME_SALTED_DIGEST:
		return verify_digest(sc, hex, data, password);
	}
	return false;
}
