#!/usr/bin/env bash
# Push throughput against plain PostgreSQL in the same run:
#   COPY of N tenure-like rows (10 typed columns, uuid key) from CSV into a
#   typed table with a primary key, versus
#   push() of the same rows as jsonb arrays of 10,000, and
#   push_csv() of the same CSV in 10 chunks,
# into a dataset with the same fields (raw landing, transform, issue log and
# keyed upsert included).  Also check() throughput and the backend's peak
# memory for one 10,000-row push.  Each of COPY, push and push_csv runs
# BENCH_REPEAT times (default 3), interleaved, each time into a table or
# dataset of its own, and the fastest of each is compared: on a shared,
# loaded machine one run of each swings by 2x.  Prints figures and ratios;
# asserts nothing.
# Expects PG* to point at a cluster with the extension installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${BENCH_ROWS:-1000000}
REPEAT=${BENCH_REPEAT:-3}
CHUNK=10000
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_push
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('bench');
SELECT dataplatform.define_dataset('{"dataset": "tenure", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "uuid"}, {"name": "paymentReference", "datatype": "string"},
  {"name": "tenureType", "datatype": "string", "codelist": ["SEC", "FLT", "INT", "LEA"]},
  {"name": "startDate", "datatype": "date"}, {"name": "endDate", "datatype": "date"},
  {"name": "isActive", "datatype": "flag"}, {"name": "weeklyRent", "datatype": "decimal", "minimum": 0},
  {"name": "rooms", "datatype": "integer"}, {"name": "lastUpdated", "datatype": "datetime"},
  {"name": "notes", "datatype": "text"}]}');
CREATE TABLE plain_tenure_shape (id uuid PRIMARY KEY, payment_reference text, tenure_type text,
  start_date date, end_date date, is_active boolean, weekly_rent numeric, rooms bigint,
  last_updated timestamptz, notes text);
-- the source rows: realistic variety, all valid (COPY must accept them too)
CREATE TABLE src AS
SELECT i,
       md5(i::text)::uuid AS id,
       lpad((i * 7)::text, 10, '0') AS payment_reference,
       (ARRAY['SEC', 'FLT', 'INT', 'LEA'])[1 + i % 4] AS tenure_type,
       (date '1990-01-01' + (i % 12000))::text AS start_date,
       CASE WHEN i % 5 = 0 THEN (date '2020-01-01' + (i % 1500))::text END AS end_date,
       CASE WHEN i % 5 = 0 THEN 'false' ELSE 'true' END AS is_active,
       ((i % 50000) / 100.0)::text AS weekly_rent,
       (1 + i % 6)::text AS rooms,
       (timestamptz '2024-01-01 00:00:00+00' + (i % 100000) * interval '1 minute')::text AS last_updated,
       CASE WHEN i % 3 = 0 THEN 'Needs review, see file ' || i END AS notes
  FROM generate_series(1, $N) i;
SQL
DATA=$(mktemp -d); chmod 755 "$DATA"
run -c "\\copy (SELECT id, payment_reference, tenure_type, start_date, end_date, is_active, weekly_rent, rooms, last_updated, notes FROM src ORDER BY i) TO '$DATA/all.csv' WITH (FORMAT csv, HEADER)"
# ten CSV chunks with their header
head -1 "$DATA/all.csv" > "$DATA/header"
tail -n +2 "$DATA/all.csv" > "$DATA/body"
split -n l/10 -d "$DATA/body" "$DATA/part."
for f in "$DATA"/part.??; do cat "$DATA/header" "$f" > "$f.csv"; done

now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{$N/($2-$1):,.0f}')" "$@"; }

