-- generate(): realistic dummy rows that satisfy the spec, for development
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SELECT name FROM dataplatform.define_product('dummy');
SELECT dataplatform.define_dataset($${"dataset": "household", "product": "dummy", "key": ["id"],
  "fields": [{"name": "id", "datatype": "uuid"},
             {"name": "ref", "datatype": "string", "pattern": "^[A-Z][0-9]{8}$", "required": true},
             {"name": "firstName", "datatype": "string", "required": true, "pii": true},
             {"name": "surname", "datatype": "string", "required": true, "pii": true},
             {"name": "dateOfBirth", "datatype": "date", "pii": true},
             {"name": "email", "datatype": "string", "pii": true, "pattern": "^[^@ ]+@[^@ ]+$"},
             {"name": "phone", "datatype": "string", "pii": true},
             {"name": "address", "datatype": "string", "pii": true},
             {"name": "tenure-type", "datatype": "string", "codelist": ["SEC", "FLT", "INT"], "required": true},
             {"name": "weekly-rent", "datatype": "decimal", "minimum": 80, "maximum": 250},
             {"name": "rooms", "datatype": "integer", "minimum": 1, "maximum": 5},
             {"name": "is-active", "datatype": "flag"},
             {"name": "since", "datatype": "datetime"},
             {"name": "website", "datatype": "url"},
             {"name": "notes", "datatype": "text"},
             {"name": "extra", "datatype": "json"}]}$$);
-- development, no obfuscation key: the invented rows need none
SELECT dataplatform.generate('household', 500, 1) AS b1 \gset
SELECT rows, rows_loaded, rows_quarantined, issues_error, issues_warning FROM dataplatform.batch WHERE id = :b1;
SELECT count(*) AS rows, count(DISTINCT id) AS keys, count(DISTINCT surname) > 5 AS varied,
       bool_and(ref ~ '^[A-Z][0-9]{8}$') AS refs_fit, bool_and(tenure_type IN ('SEC', 'FLT', 'INT')) AS codelist,
       bool_and(weekly_rent BETWEEN 80 AND 250) AS rent_in_range, bool_and(rooms BETWEEN 1 AND 5) AS rooms_in_range,
       bool_and(email ~ '@example\.org$') AS emails, min(date_of_birth) >= '1936-01-01' AS born_after,
       max(date_of_birth) <= '2005-12-31' AS born_before,
       count(*) FILTER (WHERE notes IS NULL) BETWEEN 1 AND 150 AS some_optional_empty
  FROM dp_clean.household;
-- the same seed gives the same rows (and keys); another seed new keys
CREATE TEMP TABLE first_run AS SELECT * FROM dp_clean.household;
SELECT dataplatform.generate('household', 500, 1) AS b2 \gset
SELECT count(*) AS differences FROM (SELECT id, ref, surname, weekly_rent FROM dp_clean.household
  EXCEPT SELECT id, ref, surname, weekly_rent FROM first_run) d;
SELECT dataplatform.generate('household', 10, 2) > 0 AS generated;
SELECT count(*) AS rows FROM dp_clean.household;
-- a string key and an integer key
SELECT dataplatform.define_dataset('{"dataset": "meter", "product": "dummy", "key": ["serial", "n"],
  "fields": [{"name": "serial", "datatype": "string"}, {"name": "n", "datatype": "integer"},
             {"name": "age", "datatype": "integer"}]}');
SELECT dataplatform.generate('meter', 3, 7) > 0 AS generated;
SELECT serial, n, age BETWEEN 18 AND 95 AS age_ok FROM dp_clean.meter ORDER BY n;
-- errors
SELECT dp_test.err($$SELECT dataplatform.generate('nosuch', 1)$$);
SELECT dp_test.err($$SELECT dataplatform.generate('meter', 0)$$);
SELECT dp_test.err($$SELECT dataplatform.generate('meter', 10, -1)$$);
SET dataplatform.environment = 'production';
SELECT dp_test.err($$SELECT dataplatform.generate('meter', 1)$$);
RESET dataplatform.environment;
SET ROLE dp_t_producer;
SELECT dp_test.err($$SELECT dataplatform.generate('meter', 1)$$);
RESET ROLE;
