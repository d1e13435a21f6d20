/*
 * consumer.c
 *		The consumer layer: publish, unpublish and export of the tables in
 *		dp_consumer, and the analysis of a view's source query that decides
 *		how it is refreshed (refresh.c does the refreshing).
 *
 * A view's source is a dataset name or one SELECT over dp_clean.  It is
 * parsed and analysed here, refused when it is anything but a read of the
 * clean layer, and stored as SQL text (deparsed, every name qualified):
 * never OIDs or node trees, so dumps and upgrades keep it.  Every refresh
 * analyses the stored text again.
 *
 * Security: API functions run as the extension owner.  The source query, and
 * every statement that evaluates expressions taken from it, runs as the role
 * dataplatform_admin inside a security-restricted operation (as REFRESH
 * MATERIALIZED VIEW runs as the view's owner), so a function in a source
 * cannot do more than an admin could: no server files, no other backends.
 *
 * Locks: publish, unpublish and refresh of one view run one after another
 * (they lock the view's row in dataplatform.consumer_view).  Publishing over
 * an existing view builds the new table aside and swaps it in at the end,
 * holding ACCESS EXCLUSIVE on the old table only for the swap.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "parser/parse_relation.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"

#include "access.h"
#include "consumer.h"

PG_FUNCTION_INFO_V1(dp_publish);
PG_FUNCTION_INFO_V1(dp_unpublish);
PG_FUNCTION_INFO_V1(dp_export);

/* ------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------
 */

/* The table a view's rows live in (owner only). */
char *
dp_view_qualified(const char *name)
{
	return psprintf("dp_consumer_data.%s", quote_identifier(name));
}

/* What consumers read: a view over the table that masks PII columns. */
char *
dp_view_facade_qualified(const char *name)
{
	return psprintf("dp_consumer.%s", quote_identifier(name));
}

char *
dp_view_state_qualified(const char *name)
{
	return psprintf("dp_consumer_state.%s", quote_identifier(name));
}

const char *
dp_view_method_name(DpViewMethod method)
{
	switch (method)
	{
		case DP_VIEW_KEYED:
			return "keyed";
		case DP_VIEW_AGGREGATE:
			return "aggregate";
		case DP_VIEW_FULL:
			return "full";
	}
	return "full";
}

char *
dp_view_column_list(const DpView *view, int n, const int *idx, const char *prefix)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	if (idx == NULL)
		n = view->ncols;
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s%s", i ? ", " : "", prefix ? prefix : "",
						 quote_identifier(view->cols[idx ? idx[i] : i].name));
	return buf.data;
}

Oid
dp_view_reader_role(void)
{
	return get_role_oid(DP_ROLE_ADMIN, false);
}

static void
check_view_name(const char *name)
{
	const char *p;

	if (strlen(name) > DP_VIEW_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("view name \"%s\" is too long", name),
				 errdetail("A view name may have at most %d bytes.", DP_VIEW_NAME_MAX)));
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (p > name && ((*p >= '0' && *p <= '9') || *p == '_'))))
			break;
	if (*name == '\0' || *p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid view name \"%s\"", name),
				 errdetail("A view name is lowercase ASCII letters, digits and underscores, starting with a letter."),
				 errhint("BI tools show it as the table dp_consumer.<name>.")));
}

/* ------------------------------------------------------------------------
 * Analysis of a source query
 * ------------------------------------------------------------------------
 */

typedef struct WalkContext
{
	DpView	   *view;
	const char *what;			/* "source of view \"v\"", for messages */
	bool		allow_consumer; /* may read dp_consumer (expectations) */
} WalkContext;

/* Raise a failed parse or analysis again as an error about the view. */
static void
rethrow_source_error(const char *what, MemoryContext cxt, const char *problem)
{
	ErrorData  *e;

	MemoryContextSwitchTo(cxt);
	e = CopyErrorData();
	FlushErrorState();
	ereport(ERROR,
			(errcode(e->sqlerrcode),
			 errmsg("%s %s", what, problem),
			 e->cursorpos > 0 ?
			 errdetail("%s (at character %d of the source).", e->message, e->cursorpos) :
			 errdetail("%s.", e->message),
			 e->hint ? errhint("%s", e->hint) :
			 errhint("The source is a dataset name or one SELECT over dp_clean; unqualified names are looked up in dp_clean.")));
}

