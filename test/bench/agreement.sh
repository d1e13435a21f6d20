#!/usr/bin/env bash
# Cost of access agreements on the consumer read path: pgbench runs a point
# query (primary key lookup) on a published view of N rows (default
# 100,000) as three roles, alternating in the same run (ROUNDS x DURATION
# seconds each, CLIENTS clients, prepared and simple protocol):
#   granted  grant_consumer (an unrestricted agreement; no row scope)
#   scoped   an agreement for the product with a row scope on tenure_type
#            that holds every row (so both read the same rows)
#   plain    plain PostgreSQL: the same lookup on an ordinary table with the
#            same rows and primary key, no view, no check
# Prints the TPS of each run, the medians, the overhead of scoped against
# granted (target <= 5%) and of each against plain.  Asserts nothing.
# Expects PG* to point at a cluster that preloads the extension, as a
# superuser, trust authentication for the roles it creates.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${BENCH_ROWS:-100000}
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-4}
PGBENCH=$(command -v pgbench || echo "$(${PG_CONFIG:-pg_config} --bindir)/pgbench")
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_agreement
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }

echo "loading $N rows, publishing a consumer view, two consumers ..."
run >/dev/null <<SQL
DROP ROLE IF EXISTS bench_ag_granted;
DROP ROLE IF EXISTS bench_ag_scoped;
CREATE ROLE bench_ag_granted LOGIN;
CREATE EXTENSION dataplatform;
CREATE ROLE bench_ag_scoped LOGIN IN ROLE dataplatform_consumer;
SELECT 1 FROM dataplatform.define_product('bench');
SELECT dataplatform.define_dataset('{"dataset": "tenure", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "paymentReference", "datatype": "string"},
  {"name": "tenureType", "datatype": "string"}, {"name": "weeklyRent", "datatype": "decimal"}]}');
SELECT dataplatform.push('tenure', (SELECT jsonb_agg(jsonb_build_object(
  'id', i, 'paymentReference', lpad((i * 7)::text, 10, '0'),
  'tenureType', (ARRAY['SEC', 'FLT', 'INT', 'LEA'])[1 + i % 4],
  'weeklyRent', ((i % 50000) / 100.0)::text)) FROM generate_series(1, $N) i));
SELECT dataplatform.publish('bench_tenure', 'SELECT id, payment_reference, tenure_type, weekly_rent FROM dp_clean.tenure');
SELECT dataplatform.grant_consumer('bench_ag_granted');
CREATE TABLE public.plain_tenure AS SELECT id, payment_reference, tenure_type, weekly_rent FROM dp_clean.tenure;
ALTER TABLE public.plain_tenure ADD PRIMARY KEY (id);
GRANT SELECT ON public.plain_tenure TO bench_ag_granted, bench_ag_scoped;
VACUUM ANALYZE;
SQL
psql -X -q -At -v ON_ERROR_STOP=1 -d $DB -U bench_ag_scoped >/dev/null <<SQL
SELECT dataplatform.request_access('bench', 'benchmark', now() + interval '1 day',
  '{"rows": {"tenure_type": ["SEC", "FLT", "INT", "LEA"]}}');
SQL
run -c "SELECT dataplatform.approve_access(id) FROM dataplatform.agreement WHERE purpose = 'benchmark'" >/dev/null

view=$(mktemp); plain=$(mktemp)
trap 'rm -f "$view" "$plain"' EXIT
printf '\\set id random(1, %s)\nSELECT payment_reference, tenure_type, weekly_rent FROM dp_consumer.bench_tenure WHERE id = :id;\n' "$N" >"$view"
printf '\\set id random(1, %s)\nSELECT payment_reference, tenure_type, weekly_rent FROM public.plain_tenure WHERE id = :id;\n' "$N" >"$plain"
# check: both roles read the row
for r in bench_ag_granted bench_ag_scoped; do
    [ "$(psql -X -At -d $DB -U $r -c "SELECT count(*) FROM dp_consumer.bench_tenure WHERE id = 7")" = 1 ] \
        || { echo "role $r does not read the view" >&2; exit 1; }
done

