/* objmail admin tool: shared pieces of the command files. A command is one
 * row in the table in objmail.c plus one function in a cmd-*.c file. */
#ifndef OM_CLI_H
#define OM_CLI_H

#include <stdbool.h>

#include "auth/passdb.h"
#include "lib/buf.h"
#include "lib/config.h"

#define OBJMAIL_DEFAULT_CONFIG "/etc/objmail/objmail.conf"

/* exit codes: 0 ok, 1 the operation failed, 2 bad usage (like doveadm's
 * EX_USAGE, but the conventional 2 of getopt tools) */
enum cli_exit { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_cmd;

struct cli_ctx {
	const char *config_path;
	struct om_config cfg;
	bool cfg_loaded;
	const struct cli_cmd *cmd; /* the command being run */
};

struct cli_cmd {
	const char *name;  /* words as typed: "user auth" */
	const char *args;  /* usage after the name: "USER [--json]" */
	const char *help;  /* one line */
	/* argv[0] is the first argument after the command words */
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
};

/* Loads ctx->config_path once; on error prints "FILE:LINE: why" to stderr.
 * Returns CLI_OK or CLI_FAIL. */
int cli_load_config(struct cli_ctx *ctx);
/* Opens the configured passdb (config must be loaded). CLI_OK / CLI_FAIL. */
int cli_open_passdb(struct cli_ctx *ctx, struct passdb **db_r);
/* Prints "usage: objmail [-c FILE] <cmd> <args>" to stderr; returns CLI_USAGE. */
int cli_usage(const struct cli_ctx *ctx);

/* Options shared by many commands; removes them from argv. */
bool cli_take_flag(int *argc, char **argv, const char *flag);

/* One line from stdin without its line ending (echo off on a terminal);
 * NULL on EOF or an overlong line. Caller wipes and frees. */
char *cli_read_password(void);

/* JSON string literal with the quotes, escaped per RFC 8259. */
void cli_json_str(struct buf *out, const char *s);
/* Writes the whole buffer to stdout; false on a write error. */
bool cli_write_stdout(const struct buf *b);

/* The daemon's admin socket (cli-admin.c; listen_admin of the config).
 * cli_admin_call: send one request; the data lines go to data_r (each
 * with its LF). CLI_OK; CLI_FAIL after printing why (daemon not running,
 * or its ERR message). */
int cli_admin_call(struct cli_ctx *ctx, const char *const *argv, size_t argc,
		   struct buf *data_r);
/* The same, then the data lines to stdout. */
int cli_admin_print(struct cli_ctx *ctx, const char *const *argv, size_t argc);
/* cli_admin_call after uploading blob (hex "mail-data" requests on the
 * same connection): for `mail json|text USER save MAILBOX`. */
int cli_admin_call_upload(struct cli_ctx *ctx, const char *blob, size_t len,
			  const char *const *argv, size_t argc, struct buf *data_r);
/* Does something accept connections on listen_admin (a running daemon)? */
bool cli_admin_reachable(struct cli_ctx *ctx);

/* command functions (cmd-*.c) */
int cmd_config(struct cli_ctx *ctx, int argc, char **argv);
int cmd_user_auth(struct cli_ctx *ctx, int argc, char **argv);
int cmd_user_info(struct cli_ctx *ctx, int argc, char **argv);
int cmd_pw(struct cli_ctx *ctx, int argc, char **argv);
int cmd_flush(struct cli_ctx *ctx, int argc, char **argv);
int cmd_cache_stats(struct cli_ctx *ctx, int argc, char **argv);
int cmd_lease(struct cli_ctx *ctx, int argc, char **argv);
int cmd_force_resync(struct cli_ctx *ctx, int argc, char **argv);
int cmd_fts_rescan(struct cli_ctx *ctx, int argc, char **argv);
int cmd_who(struct cli_ctx *ctx, int argc, char **argv);
int cmd_kick(struct cli_ctx *ctx, int argc, char **argv);
int cmd_stats(struct cli_ctx *ctx, int argc, char **argv);
int cmd_reload(struct cli_ctx *ctx, int argc, char **argv);

#endif
