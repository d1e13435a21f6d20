/*
 * state.c
 *		The state of one run of events (apply_events, or the replay after
 *		a snapshot): setting the run up, the in-memory table of the
 *		entities it touches, loading their current state and the event ids
 *		processed before, and writing the run's changes back: current state,
 *		_history, the event log and orphans.
 *
 * Stored data is read only through indexes, one probe per key or event id
 * the run brings (see events.h), and written without SQL (common/bulk.c):
 * current rows updated and deleted by the address read under our lock, new
 * rows, history, the event log and orphans inserted the way COPY does.
 *
 * Memory: the entities live in a hash table in the load's context, loaded
 * once at the start; the changes are written back at the end.  Every
 * function expects the clean table locked (SHARE ROW EXCLUSIVE) before any
 * state is read.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "events.h"
#include "normalise.h"
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

/* ------------------------------------------------------------------------
 * Loading state through the indexes
 * ------------------------------------------------------------------------
 */

/*
 * Load the current state (and the tombstone watermark of deleted ones) of
 * the entities these events name: one probe of the clean table's primary
 * key per key, and for the keys with no current row one walk of their
 * versions through _history's key index.
 */
void
dp_events_load_state(EventRun *run, List *keys)
{
	const DpSpec *spec = run->load->spec;
	int			nf = spec->nfields;
	char	   *history = psprintf("%s_history", spec->table);
	DpProbe    *p;
	AttrNumber *atts;
	AttrNumber	a_wm,
				a_batch,
				a_event,
				a_updated,
				a_id,
				a_op;
	List	   *absent = NIL;
	ListCell   *lc;

	if (keys == NIL)
		return;
	p = dp_probe_begin("dp_clean", spec->table);
	if (dp_probe_nkeys(p) != 1 ||
		strcmp(dp_probe_key_column(p, 0), spec->fields[run->keyfield].column) != 0)
		elog(ERROR, "the primary key of dataset \"%s\" is not its key field", run->load->dataset);
	atts = palloc(sizeof(AttrNumber) * nf);
	for (int i = 0; i < nf; i++)
		atts[i] = dp_probe_attnum(p, spec->fields[i].column);
	a_wm = dp_probe_attnum(p, "_watermark");
	a_batch = dp_probe_attnum(p, "_batch_id");
	a_event = dp_probe_attnum(p, "_event_id");
	a_updated = dp_probe_attnum(p, "_updated_at");
	foreach(lc, keys)
	{
		const char *key = lfirst(lc);
		Datum		k;
		TupleTableSlot *slot;
		Entity	   *e;
		bool		isnull;
		Datum		b;

		if (dp_events_entity_get(run->entities, key, false, nf) != NULL)
			continue;			/* named twice */
		e = dp_events_entity_get(run->entities, key, true, nf);
		k = dp_probe_input(p, 0, key);
		slot = dp_probe_fetch(p, &k);
		if (slot == NULL)
		{
			absent = lappend(absent, e);
			continue;
		}
		e->existed = e->exists = true;
		e->tid = slot->tts_tid;
		e->watermark = dp_probe_text(p, a_wm);
		b = dp_probe_datum(p, a_batch, &isnull);
		e->batch_id = isnull ? 0 : DatumGetInt64(b);
		e->event_id = dp_probe_text(p, a_event);
		e->updated_at = dp_probe_text(p, a_updated);
		for (int i = 0; i < nf; i++)
			e->values[i] = dp_probe_text(p, atts[i]);
	}
	dp_probe_end(p);
	if (absent == NIL)
		return;

	/* tombstones: the watermark of the latest delete or resync */
	p = dp_probe_begin_on("dp_clean", history, spec->fields[run->keyfield].column);
	a_wm = dp_probe_attnum(p, "_watermark");
	a_id = dp_probe_attnum(p, "_history_id");
	a_op = dp_probe_attnum(p, "_operation");
	foreach(lc, absent)
	{
		Entity	   *e = lfirst(lc);
		Datum		k = dp_probe_input(p, 0, e->key);
		TupleTableSlot *slot;
		int64		latest = 0;
		bool		found = false;

		for (slot = dp_probe_fetch(p, &k); slot; slot = dp_probe_next(p))
		{
			bool		isnull;
			int64		id = DatumGetInt64(dp_probe_datum(p, a_id, &isnull));
			char	   *op = TextDatumGetCString(dp_probe_datum(p, a_op, &isnull));

			if ((strcmp(op, "delete") == 0 || strcmp(op, "resync") == 0) &&
				(!found || id > latest))
			{
				found = true;
				latest = id;
				e->watermark = dp_probe_text(p, a_wm);
			}
			pfree(op);
		}
	}
	dp_probe_end(p);
}

