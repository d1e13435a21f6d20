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
 *								_recorded_at, _row (as in the clean table);
 *								partitioned by range of _closed_by_batch
 *								(its row of dataplatform.partition_rule
 *								lists each partition's indexes: the key
 *								index, _closed_by_batch, BRIN on _valid_to).
 *		dp_clean.<t>_removed	the keys ever removed (a version closed by
 *								a delete or a resync): a key with no
 *								current row that is not here has no
 *								history, so its tombstone is not looked for.
 *								False positives are harmless; a key that
 *								has versions and no current row is always
 *								here.
 *
 * Column names starting with "_" are the platform's; spec columns never
 * start with "_" (see naming.c).  All generated SQL quotes identifiers and
 * qualifies every object.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "clean_table.h"
#include "partition.h"
#include "util.h"
#include "spatial.h"

static char *
history_name(const DpSpec *spec)
{
	return psprintf("%s_history", spec->table);
}

static char *
removed_name(const DpSpec *spec)
{
	return psprintf("%s_removed", spec->table);
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

/*
 * The history table's row of dataplatform.partition_rule (made, or its
 * key index brought to spec's key): batch-id ranges of _closed_by_batch,
 * each partition with the key index through which tombstones are looked
 * up (key columns, _valid_from), the lineage index on _closed_by_batch
 * (which versions a batch closed: consumer refreshes; btree, as history
 * only grows in batch order, so its inserts go to the rightmost leaf) and
 * a BRIN range index on _valid_to, through which retention finds old
 * versions (versions end roughly in the order history is written).
 */
static void
history_rule(const DpSpec *spec)
{
	const char *args[2];

	args[0] = history_name(spec);
	args[1] = psprintf("(%s, _valid_from)", key_columns(spec));
	dp_spi_exec_text("INSERT INTO dataplatform.partition_rule AS r "
					 "(table_schema, table_name, key_column, key_kind, width, indexes) "
					 "VALUES ('dp_clean', $1::name, '_closed_by_batch', 'batch', 100000, "
					 "ARRAY[$2, '(_closed_by_batch)', 'USING brin (_valid_to) WITH (autosummarize = on)']) "
					 "ON CONFLICT (table_schema, table_name) DO UPDATE SET indexes = "
					 "pg_catalog.array_prepend($2, r.indexes[2:])", 2, args);
}

/*
 * Give every partition of the history table the key index of spec's key,
 * dropping the old one (the only index holding _valid_from).
 */
static void
history_key_indexes(const DpSpec *spec)
{
	const char *args[2];

	args[0] = qualified(history_name(spec));
	args[1] = psprintf("(%s, _valid_from)", key_columns(spec));
	dp_spi_exec_returned("SELECT pg_catalog.format('DROP INDEX %s', i.indexrelid::pg_catalog.regclass) "
						 "FROM pg_catalog.pg_inherits h JOIN pg_catalog.pg_index i ON i.indrelid = h.inhrelid "
						 "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attname = '_valid_from' "
						 "WHERE h.inhparent = $1::pg_catalog.regclass AND a.attnum = ANY (i.indkey) "
						 "UNION ALL "
						 "SELECT pg_catalog.format('CREATE INDEX ON %s %s', h.inhrelid::pg_catalog.regclass, $2) "
						 "FROM pg_catalog.pg_inherits h WHERE h.inhparent = $1::pg_catalog.regclass",
						 2, args);
}

/*
 * The removed keys of the dataset (see the header), made anew for spec's
 * key and filled from history: every key of a version closed by a delete
 * or a resync, and every key of a version with no current row (whatever
 * closed it: a superset, so no key that has versions and no current row
 * is missed).  Reads the whole history: run it when the key changes, not
 * on a data path.
 */
static void
create_removed(const DpSpec *spec)
{
	StringInfoData sql,
				cols,
				match,
				notnull;
	char	   *qremoved = qualified(removed_name(spec));

	initStringInfo(&sql);
	initStringInfo(&cols);
	initStringInfo(&match);
	initStringInfo(&notnull);
	if (OidIsValid(get_relname_relid(removed_name(spec), get_namespace_oid("dp_clean", false))))
		exec_sql(psprintf("DROP TABLE %s", qremoved));
	appendStringInfo(&sql, "CREATE TABLE %s (", qremoved);
	for (int i = 0; i < spec->nkey; i++)
	{
		const DpField *f = &spec->fields[spec->key[i]];
		const char *c = quote_identifier(f->column);

		appendStringInfo(&sql, "%s %s NOT NULL, ", c, dp_sqltype(f->datatype));
		appendStringInfo(&cols, "%s%s", i ? ", " : "", c);
		appendStringInfo(&match, "%sc.%s = h.%s", i ? " AND " : "", c, c);
		appendStringInfo(&notnull, "h.%s IS NOT NULL AND ", c);
	}
	appendStringInfo(&sql, "CONSTRAINT %s PRIMARY KEY (%s))",
					 quote_identifier(psprintf("%s_pkey", removed_name(spec))), cols.data);
	exec_sql(sql.data);
	resetStringInfo(&sql);
	appendStringInfo(&sql, "GRANT SELECT ON %s TO dataplatform_admin", qremoved);
	exec_sql(sql.data);
	resetStringInfo(&sql);
	appendStringInfo(&sql, "COMMENT ON TABLE %s IS %s", qremoved,
					 quote_literal_cstr(psprintf("keys of dataset %s ever removed (closed by a delete or a resync): only these are looked up in its history when they have no current row",
												 spec->dataset)));
	exec_sql(sql.data);
	resetStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (%s) SELECT DISTINCT %s FROM %s h WHERE %s"
					 "(h._operation IN ('delete', 'resync') OR NOT EXISTS (SELECT 1 FROM %s c WHERE %s)) "
					 "ON CONFLICT DO NOTHING",
					 qremoved, cols.data, cols.data, qualified(history_name(spec)), notnull.data,
					 qualified(spec->table), match.data);
	exec_sql(sql.data);
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

	/*
	 * _history_id orders versions; no index: lookups go by key.  A
	 * sequence's default, not an identity (a partitioned table has none),
	 * named as the identity's was (<t>_history__history_id_seq).
	 */
	appendStringInfo(&sql, "CREATE TABLE %s (_history_id bigserial, ",
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
						   "_row bigint) PARTITION BY RANGE (_closed_by_batch)");
	exec_sql(sql.data);
	/* its partitions' indexes (the parent has none, see partition_rule) */
	history_rule(spec);

	/*
	 * No index on _batch_id: which current rows a batch wrote is in the
	 * change feed (common/change_feed.c), the versions it closed are found
	 * through each history partition's index (history_rule).
	 */
	spatial_indexes(spec);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "GRANT SELECT ON %s, %s TO dataplatform_admin",
					 qualified(spec->table), qualified(history_name(spec)));
	exec_sql(sql.data);
	sync_unique_indexes(spec, NULL);
	set_comments(spec);
	create_removed(spec);
	pfree(sql.data);
}

