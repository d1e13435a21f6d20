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

-- Keep last: wake this database's worker at commit; it waits while the
-- database holds a version other than its library's, and resumes now.
SELECT @extschema@.worker_wake();