/* Find or add the dataset behind a dp_clean relation; returns its index. */
static int
view_source(DpView *view, Oid relid, bool *is_history, const char *what, bool allow_consumer)
{
	const char *relname = get_rel_name(relid);
	Oid			nsp = get_rel_namespace(relid);
	const char *nspname = get_namespace_name(nsp);
	const char *args[1];
	char	   *dataset;
	int			i;

	*is_history = false;
	if (allow_consumer && nspname != NULL &&
		(strcmp(nspname, "dp_consumer") == 0 || strcmp(nspname, "dp_consumer_data") == 0))
		return -1;
	if (nspname == NULL || strcmp(nspname, "dp_clean") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s reads %s.%s, outside dp_clean", what,
						nspname ? quote_identifier(nspname) : "?", quote_identifier(relname)),
				 errdetail("Published views read only the clean layer (dp_clean)."),
				 errhint("Publish the data as a dataset first, then select from dp_clean.")));
	args[0] = relname;
	if (dp_spi_exec_text("SELECT d.name, d.table_name::text = $1, "
						 "(SELECT pg_catalog.array_agg(f.column_name::text ORDER BY k.ord) "
						 "   FROM pg_catalog.jsonb_array_elements_text(d.spec -> 'key') WITH ORDINALITY AS k(n, ord) "
						 "   JOIN dataplatform.fields f ON f.dataset = d.name AND f.name = k.n) "
						 "FROM dataplatform.datasets d "
						 "WHERE d.table_name::text = $1 OR d.table_name::text || '_history' = $1",
						 1, args) == 0 || get_rel_relkind(relid) != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s reads dp_clean.%s, which is not a dataset's table",
						what, quote_identifier(relname)),
				 errdetail("Published views read the tables of datasets and their history tables.")));
	dataset = dp_spi_getvalue(0, 1);
	*is_history = strcmp(dp_spi_getvalue(0, 2), "f") == 0;
	for (i = 0; i < view->nsources; i++)
		if (strcmp(view->sources[i].dataset, dataset) == 0)
			return i;
	{
		DpViewSource *s;
		bool		isnull;
		Datum		keys = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		Datum	   *elems;
		int			nelems;

		view->sources = view->nsources == 0 ?
			palloc(sizeof(DpViewSource) * 8) :
			(view->nsources % 8 == 0 ?
			 repalloc(view->sources, sizeof(DpViewSource) * (view->nsources + 8)) :
			 view->sources);
		s = &view->sources[view->nsources];
		s->dataset = pstrdup(dataset);
		s->table = pstrdup(*is_history ? pnstrdup(relname, strlen(relname) - 8) : relname);
		deconstruct_array(DatumGetArrayTypeP(keys), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, NULL, &nelems);
		s->nkey = nelems;
		s->key = palloc(sizeof(char *) * Max(nelems, 1));
		for (i = 0; i < nelems; i++)
			s->key[i] = TextDatumGetCString(elems[i]);
	}
	return view->nsources++;
}

static bool
check_function(Oid funcid, void *context)
{
	WalkContext *ctx = (WalkContext *) context;
	char		v = func_volatile(funcid);

	if (v == PROVOLATILE_VOLATILE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s calls the volatile function %s()",
						ctx->what, get_func_name(funcid)),
				 errdetail("A published view must be a plain read: volatile functions can change data or give a different answer on every call."),
				 errhint("Use immutable or stable functions, or compute the value in the dataset.")));
	if (v != PROVOLATILE_IMMUTABLE)
		ctx->view->time_dependent = true;
	return false;
}

static void
refuse_write(const char *what, const char *clause)
{
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("%s writes: %s", what, clause),
			 errdetail("Published views and their expectations only read."),
			 errhint("Remove the %s.", clause)));
}

static bool
validate_walker(Node *node, WalkContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;

		if (q->commandType != CMD_SELECT || q->utilityStmt != NULL)
			refuse_write(ctx->what, "data-modifying statement");
		if (q->hasModifyingCTE)
			refuse_write(ctx->what, "data-modifying WITH clause");
		if (q->rowMarks != NIL)
			refuse_write(ctx->what, "FOR UPDATE or FOR SHARE clause");
		return query_tree_walker(q, validate_walker, ctx, QTW_EXAMINE_RTES_BEFORE);
	}
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
		{
			bool		hist;

			view_source(ctx->view, rte->relid, &hist, ctx->what, ctx->allow_consumer);
			if (hist)
				ctx->view->reads_history = true;
			if (rte->tablesample)
				ctx->view->time_dependent = true;
		}
		return false;
	}
	if (IsA(node, SQLValueFunction))
		ctx->view->time_dependent = true;	/* current_date, current_user, ... */
	if (IsA(node, NextValueExpr))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s takes values from a sequence", ctx->what)));
	if (check_functions_in_node(node, check_function, ctx))
		return true;
	return expression_tree_walker(node, validate_walker, ctx);
}

static Node *
strip(Node *n)
{
	while (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	return n;
}

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
		e = strip(flatten_join_alias_vars(q, (Node *) tle->expr));
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
	return view_source(view, rte->relid, hist, "source", false);
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
static bool
classify_keyed(DpView *view, Query *q, StringInfo why)
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
				a = (Var *) strip(linitial(op->args));
				b = (Var *) strip(lsecond(op->args));
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
 * The aggregate method: GROUP BY over one dataset, every output column a
 * grouping expression or count/sum/avg/min/max of an expression (sum and
 * avg of exact numbers), no HAVING, DISTINCT or ordered aggregates.
 */
static bool
classify_aggregate(DpView *view, Query *q, StringInfo why)
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
 * through the driver's _batch_id index instead of one probe per key.
 */
static char *
changed_rows_sql(DpView *view, Query *q)
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
	c->jointree->quals = make_and_qual(c->jointree->quals, quals);
	return pg_get_querydef(c, false);
}

/* A candidate key for the full method: the GROUP BY columns. */
static void
infer_group_key(DpView *view, Query *q)
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

/*
 * Whether an output expression shows PII: it reads (through joins,
 * subqueries and CTEs) a column of a dataset field marked pii.  A count
 * reveals nothing; anything else that reads such a column is PII.
 */
