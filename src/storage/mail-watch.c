/* Change watchers (IDLE). Callbacks run without the user lock; a separate
 * watch lock guards the list, and a per-watch running count lets unwatch
 * wait for a callback in flight. */
#include <stdlib.h>
#include <string.h>

#include "storage/mail-storage-private.h"

struct mail_watch {
	struct mail_user *user;
	char *mailbox;            /* NULL = any */
	void (*fn)(void *arg);
	void *arg;
	struct mail_watch *next;
	unsigned running;         /* callbacks in flight */
	bool removed;
	void *drv;                /* the driver's watch_start handle */
};

struct mail_watch *mail_user_watch(struct mail_user *user, const char *mailbox,
				   void (*fn)(void *arg), void *arg)
{
	struct mail_watch *w = om_calloc(1, sizeof(*w));
	w->user = user;
	if (mailbox != NULL) {
		struct buf name = BUF_INIT;
		if (mail_name_normalize(mailbox, &name) == 0)
			w->mailbox = buf_steal(&name);
		else
			w->mailbox = om_strdup(mailbox);
		buf_free(&name);
	}
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_lock(&user->watch_lock);
	w->next = user->watches;
	user->watches = w;
	pthread_mutex_unlock(&user->watch_lock);
	/* after the watch is listed: an outside change from now on is seen */
	if (user->ops->watch_start != NULL)
		w->drv = user->ops->watch_start(user, w->mailbox);
	return w;
}

void mail_user_unwatch(struct mail_watch *w)
{
	if (w == NULL)
		return;
	struct mail_user *user = w->user;
	/* first, and outside the watch lock (the driver's notifier takes its
	 * lock, then the watch lock) */
	if (user->ops->watch_stop != NULL)
		user->ops->watch_stop(user, w->drv);
	pthread_mutex_lock(&user->watch_lock);
	for (struct mail_watch **p = &user->watches; *p != NULL; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	w->removed = true;
	while (w->running > 0)
		pthread_cond_wait(&user->watch_cond, &user->watch_lock);
	pthread_mutex_unlock(&user->watch_lock);
	free(w->mailbox);
	free(w);
}

void mail_user_notify(struct mail_user *user, const char *mailbox)
{
	struct mail_watch **calls = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&user->watch_lock);
	for (struct mail_watch *w = user->watches; w != NULL; w = w->next) {
		if (mailbox != NULL && w->mailbox != NULL && strcmp(w->mailbox, mailbox) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			calls = om_reallocarray(calls, cap, sizeof(*calls));
		}
		w->running++;
		calls[n++] = w;
	}
	for (size_t i = 0; i < n; i++) {
		struct mail_watch *w = calls[i];
		if (!w->removed) {
			pthread_mutex_unlock(&user->watch_lock);
			w->fn(w->arg);
			pthread_mutex_lock(&user->watch_lock);
		}
		w->running--;
		if (w->running == 0)
			pthread_cond_broadcast(&user->watch_cond);
	}
	pthread_mutex_unlock(&user->watch_lock);
	free(calls);
}

void mail_user_watches_destroy(struct mail_user *user)
{
	/* Sessions unwatch before dropping their user ref; anything left is a
	 * caller bug, freed here so it can't be called on a dead user. */
	pthread_mutex_lock(&user->watch_lock);
	struct mail_watch *w = user->watches;
	user->watches = NULL;
	pthread_mutex_unlock(&user->watch_lock);
	while (w != NULL) {
		struct mail_watch *next = w->next;
		free(w->mailbox);
		free(w);
		w = next;
	}
}
