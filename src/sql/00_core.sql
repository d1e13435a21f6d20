-- dataplatform 0.1, part 00: roles, schemas, catalog, API functions of the
-- foundation, harmonisation and push.  The extension script is the parts in
-- src/sql/ concatenated in name order (see the Makefile).
--
-- Catalog DDL and function declarations only: every API function is
-- implemented in C (src/).  Functions that write are SECURITY DEFINER with
-- search_path pinned to pg_catalog, pg_temp; the C code checks the caller's
-- role (the current role as set by login or SET ROLE) before acting and
-- schema-qualifies every object it touches.

\echo Use "CREATE EXTENSION dataplatform" to load this file. \quit

-- Group roles.  Roles are cluster-wide, so they survive DROP EXTENSION and are
-- only created when missing.
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['dataplatform_admin', 'dataplatform_producer',
							 'dataplatform_consumer', 'dataplatform_consumer_pii',
							 'dataplatform_auditor']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END
$roles$;

CREATE SCHEMA dp_raw;
CREATE SCHEMA dp_clean;
CREATE SCHEMA dp_consumer;

COMMENT ON SCHEMA dp_raw IS 'dataplatform raw layer: every batch exactly as received (admins only)';
COMMENT ON SCHEMA dp_clean IS 'dataplatform clean layer: one typed table per dataset and its history (admins only)';
COMMENT ON SCHEMA dp_consumer IS 'dataplatform consumer layer: published tables for BI tools';

REVOKE ALL ON SCHEMA @extschema@, dp_raw, dp_clean, dp_consumer FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO dataplatform_admin, dataplatform_producer,
	dataplatform_consumer, dataplatform_auditor;
GRANT USAGE ON SCHEMA dp_raw, dp_clean TO dataplatform_admin;
GRANT USAGE ON SCHEMA dp_consumer TO dataplatform_admin, dataplatform_consumer;

------------------------------------------------------------------------------
-- Catalog tables (written only through the API functions)
------------------------------------------------------------------------------

CREATE TABLE @extschema@.products (
	name			text PRIMARY KEY,
	description		text,
	domain			text,
	owner			text,
	email			text,
	status			text NOT NULL DEFAULT 'draft'
					CHECK (status IN ('draft', 'published', 'retired')),
	retention_days	integer CHECK (retention_days >= 0),
	tags			text[] NOT NULL DEFAULT '{}',
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	licence			text,
	contact			text,
	update_frequency text,
	classification	text CHECK (classification IN ('public', 'internal', 'confidential', 'restricted'))
);
COMMENT ON TABLE @extschema@.products IS 'data products: named units owned by a producing team';

CREATE TABLE @extschema@.producer_grants (
	product		text NOT NULL REFERENCES @extschema@.products (name) ON UPDATE CASCADE,
	role_name	name NOT NULL,
	granted_by	name NOT NULL,
	granted_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (product, role_name)
);
COMMENT ON TABLE @extschema@.producer_grants IS 'which roles may push into which data product';

CREATE TABLE @extschema@.datasets (
	name			text PRIMARY KEY,
	product			text NOT NULL REFERENCES @extschema@.products (name),
	table_name		name NOT NULL UNIQUE,
	major			integer NOT NULL,
	minor			integer NOT NULL,
	spec			jsonb NOT NULL,
	config			jsonb,
	config_version	integer NOT NULL DEFAULT 0,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	late_since		timestamptz
);
COMMENT ON TABLE @extschema@.datasets IS 'datasets, their current specification and configuration';

CREATE TABLE @extschema@.spec_version (
	dataset		text NOT NULL REFERENCES @extschema@.datasets (name),
	major		integer NOT NULL,
	minor		integer NOT NULL,
	version		text GENERATED ALWAYS AS (major::text || '.' || minor::text) STORED,
	change		text NOT NULL CHECK (change IN ('initial', 'minor', 'breaking')),
	changes		jsonb NOT NULL DEFAULT '[]',
	spec		jsonb NOT NULL,
	defined_by	name NOT NULL,
	defined_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (dataset, major, minor)
);
COMMENT ON TABLE @extschema@.spec_version IS 'every version of every dataset specification, in full';

