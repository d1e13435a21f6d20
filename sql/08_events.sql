-- snapshots and change events: every outcome, re-sync, orphans, history, as-of
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';

SELECT name FROM dataplatform.define_product('tenancy');
SELECT dataplatform.grant_producer('tenancy', 'dp_t_producer');
SELECT dataplatform.define_dataset('{
  "dataset": "lease", "product": "tenancy", "key": ["id"],
  "fields": [
    {"name": "id", "datatype": "uuid"},
    {"name": "paymentReference", "datatype": "string"},
    {"name": "tenureType", "datatype": "string", "required": true, "codelist": ["SEC", "FLT", "INT"]},
    {"name": "rent", "datatype": "decimal"},
    {"name": "endDate", "datatype": "date"},
    {"name": "members", "datatype": "json"}
  ]}');

CREATE FUNCTION dp_test.lease() RETURNS TABLE (id text, ref text, type text, rent numeric, end_date date,
  members jsonb, batch bigint, event text, watermark text)
LANGUAGE sql AS $$
  SELECT left(id::text, 4), payment_reference, tenure_type, rent, end_date, members, _batch_id,
         _event_id, _watermark FROM dp_clean.lease ORDER BY id $$;
CREATE FUNCTION dp_test.lease_history() RETURNS TABLE (id text, ref text, rent numeric, op text,
  batch bigint, event text, closed_by_batch bigint, closed_by_event text, valid_from timestamptz,
  valid_to timestamptz)
LANGUAGE sql AS $$
  SELECT left(id::text, 4), payment_reference, rent, _operation, _batch_id, _event_id,
         _closed_by_batch, _closed_by_event, _valid_from, _valid_to
    FROM dp_clean.lease_history ORDER BY _history_id $$;
