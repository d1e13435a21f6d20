/*
 * events.c
 *		Current state from snapshots plus change events: load_snapshot,
 *		apply_events, and the history queries as_of, entity_history and
 *		resync_report.
 *
 * Ordering: every entity has a watermark, the ordering key of the last
 * change applied to it (dp_clean.<t>._watermark; for a deleted entity the
 * watermark of its tombstone in _history).  An event's ordering key is its
 * time in UTC with every fractional digit it was sent with (so times that
 * differ only after the sixth digit still order), or its sequence when the
 * configuration names one.  An event whose key is not later than the
 * watermark is stale.  Within one call, events apply in array order, so of
 * two events with the same key the first one wins.
 *
 * Concurrency: like a push, apply_events and load_snapshot take SHARE ROW
 * EXCLUSIVE on the clean table before reading any state and before taking
 * their batch id, so calls on one dataset run one after another.
 * Idempotency: dataplatform.event has a unique index on the processed
 * event ids of each dataset.
 *
 * Memory: the state of the entities one call touches is loaded once into a
 * hash table in the load's context, changed in memory event by event, and
 * written back in a few set-based statements at the end.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "access.h"
#include "harmonise.h"
#include "issue.h"
#include "normalise.h"
#include "obfuscate.h"
#include "pipeline.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_apply_events);
PG_FUNCTION_INFO_V1(dp_load_snapshot);
PG_FUNCTION_INFO_V1(dp_as_of);
PG_FUNCTION_INFO_V1(dp_entity_history);
PG_FUNCTION_INFO_V1(dp_resync_report);

#define ORDER_FRACTION_DIGITS 12

typedef enum EvKind
{
	EV_CREATE,
	EV_UPDATE,
	EV_DELETE
} EvKind;

/* One event envelope, as read. */
typedef struct Ev
{
	int			ordinal;
	char	   *id;
	char	   *entity;			/* the key value, harmonised */
	char	   *entity_raw;		/* as sent */
	char	   *type;
	char	   *time_raw;		/* as sent */
	char	   *time_utc;		/* harmonised, for _updated_at; NULL if none */
	char	   *order_key;
	EvKind		kind;
	JsonbContainer *new_data;	/* NULL when absent */
	Jsonb	   *envelope;
	const char *outcome;
	char	   *detail;
	bool		replay;			/* an orphan being replayed */
	bool		from_db;		/* an orphan of an earlier call */
	struct Ev  *replayed_as;	/* an orphan of this call, replayed in it */
} Ev;

/* The state of one entity during a call. */
typedef struct Entity
{
	char	   *key;
	bool		existed;		/* in clean when the call started */
	bool		exists;
	bool		touched;
	char	  **values;			/* nfields, text or NULL */
	char	   *watermark;		/* NULL: none */
	int64		batch_id;
	char	   *event_id;
	char	   *updated_at;		/* text of the version's _updated_at */
	char	   *tid;			/* its ctid when the call started */
	struct Entity *next;
} Entity;

typedef struct EntityBucket
{
	uint64		hash;
	Entity	   *list;
} EntityBucket;

/* A version leaving current state, for _history. */
typedef struct HistRow
{
	char	  **values;
	const char *operation;
	int64		batch_id;
	char	   *event_id;
	char	   *valid_from;
	char	   *valid_to;
	char	   *closed_by_event;
	char	   *watermark;
} HistRow;

typedef struct EventRun
{
	DpLoad	   *load;
	const DpEventsConfig *ec;
	int			keyfield;		/* index of the single key field */
	HTAB	   *entities;
	HTAB	   *processed;		/* event ids seen: earlier calls and this one */
	List	   *hist;			/* HistRow * */
	List	   *orphans;		/* Ev * newly orphaned */
	List	   *replayed;		/* Ev * orphans replayed */
	DpRowBuilder rb;
	char	  **scratch;		/* nfields */
	char	   *batch_time;		/* text of the batch's time */
	int64		counts[7];
} EventRun;

