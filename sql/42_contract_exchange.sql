-- import_contract and export_contract (issue 15): every mapping of an ODCS
-- v3 contract (YAML and JSON) and of a Table Schema, the notes for what a
-- spec cannot say, quality rules as expectations, round trips through both
-- formats (the export validated against the published JSON Schemas), bad
-- documents with their SQLSTATEs and nothing half-defined, options, and who
-- may call.
-- In a database of its own, so that what it defines and publishes meets no
-- other suite's datasets, views or catalogue.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE DATABASE dp_contract_exchange;
\c dp_contract_exchange
SET client_min_messages = warning;
CREATE EXTENSION dataplatform;
CREATE SCHEMA dp_test;

-- a contract in ODCS v3 YAML: two tables (one referencing the other) and a topic
\set c1 'apiVersion: v3.1.0\nkind: DataContract\nid: housing-tenancies\nversion: 1.2.0\nstatus: active\nname: tenancies\ndataProduct: CT Tenancies\ndomain: housing\ndescription:\n  purpose: Tenancies and the people in them\n  usage: Rent accounting\nteam:\n  name: Housing Data Team\nsupport:\n  - channel: mail\n    tool: email\n    url: mailto:housing-data@example.gov.uk\n  - channel: "#housing-data"\n    tool: slack\n    url: https://example.slack.com/housing-data\nslaProperties:\n  - property: frequency\n    value: 1\n    unit: d\n  - property: latency\n    value: 26\n    unit: h\n    element: ct_tenure\ntags: [housing]\nservers:\n  - server: prod\n    type: postgres\n    host: db.example\n    port: 5432\n    database: housing\n    schema: public\nschema:\n  - name: ct_person\n    physicalType: table\n    description: People\n    properties:\n      - {name: id, logicalType: string, logicalTypeOptions: {format: uuid}, primaryKey: true, primaryKeyPosition: 1}\n      - {name: email, logicalType: string, unique: true, classification: confidential}\n  - name: ct_tenure\n    physicalName: ct_tenure\n    physicalType: table\n    businessName: Tenure\n    description: Tenancies and leases\n    dataGranularityDescription: one row per tenancy\n    quality:\n      - {type: library, metric: rowCount, mustBeBetween: [1, 100000]}\n      - {type: sql, query: "SELECT count(*) FROM ${object} WHERE rent > 1000", mustBeLessThan: 5}\n      - {type: custom, engine: soda, implementation: "checks: []"}\n    properties:\n      - name: id\n        logicalType: string\n        logicalTypeOptions: {format: uuid}\n        primaryKey: true\n        primaryKeyPosition: 1\n        description: Tenancy id\n      - name: paymentReference\n        logicalType: string\n        required: true\n        unique: true\n        examples: ["1000123456"]\n        logicalTypeOptions: {pattern: "^[0-9]{10}$", minLength: 10, maxLength: 10}\n        quality: [{metric: duplicateValues, mustBe: 0}]\n      - name: tenure-type\n        logicalType: string\n        enum:\n          - {value: SEC, label: Secure}\n          - {value: FLT, label: Fixed term, description: ends on a date}\n        quality: [{metric: invalidValues, arguments: {validValues: [SEC, FLT]}, mustBe: 0}]\n      - name: rent\n        logicalType: number\n        logicalTypeOptions: {minimum: 0, maximum: 2000}\n        quality: [{metric: nullValues, mustBe: 0}, {metric: nullValues, mustBeLessThan: 5, unit: percent}]\n      - name: rooms\n        logicalType: integer\n        logicalTypeOptions: {exclusiveMinimum: 0, exclusiveMaximum: 20}\n      - name: start\n        logicalType: date\n      - name: updated\n        logicalType: timestamp\n      - name: furnished\n        logicalType: boolean\n      - name: household\n        logicalType: array\n        classification: restricted\n      - name: tenant\n        logicalType: string\n        logicalTypeOptions: {format: uuid}\n        relationships: [{to: ct_person.id, type: foreignKey}]\n      - name: checkin\n        logicalType: time\n      - name: website\n        logicalType: string\n        logicalTypeOptions: {format: uri}\n        tags: [web]\n      - name: note\n        logicalType: string\n        physicalType: varchar(200)\n        customProperties:\n          - {property: dataplatform.deprecated, value: true}\n          - {property: lineage, value: crm}\n  - name: tenure-events\n    physicalType: topic\n    properties: [{name: id, logicalType: string}]\n'
SELECT jsonb_pretty(dataplatform.import_contract(:'c1'));

