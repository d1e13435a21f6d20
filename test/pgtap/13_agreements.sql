-- Access agreements as a contract: the API's signatures and who may call
-- it; a role with an agreement for product A reads no view of product B;
-- requested, rejected, revoked and expired agreements give nothing; row
-- scope and PII hold on every read path; a view over two products needs an
-- agreement for each; grant_consumer is an unrestricted agreement.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(37);

SELECT has_function('dataplatform', 'request_access', ARRAY['text', 'text', 'timestamp with time zone', 'jsonb'], 'request_access(product, purpose, valid_until, options)');
SELECT function_returns('dataplatform', 'request_access', ARRAY['text', 'text', 'timestamp with time zone', 'jsonb'], 'bigint', 'request_access returns the agreement id');
SELECT has_function('dataplatform', 'approve_access', ARRAY['bigint', 'text'], 'approve_access(id, note)');
SELECT has_function('dataplatform', 'reject_access', ARRAY['bigint', 'text'], 'reject_access(id, reason)');
SELECT has_function('dataplatform', 'revoke_access', ARRAY['bigint', 'text'], 'revoke_access(id, reason)');
SELECT has_function('dataplatform', 'access_review', ARRAY['interval'], 'access_review(unused)');
SELECT has_view('dataplatform', 'access_agreement', 'the access_agreement view');
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
            WHERE p.pronamespace = 'dataplatform'::regnamespace AND p.prosecdef
              AND p.proname IN ('request_access', 'approve_access', 'reject_access', 'revoke_access', 'access_review')
              AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']),
          ARRAY['access_review', 'approve_access', 'reject_access', 'request_access', 'revoke_access'],
          'the agreement API is SECURITY DEFINER with a pinned search_path');

SET LOCAL dataplatform.environment = 'production';
CREATE ROLE tap_ag_a LOGIN IN ROLE dataplatform_consumer;
CREATE ROLE tap_ag_b LOGIN IN ROLE dataplatform_consumer;
CREATE ROLE tap_ag_old LOGIN;
SELECT lives_ok($$SELECT dataplatform.define_product('tap_a'), dataplatform.define_product('tap_b')$$, 'two products');
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "tap-a", "product": "tap_a", "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}, {"name": "name", "datatype": "string", "pii": true}, {"name": "ward", "datatype": "string"}]}'),
                         dataplatform.define_dataset('{"dataset": "tap-b", "product": "tap_b", "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string"}]}')$$, 'a dataset in each');
SELECT lives_ok($$SELECT dataplatform.push('tap-a', '[{"id": 1, "name": "Secret One", "ward": "N"}, {"id": 2, "name": "Secret Two", "ward": "S"}]'),
                         dataplatform.push('tap-b', '[{"id": 1, "v": "x"}, {"id": 2, "v": "y"}]')$$, 'pushes');
SELECT lives_ok($$SELECT dataplatform.publish('tap_a1', 'tap-a'), dataplatform.publish('tap_a2', 'SELECT ward, count(*) AS n FROM tap_a GROUP BY ward'),
                         dataplatform.publish('tap_b1', 'tap-b'),
                         dataplatform.publish('tap_ab', 'SELECT a.id, a.ward, b.v FROM tap_a a JOIN tap_b b ON b.id = a.id', '{"key": "id"}')$$, 'published views');

-- requested: nothing yet
SET LOCAL SESSION AUTHORIZATION tap_ag_a;
SELECT lives_ok($$SELECT dataplatform.request_access('tap_a', 'tap purpose', now() + interval '1 day', '{"rows": {"ward": ["N"]}, "views": ["tap_a1", "tap_ab"]}')$$, 'a request with a row scope');
SELECT throws_ok($$SELECT * FROM dp_consumer.tap_a1$$, '42501', NULL, 'a requested agreement gives nothing');
RESET SESSION AUTHORIZATION;
SELECT lives_ok($$SELECT dataplatform.approve_access(id) FROM dataplatform.agreement WHERE purpose = 'tap purpose'$$, 'approved by another role');

