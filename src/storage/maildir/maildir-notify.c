/* Changes made to a watched Maildir by other processes (Dovecot's deliver,
 * procmail, another IMAP server on the same folders) reach IDLE sessions:
 * while a mailbox is watched, its new/ and cur/ are in one process-wide
 * inotify instance, read by one thread that calls the user's watchers.
 * The session's sync then scans the folder as it does for NOOP.
 *
 * Events are gathered for a moment before watchers are called, so a burst
 * (a flag change is a rename, a delivery a rename into new/) costs one
 * sync; objmail's own changes also show up here, which costs an extra,
 * cheap sync of an unchanged folder.
 *
 * Lock order: g_lock, then the user's watch lock (mail_user_notify). The
 * storage core calls watch_stop before it takes the watch lock, so a user
 * with an entry here is alive while the entry exists. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "lib/log.h"
#include "storage/maildir/maildir.h"

#define NOTIFY_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR)
/* how long a burst of events is gathered before watchers run */
#define NOTIFY_GATHER_MS 20

struct mnotify {
	struct mail_user *user;
	char *mailbox;
	int wd[2];            /* new/, cur/ (-1: none) */
	unsigned refs;
	bool hit;
	struct mnotify *next;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_fd = -1;
static bool g_failed;
static struct mnotify *g_list;

static void mark(int wd, bool all)
{
	for (struct mnotify *m = g_list; m != NULL; m = m->next)
		if (all || m->wd[0] == wd || m->wd[1] == wd)
			m->hit = true;
}

/* Reads what is there; false when nothing was (EAGAIN) or on error. */
static bool read_events(void)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(g_fd, ev, sizeof(ev));
	if (n <= 0)
		return false;
	pthread_mutex_lock(&g_lock);
	for (char *p = ev; p < ev + n;) {
		const struct inotify_event *e = (const struct inotify_event *)p;
		if (e->mask & IN_Q_OVERFLOW)
			mark(-1, true);
		else
			mark(e->wd, false);
		if (e->mask & IN_IGNORED) {
			/* the directory went away (mailbox deleted/renamed) */
			for (struct mnotify *m = g_list; m != NULL; m = m->next)
				for (int i = 0; i < 2; i++)
					if (m->wd[i] == e->wd)
						m->wd[i] = -1;
		}
		p += sizeof(*e) + e->len;
	}
	pthread_mutex_unlock(&g_lock);
	return true;
}

static void *notify_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd pfd = { .fd = g_fd, .events = POLLIN };
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("maildir: inotify poll: %s", strerror(errno));
			return NULL;
		}
		if (!read_events())
			continue;
		/* gather the rest of the burst */
		while (poll(&pfd, 1, NOTIFY_GATHER_MS) > 0 && read_events())
			;
		pthread_mutex_lock(&g_lock);
		for (struct mnotify *m = g_list; m != NULL; m = m->next) {
			if (!m->hit)
				continue;
			m->hit = false;
			mail_user_notify(m->user, m->mailbox);
		}
		pthread_mutex_unlock(&g_lock);
	}
	return NULL;
}

/* Under g_lock. false: this process can't watch (logged once). */
static bool notify_init(void)
{
	if (g_fd >= 0 || g_failed)
		return !g_failed;
	g_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (g_fd < 0) {
		log_warn("maildir: inotify unavailable (%s): IDLE sees only changes made "
			 "through objmail", strerror(errno));
		g_failed = true;
		return false;
	}
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int r = pthread_create(&t, &attr, notify_thread, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		log_warn("maildir: can't start the inotify thread: %s", strerror(r));
		close(g_fd);
		g_fd = -1;
		g_failed = true;
		return false;
	}
	return true;
}

void *maildir_watch_start(struct mail_user *user, const char *mailbox)
{
	if (mailbox == NULL)
		return NULL;
	struct buf dir = BUF_INIT;
	if (maildir_name_to_dir(user->root, mailbox, &dir) < 0) {
		buf_free(&dir);
		return NULL;
	}
	pthread_mutex_lock(&g_lock);
	struct mnotify *m = NULL;
	for (m = g_list; m != NULL; m = m->next)
		if (m->user == user && strcmp(m->mailbox, mailbox) == 0)
			break;
	if (m != NULL) {
		m->refs++;
	} else if (notify_init()) {
		m = om_calloc(1, sizeof(*m));
		m->user = user;
		m->mailbox = om_strdup(mailbox);
		m->refs = 1;
		static const char *const sub[2] = { "/new", "/cur" };
		size_t base = dir.len;
		for (int i = 0; i < 2; i++) {
			dir.len = base;
			buf_append_str(&dir, sub[i]);
			m->wd[i] = inotify_add_watch(g_fd, buf_cstr(&dir), NOTIFY_MASK);
			if (m->wd[i] < 0 && errno != ENOENT) {
				static bool warned;
				if (!warned)
					log_warn("maildir: inotify watch on %s: %s (raise "
						 "fs.inotify.max_user_watches); IDLE misses outside "
						 "changes there", buf_cstr(&dir), strerror(errno));
				warned = true;
			}
		}
		m->next = g_list;
		g_list = m;
	}
	pthread_mutex_unlock(&g_lock);
	buf_free(&dir);
	return m;
}

void maildir_watch_stop(struct mail_user *user, void *handle)
{
	(void)user;
	struct mnotify *m = handle;
	if (m == NULL)
		return;
	pthread_mutex_lock(&g_lock);
	if (--m->refs > 0) {
		pthread_mutex_unlock(&g_lock);
		return;
	}
	for (struct mnotify **p = &g_list; *p != NULL; p = &(*p)->next) {
		if (*p == m) {
			*p = m->next;
			break;
		}
	}
	for (int i = 0; i < 2; i++)
		if (m->wd[i] >= 0)
			(void)inotify_rm_watch(g_fd, m->wd[i]);
	pthread_mutex_unlock(&g_lock);
	free(m->mailbox);
	free(m);
}
