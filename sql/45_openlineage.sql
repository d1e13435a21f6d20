-- OpenLineage run events in the outbox (docs/openlineage.md): what each kind
-- of run writes (push, push_csv, a queued push and its processing, a failed
-- processing, snapshot, events, publish, refresh, a rejected refresh, a
-- refresh failing inside refresh_all), FAIL events that outlive their
-- rolled-back work, nothing for work that rolled back, nothing when the URL
-- is unset.  The URL is set in this session only, so the worker (which
-- reads the server's settings) sends nothing; delivery is tested by
-- test/openlineage_tests.sh.
\set VERBOSITY terse
SET client_min_messages = warning;

-- off by default: nothing written
SELECT current_setting('dataplatform.openlineage_url') = '' AS url_unset;
SELECT name FROM dataplatform.define_product('olr');
SELECT dataplatform.define_dataset('{"dataset": "olr-item", "product": "olr", "key": ["reference"],
  "fields": [{"name": "reference", "datatype": "string", "description": "The item reference."},
             {"name": "name", "datatype": "string", "required": true},
             {"name": "size", "datatype": "integer"}]}');
SELECT dataplatform.configure('olr-item', '{"column": {"Ref": "reference"}}');
SELECT dataplatform.push('olr-item', '[{"reference": "A0", "name": "a"}]') > 0 AS pushed;
SELECT count(*) AS events_while_unset FROM dataplatform.openlineage_outbox;

SET dataplatform.openlineage_url = 'http://127.0.0.1:9/api/v1/lineage';
SET dataplatform.openlineage_dataset_namespace = 'postgres://db.example.org:5432';
SET dataplatform.openlineage_url = 'ftp://example.org/';
SET dataplatform.openlineage_dataset_namespace = 'db.example.org';

-- the events of each run, in order: job, event types, inputs, outputs
CREATE VIEW dp_test.ol_runs AS
SELECT o.job_name, string_agg(o.event_type, ',' ORDER BY o.id) AS events,
       (SELECT string_agg(i ->> 'name', ' ') FROM jsonb_array_elements(max(o.event::text)::jsonb -> 'inputs') i) AS inputs,
       (SELECT string_agg(x ->> 'name', ' ') FROM jsonb_array_elements(max(o.event::text)::jsonb -> 'outputs') x) AS outputs
  FROM dataplatform.openlineage_outbox o
 GROUP BY o.run_id, o.job_name
 ORDER BY min(o.id);

-- push: rows with issues
SELECT dataplatform.push('olr-item', '[{"reference": "A1", "name": "a", "size": "1"},
  {"reference": "A2", "size": "2"}, {"reference": "A3", "name": "c", "size": "three"}]') > 0 AS pushed;
SELECT job_name, events, inputs, outputs FROM dp_test.ol_runs;
-- the COMPLETE event: job, namespaces and names, facets
SELECT event -> 'job' ->> 'namespace' AS job_namespace, event -> 'job' ->> 'name' AS job_name,
       event -> 'job' -> 'facets' -> 'jobType' ->> 'jobType' AS job_type,
       event ->> 'schemaURL' AS schema_url, event ->> 'eventType' AS event_type
  FROM dataplatform.openlineage_outbox WHERE event_type = 'COMPLETE';
SELECT event -> 'inputs' -> 0 ->> 'namespace' AS namespace,
       (event -> 'inputs' -> 0 -> 'inputFacets' -> 'dataQualityMetrics') - '_producer'::text - '_schemaURL'::text AS metrics,
       jsonb_pretty((event -> 'inputs' -> 0 -> 'inputFacets' -> 'dataplatform_quality') - '_producer'::text - '_schemaURL'::text) AS quality
  FROM dataplatform.openlineage_outbox WHERE event_type = 'COMPLETE';
SELECT o ->> 'name' AS output, o -> 'outputFacets' -> 'outputStatistics' ->> 'rowCount' AS row_count
  FROM dataplatform.openlineage_outbox, jsonb_array_elements(event -> 'outputs') o
 WHERE event_type = 'COMPLETE' ORDER BY 1;
SELECT jsonb_pretty(event -> 'outputs' -> 0 -> 'facets' -> 'schema' -> 'fields') AS schema,
       jsonb_pretty(event -> 'outputs' -> 0 -> 'facets' -> 'columnLineage' -> 'fields') AS column_lineage
  FROM dataplatform.openlineage_outbox WHERE event_type = 'COMPLETE';
-- START: the same run and datasets, without run-time facets, not after COMPLETE
SELECT s.run_id = c.run_id AS same_run,
       s.event -> 'run' ->> 'runId' = c.event -> 'run' ->> 'runId' AS same_run_id,
       s.event -> 'inputs' -> 0 ? 'inputFacets' AS start_has_input_facets,
       s.event -> 'outputs' -> 0 ? 'outputFacets' AS start_has_output_facets,
       s.event -> 'outputs' -> 0 ? 'facets' AS start_has_dataset_facets,
       s.event ->> 'eventTime' <= c.event ->> 'eventTime' AS start_first,
       c.event ->> 'eventTime' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS iso_time,
       c.run_id::text ~ '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid_v7,
       s.status, s.attempts
  FROM dataplatform.openlineage_outbox s JOIN dataplatform.openlineage_outbox c ON c.run_id = s.run_id
 WHERE s.event_type = 'START' AND c.event_type = 'COMPLETE';
-- issuesByType (counted as the issues are recorded) is what the issue
-- table holds for the batch: several types, 30,000 rows (a dataset of
-- their own)
SELECT dataplatform.define_dataset('{"dataset": "olr-issues", "product": "olr", "key": ["reference"],
  "fields": [{"name": "reference", "datatype": "string"}, {"name": "name", "datatype": "string", "required": true},
             {"name": "size", "datatype": "integer"}]}') IS NOT NULL AS defined;
SELECT dataplatform.push('olr-issues', (SELECT jsonb_agg(jsonb_build_object('reference', 'M' || i,
  'name', CASE WHEN i % 5 <> 0 THEN 'm' END, 'size', CASE WHEN i % 3 = 0 THEN 'big' ELSE i::text END,
  'extra', CASE WHEN i % 7 = 0 THEN 'x' END)) FROM generate_series(1, 30000) i)) AS many_issues \gset
SELECT (SELECT jsonb_object_agg(issue_type, n) FROM (SELECT issue_type, count(*) AS n FROM dataplatform.issue
          WHERE batch_id = :many_issues GROUP BY issue_type) s)
     = (SELECT event #> '{inputs,0,inputFacets,dataplatform_quality,issuesByType}'
          FROM dataplatform.openlineage_outbox WHERE event_type = 'COMPLETE' ORDER BY id DESC LIMIT 1) AS by_type_as_stored,
       (SELECT count(DISTINCT issue_type) FROM dataplatform.issue WHERE batch_id = :many_issues) AS types,
       (SELECT count(*) FROM dataplatform.issue WHERE batch_id = :many_issues) AS issues;
TRUNCATE dataplatform.openlineage_outbox;

-- push_csv (mapped column: column lineage names the source column)
SELECT dataplatform.push_csv('olr-item', E'Ref,name,size\nB1,b,1\nB2,,2\n') > 0 AS pushed;
SELECT job_name, events, inputs, outputs FROM dp_test.ol_runs;
SELECT k AS column, jsonb_path_query_array(v, '$.inputFields[*].field') AS from_fields
  FROM dataplatform.openlineage_outbox, jsonb_each(event -> 'outputs' -> 0 -> 'facets' -> 'columnLineage' -> 'fields') AS f(k, v)
 WHERE event_type = 'COMPLETE' ORDER BY 1;
SELECT (event -> 'run' -> 'facets' -> 'dataplatform_batch') - '_producer'::text - '_schemaURL'::text - 'batchId'::text - 'pushedBy'::text AS batch_facet
  FROM dataplatform.openlineage_outbox WHERE event_type = 'COMPLETE';
TRUNCATE dataplatform.openlineage_outbox;

-- work that rolls back leaves no event; a call that fails leaves none in
-- its transaction (its FAIL waits in shared memory for the worker, which
-- sends nothing here: test/openlineage_tests.sh checks it)
BEGIN;
SELECT dataplatform.push('olr-item', '[{"reference": "R1", "name": "rolled back"}]') > 0 AS pushed;
SELECT count(*) AS events_inside FROM dataplatform.openlineage_outbox;
ROLLBACK;
SELECT dataplatform.push('olr-nothing', '[{"reference": "R2"}]');
SELECT dataplatform.push_csv('olr-item', E'Ref,name\n"unterminated\n');
SELECT count(*) AS events_after_rollback FROM dataplatform.openlineage_outbox;

-- asynchronous: the push that queues writes raw; processing is a run of
-- its own; a batch whose processing fails is a FAIL that outlives it
SELECT dataplatform.define_dataset('{"dataset": "olr-queued", "product": "olr", "key": ["reference"],
  "fields": [{"name": "reference", "datatype": "string"}, {"name": "name", "datatype": "string"}]}');
SELECT dataplatform.configure('olr-queued', '{"processing": "async"}');
SELECT dataplatform.alter_job('dataplatform: process olr-queued', active => false);
ALTER TABLE dp_clean.olr_queued ADD CONSTRAINT olr_no_boom CHECK (name IS DISTINCT FROM 'boom');
SELECT dataplatform.push('olr-queued', '[{"reference": "Q1", "name": "fine"}]') > 0 AS queued;
SELECT dataplatform.push('olr-queued', '[{"reference": "Q2", "name": "boom"}]') > 0 AS queued;
SET client_min_messages = error;
SELECT dataplatform.process_queued('olr-queued') AS processed;
SET client_min_messages = warning;
SELECT job_name, events, inputs, outputs FROM dp_test.ol_runs;
SELECT event -> 'outputs' -> 0 -> 'outputFacets' -> 'outputStatistics' ->> 'rowCount' AS raw_rows
  FROM dataplatform.openlineage_outbox WHERE job_name = 'push.olr-queued' AND event_type = 'COMPLETE' ORDER BY id LIMIT 1;
SELECT event -> 'run' -> 'facets' -> 'errorMessage' ->> 'message' AS message,
       event -> 'run' -> 'facets' -> 'errorMessage' ->> 'programmingLanguage' AS language,
       event -> 'run' -> 'facets' -> 'dataplatform_batch' ->> 'kind' AS kind
  FROM dataplatform.openlineage_outbox WHERE event_type = 'FAIL';
SELECT status FROM dataplatform.batch WHERE dataset = 'olr-queued' ORDER BY id;
TRUNCATE dataplatform.openlineage_outbox;

-- snapshot and events
SELECT dataplatform.define_dataset('{"dataset": "olr-entity", "product": "olr", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "name", "datatype": "string"}]}');
SELECT dataplatform.load_snapshot('olr-entity', '[{"id": "E1", "name": "one"}, {"id": "E2", "name": "two"}]',
  '2024-01-01T00:00:00Z') > 0 AS loaded;
SELECT count(*) AS applied FROM dataplatform.apply_events('olr-entity', '[{"id": "ev1", "eventType": "EntityUpdatedEvent",
  "entityId": "E1", "dateTime": "2024-01-02T00:00:00Z", "eventData": {"newData": {"name": "uno"}}}]');
