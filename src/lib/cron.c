/*
 * cron.c
 *		Parsing and evaluation of job schedules (see cron.h).  Pure C: no
 *		allocation, no backend calls; all times in UTC seconds since the Unix
 *		epoch, converted with the proleptic Gregorian calendar.
 */
#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CRON_SEARCH_DAYS	(366 * 9)

typedef struct CronField
{
	const char *name;
	int			min;
	int			max;
	const char *const *names;	/* names[i] is value min + i, or NULL */
} CronField;

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const weekday_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const CronField fields[5] = {
	{"minute", 0, 59, NULL},
	{"hour", 0, 23, NULL},
	{"day of month", 1, 31, NULL},
	{"month", 1, 12, month_names},
	{"day of week", 0, 7, weekday_names},
};

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era;
	int64_t		doe;
	int64_t		yoe;
	int64_t		doy;
	int64_t		mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/*
 * Read a number or a name at *p for field f.  Returns false (with err set)
 * if there is none or it is out of range.
 */
static bool
read_value(const char **p, const CronField *f, int *value, char *err, size_t errlen)
{
	const char *s = *p;

	if (isdigit((unsigned char) *s))
	{
		long		v = 0;

		while (isdigit((unsigned char) *s))
		{
			v = v * 10 + (*s - '0');
			if (v > 1000)
				break;
			s++;
		}
		if (v < f->min || v > f->max)
		{
			snprintf(err, errlen, "%s field: %ld is out of range %d-%d",
					 f->name, v, f->min, f->max);
			return false;
		}
		*value = (int) v;
		*p = s;
		return true;
	}
	if (f->names && isalpha((unsigned char) s[0]))
	{
		for (int i = 0; f->names[i]; i++)
		{
			if (strncasecmp(s, f->names[i], 3) == 0 &&
				!isalpha((unsigned char) s[3]))
			{
				*value = f->min + i;
				*p = s + 3;
				return true;
			}
		}
	}
	snprintf(err, errlen, "%s field: expected a number%s at \"%.20s\"",
			 f->name, f->names ? " or a name" : "", s);
	return false;
}

/* Parse one field (the text between s and end) into a bit mask. */
static bool
parse_field(const char *s, const char *end, const CronField *f, uint64_t *mask,
			bool *star, char *err, size_t errlen)
{
	*mask = 0;
	*star = (end - s == 1 && *s == '*');
	while (s < end)
	{
		int			lo;
		int			hi;
		int			step = 1;
		bool		ranged = false;

		if (*s == '*')
		{
			lo = f->min;
			hi = f->max;
			ranged = true;
			s++;
		}
		else
		{
			if (!read_value(&s, f, &lo, err, errlen))
				return false;
			hi = lo;
			if (*s == '-')
			{
				s++;
				if (!read_value(&s, f, &hi, err, errlen))
					return false;
				if (hi < lo)
				{
					snprintf(err, errlen, "%s field: range %d-%d goes backwards",
							 f->name, lo, hi);
					return false;
				}
				ranged = true;
			}
		}
		if (*s == '/')
		{
			long		v = 0;

			s++;
			if (!isdigit((unsigned char) *s))
			{
				snprintf(err, errlen, "%s field: expected a step after \"/\"", f->name);
				return false;
			}
			while (isdigit((unsigned char) *s) && v <= 1000)
				v = v * 10 + (*s++ - '0');
			if (v < 1 || v > f->max)
			{
				snprintf(err, errlen, "%s field: step %ld is out of range 1-%d",
						 f->name, v, f->max);
				return false;
			}
			step = (int) v;
			if (!ranged)
				hi = f->max;	/* "a/n": from a to the end */
			*star = false;
		}
		for (int v = lo; v <= hi; v += step)
			*mask |= (uint64_t) 1 << v;
		if (s < end)
		{
			if (*s != ',' || s + 1 == end)
			{
				snprintf(err, errlen, "%s field: unexpected \"%.20s\"", f->name, s);
				return false;
			}
			s++;
		}
	}
	return true;
}

