/*
 * harmonise_date.c
 *		The date and datetime datatypes of dp_harmonise, and the calendar.
 *
 * Owns: the proleptic Gregorian calendar helpers (dp_days_from_civil,
 * dp_civil_from_days, dp_valid_date), reading every accepted date and
 * date-time spelling (ISO, day first, year first, month names, weekdays,
 * compact digits, unix seconds and milliseconds, times, AM/PM, zones),
 * the far-past and far-future checks, and the ISO output (datetime in UTC).
 *
 * Pure C, no backend calls, no allocation; every parser works on
 * (pointer, length) and never reads outside it.  Called from dp_harmonise
 * (harmonise.c) on input that is already trimmed.
 */
#include <string.h>

#include "harmonise.h"
#include "harmonise_int.h"

/* ----------------------------------------------------------------------
 * Calendar (proleptic Gregorian, days since 1970-01-01)
 * ---------------------------------------------------------------------- */

int32_t
dp_days_from_civil(int year, int month, int day)
{
	int32_t		y = year - (month <= 2);
	int32_t		era = (y >= 0 ? y : y - 399) / 400;
	int32_t		yoe = y - era * 400;
	int32_t		doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int32_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void
dp_civil_from_days(int32_t days, int *year, int *month, int *day)
{
	int32_t		z = days + 719468;
	int32_t		era = (z >= 0 ? z : z - 146096) / 146097;
	int32_t		doe = z - era * 146097;
	int32_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int32_t		y = yoe + era * 400;
	int32_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int32_t		mp = (5 * doy + 2) / 153;
	int32_t		d = doy - (153 * mp + 2) / 5 + 1;
	int32_t		m = mp < 10 ? mp + 3 : mp - 9;

	*year = (int) (y + (m <= 2));
	*month = (int) m;
	*day = (int) d;
}

static int
days_in_month(int year, int month)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return mdays[month - 1];
}

bool
dp_valid_date(int year, int month, int day)
{
	if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1)
		return false;
	return day <= days_in_month(year, month);
}

/* ----------------------------------------------------------------------
 * date and datetime
 * ---------------------------------------------------------------------- */

typedef struct DpStamp
{
	int			year;
	int			month;
	int			day;
	int			hour;
	int			minute;
	int			second;
	int32_t		usec;
	int32_t		tzoff;			/* seconds east of UTC */
	bool		swapped;		/* day and month were read the other way round */
} DpStamp;

/* Two-digit years as Python's %y: 69..99 -> 19xx, 00..68 -> 20xx. */
static inline int
pivot_year(int yy)
{
	return yy >= 69 ? 1900 + yy : 2000 + yy;
}

static int
month_lookup(const unsigned char *s, size_t n)
{
	static const char *const names[12] = {
		"january", "february", "march", "april", "may", "june", "july",
		"august", "september", "october", "november", "december"
	};
	int			m;

	if (n < 3)
		return 0;
	for (m = 0; m < 12; m++)
	{
		if (n == 3)
		{
			if (to_lower(s[0]) == names[m][0] && to_lower(s[1]) == names[m][1] &&
				to_lower(s[2]) == names[m][2])
				return m + 1;
		}
		else if (word_eq(s, n, names[m]))
			return m + 1;
	}
	if (word_eq(s, n, "sept"))
		return 9;
	return 0;
}

static bool
is_weekday(const unsigned char *s, size_t n)
{
	static const char *const names[7] = {
		"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
	};
	int			i;

	for (i = 0; i < 7; i++)
	{
		if (n == 3 && to_lower(s[0]) == names[i][0] &&
			to_lower(s[1]) == names[i][1] && to_lower(s[2]) == names[i][2])
			return true;
		if (word_eq(s, n, names[i]))
			return true;
	}
	return false;
}

static size_t
alpha_len(const unsigned char *s, size_t n, size_t i)
{
	size_t		j = i;

	while (j < n && is_alpha(s[j]))
		j++;
	return j - i;
}

