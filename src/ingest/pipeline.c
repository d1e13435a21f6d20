/*
 * pipeline.c
 *		The main data path: push / push_csv -> dp_raw (untouched) ->
 *		transform (transform.c) -> dp_clean.<dataset> (keyed upsert, replaced
 *		versions to _history) with every issue in dataplatform.issue; the dry
 *		runs check / check_csv; rebuild; purge_raw and the raw guard trigger.
 *		Queued (asynchronous) batches are processed by queue.c.
 *
 * Transactions and locks: a push is one transaction (the caller's): the
 * batch row, the raw rows, the clean rows, the issues and the audit row
 * commit or vanish together.  Before writing clean rows a push takes SHARE
 * ROW EXCLUSIVE on the dataset's clean table, so pushes into one dataset
 * run one after another (readers are never blocked) and each replaced
 * version reaches _history exactly once.  The dataset's catalog row is read
 * FOR SHARE, so its spec cannot change under a running push.
 *
 * Memory: one context per load (batch), children of the caller's context;
 * valid rows are buffered and written DP_FLUSH_ROWS at a time.
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "common/hashfn.h"
#include "utils/acl.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "access.h"
#include "bulk.h"
#include "config.h"
#include "csv.h"
#include "issue.h"
#include "spec.h"
#include "obfuscate.h"
#include "pipeline.h"
#include "transform.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_push);
PG_FUNCTION_INFO_V1(dp_push_csv);
PG_FUNCTION_INFO_V1(dp_check);
PG_FUNCTION_INFO_V1(dp_check_csv);
PG_FUNCTION_INFO_V1(dp_rebuild);
PG_FUNCTION_INFO_V1(dp_purge_raw);
PG_FUNCTION_INFO_V1(dp_raw_guard);


/* no load options: what the SQL functions use */
static const DpLoadOptions *const opts_none = NULL;

/* set only while purge_raw deletes; read by the raw guard trigger */
static bool dp_raw_purging = false;



/* ------------------------------------------------------------------------
 * Opening a load: catalog, access, spec and configuration
 * ------------------------------------------------------------------------
 */

static void
check_producer(const DpLoad *load)
{
	const char *args[1];
	uint64		n,
				i;

	if (dp_caller_has_role(DP_ROLE_ADMIN))
		return;
	args[0] = load->product;
	n = dp_spi_exec_text("SELECT role_name::text FROM dataplatform.producer_grants WHERE product = $1",
						 1, args);
	for (i = 0; i < n; i++)
	{
		Oid			role = get_role_oid(dp_spi_getvalue(i, 1), true);

		if (OidIsValid(role) && has_privs_of_role(dp_caller_id(), role))
			return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to write to dataset \"%s\"", load->dataset),
			 errdetail("Role \"%s\" is not a producer of data product \"%s\".",
					   GetUserNameFromId(dp_caller_id(), false), load->product),
			 errhint("An administrator grants it with dataplatform.grant_producer('%s', role).",
					 load->product)));
}

static uint32
key_hash_fn(const void *key, Size keysize)
{
	(void) keysize;
	return (uint32) *(const uint64 *) key;
}

/*
 * Read the dataset's catalog row (FOR SHARE), check the caller may push,
 * parse spec and configuration.  Caller is connected to SPI.
 */
DpLoad *
dp_load_open(const char *dataset, bool dry_run, const DpLoadOptions *opts)
{
	DpLoad	   *load;
	const char *args[2];
	bool		isnull;
	Datum		d;
	HASHCTL		ctl;
	MemoryContext old;

	load = palloc0(sizeof(DpLoad));
	load->cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform load",
									  ALLOCSET_DEFAULT_SIZES);
	load->rows_cxt = AllocSetContextCreate(load->cxt, "dataplatform load rows",
										   ALLOCSET_DEFAULT_SIZES);
	load->src_cxt = AllocSetContextCreate(load->cxt, "dataplatform source row",
										  ALLOCSET_DEFAULT_SIZES);
	load->raw_cxt = AllocSetContextCreate(load->cxt, "dataplatform raw records",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(load->cxt);
	load->dataset = pstrdup(dataset);
	load->dry_run = dry_run;
	args[0] = dataset;
	args[1] = opts ? opts->column_override : NULL;
	load->column_override = args[1] ? pstrdup(args[1]) : NULL;
	load->synthetic = opts ? opts->synthetic : false;
	if (dp_spi_exec_text("SELECT product, spec, CASE WHEN $2::jsonb IS NULL THEN config "
						 "  ELSE COALESCE(config, '{}') || pg_catalog.jsonb_build_object('column', "
						 "       COALESCE(config -> 'column', '{}') || $2::jsonb) END, "
						 "major, minor, config_version "
						 "FROM dataplatform.datasets WHERE name = $1 FOR SHARE",
						 2, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", dataset),
				 errhint("dataplatform.dataset lists the defined datasets.")));
	load->product = dp_spi_getvalue(0, 1);
	load->major = atoi(dp_spi_getvalue(0, 4));
	load->minor = atoi(dp_spi_getvalue(0, 5));
	load->config_version = atoi(dp_spi_getvalue(0, 6));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	load->spec = dp_spec_parse(DatumGetJsonbP(d));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
	load->cfg = dp_config_parse(load->spec, isnull ? NULL : DatumGetJsonbP(d));
	/* last: it runs a query of its own, replacing SPI_tuptable */
	check_producer(load);
	load->t = dp_transform_begin(load->spec, load->cfg);

	load->values = palloc(sizeof(char *) * load->spec->nfields * DP_FLUSH_ROWS);
	load->slot_row = palloc(sizeof(int64) * DP_FLUSH_ROWS);
	load->q_row = palloc(sizeof(int64) * DP_FLUSH_ROWS);
	load->q_line = palloc(sizeof(int64) * DP_FLUSH_ROWS);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(KeyEntry);
	ctl.hash = key_hash_fn;
	ctl.hcxt = load->cxt;
	load->keys = hash_create("dataplatform batch keys", 1024, &ctl,
							 HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	initStringInfo(&load->rows_json);
	MemoryContextSwitchTo(old);
	return load;
}

/* ------------------------------------------------------------------------
 * Writing: clean rows, issues, quarantine
 * ------------------------------------------------------------------------
 */

char *
dp_qualified_clean(const DpSpec *spec, bool history)
{
	StringInfoData buf;

	initStringInfo(&buf);
	dp_append_qualified(&buf, "dp_clean",
						history ? psprintf("%s_history", spec->table) : spec->table);
	return buf.data;
}

/*
 * The upsert, one statement.  Each incoming row looks its key up once (a
 * lateral subquery behind an OFFSET 0 fence, so it stays an index probe per
 * row and never becomes a scan of the whole table); rows with a new key are
 * inserted, rows whose values changed are updated (by ctid) and their
 * replaced version goes to _history (closed by this batch); unchanged rows
 * are left alone (no history row, lineage stays with the batch that last
 * changed them).  No ON CONFLICT is needed: the caller holds SHARE ROW
 * EXCLUSIVE on the clean table, so nobody else writes it meanwhile.
 *
 * Snapshots pass a watermark (the ordering key of their as_of time): an
 * entity whose watermark is newer is left as it is ("newer"), the others
 * take the snapshot's watermark, unchanged ones included.  Pushes pass NULL
 * and keep the watermark an entity has.
 *
 * Parameters: one text[] per field, the batch id, the version time, the
 * watermark.  Returns one row: added, changed, unchanged, newer.
 */
static void
build_upsert(DpLoad *load)
{
	const DpSpec *spec = load->spec;
	StringInfoData sql,
				cols,
				icols,
				ocols,
				sets,
				keycond;
	int			i;
	int			pbatch = spec->nfields + 1;
	int			ptime = spec->nfields + 2;
	int			pwm = spec->nfields + 3;

	initStringInfo(&sql);
	initStringInfo(&cols);
	initStringInfo(&icols);
	initStringInfo(&ocols);
	initStringInfo(&sets);
	initStringInfo(&keycond);
	for (i = 0; i < spec->nfields; i++)
	{
		const char *c = quote_identifier(spec->fields[i].column);

		appendStringInfo(&cols, "%s%s", i ? ", " : "", c);
		appendStringInfo(&icols, "%sx.%s", i ? ", " : "", c);
		appendStringInfo(&ocols, "%s(x._old).%s", i ? ", " : "", c);
		appendStringInfo(&sets, "%s = x.%s, ", c, c);
		if (spec->fields[i].is_key)
			appendStringInfo(&keycond, "%so.%s = i.%s", keycond.len ? " AND " : "", c, c);
	}

	appendStringInfoString(&sql, "WITH incoming AS MATERIALIZED (SELECT ");
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&sql, "%su.c%d::%s AS %s", i ? ", " : "", i,
						 dp_datatype_sqltype(spec->fields[i].datatype),
						 quote_identifier(spec->fields[i].column));
	appendStringInfoString(&sql, " FROM ROWS FROM (");
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d::text[])", i ? ", " : "", i + 1);
	appendStringInfoString(&sql, ") AS u(");
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&sql, "%sc%d", i ? ", " : "", i);
	appendStringInfo(&sql,
					 ")), x AS MATERIALIZED (SELECT i.*, p._old, p._tid FROM incoming i "
					 "LEFT JOIN LATERAL (SELECT o AS _old, o.ctid AS _tid FROM %s o WHERE %s OFFSET 0) p "
					 "ON true), ",
					 dp_qualified_clean(spec, false), keycond.data);
	appendStringInfo(&sql,
					 "keep AS MATERIALIZED (SELECT * FROM x WHERE $%d::text IS NULL OR x._tid IS NULL "
					 "OR (x._old)._watermark IS NULL OR (x._old)._watermark <= $%d), ",
					 pwm, pwm);
	appendStringInfo(&sql,
					 "changed AS MATERIALIZED (SELECT * FROM keep x WHERE x._tid IS NOT NULL "
					 "AND (%s) IS DISTINCT FROM (%s)), ",
					 ocols.data, icols.data);
	appendStringInfo(&sql,
					 "moved AS (INSERT INTO %s (%s, _operation, _batch_id, _event_id, _valid_from, _valid_to, "
					 "_closed_by_batch, _watermark) "
					 "SELECT %s, 'update', (x._old)._batch_id, (x._old)._event_id, (x._old)._updated_at, $%d, $%d, "
					 "(x._old)._watermark FROM changed x), ",
					 dp_qualified_clean(spec, true), cols.data, ocols.data, ptime, pbatch);
	appendStringInfo(&sql,
					 "updated AS (UPDATE %s o SET %s_batch_id = $%d, _event_id = NULL, _updated_at = $%d, "
					 "_watermark = COALESCE($%d, o._watermark) FROM changed x WHERE o.ctid = x._tid), ",
					 dp_qualified_clean(spec, false), sets.data, pbatch, ptime, pwm);
	appendStringInfo(&sql,
					 "touched AS (UPDATE %s o SET _watermark = $%d FROM keep x WHERE $%d IS NOT NULL "
					 "AND o.ctid = x._tid AND (%s) IS NOT DISTINCT FROM (%s) "
					 "AND (o._watermark IS NULL OR o._watermark < $%d)), ",
					 dp_qualified_clean(spec, false), pwm, pwm, ocols.data, icols.data, pwm);
	appendStringInfo(&sql,
					 "added AS (INSERT INTO %s (%s, _batch_id, _updated_at, _watermark) "
					 "SELECT %s, $%d, $%d, $%d FROM keep x WHERE x._tid IS NULL RETURNING 1) ",
					 dp_qualified_clean(spec, false), cols.data, icols.data, pbatch, ptime, pwm);
	appendStringInfoString(&sql,
						   "SELECT (SELECT count(*) FROM added), (SELECT count(*) FROM changed), "
						   "(SELECT count(*) FROM keep WHERE _tid IS NOT NULL) - (SELECT count(*) FROM changed), "
						   "(SELECT count(*) FROM x) - (SELECT count(*) FROM keep)");

	load->upsert_sql = sql.data;
	load->upsert_types = palloc(sizeof(Oid) * (spec->nfields + 3));
	for (i = 0; i < spec->nfields; i++)
		load->upsert_types[i] = TEXTARRAYOID;
	load->upsert_types[spec->nfields] = INT8OID;
	load->upsert_types[spec->nfields + 1] = TIMESTAMPTZOID;
	load->upsert_types[spec->nfields + 2] = TEXTOID;
}

