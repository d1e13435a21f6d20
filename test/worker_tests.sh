#!/usr/bin/env bash
# test/worker_tests.sh — the background worker, tested from outside: the
# launcher notices CREATE/DROP EXTENSION, SIGHUP reloads the kill switch,
# a soak of many short runs (the worker's RSS growth is printed and must stay
# under 5 MB), and kill -9 of the worker mid-run followed by a postmaster
# restart (in a private cluster, so the shared one's log stays clean).
#
# Expects PG* to point at a running cluster that preloads the extension,
# with dataplatform.naptime = 1s.  Prints "ok - ..." / "not ok - ..." lines;
# exits non-zero on any failure.  Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_RUNS=${SOAK_RUNS:-2000}
# ok, notok, q against $DB; the private cluster's set-up (tc_init ...)
source test/throwaway_cluster.sh
DB=dp_worker_test

# wait_for <seconds> <sql returning t>: poll every 0.1 s
wait_for() {
    local deadline=$((SECONDS + $1))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(psql -X -q -At -d "${3:-$DB}" -c "$2" 2>/dev/null || true)" = "t" ] && return 0
        sleep 0.1
    done
    return 1
}

worker_pid() {
    psql -X -q -At -d "${1:-$DB}" -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()"
}

export PGOPTIONS=--client-min-messages=warning
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"

# --- the worker follows CREATE and DROP EXTENSION --------------------------
q "CREATE EXTENSION dataplatform"
if wait_for 20 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()"; then
    ok "CREATE EXTENSION starts a worker for the database"
else
    notok "no worker after CREATE EXTENSION"
fi
q "DROP EXTENSION dataplatform"
if wait_for 20 "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()"; then
    ok "DROP EXTENSION stops the database's worker"
else
    notok "the worker stayed after DROP EXTENSION"
fi
q "CREATE EXTENSION dataplatform"
if wait_for 20 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()"; then
    ok "CREATE EXTENSION again starts it again"
else
    notok "no worker after the second CREATE EXTENSION"
fi

# --- SIGHUP: the kill switch -------------------------------------------------
q "CREATE TABLE public.ticks (at timestamptz DEFAULT clock_timestamp())"
q "SELECT dataplatform.schedule('tick', '@yearly', 'INSERT INTO public.ticks DEFAULT VALUES')" >/dev/null
psql -X -q -d "$DB" -c "ALTER SYSTEM SET dataplatform.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
run=$(q "SELECT dataplatform.run_now('tick')")
sleep 2
st=$(q "SELECT status FROM dataplatform.job_run WHERE run_id = $run")
[ "$st" = "queued" ] && ok "dataplatform.enabled = off (SIGHUP): runs stay queued" \
                     || notok "with dataplatform.enabled = off the run is $st"
psql -X -q -d "$DB" -c "ALTER SYSTEM RESET dataplatform.enabled" -c "SELECT pg_reload_conf()" >/dev/null
st=$(q "SELECT dataplatform.wait_for_run($run, '20 seconds')")
[ "$st" = "succeeded" ] && ok "back on after SIGHUP: the queued run ran" \
                        || notok "after re-enabling the run is $st"

# --- freshness: the worker marks a dataset late by itself (issue 15) ----------
q "SELECT dataplatform.define_product('fresh')" >/dev/null
q "SELECT dataplatform.define_dataset('{\"dataset\": \"fresh-feed\", \"product\": \"fresh\", \"key\": [\"id\"],
   \"fresh_within\": \"4 seconds\", \"fields\": [{\"name\": \"id\", \"datatype\": \"string\"}]}')" >/dev/null
q "SELECT dataplatform.push('fresh-feed', '[{\"id\": \"a\"}]')" >/dev/null
if wait_for 20 "SELECT late FROM dataplatform.status WHERE dataset = 'fresh-feed'" \
   && [ "$(q "SELECT count(*) FROM dataplatform.late WHERE dataset = 'fresh-feed'")" = 1 ]; then
    ok "the worker marks a dataset late when no batch came within fresh_within"
else
    notok "the worker did not mark dataset fresh-feed late"
