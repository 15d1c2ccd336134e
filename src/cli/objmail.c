/* objmail -c FILE COMMAND ... : the admin tool, in the spirit of doveadm.
 * Commands are rows of cli_commands[]; multi-word names ("user auth") are
 * matched word by word, the longest match wins. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/log.h"

/* cmd-director.c */
int cmd_director(struct cli_ctx *ctx, int argc, char **argv);
/* cmd-user.c, cmd-mailbox.c, cmd-mail.c, cmd-save.c, cmd-import.c, cmd-export.c */
int cmd_user_list(struct cli_ctx *ctx, int argc, char **argv);
int cmd_mailbox(struct cli_ctx *ctx, int argc, char **argv);
int cmd_search(struct cli_ctx *ctx, int argc, char **argv);
int cmd_fetch(struct cli_ctx *ctx, int argc, char **argv);
int cmd_expunge(struct cli_ctx *ctx, int argc, char **argv);
int cmd_flags(struct cli_ctx *ctx, int argc, char **argv);
int cmd_save(struct cli_ctx *ctx, int argc, char **argv);
int cmd_import_maildir(struct cli_ctx *ctx, int argc, char **argv);
int cmd_import_mbox(struct cli_ctx *ctx, int argc, char **argv);
int cmd_import_imap(struct cli_ctx *ctx, int argc, char **argv);
int cmd_export_maildir(struct cli_ctx *ctx, int argc, char **argv);
int cmd_export_mbox(struct cli_ctx *ctx, int argc, char **argv);
/* cmd-check.c */
int cmd_check(struct cli_ctx *ctx, int argc, char **argv);
/* cmd-quota.c */
int cmd_quota_get(struct cli_ctx *ctx, int argc, char **argv);
int cmd_quota_recalc(struct cli_ctx *ctx, int argc, char **argv);

static const struct cli_cmd cli_commands[] = {
	{ "config", "", "print the effective configuration, defaults included", cmd_config },
	{ "user auth", "USER", "check USER's password (read from stdin)", cmd_user_auth },
	{ "user info", "USER [--json]", "show USER's passdb entry, home, quota and mail path",
	  cmd_user_info },
	{ "user list", "[PATTERN] [--json]", "users of the passdb (PATTERN: shell wildcards)",
	  cmd_user_list },
	{ "mailbox", "list|status|create|delete|rename|subscribe|unsubscribe USER [NAME [NEW]] [--json]",
	  "USER's mailboxes (status: of NAME or of all)", cmd_mailbox },
	{ "search", "USER QUERY [--json]", "mailbox and UID of USER's messages matching QUERY "
	  "(IMAP SEARCH keys; MAILBOX NAME picks mailboxes)", cmd_search },
	{ "fetch", "USER FIELDS QUERY [--json]", "FIELDS (\"uid flags internaldate size hdr.subject "
	  "text\"...) of the matching messages", cmd_fetch },
	{ "expunge", "USER QUERY [--json]", "remove the matching messages", cmd_expunge },
	{ "flags", "add|remove|replace USER FLAGS QUERY [--json]",
	  "change flags/keywords of the matching messages", cmd_flags },
	{ "save", "USER MAILBOX [--json] < FILE", "store a message (as APPEND)", cmd_save },
	{ "import maildir", "PATH USER [--json]", "a Dovecot Maildir, UIDs, flags, keywords, "
	  "dates and subscriptions kept", cmd_import_maildir },
	{ "import mbox", "FILE USER MAILBOX [--json]", "an mbox file into MAILBOX",
	  cmd_import_mbox },
	{ "import imap", "URL USER [-j N] [--json]", "every mailbox of imap[s]://user:pass@host:port "
	  "(resumable)", cmd_import_imap },
	{ "export maildir", "USER PATH [--json]", "USER's mail as a Dovecot Maildir",
	  cmd_export_maildir },
	{ "export mbox", "USER MAILBOX FILE [--json]", "MAILBOX as an mbox file",
	  cmd_export_mbox },
	{ "pw", "[-s SCHEME]", "hash a password from stdin for the passwd-file (default SHA512-CRYPT)",
	  cmd_pw },
	{ "flush", "[USER]", "live: upload the dirty index bundles of USER (or of all open users)",
	  cmd_flush },
	{ "cache stats", "[--json]", "live: object store and fscache counters", cmd_cache_stats },
	{ "lease", "USER", "live: who holds USER's lease", cmd_lease },
	{ "force-resync", "USER [--json]",
	  "rebuild USER's index from the store (live: USER's sessions are closed first)",
	  cmd_force_resync },
	{ "fts rescan", "USER [--json]",
	  "rebuild USER's full-text index and sort cache (live: sessions keep searching)",
	  cmd_fts_rescan },
	{ "quota get", "USER [--json]", "USER's storage and message quota: used and limits",
	  cmd_quota_get },
	{ "quota recalc", "USER [--json]", "recount USER's usage from the mailboxes, then as get",
	  cmd_quota_recalc },
	{ "check", "USER [--json]", "USER's index against the store (objects/files, UIDs, "
	  "GUIDs), read-only; exit 1 on any inconsistency", cmd_check },
	{ "who", "[--json]", "live: logged-in IMAP sessions", cmd_who },
	{ "kick", "USER", "live: disconnect USER's IMAP sessions", cmd_kick },
	{ "stats", "", "live: the daemon's metrics (Prometheus text)", cmd_stats },
	{ "reload", "", "live: reopen the log and reload users (as SIGHUP)", cmd_reload },
	{ "director", "VERB [--json]",
	  "status | map USER | add HOST[:IMAP/LMTP] | remove HOST | drain HOST | undrain HOST | "
	  "weight HOST N: the director's backends (cluster/backends)",
	  cmd_director },
	{ "help", "[COMMAND]", "show this help", NULL },
};
#define CLI_NCOMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

