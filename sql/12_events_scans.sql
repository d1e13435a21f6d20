-- cost follows the call: apply_events and load_snapshot (merge) read stored
-- state only through indexes on the keys and event ids they bring.  The
-- check reads what really ran: the transaction's own table statistics
-- (pg_stat_xact_user_tables) around one small call, on a dataset of 20,000
-- entities with 20,000 processed events and 1,000 waiting orphans, analyzed
-- so that any SQL left on the path is planned with real statistics.
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';

SELECT name FROM dataplatform.define_product('scans');
SELECT dataplatform.define_dataset('{"dataset": "unit", "product": "scans", "key": ["id"], "fields": [
  {"name": "id", "datatype": "uuid"}, {"name": "ref", "datatype": "string"},
  {"name": "rent", "datatype": "decimal"}]}');

CREATE FUNCTION dp_test.unit_id(n int) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT md5('unit' || n)::uuid::text $$;
CREATE FUNCTION dp_test.unit_ev(id text, type text, at timestamptz, n int, rent int DEFAULT NULL)
RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('id', id, 'eventType', type,
         'dateTime', to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'entityId', dp_test.unit_id(n),
         'eventData', jsonb_build_object('newData',
           CASE WHEN type = 'UnitCreatedEvent' THEN jsonb_build_object('ref', 'R' || n, 'rent', rent)
                WHEN rent IS NOT NULL THEN jsonb_build_object('rent', rent) ELSE '{}'::jsonb END)) $$;

-- what the transaction read of the dataset's tables and the event tables:
-- whole-table scans, and whether the rows it fetched (through an index or a
-- scan) stay within what the call brings; the counts are the backend's
-- since its last flush of statistics, so each checked call runs right after
-- a forced flush
CREATE FUNCTION dp_test.unit_reads(bound int) RETURNS TABLE (relation text, seq_scans bigint, rows_within boolean)
LANGUAGE sql AS $$
  SELECT s.schemaname || '.' || s.relname, s.seq_scan, s.seq_tup_read + COALESCE(s.idx_tup_fetch, 0) <= bound
    FROM pg_stat_xact_user_tables s
   WHERE (s.schemaname, s.relname) IN (('dp_clean', 'unit'), ('dp_clean', 'unit_history'),
                                       ('dataplatform', 'event'), ('dataplatform', 'orphan_event'))
   ORDER BY 1 $$;

-- 20,000 entities, 20,000 events applied to them, 1,000 orphans waiting
SELECT dataplatform.load_snapshot('unit', (SELECT jsonb_agg(jsonb_build_object('id', dp_test.unit_id(n),
  'ref', 'R' || n, 'rent', 100)) FROM generate_series(1, 20000) n), '2024-01-01 00:00:00+00') > 0 AS loaded;
SELECT outcome, count(*) FROM dataplatform.apply_events('unit', (SELECT jsonb_agg(dp_test.unit_ev('u' || n,
  'UnitUpdatedEvent', timestamptz '2024-02-01 00:00:00+00' + n * interval '1 second', n, n % 500))
  FROM generate_series(1, 20000) n)) GROUP BY 1 ORDER BY 1;
SELECT outcome, count(*) FROM dataplatform.apply_events('unit', (SELECT jsonb_agg(dp_test.unit_ev('o' || n,
  'UnitUpdatedEvent', timestamptz '2024-03-01 00:00:00+00', 100000 + n, 7))
  FROM generate_series(1, 1000) n)) GROUP BY 1 ORDER BY 1;
ANALYZE dp_clean.unit, dp_clean.unit_history, dataplatform.event, dataplatform.orphan_event;

