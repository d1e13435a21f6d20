-- The privilege matrix, every cell: for every function of the API, which of
-- the extension's roles may execute it; for every relation of the
-- extension's schemas, which may read it and which may write it.  A change
-- to any grant fails here until README's matrix and this file agree.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION dataplatform;
SELECT plan(3);

CREATE TEMP VIEW roles AS SELECT unnest(ARRAY['dataplatform_admin', 'dataplatform_producer',
  'dataplatform_consumer', 'dataplatform_consumer_pii', 'dataplatform_auditor']) AS r;

SELECT set_eq(
  $$SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS fn,
           coalesce(string_agg(CASE WHEN has_function_privilege(r, p.oid, 'EXECUTE') THEN r END, ',' ORDER BY r), '')
      FROM pg_proc p, roles WHERE p.pronamespace = 'dataplatform'::regnamespace GROUP BY p.oid$$,
  $$VALUES
  ('add_endpoint(dataset text, url text, options jsonb)', 'dataplatform_admin'),
  ('access_review(unused interval)', 'dataplatform_admin,dataplatform_auditor'),
  ('agreement_changed()', ''),
  ('alter_endpoint(name text, url text, options jsonb)', 'dataplatform_admin'),
  ('alter_job(name text, schedule text, command text, active boolean, timeout interval, retries integer, retry_delay interval, timezone text, after text)', 'dataplatform_admin'),
  ('apply_events(dataset text, events jsonb)', 'dataplatform_admin,dataplatform_producer'),
  ('apply_retention()', 'dataplatform_admin'),
  ('approve_access(id bigint, note text)', 'dataplatform_admin'),
  ('as_of(dataset text, at timestamp with time zone)', 'dataplatform_admin'),
  ('audit_guard()', ''),
  ('audit_receive(standby text, at timestamp with time zone[], role_name text[], session_role text[], client_addr text[], object text[], detail text[], statement_id text[], query_id bigint[])', ''),
  ('catalogue(format text)', 'dataplatform_admin,dataplatform_auditor,dataplatform_consumer'),
  ('catalogue_dcat_ap(datasets jsonb, base text)', ''),
  ('catalogue_frequency(frequency text)', 'dataplatform_admin,dataplatform_auditor,dataplatform_consumer'),
  ('catalogue_licence(licence text)', 'dataplatform_admin,dataplatform_auditor,dataplatform_consumer'),
  ('check(dataset text, rows jsonb)', 'dataplatform_admin,dataplatform_producer'),
  ('check_csv(dataset text, data text, options jsonb)', 'dataplatform_admin,dataplatform_producer'),
  ('check_freshness()', 'dataplatform_admin'),
  ('collect(endpoint text)', 'dataplatform_admin'),
  ('configure(dataset text, config jsonb)', 'dataplatform_admin'),
  ('create_partitions()', 'dataplatform_admin'),
  ('dataset_status()', 'dataplatform_admin'),
  ('define_dataset(spec jsonb, allow_breaking boolean, allow_unknown boolean)', 'dataplatform_admin'),
  ('define_product(name text, meta jsonb)', 'dataplatform_admin'),
  ('describe(dataset text)', 'dataplatform_admin,dataplatform_producer'),
  ('drop_endpoint(name text)', 'dataplatform_admin'),
  ('drop_secret(name text)', 'dataplatform_admin'),
  ('entity_history(dataset text, key jsonb)', 'dataplatform_admin'),
  ('export(name text, format text)', 'dataplatform_admin,dataplatform_consumer'),
  ('export_contract(dataset text, format text)', 'dataplatform_admin,dataplatform_producer'),
  ('generate(dataset text, n integer, seed integer)', 'dataplatform_admin'),
  ('grant_consumer(role name, pii boolean)', 'dataplatform_admin'),
  ('grant_producer(product text, role name)', 'dataplatform_admin'),
  ('import_contract(contract text, options jsonb)', 'dataplatform_admin'),
  ('in_scope(view text, r record)', 'dataplatform_admin,dataplatform_consumer'),
  ('issue_types(OUT name text, OUT severity text, OUT description text)', 'dataplatform_admin,dataplatform_auditor,dataplatform_consumer,dataplatform_producer'),
  ('lineage(relation text, key jsonb, max_rows integer)', 'dataplatform_admin,dataplatform_consumer'),
  ('lineage_of_batch(batch bigint)', 'dataplatform_admin'),
  ('lineage_of_record(dataset text, key jsonb)', 'dataplatform_admin'),
  ('load_snapshot(dataset text, rows jsonb, as_of timestamp with time zone, mode text)', 'dataplatform_admin,dataplatform_producer'),
  ('mask(value anyelement, key text)', 'dataplatform_admin,dataplatform_consumer'),
  ('next_run(schedule text, after timestamp with time zone)', 'dataplatform_admin,dataplatform_auditor,dataplatform_consumer,dataplatform_producer'),
  ('next_run(schedule text, after timestamp with time zone, timezone text)', 'dataplatform_admin,dataplatform_auditor,dataplatform_consumer,dataplatform_producer'),
  ('normalise(datatype text, value text, options jsonb, OUT value text, OUT issue text)', 'dataplatform_admin,dataplatform_auditor,dataplatform_consumer,dataplatform_producer'),
  ('partition_guard()', ''),
  ('process_queued(dataset text, max_batches integer)', 'dataplatform_admin'),
  ('publish(name text, source text, options jsonb)', 'dataplatform_admin'),
  ('purge_audit(older_than interval)', 'dataplatform_auditor'),
  ('purge_raw(dataset text, older_than interval)', 'dataplatform_admin'),
  ('push(dataset text, rows jsonb)', 'dataplatform_admin,dataplatform_producer'),
  ('push_csv(dataset text, data text, options jsonb)', 'dataplatform_admin,dataplatform_producer'),
  ('push_geojson(dataset text, doc jsonb)', 'dataplatform_admin,dataplatform_producer'),
  ('raw_element(anyarray, integer)', 'dataplatform_admin'),
  ('raw_guard()', ''),
  ('raw_insert()', ''),
  ('rebuild(dataset text)', 'dataplatform_admin'),
  ('rebuild_changed()', 'dataplatform_admin'),
  ('refresh(name text, "full" boolean)', 'dataplatform_admin'),
  ('refresh_all(OUT view text, OUT result jsonb)', 'dataplatform_admin'),
  ('replicate_consumer(publication name, options jsonb)', 'dataplatform_admin'),
  ('replication_apply(publication name, options jsonb, caller name)', ''),
  ('replication_columns(view text, pii boolean)', ''),
  ('replication_subscriber_sql(publication name)', 'dataplatform_admin'),
  ('replication_sync()', ''),
  ('reject_access(id bigint, reason text)', 'dataplatform_admin'),
  ('request_access(product text, purpose text, valid_until timestamp with time zone, options jsonb)', 'dataplatform_consumer'),
  ('resync_report(batch bigint)', 'dataplatform_admin'),
  ('revoke_access(id bigint, reason text)', 'dataplatform_admin'),
  ('revoke_consumer(role name)', 'dataplatform_admin'),
  ('revoke_producer(product text, role name)', 'dataplatform_admin'),
  ('run_now(name text)', 'dataplatform_admin'),
  ('schedule(name text, schedule text, command text, timezone text, after text)', 'dataplatform_admin'),
  ('sees_pii()', 'dataplatform_admin,dataplatform_consumer'),
  ('sees_pii(view text)', 'dataplatform_admin,dataplatform_consumer'),
  ('set_secret(name text, value text, origins text[])', 'dataplatform_admin'),
  ('unpublish(name text)', 'dataplatform_admin'),
  ('unschedule(name text)', 'dataplatform_admin'),
  ('view_status()', 'dataplatform_admin,dataplatform_consumer'),
  ('wait_for_run(run_id bigint, timeout interval)', 'dataplatform_admin'),
  ('worker_wake()', 'dataplatform_admin')$$,
  'EXECUTE on every API function, for every role');

