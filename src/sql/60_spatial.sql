-- Spatial data (issue 12): GeoJSON in.  The datatypes multipolygon and point
-- need PostGIS in the database (never required by this extension: its
-- functions are found at run time); see docs/datatypes.md.

CREATE FUNCTION @extschema@.push_geojson(dataset text, doc jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_push_geojson'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.push_geojson(text, jsonb) IS
'push a GeoJSON FeatureCollection (or one Feature) into a dataset: properties become fields, the geometry the first multipolygon (else point) field; returns the batch id';
REVOKE ALL ON FUNCTION @extschema@.push_geojson(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.push_geojson(text, jsonb) TO dataplatform_producer, dataplatform_admin;