/* A text[] of n C strings (NULL pointers become NULL elements). */
Datum
dp_text_array(char **strings, int n, int stride)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1];
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
	{
		char	   *s = strings[(Size) i * stride];

		nulls[i] = s == NULL;
		elems[i] = s ? CStringGetTextDatum(s) : (Datum) 0;
	}
	dims[0] = n;
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

Datum
dp_int8_array(int64 *v, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = Int64GetDatum(v[i]);
	return PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Rows with new keys are written the way COPY writes them (bulk.c): the
 * values typed by their input functions, the table AM's multi-insert, the
 * executor's index insertion.  Rows whose key is stored go through the
 * upsert statement (build_upsert), which compares, moves the replaced
 * version to history and updates.  The key probe goes through the primary
 * key index and sees this batch's earlier flushes.
 */
static void
insert_new_rows(DpLoad *load, const int *slots, int n)
{
	const DpSpec *spec = load->spec;
	int			nf = spec->nfields;
	DpBulk	   *b = dp_bulk_begin("dp_clean", spec->table);
	AttrNumber *atts = palloc(sizeof(AttrNumber) * nf);
	AttrNumber	a_batch = dp_bulk_attnum(b, "_batch_id");
	AttrNumber	a_updated = dp_bulk_attnum(b, "_updated_at");
	AttrNumber	a_watermark = dp_bulk_attnum(b, "_watermark");
	Datum		watermark = load->watermark ? CStringGetTextDatum(load->watermark) : (Datum) 0;

	for (int i = 0; i < nf; i++)
		atts[i] = dp_bulk_attnum(b, spec->fields[i].column);
	for (int k = 0; k < n; k++)
	{
		char	  **v = load->values + (Size) slots[k] * nf;

		(void) dp_bulk_slot(b);
		for (int i = 0; i < nf; i++)
			dp_bulk_set_text(b, atts[i], v[i]);
		dp_bulk_set_datum(b, a_batch, Int64GetDatum(load->batch_id));
		dp_bulk_set_datum(b, a_updated, load->received_at);
		if (load->watermark)
			dp_bulk_set_datum(b, a_watermark, watermark);
		dp_bulk_store(b);
	}
	load->n_added += dp_bulk_end(b);
}

static void
upsert_rows(DpLoad *load, const int *slots, int n)
{
	int			nf = load->spec->nfields;
	char	  **vals = palloc(sizeof(char *) * nf * Max(n, 1));
	Datum	   *values;

	if (load->upsert_sql == NULL)
	{
		MemoryContext o2 = MemoryContextSwitchTo(load->cxt);

		build_upsert(load);
		MemoryContextSwitchTo(o2);
	}
	for (int k = 0; k < n; k++)
		memcpy(vals + (Size) k * nf, load->values + (Size) slots[k] * nf, sizeof(char *) * nf);
	values = palloc(sizeof(Datum) * (nf + 3));
	for (int i = 0; i < nf; i++)
		values[i] = dp_text_array(vals + i, n, nf);
	values[nf] = Int64GetDatum(load->batch_id);
	values[nf + 1] = load->received_at;
	values[nf + 2] = load->watermark ? CStringGetTextDatum(load->watermark) : (Datum) 0;
	dp_spi_exec(load->upsert_sql, nf + 3, load->upsert_types, values,
				load->watermark ? NULL : psprintf("%*s%s", nf + 2, "", "n"));
	load->n_added += pg_strtoint64(dp_spi_getvalue(0, 1));
	load->n_changed += pg_strtoint64(dp_spi_getvalue(0, 2));
	load->n_unchanged += pg_strtoint64(dp_spi_getvalue(0, 3));
	load->n_newer += pg_strtoint64(dp_spi_getvalue(0, 4));
}

static void
flush_rows(DpLoad *load)
{
	const DpSpec *spec = load->spec;
	int			nf = spec->nfields;
	HASH_SEQ_STATUS seq;
	KeyEntry   *e;
	MemoryContext flush_cxt,
				old;
	DpProbe    *probe;
	int			nkeys;
	int		   *key_field;
	Datum	   *key;
	int		   *fresh,
			   *stored;
	int			nfresh = 0,
				nstored = 0;

	if (load->nslots == 0 || load->dry_run)
		return;
	flush_cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform flush", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(flush_cxt);

	/* which keys are stored already: one primary key probe each */
	probe = dp_probe_begin("dp_clean", spec->table);
	nkeys = dp_probe_nkeys(probe);
	key_field = palloc(sizeof(int) * nkeys);
	key = palloc(sizeof(Datum) * nkeys);
	for (int i = 0; i < nkeys; i++)
	{
		const char *col = dp_probe_key_column(probe, i);

		key_field[i] = -1;
		for (int f = 0; f < nf; f++)
			if (strcmp(spec->fields[f].column, col) == 0)
				key_field[i] = f;
		if (key_field[i] < 0)
			elog(ERROR, "key column \"%s\" of dataset \"%s\" is not a field", col, load->dataset);
	}
	fresh = palloc(sizeof(int) * load->nslots);
	stored = palloc(sizeof(int) * load->nslots);
	for (int s = 0; s < load->nslots; s++)
	{
		char	  **v = load->values + (Size) s * nf;
		bool		known = true;

		for (int i = 0; i < nkeys && known; i++)
		{
			if (v[key_field[i]] == NULL)
				known = false;
			else
				key[i] = dp_probe_input(probe, i, v[key_field[i]]);
		}
		if (known && dp_probe_exists(probe, key))
			stored[nstored++] = s;
		else
			fresh[nfresh++] = s;
	}
	dp_probe_end(probe);

	if (nstored > 0)
		upsert_rows(load, stored, nstored);
	if (nfresh > 0)
		insert_new_rows(load, fresh, nfresh);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(flush_cxt);

	/* the keys stay known (for duplicate warnings) but their slots are gone */
	hash_seq_init(&seq, load->keys);
	while ((e = hash_seq_search(&seq)) != NULL)
		e->slot = -1;
	load->nslots = 0;
	MemoryContextReset(load->rows_cxt);
}

static void
flush_issues(DpLoad *load)
{
	DpTransform *t = load->t;
	int			n = t->nissues;
	Oid			types[9] = {INT8OID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[9];
	int64	   *rows,
			   *lines;
	char	  **cols[6];
	int			i,
				k;
	MemoryContext cxt,
				old;

	if (n == 0 || load->dry_run)
		return;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform issues", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	rows = palloc(sizeof(int64) * n);
	lines = palloc(sizeof(int64) * n);
	for (k = 0; k < 6; k++)
		cols[k] = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
	{
		DpIssueRec *r = &t->issues[i];

		rows[i] = r->row_number;
		lines[i] = r->line_number;
		cols[0][i] = (char *) r->field;
		cols[1][i] = (char *) r->issue_type;
		cols[2][i] = (char *) r->severity;
		cols[3][i] = r->value;
		cols[4][i] = r->normalised;
		cols[5][i] = r->message;
	}
	values[0] = Int64GetDatum(load->batch_id);
	values[1] = dp_int8_array(rows, n);
	values[2] = dp_int8_array(lines, n);
	for (k = 0; k < 6; k++)
		values[3 + k] = dp_text_array(cols[k], n, 1);
	dp_spi_exec("INSERT INTO dataplatform.issue (batch_id, row_number, line_number, field, "
				"issue_type, severity, value, normalised_value, message) "
				"SELECT $1, NULLIF(u.r, 0), NULLIF(u.l, 0), u.f, u.t, u.s, u.v, u.n, u.m "
				"FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
				"pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), "
				"pg_catalog.unnest($9)) AS u(r, l, f, t, s, v, n, m)",
				9, types, values, NULL);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	dp_transform_reset_issues(t);
}

static void
flush_quarantine(DpLoad *load)
{
	Oid			types[3] = {INT8OID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[3];

	if (load->nquarantine == 0 || load->dry_run)
		return;
	values[0] = Int64GetDatum(load->batch_id);
	values[1] = dp_int8_array(load->q_row, load->nquarantine);
	values[2] = dp_int8_array(load->q_line, load->nquarantine);
	dp_spi_exec("INSERT INTO dataplatform.quarantine_row (batch_id, row_number, line_number) "
				"SELECT $1, u.r, NULLIF(u.l, 0) FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(r, l)",
				3, types, values, NULL);
	load->nquarantine = 0;
}

void
dp_load_flush(DpLoad *load)
{
	flush_rows(load);
	flush_issues(load);
	flush_quarantine(load);
}

/* ------------------------------------------------------------------------
 * Row handling: dedupe by key, buffer, dry-run JSON
 * ------------------------------------------------------------------------
 */

static char *
key_text(const DpSpec *spec, char **out)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < spec->nkey; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, '\x1f');
		appendStringInfoString(&buf, out[spec->key[i]]);
	}
	return buf.data;
}

