-- dataplatform 0.1: catalog, roles and API functions.
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
							 'dataplatform_consumer', 'dataplatform_auditor']
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
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
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
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.datasets IS 'datasets and their current specification';

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

CREATE TABLE @extschema@.audit_log (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at				timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	role_name		name NOT NULL,
	session_role	name NOT NULL,
	client_addr		inet,
	action			text NOT NULL,
	object			text,
	detail			jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE @extschema@.audit_log IS 'every API write, who made it and when';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.products', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.producer_grants', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.datasets', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.spec_version', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.fields', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log_id_seq', '');

REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA @extschema@ TO dataplatform_admin;
REVOKE SELECT ON @extschema@.audit_log FROM dataplatform_admin;
GRANT SELECT ON @extschema@.audit_log TO dataplatform_auditor;

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
	   p.created_at, p.updated_at
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

------------------------------------------------------------------------------
-- API: data products and grants
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.define_product(name text, meta jsonb DEFAULT '{}')
RETURNS @extschema@.product
AS 'MODULE_PATHNAME', 'dp_define_product'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.define_product(text, jsonb) IS
'create or update a data product; meta keys: description, domain, owner, email, status, retention_days, tags';

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

CREATE FUNCTION @extschema@.grant_consumer(role name)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_grant_consumer'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.grant_consumer(name) IS
'allow a role to read the published tables in dp_consumer';

CREATE FUNCTION @extschema@.revoke_consumer(role name)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_revoke_consumer'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.revoke_consumer(name) IS
'withdraw a role''s read access to dp_consumer';

------------------------------------------------------------------------------
-- API: specifications
------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.define_dataset(spec jsonb, allow_breaking boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'dp_define_dataset'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.define_dataset(jsonb, boolean) IS
'define or change a dataset from its JSON specification; returns the new version';

CREATE FUNCTION @extschema@.describe(dataset text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_describe'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.describe(text) IS
'the current specification of a dataset, with its version and clean table';

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
	@extschema@.grant_consumer(name),
	@extschema@.revoke_consumer(name),
	@extschema@.define_dataset(jsonb, boolean),
	@extschema@.describe(text)
	TO dataplatform_admin;
GRANT EXECUTE ON FUNCTION @extschema@.describe(text) TO dataplatform_producer;
GRANT EXECUTE ON FUNCTION @extschema@.normalise(text, text, jsonb), @extschema@.issue_types()
	TO dataplatform_admin, dataplatform_producer, dataplatform_consumer, dataplatform_auditor;
GRANT SELECT ON @extschema@.issue_type
	TO dataplatform_admin, dataplatform_producer, dataplatform_consumer, dataplatform_auditor;
