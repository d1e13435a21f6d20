#!/usr/bin/env bash
# test/collect_tests.sh — collection from HTTP endpoints, end to end through
# the background worker: add_endpoint + collect + wait_for_run against the
# loopback server test/http_server.py; the stored / unchanged / failed
# outcomes for every kind of failure; secrets sent, never leaked and never
# sent to another origin; the allow-list at call time and after redirects;
# the worker survives all of it.
#
# Expects PG* to point at a running cluster that preloads the extension
# with dataplatform.naptime = 1s and dataplatform.allowed_hosts = '127.0.0.1'.
# Uses the HTTP server test/cluster.sh started (DP_HTTP_PORT_FILE, DP_HTTP_DIR,
# DP_HTTP_LOG, DP_HTTP_TOKEN), or starts its own.  DP_SERVER_LOG, when set,
# is the server log searched for leaked secrets.  Prints "ok - ..." /
# "not ok - ..." lines; exits non-zero on any failure.  Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
# ok, notok, and q and check against $DB
source test/throwaway_cluster.sh

DB=dp_collect_test

own_server=""
if [ -z "${DP_HTTP_PORT_FILE:-}" ]; then
    HTTP_TMP=$(mktemp -d /tmp/dp_http.XXXXXX)
    export DP_HTTP_DIR=$HTTP_TMP/www DP_HTTP_PORT_FILE=$HTTP_TMP/port DP_HTTP_LOG=$HTTP_TMP/requests.log
    export DP_HTTP_TOKEN=tok-$RANDOM$RANDOM
    mkdir -p "$DP_HTTP_DIR"
    python3 test/http_server.py --dir "$DP_HTTP_DIR" --port-file "$DP_HTTP_PORT_FILE" \
        --log "$DP_HTTP_LOG" --token "$DP_HTTP_TOKEN" &
    own_server=$!
    trap 'kill $own_server 2>/dev/null || true; rm -rf "$HTTP_TMP"' EXIT
    for _ in $(seq 50); do [ -s "$DP_HTTP_PORT_FILE" ] && break; sleep 0.1; done
fi
read -r PORT PORT2 <"$DP_HTTP_PORT_FILE"
BASE=http://127.0.0.1:$PORT
SECRET="Bearer $DP_HTTP_TOKEN"
W=$DP_HTTP_DIR

# fixtures
printf 'reference,name\nI1,first\nI2,second\n' >"$W/items.csv"
printf '[{"reference": "J1", "name": "json one"}, {"reference": "J2", "name": "json two"}]\n' >"$W/items.json"
printf '{"reference": "N1", "name": "nd one"}\n\n{"reference": "N2", "name": "nd two"}\n{"reference": "N3", "name": "nd three"}\n' >"$W/items.ndjson"
printf '[{"reference": "B1", "name": ' >"$W/broken.json"
printf 'reference;name\nS1;semi\n' >"$W/semicolon.csv"

export PGOPTIONS=--client-min-messages=warning
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" \
    -c "ALTER DATABASE $DB SET dataplatform.allowed_hosts = '127.0.0.1, *.invalid'" \
    -c "ALTER DATABASE $DB SET dataplatform.resolve_override = 'pinned.invalid:$PORT:127.0.0.1'"
q "CREATE EXTENSION dataplatform"
q "DROP ROLE IF EXISTS dp_ct_admin" 2>/dev/null || true
q "CREATE ROLE dp_ct_admin LOGIN IN ROLE dataplatform_admin" 2>/dev/null || true
q "SELECT dataplatform.define_product('ct', '{\"owner\": \"Test\", \"email\": \"t@example.org\", \"description\": \"collection tests\", \"domain\": \"test\"}')" >/dev/null
q "SELECT dataplatform.define_dataset('{\"dataset\": \"ct-item\", \"product\": \"ct\", \"key\": [\"reference\"],
    \"fields\": [{\"name\": \"reference\", \"datatype\": \"string\"}, {\"name\": \"name\", \"datatype\": \"string\", \"required\": true}]}')" >/dev/null