tps() {
    "$PGBENCH" -n -M "$1" -U "$2" -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -f "$3" "$DB" 2>/dev/null \
        | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for mode in ${BENCH_MODES:-prepared simple}; do
    g=(); s=(); p=()
    for ((r = 1; r <= ROUNDS; r++)); do
        t=$(tps "$mode" bench_ag_granted "$view"); g+=("$t"); echo "$mode, round $r: grant_consumer         $t tps"
        t=$(tps "$mode" bench_ag_scoped "$view"); s+=("$t"); echo "$mode, round $r: agreement + row scope  $t tps"
        t=$(tps "$mode" bench_ag_granted "$plain"); p+=("$t"); echo "$mode, round $r: plain table            $t tps"
    done
    mg=$(printf '%s\n' "${g[@]}" | median)
    ms=$(printf '%s\n' "${s[@]}" | median)
    mp=$(printf '%s\n' "${p[@]}" | median)
    echo "== pgbench -M $mode, $CLIENTS clients, ${DURATION}s x $ROUNDS each, point query on a consumer view of $N rows"
    echo "median tps: grant_consumer $mg, agreement with row scope $ms, plain table $mp"
    awk -v g="$mg" -v s="$ms" -v p="$mp" 'BEGIN {
        printf "agreement with row scope vs grant_consumer: %+.1f%% (target: overhead <= 5%%)\n", (g - s) * 100 / g
        printf "grant_consumer vs plain table: %.2fx the time; agreement with row scope vs plain table: %.2fx the time\n", p / g, p / s }'
    if [ -n "${BENCH_SUMMARY:-}" ]; then
        awk -v g="$mg" -v s="$ms" -v m="$mode" 'BEGIN {
            printf "consumer point lookup under an agreement with row scope vs grant_consumer (-M %s)|%.3f|<= 1.05\n", m, g / s }' >> "$BENCH_SUMMARY"
    fi
done
# the same lookups in one backend (no client round trip: less noise on a
# busy machine): LOOPS statements per run, each through the executor check,
# alternating the roles, ROUNDS times; microseconds per lookup
LOOPS=${BENCH_LOOPS:-100000}
run >/dev/null <<SQL
CREATE FUNCTION public.bench_lookups(n int, tbl text) RETURNS float8 LANGUAGE plpgsql AS \$f\$
DECLARE t0 timestamptz := clock_timestamp(); r record;
BEGIN
	FOR i IN 1..n LOOP
		IF tbl = 'view' THEN
			SELECT payment_reference, tenure_type, weekly_rent INTO r FROM dp_consumer.bench_tenure WHERE id = 1 + (i * 7919) % $N;
		ELSE
			SELECT payment_reference, tenure_type, weekly_rent INTO r FROM public.plain_tenure WHERE id = 1 + (i * 7919) % $N;
		END IF;
	END LOOP;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END
\$f\$;
SQL
us() { psql -X -q -At -d $DB -U "$1" -c "SELECT round(public.bench_lookups($LOOPS, '$2')::numeric, 2)"; }
g=(); s=(); p=()
for ((r = 1; r <= ROUNDS; r++)); do
    t=$(us bench_ag_granted view); g+=("$t")
    t=$(us bench_ag_scoped view); s+=("$t")
    t=$(us bench_ag_granted plain); p+=("$t")
    echo "one backend, round $r: grant_consumer ${g[-1]} us, agreement + row scope ${s[-1]} us, plain table ${p[-1]} us per lookup"
done
mg=$(printf '%s\n' "${g[@]}" | median); ms=$(printf '%s\n' "${s[@]}" | median); mp=$(printf '%s\n' "${p[@]}" | median)
echo "== one backend, $LOOPS lookups x $ROUNDS: median us per lookup: grant_consumer $mg, agreement with row scope $ms, plain table $mp"
awk -v g="$mg" -v s="$ms" 'BEGIN {printf "agreement with row scope vs grant_consumer: %+.1f%% (target: overhead <= 5%%)\n", (s - g) * 100 / g}'
if [ -n "${BENCH_SUMMARY:-}" ]; then
    awk -v g="$mg" -v s="$ms" 'BEGIN {printf "consumer point lookup under an agreement with row scope vs grant_consumer (one backend)|%.3f|<= 1.05\n", s / g}' >> "$BENCH_SUMMARY"
fi
psql -X -q -c "DROP DATABASE $DB" >/dev/null
psql -X -q -c "DROP ROLE bench_ag_granted" -c "DROP ROLE bench_ag_scoped" >/dev/null
