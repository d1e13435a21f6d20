/*
 * consumer.h
 *		The consumer layer's one internal header, shared by every file of
 *		src/consumer/:
 *			view.c		a view's names and the analysis of its source query
 *			classify.c	the shapes of the keyed and aggregate methods
 *			publish.c	publish and unpublish: the view's tables and facade
 *			export.c	export
 *			refresh.c	refresh, refresh_all and the fill at publish: the run,
 *						the keyed and full methods
 *			aggregate.c	the aggregate method: its state table's contents
 *			diff.c		what every method shares: execution under the
 *						refresh's snapshot, key checks, the diff
 *			expect.c	the expectations that gate a refresh
 *			lineage.c	column lineage, stored at publish
 */
#ifndef DP_CONSUMER_H
#define DP_CONSUMER_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "portability/instr_time.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"

#include "util.h"

/* Longest view name: room for the "_key" suffix of its unique index. */
#define DP_VIEW_NAME_MAX 59

/* How a view is kept up to date. */
typedef enum DpViewMethod
{
	DP_VIEW_KEYED,				/* rows recomputed by key (select / join) */
	DP_VIEW_AGGREGATE,			/* groups maintained from deltas */
	DP_VIEW_FULL				/* recomputed whole, applied as a diff */
} DpViewMethod;

typedef enum DpAggKind
{
	DP_AGG_NONE = 0,
	DP_AGG_COUNT_STAR,
	DP_AGG_COUNT,
	DP_AGG_SUM,
	DP_AGG_AVG,
	DP_AGG_MIN,
	DP_AGG_MAX
} DpAggKind;

/* One dataset the view reads. */
typedef struct DpViewSource
{
	char	   *dataset;
	char	   *table;			/* its dp_clean table */
	int			nkey;
	char	  **key;			/* the dataset's key columns, in key order */
} DpViewSource;

/* One output column. */
typedef struct DpViewColumn
{
	char	   *name;
	char	   *type;			/* SQL type with typmod */
	char	   *collation;		/* quoted collation, or NULL for the default */
	char	   *comment;		/* from the spec of the field it shows, or NULL */
	bool		pii;			/* shows a PII field: masked for consumers without pii */
	/* aggregate method only */
	int			group;			/* position in the key when a grouping column, else -1 */
	char	   *gexpr;			/* deparsed grouping expression */
	DpAggKind	agg;
	char	   *arg;			/* deparsed argument (NULL for count(*)) */
	char	   *filter;			/* deparsed FILTER condition, or NULL */
	/* as an index column of the dataset's table (gexpr or arg), or NULL */
	char	   *index_col;
} DpViewColumn;

/* A dataset joined to the driver on its whole key (keyed method). */
typedef struct DpLookup
{
	int			source;			/* index into sources */
	char	  **fk;				/* driver columns equal to the lookup's key columns */
} DpLookup;

typedef struct DpView
{
	char	   *name;
	char	   *definition;		/* the SELECT, deparsed and schema-qualified */
	int			ncols;
	DpViewColumn *cols;
	int			nkey;
	int		   *key;			/* output columns of the key */
	DpViewMethod method;
	char	   *reason;			/* why the method is full, or NULL */
	bool		time_dependent; /* calls stable functions (now(), current_date) */
	bool		reads_history;
	int			nsources;
	DpViewSource *sources;
	/* keyed */
	int			driver;			/* source whose key is the view's key */
	char	  **driver_key;		/* per key position: the driver's column */
	int			nlookups;
	DpLookup   *lookups;
	unsigned int driver_rti;	/* range table index of the driver (analysis only) */
	char	   *changed_sql;	/* the SELECT limited to driver rows with
								 * $1 < _batch_id <= $2 at the TIDs $3 */
	/* aggregate */
	char	   *quals;			/* deparsed WHERE over alias s, or NULL */
	bool		indexable;		/* grouping columns all usable in an index */
	int			nref;
	char	  **refcols;		/* source columns the query reads */
	/* candidate key found by analysis (output column indexes), or NULL */
	int			ninferred;
	int		   *inferred;
} DpView;

/* ---- view.c ---- */

/*
 * Parse, validate and analyse a view's source query.  Every problem is an
 * ERROR naming the view.  publishing: also find the column comments.
 * Caller is connected to SPI.
 */
extern DpView *dp_view_analyze(const char *name, const char *sql, bool publishing);

/*
 * Settle the key and the method: key_names (NULL to infer) and refresh
 * ("incremental", "full" or NULL for the best the query allows).
 */
