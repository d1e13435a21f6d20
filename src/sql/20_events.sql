
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
) PARTITION BY RANGE (batch_id);
-- Partitioned by batch-id range (issue 13; partition_rule, part 66): each
-- partition has a BRIN index on batch_id ((batch_id, ordinal) is unique by
-- construction; batch ids only grow) and an index of its processed ids
-- (lineage finds an event by dataset and id).  A unique index across
-- partitions would have to include batch_id: the processed ids are kept
-- in event_processed instead, which retention never drops.
COMMENT ON TABLE @extschema@.event IS 'every change event received, with its outcome (the event log); partitioned by batch-id range (dataplatform.partition_rule)';
-- The DEFAULT partition holds the event log of a 0.1 database updated, or
-- of a 0.1 dump restored, with 0.1's unique index of processed ids (read
-- by apply_events while it holds rows); writers keep it empty otherwise.
-- (Made as a table and attached, as the 0.1 -> 0.2 update makes it.)
CREATE TABLE @extschema@.event_default (
	dataset		text NOT NULL,
	batch_id	bigint NOT NULL,
	ordinal		integer NOT NULL,
	event_id	text,
	entity_id	text,
	event_type	text,
	event_time	text,
	order_key	text,
	outcome		text NOT NULL CONSTRAINT event_outcome_check
				CHECK (outcome IN ('inserted', 'applied', 'deleted', 'duplicate',
								   'stale', 'orphan', 'rejected')),
	detail		text
);
CREATE INDEX event_default_batch ON @extschema@.event_default USING brin (batch_id) WITH (pages_per_range = 16);
CREATE UNIQUE INDEX event_default_processed ON @extschema@.event_default (dataset, event_id)
	WHERE outcome NOT IN ('duplicate', 'rejected') AND event_id IS NOT NULL;
ALTER TABLE @extschema@.event ATTACH PARTITION @extschema@.event_default DEFAULT;
COMMENT ON TABLE @extschema@.event_default IS 'the event log of a 0.1 database (updated or restored from a dump), before the event log was partitioned; empty otherwise';

-- The event ids processed (applied, inserted, deleted, stale or an
-- orphan) of each dataset: a later delivery of one is a duplicate, however
-- long ago its partition of the event log was dropped.
CREATE TABLE @extschema@.event_processed (
	dataset		text NOT NULL,
	event_id	text NOT NULL,
	PRIMARY KEY (dataset, event_id)
);
COMMENT ON TABLE @extschema@.event_processed IS 'the event ids processed per dataset (the idempotency log; not partitioned: it outlives the event log''s partitions)';

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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_default', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_processed', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.orphan_event', '');
REVOKE ALL ON @extschema@.event, @extschema@.event_default, @extschema@.event_processed,
	@extschema@.orphan_event FROM PUBLIC;
GRANT SELECT ON @extschema@.event, @extschema@.event_default, @extschema@.event_processed,
	@extschema@.orphan_event TO dataplatform_admin;

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
