/* imapload MODE [options]: see bench/README.md. */
#include "imapload.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

void user_name(const struct opts *o, int i, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%03d", o->user_fmt, i);
}

static int login_select(const struct opts *o, struct conn *c, const char *user)
{
	if (net_connect(c, o->host, o->port) < 0 || net_read_line(c) < 0 ||
	    strncmp(c->line, "* OK", 4) != 0)
		return -1;
	if (imap_cmd(c, "LOGIN %s %s", user, o->pass) != 0)
		return -1;
	return imap_cmd(c, "SELECT INBOX") == 0 ? 0 : -1;
}

/* count: messages in INBOX of --user (EXISTS after SELECT). */
int mode_count(const struct opts *o)
{
	struct conn c;
	int ret = login_select(o, &c, o->user);
	if (ret == 0)
		printf("%ld\n", c.exists);
	else
		fprintf(stderr, "imapload: count: %s\n", c.line ? c.line : "connect failed");
	if (ret == 0)
		imap_cmd(&c, "LOGOUT");
	net_close(&c);
	return ret == 0 ? 0 : 1;
}

/* fetch: FETCH 1:* BODY.PEEK[] of --user's INBOX, one command, timed. */
int mode_fetch(const struct opts *o)
{
	struct conn c;
	if (login_select(o, &c, o->user) != 0) {
		fprintf(stderr, "imapload: fetch: %s\n", c.line ? c.line : "connect failed");
		net_close(&c);
		return 1;
	}
	double t0 = now_s();
	int r = imap_cmd(&c, "FETCH 1:* (BODY.PEEK[])");
	double el = now_s() - t0;
	printf("{\"ok\": %s, \"messages\": %ld, \"bodies\": %d, \"bytes\": %llu, "
	       "\"elapsed\": %.4f, \"msgs_per_s\": %.1f}\n",
	       r == 0 ? "true" : "false", c.exists, c.n_literals,
	       (unsigned long long)c.literal_bytes, el,
	       el > 0 ? (double)c.n_literals / el : 0.0);
	imap_cmd(&c, "LOGOUT");
	net_close(&c);
	return r == 0 ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: imapload mixed|idle|fill|fetch|count [options]\n"
		"  --host 127.0.0.1 --port P --users 100 --user-prefix user --pass pass\n"
		"  mixed: --clients N --duration S --seed N --msgs M (mailbox base size)\n"
		"  idle:  --conns N --parallel 200 --src-addrs 8\n"
		"  fill:  --msgs M (per user) --conns 20 --first-user 0   (--port = LMTP)\n"
		"  fetch/count: --user NAME\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	const char *mode = argv[1];
	struct opts o = {
		.host = "127.0.0.1", .users = 100, .user_fmt = "user",
		.pass = "pass", .clients = 10, .duration = 10, .seed = 1,
		.msgs = 0, .conns = 20, .parallel = 200, .src_addrs = 8,
		.idle_hold_ms = 10, .user = "user000",
	};
	static const struct option lo[] = {
		{ "host", 1, 0, 'h' }, { "port", 1, 0, 'p' }, { "users", 1, 0, 'u' },
		{ "user-prefix", 1, 0, 'f' }, { "pass", 1, 0, 'P' }, { "clients", 1, 0, 'c' },
		{ "duration", 1, 0, 'd' }, { "seed", 1, 0, 's' }, { "msgs", 1, 0, 'm' },
		{ "conns", 1, 0, 'n' }, { "parallel", 1, 0, 'j' }, { "src-addrs", 1, 0, 'a' },
		{ "idle-hold-ms", 1, 0, 'i' }, { "first-user", 1, 0, 'F' }, { "user", 1, 0, 'U' },
		{ 0, 0, 0, 0 },
	};
	int ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': o.host = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'u': o.users = atoi(optarg); break;
		case 'f': o.user_fmt = optarg; break;
		case 'P': o.pass = optarg; break;
		case 'c': o.clients = atoi(optarg); break;
		case 'd': o.duration = atof(optarg); break;
		case 's': o.seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': o.msgs = atoi(optarg); break;
		case 'n': o.conns = atoi(optarg); break;
		case 'j': o.parallel = atoi(optarg); break;
		case 'a': o.src_addrs = atoi(optarg); break;
		case 'i': o.idle_hold_ms = atoi(optarg); break;
		case 'F': o.first_user = atoi(optarg); break;
		case 'U': o.user = optarg; break;
		default: usage(); return 2;
		}
	}
	if (o.port <= 0 || o.users <= 0 || o.clients <= 0 || o.conns <= 0 ||
	    o.parallel <= 0 || o.src_addrs <= 0 || o.src_addrs > 250) {
		usage();
		return 2;
	}
	if (strcmp(mode, "mixed") == 0)
		return mode_mixed(&o);
	if (strcmp(mode, "idle") == 0)
		return mode_idle(&o);
	if (strcmp(mode, "fill") == 0)
		return mode_fill(&o);
	if (strcmp(mode, "fetch") == 0)
		return mode_fetch(&o);
	if (strcmp(mode, "count") == 0)
		return mode_count(&o);
	usage();
	return 2;
}
