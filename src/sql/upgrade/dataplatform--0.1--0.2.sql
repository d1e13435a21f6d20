-- dataplatform 0.1 -> 0.2 (ALTER EXTENSION dataplatform UPDATE TO '0.2').
--
-- Takes a 0.1 database, with its data, to exactly what CREATE EXTENSION
-- creates at 0.2 (the parts in src/sql/).  test/upgrade/upgrade_test.sh
-- (make test) compares the two and fails on any difference: every change
-- of the schema in src/sql/ during 0.2 (a table, a column, an index, a
-- function or its signature, body or options, a grant, a comment, a config
-- table registered with pg_extension_config_dump) comes here too, written so
-- that it keeps the rows already there:
--
--   * new objects: the same CREATE as in src/sql/, with its COMMENT, GRANTs
--     and pg_extension_config_dump;
--   * new columns: ALTER TABLE ... ADD COLUMN, and in src/sql/ put the
--     column last in its CREATE TABLE (column order is compared);
--     backfill existing rows here when NOT NULL has no default;
--   * changed functions: CREATE OR REPLACE (same signature), or DROP
--     FUNCTION + CREATE when the signature or return type changes (then
--     redo its COMMENT and GRANTs);
--   * roles are cluster-wide: create new ones only when missing, as
--     src/sql/00_core.sql does.
--
-- Runs as the extension's script: @extschema@ is the extension schema,
-- MODULE_PATHNAME the library; no BEGIN/COMMIT.  Changes in the order made.

\echo Use "ALTER EXTENSION dataplatform UPDATE TO '0.2'" to load this file. \quit

-- batches waiting for asynchronous processing, found without reading a
-- dataset's whole batch history (issue 11)
CREATE INDEX batch_pending ON @extschema@.batch (dataset, id) WHERE status IN ('queued', 'processing');

-- 30_consumer.sql: one masking key.  In 0.1 a restored database held two
-- (CREATE EXTENSION's and the dumped one), and masked reads failed ("more
-- than one row returned by a subquery"): keep the one stored last, which is
-- the dumped key when pg_restore made the pair.
DELETE FROM dp_consumer_data.mask_key
 WHERE ctid <> (SELECT pg_catalog.max(ctid) FROM dp_consumer_data.mask_key);
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

-- access agreements (issue 20): grant_consumer and revoke_consumer work
-- through agreements (their comments), and part 55 whole.  Views published
-- under 0.1 keep their definition until published again (replace): reads
-- are checked against agreements, but a row scope cannot apply to them, so
-- reads under a row-scoped agreement are refused until then.
COMMENT ON FUNCTION @extschema@.grant_consumer(name, boolean) IS
'allow a role to read every published view of every product: an active access agreement with purpose unrestricted and no end (prefer request_access); PII columns are masked unless pii is true';
COMMENT ON FUNCTION @extschema@.revoke_consumer(name) IS
'revoke a role''s unrestricted agreement (grant_consumer) and, unless other agreements of the role hold, its consumer membership';

------------------------------------------------------------------------------
-- Part 55: access agreements (src/access/agreement.c, src/access/enforce.c).
-- A consumer reads a published view only under an active agreement: a role,
-- a product (or some of its views), a purpose, PII or masked, a row scope, a
-- validity window; requested by the reading role, approved by another admin.
------------------------------------------------------------------------------

CREATE TABLE @extschema@.agreement (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	role_name		name NOT NULL,
	product			text REFERENCES @extschema@.products (name) ON UPDATE CASCADE,
	views			text[],
	purpose			text NOT NULL CHECK (btrim(purpose) <> ''),
	legal_basis		text CHECK (legal_basis IN ('consent', 'contract', 'legal_obligation',
								'vital_interests', 'public_task', 'legitimate_interests')),
	pii				boolean NOT NULL DEFAULT false,
	row_scope		jsonb,
	valid_until		timestamptz,
	status			text NOT NULL DEFAULT 'requested'
					CHECK (status IN ('requested', 'active', 'rejected', 'revoked', 'expired')),
	canonical		text NOT NULL,
	sha256			text NOT NULL,
	requested_by	name NOT NULL,
	requested_at	timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	approved_by		name,
	approved_at		timestamptz,
	approval_note	text,
	closed_by		name,
	closed_at		timestamptz,
	close_reason	text,
	CHECK (product IS NOT NULL OR purpose = 'unrestricted'),
	CHECK (valid_until IS NOT NULL OR product IS NULL)
);
CREATE INDEX agreement_role ON @extschema@.agreement (role_name);
CREATE INDEX agreement_active_until ON @extschema@.agreement (valid_until) WHERE status = 'active';
COMMENT ON TABLE @extschema@.agreement IS
'access agreements (read them through dataplatform.access_agreement): role, product (NULL: every product, grant_consumer), views (NULL: all, also later ones), purpose, legal basis, pii, row scope, validity, status and who decided';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.agreement', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.agreement_id_seq', '');