static void print_commands(FILE *f, const char *prefix)
{
	fprintf(f, "usage: objmail [-c FILE] COMMAND [ARGS]\n"
		   "  -c FILE  config file (default %s)\n\ncommands:\n",
		OBJMAIL_DEFAULT_CONFIG);
	for (size_t i = 0; i < CLI_NCOMMANDS; i++) {
		const struct cli_cmd *c = &cli_commands[i];
		if (prefix != NULL && strncmp(c->name, prefix, strlen(prefix)) != 0)
			continue;
		char left[96];
		snprintf(left, sizeof(left), "%s%s%s", c->name, c->args[0] ? " " : "", c->args);
		fprintf(f, "  %-28s %s\n", left, c->help);
	}
}

int cli_usage(const struct cli_ctx *ctx)
{
	const struct cli_cmd *c = ctx->cmd;
	if (c == NULL) {
		print_commands(stderr, NULL);
		return CLI_USAGE;
	}
	fprintf(stderr, "usage: objmail [-c FILE] %s%s%s\n", c->name,
		c->args[0] ? " " : "", c->args);
	return CLI_USAGE;
}

/* Number of argv words matching cmd's name, 0 if it does not match. */
static int cmd_match(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *p = cmd->name;
	int words = 0;
	while (*p != '\0') {
		size_t len = strcspn(p, " ");
		if (words >= argc || strlen(argv[words]) != len ||
		    strncmp(argv[words], p, len) != 0)
			return 0;
		words++;
		p += len;
		if (*p == ' ')
			p++;
	}
	return words;
}

static const struct cli_cmd *cmd_find(int argc, char **argv, int *words_r)
{
	const struct cli_cmd *best = NULL;
	int best_words = 0;
	for (size_t i = 0; i < CLI_NCOMMANDS; i++) {
		int w = cmd_match(&cli_commands[i], argc, argv);
		if (w > best_words) {
			best = &cli_commands[i];
			best_words = w;
		}
	}
	*words_r = best_words;
	return best;
}

static bool is_command_group(const char *word)
{
	size_t len = strlen(word);
	for (size_t i = 0; i < CLI_NCOMMANDS; i++) {
		if (strncmp(cli_commands[i].name, word, len) == 0 &&
		    cli_commands[i].name[len] == ' ')
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx = { .config_path = OBJMAIL_DEFAULT_CONFIG };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	/* '+': options end at the command, the rest belongs to it */
	while ((opt = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			ctx.config_path = optarg;
			break;
		case 'h':
			print_commands(stdout, NULL);
			return CLI_OK;
		default:
			return cli_usage(&ctx);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return cli_usage(&ctx);

	int words = 0;
	const struct cli_cmd *cmd = cmd_find(argc, argv, &words);
	if (cmd == NULL) {
		if (is_command_group(argv[0])) {
			fprintf(stderr, "objmail: %s needs a subcommand\n", argv[0]);
			print_commands(stderr, argv[0]);
		} else {
			fprintf(stderr, "objmail: unknown command '%s'\n", argv[0]);
			print_commands(stderr, NULL);
		}
		return CLI_USAGE;
	}
	if (cmd->run == NULL) { /* help */
		print_commands(stdout, argc > 1 ? argv[1] : NULL);
		return CLI_OK;
	}
	ctx.cmd = cmd;
	int ret = cmd->run(&ctx, argc - words, argv + words);
	if (ctx.cfg_loaded)
		config_free(&ctx.cfg);
	return ret;
}
