-- Issue 17, points 1 and 4.
-- History in apply order: a version never ends before it begins and the
-- versions of a key never overlap (as_of finds at most one per instant),
-- even when the times a batch brings run backwards (a snapshot dated before
-- a later push, events ordered by a sequence whose times go back, an entity
-- deleted and created again earlier); then the same over every _history
-- table the suites before this one left.
-- Batch counts: rows = rows_loaded + rows_replaced + rows_quarantined +
-- rows_skipped + rows_filtered + rows_orphaned, for push, push_csv, events
-- and snapshots; then the same over every batch of the suites before.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dataplatform;
CREATE SCHEMA IF NOT EXISTS dp_test;
-- every version of every key of a dataset: closed ones, then the current one
CREATE FUNCTION dp_test.versions(ds text)
RETURNS TABLE (k text, v jsonb, from_ timestamptz, to_ timestamptz, n bigint)
LANGUAGE plpgsql AS $f$
DECLARE
	t text := (SELECT table_name FROM dataplatform.datasets WHERE name = ds);
	key text := (SELECT string_agg(quote_ident(column_name) || '::text', ' || ''/'' || ' ORDER BY ordinal)
				   FROM dataplatform.fields WHERE dataset = ds AND is_key);
BEGIN
	RETURN QUERY EXECUTE format(
		'SELECT %1$s, to_jsonb(h) - ''_history_id'' - ''_recorded_at'' - ''_valid_from'' - ''_valid_to'', _valid_from, _valid_to, _history_id FROM dp_clean.%2$I h '
		'UNION ALL SELECT %1$s, to_jsonb(c), _updated_at, NULL, NULL FROM dp_clean.%3$I c', key, t || '_history', t);
END
$f$;
-- per dataset: versions that end before they begin, and keys with a version
-- that begins before a version written before it ended (a gap is fine: the
-- entity was deleted, then came back)
CREATE FUNCTION dp_test.history_order(ds text)
RETURNS TABLE (inverted bigint, overlapping_keys bigint) LANGUAGE sql AS $f$
	SELECT count(*) FILTER (WHERE to_ < from_),
		   count(DISTINCT k) FILTER (WHERE from_ < ended_before)
	  FROM (SELECT k, from_, to_, max(to_) OVER (PARTITION BY k ORDER BY n NULLS LAST
												 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS ended_before
			  FROM dp_test.versions(ds)) s
$f$;
-- the most versions of one key as_of returns at any instant a version of the dataset begins or ends
CREATE FUNCTION dp_test.as_of_max(ds text, key text) RETURNS bigint LANGUAGE sql AS $f$
	SELECT COALESCE(max((SELECT count(*) FROM dataplatform.as_of(ds, t) j GROUP BY j ->> key ORDER BY 1 DESC LIMIT 1)), 0)
	  FROM (SELECT from_ AS t FROM dp_test.versions(ds) UNION SELECT to_ FROM dp_test.versions(ds) WHERE to_ IS NOT NULL) i
$f$;
CREATE FUNCTION dp_test.counts(b bigint) RETURNS TABLE (kind text, rows bigint, loaded bigint, replaced bigint,
	quarantined bigint, skipped bigint, filtered bigint, orphaned bigint, adds_up boolean) LANGUAGE sql AS $f$
	SELECT kind, rows, rows_loaded, rows_replaced, rows_quarantined, rows_skipped, rows_filtered, rows_orphaned,
		   rows = rows_loaded + rows_replaced + rows_quarantined + rows_skipped + rows_filtered + rows_orphaned
	  FROM dataplatform.batch WHERE id = b
$f$;

SELECT name FROM dataplatform.define_product('order-test');
SELECT dataplatform.define_dataset('{"dataset": "ho-thing", "product": "order-test", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string", "required": true}]}');

-- a snapshot dated long before the push it replaces: the pushed version ends
-- where it began, and the snapshot's version starts there
SELECT dataplatform.push('ho-thing', '[{"id": 1, "v": "pushed"}, {"id": 2, "v": "pushed"}]') > 0 AS pushed;
SELECT dataplatform.load_snapshot('ho-thing', '[{"id": 1, "v": "snapshot"}]', '2000-01-01 00:00:00+00', 'replace') > 0 AS snapshot;
SELECT k, v ->> 'v' AS v, v ->> '_operation' AS op, from_ <= to_ AS ordered, to_ IS NULL AS current
  FROM dp_test.versions('ho-thing') ORDER BY k, n NULLS LAST;
SELECT * FROM dp_test.history_order('ho-thing');
SELECT dp_test.as_of_max('ho-thing', 'id') AS as_of_max;

-- events ordered by a sequence whose times run backwards, a delete and a
-- create again dated before it: each version starts where the last ended
SELECT dataplatform.define_dataset('{"dataset": "ho-seq", "product": "order-test", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string"}]}');
SELECT dataplatform.configure('ho-seq', '{"events": {"sequence": "seq"}}');
SELECT ordinal, outcome FROM dataplatform.apply_events('ho-seq', '[
  {"id": "e1", "seq": 1, "eventType": "ThingCreatedEvent", "dateTime": "2024-03-01T00:00:00Z", "entityId": 1, "eventData": {"newData": {"v": "one"}}},
  {"id": "e2", "seq": 2, "eventType": "ThingUpdatedEvent", "dateTime": "2024-02-01T00:00:00Z", "entityId": 1, "eventData": {"newData": {"v": "two"}}},
  {"id": "e3", "seq": 3, "eventType": "ThingDeletedEvent", "dateTime": "2024-01-01T00:00:00Z", "entityId": 1, "eventData": {}},
  {"id": "e4", "seq": 4, "eventType": "ThingCreatedEvent", "dateTime": "2023-12-01T00:00:00Z", "entityId": 1, "eventData": {"newData": {"v": "four"}}}]')
 ORDER BY ordinal;
-- and in a later call: the tombstone read back from _history bounds the new version
SELECT ordinal, outcome FROM dataplatform.apply_events('ho-seq', '[
  {"id": "e5", "seq": 5, "eventType": "ThingDeletedEvent", "dateTime": "2023-11-01T00:00:00Z", "entityId": 1, "eventData": {}}]')
 ORDER BY ordinal;
SELECT ordinal, outcome FROM dataplatform.apply_events('ho-seq', '[
  {"id": "e6", "seq": 6, "eventType": "ThingCreatedEvent", "dateTime": "2023-10-01T00:00:00Z", "entityId": 1, "eventData": {"newData": {"v": "six"}}}]')
 ORDER BY ordinal;
-- a snapshot dated before the delete brings the entity back (a sequence
-- orders events only), starting when the deleted version ended
SELECT ordinal, outcome FROM dataplatform.apply_events('ho-seq', '[
  {"id": "e7", "seq": 7, "eventType": "ThingDeletedEvent", "dateTime": "2030-01-01T00:00:00Z", "entityId": 1, "eventData": {}}]')
 ORDER BY ordinal;
SELECT dataplatform.load_snapshot('ho-seq', '[{"id": 1, "v": "snapshot"}]', '2029-01-01 00:00:00+00', 'merge') > 0 AS snapshot;
SELECT k, v ->> 'v' AS v, v ->> '_operation' AS op, from_ <= to_ AS ordered, to_ IS NULL AS current
  FROM dp_test.versions('ho-seq') ORDER BY k, n NULLS LAST;
SELECT _updated_at = '2030-01-01 00:00:00+00' AS starts_at_delete FROM dp_clean.ho_seq WHERE id = 1;
SELECT * FROM dp_test.history_order('ho-seq');
SELECT dp_test.as_of_max('ho-seq', 'id') AS as_of_max;

-- a snapshot older than an entity's removal does not bring it back (its
-- state is newer: skipped_newer), a newer one does, starting no earlier
-- than the removal; with a composite key, by the whole key
SELECT dataplatform.define_dataset('{"dataset": "ho-pair", "product": "order-test", "key": ["a", "b"],
  "fields": [{"name": "a", "datatype": "integer"}, {"name": "b", "datatype": "integer"}, {"name": "v", "datatype": "string"}]}');
