-- dataplatform 0.1, part 40: the background worker's jobs (src/worker.c,
-- src/jobs.c, src/cron.c).  Jobs are SQL run by the per-database worker as
-- the role that scheduled them; every run is recorded in job_run.

CREATE TABLE @extschema@.job (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name			text NOT NULL UNIQUE,
	schedule		text,
	command			text NOT NULL,
	owner			name NOT NULL,
	active			boolean NOT NULL DEFAULT true,
	timeout			interval CHECK (timeout > '0'::interval),
	retries			integer NOT NULL DEFAULT 0 CHECK (retries BETWEEN 0 AND 100),
	retry_delay		interval NOT NULL DEFAULT '30 seconds' CHECK (retry_delay > '0'::interval),
	next_run_at		timestamptz NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	timezone		text,
	after_job		text,
	CHECK (schedule IS NOT NULL OR after_job IS NOT NULL)
);
COMMENT ON TABLE @extschema@.job IS
'scheduled jobs: SQL the background worker runs as the job''s owner on a cron schedule or interval';
COMMENT ON COLUMN @extschema@.job.timezone IS
'the time zone of the cron schedule (NULL: UTC)';
COMMENT ON COLUMN @extschema@.job.after_job IS
'the job whose every successful run queues a run of this one (NULL: none)';

CREATE TABLE @extschema@.job_run (
	run_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job_id			bigint NOT NULL,
	job_name		text NOT NULL,
	trigger			text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'retry', 'after')),
	attempt			integer NOT NULL DEFAULT 1,
	status			text NOT NULL
					CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'skipped')),
	scheduled_for	timestamptz NOT NULL,
	started_at		timestamptz,
	finished_at		timestamptz,
	message			text,
	rows			bigint,
	queued_by		name
);
-- one run of a job at a time, whatever happens
CREATE UNIQUE INDEX job_run_one_running ON @extschema@.job_run (job_id) WHERE status = 'running';
CREATE INDEX job_run_queued ON @extschema@.job_run (scheduled_for, run_id) WHERE status = 'queued';
CREATE INDEX job_run_job ON @extschema@.job_run (job_id, run_id);
CREATE INDEX job_run_finished ON @extschema@.job_run (finished_at);
COMMENT ON TABLE @extschema@.job_run IS
'every run of every job: queued, running, succeeded, failed, timed_out or skipped; pruned after dataplatform.history_days';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.job', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_id_seq', '');

REVOKE ALL ON @extschema@.job, @extschema@.job_run FROM PUBLIC;
GRANT SELECT ON @extschema@.job, @extschema@.job_run TO dataplatform_admin;

CREATE FUNCTION @extschema@.next_run(schedule text, after timestamptz)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'dp_next_run'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.next_run(text, timestamptz) IS
'the first time after a given time at which a schedule (five cron fields, @daily, ..., or every N seconds|minutes|hours) fires; cron in UTC';

CREATE FUNCTION @extschema@.next_run(schedule text, after timestamptz, timezone text)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'dp_next_run'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.next_run(text, timestamptz, text) IS
'the first time after a given time at which a schedule fires, cron in the wall-clock time of a time zone (NULL: UTC)';

CREATE FUNCTION @extschema@.schedule(name text, schedule text, command text,
	timezone text DEFAULT NULL, after text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_schedule'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.schedule(text, text, text, text, text) IS
'schedule SQL to be run by the background worker as the caller, on a schedule (cron in timezone, default UTC) and/or after another job succeeds; returns the job id';

CREATE FUNCTION @extschema@.unschedule(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_unschedule'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.unschedule(text) IS
'remove a job (its queued runs are skipped; its run history stays)';

CREATE FUNCTION @extschema@.alter_job(name text, schedule text DEFAULT NULL,
	command text DEFAULT NULL, active boolean DEFAULT NULL, timeout interval DEFAULT NULL,
	retries integer DEFAULT NULL, retry_delay interval DEFAULT NULL,
	timezone text DEFAULT NULL, after text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_alter_job'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.alter_job(text, text, text, boolean, interval, integer, interval, text, text) IS
'change a job''s schedule, command, active flag, timeout (0: the default), retries, retry delay, time zone (: UTC) or the job it runs after (: none); NULL keeps a value';

CREATE FUNCTION @extschema@.run_now(name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_run_now'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.run_now(text) IS
'queue a run of a job now; returns the run id (see wait_for_run)';

CREATE FUNCTION @extschema@.wait_for_run(run_id bigint, timeout interval DEFAULT '30 seconds')
RETURNS text
AS 'MODULE_PATHNAME', 'dp_wait_for_run'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.wait_for_run(bigint, interval) IS
'wait until a job run has finished and return its status, or its current status when the timeout passes';

CREATE FUNCTION @extschema@.worker_wake()
RETURNS boolean
AS 'MODULE_PATHNAME', 'dp_worker_wake'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.worker_wake() IS
'start or wake this database''s background worker when the transaction commits; false if the launcher is not running';

REVOKE ALL ON FUNCTION @extschema@.next_run(text, timestamptz), @extschema@.next_run(text, timestamptz, text),
	@extschema@.schedule(text, text, text, text, text),
	@extschema@.unschedule(text),
	@extschema@.alter_job(text, text, text, boolean, interval, integer, interval, text, text),
	@extschema@.run_now(text), @extschema@.wait_for_run(bigint, interval),
	@extschema@.worker_wake() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.schedule(text, text, text, text, text),
	@extschema@.unschedule(text),
	@extschema@.alter_job(text, text, text, boolean, interval, integer, interval, text, text),
	@extschema@.run_now(text), @extschema@.wait_for_run(bigint, interval),
	@extschema@.worker_wake()
	TO dataplatform_admin;
GRANT EXECUTE ON FUNCTION @extschema@.next_run(text, timestamptz), @extschema@.next_run(text, timestamptz, text)
	TO dataplatform_admin, dataplatform_producer, dataplatform_consumer, dataplatform_auditor;

-- a worker for this database, once CREATE EXTENSION commits
SELECT @extschema@.worker_wake();
