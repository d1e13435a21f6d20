/*
 * refresh.c
 *		Refresh of published views: dataplatform.refresh, refresh_all, and
 *		the fill at publish.  The run (locks, snapshot, watermarks, the
 *		subtransaction, expectations, the log) and the keyed and full
 *		methods are here; the aggregate method is aggregate.c's, and the
 *		execution, key checks and diff every method shares are diff.c's.
 *
 * Change detection.  Every write to a clean table stamps the rows it writes
 * with its batch id (_batch_id) and the versions it replaces or removes with
 * it (_closed_by_batch in the history table), and a writer takes its batch
 * id only after locking the clean table, so the batch ids of one dataset
 * follow commit order.  A batch queued for asynchronous processing has its
 * id already but writes its rows later, so the watermark stops below the
 * oldest queued batch of each dataset.  A view records, per dataset it reads, the last batch
 * id it has consumed (dataplatform.consumer_source.last_batch); the changes
 * since are the current rows with _batch_id above it, found where the
 * change feed (common/change_feed.c: the TIDs each batch wrote) says they
 * stand, and the history rows closed by a batch above it, through
 * history's index: an invalidation log that costs producers one array per
 * batch, not an index entry per row.  A rebuild of a dataset (which
 * restamps its batches), a breaking change of its specification and a
 * rewrite of its table (the feed's TIDs then stale: the table's filenode
 * is recorded with the watermark) make the next refresh a full one.
 *
 * One snapshot.  A refresh locks its datasets' tables ACCESS SHARE (which no
 * push conflicts with), then takes one snapshot and runs every statement
 * with it, so the batches it sees, the rows it reads and the watermark it
 * records agree, whatever commits meanwhile.
 *
 * Methods (chosen by view.c and classify.c):
 *	keyed		the keys of changed rows of the driving dataset, and the
 *				driver rows that join to changed rows of a joined dataset,
 *				are recomputed through the view's own query;
 *	aggregate	the changed rows' old versions (minus) and new versions (plus)
 *				are aggregated per group and added to a state table
 *				(dp_consumer_state.<view>: row count, count, sum and count
 *				of each sum/avg, min/max); a group whose min or max lost its
 *				holder is recomputed from the dataset (aggregate.c);
 *	full		the whole query into a temporary table.
 * Every method ends the same way (diff.c): the new rows of the affected keys
 * are applied to the view as a diff (DELETE, UPDATE of rows that differ,
 * INSERT), so the table is never locked against readers, readers see the old
 * or the new contents (MVCC), and unchanged rows are not rewritten.
 *
 * Expectations run in a subtransaction after the diff; if one fails the
 * subtransaction is rolled back (the old contents stay, the watermarks do
 * not move) and the failure is logged outside it.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "access.h"
#include "change_feed.h"
#include "consumer.h"
#include "openlineage.h"

PG_FUNCTION_INFO_V1(dp_refresh);
PG_FUNCTION_INFO_V1(dp_refresh_all);

/* ------------------------------------------------------------------------
 * Keyed and full
 * ------------------------------------------------------------------------
 */

/* "a", "b" of a source's key, with a prefix */
static char *
source_key_list(const DpViewSource *s, const char *prefix)
{
	StringInfoData buf;
	int			k;

	initStringInfo(&buf);
	for (k = 0; k < s->nkey; k++)
		appendStringInfo(&buf, "%s%s%s", k ? ", " : "", prefix ? prefix : "",
						 quote_identifier(s->key[k]));
	return buf.data;
}

static void
apply_full(DpRefresh *r)
{
	DpView	   *view = r->view;

	if (view->method == DP_VIEW_AGGREGATE)
	{
		dp_aggregate_recompute(r, true);
		dp_aggregate_new_rows(r);
	}
	else
	{
		dp_refresh_temp_table(r, "dp_new", psprintf("AS SELECT * FROM %s WITH NO DATA", r->qtable));
		dp_refresh_exec(r, psprintf("INSERT INTO pg_temp.dp_new SELECT * FROM (%s) q", view->definition), true);
	}
	r->new_from = "pg_temp.dp_new";
	r->aff_from = NULL;
	dp_refresh_check_keys(r, r->new_from);
	dp_refresh_apply_diff(r);
	r->changed = NULL;
}

/* The key row (see dp_refresh_key_row) of key columns c0, c1, ... of alias u. */
static char *
numbered_key_row(DpRefresh *r)
{
	char	  **exprs = palloc(sizeof(char *) * r->view->nkey);
	int			k;

	for (k = 0; k < r->view->nkey; k++)
		exprs[k] = psprintf("u.c%d", k);
	return dp_refresh_key_row(r, exprs);
}

