/*
 * write.c
 *		The writing side of a load: buffered valid rows into
 *		dp_clean.<dataset> (rows with new keys the way COPY writes them,
 *		through common/bulk.c; rows of a push whose key is stored found
 *		through the primary key and, when changed, updated in place with
 *		the replaced version moved to <dataset>_history, in C as well;
 *		snapshots and spatial datasets through one keyed upsert statement
 *		that does the same with watermarks), issues
 *		into dataplatform.issue and quarantined rows into
 *		dataplatform.quarantine_row (one statement over arrays each), a
 *		flush of up to DP_FLUSH_ROWS rows at a time; and the array helpers
 *		those statements (and raw landing) use.
 *
 * The seam: load.c and source.c fill the buffers of DpLoad (values,
 * slot_row and nslots; q_row, q_line and nquarantine; the transform's
 * issues) and call dp_load_flush_rows, dp_load_flush_issues or
 * dp_load_flush_quarantine when one is full; dp_load_finish and snapshots
 * (src/events/) call dp_load_flush for what is left.  Nothing here reads a
 * source or decides a row's fate, and a dry run writes nothing.
 *
 * Called connected to SPI, in the load's transaction, the clean table
 * locked by the caller (see load.c).  Memory: each flush works in a
 * short-lived context of its own; dp_load_flush_rows resets load->rows_cxt,
 * where the buffered values live.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/hsearch.h"
#include "utils/typcache.h"
#include "utils/memutils.h"

#include "bulk.h"
#include "change_feed.h"
#include "partition.h"
#include "pipeline.h"
#include "transform.h"
#include "util.h"
#include "spatial.h"

/* keys probed before the rest of a flush are taken to be new (dp_load_flush_rows) */
#define DP_PROBE_SAMPLE 64

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
 * changed them).  No ON CONFLICT is needed: the caller holds the dataset
 * lock, so nobody else writes it meanwhile.
 *
 * Version times: a replaced version is closed, and the new one starts, at
 * the batch's time (for a push, the clock under the dataset lock; for a
 * snapshot, its as_of), but never before the replaced version started:
 * _valid_from <= _valid_to always, and versions of a key follow each other
 * without overlap, so as_of finds at most one of them at any instant.
 *
 * Snapshots pass a watermark (the ordering key of their as_of time): an
 * entity whose watermark is newer is left as it is ("newer"), the others
 * take the snapshot's watermark, unchanged ones included.  Pushes pass NULL
 * and keep the watermark an entity has.
 *
 * Parameters: one text[] per field, the batch id, the version time, the
 * watermark, the rows' ordinals in the batch (int8[], lineage: _row).
 * Returns one row: added, changed, unchanged, newer.
 */
