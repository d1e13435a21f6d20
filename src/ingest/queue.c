/*
 * queue.c
 *		The batch layer's SQL entry points over queued and processed batches:
 *		process_queued (asynchronous processing of pushes that landed raw)
 *		and rebuild_changed (the nightly rebuild of datasets whose spec or
 *		configuration changed).  Both replay raw batches through
 *		dp_replay_batch (rebuild.c).
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "access.h"
#include "pipeline.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_process_queued);
PG_FUNCTION_INFO_V1(dp_rebuild_changed);

/* one queued batch, processed in a subtransaction of its own */
typedef struct QueuedBatch
{
	const char *dataset;
	int64		id;
	const char *kind;
	const char *source;
	Datum		received;
} QueuedBatch;

/* Replay the batch into its dataset and audit it. */
static bool
process_batch(void *arg)
{
	QueuedBatch *b = arg;
	DpLoad	   *load = dp_load_open(b->dataset, false, NULL);

	dp_load_lock(load, RowExclusiveLock);
	load = dp_replay_batch(b->dataset, b->id, b->kind, b->source, b->received, "process_queued");
	dp_audit("process_queued", b->dataset,
			 psprintf("{\"batch_id\": %lld, \"rows\": %lld, \"loaded\": %lld, \"quarantined\": %lld}",
					  (long long) b->id, (long long) load->rows_in,
					  (long long) load->loaded, (long long) load->quarantined));
	MemoryContextDelete(load->cxt);
	return true;
}

/*
 * process_queued(dataset, max_batches): transform queued batches (from
 * "processing": "async" datasets), oldest first, each dataset's strictly in
 * batch order, claiming with SKIP LOCKED so concurrent callers share the
 * work.  Each batch moves queued -> processing -> done in the caller's
 * transaction, so a crash mid-batch leaves it queued: processed exactly
 * once.  A batch whose processing raises an error is marked failed (its
 * raw rows stay) and the others go on.  Returns the batches processed.
 */
Datum
dp_process_queued(PG_FUNCTION_ARGS)
{
	const char *dataset = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			max_batches = PG_ARGISNULL(1) ? 10 : PG_GETARG_INT32(1);
	int			done = 0;
	MemoryContext cxt = CurrentMemoryContext;

	dp_require_admin("process queued batches");
	SPI_connect();
	while (done < max_batches)
	{
		const char *args[1];
		int64		id;
		char	   *ds;
		char	   *kind;
		char	   *source;
		Datum		received;
		bool		isnull;
		QueuedBatch batch;
		ErrorData  *e;
		TimestampTz started;

		args[0] = dataset;
		if (dp_spi_exec_text("SELECT b.id, b.dataset, b.kind, b.source::text, b.received_at "
							 "FROM dataplatform.batch b WHERE b.status = 'queued' "
							 "AND ($1::text IS NULL OR b.dataset = $1) "
							 "AND NOT EXISTS (SELECT 1 FROM dataplatform.batch e WHERE e.dataset = b.dataset "
							 "  AND e.status IN ('queued', 'processing') AND e.id < b.id) "
							 "ORDER BY b.id LIMIT 1 FOR UPDATE OF b SKIP LOCKED", 1, args) == 0)
			break;
		id = pg_strtoint64(dp_spi_getvalue(0, 1));
		ds = dp_spi_getvalue(0, 2);
		kind = dp_spi_getvalue(0, 3);
		source = dp_spi_getvalue(0, 4);
		received = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull);
		args[0] = psprintf("%lld", (long long) id);
		dp_spi_exec_text("UPDATE dataplatform.batch SET status = 'processing' WHERE id = $1::bigint", 1, args);

		started = GetCurrentTimestamp();
		batch.dataset = ds;
		batch.id = id;
		batch.kind = kind;
		batch.source = source;
		batch.received = received;
		e = dp_try_in_subxact(process_batch, &batch);
		if (e != NULL)
		{
			const char *fargs[2];

			fargs[0] = args[0];
			fargs[1] = e->message;
			dp_spi_exec_text("UPDATE dataplatform.batch SET status = 'failed', processed_at = pg_catalog.clock_timestamp(), "
							 "result = pg_catalog.jsonb_build_object('error', $2) WHERE id = $1::bigint", 2, fargs);
			dp_load_openlineage_failed("process_queued", ds, id, started, e->message);
			ereport(WARNING,
					(errmsg("batch %lld of dataset \"%s\" failed: %s", (long long) id, ds, e->message)));
		}
		done++;
	}
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	PG_RETURN_INT32(done);
}

/*
 * rebuild_changed(): rebuild every dataset (fed by pushes, snapshots or
 * events) with a batch processed under an older spec or configuration than
 * the current ones, or that references a dataset whose last batch was
 * processed after its own (its references are checked again: spec
 * "references"); the nightly batch run.  Datasets whose raw rows were
 * purged are left out (and listed).
 */
Datum
dp_rebuild_changed(PG_FUNCTION_ARGS)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	uint64		n,
				i;
	char	  **names;
	StringInfoData report;
	Datum		result;

	dp_require_admin("rebuild changed datasets");
	SPI_connect();
	n = dp_spi_exec("SELECT d.name, EXISTS (SELECT 1 FROM dataplatform.batch b WHERE b.dataset = d.name "
					"  AND b.raw_purged_at IS NOT NULL) "
					"FROM dataplatform.datasets d WHERE EXISTS (SELECT 1 FROM dataplatform.batch b "
					"  WHERE b.dataset = d.name AND b.status = 'done' "
					"  AND (b.spec_version IS DISTINCT FROM d.major || '.' || d.minor "
					"       OR b.config_version IS DISTINCT FROM d.config_version)) "
					/* a dataset it references changed since its last batch was processed */
					"OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(d.spec -> 'fields') f "
					"  JOIN LATERAL (SELECT b.processed_at FROM dataplatform.batch b "
					"    WHERE b.dataset = f -> 'references' ->> 'dataset' AND b.dataset <> d.name "
					"    AND b.status = 'done' ORDER BY b.id DESC LIMIT 1) r ON true "
					"  WHERE r.processed_at > (SELECT b.processed_at FROM dataplatform.batch b "
					"    WHERE b.dataset = d.name AND b.status = 'done' ORDER BY b.id DESC LIMIT 1)) "
					"ORDER BY d.name",
					0, NULL, NULL, NULL);
	names = palloc(sizeof(char *) * (n * 2 + 1));
	for (i = 0; i < n; i++)
	{
		names[2 * i] = dp_spi_getvalue(i, 1);
		names[2 * i + 1] = dp_spi_getvalue(i, 2);
	}
	initStringInfo(&report);
	appendStringInfoString(&report, "{\"rebuilt\": [");
	for (i = 0; i < n; i++)
	{
		const char *args[1];

		if (strcmp(names[2 * i + 1], "t") == 0)
			continue;
		args[0] = names[2 * i];
		dp_spi_exec_text("SELECT dataplatform.rebuild($1)", 1, args);
		if (report.data[report.len - 1] != '[')
			appendStringInfoString(&report, ", ");
		escape_json(&report, names[2 * i]);
	}
	appendStringInfoString(&report, "], \"left_out\": [");
	for (i = 0; i < n; i++)
	{
		if (strcmp(names[2 * i + 1], "t") != 0)
			continue;
		if (report.data[report.len - 1] != '[')
			appendStringInfoString(&report, ", ");
		escape_json(&report, names[2 * i]);
	}
	appendStringInfoString(&report, "]}");
	MemoryContextSwitchTo(result_cxt);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(report.data));
	SPI_finish();
	PG_RETURN_DATUM(result);
}
