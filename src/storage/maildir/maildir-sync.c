/* Maildir -> index sync: list new/ and cur/, give unknown files UIDs in
 * dovecot-uidlist (under its lock), take flags from file names, and turn
 * vanished files into expunges. Skipped when the directory mtimes show no
 * change since the last scan. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/maildir/maildir.h"

#define SYNC_MAX_FILES 10000000

struct sync_entry {
	char *ddata;            /* "new/<name>" or "cur/<name>" */
	const char *fname;      /* into ddata */
	size_t base_len;
	uint32_t uid;
};

struct sync_ctx {
	struct mail_user *user;
	struct index_mailbox *mb;
	const char *dir;
	struct sync_entry *ents;
	size_t n, cap;
};

static int scan_dir(struct sync_ctx *ctx, const char *sub)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/%s", ctx->dir, sub);
	/* never through a symlinked cur/ or new/: out of the user's root */
	int dfd = open(path.data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d == NULL && dfd >= 0)
		close(dfd);
	if (d == NULL) {
		int ret = maildir_io_error(ctx->user, "opendir", path.data, errno);
		buf_free(&path);
		return ret;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (ctx->n >= SYNC_MAX_FILES)
			break;
		if (ctx->n == ctx->cap) {
			ctx->cap = ctx->cap ? ctx->cap * 2 : 256;
			ctx->ents = om_reallocarray(ctx->ents, ctx->cap, sizeof(*ctx->ents));
		}
		struct sync_entry *e = &ctx->ents[ctx->n++];
		struct buf dd = BUF_INIT;
		buf_printf(&dd, "%s/%s", sub, de->d_name);
		e->ddata = buf_steal(&dd);
		buf_free(&dd);
		e->fname = e->ddata + 4;
		const char *colon = strchr(e->fname, ':');
		e->base_len = colon ? (size_t)(colon - e->fname) : strlen(e->fname);
		e->uid = 0;
	}
	closedir(d);
	buf_free(&path);
	return 0;
}

static int ent_base_cmp(const void *a, const void *b)
{
	const struct sync_entry *x = a, *y = b;
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int c = memcmp(x->fname, y->fname, n);
	if (c != 0)
		return c;
	if (x->base_len != y->base_len)
		return x->base_len < y->base_len ? -1 : 1;
	/* the same base in new/ and cur/: cur/ first (it is the newer state) */
	return strcmp(x->ddata, y->ddata);
}

