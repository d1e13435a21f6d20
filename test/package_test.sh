#!/usr/bin/env bash
# test/package_test.sh — the Debian package: build postgresql-15-dataplatform
# from this tree (`make deb`, in a temp dir), check what it declares and
# holds, install it (dpkg -i), check that the installed files are the
# package's (dpkg --verify), then start a cluster of its own with the
# packaged library preloaded and run the pg_regress and isolation suites
# against it (make installcheck).  Afterwards the package is removed again
# (unless it was installed before) and this tree's build reinstalled, so the
# machine is left as test/cluster.sh set it up.
#
# Run by `make test` under the harness's machine-wide lock (it installs into
# the server's shared directories).  Needs root or password-less sudo for
# dpkg; without either it says so and skips the install part.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
TC_PG_CONFIG=$PG_CONFIG
# shellcheck source=throwaway_cluster.sh
. "$ROOT/test/throwaway_cluster.sh"
PGMAJOR=$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
PKG=postgresql-$PGMAJOR-dataplatform
TO=$(sed -n 's/^EXTVERSION *= *//p' "$ROOT/Makefile")
fail() { echo "not ok - $*" >&2; exit 1; }
t0=$SECONDS

WORK=$(mktemp -d /tmp/dataplatform-package.XXXXXX)
chmod 755 "$WORK"
C=$WORK/cluster
was_installed=0
dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok installed' && was_installed=1
touched=0
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi
cleanup() {
    tc_stop "$C"
    if [ $touched = 1 ]; then
        [ $was_installed = 1 ] || "${SUDO[@]}" dpkg -r "$PKG" >/dev/null 2>&1 || true
        "${SUDO[@]}" make -s -C "$ROOT" PG_CONFIG="$PG_CONFIG" install >/dev/null 2>&1 \
            || echo "could not reinstall this tree's build" >&2
    fi
    if [ "${KEEP_PACKAGE:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# 1. build
t=$SECONDS
if ! make -s -C "$ROOT" deb DEB_DIR="$WORK/deb" >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" >&2
    fail "make deb"
fi
debs=("$WORK"/deb/"$PKG"_*.deb)
deb=${debs[0]}
[ -f "$deb" ] || fail "make deb made no $PKG package"
echo "ok - make deb built $(basename "$deb") ($((SECONDS - t)) s)"

# 2. what it declares and holds
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Version)" = "$TO" ] || fail "the package is version $(field Version), the extension $TO (debian/changelog)"
for dep in libjansson4 libcurl4 "postgresql-$PGMAJOR"; do
    field Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qx "$dep" \
        || fail "the package does not depend on $dep (Depends: $(field Depends))"
done
field Suggests | grep -q "postgresql-$PGMAJOR-postgis-3" || fail "the package does not suggest PostGIS"
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|')
expect=("$("$PG_CONFIG" --pkglibdir)/dataplatform.so"
        "$("$PG_CONFIG" --sharedir)/extension/dataplatform.control"
        "$("$PG_CONFIG" --sharedir)/extension/dataplatform--$TO.sql")
for f in "$ROOT"/src/sql/upgrade/dataplatform--*--*.sql; do
    [ -f "$f" ] && expect+=("$("$PG_CONFIG" --sharedir)/extension/$(basename "$f")")
done
for f in "${expect[@]}"; do
    grep -qx "$f" <<<"$contents" || fail "the package lacks $f"
done
echo "ok - the package is version $TO, depends on libjansson4, libcurl4 and postgresql-$PGMAJOR, suggests PostGIS, and holds the library, the control file, the $TO script and ${#expect[@]} files in all that it must"

# 3. install
if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
    echo "ok - # SKIP installing the package needs root or password-less sudo"
    exit 0
fi
t=$SECONDS
touched=1
"${SUDO[@]}" dpkg -i "$deb" >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg -i $(basename "$deb")"; }
verify=$(dpkg --verify "$PKG" 2>&1 || true)
[ -z "$verify" ] || { echo "$verify" >&2; fail "the installed files are not the package's (dpkg --verify)"; }
for f in "${expect[@]}"; do
    [ "$(dpkg -S "$f" 2>/dev/null | cut -d: -f1)" = "$PKG" ] || fail "$f is not installed by $PKG"
done
echo "ok - dpkg -i installed $PKG, dpkg --verify is clean ($((SECONDS - t)) s)"

# 4. the packaged extension in a cluster of its own: pg_regress and isolation
t=$SECONDS
tc_init "$C" 54332
tc_start "$C"
v=$(tc_psql "$C" -d postgres -Atc "CREATE DATABASE dp_package" \
      -c "SELECT version FROM pg_available_extension_versions WHERE name = 'dataplatform' AND version = '$TO'")
[ "$v" = "$TO" ] || fail "the packaged extension does not offer version $TO"
v=$(tc_psql "$C" -d dp_package -Atc "CREATE EXTENSION dataplatform" \
      -c "SELECT extversion FROM pg_extension WHERE extname = 'dataplatform'")
[ "$v" = "$TO" ] || fail "CREATE EXTENSION from the package made version $v"
eval "export $(tc_env "$C")"
if ! make -s -C "$ROOT" PG_CONFIG="$PG_CONFIG" installcheck >"$WORK/installcheck.log" 2>&1; then
    cat "$WORK/installcheck.log" >&2
    for f in "$ROOT/regression.diffs" "$ROOT/output_iso/regression.diffs"; do
        [ -f "$f" ] && head -n 200 "$f" >&2
    done
    fail "make installcheck against the installed package"
fi
grep -E "tests passed" "$WORK/installcheck.log" | sed 's/^/# /'
if grep -E "terminated by signal|was terminated" "$C/server.log" >&2; then
    fail "the server crashed during installcheck against the package"
fi
echo "ok - pg_regress and isolation suites pass against the installed package ($((SECONDS - t)) s)"
echo "ok - package test ($((SECONDS - t0)) s)"
