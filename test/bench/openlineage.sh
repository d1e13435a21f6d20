#!/usr/bin/env bash
# Cost of OpenLineage events on the push path (docs/openlineage.md): pgbench
# runs a 1-row push (the producer pushing one change at a time, the case
# where a fixed cost per call shows most) with dataplatform.openlineage_url
# unset (nothing written) and set (START and COMPLETE built with jansson
# and written to the outbox in the push's transaction), alternating in the
# same run (ROUNDS x DURATION seconds each, 1 client), against plain
# PostgreSQL doing the same keyed upsert of one row into a table with a
# primary key; then a 10,000-row push each way, in one session.  The URL is set for the
# benchmark's sessions only: the worker sends nothing (delivery is not on
# the push path).  Prints the TPS of each run, the medians and the ratios.
# Asserts nothing.  Expects PG* to point at a cluster that preloads the
# extension, as a superuser.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_SECONDS:-5}
BIG_ROUNDS=${BENCH_BIG_ROUNDS:-11}
PGBENCH=$(command -v pgbench || echo "$(${PG_CONFIG:-pg_config} --bindir)/pgbench")
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_openlineage
URL=http://127.0.0.1:9/api/v1/lineage
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('bench');
SELECT dataplatform.define_dataset('{"dataset": "item", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "name", "datatype": "string", "required": true},
  {"name": "size", "datatype": "decimal"}, {"name": "seen", "datatype": "date"}]}');
CREATE TABLE plain_item (id bigint PRIMARY KEY, name text NOT NULL, size numeric, seen date);
SQL

push=$(mktemp); plain=$(mktemp)
trap 'rm -f "$push" "$plain"' EXIT
printf '\\set id random(1, 100000)\nSELECT dataplatform.push('"'"'item'"'"', jsonb_build_object('"'"'id'"'"', :id, '"'"'name'"'"', '"'"'n'"'"' || :id, '"'"'size'"'"', '"'"'1.5'"'"', '"'"'seen'"'"', '"'"'2024-01-02'"'"'));\n' >"$push"
printf '\\set id random(1, 100000)\nINSERT INTO plain_item VALUES (:id, '"'"'n'"'"' || :id, 1.5, '"'"'2024-01-02'"'"') ON CONFLICT (id) DO UPDATE SET name = excluded.name, size = excluded.size, seen = excluded.seen;\n' >"$plain"

tps() {   # tps <file> [url]
    PGOPTIONS="--client-min-messages=warning ${2:+-c dataplatform.openlineage_url=$2}" \
        "$PGBENCH" -n -c 1 -j 1 -T "$DURATION" -f "$1" "$DB" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
off=(); on=(); pl=()
for ((r = 1; r <= ROUNDS; r++)); do
    t=$(tps "$push"); off+=("$t"); echo "round $r: 1-row push, OpenLineage off   $t tps"
    t=$(tps "$push" "$URL"); on+=("$t"); echo "round $r: 1-row push, OpenLineage on    $t tps"
    t=$(tps "$plain"); pl+=("$t"); echo "round $r: plain upsert of one row       $t tps"
done
moff=$(printf '%s\n' "${off[@]}" | median)
mon=$(printf '%s\n' "${on[@]}" | median)
mpl=$(printf '%s\n' "${pl[@]}" | median)
events=$(run -c "SELECT count(*) FROM dataplatform.openlineage_outbox")
bytes=$(run -c "SELECT coalesce(avg(pg_column_size(event))::int, 0) FROM dataplatform.openlineage_outbox")

# one 10,000-row push (a tenth of the dates bad: 1,000 issues) each way,
# BIG_ROUNDS times (default 11: a push takes some 15 ms, so one run is
# noise), alternating in one session (no first-use costs), after one
# untimed push of the same rows (so that every timed push does the same
# work): medians
read -r mb_off mb_on < <(psql -X -q -At -v ON_ERROR_STOP=1 -d $DB <<SQL | tail -1
SET client_min_messages = warning;
CREATE TEMP TABLE t (mode text, ms float8);
CREATE TEMP TABLE p AS SELECT jsonb_agg(jsonb_build_object('id', 200000 + i, 'name', 'b' || i,
  'size', (i % 100)::text, 'seen', CASE WHEN i % 10 = 0 THEN 'not a date' ELSE '2024-01-02' END)) AS rows
  FROM generate_series(1, 10000) i;
DO \$\$
DECLARE t0 timestamptz; rows jsonb := (SELECT p.rows FROM p);
BEGIN
  PERFORM dataplatform.push('item', rows);
  FOR r IN 1..$BIG_ROUNDS LOOP
    PERFORM set_config('dataplatform.openlineage_url', '', false);
    t0 := clock_timestamp();
    PERFORM dataplatform.push('item', rows);
    INSERT INTO t VALUES ('off', extract(epoch FROM clock_timestamp() - t0));
    PERFORM set_config('dataplatform.openlineage_url', '$URL', false);
    t0 := clock_timestamp();
    PERFORM dataplatform.push('item', rows);
    INSERT INTO t VALUES ('on', extract(epoch FROM clock_timestamp() - t0));
  END LOOP;
END \$\$;
SELECT string_agg(m::text, ' ' ORDER BY mode) FROM (SELECT mode, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS m FROM t GROUP BY mode) x;
SQL
)
python3 - "$moff" "$mon" "$mpl" "$mb_off" "$mb_on" "$events" "$bytes" "$DURATION" "$ROUNDS" <<'PY'
import os, sys
off, on, pl, boff, bon = map(float, sys.argv[1:6])
events, nbytes, duration, rounds = sys.argv[6:]
print(f"== 1 client, {duration}s x {rounds} rounds each, medians")
print(f"1-row push, OpenLineage off      {off:10.0f} tps   vs plain upsert {off / pl:.2f}x")
print(f"1-row push, OpenLineage on       {on:10.0f} tps   vs plain upsert {on / pl:.2f}x   on/off = {on / off:.2f}x")
print(f"plain upsert of one row          {pl:10.0f} tps")
print(f"10,000-row push: off {boff:.3f} s, on {bon:.3f} s   on/off time = {bon / boff:.3f}x")
print(f"events written: {events}, {nbytes} bytes each on average (jsonb, before TOAST compression)")
summary = os.environ.get("BENCH_SUMMARY")
if summary:
    with open(summary, "a") as f:
        f.write(f"1-row push with OpenLineage on vs off (same run)|{on / off:.2f}x|>= 0.8x\n")
        f.write(f"10,000-row push time with OpenLineage on vs off|{bon / boff:.3f}x|<= 1.02x\n")
PY
psql -X -q -c "DROP DATABASE $DB"
