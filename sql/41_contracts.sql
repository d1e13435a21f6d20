-- Contract members of a specification (issue 15): unique, references,
-- lengths, examples, labelled codelists, deprecation, classification,
-- product metadata, freshness, allow_unknown.  Each: passing values, the
-- issue, quarantine where strict, the versioning of its changes, and bad
-- specs as errors with their SQLSTATE.
\set VERBOSITY terse
SET client_min_messages = warning;
SET DateStyle = 'ISO, YMD';
SET dataplatform.obfuscation_key = 'regress-contracts';

-- the current spec, to edit with jsonb_set
CREATE FUNCTION dp_test.spec_of(ds text) RETURNS jsonb LANGUAGE sql
AS $$ SELECT dataplatform.describe(ds) - 'version' - 'clean_table' - 'notes' $$;
CREATE FUNCTION dp_test.issues(ds text, b bigint) RETURNS TABLE (row_number bigint, field text,
	issue_type text, severity text, value text) LANGUAGE sql
AS $$ SELECT i.row_number, i.field, i.issue_type, i.severity, i.value FROM dataplatform.issue i
	   JOIN dataplatform.batch x ON x.id = i.batch_id
	  WHERE x.dataset = ds AND i.batch_id = b ORDER BY 1, 2, 3 $$;

-- product metadata
SELECT name, licence, contact, update_frequency, classification
  FROM dataplatform.define_product('contracts', '{"licence": "OGL-UK-3.0",
    "contact": "Housing data team <housing-data@example.gov.uk>", "update_frequency": "daily",
    "classification": "internal"}');
SELECT classification FROM dataplatform.define_product('contracts', '{"classification": null}');
SELECT licence, classification FROM dataplatform.product WHERE name = 'contracts';
SELECT dp_test.err($q$SELECT dataplatform.define_product('contracts', '{"classification": "secret"}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_product('contracts', '{"licence": 3}')$q$);  -- 22023

------------------------------------------------------------------------------
-- unique
------------------------------------------------------------------------------
SELECT dataplatform.define_dataset('{"dataset": "ct-property", "product": "contracts", "key": ["uprn"],
  "fields": [{"name": "uprn", "datatype": "string"},
             {"name": "ref", "datatype": "string", "unique": "strict"},
             {"name": "alias", "datatype": "string", "unique": true},
             {"name": "ward", "datatype": "string"}]}');
-- one plain btree index per unique field
SELECT indexdef FROM pg_indexes WHERE schemaname = 'dp_clean' AND tablename = 'ct_property' ORDER BY 1;
-- within a batch: the later row repeating a value gets the issue; strict quarantines
SELECT dataplatform.push('ct-property', '[{"uprn": "1", "ref": "R1", "alias": "a"},
  {"uprn": "2", "ref": "R1", "alias": "b"}, {"uprn": "3", "ref": "R3", "alias": "a"},
  {"uprn": "4", "ref": "R4"}]') AS b1 \gset
SELECT * FROM dp_test.issues('ct-property', :b1);
SELECT uprn, ref, alias FROM dp_clean.ct_property ORDER BY uprn;
SELECT row_number FROM dataplatform.quarantine_row WHERE batch_id = :b1 ORDER BY 1;
-- against stored rows: the same record again is no duplicate, another record is
SELECT dataplatform.push('ct-property', '[{"uprn": "1", "ref": "R1", "alias": "a", "ward": "x"},
  {"uprn": "5", "ref": "R3"}, {"uprn": "6", "ref": "R6", "alias": "a"}, {"uprn": "3", "ref": "R3", "alias": "c"}]') AS b2 \gset
SELECT * FROM dp_test.issues('ct-property', :b2);
SELECT uprn, ref, alias, ward FROM dp_clean.ct_property ORDER BY uprn;
-- the dry run says the same and writes nothing
SELECT jsonb_path_query_array(dataplatform.check('ct-property', '[{"uprn": "7", "ref": "R4"}]'),
  '$.issues[*] ? (@.issue == "duplicate value").severity') AS check_issues;
-- bad specs
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string", "unique": true}]}')$q$);  -- 22023 key
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "j", "datatype": "json", "unique": true}]}')$q$);  -- 22023 json
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "u", "datatype": "string", "unique": "yes"}]}')$q$);  -- 42804

