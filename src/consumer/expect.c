/*
 * expect.c
 *		Expectations: the checks that gate every refresh of a published view.
 *
 * An expectation list is a JSON array of one-member objects:
 *		{"row_count_min": n}, {"row_count_max": n},
 *		{"row_count_change_max_pct": p}, {"unique": col | [cols]},
 *		{"not_null": col | [cols]},
 *		{"accepted_values": {"column": col, "values": [...]}},
 *		{"sql": "<a SELECT returning one boolean>"}
 * They are validated when a view is published, and evaluated after the new
 * contents are in place (inside the refresh's subtransaction).  Row checks
 * (not_null, accepted_values, unique) look only at the rows the refresh
 * wrote when it wrote only some: the rest passed when they were written.
 * sql expectations run as the view reader role, like the view's query.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "nodes/nodeFuncs.h"

#include "consumer.h"

json_t *
dp_consumer_json(Jsonb *jb, const char *what)
{
	char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	json_t	   *value = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

	/* integers stay integers (so results show them as written) */
	pfree(text);
	return value ? value : dp_json_from_jsonb(jb, what);
}

static const char *const expectation_kinds[] = {
	"row_count_min", "row_count_max", "row_count_change_max_pct", "unique",
	"not_null", "accepted_values", "sql"
};

static void
bad_expectation(const DpView *view, const char *kind, const char *expected, json_t *got)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("expectation \"%s\" of view \"%s\" must be %s", kind, view->name, expected),
			 errdetail("Got %s.", dp_json_type_name(got))));
}

static int
column_index(const DpView *view, const char *kind, const char *col)
{
	int			i;

	for (i = 0; i < view->ncols; i++)
		if (strcmp(view->cols[i].name, col) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("expectation \"%s\" of view \"%s\" names unknown column \"%s\"", kind, view->name, col),
			 errdetail("The view's columns are %s.", dp_view_column_list(view, 0, NULL, NULL))));
	return -1;
}

/* A column name or a non-empty array of them, checked; returns an array. */
static json_t *
columns_of(const DpView *view, const char *kind, json_t *v)
{
	size_t		i;
	json_t	   *c;

	if (json_is_string(v))
	{
		column_index(view, kind, json_string_value(v));
		return json_pack("[O]", v);
	}
	if (!json_is_array(v) || json_array_size(v) == 0)
		bad_expectation(view, kind, "a column name or a non-empty array of column names", v);
	json_array_foreach(v, i, c)
	{
		if (!json_is_string(c))
			bad_expectation(view, kind, "a column name or a non-empty array of column names", c);
		column_index(view, kind, json_string_value(c));
	}
	return json_incref(v);
}

json_t *
dp_expect_validate(const DpView *view, json_t *expect)
{
	json_t	   *list;
	json_t	   *e;
	size_t		i;

	if (json_is_object(expect))
		list = json_pack("[O]", expect);
	else if (json_is_array(expect))
		list = json_incref(expect);
	else
	{
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("expect of view \"%s\" must be an array of expectations", view->name),
				 errdetail("Got %s.", dp_json_type_name(expect)),
				 errhint("For example [{\"row_count_min\": 1}, {\"not_null\": \"id\"}].")));
		return NULL;
	}
	json_array_foreach(list, i, e)
	{
		const char *kind;
		json_t	   *v;
		bool		known = false;
		size_t		k;

		if (!json_is_object(e) || json_object_size(e) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("expectation %d of view \"%s\" must be an object with one member", (int) i + 1,
							view->name),
					 errhint("For example {\"row_count_min\": 1}.")));
		json_object_foreach(e, kind, v)
		{
			for (k = 0; k < lengthof(expectation_kinds); k++)
				if (strcmp(kind, expectation_kinds[k]) == 0)
					known = true;
			if (!known)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown expectation \"%s\" for view \"%s\"", kind, view->name),
						 errhint("Expectations are row_count_min, row_count_max, row_count_change_max_pct, unique, not_null, accepted_values and sql.")));
			if (strncmp(kind, "row_count", 9) == 0)
			{
				if (!json_is_number(v) || json_number_value(v) < 0)
					bad_expectation(view, kind, "a number not below 0", v);
			}
			else if (strcmp(kind, "unique") == 0 || strcmp(kind, "not_null") == 0)
				json_decref(columns_of(view, kind, v));
			else if (strcmp(kind, "accepted_values") == 0)
			{
				json_t	   *col = json_object_get(v, "column");
				json_t	   *vals = json_object_get(v, "values");
				json_t	   *x;
				size_t		j;

				if (!json_is_object(v) || json_object_size(v) != 2 || !json_is_string(col) ||
					!json_is_array(vals) || json_array_size(vals) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("expectation \"accepted_values\" of view \"%s\" must be {\"column\": name, \"values\": [...]}",
									view->name)));
				column_index(view, kind, json_string_value(col));
				json_array_foreach(vals, j, x)
					if (!json_is_string(x) && !json_is_number(x) && !json_is_boolean(x))
					bad_expectation(view, kind, "a list of strings, numbers or booleans", x);
			}
			else if (strcmp(kind, "sql") == 0)
			{
				if (!json_is_string(v))
					bad_expectation(view, kind, "a SELECT returning one boolean", v);
			}
		}
	}
	return list;
}

