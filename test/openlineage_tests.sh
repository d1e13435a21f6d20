#!/usr/bin/env bash
# test/openlineage_tests.sh — OpenLineage events end to end through the
# background worker: a scripted run (push, push_csv, a queued push and its
# processing, a snapshot, events, publish, refresh, a rejected refresh, a
# collection, a failing job) posts its events to the loopback receiver
# test/openlineage/receiver.py, which validates each against the
# OpenLineage 2-0-2 run event schema (python3-jsonschema).  Then the
# receiver is down, answering 500, and slow: nothing is lost, and every
# event arrives once -- or again only after an attempt that got no answer
# (delivery is at least once: a timeout after the receiver kept the event
# is retried, as on a loaded machine; the outbox row then says so).
#
# Expects PG* to point at a running cluster that preloads the extension
# with dataplatform.naptime = 1s and dataplatform.allowed_hosts listing
# 127.0.0.1.  Prints "ok - ..." / "not ok - ..." lines; exits non-zero on
# any failure.  Every wait is bounded; the whole takes about 40 seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
# ok, notok, and q and check against $DB
source test/throwaway_cluster.sh

DB=dp_openlineage_test

TMP=$(mktemp -d /tmp/dp_openlineage.XXXXXX)
LOG=$TMP/events.log
RECV_PID=""
start_receiver() {   # start_receiver [port]
    rm -f "$TMP/port"
    python3 test/openlineage/receiver.py --port "${1:-0}" --port-file "$TMP/port" --log "$LOG" \
        --schema test/openlineage/openlineage-2-0-2.schema.json >>"$TMP/receiver.out" 2>&1 9>&- &
    RECV_PID=$!
    for _ in $(seq 100); do [ -s "$TMP/port" ] && return 0; sleep 0.1; done
    echo "the receiver did not start:" >&2; cat "$TMP/receiver.out" >&2; exit 1
}
stop_receiver() {
    [ -n "$RECV_PID" ] || return 0
    kill "$RECV_PID" 2>/dev/null || true
    wait "$RECV_PID" 2>/dev/null || true
    RECV_PID=""
}
trap 'stop_receiver; rm -rf "$TMP"' EXIT
mode() { python3 -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$PORT/mode/$1', data=b''))"; }
# wait_delivered [seconds]: until the outbox has nothing pending
wait_delivered() {
    for _ in $(seq $((${1:-15} * 5))); do
        [ "$(q "SELECT count(*) FROM dataplatform.openlineage_outbox WHERE status = 'pending'")" = 0 ] && return 0
        sleep 0.2
    done
    return 1
}
# summary of the receiver's log against the outbox: python3 prints "name
# value" lines
summary() {
    q "SELECT run_id || ' ' || event_type || ' ' || attempts || ' ' || coalesce(last_error, '')
         FROM dataplatform.openlineage_outbox" >"$TMP/outbox"
    python3 - "$LOG" "$TMP/outbox" <<'PY'
import collections, json, sys
events = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")] if __import__("os").path.exists(sys.argv[1]) else []
invalid = [e for e in events if e["errors"]]
keys = collections.Counter((e["event"]["run"]["runId"], e["event"]["eventType"]) for e in events)
outbox = {}
for line in open(sys.argv[2], encoding="utf-8"):
    run, typ, attempts, err = line.rstrip("\n").split(" ", 3)
    outbox[(run, typ)] = (int(attempts), err)
def explained(k, n):
    # posted n times or more, the last failure without an answer (a
    # timeout, a connection lost): the receiver may have kept a try
    attempts, err = outbox.get(k, (0, ""))
    return n <= attempts and (n == 1 or (err != "" and not err.startswith("HTTP status")))
runs = collections.defaultdict(set)
jobs = {}
for e in events:
    ev = e["event"]
    runs[ev["run"]["runId"]].add(ev["eventType"])
    jobs[ev["run"]["runId"]] = ev["job"]["name"]
print("events", len(events))
print("invalid", len(invalid))
for e in invalid[:3]:
    print("invalid_example", e["errors"][:2])
print("distinct", len(keys))
print("unknown", sum(1 for k in keys if k not in outbox))
print("duplicates", sum(1 for k, n in keys.items() if n > 1))
unexplained = [(k, n, outbox.get(k)) for k, n in keys.items() if not explained(k, n)]
print("unexplained", len(unexplained))
print("unexplained_example", unexplained[:2])
print("incomplete_runs", sum(1 for r, t in runs.items() if "START" not in t or len(t & {"COMPLETE", "FAIL"}) != 1))
print("jobs", ",".join(sorted(set(j.split(".")[0] + ":" + ("FAIL" if "FAIL" in runs[r] else "COMPLETE") for r, j in jobs.items()))))
def facets(ev):
    out = set()
    for d in ev.get("inputs", []) + ev.get("outputs", []):
        out |= set(d.get("facets", {})) | set(d.get("inputFacets", {})) | set(d.get("outputFacets", {}))
    return out | set(ev["run"].get("facets", {}))
push = [e["event"] for e in events if e["event"]["job"]["name"] == "push_csv.ol-item" and e["event"]["eventType"] == "COMPLETE"]
print("push_facets", ",".join(sorted(facets(push[0]))) if push else "")
fail = [e["event"] for e in events if e["event"]["eventType"] == "FAIL"]
print("fail_messages", sum(1 for f in fail if f["run"]["facets"].get("errorMessage", {}).get("message")), len(fail))
collect_ids = {e["event"]["run"]["runId"] for e in events if e["event"]["job"]["name"] == "collect.ol-source"}
children = [e["event"] for e in events if e["event"]["run"].get("facets", {}).get("parent", {}).get("run", {}).get("runId") in collect_ids]
print("collect_children", ",".join(sorted({c["job"]["name"] + ":" + c["eventType"] for c in children})))
names = sorted({d["namespace"] + "/" + d["name"] for e in events for d in e["event"].get("inputs", []) + e["event"].get("outputs", []) if d["namespace"].startswith("postgres://")})
print("names", " ".join(names))
PY
}
get() { summary | awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }

start_receiver
PORT=$(cat "$TMP/port")
URL=http://127.0.0.1:$PORT/api/v1/lineage

export PGOPTIONS=--client-min-messages=warning
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" \
    -c "ALTER DATABASE $DB SET dataplatform.openlineage_url = '$URL'" \
    -c "ALTER DATABASE $DB SET dataplatform.openlineage_dataset_namespace = 'postgres://db.example.org:5432'" \
    -c "ALTER DATABASE $DB SET dataplatform.openlineage_timeout = '3s'" \
    -c "ALTER DATABASE $DB SET dataplatform.allowed_hosts = '127.0.0.1'"
q "CREATE EXTENSION dataplatform"

# --- a scripted run: every kind of run ---------------------------------------
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
SET client_min_messages = error;
SELECT dataplatform.define_product('ol', '{"owner": "Test", "email": "t@example.org"}');
SELECT dataplatform.define_dataset('{"dataset": "ol-item", "product": "ol", "key": ["reference"],
  "fields": [{"name": "reference", "datatype": "string"}, {"name": "name", "datatype": "string", "required": true},
             {"name": "size", "datatype": "integer"}]}');
SELECT dataplatform.define_dataset('{"dataset": "ol-queued", "product": "ol", "key": ["reference"],
  "fields": [{"name": "reference", "datatype": "string"}, {"name": "name", "datatype": "string"}]}');
SELECT dataplatform.configure('ol-queued', '{"processing": "async"}');
SELECT dataplatform.define_dataset('{"dataset": "ol-entity", "product": "ol", "key": ["id"],
  "fields": [{"name": "id", "datatype": "string"}, {"name": "name", "datatype": "string"}]}');
SELECT dataplatform.push('ol-item', '[{"reference": "A", "name": "a", "size": "1"}, {"reference": "B", "size": "x"}]');
SELECT dataplatform.push_csv('ol-item', E'reference,name,size\nC,c,3\nD,d,four\n');
SELECT dataplatform.push('ol-queued', '[{"reference": "Q1", "name": "q"}]');
SELECT dataplatform.process_queued('ol-queued');
SELECT dataplatform.load_snapshot('ol-entity', '[{"id": "E1", "name": "one"}]', '2024-01-01T00:00:00Z');
SELECT count(*) FROM dataplatform.apply_events('ol-entity', '[{"id": "ev1", "eventType": "EntityUpdatedEvent",
  "entityId": "E1", "dateTime": "2024-01-02T00:00:00Z", "eventData": {"newData": {"name": "uno"}}}]');
