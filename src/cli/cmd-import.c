/* objmail import maildir|mbox|imap and export maildir|mbox.
 *
 * Live when the daemon answers on its admin socket: the `import` / `export`
 * request runs the same code (import-*.c, export-*.c are compiled into
 * objmaild too) on the user as the daemon has it open, so IMAP sessions see
 * the new mail at once, and on obox the daemon's lease is no obstacle. The
 * daemon streams progress lines, drawn here as offline. Paths are made
 * absolute here, since the daemon's working directory is not ours; the
 * daemon (mail_uid) must be able to read or write them.
 *
 * Offline otherwise, on USER's storage (for obox the user's lease must be
 * free). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli-mail.h"
#include "cli/import.h"
#include "lib/om-error.h"

int cmd_import_maildir(struct cli_ctx *ctx, int argc, char **argv);
int cmd_import_mbox(struct cli_ctx *ctx, int argc, char **argv);
int cmd_import_imap(struct cli_ctx *ctx, int argc, char **argv);
int cmd_export_maildir(struct cli_ctx *ctx, int argc, char **argv);
int cmd_export_mbox(struct cli_ctx *ctx, int argc, char **argv);

enum job { JOB_IMPORT_MAILDIR, JOB_IMPORT_MBOX, JOB_IMPORT_IMAP, JOB_EXPORT_MAILDIR,
	   JOB_EXPORT_MBOX };

static const char *const job_names[] = { "import maildir", "import mbox", "import imap",
					 "export maildir", "export mbox" };

/* path as the daemon must see it (its cwd is not ours) */
static bool absolute(const char *path, struct buf *out)
{
	if (path[0] == '/') {
		buf_append_str(out, path);
		return true;
	}
	char *cwd = getcwd(NULL, 0);
	if (cwd == NULL)
		return false;
	buf_printf(out, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path);
	free(cwd);
	return true;
}

static int run_live(struct cli_ctx *ctx, enum job job, const char *user, char **args, bool json,
		    unsigned threads)
{
	struct buf path = BUF_INIT, nthreads = BUF_INIT, out = BUF_INIT;
	const char *req[ADMIN_REQ_MAX];
	size_t n = 0;
	const char *file = job == JOB_IMPORT_IMAP ? NULL : job == JOB_EXPORT_MBOX ? args[1] : args[0];
	if (file != NULL && !absolute(file, &path)) {
		fprintf(stderr, "objmail: %s: user %s: %s: the current directory: %s\n",
			job_names[job], user, file, strerror(errno));
		return CLI_FAIL;
	}
	req[n++] = job <= JOB_IMPORT_IMAP ? "import" : "export";
	req[n++] = json ? "json" : "text";
	switch (job) {
	case JOB_IMPORT_MAILDIR: /* import maildir PATH USER */
		req[n++] = "maildir";
		req[n++] = path.data;
		req[n++] = user;
		break;
	case JOB_IMPORT_MBOX: /* import mbox FILE USER MAILBOX */
		req[n++] = "mbox";
		req[n++] = path.data;
		req[n++] = user;
		req[n++] = args[1];
		break;
	case JOB_IMPORT_IMAP: /* import imap URL USER THREADS */
		buf_printf(&nthreads, "%u", threads);
		req[n++] = "imap";
		req[n++] = args[0];
		req[n++] = user;
		req[n++] = nthreads.data;
		break;
	case JOB_EXPORT_MAILDIR: /* export maildir USER PATH */
		req[n++] = "maildir";
		req[n++] = user;
		req[n++] = path.data;
		break;
	default: /* export mbox USER MAILBOX FILE */
		req[n++] = "mbox";
		req[n++] = user;
		req[n++] = args[0];
		req[n++] = path.data;
		break;
	}
	int r = cli_admin_call_progress(ctx, req, n, &out);
	if (r == CLI_OK && !cli_write_stdout(&out)) {
		fprintf(stderr, "objmail: writing to stdout failed\n");
		r = CLI_FAIL;
	}
	buf_free(&path);
	buf_free(&nthreads);
	buf_free(&out);
	return r;
}

static int run(struct cli_ctx *ctx, enum job job, const char *user, char **args, bool json,
	       unsigned threads)
{
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	if (cli_admin_reachable(ctx))
		return run_live(ctx, job, user, args, json, threads);
	struct mail_user *mu;
	r = cli_mail_user_open(ctx, user, &mu);
	if (r != CLI_OK)
		return r;
	struct import_stats st = { 0 };
	struct buf err = BUF_INIT, out = BUF_INIT;
	int ret;
	switch (job) {
	case JOB_IMPORT_MAILDIR:
		ret = import_maildir(mu, args[0], &st, &err);
		break;
	case JOB_IMPORT_MBOX:
		ret = import_mbox(mu, args[0], args[1], &st, &err);
		break;
	case JOB_IMPORT_IMAP:
		ret = import_imap(mu, args[0], threads, &st, &err);
		break;
	case JOB_EXPORT_MAILDIR:
		ret = export_maildir(mu, args[0], &st, &err);
		break;
	default:
		ret = export_mbox(mu, args[0], args[1], &st, &err);
		break;
	}
	cli_mail_user_close(mu);
	if (ret < 0) {
		fprintf(stderr, "objmail: %s: %s\n", job_names[job],
			err.len > 0 ? buf_cstr(&err) : om_strerror(ret));
		r = CLI_FAIL;
	} else {
		import_summary(job_names[job], user, &st, json, &out);
		if (!cli_write_stdout(&out)) {
			fprintf(stderr, "objmail: writing to stdout failed\n");
			r = CLI_FAIL;
		}
	}
	buf_free(&err);
	buf_free(&out);
	return r;
}

static bool user_ok(const char *u)
{
	for (const char *p = u; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return false;
	return u[0] != '\0' && u[0] != '-';
}

int cmd_import_maildir(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 2 || !user_ok(argv[1]))
		return cli_usage(ctx);
	return run(ctx, JOB_IMPORT_MAILDIR, argv[1], argv, json, 0);
}

int cmd_import_mbox(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 3 || !user_ok(argv[1]))
		return cli_usage(ctx);
	char *args[] = { argv[0], argv[2] };
	return run(ctx, JOB_IMPORT_MBOX, argv[1], args, json, 0);
}

int cmd_import_imap(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	unsigned threads = 4;
	for (int i = 0; i + 1 < argc; i++) {
		if (strcmp(argv[i], "-j") == 0) {
			threads = (unsigned)atoi(argv[i + 1]);
			if (threads < 1 || threads > 32)
				return cli_usage(ctx);
			memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 2) * sizeof(*argv));
			argc -= 2;
			break;
		}
	}
	if (argc != 2 || !user_ok(argv[1]))
		return cli_usage(ctx);
	return run(ctx, JOB_IMPORT_IMAP, argv[1], argv, json, threads);
}

int cmd_export_maildir(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 2 || !user_ok(argv[0]))
		return cli_usage(ctx);
	return run(ctx, JOB_EXPORT_MAILDIR, argv[0], argv + 1, json, 0);
}

int cmd_export_mbox(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 3 || !user_ok(argv[0]))
		return cli_usage(ctx);
	return run(ctx, JOB_EXPORT_MBOX, argv[0], argv + 1, json, 0);
}
