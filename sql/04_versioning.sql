-- versioning: minor bumps alter in place; breaking changes need the flag,
-- bump the major version and migrate the table
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';

SELECT dataplatform.define_dataset('{
  "dataset": "asset", "product": "housing", "key": ["id"],
  "fields": [
    {"name": "id", "datatype": "string"},
    {"name": "floors", "datatype": "string"},
    {"name": "built", "datatype": "string"},
    {"name": "ward", "datatype": "string"},
    {"name": "old-code", "datatype": "string"}
  ]}');
INSERT INTO dp_clean.asset (id, floors, built, ward, old_code)
VALUES ('A1', '3', '1968-05-01', 'Hackney Central', 'x'),
       ('A2', '12', '2001-10-10', NULL, 'y');

-- the current spec, to edit with jsonb_set
CREATE FUNCTION dp_test.cur(ds text) RETURNS jsonb LANGUAGE sql
  AS $$ SELECT dataplatform.describe(ds) - 'version' - 'clean_table' $$;

-- minor: optional field added, descriptions changed, codelist added
SELECT dataplatform.define_dataset('{
  "dataset": "asset", "product": "housing", "key": ["id"], "description": "Homes",
  "fields": [
    {"name": "id", "datatype": "string"},
    {"name": "floors", "datatype": "string", "description": "Storeys"},
    {"name": "built", "datatype": "string"},
    {"name": "ward", "datatype": "string", "codelist": ["Hackney Central", "Dalston"]},
    {"name": "old-code", "datatype": "string"},
    {"name": "heating", "datatype": "string"}
  ]}');
SELECT col_description('dp_clean.asset'::regclass, 2), obj_description('dp_clean.asset'::regclass, 'pg_class');
SELECT attname FROM pg_attribute WHERE attrelid = 'dp_clean.asset_history'::regclass AND attname = 'heating';

-- breaking without the flag: refused, naming every breaking change
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{
  "dataset": "asset", "product": "housing", "key": ["id"], "description": "Homes",
  "fields": [
    {"name": "id", "datatype": "string"},
    {"name": "floors", "datatype": "integer", "description": "Storeys"},
    {"name": "built", "datatype": "date"},
    {"name": "ward", "datatype": "string", "codelist": ["Hackney Central", "Dalston"]},
    {"name": "heating", "datatype": "string"}
  ]}')$$);
-- a new required field is breaking, and impossible while records lack it
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields}', (dp_test.cur('asset') -> 'fields') || '[{"name": "uprn", "datatype": "integer", "required": true}]'))$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields}', (dp_test.cur('asset') -> 'fields') || '[{"name": "uprn", "datatype": "integer", "required": true}]'), true)$$);
-- making a field required is breaking, and impossible while a record lacks a value
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields,3,required}', 'true'))$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields,3,required}', 'true'), allow_breaking => true)$$);
-- product change and key change are breaking
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{product}', '"planning"'))$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{key}', '["floors"]'))$$);
SELECT version FROM dataplatform.dataset WHERE name = 'asset';
SELECT id, floors, built, ward, old_code, heating FROM dp_clean.asset ORDER BY id;

-- breaking with the flag: 2.0, columns retyped and dropped
SELECT dataplatform.define_dataset('{
  "dataset": "asset", "product": "housing", "key": ["id"], "description": "Homes",
  "fields": [
    {"name": "id", "datatype": "string"},
    {"name": "floors", "datatype": "integer", "description": "Storeys"},
    {"name": "built", "datatype": "date"},
    {"name": "ward", "datatype": "string", "codelist": ["Hackney Central", "Dalston"]},
    {"name": "heating", "datatype": "string"}
  ]}', allow_breaking => true);
SELECT id, floors, built, ward, heating FROM dp_clean.asset ORDER BY id;
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
 WHERE a.attrelid = 'dp_clean.asset'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;
-- history keeps the dropped column, retyped columns follow
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
 WHERE a.attrelid = 'dp_clean.asset_history'::regclass AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attname NOT LIKE '\_%' ORDER BY a.attnum;

-- a value the new datatype cannot read stops the migration and is named
INSERT INTO dp_clean.asset (id, floors, built, ward, heating) VALUES ('A3', 3, '1990-01-01', 'Dalston', 'gas');
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields,4,datatype}', '"flag"'), allow_breaking => true)$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields,0,datatype}', '"uuid"'), allow_breaking => true)$$);
-- a new key that is not unique
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{key}', '["floors"]'), allow_breaking => true)$$);
SELECT version FROM dataplatform.dataset WHERE name = 'asset';
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'dp_clean.asset'::regclass AND contype = 'p';

-- key change with unique values; then back, which makes "built" optional again
SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{key}', '["id", "built"]'), allow_breaking => true);
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'dp_clean.asset'::regclass AND contype = 'p';
SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{key}', '["id"]'), allow_breaking => true);
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'dp_clean.asset'::regclass AND contype = 'p';
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'dp_clean.asset'::regclass AND attname = 'built';

-- a field made required once every record has a value
UPDATE dp_clean.asset SET ward = 'Dalston' WHERE ward IS NULL;
SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields,3,required}', 'true'), allow_breaking => true);
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'dp_clean.asset'::regclass AND attname = 'ward';
-- and optional again: minor
SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields,3,required}', 'false'));
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'dp_clean.asset'::regclass AND attname = 'ward';

-- renaming a field to a name with the same column keeps the data (breaking)
SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields,4,name}', '"Heating"'), allow_breaking => true);
SELECT id, heating FROM dp_clean.asset ORDER BY id;

-- field order change is minor; the same spec again is a no-op
SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields}', (SELECT jsonb_agg(f ORDER BY f ->> 'name') FROM jsonb_array_elements(dp_test.cur('asset') -> 'fields') f)));
SELECT dataplatform.define_dataset(dp_test.cur('asset'));

-- a field removed and added back with another datatype: the history column follows
SELECT dataplatform.define_dataset(jsonb_set(dp_test.cur('asset'),
  '{fields}', (dp_test.cur('asset') -> 'fields') || '[{"name": "old-code", "datatype": "integer"}]'));
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
 WHERE a.attrelid = 'dp_clean.asset_history'::regclass AND a.attname = 'old_code';

SELECT version, change, changes FROM dataplatform.spec_version WHERE dataset = 'asset' ORDER BY major, minor;
SELECT version, key, field_count FROM dataplatform.dataset WHERE name = 'asset';
SELECT action, object, detail ->> 'version' AS version FROM dataplatform.audit_log
 WHERE action = 'define_dataset' AND object = 'asset' ORDER BY id;
