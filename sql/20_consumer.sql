-- Consumer layer: publish, refresh (incremental and full), expectations,
-- export, unpublish, status, errors.  Every refresh is checked against a full
-- recompute of the view's definition (dp_test.oracle: EXCEPT ALL both ways).
\set VERBOSITY terse
SET client_min_messages = warning;

-- rows of the view that a recompute of its definition does not give, and the
-- other way round; 0 when the view is exactly its query
CREATE FUNCTION dp_test.oracle(v text) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE
	d text;
	n bigint;
BEGIN
	SELECT definition INTO d FROM dataplatform.consumer_view WHERE name = v;
	EXECUTE format('SELECT count(*) FROM ((TABLE dp_consumer.%I EXCEPT ALL (%s)) '
				   'UNION ALL ((%s) EXCEPT ALL TABLE dp_consumer.%I)) x', v, d, d, v) INTO n;
	RETURN n;
END
$f$;
-- every published view against its recompute
CREATE FUNCTION dp_test.oracle_all() RETURNS TABLE (view text, diff bigint) LANGUAGE sql AS $f$
	SELECT name, dp_test.oracle(name) FROM dataplatform.consumer_view ORDER BY name
$f$;
-- a refresh or publish result without its timing
CREATE FUNCTION dp_test.r(j jsonb) RETURNS jsonb LANGUAGE sql AS $f$ SELECT j - 'ms' $f$;
-- a delete as events make them: a batch, the row gone, its last version closed in history
CREATE FUNCTION dp_test.delete_row(ds text, tbl text, id text) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
	b bigint;
	cols text;
BEGIN
	-- the dataset lock, as writers take it (docs/push.md)
	PERFORM pg_advisory_xact_lock(25712, format('dp_clean.%I', tbl)::regclass::oid::integer);
	EXECUTE format('LOCK TABLE dp_clean.%I IN ROW EXCLUSIVE MODE', tbl);
	INSERT INTO dataplatform.batch (dataset, kind, pushed_by, bytes, rows, sha256, status, processed_at)
	VALUES (ds, 'push', current_user, 0, 1, '', 'done', now()) RETURNING batch.id INTO b;
	SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal) INTO cols
	  FROM dataplatform.fields WHERE dataset = ds;
	EXECUTE format('WITH d AS (DELETE FROM dp_clean.%I WHERE id = $1 RETURNING *) '
				   'INSERT INTO dp_clean.%I (%s, _operation, _batch_id, _valid_from, _valid_to, _closed_by_batch) '
				   'SELECT %s, ''delete'', _batch_id, _updated_at, now(), $2 FROM d',
				   tbl, tbl || '_history', cols, cols) USING id, b;
END
$f$;

SELECT name FROM dataplatform.define_product('consumer-test');
SELECT dataplatform.define_dataset('{"dataset": "c-lease", "product": "consumer-test", "key": ["id"],
  "description": "Leases of council homes",
  "fields": [
    {"name": "id", "datatype": "string", "description": "Lease reference"},
    {"name": "kind", "datatype": "string", "description": "Lease type", "codelist": ["SEC", "FLT", "LEA"]},
    {"name": "rent", "datatype": "decimal", "description": "Weekly rent in pounds"},
    {"name": "rooms", "datatype": "integer"},
    {"name": "tenant", "datatype": "string", "description": "Tenant reference"},
    {"name": "end-date", "datatype": "date", "description": "When the lease ended"}]}');
SELECT dataplatform.define_dataset('{"dataset": "c-tenant", "product": "consumer-test", "key": ["id"],
  "fields": [
    {"name": "id", "datatype": "string"},
    {"name": "name", "datatype": "string", "description": "Full name"},
    {"name": "ward", "datatype": "string", "description": "Electoral ward"}]}');
SELECT dataplatform.push('c-lease', '[
  {"id": "L1", "kind": "SEC", "rent": "100.50", "rooms": "2", "tenant": "T1"},
  {"id": "L2", "kind": "SEC", "rent": "120", "rooms": "3", "tenant": "T2"},
  {"id": "L3", "kind": "FLT", "rent": "90", "rooms": "1", "tenant": "T1"},
  {"id": "L4", "kind": "LEA", "rent": "", "rooms": "4", "tenant": "T3", "end-date": "2001-01-01"},
  {"id": "L5", "kind": "FLT", "rent": "95.25", "rooms": "2", "tenant": "T9"}]') > 0 AS pushed;
