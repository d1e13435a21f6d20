#!/usr/bin/env bash
# Collection throughput against plain PostgreSQL in the same run: a CSV of
# BENCH_MB (default 50) MB served by test/http_server.py on 127.0.0.1,
# collected end to end to clean (fetch, raw landing, transform, keyed
# upsert) by the worker, versus psql's \copy of the same file into a typed
# table with a primary key.  Also job dispatch latency (run_now and collect:
# started_at - scheduled_for) over BENCH_RUNS runs.  Prints figures and
# ratios; asserts nothing.
# Expects PG* to point at a cluster with the extension preloaded and
# dataplatform.allowed_hosts = '127.0.0.1'; uses the HTTP server of
# test/cluster.sh (DP_HTTP_PORT_FILE, DP_HTTP_DIR) or starts its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
MB=${BENCH_MB:-50}
RUNS=${BENCH_RUNS:-50}
DB=dp_bench_collect
export PGOPTIONS=--client-min-messages=warning
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
now() { date +%s.%N; }

if [ -z "${DP_HTTP_PORT_FILE:-}" ]; then
    HTTP_TMP=$(mktemp -d /tmp/dp_http.XXXXXX)
    export DP_HTTP_DIR=$HTTP_TMP/www DP_HTTP_PORT_FILE=$HTTP_TMP/port
    mkdir -p "$DP_HTTP_DIR"
    python3 test/http_server.py --dir "$DP_HTTP_DIR" --port-file "$DP_HTTP_PORT_FILE" &
    own=$!
    trap 'kill $own 2>/dev/null || true; rm -rf "$HTTP_TMP"' EXIT
    for _ in $(seq 50); do [ -s "$DP_HTTP_PORT_FILE" ] && break; sleep 0.1; done
fi
read -r PORT _ <"$DP_HTTP_PORT_FILE"
FILE=$DP_HTTP_DIR/bench.csv

# the file: unique keys, five typed columns, ~70 bytes a row
rows=$((MB * 1024 * 1024 / 70))
awk -v n=$rows 'BEGIN { print "reference,name,amount,day,active";
  for (i = 1; i <= n; i++)
    printf "R%09d,name of item %d in the bench,%d.%02d,%04d-%02d-%02d,%s\n",
           i, i, i % 10000, i % 100, 2000 + i % 24, 1 + i % 12, 1 + i % 28, (i % 3 ? "true" : "false") }' >"$FILE"
bytes=$(stat -c %s "$FILE")
mb=$(awk -v b=$bytes 'BEGIN { printf "%.1f", b / 1048576 }')
echo "# file: $rows rows, $mb MB"

psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('bench');
SELECT dataplatform.define_dataset('{"dataset": "bench-item", "product": "bench", "key": ["reference"], "fields": [
  {"name": "reference", "datatype": "string"}, {"name": "name", "datatype": "string"},
  {"name": "amount", "datatype": "decimal"}, {"name": "day", "datatype": "date"},
  {"name": "active", "datatype": "flag"}]}');
CREATE TABLE plain_item (reference text PRIMARY KEY, name text, amount numeric, day date, active boolean);
SELECT dataplatform.add_endpoint('bench-item', 'http://127.0.0.1:$PORT/files/bench.csv',
  '{"timeout_ms": 3600000, "max_bytes": 536870912}');
SELECT dataplatform.alter_job('collect:bench-item', timeout => '1 hour');
SELECT dataplatform.schedule('noop', '@yearly', 'SELECT 1');
SQL
for _ in $(seq 100); do
    [ -n "$(run -c "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()")" ] && break
    sleep 0.1
done

# plain COPY of the same file
t0=$(now)
run -c "\\copy plain_item FROM '$FILE' CSV HEADER"
t1=$(now)
copy_s=$(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.2f", b - a }')

# collection, end to end to clean
r=$(run -c "SELECT dataplatform.collect('bench-item')")
t0=$(now)
status=$(run -c "SELECT dataplatform.wait_for_run($r, '1 hour')")
t1=$(now)
wall_s=$(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.2f", b - a }')
read -r run_s fetch_ms loaded outcome < <(run -F ' ' -c "
  SELECT round(extract(epoch FROM r.finished_at - r.started_at)::numeric, 2), l.elapsed_ms, b.rows_loaded, l.outcome
    FROM dataplatform.job_run r JOIN dataplatform.collection_log l ON l.run_id = r.run_id
    LEFT JOIN dataplatform.batch b ON b.id = l.batch_id WHERE r.run_id = $r")
clean=$(run -c "SELECT count(*) FROM dp_clean.bench_item")
echo "# collect: status $status, outcome $outcome, $loaded rows loaded, $clean clean rows"
awk -v mb=$mb -v c=$copy_s -v r=$run_s -v f=$fetch_ms -v w=$wall_s 'BEGIN {
  printf "collect %s MB end to end to clean: %.2f s in the run (%.1f MB/s; fetch %.2f s = %.1f MB/s), %.2f s from collect() to done\n", mb, r, mb / r, f / 1000, mb / (f / 1000), w;
  printf "plain \\copy of the same file into a typed table with a primary key: %.2f s (%.1f MB/s)\n", c, mb / c;
  printf "ratio collect / COPY: %.1fx\n", r / c }'

# an unchanged second download: fetch + hash only
r=$(run -c "SELECT dataplatform.collect('bench-item')")
run -c "SELECT dataplatform.wait_for_run($r, '1 hour')" >/dev/null
run -c "SELECT 'unchanged re-download: ' || l.outcome || ' in ' || round(extract(epoch FROM r.finished_at - r.started_at)::numeric, 2) || ' s'
          FROM dataplatform.job_run r JOIN dataplatform.collection_log l ON l.run_id = r.run_id WHERE r.run_id = $r"

# dispatch latency: run_now of a no-op job, one at a time
for _ in $(seq "$RUNS"); do
    r=$(run -c "SELECT dataplatform.run_now('noop')")
    run -c "SELECT dataplatform.wait_for_run($r, '30 seconds')" >/dev/null
done
run -c "SELECT format('dispatch latency (started_at - scheduled_for) over %s run_now runs: median %s ms, p95 %s ms, max %s ms',
          count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
          round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1))
          FROM (SELECT extract(epoch FROM started_at - scheduled_for) * 1000 AS ms
                  FROM dataplatform.job_run WHERE job_name = 'noop') x"
psql -X -q -c "DROP DATABASE $DB" >/dev/null 2>&1 || true
rm -f "$FILE"