static bool
expr_is_pii(Query *q, Node *expr, int depth)
{
	List	   *vars;
	ListCell   *lc;
	Node	   *e = strip(expr);

	if (depth > 16)
		return true;
	if (IsA(e, Aggref) && strcmp(get_func_name(((Aggref *) e)->aggfnoid), "count") == 0)
		return false;
	vars = pull_var_clause(flatten_join_alias_vars(q, expr),
						   PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS | PVC_RECURSE_PLACEHOLDERS);
	foreach(lc, vars)
	{
		Var		   *v = lfirst_node(Var, lc);
		RangeTblEntry *rte;

		if (v->varlevelsup != 0)
			continue;
		rte = rt_fetch(v->varno, q->rtable);
		if (v->varattno <= 0)
			return true;		/* a whole row: conservatively PII */
		if (rte->rtekind == RTE_RELATION)
		{
			const char *args[2];

			args[0] = get_rel_name(rte->relid);
			args[1] = get_attname(rte->relid, v->varattno, false);
			if (dp_spi_exec_text("SELECT 1 FROM dataplatform.datasets d "
								 "JOIN dataplatform.fields f ON f.dataset = d.name "
								 "WHERE (d.table_name::text = $1 OR d.table_name::text || '_history' = $1) "
								 "AND f.column_name::text = $2 AND f.pii", 2, args) > 0)
				return true;
		}
		else if (rte->rtekind == RTE_SUBQUERY)
		{
			TargetEntry *tle = get_tle_by_resno(rte->subquery->targetList, v->varattno);

			if (tle == NULL || expr_is_pii(rte->subquery, (Node *) tle->expr, depth + 1))
				return true;
		}
		else if (rte->rtekind == RTE_CTE)
		{
			ListCell   *c;
			bool		found = false;

			foreach(c, q->cteList)
			{
				CommonTableExpr *cte = lfirst_node(CommonTableExpr, c);

				if (strcmp(cte->ctename, rte->ctename) == 0 && IsA(cte->ctequery, Query))
				{
					TargetEntry *tle = get_tle_by_resno(((Query *) cte->ctequery)->targetList,
														v->varattno);

					found = true;
					if (tle == NULL || expr_is_pii((Query *) cte->ctequery, (Node *) tle->expr, depth + 1))
						return true;
				}
			}
			if (!found)
				return true;
		}
		else
			return true;		/* values lists, functions...: conservatively PII */
	}
	return false;
}

/* Column comment: the description of the dataset field an output shows. */
static char *
column_comment(Query *q, TargetEntry *tle)
{
	Node	   *e = strip(flatten_join_alias_vars(q, (Node *) tle->expr));
	RangeTblEntry *rte;
	const char *args[2];
	char	   *relname;
	char	   *d;

	if (!IsA(e, Var) || ((Var *) e)->varlevelsup != 0 || ((Var *) e)->varattno <= 0)
		return NULL;
	rte = rt_fetch(((Var *) e)->varno, q->rtable);
	if (rte->rtekind != RTE_RELATION)
		return NULL;
	relname = get_rel_name(rte->relid);
	args[0] = relname;
	args[1] = get_attname(rte->relid, ((Var *) e)->varattno, false);
	if (dp_spi_exec_text("SELECT f.description FROM dataplatform.datasets d "
						 "JOIN dataplatform.fields f ON f.dataset = d.name "
						 "WHERE (d.table_name::text = $1 OR d.table_name::text || '_history' = $1) "
						 "AND f.column_name::text = $2", 2, args) == 0)
		return NULL;
	d = dp_spi_getvalue(0, 1);
	return d;
}

/*
 * Parse, analyse and validate one SELECT; what names it in messages.
 * Datasets it reads are added to view->sources.
 */
static Query *
parse_and_check(DpView *view, const char *sql, const char *what, bool allow_consumer)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *raw = NIL;
	RawStmt    *rs;
	Query	   *q = NULL;
	WalkContext ctx;
	int			nest;

	PG_TRY();
	{
		raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		rethrow_source_error(what, cxt, "does not parse");
	}
	PG_END_TRY();
	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not a single SELECT", what),
				 errdetail("It holds %d statements.", list_length(raw)),
				 errhint("Write one SELECT over dp_clean.")));
	rs = linitial_node(RawStmt, raw);
	if (!IsA(rs->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not a SELECT", what),
				 errdetail("It is a %s statement.", CreateCommandName(rs->stmt)),
				 errhint("Write one SELECT over dp_clean.")));
	if (((SelectStmt *) rs->stmt)->intoClause)
		refuse_write(what, "INTO clause");

	/* unqualified names resolve in dp_clean; the deparsed text qualifies them */
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path",
							 allow_consumer ? "dp_consumer, dp_clean, pg_catalog, pg_temp" :
							 "dp_clean, pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	PG_TRY();
	{
		q = parse_analyze_fixedparams(rs, sql, NULL, 0, NULL);
	}
	PG_CATCH();
	{
		rethrow_source_error(what, cxt, "is not valid");
	}
	PG_END_TRY();
	AtEOXact_GUC(true, nest);

	ctx.view = view;
	ctx.what = what;
	ctx.allow_consumer = allow_consumer;
	(void) validate_walker((Node *) q, &ctx);
	return q;
}

Query *
dp_view_check_query(const char *name, const char *sql, const char *what, bool allow_consumer)
{
	DpView	   *view = palloc0(sizeof(DpView));

	view->name = pstrdup(name);
	return parse_and_check(view, sql, what, allow_consumer);
}

