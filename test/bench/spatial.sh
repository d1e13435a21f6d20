#!/usr/bin/env bash
# Geometry harmonisation speed: 100,000 polygons shaped like real planning
# boundaries (40 to 199 vertices, irregular, British National Grid metres,
# one in fifty self-intersecting, one in three clockwise) through
# dataplatform.normalise('multipolygon', ...) - C reading and CRS guess,
# PostGIS's functions called through the fmgr - against PostGIS's own
# functions chained in SQL for the same steps on the same values in the same
# run:
#   ST_GeomFromText -> boundary test of the first point -> ST_Transform(4326)
#   -> ST_SnapToGrid(1e-6) -> ST_SimplifyPreserveTopology(1e-6), kept unless
#   it made a valid polygon invalid (ST_IsValid) -> when invalid, ST_MakeValid
#   and ST_CollectionExtract(3) -> ST_Multi -> ST_ForcePolygonCCW
#   -> ST_AsText(6)
# Each subquery level is kept apart (OFFSET 0) so that PostgreSQL computes
# every step once, as the C path does.  Best of BENCH_RUNS (1) runs each; prints the ratio and appends it to $BENCH_SUMMARY.
# Asserts nothing.  Expects PG* to point at a cluster with the extension and
# PostGIS installed (test/cluster.sh bench sets that up).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${BENCH_POLYGONS:-100000}
RUNS=${BENCH_RUNS:-1}   # each path takes minutes at 100,000 polygons on a loaded 2-core machine
export PGOPTIONS=--client-min-messages=warning
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS dp_bench_s" -c "CREATE DATABASE dp_bench_s"
out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d dp_bench_s <<SQL
CREATE EXTENSION postgis;
CREATE EXTENSION dataplatform;
CREATE TABLE polys AS
SELECT i, 'POLYGON ((' || string_agg(
         round((cx + r * (0.75 + 0.25 * sin(i * 13 + (k % n) * 7)) * cos(a))::numeric, 3) || ' ' ||
         round((cy + r * (0.75 + 0.25 * sin(i * 13 + (k % n) * 7)) * sin(a))::numeric, 3), ', ' ORDER BY k) || '))' AS v
  FROM (SELECT i, k, n, cx, cy, r,
               -- a closed ring: the last vertex repeats the first; one in three
               -- runs clockwise; one in fifty swaps two vertices (a bow tie)
               CASE WHEN i % 3 = 0 THEN -1 ELSE 1 END * 2 * pi() *
                 (CASE WHEN k = n THEN 0
                       WHEN i % 50 = 0 AND k = 2 THEN 3 WHEN i % 50 = 0 AND k = 3 THEN 2
                       ELSE k END) / n AS a
          FROM (SELECT i, 40 + i % 160 AS n, 380000 + (i * 7919 % 160000) AS cx,
                       150000 + (i * 104729 % 300000) AS cy, 40 + i % 400 AS r
                  FROM generate_series(1::bigint, $N) i) p,
               generate_series(0, n) k) s
 GROUP BY i;
VACUUM ANALYZE polys;
CREATE FUNCTION pg_temp.secs(q text) RETURNS double precision LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; best double precision := 1e9;
BEGIN
  FOR k IN 1..$RUNS LOOP
    t0 := clock_timestamp();
    EXECUTE q;
    best := least(best, extract(epoch FROM clock_timestamp() - t0));
  END LOOP;
  RETURN best;
END \$\$;
SELECT avg(ST_NPoints(v::geometry))::int FROM polys;
SELECT round(pg_temp.secs('SELECT count((dataplatform.normalise(''multipolygon'', v)).value) FROM polys')::numeric, 3);
SELECT round(pg_temp.secs(\$q\$
  SELECT count(ST_AsText(ST_ForcePolygonCCW(ST_Multi(
           CASE WHEN ST_IsValid(k) THEN k ELSE ST_CollectionExtract(ST_MakeValid(k), 3) END)), 6))
    FROM (SELECT CASE WHEN NOT ST_IsValid(t) OR ST_IsValid(s) THEN s ELSE t END AS k
            FROM (SELECT t, ST_SimplifyPreserveTopology(t, 1e-6) AS s
                    FROM (SELECT ST_SnapToGrid(ST_Transform(g, 4326), 1e-6) AS t
                            FROM (SELECT ST_GeomFromText(v, 27700) AS g FROM polys OFFSET 0) a
                           WHERE ST_Intersects('SRID=4326;POLYGON ((2.95 56, 2.95 49.5, -7 49.5, -7 53.4, -4 53.4, -4 56, 2.95 56))'::geometry,
                                               ST_Transform(ST_PointN(ST_ExteriorRing(g), 1), 4326))
                          OFFSET 0) b OFFSET 0) c OFFSET 0) d
\$q\$)::numeric, 3);
-- the two agree: same polygons kept, within 0.2 m of each other
SELECT count(*) FILTER (WHERE a IS NULL) || ' dropped by normalise, ' ||
       count(*) FILTER (WHERE a IS NOT NULL AND ST_HausdorffDistance(ST_Transform(ST_SetSRID(a::geometry, 4326), 27700),
                                                                  ST_Transform(b, 27700)) > 0.2) || ' differ by more than 0.2 m'
  FROM (SELECT (dataplatform.normalise('multipolygon', v)).value AS a,
               ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SnapToGrid(ST_Transform(ST_GeomFromText(v, 27700), 4326), 1e-6)), 3)) AS b
          FROM polys WHERE i % 100 = 1) s;
SQL
)
psql -X -q -c "DROP DATABASE dp_bench_s"
read -r vertices ours chain check <<<"$(echo "$out" | tr '\n' ' ')" || true
agree=$(echo "$out" | tail -1)
echo "$N polygons, $vertices vertices on average (British National Grid)"
echo "normalise('multipolygon') (C + PostGIS through the fmgr): ${ours} s"
echo "PostGIS functions chained in SQL, same steps:             ${chain} s"
echo "sample of 1 in 100: $agree"
awk -v o="$ours" -v c="$chain" 'BEGIN {printf "ratio normalise/SQL chain: %.2f\n", o / c}'
if [ -n "${BENCH_SUMMARY:-}" ]; then
    awk -v o="$ours" -v c="$chain" 'BEGIN {printf "geometry harmonisation (100k BNG polygons) vs PostGIS functions chained in SQL|%.3f|<= 1.5\n", o / c}' >> "$BENCH_SUMMARY"
fi
