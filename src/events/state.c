/*
 * state.c
 *		The state of one run of events (apply_events, or the replay after
 *		a snapshot): setting the run up, the in-memory table of the
 *		entities it touches, loading their current state and the event ids
 *		processed before, and writing the run's changes back: current state,
 *		_history, the event log and orphans.
 *
 * Memory: the entities live in a hash table in the load's context, loaded
 * once in two queries; the changes are written back in a few set-based
 * statements at the end.  Every function expects SPI to be connected and
 * the clean table locked (SHARE ROW EXCLUSIVE) before any state is read.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "events.h"
#include "util.h"

/* ------------------------------------------------------------------------
 * Entity state
 * ------------------------------------------------------------------------
 */

static uint32
bucket_hash(const void *key, Size keysize)
{
	(void) keysize;
	return (uint32) *(const uint64 *) key;
}

static HTAB *
entity_table(const char *name, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(EntityBucket);
	ctl.hash = bucket_hash;
	ctl.hcxt = cxt;
	return hash_create(name, 1024, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
}

/* The entity with this key; created (empty, not existing) if create. */
Entity *
dp_events_entity_get(HTAB *table, const char *key, bool create, int nfields)
{
	uint64		h = hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
	EntityBucket *b;
	Entity	   *e;
	bool		found;

	b = hash_search(table, &h, create ? HASH_ENTER : HASH_FIND, &found);
	if (b == NULL)
		return NULL;
	if (!found)
		b->list = NULL;
	for (e = b->list; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if (!create)
		return NULL;
	e = palloc0(sizeof(Entity));
	e->key = pstrdup(key);
	e->values = palloc0(sizeof(char *) * nfields);
	e->next = b->list;
	b->list = e;
	return e;
}

char *
dp_events_key_column(const EventRun *run)
{
	return (char *) quote_identifier(run->load->spec->fields[run->keyfield].column);
}

/*
 * Load the current state (and the tombstone watermark of deleted ones) of
 * the entities these events name, in two queries.
 */
void
dp_events_load_state(EventRun *run, List *keys)
{
	const DpSpec *spec = run->load->spec;
	StringInfoData sql;
	Oid			types[1] = {TEXTARRAYOID};
	Datum		values[1];
	char	  **arr;
	ListCell   *lc;
	int			n = 0,
				i;
	uint64		rows,
				r;
	const char *ktype = dp_datatype_sqltype(spec->fields[run->keyfield].datatype);

	if (keys == NIL)
		return;
	arr = palloc(sizeof(char *) * list_length(keys));
	foreach(lc, keys)
		arr[n++] = lfirst(lc);
	values[0] = dp_text_array(arr, n, 1);

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s::text, _watermark, _batch_id, _event_id, _updated_at::text, ctid::text",
					 dp_events_key_column(run));
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&sql, ", %s::text", quote_identifier(spec->fields[i].column));
	appendStringInfo(&sql, " FROM %s WHERE %s = ANY($1::%s[])",
					 dp_qualified_clean(spec, false), dp_events_key_column(run), ktype);
	rows = dp_spi_exec(sql.data, 1, types, values, NULL);
	for (r = 0; r < rows; r++)
	{
		Entity	   *e = dp_events_entity_get(run->entities, dp_spi_getvalue(r, 1), true, spec->nfields);
		char	   *b = dp_spi_getvalue(r, 3);

		e->existed = e->exists = true;
		e->watermark = dp_spi_getvalue(r, 2);
		e->batch_id = b ? pg_strtoint64(b) : 0;
		e->event_id = dp_spi_getvalue(r, 4);
		e->updated_at = dp_spi_getvalue(r, 5);
		e->tid = dp_spi_getvalue(r, 6);
		for (i = 0; i < spec->nfields; i++)
			e->values[i] = dp_spi_getvalue(r, 7 + i);
	}

	/* tombstones matter only for the entities not in clean */
	n = 0;
	foreach(lc, keys)
	{
		Entity	   *e = dp_events_entity_get(run->entities, lfirst(lc), false, spec->nfields);

		if (e == NULL || !e->existed)
			arr[n++] = lfirst(lc);
	}
	if (n == 0)
		return;
	values[0] = dp_text_array(arr, n, 1);
	resetStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT DISTINCT ON (%s) %s::text, _watermark FROM %s "
					 "WHERE %s = ANY($1::%s[]) AND _operation IN ('delete', 'resync') "
					 "ORDER BY %s, _history_id DESC",
					 dp_events_key_column(run), dp_events_key_column(run), dp_qualified_clean(spec, true),
					 dp_events_key_column(run), ktype, dp_events_key_column(run));
	rows = dp_spi_exec(sql.data, 1, types, values, NULL);
	for (r = 0; r < rows; r++)
	{
		Entity	   *e = dp_events_entity_get(run->entities, dp_spi_getvalue(r, 1), true, spec->nfields);

		if (!e->existed)
			e->watermark = dp_spi_getvalue(r, 2);
	}
}

