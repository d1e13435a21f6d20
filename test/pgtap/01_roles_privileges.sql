-- Roles, schemas and privileges: who may call and read what.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(87);

-- schemas and group roles
SELECT has_schema(s) FROM unnest(ARRAY['dataplatform', 'dp_raw', 'dp_clean', 'dp_consumer']) s;
SELECT has_role(r) FROM unnest(ARRAY['dataplatform_admin', 'dataplatform_producer',
                                     'dataplatform_consumer', 'dataplatform_auditor']) r;
SELECT ok(NOT rolcanlogin, rolname || ' is NOLOGIN') FROM pg_roles
 WHERE rolname IN ('dataplatform_admin', 'dataplatform_producer', 'dataplatform_consumer', 'dataplatform_auditor')
 ORDER BY rolname;

-- the API, with its signatures
SELECT functions_are('dataplatform', ARRAY['define_product', 'grant_producer', 'revoke_producer',
       'grant_consumer', 'revoke_consumer', 'define_dataset', 'describe', 'normalise', 'issue_types',
       'configure', 'push', 'push_csv', 'push_geojson', 'check', 'check_csv', 'rebuild', 'purge_raw', 'raw_guard',
       'raw_element', 'raw_insert', 'raw_rows',
       'dataset_status', 'load_snapshot', 'apply_events', 'as_of', 'entity_history', 'resync_report',
       'schedule', 'unschedule', 'alter_job', 'run_now', 'wait_for_run', 'next_run', 'worker_wake',
       'process_queued', 'rebuild_changed', 'check_freshness', 'import_contract', 'export_contract',
       'set_secret', 'drop_secret', 'add_endpoint', 'alter_endpoint', 'drop_endpoint', 'collect', 'generate', 'mask', 'sees_pii',
       'publish', 'unpublish', 'refresh', 'refresh_all', 'export', 'view_status',
       'request_access', 'approve_access', 'reject_access', 'revoke_access', 'access_review',
       'in_scope', 'agreement_changed',
       'audit_guard', 'apply_retention', 'purge_audit',
       'lineage', 'lineage_of_record', 'lineage_of_batch', 'catalogue', 'catalogue_frequency', 'catalogue_licence',
       'catalogue_dcat_ap', 'audit_receive', 'replicate_consumer', 'replication_apply', 'replication_columns',
       'replication_subscriber_sql', 'replication_sync', 'create_partitions', 'partition_guard']);
SELECT has_function('dataplatform', 'normalise', ARRAY['text', 'text', 'jsonb']);
SELECT isnt_definer('dataplatform', 'normalise', ARRAY['text', 'text', 'jsonb'], 'normalise writes nothing and runs as the caller');
SELECT function_privs_are('dataplatform', 'normalise', ARRAY['text', 'text', 'jsonb'], 'dataplatform_consumer', ARRAY['EXECUTE']);
SELECT table_privs_are('dataplatform', 'issue_type', 'dataplatform_producer', ARRAY['SELECT']);
SELECT has_function('dataplatform', 'define_product', ARRAY['text', 'jsonb']);
SELECT has_function('dataplatform', 'grant_producer', ARRAY['text', 'name']);
SELECT has_function('dataplatform', 'revoke_producer', ARRAY['text', 'name']);
SELECT has_function('dataplatform', 'grant_consumer', ARRAY['name', 'boolean']);
SELECT has_function('dataplatform', 'revoke_consumer', ARRAY['name']);
SELECT has_function('dataplatform', 'define_dataset', ARRAY['jsonb', 'boolean', 'boolean']);
SELECT has_function('dataplatform', 'describe', ARRAY['text']);
SELECT function_returns('dataplatform', 'define_dataset', ARRAY['jsonb', 'boolean', 'boolean'], 'text');
SELECT function_returns('dataplatform', 'describe', ARRAY['text'], 'jsonb');

-- every SECURITY DEFINER function pins search_path to pg_catalog, pg_temp
SELECT is_definer('dataplatform', f, f || ' is SECURITY DEFINER') FROM unnest(ARRAY['define_product', 'grant_producer',
       'revoke_producer', 'grant_consumer', 'revoke_consumer', 'define_dataset', 'describe']) f;
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p
   WHERE p.pronamespace = 'dataplatform'::regnamespace AND p.prosecdef
     AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)$$,
  'every SECURITY DEFINER function has search_path = pg_catalog, pg_temp');
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p
   WHERE p.pronamespace = 'dataplatform'::regnamespace
     AND has_function_privilege('public', p.oid, 'EXECUTE')$$,
  'PUBLIC may execute no API function');

