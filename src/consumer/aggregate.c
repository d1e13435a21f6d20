/*
 * aggregate.c
 *		The aggregate method of refresh: the contents of an aggregate view's
 *		state table, dp_consumer_state.<view> (created by publish.c: per
 *		group its key, the row count _rows, _c<i> per count, _s<i> and _n<i>
 *		per sum or avg, _m<i> and the number of rows holding it _k<i> per min
 *		or max, and _dirty), computed from the dataset (publish, full
 *		refresh, groups whose min or max lost its holders), moved by the
 *		deltas of the changed rows (incremental refresh), and turned into the
 *		view's rows for the diff (diff.c): carried in arrays by an
 *		incremental refresh (the groups' new state, the recomputed state of
 *		dirty groups, the view rows), in pg_temp.dp_new by a full one.
 *
 * Runs inside a refresh begun by refresh.c, every statement through
 * dp_refresh_exec under the refresh's snapshot.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/guc.h"

#include "change_feed.h"
#include "consumer.h"

static const char *
agg_filter(const DpViewColumn *c, const char *extra)
{
	if (c->filter && extra)
		return psprintf(" FILTER (WHERE (%s) AND %s)", c->filter, extra);
	if (c->filter)
		return psprintf(" FILTER (WHERE %s)", c->filter);
	if (extra)
		return psprintf(" FILTER (WHERE %s)", extra);
	return "";
}

/* SELECT list of the state of whole groups (for fills and recomputes). */
static char *
state_select_full(const DpView *view)
{
	StringInfoData buf;
	int			k,
				i;

	initStringInfo(&buf);
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&buf, "%s AS %s, ", view->cols[view->key[k]].gexpr,
						 quote_identifier(view->cols[view->key[k]].name));
	appendStringInfoString(&buf, "pg_catalog.count(*)");
	for (i = 0; i < view->ncols; i++)
	{
		const DpViewColumn *c = &view->cols[i];
		char	   *nn = c->arg ? psprintf("(%s) IS NOT NULL", c->arg) : NULL;

		switch (c->agg)
		{
			case DP_AGG_COUNT_STAR:
				appendStringInfo(&buf, ", pg_catalog.count(*)%s", agg_filter(c, NULL));
				break;
			case DP_AGG_COUNT:
				appendStringInfo(&buf, ", pg_catalog.count(%s)%s", c->arg, agg_filter(c, NULL));
				break;
			case DP_AGG_SUM:
			case DP_AGG_AVG:
				appendStringInfo(&buf, ", COALESCE(pg_catalog.sum((%s)::pg_catalog.numeric)%s, 0), "
								 "pg_catalog.count(%s)%s",
								 c->arg, agg_filter(c, nn), c->arg, agg_filter(c, NULL));
				break;
			case DP_AGG_MIN:
				appendStringInfo(&buf, ", pg_catalog.min(%s)%s, 0", c->arg, agg_filter(c, NULL));
				break;
			case DP_AGG_MAX:
				appendStringInfo(&buf, ", pg_catalog.max(%s)%s, 0", c->arg, agg_filter(c, NULL));
				break;
			case DP_AGG_NONE:
				break;
		}
	}
	appendStringInfoString(&buf, ", false");
	return buf.data;
}

static char *
group_positions(const DpView *view)
{
	StringInfoData buf;
	int			k;

	initStringInfo(&buf);
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&buf, "%s%d", k ? ", " : "", k + 1);
	return buf.data;
}