static bool
parse_interval(const char *s, DpCron *out, char *err, size_t errlen)
{
	long long	n = 0;
	int64_t		unit;
	size_t		len;

	while (isspace((unsigned char) *s))
		s++;
	if (!isdigit((unsigned char) *s))
	{
		snprintf(err, errlen, "expected a number after \"every\"");
		return false;
	}
	while (isdigit((unsigned char) *s))
	{
		if (n <= DP_CRON_MAX_INTERVAL)
			n = n * 10 + (*s - '0');
		s++;
	}
	while (isspace((unsigned char) *s))
		s++;
	len = strcspn(s, " \t\r\n");
	if ((len == 6 || len == 7) && strncasecmp(s, "seconds", len) == 0)
		unit = 1;
	else if ((len == 6 || len == 7) && strncasecmp(s, "minutes", len) == 0)
		unit = 60;
	else if ((len == 4 || len == 5) && strncasecmp(s, "hours", len) == 0)
		unit = 3600;
	else
	{
		snprintf(err, errlen, "unknown unit \"%.*s\": use seconds, minutes or hours",
				 (int) (len > 20 ? 20 : len), s);
		return false;
	}
	s += len;
	while (isspace((unsigned char) *s))
		s++;
	if (*s)
	{
		snprintf(err, errlen, "unexpected \"%.20s\" after the interval", s);
		return false;
	}
	if (n < 1 || n * unit > DP_CRON_MAX_INTERVAL)
	{
		snprintf(err, errlen, "the interval must be between 1 second and 366 days");
		return false;
	}
	out->interval = n * unit;
	return true;
}

