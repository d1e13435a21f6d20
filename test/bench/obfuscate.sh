#!/usr/bin/env bash
# Cost of PII obfuscation on push throughput, in one run: the same N
# person-like rows (8 fields, 4 of them pii: two names, a date of birth, an
# e-mail address) pushed with push() in jsonb arrays of 10,000 and with
# push_csv() in 10 chunks, into two identical datasets, once with
# dataplatform.environment = production (values as sent) and once with
# staging (HMAC-SHA256 tokens).  Prints rows/s and the ratio; asserts nothing.
# Expects PG* to point at a cluster with the extension installed.
set -euo pipefail
N=${BENCH_ROWS:-200000}
CHUNK=10000
export PGOPTIONS=--client-min-messages=warning
DB=dp_bench_obf
psql -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
run() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }
spec() {
    echo "{\"dataset\": \"$1\", \"product\": \"bench\", \"key\": [\"id\"], \"fields\": [
      {\"name\": \"id\", \"datatype\": \"integer\"}, {\"name\": \"firstName\", \"datatype\": \"string\", \"pii\": true},
      {\"name\": \"surname\", \"datatype\": \"string\", \"pii\": true}, {\"name\": \"dateOfBirth\", \"datatype\": \"date\", \"pii\": true},
      {\"name\": \"email\", \"datatype\": \"string\", \"pii\": true}, {\"name\": \"ward\", \"datatype\": \"string\"},
      {\"name\": \"since\", \"datatype\": \"date\"}, {\"name\": \"rooms\", \"datatype\": \"integer\"}]}"
}
run >/dev/null <<SQL
CREATE EXTENSION dataplatform;
SELECT 1 FROM dataplatform.define_product('bench');
SELECT dataplatform.define_dataset('$(spec clear-json)');
SELECT dataplatform.define_dataset('$(spec token-json)');
SELECT dataplatform.define_dataset('$(spec clear-csv)');
SELECT dataplatform.define_dataset('$(spec token-csv)');
CREATE TABLE chunk AS
SELECT i / $CHUNK AS c, jsonb_agg(jsonb_build_object('id', i, 'firstName', 'Given' || (i % 5000),
         'surname', 'Family' || (i % 20000), 'dateOfBirth', (date '1940-01-01' + (i % 25000))::text,
         'email', 'person' || i || '@example.org', 'ward', 'Ward ' || (i % 20),
         'since', (date '2000-01-01' + (i % 8000))::text, 'rooms', 1 + i % 6)) AS rows
  FROM generate_series(0, $N - 1) i GROUP BY 1;
CREATE TABLE csv_chunk AS
SELECT c, 'id,firstName,surname,dateOfBirth,email,ward,since,rooms' || E'\n' ||
       string_agg(concat_ws(',', r ->> 'id', r ->> 'firstName', r ->> 'surname', r ->> 'dateOfBirth',
                            r ->> 'email', r ->> 'ward', r ->> 'since', r ->> 'rooms'), E'\n') AS data
  FROM chunk, jsonb_array_elements(rows) r GROUP BY c;
SQL
now() { date +%s.%N; }
timed() {  # env dataset sql -> seconds
    local t0 t1
    t0=$(now)
    run -c "SET dataplatform.environment = '$1'" -c "SET dataplatform.obfuscation_key = 'bench-key'" \
        -c "$2" >/dev/null
    t1=$(now)
    python3 -c "print($t1 - $t0)"
}
a=$(timed production "SELECT count(dataplatform.push('clear-json', rows)) FROM chunk")
b=$(timed staging "SELECT count(dataplatform.push('token-json', rows)) FROM chunk")
c=$(timed production "SELECT count(dataplatform.push_csv('clear-csv', data)) FROM csv_chunk")
d=$(timed staging "SELECT count(dataplatform.push_csv('token-csv', data)) FROM csv_chunk")
leak=$(run -c "SELECT count(*) FROM dp_clean.token_json WHERE email LIKE '%example.org'")
python3 - "$N" "$a" "$b" "$c" "$d" "$leak" <<'PY'
import sys
n = int(sys.argv[1]); a, b, c, d = map(float, sys.argv[2:6])
print(f"rows: {n:,} (4 of 8 fields pii)")
print(f"push      production {n/a:>10,.0f} rows/s   staging {n/b:>10,.0f} rows/s   staging/production {a/b:.2f}x throughput")
print(f"push_csv  production {n/c:>10,.0f} rows/s   staging {n/d:>10,.0f} rows/s   staging/production {c/d:.2f}x throughput")
print(f"clear e-mail addresses left in the staging dataset: {sys.argv[6]}")
PY
psql -X -q -c "DROP DATABASE $DB"
