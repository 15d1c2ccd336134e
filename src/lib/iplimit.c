/* max_connections_per_ip: a count of open connections per peer address.
 * Unix-socket peers are not counted (they are local services, e.g. an MTA
 * delivering over LMTP). */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/conn-private.h"
#include "lib/log.h"

#define IPLIMIT_BUCKETS 256

struct ip_count {
	struct ip_count *next;
	unsigned count;
	char ip[48];
};

struct iplimit {
	pthread_mutex_t mu;
	struct ip_count *buckets[IPLIMIT_BUCKETS];
};

static unsigned ip_hash(const char *ip)
{
	unsigned h = 2166136261u; /* FNV-1a */
	for (; *ip != '\0'; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % IPLIMIT_BUCKETS;
}

struct iplimit *iplimit_new(void)
{
	struct iplimit *l = om_calloc(1, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	return l;
}

void iplimit_free(struct iplimit *l)
{
	if (l == NULL)
		return;
	for (unsigned i = 0; i < IPLIMIT_BUCKETS; i++) {
		struct ip_count *e = l->buckets[i];
		while (e != NULL) {
			struct ip_count *next = e->next;
			free(e);
			e = next;
		}
	}
	pthread_mutex_destroy(&l->mu);
	free(l);
}

bool iplimit_acquire(struct iplimit *l, const char *ip, unsigned max)
{
	if (max == 0 || strcmp(ip, "unix") == 0)
		return true;
	unsigned h = ip_hash(ip);
	bool ok = true;
	pthread_mutex_lock(&l->mu);
	struct ip_count *e = l->buckets[h];
	while (e != NULL && strcmp(e->ip, ip) != 0)
		e = e->next;
	if (e == NULL) {
		e = om_calloc(1, sizeof(*e));
		size_t len = strlen(ip);
		memcpy(e->ip, ip, len < sizeof(e->ip) ? len : sizeof(e->ip) - 1);
		e->next = l->buckets[h];
		l->buckets[h] = e;
	}
	if (e->count >= max)
		ok = false;
	else
		e->count++;
	pthread_mutex_unlock(&l->mu);
	return ok;
}

void iplimit_release(struct iplimit *l, const char *ip, unsigned max)
{
	if (max == 0 || strcmp(ip, "unix") == 0)
		return;
	unsigned h = ip_hash(ip);
	pthread_mutex_lock(&l->mu);
	struct ip_count **pp = &l->buckets[h];
	while (*pp != NULL && strcmp((*pp)->ip, ip) != 0)
		pp = &(*pp)->next;
	struct ip_count *e = *pp;
	if (e != NULL && e->count > 0 && --e->count == 0) {
		*pp = e->next; /* don't keep entries for every address ever seen */
		free(e);
	}
	pthread_mutex_unlock(&l->mu);
}
