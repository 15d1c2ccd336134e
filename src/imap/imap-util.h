/* Calendar arithmetic shared by the IMAP date helpers (imap-util.c) and
 * SEARCH. Days are counted from 1970-01-01 (day 0), proleptic Gregorian. */
#ifndef OM_IMAP_UTIL_H
#define OM_IMAP_UTIL_H

long long imap_days_from_civil(int year, int month, int day);
void imap_civil_from_days(long long days, int *year_r, int *month_r, int *day_r);

#endif
