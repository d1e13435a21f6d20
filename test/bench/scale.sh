#!/usr/bin/env bash
# Scale: the same fixed jobs with a base and a large amount stored across
# partitions (issue 13, point 4).
#
# Stored, at each size: RAW raw rows (base SCALE_BASE_RAW 1,000,000, large
# SCALE_RAW 50,000,000) in BATCHES batches (default 52) received over
# MONTHS + 1 months (default 12 + 1), partitions of BATCHES / (MONTHS + 1)
# batch ids, so one partition is about a month; and HIST history rows
# (base SCALE_BASE_HISTORY 1,000,000, large SCALE_HISTORY 20,000,000:
# HIST / 2 keys with two closed versions each, closed by the batches in
# turn at their batch's time, so history's partitions follow the raw
# rows' months) with the current state beside them.  How the rows are made,
# honestly: each batch is a real one-row push (the partitions made on
# demand by the push, its batch logged), then its other raw rows are
# appended as runs of 1,000 to dp_raw.chunk (what landing writes, without
# transforming them); history and current rows are inserted in bulk as
# pushes would leave them.  The product keeps MONTHS * 30 days, so the
# oldest month (raw rows, issues and the versions its batches closed) is
# past retention.
#
# Timed (median of REPEAT, default 3, each in its own transaction):
#   push      one 10,000-row push of new keys
#   push 1    one 1-row push
#   refresh   refresh() of a published projection after the 10,000-row push
#   as-of     entity_history() of one key, and as_of() restricted to one key
#   raw read  1,000 rows of one batch by raw_rows() (pruned to a partition,
#             then to the runs that hold them), and the same through the
#             view dp_raw.rows (its ordinal filter reads every run of the
#             batch: printed, not a target)
#   plain     INSERT of 10,000 rows into a plain table holding HIST rows
# and, once per size, apply_retention() dropping the oldest month (its
# partitions: what that took is recorded in the audit log's drop_partitions
# row), then again with nothing to drop (its row-by-row part alone), against
# a DELETE of the same month's rows from a plain copy of them.  The whole
# first call is not held to the growth target: besides dropping the month
# it deletes one by one the rows past retention in partitions that also
# hold newer ones (the edge, which holds more rows as the data grows), so
# the drop and the rest of the call per row of the edge are judged
# instead.  Prints large/base per job; appends
# "scale: <job>|<ratio>|<target>" lines to $BENCH_SUMMARY when set.  Asserts
# nothing.  Expects PG* to point at a cluster with the extension installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE_RAW=${SCALE_BASE_RAW:-1000000}
LARGE_RAW=${SCALE_RAW:-50000000}
BASE_HIST=${SCALE_BASE_HISTORY:-1000000}
LARGE_HIST=${SCALE_HISTORY:-20000000}
BATCHES=${SCALE_BATCHES:-52}
MONTHS=${SCALE_MONTHS:-12}
REPEAT=${SCALE_REPEAT:-3}
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_scale
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }

