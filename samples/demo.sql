-- The demo behind `make demo`: define data products and datasets from the
-- bundled specification files, push the bundled sample data (with the bad
-- values real producers send) and show what happened in each layer.
-- Run from samples/ (files are read relative to it).
\pset footer off
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION dataplatform;
-- this throwaway cluster plays production (real values stored as sent); the
-- staging run at the end shows PII obfuscated
SET dataplatform.environment = 'production';

\echo
\echo '== data products'
SELECT name, status, owner FROM dataplatform.define_product('housing',
  '{"description": "Council housing: tenures, people, assets", "domain": "housing",
    "owner": "Housing Data Team", "email": "housing-data@example.gov.uk",
    "status": "published", "retention_days": 2555, "tags": ["housing", "tenure"]}');
SELECT name, status, owner FROM dataplatform.define_product('planning',
  '{"description": "Planning designations", "domain": "planning",
    "owner": "Planning Data Team", "email": "planning-data@example.gov.uk"}');

\echo
\echo '== specifications (samples/specs/*.json) -> versions'
\set spec `cat specs/tenure.json`
SELECT 'tenure' AS dataset, dataplatform.define_dataset(:'spec') AS version;
\set spec `cat specs/person.json`
SELECT 'person' AS dataset, dataplatform.define_dataset(:'spec') AS version;
\set spec `cat specs/conservation-area.json`
SELECT 'conservation-area' AS dataset, dataplatform.define_dataset(:'spec') AS version;

\echo
\echo '== an additive change is a minor version'
SELECT dataplatform.define_dataset(
  jsonb_set(:'spec'::jsonb, '{fields}',
            (:'spec'::jsonb -> 'fields') || '[{"name": "entry-date", "datatype": "date"}]')) AS version;

\echo
\echo '== a breaking change is refused without allow_breaking'
\set ON_ERROR_STOP off
SELECT dataplatform.define_dataset(
  jsonb_set(dataplatform.describe('conservation-area') - 'version' - 'clean_table',
            '{fields,7,datatype}', '"integer"'));
\set ON_ERROR_STOP on

\echo
\echo '== catalog: dataplatform.product, dataplatform.dataset'
SELECT name, status, datasets, tags FROM dataplatform.product ORDER BY name;
SELECT name, product, version, key, field_count, clean_table FROM dataplatform.dataset ORDER BY name;

\echo
\echo '== fields of tenure (dataplatform.field)'
SELECT name, "column", datatype, is_key, required, pii, options
  FROM dataplatform.field WHERE dataset = 'tenure' ORDER BY ordinal;

\echo
\echo '== generated clean tables'
\d+ dp_clean.tenure
\d dp_clean.tenure_history
\d+ dp_clean.conservation_area

\echo
\echo '== version history (dataplatform.spec_version)'
SELECT dataset, version, change, changes FROM dataplatform.spec_version ORDER BY dataset, major, minor;

\echo
\echo '== configuration for the planning CSV (dataplatform.configure)'
SELECT dataplatform.configure('conservation-area', '{
  "column": {"Area (ha)": "area-hectares", "Organisation": "IGNORE"},
  "skip": ["^#"],
  "patch": [{"field": "designation-date", "pattern": "^Effective *(.*)$", "replacement": "\\1"}],
  "default": {"start-date": {"field": "designation-date"}}
}') AS config_version;

\echo
\echo '== push: tenure as JSON (samples/data/tenure.json), conservation areas as CSV'
\set rows `cat data/tenure.json`
SELECT dataplatform.push('tenure', :'rows') AS tenure_batch \gset
\set csv `cat data/conservation-area.csv`
SELECT dataplatform.push_csv('conservation-area', :'csv') AS ca_batch \gset

\echo
\echo '== batches (dataplatform.batch)'
SELECT id, dataset, kind, rows, rows_loaded AS loaded, rows_quarantined AS quarantined,
       rows_skipped AS skipped, issues_error AS errors, issues_warning AS warnings, spec_version
  FROM dataplatform.batch ORDER BY id;