/* "c0, c1, ..." for the view's key */
static char *
numbered_key_names(const DpView *view)
{
	StringInfoData buf;
	int			k;

	initStringInfo(&buf);
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&buf, "%sc%d", k ? ", " : "", k);
	return buf.data;
}

/*
 * Keyed: the affected keys ($2) and their new rows ($1), carried in arrays,
 * then the diff.
 */
static void
apply_keyed(DpRefresh *r)
{
	DpView	   *view = r->view;
	DpViewSource *d = &view->sources[view->driver];
	bool		only_driver;
	StringInfoData keys;
	int			i,
				l;

	dp_refresh_init_params(r);
	only_driver = view->changed_sql != NULL;
	for (l = 0; l < view->nlookups; l++)
		if (r->wm[view->lookups[l].source] > r->last[view->lookups[l].source])
			only_driver = false;
	if (only_driver)
	{
		/*
		 * Only the driver changed: its rows written since are the new rows
		 * (found through the change feed), and the keys that may have left
		 * the view are those of the versions closed since (a key without an
		 * older version was never in the view).  Carried as an array, whose
		 * size the planner sees (a subquery over the history would be
		 * estimated from statistics taken before the change).
		 */
		Oid			types[2] = {INT8OID, INT8OID};
		Datum		values[2];

		dp_refresh_exec(r, psprintf("SELECT pg_catalog.array_agg(%s) FROM (SELECT %s FROM dp_clean.%s "
									"WHERE _closed_by_batch > " INT64_FORMAT " AND _closed_by_batch <= " INT64_FORMAT
									") u(%s)",
									numbered_key_row(r), source_key_list(d, NULL),
									quote_identifier(psprintf("%s_history", d->table)),
									r->last[view->driver], r->wm[view->driver], numbered_key_names(view)),
						false);
		dp_refresh_keep_array(r, 2, 1);
		values[0] = Int64GetDatum(r->last[view->driver]);
		values[1] = Int64GetDatum(r->wm[view->driver]);
		/*
		 * where the rows written since stand (change_feed.c): $3 becomes the
		 * feed's subquery, an InitPlan the planner takes as a few TIDs (a
		 * constant array of thousands would be costed into a scan of the
		 * whole table)
		 */
		{
			char	   *at = strstr(view->changed_sql, "$3");

			if (at == NULL)
				elog(ERROR, "the changed-rows query of view \"%s\" has no TID parameter", view->name);
			dp_refresh_exec_args(r, psprintf("%.*s%s%s", (int) (at - view->changed_sql), view->changed_sql,
											 dp_change_feed_sql(d->dataset, "$1"), at + 2),
								 true, 2, types, values);
		}
		dp_refresh_keep_rows(r);
		dp_refresh_check_keys(r, r->new_from);
		dp_refresh_apply_diff(r);
		r->changed = r->new_from;
		return;
	}

	/*
	 * The view keys the changes touch: keys of changed driver rows, and of
	 * driver rows joined to changed rows of a lookup (changed rows: written
	 * or closed by a batch since).
	 */
	initStringInfo(&keys);
	for (i = 0; i < view->nsources; i++)
	{
		DpViewSource *s = &view->sources[i];
		char	   *changed;

		if (r->wm[i] <= r->last[i])
			continue;
		changed = psprintf("SELECT %s FROM dp_clean.%s WHERE ctid = ANY (%s) AND _batch_id > " INT64_FORMAT
						   " AND _batch_id <= " INT64_FORMAT
						   " UNION ALL SELECT %s FROM dp_clean.%s WHERE _closed_by_batch > " INT64_FORMAT
						   " AND _closed_by_batch <= " INT64_FORMAT,
						   source_key_list(s, NULL), quote_identifier(s->table),
						   dp_change_feed_sql(s->dataset, psprintf(INT64_FORMAT, r->last[i])), r->last[i], r->wm[i],
						   source_key_list(s, NULL), quote_identifier(psprintf("%s_history", s->table)),
						   r->last[i], r->wm[i]);
		if (i == view->driver)
			appendStringInfo(&keys, "%s%s", keys.len ? " UNION ALL " : "", changed);
		for (l = 0; l < view->nlookups; l++)
		{
			DpLookup   *lk = &view->lookups[l];
			StringInfoData fk;
			int			k;

			if (lk->source != i)
				continue;
			initStringInfo(&fk);
			for (k = 0; k < s->nkey; k++)
				appendStringInfo(&fk, "%sx.%s", k ? ", " : "", quote_identifier(lk->fk[k]));
			appendStringInfo(&keys, "%sSELECT %s FROM dp_clean.%s x WHERE (%s) IN (%s)",
							 keys.len ? " UNION ALL " : "", source_key_list(d, "x."),
							 quote_identifier(d->table), fk.data, changed);
		}
	}
	if (keys.len > 0)
	{
		dp_refresh_exec(r, psprintf("SELECT pg_catalog.array_agg(%s) FROM (%s) u(%s)",
									numbered_key_row(r), keys.data, numbered_key_names(view)), false);
		dp_refresh_keep_array(r, 2, 1);
	}

	/* their rows, through the view's query */
	dp_refresh_exec(r, psprintf("SELECT q.* FROM (%s) q WHERE (%s) IN (SELECT %s FROM %s)",
								view->definition, dp_refresh_key_list(view, "q."),
								dp_refresh_key_list(view, NULL), r->aff_from), true);
	dp_refresh_keep_rows(r);
	dp_refresh_check_keys(r, r->new_from);
	dp_refresh_apply_diff(r);
	r->changed = r->new_from;
}

