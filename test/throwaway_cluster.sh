# test/throwaway_cluster.sh — sourced by the tests that need clusters of
# their own beside the harness's (test/upgrade/upgrade_test.sh,
# test/package_test.sh).  A cluster is a directory: the data directory in
# DIR/data, the unix socket in DIR (no TCP), the log in DIR/server.log, set
# up like test/cluster.sh's (extension preloaded, naptime 1 s, loopback
# hosts allowed).  As root the server runs as `postgres`; clients connect as
# `postgres`.  These scripts run under the harness's machine-wide lock and
# take no lock themselves.
#
#   tc_init DIR PORT     initdb and configure (not started)
#   tc_start DIR         start (waits until it accepts connections)
#   tc_stop DIR          stop (fast), if running
#   tc_env DIR           print PGHOST/PGPORT/PGUSER for eval
#   tc_psql DIR ARGS...  psql -X against the cluster (ON_ERROR_STOP on)

TC_PG_CONFIG=${TC_PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
TC_BINDIR=$("$TC_PG_CONFIG" --bindir)

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
