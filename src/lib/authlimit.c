/* auth_failures_per_ip (authlimit.h): a small open table of addresses,
 * each with its failure count and the start of its window. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "lib/authlimit.h"

struct auth_entry {
	char ip[48];
	unsigned failures;
	time_t since; /* monotonic seconds of the window's first failure; 0 = free */
};

static pthread_mutex_t al_mu = PTHREAD_MUTEX_INITIALIZER;
static struct auth_entry al_tab[AUTHLIMIT_MAX_ENTRIES];

static time_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1; /* never 0: 0 marks a free slot */
}

static bool countable(const char *ip)
{
	return ip != NULL && ip[0] != '\0' && strcmp(ip, "unix") != 0 &&
	       strlen(ip) < sizeof(al_tab[0].ip);
}

static unsigned slot_of(const char *ip)
{
	unsigned h = 2166136261u; /* FNV-1a */
	for (; *ip != '\0'; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % AUTHLIMIT_MAX_ENTRIES;
}

#define AUTHLIMIT_PROBES 16

/* The entry of ip (expired ones are freed on the way), or NULL. */
static struct auth_entry *find(const char *ip, time_t now, unsigned window, bool create)
{
	unsigned h = slot_of(ip);
	struct auth_entry *free_e = NULL, *oldest = NULL;
	for (unsigned i = 0; i < AUTHLIMIT_PROBES; i++) {
		struct auth_entry *e = &al_tab[(h + i) % AUTHLIMIT_MAX_ENTRIES];
		if (e->since != 0 && now - e->since >= (time_t)window)
			e->since = 0;
		if (e->since == 0) {
			if (free_e == NULL)
				free_e = e;
			continue;
		}
		if (strcmp(e->ip, ip) == 0)
			return e;
		if (oldest == NULL || e->since < oldest->since)
			oldest = e;
	}
	if (!create)
		return NULL;
	struct auth_entry *e = free_e != NULL ? free_e : oldest;
	memset(e, 0, sizeof(*e));
	memcpy(e->ip, ip, strlen(ip) + 1);
	e->since = now;
	return e;
}

bool authlimit_blocked(const char *ip, unsigned max, unsigned window)
{
	if (max == 0 || window == 0 || !countable(ip))
		return false;
	pthread_mutex_lock(&al_mu);
	struct auth_entry *e = find(ip, mono_now(), window, false);
	bool blocked = e != NULL && e->failures >= max;
	pthread_mutex_unlock(&al_mu);
	return blocked;
}

void authlimit_failed(const char *ip, unsigned window)
{
	if (window == 0 || !countable(ip))
		return;
	pthread_mutex_lock(&al_mu);
	struct auth_entry *e = find(ip, mono_now(), window, true);
	if (e->failures < 0xffffffffu)
		e->failures++;
	pthread_mutex_unlock(&al_mu);
}

void authlimit_reset(void)
{
	pthread_mutex_lock(&al_mu);
	memset(al_tab, 0, sizeof(al_tab));
	pthread_mutex_unlock(&al_mu);
}
