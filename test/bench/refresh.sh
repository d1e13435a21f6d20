#!/usr/bin/env bash
# Incremental refresh against plain PostgreSQL in the same run:
#   a dataset of N tenure-like rows (default 1,000,000), two published views
#   (a projection with a filter and a computed column; a GROUP BY with count,
#   sum, avg, min and max), and two materialized views of the same queries on
#   the same table.  1% of the rows change by push (updates spread over the
#   whole table, some of them moving rows between groups); then refresh() of
#   each published view is timed against REFRESH MATERIALIZED VIEW (and
#   REFRESH MATERIALIZED VIEW CONCURRENTLY, the non-blocking variant) of the
#   same query (the table vacuumed after the change, so that neither pays
#   for pruning what the change left: see below), each in a new session
#   after a read of the catalog; then, after two more 1% changes, each in a
#   warm backend: one long-lived session, as the scheduler's worker is, that
#   ran each statement after the second change and is timed after the
#   third.  Then the cold case: the same views over a second dataset of
#   BENCH_COLD_ROWS rows (default 200,000), refresh() after a 1% change as
#   the first statement of a new session against REFRESH MATERIALIZED VIEW
#   likewise (median of three rounds).  Prints the times and the ratios, and
#   checks that each view equals its query afterwards; asserts nothing.
# Expects PG* to point at a cluster with the extension installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${BENCH_ROWS:-1000000}
CHANGE=$((N / 100))
CHUNK=50000
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_refresh
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }

echo "loading $N rows ..."
run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('bench');
SELECT dataplatform.define_dataset('{"dataset": "tenure", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "paymentReference", "datatype": "string"},
  {"name": "tenureType", "datatype": "string"}, {"name": "startDate", "datatype": "date"},
  {"name": "endDate", "datatype": "date"}, {"name": "weeklyRent", "datatype": "decimal"},
  {"name": "rooms", "datatype": "integer"}]}');
SQL
for ((s = 1; s <= N; s += CHUNK)); do
  e=$((s + CHUNK - 1)); [ $e -gt $N ] && e=$N
  run >/dev/null <<SQL
SELECT dataplatform.push('tenure', (SELECT jsonb_agg(jsonb_build_object(
  'id', i, 'paymentReference', lpad((i * 7)::text, 10, '0'),
  'tenureType', (ARRAY['SEC', 'FLT', 'INT', 'LEA'])[1 + i % 4],
  'startDate', (date '1990-01-01' + (i % 12000))::text,
  'endDate', CASE WHEN i % 5 = 0 THEN (date '2020-01-01' + (i % 1500))::text END,
  'weeklyRent', ((i % 50000) / 100.0)::text, 'rooms', 1 + i % 6))
  FROM generate_series($s, $e) i));
SQL
done

echo "publishing ..."
PROJ="SELECT id, tenure_type, weekly_rent * 52 AS yearly_rent, rooms FROM dp_clean.tenure WHERE end_date IS NULL"
GROUP="SELECT tenure_type, rooms, count(*) AS leases, sum(weekly_rent) AS rent, avg(weekly_rent) AS mean_rent, min(weekly_rent) AS min_rent, max(weekly_rent) AS max_rent FROM dp_clean.tenure GROUP BY tenure_type, rooms"
run >/dev/null <<SQL
SELECT dataplatform.publish('bench_proj', \$q\$$PROJ\$q\$);
SELECT dataplatform.publish('bench_group', \$q\$$GROUP\$q\$);
CREATE MATERIALIZED VIEW mv_proj AS $PROJ;
CREATE UNIQUE INDEX ON mv_proj (id);
CREATE MATERIALIZED VIEW mv_group AS $GROUP;
CREATE UNIQUE INDEX ON mv_group (tenure_type, rooms);
VACUUM ANALYZE;
SQL
run -c "SELECT name, method FROM dataplatform.consumer_view ORDER BY name" | sed 's/^/  method: /'

