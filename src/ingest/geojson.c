/*
 * geojson.c
 *		GeoJSON in: a FeatureCollection (or one Feature) becomes push rows,
 *		one per feature: its properties as fields and its geometry (the JSON
 *		object as sent, with the collection's legacy "crs" member copied in
 *		so its SRID is kept) as the value of the spec's geometry field (the
 *		first multipolygon field, else the first point field).  push_geojson
 *		and collection endpoints of format geojson load through dp_push_rows,
 *		so raw holds those rows and rebuild replays them.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/jsonb.h"

#include "pipeline.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_push_geojson);

/*
 * The spec's field that takes a feature's geometry; opening a (dry) load
 * first checks that the caller may push to the dataset at all.
 */
static const DpField *
geometry_field(const char *dataset)
{
	const DpSpec *spec = dp_load_open(dataset, true, NULL)->spec;
	int			i;

	for (i = 0; i < spec->nfields; i++)
		if (spec->fields[i].datatype == DP_DT_MULTIPOLYGON)
			return &spec->fields[i];
	for (i = 0; i < spec->nfields; i++)
		if (spec->fields[i].datatype == DP_DT_POINT)
			return &spec->fields[i];
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("dataset \"%s\" has no multipolygon or point field for the GeoJSON geometry",
					dataset),
			 errhint("Add a field of datatype multipolygon or point to the specification, or push the properties with push().")));
	return NULL;
}

/*
 * The push rows of a GeoJSON document, in CurrentMemoryContext.  The caller
 * is connected to SPI.
 */
static Jsonb *
geojson_rows(const char *dataset, Jsonb *doc)
{
	const DpField *f = geometry_field(dataset);
	Datum		values[2];
	Oid			types[2] = {JSONBOID, TEXTOID};
	bool		isnull;
	const char *type;

	values[0] = JsonbPGetDatum(doc);
	values[1] = CStringGetTextDatum(f->name);
	dp_spi_exec("SELECT $1 ->> 'type', jsonb_typeof($1 -> 'features')", 2, types, values, NULL);
	type = dp_spi_getvalue(0, 1);
	if (type == NULL || (strcmp(type, "FeatureCollection") != 0 && strcmp(type, "Feature") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("GeoJSON pushed to dataset \"%s\" is not a FeatureCollection or a Feature",
						dataset),
				 errdetail("Its \"type\" is %s.", type ? quote_literal_cstr(type) : "missing"),
				 errhint("Push {\"type\": \"FeatureCollection\", \"features\": [...]}.")));
	if (strcmp(type, "FeatureCollection") == 0 &&
		(dp_spi_getvalue(0, 2) == NULL || strcmp(dp_spi_getvalue(0, 2), "array") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("GeoJSON FeatureCollection pushed to dataset \"%s\" has no \"features\" array",
						dataset)));
	dp_spi_exec("SELECT COALESCE(pg_catalog.jsonb_agg("
				"  CASE WHEN pg_catalog.jsonb_typeof(ft -> 'properties') = 'object'"
				"       THEN ft -> 'properties' ELSE '{}'::jsonb END"
				"  || pg_catalog.jsonb_build_object($2::text,"
				"       CASE WHEN pg_catalog.jsonb_typeof(ft -> 'geometry') = 'object'"
				"                 AND $1 ? 'crs' AND NOT (ft -> 'geometry') ? 'crs'"
				"            THEN (ft -> 'geometry') || pg_catalog.jsonb_build_object('crs', $1 -> 'crs')"
				"            ELSE ft -> 'geometry' END)"
				"  ORDER BY n), '[]'::jsonb)"
				"  FROM pg_catalog.jsonb_array_elements(CASE WHEN $1 ->> 'type' = 'Feature'"
				"       THEN pg_catalog.jsonb_build_array($1) ELSE $1 -> 'features' END)"
				"       WITH ORDINALITY AS e(ft, n)",
				2, types, values, NULL);
	return DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											&isnull));
}

int64
dp_push_geojson_doc(const char *dataset, Jsonb *doc, const DpLoadOptions *opts)
{
	MemoryContext cxt = CurrentMemoryContext;
	Jsonb	   *rows;

	SPI_connect();
	rows = geojson_rows(dataset, doc);
	/* out of SPI's context before it goes */
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		Jsonb	   *copy = palloc(VARSIZE(rows));

		memcpy(copy, rows, VARSIZE(rows));
		rows = copy;
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return dp_push_rows(dataset, rows, opts);
}

/*
 * push_geojson(dataset text, doc jsonb) RETURNS bigint
 *		push's sibling for a GeoJSON FeatureCollection.
 */
Datum
dp_push_geojson(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("GeoJSON pushed to dataset \"%s\" must not be null", dataset)));
	PG_RETURN_INT64(dp_push_geojson_doc(dataset, PG_GETARG_JSONB_P(1), NULL));
}
