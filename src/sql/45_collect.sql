-- dataplatform 0.1, part 45: collection from HTTP endpoints
-- (src/ingest/endpoint.c, fetch.c, store.c).
-- An endpoint is a URL the background worker fetches (on its job's schedule
-- or when collect() asks) into a batch of its dataset; every run is logged
-- in collection_log.  Secrets are header values nobody can read back.

CREATE TABLE @extschema@.secret (
	name			text PRIMARY KEY,
	value			text NOT NULL,
	updated_by		name NOT NULL,
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	origins			text[]
);
COMMENT ON TABLE @extschema@.secret IS
'secret header values for endpoints: no role but the extension''s owner can read this table; write with set_secret';
COMMENT ON COLUMN @extschema@.secret.origins IS
'the origins (scheme://host:port) the secret may be sent to; NULL: the origin of any endpoint using it';

CREATE TABLE @extschema@.endpoint (
	name			text PRIMARY KEY,
	dataset			text NOT NULL REFERENCES @extschema@.datasets (name),
	url				text NOT NULL,
	format			text NOT NULL CHECK (format IN ('csv', 'json', 'ndjson', 'geojson', 'auto')),
	options			jsonb NOT NULL DEFAULT '{}',
	job_id			bigint NOT NULL UNIQUE REFERENCES @extschema@.job (id),
	owner			name NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.endpoint IS
'HTTP endpoints the background worker collects into datasets; each has a job (collect:<name>)';

CREATE TABLE @extschema@.collection_log (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	endpoint		text NOT NULL,
	run_id			bigint,
	started_at		timestamptz NOT NULL,
	http_status		integer,
	bytes			bigint,
	sha256			text,
	elapsed_ms		numeric,
	outcome			text NOT NULL CHECK (outcome IN ('stored', 'unchanged', 'failed')),
	batch_id		bigint,
	format			text,
	error			text
);
CREATE INDEX collection_log_endpoint ON @extschema@.collection_log (endpoint, id);
CREATE INDEX collection_log_started ON @extschema@.collection_log (started_at);
COMMENT ON TABLE @extschema@.collection_log IS
'every collection run of every endpoint: stored (a new batch), unchanged (same sha256 as the last stored download) or failed';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.secret', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.endpoint', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.collection_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.collection_log_id_seq', '');

REVOKE ALL ON @extschema@.secret, @extschema@.endpoint, @extschema@.collection_log FROM PUBLIC;
REVOKE ALL ON @extschema@.secret FROM dataplatform_admin, dataplatform_producer,
	dataplatform_consumer, dataplatform_auditor;
GRANT SELECT ON @extschema@.endpoint, @extschema@.collection_log TO dataplatform_admin;

CREATE FUNCTION @extschema@.set_secret(name text, value text, origins text[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_set_secret'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.set_secret(text, text, text[]) IS
'store (or replace) a secret for endpoint headers, optionally with the origins (scheme://host[:port]) it may be sent to; nobody can read it back';

CREATE FUNCTION @extschema@.drop_secret(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_drop_secret'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.drop_secret(text) IS
'remove a secret no endpoint uses';

CREATE FUNCTION @extschema@.add_endpoint(dataset text, url text, options jsonb DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'dp_add_endpoint'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.add_endpoint(text, text, jsonb) IS
'register an HTTP endpoint the worker collects into a dataset (options: name, format (csv, json, ndjson, geojson, auto), schedule, headers, timeout_ms, connect_timeout_ms, max_bytes, csv, retries); returns its name';

CREATE FUNCTION @extschema@.alter_endpoint(name text, url text DEFAULT NULL, options jsonb DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_alter_endpoint'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.alter_endpoint(text, text, jsonb) IS
'change an endpoint''s URL and/or options (merged onto the stored ones; a key set to null takes its default), checked as add_endpoint checks them';

CREATE FUNCTION @extschema@.drop_endpoint(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_drop_endpoint'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.drop_endpoint(text) IS
'remove an endpoint and its job (its collection log and batches stay)';

CREATE FUNCTION @extschema@.collect(endpoint text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_collect'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.collect(text) IS
'queue a collection run of an endpoint now; returns the run id (see wait_for_run)';

REVOKE ALL ON FUNCTION @extschema@.set_secret(text, text, text[]), @extschema@.drop_secret(text),
	@extschema@.add_endpoint(text, text, jsonb), @extschema@.alter_endpoint(text, text, jsonb),
	@extschema@.drop_endpoint(text),
	@extschema@.collect(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.set_secret(text, text, text[]), @extschema@.drop_secret(text),
	@extschema@.add_endpoint(text, text, jsonb), @extschema@.alter_endpoint(text, text, jsonb),
	@extschema@.drop_endpoint(text),
	@extschema@.collect(text) TO dataplatform_admin;
