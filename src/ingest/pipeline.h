/*
 * pipeline.h
 *		The load of one batch, the main data path: push / push_csv ->
 *		dp_raw (untouched) -> transform (transform.c) -> dp_clean.<dataset>
 *		(new keys inserted as COPY does, stored keys updated by key with
 *		replaced versions moved to _history) with every issue in
 *		dataplatform.issue; the dry runs check / check_csv; rebuild;
 *		purge_raw and the raw guard trigger.  Queued (asynchronous) batches
 *		are processed by queue.c; snapshots and events (src/events/) load
 *		through the same functions.
 *
 *		load.c		opening a load, routing rows, the batch row (and the
 *					transaction and lock rules of a load)
 *		write.c		writing the buffers: clean rows, issues, quarantine
 *		source.c	JSON rows and CSV records into source rows
 *		push.c		push, push_csv, check, check_csv; dp_push_rows and
 *					dp_push_csv_data for callers in C
 *		rebuild.c	replaying raw batches (snapshots and events through
 *					src/events/, registered), rebuild, purge_raw, raw_guard
 *		raw.c		the raw layer's runs (dp_raw.chunk): landing, reading a
 *					batch back, raw_element() behind the view dp_raw.rows
 */
#ifndef DP_PIPELINE_H
#define DP_PIPELINE_H

#include "postgres.h"

#include "portability/instr_time.h"
#include "storage/lockdefs.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "bulk.h"
#include "config.h"
#include "csv.h"
#include "spec.h"
#include "transform.h"

#define DP_FLUSH_ROWS 20000

typedef struct KeyEntry
{
	uint64		hash;			/* hash key */
	int64		row_number;		/* the row that holds the key now */
	int64		line_number;
	int			slot;			/* its buffer slot, or -1: valid only while
								 * gen is the load's flush_gen */
	uint32		gen;			/* the flush its slot belongs to */
	bool		valid;			/* a valid row had the key (else only a
								 * quarantined one: remember_key) */
	char	   *key;			/* the key text, to tell collisions apart */
} KeyEntry;

/* The row-level contract checks of a load (contract.c). */
typedef struct DpContract DpContract;

/* One batch being loaded (or checked). */
typedef struct DpLoad
{
	char	   *dataset;
	char	   *product;
	const DpSpec *spec;
	DpConfig   *cfg;
	DpTransform *t;
	int			major,
				minor,
				config_version;
	bool		dry_run;
	int64		batch_id;
	Datum		received_at;	/* the batch's time: lineage and history */
	MemoryContext cxt;			/* the load */
	MemoryContext rows_cxt;		/* buffered row values, reset at each flush */
	MemoryContext src_cxt;		/* one source row's values, reset per row */
	MemoryContext raw_cxt;		/* buffered raw CSV records */

	/* valid rows waiting to be written: slot-major, nfields values each */
	int			nslots;
	uint32		flush_gen;		/* counts flushes: older slots are gone */
	char	  **values;
	int64	   *slot_row;
	HTAB	   *keys;

	/* quarantined rows waiting to be written */
	int			nquarantine;
	int64	   *q_row;
	int64	   *q_line;

	/*
	 * the batch's counts (docs/push.md, "The batch log"): rows_in = loaded
	 * + replaced + quarantined + skipped + filtered + orphaned
	 */
	int64		rows_in,
				loaded,			/* distinct keys of valid rows */
				replaced,		/* valid rows a later one with their key replaced */
				quarantined,
				skipped,
				filtered,
				orphaned;		/* events kept for replay */

	/* dry run: the rows that would load, as JSON */
	StringInfoData rows_json;
	int			nrows_json;

	char	   *upsert_sql;
	Oid		   *upsert_types;

	bool		raw_only;		/* asynchronous: land raw, transform later */
	bool		obfuscate;		/* CSV: PII cells become tokens as read */
	char	   *column_override;	/* this load's extra "column" mapping (JSON), or NULL */
	bool		synthetic;		/* invented rows (generate): not obfuscated */

	/* snapshots (events/snapshot.c) */
	char	   *watermark;		/* ordering key the written rows take, or NULL */
	bool		snapshot;		/* new keys: look for a removal in _history */
	bool		track_keys;		/* quarantined rows' keys count as present */
	int64		n_added,
				n_changed,
				n_unchanged,
				n_newer;

	DpContract *contract;		/* unique and references checks, or NULL */

	/* its OpenLineage run (openlineage_load.c) */
	const char *run_kind;		/* job kind: the batch's kind, process_queued, rebuild */
	TimestampTz run_started;
	int64		bytes;			/* the batch's bytes as received (0: unknown) */
} DpLoad;

