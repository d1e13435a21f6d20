/*
 * publish.c
 *		dataplatform.publish and dataplatform.unpublish: the catalog row of a
 *		published view (dataplatform.consumer_view) and every object it owns:
 *		its table (dp_consumer_data.<view>, with the unique index of its
 *		key), the state table of an aggregate view (dp_consumer_state.<view>,
 *		whose contents aggregate.c maintains), and the view consumers read
 *		(dp_consumer.<view>, PII columns masked), and the indexes an aggregate
 *		view with min or max needs on its dataset's table (one per argument,
 *		after the grouping columns, so that refresh finds a group's new
 *		extreme, and the rows holding it, through the index).  The first fill and the
 *		expectations at publish are refresh.c's (dp_refresh_fill,
 *		dp_refresh_publish_done).
 *
 * Locks: publish, unpublish and refresh of one view run one after another
 * (they lock the view's row in dataplatform.consumer_view).  Publishing over
 * an existing view builds the new table aside and swaps it in at the end,
 * holding ACCESS EXCLUSIVE on the old table only for the swap.
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"

#include "access.h"
#include "consumer.h"

PG_FUNCTION_INFO_V1(dp_publish);
PG_FUNCTION_INFO_V1(dp_unpublish);
PG_FUNCTION_INFO_V1(dp_consumer_index_views);

/* ------------------------------------------------------------------------
 * Indexes of aggregate views on their dataset's table
 * ------------------------------------------------------------------------
 */

/*
 * Names of a view's indexes in dp_clean: "_dpv_<view>_<column number>"; a
 * long view name is cut and followed by a hash of the whole name.
 */
static char *
index_prefix(const char *view)
{
	if (strlen(view) <= 50)
		return psprintf("_dpv_%s_", view);
	return psprintf("_dpv_%.40s_%08x_", view,
					(unsigned int) hash_bytes((const unsigned char *) view, strlen(view)));
}

/*
 * Create (when missing) the indexes an aggregate view with min or max reads
 * a group's extreme through: (grouping columns..., argument) on the
 * dataset's table, one per distinct argument.  Nothing when a grouping
 * column or the argument is not an indexable expression.  Caller is
 * connected to SPI.
 */
static void
create_view_indexes(const DpView *view)
{
	DpViewSource *s;
	StringInfoData cols;
	int			i,
				j,
				k;

	if (view->method != DP_VIEW_AGGREGATE || !view->indexable)
		return;
	s = &view->sources[view->driver];
	initStringInfo(&cols);
	for (i = 0; i < view->ncols; i++)
	{
		const DpViewColumn *c = &view->cols[i];
		bool		seen = false;

		if ((c->agg != DP_AGG_MIN && c->agg != DP_AGG_MAX) || c->index_col == NULL)
			continue;
		for (j = 0; j < i; j++)
			if ((view->cols[j].agg == DP_AGG_MIN || view->cols[j].agg == DP_AGG_MAX) &&
				view->cols[j].index_col && strcmp(view->cols[j].index_col, c->index_col) == 0)
				seen = true;
		if (seen)
			continue;
		resetStringInfo(&cols);
		for (k = 0; k < view->nkey; k++)
			appendStringInfo(&cols, "%s, ", view->cols[view->key[k]].index_col);
		appendStringInfoString(&cols, c->index_col);
		dp_spi_exec(psprintf("CREATE INDEX IF NOT EXISTS %s ON dp_clean.%s (%s)",
							 quote_identifier(psprintf("%s%d", index_prefix(view->name), i)),
							 quote_identifier(s->table), cols.data), 0, NULL, NULL, NULL);
	}
}