static void
append_json_value(StringInfo buf, DpDatatype dt, const char *v)
{
	if (v == NULL)
		appendStringInfoString(buf, "null");
	else if (dt == DP_DT_INTEGER || dt == DP_DT_DECIMAL || dt == DP_DT_FLAG || dt == DP_DT_JSON)
		appendStringInfoString(buf, v);
	else
		escape_json(buf, v);
}

/* The rows a dry run reports: as they would load, keyed by field name. */
static void
check_rows_json(DpLoad *load)
{
	const DpSpec *spec = load->spec;
	int			s,
				i;

	for (s = 0; s < load->nslots; s++)
	{
		char	  **out = load->values + (Size) s * spec->nfields;

		appendStringInfoString(&load->rows_json, load->nrows_json++ ? ", {" : "{");
		for (i = 0; i < spec->nfields; i++)
		{
			if (i > 0)
				appendStringInfoString(&load->rows_json, ", ");
			escape_json(&load->rows_json, spec->fields[i].name);
			appendStringInfoString(&load->rows_json, ": ");
			append_json_value(&load->rows_json, spec->fields[i].datatype, out[i]);
		}
		appendStringInfoChar(&load->rows_json, '}');
	}
	load->nslots = 0;
	MemoryContextReset(load->rows_cxt);
}

/*
 * A quarantined snapshot row with a usable key: the entity is present in
 * the snapshot (only its values were bad), so a replace must not remove it.
 */
static void
remember_key(DpLoad *load, char **out, const DpSourceRow *row)
{
	const DpSpec *spec = load->spec;
	char	   *key;
	uint64		h;
	KeyEntry   *e;
	bool		found;
	int			i;

	for (i = 0; i < spec->nkey; i++)
		if (out[spec->key[i]] == NULL)
			return;
	key = key_text(spec, out);
	h = hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
	for (;;)
	{
		e = hash_search(load->keys, &h, HASH_ENTER, &found);
		if (!found || strcmp(e->key, key) == 0)
			break;
		h++;
	}
	if (!found)
	{
		e->key = key;
		e->slot = -1;
		e->row_number = row->row_number;
		e->line_number = row->line_number;
	}
}