DpView *
dp_view_analyze(const char *name, const char *sql, bool publishing)
{
	DpView	   *view = palloc0(sizeof(DpView));
	Query	   *q;
	ListCell   *lc;
	int			col;
	StringInfoData why;

	view->name = pstrdup(name);
	view->driver = -1;
	q = parse_and_check(view, sql, psprintf("source of view \"%s\"", name), false);
	if (view->nsources == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source of view \"%s\" reads no dataset", name),
				 errhint("Select from a table in dp_clean.")));

	view->definition = pg_get_querydef(copyObject(q), true);

	/* output columns */
	view->cols = palloc0(sizeof(DpViewColumn) * Max(list_length(q->targetList), 1));
	col = 0;
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		DpViewColumn *c;
		Oid			type = exprType((Node *) tle->expr);
		Oid			coll = exprCollation((Node *) tle->expr);
		int			i;

		if (tle->resjunk)
			continue;
		c = &view->cols[col];
		c->name = pstrdup(tle->resname ? tle->resname : "?column?");
		if (strcmp(c->name, "?column?") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
					 errmsg("column %d of view \"%s\" has no name", col + 1, name),
					 errhint("Name every computed column with AS.")));
		if (type == RECORDOID || get_typtype(type) == TYPTYPE_PSEUDO)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of view \"%s\" has type %s, which a table cannot hold",
							c->name, name, format_type_be(type)),
					 errhint("Expand the record into columns.")));
		for (i = 0; i < col; i++)
			if (strcmp(view->cols[i].name, c->name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("view \"%s\" would have two columns named \"%s\"", name, c->name),
						 errhint("Give the columns distinct names with AS.")));
		c->type = format_type_with_typemod(type, exprTypmod((Node *) tle->expr));
		if (OidIsValid(coll) && coll != get_typcollation(type))
			c->collation = generate_collation_name(coll);
		c->group = -1;
		c->comment = publishing ? column_comment(q, tle) : NULL;
		c->pii = publishing ? expr_is_pii(q, (Node *) tle->expr, 0) : false;
		col++;
	}
	view->ncols = col;

	/* the method the query allows */
	initStringInfo(&why);
	if (q->setOperations)
		appendStringInfoString(&why, "it combines queries with UNION, INTERSECT or EXCEPT");
	else if (q->cteList)
		appendStringInfoString(&why, "it has a WITH clause");
	else if (q->hasSubLinks)
		appendStringInfoString(&why, "it has a subquery in an expression");
	else if (q->hasWindowFuncs)
		appendStringInfoString(&why, "it uses window functions");
	else if (q->distinctClause)
		appendStringInfoString(&why, "it has DISTINCT");
	else if (q->limitCount || q->limitOffset)
		appendStringInfoString(&why, "it has LIMIT or OFFSET");
	else if (q->hasTargetSRFs)
		appendStringInfoString(&why, "it calls a set-returning function in its output");
	else if (q->groupingSets)
		appendStringInfoString(&why, "it has grouping sets");
	else if (view->time_dependent)
		appendStringInfoString(&why, "it calls functions that are not immutable (such as now() or current_date), so its result can change without any data change");
	else if (view->reads_history)
		appendStringInfoString(&why, "it reads a history table");
	else
	{
		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind != RTE_RELATION && rte->rtekind != RTE_JOIN)
			{
				appendStringInfoString(&why, "it reads from a subquery or a function");
				break;
			}
		}
	}
	if (why.len == 0)
	{
		if (q->hasAggs || q->groupClause)
		{
			if (q->groupClause == NIL)
				appendStringInfoString(&why, "it aggregates without GROUP BY");
			else if (classify_aggregate(view, q, &why))
				view->method = DP_VIEW_AGGREGATE;
		}
		else if (classify_keyed(view, q, &why))
		{
			view->method = DP_VIEW_KEYED;
			view->changed_sql = changed_rows_sql(view, q);
		}
	}
	if (why.len > 0)
	{
		int			i;

		view->method = DP_VIEW_FULL;
		view->reason = why.data;
		for (i = 0; i < view->ncols; i++)
		{
			view->cols[i].group = -1;
			view->cols[i].agg = DP_AGG_NONE;
		}
		if (view->inferred == NULL && q->groupClause)
			infer_group_key(view, q);
		else if (view->inferred == NULL && !q->hasAggs && q->jointree->fromlist != NIL)
		{
			StringInfoData ignored;

			/* a dataset key in the output still makes a key */
			initStringInfo(&ignored);
			(void) classify_keyed(view, q, &ignored);
		}
	}
	return view;
}

void
dp_view_choose(DpView *view, List *key_names, const char *refresh)
{
	int			nkey;
	int		   *key;
	bool		matches = true;
	int			i,
				j;

	if (key_names != NIL)
	{
		ListCell   *lc;

		nkey = list_length(key_names);
		key = palloc(sizeof(int) * nkey);
		i = 0;
		foreach(lc, key_names)
		{
			const char *k = (const char *) lfirst(lc);

			for (j = 0; j < view->ncols; j++)
				if (strcmp(view->cols[j].name, k) == 0)
					break;
			if (j == view->ncols)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("key column \"%s\" is not a column of view \"%s\"", k, view->name),
						 errdetail("The view's columns are %s.", dp_view_column_list(view, 0, NULL, NULL))));
			for (int m = 0; m < i; m++)
				if (key[m] == j)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("key column \"%s\" of view \"%s\" is listed twice", k, view->name)));
			key[i++] = j;
		}
		/* the same set as the key the method works by? */
		if (view->inferred == NULL || view->ninferred != nkey)
			matches = false;
		else
			for (i = 0; i < nkey && matches; i++)
			{
				for (j = 0; j < nkey; j++)
					if (view->inferred[j] == key[i])
						break;
				if (j == nkey)
					matches = false;
			}
	}
	else
	{
		if (view->inferred == NULL || view->ninferred == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
					 errmsg("cannot infer a key for view \"%s\"", view->name),
					 errdetail("The key is inferred from a dataset key in the output or from the GROUP BY columns."),
					 errhint("Name the columns that identify a row: {\"key\": [\"column\", ...]}.")));
		nkey = view->ninferred;
		key = view->inferred;
	}

	if (view->method != DP_VIEW_FULL && !matches)
	{
		view->method = DP_VIEW_FULL;
		view->reason = psprintf("the key (%s) is not the %s",
								dp_view_column_list(view, nkey, key, NULL),
								view->cols[view->inferred ? view->inferred[0] : 0].group >= 0 ?
								"GROUP BY columns" : "key of the first dataset");
	}
	if (view->method != DP_VIEW_FULL)
	{
		/* incremental methods keep the order their key comes in */
		nkey = view->ninferred;
		key = view->inferred;
	}
	if (refresh != NULL && strcmp(refresh, "full") == 0 && view->method != DP_VIEW_FULL)
	{
		view->method = DP_VIEW_FULL;
		view->reason = pstrdup("full refresh was requested");
	}
	if (refresh != NULL && strcmp(refresh, "incremental") == 0 && view->method == DP_VIEW_FULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("view \"%s\" cannot be refreshed incrementally", view->name),
				 errdetail("Its query cannot be maintained by key or by group: %s.", view->reason),
				 errhint("Use \"refresh\": \"full\", or leave refresh out to let the platform choose.")));
	if (view->method == DP_VIEW_FULL)
		for (i = 0; i < view->ncols; i++)
		{
			view->cols[i].group = -1;
			view->cols[i].agg = DP_AGG_NONE;
		}
	view->nkey = nkey;
	view->key = key;
}

