/* Message operations of the driver-independent layer: open/sync a mailbox,
 * append, store, expunge, copy/move, read, cache. Each takes the user lock,
 * calls the driver for the store side and writes the index rows, bumping the
 * mailbox's modseq once per operation. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/fts.h"
#include "storage/mail-storage-private.h"

int mailbox_open(struct mail_user *user, const char *name, bool readonly, struct mailbox **box_r)
{
	struct buf norm = BUF_INIT;
	*box_r = NULL;
	int ret = mail_name_normalize(name, &norm);
	if (ret < 0) {
		buf_free(&norm);
		return ret;
	}
	mail_user_lock(user);
	struct index_mailbox mb;
	ret = mail_user_find_mailbox(user, norm.data, &mb);
	if (ret == 0) {
		struct mailbox *box = om_calloc(1, sizeof(*box));
		box->user = user;
		box->id = mb.id;
		box->name = buf_steal(&norm);
		box->readonly = readonly;
		index_mailbox_clear(&mb);
		*box_r = box;
	} else if (ret == -OM_ENOTFOUND) {
		struct index_mailbox *mbs;
		size_t n;
		if (index_mailbox_list(user->index, &mbs, &n) == 0) {
			for (size_t i = 0; i < n; i++) {
				if (mail_name_is_child(mbs[i].name, norm.data))
					ret = -OM_EPERM;
			}
			index_mailboxes_free(mbs, n);
		}
	}
	mail_user_unlock(user);
	if (ret == 0)
		mail_user_ref(user);
	buf_free(&norm);
	return ret;
}

void mailbox_close(struct mailbox *box)
{
	if (box == NULL)
		return;
	mail_user_unref(box->user);
	free(box->name);
	free(box);
}

const char *mailbox_name(const struct mailbox *box)
{
	return box->name;
}

struct mail_user *mailbox_user(const struct mailbox *box)
{
	return box->user;
}

/* The box's index row, by id: a rename by another session keeps it. */
static int box_get(struct mailbox *box, struct index_mailbox *mb_r)
{
	int ret = index_mailbox_get_by_id(box->user->index, box->id, mb_r);
	if (ret == 0 && strcmp(mb_r->name, box->name) != 0) {
		free(box->name);
		box->name = om_strdup(mb_r->name);
	}
	return ret;
}

int mailbox_sync(struct mailbox *box, struct mailbox_snapshot **snap_r)
{
	struct mail_user *user = box->user;
	struct index_mailbox mb = { 0 };
	*snap_r = NULL;
	mail_user_lock(user);
	int ret = box_get(box, &mb);
	if (ret == 0)
		ret = user->ops->mailbox_sync(user, &mb);
	struct mailbox_snapshot *snap = NULL;
	if (ret == 0) {
		snap = om_calloc(1, sizeof(*snap));
		if (!box->readonly && mb.first_recent_uid < mb.uidnext) {
			snap->recent_lo = mb.first_recent_uid;
			snap->recent_hi = mb.uidnext;
			mb.first_recent_uid = mb.uidnext;
			ret = index_mailbox_update(user->index, &mb);
		}
	}
	struct index_msg *msgs = NULL;
	size_t n = 0;
	if (ret == 0)
		ret = index_msgs_get(user->index, mb.id, &msgs, &n);
	if (ret == 0)
		ret = index_keywords_get(user->index, mb.id, &snap->keywords, &snap->n_keywords);
	if (ret == 0) {
		snap->uidvalidity = mb.uidvalidity;
		snap->uidnext = mb.uidnext;
		snap->highest_modseq = mb.highest_modseq;
		snap->count = n;
		snap->recs = om_calloc(n, sizeof(*snap->recs));
		for (size_t i = 0; i < n; i++)
			snap->recs[i] = msgs[i].rec;
		*snap_r = snap;
		snap = NULL;
	}
	index_msgs_free(msgs, n);
	index_mailbox_clear(&mb);
	mail_user_unlock(user);
	mailbox_snapshot_free(snap);
	return ret;
}

