/* Progress of long commands (imports, exports) on stderr: a redrawn bar on
 * a terminal, else a plain "what: N/TOTAL" line every 5 seconds and at the
 * end, so logs of scripted runs stay readable. Thread-safe (imports copy
 * mailboxes in parallel). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli-mail.h"

#define PROGRESS_LINE_INTERVAL 5

struct cli_progress {
	pthread_mutex_t lock;
	char what[64];
	unsigned long long done, total;
	bool tty;
	time_t last;
};

struct cli_progress *cli_progress_new(const char *what, unsigned long long total)
{
	struct cli_progress *p = om_calloc(1, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->total = total;
	p->tty = isatty(STDERR_FILENO) && getenv("OBJMAIL_NO_BAR") == NULL;
	p->last = time(NULL);
	return p;
}

static void draw(struct cli_progress *p, bool final)
{
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
	time_t now = time(NULL);
	if (p->tty || now - p->last >= PROGRESS_LINE_INTERVAL) {
		p->last = now;
		draw(p, false);
	}
	pthread_mutex_unlock(&p->lock);
}

void cli_progress_done(struct cli_progress *p)
{
	draw(p, true);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