static const char *const outcomes[] = {
	"inserted", "applied", "deleted", "duplicate", "stale", "orphan", "rejected"
};

/* ------------------------------------------------------------------------
 * Ordering keys
 * ------------------------------------------------------------------------
 */

/*
 * The ordering key of a time: the harmonised UTC time to the second, then
 * the fraction with every digit sent (padded to 12), then "Z": it sorts as
 * the times do.  NULL when the time does not read.  *utc gets the
 * harmonised value (microseconds) for _updated_at.
 */
static char *
time_order_key(const char *raw, char **utc)
{
	char	   *buf = NULL;
	size_t		bufsize = 0;
	char		frac[ORDER_FRACTION_DIGITS + 1];
	const char *dot;
	int			n = 0;
	const char *p;

	if (dp_harmonise_value(DP_DT_DATETIME, raw, strlen(raw), NULL, &buf, &bufsize,
						   CurrentMemoryContext) != DP_ISSUE_NONE || buf[0] == '\0')
		return NULL;
	*utc = pstrdup(buf);
	/* the harmonised fraction (at most 6 digits) */
	memset(frac, '0', ORDER_FRACTION_DIGITS);
	frac[ORDER_FRACTION_DIGITS] = '\0';
	dot = strchr(buf, '.');
	if (dot)
		for (p = dot + 1; *p >= '0' && *p <= '9' && n < ORDER_FRACTION_DIGITS; p++)
			frac[n++] = *p;
	/* more digits as sent, when they extend the same fraction */
	for (p = raw; *p; p++)
	{
		const char *q;
		int			len = 0;

		if ((*p != '.' && *p != ',') || p == raw || p[-1] < '0' || p[-1] > '9')
			continue;
		for (q = p + 1; *q >= '0' && *q <= '9'; q++)
			len++;
		if (len > 6 && (dot == NULL || strncmp(p + 1, dot + 1, 6) == 0))
		{
			for (n = 0; n < len && n < ORDER_FRACTION_DIGITS; n++)
				frac[n] = p[1 + n];
			break;
		}
	}
	return psprintf("%.19s.%sZ", buf, frac);
}

/* A sequence as an ordering key: a non-negative integer, zero-padded. */
static char *
sequence_order_key(const char *raw)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(raw, &end, 10);
	if (errno != 0 || end == raw || *end != '\0' || v < 0)
		return NULL;
	return psprintf("s%020lld", v);
}

/* ------------------------------------------------------------------------
 * Reading envelopes
 * ------------------------------------------------------------------------
 */

/* The value at a path of an object, or NULL. */
static JsonbValue *
path_value(JsonbContainer *obj, const DpPath *path)
{
	JsonbContainer *c = obj;
	JsonbValue *v = NULL;
	int			i;

	for (i = 0; i < path->n; i++)
	{
		JsonbValue	k;

		if (c == NULL || !JsonContainerIsObject(c))
			return NULL;
		k.type = jbvString;
		k.val.string.val = path->parts[i];
		k.val.string.len = strlen(path->parts[i]);
		v = findJsonbValueFromContainer(c, JB_FOBJECT, &k);
		if (v == NULL)
			return NULL;
		c = v->type == jbvBinary ? v->val.binary.data : NULL;
	}
	return v;
}

