/* LIBS: om_storage om_objstore om_lib */
/* The obox driver through the public storage API over a file: store in a
 * temporary directory: what is acknowledged survives the loss of the local
 * cache (bundle + logs + the objects themselves), copies share objects,
 * deletes wait for a bundle, leases exclude other backends, store errors
 * are temporary failures that leave nothing half-done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <openssl/sha.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "objstore/objstore.h"
#include "storage/mail-storage.h"
#include "storage/obox/obox.h"

static char tmpdir[256];
static struct om_config cfg;
static struct objstore *direct; /* the same store, without obox */

static void cfg_set(char **field, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cfg_set(char **field, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	free(*field);
	*field = buf_steal(&b);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/om-test-obox.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	config_defaults(&cfg);
	cfg_set(&cfg.mail_location, "obox:%s/cache", tmpdir);
	cfg_set(&cfg.objstore, "file:%s/objects", tmpdir);
	cfg.fscache_size = 64 << 20;
	log_set_level(getenv("OM_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	struct buf spec = BUF_INIT;
	buf_printf(&spec, "file:%s/objects", tmpdir);
	char *err = NULL;
	int ret = objstore_open(spec.data, &direct, &err);
	buf_free(&spec);
	free(err);
	return ret;
}

static int teardown(void **state)
{
	(void)state;
	mail_storage_shutdown();
	objstore_close(direct);
	config_free(&cfg);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Lose the local cache: close everything (uploading), delete DIR. */
static void drop_cache(void)
{
	mail_storage_shutdown();
	sh("rm -rf '%s/cache'", tmpdir);
}

static void user_prefix(const char *user, struct buf *out)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)user, strlen(user), md);
	buf_reset(out);
	buf_printf(out, "u/%02x/%s/", md[0], user);
}

struct count_ctx {
	const char *needle;
	size_t n;
};

static int count_cb(void *ctx, const char *key, uint64_t size)
{
	struct count_ctx *c = ctx;
	(void)size;
	if (c->needle == NULL || strstr(key, c->needle) != NULL)
		c->n++;
	return 0;
}

/* Keys under the user's prefix + sub ("m/", "idx/log.", ...). */
static size_t count_keys(const char *user, const char *sub)
{
	struct buf p = BUF_INIT;
	user_prefix(user, &p);
	buf_append_str(&p, sub);
	struct count_ctx c = { NULL, 0 };
	assert_int_equal(objstore_list(direct, p.data, count_cb, &c), 0);
	buf_free(&p);
	return c.n;
}

static struct mail_user *open_user(const char *name)
{
	struct mail_user *u = NULL;
	int ret = mail_user_open(&cfg, name, NULL, &u);
	assert_int_equal(ret, 0);
	return u;
}

static uint32_t append(struct mail_user *u, const char *box, const char *body, uint32_t flags,
		       const char *kw)
{
	const char *kws[1] = { kw };
	struct mail_save save = { .data = body, .len = strlen(body), .flags = flags,
				  .keywords = kws, .n_keywords = kw ? 1 : 0,
				  .internal_date = 1700000000, .internal_tz = 60 };
	uint32_t uidv, uid;
	assert_int_equal(mailbox_append(u, box, &save, &uidv, &uid), 0);
	return uid;
}

/* A text dump of everything a user sees: mailboxes, subscriptions, and
 * per mailbox its UIDVALIDITY, UIDNEXT and messages (uid, flags,
 * keywords, size, date, guid). */
static char *dump_user(struct mail_user *u)
{
	struct buf out = BUF_INIT;
	struct mailbox_info *list;
	size_t n;
	assert_int_equal(mail_user_list_mailboxes(u, &list, &n), 0);
	for (size_t i = 0; i < n; i++) {
		buf_printf(&out, "mailbox %s flags=%x\n", list[i].name, list[i].flags);
		if (list[i].flags & MBOX_NOSELECT)
			continue;
		struct mailbox *box;
		assert_int_equal(mailbox_open(u, list[i].name, true, &box), 0);
		struct mailbox_snapshot *snap;
		assert_int_equal(mailbox_sync(box, &snap), 0);
		buf_printf(&out, "  uidvalidity=%u uidnext=%u count=%zu\n", snap->uidvalidity,
			   snap->uidnext, snap->count);
		for (size_t j = 0; j < snap->count; j++) {
			const struct mail_rec *r = &snap->recs[j];
			buf_printf(&out, "  uid=%u flags=%x size=%llu date=%lld tz=%d guid=%s kw=", r->uid,
				   r->flags, (unsigned long long)r->size, (long long)r->internal_date,
				   r->internal_tz, r->guid);
			for (size_t k = 0; k < snap->n_keywords; k++) {
				if (r->keywords & (UINT64_C(1) << k))
					buf_printf(&out, "%s,", snap->keywords[k]);
			}
			buf_append_c(&out, '\n');
			struct mail_data md;
			assert_int_equal(mailbox_msg_open(box, r->uid, &md), 0);
			buf_printf(&out, "  body %zu %.20s\n", md.len, md.data);
			mail_data_release(&md);
		}
		mailbox_snapshot_free(snap);
		mailbox_close(box);
	}
	mailbox_info_free(list, n);
	char **subs;
	assert_int_equal(mail_user_list_subscriptions(u, &subs, &n), 0);
	for (size_t i = 0; i < n; i++)
		buf_printf(&out, "sub %s\n", subs[i]);
	mail_names_free(subs, n);
	return buf_steal(&out);
}

static char *dump_named(const char *name)
{
	struct mail_user *u = open_user(name);
	char *d = dump_user(u);
	mail_user_unref(u);
	return d;
}

static void store_flags(struct mail_user *u, const char *box_name, uint32_t uid,
			enum mail_flag_op op, uint32_t flags, const char *kw)
{
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, box_name, false, &box), 0);
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(box, &snap), 0);
	mailbox_snapshot_free(snap);
	const char *kws[1] = { kw };
	struct mail_rec *recs;
	size_t n;
	assert_int_equal(mailbox_store(box, &uid, 1, op, flags, kws, kw ? 1 : 0, &recs, &n), 0);
	free(recs);
	mailbox_close(box);
}

