#!/usr/bin/env bash
# test/replica_tests.sh — beyond one server (docs/operations.md,
# "Topologies"), in three private clusters on unix sockets in a temporary
# directory: a primary (wal_level = logical), a streaming standby made with
# pg_basebackup, and a reporting server subscribing to the consumer layer.
#
#   - a consumer reads on the standby; its reads reach the primary's
#     audit_log (shipped by the standby's worker), the standby named; reads
#     the primary refuses fall back to the standby's log, counted;
#   - the standby's worker runs no job;
#   - the standby is promoted: its worker fails the run left running and
#     runs the queued one;
#   - the reporting server receives a publish (PII columns left out), a
#     refresh and an unpublish.
#
# Uses the harness's server binaries (TC_PG_CONFIG, as test/cluster.sh
# exports it).  Prints "ok - ..." / "not ok - ..."; exits non-zero on any
# failure.  Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/throwaway_cluster.sh

check() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1 (got '$2', expected '$3')"; fi; }

BASE=$(mktemp -d /tmp/dp-replica.XXXXXX)
chmod 755 "$BASE"
P=$BASE/primary S=$BASE/standby R=$BASE/reporting
cleanup() {
    tc_stop "$S"; tc_stop "$R"; tc_stop "$P"
    [ "${KEEP_CLUSTER:-}" ] || rm -rf "$BASE"
}
trap cleanup EXIT

# q DIR DB SQL [psql args...]: one value
q() { local d=$1 db=$2 sql=$3; shift 3; tc_psql "$d" -At -d "$db" "$@" -c "$sql"; }
# wait_for SECONDS DIR DB SQL: until the query gives t
wait_for() {
    local deadline=$((SECONDS + $1))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(q "$2" "$3" "$4" 2>/dev/null || true)" = "t" ] && return 0
        sleep 0.2
    done
    return 1
}

# --- the primary ------------------------------------------------------------
tc_init "$P" 6101
cat >>"$P/data/postgresql.conf" <<CONF
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
cluster_name = 'dp_primary'
dataplatform.environment = 'production'
# jobs wait for the promotion (the old primary never runs them)
dataplatform.enabled = off
CONF
tc_start "$P"
tc_psql "$P" -d postgres -c "CREATE DATABASE dp"
tc_psql "$P" -d dp >/dev/null <<'SQL'
CREATE EXTENSION dataplatform;
CREATE ROLE shipper LOGIN IN ROLE dataplatform_audit_shipper;
CREATE ROLE bi LOGIN;
SELECT dataplatform.grant_consumer('bi');
SELECT name FROM dataplatform.define_product('residents');
SELECT dataplatform.define_dataset($${"dataset": "tenant", "product": "residents", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"},
             {"name": "name", "datatype": "string", "pii": true},
             {"name": "ward", "datatype": "string"}]}$$);
SELECT dataplatform.push('tenant', $$[{"id": 1, "name": "Ada", "ward": "Dalston"},
                                     {"id": 2, "name": "Bob", "ward": "Hackney"}]$$);
SELECT dataplatform.publish('tenant', 'tenant');
-- a job: one run queued, one left running by a primary that went away
CREATE TABLE public.ticks (at timestamptz DEFAULT clock_timestamp());
SELECT dataplatform.schedule('tick', '@yearly', 'INSERT INTO public.ticks DEFAULT VALUES');
SELECT dataplatform.run_now('tick');
SQL
# the stale run: a second job, so that the queued run of tick is not blocked by it
tc_psql "$P" -d dp >/dev/null <<'SQL'
SELECT dataplatform.schedule('old', '@yearly', 'SELECT 1');
INSERT INTO dataplatform.job_run (job_id, job_name, trigger, status, scheduled_for, started_at)
SELECT id, name, 'manual', 'running', now(), now() FROM dataplatform.job WHERE name = 'old';
SQL

# --- the standby --------------------------------------------------------------
mkdir -p "$S"; chmod 755 "$S"
[ "$(id -u)" -eq 0 ] && chown postgres: "$S"
tc_as_server "$TC_BINDIR/pg_basebackup" -D "$S/data" -R -X stream --checkpoint=fast \
    -h "$P" -p 6101 -U postgres >"$S/basebackup.log" 2>&1 || { cat "$S/basebackup.log"; exit 1; }