static void
build_upsert(DpLoad *load)
{
	const DpSpec *spec = load->spec;
	StringInfoData sql,
				cols,
				icols,
				ocols,
				icmp,
				ocmp,
				sets,
				keycond;
	int			i;
	int			pbatch = spec->nfields + 1;
	int			ptime = spec->nfields + 2;
	int			pwm = spec->nfields + 3;
	int			prow = spec->nfields + 4;

	initStringInfo(&sql);
	initStringInfo(&cols);
	initStringInfo(&icols);
	initStringInfo(&ocols);
	initStringInfo(&ocmp);
	initStringInfo(&icmp);
	initStringInfo(&sets);
	initStringInfo(&keycond);
	for (i = 0; i < spec->nfields; i++)
	{
		const char *c = quote_identifier(spec->fields[i].column);

		appendStringInfo(&cols, "%s%s", i ? ", " : "", c);
		appendStringInfo(&icols, "%sx.%s", i ? ", " : "", c);
		appendStringInfo(&ocols, "%s(x._old).%s", i ? ", " : "", c);
		/*
		 * compared as bytes: a geometry's "=" is in PostGIS's schema, off the
		 * pinned search_path (its cast to bytea, EWKB, is found by type)
		 */
		if (dp_datatype_is_spatial(spec->fields[i].datatype))
		{
			appendStringInfo(&ocmp, "%s(x._old).%s::pg_catalog.bytea", i ? ", " : "", c);
			appendStringInfo(&icmp, "%sx.%s::pg_catalog.bytea", i ? ", " : "", c);
		}
		else
		{
			appendStringInfo(&ocmp, "%s(x._old).%s", i ? ", " : "", c);
			appendStringInfo(&icmp, "%sx.%s", i ? ", " : "", c);
		}
		appendStringInfo(&sets, "%s = x.%s, ", c, c);
		if (spec->fields[i].is_key)
			appendStringInfo(&keycond, "%so.%s = i.%s", keycond.len ? " AND " : "", c, c);
	}

	appendStringInfoString(&sql, "WITH incoming AS MATERIALIZED (SELECT ");
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&sql, "%su.c%d::%s AS %s", i ? ", " : "", i,
						 dp_sqltype(spec->fields[i].datatype),
						 quote_identifier(spec->fields[i].column));
	appendStringInfoString(&sql, ", u._r");
	appendStringInfoString(&sql, " FROM ROWS FROM (");
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d::text[])", i ? ", " : "", i + 1);
	appendStringInfo(&sql, ", pg_catalog.unnest($%d::bigint[])) AS u(", prow);
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&sql, "%sc%d", i ? ", " : "", i);
	appendStringInfo(&sql,
					 ", _r)), x AS MATERIALIZED (SELECT i.*, p._old, p._tid FROM incoming i "
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
					 ocmp.data, icmp.data);
	appendStringInfo(&sql,
					 "moved AS (INSERT INTO %s (%s, _operation, _batch_id, _event_id, _valid_from, _valid_to, "
					 "_closed_by_batch, _watermark, _row) "
					 "SELECT %s, 'update', (x._old)._batch_id, (x._old)._event_id, (x._old)._updated_at, "
					 "GREATEST($%d, (x._old)._updated_at), $%d, (x._old)._watermark, (x._old)._row FROM changed x), ",
					 dp_qualified_clean(spec, true), cols.data, ocols.data, ptime, pbatch);
	appendStringInfo(&sql,
					 "updated AS (UPDATE %s o SET %s_batch_id = $%d, _event_id = NULL, "
					 "_updated_at = GREATEST($%d, o._updated_at), "
					 "_watermark = COALESCE($%d, o._watermark), _row = x._r FROM changed x WHERE o.ctid = x._tid "
					 "RETURNING o.ctid AS t), ",
					 dp_qualified_clean(spec, false), sets.data, pbatch, ptime, pwm);
	appendStringInfo(&sql,
					 "touched AS (UPDATE %s o SET _watermark = $%d FROM keep x WHERE $%d IS NOT NULL "
					 "AND o.ctid = x._tid AND (%s) IS NOT DISTINCT FROM (%s) "
					 "AND (o._watermark IS NULL OR o._watermark < $%d) RETURNING o.ctid AS t), ",
					 dp_qualified_clean(spec, false), pwm, pwm, ocmp.data, icmp.data, pwm);
	appendStringInfo(&sql,
					 "added AS (INSERT INTO %s (%s, _batch_id, _updated_at, _watermark, _row) "
					 "SELECT %s, $%d, $%d, $%d, x._r FROM keep x WHERE x._tid IS NULL RETURNING ctid AS t) ",
					 dp_qualified_clean(spec, false), cols.data, icols.data, pbatch, ptime, pwm);
	appendStringInfoString(&sql,
						   "SELECT (SELECT count(*) FROM added), (SELECT count(*) FROM changed), "
						   "(SELECT count(*) FROM keep WHERE _tid IS NOT NULL) - (SELECT count(*) FROM changed), "
						   "(SELECT count(*) FROM x) - (SELECT count(*) FROM keep), "
						   /* where the row versions written stand, for the change feed */
						   "ARRAY(SELECT t FROM updated UNION ALL SELECT t FROM touched "
						   "UNION ALL SELECT t FROM added)");

	load->upsert_sql = sql.data;
	load->upsert_types = palloc(sizeof(Oid) * (spec->nfields + 4));
	for (i = 0; i < spec->nfields; i++)
		load->upsert_types[i] = TEXTARRAYOID;
	load->upsert_types[spec->nfields] = INT8OID;
	load->upsert_types[spec->nfields + 1] = TIMESTAMPTZOID;
	load->upsert_types[spec->nfields + 2] = TEXTOID;
	load->upsert_types[spec->nfields + 3] = INT8ARRAYOID;
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
 * key index and sees this batch's earlier flushes.  taken (not NULL): the
 * rows were not probed; one whose key turns out to be stored is taken back
 * (bulk.c) and its slot returned in *taken, for the upsert.
 */