/*
 * A history table of version 0.1 (an identity, not partitioned) made
 * partitioned as dp_clean_table_create makes it: the table, renamed
 * <t>_history_min, becomes the partition of its rows from MINVALUE to past
 * the last batch that closed one (an empty one is dropped); the identity's
 * sequence is made again under its name, where it stood, as the default of
 * both; the rule row, the missing BRIN index and the removed keys are
 * made.  Nothing to do for a partitioned one (a syscache lookup).  Used by
 * the 0.1 -> 0.2 update and by writers of a dataset restored from a 0.1
 * dump.  Connected to SPI; the caller holds the dataset lock (or is the
 * update).
 */
void
dp_clean_table_partition_history(const DpSpec *spec)
{
	char	   *hist = history_name(spec);
	Oid			relid = get_relname_relid(hist, get_namespace_oid("dp_clean", false));
	char	   *qhist;
	char	   *min;
	char	   *qmin;
	const char *args[3];
	char	   *seq;
	char	   *qseq;
	char	   *last;
	char	   *called;
	char	   *max;
	char	   *owner;
	char	   *comment;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		return;
	qhist = qualified(hist);
	min = dp_partition_name(hist, "_min");
	qmin = qualified(min);
	args[0] = qhist;
	dp_spi_exec_text("SELECT c.relname::text, c.relowner::pg_catalog.regrole::text, "
					 "pg_catalog.obj_description($1::pg_catalog.regclass, 'pg_class') "
					 "FROM pg_catalog.pg_class c "
					 "WHERE c.oid = pg_catalog.pg_get_serial_sequence($1, '_history_id')::pg_catalog.regclass",
					 1, args);
	if (SPI_processed != 1)
		elog(ERROR, "history table %s has no sequence for _history_id", qhist);
	seq = dp_spi_getvalue(0, 1);
	owner = dp_spi_getvalue(0, 2);
	comment = dp_spi_getvalue(0, 3);
	qseq = qualified(seq);
	dp_spi_exec(psprintf("SELECT s.last_value, s.is_called, "
						 "(SELECT pg_catalog.max(h._closed_by_batch) FROM %s h), "
						 "EXISTS (SELECT 1 FROM %s h WHERE h._closed_by_batch IS NULL) FROM %s s",
						 qhist, qhist, qseq), 0, NULL, NULL, NULL);
	last = dp_spi_getvalue(0, 1);
	called = dp_spi_getvalue(0, 2);
	max = dp_spi_getvalue(0, 3);
	if (strcmp(dp_spi_getvalue(0, 4), "t") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot partition the history of dataset \"%s\"", spec->dataset),
				 errdetail("Some versions in %s have no _closed_by_batch, by which history is partitioned.", qhist),
				 errhint("Set _closed_by_batch of those versions to the batch that closed them (their _valid_to tells when), then try again.")));

	exec_sql(psprintf("ALTER TABLE %s RENAME TO %s", qhist, quote_identifier(min)));
	exec_sql(psprintf("ALTER TABLE %s ALTER COLUMN _history_id DROP IDENTITY", qmin));
	exec_sql(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
					  "INCLUDING STORAGE INCLUDING COMPRESSION) PARTITION BY RANGE (_closed_by_batch)",
					  qhist, qmin));
	exec_sql(psprintf("CREATE SEQUENCE %s OWNED BY %s._history_id", qseq, qhist));
	exec_sql(psprintf("SELECT pg_catalog.setval(%s, %s, %s)", quote_literal_cstr(qseq), last,
					  strcmp(called, "t") == 0 ? "true" : "false"));
	exec_sql(psprintf("ALTER TABLE %s ALTER COLUMN _history_id SET DEFAULT pg_catalog.nextval(%s::pg_catalog.regclass)",
					  qhist, quote_literal_cstr(qseq)));
	exec_sql(psprintf("ALTER TABLE %s ALTER COLUMN _history_id SET DEFAULT pg_catalog.nextval(%s::pg_catalog.regclass)",
					  qmin, quote_literal_cstr(qseq)));
	exec_sql(psprintf("ALTER TABLE %s OWNER TO %s", qhist, quote_identifier(owner)));
	exec_sql(psprintf("GRANT SELECT ON %s TO dataplatform_admin", qhist));
	if (comment)
		exec_sql(psprintf("COMMENT ON TABLE %s IS %s", qhist, quote_literal_cstr(comment)));
	history_rule(spec);
	if (max == NULL)
		exec_sql(psprintf("DROP TABLE %s", qmin));
	else
	{
		/* a 0.1 table restored from a dump lacks the BRIN index */
		args[0] = qmin;
		if (dp_spi_exec_text("SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
							 "JOIN pg_catalog.pg_am m ON m.oid = c.relam "
							 "WHERE i.indrelid = $1::pg_catalog.regclass AND m.amname = 'brin'", 1, args) == 0)
			exec_sql(psprintf("CREATE INDEX ON %s USING brin (_valid_to) WITH (autosummarize = on)", qmin));
		exec_sql(psprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (MINVALUE) TO (%lld)",
						  qhist, qmin, (long long) pg_strtoint64(max) + 1));
	}
	create_removed(spec);
}

