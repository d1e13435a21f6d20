-- Environments: only a superuser chooses the environment and the key; a
-- producer cannot turn obfuscation off, read the key, or get PII stored in
-- clear by pushing without one.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(12);

CREATE ROLE tap_env_producer;
CREATE ROLE tap_env_admin IN ROLE dataplatform_admin;
SELECT lives_ok($$SELECT dataplatform.define_product('env')$$, 'a product');
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "env-person", "product": "env", "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}, {"name": "name", "datatype": "string", "pii": true}]}')$$, 'a dataset with a PII field');
SELECT lives_ok($$SELECT dataplatform.grant_producer('env', 'tap_env_producer')$$, 'a producer');
SET LOCAL dataplatform.environment = 'staging';
SET LOCAL dataplatform.obfuscation_key = 'tap-key';

SET LOCAL ROLE tap_env_producer;
SELECT throws_ok($$SET dataplatform.environment = 'production'$$, '42501', NULL, 'a producer cannot switch to production');
SELECT throws_ok($$SET dataplatform.obfuscation_key = 'mine'$$, '42501', NULL, 'nor choose the key');
SELECT throws_ok($$SHOW dataplatform.obfuscation_key$$, '42501', NULL, 'nor read the key');
SELECT is((SELECT count(*) FROM pg_settings WHERE name = 'dataplatform.obfuscation_key'), 0::bigint,
          'the key is not in pg_settings for a producer');
SELECT throws_ok($$SELECT current_setting('dataplatform.obfuscation_key')$$, '42501', NULL, 'nor through current_setting');
SELECT lives_ok($$SELECT dataplatform.push('env-person', '{"id": 1, "name": "Clear Name"}')$$, 'the producer pushes');
RESET ROLE;
SELECT is((SELECT name FROM dp_clean.env_person WHERE id = 1) LIKE 'tok_%', true, 'and the value is stored as a token');

SET LOCAL ROLE tap_env_admin;
SELECT throws_ok($$SET dataplatform.environment = 'production'$$, '42501', NULL, 'an admin cannot switch to production either');
RESET ROLE;
SET LOCAL dataplatform.obfuscation_key = '';
SET LOCAL ROLE tap_env_producer;
SELECT throws_ok($$SELECT dataplatform.push('env-person', '{"id": 2, "name": "Clear Name"}')$$, '55000', NULL,
                 'without a key a PII push is refused, not stored in clear');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