-- reads naming an agreement, found without reading the whole trail
CREATE INDEX audit_log_agreements ON @extschema@.audit_log
	USING gin ((detail -> 'agreements') jsonb_path_ops) WHERE action = 'read';

-- every backend reloads its agreements (and which products each view
-- reads) once a change commits
CREATE FUNCTION @extschema@.agreement_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'dp_agreement_changed' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.agreement_changed() IS
'trigger: makes every session reload the access agreements it enforces';
CREATE TRIGGER agreement_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.agreement
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.agreement_changed();
CREATE TRIGGER agreement_changed AFTER INSERT OR DELETE OR UPDATE OF view, dataset
	ON @extschema@.consumer_source
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.agreement_changed();

CREATE VIEW @extschema@.access_agreement WITH (security_barrier) AS
SELECT a.id, a.role_name AS role, a.product, a.views, a.purpose, a.legal_basis, a.pii,
	   a.row_scope AS rows, a.approved_at AS valid_from, a.valid_until,
	   CASE WHEN a.status = 'active' AND a.valid_until <= pg_catalog.now() THEN 'expired'
			ELSE a.status END AS status,
	   a.requested_by, a.requested_at, a.approved_by, a.approved_at, a.approval_note,
	   a.closed_by, a.closed_at, a.close_reason, a.sha256, a.canonical,
	   u.last_read_at, COALESCE(u.reads, 0) AS reads
  FROM @extschema@.agreement a
  LEFT JOIN LATERAL (
		SELECT pg_catalog.max(l.at) AS last_read_at,
			   pg_catalog.sum(COALESCE((l.detail ->> 'reads')::bigint, 1))::bigint AS reads
		  FROM @extschema@.audit_log l
		 WHERE l.action = 'read' AND (l.detail -> 'agreements') @> pg_catalog.to_jsonb(a.id)) u ON true
 WHERE pg_catalog.pg_has_role('dataplatform_admin', 'USAGE')
	OR pg_catalog.pg_has_role('dataplatform_auditor', 'USAGE')
	OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
				WHERE r.rolname = a.role_name AND pg_catalog.pg_has_role(r.oid, 'USAGE'));
COMMENT ON VIEW @extschema@.access_agreement IS
'one row per access agreement: status (requested, active, rejected, revoked, expired), who requested and approved it and when, the SHA-256 of its canonical text, and from the audit trail its last read and number of reads; admins and auditors see all, a consumer its own';

CREATE FUNCTION @extschema@.request_access(product text, purpose text, valid_until timestamptz,
										   options jsonb DEFAULT '{}')
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_request_access'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.request_access(text, text, timestamptz, jsonb) IS
'ask, as the reading role in its own session, to read a data product for a purpose until valid_until; options: views, pii, rows, legal_basis, for_role; returns the agreement id, awaiting approval';