worker_pid() {
    q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()"
}
for _ in $(seq 100); do [ -n "$(worker_pid)" ] && break; sleep 0.2; done
pid0=$(worker_pid)
[ -n "$pid0" ] && ok "the database has a worker" || notok "no worker for the test database"

# endpoint <name> <url> [options-json-without-braces]: add it as dp_ct_admin
endpoint() {
    local opts="\"name\": \"$1\""
    [ -n "${3:-}" ] && opts="$opts, $3"
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "SET ROLE dp_ct_admin" \
        -c "SELECT dataplatform.add_endpoint('ct-item', '$2', '{$opts}')" >/dev/null
}
# run <name>: collect now and wait; sets RUN (the run id) and STATUS
RUN=""
STATUS=""
run() {
    RUN=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "SET ROLE dp_ct_admin" -c "SELECT dataplatform.collect('$1')")
    STATUS=$(q "SELECT dataplatform.wait_for_run($RUN, '30 seconds')")
}
# expect <description> <endpoint> <job status> <outcome> <error LIKE pattern or ''>
expect() {
    local status got
    run "$2"
    status=$STATUS
    got=$(q "SELECT l.outcome || '|' || coalesce(l.error, '') FROM dataplatform.collection_log l WHERE l.run_id = $RUN")
    if [ "$status" = "$3" ] && [ "${got%%|*}" = "$4" ] && \
       [ "$(q "SELECT coalesce((SELECT error FROM dataplatform.collection_log WHERE run_id = $RUN), '') LIKE '$5'")" = t ] && \
       [ "$(q "SELECT coalesce(message, '') = coalesce((SELECT error FROM dataplatform.collection_log WHERE run_id = $RUN), '') FROM dataplatform.job_run WHERE run_id = $RUN")" = t ]; then
        if [ -n "${got#*|}" ]; then ok "$1: $3/$4: ${got#*|}"; else ok "$1: $3/$4"; fi
    else
        notok "$1: expected $3/$4 '$5', got $status/$got"
    fi
}

# --- stored, unchanged, stored again ---------------------------------------------
endpoint csv "$BASE/files/items.csv"
expect "a CSV download becomes a batch" csv succeeded stored ''
check "the batch holds the CSV and its rows are clean" \
  "SELECT b.rows = 2 AND b.kind = 'push_csv' AND b.pushed_by = 'dp_ct_admin' AND l.bytes = $(wc -c <"$W/items.csv")
          AND l.sha256 = '$(sha256sum "$W/items.csv" | cut -d' ' -f1)' AND l.http_status = 200 AND l.format = 'csv'
          AND (SELECT count(*) FROM dp_clean.ct_item WHERE reference IN ('I1', 'I2')) = 2
     FROM dataplatform.collection_log l JOIN dataplatform.batch b ON b.id = l.batch_id WHERE l.run_id = $RUN"
check "job_run counts the batch's rows" "SELECT rows = 2 FROM dataplatform.job_run WHERE run_id = $RUN"
check "a collected row's lineage names the endpoint, its URL and the CSV line" \
  "SELECT v #>> '{batch,collection,endpoint}' = 'csv' AND v #>> '{batch,collection,url}' = '$BASE/files/items.csv'
          AND (v #>> '{batch,collection,run_id}')::bigint = $RUN AND v #>> '{batch,pushed_by}' = 'dp_ct_admin'
          AND v #>> '{raw,line_number}' = '2'
     FROM jsonb_array_elements(dataplatform.lineage('ct-item', '\"I1\"') -> 'versions') v"
nb=$(q "SELECT count(*) FROM dataplatform.batch")
expect "the same download again" csv succeeded unchanged ''
check "an unchanged download makes no batch" "SELECT count(*) = $nb FROM dataplatform.batch"
printf 'reference,name\nI1,first\nI2,second\nI3,third\n' >"$W/items.csv"
expect "a changed download" csv succeeded stored ''
check "a changed download is a new batch" "SELECT count(*) = $nb + 1 FROM dataplatform.batch"
EXTVERSION=$(q "SELECT extversion FROM pg_extension WHERE extname = 'dataplatform'")
grep -q "\"User-Agent\": \"dataplatform/$EXTVERSION " "$DP_HTTP_LOG" \
  && ok "requests carry User-Agent dataplatform/$EXTVERSION (the extension's version)" \
  || notok "no User-Agent dataplatform/$EXTVERSION in the request log"

# --- formats ------------------------------------------------------------------------
endpoint json "$BASE/files/items.json"
expect "a JSON download (format auto, by Content-Type)" json succeeded stored ''
endpoint ndjson "$BASE/typed/text~plain/items.ndjson"
expect "an NDJSON download (format auto, by extension)" ndjson succeeded stored ''
check "NDJSON lines became rows" "SELECT count(*) = 3 FROM dp_clean.ct_item WHERE reference LIKE 'N%'"
endpoint semi "$BASE/files/semicolon.csv" '"format": "csv", "csv": {"delimiter": ";"}'
expect "CSV options reach push_csv" semi succeeded stored ''
# --- GeoJSON (PostGIS in the test database) -----------------------------------------
printf '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"reference": "G1", "name": "geo one"},
  "geometry": {"type": "Point", "coordinates": [530015, 180415]}}]}\n' >"$W/places.data"
