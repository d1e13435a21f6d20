
-- dataplatform 0.1, part 50: the audit trail's guard, consumer reads
-- (src/audit.c) and retention (src/retention.c).  The audit_log table
-- itself is in part 00.

CREATE FUNCTION @extschema@.audit_guard() RETURNS trigger
AS 'MODULE_PATHNAME', 'dp_audit_guard' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.audit_guard() IS
'trigger keeping dataplatform.audit_log append-only: only dataplatform.purge_audit may delete';
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON @extschema@.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_guard();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON @extschema@.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_guard();
-- a statement on a partition does not fire its parent's triggers: each
-- partition has them too (src/common/partition.c copies them)
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON @extschema@.audit_log_default
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_guard();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON @extschema@.audit_log_default
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_guard();

CREATE FUNCTION @extschema@.apply_retention()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'dp_apply_retention'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.apply_retention() IS
'purge, for every product with retention_days, raw rows, closed history versions, issues and quarantine marks older than the retention (recorded); never current state';

CREATE FUNCTION @extschema@.purge_audit(older_than interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_purge_audit'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.purge_audit(interval) IS
'remove audit rows older than older_than, whole months by dropping their partitions, the rest by deleting (auditors and superusers; the purge is recorded); returns the rows removed';

REVOKE ALL ON FUNCTION @extschema@.audit_guard(), @extschema@.apply_retention(),
	@extschema@.purge_audit(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.apply_retention() TO dataplatform_admin;
GRANT EXECUTE ON FUNCTION @extschema@.purge_audit(interval) TO dataplatform_auditor;
