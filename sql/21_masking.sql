-- column-level consumer access: PII columns of published views are masked
-- (a keyed token of the same type) for consumers granted without pii, through
-- every way of reading; real values for those granted with pii
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SET dataplatform.environment = 'production';
-- a fixed masking key, so the tokens below are stable (a superuser may set it)
UPDATE dp_consumer_data.mask_key SET key = 'regress-mask-key';
SELECT name FROM dataplatform.define_product('residents');
SELECT dataplatform.define_dataset($${"dataset": "tenant", "product": "residents", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"},
             {"name": "name", "datatype": "string", "pii": true},
             {"name": "born", "datatype": "date", "pii": true},
             {"name": "person-id", "datatype": "uuid", "pii": true},
             {"name": "ward", "datatype": "string"},
             {"name": "rooms", "datatype": "integer"}]}$$);
SELECT dataplatform.push('tenant', $$[
  {"id": 1, "name": "Zebedee Quixotic", "born": "1961-07-14", "person-id": "0b1e6f7a-5d2c-4b8e-8f3a-2c9d7e1f4a55", "ward": "Dalston", "rooms": 2},
  {"id": 2, "name": "Ada Lovelace", "born": "1815-12-10", "ward": "Hackney Central", "rooms": 3},
  {"id": 3, "name": "Zebedee Quixotic", "born": "1990-01-01", "ward": "Dalston", "rooms": 1}]$$) > 0 AS pushed;
SELECT (dataplatform.publish('tenant', 'tenant') ->> 'status') AS published;
SELECT (dataplatform.publish('tenant_by_ward', $$SELECT ward, count(*) AS tenants, count(name) AS named,
          min(name) AS first_name_seen, sum(rooms) AS rooms FROM tenant GROUP BY ward$$) ->> 'status') AS published;
SELECT (dataplatform.publish('tenant_names', $$SELECT t.id, upper(t.name) AS shout, w.n
          FROM tenant t JOIN (SELECT ward, count(*) AS n FROM tenant GROUP BY ward) w USING (ward)$$,
          '{"key": "id"}') ->> 'status') AS published;
-- which columns are PII: those showing a PII field, through expressions and subqueries; counts are not
SELECT c.relname, a.attname, pg_get_viewdef(c.oid) LIKE '%mask(d.' || quote_ident(a.attname) || '%' AS masked
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'dp_consumer'::regnamespace AND c.relname IN ('tenant', 'tenant_by_ward', 'tenant_names')
 ORDER BY c.relname, a.attnum;

DROP ROLE IF EXISTS dp_t_masked, dp_t_pii;
CREATE ROLE dp_t_masked LOGIN;
CREATE ROLE dp_t_pii LOGIN;
SELECT dataplatform.grant_consumer('dp_t_masked');
SELECT dataplatform.grant_consumer('dp_t_pii', pii => true);

-- a consumer granted without pii: tokens, of the same type, the same for the same value
SET ROLE dp_t_masked;
SELECT dataplatform.sees_pii();
SELECT id, name ~ '^tok_[0-9a-f]{24}$' AS name_token, born, person_id IS NULL OR person_id::text ~ '^[0-9a-f-]{36}$' AS uuid_shaped,
       ward, rooms FROM dp_consumer.tenant ORDER BY id;
SELECT count(DISTINCT name) AS distinct_tokens FROM dp_consumer.tenant WHERE id IN (1, 3);
SELECT count(*) AS clear_values FROM dp_consumer.tenant WHERE name LIKE '%Zebedee%' OR name LIKE '%Lovelace%';
SELECT ward, tenants, named, first_name_seen ~ '^tok_' AS first_masked, rooms FROM dp_consumer.tenant_by_ward ORDER BY ward;
SELECT id, shout ~ '^tok_' AS shout_masked, n FROM dp_consumer.tenant_names ORDER BY id;
-- COPY, cursors, prepared statements, views on top, export: still masked
COPY (SELECT name FROM dp_consumer.tenant ORDER BY id) TO STDOUT;
BEGIN;
DECLARE c CURSOR FOR SELECT name FROM dp_consumer.tenant ORDER BY id;
FETCH 1 FROM c;
COMMIT;
PREPARE p AS SELECT name FROM dp_consumer.tenant WHERE id = $1;
EXECUTE p(1);
DEALLOCATE p;
CREATE TEMP VIEW mine AS SELECT name, born FROM dp_consumer.tenant;
SELECT count(*) FILTER (WHERE name LIKE 'Zebedee%') AS clear_through_view FROM mine;
SELECT position('Zebedee' IN dataplatform.export('tenant')) AS clear_in_csv_export,
       position('Zebedee' IN dataplatform.export('tenant', 'json')) AS clear_in_json_export;
