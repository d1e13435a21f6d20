/*
 * dataset_lock.h
 *		The dataset lock: what serialises the writers of one dataset.
 *
 * Every writer of a dataset's clean state (push, push_csv, process_queued,
 * load_snapshot, apply_events, rebuild; and purge_raw, so that a rebuild
 * never loses raw rows under it) takes it before it reads any state
 * and before it takes its batch id, and holds it to the end of its
 * transaction: writers of one dataset run one after another, batch ids of
 * a dataset follow commit order, and a writer's probes with SnapshotSelf
 * (common/bulk.c) see every earlier writer's rows, committed.
 *
 * It is a transaction-level advisory lock keyed on the dataset's clean
 * table (pg_locks: locktype advisory, classid DP_DATASET_LOCK_CLASS, objid
 * the clean table's OID, objsubid 2; the same lock as
 * pg_advisory_xact_lock(25712, oid::integer)), followed by a lock on the
 * clean table itself in the mode the writer asks for.  Writers ask for
 * ROW EXCLUSIVE, which (unlike the SHARE ROW EXCLUSIVE of 0.1) does not
 * conflict with VACUUM or autovacuum, so a dataset pushed to back to back
 * is still vacuumed; rebuild asks for ACCESS EXCLUSIVE (readers see the old
 * state or the new one).
 */
#ifndef DP_DATASET_LOCK_H
#define DP_DATASET_LOCK_H

#include "postgres.h"

#include "storage/lockdefs.h"

/* "dp" in ASCII: the advisory lock's first key */
#define DP_DATASET_LOCK_CLASS 25712

/*
 * Take the dataset lock of the dataset whose clean table is dp_clean.table,
 * then lock that table in mode; both held to the end of the transaction.
 * Waits (interruptibly, with deadlock detection) for the writer holding it.
 */
extern void dp_dataset_lock(const char *table, LOCKMODE mode);

#endif							/* DP_DATASET_LOCK_H */
