/*
 * events.h
 *		Current state from snapshots plus change events, shared by the files
 *		of src/events/: reading envelopes and their ordering keys
 *		(envelope.c), the state of a run of events: set-up, values, loading
 *		through the indexes (state.c), writing it back (write.c), applying
 *		events and apply_events (apply.c), load_snapshot (snapshot.c), and
 *		the history queries as_of, entity_history and resync_report
 *		(history.c).
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
 * Concurrency: like a push, apply_events and load_snapshot take the
 * dataset lock (common/dataset_lock.h) before reading any state and before
 * taking their batch id, so calls on one dataset run one after another.
 *
 * Version times: an event's version starts at the event's time (the
 * batch's when it has none), but never before the entity's current version
 * started or its last version ended: no version ends before it begins, and
 * versions of an entity never overlap.
 * Idempotency: dataplatform.event_processed holds the processed event ids
 * of each dataset (primary key; not partitioned, unlike the event log, so
 * it outlives the partitions retention drops).
 *
 * Memory: the state of the entities one call touches is loaded once into a
 * hash table in the load's context, changed in memory event by event, and
 * written back at the end.
 *
 * Cost follows the call: stored state is read only through indexes, one
 * probe per key or event id the call brings (common/bulk.c: the clean
 * table's primary key, _history's key index for tombstones,
 * event_processed's primary key, orphan_event's index
 * of waiting orphans), never a scan of a table; changes are written
 * without SQL: updates and deletes by the row's address, new rows,
 * history, the event log and orphans the way COPY writes them.
 */
#ifndef DP_EVENTS_H
#define DP_EVENTS_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "storage/itemptr.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"

#include "bulk.h"
#include "pipeline.h"

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
	TimestampTz time_ts;		/* time_utc read, once time_read */
	bool		time_read;
	char	   *order_key;
	EvKind		kind;
	JsonbContainer *new_data;	/* NULL when absent */
	Jsonb	   *envelope;		/* as stored (an orphan's), or NULL: made
								 * from env when needed (dp_events_envelope) */
	JsonbContainer *env;		/* the envelope within the call's array */
	int			env_len;
	uint64		entity_hash;	/* of entity (dp_events_key_hash) */
	uint64		id_hash;		/* of id */
	Datum		id_d;			/* id, entity, order_key as text datums, */
	Datum		entity_d;		/* made once and shared by the rows that */
	Datum		key_d;			/* store them; 0 until made */
	Datum		type_d;
	const char *outcome;
	char	   *detail;
	bool		replay;			/* an orphan being replayed */
	bool		from_db;		/* an orphan of an earlier call */
	struct Ev  *replayed_as;	/* an orphan of this call, replayed in it */
} Ev;

/*
 * A field's value during a call: text, as the transform makes it and as
 * values compare (NULL text: SQL NULL), or the stored row's value, kept as
 * the column's datum, whose text is made only when asked for
 * (dp_events_cell_text) and which is written back as it was read.
 */
typedef struct Cell
{
	char	   *text;			/* NULL: SQL NULL, or (stored) not made yet */
	Datum		datum;			/* stored and not null: the value */
	bool		stored;			/* the stored row's value */
	bool		isnull;
} Cell;

/* The state of one entity during a call. */
typedef struct Entity
{
	char	   *key;
	bool		existed;		/* in clean when the call started */
	bool		exists;
	bool		touched;
	bool		key_identical;	/* the stored key is the key's text read as its type */
	Cell	   *values;			/* nfields */
	char	   *watermark;		/* NULL: none */
	Datum		watermark_d;	/* its text datum, or 0: made when written */
	int64		batch_id;
	char	   *event_id;
	Datum		event_id_d;		/* its text datum, or 0 */
	int64		row;			/* _row: the raw row of a pushed version; 0 none */
	TimestampTz updated_at;		/* the version's _updated_at; for an entity
								 * with no current row, when its last
								 * version ended (0: none) */
	ItemPointerData tid;		/* where its row was when the call started */
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
	Cell	   *values;
	const char *operation;
	char	   *key;			/* the entity's (Entity.key) */
	int64		batch_id;
	char	   *event_id;
	Datum		event_id_d;		/* text datums of the strings, or 0 */
	int64		row;			/* _row, 0 none */
	TimestampTz valid_from;
	TimestampTz valid_to;
	char	   *closed_by_event;
	Datum		closed_by_event_d;
	char	   *watermark;
	Datum		watermark_d;
} HistRow;

typedef struct EventRun
{
	DpLoad	   *load;
	const DpEventsConfig *ec;
	int			keyfield;		/* index of the single key field */
	HTAB	   *entities;
	HTAB	   *processed;		/* event ids seen: earlier calls and this one */
	List	   *touched;		/* Entity * changed by the run, first touched first */
	List	   *hist;			/* HistRow * */
	List	   *orphans;		/* Ev * newly orphaned */
	List	   *replayed;		/* Ev * orphans replayed */
	DpRowBuilder rb;
	DpProbe    *orphan_probe;	/* waiting orphans by entity, opened on first use */
	char	  **scratch;		/* nfields */
	TimestampTz batch_time;		/* the batch's time */
	FmgrInfo   *outputs;		/* nfields: text of stored values (set by the first load) */
	int64		counts[7];
	Datum		outcome_d[7];	/* the outcomes as text datums, made on first use */
	char	   *last_type;		/* the event type last read, and its datum: */
	Datum		last_type_d;	/* a feed repeats a few types */
} EventRun;