static void copy_msgs(struct mail_user *u, const char *from, const uint32_t *uids, size_t n,
		      const char *to, bool move)
{
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, from, false, &box), 0);
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(box, &snap), 0);
	mailbox_snapshot_free(snap);
	uint32_t uidv, *su, *du;
	size_t nc;
	assert_int_equal(mailbox_copy(box, uids, n, to, move, &uidv, &su, &du, &nc), 0);
	assert_int_equal(nc, n);
	free(su);
	free(du);
	mailbox_close(box);
}

static void expunge_all(struct mail_user *u, const char *name)
{
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, name, false, &box), 0);
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(box, &snap), 0);
	uint32_t *uids = calloc(snap->count + 1, sizeof(*uids));
	for (size_t i = 0; i < snap->count; i++)
		uids[i] = snap->recs[i].uid;
	assert_int_equal(mailbox_expunge(box, uids, snap->count), 0);
	free(uids);
	mailbox_snapshot_free(snap);
	mailbox_close(box);
}

/* Changes of every kind; returns nothing, the dump tells. */
static void do_changes(struct mail_user *u, int round)
{
	if (round == 0) {
		uint32_t a = append(u, "INBOX", "Subject: one\n\nfirst body\n", 0, NULL);
		uint32_t b = append(u, "INBOX", "Subject: two\r\n\r\nsecond\r\n", MAIL_SEEN, "$Work");
		uint32_t c = append(u, "INBOX", "Subject: three\n\nthird\n", 0, NULL);
		assert_int_equal(mail_user_create_mailbox(u, "Work/Sub", 0), 0);
		append(u, "Work", "Subject: w\n\nin work\n", MAIL_FLAGGED, "todo");
		store_flags(u, "INBOX", b, MAIL_FLAGS_ADD, MAIL_ANSWERED, "later");
		store_flags(u, "INBOX", c, MAIL_FLAGS_ADD, MAIL_DELETED, NULL);
		struct mailbox *box;
		assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
		assert_int_equal(mailbox_expunge(box, &c, 1), 0);
		mailbox_close(box);
		copy_msgs(u, "INBOX", &a, 1, "Work", false);
		copy_msgs(u, "INBOX", &b, 1, "Work/Sub", true);
	} else {
		assert_int_equal(mail_user_rename_mailbox(u, "Work", "Projects"), 0);
		assert_int_equal(mail_user_delete_mailbox(u, "Junk"), 0);
		assert_int_equal(mail_user_subscribe(u, "Projects", true), 0);
		assert_int_equal(mail_user_subscribe(u, "Sent", false), 0);
		assert_int_equal(mail_user_create_mailbox(u, "Archive", MBOX_SPECIAL_ARCHIVE), 0);
		append(u, "Archive", "Subject: old\n\nold mail\n", MAIL_SEEN | MAIL_DRAFT, "$Old");
		store_flags(u, "Projects/Sub", 1, MAIL_FLAGS_REPLACE, MAIL_FLAGGED, "x1");
	}
}

