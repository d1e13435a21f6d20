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
--     and pg_extension_config_dump; a whole part of src/sql/ new in this
--     release is not copied: a line "-- @part <file>" is replaced by that
--     file when the Makefile builds the installed script;
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

-- The words of the catalog tables written on every push and refresh become
-- domains instead of CHECK constraints of the tables (issue 11): PostgreSQL
-- prepares a table's CHECK constraints again for every statement that
-- writes it, a domain's once per session.  Same values allowed, same
-- constraint names but for the two status columns of refresh, which share
-- one domain.  The tables keep their files: a column moved to a domain
-- with a constraint would be rewritten (batch and refresh_log hold a row
-- per push and per refresh), so each domain is made bare, the columns
-- become of it (no rewrite, their indexes kept), and then the domain gains
-- its constraint, which checks the rows with a scan.
CREATE DOMAIN @extschema@.batch_kind AS text;
COMMENT ON DOMAIN @extschema@.batch_kind IS 'how a batch came: push, push_csv, snapshot or events';
CREATE DOMAIN @extschema@.batch_status AS text;
COMMENT ON DOMAIN @extschema@.batch_status IS 'where a batch stands: queued, processing, done or failed';
CREATE DOMAIN @extschema@.view_refresh AS text;
COMMENT ON DOMAIN @extschema@.view_refresh IS 'how a published view is refreshed when asked: incremental or full';
CREATE DOMAIN @extschema@.view_method AS text;
COMMENT ON DOMAIN @extschema@.view_method IS 'how a published view''s changes are found: keyed, aggregate or full';
CREATE DOMAIN @extschema@.refresh_status AS text;
COMMENT ON DOMAIN @extschema@.refresh_status IS 'how a refresh ended: ok, rejected (by an expectation) or failed';
CREATE DOMAIN @extschema@.refresh_mode AS text;
COMMENT ON DOMAIN @extschema@.refresh_mode IS 'what a refresh did: publish, incremental, full or none';
ALTER TABLE @extschema@.batch
	DROP CONSTRAINT batch_kind_check, DROP CONSTRAINT batch_status_check,
	ALTER COLUMN kind TYPE @extschema@.batch_kind, ALTER COLUMN status TYPE @extschema@.batch_status;
ALTER TABLE @extschema@.consumer_view
	DROP CONSTRAINT consumer_view_refresh_check, DROP CONSTRAINT consumer_view_method_check,
	DROP CONSTRAINT consumer_view_last_status_check,
	ALTER COLUMN refresh TYPE @extschema@.view_refresh, ALTER COLUMN method TYPE @extschema@.view_method,
	ALTER COLUMN last_status TYPE @extschema@.refresh_status;
ALTER TABLE @extschema@.refresh_log
	DROP CONSTRAINT refresh_log_mode_check, DROP CONSTRAINT refresh_log_status_check,
	ALTER COLUMN mode TYPE @extschema@.refresh_mode, ALTER COLUMN status TYPE @extschema@.refresh_status;
ALTER DOMAIN @extschema@.batch_kind
	ADD CONSTRAINT batch_kind_check CHECK (VALUE IN ('push', 'push_csv', 'snapshot', 'events'));
ALTER DOMAIN @extschema@.batch_status
	ADD CONSTRAINT batch_status_check CHECK (VALUE IN ('queued', 'processing', 'done', 'failed'));
ALTER DOMAIN @extschema@.view_refresh
	ADD CONSTRAINT consumer_view_refresh_check CHECK (VALUE IN ('incremental', 'full'));
ALTER DOMAIN @extschema@.view_method
	ADD CONSTRAINT consumer_view_method_check CHECK (VALUE IN ('keyed', 'aggregate', 'full'));
ALTER DOMAIN @extschema@.refresh_status
	ADD CONSTRAINT refresh_status_check CHECK (VALUE IN ('ok', 'rejected', 'failed'));
ALTER DOMAIN @extschema@.refresh_mode
	ADD CONSTRAINT refresh_log_mode_check CHECK (VALUE IN ('publish', 'incremental', 'full', 'none'));

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

-- access agreements (issue 20): grant_consumer and revoke_consumer work
-- through agreements (their comments), and part 55 whole.  Views published
-- under 0.1 keep their definition until published again (replace): reads
-- are checked against agreements, but a row scope cannot apply to them, so
-- reads under a row-scoped agreement are refused until then.
COMMENT ON FUNCTION @extschema@.grant_consumer(name, boolean) IS
'allow a role to read every published view of every product: an active access agreement with purpose unrestricted and no end (prefer request_access); PII columns are masked unless pii is true';
COMMENT ON FUNCTION @extschema@.revoke_consumer(name) IS
'revoke a role''s unrestricted agreement (grant_consumer) and, unless other agreements of the role hold, its consumer membership';