SELECT dataplatform.load_snapshot('ho-pair', '[{"a": 1, "b": 1, "v": "s1"}, {"a": 1, "b": 2, "v": "s1"}]',
  '2024-01-01 00:00:00+00') > 0 AS snapshot;
SELECT dataplatform.load_snapshot('ho-pair', '[{"a": 1, "b": 1, "v": "s2"}]', '2024-03-01 00:00:00+00') > 0 AS snapshot;
SELECT dataplatform.load_snapshot('ho-pair', '[{"a": 1, "b": 2, "v": "stale"}, {"a": 1, "b": 3, "v": "new"}]',
  '2024-02-01 00:00:00+00', 'merge') AS b \gset
SELECT result -> 'added' AS added, result -> 'skipped_newer' AS skipped_newer FROM dataplatform.batch WHERE id = :b;
SELECT dataplatform.load_snapshot('ho-pair', '[{"a": 1, "b": 2, "v": "back"}]', '2024-04-01 00:00:00+00', 'merge') AS b \gset
SELECT result -> 'added' AS added, result -> 'skipped_newer' AS skipped_newer FROM dataplatform.batch WHERE id = :b;
SELECT k, v ->> 'v' AS v, v ->> '_operation' AS op, from_ <= to_ AS ordered, to_ IS NULL AS current
  FROM dp_test.versions('ho-pair') ORDER BY k, n NULLS LAST;
SELECT * FROM dp_test.history_order('ho-pair');
SELECT ordinal, outcome FROM dataplatform.apply_events('ho-thing', '[
  {"id": "x1", "eventType": "ThingDeletedEvent", "dateTime": "2999-01-01T00:00:00Z", "entityId": 1, "eventData": {}}]');
