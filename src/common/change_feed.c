/*
 * change_feed.c
 *		The change feed of the clean tables: dataplatform.clean_change
 *		holds, per batch and dataset, the TIDs of the row versions the
 *		batch wrote into dp_clean.<dataset> (inserted, updated, or only
 *		moved, e.g. a watermark touched).  Refresh finds the rows written
 *		since it last ran through those TIDs (a TID scan, filtered on
 *		_batch_id), so the current tables need no index on _batch_id:
 *		pushes do not pay for one, and an update that changes no key can
 *		be HOT.
 *
 * Writers: bulk.c records the TIDs of a DpBulk asked to (dp_bulk_feed) and
 * writes them here when it ends; the keyed upsert statement returns its
 * TIDs (ingest/write.c).  Correctness rests on one rule: every row version
 * written into a current table is recorded under the batch that wrote it.
 * A TID read back may since hold a dead version (skipped by the snapshot),
 * or a newer one reusing the slot after VACUUM (a row some later batch
 * wrote: the _batch_id bound decides).  What moves rows without a batch
 * (VACUUM FULL, CLUSTER, a dump restored) changes the table's filenode,
 * which refresh compares with the one it recorded (a full refresh then).
 *
 * The table is partitioned by batch id (partition_rule), its partitions
 * dropped by apply_retention once every view has consumed their batches.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "bulk.h"
#include "change_feed.h"
#include "partition.h"

DpTids *
dp_tids_new(void)
{
	DpTids	   *t = palloc0(sizeof(DpTids));

	t->cxt = CurrentMemoryContext;
	return t;
}

void
dp_tids_add(DpTids *t, ItemPointer tid)
{
	if (t->n == t->max)
	{
		t->max = Max(1024, t->max * 2);
		t->tids = t->tids ? repalloc(t->tids, sizeof(ItemPointerData) * t->max)
			: MemoryContextAlloc(t->cxt, sizeof(ItemPointerData) * t->max);
	}
	ItemPointerCopy(tid, &t->tids[t->n]);
	t->n++;
}

static void
write_row(const char *dataset, int64 batch_id, Datum tids)
{
	DpBulk	   *b = dp_bulk_begin("dataplatform", dp_partition_for("dataplatform", "clean_change", batch_id));

	(void) dp_bulk_slot(b);
	dp_bulk_set_datum(b, dp_bulk_attnum(b, "dataset"), CStringGetTextDatum(dataset));
	dp_bulk_set_datum(b, dp_bulk_attnum(b, "batch_id"), Int64GetDatum(batch_id));
	dp_bulk_set_datum(b, dp_bulk_attnum(b, "tids"), tids);
	dp_bulk_store(b);
	(void) dp_bulk_end(b);
}

void
dp_change_feed_write(const char *dataset, int64 batch_id, const ItemPointerData *tids, int n)
{
	Datum	   *elems;

	if (n == 0)
		return;
	elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		elems[i] = PointerGetDatum(&tids[i]);
	write_row(dataset, batch_id,
			  PointerGetDatum(construct_array(elems, n, TIDOID, sizeof(ItemPointerData), false,
											  TYPALIGN_SHORT)));
	pfree(elems);
}

void
dp_change_feed_write_array(const char *dataset, int64 batch_id, Datum tids, bool isnull)
{
	ArrayType  *a;

	if (isnull)
		return;
	a = DatumGetArrayTypeP(tids);
	if (ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a)) == 0)
		return;
	write_row(dataset, batch_id, PointerGetDatum(a));
}

char *
dp_change_feed_sql(const char *dataset, const char *after)
{
	return psprintf("ARRAY(SELECT pg_catalog.unnest(f.tids) FROM dataplatform.clean_change f "
					"WHERE f.dataset = %s AND f.batch_id > %s)",
					quote_literal_cstr(dataset), after);
}
