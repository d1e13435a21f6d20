-- test/upgrade/snapshot.sql: before the update, copy every table of the
-- extension's schemas (its member schemas and its own schema; catalog,
-- raw, clean, consumer data) into schema dp_upgrade_snapshot, one table
-- named "schema.table" each, with the sequences' positions and the answer
-- of an as-of query.  test/upgrade/check_data.sql compares after the
-- update.  Plain SQL over the catalogs: it runs on every released version.
CREATE SCHEMA dp_upgrade_snapshot;
CREATE TABLE dp_upgrade_snapshot."@schemas" AS
SELECT n.nspname
  FROM pg_namespace n, pg_extension e
 WHERE e.extname = 'dataplatform'
   AND (n.oid = e.extnamespace
		OR EXISTS (SELECT 1 FROM pg_depend d
					WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
					  AND d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
					  AND d.deptype = 'e'));
DO $$
DECLARE
	r record;
BEGIN
	-- partitioned tables whole, through their parent
	FOR r IN SELECT c.oid::regclass AS rel, n.nspname, c.relname
			   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			  WHERE n.nspname IN (SELECT nspname FROM dp_upgrade_snapshot."@schemas")
				AND c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition
	LOOP
		EXECUTE format('CREATE TABLE dp_upgrade_snapshot.%I AS SELECT * FROM %s',
					   r.nspname || '.' || r.relname, r.rel);
	END LOOP;
END
$$;
-- the files of the catalog tables that grow with every push and refresh:
-- the update must not rewrite them (check_data.sql)
CREATE TABLE dp_upgrade_snapshot."@files" AS
SELECT c.oid::regclass::text AS rel, pg_relation_filenode(c.oid) AS filenode
  FROM pg_class c JOIN pg_extension e ON e.extnamespace = c.relnamespace
 WHERE e.extname = 'dataplatform' AND c.relname IN ('batch', 'refresh_log', 'consumer_view');
CREATE TABLE dp_upgrade_snapshot."@sequences" AS
SELECT schemaname, sequencename, last_value
  FROM pg_sequences
 WHERE schemaname IN (SELECT nspname FROM dp_upgrade_snapshot."@schemas");
-- the sample's tenure feed as it was on 2024-06-05 (samples/demo.sql)
CREATE TABLE dp_upgrade_snapshot."@as_of" AS
SELECT j FROM dataplatform.as_of('tenure-feed', '2024-06-05 00:00:00+00') j;
SELECT count(*) AS tables_in_snapshot FROM pg_tables WHERE schemaname = 'dp_upgrade_snapshot';
