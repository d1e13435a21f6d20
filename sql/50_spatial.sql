-- spatial datatypes (multipolygon, point) on PostGIS, GeoJSON in and out
\set VERBOSITY terse

-- without PostGIS: a clear error naming the package and CREATE EXTENSION
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "ca-nogis", "product": "planning",
  "key": ["reference"], "fields": [{"name": "reference", "datatype": "string"},
  {"name": "geometry", "datatype": "multipolygon"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.normalise('point', 'POINT (0 51)')$$);

CREATE EXTENSION postgis;

-- spec rules: no key, pattern or pii on a geometry
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "ca-bad", "product": "planning",
  "key": ["geometry"], "fields": [{"name": "geometry", "datatype": "multipolygon"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "ca-bad", "product": "planning",
  "key": ["reference"], "fields": [{"name": "reference", "datatype": "string"},
  {"name": "point", "datatype": "point", "pii": true}]}')$$);

SELECT dataplatform.define_dataset('{"dataset": "conservation-area", "product": "planning",
  "key": ["reference"], "fields": [{"name": "reference", "datatype": "string"},
  {"name": "name", "datatype": "string"},
  {"name": "geometry", "datatype": "multipolygon"}, {"name": "point", "datatype": "point"}]}');

-- typed columns in clean and history, a GiST index on clean
SELECT c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'dp_clean'::regnamespace AND c.relname LIKE 'conservation_area%'
   AND a.attname IN ('geometry', 'point') ORDER BY 1, 2;
SELECT indexname, indexdef FROM pg_indexes
 WHERE schemaname = 'dp_clean' AND indexdef LIKE '%gist%' ORDER BY 1;

-- every input form and CRS: normalised value and the issue normalise() reports
SELECT v, (dataplatform.normalise('point', v)).* FROM (VALUES
  ('POINT( -0.127972   51.507722 )'),           -- WGS84
  ('point (-0.127972 51.507722)'),              -- any case
  ('SRID=4326;POINT (-0.127972 51.507722)'),    -- SRID prefix
  ('POINT Z (-0.127972 51.507722 12)'),         -- Z dropped
  ('POINT (51.507722 -0.127972)'),              -- flipped
  ('POINT (-14245.780102 6711600.069496)'),     -- Web Mercator
  ('POINT (6711600.069496 -14245.780102)'),     -- Mercator flipped
  ('{"type": "Point", "coordinates": [-0.127972, 51.507722]}'),  -- GeoJSON in a text value
  ('POINT (0.0 0.0)'),                          -- out of bounds
  ('POINT (1000 100000000)'),                   -- no CRS fits
  ('SRID=2154;POINT (652000 6862000)'),         -- an SRID we do not take
  ('POINT EMPTY'), ('POINT ()'), ('POINT'), ('garbage'), ('{"type": "Point"}'),
  ('MULTIPOLYGON (((0 51, 1 51, 1 52, 0 51)))') -- wrong type for a point
) t(v);
-- British National Grid: compared with the planning-data pipeline's answer
-- (POINT (-0.127960 51.507718), Nelson's Column) in metres, not digits:
-- PROJ's best available transformation decides the last digits
SELECT v, n.issue,
       ST_Distance(n.value::geography, 'POINT (-0.127960 51.507718)'::geography) < 5 AS within_5_m
  FROM (VALUES ('POINT (530015 180415)'), ('POINT (180415 530015)'), ('SRID=27700;POINT (530015 180415)')) t(v),
       dataplatform.normalise('point', v) n;

-- polygons: the pipeline's own test cases, input and expected output
-- (test/data/spatial/pipeline_cases.csv, from digital-land-python, MIT)
CREATE TABLE dp_test.pipeline_case (name text, input text, expected text);
\copy dp_test.pipeline_case FROM 'test/data/spatial/pipeline_cases.csv' CSV HEADER
SELECT p.name, n.issue,
       n.value = p.expected AS same_text,
       CASE WHEN coalesce(p.expected, '') = '' THEN n.value IS NULL
            ELSE ST_HausdorffDistance(ST_Transform(ST_SetSRID(n.value::geometry, 4326), 27700),
                                      ST_Transform(ST_SetSRID(p.expected::geometry, 4326), 27700))
                 < CASE WHEN n.issue LIKE 'OSGB%' THEN 5 ELSE 1 END END AS within_limit
  FROM dp_test.pipeline_case p,
       dataplatform.normalise(CASE WHEN p.input ILIKE 'point%' OR p.expected LIKE 'POINT%'
                                   THEN 'point' ELSE 'multipolygon' END, p.input) n
 ORDER BY p.name, p.input;

-- the geometry rules, through check(): self-intersection, rings in the wrong
-- order, a GeometryCollection, a hole, empty and garbage; issues, never errors
CREATE TEMP TABLE r AS SELECT dataplatform.check('conservation-area', $$[
 {"reference": "a-ok", "geometry": "POLYGON ((-0.1 51.5, -0.09 51.5, -0.09 51.51, -0.1 51.51, -0.1 51.5))"},
 {"reference": "b-clockwise", "geometry": "POLYGON ((-0.1 51.5, -0.1 51.51, -0.09 51.51, -0.09 51.5, -0.1 51.5), (-0.097 51.503, -0.093 51.503, -0.093 51.507, -0.097 51.507, -0.097 51.503))"},
 {"reference": "c-bowtie", "geometry": "POLYGON ((-0.1 51.5, -0.09 51.51, -0.09 51.5, -0.1 51.51, -0.1 51.5))"},
 {"reference": "d-collection", "geometry": "GEOMETRYCOLLECTION (POLYGON ((-0.1 51.5, -0.09 51.5, -0.09 51.51, -0.1 51.5)), POINT (-0.1 51.5), MULTIPOLYGON (((-0.2 51.5, -0.19 51.5, -0.19 51.51, -0.2 51.5))))"},
 {"reference": "e-collection-point-first", "geometry": "GEOMETRYCOLLECTION (POINT (-0.1 51.5), POLYGON ((-0.1 51.5, -0.09 51.5, -0.09 51.51, -0.1 51.5)))"},
 {"reference": "f-geojson", "geometry": {"type": "Polygon", "coordinates": [[[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51], [-0.1, 51.5]]]}},
 {"reference": "g-osgb", "geometry": "MULTIPOLYGON (((530000 180000, 530100 180000, 530100 180100, 530000 180000)))"},
 {"reference": "h-osgb-flipped", "geometry": "MULTIPOLYGON (((180000 530000, 180000 530100, 180100 530100, 180000 530000)))"},
 {"reference": "i-mercator", "geometry": "MULTIPOLYGON (((-14245 6711600, -14145 6711600, -14145 6711700, -14245 6711600)))"},
 {"reference": "j-out-of-bounds", "geometry": "POLYGON ((10 45, 11 45, 11 46, 10 45))"},
 {"reference": "k-empty", "geometry": "MULTIPOLYGON EMPTY"},
 {"reference": "l-garbage", "geometry": "MULTIPOLYGON (((1 2, 3"},
 {"reference": "m-line", "geometry": "LINESTRING (-0.1 51.5, -0.09 51.5)"},
 {"reference": "n-unclosed", "geometry": "POLYGON ((-0.1 51.5, -0.09 51.5, -0.09 51.51, -0.1 51.51))"},
 {"reference": "o-collapsed", "geometry": "POLYGON ((-0.1 51.5, -0.1000001 51.5000001, -0.1 51.5000002, -0.1 51.5))"}
]$$) AS c;
SELECT x->>'reference' AS ref, x->>'geometry' AS geometry FROM r, jsonb_array_elements(c->'rows') x ORDER BY 1;
SELECT x->>'row' AS row, x->>'issue' AS issue, x->>'severity' AS severity, x->>'message' AS message
  FROM r, jsonb_array_elements(c->'issues') x ORDER BY (x->>'row')::int, 2;
-- exterior rings counter-clockwise, interior rings clockwise
SELECT x->>'reference' AS ref, ST_IsPolygonCCW((x->>'geometry')::geometry) AS ccw
  FROM r, jsonb_array_elements(c->'rows') x WHERE x->>'geometry' IS NOT NULL ORDER BY 1;

-- configuration: a point from coordinate columns, a dataset's own boundary
SELECT dataplatform.configure('conservation-area', '{
  "column": {"Site Ref": "reference", "SITE_NAME": "name"},
  "point": [{"field": "point", "longitude": "Lon", "latitude": "Lat"}],
  "boundary": "POLYGON ((-0.2 51.45, 0 51.45, 0 51.55, -0.2 51.55, -0.2 51.45))"}');
SELECT jsonb_path_query_array(c, '$.rows[*].point') AS points, jsonb_path_query_array(c, '$.rows[*].name') AS names,
       jsonb_path_query_array(c, '$.issues[*].issue') AS issues, c->'column_mapping' AS mapping
  FROM dataplatform.check_csv('conservation-area', E'site-ref,Site Name,Lon,Lat\nq1,Westminster,-0.127972,51.507722\nq2,Berwick,-2.007,55.771\nq3,Bad,x,51\n') c;
SELECT dataplatform.configure('conservation-area', '{
  "point": {"field": "point", "easting": "E", "northing": "N"}}');
SELECT x->>'reference' AS ref,
       ST_Distance((x->>'point')::geography, 'POINT (-0.127960 51.507718)'::geography) < 5 AS within_5_m
  FROM dataplatform.check('conservation-area', '[{"reference": "e1", "E": "530015", "N": "180415"}]') c,
       jsonb_array_elements(c->'rows') x;
SELECT dp_test.err($$SELECT dataplatform.configure('conservation-area', '{"boundary": "POINT (0 51)"}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('conservation-area', '{"point": {"field": "name", "x": "a", "y": "b"}}')$$);
SELECT dataplatform.configure('conservation-area', '{}');

-- GeoJSON in: a council's FeatureCollection (test/data/spatial/calverton.geojson)
\set calverton `cat test/data/spatial/calverton.geojson`
SELECT dataplatform.configure('conservation-area', '{"column": {"KEYVAL": "reference", "TITLE": "name"}}');
SELECT dataplatform.push_geojson('conservation-area', :'calverton') > 0 AS pushed;
SELECT reference, name, ST_GeometryType(geometry), ST_SRID(geometry), ST_IsValid(geometry),
       ST_NPoints(geometry) > 100 AS detailed
  FROM dp_clean.conservation_area WHERE reference = '123514';
-- within a metre of the same boundary as the pipeline's conversion read it
\set calverton_wkt `cat test/data/spatial/calverton.wkt`
SELECT ST_HausdorffDistance(ST_Transform(geometry, 27700),
                            ST_Transform(ST_GeomFromText(:'calverton_wkt', 4326), 27700)) < 1 AS within_1_m
  FROM dp_clean.conservation_area WHERE reference = '123514';
-- the same again changes nothing; a new boundary for the key moves the old one to history
SELECT dataplatform.push_geojson('conservation-area', :'calverton') > 0 AS pushed;
SELECT dataplatform.push('conservation-area', '[{"KEYVAL": "123514", "TITLE": "CALVERTON C.A.",
  "geometry": "POLYGON ((-1.09 53.03, -1.08 53.03, -1.08 53.04, -1.09 53.03))"}]') > 0 AS pushed;
SELECT _operation, ST_NPoints(geometry) > 100 AS detailed FROM dp_clean.conservation_area_history
 WHERE reference = '123514' ORDER BY _history_id;
SELECT ST_NPoints(geometry) FROM dp_clean.conservation_area WHERE reference = '123514';
SELECT dataplatform.push_geojson('conservation-area', :'calverton') > 0 AS pushed;
SELECT dp_test.err($$SELECT dataplatform.push_geojson('conservation-area', '{"type": "Point", "coordinates": [0, 51]}')$$);
SELECT dp_test.err($$SELECT dataplatform.push_geojson('conservation-area', '{"type": "FeatureCollection"}')$$);
-- a legacy "crs" naming British National Grid is honoured (no guessing)
SELECT dataplatform.push_geojson('conservation-area', '{"type": "FeatureCollection",
  "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}},
  "features": [{"type": "Feature", "properties": {"KEYVAL": "bng1", "TITLE": "Square"},
    "geometry": {"type": "Polygon", "coordinates": [[[530000, 180000], [530100, 180000], [530100, 180100], [530000, 180000]]]}}]}') > 0 AS pushed;
SELECT reference, ST_AsText(ST_Centroid(geometry), 3) FROM dp_clean.conservation_area WHERE reference = 'bng1';
SELECT i.issue_type, count(*) FROM dataplatform.issue i JOIN dataplatform.batch b ON b.id = i.batch_id
 WHERE b.dataset = 'conservation-area' GROUP BY 1 ORDER BY 1;

-- geometry out: a published view keeps the type; GIS clients find it as a consumer
SELECT dataplatform.publish('conservation_area', 'conservation-area') ->> 'status';
CREATE ROLE dp_s_reader LOGIN;
SELECT dataplatform.grant_consumer('dp_s_reader');
SET ROLE dp_s_reader;
SELECT f_table_schema, f_table_name, f_geometry_column, coord_dimension, srid, type
  FROM geometry_columns WHERE f_table_schema = 'dp_consumer' ORDER BY 2, 3;
SELECT reference, ST_GeometryType(geometry), ST_SRID(geometry) FROM dp_consumer.conservation_area ORDER BY 1;
SELECT j->>'type' AS type, jsonb_array_length(j->'features') AS features,
       j#>>'{features,0,geometry,type}' AS geometry_type,
       j#>>'{features,0,properties,reference}' AS first_reference
  FROM (SELECT dataplatform.export('conservation_area', 'geojson')::jsonb AS j) e;
RESET ROLE;
SELECT dp_test.err($$SELECT dataplatform.export('conservation_area', 'shapefile')$$);
SELECT dataplatform.unpublish('conservation_area');
SELECT dataplatform.revoke_consumer('dp_s_reader');
DROP ROLE dp_s_reader;

-- a field that changes between point and multipolygon is retyped (the subtype is in the typmod)
SELECT dataplatform.define_dataset('{"dataset": "ca-retype", "product": "planning", "key": ["reference"],
  "fields": [{"name": "reference", "datatype": "string"}, {"name": "g", "datatype": "point"}]}');
SELECT dataplatform.define_dataset('{"dataset": "ca-retype", "product": "planning", "key": ["reference"],
  "fields": [{"name": "reference", "datatype": "string"}, {"name": "g", "datatype": "multipolygon"}]}', true);
SELECT c.relname, pg_catalog.format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'dp_clean'::regnamespace AND c.relname LIKE 'ca_retype%' AND a.attname = 'g' ORDER BY 1;
