/* Progress of long commands (imports, exports) on stderr: a redrawn bar on
 * a terminal, else a plain "what: N/TOTAL" line every 5 seconds and at the
 * end, so logs of scripted runs stay readable. Thread-safe (imports copy
 * mailboxes in parallel).
 *
 * Inside objmaild (the live admin requests) the same import code reports to
 * a sink instead, which streams progress lines to the admin client; the
 * tool draws them with cli_progress_set. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli-mail.h"
#include "cli/import.h"

#define PROGRESS_LINE_INTERVAL 5
/* a sink hears at most one report a second (and the last one) */
#define PROGRESS_SINK_INTERVAL 1

struct cli_progress {
	pthread_mutex_t lock;
	char what[64];
	unsigned long long done, total;
	bool tty;
	time_t last;
	cli_progress_sink_fn *sink;
	void *sink_ctx;
	bool cancelled;
};

/* Set by the thread that starts an import (the admin job), picked up by
 * the cli_progress_new that import makes on the same thread; the import's
 * own threads then report through the struct. */
static __thread cli_progress_sink_fn *thread_sink;
static __thread void *thread_sink_ctx;

void cli_progress_sink_set(cli_progress_sink_fn *fn, void *ctx)
{
	thread_sink = fn;
	thread_sink_ctx = ctx;
}

struct cli_progress *cli_progress_new(const char *what, unsigned long long total)
{
	struct cli_progress *p = om_calloc(1, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->total = total;
	p->sink = thread_sink;
	p->sink_ctx = thread_sink_ctx;
	p->tty = p->sink == NULL && isatty(STDERR_FILENO) && getenv("OBJMAIL_NO_BAR") == NULL;
	/* a sink hears of the first message at once (the tool shows the bar) */
	p->last = p->sink != NULL ? 0 : time(NULL);
	return p;
}

static void draw(struct cli_progress *p, bool final)
{
	if (p->sink != NULL) {
		if (!p->cancelled && !p->sink(p->sink_ctx, p->what, p->done, p->total, final))
			p->cancelled = true;
		return;
	}
	if (p->tty) {
		unsigned width = 30, fill = 0;
		if (p->total > 0)
			fill = (unsigned)(p->done >= p->total ? width : p->done * width / p->total);
		char bar[32];
		memset(bar, '#', fill);
		memset(bar + fill, '.', width - fill);
		bar[width] = '\0';
		fprintf(stderr, "\r%s [%s] %llu/%llu", p->what, bar, p->done, p->total);
		if (final)
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "%s: %llu/%llu%s\n", p->what, p->done, p->total,
			final ? " done" : "");
	}
	fflush(stderr);
}

/* under the lock: redraw if it is time */
static void maybe_draw(struct cli_progress *p)
{
	time_t now = time(NULL);
	int interval = p->sink != NULL ? PROGRESS_SINK_INTERVAL : PROGRESS_LINE_INTERVAL;
	if (p->tty || now - p->last >= interval) {
		p->last = now;
		draw(p, false);
	}
}

void cli_progress_total(struct cli_progress *p, unsigned long long total)
{
	pthread_mutex_lock(&p->lock);
	p->total = total;
	pthread_mutex_unlock(&p->lock);
}

void cli_progress_grow(struct cli_progress *p, unsigned long long more)
{
	pthread_mutex_lock(&p->lock);
	p->total += more;
	pthread_mutex_unlock(&p->lock);
}

void cli_progress_add(struct cli_progress *p, unsigned long long n)
{
	pthread_mutex_lock(&p->lock);
	p->done += n;
	if (p->done > p->total)
		p->total = p->done;
	maybe_draw(p);
	pthread_mutex_unlock(&p->lock);
}

void cli_progress_set(struct cli_progress *p, unsigned long long done, unsigned long long total)
{
	pthread_mutex_lock(&p->lock);
	p->done = done;
	p->total = total < done ? done : total;
	maybe_draw(p);
	pthread_mutex_unlock(&p->lock);
}

bool cli_progress_cancelled(struct cli_progress *p)
{
	pthread_mutex_lock(&p->lock);
	bool c = p->cancelled;
	pthread_mutex_unlock(&p->lock);
	return c;
}

void cli_progress_done(struct cli_progress *p)
{
	draw(p, true);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