static void
insert_new_rows(DpLoad *load, const int *slots, const TimestampTz *times, int n,
				int **taken, int *ntaken)
{
	const DpSpec *spec = load->spec;
	int			nf = spec->nfields;
	DpBulk	   *b = dp_bulk_begin("dp_clean", spec->table);
	AttrNumber *atts = palloc(sizeof(AttrNumber) * nf);
	AttrNumber	a_batch = dp_bulk_attnum(b, "_batch_id");
	AttrNumber	a_updated = dp_bulk_attnum(b, "_updated_at");
	AttrNumber	a_watermark = dp_bulk_attnum(b, "_watermark");
	AttrNumber	a_row = dp_bulk_attnum(b, "_row");
	Datum		watermark = load->watermark ? CStringGetTextDatum(load->watermark) : (Datum) 0;

	dp_bulk_feed(b, load->dataset, load->batch_id);
	for (int i = 0; i < nf; i++)
		atts[i] = dp_bulk_attnum(b, spec->fields[i].column);
	if (taken)
		dp_bulk_take_back(b);
	for (int k = 0; k < n; k++)
	{
		char	  **v = load->values + (Size) slots[k] * nf;

		(void) dp_bulk_slot(b);
		if (taken)
			dp_bulk_tag(b, slots[k]);
		for (int i = 0; i < nf; i++)
			dp_bulk_set_text(b, atts[i], v[i]);
		dp_bulk_set_datum(b, a_batch, Int64GetDatum(load->batch_id));
		dp_bulk_set_datum(b, a_updated, times ? TimestampTzGetDatum(times[k]) : load->received_at);
		if (load->watermark)
			dp_bulk_set_datum(b, a_watermark, watermark);
		dp_bulk_set_datum(b, a_row, Int64GetDatum(load->slot_row[slots[k]]));
		dp_bulk_store(b);
	}
	if (taken)
		load->n_added += dp_bulk_end_taken_back(b, taken, ntaken);
	else
		load->n_added += dp_bulk_end(b);
}

static void
upsert_rows(DpLoad *load, const int *slots, int n)
{
	int			nf = load->spec->nfields;
	char	  **vals = palloc(sizeof(char *) * nf * Max(n, 1));
	int64	   *rows = palloc(sizeof(int64) * Max(n, 1));
	Datum	   *values;

	if (load->upsert_sql == NULL)
	{
		MemoryContext o2 = MemoryContextSwitchTo(load->cxt);

		build_upsert(load);
		MemoryContextSwitchTo(o2);
	}
	for (int k = 0; k < n; k++)
	{
		memcpy(vals + (Size) k * nf, load->values + (Size) slots[k] * nf, sizeof(char *) * nf);
		rows[k] = load->slot_row[slots[k]];
	}
	values = palloc(sizeof(Datum) * (nf + 4));
	for (int i = 0; i < nf; i++)
		values[i] = dp_text_array(vals + i, n, nf);
	values[nf] = Int64GetDatum(load->batch_id);
	values[nf + 1] = load->received_at;
	values[nf + 2] = load->watermark ? CStringGetTextDatum(load->watermark) : (Datum) 0;
	values[nf + 3] = dp_int8_array(rows, n);
	/* the partition of _history the replaced versions go to */
	dp_partition_ensure("dp_clean", psprintf("%s_history", load->spec->table), load->batch_id);
	dp_spi_exec(load->upsert_sql, nf + 4, load->upsert_types, values,
				load->watermark ? NULL : psprintf("%*s%s ", nf + 2, "", "n"));
	load->n_added += pg_strtoint64(dp_spi_getvalue(0, 1));
	load->n_changed += pg_strtoint64(dp_spi_getvalue(0, 2));
	load->n_unchanged += pg_strtoint64(dp_spi_getvalue(0, 3));
	load->n_newer += pg_strtoint64(dp_spi_getvalue(0, 4));
	{
		bool		isnull;
		Datum		tids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull);

		dp_change_feed_write_array(load->dataset, load->batch_id,
								   isnull ? (Datum) 0 : PointerGetDatum(DatumGetArrayTypePCopy(tids)), isnull);
	}
}

