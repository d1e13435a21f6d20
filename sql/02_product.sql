-- data products, producer and consumer grants
\set VERBOSITY terse

SELECT name, description, domain, owner, email, status, retention_days, tags,
       producers, datasets
  FROM dataplatform.define_product('housing',
  '{"description": "Council housing", "domain": "housing", "owner": "Housing Data Team",
    "email": "housing-data@example.gov.uk", "status": "published",
    "retention_days": 2555, "tags": ["housing", "tenure"]}');
-- a product with retention makes the daily retention job (once)
SELECT name, schedule, command, active FROM dataplatform.job WHERE name = 'dataplatform: retention';

-- upsert: keys absent keep their value, keys present (null included) replace it
SELECT name, description, domain, owner, email, status, retention_days, tags
  FROM dataplatform.define_product('housing', '{"status": "draft", "domain": null}');
-- meta defaults to {}
SELECT name, status, tags FROM dataplatform.define_product('planning');
-- NULL metadata is no metadata
SELECT name, status, tags FROM dataplatform.define_product('planning', NULL);
SELECT name, status FROM dataplatform.define_product('planning-2', '{"status": "retired"}');
SELECT name, status, tags FROM dataplatform.product ORDER BY name;

-- bad input
SELECT dp_test.err($$SELECT dataplatform.define_product('Housing')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('has space')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product(NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.define_product(repeat('a', 64))$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('housing', '[1, 2]')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('housing', '{"colour": "blue"}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('housing', '{"status": "live"}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('housing', '{"email": "not-an-email"}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('housing', '{"retention_days": -1}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('housing', '{"retention_days": "30"}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('housing', '{"tags": "a"}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('housing', '{"tags": [1]}')$$);
SELECT dp_test.err($$SELECT dataplatform.define_product('housing', '{"owner": 5}')$$);
-- nothing was written by the failed calls
SELECT name, status, domain FROM dataplatform.product WHERE name = 'housing';

-- producer grants
SELECT dataplatform.grant_producer('housing', 'dp_t_producer');
SELECT dataplatform.grant_producer('housing', 'dp_t_producer');  -- idempotent
SELECT dataplatform.grant_producer('planning', 'dp_t_producer');
SELECT name, producers FROM dataplatform.product ORDER BY name;
SELECT pg_has_role('dp_t_producer', 'dataplatform_producer', 'MEMBER');
SELECT dataplatform.revoke_producer('housing', 'dp_t_producer');
-- still a producer of planning
SELECT pg_has_role('dp_t_producer', 'dataplatform_producer', 'MEMBER');
SELECT dataplatform.revoke_producer('planning', 'dp_t_producer');
SELECT pg_has_role('dp_t_producer', 'dataplatform_producer', 'MEMBER');
SELECT dataplatform.grant_producer('housing', 'dp_t_producer');

SELECT dp_test.err($$SELECT dataplatform.grant_producer('nope', 'dp_t_producer')$$);
SELECT dp_test.err($$SELECT dataplatform.grant_producer('housing', 'no_such_role')$$);
SELECT dp_test.err($$SELECT dataplatform.grant_producer('housing', 'dataplatform_consumer')$$);
SELECT dp_test.err($$SELECT dataplatform.revoke_producer('housing', 'dp_t_other')$$);
SELECT dp_test.err($$SELECT dataplatform.grant_producer(NULL, 'dp_t_other')$$);
SELECT dp_test.err($$SELECT dataplatform.grant_producer('housing', NULL)$$);

-- consumer grants
SELECT dataplatform.grant_consumer('dp_t_reader');
SELECT pg_has_role('dp_t_reader', 'dataplatform_consumer', 'MEMBER');
SELECT dataplatform.revoke_consumer('dp_t_reader');
SELECT pg_has_role('dp_t_reader', 'dataplatform_consumer', 'MEMBER');
SELECT dp_test.err($$SELECT dataplatform.revoke_consumer('dp_t_reader')$$);
SELECT dp_test.err($$SELECT dataplatform.grant_consumer('no_such_role')$$);
SELECT dp_test.err($$SELECT dataplatform.grant_consumer(NULL)$$);
SELECT dataplatform.grant_consumer('dp_t_reader');

-- admin-only
SET ROLE dp_t_plain;
SELECT dp_test.err($$SELECT dataplatform.define_product('x')$$);
SET ROLE dp_t_producer;
SELECT dp_test.err($$SELECT dataplatform.grant_producer('housing', 'dp_t_producer')$$);
SELECT dp_test.err($$SELECT dataplatform.grant_consumer('dp_t_producer')$$);
RESET ROLE;
-- the C functions check the caller too, should EXECUTE ever be granted wider
GRANT EXECUTE ON FUNCTION dataplatform.define_product(text, jsonb) TO dp_t_producer;
SET ROLE dp_t_producer;
SELECT dp_test.err($$SELECT dataplatform.define_product('x')$$);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION dataplatform.define_product(text, jsonb) FROM dp_t_producer;
-- an admin that is not superuser can
SET ROLE dp_t_admin;
SELECT name, status FROM dataplatform.define_product('finance', '{"owner": "Finance"}');
SELECT dataplatform.grant_producer('finance', 'dp_t_other');
RESET ROLE;

-- every grant is recorded
SELECT role_name, action, object, detail FROM dataplatform.audit_log
 WHERE action IN ('grant_producer', 'revoke_producer', 'grant_consumer', 'revoke_consumer')
 ORDER BY id;
SELECT role_name, action, object FROM dataplatform.audit_log
 WHERE action = 'define_product' ORDER BY id;
