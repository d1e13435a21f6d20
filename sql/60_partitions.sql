-- Partitioned append-only tables (dataplatform.partition_rule): raw runs,
-- issues and the event log by batch-id range, the audit log by month; partitions made by the writer on demand
-- and ahead by create_partitions() (the worker's pass); apply_retention
-- drops a partition whose batches are all past retention and deletes the
-- edge row by row; the guards refuse DROP, DETACH, TRUNCATE and DELETE of
-- a partition anywhere else.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT table_schema, table_name, key_column, key_kind, width, width_interval FROM dataplatform.partition_rule
 WHERE table_schema <> 'dp_clean' ORDER BY 1, 2;
-- and one per dataset's history table (below)
SELECT count(*) = (SELECT count(*) FROM dataplatform.datasets) AS one_per_history
  FROM dataplatform.partition_rule WHERE table_schema = 'dp_clean';
-- every partition of a ruled table, and its range
CREATE FUNCTION dp_test.parts(lo bigint) RETURNS TABLE (partition text, bound text) LANGUAGE sql AS $f$
	SELECT c.oid::regclass::text, pg_get_expr(c.relpartbound, c.oid)
	  FROM dataplatform.partition_rule r
	  JOIN pg_class p ON p.relname = r.table_name AND p.relnamespace = r.table_schema::regnamespace
	  JOIN pg_inherits i ON i.inhparent = p.oid
	  JOIN pg_class c ON c.oid = i.inhrelid
	 WHERE (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''(-?\d+)''\)'))[1]::bigint >= lo
	 ORDER BY 1
$f$;

-- small partitions for the test, from batch id 1,000,000 on
UPDATE dataplatform.partition_rule SET width = 10 WHERE key_kind = 'batch';
SELECT setval('dataplatform.batch_id_seq', 1000000) > 0 AS moved;
SELECT (dataplatform.define_product('pt13', '{"retention_days": 30, "owner": "partition test"}')).retention_days;
SELECT dataplatform.define_dataset('{"dataset": "pt13-item", "product": "pt13", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "size", "datatype": "decimal"}]}');
-- its history is partitioned by the batch that closed a version: a rule
-- made with the dataset, its partitions' indexes listed (the parent has none)
SELECT key_column, key_kind, width, indexes FROM dataplatform.partition_rule
 WHERE table_schema = 'dp_clean' AND table_name = 'pt13_item_history';
SELECT relkind, (SELECT count(*) FROM pg_index WHERE indrelid = c.oid) AS indexes
  FROM pg_class c WHERE oid = 'dp_clean.pt13_item_history'::regclass;
UPDATE dataplatform.partition_rule SET width = 10 WHERE table_schema = 'dp_clean' AND table_name = 'pt13_item_history';

-- on demand: a write past every partition makes its own (here a row
-- restored through the view, far ahead of any batch, where the worker,
-- which keeps ahead of the batches, makes none)
SELECT count(*) AS partitions FROM dp_test.parts(5000000);
INSERT INTO dp_raw.rows (batch_id, ordinal, line_number, data, raw) VALUES (5000003, 1, NULL, '{"restored": true}', NULL);
SELECT * FROM dp_test.parts(5000000);
SELECT batch_id, ordinal, data FROM dp_raw.rows WHERE batch_id = 5000003;
-- a partition has its parent's guards, index and owner
SELECT tgname FROM pg_trigger WHERE tgrelid = 'dp_raw.chunk_5000000'::regclass ORDER BY 1;
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'dp_raw.chunk_5000000'::regclass;
SELECT c.relowner = p.relowner AS same_owner FROM pg_class c, pg_class p
 WHERE c.oid = 'dp_raw.chunk_5000000'::regclass AND p.oid = 'dp_raw.chunk'::regclass;
-- partitions are not members of the extension
SELECT count(*) AS members FROM pg_depend
 WHERE objid = 'dp_raw.chunk_5000000'::regclass AND deptype = 'e';

-- the event log: a call's events land in the partition of its batch,
-- made by the call; its processed ids in event_processed (not
-- partitioned), so idempotency holds across partitions and outlives them
CREATE FUNCTION dp_test.pev(id text, entity int) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('id', id, 'eventType', 'ItemCreatedEvent', 'dateTime', '2026-01-01T00:00:00Z',
         'entityId', entity::text, 'eventData', jsonb_build_object('newData', jsonb_build_object('size', entity))) $$;
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('pt13-item',
  jsonb_build_array(dp_test.pev('pe1', 101), dp_test.pev('pe2', 102), dp_test.pev('pe1', 103)));
SELECT tableoid::regclass, batch_id, event_id, outcome FROM dataplatform.event
 WHERE dataset = 'pt13-item' ORDER BY batch_id, ordinal;
SELECT event_id FROM dataplatform.event_processed WHERE dataset = 'pt13-item' ORDER BY 1;
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'dataplatform.event_1000000'::regclass ORDER BY 1;

-- pushes: each lands in the partition of its batch id, made by the push
-- or ahead by the worker, whichever came first
SELECT dataplatform.push('pt13-item', '[{"id": 1, "size": "x"}, {"id": 2, "size": "2"}]') AS first_batch \gset
SELECT :first_batch AS first_batch;
SELECT count(dataplatform.push('pt13-item', format('[{"id": %s, "size": "%s"}]', i, i)::jsonb)) AS pushed
  FROM generate_series(3, 13) i;
-- ahead: the partition of the last batch id and the next (the worker's pass)
SELECT dataplatform.create_partitions() >= 0 AS ran;
SELECT dataplatform.create_partitions() AS created_again;
SELECT * FROM dp_test.parts(1000000) WHERE partition !~ '_5000000$';
-- rows went where their batch id says, and read back the same
SELECT tableoid::regclass, count(*) AS runs FROM dp_raw.chunk WHERE batch_id > 1000000 GROUP BY 1 ORDER BY tableoid::regclass::text;
SELECT tableoid::regclass, count(*) AS issues FROM dataplatform.issue WHERE batch_id > 1000000 GROUP BY 1 ORDER BY tableoid::regclass::text;
SELECT batch_id - :first_batch AS batch, ordinal, data FROM dp_raw.rows WHERE batch_id = :first_batch ORDER BY ordinal;
-- a lookup by batch reads one partition
EXPLAIN (COSTS OFF) SELECT * FROM dp_raw.chunk WHERE batch_id = 1000005;

-- history: a push and apply_events write the versions they close into the
-- partition of their batch (made by the writer; the worker makes none
-- ahead for history)
SELECT count(*) AS history_partitions FROM pg_inherits WHERE inhparent = 'dp_clean.pt13_item_history'::regclass;
SELECT dataplatform.push('pt13-item', '[{"id": 3, "size": "30"}, {"id": 4, "size": "40"}]') AS hist_batch \gset
-- index scans of the history's partitions counted by this backend since
-- its stats were last flushed (never within a transaction): compared
-- before and after a call in one transaction
CREATE FUNCTION dp_test.history_scans() RETURNS bigint LANGUAGE sql AS $$
  SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_xact_user_tables
   WHERE relid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'dp_clean.pt13_item_history'::regclass) $$;
CREATE FUNCTION dp_test.pev2(id text, type text, at text, entity int, size int) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('id', id, 'eventType', type, 'dateTime', at,
         'entityId', entity::text, 'eventData', jsonb_build_object('newData', jsonb_build_object('size', size))) $$;
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('pt13-item', jsonb_build_array(
  dp_test.pev2('ph1', 'ItemUpdatedEvent', '2026-02-01T00:00:00Z', 102, 1020),
  dp_test.pev2('ph2', 'ItemDeletedEvent', '2026-03-01T00:00:00Z', 101, 0)));
SELECT tableoid::regclass, _closed_by_batch - :hist_batch AS closed_by, id, size, _operation
  FROM dp_clean.pt13_item_history ORDER BY _history_id;
SELECT * FROM dp_test.parts(1000000) WHERE partition ~ '^dp_clean\.';
-- each partition has the rule's indexes and its parent's owner, and no
-- grants (admins read history through the parent, as every partition)
SELECT regexp_replace(pg_get_indexdef(indexrelid), 'INDEX \S+ ', 'INDEX ') AS index
  FROM pg_index WHERE indrelid = 'dp_clean.pt13_item_history_1000010'::regclass ORDER BY 1;
SELECT c.relowner = p.relowner AS same_owner, c.relacl IS NULL AS owner_only FROM pg_class c, pg_class p
 WHERE c.oid = 'dp_clean.pt13_item_history_1000010'::regclass AND p.oid = 'dp_clean.pt13_item_history'::regclass;
-- the removed keys: those a delete or a resync closed
SELECT id FROM dp_clean.pt13_item_removed ORDER BY 1;
-- a deleted entity created again still meets its tombstone, in whichever
-- partition it lies: older than the delete, stale; newer, created, its
-- version starting no earlier than the last one ended
BEGIN;
SELECT dp_test.history_scans() AS before \gset
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('pt13-item', jsonb_build_array(
  dp_test.pev2('ph3', 'ItemCreatedEvent', '2026-02-15T00:00:00Z', 101, 1)));
-- the removed key walked the key index of each history partition
SELECT dp_test.history_scans() - :before AS history_scans;
COMMIT;
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('pt13-item', jsonb_build_array(
  dp_test.pev2('ph4', 'ItemCreatedEvent', '2026-04-01T00:00:00Z', 101, 2)));
SELECT h._valid_to <= c._updated_at AS starts_after_tombstone
  FROM dp_clean.pt13_item c, dp_clean.pt13_item_history h
 WHERE c.id = 101 AND h.id = 101 AND h._operation = 'delete';
-- a brand-new entity (not among the removed keys) walks no history at all:
-- no index of any history partition is scanned
BEGIN;
SELECT dp_test.history_scans() AS before \gset
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('pt13-item', jsonb_build_array(
  dp_test.pev2('ph5', 'ItemCreatedEvent', '2026-04-01T00:00:00Z', 777, 7)));
SELECT dp_test.history_scans() - :before AS history_scans;
COMMIT;
-- nor does a snapshot's new key; a removed one is looked up: a snapshot
-- older than the delete does not bring it back
BEGIN;
SELECT dp_test.history_scans() AS before \gset
SELECT dataplatform.load_snapshot('pt13-item', '[{"id": 888, "size": "8"}]', '2026-04-15 00:00:00+00', 'merge') > 0 AS snapshot;
SELECT dp_test.history_scans() - :before AS history_scans;
COMMIT;
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('pt13-item', jsonb_build_array(
  dp_test.pev2('ph6', 'ItemDeletedEvent', '2026-05-01T00:00:00Z', 777, 0)));
BEGIN;
SELECT dp_test.history_scans() AS before \gset
SELECT dataplatform.load_snapshot('pt13-item', '[{"id": 777, "size": "7"}]', '2026-04-15 00:00:00+00', 'merge') AS snap \gset
SELECT dataplatform.resync_report(:snap) ->> 'added' AS added, dataplatform.resync_report(:snap) ->> 'skipped_newer' AS skipped_newer;
SELECT dp_test.history_scans() - :before AS history_scans;
COMMIT;
SELECT count(*) AS current_777 FROM dp_clean.pt13_item WHERE id = 777;

-- a key change: every history partition gets the new key index (the rule
-- too), and the removed keys are made again by the new key from history
-- (the keys of delete and resync versions, and every key of a version
-- with no current row)
SELECT (dataplatform.define_product('pt13kc')).name;
SELECT dataplatform.define_dataset('{"dataset": "pt13-kc", "product": "pt13kc", "key": ["a"],
  "fields": [{"name": "a", "datatype": "integer"}, {"name": "b", "datatype": "integer"}]}');
SELECT dataplatform.push('pt13-kc', '[{"a": 1, "b": 1}, {"a": 2, "b": 2}]') > 0 AS pushed;
SELECT dataplatform.push('pt13-kc', '[{"a": 1, "b": 10}]') > 0 AS changed;
SELECT dataplatform.load_snapshot('pt13-kc', '[{"a": 1, "b": 10}]', now(), 'replace') > 0 AS resynced;
SELECT a FROM dp_clean.pt13_kc_removed ORDER BY 1;
SELECT dataplatform.define_dataset('{"dataset": "pt13-kc", "product": "pt13kc", "key": ["a", "b"],
  "fields": [{"name": "a", "datatype": "integer", "required": true}, {"name": "b", "datatype": "integer", "required": true}]}',
  allow_breaking => true);
