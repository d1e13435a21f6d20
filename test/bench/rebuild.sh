#!/usr/bin/env bash
# Rebuild grows with the rows it replays, not faster (issue 17 point 3):
# rebuild() of a dataset fed by 300, 600 and 1,200 pushes of 100 rows each
# (half of each push updates keys of the one before, so history grows as
# well), each dataset pushed while the earlier ones sit in the raw layer
# and interleaved with pushes to another dataset.  Prints the time per
# replayed batch and its ratio per doubling (linear: <= 1.2x); plain
# PostgreSQL has no rebuild to compare with, so the ratio is against the
# same call on half the batches, in the same run.  Asserts nothing.
# Expects PG* to point at a cluster with the extension installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${BENCH_REBUILD_ROWS:-100}
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_rebuild
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('bench');
CREATE FUNCTION define(name text) RETURNS void LANGUAGE sql AS \$\$
  SELECT 1 FROM dataplatform.define_dataset(jsonb_build_object('dataset', name, 'product', 'bench',
    'key', '["ref"]'::jsonb, 'fields', '[{"name": "ref", "datatype": "string"}, {"name": "name", "datatype": "string"},
      {"name": "rent", "datatype": "decimal"}, {"name": "since", "datatype": "date"}]'::jsonb)) \$\$;
SELECT define('noise');
SQL

declare -A secs
for b in 300 600 1200; do
  run -c "SELECT define('item-$b')" >/dev/null
  run >/dev/null <<SQL
DO \$\$ BEGIN
  FOR k IN 0..$b - 1 LOOP
    PERFORM dataplatform.push('item-$b', (SELECT jsonb_agg(jsonb_build_object('ref', 'R' || (k * $ROWS / 2 + i),
      'name', 'item ' || k || '/' || i, 'rent', (k + i) % 500, 'since', date '2020-01-01' + k))
      FROM generate_series(1, $ROWS) i));
    PERFORM dataplatform.push('noise', (SELECT jsonb_agg(jsonb_build_object('ref', 'N' || (k * $ROWS + i), 'name', 'x'))
      FROM generate_series(1, $ROWS) i));
  END LOOP;
END \$\$;
SQL
  # no VACUUM: as under continuous loading, only what autovacuum does meanwhile
  run -c "ANALYZE" >/dev/null
  # wall clock and the backend's own CPU time (user + system, from /proc)
  secs[$b]=$(run <<SQL | tail -1
SELECT (string_to_array(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ' '))[14:15] AS cpu0 \gset
SELECT clock_timestamp() AS t0 \gset
SELECT dataplatform.rebuild('item-$b') IS NOT NULL;
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) || ' ' ||
       (c[14]::bigint + c[15]::bigint - (:'cpu0'::bigint[])[1] - (:'cpu0'::bigint[])[2]) / 100.0
  FROM string_to_array(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ' ') c;
SQL
)
done

python3 - "$ROWS" "${secs[300]}" "${secs[600]}" "${secs[1200]}" <<'PY'
import os, sys
rows = int(sys.argv[1])
wall, cpu = {}, {}
for b, v in zip((300, 600, 1200), sys.argv[2:]):
    wall[b], cpu[b] = map(float, v.split())
for b in (300, 600, 1200):
    print(f"rebuild of {b:5,d} batches of {rows} rows: {wall[b]:7.2f} s ({1000 * wall[b] / b:6.2f} ms per batch), "
          f"backend CPU {cpu[b]:7.2f} s ({1000 * cpu[b] / b:6.2f} ms per batch)")
def per_doubling(t):
    return (t[600] / 600) / (t[300] / 300), (t[1200] / 1200) / (t[600] / 600)
w1, w2 = per_doubling(wall)
c1, c2 = per_doubling(cpu)
print(f"time per batch, 600 vs 300 batches: {w1:.2f}x (CPU {c1:.2f}x)   1,200 vs 600: {w2:.2f}x (CPU {c2:.2f}x)   (linear: <= 1.2x)")
summary = os.environ.get("BENCH_SUMMARY")
if summary:
    with open(summary, "a") as f:
        f.write(f"rebuild, time per batch, 600 vs 300 batches|{w1:.2f}x (CPU {c1:.2f}x)|<= 1.2x\n")
        f.write(f"rebuild, time per batch, 1,200 vs 600 batches|{w2:.2f}x (CPU {c2:.2f}x)|<= 1.2x\n")
PY
psql -X -q -c "DROP DATABASE $DB"
