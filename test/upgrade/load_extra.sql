-- test/upgrade/load_extra.sql: what the released version's samples/demo.sql
-- leaves out, loaded after it into the database about to be updated: a
-- producer grant, a scheduled job with a finished run, a secret and an
-- endpoint (never fetched), a consumer read of a published view.  Uses the
-- API of every version in test/upgrade/FROM_VERSIONS (0.1 on).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET dataplatform.environment = 'production';
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'upgrade_producer') THEN CREATE ROLE upgrade_producer; END IF;
END $$;
SELECT dataplatform.grant_producer('housing', 'upgrade_producer');
SELECT dataplatform.schedule('upgrade-refresh', '0 3 * * *', 'SELECT count(*) FROM dataplatform.refresh_all()');
SELECT dataplatform.run_now('upgrade-refresh') AS run \gset
SELECT dataplatform.wait_for_run(:run, '60 seconds') AS run_status \gset
SELECT :'run_status' = 'succeeded' AS ok \gset
\if :ok
\else
  \echo 'the job run before the update did not succeed:' :'run_status'
  SELECT 1/0;
\endif
SELECT dataplatform.set_secret('upgrade-token', 'not-a-real-token');
SELECT dataplatform.add_endpoint('conservation-area', 'http://127.0.0.1:9/areas.csv',
  '{"name": "upgrade-areas", "headers": {"Authorization": {"secret": "upgrade-token"}}}');
SET ROLE demo_analyst;
SELECT count(*) > 0 AS analyst_reads FROM dp_consumer.person;
RESET ROLE;
-- from here on no job runs unless asked (run_now still runs an inactive
-- job): the worker keeps running, but no schedule can change the rows the
-- upgrade test compares, whatever the time of day
SELECT dataplatform.alter_job(name, active => false) FROM dataplatform.job ORDER BY name;