cp "$W/places.data" "$W/places2.geojson"
q "CREATE EXTENSION IF NOT EXISTS postgis"
q "SELECT dataplatform.define_dataset('{\"dataset\": \"ct-place\", \"product\": \"ct\", \"key\": [\"reference\"],
    \"fields\": [{\"name\": \"reference\", \"datatype\": \"string\"}, {\"name\": \"name\", \"datatype\": \"string\"},
                 {\"name\": \"point\", \"datatype\": \"point\"}]}')" >/dev/null
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "SET ROLE dp_ct_admin" \
    -c "SELECT dataplatform.add_endpoint('ct-place', '$BASE/typed/application~geo+json/places.data', '{\"name\": \"geo\"}')" \
    -c "SELECT dataplatform.add_endpoint('ct-place', '$BASE/files/places2.geojson', '{\"name\": \"geo2\", \"format\": \"geojson\"}')" >/dev/null
expect "a GeoJSON download (format auto, by Content-Type application/geo+json)" geo succeeded stored ''
check "it was read as GeoJSON: the feature is a row, its geometry a point in WGS84" \
  "SELECT l.format = 'geojson' AND (SELECT ST_Y(point) BETWEEN 51.50 AND 51.51 FROM dp_clean.ct_place WHERE reference = 'G1')
     FROM dataplatform.collection_log l WHERE l.run_id = $RUN"
expect "a GeoJSON download (format geojson)" geo2 succeeded stored ''
check "format geojson is logged" "SELECT format = 'geojson' FROM dataplatform.collection_log WHERE run_id = $RUN"
# --- the endpoint's own column mapping -----------------------------------------
printf 'Ref No,Title\nM1,mapped one\nM2,mapped two\n' >"$W/mapped.csv"
printf '[{"Ref No": "M3", "Title": "mapped three"}]\n' >"$W/mapped.json"
endpoint mapped "$BASE/files/mapped.csv" '"format": "csv", "column": {"Ref No": "reference", "Title": "name"}'
expect "a download with the endpoint's column mapping" mapped succeeded stored ''
endpoint mappedj "$BASE/files/mapped.json" '"format": "json", "column": {"Ref No": "reference", "Title": "name"}'
expect "a JSON download with the endpoint's column mapping" mappedj succeeded stored ''
check "the endpoint's column mapping maps the source columns to fields" \
  "SELECT count(*) = 3 FROM dp_clean.ct_item WHERE reference IN ('M1', 'M2', 'M3') AND name LIKE 'mapped %'"
check "the batch records the mapping it was loaded with" \
  "SELECT source -> 'column' = '{\"Ref No\": \"reference\", \"Title\": \"name\"}' FROM dataplatform.batch
    WHERE id = (SELECT batch_id FROM dataplatform.collection_log WHERE run_id = $RUN)"
check "a push after it is not mapped (the mapping is the endpoint's only)" \
  "SELECT dataplatform.push('ct-item', '{\"Ref No\": \"P1\", \"Title\": \"x\"}') > 0
      AND NOT EXISTS (SELECT 1 FROM dp_clean.ct_item WHERE reference = 'P1')"
q "SELECT dataplatform.rebuild('ct-item')" >/dev/null
check "a rebuild maps collected batches as they were collected" \
  "SELECT count(*) = 3 FROM dp_clean.ct_item WHERE reference IN ('M1', 'M2', 'M3')"
got=$(psql -X -q -At -d "$DB" -c "SELECT dataplatform.add_endpoint('ct-item', '$BASE/files/mapped.csv', '{\"name\": \"badmap\", \"column\": {\"Ref No\": \"nosuchfield\"}}')" 2>&1 || true)
case "$got" in *nosuchfield*) ok "a column mapping to an unknown field is refused at add_endpoint: ${got%%$'\n'*}" ;;
               *) notok "a column mapping to an unknown field was accepted: $got" ;; esac

