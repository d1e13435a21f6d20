-- Who may load snapshots, apply events and read history.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(13);

CREATE ROLE tap_ev_prod;
CREATE ROLE tap_ev_other;
CREATE ROLE tap_ev_consumer;
SELECT lives_ok($$SELECT dataplatform.define_product('ev-a')$$, 'product');
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "ev-items", "product": "ev-a", "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string"}]}')$$, 'dataset');
SELECT lives_ok($$SELECT dataplatform.grant_producer('ev-a', 'tap_ev_prod')$$, 'a producer');
SELECT lives_ok($$SELECT dataplatform.grant_producer('ev-a', 'tap_ev_other'); SELECT dataplatform.revoke_producer('ev-a', 'tap_ev_other')$$, 'a former producer');
SELECT lives_ok($$SELECT dataplatform.grant_consumer('tap_ev_consumer')$$, 'a consumer');

SET LOCAL ROLE tap_ev_prod;
SELECT lives_ok($$SELECT dataplatform.load_snapshot('ev-items', '[{"id": 1, "v": "a"}]', now())$$,
  'a producer loads a snapshot of its product');
SELECT is((SELECT outcome FROM dataplatform.apply_events('ev-items', jsonb_build_array(jsonb_build_object(
  'id', 'x1', 'eventType', 'ItemUpdatedEvent', 'dateTime', (now() + interval '1 minute')::text, 'entityId', 1,
  'eventData', jsonb_build_object('newData', jsonb_build_object('v', 'b')))))), 'applied',
  'a producer applies events to its product');
SELECT throws_ok($$SELECT dataplatform.as_of('ev-items', now())$$, '42501', NULL, 'a producer cannot read history');
SELECT throws_ok($$SELECT * FROM dataplatform.event$$, '42501', NULL, 'nor the event log');
RESET ROLE;

SET LOCAL ROLE tap_ev_consumer;
SELECT throws_ok($$SELECT * FROM dataplatform.apply_events('ev-items', '[{}]')$$, '42501', NULL, 'a consumer cannot apply events');
SELECT throws_ok($$SELECT dataplatform.load_snapshot('ev-items', '[]', now())$$, '42501', NULL, 'nor load snapshots');
RESET ROLE;

SET LOCAL ROLE tap_ev_other;
SELECT throws_ok($$SELECT * FROM dataplatform.apply_events('ev-items', '[{}]')$$, '42501', NULL,
  'a role without the grant cannot apply events');
RESET ROLE;

SELECT is((SELECT v FROM dp_clean.ev_items WHERE id = 1), 'b', 'the event was applied');

SELECT * FROM finish();
ROLLBACK;