/* Transform one source row and route it. */
void
dp_load_row(DpLoad *load, const DpSourceRow *row)
{
	const DpSpec *spec = load->spec;
	MemoryContext old;
	char	  **out;
	DpRowStatus st;

	/* make room first: a flush resets rows_cxt, where this row's values go */
	if (load->nslots == DP_FLUSH_ROWS)
	{
		if (load->dry_run)
			check_rows_json(load);
		else
			flush_rows(load);
	}
	old = MemoryContextSwitchTo(load->rows_cxt);
	out = palloc(sizeof(char *) * spec->nfields);

	load->rows_in++;
	st = dp_transform_row(load->t, row, out);
	MemoryContextSwitchTo(load->cxt);
	switch (st)
	{
		case DP_ROW_SKIPPED:
			load->skipped++;
			break;
		case DP_ROW_FILTERED:
			load->filtered++;
			break;
		case DP_ROW_QUARANTINED:
			if (load->track_keys)
				remember_key(load, out, row);
			load->quarantined++;
			load->q_row[load->nquarantine] = row->row_number;
			load->q_line[load->nquarantine] = row->line_number;
			if (++load->nquarantine == DP_FLUSH_ROWS)
				flush_quarantine(load);
			break;
		case DP_ROW_LOADED:
			{
				char	   *key = key_text(spec, out);
				uint64		h = hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
				KeyEntry   *e;
				bool		found;

				/* find the key, stepping past other keys with the same hash */
				for (;;)
				{
					e = hash_search(load->keys, &h, HASH_ENTER, &found);
					if (!found || strcmp(e->key, key) == 0)
						break;
					h++;
				}
				if (found)
					dp_transform_add_issue(load->t, e->row_number, e->line_number,
										   spec->key[0], DP_ISSUE_DUPLICATE_KEY, "warning",
										   out[spec->key[0]], NULL,
										   psprintf("Row %lld has the same key and replaces this row.",
													(long long) row->row_number));
				if (found && e->slot >= 0)
				{
					/* last one wins: overwrite the earlier row's slot */
					memcpy(load->values + (Size) e->slot * spec->nfields, out,
						   sizeof(char *) * spec->nfields);
					load->slot_row[e->slot] = row->row_number;
				}
				else
				{
					e->slot = load->nslots++;
					memcpy(load->values + (Size) e->slot * spec->nfields, out,
						   sizeof(char *) * spec->nfields);
					load->slot_row[e->slot] = row->row_number;
					if (!found)
						e->key = key;
				}
				e->row_number = row->row_number;
				e->line_number = row->line_number;
				if (!found)
					load->loaded++;
			}
			break;
	}
	if (load->t->nissues >= DP_FLUSH_ROWS && !load->dry_run)
		flush_issues(load);
	MemoryContextSwitchTo(old);
}

/* ------------------------------------------------------------------------
 * Sources: JSON rows and CSV records
 * ------------------------------------------------------------------------
 */


void
dp_row_builder_fit(DpRowBuilder *rb, int n)
{
	if (n <= rb->maxcells)
		return;
	rb->maxcells = Max(n, rb->maxcells * 2);
	rb->vals = rb->vals ? repalloc(rb->vals, sizeof(char *) * rb->maxcells)
		: palloc(sizeof(char *) * rb->maxcells);
	rb->lens = rb->lens ? repalloc(rb->lens, sizeof(size_t) * rb->maxcells)
		: palloc(sizeof(size_t) * rb->maxcells);
}

/*
 * Feed one JSON object (a jsonb container) as a row.  Values: strings as
 * they are, numbers and booleans as their JSON text, null as absent,
 * objects and arrays as JSON text.
 */
void
dp_load_json_row(DpLoad *load, DpRowBuilder *rb, JsonbContainer *obj, int64 ordinal,
				 DpSourceRow *out)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbIteratorToken tok;
	JsonbValue	v;
	DpSourceRow row;
	int			col = -1;
	int			i;
	MemoryContext old;

	MemoryContextReset(load->src_cxt);
	old = MemoryContextSwitchTo(load->src_cxt);
	memset(&row, 0, sizeof(row));
	row.row_number = ordinal;
	for (i = 0; i < rb->maxcells; i++)
		rb->vals[i] = NULL;
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			col = dp_transform_column(load->t, v.val.string.val, v.val.string.len);
			if (col >= rb->maxcells)
			{
				int			before = rb->maxcells;

				MemoryContextSwitchTo(load->cxt);
				dp_row_builder_fit(rb, col + 1);
				MemoryContextSwitchTo(load->src_cxt);
				for (i = before; i < rb->maxcells; i++)
					rb->vals[i] = NULL;
			}
		}
		else if (tok == WJB_VALUE)
		{
			const char *s = NULL;
			size_t		len = 0;

			switch (v.type)
			{
				case jbvString:
					s = v.val.string.val;
					len = v.val.string.len;
					break;
				case jbvNumeric:
					s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
					len = strlen(s);
					break;
				case jbvBool:
					s = v.val.boolean ? "true" : "false";
					len = strlen(s);
					break;
				case jbvBinary:
					s = JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
					len = strlen(s);
					break;
				default:
					/* null: present and empty (an update event clears the field) */
					s = "";
					len = 0;
					break;
			}
			rb->vals[col] = s;
			rb->lens[col] = len;
		}
	}
	row.ncells = load->t->ncolumns;
	row.vals = rb->vals;
	row.lens = rb->lens;
	MemoryContextSwitchTo(old);
	*out = row;
}

static void
load_json_object(DpLoad *load, DpRowBuilder *rb, JsonbContainer *obj, int64 ordinal)
{
	DpSourceRow row;

	dp_load_json_row(load, rb, obj, ordinal, &row);
	dp_load_row(load, &row);
}

/*
 * Feed every element of a push payload: an array of objects, or one
 * object.  Bad shapes are errors naming the dataset and the element.
 */
int64
dp_load_json(DpLoad *load, Jsonb *rows)
{
	DpRowBuilder	rb = {0};
	MemoryContext old = MemoryContextSwitchTo(load->cxt);

	dp_row_builder_fit(&rb, 16);
	MemoryContextSwitchTo(old);
	if (JB_ROOT_IS_OBJECT(rows))
		load_json_object(load, &rb, &rows->root, 1);
	else
	{
		JsonbIterator *it = JsonbIteratorInit(&rows->root);
		JsonbIteratorToken tok;
		JsonbValue	v;
		int64		ordinal = 0;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			ordinal++;
			if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("row %lld of the push to dataset \"%s\" is not a JSON object",
								(long long) ordinal, load->dataset),
						 errhint("Push an array of objects, one per row: [{\"id\": 1, ...}, ...].")));
			load_json_object(load, &rb, v.val.binary.data, ordinal);
			CHECK_FOR_INTERRUPTS();
		}
	}
	return load->rows_in;
}

void
dp_check_json_shape(const char *dataset, Jsonb *rows)
{
	if (JB_ROOT_IS_SCALAR(rows))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("push to dataset \"%s\" must be a JSON array of objects or one object",
						dataset),
				 errdetail("Got a JSON scalar.")));
	if (JB_ROOT_IS_ARRAY(rows) && JB_ROOT_COUNT(rows) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("push to dataset \"%s\" has no rows", dataset),
				 errhint("An empty push is refused so that a broken extract is noticed; push only when there is data.")));
}

/* CSV options: {"delimiter": ";" | "\t" | "tab" | ",", "quote": "\""} */
static void
csv_options(const char *dataset, Jsonb *options, DpCsvOptions *opt)
{
	json_t	   *o;
	const char *key;
	json_t	   *v;

	memset(opt, 0, sizeof(*opt));
	if (options == NULL)
		return;
	o = dp_json_from_jsonb(options, "CSV options");
	if (!json_is_object(o))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("CSV options for dataset \"%s\" must be a JSON object", dataset)));
	json_object_foreach(o, key, v)
	{
		const char *s = json_is_string(v) ? json_string_value(v) : NULL;
		char		c;

		if (strcmp(key, "delimiter") != 0 && strcmp(key, "quote") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown CSV option \"%s\" for dataset \"%s\"", key, dataset),
					 errhint("CSV options are delimiter and quote.")));
		if (s && strcmp(s, "tab") == 0)
			s = "\t";
		if (s == NULL || strlen(s) != 1 || s[0] == '\n' || s[0] == '\r')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("CSV option \"%s\" for dataset \"%s\" must be one character", key, dataset),
					 errhint("For example {\"delimiter\": \";\"} or {\"delimiter\": \"tab\"}.")));
		c = s[0];
		if (strcmp(key, "delimiter") == 0)
			opt->delimiter = c;
		else
			opt->quote = c;
	}
	if (opt->quote && opt->quote == (opt->delimiter ? opt->delimiter : ','))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("CSV quote and delimiter for dataset \"%s\" must differ", dataset)));
	json_decref(o);
}

typedef struct CsvRaw
{
	int			n;
	int64	   *ordinal;
	int64	   *line;
	char	  **raw;
} CsvRaw;