SELECT dataplatform.publish('ol_items', 'ol-item');
SELECT dataplatform.push('ol-item', '[{"reference": "E", "name": "e", "size": "5"}]');
SELECT dataplatform.refresh('ol_items');
SELECT dataplatform.publish('ol_checked', 'ol-item', '{"expect": [{"row_count_max": 4}]}');
SELECT dataplatform.push('ol-item', '[{"reference": "F", "name": "f"}]');
SELECT dataplatform.refresh('ol_checked');
SELECT dataplatform.add_endpoint('ol-item', 'http://127.0.0.1:$PORT/data.csv', '{"name": "ol-source"}');
SELECT dataplatform.schedule('ol-broken', '0 0 1 1 *', 'SELECT 1/0');
SQL
run=$(q "SELECT dataplatform.collect('ol-source')")
q "SELECT dataplatform.wait_for_run($run, '20 seconds')" >/dev/null
run=$(q "SELECT dataplatform.run_now('ol-broken')")
q "SELECT dataplatform.wait_for_run($run, '20 seconds')" >/dev/null
# a call that fails: its FAIL outlives the rolled-back transaction (shared
# memory, written by the worker)
q "SELECT dataplatform.push_csv('ol-item', E'reference,name\\n\"broken\\n')" >/dev/null 2>&1 \
    && notok "a malformed CSV was accepted" || true