DpBulk *
dp_load_history_begin(const DpSpec *spec, int64 batch_id, DpHistoryAtts *a)
{
	char	   *history = psprintf("%s_history", spec->table);
	DpBulk	   *b;

	/* the partition of the batch, which closes every version of the call */
	b = dp_bulk_begin("dp_clean", dp_partition_for("dp_clean", history, batch_id));

	a->fields = palloc(sizeof(AttrNumber) * spec->nfields);
	for (int i = 0; i < spec->nfields; i++)
		a->fields[i] = dp_bulk_attnum(b, spec->fields[i].column);
	a->operation = dp_bulk_attnum(b, "_operation");
	a->batch_id = dp_bulk_attnum(b, "_batch_id");
	a->event_id = dp_bulk_attnum(b, "_event_id");
	a->valid_from = dp_bulk_attnum(b, "_valid_from");
	a->valid_to = dp_bulk_attnum(b, "_valid_to");
	a->closed_by_batch = dp_bulk_attnum(b, "_closed_by_batch");
	a->closed_by_event = dp_bulk_attnum(b, "_closed_by_event");
	a->watermark = dp_bulk_attnum(b, "_watermark");
	a->row = dp_bulk_attnum(b, "_row");
	dp_bulk_default(b, dp_bulk_attnum(b, "_history_id"));
	dp_bulk_default(b, dp_bulk_attnum(b, "_recorded_at"));
	return b;
}

void
dp_load_record_removed(const DpSpec *spec, char **keys, int n)
{
	const DpField *f = &spec->fields[spec->key[0]];
	Oid			type = TEXTARRAYOID;
	Datum		arr;

	if (n == 0)
		return;
	if (spec->nkey != 1)
		elog(ERROR, "dataset \"%s\" has more than one key field", spec->dataset);
	arr = dp_text_array(keys, n, 1);
	dp_spi_exec(psprintf("INSERT INTO dp_clean.%s (%s) SELECT DISTINCT k::%s FROM pg_catalog.unnest($1) k "
						 "ON CONFLICT DO NOTHING",
						 quote_identifier(psprintf("%s_removed", spec->table)),
						 quote_identifier(f->column), dp_sqltype(f->datatype)),
				1, &type, &arr, NULL);
}

DpProbe *
dp_load_removed_begin(const DpSpec *spec)
{
	char	   *removed = psprintf("%s_removed", spec->table);

	if (!OidIsValid(get_relname_relid(removed, get_namespace_oid("dp_clean", false))))
		return NULL;
	return dp_probe_begin("dp_clean", removed);
}

bool
dp_load_was_removed(DpProbe *fp, const Datum *key)
{
	return fp == NULL || dp_probe_exists(fp, key);
}

/*
 * The field of each key column of a probe of the clean table's primary
 * key, in the key's order (*nkeys of them; palloc'd).
 */
