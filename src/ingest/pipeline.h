/*
 * pipeline.h
 *		The load of one batch (pipeline.c), shared with snapshots and events
 *		(src/events/): opening a dataset for writing, batches, raw landing, the
 *		keyed upsert and the issue log.
 */
#ifndef DP_PIPELINE_H
#define DP_PIPELINE_H

#include "postgres.h"

#include "portability/instr_time.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"

#include "config.h"
#include "spec.h"
#include "transform.h"

#define DP_FLUSH_ROWS 20000

typedef struct KeyEntry
{
	uint64		hash;			/* hash key */
	int64		row_number;		/* the row that holds the key now */
	int64		line_number;
	int			slot;			/* its buffer slot, or -1 once flushed */
	char	   *key;			/* the key text, to tell collisions apart */
} KeyEntry;

/* One batch being loaded (or checked). */
typedef struct DpLoad
{
	char	   *dataset;
	char	   *product;
	DpSpec	   *spec;
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
	char	  **values;
	int64	   *slot_row;
	HTAB	   *keys;

	/* quarantined rows waiting to be written */
	int			nquarantine;
	int64	   *q_row;
	int64	   *q_line;

	int64		rows_in,
				loaded,
				quarantined,
				skipped,
				filtered;

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
	bool		track_keys;		/* quarantined rows' keys count as present */
	int64		n_added,
				n_changed,
				n_unchanged,
				n_newer;
} DpLoad;

typedef struct DpRowBuilder
{
	int			maxcells;
	const char **vals;
	size_t	   *lens;
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

/* push() and push_csv() for callers in C, as the current user: batch id */
extern int64 dp_push_rows(const char *dataset, Jsonb *rows, const DpLoadOptions *opts);
extern int64 dp_push_csv_data(const char *dataset, const char *data, size_t len,
							  Jsonb *csv_options, const DpLoadOptions *opts);

extern DpLoad *dp_load_open(const char *dataset, bool dry_run, const DpLoadOptions *opts);
extern bool dp_load_queued_behind(DpLoad *load);
extern Jsonb *dp_load_obfuscate_json(DpLoad *load, Jsonb *rows);
extern void dp_load_require_no_queue(DpLoad *load);
/*
 * Transform one raw batch again (rebuild, asynchronous processing); the
 * caller holds the clean table's lock and deletes the load's context.
 */
extern DpLoad *dp_replay_batch(const char *dataset, int64 batch_id, const char *kind,
							   const char *source, Datum received);
extern void dp_load_lock(DpLoad *load, const char *mode);
extern void dp_load_create_batch(DpLoad *load, const char *kind, size_t bytes,
								 const char *sha, const char *source);
extern void dp_load_land_json(DpLoad *load, Jsonb *rows);
extern void dp_load_row(DpLoad *load, const DpSourceRow *row);
extern int64 dp_load_json(DpLoad *load, Jsonb *rows);
extern void dp_load_flush(DpLoad *load);
extern void dp_load_finish(DpLoad *load, instr_time start);
extern void dp_load_audit(DpLoad *load, const char *kind);
extern void dp_check_json_shape(const char *dataset, Jsonb *rows);
extern void dp_row_builder_fit(DpRowBuilder *rb, int n);

/*
 * Build the source row of one JSON object (values in load->src_cxt, reset
 * at each call).
 */
extern void dp_load_json_row(DpLoad *load, DpRowBuilder *rb, JsonbContainer *obj,
							 int64 ordinal, DpSourceRow *row);

extern Datum dp_text_array(char **strings, int n, int stride);
extern Datum dp_int8_array(int64 *v, int n);
extern char *dp_sha256_hex(const char *data, size_t len);
extern char *dp_qualified_clean(const DpSpec *spec, bool history);

#endif							/* DP_PIPELINE_H */
