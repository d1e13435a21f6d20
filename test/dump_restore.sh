#!/usr/bin/env bash
# pg_dump keeps the platform: run the demo in one database, dump it, restore
# into another, and compare the catalog and clean layer.  Expects PG* to
# point at a running cluster with the extension installed.
set -euo pipefail
cd "$(dirname "$0")/../samples"
export PGOPTIONS=--client-min-messages=warning
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS dp_dump_src" -c "DROP DATABASE IF EXISTS dp_dump_dst" \
     -c "CREATE DATABASE dp_dump_src" -c "CREATE DATABASE dp_dump_dst"
psql -X -q -d dp_dump_src -f demo.sql >/dev/null 2>&1
dump=$(mktemp)
pg_dump -d dp_dump_src -Fc -f "$dump"
pg_restore -d dp_dump_dst --exit-on-error "$dump"
rm -f "$dump"
# reads of consumer views reach the audit log through the worker, after
# their statements: those written after the dump are not compared
q="SELECT (SELECT jsonb_agg(d ORDER BY name) FROM dataplatform.dataset d),
          (SELECT jsonb_agg(f ORDER BY dataset, ordinal) FROM dataplatform.field f),
          (SELECT jsonb_agg(to_jsonb(v) - 'defined_at' ORDER BY dataset, major, minor) FROM dataplatform.spec_version v),
          (SELECT jsonb_agg(p ORDER BY name) FROM dataplatform.product p),
          (SELECT count(*) FROM dataplatform.audit_log WHERE action <> 'read'),
          (SELECT jsonb_agg(t ORDER BY id) FROM dp_clean.tenure t),
          (SELECT jsonb_agg(h ORDER BY _history_id) FROM dp_clean.tenure_history h),
          (SELECT jsonb_agg(to_jsonb(b) - 'received_at' - 'processed_at' ORDER BY id) FROM dataplatform.batch b),
          (SELECT count(*) FROM dataplatform.issue),
          (SELECT jsonb_agg(r ORDER BY batch_id, ordinal) FROM dp_raw.rows r),
          (SELECT jsonb_agg(q ORDER BY batch_id, row_number) FROM dataplatform.quarantine q)"
a=$(psql -X -At -d dp_dump_src -c "$q")
b=$(psql -X -At -d dp_dump_dst -c "$q")
if [ "$a" != "$b" ]; then
    echo "not ok - dump and restore changed the platform"; diff <(echo "$a") <(echo "$b") || true; exit 1
fi
# the restored platform still works
v=$(psql -X -At -v ON_ERROR_STOP=1 -d dp_dump_dst -c "SELECT dataplatform.define_dataset(dataplatform.describe('tenure') - 'version' - 'clean_table')")
[ "$v" = "1.0" ] || { echo "not ok - restored define_dataset returned $v"; exit 1; }
b=$(PGOPTIONS="-c dataplatform.environment=production" psql -X -At -v ON_ERROR_STOP=1 -d dp_dump_dst -c "SELECT dataplatform.push('tenure', '{\"id\": \"4e5f6a7b-8c9d-4e0f-8a1b-2c3d4e5f6a7b\", \"tenuredAssetId\": \"0b1e6f7a-5d2c-4b8e-8f3a-2c9d7e1f4a55\"}') > 0")
[ "$b" = "t" ] || { echo "not ok - a push into the restored platform failed"; exit 1; }
psql -X -q -c "DROP DATABASE dp_dump_src" -c "DROP DATABASE dp_dump_dst"
echo "ok - pg_dump and pg_restore keep catalog, versions, batches, raw, issues, audit log and clean data"
