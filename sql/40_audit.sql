-- Audit trail: API writes and consumer reads with the right role (reads in
-- rolled-back and read-only transactions, COPY TO, cursors, prepared
-- statements, a view on top), the append-only guard, purge_audit and
-- retention.  Reads are written by the background worker, so the test waits
-- for them with a bounded poll.
\set VERBOSITY terse
SET client_min_messages = warning;

DROP ROLE IF EXISTS dp_t8_admin, dp_t8_reader, dp_t8_auditor, dp_t8_owner, dp_t8_plain;
CREATE ROLE dp_t8_admin LOGIN IN ROLE dataplatform_admin;
CREATE ROLE dp_t8_reader LOGIN;
CREATE ROLE dp_t8_auditor LOGIN IN ROLE dataplatform_auditor;
CREATE ROLE dp_t8_owner LOGIN;
CREATE ROLE dp_t8_plain LOGIN;

-- the read rows of this test (their statements carry a marker), once the
-- worker has written at least n of them; gives up after 30 s
CREATE FUNCTION dp_test.reads(marker text, n int) RETURNS TABLE (role_name name, object text,
	view_owner text, query text, has_statement_id boolean) LANGUAGE plpgsql AS $f$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT count(*) FROM dataplatform.audit_log a
					WHERE a.action = 'read' AND a.detail ->> 'query' LIKE '%' || marker || '%') >= n;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RETURN QUERY SELECT a.role_name, a.object, a.detail ->> 'view_owner',
		   substring(a.detail ->> 'query' FROM marker || ' ([a-z -]+)'),
		   a.statement_id ~ '^[0-9a-f]+\.[0-9a-f]+:[0-9]+$'
	  FROM dataplatform.audit_log a
	 WHERE a.action = 'read' AND a.detail ->> 'query' LIKE '%' || marker || '%'
	 ORDER BY a.at, a.id;
END
$f$;

-- a product with a retention, a dataset, a published view
SET ROLE dp_t8_admin;
SELECT (dataplatform.define_product('aud8', '{"retention_days": 30, "owner": "audit team"}')).retention_days;
SELECT dataplatform.define_dataset('{"dataset": "aud8-item", "product": "aud8", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "name", "datatype": "string"},
             {"name": "size", "datatype": "decimal"}]}');
SELECT dataplatform.push('aud8-item', '[{"id": 1, "name": "one", "size": "x"}, {"id": 2, "name": "two"}]') AS old_batch \gset
SELECT dataplatform.push('aud8-item', '[{"id": 1, "name": "uno", "size": "1"}]') > 0 AS pushed;
SELECT dataplatform.publish('aud8_items', 'aud8-item') ->> 'status' AS published;
SELECT dataplatform.grant_consumer('dp_t8_reader');
SELECT dataplatform.grant_consumer('dp_t8_owner');
RESET ROLE;

-- every API write is recorded with the caller, the session role and a statement id
SELECT role_name, session_role, action, object, statement_id IS NOT NULL AS has_statement_id
  FROM dataplatform.audit_log
 WHERE role_name = 'dp_t8_admin' ORDER BY id;

-- a view on top of the consumer view, owned by another consumer
CREATE SCHEMA dp_t8;
GRANT USAGE ON SCHEMA dp_t8 TO dp_t8_reader, dp_t8_owner;
GRANT CREATE ON SCHEMA dp_t8 TO dp_t8_owner;
SET ROLE dp_t8_owner;
CREATE VIEW dp_t8.items AS SELECT id, name FROM dp_consumer.aud8_items;
GRANT SELECT ON dp_t8.items TO dp_t8_reader;
RESET ROLE;