-- who may execute what
SELECT function_privs_are('dataplatform', 'define_dataset', ARRAY['jsonb', 'boolean', 'boolean'], 'dataplatform_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('dataplatform', 'define_dataset', ARRAY['jsonb', 'boolean', 'boolean'], 'dataplatform_producer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'define_dataset', ARRAY['jsonb', 'boolean', 'boolean'], 'dataplatform_consumer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'define_product', ARRAY['text', 'jsonb'], 'dataplatform_producer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'grant_producer', ARRAY['text', 'name'], 'dataplatform_producer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'grant_consumer', ARRAY['name', 'boolean'], 'dataplatform_consumer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'describe', ARRAY['text'], 'dataplatform_producer', ARRAY['EXECUTE']);
SELECT function_privs_are('dataplatform', 'describe', ARRAY['text'], 'dataplatform_consumer', ARRAY[]::text[]);

-- who may read what
SELECT schema_privs_are('dp_raw', 'dataplatform_producer', ARRAY[]::text[]);
SELECT schema_privs_are('dp_clean', 'dataplatform_producer', ARRAY[]::text[]);
SELECT schema_privs_are('dp_clean', 'dataplatform_consumer', ARRAY[]::text[]);
SELECT schema_privs_are('dp_clean', 'dataplatform_admin', ARRAY['USAGE']);
SELECT schema_privs_are('dp_consumer', 'dataplatform_consumer', ARRAY['USAGE']);
SELECT schema_privs_are('dp_clean', 'public', ARRAY[]::text[]);
SELECT table_privs_are('dataplatform', 'audit_log', 'dataplatform_auditor', ARRAY['SELECT']);
SELECT table_privs_are('dataplatform', 'audit_log', 'dataplatform_admin', ARRAY[]::text[]);
SELECT table_privs_are('dataplatform', 'products', 'dataplatform_producer', ARRAY[]::text[]);
SELECT table_privs_are('dataplatform', 'dataset', 'dataplatform_producer', ARRAY['SELECT']);

-- a plain role, a producer and an admin, in practice
CREATE ROLE tap_plain;
CREATE ROLE tap_producer;
CREATE ROLE tap_admin IN ROLE dataplatform_admin;
SELECT lives_ok($$SELECT dataplatform.define_product('tap')$$, 'define a product');
SELECT lives_ok($$SELECT dataplatform.grant_producer('tap', 'tap_producer')$$, 'grant a producer');
SELECT is(dataplatform.define_dataset('{"dataset": "tap-items", "product": "tap", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "select", "datatype": "string"},
             {"name": "Order Date", "datatype": "date"}]}'), '1.0', 'define a dataset');
SELECT has_table('dp_clean', 'tap_items', 'dataset table name is snake_case');
SELECT has_column('dp_clean', 'tap_items', 'select', 'a reserved word becomes a quoted column');
SELECT has_column('dp_clean', 'tap_items', 'order_date', 'spaces become underscores');
SELECT table_privs_are('dp_clean', 'tap_items', 'dataplatform_admin', ARRAY['SELECT']);
SELECT table_privs_are('dp_clean', 'tap_items', 'dataplatform_producer', ARRAY[]::text[]);

SET LOCAL ROLE tap_plain;
SELECT throws_ok($$SELECT * FROM dp_clean.tap_items$$, '42501', NULL, 'a plain role cannot read dp_clean');
SELECT throws_ok($$SELECT * FROM dp_raw.nothing$$, '42501', NULL, 'a plain role cannot use dp_raw');
SELECT throws_ok($$SELECT dataplatform.define_dataset('{}')$$, '42501', NULL, 'a plain role cannot call define_dataset');
SELECT throws_ok($$SELECT dataplatform.define_product('x')$$, '42501', NULL, 'a plain role cannot call define_product');
SELECT throws_ok($$SELECT * FROM dataplatform.products$$, '42501', NULL, 'a plain role cannot read the catalog');
RESET ROLE;

SET LOCAL ROLE tap_producer;
SELECT throws_ok($$SELECT * FROM dp_clean.tap_items$$, '42501', NULL, 'a producer cannot read dp_clean');
SELECT throws_ok($$SELECT dataplatform.define_dataset('{}')$$, '42501', NULL, 'a producer cannot call define_dataset');
SELECT throws_ok($$SELECT dataplatform.grant_producer('tap', 'tap_plain')$$, '42501', NULL, 'a producer cannot grant');
SELECT throws_ok($$SELECT * FROM dataplatform.audit_log$$, '42501', NULL, 'a producer cannot read the audit log');
SELECT is(dataplatform.describe('tap-items') ->> 'version', '1.0', 'a producer can describe a dataset');
SELECT is((SELECT count(*)::int FROM dataplatform.dataset WHERE name = 'tap-items'), 1, 'a producer can list datasets');
RESET ROLE;

