-- dataplatform 0.2, part 66: the append-only tables partitioned by range
-- of batch id or of time (src/common/partition.c; docs/operations.md,
-- "Partitions").
-- The writer makes the partition its batch lands in when there is none,
-- the worker makes the current and the next one ahead (not for history
-- tables), apply_retention detaches and drops the partitions all of whose
-- batches are past retention (history: holding no version that ended
-- after the dataset's retention cutoff), and the event trigger partition_guard refuses dropping or
-- detaching one anywhere else.  Partitions are not members of the
-- extension: pg_dump dumps them, with their rows, as tables of their own.

CREATE TABLE @extschema@.partition_rule (
	table_schema	name NOT NULL,
	table_name		name NOT NULL,
	key_column		name NOT NULL,
	-- batch: a range of batch ids, width of them; time: a range of time,
	-- width_interval long (whole months from January 2000, or a fixed
	-- length from 2000-01-01 00:00 UTC)
	key_kind		text NOT NULL DEFAULT 'batch' CHECK (key_kind IN ('batch', 'time')),
	width			bigint CHECK (width > 0),
	width_interval	interval,
	-- each partition's indexes: "PRIMARY KEY (...)", "(...)" (a btree) or
	-- "USING method (...)"; the parent has none, as pg_dump restores
	-- partitions with their own
	indexes			text[] NOT NULL DEFAULT '{}',
	PRIMARY KEY (table_schema, table_name),
	CHECK (key_kind = 'batch' AND width IS NOT NULL AND width_interval IS NULL
		   OR key_kind = 'time' AND width IS NULL AND width_interval > interval '0'
		   AND (width_interval = pg_catalog.date_trunc('month', width_interval)
				OR EXTRACT(YEAR FROM width_interval) = 0 AND EXTRACT(MONTH FROM width_interval) = 0))
);
COMMENT ON TABLE @extschema@.partition_rule IS
'the tables partitioned by range of batch id (a partition covers width batch ids) or of time (width_interval: whole months, or a fixed length); a new width applies to partitions made from then on; each partition has the indexes listed; every dataset''s history table (dp_clean.<t>_history, by _closed_by_batch) has a row, made with the dataset';
INSERT INTO @extschema@.partition_rule (table_schema, table_name, key_column, key_kind, width, width_interval, indexes) VALUES
	('dp_raw', 'chunk', 'batch_id', 'batch', 100000, NULL, '{"PRIMARY KEY (batch_id, first_ordinal)"}'),
	('@extschema@', 'clean_change', 'batch_id', 'batch', 100000, NULL, '{"(dataset, batch_id)"}'),
	('@extschema@', 'issue', 'batch_id', 'batch', 100000, NULL, '{"(batch_id, row_number)"}'),
	('@extschema@', 'event', 'batch_id', 'batch', 100000, NULL,
	 ARRAY['USING brin (batch_id) WITH (pages_per_range = 16)',
		   '(dataset, event_id) WHERE outcome NOT IN (''duplicate'', ''rejected'') AND event_id IS NOT NULL']),
	('@extschema@', 'audit_log', 'at', 'time', NULL, interval '1 month',
	 ARRAY['PRIMARY KEY (id)', 'USING brin (at)',
		   'USING gin ((detail -> ''agreements'') jsonb_path_ops) WHERE action = ''read''']);
-- The change feed of the clean tables (src/common/change_feed.c): per batch,
-- the TIDs of the row versions it wrote into its dataset's current table,
-- which refresh reads instead of an index on _batch_id.  Its partitions go
-- (apply_retention) once every view has consumed their batches.
CREATE TABLE @extschema@.clean_change (
	dataset			text NOT NULL,
	batch_id		bigint NOT NULL,
	tids			tid[] NOT NULL
) PARTITION BY RANGE (batch_id);
COMMENT ON TABLE @extschema@.clean_change IS
'the change feed of the clean tables: per batch, where the row versions it wrote into its dataset''s current table stand (their TIDs), read by refresh; partitioned by batch id';
REVOKE ALL ON @extschema@.clean_change FROM PUBLIC;
GRANT SELECT ON @extschema@.clean_change TO dataplatform_admin;

-- the rows of the datasets' history tables are made with them: pg_dump keeps those
SELECT pg_catalog.pg_extension_config_dump('@extschema@.partition_rule', 'WHERE table_schema = ''dp_clean''');
REVOKE ALL ON @extschema@.partition_rule FROM PUBLIC;
GRANT SELECT ON @extschema@.partition_rule TO dataplatform_admin;

CREATE FUNCTION @extschema@.create_partitions() RETURNS integer
AS 'MODULE_PATHNAME', 'dp_create_partitions'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.create_partitions() IS
'make, for every table of partition_rule, the partition of the last batch id handed out (of now, for a table partitioned by time) and the next one (what the worker does each pass); returns how many it made';
REVOKE ALL ON FUNCTION @extschema@.create_partitions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_partitions() TO dataplatform_admin;

CREATE FUNCTION @extschema@.partition_guard() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'dp_partition_guard' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.partition_guard() IS
'event trigger refusing DROP TABLE and ALTER TABLE ... DETACH PARTITION of a partition of a table in partition_rule outside apply_retention (purge_audit for the audit log)';
REVOKE ALL ON FUNCTION @extschema@.partition_guard() FROM PUBLIC;
CREATE EVENT TRIGGER dataplatform_partition_guard ON ddl_command_start
	WHEN TAG IN ('DROP TABLE', 'ALTER TABLE')
	EXECUTE FUNCTION @extschema@.partition_guard();
