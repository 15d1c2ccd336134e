/* Leases: one writer per user (DESIGN.md rule 4, doc/obox.md "Leases").
 *
 * The lease is the objstore lock on u/<h>/<user>/lease, taken at user open
 * for obox_lease_ttl seconds, renewed by the flusher every ttl/3; writes
 * stop ttl/6 before an unrenewed lease would end, so a backend cut off from
 * the store stops writing before anyone else may start.
 *
 * A dead backend's leases would block its users for up to a ttl after the
 * directors moved them. So the owner name carries a contact address,
 * "<name>@<ip>:<port>" (one of the backend's own listeners), and a backend
 * that finds a user's lease held by another owner connects there: only
 * ECONNREFUSED proves that no process listens, i.e. the holder is dead (a
 * backend keeps its listening sockets open until it released its leases
 * and exits; a frozen one still has them in the kernel, so the connect
 * succeeds). Then the lease is broken, atomically and only if it is still
 * that very hold (objstore_lock_break), and taken. Anything else (the
 * connect succeeds, times out, the network is unreachable) waits for the
 * lease to run out, as without an address. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/obox/obox.h"

#define OWNER_BASE_MAX 250

static char g_owner[OBJSTORE_LOCK_OWNER_MAX + 1];
static char g_owner_base[OBJSTORE_LOCK_OWNER_MAX + 1]; /* without "@address" */
static int g_dir_lock_fd = -1;
static unsigned g_lease_ttl = 30, g_ttl_override;
static bool g_break = true;
/* Set by the daemon once its listeners are bound (mail-storage.h). */
static pthread_mutex_t addr_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_daemon_addr[80];

void obox_set_lease_ttl(unsigned seconds)
{
	g_ttl_override = seconds == 0 ? 0 : seconds >= 3 ? seconds : 3;
	if (g_ttl_override != 0)
		g_lease_ttl = g_ttl_override;
}

time_t obox_lease_margin(void)
{
	time_t m = (time_t)g_lease_ttl / 6;
	return m > 0 ? m : 1;
}

const char *obox_lease_owner(void)
{
	return g_owner;
}

void mail_storage_set_lease_address(const char *addr)
{
	pthread_mutex_lock(&addr_lock);
	snprintf(g_daemon_addr, sizeof(g_daemon_addr), "%s", addr != NULL ? addr : "");
	pthread_mutex_unlock(&addr_lock);
}

/* "1.2.3.4:143" or "[::1]:143" -> a sockaddr; false for anything else. */
static bool addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len_r)
{
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s)
		return false;
	unsigned long long port;
	if (!om_parse_u64(colon + 1, strlen(colon + 1), &port) || port == 0 || port > 65535)
		return false;
	char host[INET6_ADDRSTRLEN + 1];
	size_t hlen = (size_t)(colon - s);
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		if (hlen < 3 || s[hlen - 1] != ']' || hlen - 2 >= sizeof(host))
			return false;
		memcpy(host, s + 1, hlen - 2);
		host[hlen - 2] = '\0';
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len_r = sizeof(*a6);
		return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 &&
		       !IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
	}
	if (hlen >= sizeof(host))
		return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	*len_r = sizeof(*a4);
	return inet_pton(AF_INET, host, &a4->sin_addr) == 1 && a4->sin_addr.s_addr != INADDR_ANY;
}

enum probe { PROBE_REFUSED, PROBE_CONNECTED, PROBE_OTHER };

/* Connect to addr for at most OBOX_LEASE_PROBE_MS. */
static enum probe probe(const char *addr, int *errno_r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	*errno_r = 0;
	if (!addr_parse(addr, &ss, &len))
		return PROBE_OTHER;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*errno_r = errno;
		return PROBE_OTHER;
	}
	int err = 0;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		err = errno;
		if (err == EINPROGRESS) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int r;
			do {
				r = poll(&pfd, 1, OBOX_LEASE_PROBE_MS);
			} while (r < 0 && errno == EINTR);
			socklen_t elen = sizeof(err);
			if (r == 0)
				err = ETIMEDOUT;
			else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
				err = errno;
		}
	}
	close(fd);
	*errno_r = err;
	if (err == 0)
		return PROBE_CONNECTED;
	return err == ECONNREFUSED ? PROBE_REFUSED : PROBE_OTHER;
}

