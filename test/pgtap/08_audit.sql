-- The audit trail's contract: columns, who reads the log (auditors only),
-- nobody changes it (superusers included) except purge_audit, who may call
-- apply_retention and purge_audit, their signatures, pinned search_path and
-- hostile search_path safety.  Buffered reads (written by the worker after
-- commit) are covered by sql/40_audit.sql.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(41);

SELECT columns_are('dataplatform', 'audit_log', ARRAY['id', 'at', 'role_name', 'session_role',
       'client_addr', 'action', 'object', 'detail', 'statement_id', 'query_id']);
SELECT col_type_is('dataplatform', 'audit_log', 'detail', 'jsonb', 'audit detail is jsonb');
SELECT col_type_is('dataplatform', 'audit_log', 'client_addr', 'inet', 'client address is inet');
SELECT col_type_is('dataplatform', 'audit_log', 'query_id', 'bigint', 'query id is bigint, as pg_stat_activity.query_id');
SELECT has_index('dataplatform', 'audit_log_default', 'audit_log_default_at',
  'audit_log is indexed by time (its DEFAULT partition, and every partition by partition_rule)');
SELECT has_trigger('dataplatform', 'audit_log', 'audit_append_only', 'UPDATE/DELETE guard');
SELECT has_trigger('dataplatform', 'audit_log', 'audit_no_truncate', 'TRUNCATE guard');

SELECT function_returns('dataplatform', 'apply_retention', ARRAY[]::text[], 'jsonb');
SELECT function_returns('dataplatform', 'purge_audit', ARRAY['interval'], 'bigint');
SELECT is_definer('dataplatform', 'apply_retention', ARRAY[]::text[], 'apply_retention is SECURITY DEFINER');
SELECT is_definer('dataplatform', 'purge_audit', ARRAY['interval'], 'purge_audit is SECURITY DEFINER');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'dataplatform.apply_retention()'::regprocedure),
          ARRAY['search_path=pg_catalog, pg_temp', 'jit=off'], 'apply_retention pins search_path (and runs without JIT)');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'dataplatform.purge_audit(interval)'::regprocedure),
          ARRAY['search_path=pg_catalog, pg_temp', 'jit=off'], 'purge_audit pins search_path (and runs without JIT)');

