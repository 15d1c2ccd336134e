/* objmail save USER MAILBOX < file: store one message as an APPEND would.
 * Live when the daemon answers on its admin socket (the message is uploaded
 * as hex "mail-data" requests, then stored by the daemon), else offline on
 * the storage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli-mail.h"
#include "lib/om-error.h"
#include "cli/mail-ops.h"
#include "storage/mail-storage.h"

#define SAVE_MAX (256u << 20)

int cmd_save(struct cli_ctx *ctx, int argc, char **argv);

int cmd_save(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = cli_take_flag(&argc, argv, "--json");
	if (argc != 2)
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	struct buf data = BUF_INIT;
	char chunk[65536];
	ssize_t n;
	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0) {
		if (data.len + (size_t)n > SAVE_MAX) {
			fprintf(stderr, "objmail: save %s %s: message too big (over %u bytes)\n",
				argv[0], argv[1], SAVE_MAX);
			buf_free(&data);
			return CLI_FAIL;
		}
		buf_append(&data, chunk, (size_t)n);
	}
	if (data.len == 0) {
		fprintf(stderr, "objmail: save %s %s: no message on stdin\n", argv[0], argv[1]);
		buf_free(&data);
		return CLI_FAIL;
	}
	if (cli_admin_reachable(ctx)) {
		/* live: the daemon stores it, its sessions learn of it at once */
		const char *req[] = { "mail", json ? "json" : "text", argv[0], "save", argv[1] };
		struct buf out = BUF_INIT;
		r = cli_admin_call_upload(ctx, data.data, data.len, req, 5, &out);
		if (r == CLI_OK && !cli_write_stdout(&out))
			r = CLI_FAIL;
		buf_free(&out);
		buf_free(&data);
		return r;
	}
	struct mail_user *mu;
	r = cli_mail_user_open(ctx, argv[0], &mu);
	if (r != CLI_OK) {
		buf_free(&data);
		return r;
	}
	struct buf out = BUF_INIT, err = BUF_INIT;
	int ret = mail_op_save(mu, argv[1], data.data, data.len, json, &out, &err);
	cli_mail_user_close(mu);
	if (ret < 0) {
		fprintf(stderr, "objmail: %s\n", buf_cstr(&err));
		r = CLI_FAIL;
	} else if (!cli_write_stdout(&out)) {
		r = CLI_FAIL;
	}
	buf_free(&out);
	buf_free(&err);
	buf_free(&data);
	return r;
}
