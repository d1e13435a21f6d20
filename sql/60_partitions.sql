-- Partitioned append-only tables (dataplatform.partition_rule): raw runs,
-- issues and the event log by batch-id range, the audit log by month; partitions made by the writer on demand
-- and ahead by create_partitions() (the worker's pass); apply_retention
-- drops a partition whose batches are all past retention and deletes the
-- edge row by row; the guards refuse DROP, DETACH, TRUNCATE and DELETE of
-- a partition anywhere else.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT table_schema, table_name, key_column, key_kind, width, width_interval FROM dataplatform.partition_rule ORDER BY 1, 2;
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
CREATE TABLE dp_test.raw_before AS
SELECT batch_id, ordinal, md5(coalesce(data::text, raw)) AS sum FROM dp_raw.rows WHERE batch_id > 1000000;
SELECT count(*) AS raw_rows, count(*) FILTER (WHERE batch_id <= 1000011) AS expired FROM dp_test.raw_before;
SELECT count(*) AS other_raw_rows FROM dp_raw.rows WHERE batch_id < 1000000 \gset
SELECT count(*) AS other_issues FROM dataplatform.issue WHERE batch_id < 1000000 \gset
SELECT r -> 'partitions' AS partitions,
	   (SELECT d - 'cutoff' FROM jsonb_array_elements(r -> 'datasets') d WHERE d ->> 'product' = 'pt13') AS edge
  FROM dataplatform.apply_retention() r;
SELECT * FROM dp_test.parts(1000000) WHERE partition !~ '_5000000$';
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
-- the current state is untouched
SELECT count(*) AS clean_rows FROM dp_clean.pt13_item;
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