-- one small call with every kind of event: no table scanned, a handful of rows read
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('unit', jsonb_build_array(
  dp_test.unit_ev('s1', 'UnitUpdatedEvent', '2024-04-01 00:00:00+00', 1, 1),
  dp_test.unit_ev('s2', 'UnitDeletedEvent', '2024-04-01 00:00:00+00', 2),
  dp_test.unit_ev('s3', 'UnitUpdatedEvent', '2024-01-15 00:00:00+00', 3, 3),
  dp_test.unit_ev('u4', 'UnitUpdatedEvent', '2024-04-01 00:00:00+00', 4, 4),
  dp_test.unit_ev('s5', 'UnitCreatedEvent', '2024-04-01 00:00:00+00', 200000, 5),
  dp_test.unit_ev('s6', 'UnitUpdatedEvent', '2024-04-01 00:00:00+00', 200001, 6),
  -- brings entity 100001 into being: its waiting orphan o1 replays
  dp_test.unit_ev('s7', 'UnitCreatedEvent', '2024-02-15 00:00:00+00', 100001, 7))) ORDER BY 1;
SELECT * FROM dp_test.unit_reads(20);
COMMIT;
SELECT left(id::text, 8) AS id, ref, rent FROM dp_clean.unit
 WHERE id IN (dp_test.unit_id(1)::uuid, dp_test.unit_id(2)::uuid, dp_test.unit_id(200000)::uuid,
              dp_test.unit_id(100001)::uuid) ORDER BY ref;
SELECT event_id, replay_outcome FROM dataplatform.orphan_event WHERE dataset = 'unit' AND event_id = 'o1';

-- a snapshot merge of a few rows, one of them bringing an entity with a waiting orphan
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT r ->> 'added' AS added, r ->> 'changed' AS changed, r ->> 'orphans_replayed' AS orphans_replayed
  FROM dataplatform.resync_report(dataplatform.load_snapshot('unit', jsonb_build_array(
         jsonb_build_object('id', dp_test.unit_id(5), 'ref', 'R5', 'rent', 55),
         jsonb_build_object('id', dp_test.unit_id(100002), 'ref', 'R100002', 'rent', 1)),
         '2024-02-20 00:00:00+00', 'merge')) r;
SELECT * FROM dp_test.unit_reads(20);
COMMIT;
SELECT event_id, replay_outcome FROM dataplatform.orphan_event WHERE dataset = 'unit' AND event_id = 'o2';

-- a call of 2,000 updates (a tenth of the entities): what it reads follows
-- what it brings, about one row per event
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT outcome, count(*) FROM dataplatform.apply_events('unit', (SELECT jsonb_agg(dp_test.unit_ev('m' || n,
  'UnitUpdatedEvent', timestamptz '2024-05-01 00:00:00+00' + n * interval '1 second', n * 7, n % 100))
  FROM generate_series(1, 2000) n)) GROUP BY 1 ORDER BY 1;
SELECT * FROM dp_test.unit_reads(2100);
COMMIT;

-- the write paths in one call: an entity deleted and created again (its row
-- updated in place, the key written anew), a create over a stored entity
-- (every value replaced), an update that changes nothing (lineage moves on,
-- no version), and the history each leaves
SELECT ordinal, event_id, outcome, detail FROM dataplatform.apply_events('unit', jsonb_build_array(
  dp_test.unit_ev('w1', 'UnitDeletedEvent', '2024-06-01 00:00:00+00', 10),
  dp_test.unit_ev('w2', 'UnitCreatedEvent', '2024-06-02 00:00:00+00', 10, 1010),
  dp_test.unit_ev('w3', 'UnitCreatedEvent', '2024-06-01 00:00:00+00', 11, 1111),
  dp_test.unit_ev('w4', 'UnitUpdatedEvent', '2024-06-01 00:00:00+00', 12, 12 % 500))) ORDER BY 1;
SELECT c.ref, c.rent, c._event_id, c._watermark FROM dp_clean.unit c
 WHERE c.id IN (dp_test.unit_id(10)::uuid, dp_test.unit_id(11)::uuid, dp_test.unit_id(12)::uuid) ORDER BY c.ref;
SELECT h.ref, h.rent, h._operation, h._event_id, h._closed_by_event, h._valid_from, h._valid_to
  FROM dp_clean.unit_history h
 WHERE h.id IN (dp_test.unit_id(10)::uuid, dp_test.unit_id(11)::uuid, dp_test.unit_id(12)::uuid)
   AND h._closed_by_event LIKE 'w%' ORDER BY h._history_id;
