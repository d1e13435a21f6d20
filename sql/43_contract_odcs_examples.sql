-- The ODCS project's own example contracts and negative tests
-- (test/contracts/odcs/, from bitol-io/open-data-contract-standard, which
-- nobody on this project wrote): every example that describes a table
-- imports; the ones that describe none are refused as such; every negative
-- test is refused with a message naming what is wrong and where; none
-- crashes.  Each import is undone after it, so the files do not meet.
-- Where an example leaves out what a dataset needs (a primary key) or
-- refers to a table it does not describe, it is imported a second time
-- with the option that supplies it.
-- In a database of its own: the examples' table names (person, product,
-- ...) must not meet the other suites' datasets.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE DATABASE dp_odcs_examples;
\c dp_odcs_examples
SET client_min_messages = warning;
CREATE EXTENSION dataplatform;
CREATE SCHEMA dp_test;
CREATE FUNCTION dp_test.try_import(contract text, options jsonb DEFAULT '{"product": "odcs-examples"}')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r jsonb;
	result text;
BEGIN
	BEGIN
		r := dataplatform.import_contract(contract, options);
		SELECT 'imported: ' || string_agg(format('%s %s (%s notes, %s expectations)', x ->> 'dataset',
				x ->> 'version', jsonb_array_length(x -> 'notes'), jsonb_array_length(x -> 'expect')), '; ')
		  INTO result FROM jsonb_array_elements(r -> 'datasets') x;
		RAISE SQLSTATE 'DPUND';		-- undo it
	EXCEPTION
		WHEN SQLSTATE 'DPUND' THEN
			RETURN result;
		WHEN OTHERS THEN
			RETURN SQLSTATE || ': ' || SQLERRM;
	END;
END $$;

