#!/usr/bin/env bash
# test/upgrade/upgrade_test.sh — the upgrade path from each released version
# (test/upgrade/FROM_VERSIONS: version and commit) to this tree's version
# (EXTVERSION in the Makefile).  Run by `make test` (test/cluster.sh) after
# the tree is built and installed, under the harness's machine-wide lock: it
# installs other builds into the server's shared directories and puts this
# tree's build back before it returns.
#
# For each released version V:
#   1. build V from its commit (git archive into a temp dir) and install it;
#   2. cluster A (its own, V's library preloaded): database up_data gets V's
#      samples/demo.sql and test/upgrade/load_extra.sql (products, datasets,
#      pushes, snapshot and events, published views, grants, a job and its
#      run, a secret and an endpoint, audit rows); up_empty gets only
#      CREATE EXTENSION.  Its jobs are made inactive (nothing runs unless
#      asked), its tables are copied aside (test/upgrade/snapshot.sql) and
#      it is dumped (pg_dump -Fc);
#   3. this tree is installed and A restarted: its worker must wait for the
#      update (one LOG line per database, no error, nothing run), then
#      ALTER EXTENSION dataplatform UPDATE in both databases, and the worker
#      must resume;
#   4. cluster B (this tree only): database fresh gets CREATE EXTENSION;
#      the roles of A (pg_dumpall --roles-only) and the dump of V's up_data
#      are restored into database restored, then ALTER EXTENSION ... UPDATE;
#   5. the schema: up_empty and fresh give the same schema-only pg_dump
#      (--binary-upgrade, so that the extension's own objects are dumped, not
#      just CREATE EXTENSION), and up_empty, up_data and restored describe
#      the same objects as fresh (test/upgrade/describe.sql: definitions,
#      signatures, owners, ACLs, initial privileges, comments, config tables,
#      roles); the rows the extension's script seeds are those of fresh;
#   6. the data, in up_data and restored: every row of the snapshot is still
#      there (test/upgrade/check_data.sql), and the API works on it
#      (test/upgrade/check_functions.sql);
#   7. the pg_regress suite (sql/, expected/) passes in cluster A with each
#      CREATE EXTENSION dataplatform made at V and updated at once.
#
# The pg_dump comparison normalises only what differs between any two
# databases however they were made (see normalise_dump below): OIDs,
# relfilenodes, transaction ids and WAL positions in pg_dump's
# binary-upgrade calls, psql's per-dump \restrict key, the order of the
# GRANTs of one object (an ACL is a set), and how an updated table is
# stored (placeholders of columns an update dropped, the stored default of a
# column added to a table with rows).  Column order is compared: put a new
# column last in its CREATE TABLE too.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/test/upgrade
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
TC_PG_CONFIG=$PG_CONFIG
# shellcheck source=../throwaway_cluster.sh
. "$ROOT/test/throwaway_cluster.sh"
BINDIR=$("$PG_CONFIG" --bindir)
SHAREDIR=$("$PG_CONFIG" --sharedir)/extension
PG_REGRESS=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")/test/regress/pg_regress

TO=$(sed -n 's/^EXTVERSION *= *//p' "$ROOT/Makefile")
fail() { echo "not ok - $*" >&2; exit 1; }
say() { printf -- '-- %s\n' "$*"; }
t0=$SECONDS

# the version is written in three places; they must agree
control=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$ROOT/dataplatform.control")
[ "$control" = "$TO" ] || fail "dataplatform.control says default_version '$control', the Makefile EXTVERSION $TO"
if [ -f "$ROOT/debian/changelog" ]; then
    deb=$(sed -n '1s/^[^(]*(\([^)-]*\).*/\1/p' "$ROOT/debian/changelog")
    [ "$deb" = "$TO" ] || fail "debian/changelog is at $deb, the Makefile EXTVERSION $TO (add a changelog entry)"
fi

