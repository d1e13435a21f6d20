-- Lineage and the catalogue: the functions' contracts, who may call them,
-- and what each role's trail holds (a consumer: the row as it may read it,
-- PII masked, cut at the view; a producer or a role without an agreement:
-- nothing; an admin: everything down to raw).
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(27);

SELECT has_table('dataplatform', 'view_column_lineage', 'view_column_lineage');
SELECT ok((SELECT 'dataplatform.view_column_lineage'::regclass = ANY (e.extconfig) FROM pg_extension e
            WHERE e.extname = 'dataplatform'), 'column lineage is kept by pg_dump');
SELECT has_function('dataplatform', 'lineage', ARRAY['text', 'jsonb', 'integer'], 'lineage(relation, key, max_rows)');
SELECT function_returns('dataplatform', 'lineage', ARRAY['text', 'jsonb', 'integer'], 'jsonb', 'lineage returns jsonb');
SELECT has_function('dataplatform', 'catalogue', ARRAY['text'], 'catalogue(format)');
-- the trail runs as the caller, so it can show no more than the caller may read
SELECT is_empty($$
  SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'dataplatform'::regnamespace
     AND p.proname IN ('lineage', 'lineage_of_record', 'lineage_of_batch')
     AND (p.prosecdef OR NOT (p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'])
          OR has_function_privilege('public', p.oid, 'EXECUTE'))$$,
  'lineage functions run as the caller, search_path pinned, not executable by PUBLIC');
SELECT is_empty($$
  SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'dataplatform'::regnamespace
     AND p.proname = 'catalogue'
     AND (NOT p.prosecdef OR NOT (p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'])
          OR has_function_privilege('public', p.oid, 'EXECUTE'))$$,
  'catalogue is SECURITY DEFINER, search_path pinned, not executable by PUBLIC');
SELECT function_privs_are('dataplatform', 'lineage', ARRAY['text', 'jsonb', 'integer'], 'dataplatform_producer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'lineage', ARRAY['text', 'jsonb', 'integer'], 'dataplatform_consumer', ARRAY['EXECUTE']);
SELECT function_privs_are('dataplatform', 'lineage_of_record', ARRAY['text', 'jsonb'], 'dataplatform_consumer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'lineage_of_batch', ARRAY['bigint'], 'dataplatform_consumer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'catalogue', ARRAY['text'], 'dataplatform_auditor', ARRAY['EXECUTE']);

-- data: a dataset with a PII field, published; a consumer, a producer, an admin
SET LOCAL dataplatform.environment = 'production';
CREATE ROLE tap_lin_bi LOGIN;
CREATE ROLE tap_lin_none IN ROLE dataplatform_consumer;
CREATE ROLE tap_lin_prod;
CREATE ROLE tap_lin_admin IN ROLE dataplatform_admin;
SELECT lives_ok($$SELECT dataplatform.define_product('tap-lin', '{"email": "tap@example.org", "owner": "Tap"}')$$, 'a product');
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "tap-lin", "product": "tap-lin", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "who", "datatype": "string", "pii": true},
             {"name": "rent", "datatype": "decimal"}]}')$$, 'a dataset with a PII field');
SELECT dataplatform.grant_producer('tap-lin', 'tap_lin_prod');
SELECT dataplatform.grant_consumer('tap_lin_bi');
SET LOCAL ROLE tap_lin_prod;
SELECT lives_ok($$SELECT dataplatform.push('tap-lin', '[{"id": 1, "who": "Ann Example", "rent": "10"}]')$$, 'a producer pushes');
SELECT throws_ok($$SELECT dataplatform.lineage('tap-lin', '1')$$, '42501', NULL, 'a producer cannot trace');
RESET ROLE;
SELECT lives_ok($$SELECT dataplatform.publish('tap_lin', 'tap-lin')$$, 'published');

SET LOCAL ROLE tap_lin_bi;
SELECT is(dataplatform.lineage('tap_lin', '{"id": 1}') #>> '{row,who}' = 'Ann Example', false,
  'a consumer without pii sees the PII column masked');
SELECT is(dataplatform.lineage('tap_lin', '{"id": 1}') ? 'sources', false, 'and nothing below the view');
SELECT is(dataplatform.lineage('tap_lin', '{"id": 1}') #>> '{cut,at}', 'view', 'the trail says where it is cut');
SELECT throws_ok($$SELECT dataplatform.lineage('tap-lin', '1')$$, '42501', NULL, 'a consumer cannot trace a dataset');
SELECT throws_ok($$SELECT dataplatform.lineage_of_batch(1)$$, '42501', NULL, 'nor a batch');
SELECT isnt(dataplatform.catalogue() -> 'dataset', '[]'::jsonb, 'a consumer reads the catalogue');
RESET ROLE;

SET LOCAL ROLE tap_lin_none;
SELECT throws_ok($$SELECT dataplatform.lineage('tap_lin', '{"id": 1}')$$, '42501', NULL,
  'a consumer without an agreement cannot trace a view''s row');
RESET ROLE;

SET LOCAL ROLE tap_lin_admin;
SELECT is(dataplatform.lineage('tap_lin', '{"id": 1}') #>> '{row,who}', 'Ann Example', 'an admin sees the real value');
SELECT is(dataplatform.lineage('tap_lin', '{"id": 1}') #>> '{sources,0,records,0,versions,0,raw,data,who}', 'Ann Example',
  'and the raw row as received');
SELECT is(dataplatform.lineage('tap_lin', '{"id": 1}') #>> '{sources,0,records,0,versions,0,batch,pushed_by}', 'tap_lin_prod',
  'and who pushed it');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
