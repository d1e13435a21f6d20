-- Issue 17, point 6: rebuild of an event-fed dataset replays its snapshots
-- and change events (and pushes) in batch order from dp_raw.rows, giving
-- the state, history, event log, orphans, issues, quarantine and batch
-- counts of the original run.  Each is copied aside before the rebuild and
-- compared after it (EXCEPT ALL both ways is empty); history is compared
-- with its order (the position of each version by _history_id) but not its
-- own ids or the time it was recorded.  The same for every event-fed
-- dataset the suites before left.  Then rebuild_changed takes
-- event-fed datasets, a configuration change replays through the new
-- configuration, and the errors.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dataplatform;
CREATE SCHEMA IF NOT EXISTS dp_test;
CREATE FUNCTION dp_test.rb_ev(id text, type text, at text, entity int, data jsonb DEFAULT NULL) RETURNS jsonb
LANGUAGE sql AS $f$
	SELECT jsonb_strip_nulls(jsonb_build_object('id', id, 'eventType', type, 'dateTime', at, 'entityId', entity,
		'eventData', jsonb_build_object('newData', data)))
$f$;
-- what a run leaves of one dataset, as rows of text: one relation per part
CREATE FUNCTION dp_test.rb_state(ds text) RETURNS TABLE (part text, line text) LANGUAGE plpgsql AS $f$
DECLARE
	t text := (SELECT table_name FROM dataplatform.datasets WHERE name = ds);
BEGIN
	RETURN QUERY EXECUTE format('SELECT ''clean'', to_jsonb(c)::text FROM dp_clean.%I c', t);
	RETURN QUERY EXECUTE format(
		'SELECT ''history'', (to_jsonb(h) - ''_history_id'' - ''_recorded_at'' '
		'   || jsonb_build_object(''position'', row_number() OVER (ORDER BY _history_id)))::text '
		'  FROM dp_clean.%I h', t || '_history');
	RETURN QUERY SELECT 'event', to_jsonb(e)::text FROM dataplatform.event e WHERE e.dataset = ds;
	RETURN QUERY SELECT 'orphan', to_jsonb(o)::text FROM dataplatform.orphan_event o WHERE o.dataset = ds;
	RETURN QUERY SELECT 'issue', to_jsonb(i)::text FROM dataplatform.issue i
		JOIN dataplatform.batch b ON b.id = i.batch_id WHERE b.dataset = ds;
	RETURN QUERY SELECT 'quarantine', to_jsonb(q)::text FROM dataplatform.quarantine_row q
		JOIN dataplatform.batch b ON b.id = q.batch_id WHERE b.dataset = ds;
	RETURN QUERY SELECT 'batch', (to_jsonb(b) - 'elapsed_ms' - 'processed_at')::text
		FROM dataplatform.batch b WHERE b.dataset = ds;
END
$f$;

SELECT name FROM dataplatform.define_product('rebuild-test');
SELECT dataplatform.define_dataset('{"dataset": "rb-feed", "product": "rebuild-test", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string", "required": true},
             {"name": "n", "datatype": "integer"}]}');
-- a snapshot (one row quarantined), then events of every outcome
SELECT dataplatform.load_snapshot('rb-feed', '[{"id": 1, "v": "s1", "n": 1}, {"id": 2, "v": "s1", "n": 2},
  {"id": 3, "v": "s1", "n": "three"}, {"id": 4, "n": 4}, {"id": 4, "v": "s1"}]', '2024-01-01 00:00:00+00') > 0 AS snapshot;
SELECT ordinal, outcome FROM dataplatform.apply_events('rb-feed', jsonb_build_array(
  dp_test.rb_ev('e1', 'ThingUpdatedEvent', '2024-01-02T00:00:00Z', 1, '{"v": "e1"}'),
  dp_test.rb_ev('e2', 'ThingDeletedEvent', '2024-01-02T00:00:00Z', 2),
  dp_test.rb_ev('e3', 'ThingCreatedEvent', '2024-01-02T00:00:00Z', 5, '{"v": "e3", "n": 5}'),
  dp_test.rb_ev('e4', 'ThingUpdatedEvent', '2024-01-03T00:00:00Z', 6, '{"v": "orphan"}'),
  dp_test.rb_ev('e1', 'ThingUpdatedEvent', '2024-01-02T00:00:00Z', 1, '{"v": "e1"}'),
  dp_test.rb_ev('e5', 'ThingUpdatedEvent', '2023-12-01T00:00:00Z', 1, '{"v": "stale"}'),
  dp_test.rb_ev('e6', 'ThingCreatedEvent', '2024-01-02T00:00:00Z', 7, '{"n": 7}'),
  dp_test.rb_ev('e7', 'ThingUpdatedEvent', '2024-01-04T00:00:00Z', 7, '{"v": "orphan too"}'),
  jsonb_build_object('id', 'e8', 'eventType', 'ThingUpdatedEvent', 'entityId', 1,
                     'eventData', jsonb_build_object('newData', jsonb_build_object('n', 8)))))
 ORDER BY ordinal;
