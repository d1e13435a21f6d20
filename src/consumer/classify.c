/*
 * classify.c
 *		The shapes of the incremental refresh methods: whether an analysed
 *		source query can be refreshed by key (keyed: a driving dataset and
 *		lookups on whole keys) or by group (aggregate: GROUP BY over one
 *		dataset with count, sum, avg, min and max), and what each method
 *		needs to know of it, recorded in the DpView (driver, lookups, the
 *		driver-only changed-rows query; grouping expressions, aggregates,
 *		quals and the columns read).  Also the candidate key of the full
 *		method (the GROUP BY columns).  Called by dp_view_analyze (view.c);
 *		refresh.c and aggregate.c use what it records.  Caller is connected
 *		to SPI.
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

#include "consumer.h"

/* The output Var (varno, attno) in the target list, or -1. */
static int
output_of_var(Query *q, DpView *view, Index varno, AttrNumber attno)
{
	ListCell   *lc;
	int			col = 0;

	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Node	   *e;

		if (tle->resjunk)
			continue;
		e = dp_view_strip(flatten_join_alias_vars(q, (Node *) tle->expr));
		if (IsA(e, Var) && (Index) ((Var *) e)->varno == varno &&
			((Var *) e)->varattno == attno && ((Var *) e)->varlevelsup == 0)
			return col;
		col++;
	}
	(void) view;
	return -1;
}

static int
source_of_rte(DpView *view, RangeTblEntry *rte, bool *hist)
{
	return dp_view_source(view, rte->relid, hist, "source", false);
}

static bool
is_equality(Oid opno)
{
	char	   *name = get_opname(opno);

	return name != NULL && strcmp(name, "=") == 0;
}

/*
 * The keyed method: one dataset (the driver), optionally joined (inner or
 * left, left-deep) to datasets on their whole key from columns of the driver,
 * no grouping; the output includes the driver's key.  Sets why and returns
 * false when the query is not of this shape.
 */
