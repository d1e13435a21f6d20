/*
 * lineage.c
 *		Column lineage of a published view: for each output column, the
 *		dataset fields it reads and how (identity, expression, aggregate or
 *		constant), from the view's analysed query, written to
 *		dataplatform.view_column_lineage at publish.  The rows go with the
 *		view's catalog row (ON DELETE CASCADE): a republish writes them
 *		again, an unpublish removes them.
 *
 * The analysis follows Vars through join aliases, subqueries in FROM and
 * CTEs down to the dp_clean relations they read.  Expressions are stored as
 * SQL text over the dataset's table (named as in dp_clean) when the column
 * reads one relation of the top query; otherwise only the fields are named.
 * The filter (the query's WHERE, or "true") is stored likewise when the
 * query reads one relation: lineage() finds the rows behind an aggregate
 * view's group with the grouping expressions and that filter.
 *
 * Called connected to SPI, in publish's transaction, after the view's
 * catalog row is written.  Never stores OIDs or node trees.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

#include "consumer.h"

/* One dataset field a column reads. */
typedef struct FieldRef
{
	char	   *relname;		/* dp_clean relation (table or its history) */
	char	   *column;
} FieldRef;

/* What a column's expression reads: fields, and whether an aggregate feeds it. */
typedef struct Collect
{
	List	   *fields;			/* FieldRef * */
	bool		aggregate;
} Collect;

static void collect_fields(Query *q, Node *expr, int depth, Collect *out);

/* The fields behind the Var at q's level (through subqueries and CTEs). */
static void
collect_var(Query *q, Var *v, int depth, Collect *out)
{
	RangeTblEntry *rte = rt_fetch(v->varno, q->rtable);
	Query	   *sub = NULL;
	TargetEntry *tle;

	if (rte->rtekind == RTE_RELATION)
	{
		if (v->varattno > 0)
		{
			FieldRef   *f = palloc(sizeof(FieldRef));

			f->relname = get_rel_name(rte->relid);
			f->column = get_attname(rte->relid, v->varattno, false);
			out->fields = lappend(out->fields, f);
		}
		else
		{
			/* a whole row: every column of the relation */
			for (AttrNumber a = 1; a < MaxHeapAttributeNumber; a++)
			{
				char	   *att = get_attname(rte->relid, a, true);
				FieldRef   *f;

				if (att == NULL)
					break;
				if (att[0] == '_' || att[0] == '.')
					continue;	/* the platform's columns, dropped ones */
				f = palloc(sizeof(FieldRef));
				f->relname = get_rel_name(rte->relid);
				f->column = att;
				out->fields = lappend(out->fields, f);
			}
		}
		return;
	}
	if (rte->rtekind == RTE_SUBQUERY)
		sub = rte->subquery;
	else if (rte->rtekind == RTE_CTE)
	{
		ListCell   *c;

		foreach(c, q->cteList)
		{
			CommonTableExpr *cte = lfirst_node(CommonTableExpr, c);

			if (strcmp(cte->ctename, rte->ctename) == 0 && IsA(cte->ctequery, Query))
				sub = (Query *) cte->ctequery;
		}
	}
	if (sub == NULL)
		return;
	if (sub->setOperations)
	{
		/* each branch of a UNION: its output column at this position */
		ListCell   *lc;

		foreach(lc, sub->rtable)
		{
			RangeTblEntry *br = lfirst_node(RangeTblEntry, lc);

			if (br->rtekind == RTE_SUBQUERY && br->subquery &&
				(tle = get_tle_by_resno(br->subquery->targetList, v->varattno)) != NULL)
				collect_fields(br->subquery, (Node *) tle->expr, depth + 1, out);
		}
		return;
	}
	if (v->varattno > 0 && (tle = get_tle_by_resno(sub->targetList, v->varattno)) != NULL)
		collect_fields(sub, (Node *) tle->expr, depth + 1, out);
}