/*
 * Event ids of this dataset already processed, among these: one probe each
 * of dataplatform.event's unique index of processed ids (event_processed,
 * which holds exactly the processed ones).
 */
void
dp_events_load_processed(EventRun *run, List *ids)
{
	DpProbe    *p;
	Datum		key[2];
	ListCell   *lc;

	if (ids == NIL)
		return;
	p = dp_probe_begin_index("dataplatform", "event_processed", 2);
	key[0] = CStringGetTextDatum(run->load->dataset);
	foreach(lc, ids)
	{
		const char *id = lfirst(lc);

		if (dp_events_entity_get(run->processed, id, false, 0) != NULL)
			continue;
		key[1] = CStringGetTextDatum(id);
		if (dp_probe_exists(p, key))
			(void) dp_events_entity_get(run->processed, id, true, 0);
		pfree(DatumGetPointer(key[1]));
	}
	dp_probe_end(p);
}

/* A waiting orphan as read, before its envelope is. */
typedef struct Waiting
{
	Jsonb	   *envelope;
	int			ordinal;
	int64		batch_id;
	char	   *order_key;
} Waiting;

static int
waiting_cmp(const ListCell *a, const ListCell *b)
{
	const Waiting *x = lfirst(a);
	const Waiting *y = lfirst(b);
	int			c = strcmp(x->order_key, y->order_key);

	if (c != 0)
		return c;
	if (x->batch_id != y->batch_id)
		return x->batch_id < y->batch_id ? -1 : 1;
	return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal;
}

/* The probe of waiting orphans (orphan_event_waiting: dataset, entity_id). */
static DpProbe *
orphan_probe(EventRun *run)
{
	if (run->orphan_probe == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(run->load->cxt);

		run->orphan_probe = dp_probe_begin_index("dataplatform", "orphan_event_waiting", 0);
		MemoryContextSwitchTo(old);
	}
	return run->orphan_probe;
}

List *
dp_events_waiting_orphans(EventRun *run, const char *entity, const char *after)
{
	DpProbe    *p = orphan_probe(run);
	AttrNumber	a_env = dp_probe_attnum(p, "envelope"),
				a_ord = dp_probe_attnum(p, "ordinal"),
				a_batch = dp_probe_attnum(p, "batch_id"),
				a_key = dp_probe_attnum(p, "order_key");
	Datum		key[2];
	TupleTableSlot *slot;
	List	   *found = NIL;
	List	   *evs = NIL;
	ListCell   *lc;

	key[0] = CStringGetTextDatum(run->load->dataset);
	key[1] = CStringGetTextDatum(entity);
	for (slot = dp_probe_fetch(p, key); slot; slot = dp_probe_next(p))
	{
		bool		isnull;
		char	   *order_key = dp_probe_text(p, a_key);
		Waiting    *w;

		if (after != NULL && strcmp(order_key, after) <= 0)
			continue;
		w = palloc(sizeof(Waiting));
		w->order_key = order_key;
		w->envelope = DatumGetJsonbPCopy(dp_probe_datum(p, a_env, &isnull));
		w->ordinal = DatumGetInt32(dp_probe_datum(p, a_ord, &isnull));
		w->batch_id = DatumGetInt64(dp_probe_datum(p, a_batch, &isnull));
		found = lappend(found, w);
	}
	list_sort(found, waiting_cmp);
	foreach(lc, found)
	{
		Waiting    *w = lfirst(lc);
		Ev		   *ev = palloc0(sizeof(Ev));

		ev->envelope = w->envelope;
		ev->ordinal = w->ordinal;
		ev->replay = true;
		ev->from_db = true;
		dp_events_read_envelope(run, ev, &ev->envelope->root);
		evs = lappend(evs, ev);
	}
	return evs;
}

static int
string_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/*
 * Whether entity (harmonised text) names a key the dataset's key type
 * reads back unchanged: an orphan stored before a change of the key's type
 * names no entity.
 */
