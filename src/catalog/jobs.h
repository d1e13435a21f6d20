/*
 * jobs.h
 *		Job definitions (src/catalog/jobs.c): what other subsystems call to
 *		define, change, remove and queue jobs.  Running them is the worker's
 *		(src/worker/runner.c).
 */
#ifndef DP_JOBS_H
#define DP_JOBS_H

#include "postgres.h"

/*
 * Create a job owned by the caller (connected to SPI, the caller's right
 * checked); inactive jobs run only when asked.  Audited as `action`
 * unless NULL.  timezone: the schedule's zone (NULL: UTC); after: the job
 * whose success queues a run of this one (NULL: none).  schedule may be
 * NULL when after is given.
 */
extern int64 dp_jobs_create(const char *name, const char *schedule, const char *command,
							bool active, const char *action, const char *timezone,
							const char *after);

/*
 * A job the caller may change: its id, locked; 42704 if it does not exist,
 * 42501 unless the caller owns it or is a superuser (connected to SPI).
 */
extern int64 dp_jobs_for_change(const char *name, const char *action);

/*
 * Redefine when a job runs (connected to SPI; the caller's right checked
 * with dp_jobs_for_change): its schedule (NULL: none, then after must be
 * given unless inactive), time zone, the job it runs after, whether it is
 * active, its retries.  Checked as dp_jobs_create checks them.
 */
extern void dp_jobs_redefine(const char *name, const char *schedule, bool active,
							 const char *timezone, const char *after, int retries);

/* Remove a job; its queued runs are skipped (connected to SPI). */
extern void dp_jobs_remove(const char *name);

/* Queue a manual run of a job (connected to SPI); returns the run id. */
extern int64 dp_jobs_queue_run(int64 job_id);

#endif							/* DP_JOBS_H */
