-- asynchronous processing: pushes land raw and return; the worker's job
-- transforms queued batches in order, exactly once; rebuild_changed
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';

SELECT name FROM dataplatform.define_product('queue');
SELECT dataplatform.grant_producer('queue', 'dp_t_producer');
SELECT dataplatform.define_dataset('{"dataset": "reading", "product": "queue", "key": ["meter"],
  "fields": [{"name": "meter", "datatype": "string"}, {"name": "value", "datatype": "decimal"},
             {"name": "read-on", "datatype": "date"}]}');
SELECT dataplatform.configure('reading', '{"processing": "async"}');
-- configuring async creates the dataset's processing job; pause it so this
-- test drives processing itself
SELECT name, schedule, command, active FROM dataplatform.job WHERE name = 'dataplatform: process reading';
SELECT dataplatform.alter_job('dataplatform: process reading', active => false);

-- a push lands raw and returns at once: queued, nothing in clean
SET ROLE dp_t_producer;
SELECT dataplatform.push('reading', '[{"meter": "M1", "value": "12.5", "read-on": "02/01/2024"},
                                      {"meter": "M2", "value": "x"}]') AS b1 \gset
SELECT dataplatform.push_csv('reading', E'meter,value,read-on\nM1,13.0,2024-01-03\nM3,7,\n') AS b2 \gset
RESET ROLE;
SELECT id = :b1 AS first, kind, status, rows, rows_loaded, spec_version FROM dataplatform.batch
 WHERE dataset = 'reading' ORDER BY id;
SELECT count(*) AS raw_rows FROM dp_raw.rows WHERE batch_id IN (:b1, :b2);
SELECT count(*) AS clean_rows FROM dp_clean.reading;
-- malformed input is still refused at push time
SELECT dp_test.err($$SELECT dataplatform.push_csv('reading', E'meter,value\nM9,1,2\n')$$);

-- processing: in batch order, issues logged as for a synchronous push
SELECT dataplatform.process_queued('reading', 1) AS processed;
SELECT id = :b1 AS first, status, rows_loaded, issues_error, spec_version FROM dataplatform.batch
 WHERE dataset = 'reading' ORDER BY id;
SELECT dataplatform.process_queued() AS processed;
SELECT dataplatform.process_queued() AS nothing_left;
SELECT meter, value, read_on, _batch_id = :b2 AS from_b2 FROM dp_clean.reading ORDER BY meter;
SELECT issue_type, value FROM dataplatform.issue WHERE batch_id = :b1;

-- a batch that cannot be processed is marked failed, the others go on
SELECT dataplatform.push('reading', '{"meter": "M4", "value": 4}') AS b3 \gset
SELECT dataplatform.push('reading', '{"meter": "M5", "value": 5}') AS b4 \gset
UPDATE dataplatform.batch SET kind = 'snapshot' WHERE id = :b3;
SET client_min_messages = error;
SELECT dataplatform.process_queued('reading') AS processed;
RESET client_min_messages;
SELECT id = :b3 AS broken, status, regexp_replace(result ->> 'error', '[0-9]+', 'N') AS error FROM dataplatform.batch
 WHERE id IN (:b3, :b4) ORDER BY id;
SELECT meter FROM dp_clean.reading WHERE meter IN ('M4', 'M5');
UPDATE dataplatform.batch SET kind = 'push' WHERE id = :b3;

-- the worker does it on its own: the job, run now
SELECT dataplatform.alter_job('dataplatform: process reading', active => true);
SELECT dataplatform.push('reading', '{"meter": "M6", "value": 6}') AS b5 \gset
SELECT dataplatform.run_now('dataplatform: process reading') AS run \gset
SELECT dataplatform.wait_for_run(:run, '60 seconds');
SELECT status FROM dataplatform.batch WHERE id = :b5;
SELECT value FROM dp_clean.reading WHERE meter = 'M6';
-- while pushes are queued, a snapshot (which applies at once) is refused
SELECT dataplatform.alter_job('dataplatform: process reading', active => false);
SELECT dataplatform.push('reading', '{"meter": "M7", "value": 7}') AS b6 \gset
SELECT dp_test.err($$SELECT dataplatform.load_snapshot('reading', '[{"meter": "M8"}]', now())$$);
-- back to synchronous: the job goes, and what was queued is processed now
SELECT dataplatform.configure('reading', '{}');
SELECT count(*) AS jobs FROM dataplatform.job WHERE name = 'dataplatform: process reading';
SELECT status FROM dataplatform.batch WHERE id = :b6;
SELECT value FROM dp_clean.reading WHERE meter = 'M7';

-- rebuild_changed: datasets whose spec or configuration changed since their
-- batches were processed are rebuilt; the others are left as they are
SELECT dataplatform.rebuild_changed() -> 'rebuilt' ? 'reading' AS rebuilt_before;
SELECT dataplatform.configure('reading', '{"lookup": {"meter": {"M1": "M01"}}}');
SELECT r -> 'rebuilt' ? 'reading' AS rebuilt, r -> 'left_out' ? 'reading' AS left_out
  FROM dataplatform.rebuild_changed() AS r;
SELECT meter FROM dp_clean.reading ORDER BY meter;
SELECT dataplatform.rebuild_changed() -> 'rebuilt' ? 'reading' AS rebuilt_again;
SELECT DISTINCT config_version FROM dataplatform.batch WHERE dataset = 'reading' AND status = 'done';

SELECT dp_test.err($$SELECT dataplatform.configure('reading', '{"processing": "later"}')$$);
SET ROLE dp_t_producer;
SELECT dp_test.err($$SELECT dataplatform.process_queued()$$);
RESET ROLE;