# the payloads: 100 jsonb arrays of 10,000 rows, built server-side (timed on
# the push alone: stored uncompressed, as a producer's parameter arrives, so
# that reading one back is not a decompression COPY's file read does not have)
run <<SQL
CREATE TABLE payloads (chunk int, rows jsonb);
ALTER TABLE payloads ALTER rows SET STORAGE EXTERNAL;
INSERT INTO payloads
SELECT (i - 1) / $CHUNK AS chunk,
       jsonb_agg(jsonb_build_object('id', id, 'paymentReference', payment_reference,
         'tenureType', tenure_type, 'startDate', start_date, 'endDate', end_date,
         'isActive', is_active, 'weeklyRent', weekly_rent, 'rooms', rooms,
         'lastUpdated', last_updated, 'notes', notes) ORDER BY i) AS rows
  FROM src GROUP BY 1;
SQL
# the CSV chunks go into a table first, so the timing is of push_csv alone
# (as for push, whose payloads are built beforehand)
run -c "CREATE TABLE csv_chunks (n int, data text)" -c "ALTER TABLE csv_chunks ALTER data SET STORAGE EXTERNAL"
n=0
for f in "$DATA"/part.*.csv; do
  printf '\\set content `cat %s`\nINSERT INTO csv_chunks VALUES (%d, :%s);\n' "$f" "$n" "'content'" | run >/dev/null
  n=$((n + 1))
done

copy_s=; push_s=; csv_s=; copy_cpu=; push_cpu=; csv_cpu=
# the backend's own CPU time (user + system, from /proc), beside the wall
# clock: on a loaded machine it is what the work cost, not the wait for a core
CPU_BEFORE="SELECT (string_to_array(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ' '))[14:15] AS cpu0 \\gset"
CPU_SPENT="(SELECT (c[14]::bigint + c[15]::bigint - (:'cpu0'::bigint[])[1] - (:'cpu0'::bigint[])[2]) / 100.0
  FROM string_to_array(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ' ') c)"
best() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:] if x))" "$@"; }
for r in $(seq "$REPEAT"); do
  # COPY into a fresh typed table with a primary key
  run -c "DROP TABLE IF EXISTS plain_tenure" -c "CREATE TABLE plain_tenure (LIKE plain_tenure_shape INCLUDING ALL)"
  out=$(run <<SQL
$CPU_BEFORE
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
\\copy plain_tenure FROM '$DATA/all.csv' WITH (FORMAT csv, HEADER)
SELECT extract(epoch FROM clock_timestamp()) - :t0, $CPU_SPENT;
SQL
)
  copy_s=$(best $copy_s "${out%|*}"); copy_cpu=$(best $copy_cpu "${out#*|}")
  # push: into a fresh dataset each round
  ds=tenure; [ "$r" -gt 1 ] && ds=tenure-$r
  [ "$r" -gt 1 ] && run -c "SELECT dataplatform.define_dataset(jsonb_set(dataplatform.describe('tenure') - 'version' - 'clean_table', '{dataset}', '\"$ds\"'))" >/dev/null
  s=$(run <<SQL
$CPU_BEFORE
BEGIN;
DO \$\$ DECLARE p record; BEGIN
  FOR p IN SELECT rows FROM payloads ORDER BY chunk LOOP
    PERFORM dataplatform.push('$ds', p.rows);
  END LOOP; END \$\$;
SELECT extract(epoch FROM clock_timestamp() - now()), $CPU_SPENT;
COMMIT;
SQL
)
  push_s=$(best $push_s "${s%|*}"); push_cpu=$(best $push_cpu "${s#*|}")
  # push_csv: the same rows into a fresh dataset
  run -c "SELECT dataplatform.define_dataset(jsonb_set(dataplatform.describe('tenure') - 'version' - 'clean_table', '{dataset}', '\"tenure-csv-$r\"'))" >/dev/null
  s=$(run <<SQL
$CPU_BEFORE
BEGIN;
DO \$\$ DECLARE p record; BEGIN
  FOR p IN SELECT data FROM csv_chunks ORDER BY n LOOP
    PERFORM dataplatform.push_csv('tenure-csv-$r', p.data);
  END LOOP; END \$\$;
SELECT extract(epoch FROM clock_timestamp() - now()), $CPU_SPENT;
COMMIT;
SQL
)
  csv_s=$(best $csv_s "${s%|*}"); csv_cpu=$(best $csv_cpu "${s#*|}")
done

