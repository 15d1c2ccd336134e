/* The obox driver's ops table: opening and closing a user (lease, index
 * load or rebuild, first-use mailboxes) and mailbox operations. Every
 * change to the index is also queued as a change record (obox-log.c). */
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/obox/obox.h"

static const struct {
	const char *name;
	unsigned special_use;
} default_mailboxes[] = {
	{ "INBOX", 0 },
	{ "Drafts", MBOX_SPECIAL_DRAFTS },
	{ "Sent", MBOX_SPECIAL_SENT },
	{ "Trash", MBOX_SPECIAL_TRASH },
	{ "Junk", MBOX_SPECIAL_JUNK },
};

void obox_user_paths(const char *root, const char *username, struct buf *prefix_r,
		     struct buf *dir_r)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)username, strlen(username), md);
	char h[3] = { hex[md[0] >> 4], hex[md[0] & 15], '\0' };
	/* The name as a key component: printable, no '/', never "." or ".." */
	struct buf esc = BUF_INIT;
	for (const char *p = username; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    strchr("@._+-=", c) != NULL;
		if (p == username && c == '.')
			keep = false;
		if (keep) {
			buf_append_c(&esc, (char)c);
		} else {
			buf_append_c(&esc, '%');
			buf_append_c(&esc, hex[c >> 4]);
			buf_append_c(&esc, hex[c & 15]);
		}
	}
	buf_reset(prefix_r);
	buf_printf(prefix_r, "u/%s/%s/", h, esc.data);
	buf_reset(dir_r);
	buf_printf(dir_r, "%s/users/%s/%s", root, h, esc.data);
	buf_free(&esc);
}

uint32_t obox_uidvalidity_next(struct om_index *idx)
{
	/* time-based as Dovecot's, never reused: the last one handed out is
	 * kept in the index (and so in its bundles) */
	uint32_t uv = (uint32_t)time(NULL);
	struct buf last = BUF_INIT;
	unsigned long long v;
	if (index_meta_get(idx, "obox_last_uidvalidity", &last) == 0 &&
	    om_parse_u64(last.data, last.len, &v) && v >= uv && v < UINT32_MAX)
		uv = (uint32_t)v + 1;
	struct index_mailbox *mbs;
	size_t n;
	if (index_mailbox_list(idx, &mbs, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (mbs[i].uidvalidity >= uv && mbs[i].uidvalidity < UINT32_MAX)
				uv = mbs[i].uidvalidity + 1;
		}
		index_mailboxes_free(mbs, n);
	}
	if (uv == 0)
		uv = 1;
	buf_reset(&last);
	buf_printf(&last, "%u", uv);
	(void)index_meta_set(idx, "obox_last_uidvalidity", last.data);
	buf_free(&last);
	return uv;
}

int obox_mkdir_p(const char *path)
{
	struct buf p = BUF_INIT;
	buf_append_str(&p, path);
	int ret = 0;
	for (char *s = p.data + 1; ; s++) {
		bool last = *s == '\0';
		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p.data, 0700) < 0 && errno != EEXIST) {
			log_error("obox: mkdir %s: %s", p.data, strerror(errno));
			ret = -OM_EIO;
			break;
		}
		if (last)
			break;
		*s = '/';
	}
	buf_free(&p);
	return ret;
}

/* --- mailboxes --- */

static int obox_list_refresh(struct mail_user *user)
{
	struct obox_user *ou = obox_user(user);
	pthread_mutex_lock(&ou->olock);
	bool lost = ou->lease_lost;
	pthread_mutex_unlock(&ou->olock);
	return lost ? -OM_ETEMP : 0;
}

static int obox_mailbox_sync(struct mail_user *user, struct index_mailbox *mb)
{
	(void)mb;
	obox_touch(obox_user(user));
	return obox_list_refresh(user); /* the index is the truth: nothing to scan */
}

static int obox_mailbox_create(struct mail_user *user, const char *name, unsigned special_use)
{
	struct obox_user *ou = obox_user(user);
	int ret = obox_writable(ou);
	if (ret < 0)
		return ret;
	struct index_mailbox mb = { .name = (char *)name, .uidnext = 1, .first_recent_uid = 1,
				    .highest_modseq = 1, .special_use = special_use };
	obox_guid_random(mb.guid);
	mb.uidvalidity = obox_uidvalidity_next(user->index);
	ret = index_mailbox_add(user->index, &mb);
	if (ret == 0) {
		struct buf rec = BUF_INIT;
		buf_printf(&rec, "C\t%s\t", mb.guid);
		obox_field_escape(&rec, name);
		buf_printf(&rec, "\t%u\t%u", mb.uidvalidity, special_use);
		obox_log_add(ou, rec.data);
		buf_free(&rec);
	}
	return ret;
}

