#!/usr/bin/env bash
# test/partition_crash_test.sh — a crash (pg_ctl -m immediate) while a push
# makes partitions, or while apply_retention drops them, loses nothing and
# duplicates nothing (issue 13, point 1).
#
# A cluster of its own (test/throwaway_cluster.sh, synchronous_commit on so
# that what committed before the crash is there after it); partitions of 10
# batch ids; 25 pushes.  Then:
#   1. a push that needs new partitions is held half-way (its raw partition
#      made, its issue partition waiting on a lock another session holds)
#      and the server is killed: after recovery the rows, their checksum and
#      the partitions are what they were, and the same push then works;
#   2. apply_retention is held half-way (the issue partition dropped, the
#      raw partition waiting on a reader) and the server is killed: after
#      recovery nothing is gone; apply_retention then drops exactly the
#      expired partition and edge, and what is left is unchanged row for row;
#      a push works;
#   3. apply_events is held half-way (its raw partition made, its event log
#      partition waiting on a lock) and the server is killed: after recovery
#      the event log, the processed ids and the partitions are unchanged,
#      and the event then applies once and is a duplicate after;
#   4. a push that changes a row is held half-way (its history partition
#      waiting on a lock) and the server is killed: after recovery history,
#      the current rows and history's partitions are unchanged, and the
#      same push then closes the old version into the new partition.
# Prints "ok - ..." / "not ok - ..." lines; exits non-zero on a failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source test/throwaway_cluster.sh
tc_own dp-partcrash "${PARTITION_CRASH_PORT:-54351}" || exit 1
q() { tc_psql "$DIR" -d postgres -At "$@"; }
# the worker's pass would make the partitions ahead that this test needs
# a push to make: its kill switch leaves that to the writers
cat >>"$DIR/data/postgresql.conf" <<CONF
synchronous_commit = on
dataplatform.enabled = off
CONF
tc_start "$DIR" || exit 1
q >/dev/null <<'SQL' || exit 1
CREATE EXTENSION dataplatform;
UPDATE dataplatform.partition_rule SET width = 10 WHERE key_kind = 'batch';
SELECT 1 FROM dataplatform.define_product('crash', '{"retention_days": 30}');
SELECT dataplatform.define_dataset('{"dataset": "crash-item", "product": "crash", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "size", "datatype": "decimal"}]}');
SELECT count(dataplatform.push('crash-item', format('[{"id": %s, "size": "%s"}, {"id": %s, "size": "bad"}]',
	   i, i, i + 1000)::jsonb)) FROM generate_series(1, 25) i;
SQL

# rows, checksum and partitions of the raw layer and the issue log
state() {
    q <<'SQL'
SELECT 'raw ' || count(*) || ' ' || md5(coalesce(string_agg(batch_id || ':' || ordinal || ':' || data::text, ',' ORDER BY batch_id, ordinal), ''))
  FROM dp_raw.rows;
SELECT 'issues ' || count(*) || ' ' || md5(coalesce(string_agg(batch_id || ':' || row_number || ':' || issue_type, ',' ORDER BY batch_id, row_number, issue_type), ''))
  FROM dataplatform.issue;
SELECT 'batches ' || count(*) FROM dataplatform.batch;
SELECT 'partitions ' || string_agg(c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid), ', ' ORDER BY c.relname)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent IN ('dp_raw.chunk'::regclass, 'dataplatform.issue'::regclass);
SQL
}
# wait (up to 30 s) until a backend running $1 waits on a lock
wait_blocked() {
    for _ in $(seq 300); do
        [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%$1%' AND pid <> pg_backend_pid()")" -ge 1 ] && return 0
        sleep 0.1
    done
    return 1
}
crash_and_recover() {
    tc_as_server "$TC_BINDIR/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    PIDS=()
    tc_start "$DIR" || { notok "server restarts after the crash"; exit 1; }
}

# in the background: a session that runs $1 (taking a lock) and keeps its
# transaction open, then the call $2 that is to wait on it; true once a
# backend running $3 (a tag in $2) waits on a lock
hold_and_call() {
    { echo "BEGIN; $1 SELECT pg_sleep(60);"; } | tc_psql "$DIR" -d postgres >/dev/null 2>&1 &
    PIDS+=($!)
    sleep 0.5
    echo "$2" | tc_psql "$DIR" -d postgres >/dev/null 2>&1 &
    PIDS+=($!)
    wait_blocked "$3"
}
# ok when the state $2 before the crash equals $3 after recovery ($1: what)
same_after() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        notok "$1: state changed"; diff <(echo "$2") <(echo "$3")
    fi
}