endpoint gz "$BASE/gzip/items.json" '"format": "json"'
expect "a gzip-encoded download" gz succeeded stored ''
check "bytes count the decoded body" "SELECT bytes = $(wc -c <"$W/items.json") FROM dataplatform.collection_log WHERE run_id = $RUN"
grep '"/gzip/items.json"' "$DP_HTTP_LOG" | grep -q '"Accept-Encoding": "[^"]*gzip' \
  && ok "the worker asks for gzip" || notok "no Accept-Encoding: gzip"
endpoint redir2 "$BASE/redirect/2/items.csv"
expect "two redirects are followed" redir2 succeeded stored ''

# --- failures -------------------------------------------------------------------------
endpoint nf "$BASE/files/missing.csv"
expect "404" nf failed failed '%HTTP status 404 (Not Found)%'
endpoint e500 "$BASE/status/500" '"retries": 1'
expect "500" e500 failed failed '%HTTP status 500 (Internal Server Error)%'
check "a failed run of an endpoint with retries is retried" \
  "SELECT count(*) = 1 FROM dataplatform.job_run WHERE job_name = 'collect:e500' AND trigger = 'retry' AND status = 'queued'"
endpoint redir4 "$BASE/redirect/4/items.csv"
expect "a fourth redirect" redir4 failed failed '%more than 3 redirects%'
endpoint offlist "$BASE/redirect-to?url=http://localhost:$PORT/files/items.csv"
expect "a redirect to a host off the allow-list" offlist failed failed '%redirect refused: host "localhost" is not in dataplatform.allowed_hosts%'
endpoint tofile "$BASE/redirect-to?url=file:///etc/passwd"
expect "a redirect to file://" tofile failed failed '%redirect refused: URL scheme "file" is not allowed%'
endpoint toftp "$BASE/redirect-to?url=ftp://127.0.0.1/x.csv"
expect "a redirect to ftp://" toftp failed failed '%redirect refused: URL scheme "ftp" is not allowed%'
grep -q '"path": "/files/items.csv", "headers": {[^}]*"Host": "localhost' "$DP_HTTP_LOG" \
  && notok "the worker fetched from a host off the allow-list" || ok "nothing was fetched from the host off the allow-list"
endpoint slow "$BASE/slow/5/items.csv" '"timeout_ms": 1000'
expect "a response slower than timeout_ms" slow failed failed '%timed out after 1000 ms%'
endpoint refused "http://127.0.0.1:1/items.csv"
expect "connection refused" refused failed failed '%could not connect to "127.0.0.1"%'
endpoint dns "http://no-such-host.invalid/items.csv"
expect "a host name that does not resolve" dns failed failed '%could not resolve host "no-such-host.invalid"%'
endpoint big "$BASE/big/200000" '"max_bytes": 100000'
expect "too big (Content-Length)" big failed failed '%larger than max_bytes (100000 bytes)%'
endpoint bigc "$BASE/big-chunked/200000" '"max_bytes": 100000'
expect "too big (chunked: the write callback)" bigc failed failed '%larger than max_bytes (100000 bytes)%'
endpoint html "$BASE/html" '"format": "csv"'
expect "an HTML page instead of CSV" html failed failed '%the response is an HTML page, not CSV%'
endpoint htmlcsv "$BASE/html-as-csv"
expect "an HTML page labelled text/csv" htmlcsv failed failed '%the response is an HTML page, not CSV%'
endpoint broken "$BASE/files/broken.json"
expect "JSON that does not parse" broken failed failed '%the json download was refused: invalid input syntax for type json%'

