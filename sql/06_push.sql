-- push, push_csv, configure, check, rebuild, purge_raw: the main data path
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';

SELECT name FROM dataplatform.define_product('estates', '{"owner": "Estates"}');
SELECT dataplatform.grant_producer('estates', 'dp_t_producer');
SELECT dataplatform.define_dataset('{
  "dataset": "block", "product": "estates", "key": ["ref"],
  "fields": [
    {"name": "ref", "datatype": "string"},
    {"name": "name", "datatype": "string", "required": true},
    {"name": "ward", "datatype": "string", "codelist": ["Hackney Central", "Dalston", "De Beauvoir"]},
    {"name": "grade", "datatype": "string"},
    {"name": "built", "datatype": "date"},
    {"name": "end-date", "datatype": "date"},
    {"name": "floors", "datatype": "integer", "minimum": 1},
    {"name": "rent", "datatype": "decimal", "minimum": 0},
    {"name": "lift", "datatype": "flag"},
    {"name": "inspected", "datatype": "datetime"},
    {"name": "website", "datatype": "url"},
    {"name": "uid", "datatype": "uuid"},
    {"name": "extra", "datatype": "json"},
    {"name": "address", "datatype": "text"},
    {"name": "lease-type", "datatype": "string"}
  ]}');

CREATE FUNCTION dp_test.clean() RETURNS TABLE (ref text, name text, ward text, grade text,
  built date, end_date date, floors bigint, rent numeric, lift boolean, inspected timestamptz,
  website text, uid uuid, extra jsonb, address text, lease_type text, batch bigint)
LANGUAGE sql AS $$
  SELECT ref, name, ward, grade, built, end_date, floors, rent, lift, inspected, website, uid,
         extra, address, lease_type, _batch_id FROM dp_clean.block ORDER BY ref $$;
CREATE FUNCTION dp_test.issues(b bigint) RETURNS TABLE (row_number bigint, line_number bigint,
  field text, issue_type text, severity text, value text, normalised_value text)
LANGUAGE sql AS $$
  SELECT row_number, line_number, field, issue_type, severity, value, normalised_value
    FROM dataplatform.issue WHERE batch_id = b
   ORDER BY row_number NULLS FIRST, field, issue_type $$;
CREATE FUNCTION dp_test.batch(b bigint) RETURNS TABLE (dataset text, kind text, pushed_by name,
  bytes bigint, rows bigint, status text, loaded bigint, quarantined bigint, skipped bigint,
  filtered bigint, errors bigint, warnings bigint, spec_version text, config_version int)
LANGUAGE sql AS $$
  SELECT dataset, kind, pushed_by, bytes, rows, status, rows_loaded, rows_quarantined,
         rows_skipped, rows_filtered, issues_error, issues_warning, spec_version, config_version
    FROM dataplatform.batch WHERE id = b $$;

-- a JSON push: every datatype, values in producers' shapes, bad values become issues
SELECT dataplatform.push('block', '[
  {"ref": "B1", "name": "  Ash   Court ", "ward": "hackney central", "built": "02/01/1968",
   "floors": "12", "rent": "£1,200.50", "lift": "Y", "inspected": "2024-03-04T09:15:02.4581234Z",
   "website": " https://example.org/ash ", "uid": "6F7AB8D2-1A3C-4C1E-9A43-0C5F0C8A7D11",
   "extra": {"towers": [1, 2]}, "address": "1 Ash Road\nLondon", "colour": "red"},
  {"ref": "B2", "name": "Birch House", "ward": "Shoreditch", "built": "31/02/1970",
   "floors": 0, "rent": 99.999, "lift": "maybe", "uid": "not-a-uuid", "website": "birch.example"},
  {"ref": "B3", "name": "N/A", "built": "1975"},
  {"ref": null, "name": "No Key"}
]') AS batch \gset
SELECT * FROM dp_test.batch(:batch);
SELECT * FROM dp_test.clean();
SELECT * FROM dp_test.issues(:batch);
SELECT column_mapping FROM dataplatform.batch WHERE id = :batch;
SELECT batch_id = :batch AS this_batch, row_number, data ->> 'name' AS name, issues
  FROM dataplatform.quarantine ORDER BY row_number;
-- raw holds every row exactly as received
SELECT ordinal, data FROM dp_raw.rows WHERE batch_id = :batch ORDER BY ordinal;

