-- Catalog contracts: tables, views, columns, dump membership.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(21);

SELECT tables_are('dataplatform', ARRAY['products', 'producer_grants', 'datasets',
       'spec_version', 'fields', 'audit_log', 'audit_log_default', 'config_version', 'batch', 'issue', 'issue_default', 'quarantine_row',
       'event', 'event_default', 'event_processed', 'orphan_event', 'job', 'job_run', 'consumer_view', 'consumer_source', 'refresh_log',
       'secret', 'endpoint', 'collection_log', 'agreement', 'view_column_lineage', 'openlineage_outbox', 'consumer_replication', 'partition_rule', 'clean_change']);
SELECT tables_are('dp_raw', ARRAY['chunk']);
SELECT views_are('dp_raw', ARRAY['rows']);
SELECT views_are('dataplatform', ARRAY['product', 'dataset', 'field', 'issue_type', 'quarantine', 'status',
       'consumer_status', 'access_agreement', 'late']);
SELECT columns_are('dataplatform', 'dataset', ARRAY['name', 'product', 'version', 'key',
       'field_count', 'clean_table', 'description', 'created_at', 'updated_at']);
SELECT columns_are('dataplatform', 'field', ARRAY['dataset', 'ordinal', 'name', 'column',
       'datatype', 'is_key', 'required', 'pii', 'description', 'options']);
SELECT columns_are('dataplatform', 'product', ARRAY['name', 'description', 'domain', 'owner',
       'email', 'status', 'retention_days', 'tags', 'producers', 'datasets', 'created_at', 'updated_at',
       'licence', 'contact', 'update_frequency', 'classification']);
SELECT col_is_pk('dataplatform', 'spec_version', ARRAY['dataset', 'major', 'minor']::name[], 'spec_version key');
SELECT col_type_is('dataplatform', 'spec_version', 'spec', 'jsonb', 'spec_version.spec is jsonb');
SELECT is(
  (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_extension e, unnest(e.extconfig) cfg
     JOIN pg_class c ON c.oid = cfg WHERE e.extname = 'dataplatform'),
  ARRAY['agreement', 'agreement_id_seq', 'audit_log', 'audit_log_default', 'audit_log_id_seq', 'batch', 'batch_id_seq', 'chunk', 'collection_log', 'collection_log_id_seq',
        'config_version', 'consumer_replication', 'consumer_source', 'consumer_view', 'datasets', 'endpoint', 'event', 'event_default', 'event_processed', 'fields',
        'issue', 'issue_default', 'job', 'job_id_seq', 'mask_key', 'openlineage_outbox', 'openlineage_outbox_id_seq',
        'orphan_event', 'partition_rule', 'producer_grants', 'products', 'quarantine_row',
        'refresh_log', 'refresh_log_id_seq', 'secret', 'spec_version', 'view_column_lineage']::text[],
  'catalog tables are marked for pg_dump');
SELECT is_empty($$
  SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'dataplatform'::regnamespace
     AND c.relkind IN ('r', 'v') AND obj_description(c.oid, 'pg_class') IS NULL$$,
  'every catalog table and view has a comment');
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = 'dataplatform'::regnamespace
     AND obj_description(p.oid, 'pg_proc') IS NULL$$,
  'every API function has a comment');

-- a dataset's generated objects
SELECT lives_ok($$SELECT dataplatform.define_product('cat')$$, 'define a product');
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "cat-thing", "product": "cat", "key": ["ref", "day"],
  "description": "Things",
  "fields": [{"name": "ref", "datatype": "string", "description": "Reference"},
             {"name": "day", "datatype": "date"}, {"name": "n", "datatype": "integer"}]}')$$, 'define a dataset');
SELECT has_table('dp_clean', 'cat_thing', 'clean table');
SELECT has_table('dp_clean', 'cat_thing_history', 'history table');
SELECT col_is_pk('dp_clean', 'cat_thing', ARRAY['ref', 'day']::name[], 'composite key');
SELECT col_not_null('dp_clean', 'cat_thing', 'ref', 'key columns are required');
SELECT col_type_is('dp_clean', 'cat_thing', 'n', 'bigint', 'integer fields are bigint');
SELECT is(col_description('dp_clean.cat_thing'::regclass, 1), 'Reference', 'column comment from the spec');
SELECT is(obj_description('dp_clean.cat_thing'::regclass, 'pg_class'), 'Things', 'table comment from the spec');

SELECT * FROM finish();
ROLLBACK;
