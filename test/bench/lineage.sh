#!/usr/bin/env bash
# Cost of lineage(): the trail of one record (two versions: a push, then a
# push that changed it), on a small and a large dataset (SMALL and LARGE
# records, default 2,000 and 200,000, pushed in batches of 1,000), in one
# backend (LOOPS calls per run, ROUNDS runs, alternating), against plain
# PostgreSQL doing the same lookups in one SQL statement (the current row by
# its primary key, its history by the key index, each version's batch,
# raw row and issues, assembled as JSON).  Prints microseconds per call,
# lineage() against plain SQL, and large against small (cost follows the
# call, not the dataset: target <= 1.5).  Asserts nothing.
# Expects PG* to point at a cluster that preloads the extension, as a
# superuser.
set -euo pipefail
cd "$(dirname "$0")/../.."
SMALL=${BENCH_SMALL:-2000}
LARGE=${BENCH_LARGE:-200000}
ROUNDS=${BENCH_ROUNDS:-3}
LOOPS=${BENCH_LOOPS:-300}
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_lineage
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }

echo "loading $SMALL and $LARGE records in batches of 1,000, a second version of every 10th ..."
run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SET dataplatform.environment = 'production';
SELECT 1 FROM dataplatform.define_product('bench');
SELECT dataplatform.define_dataset('{"dataset": "small", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string"}, {"name": "n", "datatype": "integer"}]}');
SELECT dataplatform.define_dataset('{"dataset": "large", "product": "bench", "key": ["id"], "fields": [
  {"name": "id", "datatype": "integer"}, {"name": "v", "datatype": "string"}, {"name": "n", "datatype": "integer"}]}');
SELECT count(dataplatform.push(d, (SELECT jsonb_agg(jsonb_build_object('id', i, 'v', 'x' || i, 'n', i))
  FROM generate_series(b * 1000 + 1, b * 1000 + 1000) i)))
  FROM (VALUES ('small', $SMALL), ('large', $LARGE)) s(d, total), generate_series(0, total / 1000 - 1) b;
SELECT count(dataplatform.push(d, (SELECT jsonb_agg(jsonb_build_object('id', i, 'v', 'y' || i, 'n', 'bad'))
  FROM generate_series(b * 10000 + 1, b * 10000 + 10000, 10) i)))
  FROM (VALUES ('small', $SMALL), ('large', $LARGE)) s(d, total), generate_series(0, greatest(total / 10000, 1) - 1) b;
VACUUM ANALYZE;
-- plain PostgreSQL: the same lookups, one statement
CREATE FUNCTION public.plain_trail(tbl text, k int) RETURNS jsonb LANGUAGE plpgsql AS \$f\$
DECLARE j jsonb;
BEGIN
	EXECUTE format(\$q\$
	SELECT jsonb_agg(jsonb_build_object('values', to_jsonb(ver) - '_batch_id' - '_row',
			'batch', (SELECT to_jsonb(b) FROM dataplatform.batch b WHERE b.id = ver._batch_id),
			'raw', (SELECT to_jsonb(r) FROM dp_raw.rows r WHERE r.batch_id = ver._batch_id AND r.ordinal = ver._row),
			'issues', (SELECT jsonb_agg(to_jsonb(i)) FROM dataplatform.issue i
						WHERE i.batch_id = ver._batch_id AND i.row_number = ver._row)))
	  FROM (SELECT h.id, h.v, h.n, h._batch_id, h._row FROM dp_clean.%1\$I h WHERE h.id = \$1
			UNION ALL SELECT c.id, c.v, c.n, c._batch_id, c._row FROM dp_clean.%2\$I c WHERE c.id = \$1) ver\$q\$,
		tbl || '_history', tbl) INTO j USING k;
	RETURN j;
END
\$f\$;
CREATE FUNCTION public.bench_trails(n int, ds text, total int, how text) RETURNS float8 LANGUAGE plpgsql AS \$f\$
DECLARE t0 timestamptz := clock_timestamp(); j jsonb;
BEGIN
	FOR i IN 1..n LOOP
		IF how = 'lineage' THEN
			j := dataplatform.lineage(ds, to_jsonb(1 + ((i * 7919) % (total / 10)) * 10));
		ELSE
			j := public.plain_trail(ds, 1 + ((i * 7919) % (total / 10)) * 10);
		END IF;
	END LOOP;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END
\$f\$;
SQL
# check: the trail has two versions, each with its raw row
[ "$(run -c "SELECT jsonb_array_length(dataplatform.lineage('large', '11') -> 'versions') || '/' ||
             jsonb_array_length(jsonb_path_query_array(dataplatform.lineage('large', '11'), '$.versions[*].raw.ordinal'))")" = 2/2 ] \
    || { echo "the trail of a record is not what the benchmark expects" >&2; exit 1; }

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
us() { run -c "SELECT round(public.bench_trails($LOOPS, '$1', $2, '$3')::numeric, 1)"; }
ls=(); ll=(); ps=(); pl=()
for ((r = 1; r <= ROUNDS; r++)); do
    ls+=("$(us small "$SMALL" lineage)"); ll+=("$(us large "$LARGE" lineage)")
    ps+=("$(us small "$SMALL" plain)"); pl+=("$(us large "$LARGE" plain)")
    echo "round $r: lineage() ${ls[-1]} us ($SMALL records), ${ll[-1]} us ($LARGE); plain SQL ${ps[-1]} us, ${pl[-1]} us"
done
mls=$(printf '%s\n' "${ls[@]}" | median); mll=$(printf '%s\n' "${ll[@]}" | median)
mps=$(printf '%s\n' "${ps[@]}" | median); mpl=$(printf '%s\n' "${pl[@]}" | median)
echo "== one backend, $LOOPS trails x $ROUNDS: median us per trail: lineage() $mls ($SMALL records), $mll ($LARGE); plain SQL $mps, $mpl"
awk -v a="$mls" -v b="$mll" -v c="$mps" -v d="$mpl" -v large="$LARGE" -v small="$SMALL" 'BEGIN {
    printf "lineage() on %s records vs on %s: %.2fx the time (target <= 1.5: cost follows the call)\n", large, small, b / a
    printf "lineage() vs plain SQL doing the same lookups: %.2fx the time (small), %.2fx (large)\n", a / c, b / d }'
if [ -n "${BENCH_SUMMARY:-}" ]; then
    awk -v a="$mls" -v b="$mll" -v large="$LARGE" -v small="$SMALL" \
        'BEGIN {printf "lineage() of one record, %s vs %s records|%.3f|<= 1.5\n", large, small, b / a}' >> "$BENCH_SUMMARY"
    awk -v b="$mll" -v d="$mpl" 'BEGIN {printf "lineage() of one record vs plain SQL doing the same lookups|%.3f|-\n", b / d}' >> "$BENCH_SUMMARY"
fi
run -c "SELECT 1" >/dev/null
psql -X -q -c "DROP DATABASE IF EXISTS $DB"