static int *
key_fields(DpLoad *load, DpProbe *p, int *nkeys)
{
	const DpSpec *spec = load->spec;
	int		   *key_field;

	*nkeys = dp_probe_nkeys(p);
	key_field = palloc(sizeof(int) * *nkeys);
	for (int k = 0; k < *nkeys; k++)
	{
		const char *col = dp_probe_key_column(p, k);

		key_field[k] = -1;
		for (int f = 0; f < spec->nfields; f++)
			if (strcmp(spec->fields[f].column, col) == 0)
				key_field[k] = f;
		if (key_field[k] < 0)
			elog(ERROR, "key column \"%s\" of dataset \"%s\" is not a field", col, load->dataset);
	}
	return key_field;
}

/*
 * Copy a column of the row a probe holds into the row being filled (NULL
 * stays unset): the value copied into CurrentMemoryContext, which outlives
 * both.  typlen and typbyval per attribute of the (same) table.
 */
static void
copy_probed(DpProbe *p, DpBulk *b, AttrNumber from, AttrNumber to, const int16 *typlen,
			const bool *typbyval)
{
	bool		isnull;
	Datum		d = dp_probe_datum(p, from, &isnull);

	if (!isnull)
		dp_bulk_set_datum(b, to, datumCopy(d, typbyval[from - 1], typlen[from - 1]));
}

/*
 * Rows of a push whose key may be stored, written without SQL: each key is
 * found through the primary key; a stored row whose values all equal the
 * new ones (each type's equality, as IS DISTINCT FROM compares) is left
 * alone; a changed one moves its version to _history (closed by this
 * batch) and is updated in place (bulk.c), as the upsert statement does
 * for a push (build_upsert: no watermark).  Keys not stored after all are
 * inserted as new.  Returns false, having written nothing, where the
 * statement is needed: snapshots (watermarks), spatial fields (compared as
 * EWKB), a type without an equality.
 */
