/*
 * change_feed.h
 *		The change feed of the clean tables (change_feed.c): for each batch,
 *		where the row versions it wrote into its dataset's current table
 *		stand (their TIDs), which refresh reads instead of an index on
 *		_batch_id.
 */
#ifndef DP_CHANGE_FEED_H
#define DP_CHANGE_FEED_H

#include "postgres.h"

#include "storage/itemptr.h"

/* A growing list of TIDs, in the memory context current at its creation. */
typedef struct DpTids
{
	ItemPointerData *tids;
	int			n;
	int			max;
	MemoryContext cxt;
} DpTids;

extern DpTids *dp_tids_new(void);
extern void dp_tids_add(DpTids *t, ItemPointer tid);

/*
 * Record in dataplatform.clean_change that batch_id of dataset wrote the
 * row versions at the n TIDs (nothing when n is 0).  Connected to SPI, in
 * the writer's transaction, holding the dataset's lock.
 */
extern void dp_change_feed_write(const char *dataset, int64 batch_id, const ItemPointerData *tids, int n);

/* The same for a tid[] datum (NULL or empty: nothing). */
extern void dp_change_feed_write_array(const char *dataset, int64 batch_id, Datum tids, bool isnull);

/*
 * A SQL expression (a tid[]) of the TIDs that batches of dataset above
 * after wrote: "c.ctid = ANY (<this>)" with "_batch_id" bounded by the
 * batches wanted finds the rows those batches wrote through a TID scan.
 * after is a literal number, or a parameter ("$1").
 */
extern char *dp_change_feed_sql(const char *dataset, const char *after);

#endif							/* DP_CHANGE_FEED_H */