static int ent_uid_cmp(const void *a, const void *b)
{
	const struct sync_entry *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int rec_base_cmp(const void *a, const void *b)
{
	const struct uidlist_rec *x = *(struct uidlist_rec *const *)a;
	const struct uidlist_rec *y = *(struct uidlist_rec *const *)b;
	return strcmp(x->base, y->base);
}

/* uidlist records are in ascending UID order (the reader enforces it). */
static int rec_uid_cmp(const void *a, const void *b)
{
	const struct uidlist_rec *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Set ent->uid from the uidlist; returns how many got none. */
static size_t match_uids(struct sync_ctx *ctx, const struct uidlist *ul)
{
	struct uidlist_rec **by_base = om_calloc(ul->n, sizeof(*by_base));
	for (size_t i = 0; i < ul->n; i++)
		by_base[i] = &ul->recs[i];
	if (ul->n > 1)
		qsort(by_base, ul->n, sizeof(*by_base), rec_base_cmp);
	size_t unknown = 0;
	for (size_t i = 0; i < ctx->n; i++) {
		struct sync_entry *e = &ctx->ents[i];
		struct uidlist_rec key = { .base = om_strndup(e->fname, e->base_len) };
		struct uidlist_rec *kp = &key;
		struct uidlist_rec **hit = ul->n == 0 ? NULL :
			bsearch(&kp, by_base, ul->n, sizeof(*by_base), rec_base_cmp);
		e->uid = hit != NULL ? (*hit)->uid : 0;
		free(key.base);
		if (e->uid == 0)
			unknown++;
	}
	free(by_base);
	return unknown;
}

/* Drop a second file with the same base (new/ and cur/ both: a crash
 * between link and unlink); the first, cur/, wins. */
static void drop_duplicates(struct sync_ctx *ctx)
{
	if (ctx->n > 1)
		qsort(ctx->ents, ctx->n, sizeof(*ctx->ents), ent_base_cmp);
	size_t out = 0;
	for (size_t i = 0; i < ctx->n; i++) {
		if (out > 0 && ctx->ents[out - 1].base_len == ctx->ents[i].base_len &&
		    memcmp(ctx->ents[out - 1].fname, ctx->ents[i].fname, ctx->ents[i].base_len) == 0) {
			log_warn("maildir: %s: duplicate file %s ignored", ctx->dir, ctx->ents[i].ddata);
			free(ctx->ents[i].ddata);
			continue;
		}
		ctx->ents[out++] = ctx->ents[i];
	}
	ctx->n = out;
}

/* Assign UIDs to files the uidlist doesn't know, under its lock. */
static int assign_uids(struct sync_ctx *ctx, struct uidlist *ul)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/" MAILDIR_UIDLIST, ctx->dir);
	int ret = dotlock_take(path.data);
	if (ret < 0) {
		buf_free(&path);
		return ret;
	}
	uidlist_free(ul);
	ret = uidlist_read(ctx->dir, ul);
	if (ret == 0) {
		bool rewrite = !ul->exists || ul->version != 3;
		if (!ul->exists) {
			ul->uidvalidity = ctx->mb->uidvalidity != 0 ? ctx->mb->uidvalidity
								    : maildir_uidvalidity_next(ctx->user->root);
			ul->nextuid = ctx->mb->uidnext > 0 ? ctx->mb->uidnext : 1;
			if (ctx->mb->guid[0] != '\0')
				memcpy(ul->guid, ctx->mb->guid, sizeof(ul->guid));
			else
				maildir_guid_random(ul->guid);
		}
		size_t unknown = match_uids(ctx, ul);
		uint32_t min_uid = ul->uidvalidity == ctx->mb->uidvalidity ? ctx->mb->uidnext : 1;
		if (unknown > 0 || rewrite) {
			if (ul->nextuid < min_uid)
				ul->nextuid = min_uid;
			/* entries are in base order: the delivery time order */
			for (size_t i = 0; i < ctx->n && ret == 0; i++) {
				struct sync_entry *e = &ctx->ents[i];
				if (e->uid != 0)
					continue;
				struct uidlist_rec rec = { .uid = ul->nextuid++,
							   .base = om_strndup(e->fname, e->base_len) };
				e->uid = rec.uid;
				if (ul->n == ul->cap) {
					ul->cap = ul->cap ? ul->cap * 2 : 64;
					ul->recs = om_reallocarray(ul->recs, ul->cap, sizeof(*ul->recs));
				}
				ul->recs[ul->n++] = rec;
			}
			ret = uidlist_write_locked(ctx->dir, ul);
			if (ret == 0) {
				ul->exists = true;
				ul->version = 3;
			}
		}
	}
	dotlock_release(path.data);
	buf_free(&path);
	return ret;
}

static int msg_size(struct sync_ctx *ctx, const struct sync_entry *e,
		    const struct maildir_filename *fn, uint64_t *vsize_r, int64_t *mtime_r)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/%s", ctx->dir, e->ddata);
	int fd = open(path.data, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int ret = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = maildir_io_error(ctx->user, "open", path.data, errno);
		goto out;
	}
	*mtime_r = st.st_mtime;
	if (fn->have_vsize) {
		*vsize_r = fn->vsize;
		goto out;
	}
	if ((uint64_t)st.st_size > MAILDIR_MAX_FILE_SIZE) {
		ret = -OM_ELIMIT;
		goto out;
	}
	/* another MUA's file: count the line ends */
	uint64_t size = 0;
	char tmp[65536];
	char prev = '\0';
	ssize_t r;
	while ((r = read(fd, tmp, sizeof(tmp))) > 0) {
		for (ssize_t i = 0; i < r; i++) {
			if (tmp[i] == '\n' && prev != '\r')
				size++;
			prev = tmp[i];
		}
		size += (uint64_t)r;
	}
	if (r < 0)
		ret = maildir_io_error(ctx->user, "read", path.data, errno);
	*vsize_r = size;
out:
	if (fd >= 0)
		close(fd);
	buf_free(&path);
	return ret;
}

