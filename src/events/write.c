/*
 * write.c
 *		Writing the changes of a run of events back, without SQL
 *		(common/bulk.c): the current rows of entities deleted are deleted
 *		and of entities changed updated, both by the address read under
 *		the lock; new entities, the versions that left current state
 *		(_history), the event log and new orphans are inserted the way COPY
 *		inserts; orphans replayed take their batch and outcome in place.
 *
 * Values an event did not touch are written as they were read (stored
 * datums); an update tells which columns kept their value, so an index on
 * those only (the primary key) skips its uniqueness check.  Caller holds
 * the dataset lock (common/dataset_lock.h).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "events.h"
#include "partition.h"

/*
 * Set the fields and lineage of an entity's current row in the current
 * slot of b.
 */
typedef struct CleanAtts
{
	AttrNumber *fields;
	AttrNumber	batch,
				event,
				watermark,
				updated,
				row;
} CleanAtts;

/* A string as a text datum: the one made before, or made now. */
static inline Datum
text_datum(Datum made, const char *s)
{
	return made != (Datum) 0 ? made : CStringGetTextDatum(s);
}

/* A field's value into the current slot of b: the stored datum, or read from text. */
static void
set_cell(DpBulk *b, AttrNumber att, const Cell *c)
{
	if (c->isnull)
		return;
	if (c->stored)
		dp_bulk_set_datum(b, att, c->datum);
	else
		dp_bulk_set_text(b, att, c->text);
}

static void
set_current_row(DpBulk *b, const CleanAtts *a, int nf, Entity *e, int64 batch_id)
{
	(void) dp_bulk_slot(b);
	for (int i = 0; i < nf; i++)
		set_cell(b, a->fields[i], &e->values[i]);
	dp_bulk_set_datum(b, a->batch, Int64GetDatum(batch_id));
	if (e->event_id)
		dp_bulk_set_datum(b, a->event, text_datum(e->event_id_d, e->event_id));
	if (e->watermark)
		dp_bulk_set_datum(b, a->watermark, text_datum(e->watermark_d, e->watermark));
	dp_bulk_set_datum(b, a->updated, TimestampTzGetDatum(e->updated_at));
	if (e->row)
		dp_bulk_set_datum(b, a->row, Int64GetDatum(e->row));
}

/*
 * Current state: rows of entities that were deleted are deleted, rows that
 * changed are updated in place (both by the address read under our lock),
 * new entities are inserted in bulk.
 */
static void
write_current(EventRun *run)
{
	DpLoad	   *load = run->load;
	const DpSpec *spec = load->spec;
	int			nf = spec->nfields;
	List	   *gone = NIL;		/* existed, now deleted */
	List	   *upd = NIL;		/* existed, still exist */
	List	   *now = NIL;		/* new */
	ListCell   *lc;
	DpBulk	   *b;
	CleanAtts	a;
	bool	   *unchanged;

	/* in the order they were first touched: close to where they sit in memory */
	foreach(lc, run->touched)
	{
		Entity	   *e = lfirst(lc);

		if (e->existed && !e->exists)
			gone = lappend(gone, e);
		else if (e->existed)
			upd = lappend(upd, e);
		else if (e->exists)
			now = lappend(now, e);
	}
	if (gone == NIL && upd == NIL && now == NIL)
		return;
	b = dp_bulk_begin("dp_clean", spec->table);
	dp_bulk_feed(b, load->dataset, load->batch_id);
	a.fields = palloc(sizeof(AttrNumber) * nf);
	for (int i = 0; i < nf; i++)
		a.fields[i] = dp_bulk_attnum(b, spec->fields[i].column);
	a.batch = dp_bulk_attnum(b, "_batch_id");
	a.event = dp_bulk_attnum(b, "_event_id");
	a.watermark = dp_bulk_attnum(b, "_watermark");
	a.updated = dp_bulk_attnum(b, "_updated_at");
	a.row = dp_bulk_attnum(b, "_row");
	unchanged = palloc0(sizeof(bool) * dp_bulk_natts(b));
	foreach(lc, gone)
		dp_bulk_delete(b, &((Entity *) lfirst(lc))->tid);
	foreach(lc, upd)
	{
		Entity	   *e = lfirst(lc);

		/* the fields that keep their stored value keep their index entries' */
		for (int i = 0; i < nf; i++)
			unchanged[a.fields[i] - 1] = e->values[i].stored;
		set_current_row(b, &a, nf, e, load->batch_id);
		dp_bulk_update(b, &e->tid, unchanged);
	}
	foreach(lc, now)
	{
		set_current_row(b, &a, nf, lfirst(lc), load->batch_id);
		dp_bulk_store(b);
	}
	(void) dp_bulk_end(b);
}