-- reads by a consumer, every way.  Without a query id (compute_query_id =
-- off) only a session's repeats of the same text share a row, so each of
-- these reads, whose texts differ, is a row of its own (with a query id,
-- the two count(*) reads below would be one statement: see t8q)
SET compute_query_id = off;
SET ROLE dp_t8_reader;
SELECT name FROM dp_consumer.aud8_items WHERE id = 1 /* t8 plain select */;
BEGIN;
SELECT count(*) FROM dp_consumer.aud8_items /* t8 rolled back */;
ROLLBACK;
BEGIN READ ONLY;
SELECT count(*) FROM dp_consumer.aud8_items /* t8 read only */;
COMMIT;
-- (published views are views: COPY takes a query; COPY view TO is refused by PostgreSQL)
COPY (SELECT id FROM dp_consumer.aud8_items ORDER BY id) TO STDOUT /* t8 copy query */;
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM dp_consumer.aud8_items ORDER BY id /* t8 cursor */;
FETCH 1 FROM c;
COMMIT;
PREPARE p(int) AS SELECT name FROM dp_consumer.aud8_items WHERE id = $1 /* t8 prepared */;
EXECUTE p(1) /* t8 prepared */;
EXECUTE p(2) /* t8 prepared */;
DEALLOCATE p;
SELECT name FROM dp_t8.items WHERE id = 2 /* t8 view on top */;
-- a refused read is no read
SELECT dp_test.err($$SELECT * FROM dataplatform.batch /* t8 refused */$$);
RESET ROLE;
-- a read that fails after the checks is still a read
SET ROLE dp_t8_reader;
SELECT dp_test.err($$SELECT 1 / (id - id) FROM dp_consumer.aud8_items /* t8 failed */$$);
RESET ROLE;

SELECT * FROM dp_test.reads('t8', 9);

-- the same read repeated by a session before the worker drains is one row
-- with a count (detail.reads): every read is counted
SET ROLE dp_t8_reader;
SELECT count(*) FROM dp_consumer.aud8_items /* t8r repeated */;
SELECT count(*) FROM dp_consumer.aud8_items /* t8r repeated */;
SELECT count(*) FROM dp_consumer.aud8_items /* t8r repeated */;
RESET ROLE;
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT sum(coalesce((detail ->> 'reads')::int, 1)) FROM dataplatform.audit_log
					WHERE action = 'read' AND detail ->> 'query' LIKE '%t8r repeated%') >= 3;
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
SELECT sum(coalesce((detail ->> 'reads')::int, 1)) AS reads, bool_and(role_name = 'dp_t8_reader') AS by_reader
  FROM dataplatform.audit_log WHERE action = 'read' AND detail ->> 'query' LIKE '%t8r repeated%';

-- export reads as the caller too, and is a recorded API call of its own
SET ROLE dp_t8_reader;
SELECT length(dataplatform.export('aud8_items')) > 0 AS exported /* t8x export */;
RESET ROLE;
SELECT role_name, object, query FROM dp_test.reads('t8x', 1);
SELECT role_name, action, object FROM dataplatform.audit_log WHERE action = 'export' AND role_name = 'dp_t8_reader';

-- audit_reads off (superusers only): nothing recorded
SET ROLE dp_t8_reader;
SELECT dp_test.err($$SET dataplatform.audit_reads = off$$);
RESET ROLE;
SET dataplatform.audit_reads = off;
SELECT count(*) FROM dp_consumer.aud8_items /* t8off not recorded */;
RESET dataplatform.audit_reads;
SELECT count(*) FROM dp_consumer.aud8_items /* t8on recorded */;
SELECT role_name, query FROM dp_test.reads('t8on', 1);
SELECT count(*) AS unrecorded FROM dataplatform.audit_log WHERE detail ->> 'query' LIKE '%t8off%';
-- none of them had a query id
SELECT count(*) AS reads_with_query_id FROM dataplatform.audit_log
 WHERE action = 'read' AND detail ->> 'query' ~ 't8[a-z]* ' AND query_id IS NOT NULL;
RESET compute_query_id;