WORK=$(mktemp -d /tmp/dataplatform-upgrade.XXXXXX)
chmod 755 "$WORK"
A=$WORK/a
B=$WORK/b
installed_other=""
cleanup() {
    tc_stop "$A"
    tc_stop "$B"
    # leave the machine with this tree's build only
    if [ -n "$installed_other" ]; then
        install_tree "$ROOT" >/dev/null 2>&1 || echo "could not reinstall this tree's build" >&2
        for v in $installed_other; do
            [ "$v" = "$TO" ] || as_installer rm -f "$SHAREDIR/dataplatform--$v.sql"
        done
    fi
    if [ "${KEEP_UPGRADE:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

as_installer() {
    if [ -w "$SHAREDIR" ]; then "$@"; else sudo "$@"; fi
}
install_tree() {
    make -s -C "$1" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >/dev/null
    as_installer make -s -C "$1" PG_CONFIG="$PG_CONFIG" install >/dev/null
}

psql_a() { tc_psql "$A" "$@"; }
psql_b() { tc_psql "$B" "$@"; }

# wait (up to 30 s) until the server log of cluster $1 has $3 lines matching $2
wait_log() {
    local dir=$1 pattern=$2 n=$3
    for _ in $(seq 300); do
        [ "$(grep -c -E "$pattern" "$dir/server.log" || true)" -ge "$n" ] && return 0
        sleep 0.1
    done
    return 1
}

# pg_dump's text made comparable between two databases (see the header);
# the text of one run of GRANT/REVOKE statements of one ACL entry is sorted
normalise_dump() {
    python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
out, block, in_acl, skip = [], [], False, False
def flush():
    global block
    out.extend(sorted(block))
    block = []
for line in text.split('\n'):
    # how an updated table is stored, not what it is: columns an update
    # dropped (pg_dump recreates them to keep attnums) and the stored
    # default of a column an update added to a table with rows
    if line.startswith('-- For binary upgrade, recreate dropped column') or line == '-- set missing value.':
        skip = True
    if skip:
        skip = line != ''
        continue
    if 'pg.dropped.' in line:
        continue
    if line.startswith('-- Name: ') or line.startswith('-- Data for Name: '):
        flush()
        in_acl = '; Type: ACL;' in line
        out.append(line)
        continue
    # the random key of psql's \restrict (pg_dump 15.14 on), per dump
    if line.startswith('\\restrict ') or line.startswith('\\unrestrict '):
        continue
    # OIDs, relfilenodes, transaction ids and WAL positions that pg_upgrade
    # carries over (the extension's config tables: describe.sql compares them)
    line = re.sub(r"'\d+'::pg_catalog\.oid", "<oid>", line)
    line = re.sub(r"'\{[\d,]*\}'(::pg_catalog\.oid\[\])?", "<oids>", line)
    line = re.sub(r"'\{[\d/A-F,]*\}'::pg_catalog\.pg_lsn\[\]", "<lsns>", line)
    line = re.sub(r"(relfrozenxid|relminmxid) = '\d+'", r"\1 = <xid>", line)
    line = re.sub(r"WHERE oid = '\d+'", "WHERE oid = <oid>", line)
    line = re.sub(r',$', '', line)
    # one object's GRANTs and REVOKEs in a row: in name order
    if in_acl and (line.startswith('GRANT ') or line.startswith('REVOKE ')):
        block.append(line)
    else:
        flush()
        out.append(line)
flush()
# blank lines: one in a row (the skipped blocks leave theirs)
print(re.sub(r'\n{3,}', '\n\n', '\n'.join(out)))
PY
}

schema_dump() {   # schema_dump DIR DB OUT
    local dir=$1 db=$2 out=$3
    PGHOST=$dir PGPORT=$(cat "$dir/port") PGUSER=postgres \
        "$BINDIR/pg_dump" --schema-only --binary-upgrade --no-tablespaces -d "$db" -f "$out.raw"
    normalise_dump "$out.raw" >"$out"
}

compare() {   # compare WHAT EXPECTED ACTUAL
    if ! diff -u "$2" "$3" >"$3.diff"; then
        echo "not ok - $1 differ (- fresh install, + updated); the first 80 lines of the difference:" >&2
        head -n 80 "$3.diff" >&2
        return 1
    fi
}

# the rows the extension's script seeds into its tables, as in a fresh
# install: per member table its row count and rows, without the columns
# whose values are made at install time (timestamps; the random masking key)
SEEDED_SQL="
SELECT format('%s %s', c.oid::regclass, pg_temp.count_rows(c.oid::regclass)) FROM pg_class c
 WHERE c.relkind IN ('r', 'p')
   AND c.oid IN (SELECT objid FROM pg_depend WHERE deptype = 'e' AND classid = 'pg_class'::regclass
                    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'dataplatform'))
 ORDER BY 1"
SEEDED_FN="
CREATE FUNCTION pg_temp.count_rows(r regclass) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE cols text; res text;
BEGIN
  SELECT string_agg(format('%I', attname), ', ' ORDER BY attnum) INTO cols FROM pg_attribute
   WHERE attrelid = r AND attnum > 0 AND NOT attisdropped
     AND atttypid NOT IN ('timestamptz'::regtype, 'timestamp'::regtype)
     AND NOT (r = 'dp_consumer_data.mask_key'::regclass AND attname = 'key');
  EXECUTE format('SELECT count(*) || '' '' || coalesce(string_agg(t::text, '' '' ORDER BY t::text), '''') FROM (SELECT %s FROM %s) t',
                 coalesce(cols, ''), r) INTO res;
  RETURN res;
END \$\$;"

regress_upgraded() {   # the pg_regress suite, every CREATE EXTENSION made at $1 and updated
    local v=$1
    local dir=$WORK/regress-$v
    mkdir -p "$dir/sql" "$dir/expected"
    # suites read files of the test tree from the current directory
    # (test/contracts/, test/data/, \! test/catalogue/validate.py)
    ln -sfn "$ROOT/test" "$dir/test"
    chmod -R 755 "$dir"
    local create="CREATE EXTENSION dataplatform;"
    local upgraded="CREATE EXTENSION dataplatform VERSION '$v'; ALTER EXTENSION dataplatform UPDATE;"
    for f in "$ROOT"/sql/*.sql; do
        sed "s/^$create\$/$upgraded/" "$f" >"$dir/sql/$(basename "$f")"
    done
    for f in "$ROOT"/expected/*.out; do
        sed "s/^$create\$/$upgraded/" "$f" >"$dir/expected/$(basename "$f")"
    done
    grep -q -F "$upgraded" "$dir"/sql/01_extension.sql || fail "sql/01_extension.sql has no line '$create' to replace"
    local tests
    tests=$(cd "$ROOT/sql" && ls ./*.sql | sed 's|^\./||; s|\.sql$||' | sort)
    # shellcheck disable=SC2086
    if ! (cd "$dir" && PGHOST=$A PGPORT=$(cat "$A/port") PGUSER=postgres \
            "$PG_REGRESS" \
            --inputdir=. --outputdir=. --bindir="$BINDIR" --dbname=contrib_regression $tests >"$dir/out.txt" 2>&1); then
        cat "$dir/out.txt" >&2
        [ -f "$dir/regression.diffs" ] && head -n 200 "$dir/regression.diffs" >&2
        return 1
    fi
    grep -E "^(# )?All [0-9]+ tests passed|tests passed" "$dir/out.txt" || tail -n 3 "$dir/out.txt"
}

rc=0
mapfile -t releases < <(grep -v -E '^[[:space:]]*(#|$)' "$HERE/FROM_VERSIONS")
for release in "${releases[@]}"; do
    read -r FROM COMMIT <<<"$release"
    say "from $FROM (commit ${COMMIT:0:12}) to $TO"
    [ -f "$ROOT/src/sql/upgrade/dataplatform--$FROM--$TO.sql" ] \
        || fail "no upgrade script src/sql/upgrade/dataplatform--$FROM--$TO.sql"
    git -C "$ROOT" cat-file -e "$COMMIT^{commit}" 2>/dev/null \
        || fail "commit $COMMIT of version $FROM is not in this clone (a shallow clone? git fetch --unshallow)"

    # 1. build and install the released version
    t=$SECONDS
    src=$WORK/src-$FROM
    mkdir -p "$src"
    git -C "$ROOT" archive "$COMMIT" | tar -x -C "$src"
    installed_other="$installed_other $FROM"
    install_tree "$src"
    say "built and installed $FROM ($((SECONDS - t)) s)"

    # 2. a cluster at the released version, with data
    t=$SECONDS
    rm -rf "$A" "$B"
    tc_init "$A" 54330
    tc_start "$A"
    psql_a -d postgres -c "CREATE DATABASE up_data" -c "CREATE DATABASE up_empty"
    (cd "$src/samples" && tc_psql "$A" -d up_data -f demo.sql >"$WORK/demo-$FROM.out" 2>&1) \
        || { tail -n 30 "$WORK/demo-$FROM.out" >&2; fail "$FROM's samples/demo.sql failed"; }
    psql_a -d up_data -f "$HERE/load_extra.sql" >"$WORK/load_extra-$FROM.out" 2>&1 \
        || { cat "$WORK/load_extra-$FROM.out" >&2; fail "test/upgrade/load_extra.sql failed at $FROM"; }
    psql_a -d up_empty -c "CREATE EXTENSION dataplatform"
    # a 0.1 database restored from a dump held two masking keys; the update keeps one
    psql_a -d up_empty -c "INSERT INTO dp_consumer_data.mask_key VALUES ('a second key, as a restore at 0.1 left')"
    [ "$(psql_a -d up_data -Atc "SELECT extversion FROM pg_extension WHERE extname = 'dataplatform'")" = "$FROM" ] \
        || fail "the database made with $FROM's build is not at version $FROM"
    psql_a -d up_data -f "$HERE/snapshot.sql" >/dev/null
    PGHOST=$A PGPORT=$(cat "$A/port") PGUSER=postgres "$BINDIR/pg_dump" -Fc -d up_data -f "$WORK/up_data-$FROM.dump"
    PGHOST=$A PGPORT=$(cat "$A/port") PGUSER=postgres "$BINDIR/pg_dumpall" --roles-only -f "$WORK/roles-$FROM.sql"
    say "cluster at $FROM with the sample data, snapshot and dump ($((SECONDS - t)) s)"

    # 3. install this tree; restart; the worker waits for the update, then resumes
    t=$SECONDS
    tc_stop "$A"
    install_tree "$ROOT"
    log_from=$(wc -l <"$A/server.log")
    tc_start "$A"
    wait_log "$A" 'dataplatform worker waits: the extension in database "up_(data|empty)" is version' 2 \
        || { tail -n 20 "$A/server.log" >&2; fail "the worker of $TO did not say it waits for the update of $FROM"; }
    sleep 3   # three naptimes: it must not repeat itself or fail meanwhile
    window=$(tail -n +"$((log_from + 1))" "$A/server.log")
    [ "$(grep -c 'dataplatform worker waits' <<<"$window")" -eq 2 ] \
        || { echo "$window" >&2; fail "the waiting worker logged more than once per database"; }
    if grep -E 'ERROR|FATAL|PANIC|dataplatform worker: |Trying again' <<<"$window" >&2; then
        fail "errors in the server log while the worker waited for the update"
    fi
    for db in up_data up_empty; do
        psql_a -d "$db" -c "ALTER EXTENSION dataplatform UPDATE"
        v=$(psql_a -d "$db" -Atc "SELECT extversion FROM pg_extension WHERE extname = 'dataplatform'")
        [ "$v" = "$TO" ] || fail "ALTER EXTENSION dataplatform UPDATE in $db left version $v, not $TO"
    done
    wait_log "$A" 'dataplatform worker resumes: the extension in database "up_(data|empty)"' 2 \
        || { tail -n 20 "$A/server.log" >&2; fail "the worker did not resume after the update"; }
    say "installed $TO, restarted: the worker waited, ALTER EXTENSION UPDATE, the worker resumed ($((SECONDS - t)) s)"

    # 4. a cluster with this version only: a fresh install, and V's dump restored
    t=$SECONDS
    tc_init "$B" 54331
    tc_start "$B"
    psql_b -d postgres -c "CREATE DATABASE fresh" -c "CREATE DATABASE restored"
    psql_b -d fresh -c "CREATE EXTENSION dataplatform"
    psql_b -d fresh -f "$HERE/describe.sql" >"$WORK/describe-fresh.txt"
    # roles come with pg_dumpall; those the extension made exist already
    psql_b -d postgres -v ON_ERROR_STOP=0 -f "$WORK/roles-$FROM.sql" >/dev/null 2>&1 || true
    PGHOST=$B PGPORT=$(cat "$B/port") PGUSER=postgres "$BINDIR/pg_restore" --exit-on-error \
        -d restored "$WORK/up_data-$FROM.dump" \
        || fail "the dump of $FROM's database does not restore into $TO"
    psql_b -d restored -c "ALTER EXTENSION dataplatform UPDATE"
    say "fresh install and $FROM's dump restored at $TO ($((SECONDS - t)) s)"

    # 5. the schema
    t=$SECONDS
    schema_dump "$B" fresh "$WORK/dump-fresh.sql"
    schema_dump "$A" up_empty "$WORK/dump-up_empty.sql"
    compare "schema-only pg_dump of fresh and updated (no data) databases" \
        "$WORK/dump-fresh.sql" "$WORK/dump-up_empty.sql" || rc=1
    for x in "A up_empty" "A up_data" "B restored"; do
        set -- $x
        if [ "$1" = A ]; then psql_a -d "$2" -f "$HERE/describe.sql" >"$WORK/describe-$2.txt"
        else psql_b -d "$2" -f "$HERE/describe.sql" >"$WORK/describe-$2.txt"; fi
        compare "the extension's objects in fresh and $2" "$WORK/describe-fresh.txt" "$WORK/describe-$2.txt" || rc=1
    done
    psql_b -d fresh -c "$SEEDED_FN" -Atc "$SEEDED_SQL" >"$WORK/seeded-fresh.txt"
    psql_a -d up_empty -c "$SEEDED_FN" -Atc "$SEEDED_SQL" >"$WORK/seeded-up_empty.txt"
    compare "rows seeded by the extension in fresh and updated databases" \
        "$WORK/seeded-fresh.txt" "$WORK/seeded-up_empty.txt" || rc=1
    [ $rc -eq 0 ] && echo "ok - $FROM updated to $TO has the schema of a fresh $TO install ($(wc -l <"$WORK/describe-fresh.txt") facts, $(wc -l <"$WORK/dump-fresh.sql") dump lines; $((SECONDS - t)) s)"

    # 6. the data, and the API on it
    t=$SECONDS
    allowed=$(awk -v v="$FROM" '$1 == v { print $2 }' "$HERE/allowed_changes")
    for x in "A up_data off" "B restored on"; do
        set -- $x
        if [ "$1" = A ]; then p=psql_a; else p=psql_b; fi
        problems=$($p -d "$2" -v allowed="$allowed" -v restored="$3" -f "$HERE/check_data.sql")
        if [ -n "$problems" ]; then
            echo "not ok - data of $FROM after the update ($2):" >&2
            echo "$problems" >&2
            rc=1
        fi
    done
    for x in "A up_data" "B restored"; do
        set -- $x
        if [ "$1" = A ]; then p=psql_a; else p=psql_b; fi
        $p -d "$2" -f "$HERE/check_functions.sql" >"$WORK/functions-$2.out" 2>&1 \
            || { cat "$WORK/functions-$2.out" >&2; echo "not ok - the API on $FROM's data after the update ($2)" >&2; rc=1; }
    done
    [ $rc -eq 0 ] && echo "ok - $FROM's data is all there after the update and after a dump restored at $TO, and the API works on it ($((SECONDS - t)) s)"

    # 7. the pg_regress suite on databases made at V and updated
    t=$SECONDS
    if regress_upgraded "$FROM"; then
        echo "ok - the pg_regress suite passes with the extension made at $FROM and updated ($((SECONDS - t)) s)"
    else
        echo "not ok - the pg_regress suite with the extension made at $FROM and updated" >&2
        rc=1
    fi
    tc_stop "$A"
    tc_stop "$B"
    if grep -E "terminated by signal|was terminated" "$A/server.log" "$B/server.log" >&2; then
        echo "not ok - a server crashed during the upgrade test" >&2
        rc=1
    fi
done

[ $rc -eq 0 ] || exit 1
echo "ok - upgrade test ($((SECONDS - t0)) s)"