------------------------------------------------------------------------------
-- references
------------------------------------------------------------------------------
SELECT dataplatform.define_dataset('{"dataset": "ct-tenancy", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"},
             {"name": "uprn", "datatype": "string",
              "references": {"dataset": "ct-property", "field": "uprn", "severity": "error"}},
             {"name": "ref", "datatype": "string", "references": {"dataset": "ct-property", "field": "ref"}},
             {"name": "parent", "datatype": "integer", "references": {"dataset": "ct-tenancy", "field": "id", "severity": "info"}}]}');
SELECT dataplatform.push('ct-tenancy', '[{"id": 1, "uprn": "1", "ref": "R1"},
  {"id": 2, "uprn": "99", "ref": "R1"}, {"id": 3, "uprn": "3", "ref": "R99", "parent": 1},
  {"id": 4, "uprn": "4", "parent": 77}]') AS b3 \gset
SELECT * FROM dp_test.issues('ct-tenancy', :b3);
SELECT id, uprn, ref, parent FROM dp_clean.ct_tenancy ORDER BY id;
-- the nightly rebuild checks again once the referenced dataset changed
SELECT dataplatform.push('ct-property', '[{"uprn": "99", "ref": "R99"}]') IS NOT NULL AS pushed;
SELECT dataplatform.rebuild_changed() -> 'rebuilt' AS rebuilt;
SELECT row_number, field, issue_type FROM dataplatform.issue i JOIN dataplatform.batch b ON b.id = i.batch_id
 WHERE b.dataset = 'ct-tenancy' ORDER BY 1, 2;
SELECT id, uprn, ref FROM dp_clean.ct_tenancy ORDER BY id;
SELECT dataplatform.rebuild_changed() -> 'rebuilt' AS nothing_changed;
-- bad specs
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string", "references": {"dataset": "ct-nowhere", "field": "id"}}]}')$q$);  -- 42704
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "w", "datatype": "string",
   "references": {"dataset": "ct-property", "field": "ward"}}]}')$q$);  -- 42703 not unique
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "p", "datatype": "integer",
   "references": {"dataset": "ct-property", "field": "uprn"}}]}')$q$);  -- 42804
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "p", "datatype": "string",
   "references": {"dataset": "ct-property", "field": "uprn", "severity": "fatal"}}]}')$q$);  -- 42804
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "p", "datatype": "string",
   "references": {"dataset": "ct-property", "column": "uprn"}}]}')$q$);  -- 22023
SELECT count(*) AS no_bad_dataset FROM dataplatform.datasets WHERE name = 'ct-bad';
-- a referenced field must stay referable
SELECT dp_test.err($q$SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-property'), '{fields,1,unique}', 'false'))$q$);  -- 2BP01

------------------------------------------------------------------------------
-- lengths, examples, labelled codelists, deprecation, classification
------------------------------------------------------------------------------
SELECT dataplatform.define_dataset('{"dataset": "ct-lease", "product": "contracts", "key": ["id"],
  "classification": "confidential",
  "fields": [{"name": "id", "datatype": "string", "examples": ["L-001"]},
             {"name": "code", "datatype": "string", "min_length": 2, "max_length": 4, "examples": ["ABC"],
              "description": "Short code"},
             {"name": "type", "datatype": "string", "codelist": [{"value": "SEC", "label": "Secure"}, "FLT",
              {"value": "INT", "label": "Introductory"}], "classification": "public"},
             {"name": "old-type", "datatype": "string", "deprecated": true, "replaced_by": "type"},
             {"name": "legacy", "datatype": "string", "deprecated": true},
             {"name": "rent", "datatype": "decimal", "minimum": 0, "examples": [12.5, "100"]},
             {"name": "email", "datatype": "string", "pii": true}]}');
SELECT dataplatform.push('ct-lease', '[{"id": "L1", "code": "A", "type": "secure"},
  {"id": "L2", "code": "ABCDE", "type": "sec", "old-type": "x", "legacy": "y"},
  {"id": "L3", "code": "ÀÉÎÕ", "type": "int", "old-type": "z"}]') AS b4 \gset
SELECT * FROM dp_test.issues('ct-lease', :b4);
SELECT id, code, type, old_type FROM dp_clean.ct_lease ORDER BY id;
SELECT attname, col_description(attrelid, attnum) FROM pg_attribute
 WHERE attrelid = 'dp_clean.ct_lease'::regclass AND attnum > 0 AND attname NOT LIKE '\_%' ORDER BY attnum;
SELECT obj_description('dp_clean.ct_lease'::regclass) AS table_comment;
SELECT name, options FROM dataplatform.field WHERE dataset = 'ct-lease' ORDER BY ordinal;
SELECT dataplatform.describe('ct-lease') -> 'fields' -> 2 -> 'codelist' AS codelist,
       dataplatform.describe('ct-lease') ->> 'classification' AS classification;
-- bad specs
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string", "min_length": 5, "max_length": 2}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer", "max_length": 2}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string", "min_length": -1}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string", "max_length": "3"}]}')$q$);  -- 42804
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer", "minimum": 1, "examples": [0]}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string", "examples": []}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "t", "datatype": "string",
   "codelist": [{"label": "Secure"}]}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "t", "datatype": "string",
   "codelist": [{"value": "SEC", "title": "Secure"}]}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "t", "datatype": "string",
   "codelist": ["SEC", {"value": "sec"}]}]}')$q$);  -- 22023 repeat
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "t", "datatype": "string", "replaced_by": "id"}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "t", "datatype": "string",
   "deprecated": true, "replaced_by": "nothing"}]}')$q$);  -- 42703
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string", "deprecated": true}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string", "classification": "secret"}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "e", "datatype": "string", "pii": true,
   "classification": "internal"}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fresh_within": "soon", "fields": [{"name": "id", "datatype": "string"}]}')$q$);  -- 22023
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-bad", "product": "contracts", "key": ["id"],
  "fresh_within": "0 hours", "fields": [{"name": "id", "datatype": "string"}]}')$q$);  -- 22023