/* The view's columns of a state row t, in the view's order. */
static char *
view_columns_of_state(const DpView *view)
{
	StringInfoData sql;
	int			i;

	initStringInfo(&sql);
	for (i = 0; i < view->ncols; i++)
	{
		const DpViewColumn *c = &view->cols[i];

		if (i)
			appendStringInfoString(&sql, ", ");
		switch (c->agg)
		{
			case DP_AGG_NONE:
				appendStringInfo(&sql, "t.%s", quote_identifier(c->name));
				break;
			case DP_AGG_COUNT_STAR:
			case DP_AGG_COUNT:
				appendStringInfo(&sql, "t._c%d", i);
				break;
			case DP_AGG_SUM:
				appendStringInfo(&sql, "(CASE WHEN t._n%d > 0 THEN t._s%d END)::%s", i, i, c->type);
				break;
			case DP_AGG_AVG:
				appendStringInfo(&sql, "(CASE WHEN t._n%d > 0 THEN t._s%d / t._n%d END)::%s", i, i, i, c->type);
				break;
			case DP_AGG_MIN:
			case DP_AGG_MAX:
				appendStringInfo(&sql, "t._m%d", i);
				break;
		}
	}
	return sql.data;
}

/* Fill pg_temp.dp_new with the view's rows of every group (full refresh, publish). */
void
dp_aggregate_new_rows(DpRefresh *r)
{
	dp_refresh_temp_table(r, "dp_new", psprintf("AS SELECT * FROM %s WITH NO DATA", r->qtable));
	dp_refresh_exec(r, psprintf("INSERT INTO pg_temp.dp_new SELECT %s FROM %s t",
								view_columns_of_state(r->view), r->qstate), false);
}

/*
 * The number of rows holding each group's min/max (so that removing one
 * holder does not force a recompute while others remain): one scan of the
 * dataset joined to the fresh groups of fresh (a table or CTE with the state
 * table's columns).  Returns the SELECT (grouping columns and _k<i>), or
 * NULL when the view has no min or max.
 */
static char *
holders_select(const DpView *view, const char *fresh)
{
	const DpViewSource *s = &view->sources[view->driver];
	StringInfoData sql,
				sel,
				on,
				at_extreme;
	int			i,
				k;
	bool		any = false;

	initStringInfo(&at_extreme);
	initStringInfo(&sel);
	initStringInfo(&on);
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&on, "%s(%s) = f.%s", k ? " AND " : "", view->cols[view->key[k]].gexpr,
						 quote_identifier(view->cols[view->key[k]].name));
	for (i = 0; i < view->ncols; i++)
	{
		const DpViewColumn *c = &view->cols[i];

		if (c->agg != DP_AGG_MIN && c->agg != DP_AGG_MAX)
			continue;
		appendStringInfo(&sel, ", pg_catalog.count(*)%s AS _k%d", agg_filter(c, psprintf("(%s) = f._m%d", c->arg, i)), i);
		appendStringInfo(&at_extreme, "%s(%s) = f._m%d", any ? " OR " : "", c->arg, i);
		any = true;
	}
	if (!any)
		return NULL;
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s%s FROM dp_clean.%s s JOIN %s f ON %s WHERE (%s) AND (%s) GROUP BY %s",
					 dp_refresh_key_list(view, "f."), sel.data, quote_identifier(s->table), fresh, on.data,
					 view->quals ? view->quals : "true", at_extreme.data, dp_refresh_key_list(view, "f."));
	return sql.data;
}

/* The holder counts of pg_temp.dp_fresh (full recompute). */
static void
count_holders(DpRefresh *r)
{
	DpView	   *view = r->view;
	char	   *sel = holders_select(view, "pg_temp.dp_fresh");
	StringInfoData set;
	int			i;

	if (sel == NULL)
		return;
	initStringInfo(&set);
	for (i = 0; i < view->ncols; i++)
		if (view->cols[i].agg == DP_AGG_MIN || view->cols[i].agg == DP_AGG_MAX)
			appendStringInfo(&set, "%s_k%d = c._k%d", set.len ? ", " : "", i, i);
	dp_refresh_exec(r, psprintf("UPDATE pg_temp.dp_fresh u SET %s FROM (%s) c WHERE %s",
								set.data, sel, dp_refresh_key_match(view, "u", "c")), true);
}

/*
 * The state table's columns in its order (publish.c's): their names
 * (prefix NULL), or the expressions of a state row of fresh groups f whose
 * holder counts come from c.
 */
