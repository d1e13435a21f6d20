#!/usr/bin/env bash
# test/layout/check.sh — the source tree keeps its architecture.
#
#   1. includes: a file in src/<folder>/ includes only headers of the
#      folders src/README.md's "dependencies" block allows it (and its own);
#   2. calls: an object of src/<folder>/ calls (nm: undefined symbols) only
#      functions defined in allowed folders (needs a build: run after make);
#   3. src/lib/ includes no PostgreSQL server header;
#   4. no source file over 1,000 lines unless its first 40 lines say why
#      ("Longer than 1,000 lines: <reason>").
# Exits non-zero and names every violation.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGINC=$($PG_CONFIG --includedir-server)
fail=0
bad() { echo "not ok - $*"; fail=1; }

declare -A allowed
while IFS= read -r line; do
    folder=${line%%:*}
    allowed[$folder]="$folder ${line#*:}"
done < <(awk '/^```dependencies/{on=1; next} /^```/{on=0} on && NF' src/README.md)
[ ${#allowed[@]} -ge 8 ] || { echo "not ok - src/README.md has no dependencies block"; exit 1; }

folder_of() {                     # src/x/y.c -> x; src/dataplatform.c -> top
    local d; d=$(dirname "$1"); d=${d#src}; d=${d#/}
    echo "${d:-top}"
}
# which folder holds each header
declare -A header_home
for h in src/*/*.h; do header_home[$(basename "$h")]=$(folder_of "$h"); done
for d in $(ls -d src/*/ | xargs -n1 basename); do
    [ "$d" = sql ] && continue
    [ -n "${allowed[$d]:-}" ] || bad "src/$d/ is not in src/README.md's dependencies block"
done

is_allowed() { [[ " ${allowed[$1]} " == *" $2 "* ]]; }

# 1. includes
for f in src/*.c src/*/*.c src/*/*.h; do
    from=$(folder_of "$f")
    while read -r inc; do
        home=${header_home[$inc]:-}
        [ -n "$home" ] || continue          # a server or system header
        is_allowed "$from" "$home" || bad "$f includes $inc of src/$home/ (src/$from/ may use: ${allowed[$from]})"
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done

# 2. calls, from the built objects
# the objects of today's sources (a stale object of a removed source is no part of the build)
objects=()
for c in src/*.c src/*/*.c; do
    if [ -f "${c%.c}.o" ]; then objects+=("${c%.c}.o"); else missing="$c"; fi
done
if [ -n "${missing:-}" ]; then
    bad "calls not checked: build first ($missing has no object)"
else
    declare -A sym_home
    for o in "${objects[@]}"; do
        home=$(folder_of "$o")
        while read -r s; do sym_home[$s]="$home ${o%.o}.c"; done < <(nm --defined-only "$o" | awk '$2 ~ /^[TDBR]$/ {print $3}')
    done
    for o in "${objects[@]}"; do
        from=$(folder_of "$o")
        while read -r s; do
            h=${sym_home[$s]:-}
            [ -n "$h" ] || continue
            home=${h%% *}
            is_allowed "$from" "$home" || bad "${o%.o}.c uses $s of ${h#* } (src/$from/ may use: ${allowed[$from]})"
        done < <(nm --undefined-only "$o" | awk '{print $2}')
    done
fi

# 2b. nothing calls jansson's json_object(): in the server the dynamic linker
# binds that name to PostgreSQL's SQL function json_object, and the backend
# crashes (use json_pack("{}") or dp_json_new_object())
if [ -z "${missing:-}" ]; then
    for o in "${objects[@]}"; do
        nm --undefined-only "$o" | awk '{print $2}' | grep -qx json_object \
            && bad "${o%.o}.c calls json_object(), which binds to the server's SQL function: use json_pack(\"{}\")"
    done
fi

# 3. the pure library stays pure
for f in src/lib/*.c src/lib/*.h; do
    while read -r inc; do
        [ -f "$PGINC/$inc" ] && bad "$f includes the server header $inc (src/lib/ is pure C)"
    done < <(sed -n 's/^#include [<"]\([^>"]*\)[>"].*/\1/p' "$f")
done

# 4. file length
for f in src/*.c src/*/*.c src/*/*.h; do
    n=$(wc -l < "$f")
    if [ "$n" -gt 1000 ] && ! head -40 "$f" | grep -q "Longer than 1,000 lines:"; then
        bad "$f has $n lines and does not say why at its top (\"Longer than 1,000 lines: ...\")"
    fi
done

[ $fail -eq 0 ] && echo "ok - layout: includes, calls, pure library and file sizes follow src/README.md"
exit $fail