# a push rolled back leaves no event
q "BEGIN; SELECT dataplatform.push('ol-item', '[{\"reference\": \"R\", \"name\": \"rolled back\"}]'); ROLLBACK" >/dev/null

for _ in $(seq 50); do   # the failed call's FAIL: written by the worker
    [ "$(q "SELECT count(*) FROM dataplatform.openlineage_outbox WHERE job_name = 'push_csv.ol-item' AND event_type = 'FAIL'")" = 1 ] && break
    sleep 0.2
done
check "the failed push_csv left START and FAIL in the outbox, written by the worker" \
    "SELECT count(*) = 2 FROM dataplatform.openlineage_outbox WHERE job_name = 'push_csv.ol-item' AND run_id IN
       (SELECT run_id FROM dataplatform.openlineage_outbox WHERE event_type = 'FAIL' AND event::text LIKE '%unterminated%')"
check "the scripted run wrote its events to the outbox" \
    "SELECT count(*) >= 26 FROM dataplatform.openlineage_outbox"
if wait_delivered 20; then ok "the worker delivered every event"; else notok "events still pending: $(q "SELECT string_agg(id || ' ' || coalesce(last_error, ''), '; ') FROM dataplatform.openlineage_outbox WHERE status = 'pending'")"; fi
n=$(q "SELECT count(*) FROM dataplatform.openlineage_outbox")
[ "$(get distinct)" = "$n" ] && [ "$(get unknown)" = 0 ] && ok "the receiver got the $n events of the outbox" \
    || notok "the receiver got $(get distinct) distinct events ($(get unknown) unknown), the outbox has $n"
[ "$(get invalid)" = 0 ] && ok "every event validates against the OpenLineage 2-0-2 run event schema" \
    || notok "$(get invalid) events do not validate: $(get invalid_example)"
[ "$(get unexplained)" = 0 ] && ok "each event arrived once, or again after an attempt that got no answer ($(get duplicates))" \
    || notok "$(get unexplained) events arrived more often than posted, or again after an answer: $(get unexplained_example)"
[ "$(get incomplete_runs)" = 0 ] && ok "every run has a START and one COMPLETE or FAIL" || notok "$(get incomplete_runs) runs are incomplete"
jobs=$(get jobs)
for want in push:COMPLETE push_csv:COMPLETE push_csv:FAIL process_queued:COMPLETE snapshot:COMPLETE events:COMPLETE \
            publish:COMPLETE refresh:COMPLETE refresh:FAIL collect:COMPLETE job:FAIL; do
    [[ ",$jobs," == *",$want,"* ]] && ok "a $want run" || notok "no $want run (runs: $jobs)"
done
facets=$(get push_facets)
for want in schema columnLineage dataQualityMetrics dataplatform_quality outputStatistics dataplatform_batch; do
    [[ ",$facets," == *",$want,"* ]] && ok "push_csv's events carry the $want facet" || notok "no $want facet (facets: $facets)"