SELECT position('1961-07-14' IN dataplatform.export('tenant')) AS date_in_export;
-- nor can the key or the rows behind be read, nor guessed values tokenised
SELECT dp_test.err($$SELECT * FROM dp_consumer_data.mask_key$$);
SELECT dp_test.err($$SELECT * FROM dp_consumer_data.tenant$$);
SELECT dp_test.err($$SELECT * FROM dp_clean.tenant$$);
SELECT dataplatform.mask('Zebedee Quixotic'::text, 'a guess') = (SELECT name FROM dp_consumer.tenant WHERE id = 1) AS guessed;
-- a filter on a masked column sees the token, not the value
SELECT count(*) AS matched_by_value FROM dp_consumer.tenant WHERE name = 'Zebedee Quixotic';
RESET ROLE;

-- a consumer granted with pii, an admin: real values
SET ROLE dp_t_pii;
SELECT dataplatform.sees_pii();
SELECT id, name, born, ward FROM dp_consumer.tenant ORDER BY id;
SELECT position('Zebedee' IN dataplatform.export('tenant')) > 0 AS clear_in_export;
RESET ROLE;
SET ROLE dp_t_admin;
SELECT name FROM dp_consumer.tenant WHERE id = 2;
RESET ROLE;
-- re-granting changes the right; revoking takes both
SELECT dataplatform.grant_consumer('dp_t_pii', pii => false);
SET ROLE dp_t_pii;
SELECT name ~ '^tok_' AS masked_again FROM dp_consumer.tenant WHERE id = 2;
RESET ROLE;
SELECT dataplatform.revoke_consumer('dp_t_pii');
SELECT pg_has_role('dp_t_pii', 'dataplatform_consumer_pii', 'MEMBER') AS pii_member,
       pg_has_role('dp_t_pii', 'dataplatform_consumer', 'MEMBER') AS consumer_member;
-- masking follows refreshes and replacement
SELECT dataplatform.push('tenant', '{"id": 4, "name": "New Person", "ward": "Dalston", "rooms": 2}') > 0 AS pushed;
SELECT dataplatform.refresh('tenant') ->> 'status' AS refreshed;
SET ROLE dp_t_masked;
SELECT id, name ~ '^tok_' AS masked FROM dp_consumer.tenant WHERE id = 4;
RESET ROLE;
-- a view a consumer built on top holds the published view: replacing it is refused, nothing changes
SELECT dp_test.err($q$SELECT dataplatform.publish('tenant', $$SELECT id, name, ward FROM tenant$$, '{"replace": true}')$q$);
SELECT dp_test.err($$SELECT dataplatform.unpublish('tenant')$$);
DROP VIEW mine;
SELECT dataplatform.publish('tenant', $$SELECT id, name, ward FROM tenant$$, '{"replace": true}') ->> 'status' AS replaced;
SET ROLE dp_t_masked;
SELECT id, name ~ '^tok_' AS masked, ward FROM dp_consumer.tenant WHERE id = 1;
RESET ROLE;
SELECT dataplatform.unpublish('tenant_names');
SELECT count(*) AS left_behind FROM pg_class WHERE relname = 'tenant_names'
   AND relnamespace IN ('dp_consumer'::regnamespace, 'dp_consumer_data'::regnamespace);
SELECT dataplatform.revoke_consumer('dp_t_masked');
DROP ROLE dp_t_masked, dp_t_pii;
RESET dataplatform.environment;
