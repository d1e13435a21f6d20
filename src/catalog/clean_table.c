/*
 * clean_table.c
 *		DDL for the clean layer.  Each dataset has:
 *
 *		dp_clean.<t>			one typed column per field, primary key on the
 *								key columns, lineage columns _batch_id,
 *								_event_id, _watermark (the entity's ordering
 *								watermark, events/events.h), _updated_at and
 *								_row (the ordinal in its batch of the raw row
 *								that wrote the version: dp_raw.rows.ordinal).
 *		dp_clean.<t>_history	the same fields (all nullable) plus
 *								_history_id, _operation, _batch_id, _event_id
 *								(what wrote the version), _valid_from,
 *								_valid_to, _closed_by_batch, _closed_by_event
 *								(what replaced or removed it), _watermark,
 *								_recorded_at, _row (as in the clean table).
 *
 * Column names starting with "_" are the platform's; spec columns never
 * start with "_" (see naming.c).  All generated SQL quotes identifiers and
 * qualifies every object.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "clean_table.h"
#include "util.h"
#include "spatial.h"

static char *
history_name(const DpSpec *spec)
{
	return psprintf("%s_history", spec->table);
}

static char *
qualified(const char *table)
{
	StringInfoData buf;

	initStringInfo(&buf);
	dp_append_qualified(&buf, "dp_clean", table);
	return buf.data;
}

static char *
key_columns(const DpSpec *spec)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < spec->nkey; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "",
						 quote_identifier(spec->fields[spec->key[i]].column));
	return buf.data;
}

static void
exec_sql(const char *sql)
{
	dp_spi_exec(sql, 0, NULL, NULL, NULL);
}

/*
 * Run one DDL statement; if it fails, raise the failure again as an error
 * about the dataset and field, keeping its SQLSTATE and saying what the
 * server said (which names the offending value) in the detail.
 */
static void
exec_ddl(const char *sql, const char *message, const char *hint)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		exec_sql(sql);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(e->sqlerrcode),
				 errmsg_internal("%s", message),
				 e->detail ? errdetail("%s: %s", e->message, e->detail) :
				 errdetail("%s.", e->message),
				 hint ? errhint("%s", hint) : 0));
	}
	PG_END_TRY();
}

static void
set_comments(const DpSpec *spec)
{
	StringInfoData sql;
	char	   *table = qualified(spec->table);
	int			i;
	char	   *comment = dp_spec_table_comment(spec);

	initStringInfo(&sql);
	appendStringInfo(&sql, "COMMENT ON TABLE %s IS %s", table,
					 comment ? quote_literal_cstr(comment) : "NULL");
	exec_sql(sql.data);
	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];

		comment = dp_spec_field_comment(f);
		resetStringInfo(&sql);
		appendStringInfo(&sql, "COMMENT ON COLUMN %s.%s IS %s", table,
						 quote_identifier(f->column),
						 comment ? quote_literal_cstr(comment) : "NULL");
		exec_sql(sql.data);
	}
	resetStringInfo(&sql);
	appendStringInfo(&sql, "COMMENT ON TABLE %s IS %s", qualified(history_name(spec)),
					 quote_literal_cstr(psprintf("history of dataset %s: every version of every record, with deletions",
												 spec->dataset)));
	exec_sql(sql.data);
	pfree(sql.data);
}

/* A GiST index on every geometry column of the clean table (if missing). */
static void
spatial_indexes(const DpSpec *spec)
{
	int			i;

	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];
		const char *args[1];

		if (!dp_datatype_is_spatial(f->datatype))
			continue;
		args[0] = psprintf("%s_%s_gist", spec->table, f->column);
		if (dp_spi_exec_text("SELECT 1 FROM pg_catalog.pg_class c WHERE c.relname = $1 "
							 "AND c.relnamespace = 'dp_clean'::regnamespace", 1, args) > 0)
			continue;
		exec_sql(psprintf("CREATE INDEX %s ON %s USING gist (%s)", quote_identifier(args[0]),
						  qualified(spec->table), quote_identifier(f->column)));
	}
}

static void
append_column(StringInfo buf, const DpField *f, bool not_null)
{
	appendStringInfo(buf, "%s %s%s", quote_identifier(f->column),
					 dp_sqltype(f->datatype),
					 not_null && f->required ? " NOT NULL" : "");
}

static void
create_history_index(const DpSpec *spec)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE INDEX %s ON %s (%s, _valid_from)",
					 quote_identifier(psprintf("%s_key", history_name(spec))),
					 qualified(history_name(spec)), key_columns(spec));
	exec_sql(sql.data);
	pfree(sql.data);
}