SELECT indexes[1] AS key_index FROM dataplatform.partition_rule WHERE table_name = 'pt13_kc_history';
SELECT regexp_replace(pg_get_indexdef(x.indexrelid), 'INDEX \S+ ON \S+', 'INDEX ON <partition>') AS index
  FROM pg_inherits h JOIN pg_index x ON x.indrelid = h.inhrelid
 WHERE h.inhparent = 'dp_clean.pt13_kc_history'::regclass ORDER BY 1;
SELECT a, b FROM dp_clean.pt13_kc_removed ORDER BY 1, 2;

-- the guards: a partition is dropped or detached only by apply_retention,
-- and is append-only as its parent is, superusers included
SELECT dp_test.err($$DROP TABLE dp_raw.chunk_1000000$$);
SELECT dp_test.err($$DROP TABLE IF EXISTS public.nothing, dataplatform.issue_1000010$$);
SELECT dp_test.err($$ALTER TABLE dp_raw.chunk DETACH PARTITION dp_raw.chunk_1000000$$);
SELECT dp_test.err($$ALTER TABLE dataplatform.issue DETACH PARTITION dataplatform.issue_1000000$$);
SELECT dp_test.err($$DROP TABLE dataplatform.event_1000000$$);
SELECT dp_test.err($$ALTER TABLE dataplatform.event DETACH PARTITION dataplatform.event_1000000$$);
SELECT dp_test.err($$TRUNCATE dp_raw.chunk_1000000$$);
SELECT dp_test.err($$DELETE FROM dp_raw.chunk_1000000$$);
SELECT dp_test.err($$UPDATE dp_raw.chunk_1000010 SET n = n$$);
SELECT dp_test.err($$DROP TABLE dp_clean.pt13_item_history_1000010$$);
SELECT dp_test.err($$ALTER TABLE dp_clean.pt13_item_history DETACH PARTITION dp_clean.pt13_item_history_1000010$$);
-- no dataset takes the name of a history partition or of removed keys
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "pt13-item-history-2000000", "product": "pt13",
  "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "pt13-item-removed", "product": "pt13",
  "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}]}')$$);