-- one object is one row; a later push replaces the row, the old version goes to history
SELECT dataplatform.push('block', '{"ref": "B1", "name": "Ash Court", "ward": "Dalston", "floors": 13}') AS batch2 \gset
SELECT ref, name, ward, floors, batch = :batch2 AS from_batch2 FROM dp_test.clean() WHERE ref = 'B1';
SELECT ref, name, ward, floors, _operation, _batch_id = :batch AS from_batch1,
       _valid_from IS NOT NULL AND _valid_to >= _valid_from AS valid_range
  FROM dp_clean.block_history ORDER BY _history_id;
-- an unchanged row is left alone: no history, lineage stays
SELECT dataplatform.push('block', '{"ref": "B1", "name": "Ash Court", "ward": "Dalston", "floors": 13}') AS batch3 \gset
SELECT count(*) AS history_rows FROM dp_clean.block_history;
SELECT batch = :batch2 AS still_from_batch2 FROM dp_test.clean() WHERE ref = 'B1';
-- the same payload has the same sha256, another payload another
SELECT count(DISTINCT sha256) AS hashes, min(length(sha256)) AS hex_digits,
       bool_and(bytes > 0) AS sized
  FROM dataplatform.batch WHERE id IN (:batch, :batch2, :batch3);

-- duplicate keys in one batch: the last one wins, and an issue says so
SELECT dataplatform.push('block', '[{"ref": "B9", "name": "First"}, {"ref": "b9", "name": "Other key"},
                                    {"ref": "B9", "name": "Second"}]') AS batch4 \gset
SELECT ref, name FROM dp_test.clean() WHERE ref IN ('B9', 'b9');
SELECT * FROM dp_test.issues(:batch4);
SELECT rows, loaded FROM dp_test.batch(:batch4);

-- push_csv: header, BOM, CRLF, quotes with delimiters, quotes and line breaks inside
SELECT dataplatform.push_csv('block', E'\xEF\xBB\xBFref,name,Floors,Address,Lease Type\r\n'
  'C1,"Cedar, Court",4,"1 Cedar Road\r\nLondon",SEC\r\n'
  'C2,"The ""Elms""",,,\r\n'
  '\r\n'
  'C3,Fir House,seven,,FLT') AS csv1 \gset
SELECT ref, name, floors, address, lease_type FROM dp_test.clean() WHERE ref LIKE 'C%';
SELECT * FROM dp_test.issues(:csv1);
SELECT ordinal, line_number, raw FROM dp_raw.rows WHERE batch_id = :csv1 ORDER BY ordinal;
SELECT kind, rows, loaded FROM dp_test.batch(:csv1);
SELECT source FROM dataplatform.batch WHERE id = :csv1;
-- semicolon and tab delimiters
SELECT dataplatform.push_csv('block', E'ref;name;rent\nD1;Dock House;"1.234,5"\nD2;Dene;12\n',
                             '{"delimiter": ";"}') AS csv2 \gset
SELECT ref, name, rent FROM dp_test.clean() WHERE ref LIKE 'D%';
SELECT * FROM dp_test.issues(:csv2);
SELECT dataplatform.push_csv('block', E'ref\tname\nE1\tElm\n', '{"delimiter": "tab"}') AS csv3 \gset
SELECT ref, name FROM dp_test.clean() WHERE ref = 'E1';

-- configuration: every rule, validated on write, versioned
SELECT dataplatform.configure('block', '{
  "column":  {"Block Ref": "ref", "Internal Notes": "IGNORE", "Storeys": "floors"},
  "skip":    ["^#", "^Total,"],
  "filter":  {"lease-type": "^(SEC|FLT)"},
  "concat":  {"address": {"fields": ["Line 1", "Line 2", "Town"], "separator": ", ",
                          "prepend": "[", "append": "]"}},
  "patch":   [{"field": "grade", "pattern": "^2 ?star$", "replacement": "II*"},
              {"field": "built", "pattern": "^Effective *(.*)$", "replacement": "\\1"},
              {"pattern": "^unknown$", "replacement": ""}],
  "lookup":  {"ward": {"Hackney Ctrl": "Hackney Central"}},
  "default": {"end-date": {"value": "31/12/2099"}, "name": {"field": "ref"}}
}');
SELECT dataplatform.configure('block', (SELECT config FROM dataplatform.datasets WHERE name = 'block'));
SELECT version, defined_by FROM dataplatform.config_version WHERE dataset = 'block' ORDER BY version;
SELECT dataplatform.push_csv('block', E'Block Ref,Name,Grade,Built,Ward,Storeys,Internal Notes,Line 1,Line 2,Town,Lease Type,Fax\n'
  '# a comment line,,,,,,,,,,,\n'
  '# a short comment: a skipped line may have any number of fields\n'
  'F1,,2 star,Effective 01/04/2001,Hackney Ctrl,3,secret,1 Fig Road,,London,SEC,0123\n'
  'F2,Fig Two,unknown,2001-04-02,Dalston,4,,,,,FLT lease,\n'
  'F3,Fig Three,II,2001-04-03,Dalston,5,,,,,LEA,\n'
  'Total,3,,,,,,,,,,\n') AS cfg1 \gset