/* Event ids of this dataset already processed, among these. */
void
dp_events_load_processed(EventRun *run, List *ids)
{
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2];
	char	  **arr;
	ListCell   *lc;
	int			n = 0;
	uint64		rows,
				r;

	if (ids == NIL)
		return;
	arr = palloc(sizeof(char *) * list_length(ids));
	foreach(lc, ids)
		arr[n++] = lfirst(lc);
	values[0] = CStringGetTextDatum(run->load->dataset);
	values[1] = dp_text_array(arr, n, 1);
	rows = dp_spi_exec("SELECT event_id FROM dataplatform.event WHERE dataset = $1 "
					   "AND event_id = ANY($2) AND outcome NOT IN ('duplicate', 'rejected')",
					   2, types, values, NULL);
	for (r = 0; r < rows; r++)
		(void) dp_events_entity_get(run->processed, dp_spi_getvalue(r, 1), true, 0);
}

/* ------------------------------------------------------------------------
 * A run: set-up, writing back
 * ------------------------------------------------------------------------
 */

EventRun *
dp_events_run_begin(DpLoad *load)
{
	EventRun   *run = palloc0(sizeof(EventRun));
	MemoryContext old = MemoryContextSwitchTo(load->cxt);

	if (load->spec->nkey != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("dataset \"%s\" has a composite key %s", load->dataset,
						dp_spec_key_text(load->spec)),
				 errdetail("Change events name one entity id, so an event-fed dataset needs a single key field.")));
	run->load = load;
	run->ec = &load->cfg->events;
	run->keyfield = load->spec->key[0];
	run->entities = entity_table("dataplatform entities", load->cxt);
	run->processed = entity_table("dataplatform processed events", load->cxt);
	dp_row_builder_fit(&run->rb, 16);
	run->scratch = palloc0(sizeof(char *) * load->spec->nfields);
	MemoryContextSwitchTo(old);
	return run;
}

void
dp_events_set_batch_time(EventRun *run)
{
	run->batch_time = DatumGetCString(DirectFunctionCall1(timestamptz_out, run->load->received_at));
}

/*
 * Write entities' current rows: UPDATE by ctid (update) or INSERT.  Every
 * field is set from text through its type's input, in one statement.
 */
static void
write_rows(EventRun *run, List *ents, bool update)
{
	DpLoad	   *load = run->load;
	const DpSpec *spec = load->spec;
	int			nf = spec->nfields;
	int			rows = list_length(ents);
	char	  **vals = palloc(sizeof(char *) * rows * nf);
	char	  **extra[4];
	Oid		   *types = palloc(sizeof(Oid) * (nf + 5));
	Datum	   *values = palloc(sizeof(Datum) * (nf + 5));
	StringInfoData sql;
	ListCell   *lc;
	int			n = 0,
				i,
				k;

	for (k = 0; k < 4; k++)
		extra[k] = palloc(sizeof(char *) * rows);
	foreach(lc, ents)
	{
		Entity	   *e = lfirst(lc);

		memcpy(vals + (Size) n * nf, e->values, sizeof(char *) * nf);
		extra[0][n] = e->event_id;
		extra[1][n] = e->watermark;
		extra[2][n] = e->updated_at;
		extra[3][n] = e->tid;
		n++;
	}
	for (i = 0; i < nf; i++)
	{
		types[i] = TEXTARRAYOID;
		values[i] = dp_text_array(vals + i, rows, nf);
	}
	for (k = 0; k < 4; k++)
	{
		types[nf + k] = TEXTARRAYOID;
		values[nf + k] = dp_text_array(extra[k], rows, 1);
	}
	types[nf + 4] = INT8OID;
	values[nf + 4] = Int64GetDatum(load->batch_id);

	initStringInfo(&sql);
	if (update)
	{
		appendStringInfo(&sql, "UPDATE %s o SET ", dp_qualified_clean(spec, false));
		for (i = 0; i < nf; i++)
			appendStringInfo(&sql, "%s = u.c%d::%s, ", quote_identifier(spec->fields[i].column), i,
							 dp_datatype_sqltype(spec->fields[i].datatype));
		appendStringInfo(&sql, "_batch_id = $%d, _event_id = u.e, _watermark = u.w, "
						 "_updated_at = u.t::timestamptz FROM ROWS FROM (", nf + 5);
	}
	else
	{
		appendStringInfo(&sql, "INSERT INTO %s (", dp_qualified_clean(spec, false));
		for (i = 0; i < nf; i++)
			appendStringInfo(&sql, "%s, ", quote_identifier(spec->fields[i].column));
		appendStringInfoString(&sql, "_batch_id, _event_id, _watermark, _updated_at) SELECT ");
		for (i = 0; i < nf; i++)
			appendStringInfo(&sql, "u.c%d::%s, ", i, dp_datatype_sqltype(spec->fields[i].datatype));
		appendStringInfo(&sql, "$%d, u.e, u.w, u.t::timestamptz FROM ROWS FROM (", nf + 5);
	}
	for (i = 0; i < nf + 4; i++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d)", i ? ", " : "", i + 1);
	appendStringInfoString(&sql, ") AS u(");
	for (i = 0; i < nf; i++)
		appendStringInfo(&sql, "c%d, ", i);
	appendStringInfoString(&sql, "e, w, t, tid)");
	if (update)
		appendStringInfoString(&sql, " WHERE o.ctid = u.tid::tid");
	dp_spi_exec(sql.data, nf + 5, types, values, NULL);
}

