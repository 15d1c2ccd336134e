/* auth_failures_per_ip: failed logins counted per client address over a
 * window (auth_failure_window). Once an address reached the limit, every
 * further attempt from it is refused without looking at the password until
 * the window, counted from its first failure, has passed: a brute-force
 * client learns nothing, a legitimate one waits at most one window.
 * Process-wide; unix-socket peers ("unix") are never counted. */
#ifndef OM_AUTHLIMIT_H
#define OM_AUTHLIMIT_H

#include <stdbool.h>

/* Addresses remembered at once; when full, the entry whose window ends
 * first makes room (an attacker with more addresses than this gets fewer
 * refusals, never a crash or unbounded memory). */
#define AUTHLIMIT_MAX_ENTRIES 8192

/* true if ip has had max (> 0) failures within window seconds. */
bool authlimit_blocked(const char *ip, unsigned max, unsigned window);
/* Count one failure of ip. */
void authlimit_failed(const char *ip, unsigned window);
/* Forget everything (tests). */
void authlimit_reset(void);

#endif