\echo
\echo '== raw layer (dp_raw.rows): every row exactly as received'
SELECT batch_id, ordinal, line_number, left(coalesce(raw, data::text), 70) AS received
  FROM dp_raw.rows ORDER BY batch_id, ordinal;

\echo
\echo '== issues (dataplatform.issue)'
SELECT batch_id AS batch, row_number AS row, line_number AS line, field, issue_type, severity,
       value, normalised_value
  FROM dataplatform.issue ORDER BY batch_id, row_number NULLS FIRST, field;

\echo
\echo '== quarantine (dataplatform.quarantine): rows kept out of clean'
SELECT batch_id AS batch, row_number AS row, left(coalesce(raw, data::text), 50) AS received,
       (SELECT string_agg(i ->> 'issue' || ' (' || (i ->> 'field') || ')', ', ') FROM jsonb_array_elements(issues) i) AS why
  FROM dataplatform.quarantine ORDER BY batch_id, row_number;

\echo
\echo '== clean layer: dp_clean.tenure (typed, keyed; the duplicate id kept the last row)'
SELECT id, payment_reference, tenure_type, start_of_tenure_date, end_of_tenure_date, is_active,
       weekly_rent, last_updated, _batch_id
  FROM dp_clean.tenure ORDER BY id;

\echo
\echo '== clean layer: dp_clean.conservation_area'
SELECT reference, name, documentation_url, designation_date, start_date, area_hectares,
       replace(notes, E'\n', ' / ') AS notes
  FROM dp_clean.conservation_area ORDER BY reference;

\echo
\echo '== a second push replaces a row; the old version goes to history'
SELECT dataplatform.push('tenure', '{"id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "paymentReference": "1000654321", "tenuredAssetId": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", "tenureType": "FLT", "weeklyRent": "101.25", "isActive": "no", "endOfTenureDate": "2024-06-30"}') AS batch;
SELECT id, weekly_rent, is_active, end_of_tenure_date, _batch_id AS batch FROM dp_clean.tenure
 WHERE id = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
SELECT id, weekly_rent, is_active, _operation, _batch_id AS batch, _valid_to IS NOT NULL AS closed
  FROM dp_clean.tenure_history ORDER BY _history_id;

\echo
\echo '== dynamic check (dataplatform.check): issues back at once, nothing written'
SELECT jsonb_pretty(dataplatform.check('tenure', '[{"id": "not-a-uuid", "tenuredAssetId": "0b1e6f7a-5d2c-4b8e-8f3a-2c9d7e1f4a55", "weeklyRent": "£1,000", "tenureType": "sec"}]') - 'column_mapping' - 'rows');

\echo
\echo '== snapshot + events: the Tenure API feed, a dataset with the tenure spec (tenure-feed)'
\set spec `cat specs/tenure.json`
SELECT dataplatform.define_dataset(jsonb_set(:'spec'::jsonb, '{dataset}', '"tenure-feed"')) AS version;
\echo '-- the initial snapshot, as of 2024-06-01 (samples/data/tenure-snapshot.json)'
\set snapshot `cat data/tenure-snapshot.json`
SELECT dataplatform.load_snapshot('tenure-feed', :'snapshot', '2024-06-01 00:00:00+00') AS snapshot_batch \gset
SELECT jsonb_pretty(dataplatform.resync_report(:snapshot_batch) - 'removed_by_resync');

\echo
\echo '== change events (samples/data/tenure-events.json): each event and its outcome'
\set events `cat data/tenure-events.json`
SELECT ordinal, left(event_id, 13) AS event, left(entity_id, 8) AS entity, event_type, outcome, detail
  FROM dataplatform.apply_events('tenure-feed', :'events') ORDER BY ordinal;

\echo
\echo '== the final state of dp_clean.tenure_feed, and the versions in its history'
SELECT left(id::text, 8) AS id, payment_reference, tenure_type, end_of_tenure_date, is_active,
       weekly_rent, _batch_id, left(_event_id, 13) AS event
  FROM dp_clean.tenure_feed ORDER BY id;
SELECT left(id::text, 8) AS id, weekly_rent, is_active, _operation, _valid_from, _valid_to,
       left(_closed_by_event, 13) AS closed_by_event
  FROM dp_clean.tenure_feed_history ORDER BY _history_id;