static void test_rebuild_from_bundle(void **state)
{
	(void)state;
	struct mail_user *u = open_user("alice");
	do_changes(u, 0);
	do_changes(u, 1);
	char *before = dump_user(u);
	mail_user_unref(u);
	assert_int_equal(mail_storage_flush(NULL), 0);
	assert_true(count_keys("alice", "idx/bundle.") >= 1);
	drop_cache();
	char *after = dump_named("alice");
	assert_string_equal(before, after);
	/* a damaged local index is only a lost cache */
	mail_storage_shutdown();
	struct buf p = BUF_INIT;
	user_prefix("alice", &p);
	sh("echo garbage > '%s/cache/users/%.2s/alice/index.sqlite'", tmpdir, p.data + 2);
	buf_free(&p);
	free(after);
	after = dump_named("alice");
	assert_string_equal(before, after);
	free(before);
	free(after);
	/* and again, from the bundle this open uploads at close */
	drop_cache();
	after = dump_named("alice");
	before = dump_named("alice");
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* Wait until the flusher has uploaded what is pending (logs). */
static void wait_logs(const char *user, size_t at_least)
{
	for (int i = 0; i < 100 && count_keys(user, "idx/log.") < at_least; i++)
		usleep(100 * 1000);
	assert_true(count_keys(user, "idx/log.") >= at_least);
}

static void test_logs_over_older_bundle(void **state)
{
	(void)state;
	struct mail_user *u = open_user("bob");
	do_changes(u, 0);
	assert_int_equal(mail_storage_flush("bob"), 0); /* bundle 1 */
	do_changes(u, 1);
	char *before = dump_user(u);
	wait_logs("bob", 1);
	usleep(1500 * 1000); /* everything batched so far is up */
	/* "crash": keep the store as it is now (bundle 1 + logs), whatever
	 * the clean shutdown uploads after */
	sh("cp -a '%s/objects' '%s/objects.crash'", tmpdir, tmpdir);
	mail_user_unref(u);
	drop_cache();
	sh("rm -rf '%s/objects' && mv '%s/objects.crash' '%s/objects'", tmpdir, tmpdir, tmpdir);
	char *after = dump_named("bob");
	assert_string_equal(before, after);
	free(before);
	free(after);
	/* the logs went into the index: a bundle at close, none left over */
	mail_storage_shutdown();
	assert_int_equal(count_keys("bob", "idx/log."), 0);
}

static void test_object_without_index(void **state)
{
	(void)state;
	struct mail_user *u = open_user("carol");
	append(u, "INBOX", "Subject: known\n\nknown\n", 0, NULL);
	mail_user_unref(u);
	drop_cache();
	/* as if the backend died right after acknowledging a delivery */
	struct buf key = BUF_INIT;
	user_prefix("carol", &key);
	buf_append_str(&key, "m/0123456789abcdef0123456789abcdef");
	struct objstore_meta meta = { 0 };
	objstore_meta_set(&meta, "mailbox", "ffffffffffffffffffffffffffffffff");
	objstore_meta_set(&meta, "uid", "77");
	objstore_meta_set(&meta, "flags", "1");
	objstore_meta_set(&meta, "date", "1600000000");
	objstore_meta_set(&meta, "vsize", "26");
	objstore_meta_set(&meta, "keywords", "$Crash");
	const char body[] = "Subject: orphan\r\n\r\nbody\r\n";
	assert_int_equal(objstore_put(direct, key.data, body, strlen(body), &meta, 0, NULL, NULL), 0);
	objstore_meta_free(&meta);
	buf_free(&key);

	u = open_user("carol");
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", false, &box), 0);
	struct mailbox_snapshot *snap;
	assert_int_equal(mailbox_sync(box, &snap), 0);
	assert_int_equal(snap->count, 2);
	assert_int_equal(snap->recs[1].uid, 77);
	assert_int_equal(snap->recs[1].flags, MAIL_SEEN);
	assert_string_equal(snap->recs[1].guid, "0123456789abcdef0123456789abcdef");
	assert_int_equal(snap->recs[1].internal_date, 1600000000);
	assert_true(snap->n_keywords == 1 && strcmp(snap->keywords[0], "$Crash") == 0);
	assert_int_equal(snap->recs[1].keywords, 1);
	assert_int_equal(snap->uidnext, 78);
	struct mail_data md;
	assert_int_equal(mailbox_msg_open(box, 77, &md), 0);
	assert_int_equal(md.len, strlen(body));
	assert_memory_equal(md.data, body, md.len);
	mail_data_release(&md);
	mailbox_snapshot_free(snap);
	mailbox_close(box);
	mail_user_unref(u);
	/* it is in the index now: a second rebuild doesn't add it twice */
	drop_cache();
	char *d = dump_named("carol");
	assert_non_null(strstr(d, "uid=77"));
	assert_null(strstr(strstr(d, "uid=77") + 1, "uid=77"));
	free(d);
}

static void test_copy_shares_objects(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct mail_user *u = open_user("dave");
	char body[128];
	for (int i = 0; i < N; i++) {
		snprintf(body, sizeof(body), "Subject: m%d\n\nbody %d\n", i, i);
		append(u, "INBOX", body, 0, NULL);
	}
	assert_int_equal(count_keys("dave", "m/"), N);
	assert_int_equal(mail_user_create_mailbox(u, "Copy", 0), 0);
	uint32_t *uids = calloc(N, sizeof(*uids));
	for (int i = 0; i < N; i++)
		uids[i] = (uint32_t)i + 1;
	copy_msgs(u, "INBOX", uids, N, "Copy", false);
	assert_int_equal(count_keys("dave", "m/"), N);
	copy_msgs(u, "Copy", uids, 10, "Trash", true);
	assert_int_equal(count_keys("dave", "m/"), N);
	free(uids);

	expunge_all(u, "INBOX");
	assert_int_equal(mail_storage_flush("dave"), 0);
	assert_int_equal(count_keys("dave", "m/"), N); /* still in Copy and Trash */
	expunge_all(u, "Copy");
	expunge_all(u, "Trash");
	/* not before a bundle without them is up */
	assert_int_equal(count_keys("dave", "m/"), N);
	usleep(1500 * 1000);
	assert_int_equal(count_keys("dave", "m/"), N);
	assert_int_equal(mail_storage_flush("dave"), 0);
	assert_int_equal(count_keys("dave", "m/"), 0);
	mail_user_unref(u);
	drop_cache();
	char *d = dump_named("dave");
	assert_null(strstr(d, "uid="));
	free(d);
}

static void test_lease(void **state)
{
	(void)state;
	struct buf key = BUF_INIT;
	user_prefix("erin", &key);
	buf_append_str(&key, "lease");
	assert_int_equal(objstore_lock(direct, key.data, "otherhost:1:abc", 60), 0);
	struct mail_user *u = NULL;
	assert_int_equal(mail_user_open(&cfg, "erin", NULL, &u), -OM_ETEMP);
	assert_null(u);
	assert_int_equal(objstore_unlock(direct, key.data, "otherhost:1:abc"), 0);
	u = open_user("erin");
	/* held by us now */
	assert_int_equal(objstore_lock(direct, key.data, "otherhost:1:abc", 60), -OM_EEXISTS);
	mail_user_unref(u);
	mail_storage_shutdown(); /* releases it */
	assert_int_equal(objstore_lock(direct, key.data, "otherhost:1:abc", 60), 0);
	assert_int_equal(objstore_unlock(direct, key.data, "otherhost:1:abc"), 0);
	buf_free(&key);
}

/* A loopback TCP socket: listening (a live holder's address) or bound and
 * closed again (a dead one's: connecting is refused). */
static int tcp_socket(bool listening, int *port_r)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t len = sizeof(sa);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port_r = ntohs(sa.sin_port);
	if (listening) {
		assert_int_equal(listen(fd, 16), 0);
		return fd;
	}
	close(fd);
	return -1;
}