SELECT count(*) AS no_bad_dataset FROM dataplatform.datasets WHERE name = 'ct-bad';

------------------------------------------------------------------------------
-- versioning: loosening and documentation minor, tightening breaking
------------------------------------------------------------------------------
-- unique added: breaking
SELECT dp_test.err($q$SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-property'), '{fields,3,unique}', 'true'))$q$);  -- 55000
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-property'), '{fields,3,unique}', 'true'),
  allow_breaking => true);
-- unique "strict" made true: minor (and its index stays); removed: minor (its index goes)
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-property'), '{fields,1,unique}', 'true'));
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-property'), '{fields,3,unique}', 'false'));
SELECT indexdef FROM pg_indexes WHERE schemaname = 'dp_clean' AND tablename = 'ct_property' ORDER BY 1;
-- made "strict" again: breaking
SELECT dp_test.err($q$SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-property'), '{fields,1,unique}', '"strict"'))$q$);  -- 55000
-- references: severity lowered minor, raised breaking, removed minor, added breaking
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-tenancy'), '{fields,1,references,severity}', '"warning"'));
SELECT dp_test.err($q$SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-tenancy'), '{fields,1,references,severity}', '"error"'))$q$);  -- 55000
SELECT dataplatform.define_dataset(dp_test.spec_of('ct-tenancy') #- '{fields,2,references}');
SELECT dp_test.err($q$SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-tenancy'), '{fields,2,references}',
  '{"dataset": "ct-property", "field": "ref"}'))$q$);  -- 55000
-- lengths: raised minimum and lowered maximum breaking, the reverse minor
SELECT dp_test.err($q$SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{fields,1,max_length}', '3'))$q$);  -- 55000
SELECT dp_test.err($q$SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{fields,1,min_length}', '3'))$q$);  -- 55000
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{fields,1,max_length}', '10'));
SELECT dataplatform.define_dataset(dp_test.spec_of('ct-lease') #- '{fields,1,min_length}');
SELECT dp_test.err($q$SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{fields,0,max_length}', '20'))$q$);  -- 55000 new on existing
-- documentation: examples, labels, deprecation, classification, freshness: minor
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{fields,0,examples}', '["L-002"]'));
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{fields,2,codelist,1}', '{"value": "FLT", "label": "Flexible"}'));
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{fields,4,deprecated}', 'false'));
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{fields,2,classification}', '"internal"'));
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{classification}', '"restricted"'));
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{fresh_within}', '"7 days"'));
-- a new field carries any member as a minor change
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-lease'), '{fields,7}',
  '{"name": "seq", "datatype": "string", "unique": "strict", "min_length": 3,
    "references": {"dataset": "ct-property", "field": "uprn", "severity": "error"}}'));
SELECT version, change, changes FROM dataplatform.spec_version WHERE dataset = 'ct-lease' ORDER BY major, minor;
SELECT version, change, changes FROM dataplatform.spec_version WHERE dataset IN ('ct-property', 'ct-tenancy')
 ORDER BY dataset, major, minor;

------------------------------------------------------------------------------
-- strictness: unknown members are errors unless allow_unknown
------------------------------------------------------------------------------
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-loose", "product": "contracts", "key": ["id"],
  "owner": "someone", "fields": [{"name": "id", "datatype": "string", "x-odcs-quality": []}]}')$q$);  -- 22023
SET client_min_messages = notice;
SELECT dataplatform.define_dataset('{"dataset": "ct-loose", "product": "contracts", "key": ["id"],
  "owner": "someone", "fields": [{"name": "id", "datatype": "string", "x-odcs-quality": []}]}',
  allow_unknown => true);
SET client_min_messages = warning;
SELECT dataplatform.describe('ct-loose') -> 'notes' AS notes, dataplatform.describe('ct-loose') ->> 'owner' AS kept;
SELECT dataplatform.push('ct-loose', '[{"id": "a"}]') IS NOT NULL AS loads;

------------------------------------------------------------------------------
-- freshness: the worker (or check_freshness) marks a dataset late
------------------------------------------------------------------------------
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-loose'), '{fresh_within}', '"1 microsecond"'),
  allow_unknown => true);
SELECT dataplatform.check_freshness() >= 0 AS checked;
SELECT dataset, fresh_within, late_since IS NOT NULL AS late FROM dataplatform.late ORDER BY dataset;
SELECT dataset, late FROM dataplatform.status WHERE dataset LIKE 'ct-%' ORDER BY dataset;
SELECT dataplatform.define_dataset(jsonb_set(dp_test.spec_of('ct-loose'), '{fresh_within}', '"1 day"'),
  allow_unknown => true);
SELECT dataplatform.check_freshness() >= 0 AS checked;
SELECT count(*) AS late FROM dataplatform.late WHERE dataset = 'ct-loose';

------------------------------------------------------------------------------
-- cost follows the work: the unique and reference checks read through
-- indexes (see 12_plans.sql for the method)
------------------------------------------------------------------------------
SELECT dp_test.err($q$SELECT dataplatform.define_dataset('{"dataset": "ct-big", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "code", "datatype": "string", "unique": true},
             {"name": "uprn", "datatype": "string", "references": {"dataset": "ct-big-ref", "field": "uprn"}}]}')$q$);  -- 42704
SELECT dataplatform.define_dataset('{"dataset": "ct-big-ref", "product": "contracts", "key": ["uprn"],
  "fields": [{"name": "uprn", "datatype": "string"}]}');
SELECT dataplatform.define_dataset('{"dataset": "ct-big", "product": "contracts", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "code", "datatype": "string", "unique": true},
             {"name": "uprn", "datatype": "string", "references": {"dataset": "ct-big-ref", "field": "uprn"}}]}');
