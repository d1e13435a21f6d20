
-- dataplatform 0.2, part 65: beyond one server (docs/operations.md,
-- "Topologies").  Reads on a streaming standby are shipped by its worker
-- (src/access/audit_ship.c) to audit_receive on the primary; the published
-- views' tables are published for logical replication to a reporting server.

-- The role a standby's shipping connection logs in with (or is a member of).
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'dataplatform_audit_shipper') THEN
		CREATE ROLE dataplatform_audit_shipper NOLOGIN;
	END IF;
END
$roles$;
GRANT USAGE ON SCHEMA @extschema@ TO dataplatform_audit_shipper;

CREATE FUNCTION @extschema@.audit_receive(standby text, at timestamptz[], role_name text[],
	session_role text[], client_addr text[], object text[], detail text[],
	statement_id text[], query_id bigint[])
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH written AS (
		INSERT INTO @extschema@.audit_log (at, role_name, session_role, client_addr, action, object,
										   detail, statement_id, query_id)
		SELECT u.at, u.r::name, u.s::name, NULLIF(u.c, '')::inet, 'read', u.o,
			   u.d::jsonb || pg_catalog.jsonb_build_object('standby', $1, 'shipped_by', session_user::text),
			   u.st, NULLIF(u.q, 0)
		  FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),
						  pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7),
						  pg_catalog.unnest($8), pg_catalog.unnest($9)) AS u(at, r, s, c, o, d, st, q)
		RETURNING 1)
	SELECT pg_catalog.count(*) FROM written
