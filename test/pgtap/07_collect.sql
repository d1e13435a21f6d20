-- Collection from HTTP endpoints: catalog contract and privileges.  Only
-- admins manage endpoints and secrets; nobody reads the secret table; every
-- collection API function is SECURITY DEFINER with a pinned search_path.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(42);

SELECT has_table('dataplatform', 'secret', 'table secret');
SELECT has_table('dataplatform', 'endpoint', 'table endpoint');
SELECT has_table('dataplatform', 'collection_log', 'table collection_log');
SELECT columns_are('dataplatform', 'secret', ARRAY['name', 'value', 'updated_by', 'updated_at', 'origins']);
SELECT columns_are('dataplatform', 'endpoint', ARRAY['name', 'dataset', 'url', 'format', 'options',
       'job_id', 'owner', 'created_at']);
SELECT columns_are('dataplatform', 'collection_log', ARRAY['id', 'endpoint', 'run_id', 'started_at',
       'http_status', 'bytes', 'sha256', 'elapsed_ms', 'outcome', 'batch_id', 'format', 'error']);

SELECT function_returns('dataplatform', 'set_secret', ARRAY['text', 'text', 'text[]'], 'void');
SELECT function_returns('dataplatform', 'drop_secret', ARRAY['text'], 'void');
SELECT function_returns('dataplatform', 'add_endpoint', ARRAY['text', 'text', 'jsonb'], 'text');
SELECT function_returns('dataplatform', 'drop_endpoint', ARRAY['text'], 'void');
SELECT function_returns('dataplatform', 'alter_endpoint', ARRAY['text', 'text', 'jsonb'], 'void');
SELECT function_returns('dataplatform', 'collect', ARRAY['text'], 'bigint');

SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p
   WHERE p.pronamespace = 'dataplatform'::regnamespace
     AND p.proname IN ('set_secret', 'drop_secret', 'add_endpoint', 'alter_endpoint', 'drop_endpoint', 'collect')
     AND NOT (p.prosecdef AND p.proconfig = ARRAY['search_path=pg_catalog, pg_temp'])$$,
  'every collection API function is SECURITY DEFINER with search_path pinned');

-- the secret table: no role but its owner has any privilege on it
SELECT is_empty($$
  SELECT r, p FROM unnest(ARRAY['dataplatform_admin', 'dataplatform_producer', 'dataplatform_consumer',
                                'dataplatform_auditor', 'public']) r,
                   unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES']) p
   WHERE has_table_privilege(r, 'dataplatform.secret', p)$$,
  'no platform role and not PUBLIC has any privilege on dataplatform.secret');
SELECT is_empty($$
  SELECT a FROM pg_class c, aclexplode(c.relacl) a
   WHERE c.oid = 'dataplatform.secret'::regclass AND a.grantee <> c.relowner$$,
  'the secret table grants nothing to anyone');
SELECT is_empty($$SELECT 1 FROM pg_attribute a
   WHERE a.attrelid = 'dataplatform.secret'::regclass AND a.attacl IS NOT NULL$$,
  'no column privilege on the secret table either');

-- functions per role
SELECT ok(has_function_privilege('dataplatform_admin', 'dataplatform.set_secret(text, text, text[])', 'EXECUTE'), 'admins set secrets');
SELECT ok(has_function_privilege('dataplatform_admin', 'dataplatform.add_endpoint(text, text, jsonb)', 'EXECUTE'), 'admins add endpoints');
SELECT ok(has_function_privilege('dataplatform_admin', 'dataplatform.collect(text)', 'EXECUTE'), 'admins collect');
SELECT ok(has_function_privilege('dataplatform_admin', 'dataplatform.drop_endpoint(text)', 'EXECUTE'), 'admins drop endpoints');
SELECT ok(has_function_privilege('dataplatform_admin', 'dataplatform.alter_endpoint(text, text, jsonb)', 'EXECUTE'), 'admins alter endpoints');
SELECT ok(NOT has_function_privilege('dataplatform_producer', 'dataplatform.alter_endpoint(text, text, jsonb)', 'EXECUTE'), 'producers do not alter endpoints');
SELECT ok(NOT has_function_privilege('dataplatform_consumer', 'dataplatform.alter_endpoint(text, text, jsonb)', 'EXECUTE')
      AND NOT has_function_privilege('dataplatform_auditor', 'dataplatform.alter_endpoint(text, text, jsonb)', 'EXECUTE'), 'consumers and auditors do not alter endpoints');
