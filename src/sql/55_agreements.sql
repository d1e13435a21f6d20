
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

-- reads naming an agreement are found without reading the whole trail:
-- every partition of audit_log has a GIN index of detail -> 'agreements'
-- (partition_rule, part 66; the DEFAULT partition's is made in part 00)

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