echo 6102 >"$S/port"
cat >>"$S/data/postgresql.conf" <<CONF
port = 6102
unix_socket_directories = '$S'
cluster_name = 'dp_standby'
dataplatform.enabled = on
dataplatform.audit_primary_conninfo = 'host=$P port=6101 dbname=dp user=shipper'
CONF
tc_start "$S"
check "the standby is in recovery" "$(q "$S" dp "SELECT pg_is_in_recovery()")" t

if wait_for 20 "$S" dp "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = 'dp'"; then
    ok "the standby's worker runs (to ship reads)"
else
    notok "no worker on the standby"
fi
# reads on the standby by a consumer
for i in 1 2 3; do
    PGHOST=$S PGPORT=6102 PGUSER=bi "$TC_BINDIR/psql" -X -q -At -d dp \
        -c "SELECT count(*) FROM dp_consumer.tenant" >/dev/null
done
if wait_for 20 "$P" dp "SELECT EXISTS (SELECT 1 FROM dataplatform.audit_log WHERE action = 'read' AND role_name = 'bi'
                          AND detail ->> 'standby' = 'dp_standby' AND object = 'tenant'
                          AND (detail ->> 'reads')::int = 3)"; then
    ok "reads on the standby are in the primary's audit_log, the standby named, every read counted"
else
    notok "the standby's reads did not reach the primary's audit_log"
    q "$P" dp "SELECT action, role_name, object, detail FROM dataplatform.audit_log ORDER BY id DESC LIMIT 3" || true
    tail -n 20 "$S/server.log"
fi
check "no read of the standby fell back to its server log" \
    "$(grep -c 'dataplatform audit: read of' "$S/server.log" || true)" 0
# a primary that refuses the shipper: the reads fall back to the standby's log, counted
q "$S" dp "ALTER SYSTEM SET dataplatform.audit_primary_conninfo = 'host=$P port=6101 dbname=dp user=bi'" >/dev/null
q "$S" dp "SELECT pg_reload_conf()" >/dev/null
sleep 1.5
PGHOST=$S PGPORT=6102 PGUSER=bi "$TC_BINDIR/psql" -X -q -At -d dp -c "SELECT count(*) FROM dp_consumer.tenant" >/dev/null
deadline=$((SECONDS + 20))
until grep -q 'could not ship 1 reads to the primary' "$S/server.log" || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
check "reads the primary refuses fall back to the standby's log, counted, each entry logged" \
    "$(grep -c 'could not ship 1 reads to the primary' "$S/server.log" || true):$(grep -c 'dataplatform audit: read of dp_consumer.tenant by role bi' "$S/server.log" || true)" 1:1
q "$S" dp "ALTER SYSTEM RESET dataplatform.audit_primary_conninfo" >/dev/null
q "$S" dp "SELECT pg_reload_conf()" >/dev/null
check "the standby's worker runs no job (the queued run is still queued)" \
    "$(q "$S" dp "SELECT string_agg(job_name || ':' || status, ',' ORDER BY run_id) FROM dataplatform.job_run")" \
    "tick:queued,old:running"
check "the standby's worker logged no error of its own" "$(grep -c 'dataplatform worker:' "$S/server.log" || true)" 0

# --- a reporting server, by logical replication --------------------------------
tc_init "$R" 6103
tc_start "$R"
tc_psql "$R" -d postgres -c "CREATE DATABASE reporting"
pub=$(q "$P" dp "SELECT dataplatform.replicate_consumer('dp_reporting')")
check "replicate_consumer publishes the published views" "$(q "$P" dp "SELECT '$pub'::jsonb -> 'views'")" '["tenant"]'
check "the publication leaves the PII column out" \
    "$(q "$P" dp "SELECT attnames::text FROM pg_publication_tables WHERE pubname = 'dp_reporting'")" "{id,ward}"
q "$P" dp "SELECT dataplatform.replication_subscriber_sql('dp_reporting')" >"$BASE/sub.sql"
tc_psql "$R" -d reporting -f "$BASE/sub.sql"
tc_psql "$R" -d reporting -c "CREATE SUBSCRIPTION dp_reporting CONNECTION 'host=$P port=6101 dbname=dp user=postgres' PUBLICATION dp_reporting"
if wait_for 20 "$R" reporting "SELECT string_agg(id || ':' || ward, ',' ORDER BY id) = '1:Dalston,2:Hackney' FROM dp_consumer.tenant"; then
    ok "the subscriber receives the published view (without its PII column)"
else
    notok "the subscriber did not receive the published view"
