/*
 * openlineage.h
 *		OpenLineage run events (spec 2-0-2) written to the outbox
 *		(dataplatform.openlineage_outbox) in the caller's transaction; the
 *		worker delivers them (src/worker/openlineage_send.c).  See
 *		docs/openlineage.md.
 *
 * A run is described between dp_ol_begin and dp_ol_finish: its input and
 * output datasets (named by OpenLineage's rules for PostgreSQL: namespace
 * postgres://host:port, name database.schema.table) and facets.  Everything
 * lives in the run's memory context (jansson included); dp_ol_finish writes
 * START and COMPLETE (or FAIL) and deletes it.  With
 * dataplatform.openlineage_url unset dp_ol_begin returns NULL and every
 * other function accepts NULL and does nothing: the data path pays one test.
 */
#ifndef DP_OPENLINEAGE_H
#define DP_OPENLINEAGE_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"

#include "util.h"

#define DP_OL_SCHEMA_URL	"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
#define DP_OL_PRODUCER		"https://github.com/dataplatform/dataplatform/tree/v" DP_EXTVERSION
/* custom facets (dataplatform_*) are described in docs/openlineage.md */
#define DP_OL_FACET_DOC		"https://github.com/dataplatform/dataplatform/blob/v" DP_EXTVERSION "/docs/openlineage.md"

typedef struct DpOlRun
{
	MemoryContext cxt;
	char		run_id[37];
	char	   *job_name;
	TimestampTz started;
	json_t	   *event;			/* the COMPLETE/FAIL event being built */
	json_t	   *inputs;
	json_t	   *outputs;
	json_t	   *run_facets;
} DpOlRun;

/* Whether runs are recorded (dataplatform.openlineage_url is set). */
extern bool dp_ol_enabled(void);

/*
 * Begin describing a run of job "<kind>.<object>" (object may be NULL)
 * that started at `started`.  NULL when disabled.  The run's context is a
 * child of CurrentMemoryContext.
 */
extern DpOlRun *dp_ol_begin(const char *kind, const char *object, TimestampTz started);

/*
 * The same with a run id made beforehand by dp_ol_new_run_id (into a
 * 37-byte buffer), so that runs started inside it can name it as their
 * parent.
 */
extern DpOlRun *dp_ol_begin_id(const char *kind, const char *object, TimestampTz started,
							   const char *run_id);
extern void dp_ol_new_run_id(TimestampTz now, char *out);

/*
 * While set, every run begun gets a "parent" run facet naming this run
 * (a collection run's pushes); NULL clears.  Backend-local.
 */
extern void dp_ol_set_parent(const char *run_id, const char *kind, const char *object);

/*
 * Add an input or output dataset in this database (schema.table, unquoted
 * names) or, with dp_ol_dataset_ns, any namespace and name.  Returns the
 * dataset object (owned by the run) for dp_ol_facet.
 */
extern json_t *dp_ol_dataset(DpOlRun *run, bool output, const char *schema, const char *table);
extern json_t *dp_ol_dataset_ns(DpOlRun *run, bool output, const char *ns, const char *name);

/*
 * Attach facet `name` (a new object, stolen; NULL does nothing) to
 * `where` ("facets", "inputFacets" or "outputFacets") of `target` (a
 * dataset, or NULL for the run's facets), adding _producer and _schemaURL.
 */
extern void dp_ol_facet(DpOlRun *run, json_t *target, const char *where, const char *name,
						const char *schema_url, json_t *facet);

/* The dataset name of schema.table in this database: "db.schema.table". */
extern char *dp_ol_dataset_name(const char *schema, const char *table);

/*
 * Write START and COMPLETE (error NULL) or FAIL (with an errorMessage run
 * facet) to the outbox in the current transaction (caller connected to
 * SPI), then free the run.  NULL: nothing.
 */
extern void dp_ol_finish(DpOlRun *run, const char *error);

/* Free a run without writing it (NULL: nothing). */
extern void dp_ol_discard(DpOlRun *run);

/*
 * openlineage_fail.c: FAIL events of SQL calls that raise an error (their
 * transaction rolls back): remembered in shared memory by dp_ol_call, the
 * SQL entry point's wrapper (kind: the job's kind; argument 0, a text, the
 * object), and written to the outbox by the database's worker
 * (dp_ol_fail_drain, in its transaction; returns the runs written).
 * dp_ol_fail_init requests the shared memory (_PG_init, when preloaded).
 */
extern void dp_ol_fail_init(void);
extern Datum dp_ol_call(FunctionCallInfo fcinfo, PGFunction fn, const char *kind);
extern int	dp_ol_fail_drain(void);
extern bool dp_ol_fail_waiting(void);	/* outside a transaction: any to drain? */

#endif							/* DP_OPENLINEAGE_H */