$$;
COMMENT ON FUNCTION @extschema@.audit_receive(text, timestamptz[], text[], text[], text[], text[], text[], text[], bigint[]) IS
'append reads shipped by a standby''s worker to the audit log, each with the standby''s name in its detail (dataplatform_audit_shipper only); returns the entries written';
REVOKE ALL ON FUNCTION @extschema@.audit_receive(text, timestamptz[], text[], text[], text[], text[], text[], text[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.audit_receive(text, timestamptz[], text[], text[], text[], text[], text[], text[], bigint[])
	TO dataplatform_audit_shipper;

-- Publications of the consumer layer kept true by publish and unpublish.
CREATE TABLE @extschema@.consumer_replication (
	publication		name PRIMARY KEY,
	pii				boolean NOT NULL DEFAULT false,
	created_by		name NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.consumer_replication IS
'publications of the dp_consumer_data tables for logical replication (replicate_consumer), with whether PII columns are in them; publish and unpublish keep each one true';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.consumer_replication', '');
REVOKE ALL ON @extschema@.consumer_replication FROM PUBLIC;
GRANT SELECT ON @extschema@.consumer_replication TO dataplatform_admin;

-- The columns of a published view a publication carries: every column, or
-- all but those reading a PII field (whatever the transformation: an
-- aggregate of a PII field is left out too).
CREATE FUNCTION @extschema@.replication_columns(view text, pii boolean)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum)
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = pg_catalog.format('dp_consumer_data.%I', $1)::regclass
	   AND a.attnum > 0 AND NOT a.attisdropped
	   AND ($2 OR NOT EXISTS (SELECT 1 FROM @extschema@.view_column_lineage l
								JOIN @extschema@.fields f ON f.dataset = l.dataset AND f.name = l.field
							   WHERE l.view = $1 AND l.column_name = a.attname::text AND f.pii))
$$;
COMMENT ON FUNCTION @extschema@.replication_columns(text, boolean) IS
'the columns of a published view''s table a publication carries: all, or those reading no PII field (internal)';
REVOKE ALL ON FUNCTION @extschema@.replication_columns(text, boolean) FROM PUBLIC;

-- Make every publication in consumer_replication list exactly the tables of
-- the published views (and their columns), each with its key as replica
-- identity.  A view whose key reads a PII field is left out of a publication
-- without PII (the key must be replicated).  Called by publish, unpublish
-- and replicate_consumer; returns what it did per publication.
CREATE FUNCTION @extschema@.replication_sync()
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p record;
	v record;
	cols text[];
	tables text[];
	views jsonb;
	left_out jsonb;
	result jsonb := '{}';
BEGIN
	FOR p IN SELECT * FROM @extschema@.consumer_replication ORDER BY publication LOOP
		tables := '{}';
		views := '[]';
		left_out := '[]';
		FOR v IN SELECT c.name, c.key FROM @extschema@.consumer_view c
				  WHERE pg_catalog.to_regclass(pg_catalog.format('dp_consumer_data.%I', c.name)) IS NOT NULL
				  ORDER BY c.name LOOP
			cols := @extschema@.replication_columns(v.name, p.pii);
			IF NOT (v.key <@ cols) THEN
				left_out := left_out || pg_catalog.jsonb_build_object('view', v.name,
					'reason', 'its key reads a PII field');
				CONTINUE;
			END IF;
			EXECUTE pg_catalog.format('ALTER TABLE dp_consumer_data.%I REPLICA IDENTITY USING INDEX %I',
									  v.name, v.name || '_key');
			tables := tables || pg_catalog.format('dp_consumer_data.%I (%s)', v.name,
				(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ') FROM pg_catalog.unnest(cols) c));
			views := views || pg_catalog.to_jsonb(v.name);
		END LOOP;
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = p.publication) THEN
			EXECUTE pg_catalog.format('CREATE PUBLICATION %I', p.publication);
		END IF;
		IF pg_catalog.cardinality(tables) > 0 THEN
			EXECUTE pg_catalog.format('ALTER PUBLICATION %I SET TABLE %s', p.publication,
									  pg_catalog.array_to_string(tables, ', '));
		ELSE
			FOR v IN SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables
					  WHERE pubname = p.publication LOOP
				EXECUTE pg_catalog.format('ALTER PUBLICATION %I DROP TABLE %I.%I', p.publication,
										  v.schemaname, v.tablename);
			END LOOP;
		END IF;
		result := result || pg_catalog.jsonb_build_object(p.publication::text,
			pg_catalog.jsonb_build_object('pii', p.pii, 'views', views, 'left_out', left_out));
	END LOOP;
	RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.replication_sync() IS
'make every publication of the consumer layer list exactly the published views'' tables (internal: publish and unpublish call it)';
REVOKE ALL ON FUNCTION @extschema@.replication_sync() FROM PUBLIC;

-- The body of replicate_consumer (src/consumer/replicate.c checks the caller
-- and records the call).
CREATE FUNCTION @extschema@.replication_apply(publication name, options jsonb, caller name)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	pii boolean := false;
	drop_it boolean := false;
	result jsonb;
BEGIN
	IF publication IS NULL OR options IS NULL OR pg_catalog.jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'replicate_consumer needs a publication name and options as a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR k IN SELECT pg_catalog.jsonb_object_keys(options) LOOP
		IF k NOT IN ('pii', 'drop') OR pg_catalog.jsonb_typeof(options -> k) <> 'boolean' THEN
			RAISE EXCEPTION 'invalid option "%" for publication "%"', k, publication
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Options are pii (boolean: replicate PII columns) and drop (boolean: stop replicating).';
		END IF;
	END LOOP;
	pii := COALESCE((options ->> 'pii')::boolean, false);
	drop_it := COALESCE((options ->> 'drop')::boolean, false);
	IF NOT EXISTS (SELECT 1 FROM @extschema@.consumer_replication r WHERE r.publication = replication_apply.publication)
	   AND EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = publication) THEN
		RAISE EXCEPTION 'publication "%" already exists and is not the consumer layer''s', publication
			USING ERRCODE = 'duplicate_object', HINT = 'Choose another name.';
	END IF;
	IF drop_it THEN
		DELETE FROM @extschema@.consumer_replication r WHERE r.publication = replication_apply.publication;
		EXECUTE pg_catalog.format('DROP PUBLICATION IF EXISTS %I', publication);
		result := pg_catalog.jsonb_build_object('publication', publication, 'dropped', true);
	ELSE
		INSERT INTO @extschema@.consumer_replication AS r (publication, pii, created_by)
		VALUES (publication, pii, caller)
		ON CONFLICT ON CONSTRAINT consumer_replication_pkey DO UPDATE SET pii = EXCLUDED.pii;
		result := pg_catalog.jsonb_build_object('publication', publication)
			|| (@extschema@.replication_sync() -> publication::text);
	END IF;
	RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.replication_apply(name, jsonb, name) IS
'the body of replicate_consumer (internal)';
REVOKE ALL ON FUNCTION @extschema@.replication_apply(name, jsonb, name) FROM PUBLIC;

CREATE FUNCTION @extschema@.replicate_consumer(publication name, options jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_replicate_consumer'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.replicate_consumer(name, jsonb) IS
'publish the published views'' tables (dp_consumer_data) for logical replication under a publication, PII columns left out unless {"pii": true}; {"drop": true} stops it; publish and unpublish keep it true';
REVOKE ALL ON FUNCTION @extschema@.replicate_consumer(name, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.replicate_consumer(name, jsonb) TO dataplatform_admin;

-- The SQL a subscriber runs (again after each publish) to hold the tables a
-- publication carries and the views its readers query.
CREATE FUNCTION @extschema@.replication_subscriber_sql(publication name)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	out text := E'CREATE SCHEMA IF NOT EXISTS dp_consumer_data;\nCREATE SCHEMA IF NOT EXISTS dp_consumer;\n';
	pii boolean;
BEGIN
	SELECT r.pii INTO pii FROM @extschema@.consumer_replication r
	 WHERE r.publication = replication_subscriber_sql.publication;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'publication "%" is not a publication of the consumer layer', publication
			USING ERRCODE = 'undefined_object', HINT = 'Create it with dataplatform.replicate_consumer.';
	END IF;
	IF pii THEN
		-- the role the views show PII columns to, made when missing
		out := out || E'DO $dp$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ''dataplatform_consumer_pii'') THEN CREATE ROLE dataplatform_consumer_pii NOLOGIN; END IF; END$dp$;\n';
	END IF;
	FOR t IN SELECT p.tablename, p.attnames, c.key
			   FROM pg_catalog.pg_publication_tables p
			   JOIN @extschema@.consumer_view c ON c.name = p.tablename::text
			  WHERE p.pubname = publication AND p.schemaname = 'dp_consumer_data'
			  ORDER BY p.tablename LOOP
		out := out || pg_catalog.format(E'CREATE TABLE IF NOT EXISTS dp_consumer_data.%I (%s, PRIMARY KEY (%s));\n',
			t.tablename,
			(SELECT pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname,
						pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
			   FROM pg_catalog.pg_attribute a
			  WHERE a.attrelid = pg_catalog.format('dp_consumer_data.%I', t.tablename)::regclass
				AND a.attname = ANY (t.attnames)),
			(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(k), ', ') FROM pg_catalog.unnest(t.key) k));
		-- the view readers query: PII columns (only with pii) shown to members of
		-- dataplatform_consumer_pii, NULL to others
		out := out || pg_catalog.format(E'CREATE OR REPLACE VIEW dp_consumer.%I WITH (security_barrier) AS SELECT %s FROM dp_consumer_data.%I d;\n',
			t.tablename,
			(SELECT pg_catalog.string_agg(CASE WHEN pii AND EXISTS (
						SELECT 1 FROM @extschema@.view_column_lineage l
						  JOIN @extschema@.fields f ON f.dataset = l.dataset AND f.name = l.field
						 WHERE l.view = t.tablename::text AND l.column_name = c AND f.pii)
					THEN pg_catalog.format('CASE WHEN pg_catalog.pg_has_role(''dataplatform_consumer_pii'', ''MEMBER'') THEN d.%1$I END AS %1$I', c)
					ELSE pg_catalog.format('d.%I', c) END, ', ' ORDER BY o)
			   FROM pg_catalog.unnest(t.attnames) WITH ORDINALITY AS u(c, o)),
			t.tablename);
	END LOOP;
	RETURN out;
END
$$;
COMMENT ON FUNCTION @extschema@.replication_subscriber_sql(name) IS
'the SQL a subscriber of a consumer-layer publication runs (again after each publish): the schemas, the tables the publication carries, and the views readers query, PII columns NULL for non-members of dataplatform_consumer_pii';
REVOKE ALL ON FUNCTION @extschema@.replication_subscriber_sql(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.replication_subscriber_sql(name) TO dataplatform_admin;
