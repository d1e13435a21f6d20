#!/usr/bin/env bash
# Growth: does a call cost what it brings, or what is already stored?
#
# The same fixed jobs, timed with SMALL and with LARGE rows already stored
# (default 100,000 and 5,000,000; events: SMALL_EVENTS / LARGE_EVENTS
# already processed, default 10,000 and 1,000,000):
#   push      one 10,000-row push of new keys
#   push 1    20 1-row pushes (a producer sending one change at a time;
#             20, so that the CPU time, counted by the kernel's tick, is
#             more than a few ticks)
#   check     check() of the same 10,000 rows
#   refresh   refresh() of a projection view and of a GROUP BY view after a
#             10,000-row change (1% of a 1M-row layer; the same work at both
#             sizes)
#   events    apply_events of 10,000 update events
# and, as plain PostgreSQL's own growth on the same sizes, COPY of 10,000
# rows (from a server-side file) into a typed table with a uuid primary key
# holding as many rows as the clean layer.  The batches are built before
# the timings, so a timing is the call alone.  Each job runs REPEAT times
# (default 3) and the median counts; each is timed as the backend's CPU
# time (/proc/<pid>/schedstat, which a shared machine's load does not
# inflate the way it does wall-clock time), as wall-clock time, and as the
# buffers of user tables it read, hit or not (pg_statio_user_tables: a count
# of the work, which the machine's load and caches do not change; a job
# whose blocks grow with the stored data scans it).  Prints large/small per
# job of each (target <= 1.3x, judged beside plain COPY's own large/small).
# GROWTH_SCANS=1 also prints, per job, the tables it read most (blocks,
# sequential scans, tuples those scans read, index fetches), to find what
# grows.
# Asserts nothing.  Expects PG* to point at a cluster with the extension
# installed, as a superuser (it reads /proc through pg_read_file and COPYs
# from a server-side file).
#
# The stored state is filled with big calls (GROWTH_FILL_ROWS rows per push,
# default 250,000; GROWTH_FILL_EVENTS events per apply_events, default
# 100,000): the filling is not timed, only what follows it.
set -euo pipefail
cd "$(dirname "$0")/../.."
SMALL=${GROWTH_SMALL:-100000}
LARGE=${GROWTH_LARGE:-5000000}
SMALL_EVENTS=${GROWTH_SMALL_EVENTS:-10000}
LARGE_EVENTS=${GROWTH_LARGE_EVENTS:-1000000}
REPEAT=${GROWTH_REPEAT:-3}
FILL_ROWS=${GROWTH_FILL_ROWS:-250000}
FILL_EVENTS=${GROWTH_FILL_EVENTS:-100000}
SCANS=${GROWTH_SCANS:-0}
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_growth
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }

# "wall_ms cpu_ms" of one SQL statement, run in its own session and
# transaction; cpu is the backend's own (schedstat's first field, ns)
timed() {
    run -c "DO \$\$ DECLARE t timestamptz; c0 bigint; c1 bigint; k int; BEGIN
        c0 := split_part(pg_read_file('/proc/' || pg_backend_pid() || '/schedstat'), ' ', 1)::bigint;
        t := clock_timestamp();
        $1;
        c1 := split_part(pg_read_file('/proc/' || pg_backend_pid() || '/schedstat'), ' ', 1)::bigint;
        RAISE WARNING 'ms=% cpu=%', round(extract(epoch FROM clock_timestamp() - t) * 1000, 1),
            round((c1 - c0) / 1e6, 1); END \$\$" 2>&1 \
        | sed -n 's/.*ms=\([0-9.]*\) cpu=\([0-9.]*\).*/\1 \2/p'
}
median() { python3 -c "import sys, statistics; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }

# the buffers each table was read through (pg_statio_user_tables: heap,
# index and TOAST blocks, hit or read) and its sequential scans, before a job
scan_snapshot() {
    run -c "DROP TABLE IF EXISTS scan_before;
            CREATE TABLE scan_before AS
            SELECT relid, seq_scan, seq_tup_read, coalesce(idx_tup_fetch, 0) AS idx_tup_fetch, blks, missed
              FROM pg_stat_user_tables JOIN (SELECT relid, coalesce(heap_blks_hit, 0) + coalesce(heap_blks_read, 0)
                     + coalesce(idx_blks_hit, 0) + coalesce(idx_blks_read, 0) + coalesce(toast_blks_hit, 0)
                     + coalesce(toast_blks_read, 0) + coalesce(tidx_blks_hit, 0) + coalesce(tidx_blks_read, 0) AS blks,
                     coalesce(heap_blks_read, 0) + coalesce(idx_blks_read, 0) + coalesce(toast_blks_read, 0)
                     + coalesce(tidx_blks_read, 0) AS missed
                     FROM pg_statio_user_tables) io USING (relid)" >/dev/null
}
# since the snapshot: "table seq_scans seq_tuples idx_fetches blocks missed", most
# blocks first (missed: blocks not found in shared_buffers)
scan_delta() {
    run -F ' ' -c "SELECT s.schemaname || '.' || s.relname, s.seq_scan - b.seq_scan, s.seq_tup_read - b.seq_tup_read,
                          coalesce(s.idx_tup_fetch, 0) - b.idx_tup_fetch, io.blks - b.blks, io.missed - b.missed
                   FROM pg_stat_user_tables s JOIN scan_before b USING (relid)
                   JOIN (SELECT relid, coalesce(heap_blks_hit, 0) + coalesce(heap_blks_read, 0)
                     + coalesce(idx_blks_hit, 0) + coalesce(idx_blks_read, 0) + coalesce(toast_blks_hit, 0)
                     + coalesce(toast_blks_read, 0) + coalesce(tidx_blks_hit, 0) + coalesce(tidx_blks_read, 0) AS blks,
                     coalesce(heap_blks_read, 0) + coalesce(idx_blks_read, 0) + coalesce(toast_blks_read, 0)
                     + coalesce(tidx_blks_read, 0) AS missed
                     FROM pg_statio_user_tables) io USING (relid)
                   WHERE io.blks - b.blks > 0 AND s.relname NOT IN ('scan_before', 'batches')
                   ORDER BY 5 DESC"
}
# job label sql: time it, keep "wall cpu blocks" in the array named label;
# blocks: the buffers of user tables it read (hit or not), a count of the
# work done that a shared machine's load does not change
job() {
    local label=$1 sql=$2 t d blocks
    scan_snapshot
    t=$(timed "$sql")
    sleep 0.3  # the session's statistics reach the shared ones when it ends
    d=$(scan_delta)
    blocks=$(awk '{s += $5; m += $6} END {print s + 0, m + 0}' <<<"$d")
    eval "$label+=(\"\$t \$blocks\")"
    if [ "$SCANS" = 1 ]; then
        awk -v l="$label" 'NR <= 6 || $2 > 0 {printf "    %-14s %-44s seq_scans %s seq_tuples %s idx_fetches %s blocks %s missed %s\n", l, $1, $2, $3, $4, $5, $6}' <<<"$d" >&2
    fi
}

# rows i in [from, to) of the tenure-like source, as a jsonb array
rows_sql() {
    echo "(SELECT jsonb_agg(jsonb_build_object('id', md5(i::text)::uuid, 'paymentReference', lpad(i::text, 10, '0'),
        'tenureType', (ARRAY['SEC','FLT','INT','LEA'])[1 + i % 4], 'startDate', (date '1990-01-01' + i % 12000)::text,
        'weeklyRent', ((i % 50000) / 100.0)::text, 'rooms', (1 + i % 6)::text, 'notes', 'row ' || i) ORDER BY i)
        FROM generate_series($1, $2 - 1) i)"
}

measure() {                       # $1 = rows stored, $2 = events processed; prints "job wall cpu blocks" lines
    local n=$1 nev=$2
    local t0=$SECONDS
    psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
    run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('bench');
SELECT dataplatform.define_dataset('{"dataset": "tenure", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "uuid"}, {"name": "paymentReference", "datatype": "string"},
  {"name": "tenureType", "datatype": "string"}, {"name": "startDate", "datatype": "date"},
  {"name": "weeklyRent", "datatype": "decimal"}, {"name": "rooms", "datatype": "integer"},
  {"name": "notes", "datatype": "text"}]}');
SELECT dataplatform.define_dataset('{"dataset": "tenancy", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "uuid"}, {"name": "paymentReference", "datatype": "string"},
  {"name": "weeklyRent", "datatype": "decimal"}]}');
CREATE TABLE plain (id uuid PRIMARY KEY, payment_reference text, tenure_type text, start_date date,
                    weekly_rent numeric, rooms bigint, notes text);
