-- environments: outside production, values of PII fields are replaced by
-- keyed tokens before anything is stored; in production they are untouched
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SELECT name FROM dataplatform.define_product('people');
SELECT dataplatform.define_dataset($${"dataset": "resident", "product": "people", "key": ["ref"],
  "fields": [{"name": "ref", "datatype": "string"},
             {"name": "name", "datatype": "string", "pii": true},
             {"name": "email", "datatype": "string", "pii": true, "pattern": "^[^@ ]+@[^@ ]+$"},
             {"name": "born", "datatype": "date", "pii": true},
             {"name": "phone", "datatype": "integer", "pii": true},
             {"name": "person-id", "datatype": "uuid", "pii": true},
             {"name": "home", "datatype": "url", "pii": true},
             {"name": "contacts", "datatype": "json", "pii": true},
             {"name": "ward", "datatype": "string"}]}$$);
SHOW dataplatform.environment;

-- outside production without a key: refused, nothing stored
SELECT dp_test.err($$SELECT dataplatform.push('resident', '{"ref": "R1", "name": "Zebedee Quixotic"}')$$);
SELECT count(*) AS batches FROM dataplatform.batch WHERE dataset = 'resident';

-- staging with a key
SET dataplatform.environment = 'staging';
SET dataplatform.obfuscation_key = 'regress-key-1';
SELECT dataplatform.push('resident', $$[
  {"ref": "R1", "name": " Zebedee Quixotic ", "email": "zebedee@example.org", "born": "14/07/1961",
   "phone": "07700900123", "person-id": "0b1e6f7a-5d2c-4b8e-8f3a-2c9d7e1f4a55",
   "home": "https://zebedee.example.org/", "contacts": {"phones": ["07700 900123"], "age": 63, "carer": true, "nick": null},
   "ward": "Hackney Central"},
  {"ref": "R2", "name": "N/A", "born": "the day before yesterday", "ward": "Dalston"}]$$) AS b1 \gset
-- a CSV push, with a comment line a skip pattern drops (landed raw as a token)
SELECT dataplatform.configure('resident', '{"skip": ["^#"]}');
SELECT dataplatform.push_csv('resident', E'ref,Name,born,ward\nR3,Zebedee Quixotic,1961-07-14,Hackney Central\n#,Zebedee Quixotic was here\n') AS b2 \gset
SELECT ref, name, email, born, phone, person_id, home, contacts, ward FROM dp_clean.resident ORDER BY ref;
-- tokens are stable: the same name in JSON and CSV, trimmed, gives the same token
SELECT count(DISTINCT name) AS tokens, min(name) ~ '^tok_[0-9a-f]{24}$' AS shaped
  FROM dp_clean.resident WHERE ref IN ('R1', 'R3');
-- an issue's value is the token, never the value sent
SELECT field, issue_type, value FROM dataplatform.issue WHERE batch_id IN (:b1, :b2)
 ORDER BY batch_id, row_number, field;
-- the comment line was skipped and, its cells being unknowable, not stored
SELECT rows, rows_skipped FROM dataplatform.batch WHERE id = :b2;
SELECT raw FROM dp_raw.rows WHERE batch_id = :b2 ORDER BY ordinal;
-- check obfuscates too (it shows what a push would store)
SELECT dataplatform.check('resident', '{"ref": "R9", "name": "Zebedee Quixotic", "born": "yesterday"}') -> 'issues';