/* Skip an English ordinal suffix ("st", "nd", "rd", "th") after a day. */
static size_t
skip_ordinal(const unsigned char *s, size_t n, size_t i)
{
	if (alpha_len(s, n, i) == 2 &&
		(word_eq(s + i, 2, "st") || word_eq(s + i, 2, "nd") ||
		 word_eq(s + i, 2, "rd") || word_eq(s + i, 2, "th")))
		return i + 2;
	return i;
}

/*
 * Optional time of day and zone after a date, from s[i] to the end:
 *	('T' | [','] ' '+) (H[H]:MM[:SS[(.|,)F+]] | HHMM[SS][.F+]) [' '* (AM|PM)]
 *	[' '* (Z | UTC | GMT | UT)] [' '* (+|-)HH[[:]MM]]
 */
static bool
parse_time_tail(const unsigned char *s, size_t n, size_t i, DpStamp *st)
{
	size_t		nd;
	size_t		j;
	int			hh;
	int			mi;
	int			ss = 0;
	int32_t		usec = 0;
	int32_t		tz = 0;
	bool		have_seconds = false;

	if (i >= n)
		return true;
	if (s[i] == 'T' || s[i] == 't')
		i++;
	else
	{
		bool		sep = false;

		if (s[i] == ',')
		{
			i++;
			sep = true;
		}
		while (i < n && s[i] == ' ')
		{
			i++;
			sep = true;
		}
		if (!sep)
			return false;
	}

	nd = count_digits(s, n, i);
	if ((nd == 4 || nd == 6) && (i + nd == n || s[i + nd] != ':'))
	{
		hh = (int) digits_value(s, i, 2);
		mi = (int) digits_value(s, i + 2, 2);
		if (nd == 6)
		{
			ss = (int) digits_value(s, i + 4, 2);
			have_seconds = true;
		}
		i += nd;
	}
	else if (nd == 1 || nd == 2)
	{
		hh = (int) digits_value(s, i, nd);
		i += nd;
		if (i >= n || s[i] != ':' || count_digits(s, n, i + 1) != 2)
			return false;
		mi = (int) digits_value(s, i + 1, 2);
		i += 3;
		if (i < n && s[i] == ':')
		{
			if (count_digits(s, n, i + 1) != 2)
				return false;
			ss = (int) digits_value(s, i + 1, 2);
			i += 3;
			have_seconds = true;
		}
	}
	else
		return false;

	/* fractional seconds: any number of digits, truncated to microseconds */
	if (have_seconds && i + 1 < n && (s[i] == '.' || s[i] == ',') && is_digit(s[i + 1]))
	{
		size_t		k;

		i++;
		nd = count_digits(s, n, i);
		for (k = 0; k < 6; k++)
			usec = usec * 10 + (k < nd ? s[i + k] - '0' : 0);
		i += nd;
	}

	/* AM / PM */
	j = i;
	while (j < n && s[j] == ' ')
		j++;
	if (j + 1 < n && (to_lower(s[j]) == 'a' || to_lower(s[j]) == 'p') &&
		to_lower(s[j + 1]) == 'm' && (j + 2 == n || !is_alpha(s[j + 2])))
	{
		if (hh < 1 || hh > 12)
			return false;
		hh = hh % 12 + (to_lower(s[j]) == 'p' ? 12 : 0);
		i = j + 2;
	}

	/* zone name */
	j = i;
	while (j < n && s[j] == ' ')
		j++;
	if (j < n && (s[j] == 'Z' || s[j] == 'z') && j + 1 == n)
		i = j + 1;
	else if (j < n && is_alpha(s[j]))
	{
		size_t		al = alpha_len(s, n, j);

		if (!(word_eq(s + j, al, "utc") || word_eq(s + j, al, "gmt") ||
			  word_eq(s + j, al, "ut")))
			return false;
		i = j + al;
	}

	/* numeric offset */
	j = i;
	while (j < n && s[j] == ' ')
		j++;
	if (j < n && (s[j] == '+' || s[j] == '-'))
	{
		bool		neg = (s[j] == '-');
		int			oh;
		int			om = 0;

		j++;
		nd = count_digits(s, n, j);
		if (nd == 4)
		{
			oh = (int) digits_value(s, j, 2);
			om = (int) digits_value(s, j + 2, 2);
			j += 4;
		}
		else if (nd == 2)
		{
			oh = (int) digits_value(s, j, 2);
			j += 2;
			if (j < n && s[j] == ':')
			{
				if (count_digits(s, n, j + 1) != 2)
					return false;
				om = (int) digits_value(s, j + 1, 2);
				j += 3;
			}
		}
		else
			return false;
		if (oh > 23 || om > 59)
			return false;
		tz = (oh * 3600 + om * 60) * (neg ? -1 : 1);
		i = j;
	}

	if (i != n)
		return false;
	if (hh > 23 || mi > 59 || ss > 59)
		return false;
	st->hour = hh;
	st->minute = mi;
	st->second = ss;
	st->usec = usec;
	st->tzoff = tz;
	return true;
}