/* The cache DIR is one backend's (DIR/lock, flock'd while we run). Its
 * owner name is stable, "<host>:<DIR>", so that a restart after a crash
 * (even with the cache wiped) takes its users' leases back at once instead
 * of waiting out their ttl: whoever held them under that name (whatever
 * its address was) is dead, since we hold DIR/lock. A second process on
 * the same DIR (the offline admin tool while the daemon runs) gets a name
 * of its own, "<host>:<pid>:<random>", and so never writes a user the
 * daemon serves. "@<address>" follows when this process has one. */
static void owner_init(const char *root, const char *addr)
{
	char host[256];
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/lock", root);
	g_dir_lock_fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (g_dir_lock_fd >= 0 && flock(g_dir_lock_fd, LOCK_EX | LOCK_NB) < 0) {
		log_info("obox: %s is in use by another process; this one gets a lease name of its own",
			 root);
		close(g_dir_lock_fd);
		g_dir_lock_fd = -1;
	}
	host[200] = '\0'; /* room for ":<pid>:<random>" */
	struct buf name = BUF_INIT;
	if (g_dir_lock_fd >= 0 && strlen(host) + strlen(root) + 1 <= OWNER_BASE_MAX) {
		buf_printf(&name, "%s:%s", host, root);
	} else {
		char rnd[33];
		obox_guid_random(rnd);
		rnd[12] = '\0';
		buf_printf(&name, "%s:%ld:%s", host, (long)getpid(), rnd);
	}
	memcpy(g_owner_base, name.data, name.len + 1); /* <= OWNER_BASE_MAX */
	buf_free(&name);
	/* printable ASCII without spaces; '@' only before the address */
	for (char *p = g_owner_base; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '@')
			*p = '_';
	}
	size_t blen = strlen(g_owner_base), alen = strlen(addr);
	memcpy(g_owner, g_owner_base, blen + 1);
	if (alen > 0 && blen + 1 + alen <= OBJSTORE_LOCK_OWNER_MAX) {
		g_owner[blen] = '@';
		memcpy(g_owner + blen + 1, addr, alen + 1);
	} else if (alen > 0) {
		log_warn("obox: lease owner name too long for the address %s: leases of this "
			 "backend can only expire", addr);
	}
	buf_free(&path);
}

void obox_lease_init(const struct om_config *cfg, const char *root)
{
	g_lease_ttl = g_ttl_override != 0 ? g_ttl_override
		      : cfg->obox_lease_ttl >= 6 ? cfg->obox_lease_ttl : 30;
	g_break = cfg->obox_lease_break;
	char addr[80];
	pthread_mutex_lock(&addr_lock);
	snprintf(addr, sizeof(addr), "%s", g_daemon_addr[0] != '\0' ? g_daemon_addr
			: cfg->obox_lease_address != NULL ? cfg->obox_lease_address : "");
	pthread_mutex_unlock(&addr_lock);
	if (addr[0] != '\0') {
		/* An address where nothing of ours listens would let others
		 * "prove" us dead while we live: check that it answers. */
		struct sockaddr_storage ss;
		socklen_t len;
		int err;
		if (!addr_parse(addr, &ss, &len)) {
			log_warn("obox: lease address %s is not IP:PORT; leases of this backend can "
				 "only expire", addr);
			addr[0] = '\0';
		} else if (probe(addr, &err) != PROBE_CONNECTED) {
			log_warn("obox: lease address %s does not answer here (%s); leases of this "
				 "backend can only expire", addr, strerror(err));
			addr[0] = '\0';
		}
	}
	owner_init(root, addr);
}

