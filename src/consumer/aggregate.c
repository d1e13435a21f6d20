/*
 * aggregate.c
 *		The aggregate method of refresh: the contents of an aggregate view's
 *		state table, dp_consumer_state.<view> (created by publish.c: per
 *		group its key, the row count _rows, _c<i> per count, _s<i> and _n<i>
 *		per sum or avg, _m<i> and the number of rows holding it _k<i> per min
 *		or max, and _dirty), computed from the dataset (publish, full
 *		refresh, groups whose min or max lost its holders), moved by the
 *		deltas of the changed rows (incremental refresh), and turned into the
 *		view's rows in pg_temp.dp_new for the diff (diff.c).
 *
 * Runs inside a refresh begun by refresh.c, every statement through
 * dp_refresh_exec under the refresh's snapshot.
 */
#include "postgres.h"

#include "executor/spi.h"

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

/* Fill pg_temp.dp_new with the view's rows for the groups in aff (all: NULL). */
void
dp_aggregate_new_rows(DpRefresh *r, const char *aff)
{
	DpView	   *view = r->view;
	StringInfoData sql;
	int			i;

	dp_refresh_temp_table(r, "dp_new", psprintf("AS SELECT * FROM %s WITH NO DATA", r->qtable));
	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO pg_temp.dp_new SELECT ");
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
	appendStringInfo(&sql, " FROM %s t", r->qstate);
	if (aff)
		appendStringInfo(&sql, " WHERE (%s) IN (SELECT %s FROM %s)", dp_refresh_key_list(view, "t."),
						 dp_refresh_key_list(view, NULL), aff);
	dp_refresh_exec(r, sql.data, false);
}

/*
 * The number of rows holding each group's min/max (so that removing one
 * holder does not force a recompute while others remain): one scan of the
 * dataset joined to the fresh groups in pg_temp.dp_fresh.
 */
static void
count_holders(DpRefresh *r)
{
	DpView	   *view = r->view;
	DpViewSource *s = &view->sources[view->driver];
	StringInfoData sql,
				sel,
				set,
				on,
				at_extreme;
	int			i,
				k;
	bool		any = false;

	initStringInfo(&at_extreme);
	initStringInfo(&sel);
	initStringInfo(&set);
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
		appendStringInfo(&set, "%s_k%d = c._k%d", any ? ", " : "", i, i);
		any = true;
	}
	if (!any)
		return;
	initStringInfo(&sql);
	appendStringInfo(&sql, "UPDATE pg_temp.dp_fresh u SET %s FROM (SELECT %s%s FROM dp_clean.%s s "
					 "JOIN pg_temp.dp_fresh f ON %s WHERE (%s) AND (%s) GROUP BY %s) c WHERE %s",
					 set.data, dp_refresh_key_list(view, "f."), sel.data, quote_identifier(s->table), on.data,
					 view->quals ? view->quals : "true", at_extreme.data, dp_refresh_key_list(view, "f."),
					 dp_refresh_key_match(view, "u", "c"));
	dp_refresh_exec(r, sql.data, true);
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
 * The min and max of the groups marked dirty (their counts and sums are
 * right: only an extreme lost its holders), each read from the group's rows
 * through the index on (grouping columns, argument) that publish made: the
 * first row in the argument's order, then the rows equal to it.  Computed as
 * the reader role into one array of state rows, applied as the owner.
 */
