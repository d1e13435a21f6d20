/*
 * snapshot.c
 *		load_snapshot: the state of a dataset as of a time, loaded through
 *		the keyed upsert (a row newer than the snapshot by its watermark is
 *		kept); in replace mode the entities the snapshot does not hold are
 *		closed in _history as "resync"; then the orphaned events of the
 *		entities it brought, newer than them, are replayed.
 *
 * Concurrency: like a push, it takes the dataset lock (common/dataset_lock.h)
 * before reading any state and before taking its batch id.  Versions it
 * closes end at as_of, or when they began if that is later.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/memutils.h"

#include "events.h"
#include "openlineage.h"
#include "partition.h"
#include "util.h"
#include "spatial.h"

PG_FUNCTION_INFO_V1(dp_load_snapshot);

/* ------------------------------------------------------------------------
 * load_snapshot
 * ------------------------------------------------------------------------
 */

/*
 * Replace mode: close every entity of the dataset the snapshot does not
 * hold (unless it has a newer watermark).  Returns {"count", "keys"}; the
 * closed versions go to _history, their keys to the removed keys, and the first 1,000 to the keys, in key
 * order (not in the order rows happen to sit in the table).
 */
static char *
remove_missing(DpLoad *load, Datum as_of)
{
	const DpSpec *spec = load->spec;
	int			nk = spec->nkey;
	int			nkeys = hash_get_num_entries(load->keys);
	char	  **parts = palloc(sizeof(char *) * Max(nkeys, 1) * nk);
	HASH_SEQ_STATUS seq;
	KeyEntry   *e;
	StringInfoData sql,
				cols,
				match,
				keyjson,
				keyorder;
	Oid		   *types = palloc(sizeof(Oid) * (nk + 3));
	Datum	   *values = palloc(sizeof(Datum) * (nk + 3));
	char	   *nulls = palloc(nk + 4);
	int			n = 0,
				i;

	hash_seq_init(&seq, load->keys);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		char	   *copy = pstrdup(e->key);
		char	   *p = copy;

		for (i = 0; i < nk; i++)
		{
			char	   *sep = strchr(p, '\x1f');

			if (sep)
				*sep = '\0';
			parts[(Size) n * nk + i] = p;
			p = sep ? sep + 1 : p + strlen(p);
		}
		n++;
	}
	initStringInfo(&sql);
	initStringInfo(&cols);
	initStringInfo(&match);
	initStringInfo(&keyjson);
	initStringInfo(&keyorder);
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&cols, "%s%s", i ? ", " : "", quote_identifier(spec->fields[i].column));
	for (i = 0; i < nk; i++)
	{
		const DpField *f = &spec->fields[spec->key[i]];

		appendStringInfo(&match, "%so.%s = k.k%d::%s", i ? " AND " : "", quote_identifier(f->column), i,
						 dp_sqltype(f->datatype));
		appendStringInfo(&keyjson, "%s'%s', %s", i ? ", " : "", f->name, quote_identifier(f->column));
		appendStringInfo(&keyorder, "%s%s", i ? ", " : "", quote_identifier(f->column));
		types[i] = TEXTARRAYOID;
		values[i] = dp_text_array(parts + i, n, nk);
		nulls[i] = ' ';
	}
	appendStringInfo(&sql, "WITH keys AS MATERIALIZED (SELECT * FROM ROWS FROM (");
	for (i = 0; i < nk; i++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d)", i ? ", " : "", i + 1);
	appendStringInfoString(&sql, ") AS k(");
	for (i = 0; i < nk; i++)
		appendStringInfo(&sql, "%sk%d", i ? ", " : "", i);
	appendStringInfo(&sql,
					 ")), gone AS (DELETE FROM %s o WHERE NOT EXISTS (SELECT 1 FROM keys k WHERE %s) "
					 "AND ($%d::text IS NULL OR o._watermark IS NULL OR o._watermark <= $%d) RETURNING o.*), "
					 "moved AS (INSERT INTO %s (%s, _operation, _batch_id, _event_id, _valid_from, _valid_to, "
					 "_closed_by_batch, _watermark, _row) SELECT %s, 'resync', _batch_id, _event_id, _updated_at, "
					 "GREATEST($%d, _updated_at), "
					 "$%d, COALESCE($%d, _watermark), _row FROM gone ORDER BY %s), "
					 "removed AS (INSERT INTO dp_clean.%s (%s) SELECT DISTINCT %s FROM gone ON CONFLICT DO NOTHING) "
					 "SELECT pg_catalog.jsonb_build_object('count', (SELECT count(*) FROM gone), "
					 "'keys', COALESCE((SELECT pg_catalog.jsonb_agg(s._k ORDER BY %s) FROM (SELECT "
					 "pg_catalog.jsonb_build_object(%s) AS _k, %s FROM gone ORDER BY %s LIMIT 1000) s), "
					 "'[]'))::text",
					 dp_qualified_clean(spec, false), match.data, nk + 1, nk + 1,
					 dp_qualified_clean(spec, true), cols.data, cols.data, nk + 2, nk + 3, nk + 1,
					 keyorder.data, quote_identifier(psprintf("%s_removed", spec->table)),
					 keyorder.data, keyorder.data,
					 keyorder.data, keyjson.data, keyorder.data, keyorder.data);
	types[nk] = TEXTOID;
	values[nk] = load->watermark ? CStringGetTextDatum(load->watermark) : (Datum) 0;
	nulls[nk] = load->watermark ? ' ' : 'n';
	types[nk + 1] = TIMESTAMPTZOID;
	values[nk + 1] = as_of;
	nulls[nk + 1] = ' ';
	types[nk + 2] = INT8OID;
	values[nk + 2] = Int64GetDatum(load->batch_id);
	nulls[nk + 2] = ' ';
	nulls[nk + 3] = '\0';
	/* the partition of _history the closed versions go to */
	dp_partition_ensure("dp_clean", psprintf("%s_history", spec->table), load->batch_id);
	dp_spi_exec(sql.data, nk + 3, types, values, nulls);
	return dp_spi_getvalue(0, 1);
}