SQL
    # the stored rows, in big pushes
    local from=1
    while [ $from -le $n ]; do
        local to=$(( from + FILL_ROWS )); [ $to -gt $((n + 1)) ] && to=$((n + 1))
        run -c "SELECT dataplatform.push('tenure', $(rows_sql $from $to))" >/dev/null
        from=$to
    done
    echo "growth: $n rows pushed ($((SECONDS - t0))s)" >&2
    run >/dev/null <<SQL
INSERT INTO plain SELECT id, payment_reference, tenure_type, start_date, weekly_rent, rooms, notes FROM dp_clean.tenure;
SELECT dataplatform.publish('growth_proj', 'SELECT id, payment_reference, weekly_rent FROM tenure WHERE rooms > 1');
SELECT dataplatform.publish('growth_group', 'SELECT tenure_type, count(*) AS n, sum(weekly_rent) AS rent, max(start_date) AS latest FROM tenure GROUP BY tenure_type');
-- the event-fed dataset: as many entities as stored rows (at most 1M)
SELECT dataplatform.load_snapshot('tenancy', (SELECT jsonb_agg(jsonb_build_object('id', md5(e::text)::uuid,
  'paymentReference', lpad(e::text, 10, '0'), 'weeklyRent', 100)) FROM generate_series(1, least($n, 1000000)) e),
  '2024-01-01 00:00:00+00');
SQL
    echo "growth: views published, snapshot loaded ($((SECONDS - t0))s)" >&2
    # nev events already applied, in big calls; event i updates entity 1 + i % entities
    local ents=$(( n < 1000000 ? n : 1000000 ))
    local ev_sql="jsonb_agg(jsonb_build_object(
         'id', 'ev-' || i, 'eventType', 'TenancyUpdatedEvent', 'sourceDomain', 'Tenure', 'version', 'v1',
         'dateTime', to_char(timestamptz '2024-02-01 00:00:00+00' + i * interval '1 millisecond',
                             'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
         'entityId', md5((1 + i % $ents)::text)::uuid,
         'eventData', jsonb_build_object('oldData', '{}'::jsonb, 'newData', jsonb_build_object('weeklyRent', i % 997)))
         ORDER BY i)"
    from=1
    while [ $from -le $nev ]; do
        local to=$(( from + FILL_EVENTS )); [ $to -gt $((nev + 1)) ] && to=$((nev + 1))
        run -c "SELECT count(*) FROM dataplatform.apply_events('tenancy', (SELECT $ev_sql FROM generate_series($from, $to - 1) i))" >/dev/null
        from=$to
    done
    echo "growth: $nev events applied ($((SECONDS - t0))s)" >&2
    # the timed batches, built now so that a timing is the call alone
    run >/dev/null <<SQL
CREATE TABLE batches (r int, job text, j jsonb);
INSERT INTO batches
SELECT r, 'rows', $(rows_sql "$n + 1 + (r - 1) * 10000" "$n + 1 + r * 10000") FROM generate_series(1, $REPEAT) r;
INSERT INTO batches
SELECT r, 'row', $(rows_sql "$n + 5000001 + r * 10000" "$n + 5000021 + r * 10000") FROM generate_series(1, $REPEAT) r;
INSERT INTO batches
SELECT r, 'events', (SELECT $ev_sql FROM generate_series($nev + 1 + (r - 1) * 10000, $nev + r * 10000) i)
  FROM generate_series(1, $REPEAT) r;
