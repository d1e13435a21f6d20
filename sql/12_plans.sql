-- The data path reads stored data only through indexes on the keys, ids and
-- batches a call brings: no whole-table scan of a layer.  Checked with the
-- statistics of what really ran (pg_stat_user_tables.seq_scan), on tables
-- with enough rows for the planner's choice to be real.
\set VERBOSITY terse

SELECT name FROM dataplatform.define_product('plans');
SELECT dataplatform.define_dataset('{"dataset": "plan-item", "product": "plans", "key": ["ref"], "fields": [
  {"name": "ref", "datatype": "string"}, {"name": "name", "datatype": "string"},
  {"name": "rent", "datatype": "decimal"}]}');
-- 20,000 stored rows in 400 batches, statistics up to date
DO $$ BEGIN
  FOR b IN 0..399 LOOP
    PERFORM dataplatform.push('plan-item', (SELECT jsonb_agg(jsonb_build_object('ref', 'R' || (b * 50 + i),
      'name', 'item ' || (b * 50 + i), 'rent', i)) FROM generate_series(1, 50) i));
  END LOOP;
END $$;
ANALYZE dp_clean.plan_item, dp_clean.plan_item_history, dataplatform.batch, dataplatform.issue, dp_raw.chunk;

SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
-- a whole-table scan, or more than 100 tuples read from one table (an index
-- range over the dataset's whole history reads as many as a scan would)
CREATE TEMP TABLE seq_before AS
  SELECT relid, schemaname || '.' || relname AS rel, seq_scan,
         coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS tup_read
    FROM pg_stat_user_tables
   WHERE schemaname IN ('dp_clean', 'dp_raw') OR relname IN ('batch', 'issue', 'quarantine_row');
CREATE FUNCTION pg_temp.whole_table_scans() RETURNS SETOF text LANGUAGE sql AS $$
  SELECT b.rel || CASE WHEN s.seq_scan > b.seq_scan THEN ': whole-table scan'
                       ELSE ': ' || (coalesce(s.seq_tup_read, 0) + coalesce(s.idx_tup_fetch, 0) - b.tup_read) || ' tuples read' END
    FROM seq_before b JOIN pg_stat_user_tables s USING (relid)
   WHERE s.seq_scan > b.seq_scan
      OR coalesce(s.seq_tup_read, 0) + coalesce(s.idx_tup_fetch, 0) - b.tup_read > 100
   ORDER BY 1 $$;
SELECT pg_stat_force_next_flush();

-- push: new keys, changed keys, a duplicate, an invalid value
SELECT dataplatform.push('plan-item', '[{"ref": "R1", "name": "changed", "rent": 1},
  {"ref": "N1", "name": "new", "rent": 2}, {"ref": "N1", "name": "new again", "rent": 2},
  {"ref": "N2", "name": "bad rent", "rent": "x"}]') > 0 AS pushed;
-- push_csv
SELECT dataplatform.push_csv('plan-item', E'ref,name,rent\nR2,changed,3\nN3,new,4\n') > 0 AS pushed;
-- check (nothing written)
SELECT (dataplatform.check('plan-item', '[{"ref": "R3", "name": "checked"}]') ->> 'rows_valid')::int AS valid;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT * FROM pg_temp.whole_table_scans() AS scanned;

-- raw rows read back: one row by (batch_id, ordinal), a whole batch, the
-- quarantine of a batch (each reads the batch's runs of dp_raw.chunk
-- through its primary key); and the statement that reads a batch back for
-- rebuild and process_queued (src/ingest/raw.c)
SELECT min(id) + 200 AS raw_batch FROM dataplatform.batch WHERE dataset = 'plan-item' \gset
SELECT data ->> 'ref' AS ref FROM dp_raw.rows WHERE batch_id = :raw_batch AND ordinal = 7;
SELECT count(*) AS rows, count(DISTINCT data) AS distinct_data FROM dp_raw.rows WHERE batch_id = :raw_batch;
SELECT dataplatform.push('plan-item', '[{"ref": "R6", "name": "item 6", "rent": 6}, {"name": "no key"}]') AS quarantining \gset
SELECT row_number, data ->> 'name' AS name FROM dataplatform.quarantine WHERE batch_id = :quarantining;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT * FROM pg_temp.whole_table_scans() AS scanned;
EXPLAIN (COSTS OFF) SELECT first_ordinal, n, line_numbers, data, raw FROM dp_raw.chunk
 WHERE batch_id = 1 ORDER BY first_ordinal;
-- one raw row found by (batch_id, ordinal) for the quarantine and for
-- lineage reads its own run of dp_raw.chunk, not every run of the batch
-- (here 21 runs: 20,600 rows, the 20,500th quarantined; reading every run
-- for each would read 42); counted in this transaction's own statistics
-- (the worker may read raw meanwhile), the planner's own probes of an
-- index's extreme values included
SELECT dataplatform.push('plan-item', (SELECT jsonb_agg(CASE WHEN i = 20500 THEN jsonb_build_object('name', 'no key')
  ELSE jsonb_build_object('ref', 'Q' || i, 'name', 'q ' || i, 'rent', 1) END ORDER BY i)
  FROM generate_series(1, 20600) i)) AS many_runs \gset
BEGIN;
CREATE TEMP TABLE runs_before AS
  SELECT coalesce(sum(idx_tup_fetch), 0) AS fetched FROM pg_stat_xact_user_tables WHERE schemaname = 'dp_raw';
SELECT row_number, data ->> 'name' AS name FROM dataplatform.quarantine WHERE batch_id = :many_runs;
SELECT dataplatform.lineage('plan-item', '"Q20600"') #>> '{versions,0,raw,data,name}' AS raw_name;
SELECT coalesce(sum(idx_tup_fetch), 0) - (SELECT fetched FROM runs_before) <= 4 AS own_runs_only
  FROM pg_stat_xact_user_tables WHERE schemaname = 'dp_raw';
COMMIT;
SELECT count(*) AS runs FROM dp_raw.chunk WHERE batch_id = :many_runs;
-- raw_rows: a range of ordinals reads the runs that hold them (here 2 of
-- the 21: 19,995 to 20,000 and 20,001 to 20,010), and gives what
-- dp_raw.rows gives, which reads every run of the batch to filter them
BEGIN;
CREATE TEMP TABLE runs_before_range AS
  SELECT coalesce(sum(idx_tup_fetch), 0) AS fetched FROM pg_stat_xact_user_tables WHERE schemaname = 'dp_raw';
SELECT count(*) AS rows, min(ordinal), max(ordinal), min(data ->> 'ref') AS first_ref
  FROM dataplatform.raw_rows(:many_runs, 19995, 20010);
SELECT coalesce(sum(idx_tup_fetch), 0) - (SELECT fetched FROM runs_before_range) <= 3 AS own_runs_only
  FROM pg_stat_xact_user_tables WHERE schemaname = 'dp_raw';
COMMIT;
EXPLAIN (COSTS OFF) SELECT * FROM dataplatform.raw_rows(1, 19995, 20010);
SELECT (SELECT array_agg(ROW(ordinal, line_number, data, raw) ORDER BY ordinal) FROM dataplatform.raw_rows(:many_runs, 995, 3010))
     = (SELECT array_agg(ROW(ordinal, line_number, data, raw) ORDER BY ordinal) FROM dp_raw.rows
         WHERE batch_id = :many_runs AND ordinal BETWEEN 995 AND 3010) AS same_as_view,
       (SELECT count(*) FROM dataplatform.raw_rows(:many_runs)) AS whole_batch,
       (SELECT count(*) FROM dataplatform.raw_rows(:many_runs, 20590)) AS to_the_end,
       (SELECT count(*) FROM dataplatform.raw_rows(:many_runs, NULL, 3)) AS from_the_start,
       (SELECT count(*) FROM dataplatform.raw_rows(:many_runs, 10, 5)) AS empty_range;
-- the bound raw_rows relies on: a run holds at most 1,000 rows
INSERT INTO dp_raw.chunk (batch_id, first_ordinal, n) VALUES (:many_runs, 30001, 1001);

-- the check sees what it is there for: a query that reads the dataset's
-- whole batch history (as the queued-batch check did before its partial
-- index) is reported
SELECT count(*) > 0 AS read_all FROM dataplatform.batch WHERE dataset = 'plan-item' AND status = 'done';
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT regexp_replace(s, '[0-9]+ tuples', 'N tuples') AS scanned FROM pg_temp.whole_table_scans() s;

-- refresh after a small change: a keyed view, and a GROUP BY view with min
-- and max whose groups lose and gain rows (one group's min holder leaves
-- it, another group empties): no whole-table scan of the clean table, its
-- history, the view's table or the batch log (the watermarks and the
-- rebuild stamp), nor more than 100 tuples read from one; a
-- group's new min is read through the index on (grouping columns,
-- argument) that publish made
-- 20,000 versions in history (values changed and changed back)
SELECT dataplatform.push('plan-item', (SELECT jsonb_agg(jsonb_build_object('ref', 'R' || i,
  'name', 'item ' || i, 'rent', (i - 1) % 50 + 101)) FROM generate_series(10001, 20000) i)) > 0 AS pushed;
