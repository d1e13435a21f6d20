/*
 * state.c
 *		The state of one run of events (apply_events, or the replay after
 *		a snapshot): setting the run up, the in-memory table of the
 *		entities it touches and their values, loading their current state,
 *		the event ids processed before and the orphans waiting for them.
 *		Writing the run's changes back is in write.c.
 *
 * Stored data is read only through indexes (common/bulk.c probes), one
 * probe per key or event id the run brings (see events.h), never a scan.
 * Stored values stay datums until their text is needed (Cell), so what an
 * event does not touch is written back as it was read.
 *
 * Memory: the entities live in a hash table in the load's context, loaded
 * once at the start.  Every function expects the dataset lock taken
 * (common/dataset_lock.h) before any state is read.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "storage/bufmgr.h"
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

HTAB *
dp_events_entity_table(const char *name, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(EntityBucket);
	ctl.hash = bucket_hash;
	ctl.hcxt = cxt;
	return hash_create(name, 1024, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
}

uint64
dp_events_key_hash(const char *key)
{
	return hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
}

Entity *
dp_events_entity_lookup(HTAB *table, const char *key, uint64 hash, bool create, int nfields,
						bool *found)
{
	EntityBucket *b;
	Entity	   *e;
	bool		bfound;

	if (found)
		*found = false;
	b = hash_search(table, &hash, create ? HASH_ENTER : HASH_FIND, &bfound);
	if (b == NULL)
		return NULL;
	if (!bfound)
		b->list = NULL;
	for (e = b->list; e; e = e->next)
		if (strcmp(e->key, key) == 0)
		{
			if (found)
				*found = true;
			return e;
		}
	if (!create)
		return NULL;
	e = palloc0(sizeof(Entity));
	e->key = pstrdup(key);
	if (nfields > 0)
	{
		e->values = palloc0(sizeof(Cell) * nfields);
		for (int i = 0; i < nfields; i++)
			e->values[i].isnull = true;
	}
	e->next = b->list;
	b->list = e;
	return e;
}

/* The entity with this key; created (empty, not existing) if create. */
Entity *
dp_events_entity_get(HTAB *table, const char *key, bool create, int nfields)
{
	return dp_events_entity_lookup(table, key, dp_events_key_hash(key), create, nfields, NULL);
}

Datum
dp_events_text_datum(EventRun *run, Datum *cache, const char *s)
{
	if (*cache == (Datum) 0)
	{
		MemoryContext old = MemoryContextSwitchTo(run->load->cxt);

		*cache = CStringGetTextDatum(s);
		MemoryContextSwitchTo(old);
	}
	return *cache;
}

Jsonb *
dp_events_envelope(EventRun *run, Ev *ev)
{
	if (ev->envelope == NULL)
	{
		Jsonb	   *j = MemoryContextAlloc(run->load->cxt, VARHDRSZ + ev->env_len);

		SET_VARSIZE(j, VARHDRSZ + ev->env_len);
		memcpy(VARDATA(j), ev->env, ev->env_len);
		ev->envelope = j;
	}
	return ev->envelope;
}

/* ------------------------------------------------------------------------
 * Loading state through the indexes
 * ------------------------------------------------------------------------
 */

/*
 * Load the current state (and the tombstone watermark of deleted ones) of
 * the entities these events name: one probe of the clean table's primary
 * key per key; for the keys with no current row one probe of the removed
 * keys, and for those among them one walk of their versions through the
 * key index of each partition of _history.
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
				a_row,
				a_updated,
				a_id,
				a_op;
	List	   *absent = NIL;
	ListCell   *lc;
	int16	   *typlen;
	bool	   *typbyval;

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
	a_row = dp_probe_attnum(p, "_row");
	a_updated = dp_probe_attnum(p, "_updated_at");
	typlen = palloc(sizeof(int16) * nf);
	typbyval = palloc(sizeof(bool) * nf);
	if (run->outputs == NULL)
		run->outputs = MemoryContextAllocZero(run->load->cxt, sizeof(FmgrInfo) * nf);
	for (int i = 0; i < nf; i++)
	{
		Oid			type = dp_probe_atttype(p, atts[i]);
		Oid			func;
		bool		varlena;

		get_typlenbyval(type, &typlen[i], &typbyval[i]);
		getTypeOutputInfo(type, &func, &varlena);
		fmgr_info_cxt(func, &run->outputs[i], run->load->cxt);
	}
	foreach(lc, keys)
	{
		const char *key = lfirst(lc);
		Datum		k;
		TupleTableSlot *slot;
		Entity	   *e;
		bool		isnull;
		bool		found;
		Datum		b;

		e = dp_events_entity_lookup(run->entities, key, dp_events_key_hash(key), true, nf, &found);
		if (found)
			continue;			/* named twice */
		k = dp_probe_input(p, 0, key);	/* a harmonised uuid read directly */
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
		b = dp_probe_datum(p, a_row, &isnull);
		e->row = isnull ? 0 : DatumGetInt64(b);
		e->updated_at = DatumGetTimestampTz(dp_probe_datum(p, a_updated, &isnull));
		for (int i = 0; i < nf; i++)
		{
			Cell	   *c = &e->values[i];
			Datum		d = dp_probe_datum(p, atts[i], &c->isnull);

			c->stored = true;
			c->text = NULL;
			c->datum = c->isnull ? (Datum) 0 : datumCopy(d, typbyval[i], typlen[i]);
		}
		e->key_identical = !e->values[run->keyfield].isnull &&
			datumIsEqual(k, e->values[run->keyfield].datum, typbyval[run->keyfield],
						 typlen[run->keyfield]);
	}
	dp_probe_end(p);
	if (absent == NIL)
		return;

	/*
	 * Only keys ever removed can have versions and no current row (the
	 * dataset's removed keys, <t>_removed): the others, brand-new
	 * entities, have no history to walk.
	 */
	{
		DpProbe    *fp = dp_load_removed_begin(spec);
		List	   *removed = NIL;

		foreach(lc, absent)
		{
			Entity	   *e = lfirst(lc);
			Datum		k;

			if (fp == NULL)
			{
				removed = lappend(removed, e);
				continue;
			}
			k = dp_probe_input(fp, 0, e->key);
			if (dp_load_was_removed(fp, &k))
				removed = lappend(removed, e);
		}
		if (fp)
			dp_probe_end(fp);
		absent = removed;
		if (absent == NIL)
			return;
	}

	/*
	 * tombstones: the watermark of the latest delete or resync; and when
	 * the entity's last version ended (a new one starts no earlier), from
	 * every partition of _history
	 */
	p = dp_probe_begin_on("dp_clean", history, spec->fields[run->keyfield].column);
	a_wm = dp_probe_attnum(p, "_watermark");
	a_id = dp_probe_attnum(p, "_history_id");
	a_op = dp_probe_attnum(p, "_operation");
	a_updated = dp_probe_attnum(p, "_valid_to");
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
			Datum		to = dp_probe_datum(p, a_updated, &isnull);

			if (!isnull && DatumGetTimestampTz(to) > e->updated_at)
				e->updated_at = DatumGetTimestampTz(to);

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
 * Event ids of this dataset already processed, among those of these
 * events (Ev * read without a problem): one probe each of event_processed's
 * primary key (the ids of the event log's partitions, kept when retention
 * drops them), and, while the event log's DEFAULT partition holds rows (a
 * 0.1 database updated or restored), of its unique index of processed ids
 * (event_default_processed).
 */
