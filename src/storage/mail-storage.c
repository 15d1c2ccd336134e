/* The driver-independent storage layer: the registry of open users, the
 * per-user lock, and mailbox-level operations (list, create, delete, rename,
 * subscriptions, status). Message operations are in mail-message.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/passdb.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/mail-storage-private.h"

#define USER_HASH_SIZE 256

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mail_user *user_hash[USER_HASH_SIZE];

/* Lingering users (refcount 0, still hashed): every LMTP delivery used to
 * open and close the user's index twice (RCPT's quota check, then the
 * delivery), and every IMAP session once; each close checkpointed the WAL
 * and deleted -wal/-shm, each open created them again. Under the registry
 * lock; the closer thread waits on linger_cond. */
static unsigned linger_secs;
static bool linger_thread_running;
static pthread_t linger_thread;
static pthread_cond_t linger_cond;

static unsigned name_hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % USER_HASH_SIZE;
}

void mail_user_set_error(struct mail_user *user, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(user->last_error, sizeof(user->last_error), fmt, ap);
	va_end(ap);
	log_error("storage %s: %s", user->name, user->last_error);
}

void mail_user_lock(struct mail_user *user)
{
	pthread_mutex_lock(&user->lock);
}

void mail_user_unlock(struct mail_user *user)
{
	pthread_mutex_unlock(&user->lock);
}

static const struct mail_storage_ops *driver_find(const char *location, const char **path_r)
{
	static const struct mail_storage_ops *const drivers[] = { &maildir_storage_ops,
								  &obox_storage_ops };
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		size_t n = strlen(drivers[i]->name);
		if (strncmp(location, drivers[i]->name, n) == 0 && location[n] == ':') {
			*path_r = location + n + 1;
			return drivers[i];
		}
	}
	return NULL;
}

static int user_location(const char *tmpl, const char *username, const struct passdb_user *pu,
			 struct buf *out)
{
	struct buf t = BUF_INIT;
	if (tmpl[0] == '~' && (tmpl[1] == '/' || tmpl[1] == '\0')) {
		/* Dovecot's "maildir:~/Maildir": relative to the user's home */
		if (pu == NULL || pu->home == NULL || pu->home[0] != '/') {
			log_error("storage %s: mail_location %s needs a home directory", username, tmpl);
			return -OM_EINVAL;
		}
		buf_append_str(&t, pu->home);
		buf_append_str(&t, tmpl + 1);
	} else {
		buf_append_str(&t, tmpl);
	}
	int ret = config_expand_user_path(buf_cstr(&t), username, out);
	buf_free(&t);
	if (ret < 0)
		return ret;
	/* "%u" in a home-less template could be used to climb: require an
	 * absolute result. */
	if (out->len == 0 || out->data[0] != '/')
		return -OM_EINVAL;
	return 0;
}

static void user_destroy(struct mail_user *user)
{
	if (user->index != NULL || user->root != NULL)
		user->ops->user_deinit(user);
	mail_user_watches_destroy(user);
	pthread_mutex_destroy(&user->lock);
	pthread_mutex_destroy(&user->watch_lock);
	pthread_cond_destroy(&user->watch_cond);
	free(user->name);
	free(user->root);
	user->name = NULL;
	user->root = NULL;
	user->ops->user_free(user);
}

