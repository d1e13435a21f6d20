-- The scheduler: cron in a time zone (right across clock changes), jobs
-- that run after another job succeeds (chains declared, cycles refused),
-- and their errors.  Needs the worker (shared_preload_libraries).
\set VERBOSITY terse
SET timezone = 'UTC';

-- a 01:30 job in Europe/London: 00:30 UTC in summer, 01:30 UTC in winter;
-- on the spring-forward day (29 March 2026, 01:00 -> 02:00) once, at the
-- change; on the autumn day (25 October 2026, 02:00 -> 01:00) once, at the
-- first 01:30
WITH RECURSIVE runs(n, at) AS (
  SELECT 1, dataplatform.next_run('30 1 * * *', '2026-03-27 12:00+00', 'Europe/London')
  UNION ALL
  SELECT n + 1, dataplatform.next_run('30 1 * * *', at, 'Europe/London') FROM runs WHERE n < 4)
SELECT n, at, at AT TIME ZONE 'Europe/London' AS london FROM runs;
WITH RECURSIVE runs(n, at) AS (
  SELECT 1, dataplatform.next_run('30 1 * * *', '2026-10-23 12:00+00', 'Europe/London')
  UNION ALL
  SELECT n + 1, dataplatform.next_run('30 1 * * *', at, 'Europe/London') FROM runs WHERE n < 4)
SELECT n, at, at AT TIME ZONE 'Europe/London' AS london FROM runs;
-- a whole year of a 01:30 job: one run on each London day
WITH RECURSIVE runs(at) AS (
  SELECT dataplatform.next_run('30 1 * * *', '2025-12-31 23:59+00', 'Europe/London')
  UNION ALL
  SELECT dataplatform.next_run('30 1 * * *', at, 'Europe/London') FROM runs WHERE at < '2027-01-01+00')
SELECT count(*) AS runs, count(DISTINCT (at AT TIME ZONE 'Europe/London')::date) AS days
  FROM runs WHERE at < '2026-12-31 23:00+00';
-- NULL is UTC; intervals ignore the zone; zones east of Greenwich
SELECT dataplatform.next_run('30 1 * * *', '2026-07-01+00', NULL) AS utc,
       dataplatform.next_run('every 2 hours', '2026-07-01+00', 'Europe/London') AS interval,
       dataplatform.next_run('0 9 * * *', '2026-07-01+00', 'Asia/Kolkata') AS kolkata;
SELECT dp_test.err($$SELECT dataplatform.next_run('0 9 * * *', now(), 'Europe/Londres')$$);

-- jobs in a zone, and the nightly chain declared: collect -> rebuild -> refresh
CREATE SCHEMA dp_test_s AUTHORIZATION dp_t_admin;
SET ROLE dp_t_admin;
CREATE TABLE dp_test_s.steps (step text, at timestamptz DEFAULT clock_timestamp());
SELECT dataplatform.schedule('s-collect', '30 1 * * *', $$INSERT INTO dp_test_s.steps VALUES ('collect')$$,
  timezone => 'europe/london') > 0 AS scheduled;
SELECT dataplatform.schedule('s-rebuild', NULL, $$INSERT INTO dp_test_s.steps VALUES ('rebuild')$$,
  after => 's-collect') > 0 AS scheduled;
SELECT dataplatform.schedule('s-refresh', NULL, $$INSERT INTO dp_test_s.steps VALUES ('refresh')$$,
  after => 's-rebuild') > 0 AS scheduled;
SELECT name, schedule, timezone, after_job,
       next_run_at = dataplatform.next_run('30 1 * * *', now(), 'Europe/London') AS next_ok,
       next_run_at = 'infinity' AS only_after
  FROM dataplatform.job WHERE name LIKE 's-%' ORDER BY name;
SELECT dataplatform.run_now('s-collect') AS run \gset
SELECT dataplatform.wait_for_run(:run, '30 seconds');
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM dataplatform.job_run WHERE job_name = 's-refresh'
		                   AND status NOT IN ('queued', 'running'));
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT job_name, trigger, status, regexp_replace(message, '[0-9]+', 'N') AS message FROM dataplatform.job_run
 WHERE job_name LIKE 's-%' ORDER BY run_id;
SELECT string_agg(step, ' -> ' ORDER BY at) AS chain FROM dp_test_s.steps;
-- a failed run starts nothing after it
SELECT dataplatform.alter_job('s-collect', command => 'SELECT 1 / 0');
SELECT dataplatform.run_now('s-collect') AS run \gset
SELECT dataplatform.wait_for_run(:run, '30 seconds');
SELECT pg_sleep(0.5);
SELECT job_name, count(*) AS runs FROM dataplatform.job_run WHERE job_name LIKE 's-%' GROUP BY 1 ORDER BY 1;

-- errors: unknown zone, unknown or cyclic job to run after, nothing to run on
SELECT dp_test.err($$SELECT dataplatform.schedule('s-x', '@daily', 'SELECT 1', timezone => 'Mars/Olympus')$$);
SELECT dp_test.err($$SELECT dataplatform.schedule('s-x', NULL, 'SELECT 1', after => 'no-such-job')$$);
SELECT dp_test.err($$SELECT dataplatform.schedule('s-x', NULL, 'SELECT 1', after => 's-x')$$);
SELECT dp_test.err($$SELECT dataplatform.schedule('s-x', NULL, 'SELECT 1')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_job('s-collect', after => 's-refresh')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_job('s-rebuild', after => '')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_job('s-collect', timezone => 'Europe/Atlantis')$$);
SELECT dp_test.err($$SELECT dataplatform.unschedule('s-rebuild')$$);
-- alter_job: another zone (the next run moves with it), back to UTC, another chain
SELECT dataplatform.alter_job('s-collect', timezone => 'America/New_York');
SELECT timezone, next_run_at = dataplatform.next_run('30 1 * * *', now(), 'America/New_York') AS next_ok
  FROM dataplatform.job WHERE name = 's-collect';
SELECT dataplatform.alter_job('s-collect', timezone => '');
SELECT timezone, next_run_at = dataplatform.next_run('30 1 * * *', now()) AS next_ok
  FROM dataplatform.job WHERE name = 's-collect';
SELECT dataplatform.alter_job('s-refresh', after => 's-collect');
SELECT dataplatform.alter_job('s-rebuild', schedule => '@daily', after => '');
SELECT name, schedule, timezone, after_job FROM dataplatform.job WHERE name LIKE 's-%' ORDER BY name;
SELECT dataplatform.unschedule('s-refresh');
SELECT dataplatform.unschedule(name) FROM dataplatform.job WHERE name LIKE 's-%' ORDER BY name;
RESET ROLE;
SELECT action, object, detail FROM dataplatform.audit_log
 WHERE object LIKE 's-%' AND action IN ('schedule', 'alter_job') ORDER BY id;
DROP SCHEMA dp_test_s CASCADE;