-- the read rows of a marker, by role and statement (query id, or text
-- without one), once the worker has counted n reads; gives up after 30 s
CREATE FUNCTION dp_test.read_groups(marker text, n int) RETURNS TABLE (role_name name,
	query_id bigint, first_text text, reads bigint, rows bigint) LANGUAGE plpgsql AS $f$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN (SELECT sum(coalesce((a.detail ->> 'reads')::int, 1)) FROM dataplatform.audit_log a
					WHERE a.action = 'read' AND a.detail ->> 'query' LIKE '%' || marker || '%') >= n;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RETURN QUERY SELECT a.role_name, a.query_id,
		   (array_agg(substring(a.detail ->> 'query' FROM 'WHERE (.*) /\* ' || marker) ORDER BY a.at, a.id))[1],
		   sum(coalesce((a.detail ->> 'reads')::bigint, 1))::bigint, count(*)
	  FROM dataplatform.audit_log a
	 WHERE a.action = 'read' AND a.detail ->> 'query' LIKE '%' || marker || '%'
	 GROUP BY a.role_name, a.query_id, CASE WHEN a.query_id IS NULL THEN a.detail ->> 'query' END
	 ORDER BY 1, 3;
END
$f$;
-- the query id PostgreSQL computes for a statement (EXPLAIN VERBOSE shows it)
CREATE FUNCTION dp_test.query_id(q text) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (VERBOSE, FORMAT JSON) ' || q INTO plan;
	RETURN (plan -> 0 ->> 'Query Identifier')::bigint;
END
$f$;

-- with a query id (compute_query_id, on through the preloaded library),
-- reads of one statement with other literals, by one role, are one row:
-- the statement's query id, the first read's text, every read counted.  A
-- drain between two of the reads splits them in two rows (rows < reads
-- either way).  Another statement, or another role, is another row.
SET dataplatform.audit_reads = off;
SELECT dp_test.query_id($$SELECT name FROM dp_consumer.aud8_items WHERE id = 0$$) AS t8q_id \gset
RESET dataplatform.audit_reads;
SET ROLE dp_t8_reader;
SELECT name FROM dp_consumer.aud8_items WHERE id = 1 /* t8q grouped */;
SELECT name FROM dp_consumer.aud8_items WHERE id = 2 /* t8q grouped */;
SELECT name FROM dp_consumer.aud8_items WHERE id = 3 /* t8q grouped */;
SELECT name FROM dp_consumer.aud8_items WHERE id = 2 AND name <> 'x' /* t8q another statement */;
RESET ROLE;
SET ROLE dp_t8_owner;
SELECT name FROM dp_consumer.aud8_items WHERE id = 1 /* t8q another role */;
RESET ROLE;
SELECT role_name, query_id = :t8q_id AS explained_query_id, first_text, reads, rows < reads AS grouped
  FROM dp_test.read_groups('t8q', 5);

-- without a query id (compute_query_id = off) a session's reads are grouped
-- by their text, as before query ids: other literals, other rows
SET compute_query_id = off;
SET ROLE dp_t8_reader;
SELECT name FROM dp_consumer.aud8_items WHERE id = 1 /* t8n */;
SELECT name FROM dp_consumer.aud8_items WHERE id = 2 /* t8n */;
SELECT name FROM dp_consumer.aud8_items WHERE id = 2 /* t8n */;
RESET ROLE;
RESET compute_query_id;
SELECT role_name, query_id, first_text, reads FROM dp_test.read_groups('t8n', 3);

-- the audit log is append-only, for superusers too
SELECT dp_test.err($$UPDATE dataplatform.audit_log SET role_name = 'nobody'$$);
SELECT dp_test.err($$DELETE FROM dataplatform.audit_log$$);
SELECT dp_test.err($$TRUNCATE dataplatform.audit_log$$);
-- and only auditors read it
SET ROLE dp_t8_admin;
SELECT dp_test.err($$SELECT count(*) FROM dataplatform.audit_log$$);
RESET ROLE;