# milliseconds of one SQL statement, run in its own transaction
timed() {
    run -c "DO \$\$ DECLARE t timestamptz := clock_timestamp(); BEGIN $1; RAISE WARNING 'ms=%', round(extract(epoch FROM clock_timestamp() - t) * 1000, 1); END \$\$" 2>&1 \
        | sed -n 's/.*ms=\([0-9.]*\).*/\1/p'
}
median() { python3 -c "import sys, statistics; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }
rows_sql() {                      # rows with keys [from, to) as a jsonb array
    echo "(SELECT jsonb_agg(jsonb_build_object('id', i, 'v', 'value ' || i, 'n', i % 100) ORDER BY i) FROM generate_series($1, $2 - 1) i)"
}

measure() {                       # $1 raw rows, $2 history rows; prints "job ms" lines
    local nraw=$1 nhist=$2
    local per=$(( nraw / BATCHES )) width=$(( BATCHES / (MONTHS + 1) ))
    [ "$width" -ge 1 ] || width=1
    local keys=$(( nhist / 2 ))
    psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
    run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('scale', '{"retention_days": $(( MONTHS * 30 ))}');
SELECT dataplatform.define_dataset('{"dataset": "item", "product": "scale", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string"}, {"name": "n", "datatype": "integer"}]}');
UPDATE dataplatform.partition_rule SET width = $width WHERE key_kind = 'batch';
SQL
    # the batches: a real one-row push each (each a new version of key 0,
    # so that every batch but the first closes one and its history
    # partition is made as a push makes it), then the rest of its rows as runs
    local b
    for b in $(seq 1 "$BATCHES"); do
        run >/dev/null <<SQL
SELECT dataplatform.push('item', '[{"id": 0, "v": "batch $b", "n": 0}]') AS id \gset
INSERT INTO dp_raw.chunk (batch_id, first_ordinal, n, data)
SELECT :id, 2 + r * 1000, least(1000, $per - 1 - r * 1000),
       (SELECT array_agg(jsonb_build_object('id', :id * 10000000 + i, 'v', 'value ' || i, 'n', i % 100) ORDER BY i)
          FROM generate_series(2 + r * 1000, 1 + r * 1000 + least(1000, $per - 1 - r * 1000)) i)
  FROM generate_series(0, ($per - 2) / 1000) r WHERE $per - 1 - r * 1000 > 0;
UPDATE dataplatform.batch SET rows = $per,
       received_at = now() - make_interval(days => ($(( (MONTHS + 1) * 30 )) * ($BATCHES - $b + 0.5) / $BATCHES)::int)
 WHERE id = :id;
SQL
    done
    # history: keys 1..keys, two closed versions each, closed by the
    # batches in turn (keys in runs, as pushes write them: a batch's
    # versions lie together) at their batch's time (its partition: the
    # closing batch's), and a current row each
    run >/dev/null <<SQL
WITH b AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(received_at ORDER BY id) AS ats, count(*)::int AS n
             FROM dataplatform.batch WHERE dataset = 'item'),
     v AS (SELECT (r + 1) / 2 AS k, 2 - r % 2 AS g, 1 + ((r - 1) * b.n) / (2 * $keys) AS j, b.*
             FROM b, generate_series(1, 2 * $keys) r)
INSERT INTO dp_clean.item_history (id, v, n, _operation, _batch_id, _valid_from, _valid_to, _closed_by_batch)
SELECT k, 'version ' || g || ' of ' || k, k % 100, CASE g WHEN 1 THEN 'insert' ELSE 'update' END,
       ids[j], ats[j] - make_interval(days => 30 / g), ats[j], ids[j]
  FROM v;
-- key 0's versions, closed by the one-row pushes, ended when their batch
-- was received (as the rest of the batch's history)
UPDATE dp_clean.item_history h SET _valid_from = b.received_at - interval '1 day', _valid_to = b.received_at
  FROM dataplatform.batch b WHERE b.id = h._closed_by_batch AND h.id = 0;
INSERT INTO dp_clean.item (id, v, n, _batch_id, _updated_at)
SELECT i, 'value ' || i, i % 100, 2, timestamptz '2024-06-01' + i * interval '1 second'
  FROM generate_series(1, $keys) i;
CREATE TABLE plain (id bigint PRIMARY KEY, v text, n int, at timestamptz);
INSERT INTO plain SELECT i, 'value ' || i, i % 100, now() FROM generate_series(1, $nhist) i;
SELECT dataplatform.publish('scale_proj', 'SELECT id, v FROM item WHERE n > 10');
VACUUM ANALYZE;
SQL
    local r push=() push1=() proj=() hist=() asof=() rawr=() rawv=() plain=()
    local mid=$(( BATCHES / 2 ))
    for r in $(seq 1 "$REPEAT"); do
        local a=$(( 900000000 + (r - 1) * 10000 )) z=$(( 900000000 + r * 10000 ))
        push+=("$(timed "PERFORM dataplatform.push('item', $(rows_sql $a $z))")")
        proj+=("$(timed "PERFORM dataplatform.refresh('scale_proj')")")
        push1+=("$(timed "PERFORM dataplatform.push('item', $(rows_sql $((z + 500000)) $((z + 500001))))")")
        hist+=("$(timed "PERFORM count(*) FROM dataplatform.entity_history('item', jsonb_build_object('id', $(( keys / 2 + r ))))")")
        asof+=("$(timed "PERFORM count(*) FROM dp_clean.item_history h WHERE h.id = $(( keys / 3 + r )) AND h._valid_from <= '2024-03-01' AND (h._valid_to IS NULL OR h._valid_to > '2024-03-01')")")
        rawr+=("$(timed "PERFORM count(*), sum(length(data::text)) FROM dataplatform.raw_rows($(( mid + r )), 2001, 3000)")")
        rawv+=("$(timed "PERFORM count(*), sum(length(data::text)) FROM dp_raw.rows WHERE batch_id = $(( mid + r )) AND ordinal BETWEEN 2001 AND 3000")")
        plain+=("$(timed "INSERT INTO plain SELECT i, 'value ' || i, i % 100, now() FROM generate_series($a, $z - 1) i")")
    done
    # a month: the oldest partition; against a DELETE of the same rows from a plain copy
    run -c "CREATE TABLE month_copy AS SELECT * FROM dp_raw.rows WHERE batch_id < $width" >/dev/null
    run -c "CREATE INDEX ON month_copy (batch_id); ANALYZE month_copy" >/dev/null
    local month_rows ret ret2 del
    month_rows=$(run -c "SELECT count(*) FROM month_copy")
    local audit_before
    audit_before=$(run -c "SELECT coalesce(max(id), 0) FROM dataplatform.audit_log")
    ret=$(timed "PERFORM dataplatform.apply_retention()")
    # the rows that call removed one by one (the edge: rows past retention
    # in partitions that also hold newer ones), as it recorded them
    local edge_rows
    edge_rows=$(run -c "SELECT coalesce(sum((detail ->> 'raw_rows')::bigint + (detail ->> 'history_rows')::bigint
        + (detail ->> 'issues')::bigint + (detail ->> 'quarantine_rows')::bigint), 0)
        FROM dataplatform.audit_log WHERE action = 'apply_retention' AND id > $audit_before")
    # the same pass again drops nothing but reads as much (the per-dataset
    # row-by-row part: raw, history by _valid_to, issues, quarantine)
    ret2=$(timed "PERFORM dataplatform.apply_retention()")
    del=$(timed "DELETE FROM month_copy")
    local dropped
    dropped=$(run -c "SELECT detail -> 'partitions' FROM dataplatform.audit_log WHERE action = 'drop_partitions' ORDER BY id DESC LIMIT 1")
    echo "push $(median "${push[@]}")"
    echo "push1 $(median "${push1[@]}")"
    echo "refresh $(median "${proj[@]}")"
    echo "history $(median "${hist[@]}")"
    echo "asof $(median "${asof[@]}")"
    echo "raw_read $(median "${rawr[@]}")"
    echo "raw_view $(median "${rawv[@]}")"
    echo "plain $(median "${plain[@]}")"
    echo "retention $ret"
    echo "retention_again $ret2"
    # what detaching and dropping the month's partitions took, as recorded
    echo "drop_month $(run -c "SELECT coalesce(detail ->> 'elapsed_ms', '0') FROM dataplatform.audit_log WHERE action = 'drop_partitions' ORDER BY id DESC LIMIT 1")"
    echo "delete_month $del"
    echo "edge_rows $edge_rows"
    echo "month_rows $month_rows"
    echo "partitions $(run -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'dp_raw.chunk'::regclass")"
    echo "history_partitions $(run -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'dp_clean.item_history'::regclass")"
    echo "history_rows_left $(run -c "SELECT count(*) FROM dp_clean.item_history")"
    echo "dropped $(echo "$dropped" | tr -d ' ' | tr ',' ';')" >&2
}

