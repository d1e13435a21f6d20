#!/usr/bin/env bash
# Growth: does a call cost what it brings, or what is already stored?
#
# The same fixed jobs, timed with SMALL and with LARGE rows already stored
# (default 100,000 and 5,000,000; events: SMALL_EVENTS / LARGE_EVENTS
# already processed, default 10,000 and 1,000,000):
#   push      one 10,000-row push of new keys
#   push 1    one 1-row push (a producer sending one change at a time)
#   check     check() of the same 10,000 rows
#   refresh   refresh() of a projection view and of a GROUP BY view after a
#             10,000-row change (the same work at both sizes)
#   events    apply_events of 10,000 update events
# and, as plain PostgreSQL's own growth on the same sizes, COPY of 10,000
# rows into a typed table with a uuid primary key.  Each job runs REPEAT
# times (default 3) and the median counts.  Prints large/small per job
# (target <= 1.3x, judged beside plain COPY's own large/small).  Asserts
# nothing.  Expects PG* to point at a cluster with the extension installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
SMALL=${GROWTH_SMALL:-100000}
LARGE=${GROWTH_LARGE:-5000000}
SMALL_EVENTS=${GROWTH_SMALL_EVENTS:-10000}
LARGE_EVENTS=${GROWTH_LARGE_EVENTS:-1000000}
REPEAT=${GROWTH_REPEAT:-3}
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_growth
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }

# milliseconds of one SQL statement, run in its own transaction
timed() {
    run -c "DO \$\$ DECLARE t timestamptz := clock_timestamp(); BEGIN $1; RAISE WARNING 'ms=%', round(extract(epoch FROM clock_timestamp() - t) * 1000, 1); END \$\$" 2>&1 \
        | sed -n 's/.*ms=\([0-9.]*\).*/\1/p'
}
median() { python3 -c "import sys, statistics; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }

# rows i in [from, to) of the tenure-like source, as a jsonb array
rows_sql() {
    echo "(SELECT jsonb_agg(jsonb_build_object('id', md5(i::text)::uuid, 'paymentReference', lpad(i::text, 10, '0'),
        'tenureType', (ARRAY['SEC','FLT','INT','LEA'])[1 + i % 4], 'startDate', (date '1990-01-01' + i % 12000)::text,
        'weeklyRent', ((i % 50000) / 100.0)::text, 'rooms', (1 + i % 6)::text, 'notes', 'row ' || i) ORDER BY i)
        FROM generate_series($1, $2 - 1) i)"
}