void
dp_events_load_processed(EventRun *run, List *evs)
{
	DpProbe    *p = NULL;
	DpProbe    *d = NULL;
	Datum		key[2];
	ListCell   *lc;

	foreach(lc, evs)
	{
		Ev		   *ev = lfirst(lc);
		bool		found;

		if (ev->outcome != NULL)
			continue;
		if (p == NULL)
		{
			Oid			defid;

			p = dp_probe_begin("dataplatform", "event_processed");
			defid = get_relname_relid("event_default", get_namespace_oid("dataplatform", false));
			if (OidIsValid(defid))
			{
				Relation	def = table_open(defid, AccessShareLock);

				if (RelationGetNumberOfBlocks(def) > 0)
					d = dp_probe_begin_index("dataplatform", "event_default_processed", 2);
				table_close(def, NoLock);
			}
			key[0] = CStringGetTextDatum(run->load->dataset);
		}
		(void) dp_events_entity_lookup(run->processed, ev->id, ev->id_hash, false, 0, &found);
		if (found)
			continue;
		key[1] = dp_events_text_datum(run, &ev->id_d, ev->id);
		if (dp_probe_exists(p, key) || (d != NULL && dp_probe_exists(d, key)))
			(void) dp_events_entity_lookup(run->processed, ev->id, ev->id_hash, true, 0, NULL);
	}
	if (p != NULL)
		dp_probe_end(p);
	if (d != NULL)
		dp_probe_end(d);
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
	HTAB	   *waiting = dp_events_entity_table("dataplatform orphaned entities", CurrentMemoryContext);
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
 * A run: set-up, times, values
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
	run->entities = dp_events_entity_table("dataplatform entities", load->cxt);
	run->processed = dp_events_entity_table("dataplatform processed events", load->cxt);
	dp_row_builder_fit(&run->rb, 16);
	run->scratch = palloc0(sizeof(char *) * load->spec->nfields);
	MemoryContextSwitchTo(old);
	return run;
}

void
dp_events_set_batch_time(EventRun *run)
{
	run->batch_time = DatumGetTimestampTz(run->load->received_at);
}

TimestampTz
dp_events_time(EventRun *run, Ev *ev)
{
	if (ev->time_utc == NULL)
		return run->batch_time;
	if (!ev->time_read)
	{
		Datum		d;

		/* harmonised (YYYY-MM-DDTHH:MM:SS[.ffffff]Z): read directly */
		if (!dp_bulk_fast_input(TIMESTAMPTZOID, -1, ev->time_utc, &d))
			d = DirectFunctionCall3(timestamptz_in, CStringGetDatum(ev->time_utc),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		ev->time_ts = DatumGetTimestampTz(d);
		ev->time_read = true;
	}
	return ev->time_ts;
}

const char *
dp_events_cell_text(EventRun *run, int field, Cell *c)
{
	if (c->isnull)
		return NULL;
	if (c->text == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(run->load->cxt);

		Assert(c->stored && run->outputs != NULL);
		c->text = OutputFunctionCall(&run->outputs[field], c->datum);
		MemoryContextSwitchTo(old);
	}
	return c->text;
}

bool
dp_events_cells_equal(EventRun *run, int field, Cell *a, Cell *b)
{
	if (a->isnull || b->isnull)
		return a->isnull && b->isnull;
	/* the same value copied */
	if (a->stored == b->stored && a->text == b->text && (!a->stored || a->datum == b->datum))
		return true;
	return strcmp(dp_events_cell_text(run, field, a), dp_events_cell_text(run, field, b)) == 0;
}