-- who may execute what
SELECT function_privs_are('dataplatform', 'apply_retention', ARRAY[]::text[], 'dataplatform_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('dataplatform', 'apply_retention', ARRAY[]::text[], 'dataplatform_auditor', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'apply_retention', ARRAY[]::text[], 'dataplatform_producer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'apply_retention', ARRAY[]::text[], 'dataplatform_consumer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'purge_audit', ARRAY['interval'], 'dataplatform_auditor', ARRAY['EXECUTE']);
SELECT function_privs_are('dataplatform', 'purge_audit', ARRAY['interval'], 'dataplatform_admin', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'purge_audit', ARRAY['interval'], 'dataplatform_producer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'purge_audit', ARRAY['interval'], 'dataplatform_consumer', ARRAY[]::text[]);
SELECT function_privs_are('dataplatform', 'audit_guard', ARRAY[]::text[], 'public', ARRAY[]::text[]);

CREATE ROLE tap8_admin IN ROLE dataplatform_admin;
CREATE ROLE tap8_producer;
CREATE ROLE tap8_consumer;
CREATE ROLE tap8_auditor IN ROLE dataplatform_auditor;
SELECT dataplatform.define_product('tap8', '{"retention_days": 1}');
SELECT dataplatform.grant_producer('tap8', 'tap8_producer');
SELECT dataplatform.grant_consumer('tap8_consumer');

-- only auditors read the log
SET LOCAL ROLE tap8_auditor;
SELECT ok((SELECT count(*) FROM dataplatform.audit_log WHERE action = 'grant_producer') >= 1,
          'an auditor reads the audit log');
RESET ROLE;
SET LOCAL ROLE tap8_admin;
SELECT throws_ok($$SELECT * FROM dataplatform.audit_log$$, '42501', NULL, 'an admin cannot read the audit log');
SELECT throws_ok($$SELECT dataplatform.purge_audit('1 day')$$, '42501', NULL, 'an admin cannot purge the audit log');
SELECT lives_ok($$SELECT dataplatform.apply_retention()$$, 'an admin applies retention');
RESET ROLE;
SET LOCAL ROLE tap8_producer;
SELECT throws_ok($$SELECT * FROM dataplatform.audit_log$$, '42501', NULL, 'a producer cannot read the audit log');
SELECT throws_ok($$SELECT dataplatform.apply_retention()$$, '42501', NULL, 'a producer cannot apply retention');
RESET ROLE;
SET LOCAL ROLE tap8_consumer;
SELECT throws_ok($$SELECT * FROM dataplatform.audit_log$$, '42501', NULL, 'a consumer cannot read the audit log');
SELECT throws_ok($$SELECT dataplatform.purge_audit('1 day')$$, '42501', NULL, 'a consumer cannot purge the audit log');
RESET ROLE;

-- nobody changes it: not the auditor, not a superuser
SET LOCAL ROLE tap8_auditor;
SELECT throws_ok($$UPDATE dataplatform.audit_log SET action = 'x'$$, '42501', NULL, 'an auditor cannot UPDATE the audit log');
SELECT throws_ok($$DELETE FROM dataplatform.audit_log$$, '42501', NULL, 'an auditor cannot DELETE from the audit log');
RESET ROLE;
SELECT throws_ok($$UPDATE dataplatform.audit_log SET action = 'x'$$, '42501', 'the audit log is append-only', 'a superuser cannot UPDATE the audit log');
SELECT throws_ok($$DELETE FROM dataplatform.audit_log$$, '42501', 'the audit log is append-only', 'a superuser cannot DELETE from the audit log');
SELECT throws_ok($$TRUNCATE dataplatform.audit_log$$, '42501', 'the audit log is append-only', 'a superuser cannot TRUNCATE the audit log');

-- the C functions check the caller even if EXECUTE is granted too widely
GRANT EXECUTE ON FUNCTION dataplatform.purge_audit(interval), dataplatform.apply_retention() TO tap8_consumer;
SET LOCAL ROLE tap8_consumer;
SELECT throws_ok($$SELECT dataplatform.purge_audit('1 day')$$, '42501', 'permission denied to purge the audit log',
                 'purge_audit checks the caller itself');
SELECT throws_ok($$SELECT dataplatform.apply_retention()$$, '42501', 'permission denied to apply retention',
                 'apply_retention checks the caller itself');
RESET ROLE;

-- a hostile search_path: shadowing pg_catalog functions and operators
CREATE SCHEMA tap8_evil;
CREATE TABLE tap8_evil.called (fn text);
GRANT ALL ON SCHEMA tap8_evil TO PUBLIC;
GRANT ALL ON tap8_evil.called TO PUBLIC;
CREATE FUNCTION tap8_evil.now() RETURNS timestamptz LANGUAGE sql
  AS $$ INSERT INTO tap8_evil.called VALUES ('now') RETURNING pg_catalog.now() - interval '100 years' $$;
CREATE FUNCTION tap8_evil.make_interval(days int) RETURNS interval LANGUAGE sql
  AS $$ INSERT INTO tap8_evil.called VALUES ('make_interval') RETURNING interval '0' $$;
CREATE FUNCTION tap8_evil.intervallt(timestamptz, timestamptz) RETURNS boolean LANGUAGE sql
  AS $$ INSERT INTO tap8_evil.called VALUES ('<') RETURNING true $$;
CREATE OPERATOR tap8_evil.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = tap8_evil.intervallt);
CREATE TABLE tap8_evil.audit_log (at timestamptz);
SET LOCAL search_path = tap8_evil, public;
SET LOCAL ROLE tap8_auditor;
SELECT is(dataplatform.purge_audit('1 day'), 0::bigint, 'purge_audit runs with a hostile search_path and deletes nothing new');
RESET ROLE;
SET LOCAL ROLE tap8_admin;
SELECT lives_ok($$SELECT dataplatform.apply_retention()$$, 'apply_retention runs with a hostile search_path');
RESET ROLE;
SELECT is_empty($$SELECT * FROM tap8_evil.called$$, 'no function from the caller''s search_path was called');
RESET search_path;
SELECT is((SELECT count(*)::int FROM dataplatform.audit_log WHERE action = 'purge_audit'), 1, 'the purge is recorded');

SELECT * FROM finish();
ROLLBACK;
