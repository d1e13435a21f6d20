#!/usr/bin/env bash
# Overhead of auditing consumer reads: pgbench runs a point query (primary
# key lookup) on a published consumer view of N rows (default 100,000), with
# dataplatform.audit_reads on and off, alternating in the same run (ROUNDS
# of DURATION seconds each, CLIENTS clients), with prepared statements and
# with the simple query protocol (BENCH_MODES).  A third setting, "plain",
# is audit off and compute_query_id off: PostgreSQL without what the
# preloaded library turns on (query ids, by which reads are grouped).
# Prints the TPS of each run and the CPU time of pgbench's backends per
# read (from /proc/<pid>/schedstat, over the middle of the run: the
# machine's other load moves TPS much more than it moves this), the median
# of each setting and the overhead in percent of each (audit on against
# plain, and against audit off), and how many
# reads the worker recorded in the audit log (rows, and reads counting
# repeats) against how many pgbench ran (the rest went to the server log:
# buffer full).  Asserts nothing.
# Expects PG* to point at a cluster that preloads the extension, as a
# superuser (audit_reads is superuser-only; it reads the backends' pids), on
# this machine (it reads their /proc), with pgbench on PATH or next to
# pg_config's binaries.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${BENCH_ROWS:-100000}
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-4}
PGBENCH=$(command -v pgbench || echo "$(${PG_CONFIG:-pg_config} --bindir)/pgbench")
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_audit
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }

echo "loading $N rows and publishing a consumer view ..."
run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('bench');
SELECT dataplatform.define_dataset('{"dataset": "tenure", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "paymentReference", "datatype": "string"},
  {"name": "tenureType", "datatype": "string"}, {"name": "weeklyRent", "datatype": "decimal"}]}');
SELECT dataplatform.push('tenure', (SELECT jsonb_agg(jsonb_build_object(
  'id', i, 'paymentReference', lpad((i * 7)::text, 10, '0'),
  'tenureType', (ARRAY['SEC', 'FLT', 'INT', 'LEA'])[1 + i % 4],
  'weeklyRent', ((i % 50000) / 100.0)::text)) FROM generate_series(1, $N) i));
SELECT dataplatform.publish('bench_tenure', 'SELECT id, payment_reference, tenure_type, weekly_rent FROM dp_clean.tenure');
VACUUM ANALYZE;
SQL
script=$(mktemp)
logdir=$(mktemp -d)
chmod 755 "$logdir"
trap 'rm -rf "$script" "$logdir"' EXIT
cat >"$script" <<SQL
\set id random(1, $N)
SELECT payment_reference, tenure_type, weekly_rent FROM dp_consumer.bench_tenure WHERE id = :id;
SQL

