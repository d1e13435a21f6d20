-- ---------------------------------------------------------------------------
-- Raw rows by ordinal (issue 11): raw_rows reads the rows of one batch
-- between two ordinals through dp_raw.chunk's primary key, only the runs
-- that hold them (00_core.sql makes dp_raw.chunk, its CHECK on a run's
-- size, and raw_element).
-- ---------------------------------------------------------------------------

-- Rows from_ordinal .. to_ordinal of one batch (NULL: from its first, to
-- its last), read through dp_raw.chunk's primary key: a run holds at most
-- 1,000 rows (its CHECK), so the runs holding them start within the 1,000
-- ordinals up to from_ordinal and at most at to_ordinal, and only their
-- ordinals are generated.  A filter on dp_raw.rows's ordinal cannot bound
-- the runs: it generates every row of the batch first.  Plain SQL, inlined
-- into the caller's query (so it runs with the caller's rights, and a
-- lateral call per row is still an index lookup).
CREATE FUNCTION @extschema@.raw_rows(batch_id bigint, from_ordinal bigint DEFAULT NULL, to_ordinal bigint DEFAULT NULL)
RETURNS TABLE (batch_id bigint, ordinal bigint, line_number bigint, data jsonb, raw text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT c.batch_id, c.first_ordinal + g.i,
	   @extschema@.raw_element(c.line_numbers, g.i::integer),
	   @extschema@.raw_element(c.data, g.i::integer),
	   @extschema@.raw_element(c.raw, g.i::integer)
  FROM dp_raw.chunk c
 CROSS JOIN LATERAL pg_catalog.generate_series(
		pg_catalog.int8larger(COALESCE($2, -9223372036854775808), c.first_ordinal) - c.first_ordinal,
		pg_catalog.int8smaller(COALESCE($3, 9223372036854775807), c.first_ordinal + c.n - 1) - c.first_ordinal) AS g(i)
 WHERE c.batch_id = $1
   AND c.first_ordinal > pg_catalog.int8larger(COALESCE($2, -9223372036854775808), -9223372036854774808) - 1000
   AND c.first_ordinal <= COALESCE($3, 9223372036854775807)
$$;
COMMENT ON FUNCTION @extschema@.raw_rows(bigint, bigint, bigint) IS
'rows from_ordinal .. to_ordinal of one batch of dp_raw.rows (NULL: from the first, to the last), reading only the runs that hold them';
REVOKE ALL ON FUNCTION @extschema@.raw_rows(bigint, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.raw_rows(bigint, bigint, bigint) TO dataplatform_admin;