/* ------------------------------------------------------------------------
 * The run
 * ------------------------------------------------------------------------
 */

/* The expectations' execution callback (DpExecFn): the refresh's snapshot. */
static uint64
expect_exec(void *arg, const char *sql, bool as_reader)
{
	return dp_refresh_exec((DpRefresh *) arg, sql, as_reader);
}

/*
 * Lock the datasets, take the snapshot, read the watermarks and decide
 * whether the refresh must be full.  Returns whether anything is pending.
 */
static bool
refresh_begin(DpRefresh *r)
{
	DpView	   *view = r->view;
	int			i;
	bool		pending = r->publishing || r->full;

	/* the datasets' tables locked by name (as LOCK TABLE does, without a statement) */
	r->filenode = palloc0(sizeof(Oid) * view->nsources);
	for (i = 0; i < view->nsources; i++)
	{
		Oid			relid = RangeVarGetRelid(makeRangeVar("dp_clean", view->sources[i].table, -1),
											 AccessShareLock, false);
		Relation	rel = table_open(relid, NoLock);

		/* the change feed's TIDs hold for this file of the table only */
		r->filenode[i] = rel->rd_node.relNode;
		table_close(rel, NoLock);
		(void) RangeVarGetRelid(makeRangeVar("dp_clean", psprintf("%s_history", view->sources[i].table), -1),
								AccessShareLock, false);
	}
	/* the change feed too: apply_retention drops none of its partitions meanwhile */
	(void) RangeVarGetRelid(makeRangeVar("dataplatform", "clean_change", -1), AccessShareLock, false);
	CommandCounterIncrement();
	r->snap = RegisterSnapshot(GetTransactionSnapshot());

	r->last = palloc0(sizeof(int64) * view->nsources);
	r->wm = palloc0(sizeof(int64) * view->nsources);
	r->major = palloc0(sizeof(int) * view->nsources);
	for (i = 0; i < view->nsources; i++)
	{
		Oid			types[2] = {TEXTOID, TEXTOID};
		Datum		values[2] = {CStringGetTextDatum(view->name),
			CStringGetTextDatum(view->sources[i].dataset)};

		/*
		 * One statement per dataset (its plan kept by the backend), every
		 * batch read through the (dataset, id) indexes, newest first, never
		 * the dataset's whole batch log: the newest batch (never past a batch
		 * still queued for asynchronous processing), the spec major, what the
		 * view consumed before, and the rebuild stamp now and at that
		 * watermark.  The stamp is when the
		 * newest done batch up to the watermark was processed: rebuild
		 * replays every done batch, so it changes exactly when the dataset
		 * was rebuilt since (a later batch never changes it).  The dataset is
		 * bounded by a range and the order is (dataset, id), which only that
		 * index gives: with "dataset = name ORDER BY id DESC" the planner may
		 * walk the primary key down through other datasets' newer batches
		 * (as freshness.c explains).
		 */
		if (dp_refresh_exec_kept(r, "SELECT COALESCE(LEAST("
								 "(SELECT b.id FROM dataplatform.batch b WHERE b.dataset >= d.name AND b.dataset <= d.name "
								 "ORDER BY b.dataset DESC, b.id DESC LIMIT 1), "
								 "(SELECT b.id FROM dataplatform.batch b WHERE b.dataset = d.name "
								 "AND b.status IN ('queued', 'processing') ORDER BY b.id LIMIT 1) - 1), 0), d.major, "
								 "s.view IS NOT NULL, s.last_batch, s.spec_major, s.batch_stamp, "
								 "(SELECT EXTRACT(epoch FROM b.processed_at)::text FROM dataplatform.batch b "
								 "WHERE b.dataset >= d.name AND b.dataset <= d.name AND b.id <= s.last_batch AND b.status = 'done' "
								 "ORDER BY b.dataset DESC, b.id DESC LIMIT 1), s.filenode "
								 "FROM dataplatform.datasets d LEFT JOIN dataplatform.consumer_source s "
								 "ON s.dataset = d.name AND s.view = $1 WHERE d.name = $2",
								 2, types, values) == 0)
			elog(ERROR, "dataset \"%s\" of view \"%s\" not found", view->sources[i].dataset, view->name);
		r->wm[i] = dp_refresh_int64(0, 1);
		r->major[i] = (int) dp_refresh_int64(0, 2);
		if (r->publishing)
			continue;
		if (strcmp(dp_spi_getvalue(0, 3), "t") != 0)
		{
			r->full = true;
			r->full_reason = psprintf("dataset %s is a new source", view->sources[i].dataset);
			continue;
		}
		r->last[i] = dp_refresh_int64(0, 4);
		if (dp_refresh_int64(0, 5) != r->major[i])
		{
			r->full = true;
			r->full_reason = psprintf("dataset %s changed its specification to version %d",
									  view->sources[i].dataset, r->major[i]);
		}
		else if ((dp_spi_getvalue(0, 6) == NULL) != (dp_spi_getvalue(0, 7) == NULL) ||
				 (dp_spi_getvalue(0, 6) && strcmp(dp_spi_getvalue(0, 6), dp_spi_getvalue(0, 7)) != 0))
		{
			r->full = true;
			r->full_reason = psprintf("dataset %s was rebuilt", view->sources[i].dataset);
		}
		else if (dp_spi_getvalue(0, 8) == NULL)
		{
			/* retention dropped feed it had not read, or a view of 0.1 */
			r->full = true;
			r->full_reason = psprintf("the change feed of dataset %s does not reach back to the last refresh",
									  view->sources[i].dataset);
		}
		else if (strtoul(dp_spi_getvalue(0, 8), NULL, 10) != r->filenode[i])
		{
			/* rewritten (VACUUM FULL, CLUSTER, a restore): the feed's TIDs are stale */
			r->full = true;
			r->full_reason = psprintf("the table of dataset %s was rewritten", view->sources[i].dataset);
		}
		if (r->wm[i] > r->last[i])
			pending = true;
	}
	if (view->time_dependent)
		pending = true;
	return pending || r->full;
}

