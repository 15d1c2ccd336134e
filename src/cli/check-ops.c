/* objmail check USER (maint-ops.h): USER's index against the store,
 * read-only, for the tool (offline) and objmaild (live). Checked:
 *   - every index entry has its object (obox: u/../m/<guid>) or its file
 *     (maildir: the ddata name, or the same base name in cur/ or new/);
 *   - every object is referenced by an index row or is pending delete
 *     (obox), every file in cur/ and new/ is indexed (maildir);
 *   - UIDs strictly increasing per mailbox and below uidnext;
 *   - no GUID twice within a mailbox.
 * All under the user lock, so the index and the store are seen at one
 * moment as far as this process's writers go (they hold that lock). Live,
 * two things still change without it: an obox delivery uploads its object
 * before it takes the lock, and a Maildir may get files from elsewhere; so a
 * live check looks twice, CHECK_RECHECK_MS apart, and reports only what it
 * saw both times. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/maint-ops.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/index.h"
#include "storage/maildir/maildir.h"
#include "storage/obox/obox.h"

#define CHECK_RECHECK_MS 1500

#define CHECK_MAX_PROBLEMS 1000 /* listed; the count goes on */

struct check_problem {
	char *mailbox;            /* NULL: the user's */
	char *what, *detail;
};

struct check {
	struct check_problem *problems; /* the first CHECK_MAX_PROBLEMS */
	size_t n_kept;
	unsigned long n_problems;
	unsigned long mailboxes, messages, objects;
};

static void problem(struct check *c, const char *mailbox, const char *what, const char *detail)
{
	c->n_problems++;
	if (c->n_problems > CHECK_MAX_PROBLEMS)
		return;
	if (c->n_kept % 64 == 0)
		c->problems = om_reallocarray(c->problems, c->n_kept + 64, sizeof(*c->problems));
	struct check_problem *p = &c->problems[c->n_kept++];
	p->mailbox = mailbox != NULL ? om_strdup(mailbox) : NULL;
	p->what = om_strdup(what);
	p->detail = om_strdup(detail);
}

static void check_free(struct check *c)
{
	for (size_t i = 0; i < c->n_kept; i++) {
		free(c->problems[i].mailbox);
		free(c->problems[i].what);
		free(c->problems[i].detail);
	}
	free(c->problems);
	memset(c, 0, sizeof(*c));
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int rec_guid_cmp(const void *a, const void *b)
{
	const struct index_msg *x = a, *y = b;
	return strcmp(x->rec.guid, y->rec.guid);
}

/* bsearch in a sorted array of strings (which is NULL when empty) */
static bool has_str(char *const *arr, size_t n, const char *s)
{
	return n > 0 && bsearch(&s, arr, n, sizeof(char *), str_cmp) != NULL;
}

/* --- obox --- */

struct obox_list_ctx {
	char **keys;
	size_t n, cap;
};

static int obox_list_cb(void *ctx, const char *key, uint64_t size)
{
	struct obox_list_ctx *l = ctx;
	(void)size;
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 256 : l->cap * 2;
		l->keys = om_realloc(l->keys, l->cap * sizeof(*l->keys));
	}
	l->keys[l->n++] = om_strdup(key);
	return 0;
}

static int check_obox(struct check *c, struct mail_user *user)
{
	struct obox_user *ou = obox_user(user);
	struct objstore *store = obox_store();
	struct buf prefix = BUF_INIT;
	buf_printf(&prefix, "%sm/", ou->key_prefix);
	struct obox_list_ctx l = { NULL, 0, 0 };
	int ret = objstore_list(store, buf_cstr(&prefix), obox_list_cb, &l);
	if (ret < 0) {
		log_warn("check %s: listing %s failed: %s", user->name, buf_cstr(&prefix),
			 om_strerror(ret));
		buf_free(&prefix);
		return ret;
	}
	/* object names are the GUIDs: sorted, as index_known_guids */
	char **objs = om_calloc(l.n > 0 ? l.n : 1, sizeof(char *));
	for (size_t i = 0; i < l.n; i++)
		objs[i] = l.keys[i] + prefix.len;
	if (l.n > 1)
		qsort(objs, l.n, sizeof(char *), str_cmp);
	c->objects = l.n;

	char **known = NULL;
	size_t n_known = 0;
	ret = index_known_guids(user->index, &known, &n_known);
	if (ret == 0) {
		/* every object is a known GUID (referenced or pending delete) */
		for (size_t i = 0; i < l.n; i++) {
			if (!has_str(known, n_known, objs[i]))
				problem(c, NULL, "unreferenced object", objs[i]);
		}
		/* every referenced GUID has its object (pending deletes may be gone) */
		struct index_mailbox *mbs = NULL;
		size_t n_mbs = 0;
		ret = index_mailbox_list(user->index, &mbs, &n_mbs);
		for (size_t m = 0; ret == 0 && m < n_mbs; m++) {
			struct index_msg *msgs = NULL;
			size_t n = 0;
			if (index_msgs_get(user->index, mbs[m].id, &msgs, &n) < 0)
				continue;
			for (size_t i = 0; i < n; i++) {
				const char *g = msgs[i].rec.guid;
				if (!has_str(objs, l.n, g)) {
					struct buf d = BUF_INIT;
					buf_printf(&d, "uid %u: object m/%s missing", msgs[i].rec.uid, g);
					problem(c, mbs[m].name, "missing object", buf_cstr(&d));
					buf_free(&d);
				}
			}
			index_msgs_free(msgs, n);
		}
		index_mailboxes_free(mbs, n_mbs);
		for (size_t i = 0; i < n_known; i++)
			free(known[i]);
		free(known);
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.keys[i]);
	free(l.keys);
	free(objs);
	buf_free(&prefix);
	return ret;
}