static void
flush_csv_raw(DpLoad *load, CsvRaw *cr)
{
	Oid			types[4] = {INT8OID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID};
	Datum		values[4];

	if (cr->n == 0 || load->dry_run)
		return;
	values[0] = Int64GetDatum(load->batch_id);
	values[1] = dp_int8_array(cr->ordinal, cr->n);
	values[2] = dp_int8_array(cr->line, cr->n);
	values[3] = dp_text_array(cr->raw, cr->n, 1);
	dp_spi_exec("INSERT INTO dp_raw.rows (batch_id, ordinal, line_number, raw) "
				"SELECT $1, u.o, u.l, u.r FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
				"pg_catalog.unnest($4)) AS u(o, l, r)",
				4, types, values, NULL);
	cr->n = 0;
	MemoryContextReset(load->raw_cxt);
}

/*
 * Feed every record of a CSV payload.  land: also write each record's text
 * to dp_raw.  ordinals/lines (rebuild): use these numbers instead of the
 * parser's.  Returns the header line's text in *header.
 */
static void
load_csv(DpLoad *load, const char *data, size_t len, const DpCsvOptions *opt, bool land,
		 const int64 *ordinals, const int64 *lines, int64 nknown, char **header)
{
	DpCsvReader r;
	DpCsvStatus st;
	size_t		maxfields = 64;
	DpCsvField *fields;
	size_t		scratch_size = 65536;
	char	   *scratch;
	int		   *colmap = NULL;
	size_t		ncols = 0;
	DpRowBuilder	rb = {0};
	CsvRaw		cr = {0};
	MemoryContext obf_cxt = AllocSetContextCreate(load->cxt, "dataplatform obfuscation",
												  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(load->cxt);

	fields = palloc(sizeof(DpCsvField) * maxfields);
	scratch = palloc(scratch_size);
	if (land)
	{
		cr.ordinal = palloc(sizeof(int64) * DP_FLUSH_ROWS);
		cr.line = palloc(sizeof(int64) * DP_FLUSH_ROWS);
		cr.raw = palloc(sizeof(char *) * DP_FLUSH_ROWS);
	}
	dp_csv_init(&r, data, len, opt, fields, maxfields, scratch, scratch_size);
	MemoryContextSwitchTo(old);

	while ((st = dp_csv_next(&r)) != DP_CSV_END)
	{
		size_t		i;
		DpSourceRow row;

		if (st == DP_CSV_SHORT)
		{
			scratch_size = Max(r.scratch_needed, scratch_size * 2);
			scratch = MemoryContextAlloc(load->cxt, scratch_size);
			dp_csv_set_buffers(&r, fields, maxfields, scratch, scratch_size);
			continue;
		}
		if (r.nfields > maxfields)
		{
			maxfields = r.nfields;
			fields = MemoryContextAlloc(load->cxt, sizeof(DpCsvField) * maxfields);
			dp_csv_set_buffers(&r, fields, maxfields, scratch, scratch_size);
			dp_csv_rewind(&r);
			continue;
		}
		if (st == DP_CSV_ERROR)
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("malformed CSV for dataset \"%s\" at line %zu: %s",
							load->dataset, r.error_line ? r.error_line : r.line_no, r.error),
					 strcmp(r.error, "no header") == 0 ?
					 errhint("The first line must name the columns.") :
					 errhint("Quote fields that contain the delimiter, quotes or line breaks, and double quotes inside them.")));
		if (st == DP_CSV_HEADER)
		{
			size_t		bad,
						other;
			const char *problem = dp_csv_header_problem(fields, r.nfields, &bad, &other);

			if (problem)
				ereport(ERROR,
						(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
						 errmsg("malformed CSV header for dataset \"%s\": %s", load->dataset, problem),
						 errdetail("Column %zu of line %zu.", bad + 1, r.line_no)));
			ncols = r.nfields;
			colmap = MemoryContextAlloc(load->cxt, sizeof(int) * ncols);
			old = MemoryContextSwitchTo(load->cxt);
			for (i = 0; i < ncols; i++)
				colmap[i] = dp_transform_column(load->t, fields[i].value, (int) fields[i].len);
			dp_row_builder_fit(&rb, load->t->ncolumns);
			if (header)
				*header = pnstrdup(r.raw, r.raw_len);
			MemoryContextSwitchTo(old);
			continue;
		}
		memset(&row, 0, sizeof(row));
		if (ordinals && (int64) r.record_no <= nknown)
		{
			row.row_number = ordinals[r.record_no - 1];
			row.line_number = lines[r.record_no - 1];
		}
		else
		{
			row.row_number = r.record_no;
			row.line_number = r.line_no;
		}
		row.raw = r.raw;
		row.raw_len = r.raw_len;
		if (load->obfuscate)
		{
			/* PII cells become tokens before anything sees the record */
			MemoryContextReset(obf_cxt);
			old = MemoryContextSwitchTo(obf_cxt);
			if (r.nfields == ncols)
				row.raw = dp_obfuscate_csv_record(load->t, colmap, fields, ncols,
												  opt->delimiter ? opt->delimiter : ',',
												  opt->quote ? opt->quote : '"', &row.raw_len);
			MemoryContextSwitchTo(old);
		}
		if (r.nfields != ncols)
		{
			/* a line a skip pattern drops may have any shape (comments, totals) */
			bool		skipped;

			old = MemoryContextSwitchTo(load->src_cxt);
			skipped = dp_transform_skips(load->t, &row);
			MemoryContextSwitchTo(old);
			MemoryContextReset(load->src_cxt);
			if (!skipped && ordinals)
			{
				/*
				 * rebuild: the batch was accepted under a configuration
				 * that skipped this line; now it is quarantined, not an
				 * error that would make the dataset impossible to rebuild
				 */
				dp_transform_add_issue_named(load->t, row.row_number, row.line_number, -1, NULL,
											 DP_ISSUE_MALFORMED_ROW, "error", NULL, NULL,
											 psprintf("The record has %zu field%s; the header has %zu.",
													  r.nfields, r.nfields == 1 ? "" : "s", ncols));
				load->rows_in++;
				load->quarantined++;
				load->q_row[load->nquarantine] = row.row_number;
				load->q_line[load->nquarantine] = row.line_number;
				if (++load->nquarantine == DP_FLUSH_ROWS)
					flush_quarantine(load);
				continue;
			}
			if (!skipped)
				ereport(ERROR,
						(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
						 errmsg("malformed CSV for dataset \"%s\" at line %zu: %zu field%s, the header has %zu",
								load->dataset, r.line_no, r.nfields, r.nfields == 1 ? "" : "s", ncols),
						 errhint("Every record needs one value per header column; quote values that contain the delimiter.")));
			row.ncells = 0;
			if (load->obfuscate)
			{
				/*
				 * A skipped line of another shape: which of its cells are
				 * PII cannot be told, so it is not stored at all (it is
				 * still counted as skipped).
				 */
				load->rows_in++;
				if (!load->raw_only)
					load->skipped++;
				continue;
			}
		}
		else
		{
			for (i = 0; i < (size_t) rb.maxcells; i++)
				rb.vals[i] = NULL;
			for (i = 0; i < ncols; i++)
			{
				rb.vals[colmap[i]] = fields[i].value;
				rb.lens[colmap[i]] = fields[i].len;
			}
			row.ncells = load->t->ncolumns;
		}
		row.vals = rb.vals;
		row.lens = rb.lens;
		if (land)
		{
			cr.ordinal[cr.n] = row.row_number;
			cr.line[cr.n] = row.line_number;
			cr.raw[cr.n] = MemoryContextAlloc(load->raw_cxt, row.raw_len + 1);
			memcpy(cr.raw[cr.n], row.raw, row.raw_len);
			cr.raw[cr.n][row.raw_len] = '\0';
			if (++cr.n == DP_FLUSH_ROWS)
				flush_csv_raw(load, &cr);
		}
		if (load->raw_only)
			load->rows_in++;
		else
			dp_load_row(load, &row);
		CHECK_FOR_INTERRUPTS();
	}
	if (land)
		flush_csv_raw(load, &cr);
	if (ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("CSV for dataset \"%s\" has no header", load->dataset)));
	if (load->rows_in == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("push to dataset \"%s\" has no rows", load->dataset),
				 errdetail("The CSV holds a header and no records."),
				 errhint("An empty push is refused so that a broken extract is noticed; push only when there is data.")));
}

