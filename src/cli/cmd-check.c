/* objmail check USER [--json]: offline consistency check of USER's mail.
 *
 * Offline because it must see the index and the store at rest: with obox
 * the user's lease keeps a second writer out (run it with objmaild stopped,
 * or after the daemon let go of the user); with maildir nothing else may
 * change the folders meanwhile. Checked:
 *   - every index entry has its object (obox: u/../m/<guid>) or its file
 *     (maildir: the ddata name, or the same base name in cur/ or new/);
 *   - every object is referenced by an index row or is pending delete
 *     (obox), every file in cur/ and new/ is indexed (maildir);
 *   - UIDs strictly increasing per mailbox and below uidnext;
 *   - no GUID twice within a mailbox.
 * Exit 0 when consistent, 1 with one line (or JSON item) per problem. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli-mail.h"
#include "cli/cli.h"
#include "lib/om-error.h"
#include "storage/index.h"
#include "storage/maildir/maildir.h"
#include "storage/obox/obox.h"

int cmd_check(struct cli_ctx *ctx, int argc, char **argv);

#define CHECK_MAX_PROBLEMS 1000 /* listed; the count goes on */

struct check {
	struct buf problems;      /* text lines or JSON items */
	bool json;
	unsigned long n_problems;
	unsigned long mailboxes, messages, objects;
};

static void problem(struct check *c, const char *mailbox, const char *what, const char *detail)
{
	c->n_problems++;
	if (c->n_problems > CHECK_MAX_PROBLEMS)
		return;
	if (c->json) {
		if (c->problems.len > 0)
			buf_append_str(&c->problems, ",");
		buf_append_str(&c->problems, "{\"mailbox\":");
		if (mailbox != NULL)
			cli_json_str(&c->problems, mailbox);
		else
			buf_append_str(&c->problems, "null");
		buf_append_str(&c->problems, ",\"problem\":");
		cli_json_str(&c->problems, what);
		buf_append_str(&c->problems, ",\"detail\":");
		cli_json_str(&c->problems, detail);
		buf_append_str(&c->problems, "}");
	} else {
		buf_printf(&c->problems, "%s%s%s: %s\n", mailbox != NULL ? mailbox : "",
			   mailbox != NULL ? ": " : "", what, detail);
	}
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
		fprintf(stderr, "objmail: listing %s failed: %s\n", buf_cstr(&prefix), om_strerror(ret));
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

int cmd_check(struct cli_ctx *ctx, int argc, char **argv)
{
	struct check c;
	memset(&c, 0, sizeof(c));
	c.json = cli_take_flag(&argc, argv, "--json");
	if (argc != 1)
		return cli_usage(ctx);
	int r = cli_load_config(ctx);
	if (r != CLI_OK)
		return r;
	bool obox = strncmp(ctx->cfg.mail_location, "obox:", 5) == 0;
	struct mail_user *user;
	r = cli_mail_user_open(ctx, argv[0], &user);
	if (r != CLI_OK)
		return r;
	pthread_mutex_lock(&user->lock);
	int ret = check_index(&c, user, !obox);
	if (ret == 0 && obox)
		ret = check_obox(&c, user);
	pthread_mutex_unlock(&user->lock);
	struct buf out = BUF_INIT;
	const char *name = mail_user_name(user);
	if (ret < 0) {
		fprintf(stderr, "objmail: checking %s failed: %s\n", name, om_strerror(ret));
		r = CLI_FAIL;
	} else if (c.json) {
		buf_append_str(&out, "{\"user\":");
		cli_json_str(&out, name);
		buf_printf(&out, ",\"ok\":%s,\"mailboxes\":%lu,\"messages\":%lu,\"%s\":%lu,"
			   "\"problems_count\":%lu,\"problems\":[",
			   c.n_problems == 0 ? "true" : "false", c.mailboxes, c.messages,
			   obox ? "objects" : "files", c.objects, c.n_problems);
		buf_append(&out, buf_cstr(&c.problems), c.problems.len);
		buf_append_str(&out, "]}\n");
	} else {
		buf_append(&out, buf_cstr(&c.problems), c.problems.len);
		if (c.n_problems > CHECK_MAX_PROBLEMS)
			buf_printf(&out, "... %lu more\n", c.n_problems - CHECK_MAX_PROBLEMS);
		buf_printf(&out, "%s: %s: %lu mailboxes, %lu messages, %lu %s, %lu problems\n", name,
			   c.n_problems == 0 ? "ok" : "INCONSISTENT", c.mailboxes, c.messages,
			   c.objects, obox ? "objects" : "files", c.n_problems);
	}
	if (ret == 0 && c.n_problems > 0)
		r = CLI_FAIL;
	if (out.len > 0 && !cli_write_stdout(&out))
		r = CLI_FAIL;
	buf_free(&out);
	buf_free(&c.problems);
	cli_mail_user_close(user);
	return r;
}
