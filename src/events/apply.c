/*
 * apply.c
 *		Applying change events: apply_events, and the rules for one event
 *		onto the in-memory state of its entity (duplicate, stale, orphan,
 *		insert, update, delete, reject), including the replay of an
 *		entity's orphans once it comes into being.
 *
 * Concurrency: like a push, apply_events takes the dataset lock
 * (common/dataset_lock.h) before reading any state and before taking its
 * batch id, so calls on one dataset run one after another.  Idempotency:
 * dataplatform.event_processed has the processed event ids of each dataset
 * as its primary key.  Reading envelopes is in envelope.c, loading and writing the
 * state in state.c.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "events.h"
#include "issue.h"
#include "obfuscate.h"
#include "openlineage.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_apply_events);

static const char *const outcomes[] = {
	"inserted", "applied", "deleted", "duplicate", "stale", "orphan", "rejected"
};

/* ------------------------------------------------------------------------
 * Applying one event
 * ------------------------------------------------------------------------
 */

Datum
dp_events_outcome_datum(EventRun *run, const char *outcome)
{
	int			i;

	for (i = 0; i < (int) lengthof(outcomes); i++)
		if (outcome == outcomes[i] || strcmp(outcomes[i], outcome) == 0)
			return dp_events_text_datum(run, &run->outcome_d[i], outcomes[i]);
	return CStringGetTextDatum(outcome);
}

static void
count_outcome(EventRun *run, const char *outcome)
{
	int			i;

	for (i = 0; i < (int) lengthof(outcomes); i++)
		if (strcmp(outcomes[i], outcome) == 0)
			run->counts[i]++;
}

/* The entity changes in this run: it is written back at the end. */
static void
touch(EventRun *run, Entity *e)
{
	if (!e->touched)
		run->touched = lappend(run->touched, e);
	e->touched = true;
}

/*
 * The time an event changes its entity: the event's time, but never before
 * the entity's current version started (or its last version ended), so that
 * no version ends before it begins and versions never overlap.
 */
static TimestampTz
change_time(EventRun *run, Entity *e, Ev *ev)
{
	return Max(dp_events_time(run, ev), e->updated_at);
}

/* The current version leaves current state: remember it for _history. */
static void
close_version(EventRun *run, Entity *e, const char *operation, Ev *ev)
{
	HistRow    *h = palloc(sizeof(HistRow));
	int			nf = run->load->spec->nfields;

	h->values = palloc(sizeof(Cell) * nf);
	memcpy(h->values, e->values, sizeof(Cell) * nf);
	h->operation = operation;
	h->key = e->key;
	h->batch_id = e->batch_id;
	h->event_id = e->event_id;
	h->event_id_d = e->event_id_d;
	h->row = e->row;
	h->valid_from = e->updated_at;
	h->valid_to = change_time(run, e, ev);
	h->closed_by_event = ev->id;
	h->closed_by_event_d = ev->id_d;
	/* a tombstone keeps the delete's ordering key: older events are stale */
	if (strcmp(operation, "delete") == 0)
	{
		h->watermark = ev->order_key;
		h->watermark_d = ev->key_d;
	}
	else
	{
		h->watermark = e->watermark;
		h->watermark_d = e->watermark_d;
	}
	run->hist = lappend(run->hist, h);
}

/*
 * Transform an event's new data as a partial row; the values of the fields
 * it mentions go to run->scratch, their mentioned flags stay in the
 * transform.  Returns the number of error issues it raised.
 */
static int64
transform_new_data(EventRun *run, Ev *ev)
{
	DpLoad	   *load = run->load;
	DpTransform *t = load->t;
	DpSourceRow row;
	int64		errors = t->issue_counts[0];

	dp_load_json_row(load, &run->rb, ev->new_data, ev->ordinal, &row);
	/* a field the data does not mention has no value (not the last event's) */
	memset(run->scratch, 0, sizeof(char *) * load->spec->nfields);
	t->partial = true;
	(void) dp_transform_row(t, &row, run->scratch);
	return t->issue_counts[0] - errors;
}

/*
 * Check a full row: required and key fields need a value.  Logs "missing
 * value" issues; false when the row cannot stand.
 */
