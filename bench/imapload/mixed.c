/* The IMAP mixed load: each client thread owns a disjoint set of users (a
 * user is never in two sessions at once, as with one mail client per
 * user) and runs sessions of LOGIN, SELECT, a random mix of operations,
 * LOGOUT until the time is up. Every tagged answer must be OK. */
#include "imapload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct client {
	const struct opts *o;
	int idx;
	double end;
	struct stats st;
	uint64_t appends;
};

/* weights of the operations inside a session (sum 100) */
static const struct { enum op op; int w; } mix[] = {
	{ OP_FETCH_FLAGS, 12 }, { OP_FETCH_ENV, 15 }, { OP_FETCH_BODY, 25 },
	{ OP_STORE, 15 }, { OP_SEARCH, 10 }, { OP_APPEND, 10 },
	{ OP_EXPUNGE, 10 }, { OP_IDLE, 3 },
};

static enum op pick(struct rng *r)
{
	int x = (int)(rng_next(r) % 100);
	for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
		if (x < mix[i].w)
			return mix[i].op;
		x -= mix[i].w;
	}
	return OP_FETCH_FLAGS;
}

/* Runs one command, timing it; 0 ok, 1 server said NO/BAD, -1 I/O. */
static int timed(struct client *cl, struct conn *c, enum op op, const char *cmd)
{
	double t0 = now_s();
	int r = imap_cmd(c, "%s", cmd);
	if (r < 0)
		return -1;
	stats_add(&cl->st, op, now_s() - t0, r == 0);
	if (r != 0) {
		char what[300];
		snprintf(what, sizeof(what), "%s: %s", cmd, c->line);
		stats_error(&cl->st, op, what);
	}
	return r;
}

static int do_append(struct client *cl, struct conn *c)
{
	char *msg;
	uint64_t id = ((uint64_t)(cl->o->seed + 1) << 40) | ((uint64_t)cl->idx << 28) | cl->appends++;
	size_t len = msg_make(id, &msg);
	double t0 = now_s();
	int r = -1;
	if (net_printf(c, "a%u APPEND INBOX (\\Seen) {%zu}\r\n", ++c->tag, len) < 0)
		goto out;
	/* continuation, or a tagged refusal */
	for (;;) {
		if (net_read_response(c) < 0)
			goto out;
		if (c->line[0] == '+')
			break;
		if (c->line[0] != '*') {
			r = 1;
			goto done;
		}
		imap_track_untagged(c);
	}
	if (net_write(c, msg, len) < 0 || net_write(c, "\r\n", 2) < 0)
		goto out;
	r = imap_wait_tagged(c);
done:
	if (r >= 0) {
		stats_add(&cl->st, OP_APPEND, now_s() - t0, r == 0);
		if (r != 0)
			stats_error(&cl->st, OP_APPEND, c->line);
	}
out:
	free(msg);
	return r;
}

static int do_idle(struct client *cl, struct conn *c)
{
	double t0 = now_s();
	if (net_printf(c, "a%u IDLE\r\n", ++c->tag) < 0)
		return -1;
	for (;;) {
		if (net_read_response(c) < 0)
			return -1;
		if (c->line[0] == '+')
			break;
		if (c->line[0] != '*') {
			stats_add(&cl->st, OP_IDLE, now_s() - t0, 0);
			stats_error(&cl->st, OP_IDLE, c->line);
			return 1;
		}
		imap_track_untagged(c);
	}
	double held = now_s();
	usleep((useconds_t)cl->o->idle_hold_ms * 1000);
	double t1 = now_s();
	if (net_write(c, "DONE\r\n", 6) < 0)
		return -1;
	int r = imap_wait_tagged(c);
	if (r < 0)
		return -1;
	/* the hold is the client's choice, not the server's latency */
	stats_add(&cl->st, OP_IDLE, (held - t0) + (now_s() - t1), r == 0);
	if (r != 0)
		stats_error(&cl->st, OP_IDLE, c->line);
	return r;
}