SELECT dataplatform.load_snapshot('ho-thing', '[{"id": 1, "v": "stale"}]', '2500-01-01 00:00:00+00', 'merge') AS b \gset
SELECT result -> 'skipped_newer' AS skipped_newer FROM dataplatform.batch WHERE id = :b;
SELECT count(*) AS rows_of_1 FROM dp_clean.ho_thing WHERE id = 1;
SELECT dp_test.as_of_max('ho-pair', 'b') AS as_of_max;

-- every history table of the database (this suite's and the suites' before)
SELECT count(*) > 20 AS datasets, sum(h.inverted) AS inverted, sum(h.overlapping_keys) AS overlapping_keys
  FROM dataplatform.datasets d, dp_test.history_order(d.name) h;

-- Batch counts.  A push: a key sent twice (the first row replaced), a
-- quarantined row, a skipped and a filtered one
SELECT dataplatform.define_dataset('{"dataset": "bc-thing", "product": "order-test", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string", "required": true}]}');
SELECT dataplatform.configure('bc-thing', '{"skip": ["^#"], "filter": {"v": "^([a-z]|$)"}}');
SELECT (dp_test.counts(dataplatform.push('bc-thing', '[{"id": "#1", "v": "comment"}, {"id": 1, "v": "a"},
  {"id": 1, "v": "b"}, {"id": 1, "v": "c"}, {"id": 2, "v": "a"}, {"id": 3}, {"id": 4, "v": "Upper"}]'))).*;
-- push_csv: the same shapes as CSV
SELECT (dp_test.counts(dataplatform.push_csv('bc-thing', E'id,v\n#x,y\n5,a\n5,b\n6,\n7,Upper\n8,a\n'))).*;
-- a quarantined row (no value for a required field) then a valid row of the
-- same key: the key loads once
SELECT (dp_test.counts(dataplatform.push('bc-thing', '[{"id": 9}, {"id": 9, "v": "a"}]'))).*;
-- snapshots: duplicates, a quarantined row, a row older than the entity's state
SELECT (dp_test.counts(dataplatform.load_snapshot('bc-thing', '[{"id": 1, "v": "s"}, {"id": 1, "v": "t"},
  {"id": 2}, {"id": 2, "v": "s"}, {"id": 3, "v": "s"}, {"id": 4, "v": "Upper"}]', '2024-01-01 00:00:00+00'))).*;
SELECT (dp_test.counts(dataplatform.load_snapshot('bc-thing', '[{"id": 1, "v": "old"}, {"id": 1, "v": "older"}]',
  '2023-01-01 00:00:00+00', 'merge'))).*;
-- events: inserted, applied, deleted, duplicate, stale, orphan, rejected
SELECT count(*) AS events FROM dataplatform.apply_events('bc-thing', '[
  {"id": "c1", "eventType": "ThingCreatedEvent", "dateTime": "2024-02-01T00:00:00Z", "entityId": 20, "eventData": {"newData": {"v": "a"}}},
  {"id": "u1", "eventType": "ThingUpdatedEvent", "dateTime": "2024-02-02T00:00:00Z", "entityId": 20, "eventData": {"newData": {"v": "b"}}},
  {"id": "u1", "eventType": "ThingUpdatedEvent", "dateTime": "2024-02-02T00:00:00Z", "entityId": 20, "eventData": {"newData": {"v": "b"}}},
  {"id": "u0", "eventType": "ThingUpdatedEvent", "dateTime": "2024-01-01T00:00:00Z", "entityId": 20, "eventData": {"newData": {"v": "z"}}},
  {"id": "o1", "eventType": "ThingUpdatedEvent", "dateTime": "2024-02-03T00:00:00Z", "entityId": 21, "eventData": {"newData": {"v": "x"}}},
  {"id": "o2", "eventType": "ThingDeletedEvent", "dateTime": "2024-02-03T00:00:00Z", "entityId": 22, "eventData": {}},
  {"id": "r1", "eventType": "ThingCreatedEvent", "dateTime": "2024-02-03T00:00:00Z", "entityId": 23, "eventData": {"newData": {}}},
  {"id": "d1", "eventType": "ThingDeletedEvent", "dateTime": "2024-02-04T00:00:00Z", "entityId": 20, "eventData": {}}]');
SELECT (dp_test.counts(max(id))).* FROM dataplatform.batch WHERE dataset = 'bc-thing';
SELECT result FROM dataplatform.batch WHERE id = (SELECT max(id) FROM dataplatform.batch WHERE dataset = 'bc-thing');

-- every batch processed through the API in this database (the consumer
-- suite's hand-made batch has no hash and is left out)
SELECT kind, count(*) > 0 AS some,
	   count(*) FILTER (WHERE rows <> rows_loaded + rows_replaced + rows_quarantined + rows_skipped
									 + rows_filtered + rows_orphaned) AS not_adding_up
  FROM dataplatform.batch WHERE status = 'done' AND sha256 <> '' GROUP BY kind ORDER BY kind;