static void
recompute_extremes(DpRefresh *r)
{
	DpView	   *view = r->view;
	DpViewSource *s = &view->sources[view->driver];
	StringInfoData sql,
				row,
				ext,
				set,
				gm;
	int			i,
				k;
	bool		isnull;
	Datum		arr;
	Oid			type;

	initStringInfo(&gm);
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&gm, "(%s) = t.%s AND ", view->cols[view->key[k]].gexpr,
						 quote_identifier(view->cols[view->key[k]].name));
	if (view->quals)
		appendStringInfo(&gm, "(%s) AND ", view->quals);
	initStringInfo(&row);
	initStringInfo(&ext);
	initStringInfo(&set);
	appendStringInfo(&row, "%s, t._rows", dp_refresh_key_list(view, "t."));
	for (i = 0; i < view->ncols; i++)
	{
		const DpViewColumn *c = &view->cols[i];
		char	   *cond = c->filter ? psprintf("%s(%s) AND ", gm.data, c->filter) : gm.data;

		switch (c->agg)
		{
			case DP_AGG_COUNT_STAR:
			case DP_AGG_COUNT:
				appendStringInfo(&row, ", t._c%d", i);
				break;
			case DP_AGG_SUM:
			case DP_AGG_AVG:
				appendStringInfo(&row, ", t._s%d, t._n%d", i, i);
				break;
			case DP_AGG_MIN:
			case DP_AGG_MAX:
				appendStringInfo(&ext, "%s(SELECT %s FROM dp_clean.%s s WHERE %s(%s) IS NOT NULL ORDER BY 1%s LIMIT 1) AS _m%d",
								 ext.len ? ", " : "", c->arg, quote_identifier(s->table), cond, c->arg,
								 c->agg == DP_AGG_MAX ? " DESC" : "", i);
				appendStringInfo(&row, ", y._m%d, (SELECT pg_catalog.count(*) FROM dp_clean.%s s WHERE %s(%s) = y._m%d)",
								 i, quote_identifier(s->table), cond, c->arg, i);
				appendStringInfo(&set, "_m%d = (x)._m%d, _k%d = (x)._k%d, ", i, i, i, i);
				break;
			case DP_AGG_NONE:
				break;
		}
	}
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT pg_catalog.array_agg(ROW(%s, false)::%s) FROM %s t "
					 "CROSS JOIN LATERAL (SELECT %s) y WHERE t._dirty",
					 row.data, r->qstate, r->qstate, ext.data);
	dp_refresh_exec(r, sql.data, true);
	arr = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return;
	type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
	dp_refresh_exec_args(r, psprintf("UPDATE %s t SET %s_dirty = false FROM pg_catalog.unnest($1) x WHERE %s",
									 r->qstate, set.data, dp_refresh_key_match(view, "t", "x")),
						 false, 1, &type, &arr);
}

/* Recompute the state of the groups marked dirty (or of every group: all). */
void
dp_aggregate_recompute(DpRefresh *r, bool all)
{
	DpView	   *view = r->view;
	DpViewSource *s = &view->sources[view->driver];
	StringInfoData sql;
	int			k;

	dp_refresh_temp_table(r, "dp_fresh", psprintf("(LIKE %s)", r->qstate));
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO pg_temp.dp_fresh SELECT %s FROM dp_clean.%s s WHERE %s",
					 state_select_full(view), quote_identifier(s->table),
					 view->quals ? view->quals : "true");
	if (!all)
	{
		appendStringInfoString(&sql, " AND (");
		for (k = 0; k < view->nkey; k++)
			appendStringInfo(&sql, "%s%s", k ? ", " : "", view->cols[view->key[k]].gexpr);
		appendStringInfo(&sql, ") IN (SELECT %s FROM %s WHERE _dirty)", dp_refresh_key_list(view, NULL), r->qstate);
	}
	appendStringInfo(&sql, " GROUP BY %s", group_positions(view));
	dp_refresh_exec(r, sql.data, true);
	dp_refresh_check_null_keys(r, "pg_temp.dp_fresh");
	count_holders(r);
	if (all)
		dp_refresh_exec(r, psprintf("DELETE FROM %s", r->qstate), false);
	else
		dp_refresh_exec(r, psprintf("DELETE FROM %s WHERE _dirty", r->qstate), false);
	dp_refresh_exec(r, psprintf("INSERT INTO %s SELECT * FROM pg_temp.dp_fresh", r->qstate), false);
}

/*
 * Incremental aggregate: the deltas of the changed rows per group into
 * pg_temp.dp_delta, added to the state, then the affected groups' rows.
 *
 * For a min (max symmetric) the delta has the plus rows' min _p with the
 * number of plus rows at it _pk, and the minus rows' min _q with _qk.  The
 * state keeps the min _m and the number of rows holding it _k.  Removing
 * holders while others remain keeps the min; a smaller new value replaces
 * it; only when every holder goes and nothing as small comes is the group
 * recomputed from the dataset ("dirty").
 */