static void sync_state(const char *dir, struct buf *out, bool *settled_r)
{
	static const char *const files[] = { "new", "cur", MAILDIR_UIDLIST, MAILDIR_KEYWORDS };
	struct buf p = BUF_INIT;
	time_t now = time(NULL);
	*settled_r = true;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct stat st;
		buf_reset(&p);
		buf_printf(&p, "%s/%s", dir, files[i]);
		if (stat(p.data, &st) < 0)
			memset(&st, 0, sizeof(st));
		buf_printf(out, "%lld.%ld/%lld/%llu;", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			   (long long)st.st_size, (unsigned long long)st.st_ino);
		if (st.st_mtim.tv_sec + 1 >= now)
			*settled_r = false;
	}
	buf_free(&p);
}

int maildir_sync(struct mail_user *user, struct index_mailbox *mb)
{
	struct buf dir = BUF_INIT, state = BUF_INIT;
	struct uidlist ul = { 0 };
	struct maildir_keywords kw = { 0 };
	struct index_msg *msgs = NULL;
	size_t n_msgs = 0, n_names = 0;
	char **names = NULL;
	struct sync_ctx ctx = { .user = user, .mb = mb };
	bool settled;
	bool in_tx = false;

	int ret = maildir_mailbox_dir(user, mb->name, &dir);
	if (ret < 0)
		goto out;
	ctx.dir = dir.data;
	sync_state(dir.data, &state, &settled);
	if (mb->uidvalidity != 0 && settled && mb->sync_state != NULL &&
	    strcmp(mb->sync_state, state.data) == 0)
		goto out;

	ret = scan_dir(&ctx, "cur");
	if (ret == 0)
		ret = scan_dir(&ctx, "new");
	if (ret == 0)
		ret = uidlist_read(dir.data, &ul);
	if (ret < 0)
		goto out;
	drop_duplicates(&ctx);
	size_t unknown = match_uids(&ctx, &ul);
	if (unknown > 0 || !ul.exists || ul.version != 3) {
		ret = assign_uids(&ctx, &ul);
		if (ret < 0)
			goto out;
	}
	ret = maildir_keywords_read(dir.data, &kw);
	if (ret == 0)
		ret = index_begin(user->index);
	if (ret < 0)
		goto out;
	in_tx = true;

	bool first_sync = mb->uidvalidity == 0;
	if (!first_sync && ul.uidvalidity != mb->uidvalidity) {
		log_warn("maildir %s: %s: UIDVALIDITY changed %u -> %u, reindexing",
			 user->name, mb->name, mb->uidvalidity, ul.uidvalidity);
		ret = index_msgs_get(user->index, mb->id, &msgs, &n_msgs);
		for (size_t i = 0; ret == 0 && i < n_msgs; i++)
			ret = index_msg_expunge(user->index, mb->id, msgs[i].rec.uid, mb->highest_modseq + 1);
		index_msgs_free(msgs, n_msgs);
		msgs = NULL;
		n_msgs = 0;
		mb->uidnext = 1;
		mb->first_recent_uid = 1;
	}
	mb->uidvalidity = ul.uidvalidity;
	if (ul.guid[0] != '\0')
		memcpy(mb->guid, ul.guid, sizeof(mb->guid));
	if (ret == 0)
		ret = index_msgs_get(user->index, mb->id, &msgs, &n_msgs);
	if (ret == 0)
		ret = index_keywords_get(user->index, mb->id, &names, &n_names);
	if (ret < 0)
		goto out;
	names = om_reallocarray(names, n_names + MAILDIR_MAX_KEYWORDS, sizeof(*names));
	/* every name in dovecot-keywords, in its order: after an index rebuild
	 * the index numbers them as the file does */
	uint64_t all_kw;
	ret = maildir_keywords_from_letters(user, mb->id, &kw, names, &n_names,
					    (1u << MAILDIR_MAX_KEYWORDS) - 1, &all_kw);
	if (ret < 0)
		goto out;

	if (ctx.n > 1)
		qsort(ctx.ents, ctx.n, sizeof(*ctx.ents), ent_uid_cmp);
	uint64_t modseq = mb->highest_modseq + 1;
	bool changed = false;
	size_t mi = 0;
	uint32_t max_uid = 0;
	for (size_t ei = 0; ei < ctx.n && ret == 0; ei++) {
		struct sync_entry *e = &ctx.ents[ei];
		if (e->uid == 0)
			continue;
		max_uid = e->uid;
		for (; mi < n_msgs && msgs[mi].rec.uid < e->uid && ret == 0; mi++) {
			ret = index_msg_expunge(user->index, mb->id, msgs[mi].rec.uid, modseq);
			changed = true;
		}
		if (ret < 0)
			break;
		struct maildir_filename fn;
		maildir_filename_parse(e->fname, &fn);
		uint64_t kwbits = 0;
		ret = maildir_keywords_from_letters(user, mb->id, &kw, names, &n_names, fn.kw_letters, &kwbits);
		if (ret < 0)
			break;
		if (mi < n_msgs && msgs[mi].rec.uid == e->uid) {
			struct index_msg *m = &msgs[mi++];
			if (strcmp(m->ddata, e->ddata) == 0)
				continue;
			bool flags_changed = m->rec.flags != fn.flags || m->rec.keywords != kwbits;
			free(m->ddata);
			m->ddata = om_strdup(e->ddata);
			if (flags_changed) {
				m->rec.flags = fn.flags;
				m->rec.keywords = kwbits;
				m->rec.modseq = modseq;
				changed = true;
			}
			ret = index_msg_update(user->index, mb->id, m);
			continue;
		}
		/* a file the index doesn't know yet */
		struct index_msg nm = { .rec = { .uid = e->uid, .flags = fn.flags, .keywords = kwbits,
						 .modseq = modseq } };
		int r = msg_size(&ctx, e, &fn, &nm.rec.size, &nm.rec.internal_date);
		if (r == -OM_ENOTFOUND)
			continue; /* expunged meanwhile */
		if (r < 0) {
			ret = r;
			break;
		}
		struct uidlist_rec key = { .uid = e->uid };
		const struct uidlist_rec *rec = ul.n == 0 ? NULL :
			bsearch(&key, ul.recs, ul.n, sizeof(*ul.recs), rec_uid_cmp);
		if (rec != NULL && rec->guid[0] != '\0')
			memcpy(nm.rec.guid, rec->guid, sizeof(nm.rec.guid));
		else
			maildir_guid_from_base(e->fname, e->base_len, nm.rec.guid);
		nm.ddata = e->ddata;
		ret = index_msg_add(user->index, mb->id, &nm);
		changed = true;
	}
	for (; mi < n_msgs && ret == 0; mi++) {
		ret = index_msg_expunge(user->index, mb->id, msgs[mi].rec.uid, modseq);
		changed = true;
	}
	if (ret < 0)
		goto out;
	if (ul.nextuid > mb->uidnext)
		mb->uidnext = ul.nextuid;
	if (max_uid >= mb->uidnext)
		mb->uidnext = max_uid + 1;
	if (first_sync)
		mb->first_recent_uid = mb->uidnext; /* what was there before isn't new */
	if (changed)
		mb->highest_modseq = modseq;
	/* our own uidlist write changed the stamp: take it afresh */
	buf_reset(&state);
	sync_state(dir.data, &state, &settled);
	free(mb->sync_state);
	mb->sync_state = om_strdup(state.data);
	ret = index_mailbox_update(user->index, mb);
	if (ret == 0)
		ret = index_commit(user->index);
	in_tx = false;
out:
	if (in_tx)
		index_rollback(user->index);
	for (size_t i = 0; i < ctx.n; i++)
		free(ctx.ents[i].ddata);
	free(ctx.ents);
	index_msgs_free(msgs, n_msgs);
	mail_names_free(names, n_names);
	maildir_keywords_free(&kw);
	uidlist_free(&ul);
	buf_free(&dir);
	buf_free(&state);
	return ret;
}
