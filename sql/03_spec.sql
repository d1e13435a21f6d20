-- specifications: define_dataset, the generated tables, the catalog views
\set VERBOSITY terse

SELECT dataplatform.define_dataset('{
  "dataset": "tenure", "product": "housing", "title": "Tenure",
  "description": "Tenancies and leases",
  "key": ["id"],
  "fields": [
    {"name": "id", "datatype": "uuid"},
    {"name": "paymentReference", "datatype": "string", "description": "Rent account"},
    {"name": "startOfTenureDate", "datatype": "date"},
    {"name": "tenure-type", "datatype": "string", "codelist": ["SEC", "FLT"]},
    {"name": "rent", "datatype": "decimal", "minimum": 0, "maximum": 10000.5},
    {"name": "rooms", "datatype": "integer", "minimum": 1},
    {"name": "isActive", "datatype": "flag"},
    {"name": "lastUpdated", "datatype": "datetime"},
    {"name": "website", "datatype": "url"},
    {"name": "notes", "datatype": "text", "pattern": "^[^<>]*$"},
    {"name": "householdMembers", "datatype": "json", "pii": true, "required": true},
    {"name": "UPRN", "datatype": "integer"},
    {"name": "HTTPServer name", "datatype": "string"},
    {"name": "address.line1", "datatype": "string"}
  ]}');

-- one typed column per field, snake_case, key, lineage, comments
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       col_description(a.attrelid, a.attnum)
  FROM pg_attribute a
 WHERE a.attrelid = 'dp_clean.tenure'::regclass AND a.attnum > 0
 ORDER BY a.attnum;
SELECT obj_description('dp_clean.tenure'::regclass, 'pg_class');
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'dp_clean.tenure'::regclass;
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
  FROM pg_attribute a
 WHERE a.attrelid = 'dp_clean.tenure_history'::regclass AND a.attnum > 0
 ORDER BY a.attnum;

-- catalog views
SELECT name, product, version, key, field_count, clean_table, description
  FROM dataplatform.dataset;
SELECT dataset, ordinal, name, "column", datatype, is_key, required, pii, description, options
  FROM dataplatform.field ORDER BY dataset, ordinal;
SELECT dataset, version, change, changes, defined_by FROM dataplatform.spec_version;
SELECT dataplatform.describe('tenure') - 'fields';
SELECT jsonb_array_length(dataplatform.describe('tenure') -> 'fields');
SELECT dp_test.err($$SELECT dataplatform.describe('nope')$$);

-- an identical spec is a no-op returning the same version
SELECT dataplatform.define_dataset(dataplatform.describe('tenure') - 'version' - 'clean_table');
SELECT count(*) FROM dataplatform.spec_version WHERE dataset = 'tenure';

-- composite key, quoted identifiers, reserved words
SELECT dataplatform.define_dataset('{
  "dataset": "Rent Charge", "product": "housing",
  "key": ["tenure", "select"],
  "fields": [
    {"name": "tenure", "datatype": "uuid"},
    {"name": "select", "datatype": "date"},
    {"name": "Robert\"); DROP TABLE x; --", "datatype": "string"}
  ]}');
SELECT dataplatform.define_dataset('{
  "dataset": "Rent Charge", "product": "housing",
  "key": ["tenure", "select"],
  "fields": [
    {"name": "tenure", "datatype": "uuid"},
    {"name": "select", "datatype": "date"},
    {"name": "amount", "datatype": "decimal"}
  ]}');
\d dp_clean.rent_charge

-- bad specifications: each its own error, nothing written
SELECT dp_test.err($$SELECT dataplatform.define_dataset('not json')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('[1]')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('"tenure"')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": 5, "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": [], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": "id", "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": []}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": {"id": "uuid"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": ["id"]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}], "colour": "red"}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "guid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid", "uniqe": true}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "id", "datatype": "string"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "startDate", "datatype": "date"}, {"name": "start-date", "datatype": "date"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["uid"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id", "id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid", "required": false}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "caf\u00e9", "datatype": "string"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "1st", "datatype": "string"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "--", "datatype": "string"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_build_object('dataset', 'x', 'product', 'housing', 'key', '["id"]'::jsonb, 'fields', jsonb_build_array(jsonb_build_object('name', 'id', 'datatype', 'uuid'), jsonb_build_object('name', repeat('long', 20), 'datatype', 'string'))))$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "bad name!", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset(jsonb_build_object('dataset', repeat('d', 56), 'product', 'housing', 'key', '["id"]'::jsonb, 'fields', '[{"name": "id", "datatype": "uuid"}]'::jsonb))$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "t", "datatype": "string", "codelist": []}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "t", "datatype": "string", "codelist": "SEC"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "t", "datatype": "string", "codelist": ["Secure tenancy", "secure-TENANCY"]}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "t", "datatype": "integer", "codelist": ["1"]}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "t", "datatype": "string", "pattern": "(unclosed"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "t", "datatype": "json", "pattern": "x"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "t", "datatype": "string", "minimum": 1}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "t", "datatype": "integer", "minimum": 10, "maximum": 1}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}, {"name": "t", "datatype": "integer", "minimum": "1"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid", "required": "yes"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid", "description": 1}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "nope", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "x", "product": "planning-2", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
-- table names must not collide
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "rent-charge", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "tenure_history", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
CREATE TABLE dp_clean.squatter (id int);
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "squatter", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
DROP TABLE dp_clean.squatter;
SELECT dp_test.err($$SELECT dataplatform.define_dataset(NULL)$$);

-- nothing half-written
SELECT name FROM dataplatform.dataset ORDER BY 1;
SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'dp_clean' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1;

-- only admins define datasets; producers may describe
SET ROLE dp_t_plain;
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "y", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.describe('tenure')$$);
SET ROLE dp_t_producer;
SELECT dp_test.err($$SELECT dataplatform.define_dataset('{"dataset": "y", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}')$$);
SELECT dataplatform.describe('tenure') ->> 'version';
SELECT dp_test.err($$SELECT * FROM dp_clean.tenure$$);
SET ROLE dp_t_admin;
SELECT dataplatform.define_dataset('{"dataset": "y", "product": "housing", "key": ["id"], "fields": [{"name": "id", "datatype": "uuid"}]}');
SELECT count(*) FROM dp_clean.y;
RESET ROLE;
