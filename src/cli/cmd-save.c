/* objmail save USER MAILBOX < file: store one message as an APPEND would.
 * Offline on the storage (maildir: safe beside a running daemon, whose
 * sessions see the message at their next sync; obox: needs the user not
 * served by a daemon, whose lease the open would wait for). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli-mail.h"
#include "lib/om-error.h"
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
	struct mail_user *mu;
	r = cli_mail_user_open(ctx, argv[0], &mu);
	if (r != CLI_OK) {
		buf_free(&data);
		return r;
	}
	struct mail_save save = { .data = data.data, .len = data.len };
	uint32_t uv = 0, uid = 0;
	int ret = mailbox_append(mu, argv[1], &save, &uv, &uid);
	if (ret < 0) {
		fprintf(stderr, "objmail: user %s, mailbox %s: save failed: %s\n", argv[0], argv[1],
			om_strerror(ret));
		r = CLI_FAIL;
	} else if (json) {
		printf("{\"mailbox\":");
		struct buf o = BUF_INIT;
		cli_json_str(&o, argv[1]);
		printf("%s,\"uidvalidity\":%u,\"uid\":%u}\n", buf_cstr(&o), uv, uid);
		buf_free(&o);
	} else {
		printf("%s uidvalidity=%u uid=%u\n", argv[1], uv, uid);
	}
	cli_mail_user_close(mu);
	buf_free(&data);
	return r;
}
