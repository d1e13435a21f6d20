-- push: the values stored in the clean table (read from their harmonised
-- spellings in C), updates of stored keys (written in C: compared with
-- each type's equality, the replaced version moved to _history), and a
-- dry run longer than one buffer
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';

SELECT name FROM dataplatform.define_product('values', '{"owner": "Values"}');
-- Typed values are read directly from their harmonised spellings (bulk.c):
-- each stored value equals the normalised text cast to the column's type,
-- to the byte (numeric's scale included), for spellings read directly and
-- for those that go through the type's input function (a decimal of more
-- than 15 digits)
SELECT dataplatform.define_dataset('{"dataset": "typed", "product": "values", "key": ["id"],
  "fields": [{"name": "id", "datatype": "uuid"}, {"name": "d", "datatype": "date"},
             {"name": "t", "datatype": "datetime"}, {"name": "n", "datatype": "decimal"},
             {"name": "i", "datatype": "integer"}, {"name": "f", "datatype": "flag"},
             {"name": "s", "datatype": "text"}]}') IS NOT NULL AS defined;
CREATE TABLE dp_test.typed_in AS
SELECT * FROM (VALUES
  ('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '2024-02-29', '2024-02-29T23:59:59.5Z', '0', '42', 'yes', 'héllo'),
  ('{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12}', '1800-01-01', '2024-01-01 00:00:00.123456+01:00', '-0.50', '-9223372036854775808', 'false', 'two  words'),
  ('a0eebc999c0b4ef8bb6d6bb9bd380a13', '31/12/2070', '1999-12-31T23:59:59Z', '123456789012345', '9223372036854775807', 'N', NULL),
  ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a14', '2000-01-01', '2024-06-01T12:00:00.000001Z', '1234567890123456.5', '0', 'TRUE', 'x'),
  ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a15', '1969-07-20', '1970-01-01T00:00:00Z', '-12.3400', '-1', 'no', ''),
  ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a16', '2060-02-29', '2024-03-01T00:00:00.1234567Z', '0.000001', '7', '1', 'z'),
  ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a17', '1900-03-01', '2038-01-19T03:14:08.25+05:30', '1,234.5', '1,000', '0', 'q')
) v(id, d, t, n, i, f, s);
SELECT dataplatform.push('typed', (SELECT jsonb_agg(jsonb_build_object('id', id, 'd', d, 't', t, 'n', n,
  'i', i, 'f', f, 's', s)) FROM dp_test.typed_in)) AS typed_batch \gset
SELECT rows, loaded, quarantined FROM dp_test.batch(:typed_batch);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE c.d IS NOT DISTINCT FROM (dataplatform.normalise('date', x.d)).value::date
                          AND c.t IS NOT DISTINCT FROM (dataplatform.normalise('datetime', x.t)).value::timestamptz
                          AND c.n::text IS NOT DISTINCT FROM (dataplatform.normalise('decimal', x.n)).value::numeric::text
                          AND c.i IS NOT DISTINCT FROM (dataplatform.normalise('integer', x.i)).value::bigint
                          AND c.f IS NOT DISTINCT FROM (dataplatform.normalise('flag', x.f)).value::boolean
                          AND c.s IS NOT DISTINCT FROM NULLIF((dataplatform.normalise('text', x.s)).value, '')
                          AND pg_catalog.numeric_send(c.n) IS NOT DISTINCT FROM
                              pg_catalog.numeric_send((dataplatform.normalise('decimal', x.n)).value::numeric)
                          AND pg_catalog.timestamptz_send(c.t) IS NOT DISTINCT FROM
                              pg_catalog.timestamptz_send((dataplatform.normalise('datetime', x.t)).value::timestamptz))
         AS equal_to_the_cast
  FROM dp_clean.typed c
  JOIN dp_test.typed_in x ON c.id = (dataplatform.normalise('uuid', x.id)).value::uuid;
SELECT id, d, t, n, i, f, s FROM dp_clean.typed ORDER BY id;

-- a second push: a value equal by its type's equality but spelled otherwise
-- (0 and 0.00) leaves its row alone; a changed text, a value given where
-- there was none, a value gone, and a new key
SELECT dataplatform.push('typed', '[
  {"id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "d": "2024-02-29", "t": "2024-02-29T23:59:59.5Z",
   "n": "0.00", "i": "42", "f": "yes", "s": "héllo"},
  {"id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12", "d": "1800-01-01", "t": "2023-12-31T23:00:00.123456Z",
   "n": "-0.5", "i": "-9223372036854775808", "f": "false", "s": "two other words"},
  {"id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13", "d": "2070-12-31", "t": "1999-12-31T23:59:59Z",
   "n": "123456789012345", "i": "9223372036854775807", "f": "N", "s": "now given"},
  {"id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a14", "d": "2000-01-01", "t": "2024-06-01T12:00:00.000001Z",
   "n": "1234567890123456.5", "f": "TRUE", "s": "x"},
  {"id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a18", "d": "2001-01-01", "s": "new"}
]') AS typed_batch2 \gset
SELECT rows, loaded, quarantined FROM dp_test.batch(:typed_batch2);
SELECT right(id::text, 2) AS id, n, i, s, _batch_id = :typed_batch2 AS this_batch,
       _updated_at = (SELECT received_at FROM dataplatform.batch WHERE id = :typed_batch2) AS updated_now,
       _row
  FROM dp_clean.typed ORDER BY id;
SELECT right(h.id::text, 2) AS id, h.n, h.i, h.s, h._operation, h._batch_id = :typed_batch AS from_batch1,
       h._closed_by_batch = :typed_batch2 AS closed_by_batch2, h._row,
       h._valid_from = (SELECT received_at FROM dataplatform.batch WHERE id = :typed_batch) AS from_ok,
       h._valid_to = (SELECT received_at FROM dataplatform.batch WHERE id = :typed_batch2) AS to_ok
  FROM dp_clean.typed_history h ORDER BY h._history_id;
-- a dry run of more rows than one buffer holds (20,000), the last row with
-- the key of the first: the rows reported after the first buffer keep
-- their own values (a key reported earlier starts a new slot, as a write's
-- flush does)
WITH r AS (
  SELECT dataplatform.check('typed', (SELECT jsonb_agg(jsonb_build_object(
           'id', md5(CASE WHEN g = 20006 THEN 1 ELSE g END::text)::uuid, 'i', g) ORDER BY g)
         FROM generate_series(1, 20006) g)) AS c)
SELECT (c ->> 'rows_in')::int AS rows_in, (c ->> 'rows_valid')::int AS rows_valid,
       (c ->> 'rows_replaced')::int AS rows_replaced, jsonb_array_length(c -> 'rows') AS rows_reported,
       (SELECT pg_catalog.array_agg((e ->> 'i')::int ORDER BY (e ->> 'i')::int)
          FROM jsonb_array_elements(c -> 'rows') e WHERE (e ->> 'i')::int > 20000) AS after_first_buffer
  FROM r;
-- raw: a push's elements are stored as sent, whatever their kind (an
-- asynchronous dataset keeps them until processed), in runs of at most
-- 1,000 rows or the first row past 1 MB; a CSV record's text as sent
SELECT dataplatform.define_dataset('{"dataset": "rawkinds", "product": "values", "key": ["a"],
  "fields": [{"name": "a", "datatype": "integer"}]}') IS NOT NULL AS defined;