/*
 * The index of a unique field: a plain btree on its column (a duplicate is
 * an issue, not an error, so the index is not UNIQUE), named by the server.
 * Found again by its shape: one column, not unique, not partial.
 */
static char *
unique_index(const DpSpec *spec, const char *column)
{
	const char *args[2];

	args[0] = spec->table;
	args[1] = column;
	if (dp_spi_exec_text("SELECT ic.relname::text FROM pg_catalog.pg_index i "
						 "JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
						 "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
						 "WHERE i.indrelid = pg_catalog.to_regclass('dp_clean.' || pg_catalog.quote_ident($1)) "
						 "AND i.indnatts = 1 AND NOT i.indisunique AND i.indpred IS NULL "
						 "AND a.attname = $2::name LIMIT 1", 2, args) == 0)
		return NULL;
	return dp_spi_getvalue(0, 1);
}

/* Create the indexes of the unique fields that lack one, drop the others'. */
static void
sync_unique_indexes(const DpSpec *spec, const DpSpec *old)
{
	int			i;

	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];
		char	   *idx;

		if (f->unique == DP_UNIQUE_NONE)
			continue;
		if (old && (idx = unique_index(spec, f->column)) != NULL)
			continue;
		exec_sql(psprintf("CREATE INDEX ON %s (%s)", qualified(spec->table),
						  quote_identifier(f->column)));
	}
	for (i = 0; old && i < old->nfields; i++)
	{
		const DpField *o = &old->fields[i];
		const DpField *n = dp_spec_field_by_column(spec, o->column);
		char	   *idx;

		if (o->unique == DP_UNIQUE_NONE || (n && n->unique != DP_UNIQUE_NONE))
			continue;
		if (n && (idx = unique_index(spec, o->column)) != NULL)
			exec_sql(psprintf("DROP INDEX dp_clean.%s", quote_identifier(idx)));
	}
}

void
dp_clean_table_create(const DpSpec *spec)
{
	StringInfoData sql;
	int			i;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", qualified(spec->table));
	for (i = 0; i < spec->nfields; i++)
	{
		append_column(&sql, &spec->fields[i], true);
		appendStringInfoString(&sql, ", ");
	}
	appendStringInfo(&sql,
					 "_batch_id bigint, "
					 "_event_id text, "
					 "_watermark text, "
					 "_updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(), "
					 "_row bigint, "
					 "CONSTRAINT %s PRIMARY KEY (%s))",
					 quote_identifier(psprintf("%s_pkey", spec->table)),
					 key_columns(spec));
	exec_sql(sql.data);

	resetStringInfo(&sql);
	/* _history_id orders versions; no index: lookups go by key (below) */
	appendStringInfo(&sql, "CREATE TABLE %s (_history_id bigint GENERATED ALWAYS AS IDENTITY, ",
					 qualified(history_name(spec)));
	for (i = 0; i < spec->nfields; i++)
	{
		append_column(&sql, &spec->fields[i], false);
		appendStringInfoString(&sql, ", ");
	}
	appendStringInfoString(&sql,
						   "_operation text NOT NULL, "
						   "_batch_id bigint, "
						   "_event_id text, "
						   "_valid_from timestamptz NOT NULL, "
						   "_valid_to timestamptz, "
						   "_closed_by_batch bigint, "
						   "_closed_by_event text, "
						   "_watermark text, "
						   "_recorded_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(), "
						   "_row bigint)");
	exec_sql(sql.data);
	create_history_index(spec);

	/*
	 * Lineage indexes, for consumer refreshes: which current rows a batch
	 * wrote (btree: updates scatter them), which versions a batch closed
	 * (btree too: history only grows, in batch order, so its inserts go to
	 * the rightmost leaf; a BRIN range made a refresh after a small change
	 * read a whole block range of history, as much as a scan of a small one).
	 */
	resetStringInfo(&sql);
	appendStringInfo(&sql, "CREATE INDEX %s ON %s (_batch_id)",
					 quote_identifier(psprintf("%s_batch", spec->table)), qualified(spec->table));
	exec_sql(sql.data);
	resetStringInfo(&sql);
	appendStringInfo(&sql, "CREATE INDEX %s ON %s (_closed_by_batch)",
					 quote_identifier(psprintf("%s_closed", history_name(spec))),
					 qualified(history_name(spec)));
	exec_sql(sql.data);

	/*
	 * Retention deletes closed versions by _valid_to, which versions
	 * follow roughly in the order history is written: a BRIN range index
	 * (summarised as pages fill, and by retention before it deletes) lets
	 * it read the old end of history, not all of it, for almost nothing
	 * per row written.
	 */
	resetStringInfo(&sql);
	appendStringInfo(&sql, "CREATE INDEX %s ON %s USING brin (_valid_to) WITH (autosummarize = on)",
					 quote_identifier(psprintf("%s_valid_to", history_name(spec))),
					 qualified(history_name(spec)));
	exec_sql(sql.data);

	spatial_indexes(spec);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "GRANT SELECT ON %s, %s TO dataplatform_admin",
					 qualified(spec->table), qualified(history_name(spec)));
	exec_sql(sql.data);
	sync_unique_indexes(spec, NULL);
	set_comments(spec);
	pfree(sql.data);
}