/* ------------------------------------------------------------------------
 * publish
 * ------------------------------------------------------------------------
 */

static const char *const publish_options[] = {
	"key", "refresh", "description", "expect", "comments", "replace"
};

static void
option_error(const char *name, const char *key, const char *expected, json_t *got)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("option \"%s\" of view \"%s\" must be %s", key, name, expected),
			 errdetail("Got %s.", dp_json_type_name(got))));
}

/* The SELECT that publishes a dataset's current state. */
static char *
dataset_select(const char *dataset, char **table)
{
	const char *args[1];
	StringInfoData sql;
	uint64		n,
				i;

	args[0] = dataset;
	if (dp_spi_exec_text("SELECT table_name::text FROM dataplatform.datasets WHERE name = $1", 1, args) == 0)
		return NULL;
	*table = pstrdup(dp_spi_getvalue(0, 1));
	n = dp_spi_exec_text("SELECT column_name::text FROM dataplatform.fields WHERE dataset = $1 ORDER BY ordinal",
						 1, args);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (i = 0; i < n; i++)
		appendStringInfo(&sql, "%s%s", i ? ", " : "", quote_identifier(dp_spi_getvalue(i, 1)));
	appendStringInfo(&sql, " FROM dp_clean.%s", quote_identifier(*table));
	return sql.data;
}

/* DROP TABLE of a qualified name when it exists (quietly when not). */
static void
drop_table(const char *qualified)
{
	const char *args[1];

	args[0] = qualified;
	if (dp_spi_exec_text("SELECT pg_catalog.to_regclass($1) IS NOT NULL", 1, args) == 1 &&
		strcmp(dp_spi_getvalue(0, 1), "t") == 0)
		dp_spi_exec(psprintf("DROP TABLE %s", qualified), 0, NULL, NULL, NULL);
}

static bool
looks_like_name(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char) *s) || *s == '(' || *s == ')' || *s == '*' || *s == ',' || *s == ';')
			return false;
	return true;
}

static void
set_comment(const char *what, const char *object, const char *text)
{
	dp_spi_exec(psprintf("COMMENT ON %s %s IS %s", what, object,
						 text ? quote_literal_cstr(text) : "NULL"), 0, NULL, NULL, NULL);
}

/* The columns of a table as "name type" for CREATE TABLE, key NOT NULL. */
static char *
table_columns(const DpView *view, bool key_not_null)
{
	StringInfoData buf;
	int			i,
				k;

	initStringInfo(&buf);
	for (i = 0; i < view->ncols; i++)
	{
		bool		is_key = false;

		for (k = 0; k < view->nkey; k++)
			if (view->key[k] == i)
				is_key = true;
		appendStringInfo(&buf, "%s%s %s%s%s%s", i ? ", " : "", quote_identifier(view->cols[i].name),
						 view->cols[i].type, view->cols[i].collation ? " COLLATE " : "",
						 view->cols[i].collation ? view->cols[i].collation : "",
						 is_key && key_not_null ? " NOT NULL" : "");
	}
	return buf.data;
}

/* The state table of an aggregate view: groups and the parts of each aggregate. */
static void
create_state_table(const DpView *view)
{
	StringInfoData sql;
	int			k,
				i;
	char	   *q = dp_view_state_qualified(view->name);

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", q);
	for (k = 0; k < view->nkey; k++)
	{
		DpViewColumn *c = &view->cols[view->key[k]];

		appendStringInfo(&sql, "%s %s%s%s, ", quote_identifier(c->name), c->type,
						 c->collation ? " COLLATE " : "", c->collation ? c->collation : "");
	}
	appendStringInfoString(&sql, "_rows bigint NOT NULL");
	for (i = 0; i < view->ncols; i++)
	{
		DpViewColumn *c = &view->cols[i];

		switch (c->agg)
		{
			case DP_AGG_COUNT_STAR:
			case DP_AGG_COUNT:
				appendStringInfo(&sql, ", _c%d bigint NOT NULL", i);
				break;
			case DP_AGG_SUM:
			case DP_AGG_AVG:
				appendStringInfo(&sql, ", _s%d numeric NOT NULL, _n%d bigint NOT NULL", i, i);
				break;
			case DP_AGG_MIN:
			case DP_AGG_MAX:
				appendStringInfo(&sql, ", _m%d %s%s%s, _k%d bigint NOT NULL", i, c->type,
								 c->collation ? " COLLATE " : "", c->collation ? c->collation : "", i);
				break;
			case DP_AGG_NONE:
				break;
		}
	}
	appendStringInfoString(&sql, ", _dirty boolean NOT NULL DEFAULT false)");
	dp_spi_exec(sql.data, 0, NULL, NULL, NULL);
	dp_spi_exec(psprintf("CREATE UNIQUE INDEX ON %s (%s)", q,
						 dp_view_column_list(view, view->nkey, view->key, NULL)), 0, NULL, NULL, NULL);
	dp_spi_exec(psprintf("GRANT SELECT ON %s TO %s", q, DP_ROLE_ADMIN), 0, NULL, NULL, NULL);
	set_comment("TABLE", q, psprintf("state of the aggregate view dp_consumer.%s (maintained by refresh)",
									 view->name));
}

