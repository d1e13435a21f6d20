#!/usr/bin/env bash
# samples/collect_demo.sh — collection from an HTTP endpoint, end to end:
# serve samples/data/conservation-area.csv on 127.0.0.1 (test/http_server.py),
# register it as an endpoint of the conservation-area dataset, let the
# background worker collect it (twice: stored, then unchanged), and show the
# collection log, the batch and the clean rows.
# Expects PG* to point at a cluster that preloads the extension (test/cluster.sh
# demo sets that up); creates and keeps the database dp_collect_demo.
set -euo pipefail
cd "$(dirname "$0")"
DB=${DEMO_DB:-dp_collect_demo}
export PGOPTIONS=--client-min-messages=warning

WWW=$(mktemp -d /tmp/dp_demo_http.XXXXXX)
cp data/conservation-area.csv "$WWW/"
python3 ../test/http_server.py --dir "$WWW" --port-file "$WWW/port" --log "$WWW/requests.log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$WWW"' EXIT
for _ in $(seq 50); do [ -s "$WWW/port" ] && break; sleep 0.1; done
read -r PORT _ <"$WWW/port"
URL=http://127.0.0.1:$PORT/files/conservation-area.csv
echo "== serving samples/data/conservation-area.csv at $URL"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" \
    -c "ALTER DATABASE $DB SET dataplatform.allowed_hosts = '127.0.0.1'"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -v url="$URL" <<'SQL'
\pset footer off
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('planning', '{"description": "Planning designations", "domain": "planning",
  "owner": "Planning Data Team", "email": "planning-data@example.gov.uk"}') \g /dev/null
\set spec `cat specs/conservation-area.json`
SELECT dataplatform.define_dataset(:'spec') \g /dev/null
SELECT dataplatform.configure('conservation-area', '{
  "column": {"Area (ha)": "area-hectares", "Organisation": "IGNORE"},
  "skip": ["^#"],
  "patch": [{"field": "designation-date", "pattern": "^Effective *(.*)$", "replacement": "\\1"}],
  "default": {"start-date": {"field": "designation-date"}}
}') \g /dev/null

\echo
\echo '== add_endpoint: the URL becomes an endpoint of the dataset (its job runs it nightly)'
SELECT dataplatform.add_endpoint('conservation-area', :'url',
  '{"format": "csv", "schedule": "0 2 * * *", "timeout_ms": 10000, "retries": 2}') AS endpoint;
SELECT e.name, e.dataset, e.format, j.name AS job, j.schedule, j.retries
  FROM dataplatform.endpoint e JOIN dataplatform.job j ON j.id = e.job_id;

\echo
\echo '== collect now, twice: the worker fetches; the second download is unchanged'
SELECT dataplatform.collect('conservation-area') AS run \gset
SELECT dataplatform.wait_for_run(:run, '30 seconds') AS first_run;
SELECT dataplatform.collect('conservation-area') AS run \gset
SELECT dataplatform.wait_for_run(:run, '30 seconds') AS second_run;

\echo
\echo '== dataplatform.collection_log'
SELECT run_id, http_status, bytes, left(sha256, 12) AS sha256, format, outcome, batch_id, error
  FROM dataplatform.collection_log ORDER BY id;

\echo
\echo '== the batch it made (dataplatform.batch)'
SELECT b.id, b.kind, b.pushed_by, b.bytes, b.rows, b.rows_loaded, b.rows_quarantined, b.rows_skipped,
       b.issues_error, b.issues_warning, b.status
  FROM dataplatform.batch b JOIN dataplatform.collection_log l ON l.batch_id = b.id;

\echo
\echo '== clean rows: dp_clean.conservation_area'
SELECT reference, name, documentation_url, designation_date, start_date, area_hectares
  FROM dp_clean.conservation_area ORDER BY reference;

\echo
\echo '== issues found in the collected file'
SELECT i.line_number AS line, i.field, i.issue_type, i.severity, i.value
  FROM dataplatform.issue i JOIN dataplatform.collection_log l ON l.batch_id = i.batch_id
 ORDER BY 1, 2;
SQL