SELECT job_name, events, inputs, outputs FROM dp_test.ol_runs;
SELECT job_name, event -> 'inputs' -> 0 -> 'inputFacets' -> 'dataplatform_quality' ->> 'rowsIn' AS rows_in,
       event -> 'outputs' -> 0 -> 'outputFacets' -> 'outputStatistics' ->> 'rowCount' AS loaded
  FROM dataplatform.openlineage_outbox WHERE event_type = 'COMPLETE' ORDER BY id;
TRUNCATE dataplatform.openlineage_outbox;

-- publish and refresh; a rejected refresh is a FAIL committed with its log
SELECT dataplatform.publish('olr_items', 'olr-item', '{"expect": [{"row_count_max": 5}]}') ->> 'status' AS published;
SELECT dataplatform.push('olr-item', '[{"reference": "C1", "name": "c"}]') > 0 AS pushed;
SELECT dataplatform.refresh('olr_items') ->> 'status' AS refreshed;
SELECT dataplatform.push('olr-item', '[{"reference": "C2", "name": "c"}]') > 0 AS pushed;
SELECT dataplatform.refresh('olr_items') ->> 'status' AS refreshed;
SELECT job_name, events, inputs, outputs FROM dp_test.ol_runs;
SELECT job_name, event_type,
       event -> 'outputs' -> 0 -> 'outputFacets' -> 'outputStatistics' ->> 'rowCount' AS row_count,
       jsonb_path_query_array(event -> 'outputs' -> 0 -> 'facets' -> 'schema' -> 'fields', '$[*].name') AS columns,
       event -> 'run' -> 'facets' -> 'dataplatform_refresh' ->> 'mode' AS mode,
       event -> 'run' -> 'facets' -> 'errorMessage' ->> 'message' AS error
  FROM dataplatform.openlineage_outbox WHERE event_type <> 'START' ORDER BY id;
