-- access agreements: requested by the reading role in its own session,
-- approved by another admin, checked at every statement that reads a
-- published view (every read path), with PII and row scope per agreement;
-- revocation and expiry hold at once; reads in the audit trail name the
-- agreement; access_review; grant_consumer as an unrestricted agreement
\set VERBOSITY terse
SET DateStyle = 'ISO, YMD';
SET dataplatform.environment = 'production';
SET client_min_messages = warning;
DROP ROLE IF EXISTS dp_a_reader, dp_a_other, dp_a_admin, dp_a_bi, dp_a_bi_user, dp_a_old;
RESET client_min_messages;
-- errors naming an agreement, its id replaced (ids depend on earlier tests)
CREATE FUNCTION dp_test.err_id(q text) RETURNS text LANGUAGE sql AS
$$SELECT regexp_replace(dp_test.err(q), 'agreement [0-9]+', 'agreement <id>', 'g')$$;
CREATE ROLE dp_a_reader LOGIN IN ROLE dataplatform_consumer;
CREATE ROLE dp_a_other LOGIN IN ROLE dataplatform_consumer;
CREATE ROLE dp_a_admin LOGIN IN ROLE dataplatform_admin, dataplatform_consumer;
CREATE ROLE dp_a_bi NOLOGIN;
CREATE ROLE dp_a_bi_user LOGIN IN ROLE dataplatform_consumer, dp_a_bi;
CREATE ROLE dp_a_old LOGIN;

-- two products, a view over both
SELECT name FROM dataplatform.define_product('ag_housing');
SELECT name FROM dataplatform.define_product('ag_care');
SELECT dataplatform.define_dataset($${"dataset": "ag_home", "product": "ag_housing", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "ward", "datatype": "string"},
             {"name": "tenant", "datatype": "string", "pii": true}]}$$) IS NOT NULL AS defined;
SELECT dataplatform.define_dataset($${"dataset": "ag_case", "product": "ag_care", "key": ["id"],
  "fields": [{"name": "id", "datatype": "integer"}, {"name": "ward", "datatype": "string"},
             {"name": "client", "datatype": "string", "pii": true}]}$$) IS NOT NULL AS defined;
SELECT dataplatform.push('ag_home', $$[{"id": 1, "ward": "Dalston", "tenant": "Ann"},
  {"id": 2, "ward": "Hoxton", "tenant": "Bob"}, {"id": 3, "ward": "Dalston", "tenant": "Cy"}]$$) > 0 AS pushed;
SELECT dataplatform.push('ag_case', $$[{"id": 1, "ward": "Dalston", "client": "Dee"},
  {"id": 2, "ward": "Hoxton", "client": "Eve"}, {"id": 3, "ward": "Dalston", "client": "Fay"}]$$) > 0 AS pushed;
SELECT dataplatform.publish('ag_homes', 'ag_home') ->> 'status' AS published;
SELECT dataplatform.publish('ag_wards', 'SELECT ward, count(*) AS homes FROM ag_home GROUP BY ward') ->> 'status' AS published;
SELECT dataplatform.publish('ag_cases', 'ag_case') ->> 'status' AS published;
SELECT dataplatform.publish('ag_both', 'SELECT h.id, h.ward, h.tenant, c.client FROM ag_home h JOIN ag_case c ON c.id = h.id',
                            '{"key": "id"}') ->> 'status' AS published;

-- a consumer without an agreement reads nothing, with a hint
SET SESSION AUTHORIZATION dp_a_reader;
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_homes');

-- bad requests: each refused, naming the product and the value; nothing written
SELECT dp_test.err($$SELECT dataplatform.request_access('nope', 'report', now() + interval '1 day')$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', '  ', now() + interval '1 day')$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', '2020-01-01 00:00:00+00')$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', NULL)$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', now() + interval '1 day', '{"views": ["nope"]}')$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', now() + interval '1 day', '{"views": ["ag_cases"]}')$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', now() + interval '1 day', '{"legal_basis": "whim"}')$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', now() + interval '1 day', '{"rows": {"tenant": ["Ann"]}}')$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', now() + interval '1 day', '{"views": ["ag_homes"], "rows": {"id": ["one"]}}')$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', now() + interval '1 day', '{"rows": {"ward": []}}')$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', now() + interval '1 day', '{"colour": "red"}')$$);
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', now() + interval '1 day', '{"for_role": "dp_a_bi"}')$$);
RESET SESSION AUTHORIZATION;
-- not in the reader's own session: an admin acting through SET ROLE cannot sign for it
SET ROLE dp_a_reader;
SELECT dp_test.err($$SELECT dataplatform.request_access('ag_housing', 'report', now() + interval '1 day')$$);
RESET ROLE;
SELECT count(*) AS agreements FROM dataplatform.agreement WHERE role_name LIKE 'dp\_a\_%';

-- a request: signed by the role in its session, waiting for approval
SET SESSION AUTHORIZATION dp_a_reader;
SELECT dataplatform.request_access('ag_housing', 'monthly housing report', now() + interval '60 days',
                                   '{"legal_basis": "public_task"}') AS housing \gset