static char *
json_text_array(const DpView *view)
{
	StringInfoData buf;
	int			k;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (k = 0; k < view->nkey; k++)
	{
		if (k)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, view->cols[view->key[k]].name);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * Views of others built on the published view hold it: replacing or
 * unpublishing it would have to drop them.  Refuse with their names, before
 * anything is changed.
 */
static void
check_no_dependents(const char *name, const char *action)
{
	const char *args[1];

	args[0] = dp_view_facade_qualified(name);
	if (dp_spi_exec_text("SELECT pg_catalog.string_agg(DISTINCT v.oid::pg_catalog.regclass::text, ', ') "
						 "FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid "
						 "JOIN pg_catalog.pg_class v ON v.oid = r.ev_class "
						 "WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
						 "AND d.refobjid = pg_catalog.to_regclass($1) AND v.oid <> d.refobjid",
						 1, args) > 0 && dp_spi_getvalue(0, 1) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot %s view \"%s\": other views depend on it", action, name),
				 errdetail("Views built on dp_consumer.%s: %s.", quote_identifier(name), dp_spi_getvalue(0, 1)),
				 strcmp(action, "replace") == 0 ?
				 errhint("Their owners drop them first (and build them again after), or publish under another name.") :
				 errhint("Their owners drop them first.")));
}

/*
 * The view consumers read, dp_consumer.<name>: the table's columns, PII ones
 * masked (dataplatform.mask under the key in dp_consumer_data.mask_key) for
 * callers that do not see PII.  The key is read as the view's owner, so a
 * consumer cannot compute tokens of guessed values.
 */
static void
create_facade(const DpView *view)
{
	StringInfoData sql;
	int			i;
	const char *facade = dp_view_facade_qualified(view->name);

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE VIEW %s AS SELECT ", facade);
	for (i = 0; i < view->ncols; i++)
	{
		const char *c = quote_identifier(view->cols[i].name);

		if (i > 0)
			appendStringInfoString(&sql, ", ");
		if (view->cols[i].pii)
			appendStringInfo(&sql, "CASE WHEN (SELECT dataplatform.sees_pii()) THEN d.%s "
							 "ELSE dataplatform.mask(d.%s, (SELECT k.key FROM dp_consumer_data.mask_key k)) END AS %s",
							 c, c, c);
		else
			appendStringInfo(&sql, "d.%s", c);
	}
	appendStringInfo(&sql, " FROM %s d", dp_view_qualified(view->name));
	dp_spi_exec(sql.data, 0, NULL, NULL, NULL);
	dp_spi_exec(psprintf("GRANT SELECT ON %s TO %s, %s", facade, DP_ROLE_CONSUMER, DP_ROLE_ADMIN),
				0, NULL, NULL, NULL);
}