static bool
entity_readable(EventRun *run, const char *entity)
{
	const DpField *kf = &run->load->spec->fields[run->keyfield];
	char	   *buf = NULL;
	size_t		bufsize = 0;

	return dp_harmonise_value(kf->datatype, entity, strlen(entity), NULL, &buf, &bufsize,
							  CurrentMemoryContext) == DP_ISSUE_NONE && strcmp(buf, entity) == 0;
}

List *
dp_events_entities_with_orphans(EventRun *run, List *keys)
{
	DpProbe    *p = dp_probe_begin_index("dataplatform", "orphan_event_waiting", 1);
	AttrNumber	a_entity = dp_probe_attnum(p, "entity_id");
	HTAB	   *waiting = entity_table("dataplatform orphaned entities", CurrentMemoryContext);
	Datum		key[2];
	TupleTableSlot *slot;
	int			nkeys = list_length(keys);
	int			n = 0;
	List	   *found = NIL;
	ListCell   *lc;

	/* the dataset's waiting orphans, unless there are more than keys */
	key[0] = CStringGetTextDatum(run->load->dataset);
	for (slot = dp_probe_fetch(p, key); slot && n <= nkeys; slot = dp_probe_next(p), n++)
		(void) dp_events_entity_get(waiting, dp_probe_text(p, a_entity), true, 0);
	dp_probe_end(p);

	if (n <= nkeys)
	{
		/* all of them read: which keys they name */
		foreach(lc, keys)
			if (dp_events_entity_get(waiting, lfirst(lc), false, 0) != NULL)
				found = lappend(found, lfirst(lc));
	}
	else
	{
		/* many waiting: one probe per key instead */
		p = dp_probe_begin_index("dataplatform", "orphan_event_waiting", 2);
		foreach(lc, keys)
		{
			key[1] = CStringGetTextDatum(lfirst(lc));
			if (dp_probe_fetch(p, key) != NULL)
				found = lappend(found, lfirst(lc));
			pfree(DatumGetPointer(key[1]));
		}
		dp_probe_end(p);
	}
	keys = NIL;
	foreach(lc, found)
		if (entity_readable(run, lfirst(lc)))
			keys = lappend(keys, lfirst(lc));
	list_sort(keys, string_cmp);
	return keys;
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
 * Set the fields and lineage of an entity's current row in the current
 * slot of b.
 */
typedef struct CleanAtts
{
	AttrNumber *fields;
	AttrNumber	batch,
				event,
				watermark,
				updated;
} CleanAtts;

static void
set_current_row(DpBulk *b, const CleanAtts *a, int nf, Entity *e, int64 batch_id)
{
	(void) dp_bulk_slot(b);
	for (int i = 0; i < nf; i++)
		dp_bulk_set_text(b, a->fields[i], e->values[i]);
	dp_bulk_set_datum(b, a->batch, Int64GetDatum(batch_id));
	if (e->event_id)
		dp_bulk_set_datum(b, a->event, CStringGetTextDatum(e->event_id));
	if (e->watermark)
		dp_bulk_set_datum(b, a->watermark, CStringGetTextDatum(e->watermark));
	dp_bulk_set_text(b, a->updated, e->updated_at);
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
	HASH_SEQ_STATUS seq;
	EntityBucket *bk;
	List	   *gone = NIL;		/* existed, now deleted */
	List	   *upd = NIL;		/* existed, still exist */
	List	   *now = NIL;		/* new */
	ListCell   *lc;
	DpBulk	   *b;
	CleanAtts	a;

	hash_seq_init(&seq, run->entities);
	while ((bk = hash_seq_search(&seq)) != NULL)
	{
		Entity	   *e;

		for (e = bk->list; e; e = e->next)
		{
			if (!e->touched)
				continue;
			if (e->existed && !e->exists)
				gone = lappend(gone, e);
			else if (e->existed)
				upd = lappend(upd, e);
			else if (e->exists)
				now = lappend(now, e);
		}
	}
	if (gone == NIL && upd == NIL && now == NIL)
		return;
	b = dp_bulk_begin("dp_clean", spec->table);
	a.fields = palloc(sizeof(AttrNumber) * nf);
	for (int i = 0; i < nf; i++)
		a.fields[i] = dp_bulk_attnum(b, spec->fields[i].column);
	a.batch = dp_bulk_attnum(b, "_batch_id");
	a.event = dp_bulk_attnum(b, "_event_id");
	a.watermark = dp_bulk_attnum(b, "_watermark");
	a.updated = dp_bulk_attnum(b, "_updated_at");
	foreach(lc, gone)
		dp_bulk_delete(b, &((Entity *) lfirst(lc))->tid);
	foreach(lc, upd)
	{
		Entity	   *e = lfirst(lc);

		set_current_row(b, &a, nf, e, load->batch_id);
		dp_bulk_update(b, &e->tid);
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
	AttrNumber *atts = palloc(sizeof(AttrNumber) * nf);
	AttrNumber	a_op,
				a_batch,
				a_event,
				a_from,
				a_to,
				a_closed_event,
				a_wm,
				a_closed_batch;
	Datum		closed_batch = Int64GetDatum(load->batch_id);
	ListCell   *lc;

	if (run->hist == NIL)
		return;
	b = dp_bulk_begin("dp_clean", psprintf("%s_history", spec->table));
	for (int i = 0; i < nf; i++)
		atts[i] = dp_bulk_attnum(b, spec->fields[i].column);
	a_op = dp_bulk_attnum(b, "_operation");
	a_batch = dp_bulk_attnum(b, "_batch_id");
	a_event = dp_bulk_attnum(b, "_event_id");
	a_from = dp_bulk_attnum(b, "_valid_from");
	a_to = dp_bulk_attnum(b, "_valid_to");
	a_closed_event = dp_bulk_attnum(b, "_closed_by_event");
	a_wm = dp_bulk_attnum(b, "_watermark");
	a_closed_batch = dp_bulk_attnum(b, "_closed_by_batch");
	dp_bulk_default(b, dp_bulk_attnum(b, "_history_id"));
	dp_bulk_default(b, dp_bulk_attnum(b, "_recorded_at"));
	foreach(lc, run->hist)
	{
		HistRow    *h = lfirst(lc);

		(void) dp_bulk_slot(b);
		for (int i = 0; i < nf; i++)
			dp_bulk_set_text(b, atts[i], h->values[i]);
		dp_bulk_set_datum(b, a_op, CStringGetTextDatum(h->operation));
		if (h->batch_id)
			dp_bulk_set_datum(b, a_batch, Int64GetDatum(h->batch_id));
		if (h->event_id)
			dp_bulk_set_datum(b, a_event, CStringGetTextDatum(h->event_id));
		dp_bulk_set_text(b, a_from, h->valid_from);
		dp_bulk_set_text(b, a_to, h->valid_to);
		if (h->closed_by_event)
			dp_bulk_set_datum(b, a_closed_event, CStringGetTextDatum(h->closed_by_event));
		if (h->watermark)
			dp_bulk_set_datum(b, a_wm, CStringGetTextDatum(h->watermark));
		dp_bulk_set_datum(b, a_closed_batch, closed_batch);
		dp_bulk_store(b);
	}
	(void) dp_bulk_end(b);
}

static void
set_text_or_null(DpBulk *b, AttrNumber att, const char *s)
{
	if (s != NULL)
		dp_bulk_set_datum(b, att, CStringGetTextDatum(s));
}

/* The event log: every event of the call with its outcome, in order. */
static void
write_event_log(EventRun *run, List *evs)
{
	DpLoad	   *load = run->load;
	DpBulk	   *b;
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
	b = dp_bulk_begin("dataplatform", "event");
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
		set_text_or_null(b, a_id, ev->id);
		set_text_or_null(b, a_entity, ev->entity ? ev->entity : ev->entity_raw);
		set_text_or_null(b, a_type, ev->type);
		set_text_or_null(b, a_time, ev->time_raw);
		set_text_or_null(b, a_key, ev->order_key);
		set_text_or_null(b, a_outcome, ev->outcome);
		set_text_or_null(b, a_detail, ev->replayed_as ?
						 psprintf("replayed in this call: %s", ev->replayed_as->outcome) : ev->detail);
		dp_bulk_store(b);
	}
	(void) dp_bulk_end(b);
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
		dp_bulk_set_datum(b, a_id, CStringGetTextDatum(ev->id));
		dp_bulk_set_datum(b, a_entity, CStringGetTextDatum(ev->entity));
		dp_bulk_set_datum(b, a_key, CStringGetTextDatum(ev->order_key));
		set_text_or_null(b, a_type, ev->type);
		dp_bulk_set_datum(b, a_env, JsonbPGetDatum(ev->envelope));
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
		HTAB	   *written = entity_table("dataplatform replayed orphans", CurrentMemoryContext);
		Datum		key[2];

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
			dp_bulk_update(b, &from->tts_tid);
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