static char *
state_columns(const DpView *view, bool fresh_row)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s, %s_rows", dp_refresh_key_list(view, fresh_row ? "f." : NULL), fresh_row ? "f." : "");
	for (i = 0; i < view->ncols; i++)
	{
		const char *f = fresh_row ? "f." : "";

		switch (view->cols[i].agg)
		{
			case DP_AGG_COUNT_STAR:
			case DP_AGG_COUNT:
				appendStringInfo(&buf, ", %s_c%d", f, i);
				break;
			case DP_AGG_SUM:
			case DP_AGG_AVG:
				appendStringInfo(&buf, ", %s_s%d, %s_n%d", f, i, f, i);
				break;
			case DP_AGG_MIN:
			case DP_AGG_MAX:
				if (fresh_row)
					appendStringInfo(&buf, ", f._m%d, COALESCE(c._k%d, 0)", i, i);
				else
					appendStringInfo(&buf, ", _m%d, _k%d", i, i);
				break;
			case DP_AGG_NONE:
				break;
		}
	}
	appendStringInfo(&buf, ", %s_dirty", fresh_row ? "f." : "");
	return buf.data;
}

/*
 * Incremental: recompute the state of the groups marked dirty, carried as
 * an array of state rows in $1 (no temporary table): one statement computes
 * the groups and their holder counts, then the dirty rows are replaced.
 * $1 is free here (apply_delta sets it to the view rows afterwards).
 */
static void
recompute_dirty(DpRefresh *r)
{
	DpView	   *view = r->view;
	DpViewSource *s = &view->sources[view->driver];
	char	   *holders;
	StringInfoData sql;
	int			k;

	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH f(%s) AS MATERIALIZED (SELECT %s FROM dp_clean.%s s WHERE %s AND (",
					 state_columns(view, false), state_select_full(view), quote_identifier(s->table),
					 view->quals ? view->quals : "true");
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&sql, "%s%s", k ? ", " : "", view->cols[view->key[k]].gexpr);
	appendStringInfo(&sql, ") IN (SELECT %s FROM %s WHERE _dirty) GROUP BY %s)",
					 dp_refresh_key_list(view, NULL), r->qstate, group_positions(view));
	holders = holders_select(view, "f");
	if (holders)
		appendStringInfo(&sql, ", c AS (%s)", holders);
	appendStringInfo(&sql, " SELECT pg_catalog.array_agg(ROW(%s)::%s) FROM f%s%s",
					 state_columns(view, true), r->qstate, holders ? " LEFT JOIN c ON " : "",
					 holders ? dp_refresh_key_match(view, "c", "f") : "");
	dp_refresh_exec(r, sql.data, true);
	dp_refresh_keep_array(r, 1, 1);
	dp_refresh_check_null_keys(r, r->new_from);
	dp_refresh_exec(r, psprintf("DELETE FROM %s WHERE _dirty", r->qstate), false);
	dp_refresh_exec(r, psprintf("INSERT INTO %s SELECT * FROM %s", r->qstate, r->new_from), false);
}

/* Whether every min and max of the view is read through an index (publish.c). */
static bool
extremes_indexed(const DpView *view)
{
	int			i;
	bool		any = false;

	if (!view->indexable)
		return false;
	for (i = 0; i < view->ncols; i++)
		if (view->cols[i].agg == DP_AGG_MIN || view->cols[i].agg == DP_AGG_MAX)
		{
			if (view->cols[i].index_col == NULL)
				return false;
			any = true;
		}
	return any;
}

/*
 * Recompute the state of the groups marked dirty (or of every group: all,
 * for a full refresh or publish, through a temporary table).
 */