static bool
update_stored_rows(DpLoad *load, const int *slots, int n)
{
	const DpSpec *spec = load->spec;
	int			nf = spec->nfields;
	DpProbe    *p;
	DpBulk	   *cur,
			   *hist = NULL;
	int			nkeys;
	int		   *key_field;
	Datum	   *key;
	AttrNumber *atts;
	AttrNumber	a_batch,
				a_event,
				a_watermark,
				a_updated,
				a_row;
	DpHistoryAtts h;
	FmgrInfo   *eq;
	Oid		   *coll;
	bool	   *unchanged;
	int16	   *typlen;
	bool	   *typbyval;
	Datum	   *newv;
	bool	   *newnull;
	int		   *fresh;
	int			nfresh = 0;
	TimestampTz time = DatumGetTimestampTz(load->received_at);

	if (load->watermark != NULL || load->snapshot)
		return false;
	for (int i = 0; i < nf; i++)
		if (dp_datatype_is_spatial(spec->fields[i].datatype))
			return false;

	p = dp_probe_begin("dp_clean", spec->table);
	eq = palloc(sizeof(FmgrInfo) * nf);
	coll = palloc(sizeof(Oid) * nf);
	atts = palloc(sizeof(AttrNumber) * nf);
	for (int i = 0; i < nf; i++)
	{
		Oid			type;
		TypeCacheEntry *tc;

		atts[i] = dp_probe_attnum(p, spec->fields[i].column);
		type = dp_probe_atttype(p, atts[i]);
		tc = lookup_type_cache(type, TYPECACHE_EQ_OPR_FINFO);
		if (!OidIsValid(tc->eq_opr_finfo.fn_oid))
		{
			dp_probe_end(p);
			return false;
		}
		fmgr_info_copy(&eq[i], &tc->eq_opr_finfo, CurrentMemoryContext);
		coll[i] = get_typcollation(type) != InvalidOid ? DEFAULT_COLLATION_OID : InvalidOid;
	}
	key_field = key_fields(load, p, &nkeys);
	key = palloc(sizeof(Datum) * nkeys);

	cur = dp_bulk_begin("dp_clean", spec->table);
	dp_bulk_feed(cur, load->dataset, load->batch_id);
	a_batch = dp_bulk_attnum(cur, "_batch_id");
	a_event = dp_bulk_attnum(cur, "_event_id");
	a_watermark = dp_bulk_attnum(cur, "_watermark");
	a_updated = dp_bulk_attnum(cur, "_updated_at");
	a_row = dp_bulk_attnum(cur, "_row");
	unchanged = palloc(sizeof(bool) * dp_bulk_natts(cur));
	typlen = palloc(sizeof(int16) * dp_bulk_natts(cur));
	typbyval = palloc(sizeof(bool) * dp_bulk_natts(cur));
	{
		AttrNumber	copied[4] = {a_batch, a_event, a_watermark, a_row};

		for (int i = 0; i < nf; i++)
			get_typlenbyval(dp_probe_atttype(p, atts[i]), &typlen[atts[i] - 1], &typbyval[atts[i] - 1]);
		for (int i = 0; i < 4; i++)
			get_typlenbyval(dp_probe_atttype(p, copied[i]), &typlen[copied[i] - 1], &typbyval[copied[i] - 1]);
	}
	newv = palloc(sizeof(Datum) * nf);
	newnull = palloc(sizeof(bool) * nf);
	fresh = palloc(sizeof(int) * n);

	for (int k = 0; k < n; k++)
	{
		char	  **v = load->values + (Size) slots[k] * nf;
		TupleTableSlot *old;
		bool		changed = false;
		ItemPointerData tid;
		bool		isnull;
		Datum		old_updated;
		TimestampTz since;

		for (int i = 0; i < nkeys; i++)
			key[i] = dp_probe_input(p, i, v[key_field[i]]);
		old = dp_probe_fetch(p, key);
		if (old == NULL)
		{
			fresh[nfresh++] = slots[k];
			continue;
		}
		memset(unchanged, 0, sizeof(bool) * dp_bulk_natts(cur));
		for (int i = 0; i < nf; i++)
		{
			Datum		o = dp_probe_datum(p, atts[i], &isnull);

			newnull[i] = v[i] == NULL;
			newv[i] = newnull[i] ? (Datum) 0 : dp_bulk_input(cur, atts[i], v[i]);
			if (isnull || newnull[i])
				unchanged[atts[i] - 1] = isnull && newnull[i];
			else
				unchanged[atts[i] - 1] =
					DatumGetBool(FunctionCall2Coll(&eq[i], coll[i], o, newv[i]));
			changed |= !unchanged[atts[i] - 1];
		}
		if (!changed)
		{
			load->n_unchanged++;
			continue;
		}

		/* the stored version goes to _history, closed by this batch */
		if (hist == NULL)
			hist = dp_load_history_begin(spec, load->batch_id, &h);
		(void) dp_bulk_slot(hist);
		for (int i = 0; i < nf; i++)
			copy_probed(p, hist, atts[i], h.fields[i], typlen, typbyval);
		dp_bulk_set_datum(hist, h.operation, CStringGetTextDatum("update"));
		copy_probed(p, hist, a_batch, h.batch_id, typlen, typbyval);
		copy_probed(p, hist, a_event, h.event_id, typlen, typbyval);
		old_updated = dp_probe_datum(p, a_updated, &isnull);
		since = DatumGetTimestampTz(old_updated);
		dp_bulk_set_datum(hist, h.valid_from, old_updated);
		dp_bulk_set_datum(hist, h.valid_to, TimestampTzGetDatum(Max(time, since)));
		dp_bulk_set_datum(hist, h.closed_by_batch, Int64GetDatum(load->batch_id));
		copy_probed(p, hist, a_watermark, h.watermark, typlen, typbyval);
		copy_probed(p, hist, a_row, h.row, typlen, typbyval);
		dp_bulk_store(hist);

		/* the new version in its place */
		tid = old->tts_tid;
		(void) dp_bulk_slot(cur);
		for (int i = 0; i < nf; i++)
			if (!newnull[i])
				dp_bulk_set_datum(cur, atts[i], newv[i]);
		dp_bulk_set_datum(cur, a_batch, Int64GetDatum(load->batch_id));
		dp_bulk_set_datum(cur, a_updated, TimestampTzGetDatum(Max(time, since)));
		copy_probed(p, cur, a_watermark, a_watermark, typlen, typbyval);
		dp_bulk_set_datum(cur, a_row, Int64GetDatum(load->slot_row[slots[k]]));
		dp_bulk_update(cur, &tid, unchanged);
		load->n_changed++;
	}
	dp_probe_end(p);
	if (hist)
		(void) dp_bulk_end(hist);
	(void) dp_bulk_end(cur);
	if (nfresh > 0)
		insert_new_rows(load, fresh, NULL, nfresh, NULL, NULL);
	return true;
}