/*
 * After a snapshot: the orphans of the entities it brought (its keys, in
 * load->keys), newer than them, replay.  Waiting orphans are found through
 * their index, the entities' state through the primary key: what is read
 * follows the snapshot's keys, not what is stored.
 */
static int
replay_after_snapshot(DpLoad *load)
{
	EventRun   *run;
	List	   *keys = NIL;
	HASH_SEQ_STATUS seq;
	KeyEntry   *k;
	ListCell   *lc;

	if (load->spec->nkey != 1)
		return 0;
	run = dp_events_run_begin(load);
	dp_events_set_batch_time(run);
	hash_seq_init(&seq, load->keys);
	while ((k = hash_seq_search(&seq)) != NULL)
		keys = lappend(keys, k->key);
	keys = dp_events_entities_with_orphans(run, keys);
	if (keys == NIL)
		return 0;
	dp_events_load_state(run, keys);
	foreach(lc, keys)
	{
		Entity	   *e = dp_events_entity_get(run->entities, lfirst(lc), false, load->spec->nfields);

		if (e != NULL && e->existed)
			dp_events_replay_orphans(run, e);
	}
	dp_events_run_write(run, NIL);
	return list_length(run->replayed);
}

/*
 * Apply a snapshot's rows (as stored in raw) to its batch: load holds the
 * batch id, the dataset lock is taken, the batch row exists.  Leaves the
 * batch's result set; the caller finishes the batch (dp_load_finish).
 * load_snapshot and the replay of a snapshot batch (rebuild) share it.
 */
