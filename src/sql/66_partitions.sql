-- dataplatform 0.2, part 66: the append-only tables partitioned by range
-- of batch id (src/common/partition.c; docs/operations.md, "Partitions").
-- The writer makes the partition its batch lands in when there is none,
-- the worker makes the current and the next one ahead, apply_retention
-- detaches and drops the partitions all of whose batches are past
-- retention, and the event trigger partition_guard refuses dropping or
-- detaching one anywhere else.  Partitions are not members of the
-- extension: pg_dump dumps them, with their rows, as tables of their own.

CREATE TABLE @extschema@.partition_rule (
	table_schema	name NOT NULL,
	table_name		name NOT NULL,
	key_column		name NOT NULL,
	width			bigint NOT NULL CHECK (width > 0),
	-- each partition's indexes: "PRIMARY KEY (...)" or "(...)" (a btree);
	-- the parent has none, as pg_dump restores partitions with their own
	indexes			text[] NOT NULL DEFAULT '{}',
	PRIMARY KEY (table_schema, table_name)
);
COMMENT ON TABLE @extschema@.partition_rule IS
'the tables partitioned by range of batch id: a partition covers width batch ids (a new width applies to partitions made from then on) and has the indexes listed';
INSERT INTO @extschema@.partition_rule VALUES
	('dp_raw', 'chunk', 'batch_id', 100000, '{"PRIMARY KEY (batch_id, first_ordinal)"}'),
	('@extschema@', 'issue', 'batch_id', 100000, '{"(batch_id, row_number)"}');
REVOKE ALL ON @extschema@.partition_rule FROM PUBLIC;
GRANT SELECT ON @extschema@.partition_rule TO dataplatform_admin;

CREATE FUNCTION @extschema@.create_partitions() RETURNS integer
AS 'MODULE_PATHNAME', 'dp_create_partitions'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.create_partitions() IS
'make, for every table of partition_rule, the partition of the last batch id handed out and the next one (what the worker does each pass); returns how many it made';
REVOKE ALL ON FUNCTION @extschema@.create_partitions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_partitions() TO dataplatform_admin;

CREATE FUNCTION @extschema@.partition_guard() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'dp_partition_guard' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.partition_guard() IS
'event trigger refusing DROP TABLE and ALTER TABLE ... DETACH PARTITION of a partition of a table in partition_rule outside apply_retention';
REVOKE ALL ON FUNCTION @extschema@.partition_guard() FROM PUBLIC;
CREATE EVENT TRIGGER dataplatform_partition_guard ON ddl_command_start
	WHEN TAG IN ('DROP TABLE', 'ALTER TABLE')
	EXECUTE FUNCTION @extschema@.partition_guard();