static bool
row_complete(EventRun *run, Ev *ev, Cell *values)
{
	const DpSpec *spec = run->load->spec;
	bool		ok = true;
	int			i;

	for (i = 0; i < spec->nfields; i++)
	{
		if (!values[i].isnull || !spec->fields[i].required)
			continue;
		ok = false;
		if (!run->load->t->dropped[i] || !run->load->t->mentioned[i])
			dp_transform_add_issue(run->load->t, ev->ordinal, 0, i, DP_ISSUE_MISSING_VALUE,
								   "error", NULL, NULL, "The required field has no value after the event.");
	}
	return ok;
}

static void apply_one(EventRun *run, Ev *ev);

/* Orphans of an entity newer than its watermark, replayed in order. */
void
dp_events_replay_orphans(EventRun *run, Entity *e)
{
	List	   *evs = dp_events_waiting_orphans(run, e->key, e->watermark);
	ListCell   *lc;

	/* also orphans of this very call, not yet written */
	foreach(lc, run->orphans)
	{
		Ev		   *o = lfirst(lc);

		if (strcmp(o->entity, e->key) == 0 && o->replayed_as == NULL &&
			(e->watermark == NULL || strcmp(o->order_key, e->watermark) > 0))
		{
			Ev		   *copy = palloc(sizeof(Ev));

			*copy = *o;
			copy->replay = true;
			copy->outcome = NULL;
			copy->detail = NULL;
			o->replayed_as = copy;
			evs = lappend(evs, copy);
		}
	}
	foreach(lc, evs)
	{
		Ev		   *ev = lfirst(lc);

		if (ev->outcome == NULL)
			apply_one(run, ev);
		if (ev->from_db)		/* its orphan_event row gets updated */
			run->replayed = lappend(run->replayed, ev);
	}
}

/*
 * Apply one event onto the in-memory state.  Sets ev->outcome and detail.
 */
static void
apply_one(EventRun *run, Ev *ev)
{
	const DpSpec *spec = run->load->spec;
	DpTransform *t = run->load->t;
	Entity	   *e;
	int64		errors;
	int			i;
	bool		was_absent = false;

	if (!ev->replay)
	{
		if (dp_events_entity_lookup(run->processed, ev->id, ev->id_hash, false, 0, NULL) != NULL)
		{
			ev->outcome = "duplicate";
			ev->detail = "the event id was processed before";
			return;
		}
	}
	e = dp_events_entity_lookup(run->entities, ev->entity, ev->entity_hash, true, spec->nfields, NULL);
	if (e->watermark && strcmp(ev->order_key, e->watermark) <= 0)
	{
		ev->outcome = "stale";
		ev->detail = psprintf("the entity's state is as of %s", e->watermark);
		goto processed;
	}
	was_absent = !e->exists;

	if (ev->kind == EV_DELETE)
	{
		if (!e->exists)
		{
			ev->outcome = "orphan";
			ev->detail = "no state for the entity; kept for replay";
			goto processed;
		}
		close_version(run, e, "delete", ev);
		/* a later create starts no earlier than this end */
		e->updated_at = change_time(run, e, ev);
		e->exists = false;
		touch(run, e);
		e->watermark = ev->order_key;
		e->watermark_d = ev->key_d;
		ev->outcome = "deleted";
		goto processed;
	}

	errors = transform_new_data(run, ev);
	if (ev->kind == EV_UPDATE && !e->exists && !run->ec->upsert)
	{
		ev->outcome = "orphan";
		ev->detail = "no state for the entity; kept for replay";
		goto processed;
	}
	/* the new row: a create replaces everything, an update merges */
	{
		Cell	   *row = palloc(sizeof(Cell) * spec->nfields);
		bool	   *fresh = palloc(sizeof(bool) * spec->nfields);
		int			kf = run->keyfield;

		for (i = 0; i < spec->nfields; i++)
		{
			fresh[i] = t->mentioned[i] || ev->kind == EV_CREATE || !e->exists;
			if (fresh[i])
			{
				row[i].text = run->scratch[i];
				row[i].isnull = run->scratch[i] == NULL;
				row[i].stored = false;
			}
			else
				row[i] = e->values[i];
		}
		/* the entity id is authoritative for the key (the stored one is that id) */
		if (e->exists && e->key_identical && e->values[kf].stored)
		{
			row[kf] = e->values[kf];
			fresh[kf] = false;
		}
		else
		{
			row[kf].text = ev->entity;
			row[kf].isnull = false;
			row[kf].stored = false;
			fresh[kf] = true;
		}
		if (!row_complete(run, ev, row) || (run->load->cfg->strict && errors > 0))
		{
			if (ev->kind == EV_UPDATE && !e->exists)
			{
				/* upsert asked, but the update is not a full row */
				ev->outcome = "orphan";
				ev->detail = "no state for the entity and not a full row; kept for replay";
				goto processed;
			}
			ev->outcome = "rejected";
			ev->detail = "the resulting row does not validate (see dataplatform.issue)";
			return;
		}
		if (e->exists)
		{
			bool		same = true;

			for (i = 0; i < spec->nfields && same; i++)
				same = dp_events_cells_equal(run, i, &row[i], &e->values[i]);
			/* no new version: only the watermark and lineage move on */
			if (!same)
				close_version(run, e, "update", ev);
			else
				ev->detail = "no change to the entity's values";
		}
		for (i = 0; i < spec->nfields; i++)
		{
			e->values[i] = row[i];
			if (fresh[i] && row[i].text)
				e->values[i].text = MemoryContextStrdup(run->load->cxt, row[i].text);
		}
	}
	ev->outcome = was_absent ? "inserted" : "applied";
	e->exists = true;
	touch(run, e);
	e->watermark = ev->order_key;
	e->watermark_d = ev->key_d;
	e->batch_id = run->load->batch_id;
	e->event_id = ev->id;
	e->event_id_d = ev->id_d;
	e->row = 0;					/* an event's raw row: through dataplatform.event */
	e->updated_at = change_time(run, e, ev);
	if (errors > 0)
		ev->detail = "some values were dropped (see dataplatform.issue)";

processed:
	if (!ev->replay)
		(void) dp_events_entity_lookup(run->processed, ev->id, ev->id_hash, true, 0, NULL);
	if (strcmp(ev->outcome, "orphan") == 0 && !ev->replay)
		run->orphans = lappend(run->orphans, ev);
	/* the entity came into being: its orphans newer than now apply */
	if (was_absent && e->exists)
		dp_events_replay_orphans(run, e);
}