void obox_lease_fini(void)
{
	if (g_dir_lock_fd >= 0)
		close(g_dir_lock_fd);
	g_dir_lock_fd = -1;
}

static void lease_key(const struct obox_user *ou, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "%slease", ou->key_prefix);
}

/* The owner name without "@address", into base (OBJSTORE_LOCK_OWNER_MAX+1);
 * the address or NULL. */
static const char *owner_split(const char *owner, char *base)
{
	snprintf(base, OBJSTORE_LOCK_OWNER_MAX + 1, "%s", owner);
	char *at = strrchr(base, '@');
	if (at == NULL)
		return NULL;
	*at = '\0';
	return owner + (at - base) + 1;
}

/* Another owner holds key: break its hold if it is provably dead. 0 when
 * the lease is ours now, -OM_EEXISTS (still held), or a store error. */
static int lease_break_dead(struct obox_user *ou, const char *key)
{
	struct objstore_lock_holder h;
	int ret = objstore_lock_holder(obox_store(), key, &h);
	if (ret == -OM_ENOTFOUND) /* gone meanwhile */
		return objstore_lock(obox_store(), key, g_owner, g_lease_ttl);
	if (ret < 0)
		return ret == -OM_EINVAL ? -OM_EEXISTS : ret;
	if (strcmp(h.owner, g_owner) == 0)
		return -OM_EEXISTS; /* ours in a way the store won't renew: wait */
	char base[OBJSTORE_LOCK_OWNER_MAX + 1];
	const char *addr = owner_split(h.owner, base);
	const char *why;
	char whybuf[160];
	bool addr_probed = false;
	if (g_dir_lock_fd >= 0 && strcmp(base, g_owner_base) == 0) {
		/* an earlier process on our cache DIR, with another address */
		why = "an earlier process of this backend";
	} else {
		if (!g_break || addr == NULL)
			return -OM_EEXISTS;
		int err;
		enum probe p = probe(addr, &err);
		if (p != PROBE_REFUSED) {
			log_debug("obox %s: lease held by %s, which %s: waiting for it to expire",
				  ou->user.name, h.owner,
				  p == PROBE_CONNECTED ? "is listening" : strerror(err));
			return -OM_EEXISTS;
		}
		snprintf(whybuf, sizeof(whybuf), "nothing listens on %s any more", addr);
		why = whybuf;
		addr_probed = true;
	}
	ret = objstore_lock_break(obox_store(), key, &h, g_owner, g_lease_ttl);
	if (ret == -OM_EEXISTS) {
		/* that hold went meanwhile (expired, released): maybe free now */
		return objstore_lock(obox_store(), key, g_owner, g_lease_ttl);
	}
	if (ret == 0 && addr_probed) {
		obox_count(OBOX_C_LEASE_BROKEN, 1);
		log_warn("obox %s: broke the lease of %s (%s) and took it", ou->user.name, h.owner,
			 why);
	} else if (ret == 0) {
		/* our own restart: as routine as taking back a same-named lease */
		log_info("obox %s: took back the lease of %s (%s)", ou->user.name, h.owner, why);
	} else if (ret != -OM_EEXISTS) {
		log_warn("obox %s: breaking the lease of %s: %s", ou->user.name, h.owner,
			 om_strerror(ret));
	}
	return ret;
}