/* --- maildir --- */

/* base names (before ":2,") of the files in dir/cur and dir/new */
static void maildir_files(const char *dir, char ***names_r, size_t *n_r)
{
	static const char *const subs[] = { "cur", "new" };
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (size_t s = 0; s < 2; s++) {
		struct buf p = BUF_INIT;
		buf_printf(&p, "%s/%s", dir, subs[s]);
		DIR *d = opendir(buf_cstr(&p));
		buf_free(&p);
		if (d == NULL)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (n == cap) {
				cap = cap == 0 ? 256 : cap * 2;
				names = om_realloc(names, cap * sizeof(*names));
			}
			names[n++] = om_strndup(e->d_name, strcspn(e->d_name, ":"));
		}
		closedir(d);
	}
	if (n > 1)
		qsort(names, n, sizeof(char *), str_cmp);
	*names_r = names;
	*n_r = n;
}

static void check_maildir_mailbox(struct check *c, struct mail_user *user,
				  const struct index_mailbox *mb, struct index_msg *msgs, size_t n)
{
	struct buf dir = BUF_INIT;
	if (maildir_name_to_dir(user->root, mb->name, &dir) < 0) {
		problem(c, mb->name, "bad mailbox name", "no directory for it");
		buf_free(&dir);
		return;
	}
	char **files;
	size_t n_files;
	maildir_files(buf_cstr(&dir), &files, &n_files);
	char **indexed = om_calloc(n > 0 ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *dd = msgs[i].ddata != NULL ? msgs[i].ddata : "";
		const char *fname = strchr(dd, '/') != NULL ? strchr(dd, '/') + 1 : dd;
		indexed[i] = om_strndup(fname, strcspn(fname, ":"));
		if (!has_str(files, n_files, indexed[i])) {
			struct buf d = BUF_INIT;
			buf_printf(&d, "uid %u: file %s missing", msgs[i].rec.uid, dd);
			problem(c, mb->name, "missing file", buf_cstr(&d));
			buf_free(&d);
		}
	}
	if (n > 1)
		qsort(indexed, n, sizeof(char *), str_cmp);
	for (size_t i = 0; i < n_files; i++) {
		if (!has_str(indexed, n, files[i]))
			problem(c, mb->name, "unindexed file", files[i]);
	}
	c->objects += n_files;
	for (size_t i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
	for (size_t i = 0; i < n; i++)
		free(indexed[i]);
	free(indexed);
	buf_free(&dir);
}

/* --- both --- */

static int check_index(struct check *c, struct mail_user *user, bool maildir)
{
	struct index_mailbox *mbs = NULL;
	size_t n_mbs = 0;
	int ret = index_mailbox_list(user->index, &mbs, &n_mbs);
	if (ret < 0)
		return ret;
	c->mailboxes = n_mbs;
	for (size_t m = 0; m < n_mbs; m++) {
		const struct index_mailbox *mb = &mbs[m];
		struct index_msg *msgs = NULL;
		size_t n = 0;
		ret = index_msgs_get(user->index, mb->id, &msgs, &n);
		if (ret < 0)
			break;
		c->messages += n;
		for (size_t i = 0; i < n; i++) {
			struct buf d = BUF_INIT;
			if (msgs[i].rec.uid == 0 || (i > 0 && msgs[i].rec.uid <= msgs[i - 1].rec.uid)) {
				buf_printf(&d, "uid %u after uid %u", msgs[i].rec.uid,
					   i > 0 ? msgs[i - 1].rec.uid : 0);
				problem(c, mb->name, "uids not increasing", buf_cstr(&d));
			}
			if (msgs[i].rec.uid >= mb->uidnext) {
				buf_reset(&d);
				buf_printf(&d, "uid %u >= uidnext %u", msgs[i].rec.uid, mb->uidnext);
				problem(c, mb->name, "uid not below uidnext", buf_cstr(&d));
			}
			buf_free(&d);
		}
		if (maildir)
			check_maildir_mailbox(c, user, mb, msgs, n);
		if (n > 1)
			qsort(msgs, n, sizeof(*msgs), rec_guid_cmp);
		for (size_t i = 1; i < n; i++) {
			if (strcmp(msgs[i].rec.guid, msgs[i - 1].rec.guid) == 0) {
				struct buf d = BUF_INIT;
				buf_printf(&d, "guid %s at uids %u and %u", msgs[i].rec.guid,
					   msgs[i - 1].rec.uid, msgs[i].rec.uid);
				problem(c, mb->name, "duplicate guid", buf_cstr(&d));
				buf_free(&d);
			}
		}
		index_msgs_free(msgs, n);
	}
	index_mailboxes_free(mbs, n_mbs);
	return ret;
}

/* one look, under the user lock */
static int check_once(struct check *c, struct mail_user *user)
{
	bool obox = user->ops == &obox_storage_ops;
	pthread_mutex_lock(&user->lock);
	int ret = check_index(c, user, !obox);
	if (ret == 0 && obox)
		ret = check_obox(c, user);
	pthread_mutex_unlock(&user->lock);
	return ret;
}

static bool same_problem(const struct check_problem *a, const struct check_problem *b)
{
	return (a->mailbox == NULL) == (b->mailbox == NULL) &&
	       (a->mailbox == NULL || strcmp(a->mailbox, b->mailbox) == 0) &&
	       strcmp(a->what, b->what) == 0 && strcmp(a->detail, b->detail) == 0;
}

int maint_check(struct mail_user *user, bool live, bool json, struct buf *out, struct buf *err,
		unsigned long *problems_r)
{
	struct check c;
	memset(&c, 0, sizeof(c));
	bool obox = user->ops == &obox_storage_ops;
	const char *name = mail_user_name(user);
	int ret = check_once(&c, user);
	if (ret == 0 && live && c.n_problems > 0) {
		/* what a writer was in the middle of is gone by now */
		struct check again;
		memset(&again, 0, sizeof(again));
		usleep(CHECK_RECHECK_MS * 1000);
		ret = check_once(&again, user);
		if (ret == 0) {
			struct check both;
			memset(&both, 0, sizeof(both));
			for (size_t i = 0; i < again.n_kept; i++) {
				for (size_t j = 0; j < c.n_kept; j++) {
					if (same_problem(&again.problems[i], &c.problems[j])) {
						problem(&both, again.problems[i].mailbox,
							again.problems[i].what,
							again.problems[i].detail);
						break;
					}
				}
			}
			/* past the listed ones: the second count */
			if (again.n_problems > again.n_kept)
				both.n_problems += again.n_problems - again.n_kept;
			both.mailboxes = again.mailboxes;
			both.messages = again.messages;
			both.objects = again.objects;
			check_free(&c);
			c = both;
		}
		check_free(&again);
	}
	if (ret < 0) {
		buf_printf(err, "user %s: checking failed: %s", name, om_strerror(ret));
		check_free(&c);
		return ret;
	}
	if (json) {
		buf_append_str(out, "{\"user\":");
		cli_json_str(out, name);
		buf_printf(out, ",\"ok\":%s,\"mailboxes\":%lu,\"messages\":%lu,\"%s\":%lu,"
			   "\"problems_count\":%lu,\"problems\":[",
			   c.n_problems == 0 ? "true" : "false", c.mailboxes, c.messages,
			   obox ? "objects" : "files", c.objects, c.n_problems);
		for (size_t i = 0; i < c.n_kept; i++) {
			const struct check_problem *p = &c.problems[i];
			buf_append_str(out, i > 0 ? ",{\"mailbox\":" : "{\"mailbox\":");
			if (p->mailbox != NULL)
				cli_json_str(out, p->mailbox);
			else
				buf_append_str(out, "null");
			buf_append_str(out, ",\"problem\":");
			cli_json_str(out, p->what);
			buf_append_str(out, ",\"detail\":");
			cli_json_str(out, p->detail);
			buf_append_str(out, "}");
		}
		buf_append_str(out, "]}\n");
	} else {
		for (size_t i = 0; i < c.n_kept; i++) {
			const struct check_problem *p = &c.problems[i];
			buf_printf(out, "%s%s%s: %s\n", p->mailbox != NULL ? p->mailbox : "",
				   p->mailbox != NULL ? ": " : "", p->what, p->detail);
		}
		if (c.n_problems > c.n_kept)
			buf_printf(out, "... %lu more\n", c.n_problems - c.n_kept);
		buf_printf(out, "%s: %s: %lu mailboxes, %lu messages, %lu %s, %lu problems\n", name,
			   c.n_problems == 0 ? "ok" : "INCONSISTENT", c.mailboxes, c.messages,
			   c.objects, obox ? "objects" : "files", c.n_problems);
	}
	*problems_r = c.n_problems;
	check_free(&c);
	return 0;
}
