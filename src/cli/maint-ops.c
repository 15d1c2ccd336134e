/* objmail force-resync and fts rescan on one user (maint-ops.h), for the
 * tool (offline) and objmaild (live). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/passdb.h"
#include "cli/cli-mail.h"
#include "cli/cli.h"
#include "cli/import.h"
#include "cli/maint-ops.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/fts.h"
#include "storage/mail-storage-private.h"

struct maint_counts {
	unsigned long mailboxes, messages;
};

static int64_t maint_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Under the user lock; with sync, each mailbox is synced from the store
 * first (maildir: that is the rebuild). */
static int count_locked(struct mail_user *user, bool sync, struct maint_counts *c)
{
	struct index_mailbox *mbs = NULL;
	size_t n_mbs = 0;
	int ret = index_mailbox_list(user->index, &mbs, &n_mbs);
	c->mailboxes = n_mbs;
	for (size_t i = 0; i < n_mbs && ret == 0; i++) {
		if (sync)
			ret = user->ops->mailbox_sync(user, &mbs[i]);
		struct index_msg *msgs = NULL;
		size_t n = 0;
		if (ret == 0)
			ret = index_msgs_get(user->index, mbs[i].id, &msgs, &n);
		c->messages += n;
		index_msgs_free(msgs, n);
	}
	index_mailboxes_free(mbs, n_mbs);
	return ret;
}

static void unlink_index_files(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	struct buf p = BUF_INIT;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		buf_reset(&p);
		buf_printf(&p, "%s%s", path, sfx[i]);
		if (unlink(p.data) < 0 && errno != ENOENT)
			log_warn("force-resync: unlink %s: %s", p.data, strerror(errno));
	}
	buf_free(&p);
}

/* A rebuilt index counts modseqs from 1 again, and has no expunge records:
 * a CONDSTORE/QRESYNC client that synced before would be told of nothing.
 * So every mailbox that kept its UIDVALIDITY gets a HIGHESTMODSEQ above its
 * old one, every message that modseq (its flags are sent again), and an
 * expunge floor there (every UID gone is VANISHED). Under the user lock. */
static int carry_modseqs_locked(struct mail_user *user, const struct index_mailbox *old,
				size_t n_old)
{
	struct index_mailbox *mbs = NULL;
	size_t n_mbs = 0;
	int ret = index_mailbox_list(user->index, &mbs, &n_mbs);
	for (size_t i = 0; i < n_mbs && ret == 0; i++) {
		const struct index_mailbox *o = NULL;
		for (size_t j = 0; j < n_old && o == NULL; j++) {
			if (strcmp(old[j].name, mbs[i].name) == 0 && old[j].uidvalidity != 0 &&
			    old[j].uidvalidity == mbs[i].uidvalidity)
				o = &old[j];
		}
		if (o == NULL)
			continue; /* new to clients anyway */
		uint64_t base = (o->highest_modseq > mbs[i].highest_modseq ? o->highest_modseq
									   : mbs[i].highest_modseq) + 1;
		struct index_msg *msgs = NULL;
		size_t n = 0;
		ret = index_begin(user->index);
		if (ret == 0)
			ret = index_msgs_get(user->index, mbs[i].id, &msgs, &n);
		for (size_t k = 0; k < n && ret == 0; k++) {
			msgs[k].rec.modseq = base;
			ret = index_msg_update(user->index, mbs[i].id, &msgs[k]);
		}
		index_msgs_free(msgs, n);
		if (ret == 0) {
			mbs[i].highest_modseq = base;
			ret = index_mailbox_update(user->index, &mbs[i]);
		}
		if (ret == 0 && mbs[i].uidnext > 1)
			ret = index_expunged_floor_raise(user->index, mbs[i].id, base,
							 mbs[i].uidnext - 1);
		if (ret == 0)
			ret = index_commit(user->index);
		else
			index_rollback(user->index);
	}
	index_mailboxes_free(mbs, n_mbs);
	return ret;
}

/* maildir: the index only caches what the folders hold. With the user lock
 * held and no one else holding the user (openers wait for the lock), the
 * index is closed, removed and built anew as at a first open. */
static int resync_maildir(const struct om_config *cfg, const struct passdb_user *pu,
			  maint_kick_fn *kick, size_t *kicked_r, struct maint_counts *c,
			  struct buf *err)
{
	struct mail_user *user;
	int ret = mail_user_open(cfg, pu->user, pu, &user);
	if (ret < 0) {
		buf_printf(err, "user %s: opening the mail storage failed: %s", pu->user,
			   om_strerror(ret));
		return ret;
	}
	if (kick != NULL)
		*kicked_r = kick(pu->user);
	int64_t deadline = maint_mono() + MAINT_IDLE_WAIT;
	for (;;) {
		mail_user_lock(user);
		if (mail_user_refs(user) == 1)
			break;
		mail_user_unlock(user);
		if (maint_mono() >= deadline) {
			buf_printf(err, "user %s: still in use after %d seconds (sessions or "
					"deliveries); nothing was changed, try again",
				   pu->user, MAINT_IDLE_WAIT);
			mail_user_unref(user);
			return -OM_ETEMP;
		}
		usleep(100 * 1000);
	}
	char *path = om_strdup(index_path(user->index));
	/* what clients were told, if the old index can still say */
	struct index_mailbox *old = NULL;
	size_t n_old = 0;
	if (index_mailbox_list(user->index, &old, &n_old) < 0) {
		log_warn("maildir %s: force-resync: the old index is unreadable: modseqs start "
			 "again", pu->user);
		old = NULL;
		n_old = 0;
	}
	user->ops->user_deinit(user);
	unlink_index_files(path);
	log_info("maildir %s: force-resync: index %s dropped, rebuilding it from %s", pu->user,
		 path, user->root);
	user->cfg = cfg;
	ret = user->ops->user_init(user);
	user->cfg = NULL;
	if (ret == 0) {
		ret = count_locked(user, true, c);
		if (ret == 0)
			ret = carry_modseqs_locked(user, old, n_old);
		if (ret < 0)
			buf_printf(err, "user %s: rebuilding the index from %s: %s", pu->user,
				   user->root, om_strerror(ret));
	} else {
		/* no index: later openers are refused until it is closed */
		user->init_failed = true;
		buf_printf(err, "user %s: rebuilding the index %s failed: %s", pu->user, path,
			   user->last_error[0] != '\0' ? user->last_error : om_strerror(ret));
	}
	mail_user_unlock(user);
	mail_user_unref(user);
	index_mailboxes_free(old, n_old);
	free(path);
	return ret;
}

