#!/usr/bin/env bash
# test/vacuum_test.sh — autovacuum is never starved by a busy dataset (issue
# 17, point 2).  Writers of a dataset serialise on the dataset lock (an
# advisory lock, src/common/dataset_lock.h) and take only ROW EXCLUSIVE on
# the clean table, which does not conflict with VACUUM; 0.1's SHARE ROW
# EXCLUSIVE did, so under back-to-back pushes autovacuum logged "skipping
# vacuum ... lock not available" and never finished.
#
# A cluster of its own (test/throwaway_cluster.sh) with autovacuum visiting
# every second and logging every run; the clean table set to be vacuumed at
# any dead row.  Two producers push changed values for the same 200 keys
# back to back (each push its own transaction, so the dataset lock is nearly
# always held) until pg_stat_user_tables.last_autovacuum is set for the
# clean table, at most VACUUM_TEST_SECONDS (30).  Then: the autovacuum ran
# while the producers pushed, and the log has no "lock not available" for
# the table.  Prints "ok - ..." / "not ok - ..." lines; exits non-zero on a
# failure.  Takes ~10 s.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source test/throwaway_cluster.sh
LIMIT=${VACUUM_TEST_SECONDS:-30}
tc_own dp-vacuum "${VACUUM_TEST_PORT:-54341}" || exit 1
cat >>"$DIR/data/postgresql.conf" <<CONF
autovacuum_naptime = 1s
autovacuum_vacuum_cost_delay = 0
log_autovacuum_min_duration = 0
CONF
tc_start "$DIR" || exit 1
tc_psql "$DIR" -d postgres <<'SQL' >/dev/null || exit 1
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('vac');
SELECT dataplatform.define_dataset('{"dataset": "vac-busy", "product": "vac", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "n", "datatype": "integer"}]}');
SELECT dataplatform.push('vac-busy', (SELECT jsonb_agg(jsonb_build_object('id', i, 'n', 0)) FROM generate_series(1, 200) i));
ALTER TABLE dp_clean.vac_busy SET (autovacuum_vacuum_threshold = 50, autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 50, autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_analyze_threshold = 1000000000);
SQL

# one producer: 2,000 pushes, each its own transaction, each changing every value
producer() {
    local who=$1
    for round in $(seq 1 2000); do
        echo "SELECT dataplatform.push('vac-busy', (SELECT jsonb_agg(jsonb_build_object('id', i, 'n', $round * 10 + $who)) FROM generate_series(1, 200) i));"
    done | tc_psql "$DIR" -d postgres >/dev/null 2>"$DIR/producer$who.err"
}
producer 1 & PIDS+=($!)
producer 2 & PIDS+=($!)

vacuumed=""
for _ in $(seq 1 $((LIMIT * 2))); do
    sleep 0.5
    vacuumed=$(tc_psql "$DIR" -d postgres -At -c \
        "SELECT last_autovacuum IS NOT NULL FROM pg_stat_user_tables WHERE schemaname = 'dp_clean' AND relname = 'vac_busy'")
    [ "$vacuumed" = t ] && break
done
# still pushing when autovacuum finished: the producers had not run out
running=0
for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
batches=$(tc_psql "$DIR" -d postgres -At -c "SELECT count(*) FROM dataplatform.batch WHERE dataset = 'vac-busy'")
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
PIDS=()

if [ "$vacuumed" = t ] && [ "$running" -eq 2 ]; then
    ok "autovacuum completed on dp_clean.vac_busy while two producers pushed back to back ($batches batches)"
else
    notok "autovacuum of dp_clean.vac_busy did not complete under back-to-back pushes within ${LIMIT}s (last_autovacuum set: ${vacuumed:-?}, producers still running: $running, batches: $batches)"
fi
if grep -E "skipping vacuum of \"vac_busy\"|lock not available" "$DIR/server.log" >/dev/null; then
    notok "the server log reports autovacuum skipping the busy table:"
    grep -E "skipping vacuum|lock not available" "$DIR/server.log" | head -5
else
    ok "no \"lock not available\" in the server log"
fi
if grep -q "automatic vacuum of table \"postgres.dp_clean.vac_busy\"" "$DIR/server.log"; then
    ok "the server log records the automatic vacuum of the busy table"
else
    notok "no automatic vacuum of dp_clean.vac_busy in the server log"
fi
if grep -v "^$" "$DIR"/producer*.err | grep -q .; then
    notok "a producer failed:"; cat "$DIR"/producer*.err | head -5
else
    ok "every push succeeded"
fi
exit $((fails > 0))