Datum
dp_publish(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	char	   *source = dp_arg_cstring(fcinfo, 1, "source");
	MemoryContext result_cxt = CurrentMemoryContext;
	Jsonb	   *optb;
	json_t	   *opts;
	json_t	   *expect = NULL;
	json_t	   *comments = NULL;
	const char *key;
	json_t	   *value;
	List	   *key_names = NIL;
	const char *refresh = NULL;
	const char *description = NULL;
	bool		replace = false;
	bool		exists;
	char	   *sql;
	char	   *dataset = NULL;
	char	   *table = NULL;
	DpView	   *view;
	char	   *qview;
	char	   *build;
	char	   *qbuild;
	char	   *result;
	DpRefresh  *fill;
	const char *args[13];
	char	   *dataset_description = NULL;
	StringInfoData detail;
	int			i;
	Datum		ret;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("options must not be null")));
	optb = PG_GETARG_JSONB_P(2);
	dp_require_admin("publish a view");
	check_view_name(name);

	opts = dp_consumer_json(optb, "the publish options");
	if (!json_is_object(opts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of view \"%s\" must be a JSON object", name),
				 errdetail("Got %s.", dp_json_type_name(opts))));
	json_object_foreach(opts, key, value)
	{
		bool		known = false;

		for (i = 0; i < (int) lengthof(publish_options); i++)
			if (strcmp(key, publish_options[i]) == 0)
				known = true;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" for view \"%s\"", key, name),
					 errhint("Options are key, refresh, description, expect, comments and replace.")));
		if (strcmp(key, "key") == 0)
		{
			if (json_is_string(value))
				key_names = list_make1(pstrdup(json_string_value(value)));
			else if (json_is_array(value) && json_array_size(value) > 0)
			{
				size_t		j;
				json_t	   *k;

				json_array_foreach(value, j, k)
				{
					if (!json_is_string(k))
						option_error(name, "key", "a column name or an array of column names", k);
					key_names = lappend(key_names, pstrdup(json_string_value(k)));
				}
			}
			else
				option_error(name, "key", "a column name or a non-empty array of column names", value);
		}
		else if (strcmp(key, "refresh") == 0)
		{
			if (!json_is_string(value))
				option_error(name, "refresh", "\"incremental\" or \"full\"", value);
			refresh = pstrdup(json_string_value(value));
			if (strcmp(refresh, "incremental") != 0 && strcmp(refresh, "full") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid refresh \"%s\" for view \"%s\"", refresh, name),
						 errhint("Use \"incremental\" or \"full\".")));
		}
		else if (strcmp(key, "description") == 0)
		{
			if (!json_is_string(value))
				option_error(name, "description", "a string", value);
			description = pstrdup(json_string_value(value));
		}
		else if (strcmp(key, "expect") == 0)
			expect = value;
		else if (strcmp(key, "comments") == 0)
		{
			if (!json_is_object(value))
				option_error(name, "comments", "an object of column names to descriptions", value);
			comments = value;
		}
		else if (strcmp(key, "replace") == 0)
		{
			if (!json_is_boolean(value))
				option_error(name, "replace", "a boolean", value);
			replace = json_is_true(value);
		}
	}

	SPI_connect();
	args[0] = name;
	exists = dp_spi_exec_text("SELECT 1 FROM dataplatform.consumer_view WHERE name = $1 FOR UPDATE",
							  1, args) > 0;
	if (exists && !replace)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("view \"%s\" is already published", name),
				 errhint("Pass {\"replace\": true} to replace its definition, or unpublish it first.")));
	if (exists)
		check_no_dependents(name, "replace");
	if (!exists && dp_spi_exec_text("SELECT 1 FROM pg_catalog.pg_class c "
									"WHERE c.relnamespace = 'dp_consumer'::regnamespace AND c.relname = $1",
									1, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation dp_consumer.%s already exists", quote_identifier(name)),
				 errdetail("It is not a published view."),
				 errhint("Choose another name, or drop the relation.")));

	sql = dataset_select(source, &table);
	if (sql != NULL)
	{
		args[0] = source;
		dataset = source;
		if (dp_spi_exec_text("SELECT spec ->> 'description' FROM dataplatform.datasets WHERE name = $1",
							 1, args) > 0 && dp_spi_getvalue(0, 1))
			dataset_description = pstrdup(dp_spi_getvalue(0, 1));
	}
	else if (looks_like_name(source))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", source),
				 errhint("The source of view \"%s\" is a dataset name or a SELECT over dp_clean.", name)));
	else
		sql = source;

	view = dp_view_analyze(name, sql, true);
	dp_view_choose(view, key_names, refresh);
	if (expect != NULL)
		expect = dp_expect_validate(view, expect);
	else
		expect = json_array();
	if (comments != NULL)
	{
		json_object_foreach(comments, key, value)
		{
			for (i = 0; i < view->ncols; i++)
				if (strcmp(view->cols[i].name, key) == 0)
					break;
			if (i == view->ncols)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("comment for unknown column \"%s\" of view \"%s\"", key, name),
						 errdetail("The view's columns are %s.", dp_view_column_list(view, 0, NULL, NULL))));
			if (!json_is_string(value) && !json_is_null(value))
				option_error(name, "comments", "an object of column names to strings", value);
			view->cols[i].comment = json_is_string(value) ? pstrdup(json_string_value(value)) : NULL;
		}
	}

	/* catalog row first: the fill records its watermarks against it */
	{
		char	   *expect_text = json_dumps(expect, JSON_COMPACT | JSON_ENCODE_ANY);
		char	   *comments_text = comments ? json_dumps(comments, JSON_COMPACT) : NULL;
		char	   *opts_text = json_dumps(opts, JSON_COMPACT);

		args[0] = name;
		args[1] = source;
		args[2] = dataset;
		args[3] = view->definition;
		args[4] = json_text_array(view);
		args[5] = refresh;
		args[6] = dp_view_method_name(view->method);
		args[7] = view->reason;
		args[8] = description ? description : dataset_description;
		args[9] = expect_text;
		args[10] = comments_text;
		args[11] = opts_text;
		args[12] = GetUserNameFromId(dp_caller_id(), false);
		if (exists)
			dp_spi_exec_text("DELETE FROM dataplatform.consumer_view WHERE name = $1", 1, args);
		dp_spi_exec_text("INSERT INTO dataplatform.consumer_view (name, source, dataset, definition, key, "
						 "refresh, method, method_reason, description, expect, comments, options, "
						 "published_by, row_count) "
						 "VALUES ($1, $2, $3, $4, ARRAY(SELECT pg_catalog.jsonb_array_elements_text($5::jsonb)), "
						 "$6, $7, $8, $9, $10::jsonb, $11::jsonb, $12::jsonb, $13::name, 0)",
						 13, args);
	}

	/* build aside, then swap */
	qview = dp_view_qualified(name);
	build = exists ? psprintf("_publish_%u", GetTopTransactionId()) : pstrdup(name);
	qbuild = dp_view_qualified(build);
	/* room on each page for updates in place (HOT) when refreshed incrementally */
	dp_spi_exec(psprintf("CREATE TABLE %s (%s)%s", qbuild, table_columns(view, true),
						 view->method == DP_VIEW_FULL ? "" : " WITH (fillfactor = 85)"), 0, NULL, NULL, NULL);
	if (exists)
		drop_table(dp_view_state_qualified(name));
	if (view->method == DP_VIEW_AGGREGATE)
		create_state_table(view);

	fill = dp_refresh_fill(view, qbuild);

	dp_spi_exec(psprintf("CREATE UNIQUE INDEX %s ON %s (%s)",
						 quote_identifier(psprintf("%s_key", build)), qbuild,
						 dp_view_column_list(view, view->nkey, view->key, NULL)), 0, NULL, NULL, NULL);
	if (exists)
	{
		/* the swap: ACCESS EXCLUSIVE on the old table from here to commit */
		dp_spi_exec(psprintf("DROP VIEW IF EXISTS %s", dp_view_facade_qualified(name)), 0, NULL, NULL, NULL);
		dp_spi_exec(psprintf("DROP TABLE %s", qview), 0, NULL, NULL, NULL);
		dp_spi_exec(psprintf("ALTER TABLE %s RENAME TO %s", qbuild, quote_identifier(name)),
					0, NULL, NULL, NULL);
		dp_spi_exec(psprintf("ALTER INDEX dp_consumer_data.%s RENAME TO %s",
							 quote_identifier(psprintf("%s_key", build)),
							 quote_identifier(psprintf("%s_key", name))), 0, NULL, NULL, NULL);
	}
	create_facade(view);
	set_comment("VIEW", dp_view_facade_qualified(name), description ? description : dataset_description);
	for (i = 0; i < view->ncols; i++)
		set_comment("COLUMN", psprintf("%s.%s", dp_view_facade_qualified(name),
									   quote_identifier(view->cols[i].name)),
					view->cols[i].comment);

	/* expectations see the table under its name, as every refresh will */
	result = dp_refresh_publish_done(fill, expect);

	initStringInfo(&detail);
	appendStringInfo(&detail, "{\"method\": \"%s\", \"key\": %s, \"replaced\": %s, \"source\": ",
					 dp_view_method_name(view->method), json_text_array(view), exists ? "true" : "false");
	escape_json(&detail, source);
	appendStringInfoChar(&detail, '}');
	dp_audit("publish", name, detail.data);

	MemoryContextSwitchTo(result_cxt);
	ret = DirectFunctionCall1(jsonb_in, CStringGetDatum(result));
	SPI_finish();
	PG_RETURN_DATUM(ret);
}