bool
dp_view_classify_keyed(DpView *view, Query *q, StringInfo why)
{
	Node	   *node;
	List	   *joins = NIL;
	ListCell   *lc;
	Index		driver_rti;
	RangeTblEntry *drte;
	DpViewSource *ds;
	bool		hist;
	int			i;

	if (list_length(q->jointree->fromlist) != 1)
	{
		appendStringInfoString(why, "it lists several relations in FROM (write them as JOIN ... ON)");
		return false;
	}
	node = linitial(q->jointree->fromlist);
	while (IsA(node, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) node;

		if (j->jointype != JOIN_INNER && j->jointype != JOIN_LEFT)
		{
			appendStringInfoString(why, "it has a join other than inner or left");
			return false;
		}
		if (!IsA(j->rarg, RangeTblRef))
		{
			appendStringInfoString(why, "the right side of a join is not a dataset table");
			return false;
		}
		joins = lcons(j, joins);
		node = j->larg;
	}
	if (!IsA(node, RangeTblRef))
	{
		appendStringInfoString(why, "its first relation is not a dataset table");
		return false;
	}
	driver_rti = ((RangeTblRef *) node)->rtindex;
	view->driver_rti = driver_rti;
	drte = rt_fetch(driver_rti, q->rtable);
	if (drte->rtekind != RTE_RELATION)
	{
		appendStringInfoString(why, "its first relation is not a dataset table");
		return false;
	}
	view->driver = source_of_rte(view, drte, &hist);
	ds = &view->sources[view->driver];

	/* the driver's key must be in the output */
	view->driver_key = palloc(sizeof(char *) * ds->nkey);
	view->ninferred = ds->nkey;
	view->inferred = palloc(sizeof(int) * ds->nkey);
	for (i = 0; i < ds->nkey; i++)
	{
		AttrNumber	att = get_attnum(drte->relid, ds->key[i]);
		int			col = output_of_var(q, view, driver_rti, att);

		if (col < 0)
		{
			appendStringInfo(why, "it does not output the key column %s of dataset %s",
							 quote_identifier(ds->key[i]), ds->dataset);
			view->ninferred = 0;
			view->inferred = NULL;
			return false;
		}
		view->driver_key[i] = ds->key[i];
		view->inferred[i] = col;
	}

	/* each joined dataset: on its whole key, from columns of the driver */
	view->lookups = palloc0(sizeof(DpLookup) * Max(list_length(joins), 1));
	view->nlookups = 0;
	foreach(lc, joins)
	{
		JoinExpr   *j = (JoinExpr *) lfirst(lc);
		Index		rti = ((RangeTblRef *) j->rarg)->rtindex;
		RangeTblEntry *rte = rt_fetch(rti, q->rtable);
		List	   *quals;
		DpLookup   *lk = &view->lookups[view->nlookups];
		DpViewSource *ls;

		if (rte->rtekind != RTE_RELATION)
		{
			appendStringInfoString(why, "a joined relation is not a dataset table");
			return false;
		}
		lk->source = source_of_rte(view, rte, &hist);
		ls = &view->sources[lk->source];
		lk->fk = palloc0(sizeof(char *) * ls->nkey);
		quals = make_ands_implicit((Expr *) flatten_join_alias_vars(q, j->quals));
		for (i = 0; i < ls->nkey; i++)
		{
			AttrNumber	katt = get_attnum(rte->relid, ls->key[i]);
			ListCell   *qc;

			foreach(qc, quals)
			{
				OpExpr	   *op = (OpExpr *) lfirst(qc);
				Var		   *a,
						   *b;

				if (!IsA(op, OpExpr) || list_length(op->args) != 2 || !is_equality(op->opno))
					continue;
				a = (Var *) dp_view_strip(linitial(op->args));
				b = (Var *) dp_view_strip(lsecond(op->args));
				if (!IsA(a, Var) || !IsA(b, Var) || a->varlevelsup || b->varlevelsup)
					continue;
				if ((Index) b->varno == rti && b->varattno == katt)
				{
					Var		   *t = a;

					a = b;
					b = t;
				}
				if ((Index) a->varno == rti && a->varattno == katt && (Index) b->varno == driver_rti && b->varattno > 0)
				{
					lk->fk[i] = get_attname(drte->relid, b->varattno, false);
					break;
				}
			}
			if (lk->fk[i] == NULL)
			{
				appendStringInfo(why, "the join of dataset %s is not on its key column %s equal to a column of %s",
								 ls->dataset, quote_identifier(ls->key[i]), ds->dataset);
				return false;
			}
		}
		view->nlookups++;
	}
	return true;
}

static char *
deparse(Node *expr, List *dpcontext)
{
	return deparse_expression(expr, dpcontext, true, false);
}

/*
 * An expression over the aggregated dataset as a column of an index on its
 * table: a column name, or a parenthesised immutable expression; NULL when
 * it cannot be indexed.
 */
static char *
index_column(Node *expr, List *dpcontext)
{
	Node	   *e = dp_view_strip(expr);

	if (!OidIsValid(GetDefaultOpClass(exprType(expr), BTREE_AM_OID)))
		return NULL;
	if (IsA(e, Var))
		return deparse(e, dpcontext) + strlen("s.");
	if (contain_mutable_functions(expr) || contain_volatile_functions(expr))
		return NULL;
	return psprintf("(%s)", deparse_expression(expr, dpcontext, false, false));
}

/*
 * The aggregate method: GROUP BY over one dataset, every output column a
 * grouping expression or count/sum/avg/min/max of an expression (sum and
 * avg of exact numbers), no HAVING, DISTINCT or ordered aggregates.
 */
