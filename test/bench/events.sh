#!/usr/bin/env bash
# apply_events throughput against plain PostgreSQL in the same run:
#   N update events over N/10 entities, as jsonb arrays of 10,000 envelopes,
#   through apply_events (idempotency log, raw landing, history, watermarks
#   included), versus a PL/pgSQL loop doing a version-guarded
#   INSERT ... ON CONFLICT DO UPDATE per event on the same data.
# Prints events/s for both and the ratio; asserts nothing.  Expects PG* to
# point at a cluster with the extension installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${BENCH_EVENTS:-1000000}
ENTITIES=$((N / 10))
CHUNK=10000
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_events
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('bench');
SELECT dataplatform.define_dataset('{"dataset": "tenure", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "uuid"}, {"name": "paymentReference", "datatype": "string"},
  {"name": "tenureType", "datatype": "string"}, {"name": "weeklyRent", "datatype": "decimal"},
  {"name": "endDate", "datatype": "date"}]}');
-- the initial state: every entity, as of 2024-01-01
SELECT dataplatform.load_snapshot('tenure', (SELECT jsonb_agg(jsonb_build_object('id', md5(e::text)::uuid,
  'paymentReference', lpad(e::text, 10, '0'), 'tenureType', 'SEC', 'weeklyRent', 100)) FROM generate_series(1, $ENTITIES) e),
  '2024-01-01 00:00:00+00');
-- the events: each sets the rent (and sometimes the end date) of one entity, later each time
CREATE TABLE events AS
SELECT (i - 1) / $CHUNK AS chunk, jsonb_agg(jsonb_build_object(
         'id', 'ev-' || i, 'eventType', 'TenureUpdatedEvent', 'sourceDomain', 'Tenure', 'version', 'v1',
         'dateTime', to_char(timestamptz '2024-02-01 00:00:00+00' + i * interval '1 millisecond',
                             'YYYY-MM-DD"T"HH24:MI:SS.MS"0000Z"'),
         'entityId', md5((1 + i % $ENTITIES)::text)::uuid,
         'eventData', jsonb_build_object('oldData', '{}'::jsonb, 'newData',
             CASE WHEN i % 7 = 0 THEN jsonb_build_object('weeklyRent', ((i / $ENTITIES) * 7 + i) % 997, 'endDate', '2030-01-01')
                  ELSE jsonb_build_object('weeklyRent', ((i / $ENTITIES) * 7 + i) % 997) END)) ORDER BY i) AS envelopes
  FROM generate_series(1, $N) i GROUP BY 1;
-- the baseline: the same state in a plain table, a version-guarded upsert per event
CREATE TABLE plain (id uuid PRIMARY KEY, payment_reference text, tenure_type text, weekly_rent numeric,
                    end_date date, version timestamptz NOT NULL);
INSERT INTO plain SELECT md5(e::text)::uuid, lpad(e::text, 10, '0'), 'SEC', 100, NULL, '2024-01-01'
  FROM generate_series(1, $ENTITIES) e;
VACUUM ANALYZE plain;
SQL

ours=$(run <<SQL
BEGIN;
DO \$\$ DECLARE p record; BEGIN
  FOR p IN SELECT envelopes FROM events ORDER BY chunk LOOP
    PERFORM count(*) FROM dataplatform.apply_events('tenure', p.envelopes);
  END LOOP; END \$\$;
SELECT extract(epoch FROM clock_timestamp() - now());
COMMIT;
SQL
)
plain=$(run <<SQL
BEGIN;
DO \$\$ DECLARE p record; e jsonb; BEGIN
  FOR p IN SELECT envelopes FROM events ORDER BY chunk LOOP
    FOR e IN SELECT * FROM jsonb_array_elements(p.envelopes) LOOP
      INSERT INTO plain AS t (id, weekly_rent, end_date, version)
      VALUES ((e ->> 'entityId')::uuid, (e #>> '{eventData,newData,weeklyRent}')::numeric,
              (e #>> '{eventData,newData,endDate}')::date, (e ->> 'dateTime')::timestamptz)
      ON CONFLICT (id) DO UPDATE
        SET weekly_rent = COALESCE(EXCLUDED.weekly_rent, t.weekly_rent),
            end_date = COALESCE(EXCLUDED.end_date, t.end_date), version = EXCLUDED.version
        WHERE t.version < EXCLUDED.version;
    END LOOP;
  END LOOP; END \$\$;
SELECT extract(epoch FROM clock_timestamp() - now());
COMMIT;
SQL
)
check=$(run -c "SELECT count(*) FROM dp_clean.tenure c JOIN plain p USING (id) WHERE c.weekly_rent IS DISTINCT FROM p.weekly_rent OR c.end_date IS DISTINCT FROM p.end_date")
outcomes=$(run -c "SELECT string_agg(outcome || '=' || n, ' ') FROM (SELECT outcome, count(*) n FROM dataplatform.event GROUP BY 1 ORDER BY 1) s")
history=$(run -c "SELECT count(*) FROM dp_clean.tenure_history")
python3 - "$N" "$ENTITIES" "$ours" "$plain" "$check" "$outcomes" "$history" <<'PY'
import sys
n, ents, ours, plain, check, outcomes, history = sys.argv[1:]
n = int(n); ours = float(ours); plain = float(plain)
print(f"events: {n:,} updates over {int(ents):,} entities, arrays of 10,000")
print(f"{'apply_events()':44s} {n / ours:>10,.0f} events/s  {ours:7.2f} s")
print(f"{'PL/pgSQL loop, guarded ON CONFLICT upsert':44s} {n / plain:>10,.0f} events/s  {plain:7.2f} s")
summary = __import__("os").environ.get("BENCH_SUMMARY")
if summary:
    with open(summary, "a") as f:
        f.write(f"apply_events() vs PL/pgSQL guarded upsert ({n:,} events)|{plain / ours:.2f}x|>= 0.7x\n")
print(f"apply_events / baseline = {plain / ours:.2f}x   (outcomes: {outcomes}; history rows: {int(history):,}; "
      f"rows differing from the baseline: {check})")
PY
psql -X -q -c "DROP DATABASE $DB"
