-- Fuzz-style regression: a few hundred generated malformed payloads, specs
-- and configurations.  Each must end in success or in a clean error with a
-- specific SQLSTATE, never an internal error, and the server must survive
-- (the harness checks the server log for crashes after the suites).
\set VERBOSITY terse
SELECT setseed(0.42);

SELECT name FROM dataplatform.define_product('fuzz');
SELECT dataplatform.define_dataset('{"dataset": "fuzzed", "product": "fuzz", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "name", "datatype": "string"},
             {"name": "when", "datatype": "date"}, {"name": "amount", "datatype": "decimal"},
             {"name": "flag", "datatype": "flag"}, {"name": "doc", "datatype": "json"}]}');

-- mutate a text: insert, delete or duplicate pieces at random places
CREATE FUNCTION dp_test.mutate(s text, n int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	bits text[] := ARRAY['"', ',', E'\n', E'\r', ';', E'\t', '{', '}', '[', ']', ':', '\', 'x',
						 E'\u00a0', 'null', '-1e999', '""', '"",', E'\ufeff', repeat('z', 300)];
	p int;
BEGIN
	FOR k IN 1..n LOOP
		p := 1 + floor(random() * greatest(length(s), 1))::int;
		CASE floor(random() * 3)::int
			WHEN 0 THEN s := overlay(s placing bits[1 + floor(random() * array_length(bits, 1))::int] from p for 0);
			WHEN 1 THEN s := overlay(s placing '' from p for 1 + floor(random() * 5)::int);
			ELSE s := s || substr(s, p, 1 + floor(random() * 20)::int);
		END CASE;
	END LOOP;
	RETURN s;
END $$;

CREATE TABLE dp_test.outcome (kind text, sqlstate text);
CREATE FUNCTION dp_test.attempt(kind text, q text, arg text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
	EXECUTE q USING arg;
	INSERT INTO dp_test.outcome VALUES (kind, '00000');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE;
	INSERT INTO dp_test.outcome VALUES (kind, s);
END $$;

DO $$
DECLARE
	csv text := E'id,name,when,amount,flag,doc\n1,"Ann, A",02/01/2020,"1,200.50",yes,"{""a"": 1}"\n2,Bob,2020-13-12,x,no,[1\n3,"multi\nline",,12,,\n';
	js text := '[{"id": 1, "name": "Ann", "when": "02/01/2020", "amount": "£5", "flag": "Y", "doc": {"a": [1, 2]}}, {"id": "2", "name": null, "extra": [1, {"b": null}]}]';
	spec text := '{"dataset": "fuzzed", "product": "fuzz", "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}, {"name": "name", "datatype": "string", "codelist": ["A", "B"]}, {"name": "when", "datatype": "date", "pattern": "^2"}]}';
	cfg text := '{"column": {"Name": "name"}, "skip": ["^#"], "filter": {"name": "^A"}, "patch": [{"field": "name", "pattern": "^(a)(b)?", "replacement": "\\2\\1"}], "lookup": {"name": {"x": "y"}}, "default": {"when": {"value": "2020-01-01"}}}';
BEGIN
	FOR i IN 1..120 LOOP
		PERFORM dp_test.attempt('push_csv', 'SELECT dataplatform.push_csv(''fuzzed'', $1)', dp_test.mutate(csv, 1 + i % 6));
		PERFORM dp_test.attempt('check_csv', 'SELECT dataplatform.check_csv(''fuzzed'', $1, ''{"delimiter": ";"}'')', dp_test.mutate(csv, 1 + i % 4));
		PERFORM dp_test.attempt('push', 'SELECT dataplatform.push(''fuzzed'', $1::jsonb)', dp_test.mutate(js, 1 + i % 3));
	END LOOP;
	FOR i IN 1..80 LOOP
		PERFORM dp_test.attempt('define_dataset', 'SELECT dataplatform.define_dataset($1::jsonb, true)', dp_test.mutate(spec, 1 + i % 3));
		PERFORM dp_test.attempt('configure', 'SELECT dataplatform.configure(''fuzzed'', $1::jsonb)', dp_test.mutate(cfg, 1 + i % 3));
		PERFORM dp_test.attempt('check', 'SELECT dataplatform.check(''fuzzed'', $1::jsonb)', dp_test.mutate(js, 1 + i % 5));
	END LOOP;
END $$;

-- well-formed JSON of random shapes, and specs and configurations with
-- random values at their known paths
CREATE FUNCTION dp_test.random_json(depth int) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r int := floor(random() * (CASE WHEN depth > 2 THEN 7 ELSE 9 END))::int;
BEGIN
	RETURN CASE r
		WHEN 0 THEN 'null'::jsonb
		WHEN 1 THEN to_jsonb(random() > 0.5)
		WHEN 2 THEN to_jsonb(floor(random() * 1e6)::bigint - 500000)
		WHEN 3 THEN to_jsonb((random() * 1e30)::numeric)
		WHEN 4 THEN to_jsonb((ARRAY['', 'x', '02/01/2020', 'yes', '£1,200', E'a\tb', 'NA', '???', repeat('é', 200)])[1 + floor(random() * 9)::int])
		WHEN 5 THEN to_jsonb((ARRAY['id', 'name', 'when', 'amount', 'flag', 'doc', ''])[1 + floor(random() * 7)::int])
		WHEN 6 THEN '{}'::jsonb
		WHEN 7 THEN jsonb_build_array(dp_test.random_json(depth + 1), dp_test.random_json(depth + 1))
		ELSE jsonb_build_object((ARRAY['id', 'name', 'when', 'amount', 'flag', 'doc', 'zz', ''])[1 + floor(random() * 8)::int],
								dp_test.random_json(depth + 1),
								(ARRAY['id', 'name', 'extra'])[1 + floor(random() * 3)::int],
								dp_test.random_json(depth + 1))
	END;
END $$;

DO $$
DECLARE
	spec jsonb := '{"dataset": "fuzzed", "product": "fuzz", "key": ["id"], "fields": [{"name": "id", "datatype": "integer"}, {"name": "name", "datatype": "string"}]}';
	cfg jsonb := '{"column": {"Name": "name"}, "skip": ["^#"], "filter": {"name": "^A"}, "concat": {"name": {"fields": ["a"]}}, "patch": [{"field": "name", "pattern": "^a", "replacement": "b"}], "lookup": {"name": {"x": "y"}}, "default": {"name": {"value": "n"}}, "strict": true}';
	spec_paths text[] := ARRAY['{dataset}', '{product}', '{key}', '{key,0}', '{fields}', '{fields,0}',
		'{fields,1,name}', '{fields,1,datatype}', '{fields,1,codelist}', '{fields,1,pattern}',
		'{fields,1,minimum}', '{fields,1,required}', '{description}', '{fields,2}'];
	cfg_paths text[] := ARRAY['{column}', '{column,Name}', '{skip}', '{skip,0}', '{filter}', '{filter,name}',
		'{concat,name}', '{concat,name,fields}', '{patch,0}', '{patch,0,pattern}', '{patch,0,field}',
		'{lookup,name}', '{lookup,name,x}', '{default,name}', '{default,name,value}', '{strict}'];
BEGIN
	FOR i IN 1..100 LOOP
		PERFORM dp_test.attempt('push', 'SELECT dataplatform.push(''fuzzed'', $1::jsonb)',
			jsonb_build_array(dp_test.random_json(0), dp_test.random_json(1), jsonb_build_object('id', i, 'doc', dp_test.random_json(1)))::text);
		PERFORM dp_test.attempt('check', 'SELECT dataplatform.check(''fuzzed'', $1::jsonb)', dp_test.random_json(0)::text);
		PERFORM dp_test.attempt('define_dataset', 'SELECT dataplatform.define_dataset($1::jsonb)',
			jsonb_set(spec, spec_paths[1 + floor(random() * array_length(spec_paths, 1))::int]::text[], dp_test.random_json(1))::text);
		PERFORM dp_test.attempt('configure', 'SELECT dataplatform.configure(''fuzzed'', $1::jsonb)',
			jsonb_set(cfg, cfg_paths[1 + floor(random() * array_length(cfg_paths, 1))::int]::text[], dp_test.random_json(1))::text);
	END LOOP;
	PERFORM dataplatform.configure('fuzzed', '{}');
END $$;

SELECT count(*) AS attempts FROM dp_test.outcome;
-- no internal errors (XX), no system errors (58), no out-of-memory (53)
SELECT count(*) AS internal_errors FROM dp_test.outcome WHERE sqlstate LIKE 'XX%' OR sqlstate LIKE '58%' OR sqlstate LIKE '53%';
-- every kind had both successes and specific errors
SELECT kind, bool_or(sqlstate = '00000') AS some_ok, bool_or(sqlstate <> '00000') AS some_errors
  FROM dp_test.outcome GROUP BY kind ORDER BY kind;
-- the platform still works afterwards
SELECT dataplatform.push('fuzzed', '{"id": 99, "name": "after"}') > 0 AS still_works;