void
dp_aggregate_recompute(DpRefresh *r, bool all)
{
	DpView	   *view = r->view;
	DpViewSource *s = &view->sources[view->driver];

	if (!all)
	{
		recompute_dirty(r);
		return;
	}
	dp_refresh_temp_table(r, "dp_fresh", psprintf("(LIKE %s)", r->qstate));
	dp_refresh_exec(r, psprintf("INSERT INTO pg_temp.dp_fresh SELECT %s FROM dp_clean.%s s WHERE %s GROUP BY %s",
								state_select_full(view), quote_identifier(s->table),
								view->quals ? view->quals : "true", group_positions(view)), true);
	dp_refresh_check_null_keys(r, "pg_temp.dp_fresh");
	count_holders(r);
	dp_refresh_exec(r, psprintf("DELETE FROM %s", r->qstate), false);
	dp_refresh_exec(r, psprintf("INSERT INTO %s SELECT * FROM pg_temp.dp_fresh", r->qstate), false);
}

/*
 * Incremental aggregate: the deltas of the changed rows per group, added to
 * the groups' state, carried as the groups' new state rows ($2, an array of
 * the state table's rows); one statement writes them (INSERT ... ON
 * CONFLICT, and DELETE of groups left empty) and returns the affected
 * groups' view rows ($1); then the diff.
 *
 * For a min (max symmetric) the delta has the plus rows' min _p with the
 * number of plus rows at it _pk, and the minus rows' min _q with _qk.  The
 * state keeps the min _m and the number of rows holding it _k.  Removing
 * holders while others remain keeps the min; a smaller new value replaces
 * it; only when every holder goes and nothing as small comes is the group
 * recomputed ("dirty").  When publish made the index on (grouping columns,
 * argument), holders are not counted at all: a group from which a value as
 * small as its min was removed reads its min again through the index, one
 * probe inside the statement that computes the deltas (no window over the
 * changed rows, no second pass).  The whole group is recomputed when the
 * state was inconsistent (a minus in a group it does not hold) or, without
 * the index, dirty.
 */