bool
dp_cron_parse(const char *text, DpCron *out, char *err, size_t errlen)
{
	const char *s = text;
	const char *expr = text;
	static const struct
	{
		const char *name;
		const char *expr;
	}			macros[] = {
		{"@yearly", "0 0 1 1 *"},
		{"@annually", "0 0 1 1 *"},
		{"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"},
		{"@daily", "0 0 * * *"},
		{"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"},
	};

	if (errlen > 0)
		err[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (text == NULL)
	{
		snprintf(err, errlen, "the schedule is empty");
		return false;
	}
	while (isspace((unsigned char) *s))
		s++;
	if (*s == '\0')
	{
		snprintf(err, errlen, "the schedule is empty");
		return false;
	}
	if (strncasecmp(s, "every", 5) == 0 && isspace((unsigned char) s[5]))
		return parse_interval(s + 5, out, err, errlen);
	if (*s == '@')
	{
		size_t		len = strcspn(s, " \t\r\n");
		const char *rest = s + len;

		while (isspace((unsigned char) *rest))
			rest++;
		expr = NULL;
		for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
			if (strlen(macros[i].name) == len && strncasecmp(s, macros[i].name, len) == 0)
				expr = macros[i].expr;
		if (expr == NULL || *rest)
		{
			snprintf(err, errlen, "unknown schedule \"%.*s\"",
					 (int) (len > 20 ? 20 : len), s);
			return false;
		}
		s = expr;
	}
	for (int i = 0; i < 5; i++)
	{
		const char *end;
		uint64_t	mask;
		bool		star;

		while (isspace((unsigned char) *s))
			s++;
		if (*s == '\0')
		{
			snprintf(err, errlen, "expected 5 fields (minute hour day-of-month month day-of-week), found %d", i);
			return false;
		}
		end = s + strcspn(s, " \t\r\n");
		if (!parse_field(s, end, &fields[i], &mask, &star, err, errlen))
			return false;
		switch (i)
		{
			case 0:
				out->minutes = mask;
				break;
			case 1:
				out->hours = (uint32_t) mask;
				break;
			case 2:
				out->days = (uint32_t) mask;
				out->days_star = star;
				break;
			case 3:
				out->months = (uint32_t) mask;
				break;
			case 4:
				/* 7 is Sunday too */
				out->weekdays = (uint32_t) ((mask | (mask >> 7)) & 0x7f);
				out->weekdays_star = star;
				break;
		}
		s = end;
	}
	while (isspace((unsigned char) *s))
		s++;
	if (*s)
	{
		snprintf(err, errlen, "expected 5 fields, found more: \"%.20s\"", s);
		return false;
	}
	/* refuse schedules that never fire, such as "0 0 30 2 *" */
	if (dp_cron_next(out, 0) < 0)
	{
		snprintf(err, errlen, "the schedule never fires (no such day in the months given)");
		return false;
	}
	return true;
}

static bool
day_matches(const DpCron *c, int64_t days, int month, int mday)
{
	int			wday;
	bool		dom;
	bool		dow;

	if (!(c->months & (1u << month)))
		return false;
	wday = (int) ((days % 7 + 7 + 4) % 7);	/* 1970-01-01 was a Thursday */
	dom = (c->days & (1u << mday)) != 0;
	dow = (c->weekdays & (1u << wday)) != 0;
	if (!c->days_star && !c->weekdays_star)
		return dom || dow;
	return dom && dow;
}

/*
 * The first instant in (lo, hi] at which the offset is `to`, the offset at
 * lo being another (a clock change in between).
 */
static int64_t
change_instant(int64_t lo, int64_t hi, int to, DpCronOffsetFn offset, void *arg)
{
	while (hi - lo > 1)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (offset(mid, arg) == to)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

int64_t
dp_cron_next_local(const DpCron *c, int64_t after, DpCronOffsetFn offset, void *arg)
{
	int64_t		local_after;

	if (c->interval > 0 || offset == NULL)
		return dp_cron_next(c, after);
	local_after = after + offset(after, arg);
	/* a few rounds at most: each skips one local time already passed */
	for (int round = 0; round < 16; round++)
	{
		int64_t		local = dp_cron_next(c, local_after);
		int			before;
		int			later;
		int64_t		best = -1;
		bool		passed = false;

		if (local < 0)
			return -1;
		/* the offsets in force around that wall-clock time */
		before = offset(local - 86400, arg);
		later = offset(local + 86400, arg);
		for (int i = 0; i < 2; i++)
		{
			int			o = i == 0 ? before : later;
			int64_t		u = local - o;

			if (offset(u, arg) != o)
				continue;		/* not a real instant with that offset */
			if (u <= after)
				passed = true;	/* its first occurrence is behind us */
			else if (best < 0 || u < best)
				best = u;
		}
		if (!passed && best < 0 && before != later)
		{
			/* a time the clocks skip: the instant they change */
			int64_t		u = change_instant(local - later, local - before, later, offset, arg);

			if (u > after)
				best = u;
		}
		if (!passed && best >= 0)
			return best;
		local_after = local;
	}
	return -1;
}

int64_t
dp_cron_next(const DpCron *c, int64_t after)
{
	int64_t		start;
	int64_t		day0;
	int			start_minute;

	if (c->interval > 0)
		return after + c->interval;

	start = floor_div(after, 60) * 60 + 60;
	day0 = floor_div(start, 86400);
	start_minute = (int) ((start - day0 * 86400) / 60);

	for (int64_t d = day0; d < day0 + CRON_SEARCH_DAYS; d++)
	{
		int64_t		y;
		int			m;
		int			md;
		int			from = (d == day0) ? start_minute : 0;

		civil_from_days(d, &y, &m, &md);
		if (!day_matches(c, d, m, md))
			continue;
		for (int h = from / 60; h < 24; h++)
		{
			if (!(c->hours & (1u << h)))
				continue;
			for (int mi = (h == from / 60) ? from % 60 : 0; mi < 60; mi++)
				if (c->minutes & ((uint64_t) 1 << mi))
					return d * 86400 + h * 3600 + mi * 60;
		}
	}
	return -1;
}