int mail_user_open(const struct om_config *cfg, const char *username,
		   const struct passdb_user *pu, struct mail_user **user_r)
{
	const char *canon = pu != NULL && pu->user != NULL ? pu->user : username;
	const char *path_tmpl;
	*user_r = NULL;
	if (canon == NULL || canon[0] == '\0' || strlen(canon) > 255)
		return -OM_EINVAL;
	const struct mail_storage_ops *ops =
		driver_find(cfg->mail_location ? cfg->mail_location : "", &path_tmpl);
	if (ops == NULL) {
		log_error("storage: unsupported mail_location '%s'", cfg->mail_location);
		return -OM_EINVAL;
	}

	unsigned h = name_hash(canon);
	pthread_mutex_lock(&registry_lock);
	for (struct mail_user *u = user_hash[h]; u != NULL; u = u->hash_next) {
		if (strcmp(u->name, canon) == 0) {
			u->refcount++;
			pthread_mutex_unlock(&registry_lock);
			/* the first opener holds the user lock until the store is
			 * ready: wait for it */
			mail_user_lock(u);
			bool failed = u->init_failed;
			mail_user_unlock(u);
			if (failed) {
				mail_user_unref(u);
				return -OM_ETEMP;
			}
			*user_r = u;
			return 0;
		}
	}

	struct buf root = BUF_INIT;
	int ret = user_location(path_tmpl, canon, pu, &root);
	if (ret < 0) {
		pthread_mutex_unlock(&registry_lock);
		buf_free(&root);
		return ret;
	}
	struct mail_user *user = ops->user_alloc();
	user->ops = ops;
	user->name = om_strdup(canon);
	user->refcount = 1;
	user->root = buf_steal(&root);
	buf_free(&root);
	user->quota_limit = pu != NULL && pu->quota_set ? pu->quota : cfg->quota;
	user->quota_messages = pu != NULL && pu->quota_messages_set ? pu->quota_messages
								    : cfg->quota_messages;
	user->max_size = cfg->mail_max_size;
	user->max_mailboxes = cfg->max_mailboxes;
	index_set_expunge_history(cfg->index_expunge_history);
	pthread_mutex_init(&user->lock, NULL);
	pthread_mutex_init(&user->watch_lock, NULL);
	pthread_cond_init(&user->watch_cond, NULL);
	/* Published before the slow part, locked: other users' opens don't
	 * wait for this one's disk, this user's second opener does. */
	mail_user_lock(user);
	user->hash_next = user_hash[h];
	user_hash[h] = user;
	pthread_mutex_unlock(&registry_lock);

	user->cfg = cfg;
	ret = ops->user_init(user);
	user->cfg = NULL;
	if (ret < 0) {
		user->init_failed = true;
		pthread_mutex_lock(&registry_lock);
		for (struct mail_user **p = &user_hash[h]; *p != NULL; p = &(*p)->hash_next) {
			if (*p == user) {
				*p = user->hash_next;
				break;
			}
		}
		user->hash_next = NULL;
		pthread_mutex_unlock(&registry_lock);
		mail_user_unlock(user);
		mail_user_unref(user);
		return ret;
	}
	mail_user_unlock(user);
	*user_r = user;
	return 0;
}

void mail_user_ref(struct mail_user *user)
{
	pthread_mutex_lock(&registry_lock);
	user->refcount++;
	pthread_mutex_unlock(&registry_lock);
}

bool mail_user_tryref(struct mail_user *user)
{
	pthread_mutex_lock(&registry_lock);
	bool live = user->refcount > 0;
	if (live)
		user->refcount++;
	pthread_mutex_unlock(&registry_lock);
	return live;
}

static int64_t mono_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* Unhashes lingering users due by `now` (all when `all`), under the
 * registry lock; returns them chained by hash_next. */
static struct mail_user *linger_take_due(int64_t now, bool all)
{
	struct mail_user *due = NULL;
	for (unsigned h = 0; h < USER_HASH_SIZE; h++) {
		for (struct mail_user **p = &user_hash[h]; *p != NULL;) {
			struct mail_user *u = *p;
			if (u->refcount == 0 && (all || u->linger_until <= now)) {
				*p = u->hash_next;
				u->hash_next = due;
				due = u;
			} else {
				p = &u->hash_next;
			}
		}
	}
	return due;
}

static void linger_destroy_chain(struct mail_user *u)
{
	while (u != NULL) {
		struct mail_user *next = u->hash_next;
		u->hash_next = NULL;
		user_destroy(u);
		u = next;
	}
}