static unsigned long long broken_count(void)
{
	struct buf m = BUF_INIT;
	mail_storage_metrics(&m);
	const char *p = strstr(buf_cstr(&m), "\nobjmail_obox_leases_broken_total ");
	unsigned long long n = p != NULL ? strtoull(strchr(p + 1, ' ') + 1, NULL, 10) : 999;
	buf_free(&m);
	return n;
}

/* A holder whose contact address refuses connections is dead: its lease is
 * broken at open. One that listens (alive, or frozen: the kernel accepts)
 * or has no address keeps it; so does every holder with
 * obox_lease_break = no. */
static void test_lease_break(void **state)
{
	(void)state;
	struct buf key = BUF_INIT, owner = BUF_INIT;
	user_prefix("fred", &key);
	buf_append_str(&key, "lease");
	int live_port, dead_port;
	int live_fd = tcp_socket(true, &live_port);
	tcp_socket(false, &dead_port);
	struct mail_user *u = NULL;

	/* alive: no break */
	buf_printf(&owner, "otherhost:/c@127.0.0.1:%d", live_port);
	assert_int_equal(objstore_lock(direct, key.data, owner.data, 60), 0);
	assert_int_equal(mail_user_open(&cfg, "fred", NULL, &u), -OM_ETEMP);
	assert_int_equal(broken_count(), 0);
	assert_int_equal(objstore_unlock(direct, key.data, owner.data), 0);

	/* dead, but breaking is off */
	mail_storage_shutdown();
	cfg.obox_lease_break = false;
	buf_reset(&owner);
	buf_printf(&owner, "otherhost:/c@127.0.0.1:%d", dead_port);
	assert_int_equal(objstore_lock(direct, key.data, owner.data, 60), 0);
	assert_int_equal(mail_user_open(&cfg, "fred", NULL, &u), -OM_ETEMP);
	mail_storage_shutdown();
	cfg.obox_lease_break = true;

	/* dead: broken and taken */
	u = open_user("fred");
	assert_int_equal(broken_count(), 1);
	struct objstore_lock_holder h;
	assert_int_equal(objstore_lock_holder(direct, key.data, &h), 0);
	assert_string_not_equal(h.owner, owner.data);
	assert_int_equal(objstore_lock(direct, key.data, owner.data, 60), -OM_EEXISTS);
	mail_user_unref(u);
	mail_storage_shutdown();
	close(live_fd);
	buf_free(&key);
	buf_free(&owner);
}

