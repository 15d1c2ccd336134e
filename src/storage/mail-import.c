/* Imports that keep the source's UIDs (objmail import maildir|imap).
 *
 * Drivers pick a new message's UID from the mailbox's UIDNEXT (obox) or
 * from max(uidlist N, UIDNEXT) (maildir), so raising UIDNEXT right before
 * an append gives the message the UID wanted. UIDVALIDITY lives in the
 * index row (both drivers), in dovecot-uidlist (maildir) and in the next
 * index bundle (obox: the user is marked dirty so the bundle carrying it
 * is uploaded). */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/maildir/maildir.h"
#include "storage/mail-storage-private.h"
#include "storage/obox/obox.h"

/* maildir: write the new UIDVALIDITY into dovecot-uidlist too, else its
 * next sync would see a mismatch and renumber. */
static int maildir_set_uidvalidity(struct mail_user *user, const char *name, uint32_t uidvalidity,
				   uint32_t uidnext)
{
	struct buf dir = BUF_INIT, lock = BUF_INIT;
	int ret = maildir_mailbox_dir(user, name, &dir);
	if (ret < 0)
		goto out;
	buf_printf(&lock, "%s/" MAILDIR_UIDLIST, dir.data);
	ret = dotlock_take(lock.data);
	if (ret < 0)
		goto out;
	struct uidlist ul = { 0 };
	ret = uidlist_read(dir.data, &ul);
	if (ret == 0) {
		if (!ul.exists) {
			ul.version = 3;
			maildir_guid_random(ul.guid);
		}
		ul.uidvalidity = uidvalidity;
		if (ul.nextuid < uidnext || ul.n == 0)
			ul.nextuid = uidnext;
		ret = uidlist_write_locked(dir.data, &ul);
	}
	uidlist_free(&ul);
	dotlock_release(lock.data);
out:
	buf_free(&dir);
	buf_free(&lock);
	return ret;
}

int mail_user_set_mailbox_uids(struct mail_user *user, const char *mailbox,
			       uint32_t uidvalidity, uint32_t uidnext)
{
	struct buf norm = BUF_INIT;
	struct index_mailbox mb = { 0 };
	int ret = mail_name_normalize(mailbox, &norm);
	if (ret < 0) {
		buf_free(&norm);
		return ret;
	}
	mail_user_lock(user);
	ret = mail_user_find_mailbox(user, norm.data, &mb);
	if (ret == 0 && mb.uidvalidity == 0)
		ret = user->ops->mailbox_sync(user, &mb);
	if (ret < 0)
		goto out;
	bool changed = false;
	if (uidvalidity != 0 && uidvalidity != mb.uidvalidity) {
		struct index_msg *msgs = NULL;
		size_t n = 0;
		ret = index_msgs_get(user->index, mb.id, &msgs, &n);
		if (ret < 0)
			goto out;
		index_msgs_free(msgs, n);
		if (n > 0) {
			ret = -OM_EEXISTS;
			goto out;
		}
		/* a new UID space: its UIDNEXT starts afresh */
		uint32_t next = uidnext > 0 ? uidnext : 1;
		if (user->ops == &maildir_storage_ops) {
			ret = maildir_set_uidvalidity(user, norm.data, uidvalidity, next);
			if (ret < 0)
				goto out;
		}
		mb.uidvalidity = uidvalidity;
		mb.uidnext = next;
		mb.first_recent_uid = next;
		free(mb.sync_state);
		mb.sync_state = NULL; /* maildir: rescan against the new uidlist */
		changed = true;
	} else if (uidnext > mb.uidnext) {
		mb.uidnext = uidnext;
		changed = true;
	}
	if (changed) {
		ret = index_mailbox_update(user->index, &mb);
		if (ret == 0 && user->ops == &obox_storage_ops)
			obox_user(user)->dirty = true;
	}
out:
	mail_user_unlock(user);
	index_mailbox_clear(&mb);
	buf_free(&norm);
	return ret;
}

int mailbox_append_with_uid(struct mail_user *user, const char *mailbox,
			    const struct mail_save *save, uint32_t uid)
{
	struct mailbox_status st;
	int ret = mail_user_mailbox_status(user, mailbox, &st);
	if (ret < 0)
		return ret;
	if (uid < st.uidnext)
		return -OM_EEXISTS;
	ret = mail_user_set_mailbox_uids(user, mailbox, 0, uid);
	if (ret < 0)
		return ret;
	uint32_t uv, got;
	ret = mailbox_append(user, mailbox, save, &uv, &got);
	if (ret == 0 && got != uid) {
		log_warn("storage %s: %s: import wanted UID %u, got %u (concurrent append?)",
			 mail_user_name(user), mailbox, uid, got);
	}
	return ret;
}

int mail_user_meta_get(struct mail_user *user, const char *key, struct buf *value)
{
	mail_user_lock(user);
	int ret = index_meta_get(user->index, key, value);
	mail_user_unlock(user);
	return ret;
}

int mail_user_meta_set(struct mail_user *user, const char *key, const char *value)
{
	mail_user_lock(user);
	int ret = index_meta_set(user->index, key, value);
	if (ret == 0 && user->ops == &obox_storage_ops)
		obox_user(user)->dirty = true;
	mail_user_unlock(user);
	return ret;
}
