-- ---------------------------------------------------------------------------
-- Freshness (issue 15): a dataset whose spec says "fresh_within" is late
-- when no batch arrived within it; the background worker marks it
-- (datasets.late_since, the status view's "late"), and the view
-- dataplatform.late lists the late ones.  src/catalog/freshness.c
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.check_freshness()
RETURNS integer
AS 'MODULE_PATHNAME', 'dp_check_freshness'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.check_freshness() IS
'mark datasets late whose last batch is older than their spec''s fresh_within, and clear the mark of the others (the background worker calls it); returns the datasets newly late';
REVOKE ALL ON FUNCTION @extschema@.check_freshness() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.check_freshness() TO dataplatform_admin;

-- The newest batch through the (dataset, id) index: a range and that
-- index's order, as freshness.c reads it (with "dataset = name ORDER BY id
-- DESC" the planner walks the batch log's primary key down from the newest
-- batch of any dataset: a late dataset's last batch is old).
CREATE VIEW @extschema@.late AS
SELECT d.name AS dataset, d.product, d.spec ->> 'fresh_within' AS fresh_within,
	   (SELECT b.received_at FROM @extschema@.batch b
		 WHERE b.dataset >= d.name AND b.dataset <= d.name
		 ORDER BY b.dataset DESC, b.id DESC LIMIT 1) AS last_batch_at,
	   d.late_since
  FROM @extschema@.datasets d
 WHERE d.late_since IS NOT NULL;
COMMENT ON VIEW @extschema@.late IS
'datasets late: no batch arrived within their spec''s fresh_within (late_since: when it was due)';
GRANT SELECT ON @extschema@.late TO dataplatform_admin;