void mailbox_snapshot_free(struct mailbox_snapshot *snap)
{
	if (snap == NULL)
		return;
	mail_names_free(snap->keywords, snap->n_keywords);
	free(snap->recs);
	free(snap);
}

int mailbox_keywords(struct mailbox *box, char ***names_r, size_t *n_r)
{
	mail_user_lock(box->user);
	int ret = index_keywords_get(box->user->index, box->id, names_r, n_r);
	mail_user_unlock(box->user);
	return ret;
}

/* Keyword names -> bits of mailbox_id's keywords; unknown names are added
 * when create is set, skipped otherwise. */
static int keywords_resolve(struct mail_user *user, int64_t mailbox_id, const char *const *kws,
			    size_t n_kws, bool create, uint64_t *mask_r)
{
	char **names;
	size_t n;
	*mask_r = 0;
	int ret = index_keywords_get(user->index, mailbox_id, &names, &n);
	if (ret < 0)
		return ret;
	unsigned limit = user->ops->max_keywords < MAIL_MAX_KEYWORDS ? user->ops->max_keywords
								     : MAIL_MAX_KEYWORDS;
	for (size_t i = 0; i < n_kws && ret == 0; i++) {
		if (!mail_keyword_valid(kws[i])) {
			ret = -OM_EINVAL;
			break;
		}
		size_t k;
		for (k = 0; k < n; k++) {
			if (om_str_ieq(names[k], kws[i]))
				break;
		}
		if (k == n) {
			if (!create)
				continue;
			if (n >= limit) {
				mail_user_set_error(user, "too many keywords in mailbox (max %u)", limit);
				ret = -OM_ELIMIT;
				break;
			}
			ret = index_keyword_add(user->index, mailbox_id, (unsigned)n, kws[i]);
			if (ret < 0)
				break;
			names = om_reallocarray(names, n + 1, sizeof(*names));
			names[n++] = om_strdup(kws[i]);
		}
		*mask_r |= UINT64_C(1) << k;
	}
	mail_names_free(names, n);
	return ret;
}

/* Runs under the user lock, in the same locked section as the save, so
 * concurrent deliveries can't both pass on the last free byte/message. */
static int quota_check(struct mail_user *user, uint64_t more, uint64_t more_msgs)
{
	if (user->quota_limit == 0 && user->quota_messages == 0)
		return 0;
	uint64_t used, count;
	int ret = index_quota_usage(user->index, &used, &count);
	if (ret < 0)
		return ret;
	if (user->quota_limit > 0 &&
	    (used + more > user->quota_limit || used + more < used))
		return -OM_EQUOTA;
	if (user->quota_messages > 0 && count + more_msgs > user->quota_messages)
		return -OM_EQUOTA;
	return 0;
}

