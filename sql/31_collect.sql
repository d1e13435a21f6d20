-- Collection from HTTP endpoints: call-time errors, secrets and privileges.
-- No fetch happens here (test/collect_tests.sh fetches, from a loopback
-- server); the harness sets dataplatform.allowed_hosts = '127.0.0.1'.
\set VERBOSITY terse
SET dataplatform.allowed_hosts = '127.0.0.1, *.example.org';
SELECT name FROM dataplatform.define_product('collect-test', '{"owner": "Test", "email": "t@example.org"}');
SELECT dataplatform.define_dataset('{"dataset": "ct-regress", "product": "collect-test", "key": ["reference"],
  "fields": [{"name": "reference", "datatype": "string"}, {"name": "name", "datatype": "string"}]}') AS version;

-- the allow-list setting: superusers only, patterns checked
SET ROLE dp_t_admin;
SELECT dp_test.err($$SET dataplatform.allowed_hosts = '*'$$);
RESET ROLE;
SELECT dp_test.err($$SET dataplatform.allowed_hosts = 'bad host/'$$);
SELECT dp_test.err($$SET dataplatform.allowed_hosts = 'ok.example.org, *.example.com, [::1], *'$$);
SET dataplatform.allowed_hosts = '127.0.0.1, *.example.org';
-- address ranges name internal addresses explicitly (a host name or "*" never does)
SELECT dp_test.err($$SET dataplatform.allowed_hosts = '10.0.0.0/33'$$);
SELECT dp_test.err($$SET dataplatform.allowed_hosts = 'example.org/8'$$);
SET dataplatform.allowed_hosts = '10.20.0.0/16, fd00::/8, ::ffff:192.168.0.0/112, 127.0.0.1, *.example.org';
-- the test resolver (libcurl's CURLOPT_RESOLVE): a superuser's, entries checked
SET dataplatform.resolve_override = 'api.example.org:443:10.20.0.5, v6.example.org:80:[fd00::5]';
SELECT dp_test.err($$SET dataplatform.resolve_override = 'api.example.org:443:not-an-address'$$);
SELECT dp_test.err($$SET dataplatform.resolve_override = 'api.example.org:0:10.0.0.1'$$);
SELECT dp_test.err($$SET dataplatform.resolve_override = 'api.example.org'$$);
RESET dataplatform.resolve_override;
SET ROLE dp_t_admin;
SELECT dp_test.err($$SET dataplatform.resolve_override = 'api.example.org:443:10.0.0.1'$$);
RESET ROLE;
SET dataplatform.allowed_hosts = '127.0.0.1, *.example.org';

-- secrets: admins set them; nobody reads them back
SET ROLE dp_t_admin;
SELECT dataplatform.set_secret('api-token', 'Bearer not-a-real-token-1');
SELECT dataplatform.set_secret('api-token', 'Bearer not-a-real-token-2');   -- replaces
SELECT dp_test.err($$SELECT value FROM dataplatform.secret$$);
SELECT dp_test.err($$SELECT dataplatform.set_secret('bad', E'line\r\nX-Injected: 1')$$);
SELECT dp_test.err($$SELECT dataplatform.set_secret('empty', '')$$);
SELECT dp_test.err($$SELECT dataplatform.set_secret('', 'x')$$);
SELECT dp_test.err($$SELECT dataplatform.set_secret(NULL, 'x')$$);
SELECT dp_test.err($$SELECT dataplatform.set_secret('n', NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.drop_secret('no-such-secret')$$);
RESET ROLE;
SELECT name, updated_by FROM dataplatform.secret ORDER BY name;
SELECT action, object, detail FROM dataplatform.audit_log
 WHERE action LIKE '%secret%' ORDER BY id;
SELECT count(*) AS leaked FROM dataplatform.audit_log WHERE detail::text LIKE '%not-a-real-token%';
CREATE ROLE dp_t_producer31 IN ROLE dataplatform_producer;
SET ROLE dp_t_producer31;
SELECT dp_test.err($$SELECT dataplatform.set_secret('p', 'x')$$);
SELECT dp_test.err($$SELECT * FROM dataplatform.secret$$);
SET ROLE dp_t_plain;
SELECT dp_test.err($$SELECT dataplatform.set_secret('p', 'x')$$);
RESET ROLE;

-- a secret tied to the origins it may be sent to (normalised: lower case, port written)
SET ROLE dp_t_admin;
SELECT dataplatform.set_secret('bound-token', 'Bearer not-a-real-token-3',
  ARRAY['https://Data.Example.org', 'http://data.example.org:8080/']);
SELECT dp_test.err($$SELECT dataplatform.set_secret('b2', 'x', ARRAY[]::text[])$$);
SELECT dp_test.err($$SELECT dataplatform.set_secret('b2', 'x', ARRAY['ftp://data.example.org'])$$);
SELECT dp_test.err($$SELECT dataplatform.set_secret('b2', 'x', ARRAY['https://data.example.org/path'])$$);
SELECT dp_test.err($$SELECT dataplatform.set_secret('b2', 'x', ARRAY['https://user@data.example.org'])$$);
SELECT dp_test.err($$SELECT dataplatform.set_secret('b2', 'x', ARRAY[NULL])$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv',
  '{"name": "x", "headers": {"Authorization": {"secret": "bound-token"}}}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://data.example.org/x.csv',
  '{"name": "x", "headers": {"Authorization": {"secret": "bound-token"}}}')$$);
SELECT dataplatform.add_endpoint('ct-regress', 'https://data.example.org/bound.json',
  '{"name": "bound", "headers": {"Authorization": {"secret": "bound-token"}}}');
SELECT dp_test.err($$SELECT dataplatform.set_secret('bound-token', 'x', ARRAY['http://data.example.org:8080'])$$);
SELECT dataplatform.drop_endpoint('bound');
RESET ROLE;
SELECT name, origins FROM dataplatform.secret WHERE name = 'bound-token';

-- add_endpoint: what is known at call time is checked at call time
SET ROLE dp_t_admin;
SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/areas.csv', '{}');
SELECT dataplatform.add_endpoint('ct-regress', 'https://data.example.org/areas.json',
  '{"name": "areas-json", "format": "json", "schedule": "0 3 * * *", "timeout_ms": 5000,
    "max_bytes": 1000000, "retries": 2,
    "headers": {"Authorization": {"secret": "api-token"}, "Accept": "application/json"}}');
SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/areas.csv',
  '{"name": "areas-semicolon", "format": "csv", "csv": {"delimiter": ";"}}');