DO $$ BEGIN
  FOR b IN 0..19 LOOP
    PERFORM dataplatform.push('ct-big-ref', (SELECT jsonb_agg(jsonb_build_object('uprn', 'U' || (b * 500 + i)))
      FROM generate_series(1, 500) i));
    PERFORM dataplatform.push('ct-big', (SELECT jsonb_agg(jsonb_build_object('id', 'I' || (b * 500 + i),
      'code', 'C' || (b * 500 + i), 'uprn', 'U' || (b * 500 + i))) FROM generate_series(1, 500) i));
  END LOOP;
END $$;
ANALYZE dp_clean.ct_big, dp_clean.ct_big_ref;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
CREATE TEMP TABLE seq_before AS
  SELECT relid, relname AS rel, seq_scan, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS tup_read
    FROM pg_stat_user_tables WHERE schemaname = 'dp_clean' AND relname IN ('ct_big', 'ct_big_ref');
SELECT dataplatform.push('ct-big', '[{"id": "I1", "code": "C2", "uprn": "U1"}, {"id": "N1", "code": "C3", "uprn": "U99999"},
  {"id": "N2", "code": "new", "uprn": "U9"}]') AS b5 \gset
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT b.rel, s.seq_scan - b.seq_scan AS whole_table_scans,
       coalesce(s.seq_tup_read, 0) + coalesce(s.idx_tup_fetch, 0) - b.tup_read < 50 AS few_tuples_read
  FROM seq_before b JOIN pg_stat_user_tables s USING (relid) ORDER BY 1;
SELECT * FROM dp_test.issues('ct-big', :b5);