static void
drop_temps(DpRefresh *r)
{
	ListCell   *lc;

	foreach(lc, r->temps)
		dp_spi_exec(psprintf("DROP TABLE %s", (char *) lfirst(lc)), 0, NULL, NULL, NULL);
	r->temps = NIL;
}

static void
apply(DpRefresh *r)
{
	if (r->full || r->publishing)
		apply_full(r);
	else if (r->view->method == DP_VIEW_AGGREGATE)
		dp_aggregate_apply_delta(r);
	else if (r->view->method == DP_VIEW_KEYED)
		apply_keyed(r);
	else
	{
		r->full = true;
		apply_full(r);
	}
}

static const char *
mode_of(DpRefresh *r)
{
	if (r->publishing)
		return "publish";
	return r->full || r->view->method == DP_VIEW_FULL ? "full" : "incremental";
}

static double
elapsed_ms(DpRefresh *r)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, r->start);
	return INSTR_TIME_GET_MILLISEC(now);
}

static char *
result_json(DpRefresh *r, const char *status, int64 rows, const char *expectations, double ms)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"view\": ");
	escape_json(&buf, r->view->name);
	appendStringInfo(&buf, ", \"status\": \"%s\", \"mode\": \"%s\", \"method\": \"%s\"",
					 status, mode_of(r), dp_view_method_name(r->view->method));
	if (strcmp(status, "unchanged") != 0)
		appendStringInfo(&buf, ", \"inserted\": " INT64_FORMAT ", \"updated\": " INT64_FORMAT
						 ", \"deleted\": " INT64_FORMAT,
						 r->ins, r->upd, r->del);
	appendStringInfo(&buf, ", \"rows\": " INT64_FORMAT ", \"ms\": %.3f", rows, ms);
	if (r->full && r->full_reason && !r->publishing)
	{
		appendStringInfoString(&buf, ", \"reason\": ");
		escape_json(&buf, r->full_reason);
	}
	else if (r->view->method == DP_VIEW_FULL && r->view->reason)
	{
		appendStringInfoString(&buf, ", \"reason\": ");
		escape_json(&buf, r->view->reason);
	}
	appendStringInfo(&buf, ", \"expectations\": %s}", expectations ? expectations : "[]");
	return buf.data;
}

/*
 * The rebuild stamp (see refresh_begin) of dataset x.dataset at its new
 * watermark x.last.
 */
