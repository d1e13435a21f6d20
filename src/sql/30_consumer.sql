
------------------------------------------------------------------------------
-- Part 30: the consumer layer.  Published views (views in dp_consumer over
-- tables in dp_consumer_data),
-- their refresh, expectations, export.  Implemented in src/consumer/
-- (view.c and classify.c analyse a source; publish.c, export.c; refresh.c,
-- aggregate.c and diff.c refresh; expect.c).
------------------------------------------------------------------------------

-- The state of aggregate views (per group: row count and the parts of each
-- aggregate), kept by refresh.  Internal: admins may read it.
CREATE SCHEMA dp_consumer_state;
COMMENT ON SCHEMA dp_consumer_state IS 'dataplatform consumer layer: state of incrementally refreshed aggregate views (internal)';
REVOKE ALL ON SCHEMA dp_consumer_state FROM PUBLIC;
GRANT USAGE ON SCHEMA dp_consumer_state TO dataplatform_admin;

-- The rows of published views (one table per view, written by refresh);
-- consumers read them through the views in dp_consumer, which mask PII
-- columns for roles granted without pii.  Owner only.
CREATE SCHEMA dp_consumer_data;
COMMENT ON SCHEMA dp_consumer_data IS 'dataplatform consumer layer: the rows of published views, read through dp_consumer (internal)';
REVOKE ALL ON SCHEMA dp_consumer_data FROM PUBLIC;

-- The key of the masking tokens: random, made once, read only by the owner
-- of the published views (through them); kept by pg_dump so tokens survive
-- a restore.
CREATE TABLE dp_consumer_data.mask_key (key text NOT NULL);
INSERT INTO dp_consumer_data.mask_key
	SELECT pg_catalog.gen_random_uuid()::text || pg_catalog.gen_random_uuid()::text;
COMMENT ON TABLE dp_consumer_data.mask_key IS 'key of the tokens that mask PII columns of published views (owner only)';
SELECT pg_catalog.pg_extension_config_dump('dp_consumer_data.mask_key', '');

-- One key only (the views read it as a scalar): a key inserted replaces the
-- one before, so that pg_restore, which loads the dumped key after CREATE
-- EXTENSION has made a new one, leaves the dumped key and the tokens stay.
CREATE FUNCTION dp_consumer_data.mask_key_replace()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	DELETE FROM dp_consumer_data.mask_key;
	RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION dp_consumer_data.mask_key_replace() IS
'trigger: a masking key inserted replaces the one before (one key; a restored key wins)';
REVOKE ALL ON FUNCTION dp_consumer_data.mask_key_replace() FROM PUBLIC;
CREATE TRIGGER mask_key_replace BEFORE INSERT ON dp_consumer_data.mask_key
	FOR EACH ROW EXECUTE FUNCTION dp_consumer_data.mask_key_replace();

CREATE FUNCTION @extschema@.sees_pii()
RETURNS boolean
AS 'MODULE_PATHNAME', 'dp_sees_pii'
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.sees_pii() IS
'whether the caller sees real values of PII columns in published views (granted with pii, an admin or a superuser)';

CREATE FUNCTION @extschema@.mask(value anyelement, key text)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'dp_mask'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.mask(anyelement, text) IS
'the keyed token (HMAC-SHA256) of a value, of the same type: how published views mask PII columns';