/*
 * Snapshots: a key with no current row may have had one (a delete or a
 * resync left its last version in _history).  Walks the key's versions
 * through _history's key index (hp: a probe on the first key column; the
 * other key columns compared here): when the last version removed the
 * entity with a watermark newer than the snapshot's (when ordered by
 * time: a sequence orders events only), the row must not bring it back
 * (false); otherwise *time is when the new version starts:
 * the snapshot's time, or when the key's last version ended if later.
 */
static bool
fresh_key_allowed(DpLoad *load, DpProbe *hp, const AttrNumber *hkey, const int16 *typlen,
				  const bool *typbyval, int nkeys, const Datum *key, TimestampTz *time)
{
	AttrNumber	a_id = dp_probe_attnum(hp, "_history_id"),
				a_op = dp_probe_attnum(hp, "_operation"),
				a_wm = dp_probe_attnum(hp, "_watermark"),
				a_to = dp_probe_attnum(hp, "_valid_to");
	int64		latest = -1;
	bool		removed = false;
	char	   *watermark = NULL;
	TupleTableSlot *slot;

	*time = DatumGetTimestampTz(load->received_at);
	for (slot = dp_probe_fetch(hp, key); slot; slot = dp_probe_next(hp))
	{
		bool		isnull;
		bool		same = true;
		int64		id;
		Datum		to;

		for (int i = 1; i < nkeys && same; i++)
		{
			Datum		d = dp_probe_datum(hp, hkey[i], &isnull);

			same = !isnull && datumIsEqual(d, key[i], typbyval[i], typlen[i]);
		}
		if (!same)
			continue;
		to = dp_probe_datum(hp, a_to, &isnull);
		if (!isnull && DatumGetTimestampTz(to) > *time)
			*time = DatumGetTimestampTz(to);
		id = DatumGetInt64(dp_probe_datum(hp, a_id, &isnull));
		if (id > latest)
		{
			char	   *op = dp_probe_text(hp, a_op);

			latest = id;
			removed = strcmp(op, "delete") == 0 || strcmp(op, "resync") == 0;
			watermark = dp_probe_text(hp, a_wm);
		}
	}
	return !(removed && watermark != NULL && load->watermark != NULL &&
			 strcmp(watermark, load->watermark) > 0);
}