SELECT dataplatform.push('plan-item', (SELECT jsonb_agg(jsonb_build_object('ref', 'R' || i,
  'name', 'item ' || i, 'rent', (i - 1) % 50 + 1)) FROM generate_series(10001, 20000) i)) > 0 AS pushed;
SELECT dataplatform.publish('plan_items',
  'SELECT ref, name, rent FROM dp_clean.plan_item WHERE rent > 1') ->> 'method' AS method;
SELECT dataplatform.publish('plan_groups',
  'SELECT substr(name, 1, 9) AS name_group, count(*) AS items, sum(rent) AS rent,
          min(rent) AS min_rent, max(rent) AS max_rent
     FROM dp_clean.plan_item GROUP BY 1') ->> 'method' AS method;
SELECT indexdef FROM pg_indexes WHERE schemaname = 'dp_clean' AND indexname LIKE '\_dpv\_plan\_groups\_%';
SELECT name_group, items, rent, min_rent, max_rent FROM dp_consumer.plan_groups
 WHERE name_group IN ('item 1234', 'item 2345', 'item 2346', 'item 9999') ORDER BY 1;
SELECT dataplatform.push('plan-item', '[{"ref": "R1234", "name": "item 9999", "rent": 34},
  {"ref": "R2345", "name": "item 2346", "rent": 45}, {"ref": "R3000", "name": "item 3000", "rent": 1},
  {"ref": "N4", "name": "item 1234", "rent": 60}]') > 0 AS pushed;
ANALYZE dp_clean.plan_item, dp_clean.plan_item_history, dp_consumer_data.plan_items, dp_consumer_data.plan_groups;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
CREATE TEMP TABLE refresh_before AS
  SELECT relid, schemaname || '.' || relname AS rel, seq_scan,
         coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS tup_read
    FROM pg_stat_user_tables
   WHERE (schemaname = 'dp_clean' AND relname IN ('plan_item', 'plan_item_history'))
      OR (schemaname = 'dp_consumer_data' AND relname IN ('plan_items', 'plan_groups'))
      OR (schemaname = 'dataplatform' AND relname = 'batch');
SELECT r ->> 'mode' AS mode, r ->> 'inserted' AS inserted, r ->> 'updated' AS updated, r ->> 'deleted' AS deleted
  FROM (SELECT dataplatform.refresh('plan_items') AS r UNION ALL SELECT dataplatform.refresh('plan_groups')) x;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT b.rel || CASE WHEN s.seq_scan > b.seq_scan THEN ': whole-table scan'
                    ELSE ': ' || (coalesce(s.seq_tup_read, 0) + coalesce(s.idx_tup_fetch, 0) - b.tup_read) || ' tuples read' END
       AS scanned
  FROM refresh_before b JOIN pg_stat_user_tables s USING (relid)
 WHERE s.seq_scan > b.seq_scan
    OR coalesce(s.seq_tup_read, 0) + coalesce(s.idx_tup_fetch, 0) - b.tup_read > 100
 ORDER BY 1;
-- the views equal their queries
SELECT count(*) AS differing FROM (
  (TABLE dp_consumer.plan_items EXCEPT ALL SELECT ref, name, rent FROM dp_clean.plan_item WHERE rent > 1)
  UNION ALL (SELECT ref, name, rent FROM dp_clean.plan_item WHERE rent > 1 EXCEPT ALL TABLE dp_consumer.plan_items)) d;
SELECT count(*) AS differing FROM (
  (TABLE dp_consumer.plan_groups EXCEPT ALL SELECT substr(name, 1, 9), count(*), sum(rent), min(rent), max(rent)
     FROM dp_clean.plan_item GROUP BY 1)
  UNION ALL (SELECT substr(name, 1, 9), count(*), sum(rent), min(rent), max(rent) FROM dp_clean.plan_item GROUP BY 1
     EXCEPT ALL TABLE dp_consumer.plan_groups)) d;
SELECT name_group, items, rent, min_rent, max_rent FROM dp_consumer.plan_groups
 WHERE name_group IN ('item 1234', 'item 2345', 'item 2346', 'item 9999') ORDER BY 1;
-- unpublish drops the view's index on the dataset's table
SELECT dataplatform.unpublish('plan_items'), dataplatform.unpublish('plan_groups');
SELECT count(*) AS view_indexes_left FROM pg_indexes WHERE schemaname = 'dp_clean' AND indexname LIKE '\_dpv\_%';

-- freshness marks (the worker on every wake-up, and check_freshness()):
-- each dataset with a fresh_within reads its newest batch through the
-- (dataset, id) index, also when other datasets' batches are newer than
-- its last one or it has none (walking the batch log's primary key down
-- from the newest batch of any dataset reads all of those)
SELECT dataplatform.define_dataset('{"dataset": "plan-quiet", "product": "plans", "key": ["ref"],
  "fresh_within": "1 day", "fields": [{"name": "ref", "datatype": "string"}]}');
ANALYZE dataplatform.batch;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
CREATE TEMP TABLE fresh_before AS
  SELECT relid, schemaname || '.' || relname AS rel, seq_scan,
         coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS tup_read
    FROM pg_stat_user_tables WHERE schemaname = 'dataplatform' AND relname = 'batch';
SELECT dataplatform.check_freshness() AS newly_late;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT b.rel || CASE WHEN s.seq_scan > b.seq_scan THEN ': whole-table scan'
                    ELSE ': ' || (coalesce(s.seq_tup_read, 0) + coalesce(s.idx_tup_fetch, 0) - b.tup_read) || ' tuples read' END
       AS scanned
  FROM fresh_before b JOIN pg_stat_user_tables s USING (relid)
 WHERE s.seq_scan > b.seq_scan
    OR coalesce(s.seq_tup_read, 0) + coalesce(s.idx_tup_fetch, 0) - b.tup_read > 100;
SELECT count(*) AS late FROM dataplatform.late WHERE dataset = 'plan-quiet';
-- the view of late datasets reads their newest batch the same way
EXPLAIN (COSTS OFF) SELECT dataset, last_batch_at FROM dataplatform.late;
-- retention deletes a history table's closed versions by _valid_to through
-- each partition's BRIN range index (the planner's choice at this size is its own: what
-- is checked is that every history table has the index and that it serves
-- the statement retention runs)
SELECT count(*) AS history_partitions_without_valid_to_index
  FROM dataplatform.datasets d
  JOIN pg_inherits h ON h.inhparent = format('dp_clean.%I', d.table_name || '_history')::regclass
 WHERE NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                     JOIN pg_am a ON a.oid = c.relam JOIN pg_attribute t ON t.attrelid = i.indrelid AND t.attnum = i.indkey[0]
                    WHERE i.indrelid = h.inhrelid
                      AND a.amname = 'brin' AND t.attname = '_valid_to');
BEGIN;
SET LOCAL enable_seqscan = off;
EXPLAIN (COSTS OFF) DELETE FROM dp_clean.plan_item_history WHERE _valid_to < '2000-01-01'::timestamptz;
ROLLBACK;
