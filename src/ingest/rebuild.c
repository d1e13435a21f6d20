/*
 * rebuild.c
 *		Transforming raw batches again: dp_replay_batch (used by rebuild and
 *		by the asynchronous processing of queued batches, queue.c) and
 *		rebuild(), which replays every batch of a dataset under ACCESS
 *		EXCLUSIVE; and the raw layer's own rules: purge_raw, and the
 *		raw_guard trigger that keeps dp_raw append-only outside it (raw.c
 *		owns how raw rows are stored).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "portability/instr_time.h"
#include "utils/memutils.h"

#include "access.h"
#include "csv.h"
#include "dataset_lock.h"
#include "pipeline.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_rebuild);
PG_FUNCTION_INFO_V1(dp_purge_raw);
PG_FUNCTION_INFO_V1(dp_raw_guard);

/* set only while purge_raw deletes; read by the raw guard trigger */
static bool dp_raw_purging = false;

/* src/events/'s replay of snapshot and events batches (dp_replay_register) */
static DpReplayFunction replay_events_batch = NULL;

void
dp_replay_register(DpReplayFunction fn)
{
	replay_events_batch = fn;
}

/*
 * Transform one batch again from its raw rows (push and push_csv batches
 * here; snapshot and events batches by src/events/, registered),
 * writing clean rows, issues and quarantine, and stamping the batch with
 * the spec and configuration versions.  Used by rebuild and by the
 * asynchronous processing of queued batches.  The caller holds the clean
 * table's lock.  Returns the load (its context is the caller's to delete).
 */
DpLoad *
dp_replay_batch(const char *dataset, int64 batch_id, const char *kind, const char *source,
			 Datum received, const char *run_kind)
{
	DpLoad	   *load;
	DpLoadOptions opts = {0};
	const char *sargs[1] = {source};
	instr_time	start;
	DpRawBatch	rb;
	int64		n,
				i;

	if (strcmp(kind, "snapshot") == 0 || strcmp(kind, "events") == 0)
	{
		if (replay_events_batch == NULL)
			elog(ERROR, "no replay of %s batches is registered", kind);
		return replay_events_batch(dataset, batch_id, kind, source, received);
	}
	/* a batch collected with an endpoint's column mapping is mapped the same */
	if (source != NULL &&
		dp_spi_exec_text("SELECT ($1::jsonb -> 'column')::text", 1, sargs) == 1)
		opts.column_override = dp_spi_getvalue(0, 1);
	load = dp_load_open(dataset, false, &opts);

	INSTR_TIME_SET_CURRENT(start);
	load->run_kind = run_kind;
	load->batch_id = batch_id;
	load->received_at = received;
	{
		MemoryContext old = MemoryContextSwitchTo(load->cxt);

		dp_raw_read_batch(batch_id, &rb);
		MemoryContextSwitchTo(old);
	}
	n = rb.n;
	if (strcmp(kind, "push") == 0)
	{
		DpRowBuilder rowb = {0};
		MemoryContext old = MemoryContextSwitchTo(load->cxt);

		dp_row_builder_fit(&rowb, 16);
		MemoryContextSwitchTo(old);
		for (i = 0; i < n; i++)
		{
			if (rb.data[i] == NULL)
				elog(ERROR, "raw row %lld of batch %lld holds no JSON", (long long) rb.ordinal[i],
					 (long long) batch_id);
			dp_load_json_object(load, &rowb, &rb.data[i]->root, rb.ordinal[i]);
		}
	}
	else if (strcmp(kind, "push_csv") == 0)
	{
		/* CSV: the header and every record's text, parsed again */
		StringInfoData csv;
		json_t	   *src;
		DpCsvOptions opt;
		Jsonb	   *srcb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(source)));

		src = dp_json_from_jsonb(srcb, "the batch source");
		memset(&opt, 0, sizeof(opt));
		if (json_is_string(json_object_get(src, "delimiter")))
			opt.delimiter = json_string_value(json_object_get(src, "delimiter"))[0];
		if (json_is_string(json_object_get(src, "quote")))
			opt.quote = json_string_value(json_object_get(src, "quote"))[0];
		initStringInfo(&csv);
		appendStringInfo(&csv, "%s\n", json_string_value(json_object_get(src, "header")));
		json_decref(src);
		for (i = 0; i < n; i++)
		{
			appendStringInfoString(&csv, rb.raw[i]);
			appendStringInfoChar(&csv, '\n');
		}
		dp_load_csv(load, csv.data, csv.len, &opt, false, rb.ordinal, rb.line, n, NULL);
	}
	else
		elog(ERROR, "batch %lld of kind %s cannot be replayed", (long long) batch_id, kind);
	dp_load_finish(load, start);
	return load;
}

