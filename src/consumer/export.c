/*
 * export.c
 *		dataplatform.export: a published view's rows as its caller sees them
 *		(read through dp_consumer.<view>, so PII columns are masked for
 *		callers without pii), in key order, as CSV with a header line, as
 *		one JSON object per line, or as a GeoJSON FeatureCollection (the
 *		view's first geometry column the geometry, the other columns the
 *		properties; PostGIS's ST_AsGeoJSON); read through a cursor, 10,000
 *		rows at a time, and audited.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"

#include "access.h"
#include "consumer.h"
#include "spatial.h"

PG_FUNCTION_INFO_V1(dp_export);

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
	bool		geojson = false;
	char	   *geom = NULL;
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
	else if (strcmp(format, "geojson") == 0)
		csv = false, geojson = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown export format \"%s\"", format),
				 errhint("Use \"csv\", \"json\" (one JSON object per line) or \"geojson\" (a FeatureCollection).")));

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

	if (geojson)
	{
		const char *nsp;

		if (!dp_spatial_available())
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot export view \"%s\" as GeoJSON: PostGIS is not installed", name),
					 errhint("Install the Debian package postgresql-15-postgis-3, then run CREATE EXTENSION postgis; in this database.")));
		nsp = dp_spatial_schema();
		/* the view's first geometry column */
		if (dp_spi_exec_text(psprintf("SELECT a.attname::text FROM pg_catalog.pg_attribute a "
									  "WHERE a.attrelid = ('dp_consumer.' || pg_catalog.quote_ident($1))::regclass "
									  "AND a.attnum > 0 AND NOT a.attisdropped "
									  "AND a.atttypid = '%s.geometry'::regtype ORDER BY a.attnum LIMIT 1", nsp),
							 1, args) > 0)
			geom = pstrdup(dp_spi_getvalue(0, 1));
		appendStringInfoString(&out, "{\"type\": \"FeatureCollection\", \"features\": [");
		plan = SPI_prepare(psprintf("SELECT pg_catalog.json_build_object('type', 'Feature', "
									"'geometry', %s, 'properties', pg_catalog.to_jsonb(v) - %s)::text "
									"FROM %s v ORDER BY %s",
									geom ? psprintf("%s.st_asgeojson(v.%s, 6)::json", nsp, quote_identifier(geom)) : "NULL",
									quote_literal_cstr(geom ? geom : ""),
									dp_view_facade_qualified(name), order), 0, NULL);
	}
	else if (csv)
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
			{
				if (geojson && rows + r > 0)
					appendStringInfoChar(&out, ',');
				appendStringInfoString(&out, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1));
			}
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
	if (geojson)
		appendStringInfoString(&out, "]}\n");
	dp_audit("export", name, psprintf("{\"format\": \"%s\", \"rows\": " INT64_FORMAT "}", format, rows));
	SPI_finish();
	result = cstring_to_text_with_len(out.data, out.len);
	PG_RETURN_TEXT_P(result);
}