/* "a" IS NULL OR "b" IS NULL ... */
static char *
column_condition(json_t *cols, const char *fmt, const char *join)
{
	StringInfoData buf;
	size_t		i;
	json_t	   *c;

	initStringInfo(&buf);
	json_array_foreach(cols, i, c)
	{
		if (i)
			appendStringInfoString(&buf, join);
		appendStringInfo(&buf, fmt, quote_identifier(json_string_value(c)));
	}
	return buf.data;
}

static char *
column_names(json_t *cols, const char *prefix)
{
	StringInfoData buf;
	size_t		i;
	json_t	   *c;

	initStringInfo(&buf);
	json_array_foreach(cols, i, c)
		appendStringInfo(&buf, "%s%s%s", i ? ", " : "", prefix, quote_identifier(json_string_value(c)));
	return buf.data;
}

static int64
count_of(DpExecFn exec, void *arg, const char *sql, bool as_reader)
{
	char	   *v;

	if (exec(arg, sql, as_reader) != 1)
		elog(ERROR, "expectation check returned no row");
	v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return v ? pg_strtoint64(v) : 0;
}

bool
dp_expect_evaluate(json_t *expect, const DpView *view, const char *qtable,
				   const char *changed, int64 rows_before, int64 rows_after,
				   DpExecFn exec, void *arg, StringInfo out)
{
	size_t		i;
	json_t	   *e;
	bool		all = true;
	const char *rows_of = changed ? changed : qtable;

	appendStringInfoChar(out, '[');
	json_array_foreach(expect, i, e)
	{
		const char *kind;
		json_t	   *v;
		char	   *figure = NULL;
		bool		passed = true;
		char	   *text;

		json_object_foreach(e, kind, v)
		{
			if (strcmp(kind, "row_count_min") == 0)
			{
				passed = rows_after >= json_number_value(v);
				figure = psprintf(INT64_FORMAT, rows_after);
			}
			else if (strcmp(kind, "row_count_max") == 0)
			{
				passed = rows_after <= json_number_value(v);
				figure = psprintf(INT64_FORMAT, rows_after);
			}
			else if (strcmp(kind, "row_count_change_max_pct") == 0)
			{
				if (rows_before <= 0)
					figure = "null";	/* nothing to compare with */
				else
				{
					double		pct = fabs((double) (rows_after - rows_before)) * 100.0 / rows_before;

					passed = pct <= json_number_value(v);
					figure = psprintf("%.2f", pct);
				}
			}
			else if (strcmp(kind, "not_null") == 0)
			{
				json_t	   *cols = columns_of(view, kind, v);
				int64		n = count_of(exec, arg,
										 psprintf("SELECT pg_catalog.count(*) FROM %s WHERE %s", rows_of,
												  column_condition(cols, "%s IS NULL", " OR ")), false);

				passed = n == 0;
				figure = psprintf(INT64_FORMAT, n);
				json_decref(cols);
			}
			else if (strcmp(kind, "unique") == 0)
			{
				json_t	   *cols = columns_of(view, kind, v);
				char	   *nn = column_condition(cols, "%s IS NOT NULL", " AND ");
				int64		n;

				if (changed)
					n = count_of(exec, arg,
								 psprintf("SELECT pg_catalog.count(*) FROM (SELECT 1 FROM %s v WHERE %s AND (%s) IN "
										  "(SELECT %s FROM %s) GROUP BY %s HAVING pg_catalog.count(*) > 1) d",
										  qtable, nn, column_names(cols, "v."), column_names(cols, ""), changed,
										  column_names(cols, "v.")), false);
				else
					n = count_of(exec, arg,
								 psprintf("SELECT pg_catalog.count(*) FROM (SELECT 1 FROM %s WHERE %s GROUP BY %s "
										  "HAVING pg_catalog.count(*) > 1) d",
										  qtable, nn, column_names(cols, "")), false);
				passed = n == 0;
				figure = psprintf(INT64_FORMAT, n);
				json_decref(cols);
			}
			else if (strcmp(kind, "accepted_values") == 0)
			{
				const char *col = json_string_value(json_object_get(v, "column"));
				json_t	   *vals = json_object_get(v, "values");
				int			c = column_index(view, kind, col);
				StringInfoData arr;
				size_t		j;
				json_t	   *x;
				int64		n;

				initStringInfo(&arr);
				json_array_foreach(vals, j, x)
				{
					char	   *s;

					if (json_is_string(x))
						s = pstrdup(json_string_value(x));
					else if (json_is_boolean(x))
						s = pstrdup(json_is_true(x) ? "true" : "false");
					else if (json_number_value(x) == floor(json_number_value(x)) &&
							 fabs(json_number_value(x)) < 1e15)
						s = psprintf("%.0f", json_number_value(x));
					else
						s = psprintf("%.15g", json_number_value(x));
					appendStringInfo(&arr, "%s%s", j ? ", " : "", quote_literal_cstr(s));
				}
				n = count_of(exec, arg,
							 psprintf("SELECT pg_catalog.count(*) FROM %s WHERE %s IS NOT NULL AND "
									  "NOT (%s = ANY (ARRAY[%s]::%s[]))",
									  rows_of, quote_identifier(col), quote_identifier(col), arr.data,
									  view->cols[c].type), false);
				passed = n == 0;
				figure = psprintf(INT64_FORMAT, n);
			}
			else if (strcmp(kind, "sql") == 0)
			{
				const char *sql = json_string_value(v);
				Query	   *q = (Query *) dp_view_check_query(view->name, sql,
															  psprintf("sql expectation of view \"%s\"", view->name),
															  true);
				ListCell   *lc;
				int			ncols = 0;
				Oid			type = InvalidOid;
				char	   *val;

				foreach(lc, q->targetList)
				{
					TargetEntry *tle = lfirst_node(TargetEntry, lc);

					if (!tle->resjunk)
					{
						ncols++;
						type = exprType((Node *) tle->expr);
					}
				}
				if (ncols != 1 || type != BOOLOID)
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("sql expectation of view \"%s\" must return one boolean column", view->name),
							 errdetail("It returns %d column(s)%s.", ncols,
									   ncols == 1 ? psprintf(" of type %s", format_type_be(type)) : "")));
				if (exec(arg, sql, true) != 1)
					ereport(ERROR,
							(errcode(ERRCODE_CARDINALITY_VIOLATION),
							 errmsg("sql expectation of view \"%s\" must return one row", view->name),
							 errdetail("It returned %llu rows.", (unsigned long long) SPI_processed)));
				val = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
				passed = val != NULL && strcmp(val, "t") == 0;
				figure = val == NULL ? "null" : (passed ? "true" : "false");
			}
		}
		if (!passed)
			all = false;
		text = json_dumps(e, JSON_COMPACT);
		appendStringInfo(out, "%s{\"expectation\": %s, \"passed\": %s, \"figure\": %s}",
						 i ? ", " : "", text, passed ? "true" : "false", figure ? figure : "null");
	}
	appendStringInfoChar(out, ']');
	return all;
}
