/*
 * worker.h
 *		The background worker: launcher, per-database workers, settings, and
 *		the job runner interface between worker.c and jobs.c.
 */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include "postgres.h"

#include "guc.h"

/*
 * Called from _PG_init while shared_preload_libraries is being processed:
 * requests shared memory, installs the hooks and registers the launcher.
 */
extern void dp_worker_preload_init(void);

/* runner.c: the steps of the worker's loop; each runs its own transactions */
extern void dp_jobs_recover(void);
extern int	dp_jobs_tick(long *sleep_ms);

/*
 * openlineage_send.c: post the pending OpenLineage events (own
 * transactions; lowers *sleep_ms when more are due or a retry falls due)
 */
extern void dp_openlineage_deliver(long *sleep_ms);

#endif							/* DP_WORKER_H */
