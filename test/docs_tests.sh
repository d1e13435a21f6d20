#!/usr/bin/env bash
# test/docs_tests.sh — the documentation is tested like the code.
#
# 1. Links.  Every relative link in README.md and docs/*.md must point to a
#    file of the repository (and, with #anchor, to a heading of that file);
#    no link may leave the repository; every docs page links back to
#    README.md and the README links to every docs page.
#
# 2. Examples.  Every ```sql block of README.md and docs/*.md runs.  Each page
#    is one script: its sql blocks, in page order, run in one psql session
#    (psql variables and SET carry over from block to block) in a fresh
#    database made for the page (so a page starts with a set-up block that
#    creates the extension), with ON_ERROR_STOP on, from a scratch directory
#    that holds `samples` (a link to the repository's samples/), so paths
#    such as samples/data/tenure.json read as they do from the repository
#    root, and files an example writes land in the scratch directory.
#
#    How blocks are marked (the fence's info string):
#
#      ```sql                 must run without error
#      ```sql error           must fail: it should hold one statement (the
#                             last error raised in the block is the one checked)
#      ```sql error 42501     must fail with that SQLSTATE
#      ```sh ```json ```ini ```c ```text, or no info string
#                             not run (shell, JSON files, configuration, C,
#                             diagrams, output)
#
#    Any other info string beginning with "sql" is an error, so no SQL example
#    escapes the test.  An error block must not leave a transaction open (the
#    next block would then fail).  Roles a page creates are dropped after it
#    (roles are cluster-wide), as is its database.
#
#    Examples of collection fetch from a plain file server on 127.0.0.1 port
#    $DOCS_HTTP_PORT (54380) serving samples/data, as docs/worker.md tells its
#    readers to start one; this script starts it.
#
# Runs from anywhere against the server the PG* variables point at (make test
# runs it from test/cluster.sh once the cluster is up); the server must
# preload the extension and allow 127.0.0.1 in dataplatform.allowed_hosts.
# Prints one line per check, TAP-like; exits non-zero on any failure.
#
#   bash test/docs_tests.sh               every page
#   bash test/docs_tests.sh docs/events.md    the links, then only that page's examples
#   DOCS_VERBOSE=1 bash test/docs_tests.sh ... also print what the examples print
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DOCS_HTTP_PORT=${DOCS_HTTP_PORT:-54380}
export PGOPTIONS=${PGOPTIONS:---client-min-messages=warning}

fails=0
n=0
ok()    { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }

PAGES=(README.md $(ls docs/*.md))
if [ $# -gt 0 ]; then RUN_PAGES=("$@"); else RUN_PAGES=("${PAGES[@]}"); fi

WORK=$(mktemp -d /tmp/dp_docs.XXXXXX)
chmod 755 "$WORK"
HTTP_PID=""
cleanup() {
    [ -n "$HTTP_PID" ] && { kill "$HTTP_PID" 2>/dev/null; wait "$HTTP_PID" 2>/dev/null; }
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- 1. links --------------------------------------------------------------
# python3 is one of the harness's packages (test/cluster.sh)
if python3 - "${PAGES[@]}" >"$WORK/links.out" 2>&1 <<'PY'
import os, re, sys

pages = sys.argv[1:]
root = os.getcwd()
problems = []
fence = re.compile(r'^\s*(```|~~~)')

def prose_lines(path):
    """Lines outside fenced code blocks, with inline code spans blanked."""
    out, in_fence = [], False
    with open(path, encoding='utf-8') as f:
        for no, line in enumerate(f, 1):
            if fence.match(line):
                in_fence = not in_fence
                continue
            if not in_fence:
                out.append((no, re.sub(r'`[^`]*`', '', line)))
    return out

def slug(heading):
    """GitHub's anchor for a heading."""
    h = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return h.replace(' ', '-')

def anchors(path):
    seen, result = {}, set()
    in_fence = False
    with open(path, encoding='utf-8') as f:
        for line in f:
            if fence.match(line):
                in_fence = not in_fence
                continue
            m = None if in_fence else re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
            if m:
                s = slug(m.group(1))
                k = seen.get(s, 0)
                seen[s] = k + 1
                result.add(s if k == 0 else '%s-%d' % (s, k))
    return result

link = re.compile(r'\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|^\s*\[[^\]]+\]:\s*(\S+)')
linked = {}
for page in pages:
    linked[page] = set()
    for no, line in prose_lines(page):
        for m in link.finditer(line):
            target = m.group(1) or m.group(2)
            where = '%s:%d' % (page, no)
            if re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:', target):
                continue                       # http:, https:, mailto:
            path, _, frag = target.partition('#')
            full = os.path.normpath(os.path.join(os.path.dirname(os.path.join(root, page)), path)) if path else os.path.join(root, page)
            if not (full == root or full.startswith(root + os.sep)):
                problems.append('%s: link %s leaves the repository' % (where, target))
                continue
            if not os.path.exists(full):
                problems.append('%s: link %s: no such file' % (where, target))
                continue
            linked[page].add(os.path.relpath(full, root))
            if frag:
                if not full.endswith('.md'):
                    problems.append('%s: link %s: an anchor into a file that is not Markdown' % (where, target))
                elif frag not in anchors(full):
                    problems.append('%s: link %s: no heading with that anchor' % (where, target))
for page in pages:
    if page.startswith('docs/') and 'README.md' not in linked[page]:
        problems.append('%s: does not link back to README.md' % page)
    if page.startswith('docs/') and page not in linked.get('README.md', ()):
        problems.append('README.md: does not link to %s' % page)
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
then
    ok "links in ${PAGES[*]}"
else
    notok "links"; sed 's/^/#   /' "$WORK/links.out"
fi

# --- 2. examples -----------------------------------------------------------
# Make the page's psql script from its sql blocks: prints the number of
# blocks, writes the script to $2.
make_script() {
    python3 - "$1" "$2" <<'PY'
import re, sys
page, out = sys.argv[1], sys.argv[2]
fence = re.compile(r'^(\s*)(```|~~~)\s*(.*?)\s*$')
blocks, cur, problems = [], None, []
with open(page, encoding='utf-8') as f:
    for no, line in enumerate(f, 1):
        m = fence.match(line)
        if cur is None:
            if m:
                info = m.group(3).split()
                cur = {'line': no, 'indent': len(m.group(1)), 'info': info, 'text': [], 'close': m.group(2)}
            continue
        if m and m.group(2) == cur['close'] and not m.group(3):
            if cur['info'] and cur['info'][0].lower().startswith('sql'):
                blocks.append(cur)
            cur = None
            continue
        cur['text'].append(line[cur['indent']:] if line[:cur['indent']].strip() == '' else line)
if cur is not None:
    problems.append('%s:%d: a code block is not closed' % (page, cur['line']))
lines = ['\\set ON_ERROR_STOP 1']
for i, b in enumerate(blocks, 1):
    info, where = b['info'], '%s:%d' % (page, b['line'])
    body = ''.join(b['text'])
    if info == ['sql']:
        lines += ['\\warn \'-- %s (block %d)\'' % (where, i), body.rstrip('\n')]
    elif info[0] == 'sql' and len(info) in (2, 3) and info[1] == 'error' \
            and (len(info) == 2 or re.fullmatch(r'[0-9A-Z]{5}', info[2])):
        v = 'docs_block%d_' % i
        want = info[2] if len(info) == 3 else None
        lines += ['\\warn \'-- %s (block %d, must fail%s)\'' % (where, i, ' with ' + want if want else ''),
                  '\\set LAST_ERROR_SQLSTATE 00000', '\\set ON_ERROR_STOP 0',
                  body.rstrip('\n'),
                  '\\set ON_ERROR_STOP 1',
                  '\\set %s:LAST_ERROR_SQLSTATE 1' % v]
        if want:
            lines += ['\\if :{?%s%s}' % (v, want), '\\else',
                      '\\warn \'DOCS-TEST-FAIL %s: the block did not fail with SQLSTATE %s\'' % (where, want),
                      '\\i /docs-tests/the-block-above-did-not-fail-as-expected', '\\endif']
        else:
            lines += ['\\if :{?%s00000}' % v,
                      '\\warn \'DOCS-TEST-FAIL %s: the block did not fail\'' % where,
                      '\\i /docs-tests/the-block-above-did-not-fail', '\\endif']
    else:
        problems.append('%s: unknown sql info string "%s" (use sql, sql error or sql error SQLSTATE)'
                        % (where, ' '.join(info)))
with open(out, 'w', encoding='utf-8') as f:
    f.write('\n'.join(lines) + '\n')
for p in problems:
    print(p, file=sys.stderr)
print(len(blocks))
sys.exit(1 if problems else 0)
PY
}

if ! psql -X -q -At -c "SELECT 1" >/dev/null 2>&1; then
    notok "no server to run the examples against (set PGHOST, PGPORT, PGUSER)"
    exit 1
fi

mkdir -p "$WORK/run"
ln -s "$ROOT/samples" "$WORK/run/samples"
port_open() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $DOCS_HTTP_PORT), 1)" 2>/dev/null; }
# something else on the port would serve other files: the server must be ours
port_open && notok "127.0.0.1:$DOCS_HTTP_PORT is in use: the examples' file server cannot start"
python3 -m http.server "$DOCS_HTTP_PORT" --bind 127.0.0.1 --directory "$ROOT/samples/data" \
    >"$WORK/http.log" 2>&1 &
HTTP_PID=$!
for _ in $(seq 50); do port_open && break; sleep 0.1; done
if ! kill -0 "$HTTP_PID" 2>/dev/null || ! port_open; then
    notok "the examples' file server on 127.0.0.1:$DOCS_HTTP_PORT did not start"
    sed 's/^/#   /' "$WORK/http.log"
fi

total=0
for page in "${RUN_PAGES[@]}"; do
    db=docs_$(basename "$page" .md | tr 'A-Z.-' 'a-z__')
    script="$WORK/$db.sql"
    if ! count=$(make_script "$page" "$script" 2>"$WORK/$db.extract"); then
        notok "$page: examples"; sed 's/^/#   /' "$WORK/$db.extract"; continue
    fi
    if [ "$count" -eq 0 ]; then ok "$page: no sql examples"; continue; fi
    roles_before=$(psql -X -At -c "SELECT rolname FROM pg_roles" | LC_ALL=C sort)
    psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    if (cd "$WORK/run" && psql -X -v ON_ERROR_STOP=1 -d "$db" -f "$script") >"$WORK/$db.log" 2>&1 \
       && ! grep -q DOCS-TEST-FAIL "$WORK/$db.log"; then
        ok "$page: $count sql examples run"
        [ "${DOCS_VERBOSE:-0}" = 1 ] && cat "$WORK/$db.log"
    else
        notok "$page: sql examples (the block before the error is named by its last '-- page:line' mark)"
        grep -E '^-- |ERROR|DETAIL|HINT|DOCS-TEST-FAIL|error:|FATAL' "$WORK/$db.log" | tail -n 12 | sed 's/^/#   /'
    fi
    total=$((total + count))
    psql -X -q -c "DROP DATABASE IF EXISTS $db" >/dev/null
    # roles are cluster-wide: drop those the page made (not the extension's)
    for r in $(LC_ALL=C comm -13 <(echo "$roles_before") <(psql -X -At -c "SELECT rolname FROM pg_roles" | LC_ALL=C sort)); do
        case "$r" in dataplatform_*) continue ;; esac
        psql -X -q -c "DROP ROLE \"$r\"" >/dev/null || notok "dropping role $r made by $page"
    done
done

echo "# $total sql examples in ${#RUN_PAGES[@]} pages"
echo "1..$n"
[ "$fails" -eq 0 ]