SELECT set_eq(
  $$SELECT n.nspname || '.' || c.relname AS rel,
           coalesce(string_agg(CASE WHEN has_table_privilege(r, c.oid, 'SELECT') THEN r END, ',' ORDER BY r), '') AS readers,
           coalesce(string_agg(CASE WHEN has_table_privilege(r, c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE') THEN r END, ',' ORDER BY r), '') AS writers
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, roles
     WHERE n.nspname IN ('dataplatform', 'dp_raw', 'dp_clean', 'dp_consumer', 'dp_consumer_data', 'dp_consumer_state')
       AND c.relkind IN ('r', 'v', 'p') GROUP BY n.nspname, c.relname$$,
  $$VALUES
  ('dataplatform.access_agreement', 'dataplatform_admin,dataplatform_auditor,dataplatform_consumer', ''),
  ('dataplatform.agreement', 'dataplatform_admin', ''),
  ('dataplatform.audit_log', 'dataplatform_auditor', ''),
  ('dataplatform.batch', 'dataplatform_admin', ''),
  ('dataplatform.collection_log', 'dataplatform_admin', ''),
  ('dataplatform.config_version', 'dataplatform_admin', ''),
  ('dataplatform.consumer_source', 'dataplatform_admin', ''),
  ('dataplatform.consumer_status', 'dataplatform_admin,dataplatform_consumer', ''),
  ('dataplatform.consumer_replication', 'dataplatform_admin', ''),
  ('dataplatform.consumer_view', 'dataplatform_admin', ''),
  ('dataplatform.datasets', 'dataplatform_admin', ''),
  ('dataplatform.dataset', 'dataplatform_admin,dataplatform_producer', ''),
  ('dataplatform.endpoint', 'dataplatform_admin', ''),
  ('dataplatform.event', 'dataplatform_admin', ''),
  ('dataplatform.fields', 'dataplatform_admin', ''),
  ('dataplatform.field', 'dataplatform_admin,dataplatform_producer', ''),
  ('dataplatform.issue_type', 'dataplatform_admin,dataplatform_auditor,dataplatform_consumer,dataplatform_producer', ''),
  ('dataplatform.issue', 'dataplatform_admin', ''),
  ('dataplatform.job_run', 'dataplatform_admin', ''),
  ('dataplatform.job', 'dataplatform_admin', ''),
  ('dataplatform.late', 'dataplatform_admin', ''),
  ('dataplatform.openlineage_outbox', 'dataplatform_admin,dataplatform_auditor', ''),
  ('dataplatform.orphan_event', 'dataplatform_admin', ''),
  ('dataplatform.partition_rule', 'dataplatform_admin', ''),
  ('dataplatform.producer_grants', 'dataplatform_admin', ''),
  ('dataplatform.products', 'dataplatform_admin', ''),
  ('dataplatform.product', 'dataplatform_admin,dataplatform_producer', ''),
  ('dataplatform.quarantine_row', 'dataplatform_admin', ''),
  ('dataplatform.quarantine', 'dataplatform_admin', ''),
  ('dataplatform.refresh_log', 'dataplatform_admin', ''),
  ('dataplatform.secret', '', ''),
  ('dataplatform.spec_version', 'dataplatform_admin', ''),
  ('dataplatform.status', 'dataplatform_admin', ''),
  ('dataplatform.view_column_lineage', 'dataplatform_admin,dataplatform_consumer', ''),
  ('dp_consumer_data.mask_key', '', ''),
  ('dp_raw.chunk', 'dataplatform_admin', ''),
  ('dp_raw.rows', 'dataplatform_admin', '')$$,
  'SELECT and writes on every relation, for every role: nobody writes a catalog table directly');

SELECT set_eq(
  $$SELECT s, coalesce(string_agg(CASE WHEN has_schema_privilege(r, s, 'USAGE') THEN r END, ',' ORDER BY r), '') AS users
      FROM unnest(ARRAY['dataplatform', 'dp_raw', 'dp_clean', 'dp_consumer', 'dp_consumer_data', 'dp_consumer_state']) s, roles
     GROUP BY s$$,
  $$VALUES ('dataplatform', 'dataplatform_admin,dataplatform_auditor,dataplatform_consumer,dataplatform_producer'),
           ('dp_raw', 'dataplatform_admin'), ('dp_clean', 'dataplatform_admin'),
           ('dp_consumer', 'dataplatform_admin,dataplatform_consumer'), ('dp_consumer_data', ''),
           ('dp_consumer_state', 'dataplatform_admin')$$,
  'USAGE on every schema, for every role');

SELECT * FROM finish();
ROLLBACK;