measure() {                       # $1 = rows stored, $2 = events processed; prints "job ms" lines
    local n=$1 nev=$2
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
    # the stored rows, in pushes of 100,000
    local from=1 step=100000
    while [ $from -le $n ]; do
        local to=$(( from + step )); [ $to -gt $((n + 1)) ] && to=$((n + 1))
        run -c "SELECT dataplatform.push('tenure', $(rows_sql $from $to))" >/dev/null
        from=$to
    done
    run >/dev/null <<SQL
INSERT INTO plain SELECT id, payment_reference, tenure_type, start_date, weekly_rent, rooms, notes FROM dp_clean.tenure;
SELECT dataplatform.publish('growth_proj', 'SELECT id, payment_reference, weekly_rent FROM tenure WHERE rooms > 1');
SELECT dataplatform.publish('growth_group', 'SELECT tenure_type, count(*) AS n, sum(weekly_rent) AS rent, max(start_date) AS latest FROM tenure GROUP BY tenure_type');
-- the event-fed dataset: as many entities as stored rows, nev events already applied
SELECT dataplatform.load_snapshot('tenancy', (SELECT jsonb_agg(jsonb_build_object('id', md5(e::text)::uuid,
  'paymentReference', lpad(e::text, 10, '0'), 'weeklyRent', 100)) FROM generate_series(1, least($n, 1000000)) e),
  '2024-01-01 00:00:00+00');
CREATE TABLE events AS
SELECT (i - 1) / 10000 AS chunk, jsonb_agg(jsonb_build_object(
         'id', 'ev-' || i, 'eventType', 'TenancyUpdatedEvent', 'sourceDomain', 'Tenure', 'version', 'v1',
         'dateTime', to_char(timestamptz '2024-02-01 00:00:00+00' + i * interval '1 millisecond',
                             'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'entityId', md5((1 + i % least($n, 1000000))::text)::uuid,
         'eventData', jsonb_build_object('oldData', '{}'::jsonb, 'newData', jsonb_build_object('weeklyRent', i % 997)))
         ORDER BY i) AS envelopes
  FROM generate_series(1, $nev + 10000 * $REPEAT) i GROUP BY 1;
DO \$\$ DECLARE p record; BEGIN
  FOR p IN SELECT envelopes FROM events WHERE chunk < $nev / 10000 ORDER BY chunk LOOP
    PERFORM count(*) FROM dataplatform.apply_events('tenancy', p.envelopes);
  END LOOP; END \$\$;
VACUUM ANALYZE;
SQL
    local r push=() push1=() check=() proj=() group=() ev=() copy=()
    for r in $(seq 1 "$REPEAT"); do
        local a=$(( n + 1 + (r - 1) * 10000 )) b=$(( n + 1 + r * 10000 ))
        check+=("$(timed "PERFORM dataplatform.check('tenure', $(rows_sql $a $b))")")
        push+=("$(timed "PERFORM dataplatform.push('tenure', $(rows_sql $a $b))")")
        push1+=("$(timed "PERFORM dataplatform.push('tenure', $(rows_sql $((b + 5000000)) $((b + 5000001))))")")
        proj+=("$(timed "PERFORM dataplatform.refresh('growth_proj')")")
        group+=("$(timed "PERFORM dataplatform.refresh('growth_group')")")
        ev+=("$(timed "PERFORM count(*) FROM dataplatform.apply_events('tenancy', (SELECT envelopes FROM events WHERE chunk = $nev / 10000 + $r - 1))")")
        copy+=("$(timed "INSERT INTO plain SELECT md5(i::text)::uuid, lpad(i::text, 10, '0'), 'SEC', date '1990-01-01' + i % 12000, (i % 50000) / 100.0, 1 + i % 6, 'row ' || i FROM generate_series($a + 20000000, $b + 20000000 - 1) i")")
    done
    echo "push $(median "${push[@]}")"
    echo "push1 $(median "${push1[@]}")"
    echo "check $(median "${check[@]}")"
    echo "refresh_proj $(median "${proj[@]}")"
    echo "refresh_group $(median "${group[@]}")"
    echo "events $(median "${ev[@]}")"
    echo "copy $(median "${copy[@]}")"
}

echo "growth: $SMALL rows stored ($SMALL_EVENTS events processed) ..."
small=$(measure "$SMALL" "$SMALL_EVENTS")
echo "growth: $LARGE rows stored ($LARGE_EVENTS events processed) ..."
large=$(measure "$LARGE" "$LARGE_EVENTS")
psql -X -q -c "DROP DATABASE $DB"

python3 - "$SMALL" "$LARGE" "$small" "$large" "${BENCH_SUMMARY:-}" <<'PY'
import sys
small_n, large_n, small, large, summary = sys.argv[1:]
s = dict(l.split() for l in small.splitlines())
g = dict(l.split() for l in large.splitlines())
names = {"push": "push, 10,000 new rows", "push1": "push, 1 row", "check": "check, 10,000 rows",
         "refresh_proj": "refresh, projection, 10,000 changed", "refresh_group": "refresh, GROUP BY, 10,000 changed",
         "events": "apply_events, 10,000 updates", "copy": "plain INSERT of 10,000 rows, uuid key"}
print(f"{'job':40s} {int(small_n):>12,} rows {int(large_n):>12,} rows   large/small (target <= 1.3x)")
for k, label in names.items():
    r = float(g[k]) / max(float(s[k]), 0.001)
    print(f"{label:40s} {float(s[k]):12.1f} ms {float(g[k]):12.1f} ms   {r:6.2f}x")
    if summary and k != "copy":
        with open(summary, "a") as f:
            f.write(f"growth: {label} (5M / 100k stored)|{r:.2f}x|<= 1.3x\n")
PY