-- an envelope in Hackney's EntityEventSns shape
CREATE FUNCTION dp_test.ev(id text, type text, at text, entity text, new_data jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_object_agg(k, v) FROM jsonb_each(jsonb_build_object('id', id, 'eventType', type,
         'sourceDomain', 'Tenure', 'sourceSystem', 'TenureAPI', 'version', 'v1',
         'correlationId', id || '-c', 'dateTime', at,
         'user', jsonb_build_object('name', 'Tester', 'email', 'tester@example.org'), 'entityId', entity,
         'eventData', CASE WHEN new_data IS NULL THEN '{"oldData": {}}'::jsonb
                      ELSE jsonb_build_object('oldData', '{}'::jsonb, 'newData', new_data) END)) e(k, v)
   WHERE v <> 'null' $$;

\set a '''aaaaaaaa-0000-4000-8000-000000000001'''
\set b '''bbbbbbbb-0000-4000-8000-000000000002'''
\set c '''cccccccc-0000-4000-8000-000000000003'''
\set d '''dddddddd-0000-4000-8000-000000000004'''

-- the initial snapshot: state as of its time
SELECT dataplatform.load_snapshot('lease', jsonb_build_array(
  jsonb_build_object('id', :a, 'paymentReference', 'A-1', 'tenureType', 'SEC', 'rent', '100.00'),
  jsonb_build_object('id', :b, 'paymentReference', 'B-1', 'tenureType', 'flt', 'rent', 90),
  jsonb_build_object('id', :c, 'paymentReference', 'C-1', 'tenureType', 'INT')),
  '2024-01-01 00:00:00+00') AS snap1 \gset
SELECT * FROM dp_test.lease();
SELECT dataplatform.resync_report(:snap1) - 'batch_id';

-- every outcome
SELECT ordinal, event_id, left(entity_id, 4) AS entity, event_type, outcome, detail
  FROM dataplatform.apply_events('lease', jsonb_build_array(
    dp_test.ev('e1', 'TenureUpdatedEvent', '2024-02-01T10:00:00.1234567Z', :a, '{"rent": "£110"}'),
    -- earlier than e1 only in the 7th fractional digit: stale
    dp_test.ev('e2', 'TenureUpdatedEvent', '2024-02-01T10:00:00.1234566Z', :a, '{"rent": "105"}'),
    -- the same time as e1 exactly: the first one wins
    dp_test.ev('e2b', 'TenureUpdatedEvent', '2024-02-01T10:00:00.1234567Z', :a, '{"rent": "106"}'),
    dp_test.ev('e1', 'TenureUpdatedEvent', '2024-02-01T11:00:00Z', :a, '{"rent": "1"}'),
    -- an update for an entity with no state: orphan, replayed when the create below arrives
    dp_test.ev('e3', 'TenureUpdatedEvent', '2024-02-02T10:00:00Z', :d, '{"rent": "50"}'),
    dp_test.ev('e4', 'TenureCreatedEvent', '2024-02-01T09:00:00Z', :d,
               '{"paymentReference": "D-1", "tenureType": "SEC", "rent": 40, "members": [{"name": "Ann"}]}'),
    dp_test.ev('e5', 'TenureDeletedEvent', '2024-03-01T00:00:00Z', :b),
    -- older than the delete: stale, even though the entity is gone
    dp_test.ev('e6', 'TenureUpdatedEvent', '2024-02-15T00:00:00Z', :b, '{"rent": "1"}'),
    -- a delete for an entity with no state: orphan
    dp_test.ev('e7', 'TenureDeletedEvent', '2024-03-01T00:00:00Z', 'eeeeeeee-0000-4000-8000-000000000005'),
    -- rejected: no id, no entity, a bad time, a bad entity id, no new data, not an object
    jsonb_build_object('eventType', 'TenureUpdatedEvent', 'entityId', :a),
    dp_test.ev('r2', 'TenureUpdatedEvent', '2024-04-01T00:00:00Z', NULL, '{"rent": 1}'),
    dp_test.ev('r3', 'TenureUpdatedEvent', 'soon', :a, '{"rent": 1}'),
    dp_test.ev('r4', 'TenureUpdatedEvent', '2024-04-01T00:00:00Z', 'not-a-uuid', '{"rent": 1}'),
    dp_test.ev('r5', 'TenureUpdatedEvent', '2024-04-01T00:00:00Z', :a),
    jsonb_set(dp_test.ev('r6', 'TenureUpdatedEvent', '2024-04-01T00:00:00Z', :a), '{eventData,newData}', '"text"'),
    '"not an event"'::jsonb,
    -- rejected: the merged row does not validate (a required field cleared)
    dp_test.ev('r7', 'TenureUpdatedEvent', '2024-04-01T00:00:00Z', :c, '{"tenureType": null}'),
    -- a bad value in an update is dropped with an issue, the rest applies
    dp_test.ev('e8', 'TenureUpdatedEvent', '2024-04-02T00:00:00Z', :c, '{"endDate": "31/02/2024", "rent": "75"}')
  )) ORDER BY ordinal;
SELECT * FROM dp_test.lease();
SELECT * FROM dp_test.lease_history();
SELECT event_id, left(entity_id, 4) AS entity, replayed_by_batch IS NOT NULL AS replayed, replay_outcome
  FROM dataplatform.orphan_event ORDER BY event_id;
SELECT row_number, field, issue_type, value FROM dataplatform.issue i JOIN dataplatform.batch b ON b.id = i.batch_id
 WHERE b.dataset = 'lease' AND b.kind = 'events' ORDER BY row_number, field;
SELECT kind, rows, rows_loaded, rows_quarantined, rows_skipped, result FROM dataplatform.batch
 WHERE dataset = 'lease' AND kind = 'events';
-- every event, whatever its outcome, landed in raw
SELECT count(*) AS raw_events FROM dp_raw.rows r JOIN dataplatform.batch b ON b.id = r.batch_id
 WHERE b.dataset = 'lease' AND b.kind = 'events';

-- duplicates across calls; a rejected event is not a duplicate when sent again
-- (r7 comes back stale here: e8 is newer)
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('lease', jsonb_build_array(
  dp_test.ev('e1', 'TenureUpdatedEvent', '2024-05-01T00:00:00Z', :a, '{"rent": "1"}'),
  dp_test.ev('e7', 'TenureDeletedEvent', '2024-03-01T00:00:00Z', 'eeeeeeee-0000-4000-8000-000000000005'),
  dp_test.ev('r7', 'TenureUpdatedEvent', '2024-04-01T00:00:00Z', :c, '{"tenureType": "FLT"}'))) ORDER BY 1;
SELECT id, type FROM dp_test.lease() WHERE id = 'cccc';

-- a create for an entity that was deleted, later than the delete: back again
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('lease', jsonb_build_array(
  dp_test.ev('e9', 'TenureCreatedEvent', '2024-06-01T00:00:00Z', :b, '{"paymentReference": "B-2", "tenureType": "SEC"}')));
SELECT id, ref, type FROM dp_test.lease() WHERE id = 'bbbb';

-- as_of: the state at past times; entity_history: one entity's versions
SELECT dataplatform.as_of('lease', '2023-12-31') AS before_anything;
SELECT j - 'members' FROM dataplatform.as_of('lease', '2024-01-15') j;
SELECT j - 'members' FROM dataplatform.as_of('lease', '2024-02-15') j;
SELECT j - 'members' FROM dataplatform.as_of('lease', '2024-03-15') j;
SELECT h ->> 'operation' AS op, h -> 'data' ->> 'rent' AS rent, h ->> 'valid_from' AS valid_from,
       h ->> 'valid_to' AS valid_to, h ->> 'event_id' AS event, h ->> 'closed_by_event' AS closed_by
  FROM dataplatform.entity_history('lease', to_jsonb(:a::text)) h;
SELECT count(*) FROM dataplatform.entity_history('lease', jsonb_build_object('id', :b));

-- a snapshot in replace mode re-syncs: entities missing from it are closed
-- (kept in history), entities with newer events keep them, orphans newer
-- than the snapshot replay
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('lease', jsonb_build_array(
  dp_test.ev('o1', 'TenureUpdatedEvent', '2024-08-01T00:00:00Z', 'ffffffff-0000-4000-8000-000000000006', '{"rent": "66"}')));
SELECT dataplatform.load_snapshot('lease', jsonb_build_array(
  jsonb_build_object('id', :a, 'paymentReference', 'A-2', 'tenureType', 'SEC', 'rent', '110'),
  jsonb_build_object('id', :c, 'paymentReference', 'C-1', 'tenureType', 'FLT', 'rent', '75'),
  jsonb_build_object('id', 'ffffffff-0000-4000-8000-000000000006', 'paymentReference', 'F-1', 'tenureType', 'SEC'),
  jsonb_build_object('id', :d, 'tenureType', 'XYZ')),
  '2024-07-01 00:00:00+00') AS snap2 \gset
SELECT dataplatform.resync_report(:snap2) - 'batch_id';
SELECT id, ref, type, rent FROM dp_test.lease();
SELECT id, op, closed_by_batch = :snap2 AS by_snapshot FROM dp_test.lease_history() WHERE op = 'resync';
SELECT event_id, replay_outcome FROM dataplatform.orphan_event WHERE event_id = 'o1';
-- an event older than the snapshot is stale now; a newer one applies
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('lease', jsonb_build_array(
  dp_test.ev('s1', 'TenureUpdatedEvent', '2024-06-30T23:59:59Z', :a, '{"rent": "1"}'),
  dp_test.ev('s2', 'TenureUpdatedEvent', '2024-07-01T00:00:01Z', :a, '{"rent": "120"}'))) ORDER BY 1;

-- merge mode only upserts
SELECT dataplatform.load_snapshot('lease', '[{"id": "99999999-0000-4000-8000-000000000009", "tenureType": "INT"}]',
                                  '2024-09-01 00:00:00+00', 'merge') AS snap3 \gset
SELECT (dataplatform.resync_report(:snap3) -> 'removed_by_resync' ->> 'count')::int AS removed,
       (dataplatform.resync_report(:snap3) ->> 'added')::int AS added;
SELECT count(*) AS entities FROM dp_clean.lease;

-- remapped envelopes, named event types, and sequence ordering
SELECT dataplatform.define_dataset('{"dataset": "account", "product": "tenancy", "key": ["ref"],
  "fields": [{"name": "ref", "datatype": "string"}, {"name": "balance", "datatype": "decimal"}]}');
SELECT dataplatform.configure('account', '{"events": {"id": "meta.messageId", "entity": "meta.account",
  "time": "meta.at", "type": "kind", "new": "body", "sequence": "meta.seq",
  "create": ["Opened"], "delete": ["Closed"], "update": ["Moved"]}}');
