#!/usr/bin/env bash
# Harmonisation speed: values per second for each datatype in the standalone
# C library, and through dataplatform.normalise() in SQL beside PostgreSQL's
# own casts on the same 1M values in the same run.  Prints ratios; asserts
# nothing.  Expects PG* to point at a cluster with the extension installed
# (test/cluster.sh bench sets that up).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${BENCH_VALUES:-1000000}

echo "== C library (test/unit: bench_harmonise, 1M values per datatype)"
make -s -C test/unit bench

echo
echo "== SQL: normalise() vs plain casts, $N values each"
export PGOPTIONS=--client-min-messages=warning
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS dp_bench_h" -c "CREATE DATABASE dp_bench_h"
psql -X -q -v ON_ERROR_STOP=1 -d dp_bench_h <<SQL
CREATE EXTENSION dataplatform;
SET DateStyle = 'ISO, DMY';
-- realistic mixes that PostgreSQL's own input functions also accept
CREATE TABLE dates AS
SELECT CASE i % 5
         WHEN 0 THEN to_char(d, 'YYYY-MM-DD')
         WHEN 1 THEN to_char(d, 'DD/MM/YYYY')
         WHEN 2 THEN to_char(d, 'YYYYMMDD')
         WHEN 3 THEN to_char(d, 'FMDD FMMonth YYYY')
         ELSE to_char(d, 'YYYY/MM/DD') END AS v
  FROM (SELECT i, date '1950-01-01' + (i * 7919 % 30000)::int AS d
          FROM generate_series(1::bigint, $N) i) s;
CREATE TABLE decimals AS
SELECT CASE i % 4
         WHEN 0 THEN ((i * 7919 % 100000) / 100.0)::text
         WHEN 1 THEN lpad(((i * 31) % 1000)::text, 6, '0') || '.50'
         WHEN 2 THEN '-' || (i % 977)::text || '.125'
         ELSE ' ' || (i % 100000)::text || ' ' END AS v
  FROM generate_series(1::bigint, $N) i;
CREATE TABLE integers AS SELECT (i * 7919 % 1000000)::text AS v FROM generate_series(1::bigint, $N) i;
VACUUM ANALYZE dates, decimals, integers;

CREATE FUNCTION pg_temp.rate(q text) RETURNS double precision LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; best double precision := 0; r double precision;
BEGIN
  FOR k IN 1..3 LOOP
    t0 := clock_timestamp();
    EXECUTE q;
    r := $N / extract(epoch FROM clock_timestamp() - t0);
    best := greatest(best, r);
  END LOOP;
  RETURN best;
END \$\$;

SELECT d.dt AS datatype,
       round(pg_temp.rate(d.ours)) AS "normalise() values/s",
       round(pg_temp.rate(d.plain)) AS "plain cast values/s",
       round((pg_temp.rate(d.plain) / pg_temp.rate(d.ours))::numeric, 2) AS "cast/normalise"
  FROM (VALUES
    ('date', 'SELECT count((dataplatform.normalise(''date'', v)).value) FROM dates',
             'SELECT count(v::date) FROM dates'),
    ('decimal', 'SELECT count((dataplatform.normalise(''decimal'', v)).value) FROM decimals',
                'SELECT count(v::numeric) FROM decimals'),
    ('integer', 'SELECT count((dataplatform.normalise(''integer'', v)).value) FROM integers',
                'SELECT count(v::bigint) FROM integers')) d(dt, ours, plain);
SQL
psql -X -q -c "DROP DATABASE dp_bench_h"
