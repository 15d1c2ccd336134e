/* LMTP fill: delivers --msgs messages to each of --users users over
 * --conns connections. With at least as many users as connections,
 * connection t serves users t, t+conns, ... in order, so each mailbox gets
 * the same messages in the same order on every run. */
#include "imapload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct filler {
	const struct opts *o;
	int idx;
	uint64_t ok, failed;
	char err[256];
};

/* Reads an SMTP reply (all its lines); returns the code, -1 on I/O. */
static int reply(struct conn *c)
{
	for (;;) {
		if (net_read_line(c) < 0)
			return -1;
		if (c->line_len < 4 || c->line[3] != '-')
			return atoi(c->line);
	}
}

static void fail(struct filler *f, const char *what, struct conn *c)
{
	f->failed++;
	if (f->err[0] == '\0')
		snprintf(f->err, sizeof(f->err), "%s: %.200s", what, c->line);
}

static void *filler_main(void *arg)
{
	struct filler *f = arg;
	const struct opts *o = f->o;
	struct conn c;
	if (net_connect(&c, o->host, o->port) < 0 || reply(&c) != 220 ||
	    net_printf(&c, "LHLO bench.example.org\r\n") < 0 || reply(&c) != 250) {
		snprintf(f->err, sizeof(f->err), "LMTP connect/LHLO failed");
		f->failed++;
		net_close(&c);
		return NULL;
	}
	/* enough users: each connection owns whole mailboxes (same order every
	 * run); fewer users than connections: the messages are dealt out */
	int by_user = o->users - o->first_user >= o->conns;
	int u0 = by_user ? o->first_user + f->idx : o->first_user;
	for (int u = u0; u < o->users; u += by_user ? o->conns : 1) {
		char user[64];
		user_name(o, u, user, sizeof(user));
		for (int k = by_user ? 0 : f->idx; k < o->msgs; k += by_user ? 1 : o->conns) {
			char *msg;
			size_t len = msg_make(((uint64_t)u << 20) | (uint64_t)k, &msg);
			int r;
			if (net_printf(&c, "MAIL FROM:<sender@example.org>\r\n") < 0 || (r = reply(&c)) < 0)
				goto io;
			if (r != 250) { fail(f, "MAIL", &c); free(msg); continue; }
			if (net_printf(&c, "RCPT TO:<%s@example.com>\r\n", user) < 0 || (r = reply(&c)) < 0)
				goto io;
			if (r != 250) {
				fail(f, "RCPT", &c);
				free(msg);
				msg = NULL;
				if (net_printf(&c, "RSET\r\n") < 0 || reply(&c) < 0)
					goto io;
				continue;
			}
			if (net_printf(&c, "DATA\r\n") < 0 || (r = reply(&c)) < 0)
				goto io;
			if (r != 354) { fail(f, "DATA", &c); free(msg); continue; }
			if (net_write(&c, msg, len) < 0 || net_write(&c, ".\r\n", 3) < 0 ||
			    (r = reply(&c)) < 0)
				goto io;
			free(msg);
			if (r == 250)
				f->ok++;
			else
				fail(f, "end of DATA", &c);
			continue;
io:
			free(msg);
			snprintf(f->err, sizeof(f->err), "LMTP connection lost");
			f->failed++;
			net_close(&c);
			return NULL;
		}
	}
	net_printf(&c, "QUIT\r\n");
	reply(&c);
	net_close(&c);
	return NULL;
}

int mode_fill(const struct opts *o)
{
	struct filler *fs = calloc((size_t)o->conns, sizeof(*fs));
	pthread_t *th = calloc((size_t)o->conns, sizeof(*th));
	if (fs == NULL || th == NULL)
		abort();
	double t0 = now_s();
	for (int i = 0; i < o->conns; i++) {
		fs[i].o = o;
		fs[i].idx = i;
		if (pthread_create(&th[i], NULL, filler_main, &fs[i]) != 0)
			abort();
	}
	uint64_t ok = 0, failed = 0;
	const char *err = "";
	for (int i = 0; i < o->conns; i++) {
		pthread_join(th[i], NULL);
		ok += fs[i].ok;
		failed += fs[i].failed;
		if (err[0] == '\0' && fs[i].err[0] != '\0')
			err = fs[i].err;
	}
	double el = now_s() - t0;
	char safe[256];
	size_t j = 0;
	for (size_t i = 0; err[i] != '\0' && j + 1 < sizeof(safe); i++)
		if (err[i] != '"' && err[i] != '\\' && (unsigned char)err[i] >= 0x20)
			safe[j++] = err[i];
	safe[j] = '\0';
	printf("{\"delivered\": %llu, \"failed\": %llu, \"elapsed\": %.3f, "
	       "\"msgs_per_s\": %.1f, \"first_error\": \"%s\"}\n",
	       (unsigned long long)ok, (unsigned long long)failed, el,
	       el > 0 ? (double)ok / el : 0.0, safe);
	free(fs);
	free(th);
	return failed == 0 ? 0 : 1;
}