SELECT dataplatform.push('c-tenant', '[
  {"id": "T1", "name": "Ann Smith", "ward": "North"},
  {"id": "T2", "name": "Bob Jones", "ward": "South"},
  {"id": "T3", "name": "Cat Brown", "ward": "North"}]') > 0 AS pushed;

------------------------------------------------------------------------------
-- publish: a dataset, and each class of query
------------------------------------------------------------------------------

-- a dataset: its current state, keyed by the dataset key, documented from the spec
SELECT dp_test.r(dataplatform.publish('lease', 'c-lease'));
SELECT key, method, dataset, description FROM dataplatform.consumer_view WHERE name = 'lease';
SELECT * FROM dp_consumer.lease ORDER BY id;

-- one dataset, projection, filter, computed columns: keyed
SELECT dp_test.r(dataplatform.publish('lease_active',
  $$SELECT id, kind, rent * 52 AS yearly_rent, (end_date IS NULL) AS is_active
      FROM c_lease WHERE kind <> 'LEA'$$,
  '{"description": "Current leases (not long leases)",
    "comments": {"yearly_rent": "Rent over 52 weeks"}}'));
-- GROUP BY with count/sum/avg/min/max: aggregate
SELECT dp_test.r(dataplatform.publish('rent_by_kind',
  $$SELECT coalesce(kind, 'none') AS kind, count(*) AS leases, count(rent) AS with_rent,
           sum(rent) AS total_rent, avg(rent) AS mean_rent, min(rent) AS min_rent, max(rooms) AS max_rooms,
           sum(rooms) FILTER (WHERE rent > 95) AS rooms_above_95
      FROM dp_clean.c_lease WHERE rooms > 0 GROUP BY 1$$));
-- joins on key columns: keyed on the first dataset's key
SELECT dp_test.r(dataplatform.publish('lease_tenant',
  $$SELECT l.id, l.rent, t.name AS tenant_name, t.ward
      FROM dp_clean.c_lease l LEFT JOIN dp_clean.c_tenant t ON t.id = l.tenant$$));
SELECT dp_test.r(dataplatform.publish('lease_tenant_inner',
  $$SELECT l.id, l.kind, t.name FROM c_lease l JOIN c_tenant t ON l.tenant = t.id WHERE t.ward = 'North'$$));
-- anything else: full (here a join through GROUP BY and a time-dependent column)
SELECT dp_test.r(dataplatform.publish('rooms_by_ward',
  $$SELECT t.ward, sum(l.rooms) AS rooms, count(*) AS leases
      FROM c_lease l JOIN c_tenant t ON t.id = l.tenant GROUP BY t.ward$$));
SELECT dp_test.r(dataplatform.publish('lease_current',
  $$SELECT id, end_date IS NULL OR end_date > current_date AS current FROM c_lease$$));
SELECT dp_test.r(dataplatform.publish('kinds', $$SELECT DISTINCT coalesce(kind, '?') AS kind FROM c_lease$$,
  '{"key": "kind", "refresh": "full"}'));

SELECT name, method, key, method_reason FROM dataplatform.consumer_view ORDER BY name;
SELECT * FROM dp_test.oracle_all();
SELECT * FROM dp_consumer.rent_by_kind ORDER BY kind;
SELECT * FROM dp_consumer.lease_tenant ORDER BY id;

-- the stored definition is SQL text with every name qualified
SELECT definition FROM dataplatform.consumer_view WHERE name = 'lease_tenant_inner';

-- a unique index on the key; comments from the spec and the options; SELECT for consumers
SELECT indexrelid::regclass, indisunique FROM pg_index
 WHERE indrelid = 'dp_consumer_data.lease_active'::regclass;
SELECT obj_description('dp_consumer.lease_active'::regclass, 'pg_class');
SELECT obj_description('dp_consumer.lease'::regclass, 'pg_class');
SELECT a.attname, col_description(a.attrelid, a.attnum)
  FROM pg_attribute a WHERE a.attrelid = 'dp_consumer.lease_active'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT a.attname, col_description(a.attrelid, a.attnum)
  FROM pg_attribute a WHERE a.attrelid = 'dp_consumer.lease_tenant'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT has_table_privilege('dataplatform_consumer', 'dp_consumer.lease', 'SELECT') AS consumer_select,
       has_table_privilege('dataplatform_consumer', 'dp_consumer.lease', 'INSERT') AS consumer_insert;

------------------------------------------------------------------------------
-- refresh after inserts, updates and deletes; always equal to a recompute
------------------------------------------------------------------------------

-- nothing changed
SELECT dp_test.r(dataplatform.refresh('lease'));

-- inserts and updates, a group change, a removed maximum
SELECT dataplatform.push('c-lease', '[
  {"id": "L2", "kind": "FLT", "rent": "125", "rooms": "3", "tenant": "T2"},
  {"id": "L4", "kind": "LEA", "rent": "80", "rooms": "1", "tenant": "T3", "end-date": "2001-01-01"},
  {"id": "L6", "kind": "SEC", "rent": "70", "rooms": "2", "tenant": "T3"},
  {"id": "L1", "kind": "SEC", "rent": "100.50", "rooms": "2", "tenant": "T1"}]') > 0 AS pushed;
SELECT view, pending_batches, pending_rows FROM dataplatform.consumer_status ORDER BY view;
SELECT name, dp_test.r(dataplatform.refresh(name)) FROM dataplatform.consumer_view ORDER BY name;
SELECT * FROM dp_test.oracle_all();
SELECT * FROM dp_consumer.rent_by_kind ORDER BY kind;

-- a change on the joined side only: the rows that join to it
SELECT dataplatform.push('c-tenant', '[{"id": "T1", "name": "Ann Smith-Jones", "ward": "South"},
  {"id": "T9", "name": "Dan Green", "ward": "North"}]') > 0 AS pushed;
SELECT dp_test.r(dataplatform.refresh('lease_tenant'));
SELECT dp_test.r(dataplatform.refresh('lease_tenant_inner'));
SELECT dp_test.r(dataplatform.refresh('lease'));
SELECT * FROM dp_consumer.lease_tenant ORDER BY id;
SELECT * FROM dp_consumer.lease_tenant_inner ORDER BY id;

-- deletes (as events write them: the row goes, its version is closed in history by a batch)
SELECT dp_test.delete_row('c-lease', 'c_lease', 'L3');
SELECT dp_test.delete_row('c-tenant', 'c_tenant', 'T2');
SELECT name, dp_test.r(dataplatform.refresh(name)) ->> 'status' AS status,
       dp_test.r(dataplatform.refresh(name)) ->> 'status' AS again
  FROM dataplatform.consumer_view ORDER BY name;
SELECT * FROM dp_test.oracle_all();
SELECT * FROM dp_consumer.rent_by_kind ORDER BY kind;
SELECT * FROM dp_consumer.lease_tenant ORDER BY id;

-- a group that empties goes, one that appears comes (XYZ is not in the codelist: the value is
-- dropped, kind is null); the minimum leaves and is recomputed
SELECT dataplatform.push('c-lease', '[{"id": "L4", "kind": "SEC", "rent": "80", "rooms": "1", "tenant": "T3"},
  {"id": "L7", "kind": "XYZ", "rent": "10", "rooms": "1", "tenant": "T1"},
  {"id": "L6", "kind": "SEC", "rent": "200", "rooms": "0", "tenant": "T3"}]') > 0 AS pushed;
SELECT dp_test.r(dataplatform.refresh('rent_by_kind'));
SELECT * FROM dp_consumer.rent_by_kind ORDER BY kind;
SELECT dp_test.oracle('rent_by_kind');
SELECT kind, _rows, _dirty FROM dp_consumer_state.rent_by_kind ORDER BY kind;

-- many small batches, then one refresh
SELECT count(dataplatform.push('c-lease', format('[{"id": "M%s", "kind": "%s", "rent": "%s", "rooms": "%s", "tenant": "T%s"}]',
                                g % 7, (ARRAY['SEC', 'FLT', 'LEA'])[g % 3 + 1], g * 3 % 50, g % 5, g % 4)::jsonb))
  FROM generate_series(1, 40) g;
SELECT name, dp_test.r(dataplatform.refresh(name)) ->> 'mode' AS mode
  FROM dataplatform.consumer_view ORDER BY name;
SELECT * FROM dp_test.oracle_all();

-- a forced full refresh finds nothing to change
SELECT dp_test.r(dataplatform.refresh('rent_by_kind', full => true));

-- a rebuilt dataset restamps its batches: the next refresh is full
SELECT dataplatform.rebuild('c-lease') ->> 'batches' IS NOT NULL AS rebuilt;
SELECT dp_test.r(dataplatform.refresh('lease_tenant')) ->> 'reason';
SELECT dp_test.r(dataplatform.refresh('lease_tenant')) ->> 'status';
SELECT * FROM dp_test.oracle_all();

-- refresh_all: every view with pending changes, the others are left alone
SELECT dataplatform.push('c-tenant', '[{"id": "T3", "name": "Cat Brown", "ward": "East"}]') > 0 AS pushed;
SELECT view, result ->> 'status' AS status, result ->> 'mode' AS mode FROM dataplatform.refresh_all() ORDER BY view;
SELECT count(*) FROM dataplatform.refresh_all();
SELECT * FROM dp_test.oracle_all();

-- change events and snapshots (after the rebuild above, which replayed pushes only)
-- write the same lineage: an update, a delete (a tombstone in
-- history), a create; a snapshot in replace mode closes the entities it lacks
SELECT event_id, outcome FROM dataplatform.apply_events('c-lease', jsonb_build_array(
  dp_test.ev('ce1', 'LeaseUpdatedEvent', '2030-01-01T00:00:00Z', 'L5', '{"rent": "99", "kind": "SEC"}'),
  dp_test.ev('ce2', 'LeaseDeletedEvent', '2030-01-01T00:00:00Z', 'L1'),
  dp_test.ev('ce3', 'LeaseCreatedEvent', '2030-01-01T00:00:00Z', 'L9',
             '{"kind": "FLT", "rent": "20", "rooms": "2", "tenant": "T3"}'))) ORDER BY ordinal;
SELECT dataplatform.load_snapshot('c-tenant', '[{"id": "T1", "name": "Ann Smith-Jones", "ward": "South"},
  {"id": "T3", "name": "Cat Brown", "ward": "West"}]', '2030-01-01 00:00:00+00') > 0 AS snapshot;
SELECT id, _operation FROM dp_clean.c_tenant_history WHERE _operation <> 'update' ORDER BY id;
SELECT name, dp_test.r(dataplatform.refresh(name)) ->> 'mode' AS mode
  FROM dataplatform.consumer_view ORDER BY name;
SELECT * FROM dp_test.oracle_all();
SELECT * FROM dp_consumer.lease_tenant ORDER BY id;
SELECT * FROM dp_consumer.rent_by_kind ORDER BY kind;

------------------------------------------------------------------------------
-- expectations
------------------------------------------------------------------------------

SELECT dp_test.r(dataplatform.publish('lease_checked', 'c-lease', $${"expect": [
  {"row_count_min": 1}, {"row_count_max": 1000}, {"row_count_change_max_pct": 50},
  {"unique": "id"}, {"not_null": ["id", "rooms"]},
  {"accepted_values": {"column": "kind", "values": ["SEC", "FLT", "LEA"]}},
  {"sql": "SELECT count(*) > 0 FROM dp_consumer.lease_checked WHERE rent > 0"}]}$$)) -> 'expectations';

-- a failing expectation: WARNING, status rejected, the old contents stay, the log says which and its figure
SELECT dataplatform.push('c-lease', '[{"id": "L8", "kind": "SEC", "rent": "1", "tenant": "T1"}]') > 0 AS pushed;
SET client_min_messages = warning;
SELECT dp_test.r(dataplatform.refresh('lease_checked')) - 'expectations';
SELECT e ->> 'passed' AS passed, e -> 'figure' AS figure, e -> 'expectation' AS expectation
  FROM dataplatform.refresh_log l, jsonb_array_elements(l.expectations) e
 WHERE l.id = (SELECT max(id) FROM dataplatform.refresh_log WHERE view = 'lease_checked');
SELECT status, mode FROM dataplatform.refresh_log WHERE view = 'lease_checked' ORDER BY id;
SELECT count(*) FROM dp_consumer.lease_checked WHERE id = 'L8';
SELECT view, last_status, pending_batches FROM dataplatform.consumer_status WHERE view = 'lease_checked';
-- fixed at the source: the same changes (still pending) now pass
SELECT dataplatform.push('c-lease', '[{"id": "L8", "kind": "SEC", "rent": "1", "rooms": "1", "tenant": "T1"}]') > 0 AS pushed;
SELECT dp_test.r(dataplatform.refresh('lease_checked')) ->> 'status';
SELECT dp_test.oracle('lease_checked');

-- each expectation failing, one at a time (publish refuses to publish data that fails)
SELECT dp_test.err($$SELECT dataplatform.publish('x1', 'c-lease', '{"expect": [{"row_count_min": 1000}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('x1', 'c-lease', '{"expect": [{"row_count_max": 2}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('x1', 'c-lease', '{"expect": [{"unique": "kind"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('x1', 'c-lease', '{"expect": [{"not_null": "end_date"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('x1', 'c-lease', '{"expect": {"accepted_values": {"column": "rooms", "values": [0, 1, 2, 3]}}}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('x1', 'c-lease', '{"expect": [{"accepted_values": {"column": "rent", "values": ["x"]}}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('x1', 'c-lease', '{"expect": [{"sql": "SELECT max(rent) < 100 FROM dp_consumer.x1"}]}')$$);
SELECT count(*) FROM dataplatform.consumer_view WHERE name = 'x1';
-- row_count_change_max_pct on a refresh: a push that doubles the view
SELECT dp_test.r(dataplatform.publish('lease_stable', $$SELECT id, rooms FROM c_lease WHERE rooms >= 4$$,
  '{"expect": [{"row_count_change_max_pct": 50}]}')) ->> 'rows';
SELECT dataplatform.push('c-lease', '[{"id": "N1", "kind": "SEC", "rooms": "4", "tenant": "T1"},
  {"id": "N2", "kind": "SEC", "rooms": "5", "tenant": "T1"}, {"id": "N3", "kind": "SEC", "rooms": "6", "tenant": "T1"}]') > 0 AS pushed;
SELECT dp_test.r(dataplatform.refresh('lease_stable')) -> 'expectations';
SELECT count(*) FROM dp_consumer.lease_stable;
-- a rejected incremental refresh leaves the state of an aggregate view as it was
SELECT dp_test.r(dataplatform.publish('rooms_checked', $$SELECT coalesce(kind, '-') AS kind, sum(rooms) AS rooms FROM c_lease GROUP BY 1$$,
  '{"expect": [{"sql": "SELECT coalesce(max(rooms), 0) < 100 FROM dp_consumer.rooms_checked"}]}')) ->> 'method';
SELECT dataplatform.push('c-lease', '[{"id": "N4", "kind": "LEA", "rooms": "500", "tenant": "T1"}]') > 0 AS pushed;
SELECT dp_test.r(dataplatform.refresh('rooms_checked')) ->> 'status';
SELECT dp_test.r(dataplatform.refresh('rooms_checked')) ->> 'status';
SELECT dataplatform.push('c-lease', '[{"id": "N4", "kind": "LEA", "rooms": "5", "tenant": "T1"}]') > 0 AS pushed;
SELECT dp_test.r(dataplatform.refresh('rooms_checked')) ->> 'status';
SELECT dp_test.oracle('rooms_checked');
RESET client_min_messages;

------------------------------------------------------------------------------
-- re-publish, export, consumers, status
------------------------------------------------------------------------------

SELECT dp_test.err($$SELECT dataplatform.publish('lease_active', 'c-lease')$$);
SELECT dp_test.r(dataplatform.publish('lease_active', $$SELECT id, rent FROM c_lease WHERE rent > 90$$,
  '{"replace": true}')) - 'expectations';
SELECT * FROM dp_consumer.lease_active ORDER BY id;
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'dp_consumer_data.lease_active'::regclass;
SELECT relname FROM pg_class WHERE relnamespace = 'dp_consumer'::regnamespace AND relname LIKE '\_%';

SELECT dataplatform.export('rent_by_kind', 'csv');
SELECT dataplatform.export('lease_tenant_inner', 'json');
SELECT dataplatform.publish('csv_edge', $$SELECT id, CASE id WHEN 'L1' THEN 'a,b' WHEN 'L2' THEN 'say "hi"'
  WHEN 'L4' THEN '' WHEN 'L5' THEN E'two\nlines' END AS note FROM c_lease WHERE id IN ('L1', 'L2', 'L4', 'L5', 'L6')$$) ->> 'rows';
SELECT dataplatform.export('csv_edge', 'csv');

-- a consumer finds the views and their column comments, reads them and exports them, not dp_clean
SET ROLE dp_t_reader;
SELECT table_name FROM information_schema.tables WHERE table_schema = 'dp_consumer' ORDER BY 1;
SELECT c.column_name, col_description('dp_consumer.lease'::regclass, c.ordinal_position) AS comment
  FROM information_schema.columns c
 WHERE c.table_schema = 'dp_consumer' AND c.table_name = 'lease' ORDER BY c.ordinal_position;
SELECT count(*) > 0 AS reads FROM dp_consumer.lease_tenant;
SELECT length(dataplatform.export('lease', 'json')) > 0 AS exports;
SELECT view, method, row_count > 0 AS has_rows FROM dataplatform.consumer_status ORDER BY view;
SELECT dp_test.err($$SELECT * FROM dp_clean.c_lease$$);
SELECT dp_test.err($$SELECT dataplatform.refresh('lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('x2', 'c-lease')$$);
RESET ROLE;
SET ROLE dp_t_plain;
SELECT dp_test.err($$SELECT dataplatform.export('lease', 'csv')$$);
SELECT dp_test.err($$SELECT * FROM dp_consumer.lease$$);
RESET ROLE;
-- an admin publishes and refreshes
SET ROLE dp_t_admin;
SELECT dp_test.r(dataplatform.publish('by_admin', $$SELECT id FROM c_tenant$$)) ->> 'status';
SELECT dp_test.r(dataplatform.refresh('by_admin')) ->> 'status';
SELECT published_by FROM dataplatform.consumer_view WHERE name = 'by_admin';
RESET ROLE;
-- the view's query runs as dataplatform_admin, not as the extension's owner: what an admin
-- may not do, a view may not do
SELECT dp_test.err($$SELECT dataplatform.publish('x3', 'SELECT id, current_setting(''data_directory'') AS f FROM c_lease')$$);

SELECT action, object FROM dataplatform.audit_log WHERE action IN ('publish', 'unpublish', 'export', 'refresh_all')
 ORDER BY id DESC LIMIT 3;

------------------------------------------------------------------------------
-- unpublish
------------------------------------------------------------------------------

SELECT dataplatform.unpublish('by_admin');
SELECT to_regclass('dp_consumer.by_admin');
SELECT dataplatform.unpublish('rent_by_kind');
SELECT to_regclass('dp_consumer_state.rent_by_kind');
SELECT dp_test.err($$SELECT dataplatform.unpublish('rent_by_kind')$$);
SELECT dp_test.err($$SELECT dataplatform.refresh('rent_by_kind')$$);

------------------------------------------------------------------------------
-- errors: nothing is created
------------------------------------------------------------------------------

-- not a SELECT, several statements, writes, does not parse
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'DELETE FROM dp_clean.c_lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT 1 AS a; SELECT 2 AS b')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'WITH d AS (DELETE FROM dp_clean.c_lease RETURNING id) SELECT id FROM d')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT id INTO dp_consumer.stolen FROM dp_clean.c_lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT id FROM dp_clean.c_lease FOR UPDATE')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT id FROM dp_clean.c_lease WHERE id IN (SELECT id FROM dp_clean.c_lease FOR SHARE)')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELEC id FROM c_lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT id FROM c_lease WHERE')$$);
-- reads outside dp_clean, or unknown relations and columns
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT name FROM dataplatform.products')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT l.id FROM c_lease l WHERE EXISTS (SELECT 1 FROM dp_raw.rows)')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT relname FROM pg_class')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'WITH x AS (SELECT rolname FROM pg_catalog.pg_authid) SELECT rolname FROM x')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT id FROM no_such_table')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT nope FROM c_lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT 1 AS one')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'no-such-dataset')$$);
-- volatile functions
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT id, random() AS r FROM c_lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT id FROM c_lease WHERE id = (SELECT dataplatform.push(''c-lease'', ''{}'')::text)')$$);
-- keys
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT kind, rent FROM c_lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT tenant, rent FROM c_lease', '{"key": "tenant"}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT id, end_date FROM c_lease', '{"key": "end_date"}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"key": ["nope"]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"key": ["id", "id"]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT id, 1 FROM c_lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT id, id FROM c_lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'SELECT DISTINCT kind FROM c_lease', '{"key": "kind", "refresh": "incremental"}')$$);
-- options and expectations
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"refesh": "full"}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"refresh": "sometimes"}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"replace": "yes"}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '[]')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"comments": {"nope": "x"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"expect": [{"row_count_minimum": 1}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"expect": [{"row_count_min": 1, "unique": "id"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"expect": [{"row_count_min": "1"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"expect": [{"not_null": "nope"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"expect": [{"accepted_values": {"column": "kind"}}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"expect": [{"sql": "SELECT 1"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"expect": [{"sql": "DELETE FROM dp_consumer.lease"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"expect": [{"sql": "SELECT count(*) > 0 FROM dataplatform.audit_log"}]}')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', '{"expect": "unique"}')$$);
-- names
SELECT dp_test.err($$SELECT dataplatform.publish('Bad Name', 'c-lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish(repeat('v', 60), 'c-lease')$$);
CREATE TABLE dp_consumer.handmade (id int);
SELECT dp_test.err($$SELECT dataplatform.publish('handmade', 'c-lease')$$);
DROP TABLE dp_consumer.handmade;
-- NULLs
SELECT dp_test.err($$SELECT dataplatform.publish(NULL, 'c-lease')$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.publish('e1', 'c-lease', NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.refresh(NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.unpublish(NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.export('lease', NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.export('lease', 'xml')$$);
SELECT dp_test.err($$SELECT dataplatform.export('nope', 'csv')$$);
SELECT count(*) FROM dataplatform.consumer_view WHERE name LIKE 'e_' OR name LIKE 'x_';
SELECT count(*) FROM pg_class WHERE relnamespace = 'dp_consumer'::regnamespace AND relname ~ '^(e|x)[0-9]$';

-- a key that stops being unique, or becomes null, fails the refresh and leaves the old
-- contents; refresh(name) records the failure (refresh_log, the view's status, a warning)
-- as refresh_all does, and answers status "failed" with the error
SELECT dp_test.r(dataplatform.publish('by_tenant', $$SELECT tenant, max(rent) AS top_rent FROM c_lease GROUP BY tenant$$,
  '{"refresh": "full"}')) ->> 'rows' AS rows;
SELECT dp_test.r(dataplatform.publish('by_tenant_kind', $$SELECT tenant || '/' || kind AS tk, rent FROM c_lease WHERE id = 'L2'$$,
  '{"key": "tk"}')) ->> 'rows' AS rows;
SELECT dataplatform.push('c-lease', '[{"id": "L2", "kind": "FLT", "rent": "125", "rooms": "3"}]') > 0 AS pushed;
SELECT dataplatform.refresh('by_tenant') - 'view';
SELECT dataplatform.refresh('by_tenant_kind') ->> 'status' AS status;
SELECT count(*) FROM dp_consumer.by_tenant_kind;
SELECT name, last_status, last_result ->> 'sqlstate' AS sqlstate FROM dataplatform.consumer_view
 WHERE name LIKE 'by_tenant%' ORDER BY name;
SELECT dp_test.err($$SELECT dataplatform.publish('e2', 'SELECT kind, count(*) AS n FROM c_lease GROUP BY kind')$$);
-- refresh_all logs the failures and goes on
SET client_min_messages = error;
SELECT view, result ->> 'status' AS status, result ->> 'sqlstate' AS sqlstate FROM dataplatform.refresh_all() ORDER BY view;
RESET client_min_messages;
SELECT view, status, error FROM dataplatform.refresh_log WHERE status = 'failed' ORDER BY id;
SELECT dataplatform.unpublish('by_tenant');
SELECT dataplatform.unpublish('by_tenant_kind');
SELECT * FROM dp_test.oracle_all();