/* ---- envelope.c ---- */

/* The value at a path of an object (an envelope), or NULL. */
extern JsonbValue *dp_events_path_value(JsonbContainer *obj, const DpPath *path);

/*
 * The ordering key of an event time, or NULL when the time does not read;
 * *utc gets the harmonised time (for _updated_at).
 */
extern char *dp_events_time_order_key(const char *raw, char **utc);

/*
 * Read one envelope into ev.  Problems make the event rejected (outcome
 * and detail set), never an error.
 */
extern void dp_events_read_envelope(EventRun *run, Ev *ev, JsonbContainer *env);

/* ---- state.c ---- */

/*
 * A run over load (whose dataset must have a single key field), its
 * entity tables in the load's context.
 */
extern EventRun *dp_events_run_begin(DpLoad *load);
extern void dp_events_set_batch_time(EventRun *run);

/* A table of entities (or of plain keys), in cxt. */
extern HTAB *dp_events_entity_table(const char *name, MemoryContext cxt);

/* The entity with this key; created (empty, not existing) if create. */
extern Entity *dp_events_entity_get(HTAB *table, const char *key, bool create, int nfields);

/*
 * The same with the key's hash given (dp_events_key_hash); *found (when
 * not NULL) says whether it was there before.
 */
extern uint64 dp_events_key_hash(const char *key);
extern Entity *dp_events_entity_lookup(HTAB *table, const char *key, uint64 hash, bool create,
									   int nfields, bool *found);

/*
 * A string of the run as a text datum: *cache when made, else made (in
 * the load's context) and kept there.  s must not be NULL.
 */
extern Datum dp_events_text_datum(EventRun *run, Datum *cache, const char *s);

/* An outcome ("inserted", ...) as a text datum, made once per run. */
extern Datum dp_events_outcome_datum(EventRun *run, const char *outcome);

/* An event's envelope as a jsonb value of its own (made on first use). */
extern Jsonb *dp_events_envelope(EventRun *run, Ev *ev);

/*
 * The text of a field's value (NULL for SQL NULL), made from the stored
 * datum on first use and kept in the cell; whether two values are equal
 * (as text, as the spec compares values).
 */
extern const char *dp_events_cell_text(EventRun *run, int field, Cell *c);
extern bool dp_events_cells_equal(EventRun *run, int field, Cell *a, Cell *b);

/* An event's time (its _updated_at), or the batch's when it has none. */
extern TimestampTz dp_events_time(EventRun *run, Ev *ev);

/*
 * Load the current state (and the tombstone watermarks) of the entities
 * with these keys (harmonised text), and which event ids of these events
 * (Ev *; those read without a problem) were processed before, through the
 * indexes.  The clean table is locked.
 */
extern void dp_events_load_state(EventRun *run, List *keys);
extern void dp_events_load_processed(EventRun *run, List *evs);

/*
 * The orphans waiting for this entity with an ordering key above after
 * (NULL: all), read through orphan_event's index of waiting orphans, in
 * the order they replay (ordering key, batch, ordinal): Ev * with their
 * envelopes read.
 */
extern List *dp_events_waiting_orphans(EventRun *run, const char *entity, const char *after);

/*
 * Which of these keys (harmonised text, each once) have orphans waiting,
 * sorted: the dataset's waiting orphans are read through orphan_event's
 * index of waiting orphans when there are no more of them than keys, else
 * each key is probed in it.  Never a scan of the table.
 */
extern List *dp_events_entities_with_orphans(EventRun *run, List *keys);

/* ---- write.c ---- */

/*
 * Write the run's changes: current state, history, the event log of evs,
 * new and replayed orphans; then close the run's probes.
 */
extern void dp_events_run_write(EventRun *run, List *evs);

/* ---- staging.c ---- */

/*
 * The events (a JSON array of envelopes) with the PII fields of each
 * envelope's new and old data (and its entity id, when the key is PII)
 * replaced by tokens, when this environment obfuscates the dataset; else
 * the events unchanged.  Allocated in the load's context.
 */
extern Jsonb *dp_events_obfuscate(EventRun *run, Jsonb *events);

/* ---- apply.c ---- */

/*
 * Replay, in order, the orphans of entity e newer than its watermark: those
 * stored by earlier calls and those of this run.
 */
extern void dp_events_replay_orphans(EventRun *run, Entity *e);

/*
 * Apply an events batch's envelopes (a JSON array) under the dataset lock,
 * its batch row made: the run's changes, the batch's counts and result.
 * Returns the events (Ev *) with their outcomes.
 */
extern List *dp_events_apply(EventRun *run, Jsonb *events);

/* ---- snapshot.c ---- */

/*
 * Apply a snapshot's rows to its batch (made, the dataset lock taken): the
 * upsert, replace mode's resync, the orphans' replay, the batch's result.
 */
extern void dp_snapshot_apply(DpLoad *load, Jsonb *rows, Datum as_of, const char *as_of_text,
							  const char *mode);

/* ---- replay.c ---- */

/* Replay a snapshot or events batch from raw (rebuild): see pipeline.h. */
extern DpLoad *dp_events_replay_batch(const char *dataset, int64 batch_id, const char *kind,
									  const char *source, Datum received);

#endif							/* DP_EVENTS_H */