CREATE TABLE @extschema@.fields (
	dataset		text NOT NULL REFERENCES @extschema@.datasets (name),
	ordinal		integer NOT NULL,
	name		text NOT NULL,
	column_name	name NOT NULL,
	datatype	text NOT NULL,
	is_key		boolean NOT NULL,
	required	boolean NOT NULL,
	pii			boolean NOT NULL,
	description	text,
	options		jsonb NOT NULL DEFAULT '{}',
	PRIMARY KEY (dataset, name),
	UNIQUE (dataset, column_name)
);
COMMENT ON TABLE @extschema@.fields IS 'fields of the current specification of each dataset';

CREATE TABLE @extschema@.config_version (
	dataset		text NOT NULL REFERENCES @extschema@.datasets (name),
	version		integer NOT NULL,
	config		jsonb NOT NULL,
	defined_by	name NOT NULL,
	defined_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (dataset, version)
);
COMMENT ON TABLE @extschema@.config_version IS 'every version of every dataset configuration, in full';

-- The words of the catalog tables written on every push and refresh are
-- domains, not CHECK constraints of the tables: PostgreSQL prepares a
-- table's CHECK constraints again for every statement that writes it, and
-- a domain's once per session (by perf: about 8% of a 1-row push).
CREATE DOMAIN @extschema@.batch_kind AS text
	CONSTRAINT batch_kind_check CHECK (VALUE IN ('push', 'push_csv', 'snapshot', 'events'));
COMMENT ON DOMAIN @extschema@.batch_kind IS 'how a batch came: push, push_csv, snapshot or events';
CREATE DOMAIN @extschema@.batch_status AS text
	CONSTRAINT batch_status_check CHECK (VALUE IN ('queued', 'processing', 'done', 'failed'));
COMMENT ON DOMAIN @extschema@.batch_status IS 'where a batch stands: queued, processing, done or failed';

CREATE TABLE @extschema@.batch (
	id					bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	dataset				text NOT NULL REFERENCES @extschema@.datasets (name),
	kind				@extschema@.batch_kind NOT NULL,
	pushed_by			name NOT NULL,
	received_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	bytes				bigint NOT NULL,
	rows				bigint NOT NULL,
	sha256				text NOT NULL,
	status				@extschema@.batch_status NOT NULL,
	rows_loaded			bigint NOT NULL DEFAULT 0,
	rows_quarantined	bigint NOT NULL DEFAULT 0,
	rows_skipped		bigint NOT NULL DEFAULT 0,
	rows_filtered		bigint NOT NULL DEFAULT 0,
	issues_error		bigint NOT NULL DEFAULT 0,
	issues_warning		bigint NOT NULL DEFAULT 0,
	issues_info			bigint NOT NULL DEFAULT 0,
	elapsed_ms			numeric,
	spec_version		text,
	config_version		integer,
	column_mapping		jsonb,
	source				jsonb NOT NULL DEFAULT '{}',
	result				jsonb,
	processed_at		timestamptz,
	raw_purged_at		timestamptz,
	-- once done: rows = rows_loaded + rows_replaced + rows_quarantined +
	-- rows_skipped + rows_filtered + rows_orphaned (docs/push.md)
	rows_replaced		bigint NOT NULL DEFAULT 0,
	rows_orphaned		bigint NOT NULL DEFAULT 0
);
CREATE INDEX ON @extschema@.batch (dataset, id);
-- the batches waiting for asynchronous processing: every push asks whether
-- its dataset has one, so that question must not read the dataset's history
CREATE INDEX batch_pending ON @extschema@.batch (dataset, id) WHERE status IN ('queued', 'processing');
COMMENT ON TABLE @extschema@.batch IS 'the batch log: every push, what it held and what became of it';