# the job's own timeout cancels a transfer that is still going (progress callback)
endpoint trickle "$BASE/trickle/20" '"timeout_ms": 60000'
q "SET ROLE dp_ct_admin; SELECT dataplatform.alter_job('collect:trickle', timeout => '2 seconds')" >/dev/null
t0=$SECONDS
run trickle
status=$STATUS
if [ "$status" = timed_out ] && [ $((SECONDS - t0)) -lt 15 ]; then
    ok "the job's timeout stops a transfer in progress: timed_out after $((SECONDS - t0)) s"
else
    notok "the job's timeout did not stop the transfer: $status after $((SECONDS - t0)) s"
fi
check "the timed-out run is logged as failed" \
  "SELECT outcome = 'failed' AND error LIKE 'timed out after 2000 ms%' FROM dataplatform.collection_log WHERE run_id = $RUN"

# --- secrets --------------------------------------------------------------------------
psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "SET ROLE dp_ct_admin" \
  -c "SELECT dataplatform.set_secret('ct-token', '$SECRET')" >/dev/null
endpoint auth "$BASE/auth/items.json" '"headers": {"Authorization": {"secret": "ct-token"}, "Accept": "application/json"}'
printf '[{"reference": "A1", "name": "authorised"}]\n' >"$W/items.json"
expect "a header from a secret is sent" auth succeeded stored ''
endpoint noauth "$BASE/auth/items.json"
expect "without the secret" noauth failed failed '%HTTP status 401 (Unauthorized)%'
endpoint xorigin "$BASE/redirect-to?url=http://127.0.0.1:$PORT2/auth/items.json" \
  '"headers": {"Authorization": {"secret": "ct-token"}}'
expect "a redirect to another origin" xorigin failed failed '%HTTP status 401%'
if grep "\"port\": $PORT2" "$DP_HTTP_LOG" | grep -q '"Authorization"'; then
    notok "the secret was sent to another origin after a redirect"
else
    ok "the secret is not sent to another origin after a redirect"
fi
check "nobody reads the secret table, not even an admin" \
  "SELECT NOT has_table_privilege('dp_ct_admin', 'dataplatform.secret', 'SELECT')
      AND NOT has_table_privilege('dataplatform_admin', 'dataplatform.secret', 'SELECT')"
out=$(psql -X -q -At -d "$DB" -c "SET ROLE dp_ct_admin" -c "SELECT value FROM dataplatform.secret" 2>&1 || true)
if echo "$out" | grep -q "permission denied for table secret"; then
    ok "an admin's SELECT on the secret table is refused"
else
    notok "an admin could read the secret table"
fi
leaks=$(q "SELECT string_agg(t, ', ') FROM (
  SELECT 'collection_log' t FROM dataplatform.collection_log WHERE collection_log::text LIKE '%$DP_HTTP_TOKEN%'
  UNION ALL SELECT 'job_run' FROM dataplatform.job_run WHERE job_run::text LIKE '%$DP_HTTP_TOKEN%'
  UNION ALL SELECT 'job' FROM dataplatform.job WHERE job::text LIKE '%$DP_HTTP_TOKEN%'
  UNION ALL SELECT 'endpoint' FROM dataplatform.endpoint WHERE endpoint::text LIKE '%$DP_HTTP_TOKEN%'
  UNION ALL SELECT 'audit_log' FROM dataplatform.audit_log WHERE audit_log::text LIKE '%$DP_HTTP_TOKEN%'
  UNION ALL SELECT 'batch' FROM dataplatform.batch WHERE batch::text LIKE '%$DP_HTTP_TOKEN%') x")