SELECT ref, name, grade, built, end_date, ward, floors, address, lease_type FROM dp_test.clean() WHERE ref LIKE 'F%';
SELECT * FROM dp_test.issues(:cfg1);
SELECT rows, loaded, quarantined, skipped, filtered, config_version FROM dp_test.batch(:cfg1);
SELECT jsonb_pretty(column_mapping) FROM dataplatform.batch WHERE id = :cfg1;

-- strict: any error quarantines the row
SELECT dataplatform.configure('block', '{"strict": true}');
SELECT dataplatform.push('block', '[{"ref": "S1", "name": "Strict", "floors": "x"}, {"ref": "S2", "name": "Fine"}]') AS strict1 \gset
SELECT ref FROM dp_test.clean() WHERE ref LIKE 'S%';
SELECT row_number, issues FROM dataplatform.quarantine WHERE batch_id = :strict1;
SELECT dataplatform.configure('block', '{}');

-- check: the same transform, nothing written
SELECT count(*) AS batches_before FROM dataplatform.batch \gset
SELECT jsonb_pretty(dataplatform.check('block', '[{"ref": "K1", "name": "Kite", "floors": "2.0", "lift": "no", "built": "Jan 2, 2020", "rent": "bad", "x": 1}, {"name": "keyless"}]'));
SELECT dataplatform.check_csv('block', E'ref,name,rent\nK2,Kite Two,5\n') -> 'rows';
-- a day and month read the other way round is a warning, not an error
SELECT i ->> 'issue' AS issue, i ->> 'severity' AS severity, i ->> 'value' AS value, i ->> 'normalised' AS normalised
  FROM jsonb_array_elements(dataplatform.check('block', '[{"ref": "K3", "name": "Swap", "built": "12/13/2020"}, {"ref": "K4", "name": "No swap", "built": "13/12/2020"}]') -> 'issues') i;
SELECT count(*) = :batches_before AS nothing_written FROM dataplatform.batch;
SELECT count(*) AS k_rows FROM dp_clean.block WHERE ref LIKE 'K%';

