/*
 * cron.h
 *		Job schedules: five-field cron expressions and "every N units"
 *		intervals.  Pure C (no backend calls), so the unit test and fuzzers
 *		link it alone.  Times are seconds since the Unix epoch, in UTC.
 */
#ifndef DP_CRON_H
#define DP_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest interval accepted by "every N ...": one year. */
#define DP_CRON_MAX_INTERVAL	(366 * 24 * 3600)

typedef struct DpCron
{
	int64_t		interval;		/* seconds for "every N units"; 0 for cron */
	uint64_t	minutes;		/* bit m set: minute m (0-59) matches */
	uint32_t	hours;			/* bits 0-23 */
	uint32_t	days;			/* bits 1-31 (day of month) */
	uint32_t	months;			/* bits 1-12 */
	uint32_t	weekdays;		/* bits 0-6, 0 = Sunday */
	bool		days_star;		/* day-of-month field was "*" */
	bool		weekdays_star;	/* day-of-week field was "*" */
} DpCron;

/*
 * Parse a schedule: "m h dom mon dow" (each field "*", a number, a range
 * "a-b", a step "*\/n" or "a-b/n" or "a/n", or a comma list of those; month
 * and weekday names jan..dec and sun..sat; weekday 7 is Sunday), one of
 * @yearly @annually @monthly @weekly @daily @midnight @hourly, or
 * "every N second(s)|minute(s)|hour(s)".  Returns true on success; else
 * false with a one-line reason in err (always NUL-terminated).
 */
extern bool dp_cron_parse(const char *text, DpCron *out, char *err, size_t errlen);

/*
 * The first time strictly after `after` at which the schedule fires: for a
 * cron expression, the next whole minute that matches (day of month and day
 * of week both restricted: either may match, as in Vixie cron); for an
 * interval, after + interval.  -1 when a cron expression has no match in the
 * next nine years (such as "0 0 30 2 *"; dp_cron_parse refuses those).
 */
extern int64_t dp_cron_next(const DpCron *cron, int64_t after);

/* The UTC offset (seconds east of Greenwich) of a zone at UTC time t. */
typedef int (*DpCronOffsetFn) (int64_t t, void *arg);

/*
 * dp_cron_next in the wall-clock time of a zone whose offsets offset(t,
 * arg) gives: the first UTC time strictly after `after` at which the cron
 * expression matches the zone's local time.  Across clock changes every
 * wall-clock time fires once: a time that occurs twice (clocks go back)
 * fires at its first occurrence only; a time that does not occur (clocks go
 * forward) fires at the instant of the change, and all the times skipped
 * fire there once together.  Intervals are not wall-clock times: after +
 * interval.  -1 as dp_cron_next.
 */
extern int64_t dp_cron_next_local(const DpCron *cron, int64_t after,
								  DpCronOffsetFn offset, void *arg);

#endif							/* DP_CRON_H */