fi
q "SELECT dataplatform.push('fresh-feed', '[{\"id\": \"b\"}]')" >/dev/null
if wait_for 20 "SELECT NOT late FROM dataplatform.status WHERE dataset = 'fresh-feed'"; then
    ok "a new batch clears the late mark"
else
    notok "the late mark of fresh-feed stayed after a batch"
fi

# --- pruning: job_run, collection_log and refresh_log age alike -------------
# rows older than dataplatform.history_days (30) go, newer ones stay; the
# worker prunes on its first tick and then once a minute: a new worker now
q "INSERT INTO dataplatform.job_run (job_id, job_name, trigger, status, scheduled_for, finished_at)
   VALUES (0, 'old', 'manual', 'succeeded', now() - interval '40 days', now() - interval '40 days'),
          (0, 'new', 'manual', 'succeeded', now() - interval '20 days', now() - interval '20 days');
   INSERT INTO dataplatform.collection_log (endpoint, started_at, outcome)
   VALUES ('old', now() - interval '40 days', 'failed'), ('new', now() - interval '20 days', 'failed');
   INSERT INTO dataplatform.refresh_log (view, at, mode, status, refreshed_by)
   VALUES ('old', now() - interval '40 days', 'none', 'failed', current_user),
          ('new', now() - interval '20 days', 'none', 'failed', current_user)" >/dev/null
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()" >/dev/null
if wait_for 30 "SELECT NOT EXISTS (SELECT 1 FROM dataplatform.job_run WHERE job_name = 'old')
                   AND NOT EXISTS (SELECT 1 FROM dataplatform.collection_log WHERE endpoint = 'old')
                   AND NOT EXISTS (SELECT 1 FROM dataplatform.refresh_log WHERE view = 'old')
                   AND EXISTS (SELECT 1 FROM dataplatform.job_run WHERE job_name = 'new')
                   AND EXISTS (SELECT 1 FROM dataplatform.collection_log WHERE endpoint = 'new')
                   AND EXISTS (SELECT 1 FROM dataplatform.refresh_log WHERE view = 'new')"; then
    ok "job_run, collection_log and refresh_log are pruned after dataplatform.history_days"
else
    notok "old rows of job_run, collection_log or refresh_log were not pruned (or new ones were)"
fi
q "DELETE FROM dataplatform.job_run WHERE job_name = 'new'; DELETE FROM dataplatform.collection_log WHERE endpoint = 'new';
   DELETE FROM dataplatform.refresh_log WHERE view = 'new'" >/dev/null
wait_for 20 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = current_database()" || true

# --- soak: many short runs, the worker's memory stays flat -------------------
pid=$(worker_pid)
# RssAnon: the worker's private memory (VmRSS also counts the shared
# buffers it touches, which grow with the tables, not with leaks)
rss() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
q "SELECT dataplatform.alter_job('tick', timeout => '10 seconds')" >/dev/null
q "SELECT count(dataplatform.run_now('tick')) FROM generate_series(1, 200)" >/dev/null
wait_for 120 "SELECT count(*) = 0 FROM dataplatform.job_run WHERE status IN ('queued', 'running')" || true
rss0=$(rss "$pid" RssAnon); vm0=$(rss "$pid" VmRSS)
start=$(date +%s.%N)
q "SELECT count(dataplatform.run_now('tick')) FROM generate_series(1, $SOAK_RUNS)" >/dev/null
if wait_for 600 "SELECT count(*) = 0 FROM dataplatform.job_run WHERE status IN ('queued', 'running')"; then
    end=$(date +%s.%N)
    rss1=$(rss "$pid" RssAnon); vm1=$(rss "$pid" VmRSS)
    pid1=$(worker_pid)
    done_ok=$(q "SELECT count(*) FROM dataplatform.job_run WHERE job_name = 'tick' AND status = 'succeeded'")
    growth=$((rss1 - rss0))
    echo "# soak: $SOAK_RUNS runs in $(awk "BEGIN {printf \"%.1f\", $end - $start}") s; worker private RSS (RssAnon) ${rss0} kB -> ${rss1} kB (growth ${growth} kB), VmRSS ${vm0} kB -> ${vm1} kB; $done_ok runs succeeded"
    if [ "$pid1" != "$pid" ]; then
        notok "the worker restarted during the soak ($pid -> $pid1)"
    elif [ "$growth" -lt 5120 ]; then
        ok "soak of $SOAK_RUNS runs: worker private RSS grew by $growth kB (< 5 MB)"
    else
        notok "soak of $SOAK_RUNS runs: worker RSS grew by $growth kB"
    fi
