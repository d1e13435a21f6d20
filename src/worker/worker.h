/*
 * worker.h
 *		The background worker: launcher, per-database workers, settings, and
 *		the job runner interface between worker.c and jobs.c.
 */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include "postgres.h"

/* settings (defined in _PG_init, dataplatform.c) */
extern bool dp_worker_enabled;
extern int	dp_worker_naptime_ms;
extern int	dp_worker_max_jobs_per_tick;
extern int	dp_worker_job_timeout_ms;
extern int	dp_worker_history_days;
extern int	dp_worker_max_databases;
extern char *dp_collect_allowed_hosts;

/*
 * Called from _PG_init while shared_preload_libraries is being processed:
 * requests shared memory, installs the hooks and registers the launcher.
 */
extern void dp_worker_preload_init(void);

/*
 * Ask for this database's worker to look at its jobs as soon as the current
 * transaction commits (started by the launcher if it is not running).
 * A no-op when the library was not preloaded.
 */
extern void dp_worker_wake_at_commit(void);

/*
 * Wake the worker of dboid now (or ask the launcher to start it).  Takes the
 * worker LWLock; never raises.  A no-op when the library was not preloaded.
 */
extern void dp_worker_wake_now(Oid dboid);

/* jobs.c: the steps of the worker's loop; each runs its own transactions */
extern void dp_jobs_recover(void);
extern int	dp_jobs_tick(long *sleep_ms);

/* Run SQL as role `owner` in the current transaction (connected to SPI). */
extern uint64 dp_jobs_exec_as(const char *owner, const char *sql, int nargs,
							  Oid *types, Datum *values);

/*
 * Create a job owned by the caller (connected to SPI, the caller's right
 * checked); inactive jobs run only when asked.  Audited as `action`
 * unless NULL.
 */
extern int64 dp_jobs_create(const char *name, const char *schedule, const char *command,
							bool active, const char *action);

/*
 * A job the caller may change: its id, locked; 42704 if it does not exist,
 * 42501 unless the caller owns it or is a superuser (connected to SPI).
 */
extern int64 dp_jobs_for_change(const char *name, const char *action);

/* Remove a job; its queued runs are skipped (connected to SPI). */
extern void dp_jobs_remove(const char *name);

/* Queue a manual run of a job (connected to SPI); returns the run id. */
extern int64 dp_jobs_queue_run(int64 job_id);

#endif							/* DP_WORKER_H */