-- other tables are none of its business
CREATE TABLE dp_test.scratch (a int) PARTITION BY RANGE (a);
CREATE TABLE dp_test.scratch_1 PARTITION OF dp_test.scratch FOR VALUES FROM (1) TO (10);
ALTER TABLE dp_test.scratch DETACH PARTITION dp_test.scratch_1;
DROP TABLE dp_test.scratch_1, dp_test.scratch;
-- nor anyone's own partitions
CREATE ROLE dp_t13_plain;
CREATE SCHEMA dp_t13 AUTHORIZATION dp_t13_plain;
SET ROLE dp_t13_plain;
CREATE TABLE dp_t13.s (a int) PARTITION BY RANGE (a);
CREATE TABLE dp_t13.s_1 PARTITION OF dp_t13.s FOR VALUES FROM (1) TO (10);
CREATE TABLE dp_t13.s_2 PARTITION OF dp_t13.s FOR VALUES FROM (10) TO (20);
ALTER TABLE dp_t13.s DETACH PARTITION dp_t13.s_2;
DROP TABLE dp_t13.s_1, dp_t13.s_2, dp_t13.s;
RESET ROLE;
DROP SCHEMA dp_t13;
DROP ROLE dp_t13_plain;

-- retention: batches 1,000,001 .. 1,000,011 are 60 days old (the product
-- keeps 30): the partition [1000000, 1000010) goes whole, in both tables;
-- the edge (1,000,010 and 1,000,011, beside newer batches) row by row
UPDATE dataplatform.batch SET received_at = now() - interval '60 days'
 WHERE id BETWEEN 1000001 AND 1000011;
