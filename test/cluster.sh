#!/usr/bin/env bash
# test/cluster.sh — the throwaway-cluster harness behind `make demo` and
# `make test`.
#
#   test/cluster.sh deps    install missing Debian packages (when root)
#   test/cluster.sh demo    deps, build, install, cluster, samples/demo.sql
#   test/cluster.sh test    deps, build, unit tests and fuzzing, install,
#                           cluster, pg_regress + isolation, pgTAP; then the
#                           upgrade from released versions and the Debian
#                           package, each in clusters of their own
#   test/cluster.sh bench   deps, build, install, cluster (shared_buffers 2GB), test/bench/*.sh
#                           (BENCH="growth push" runs only those)
#   test/cluster.sh shell   deps, build, install, cluster, then an interactive psql
#
# The cluster lives in a fresh temp dir, listens only on a unix socket there,
# preloads the extension, and is stopped and removed on exit.  PostgreSQL
# refuses to run as root, so as root the server runs as `postgres`; clients
# always connect as the cluster's superuser `postgres`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PGVER=15
PG_CONFIG=/usr/lib/postgresql/$PGVER/bin/pg_config
# DP_PGROOT=/some/dir: run against a private copy of the server's tree
# (bin, lib, share, include under DP_PGROOT/usr, made on first use), so that
# several checkouts can test at once without installing into /usr; the
# install lock is then the copy's own and the Debian package test, which
# installs into /usr with dpkg, is skipped.
# The copy is made after deps() has installed the server's packages (on a
# fresh machine they are not there yet), and again if an earlier copy
# lacks the server headers.
if [ -n "${DP_PGROOT:-}" ]; then PG_CONFIG=$DP_PGROOT/usr/lib/postgresql/$PGVER/bin/pg_config; fi
private_root() {
    [ -n "${DP_PGROOT:-}" ] || return 0
    [ -f "$DP_PGROOT/usr/include/postgresql/$PGVER/server/postgres.h" ] && [ -x "$PG_CONFIG" ] && return 0
    rm -rf "$DP_PGROOT/usr"
    mkdir -p "$DP_PGROOT/usr/lib/postgresql" "$DP_PGROOT/usr/share/postgresql" "$DP_PGROOT/usr/include"
    cp -a /usr/lib/postgresql/$PGVER "$DP_PGROOT/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/$PGVER "$DP_PGROOT/usr/share/postgresql/"
    cp -a /usr/include/postgresql "$DP_PGROOT/usr/include/"
}
export PG_CONFIG TC_PG_CONFIG=$PG_CONFIG
# the clusters' set-up (tc_init, tc_start, tc_stop), shared with the suites
source test/throwaway_cluster.sh
PACKAGES=(make gcc clang libclang-rt-14-dev valgrind
          postgresql-$PGVER postgresql-server-dev-$PGVER postgresql-$PGVER-pgtap
          libtap-parser-sourcehandler-pgtap-perl
          libjansson-dev libcurl4-openssl-dev python3
          postgresql-$PGVER-postgis-3 libyaml-dev libpq-dev python3-jsonschema python3-yaml
          debhelper dpkg-dev build-essential postgresql-server-dev-all)

say() { printf '\n== %s\n' "$*"; }

deps() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then private_root; return 0; fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]}" >&2
        echo "install them (as root: apt-get install ${missing[*]}) and run again" >&2
        exit 1
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    private_root
}

build_install() {
    take_install_lock
    say "build and install"
    make -s PG_CONFIG="$PG_CONFIG"
    if [ -w "$($PG_CONFIG --pkglibdir)" ]; then
        make -s PG_CONFIG="$PG_CONFIG" install
    else
        sudo make -s PG_CONFIG="$PG_CONFIG" install
    fi
}