else
    notok "the soak's runs did not finish in 600 s"
fi
# dispatch latency: from queued (scheduled_for) to started
lat=$(q "SELECT round(avg(extract(epoch FROM started_at - scheduled_for)) * 1000, 2) || ' ms avg, ' ||
              round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - scheduled_for)) * 1000)::numeric, 2) || ' ms median'
           FROM (SELECT * FROM dataplatform.job_run WHERE job_name = 'tick' AND trigger = 'manual'
                 ORDER BY run_id DESC LIMIT 20) r")
echo "# note: queued-to-started in the soak is dominated by the queue itself: $lat over the last 20"
single=()
for i in 1 2 3 4 5; do
    r=$(q "SELECT dataplatform.run_now('tick')")
    q "SELECT dataplatform.wait_for_run($r, '20 seconds')" >/dev/null
    single+=("$(q "SELECT round(extract(epoch FROM started_at - scheduled_for) * 1000, 2) FROM dataplatform.job_run WHERE run_id = $r")")
    sleep 0.2
done
echo "# dispatch latency of an idle worker (run_now commit -> run started), 5 runs: ${single[*]} ms"

psql -X -q -d postgres -c "DROP DATABASE $DB" && ok "DROP DATABASE with a running worker succeeds" \
                                           || notok "DROP DATABASE failed"