-- the examples
\set c `cat test/contracts/odcs/examples/all--full-example.odcs.yaml`
SELECT 'all--full-example.odcs.yaml' AS example, dp_test.try_import(:'c');
SELECT 'all--full-example.odcs.yaml' AS example, dp_test.try_import(:'c', '{"product": "odcs-examples", "missing_references": "note"}');
\set c `cat test/contracts/odcs/examples/all--postgresql-adventureworks-contract.odcs.yaml`
SELECT 'all--postgresql-adventureworks-contract.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/authoritative-definitions--authoritative-definitions.odcs.yaml`
SELECT 'authoritative-definitions--authoritative-definitions.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/custom-other-properties--custom-properties.odcs.yaml`
SELECT 'custom-other-properties--custom-properties.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/data-types--all-data-types.odcs.yaml`
SELECT 'data-types--all-data-types.odcs.yaml' AS example, dp_test.try_import(:'c');
SELECT 'data-types--all-data-types.odcs.yaml' AS example, dp_test.try_import(:'c', '{"product": "odcs-examples", "keys": {"transactions_tbl": ["account_id"]}}');
\set c `cat test/contracts/odcs/examples/fundamentals--table-column-description.odcs.yaml`
SELECT 'fundamentals--table-column-description.odcs.yaml' AS example, dp_test.try_import(:'c');
SELECT 'fundamentals--table-column-description.odcs.yaml' AS example, dp_test.try_import(:'c', '{"product": "odcs-examples", "keys": {"tbl": ["txn_ref_dt"]}}');
\set c `cat test/contracts/odcs/examples/pricing--basic-pricing.odcs.yaml`
SELECT 'pricing--basic-pricing.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/quality--column-accuracy.odcs.yaml`
SELECT 'quality--column-accuracy.odcs.yaml' AS example, dp_test.try_import(:'c');
SELECT 'quality--column-accuracy.odcs.yaml' AS example, dp_test.try_import(:'c', '{"product": "odcs-examples", "keys": {"Air_Quality": ["DataValue"]}}');
\set c `cat test/contracts/odcs/examples/quality--column-completeness.odcs.yaml`
SELECT 'quality--column-completeness.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/quality--column-custom.odcs.yaml`
SELECT 'quality--column-custom.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/quality--column-validity.odcs.yaml`
SELECT 'quality--column-validity.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/references--relationships.odcs.yaml`
SELECT 'references--relationships.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/roles--service-and-operational-roles.odcs.yaml`
SELECT 'roles--service-and-operational-roles.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/schema--all-schema-types.odcs.yaml`
SELECT 'schema--all-schema-types.odcs.yaml' AS example, dp_test.try_import(:'c');
SELECT 'schema--all-schema-types.odcs.yaml' AS example, dp_test.try_import(:'c', '{"product": "odcs-examples", "keys": {"AnObject": ["street_lines"], "AnotherObject": ["x"]}}');
\set c `cat test/contracts/odcs/examples/schema--enum.odcs.yaml`
SELECT 'schema--enum.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/schema--kafka-schema.odcs.yaml`
SELECT 'schema--kafka-schema.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/schema--kafka-schemaregistry.odcs.yaml`
SELECT 'schema--kafka-schemaregistry.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/schema--map.odcs.yaml`
SELECT 'schema--map.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/schema--measures-and-dimensions.odcs.yaml`
SELECT 'schema--measures-and-dimensions.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/schema--table-column.odcs.yaml`
SELECT 'schema--table-column.odcs.yaml' AS example, dp_test.try_import(:'c');
SELECT 'schema--table-column.odcs.yaml' AS example, dp_test.try_import(:'c', '{"product": "odcs-examples", "keys": {"tbl": ["rcvr_cntry_code"]}}');
\set c `cat test/contracts/odcs/examples/schema--table-columns-with-partition.odcs.yaml`
SELECT 'schema--table-columns-with-partition.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/server--azure-server.odcs.yaml`
SELECT 'server--azure-server.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/server--kafka-server.odcs.yaml`
SELECT 'server--kafka-server.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/sla--database-table-sla.odcs.yaml`
SELECT 'sla--database-table-sla.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/stakeholders--basic-four-dpo.odcs.yaml`
SELECT 'stakeholders--basic-four-dpo.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/support--support-channels.odcs.yaml`
SELECT 'support--support-channels.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/tags--tags.odcs.yaml`
SELECT 'tags--tags.odcs.yaml' AS example, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/examples/team--team.odcs.yaml`
SELECT 'team--team.odcs.yaml' AS example, dp_test.try_import(:'c');

-- the negative tests
\set c `cat test/contracts/odcs/negative/additional-unknown-property.odcs.yaml`
SELECT 'additional-unknown-property.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/enum-duplicate-values.odcs.yaml`
SELECT 'enum-duplicate-values.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/enum-empty.odcs.yaml`
SELECT 'enum-empty.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/enum-missing-value.odcs.yaml`
SELECT 'enum-missing-value.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/invalid-api-version.odcs.yaml`
SELECT 'invalid-api-version.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/invalid-kind.odcs.yaml`
SELECT 'invalid-kind.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/invalid-quality-dimension.odcs.yaml`
SELECT 'invalid-quality-dimension.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/invalid-quality-metric.odcs.yaml`
SELECT 'invalid-quality-metric.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/invalid-quality-type.odcs.yaml`
SELECT 'invalid-quality-type.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/map-missing-block.odcs.yaml`
SELECT 'map-missing-block.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/map-missing-key.odcs.yaml`
SELECT 'map-missing-key.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/map-missing-value.odcs.yaml`
SELECT 'map-missing-value.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/missing-required-fields.odcs.yaml`
SELECT 'missing-required-fields.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/quality-custom-missing-implementation.odcs.yaml`
SELECT 'quality-custom-missing-implementation.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/quality-element-field.odcs.yaml`
SELECT 'quality-element-field.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/quality-library-missing-metric.odcs.yaml`
SELECT 'quality-library-missing-metric.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/quality-multiple-operators.odcs.yaml`
SELECT 'quality-multiple-operators.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/quality-mustbebetween-wrong-size.odcs.yaml`
SELECT 'quality-mustbebetween-wrong-size.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/quality-sql-missing-query.odcs.yaml`
SELECT 'quality-sql-missing-query.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/relationship-property-level-with-from.odcs.yaml`
SELECT 'relationship-property-level-with-from.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/relationship-schema-level-missing-from-to.odcs.yaml`
SELECT 'relationship-schema-level-missing-from-to.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/schema-property-invalid-logicaltype.odcs.yaml`
SELECT 'schema-property-invalid-logicaltype.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/schema-property-missing-name.odcs.yaml`
SELECT 'schema-property-missing-name.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/server-invalid-type.odcs.yaml`
SELECT 'server-invalid-type.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/server-missing-conditional-fields.odcs.yaml`
SELECT 'server-missing-conditional-fields.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/server-missing-required-fields.odcs.yaml`
SELECT 'server-missing-required-fields.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/sla-missing-required-value.odcs.yaml`
SELECT 'sla-missing-required-value.odcs.yaml' AS negative_test, dp_test.try_import(:'c');
\set c `cat test/contracts/odcs/negative/synonym-missing-term.odcs.yaml`
SELECT 'synonym-missing-term.odcs.yaml' AS negative_test, dp_test.try_import(:'c');

-- nothing stayed behind
SELECT count(*) AS datasets FROM dataplatform.dataset WHERE product = 'odcs-examples';
\c contrib_regression
DROP DATABASE dp_odcs_examples WITH (FORCE);