SELECT ordinal, event_id, entity_id, event_type, outcome FROM dataplatform.apply_events('account', '[
  {"meta": {"messageId": "m1", "account": "ACC1", "seq": 1}, "kind": "Opened", "body": {"balance": "10"}},
  {"meta": {"messageId": "m3", "account": "ACC1", "seq": 3}, "kind": "Moved", "body": {"balance": "30"}},
  {"meta": {"messageId": "m2", "account": "ACC1", "seq": 2}, "kind": "Moved", "body": {"balance": "20"}},
  {"meta": {"messageId": "m4", "account": "ACC1", "seq": "x"}, "kind": "Moved", "body": {"balance": "40"}},
  {"meta": {"messageId": "m5", "account": "ACC1", "seq": 5}, "kind": "Frozen", "body": {}},
  {"meta": {"messageId": "m6", "account": "ACC2", "seq": 1}, "kind": "Moved", "body": {"ref": "ACC2", "balance": "5"}}
]') ORDER BY 1;
SELECT ref, balance, _watermark FROM dp_clean.account ORDER BY ref;
-- with upsert, an update carrying a full row for an unknown entity inserts it
SELECT dataplatform.configure('account', '{"events": {"id": "meta.messageId", "entity": "meta.account",
  "time": "meta.at", "type": "kind", "new": "body", "sequence": "meta.seq", "upsert": true}}');
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('account', '[
  {"meta": {"messageId": "m7", "account": "ACC3", "seq": 1}, "kind": "Moved", "body": {"balance": "7"}}]');