[ -z "$leaks" ] && ok "the secret is in no table but dataplatform.secret" || notok "the secret leaked into: $leaks"
if [ -n "${DP_SERVER_LOG:-}" ] && [ -f "$DP_SERVER_LOG" ]; then
    grep -q "$DP_HTTP_TOKEN" "$DP_SERVER_LOG" && notok "the secret is in the server log" \
      || ok "the secret is not in the server log"
fi
check "audit rows name the secret, not its value" \
  "SELECT count(*) = 1 FROM dataplatform.audit_log WHERE action = 'set_secret' AND object = 'ct-token' AND detail = '{\"replaced\": false}'"

# --- the allow-list at call time ------------------------------------------------------
out=$(psql -X -q -At -d "$DB" -c "SET ROLE dp_ct_admin" \
  -c "SELECT dataplatform.add_endpoint('ct-item', 'http://localhost:$PORT/files/items.csv', '{\"name\": \"lh\"}')" 2>&1 || true)
echo "$out" | grep -q 'host "localhost" is not in dataplatform.allowed_hosts' \
  && ok "add_endpoint refuses a host off the allow-list" || notok "add_endpoint accepted a host off the allow-list: $out"

# --- the addresses connected to --------------------------------------------------------
# A name on the allow-list that resolves to 127.0.0.1, which the list names
# explicitly: fetched.
endpoint pinned "http://pinned.invalid:$PORT/files/items.csv"
expect "a name resolving to an address the allow-list names" pinned succeeded stored ''
# Another database, whose allow-list has the name but not the address: the
# name resolves (dataplatform.resolve_override, the test resolver) to
# loopback, plainly and as an IPv4-mapped IPv6 address; refused before
# connecting: the server sees no connection at all.
RB=dp_collect_rebind
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $RB" -c "CREATE DATABASE $RB" \
    -c "ALTER DATABASE $RB SET dataplatform.allowed_hosts = '*.invalid, *'" \
    -c "ALTER DATABASE $RB SET dataplatform.resolve_override = 'rebind.invalid:$PORT:127.0.0.1, mapped.invalid:$PORT:[::ffff:127.0.0.1]'"
rq() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$RB" -c "$1"; }
rq "CREATE EXTENSION dataplatform"
rq "SELECT dataplatform.define_product('rb', '{\"owner\": \"Test\", \"email\": \"t@example.org\", \"description\": \"rebinding\", \"domain\": \"test\"}')" >/dev/null
rq "SELECT dataplatform.define_dataset('{\"dataset\": \"rb-item\", \"product\": \"rb\", \"key\": [\"reference\"],
    \"fields\": [{\"name\": \"reference\", \"datatype\": \"string\"}, {\"name\": \"name\", \"datatype\": \"string\"}]}')" >/dev/null
rq "SELECT dataplatform.set_secret('rb-token', 'Bearer rb-$DP_HTTP_TOKEN')" >/dev/null
for ep in rebind mapped; do
    rq "SELECT dataplatform.add_endpoint('rb-item', 'http://$ep.invalid:$PORT/files/items.csv?probe=$ep',
        '{\"name\": \"$ep\", \"headers\": {\"Authorization\": {\"secret\": \"rb-token\"}}}')" >/dev/null
    conns=$(grep -c '"connection"' "$DP_HTTP_LOG" || true)
    r=$(rq "SELECT dataplatform.collect('$ep')")
    st=$(rq "SELECT dataplatform.wait_for_run($r, '60 seconds')")
    err=$(rq "SELECT error FROM dataplatform.collection_log WHERE run_id = $r")
    if [ "$st" = failed ] && echo "$err" | grep -q "host \"$ep.invalid\" resolved to 127.0.0.1, a loopback address that dataplatform.allowed_hosts does not name: refused before connecting"; then
        ok "$ep.invalid resolving to loopback is refused: $err"
    else
        notok "$ep.invalid resolving to loopback: $st: $err"
    fi
    if [ "$(grep -c '"connection"' "$DP_HTTP_LOG" || true)" = "$conns" ] && ! grep -q "probe=$ep" "$DP_HTTP_LOG"; then
        ok "$ep.invalid: no connection was made, no byte sent"
    else
        notok "$ep.invalid: the server saw a connection or a request"
    fi