/*
 * rebuild(dataset): replay every raw batch, in order, through the current
 * spec and configuration: pushes, and snapshots and change events (their
 * event log and orphans made again), so an event-fed dataset gets the
 * state and history of the original run.  Takes the dataset lock and
 * ACCESS EXCLUSIVE on the clean table, so readers see the old state or the
 * new one, never a mix.
 */
Datum
dp_rebuild(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	MemoryContext result_cxt = CurrentMemoryContext;
	const char *args[1];
	uint64		nbatches,
				b;
	int64	   *ids;
	char	  **kinds;
	char	  **sources;
	Datum	   *received;
	DpLoad	   *first;
	int64		total_rows = 0,
				total_loaded = 0,
				total_quarantined = 0;
	char	   *report;
	Datum		result;
	bool		isnull;

	dp_require_admin("rebuild a dataset");
	SPI_connect();
	first = dp_load_open(dataset, false, NULL);
	args[0] = dataset;
	/* first: purge_raw takes the dataset lock too, so none runs meanwhile */
	dp_load_lock(first, AccessExclusiveLock);
	if (dp_spi_exec_text("SELECT 1 FROM dataplatform.batch WHERE dataset = $1 AND raw_purged_at IS NOT NULL",
						 1, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot rebuild dataset \"%s\": raw rows of some of its batches were purged",
						dataset),
				 errdetail("A rebuild would lose the rows that came only from those batches.")));
	nbatches = dp_spi_exec_text("SELECT id, kind, source::text, received_at FROM dataplatform.batch "
								"WHERE dataset = $1 AND status = 'done' ORDER BY id", 1, args);
	ids = palloc(sizeof(int64) * Max(nbatches, 1));
	received = palloc(sizeof(Datum) * Max(nbatches, 1));
	kinds = palloc(sizeof(char *) * Max(nbatches, 1));
	sources = palloc(sizeof(char *) * Max(nbatches, 1));
	for (b = 0; b < nbatches; b++)
	{
		ids[b] = pg_strtoint64(dp_spi_getvalue(b, 1));
		kinds[b] = dp_spi_getvalue(b, 2);
		sources[b] = dp_spi_getvalue(b, 3);
		received[b] = SPI_getbinval(SPI_tuptable->vals[b], SPI_tuptable->tupdesc, 4, &isnull);
	}
	dp_spi_exec_text("DELETE FROM dataplatform.issue i USING dataplatform.batch b "
					 "WHERE b.id = i.batch_id AND b.dataset = $1", 1, args);
	dp_spi_exec_text("DELETE FROM dataplatform.quarantine_row q USING dataplatform.batch b "
					 "WHERE b.id = q.batch_id AND b.dataset = $1", 1, args);
	/* snapshots and events: their log and their orphans are made again */
	/*
	 * the ids processed by the batches replayed are processed again; those
	 * of batches whose event log partition retention dropped stay processed
	 */
	dp_spi_exec_text("DELETE FROM dataplatform.event_processed p USING dataplatform.event e "
					 "WHERE p.dataset = $1 AND e.dataset = $1 AND p.event_id = e.event_id "
					 "AND e.outcome NOT IN ('duplicate', 'rejected')", 1, args);
	dp_spi_exec_text("DELETE FROM dataplatform.event WHERE dataset = $1", 1, args);
	dp_spi_exec_text("DELETE FROM dataplatform.orphan_event WHERE dataset = $1", 1, args);
	/* the removed keys too: the replay records them again */
	dp_spi_exec(psprintf("TRUNCATE %s, %s, dp_clean.%s", dp_qualified_clean(first->spec, false),
						 dp_qualified_clean(first->spec, true),
						 quote_identifier(psprintf("%s_removed", first->spec->table))),
				0, NULL, NULL, NULL);

	for (b = 0; b < nbatches; b++)
	{
		DpLoad	   *load = dp_replay_batch(dataset, ids[b], kinds[b], sources[b], received[b], "rebuild");

		total_rows += load->rows_in;
		total_loaded += load->loaded;
		total_quarantined += load->quarantined;
		MemoryContextDelete(load->cxt);
	}
	report = psprintf("{\"dataset\": \"%s\", \"batches\": %llu, \"rows\": %lld, \"loaded\": %lld, "
					  "\"quarantined\": %lld, \"spec_version\": \"%d.%d\", \"config_version\": %d}",
					  dataset, (unsigned long long) nbatches, (long long) total_rows,
					  (long long) total_loaded, (long long) total_quarantined,
					  first->major, first->minor, first->config_version);
	dp_audit("rebuild", dataset, report);
	MemoryContextSwitchTo(result_cxt);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(report));
	SPI_finish();
	PG_RETURN_DATUM(result);
}