/* A scalar at a path as text; NULL when absent, null or not a scalar. */
static char *
path_text(JsonbContainer *obj, const DpPath *path)
{
	JsonbValue *v = path_value(obj, path);

	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		n = strlen(s),
				m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool
in_list(const char *s, char **list, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/*
 * Read one envelope.  Problems make the event rejected (outcome set, with
 * a detail), never an error.
 */
static void
read_envelope(EventRun *run, Ev *ev, JsonbContainer *env)
{
	const DpEventsConfig *ec = run->ec;
	const DpField *kf = &run->load->spec->fields[run->keyfield];
	JsonbValue *nd;
	char	   *buf = NULL;
	size_t		bufsize = 0;

	if (!JsonContainerIsObject(env))
	{
		ev->outcome = "rejected";
		ev->detail = "the event is not a JSON object";
		return;
	}
	ev->id = path_text(env, &ec->id);
	ev->entity_raw = path_text(env, &ec->entity);
	ev->type = path_text(env, &ec->type);
	ev->time_raw = path_text(env, &ec->time);
	if (ev->id == NULL || ev->id[0] == '\0')
	{
		ev->outcome = "rejected";
		ev->detail = psprintf("no event id at \"%s\"", ec->id.text);
		return;
	}
	if (ev->entity_raw == NULL || ev->entity_raw[0] == '\0')
	{
		ev->outcome = "rejected";
		ev->detail = psprintf("no entity id at \"%s\"", ec->entity.text);
		return;
	}
	if (dp_harmonise_value(kf->datatype, ev->entity_raw, strlen(ev->entity_raw), NULL,
						   &buf, &bufsize, CurrentMemoryContext) != DP_ISSUE_NONE || buf[0] == '\0')
	{
		ev->outcome = "rejected";
		ev->detail = psprintf("entity id \"%s\" is not a valid %s", ev->entity_raw,
							  dp_datatype_name(kf->datatype));
		return;
	}
	ev->entity = pstrdup(buf);
	if (ev->time_raw)
		ev->order_key = time_order_key(ev->time_raw, &ev->time_utc);
	if (ec->sequence.n > 0)
	{
		char	   *seq = path_text(env, &ec->sequence);

		ev->order_key = seq ? sequence_order_key(seq) : NULL;
		if (ev->order_key == NULL)
		{
			ev->outcome = "rejected";
			ev->detail = seq ? psprintf("sequence \"%s\" is not a non-negative integer", seq) :
				psprintf("no sequence at \"%s\"", ec->sequence.text);
			return;
		}
	}
	else if (ev->time_raw == NULL)
	{
		ev->outcome = "rejected";
		ev->detail = psprintf("no event time at \"%s\"", ec->time.text);
		return;
	}
	else if (ev->order_key == NULL)
	{
		ev->outcome = "rejected";
		ev->detail = psprintf("event time \"%s\" does not read as a date and time", ev->time_raw);
		return;
	}

	/* the kind, from the type */
	if (ev->type && in_list(ev->type, ec->create, ec->ncreate))
		ev->kind = EV_CREATE;
	else if (ev->type && in_list(ev->type, ec->delete, ec->ndelete))
		ev->kind = EV_DELETE;
	else if (ev->type && in_list(ev->type, ec->update, ec->nupdate))
		ev->kind = EV_UPDATE;
	else if (ec->nupdate > 0 || ec->ncreate > 0 || ec->ndelete > 0)
	{
		if (ec->nupdate > 0)
		{
			ev->outcome = "rejected";
			ev->detail = psprintf("event type \"%s\" is not configured", ev->type ? ev->type : "");
			return;
		}
		ev->kind = EV_UPDATE;
	}
	else if (ev->type && ends_with(ev->type, "CreatedEvent"))
		ev->kind = EV_CREATE;
	else if (ev->type && ends_with(ev->type, "DeletedEvent"))
		ev->kind = EV_DELETE;
	else
		ev->kind = EV_UPDATE;

	nd = path_value(env, &ec->new_data);
	if (nd != NULL && nd->type == jbvBinary && JsonContainerIsObject(nd->val.binary.data))
		ev->new_data = nd->val.binary.data;
	else if (ev->kind != EV_DELETE)
	{
		ev->outcome = "rejected";
		ev->detail = nd == NULL || nd->type == jbvNull ?
			psprintf("no new data at \"%s\"", ec->new_data.text) :
			psprintf("new data at \"%s\" is not a JSON object", ec->new_data.text);
		return;
	}
}

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
static Entity *
entity_get(HTAB *table, const char *key, bool create, int nfields)
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

static char *
key_column(const EventRun *run)
{
	return (char *) quote_identifier(run->load->spec->fields[run->keyfield].column);
}

/*
 * Load the current state (and the tombstone watermark of deleted ones) of
 * the entities these events name, in two queries.
 */
static void
load_state(EventRun *run, List *keys)
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
					 key_column(run));
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&sql, ", %s::text", quote_identifier(spec->fields[i].column));
	appendStringInfo(&sql, " FROM %s WHERE %s = ANY($1::%s[])",
					 dp_qualified_clean(spec, false), key_column(run), ktype);
	rows = dp_spi_exec(sql.data, 1, types, values, NULL);
	for (r = 0; r < rows; r++)
	{
		Entity	   *e = entity_get(run->entities, dp_spi_getvalue(r, 1), true, spec->nfields);
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
		Entity	   *e = entity_get(run->entities, lfirst(lc), false, spec->nfields);

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
					 key_column(run), key_column(run), dp_qualified_clean(spec, true),
					 key_column(run), ktype, key_column(run));
	rows = dp_spi_exec(sql.data, 1, types, values, NULL);
	for (r = 0; r < rows; r++)
	{
		Entity	   *e = entity_get(run->entities, dp_spi_getvalue(r, 1), true, spec->nfields);

		if (!e->existed)
			e->watermark = dp_spi_getvalue(r, 2);
	}
}