-- The audit log partitioned by month (issue 13, part 00; before part 55,
-- whose view reads the new table): 0.1's table, renamed, becomes the
-- DEFAULT partition; the parent's identity goes on from 0.1's sequence,
-- and 0.1's identity, no longer used, goes.  (query_id is added below,
-- to the parent and so to its partitions.)
ALTER TABLE @extschema@.audit_log RENAME TO audit_log_default;
ALTER INDEX @extschema@.audit_log_pkey RENAME TO audit_log_default_pkey;
ALTER INDEX @extschema@.audit_log_at RENAME TO audit_log_default_at;
ALTER SEQUENCE @extschema@.audit_log_id_seq RENAME TO audit_log_default_id_seq;
COMMENT ON TABLE @extschema@.audit_log_default IS
'the audit rows of a 0.1 database, and those of a time no partition of the audit log covers (written while the worker was off, shipped late, restored)';
CREATE INDEX audit_log_default_agreements ON @extschema@.audit_log_default
	USING gin ((detail -> 'agreements') jsonb_path_ops) WHERE action = 'read';
CREATE TABLE @extschema@.audit_log (
	id				bigint GENERATED ALWAYS AS IDENTITY,
	at				timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	role_name		name NOT NULL,
	session_role	name NOT NULL,
	client_addr		inet,
	action			text NOT NULL,
	object			text,
	detail			jsonb NOT NULL DEFAULT '{}',
	statement_id	text
) PARTITION BY RANGE (at);
COMMENT ON TABLE @extschema@.audit_log IS
'every API write and every read of a dp_consumer relation: who, from where, in which statement, and when; append-only; partitioned by month (dataplatform.partition_rule)';
SELECT pg_catalog.setval('@extschema@.audit_log_id_seq', s.last_value, s.is_called)
  FROM @extschema@.audit_log_default_id_seq s;
ALTER EXTENSION dataplatform DROP SEQUENCE @extschema@.audit_log_default_id_seq;
ALTER TABLE @extschema@.audit_log_default ALTER COLUMN id DROP IDENTITY;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.audit_log_id_seq', '');
REVOKE ALL ON @extschema@.audit_log FROM PUBLIC;
GRANT SELECT ON @extschema@.audit_log TO dataplatform_auditor;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON @extschema@.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_guard();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON @extschema@.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_guard();
ALTER TABLE @extschema@.audit_log ATTACH PARTITION @extschema@.audit_log_default DEFAULT;
COMMENT ON FUNCTION @extschema@.purge_audit(interval) IS
'remove audit rows older than older_than, whole months by dropping their partitions, the rest by deleting (auditors and superusers; the purge is recorded); returns the rows removed';

-- Part 55 whole (access agreements): new in 0.2, written once, in src/sql/;
-- the Makefile puts it here.
-- @part 55_agreements.sql

-- Consumers granted under 0.1 are members of the cluster-wide role
-- dataplatform_consumer; an access agreement belongs to one database, and a
-- membership alone may come from another database's agreement.  So no
-- agreement is made for them here: access fails closed after the update,
-- and an administrator grants it again (grant_consumer, or request_access
-- and approve_access).  The roles concerned are named.
DO $upgrade$
DECLARE
	roles text;
BEGIN
	SELECT pg_catalog.string_agg(r.rolname::text, ', ' ORDER BY r.rolname) INTO roles
	  FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.member
	 WHERE a.roleid = 'dataplatform_consumer'::pg_catalog.regrole;
	IF roles IS NOT NULL THEN
		RAISE NOTICE 'consumers of 0.1 read published views only under an access agreement from 0.2 on: %', roles
			USING HINT = 'Grant them again with dataplatform.grant_consumer, or have them request_access.';
	END IF;
END
$upgrade$;

-- reads grouped by query id (src/access/audit.c, issue 11): the id of the
-- grouped reads' statement, NULL for writes and for reads without one
ALTER TABLE @extschema@.audit_log ADD COLUMN query_id bigint;

-- Data contracts (issue 15): product metadata, the late mark of datasets
-- (status gains "late", so its function and view are made again), the
-- allow_unknown argument of define_dataset, and part 16 (freshness) whole.
ALTER TABLE @extschema@.products ADD COLUMN licence text;
ALTER TABLE @extschema@.products ADD COLUMN contact text;
ALTER TABLE @extschema@.products ADD COLUMN update_frequency text;
ALTER TABLE @extschema@.products ADD COLUMN classification text
	CHECK (classification IN ('public', 'internal', 'confidential', 'restricted'));
ALTER TABLE @extschema@.datasets ADD COLUMN late_since timestamptz;
CREATE OR REPLACE VIEW @extschema@.product AS
SELECT p.name, p.description, p.domain, p.owner, p.email, p.status,
	   p.retention_days, p.tags,
	   COALESCE((SELECT pg_catalog.array_agg(g.role_name ORDER BY g.role_name)
				   FROM @extschema@.producer_grants g
				  WHERE g.product = p.name), '{}') AS producers,
	   (SELECT pg_catalog.count(*) FROM @extschema@.datasets d
		 WHERE d.product = p.name)::integer AS datasets,
	   p.created_at, p.updated_at, p.licence, p.contact, p.update_frequency,
	   p.classification
  FROM @extschema@.products p;
COMMENT ON FUNCTION @extschema@.define_product(text, jsonb) IS
'create or update a data product; meta keys: description, domain, owner, email, status, retention_days, tags, licence, contact, update_frequency, classification';

