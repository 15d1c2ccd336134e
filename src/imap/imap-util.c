/* Helpers around parsed IMAP arguments: typed access, writing strings back
 * out, sequence sets and the two IMAP date syntaxes. */
#include "imap/imap-parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-util.h"

bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_STRING:
	case IMAP_ARG_LITERAL:
	case IMAP_ARG_NIL: /* the atom "NIL" is a valid astring */
		*str_r = arg->str;
		*len_r = arg->len;
		return true;
	default:
		return false;
	}
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_STRING && arg->type != IMAP_ARG_LITERAL)
		return false;
	*str_r = arg->str;
	*len_r = arg->len;
	return true;
}

bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
		return false;
	*str_r = arg->str;
	return true;
}

/* Longer strings go out as literals: clients parse those without scanning
 * for escapes, and servers commonly do the same. */
#define QUOTED_MAX 1024

void imap_write_string(struct buf *out, const char *s, size_t len)
{
	if (s == NULL) {
		buf_append(out, "NIL", 3);
		return;
	}
	bool quotable = len <= QUOTED_MAX;
	size_t n_escapes = 0;
	for (size_t i = 0; i < len && quotable; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			quotable = false;
		else if (c == '"' || c == '\\')
			n_escapes++;
	}
	if (!quotable) {
		buf_printf(out, "{%zu}\r\n", len);
		buf_append(out, s, len);
		return;
	}
	buf_reserve(out, len + n_escapes + 2);
	buf_append_c(out, '"');
	if (n_escapes == 0) {
		buf_append(out, s, len);
	} else {
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '"' || s[i] == '\\')
				buf_append_c(out, '\\');
			buf_append_c(out, s[i]);
		}
	}
	buf_append_c(out, '"');
}

void imap_write_nstring(struct buf *out, const char *s, size_t len)
{
	imap_write_string(out, s, len);
}

/* --- sequence sets --- */

static bool parse_seq_number(const char **sp, uint32_t *out)
{
	const char *s = *sp;
	if (*s == '*') {
		*out = UINT32_MAX;
		*sp = s + 1;
		return true;
	}
	if (*s < '1' || *s > '9')
		return false; /* also rejects "0" and leading zeros */
	uint64_t v = 0;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
		s++;
	}
	*out = (uint32_t)v;
	*sp = s;
	return true;
}

bool imap_seqset_parse(const char *s, struct seq_range **ranges_r, size_t *n_r)
{
	size_t n = 1;
	for (const char *q = s; *q != '\0'; q++) {
		if (*q == ',')
			n++;
	}
	struct seq_range *ranges = om_reallocarray(NULL, n, sizeof(*ranges));
	size_t count = 0;

	for (;;) {
		uint32_t lo, hi;
		if (!parse_seq_number(&s, &lo))
			goto bad;
		hi = lo;
		if (*s == ':') {
			s++;
			if (!parse_seq_number(&s, &hi))
				goto bad;
		}
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		ranges[count].lo = lo;
		ranges[count].hi = hi;
		count++;
		if (*s == '\0')
			break;
		if (*s != ',')
			goto bad;
		s++;
	}
	*ranges_r = ranges;
	*n_r = count;
	return true;
bad:
	free(ranges);
	return false;
}

/* --- dates --- */

static const char month_names[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

long long imap_days_from_civil(int y, int m, int d)
{
	/* proleptic Gregorian; eras of 400 years keep the arithmetic exact */
	long long yy = (long long)y - (m <= 2);
	long long era = (yy >= 0 ? yy : yy - 399) / 400;
	long long yoe = yy - era * 400;
	long long mp = (m + 9) % 12;
	long long doy = (153 * mp + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void imap_civil_from_days(long long z, int *y_r, int *m_r, int *d_r)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	long long d = doy - (153 * mp + 2) / 5 + 1;
	long long m = mp < 10 ? mp + 3 : mp - 9;
	*y_r = (int)(yoe + era * 400 + (m <= 2));
	*m_r = (int)m;
	*d_r = (int)d;
}

static bool parse_digits(const char **sp, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*sp)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*sp += n;
	*out = v;
	return true;
}

/* "d-Mon-yyyy" / "dd-Mon-yyyy" / " d-Mon-yyyy" (date-day-fixed); *sp advanced. */
static bool parse_day_month_year(const char **sp, bool allow_space, int *y_r, int *m_r, int *d_r)
{
	const char *s = *sp;
	int day, year, month = -1;

	if (allow_space && *s == ' ')
		s++;
	if (s[0] < '0' || s[0] > '9')
		return false;
	if (s[1] >= '0' && s[1] <= '9') {
		if (!parse_digits(&s, 2, &day))
			return false;
	} else if (!parse_digits(&s, 1, &day)) {
		return false;
	}
	if (*s++ != '-')
		return false;
	for (int i = 0; i < 12; i++) {
		if (s[0] != '\0' && s[1] != '\0' && s[2] != '\0' &&
		    om_mem_ieq(s, 3, month_names[i])) {
			month = i + 1;
			break;
		}
	}
	if (month < 0)
		return false;
	s += 3;
	if (*s++ != '-')
		return false;
	if (!parse_digits(&s, 4, &year))
		return false;
	if (day < 1 || day > days_in_month(year, month))
		return false;
	*sp = s;
	*y_r = year;
	*m_r = month;
	*d_r = day;
	return true;
}

bool imap_parse_date(const char *s, int *year_r, int *month_r, int *day_r)
{
	if (!parse_day_month_year(&s, false, year_r, month_r, day_r))
		return false;
	return *s == '\0';
}

bool imap_parse_datetime(const char *s, long long *time_r, int *tz_minutes_r)
{
	int y, mo, d, h, mi, sec, zh, zm;
	if (!parse_day_month_year(&s, true, &y, &mo, &d))
		return false;
	if (*s++ != ' ' || !parse_digits(&s, 2, &h) || *s++ != ':' ||
	    !parse_digits(&s, 2, &mi) || *s++ != ':' || !parse_digits(&s, 2, &sec) ||
	    *s++ != ' ')
		return false;
	char sign = *s++;
	if ((sign != '+' && sign != '-') || !parse_digits(&s, 2, &zh) ||
	    !parse_digits(&s, 2, &zm) || *s != '\0')
		return false;
	if (h > 23 || mi > 59 || sec > 60 || zm > 59)
		return false;
	int tz = zh * 60 + zm;
	if (sign == '-')
		tz = -tz;
	long long t = imap_days_from_civil(y, mo, d) * 86400LL + h * 3600 + mi * 60 + sec;
	*time_r = t - tz * 60LL;
	*tz_minutes_r = tz;
	return true;
}

void imap_write_datetime(struct buf *out, long long t, int tz_minutes)
{
	/* keep the output within the 4-digit years the syntax has */
	const long long max_t = 253402300799LL; /* 9999-12-31 23:59:59 */
	if (tz_minutes < -(99 * 60 + 59) || tz_minutes > 99 * 60 + 59)
		tz_minutes = 0;
	long long local = t + tz_minutes * 60LL;
	if (local < 0)
		local = 0;
	if (local > max_t)
		local = max_t;
	long long days = local / 86400, secs = local % 86400;
	int y, m, d;
	imap_civil_from_days(days, &y, &m, &d);
	int az = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	buf_printf(out, "\"%02d-%s-%04d %02lld:%02lld:%02lld %c%02d%02d\"", d,
		   month_names[m - 1], y, secs / 3600, secs / 60 % 60, secs % 60,
		   tz_minutes < 0 ? '-' : '+', az / 60, az % 60);
}