int mailbox_append(struct mail_user *user, const char *mailbox, const struct mail_save *save,
		   uint32_t *uidvalidity_r, uint32_t *uid_r)
{
	struct buf norm = BUF_INIT, lf = BUF_INIT;
	struct index_mailbox mb = { 0 };
	struct index_msg msg = { 0 };
	struct fts_doc fdoc;
	struct mail_sort_fields fsort;
	bool have_fts = false;
	void *prep = NULL;
	bool stored = false;
	int ret = mail_name_normalize(mailbox, &norm);
	if (ret < 0)
		goto out_nolock;
	if ((save->flags & ~MAIL_FLAGS_STORED) != 0 || save->n_keywords > MAIL_MAX_KEYWORDS) {
		ret = -OM_EINVAL;
		goto out_nolock;
	}
	if (user->max_size > 0 && save->len / 2 > user->max_size) {
		ret = -OM_ELIMIT;
		goto out_nolock;
	}
	struct mail_save_req req = {
		.flags = save->flags,
		.internal_date = save->internal_date != 0 ? save->internal_date : (int64_t)time(NULL),
		.internal_tz = save->internal_tz,
	};
	req.vsize = mail_data_to_lf(save->data, save->len, &lf);
	req.data = lf.data != NULL ? lf.data : "";
	req.len = lf.len;
	if (user->max_size > 0 && req.vsize > user->max_size) {
		ret = -OM_ELIMIT;
		goto out_nolock;
	}

	/* full-text rows and sort fields, parsed before taking the lock */
	fts_build(req.data, req.len, &fdoc, &fsort);
	have_fts = true;

	if (user->ops->msg_upload != NULL) {
		/* the slow store write outside the lock: a user's deliveries overlap */
		ret = user->ops->msg_upload(user, norm.data, save, &req, &prep);
		if (ret < 0)
			goto out_nolock;
		req.prep = prep;
	}

	mail_user_lock(user);
	ret = mail_user_find_mailbox(user, norm.data, &mb);
	if (ret == 0 && mb.uidvalidity == 0)
		ret = user->ops->mailbox_sync(user, &mb); /* learn what is there first */
	if (ret == 0)
		ret = quota_check(user, req.vsize, 1);
	if (ret == 0)
		ret = index_begin(user->index);
	if (ret < 0)
		goto out;
	ret = keywords_resolve(user, mb.id, save->keywords, save->n_keywords, true, &req.keywords);
	if (ret == 0)
		ret = user->ops->msg_save(user, &mb, &req, &msg);
	stored = ret == 0;
	if (ret == 0) {
		msg.rec.modseq = ++mb.highest_modseq;
		if (msg.rec.uid >= mb.uidnext)
			mb.uidnext = msg.rec.uid + 1;
		ret = index_msg_add(user->index, mb.id, &msg);
		if (ret == 0 && fts_put_locked(user->index, mb.id, msg.rec.uid, &fdoc, &fsort) < 0)
			log_warn("storage %s: full-text indexing of UID %u failed (done later)",
				 user->name, msg.rec.uid);
		if (ret == 0)
			ret = index_mailbox_update(user->index, &mb);
		if (ret == 0)
			ret = index_commit(user->index);
		if (ret < 0) {
			/* The message is in the store; the next sync indexes it. */
			log_error("storage %s: %s: indexing appended UID %u failed",
				  user->name, norm.data, msg.rec.uid);
		}
	}
	if (ret < 0)
		index_rollback(user->index);
	else {
		*uidvalidity_r = mb.uidvalidity;
		*uid_r = msg.rec.uid;
	}
out:
	mail_user_unlock(user);
	if (ret == 0)
		mail_user_notify(user, norm.data);
out_nolock:
	if (prep != NULL)
		user->ops->msg_upload_done(user, prep, stored);
	if (have_fts) {
		fts_doc_free(&fdoc);
		mail_sort_fields_free(&fsort);
	}
	index_msg_clear(&msg);
	index_mailbox_clear(&mb);
	buf_free(&norm);
	buf_free(&lf);
	return ret;
}

static uint32_t apply_flags(enum mail_flag_op op, uint32_t cur, uint32_t change)
{
	switch (op) {
	case MAIL_FLAGS_REPLACE: return change;
	case MAIL_FLAGS_ADD: return cur | change;
	case MAIL_FLAGS_REMOVE: return cur & ~change;
	}
	return cur;
}

static uint64_t apply_keywords(enum mail_flag_op op, uint64_t cur, uint64_t change)
{
	switch (op) {
	case MAIL_FLAGS_REPLACE: return change;
	case MAIL_FLAGS_ADD: return cur | change;
	case MAIL_FLAGS_REMOVE: return cur & ~change;
	}
	return cur;
}

/* unchangedsince: UINT64_MAX = unconditional; else messages whose modseq
 * is above it are left alone and listed in *failed_r (CONDSTORE). */