/* ------------------------------------------------------------------------
 * unpublish
 * ------------------------------------------------------------------------
 */

Datum
dp_unpublish(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	const char *args[1];

	dp_require_admin("unpublish a view");
	SPI_connect();
	args[0] = name;
	if (dp_spi_exec_text("SELECT 1 FROM dataplatform.consumer_view WHERE name = $1 FOR UPDATE",
						 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("view \"%s\" is not published", name),
				 errhint("dataplatform.consumer_view lists the published views.")));
	check_no_dependents(name, "unpublish");
	dp_spi_exec(psprintf("DROP VIEW IF EXISTS %s", dp_view_facade_qualified(name)), 0, NULL, NULL, NULL);
	drop_table(dp_view_qualified(name));
	drop_table(dp_view_state_qualified(name));
	dp_spi_exec_text("DELETE FROM dataplatform.consumer_view WHERE name = $1", 1, args);
	dp_audit("unpublish", name, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ------------------------------------------------------------------------
 * export
 * ------------------------------------------------------------------------
 */

static void
append_csv(StringInfo buf, const char *v)
{
	const char *p;
	bool		quote;

	if (v == NULL)
		return;
	quote = *v == '\0' || isspace((unsigned char) v[0]) ||
		(*v && isspace((unsigned char) v[strlen(v) - 1])) ||
		strpbrk(v, ",\"\r\n") != NULL;
	if (!quote)
	{
		appendStringInfoString(buf, v);
		return;
	}
	appendStringInfoChar(buf, '"');
	for (p = v; *p; p++)
	{
		if (*p == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

Datum
dp_export(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	char	   *format = dp_arg_cstring(fcinfo, 1, "format");
	StringInfoData out;
	const char *args[1];
	char	   *order;
	bool		csv;
	SPIPlanPtr	plan;
	Portal		portal;
	int64		rows = 0;
	text	   *result;

	if (!dp_caller_has_role(DP_ROLE_CONSUMER) && !dp_caller_has_role(DP_ROLE_ADMIN))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to export view \"%s\"", name),
				 errdetail("Role \"%s\" is not a member of %s.",
						   GetUserNameFromId(dp_caller_id(), false), DP_ROLE_CONSUMER),
				 errhint("An administrator can call dataplatform.grant_consumer for this role.")));
	if (strcmp(format, "csv") == 0)
		csv = true;
	else if (strcmp(format, "json") == 0)
		csv = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown export format \"%s\"", format),
				 errhint("Use \"csv\" or \"json\" (one JSON object per line).")));

	initStringInfo(&out);		/* in the caller's context: outlives SPI */
	SPI_connect();
	args[0] = name;
	if (dp_spi_exec_text("SELECT pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(k) "
						 "FROM pg_catalog.unnest(key) AS k), ', ') "
						 "FROM dataplatform.consumer_view WHERE name = $1", 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("view \"%s\" is not published", name),
				 errhint("dataplatform.consumer_status lists the published views.")));
	order = pstrdup(dp_spi_getvalue(0, 1));

	if (csv)
		plan = SPI_prepare(psprintf("SELECT * FROM %s ORDER BY %s", dp_view_facade_qualified(name), order),
						   0, NULL);
	else
		plan = SPI_prepare(psprintf("SELECT pg_catalog.row_to_json(v)::text FROM %s v ORDER BY %s",
									dp_view_facade_qualified(name), order), 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		uint64		r;
		int			c;

		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		if (csv && rows == 0)
		{
			for (c = 1; c <= SPI_tuptable->tupdesc->natts; c++)
			{
				if (c > 1)
					appendStringInfoChar(&out, ',');
				append_csv(&out, NameStr(TupleDescAttr(SPI_tuptable->tupdesc, c - 1)->attname));
			}
			appendStringInfoChar(&out, '\n');
		}
		for (r = 0; r < SPI_processed; r++)
		{
			if (csv)
			{
				for (c = 1; c <= SPI_tuptable->tupdesc->natts; c++)
				{
					if (c > 1)
						appendStringInfoChar(&out, ',');
					append_csv(&out, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c));
				}
			}
			else
				appendStringInfoString(&out, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1));
			appendStringInfoChar(&out, '\n');
		}
		rows += SPI_processed;
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	if (csv && rows == 0)
	{
		/* header only */
		uint64		n = dp_spi_exec_text("SELECT a.attname::text FROM pg_catalog.pg_attribute a "
										 "WHERE a.attrelid = ('dp_consumer.' || pg_catalog.quote_ident($1))::regclass "
										 "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", 1, args);

		for (uint64 i = 0; i < n; i++)
		{
			if (i > 0)
				appendStringInfoChar(&out, ',');
			append_csv(&out, dp_spi_getvalue(i, 1));
		}
		appendStringInfoChar(&out, '\n');
	}
	dp_audit("export", name, psprintf("{\"format\": \"%s\", \"rows\": " INT64_FORMAT "}", format, rows));
	SPI_finish();
	result = cstring_to_text_with_len(out.data, out.len);
	PG_RETURN_TEXT_P(result);
}