PGDIR=""
HTTP_PID=""
# the loopback HTTP server the collection tests fetch from (test/http_server.py)
start_http() {
    mkdir -p "$PGDIR/www"
    cp samples/data/* "$PGDIR/www/"
    export DP_HTTP_DIR="$PGDIR/www" DP_HTTP_PORT_FILE="$PGDIR/http.port" DP_HTTP_LOG="$PGDIR/http.log"
    export DP_HTTP_TOKEN="tok-$RANDOM$RANDOM$RANDOM"
    python3 test/http_server.py --dir "$DP_HTTP_DIR" --port-file "$DP_HTTP_PORT_FILE" \
        --log "$DP_HTTP_LOG" --token "$DP_HTTP_TOKEN" >"$PGDIR/http.out" 2>&1 9>&- &
    HTTP_PID=$!
    for _ in $(seq 100); do [ -s "$DP_HTTP_PORT_FILE" ] && return 0; sleep 0.1; done
    echo "the test HTTP server did not start:" >&2; cat "$PGDIR/http.out" >&2; exit 1
}
stop_http() {
    [ -n "$HTTP_PID" ] || return 0
    kill "$HTTP_PID" 2>/dev/null || true
    wait "$HTTP_PID" 2>/dev/null || true
    HTTP_PID=""
}
stop_cluster() {
    stop_http
    [ -n "$PGDIR" ] || return 0
    tc_stop "$PGDIR"
    if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
        echo "cluster kept in $PGDIR"
    else
        rm -rf "$PGDIR"
    fi
}

start_cluster() {
    TC_BINDIR=$($PG_CONFIG --bindir)
    PGDIR=$(mktemp -d /tmp/dataplatform.XXXXXX)
    trap stop_cluster EXIT
    say "starting a throwaway cluster in $PGDIR"
    tc_init "$PGDIR" 54329 || exit 1
    if [ -n "${EXTRA_CONF:-}" ]; then
        echo "$EXTRA_CONF" >>"$PGDIR/data/postgresql.conf"
    fi
    tc_start "$PGDIR" || exit 1
    export PGHOST="$PGDIR" PGPORT=54329 PGUSER=postgres PGDATABASE=postgres
}

server_alive() {
    # a crashed backend makes the postmaster log "terminated by signal"
    if grep -E "terminated by signal|was terminated" "$PGDIR/server.log" >/dev/null 2>&1; then
        echo "the server crashed during the run:" >&2
        grep -E -B2 -A5 "terminated by signal|was terminated" "$PGDIR/server.log" >&2
        return 1
    fi
}

run_regress() {
    say "pg_regress and isolation specs"
    if ! make -s PG_CONFIG="$PG_CONFIG" installcheck; then
        for f in regression.diffs output_iso/regression.diffs; do
            [ -f "$f" ] && cat "$f"
        done
        return 1
    fi
}

run_pgtap() {
    say "pgTAP"
    PGOPTIONS=--client-min-messages=warning psql -q -X -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS dp_tap" -c "CREATE DATABASE dp_tap" >/dev/null
    psql -q -X -v ON_ERROR_STOP=1 -d dp_tap -c "CREATE EXTENSION pgtap" >/dev/null
    pg_prove -d dp_tap --ext .sql -r test/pgtap
}

run_unit() {
    say "C unit tests"
    make -s -C test/unit check
    make -s -f test/unit/csv.mk check
    make -s -f test/unit/cron.mk check PG_CONFIG="$PG_CONFIG"
    make -s -f test/unit/allowlist.mk check PG_CONFIG="$PG_CONFIG"
    make -s -f test/unit/geometry.mk check PG_CONFIG="$PG_CONFIG"
    make -s -f test/unit/yaml.mk check PG_CONFIG="$PG_CONFIG"
    say "fuzzing (${FUZZ_SECONDS:-20}s per target)"
    make -s -C test/unit fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
    make -s -f test/unit/csv.mk fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
    make -s -f test/unit/geometry.mk fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
    make -s -f test/unit/allowlist.mk fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
    make -s -f test/unit/yaml.mk fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
}

cmd=${1:-test}
# One run at a time on this machine: every run installs the extension into
# the server's shared directories, so two runs (two checkouts, a package
# test, an upgrade test) must not interleave from the install on.  The fd
# is closed for the servers started meanwhile, so none keeps the lock.
take_install_lock() {
    exec 9>"${DP_PGROOT:-/tmp}/dataplatform-harness.lock"
    flock 9
}
case "$cmd" in
    deps)
        deps ;;
    demo)
        deps; build_install; start_cluster
        say "demo (samples/demo.sql)"
        psql -X -v ON_ERROR_STOP=1 -q -d postgres -c "CREATE DATABASE dp_demo" >/dev/null
        (cd samples && psql -X -v ON_ERROR_STOP=1 -q -d dp_demo -f demo.sql)
        say "demo: collection from an HTTP endpoint on loopback (samples/collect_demo.sh)"
        bash samples/collect_demo.sh
        server_alive ;;
    test)
        deps
        run_unit
        build_install
        say "layout (test/layout/check.sh)"
        rc=0
        bash test/layout/check.sh || rc=1
        start_cluster
        run_regress || rc=1
        say "dump and restore"
        bash test/dump_restore.sh || { echo "not ok - dump and restore"; rc=1; }
        server_alive || rc=1
        say "background worker (test/worker_tests.sh)"
        bash test/worker_tests.sh || rc=1
        server_alive || rc=1
        say "read replicas and a reporting server (test/replica_tests.sh)"
        bash test/replica_tests.sh || rc=1
        say "autovacuum under back-to-back pushes (test/vacuum_test.sh)"
        bash test/vacuum_test.sh || rc=1
        say "a crash while making or dropping partitions (test/partition_crash_test.sh)"
        bash test/partition_crash_test.sh || rc=1
        say "collection from HTTP endpoints (test/collect_tests.sh)"
        start_http
        DP_SERVER_LOG="$PGDIR/server.log" bash test/collect_tests.sh || rc=1
        stop_http
        server_alive || rc=1
        say "OpenLineage events to a loopback receiver (test/openlineage_tests.sh)"
        bash test/openlineage_tests.sh || rc=1
        server_alive || rc=1
        say "docs examples (test/docs_tests.sh)"
        bash test/docs_tests.sh || rc=1
        server_alive || rc=1
        say "upgrade from released versions (test/upgrade/upgrade_test.sh)"
        bash test/upgrade/upgrade_test.sh || rc=1
        say "Debian package (test/package_test.sh)"
        if [ -n "${DP_PGROOT:-}" ]; then
            echo "skipped: DP_PGROOT is set and the package installs into /usr"
        else
            bash test/package_test.sh || rc=1
        fi
        # last, so that a passing run ends with pg_prove's summary line
        run_pgtap || rc=1
        server_alive || rc=1
        [ $rc -eq 0 ] || echo "make test: FAILED (see the failures above)"
        exit $rc ;;
    bench)
        # sized as a production server would be (the default 128 MB makes
        # the benchmarks measure cache misses at a few million rows):
        # BENCH_SHARED_BUFFERS changes it; BENCH="growth push" runs only those
        EXTRA_CONF="shared_buffers = ${BENCH_SHARED_BUFFERS:-2GB}"
        deps; build_install; start_cluster; start_http
        export BENCH_SUMMARY="$PGDIR/summary"
        : > "$BENCH_SUMMARY"
        for b in test/bench/*.sh; do
            [ -f "$b" ] || continue
            if [ -n "${BENCH:-}" ] && ! [[ " $BENCH " == *" $(basename "$b" .sh) "* ]]; then continue; fi
            say "$b"; bash "$b"
        done
        say "summary: each path against plain PostgreSQL doing the same work in the same run"
        printf '%-78s %10s  %s\n' "path" "ratio" "target"
        while IFS='|' read -r path ratio target; do
            printf '%-78s %10s  %s\n' "$path" "$ratio" "$target"
        done < "$BENCH_SUMMARY" ;;
    shell)
        deps; build_install; KEEP_CLUSTER=${KEEP_CLUSTER:-0} start_cluster
        psql -X ;;
    *)
        echo "usage: $0 deps|demo|test|bench|shell" >&2; exit 2 ;;
esac