static int store_impl(struct mailbox *box, const uint32_t *uids, size_t n_uids,
		      enum mail_flag_op op, uint32_t flags,
		      const char *const *keywords, size_t n_keywords,
		      uint64_t unchangedsince, uint32_t **failed_r, size_t *n_failed_r,
		      struct mail_rec **recs_r, size_t *n_r)
{
	struct mail_user *user = box->user;
	struct index_mailbox mb = { 0 };
	uint32_t *failed = NULL;
	size_t n_failed = 0;
	*recs_r = NULL;
	*n_r = 0;
	if (box->readonly)
		return -OM_EPERM;
	if ((flags & ~(MAIL_FLAGS_STORED | MAIL_RECENT)) != 0 || n_keywords > MAIL_MAX_KEYWORDS)
		return -OM_EINVAL;
	flags &= MAIL_FLAGS_STORED;

	mail_user_lock(user);
	int ret = box_get(box, &mb);
	if (ret == 0)
		ret = index_begin(user->index);
	if (ret < 0) {
		mail_user_unlock(user);
		index_mailbox_clear(&mb);
		return ret;
	}
	uint64_t kw_mask = 0;
	ret = keywords_resolve(user, mb.id, keywords, n_keywords, op != MAIL_FLAGS_REMOVE, &kw_mask);
	struct mail_rec *recs = om_calloc(n_uids, sizeof(*recs));
	size_t n = 0;
	uint64_t modseq = mb.highest_modseq + 1;
	bool changed = false;
	for (size_t i = 0; i < n_uids && ret == 0; i++) {
		struct index_msg msg;
		int r = index_msg_get(user->index, mb.id, uids[i], &msg);
		if (r == -OM_ENOTFOUND)
			continue;
		if (r < 0) {
			ret = r;
			break;
		}
		if (unchangedsince != UINT64_MAX && msg.rec.modseq > unchangedsince) {
			if (failed == NULL)
				failed = om_calloc(n_uids, sizeof(*failed));
			failed[n_failed++] = uids[i];
			index_msg_clear(&msg);
			continue;
		}
		uint32_t nf = apply_flags(op, msg.rec.flags, flags);
		uint64_t nk = apply_keywords(op, msg.rec.keywords, kw_mask);
		if (nf != msg.rec.flags || nk != msg.rec.keywords) {
			r = user->ops->msg_set_flags(user, &mb, &msg, nf, nk);
			if (r == -OM_ENOTFOUND) {
				index_msg_clear(&msg);
				continue;
			}
			if (r == 0) {
				msg.rec.flags = nf;
				msg.rec.keywords = nk;
				msg.rec.modseq = modseq;
				r = index_msg_update(user->index, mb.id, &msg);
				changed = true;
			}
			if (r < 0) {
				index_msg_clear(&msg);
				ret = r;
				break;
			}
		}
		recs[n++] = msg.rec;
		index_msg_clear(&msg);
	}
	if (ret == 0 && changed) {
		mb.highest_modseq = modseq;
		ret = index_mailbox_update(user->index, &mb);
	}
	if (ret == 0)
		ret = index_commit(user->index);
	if (ret < 0)
		index_rollback(user->index);
	mail_user_unlock(user);
	index_mailbox_clear(&mb);
	if (ret < 0) {
		free(recs);
		free(failed);
		return ret;
	}
	if (changed)
		mail_user_notify(user, box->name);
	*recs_r = recs;
	*n_r = n;
	if (failed_r != NULL) {
		*failed_r = failed;
		*n_failed_r = n_failed;
	} else {
		free(failed);
	}
	return 0;
}

int mailbox_store(struct mailbox *box, const uint32_t *uids, size_t n_uids,
		  enum mail_flag_op op, uint32_t flags,
		  const char *const *keywords, size_t n_keywords,
		  struct mail_rec **recs_r, size_t *n_r)
{
	return store_impl(box, uids, n_uids, op, flags, keywords, n_keywords, UINT64_MAX,
			  NULL, NULL, recs_r, n_r);
}

