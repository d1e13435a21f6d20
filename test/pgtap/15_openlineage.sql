-- OpenLineage run events (docs/openlineage.md): the outbox table, its
-- privileges, the settings (superuser-only, off by default, checked).
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(14);

SELECT has_table('dataplatform', 'openlineage_outbox', 'table openlineage_outbox');
SELECT columns_are('dataplatform', 'openlineage_outbox', ARRAY['id', 'run_id', 'event_type', 'job_name',
       'event', 'created_at', 'status', 'attempts', 'next_attempt_at', 'delivered_at', 'last_error']);
SELECT col_is_pk('dataplatform', 'openlineage_outbox', 'id', 'outbox key');
SELECT has_index('dataplatform', 'openlineage_outbox', 'openlineage_outbox_pending', 'pending events found by index');
SELECT col_type_is('dataplatform', 'openlineage_outbox', 'event', 'jsonb', 'events are jsonb');

SELECT ok(has_table_privilege('dataplatform_admin', 'dataplatform.openlineage_outbox', 'SELECT')
      AND has_table_privilege('dataplatform_auditor', 'dataplatform.openlineage_outbox', 'SELECT'),
  'admins and auditors read the outbox');
SELECT is_empty($$
  SELECT r, p FROM unnest(ARRAY['dataplatform_admin', 'dataplatform_producer', 'dataplatform_consumer',
                                'dataplatform_auditor', 'public']) r,
                   unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
   WHERE has_table_privilege(r, 'dataplatform.openlineage_outbox', p)$$,
  'no platform role writes the outbox directly');
SELECT ok(NOT has_table_privilege('dataplatform_producer', 'dataplatform.openlineage_outbox', 'SELECT')
      AND NOT has_table_privilege('dataplatform_consumer', 'dataplatform.openlineage_outbox', 'SELECT'),
  'producers and consumers do not read the outbox');

SELECT set_eq($$SELECT name, setting, context FROM pg_settings WHERE name LIKE 'dataplatform.openlineage%'$$,
  $$VALUES ('dataplatform.openlineage_url', '', 'superuser'),
           ('dataplatform.openlineage_namespace', 'dataplatform', 'superuser'),
           ('dataplatform.openlineage_dataset_namespace', '', 'superuser'),
           ('dataplatform.openlineage_timeout', '5000', 'superuser')$$,
  'the OpenLineage settings: off by default, superuser-only');
SELECT throws_ok($$SET dataplatform.openlineage_url = 'file:///etc/passwd'$$, '22023', NULL,
  'openlineage_url: http or https only');
SELECT throws_ok($$SET dataplatform.openlineage_url = 'http://a b/'$$, '22023', NULL,
  'openlineage_url: no spaces');
SELECT throws_ok($$SET dataplatform.openlineage_dataset_namespace = 'mysql://db:3306'$$, '22023', NULL,
  'openlineage_dataset_namespace: postgres://host:port');
SELECT lives_ok($$SET LOCAL dataplatform.openlineage_url = 'https://marquez.example.org/api/v1/lineage'$$,
  'an https URL is accepted');

CREATE ROLE dp_ol_tap_admin IN ROLE dataplatform_admin;
SET LOCAL ROLE dp_ol_tap_admin;
SELECT throws_ok($$SET dataplatform.openlineage_url = 'http://127.0.0.1/'$$, '42501', NULL,
  'only a superuser sets the URL');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