SELECT role, product, views, purpose, legal_basis, pii, rows, status, requested_by, valid_from,
       sha256 = encode(sha256(convert_to(canonical, 'UTF8')), 'hex') AS signed, reads
  FROM dataplatform.access_agreement ORDER BY id;
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_homes');
RESET SESSION AUTHORIZATION;

-- an admin cannot approve its own request; a non-admin cannot approve
SET SESSION AUTHORIZATION dp_a_admin;
SELECT dataplatform.request_access('ag_care', 'case audit', now() + interval '10 days') AS own \gset
SELECT dp_test.err_id(format('SELECT dataplatform.approve_access(%s)', :own));
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION dp_a_other;
SELECT dp_test.err_id(format('SELECT dataplatform.approve_access(%s)', :housing));
SELECT dp_test.err_id(format('SELECT dataplatform.revoke_access(%s, %L)', :housing, 'no'));
RESET SESSION AUTHORIZATION;
SELECT dataplatform.reject_access(:own, 'not needed');
SELECT dp_test.err_id(format('SELECT dataplatform.approve_access(%s)', :own));
SELECT dp_test.err('SELECT dataplatform.approve_access(-1)');

-- approved: product A readable on every path, product B not
SELECT dataplatform.approve_access(:housing, 'ok for the housing report');
SELECT dp_test.err_id(format('SELECT dataplatform.approve_access(%s)', :housing));
SELECT dp_test.err_id(format('SELECT dataplatform.reject_access(%s, %L)', :housing, 'late'));
SELECT dp_test.err_id(format('SELECT dataplatform.revoke_access(%s, %L)', :housing, ''));
SET SESSION AUTHORIZATION dp_a_reader;
SELECT id, ward, tenant ~ '^tok_' AS tenant_masked FROM dp_consumer.ag_homes ORDER BY id;
SELECT ward, homes FROM dp_consumer.ag_wards ORDER BY ward;
SELECT dataplatform.sees_pii('ag_homes') AS pii, dataplatform.sees_pii('ag_cases') AS pii_other;
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_cases');
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_both');
COPY (SELECT * FROM dp_consumer.ag_cases) TO STDOUT;
SELECT dp_test.err($$SELECT dataplatform.export('ag_cases')$$);
BEGIN;
DECLARE c CURSOR FOR SELECT client FROM dp_consumer.ag_cases;
ROLLBACK;
PREPARE p AS SELECT count(*) FROM dp_consumer.ag_cases;
EXECUTE p;
CREATE TEMP VIEW on_top AS SELECT c.client, h.tenant FROM dp_consumer.ag_cases c JOIN dp_consumer.ag_homes h USING (id);
SELECT count(*) FROM on_top;
COPY (SELECT id, ward FROM dp_consumer.ag_homes ORDER BY id) TO STDOUT;
SELECT dataplatform.export('ag_wards');
-- a consumer sees its own agreements only
SELECT role, product, status, approved_by, approval_note FROM dataplatform.access_agreement ORDER BY id;
RESET SESSION AUTHORIZATION;

-- row scope and PII follow the agreement, on every read path
SET SESSION AUTHORIZATION dp_a_other;
SELECT dataplatform.request_access('ag_care', 'Dalston casework', now() + interval '30 days',
       '{"rows": {"ward": ["Dalston"]}, "pii": true, "legal_basis": "legal_obligation"}') AS care \gset
RESET SESSION AUTHORIZATION;
SELECT dataplatform.approve_access(:care);
SET SESSION AUTHORIZATION dp_a_other;
SELECT id, ward, client FROM dp_consumer.ag_cases ORDER BY id;
SELECT count(*) AS hoxton_rows FROM dp_consumer.ag_cases WHERE ward = 'Hoxton';
COPY (SELECT id, client FROM dp_consumer.ag_cases ORDER BY id) TO STDOUT;
BEGIN;
DECLARE c CURSOR FOR SELECT id, client FROM dp_consumer.ag_cases ORDER BY id;
FETCH ALL FROM c;
COMMIT;
PREPARE q(int) AS SELECT client FROM dp_consumer.ag_cases WHERE id = $1;
EXECUTE q(1);
EXECUTE q(2);
CREATE TEMP VIEW scoped AS SELECT id, client FROM dp_consumer.ag_cases;
SELECT id, client FROM scoped ORDER BY id;
SELECT dataplatform.export('ag_cases');
SELECT dataplatform.export('ag_cases', 'json');
-- a view over two products needs an agreement for each
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_both');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION dp_a_reader;
SELECT dataplatform.request_access('ag_care', 'joined report', now() + interval '30 days',
       '{"views": ["ag_both"]}') AS both_care \gset
RESET SESSION AUTHORIZATION;
SELECT dataplatform.approve_access(:both_care);
SET SESSION AUTHORIZATION dp_a_reader;
SELECT id, ward, tenant ~ '^tok_' AS tenant_masked, client ~ '^tok_' AS client_masked FROM dp_consumer.ag_both ORDER BY id;
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_cases');
RESET SESSION AUTHORIZATION;

