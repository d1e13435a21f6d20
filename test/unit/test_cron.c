/*
 * test_cron.c
 *		Unit tests of the schedule parser and evaluator (src/lib/cron.c), outside
 *		PostgreSQL.  Expected times are computed with the C library's timegm.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

static int	failures = 0;
static int	checks = 0;

static int64_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t) timegm(&tm);
}

static void
show(int64_t t, char *buf, size_t len)
{
	time_t		tt = (time_t) t;
	struct tm	tm;

	if (t < 0)
	{
		snprintf(buf, len, "never");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S %a", &tm);
}

/* the schedule parses and its next time after `after` is `want` */
static void
next_is(const char *sched, int64_t after, int64_t want)
{
	DpCron		c;
	char		err[200];
	int64_t		got;

	checks++;
	if (!dp_cron_parse(sched, &c, err, sizeof(err)))
	{
		printf("FAIL: \"%s\" did not parse: %s\n", sched, err);
		failures++;
		return;
	}
	got = dp_cron_next(&c, after);
	if (got != want)
	{
		char		a[64], g[64], w[64];

		show(after, a, sizeof(a));
		show(got, g, sizeof(g));
		show(want, w, sizeof(w));
		printf("FAIL: \"%s\" after %s: got %s, want %s\n", sched, a, g, w);
		failures++;
	}
}

/* the schedule is refused with a reason containing `part` */
static void
refused(const char *sched, const char *part)
{
	DpCron		c;
	char		err[200];

	checks++;
	if (dp_cron_parse(sched, &c, err, sizeof(err)))
	{
		printf("FAIL: \"%s\" parsed, want an error containing \"%s\"\n", sched, part);
		failures++;
	}
	else if (strstr(err, part) == NULL)
	{
		printf("FAIL: \"%s\": error \"%s\" lacks \"%s\"\n", sched, err, part);
		failures++;
	}
}

/* brute force: the next matching minute by checking every minute with gmtime */
static int
field_has(const char *list, int v)
{
	/* list is "," separated numbers or "*" */
	char		buf[128];
	char	   *tok;
	char	   *save;

	if (strcmp(list, "*") == 0)
		return 1;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (atoi(tok) == v)
			return 1;
	return 0;
}

static void
brute_force(const char *m, const char *h, const char *dom, const char *mon, const char *dow,
			int64_t after)
{
	char		sched[256];
	int64_t		t = (after / 60) * 60 + 60;
	int64_t		want = -1;

	snprintf(sched, sizeof(sched), "%s %s %s %s %s", m, h, dom, mon, dow);
	for (int i = 0; i < 60 * 24 * 366 * 2; i++, t += 60)
	{
		time_t		tt = (time_t) t;
		struct tm	tm;
		int			d1, d2;

		gmtime_r(&tt, &tm);
		if (!field_has(m, tm.tm_min) || !field_has(h, tm.tm_hour) ||
			!field_has(mon, tm.tm_mon + 1))
			continue;
		d1 = field_has(dom, tm.tm_mday);
		d2 = field_has(dow, tm.tm_wday);
		if (strcmp(dom, "*") != 0 && strcmp(dow, "*") != 0 ? (d1 || d2) : (d1 && d2))
		{
			want = t;
			break;
		}
	}
	next_is(sched, after, want);
}

/* Europe/London's rules: BST from 01:00 UTC on the last Sunday of March to
 * 01:00 UTC on the last Sunday of October. */
static int64_t
last_sunday_0100(int y, int month)
{
	int64_t		t = utc(y, month, 31, 1, 0);
	time_t		tt = (time_t) t;
	struct tm	tm;

	gmtime_r(&tt, &tm);
	return t - (int64_t) tm.tm_wday * 86400;
}

static int
london(int64_t t, void *arg)
{
	time_t		tt = (time_t) t;
	struct tm	tm;
	int			y;

	(void) arg;
	gmtime_r(&tt, &tm);
	y = tm.tm_year + 1900;
	return (t >= last_sunday_0100(y, 3) && t < last_sunday_0100(y, 10)) ? 3600 : 0;
}

static int
kolkata(int64_t t, void *arg)
{
	(void) t;
	(void) arg;
	return 5 * 3600 + 1800;
}

/* in a zone: the next time after `after` is `want` */
static void
local_next_is(const char *sched, DpCronOffsetFn zone, int64_t after, int64_t want)
{
	DpCron		c;
	char		err[200];
	int64_t		got;

	checks++;
	if (!dp_cron_parse(sched, &c, err, sizeof(err)))
	{
		printf("FAIL: \"%s\" did not parse: %s\n", sched, err);
		failures++;
		return;
	}
	got = dp_cron_next_local(&c, after, zone, NULL);
	if (got != want)
	{
		char		a[64], g[64], w[64];

		show(after, a, sizeof(a));
		show(got, g, sizeof(g));
		show(want, w, sizeof(w));
		printf("FAIL: \"%s\" (local) after %s: got %s, want %s\n", sched, a, g, w);
		failures++;
	}
}