done
read -r with_msg nfail <<<"$(get fail_messages)"
[ "$with_msg" = "$nfail" ] && [ "$nfail" -ge 3 ] && ok "each FAIL event carries its error message ($nfail)" \
    || notok "FAIL events with a message: $with_msg of $nfail"
[ "$(get collect_children)" = "push_csv.ol-item:COMPLETE,push_csv.ol-item:START" ] \
    && ok "the collection's push_csv names the collection run as its parent" \
    || notok "children of the collection run: $(get collect_children)"
names=$(get names)
[[ " $names " == *" postgres://db.example.org:5432/$DB.dp_clean.ol_item "* ]] && \
    [[ " $names " == *" postgres://db.example.org:5432/$DB.dp_consumer.ol_items "* ]] && \
    ok "datasets named postgres://host:port and database.schema.table" || notok "dataset names: $names"
check "the rolled-back push left no event" \
    "SELECT count(*) = 3 FROM dataplatform.openlineage_outbox WHERE job_name = 'push.ol-item' AND event_type = 'COMPLETE'"

# --- the receiver down, then back --------------------------------------------
stop_receiver
q "SELECT dataplatform.push('ol-item', '[{\"reference\": \"G\", \"name\": \"while down\"}]')" >/dev/null
sleep 2
check "while the receiver is down the events stay pending, tried again" \
    "SELECT count(*) = 2 AND max(attempts) >= 1 FROM dataplatform.openlineage_outbox WHERE status = 'pending'"
start_receiver "$PORT"
if wait_delivered 15; then ok "the receiver back, the events are delivered"; else notok "events still pending after the receiver came back"; fi

# --- answering 500 -------------------------------------------------------------
mode fail
q "SELECT dataplatform.push('ol-item', '[{\"reference\": \"H\", \"name\": \"while failing\"}]')" >/dev/null
for _ in $(seq 50); do
    [ "$(q "SELECT coalesce(max(attempts), 0) >= 2 FROM dataplatform.openlineage_outbox WHERE status = 'pending'")" = t ] && break
    sleep 0.2
done
check "a receiver answering 500 keeps the events pending, with the error" \
    "SELECT count(*) = 2 AND bool_or(last_error LIKE 'HTTP status 500%') FROM dataplatform.openlineage_outbox WHERE status = 'pending'"
mode ok
if wait_delivered 15; then ok "the receiver healthy again, the events are delivered"; else notok "events still pending after the 500s"; fi

# --- slow -------------------------------------------------------------------------
mode slow:1.5
q "SELECT dataplatform.push('ol-item', '[{\"reference\": \"I\", \"name\": \"slow\"}]')" >/dev/null
if wait_delivered 15; then ok "a slow receiver gets the events"; else notok "events still pending with a slow receiver"; fi
mode ok

# --- slower than dataplatform.openlineage_timeout --------------------------------
# the receiver keeps the event but answers after the worker gave up: the
# event is posted again (at least once), and its row says why
arrivals() {   # arrivals <run id> <event type>: how often the receiver kept it
    python3 -c 'import json, sys; print(sum(1 for l in open(sys.argv[1]) if (lambda e: (e["run"]["runId"], e["eventType"]))(json.loads(l)["event"]) == (sys.argv[2], sys.argv[3])))' "$LOG" "$1" "$2"
}
mode slow:4
q "SELECT dataplatform.push('ol-item', '[{\"reference\": \"T\", \"name\": \"too slow\"}]')" >/dev/null
for _ in $(seq 75); do
    [ "$(q "SELECT count(*) FROM dataplatform.openlineage_outbox WHERE status = 'pending' AND attempts >= 1")" != 0 ] && break
    sleep 0.2
done
mode ok
if wait_delivered 20; then ok "a receiver slower than the timeout gets the events, posted again"; else notok "events still pending after a receiver slower than the timeout"; fi
read -r tid tattempts <<<"$(q "SELECT run_id || ' ' || attempts FROM dataplatform.openlineage_outbox
                              WHERE job_name = 'push.ol-item' AND event_type = 'START' ORDER BY id DESC LIMIT 1")"
for _ in $(seq 50); do   # the slow tries are kept 4 s after they began
    [ "$(arrivals "$tid" START)" -ge "$tattempts" ] && break
    sleep 0.2