SELECT ok(NOT has_function_privilege('public', 'dataplatform.alter_endpoint(text, text, jsonb)', 'EXECUTE'), 'PUBLIC does not alter endpoints');
SELECT ok(NOT has_function_privilege('dataplatform_producer', 'dataplatform.set_secret(text, text, text[])', 'EXECUTE'), 'producers do not set secrets');
SELECT ok(NOT has_function_privilege('dataplatform_producer', 'dataplatform.add_endpoint(text, text, jsonb)', 'EXECUTE'), 'producers do not add endpoints');
SELECT ok(NOT has_function_privilege('dataplatform_consumer', 'dataplatform.collect(text)', 'EXECUTE'), 'consumers do not collect');
SELECT ok(NOT has_function_privilege('dataplatform_auditor', 'dataplatform.drop_secret(text)', 'EXECUTE'), 'auditors do not drop secrets');
SELECT ok(NOT has_function_privilege('public', 'dataplatform.collect(text)', 'EXECUTE'), 'PUBLIC does not collect');
SELECT ok(has_table_privilege('dataplatform_admin', 'dataplatform.endpoint', 'SELECT'), 'admins read endpoint');
SELECT ok(has_table_privilege('dataplatform_admin', 'dataplatform.collection_log', 'SELECT'), 'admins read collection_log');
SELECT ok(NOT has_table_privilege('dataplatform_admin', 'dataplatform.endpoint', 'INSERT')
       AND NOT has_table_privilege('dataplatform_admin', 'dataplatform.collection_log', 'UPDATE'), 'admins do not write them directly');
SELECT ok(NOT has_table_privilege('dataplatform_producer', 'dataplatform.collection_log', 'SELECT'), 'producers do not read collection_log');
SELECT ok(NOT has_table_privilege('dataplatform_auditor', 'dataplatform.endpoint', 'SELECT'), 'auditors do not read endpoint');

-- the setting
SELECT is((SELECT context FROM pg_settings WHERE name = 'dataplatform.allowed_hosts'), 'superuser',
          'dataplatform.allowed_hosts is a superuser setting');

-- behaviour: an admin stores a secret it cannot read back
CREATE ROLE tap_collect_admin IN ROLE dataplatform_admin;
CREATE ROLE tap_collect_producer IN ROLE dataplatform_producer;
SET LOCAL ROLE tap_collect_admin;
SELECT lives_ok($$SELECT dataplatform.set_secret('tap-token', 'Bearer tap-value')$$, 'an admin sets a secret');
SELECT throws_ok($$SELECT value FROM dataplatform.secret$$, '42501', NULL, 'the admin cannot read it back');
SELECT throws_ok($$UPDATE dataplatform.secret SET value = 'x'$$, '42501', NULL, 'nor write the table directly');
RESET ROLE;
SET LOCAL ROLE tap_collect_producer;
SELECT throws_ok($$SELECT dataplatform.set_secret('tap-token', 'mine')$$, '42501', NULL, 'a producer cannot set a secret');
SELECT throws_ok($$SELECT * FROM dataplatform.secret$$, '42501', NULL, 'a producer cannot read secrets');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM dataplatform.audit_log WHERE action = 'set_secret' AND detail::text LIKE '%tap-value%'), 0,
          'the audit log does not hold the value');
SELECT is((SELECT updated_by::text FROM dataplatform.secret WHERE name = 'tap-token'), 'tap_collect_admin',
          'the secret records who set it');

SELECT * FROM finish();
ROLLBACK;