void
dp_load_flush_rows(DpLoad *load)
{
	const DpSpec *spec = load->spec;
	int			nf = spec->nfields;
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
	TimestampTz *times = NULL;
	DpProbe    *fp = NULL;
	DpProbe    *hp = NULL;
	AttrNumber *hkey = NULL;
	int16	   *typlen = NULL;
	bool	   *typbyval = NULL;
	bool		optimistic = false;

	dp_contract_close(load);
	if (load->nslots == 0 || load->dry_run)
		return;
	flush_cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform flush", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(flush_cxt);

	/* which keys are stored already: one primary key probe each */
	probe = dp_probe_begin("dp_clean", spec->table);
	key_field = key_fields(load, probe, &nkeys);
	key = palloc(sizeof(Datum) * nkeys);
	fresh = palloc(sizeof(int) * load->nslots);
	stored = palloc(sizeof(int) * load->nslots);
	if (load->snapshot)
	{
		/*
		 * snapshots: keys with no current row that were ever removed are
		 * looked up in _history (walked, every partition, on the first)
		 */
		fp = dp_load_removed_begin(spec);
		times = palloc(sizeof(TimestampTz) * load->nslots);
		hkey = palloc(sizeof(AttrNumber) * nkeys);
		typlen = palloc(sizeof(int16) * nkeys);
		typbyval = palloc(sizeof(bool) * nkeys);
	}
	for (int s = 0; s < load->nslots; s++)
	{
		char	  **v = load->values + (Size) s * nf;
		bool		known = true;

		/*
		 * Pushes (not snapshots, whose new keys are looked up in history):
		 * the first DP_PROBE_SAMPLE keys are probed; when none of them is
		 * stored, the rest are taken to be new: stored without a probe, the
		 * insertion's own uniqueness check finding any that is not (see
		 * insert_new_rows).  When all of them are stored, every row goes to
		 * the upsert, which probes each key itself and inserts the new ones.
		 */
		if (s == DP_PROBE_SAMPLE && !load->snapshot && nstored == 0)
		{
			for (int r = s; r < load->nslots; r++)
				fresh[nfresh++] = r;
			optimistic = true;
			break;
		}
		if (s == DP_PROBE_SAMPLE && !load->snapshot && nstored == s)
		{
			for (int r = s; r < load->nslots; r++)
				stored[nstored++] = r;
			break;
		}

		for (int i = 0; i < nkeys && known; i++)
		{
			if (v[key_field[i]] == NULL)
				known = false;
			else
				key[i] = dp_probe_input(probe, i, v[key_field[i]]);
		}
		if (known && dp_probe_exists(probe, key))
			stored[nstored++] = s;
		else if (!known || !load->snapshot || !dp_load_was_removed(fp, key))
		{
			if (times)
				times[nfresh] = DatumGetTimestampTz(load->received_at);
			fresh[nfresh++] = s;
		}
		else
		{
			/* the first removed key opens the walk of _history's partitions */
			if (hp == NULL)
			{
				hp = dp_probe_begin_on("dp_clean", psprintf("%s_history", spec->table),
									   dp_probe_key_column(probe, 0));
				for (int i = 0; i < nkeys; i++)
				{
					hkey[i] = dp_probe_attnum(hp, dp_probe_key_column(probe, i));
					get_typlenbyval(dp_probe_atttype(hp, hkey[i]), &typlen[i], &typbyval[i]);
				}
			}
			if (fresh_key_allowed(load, hp, hkey, typlen, typbyval, nkeys, key, &times[nfresh]))
				fresh[nfresh++] = s;
			else
				load->n_newer++;	/* removed later than the snapshot's time */
		}
	}
	dp_probe_end(probe);
	if (fp)
		dp_probe_end(fp);
	if (hp)
		dp_probe_end(hp);

	if (optimistic)
	{
		int		   *taken;
		int			ntaken;

		insert_new_rows(load, fresh, times, nfresh, &taken, &ntaken);
		if (ntaken > 0 && !update_stored_rows(load, taken, ntaken))
			upsert_rows(load, taken, ntaken);
	}
	else
	{
		if (nstored > 0 && !update_stored_rows(load, stored, nstored))
			upsert_rows(load, stored, nstored);
		if (nfresh > 0)
			insert_new_rows(load, fresh, times, nfresh, NULL, NULL);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(flush_cxt);

	/*
	 * the keys stay known (for duplicate warnings) but their slots are gone:
	 * a new generation, not a walk over every key of the batch per flush
	 */
	load->flush_gen++;
	load->nslots = 0;
	MemoryContextReset(load->rows_cxt);
}

void
dp_load_flush_issues(DpLoad *load)
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
	dp_partition_ensure("dataplatform", "issue", load->batch_id);
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

void
dp_load_flush_quarantine(DpLoad *load)
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
	dp_load_flush_rows(load);
	dp_load_flush_issues(load);
	dp_load_flush_quarantine(load);
}