SQL
    local r
    for r in $(seq 1 "$REPEAT"); do
        local a=$(( n + 20000001 + (r - 1) * 10000 ))
        run -c "COPY (SELECT md5(i::text)::uuid, lpad(i::text, 10, '0'), 'SEC', date '1990-01-01' + i % 12000,
                             (i % 50000) / 100.0, 1 + i % 6, 'row ' || i FROM generate_series($a, $a + 9999) i)
                TO '/tmp/dp_bench_growth_$$_$r.copy'"
    done
    run -c "VACUUM ANALYZE" >/dev/null
    echo "growth: set up ($((SECONDS - t0))s), timing ..." >&2
    local push=() push1=() check=() refresh_proj=() refresh_group=() events=() copy=()
    for r in $(seq 1 "$REPEAT"); do
        job check "PERFORM dataplatform.check('tenure', (SELECT j FROM batches WHERE r = $r AND job = 'rows'))"
        job push "PERFORM dataplatform.push('tenure', (SELECT j FROM batches WHERE r = $r AND job = 'rows'))"
        job push1 "FOR k IN 0..19 LOOP PERFORM dataplatform.push('tenure', jsonb_build_array((SELECT j -> k FROM batches WHERE r = $r AND job = 'row'))); END LOOP"
        job refresh_proj "PERFORM dataplatform.refresh('growth_proj')"
        job refresh_group "PERFORM dataplatform.refresh('growth_group')"
        job events "PERFORM count(*) FROM dataplatform.apply_events('tenancy', (SELECT j FROM batches WHERE r = $r AND job = 'events'))"
        job copy "COPY plain FROM '/tmp/dp_bench_growth_$$_$r.copy'"
        rm -f "/tmp/dp_bench_growth_$$_$r.copy" 2>/dev/null || true
    done
    local k
    for k in push push1 check refresh_proj refresh_group events copy; do
        local vals=() walls=() cpus=() blks=() miss=() x w c b m
        eval "vals=(\"\${$k[@]}\")"
        for x in "${vals[@]}"; do read -r w c b m <<<"$x"; walls+=("$w"); cpus+=("$c"); blks+=("$b"); miss+=("$m"); done
        echo "$k $(median "${walls[@]}") $(median "${cpus[@]}") $(median "${blks[@]}") $(median "${miss[@]}")"
    done
}

echo "growth: $SMALL rows stored ($SMALL_EVENTS events processed) ..."
small=$(measure "$SMALL" "$SMALL_EVENTS")
echo "growth: $LARGE rows stored ($LARGE_EVENTS events processed) ..."
large=$(measure "$LARGE" "$LARGE_EVENTS")
psql -X -q -c "DROP DATABASE $DB"

python3 - "$SMALL" "$LARGE" "$small" "$large" "${BENCH_SUMMARY:-}" <<'PY'
import sys
small_n, large_n, small, large, summary = sys.argv[1:]
s = {l.split()[0]: list(map(float, l.split()[1:])) for l in small.splitlines()}
g = {l.split()[0]: list(map(float, l.split()[1:])) for l in large.splitlines()}
names = {"push": "push, 10,000 new rows", "push1": "push, 1 row, 20 times", "check": "check, 10,000 rows",
         "refresh_proj": "refresh, projection, 10,000 changed", "refresh_group": "refresh, GROUP BY, 10,000 changed",
         "events": "apply_events, 10,000 updates", "copy": "plain COPY of 10,000 rows, uuid key"}
def size(n):
    n = int(n)
    return f"{n // 1000000}M" if n % 1000000 == 0 else f"{n // 1000}k"
def ratio(k, i):
    return g[k][i] / max(s[k][i], 0.001)
print(f"{'job':36s} {'CPU ms, ' + size(small_n):>13s} {size(large_n):>7s} {'ratio':>6s}"
      f" {'blocks, ' + size(small_n):>13s} {size(large_n):>7s} {'ratio':>6s}"
      f" {'missed':>13s} {'wall ms, ' + size(small_n):>14s} {size(large_n):>7s} {'ratio':>6s}")
for k, label in names.items():
    print(f"{label:36s} {s[k][1]:13.1f} {g[k][1]:7.1f} {ratio(k, 1):5.2f}x"
          f" {s[k][2]:13.0f} {g[k][2]:7.0f} {ratio(k, 2):5.2f}x {str(int(s[k][3])) + '/' + str(int(g[k][3])):>13s}"
          f" {s[k][0]:14.1f} {g[k][0]:7.1f} {ratio(k, 0):5.2f}x")
print(f"large/small target <= 1.3x, judged beside plain COPY's own: CPU {ratio('copy', 1):.2f}x, "
      f"blocks {ratio('copy', 2):.2f}x (blocks: buffers of user tables read, hit or not; missed: of those, "
      f"not in shared_buffers, small/large)")
if summary:
    with open(summary, "a") as f:
        for k, label in names.items():
            if k != "copy":
                f.write(f"growth: {label} ({size(large_n)} / {size(small_n)} stored; CPU, COPY's own "
                        f"{ratio('copy', 1):.2f}x; blocks {ratio(k, 2):.2f}x)|{ratio(k, 1):.2f}x|<= 1.3x\n")
PY