#define SOURCE_STAMP "(SELECT EXTRACT(epoch FROM b.processed_at)::text FROM dataplatform.batch b " \
	"WHERE b.dataset >= x.dataset AND b.dataset <= x.dataset AND b.id <= x.last AND b.status = 'done' " \
	"ORDER BY b.dataset DESC, b.id DESC LIMIT 1)"

/*
 * Record the run: the log, the view's row, and (when published) the
 * watermarks, in one statement (a new session's refresh parses and plans
 * each).  The watermarks of the sources the view has read before are
 * updated in place; a source new to the view (publish, a new source) takes
 * a second statement that inserts its row (whose trigger makes every
 * session reload its agreements, which an update of the watermarks does not
 * need).
 */
static void
record(DpRefresh *r, const char *status, int64 rows, const char *expectations,
	   const char *result, double ms, bool advance)
{
	DpView	   *view = r->view;
	int			nargs = 13 + 4 * view->nsources;
	const char **args = palloc(sizeof(char *) * nargs);
	StringInfoData sql,
				sources;
	int			i;

	args[0] = view->name;
	args[1] = mode_of(r);
	args[2] = status;
	args[3] = psprintf(INT64_FORMAT, r->ins);
	args[4] = psprintf(INT64_FORMAT, r->upd);
	args[5] = psprintf(INT64_FORMAT, r->del);
	args[6] = psprintf(INT64_FORMAT, rows);
	args[7] = psprintf("%.3f", ms);
	args[8] = expectations ? expectations : "[]";
	args[9] = r->full ? r->full_reason : NULL;
	args[10] = GetUserNameFromId(dp_caller_id(), false);
	args[11] = result;
	args[12] = advance ? psprintf(INT64_FORMAT, rows) : NULL;
	initStringInfo(&sources);
	appendStringInfoString(&sources, "(VALUES ");
	for (i = 0; i < view->nsources; i++)
	{
		args[13 + 4 * i] = view->sources[i].dataset;
		args[14 + 4 * i] = psprintf(INT64_FORMAT, r->wm[i]);
		args[15 + 4 * i] = psprintf("%d", r->major[i]);
		args[16 + 4 * i] = psprintf("%u", r->filenode[i]);
		appendStringInfo(&sources, "%s($%d, $%d::bigint, $%d::integer, $%d::oid)", i ? ", " : "",
						 14 + 4 * i, 15 + 4 * i, 16 + 4 * i, 17 + 4 * i);
	}
	appendStringInfoString(&sources, ") x(dataset, last, major, filenode)");

	initStringInfo(&sql);
	appendStringInfoString(&sql, "WITH l AS (INSERT INTO dataplatform.refresh_log (view, mode, status, inserted, "
						   "updated, deleted, row_count, ms, expectations, reason, refreshed_by) VALUES ($1, $2, "
						   "$3, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::numeric, $9::jsonb, $10, "
						   "$11::name)), v AS (UPDATE dataplatform.consumer_view SET refreshed_at = pg_catalog.now(), "
						   "last_status = $3, last_result = $12::jsonb, row_count = COALESCE($13::bigint, row_count) "
						   "WHERE name = $1) ");
	if (!advance || view->nsources == 0)
	{
		appendStringInfoString(&sql, "SELECT");
		dp_spi_exec_text_kept(sql.data, 13, args);
		return;
	}
	appendStringInfo(&sql, "UPDATE dataplatform.consumer_source s SET last_batch = x.last, spec_major = x.major, "
					 "filenode = x.filenode, "
					 "batch_stamp = " SOURCE_STAMP " FROM %s WHERE s.view = $1 AND s.dataset = x.dataset",
					 sources.data);
	if (dp_spi_exec_text_kept(sql.data, nargs, args) == (uint64) view->nsources)
		return;

	/* a source new to the view */
	resetStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO dataplatform.consumer_source (view, dataset, last_batch, batch_stamp, "
					 "spec_major, filenode) SELECT $1, x.dataset, x.last, " SOURCE_STAMP ", x.major, x.filenode FROM %s "
					 "ON CONFLICT (view, dataset) DO UPDATE SET last_batch = excluded.last_batch, "
					 "batch_stamp = excluded.batch_stamp, spec_major = excluded.spec_major, "
					 "filenode = excluded.filenode", sources.data);
	dp_spi_exec_text(sql.data, nargs, args);
}

DpRefresh *
dp_refresh_fill(DpView *view, const char *qtable)
{
	DpRefresh  *r = palloc0(sizeof(DpRefresh));

	INSTR_TIME_SET_CURRENT(r->start);
	r->view = view;
	r->qtable = pstrdup(qtable);
	r->qstate = dp_view_state_qualified(view->name);
	r->publishing = true;
	r->rows_before = -1;
	refresh_begin(r);
	apply(r);
	drop_temps(r);
	return r;
}