# --- kill -9 mid-run, in a private cluster -------------------------------------
# (synchronous_commit on: what committed before a kill -9 is there after the
# crash restart)
tc_own dp_crash 54339
CDIR=$DIR
cat >>"$CDIR/data/postgresql.conf" <<CONF
synchronous_commit = on
restart_after_crash = on
CONF
tc_start "$CDIR"
(
    export PGHOST=$CDIR PGPORT=54339 PGUSER=postgres DB=postgres
    DB=postgres
    q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
    q "CREATE EXTENSION dataplatform"
    q "CREATE TABLE public.done (n int)"
    q "SELECT dataplatform.schedule('long', '@yearly', 'SELECT pg_sleep(60); INSERT INTO public.done VALUES (1)')" >/dev/null
    run=$(q "SELECT dataplatform.run_now('long')")
    wait_for 30 "SELECT status = 'running' FROM dataplatform.job_run WHERE run_id = $run" postgres \
        || { echo "not ok - the long run never started"; exit 1; }
    pid=$(psql -X -q -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = 'postgres'")
    kill -9 "$pid"
    # the postmaster resets every backend, then the launcher restarts the worker
    wait_for 60 "SELECT status = 'failed' FROM dataplatform.job_run WHERE run_id = $run" postgres \
        || { echo "not ok - after kill -9 the run is not marked failed"; exit 1; }
    msg=$(q "SELECT message FROM dataplatform.job_run WHERE run_id = $run")
    echo "ok - kill -9 of the worker mid-run: the run is marked failed ($msg)"
    [ "$(q "SELECT count(*) FROM public.done")" = 0 ] && echo "ok - the killed run left nothing behind" \
        || { echo "not ok - the killed run committed"; exit 1; }
    q "SELECT dataplatform.alter_job('long', command => 'INSERT INTO public.done VALUES (2)')" >/dev/null
    st=$(q "SELECT dataplatform.wait_for_run(dataplatform.run_now('long'), '0.1 s')")
    run2=$(q "SELECT max(run_id) FROM dataplatform.job_run")
    wait_for 30 "SELECT status = 'succeeded' FROM dataplatform.job_run WHERE run_id = $run2" postgres \
        && echo "ok - the restarted worker runs jobs" || { echo "not ok - the restarted worker runs nothing"; exit 1; }
    grep -q "terminated by signal 9" "$CDIR/server.log" && echo "ok - the crash was the kill -9 (postmaster log)"

    # an asynchronous batch, the worker killed mid-batch: processed exactly once
    N=300000
    q "SELECT dataplatform.define_product('crash')" >/dev/null
    q "SELECT dataplatform.define_dataset('{\"dataset\": \"meter\", \"product\": \"crash\", \"key\": [\"id\"],
         \"fields\": [{\"name\": \"id\", \"datatype\": \"integer\"}, {\"name\": \"v\", \"datatype\": \"decimal\"}]}')" >/dev/null
    q "SELECT dataplatform.configure('meter', '{\"processing\": \"async\"}')" >/dev/null
    q "SELECT dataplatform.alter_job('dataplatform: process meter', active => false)" >/dev/null
    b=$(q "SELECT dataplatform.push_csv('meter', E'id,v\\n' || string_agg(i || ',' || i || '.5', E'\\n'))
             FROM generate_series(1, $N) i")
    # hold the worker mid-batch: it claims the batch, then waits for the
    # clean table, which a session holds (no race with how fast it loads)
    psql -X -q -c "BEGIN; LOCK TABLE dp_clean.meter IN EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT;" \
        >/dev/null 2>&1 &
    holder=$!
    wait_for 30 "SELECT count(*) > 0 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                   WHERE c.relname = 'meter' AND l.mode = 'ExclusiveLock' AND l.granted" postgres \
        || { echo "not ok - the clean table could not be held"; exit 1; }
    q "SELECT dataplatform.alter_job('dataplatform: process meter', active => true)" >/dev/null
    wait_for 30 "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'dataplatform worker'
                   AND datname = 'postgres' AND wait_event_type = 'Lock' AND query LIKE '%process_queued%'" postgres \
        || { echo "not ok - the queued batch was never picked up"; exit 1; }
    [ "$(q "SELECT status FROM dataplatform.batch WHERE id = $b")" = queued ] \
        || { echo "not ok - the batch finished before the kill"; exit 1; }
    pid=$(psql -X -q -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'dataplatform worker' AND datname = 'postgres'")
    kill -9 "$pid"
    wait "$holder" 2>/dev/null || true     # the crash restart ends the holder's session too
    wait_for 120 "SELECT status = 'done' FROM dataplatform.batch WHERE id = $b" postgres \
        || { echo "not ok - after kill -9 the queued batch is never processed"; exit 1; }
    got=$(q "SELECT (SELECT count(*) FROM dp_clean.meter) || ' ' || rows_loaded || ' ' ||
                    (SELECT count(*) FROM dataplatform.job_run WHERE job_name = 'dataplatform: process meter'
                       AND status = 'failed' AND message LIKE 'interrupted%')
               FROM dataplatform.batch WHERE id = $b")
    [ "$got" = "$N $N 1" ] \
        && echo "ok - kill -9 mid-batch: the interrupted run is marked failed, the batch processed exactly once ($N rows)" \
        || { echo "not ok - after kill -9 mid-batch: clean rows, rows_loaded, failed runs = $got"; exit 1; }
    # a postmaster restart: the worker comes back
    tc_as_server "$TC_BINDIR/pg_ctl" -D "$CDIR/data" -l "$CDIR/server.log" -m fast -w restart >/dev/null
    run3=$(q "SELECT dataplatform.run_now('long')")
    [ "$(q "SELECT dataplatform.wait_for_run($run3, '30 s')")" = succeeded ] \
        && echo "ok - after a postmaster restart the worker runs jobs" \
        || { echo "not ok - no worker after a postmaster restart"; exit 1; }
    if grep -E "terminated by signal (6|11)|TRAP|PANIC" "$CDIR/server.log"; then
        echo "not ok - a crash other than the kill -9"; exit 1
    fi
) | tee "$CDIR/out" || true
grep -q "^not ok" "$CDIR/out" && fails=$((fails + 1))

[ $fails -eq 0 ] || { echo "worker tests: $fails failed"; exit 1; }