SELECT name, dataset, url, format, options, owner FROM dataplatform.endpoint ORDER BY name;
SELECT j.name, j.schedule, j.active, j.owner, j.retries, e.name AS endpoint
  FROM dataplatform.job j JOIN dataplatform.endpoint e ON e.job_id = j.id ORDER BY j.name;
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('no-such-dataset', 'http://127.0.0.1/x.csv', '{"name": "x"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'not a url', '{"name": "x"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', '/relative/path.csv', '{"name": "x"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'ftp://127.0.0.1/x.csv', '{"name": "x"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'file:///etc/passwd', '{"name": "x"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://user:pw@127.0.0.1/x.csv', '{"name": "x"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://10.0.0.1/x.csv', '{"name": "x"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://example.org/x.csv', '{"name": "x"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "fromat": "csv"}')$$);
-- the endpoint's column mapping is checked against the spec
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"column": {"Ref": "nosuch"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"column": ["Ref"]}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "format": "xml"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "schedule": "61 * * * *"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "timeout_ms": 0}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "max_bytes": 1.5}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "max_bytes": "big"}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "headers": ["a"]}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "headers": {"Bad Name": "v"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "headers": {"X-A": "v\r\nX-B: w"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "headers": {"Host": "evil"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "headers": {"Authorization": {"secret": "nope"}}}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "headers": {"Authorization": {"value": "x"}}}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x", "csv": {"separator": ";"}}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '[]')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint(NULL, 'http://127.0.0.1/x.csv', '{}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', NULL, '{}')$$);
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": ""}')$$);
-- an empty allow-list allows nothing
RESET ROLE;
SET dataplatform.allowed_hosts = '';
SET ROLE dp_t_admin;
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x"}')$$);
RESET ROLE;
SET dataplatform.allowed_hosts = '127.0.0.1, *.example.org';

-- collect, drop_endpoint, drop_secret: errors
SET ROLE dp_t_admin;
SELECT dp_test.err($$SELECT dataplatform.collect('no-such-endpoint')$$);
SELECT dp_test.err($$SELECT dataplatform.collect(NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.drop_endpoint('no-such-endpoint')$$);
SELECT dp_test.err($$SELECT dataplatform.drop_secret('api-token')$$);
SELECT dp_test.err($$SELECT dataplatform.unschedule('collect:areas-json')$$);
-- the endpoint's job is changed with alter_job
SELECT dataplatform.alter_job('collect:areas-json', schedule => '0 4 * * *', retries => 3);
SELECT name, schedule, retries FROM dataplatform.job WHERE name = 'collect:areas-json';
-- alter_endpoint: a new URL and options merged onto the stored ones, checked again
SELECT dataplatform.alter_endpoint('areas-json', 'https://files.example.org/areas.json',
  '{"schedule": "30 1 * * *", "timezone": "Europe/London", "timeout_ms": 9000, "max_bytes": null}');
SELECT name, url, format, options FROM dataplatform.endpoint WHERE name = 'areas-json';
SELECT name, schedule, timezone, active, retries FROM dataplatform.job WHERE name = 'collect:areas-json';
-- a collection run after another: collect:areas-semicolon after collect:areas-json
SELECT dataplatform.alter_endpoint('areas-semicolon', options => '{"after": "collect:areas-json"}');
SELECT name, schedule, active, after_job FROM dataplatform.job WHERE name = 'collect:areas-semicolon';
SELECT dp_test.err($$SELECT dataplatform.drop_endpoint('areas-json')$$);
SELECT dataplatform.alter_endpoint('areas-semicolon', options => '{"after": null}');
SELECT name, schedule, active, after_job FROM dataplatform.job WHERE name = 'collect:areas-semicolon';
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('no-such-endpoint', 'http://127.0.0.1/x.csv')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('areas-json')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('areas-json', options => '{"name": "renamed"}')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('areas-json', 'ftp://files.example.org/a.json')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('areas-json', 'https://elsewhere.example.com/a.json')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('areas-json', options => '{"fromat": "csv"}')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('areas-json', options => '{"timezone": "Europe/Atlantis"}')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('areas-json', options => '{"after": "collect:areas-json"}')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('areas-json', options => '[]')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('areas-json', options => '{"headers": {"Authorization": {"secret": "no-such-secret"}}}')$$);
SELECT url FROM dataplatform.endpoint WHERE name = 'areas-json';   -- unchanged by the failures
RESET ROLE;
-- another admin does not own the endpoint
CREATE ROLE dp_t_admin2 IN ROLE dataplatform_admin;
SET ROLE dp_t_admin2;
SELECT dp_test.err($$SELECT dataplatform.collect('ct-regress')$$);
SELECT dp_test.err($$SELECT dataplatform.drop_endpoint('ct-regress')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('ct-regress', 'http://127.0.0.1/y.csv')$$);
SET ROLE dp_t_producer31;
SELECT dp_test.err($$SELECT dataplatform.add_endpoint('ct-regress', 'http://127.0.0.1/x.csv', '{"name": "x"}')$$);
SELECT dp_test.err($$SELECT dataplatform.collect('ct-regress')$$);
SELECT dp_test.err($$SELECT dataplatform.alter_endpoint('ct-regress', 'http://127.0.0.1/y.csv')$$);
SELECT dp_test.err($$SELECT * FROM dataplatform.endpoint$$);
SELECT dp_test.err($$SELECT * FROM dataplatform.collection_log$$);
RESET ROLE;

-- drop: the endpoint and its job go; then the secret may go
SET ROLE dp_t_admin;
SELECT dataplatform.drop_endpoint('areas-json');
SELECT dataplatform.drop_endpoint('areas-semicolon');
SELECT dataplatform.drop_endpoint('ct-regress');
SELECT dataplatform.drop_secret('api-token');
SELECT dataplatform.drop_secret('bound-token');
RESET ROLE;
SELECT count(*) AS endpoints, (SELECT count(*) FROM dataplatform.job WHERE name LIKE 'collect:%') AS jobs,
       (SELECT count(*) FROM dataplatform.secret) AS secrets
  FROM dataplatform.endpoint;
SELECT action, object, detail FROM dataplatform.audit_log
 WHERE action IN ('add_endpoint', 'drop_endpoint', 'drop_secret', 'collect') ORDER BY id;
DROP ROLE dp_t_admin2, dp_t_producer31;
RESET dataplatform.allowed_hosts;