static void *linger_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&registry_lock);
	while (linger_secs > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		(void)pthread_cond_timedwait(&linger_cond, &registry_lock, &ts);
		struct mail_user *due = linger_take_due(mono_secs(), false);
		if (due != NULL) {
			pthread_mutex_unlock(&registry_lock);
			linger_destroy_chain(due);
			pthread_mutex_lock(&registry_lock);
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return NULL;
}

/* The lease-lost hook: set once by the daemon before serving, read from
 * storage threads. */
static void (*_Atomic lease_lost_hook)(const char *username);

void mail_storage_set_lease_lost_hook(void (*hook)(const char *username))
{
	lease_lost_hook = hook;
}

void mail_storage_lease_lost(const char *username)
{
	void (*hook)(const char *) = lease_lost_hook;
	if (hook != NULL)
		hook(username);
}

void mail_storage_set_linger(unsigned seconds)
{
	pthread_mutex_lock(&registry_lock);
	linger_secs = seconds;
	if (seconds > 0 && !linger_thread_running) {
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&linger_cond, &ca);
		pthread_condattr_destroy(&ca);
		if (pthread_create(&linger_thread, NULL, linger_main, NULL) == 0) {
			linger_thread_running = true;
		} else {
			log_warn("storage: no thread for closing idle users: they close at once");
			linger_secs = 0;
			pthread_cond_destroy(&linger_cond);
		}
	}
	bool stop = seconds == 0 && linger_thread_running;
	if (stop) {
		linger_thread_running = false;
		pthread_cond_broadcast(&linger_cond);
	}
	struct mail_user *due = seconds == 0 ? linger_take_due(0, true) : NULL;
	pthread_mutex_unlock(&registry_lock);
	if (stop) {
		pthread_join(linger_thread, NULL);
		pthread_cond_destroy(&linger_cond);
	}
	linger_destroy_chain(due);
}