-- what was defined: the product with the contract's metadata, the datasets
SELECT name, description, domain, owner, email, status, tags, contact, update_frequency
  FROM dataplatform.product WHERE name = 'ct-tenancies';
SELECT name, product, version, key FROM dataplatform.dataset
 WHERE product = 'ct-tenancies' ORDER BY name;
SELECT jsonb_pretty(dataplatform.describe('ct_tenure') - 'clean_table');

-- the expectations fit a published view of the dataset (once it has rows)
SELECT dataplatform.push('ct_person', '{"id": "7d3f5a2e-1b4c-4d6e-8f90-a1b2c3d4e5f6", "email": "a@example.org"}') > 0 AS pushed;
SELECT dataplatform.push('ct_tenure', '{"id": "0f1e2d3c-4b5a-4697-8877-665544332211", "paymentReference": "1000123456",
  "tenure-type": "SEC", "rent": 120.5, "rooms": 3, "tenant": "7d3f5a2e-1b4c-4d6e-8f90-a1b2c3d4e5f6"}') > 0 AS pushed;
SELECT dataplatform.publish('ct_tenure', 'ct_tenure', jsonb_build_object('expect',
  dataplatform.import_contract(:'c1') #> '{datasets,1,expect}')) ->> 'status' AS published;

-- importing the same contract again changes nothing (same versions)
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version
  FROM jsonb_array_elements(dataplatform.import_contract(:'c1') -> 'datasets') x;

-- the same contract as JSON, under another product name given in options
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version
  FROM jsonb_array_elements(dataplatform.import_contract(
    '{"apiVersion": "v3.0.2", "kind": "DataContract", "id": "j1", "version": "1.0.0", "status": "draft",
      "schema": [{"name": "ct-asset", "properties": [
        {"name": "id", "logicalType": "integer", "primaryKey": true},
        {"name": "kind", "logicalType": "string", "required": true}]}]}',
    '{"product": "ct-assets"}') -> 'datasets') x;
SELECT name, status FROM dataplatform.product WHERE name = 'ct-assets';

-- a Frictionless Table Schema (JSON): the dataset named in options
SELECT jsonb_pretty(dataplatform.import_contract('{
  "fields": [
    {"name": "reference", "type": "string", "constraints": {"required": true, "pattern": "^CA[0-9]+$"}},
    {"name": "name", "type": "string", "title": "Name", "constraints": {"maxLength": 80}},
    {"name": "area", "type": "number", "constraints": {"minimum": 0}},
    {"name": "designated", "type": "date"},
    {"name": "status", "type": "string", "constraints": {"enum": ["active", "revoked"]}},
    {"name": "site", "type": "string", "format": "uri"},
    {"name": "period", "type": "duration"},
    {"name": "geometry", "type": "geojson"}
  ],
  "primaryKey": "reference",
  "missingValues": ["", "n/a"]}', '{"product": "ct-assets", "dataset": "ct-zone"}'));
SELECT name, datatype, is_key, required, options FROM dataplatform.field
 WHERE dataset = 'ct-zone' ORDER BY ordinal;
-- a Table Schema's foreign key and example
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version, x -> 'notes' AS notes
  FROM jsonb_array_elements(dataplatform.import_contract('{"name": "ct_visit",
    "fields": [{"name": "id", "type": "integer"}, {"name": "who", "type": "string", "format": "uuid", "example": "7d3f5a2e-1b4c-4d6e-8f90-a1b2c3d4e5f6"},
               {"name": "at", "type": "datetime"}],
    "primaryKey": ["id"],
    "foreignKeys": [{"fields": "who", "reference": {"resource": "ct_person", "fields": "id"}}]}',
    '{"product": "ct-tenancies"}') -> 'datasets') x;
SELECT name, datatype, options FROM dataplatform.field WHERE dataset = 'ct_visit' ORDER BY ordinal;

-- round trips: export, validate against the published schema, import back:
-- the same spec (define_dataset finds no change: the version stays)
\pset tuples_only on
\pset format unaligned
\o results/tenure.odcs.yaml
SELECT dataplatform.export_contract('ct_tenure');
\o results/tenure.table-schema.json
SELECT dataplatform.export_contract('ct_tenure', 'table-schema');
\o results/zone.odcs.yaml
SELECT dataplatform.export_contract('ct-zone');
\o results/zone.table-schema.json
SELECT dataplatform.export_contract('ct-zone', 'table-schema');
\o
\pset tuples_only off
\pset format aligned
\! python3 test/contracts/validate.py odcs results/tenure.odcs.yaml
\! python3 test/contracts/validate.py table-schema results/tenure.table-schema.json
\! python3 test/contracts/validate.py odcs results/zone.odcs.yaml
\! python3 test/contracts/validate.py table-schema results/zone.table-schema.json
SELECT dataplatform.export_contract('ct_tenure');
CREATE TEMP TABLE before AS SELECT name, spec FROM dataplatform.datasets;
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version, x -> 'notes' AS notes
  FROM jsonb_array_elements(dataplatform.import_contract(dataplatform.export_contract('ct_tenure'))
       -> 'datasets') x;
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version, x -> 'notes' AS notes
  FROM jsonb_array_elements(dataplatform.import_contract(dataplatform.export_contract('ct_tenure', 'table-schema'),
       '{"product": "ct-tenancies"}') -> 'datasets') x;
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version, x -> 'notes' AS notes
  FROM jsonb_array_elements(dataplatform.import_contract(dataplatform.export_contract('ct-zone'))
       -> 'datasets') x;
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version, x -> 'notes' AS notes
  FROM jsonb_array_elements(dataplatform.import_contract(dataplatform.export_contract('ct-zone', 'table-schema'),
       '{"product": "ct-assets"}') -> 'datasets') x;
-- and the stored specs are what they were
SELECT count(*) AS changed FROM dataplatform.datasets d JOIN before b USING (name) WHERE d.spec <> b.spec;

-- a change in the contract is versioned as define_dataset versions it
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version
  FROM jsonb_array_elements(dataplatform.import_contract(replace(:'c1', 'maximum: 2000', 'maximum: 3000'))
       -> 'datasets') x;
SELECT dataplatform.import_contract(replace(:'c1', 'logicalType: date', 'logicalType: timestamp'));
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version
  FROM jsonb_array_elements(dataplatform.import_contract(replace(:'c1', 'logicalType: date', 'logicalType: timestamp'),
       '{"allow_breaking": true}') -> 'datasets') x;

-- bad documents: each its own SQLSTATE and a message saying where; nothing
-- half-defined (each call below is undone whole)
CREATE FUNCTION dp_test.import_error(contract text, options jsonb DEFAULT '{}') RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dataplatform.import_contract(contract, options);
	RETURN 'imported';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TEMP TABLE counts AS SELECT (SELECT count(*) FROM dataplatform.datasets) AS datasets,
  (SELECT count(*) FROM dataplatform.products) AS products, (SELECT count(*) FROM dataplatform.spec_version) AS versions;
-- malformed YAML, malformed JSON
SELECT dp_test.import_error(E'apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nschema:\n  - name: a\n    properties: [{name: id, logicalType: string\n');
SELECT dp_test.import_error(E'apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nschema:\n\t- name: a\n');
SELECT dp_test.import_error(E'apiVersion: v3.1.0\napiVersion: v3.0.2\n');
SELECT dp_test.import_error('{"apiVersion": "v3.1.0", "kind": "DataContract", "id": "x",}');
-- wrong apiVersion or kind, or neither format
SELECT dp_test.import_error(E'apiVersion: v2.2.2\nkind: DataContract\nid: x\nversion: 1.0.0\n');
SELECT dp_test.import_error(E'apiVersion: v3.1.0\nkind: DataProduct\nid: x\nversion: 1.0.0\n');
SELECT dp_test.import_error('just: some yaml');
SELECT dp_test.import_error('- a list');
-- a reference to a dataset neither in the contract nor defined: the first
-- table (valid on its own) is not defined either
\set bad3 'apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\ndataProduct: ct-broken\nschema:\n  - name: ct-first\n    properties: [{name: id, logicalType: integer, primaryKey: true}]\n  - name: ct-second\n    properties:\n      - {name: id, logicalType: integer, primaryKey: true}\n      - {name: owner, logicalType: integer, relationships: [{to: nowhere.id}]}\n'
SELECT dp_test.import_error(:'bad3');
-- unsupported types
SELECT dp_test.import_error(E'apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\ndataProduct: ct-broken\nschema:\n  - name: ct-first\n    properties: [{name: id, logicalType: decimal128, primaryKey: true}]\n');
SELECT dp_test.import_error('{"name": "t", "fields": [{"name": "a", "type": "varchar"}]}');
-- what the standard's schema refuses
SELECT dp_test.import_error(E'apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\ndataProduct: ct-broken\nschema:\n  - name: ct-first\n    properties: [{name: id, logicalType: integer, primaryKey: true, unknownMember: 1}]\n');
SELECT dp_test.import_error(E'apiVersion: v3.1.0\nkind: DataContract\nversion: 1.0.0\n');
SELECT dp_test.import_error('{"name": "t", "fields": [{"name": "a", "type": "string", "constraints": {"required": "yes"}}]}');
-- no table; a table without a key; no product name
SELECT dp_test.import_error(E'apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\ndataProduct: ct-broken\n');
SELECT dp_test.import_error(E'apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\ndataProduct: ct-broken\nschema:\n  - name: ct-first\n    properties: [{name: id, logicalType: integer}]\n');
SELECT dp_test.import_error(E'apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nschema:\n  - name: ct-first\n    properties: [{name: id, logicalType: integer, primaryKey: true}]\n');
SELECT dp_test.import_error('{"fields": [{"name": "a"}], "primaryKey": "a"}', '{"product": "ct-broken"}');
-- the second table's spec is refused by define_dataset: the first is undone
SELECT dp_test.import_error(E'apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\ndataProduct: ct-broken\nschema:\n  - name: ct-first\n    properties: [{name: id, logicalType: integer, primaryKey: true}]\n  - name: ct-second\n    properties: [{name: id, logicalType: integer, primaryKey: true}, {name: b, logicalType: string, logicalTypeOptions: {minLength: 5, maxLength: 2}}]\n');
-- options
SELECT dp_test.import_error(:'c1', '{"produkt": "x"}');
SELECT dp_test.import_error(:'c1', '{"allow_breaking": "yes"}');
SELECT dp_test.import_error(:'c1', '[]');
SELECT dp_test.import_error(NULL);
SELECT (SELECT count(*) FROM dataplatform.datasets) = datasets AS no_dataset,
       (SELECT count(*) FROM dataplatform.products) = products AS no_product,
       (SELECT count(*) FROM dataplatform.spec_version) = versions AS no_version,
       NOT EXISTS (SELECT FROM pg_catalog.pg_class WHERE relname IN ('ct_first', 'ct_second')) AS no_table
  FROM counts;
-- with missing_references "note" the reference is a note instead
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version, x -> 'notes' AS notes
  FROM jsonb_array_elements(dataplatform.import_contract(:'bad3', '{"missing_references": "note"}') -> 'datasets') x;
-- a table without a primary key takes one from options.keys
SELECT x ->> 'dataset' AS dataset, x ->> 'version' AS version
  FROM jsonb_array_elements(dataplatform.import_contract(E'apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\ndataProduct: ct-keyless\nschema:\n  - name: ct-keyless\n    properties: [{name: code, logicalType: string}, {name: n, logicalType: integer}]\n',
       '{"keys": {"ct-keyless": ["code"]}}') -> 'datasets') x;

-- export: unknown dataset, unknown format
SELECT dataplatform.export_contract('nope');
SELECT dataplatform.export_contract('ct_tenure', 'avro');
SELECT dataplatform.export_contract(NULL);

-- who may call: admins import; admins and producers export
\set VERBOSITY terse
CREATE ROLE ct_contract_producer;
CREATE ROLE ct_contract_plain;
SELECT dataplatform.grant_producer('ct-tenancies', 'ct_contract_producer');
SET ROLE ct_contract_producer;
SELECT length(dataplatform.export_contract('ct_tenure')) > 0 AS exported;
SELECT dataplatform.import_contract(:'c1');
RESET ROLE;
SET ROLE ct_contract_plain;
SELECT dataplatform.export_contract('ct_tenure');
SELECT dataplatform.import_contract(:'c1');
RESET ROLE;
SELECT dataplatform.revoke_producer('ct-tenancies', 'ct_contract_producer');
DROP ROLE ct_contract_producer;
DROP ROLE ct_contract_plain;
\c contrib_regression
DROP DATABASE dp_contract_exchange WITH (FORCE);
