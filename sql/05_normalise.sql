-- normalise(): every datatype's accepted formats and issue types, constraints
\set VERBOSITY terse

CREATE FUNCTION dp_test.norm(dt text, vals text[], opts jsonb DEFAULT NULL)
RETURNS TABLE (input text, value text, issue text) LANGUAGE sql AS $$
  SELECT v, n.value, n.issue
    FROM unnest(vals) WITH ORDINALITY AS u(v, i),
         LATERAL dataplatform.normalise(dt, v, opts) n
   ORDER BY i $$;

-- date: ISO, compact, separators, UK day-first, swap only when impossible
SELECT * FROM dp_test.norm('date', ARRAY[
  '2020-01-02', '20200102', '20200102030459', '2020/01/02', '2020.01.02', '2020 01 02',
  '02/01/2020', '02.01.20', '02/01/20', '2-1-2020', '13/12/2020', '12/13/2020', '2020-13-12',
  '2 January 2020', '12 March 2020', 'Jan 2, 2020', '02-Jan-20', 'Jan-20', 'March 2020',
  '1969-07', '1969/07', '2020', '2020.0',
  '2024-03-04T09:15:02.4581234Z', '2024-03-04 09:15:02', '2024-03-04T23:30:00-05:00',
  'Thu, 11 Dec 2025 00:00:00 GMT', '1700000000', '1700000000000',
  '"2020-01-02"', ' 2020-01-02, ', E'\u00a02020-01-02\u00a0', '',  '   ']);
-- date: issues
SELECT * FROM dp_test.norm('date', ARRAY[
  '2019-02-29', '2020-02-30', '32/01/2020', '13/13/2020', 'foo', '2020-1', '1066-10-14',
  '1799-12-30', '1799-12-31', '2300-01-01', '99999999']);

-- datetime: the same inputs, as UTC timestamps
SELECT * FROM dp_test.norm('datetime', ARRAY[
  '2024-03-04T09:15:02.4581234Z', '2024-03-04 09:15:02', '2024-03-04T23:30:00-05:00',
  '2024-03-04T10:15:02+01:00', '02/01/2020', '2020-01-02', '20200102030459',
  'Thu, 11 Dec 2025 00:00:00 GMT', '1700000000', '1700000000123', 'soon', '2024-03-04T25:00:00']);

-- decimal
SELECT * FROM dp_test.norm('decimal', ARRAY[
  '12', '012.50', '1,200.00', '£1,200.50', '$5', E'\u20ac3.5', '1.5e3', '-0', ' 7 ',
  '0.1', '3.14159265', '2.0000005', '2.0000015', '-12.000', '123456789012345678901234567890.5',
  '12.5%', '1 200', 'foo', '1,5', 'NaN', '1e9999', '']);

-- integer
SELECT * FROM dp_test.norm('integer', ARRAY[
  '+7', ' 0123 ', '12.0', '-5', '9223372036854775807',
  '12.5', '1,000', '12foo', '9223372036854775808', 'seven', '']);

-- flag
SELECT * FROM dp_test.norm('flag', ARRAY[
  'yes', ' YES ', 'No', 'y', 'N', 'true', 'FALSE', '1', '0', 't', 'maybe', '2']);

-- url
SELECT * FROM dp_test.norm('url', ARRAY[
  'https://example.com', ' https://example.com/a b ', 'http://www.example.com/path?q=1',
  'example.com', 'www.example.com', 'not a url', 'https://', 'mailto:someone@example.com']);

-- string and text
SELECT input, value, issue FROM dp_test.norm('string', ARRAY[
  '  two  words ', E'tab\there', E'line\nbreak', E'non\u00a0breaking', 'plain']);
SELECT input, value, issue FROM dp_test.norm('text', ARRAY[
  E'  para one\nstill one\n\n\npara two  ', E'a\r\nb']);

-- uuid
SELECT * FROM dp_test.norm('uuid', ARRAY[
  '6F7AB8D2-1A3C-4C1E-9A43-0C5F0C8A7D11', '{6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11}',
  '6f7ab8d21a3c4c1e9a430c5f0c8a7d11', 'urn:uuid:6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11',
  '6f7ab8d2-1a3c-4c1e-9a43', 'not-a-uuid']);

-- json: must parse, kept as given
SELECT * FROM dp_test.norm('json', ARRAY[
  '{"a": [1, 2]}', ' [1,2] ', '"s"', '{"a": }', '{a: 1}']);

-- constraints: minimum / maximum, pattern, codelist
SELECT * FROM dp_test.norm('decimal', ARRAY['-1', '0', '10.5', '10.5000001', '11'],
                           '{"minimum": 0, "maximum": 10.5}');
SELECT * FROM dp_test.norm('integer', ARRAY['1', '5', '6'], '{"minimum": "1", "maximum": "5"}');
SELECT * FROM dp_test.norm('string', ARRAY['1234567890', '12345', 'abc'],
                           '{"pattern": "^[0-9]{10}$"}');
SELECT * FROM dp_test.norm('string', ARRAY['SEC', 'sec', ' Flt ', 'secure tenancy', 'Secure-Tenancy', 'XYZ'],
                           '{"codelist": ["SEC", "FLT", "secure-tenancy"]}');

-- NULL value: nothing to do; every issue type is in the catalogue
SELECT * FROM dataplatform.normalise('date', NULL);
SELECT count(*) = 0 AS all_known FROM (
  SELECT DISTINCT issue FROM dp_test.norm('date', ARRAY['foo', '1066-01-01', '2300-01-01'])
  WHERE issue NOT IN (SELECT name FROM dataplatform.issue_type)) x;
SELECT name, severity, description FROM dataplatform.issue_type ORDER BY name;

-- bad calls
SELECT dp_test.err($$SELECT dataplatform.normalise('dat', 'x')$$);
SELECT dp_test.err($$SELECT dataplatform.normalise(NULL, 'x')$$);
SELECT dp_test.err($$SELECT dataplatform.normalise('decimal', '1', '[1]')$$);
SELECT dp_test.err($$SELECT dataplatform.normalise('decimal', '1', '{"minimum": true}')$$);
SELECT dp_test.err($$SELECT dataplatform.normalise('string', 'x', '{"pattern": "("}')$$);
SELECT dp_test.err($$SELECT dataplatform.normalise('string', 'x', '{"codelist": []}')$$);
SELECT dp_test.err($$SELECT dataplatform.normalise('string', 'x', '{"colour": "red"}')$$);

-- usable by every platform role, not by others
SET ROLE dp_t_producer;
SELECT * FROM dataplatform.normalise('flag', 'Y');
RESET ROLE;
SET ROLE dp_t_plain;
SELECT dp_test.err($$SELECT dataplatform.normalise('flag', 'Y')$$);
RESET ROLE;
