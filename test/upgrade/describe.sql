-- test/upgrade/describe.sql: the extension's objects as sorted text lines,
-- one fact a line, for comparing an updated database with a fresh install
-- (test/upgrade/upgrade_test.sh).  Covers every member of the extension
-- (pg_depend deptype 'e') and what hangs off the member tables: definitions
-- (functions by pg_get_functiondef, views by pg_get_viewdef, columns,
-- constraints, indexes, triggers, policies, sequences, types), owners,
-- privileges (relation, column, function, schema, type ACLs and the
-- extension's initial privileges in pg_init_privs), comments, the config
-- tables registered for pg_dump with their conditions, the cluster-wide
-- roles the extension creates, and the extension's own row.
--
-- What it normalises, and why that is legitimate:
--   * no OIDs: objects by name (regclass, regprocedure, identity strings);
--   * columns by position among the live columns (a column dropped by an
--     upgrade leaves a gap in attnum that a fresh table has not);
--   * the items of an ACL sorted (an ACL is a set; the order is that of the
--     GRANTs that made it);
--   * config tables as a sorted set (extconfig's order is registration order).
\pset format unaligned
\pset tuples_only on
\pset footer off
WITH ext AS (
	SELECT oid, extnamespace FROM pg_extension WHERE extname = 'dataplatform'
), member AS (
	SELECT d.classid, d.objid
	  FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rel AS (
	SELECT c.* FROM pg_class c JOIN member m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
), fn AS (
	SELECT p.* FROM pg_proc p JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
), typ AS (
	SELECT t.* FROM pg_type t JOIN member m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
)
SELECT line FROM (
	-- the extension itself
	SELECT format('extension version %s, relocatable %s, schema %s', e.extversion, e.extrelocatable,
				  e.extnamespace::regnamespace) AS line
	  FROM pg_extension e WHERE e.extname = 'dataplatform'
	UNION ALL
	SELECT format('config table %s condition %L', cfg.rel::regclass, cfg.cond)
	  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS cfg(rel, cond)
	 WHERE e.extname = 'dataplatform'
	UNION ALL
	-- every member, by kind and name
	SELECT format('member %s %s', i.type, i.identity)
	  FROM member m, pg_identify_object(m.classid, m.objid, 0) i
	UNION ALL
	-- schemas
	SELECT format('schema %I owner %s acl %s', n.nspname, n.nspowner::regrole,
				  (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(n.nspacl) x))
	  FROM pg_namespace n JOIN member m ON m.classid = 'pg_namespace'::regclass AND m.objid = n.oid
	UNION ALL
	SELECT format('schema %I (extension schema) owner %s acl %s', n.nspname, n.nspowner::regrole,
				  (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(n.nspacl) x))
	  FROM pg_namespace n JOIN ext ON ext.extnamespace = n.oid
	UNION ALL
	-- relations
	SELECT format('relation %s kind %s persistence %s owner %s am %s options %s rls %s/%s replident %s acl %s partkey %s bound %s parents %s',
				  c.oid::regclass, c.relkind, c.relpersistence, c.relowner::regrole,
				  (SELECT amname FROM pg_am WHERE oid = c.relam), c.reloptions,
				  c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
				  (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(c.relacl) x),
				  CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
				  pg_get_expr(c.relpartbound, c.oid),
				  (SELECT string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno)
					 FROM pg_inherits i WHERE i.inhrelid = c.oid))
	  FROM rel c
	UNION ALL
	SELECT format('view %s: %s', c.oid::regclass, pg_get_viewdef(c.oid, true))
	  FROM rel c WHERE c.relkind IN ('v', 'm')
	UNION ALL
	SELECT format('column %s #%s %I %s notnull %s default %s identity %s generated %s collation %s storage %s acl %s',
				  c.oid::regclass,
				  row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
				  a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
				  pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
				  CASE WHEN a.attcollation <> 0 THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END,
				  a.attstorage,
				  (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(a.attacl) x))
	  FROM rel c
	  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
	UNION ALL
	SELECT format('constraint %s %I: %s deferrable %s/%s', c.oid::regclass, k.conname,
				  pg_get_constraintdef(k.oid), k.condeferrable, k.condeferred)
	  FROM rel c JOIN pg_constraint k ON k.conrelid = c.oid
	UNION ALL
	SELECT format('index %s: %s', c.oid::regclass, pg_get_indexdef(i.indexrelid))
	  FROM rel c JOIN pg_index i ON i.indrelid = c.oid
	UNION ALL
	SELECT format('trigger %s: %s enabled %s', c.oid::regclass, pg_get_triggerdef(t.oid), t.tgenabled)
	  FROM rel c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
	UNION ALL
	SELECT format('policy %s %I: %s %s roles %s using %s check %s', c.oid::regclass, p.polname,
				  p.polcmd, p.polpermissive, p.polroles::regrole[],
				  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
	  FROM rel c JOIN pg_policy p ON p.polrelid = c.oid
	UNION ALL
	SELECT format('rule %s %I: %s', c.oid::regclass, r.rulename, pg_get_ruledef(r.oid))
	  FROM rel c JOIN pg_rewrite r ON r.ev_class = c.oid AND r.rulename <> '_RETURN'
	UNION ALL
	SELECT format('sequence %s type %s start %s increment %s min %s max %s cache %s cycle %s owned by %s',
				  c.oid::regclass, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
				  s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
				  (SELECT d.refobjid::regclass || '.' || a.attname
					 FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
					WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
					  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
	  FROM rel c JOIN pg_sequence s ON s.seqrelid = c.oid
	UNION ALL
	-- functions: the whole definition (signature, defaults, return type,
	-- language, volatility, strictness, security, parallel, cost, SET, body)
	SELECT format('function %s owner %s acl %s: %s', p.oid::regprocedure, p.proowner::regrole,
				  (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(p.proacl) x),
				  CASE WHEN p.prokind IN ('f', 'p', 'w') THEN pg_get_functiondef(p.oid)
					   ELSE (SELECT format('aggregate %s/%s/%s/%s init %s', g.aggtransfn, g.aggfinalfn,
										   g.aggcombinefn, g.aggtranstype::regtype, g.agginitval)
							   FROM pg_aggregate g WHERE g.aggfnoid = p.oid) END)
	  FROM fn p
	UNION ALL
	-- types (composite types of tables and views come with their relation)
	SELECT format('type %s kind %s owner %s acl %s base %s default %s notnull %s labels %s attributes %s',
				  t.oid::regtype, t.typtype, t.typowner::regrole,
				  (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(t.typacl) x),
				  CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
				  t.typdefault, t.typnotnull,
				  (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
					 FROM pg_enum e WHERE e.enumtypid = t.oid),
				  (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
					 FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
	  FROM typ t
	UNION ALL
	SELECT format('domain constraint %s %I: %s', t.oid::regtype, k.conname, pg_get_constraintdef(k.oid))
	  FROM typ t JOIN pg_constraint k ON k.contypid = t.oid
	UNION ALL
	SELECT format('event trigger %I on %s tags %s enabled %s function %s', et.evtname, et.evtevent,
				  et.evttags, et.evtenabled, et.evtfoid::regprocedure)
	  FROM pg_event_trigger et JOIN member m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = et.oid
	UNION ALL
	-- comments on members and on the parts of member relations and types
	SELECT format('comment on %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
	  FROM pg_description d
	 WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM member)
		OR (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT i.indexrelid FROM pg_index i JOIN rel c ON i.indrelid = c.oid))
		OR (d.classoid = 'pg_constraint'::regclass AND d.objoid IN
			(SELECT k.oid FROM pg_constraint k WHERE k.conrelid IN (SELECT oid FROM rel) OR k.contypid IN (SELECT oid FROM typ)))
		OR (d.classoid = 'pg_trigger'::regclass AND d.objoid IN (SELECT t.oid FROM pg_trigger t JOIN rel c ON t.tgrelid = c.oid))
		OR (d.classoid = 'pg_policy'::regclass AND d.objoid IN (SELECT p.oid FROM pg_policy p JOIN rel c ON p.polrelid = c.oid))
	UNION ALL
	SELECT format('comment on schema %I (extension schema): %s', n.nspname, obj_description(n.oid, 'pg_namespace'))
	  FROM pg_namespace n JOIN ext ON ext.extnamespace = n.oid
	UNION ALL
	-- the privileges the extension's scripts gave (pg_dump dumps changes to them)
	SELECT format('initial privileges %s: %s', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
				  (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(ip.initprivs) x))
	  FROM pg_init_privs ip
	 WHERE ip.privtype = 'e'
	   AND ((ip.classoid, ip.objoid) IN (SELECT classid, objid FROM member)
			OR (ip.classoid = 'pg_namespace'::regclass AND ip.objoid = (SELECT extnamespace FROM ext)))
	UNION ALL
	SELECT format('default privileges for %s in %s on %s: %s', da.defaclrole::regrole,
				  coalesce(da.defaclnamespace::regnamespace::text, 'all schemas'), da.defaclobjtype,
				  (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(da.defaclacl) x))
	  FROM pg_default_acl da
	UNION ALL
	-- the group roles the extension creates (cluster-wide): attributes,
	-- memberships among them, comments
	SELECT format('role %I login %s super %s inherit %s createrole %s createdb %s replication %s bypassrls %s connlimit %s comment %s',
				  r.rolname, r.rolcanlogin, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb,
				  r.rolreplication, r.rolbypassrls, r.rolconnlimit, shobj_description(r.oid, 'pg_authid'))
	  FROM pg_roles r WHERE r.rolname LIKE 'dataplatform\_%'
	UNION ALL
	SELECT format('role %I member of %I admin %s', m.member::regrole, m.roleid::regrole, m.admin_option)
	  FROM pg_auth_members m
	 WHERE m.roleid::regrole::text LIKE 'dataplatform\_%' AND m.member::regrole::text LIKE 'dataplatform\_%'
) lines
ORDER BY line COLLATE "C";