/* Event ids of this dataset already processed, among these. */
static void
load_processed(EventRun *run, List *ids)
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
		(void) entity_get(run->processed, dp_spi_getvalue(r, 1), true, 0);
}

/* ------------------------------------------------------------------------
 * Applying one event
 * ------------------------------------------------------------------------
 */

static void
count_outcome(EventRun *run, const char *outcome)
{
	int			i;

	for (i = 0; i < (int) lengthof(outcomes); i++)
		if (strcmp(outcomes[i], outcome) == 0)
			run->counts[i]++;
}

/* The current version leaves current state: remember it for _history. */
static void
close_version(EventRun *run, Entity *e, const char *operation, Ev *ev)
{
	HistRow    *h = palloc(sizeof(HistRow));
	int			nf = run->load->spec->nfields;

	h->values = palloc(sizeof(char *) * nf);
	memcpy(h->values, e->values, sizeof(char *) * nf);
	h->operation = operation;
	h->batch_id = e->batch_id;
	h->event_id = e->event_id;
	h->valid_from = e->updated_at;
	h->valid_to = ev->time_utc ? ev->time_utc : run->batch_time;
	h->closed_by_event = ev->id;
	/* a tombstone keeps the delete's ordering key: older events are stale */
	h->watermark = strcmp(operation, "delete") == 0 ? ev->order_key : e->watermark;
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
	t->partial = true;
	(void) dp_transform_row(t, &row, run->scratch);
	return t->issue_counts[0] - errors;
}

/*
 * Check a full row: required and key fields need a value.  Logs "missing
 * value" issues; false when the row cannot stand.
 */
