/*
 * history.c
 *		Read-only history queries over a dataset's current and _history
 *		tables: as_of (the state at a time), entity_history (every version
 *		of one entity) and resync_report (what a snapshot batch did).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"

#include "events.h"
#include "util.h"
#include "spatial.h"

PG_FUNCTION_INFO_V1(dp_as_of);
PG_FUNCTION_INFO_V1(dp_entity_history);
PG_FUNCTION_INFO_V1(dp_resync_report);

/* ------------------------------------------------------------------------
 * History queries
 * ------------------------------------------------------------------------
 */

/* SQL for a row's fields as a JSON object keyed by field name. */
static char *
fields_json(const DpSpec *spec, const char *alias)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "pg_catalog.jsonb_build_object(");
	for (i = 0; i < spec->nfields; i++)
		appendStringInfo(&buf, "%s%s, %s.%s", i ? ", " : "",
						 quote_literal_cstr(spec->fields[i].name), alias,
						 quote_identifier(spec->fields[i].column));
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* Run a query returning one jsonb column into the SRF's tuplestore. */
static void
jsonb_rows_out(FunctionCallInfo fcinfo, const char *sql, int nargs, Oid *types, Datum *values)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		rows,
				r;

	rows = dp_spi_exec(sql, nargs, types, values, NULL);
	for (r = 0; r < rows; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &d, &isnull);
	}
}

Datum
dp_as_of(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	DpSpec	   *spec;
	StringInfoData sql;
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	char	   *keys;
	int			i;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("at must not be null")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	spec = dp_spec_of(dataset);	/* admins only (checked by GRANT) */
	initStringInfo(&sql);
	{
		StringInfoData k;

		initStringInfo(&k);
		for (i = 0; i < spec->nkey; i++)
			appendStringInfo(&k, "%ss.%s", i ? ", " : "", quote_identifier(spec->fields[spec->key[i]].column));
		keys = k.data;
	}
	/* current versions written by then, plus closed versions valid then */
	appendStringInfoString(&sql, "SELECT j FROM (SELECT ");
	appendStringInfo(&sql, "%s AS j, %s FROM %s s WHERE s._updated_at <= $1 ",
					 fields_json(spec, "s"), keys, dp_qualified_clean(spec, false));
	appendStringInfo(&sql, "UNION ALL SELECT %s, %s FROM %s s WHERE s._valid_from <= $1 AND $1 < s._valid_to",
					 fields_json(spec, "s"), keys, dp_qualified_clean(spec, true));
	appendStringInfoString(&sql, ") v ORDER BY ");
	for (i = 0; i < spec->nkey; i++)
		appendStringInfo(&sql, "%s%s", i ? ", " : "", quote_identifier(spec->fields[spec->key[i]].column));
	values[0] = PG_GETARG_DATUM(1);
	jsonb_rows_out(fcinfo, sql.data, 1, types, values);
	SPI_finish();
	return (Datum) 0;
}

Datum
dp_entity_history(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	Jsonb	   *key;
	DpSpec	   *spec;
	StringInfoData sql,
				cond;
	Oid			types[1] = {JSONBOID};
	Datum		values[1];
	int			i;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key must not be null")));
	key = PG_GETARG_JSONB_P(1);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	SPI_connect();
	spec = dp_spec_of(dataset);	/* admins only (checked by GRANT) */
	/* a scalar names a single-field key; an object names each key field */
	if (JB_ROOT_IS_SCALAR(key) && spec->nkey != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dataset \"%s\" has the key %s: give the key as an object", dataset,
						dp_spec_key_text(spec))));
	if (!JB_ROOT_IS_SCALAR(key) && !JB_ROOT_IS_OBJECT(key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key for dataset \"%s\" must be a JSON scalar or object", dataset)));
	initStringInfo(&cond);
	for (i = 0; i < spec->nkey; i++)
	{
		const DpField *f = &spec->fields[spec->key[i]];

		if (JB_ROOT_IS_SCALAR(key))
			appendStringInfo(&cond, "s.%s = ($1 #>> '{}')::%s", quote_identifier(f->column),
							 dp_sqltype(f->datatype));
		else
			appendStringInfo(&cond, "%ss.%s = ($1 ->> %s)::%s", i ? " AND " : "",
							 quote_identifier(f->column), quote_literal_cstr(f->name),
							 dp_sqltype(f->datatype));
	}
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT pg_catalog.jsonb_build_object('valid_from', v.f, 'valid_to', v.t, "
					 "'operation', v.o, 'batch_id', v.b, 'event_id', v.e, 'closed_by_batch', v.cb, "
					 "'closed_by_event', v.ce, 'data', v.d) FROM ("
					 "SELECT s._valid_from AS f, s._valid_to AS t, s._operation AS o, s._batch_id AS b, "
					 "s._event_id AS e, s._closed_by_batch AS cb, s._closed_by_event AS ce, %s AS d, "
					 "s._history_id AS n FROM %s s WHERE %s "
					 "UNION ALL SELECT s._updated_at, NULL, 'current', s._batch_id, s._event_id, NULL, NULL, %s, "
					 "NULL FROM %s s WHERE %s) v ORDER BY v.f, v.n NULLS LAST",
					 fields_json(spec, "s"), dp_qualified_clean(spec, true), cond.data,
					 fields_json(spec, "s"), dp_qualified_clean(spec, false), cond.data);
	values[0] = JsonbPGetDatum(key);
	jsonb_rows_out(fcinfo, sql.data, 1, types, values);
	SPI_finish();
	return (Datum) 0;
}

Datum
dp_resync_report(PG_FUNCTION_ARGS)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	Datum		d;
	Jsonb	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch must not be null")));
	values[0] = PG_GETARG_DATUM(0);
	SPI_connect();
	if (dp_spi_exec("SELECT kind, pg_catalog.jsonb_build_object('batch_id', id, 'dataset', dataset) || "
					"COALESCE(result, '{}') FROM dataplatform.batch WHERE id = $1",
					1, types, values, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("batch %lld does not exist", (long long) PG_GETARG_INT64(0))));
	if (strcmp(dp_spi_getvalue(0, 1), "snapshot") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch %lld is not a snapshot", (long long) PG_GETARG_INT64(0)),
				 errdetail("It is a %s batch.", dp_spi_getvalue(0, 1))));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	MemoryContextSwitchTo(result_cxt);
	result = DatumGetJsonbPCopy(d);
	SPI_finish();
	PG_RETURN_JSONB_P(result);
}