void
dp_snapshot_apply(DpLoad *load, Jsonb *rows, Datum as_of, const char *as_of_text, const char *mode)
{
	char	   *removed = "{\"count\": 0, \"keys\": []}";
	int			replayed;

	/* the rows: the state as of as_of, versions dated as_of */
	load->received_at = as_of;
	load->snapshot = true;
	if (load->cfg->events.sequence.n == 0)
	{
		char	   *utc;

		load->watermark = MemoryContextStrdup(load->cxt, dp_events_time_order_key(as_of_text, &utc));
	}
	load->track_keys = strcmp(mode, "replace") == 0;
	dp_load_json(load, rows);
	dp_load_flush(load);
	if (load->track_keys)
		removed = remove_missing(load, as_of);
	replayed = replay_after_snapshot(load);
	{
		StringInfoData result;
		const char *a[2];

		initStringInfo(&result);
		appendStringInfo(&result,
						 "{\"as_of\": \"%s\", \"mode\": \"%s\", \"rows\": %lld, \"added\": %lld, "
						 "\"changed\": %lld, \"unchanged\": %lld, \"skipped_newer\": %lld, "
						 "\"quarantined\": %lld, \"removed_by_resync\": %s, \"orphans_replayed\": %d}",
						 as_of_text, mode, (long long) load->rows_in, (long long) load->n_added,
						 (long long) load->n_changed, (long long) load->n_unchanged,
						 (long long) load->n_newer, (long long) load->quarantined, removed, replayed);
		a[0] = psprintf("%lld", (long long) load->batch_id);
		a[1] = result.data;
		dp_spi_exec_text("UPDATE dataplatform.batch SET result = $2::jsonb WHERE id = $1::bigint", 2, a);
	}
}

static Datum
load_snapshot_call(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	Jsonb	   *rows;
	Datum		as_of;
	char	   *mode;
	DpLoad	   *load;
	instr_time	start;
	int64		batch_id;
	char	   *as_of_text;

	INSTR_TIME_SET_CURRENT(start);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("snapshot rows for dataset \"%s\" must not be null", dataset)));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of of the snapshot of dataset \"%s\" must not be null", dataset),
				 errhint("Give the time the snapshot's state is as of.")));
	rows = PG_GETARG_JSONB_P(1);
	as_of = PG_GETARG_DATUM(2);
	mode = PG_ARGISNULL(3) ? "replace" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strcmp(mode, "replace") != 0 && strcmp(mode, "merge") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown snapshot mode \"%s\" for dataset \"%s\"", mode, dataset),
				 errhint("Use replace (entities missing from the snapshot are closed) or merge (upsert only).")));

	SPI_connect();
	load = dp_load_open(dataset, false, NULL);
	dp_check_json_shape(dataset, rows);
	rows = dp_load_obfuscate_json(load, rows);
	{
		Oid			t[1] = {TIMESTAMPTZOID};
		Datum		v[1];

		v[0] = as_of;
		dp_spi_exec("SELECT pg_catalog.to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
					1, t, v, NULL);
		as_of_text = dp_spi_getvalue(0, 1);
	}
	dp_load_lock(load, RowExclusiveLock);
	dp_load_require_no_queue(load);
	{
		StringInfoData source;

		initStringInfo(&source);
		appendStringInfo(&source, "{\"as_of\": \"%s\", \"mode\": \"%s\"}", as_of_text, mode);
		dp_load_create_batch(load, "snapshot", VARSIZE(rows) - VARHDRSZ,
							 dp_sha256_hex(VARDATA(rows), VARSIZE(rows) - VARHDRSZ), source.data);
	}
	dp_load_land_json(load, rows);
	dp_snapshot_apply(load, rows, as_of, as_of_text, mode);
	dp_load_finish(load, start);
	dp_load_audit(load, "load_snapshot");
	batch_id = load->batch_id;
	SPI_finish();
	PG_RETURN_INT64(batch_id);
}

/* the SQL function: a failed call leaves its OpenLineage FAIL (openlineage_fail.c) */
Datum
dp_load_snapshot(PG_FUNCTION_ARGS)
{
	return dp_ol_call(fcinfo, load_snapshot_call, "snapshot");
}