void
dp_clean_table_ensure_lineage(const DpSpec *spec)
{
	Oid			nsp = get_namespace_oid("dp_clean", false);
	const char *tables[2] = {spec->table, history_name(spec)};

	for (int i = 0; i < 2; i++)
	{
		Oid			relid = get_relname_relid(tables[i], nsp);

		if (OidIsValid(relid) && get_attnum(relid, "_row") == InvalidAttrNumber)
			exec_sql(psprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS _row bigint",
							  qualified(tables[i])));
	}
}

/* The spec columns (not starting with "_") of a dp_clean table, and types. */
typedef struct ExistingColumn
{
	char	   *name;
	Oid			type;
	char	   *formatted;		/* format_type(type, typmod) */
} ExistingColumn;

static List *
existing_columns(const char *table)
{
	const char *args[1];
	List	   *result = NIL;
	uint64		i;
	uint64		n;

	args[0] = table;
	n = dp_spi_exec_text("SELECT a.attname, a.atttypid, pg_catalog.format_type(a.atttypid, a.atttypmod) "
						 "FROM pg_catalog.pg_attribute a "
						 "WHERE a.attrelid = pg_catalog.to_regclass('dp_clean.' || pg_catalog.quote_ident($1)) "
						 "AND a.attnum > 0 AND NOT a.attisdropped "
						 "AND a.attname NOT LIKE '\\_%' ORDER BY a.attnum",
						 1, args);
	for (i = 0; i < n; i++)
	{
		ExistingColumn *c = palloc(sizeof(ExistingColumn));
		bool		isnull;

		c->name = dp_spi_getvalue(i, 1);
		c->type = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
												 SPI_tuptable->tupdesc, 2, &isnull));
		c->formatted = dp_spi_getvalue(i, 3);
		result = lappend(result, c);
	}
	return result;
}

