-- lineage: the trail of one row (a pushed CSV row, an event-fed row, an
-- aggregate view's row and the rows behind it, a row after rebuild, a
-- consumer's masked and cut trail), column lineage kept true on publish,
-- republish and unpublish, reads through indexes only, and the data.json
-- catalogue validated against the DCAT-US 1.1 schema
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET dataplatform.environment = 'production';
UPDATE dp_consumer_data.mask_key SET key = 'regress-mask-key';

SELECT name FROM dataplatform.define_product('lin_planning', '{"description": "Designations for lineage",
  "owner": "Lineage Team", "email": "lineage@example.gov.uk", "domain": "planning", "tags": ["heritage", "planning"]}');
SELECT dataplatform.define_dataset('{"dataset": "lin-area", "product": "lin_planning", "key": ["reference"],
  "description": "Areas for lineage",
  "fields": [{"name": "reference", "datatype": "string"}, {"name": "name", "datatype": "string", "required": true},
             {"name": "ward", "datatype": "string"}, {"name": "hectares", "datatype": "decimal", "minimum": 0},
             {"name": "officer-email", "datatype": "string", "pii": true}]}');
SELECT dataplatform.configure('lin-area', '{"column": {"Area (ha)": "hectares", "Officer": "officer-email"}, "skip": ["^#"]}');

-- the steps of a trail, one line per version, without times
CREATE FUNCTION dp_test.lin_versions(rec jsonb)
RETURNS TABLE (v int, op text, batch bigint, kind text, pushed_by text, spec text, config int,
               event text, raw_ordinal bigint, line bigint, raw text, issues text)
LANGUAGE sql AS $$
  SELECT (x ->> 'version')::int, x ->> 'operation', (x #>> '{batch,id}')::bigint, x #>> '{batch,kind}',
         x #>> '{batch,pushed_by}', x #>> '{batch,spec,version}', (x #>> '{batch,config,version}')::int,
         x #>> '{event,event_id}', (x #>> '{raw,ordinal}')::bigint, (x #>> '{raw,line_number}')::bigint,
         COALESCE(x #>> '{raw,raw}', x #>> '{raw,data}'),
         (SELECT string_agg(i ->> 'field' || ':' || (i ->> 'issue_type') || ':' || (i ->> 'severity'), ', ')
            FROM jsonb_array_elements(x -> 'issues') i)
    FROM jsonb_array_elements(rec -> 'versions') x ORDER BY 1 $$;

-- 1. a pushed CSV row: a comment line skipped, a bad value, then a correction by push
SELECT dataplatform.grant_producer('lin_planning', 'dp_t_producer');
SET ROLE dp_t_producer;
SELECT dataplatform.push_csv('lin-area', E'Reference,Name,Ward,Area (ha),Officer\n'
  '# header comment\n'
  'L1,Clapton Square,Hackney Central,7.2,ann@example.org\n'
  'L2,De Beauvoir,De Beauvoir,-3,bob@example.org\n'
  'L3,Navarino,Dalston,"1,204.5",ann@example.org\n'
  'L4,Mapledene,Dalston,12,cy@example.org\n'
  'L5,Kingsland,Dalston,3.5,cy@example.org\n') AS csv_batch \gset
SELECT dataplatform.push('lin-area', '{"Reference": "L2", "Name": "De Beauvoir", "Ward": "De Beauvoir", "Area (ha)": "22.6", "Officer": "bob@example.org"}') AS fix_batch \gset
RESET ROLE;
SELECT dataplatform.publish('lin_area', 'lin-area') ->> 'status' AS published;
SELECT dataplatform.publish('lin_by_ward', $$SELECT ward, count(*) AS areas, sum(hectares) AS hectares
  FROM lin_area WHERE hectares > 1 GROUP BY ward$$) ->> 'status' AS published;

SELECT l #>> '{row,reference}' AS reference, l #>> '{row,hectares}' AS hectares, l ->> 'kind' AS kind,
       l ->> 'method' AS method, l #>> '{sources,0,match}' AS match, l #>> '{sources,0,count}' AS count
  FROM dataplatform.lineage('lin_area', '{"reference": "L2"}') l;
SELECT v, op, kind, pushed_by, spec, config, event, raw_ordinal, line, raw, issues
  FROM dp_test.lin_versions(dataplatform.lineage('lin_area', '{"reference": "L2"}') #> '{sources,0,records,0}');
-- who pushed it, under which configuration, what the CSV header was
SELECT l #>> '{versions,0,batch,source,header}' AS header,
       l #> '{versions,0,batch,config,config,column}' AS mapping,
       l #> '{versions,1,values}' AS current_values
  FROM dataplatform.lineage('lin-area', '"L2"') l;
-- the dataset's own trail names the views that read it
SELECT l -> 'views' AS views, l ->> 'kind' AS kind FROM dataplatform.lineage('dp_clean.lin_area', '{"reference": "L1"}') l;

-- 2. column lineage, from the analysed queries
SELECT view, column_name, ordinal, dataset, field, transformation, expression, filter
  FROM dataplatform.view_column_lineage WHERE view LIKE 'lin\_%' ORDER BY view, ordinal, field;

-- 3. an aggregate view's row: every row behind the group, bounded
SELECT l -> 'row' AS row, s ->> 'match' AS match, s ->> 'count' AS count, s ->> 'limit' AS "limit",
       s ->> 'truncated' AS truncated, s ->> 'condition' AS condition,
       (SELECT string_agg(r #>> '{key,reference}', ', ') FROM jsonb_array_elements(s -> 'records') r) AS shown
  FROM dataplatform.lineage('lin_by_ward', '{"ward": "Dalston"}', 2) l, jsonb_array_elements(l -> 'sources') s;
SELECT (SELECT string_agg(r #>> '{key,reference}', ', ') FROM jsonb_array_elements(l #> '{sources,0,records}') r) AS all_rows,
       l #>> '{sources,0,truncated}' AS truncated
  FROM dataplatform.lineage('lin_by_ward', '{"ward": "Dalston"}') l;

-- 4. an event-fed row: a snapshot, then an update event, then a delete and a create
SELECT dataplatform.define_dataset('{"dataset": "lin-lease", "product": "lin_planning", "key": ["id"],
  "fields": [{"name": "id", "datatype": "uuid"}, {"name": "ref", "datatype": "string"},
             {"name": "rent", "datatype": "decimal"}]}');
CREATE FUNCTION dp_test.lin_ev(id text, type text, at text, entity text, new_data jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('id', id, 'eventType', type, 'dateTime', at, 'entityId', entity,
         'eventData', jsonb_build_object('newData', new_data))) $$;
\set e1 '''eeeeeeee-0000-4000-8000-000000000001'''
SET ROLE dp_t_producer;
SELECT dataplatform.load_snapshot('lin-lease', jsonb_build_array(
  jsonb_build_object('id', :e1, 'ref', 'R-1', 'rent', 100),
  jsonb_build_object('id', 'eeeeeeee-0000-4000-8000-000000000002', 'ref', 'R-2', 'rent', 90)),
  '2024-01-01 00:00:00+00') > 0 AS snapshot;
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('lin-lease', jsonb_build_array(
  dp_test.lin_ev('ev-1', 'LeaseUpdatedEvent', '2024-02-01T10:00:00Z', :e1, '{"rent": "110"}'),
  dp_test.lin_ev('ev-2', 'LeaseUpdatedEvent', '2024-03-01T10:00:00Z', :e1, '{"rent": "abc"}'))) ORDER BY 1;
RESET ROLE;
SELECT v, op, kind, pushed_by, spec, config, event, raw_ordinal, line, raw, issues
  FROM dp_test.lin_versions(dataplatform.lineage('lin-lease', to_jsonb(:e1::text)));
SELECT x #>> '{event,event_type}' AS event_type, x #>> '{event,event_time}' AS event_time,
       x #>> '{raw,data,eventData,newData,rent}' AS raw_rent, x #>> '{values,rent}' AS rent
  FROM jsonb_array_elements(dataplatform.lineage('lin-lease', to_jsonb(:e1::text)) -> 'versions') x
 WHERE x ? 'event';

-- 5. a row after rebuild: the same trail (the batches are replayed under their ids)
CREATE TABLE dp_test.lin_before AS
  SELECT r.reference, t.* FROM unnest(ARRAY['L1', 'L2', 'L3']) r(reference),
       dp_test.lin_versions(dataplatform.lineage('lin-area', to_jsonb(r.reference))) t;
SELECT dataplatform.rebuild('lin-area') ->> 'batches' AS batches_replayed;
SELECT count(*) AS versions, (SELECT count(*) FROM dp_test.lin_before) AS before FROM (
  SELECT r.reference, t.* FROM unnest(ARRAY['L1', 'L2', 'L3']) r(reference),
       dp_test.lin_versions(dataplatform.lineage('lin-area', to_jsonb(r.reference))) t) a;
(SELECT r.reference, t.* FROM unnest(ARRAY['L1', 'L2', 'L3']) r(reference),
        dp_test.lin_versions(dataplatform.lineage('lin-area', to_jsonb(r.reference))) t
 EXCEPT ALL SELECT * FROM dp_test.lin_before)
UNION ALL
(SELECT * FROM dp_test.lin_before
 EXCEPT ALL SELECT r.reference, t.* FROM unnest(ARRAY['L1', 'L2', 'L3']) r(reference),
        dp_test.lin_versions(dataplatform.lineage('lin-area', to_jsonb(r.reference))) t);

-- 6. a consumer: the row as it may read it (PII masked), its column lineage, nothing below
SET client_min_messages = warning;
DROP ROLE IF EXISTS dp_t_lin_reader, dp_t_lin_none;
RESET client_min_messages;
CREATE ROLE dp_t_lin_reader LOGIN;
CREATE ROLE dp_t_lin_none LOGIN IN ROLE dataplatform_consumer;
SELECT dataplatform.grant_consumer('dp_t_lin_reader');
SET ROLE dp_t_lin_reader;
SELECT l #>> '{row,reference}' AS reference, l #>> '{row,officer_email}' = 'bob@example.org' AS real_email,
       l #>> '{row,officer_email}' = (SELECT officer_email FROM dp_consumer.lin_area WHERE reference = 'L2') AS as_read,
       l ? 'sources' AS has_sources, l -> 'cut' AS cut, jsonb_array_length(l -> 'columns') AS columns
  FROM dataplatform.lineage('lin_area', '{"reference": "L2"}') l;
SELECT dataplatform.lineage('lin-area', '"L2"');
SELECT dataplatform.lineage_of_record('lin-area', '"L2"');
SELECT dataplatform.lineage_of_batch(1);
SELECT dataplatform.lineage('lin_area', '{"reference": "nope"}');
SELECT dataplatform.lineage('lin_area', '{"nope": 1}');
RESET ROLE;
-- a consumer without an agreement cannot trace a view's row either
SET ROLE dp_t_lin_none;
SELECT dataplatform.lineage('lin_area', '{"reference": "L2"}');
RESET ROLE;
-- a consumer under an agreement for one view and a row scope: rows outside
-- its scope have no trail (as they have no row), other views refuse
SET client_min_messages = warning;
DROP ROLE IF EXISTS dp_t_lin_scoped;
RESET client_min_messages;
CREATE ROLE dp_t_lin_scoped LOGIN IN ROLE dataplatform_consumer;
SET SESSION AUTHORIZATION dp_t_lin_scoped;
SELECT dataplatform.request_access('lin_planning', 'lineage of Dalston areas', now() + interval '1 day',
  '{"views": ["lin_area"], "rows": {"ward": ["Dalston"]}}') AS scoped \gset
RESET SESSION AUTHORIZATION;
SELECT dataplatform.approve_access(:scoped);
SET SESSION AUTHORIZATION dp_t_lin_scoped;
SELECT l #>> '{row,reference}' AS reference, l #>> '{row,ward}' AS ward,
       l #>> '{row,officer_email}' = 'ann@example.org' AS real_email, l #>> '{cut,at}' AS cut
  FROM dataplatform.lineage('lin_area', '{"reference": "L3"}') l;
SELECT dataplatform.lineage('lin_area', '{"reference": "L1"}');
SELECT dataplatform.lineage('lin_by_ward', '{"ward": "Dalston"}');
RESET SESSION AUTHORIZATION;
-- the admin sees the real value
SELECT l #>> '{row,officer_email}' AS officer_email FROM dataplatform.lineage('lin_area', '{"reference": "L2"}') l;
SELECT dataplatform.lineage('nothing_here', '{"a": 1}');
SELECT dataplatform.lineage('lin_area', '[1]');
SELECT dataplatform.lineage('lin_area', '{"reference": "L2"}', 0);

-- 7. reads follow the keys: every step of the trail has an index path (the
-- planner is told to avoid scans, so a step without one would still scan
-- and show here), on a dataset of 5,000 records with 5,000 events applied;
-- its clean and history tables are read through their keys even unforced
SELECT dataplatform.define_dataset('{"dataset": "lin-unit", "product": "lin_planning", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "rent", "datatype": "integer"}]}');
SELECT dataplatform.load_snapshot('lin-unit', (SELECT jsonb_agg(jsonb_build_object('id', n, 'rent', 100))
  FROM generate_series(1, 5000) n), '2024-01-01 00:00:00+00') > 0 AS loaded;
SELECT count(*) AS applied FROM dataplatform.apply_events('lin-unit', (SELECT jsonb_agg(dp_test.lin_ev('u' || n,
  'UnitUpdatedEvent', '2024-02-01T00:00:00Z', n::text, jsonb_build_object('rent', n))) FROM generate_series(1, 5000) n));
SELECT dataplatform.push('lin-unit', (SELECT jsonb_agg(jsonb_build_object('id', n, 'rent', 7)) FROM generate_series(1, 50) n)) > 0 AS pushed;
ANALYZE dp_clean.lin_unit, dp_clean.lin_unit_history, dataplatform.event, dataplatform.batch, dataplatform.issue;
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT jsonb_array_length(dataplatform.lineage('lin-unit', '{"id": 42}') -> 'versions') AS versions;
SELECT s.schemaname || '.' || s.relname AS relation, s.seq_scan
  FROM pg_stat_xact_user_tables s
 WHERE (s.schemaname, s.relname) IN (('dp_clean', 'lin_unit'), ('dp_clean', 'lin_unit_history'),
        ('dataplatform', 'event'))
 ORDER BY 1;
COMMIT;
-- a new session: plans cached by the calls above do not carry over
\c -
SET enable_seqscan = off;
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT jsonb_array_length(dataplatform.lineage('lin-unit', '{"id": 42}') -> 'versions') AS versions;
SELECT s.schemaname || '.' || s.relname AS relation, s.seq_scan
  FROM pg_stat_xact_user_tables s
 WHERE (s.schemaname, s.relname) IN (('dp_clean', 'lin_unit'), ('dp_clean', 'lin_unit_history'),
        ('dataplatform', 'event'), ('dataplatform', 'batch'), ('dataplatform', 'issue'),
        ('dataplatform', 'collection_log'), ('dp_raw', 'chunk'))
 ORDER BY 1;
COMMIT;
RESET enable_seqscan;
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET dataplatform.environment = 'production';

-- 8. column lineage stays true: republished with another query, then unpublished
SELECT dataplatform.publish('lin_by_ward', $$SELECT ward, max(hectares) AS largest FROM lin_area GROUP BY ward$$,
  '{"replace": true}') ->> 'status' AS republished;
SELECT view, column_name, field, transformation, filter FROM dataplatform.view_column_lineage
 WHERE view = 'lin_by_ward' ORDER BY ordinal, field;
SELECT dataplatform.unpublish('lin_by_ward');
SELECT count(*) AS rows_left FROM dataplatform.view_column_lineage WHERE view = 'lin_by_ward';
-- a join, a subquery and a constant
SELECT dataplatform.publish('lin_join', $$SELECT a.reference, upper(a.name) AS name, w.n, 'x'::text AS tag
  FROM lin_area a JOIN (SELECT ward, count(*) AS n FROM lin_area GROUP BY ward) w USING (ward)$$,
  '{"key": "reference"}') ->> 'status' AS published;
SELECT column_name, dataset, field, transformation, expression FROM dataplatform.view_column_lineage
 WHERE view = 'lin_join' ORDER BY ordinal, field;
SELECT l #>> '{sources,0,match}' AS match, l #>> '{sources,0,records,0,key,reference}' AS reference
  FROM dataplatform.lineage('lin_join', '{"reference": "L3"}') l;
SELECT dataplatform.unpublish('lin_join');
-- a function outside pg_catalog is not stored, so lineage() (which runs as
-- its caller, maybe a superuser) never evaluates it: that group is not traced
CREATE FUNCTION dp_test.lin_shout(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(t) $$;
SELECT dataplatform.publish('lin_shout', $$SELECT dp_test.lin_shout(ward) AS ward, count(*) AS areas
  FROM lin_area GROUP BY 1$$) ->> 'status' AS published;
SELECT column_name, transformation, expression FROM dataplatform.view_column_lineage
 WHERE view = 'lin_shout' ORDER BY ordinal, field;
SELECT s ->> 'match' AS match, s ->> 'reason' AS reason
  FROM jsonb_array_elements(dataplatform.lineage('lin_shout', '{"ward": "DALSTON"}') -> 'sources') s;
SELECT dataplatform.unpublish('lin_shout');

-- 9. the catalogue: data.json, validated against the DCAT-US 1.1 schema
-- shipped in test/catalogue/schema (GSA's project-open-data, public domain)
-- the product's licence, contact and update frequency (define_product)
SELECT licence, contact, update_frequency FROM dataplatform.define_product('lin_planning',
  '{"licence": "OGL-UK-3.0", "contact": "Lineage Desk", "update_frequency": "daily"}');
SELECT e ->> 'license' AS license, e ->> 'accrualPeriodicity' AS frequency, e -> 'contactPoint' AS contact,
       e -> 'publisher' AS publisher
  FROM jsonb_array_elements(dataplatform.catalogue() -> 'dataset') e WHERE e ->> 'title' = 'Lin Area';
-- a product classified public, whose view shows no PII field: a public entry
SELECT name FROM dataplatform.define_product('lin_open', '{"description": "Open data", "owner": "Open Team",
  "email": "open@example.gov.uk", "classification": "public", "licence": "https://example.org/licence"}');
SELECT dataplatform.define_dataset('{"dataset": "lin-open", "product": "lin_open", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}]}');
SELECT dataplatform.publish('lin_open', 'lin-open', '{"description": "Open rows"}') ->> 'status' AS published;
SELECT e ->> 'title' AS title, e ->> 'accessLevel' AS access, e -> 'keyword' AS keyword,
       e -> 'contactPoint' AS contact, e ->> 'identifier' AS identifier, jsonb_array_length(e -> 'distribution') AS distributions
  FROM jsonb_array_elements(dataplatform.catalogue() -> 'dataset') e
 WHERE e ->> 'title' LIKE 'Lin%' ORDER BY 1;
SELECT dataplatform.catalogue() = dataplatform.catalogue('data.json') AS same;
SELECT dataplatform.catalogue('rdf');
SELECT dataplatform.catalogue_frequency(f) FROM unnest(ARRAY['daily', 'Weekly', 'R/P2D', 'sometimes']) f;
SELECT dataplatform.catalogue_licence(l) FROM unnest(ARRAY['OGL-UK-3.0', 'https://example.org/l', 'mine']) l;
SET dataplatform.catalogue_url = 'https://data.example.gov.uk/platform';
\pset tuples_only on
\pset format unaligned
\o results/catalogue.json
SELECT dataplatform.catalogue();
\o
\o results/catalogue-ap.json
SELECT dataplatform.catalogue('dcat-ap');
\o
\pset tuples_only off
\pset format aligned
\! python3 test/catalogue/validate.py results/catalogue.json /lin_
-- DCAT-AP in JSON-LD, against the shapes test/catalogue/dcat-ap.json checks
\! python3 test/catalogue/validate.py --dcat-ap results/catalogue-ap.json /lin_
SELECT e ->> '@id' AS id, e #>> '{dct:accessRights,@id}' AS access_rights,
       e #>> '{dct:accrualPeriodicity,@id}' AS frequency, e #>> '{dct:license,@id}' AS licence
  FROM jsonb_array_elements(dataplatform.catalogue('dcat-ap') -> 'dcat:dataset') e
 WHERE e ->> '@id' LIKE '%/lin\_%' ORDER BY 1;
RESET dataplatform.catalogue_url;