/* ------------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------------
 */

char *
dp_sha256_hex(const char *data, size_t len)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	int			i;

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256");
	pg_cryptohash_free(ctx);
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + i * 2, "%02x", digest[i]);
	return hex;
}

void
dp_load_create_batch(DpLoad *load, const char *kind, size_t bytes, const char *sha, const char *source)
{
	bool		isnull;

	const char *args[7];

	args[0] = load->dataset;
	args[1] = kind;
	args[2] = GetUserNameFromId(dp_caller_id(), false);
	args[3] = psprintf("%zu", bytes);
	args[4] = sha;
	args[5] = source;
	args[6] = load->column_override;
	dp_spi_exec_text("INSERT INTO dataplatform.batch (dataset, kind, pushed_by, bytes, rows, sha256, "
					 "status, source) VALUES ($1, $2, $3::name, $4::bigint, 0, $5, 'processing', "
					 "$6::jsonb || CASE WHEN $7::jsonb IS NULL THEN '{}' "
					 "ELSE pg_catalog.jsonb_build_object('column', $7::jsonb) END) "
					 "RETURNING id, received_at", 7, args);
	load->batch_id = pg_strtoint64(dp_spi_getvalue(0, 1));
	load->received_at = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
}

/* Lock the clean table for writing (see the file header). */
void
dp_load_lock(DpLoad *load, const char *mode)
{
	dp_spi_exec(psprintf("LOCK TABLE %s IN %s MODE", dp_qualified_clean(load->spec, false), mode),
				0, NULL, NULL, NULL);
}

/*
 * Whether a write must wait in the queue: the dataset is asynchronous, or
 * batches of it are still queued (a synchronous write would overtake them).
 * Call with the clean table locked.
 */
bool
dp_load_queued_behind(DpLoad *load)
{
	const char *args[2];

	if (load->cfg->async)
		return true;
	args[0] = load->dataset;
	args[1] = psprintf("%lld", (long long) load->batch_id);	/* 0 before the batch exists */
	return dp_spi_exec_text("SELECT 1 FROM dataplatform.batch WHERE dataset = $1 AND id <> $2::bigint "
							"AND status IN ('queued', 'processing') LIMIT 1", 2, args) > 0;
}

/* Snapshots and events apply at once: refuse them while pushes are queued. */
void
dp_load_require_no_queue(DpLoad *load)
{
	if (dp_load_queued_behind(load))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dataset \"%s\" has pushes queued for processing", load->dataset),
				 errdetail("Snapshots and events apply at once and would overtake the queued pushes."),
				 errhint("Configure the dataset with \"processing\": \"sync\", or wait for dataplatform.process_queued('%s').",
						 load->dataset)));
}

void
dp_load_finish(DpLoad *load, instr_time start)
{
	instr_time	now;
	const char *args[14];

	dp_load_flush(load);
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	args[0] = psprintf("%lld", (long long) load->batch_id);
	args[1] = psprintf("%lld", (long long) load->rows_in);
	args[2] = psprintf("%lld", (long long) load->loaded);
	args[3] = psprintf("%lld", (long long) load->quarantined);
	args[4] = psprintf("%lld", (long long) load->skipped);
	args[5] = psprintf("%lld", (long long) load->filtered);
	args[6] = psprintf("%lld", (long long) load->t->issue_counts[0]);
	args[7] = psprintf("%lld", (long long) load->t->issue_counts[1]);
	args[8] = psprintf("%lld", (long long) load->t->issue_counts[2]);
	args[9] = psprintf("%.3f", INSTR_TIME_GET_MILLISEC(now));
	args[10] = psprintf("%d.%d", load->major, load->minor);
	args[11] = psprintf("%d", load->config_version);
	args[12] = dp_transform_mapping_json(load->t);
	dp_spi_exec_text("UPDATE dataplatform.batch SET rows = $2::bigint, rows_loaded = $3::bigint, "
					 "rows_quarantined = $4::bigint, rows_skipped = $5::bigint, rows_filtered = $6::bigint, "
					 "issues_error = $7::bigint, issues_warning = $8::bigint, issues_info = $9::bigint, "
					 "elapsed_ms = $10::numeric, spec_version = $11, config_version = $12::integer, "
					 "column_mapping = $13::jsonb, status = 'done', processed_at = pg_catalog.clock_timestamp() "
					 "WHERE id = $1::bigint", 13, args);
}

void
dp_load_audit(DpLoad *load, const char *kind)
{
	dp_audit(kind, load->dataset,
			 psprintf("{\"batch_id\": %lld, \"rows\": %lld, \"loaded\": %lld, \"quarantined\": %lld}",
					  (long long) load->batch_id, (long long) load->rows_in,
					  (long long) load->loaded, (long long) load->quarantined));
}

/*
 * Asynchronous processing: the batch stays queued with its raw rows; the
 * background worker transforms it (process_queued).
 */
static void
queue_batch(DpLoad *load, int64 rows)
{
	const char *args[2];

	args[0] = psprintf("%lld", (long long) load->batch_id);
	args[1] = psprintf("%lld", (long long) rows);
	dp_spi_exec_text("UPDATE dataplatform.batch SET status = 'queued', rows = $2::bigint, "
					 "spec_version = NULL WHERE id = $1::bigint", 2, args);
}

/* The payload with PII values replaced by tokens, when this environment wants it. */
Jsonb *
dp_load_obfuscate_json(DpLoad *load, Jsonb *rows)
{
	Jsonb	   *result;
	MemoryContext old;

	if (load->synthetic || !dp_obfuscation_needed(load->spec))
		return rows;
	old = MemoryContextSwitchTo(load->cxt);
	result = dp_obfuscate_rows(load->t, rows);
	MemoryContextSwitchTo(old);
	return result;
}

/* Land a JSON payload in dp_raw, one row per element (or the one object). */
void
dp_load_land_json(DpLoad *load, Jsonb *rows)
{
	Oid			types[2] = {INT8OID, JSONBOID};
	Datum		values[2];

	values[0] = Int64GetDatum(load->batch_id);
	values[1] = JsonbPGetDatum(rows);
	if (JB_ROOT_IS_OBJECT(rows))
		dp_spi_exec("INSERT INTO dp_raw.rows (batch_id, ordinal, data) VALUES ($1, 1, $2)",
					2, types, values, NULL);
	else
		dp_spi_exec("INSERT INTO dp_raw.rows (batch_id, ordinal, data) "
					"SELECT $1, x.o, x.e FROM pg_catalog.jsonb_array_elements($2) WITH ORDINALITY AS x(e, o)",
					2, types, values, NULL);
}

/*
 * The CSV arguments of push_csv and check_csv: the data (not null, not
 * empty) and the options.
 */
static void
csv_check_args(const char *dataset, size_t len, Jsonb *csv_opts, DpCsvOptions *opt)
{
	csv_options(dataset, csv_opts, opt);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("push to dataset \"%s\" is empty", dataset),
				 errhint("Send CSV with a header line and at least one record.")));
}

static text *
csv_args(FunctionCallInfo fcinfo, const char *dataset, DpCsvOptions *opt)
{
	text	   *data;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("CSV for dataset \"%s\" must not be null", dataset)));
	data = PG_GETARG_TEXT_PP(1);
	csv_check_args(dataset, VARSIZE_ANY_EXHDR(data), PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), opt);
	return data;
}

/* ------------------------------------------------------------------------
 * SQL functions
 * ------------------------------------------------------------------------
 */

/*
 * The push of a JSON payload (an object or an array of objects) to a
 * dataset, as the current user: push() and the C callers that store rows
 * (collection, generate) with their load options (NULL: none).  Returns
 * the batch id.
 */
