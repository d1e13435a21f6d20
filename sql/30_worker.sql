-- The background worker's jobs: schedules, run_now + wait_for_run, failures,
-- retries, timeouts, running as the owner, privileges and errors.
-- Needs shared_preload_libraries = 'dataplatform' (the harness sets it).
\set VERBOSITY terse
SET timezone = 'UTC';

-- schedules (cron in UTC)
SELECT s, dataplatform.next_run(s, '2024-02-27 13:45:10+00') AS next
  FROM unnest(ARRAY['* * * * *', '*/15 * * * *', '30 2 * * *', '0 9 * * mon-fri',
                    '0 0 29 2 *', '5,10,50 8-10 * * *', '0 0 1 jan *', '0 0 15 * 5',
                    '@hourly', '@daily', '@weekly', '@monthly', '@yearly',
                    'every 30 seconds', 'every 5 minutes', 'every 2 hours']) s;
SELECT dp_test.err($$SELECT dataplatform.next_run(s, now()) FROM unnest(ARRAY[
  '']) s$$);
SELECT s, dp_test.err(format('SELECT dataplatform.next_run(%L, now())', s))
  FROM unnest(ARRAY['* * * *', '60 * * * *', '* 24 * * *', '* * 0 * *', '* * * 13 *',
                    '* * * * 8', '5-1 * * * *', '*/0 * * * *', '0 0 30 2 *', '@sometimes',
                    'every 0 seconds', 'every 5 fortnights', 'every 400 days']) s;
SELECT dp_test.err($$SELECT dataplatform.next_run(NULL, now())$$);

-- a schema the test jobs write to, owned by the job owner
CREATE SCHEMA dp_test_w AUTHORIZATION dp_t_admin;
SET ROLE dp_t_admin;
CREATE TABLE dp_test_w.hits (n int, who text, super boolean);

-- schedule: errors
SELECT dp_test.err($$SELECT dataplatform.schedule('j', 'bad', 'SELECT 1')$$);
SELECT dp_test.err($$SELECT dataplatform.schedule('j', '@daily', 'SELEC 1')$$);
SELECT dp_test.err($$SELECT dataplatform.schedule('j', '@daily', ' ; ')$$);
SELECT dp_test.err($$SELECT dataplatform.schedule('', '@daily', 'SELECT 1')$$);
SELECT dp_test.err($$SELECT dataplatform.schedule(NULL, '@daily', 'SELECT 1')$$);
SELECT dp_test.err($$SELECT dataplatform.schedule('j', NULL, 'SELECT 1')$$);
SELECT dp_test.err($$SELECT dataplatform.schedule('j', '@daily', NULL)$$);

-- a job that works, run by hand
SELECT dataplatform.schedule('hit', '@yearly',
  $$INSERT INTO dp_test_w.hits SELECT 1, current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)$$) > 0 AS scheduled;
SELECT dp_test.err($$SELECT dataplatform.schedule('hit', '@daily', 'SELECT 1')$$);
SELECT name, schedule, owner, active, timeout, retries, next_run_at > now() AS in_future
  FROM dataplatform.job WHERE name NOT LIKE 'dataplatform: %' ORDER BY name;
SELECT dataplatform.run_now('hit') AS run \gset
SELECT dataplatform.wait_for_run(:run, '30 seconds');
-- the command ran as its owner, not as a superuser
SELECT * FROM dp_test_w.hits;
SELECT job_name, trigger, attempt, status, message, rows, queued_by,
       started_at >= scheduled_for AND finished_at >= started_at AS times_ok
  FROM dataplatform.job_run WHERE run_id = :run;

-- a failing job with two retries: three attempts, each recorded
SELECT dataplatform.schedule('fail', '@yearly', 'SELECT 1 / 0') > 0 AS scheduled;
SELECT dataplatform.alter_job('fail', retries => 2, retry_delay => '50 milliseconds');
SELECT dataplatform.run_now('fail') AS run \gset
SELECT dataplatform.wait_for_run(:run, '30 seconds');
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT count(*) FROM dataplatform.job_run
				    WHERE job_name = 'fail' AND status = 'failed') = 3;
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
SELECT trigger, attempt, status, message FROM dataplatform.job_run
 WHERE job_name = 'fail' ORDER BY run_id;