# change ROUND: 1% of the rows, chosen at random (seed by round), changed by
# push (some of them moving between groups, some leaving the projection)
change_sql() {
  cat <<SQL
SELECT setseed(0.42 + $1 / 100.0);
CREATE TEMP TABLE changed AS SELECT DISTINCT 1 + (random() * ($N - 1))::int AS i FROM generate_series(1, $CHANGE * 2) LIMIT $CHANGE;
SELECT dataplatform.push('tenure', (SELECT jsonb_agg(jsonb_build_object(
  'id', i, 'paymentReference', lpad((i * 7)::text, 10, '0'),
  'tenureType', (ARRAY['SEC', 'FLT', 'INT', 'LEA'])[1 + (i / 7 + $1) % 4],
  'startDate', (date '1990-01-01' + (i % 12000))::text,
  'endDate', CASE WHEN (i + $1) % 3 = 0 THEN (date '2020-01-01' + (i % 1500))::text END,
  'weeklyRent', ((i % 50000) / 100.0 + 1 + $1)::text, 'rooms', 1 + i % 6))
  FROM changed));
VACUUM dp_clean.tenure;
SQL
}
change() { change_sql "$1" | run >/dev/null; }
echo "changing $CHANGE rows (1%, chosen at random) by push ..."
change 0
# Both sides then read the table as it is after the change: the dead row
# versions the change left are pruned (and the new ones' hint bits set) by
# the first scan of their pages, which would otherwise be refresh()'s,
# timed first, and REFRESH MATERIALIZED VIEW would find them done (in
# production each pays it when it comes first after a change); a VACUUM
# (in change) does it for both.  History, which only refresh() reads, is
# left as the change wrote it.

# a new session, server-side clock: milliseconds of one statement (after a
# read of the catalog)
timed() {
  run <<SQL | tail -1
SELECT count(*) FROM dataplatform.consumer_status \gset
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$1;
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);
SQL
}
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b * 100:.1f}%')" "$1" "$2"; }
# the table of refresh() against REFRESH MATERIALIZED VIEW: projection ms,
# GROUP BY ms of refresh(), then of REFRESH MATERIALIZED VIEW
vs_mv() {
  printf '%-34s %12s %12s\n' "" "projection" "group by"
  printf '%-34s %10s ms %10s ms\n' "refresh() after a 1% change" "$1" "$2"
  printf '%-34s %10s ms %10s ms\n' "REFRESH MATERIALIZED VIEW" "$3" "$4"
  printf '%-34s %13s %13s\n' "ratio refresh() / REFRESH MV" "$(ratio "$1" "$3")" "$(ratio "$2" "$4")"
}

inc_proj=$(timed "SELECT dataplatform.refresh('bench_proj') ->> 'status'")
inc_group=$(timed "SELECT dataplatform.refresh('bench_group') ->> 'status'")
mv_proj=$(timed "REFRESH MATERIALIZED VIEW mv_proj")
mv_group=$(timed "REFRESH MATERIALIZED VIEW mv_group")
mvc_proj=$(timed "REFRESH MATERIALIZED VIEW CONCURRENTLY mv_proj")
mvc_group=$(timed "REFRESH MATERIALIZED VIEW CONCURRENTLY mv_group")
full_proj=$(timed "SELECT dataplatform.refresh('bench_proj', full => true) ->> 'status'")
full_group=$(timed "SELECT dataplatform.refresh('bench_group', full => true) ->> 'status'")

# The warm backend: one long-lived session, as the scheduler's worker is,
# that has run each statement before.  It refreshes both views and both
# materialized views after a second change (untimed), then, after a third
# change (made by another session meanwhile), times each again.
# "round ms statement" lines, server-side clock.
echo "warm backend: two more changes, each statement timed on the second ..."
change 1
WARM_SCRIPT=$(mktemp); CHANGE_SCRIPT=$(mktemp)
change_sql 2 > "$CHANGE_SCRIPT"
chmod a+r "$CHANGE_SCRIPT"
{
  echo "SELECT count(*) FROM dataplatform.consumer_status;"
  for r in 1 2; do
    [ $r = 2 ] && echo "\\! psql -X -q -v ON_ERROR_STOP=1 -d $DB -f $CHANGE_SCRIPT >/dev/null"
    for st in "proj|SELECT dataplatform.refresh('bench_proj') ->> 'status'" \
              "group|SELECT dataplatform.refresh('bench_group') ->> 'status'" \
              "mv_proj|REFRESH MATERIALIZED VIEW mv_proj" "mv_group|REFRESH MATERIALIZED VIEW mv_group"; do
      echo "SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset"
      echo "${st#*|};"
      echo "SELECT '$r ${st%%|*} ' || round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);"
    done
  done
} > "$WARM_SCRIPT"
warm_out=$(run -f "$WARM_SCRIPT" | grep '^2 ')
rm -f "$WARM_SCRIPT" "$CHANGE_SCRIPT"
w() { awk -v k="$1" '$2 == k {print $3}' <<<"$warm_out"; }
warm_proj=$(w proj); warm_group=$(w group); warm_mv_proj=$(w mv_proj); warm_mv_group=$(w mv_group)