TRUNCATE dataplatform.openlineage_outbox;

-- a view's column lineage (dataplatform.view_column_lineage), with how
SELECT dataplatform.publish('olr_sizes', 'SELECT upper(name) AS label, sum(size) AS total FROM dp_clean.olr_item GROUP BY upper(name)') ->> 'status' AS published;
SELECT k AS column, f ->> 'name' AS from_table, f ->> 'field' AS from_column,
       f -> 'transformations' -> 0 ->> 'type' AS type, f -> 'transformations' -> 0 ->> 'subtype' AS subtype,
       f -> 'transformations' -> 0 ->> 'description' AS description
  FROM dataplatform.openlineage_outbox,
       jsonb_each(event -> 'outputs' -> 0 -> 'facets' -> 'columnLineage' -> 'fields') AS c(k, v),
       jsonb_array_elements(v -> 'inputFields') f
 WHERE job_name = 'publish.olr_sizes' AND event_type = 'COMPLETE' ORDER BY 1, 3;
SELECT dataplatform.unpublish('olr_sizes');
TRUNCATE dataplatform.openlineage_outbox;

-- a refresh failing inside refresh_all: FAIL, written after its
-- subtransaction rolled back
SELECT dataplatform.publish('olr_names', 'SELECT reference, name FROM dp_clean.olr_item') ->> 'status' AS published;
ALTER TABLE dp_consumer_data.olr_names ADD CONSTRAINT olr_no_d CHECK (reference <> 'D1');
SELECT dataplatform.push('olr-item', '[{"reference": "D1", "name": "d"}]') > 0 AS pushed;
SET client_min_messages = error;
SELECT view, result ->> 'status' AS status FROM dataplatform.refresh_all() WHERE view LIKE 'olr%' ORDER BY 1;
SET client_min_messages = warning;
SELECT job_name, events, inputs, outputs FROM dp_test.ol_runs WHERE job_name LIKE 'refresh.olr_names';
SELECT job_name, event -> 'run' -> 'facets' -> 'errorMessage' ->> 'message' AS message
  FROM dataplatform.openlineage_outbox WHERE event_type = 'FAIL' AND job_name LIKE 'refresh.olr%' ORDER BY id;
TRUNCATE dataplatform.openlineage_outbox;

-- unset again: nothing
RESET dataplatform.openlineage_url;
SELECT dataplatform.push('olr-item', '[{"reference": "Z1", "name": "z"}]') > 0 AS pushed;
SELECT count(*) AS events_while_unset FROM dataplatform.openlineage_outbox;

-- who may read the outbox
SELECT r AS role, has_table_privilege(r, 'dataplatform.openlineage_outbox', 'SELECT') AS can_read,
       has_table_privilege(r, 'dataplatform.openlineage_outbox', 'INSERT') AS can_write
  FROM unnest(ARRAY['dataplatform_admin', 'dataplatform_auditor', 'dataplatform_producer', 'dataplatform_consumer']) r;

DROP VIEW dp_test.ol_runs;
SELECT dataplatform.unpublish('olr_items');
SELECT dataplatform.unpublish('olr_names');