done
check "an attempt that timed out is posted again and the row keeps why (delivered, attempts >= 2, last_error)" \
    "SELECT status = 'delivered' AND attempts >= 2 AND last_error LIKE '%timed out%' FROM dataplatform.openlineage_outbox
      WHERE run_id = '$tid' AND event_type = 'START'"
tarrived=$(arrivals "$tid" START)
[ "$tarrived" -ge 2 ] && [ "$tarrived" -le "$tattempts" ] \
    && ok "the receiver kept it $tarrived times, posted $tattempts times (a repeat the outbox row explains)" \
    || notok "the event was posted $tattempts times and kept $tarrived times"

# --- an accepted event whose outcome cannot be recorded (lock_timeout) --------
# the receiver answers 201 while the event's row is locked: the worker keeps
# the outcome and records it later, it does not post the event again
mode fail
q "SELECT dataplatform.push('ol-item', '[{\"reference\": \"L\", \"name\": \"locked\"}]')" >/dev/null
read -r lid lrun <<<"$(q "SELECT id || ' ' || run_id FROM dataplatform.openlineage_outbox WHERE event_type = 'START' ORDER BY id DESC LIMIT 1")"
for _ in $(seq 50); do
    [ "$(q "SELECT attempts >= 1 FROM dataplatform.openlineage_outbox WHERE id = $lid")" = t ] && break
    sleep 0.2
done
psql -X -q -At -d "$DB" -c "BEGIN" -c "SELECT 1 FROM dataplatform.openlineage_outbox WHERE id = $lid FOR SHARE" \
    -c "SELECT pg_sleep(60) /* dp_ol_locker */" >/dev/null 2>&1 &
locker=$!
for _ in $(seq 50); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%/* dp_ol_locker */%' AND wait_event = 'PgSleep'")" = 1 ] && break
    sleep 0.2
done
mode ok
for _ in $(seq 100); do   # the next try: accepted, its outcome blocked by the lock
    [ "$(arrivals "$lrun" START)" -ge 1 ] && [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE a.backend_type = 'dataplatform worker' AND NOT l.granted")" = 0 ] && break
    sleep 0.2
done
sleep 2   # a tick or two with the row still locked
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%/* dp_ol_locker */%' AND pid <> pg_backend_pid()" >/dev/null
wait "$locker" 2>/dev/null || true
if wait_delivered 20; then ok "an event accepted while its row was locked is recorded once the lock goes"; else notok "events still pending after the lock"; fi
check "its row says delivered" "SELECT status = 'delivered' FROM dataplatform.openlineage_outbox WHERE id = $lid"
# (a repeat only if a later try got no answer, e.g. a timeout on a loaded
# machine: then last_error says so)
[ "$(arrivals "$lrun" START)" = 1 ] || [ "$(q "SELECT last_error NOT LIKE 'HTTP status%' FROM dataplatform.openlineage_outbox WHERE id = $lid")" = t ] \
    && ok "an accepted event whose outcome could not be recorded is not posted again" \
    || notok "an accepted event whose outcome could not be recorded arrived $(arrivals "$lrun" START) times"

n=$(q "SELECT count(*) FROM dataplatform.openlineage_outbox")
[ "$(get distinct)" = "$n" ] && [ "$(get unknown)" = 0 ] && ok "after down, 500 and slow the receiver has all $n events" \
    || notok "the receiver has $(get distinct) distinct events ($(get unknown) unknown), the outbox $n"
[ "$(get unexplained)" = 0 ] && ok "each event arrived once, or again after an attempt that got no answer ($(get duplicates))" \
    || notok "$(get unexplained) events arrived more often than posted, or again after an answer: $(get unexplained_example)"
[ "$(get invalid)" = 0 ] && ok "every event still validates" || notok "$(get invalid) events do not validate"
check "the outbox says each event was delivered" \
    "SELECT bool_and(status = 'delivered' AND delivered_at IS NOT NULL) FROM dataplatform.openlineage_outbox"

