-- import_contract and export_contract: signatures, SECURITY DEFINER with a
-- pinned search_path, and who may call them.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(14);

SELECT has_function('dataplatform', 'import_contract', ARRAY['text', 'jsonb'], 'import_contract(text, jsonb)');
SELECT has_function('dataplatform', 'export_contract', ARRAY['text', 'text'], 'export_contract(text, text)');
SELECT function_returns('dataplatform', 'import_contract', ARRAY['text', 'jsonb'], 'jsonb');
SELECT function_returns('dataplatform', 'export_contract', ARRAY['text', 'text'], 'text');
SELECT is_definer('dataplatform', 'import_contract', ARRAY['text', 'jsonb'], 'import_contract is SECURITY DEFINER');
SELECT is_definer('dataplatform', 'export_contract', ARRAY['text', 'text'], 'export_contract is SECURITY DEFINER');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'dataplatform.import_contract(text, jsonb)'::regprocedure),
          ARRAY['search_path=pg_catalog, pg_temp'], 'import_contract pins its search_path');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'dataplatform.export_contract(text, text)'::regprocedure),
          ARRAY['search_path=pg_catalog, pg_temp'], 'export_contract pins its search_path');

CREATE ROLE tap_contract_admin IN ROLE dataplatform_admin;
CREATE ROLE tap_contract_producer;
CREATE ROLE tap_contract_consumer;
SELECT dataplatform.grant_consumer('tap_contract_consumer');

SET ROLE tap_contract_admin;
SELECT is(dataplatform.import_contract(
  '{"fields": [{"name": "id", "type": "integer"}], "primaryKey": "id"}',
  '{"product": "tap-contracts", "dataset": "tap-contract"}') #>> '{datasets,0,version}', '1.0',
  'an admin imports a contract');
RESET ROLE;
SELECT dataplatform.grant_producer('tap-contracts', 'tap_contract_producer');

SET ROLE tap_contract_producer;
SELECT throws_ok($$SELECT dataplatform.import_contract('{"fields": [{"name": "id"}], "primaryKey": "id"}',
  '{"product": "tap-contracts", "dataset": "other"}')$$, '42501', NULL, 'a producer cannot import a contract');
SELECT ok(dataplatform.export_contract('tap-contract') LIKE 'apiVersion: v3.2.0%', 'a producer exports ODCS');
SELECT ok(dataplatform.export_contract('tap-contract', 'table-schema')::jsonb ? 'fields', 'and a Table Schema');
RESET ROLE;

SET ROLE tap_contract_consumer;
SELECT throws_ok($$SELECT dataplatform.export_contract('tap-contract')$$, '42501', NULL,
  'a consumer cannot export a contract');
SELECT throws_ok($$SELECT dataplatform.import_contract('{}')$$, '42501', NULL,
  'nor import one');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
