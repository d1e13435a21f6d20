-- Column-level consumer access: a consumer granted without pii never sees a
-- PII value of a published view, however it reads it; one granted with pii
-- does; nobody but the owner reads the masking key or the rows behind.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(16);

SET LOCAL dataplatform.environment = 'production';
CREATE ROLE tap_masked;
CREATE ROLE tap_pii;
CREATE ROLE tap_producer;
SELECT lives_ok($$SELECT dataplatform.define_product('mask')$$, 'a product');
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "mask-person", "product": "mask", "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}, {"name": "name", "datatype": "string", "pii": true}, {"name": "ward", "datatype": "string"}]}')$$, 'a dataset with a PII field');
SELECT lives_ok($$SELECT dataplatform.push('mask-person', '[{"id": 1, "name": "Secret Person", "ward": "Dalston"}]')$$, 'a push');
SELECT lives_ok($$SELECT dataplatform.publish('mask_person', 'mask-person')$$, 'published');
SELECT lives_ok($$SELECT dataplatform.grant_consumer('tap_masked')$$, 'a consumer, without pii');
SELECT lives_ok($$SELECT dataplatform.grant_consumer('tap_pii', true)$$, 'a consumer with pii');
SELECT lives_ok($$SELECT dataplatform.grant_producer('mask', 'tap_producer')$$, 'a producer');

CREATE SCHEMA tap_evil;
CREATE FUNCTION tap_evil.sees_pii() RETURNS boolean LANGUAGE sql AS 'SELECT true';
GRANT USAGE ON SCHEMA tap_evil TO PUBLIC;
SET LOCAL ROLE tap_masked;
SELECT is((SELECT count(*) FROM dp_consumer.mask_person WHERE name LIKE '%Secret%'), 0::bigint, 'SELECT shows a token');
PREPARE tap_p AS SELECT name FROM dp_consumer.mask_person WHERE id = 1;
SELECT isnt((SELECT name FROM dp_consumer.mask_person WHERE id = 1), 'Secret Person', 'so does a query on the view');
SELECT is(position('Secret' IN dataplatform.export('mask_person')), 0, 'and export (it runs as the owner)');
SELECT throws_ok($$SELECT * FROM dp_consumer_data.mask_key$$, '42501', NULL, 'the key is not readable');
SELECT throws_ok($$SELECT * FROM dp_consumer_data.mask_person$$, '42501', NULL, 'nor the rows behind');
SET LOCAL search_path = tap_evil, public;
SELECT is((SELECT count(*) FROM dp_consumer.mask_person WHERE name LIKE '%Secret%'), 0::bigint,
          'a shadowing sees_pii() on the search_path changes nothing (the view is schema-qualified)');
RESET search_path;
RESET ROLE;

SET LOCAL ROLE tap_pii;
SELECT is((SELECT name FROM dp_consumer.mask_person WHERE id = 1), 'Secret Person', 'a consumer granted pii sees the value');
RESET ROLE;
SET LOCAL ROLE tap_producer;
SELECT throws_ok($$SELECT * FROM dp_consumer.mask_person$$, '42501', NULL, 'a producer cannot read consumer views');
SELECT throws_ok($$SET dataplatform.environment = 'development'$$, '42501', NULL, 'nor change the environment');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