/* Read a year of exactly 2 or 4 digits at s[*i]. */
static bool
read_year(const unsigned char *s, size_t n, size_t *i, int *year)
{
	size_t		nd = count_digits(s, n, *i);

	if (nd == 4)
		*year = (int) digits_value(s, *i, 4);
	else if (nd == 2)
		*year = pivot_year((int) digits_value(s, *i, 2));
	else
		return false;
	*i += nd;
	return true;
}

/*
 * Day first: D[D][ordinal] sep (M[M] | month-name) sep (YY | YYYY) [time].
 * sep is one of - / . or a run of spaces; with a numeric month both
 * separators must be the same.  A numeric month above 12 with a day of 12
 * or less is read month first (12/13/2020).
 */
static bool
parse_dmy(const unsigned char *s, size_t n, size_t i, DpStamp *st)
{
	size_t		nd = count_digits(s, n, i);
	unsigned char sep;
	int			d;
	int			m;
	bool		textual = false;

	if (nd < 1 || nd > 2)
		return false;
	d = (int) digits_value(s, i, nd);
	i = skip_ordinal(s, n, i + nd);
	if (i >= n)
		return false;
	sep = s[i];
	if (sep == ' ')
		while (i < n && s[i] == ' ')
			i++;
	else if (sep == '-' || sep == '/' || sep == '.')
		i++;
	else
		return false;

	if (i < n && is_alpha(s[i]))
	{
		size_t		al = alpha_len(s, n, i);
		bool		any = false;

		if ((m = month_lookup(s + i, al)) == 0)
			return false;
		textual = true;
		i += al;
		if (i < n && s[i] == '.' && sep != '.')
			i++;
		if (i < n && s[i] == ',')
		{
			i++;
			any = true;
		}
		if (i < n && s[i] == ' ')
		{
			while (i < n && s[i] == ' ')
				i++;
			any = true;
		}
		else if (!any && i < n && (s[i] == '-' || s[i] == '/' || s[i] == '.'))
		{
			i++;
			any = true;
		}
		if (!any)
			return false;
	}
	else
	{
		nd = count_digits(s, n, i);
		if (nd < 1 || nd > 2)
			return false;
		m = (int) digits_value(s, i, nd);
		i += nd;
		if (i >= n || s[i] != sep)
			return false;
		if (sep == ' ')
			while (i < n && s[i] == ' ')
				i++;
		else
			i++;
	}
	if (!read_year(s, n, &i, &st->year))
		return false;
	if (!parse_time_tail(s, n, i, st))
		return false;
	if (!textual && m > 12 && d >= 1 && d <= 12)
	{
		int			t = m;

		m = d;
		d = t;
		st->swapped = true;
	}
	st->month = m;
	st->day = d;
	return true;
}

/*
 * Year first: YYYY sep M[M] [sep D[D] [time]], sep one of - / . or spaces
 * (the same both times).  No day means the first of the month.  A month
 * above 12 with a day of 12 or less is read as YYYY-DD-MM.
 */
