/* Rendezvous (highest random weight) hashing. Each (user, backend) pair
 * gets a pseudo-random score and the user goes to the backend with the
 * highest one. Taking a backend out moves only the users whose best score
 * was on it; adding one takes from each backend its fair share. The
 * weighted form -w / ln(h) (h uniform in (0,1)) gives backend i the share
 * w_i / sum(w) of users. The hash must be the same on every director and
 * every build: FNV-1a over the bytes, then a 64-bit finalizer (FNV alone
 * mixes its last bytes poorly, and ids differ only in their last bytes). */
#include <math.h>
#include <string.h>

#include "director/director.h"

static uint64_t fnv1a(uint64_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t mix64(uint64_t x)
{
	/* splitmix64's finalizer */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t director_hash(const char *user, const char *backend_id)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	h = fnv1a(h, user, strlen(user));
	h = fnv1a(h, "", 1); /* separator: ("ab","c") != ("a","bc") */
	h = fnv1a(h, backend_id, strlen(backend_id));
	return mix64(h);
}

double director_score(const char *user, const char *backend_id, unsigned weight)
{
	if (weight == 0)
		return -INFINITY;
	/* top 53 bits, +0.5: strictly inside (0,1), so ln(h) < 0 */
	double h = ((double)(director_hash(user, backend_id) >> 11) + 0.5) / 9007199254740992.0;
	return -(double)weight / log(h);
}

static int pick(const char *user, const struct director_backend *b, size_t n,
		bool ignore_health, bool lmtp)
{
	int best = -1;
	double best_score = 0;
	for (size_t i = 0; i < n; i++) {
		bool healthy = lmtp ? b[i].lmtp_healthy : b[i].healthy;
		if (b[i].weight == 0 || b[i].drained || (!ignore_health && !healthy))
			continue;
		double s = director_score(user, b[i].id, b[i].weight);
		/* ties (practically never): the smaller id, so all directors agree */
		if (best < 0 || s > best_score ||
		    (s == best_score && strcmp(b[i].id, b[best].id) < 0)) {
			best = (int)i;
			best_score = s;
		}
	}
	return best;
}

int director_pick(const char *user, const struct director_backend *b, size_t n,
		  bool ignore_health)
{
	return pick(user, b, n, ignore_health, false);
}

int director_pick_lmtp(const char *user, const struct director_backend *b, size_t n)
{
	return pick(user, b, n, false, true);
}