typedef struct DpRowBuilder
{
	int			maxcells;
	const char **vals;
	size_t	   *lens;
	/* JSON objects: the column of the previous object's i-th key (a guess) */
	int			maxguess;
	int		   *guess;
} DpRowBuilder;

/*
 * What a caller in C may say about one load (NULL: nothing): an extra
 * "column" mapping (an endpoint's, as JSON; recorded in the batch's source
 * so a replay maps the same) and whether the rows are invented (generate:
 * never obfuscated).
 */
typedef struct DpLoadOptions
{
	const char *column_override;
	bool		synthetic;
} DpLoadOptions;

/* load.c: opening a load (caller connected to SPI), routing rows, the batch */
extern DpLoad *dp_load_open(const char *dataset, bool dry_run, const DpLoadOptions *opts);
extern void dp_load_row(DpLoad *load, const DpSourceRow *row);
/* a row's key as one text (fields joined by \x1f, NULL as empty) */
extern char *dp_load_key_text(const DpSpec *spec, char **out);
/* a dry run: append the buffered rows to load->rows_json and drop them */
extern void dp_load_check_rows_json(DpLoad *load);
extern void dp_load_create_batch(DpLoad *load, const char *kind, size_t bytes,
								 const char *sha, const char *source);
extern void dp_load_lock(DpLoad *load, LOCKMODE mode);
extern bool dp_load_queued_behind(DpLoad *load);
extern void dp_load_require_no_queue(DpLoad *load);
/* asynchronous: the batch stays queued with its raw rows (rows of them) */
extern void dp_load_queue_batch(DpLoad *load, int64 rows);
extern void dp_load_finish(DpLoad *load, instr_time start);
extern void dp_load_audit(DpLoad *load, const char *kind);
extern Jsonb *dp_load_obfuscate_json(DpLoad *load, Jsonb *rows);
extern void dp_load_land_json(DpLoad *load, Jsonb *rows);
extern char *dp_sha256_hex(const char *data, size_t len);

/*
 * write.c: writing what a load buffered (nothing on a dry run).  Each
 * flush empties its buffer; dp_load_flush does all three.
 */
extern void dp_load_flush(DpLoad *load);
extern void dp_load_flush_rows(DpLoad *load);
extern void dp_load_flush_issues(DpLoad *load);
extern void dp_load_flush_quarantine(DpLoad *load);
extern char *dp_qualified_clean(const DpSpec *spec, bool history);

/*
 * The columns of dp_clean.<dataset>_history that a writer of versions
 * sets: the fields' (fields, one per spec field) and the bookkeeping ones.
 * dp_load_history_begin opens a bulk insertion into the partition of
 * batch_id (made when there is none; every version a call writes is closed
 * by its batch, so _closed_by_batch must be batch_id), fills them in
 * (palloc'd in CurrentMemoryContext) and lets _history_id and
 * _recorded_at take their defaults.
 */
typedef struct DpHistoryAtts
{
	AttrNumber *fields;
	AttrNumber	operation,
				batch_id,
				event_id,
				valid_from,
				valid_to,
				closed_by_batch,
				closed_by_event,
				watermark,
				row;
} DpHistoryAtts;

extern DpBulk *dp_load_history_begin(const DpSpec *spec, int64 batch_id, DpHistoryAtts *a);

/*
 * Record keys removed by a delete (n keys of the dataset's single key
 * field, as text) in dp_clean.<dataset>_removed (clean_table.c), so that
 * their tombstones are looked up when they come back.  One statement.
 */
extern void dp_load_record_removed(const DpSpec *spec, char **keys, int n);

/*
 * Is a key with no current row (datums in the primary key's order) among
 * the dataset's removed keys?  A probe of <t>_removed's primary key (fp,
 * from dp_load_removed_begin; NULL when the dataset has no such table, a
 * table restored from an older dump: then every key may be, true).
 */