/* obox: mail_user_force_resync needs the user idle here (the flusher's
 * reference aside); sessions close shortly after the kick. */
static int resync_obox(const struct om_config *cfg, const struct passdb_user *pu,
		       maint_kick_fn *kick, size_t *kicked_r, struct maint_counts *c,
		       struct buf *err)
{
	if (kick != NULL)
		*kicked_r = kick(pu->user);
	int64_t deadline = maint_mono() + MAINT_IDLE_WAIT;
	int ret;
	while ((ret = mail_user_force_resync(cfg, pu->user)) == -OM_ETEMP &&
	       maint_mono() < deadline)
		usleep(200 * 1000);
	if (ret == -OM_ETEMP) {
		buf_printf(err, "user %s: still in use after %d seconds (sessions or deliveries), "
				"or the store is unavailable; try again",
			   pu->user, MAINT_IDLE_WAIT);
		return ret;
	}
	if (ret < 0) {
		buf_printf(err, "user %s: rebuilding the index from the store failed: %s", pu->user,
			   om_strerror(ret));
		return ret;
	}
	struct mail_user *user;
	ret = mail_user_open(cfg, pu->user, pu, &user);
	if (ret < 0) {
		buf_printf(err, "user %s: opening the rebuilt index failed: %s", pu->user,
			   om_strerror(ret));
		return ret;
	}
	mail_user_lock(user);
	ret = count_locked(user, false, c);
	mail_user_unlock(user);
	if (ret < 0)
		buf_printf(err, "user %s: reading the rebuilt index: %s", pu->user,
			   om_strerror(ret));
	mail_user_unref(user);
	return ret;
}

int maint_resync(const struct om_config *cfg, const struct passdb_user *pu,
		 maint_kick_fn *kick, bool json, struct buf *out, struct buf *err)
{
	struct maint_counts c = { 0, 0 };
	size_t kicked = 0;
	const char *loc = cfg->mail_location != NULL ? cfg->mail_location : "";
	int ret = strncmp(loc, "obox:", 5) == 0 ? resync_obox(cfg, pu, kick, &kicked, &c, err)
						: resync_maildir(cfg, pu, kick, &kicked, &c, err);
	if (ret < 0)
		return ret;
	if (json) {
		buf_append_str(out, "{\"user\":");
		cli_json_str(out, pu->user);
		buf_printf(out, ",\"mailboxes\":%lu,\"messages\":%lu,\"sessions_closed\":%zu}\n",
			   c.mailboxes, c.messages, kicked);
	} else {
		buf_printf(out, "%s: index rebuilt from the store: %lu mailboxes, %lu messages", pu->user,
			   c.mailboxes, c.messages);
		if (kicked > 0)
			buf_printf(out, "; %zu session(s) closed", kicked);
		buf_append_c(out, '\n');
	}
	return 0;
}

/* --- fts rescan --- */

struct fts_prog {
	struct cli_progress *p;
	unsigned long long done, total;
};

static bool fts_prog_report(void *ctx, unsigned long long done, unsigned long long total)
{
	struct fts_prog *fp = ctx;
	if (fp->p == NULL)
		fp->p = cli_progress_new("fts rescan", total);
	fp->done = done;
	fp->total = total;
	cli_progress_set(fp->p, done, total);
	return !cli_progress_cancelled(fp->p);
}

int maint_fts_rescan(struct mail_user *user, bool json, struct buf *out, struct buf *err)
{
	struct fts_prog fp = { NULL, 0, 0 };
	unsigned n = 0;
	const char *name = mail_user_name(user);
	int ret = fts_rescan_user_progress(user, fts_prog_report, &fp, &n);
	bool cancelled = fp.p != NULL && cli_progress_cancelled(fp.p);
	if (fp.p != NULL)
		cli_progress_done(fp.p);
	if (ret == 0) {
		/* obox: the rebuilt rows go up with the index now */
		ret = mail_storage_flush(name);
		if (ret == -OM_ENOTFOUND)
			ret = 0;
		if (ret < 0)
			buf_printf(err, "user %s: fts rescan: uploading the index: %s", name,
				   om_strerror(ret));
	} else if (cancelled) {
		buf_printf(err, "user %s: fts rescan: " IMPORT_CANCELLED " after %llu of %llu messages",
			   name, fp.done, fp.total);
	} else {
		buf_printf(err, "user %s: fts rescan: %s", name, om_strerror(ret));
	}
	if (ret < 0)
		return ret;
	if (json) {
		buf_append_str(out, "{\"user\":");
		cli_json_str(out, name);
		buf_printf(out, ",\"indexed\":%u}\n", n);
	} else {
		buf_printf(out, "%s: %u messages indexed\n", name, n);
	}
	return 0;
}