char *
dp_refresh_publish_done(DpRefresh *r, json_t *expect)
{
	StringInfoData ex;
	char	   *result;
	double		ms;

	r->qtable = dp_view_qualified(r->view->name);
	initStringInfo(&ex);
	if (!dp_expect_evaluate(expect, r->view, r->qtable, NULL, -1, r->ins, expect_exec, r, &ex))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("view \"%s\" fails its expectations", r->view->name),
				 errdetail("Results: %s", ex.data),
				 errhint("Nothing was published. Fix the data or the expectations.")));
	ms = elapsed_ms(r);
	result = result_json(r, "ok", r->ins, ex.data, ms);
	record(r, "ok", r->ins, ex.data, result, ms, true);
	dp_refresh_openlineage(r, "ok", r->ins, ex.data, ms);
	UnregisterSnapshot(r->snap);
	return result;
}

/* refresh_view's work in its subtransaction: the new contents, then the expectations */
typedef struct ApplyAttempt
{
	DpRefresh  *r;
	json_t	   *expect;
	int64		rows_before;
	int64		rows;			/* out: the rows after */
	bool		passed;			/* out: every expectation held */
	StringInfoData ex;			/* out: the expectations' results */
} ApplyAttempt;

/*
 * Apply the changes and evaluate the expectations; true (keep the new
 * contents) when they passed, false (roll them back) when one failed.
 */
static bool
apply_and_expect(void *arg)
{
	ApplyAttempt *a = arg;
	DpRefresh  *r = a->r;

	apply(r);
	a->rows = a->rows_before + r->ins - r->del;
	initStringInfo(&a->ex);
	a->passed = dp_expect_evaluate(a->expect, r->view, r->qtable, r->changed, a->rows_before,
								   a->rows, expect_exec, r, &a->ex);
	if (a->passed)
		drop_temps(r);
	return a->passed;
}

/*
 * Refresh one view (caller is connected to SPI and holds its catalog row
 * lock).  Returns the result as JSON text.
 */
static char *
refresh_view(DpView *view, json_t *expect, bool force_full, int64 rows_before)
{
	DpRefresh  *r = palloc0(sizeof(DpRefresh));
	MemoryContext cxt = CurrentMemoryContext;
	ApplyAttempt attempt;
	ErrorData  *e;
	StringInfoData ex;
	bool		passed;
	int64		rows;
	char	   *result;
	double		ms;

	INSTR_TIME_SET_CURRENT(r->start);
	r->view = view;
	r->qtable = dp_view_qualified(view->name);
	r->qstate = dp_view_state_qualified(view->name);
	r->rows_before = rows_before;
	if (force_full)
	{
		r->full = true;
		r->full_reason = pstrdup("full refresh was requested");
	}
	if (!refresh_begin(r))
	{
		UnregisterSnapshot(r->snap);
		return result_json(r, "unchanged", rows_before, NULL, elapsed_ms(r));
	}
	if (view->method == DP_VIEW_FULL && !r->full)
	{
		r->full = true;
		r->full_reason = view->reason;
	}

	/* the new contents, and their expectations, in a subtransaction */
	attempt.r = r;
	attempt.expect = expect;
	attempt.rows_before = rows_before;
	MemoryContextSwitchTo(cxt);
	e = dp_try_in_subxact(apply_and_expect, &attempt);
	if (e != NULL)
		ReThrowError(e);
	passed = attempt.passed;
	rows = attempt.rows;
	ex = attempt.ex;
	r->temps = NIL;

	ms = elapsed_ms(r);
	if (!passed)
	{
		result = result_json(r, "rejected", rows_before, ex.data, ms);
		record(r, "rejected", rows_before, ex.data, result, ms, false);
		dp_refresh_openlineage(r, "rejected", rows_before, ex.data, ms);
		ereport(WARNING,
				(errmsg("refresh of view \"%s\" rejected: an expectation failed", view->name),
				 errdetail("Results: %s", ex.data),
				 errhint("The previous contents stay published; see dataplatform.refresh_log.")));
	}
	else
	{
		result = result_json(r, "ok", rows, ex.data, ms);
		record(r, "ok", rows, ex.data, result, ms, true);
		dp_refresh_openlineage(r, "ok", rows, ex.data, ms);
	}
	UnregisterSnapshot(r->snap);
	return result;
}

/* set by refresh_by_name when the view is not published (refresh_guarded) */
static bool refresh_view_missing = false;

/*
 * Lock a published view's row, analyse its stored definition and refresh it.
 * An unpublished view is an ERROR, with refresh_view_missing set.
 */