static ExistingColumn *
find_column(List *cols, const char *name)
{
	ListCell   *lc;

	foreach(lc, cols)
	{
		ExistingColumn *c = lfirst(lc);

		if (strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

static Oid
datatype_oid(DpDatatype dt)
{
	return DatumGetObjectId(DirectFunctionCall1(regtypein,
												CStringGetDatum(dp_sqltype(dt))));
}

/*
 * Make table's spec columns match spec: retype and add columns, and (for
 * the clean table) drop columns no longer in the spec.  Values are cast
 * through text, so a value that does not read as the new type stops the
 * migration with an error naming it (nothing is silently rounded).
 */
static void
sync_columns(const DpSpec *spec, const char *table, bool drop_extra)
{
	List	   *cols = existing_columns(table);
	char	   *qtable = qualified(table);
	StringInfoData sql;
	ListCell   *lc;
	int			i;

	initStringInfo(&sql);
	if (drop_extra)
	{
		foreach(lc, cols)
		{
			ExistingColumn *c = lfirst(lc);

			if (dp_spec_field_by_column(spec, c->name) != NULL)
				continue;
			resetStringInfo(&sql);
			appendStringInfo(&sql, "ALTER TABLE %s DROP COLUMN %s", qtable,
							 quote_identifier(c->name));
			exec_ddl(sql.data,
					 psprintf("cannot drop column \"%s\" of dataset \"%s\"", c->name, spec->dataset),
					 NULL);
		}
	}
	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];
		ExistingColumn *c = find_column(cols, f->column);
		const char *sqltype = dp_sqltype(f->datatype);

		resetStringInfo(&sql);
		if (c == NULL)
		{
			appendStringInfo(&sql, "ALTER TABLE %s ADD COLUMN %s %s", qtable,
							 quote_identifier(f->column), sqltype);
			exec_ddl(sql.data,
					 psprintf("cannot add field \"%s\" to dataset \"%s\"", f->name, spec->dataset),
					 NULL);
		}
		else if (c->type != datatype_oid(f->datatype) ||
				 (dp_datatype_is_spatial(f->datatype) &&
				  strstr(c->formatted, dp_datatype_sqltype(f->datatype)) == NULL))
		{
			/* a geometry's subtype (Point, MultiPolygon) is in its typmod */
			appendStringInfo(&sql, "ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::text::%s",
							 qtable, quote_identifier(f->column), sqltype,
							 quote_identifier(f->column), sqltype);
			exec_ddl(sql.data,
					 psprintf("cannot change field \"%s\" of dataset \"%s\" to datatype %s",
							  f->name, spec->dataset, dp_datatype_name(f->datatype)),
					 "Fix or remove the rows holding values of the old datatype that the new one cannot read, then define the dataset again.");
		}
	}
	pfree(sql.data);
}

/*
 * Before a field becomes NOT NULL, find a row without a value and name it,
 * rather than letting ALTER TABLE say only that the column has nulls.
 */
static void
require_values(const DpSpec *old, const DpSpec *spec, const DpField *f)
{
	StringInfoData sql;
	int			i;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT pg_catalog.concat_ws(', '");
	for (i = 0; i < old->nkey; i++)
		appendStringInfo(&sql, ", %s::text", quote_identifier(old->fields[old->key[i]].column));
	appendStringInfo(&sql, ") FROM %s WHERE %s IS NULL LIMIT 1",
					 qualified(spec->table), quote_identifier(f->column));
	if (dp_spi_exec(sql.data, 0, NULL, NULL, NULL) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("cannot make field \"%s\" of dataset \"%s\" required", f->name,
						spec->dataset),
				 errdetail("The record with key %s = (%s) has no value for it.",
						   dp_spec_key_text(old), dp_spi_getvalue(0, 1)),
				 errhint("Fill the field in every record first, or keep it optional.")));
	pfree(sql.data);
}

static bool
same_key(const DpSpec *old, const DpSpec *spec)
{
	int			i;

	if (old->nkey != spec->nkey)
		return false;
	for (i = 0; i < old->nkey; i++)
		if (strcmp(old->fields[old->key[i]].column, spec->fields[spec->key[i]].column) != 0)
			return false;
	return true;
}

void
dp_clean_table_migrate(const DpSpec *old, const DpSpec *spec)
{
	StringInfoData sql;
	char	   *table = qualified(spec->table);
	bool		key_changes = !same_key(old, spec);
	int			i;

	initStringInfo(&sql);
	if (key_changes)
	{
		appendStringInfo(&sql, "ALTER TABLE %s DROP CONSTRAINT %s", table,
						 quote_identifier(psprintf("%s_pkey", spec->table)));
		exec_sql(sql.data);
		resetStringInfo(&sql);
		appendStringInfo(&sql, "DROP INDEX dp_clean.%s",
						 quote_identifier(psprintf("%s_key", history_name(spec))));
		exec_sql(sql.data);
	}

	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];
		const DpField *o = dp_spec_field_by_column(old, f->column);

		if (f->required && (o == NULL || !o->required))
		{
			if (o != NULL)
				require_values(old, spec, f);
			else
			{
				resetStringInfo(&sql);
				appendStringInfo(&sql, "SELECT 1 FROM %s LIMIT 1", table);
				if (dp_spi_exec(sql.data, 0, NULL, NULL, NULL) > 0)
					ereport(ERROR,
							(errcode(ERRCODE_NOT_NULL_VIOLATION),
							 errmsg("cannot add required field \"%s\" to dataset \"%s\"",
									f->name, spec->dataset),
							 errdetail("The dataset has records, and none has a value for the new field."),
							 errhint("Add the field as optional, fill it, then make it required.")));
			}
		}
	}

	sync_columns(spec, spec->table, true);
	sync_columns(spec, history_name(spec), false);
	spatial_indexes(spec);

	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];
		const DpField *o = dp_spec_field_by_column(old, f->column);
		bool		was_not_null = o != NULL && o->required && o->datatype == f->datatype;

		if (f->required == was_not_null && o != NULL)
			continue;
		if (!f->required && o == NULL)
			continue;
		resetStringInfo(&sql);
		appendStringInfo(&sql, "ALTER TABLE %s ALTER COLUMN %s %s NOT NULL", table,
						 quote_identifier(f->column), f->required ? "SET" : "DROP");
		exec_ddl(sql.data,
				 psprintf("cannot change whether field \"%s\" of dataset \"%s\" is required",
						  f->name, spec->dataset),
				 NULL);
	}

	if (key_changes)
	{
		resetStringInfo(&sql);
		appendStringInfo(&sql, "ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (%s)", table,
						 quote_identifier(psprintf("%s_pkey", spec->table)),
						 key_columns(spec));
		exec_ddl(sql.data,
				 psprintf("cannot change the key of dataset \"%s\" to %s",
						  spec->dataset, dp_spec_key_text(spec)),
				 "Two records share the new key; make the key unique first.");
		create_history_index(spec);
	}
	sync_unique_indexes(spec, old);
	set_comments(spec);
	pfree(sql.data);
}