static bool
parse_ymd(const unsigned char *s, size_t n, DpStamp *st)
{
	unsigned char sep = s[4];
	size_t		i = 5;
	size_t		nd;
	int			m;
	int			d = 1;

	st->year = (int) digits_value(s, 0, 4);
	if (sep == ' ')
		while (i < n && s[i] == ' ')
			i++;
	nd = count_digits(s, n, i);
	if (nd < 1 || nd > 2)
		return false;
	m = (int) digits_value(s, i, nd);
	i += nd;
	if (i < n)
	{
		if (s[i] != sep)
			return false;
		i++;
		if (sep == ' ')
			while (i < n && s[i] == ' ')
				i++;
		nd = count_digits(s, n, i);
		if (nd < 1 || nd > 2)
			return false;
		d = (int) digits_value(s, i, nd);
		i += nd;
		if (!parse_time_tail(s, n, i, st))
			return false;
		if (m > 12 && d >= 1 && d <= 12)
		{
			int			t = m;

			m = d;
			d = t;
			st->swapped = true;
		}
	}
	st->month = m;
	st->day = d;
	return true;
}

/*
 * Month first: month-name sep (YY | YYYY)  -- "Jan-20", "March 2020"
 *           or month-name sep D[D][ordinal] [','] ' '* (YY | YYYY) [time]
 *				-- "Jan 2, 2020"
 */
static bool
parse_mdy_text(const unsigned char *s, size_t n, size_t i, DpStamp *st)
{
	size_t		al = alpha_len(s, n, i);
	size_t		nd;
	int			m;
	bool		any = false;

	if ((m = month_lookup(s + i, al)) == 0)
		return false;
	i += al;
	if (i < n && s[i] == '.')
		i++;
	if (i < n && s[i] == ',')
	{
		i++;
		any = true;
	}
	if (i < n && s[i] == ' ')
	{
		while (i < n && s[i] == ' ')
			i++;
		any = true;
	}
	else if (!any && i < n && (s[i] == '-' || s[i] == '/'))
	{
		i++;
		any = true;
	}
	if (!any)
		return false;

	nd = count_digits(s, n, i);
	st->month = m;
	if (nd == 4 && i + 4 == n)
	{
		st->year = (int) digits_value(s, i, 4);
		st->day = 1;
		return true;
	}
	if (nd == 2 && i + 2 == n)
	{
		st->year = pivot_year((int) digits_value(s, i, 2));
		st->day = 1;
		return true;
	}
	if (nd < 1 || nd > 2)
		return false;
	st->day = (int) digits_value(s, i, nd);
	i = skip_ordinal(s, n, i + nd);
	any = false;
	if (i < n && s[i] == ',')
	{
		i++;
		any = true;
	}
	while (i < n && s[i] == ' ')
	{
		i++;
		any = true;
	}
	if (!any)
		return false;
	if (!read_year(s, n, &i, &st->year))
		return false;
	return parse_time_tail(s, n, i, st);
}

/* Fill st (UTC) from seconds since the epoch. */
static void
stamp_from_epoch(int64_t secs, int32_t usec, DpStamp *st)
{
	int64_t		days = secs / 86400;
	int64_t		sod = secs % 86400;

	dp_civil_from_days((int32_t) days, &st->year, &st->month, &st->day);
	st->hour = (int) (sod / 3600);
	st->minute = (int) (sod / 60 % 60);
	st->second = (int) (sod % 60);
	st->usec = usec;
	st->tzoff = 0;
}

/*
 * All digits, optionally with a fraction:
 *	4 digits			year (fraction must be zeros: "2020.0")
 *	8 digits			YYYYMMDD (optionally followed by a time: T030459)
 *	14 digits			YYYYMMDDhhmmss
 *	9 or 10 digits		unix seconds (fraction kept to microseconds)
 *	12 or 13 digits		unix milliseconds
 */
