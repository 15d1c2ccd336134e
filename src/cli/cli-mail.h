/* Helpers of the objmail commands that work on a user's mail. */
#ifndef OM_CLI_MAIL_H
#define OM_CLI_MAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"

struct mail_user;

#define ADMIN_REQ_MAX 8

/* Offline: look USER up in the passdb and open their storage; prints why
 * not. CLI_OK / CLI_FAIL. */
int cli_mail_user_open(struct cli_ctx *ctx, const char *name, struct mail_user **user_r);
/* Flush (obox), close, shut the storage layer down. */
void cli_mail_user_close(struct mail_user *user);
/* Run the mail-ops.h operation argv for USER, live or offline; prints the
 * answer or the error. A CLI exit code. */
int cli_mail_op(struct cli_ctx *ctx, const char *user, size_t argc, char **argv, bool json);

/* Progress (cli-progress.c): a bar on a terminal (stderr), else a plain
 * line every few seconds and at the end. */
struct cli_progress;
struct cli_progress *cli_progress_new(const char *what, unsigned long long total);
void cli_progress_total(struct cli_progress *p, unsigned long long total);
void cli_progress_grow(struct cli_progress *p, unsigned long long more);
void cli_progress_add(struct cli_progress *p, unsigned long long n);
void cli_progress_done(struct cli_progress *p);

#endif