int mailbox_store_unchanged(struct mailbox *box, const uint32_t *uids, size_t n_uids,
			    uint64_t unchangedsince, enum mail_flag_op op, uint32_t flags,
			    const char *const *keywords, size_t n_keywords,
			    struct mail_rec **recs_r, size_t *n_r,
			    uint32_t **failed_r, size_t *n_failed_r)
{
	*failed_r = NULL;
	*n_failed_r = 0;
	if (unchangedsince == UINT64_MAX)
		unchangedsince--; /* UINT64_MAX means "no condition" inside */
	return store_impl(box, uids, n_uids, op, flags, keywords, n_keywords, unchangedsince,
			  failed_r, n_failed_r, recs_r, n_r);
}

int mailbox_vanished_since(struct mailbox *box, uint64_t modseq, uint32_t **uids_r, size_t *n_r)
{
	mail_user_lock(box->user);
	int ret = index_expunged_since(box->user->index, box->id, modseq, uids_r, n_r);
	mail_user_unlock(box->user);
	return ret;
}

int mailbox_vanished(struct mailbox *box, uint64_t modseq, uint32_t **uids_r, size_t *n_r,
		     uint32_t *forgot_max_r)
{
	*forgot_max_r = 0;
	mail_user_lock(box->user);
	int ret = index_expunged_since(box->user->index, box->id, modseq, uids_r, n_r);
	uint64_t floor_modseq = 0;
	uint32_t floor_uid = 0;
	if (ret == 0)
		ret = index_expunged_floor(box->user->index, box->id, &floor_modseq, &floor_uid);
	mail_user_unlock(box->user);
	if (ret == 0 && modseq < floor_modseq)
		*forgot_max_r = floor_uid;
	if (ret < 0) {
		free(*uids_r);
		*uids_r = NULL;
		*n_r = 0;
	}
	return ret;
}

/* Expunge uids from mb (user locked, inside a transaction). */
static int expunge_locked(struct mail_user *user, struct index_mailbox *mb,
			  const uint32_t *uids, size_t n_uids, bool *changed_r)
{
	uint64_t modseq = mb->highest_modseq + 1;
	int ret = 0;
	for (size_t i = 0; i < n_uids && ret == 0; i++) {
		struct index_msg msg;
		int r = index_msg_get(user->index, mb->id, uids[i], &msg);
		if (r == -OM_ENOTFOUND)
			continue;
		if (r == 0)
			r = user->ops->msg_expunge(user, mb, &msg);
		if (r == 0 || r == -OM_ENOTFOUND) {
			r = index_msg_expunge(user->index, mb->id, uids[i], modseq);
			*changed_r = true;
		}
		index_msg_clear(&msg);
		ret = r;
	}
	if (*changed_r && ret == 0) {
		mb->highest_modseq = modseq;
		ret = index_mailbox_update(user->index, mb);
	}
	return ret;
}

int mailbox_expunge(struct mailbox *box, const uint32_t *uids, size_t n_uids)
{
	struct mail_user *user = box->user;
	struct index_mailbox mb = { 0 };
	bool changed = false;
	if (box->readonly)
		return -OM_EPERM;
	mail_user_lock(user);
	int ret = box_get(box, &mb);
	if (ret == 0)
		ret = index_begin(user->index);
	if (ret == 0) {
		ret = expunge_locked(user, &mb, uids, n_uids, &changed);
		if (ret == 0)
			ret = index_commit(user->index);
		if (ret < 0)
			index_rollback(user->index);
	}
	mail_user_unlock(user);
	index_mailbox_clear(&mb);
	if (ret == 0 && changed)
		mail_user_notify(user, box->name);
	return ret;
}

/* Source keyword bits -> destination bits (adding names to dst). */
static int keywords_map(struct mail_user *user, char **src_names, size_t n_src, int64_t dst_id,
			uint64_t src_mask, uint64_t *dst_mask_r)
{
	const char *kws[MAIL_MAX_KEYWORDS];
	size_t n = 0;
	for (size_t k = 0; k < n_src && k < MAIL_MAX_KEYWORDS; k++) {
		if (src_mask & (UINT64_C(1) << k))
			kws[n++] = src_names[k];
	}
	return keywords_resolve(user, dst_id, kws, n, true, dst_mask_r);
}

