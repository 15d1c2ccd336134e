/* The server's TLS context: TLS 1.2 and newer, the certificate chain and key
 * from PEM files, server cipher preference. */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/buf.h"
#include "lib/conn-private.h"

static char *tls_error(const char *what, const char *path)
{
	struct buf b = BUF_INIT;
	unsigned long e = ERR_get_error();
	char detail[256] = "";
	if (e != 0)
		ERR_error_string_n(e, detail, sizeof(detail));
	ERR_clear_error();
	buf_printf(&b, "%s %s: %s", what, path, detail[0] ? detail : "failed");
	return buf_steal(&b);
}

SSL_CTX *tls_server_ctx_new(const char *cert, const char *key, char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = tls_error("SSL_CTX_new", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				 SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS); /* idle TLS conns stay small */
	if (key == NULL || key[0] == '\0')
		key = cert; /* key and chain in one PEM file */
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*error_r = tls_error("ssl_cert", cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_error("ssl_key", key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_error("ssl_key does not match ssl_cert:", key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
