-- Read replicas and the reporting server: who may call audit_receive (only
-- dataplatform_audit_shipper), replicate_consumer and
-- replication_subscriber_sql (admins), their pinned search_path, and what
-- replicate_consumer publishes.  The servers themselves are tested by
-- test/replica_tests.sh.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(23);

SELECT has_role('dataplatform_audit_shipper');
SELECT is_definer('dataplatform', 'audit_receive',
       ARRAY['text', 'timestamp with time zone[]', 'text[]', 'text[]', 'text[]', 'text[]', 'text[]', 'text[]', 'bigint[]'],
       'audit_receive is SECURITY DEFINER');
SELECT is((SELECT proconfig FROM pg_proc WHERE proname = 'audit_receive'
            AND pronamespace = 'dataplatform'::regnamespace),
          ARRAY['search_path=pg_catalog, pg_temp'], 'audit_receive pins search_path');
SELECT is_definer('dataplatform', 'replicate_consumer', ARRAY['name', 'jsonb'], 'replicate_consumer is SECURITY DEFINER');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'dataplatform.replicate_consumer(name, jsonb)'::regprocedure),
          ARRAY['search_path=pg_catalog, pg_temp'], 'replicate_consumer pins search_path');
SELECT isnt_definer('dataplatform', 'replication_subscriber_sql', ARRAY['name'],
       'replication_subscriber_sql runs as its caller');

SELECT ok(has_function_privilege('dataplatform_audit_shipper', p.oid, 'EXECUTE')
          AND NOT has_function_privilege('dataplatform_admin', p.oid, 'EXECUTE')
          AND NOT has_function_privilege('dataplatform_auditor', p.oid, 'EXECUTE')
          AND NOT has_function_privilege('dataplatform_consumer', p.oid, 'EXECUTE')
          AND NOT has_function_privilege('public', p.oid, 'EXECUTE'),
          'only dataplatform_audit_shipper executes audit_receive')
  FROM pg_proc p WHERE p.proname = 'audit_receive' AND p.pronamespace = 'dataplatform'::regnamespace;
SELECT function_privs_are('dataplatform', 'replicate_consumer', ARRAY['name', 'jsonb'], 'dataplatform_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('dataplatform', 'replicate_consumer', ARRAY['name', 'jsonb'], 'dataplatform_consumer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'replicate_consumer', ARRAY['name', 'jsonb'], 'dataplatform_audit_shipper', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'replication_subscriber_sql', ARRAY['name'], 'dataplatform_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('dataplatform', 'replication_sync', ARRAY[]::text[], 'dataplatform_admin', ARRAY[]::text[]);

CREATE ROLE tap15_shipper IN ROLE dataplatform_audit_shipper;
CREATE ROLE tap15_admin IN ROLE dataplatform_admin;
CREATE ROLE tap15_consumer;
SELECT dataplatform.grant_consumer('tap15_consumer');

-- a shipper appends reads, the standby named; nothing else
SET LOCAL ROLE tap15_shipper;
SELECT is(dataplatform.audit_receive('standby-a', ARRAY[now()], ARRAY['bi'], ARRAY['bi'], ARRAY[''],
          ARRAY['v'], ARRAY['{"query": "SELECT 1"}'], ARRAY['1.2:3'], ARRAY[0::bigint]), 1::bigint,
          'a shipper appends a shipped read');
SELECT throws_ok($$SELECT * FROM dataplatform.audit_log$$, '42501', NULL, 'a shipper cannot read the audit log');
SELECT throws_ok($$SELECT dataplatform.replicate_consumer('p')$$, '42501', NULL, 'a shipper cannot replicate the consumer layer');
RESET ROLE;
SELECT is((SELECT detail ->> 'standby' FROM dataplatform.audit_log WHERE action = 'read' AND object = 'v'),
          'standby-a', 'the shipped read names its standby');
SET LOCAL ROLE tap15_admin;
SELECT throws_ok($$SELECT dataplatform.audit_receive('x', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')$$,
                 '42501', NULL, 'an admin cannot append to the audit log');
RESET ROLE;
SET LOCAL ROLE tap15_consumer;
SELECT throws_ok($$SELECT dataplatform.replicate_consumer('p')$$, '42501', NULL, 'a consumer cannot replicate the consumer layer');
RESET ROLE;

-- an admin publishes the consumer layer; bad options are refused
-- (the test cluster's wal_level is replica: CREATE PUBLICATION warns)
SET LOCAL client_min_messages = error;
SET LOCAL ROLE tap15_admin;
SELECT is(dataplatform.replicate_consumer('tap15_pub') -> 'views', '[]'::jsonb, 'replicate_consumer with no published view');
SELECT throws_ok($$SELECT dataplatform.replicate_consumer('tap15_pub', '{"pii": "yes"}')$$, '22023', NULL,
                 'a non-boolean option is refused');
SELECT ok(dataplatform.replication_subscriber_sql('tap15_pub') LIKE 'CREATE SCHEMA IF NOT EXISTS dp_consumer_data;%',
          'an admin gets the subscriber''s SQL');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_publication WHERE pubname = 'tap15_pub'), 1::bigint, 'the publication exists');
SELECT is(dataplatform.replicate_consumer('tap15_pub', '{"drop": true}') ->> 'dropped', 'true', 'drop stops replicating');

SELECT * FROM finish();
ROLLBACK;
