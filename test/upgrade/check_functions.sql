-- test/upgrade/check_functions.sql: after the update, the API works on the
-- data the released version left (samples/demo.sql + load_extra.sql):
-- push and push_csv into existing datasets, define_dataset unchanged, check,
-- events on the existing feed, refresh of the published views, as_of,
-- masked and unmasked consumer reads, the audit trail (writes at once,
-- reads through the worker), a job run by the worker.  Each step raises on
-- a wrong answer; run with ON_ERROR_STOP.
SET client_min_messages = warning;
SET dataplatform.environment = 'production';
\set VERBOSITY terse

-- push into the existing clean table and history
SELECT dataplatform.push('tenure', '[{"id": "aa000000-0000-4000-8000-000000000001", "paymentReference": "1000777777",
  "tenuredAssetId": "9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "tenureType": "SEC", "weeklyRent": "77.70",
  "isActive": "yes", "startOfTenureDate": "2024-09-01"}]') AS push_batch \gset
DO $$ BEGIN
  IF (SELECT weekly_rent FROM dp_clean.tenure WHERE id = 'aa000000-0000-4000-8000-000000000001') IS DISTINCT FROM 77.70 THEN
    RAISE EXCEPTION 'push after the update did not reach dp_clean.tenure';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM dataplatform.audit_log WHERE action = 'push' AND object = 'tenure'
                   AND at > pg_catalog.now() - interval '10 minutes') THEN
    RAISE EXCEPTION 'the push after the update was not audited';
  END IF;
END $$;
SELECT dataplatform.push_csv('conservation-area', E'Reference,Name,Area (ha)\nCA-UPG-1,Upgrade Square,1.5\n') > 0 AS pushed_csv;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM dp_clean.conservation_area WHERE reference = 'CA-UPG-1') THEN
    RAISE EXCEPTION 'push_csv after the update did not reach dp_clean.conservation_area';
  END IF;
END $$;

-- the specification is unchanged: defining it again is not a new version
DO $$ DECLARE v text; BEGIN
  v := dataplatform.define_dataset(dataplatform.describe('tenure') - 'version' - 'clean_table');
  IF v <> (SELECT version FROM dataplatform.dataset WHERE name = 'tenure') THEN
    RAISE EXCEPTION 'define_dataset of the unchanged tenure spec made version %', v;
  END IF;
END $$;

-- the dynamic check still finds issues
DO $$ BEGIN
  IF jsonb_array_length(dataplatform.check('tenure', '[{"id": "not-a-uuid", "weeklyRent": "ten"}]') -> 'issues') = 0 THEN
    RAISE EXCEPTION 'check found no issue in a bad row';
  END IF;
END $$;

-- events on the existing feed: a new event applies, an old one is a duplicate
DO $$ DECLARE o text; BEGIN
  SELECT string_agg(outcome, ',' ORDER BY ordinal) INTO o FROM dataplatform.apply_events('tenure-feed', '[
    {"id": "0e1f2a3b-0001-4000-8000-000000000001", "eventType": "TenureUpdatedEvent",
     "dateTime": "2024-06-03T09:15:02.4581234Z", "entityId": "6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11",
     "eventData": {"oldData": {"weeklyRent": 123.75}, "newData": {"weeklyRent": 127.10}}},
    {"id": "0e1f2a3b-0099-4000-8000-000000000099", "eventType": "TenureUpdatedEvent",
     "dateTime": "2024-07-01T10:00:00Z", "entityId": "6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11",
     "eventData": {"oldData": {}, "newData": {"weeklyRent": 131.00}}}]');
  IF o IS DISTINCT FROM 'duplicate,applied' THEN
    RAISE EXCEPTION 'apply_events after the update: outcomes %', o;
  END IF;
  IF (SELECT weekly_rent FROM dp_clean.tenure_feed WHERE id = '6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11') IS DISTINCT FROM 131.00 THEN
    RAISE EXCEPTION 'the applied event did not change dp_clean.tenure_feed';
  END IF;