static int obox_mailbox_delete(struct mail_user *user, const struct index_mailbox *mb)
{
	struct obox_user *ou = obox_user(user);
	int ret = obox_writable(ou);
	if (ret < 0)
		return ret;
	struct index_msg *msgs;
	size_t n;
	uint64_t after = obox_delete_after_seq(ou);
	ret = index_begin(user->index);
	if (ret < 0)
		return ret;
	ret = index_msgs_get(user->index, mb->id, &msgs, &n);
	if (ret == 0) {
		for (size_t i = 0; i < n && ret == 0; i++)
			ret = obox_maybe_pending_delete(user->index, msgs[i].rec.guid, mb->id, 0, after);
		index_msgs_free(msgs, n);
	}
	if (ret == 0)
		ret = index_mailbox_delete(user->index, mb->id);
	if (ret == 0)
		ret = index_commit(user->index);
	if (ret < 0) {
		index_rollback(user->index);
		return ret;
	}
	struct buf rec = BUF_INIT;
	buf_printf(&rec, "D\t%s", mb->guid);
	obox_log_add(ou, rec.data);
	buf_free(&rec);
	return 0;
}

static int obox_mailbox_rename(struct mail_user *user, const char *old_name, const char *new_name)
{
	struct obox_user *ou = obox_user(user);
	int ret = obox_writable(ou);
	if (ret < 0)
		return ret;
	struct index_mailbox *mbs;
	size_t n;
	ret = index_mailbox_list(user->index, &mbs, &n);
	if (ret < 0)
		return ret;
	size_t old_len = strlen(old_name);
	struct buf newn = BUF_INIT, rec = BUF_INIT, recs = BUF_INIT;
	/* every target first: all or nothing */
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (strcmp(mbs[i].name, old_name) != 0 && !mail_name_is_child(mbs[i].name, old_name))
			continue;
		buf_reset(&newn);
		buf_printf(&newn, "%s%s", new_name, mbs[i].name + old_len);
		struct index_mailbox other;
		if (newn.len > 255)
			ret = -OM_EINVAL;
		else if (index_mailbox_get(user->index, newn.data, &other) == 0) {
			index_mailbox_clear(&other);
			ret = -OM_EEXISTS;
		}
	}
	if (ret == 0)
		ret = index_begin(user->index);
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (strcmp(mbs[i].name, old_name) != 0 && !mail_name_is_child(mbs[i].name, old_name))
			continue;
		buf_reset(&newn);
		buf_printf(&newn, "%s%s", new_name, mbs[i].name + old_len);
		ret = index_mailbox_set_name(user->index, mbs[i].id, newn.data);
		buf_reset(&rec);
		buf_printf(&rec, "R\t%s\t", mbs[i].guid);
		obox_field_escape(&rec, newn.data);
		buf_append_c(&rec, '\n');
		buf_append(&recs, rec.data, rec.len);
	}
	if (ret == 0)
		ret = index_commit(user->index);
	if (ret < 0)
		index_rollback(user->index);
	else if (recs.len > 0) {
		buf_truncate(&recs, recs.len - 1);
		obox_log_add(ou, recs.data);
	}
	index_mailboxes_free(mbs, n);
	buf_free(&newn);
	buf_free(&rec);
	buf_free(&recs);
	return ret;
}

static int obox_subscriptions_changed(struct mail_user *user)
{
	struct obox_user *ou = obox_user(user);
	int ret = obox_writable(ou);
	if (ret < 0)
		return ret;
	char **names;
	size_t n;
	ret = index_subs_list(user->index, &names, &n);
	if (ret < 0)
		return ret;
	struct buf rec = BUF_INIT;
	buf_append_c(&rec, 'S');
	for (size_t i = 0; i < n; i++) {
		buf_append_c(&rec, '\t');
		obox_field_escape(&rec, names[i]);
	}
	obox_log_add(ou, rec.data);
	buf_free(&rec);
	mail_names_free(names, n);
	return 0;
}

/* First use: INBOX and the special-use mailboxes, subscribed. Also when a
 * rebuild found no INBOX (the store had no index data at all). */
static int create_defaults(struct mail_user *user)
{
	struct index_mailbox mb;
	int ret = index_mailbox_get(user->index, "INBOX", &mb);
	if (ret == 0) {
		index_mailbox_clear(&mb);
		return 0;
	}
	if (ret != -OM_ENOTFOUND)
		return ret;
	ret = 0;
	for (size_t i = 0; i < sizeof(default_mailboxes) / sizeof(default_mailboxes[0]) && ret == 0; i++) {
		ret = index_mailbox_get(user->index, default_mailboxes[i].name, &mb);
		if (ret == 0) {
			index_mailbox_clear(&mb);
			continue;
		}
		if (ret == -OM_ENOTFOUND)
			ret = obox_mailbox_create(user, default_mailboxes[i].name,
						  default_mailboxes[i].special_use);
		if (ret == 0)
			ret = index_subs_set(user->index, default_mailboxes[i].name, true);
	}
	if (ret == 0)
		ret = obox_subscriptions_changed(user);
	return ret;
}