-- a job that outlives its timeout
SELECT dataplatform.schedule('slow', '@yearly', 'SELECT pg_sleep(30)') > 0 AS scheduled;
SELECT dataplatform.alter_job('slow', timeout => '200 milliseconds');
SELECT dataplatform.wait_for_run(dataplatform.run_now('slow'), '0.1 seconds');  -- same transaction: not seen yet
SELECT max(run_id) AS run FROM dataplatform.job_run WHERE job_name = 'slow' \gset
SELECT dataplatform.wait_for_run(:run, '30 seconds');
SELECT status, message FROM dataplatform.job_run WHERE run_id = :run;

-- the command cannot leave its role
SELECT dataplatform.schedule('escape', '@yearly', 'RESET ROLE') > 0 AS scheduled;
SELECT dataplatform.wait_for_run(dataplatform.run_now('escape'), '0.1 seconds') IS NOT NULL AS queued;
SELECT max(run_id) AS run FROM dataplatform.job_run WHERE job_name = 'escape' \gset
SELECT dataplatform.wait_for_run(:run, '30 seconds');
SELECT status, message FROM dataplatform.job_run WHERE run_id = :run;

-- alter_job
SELECT dataplatform.alter_job('hit', schedule => 'every 1 hours', active => false, retries => 3);
SELECT name, schedule, active, retries FROM dataplatform.job WHERE name = 'hit';
SELECT dataplatform.alter_job('hit', active => true, timeout => '0');
SELECT name, active, timeout FROM dataplatform.job WHERE name = 'hit';
SELECT dp_test.err($$SELECT dataplatform.alter_job('hit', schedule => '* *')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_job('hit', retries => 101)$$);
SELECT dp_test.err($$SELECT dataplatform.alter_job('hit', timeout => '-1 second')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_job('hit', command => 'SELEC')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_job('nope', active => false)$$);
SELECT dp_test.err($$SELECT dataplatform.alter_job(NULL)$$);

-- wait_for_run errors
SELECT dp_test.err($$SELECT dataplatform.wait_for_run(-1, '1 second')$$);
SELECT dp_test.err($$SELECT dataplatform.wait_for_run(1, NULL)$$);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT dp_test.err($$SELECT dataplatform.wait_for_run(1, '1 second')$$);
ROLLBACK;
RESET ROLE;

-- privileges: only admins schedule; only the owner (or a superuser) changes or runs a job
SET client_min_messages = warning;
DROP ROLE IF EXISTS dp_t_admin2, dp_t_wprod;
RESET client_min_messages;
CREATE ROLE dp_t_admin2 IN ROLE dataplatform_admin;
CREATE ROLE dp_t_wprod IN ROLE dataplatform_producer;
SET ROLE dp_t_admin2;
SELECT dp_test.err($$SELECT dataplatform.run_now('hit')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_job('hit', command => 'DROP SCHEMA dp_test_w CASCADE')$$);
SELECT dp_test.err($$SELECT dataplatform.unschedule('hit')$$);
SET ROLE dp_t_wprod;
SELECT dp_test.err($$SELECT dataplatform.schedule('p', '@daily', 'SELECT 1')$$);
SELECT dp_test.err($$SELECT * FROM dataplatform.job$$);
SET ROLE dp_t_plain;
SELECT dp_test.err($$SELECT dataplatform.run_now('hit')$$);
RESET ROLE;
DROP ROLE dp_t_admin2, dp_t_wprod;

-- the audit log has the job API's writes
SELECT action, object, role_name FROM dataplatform.audit_log
 WHERE action IN ('schedule', 'unschedule', 'alter_job', 'run_now')
   AND object NOT LIKE 'dataplatform: %' ORDER BY id;

-- unschedule: the history stays
SET ROLE dp_t_admin;
SELECT dataplatform.unschedule(name) FROM dataplatform.job WHERE name NOT LIKE 'dataplatform: %' ORDER BY name;
SELECT dp_test.err($$SELECT dataplatform.unschedule('hit')$$);
SELECT count(*) AS jobs FROM dataplatform.job WHERE name NOT LIKE 'dataplatform: %';
SELECT job_name, count(*) AS runs FROM dataplatform.job_run
 WHERE job_name NOT LIKE 'dataplatform: %' GROUP BY 1 ORDER BY 1;
RESET ROLE;
DROP SCHEMA dp_test_w CASCADE;
