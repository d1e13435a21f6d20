/*
 * freshness.c
 *		Freshness expectations (a spec's "fresh_within"): marking datasets
 *		late when no batch arrived in time (datasets.late_since, the time the
 *		next batch was due), and clearing the mark when one did.  The
 *		background worker calls dp_freshness_mark on every wake-up;
 *		check_freshness() does the same from SQL.
 *
 * Cost: one index probe of dataplatform.batch (dataset, id) per dataset
 * with a fresh_within; rows are written only when a mark changes.  The
 * probe bounds the dataset by a range and orders by (dataset, id), which
 * only that index gives: with "dataset = name ORDER BY id DESC LIMIT 1"
 * the planner walks the primary key backwards from the newest batch of
 * any dataset, through every batch newer than this dataset's last (all of
 * them for a dataset without batches), and the worker runs this on every
 * wake-up.  A
 * dataset whose catalog row a running push holds is skipped (SKIP LOCKED)
 * and looked at again at the next wake-up: a push is a batch arriving.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "pgstat.h"
#include "utils/snapmgr.h"

#include "access.h"
#include "freshness.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_check_freshness);

/* Update the marks (connected to SPI); returns the datasets newly late. */
static int
update_marks(void)
{
	uint64		n;
	uint64		i;
	int			newly = 0;

	n = dp_spi_exec_text(
		"WITH due AS (SELECT d.name, d.late_since AS was, "
		"    CASE WHEN d.spec ? 'fresh_within' THEN "
		"      COALESCE((SELECT b.received_at FROM dataplatform.batch b "
		"                WHERE b.dataset >= d.name AND b.dataset <= d.name "
		"                ORDER BY b.dataset DESC, b.id DESC LIMIT 1), d.created_at) "
		"      + (d.spec ->> 'fresh_within')::interval END AS due "
		"  FROM dataplatform.datasets d), "
		"changing AS (SELECT d.name FROM dataplatform.datasets d JOIN due USING (name) "
		"  WHERE d.late_since IS DISTINCT FROM "
		"        CASE WHEN due.due <= pg_catalog.clock_timestamp() THEN due.due END "
		"  FOR UPDATE OF d SKIP LOCKED) "
		"UPDATE dataplatform.datasets d SET late_since = "
		"  CASE WHEN due.due <= pg_catalog.clock_timestamp() THEN due.due END "
		"FROM due, changing WHERE due.name = d.name AND changing.name = d.name "
		"RETURNING d.name, d.product, due.was IS NULL AND d.late_since IS NOT NULL, "
		"  d.late_since::text", 0, NULL);
	for (i = 0; i < n; i++)
	{
		SPITupleTable *tt = SPI_tuptable;

		if (strcmp(SPI_getvalue(tt->vals[i], tt->tupdesc, 3), "t") == 0)
			newly++;
	}
	if (n > 0)
	{
		SPITupleTable *tt = SPI_tuptable;

		SPI_tuptable = NULL;
		for (i = 0; i < n; i++)
		{
			char	   *name = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
			char	   *since = SPI_getvalue(tt->vals[i], tt->tupdesc, 4);
			StringInfoData detail;

			initStringInfo(&detail);
			appendStringInfoString(&detail, "{\"late_since\": ");
			if (since)
				escape_json(&detail, since);
			else
				appendStringInfoString(&detail, "null");
			appendStringInfoChar(&detail, '}');
			dp_audit(since ? "dataset_late" : "dataset_fresh", name, detail.data);
		}
	}
	return newly;
}

/* The worker's call: its own transaction. */
int
dp_freshness_mark(void)
{
	int			n;

	dp_bg_xact_begin("dataplatform: check freshness", false);
	n = update_marks();
	dp_bg_xact_end();
	return n;
}

Datum
dp_check_freshness(PG_FUNCTION_ARGS)
{
	int			n;

	dp_require_admin("check freshness");
	SPI_connect();
	n = update_marks();
	SPI_finish();
	PG_RETURN_INT32(n);
}
