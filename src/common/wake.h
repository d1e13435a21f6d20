/*
 * wake.h
 *		Waking a database's background worker without depending on it.
 *
 * The worker (src/worker/) registers the function that sets its latch when
 * the library is preloaded; code below it (job definitions, the audit
 * buffer) asks for a wake-up here.  Without a registered function (not
 * preloaded) both calls do nothing.
 */
#ifndef DP_WAKE_H
#define DP_WAKE_H

#include "postgres.h"

/* Wake the worker of a database now; must not raise. */
typedef void (*DpWakeFunction) (Oid dboid);

/* Called once by the worker's preload initialisation. */
extern void dp_wake_register(DpWakeFunction fn);

/* Whether a worker registered (the library was preloaded). */
extern bool dp_wake_available(void);

/* Wake the worker of dboid now (or ask the launcher to start it). */
extern void dp_wake_now(Oid dboid);

/*
 * Wake this database's worker when the current transaction commits
 * (nothing on abort).
 */
extern void dp_wake_at_commit(void);

#endif							/* DP_WAKE_H */