/* Write the run's changes: current state, history, the event log, orphans. */
void
dp_events_run_write(EventRun *run, List *evs)
{
	DpLoad	   *load = run->load;
	const DpSpec *spec = load->spec;
	int			nf = spec->nfields;
	HASH_SEQ_STATUS seq;
	EntityBucket *b;
	List	   *gone = NIL;		/* existed, now deleted: their ctids */
	List	   *upd = NIL;		/* existed, still exist */
	List	   *now = NIL;		/* new */
	ListCell   *lc;
	StringInfoData sql;
	int			i,
				n;

	hash_seq_init(&seq, run->entities);
	while ((b = hash_seq_search(&seq)) != NULL)
	{
		Entity	   *e;

		for (e = b->list; e; e = e->next)
		{
			if (!e->touched)
				continue;
			if (e->existed && !e->exists)
				gone = lappend(gone, e->tid);
			else if (e->existed)
				upd = lappend(upd, e);
			else if (e->exists)
				now = lappend(now, e);
		}
	}
	initStringInfo(&sql);

	/*
	 * 1. current state, addressed by the ctids read under our lock: delete
	 * what was deleted, update what changed, insert what is new
	 */
	if (gone != NIL)
	{
		char	  **arr = palloc(sizeof(char *) * list_length(gone));
		Oid			types[1] = {TEXTARRAYOID};
		Datum		values[1];

		n = 0;
		foreach(lc, gone)
			arr[n++] = lfirst(lc);
		values[0] = dp_text_array(arr, n, 1);
		appendStringInfo(&sql, "DELETE FROM %s o USING pg_catalog.unnest($1::tid[]) AS u(tid) "
						 "WHERE o.ctid = u.tid", dp_qualified_clean(spec, false));
		dp_spi_exec(sql.data, 1, types, values, NULL);
	}
	if (upd != NIL)
		write_rows(run, upd, true);
	if (now != NIL)
		write_rows(run, now, false);

	/* 2. the versions that left current state */
	if (run->hist != NIL)
	{
		int			rows = list_length(run->hist);
		char	  **vals = palloc(sizeof(char *) * rows * nf);
		char	  **text[7];
		Oid		   *types = palloc(sizeof(Oid) * (nf + 8));
		Datum	   *values = palloc(sizeof(Datum) * (nf + 8));
		int			k;

		for (k = 0; k < 7; k++)
			text[k] = palloc(sizeof(char *) * rows);
		n = 0;
		foreach(lc, run->hist)
		{
			HistRow    *h = lfirst(lc);

			memcpy(vals + (Size) n * nf, h->values, sizeof(char *) * nf);
			text[0][n] = (char *) h->operation;
			text[1][n] = h->batch_id ? psprintf("%lld", (long long) h->batch_id) : NULL;
			text[2][n] = h->event_id;
			text[3][n] = h->valid_from;
			text[4][n] = h->valid_to;
			text[5][n] = h->closed_by_event;
			text[6][n] = h->watermark;
			n++;
		}
		resetStringInfo(&sql);
		appendStringInfo(&sql, "INSERT INTO %s (", dp_qualified_clean(spec, true));
		for (i = 0; i < nf; i++)
			appendStringInfo(&sql, "%s, ", quote_identifier(spec->fields[i].column));
		appendStringInfoString(&sql, "_operation, _batch_id, _event_id, _valid_from, _valid_to, "
							   "_closed_by_event, _watermark, _closed_by_batch) SELECT ");
		for (i = 0; i < nf; i++)
		{
			appendStringInfo(&sql, "u.c%d::%s, ", i, dp_datatype_sqltype(spec->fields[i].datatype));
			types[i] = TEXTARRAYOID;
			values[i] = dp_text_array(vals + i, rows, nf);
		}
		appendStringInfo(&sql, "u.o, u.b::bigint, u.e, u.f::timestamptz, u.t::timestamptz, u.ce, u.w, $%d "
						 "FROM ROWS FROM (", nf + 8);
		for (i = 0; i < nf + 7; i++)
			appendStringInfo(&sql, "%spg_catalog.unnest($%d)", i ? ", " : "", i + 1);
		appendStringInfoString(&sql, ") AS u(");
		for (i = 0; i < nf; i++)
			appendStringInfo(&sql, "c%d, ", i);
		appendStringInfoString(&sql, "o, b, e, f, t, ce, w)");
		for (k = 0; k < 7; k++)
		{
			types[nf + k] = TEXTARRAYOID;
			values[nf + k] = dp_text_array(text[k], rows, 1);
		}
		types[nf + 7] = INT8OID;
		values[nf + 7] = Int64GetDatum(load->batch_id);
		dp_spi_exec(sql.data, nf + 8, types, values, NULL);
	}

	/* 3. the event log */
	if (evs != NIL)
	{
		int			rows = list_length(evs);
		char	  **text[8];
		Oid			types[10] = {TEXTOID, INT8OID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
		Datum		values[10];
		int			k;

		for (k = 0; k < 8; k++)
			text[k] = palloc(sizeof(char *) * rows);
		n = 0;
		foreach(lc, evs)
		{
			Ev		   *ev = lfirst(lc);

			text[0][n] = psprintf("%d", ev->ordinal);
			text[1][n] = ev->id;
			text[2][n] = ev->entity ? ev->entity : ev->entity_raw;
			text[3][n] = ev->type;
			text[4][n] = ev->time_raw;
			text[5][n] = ev->order_key;
			text[6][n] = (char *) ev->outcome;
			text[7][n] = ev->replayed_as ?
				psprintf("replayed in this call: %s", ev->replayed_as->outcome) : ev->detail;
			n++;
		}
		values[0] = CStringGetTextDatum(load->dataset);
		values[1] = Int64GetDatum(load->batch_id);
		for (k = 0; k < 8; k++)
			values[2 + k] = dp_text_array(text[k], rows, 1);
		dp_spi_exec("INSERT INTO dataplatform.event (dataset, batch_id, ordinal, event_id, entity_id, "
					"event_type, event_time, order_key, outcome, detail) "
					"SELECT $1, $2, u.o::integer, u.i, u.e, u.t, u.tm, u.k, u.oc, u.d "
					"FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
					"pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), "
					"pg_catalog.unnest($9), pg_catalog.unnest($10)) AS u(o, i, e, t, tm, k, oc, d)",
					10, types, values, NULL);
	}

	/* 4. new orphans, and orphans replayed */
	foreach(lc, run->orphans)
	{
		Ev		   *ev = lfirst(lc);
		Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, INT8OID,
		INT4OID, INT8OID, TEXTOID};
		Datum		values[10];
		char		nulls[11] = "          ";

		values[0] = CStringGetTextDatum(load->dataset);
		values[1] = CStringGetTextDatum(ev->id);
		values[2] = CStringGetTextDatum(ev->entity);
		values[3] = CStringGetTextDatum(ev->order_key);
		if (ev->type)
			values[4] = CStringGetTextDatum(ev->type);
		else
			nulls[4] = 'n';
		values[5] = JsonbPGetDatum(ev->envelope);
		values[6] = Int64GetDatum(load->batch_id);
		values[7] = Int32GetDatum(ev->ordinal);
		if (ev->replayed_as)
		{
			values[8] = Int64GetDatum(load->batch_id);
			values[9] = CStringGetTextDatum(ev->replayed_as->outcome);
		}
		else
			nulls[8] = nulls[9] = 'n';
		dp_spi_exec("INSERT INTO dataplatform.orphan_event (dataset, event_id, entity_id, order_key, "
					"event_type, envelope, batch_id, ordinal, replayed_by_batch, replay_outcome) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
					10, types, values, nulls);
	}
	foreach(lc, run->replayed)
	{
		Ev		   *ev = lfirst(lc);
		Oid			types[4] = {TEXTOID, TEXTOID, INT8OID, TEXTOID};
		Datum		values[4];

		values[0] = CStringGetTextDatum(load->dataset);
		values[1] = CStringGetTextDatum(ev->id);
		values[2] = Int64GetDatum(load->batch_id);
		values[3] = CStringGetTextDatum(ev->outcome);
		dp_spi_exec("UPDATE dataplatform.orphan_event SET replayed_by_batch = $3, replay_outcome = $4 "
					"WHERE dataset = $1 AND event_id = $2", 4, types, values, NULL);
	}
}