/* ------------------------------------------------------------------------
 * apply_events
 * ------------------------------------------------------------------------
 */

static Datum
apply_events_call(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	Jsonb	   *events;
	DpLoad	   *load;
	EventRun   *run;
	List	   *evs;
	ListCell   *lc;
	instr_time	start;
	MemoryContext per_query;

	INSTR_TIME_SET_CURRENT(start);
	InitMaterializedSRF(fcinfo, 0);
	per_query = rsinfo->econtext->ecxt_per_query_memory;
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("events for dataset \"%s\" must not be null", dataset)));
	events = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_ARRAY(events) || JB_ROOT_IS_SCALAR(events))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events for dataset \"%s\" must be a JSON array of event envelopes", dataset),
				 errhint("Send [{\"id\": ..., \"eventType\": ..., \"dateTime\": ..., \"entityId\": ..., \"eventData\": {\"newData\": {...}}}, ...].")));
	if (JB_ROOT_COUNT(events) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no events for dataset \"%s\"", dataset)));

	SPI_connect();
	load = dp_load_open(dataset, false, NULL);
	run = dp_events_run_begin(load);
	/* outside production, PII is replaced before anything lands (staging.c) */
	events = dp_events_obfuscate(run, events);
	dp_load_lock(load, RowExclusiveLock);
	dp_load_require_no_queue(load);
	dp_load_create_batch(load, "events", VARSIZE(events) - VARHDRSZ,
						 dp_sha256_hex(VARDATA(events), VARSIZE(events) - VARHDRSZ), "{}");
	dp_events_set_batch_time(run);
	dp_load_land_json(load, events);

	evs = dp_events_apply(run, events);
	dp_load_finish(load, start);
	dp_load_audit(load, "apply_events");

	/* the result rows, copied out before SPI goes */
	{
		MemoryContext old = MemoryContextSwitchTo(per_query);

		foreach(lc, evs)
		{
			Ev		   *ev = lfirst(lc);
			Datum		values[6];
			bool		nulls[6] = {false, false, false, false, false, false};
			const char *detail = ev->replayed_as ?
				psprintf("%s; replayed later in this call: %s", ev->detail, ev->replayed_as->outcome) : ev->detail;

			values[0] = Int32GetDatum(ev->ordinal);
			nulls[1] = ev->id == NULL;
			values[1] = ev->id ? dp_events_text_datum(run, &ev->id_d, ev->id) : (Datum) 0;
			nulls[2] = ev->entity == NULL && ev->entity_raw == NULL;
			values[2] = nulls[2] ? (Datum) 0 : ev->entity ?
				dp_events_text_datum(run, &ev->entity_d, ev->entity) : CStringGetTextDatum(ev->entity_raw);
			nulls[3] = ev->type == NULL;
			values[3] = ev->type ? dp_events_text_datum(run, &ev->type_d, ev->type) : (Datum) 0;
			values[4] = dp_events_outcome_datum(run, ev->outcome);
			nulls[5] = detail == NULL;
			values[5] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * Apply an array of event envelopes (as stored in raw) to its batch: the
 * run's load holds the batch id and the batch time, the dataset lock is
 * taken, the batch row exists.  Writes the run's changes and the batch's
 * counts and result; returns the events (Ev *) with their outcomes.  The
 * caller finishes the batch (dp_load_finish).  apply_events and the replay
 * of an events batch (rebuild) share it.
 */
List *
dp_events_apply(EventRun *run, Jsonb *events)
{
	DpLoad	   *load = run->load;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	List	   *evs = NIL;
	List	   *entity_keys = NIL;
	ListCell   *lc;
	int			ordinal = 0;
	StringInfoData result;
	int			i;

	/* read every envelope */
	it = JsonbIteratorInit(&events->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		MemoryContext old;
		Ev		   *ev;

		if (tok != WJB_ELEM)
			continue;
		old = MemoryContextSwitchTo(load->cxt);
		ev = palloc0(sizeof(Ev));
		ev->ordinal = ++ordinal;
		if (v.type == jbvBinary)
		{
			/* read in place; a copy of its own only if it is kept (an orphan) */
			ev->env = v.val.binary.data;
			ev->env_len = v.val.binary.len;
			dp_events_read_envelope(run, ev, ev->env);
		}
		else
		{
			ev->outcome = "rejected";
			ev->detail = "the event is not a JSON object";
		}
		if (ev->outcome == NULL)
			entity_keys = lappend(entity_keys, ev->entity);
		evs = lappend(evs, ev);
		MemoryContextSwitchTo(old);
	}
	dp_events_load_state(run, entity_keys);
	dp_events_load_processed(run, evs);

	foreach(lc, evs)
	{
		Ev		   *ev = lfirst(lc);

		if (ev->outcome == NULL)
			apply_one(run, ev);
		if (strcmp(ev->outcome, "rejected") == 0)
			dp_transform_add_issue_named(load->t, ev->ordinal, 0, -1, NULL, DP_ISSUE_REJECTED_EVENT, "error",
										 ev->id, NULL, ev->detail);
		count_outcome(run, ev->outcome);
		CHECK_FOR_INTERRUPTS();
	}
	dp_events_run_write(run, evs);

	load->rows_in = list_length(evs);
	load->loaded = run->counts[0] + run->counts[1] + run->counts[2];
	load->quarantined = run->counts[6];
	load->skipped = run->counts[3] + run->counts[4];
	load->orphaned = run->counts[5];
	initStringInfo(&result);
	appendStringInfoChar(&result, '{');
	for (i = 0; i < (int) lengthof(outcomes); i++)
		appendStringInfo(&result, "%s\"%s\": %lld", i ? ", " : "", outcomes[i], (long long) run->counts[i]);
	appendStringInfo(&result, ", \"orphans_replayed\": %d}", list_length(run->replayed));
	{
		const char *args[2];

		args[0] = psprintf("%lld", (long long) load->batch_id);
		args[1] = result.data;
		dp_spi_exec_text("UPDATE dataplatform.batch SET result = $2::jsonb WHERE id = $1::bigint", 2, args);
	}
	return evs;
}

/* the SQL function: a failed call leaves its OpenLineage FAIL (openlineage_fail.c) */
Datum
dp_apply_events(PG_FUNCTION_ARGS)
{
	return dp_ol_call(fcinfo, apply_events_call, "events");
}
