/* Relaxed atomics: the figures are read by scrapes, never used to decide
 * anything, so no ordering with other memory is needed. */
#include <stdatomic.h>

#include "lib/om-error.h"
#include "lib/stats.h"

static _Atomic uint64_t stats[OM_STAT_COUNT];
static _Atomic int64_t gauges[OM_GAUGE_COUNT];

void om_stat_inc(enum om_stat stat)
{
	if ((unsigned)stat < OM_STAT_COUNT)
		atomic_fetch_add_explicit(&stats[stat], 1, memory_order_relaxed);
}

uint64_t om_stat_get(enum om_stat stat)
{
	if ((unsigned)stat >= OM_STAT_COUNT)
		return 0;
	return atomic_load_explicit(&stats[stat], memory_order_relaxed);
}

void om_stat_lmtp_delivery(int result)
{
	if (result == 0)
		om_stat_inc(OM_STAT_LMTP_DELIVERY_OK);
	else if (result == -OM_EQUOTA || result == -OM_ELIMIT)
		om_stat_inc(OM_STAT_LMTP_DELIVERY_PERMFAIL);
	else
		om_stat_inc(OM_STAT_LMTP_DELIVERY_TEMPFAIL);
}

void om_gauge_add(enum om_gauge gauge, int delta)
{
	if ((unsigned)gauge < OM_GAUGE_COUNT)
		atomic_fetch_add_explicit(&gauges[gauge], delta, memory_order_relaxed);
}

int64_t om_gauge_get(enum om_gauge gauge)
{
	if ((unsigned)gauge >= OM_GAUGE_COUNT)
		return 0;
	return atomic_load_explicit(&gauges[gauge], memory_order_relaxed);
}