# --- memory: the worker's private memory over many deliveries -----------------
wpid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()")
rss() { awk '/^RssAnon:/ { print $2 }' "/proc/$wpid/status" 2>/dev/null || echo 0; }
q "SELECT count(dataplatform.push('ol-item', jsonb_build_object('reference', 'W' || i, 'name', 'warm'))) FROM generate_series(1, 50) i" >/dev/null
wait_delivered 20 || true
before=$(rss)
q "SELECT count(dataplatform.push('ol-item', jsonb_build_object('reference', 'M' || i, 'name', 'many'))) FROM generate_series(1, 300) i" >/dev/null
if wait_delivered 30; then ok "600 more events delivered"; else notok "events still pending after 600 more"; fi
after=$(rss)
echo "# worker private RSS (RssAnon) $before kB -> $after kB over 600 deliveries"
[ -n "$before" ] && [ "$before" -gt 0 ] && [ $((after - before)) -lt 2048 ] \
    && ok "the worker's private memory grew by $((after - before)) kB over 600 deliveries (< 2 MB)" \
    || notok "the worker's private memory grew from $before kB to $after kB"
[ "$(get unexplained)" = 0 ] && ok "still each event once, or again after an attempt that got no answer ($(get duplicates))" \
    || notok "$(get unexplained) events arrived more often than posted, or again after an answer: $(get unexplained_example)"

# --- the URL off the allow-list: kept, not sent ---------------------------------
psql -X -q -d postgres -c "ALTER DATABASE $DB SET dataplatform.allowed_hosts = 'example.org'" >/dev/null
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()" >/dev/null
q "SELECT dataplatform.worker_wake()" >/dev/null
q "SELECT dataplatform.push('ol-item', '[{\"reference\": \"J\", \"name\": \"not allowed\"}]')" >/dev/null
sleep 3
check "a URL whose host is not in allowed_hosts gets nothing; the events wait" \
    "SELECT count(*) = 2 FROM dataplatform.openlineage_outbox WHERE status = 'pending' AND attempts = 0"
before=$(get events)
[ "$(get distinct)" = "$(( $(q "SELECT count(*) FROM dataplatform.openlineage_outbox") - 2 ))" ] && [ "$(get unknown)" = 0 ] \
    && ok "nothing was posted to a host off the list" || notok "the receiver got $(get distinct) distinct events"

# --- a name that resolves to an internal address: refused before connecting ---
# (dataplatform.resolve_override, superuser only, stands in for DNS)
psql -X -q -d postgres \
    -c "ALTER DATABASE $DB SET dataplatform.openlineage_url = 'http://rebind.invalid:$PORT/api/v1/lineage'" \
    -c "ALTER DATABASE $DB SET dataplatform.allowed_hosts = 'rebind.invalid'" \
    -c "ALTER DATABASE $DB SET dataplatform.resolve_override = 'rebind.invalid:$PORT:127.0.0.1'" >/dev/null
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()" >/dev/null
q "SELECT dataplatform.worker_wake()" >/dev/null
for _ in $(seq 30); do
    [ "$(q "SELECT count(*) > 0 FROM dataplatform.openlineage_outbox WHERE status = 'pending' AND last_error LIKE '%refused before connecting%'")" = t ] && break
    sleep 0.5
done
check "a host name resolving to a loopback address the allow-list does not name: the delivery is refused, the events wait" \
    "SELECT count(*) > 0 FROM dataplatform.openlineage_outbox WHERE status = 'pending' AND last_error LIKE '%127.0.0.1%refused before connecting%'"
[ "$(get events)" = "$before" ] && ok "not a byte reached the receiver through the rebound name" || notok "the receiver got $(get events) events, $before before"

# --- unset: nothing recorded ------------------------------------------------------
n0=$(q "SELECT count(*) FROM dataplatform.openlineage_outbox")
q "SET dataplatform.openlineage_url = ''; SELECT dataplatform.push('ol-item', '[{\"reference\": \"K\", \"name\": \"off\"}]')" >/dev/null
check "with dataplatform.openlineage_url unset nothing is written" \
    "SELECT count(*) = $n0 FROM dataplatform.openlineage_outbox"

check "the worker is alive" \
    "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()"

[ -n "${KEEP_DB:-}" ] || psql -X -q -d postgres -c "DROP DATABASE $DB WITH (FORCE)" >/dev/null 2>&1 || true
if [ $fails -ne 0 ]; then echo "openlineage tests: $fails failed"; exit 1; fi
echo "openlineage tests: all passed"
