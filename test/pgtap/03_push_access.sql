-- Who may push, check, read raw and clean, and change raw.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(26);

CREATE ROLE tap_prod_a;
CREATE ROLE tap_prod_b;
CREATE ROLE tap_consumer;
CREATE ROLE tap_plain;
SELECT lives_ok($$SELECT dataplatform.define_product('prod-a')$$, 'product A');
SELECT lives_ok($$SELECT dataplatform.define_product('prod-b')$$, 'product B');
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "a-items", "product": "prod-a", "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string"}]}')$$, 'dataset in A');
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "b-items", "product": "prod-b", "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string"}]}')$$, 'dataset in B');
SELECT lives_ok($$SELECT dataplatform.grant_producer('prod-a', 'tap_prod_a')$$, 'grant A to a producer');
SELECT lives_ok($$SELECT dataplatform.grant_producer('prod-b', 'tap_prod_b')$$, 'grant B to another');
SELECT lives_ok($$SELECT dataplatform.grant_consumer('tap_consumer')$$, 'a consumer');

SET LOCAL ROLE tap_prod_a;
SELECT lives_ok($$SELECT dataplatform.push('a-items', '[{"id": 1, "v": "x"}]')$$, 'a producer of A pushes to A');
SELECT lives_ok($$SELECT dataplatform.push_csv('a-items', E'id,v\n2,y\n')$$, 'and pushes CSV to A');
SELECT lives_ok($$SELECT dataplatform.check('a-items', '[{"id": 3}]')$$, 'and checks against A');
SELECT throws_ok($$SELECT dataplatform.push('b-items', '[{"id": 1}]')$$, '42501', NULL, 'a producer of A cannot push to B');
SELECT throws_ok($$SELECT dataplatform.push_csv('b-items', E'id\n1\n')$$, '42501', NULL, 'nor push CSV to B');
SELECT throws_ok($$SELECT dataplatform.check('b-items', '[{"id": 1}]')$$, '42501', NULL, 'nor check against B');
SELECT throws_ok($$SELECT dataplatform.push_geojson('b-items', '{"type": "FeatureCollection", "features": []}')$$, '42501', NULL, 'nor push GeoJSON to B');
SELECT throws_ok($$SELECT * FROM dp_raw.rows$$, '42501', NULL, 'a producer cannot read raw');
SELECT throws_ok($$SELECT * FROM dp_clean.a_items$$, '42501', NULL, 'a producer cannot read clean, even its own');
SELECT throws_ok($$UPDATE dp_raw.rows SET raw = 'x'$$, '42501', NULL, 'a producer cannot UPDATE raw');
SELECT throws_ok($$DELETE FROM dp_raw.rows$$, '42501', NULL, 'a producer cannot DELETE raw');
RESET ROLE;

SET LOCAL ROLE tap_consumer;
SELECT throws_ok($$SELECT dataplatform.push('a-items', '[{"id": 9}]')$$, '42501', NULL, 'a consumer cannot push');
SELECT throws_ok($$SELECT dataplatform.check('a-items', '[{"id": 9}]')$$, '42501', NULL, 'a consumer cannot check');
SELECT throws_ok($$SELECT dataplatform.push_geojson('a-items', '{"type": "FeatureCollection", "features": []}')$$, '42501', NULL, 'nor push GeoJSON');
SELECT throws_ok($$SELECT * FROM dp_clean.a_items$$, '42501', NULL, 'a consumer cannot read clean');
RESET ROLE;

SET LOCAL ROLE tap_plain;
SELECT throws_ok($$SELECT dataplatform.push('a-items', '[{"id": 9}]')$$, '42501', NULL, 'a plain role cannot push');
RESET ROLE;

-- even the owner cannot change raw outside purge_raw
SELECT throws_ok($$UPDATE dp_raw.rows SET raw = 'x'$$, '42501', 'the raw layer is append-only', 'a superuser cannot UPDATE raw');
SELECT throws_ok($$TRUNCATE dp_raw.chunk$$, '42501', 'the raw layer is append-only', 'a superuser cannot TRUNCATE raw');
SELECT is((SELECT count(*)::int FROM dp_clean.a_items), 2, 'the producer''s rows are in clean');

SELECT * FROM finish();
ROLLBACK;
