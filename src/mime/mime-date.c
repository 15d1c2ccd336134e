/* RFC 5322 date-time, with the obsolete forms RFC 5322 section 4.3 still
 * asks receivers to accept: optional day-of-week, optional seconds, two-
 * and three-digit years, named zones (UT GMT EST EDT CST CDT MST MDT PST
 * PDT, military letters), comments and extra whitespace anywhere. */
#include "mime/mime-private.h"

#include <string.h>
#include <strings.h>

struct date_lex {
	const char *p, *end;
};

static void skip_cfws(struct date_lex *l)
{
	unsigned depth = 0;

	while (l->p < l->end) {
		char ch = *l->p;
		if (depth > 0) {
			if (ch == '\\' && l->p + 1 < l->end)
				l->p++;
			else if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
			l->p++;
		} else if (ch == '(') {
			depth = 1;
			l->p++;
		} else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			l->p++;
		} else {
			break;
		}
	}
}

static bool read_number(struct date_lex *l, unsigned max_digits, int *value_r, unsigned *digits_r)
{
	unsigned digits = 0;
	int v = 0;

	while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
		if (digits == max_digits)
			return false;
		v = v * 10 + (*l->p - '0');
		digits++;
		l->p++;
	}
	if (digits == 0)
		return false;
	*value_r = v;
	if (digits_r != NULL)
		*digits_r = digits;
	return true;
}

static size_t read_word(struct date_lex *l, char *word, size_t size)
{
	size_t n = 0;

	while (l->p < l->end && ((*l->p >= 'A' && *l->p <= 'Z') || (*l->p >= 'a' && *l->p <= 'z'))) {
		if (n + 1 < size)
			word[n++] = *l->p;
		l->p++;
	}
	word[n] = '\0';
	return n;
}

static int month_number(const char *word)
{
	static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
					      "jul", "aug", "sep", "oct", "nov", "dec" };
	int i;

	if (strlen(word) < 3)
		return -1;
	for (i = 0; i < 12; i++) {
		if (strncasecmp(word, months[i], 3) == 0)
			return i + 1;
	}
	return -1;
}

static bool zone_offset(const char *word, int *tz_r)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -5 }, { "EDT", -4 }, { "CST", -6 }, { "CDT", -5 },
		{ "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};
	size_t i;

	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strcasecmp(word, zones[i].name) == 0) {
			*tz_r = zones[i].hours * 60;
			return true;
		}
	}
	/* RFC 5322: military zones were used wrongly so often that they
	 * carry no information; treat as -0000 */
	if (strlen(word) == 1) {
		*tz_r = 0;
		return true;
	}
	return false;
}

/* days since 1970-01-01 of a proleptic Gregorian date */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

bool mime_parse_date(const char *s, size_t len, long long *time_r, int *tz_r)
{
	struct date_lex l = { s, s + len };
	char word[16];
	int day, month, year, hour, min, sec = 0, tz = 0;
	unsigned year_digits;

	skip_cfws(&l);
	if (l.p < l.end && ((*l.p >= 'A' && *l.p <= 'Z') || (*l.p >= 'a' && *l.p <= 'z'))) {
		(void)read_word(&l, word, sizeof(word)); /* day-of-week */
		skip_cfws(&l);
		if (l.p < l.end && *l.p == ',')
			l.p++;
		skip_cfws(&l);
	}
	if (!read_number(&l, 2, &day, NULL))
		return false;
	skip_cfws(&l);
	if (l.p < l.end && *l.p == '-')
		l.p++; /* "7-Feb-1994" */
	if (read_word(&l, word, sizeof(word)) == 0 || (month = month_number(word)) < 0)
		return false;
	skip_cfws(&l);
	if (l.p < l.end && *l.p == '-')
		l.p++;
	if (!read_number(&l, 4, &year, &year_digits))
		return false;
	if (year_digits == 2)
		year += year < 50 ? 2000 : 1900;
	else if (year_digits == 3)
		year += 1900;
	skip_cfws(&l);
	if (!read_number(&l, 2, &hour, NULL))
		return false;
	skip_cfws(&l);
	if (l.p >= l.end || *l.p != ':')
		return false;
	l.p++;
	skip_cfws(&l);
	if (!read_number(&l, 2, &min, NULL))
		return false;
	skip_cfws(&l);
	if (l.p < l.end && *l.p == ':') {
		l.p++;
		skip_cfws(&l);
		if (!read_number(&l, 2, &sec, NULL))
			return false;
		skip_cfws(&l);
	}
	if (l.p < l.end && (*l.p == '+' || *l.p == '-')) {
		int sign = *l.p == '-' ? -1 : 1, hhmm;
		unsigned digits;

		l.p++;
		if (!read_number(&l, 4, &hhmm, &digits) || digits != 4 || hhmm % 100 > 59)
			return false;
		tz = sign * ((hhmm / 100) * 60 + hhmm % 100);
	} else if (l.p < l.end) {
		if (read_word(&l, word, sizeof(word)) > 0 && !zone_offset(word, &tz))
			tz = 0; /* unknown zone name: -0000, time is still good */
	}
	if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return false;
	*time_r = days_from_civil(year, (unsigned)month, (unsigned)day) * 86400LL +
		  hour * 3600LL + min * 60LL + sec - tz * 60LL;
	*tz_r = tz;
	return true;
}
