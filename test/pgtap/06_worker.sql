-- The background worker's catalog contract: tables, functions, signatures,
-- privileges per role, pinned search_path, one running run per job.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(41);

SELECT has_table('dataplatform', 'job', 'table job');
SELECT has_table('dataplatform', 'job_run', 'table job_run');
SELECT columns_are('dataplatform', 'job', ARRAY['id', 'name', 'schedule', 'command', 'owner', 'active',
       'timeout', 'retries', 'retry_delay', 'next_run_at', 'created_at', 'updated_at', 'timezone', 'after_job']);
SELECT columns_are('dataplatform', 'job_run', ARRAY['run_id', 'job_id', 'job_name', 'trigger', 'attempt',
       'status', 'scheduled_for', 'started_at', 'finished_at', 'message', 'rows', 'queued_by']);
SELECT col_is_pk('dataplatform', 'job_run', 'run_id', 'job_run key');
SELECT has_index('dataplatform', 'job_run', 'job_run_one_running', 'one running run per job (index)');

SELECT function_returns('dataplatform', 'schedule', ARRAY['text', 'text', 'text', 'text', 'text'], 'bigint');
SELECT function_returns('dataplatform', 'unschedule', ARRAY['text'], 'void');
SELECT function_returns('dataplatform', 'alter_job',
       ARRAY['text', 'text', 'text', 'boolean', 'interval', 'integer', 'interval', 'text', 'text'], 'void');
SELECT function_returns('dataplatform', 'run_now', ARRAY['text'], 'bigint');
SELECT function_returns('dataplatform', 'wait_for_run', ARRAY['bigint', 'interval'], 'text');
SELECT function_returns('dataplatform', 'next_run', ARRAY['text', 'timestamp with time zone'],
       'timestamp with time zone');
SELECT function_returns('dataplatform', 'next_run', ARRAY['text', 'timestamp with time zone', 'text'],
       'timestamp with time zone');
SELECT function_returns('dataplatform', 'worker_wake', ARRAY[]::text[], 'boolean');

SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p
   WHERE p.pronamespace = 'dataplatform'::regnamespace
     AND p.proname IN ('schedule', 'unschedule', 'alter_job', 'run_now', 'wait_for_run', 'worker_wake')
     AND NOT (p.prosecdef AND p.proconfig = ARRAY['search_path=pg_catalog, pg_temp'])$$,
  'every job API function is SECURITY DEFINER with search_path pinned');

-- privileges per role
SELECT ok(has_function_privilege('dataplatform_admin', 'dataplatform.schedule(text, text, text, text, text)', 'EXECUTE'), 'admins schedule');
SELECT ok(has_function_privilege('dataplatform_admin', 'dataplatform.run_now(text)', 'EXECUTE'), 'admins run_now');
SELECT ok(has_function_privilege('dataplatform_admin', 'dataplatform.wait_for_run(bigint, interval)', 'EXECUTE'), 'admins wait_for_run');
SELECT ok(NOT has_function_privilege('dataplatform_producer', 'dataplatform.schedule(text, text, text, text, text)', 'EXECUTE'), 'producers do not schedule');
SELECT ok(NOT has_function_privilege('dataplatform_consumer', 'dataplatform.run_now(text)', 'EXECUTE'), 'consumers do not run jobs');
SELECT ok(NOT has_function_privilege('dataplatform_auditor', 'dataplatform.alter_job(text, text, text, boolean, interval, integer, interval, text, text)', 'EXECUTE'), 'auditors do not alter jobs');
SELECT ok(NOT has_function_privilege('public', 'dataplatform.worker_wake()', 'EXECUTE'), 'PUBLIC does not wake the worker');
SELECT ok(has_function_privilege('dataplatform_consumer', 'dataplatform.next_run(text, timestamptz)', 'EXECUTE'), 'every platform role may evaluate a schedule');
SELECT ok(has_function_privilege('dataplatform_producer', 'dataplatform.next_run(text, timestamptz, text)', 'EXECUTE')
      AND has_function_privilege('dataplatform_auditor', 'dataplatform.next_run(text, timestamptz, text)', 'EXECUTE'),
      'every platform role may evaluate a schedule in a time zone');
SELECT ok(NOT has_function_privilege('public', 'dataplatform.next_run(text, timestamptz, text)', 'EXECUTE'), 'PUBLIC does not evaluate schedules');
SELECT ok(NOT has_function_privilege('dataplatform_consumer', 'dataplatform.alter_job(text, text, text, boolean, interval, integer, interval, text, text)', 'EXECUTE'), 'consumers do not alter jobs');
SELECT ok(has_table_privilege('dataplatform_admin', 'dataplatform.job', 'SELECT'), 'admins read job');
SELECT ok(has_table_privilege('dataplatform_admin', 'dataplatform.job_run', 'SELECT'), 'admins read job_run');
SELECT ok(NOT has_table_privilege('dataplatform_admin', 'dataplatform.job', 'INSERT')
       AND NOT has_table_privilege('dataplatform_admin', 'dataplatform.job_run', 'UPDATE'), 'admins do not write job tables directly');
SELECT ok(NOT has_table_privilege('dataplatform_producer', 'dataplatform.job_run', 'SELECT'), 'producers do not read job_run');
SELECT ok(NOT has_table_privilege('dataplatform_consumer', 'dataplatform.job', 'SELECT'), 'consumers do not read job');

-- the contract the worker relies on
CREATE ROLE tap_job_admin IN ROLE dataplatform_admin;
SET LOCAL ROLE tap_job_admin;
SELECT lives_ok($$SELECT dataplatform.schedule('tap-job', 'every 10 minutes', 'SELECT 1')$$, 'an admin schedules a job');
SELECT is((SELECT owner::text FROM dataplatform.job WHERE name = 'tap-job'), 'tap_job_admin', 'the job is owned by its caller');
SELECT throws_ok($$SELECT dataplatform.schedule('tap-job2', '61 * * * *', 'SELECT 1')$$, '22023', NULL, 'a bad schedule is refused');
RESET ROLE;
SELECT throws_ok($$INSERT INTO dataplatform.job_run (job_id, job_name, trigger, status, scheduled_for)
                   SELECT id, name, 'manual', 'running', now() FROM dataplatform.job
                   UNION ALL SELECT id, name, 'manual', 'running', now() FROM dataplatform.job$$,
                 '23505', NULL, 'two running runs of one job are impossible');
SELECT ok((SELECT next_run_at > now() FROM dataplatform.job WHERE name = 'tap-job'), 'next_run_at is in the future');
SELECT is(dataplatform.next_run('@daily', '2024-01-01 12:00+00'), '2024-01-02 00:00+00'::timestamptz, 'next_run in UTC');
SELECT is(dataplatform.next_run('@daily', '2024-07-01 12:00+00', 'Europe/London'), '2024-07-01 23:00+00'::timestamptz,
          'next_run in a time zone');
SET LOCAL ROLE tap_job_admin;
SELECT lives_ok($$SELECT dataplatform.schedule('tap-after', NULL, 'SELECT 2', after => 'tap-job')$$, 'an admin chains a job after another');
SELECT throws_ok($$SELECT dataplatform.alter_job('tap-job', after => 'tap-after')$$, '42P17', NULL, 'a cycle is refused');
SELECT throws_ok($$SELECT dataplatform.schedule('tap-tz', '@daily', 'SELECT 1', timezone => 'Nowhere/Atall')$$, '22023', NULL, 'an unknown time zone is refused');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
