# test/throwaway_cluster.sh — the shell suites' shared pieces, sourced by
# test/cluster.sh (the harness's own cluster) and by the suites under test/
# (test/*.sh, test/upgrade/upgrade_test.sh).  A cluster is a directory: the
# data directory in DIR/data, the unix socket in DIR (no TCP), the log in
# DIR/server.log, set up the one way every suite uses (extension preloaded,
# naptime 1 s, loopback hosts allowed, fsync off).  As root the server runs
# as `postgres`; clients connect as `postgres`.  The suites run under the
# harness's install lock and take no lock themselves.
#
#   tc_init DIR PORT     initdb and configure (not started); append more
#                        settings to DIR/data/postgresql.conf before tc_start
#   tc_start DIR         start (waits until it accepts connections)
#   tc_stop DIR          stop (fast), if running
#   tc_env DIR           print PGHOST/PGPORT/PGUSER for eval
#   tc_psql DIR ARGS...  psql -X against the cluster (ON_ERROR_STOP on)
#   tc_own PREFIX PORT   a suite's own cluster: DIR a new /tmp/PREFIX.XXXXXX,
#                        initialised (tc_init); on exit the background jobs
#                        listed in PIDS are killed, the cluster stopped and
#                        DIR removed
#
# and a suite's report: ok / notok print "ok - ..." / "not ok - ..." lines
# (notok counts them in fails); for a suite against the harness's cluster
# (PG* set) and a database DB of its own, q SQL prints one result and
# check DESCRIPTION SQL passes when SQL returns t (a suite with other
# needs defines its own q and check after sourcing this file).
#
# The server binaries are those of TC_PG_CONFIG (test/cluster.sh exports
# it; default the system's PostgreSQL 15).

TC_PG_CONFIG=${TC_PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# empty while no server is installed (test/cluster.sh sources this before
# installing one, and sets it again before its cluster starts)
TC_BINDIR=$("$TC_PG_CONFIG" --bindir 2>/dev/null || true)

tc_as_server() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

tc_init() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    tc_as_server "$TC_BINDIR/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    echo "$port" >"$dir/port"
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
shared_preload_libraries = 'dataplatform'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
max_worker_processes = 16
timezone = 'UTC'
log_min_messages = warning
dataplatform.naptime = '1s'
dataplatform.allowed_hosts = '127.0.0.1'
CONF
}

tc_start() {
    local dir=$1
    # fd 9 is the harness's install lock (test/cluster.sh): no server keeps it
    tc_as_server "$TC_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null 9>&- \
        || { tail -n 30 "$dir/server.log" >&2; return 1; }
}

tc_stop() {
    local dir=$1
    [ -f "$dir/data/postmaster.pid" ] || return 0
    tc_as_server "$TC_BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

tc_env() {
    local dir=$1
    echo "PGHOST=$dir PGPORT=$(cat "$dir/port") PGUSER=postgres"
}

tc_psql() {
    local dir=$1
    shift
    PGHOST=$dir PGPORT=$(cat "$dir/port") PGUSER=postgres \
        PGOPTIONS="${PGOPTIONS:---client-min-messages=warning}" \
        "$TC_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

tc_own() {
    local prefix=$1 port=$2
    DIR=$(mktemp -d "/tmp/$prefix.XXXXXX")
    PIDS=()
    trap tc_own_cleanup EXIT
    tc_init "$DIR" "$port"
}

tc_own_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    tc_stop "$DIR"
    rm -rf "$DIR"
}

fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
check() {   # check <description> <sql returning t>
    local got
    got=$(psql -X -q -At -d "$DB" -c "$2" 2>&1 || true)
    if [ "$got" = "t" ]; then ok "$1"; else notok "$1 (got: $got)"; fi
}