-- history goes by when versions ended: every version in the partition
-- [1000010, 1000020) ended 60 days ago (it goes whole), one in the next
-- did (deleted row by row; the other, and the removed keys, stay)
SELECT dataplatform.push('pt13-item', '[{"id": 5, "size": "50"}]') > 0 AS pushed;
UPDATE dp_clean.pt13_item_history
   SET _valid_from = least(_valid_from, now() - interval '61 days'), _valid_to = now() - interval '60 days'
 WHERE tableoid = 'dp_clean.pt13_item_history_1000010'::regclass OR (id = 777 AND _operation = 'delete');
SELECT tableoid::regclass, count(*) AS versions, count(*) FILTER (WHERE _valid_to < now() - interval '30 days') AS expired
  FROM dp_clean.pt13_item_history GROUP BY 1 ORDER BY 1;
CREATE TABLE dp_test.raw_before AS
SELECT batch_id, ordinal, md5(coalesce(data::text, raw)) AS sum FROM dp_raw.rows WHERE batch_id > 1000000;
SELECT count(*) AS raw_rows, count(*) FILTER (WHERE batch_id <= 1000011) AS expired FROM dp_test.raw_before;
SELECT count(*) AS other_raw_rows FROM dp_raw.rows WHERE batch_id < 1000000 \gset
SELECT count(*) AS other_issues FROM dataplatform.issue WHERE batch_id < 1000000 \gset
SELECT r -> 'partitions' AS partitions,
	   (SELECT d - 'cutoff' FROM jsonb_array_elements(r -> 'datasets') d WHERE d ->> 'product' = 'pt13') AS edge
  FROM dataplatform.apply_retention() r;