extern DpProbe *dp_load_removed_begin(const DpSpec *spec);
extern bool dp_load_was_removed(DpProbe *fp, const Datum *key);
extern Datum dp_text_array(char **strings, int n, int stride);
extern Datum dp_int8_array(int64 *v, int n);

/*
 * contract.c: the unique and references checks of each row that would
 * load (dp_contract_row: DP_ROW_LOADED or DP_ROW_QUARANTINED, issues
 * recorded); dp_contract_close ends the index probes (every flush).
 */
extern void dp_contract_begin(DpLoad *load);
extern DpRowStatus dp_contract_row(DpLoad *load, const DpSourceRow *row, char **out);
extern void dp_contract_close(DpLoad *load);

/* source.c: JSON rows and CSV records */
extern void dp_row_builder_fit(DpRowBuilder *rb, int n);
extern void dp_jsonb_child_value(const char *base, JEntry je, uint32 start, uint32 end,
								 JsonbValue *v);

/*
 * Build the source row of one JSON object (values in load->src_cxt, reset
 * at each call).
 */
extern void dp_load_json_row(DpLoad *load, DpRowBuilder *rb, JsonbContainer *obj,
							 int64 ordinal, DpSourceRow *row);
/* the same, handed to dp_load_row */
extern void dp_load_json_object(DpLoad *load, DpRowBuilder *rb, JsonbContainer *obj,
								int64 ordinal);
extern int64 dp_load_json(DpLoad *load, Jsonb *rows);
extern void dp_check_json_shape(const char *dataset, Jsonb *rows);
extern void dp_load_check_csv_args(const char *dataset, size_t len, Jsonb *csv_opts,
								   DpCsvOptions *opt);
extern void dp_load_csv(DpLoad *load, const char *data, size_t len, const DpCsvOptions *opt,
						bool land, const int64 *ordinals, const int64 *lines, int64 nknown,
						char **header);

/* push.c: push() and push_csv() for callers in C, as the current user: batch id */
extern int64 dp_push_rows(const char *dataset, Jsonb *rows, const DpLoadOptions *opts);
/* geojson.c: a GeoJSON FeatureCollection (or Feature) pushed as rows */
extern int64 dp_push_geojson_doc(const char *dataset, Jsonb *doc, const DpLoadOptions *opts);
extern int64 dp_push_csv_data(const char *dataset, const char *data, size_t len,
							  Jsonb *csv_options, const DpLoadOptions *opts);

/*
 * rebuild.c: transform one raw batch again (rebuild, asynchronous
 * processing); the caller holds the clean table's lock and deletes the
 * load's context.
 */
extern DpLoad *dp_replay_batch(const char *dataset, int64 batch_id, const char *kind,
							   const char *source, Datum received, const char *run_kind);

/*
 * openlineage_load.c: the load's OpenLineage run (START and COMPLETE or
 * FAIL in the outbox; nothing when dataplatform.openlineage_url is unset)
 */
extern void dp_load_openlineage(DpLoad *load);
extern void dp_load_openlineage_queued(DpLoad *load, int64 rows);
extern void dp_load_openlineage_failed(const char *kind, const char *dataset, int64 batch_id,
									   TimestampTz started, const char *error);

/*
 * Snapshot and events batches are replayed by src/events/ (which depends on
 * this folder, not the reverse): it registers its replay function at load
 * time (_PG_init), with the signature of dp_replay_batch.
 */
typedef DpLoad *(*DpReplayFunction) (const char *dataset, int64 batch_id, const char *kind,
									 const char *source, Datum received);
extern void dp_replay_register(DpReplayFunction fn);

/* raw.c: the raw layer (runs of rows in dp_raw.chunk) */
typedef struct DpRawBatch
{
	int64		n;
	int64	   *ordinal;
	int64	   *line;			/* 0: none */
	Jsonb	  **data;			/* JSON rows, NULL for CSV records */
	char	  **raw;			/* CSV records' text, NULL for JSON rows */
} DpRawBatch;

extern void dp_raw_land_json(int64 batch_id, Jsonb *rows);
extern void dp_raw_land_records(int64 batch_id, int n, const int64 *ordinal, const int64 *line,
								char **raw, const size_t *len);
extern void dp_raw_read_batch(int64 batch_id, DpRawBatch *out);

#endif							/* DP_PIPELINE_H */