SET LOCAL ROLE tap_admin;
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "tap-items", "product": "tap", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "select", "datatype": "string"},
             {"name": "Order Date", "datatype": "date"}, {"name": "note", "datatype": "text"}]}')$$,
  'an admin (not superuser) can define a dataset');
SELECT is((SELECT count(*)::int FROM dp_clean.tap_items), 0, 'an admin can read dp_clean');
SELECT throws_ok($$SELECT * FROM dataplatform.audit_log$$, '42501', NULL, 'an admin cannot read the audit log');
RESET ROLE;

-- history (partitioned) and the removed keys: admins only; a partition of
-- history has no grants of its own (read through its parent)
SELECT lives_ok($$SELECT dataplatform.push('tap-items', '[{"id": 1, "select": "a"}]')$$, 'push a record');
SELECT lives_ok($$SELECT dataplatform.push('tap-items', '[{"id": 1, "select": "b"}]')$$, 'change it: a version in history');
SELECT table_privs_are('dp_clean', 'tap_items_history', 'dataplatform_admin', ARRAY['SELECT']);
SELECT table_privs_are('dp_clean', 'tap_items_history', 'dataplatform_producer', ARRAY[]::text[]);
SELECT table_privs_are('dp_clean', 'tap_items_removed', 'dataplatform_producer', ARRAY[]::text[]);
SELECT is((SELECT count(*)::int FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'dp_clean.tap_items_history'::regclass AND c.relacl IS NULL), 1,
          'the history partition carries no grants');
SELECT set_config('tap.part', (SELECT inhrelid::regclass::text FROM pg_inherits
                               WHERE inhparent = 'dp_clean.tap_items_history'::regclass), true);
SET LOCAL ROLE tap_producer;
SELECT throws_ok(format('SELECT * FROM %s', current_setting('tap.part')), '42501', NULL,
                 'a producer cannot read a history partition');
RESET ROLE;
SET LOCAL ROLE tap_admin;
SELECT is((SELECT count(*)::int FROM dp_clean.tap_items_history), 1, 'an admin reads history through its parent');
RESET ROLE;

-- the C functions check the caller even if EXECUTE is granted too widely
GRANT EXECUTE ON FUNCTION dataplatform.define_dataset(jsonb, boolean, boolean) TO tap_producer;
SET LOCAL ROLE tap_producer;
SELECT throws_ok($$SELECT dataplatform.define_dataset('{"dataset": "z", "product": "tap", "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}]}')$$,
  '42501', 'permission denied to define a dataset', 'define_dataset checks the caller itself');
RESET ROLE;

-- SECURITY DEFINER functions ignore the caller's search_path: an admin's
-- schema that shadows pg_catalog functions is never called
CREATE SCHEMA tap_evil;
CREATE TABLE tap_evil.called (fn text);
CREATE FUNCTION tap_evil.quote_ident(text) RETURNS text LANGUAGE sql
  AS $$ INSERT INTO tap_evil.called VALUES ('quote_ident') RETURNING 'x' $$;
CREATE FUNCTION tap_evil.texteq(text, text) RETURNS boolean LANGUAGE sql
  AS $$ INSERT INTO tap_evil.called VALUES ('=') RETURNING false $$;
CREATE OPERATOR tap_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = tap_evil.texteq);
CREATE FUNCTION tap_evil.now() RETURNS timestamptz LANGUAGE sql
  AS $$ INSERT INTO tap_evil.called VALUES ('now') RETURNING pg_catalog.now() $$;
SET LOCAL search_path = tap_evil, public;
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "tap-items", "product": "tap", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "select", "datatype": "string"},
             {"name": "Order Date", "datatype": "date"}, {"name": "note", "datatype": "text"},
             {"name": "extra", "datatype": "text"}]}')$$, 'define_dataset runs with a hostile search_path');
SELECT is_empty($$SELECT * FROM tap_evil.called$$, 'no function from the caller''s search_path was called');
SELECT is(dataplatform.describe('tap-items') ->> 'clean_table', 'dp_clean.tap_items', 'describe runs with a hostile search_path');
RESET search_path;

SELECT * FROM finish();
ROLLBACK;