-- issue, quarantine_row and dp_raw.chunk are large: their batch_id is not
-- a foreign key (a per-row trigger) but is guaranteed by the API, which
-- writes them only in the transaction that creates the batch.
CREATE TABLE @extschema@.issue (
	batch_id			bigint NOT NULL,
	row_number			bigint,
	line_number			bigint,
	field				text,
	issue_type			text NOT NULL,
	severity			text NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
	value				text,
	normalised_value	text,
	message				text
) PARTITION BY RANGE (batch_id);
-- each partition has its index on (batch_id, row_number) (partition_rule)
-- The DEFAULT partition holds the issues of a 0.1 database updated, or of a
-- 0.1 dump restored (COPY into the parent, before any partition is made);
-- writers keep it empty otherwise, making the partition of their batch id.
-- (Made as a table of its own and attached, as the 0.1 -> 0.2 update makes
-- it from 0.1's table: its columns and CHECK are its own as well.)
CREATE TABLE @extschema@.issue_default (
	batch_id			bigint NOT NULL,
	row_number			bigint,
	line_number			bigint,
	field				text,
	issue_type			text NOT NULL,
	severity			text NOT NULL CONSTRAINT issue_severity_check CHECK (severity IN ('error', 'warning', 'info')),
	value				text,
	normalised_value	text,
	message				text
);
CREATE INDEX ON @extschema@.issue_default (batch_id, row_number);
ALTER TABLE @extschema@.issue ATTACH PARTITION @extschema@.issue_default DEFAULT;
COMMENT ON TABLE @extschema@.issue_default IS 'the issues of a 0.1 database (updated or restored from a dump), before the issue log was partitioned; empty otherwise';
COMMENT ON TABLE @extschema@.issue IS 'the issue log: one finding about one value of one row of one batch; partitioned by batch-id range (dataplatform.partition_rule)';

CREATE TABLE @extschema@.quarantine_row (
	batch_id	bigint NOT NULL,
	row_number	bigint NOT NULL,
	line_number	bigint,
	PRIMARY KEY (batch_id, row_number)
);
COMMENT ON TABLE @extschema@.quarantine_row IS 'rows kept out of the clean layer because of their issues';

-- Raw rows are stored in runs: up to 1,000 consecutive rows of a batch
-- (ordinals first_ordinal .. first_ordinal + n - 1) in one heap row, whose
-- arrays TOAST compresses and stores out of line; a landing is a few
-- inserts per batch instead of one per row.  Readers use the view
-- dp_raw.rows (a row per element).
CREATE DOMAIN @extschema@.raw_run_length AS integer
	CONSTRAINT chunk_n_check CHECK (VALUE > 0 AND VALUE <= 1000);
COMMENT ON DOMAIN @extschema@.raw_run_length IS 'the number of raw rows in one of dp_raw.chunk''s runs: 1 to 1,000';
CREATE TABLE dp_raw.chunk (
	batch_id		bigint NOT NULL,
	first_ordinal	bigint NOT NULL,
	n				@extschema@.raw_run_length NOT NULL,
	line_numbers	bigint[] COMPRESSION lz4,
	data			jsonb[] COMPRESSION lz4,
	raw				text[] COMPRESSION lz4
) PARTITION BY RANGE (batch_id);
-- each partition has its primary key (batch_id, first_ordinal): indexes of
-- the parent would be made again by pg_dump's restore of the partitions
-- (the parent is the extension's, made by CREATE EXTENSION), see
-- partition_rule
COMMENT ON TABLE dp_raw.chunk IS 'the raw layer''s storage: runs of up to 1,000 consecutive rows of a batch (read them through dp_raw.rows); append-only; partitioned by batch-id range (dataplatform.partition_rule)';

CREATE FUNCTION @extschema@.raw_element(anyarray, integer) RETURNS anyelement
AS 'MODULE_PATHNAME', 'dp_raw_element' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.raw_element(anyarray, integer) IS
'element i (from 0) of one of dp_raw.chunk''s arrays, NULL past its end: the view dp_raw.rows uses it (a run is detoasted once for all its rows)';
REVOKE ALL ON FUNCTION @extschema@.raw_element(anyarray, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.raw_element(anyarray, integer) TO dataplatform_admin;

CREATE VIEW dp_raw.rows AS
SELECT c.batch_id, c.first_ordinal + g.i AS ordinal,
	   @extschema@.raw_element(c.line_numbers, g.i) AS line_number,
	   @extschema@.raw_element(c.data, g.i) AS data,
	   @extschema@.raw_element(c.raw, g.i) AS raw
  FROM dp_raw.chunk c
 CROSS JOIN LATERAL pg_catalog.generate_series(0, c.n - 1) AS g(i);
COMMENT ON VIEW dp_raw.rows IS 'every row of every batch exactly as received: a JSON object (push) or the record''s CSV text (push_csv); append-only';

CREATE FUNCTION @extschema@.raw_guard() RETURNS trigger
AS 'MODULE_PATHNAME', 'dp_raw_guard' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.raw_guard() IS
'trigger keeping dp_raw append-only: only dataplatform.purge_raw may delete';
CREATE TRIGGER raw_append_only BEFORE UPDATE OR DELETE ON dp_raw.chunk
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.raw_guard();
CREATE TRIGGER raw_no_truncate BEFORE TRUNCATE ON dp_raw.chunk
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.raw_guard();
-- the view: refused per statement (as the table was), the row trigger only
-- makes UPDATE and DELETE reach it
CREATE TRIGGER raw_append_only BEFORE UPDATE OR DELETE ON dp_raw.rows
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.raw_guard();
CREATE TRIGGER raw_append_only_row INSTEAD OF UPDATE OR DELETE ON dp_raw.rows
	FOR EACH ROW EXECUTE FUNCTION @extschema@.raw_guard();
CREATE FUNCTION @extschema@.raw_insert() RETURNS trigger
AS 'MODULE_PATHNAME', 'dp_raw_insert' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.raw_insert() IS
'trigger of the view dp_raw.rows: a row inserted into it (a restored 0.1 dump) is stored as a run of one';
CREATE TRIGGER raw_insert INSTEAD OF INSERT ON dp_raw.rows
	FOR EACH ROW EXECUTE FUNCTION @extschema@.raw_insert();

CREATE TABLE @extschema@.audit_log (
	id				bigint GENERATED ALWAYS AS IDENTITY,
	at				timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	role_name		name NOT NULL,
	session_role	name NOT NULL,
	client_addr		inet,
	action			text NOT NULL,
	object			text,
	detail			jsonb NOT NULL DEFAULT '{}',
	statement_id	text,
	-- reads: the top-level statement's query id (compute_query_id), by
	-- which repeated reads were grouped; NULL without one
	query_id		bigint
) PARTITION BY RANGE (at);
-- Partitioned by month of at (issue 13; partition_rule, part 66): each
-- partition has its primary key (id), a BRIN index on at (rows arrive in
-- time order, reads within a naptime of it) and the index of reads by
-- agreement; the parent has none (see partition_rule).  The worker makes
-- this month's partition and the next; a row with no partition of its
-- month (the worker off, a read shipped late) lands in the DEFAULT one,
-- so writing to the audit log never fails for lack of a partition.
COMMENT ON TABLE @extschema@.audit_log IS
'every API write and every read of a dp_consumer relation: who, from where, in which statement, and when; append-only; partitioned by month (dataplatform.partition_rule)';
-- (Made as a table and attached, as the 0.1 -> 0.2 update makes it from
-- 0.1's table, whose identity the parent's goes on from.)
CREATE TABLE @extschema@.audit_log_default (
	id				bigint NOT NULL,
	at				timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	role_name		name NOT NULL,
	session_role	name NOT NULL,
	client_addr		inet,
	action			text NOT NULL,
	object			text,
	detail			jsonb NOT NULL DEFAULT '{}',
	statement_id	text,
	query_id		bigint,
	CONSTRAINT audit_log_default_pkey PRIMARY KEY (id)
);
CREATE INDEX audit_log_default_at ON @extschema@.audit_log_default USING brin (at);
CREATE INDEX audit_log_default_agreements ON @extschema@.audit_log_default
	USING gin ((detail -> 'agreements') jsonb_path_ops) WHERE action = 'read';
ALTER TABLE @extschema@.audit_log ATTACH PARTITION @extschema@.audit_log_default DEFAULT;
COMMENT ON TABLE @extschema@.audit_log_default IS
'the audit rows of a 0.1 database, and those of a time no partition of the audit log covers (written while the worker was off, shipped late, restored)';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.products', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.producer_grants', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.datasets', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.spec_version', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fields', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log_default', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.config_version', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.batch', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.batch_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.issue', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.issue_default', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.quarantine_row', '');
SELECT pg_catalog.pg_extension_config_dump('dp_raw.chunk', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log_id_seq', '');

REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA @extschema@ TO dataplatform_admin;
REVOKE ALL ON dp_raw.chunk, dp_raw.rows FROM PUBLIC;
GRANT SELECT ON dp_raw.chunk, dp_raw.rows TO dataplatform_admin;
REVOKE SELECT ON @extschema@.audit_log, @extschema@.audit_log_default FROM dataplatform_admin;
GRANT SELECT ON @extschema@.audit_log, @extschema@.audit_log_default TO dataplatform_auditor;

------------------------------------------------------------------------------
-- Catalog views
------------------------------------------------------------------------------

CREATE VIEW @extschema@.product AS
SELECT p.name, p.description, p.domain, p.owner, p.email, p.status,
	   p.retention_days, p.tags,
	   COALESCE((SELECT pg_catalog.array_agg(g.role_name ORDER BY g.role_name)
				   FROM @extschema@.producer_grants g
				  WHERE g.product = p.name), '{}') AS producers,
	   (SELECT pg_catalog.count(*) FROM @extschema@.datasets d
		 WHERE d.product = p.name)::integer AS datasets,
	   p.created_at, p.updated_at, p.licence, p.contact, p.update_frequency,
	   p.classification
  FROM @extschema@.products p;
COMMENT ON VIEW @extschema@.product IS 'data products with their producers and dataset count';

CREATE VIEW @extschema@.dataset AS
SELECT d.name, d.product, d.major || '.' || d.minor AS version,
	   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(d.spec -> 'key')) AS key,
	   (SELECT pg_catalog.count(*) FROM @extschema@.fields f
		 WHERE f.dataset = d.name)::integer AS field_count,
	   'dp_clean.' || pg_catalog.quote_ident(d.table_name) AS clean_table,
	   d.spec ->> 'description' AS description,
	   d.created_at, d.updated_at
  FROM @extschema@.datasets d;
COMMENT ON VIEW @extschema@.dataset IS 'datasets with their current version, key and clean table';

CREATE VIEW @extschema@.field AS
SELECT f.dataset, f.ordinal, f.name, f.column_name AS "column", f.datatype,
	   f.is_key, f.required, f.pii, f.description, f.options
  FROM @extschema@.fields f;
COMMENT ON VIEW @extschema@.field IS 'fields of each dataset''s current specification';

GRANT SELECT ON @extschema@.product, @extschema@.dataset, @extschema@.field
	TO dataplatform_admin, dataplatform_producer;

CREATE VIEW @extschema@.quarantine AS
SELECT q.batch_id, b.dataset, q.row_number, q.line_number, r.data, r.raw,
	   (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'field', i.field, 'issue', i.issue_type, 'severity', i.severity,
				'value', i.value, 'message', i.message) ORDER BY i.field)
		  FROM @extschema@.issue i
		 WHERE i.batch_id = q.batch_id AND i.row_number = q.row_number) AS issues
  FROM @extschema@.quarantine_row q
  JOIN @extschema@.batch b ON b.id = q.batch_id
  -- the row's run of dp_raw.chunk through its primary key: runs hold at
  -- most 1,000 rows, so it starts within the 1,000 ordinals up to the
  -- row's (the view dp_raw.rows would read every run of the batch; not
  -- raw_rows, whose inlined body would be read with the rights of the
  -- view's reader, not of its owner)
  LEFT JOIN LATERAL (
	SELECT @extschema@.raw_element(c.data, (q.row_number - c.first_ordinal)::integer) AS data,
		   @extschema@.raw_element(c.raw, (q.row_number - c.first_ordinal)::integer) AS raw
	  FROM dp_raw.chunk c
	 WHERE c.batch_id = q.batch_id AND c.first_ordinal <= q.row_number
	   AND c.first_ordinal > q.row_number - 1000
	 ORDER BY c.first_ordinal DESC LIMIT 1) r ON true;
COMMENT ON VIEW @extschema@.quarantine IS 'quarantined rows as received, with their issues';

CREATE FUNCTION @extschema@.dataset_status()
RETURNS TABLE (dataset text, product text, version text, rows_in_clean bigint,
			   batches bigint, last_batch_at timestamptz, rows_quarantined bigint,
			   issues_error bigint, issues_warning bigint, issues_info bigint,
			   late boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d record;
BEGIN
	FOR d IN SELECT * FROM @extschema@.datasets ORDER BY name LOOP
		dataset := d.name;
		product := d.product;
		version := d.major || '.' || d.minor;
		EXECUTE format('SELECT count(*) FROM dp_clean.%I', d.table_name) INTO rows_in_clean;
		SELECT count(*), max(b.received_at), COALESCE(sum(b.rows_quarantined), 0),
			   COALESCE(sum(b.issues_error), 0), COALESCE(sum(b.issues_warning), 0),
			   COALESCE(sum(b.issues_info), 0)
		  INTO batches, last_batch_at, rows_quarantined, issues_error, issues_warning, issues_info
		  FROM @extschema@.batch b WHERE b.dataset = d.name;
		late := d.late_since IS NOT NULL;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.dataset_status() IS
'one row per dataset: rows in clean, batches, last batch, quarantined rows, issues by severity, late (see the view dataplatform.status)';

CREATE VIEW @extschema@.status AS SELECT * FROM @extschema@.dataset_status();
COMMENT ON VIEW @extschema@.status IS
'one row per dataset: rows in clean, batches, last batch, quarantined rows, issues by severity, late (no batch within the spec''s fresh_within)';

------------------------------------------------------------------------------
-- API: data products and grants
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.define_product(name text, meta jsonb DEFAULT '{}')
RETURNS @extschema@.product
AS 'MODULE_PATHNAME', 'dp_define_product'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.define_product(text, jsonb) IS
'create or update a data product; meta keys: description, domain, owner, email, status, retention_days, tags, licence, contact, update_frequency, classification';

CREATE FUNCTION @extschema@.grant_producer(product text, role name)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_grant_producer'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.grant_producer(text, name) IS
'allow a role to push into the datasets of a data product';

CREATE FUNCTION @extschema@.revoke_producer(product text, role name)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_revoke_producer'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.revoke_producer(text, name) IS
'withdraw a role''s right to push into a data product';

CREATE FUNCTION @extschema@.grant_consumer(role name, pii boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_grant_consumer'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.grant_consumer(name, boolean) IS
'allow a role to read every published view of every product: an active access agreement with purpose unrestricted and no end (prefer request_access); PII columns are masked unless pii is true';

CREATE FUNCTION @extschema@.revoke_consumer(role name)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_revoke_consumer'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.revoke_consumer(name) IS
'revoke a role''s unrestricted agreement (grant_consumer) and, unless other agreements of the role hold, its consumer membership';

------------------------------------------------------------------------------
-- API: specifications
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.define_dataset(spec jsonb, allow_breaking boolean DEFAULT false,
										   allow_unknown boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'dp_define_dataset'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.define_dataset(jsonb, boolean, boolean) IS
'define or change a dataset from its JSON specification; returns the new version; allow_unknown keeps unknown members as notes';

CREATE FUNCTION @extschema@.describe(dataset text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_describe'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.describe(text) IS
'the current specification of a dataset, with its version and clean table';

------------------------------------------------------------------------------
-- API: configuration, push, check, rebuild, raw retention
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.configure(dataset text, config jsonb)
RETURNS integer
AS 'MODULE_PATHNAME', 'dp_configure'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.configure(text, jsonb) IS
'validate and store a dataset''s configuration (column, skip, filter, concat, patch, lookup, default, strict); returns its version';

CREATE FUNCTION @extschema@.push(dataset text, rows jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_push'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.push(text, jsonb) IS
'push a JSON array of objects (or one object) into a dataset: raw, transform, clean; returns the batch id';

CREATE FUNCTION @extschema@.push_csv(dataset text, data text, options jsonb DEFAULT '{}')
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_push_csv'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.push_csv(text, text, jsonb) IS
'push CSV with a header line into a dataset (options: delimiter, quote); returns the batch id';

CREATE FUNCTION @extschema@.check(dataset text, rows jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_check'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.check(text, jsonb) IS
'dry run of push: the issues and normalised rows, nothing written';

CREATE FUNCTION @extschema@.check_csv(dataset text, data text, options jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_check_csv'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.check_csv(text, text, jsonb) IS
'dry run of push_csv: the issues and normalised rows, nothing written';

CREATE FUNCTION @extschema@.rebuild(dataset text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_rebuild'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.rebuild(text) IS
're-run every raw batch of a dataset through the current spec and configuration, rebuilding clean, history and issues atomically';

CREATE FUNCTION @extschema@.process_queued(dataset text DEFAULT NULL, max_batches integer DEFAULT 10)
RETURNS integer
AS 'MODULE_PATHNAME', 'dp_process_queued'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.process_queued(text, integer) IS
'transform queued batches of asynchronous datasets, oldest first (the background worker calls it); returns the batches processed';

CREATE FUNCTION @extschema@.rebuild_changed()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_rebuild_changed'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.rebuild_changed() IS
'rebuild the datasets whose spec or configuration changed since their batches were processed (the nightly batch run)';

CREATE FUNCTION @extschema@.purge_raw(dataset text, older_than interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_purge_raw'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.purge_raw(text, interval) IS
'delete the raw rows of a dataset''s batches received longer ago than older_than (recorded); returns the rows deleted';

------------------------------------------------------------------------------
-- Datatypes and issue types
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.normalise(datatype text, value text, options jsonb DEFAULT NULL,
									  OUT value text, OUT issue text)
AS 'MODULE_PATHNAME', 'dp_normalise'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalise(text, text, jsonb) IS
'normalise one value as a datatype: (normalised value, NULL) or (NULL, issue type); options: minimum, maximum, pattern, codelist';

CREATE FUNCTION @extschema@.issue_types(OUT name text, OUT severity text, OUT description text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'dp_issue_types'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.issue_types() IS
'the catalogue of issue types, from the C library (see the view dataplatform.issue_type)';

CREATE VIEW @extschema@.issue_type AS
SELECT name, severity, description FROM @extschema@.issue_types();
COMMENT ON VIEW @extschema@.issue_type IS
'every issue type the platform records about a value, with its severity: error (value dropped), warning (value changed or guessed), info';

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	@extschema@.define_product(text, jsonb),
	@extschema@.grant_producer(text, name),
	@extschema@.revoke_producer(text, name),
	@extschema@.grant_consumer(name, boolean),
	@extschema@.revoke_consumer(name),
	@extschema@.define_dataset(jsonb, boolean, boolean),
	@extschema@.describe(text),
	@extschema@.configure(text, jsonb),
	@extschema@.push(text, jsonb),
	@extschema@.push_csv(text, text, jsonb),
	@extschema@.check(text, jsonb),
	@extschema@.check_csv(text, text, jsonb),
	@extschema@.rebuild(text),
	@extschema@.purge_raw(text, interval),
	@extschema@.process_queued(text, integer),
	@extschema@.rebuild_changed(),
	@extschema@.dataset_status()
	TO dataplatform_admin;
GRANT EXECUTE ON FUNCTION
	@extschema@.push(text, jsonb),
	@extschema@.push_csv(text, text, jsonb),
	@extschema@.check(text, jsonb),
	@extschema@.check_csv(text, text, jsonb)
	TO dataplatform_producer;
GRANT SELECT ON @extschema@.quarantine, @extschema@.status TO dataplatform_admin;
GRANT EXECUTE ON FUNCTION @extschema@.describe(text) TO dataplatform_producer;
GRANT EXECUTE ON FUNCTION @extschema@.normalise(text, text, jsonb), @extschema@.issue_types()
	TO dataplatform_admin, dataplatform_producer, dataplatform_consumer, dataplatform_auditor;
GRANT SELECT ON @extschema@.issue_type
	TO dataplatform_admin, dataplatform_producer, dataplatform_consumer, dataplatform_auditor;