SELECT ref, balance FROM dp_clean.account ORDER BY ref;

-- bad calls: errors naming the dataset, nothing written
SELECT count(*) AS batches_before FROM dataplatform.batch \gset
SELECT dp_test.err($$SELECT * FROM dataplatform.apply_events('lease', '{"id": "x"}')$$);
SELECT dp_test.err($$SELECT * FROM dataplatform.apply_events('lease', '[]')$$);
SELECT dp_test.err($$SELECT * FROM dataplatform.apply_events('lease', NULL)$$);
SELECT dp_test.err($$SELECT * FROM dataplatform.apply_events('nope', '[{}]')$$);
SELECT dp_test.err($$SELECT * FROM dataplatform.apply_events('Rent Charge', '[{}]')$$);
SELECT dp_test.err($$SELECT dataplatform.load_snapshot('lease', '"x"', now())$$);
SELECT dp_test.err($$SELECT dataplatform.load_snapshot('lease', '[{"id": "x"}]', NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.load_snapshot('lease', '[{"tenureType": "SEC"}]', now(), 'sideways')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('lease', '{"events": {"time": 5}}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('lease', '{"events": {"colour": "x"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('lease', '{"events": {"create": "A"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.as_of('nope', now())$$);
SELECT dp_test.err($$SELECT dataplatform.entity_history('Rent Charge', '"x"')$$);
SELECT dp_test.err($$SELECT dataplatform.entity_history('lease', '[1]')$$);
SELECT dp_test.err($$SELECT dataplatform.resync_report((SELECT min(id) FROM dataplatform.batch WHERE kind = 'push'))$$);
SELECT dp_test.err($$SELECT dataplatform.resync_report(-1)$$);
SELECT count(*) = :batches_before AS nothing_written FROM dataplatform.batch;
-- a snapshot row without its key is quarantined, like a pushed one
SELECT (dataplatform.resync_report(dataplatform.load_snapshot('lease', '[{"tenureType": "SEC"}]', '2024-09-02 00:00:00+00', 'merge')) ->> 'quarantined')::int AS quarantined;

-- producers may load snapshots and apply events to their products; only admins read history
SET ROLE dp_t_producer;
SELECT outcome FROM dataplatform.apply_events('lease', jsonb_build_array(
  dp_test.ev('p1', 'TenureUpdatedEvent', '2024-10-01T00:00:00Z', :a, '{"rent": "121"}')));
SELECT dp_test.err($$SELECT dataplatform.as_of('lease', now())$$);
RESET ROLE;
SET ROLE dp_t_other;
SELECT dp_test.err($$SELECT * FROM dataplatform.apply_events('lease', '[{}]')$$);
RESET ROLE;