extern void dp_view_choose(DpView *view, List *key_names, const char *refresh);

extern const char *dp_view_method_name(DpViewMethod method);

/* dp_consumer."name" and dp_consumer_state."name" */
extern char *dp_view_qualified(const char *name);
extern char *dp_view_facade_qualified(const char *name);
extern char *dp_view_state_qualified(const char *name);

/* Column list "a", "b" of the given output columns (all when idx NULL). */
extern char *dp_view_column_list(const DpView *view, int n, const int *idx,
								 const char *prefix);

/* Run SQL as the role the view's queries run as (see view.c). */
extern Oid	dp_view_reader_role(void);

/*
 * Validate and analyse a query of an expectation or a source: one SELECT,
 * no writes, reading only dp_clean (and dp_consumer when allow_consumer).
 * Returns the analysed query.  Caller is connected to SPI.
 */
struct Query;
extern struct Query *dp_view_check_query(const char *name, const char *sql, const char *what,
										 bool allow_consumer);

/*
 * Find or add the dataset behind a relation the query reads; returns its
 * index in view->sources (-1 for dp_consumer when allow_consumer).  ERROR,
 * with what in the message, when it is not a dataset's table or history.
 */
extern int	dp_view_source(DpView *view, Oid relid, bool *is_history, const char *what,
						   bool allow_consumer);

/* The expression under any RelabelType. */
extern Node *dp_view_strip(Node *n);

/* ---- classify.c ---- */

/*
 * Whether the analysed query q has the shape of the keyed (aggregate)
 * method; records what the method needs in view, or appends why not to why
 * and returns false.
 */
extern bool dp_view_classify_keyed(DpView *view, struct Query *q, StringInfo why);
extern bool dp_view_classify_aggregate(DpView *view, struct Query *q, StringInfo why);

/* The keyed query limited to driver rows of batches in ($1, $2], or NULL. */
extern char *dp_view_changed_rows_sql(DpView *view, struct Query *q);

/* A candidate key for the full method: the GROUP BY columns. */
extern void dp_view_infer_group_key(DpView *view, struct Query *q);

/* ---- lineage.c ---- */

/*
 * Write the column lineage of a view just published (its catalog row is
 * written) into dataplatform.view_column_lineage.  Caller is connected to
 * SPI.
 */
extern void dp_view_store_column_lineage(const DpView *view);

/* ---- refresh.c ---- */

/* One refresh (or the fill at publish) under way. */
typedef struct DpRefresh
{
	DpView	   *view;
	char	   *qtable;			/* the view's table */
	char	   *qstate;			/* its state table (aggregate) */
	Snapshot	snap;
	instr_time	start;
	bool		publishing;
	/* per source */
	int64	   *last;			/* batch consumed before */
	int64	   *wm;				/* newest batch now */
	int		   *major;			/* spec major version now */
	Oid		   *filenode;		/* the clean table's file now (change_feed.c) */
	bool		full;
	char	   *full_reason;
	int64		ins,
				upd,
				del;
	int64		rows_before;	/* -1: none */
	const char *changed;		/* FROM item of the rows written, NULL: all */
	List	   *temps;			/* temp tables to drop (full method) */

	/*
	 * The rows an incremental refresh carries between its statements, as
	 * arrays passed to every statement: $1 the new rows of the view
	 * (<view table>[]), $2 the affected keys (an array of a row type with the
	 * view's key columns by name).  No temporary table per call.
	 */
	Datum		params[2];
	Oid			param_types[2];
	int			nparams;
	const char *new_from;		/* FROM item of the new rows */
	const char *aff_from;		/* FROM item of the affected keys, NULL: all */
} DpRefresh;

/*
 * Publish: fill the new, empty table qtable with the whole view (and the
 * state of an aggregate view).  Caller is connected to SPI and holds the
 * view's catalog row lock.
 */
extern DpRefresh *dp_refresh_fill(DpView *view, const char *qtable);

/*
 * Publish, once the table is in place under its name: evaluate the
 * expectations (an ERROR when one fails), record the watermarks and the
 * log entry.  Returns the result as JSON text.
 */
extern char *dp_refresh_publish_done(DpRefresh *r, json_t *expect);

/* ---- diff.c ---- */

/*
 * Run one statement with the refresh's snapshot (seeing this transaction's
 * own writes).  as_reader: as the view reader role in a security-restricted
 * operation, for statements that evaluate the view's expressions.  Returns
 * the number of rows processed.
 */