/* --- users --- */

static struct mail_user *obox_user_alloc(void)
{
	struct obox_user *ou = om_calloc(1, sizeof(*ou));
	pthread_mutex_init(&ou->flush_lock, NULL);
	pthread_mutex_init(&ou->olock, NULL);
	return &ou->user;
}

static void obox_user_free(struct mail_user *user)
{
	struct obox_user *ou = obox_user(user);
	pthread_mutex_destroy(&ou->flush_lock);
	pthread_mutex_destroy(&ou->olock);
	buf_free(&ou->pending);
	free(ou->key_prefix);
	free(ou->dir);
	free(ou);
}

static int obox_user_init(struct mail_user *user)
{
	struct obox_user *ou = obox_user(user);
	struct buf prefix = BUF_INIT, dir = BUF_INIT;
	int ret = user->cfg != NULL ? obox_global_init(user->cfg, user->root) : -OM_EINVAL;
	if (ret < 0)
		goto out;
	obox_user_paths(user->root, user->name, &prefix, &dir);
	ou->key_prefix = buf_steal(&prefix);
	ou->dir = buf_steal(&dir);
	ret = obox_mkdir_p(ou->dir);
	if (ret < 0)
		goto out;
	/* the previous instance of this user may still be uploading */
	obox_closing_wait(user->name);
	if (obox_resync_blocks(user->name)) {
		mail_user_set_error(user, "its index is being rebuilt (objmail force-resync); "
				    "try again in a moment");
		ret = -OM_ETEMP;
		goto out;
	}
	ret = obox_lease_take(ou);
	if (ret < 0)
		goto out;
	ret = obox_index_load(ou);
	if (ret < 0)
		goto out;
	bool scan = ret == 1;
	ou->last_use = obox_now();
	ou->last_bundle = scan ? 0 : ou->last_use;
	obox_state_write(ou, false);
	ret = create_defaults(user);
	if (ret == 0 && scan)
		ret = obox_scan_objects(ou);
	if (ret == 0)
		obox_user_register(ou);
out:
	buf_free(&prefix);
	buf_free(&dir);
	if (ret < 0 && user->last_error[0] == '\0')
		mail_user_set_error(user, "opening the user failed: %s", om_strerror(ret));
	if (ret < 0 && ret != -OM_EINVAL)
		ret = -OM_ETEMP;
	if (ret < 0) {
		/* closing from now on (deinit follows): see user_close_if_idle */
		obox_closing_set(user->name, true);
		ou->closing_marked = true;
	}
	return ret;
}

static void obox_user_deinit(struct mail_user *user)
{
	struct obox_user *ou = obox_user(user);
	if (ou->listed)
		obox_user_unregister(ou);
	if (!ou->closing_marked)
		obox_closing_set(user->name, true);
	bool clean = true;
	if (user->index != NULL) {
		pthread_mutex_lock(&ou->flush_lock);
		pthread_mutex_lock(&ou->olock);
		bool dirty = ou->dirty, lost = ou->lease_lost;
		pthread_mutex_unlock(&ou->olock);
		if (dirty && !lost && obox_bundle_upload(ou, true) < 0)
			(void)obox_log_upload(ou);
		pthread_mutex_unlock(&ou->flush_lock);
		pthread_mutex_lock(&ou->olock);
		clean = !ou->dirty && ou->pending.len == 0;
		pthread_mutex_unlock(&ou->olock);
		obox_state_write(ou, clean);
		if (!clean)
			log_error("obox %s: closed with changes not in the store (store unavailable);"
				  " they stay in the local index %s and go up at the next open",
				  user->name, ou->dir);
		index_close(user->index);
		user->index = NULL;
	}
	/* keep the lease while changes are only here: nobody else may start
	 * from an older state before it expires */
	if (ou->lease_taken && clean)
		obox_lease_release(ou);
	obox_closing_set(user->name, false);
}

const struct mail_storage_ops obox_storage_ops = {
	.name = "obox",
	.max_keywords = MAIL_MAX_KEYWORDS,
	.user_alloc = obox_user_alloc,
	.user_free = obox_user_free,
	.user_init = obox_user_init,
	.user_deinit = obox_user_deinit,
	.list_refresh = obox_list_refresh,
	.mailbox_create = obox_mailbox_create,
	.mailbox_delete = obox_mailbox_delete,
	.mailbox_rename = obox_mailbox_rename,
	.subscriptions_changed = obox_subscriptions_changed,
	.mailbox_sync = obox_mailbox_sync,
	.msg_save = obox_msg_save,
	.msg_set_flags = obox_msg_set_flags,
	.msg_expunge = obox_msg_expunge,
	.msg_copy = obox_msg_copy,
	.msg_read = obox_msg_read,
	.msg_prefetch = obox_msg_prefetch,
	.msg_upload = obox_msg_upload,
	.msg_upload_done = obox_msg_upload_done,
};