static void woke(void *arg)
{
	(*(int *)arg)++;
}

static void test_lease_lost(void **state)
{
	(void)state;
	mail_storage_shutdown();
	obox_set_lease_ttl(3);
	struct mail_user *u = open_user("ivan");
	append(u, "INBOX", "Subject: a\n\nb\n", 0, NULL);
	int woken = 0;
	struct mail_watch *w = mail_user_watch(u, NULL, woke, &woken);
	/* another backend takes the lease from under us (as if ours had
	 * expired): the next renewal notices */
	char host[256];
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	struct buf key = BUF_INIT, owner = BUF_INIT;
	user_prefix("ivan", &key);
	buf_append_str(&key, "lease");
	buf_printf(&owner, "%s:%s/cache", host, tmpdir);
	assert_int_equal(objstore_unlock(direct, key.data, owner.data), 0);
	assert_int_equal(objstore_lock(direct, key.data, "thief:1:x", 60), 0);
	for (int i = 0; i < 50 && woken == 0; i++)
		usleep(100 * 1000);
	assert_true(woken > 0);
	const char body[] = "Subject: x\n\ny\n";
	struct mail_save save = { .data = body, .len = strlen(body) };
	uint32_t uidv, uid;
	assert_int_equal(mailbox_append(u, "INBOX", &save, &uidv, &uid), -OM_ETEMP);
	struct mailbox_status st;
	assert_int_equal(mail_user_mailbox_status(u, "INBOX", &st), -OM_ETEMP);
	assert_int_equal(count_keys("ivan", "m/"), 1);
	mail_user_unwatch(w);
	mail_user_unref(u);
	/* the instance is dead; a new open waits for the thief to let go */
	mail_storage_shutdown();
	assert_int_equal(mail_user_open(&cfg, "ivan", NULL, &u), -OM_ETEMP);
	assert_int_equal(objstore_unlock(direct, key.data, "thief:1:x"), 0);
	u = open_user("ivan");
	assert_int_equal(mail_user_mailbox_status(u, "INBOX", &st), 0);
	assert_int_equal(st.messages, 1);
	mail_user_unref(u);
	mail_storage_shutdown();
	obox_set_lease_ttl(0);
	buf_free(&key);
	buf_free(&owner);
}