static void
collect_fields(Query *q, Node *expr, int depth, Collect *out)
{
	List	   *vars;
	ListCell   *lc;

	if (depth > 16)
		return;
	if (contain_agg_clause(expr))
		out->aggregate = true;
	vars = pull_var_clause(flatten_join_alias_vars(q, expr),
						   PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS | PVC_RECURSE_PLACEHOLDERS);
	foreach(lc, vars)
	{
		Var		   *v = lfirst_node(Var, lc);

		if (v->varlevelsup == 0)
			collect_var(q, v, depth, out);
	}
}

static bool
not_in_pg_catalog(Oid funcid, void *context pg_attribute_unused())
{
	return get_func_namespace(funcid) != PG_CATALOG_NAMESPACE;
}

/* Whether expr calls only functions (operators, casts) of pg_catalog. */
static bool
only_builtin_functions(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, not_in_pg_catalog, context))
		return true;
	return expression_tree_walker(node, only_builtin_functions, context);
}

/*
 * The expression as SQL over its one relation of q (the dp_clean table's
 * name as its alias), or NULL when it reads another or more than one, or
 * calls a function outside pg_catalog: lineage() evaluates these
 * expressions as its caller, who may be a superuser, so no function an
 * admin wrote may run there.
 */
static char *
expression_text(Query *q, Node *expr)
{
	Node	   *e = flatten_join_alias_vars(q, copyObject(expr));
	List	   *vars = pull_var_clause(e, PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS |
									   PVC_RECURSE_PLACEHOLDERS);
	ListCell   *lc;
	int			rti = 0;
	RangeTblEntry *rte;

	foreach(lc, vars)
	{
		Var		   *v = lfirst_node(Var, lc);

		if (v->varlevelsup != 0 || (rti != 0 && (int) v->varno != rti))
			return NULL;
		rti = v->varno;
	}
	if (rti == 0 || contain_subplans(e) || only_builtin_functions(e, NULL))
		return NULL;
	rte = rt_fetch(rti, q->rtable);
	if (rte->rtekind != RTE_RELATION)
		return NULL;
	if (rti != 1)
		ChangeVarNodes(e, rti, 1, 0);
	return deparse_expression(e, deparse_context_for(get_rel_name(rte->relid), rte->relid),
							  true, false);
}

/*
 * For a query that reads one relation: the condition a row of it meets to
 * be in the result, as expression_text (its WHERE, or "true" without one).
 * NULL for a query over more relations, or a WHERE not stored (lineage()
 * then does not look for the rows behind a group).
 */
static char *
filter_text(Query *q)
{
	if (q->jointree == NULL || list_length(q->rtable) != 1 ||
		rt_fetch(1, q->rtable)->rtekind != RTE_RELATION)
		return NULL;
	if (q->jointree->quals == NULL)
		return pstrdup("true");
	return expression_text(q, q->jointree->quals);
}

static const char *
transformation(Query *q, Node *expr, const Collect *c)
{
	Node	   *e = dp_view_strip(flatten_join_alias_vars(q, expr));

	if (c->aggregate)
		return "aggregate";
	if (c->fields == NIL)
		return "constant";
	if (IsA(e, Var) && list_length(c->fields) == 1 && ((Var *) e)->varlevelsup == 0 &&
		rt_fetch(((Var *) e)->varno, q->rtable)->rtekind == RTE_RELATION)
		return "identity";
	return "expression";
}

