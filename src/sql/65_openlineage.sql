-- dataplatform 0.2, part 65: OpenLineage run events (src/common/openlineage.c,
-- src/ingest/openlineage_load.c, src/consumer/openlineage_refresh.c,
-- src/worker/openlineage_send.c; docs/openlineage.md).
-- Every run (push, push_csv, queued processing, snapshot, events, refresh,
-- collection, job) writes its START and COMPLETE or FAIL event here in the
-- transaction that did the work, when dataplatform.openlineage_url is set;
-- the background worker posts them to that URL, oldest first, and prunes
-- them after dataplatform.history_days.

-- words as domains, not CHECK constraints (see batch_kind in 00_core.sql)
CREATE DOMAIN @extschema@.openlineage_event_type AS text
	CONSTRAINT openlineage_outbox_event_type_check CHECK (VALUE IN ('START', 'COMPLETE', 'FAIL'));
COMMENT ON DOMAIN @extschema@.openlineage_event_type IS 'an OpenLineage run event''s type: START, COMPLETE or FAIL';
CREATE DOMAIN @extschema@.openlineage_delivery AS text
	CONSTRAINT openlineage_outbox_status_check CHECK (VALUE IN ('pending', 'delivered', 'rejected'));
COMMENT ON DOMAIN @extschema@.openlineage_delivery IS 'where an OpenLineage event stands: pending, delivered or rejected (by the receiver)';

CREATE TABLE @extschema@.openlineage_outbox (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_id			uuid NOT NULL,
	event_type		@extschema@.openlineage_event_type NOT NULL,
	job_name		text NOT NULL,
	event			jsonb COMPRESSION lz4 NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	status			@extschema@.openlineage_delivery NOT NULL DEFAULT 'pending',
	attempts		integer NOT NULL DEFAULT 0,
	next_attempt_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	delivered_at	timestamptz,
	last_error		text
);
-- the only other index: every run writes two rows, so each index costs the
-- data path (pruning walks the primary key from its oldest end)
CREATE INDEX openlineage_outbox_pending ON @extschema@.openlineage_outbox (id) WHERE status = 'pending';
COMMENT ON TABLE @extschema@.openlineage_outbox IS
'OpenLineage run events waiting for the worker to post them to dataplatform.openlineage_url (pending), posted (delivered) or refused by the receiver (rejected); pruned after dataplatform.history_days';
-- dumped, so that events not yet delivered survive a dump and restore
SELECT pg_catalog.pg_extension_config_dump('@extschema@.openlineage_outbox', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.openlineage_outbox_id_seq', '');
REVOKE ALL ON @extschema@.openlineage_outbox FROM PUBLIC;
GRANT SELECT ON @extschema@.openlineage_outbox TO dataplatform_admin, dataplatform_auditor;