echo "scale: $BASE_RAW raw rows, $BASE_HIST history rows ..."
base=$(measure "$BASE_RAW" "$BASE_HIST")
echo "scale: $LARGE_RAW raw rows, $LARGE_HIST history rows ..."
large=$(measure "$LARGE_RAW" "$LARGE_HIST")
psql -X -q -c "DROP DATABASE $DB"

python3 - "$BASE_RAW" "$LARGE_RAW" "$BASE_HIST" "$LARGE_HIST" "$base" "$large" "${BENCH_SUMMARY:-}" <<'PY'
import sys
braw, lraw, bhist, lhist, base, large, summary = sys.argv[1:]
s = dict(l.split() for l in base.splitlines())
g = dict(l.split() for l in large.splitlines())
def n(x):
    x = int(x)
    return f"{x / 1e6:g}M" if x >= 1e6 else f"{x / 1e3:g}k"
size = f"{n(lraw)} raw + {n(lhist)} history / {n(braw)} + {n(bhist)}"
names = {"push": "push, 10,000 new rows", "push1": "push, 1 row",
         "refresh": "refresh, projection, 10,000 changed", "history": "entity_history, 1 key",
         "asof": "as-of lookup of 1 key in history", "raw_read": "1,000 rows of one batch, raw_rows()",
         "raw_view": "the same through dp_raw.rows's ordinal",
         "plain": "plain INSERT of 10,000 rows (PK)",
         "retention": "apply_retention, dropping a month", "retention_again": "apply_retention, nothing to drop",
         "drop_month": "detaching and dropping the month", "delete_month": "plain DELETE of that month's rows"}