echo
echo "rows: $N, changed: $CHANGE, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "warm backend (a long-lived session that ran each statement before):"
vs_mv "$warm_proj" "$warm_group" "$warm_mv_proj" "$warm_mv_group"
if [ -n "${BENCH_SUMMARY:-}" ]; then
    echo "refresh() after 1% change vs REFRESH MATERIALIZED VIEW, projection (warm backend), $N rows|$(ratio "$warm_proj" "$warm_mv_proj")|<= 6%" >> "$BENCH_SUMMARY"
    echo "refresh() after 1% change vs REFRESH MATERIALIZED VIEW, GROUP BY (warm backend)|$(ratio "$warm_group" "$warm_mv_group")|<= 6%" >> "$BENCH_SUMMARY"
fi
echo "a new session, after a read of the catalog (the first change):"
vs_mv "$inc_proj" "$inc_group" "$mv_proj" "$mv_group"
printf '%-34s %10s ms %10s ms\n' "REFRESH ... CONCURRENTLY" "$mvc_proj" "$mvc_group"
printf '%-34s %10s ms %10s ms\n' "refresh(full => true), no change" "$full_proj" "$full_group"
printf '%-34s %13s %13s\n' "ratio refresh() / ... CONCURRENTLY" "$(ratio "$inc_proj" "$mvc_proj")" "$(ratio "$inc_group" "$mvc_group")"
if [ -n "${BENCH_SUMMARY:-}" ]; then
    echo "the same, a new session after a read of the catalog, projection / GROUP BY|$(ratio "$inc_proj" "$mv_proj") / $(ratio "$inc_group" "$mv_group")|-" >> "$BENCH_SUMMARY"
fi

# The first call of a new session (cold: no catalog cache, no plans), on a
# dataset of COLD rows (default 200,000): refresh() after a 1% change
# against REFRESH MATERIALIZED VIEW, each the first statement of its own
# session; three rounds, the median of each.
COLD=${BENCH_COLD_ROWS:-200000}
echo
echo "cold: loading $COLD rows ..."
run >/dev/null <<SQL
SELECT dataplatform.define_dataset('{"dataset": "tenure-cold", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "paymentReference", "datatype": "string"},
  {"name": "tenureType", "datatype": "string"}, {"name": "startDate", "datatype": "date"},
  {"name": "endDate", "datatype": "date"}, {"name": "weeklyRent", "datatype": "decimal"},
  {"name": "rooms", "datatype": "integer"}]}');
SQL
for ((s = 1; s <= COLD; s += CHUNK)); do
  e=$((s + CHUNK - 1)); [ $e -gt $COLD ] && e=$COLD
  run >/dev/null <<SQL
SELECT dataplatform.push('tenure-cold', (SELECT jsonb_agg(jsonb_build_object(
  'id', i, 'paymentReference', lpad((i * 7)::text, 10, '0'),
  'tenureType', (ARRAY['SEC', 'FLT', 'INT', 'LEA'])[1 + i % 4],
  'startDate', (date '1990-01-01' + (i % 12000))::text,
  'endDate', CASE WHEN i % 5 = 0 THEN (date '2020-01-01' + (i % 1500))::text END,
  'weeklyRent', ((i % 50000) / 100.0)::text, 'rooms', 1 + i % 6))
  FROM generate_series($s, $e) i));
