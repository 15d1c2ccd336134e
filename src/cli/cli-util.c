/* Helpers shared by the objmail command files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"

int cli_load_config(struct cli_ctx *ctx)
{
	if (ctx->cfg_loaded)
		return CLI_OK;
	struct buf err = BUF_INIT;
	if (config_load(&ctx->cfg, ctx->config_path, &err) < 0) {
		fprintf(stderr, "%s\n", buf_cstr(&err));
		buf_free(&err);
		config_free(&ctx->cfg);
		return CLI_FAIL;
	}
	buf_free(&err);
	ctx->cfg_loaded = true;
	if (strcmp(ctx->cfg.log_level, "debug") == 0)
		log_set_level(LOG_LEVEL_DEBUG);
	return CLI_OK;
}

int cli_open_passdb(struct cli_ctx *ctx, struct passdb **db_r)
{
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	if (ctx->cfg.passdb[0] == '\0') {
		fprintf(stderr, "%s: no passdb configured\n", ctx->config_path);
		return CLI_FAIL;
	}
	char *error = NULL;
	if (passdb_open(ctx->cfg.passdb, db_r, &error) < 0) {
		fprintf(stderr, "objmail: %s\n", error != NULL ? error : "cannot open passdb");
		free(error);
		return CLI_FAIL;
	}
	return CLI_OK;
}

bool cli_take_flag(int *argc, char **argv, const char *flag)
{
	bool found = false;
	int out = 0;
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], flag) == 0) {
			found = true;
			continue;
		}
		argv[out++] = argv[i];
	}
	*argc = out;
	return found;
}

void cli_json_str(struct buf *out, const char *s)
{
	buf_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"': buf_append_str(out, "\\\""); break;
		case '\\': buf_append_str(out, "\\\\"); break;
		case '\n': buf_append_str(out, "\\n"); break;
		case '\r': buf_append_str(out, "\\r"); break;
		case '\t': buf_append_str(out, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				buf_printf(out, "\\u%04x", *p);
			else
				buf_append_c(out, (char)*p);
		}
	}
	buf_append_c(out, '"');
}

bool cli_write_stdout(const struct buf *b)
{
	if (b->len > 0 && fwrite(b->data, 1, b->len, stdout) != b->len)
		return false;
	return fflush(stdout) == 0;
}