/* The versions that left current state, in the order they left it. */
static void
write_history(EventRun *run)
{
	DpLoad	   *load = run->load;
	const DpSpec *spec = load->spec;
	int			nf = spec->nfields;
	DpBulk	   *b;
	DpHistoryAtts a;
	Datum		closed_batch = Int64GetDatum(load->batch_id);
	Datum		op_d[2] = {0, 0};	/* "update", "delete" */
	ListCell   *lc;
	char	  **removed;
	int			nremoved = 0;

	if (run->hist == NIL)
		return;
	removed = palloc(sizeof(char *) * list_length(run->hist));
	b = dp_load_history_begin(spec, load->batch_id, &a);
	foreach(lc, run->hist)
	{
		HistRow    *h = lfirst(lc);

		(void) dp_bulk_slot(b);
		for (int i = 0; i < nf; i++)
			set_cell(b, a.fields[i], &h->values[i]);
		{
			int			o = strcmp(h->operation, "update") == 0 ? 0 :
				strcmp(h->operation, "delete") == 0 ? 1 : -1;

			if (o < 0)
				dp_bulk_set_datum(b, a.operation, CStringGetTextDatum(h->operation));
			else
				dp_bulk_set_datum(b, a.operation, dp_events_text_datum(run, &op_d[o], h->operation));
			if (o != 0)
				removed[nremoved++] = h->key;
		}
		if (h->batch_id)
			dp_bulk_set_datum(b, a.batch_id, Int64GetDatum(h->batch_id));
		if (h->event_id)
			dp_bulk_set_datum(b, a.event_id, text_datum(h->event_id_d, h->event_id));
		dp_bulk_set_datum(b, a.valid_from, TimestampTzGetDatum(h->valid_from));
		dp_bulk_set_datum(b, a.valid_to, TimestampTzGetDatum(h->valid_to));
		if (h->closed_by_event)
			dp_bulk_set_datum(b, a.closed_by_event, text_datum(h->closed_by_event_d, h->closed_by_event));
		if (h->watermark)
			dp_bulk_set_datum(b, a.watermark, text_datum(h->watermark_d, h->watermark));
		dp_bulk_set_datum(b, a.closed_by_batch, closed_batch);
		if (h->row)
			dp_bulk_set_datum(b, a.row, Int64GetDatum(h->row));
		dp_bulk_store(b);
	}
	(void) dp_bulk_end(b);
	/* the keys removed, whose tombstones a later create must find */
	dp_load_record_removed(spec, removed, nremoved);
}

static void
set_text_or_null(DpBulk *b, AttrNumber att, const char *s)
{
	if (s != NULL)
		dp_bulk_set_datum(b, att, CStringGetTextDatum(s));
}

/*
 * The event log: every event of the call with its outcome, in order, into
 * the partition of the batch (made when there is none: partition_rule);
 * the ids processed, into event_processed (not partitioned: idempotency
 * outlives the partitions retention drops; its primary key refuses an id
 * processed twice, as event_processed's unique index did in 0.1).
 */