static char *
refresh_by_name(const char *name, bool force_full)
{
	const char *args[1];
	char	   *definition;
	char	   *refresh;
	char	   *method;
	char	   *expect_text;
	int64		rows_before;
	List	   *key = NIL;
	DpView	   *view;
	Jsonb	   *expectb;
	json_t	   *expect;
	char	   *result;
	uint64		n,
				i;

	args[0] = name;
	refresh_view_missing = false;
	if (dp_spi_exec_text_kept("SELECT definition, refresh, method, expect::text, row_count, key "
							  "FROM dataplatform.consumer_view WHERE name = $1 FOR UPDATE", 1, args) == 0)
	{
		refresh_view_missing = true;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("view \"%s\" is not published", name),
				 errhint("dataplatform.consumer_status lists the published views.")));
	}
	definition = dp_spi_getvalue(0, 1);
	refresh = dp_spi_getvalue(0, 2);
	method = dp_spi_getvalue(0, 3);
	expect_text = dp_spi_getvalue(0, 4);
	rows_before = dp_refresh_int64(0, 5);
	{
		bool		isnull;
		Datum		k = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull);
		Datum	   *elems;
		int			nelems;

		if (!isnull)
		{
			deconstruct_array(DatumGetArrayTypeP(k), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, NULL, &nelems);
			for (i = 0; i < (uint64) nelems; i++)
				key = lappend(key, TextDatumGetCString(elems[i]));
		}
	}

	view = dp_view_analyze(name, definition, false);
	dp_view_choose(view, key, refresh);
	if (strcmp(method, dp_view_method_name(view->method)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("view \"%s\" must be published again", name),
				 errdetail("It was published for the %s method; its datasets changed and its query now allows the %s method.",
						   method, dp_view_method_name(view->method)),
				 errhint("Call dataplatform.publish with {\"replace\": true}.")));
	/* the table's columns still match the query's (read from the relation cache) */
	{
		Oid			relid = get_relname_relid(name, get_namespace_oid("dp_consumer_data", false));
		Relation	rel;
		TupleDesc	td;
		int			a;

		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"dp_consumer_data.%s\" does not exist", name)));
		rel = table_open(relid, AccessShareLock);
		td = RelationGetDescr(rel);
		n = 0;
		for (a = 0; a < td->natts; a++)
			if (!TupleDescAttr(td, a)->attisdropped)
				n++;
		if ((int) n != view->ncols)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("view \"%s\" must be published again", name),
					 errdetail("Its table has %d columns; its query now gives %d.", (int) n, view->ncols),
					 errhint("Call dataplatform.publish with {\"replace\": true}.")));
		n = 0;
		for (a = 0; a < td->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(td, a);
			char	   *type;

			if (att->attisdropped)
				continue;
			type = format_type_with_typemod(att->atttypid, att->atttypmod);
			if (strcmp(NameStr(att->attname), view->cols[n].name) != 0 ||
				strcmp(type, view->cols[n].type) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("view \"%s\" must be published again", name),
						 errdetail("Column %s of its table is %s %s; its query now gives %s %s.",
								   psprintf("%d", (int) n + 1), NameStr(att->attname), type,
								   view->cols[n].name, view->cols[n].type),
						 errhint("Call dataplatform.publish with {\"replace\": true}.")));
			n++;
		}
		table_close(rel, NoLock);
	}

	expectb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(expect_text)));
	expect = dp_consumer_json(expectb, "the expectations");
	result = refresh_view(view, expect, force_full, rows_before);
	json_decref(expect);
	if (strstr(result, "\"status\": \"unchanged\"") == NULL)
		dp_audit("refresh", name, result);
	return result;
}

/*
 * Whether a refresh's error is the refresh failing (logged, the others go
 * on) rather than the session being cancelled or shut down (raised).
 */
static bool
refresh_failure_is_loggable(const ErrorData *e)
{
	return e->sqlerrcode != ERRCODE_QUERY_CANCELED &&
		e->sqlerrcode != ERRCODE_ADMIN_SHUTDOWN &&
		e->sqlerrcode != ERRCODE_CRASH_SHUTDOWN &&
		e->sqlerrcode != ERRCODE_OUT_OF_MEMORY;
}

/*
 * A failed refresh of view `name` (its subtransaction rolled back): a
 * refresh_log row, the view's last status, a WARNING; returns the result
 * (JSON text).  Connected to SPI.
 */