void mail_user_unref(struct mail_user *user)
{
	if (user == NULL)
		return;
	pthread_mutex_lock(&registry_lock);
	om_assert(user->refcount > 0);
	if (--user->refcount > 0) {
		pthread_mutex_unlock(&registry_lock);
		return;
	}
	/* obox keeps its users open in its flusher (lease, bundle upload at
	 * the end of the grace time) and never gets here while they are. */
	if (linger_secs > 0 && !user->init_failed && user->ops == &maildir_storage_ops) {
		user->linger_until = mono_secs() + linger_secs;
		pthread_mutex_unlock(&registry_lock);
		return;
	}
	unsigned h = name_hash(user->name);
	for (struct mail_user **p = &user_hash[h]; *p != NULL; p = &(*p)->hash_next) {
		if (*p == user) {
			*p = user->hash_next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	user_destroy(user);
}

unsigned mail_user_refs(struct mail_user *user)
{
	pthread_mutex_lock(&registry_lock);
	unsigned n = user->refcount;
	pthread_mutex_unlock(&registry_lock);
	return n;
}

bool mail_user_unref_if_last(struct mail_user *user)
{
	pthread_mutex_lock(&registry_lock);
	if (user->refcount != 1) {
		pthread_mutex_unlock(&registry_lock);
		return false;
	}
	user->refcount = 0;
	unsigned h = name_hash(user->name);
	for (struct mail_user **p = &user_hash[h]; *p != NULL; p = &(*p)->hash_next) {
		if (*p == user) {
			*p = user->hash_next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	user_destroy(user);
	return true;
}

const char *mail_user_name(const struct mail_user *user)
{
	return user->name;
}

const char *mail_user_last_error(const struct mail_user *user)
{
	return user->last_error;
}

int mail_user_quota(struct mail_user *user, uint64_t *used_r, uint64_t *limit_r)
{
	mail_user_lock(user);
	int ret = index_quota_used(user->index, used_r);
	*limit_r = user->quota_limit;
	mail_user_unlock(user);
	return ret;
}

int mail_user_quota_get(struct mail_user *user, struct mail_quota *q)
{
	memset(q, 0, sizeof(*q));
	mail_user_lock(user);
	int ret = index_quota_usage(user->index, &q->storage_used, &q->messages_used);
	q->storage_limit = user->quota_limit;
	q->messages_limit = user->quota_messages;
	mail_user_unlock(user);
	return ret;
}

int mail_user_find_mailbox(struct mail_user *user, const char *name, struct index_mailbox *mb_r)
{
	int ret = index_mailbox_get(user->index, name, mb_r);
	if (ret != -OM_ENOTFOUND)
		return ret;
	ret = user->ops->list_refresh(user);
	if (ret < 0)
		return ret;
	return index_mailbox_get(user->index, name, mb_r);
}

/* --- listing --- */

static int info_cmp(const void *a, const void *b)
{
	const struct mailbox_info *x = a, *y = b;
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool names_contain(char **sorted, size_t n, const char *name)
{
	return n > 0 && bsearch(&name, sorted, n, sizeof(*sorted), str_cmp) != NULL;
}

static void info_add(struct mailbox_info **list, size_t *n, size_t *cap, const char *name, unsigned flags)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*list = om_reallocarray(*list, *cap, sizeof(**list));
	}
	(*list)[*n].name = om_strdup(name);
	(*list)[*n].flags = flags;
	(*n)++;
}

int mail_user_list_mailboxes(struct mail_user *user, struct mailbox_info **list_r, size_t *count_r)
{
	struct index_mailbox *mbs = NULL;
	size_t n_mbs = 0, n_subs = 0;
	char **subs = NULL;
	*list_r = NULL;
	*count_r = 0;

	mail_user_lock(user);
	int ret = user->ops->list_refresh(user);
	if (ret == 0)
		ret = index_mailbox_list(user->index, &mbs, &n_mbs);
	if (ret == 0)
		ret = index_subs_list(user->index, &subs, &n_subs);
	mail_user_unlock(user);
	if (ret < 0) {
		index_mailboxes_free(mbs, n_mbs);
		return ret;
	}
	if (n_subs > 1)
		qsort(subs, n_subs, sizeof(*subs), str_cmp);

	struct mailbox_info *list = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < n_mbs; i++)
		info_add(&list, &n, &cap, mbs[i].name, mbs[i].special_use & MBOX_SPECIAL_MASK);
	/* Parents that exist only because a child does */
	size_t n_real = n;
	for (size_t i = 0; i < n_real; i++) {
		struct buf parent = BUF_INIT;
		buf_append_str(&parent, list[i].name);
		char *slash;
		while ((slash = strrchr(parent.data, '/')) != NULL) {
			buf_truncate(&parent, (size_t)(slash - parent.data));
			bool found = false;
			for (size_t j = 0; j < n && !found; j++)
				found = strcmp(list[j].name, parent.data) == 0;
			if (!found)
				info_add(&list, &n, &cap, parent.data, MBOX_NOSELECT);
		}
		buf_free(&parent);
	}
	if (n > 1)
		qsort(list, n, sizeof(*list), info_cmp);
	for (size_t i = 0; i < n; i++) {
		bool children = false;
		for (size_t j = 0; j < n && !children; j++)
			children = mail_name_is_child(list[j].name, list[i].name);
		list[i].flags |= children ? MBOX_HASCHILDREN : MBOX_HASNOCHILDREN;
		if (names_contain(subs, n_subs, list[i].name))
			list[i].flags |= MBOX_SUBSCRIBED;
	}
	index_mailboxes_free(mbs, n_mbs);
	mail_names_free(subs, n_subs);
	*list_r = list;
	*count_r = n;
	return 0;
}

int mail_user_list_subscriptions(struct mail_user *user, char ***names_r, size_t *count_r)
{
	mail_user_lock(user);
	int ret = user->ops->list_refresh(user);
	if (ret == 0)
		ret = index_subs_list(user->index, names_r, count_r);
	mail_user_unlock(user);
	return ret;
}

void mailbox_info_free(struct mailbox_info *list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(list[i].name);
	free(list);
}

void mail_names_free(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* --- create / delete / rename / subscribe --- */

static bool has_children(struct mail_user *user, const char *name)
{
	struct index_mailbox *mbs;
	size_t n;
	bool found = false;
	if (index_mailbox_list(user->index, &mbs, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !found; i++)
		found = mail_name_is_child(mbs[i].name, name);
	index_mailboxes_free(mbs, n);
	return found;
}

/* max_mailboxes: -OM_ELIMIT if the user has that many already. */
static int mailbox_count_check(struct mail_user *user)
{
	if (user->max_mailboxes == 0)
		return 0;
	struct index_mailbox *mbs;
	size_t n;
	int ret = index_mailbox_list(user->index, &mbs, &n);
	if (ret < 0)
		return ret;
	index_mailboxes_free(mbs, n);
	return n >= user->max_mailboxes ? -OM_ELIMIT : 0;
}

/* Create name's missing parents, then name itself (unless parents_only). */
static int create_with_parents(struct mail_user *user, const char *name, unsigned special_use,
			       bool parents_only)
{
	struct buf prefix = BUF_INIT;
	int ret = 0;
	for (const char *p = strchr(name, '/'); p != NULL && ret == 0; p = strchr(p + 1, '/')) {
		buf_reset(&prefix);
		buf_append(&prefix, name, (size_t)(p - name));
		struct index_mailbox mb;
		ret = index_mailbox_get(user->index, prefix.data, &mb);
		if (ret == 0)
			index_mailbox_clear(&mb);
		else if (ret == -OM_ENOTFOUND && (ret = mailbox_count_check(user)) == 0)
			ret = user->ops->mailbox_create(user, prefix.data, 0);
	}
	buf_free(&prefix);
	if (ret == 0 && !parents_only)
		ret = mailbox_count_check(user);
	if (ret == 0 && !parents_only)
		ret = user->ops->mailbox_create(user, name, special_use);
	return ret;
}

int mail_user_create_mailbox(struct mail_user *user, const char *name, unsigned special_use)
{
	struct buf norm = BUF_INIT;
	int ret = mail_name_normalize(name, &norm);
	if (ret < 0)
		goto out;
	if ((special_use & ~MBOX_SPECIAL_MASK) != 0 ||
	    (special_use & (special_use - 1)) != 0) {
		ret = -OM_EINVAL;
		goto out;
	}
	mail_user_lock(user);
	struct index_mailbox mb;
	ret = mail_user_find_mailbox(user, norm.data, &mb);
	if (ret == 0) {
		index_mailbox_clear(&mb);
		ret = -OM_EEXISTS;
	} else if (ret == -OM_ENOTFOUND) {
		ret = create_with_parents(user, norm.data, special_use, false);
	}
	mail_user_unlock(user);
	if (ret == 0)
		mail_user_notify(user, NULL);
out:
	buf_free(&norm);
	return ret;
}

int mail_user_delete_mailbox(struct mail_user *user, const char *name)
{
	struct buf norm = BUF_INIT;
	int ret = mail_name_normalize(name, &norm);
	if (ret < 0)
		goto out;
	if (strcmp(norm.data, "INBOX") == 0) {
		ret = -OM_EPERM;
		goto out;
	}
	mail_user_lock(user);
	struct index_mailbox mb;
	ret = mail_user_find_mailbox(user, norm.data, &mb);
	if (ret == 0) {
		ret = user->ops->mailbox_delete(user, &mb);
		index_mailbox_clear(&mb);
	} else if (ret == -OM_ENOTFOUND && has_children(user, norm.data)) {
		/* RFC 3501: a \Noselect name with inferiors can't be deleted */
		ret = -OM_ENOTEMPTY;
	}
	mail_user_unlock(user);
	if (ret == 0)
		mail_user_notify(user, NULL);
out:
	buf_free(&norm);
	return ret;
}

static int rename_inbox(struct mail_user *user, const char *new_name)
{
	/* RFC 3501 6.3.5: move INBOX's messages into the new mailbox. */
	int ret = create_with_parents(user, new_name, 0, false);
	mail_user_unlock(user);
	if (ret < 0) {
		mail_user_lock(user);
		return ret;
	}
	struct mailbox *box;
	ret = mailbox_open(user, "INBOX", false, &box);
	if (ret == 0) {
		struct mailbox_snapshot *snap;
		ret = mailbox_sync(box, &snap);
		if (ret == 0) {
			uint32_t *uids = om_calloc(snap->count, sizeof(*uids));
			for (size_t i = 0; i < snap->count; i++)
				uids[i] = snap->recs[i].uid;
			uint32_t uidv, *src = NULL, *dst = NULL;
			size_t n = 0;
			if (snap->count > 0)
				ret = mailbox_copy(box, uids, snap->count, new_name, true, &uidv, &src, &dst, &n);
			free(uids);
			free(src);
			free(dst);
			mailbox_snapshot_free(snap);
		}
		mailbox_close(box);
	}
	mail_user_lock(user);
	return ret;
}

int mail_user_rename_mailbox(struct mail_user *user, const char *old_name, const char *new_name)
{
	struct buf oldn = BUF_INIT, newn = BUF_INIT;
	int ret = mail_name_normalize(old_name, &oldn);
	if (ret == 0)
		ret = mail_name_normalize(new_name, &newn);
	if (ret < 0)
		goto out;
	if (strcmp(newn.data, "INBOX") == 0 || strcmp(oldn.data, newn.data) == 0) {
		ret = -OM_EEXISTS;
		goto out;
	}
	if (mail_name_is_child(newn.data, oldn.data)) {
		ret = -OM_EINVAL;
		goto out;
	}
	mail_user_lock(user);
	struct index_mailbox mb;
	ret = mail_user_find_mailbox(user, newn.data, &mb);
	if (ret == 0) {
		index_mailbox_clear(&mb);
		ret = -OM_EEXISTS;
	} else if (ret == -OM_ENOTFOUND && has_children(user, newn.data)) {
		ret = -OM_EEXISTS;
	} else if (ret == -OM_ENOTFOUND) {
		ret = index_mailbox_get(user->index, oldn.data, &mb);
		if (ret == 0)
			index_mailbox_clear(&mb);
		else if (ret == -OM_ENOTFOUND && has_children(user, oldn.data))
			ret = 0;
		if (ret == 0 && strcmp(oldn.data, "INBOX") == 0) {
			ret = rename_inbox(user, newn.data);
		} else if (ret == 0) {
			ret = create_with_parents(user, newn.data, 0, true);
			if (ret == 0)
				ret = user->ops->mailbox_rename(user, oldn.data, newn.data);
		}
	}
	mail_user_unlock(user);
	if (ret == 0)
		mail_user_notify(user, NULL);
out:
	buf_free(&oldn);
	buf_free(&newn);
	return ret;
}

int mail_user_subscribe(struct mail_user *user, const char *name, bool subscribe)
{
	struct buf norm = BUF_INIT;
	int ret = mail_name_normalize(name, &norm);
	if (ret < 0) {
		buf_free(&norm);
		return ret;
	}
	mail_user_lock(user);
	ret = user->ops->list_refresh(user);
	if (ret == 0)
		ret = index_subs_set(user->index, norm.data, subscribe);
	if (ret == 0)
		ret = user->ops->subscriptions_changed(user);
	mail_user_unlock(user);
	buf_free(&norm);
	return ret;
}

int mail_user_mailbox_status(struct mail_user *user, const char *name, struct mailbox_status *st)
{
	struct buf norm = BUF_INIT;
	int ret = mail_name_normalize(name, &norm);
	if (ret < 0) {
		buf_free(&norm);
		return ret;
	}
	memset(st, 0, sizeof(*st));
	mail_user_lock(user);
	struct index_mailbox mb;
	ret = mail_user_find_mailbox(user, norm.data, &mb);
	if (ret == -OM_ENOTFOUND && has_children(user, norm.data))
		ret = -OM_EPERM;
	if (ret == 0) {
		struct index_msg *msgs = NULL;
		size_t n = 0;
		ret = user->ops->mailbox_sync(user, &mb);
		if (ret == 0)
			ret = index_msgs_get(user->index, mb.id, &msgs, &n);
		if (ret == 0) {
			st->messages = (uint32_t)n;
			for (size_t i = 0; i < n; i++) {
				if (msgs[i].rec.uid >= mb.first_recent_uid)
					st->recent++;
				if ((msgs[i].rec.flags & MAIL_SEEN) == 0)
					st->unseen++;
				st->size += msgs[i].rec.size;
			}
			st->uidnext = mb.uidnext;
			st->uidvalidity = mb.uidvalidity;
			st->highest_modseq = mb.highest_modseq;
		}
		index_msgs_free(msgs, n);
		index_mailbox_clear(&mb);
	}
	mail_user_unlock(user);
	buf_free(&norm);
	return ret;
}