int mailbox_copy(struct mailbox *src, const uint32_t *uids, size_t n_uids,
		 const char *dest, bool move, uint32_t *dst_uidvalidity_r,
		 uint32_t **src_uids_r, uint32_t **dst_uids_r, size_t *n_r)
{
	struct mail_user *user = src->user;
	struct index_mailbox smb = { 0 }, dmb = { 0 };
	struct buf norm = BUF_INIT;
	char **src_kws = NULL;
	size_t n_src_kws = 0;
	bool src_changed = false;
	*src_uids_r = NULL;
	*dst_uids_r = NULL;
	*n_r = 0;
	if (move && src->readonly)
		return -OM_EPERM;
	int ret = mail_name_normalize(dest, &norm);
	if (ret < 0) {
		buf_free(&norm);
		return ret;
	}
	uint32_t *su = om_calloc(n_uids, sizeof(*su));
	uint32_t *du = om_calloc(n_uids, sizeof(*du));
	size_t n = 0;

	mail_user_lock(user);
	ret = box_get(src, &smb);
	if (ret == 0)
		ret = mail_user_find_mailbox(user, norm.data, &dmb);
	if (ret == 0 && dmb.uidvalidity == 0)
		ret = user->ops->mailbox_sync(user, &dmb);
	if (ret == 0 && smb.id == dmb.id) {
		/* one row, one struct: keep modseq/uidnext updates in one place */
		index_mailbox_clear(&dmb);
		ret = index_mailbox_get_by_id(user->index, smb.id, &dmb);
	}
	if (ret == 0)
		ret = index_keywords_get(user->index, smb.id, &src_kws, &n_src_kws);
	if (ret == 0 && !move && (user->quota_limit > 0 || user->quota_messages > 0)) {
		uint64_t total = 0, count = 0;
		for (size_t i = 0; i < n_uids; i++) {
			struct index_msg msg;
			if (index_msg_get(user->index, smb.id, uids[i], &msg) == 0) {
				total += msg.rec.size;
				count++;
				index_msg_clear(&msg);
			}
		}
		ret = quota_check(user, total, count);
	}
	if (ret == 0)
		ret = index_begin(user->index);
	if (ret < 0)
		goto out;
	uint64_t dst_modseq = dmb.highest_modseq + 1;
	for (size_t i = 0; i < n_uids && ret == 0; i++) {
		struct index_msg msg, copy = { 0 };
		int r = index_msg_get(user->index, smb.id, uids[i], &msg);
		if (r == -OM_ENOTFOUND)
			continue;
		uint64_t kw = 0;
		if (r == 0)
			r = keywords_map(user, src_kws, n_src_kws, dmb.id, msg.rec.keywords, &kw);
		if (r == 0)
			r = user->ops->msg_copy(user, &smb, &msg, &dmb, msg.rec.flags, kw, &copy);
		if (r == -OM_ENOTFOUND) {
			index_msg_clear(&msg);
			continue;
		}
		if (r == 0) {
			copy.rec.modseq = dst_modseq;
			if (copy.rec.uid >= dmb.uidnext)
				dmb.uidnext = copy.rec.uid + 1;
			r = index_msg_add(user->index, dmb.id, &copy);
			if (r == 0 && fts_copy_locked(user->index, smb.id, msg.rec.uid, dmb.id,
						      copy.rec.uid) < 0)
				log_warn("storage %s: copying full-text rows of UID %u failed",
					 user->name, msg.rec.uid);
		}
		if (r == 0) {
			su[n] = msg.rec.uid;
			du[n] = copy.rec.uid;
			n++;
		}
		index_msg_clear(&copy);
		index_msg_clear(&msg);
		ret = r;
	}
	if (ret == 0 && n > 0) {
		dmb.highest_modseq = dst_modseq;
		ret = index_mailbox_update(user->index, &dmb);
	}
	if (ret == 0 && move && n > 0) {
		if (smb.id == dmb.id) {
			index_mailbox_clear(&smb);
			ret = index_mailbox_get_by_id(user->index, dmb.id, &smb);
		}
		if (ret == 0)
			ret = expunge_locked(user, &smb, su, n, &src_changed);
	}
	if (ret == 0)
		ret = index_commit(user->index);
	if (ret < 0)
		index_rollback(user->index);
	else
		*dst_uidvalidity_r = dmb.uidvalidity;
out:
	mail_user_unlock(user);
	if (ret == 0 && n > 0) {
		mail_user_notify(user, norm.data);
		if (src_changed)
			mail_user_notify(user, src->name);
	}
	mail_names_free(src_kws, n_src_kws);
	index_mailbox_clear(&smb);
	index_mailbox_clear(&dmb);
	buf_free(&norm);
	if (ret < 0) {
		free(su);
		free(du);
		return ret;
	}
	*src_uids_r = su;
	*dst_uids_r = du;
	*n_r = n;
	return 0;
}