fi
# a publish: a new view
q "$P" dp "SELECT dataplatform.publish('wards', 'SELECT ward, count(*) AS tenants FROM tenant GROUP BY ward') ->> 'status'" >/dev/null
q "$P" dp "SELECT dataplatform.replication_subscriber_sql('dp_reporting')" >"$BASE/sub.sql"
tc_psql "$R" -d reporting -f "$BASE/sub.sql" -c "ALTER SUBSCRIPTION dp_reporting REFRESH PUBLICATION"
if wait_for 20 "$R" reporting "SELECT string_agg(ward || ':' || tenants, ',' ORDER BY ward) = 'Dalston:1,Hackney:1' FROM dp_consumer.wards"; then
    ok "the subscriber receives a publish"
else
    notok "the subscriber did not receive a publish"
fi
# a refresh
q "$P" dp "SELECT dataplatform.push('tenant', '[{\"id\": 3, \"name\": \"Cy\", \"ward\": \"Dalston\"}]')" >/dev/null
q "$P" dp "SELECT dataplatform.refresh('tenant') IS NOT NULL AND dataplatform.refresh('wards') IS NOT NULL" >/dev/null
if wait_for 20 "$R" reporting "SELECT (SELECT count(*) FROM dp_consumer.tenant) = 3
                                 AND (SELECT tenants FROM dp_consumer.wards WHERE ward = 'Dalston') = 2"; then
    ok "the subscriber receives a refresh"
else
    notok "the subscriber did not receive a refresh"
fi
# an unpublish
q "$P" dp "SELECT dataplatform.unpublish('wards')" >/dev/null
check "unpublish takes the view out of the publication" \
    "$(q "$P" dp "SELECT string_agg(tablename, ',') FROM pg_publication_tables WHERE pubname = 'dp_reporting'")" tenant
tc_psql "$R" -d reporting -c "ALTER SUBSCRIPTION dp_reporting REFRESH PUBLICATION"
check "the subscriber receives an unpublish (its subscription no longer has the table)" \
    "$(q "$R" reporting "SELECT string_agg(srrelid::regclass::text, ',') FROM pg_subscription_rel")" dp_consumer_data.tenant
tc_psql "$R" -d reporting -c "DROP SUBSCRIPTION dp_reporting"
q "$P" dp "SELECT dataplatform.publish('tenant', 'tenant', '{\"replace\": true}') ->> 'status'" >/dev/null
check "publish(..., replace) keeps the publication true" \
    "$(q "$P" dp "SELECT string_agg(tablename || attnames::text, ',') FROM pg_publication_tables WHERE pubname = 'dp_reporting'")" "tenant{id,ward}"
q "$P" dp "SELECT dataplatform.replicate_consumer('dp_pii', '{\"pii\": true}')" >/dev/null
check "with {\"pii\": true} the publication carries the PII column" \
    "$(q "$P" dp "SELECT attnames::text FROM pg_publication_tables WHERE pubname = 'dp_pii'")" "{id,name,ward}"
check "... and the subscriber's view shows it only to dataplatform_consumer_pii" \
    "$(q "$P" dp "SELECT dataplatform.replication_subscriber_sql('dp_pii') LIKE '%CREATE ROLE dataplatform_consumer_pii%pg_has_role(''dataplatform_consumer_pii'', ''MEMBER'') THEN d.name END AS name%'")" t

# --- promotion --------------------------------------------------------------------
tc_stop "$P"
tc_as_server "$TC_BINDIR/pg_ctl" -D "$S/data" -w promote >/dev/null
check "the standby is promoted" "$(q "$S" dp "SELECT pg_is_in_recovery()")" f
if wait_for 30 "$S" dp "SELECT string_agg(job_name || ':' || status, ',' ORDER BY run_id) = 'tick:succeeded,old:failed'
                         FROM dataplatform.job_run WHERE run_id <= 2"; then
    ok "after promotion the worker fails the run left running and runs the queued one"
else
    notok "after promotion: $(q "$S" dp "SELECT string_agg(job_name || ':' || status, ',' ORDER BY run_id) FROM dataplatform.job_run")"
fi
check "the stale run is marked interrupted" \
    "$(q "$S" dp "SELECT message LIKE 'interrupted%' FROM dataplatform.job_run WHERE job_name = 'old'")" t

[ $fails -eq 0 ] || { echo "replica tests: $fails failed"; exit 1; }