SET LOCAL SESSION AUTHORIZATION tap_ag_a;
SELECT is((SELECT array_agg(id ORDER BY id) FROM dp_consumer.tap_a1), ARRAY[1::bigint], 'SELECT: only rows in scope');
SELECT is((SELECT count(*) FROM dp_consumer.tap_a1 WHERE name LIKE 'Secret%'), 0::bigint, 'PII masked: the agreement says no pii');
SELECT is(dataplatform.export('tap_a1'), E'id,name,ward\n1,' || (SELECT name FROM dp_consumer.tap_a1) || E',N\n', 'export: the same rows and tokens');
DECLARE tap_c CURSOR FOR SELECT id FROM dp_consumer.tap_a1 ORDER BY id;
SELECT results_eq($$FETCH ALL FROM tap_c$$, ARRAY[1::bigint], 'a cursor: only rows in scope');
PREPARE tap_p AS SELECT count(*) FROM dp_consumer.tap_a1;
SELECT results_eq($$EXECUTE tap_p$$, ARRAY[1::bigint], 'a prepared statement: only rows in scope');
CREATE TEMP VIEW tap_top AS SELECT id FROM dp_consumer.tap_a1;
SELECT is((SELECT count(*) FROM tap_top), 1::bigint, 'a view on top: only rows in scope');
SELECT throws_ok($$SELECT * FROM dp_consumer.tap_a2$$, '42501', NULL, 'a view of the product not named in the agreement');
SELECT throws_ok($$SELECT * FROM dp_consumer.tap_b1$$, '42501', NULL, 'no view of product B');
SELECT throws_ok($$SELECT * FROM dp_consumer.tap_ab$$, '42501', NULL, 'a view over A and B needs an agreement for B too');
SELECT throws_ok($$SELECT dataplatform.export('tap_b1')$$, '42501', NULL, 'nor through export');
SELECT lives_ok($$SELECT dataplatform.request_access('tap_b', 'tap both', now() + interval '1 day', '{"views": ["tap_ab"], "pii": true}')$$, 'a request for B');
RESET SESSION AUTHORIZATION;
SELECT lives_ok($$SELECT dataplatform.approve_access(id) FROM dataplatform.agreement WHERE purpose = 'tap both'$$, 'approved');
SET LOCAL SESSION AUTHORIZATION tap_ag_a;
SELECT is((SELECT array_agg(id ORDER BY id) FROM dp_consumer.tap_ab), ARRAY[1::bigint], 'with both, the view over A and B, under A''s row scope');
RESET SESSION AUTHORIZATION;

-- rejected, revoked and expired agreements give nothing
SET LOCAL SESSION AUTHORIZATION tap_ag_b;
SELECT lives_ok($$SELECT dataplatform.request_access('tap_b', 'tap rejected', now() + interval '1 day'),
                         dataplatform.request_access('tap_b', 'tap quick', clock_timestamp() + interval '1 second')$$, 'two requests');
RESET SESSION AUTHORIZATION;
SELECT lives_ok($$SELECT dataplatform.reject_access(id, 'no') FROM dataplatform.agreement WHERE purpose = 'tap rejected'$$, 'one rejected');
SET LOCAL SESSION AUTHORIZATION tap_ag_b;
SELECT throws_ok($$SELECT * FROM dp_consumer.tap_b1$$, '42501', NULL, 'a rejected agreement gives nothing');
RESET SESSION AUTHORIZATION;
SELECT dataplatform.approve_access(id) FROM dataplatform.agreement WHERE purpose = 'tap quick';
SELECT pg_sleep(1.1);
SET LOCAL SESSION AUTHORIZATION tap_ag_b;
SELECT throws_ok($$SELECT * FROM dp_consumer.tap_b1$$, '42501', NULL, 'an expired agreement gives nothing');
RESET SESSION AUTHORIZATION;
SELECT dataplatform.revoke_access(id, 'done') FROM dataplatform.agreement WHERE purpose = 'tap purpose';
SET LOCAL SESSION AUTHORIZATION tap_ag_a;
SELECT throws_ok($$SELECT * FROM dp_consumer.tap_a1$$, '42501', NULL, 'a revoked agreement gives nothing');
SELECT throws_ok($$EXECUTE tap_p$$, '42501', NULL, 'nor to a statement prepared before');
RESET SESSION AUTHORIZATION;

-- grant_consumer: an unrestricted agreement, shown as such in the review
SELECT lives_ok($$SELECT dataplatform.grant_consumer('tap_ag_old')$$, 'grant_consumer');
SET LOCAL ROLE tap_ag_old;
SELECT is((SELECT count(*) FROM dp_consumer.tap_ab), 2::bigint, 'reads every view of every product');
RESET ROLE;
SELECT is((SELECT findings[1] FROM dataplatform.access_review() WHERE role = 'tap_ag_old'), 'unrestricted', 'the review lists it as unrestricted');

SELECT * FROM finish();
ROLLBACK;