static bool
row_complete(EventRun *run, Ev *ev, char **values)
{
	const DpSpec *spec = run->load->spec;
	bool		ok = true;
	int			i;

	for (i = 0; i < spec->nfields; i++)
	{
		if (values[i] != NULL || !spec->fields[i].required)
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
static void
replay_orphans(EventRun *run, Entity *e)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[4] = "   ";
	uint64		rows,
				r;
	SPITupleTable *tt;
	List	   *evs = NIL;
	ListCell   *lc;

	values[0] = CStringGetTextDatum(run->load->dataset);
	values[1] = CStringGetTextDatum(e->key);
	if (e->watermark)
		values[2] = CStringGetTextDatum(e->watermark);
	else
		nulls[2] = 'n';
	rows = dp_spi_exec("SELECT envelope, ordinal FROM dataplatform.orphan_event "
					   "WHERE dataset = $1 AND entity_id = $2 AND replayed_by_batch IS NULL "
					   "AND ($3 IS NULL OR order_key > $3) ORDER BY order_key, batch_id, ordinal",
					   3, types, values, nulls);
	tt = SPI_tuptable;
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		Ev		   *ev = palloc0(sizeof(Ev));

		ev->envelope = DatumGetJsonbPCopy(SPI_getbinval(tt->vals[r], tt->tupdesc, 1, &isnull));
		ev->ordinal = DatumGetInt32(SPI_getbinval(tt->vals[r], tt->tupdesc, 2, &isnull));
		ev->replay = true;
		ev->from_db = true;
		read_envelope(run, ev, &ev->envelope->root);
		evs = lappend(evs, ev);
	}
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
		if (entity_get(run->processed, ev->id, false, 0) != NULL)
		{
			ev->outcome = "duplicate";
			ev->detail = "the event id was processed before";
			return;
		}
	}
	e = entity_get(run->entities, ev->entity, true, spec->nfields);
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
		e->exists = false;
		e->touched = true;
		e->watermark = ev->order_key;
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
		char	  **row = palloc(sizeof(char *) * spec->nfields);

		for (i = 0; i < spec->nfields; i++)
		{
			if (t->mentioned[i] || ev->kind == EV_CREATE || !e->exists)
				row[i] = run->scratch[i];
			else
				row[i] = e->values[i];
		}
		/* the entity id is authoritative for the key */
		row[run->keyfield] = ev->entity;
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
				same = (row[i] == NULL) == (e->values[i] == NULL) &&
					(row[i] == NULL || strcmp(row[i], e->values[i]) == 0);
			/* no new version: only the watermark and lineage move on */
			if (!same)
				close_version(run, e, "update", ev);
			else
				ev->detail = "no change to the entity's values";
		}
		for (i = 0; i < spec->nfields; i++)
			e->values[i] = row[i] ? MemoryContextStrdup(run->load->cxt, row[i]) : NULL;
	}
	ev->outcome = was_absent ? "inserted" : "applied";
	e->exists = true;
	e->touched = true;
	e->watermark = ev->order_key;
	e->batch_id = run->load->batch_id;
	e->event_id = ev->id;
	e->updated_at = ev->time_utc ? ev->time_utc : run->batch_time;
	if (errors > 0)
		ev->detail = "some values were dropped (see dataplatform.issue)";

processed:
	if (!ev->replay)
		(void) entity_get(run->processed, ev->id, true, 0);
	if (strcmp(ev->outcome, "orphan") == 0 && !ev->replay)
		run->orphans = lappend(run->orphans, ev);
	/* the entity came into being: its orphans newer than now apply */
	if (was_absent && e->exists)
		replay_orphans(run, e);
}

/* ------------------------------------------------------------------------
 * A run: set-up, writing back
 * ------------------------------------------------------------------------
 */

static EventRun *
run_begin(DpLoad *load)
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

static void
set_batch_time(EventRun *run)
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
static void
run_write(EventRun *run, List *evs)
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


/* ------------------------------------------------------------------------
 * apply_events
 * ------------------------------------------------------------------------
 */