END $$;

-- as_of before the new event is what it was
DO $$ BEGIN
  IF (SELECT j ->> 'weeklyRent' FROM dataplatform.as_of('tenure-feed', '2024-06-20 00:00:00+00') j
       WHERE j ->> 'id' = '6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11') = '131.00' THEN
    RAISE EXCEPTION 'as_of before the event sees the event';
  END IF;
  IF (SELECT (j ->> 'weeklyRent')::numeric FROM dataplatform.as_of('tenure-feed', '2024-07-02 00:00:00+00') j
       WHERE j ->> 'id' = '6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11') IS DISTINCT FROM 131.00 THEN
    RAISE EXCEPTION 'as_of after the event does not see it';
  END IF;
END $$;

-- the published views refresh from the changes (incrementally) and show them
DO $$ DECLARE bad text; BEGIN
  SELECT string_agg(view || ': ' || (result ->> 'status'), ', ') INTO bad
    FROM dataplatform.refresh_all() WHERE result ->> 'status' NOT IN ('ok', 'unchanged')
     AND view <> 'tenure_checked';
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'refresh_all after the update: %', bad;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM dp_consumer.tenure WHERE id = 'aa000000-0000-4000-8000-000000000001') THEN
    RAISE EXCEPTION 'dp_consumer.tenure does not show the pushed row after refresh';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM dp_consumer.conservation_area_current WHERE reference = 'CA-UPG-1') THEN
    RAISE EXCEPTION 'dp_consumer.conservation_area_current does not show the pushed row after refresh';
  END IF;
END $$;
SELECT dataplatform.refresh('rent_by_tenure_type', true) ->> 'status' AS full_refresh;

-- consumer reads: masked for the analyst, real for the caseworker; from 0.2
-- on only under an agreement, which the update does not make (it names the
-- roles): granted again, as docs/install.md says
SELECT dataplatform.grant_consumer('demo_analyst', false);
SELECT dataplatform.grant_consumer('demo_caseworker', true);
SET ROLE demo_analyst;
SELECT surname AS analyst_sees FROM dp_consumer.person /* upgrade-check analyst */
 WHERE id = '6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11' \gset
RESET ROLE;
SET ROLE demo_caseworker;
SELECT surname AS caseworker_sees FROM dp_consumer.person /* upgrade-check caseworker */
 WHERE id = '6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11' \gset
RESET ROLE;
SELECT :'analyst_sees' <> :'caseworker_sees' AND :'caseworker_sees' = (SELECT surname FROM dp_clean.person
        WHERE id = '6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11') AS masking_ok \gset
\if :masking_ok
\else
  \echo 'masking after the update: analyst sees' :'analyst_sees' ', caseworker sees' :'caseworker_sees'
  SELECT 1/0;
\endif

-- the worker runs again: it writes the reads to the audit trail, and runs a job
DO $$ BEGIN
  FOR i IN 1..300 LOOP
    EXIT WHEN (SELECT count(*) FROM dataplatform.audit_log
                WHERE action = 'read' AND detail ->> 'query' LIKE '%upgrade-check %') >= 2;
    PERFORM pg_catalog.pg_sleep(0.1);
  END LOOP;
  IF (SELECT count(*) FROM dataplatform.audit_log
       WHERE action = 'read' AND detail ->> 'query' LIKE '%upgrade-check %') < 2 THEN
    RAISE EXCEPTION 'the reads after the update are not in the audit log after 30 s';
  END IF;
END $$;
SELECT dataplatform.run_now('upgrade-refresh') AS run \gset
SELECT dataplatform.wait_for_run(:run, '60 seconds') = 'succeeded' AS run_ok \gset
\if :run_ok
\else
  SELECT status, message FROM dataplatform.job_run WHERE run_id = :run;
  \echo 'the job run after the update did not succeed'
  SELECT 1/0;
\endif
