-- The consumer layer's contracts: catalog, functions, who may do what, and
-- what a consumer role (a BI tool's login) finds and reads.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(44);

-- catalog
SELECT has_table('dataplatform', 'consumer_view', 'consumer_view');
SELECT has_table('dataplatform', 'consumer_source', 'consumer_source');
SELECT has_table('dataplatform', 'refresh_log', 'refresh_log');
SELECT has_view('dataplatform', 'consumer_status', 'consumer_status');
SELECT has_schema('dp_consumer_state', 'state schema of aggregate views');
SELECT col_is_pk('dataplatform', 'consumer_view', 'name', 'views by name');
SELECT col_type_is('dataplatform', 'consumer_view', 'definition', 'text', 'definitions are SQL text');
SELECT columns_are('dataplatform', 'consumer_status', ARRAY['view', 'method', 'key', 'description', 'row_count',
       'published_at', 'refreshed_at', 'last_status', 'pending_batches', 'pending_rows', 'last_expectations']);
SELECT ok((SELECT bool_and(c.oid = ANY (e.extconfig)) FROM pg_extension e, pg_class c
            WHERE e.extname = 'dataplatform' AND c.oid IN ('dataplatform.consumer_view'::regclass,
                  'dataplatform.consumer_source'::regclass, 'dataplatform.refresh_log'::regclass)),
          'consumer catalog tables are kept by pg_dump');

-- functions: signatures, SECURITY DEFINER with a pinned search_path, not for PUBLIC
SELECT has_function('dataplatform', 'publish', ARRAY['text', 'text', 'jsonb'], 'publish(name, source, options)');
SELECT has_function('dataplatform', 'unpublish', ARRAY['text'], 'unpublish(name)');
SELECT has_function('dataplatform', 'refresh', ARRAY['text', 'boolean'], 'refresh(name, full)');
SELECT has_function('dataplatform', 'refresh_all', ARRAY[]::text[], 'refresh_all()');
SELECT has_function('dataplatform', 'export', ARRAY['text', 'text'], 'export(name, format)');
SELECT function_returns('dataplatform', 'refresh', ARRAY['text', 'boolean'], 'jsonb', 'refresh returns jsonb');
SELECT is_empty($$
  SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'dataplatform'::regnamespace
     AND p.proname IN ('publish', 'unpublish', 'refresh', 'refresh_all', 'export', 'view_status')
     AND (NOT p.prosecdef OR NOT (p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'])
          OR has_function_privilege('public', p.oid, 'EXECUTE'))$$,
  'consumer API functions are SECURITY DEFINER, search_path pinned, not executable by PUBLIC');

-- data
CREATE ROLE tap_bi LOGIN;
CREATE ROLE tap_admin IN ROLE dataplatform_admin;
CREATE ROLE tap_prod;
CREATE ROLE tap_nobody;
SELECT lives_ok($$SELECT dataplatform.define_product('tap-c')$$, 'a product');
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "tap-lease", "product": "tap-c", "key": ["id"],
  "description": "Leases", "fields": [{"name": "id", "datatype": "integer", "description": "Lease number"},
  {"name": "kind", "datatype": "string", "description": "Lease type"}, {"name": "rent", "datatype": "decimal"}]}')$$, 'a dataset');
SELECT lives_ok($$SELECT dataplatform.push('tap-lease', '[{"id": 1, "kind": "SEC", "rent": "10"}, {"id": 2, "kind": "FLT", "rent": "20"}]')$$, 'data');
SELECT lives_ok($$SELECT dataplatform.grant_consumer('tap_bi')$$, 'a consumer');
SELECT lives_ok($$SELECT dataplatform.grant_producer('tap-c', 'tap_prod')$$, 'a producer');

SET LOCAL ROLE tap_admin;
SELECT lives_ok($$SELECT dataplatform.publish('tap_lease', 'tap-lease', '{"description": "All leases"}')$$, 'an admin publishes a dataset');
SELECT lives_ok($$SELECT dataplatform.publish('tap_rent', 'SELECT kind, sum(rent) AS rent FROM dp_clean.tap_lease GROUP BY kind')$$,
  'and an aggregate');
SELECT lives_ok($$SELECT dataplatform.refresh('tap_lease')$$, 'an admin refreshes');
RESET ROLE;

SELECT table_privs_are('dp_consumer', 'tap_lease', 'dataplatform_consumer', ARRAY['SELECT'], 'consumers may only SELECT');
SELECT table_privs_are('dp_consumer', 'tap_lease', 'public', ARRAY[]::text[], 'PUBLIC may not');
SELECT has_index('dp_consumer_data', 'tap_lease', 'tap_lease_key', 'a unique index on the key');

-- what a BI tool does with its login
SET LOCAL ROLE tap_bi;
SELECT set_eq($$SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'dp_consumer'$$,
  ARRAY['tap_lease', 'tap_rent'], 'a consumer finds the published tables in information_schema');
SELECT set_eq($$SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = 'dp_consumer' AND table_name = 'tap_lease'$$,
  ARRAY['id', 'kind', 'rent'], 'and their columns');
SELECT is((SELECT d.description FROM pg_description d JOIN information_schema.columns c
             ON d.objoid = 'dp_consumer.tap_lease'::regclass AND d.objsubid = c.ordinal_position
           WHERE c.table_schema = 'dp_consumer' AND c.table_name = 'tap_lease' AND c.column_name = 'kind'),
  'Lease type', 'and the column comments from the spec, through pg_description');
SELECT is(obj_description('dp_consumer.tap_lease'::regclass, 'pg_class'), 'All leases', 'and the table comment');
SELECT results_eq($$SELECT id, kind FROM dp_consumer.tap_lease ORDER BY id$$,
  $$VALUES (1::bigint, 'SEC'::text), (2, 'FLT')$$, 'a consumer reads a published table');
SELECT lives_ok($$SELECT dataplatform.export('tap_rent', 'csv')$$, 'a consumer exports');
SELECT lives_ok($$SELECT * FROM dataplatform.consumer_status$$, 'a consumer reads consumer_status');
SELECT throws_ok($$SELECT * FROM dp_clean.tap_lease$$, '42501', NULL, 'a consumer cannot read dp_clean');
SELECT throws_ok($$SELECT * FROM dp_consumer_state.tap_rent$$, '42501', NULL, 'nor the state of aggregate views');
SELECT throws_ok($$DELETE FROM dp_consumer.tap_lease$$, '42501', NULL, 'nor change a published table');
SELECT throws_ok($$SELECT dataplatform.refresh('tap_lease')$$, '42501', NULL, 'nor refresh');
SELECT throws_ok($$SELECT dataplatform.publish('x', 'tap-lease')$$, '42501', NULL, 'nor publish');
SELECT throws_ok($$SELECT * FROM dataplatform.refresh_log$$, '42501', NULL, 'nor read the refresh log');
RESET ROLE;

SET LOCAL ROLE tap_prod;
SELECT throws_ok($$SELECT * FROM dp_consumer.tap_lease$$, '42501', NULL, 'a producer does not read dp_consumer');
SELECT throws_ok($$SELECT dataplatform.publish('x', 'tap-lease')$$, '42501', NULL, 'nor publish');
RESET ROLE;

SET LOCAL ROLE tap_nobody;
SELECT throws_ok($$SELECT * FROM dp_consumer.tap_lease$$, '42501', NULL, 'a plain role reads nothing');
SELECT throws_ok($$SELECT dataplatform.export('tap_lease', 'csv')$$, '42501', NULL, 'nor exports');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