int64
dp_push_rows(const char *dataset, Jsonb *rows, const DpLoadOptions *opts)
{
	DpLoad	   *load;
	instr_time	start;
	int64		batch_id;

	INSTR_TIME_SET_CURRENT(start);
	SPI_connect();
	load = dp_load_open(dataset, false, opts);
	dp_check_json_shape(dataset, rows);
	rows = dp_load_obfuscate_json(load, rows);

	/*
	 * Lock first, then take the batch id: batch ids of one dataset then
	 * follow commit order, which consumer refreshes rely on (a refresh that
	 * has seen batch n has seen every earlier batch of the dataset).
	 */
	dp_load_lock(load, "SHARE ROW EXCLUSIVE");
	/* bytes and hash of the payload as stored (jsonb's binary form) */
	dp_load_create_batch(load, "push", VARSIZE(rows) - VARHDRSZ,
				 dp_sha256_hex(VARDATA(rows), VARSIZE(rows) - VARHDRSZ), "{}");

	/* raw first, exactly as received */
	dp_load_land_json(load, rows);

	if (dp_load_queued_behind(load))
	{
		load->rows_in = JB_ROOT_IS_OBJECT(rows) ? 1 : JB_ROOT_COUNT(rows);
		queue_batch(load, load->rows_in);
	}
	else
	{
		dp_load_json(load, rows);
		dp_load_finish(load, start);
	}
	dp_load_audit(load, "push");
	batch_id = load->batch_id;
	SPI_finish();
	return batch_id;
}

Datum
dp_push(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rows pushed to dataset \"%s\" must not be null", dataset)));
	PG_RETURN_INT64(dp_push_rows(dataset, PG_GETARG_JSONB_P(1), opts_none));
}

/*
 * The push of CSV text (len bytes, not terminated) with its CSV options
 * (NULL: the defaults), as the current user: push_csv() and collection.
 * Returns the batch id.
 */
int64
dp_push_csv_data(const char *dataset, const char *data, size_t len, Jsonb *csv_opts,
				 const DpLoadOptions *opts)
{
	DpCsvOptions opt;
	DpLoad	   *load;
	instr_time	start;
	int64		batch_id;
	StringInfoData source;

	INSTR_TIME_SET_CURRENT(start);
	csv_check_args(dataset, len, csv_opts, &opt);
	SPI_connect();
	load = dp_load_open(dataset, false, opts);
	load->obfuscate = dp_obfuscation_needed(load->spec);

	initStringInfo(&source);
	appendStringInfo(&source, "{\"delimiter\": ");
	escape_json(&source, psprintf("%c", opt.delimiter ? opt.delimiter : ','));
	appendStringInfo(&source, ", \"quote\": ");
	escape_json(&source, psprintf("%c", opt.quote ? opt.quote : '"'));
	appendStringInfoChar(&source, '}');
	dp_load_lock(load, "SHARE ROW EXCLUSIVE");	/* before the batch id: see dp_push_rows */
	dp_load_create_batch(load, "push_csv", len, dp_sha256_hex(data, len), source.data);
	{
		char	   *header = NULL;
		const char *args[2];

		load->raw_only = dp_load_queued_behind(load);
		load_csv(load, data, len, &opt, true, NULL, NULL, 0, &header);
		args[0] = psprintf("%lld", (long long) load->batch_id);
		args[1] = header;
		dp_spi_exec_text("UPDATE dataplatform.batch SET source = source || "
						 "pg_catalog.jsonb_build_object('header', $2) WHERE id = $1::bigint", 2, args);
	}
	if (load->raw_only)
		queue_batch(load, load->rows_in);
	else
		dp_load_finish(load, start);
	dp_load_audit(load, "push_csv");
	batch_id = load->batch_id;
	SPI_finish();
	return batch_id;
}

Datum
dp_push_csv(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	text	   *data;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("CSV for dataset \"%s\" must not be null", dataset)));
	data = PG_GETARG_TEXT_PP(1);
	PG_RETURN_INT64(dp_push_csv_data(dataset, VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
									 PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), opts_none));
}

/* The dry-run report. */
static Datum
check_report(DpLoad *load, MemoryContext result_cxt)
{
	StringInfoData buf;
	DpTransform *t = load->t;
	int			i;
	Datum		result;

	check_rows_json(load);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"dataset\": ");
	escape_json(&buf, load->dataset);
	appendStringInfo(&buf, ", \"spec_version\": \"%d.%d\", \"config_version\": %d, "
					 "\"rows_in\": %lld, \"rows_valid\": %lld, \"rows_quarantined\": %lld, "
					 "\"rows_skipped\": %lld, \"rows_filtered\": %lld, \"column_mapping\": %s, \"issues\": [",
					 load->major, load->minor, load->config_version,
					 (long long) load->rows_in, (long long) load->loaded,
					 (long long) load->quarantined, (long long) load->skipped,
					 (long long) load->filtered, dp_transform_mapping_json(t));
	for (i = 0; i < t->nissues; i++)
	{
		DpIssueRec *r = &t->issues[i];

		appendStringInfoString(&buf, i ? ", {\"row\": " : "{\"row\": ");
		if (r->row_number > 0)
			appendStringInfo(&buf, "%lld", (long long) r->row_number);
		else
			appendStringInfoString(&buf, "null");
		if (r->line_number > 0)
			appendStringInfo(&buf, ", \"line\": %lld", (long long) r->line_number);
		appendStringInfoString(&buf, ", \"field\": ");
		escape_json(&buf, r->field);
		appendStringInfoString(&buf, ", \"issue\": ");
		escape_json(&buf, r->issue_type);
		appendStringInfoString(&buf, ", \"severity\": ");
		escape_json(&buf, r->severity);
		appendStringInfoString(&buf, ", \"value\": ");
		if (r->value)
			escape_json(&buf, r->value);
		else
			appendStringInfoString(&buf, "null");
		if (r->normalised)
		{
			appendStringInfoString(&buf, ", \"normalised\": ");
			escape_json(&buf, r->normalised);
		}
		appendStringInfoString(&buf, ", \"message\": ");
		escape_json(&buf, r->message);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfo(&buf, "], \"rows\": [%s]}", load->rows_json.data);
	MemoryContextSwitchTo(result_cxt);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	return result;
}

Datum
dp_check(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	MemoryContext result_cxt = CurrentMemoryContext;
	Jsonb	   *rows;
	DpLoad	   *load;
	Datum		result;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rows checked against dataset \"%s\" must not be null", dataset)));
	rows = PG_GETARG_JSONB_P(1);
	SPI_connect();
	load = dp_load_open(dataset, true, NULL);
	dp_check_json_shape(dataset, rows);
	rows = dp_load_obfuscate_json(load, rows);
	dp_load_json(load, rows);
	result = check_report(load, result_cxt);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

Datum
dp_check_csv(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	MemoryContext result_cxt = CurrentMemoryContext;
	text	   *data;
	DpCsvOptions opt;
	DpLoad	   *load;
	Datum		result;

	data = csv_args(fcinfo, dataset, &opt);
	SPI_connect();
	load = dp_load_open(dataset, true, NULL);
	load->obfuscate = dp_obfuscation_needed(load->spec);
	load_csv(load, VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), &opt, false, NULL, NULL, 0, NULL);
	result = check_report(load, result_cxt);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * Transform one batch again from its raw rows (push and push_csv batches),
 * writing clean rows, issues and quarantine, and stamping the batch with
 * the spec and configuration versions.  Used by rebuild and by the
 * asynchronous processing of queued batches.  The caller holds the clean
 * table's lock.  Returns the load (its context is the caller's to delete).
 */