static void
write_event_log(EventRun *run, List *evs)
{
	DpLoad	   *load = run->load;
	DpBulk	   *b;
	DpBulk	   *pb;
	AttrNumber	p_dataset,
				p_id;
	AttrNumber	a_dataset,
				a_batch,
				a_ord,
				a_id,
				a_entity,
				a_type,
				a_time,
				a_key,
				a_outcome,
				a_detail;
	Datum		dataset = CStringGetTextDatum(load->dataset);
	ListCell   *lc;

	if (evs == NIL)
		return;
	b = dp_bulk_begin("dataplatform", dp_partition_for("dataplatform", "event", load->batch_id));
	pb = dp_bulk_begin("dataplatform", "event_processed");
	p_dataset = dp_bulk_attnum(pb, "dataset");
	p_id = dp_bulk_attnum(pb, "event_id");
	a_dataset = dp_bulk_attnum(b, "dataset");
	a_batch = dp_bulk_attnum(b, "batch_id");
	a_ord = dp_bulk_attnum(b, "ordinal");
	a_id = dp_bulk_attnum(b, "event_id");
	a_entity = dp_bulk_attnum(b, "entity_id");
	a_type = dp_bulk_attnum(b, "event_type");
	a_time = dp_bulk_attnum(b, "event_time");
	a_key = dp_bulk_attnum(b, "order_key");
	a_outcome = dp_bulk_attnum(b, "outcome");
	a_detail = dp_bulk_attnum(b, "detail");
	foreach(lc, evs)
	{
		Ev		   *ev = lfirst(lc);

		(void) dp_bulk_slot(b);
		dp_bulk_set_datum(b, a_dataset, dataset);
		dp_bulk_set_datum(b, a_batch, Int64GetDatum(load->batch_id));
		dp_bulk_set_datum(b, a_ord, Int32GetDatum(ev->ordinal));
		if (ev->id)
			dp_bulk_set_datum(b, a_id, text_datum(ev->id_d, ev->id));
		if (ev->entity)
			dp_bulk_set_datum(b, a_entity, text_datum(ev->entity_d, ev->entity));
		else
			set_text_or_null(b, a_entity, ev->entity_raw);
		if (ev->type)
			dp_bulk_set_datum(b, a_type, text_datum(ev->type_d, ev->type));
		set_text_or_null(b, a_time, ev->time_raw);
		if (ev->order_key)
			dp_bulk_set_datum(b, a_key, text_datum(ev->key_d, ev->order_key));
		dp_bulk_set_datum(b, a_outcome, dp_events_outcome_datum(run, ev->outcome));
		set_text_or_null(b, a_detail, ev->replayed_as ?
						 psprintf("replayed in this call: %s", ev->replayed_as->outcome) : ev->detail);
		dp_bulk_store(b);
		/* processed: what the event log's index event_processed held in 0.1 */
		if (ev->id != NULL && ev->outcome != NULL && strcmp(ev->outcome, "duplicate") != 0 &&
			strcmp(ev->outcome, "rejected") != 0)
		{
			(void) dp_bulk_slot(pb);
			dp_bulk_set_datum(pb, p_dataset, dataset);
			dp_bulk_set_datum(pb, p_id, text_datum(ev->id_d, ev->id));
			dp_bulk_store(pb);
		}
	}
	(void) dp_bulk_end(b);
	(void) dp_bulk_end(pb);
}

/*
 * New orphans (those replayed later in the call say so at once), and the
 * orphans of earlier calls replayed now: their row, found by its primary
 * key, takes this batch and the replay's outcome.
 */