-- purge_audit: auditors (and superusers) only, a positive interval, recorded
INSERT INTO dataplatform.audit_log (at, role_name, session_role, action, object)
VALUES (now() - interval '3 years', 'dp_t8_plain', 'dp_t8_plain', 'test', 'old row');
SET ROLE dp_t8_admin;
SELECT dp_test.err($$SELECT dataplatform.purge_audit('1 year')$$);
RESET ROLE;
SET ROLE dp_t8_reader;
SELECT dp_test.err($$SELECT dataplatform.purge_audit('1 year')$$);
RESET ROLE;
SET ROLE dp_t8_auditor;
SELECT dp_test.err($$SELECT dataplatform.purge_audit(NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.purge_audit('-1 day')$$);
SELECT dp_test.err($$SELECT dataplatform.purge_audit('0')$$);
SELECT dataplatform.purge_audit('2 years') AS purged;
SELECT count(*) AS old_rows FROM dataplatform.audit_log WHERE object = 'old row';
SELECT role_name, action, detail FROM dataplatform.audit_log WHERE action = 'purge_audit' ORDER BY id;
RESET ROLE;

-- retention: the first batch is 60 days old, the product keeps 30 days
UPDATE dataplatform.batch SET received_at = now() - interval '60 days' WHERE id = :old_batch;
UPDATE dp_clean.aud8_item_history SET _valid_to = now() - interval '60 days';
SELECT count(*) AS raw_rows FROM dp_raw.rows WHERE batch_id = :old_batch;
SELECT count(*) AS issues FROM dataplatform.issue WHERE batch_id = :old_batch;
SELECT count(*) AS history_rows FROM dp_clean.aud8_item_history;
SET ROLE dp_t8_reader;
SELECT dp_test.err($$SELECT dataplatform.apply_retention()$$);
RESET ROLE;
SET ROLE dp_t8_auditor;
SELECT dp_test.err($$SELECT dataplatform.apply_retention()$$);
RESET ROLE;
SET ROLE dp_t8_admin;
SELECT d - 'cutoff' AS purged FROM jsonb_array_elements(dataplatform.apply_retention() -> 'datasets') d
 WHERE d ->> 'product' = 'aud8';
-- a second run finds nothing
SELECT d - 'cutoff' AS purged FROM jsonb_array_elements(dataplatform.apply_retention() -> 'datasets') d
 WHERE d ->> 'product' = 'aud8';
RESET ROLE;
SELECT count(*) AS raw_rows FROM dp_raw.rows WHERE batch_id = :old_batch;
SELECT count(*) AS issues FROM dataplatform.issue WHERE batch_id = :old_batch;
SELECT count(*) AS history_rows FROM dp_clean.aud8_item_history;
SELECT raw_purged_at IS NOT NULL AS raw_purged FROM dataplatform.batch WHERE id = :old_batch;
-- the current state is untouched, and so is the newer batch
SELECT id, name, size FROM dp_clean.aud8_item ORDER BY id;
SELECT count(*) AS newer_raw_rows FROM dp_raw.rows r JOIN dataplatform.batch b ON b.id = r.batch_id
 WHERE b.dataset = 'aud8-item' AND b.id <> :old_batch;
-- recorded
SELECT role_name, action, object, detail - 'cutoff' AS detail FROM dataplatform.audit_log
 WHERE action IN ('apply_retention', 'purge_raw') AND object = 'aud8-item' ORDER BY id;
-- a bad retention is refused
SELECT dp_test.err($$SELECT dataplatform.define_product('aud8', '{"retention_days": -1}')$$);

-- clean up
DROP SCHEMA dp_t8 CASCADE;
SELECT dataplatform.unpublish('aud8_items');
DROP ROLE dp_t8_admin, dp_t8_reader, dp_t8_auditor, dp_t8_owner, dp_t8_plain;
