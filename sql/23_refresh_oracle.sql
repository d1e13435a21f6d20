-- incremental refresh against its oracle, the view's own query: random
-- pushes (updates, moves between groups, nulls, rows entering and leaving a
-- filter) and after each an incremental refresh of an aggregate view (sums,
-- avg, min/max with and without FILTER, read back through the extreme
-- index when their holders leave), one grouped by a column with an
-- expression under max, and a keyed view; every round must stay
-- incremental and equal the query (EXCEPT ALL both ways)
\set VERBOSITY terse
SELECT 1 FROM dataplatform.define_product('oracle');
SELECT dataplatform.define_dataset('{"dataset": "oracle-item", "product": "oracle", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "kind", "datatype": "string"},
  {"name": "rent", "datatype": "decimal"}, {"name": "rooms", "datatype": "integer"}]}');
SELECT setseed(0.5);
SELECT dataplatform.push('oracle-item', (SELECT jsonb_agg(jsonb_build_object('id', i, 'kind', (ARRAY['a', 'b', 'c', NULL])[1 + i % 4],
  'rent', CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 13) END, 'rooms', i % 5)) FROM generate_series(1, 300) i)) > 0 AS pushed;
SELECT dataplatform.publish('oracle_g1', $$SELECT coalesce(kind, '-') AS kind, count(*) AS n, count(rent) AS nr,
  sum(rent) AS s, avg(rent) AS a, min(rent) AS lo, max(rent) AS hi, min(rent) FILTER (WHERE rooms > 2) AS lo3,
  max(rooms) FILTER (WHERE rent > 5) AS hir FROM dp_clean.oracle_item WHERE rooms > 0 GROUP BY 1$$) ->> 'method' AS method;
SELECT dataplatform.publish('oracle_g2', $$SELECT rooms, count(*) AS n, min(kind) AS lk, max(rent * 2) AS h2
  FROM dp_clean.oracle_item GROUP BY rooms$$) ->> 'method' AS method;
SELECT dataplatform.publish('oracle_p1', $$SELECT id, kind, rent * 2 AS r2 FROM dp_clean.oracle_item WHERE rooms > 1$$)
  ->> 'method' AS method;
CREATE FUNCTION pg_temp.differing() RETURNS text LANGUAGE sql AS $f$
SELECT 'g1 ' || (SELECT count(*) FROM ((TABLE dp_consumer.oracle_g1 EXCEPT ALL
    SELECT coalesce(kind, '-'), count(*), count(rent), sum(rent), avg(rent), min(rent), max(rent),
           min(rent) FILTER (WHERE rooms > 2), max(rooms) FILTER (WHERE rent > 5)
      FROM dp_clean.oracle_item WHERE rooms > 0 GROUP BY 1)
  UNION ALL (SELECT coalesce(kind, '-'), count(*), count(rent), sum(rent), avg(rent), min(rent), max(rent),
           min(rent) FILTER (WHERE rooms > 2), max(rooms) FILTER (WHERE rent > 5)
      FROM dp_clean.oracle_item WHERE rooms > 0 GROUP BY 1 EXCEPT ALL TABLE dp_consumer.oracle_g1)) x)
 || ', g2 ' || (SELECT count(*) FROM ((TABLE dp_consumer.oracle_g2 EXCEPT ALL
    SELECT rooms, count(*), min(kind), max(rent * 2) FROM dp_clean.oracle_item GROUP BY rooms)
  UNION ALL (SELECT rooms, count(*), min(kind), max(rent * 2) FROM dp_clean.oracle_item GROUP BY rooms
    EXCEPT ALL TABLE dp_consumer.oracle_g2)) x)
 || ', p1 ' || (SELECT count(*) FROM ((TABLE dp_consumer.oracle_p1 EXCEPT ALL
    SELECT id, kind, rent * 2 FROM dp_clean.oracle_item WHERE rooms > 1)
  UNION ALL (SELECT id, kind, rent * 2 FROM dp_clean.oracle_item WHERE rooms > 1
    EXCEPT ALL TABLE dp_consumer.oracle_p1)) x) $f$;
CREATE TEMP TABLE round_result (round int, differing text, modes text);
DO $$
DECLARE
  r int;
BEGIN
  FOR r IN 1..25 LOOP
    PERFORM dataplatform.push('oracle-item', (SELECT jsonb_agg(jsonb_build_object('id', i,
      'kind', (ARRAY['a', 'b', 'c', NULL, 'd'])[1 + (random() * 4.9)::int],
      'rent', CASE WHEN random() < 0.15 THEN NULL ELSE (random() * 14)::int END, 'rooms', (random() * 5)::int))
      FROM (SELECT DISTINCT (random() * 320)::int + 1 AS i FROM generate_series(1, 1 + (random() * 30)::int)) s));
    INSERT INTO round_result
    SELECT r, NULL, string_agg(dataplatform.refresh(v) ->> 'mode', ', ' ORDER BY v)
      FROM unnest(ARRAY['oracle_g1', 'oracle_g2', 'oracle_p1']) v;
    UPDATE round_result SET differing = pg_temp.differing() WHERE round = r;
  END LOOP;
END $$;
SELECT count(*) AS rounds, count(*) FILTER (WHERE modes = 'incremental, incremental, incremental') AS incremental,
       count(*) FILTER (WHERE differing = 'g1 0, g2 0, p1 0') AS equal_to_query
  FROM round_result;
SELECT round, differing, modes FROM round_result WHERE differing <> 'g1 0, g2 0, p1 0' ORDER BY round;
SELECT dataplatform.unpublish('oracle_g1'), dataplatform.unpublish('oracle_g2'), dataplatform.unpublish('oracle_p1');
-- a rebuild of an event-fed dataset replays its batches: the next refresh
-- of a view over it is full (the rebuild stamp is read through the batch
-- index), the one after finds nothing
SELECT dataplatform.define_dataset('{"dataset": "oracle-ev", "product": "oracle", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string"}]}');
SELECT dataplatform.load_snapshot('oracle-ev', '[{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]', '2024-01-01 00:00:00+00') > 0 AS loaded;
SELECT outcome FROM dataplatform.apply_events('oracle-ev', '[{"id": "e1", "eventType": "ThingUpdatedEvent",
  "dateTime": "2024-01-02T00:00:00Z", "entityId": 1, "eventData": {"newData": {"v": "c"}}}]');
SELECT dataplatform.publish('oracle_ev', 'SELECT id, v FROM dp_clean.oracle_ev') ->> 'method' AS method;
SELECT dataplatform.refresh('oracle_ev') ->> 'status' AS status;
SELECT dataplatform.rebuild('oracle-ev') ->> 'batches' AS batches;
SELECT r ->> 'mode' AS mode, r ->> 'reason' AS reason FROM dataplatform.refresh('oracle_ev') r;
SELECT dataplatform.refresh('oracle_ev') ->> 'status' AS status;
SELECT * FROM dp_consumer.oracle_ev ORDER BY id;
SELECT dataplatform.unpublish('oracle_ev');