-- for a group role, by one of its members
SET SESSION AUTHORIZATION dp_a_bi_user;
SELECT dataplatform.request_access('ag_housing', 'dashboard', now() + interval '7 days',
       '{"for_role": "dp_a_bi", "views": ["ag_wards"]}') AS bi \gset
RESET SESSION AUTHORIZATION;
SELECT dataplatform.approve_access(:bi);
SET SESSION AUTHORIZATION dp_a_bi_user;
SELECT ward, homes FROM dp_consumer.ag_wards ORDER BY ward;
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_homes');
SELECT role, product, views, requested_by FROM dataplatform.access_agreement ORDER BY id;
RESET SESSION AUTHORIZATION;

-- revocation holds from the next statement (inside an open transaction of
-- the reader: test/isolation/specs/agreement_revoke.spec)
SELECT dataplatform.revoke_access(:housing, 'report cancelled');
SELECT dp_test.err_id(format('SELECT dataplatform.revoke_access(%s, %L)', :housing, 'again'));
SET SESSION AUTHORIZATION dp_a_reader;
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_homes');
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_both');
EXECUTE p;
SELECT status FROM dataplatform.access_agreement WHERE id = :housing;
RESET SESSION AUTHORIZATION;

-- expiry holds at the instant, before the worker marks it
SET SESSION AUTHORIZATION dp_a_reader;
SELECT dataplatform.request_access('ag_housing', 'one quick look', clock_timestamp() + interval '2 seconds') AS quick \gset
RESET SESSION AUTHORIZATION;
SELECT dataplatform.approve_access(:quick);
SET SESSION AUTHORIZATION dp_a_reader;
SELECT count(*) AS before_expiry FROM dp_consumer.ag_homes;
SELECT pg_sleep(2.2);
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_homes');
SELECT status FROM dataplatform.access_agreement WHERE id = :quick;
RESET SESSION AUTHORIZATION;
SELECT dp_test.err_id(format('SELECT dataplatform.revoke_access(%s, %L)', :quick, 'late'));
-- the worker marks it expired and audits it (bounded wait)
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM dataplatform.audit_log WHERE action = 'expire_access');
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
SELECT a.status, a.close_reason, l.action FROM dataplatform.agreement a
  JOIN dataplatform.audit_log l ON l.action = 'expire_access' AND (l.detail ->> 'agreement')::bigint = a.id
 WHERE a.id = :quick;

-- grant_consumer: an unrestricted agreement over every product
SELECT dataplatform.grant_consumer('dp_a_old');
SET ROLE dp_a_old;
SELECT count(*) FROM dp_consumer.ag_both;
RESET ROLE;

-- every read names its agreement(s); request, approve, reject, revoke are audited
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM dataplatform.audit_log
					WHERE action = 'read' AND role_name = 'dp_a_old');
		PERFORM pg_sleep(0.1);
	END LOOP;
END
$$;
SELECT DISTINCT l.role_name, l.object, a.purpose
  FROM dataplatform.audit_log l
  JOIN dataplatform.agreement a ON (l.detail -> 'agreements') @> to_jsonb(a.id)
 WHERE l.action = 'read' AND l.role_name LIKE 'dp\_a\_%'
 ORDER BY 1, 2, 3;
SELECT count(*) AS reads_without_agreement FROM dataplatform.audit_log
 WHERE action = 'read' AND role_name LIKE 'dp\_a\_%' AND NOT detail ? 'agreements';
SELECT action, count(*) FROM dataplatform.audit_log
 WHERE action IN ('request_access', 'approve_access', 'reject_access', 'revoke_access', 'expire_access')
 GROUP BY action ORDER BY action;

-- the review: unrestricted, never read, unused, expiring
SELECT role, product, purpose, findings FROM dataplatform.access_review() WHERE role LIKE 'dp\_a\_%' ORDER BY id;
SELECT role, product, reads > 0 AS read, last_read_at IS NOT NULL AS has_last_read
  FROM dataplatform.access_agreement WHERE status = 'active' AND role LIKE 'dp\_a\_%' ORDER BY id;
SET SESSION AUTHORIZATION dp_a_reader;
SELECT dp_test.err('SELECT * FROM dataplatform.access_review()');
SELECT dp_test.err('SELECT * FROM dataplatform.agreement');
RESET SESSION AUTHORIZATION;

-- revoke_consumer takes the unrestricted agreement
SELECT dataplatform.revoke_consumer('dp_a_old');
SET ROLE dp_a_old;
SELECT dp_test.err('SELECT count(*) FROM dp_consumer.ag_homes');
RESET ROLE;

DROP VIEW on_top;
DROP VIEW scoped;
DEALLOCATE p;
DEALLOCATE q;
SELECT dataplatform.unpublish(v) FROM unnest(ARRAY['ag_both', 'ag_homes', 'ag_wards', 'ag_cases']) v;
RESET dataplatform.environment;
DROP FUNCTION dp_test.err_id(text);
DROP ROLE dp_a_reader, dp_a_other, dp_a_admin, dp_a_bi, dp_a_bi_user, dp_a_old;