int mailbox_msg_open(struct mailbox *box, uint32_t uid, struct mail_data *out)
{
	struct mail_user *user = box->user;
	struct index_mailbox mb = { 0 };
	struct index_msg msg = { 0 };
	struct buf raw = BUF_INIT;
	memset(out, 0, sizeof(*out));
	mail_user_lock(user);
	int ret = box_get(box, &mb);
	if (ret == 0)
		ret = index_msg_get(user->index, mb.id, uid, &msg);
	if (ret == 0)
		ret = user->ops->msg_read(user, &mb, &msg, &raw);
	mail_user_unlock(user);
	if (ret == 0) {
		struct buf *crlf = om_calloc(1, sizeof(*crlf));
		mail_data_to_crlf(raw.data != NULL ? raw.data : "", raw.len, crlf);
		if (crlf->data == NULL)
			buf_append(crlf, "", 0);
		out->data = crlf->data;
		out->len = crlf->len;
		out->priv = crlf;
	}
	buf_free(&raw);
	index_msg_clear(&msg);
	index_mailbox_clear(&mb);
	return ret;
}

int mailbox_msg_prefetch(struct mailbox *box, const uint32_t *uids, size_t n_uids)
{
	struct mail_user *user = box->user;
	if (user->ops->msg_prefetch == NULL || n_uids < 2)
		return 0;
	struct index_msg *msgs = om_calloc(n_uids, sizeof(*msgs));
	size_t n = 0;
	mail_user_lock(user);
	for (size_t i = 0; i < n_uids; i++) {
		if (index_msg_get(user->index, box->id, uids[i], &msgs[n]) == 0)
			n++;
	}
	mail_user_unlock(user);
	int ret = n > 0 ? user->ops->msg_prefetch(user, msgs, n) : 0;
	index_msgs_free(msgs, n);
	return ret;
}

void mail_data_release(struct mail_data *md)
{
	if (md == NULL || md->priv == NULL)
		return;
	struct buf *b = md->priv;
	buf_free(b);
	free(b);
	memset(md, 0, sizeof(*md));
}

int mailbox_cache_get(struct mailbox *box, uint32_t uid, const char *field, struct buf *out)
{
	mail_user_lock(box->user);
	int ret = index_cache_get(box->user->index, box->id, uid, field, out);
	mail_user_unlock(box->user);
	return ret;
}

void mailbox_cache_put(struct mailbox *box, uint32_t uid, const char *field, const char *data, size_t len)
{
	mail_user_lock(box->user);
	struct index_msg msg;
	/* Only for messages that exist, so expunge cleans every row. */
	if (index_msg_get(box->user->index, box->id, uid, &msg) == 0) {
		(void)index_cache_put(box->user->index, box->id, uid, field, data, len);
		index_msg_clear(&msg);
	}
	mail_user_unlock(box->user);
}