static void ctl_write(const char *what)
{
	sh("echo %s > '%s/ctl'", what, tmpdir);
	usleep(150 * 1000); /* the faulty driver rereads it every 100 ms */
}

static void test_store_failure(void **state)
{
	(void)state;
	mail_storage_shutdown();
	ctl_write("ok");
	cfg_set(&cfg.objstore, "faulty:ctl=%s/ctl:file:%s/objects", tmpdir, tmpdir);
	struct mail_user *u = open_user("frank");
	append(u, "INBOX", "Subject: before\n\nok\n", 0, NULL);
	struct mailbox_status st;
	assert_int_equal(mail_user_mailbox_status(u, "INBOX", &st), 0);
	assert_int_equal(st.messages, 1);

	ctl_write("fail");
	const char body[] = "Subject: during\n\nfails\n";
	struct mail_save save = { .data = body, .len = strlen(body) };
	uint32_t uidv, uid;
	for (int i = 0; i < 5; i++)
		assert_int_equal(mailbox_append(u, "INBOX", &save, &uidv, &uid), -OM_ETEMP);
	assert_int_equal(mail_user_mailbox_status(u, "INBOX", &st), 0);
	assert_int_equal(st.messages, 1);
	assert_int_equal(st.uidnext, 2);
	/* flag changes are local first, uploaded when the store is back */
	store_flags(u, "INBOX", 1, MAIL_FLAGS_ADD, MAIL_FLAGGED, NULL);
	assert_int_equal(mail_storage_flush("frank"), -OM_ETEMP);
	assert_int_equal(count_keys("frank", "m/"), 1);

	ctl_write("ok");
	assert_int_equal(mailbox_append(u, "INBOX", &save, &uidv, &uid), 0);
	assert_int_equal(uid, 2);
	assert_int_equal(mail_storage_flush("frank"), 0);
	char *before = dump_user(u);
	mail_user_unref(u);
	drop_cache();
	cfg_set(&cfg.objstore, "file:%s/objects", tmpdir);
	char *after = dump_named("frank");
	assert_string_equal(before, after);
	assert_non_null(strstr(after, "flags=4 "));
	free(before);
	free(after);
}