CREATE FUNCTION @extschema@.approve_access(id bigint, note text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_approve_access'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.approve_access(bigint, text) IS
'approve a requested access agreement (admins; not the requester''s own session role): it holds from now until it expires or is revoked';

CREATE FUNCTION @extschema@.reject_access(id bigint, reason text)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_reject_access'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.reject_access(bigint, text) IS
'reject a requested access agreement, with a reason (admins)';

CREATE FUNCTION @extschema@.revoke_access(id bigint, reason text)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_revoke_access'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.revoke_access(bigint, text) IS
'revoke an active access agreement, with a reason (admins): reads under it stop at the next statement';

CREATE FUNCTION @extschema@.access_review(unused interval DEFAULT '90 days')
RETURNS TABLE (id bigint, role name, product text, purpose text, valid_until timestamptz,
			   last_read_at timestamptz, reads bigint, findings text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	SELECT a.id, a.role, a.product, a.purpose, a.valid_until, a.last_read_at, a.reads, f.findings
	  FROM @extschema@.access_agreement a,
		   LATERAL (SELECT ARRAY(SELECT x FROM (VALUES
					(1, CASE WHEN a.purpose = 'unrestricted' AND a.product IS NULL THEN 'unrestricted' END),
					(2, CASE WHEN a.last_read_at IS NULL THEN 'never read' END),
					(3, CASE WHEN a.last_read_at < pg_catalog.now() - $1 THEN 'unused' END),
					(4, CASE WHEN a.valid_until < pg_catalog.now() + interval '30 days' THEN 'expiring' END))
					v(o, x) WHERE x IS NOT NULL ORDER BY o) AS findings) f
	 WHERE a.status = 'active' AND f.findings <> '{}'
	 ORDER BY a.valid_until NULLS LAST, a.id
$$;
COMMENT ON FUNCTION @extschema@.access_review(interval) IS
'active agreements to review: unrestricted ones (grant_consumer), those never read or not read within unused, those expiring within 30 days';

-- called by published views (as the reader): PII and row scope per agreement
CREATE FUNCTION @extschema@.sees_pii(view text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'dp_sees_pii_view'
LANGUAGE C STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.sees_pii(text) IS
'whether the caller sees real values of the PII columns of a published view: an admin, or agreements with pii for every product it reads';

CREATE FUNCTION @extschema@.in_scope(view text, r record)
RETURNS boolean
AS 'MODULE_PATHNAME', 'dp_in_scope'
LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.in_scope(text, record) IS
'whether a row of a published view is visible to the caller under the row scopes of its agreements';

REVOKE ALL ON @extschema@.agreement, @extschema@.access_agreement FROM PUBLIC;
GRANT SELECT ON @extschema@.agreement TO dataplatform_admin;
GRANT SELECT ON @extschema@.access_agreement
	TO dataplatform_admin, dataplatform_auditor, dataplatform_consumer;
REVOKE ALL ON FUNCTION
	@extschema@.agreement_changed(),
	@extschema@.request_access(text, text, timestamptz, jsonb),
	@extschema@.approve_access(bigint, text),
	@extschema@.reject_access(bigint, text),
	@extschema@.revoke_access(bigint, text),
	@extschema@.access_review(interval),
	@extschema@.sees_pii(text),
	@extschema@.in_scope(text, record)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.request_access(text, text, timestamptz, jsonb)
	TO dataplatform_consumer;
GRANT EXECUTE ON FUNCTION
	@extschema@.approve_access(bigint, text),
	@extschema@.reject_access(bigint, text),
	@extschema@.revoke_access(bigint, text)
	TO dataplatform_admin;
GRANT EXECUTE ON FUNCTION @extschema@.access_review(interval)
	TO dataplatform_admin, dataplatform_auditor;
GRANT EXECUTE ON FUNCTION @extschema@.sees_pii(text), @extschema@.in_scope(text, record)
	TO dataplatform_admin, dataplatform_consumer;

-- Consumers granted under 0.1 are members of the cluster-wide role
-- dataplatform_consumer; an access agreement belongs to one database, and a
-- membership alone may come from another database's agreement.  So no
-- agreement is made for them here: access fails closed after the update,
-- and an administrator grants it again (grant_consumer, or request_access
-- and approve_access).  The roles concerned are named.
DO $upgrade$
DECLARE
	roles text;
BEGIN
	SELECT pg_catalog.string_agg(r.rolname::text, ', ' ORDER BY r.rolname) INTO roles
	  FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.member
	 WHERE a.roleid = 'dataplatform_consumer'::pg_catalog.regrole;
	IF roles IS NOT NULL THEN
		RAISE NOTICE 'consumers of 0.1 read published views only under an access agreement from 0.2 on: %', roles
			USING HINT = 'Grant them again with dataplatform.grant_consumer, or have them request_access.';
	END IF;
END
$upgrade$;

-- reads grouped by query id (src/access/audit.c, issue 11): the id of the
-- grouped reads' statement, NULL for writes and for reads without one
ALTER TABLE @extschema@.audit_log ADD COLUMN query_id bigint;

-- Keep last: wake this database's worker at commit; it waits while the
-- database holds a version other than its library's, and resumes now.
SELECT @extschema@.worker_wake();
