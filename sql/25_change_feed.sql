-- the change feed (src/common/change_feed.c): every row version written
-- into a dataset's current table is recorded, as its TID, under the batch
-- that wrote it (pushes new and changed, the keyed upsert of snapshots
-- with its watermark-only touches, events); refresh finds the changed rows
-- there, with no index on _batch_id; a rewritten table makes the next
-- refresh a full one
\set VERBOSITY terse
SET client_min_messages = warning;
SET check_function_bodies = off;
SELECT name FROM dataplatform.define_product('cf');
SELECT dataplatform.define_dataset('{"dataset": "cf-item", "product": "cf", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "name", "datatype": "string"},
  {"name": "rent", "datatype": "integer"}]}') IS NOT NULL AS defined;
-- no index but the primary key
SELECT indexname FROM pg_indexes WHERE schemaname = 'dp_clean' AND tablename = 'cf_item' ORDER BY 1;

-- every live row stands where a batch at or after the one that stamped it recorded it
CREATE FUNCTION dp_test.feed_misses() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM dp_clean.cf_item c
   WHERE NOT EXISTS (SELECT 1 FROM dataplatform.clean_change f
                      WHERE f.dataset = 'cf-item' AND f.batch_id >= c._batch_id AND c.ctid = ANY (f.tids)) $$;
-- each view equals its query
CREATE FUNCTION dp_test.cf_differing() RETURNS TABLE (view text, differing bigint) LANGUAGE sql AS $$
  SELECT 'cf_items', count(*) FROM (
    (TABLE dp_consumer.cf_items EXCEPT ALL SELECT id, name, rent FROM dp_clean.cf_item WHERE rent > 10)
    UNION ALL (SELECT id, name, rent FROM dp_clean.cf_item WHERE rent > 10 EXCEPT ALL TABLE dp_consumer.cf_items)) d
  UNION ALL
  SELECT 'cf_groups', count(*) FROM (
    (TABLE dp_consumer.cf_groups EXCEPT ALL
     SELECT rent % 7, count(*), sum(rent), min(name), max(rent) FROM dp_clean.cf_item GROUP BY 1)
    UNION ALL (SELECT rent % 7, count(*), sum(rent), min(name), max(rent) FROM dp_clean.cf_item GROUP BY 1
               EXCEPT ALL TABLE dp_consumer.cf_groups)) d $$;
CREATE FUNCTION dp_test.cf_refresh() RETURNS TABLE (view text, mode text, inserted text, updated text,
  deleted text) LANGUAGE sql AS $$
  SELECT v, r ->> 'mode', r ->> 'inserted', r ->> 'updated', r ->> 'deleted'
    FROM unnest(ARRAY['cf_items', 'cf_groups']) v, dataplatform.refresh(v) r ORDER BY 1 $$;

SELECT dataplatform.push('cf-item', (SELECT jsonb_agg(jsonb_build_object('id', i, 'name', 'item ' || i,
  'rent', i % 40)) FROM generate_series(1, 300) i)) > 0 AS pushed;