-- rebuild: replay every raw batch under the current spec and configuration
-- (no configuration now: the "Block Ref" batch loses its keys, the strict
-- batch's row S1 now loads with its bad value dropped)
SELECT dataplatform.define_dataset(jsonb_set(dataplatform.describe('block') - 'version' - 'clean_table',
  '{fields,2,codelist}', '["Hackney Central", "Dalston", "De Beauvoir", "Shoreditch"]'));
SELECT dataplatform.rebuild('block') - 'dataset';
SELECT ref, ward FROM dp_test.clean() WHERE ref = 'B2';
-- the short comment line, no longer skipped, is quarantined rather than failing the rebuild
SELECT batch_id = :cfg1 AS cfg_batch, row_number, line_number, raw, issues -> 0 ->> 'issue' AS issue
  FROM dataplatform.quarantine WHERE issues -> 0 ->> 'issue' = 'malformed row';
SELECT string_agg(ref, ',' ORDER BY ref) AS refs FROM dp_clean.block;
SELECT count(*) AS history_rows FROM dp_clean.block_history;
SELECT count(*) AS ward_issues FROM dataplatform.issue i JOIN dataplatform.batch b ON b.id = i.batch_id
 WHERE b.dataset = 'block' AND i.issue_type = 'invalid category value';
SELECT DISTINCT spec_version FROM dataplatform.batch WHERE dataset = 'block';

-- status
SELECT dataset, version, rows_in_clean, batches, rows_quarantined, issues_error > 0 AS has_errors
  FROM dataplatform.status WHERE dataset = 'block';

-- raw is append-only, even for a superuser: the view dp_raw.rows and the
-- runs it reads, dp_raw.chunk (a view cannot be truncated at all)
SELECT dp_test.err($$UPDATE dp_raw.rows SET raw = 'x'$$);
SELECT dp_test.err($$DELETE FROM dp_raw.rows$$);
SELECT dp_test.err($$TRUNCATE dp_raw.rows$$);
SELECT dp_test.err($$UPDATE dp_raw.chunk SET raw = NULL$$);
SELECT dp_test.err($$DELETE FROM dp_raw.chunk$$);
SELECT dp_test.err($$TRUNCATE dp_raw.chunk$$);
-- a row inserted into the view (as a restored dump of 0.1 does) is kept
-- as a run of one, and reads back the same
BEGIN;
INSERT INTO dp_raw.rows (batch_id, ordinal, line_number, data, raw)
VALUES (-1, 1, 7, '{"a": 1}', 'a'), (-1, 2, NULL, NULL, 'b');
SELECT * FROM dp_raw.rows WHERE batch_id = -1 ORDER BY ordinal;
SELECT batch_id, first_ordinal, n FROM dp_raw.chunk WHERE batch_id = -1 ORDER BY first_ordinal;
ROLLBACK;
-- purge_raw is the one way out, and it is recorded
SELECT dataplatform.purge_raw('block', '1 day');
SELECT dataplatform.purge_raw('block', '-1 day') > 0 AS purged;
SELECT count(*) FROM dp_raw.rows r JOIN dataplatform.batch b ON b.id = r.batch_id WHERE b.dataset = 'block';
SELECT action, object FROM dataplatform.audit_log WHERE action = 'purge_raw' ORDER BY id;
SELECT dp_test.err($$SELECT dataplatform.rebuild('block')$$);

-- bad input: each an error, nothing of the batch left behind
SELECT count(*) AS batches_before FROM dataplatform.batch \gset
SELECT dp_test.err($$SELECT dataplatform.push('block', '[{"ref": "X1",')$$);
SELECT dp_test.err($$SELECT dataplatform.push('block', '"text"')$$);
SELECT dp_test.err($$SELECT dataplatform.push('block', '42')$$);
SELECT dp_test.err($$SELECT dataplatform.push('block', '[]')$$);
SELECT dp_test.err($$SELECT dataplatform.push('block', '[{"ref": "X1", "name": "ok"}, [1, 2]]')$$);
SELECT dp_test.err($$SELECT dataplatform.push('block', '[{"ref": "X1", "name": "ok"}, "row"]')$$);
SELECT dp_test.err($$SELECT dataplatform.push('block', NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.push(NULL, '[]')$$);
SELECT dp_test.err($$SELECT dataplatform.push('nope', '[{"a": 1}]')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', '')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'\n\n')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'ref,name\n')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'ref,name\nX1,"open\nX2,b\n')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'ref,name\nX1,a\nX2,b,c\n')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'ref,name\nX1\n')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'ref,ref\nX1,a\n')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'ref,,name\nX1,a,b\n')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'ref,name\n"X1"x,a\n')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'ref,name\nX1,a\n', '{"delimiter": "::"}')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'ref,name\nX1,a\n', '{"quote": ","}')$$);
SELECT dp_test.err($$SELECT dataplatform.push_csv('block', E'ref,name\nX1,a\n', '{"escape": "\\\\"}')$$);
SELECT count(*) = :batches_before AS nothing_left FROM dataplatform.batch;
SELECT count(*) AS x_rows FROM dp_clean.block WHERE ref LIKE 'X%';

-- bad configurations
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"colour": 1}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '[]')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"column": {"A": "nope"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"filter": {"nope": "^a"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"skip": ["(unclosed"]}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"skip": "^#"}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"patch": [{"field": "grade", "pattern": "[", "replacement": ""}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"patch": [{"field": "grade", "replacement": "x"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"patch": [{"field": "grade", "pattern": "a", "replacement": "b", "flags": "i"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"concat": {"address": {"fields": []}}}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"lookup": {"ward": {"a": 1}}}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"default": {"built": {"value": "soon"}}}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"default": {"built": {"value": "2020-01-01", "field": "ref"}}}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{"strict": "yes"}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('nope', '{}')$$);
SELECT dp_test.err($$SELECT dataplatform.configure('block', NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.check('block', '[1]')$$);

-- who may push: producers of the product; nobody else
SET ROLE dp_t_producer;
SELECT dataplatform.push('block', '{"ref": "P1", "name": "From a producer"}') > 0 AS pushed;
SELECT (dataplatform.check('block', '{"ref": "P2", "name": "Checked"}')) ->> 'rows_valid' AS checked;
SELECT dp_test.err($$SELECT dataplatform.configure('block', '{}')$$);
SELECT dp_test.err($$SELECT dataplatform.rebuild('block')$$);
SELECT dp_test.err($$SELECT * FROM dataplatform.batch$$);
RESET ROLE;
SET ROLE dp_t_other;
SELECT dp_test.err($$SELECT dataplatform.push('block', '{"ref": "P3", "name": "Not mine"}')$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION dataplatform.push(text, jsonb) TO dp_t_other;
SET ROLE dp_t_other;
SELECT dp_test.err($$SELECT dataplatform.push('block', '{"ref": "P3", "name": "Not mine"}')$$);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION dataplatform.push(text, jsonb) FROM dp_t_other;
SELECT pushed_by, kind FROM dataplatform.batch WHERE dataset = 'block' ORDER BY id DESC LIMIT 1;
SELECT action, role_name FROM dataplatform.audit_log WHERE action IN ('push', 'push_csv') ORDER BY id DESC LIMIT 1;

-- a batch larger than the write buffer (20,000 rows): flushed in parts,
-- with a duplicate key across a flush boundary
SELECT dataplatform.push('block',
  (SELECT jsonb_agg(jsonb_build_object('ref', 'L' || (i % 45000), 'name', 'Large ' || i,
                                       'floors', CASE WHEN i % 1000 = 0 THEN 'x' ELSE (i % 30 + 1)::text END))
     FROM generate_series(1, 45002) i)) AS large \gset
SELECT rows, loaded, quarantined, errors, warnings FROM dp_test.batch(:large);
SELECT count(*) AS l_rows, min(name), max(name) FROM dp_clean.block WHERE ref LIKE 'L%';
SELECT name FROM dp_clean.block WHERE ref IN ('L1', 'L2', 'L0') ORDER BY ref;
SELECT issue_type, count(*) FROM dataplatform.issue WHERE batch_id = :large GROUP BY 1 ORDER BY 1;
SELECT count(*) AS large_raw FROM dp_raw.rows WHERE batch_id = :large;

-- a flush whose first 64 keys are new writes the rest without probing: a
-- row whose key turns out to be stored is taken back and upserted, so the
-- outcome is that of probing every key (changed rows to history, unchanged
-- ones left alone, no key twice)
-- (the stored rows pushed again as they were received, from raw; every
-- second one with a new name)
SELECT dataplatform.push('block',
  (SELECT jsonb_agg(d ORDER BY o)
     FROM (SELECT jsonb_build_object('ref', 'T' || i, 'name', 'Taken ' || i) AS d, i AS o
             FROM generate_series(1, 70) i
           UNION ALL
           SELECT CASE WHEN i % 2 = 0 THEN r.data || jsonb_build_object('name', 'Changed ' || i) ELSE r.data END,
                  100 + i
             FROM generate_series(1, 10) i
             JOIN dp_raw.rows r ON r.batch_id = :large AND r.ordinal = CASE WHEN i <= 2 THEN 45000 + i ELSE i END) x))
  AS taken \gset
SELECT rows, loaded, quarantined, errors, warnings FROM dp_test.batch(:taken);
SELECT count(*) AS keys, count(DISTINCT ref) AS distinct_keys FROM dp_clean.block;
SELECT ref, name, _batch_id = :taken AS this_batch FROM dp_clean.block
 WHERE ref IN ('T1', 'T70', 'L1', 'L2', 'L9', 'L10') ORDER BY ref;
SELECT count(*) AS moved_to_history FROM dp_clean.block_history WHERE _closed_by_batch = :taken;
-- a flush whose first 64 keys are all stored goes to the upsert whole,
-- which inserts the new keys among the rest
SELECT dataplatform.push('block',
  (SELECT jsonb_agg(d ORDER BY o)
     FROM (SELECT jsonb_build_object('ref', 'T' || i, 'name', 'Taken ' || i) AS d, i AS o
             FROM generate_series(1, 70) i
           UNION ALL
           SELECT jsonb_build_object('ref', 'U' || i, 'name', 'Upserted ' || i), 100 + i
             FROM generate_series(1, 5) i) x)) AS upserted \gset
SELECT rows, loaded, quarantined, errors, warnings FROM dp_test.batch(:upserted);
SELECT count(*) AS keys, count(DISTINCT ref) AS distinct_keys FROM dp_clean.block;
SELECT ref, name, _batch_id = :upserted AS this_batch FROM dp_clean.block
 WHERE ref IN ('T1', 'T70', 'U1', 'U5') ORDER BY ref;
SELECT count(*) AS moved_to_history FROM dp_clean.block_history WHERE _closed_by_batch = :upserted;