SQL
done
CPROJ=${PROJ//dp_clean.tenure/dp_clean.tenure_cold}
CGROUP=${GROUP//dp_clean.tenure/dp_clean.tenure_cold}
run >/dev/null <<SQL
SELECT dataplatform.publish('cold_proj', \$q\$$CPROJ\$q\$);
SELECT dataplatform.publish('cold_group', \$q\$$CGROUP\$q\$);
CREATE MATERIALIZED VIEW mv_cold_proj AS $CPROJ;
CREATE UNIQUE INDEX ON mv_cold_proj (id);
CREATE MATERIALIZED VIEW mv_cold_group AS $CGROUP;
CREATE UNIQUE INDEX ON mv_cold_group (tenure_type, rooms);
VACUUM ANALYZE;
SQL
# the first statement of a new session, server-side clock
cold() {
  run <<SQL | tail -1
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$1;
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);
SQL
}
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
cp=(); cg=(); mp=(); mg=()
for round in 1 2 3; do
  run >/dev/null <<SQL
SELECT setseed(0.$round);
CREATE TEMP TABLE changed AS SELECT DISTINCT 1 + (random() * ($COLD - 1))::int AS i FROM generate_series(1, $COLD / 50) LIMIT $COLD / 100;
SELECT dataplatform.push('tenure-cold', (SELECT jsonb_agg(jsonb_build_object(
  'id', i, 'paymentReference', lpad((i * 7)::text, 10, '0'),
  'tenureType', (ARRAY['SEC', 'FLT', 'INT', 'LEA'])[1 + (i / 7 + $round) % 4],
  'startDate', (date '1990-01-01' + (i % 12000))::text,
  'endDate', CASE WHEN (i + $round) % 3 = 0 THEN (date '2020-01-01' + (i % 1500))::text END,
  'weeklyRent', ((i % 50000) / 100.0 + $round)::text, 'rooms', 1 + i % 6))
  FROM changed));
VACUUM dp_clean.tenure_cold;
SQL
  cp+=("$(cold "SELECT dataplatform.refresh('cold_proj') ->> 'status'")")
  cg+=("$(cold "SELECT dataplatform.refresh('cold_group') ->> 'status'")")
  mp+=("$(cold "REFRESH MATERIALIZED VIEW mv_cold_proj")")
  mg+=("$(cold "REFRESH MATERIALIZED VIEW mv_cold_group")")
done
cold_proj=$(median "${cp[@]}"); cold_group=$(median "${cg[@]}")
cold_mv_proj=$(median "${mp[@]}"); cold_mv_group=$(median "${mg[@]}")
echo
echo "cold (first call of a new session), rows: $COLD, changed: $((COLD / 100)), median of 3, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
vs_mv "$cold_proj" "$cold_group" "$cold_mv_proj" "$cold_mv_group"
if [ -n "${BENCH_SUMMARY:-}" ]; then
    echo "refresh() after 1% change vs REFRESH MATERIALIZED VIEW, first call of a new session, $COLD rows, projection / GROUP BY|$(ratio "$cold_proj" "$cold_mv_proj") / $(ratio "$cold_group" "$cold_mv_group")|<= 12%" >> "$BENCH_SUMMARY"
fi
echo
echo "check (rows differing from the materialized view; 0 expected):"
run <<SQL | sed 's/^/  /'
SELECT 'bench_proj', count(*) FROM ((TABLE dp_consumer.bench_proj EXCEPT ALL TABLE mv_proj)
  UNION ALL (TABLE mv_proj EXCEPT ALL TABLE dp_consumer.bench_proj)) d;
SELECT 'bench_group', count(*) FROM ((TABLE dp_consumer.bench_group EXCEPT ALL TABLE mv_group)
  UNION ALL (TABLE mv_group EXCEPT ALL TABLE dp_consumer.bench_group)) d;
SELECT 'cold_proj', count(*) FROM ((TABLE dp_consumer.cold_proj EXCEPT ALL TABLE mv_cold_proj)
  UNION ALL (TABLE mv_cold_proj EXCEPT ALL TABLE dp_consumer.cold_proj)) d;
SELECT 'cold_group', count(*) FROM ((TABLE dp_consumer.cold_group EXCEPT ALL TABLE mv_cold_group)
  UNION ALL (TABLE mv_cold_group EXCEPT ALL TABLE dp_consumer.cold_group)) d;
SQL
[ "${KEEP_DB:-0}" = 1 ] || psql -X -q -c "DROP DATABASE $DB"