bool
dp_view_classify_aggregate(DpView *view, Query *q, StringInfo why)
{
	RangeTblEntry *rte;
	List	   *dpcontext;
	ListCell   *lc;
	int			col = 0;
	int			ngroup = 0;
	bool		hist;
	Bitmapset  *atts = NULL;
	int			att;

	if (q->havingQual)
	{
		appendStringInfoString(why, "it has a HAVING clause");
		return false;
	}
	if (list_length(q->rtable) != 1 || list_length(q->jointree->fromlist) != 1 ||
		!IsA(linitial(q->jointree->fromlist), RangeTblRef))
	{
		appendStringInfoString(why, "it aggregates over more than one relation");
		return false;
	}
	rte = rt_fetch(1, q->rtable);
	if (rte->rtekind != RTE_RELATION)
	{
		appendStringInfoString(why, "it aggregates over something other than a dataset table");
		return false;
	}
	view->driver = source_of_rte(view, rte, &hist);
	dpcontext = deparse_context_for("s", rte->relid);
	view->indexable = true;

	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		DpViewColumn *c;

		if (tle->resjunk)
		{
			if (tle->ressortgroupref && get_sortgroupref_clause_noerr(tle->ressortgroupref, q->groupClause))
			{
				appendStringInfoString(why, "it groups by an expression that is not an output column");
				return false;
			}
			continue;
		}
		c = &view->cols[col];
		if (tle->ressortgroupref && get_sortgroupref_clause_noerr(tle->ressortgroupref, q->groupClause))
		{
			c->group = ngroup++;
			c->gexpr = deparse((Node *) tle->expr, dpcontext);
			c->index_col = index_column((Node *) tle->expr, dpcontext);
			if (c->index_col == NULL)
				view->indexable = false;
		}
		else if (IsA(tle->expr, Aggref))
		{
			Aggref	   *agg = (Aggref *) tle->expr;
			char	   *fname = get_func_name(agg->aggfnoid);
			Oid			argtype = InvalidOid;

			if (get_func_namespace(agg->aggfnoid) != PG_CATALOG_NAMESPACE ||
				agg->aggdistinct != NIL || agg->aggorder != NIL ||
				agg->aggkind != AGGKIND_NORMAL || agg->agglevelsup != 0 ||
				list_length(agg->args) > 1)
			{
				appendStringInfo(why, "column %s is an aggregate that is not maintained incrementally",
								 quote_identifier(c->name));
				return false;
			}
			if (agg->args != NIL)
			{
				Node	   *arg = (Node *) linitial_node(TargetEntry, agg->args)->expr;

				argtype = exprType(arg);
				c->arg = deparse(arg, dpcontext);
				c->index_col = index_column(arg, dpcontext);
			}
			if (agg->aggfilter)
				c->filter = deparse((Node *) agg->aggfilter, dpcontext);
			if (strcmp(fname, "count") == 0)
				c->agg = agg->aggstar ? DP_AGG_COUNT_STAR : DP_AGG_COUNT;
			else if ((strcmp(fname, "sum") == 0 || strcmp(fname, "avg") == 0) &&
					 (argtype == INT2OID || argtype == INT4OID || argtype == INT8OID ||
					  argtype == NUMERICOID))
				c->agg = fname[0] == 's' ? DP_AGG_SUM : DP_AGG_AVG;
			else if (strcmp(fname, "min") == 0 && agg->args != NIL)
				c->agg = DP_AGG_MIN;
			else if (strcmp(fname, "max") == 0 && agg->args != NIL)
				c->agg = DP_AGG_MAX;
			else
			{
				appendStringInfo(why, "column %s is %s() of %s, which is not maintained incrementally (count, min, max, and sum and avg of integers and decimals are)",
								 quote_identifier(c->name), fname,
								 OidIsValid(argtype) ? format_type_be(argtype) : "*");
				return false;
			}
		}
		else
		{
			appendStringInfo(why, "column %s is neither a grouping column nor a single aggregate",
							 quote_identifier(c->name));
			return false;
		}
		col++;
	}
	if (ngroup != list_length(q->groupClause))
	{
		appendStringInfoString(why, "it groups by an expression that is not an output column, or by one twice");
		return false;
	}
	view->ninferred = ngroup;
	view->inferred = palloc(sizeof(int) * ngroup);
	for (col = 0; col < view->ncols; col++)
		if (view->cols[col].group >= 0)
			view->inferred[view->cols[col].group] = col;

	pull_varattnos((Node *) q->targetList, 1, &atts);
	pull_varattnos(q->jointree->quals, 1, &atts);
	view->refcols = palloc(sizeof(char *) * Max(bms_num_members(atts), 1));
	view->nref = 0;
	att = -1;
	while ((att = bms_next_member(atts, att)) >= 0)
	{
		AttrNumber	a = att + FirstLowInvalidHeapAttributeNumber;

		if (a <= 0)
		{
			appendStringInfoString(why, "it reads a system column or a whole row");
			return false;
		}
		view->refcols[view->nref++] = get_attname(rte->relid, a, false);
	}
	if (q->jointree->quals)
		view->quals = deparse(q->jointree->quals, dpcontext);
	return true;
}