DpLoad *
dp_replay_batch(const char *dataset, int64 batch_id, const char *kind, const char *source,
			 Datum received)
{
	DpLoad	   *load;
	DpLoadOptions opts = {0};
	const char *sargs[1] = {source};
	instr_time	start;
	const char *bargs[1];
	uint64		n,
				i;

	/* a batch collected with an endpoint's column mapping is mapped the same */
	if (source != NULL &&
		dp_spi_exec_text("SELECT ($1::jsonb -> 'column')::text", 1, sargs) == 1)
		opts.column_override = dp_spi_getvalue(0, 1);
	load = dp_load_open(dataset, false, &opts);

	INSTR_TIME_SET_CURRENT(start);
	load->batch_id = batch_id;
	load->received_at = received;
	bargs[0] = psprintf("%lld", (long long) batch_id);
	n = dp_spi_exec_text("SELECT ordinal, line_number, data, raw FROM dp_raw.rows "
						 "WHERE batch_id = $1::bigint ORDER BY ordinal", 1, bargs);
	if (strcmp(kind, "push") == 0)
	{
		DpRowBuilder rb = {0};
		SPITupleTable *tt = SPI_tuptable;
		MemoryContext old = MemoryContextSwitchTo(load->cxt);

		dp_row_builder_fit(&rb, 16);
		MemoryContextSwitchTo(old);
		for (i = 0; i < n; i++)
		{
			bool		isnull;
			Jsonb	   *obj = DatumGetJsonbP(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));

			load_json_object(load, &rb, &obj->root,
							 DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull)));
		}
	}
	else if (strcmp(kind, "push_csv") == 0)
	{
		/* CSV: the header and every record's text, parsed again */
		StringInfoData csv;
		json_t	   *src;
		DpCsvOptions opt;
		int64	   *ordinals = palloc(sizeof(int64) * Max(n, 1));
		int64	   *lines = palloc(sizeof(int64) * Max(n, 1));
		SPITupleTable *tt = SPI_tuptable;
		Jsonb	   *srcb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(source)));

		src = dp_json_from_jsonb(srcb, "the batch source");
		memset(&opt, 0, sizeof(opt));
		if (json_is_string(json_object_get(src, "delimiter")))
			opt.delimiter = json_string_value(json_object_get(src, "delimiter"))[0];
		if (json_is_string(json_object_get(src, "quote")))
			opt.quote = json_string_value(json_object_get(src, "quote"))[0];
		initStringInfo(&csv);
		appendStringInfo(&csv, "%s\n", json_string_value(json_object_get(src, "header")));
		json_decref(src);
		for (i = 0; i < n; i++)
		{
			bool		isnull;

			ordinals[i] = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
			lines[i] = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
			appendStringInfoString(&csv, SPI_getvalue(tt->vals[i], tt->tupdesc, 4));
			appendStringInfoChar(&csv, '\n');
		}
		load_csv(load, csv.data, csv.len, &opt, false, ordinals, lines, n, NULL);
	}
	else
		elog(ERROR, "batch %lld of kind %s cannot be replayed", (long long) batch_id, kind);
	dp_load_finish(load, start);
	return load;
}

/*
 * rebuild(dataset): replay every raw batch, in order, through the current
 * spec and configuration.  Takes ACCESS EXCLUSIVE on the clean table, so
 * readers see the old state or the new one, never a mix.
 */
Datum
dp_rebuild(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	MemoryContext result_cxt = CurrentMemoryContext;
	const char *args[1];
	uint64		nbatches,
				b;
	int64	   *ids;
	char	  **kinds;
	char	  **sources;
	Datum	   *received;
	DpLoad	   *first;
	int64		total_rows = 0,
				total_loaded = 0,
				total_quarantined = 0;
	char	   *report;
	Datum		result;
	bool		isnull;

	dp_require_admin("rebuild a dataset");
	SPI_connect();
	first = dp_load_open(dataset, false, NULL);
	args[0] = dataset;
	if (dp_spi_exec_text("SELECT 1 FROM dataplatform.batch WHERE dataset = $1 AND raw_purged_at IS NOT NULL",
						 1, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot rebuild dataset \"%s\": raw rows of some of its batches were purged",
						dataset),
				 errdetail("A rebuild would lose the rows that came only from those batches.")));
	if (dp_spi_exec_text("SELECT 1 FROM dataplatform.batch WHERE dataset = $1 "
						 "AND kind IN ('snapshot', 'events')", 1, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot rebuild dataset \"%s\": it is fed by snapshots and change events", dataset),
				 errdetail("Rebuild replays push and push_csv batches; replaying event streams is not supported yet."),
				 errhint("Load a fresh snapshot instead: it re-syncs the dataset.")));
	dp_load_lock(first, "ACCESS EXCLUSIVE");
	nbatches = dp_spi_exec_text("SELECT id, kind, source::text, received_at FROM dataplatform.batch "
								"WHERE dataset = $1 AND status = 'done' ORDER BY id", 1, args);
	ids = palloc(sizeof(int64) * Max(nbatches, 1));
	received = palloc(sizeof(Datum) * Max(nbatches, 1));
	kinds = palloc(sizeof(char *) * Max(nbatches, 1));
	sources = palloc(sizeof(char *) * Max(nbatches, 1));
	for (b = 0; b < nbatches; b++)
	{
		ids[b] = pg_strtoint64(dp_spi_getvalue(b, 1));
		kinds[b] = dp_spi_getvalue(b, 2);
		sources[b] = dp_spi_getvalue(b, 3);
		received[b] = SPI_getbinval(SPI_tuptable->vals[b], SPI_tuptable->tupdesc, 4, &isnull);
	}
	dp_spi_exec_text("DELETE FROM dataplatform.issue i USING dataplatform.batch b "
					 "WHERE b.id = i.batch_id AND b.dataset = $1", 1, args);
	dp_spi_exec_text("DELETE FROM dataplatform.quarantine_row q USING dataplatform.batch b "
					 "WHERE b.id = q.batch_id AND b.dataset = $1", 1, args);
	dp_spi_exec(psprintf("TRUNCATE %s, %s", dp_qualified_clean(first->spec, false),
						 dp_qualified_clean(first->spec, true)), 0, NULL, NULL, NULL);

	for (b = 0; b < nbatches; b++)
	{
		DpLoad	   *load = dp_replay_batch(dataset, ids[b], kinds[b], sources[b], received[b]);

		total_rows += load->rows_in;
		total_loaded += load->loaded;
		total_quarantined += load->quarantined;
		MemoryContextDelete(load->cxt);
	}
	report = psprintf("{\"dataset\": \"%s\", \"batches\": %llu, \"rows\": %lld, \"loaded\": %lld, "
					  "\"quarantined\": %lld, \"spec_version\": \"%d.%d\", \"config_version\": %d}",
					  dataset, (unsigned long long) nbatches, (long long) total_rows,
					  (long long) total_loaded, (long long) total_quarantined,
					  first->major, first->minor, first->config_version);
	dp_audit("rebuild", dataset, report);
	MemoryContextSwitchTo(result_cxt);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(report));
	SPI_finish();
	PG_RETURN_DATUM(result);
}

Datum
dp_purge_raw(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	Datum		older_than;
	uint64		n = 0;
	Oid			types[2] = {TEXTOID, INTERVALOID};
	Datum		values[2];

	dp_require_admin("purge raw data");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than must not be null")));
	older_than = PG_GETARG_DATUM(1);
	SPI_connect();
	values[0] = CStringGetTextDatum(dataset);
	values[1] = older_than;
	if (dp_spi_exec("SELECT 1 FROM dataplatform.datasets WHERE name = $1", 1, types, values, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", dataset)));
	PG_TRY();
	{
		dp_raw_purging = true;
		n = dp_spi_exec("DELETE FROM dp_raw.rows r USING dataplatform.batch b "
						"WHERE b.id = r.batch_id AND b.dataset = $1 "
						"AND b.received_at < pg_catalog.now() - $2",
						2, types, values, NULL);
	}
	PG_FINALLY();
	{
		dp_raw_purging = false;
	}
	PG_END_TRY();
	dp_spi_exec("UPDATE dataplatform.batch SET raw_purged_at = pg_catalog.now() "
				"WHERE dataset = $1 AND received_at < pg_catalog.now() - $2 AND raw_purged_at IS NULL",
				2, types, values, NULL);
	dp_audit("purge_raw", dataset,
			 psprintf("{\"older_than\": \"%s\", \"rows_deleted\": %llu}",
					  DatumGetCString(DirectFunctionCall1(interval_out, older_than)),
					  (unsigned long long) n));
	SPI_finish();
	PG_RETURN_INT64((int64) n);
}

/* Trigger on dp_raw.rows: UPDATE, DELETE and TRUNCATE only inside purge_raw. */
Datum
dp_raw_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("raw_guard must be called as a trigger")));
	if (dp_raw_purging && TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("the raw layer is append-only"),
			 errdetail("%s on %s is not allowed.",
					   TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? "UPDATE" :
					   TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "DELETE" : "TRUNCATE",
					   RelationGetRelationName(td->tg_relation)),
			 errhint("Old raw batches are removed with dataplatform.purge_raw(dataset, older_than), which is recorded.")));
	return PointerGetDatum(NULL);
}