SELECT dataplatform.configure('rawkinds', '{"processing": "async"}') IS NOT NULL AS configured;
\set payload '[1, "a", true, false, null, {"a": 1, "b": [1, {"c": null}]}, [2, 3], 1.5e30, -0.000001, "", {}, []]'
SELECT dataplatform.push('rawkinds', :'payload') AS raw_batch \gset
SELECT r.ordinal, r.data, r.data = e.v AS same
  FROM dp_raw.rows r JOIN jsonb_array_elements(:'payload') WITH ORDINALITY e(v, n) ON e.n = r.ordinal
 WHERE r.batch_id = :raw_batch ORDER BY r.ordinal;
CREATE TABLE dp_test.raw_big AS
SELECT i, CASE WHEN i % 3 = 0 THEN to_jsonb(i) WHEN i % 3 = 1 THEN to_jsonb(repeat('x', i % 50))
       ELSE jsonb_build_object('a', i, 'pad', repeat('y', 2000 + i)) END AS v
  FROM generate_series(1, 2500) i;
SELECT dataplatform.push('rawkinds', (SELECT jsonb_agg(v ORDER BY i) FROM dp_test.raw_big)) AS raw_batch2 \gset
SELECT first_ordinal, n FROM dp_raw.chunk WHERE batch_id = :raw_batch2 ORDER BY first_ordinal;
SELECT count(*) AS rows, bool_and(r.data = b.v) AS all_same
  FROM dp_raw.rows r JOIN dp_test.raw_big b ON b.i = r.ordinal WHERE r.batch_id = :raw_batch2;
SELECT dataplatform.process_queued('rawkinds') IS NOT NULL AS processed;
SELECT status, rows, rows_loaded, rows_quarantined FROM dataplatform.batch
 WHERE dataset = 'rawkinds' ORDER BY id;
SELECT dataplatform.define_dataset('{"dataset": "rawcsv", "product": "values", "key": ["a"],
  "fields": [{"name": "a", "datatype": "integer"}, {"name": "b", "datatype": "string"}]}') IS NOT NULL AS defined;
SELECT dataplatform.push_csv('rawcsv', E'a,b\n1,"x, ""quoted"""\r\n\n2,  spaced  \n3,"two\nlines"\n4,\n') AS csv_batch \gset
SELECT ordinal, line_number, raw FROM dp_raw.rows WHERE batch_id = :csv_batch ORDER BY ordinal;
-- a push parses its dataset's specification once per session, kept by the
-- stored specification's bytes: a new version defined in the same session
-- is the one the next push uses
SELECT dataplatform.define_dataset('{"dataset": "specnew", "product": "values", "key": ["a"],
  "fields": [{"name": "a", "datatype": "integer"}]}') AS version;
SELECT dataplatform.push('specnew', '[{"a": 1, "c": "first"}]') IS NOT NULL AS pushed;
SELECT dataplatform.define_dataset('{"dataset": "specnew", "product": "values", "key": ["a"],
  "fields": [{"name": "a", "datatype": "integer"}, {"name": "c", "datatype": "string"}]}') AS version;
SELECT dataplatform.push('specnew', '[{"a": 2, "c": "second"}]') IS NOT NULL AS pushed;
SELECT a, c FROM dp_clean.specnew ORDER BY a;
SELECT b.spec_version, count(i.*) AS issues
  FROM dataplatform.batch b LEFT JOIN dataplatform.issue i ON i.batch_id = b.id
 WHERE b.dataset = 'specnew' GROUP BY b.id, b.spec_version ORDER BY b.id;