-- (up to the range of the last batch: the worker may have made the next)
SELECT * FROM dp_test.parts(1000000) WHERE partition !~ '_5000000$'
   AND (regexp_match(bound, 'FROM \(''(\d+)''\)'))[1]::bigint < 1000030;
-- nothing else lost: what is left is exactly the unexpired rows, unchanged
SELECT count(*) AS missing FROM (
	SELECT * FROM dp_test.raw_before WHERE batch_id > 1000011
	EXCEPT ALL
	SELECT batch_id, ordinal, md5(coalesce(data::text, raw)) FROM dp_raw.rows WHERE batch_id > 1000000) m;
SELECT count(*) AS left_expired FROM dp_raw.rows WHERE batch_id BETWEEN 1000001 AND 1000011;
SELECT count(*) AS left_expired_issues FROM dataplatform.issue WHERE batch_id BETWEEN 1000001 AND 1000011;
SELECT count(*) = :other_raw_rows AS other_raw_kept FROM dp_raw.rows WHERE batch_id < 1000000;
SELECT count(*) = :other_issues AS other_issues_kept FROM dataplatform.issue WHERE batch_id < 1000000;
SELECT count(*) FILTER (WHERE raw_purged_at IS NOT NULL) AS purged, count(*) AS batches
  FROM dataplatform.batch WHERE id > 1000000;
-- the current state is untouched; history keeps the versions not expired
SELECT count(*) AS clean_rows FROM dp_clean.pt13_item;
SELECT tableoid::regclass, id, _operation FROM dp_clean.pt13_item_history ORDER BY _history_id;
SELECT count(*) AS removed_keys FROM dp_clean.pt13_item_removed;
-- recorded
SELECT action, detail -> 'partitions' -> 0 ->> 'partition' AS first
  FROM dataplatform.audit_log WHERE action = 'drop_partitions' ORDER BY id;
-- the event log's partition went with its batch; its ids stay processed:
-- delivered again (into a partition of its own), the event is a duplicate
SELECT count(*) AS left_expired_events FROM dataplatform.event WHERE batch_id BETWEEN 1000001 AND 1000011;
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('pt13-item',
  jsonb_build_array(dp_test.pev('pe2', 102), dp_test.pev('pe3', 104)));
SELECT event_id FROM dataplatform.event_processed WHERE dataset = 'pt13-item' ORDER BY 1;
-- a second run drops nothing
SELECT dataplatform.apply_retention() -> 'partitions' AS partitions;
-- and pushing goes on
SELECT dataplatform.push('pt13-item', '[{"id": 99, "size": "9"}]') > 1000000 AS pushed;