static bool
parse_numeric_date(const unsigned char *s, size_t n, size_t nd, DpStamp *st)
{
	size_t		fd = 0;
	size_t		k;
	int32_t		usec = 0;

	if (nd < n)
	{
		if (s[nd] != '.')
			return false;
		fd = count_digits(s, n, nd + 1);
		if (fd == 0 || nd + 1 + fd != n)
			return false;
	}
	switch (nd)
	{
		case 4:
			for (k = 0; k < fd; k++)
				if (s[nd + 1 + k] != '0')
					return false;
			st->year = (int) digits_value(s, 0, 4);
			st->month = 1;
			st->day = 1;
			return true;
		case 8:
		case 14:
			if (fd > 0)
				return false;
			st->year = (int) digits_value(s, 0, 4);
			st->month = (int) digits_value(s, 4, 2);
			st->day = (int) digits_value(s, 6, 2);
			if (nd == 14)
			{
				st->hour = (int) digits_value(s, 8, 2);
				st->minute = (int) digits_value(s, 10, 2);
				st->second = (int) digits_value(s, 12, 2);
				if (st->hour > 23 || st->minute > 59 || st->second > 59)
					return false;
			}
			return true;
		case 9:
		case 10:
			for (k = 0; k < 6; k++)
				usec = usec * 10 + (k < fd ? s[nd + 1 + k] - '0' : 0);
			stamp_from_epoch(digits_value(s, 0, nd), usec, st);
			return true;
		case 12:
		case 13:
			{
				int64_t		ms = digits_value(s, 0, nd);

				for (k = 0; k < 3; k++)
					usec = usec * 10 + (k < fd ? s[nd + 1 + k] - '0' : 0);
				stamp_from_epoch(ms / 1000, (int32_t) (ms % 1000) * 1000 + usec, st);
				return true;
			}
		default:
			return false;
	}
}

/* Parse any accepted date or date-time spelling into st (fields unchecked). */
static bool
parse_stamp(const unsigned char *s, size_t n, DpStamp *st)
{
	size_t		nd;

	memset(st, 0, sizeof(*st));
	if (n == 0)
		return false;
	nd = count_digits(s, n, 0);
	if (nd == n)
		return parse_numeric_date(s, n, nd, st);
	if (nd > 2 && s[nd] == '.')
	{
		size_t		fd = count_digits(s, n, nd + 1);
		size_t		k;
		bool		zeros = true;

		for (k = 0; k < fd; k++)
			zeros = zeros && s[nd + 1 + k] == '0';
		/* "2020.0" is a year, but "1969.07" is a year and month */
		if (fd > 0 && nd + 1 + fd == n && (nd != 4 || zeros))
			return parse_numeric_date(s, n, nd, st);
	}
	if (nd == 8 && (s[8] == 'T' || s[8] == 't' || s[8] == ' '))
	{
		st->year = (int) digits_value(s, 0, 4);
		st->month = (int) digits_value(s, 4, 2);
		st->day = (int) digits_value(s, 6, 2);
		return parse_time_tail(s, n, 8, st);
	}
	if (nd == 4 && (s[4] == '-' || s[4] == '/' || s[4] == '.' || s[4] == ' '))
		return parse_ymd(s, n, st);
	if (nd == 1 || nd == 2)
		return parse_dmy(s, n, 0, st);
	if (nd == 0 && is_alpha(s[0]))
	{
		size_t		al = alpha_len(s, n, 0);
		size_t		i = al;

		if (is_weekday(s, al))
		{
			bool		any = false;

			if (i < n && s[i] == '.')
				i++;
			if (i < n && s[i] == ',')
			{
				i++;
				any = true;
			}
			while (i < n && s[i] == ' ')
			{
				i++;
				any = true;
			}
			if (!any || i >= n)
				return false;
			if (is_digit(s[i]))
				return parse_dmy(s, n, i, st);
			return parse_mdy_text(s, n, i, st);
		}
		return parse_mdy_text(s, n, 0, st);
	}
	return false;
}

/* dp_days_from_civil of these days (a unit test checks them) */
#define DP_DAYS_1799_12_31	(-62092)
#define DP_DAYS_0001_01_01	(-719162)
#define DP_DAYS_9999_12_31	2932896