/* Drop the indexes create_view_indexes made for the view name. */
static void
drop_view_indexes(const char *name)
{
	const char *args[1];
	uint64		n,
				i;
	char	  **names;

	args[0] = index_prefix(name);
	n = dp_spi_exec_text("SELECT pg_catalog.quote_ident(c.relname::text) FROM pg_catalog.pg_class c "
						 "WHERE c.relnamespace = 'dp_clean'::pg_catalog.regnamespace AND c.relkind = 'i' "
						 "AND pg_catalog.starts_with(c.relname::text, $1) "
						 "AND pg_catalog.substr(c.relname::text, pg_catalog.length($1) + 1) ~ '^[0-9]+$'",
						 1, args);
	names = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
		names[i] = dp_spi_getvalue(i, 1);
	for (i = 0; i < n; i++)
		dp_spi_exec(psprintf("DROP INDEX dp_clean.%s", names[i]), 0, NULL, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * publish
 * ------------------------------------------------------------------------
 */

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
 * callers whose agreements do not show PII (sees_pii(view)), and only the
 * rows in the row scope of the caller's agreements (in_scope(view, row));
 * a security barrier view, so no function of the caller sees a row before
 * in_scope did.  The key is read as the view's owner, so a consumer cannot
 * compute tokens of guessed values.
 */
static void
create_facade(const DpView *view)
{
	StringInfoData sql;
	int			i;
	const char *facade = dp_view_facade_qualified(view->name);

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE VIEW %s WITH (security_barrier) AS SELECT ", facade);
	for (i = 0; i < view->ncols; i++)
	{
		const char *c = quote_identifier(view->cols[i].name);

		if (i > 0)
			appendStringInfoString(&sql, ", ");
		if (view->cols[i].pii)
			appendStringInfo(&sql, "CASE WHEN (SELECT dataplatform.sees_pii(%s::text)) THEN d.%s "
							 "ELSE dataplatform.mask(d.%s, (SELECT k.key FROM dp_consumer_data.mask_key k)) END AS %s",
							 quote_literal_cstr(view->name), c, c, c);
		else
			appendStringInfo(&sql, "d.%s", c);
	}
	appendStringInfo(&sql, " FROM %s d WHERE dataplatform.in_scope(%s::text, d)",
					 dp_view_qualified(view->name), quote_literal_cstr(view->name));
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
		dp_view_store_column_lineage(view);
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
	if (exists)
		drop_view_indexes(name);
	create_view_indexes(view);

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
	/* the new table in the consumer layer's publications (replicate.c) */
	dp_replication_sync();

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
	drop_view_indexes(name);
	dp_spi_exec_text("DELETE FROM dataplatform.consumer_view WHERE name = $1", 1, args);
	dp_replication_sync();
	dp_audit("unpublish", name, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/* one view of dp_consumer_index_views, in its subtransaction */
typedef struct IndexViewCall
{
	const char *name;
	const char *definition;
	const char *refresh;
	List	   *key;
} IndexViewCall;

static bool
index_view_call(void *arg)
{
	IndexViewCall *one = arg;
	DpView	   *view = dp_view_analyze(one->name, one->definition, false);

	dp_view_choose(view, one->key, one->refresh);
	create_view_indexes(view);
	return true;
}

/*
 * The indexes of every published aggregate view, for a database whose views
 * were published before publish made them (the 0.1 -> 0.2 update script
 * calls it once).  A view whose source no longer analyses is left as it is
 * (its next publish makes them).
 */
Datum
dp_consumer_index_views(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	uint64		n,
				i;
	char	  **names;
	char	  **defs;
	char	  **refresh;

	SPI_connect();
	n = dp_spi_exec("SELECT name, definition, refresh FROM dataplatform.consumer_view "
					"WHERE method = 'aggregate' ORDER BY name", 0, NULL, NULL, NULL);
	names = palloc(sizeof(char *) * Max(n, 1));
	defs = palloc(sizeof(char *) * Max(n, 1));
	refresh = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		names[i] = dp_spi_getvalue(i, 1);
		defs[i] = dp_spi_getvalue(i, 2);
		refresh[i] = dp_spi_getvalue(i, 3);
	}
	for (i = 0; i < n; i++)
	{
		const char *args[1];
		List	   *key = NIL;
		IndexViewCall one;
		ErrorData  *e;
		uint64		nk,
					j;

		args[0] = names[i];
		nk = dp_spi_exec_text("SELECT k FROM dataplatform.consumer_view, pg_catalog.unnest(key) WITH ORDINALITY AS u(k, o) "
							  "WHERE name = $1 ORDER BY o", 1, args);
		for (j = 0; j < nk; j++)
			key = lappend(key, dp_spi_getvalue(j, 1));
		one.name = names[i];
		one.definition = defs[i];
		one.refresh = refresh[i];
		one.key = key;
		MemoryContextSwitchTo(cxt);
		e = dp_try_in_subxact(index_view_call, &one);
		if (e != NULL)
			FreeErrorData(e);
	}
	SPI_finish();
	PG_RETURN_VOID();
}