Datum
dp_purge_raw(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	Datum		older_than;
	uint64		n = 0;
	Oid			types[2] = {TEXTOID, INTERVALOID};
	Datum		values[2];

	dp_require_admin("purge raw data");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than must not be null")));
	older_than = PG_GETARG_DATUM(1);
	SPI_connect();
	values[0] = CStringGetTextDatum(dataset);
	values[1] = older_than;
	if (dp_spi_exec("SELECT table_name::text FROM dataplatform.datasets WHERE name = $1", 1, types, values, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", dataset)));
	/* not while a rebuild replays the dataset's raw rows (or a writer lands some) */
	dp_dataset_lock(dp_spi_getvalue(0, 1), AccessShareLock);
	PG_TRY();
	{
		dp_raw_purging = true;
		/*
		 * batches whose raw rows are gone already (an earlier purge, a
		 * partition retention dropped) are not looked for again
		 */
		dp_spi_exec("WITH gone AS (DELETE FROM dp_raw.chunk r USING dataplatform.batch b "
					"WHERE b.id = r.batch_id AND b.dataset = $1 AND b.raw_purged_at IS NULL "
					"AND b.received_at < pg_catalog.now() - $2 RETURNING r.n) "
					"SELECT COALESCE(pg_catalog.sum(n), 0)::bigint FROM gone",
					2, types, values, NULL);
		n = (uint64) pg_strtoint64(dp_spi_getvalue(0, 1));
	}
	PG_FINALLY();
	{
		dp_raw_purging = false;
	}
	PG_END_TRY();
	dp_spi_exec("UPDATE dataplatform.batch SET raw_purged_at = pg_catalog.now() "
				"WHERE dataset = $1 AND received_at < pg_catalog.now() - $2 AND raw_purged_at IS NULL",
				2, types, values, NULL);
	dp_audit("purge_raw", dataset,
			 psprintf("{\"older_than\": \"%s\", \"rows_deleted\": %llu}",
					  DatumGetCString(DirectFunctionCall1(interval_out, older_than)),
					  (unsigned long long) n));
	SPI_finish();
	PG_RETURN_INT64((int64) n);
}

/*
 * Trigger on dp_raw.chunk and the view dp_raw.rows: UPDATE, DELETE and
 * TRUNCATE only inside purge_raw (which deletes from dp_raw.chunk).
 */
Datum
dp_raw_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("raw_guard must be called as a trigger")));
	if (dp_raw_purging && TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("the raw layer is append-only"),
			 errdetail("%s on %s is not allowed.",
					   TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? "UPDATE" :
					   TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "DELETE" : "TRUNCATE",
					   RelationGetRelationName(td->tg_relation)),
			 errhint("Old raw batches are removed with dataplatform.purge_raw(dataset, older_than), which is recorded.")));
	return PointerGetDatum(NULL);
}
