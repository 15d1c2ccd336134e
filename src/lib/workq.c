/* The worker pool: a FIFO of jobs under one mutex + condvar. Storage calls
 * block here, never on a loop thread. */
#include <pthread.h>
#include <stdlib.h>

#include "lib/buf.h"
#include "lib/conn-private.h"
#include "lib/log.h"

void workq_init(struct workq *wq, unsigned n_threads)
{
	pthread_mutex_init(&wq->mu, NULL);
	pthread_cond_init(&wq->cond, NULL);
	wq->head = wq->tail = NULL;
	wq->stop = false;
	wq->n_threads = n_threads > 0 ? n_threads : 1;
	wq->threads = om_calloc(wq->n_threads, sizeof(pthread_t));
	wq->started = false;
}

static void *workq_main(void *arg)
{
	struct workq *wq = arg;
	for (;;) {
		pthread_mutex_lock(&wq->mu);
		while (wq->head == NULL && !wq->stop)
			pthread_cond_wait(&wq->cond, &wq->mu);
		struct job *j = wq->head;
		if (j == NULL) { /* stopping and drained */
			pthread_mutex_unlock(&wq->mu);
			return NULL;
		}
		wq->head = j->next;
		if (wq->head == NULL)
			wq->tail = NULL;
		pthread_mutex_unlock(&wq->mu);

		j->fn(j->arg);
		if (j->c != NULL)
			conn_job_finished(j); /* hands j to the conn's loop */
		else
			free(j);
	}
}

void workq_start(struct workq *wq)
{
	if (wq->started)
		return;
	for (unsigned i = 0; i < wq->n_threads; i++) {
		if (pthread_create(&wq->threads[i], NULL, workq_main, wq) != 0)
			fatal("pthread_create (worker) failed");
	}
	wq->started = true;
}

void workq_push(struct workq *wq, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&wq->mu);
	if (wq->tail != NULL)
		wq->tail->next = j;
	else
		wq->head = j;
	wq->tail = j;
	pthread_cond_signal(&wq->cond);
	pthread_mutex_unlock(&wq->mu);
}

void workq_stop(struct workq *wq)
{
	if (!wq->started)
		return;
	pthread_mutex_lock(&wq->mu);
	wq->stop = true;
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->mu);
	for (unsigned i = 0; i < wq->n_threads; i++)
		pthread_join(wq->threads[i], NULL);
	wq->started = false;
}

void workq_destroy(struct workq *wq)
{
	/* Jobs never started (server_run never ran): drop them. Conn jobs can't
	 * be here, since conns only exist while the loops run. */
	struct job *j = wq->head;
	while (j != NULL) {
		struct job *next = j->next;
		free(j);
		j = next;
	}
	wq->head = wq->tail = NULL;
	free(wq->threads);
	wq->threads = NULL;
	pthread_mutex_destroy(&wq->mu);
	pthread_cond_destroy(&wq->cond);
}