\echo
\echo '== a re-sync: a snapshot as of 2024-06-10 without tenure 1c2d3e4f closes it (kept in history)'
SELECT dataplatform.load_snapshot('tenure-feed',
  (SELECT jsonb_agg(r) FROM jsonb_array_elements(:'snapshot'::jsonb) r WHERE r ->> 'id' <> '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f'),
  '2024-06-10 00:00:00+00') AS resync_batch \gset
SELECT jsonb_pretty(dataplatform.resync_report(:resync_batch) - 'as_of' - 'mode');

\echo
\echo '== as_of: the tenures as they were on 2024-06-05'
SELECT j ->> 'id' AS id, j ->> 'weeklyRent' AS weekly_rent, j ->> 'isActive' AS active
  FROM dataplatform.as_of('tenure-feed', '2024-06-05 00:00:00+00') j;

\ir consumer_demo.sql

\echo
\echo '== status (dataplatform.status)'
SELECT dataset, version, rows_in_clean, batches, rows_quarantined, issues_error, issues_warning
  FROM dataplatform.status ORDER BY dataset;

\echo
\echo '== staging: PII fields (firstName, surname, dateOfBirth, email-address of person) are obfuscated'
\echo '-- before anything is stored: keyed tokens (the same value, the same token), dates generalised to the year'
SET dataplatform.environment = 'staging';
SET dataplatform.obfuscation_key = 'demo-key-not-for-real-use';
SELECT dataplatform.push('person', '[
  {"id": "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e", "title": "Ms", "firstName": "Ada", "surname": "Lovelace",
   "dateOfBirth": "10/12/1815", "email-address": "ada@example.org", "personTypes": ["Tenant"]},
  {"id": "6f7ab8d2-1a3c-4c1e-9a43-0c5f0c8a7d11", "title": "Mr", "firstName": "Charles", "surname": "Lovelace",
   "dateOfBirth": "1815-12-26", "email-address": "N/A", "personTypes": ["Householder"]}]') AS person_batch \gset
SELECT left(id::text, 8) AS id, title, first_name, surname, date_of_birth, email_address
  FROM dp_clean.person ORDER BY id;
\echo '-- the raw layer holds the tokens too'
SELECT ordinal, data ->> 'surname' AS surname, data ->> 'dateOfBirth' AS date_of_birth
  FROM dp_raw.rows WHERE batch_id = :person_batch ORDER BY ordinal;
\echo '-- rows of the extension holding "Lovelace" anywhere (raw, clean, history, issues, ...):'
SELECT count(*) AS rows_with_lovelace FROM (
  SELECT 1 FROM dp_raw.rows WHERE data::text LIKE '%Lovelace%'
  UNION ALL SELECT 1 FROM dp_clean.person p WHERE p::text LIKE '%Lovelace%'
  UNION ALL SELECT 1 FROM dp_clean.person_history h WHERE h::text LIKE '%Lovelace%'
  UNION ALL SELECT 1 FROM dataplatform.issue i WHERE i::text LIKE '%Lovelace%') x;
\echo '-- and dummy data for development (dataplatform.generate): invented, so stored as generated'
SELECT dataplatform.generate('person', 20, 1) AS dummy_batch \gset
SELECT rows, rows_loaded, issues_error FROM dataplatform.batch WHERE id = :dummy_batch;
SELECT title, first_name, surname, date_of_birth, email_address FROM dp_clean.person
 WHERE _batch_id = :dummy_batch ORDER BY id LIMIT 3;

\echo
\echo '== column-level access: person is published; its PII columns are masked for an analyst'
\echo '-- granted without pii (keyed tokens, dates to the year), real for a caseworker granted with pii'
SELECT dataplatform.publish('person', 'person') ->> 'status' AS published;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'demo_analyst') THEN CREATE ROLE demo_analyst; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'demo_caseworker') THEN CREATE ROLE demo_caseworker; END IF;
END $$;
SELECT 'consumer, without pii' AS demo_analyst FROM dataplatform.grant_consumer('demo_analyst');
SELECT 'consumer, with pii' AS demo_caseworker FROM dataplatform.grant_consumer('demo_caseworker', pii => true);
SET ROLE demo_analyst;
SELECT title, first_name, surname, date_of_birth, email_address FROM dp_consumer.person
 WHERE id IN (SELECT id FROM dp_consumer.person ORDER BY id LIMIT 3) ORDER BY id;