# 1. a crash while a push makes its partitions
q -c "SELECT setval('dataplatform.batch_id_seq', 1000)" >/dev/null
before=$(state)
# a session holds the issue log's SHARE UPDATE EXCLUSIVE lock: the push
# makes its raw partition, then waits to make its issue partition
if hold_and_call "LOCK TABLE dataplatform.issue IN SHARE UPDATE EXCLUSIVE MODE;" \
        "SELECT dataplatform.push('crash-item', '[{\"id\": 5000, \"size\": \"bad\"}]') AS crash_push_1;" crash_push_1; then
    mid=$(q -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                 WHERE a.query LIKE '%crash_push_1%' AND l.relation = 'dataplatform.issue'::regclass AND NOT l.granted")
    [ "$mid" = 1 ] && ok "push held half-way through making its partitions" \
        || notok "push held half-way through making its partitions (waiting: $mid)"
else
    notok "push held half-way through making its partitions (it never waited)"
fi
crash_and_recover
same_after "crash while making partitions: same rows, checksums and partitions after recovery" "$before" "$(state)"
id=$(q -c "SELECT dataplatform.push('crash-item', '[{\"id\": 5000, \"size\": \"bad\"}]')")
n=$(q -c "SELECT count(*) FROM dp_raw.rows WHERE batch_id = $id")
ni=$(q -c "SELECT count(*) FROM dataplatform.issue WHERE batch_id = $id")
[ "$id" -gt 1000 ] && [ "$n" = 1 ] && [ "$ni" = 1 ] && ok "a push after recovery makes the partitions and lands" \
    || notok "a push after recovery makes the partitions and lands (batch $id: $n raw rows, $ni issues)"

# 2. a crash while apply_retention drops partitions: batches 1..15 expire
# (the partition [10, 20) keeps newer batches: its 10..15 are the edge)
q -c "UPDATE dataplatform.batch SET received_at = now() - interval '60 days' WHERE id <= 15" >/dev/null
before=$(state)
expect_raw=$(q -c "SELECT count(*) || ' ' || md5(coalesce(string_agg(batch_id || ':' || ordinal || ':' || data::text, ',' ORDER BY batch_id, ordinal), ''))
                   FROM dp_raw.rows WHERE batch_id > 15")
# a reader of the raw partition [0, 10): retention drops the issue
# partition first, then waits for it
if hold_and_call "SELECT count(*) FROM dp_raw.chunk_0;" \
        "SELECT dataplatform.apply_retention() AS crash_retention_1;" crash_retention_1; then
    gone=$(q -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                 WHERE a.query LIKE '%crash_retention_1%' AND l.locktype = 'relation' AND l.granted
                   AND l.mode = 'AccessExclusiveLock' AND l.relation <> 'dp_raw.chunk_0'::regclass")
    [ "$gone" -ge 1 ] && ok "apply_retention held half-way (a partition already dropped)" \
        || notok "apply_retention held half-way (a partition already dropped)"
else
    notok "apply_retention held half-way (it never waited)"
fi
crash_and_recover
same_after "crash during retention: same rows, checksums and partitions after recovery" "$before" "$(state)"
report=$(q -c "SELECT jsonb_path_query_array(dataplatform.apply_retention(), '\$.partitions[*].partition')")
# (and the change feed's partitions: no view reads any of its batches)
[ "$report" = '["dataplatform.clean_change_0", "dataplatform.clean_change_10", "dataplatform.clean_change_1030", "dataplatform.clean_change_20", "dataplatform.issue_0", "dp_raw.chunk_0"]' ] && ok "apply_retention then drops the expired partitions" \
    || notok "apply_retention then drops the expired partitions ($report)"
left=$(q -c "SELECT count(*) FROM dp_raw.rows WHERE batch_id <= 15")
got_raw=$(q -c "SELECT count(*) || ' ' || md5(coalesce(string_agg(batch_id || ':' || ordinal || ':' || data::text, ',' ORDER BY batch_id, ordinal), ''))
                FROM dp_raw.rows WHERE batch_id > 15")
[ "$left" = 0 ] && [ "$got_raw" = "$expect_raw" ] \
    && ok "retention removed the expired rows (partition and edge) and nothing else" \
    || notok "retention removed the expired rows and nothing else ($left expired left; $got_raw vs $expect_raw)"
gaps=$(q -c "SELECT count(*) FROM dataplatform.batch b WHERE b.id > 15 AND b.raw_purged_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM dp_raw.rows r WHERE r.batch_id = b.id)")
[ "$gaps" = 0 ] && ok "every kept batch has its raw rows" || notok "every kept batch has its raw rows ($gaps without)"
id=$(q -c "SELECT dataplatform.push('crash-item', '[{\"id\": 6000, \"size\": \"6\"}]')")
n=$(q -c "SELECT count(*) FROM dp_raw.rows WHERE batch_id = $id")
[ "$n" = 1 ] && ok "a push after retention lands" || notok "a push after retention lands ($n rows)"

# 3. a crash while apply_events makes its partition of the event log: its
# raw partition made, its event log partition waiting on a lock
q -c "SELECT setval('dataplatform.batch_id_seq', 2000)" >/dev/null
ev_state() {
    q <<'SQL'
SELECT 'events ' || count(*) || ' ' || md5(coalesce(string_agg(batch_id || ':' || ordinal || ':' || coalesce(event_id, '') || ':' || outcome, ',' ORDER BY batch_id, ordinal), ''))
  FROM dataplatform.event;
SELECT 'processed ' || count(*) || ' ' || md5(coalesce(string_agg(dataset || ':' || event_id, ',' ORDER BY dataset, event_id), ''))
  FROM dataplatform.event_processed;
SELECT 'partitions ' || coalesce(string_agg(c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid), ', ' ORDER BY c.relname), '')
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'dataplatform.event'::regclass;
SQL
}
ev='[{"id": "crash-e1", "eventType": "ItemCreatedEvent", "dateTime": "2026-01-01T00:00:00Z", "entityId": "7001", "eventData": {"newData": {"size": 1}}}]'
before=$(ev_state)
hold_and_call "LOCK TABLE dataplatform.event IN SHARE UPDATE EXCLUSIVE MODE;" \
        "SELECT outcome AS crash_events_1 FROM dataplatform.apply_events('crash-item', '$ev');" crash_events_1 && ok "apply_events held half-way through making its event log partition" \
    || notok "apply_events held half-way through making its event log partition (it never waited)"
crash_and_recover
same_after "crash while making an event log partition: same events, processed ids and partitions after recovery" \
    "$before" "$(ev_state)"
first=$(q -c "SELECT string_agg(outcome, ',') FROM dataplatform.apply_events('crash-item', '$ev')")
again=$(q -c "SELECT string_agg(outcome, ',') FROM dataplatform.apply_events('crash-item', '$ev')")
n=$(q -c "SELECT count(*) FROM dataplatform.event_processed WHERE event_id = 'crash-e1'")
[ "$first" = inserted ] && [ "$again" = duplicate ] && [ "$n" = 1 ] \
    && ok "after recovery the event applies once, then is a duplicate" \
    || notok "after recovery the event applies once, then is a duplicate ($first, $again, $n processed)"

# 4. a crash while a push makes its partition of the dataset's history: a
# changed row's old version goes to the partition of the push's batch,
# which waits on a lock
q -c "SELECT setval('dataplatform.batch_id_seq', 3000)" >/dev/null
hist_state() {
    q <<'SQL'
SELECT 'history ' || count(*) || ' ' || md5(coalesce(string_agg(id || ':' || coalesce(size::text, '') || ':' || _closed_by_batch, ',' ORDER BY _history_id), ''))
  FROM dp_clean.crash_item_history;
SELECT 'current ' || count(*) || ' ' || md5(coalesce(string_agg(id || ':' || coalesce(size::text, ''), ',' ORDER BY id), ''))
  FROM dp_clean.crash_item;
SELECT 'partitions ' || coalesce(string_agg(c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid), ', ' ORDER BY c.relname), '')
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'dp_clean.crash_item_history'::regclass;
SQL
}
before=$(hist_state)
hold_and_call "LOCK TABLE dp_clean.crash_item_history IN SHARE UPDATE EXCLUSIVE MODE;" \
        "SELECT dataplatform.push('crash-item', '[{\"id\": 1, \"size\": \"99\"}]') AS crash_history_1;" crash_history_1 && ok "push held half-way through making its history partition" \
    || notok "push held half-way through making its history partition (it never waited)"
crash_and_recover
same_after "crash while making a history partition: same history, current rows and partitions after recovery" \
    "$before" "$(hist_state)"
id=$(q -c "SELECT dataplatform.push('crash-item', '[{\"id\": 1, \"size\": \"99\"}]')")
got=$(q -c "SELECT count(*) || ' ' || min(h.size) || ' ' || bool_and(h.tableoid <> 'dp_clean.crash_item_history'::regclass)
              FROM dp_clean.crash_item_history h WHERE h._closed_by_batch = $id")
now=$(q -c "SELECT size FROM dp_clean.crash_item WHERE id = 1")
[ "$got" = "1 1 true" ] && [ "$now" = 99 ] && ok "a push after recovery closes the version into its new partition" \
    || notok "a push after recovery closes the version into its new partition (batch $id: $got; now $now)"

exit $((fails > 0))
