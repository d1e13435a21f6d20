
-- dataplatform 0.1, part 20: current state from snapshots plus change
-- events (src/events/).

-- Every event an apply_events call saw, with its outcome.  An event id is
-- "processed" once it was applied, inserted, deleted, stale or an orphan;
-- a later delivery of it is a duplicate.  Rejected events are not
-- processed: the producer may send them again once fixed.
CREATE TABLE @extschema@.event (
	dataset		text NOT NULL,
	batch_id	bigint NOT NULL,
	ordinal		integer NOT NULL,
	event_id	text,
	entity_id	text,
	event_type	text,
	event_time	text,
	order_key	text,
	outcome		text NOT NULL CHECK (outcome IN ('inserted', 'applied', 'deleted', 'duplicate',
											  'stale', 'orphan', 'rejected')),
	detail		text
);
-- (batch_id, ordinal) is unique by construction; batch ids only grow, so a
-- BRIN index finds a batch's events at a fraction of a btree's insert cost
CREATE INDEX event_batch ON @extschema@.event USING brin (batch_id) WITH (pages_per_range = 16);
CREATE UNIQUE INDEX event_processed ON @extschema@.event (dataset, event_id)
	WHERE outcome NOT IN ('duplicate', 'rejected') AND event_id IS NOT NULL;
COMMENT ON TABLE @extschema@.event IS 'every change event received, with its outcome (the idempotency log)';

-- Updates and deletes for entities with no state, kept for replay when a
-- snapshot or a create brings the entity.
CREATE TABLE @extschema@.orphan_event (
	dataset				text NOT NULL,
	event_id			text NOT NULL,
	entity_id			text NOT NULL,
	order_key			text NOT NULL,
	event_type			text,
	envelope			jsonb NOT NULL,
	batch_id			bigint NOT NULL,
	ordinal				integer NOT NULL,
	replayed_by_batch	bigint,
	replay_outcome		text,
	PRIMARY KEY (dataset, event_id)
);
CREATE INDEX orphan_event_waiting ON @extschema@.orphan_event (dataset, entity_id)
	WHERE replayed_by_batch IS NULL;
COMMENT ON TABLE @extschema@.orphan_event IS 'events for entities with no state yet, replayed when the entity arrives';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.event', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.orphan_event', '');
REVOKE ALL ON @extschema@.event, @extschema@.orphan_event FROM PUBLIC;
GRANT SELECT ON @extschema@.event, @extschema@.orphan_event TO dataplatform_admin;

CREATE FUNCTION @extschema@.load_snapshot(dataset text, rows jsonb, as_of timestamptz,
										  mode text DEFAULT 'replace')
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_load_snapshot'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.load_snapshot(text, jsonb, timestamptz, text) IS
'load the state of a dataset as of a time (replace: entities missing from it are closed; merge: upsert only); returns the batch id';

CREATE FUNCTION @extschema@.apply_events(dataset text, events jsonb)
RETURNS TABLE (ordinal integer, event_id text, entity_id text, event_type text,
			   outcome text, detail text)
AS 'MODULE_PATHNAME', 'dp_apply_events'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.apply_events(text, jsonb) IS
'apply an array of change events (create, update, delete) onto current state, idempotently and in time order per entity';

CREATE FUNCTION @extschema@.as_of(dataset text, at timestamptz)
RETURNS SETOF jsonb
AS 'MODULE_PATHNAME', 'dp_as_of'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.as_of(text, timestamptz) IS
'the state of a dataset at a past time, one JSON object per entity keyed by field name';

CREATE FUNCTION @extschema@.entity_history(dataset text, key jsonb)
RETURNS SETOF jsonb
AS 'MODULE_PATHNAME', 'dp_entity_history'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.entity_history(text, jsonb) IS
'every version of one entity, oldest first, with its validity, operation, batch and event';

CREATE FUNCTION @extschema@.resync_report(batch bigint)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_resync_report'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.resync_report(bigint) IS
'for a snapshot batch: the entities it added, changed, left unchanged and removed';

REVOKE ALL ON FUNCTION @extschema@.load_snapshot(text, jsonb, timestamptz, text),
	@extschema@.apply_events(text, jsonb), @extschema@.as_of(text, timestamptz),
	@extschema@.entity_history(text, jsonb), @extschema@.resync_report(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.load_snapshot(text, jsonb, timestamptz, text),
	@extschema@.apply_events(text, jsonb)
	TO dataplatform_admin, dataplatform_producer;
GRANT EXECUTE ON FUNCTION @extschema@.as_of(text, timestamptz),
	@extschema@.entity_history(text, jsonb), @extschema@.resync_report(bigint)
	TO dataplatform_admin;