void
dp_aggregate_apply_delta(DpRefresh *r)
{
	DpView	   *view = r->view;
	int			si = view->driver;
	DpViewSource *s = &view->sources[si];
	StringInfoData sql,
				sel,
				win,
				row,
				dirty,
				set,
				group_match;
	int			i,
				k;
	bool		has_minmax = false;
	bool		inconsistent,
				any_dirty;
	char	   *nullkey;
	bool		indexed = extremes_indexed(view);
	int			nest;

	dp_refresh_init_params(r);

	/* the deltas per group, columns named as in the comment above */
	initStringInfo(&sel);
	initStringInfo(&win);
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&sel, "s._g%d AS %s, ", k, quote_identifier(view->cols[view->key[k]].name));
	appendStringInfoString(&sel, "pg_catalog.sum(s._sign) AS _rows, pg_catalog.count(*) FILTER (WHERE s._sign < 0) AS _minus");
	for (i = 0; i < view->ncols; i++)
	{
		const DpViewColumn *c = &view->cols[i];
		char	   *nn = c->arg ? psprintf("(%s) IS NOT NULL", c->arg) : NULL;
		const char *fn = c->agg == DP_AGG_MIN ? "min" : "max";

		switch (c->agg)
		{
			case DP_AGG_COUNT_STAR:
				appendStringInfo(&sel, ", pg_catalog.sum(s._sign)%s AS _c%d", agg_filter(c, NULL), i);
				break;
			case DP_AGG_COUNT:
				appendStringInfo(&sel, ", pg_catalog.sum(s._sign)%s AS _c%d", agg_filter(c, nn), i);
				break;
			case DP_AGG_SUM:
			case DP_AGG_AVG:
				/* the value or its negation (no conversion of the sign and multiplication per row) */
				appendStringInfo(&sel, ", pg_catalog.sum(CASE WHEN s._sign > 0 THEN (%s)::pg_catalog.numeric "
								 "ELSE OPERATOR(pg_catalog.-) (%s)::pg_catalog.numeric END)%s AS _s%d, "
								 "pg_catalog.sum(s._sign)%s AS _n%d", c->arg, c->arg, agg_filter(c, nn), i,
								 agg_filter(c, nn), i);
				break;
			case DP_AGG_MIN:
			case DP_AGG_MAX:
				has_minmax = true;
				if (indexed)
				{
					/* holders are not counted: a lost extreme is read back through the index */
					appendStringInfo(&sel, ", pg_catalog.%s(%s)%s AS _p%d, pg_catalog.%s(%s)%s AS _q%d",
									 fn, c->arg, agg_filter(c, "s._sign > 0"), i,
									 fn, c->arg, agg_filter(c, "s._sign < 0"), i);
					break;
				}
				appendStringInfo(&sel, ", pg_catalog.%s(%s)%s AS _p%d, pg_catalog.count(*)%s AS _pk%d, "
								 "pg_catalog.%s(%s)%s AS _q%d, pg_catalog.count(*)%s AS _qk%d",
								 fn, c->arg, agg_filter(c, "s._sign > 0"), i,
								 agg_filter(c, psprintf("s._sign > 0 AND (%s) = s._wp%d", c->arg, i)), i,
								 fn, c->arg, agg_filter(c, "s._sign < 0"), i,
								 agg_filter(c, psprintf("s._sign < 0 AND (%s) = s._wq%d", c->arg, i)), i);
				/* the plus and minus extremes of each row's group, for the holder counts */
				appendStringInfo(&win, ", pg_catalog.%s(%s)%s OVER w AS _wp%d, pg_catalog.%s(%s)%s OVER w AS _wq%d",
								 fn, c->arg, agg_filter(c, "s._sign > 0"), i,
								 fn, c->arg, agg_filter(c, "s._sign < 0"), i);
				break;
			case DP_AGG_NONE:
				break;
		}
	}

	/* the groups' new state: the state (none for a new group) plus the delta */
	initStringInfo(&group_match);
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&group_match, "(%s) = d.%s AND ", view->cols[view->key[k]].gexpr,
						 quote_identifier(view->cols[view->key[k]].name));
	if (view->quals)
		appendStringInfo(&group_match, "(%s) AND ", view->quals);
	initStringInfo(&row);
	initStringInfo(&dirty);
	initStringInfo(&set);
	appendStringInfo(&row, "%s, COALESCE(t._rows, 0) + d._rows", dp_refresh_key_list(view, "d."));
	appendStringInfoString(&set, "_rows = excluded._rows");
	for (i = 0; i < view->ncols; i++)
	{
		const DpViewColumn *c = &view->cols[i];

		switch (c->agg)
		{
			case DP_AGG_COUNT_STAR:
			case DP_AGG_COUNT:
				appendStringInfo(&row, ", COALESCE(t._c%d, 0) + COALESCE(d._c%d, 0)", i, i);
				appendStringInfo(&set, ", _c%d = excluded._c%d", i, i);
				break;
			case DP_AGG_SUM:
			case DP_AGG_AVG:
				appendStringInfo(&row, ", COALESCE(t._s%d, 0) + COALESCE(d._s%d, 0), COALESCE(t._n%d, 0) + COALESCE(d._n%d, 0)",
								 i, i, i, i);
				appendStringInfo(&set, ", _s%d = excluded._s%d, _n%d = excluded._n%d", i, i, i, i);
				break;
			case DP_AGG_MIN:
			case DP_AGG_MAX:
				{
					const char *better = c->agg == DP_AGG_MIN ? "<" : ">";
					const char *worse = c->agg == DP_AGG_MIN ? ">" : "<";
					char	   *left = psprintf("(t._k%d - CASE WHEN d._q%d = t._m%d THEN COALESCE(d._qk%d, 0) ELSE 0 END)",
											   i, i, i, i);

					if (indexed)
					{
						/*
						 * A removed value at or beyond the extreme: read it
						 * again, here, through the index (the group's first
						 * row in the argument's order, under the refresh's
						 * snapshot, so the plus rows are in it).
						 */
						appendStringInfo(&row, ", CASE WHEN d._q%d IS NOT NULL AND (t._m%d IS NULL OR d._q%d %s= t._m%d) "
										 "THEN (SELECT %s FROM dp_clean.%s s WHERE %s%s(%s) IS NOT NULL ORDER BY 1%s LIMIT 1) "
										 "WHEN t._m%d IS NULL THEN d._p%d WHEN d._p%d %s t._m%d THEN d._p%d ELSE t._m%d END, 0",
										 i, i, i, better, i,
										 c->arg, quote_identifier(s->table), group_match.data,
										 c->filter ? psprintf("(%s) AND ", c->filter) : "", c->arg,
										 c->agg == DP_AGG_MAX ? " DESC" : "",
										 i, i, i, better, i, i, i);
						appendStringInfo(&set, ", _m%d = excluded._m%d", i, i);
						break;
					}
					appendStringInfo(&row, ", CASE WHEN t._m%d IS NULL THEN d._p%d "
									 "WHEN d._p%d %s t._m%d THEN d._p%d ELSE t._m%d END",
									 i, i, i, better, i, i, i);
					appendStringInfo(&row, ", CASE WHEN t._m%d IS NULL THEN COALESCE(d._pk%d, 0) "
									 "WHEN d._p%d %s t._m%d THEN d._pk%d "
									 "WHEN d._p%d = t._m%d THEN %s + d._pk%d ELSE %s END",
									 i, i, i, better, i, i, i, i, left, i, left);
					appendStringInfo(&set, ", _m%d = excluded._m%d, _k%d = excluded._k%d", i, i, i, i);
					/* a removed value beyond the extreme, or every holder gone and none as good come */
					appendStringInfo(&dirty, " OR (d._q%d IS NOT NULL AND (t._m%d IS NULL OR d._q%d %s t._m%d))"
									 " OR (t._m%d IS NOT NULL AND %s <= 0 AND (d._p%d IS NULL OR d._p%d %s t._m%d))",
									 i, i, i, better, i, i, left, i, i, worse, i);
				}
				break;
			case DP_AGG_NONE:
				break;
		}
	}
	appendStringInfoString(&set, ", _dirty = excluded._dirty");
	initStringInfo(&sql);
	/* a group without state that loses rows (inconsistent) is dirty too */
	appendStringInfo(&sql, "SELECT pg_catalog.array_agg(ROW(%s, (t.%s IS NULL AND d._minus > 0)%s)::%s), "
					 "COALESCE(pg_catalog.bool_or(t.%s IS NULL AND d._minus > 0), false), "
					 "COALESCE(pg_catalog.bool_or(false%s), false) FROM (SELECT %s FROM (SELECT s.*",
					 row.data, quote_identifier(view->cols[view->key[0]].name), dirty.data, r->qstate,
					 quote_identifier(view->cols[view->key[0]].name), dirty.data, sel.data);
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&sql, ", %s AS _g%d", view->cols[view->key[k]].gexpr, k);

	/* the changed rows: new versions (+1) and the versions they replaced or removed (-1) */
	appendStringInfo(&sql, "%s FROM (SELECT 1 AS _sign", win.data);
	for (i = 0; i < view->nref; i++)
		appendStringInfo(&sql, ", c.%s", quote_identifier(view->refcols[i]));
	appendStringInfo(&sql, " FROM dp_clean.%s c WHERE c.ctid = ANY (%s) AND c._batch_id > " INT64_FORMAT
					 " AND c._batch_id <= " INT64_FORMAT " UNION ALL SELECT -1", quote_identifier(s->table),
					 dp_change_feed_sql(s->dataset, psprintf(INT64_FORMAT, r->last[si])), r->last[si], r->wm[si]);
	for (i = 0; i < view->nref; i++)
		appendStringInfo(&sql, ", h.%s", quote_identifier(view->refcols[i]));
	appendStringInfo(&sql, " FROM dp_clean.%s h WHERE h._closed_by_batch > " INT64_FORMAT
					 " AND h._closed_by_batch <= " INT64_FORMAT " AND COALESCE(h._batch_id, 0) <= " INT64_FORMAT
					 ") s WHERE %s",
					 quote_identifier(psprintf("%s_history", s->table)), r->last[si], r->wm[si], r->last[si],
					 view->quals ? view->quals : "true");
	if (has_minmax && !indexed)
	{
		appendStringInfoString(&sql, " WINDOW w AS (PARTITION BY ");
		for (k = 0; k < view->nkey; k++)
			appendStringInfo(&sql, "%s%s", k ? ", " : "", view->cols[view->key[k]].gexpr);
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfo(&sql, ") s GROUP BY %s) d LEFT JOIN %s t ON %s",
					 group_positions(view), r->qstate, dp_refresh_key_match(view, "t", "d"));

	/*
	 * Grouped by hashing: the changed rows come many to a group, and the
	 * planner, which estimates them from statistics taken before they were
	 * written, would sort them (measured: the sort was a fifth of the
	 * statement).  Restored at the end of the statement, or by the
	 * (sub)transaction's abort.
	 */
	nest = NewGUCNestLevel();
	(void) set_config_option("enable_sort", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	dp_refresh_exec(r, sql.data, true);
	AtEOXact_GUC(true, nest);
	inconsistent = strcmp(dp_spi_getvalue(0, 2), "t") == 0;
	any_dirty = strcmp(dp_spi_getvalue(0, 3), "t") == 0;
	if (dp_refresh_keep_array(r, 2, 1) == 0)
	{
		/* changes outside the view's rows only */
		r->changed = r->new_from;
		return;
	}
	dp_refresh_check_null_keys(r, r->aff_from);

	if (!inconsistent && !any_dirty)
	{
		/*
		 * The common case: every affected group's new state is known.  One
		 * statement writes it (groups left empty deleted) and returns the
		 * groups' view rows, made from the same state rows ($1).
		 */
		dp_refresh_exec(r, psprintf("WITH d AS (DELETE FROM %s t USING pg_catalog.unnest($2) x WHERE %s AND x._rows <= 0), "
									"u AS (INSERT INTO %s AS t SELECT * FROM pg_catalog.unnest($2) x WHERE x._rows > 0 "
									"ON CONFLICT (%s) DO UPDATE SET %s) "
									"SELECT pg_catalog.array_agg(ROW(%s)::%s) FILTER (WHERE t._rows > 0) "
									"FROM pg_catalog.unnest($2) t",
									r->qstate, dp_refresh_key_match(view, "t", "x"), r->qstate,
									dp_refresh_key_list(view, NULL), set.data, view_columns_of_state(view),
									r->qtable), false);
		dp_refresh_keep_array(r, 1, 1);
		/* keys of $1 are keys of $2, checked above */
		dp_refresh_apply_diff(r);
		r->changed = r->new_from;
		return;
	}

	/* the new state of the affected groups */
	dp_refresh_exec(r, psprintf("INSERT INTO %s AS t SELECT * FROM %s ON CONFLICT (%s) DO UPDATE SET %s",
								r->qstate, r->aff_from, dp_refresh_key_list(view, NULL), set.data), false);
	dp_aggregate_recompute(r, false);
	nullkey = dp_refresh_key_match(view, "t", "x");
	dp_refresh_exec(r, psprintf("DELETE FROM %s t USING %s x WHERE %s AND t._rows <= 0",
								r->qstate, r->aff_from, nullkey), false);

	/* the view rows of the affected groups */
	dp_refresh_exec(r, psprintf("SELECT pg_catalog.array_agg(ROW(%s)::%s) FROM %s t WHERE (%s) IN (SELECT %s FROM %s)",
								view_columns_of_state(view), r->qtable, r->qstate, dp_refresh_key_list(view, "t."),
								dp_refresh_key_list(view, NULL), r->aff_from), false);
	dp_refresh_keep_array(r, 1, 1);
	dp_refresh_check_keys(r, r->new_from);
	dp_refresh_apply_diff(r);
	r->changed = r->new_from;
}