DROP VIEW @extschema@.status;
DROP FUNCTION @extschema@.dataset_status();
CREATE FUNCTION @extschema@.dataset_status()
RETURNS TABLE (dataset text, product text, version text, rows_in_clean bigint,
			   batches bigint, last_batch_at timestamptz, rows_quarantined bigint,
			   issues_error bigint, issues_warning bigint, issues_info bigint,
			   late boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d record;
BEGIN
	FOR d IN SELECT * FROM @extschema@.datasets ORDER BY name LOOP
		dataset := d.name;
		product := d.product;
		version := d.major || '.' || d.minor;
		EXECUTE format('SELECT count(*) FROM dp_clean.%I', d.table_name) INTO rows_in_clean;
		SELECT count(*), max(b.received_at), COALESCE(sum(b.rows_quarantined), 0),
			   COALESCE(sum(b.issues_error), 0), COALESCE(sum(b.issues_warning), 0),
			   COALESCE(sum(b.issues_info), 0)
		  INTO batches, last_batch_at, rows_quarantined, issues_error, issues_warning, issues_info
		  FROM @extschema@.batch b WHERE b.dataset = d.name;
		late := d.late_since IS NOT NULL;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.dataset_status() IS
'one row per dataset: rows in clean, batches, last batch, quarantined rows, issues by severity, late (see the view dataplatform.status)';
CREATE VIEW @extschema@.status AS SELECT * FROM @extschema@.dataset_status();
COMMENT ON VIEW @extschema@.status IS
'one row per dataset: rows in clean, batches, last batch, quarantined rows, issues by severity, late (no batch within the spec''s fresh_within)';
REVOKE ALL ON FUNCTION @extschema@.dataset_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.dataset_status() TO dataplatform_admin;
GRANT SELECT ON @extschema@.status TO dataplatform_admin;

DROP FUNCTION @extschema@.define_dataset(jsonb, boolean);
CREATE FUNCTION @extschema@.define_dataset(spec jsonb, allow_breaking boolean DEFAULT false,
										   allow_unknown boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'dp_define_dataset'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.define_dataset(jsonb, boolean, boolean) IS
'define or change a dataset from its JSON specification; returns the new version; allow_unknown keeps unknown members as notes';
REVOKE ALL ON FUNCTION @extschema@.define_dataset(jsonb, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.define_dataset(jsonb, boolean, boolean) TO dataplatform_admin;

-- Part 16 whole (freshness): new in 0.2, written once, in src/sql/.
-- @part 16_freshness.sql

-- lineage (issue 16): the raw row behind each clean version (_row, last
-- column of every clean and history table; versions written before stay
-- without it: their trail names the batch, not the row; clean tables
-- restored from a 0.1 dump into 0.2 gain it at their next load, see
-- dp_clean_table_ensure_lineage), and part 60 whole
-- (column lineage, lineage(), catalogue()); the column lineage of the
-- views published before, from their stored definitions.
DO $upgrade$
DECLARE
	t name;
BEGIN
	FOR t IN SELECT d.table_name FROM @extschema@.datasets d ORDER BY d.name LOOP
		EXECUTE pg_catalog.format('ALTER TABLE dp_clean.%I ADD COLUMN _row bigint', t);
		EXECUTE pg_catalog.format('ALTER TABLE dp_clean.%I ADD COLUMN _row bigint', t || '_history');
	END LOOP;
END
$upgrade$;
-- @part 60_lineage.sql
CREATE FUNCTION @extschema@.view_lineage_backfill() RETURNS integer
AS 'MODULE_PATHNAME', 'dp_view_lineage_backfill' LANGUAGE C;
SELECT @extschema@.view_lineage_backfill();
DROP FUNCTION @extschema@.view_lineage_backfill();

-- batch counts that add up (issue 17, point 4): rows = rows_loaded +
-- rows_replaced + rows_quarantined + rows_skipped + rows_filtered +
-- rows_orphaned.  Under 0.1 the rest of a done batch's rows were the rows a
-- later row with the same key replaced (pushes, snapshots) or the orphaned
-- events (events): they are counted so.
ALTER TABLE @extschema@.batch ADD COLUMN rows_replaced bigint NOT NULL DEFAULT 0,
	ADD COLUMN rows_orphaned bigint NOT NULL DEFAULT 0;
UPDATE @extschema@.batch
   SET rows_replaced = CASE WHEN kind = 'events' THEN 0
					   ELSE GREATEST(rows - rows_loaded - rows_quarantined - rows_skipped - rows_filtered, 0) END,
	   rows_orphaned = CASE WHEN kind = 'events'
					   THEN GREATEST(rows - rows_loaded - rows_quarantined - rows_skipped - rows_filtered, 0) ELSE 0 END
 WHERE status = 'done';

-- History in apply order (issue 17, point 1): under 0.1 a version's times
-- were its batch's transaction start, taken before the dataset lock, so
-- under concurrent pushes a version could end before it began and as_of
-- could find two versions of a key.  From 0.2 on a version starts no
-- earlier than the one before it ended; the versions 0.1 wrote are put in
-- that order here (a version starts when the latest of the versions written
-- before it ended, if that is later; it ends no earlier than it starts; a
-- current row starts no earlier than its key's last version ended).  Rows
-- already in order are not touched.
DO $upgrade$
DECLARE
	d record;
	keys text;
	hist_key text;
	n bigint;
	total bigint := 0;
BEGIN
	FOR d IN SELECT name, table_name FROM @extschema@.datasets ORDER BY name LOOP
		SELECT pg_catalog.string_agg(pg_catalog.quote_ident(column_name), ', ' ORDER BY ordinal),
			   pg_catalog.string_agg(pg_catalog.format('c.%1$I IS NOT DISTINCT FROM e.%1$I', column_name), ' AND ' ORDER BY ordinal)
		  INTO keys, hist_key
		  FROM @extschema@.fields WHERE dataset = d.name AND is_key;
		IF keys IS NULL OR pg_catalog.to_regclass(pg_catalog.format('dp_clean.%I', d.table_name || '_history')) IS NULL THEN
			CONTINUE;
		END IF;
		EXECUTE pg_catalog.format(
			'WITH v AS (SELECT _history_id, max(GREATEST(_valid_from, _valid_to)) OVER (PARTITION BY %1$s '
			'ORDER BY _history_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end FROM dp_clean.%2$I) '
			'UPDATE dp_clean.%2$I h SET _valid_from = GREATEST(h._valid_from, v.prev_end), '
			'_valid_to = GREATEST(h._valid_to, h._valid_from, v.prev_end) FROM v '
			'WHERE v._history_id = h._history_id AND (v.prev_end > h._valid_from OR h._valid_to < h._valid_from)',
			keys, d.table_name || '_history');
		GET DIAGNOSTICS n = ROW_COUNT;
		total := total + n;
		EXECUTE pg_catalog.format(
			'UPDATE dp_clean.%1$I c SET _updated_at = e.ended FROM (SELECT %2$s, max(GREATEST(_valid_from, _valid_to)) AS ended '
			'FROM dp_clean.%3$I GROUP BY %2$s) e WHERE %4$s AND c._updated_at < e.ended',
			d.table_name, keys, d.table_name || '_history', hist_key);
		GET DIAGNOSTICS n = ROW_COUNT;
		total := total + n;
	END LOOP;
	IF total > 0 THEN
		RAISE NOTICE 'versions put in apply order (history and current rows): %', total;
	END IF;
END
$upgrade$;

-- rebuild replays snapshots and change events too (issue 17, point 6)
COMMENT ON FUNCTION @extschema@.rebuild_changed() IS
'rebuild the datasets whose spec or configuration changed since their batches were processed (the nightly batch run)';

-- OpenLineage run events (issue 16): part 65 whole, new in 0.2
-- @part 65_openlineage.sql

-- consumer_source.batch_stamp is now when the newest done batch up to the
-- view's watermark was processed (read through the batch index), no longer
-- the newest processed time of every batch up to it.  Restamped where the
-- old stamp still holds (no rebuild since the view's last refresh); a view
-- whose dataset was rebuilt since keeps its old stamp, so its next refresh
-- is still full.
UPDATE @extschema@.consumer_source s
   SET batch_stamp = (SELECT EXTRACT(epoch FROM b.processed_at)::text FROM @extschema@.batch b
                       WHERE b.dataset = s.dataset AND b.id <= s.last_batch AND b.status = 'done'
                       ORDER BY b.id DESC LIMIT 1)
 WHERE s.batch_stamp IS NOT DISTINCT FROM
       (SELECT EXTRACT(epoch FROM pg_catalog.max(b.processed_at))::text FROM @extschema@.batch b
         WHERE b.dataset = s.dataset AND b.id <= s.last_batch);

-- Append-only tables partitioned by batch-id range (issue 13, part 66):
-- 0.1's issue table, renamed, becomes the DEFAULT partition of the new one
-- (attached, not copied: below, once the view quarantine reads the new
-- table), which stays a member of the extension and a config table.
ALTER TABLE @extschema@.issue RENAME TO issue_default;
ALTER INDEX @extschema@.issue_batch_id_row_number_idx RENAME TO issue_default_batch_id_row_number_idx;
-- out of the way of the new table's CHECK name (chosen unique in the
-- schema), and back after it: ATTACH matches CHECK constraints by name
ALTER TABLE @extschema@.issue_default RENAME CONSTRAINT issue_severity_check TO issue_default_severity_check;
COMMENT ON TABLE @extschema@.issue_default IS 'the issues of a 0.1 database (updated or restored from a dump), before the issue log was partitioned; empty otherwise';
CREATE TABLE @extschema@.issue (
	batch_id			bigint NOT NULL,
	row_number			bigint,
	line_number			bigint,
	field				text,
	issue_type			text NOT NULL,
	severity			text NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
	value				text,
	normalised_value	text,
	message				text
) PARTITION BY RANGE (batch_id);
-- each partition has its index on (batch_id, row_number) (partition_rule)
COMMENT ON TABLE @extschema@.issue IS 'the issue log: one finding about one value of one row of one batch; partitioned by batch-id range (dataplatform.partition_rule)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.issue', '');
REVOKE ALL ON @extschema@.issue FROM PUBLIC;
GRANT SELECT ON @extschema@.issue TO dataplatform_admin;
ALTER TABLE @extschema@.issue_default RENAME CONSTRAINT issue_default_severity_check TO issue_severity_check;

-- Raw rows in runs (issue 11 point 3, issue 17 point 3): dp_raw.rows
-- becomes a view over dp_raw.chunk, with the same columns and rows.  The
-- rows of 0.1 are carried over as runs of consecutive ordinals (at most
-- 1,000 rows each) and the old table is dropped; dp_raw.chunk replaces it
-- as the config table pg_dump keeps.
ALTER TABLE dp_raw.rows RENAME TO rows_0_1;
DROP TRIGGER raw_append_only ON dp_raw.rows_0_1;
DROP TRIGGER raw_no_truncate ON dp_raw.rows_0_1;
CREATE DOMAIN @extschema@.raw_run_length AS integer
	CONSTRAINT chunk_n_check CHECK (VALUE > 0 AND VALUE <= 1000);
COMMENT ON DOMAIN @extschema@.raw_run_length IS 'the number of raw rows in one of dp_raw.chunk''s runs: 1 to 1,000';
CREATE TABLE dp_raw.chunk (
	batch_id		bigint NOT NULL,
	first_ordinal	bigint NOT NULL,
	n				@extschema@.raw_run_length NOT NULL,
	line_numbers	bigint[] COMPRESSION lz4,
	data			jsonb[] COMPRESSION lz4,
	raw				text[] COMPRESSION lz4
) PARTITION BY RANGE (batch_id);
-- each partition has its primary key (batch_id, first_ordinal): indexes of
-- the parent would be made again by pg_dump's restore of the partitions
-- (the parent is the extension's, made by CREATE EXTENSION), see
-- partition_rule
COMMENT ON TABLE dp_raw.chunk IS 'the raw layer''s storage: runs of up to 1,000 consecutive rows of a batch (read them through dp_raw.rows); append-only; partitioned by batch-id range (dataplatform.partition_rule)';
-- the rows of 0.1 land in one partition from MINVALUE up to the next
-- 100,000 past the last batch id handed out (issue 13, part 66), not a
-- member of the extension, with the guards every partition has
DO $chunk$
BEGIN
	IF EXISTS (SELECT 1 FROM dp_raw.rows_0_1) THEN
		EXECUTE pg_catalog.format('CREATE TABLE dp_raw.chunk_min PARTITION OF dp_raw.chunk FOR VALUES FROM (MINVALUE) TO (%s)',
			((SELECT s.last_value FROM @extschema@.batch_id_seq s) / 100000 + 1) * 100000);
		ALTER TABLE dp_raw.chunk_min ADD PRIMARY KEY (batch_id, first_ordinal);
		CREATE TRIGGER raw_append_only BEFORE UPDATE OR DELETE ON dp_raw.chunk_min
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.raw_guard();
		CREATE TRIGGER raw_no_truncate BEFORE TRUNCATE ON dp_raw.chunk_min
			FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.raw_guard();
		ALTER EXTENSION dataplatform DROP TABLE dp_raw.chunk_min;
	END IF;
END
$chunk$;
INSERT INTO dp_raw.chunk (batch_id, first_ordinal, n, line_numbers, data, raw)
SELECT r.batch_id, pg_catalog.min(r.ordinal), pg_catalog.count(*)::integer,
	   CASE WHEN pg_catalog.bool_or(r.line_number IS NOT NULL)
			THEN pg_catalog.array_agg(r.line_number ORDER BY r.ordinal) END,
	   CASE WHEN pg_catalog.bool_or(r.data IS NOT NULL)
			THEN pg_catalog.array_agg(r.data ORDER BY r.ordinal) END,
	   CASE WHEN pg_catalog.bool_or(r.raw IS NOT NULL)
			THEN pg_catalog.array_agg(r.raw ORDER BY r.ordinal) END
  FROM (SELECT o.*, o.ordinal - pg_catalog.row_number() OVER w AS island,
			   (pg_catalog.row_number() OVER w - 1) / 1000 AS part
		  FROM dp_raw.rows_0_1 o
		WINDOW w AS (PARTITION BY o.batch_id ORDER BY o.ordinal)) r
 GROUP BY r.batch_id, r.island, r.part;

CREATE FUNCTION @extschema@.raw_element(anyarray, integer) RETURNS anyelement
AS 'MODULE_PATHNAME', 'dp_raw_element' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.raw_element(anyarray, integer) IS
'element i (from 0) of one of dp_raw.chunk''s arrays, NULL past its end: the view dp_raw.rows uses it (a run is detoasted once for all its rows)';
REVOKE ALL ON FUNCTION @extschema@.raw_element(anyarray, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.raw_element(anyarray, integer) TO dataplatform_admin;
CREATE FUNCTION @extschema@.raw_insert() RETURNS trigger
AS 'MODULE_PATHNAME', 'dp_raw_insert' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.raw_insert() IS
'trigger of the view dp_raw.rows: a row inserted into it (a restored 0.1 dump) is stored as a run of one';
REVOKE ALL ON FUNCTION @extschema@.raw_insert() FROM PUBLIC;

CREATE VIEW dp_raw.rows AS
SELECT c.batch_id, c.first_ordinal + g.i AS ordinal,
	   @extschema@.raw_element(c.line_numbers, g.i) AS line_number,
	   @extschema@.raw_element(c.data, g.i) AS data,
	   @extschema@.raw_element(c.raw, g.i) AS raw
  FROM dp_raw.chunk c
 CROSS JOIN LATERAL pg_catalog.generate_series(0, c.n - 1) AS g(i);
COMMENT ON VIEW dp_raw.rows IS 'every row of every batch exactly as received: a JSON object (push) or the record''s CSV text (push_csv); append-only';
CREATE TRIGGER raw_append_only BEFORE UPDATE OR DELETE ON dp_raw.chunk
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.raw_guard();
CREATE TRIGGER raw_no_truncate BEFORE TRUNCATE ON dp_raw.chunk
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.raw_guard();
CREATE TRIGGER raw_append_only BEFORE UPDATE OR DELETE ON dp_raw.rows
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.raw_guard();
CREATE TRIGGER raw_append_only_row INSTEAD OF UPDATE OR DELETE ON dp_raw.rows
	FOR EACH ROW EXECUTE FUNCTION @extschema@.raw_guard();
CREATE TRIGGER raw_insert INSTEAD OF INSERT ON dp_raw.rows
	FOR EACH ROW EXECUTE FUNCTION @extschema@.raw_insert();
SELECT pg_catalog.pg_extension_config_dump('dp_raw.chunk', '');
REVOKE ALL ON dp_raw.chunk, dp_raw.rows FROM PUBLIC;
GRANT SELECT ON dp_raw.chunk, dp_raw.rows TO dataplatform_admin;
-- @part 05_raw_rows.sql
COMMENT ON FUNCTION @extschema@.raw_guard() IS
'trigger keeping dp_raw append-only: only dataplatform.purge_raw may delete';
CREATE OR REPLACE VIEW @extschema@.quarantine AS
SELECT q.batch_id, b.dataset, q.row_number, q.line_number, r.data, r.raw,
	   (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'field', i.field, 'issue', i.issue_type, 'severity', i.severity,
				'value', i.value, 'message', i.message) ORDER BY i.field)
		  FROM @extschema@.issue i
		 WHERE i.batch_id = q.batch_id AND i.row_number = q.row_number) AS issues
  FROM @extschema@.quarantine_row q
  JOIN @extschema@.batch b ON b.id = q.batch_id
  -- the row's run of dp_raw.chunk through its primary key: runs hold at
  -- most 1,000 rows, so it starts within the 1,000 ordinals up to the
  -- row's (the view dp_raw.rows would read every run of the batch)
  LEFT JOIN LATERAL (
	SELECT @extschema@.raw_element(c.data, (q.row_number - c.first_ordinal)::integer) AS data,
		   @extschema@.raw_element(c.raw, (q.row_number - c.first_ordinal)::integer) AS raw
	  FROM dp_raw.chunk c
	 WHERE c.batch_id = q.batch_id AND c.first_ordinal <= q.row_number
	   AND c.first_ordinal > q.row_number - 1000
	 ORDER BY c.first_ordinal DESC LIMIT 1) r ON true;
-- out of the extension first: that also takes it off pg_dump's config
-- tables (a plain DROP TABLE would leave its OID there)
ALTER EXTENSION dataplatform DROP TABLE dp_raw.rows_0_1;
DROP TABLE dp_raw.rows_0_1;
-- 0.1's issues (issue 13, above): the DEFAULT partition, now that the
-- view quarantine reads the new table
ALTER TABLE @extschema@.issue ATTACH PARTITION @extschema@.issue_default DEFAULT;

-- spatial data (issue 12): collection endpoints of format geojson, and
-- part 60 whole (push_geojson)
ALTER TABLE @extschema@.endpoint DROP CONSTRAINT endpoint_format_check;
ALTER TABLE @extschema@.endpoint ADD CONSTRAINT endpoint_format_check
	CHECK (format IN ('csv', 'json', 'ndjson', 'geojson', 'auto'));
COMMENT ON FUNCTION @extschema@.add_endpoint(text, text, jsonb) IS
'register an HTTP endpoint the worker collects into a dataset (options: name, format (csv, json, ndjson, geojson, auto), schedule, headers, timeout_ms, connect_timeout_ms, max_bytes, csv, retries); returns its name';
-- @part 60_spatial.sql

-- collection security (issue 17): secrets tied to the origins they may be
-- sent to
ALTER TABLE @extschema@.secret ADD COLUMN origins text[];
COMMENT ON COLUMN @extschema@.secret.origins IS
'the origins (scheme://host:port) the secret may be sent to; NULL: the origin of any endpoint using it';
DROP FUNCTION @extschema@.set_secret(text, text);
CREATE FUNCTION @extschema@.set_secret(name text, value text, origins text[] DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_set_secret'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.set_secret(text, text, text[]) IS
'store (or replace) a secret for endpoint headers, optionally with the origins (scheme://host[:port]) it may be sent to; nobody can read it back';
REVOKE ALL ON FUNCTION @extschema@.set_secret(text, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.set_secret(text, text, text[]) TO dataplatform_admin;

-- the scheduler (issue 17): time zones, jobs run after another job, an
-- endpoint changed in place, the logs of collection and refresh pruned by
-- time
ALTER TABLE @extschema@.job ALTER COLUMN schedule DROP NOT NULL;
ALTER TABLE @extschema@.job ADD COLUMN timezone text, ADD COLUMN after_job text,
	ADD CHECK (schedule IS NOT NULL OR after_job IS NOT NULL);
COMMENT ON COLUMN @extschema@.job.timezone IS
'the time zone of the cron schedule (NULL: UTC)';
COMMENT ON COLUMN @extschema@.job.after_job IS
'the job whose every successful run queues a run of this one (NULL: none)';
ALTER TABLE @extschema@.job_run DROP CONSTRAINT job_run_trigger_check,
	ADD CONSTRAINT job_run_trigger_check CHECK (trigger IN ('schedule', 'manual', 'retry', 'after'));
CREATE INDEX collection_log_started ON @extschema@.collection_log (started_at);
CREATE INDEX refresh_log_at ON @extschema@.refresh_log (at);

CREATE FUNCTION @extschema@.next_run(schedule text, after timestamptz, timezone text)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'dp_next_run'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.next_run(text, timestamptz, text) IS
'the first time after a given time at which a schedule fires, cron in the wall-clock time of a time zone (NULL: UTC)';
REVOKE ALL ON FUNCTION @extschema@.next_run(text, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.next_run(text, timestamptz, text)
	TO dataplatform_admin, dataplatform_producer, dataplatform_consumer, dataplatform_auditor;

DROP FUNCTION @extschema@.schedule(text, text, text);
CREATE FUNCTION @extschema@.schedule(name text, schedule text, command text,
	timezone text DEFAULT NULL, after text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'dp_schedule'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.schedule(text, text, text, text, text) IS
'schedule SQL to be run by the background worker as the caller, on a schedule (cron in timezone, default UTC) and/or after another job succeeds; returns the job id';
REVOKE ALL ON FUNCTION @extschema@.schedule(text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.schedule(text, text, text, text, text) TO dataplatform_admin;

DROP FUNCTION @extschema@.alter_job(text, text, text, boolean, interval, integer, interval);
CREATE FUNCTION @extschema@.alter_job(name text, schedule text DEFAULT NULL,
	command text DEFAULT NULL, active boolean DEFAULT NULL, timeout interval DEFAULT NULL,
	retries integer DEFAULT NULL, retry_delay interval DEFAULT NULL,
	timezone text DEFAULT NULL, after text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_alter_job'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.alter_job(text, text, text, boolean, interval, integer, interval, text, text) IS
'change a job''s schedule, command, active flag, timeout (0: the default), retries, retry delay, time zone (: UTC) or the job it runs after (: none); NULL keeps a value';
REVOKE ALL ON FUNCTION @extschema@.alter_job(text, text, text, boolean, interval, integer, interval, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.alter_job(text, text, text, boolean, interval, integer, interval, text, text)
	TO dataplatform_admin;

CREATE FUNCTION @extschema@.alter_endpoint(name text, url text DEFAULT NULL, options jsonb DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'dp_alter_endpoint'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.alter_endpoint(text, text, jsonb) IS
'change an endpoint''s URL and/or options (merged onto the stored ones; a key set to null takes its default), checked as add_endpoint checks them';
REVOKE ALL ON FUNCTION @extschema@.alter_endpoint(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.alter_endpoint(text, text, jsonb) TO dataplatform_admin;

-- data contracts in and out (issue 15)
-- @part 62_contracts.sql

-- read replicas and the reporting server (part 65)
-- @part 65_replicas.sql

-- The event log partitioned by batch-id range (issue 13, part 20): 0.1's
-- table, renamed, becomes the DEFAULT partition of the new one, keeping
-- its unique index of processed ids (apply_events reads it while the
-- partition holds rows); new processed ids go to event_processed.
ALTER TABLE @extschema@.event RENAME TO event_default;
ALTER INDEX @extschema@.event_batch RENAME TO event_default_batch;
ALTER INDEX @extschema@.event_processed RENAME TO event_default_processed;
ALTER TABLE @extschema@.event_default RENAME CONSTRAINT event_outcome_check TO event_default_outcome_check;
COMMENT ON TABLE @extschema@.event_default IS 'the event log of a 0.1 database (updated or restored from a dump), before the event log was partitioned; empty otherwise';
CREATE TABLE @extschema@.event (
	dataset		text NOT NULL,
	batch_id	bigint NOT NULL,
	ordinal		integer NOT NULL,
	event_id	text,
	entity_id	text,
	event_type	text,
	event_time	text,
	order_key	text,
	outcome		text NOT NULL CHECK (outcome IN ('inserted', 'applied', 'deleted', 'duplicate',
											  'stale', 'orphan', 'rejected')),
	detail		text
) PARTITION BY RANGE (batch_id);
COMMENT ON TABLE @extschema@.event IS 'every change event received, with its outcome (the event log); partitioned by batch-id range (dataplatform.partition_rule)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event', '');
REVOKE ALL ON @extschema@.event FROM PUBLIC;
GRANT SELECT ON @extschema@.event TO dataplatform_admin;
ALTER TABLE @extschema@.event_default RENAME CONSTRAINT event_default_outcome_check TO event_outcome_check;
ALTER TABLE @extschema@.event ATTACH PARTITION @extschema@.event_default DEFAULT;
CREATE TABLE @extschema@.event_processed (
	dataset		text NOT NULL,
	event_id	text NOT NULL,
	PRIMARY KEY (dataset, event_id)
);
COMMENT ON TABLE @extschema@.event_processed IS 'the event ids processed per dataset (the idempotency log; not partitioned: it outlives the event log''s partitions)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_processed', '');
REVOKE ALL ON @extschema@.event_processed FROM PUBLIC;
GRANT SELECT ON @extschema@.event_processed TO dataplatform_admin;

-- append-only tables partitioned by batch-id range (issue 13): part 66 whole
-- @part 66_partitions.sql

-- every history table: a BRIN index on _valid_to, through which retention
-- deletes old closed versions (clean_table.c makes it with the table)
DO $hist$
DECLARE
	t text;
BEGIN
	FOR t IN SELECT d.table_name FROM @extschema@.datasets d
			  WHERE pg_catalog.to_regclass(pg_catalog.format('dp_clean.%I', d.table_name || '_history')) IS NOT NULL
			  ORDER BY 1 LOOP
		EXECUTE pg_catalog.format('CREATE INDEX %I ON dp_clean.%I USING brin (_valid_to) WITH (autosummarize = on)',
								  t || '_history_valid_to', t || '_history');
	END LOOP;
END
$hist$;

-- every history table partitioned by range of _closed_by_batch (issue 13,
-- point 1; src/catalog/clean_table.c, dp_clean_table_partition_history):
-- the table becomes its partition from MINVALUE, the identity a sequence
-- of the same name where it stood, the removed keys are filled.  Through
-- a function made for the time of the update (writers of a dataset
-- restored from a 0.1 dump call the same code).
CREATE FUNCTION @extschema@.partition_history_0_2(dataset text) RETURNS void
AS 'MODULE_PATHNAME', 'dp_partition_history' LANGUAGE C STRICT;
SELECT @extschema@.partition_history_0_2(d.name) FROM @extschema@.datasets d
 WHERE pg_catalog.to_regclass(pg_catalog.format('dp_clean.%I', d.table_name || '_history')) IS NOT NULL
 ORDER BY d.name;
DROP FUNCTION @extschema@.partition_history_0_2(text);
-- what it made is the datasets', not the extension's (made during the
-- update, it became a member): pg_dump dumps it, as it dumps every
-- dataset's tables
DO $hist_members$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_catalog.pg_depend d
			   JOIN pg_catalog.pg_class c ON c.oid = d.objid
			  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'e'
				AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'dataplatform')
				AND c.relnamespace = 'dp_clean'::regnamespace
			  ORDER BY c.relkind, 1
	LOOP
		EXECUTE pg_catalog.format('ALTER EXTENSION dataplatform DROP %s %s',
								  CASE r.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.rel);
	END LOOP;
END
$hist_members$;

-- the change feed replaces the clean tables' index on _batch_id
-- (src/common/change_feed.c; the table is made by part 66): the index
-- goes, and each view's first refresh after the update is a full one (its
-- consumer_source.filenode is unknown)
ALTER TABLE @extschema@.consumer_source ADD COLUMN filenode oid;
COMMENT ON TABLE @extschema@.consumer_source IS
'per view and dataset it reads: the last batch the view has consumed (its refresh watermark), and the file of the dataset''s table then (another one means a full refresh)';
DO $feed$
DECLARE
	t text;
BEGIN
	FOR t IN SELECT d.table_name FROM @extschema@.datasets d ORDER BY 1 LOOP
		EXECUTE pg_catalog.format('DROP INDEX IF EXISTS dp_clean.%I', t || '_batch');
	END LOOP;
END
$feed$;

-- no JIT in the purges (issue 11): their statements are index-driven
-- deletes and lookups whose estimated cost grows with the tables, so past
-- jit_above_cost each call compiled code it ran once (a third of an
-- apply_retention with nothing to drop at 50M raw rows)
ALTER FUNCTION @extschema@.apply_retention() SET jit = off;
ALTER FUNCTION @extschema@.purge_audit(interval) SET jit = off;
ALTER FUNCTION @extschema@.purge_raw(text, interval) SET jit = off;

-- Keep last: wake this database's worker at commit; it waits while the
-- database holds a version other than its library's, and resumes now.
SELECT @extschema@.worker_wake();