int obox_lease_take(struct obox_user *ou)
{
	struct buf key = BUF_INIT;
	lease_key(ou, &key);
	time_t t0 = obox_now();
	int ret = objstore_lock(obox_store(), key.data, g_owner, g_lease_ttl);
	if (ret == -OM_EEXISTS)
		ret = lease_break_dead(ou, key.data);
	if (ret == -OM_EEXISTS) {
		mail_user_set_error(&ou->user, "served by another backend now (its lease is held)");
	} else if (ret < 0) {
		ret = obox_store_error(ou, "lock", key.data, ret);
	} else {
		pthread_mutex_lock(&ou->olock);
		ou->lease_taken = true;
		ou->lease_lost = false;
		ou->lease_until = t0 + (time_t)g_lease_ttl;
		ou->lease_renewed = t0;
		pthread_mutex_unlock(&ou->olock);
	}
	buf_free(&key);
	return ret < 0 ? -OM_ETEMP : 0;
}

void obox_lease_release(struct obox_user *ou)
{
	struct buf key = BUF_INIT;
	lease_key(ou, &key);
	int ret = objstore_unlock(obox_store(), key.data, g_owner);
	if (ret < 0 && ret != -OM_ENOTFOUND)
		log_warn("obox %s: releasing the lease: %s", ou->user.name, om_strerror(ret));
	pthread_mutex_lock(&ou->olock);
	ou->lease_taken = false;
	ou->lease_until = 0;
	pthread_mutex_unlock(&ou->olock);
	buf_free(&key);
}

int obox_writable(struct obox_user *ou)
{
	pthread_mutex_lock(&ou->olock);
	bool lost = ou->lease_lost;
	bool expiring = obox_now() + obox_lease_margin() >= ou->lease_until;
	pthread_mutex_unlock(&ou->olock);
	if (lost)
		mail_user_set_error(&ou->user, "the user's lease was lost to another backend");
	else if (expiring)
		mail_user_set_error(&ou->user, "the user's lease can't be renewed (store unavailable)");
	return lost || expiring ? -OM_ETEMP : 0;
}

static void lease_lost(struct obox_user *ou, const char *why)
{
	pthread_mutex_lock(&ou->olock);
	bool was = ou->lease_lost;
	ou->lease_lost = true;
	pthread_mutex_unlock(&ou->olock);
	if (was)
		return;
	obox_count(OBOX_C_LEASE_LOST, 1);
	log_error("obox %s: lease lost (%s): no more changes here; disconnecting its sessions",
		  ou->user.name, why);
	mail_user_notify(&ou->user, NULL);
	mail_storage_lease_lost(ou->user.name);
}

void obox_lease_renew(struct obox_user *ou, time_t now)
{
	pthread_mutex_lock(&ou->olock);
	bool due = ou->lease_taken && !ou->lease_lost &&
		   now - ou->lease_renewed >= (time_t)g_lease_ttl / 3;
	bool expired = now >= ou->lease_until;
	pthread_mutex_unlock(&ou->olock);
	if (!due)
		return;
	struct buf key = BUF_INIT;
	lease_key(ou, &key);
	int ret = objstore_lock(obox_store(), key.data, g_owner, g_lease_ttl);
	buf_free(&key);
	if (ret == -OM_EEXISTS) {
		lease_lost(ou, "another backend holds it");
		return;
	}
	if (ret < 0) {
		log_warn("obox %s: renewing the lease: %s (writes stop when it runs out)",
			 ou->user.name, om_strerror(ret));
		return;
	}
	if (expired) {
		/* Ours again, but was someone else here in between? */
		uint64_t seq;
		uint32_t n;
		if (obox_store_head(ou, &seq, &n) < 0)
			return; /* try again next tick; stay unwritable */
		pthread_mutex_lock(&ou->olock);
		bool newer = seq > ou->seq || (seq == ou->seq && n > ou->log_n);
		pthread_mutex_unlock(&ou->olock);
		if (newer) {
			lease_lost(ou, "another backend wrote the user while our lease had run out");
			return;
		}
		log_info("obox %s: lease renewed after the store came back", ou->user.name);
	}
	pthread_mutex_lock(&ou->olock);
	ou->lease_until = now + (time_t)g_lease_ttl;
	ou->lease_renewed = now;
	pthread_mutex_unlock(&ou->olock);
}