-- a push in between, then a merge snapshot bringing entity 6 (its orphan replays)
SELECT dataplatform.push('rb-feed', '[{"id": 1, "v": "pushed"}, {"id": 8, "v": "pushed"}, {"id": 8, "v": "again"}]') > 0 AS pushed;
SELECT dataplatform.load_snapshot('rb-feed', '[{"id": 6, "v": "s2", "n": 6}]', '2024-01-02 12:00:00+00', 'merge') > 0 AS snapshot;
-- a create for entity 7 replays its orphan; entity 2 comes back; then a replace snapshot
SELECT ordinal, outcome FROM dataplatform.apply_events('rb-feed', jsonb_build_array(
  dp_test.rb_ev('e9', 'ThingCreatedEvent', '2024-01-03T00:00:00Z', 7, '{"v": "created", "n": 7}'),
  dp_test.rb_ev('e10', 'ThingCreatedEvent', '2024-01-05T00:00:00Z', 2, '{"v": "back", "n": 2}')))
 ORDER BY ordinal;
SELECT dataplatform.load_snapshot('rb-feed', '[{"id": 1, "v": "s3"}, {"id": 2, "v": "s3"}, {"id": 7, "v": "s3"}]',
  '2024-01-06 00:00:00+00') > 0 AS snapshot;
SELECT ordinal, outcome FROM dataplatform.apply_events('rb-feed', jsonb_build_array(
  dp_test.rb_ev('e11', 'ThingUpdatedEvent', '2024-01-07T00:00:00Z', 7, '{"v": "last"}'),
  dp_test.rb_ev('e12', 'ThingDeletedEvent', '2024-01-07T00:00:00Z', 2)))
 ORDER BY ordinal;
SELECT part, count(*) FROM dp_test.rb_state('rb-feed') GROUP BY part ORDER BY part;

CREATE TABLE dp_test.rb_before AS SELECT * FROM dp_test.rb_state('rb-feed');
SELECT dataplatform.rebuild('rb-feed') - 'dataset';
SELECT part, count(*) FILTER (WHERE side = 'before only') AS before_only,
       count(*) FILTER (WHERE side = 'after only') AS after_only
  FROM ((SELECT 'before only' AS side, * FROM (TABLE dp_test.rb_before EXCEPT ALL SELECT * FROM dp_test.rb_state('rb-feed')) x)
        UNION ALL
        (SELECT 'after only', * FROM (SELECT * FROM dp_test.rb_state('rb-feed') EXCEPT ALL TABLE dp_test.rb_before) y)) d
 GROUP BY part ORDER BY part;
SELECT count(*) AS differences FROM (
  (TABLE dp_test.rb_before EXCEPT ALL SELECT * FROM dp_test.rb_state('rb-feed'))
  UNION ALL
  (SELECT * FROM dp_test.rb_state('rb-feed') EXCEPT ALL TABLE dp_test.rb_before)) d;
SELECT id, v, n, _event_id FROM dp_clean.rb_feed ORDER BY id;

-- the same for every event-fed dataset the suites before this one left
-- (08_events, 12_events_scans' 20,000 entities, ...) whose batches were all
-- processed under the current spec and configuration and made by the API;
-- rolled back
BEGIN;
CREATE TEMP TABLE rb_fed AS
SELECT d.name FROM dataplatform.datasets d JOIN dataplatform.batch b ON b.dataset = d.name
 WHERE d.name <> 'rb-feed'
 GROUP BY d.name
HAVING bool_or(b.kind IN ('snapshot', 'events'))
   AND bool_and(b.status = 'done' AND b.sha256 <> '' AND b.raw_purged_at IS NULL
				AND b.spec_version = d.major || '.' || d.minor AND b.config_version = d.config_version);
SELECT count(*) >= 3 AS event_fed_datasets FROM rb_fed;
CREATE TEMP TABLE rb_all_before AS SELECT f.name, s.* FROM rb_fed f, dp_test.rb_state(f.name) s;
SELECT count(*) FILTER (WHERE (dataplatform.rebuild(name) ->> 'batches')::int > 0) = count(*) AS rebuilt FROM rb_fed;
CREATE TEMP TABLE rb_all_after AS SELECT f.name, s.* FROM rb_fed f, dp_test.rb_state(f.name) s;
SELECT count(*) AS differences FROM (
  (TABLE rb_all_before EXCEPT ALL TABLE rb_all_after) UNION ALL (TABLE rb_all_after EXCEPT ALL TABLE rb_all_before)) d;
ROLLBACK;

-- rebuild_changed takes event-fed datasets now; a configuration change
-- replays the events through the new configuration
SELECT dataplatform.configure('rb-feed', '{"lookup": {"v": {"s3": "snapshot three"}}}');
SELECT r -> 'rebuilt' ? 'rb-feed' AS rebuilt, r -> 'left_out' ? 'rb-feed' AS left_out
  FROM dataplatform.rebuild_changed() AS r;
SELECT id, v, n FROM dp_clean.rb_feed ORDER BY id;

-- errors: not an admin; a dataset that does not exist; raw rows purged
CREATE ROLE rb_producer;
SELECT dataplatform.grant_producer('rebuild-test', 'rb_producer');
SET ROLE rb_producer;
SELECT dataplatform.rebuild('rb-feed');
RESET ROLE;
SELECT dataplatform.rebuild('rb-nothing');
SELECT dataplatform.purge_raw('rb-feed', '0 seconds') > 0 AS purged;
SELECT dataplatform.rebuild('rb-feed');
-- rebuild_changed leaves it out (and says so) once its raw rows are gone
SELECT dataplatform.configure('rb-feed', '{}');
SELECT r -> 'rebuilt' ? 'rb-feed' AS rebuilt, r -> 'left_out' ? 'rb-feed' AS left_out
  FROM dataplatform.rebuild_changed() AS r;
DROP OWNED BY rb_producer;
DROP ROLE rb_producer;