-- the audit log, by month of at (a time rule): create_partitions (the
-- worker's pass) makes the partition of this month and of the next; a row
-- of a time no partition covers lands in the DEFAULT partition, so
-- writing to the audit log never fails for lack of a partition
SELECT dataplatform.create_partitions() >= 0 AS ran;
SELECT 'dataplatform.audit_log_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month', 'YYYYMMDD') AS next_month \gset
INSERT INTO dataplatform.audit_log (at, role_name, session_role, action, object) VALUES
	(now(), 'pt13', 'pt13', 'pt13_probe', 'this month'),
	((date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC', 'pt13', 'pt13', 'pt13_probe', 'next month'),
	(now() - interval '10 years', 'pt13', 'pt13', 'pt13_probe', 'long ago');
SELECT object, CASE WHEN tableoid = 'dataplatform.audit_log_default'::regclass THEN 'default'
	WHEN tableoid = :'next_month'::regclass THEN 'next month'
	WHEN tableoid::regclass::text ~ '^dataplatform\.audit_log_\d{8}' THEN 'this month' END AS partition
  FROM dataplatform.audit_log WHERE action = 'pt13_probe' ORDER BY at;
-- a month's partition has its parent's guards, its indexes and owner
SELECT tgname FROM pg_trigger WHERE tgrelid = :'next_month'::regclass ORDER BY 1;
SELECT regexp_replace(indexrelid::regclass::text, '\d{8}', 'YYYYMMDD') AS index
  FROM pg_index WHERE indrelid = :'next_month'::regclass ORDER BY 1;
SELECT c.relowner = p.relowner AS same_owner FROM pg_class c, pg_class p
 WHERE c.oid = :'next_month'::regclass AND p.oid = 'dataplatform.audit_log'::regclass;
-- the guards: dropped or detached only by purge_audit, append-only
SELECT regexp_replace(dp_test.err(format('DROP TABLE %s', :'next_month')), '\d{8}', 'YYYYMMDD', 'g') AS err;
SELECT regexp_replace(dp_test.err(format('ALTER TABLE dataplatform.audit_log DETACH PARTITION %s', :'next_month')),
	'\d{8}', 'YYYYMMDD', 'g') AS err;
SELECT regexp_replace(dp_test.err(format('DELETE FROM %s', :'next_month')), '\d{8}', 'YYYYMMDD', 'g') AS err;
SELECT dp_test.err($$DROP TABLE dataplatform.audit_log_default$$);

-- retention by month: purge_audit drops a partition all of whose range is
-- older than it keeps, whole (here one made by hand for a month six years
-- ago: the guard does not refuse making one), then deletes the rows left
-- older (the DEFAULT partition's)
SELECT date_trunc('month', now() AT TIME ZONE 'UTC' - interval '6 years') AT TIME ZONE 'UTC' AS old_lo \gset
DO $d$
BEGIN
	EXECUTE format('CREATE TABLE dataplatform.audit_log_old PARTITION OF dataplatform.audit_log FOR VALUES FROM (%L) TO (%L)',
		date_trunc('month', now() AT TIME ZONE 'UTC' - interval '6 years') AT TIME ZONE 'UTC',
		(date_trunc('month', now() AT TIME ZONE 'UTC' - interval '6 years') + interval '1 month') AT TIME ZONE 'UTC');
END
$d$;
INSERT INTO dataplatform.audit_log (at, role_name, session_role, action, object) VALUES
	(:'old_lo'::timestamptz + interval '1 day', 'pt13', 'pt13', 'pt13_old', 'in the old month'),
	(:'old_lo'::timestamptz + interval '2 days', 'pt13', 'pt13', 'pt13_old', 'in the old month'),
	(:'old_lo'::timestamptz + interval '1 month 1 day', 'pt13', 'pt13', 'pt13_old', 'past it');
SELECT object, tableoid::regclass FROM dataplatform.audit_log WHERE action = 'pt13_old' ORDER BY at;
SELECT count(*) AS older_than_5_years FROM dataplatform.audit_log WHERE at < now() - interval '5 years';
SELECT dataplatform.purge_audit('5 years') AS removed;
SELECT count(*) AS left_older FROM dataplatform.audit_log WHERE at < now() - interval '5 years';
SELECT object FROM dataplatform.audit_log WHERE action = 'pt13_probe' ORDER BY at;
SELECT to_regclass('dataplatform.audit_log_old') AS old_partition;
SELECT detail -> 'partitions' -> 0 ->> 'partition' AS partition, detail -> 'partitions' -> 0 ->> 'rows' AS rows,
	   detail ->> 'rows_deleted' AS removed
  FROM dataplatform.audit_log WHERE action = 'purge_audit' ORDER BY id DESC LIMIT 1;
-- a second purge drops nothing
SELECT dataplatform.purge_audit('5 years') AS removed_again;

-- clean up (the partitions stay: the guard keeps them)
UPDATE dataplatform.partition_rule SET width = 100000 WHERE key_kind = 'batch';
DROP TABLE dp_test.raw_before;
DROP FUNCTION dp_test.parts(bigint);
DROP FUNCTION dp_test.pev(text, integer);
DROP FUNCTION dp_test.pev2(text, text, text, integer, integer);
DROP FUNCTION dp_test.history_scans();