/* runs of a schedule in a zone in [from, to): how many */
static int
local_runs(const char *sched, DpCronOffsetFn zone, int64_t from, int64_t to)
{
	DpCron		c;
	char		err[200];
	int			n = 0;
	int64_t		t = from - 1;

	if (!dp_cron_parse(sched, &c, err, sizeof(err)))
		return -1;
	while ((t = dp_cron_next_local(&c, t, zone, NULL)) >= 0 && t < to)
		n++;
	return n;
}

static void
count_is(const char *what, int got, int want)
{
	checks++;
	if (got != want)
	{
		printf("FAIL: %s: %d runs, want %d\n", what, got, want);
		failures++;
	}
}

int
main(void)
{
	int64_t		base = utc(2024, 2, 27, 13, 45);	/* a Tuesday */

	/* basics */
	next_is("* * * * *", base, base + 60);
	next_is("* * * * *", base + 59, base + 60);
	next_is("*/15 * * * *", base, utc(2024, 2, 27, 14, 0));
	next_is("0 * * * *", base, utc(2024, 2, 27, 14, 0));
	next_is("30 2 * * *", base, utc(2024, 2, 28, 2, 30));
	next_is("0 0 29 2 *", base, utc(2024, 2, 29, 0, 0));
	next_is("0 0 29 2 *", utc(2024, 3, 1, 0, 0), utc(2028, 2, 29, 0, 0));
	next_is("0 9 * * 1-5", utc(2024, 3, 1, 10, 0), utc(2024, 3, 4, 9, 0));	/* Fri -> Mon */
	next_is("0 9 * * mon-fri", utc(2024, 3, 1, 10, 0), utc(2024, 3, 4, 9, 0));
	next_is("0 0 * * 7", base, utc(2024, 3, 3, 0, 0));	/* 7 = Sunday */
	next_is("0 0 * * SUN", base, utc(2024, 3, 3, 0, 0));
	next_is("0 0 1 jan *", base, utc(2025, 1, 1, 0, 0));
	next_is("5,10,50 * * * *", base, utc(2024, 2, 27, 13, 50));
	next_is("10-20/5 * * * *", base, utc(2024, 2, 27, 14, 10));
	next_is("50/5 * * * *", base, utc(2024, 2, 27, 13, 50));
	next_is("0 0 31 * *", utc(2024, 4, 1, 0, 0), utc(2024, 5, 31, 0, 0));
	/* day of month and day of week both restricted: either matches */
	next_is("0 0 15 * 5", base, utc(2024, 3, 1, 0, 0));	/* Friday 1 March */
	next_is("0 0 1 * 2", utc(2024, 2, 27, 0, 0), utc(2024, 3, 1, 0, 0));
	/* macros */
	next_is("@hourly", base, utc(2024, 2, 27, 14, 0));
	next_is("@daily", base, utc(2024, 2, 28, 0, 0));
	next_is("@midnight", base, utc(2024, 2, 28, 0, 0));
	next_is("@weekly", base, utc(2024, 3, 3, 0, 0));
	next_is("@monthly", base, utc(2024, 3, 1, 0, 0));
	next_is("@yearly", base, utc(2025, 1, 1, 0, 0));
	next_is("  @DAILY  ", base, utc(2024, 2, 28, 0, 0));
	/* year end, leap years, 2100 is not a leap year */
	next_is("59 23 31 12 *", utc(2099, 12, 31, 23, 59), utc(2100, 12, 31, 23, 59));
	next_is("0 0 29 2 *", utc(2097, 1, 1, 0, 0), utc(2104, 2, 29, 0, 0));
	/* intervals */
	next_is("every 30 seconds", base, base + 30);
	next_is("every 1 second", base, base + 1);
	next_is("Every 5 minutes", base, base + 300);
	next_is("every 2 hours", base, base + 7200);
	next_is("every   1   hour  ", base, base + 3600);

	/* refusals */
	refused("", "empty");
	refused("   ", "empty");
	refused("* * * *", "expected 5 fields");
	refused("* * * * * *", "found more");
	refused("60 * * * *", "minute field: 60 is out of range 0-59");
	refused("* 24 * * *", "hour field: 24");
	refused("* * 0 * *", "day of month field: 0");
	refused("* * * 13 *", "month field: 13");
	refused("* * * * 8", "day of week field: 8");
	refused("5-1 * * * *", "goes backwards");
	refused("*/0 * * * *", "step 0");
	refused("*/ * * * *", "expected a step");
	refused("1,,2 * * * *", "minute field: expected a number");
	refused("1, * * * *", "unexpected");
	refused("a * * * *", "expected a number");
	refused("* * * foo *", "expected a number or a name");
	refused("0 0 30 2 *", "never fires");
	refused("0 0 31 4,6 *", "never fires");
	refused("@sometimes", "unknown schedule");
	refused("@daily extra", "unknown schedule");
	refused("every", "minute field: expected a number");	/* not the interval form */
	refused("every x seconds", "expected a number");
	refused("every 0 seconds", "between 1 second");
	refused("every 5 fortnights", "unknown unit");
	refused("every 400 days", "unknown unit");
	refused("every 9000 hours", "between 1 second");
	refused("every 99999999999999999999 seconds", "between 1 second");
	refused("every 5 minutes please", "unexpected");

	/* against a brute-force oracle */
	{
		const char *ms[] = {"*", "0", "0,30", "7,59"};
		const char *hs[] = {"*", "0", "23", "3,12"};
		const char *doms[] = {"*", "1", "31", "15,29"};
		const char *mons[] = {"*", "2", "12", "4,6,9,11"};
		const char *dows[] = {"*", "0", "6", "1,3"};
		int64_t		afters[] = {utc(2024, 2, 28, 23, 59), utc(2023, 12, 31, 23, 30),
		utc(2025, 6, 15, 12, 0)};

		for (int a = 0; a < 4; a++)
			for (int b = 0; b < 4; b++)
				for (int c = 0; c < 4; c++)
					for (int d = 0; d < 4; d++)
						for (int e = 0; e < 4; e++)
						{
							/* only one in 7 combinations: enough coverage, quick */
							if ((a + 3 * b + 5 * c + 7 * d + 11 * e) % 7 != 0)
								continue;
							if (strcmp(doms[c], "31") == 0 && strcmp(mons[d], "2") == 0)
								continue;	/* never fires; refused */
							if (strcmp(doms[c], "31") == 0 && strcmp(mons[d], "4,6,9,11") == 0)
								continue;
							for (int f = 0; f < 3; f++)
								brute_force(ms[a], hs[b], doms[c], mons[d], dows[e], afters[f]);
						}
	}

	/* time zones: Europe/London in 2026 (clocks forward 29 March, back 25 October) */
	local_next_is("30 1 * * *", london, utc(2026, 3, 27, 12, 0), utc(2026, 3, 28, 1, 30));
	/* 01:30 does not exist on 29 March: once, at the change (02:00 BST) */
	local_next_is("30 1 * * *", london, utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0));
	local_next_is("30 1 * * *", london, utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30));
	/* 01:30 happens twice on 25 October: once, at the first (BST) */
	local_next_is("30 1 * * *", london, utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 0, 30));
	local_next_is("30 1 * * *", london, utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30));
	/* asked between the two: the first is behind, the second is not run */
	local_next_is("30 1 * * *", london, utc(2026, 10, 25, 1, 10), utc(2026, 10, 26, 1, 30));
	local_next_is("0 2 * * *", london, utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 1, 0));
	local_next_is("0 9 * * *", london, utc(2026, 7, 1, 0, 0), utc(2026, 7, 1, 8, 0));
	local_next_is("0 9 * * *", london, utc(2026, 12, 1, 0, 0), utc(2026, 12, 1, 9, 0));
	local_next_is("0 9 * * *", kolkata, utc(2026, 7, 1, 0, 0), utc(2026, 7, 1, 3, 30));
	local_next_is("0 9 * * *", kolkata, utc(2026, 7, 1, 3, 30), utc(2026, 7, 2, 3, 30));
	local_next_is("every 10 minutes", london, utc(2026, 3, 29, 0, 55), utc(2026, 3, 29, 1, 5));
	local_next_is("30 1 * * *", NULL, utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 1, 30));
	/* once a day, every day of the year, both change days included */
	count_is("30 1 * * * in London over 2026", local_runs("30 1 * * *", london, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0)), 365);
	count_is("30 1 * * * on the spring day", local_runs("30 1 * * *", london, utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 23, 0)), 1);
	count_is("30 1 * * * on the autumn day", local_runs("30 1 * * *", london, utc(2026, 10, 24, 23, 0), utc(2026, 10, 26, 0, 0)), 1);
	/* every quarter hour: the skipped hour fires once at the change (with 02:00, the
	 * same instant): 96 - 5 + 1; the repeated hour once */
	count_is("*/15 on the spring day", local_runs("*/15 * * * *", london, utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 23, 0)), 92);
	count_is("*/15 on the autumn day", local_runs("*/15 * * * *", london, utc(2026, 10, 24, 23, 0), utc(2026, 10, 26, 0, 0)), 96);

	if (failures)
	{
		printf("test_cron: %d of %d checks FAILED\n", failures, checks);
		return 1;
	}
	printf("test_cron: all %d checks passed\n", checks);
	return 0;
}