-- no trace of the values anywhere in the extension's tables
CREATE FUNCTION dp_test.find(needle text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE r record; n bigint;
BEGIN
	FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
	          WHERE c.relkind = 'r' AND s.nspname IN ('dataplatform', 'dp_raw', 'dp_clean', 'dp_consumer')
	LOOP
		EXECUTE format('SELECT count(*) FROM %s t WHERE t::text ILIKE %L', r.rel, '%' || needle || '%') INTO n;
		IF n > 0 THEN RETURN NEXT r.rel::text || ': ' || n; END IF;
	END LOOP;
END $f$;
SELECT * FROM dp_test.find('Zebedee');
SELECT * FROM dp_test.find('Quixotic');
SELECT * FROM dp_test.find('07700');
SELECT * FROM dp_test.find('1961-07-14');
SELECT * FROM dp_test.find('14/07/1961');
SELECT * FROM dp_test.find('0b1e6f7a');
SELECT * FROM dp_test.find('zebedee@');

-- rebuild replays the stored tokens: nothing changes, nothing is obfuscated twice
CREATE TEMP TABLE before AS SELECT ref, name, born, contacts FROM dp_clean.resident;
SELECT dataplatform.rebuild('resident') ->> 'batches' AS rebuilt;
SELECT count(*) AS differences FROM (SELECT ref, name, born, contacts FROM dp_clean.resident
  EXCEPT SELECT * FROM before) d;

-- another key gives other tokens
SET dataplatform.obfuscation_key = 'regress-key-2';
SELECT dataplatform.push('resident', '{"ref": "R4", "name": "Zebedee Quixotic"}') AS b3 \gset
SELECT count(DISTINCT name) AS tokens FROM dp_clean.resident WHERE ref IN ('R3', 'R4');

-- change events outside production: the PII fields of each envelope's new
-- and old data become the tokens a push gives, before anything is stored
SELECT ordinal, event_id, outcome FROM dataplatform.apply_events('resident', $$[
  {"id": "e1", "eventType": "ResidentCreatedEvent", "dateTime": "2026-01-01T10:00:00Z", "entityId": "R6",
   "eventData": {"newData": {"ref": "R6", "Name": "Zebedee Quixotic", "born": "14/07/1961",
                             "contacts": {"phones": ["07700 900123"]}, "ward": "Dalston"}}},
  {"id": "e2", "eventType": "ResidentUpdatedEvent", "dateTime": "2026-01-02T10:00:00Z", "entityId": "R6",
   "eventData": {"oldData": {"name": "Zebedee Quixotic", "phone": "07700900123"},
                 "newData": {"email": "zebedee.quixotic", "phone": "07700900123"}}},
  {"id": "e3", "eventType": "ResidentUpdatedEvent", "dateTime": "2026-01-03T10:00:00Z", "entityId": "R4",
   "eventData": {"newData": {"born": "the day before yesterday"}}}]$$) ORDER BY ordinal;
-- the same value, pushed or sent as an event, gives the same token
SELECT e.name = p.name AS same_token, e.born, e.phone <> 7700900123 AS phone_token,
       e.email IS NULL AS bad_email_dropped, e.ward
  FROM dp_clean.resident e, dp_clean.resident p WHERE e.ref = 'R6' AND p.ref = 'R4';
SELECT count(*) AS versions FROM dp_clean.resident_history WHERE ref = 'R6';
-- an issue about an event's value names the token
SELECT field, issue_type, value ~ '^tok_[0-9a-f]{24}$' AS token FROM dataplatform.issue
 WHERE batch_id = (SELECT max(id) FROM dataplatform.batch WHERE dataset = 'resident') ORDER BY row_number, field;
-- a snapshot (merge) is obfuscated the same way
SELECT dataplatform.load_snapshot('resident', $$[{"ref": "R7", "name": "Zebedee Quixotic", "phone": "07700900123",
  "born": "14/07/1961"}]$$, '2026-01-04T00:00:00Z', 'merge') > 0 AS loaded;
SELECT s.name = e.name AS same_token, s.phone = e.phone AS same_phone_token, s.born
  FROM dp_clean.resident s, dp_clean.resident e WHERE s.ref = 'R7' AND e.ref = 'R6';
-- a rebuild replays pushes, events and the snapshot from raw: the same tokens, never obfuscated twice
CREATE TEMP TABLE before_events AS SELECT ref, name, email, born, phone, contacts, ward FROM dp_clean.resident;
SELECT dataplatform.rebuild('resident') ->> 'batches' AS rebuilt;
SELECT (SELECT count(*) FROM (SELECT ref, name, email, born, phone, contacts, ward FROM dp_clean.resident
          EXCEPT SELECT * FROM before_events) a)
     + (SELECT count(*) FROM (SELECT * FROM before_events
          EXCEPT SELECT ref, name, email, born, phone, contacts, ward FROM dp_clean.resident) b) AS differences;
-- raw, event log, history, issues, clean: no trace of the values sent
SELECT * FROM dp_test.find('Zebedee');
SELECT * FROM dp_test.find('07700');
SELECT * FROM dp_test.find('14/07/1961');
SELECT * FROM dp_test.find('day before');

-- production: values are stored as sent
SET dataplatform.environment = 'production';
SELECT dataplatform.push('resident', '{"ref": "R5", "name": "Zebedee Quixotic", "born": "1961-07-14"}') AS b4 \gset
SELECT ref, name, born FROM dp_clean.resident WHERE ref = 'R5';
-- datasets without PII fields need no key anywhere
RESET dataplatform.obfuscation_key;
SET dataplatform.environment = 'development';
SELECT dataplatform.define_dataset('{"dataset": "ward-list", "product": "people", "key": ["ward"],
  "fields": [{"name": "ward", "datatype": "string"}]}');
SELECT dataplatform.push('ward-list', '{"ward": "Dalston"}') > 0 AS pushed;

-- the settings are a superuser's
SELECT dp_test.err($$SET dataplatform.environment = 'prod'$$);
SET ROLE dp_t_admin;
SELECT dp_test.err($$SET dataplatform.environment = 'production'$$);
SELECT dp_test.err($$SHOW dataplatform.obfuscation_key$$);
RESET ROLE;
RESET dataplatform.environment;