SELECT dataplatform.publish('cf_items', 'SELECT id, name, rent FROM dp_clean.cf_item WHERE rent > 10') ->> 'method' AS method;
SELECT dataplatform.publish('cf_groups', 'SELECT rent % 7 AS g, count(*) AS n, sum(rent) AS total,
  min(name) AS first_name, max(rent) AS top FROM dp_clean.cf_item GROUP BY 1') ->> 'method' AS method;
SELECT count(*) AS feed_rows, sum(cardinality(tids)) AS tids FROM dataplatform.clean_change WHERE dataset = 'cf-item';
SELECT dp_test.feed_misses() AS misses;

-- a push: 30 keys changed (updated in place), 5 unchanged, 10 new
SELECT dataplatform.push('cf-item', (SELECT jsonb_agg(jsonb_build_object('id', i, 'name', 'item ' || i,
  'rent', CASE WHEN i <= 30 THEN i % 40 + 15 ELSE i % 40 END)) FROM generate_series(1, 35) i)
  || (SELECT jsonb_agg(jsonb_build_object('id', i, 'name', 'new ' || i, 'rent', 12)) FROM generate_series(301, 310) i)) > 0 AS pushed;
SELECT cardinality(tids) AS written FROM dataplatform.clean_change WHERE dataset = 'cf-item' ORDER BY batch_id DESC LIMIT 1;
SELECT dp_test.feed_misses() AS misses;
SELECT * FROM dp_test.cf_refresh();
SELECT * FROM dp_test.cf_differing();

-- a snapshot with a watermark (the keyed upsert statement): rows changed,
-- and rows unchanged whose watermark alone moves (a version moved, not
-- restamped: recorded too, so a view whose watermark stops below it still
-- finds it)
SELECT dataplatform.load_snapshot('cf-item', (SELECT jsonb_agg(jsonb_build_object('id', i, 'name', 'item ' || i,
  'rent', CASE WHEN i <= 5 THEN 39 ELSE i % 40 END)) FROM generate_series(1, 20) i),
  '2030-01-01 00:00:00+00', 'merge') > 0 AS snapshot;
SELECT dp_test.feed_misses() AS misses;
SELECT * FROM dp_test.cf_refresh();
SELECT * FROM dp_test.cf_differing();

-- events: updates (which can be HOT: no index covers _batch_id), a delete, a create
SELECT outcome, count(*) FROM dataplatform.apply_events('cf-item', (SELECT jsonb_agg(jsonb_build_object(
    'id', 'cf-e' || i, 'eventType', CASE WHEN i = 50 THEN 'ItemDeletedEvent' WHEN i = 400 THEN 'ItemCreatedEvent'
                                      ELSE 'ItemUpdatedEvent' END,
    'dateTime', '2031-01-01T00:00:00Z', 'entityId', i::text,
    'eventData', jsonb_build_object('newData', jsonb_build_object('rent', i % 9 + 20, 'name', 'ev ' || i))))
  FROM (SELECT generate_series(40, 70) AS i UNION ALL SELECT 400) s)) GROUP BY 1 ORDER BY 1;
SELECT dp_test.feed_misses() AS misses;
SELECT * FROM dp_test.cf_refresh();
SELECT * FROM dp_test.cf_differing();

-- VACUUM frees the dead versions' slots, which new rows then take: a TID
-- in an older batch's feed now holds a newer row (its _batch_id decides)
VACUUM dp_clean.cf_item;
SELECT dataplatform.push('cf-item', (SELECT jsonb_agg(jsonb_build_object('id', i, 'name', 'late ' || i,
  'rent', i % 30)) FROM generate_series(500, 560) i)) > 0 AS pushed;
SELECT dataplatform.push('cf-item', (SELECT jsonb_agg(jsonb_build_object('id', i, 'name', 'again ' || i,
  'rent', i % 30 + 1)) FROM generate_series(100, 140) i)) > 0 AS pushed;
SELECT dp_test.feed_misses() AS misses;
SELECT * FROM dp_test.cf_refresh();
SELECT * FROM dp_test.cf_differing();

-- a rewrite moves every row: the next refresh is a full one, the one after incremental again
VACUUM FULL dp_clean.cf_item;
SELECT dataplatform.push('cf-item', '[{"id": 7, "name": "after rewrite", "rent": 33}]') > 0 AS pushed;
SELECT v AS view, r ->> 'mode' AS mode, r ->> 'reason' AS reason
  FROM unnest(ARRAY['cf_items', 'cf_groups']) v, dataplatform.refresh(v) r ORDER BY 1;
SELECT dataplatform.push('cf-item', '[{"id": 8, "name": "after that", "rent": 34}]') > 0 AS pushed;
SELECT * FROM dp_test.cf_refresh();
SELECT * FROM dp_test.cf_differing();
-- a view whose feed retention dropped before it read it (the watermark's file unknown): full
UPDATE dataplatform.consumer_source SET filenode = NULL WHERE view = 'cf_items';
SELECT dataplatform.push('cf-item', '[{"id": 9, "name": "after a drop", "rent": 35}]') > 0 AS pushed;
SELECT v AS view, r ->> 'mode' AS mode, r ->> 'reason' AS reason
  FROM unnest(ARRAY['cf_items', 'cf_groups']) v, dataplatform.refresh(v) r ORDER BY 1;
SELECT * FROM dp_test.cf_differing();

-- the diff of carried rows is written in C (rows that left deleted, rows
-- that differ updated in place, new keys inserted); a view's table with a
-- trigger of its own (an operator's audit, say) keeps the SQL diff, and
-- the trigger fires
CREATE TABLE dp_test.cf_seen (op text, id int);
CREATE FUNCTION dp_test.cf_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO dp_test.cf_seen VALUES (TG_OP, CASE TG_OP WHEN 'DELETE' THEN OLD.id ELSE NEW.id END); RETURN NULL; END $$;
SELECT id, rent FROM dp_consumer.cf_items WHERE id IN (13, 14, 15) ORDER BY 1;
SELECT dataplatform.push('cf-item', '[{"id": 13, "name": "raised", "rent": 38}, {"id": 14, "name": "left", "rent": 2},
  {"id": 15, "name": "kept", "rent": 15}, {"id": 901, "name": "new", "rent": 20}]') > 0 AS pushed;
SELECT * FROM dp_test.cf_refresh();
SELECT * FROM dp_test.cf_differing();
CREATE TRIGGER cf_seen AFTER INSERT OR UPDATE OR DELETE ON dp_consumer_data.cf_items
  FOR EACH ROW EXECUTE FUNCTION dp_test.cf_seen();
SELECT dataplatform.push('cf-item', '[{"id": 13, "name": "raised again", "rent": 39}, {"id": 15, "name": "left too", "rent": 3},
  {"id": 902, "name": "new too", "rent": 21}]') > 0 AS pushed;
SELECT * FROM dp_test.cf_refresh();
SELECT op, id FROM dp_test.cf_seen ORDER BY 2, 1;
SELECT * FROM dp_test.cf_differing();
DROP TRIGGER cf_seen ON dp_consumer_data.cf_items;
-- a publication of updates with no replica identity: the diff refuses to
-- update, as UPDATE does (a subscriber could not apply it)
SET client_min_messages = error;  -- wal_level's warning
CREATE PUBLICATION cf_pub FOR TABLE dp_consumer_data.cf_items;
SET client_min_messages = warning;
SELECT dataplatform.push('cf-item', '[{"id": 13, "name": "unpublishable", "rent": 37}]') > 0 AS pushed;
SELECT r ->> 'status' AS status, r ->> 'error' AS error FROM dataplatform.refresh('cf_items') r;
ALTER TABLE dp_consumer_data.cf_items REPLICA IDENTITY USING INDEX cf_items_key;
SELECT r ->> 'status' AS status, r ->> 'updated' AS updated FROM dataplatform.refresh('cf_items') r;
DROP PUBLICATION cf_pub;
SELECT * FROM dp_test.cf_refresh();
SELECT * FROM dp_test.cf_differing();

-- the change feed is read by the platform's roles only
SELECT has_table_privilege('dataplatform_admin', 'dataplatform.clean_change', 'SELECT') AS admin_reads,
       has_table_privilege('dataplatform_consumer', 'dataplatform.clean_change', 'SELECT') AS consumer_reads,
       has_table_privilege('dataplatform_admin', 'dataplatform.clean_change', 'INSERT') AS admin_writes;

-- the statements every refresh runs on the catalog (the watermarks, the
-- view's row, the log) keep their plans in the backend across calls, one
-- per statement however many refreshes run; DDL on a table they read (as
-- ALTER EXTENSION UPDATE does under a long-lived worker) makes them be
-- planned again, with the same results
SELECT r ->> 'status' AS status FROM dataplatform.refresh('cf_items') r;
SELECT dataplatform.push('cf-item', '[{"id": 14, "name": "kept", "rent": 40}]') > 0 AS pushed;
SELECT r ->> 'status' AS status, r ->> 'inserted' AS inserted FROM dataplatform.refresh('cf_items') r;
SELECT count(*) AS kept_watermark_plans FROM pg_backend_memory_contexts
 WHERE name = 'CachedPlanSource' AND ident LIKE 'SELECT COALESCE(LEAST(%';
ALTER TABLE dataplatform.consumer_source ADD COLUMN kept_probe integer;
SELECT dataplatform.push('cf-item', '[{"id": 15, "name": "replanned", "rent": 41}]') > 0 AS pushed;
SELECT r ->> 'status' AS status, r ->> 'inserted' AS inserted FROM dataplatform.refresh('cf_items') r;
ALTER TABLE dataplatform.consumer_source DROP COLUMN kept_probe;
SELECT dataplatform.push('cf-item', '[{"id": 14, "name": "kept again", "rent": 42}]') > 0 AS pushed;
SELECT r ->> 'status' AS status, r ->> 'updated' AS updated FROM dataplatform.refresh('cf_items') r;
SELECT count(*) AS kept_watermark_plans FROM pg_backend_memory_contexts
 WHERE name = 'CachedPlanSource' AND ident LIKE 'SELECT COALESCE(LEAST(%';
SELECT * FROM dp_test.cf_refresh();
SELECT * FROM dp_test.cf_differing();
