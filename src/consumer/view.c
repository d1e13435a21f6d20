/*
 * view.c
 *		A published view's definition: its names, and the analysis of its
 *		source query (parse, validate, output columns and their PII and
 *		comments, then the key and the refresh method).  classify.c
 *		recognises the shapes of the incremental methods; publish.c creates
 *		the view and refresh.c refreshes it.
 *
 * A view's source is a dataset name or one SELECT over dp_clean.  It is
 * parsed and analysed here, refused when it is anything but a read of the
 * clean layer, and stored as SQL text (deparsed, every name qualified):
 * never OIDs or node trees, so dumps and upgrades keep it.  Every refresh
 * analyses the stored text again.
 *
 * Security: API functions run as the extension owner.  The source query, and
 * every statement that evaluates expressions taken from it, runs as the role
 * dataplatform_admin (dp_view_reader_role) inside a security-restricted
 * operation (as REFRESH MATERIALIZED VIEW runs as the view's owner), so a
 * function in a source cannot do more than an admin could: no server files,
 * no other backends.  diff.c's dp_refresh_exec is where the role is taken.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "access.h"
#include "consumer.h"

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

/*
 * The key columns of a dataset, in key order: those of its clean table's
 * primary key, which clean_table.c makes on the spec's key in its order
 * (read from the relation cache, which planning the refresh's statements
 * loads anyway).
 */
static void
source_key(DpViewSource *s, Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	Oid			pk = RelationGetPrimaryKeyIndex(rel);
	HeapTuple	tup;
	Form_pg_index idx;
	int			k;

	if (!OidIsValid(pk))
		elog(ERROR, "table dp_clean.%s of dataset \"%s\" has no primary key", s->table, s->dataset);
	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pk));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for index %u", pk);
	idx = (Form_pg_index) GETSTRUCT(tup);
	s->nkey = idx->indnkeyatts;
	s->key = palloc(sizeof(char *) * Max(s->nkey, 1));
	for (k = 0; k < s->nkey; k++)
		s->key[k] = get_attname(relid, idx->indkey.values[k], false);
	ReleaseSysCache(tup);
	table_close(rel, NoLock);
}

/* Find or add the dataset behind a dp_clean relation; returns its index. */
int
dp_view_source(DpView *view, Oid relid, bool *is_history, const char *what, bool allow_consumer)
{
	const char *relname = get_rel_name(relid);
	Oid			nsp = get_rel_namespace(relid);
	const char *nspname = get_namespace_name(nsp);
	const char *args[1];
	char	   *dataset;
	char	   *table;
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
	/* a table the analysis met already (the walk, then the method's shape) */
	for (i = 0; i < view->nsources; i++)
	{
		size_t		len = strlen(view->sources[i].table);

		if (strcmp(view->sources[i].table, relname) == 0)
			return i;
		if (strncmp(view->sources[i].table, relname, len) == 0 && strcmp(relname + len, "_history") == 0)
		{
			*is_history = true;
			return i;
		}
	}
	args[0] = relname;
	if (dp_spi_exec_text_kept("SELECT d.name, d.table_name::text = $1, d.table_name::text "
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
	table = dp_spi_getvalue(0, 3);
	for (i = 0; i < view->nsources; i++)
		if (strcmp(view->sources[i].dataset, dataset) == 0)
			return i;
	{
		DpViewSource *s;

		view->sources = view->nsources == 0 ?
			palloc(sizeof(DpViewSource) * 8) :
			(view->nsources % 8 == 0 ?
			 repalloc(view->sources, sizeof(DpViewSource) * (view->nsources + 8)) :
			 view->sources);
		s = &view->sources[view->nsources];
		s->dataset = pstrdup(dataset);
		s->table = pstrdup(table);
		source_key(s, *is_history ? get_relname_relid(table, nsp) : relid);
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

			dp_view_source(ctx->view, rte->relid, &hist, ctx->what, ctx->allow_consumer);
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

Node *
dp_view_strip(Node *n)
{
	while (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	return n;
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
	Node	   *e = dp_view_strip(expr);

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
	Node	   *e = dp_view_strip(flatten_join_alias_vars(q, (Node *) tle->expr));
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
			else if (dp_view_classify_aggregate(view, q, &why))
				view->method = DP_VIEW_AGGREGATE;
		}
		else if (dp_view_classify_keyed(view, q, &why))
		{
			view->method = DP_VIEW_KEYED;
			view->changed_sql = dp_view_changed_rows_sql(view, q);
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
			dp_view_infer_group_key(view, q);
		else if (view->inferred == NULL && !q->hasAggs && q->jointree->fromlist != NIL)
		{
			StringInfoData ignored;

			/* a dataset key in the output still makes a key */
			initStringInfo(&ignored);
			(void) dp_view_classify_keyed(view, q, &ignored);
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