Datum
dp_apply_events(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	Jsonb	   *events;
	DpLoad	   *load;
	EventRun   *run;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	List	   *evs = NIL;
	List	   *entity_keys = NIL;
	List	   *ids = NIL;
	ListCell   *lc;
	instr_time	start;
	int			ordinal = 0;
	StringInfoData result;
	int			i;
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
	if (dp_obfuscation_needed(load->spec))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("change events for dataset \"%s\" cannot be obfuscated", dataset),
				 errdetail("The dataset has PII fields, and outside production PII is obfuscated before it is stored; "
						   "event envelopes are not obfuscated yet."),
				 errhint("Load snapshots (load_snapshot) outside production; apply events in production.")));
	run = run_begin(load);
	dp_load_lock(load, "SHARE ROW EXCLUSIVE");
	dp_load_require_no_queue(load);
	dp_load_create_batch(load, "events", VARSIZE(events) - VARHDRSZ,
						 dp_sha256_hex(VARDATA(events), VARSIZE(events) - VARHDRSZ), "{}");
	set_batch_time(run);
	dp_load_land_json(load, events);

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
			ev->envelope = JsonbValueToJsonb(&v);
			read_envelope(run, ev, &ev->envelope->root);
		}
		else
		{
			ev->outcome = "rejected";
			ev->detail = "the event is not a JSON object";
		}
		if (ev->outcome == NULL)
		{
			entity_keys = lappend(entity_keys, ev->entity);
			ids = lappend(ids, ev->id);
		}
		evs = lappend(evs, ev);
		MemoryContextSwitchTo(old);
	}
	load_state(run, entity_keys);
	load_processed(run, ids);

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
	run_write(run, evs);

	load->rows_in = list_length(evs);
	load->loaded = run->counts[0] + run->counts[1] + run->counts[2];
	load->quarantined = run->counts[6];
	load->skipped = run->counts[3] + run->counts[4];
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
			values[1] = ev->id ? CStringGetTextDatum(ev->id) : (Datum) 0;
			nulls[2] = ev->entity == NULL && ev->entity_raw == NULL;
			values[2] = nulls[2] ? (Datum) 0 : CStringGetTextDatum(ev->entity ? ev->entity : ev->entity_raw);
			nulls[3] = ev->type == NULL;
			values[3] = ev->type ? CStringGetTextDatum(ev->type) : (Datum) 0;
			values[4] = CStringGetTextDatum(ev->outcome);
			nulls[5] = detail == NULL;
			values[5] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return (Datum) 0;
}

/* ------------------------------------------------------------------------
 * load_snapshot
 * ------------------------------------------------------------------------
 */

/*
 * Replace mode: close every entity of the dataset the snapshot does not
 * hold (unless it has a newer watermark).  Returns {"count", "keys"}.
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
				keyjson;
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
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&cols, "%s%s", i ? ", " : "", quote_identifier(spec->fields[i].column));
	for (i = 0; i < nk; i++)
	{
		const DpField *f = &spec->fields[spec->key[i]];

		appendStringInfo(&match, "%so.%s = k.k%d::%s", i ? " AND " : "", quote_identifier(f->column), i,
						 dp_datatype_sqltype(f->datatype));
		appendStringInfo(&keyjson, "%s'%s', %s", i ? ", " : "", f->name, quote_identifier(f->column));
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
					 "_closed_by_batch, _watermark) SELECT %s, 'resync', _batch_id, _event_id, _updated_at, $%d, "
					 "$%d, COALESCE($%d, _watermark) FROM gone) "
					 "SELECT pg_catalog.jsonb_build_object('count', (SELECT count(*) FROM gone), "
					 "'keys', COALESCE((SELECT pg_catalog.jsonb_agg(k) FROM (SELECT "
					 "pg_catalog.jsonb_build_object(%s) AS k FROM gone LIMIT 1000) s), '[]'))::text",
					 dp_qualified_clean(spec, false), match.data, nk + 1, nk + 1,
					 dp_qualified_clean(spec, true), cols.data, cols.data, nk + 2, nk + 3, nk + 1,
					 keyjson.data);
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
	dp_spi_exec(sql.data, nk + 3, types, values, nulls);
	return dp_spi_getvalue(0, 1);
}

/* After a snapshot: orphans of entities now present, newer than them. */
static int
replay_after_snapshot(DpLoad *load)
{
	EventRun   *run;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	uint64		rows,
				r;
	List	   *keys = NIL;
	ListCell   *lc;
	StringInfoData sql;

	if (load->spec->nkey != 1)
		return 0;
	run = run_begin(load);
	set_batch_time(run);
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT DISTINCT o.entity_id FROM dataplatform.orphan_event o JOIN %s c "
					 "ON c.%s::text = o.entity_id WHERE o.dataset = $1 AND o.replayed_by_batch IS NULL "
					 "AND (c._watermark IS NULL OR o.order_key > c._watermark)",
					 dp_qualified_clean(load->spec, false), key_column(run));
	values[0] = CStringGetTextDatum(load->dataset);
	rows = dp_spi_exec(sql.data, 1, types, values, NULL);
	for (r = 0; r < rows; r++)
		keys = lappend(keys, MemoryContextStrdup(load->cxt, dp_spi_getvalue(r, 1)));
	if (keys == NIL)
		return 0;
	load_state(run, keys);
	foreach(lc, keys)
		replay_orphans(run, entity_get(run->entities, lfirst(lc), true, load->spec->nfields));
	run_write(run, NIL);
	return list_length(run->replayed);
}