static int one_op(struct client *cl, struct conn *c, struct rng *r, enum op op)
{
	char cmd[256];
	long n = c->exists;
	long base = cl->o->msgs;
	if (n <= 0 && op != OP_IDLE)
		op = OP_APPEND;
	if (op == OP_EXPUNGE && n <= base)
		op = OP_APPEND;
	long m = n > 0 ? 1 + (long)(rng_next(r) % (uint32_t)n) : 1;
	switch (op) {
	case OP_FETCH_FLAGS:
		return timed(cl, c, op, "FETCH 1:* (UID FLAGS)");
	case OP_FETCH_ENV: {
		long lo = m > 20 ? m - 19 : 1;
		snprintf(cmd, sizeof(cmd), "FETCH %ld:%ld (UID RFC822.SIZE FLAGS INTERNALDATE ENVELOPE)", lo, m);
		return timed(cl, c, op, cmd);
	}
	case OP_FETCH_BODY: {
		snprintf(cmd, sizeof(cmd), "FETCH %ld (UID BODY.PEEK[])", m);
		int ret = timed(cl, c, op, cmd);
		if (ret == 0 && c->literal_bytes == 0) {
			/* an OK without the body is an error too */
			cl->st.errors[op]++;
			stats_error(&cl->st, op, "FETCH BODY.PEEK[] returned no literal");
		}
		return ret;
	}
	case OP_STORE: {
		static const char *const how[] = {
			"+FLAGS (\\Seen)", "-FLAGS (\\Seen)", "+FLAGS (\\Flagged)",
			"-FLAGS (\\Flagged)", "+FLAGS (\\Answered)",
		};
		snprintf(cmd, sizeof(cmd), "STORE %ld %s", m, how[rng_next(r) % 5]);
		return timed(cl, c, op, cmd);
	}
	case OP_SEARCH: {
		static const char *const q[] = {
			"SEARCH UNSEEN", "SEARCH FLAGGED", "SEARCH FROM \"sender7\"",
			"SEARCH SINCE 1-Jan-2020 UNANSWERED",
		};
		return timed(cl, c, op, q[rng_next(r) % 4]);
	}
	case OP_APPEND:
		return do_append(cl, c);
	case OP_EXPUNGE: {
		/* drop the newest message (one we appended): mailboxes stay the same size */
		snprintf(cmd, sizeof(cmd), "STORE %ld +FLAGS.SILENT (\\Deleted)", n);
		int ret = timed(cl, c, OP_STORE, cmd);
		if (ret != 0)
			return ret;
		return timed(cl, c, OP_EXPUNGE, "EXPUNGE");
	}
	case OP_IDLE:
		return do_idle(cl, c);
	default:
		return 0;
	}
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	const struct opts *o = cl->o;
	struct rng r;
	rng_seed(&r, o->seed * 1000003u + (unsigned)cl->idx);
	/* users idx, idx + clients, ...: disjoint sets */
	int nmine = 0;
	int mine[1024];
	for (int u = cl->idx; u < o->users && nmine < 1024; u += o->clients)
		mine[nmine++] = u;
	if (nmine == 0)
		mine[nmine++] = cl->idx % o->users;
	while (now_s() < cl->end) {
		struct conn c;
		char user[64], cmd[160];
		user_name(o, mine[rng_next(&r) % (unsigned)nmine], user, sizeof(user));
		if (net_connect(&c, o->host, o->port) < 0 || net_read_line(&c) < 0 ||
		    strncmp(c.line, "* OK", 4) != 0) {
			cl->st.io_errors++;
			stats_error(&cl->st, OP_LOGIN, "connect/greeting failed");
			net_close(&c);
			usleep(10000);
			continue;
		}
		cl->st.sessions++;
		snprintf(cmd, sizeof(cmd), "LOGIN %s %s", user, o->pass);
		int ret = timed(cl, &c, OP_LOGIN, cmd);
		if (ret == 0)
			ret = timed(cl, &c, OP_SELECT, "SELECT INBOX");
		if (ret == 0 && c.exists <= 0 && o->msgs > 0)
			stats_error(&cl->st, OP_SELECT, "SELECT INBOX: no EXISTS");
		int nops = 5 + (int)(rng_next(&r) % 20);
		for (int i = 0; ret >= 0 && i < nops && now_s() < cl->end; i++)
			ret = one_op(cl, &c, &r, pick(&r));
		if (ret >= 0)
			ret = timed(cl, &c, OP_LOGOUT, "LOGOUT");
		if (ret < 0) {
			cl->st.io_errors++;
			stats_error(&cl->st, OP_LOGOUT, "connection lost");
		}
		net_close(&c);
	}
	return NULL;
}

int mode_mixed(const struct opts *o)
{
	struct client *cls = calloc((size_t)o->clients, sizeof(*cls));
	pthread_t *th = calloc((size_t)o->clients, sizeof(*th));
	if (cls == NULL || th == NULL)
		abort();
	double t0 = now_s();
	for (int i = 0; i < o->clients; i++) {
		cls[i].o = o;
		cls[i].idx = i;
		cls[i].end = t0 + o->duration;
		if (pthread_create(&th[i], NULL, client_main, &cls[i]) != 0)
			abort();
	}
	struct stats all;
	memset(&all, 0, sizeof(all));
	for (int i = 0; i < o->clients; i++) {
		pthread_join(th[i], NULL);
		stats_merge(&all, &cls[i].st);
		stats_free(&cls[i].st);
	}
	double elapsed = now_s() - t0;
	stats_json(&all, elapsed, stdout);
	stats_free(&all);
	free(cls);
	free(th);
	return 0;
}