REVOKE ALL ON FUNCTION @extschema@.sees_pii(), @extschema@.mask(anyelement, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sees_pii(), @extschema@.mask(anyelement, text)
	TO dataplatform_admin, dataplatform_consumer;

-- words as domains, not CHECK constraints (see batch_kind in 00_core.sql)
CREATE DOMAIN @extschema@.view_refresh AS text
	CONSTRAINT consumer_view_refresh_check CHECK (VALUE IN ('incremental', 'full'));
COMMENT ON DOMAIN @extschema@.view_refresh IS 'how a published view is refreshed when asked: incremental or full';
CREATE DOMAIN @extschema@.view_method AS text
	CONSTRAINT consumer_view_method_check CHECK (VALUE IN ('keyed', 'aggregate', 'full'));
COMMENT ON DOMAIN @extschema@.view_method IS 'how a published view''s changes are found: keyed, aggregate or full';
CREATE DOMAIN @extschema@.refresh_status AS text
	CONSTRAINT refresh_status_check CHECK (VALUE IN ('ok', 'rejected', 'failed'));
COMMENT ON DOMAIN @extschema@.refresh_status IS 'how a refresh ended: ok, rejected (by an expectation) or failed';
CREATE DOMAIN @extschema@.refresh_mode AS text
	CONSTRAINT refresh_log_mode_check CHECK (VALUE IN ('publish', 'incremental', 'full', 'none'));
COMMENT ON DOMAIN @extschema@.refresh_mode IS 'what a refresh did: publish, incremental, full or none';

CREATE TABLE @extschema@.consumer_view (
	name			text PRIMARY KEY,
	source			text NOT NULL,
	dataset			text REFERENCES @extschema@.datasets (name),
	definition		text NOT NULL,
	key				text[] NOT NULL,
	refresh			@extschema@.view_refresh,
	method			@extschema@.view_method NOT NULL,
	method_reason	text,
	description		text,
	expect			jsonb NOT NULL DEFAULT '[]',
	comments		jsonb,
	options			jsonb NOT NULL DEFAULT '{}',
	row_count		bigint NOT NULL DEFAULT 0,
	published_by	name NOT NULL,
	published_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	refreshed_at	timestamptz,
	last_status		@extschema@.refresh_status,
	last_result		jsonb
);
COMMENT ON TABLE @extschema@.consumer_view IS
'published views: dp_consumer.<name>, the source as given, its definition as SQL text, key, refresh method, expectations';

CREATE TABLE @extschema@.consumer_source (
	view			text NOT NULL REFERENCES @extschema@.consumer_view (name) ON DELETE CASCADE,
	dataset			text NOT NULL REFERENCES @extschema@.datasets (name),
	last_batch		bigint NOT NULL,
	batch_stamp		text,
	spec_major		integer NOT NULL,
	-- the dataset's table file at that watermark: the change feed's TIDs
	-- (clean_change) hold for it only; another (a rewrite) means a full refresh
	filenode		oid,
	PRIMARY KEY (view, dataset)
);
COMMENT ON TABLE @extschema@.consumer_source IS
'per view and dataset it reads: the last batch the view has consumed (its refresh watermark), and the file of the dataset''s table then (another one means a full refresh)';

CREATE TABLE @extschema@.refresh_log (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	view			text NOT NULL,
	at				timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	mode			@extschema@.refresh_mode NOT NULL,
	status			@extschema@.refresh_status NOT NULL,
	inserted		bigint,
	updated			bigint,
	deleted			bigint,
	row_count		bigint,
	ms				numeric,
	expectations	jsonb,
	reason			text,
	error			text,
	refreshed_by	name NOT NULL
);
CREATE INDEX ON @extschema@.refresh_log (view, id);
CREATE INDEX refresh_log_at ON @extschema@.refresh_log (at);
COMMENT ON TABLE @extschema@.refresh_log IS
'every publish and refresh that did something: mode, rows inserted/updated/deleted, expectation results, rejections and failures';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.consumer_view', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.consumer_source', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refresh_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.refresh_log_id_seq', '');

REVOKE ALL ON @extschema@.consumer_view, @extschema@.consumer_source, @extschema@.refresh_log FROM PUBLIC;
GRANT SELECT ON @extschema@.consumer_view, @extschema@.consumer_source, @extschema@.refresh_log
	TO dataplatform_admin;

------------------------------------------------------------------------------
-- API
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.publish(name text, source text, options jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_publish'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.publish(text, text, jsonb) IS
'publish dp_consumer.<name> from a dataset or a SELECT over dp_clean; options: key, refresh, description, expect, comments, replace';

CREATE FUNCTION @extschema@.unpublish(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_unpublish'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.unpublish(text) IS
'drop a published view and its definition';

CREATE FUNCTION @extschema@.refresh(name text, full boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_refresh'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.refresh(text, boolean) IS
'refresh a published view (incrementally where it can, or fully), gated by its expectations; returns what it did';

CREATE FUNCTION @extschema@.refresh_all(OUT view text, OUT result jsonb)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'dp_refresh_all'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.refresh_all() IS
'refresh every published view with pending changes; one row per view refreshed, rejected or failed';

CREATE FUNCTION @extschema@.export(name text, format text DEFAULT 'csv')
RETURNS text
AS 'MODULE_PATHNAME', 'dp_export'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.export(text, text) IS
'a published view as CSV (with a header line) or NDJSON (format json), ordered by its key';

CREATE FUNCTION @extschema@.view_status()
RETURNS TABLE (view text, method text, key text[], description text, row_count bigint,
			   published_at timestamptz, refreshed_at timestamptz, last_status text,
			   pending_batches bigint, pending_rows bigint, last_expectations jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	SELECT v.name, v.method, v.key, v.description, v.row_count, v.published_at, v.refreshed_at,
		   v.last_status,
		   COALESCE(p.batches, 0), COALESCE(p.rows, 0),
		   v.last_result -> 'expectations'
	  FROM @extschema@.consumer_view v
	  LEFT JOIN LATERAL (
			SELECT pg_catalog.count(*) AS batches, pg_catalog.sum(b.rows_loaded)::bigint AS rows
			  FROM @extschema@.consumer_source s
			  JOIN @extschema@.batch b ON b.dataset = s.dataset AND b.id > s.last_batch
			 WHERE s.view = v.name) p ON true
$$;
COMMENT ON FUNCTION @extschema@.view_status() IS
'one row per published view: rows, last refresh and its status, batches not yet consumed, last expectation results (see the view dataplatform.consumer_status)';

CREATE VIEW @extschema@.consumer_status AS SELECT * FROM @extschema@.view_status();
COMMENT ON VIEW @extschema@.consumer_status IS
'one row per published view: rows, last refresh and its status, batches not yet consumed, last expectation results';

REVOKE ALL ON FUNCTION
	@extschema@.publish(text, text, jsonb),
	@extschema@.unpublish(text),
	@extschema@.refresh(text, boolean),
	@extschema@.refresh_all(),
	@extschema@.export(text, text),
	@extschema@.view_status()
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	@extschema@.publish(text, text, jsonb),
	@extschema@.unpublish(text),
	@extschema@.refresh(text, boolean),
	@extschema@.refresh_all(),
	@extschema@.export(text, text),
	@extschema@.view_status()
	TO dataplatform_admin;
GRANT EXECUTE ON FUNCTION @extschema@.export(text, text), @extschema@.view_status()
	TO dataplatform_consumer;
REVOKE ALL ON @extschema@.consumer_status FROM PUBLIC;
GRANT SELECT ON @extschema@.consumer_status TO dataplatform_admin, dataplatform_consumer;
