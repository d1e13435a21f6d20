-- CREATE EXTENSION: schemas, group roles, privileges, catalog
\set VERBOSITY terse
CREATE EXTENSION dataplatform;

SELECT nspname FROM pg_namespace
 WHERE nspname IN ('dataplatform', 'dp_raw', 'dp_clean', 'dp_consumer') ORDER BY 1;

SELECT rolname, rolcanlogin FROM pg_roles
 WHERE rolname LIKE 'dataplatform\_%' ORDER BY 1;

-- nobody but admins can use dp_raw / dp_clean
SELECT r AS role, s AS schema, has_schema_privilege(r, s, 'USAGE') AS usage
  FROM unnest(ARRAY['dataplatform_admin', 'dataplatform_producer',
                    'dataplatform_consumer', 'dataplatform_auditor']) r,
       unnest(ARRAY['dp_raw', 'dp_clean', 'dp_consumer']) s
 ORDER BY 1, 2;

-- catalog tables are kept by pg_dump
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) cfg
  JOIN pg_class c ON c.oid = cfg
 WHERE e.extname = 'dataplatform' ORDER BY 1;

-- every API function that writes is SECURITY DEFINER with a pinned search_path; all have a
-- comment, and is not executable by PUBLIC
SELECT p.proname, p.prosecdef, p.proconfig,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS documented,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'dataplatform' ORDER BY 1;

-- a second CREATE EXTENSION in another database reuses the roles
CREATE DATABASE dp_regress_second;
\c dp_regress_second
CREATE EXTENSION dataplatform;
SELECT count(*) FROM pg_roles WHERE rolname LIKE 'dataplatform\_%';
\c contrib_regression
DROP DATABASE dp_regress_second;

-- error cases in the following tests go through dp_test.err(), which shows
-- each error's SQLSTATE, message, detail and hint
CREATE SCHEMA dp_test;
CREATE FUNCTION dp_test.err(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
	s text; m text; d text; h text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
		d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
	RETURN s || ' ' || m
		|| CASE WHEN d <> '' THEN E'\nDETAIL: ' || d ELSE '' END
		|| CASE WHEN h <> '' THEN E'\nHINT: ' || h ELSE '' END;
END
$f$;
GRANT USAGE ON SCHEMA dp_test TO PUBLIC;

-- roles used by the following tests
SET client_min_messages = warning;
DROP ROLE IF EXISTS dp_t_admin, dp_t_producer, dp_t_other, dp_t_plain, dp_t_reader;
RESET client_min_messages;
CREATE ROLE dp_t_admin LOGIN IN ROLE dataplatform_admin;
CREATE ROLE dp_t_producer LOGIN;
CREATE ROLE dp_t_other LOGIN;
CREATE ROLE dp_t_plain LOGIN;
CREATE ROLE dp_t_reader LOGIN;