Datum
dp_load_snapshot(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	Jsonb	   *rows;
	Datum		as_of;
	char	   *mode;
	DpLoad	   *load;
	instr_time	start;
	int64		batch_id;
	char	   *as_of_text;
	char	   *removed = "{\"count\": 0, \"keys\": []}";
	int			replayed;

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
	dp_load_lock(load, "SHARE ROW EXCLUSIVE");
	dp_load_require_no_queue(load);
	{
		StringInfoData source;

		initStringInfo(&source);
		appendStringInfo(&source, "{\"as_of\": \"%s\", \"mode\": \"%s\"}", as_of_text, mode);
		dp_load_create_batch(load, "snapshot", VARSIZE(rows) - VARHDRSZ,
							 dp_sha256_hex(VARDATA(rows), VARSIZE(rows) - VARHDRSZ), source.data);
	}
	dp_load_land_json(load, rows);

	/* the rows: the state as of as_of, versions dated as_of */
	load->received_at = as_of;
	if (load->cfg->events.sequence.n == 0)
	{
		char	   *utc;

		load->watermark = MemoryContextStrdup(load->cxt, time_order_key(as_of_text, &utc));
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
	dp_load_finish(load, start);
	dp_load_audit(load, "load_snapshot");
	batch_id = load->batch_id;
	SPI_finish();
	PG_RETURN_INT64(batch_id);
}

/* ------------------------------------------------------------------------
 * History queries
 * ------------------------------------------------------------------------
 */

/* SQL for a row's fields as a JSON object keyed by field name. */
static char *
fields_json(const DpSpec *spec, const char *alias)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "pg_catalog.jsonb_build_object(");
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&buf, "%s%s, %s.%s", i ? ", " : "",
						 quote_literal_cstr(spec->fields[i].name), alias,
						 quote_identifier(spec->fields[i].column));
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* The dataset's spec, for a read-only query; admins only (checked by GRANT). */
static DpSpec *
spec_of(const char *dataset)
{
	const char *args[1];
	bool		isnull;

	args[0] = dataset;
	if (dp_spi_exec_text("SELECT spec FROM dataplatform.datasets WHERE name = $1", 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", dataset),
				 errhint("dataplatform.dataset lists the defined datasets.")));
	return dp_spec_parse(DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1, &isnull)));
}

/* Run a query returning one jsonb column into the SRF's tuplestore. */
static void
jsonb_rows_out(FunctionCallInfo fcinfo, const char *sql, int nargs, Oid *types, Datum *values)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		rows,
				r;

	rows = dp_spi_exec(sql, nargs, types, values, NULL);
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &d, &isnull);
	}
}

Datum
dp_as_of(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	DpSpec	   *spec;
	StringInfoData sql;
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	char	   *keys;
	int			i;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("at must not be null")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	spec = spec_of(dataset);
	initStringInfo(&sql);
	{
		StringInfoData k;

		initStringInfo(&k);
		for (i = 0; i < spec->nkey; i++)
			appendStringInfo(&k, "%ss.%s", i ? ", " : "", quote_identifier(spec->fields[spec->key[i]].column));
		keys = k.data;
	}
	/* current versions written by then, plus closed versions valid then */
	appendStringInfoString(&sql, "SELECT j FROM (SELECT ");
	appendStringInfo(&sql, "%s AS j, %s FROM %s s WHERE s._updated_at <= $1 ",
					 fields_json(spec, "s"), keys, dp_qualified_clean(spec, false));
	appendStringInfo(&sql, "UNION ALL SELECT %s, %s FROM %s s WHERE s._valid_from <= $1 AND $1 < s._valid_to",
					 fields_json(spec, "s"), keys, dp_qualified_clean(spec, true));
	appendStringInfoString(&sql, ") v ORDER BY ");
	for (i = 0; i < spec->nkey; i++)
		appendStringInfo(&sql, "%s%s", i ? ", " : "", quote_identifier(spec->fields[spec->key[i]].column));
	values[0] = PG_GETARG_DATUM(1);
	jsonb_rows_out(fcinfo, sql.data, 1, types, values);
	SPI_finish();
	return (Datum) 0;
}