extern uint64 dp_refresh_exec(DpRefresh *r, const char *sql, bool as_reader);
extern uint64 dp_refresh_exec_args(DpRefresh *r, const char *sql, bool as_reader, int nargs,
								   Oid *types, Datum *values);
extern uint64 dp_refresh_exec_kept(DpRefresh *r, const char *sql, int nargs, Oid *types, Datum *values);

/* A value of the last SPI result as int64 (0 when null). */
extern int64 dp_refresh_int64(uint64 row, int col);

/*
 * Start carrying rows in arrays: $1 and $2 empty arrays of the view table's
 * row type; new_from and aff_from read them.
 */
extern void dp_refresh_init_params(DpRefresh *r);

/*
 * Keep the array in column col of the last SPI result's first row as
 * parameter $n (1: the new rows, 2: the affected keys); a null (nothing
 * aggregated) becomes an empty array.  Returns the number of elements.
 */
extern int	dp_refresh_keep_array(DpRefresh *r, int n, int col);

/*
 * Keep the rows of the last SPI result (the view's columns, in order) as $1,
 * the new rows: built here, since the reader role a view's query runs as
 * may not name the view table's type.  Returns the number of rows.
 */
extern int	dp_refresh_keep_rows(DpRefresh *r);

/* "ROW(a, NULL, b, ...)::<view table>" of the key expressions, one per key position. */
extern char *dp_refresh_key_row(DpRefresh *r, char **exprs);

/*
 * CREATE TEMP TABLE name <as>, readable and writable by the reader role,
 * dropped at the end of the refresh; returns its qualified name.
 */
extern char *dp_refresh_temp_table(DpRefresh *r, const char *name, const char *as);

/* "a.x = b.x AND a.y = b.y" over the view's key; its columns with a prefix. */
extern char *dp_refresh_key_match(const DpView *view, const char *a, const char *b);
extern char *dp_refresh_key_list(const DpView *view, const char *prefix);

/* ERROR when a key of the rows in table is null (or, full method, repeated). */
extern void dp_refresh_check_null_keys(DpRefresh *r, const char *table);
extern void dp_refresh_check_keys(DpRefresh *r, const char *table);

/*
 * Apply the new rows (r->new_from) to the view for the affected keys
 * (r->aff_from, all keys when NULL); counts into r->ins, upd, del.
 */
extern void dp_refresh_apply_diff(DpRefresh *r);

/* ---- aggregate.c ---- */

/* The view's rows of every group into pg_temp.dp_new (full refresh, publish). */
extern void dp_aggregate_new_rows(DpRefresh *r);

/* Recompute the state of the dirty groups (of every group: all). */
extern void dp_aggregate_recompute(DpRefresh *r, bool all);

/*
 * Incremental refresh of an aggregate view: the changed rows' deltas into
 * the state, the affected groups' rows applied; sets r->changed.
 */
extern void dp_aggregate_apply_delta(DpRefresh *r);

/* ---- expect.c ---- */

/* jsonb -> jansson, integers kept as integers where they fit. */
extern json_t *dp_consumer_json(Jsonb *jb, const char *what);

/* Validate an expectation list for a view; returns a normalised array. */
extern json_t *dp_expect_validate(const DpView *view, json_t *expect);

/* Execution callback the expectation checks use (the refresh's snapshot). */
typedef uint64 (*DpExecFn) (void *arg, const char *sql, bool as_reader);

/*
 * Evaluate expectations against the view table qtable after a refresh that
 * wrote the rows in pg_temp table changed (NULL: the whole table was
 * written).  Appends a JSON array of results to out; returns true when all
 * pass.  rows_before < 0 means no previous contents.
 */
extern bool dp_expect_evaluate(json_t *expect, const DpView *view, const char *qtable,
							   const char *changed, int64 rows_before, int64 rows_after,
							   DpExecFn exec, void *arg, StringInfo out);

/* ---- openlineage_refresh.c ---- */

/*
 * The OpenLineage run of a refresh or publish recorded with status "ok" or
 * "rejected" (FAIL), and of a refresh that failed inside refresh_all.
 */
extern void dp_refresh_openlineage(DpRefresh *r, const char *status, int64 rows,
								   const char *expectations, double ms);
extern void dp_refresh_openlineage_failed(const char *name, TimestampTz started, const char *error);

/*
 * replicate.c: make the consumer layer's publications (replicate_consumer)
 * list the published views' tables as they are now.  Caller is connected
 * to SPI; publish and unpublish call it after their catalog change.
 */
extern void dp_replication_sync(void);

#endif							/* DP_CONSUMER_H */
