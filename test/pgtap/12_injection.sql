-- Identifier injection: names in specs and views that could not be safe
-- identifiers are refused; source column names and values in pushes and
-- configurations are data, never SQL; nothing they spell is run.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(11);

CREATE TABLE public.victim (id int);
SET LOCAL dataplatform.environment = 'production';
SELECT lives_ok($$SELECT dataplatform.define_product('inj')$$, 'a product');
SELECT throws_ok($$SELECT dataplatform.define_dataset('{"dataset": "inj-bad", "product": "inj", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "Robert\"); DROP TABLE public.victim; --", "datatype": "string"}]}')$$,
  '42602', NULL, 'a field name that is SQL is refused');
SELECT throws_ok($$SELECT dataplatform.define_dataset('{"dataset": "x\"; DROP TABLE public.victim; --", "product": "inj", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}]}')$$, '42602', NULL, 'so is a dataset name');
SELECT lives_ok($$SELECT dataplatform.define_dataset('{"dataset": "inj-items", "product": "inj", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "Select From", "datatype": "string"}]}')$$,
  'a field name that is an SQL keyword is fine (quoted)');
SELECT lives_ok($$SELECT dataplatform.configure('inj-items', '{"column": {"Robert\"); DROP TABLE public.victim; --": "Select From"}}')$$,
  'a configuration mapping a source column whose name is SQL');
SELECT lives_ok($$SELECT dataplatform.push('inj-items', '[{"id": "k1''); DROP TABLE public.victim; --",
  "Robert\"); DROP TABLE public.victim; --": "v1", "x'' OR 1=1; DROP TABLE public.victim; --": "v"}]')$$,
  'a push whose keys and values are SQL');
SELECT lives_ok($$SELECT dataplatform.push_csv('inj-items', E'id,"x'' OR 1=1; DROP TABLE public.victim; --"\nk2,v2\n')$$,
  'a CSV push whose header is SQL');
SELECT results_eq($$SELECT id, select_from FROM dp_clean.inj_items ORDER BY id$$,
  $$VALUES ('k1''); DROP TABLE public.victim; --'::text, 'v1'::text), ('k2', NULL)$$,
  'the rows are stored as data, the mapped column mapped');
SELECT has_table('public', 'victim', 'the table those names spell out to drop is still there');
SELECT throws_ok($$SELECT dataplatform.publish('v"; DROP TABLE public.victim; --', 'inj-items')$$, '42602', NULL,
                 'a view name that is SQL is refused');
SELECT throws_ok($$SELECT dataplatform.publish('inj_v', 'SELECT id FROM inj_items; DROP TABLE public.victim')$$, '42809', NULL,
                 'a view source with a second statement is refused');

SELECT * FROM finish();
ROLLBACK;