Datum
dp_entity_history(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	Jsonb	   *key;
	DpSpec	   *spec;
	StringInfoData sql,
				cond;
	Oid			types[1] = {JSONBOID};
	Datum		values[1];
	int			i;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key must not be null")));
	key = PG_GETARG_JSONB_P(1);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	spec = spec_of(dataset);
	/* a scalar names a single-field key; an object names each key field */
	if (JB_ROOT_IS_SCALAR(key) && spec->nkey != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dataset \"%s\" has the key %s: give the key as an object", dataset,
						dp_spec_key_text(spec))));
	if (!JB_ROOT_IS_SCALAR(key) && !JB_ROOT_IS_OBJECT(key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key for dataset \"%s\" must be a JSON scalar or object", dataset)));
	initStringInfo(&cond);
	for (i = 0; i < spec->nkey; i++)
	{
		const DpField *f = &spec->fields[spec->key[i]];

		if (JB_ROOT_IS_SCALAR(key))
			appendStringInfo(&cond, "s.%s = ($1 #>> '{}')::%s", quote_identifier(f->column),
							 dp_datatype_sqltype(f->datatype));
		else
			appendStringInfo(&cond, "%ss.%s = ($1 ->> %s)::%s", i ? " AND " : "",
							 quote_identifier(f->column), quote_literal_cstr(f->name),
							 dp_datatype_sqltype(f->datatype));
	}
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT pg_catalog.jsonb_build_object('valid_from', v.f, 'valid_to', v.t, "
					 "'operation', v.o, 'batch_id', v.b, 'event_id', v.e, 'closed_by_batch', v.cb, "
					 "'closed_by_event', v.ce, 'data', v.d) FROM ("
					 "SELECT s._valid_from AS f, s._valid_to AS t, s._operation AS o, s._batch_id AS b, "
					 "s._event_id AS e, s._closed_by_batch AS cb, s._closed_by_event AS ce, %s AS d, "
					 "s._history_id AS n FROM %s s WHERE %s "
					 "UNION ALL SELECT s._updated_at, NULL, 'current', s._batch_id, s._event_id, NULL, NULL, %s, "
					 "NULL FROM %s s WHERE %s) v ORDER BY v.f, v.n NULLS LAST",
					 fields_json(spec, "s"), dp_qualified_clean(spec, true), cond.data,
					 fields_json(spec, "s"), dp_qualified_clean(spec, false), cond.data);
	values[0] = JsonbPGetDatum(key);
	jsonb_rows_out(fcinfo, sql.data, 1, types, values);
	SPI_finish();
	return (Datum) 0;
}

Datum
dp_resync_report(PG_FUNCTION_ARGS)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	Datum		d;
	Jsonb	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch must not be null")));
	values[0] = PG_GETARG_DATUM(0);
	SPI_connect();
	if (dp_spi_exec("SELECT kind, pg_catalog.jsonb_build_object('batch_id', id, 'dataset', dataset) || "
					"COALESCE(result, '{}') FROM dataplatform.batch WHERE id = $1",
					1, types, values, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("batch %lld does not exist", (long long) PG_GETARG_INT64(0))));
	if (strcmp(dp_spi_getvalue(0, 1), "snapshot") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch %lld is not a snapshot", (long long) PG_GETARG_INT64(0)),
				 errdetail("It is a %s batch.", dp_spi_getvalue(0, 1))));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	MemoryContextSwitchTo(result_cxt);
	result = DatumGetJsonbPCopy(d);
	SPI_finish();
	PG_RETURN_JSONB_P(result);
}