/* Far-past / far-future checks on a day number. */
static DpIssue
check_date_range(int32_t days, const DpConstraints *c)
{
	if (days < DP_DAYS_1799_12_31)
		return DP_ISSUE_FAR_PAST_DATE;
	/*
	 * The bound below is at least 50 * 365 + 11 - 1 days after an
	 * unclamped today (50 years hold at least 11 leap days; the day may
	 * move back from the 29th of February to the 28th): a day up to 18,250
	 * days after today needs no calendar arithmetic.
	 */
	if (c != NULL && c->has_today && c->today_days >= DP_DAYS_0001_01_01 &&
		c->today_days <= DP_DAYS_9999_12_31 && days <= c->today_days + 18250)
		return DP_ISSUE_NONE;
	if (c != NULL && c->has_today)
	{
		int32_t		today = c->today_days;
		int			y;
		int			m;
		int			d;
		int			dim;

		/* keep a wild "today" inside years 1..9999 */
		if (today < dp_days_from_civil(1, 1, 1))
			today = dp_days_from_civil(1, 1, 1);
		if (today > dp_days_from_civil(9999, 12, 31))
			today = dp_days_from_civil(9999, 12, 31);
		dp_civil_from_days(today, &y, &m, &d);
		y += 50;
		dim = days_in_month(y, m);
		if (d > dim)
			d = dim;
		if (days > dp_days_from_civil(y, m, d))
			return DP_ISSUE_FAR_FUTURE_DATE;
	}
	return DP_ISSUE_NONE;
}

static void
out_date(DpOut *o, int y, int m, int d)
{
	if (y >= 0 && y <= 9999 && m >= 0 && m <= 99 && d >= 0 && d <= 99 && o->len + 10 < o->cap)
	{
		/* it fits: the ten characters in place */
		char	   *w = o->buf + o->len;

		w[0] = (char) ('0' + y / 1000);
		w[1] = (char) ('0' + y / 100 % 10);
		w[2] = (char) ('0' + y / 10 % 10);
		w[3] = (char) ('0' + y % 10);
		w[4] = '-';
		w[5] = (char) ('0' + m / 10);
		w[6] = (char) ('0' + m % 10);
		w[7] = '-';
		w[8] = (char) ('0' + d / 10);
		w[9] = (char) ('0' + d % 10);
		o->len += 10;
		return;
	}
	out_u(o, (uint64_t) y, 4);
	out_c(o, '-');
	out_u(o, (uint64_t) m, 2);
	out_c(o, '-');
	out_u(o, (uint64_t) d, 2);
}

/*
 * Whether s[0..10) is YYYY-MM-DD with a month of 01..12: the spelling
 * that parse_stamp reads as exactly that year, month and day (no swap),
 * and that out_date writes back.
 */
static inline bool
iso_date(const unsigned char *s, int *y, int *m, int *d)
{
	if (s[4] != '-' || s[7] != '-' || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) ||
		!is_digit(s[3]) || !is_digit(s[5]) || !is_digit(s[6]) || !is_digit(s[8]) || !is_digit(s[9]))
		return false;
	*y = (int) digits_value(s, 0, 4);
	*m = (int) digits_value(s, 5, 2);
	*d = (int) digits_value(s, 8, 2);
	return *m >= 1 && *m <= 12;
}

/* date: the calendar date as written (a zone offset does not move it). */
DpIssue
dp_harmonise_norm_date(const unsigned char *s, size_t n, const DpConstraints *c,
					   DpOut *o)
{
	DpStamp		st;
	DpIssue		iss;
	int			y,
				m,
				d;

	if (n == 10 && iso_date(s, &y, &m, &d))
	{
		/* already canonical: checked as below, and written back as it is */
		if (!dp_valid_date(y, m, d))
			return DP_ISSUE_INVALID_DATE;
		iss = check_date_range(dp_days_from_civil(y, m, d), c);
		if (iss != DP_ISSUE_NONE)
			return iss;
		out_s(o, (const char *) s, 10);
		return DP_ISSUE_NONE;
	}

	if (!parse_stamp(s, n, &st) || !dp_valid_date(st.year, st.month, st.day))
		return DP_ISSUE_INVALID_DATE;
	iss = check_date_range(dp_days_from_civil(st.year, st.month, st.day), c);
	if (iss != DP_ISSUE_NONE)
		return iss;
	if (st.swapped)
		o->notes |= DP_NOTE_DAY_MONTH_SWAPPED;
	out_date(o, st.year, st.month, st.day);
	return DP_ISSUE_NONE;
}