RESET ROLE;
SET ROLE demo_caseworker;
SELECT title, first_name, surname, date_of_birth, email_address FROM dp_consumer.person
 WHERE id IN (SELECT id FROM dp_consumer.person ORDER BY id LIMIT 3) ORDER BY id;
RESET ROLE;
RESET dataplatform.obfuscation_key;
SET dataplatform.environment = 'production';

\echo
\echo '== access agreements: a BI role asks, in its own session, to read housing views for a purpose,'
\echo '-- with a row scope, until a date; another admin approves; nothing is readable before'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'demo_bi') THEN
    CREATE ROLE demo_bi LOGIN IN ROLE dataplatform_consumer;
  END IF;
END $$;
SET SESSION AUTHORIZATION demo_bi;
SELECT dataplatform.request_access('housing', 'monthly rent report for secure and flexible tenancies',
  now() + interval '90 days',
  '{"views": ["tenure", "rent_by_tenure_type"], "rows": {"tenure_type": ["SEC", "FLT"]},
    "legal_basis": "public_task"}') AS agreement \gset
SELECT id, role, product, views, rows, status, left(sha256, 16) AS sha256_start FROM dataplatform.access_agreement;
\set ON_ERROR_STOP off
SELECT count(*) FROM dp_consumer.tenure;
\set ON_ERROR_STOP on
RESET SESSION AUTHORIZATION;
SELECT dataplatform.approve_access(:agreement, 'agreed with the housing data owner');
\echo '-- approved: the rows in scope, PII masked (the agreement does not ask for pii)'
SET SESSION AUTHORIZATION demo_bi;
SELECT tenure_type, tenures, weekly_rent FROM dp_consumer.rent_by_tenure_type ORDER BY tenure_type;
SELECT tenure_type, count(*) AS tenures FROM dp_consumer.tenure GROUP BY 1 ORDER BY 1;
\echo '-- a view of another product (planning) is refused, with a hint'
\set ON_ERROR_STOP off
SELECT count(*) FROM dp_consumer.conservation_area_current;
\set ON_ERROR_STOP on
\echo '-- an agreement that expires while the session stays open: reads stop at that instant'
SELECT dataplatform.request_access('planning', 'a quick look at conservation areas',
  clock_timestamp() + interval '2 seconds') AS quick \gset
RESET SESSION AUTHORIZATION;
SELECT dataplatform.approve_access(:quick);
SET SESSION AUTHORIZATION demo_bi;
SELECT count(*) AS conservation_areas FROM dp_consumer.conservation_area_current;
SELECT pg_sleep(2.5);
\set ON_ERROR_STOP off
SELECT count(*) AS conservation_areas FROM dp_consumer.conservation_area_current;
\set ON_ERROR_STOP on
RESET SESSION AUTHORIZATION;
\echo '-- the worker marks it expired and audits it; reads in the audit log name their agreement'
DO $$ BEGIN
  FOR i IN 1..100 LOOP
    EXIT WHEN EXISTS (SELECT 1 FROM dataplatform.audit_log WHERE action = 'expire_access')
          AND EXISTS (SELECT 1 FROM dataplatform.audit_log WHERE action = 'read' AND role_name = 'demo_bi');
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT id, role, product, purpose, status, reads FROM dataplatform.access_agreement ORDER BY id;
SELECT role_name, action, object, detail -> 'agreements' AS agreements
  FROM dataplatform.audit_log WHERE role_name = 'demo_bi' OR action LIKE '%access' ORDER BY id;
\echo '== access_review: unrestricted grants (grant_consumer), agreements never read or expiring soon'
SELECT role, product, purpose, findings FROM dataplatform.access_review() ORDER BY id;
