
-- ---------------------------------------------------------------------------
-- Dummy data for development and staging (src/generate.c)
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.generate(dataset text, n integer, seed integer DEFAULT 0)
RETURNS bigint
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dp_generate';
COMMENT ON FUNCTION @extschema@.generate(text, integer, integer) IS
'push n rows of realistic dummy data that satisfy the dataset''s spec (not in production); the same seed gives the same rows; returns the batch id';
REVOKE ALL ON FUNCTION @extschema@.generate(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.generate(text, integer, integer) TO dataplatform_admin;