/*
 * The query limited to the driver's rows written by batches in ($1, $2]:
 * the new rows of a keyed view after changes to the driver only, read
 * where the change feed says those batches wrote ($3, a tid[]: a TID
 * scan) instead of one probe per key.
 */
char *
dp_view_changed_rows_sql(DpView *view, Query *q)
{
	Query	   *c = copyObject(q);
	RangeTblEntry *rte = rt_fetch(view->driver_rti, c->rtable);
	AttrNumber	att = get_attnum(rte->relid, "_batch_id");
	Oid			gt = OpernameGetOprid(list_make1(makeString(">")), INT8OID, INT8OID);
	Oid			le = OpernameGetOprid(list_make1(makeString("<=")), INT8OID, INT8OID);
	Node	   *quals = NULL;
	int			i;

	if (att == InvalidAttrNumber || !OidIsValid(gt) || !OidIsValid(le))
		return NULL;
	for (i = 1; i <= 2; i++)
	{
		Param	   *p = makeNode(Param);
		Var		   *v = makeVar(view->driver_rti, att, INT8OID, -1, InvalidOid, 0);

		p->paramkind = PARAM_EXTERN;
		p->paramid = i;
		p->paramtype = INT8OID;
		p->paramtypmod = -1;
		p->paramcollid = InvalidOid;
		p->location = -1;
		quals = make_and_qual(quals, (Node *) make_opclause(i == 1 ? gt : le, BOOLOID, false,
															 (Expr *) v, (Expr *) p,
															 InvalidOid, InvalidOid));
	}
	/* ... and standing where the change feed says ($3, a tid[]: change_feed.c) */
	{
		ScalarArrayOpExpr *saop = makeNode(ScalarArrayOpExpr);
		Param	   *p = makeNode(Param);

		p->paramkind = PARAM_EXTERN;
		p->paramid = 3;
		p->paramtype = TIDARRAYOID;
		p->paramtypmod = -1;
		p->paramcollid = InvalidOid;
		p->location = -1;
		saop->opno = TIDEqualOperator;
		saop->opfuncid = F_TIDEQ;
		saop->hashfuncid = InvalidOid;
		saop->negfuncid = InvalidOid;
		saop->useOr = true;
		saop->inputcollid = InvalidOid;
		saop->args = list_make2(makeVar(view->driver_rti, SelfItemPointerAttributeNumber, TIDOID, -1,
										InvalidOid, 0), p);
		saop->location = -1;
		quals = make_and_qual(quals, (Node *) saop);
	}
	c->jointree->quals = make_and_qual(c->jointree->quals, quals);
	return pg_get_querydef(c, false);
}

/* A candidate key for the full method: the GROUP BY columns. */
void
dp_view_infer_group_key(DpView *view, Query *q)
{
	ListCell   *lc;
	int			n = 0;
	int			col = 0;

	if (q->groupClause == NIL || q->groupingSets != NIL)
		return;
	view->inferred = palloc(sizeof(int) * list_length(q->groupClause));
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->ressortgroupref && get_sortgroupref_clause_noerr(tle->ressortgroupref, q->groupClause))
		{
			if (tle->resjunk)
			{
				view->inferred = NULL;
				return;
			}
			view->inferred[n++] = col;
		}
		if (!tle->resjunk)
			col++;
	}
	view->ninferred = n;
}