# tps <protocol> <setting>: off, on, or plain (off, and no query ids);
# prints "tps cpu": pgbench's TPS, and the CPU time of its backends per
# transaction in microseconds (the sum of /proc/<pid>/schedstat over the
# middle of the run, divided by the transactions pgbench's log shows in the
# same interval): on a shared machine the TPS follows the other load, the
# backends' own CPU time per read much less
tps() {
    local opts="-c dataplatform.audit_reads=on"
    case $2 in
        off) opts="-c dataplatform.audit_reads=off" ;;
        plain) opts="-c dataplatform.audit_reads=off -c compute_query_id=off" ;;
    esac
    rm -f "$logdir"/pgbench_log.*
    (cd "$logdir" && PGOPTIONS="--client-min-messages=warning $opts" \
        exec "$PGBENCH" -n -M "$1" -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -l -f "$script" "$DB" \
        >"$logdir/out" 2>/dev/null) &
    local pgb=$! pids="" t0 t1 c0=0 c1=0 p x
    sleep 1.5
    pids=$(psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND application_name = 'pgbench'")
    t0=$(date +%s.%N)
    for p in $pids; do read -r x _ <"/proc/$p/schedstat" && c0=$((c0 + x)); done
    sleep $(( DURATION > 4 ? DURATION - 3 : 1 ))
    for p in $pids; do read -r x _ <"/proc/$p/schedstat" && c1=$((c1 + x)); done
    t1=$(date +%s.%N)
    wait $pgb
    local n; n=$(cat "$logdir"/pgbench_log.* | awk -v a="$t0" -v b="$t1" '{t = $5 + $6 / 1e6; if (t >= a && t < b) n++} END {print n + 0}')
    echo "$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$logdir/out") $(awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN {printf "%.2f", n ? c / n / 1000 : 0}')"
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
reads="SELECT count(*) || ' ' || coalesce(sum(coalesce((detail ->> 'reads')::bigint, 1)), 0) FROM dataplatform.audit_log WHERE action = 'read'"

# prepared: every read of a client has the same text and query id; simple:
# each query's text differs (its literal), its query id does not: either
# way a client's reads share a row until the worker drains
for mode in ${BENCH_MODES:-prepared simple}; do
    read -r rows0 reads0 <<<"$(run -c "$reads")"
    plain=(); off=(); on=(); cplain=(); coff=(); con=()
    for ((r = 1; r <= ROUNDS; r++)); do
        for setting in plain off on; do
            read -r t c <<<"$(tps "$mode" $setting)"
            eval "$setting+=(\"\$t\"); c$setting+=(\"\$c\")"
            printf '%s, round %d: %-9s %10.1f tps %8.1f us CPU per read\n' "$mode" "$r" "$setting" "$t" "$c"
        done
    done
    # let the worker write what is still buffered
    sleep 3
    read -r rows1 reads1 <<<"$(run -c "$reads")"
    mplain=$(printf '%s\n' "${plain[@]}" | median)
    moff=$(printf '%s\n' "${off[@]}" | median)
    mon=$(printf '%s\n' "${on[@]}" | median)
    cplain=$(printf '%s\n' "${cplain[@]}" | median)
    coff=$(printf '%s\n' "${coff[@]}" | median)
    con=$(printf '%s\n' "${con[@]}" | median)
    ran=$(printf '%s\n' "${on[@]}" | awk -v d="$DURATION" '{s += $1 * d} END {printf "%d", s}')
    echo "== pgbench -M $mode, $CLIENTS clients, ${DURATION}s x $ROUNDS each, point query on a consumer view of $N rows"
    echo "median tps: plain $mplain, audit off $moff, audit on $mon"
    awk -v p="$mplain" -v a="$moff" -v b="$mon" 'BEGIN {
        printf "audit overhead (tps): %.1f%% against plain (target <= 8%%), %.1f%% against audit off; query ids alone: %.1f%%\n",
            (p - b) * 100 / p, (a - b) * 100 / a, (p - a) * 100 / p }'
    echo "median backend CPU per read (us): plain $cplain, audit off $coff, audit on $con"
    awk -v p="$cplain" -v a="$coff" -v b="$con" 'BEGIN {
        printf "audit overhead (backend CPU per read): %.1f%% against plain (target <= 8%%), %.1f%% against audit off; query ids alone: %.1f%%\n",
            (b - p) * 100 / p, (b - a) * 100 / a, (a - p) * 100 / p }'
    if [ -n "${BENCH_SUMMARY:-}" ]; then
        awk -v m="$mode" -v p="$mplain" -v b="$mon" -v cp="$cplain" -v cb="$con" 'BEGIN {
            printf "read-audit overhead, %s protocol, pgbench point lookups on a consumer view (tps; backend CPU per read %.1f%%)|%.1f%%|%s\n",
                m, (cb - cp) * 100 / cp, (p - b) * 100 / p, m == "simple" ? "<= 8%" : "-" }' >>"$BENCH_SUMMARY"
    fi
    echo "reads recorded in audit_log by the worker: $((reads1 - reads0)) (in $((rows1 - rows0)) rows) of about $ran run with audit on"
    echo "(reads missing from audit_log went to the server log: the buffer was full)"
done
psql -X -q -c "DROP DATABASE $DB" >/dev/null