void
dp_view_store_column_lineage(const DpView *view)
{
	Query	   *q = dp_view_check_query(view->name, view->definition,
										psprintf("source of view \"%s\"", view->name), false);
	char	   *filter = q->setOperations ? NULL : filter_text(q);
	ListCell   *lc;
	int			ordinal = 0;

	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Collect		c = {NIL, false};
		const char *kind;
		char	   *expr;
		ListCell   *fc;
		const char *args[8];
		bool		stored = false;

		if (tle->resjunk)
			continue;
		ordinal++;
		if (q->setOperations)
		{
			/* a UNION: the columns of each branch */
			ListCell   *r;

			foreach(r, q->rtable)
			{
				RangeTblEntry *br = lfirst_node(RangeTblEntry, r);
				TargetEntry *bt;

				if (br->rtekind == RTE_SUBQUERY &&
					(bt = get_tle_by_resno(br->subquery->targetList, tle->resno)) != NULL)
					collect_fields(br->subquery, (Node *) bt->expr, 1, &c);
			}
			kind = c.aggregate ? "aggregate" : c.fields == NIL ? "constant" : "expression";
			expr = NULL;
		}
		else
		{
			collect_fields(q, (Node *) tle->expr, 0, &c);
			kind = transformation(q, (Node *) tle->expr, &c);
			expr = expression_text(q, (Node *) tle->expr);
		}
		args[0] = view->name;
		args[1] = tle->resname;
		args[2] = psprintf("%d", ordinal);
		args[4] = kind;
		args[5] = expr;
		args[7] = filter;
		args[3] = args[6] = NULL;
		foreach(fc, c.fields)
		{
			FieldRef   *f = lfirst(fc);

			args[3] = f->relname;
			args[6] = f->column;
			/* the same field twice in one expression is one row */
			if (dp_spi_exec_text("INSERT INTO dataplatform.view_column_lineage "
							 "(view, column_name, ordinal, dataset, field, source_column, history, "
							 " transformation, expression, filter) "
							 "SELECT $1, $2, $3::integer, d.name, f.name, f.column_name, "
							 "       d.table_name::text <> $4, $5, $6, $8 "
							 "  FROM dataplatform.datasets d "
							 "  JOIN dataplatform.fields f ON f.dataset = d.name AND f.column_name::text = $7 "
							 " WHERE (d.table_name::text = $4 OR d.table_name::text || '_history' = $4) "
							 "ON CONFLICT DO NOTHING",
							 8, args) > 0)
				stored = true;
		}
		if (!stored)
			dp_spi_exec_text("INSERT INTO dataplatform.view_column_lineage "
							 "(view, column_name, ordinal, dataset, field, source_column, history, "
							 " transformation, expression, filter) "
							 "VALUES ($1, $2, $3::integer, NULL, NULL, NULL, false, $5, $6, $8)",
							 8, args);
	}
}

/* one view's column lineage, in the backfill's subtransaction for it */
static bool
store_column_lineage_call(void *arg)
{
	dp_view_store_column_lineage((DpView *) arg);
	return true;
}

/*
 * dataplatform.view_lineage_backfill(), for the 0.1 -> 0.2 update script
 * only (created, called and dropped there): the column lineage of every
 * published view that has none, each in a subtransaction (a view whose
 * source no longer analyses is left without; its next publish writes it).
 * Returns the views done.
 */
PG_FUNCTION_INFO_V1(dp_view_lineage_backfill);

Datum
dp_view_lineage_backfill(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	uint64		n,
				i;
	char	  **names;
	char	  **defs;
	int32		done = 0;

	SPI_connect();
	n = dp_spi_exec("SELECT v.name, v.definition FROM dataplatform.consumer_view v "
					"WHERE NOT EXISTS (SELECT 1 FROM dataplatform.view_column_lineage l WHERE l.view = v.name) "
					"ORDER BY v.name", 0, NULL, NULL, NULL);
	names = palloc(sizeof(char *) * Max(n, 1));
	defs = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		names[i] = dp_spi_getvalue(i, 1);
		defs[i] = dp_spi_getvalue(i, 2);
	}
	for (i = 0; i < n; i++)
	{
		DpView		view = {0};
		ErrorData  *e;

		view.name = names[i];
		view.definition = defs[i];
		MemoryContextSwitchTo(cxt);
		e = dp_try_in_subxact(store_column_lineage_call, &view);
		if (e == NULL)
			done++;
		else
			FreeErrorData(e);
	}
	SPI_finish();
	PG_RETURN_INT32(done);
}
