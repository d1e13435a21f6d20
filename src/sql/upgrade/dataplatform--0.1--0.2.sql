-- dataplatform 0.1 -> 0.2
-- Every change of the schema made after 0.1, in the order made; an updated
-- 0.1 database must equal a fresh 0.2 install (test/upgrade/ checks it).
\echo Use "ALTER EXTENSION dataplatform UPDATE TO '0.2'" to load this file. \quit

-- batches waiting for asynchronous processing, found without reading a
-- dataset's whole batch history (issue 11)
CREATE INDEX batch_pending ON @extschema@.batch (dataset, id) WHERE status IN ('queued', 'processing');