static void
write_orphans(EventRun *run)
{
	DpLoad	   *load = run->load;
	DpBulk	   *b;
	Datum		dataset = CStringGetTextDatum(load->dataset);
	AttrNumber	a_dataset,
				a_id,
				a_entity,
				a_key,
				a_type,
				a_env,
				a_batch,
				a_ord,
				a_by,
				a_outcome;
	ListCell   *lc;

	if (run->orphans == NIL && run->replayed == NIL)
		return;
	b = dp_bulk_begin("dataplatform", "orphan_event");
	a_dataset = dp_bulk_attnum(b, "dataset");
	a_id = dp_bulk_attnum(b, "event_id");
	a_entity = dp_bulk_attnum(b, "entity_id");
	a_key = dp_bulk_attnum(b, "order_key");
	a_type = dp_bulk_attnum(b, "event_type");
	a_env = dp_bulk_attnum(b, "envelope");
	a_batch = dp_bulk_attnum(b, "batch_id");
	a_ord = dp_bulk_attnum(b, "ordinal");
	a_by = dp_bulk_attnum(b, "replayed_by_batch");
	a_outcome = dp_bulk_attnum(b, "replay_outcome");
	foreach(lc, run->orphans)
	{
		Ev		   *ev = lfirst(lc);

		(void) dp_bulk_slot(b);
		dp_bulk_set_datum(b, a_dataset, dataset);
		dp_bulk_set_datum(b, a_id, text_datum(ev->id_d, ev->id));
		dp_bulk_set_datum(b, a_entity, text_datum(ev->entity_d, ev->entity));
		dp_bulk_set_datum(b, a_key, text_datum(ev->key_d, ev->order_key));
		set_text_or_null(b, a_type, ev->type);
		dp_bulk_set_datum(b, a_env, JsonbPGetDatum(dp_events_envelope(run, ev)));
		dp_bulk_set_datum(b, a_batch, Int64GetDatum(load->batch_id));
		dp_bulk_set_datum(b, a_ord, Int32GetDatum(ev->ordinal));
		if (ev->replayed_as)
		{
			dp_bulk_set_datum(b, a_by, Int64GetDatum(load->batch_id));
			dp_bulk_set_datum(b, a_outcome, CStringGetTextDatum(ev->replayed_as->outcome));
		}
		dp_bulk_store(b);
	}

	/* an orphan replayed twice in the call keeps its last outcome */
	if (run->replayed != NIL)
	{
		DpProbe    *p = dp_probe_begin("dataplatform", "orphan_event");
		HTAB	   *written = dp_events_entity_table("dataplatform replayed orphans", CurrentMemoryContext);
		Datum		key[2];

		bool	   *unchanged = palloc(sizeof(bool) * dp_bulk_natts(b));

		/* the replay's batch and outcome change; the rest stays */
		memset(unchanged, true, sizeof(bool) * dp_bulk_natts(b));
		unchanged[a_by - 1] = unchanged[a_outcome - 1] = false;
		key[0] = dataset;
		for (int n = list_length(run->replayed) - 1; n >= 0; n--)
		{
			Ev		   *ev = list_nth(run->replayed, n);
			TupleTableSlot *from;

			if (dp_events_entity_get(written, ev->id, false, 0) != NULL)
				continue;
			(void) dp_events_entity_get(written, ev->id, true, 0);
			key[1] = CStringGetTextDatum(ev->id);
			from = dp_probe_fetch(p, key);
			if (from == NULL)
				elog(ERROR, "orphaned event \"%s\" of dataset \"%s\" is gone", ev->id, load->dataset);
			slot_getallattrs(from);
			(void) dp_bulk_slot(b);
			for (int i = 0; i < from->tts_tupleDescriptor->natts; i++)
				if (!from->tts_isnull[i])
					dp_bulk_set_datum(b, i + 1, from->tts_values[i]);
			dp_bulk_set_datum(b, a_by, Int64GetDatum(load->batch_id));
			dp_bulk_set_datum(b, a_outcome, CStringGetTextDatum(ev->outcome));
			dp_bulk_update(b, &from->tts_tid, unchanged);
		}
		dp_probe_end(p);
	}
	(void) dp_bulk_end(b);
}

/* Write the run's changes: current state, history, the event log, orphans. */
void
dp_events_run_write(EventRun *run, List *evs)
{
	if (run->orphan_probe)
	{
		dp_probe_end(run->orphan_probe);
		run->orphan_probe = NULL;
	}
	write_current(run);
	write_history(run);
	write_event_log(run, evs);
	write_orphans(run);
}