void
dp_aggregate_apply_delta(DpRefresh *r)
{
	DpView	   *view = r->view;
	int			si = view->driver;
	DpViewSource *s = &view->sources[si];
	StringInfoData sql,
				cols,
				sel,
				win,
				dirty;
	int			i,
				k;
	char	   *match = dp_refresh_key_match(view, "t", "d");
	bool		has_minmax = false;

	/* pg_temp.dp_delta: the groups' deltas */
	initStringInfo(&cols);
	initStringInfo(&sel);
	initStringInfo(&win);
	appendStringInfo(&cols, "%s, _rows", dp_refresh_key_list(view, NULL));
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&sel, "s._g%d, ", k);
	appendStringInfoString(&sel, "pg_catalog.sum(s._sign)");
	for (i = 0; i < view->ncols; i++)
	{
		const DpViewColumn *c = &view->cols[i];
		char	   *nn = c->arg ? psprintf("(%s) IS NOT NULL", c->arg) : NULL;
		const char *fn = c->agg == DP_AGG_MIN ? "min" : "max";

		switch (c->agg)
		{
			case DP_AGG_COUNT_STAR:
				appendStringInfo(&cols, ", _c%d", i);
				appendStringInfo(&sel, ", pg_catalog.sum(s._sign)%s", agg_filter(c, NULL));
				break;
			case DP_AGG_COUNT:
				appendStringInfo(&cols, ", _c%d", i);
				appendStringInfo(&sel, ", pg_catalog.sum(s._sign)%s", agg_filter(c, nn));
				break;
			case DP_AGG_SUM:
			case DP_AGG_AVG:
				appendStringInfo(&cols, ", _s%d, _n%d", i, i);
				appendStringInfo(&sel, ", pg_catalog.sum(s._sign * (%s)::pg_catalog.numeric)%s, "
								 "pg_catalog.sum(s._sign)%s", c->arg, agg_filter(c, nn), agg_filter(c, nn));
				break;
			case DP_AGG_MIN:
			case DP_AGG_MAX:
				has_minmax = true;
				appendStringInfo(&cols, ", _m%d AS _p%d, _k%d AS _pk%d, _m%d AS _q%d, _k%d AS _qk%d",
								 i, i, i, i, i, i, i, i);
				appendStringInfo(&sel, ", pg_catalog.%s(%s)%s, pg_catalog.count(*)%s, "
								 "pg_catalog.%s(%s)%s, pg_catalog.count(*)%s",
								 fn, c->arg, agg_filter(c, "s._sign > 0"),
								 agg_filter(c, psprintf("s._sign > 0 AND (%s) = s._wp%d", c->arg, i)),
								 fn, c->arg, agg_filter(c, "s._sign < 0"),
								 agg_filter(c, psprintf("s._sign < 0 AND (%s) = s._wq%d", c->arg, i)));
				/* the plus and minus extremes of each row's group, for the holder counts */
				appendStringInfo(&win, ", pg_catalog.%s(%s)%s OVER w AS _wp%d, pg_catalog.%s(%s)%s OVER w AS _wq%d",
								 fn, c->arg, agg_filter(c, "s._sign > 0"), i,
								 fn, c->arg, agg_filter(c, "s._sign < 0"), i);
				break;
			case DP_AGG_NONE:
				break;
		}
	}
	dp_refresh_temp_table(r, "dp_delta", psprintf("AS SELECT %s FROM %s WITH NO DATA", cols.data, r->qstate));

	/* the changed rows: new versions (+1) and the versions they replaced or removed (-1) */
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO pg_temp.dp_delta SELECT %s FROM (SELECT s.*", sel.data);
	for (k = 0; k < view->nkey; k++)
		appendStringInfo(&sql, ", %s AS _g%d", view->cols[view->key[k]].gexpr, k);
	appendStringInfo(&sql, "%s FROM (SELECT 1 AS _sign", win.data);
	for (i = 0; i < view->nref; i++)
		appendStringInfo(&sql, ", c.%s", quote_identifier(view->refcols[i]));
	appendStringInfo(&sql, " FROM dp_clean.%s c WHERE c._batch_id > " INT64_FORMAT " AND c._batch_id <= " INT64_FORMAT
					 " UNION ALL SELECT -1", quote_identifier(s->table), r->last[si], r->wm[si]);
	for (i = 0; i < view->nref; i++)
		appendStringInfo(&sql, ", h.%s", quote_identifier(view->refcols[i]));
	appendStringInfo(&sql, " FROM dp_clean.%s h WHERE h._closed_by_batch > " INT64_FORMAT
					 " AND h._closed_by_batch <= " INT64_FORMAT " AND COALESCE(h._batch_id, 0) <= " INT64_FORMAT
					 ") s WHERE %s",
					 quote_identifier(psprintf("%s_history", s->table)), r->last[si], r->wm[si], r->last[si],
					 view->quals ? view->quals : "true");
	if (has_minmax)
	{
		appendStringInfoString(&sql, " WINDOW w AS (PARTITION BY ");
		for (k = 0; k < view->nkey; k++)
			appendStringInfo(&sql, "%s%s", k ? ", " : "", view->cols[view->key[k]].gexpr);
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfo(&sql, ") s GROUP BY %s", group_positions(view));
	if (dp_refresh_exec(r, sql.data, true) > 0)
		dp_refresh_check_null_keys(r, "pg_temp.dp_delta");
	else
	{
		/* changes outside the view's rows only */
		dp_refresh_temp_table(r, "dp_new", psprintf("AS SELECT * FROM %s WITH NO DATA", r->qtable));
		r->changed = "pg_temp.dp_new";
		return;
	}

	/* existing groups: add the deltas */
	resetStringInfo(&sql);
	initStringInfo(&dirty);
	appendStringInfo(&sql, "UPDATE %s t SET _rows = t._rows + COALESCE(d._rows, 0)", r->qstate);
	for (i = 0; i < view->ncols; i++)
	{
		const DpViewColumn *c = &view->cols[i];

		switch (c->agg)
		{
			case DP_AGG_COUNT_STAR:
			case DP_AGG_COUNT:
				appendStringInfo(&sql, ", _c%d = t._c%d + COALESCE(d._c%d, 0)", i, i, i);
				break;
			case DP_AGG_SUM:
			case DP_AGG_AVG:
				appendStringInfo(&sql, ", _s%d = t._s%d + COALESCE(d._s%d, 0), _n%d = t._n%d + COALESCE(d._n%d, 0)",
								 i, i, i, i, i, i);
				break;
			case DP_AGG_MIN:
			case DP_AGG_MAX:
				{
					const char *better = c->agg == DP_AGG_MIN ? "<" : ">";
					const char *worse = c->agg == DP_AGG_MIN ? ">" : "<";
					char	   *left = psprintf("(t._k%d - CASE WHEN d._q%d = t._m%d THEN COALESCE(d._qk%d, 0) ELSE 0 END)",
											   i, i, i, i);

					appendStringInfo(&sql, ", _m%d = CASE WHEN t._m%d IS NULL THEN d._p%d "
									 "WHEN d._p%d %s t._m%d THEN d._p%d ELSE t._m%d END",
									 i, i, i, i, better, i, i, i);
					appendStringInfo(&sql, ", _k%d = CASE WHEN t._m%d IS NULL THEN COALESCE(d._pk%d, 0) "
									 "WHEN d._p%d %s t._m%d THEN d._pk%d "
									 "WHEN d._p%d = t._m%d THEN %s + d._pk%d ELSE %s END",
									 i, i, i, i, better, i, i, i, i, left, i, left);
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
	if (has_minmax)
		appendStringInfo(&sql, ", _dirty = false%s", dirty.data);
	appendStringInfo(&sql, " FROM pg_temp.dp_delta d WHERE %s", match);
	dp_refresh_exec(r, sql.data, false);
	/* extremes that lost their holders, read through their index */
	if (has_minmax && extremes_indexed(view))
		recompute_extremes(r);

	/* new groups: their delta is their state (a minus here would be inconsistent: recompute) */
	resetStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s SELECT %s, COALESCE(d._rows, 0)", r->qstate, dp_refresh_key_list(view, "d."));
	resetStringInfo(&dirty);
	for (i = 0; i < view->ncols; i++)
	{
		const DpViewColumn *c = &view->cols[i];

		switch (c->agg)
		{
			case DP_AGG_COUNT_STAR:
			case DP_AGG_COUNT:
				appendStringInfo(&sql, ", COALESCE(d._c%d, 0)", i);
				break;
			case DP_AGG_SUM:
			case DP_AGG_AVG:
				appendStringInfo(&sql, ", COALESCE(d._s%d, 0), COALESCE(d._n%d, 0)", i, i);
				break;
			case DP_AGG_MIN:
			case DP_AGG_MAX:
				appendStringInfo(&sql, ", d._p%d, COALESCE(d._pk%d, 0)", i, i);
				appendStringInfo(&dirty, " OR d._q%d IS NOT NULL", i);
				break;
			case DP_AGG_NONE:
				break;
		}
	}
	appendStringInfo(&sql, ", false%s FROM pg_temp.dp_delta d WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE %s)",
					 dirty.data, r->qstate, match);
	dp_refresh_exec(r, sql.data, false);

	if (has_minmax && dp_refresh_exec(r, psprintf("SELECT 1 FROM %s t WHERE t._dirty AND (%s) IN (SELECT %s FROM pg_temp.dp_delta) LIMIT 1",
										r->qstate, dp_refresh_key_list(view, "t."), dp_refresh_key_list(view, NULL)), false) > 0)
		dp_aggregate_recompute(r, false);
	dp_refresh_exec(r, psprintf("DELETE FROM %s t WHERE t._rows <= 0 AND (%s) IN (SELECT %s FROM pg_temp.dp_delta)",
					  r->qstate, dp_refresh_key_list(view, "t."), dp_refresh_key_list(view, NULL)), false);

	dp_aggregate_new_rows(r, "pg_temp.dp_delta");
	dp_refresh_check_keys(r, "pg_temp.dp_new");
	dp_refresh_apply_diff(r, "pg_temp.dp_delta");
	r->changed = "pg_temp.dp_new";
}