static char *
record_failure(const char *name, const ErrorData *e, TimestampTz started)
{
	StringInfoData buf;
	const char *args[3];

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"view\": ");
	escape_json(&buf, name);
	appendStringInfo(&buf, ", \"status\": \"failed\", \"sqlstate\": \"%s\", \"error\": ",
					 unpack_sql_state(e->sqlerrcode));
	escape_json(&buf, e->message);
	appendStringInfoChar(&buf, '}');
	args[0] = name;
	args[1] = psprintf("%s: %s", unpack_sql_state(e->sqlerrcode), e->message);
	args[2] = GetUserNameFromId(dp_caller_id(), false);
	dp_spi_exec_text("INSERT INTO dataplatform.refresh_log (view, mode, status, error, refreshed_by) "
					 "VALUES ($1, 'none', 'failed', $2, $3::name)", 3, args);
	args[1] = "failed";
	args[2] = buf.data;
	dp_spi_exec_text("UPDATE dataplatform.consumer_view SET last_status = $2, last_result = $3::jsonb "
					 "WHERE name = $1", 3, args);
	dp_refresh_openlineage_failed(name, started, e->message);
	ereport(WARNING,
			(errmsg("refresh of view \"%s\" failed: %s", name, e->message),
			 e->detail ? errdetail("%s", e->detail) : 0,
			 errhint("The previous contents stay published; see dataplatform.refresh_log.")));
	return buf.data;
}

/* refresh_guarded's call in its subtransaction */
typedef struct GuardedRefresh
{
	const char *name;
	bool		full;
	char	   *result;			/* out: refresh_by_name's */
} GuardedRefresh;

static bool
refresh_by_name_call(void *arg)
{
	GuardedRefresh *g = arg;

	g->result = refresh_by_name(g->name, g->full);
	return true;
}

/*
 * Refresh one view in a subtransaction of its own, in the SPI connection
 * and memory context current at the call: a failure that may be logged
 * (not a cancel) is rolled back and recorded (record_failure), and its
 * result returned as a refresh's; any other error is raised again, and so
 * is "not published" when missing_is_error (refresh() of an unknown view;
 * refresh_all records a view unpublished since it listed it).
 */
static char *
refresh_guarded(const char *name, bool full, TimestampTz started, bool missing_is_error)
{
	GuardedRefresh g = {name, full, NULL};
	ErrorData  *e;
	char	   *result;

	e = dp_try_in_subxact(refresh_by_name_call, &g);
	if (e == NULL)
		return g.result;
	if (!refresh_failure_is_loggable(e) || (missing_is_error && refresh_view_missing))
		ReThrowError(e);
	result = record_failure(name, e, started);
	FreeErrorData(e);
	return result;
}

/*
 * refresh(name text, full boolean) RETURNS jsonb.  An unknown view is an
 * error; a refresh that fails (its subtransaction rolled back) is recorded
 * as refresh_all records it: a refresh_log row, the view's last status, a
 * WARNING, a FAIL run event, and a result with status "failed".
 */
static Datum
refresh_call(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	bool		full;
	MemoryContext result_cxt = CurrentMemoryContext;
	char	   *result;
	Datum		ret;
	TimestampTz started = GetCurrentTimestamp();

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("full must not be null")));
	full = PG_GETARG_BOOL(1);
	dp_require_admin("refresh a view");
	SPI_connect();
	/* an unknown view is an error, not a failed refresh */
	result = refresh_guarded(name, full, started, true);
	MemoryContextSwitchTo(result_cxt);
	ret = DirectFunctionCall1(jsonb_in, CStringGetDatum(result));
	SPI_finish();
	PG_RETURN_DATUM(ret);
}

/* the SQL function: a failed call leaves its OpenLineage FAIL (openlineage_fail.c) */
Datum
dp_refresh(PG_FUNCTION_ARGS)
{
	return dp_ol_call(fcinfo, refresh_call, "refresh");
}

/*
 * refresh_all(): every view with pending changes, one subtransaction each,
 * in dependency order (views read only datasets, so any order is one: by
 * name).  A view whose refresh fails is logged and skipped.
 */
Datum
dp_refresh_all(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		n,
				i;
	char	  **names;

	dp_require_admin("refresh views");
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	n = dp_spi_exec("SELECT name FROM dataplatform.consumer_view ORDER BY name", 0, NULL, NULL, NULL);
	names = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
		names[i] = dp_spi_getvalue(i, 1);
	for (i = 0; i < n; i++)
	{
		char	   *result = NULL;
		Datum		values[2];
		bool		nulls[2] = {false, false};
		TimestampTz started = GetCurrentTimestamp();

		result = refresh_guarded(names[i], false, started, false);
		if (strstr(result, "\"status\": \"unchanged\"") != NULL)
			continue;
		values[0] = CStringGetTextDatum(names[i]);
		values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(result));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	dp_audit("refresh_all", NULL, psprintf("{\"views\": %llu}", (unsigned long long) n));
	SPI_finish();
	return (Datum) 0;
}
