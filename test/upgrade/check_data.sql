-- test/upgrade/check_data.sql: after the update, every row the snapshot
-- (test/upgrade/snapshot.sql) took is still there, unchanged, in the table
-- of the same name; no sequence went back.  Rows added since (the audit
-- trail of the snapshot's own reads, the worker's bookkeeping) are allowed:
-- the check is "snapshot EXCEPT ALL live is empty", over the snapshot's
-- columns, each compared as text (so a type without equality compares too).
-- psql variable `allowed`: lines "schema.table" or "schema.table.column"
-- (test/upgrade/allowed_changes) the update may change or drop.  psql
-- variable `restored` (on/off): the database was restored from a dump, so
-- tables of the extension that pg_dump does not keep (not registered with
-- pg_extension_config_dump, such as the job run history) start empty.
-- Prints one line per problem; nothing when all is well.
\pset format unaligned
\pset tuples_only on
SELECT set_config('dp_upgrade.allowed', :'allowed', false) AS allowed_set \gset
CREATE TEMP TABLE problem (line text);
-- what pg_dump leaves out: member tables and sequences that are not config
-- tables, and the sequences of their identity and serial columns
CREATE TEMP TABLE not_dumped AS
WITH e AS (SELECT oid, extconfig FROM pg_extension WHERE extname = 'dataplatform'),
m AS (SELECT d.objid AS rel FROM pg_depend d, e
       WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid AND d.deptype = 'e'
         AND d.classid = 'pg_class'::regclass AND d.objid <> ALL (e.extconfig))
SELECT rel::regclass FROM m WHERE :'restored'::boolean
UNION
SELECT d.objid::regclass FROM pg_depend d JOIN m ON d.refobjid = m.rel
 WHERE :'restored'::boolean AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.deptype IN ('a', 'i') AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S';
DO $$
DECLARE
	s record;
	live regclass;
	cols text;
	missing text;
	n bigint;
	allowed text[] := coalesce(string_to_array(current_setting('dp_upgrade.allowed'), E'\n'), '{}');
BEGIN
	FOR s IN SELECT c.relname AS name FROM pg_class c
			  WHERE c.relnamespace = 'dp_upgrade_snapshot'::regnamespace AND c.relkind = 'r'
				AND c.relname NOT LIKE '@%' ORDER BY 1
	LOOP
		live := to_regclass(quote_ident(split_part(s.name, '.', 1)) || '.' || quote_ident(split_part(s.name, '.', 2)));
		IF live IN (SELECT rel FROM not_dumped) THEN
			CONTINUE;
		END IF;
		IF live IS NULL THEN
			IF NOT s.name = ANY (allowed) THEN
				INSERT INTO problem VALUES (format('table %s is gone', s.name));
			END IF;
			CONTINUE;
		END IF;
		SELECT string_agg(format('%I::text', a.attname), ', ' ORDER BY a.attnum)
				 FILTER (WHERE a.in_live AND NOT a.allowed),
			   string_agg(a.attname, ', ' ORDER BY a.attnum)
				 FILTER (WHERE NOT a.in_live AND NOT a.allowed)
		  INTO cols, missing
		  FROM (SELECT a.attnum, a.attname,
					   EXISTS (SELECT 1 FROM pg_attribute l WHERE l.attrelid = live
								AND l.attname = a.attname AND NOT l.attisdropped) AS in_live,
					   (s.name || '.' || a.attname) = ANY (allowed) AS allowed
				  FROM pg_attribute a
				 WHERE a.attrelid = format('dp_upgrade_snapshot.%I', s.name)::regclass
				   AND a.attnum > 0 AND NOT a.attisdropped) a;
		IF missing IS NOT NULL THEN
			INSERT INTO problem VALUES (format('%s lost column(s) %s', s.name, missing));
		END IF;
		IF s.name = ANY (allowed) OR cols IS NULL THEN
			CONTINUE;
		END IF;
		EXECUTE format('SELECT count(*) FROM (SELECT %s FROM dp_upgrade_snapshot.%I EXCEPT ALL SELECT %s FROM %s) x',
					   cols, s.name, cols, live) INTO n;
		IF n > 0 THEN
			INSERT INTO problem VALUES (format('%s: %s row(s) of the snapshot missing or changed', s.name, n));
		END IF;
	END LOOP;
	INSERT INTO problem
	SELECT format('sequence %I.%I went back from %s to %s', o.schemaname, o.sequencename, o.last_value, l.last_value)
	  FROM dp_upgrade_snapshot."@sequences" o
	  LEFT JOIN pg_sequences l USING (schemaname, sequencename)
	 WHERE o.last_value IS NOT NULL AND (l.last_value IS NULL OR l.last_value < o.last_value)
	   AND to_regclass(format('%I.%I', o.schemaname, o.sequencename)) NOT IN (SELECT rel FROM not_dumped);
	INSERT INTO problem
	SELECT 'as_of(''tenure-feed'', 2024-06-05) answers differently'
	 WHERE EXISTS (SELECT j FROM dp_upgrade_snapshot."@as_of"
				   EXCEPT ALL SELECT j FROM dataplatform.as_of('tenure-feed', '2024-06-05 00:00:00+00') j)
		OR EXISTS (SELECT j FROM dataplatform.as_of('tenure-feed', '2024-06-05 00:00:00+00') j
				   EXCEPT ALL SELECT j FROM dp_upgrade_snapshot."@as_of");
END
$$;
-- updated in place (not restored from a dump), the tables that grow with
-- every push and refresh keep their files: the update changes their
-- columns' types without rewriting them
INSERT INTO problem
SELECT format('%s was rewritten by the update (file %s, was %s)', f.rel,
			  pg_relation_filenode(f.rel::regclass), f.filenode)
  FROM dp_upgrade_snapshot."@files" f
 WHERE NOT :'restored'::boolean AND pg_relation_filenode(f.rel::regclass) IS DISTINCT FROM f.filenode;
SELECT line FROM problem ORDER BY line;
