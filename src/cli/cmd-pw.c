/* objmail pw [-s SCHEME]: hash a password for the passwd-file, like
 * `doveadm pw`. Needs no config. */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/buf.h"

struct pw_scheme {
	const char *name;
	const char *prefix; /* crypt_gensalt prefix; NULL = stored as is */
};

static const struct pw_scheme pw_schemes[] = {
	{ "SHA512-CRYPT", "$6$" },
	{ "SHA256-CRYPT", "$5$" },
	{ "BLF-CRYPT", "$2y$" },
	{ "MD5-CRYPT", "$1$" },
	{ "PLAIN", NULL },
};

int cmd_pw(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *scheme = "SHA512-CRYPT";
	if (argc == 2 && strcmp(argv[0], "-s") == 0)
		scheme = argv[1];
	else if (argc != 0)
		return cli_usage(ctx);
	const struct pw_scheme *sc = NULL;
	for (size_t i = 0; i < sizeof(pw_schemes) / sizeof(pw_schemes[0]); i++) {
		if (strcasecmp(pw_schemes[i].name, scheme) == 0)
			sc = &pw_schemes[i];
	}
	if (sc == NULL) {
		fprintf(stderr, "objmail: unknown scheme %s (SHA512-CRYPT, SHA256-CRYPT, "
				"BLF-CRYPT, MD5-CRYPT, PLAIN)\n", scheme);
		return CLI_USAGE;
	}
	char *password = cli_read_password();
	if (password == NULL || password[0] == '\0') {
		fprintf(stderr, "objmail: no password on stdin\n");
		free(password);
		return CLI_FAIL;
	}
	int ret = CLI_OK;
	struct buf out = BUF_INIT;
	if (sc->prefix == NULL) {
		buf_printf(&out, "{%s}%s\n", sc->name, password);
	} else {
		char salt[CRYPT_GENSALT_OUTPUT_SIZE];
		struct crypt_data *cd = om_calloc(1, sizeof(*cd));
		const char *h = NULL;
		if (crypt_gensalt_rn(sc->prefix, 0, NULL, 0, salt, sizeof(salt)) != NULL)
			h = crypt_rn(password, salt, cd, (int)sizeof(*cd));
		if (h == NULL || h[0] == '*') {
			fprintf(stderr, "objmail: crypt failed for %s\n", sc->name);
			ret = CLI_FAIL;
		} else {
			buf_printf(&out, "{%s}%s\n", sc->name, h);
		}
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
	}
	explicit_bzero(password, strlen(password));
	free(password);
	if (ret == CLI_OK && !cli_write_stdout(&out))
		ret = CLI_FAIL;
	buf_free(&out);
	return ret;
}