check_s=$(run <<SQL
BEGIN;
DO \$\$ DECLARE p record; BEGIN
  FOR p IN SELECT rows FROM payloads WHERE chunk < 20 ORDER BY chunk LOOP
    PERFORM dataplatform.check('tenure', p.rows);
  END LOOP; END \$\$;
SELECT extract(epoch FROM clock_timestamp() - now());
COMMIT;
SQL
)
check_rows=$(run -c "SELECT sum(jsonb_array_length(rows)) FROM payloads WHERE chunk < 20")

# peak memory of a fresh backend for one 10,000-row push
mem=$(run <<SQL
SELECT pg_backend_pid() AS pid \gset
SELECT (regexp_match(pg_read_file('/proc/' || :pid || '/status'), 'VmHWM:\s+(\d+)'))[1]::int AS before \gset
SELECT dataplatform.push('tenure', rows) FROM payloads WHERE chunk = 0;
SELECT (regexp_match(pg_read_file('/proc/' || :pid || '/status'), 'VmHWM:\s+(\d+)'))[1]::int - :before;
SQL
)
mem_kb=$(echo "$mem" | tail -1)
loaded=$(run -c "SELECT count(*) FROM dp_clean.tenure")
issues=$(run -c "SELECT count(*) FROM dataplatform.issue")

python3 - "$N" "$copy_s" "$push_s" "$csv_s" "$check_s" "$check_rows" "$mem_kb" "$loaded" "$issues" \
  "$copy_cpu" "$push_cpu" "$csv_cpu" <<'PY'
import sys
n, copy_s, push_s, csv_s, check_s, check_rows, mem_kb, loaded, issues, copy_cpu, push_cpu, csv_cpu = sys.argv[1:]
copy_cpu, push_cpu, csv_cpu = map(float, (copy_cpu, push_cpu, csv_cpu))
n = int(n); copy_s, push_s, csv_s, check_s = map(float, (copy_s, push_s, csv_s, check_s))
c, p, v = n / copy_s, n / push_s, n / csv_s
print(f"rows: {n:,}   (clean rows after push: {int(loaded):,}; issues logged: {int(issues):,})")
print(f"fastest of {int(__import__('os').environ.get('BENCH_REPEAT', '3'))} runs each, interleaved")
print(f"{'COPY into a typed table with a primary key':48s} {c:>12,.0f} rows/s   {copy_s:7.2f} s")
print(f"{'push(), 100 jsonb arrays of 10,000':48s} {p:>12,.0f} rows/s   {push_s:7.2f} s   push/COPY = {p / c:.2f}")
print(f"{'push_csv(), 10 CSV chunks':48s} {v:>12,.0f} rows/s   {csv_s:7.2f} s   push_csv/COPY = {v / c:.2f}")
print(f"backend CPU time (user + system), fastest of each: COPY {copy_cpu:.2f} s, push {push_cpu:.2f} s, "
      f"push_csv {csv_cpu:.2f} s   push/COPY = {copy_cpu / push_cpu:.2f}   push_csv/COPY = {copy_cpu / csv_cpu:.2f}")
print(f"{'check(), 10,000-row arrays (nothing written)':48s} {int(check_rows) / check_s:>12,.0f} rows/s")
summary = __import__("os").environ.get("BENCH_SUMMARY")
if summary:
    with open(summary, "a") as f:
        f.write(f"push() vs COPY (typed table, primary key)|{p / c:.2f}x|>= 0.7x\n")
        f.write(f"push_csv() vs COPY|{v / c:.2f}x|>= 0.7x\n")
        f.write(f"push() vs COPY, backend CPU time|{copy_cpu / push_cpu:.2f}x|>= 0.7x\n")
        f.write(f"push_csv() vs COPY, backend CPU time|{copy_cpu / csv_cpu:.2f}x|>= 0.7x\n")
print(f"peak backend memory growth for one 10,000-row push: {int(mem_kb) / 1024:.1f} MiB (VmHWM: includes the shared buffers it touched)")
PY
rm -rf "$DATA"
psql -X -q -c "DROP DATABASE $DB"