print(f"{'job':40s} {'base':>12s} {'large':>12s}   large/base   ({size}; partitions of raw {s['partitions']} / {g['partitions']}, of history {s['history_partitions']} / {g['history_partitions']})")
def summarise(path, ratio, target):
    if summary:
        with open(summary, "a") as f:
            f.write(f"{path}|{ratio}|{target}\n")
for k, label in names.items():
    r = float(g[k]) / max(float(s[k]), 0.001)
    print(f"{label:40s} {float(s[k]):9.1f} ms {float(g[k]):9.1f} ms   {r:6.2f}x")
    if k == "retention":
        # the whole call: its edge grows with the rows past retention, so
        # it is judged per row of that edge below
        summarise(f"scale: {label}, whole call, removing {int(s['edge_rows']):,} / "
                  f"{int(g['edge_rows']):,} rows one by one ({size})", f"{r:.2f}x", "-")
    elif k not in ("plain", "delete_month", "retention_again", "raw_view"):
        summarise(f"scale: {label} ({size})", f"{r:.2f}x", "<= 1.3x")
# the rest of apply_retention's first call, per row it removed one by one
edge = [(float(x['retention']) - float(x['drop_month'])) / max(int(x['edge_rows']), 1) for x in (s, g)]
edge_ratio = edge[1] / max(edge[0], 1e-9)
print(f"{'apply_retention, per row of the edge':40s} {edge[0] * 1000:9.2f} us {edge[1] * 1000:9.2f} us   "
      f"{edge_ratio:6.2f}x   (the call less the drop, over the {int(s['edge_rows']):,} / "
      f"{int(g['edge_rows']):,} rows it removed one by one)")
summarise(f"scale: apply_retention, the rest of the call per row it removed one by one ({size})",
          f"{edge_ratio:.2f}x", "<= 1.3x")
print(f"a month: {int(s['month_rows']):,} / {int(g['month_rows']):,} raw rows; "
      f"apply_retention {float(s['retention']):.1f} / {float(g['retention']):.1f} ms "
      f"(detaching and dropping the month {float(s['drop_month']):.1f} / {float(g['drop_month']):.1f} ms), "
      f"a plain DELETE of them {float(s['delete_month']):.1f} / {float(g['delete_month']):.1f} ms; "
      f"history rows left after retention {int(s['history_rows_left']):,} / {int(g['history_rows_left']):,} "
      f"of {int(bhist):,} / {int(lhist):,}")
summarise(f"scale: apply_retention dropping a month of {int(g['month_rows']):,} raw rows vs DELETE of them",
          f"{float(g['drop_month']) / max(float(g['delete_month']), 0.001):.3f}x", "ms, not minutes")
PY