static void test_open_fails_when_store_down(void **state)
{
	(void)state;
	mail_storage_shutdown();
	sh("rm -rf '%s/cache'", tmpdir);
	cfg_set(&cfg.objstore, "faulty:ctl=%s/ctl:file:%s/objects", tmpdir, tmpdir);
	ctl_write("fail");
	struct mail_user *u = NULL;
	assert_int_equal(mail_user_open(&cfg, "gina", NULL, &u), -OM_ETEMP);
	ctl_write("ok");
	u = open_user("gina");
	append(u, "INBOX", "Subject: x\n\ny\n", 0, NULL);
	mail_user_unref(u);
	mail_storage_shutdown();
	cfg_set(&cfg.objstore, "file:%s/objects", tmpdir);
}

static void test_refused_save_leaves_no_object(void **state)
{
	(void)state;
	cfg.quota = 200;
	struct mail_user *u = open_user("jack");
	append(u, "INBOX", "Subject: small\n\nfits\n", 0, NULL);
	struct buf big = BUF_INIT;
	buf_append_str(&big, "Subject: big\n\n");
	for (int i = 0; i < 20; i++)
		buf_append_str(&big, "too much for the quota\n");
	struct mail_save save = { .data = big.data, .len = big.len };
	uint32_t uidv, uid;
	/* the object is written before the lock, removed when the save fails */
	assert_int_equal(mailbox_append(u, "INBOX", &save, &uidv, &uid), -OM_EQUOTA);
	assert_int_equal(count_keys("jack", "m/"), 1);
	assert_int_equal(mailbox_append(u, "NoSuchBox", &save, &uidv, &uid), -OM_ENOTFOUND);
	assert_int_equal(count_keys("jack", "m/"), 1);
	mail_user_unref(u);
	buf_free(&big);
	cfg.quota = 0;
}

static void test_compress(void **state)
{
	(void)state;
	mail_storage_shutdown();
	cfg_set(&cfg.mail_compress, "zstd");
	struct mail_user *u = open_user("hank");
	struct buf big = BUF_INIT;
	buf_append_str(&big, "Subject: big\n\n");
	for (int i = 0; i < 2000; i++)
		buf_append_str(&big, "the same line again and again\n");
	append(u, "INBOX", big.data, 0, NULL);
	mail_user_unref(u);
	drop_cache();
	cfg_set(&cfg.mail_compress, "none");
	u = open_user("hank");
	struct mailbox *box;
	assert_int_equal(mailbox_open(u, "INBOX", true, &box), 0);
	struct mail_data md;
	assert_int_equal(mailbox_msg_open(box, 1, &md), 0);
	assert_int_equal(md.len, big.len + 2002);
	mail_data_release(&md);
	uint32_t uids[1] = { 1 };
	assert_int_equal(mailbox_msg_prefetch(box, uids, 1), 0);
	mailbox_close(box);
	mail_user_unref(u);
	buf_free(&big);
	/* the object is smaller than the message */
	struct buf p = BUF_INIT;
	user_prefix("hank", &p);
	buf_append_str(&p, "m/");
	struct count_ctx c = { NULL, 0 };
	assert_int_equal(objstore_list(direct, p.data, count_cb, &c), 0);
	assert_int_equal(c.n, 1);
	buf_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rebuild_from_bundle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logs_over_older_bundle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_object_without_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_shares_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_break, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_fails_when_store_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_save_leaves_no_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compress, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
