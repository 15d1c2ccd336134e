/* Process-wide counters for /metrics and the admin socket: a few relaxed
 * atomics that the protocol code bumps with one call. Counters only grow;
 * gauges go up and down (open connections). */
#ifndef OM_STATS_H
#define OM_STATS_H

#include <stdint.h>

enum om_stat {
	OM_STAT_IMAP_LOGIN_OK,
	OM_STAT_IMAP_LOGIN_FAILED,
	OM_STAT_LMTP_DELIVERY_OK,
	OM_STAT_LMTP_DELIVERY_TEMPFAIL,
	OM_STAT_LMTP_DELIVERY_PERMFAIL,
	OM_STAT_COUNT
};

enum om_gauge {
	OM_GAUGE_CONN_IMAP,
	OM_GAUGE_CONN_IMAPS,
	OM_GAUGE_CONN_LMTP,
	OM_GAUGE_CONN_ADMIN,
	OM_GAUGE_COUNT
};

void om_stat_inc(enum om_stat stat);
uint64_t om_stat_get(enum om_stat stat);
/* One LMTP recipient's delivery result (0 or -OM_E*), classified as the
 * reply the client gets: 2xx ok, 5xx permfail (quota, size), else tempfail. */
void om_stat_lmtp_delivery(int result);

void om_gauge_add(enum om_gauge gauge, int delta);
int64_t om_gauge_get(enum om_gauge gauge);

#endif