done
psql -X -q -d postgres -c "DROP DATABASE $RB WITH (FORCE)" >/dev/null 2>&1 || true
# a secret tied to origins goes nowhere else
out=$(psql -X -q -At -d "$DB" -c "SET ROLE dp_ct_admin" \
  -c "SELECT dataplatform.set_secret('ct-bound', 'Bearer x', ARRAY['https://api.example.org'])" \
  -c "SELECT dataplatform.add_endpoint('ct-item', '$BASE/auth/items.json', '{\"name\": \"bound\", \"headers\": {\"Authorization\": {\"secret\": \"ct-bound\"}}}')" 2>&1 || true)
echo "$out" | grep -q "secret \"ct-bound\" may not be sent to http://127.0.0.1:$PORT (endpoint \"bound\")" \
  && ok "an endpoint cannot use a secret tied to other origins" || notok "a secret tied to other origins was accepted: $out"
out=$(psql -X -q -At -d "$DB" -c "SET ROLE dp_ct_admin" \
  -c "SELECT dataplatform.set_secret('ct-token', '$SECRET', ARRAY['https://elsewhere.example.org'])" 2>&1 || true)
echo "$out" | grep -q 'secret "ct-token" may not be sent to http://127.0.0.1' \
  && ok "a secret cannot be tied away from the endpoints using it" || notok "set_secret tied a secret away from its endpoints: $out"
q "SET ROLE dp_ct_admin; SELECT dataplatform.set_secret('ct-token', '$SECRET', ARRAY['$BASE'])" >/dev/null
run auth
[ "$STATUS" = succeeded ] && ok "a secret tied to its endpoint's origin is sent there" \
  || notok "a secret tied to its endpoint's origin: $STATUS"

# --- a scheduled endpoint; drop_endpoint ---------------------------------------------
printf 'reference,name\nC1,cron\n' >"$W/sched.csv"
endpoint sched "$BASE/files/sched.csv" '"schedule": "every 2 seconds"'
deadline=$((SECONDS + 20))
while [ $SECONDS -lt $deadline ] && [ "$(q "SELECT count(*) FROM dataplatform.collection_log WHERE endpoint = 'sched'")" -lt 2 ]; do
    sleep 0.2
done
check "a scheduled endpoint is collected by the worker (stored, then unchanged)" \
  "SELECT array_agg(outcome ORDER BY id)::text LIKE '{stored,unchanged%' FROM dataplatform.collection_log WHERE endpoint = 'sched'"
q "SET ROLE dp_ct_admin; SELECT dataplatform.drop_endpoint('sched')" >/dev/null
check "drop_endpoint removes the endpoint and its job, keeps the log" \
  "SELECT NOT EXISTS (SELECT 1 FROM dataplatform.endpoint WHERE name = 'sched')
      AND NOT EXISTS (SELECT 1 FROM dataplatform.job WHERE name = 'collect:sched')
      AND EXISTS (SELECT 1 FROM dataplatform.collection_log WHERE endpoint = 'sched')"

# --- the worker survived ---------------------------------------------------------------
q "SET ROLE dp_ct_admin; SELECT dataplatform.schedule('after', '@yearly', 'SELECT 1')" >/dev/null
r=$(q "SET ROLE dp_ct_admin; SELECT dataplatform.run_now('after')")
[ "$(q "SELECT dataplatform.wait_for_run($r, '20 seconds')")" = succeeded ] \
  && ok "ordinary jobs still run after the failures" || notok "the worker stopped running jobs"
[ "$(worker_pid)" = "$pid0" ] && ok "the same worker process did all of it (no crash, no restart)" \
  || notok "the worker was restarted ($pid0 -> $(worker_pid))"

[ "${KEEP_DB:-0}" = 1 ] || psql -X -q -d postgres -c "DROP DATABASE $DB" >/dev/null 2>&1 || true
[ $fails -eq 0 ] || { echo "collect_tests: $fails failed"; exit 1; }
echo "collect_tests: all passed"
