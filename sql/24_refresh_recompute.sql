-- an aggregate view's groups recomputed from the dataset during an
-- incremental refresh (their state lost or inconsistent): the recomputed
-- state is carried in an array, no temporary table is created, the view
-- equals its query, and the refresh stays incremental
\set VERBOSITY terse
SELECT 1 FROM dataplatform.define_product('recompute');
SELECT dataplatform.define_dataset('{"dataset": "recompute-item", "product": "recompute", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "kind", "datatype": "string"},
  {"name": "rent", "datatype": "decimal"}, {"name": "rooms", "datatype": "integer"}]}');
SELECT dataplatform.push('recompute-item', (SELECT jsonb_agg(jsonb_build_object('id', i, 'kind', (ARRAY['a', 'b', 'c'])[1 + i % 3],
  'rent', i % 11, 'rooms', i % 4)) FROM generate_series(1, 60) i)) > 0 AS pushed;
SELECT dataplatform.publish('recompute_g', $$SELECT kind, count(*) AS n, sum(rent) AS s, min(rent) AS lo, max(rent) AS hi,
  min(rooms) FILTER (WHERE rent > 3) AS lo3 FROM dp_clean.recompute_item GROUP BY kind$$) ->> 'method' AS method;
-- the state of group b lost: its next change finds no state to move
DELETE FROM dp_consumer_state.recompute_g WHERE kind = 'b';
SELECT dataplatform.push('recompute-item', '[{"id": 1, "kind": "b", "rent": "0", "rooms": 3},
  {"id": 4, "kind": "b", "rent": "20", "rooms": 0}, {"id": 3, "kind": "c", "rent": "2", "rooms": 1}]') > 0 AS pushed;
-- in a new session, whose first temporary table would make its temporary schema
\c -
\set VERBOSITY terse
SELECT r ->> 'status' AS status, r ->> 'mode' AS mode FROM dataplatform.refresh('recompute_g') r;
SELECT pg_catalog.pg_my_temp_schema() = 0 AS no_temporary_table;
CREATE FUNCTION pg_temp.differing() RETURNS bigint LANGUAGE sql AS $f$
SELECT count(*) FROM ((TABLE dp_consumer.recompute_g EXCEPT ALL
    SELECT kind, count(*), sum(rent), min(rent), max(rent), min(rooms) FILTER (WHERE rent > 3)
      FROM dp_clean.recompute_item GROUP BY kind)
  UNION ALL (SELECT kind, count(*), sum(rent), min(rent), max(rent), min(rooms) FILTER (WHERE rent > 3)
      FROM dp_clean.recompute_item GROUP BY kind EXCEPT ALL TABLE dp_consumer.recompute_g)) x $f$;
SELECT pg_temp.differing() AS differing;
SELECT kind, n, s, lo, hi, lo3 FROM dp_consumer.recompute_g ORDER BY kind;
SELECT kind, _rows, _dirty FROM dp_consumer_state.recompute_g ORDER BY kind;
-- again, for a group that still has rows and one that no longer has any
DELETE FROM dp_consumer_state.recompute_g WHERE kind IN ('a', 'c');
SELECT dataplatform.push('recompute-item', (SELECT jsonb_agg(jsonb_build_object('id', i, 'kind', CASE WHEN i % 3 = 0 THEN 'a' ELSE 'd' END,
  'rent', i % 7, 'rooms', i % 2)) FROM generate_series(1, 60) i WHERE i % 3 IN (0, 2))) > 0 AS pushed;
SELECT r ->> 'status' AS status, r ->> 'mode' AS mode FROM dataplatform.refresh('recompute_g') r;
SELECT pg_temp.differing() AS differing;
SELECT kind, n, s, lo, hi, lo3 FROM dp_consumer.recompute_g ORDER BY kind;
SELECT dataplatform.unpublish('recompute_g');