/* datetime: converted to UTC; no zone means UTC; a bare date is midnight. */
DpIssue
dp_harmonise_norm_datetime(const unsigned char *s, size_t n, const DpConstraints *c,
						   DpOut *o)
{
	DpStamp		st;
	DpIssue		iss;
	int64_t		secs;
	int64_t		days;
	int64_t		sod;
	int			y;
	int			m;
	int			d;
	size_t		tail;

	/*
	 * YYYY-MM-DD(T| )HH:MM:SS[.F{1,6}](Z|+00|+00:00), in UTC already: the
	 * fields are read here and checked and written as below (no day moves)
	 */
	if (n >= 20 && iso_date(s, &y, &m, &d) && (s[10] == 'T' || s[10] == ' ') &&
		s[13] == ':' && s[16] == ':' && count_digits(s, n, 11) == 2 &&
		count_digits(s, n, 14) == 2 && count_digits(s, n, 17) == 2)
	{
		size_t		nf = 0;
		int32_t		usec = 0;

		tail = 19;
		if (s[19] == '.' && (nf = count_digits(s, n, 20)) >= 1 && nf <= 6)
		{
			for (size_t k = 0; k < 6; k++)
				usec = usec * 10 + (k < nf ? s[20 + k] - '0' : 0);
			tail = 20 + nf;
		}
		if ((n == tail + 1 && s[tail] == 'Z') ||
			(n == tail + 3 && memcmp(s + tail, "+00", 3) == 0) ||
			(n == tail + 6 && memcmp(s + tail, "+00:00", 6) == 0))
		{
			int			hh = (int) digits_value(s, 11, 2),
						mi = (int) digits_value(s, 14, 2),
						ss = (int) digits_value(s, 17, 2);

			if (!dp_valid_date(y, m, d) || hh > 23 || mi > 59 || ss > 59)
				return DP_ISSUE_INVALID_DATETIME;
			iss = check_date_range(dp_days_from_civil(y, m, d), c);
			if (iss != DP_ISSUE_NONE)
				return iss;
			out_s(o, (const char *) s, 10);
			out_c(o, 'T');
			out_s(o, (const char *) s + 11, 8);
			if (usec > 0)
			{
				out_c(o, '.');
				out_u(o, (uint64_t) usec, 6);
			}
			out_c(o, 'Z');
			return DP_ISSUE_NONE;
		}
	}

	if (!parse_stamp(s, n, &st) || !dp_valid_date(st.year, st.month, st.day))
		return DP_ISSUE_INVALID_DATETIME;
	secs = (int64_t) dp_days_from_civil(st.year, st.month, st.day) * 86400 +
		st.hour * 3600 + st.minute * 60 + st.second - st.tzoff;
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = secs - days * 86400;
	iss = check_date_range((int32_t) days, c);
	if (iss != DP_ISSUE_NONE)
		return iss;
	dp_civil_from_days((int32_t) days, &y, &m, &d);
	if (y < 1 || y > 9999)
		return DP_ISSUE_INVALID_DATETIME;
	if (st.swapped)
		o->notes |= DP_NOTE_DAY_MONTH_SWAPPED;
	out_date(o, y, m, d);
	out_c(o, 'T');
	out_u(o, (uint64_t) (sod / 3600), 2);
	out_c(o, ':');
	out_u(o, (uint64_t) (sod / 60 % 60), 2);
	out_c(o, ':');
	out_u(o, (uint64_t) (sod % 60), 2);
	if (st.usec > 0)
	{
		out_c(o, '.');
		out_u(o, (uint64_t) st.usec, 6);
	}
	out_c(o, 'Z');
	return DP_ISSUE_NONE;
}