PG_FUNCTION_INFO_V1(dp_partition_history);

/*
 * The 0.1 -> 0.2 update's call of dp_clean_table_partition_history for
 * one dataset (the update makes a function of it for the time it runs).
 */
Datum
dp_partition_history(PG_FUNCTION_ARGS)
{
	char	   *dataset = text_to_cstring(PG_GETARG_TEXT_PP(0));

	SPI_connect();
	dp_clean_table_partition_history(dp_spec_of(dataset));
	SPI_finish();
	PG_RETURN_VOID();
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
	/* and a 0.1 history table becomes partitioned */
	dp_clean_table_partition_history(spec);
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

/* Does a key field change datatype (same key)? */
static bool
key_types_change(const DpSpec *old, const DpSpec *spec)
{
	for (int i = 0; i < spec->nkey; i++)
	{
		const DpField *f = &spec->fields[spec->key[i]];
		const DpField *o = dp_spec_field_by_column(old, f->column);

		if (o == NULL || o->datatype != f->datatype)
			return true;
	}
	return false;
}

void
dp_clean_table_migrate(const DpSpec *old, const DpSpec *spec)
{
	StringInfoData sql;
	char	   *table = qualified(spec->table);
	bool		key_changes = !same_key(old, spec);
	int			i;

	initStringInfo(&sql);
	/* a history table restored from a 0.1 dump, first */
	dp_clean_table_partition_history(old);
	if (key_changes)
	{
		appendStringInfo(&sql, "ALTER TABLE %s DROP CONSTRAINT %s", table,
						 quote_identifier(psprintf("%s_pkey", spec->table)));
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
		history_rule(spec);
		history_key_indexes(spec);
	}
	/* the removed keys, by the new key or of the new type */
	if (key_changes || key_types_change(old, spec))
		create_removed(spec);
	sync_unique_indexes(spec, old);
	set_comments(spec);
	pfree(sql.data);
}
