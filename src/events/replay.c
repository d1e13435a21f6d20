/*
 * replay.c
 *		Replaying a snapshot or events batch from the raw layer, for
 *		rebuild (ingest/rebuild.c, which reaches it through
 *		dp_replay_register: the data path below events does not call
 *		events).  The batch's raw rows (dp_raw.rows, in ordinal order) make
 *		the array the call received, as stored (PII already obfuscated
 *		then); it is applied as load_snapshot or apply_events applied it,
 *		with the batch's id, time and source (a snapshot's as_of and mode),
 *		through the current spec and configuration.  Nothing is landed,
 *		audited or returned.
 *
 * The caller (rebuild) holds the dataset lock and has emptied the
 * dataset's clean and history tables, event log and orphans; replaying
 * every batch of the dataset in id order then gives the state, history,
 * event log and orphans of the original run.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "portability/instr_time.h"
#include "utils/timestamp.h"
#include "utils/jsonb.h"

#include "events.h"
#include "util.h"

/*
 * The batch's raw rows as one JSON array, in ordinal order, in cxt (the
 * load's: a rebuild replays many batches and frees each load).
 */
static Jsonb *
raw_array(const char *dataset, int64 batch_id, MemoryContext cxt)
{
	const char *args[1];
	bool		isnull;
	Datum		d;
	Jsonb	   *result;
	MemoryContext old;

	args[0] = psprintf("%lld", (long long) batch_id);
	dp_spi_exec_text("SELECT pg_catalog.jsonb_agg(data ORDER BY ordinal) FROM dp_raw.rows "
					 "WHERE batch_id = $1::bigint", 1, args);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot replay batch %lld of dataset \"%s\": it has no raw rows",
						(long long) batch_id, dataset),
				 errdetail("A rebuild replays every batch of the dataset from dp_raw.rows.")));
	old = MemoryContextSwitchTo(cxt);
	result = DatumGetJsonbPCopy(d);
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	return result;
}

/* A text member of a batch's source, or NULL. */
static char *
source_member(const char *source, const char *member)
{
	const char *args[2] = {source, member};

	if (source == NULL ||
		dp_spi_exec_text("SELECT $1::jsonb ->> $2", 2, args) == 0)
		return NULL;
	return dp_spi_getvalue(0, 1);
}

DpLoad *
dp_events_replay_batch(const char *dataset, int64 batch_id, const char *kind, const char *source,
					   Datum received)
{
	DpLoad	   *load;
	instr_time	start;
	Jsonb	   *data;

	INSTR_TIME_SET_CURRENT(start);
	load = dp_load_open(dataset, false, NULL);
	load->batch_id = batch_id;
	load->received_at = received;
	data = raw_array(dataset, batch_id, load->cxt);
	if (strcmp(kind, "snapshot") == 0)
	{
		char	   *as_of_text = source_member(source, "as_of");
		char	   *mode = source_member(source, "mode");
		Datum		as_of;

		if (as_of_text == NULL || mode == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot replay snapshot batch %lld of dataset \"%s\": its source has no as_of or mode",
							(long long) batch_id, dataset)));
		as_of = DirectFunctionCall3(timestamptz_in, CStringGetDatum(as_of_text),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		dp_snapshot_apply(load, data, as_of, as_of_text, mode);
	}
	else if (strcmp(kind, "events") == 0)
	{
		EventRun   *run = dp_events_run_begin(load);

		dp_events_set_batch_time(run);
		(void) dp_events_apply(run, data);
	}
	else
		elog(ERROR, "batch %lld of kind %s is not a snapshot or events batch", (long long) batch_id, kind);
	dp_load_finish(load, start);
	return load;
}
