/*
 * consumer.h
 *		The consumer layer: published views (consumer.c), their refresh
 *		(refresh.c) and the expectations that gate it (expect.c).
 */
#ifndef DP_CONSUMER_H
#define DP_CONSUMER_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/snapshot.h"

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
								 * $1 < _batch_id <= $2 */
	/* aggregate */
	char	   *quals;			/* deparsed WHERE over alias s, or NULL */
	int			nref;
	char	  **refcols;		/* source columns the query reads */
	/* candidate key found by analysis (output column indexes), or NULL */
	int			ninferred;
	int		   *inferred;
} DpView;

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

/* Run SQL as the role the view's queries run as (see consumer.c). */
extern Oid	dp_view_reader_role(void);

/* ---- refresh.c ---- */

typedef struct DpRefresh DpRefresh;

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

/*
 * Validate and analyse a query of an expectation or a source: one SELECT,
 * no writes, reading only dp_clean (and dp_consumer when allow_consumer).
 * Returns the analysed query.  Caller is connected to SPI.
 */
struct Query;
extern struct Query *dp_view_check_query(const char *name, const char *sql, const char *what,
										 bool allow_consumer);

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

#endif							/* DP_CONSUMER_H */
