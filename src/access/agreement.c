/*
 * agreement.c
 *		The access agreement API: request_access (by the reading role, in
 *		its own session), approve_access, reject_access, revoke_access
 *		(admins), grant_consumer's unrestricted agreement, and the worker's
 *		expiry pass.  Enforcement is in enforce.c.
 *
 * Each call is one transaction's work: validation first, then one row
 * written and its audit record, so a failed call leaves nothing.  Status
 * changes lock the agreement's row (FOR UPDATE), so a concurrent approve and
 * revoke of one agreement run one after the other and leave one state.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "access.h"
#include "agreement.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_request_access);
PG_FUNCTION_INFO_V1(dp_approve_access);
PG_FUNCTION_INFO_V1(dp_reject_access);
PG_FUNCTION_INFO_V1(dp_revoke_access);

static const char *const legal_bases[] = {
	"consent", "contract", "legal_obligation", "vital_interests", "public_task",
	"legitimate_interests", NULL
};

/* The SHA-256 of the canonical text, computed where the row is written. */
#define CANONICAL_SQL \
	"pg_catalog.jsonb_build_object('role', a.role_name, 'product', a.product, 'views', a.views, " \
	"'purpose', a.purpose, 'legal_basis', a.legal_basis, 'pii', a.pii, 'rows', a.row_scope, " \
	"'valid_until', a.valid_until AT TIME ZONE 'UTC')::text"

static char *
json_str(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s);
	return buf.data;
}

static void
option_error(const char *product, const char *key, const char *expected, json_t *got)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("access request for data product \"%s\": option \"%s\" must be %s, not %s",
					product, key, expected, dp_json_type_name(got))));
}

/*
 * The published views of a product, as an SQL array literal's elements in
 * SPI's result (one row per view).  Caller is connected to SPI.
 */
static uint64
product_views(const char *product)
{
	const char *args[1] = {product};

	return dp_spi_exec_text("SELECT DISTINCT s.view FROM dataplatform.consumer_source s "
							"JOIN dataplatform.datasets d ON d.name = s.dataset "
							"WHERE d.product = $1 ORDER BY 1", 1, args);
}

static void
scope_error_context(void *arg)
{
	errcontext("%s", (const char *) arg);
}

/*
 * The row scope, checked against every view in scope and canonicalised:
 * each value as the text of the column's type (so that the check compares
 * what the column holds).  Returns the scope as JSON text.
 */
static char *
check_rows(const char *product, json_t *rows, List *views)
{
	StringInfoData out;
	const char *col;
	json_t	   *vals;
	bool		first = true;

	if (!json_is_object(rows) || json_object_size(rows) == 0)
		option_error(product, "rows", "a non-empty object {\"column\": [values, ...]}", rows);
	initStringInfo(&out);
	appendStringInfoChar(&out, '{');
	json_object_foreach(rows, col, vals)
	{
		ListCell   *lc;
		char	   *type = NULL;
		size_t		i;
		json_t	   *v;

		if (!json_is_array(vals) || json_array_size(vals) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("access request for data product \"%s\": row scope of column \"%s\" must be a non-empty array of values",
							product, col)));
		foreach(lc, views)
		{
			const char *args[2] = {lfirst(lc), col};

			if (dp_spi_exec_text("SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) "
								 "FROM pg_catalog.pg_attribute a "
								 "WHERE a.attrelid = pg_catalog.to_regclass('dp_consumer.' || pg_catalog.quote_ident($1)) "
								 "AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
								 2, args) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("access request for data product \"%s\": row scope column \"%s\" is not a column of view \"%s\"",
								product, col, (char *) lfirst(lc)),
						 errhint("A row scope column must be a column of every view in scope; name the views with option \"views\".")));
			if (type == NULL)
				type = pstrdup(dp_spi_getvalue(0, 1));
		}
		appendStringInfo(&out, "%s%s: [", first ? "" : ", ", json_str(col));
		first = false;
		json_array_foreach(vals, i, v)
		{
			char	   *value;

			if (json_is_string(v))
				value = pstrdup(json_string_value(v));
			else if (json_is_integer(v))
				value = psprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
			else if (json_is_real(v))
			{
				double		d = json_real_value(v);

				value = (d == (double) (int64) d) ? psprintf(INT64_FORMAT, (int64) d) : psprintf("%.17g", d);
			}
			else if (json_is_boolean(v))
				value = pstrdup(json_is_true(v) ? "true" : "false");
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("access request for data product \"%s\": row scope value of column \"%s\" must be a string, number or boolean, not %s",
								product, col, dp_json_type_name(v))));
			if (type != NULL)
			{
				const char *args[1] = {value};
				ErrorContextCallback cb;
				char	   *where = psprintf("row scope of column \"%s\" in the access request for data product \"%s\"",
											 col, product);

				/* a value the column's type does not take: the cast's 22P02, with where */
				cb.callback = scope_error_context;
				cb.arg = where;
				cb.previous = error_context_stack;
				error_context_stack = &cb;
				dp_spi_exec_text(psprintf("SELECT $1::%s::text", type), 1, args);
				error_context_stack = cb.previous;
				value = pstrdup(dp_spi_getvalue(0, 1));
			}
			appendStringInfo(&out, "%s%s", i ? ", " : "", json_str(value));
		}
		appendStringInfoChar(&out, ']');
	}
	appendStringInfoChar(&out, '}');
	return out.data;
}

/*
 * request_access(product, purpose, valid_until, options): a request by the
 * role that will read, in its own session.  Returns the agreement's id.
 */
Datum
dp_request_access(PG_FUNCTION_ARGS)
{
	char	   *product = dp_arg_cstring(fcinfo, 0, "product");
	char	   *purpose = dp_arg_cstring(fcinfo, 1, "purpose");
	TimestampTz valid_until;
	json_t	   *opts;
	const char *key;
	json_t	   *val;
	Oid			caller = dp_caller_id();
	char	   *caller_name = GetUserNameFromId(caller, false);
	char	   *role_name = caller_name;
	char	   *session_name = GetUserNameFromId(GetSessionUserId(), false);
	char	   *legal_basis = NULL;
	bool		pii = false;
	json_t	   *rows = NULL;
	json_t	   *views_opt = NULL;
	List	   *views = NIL;
	char	   *views_sql = NULL;
	char	   *rows_sql = NULL;
	char	   *until_text;
	const char *args[9];
	int64		id;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("access request for data product \"%s\": valid_until must not be null", product),
				 errhint("Every agreement expires; ask again before it does.")));
	valid_until = PG_GETARG_TIMESTAMPTZ(2);
	until_text = DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(valid_until)));
	if (strspn(purpose, " \t\r\n") == strlen(purpose))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("access request for data product \"%s\": purpose must not be empty", product),
				 errhint("State what the data is read for, e.g. \"monthly housing report\".")));
	if (valid_until <= GetCurrentTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("access request for data product \"%s\": valid_until %s is in the past", product, until_text)));
	if (GetSessionUserId() != caller)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("access to data product \"%s\" must be requested in the reading role's own session", product),
				 errdetail("Session role \"%s\" acts as \"%s\".", session_name, caller_name),
				 errhint("Connect as \"%s\" and call request_access there; for a group role, use option \"for_role\".",
						 caller_name)));

	opts = PG_ARGISNULL(3) ? NULL : dp_json_from_jsonb(PG_GETARG_JSONB_P(3), "the options");
	if (opts && !json_is_object(opts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("access request for data product \"%s\": options must be a JSON object", product)));
	if (opts)
		json_object_foreach(opts, key, val)
		{
			if (strcmp(key, "views") == 0)
			{
				if (!json_is_array(val) || json_array_size(val) == 0)
					option_error(product, key, "a non-empty array of view names", val);
				views_opt = val;
			}
			else if (strcmp(key, "pii") == 0)
			{
				if (!json_is_boolean(val))
					option_error(product, key, "a boolean", val);
				pii = json_is_true(val);
			}
			else if (strcmp(key, "rows") == 0)
				rows = val;
			else if (strcmp(key, "legal_basis") == 0)
			{
				int			i;

				if (!json_is_string(val))
					option_error(product, key, "a string", val);
				legal_basis = pstrdup(json_string_value(val));
				for (i = 0; legal_bases[i] && strcmp(legal_bases[i], legal_basis) != 0; i++)
					;
				if (legal_bases[i] == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("access request for data product \"%s\": unknown legal basis \"%s\"", product, legal_basis),
							 errhint("Use consent, contract, legal_obligation, vital_interests, public_task or legitimate_interests.")));
			}
			else if (strcmp(key, "for_role") == 0)
			{
				Oid			group;

				if (!json_is_string(val))
					option_error(product, key, "a string", val);
				role_name = pstrdup(json_string_value(val));
				group = get_role_oid(role_name, true);
				if (!OidIsValid(group))
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_OBJECT),
							 errmsg("access request for data product \"%s\": role \"%s\" does not exist", product, role_name)));
				if (!is_member_of_role(caller, group))
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("access request for data product \"%s\": role \"%s\" is not a member of \"%s\"",
									product, caller_name, role_name),
							 errhint("Request for a group role only as one of its members.")));
			}
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("access request for data product \"%s\": unknown option \"%s\"", product, key),
						 errhint("Options are views, pii, rows, legal_basis and for_role.")));
		}

	SPI_connect();
	args[0] = product;
	if (dp_spi_exec_text("SELECT 1 FROM dataplatform.products WHERE name = $1", 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("access request: data product \"%s\" does not exist", product),
				 errhint("dataplatform.product lists the data products.")));
	if (views_opt)
	{
		size_t		i;
		json_t	   *v;
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoChar(&buf, '{');
		json_array_foreach(views_opt, i, v)
		{
			const char *vargs[2];

			if (!json_is_string(v))
				option_error(product, "views", "an array of view names", v);
			vargs[0] = json_string_value(v);
			vargs[1] = product;
			if (dp_spi_exec_text("SELECT 1 FROM dataplatform.consumer_view WHERE name = $1", 1, vargs) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("access request for data product \"%s\": view \"%s\" is not published", product, vargs[0]),
						 errhint("dataplatform.consumer_status lists the published views.")));
			if (dp_spi_exec_text("SELECT 1 FROM dataplatform.consumer_source s "
								 "JOIN dataplatform.datasets d ON d.name = s.dataset "
								 "WHERE s.view = $1 AND d.product = $2", 2, vargs) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("access request for data product \"%s\": view \"%s\" is not a view of that product", product, vargs[0])));
			if (!list_member(views, makeString(pstrdup(vargs[0]))))
			{
				views = lappend(views, makeString(pstrdup(vargs[0])));
				appendStringInfo(&buf, "%s%s", list_length(views) > 1 ? "," : "", json_str(vargs[0]));
			}
		}
		appendStringInfoChar(&buf, '}');
		views_sql = buf.data;
	}
	if (rows)
	{
		List	   *scope = NIL;
		ListCell   *lc;

		if (views)
			foreach(lc, views)
				scope = lappend(scope, strVal(lfirst(lc)));
		else
		{
			uint64		n = product_views(product);

			for (uint64 i = 0; i < n; i++)
				scope = lappend(scope, pstrdup(dp_spi_getvalue(i, 1)));
		}
		rows_sql = check_rows(product, rows, scope);
	}

	args[0] = role_name;
	args[1] = product;
	args[2] = views_sql;
	args[3] = purpose;
	args[4] = legal_basis;
	args[5] = pii ? "true" : "false";
	args[6] = rows_sql;
	args[7] = until_text;
	args[8] = session_name;
	dp_spi_exec_text("WITH a AS (SELECT $1::name AS role_name, $2 AS product, $3::text[] AS views, "
					 "$4 AS purpose, $5 AS legal_basis, $6::boolean AS pii, $7::jsonb AS row_scope, "
					 "$8::timestamptz AS valid_until) "
					 "INSERT INTO dataplatform.agreement (role_name, product, views, purpose, legal_basis, "
					 "pii, row_scope, valid_until, canonical, sha256, requested_by) "
					 "SELECT a.role_name, a.product, a.views, a.purpose, a.legal_basis, a.pii, a.row_scope, "
					 "a.valid_until, " CANONICAL_SQL ", "
					 "pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(" CANONICAL_SQL ", 'UTF8')), 'hex'), "
					 "$9::name FROM a RETURNING id, sha256",
					 9, args);
	id = pg_strtoint64(dp_spi_getvalue(0, 1));
	dp_audit("request_access", product,
			 psprintf("{\"agreement\": " INT64_FORMAT ", \"role\": %s, \"purpose\": %s, \"sha256\": %s}",
					  id, json_str(role_name), json_str(purpose), json_str(dp_spi_getvalue(0, 2))));
	SPI_finish();
	PG_RETURN_INT64(id);
}

/*
 * Lock agreement id and return its status, role and requester (SPI result
 * row 0: status, role_name, requested_by, valid_until <= now(), product).
 * ERROR 42704 when there is none.  Caller is connected to SPI.
 */
static char *
lock_agreement(int64 id)
{
	char	   *idtext = psprintf(INT64_FORMAT, id);
	const char *args[1] = {idtext};

	if (dp_spi_exec_text("SELECT a.status, a.role_name, a.requested_by, "
						 "a.valid_until IS NOT NULL AND a.valid_until <= pg_catalog.clock_timestamp(), "
						 "COALESCE(a.product, '*') "
						 "FROM dataplatform.agreement a WHERE a.id = $1::bigint FOR UPDATE",
						 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("access agreement " INT64_FORMAT " does not exist", id),
				 errhint("dataplatform.access_agreement lists the agreements.")));
	return pstrdup(dp_spi_getvalue(0, 1));
}

static void
not_in_state(int64 id, const char *action, const char *status, const char *needed)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s access agreement " INT64_FORMAT ": it is %s, not %s", action, id, status, needed)));
}

static char *
reason_arg(FunctionCallInfo fcinfo, int n, int64 id, const char *action)
{
	char	   *reason = PG_ARGISNULL(n) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(n));

	if (strspn(reason, " \t\r\n") == strlen(reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot %s access agreement " INT64_FORMAT ": a reason is required", action, id)));
	return reason;
}

Datum
dp_approve_access(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	char	   *note = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *status;
	char	   *role_name;
	char	   *product;
	char	   *session_name = GetUserNameFromId(GetSessionUserId(), false);
	const char *args[3];
	Oid			role;
	Oid			consumer;

	dp_require_admin("approve access agreements");
	SPI_connect();
	status = lock_agreement(id);
	role_name = pstrdup(dp_spi_getvalue(0, 2));
	product = pstrdup(dp_spi_getvalue(0, 5));
	if (strcmp(status, "requested") != 0)
		not_in_state(id, "approve", status, "requested");
	if (strcmp(dp_spi_getvalue(0, 3), session_name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot approve access agreement " INT64_FORMAT ": it was requested by \"%s\", this session's role",
						id, session_name),
				 errhint("Another administrator approves it.")));
	if (strcmp(dp_spi_getvalue(0, 4), "t") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot approve access agreement " INT64_FORMAT ": its validity ended before approval", id),
				 errhint("The role requests again with a later valid_until.")));
	role = get_role_oid(role_name, true);
	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("cannot approve access agreement " INT64_FORMAT ": role \"%s\" no longer exists", id, role_name)));
	/* the published views are granted to the consumer group */
	consumer = get_role_oid(DP_ROLE_CONSUMER, false);
	if (!has_privs_of_role(role, consumer))
		dp_spi_exec(psprintf("GRANT %s TO %s", DP_ROLE_CONSUMER, quote_identifier(role_name)),
					0, NULL, NULL, NULL);
	args[0] = psprintf(INT64_FORMAT, id);
	args[1] = GetUserNameFromId(dp_caller_id(), false);
	args[2] = note;
	dp_spi_exec_text("UPDATE dataplatform.agreement SET status = 'active', approved_by = $2::name, "
					 "approved_at = pg_catalog.clock_timestamp(), approval_note = $3 WHERE id = $1::bigint",
					 3, args);
	dp_audit("approve_access", product,
			 psprintf("{\"agreement\": " INT64_FORMAT ", \"role\": %s%s%s}", id, json_str(role_name),
					  note ? ", \"note\": " : "", note ? json_str(note) : ""));
	SPI_finish();
	PG_RETURN_VOID();
}

/* reject (a request) or revoke (an active agreement), with a reason */
static void
close_agreement(FunctionCallInfo fcinfo, bool revoke)
{
	int64		id = PG_GETARG_INT64(0);
	const char *action = revoke ? "revoke" : "reject";
	char	   *reason;
	char	   *status;
	char	   *product;
	char	   *role_name;
	const char *args[4];

	dp_require_admin(revoke ? "revoke access agreements" : "reject access requests");
	reason = reason_arg(fcinfo, 1, id, action);
	SPI_connect();
	status = lock_agreement(id);
	role_name = pstrdup(dp_spi_getvalue(0, 2));
	product = pstrdup(dp_spi_getvalue(0, 5));
	if (revoke && strcmp(status, "active") == 0 && strcmp(dp_spi_getvalue(0, 4), "t") == 0)
		status = "expired";
	if (strcmp(status, revoke ? "active" : "requested") != 0)
		not_in_state(id, action, status, revoke ? "active" : "requested");
	args[0] = psprintf(INT64_FORMAT, id);
	args[1] = revoke ? "revoked" : "rejected";
	args[2] = GetUserNameFromId(dp_caller_id(), false);
	args[3] = reason;
	dp_spi_exec_text("UPDATE dataplatform.agreement SET status = $2, closed_by = $3::name, "
					 "closed_at = pg_catalog.clock_timestamp(), close_reason = $4 WHERE id = $1::bigint",
					 4, args);
	dp_audit(revoke ? "revoke_access" : "reject_access", product,
			 psprintf("{\"agreement\": " INT64_FORMAT ", \"role\": %s, \"reason\": %s}",
					  id, json_str(role_name), json_str(reason)));
	SPI_finish();
}

Datum
dp_reject_access(PG_FUNCTION_ARGS)
{
	close_agreement(fcinfo, false);
	PG_RETURN_VOID();
}

Datum
dp_revoke_access(PG_FUNCTION_ARGS)
{
	close_agreement(fcinfo, true);
	PG_RETURN_VOID();
}

/* Whether the agreement table exists (not before the update to 0.2). */
static bool
agreements_installed(void)
{
	return dp_spi_exec_text("SELECT 1 FROM pg_catalog.pg_class "
							"WHERE oid = pg_catalog.to_regclass('dataplatform.agreement')", 0, NULL) > 0;
}

int64
dp_agreement_grant_unrestricted(const char *role_name, bool pii)
{
	const char *args[3];

	if (!agreements_installed())
		return 0;

	args[0] = role_name;
	args[1] = pii ? "true" : "false";
	args[2] = GetUserNameFromId(dp_caller_id(), false);
	if (dp_spi_exec_text("SELECT id FROM dataplatform.agreement WHERE role_name = $1::name "
						 "AND product IS NULL AND status = 'active' AND pii = $2::boolean",
						 2, args) > 0)
		return pg_strtoint64(dp_spi_getvalue(0, 1));
	/* a grant with the other pii replaces the one before */
	dp_spi_exec_text("UPDATE dataplatform.agreement SET status = 'revoked', closed_by = $3::name, "
					 "closed_at = pg_catalog.clock_timestamp(), close_reason = 'replaced by grant_consumer' "
					 "WHERE role_name = $1::name AND product IS NULL AND status = 'active'",
					 3, args);
	dp_spi_exec_text("WITH a AS (SELECT $1::name AS role_name, NULL::text AS product, NULL::text[] AS views, "
					 "'unrestricted'::text AS purpose, NULL::text AS legal_basis, $2::boolean AS pii, "
					 "NULL::jsonb AS row_scope, NULL::timestamptz AS valid_until) "
					 "INSERT INTO dataplatform.agreement (role_name, product, views, purpose, legal_basis, "
					 "pii, row_scope, valid_until, canonical, sha256, status, requested_by, "
					 "approved_by, approved_at, approval_note) "
					 "SELECT a.role_name, a.product, a.views, a.purpose, a.legal_basis, a.pii, a.row_scope, "
					 "a.valid_until, " CANONICAL_SQL ", "
					 "pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(" CANONICAL_SQL ", 'UTF8')), 'hex'), "
					 "'active', $3::name, $3::name, pg_catalog.clock_timestamp(), 'grant_consumer' "
					 "FROM a RETURNING id",
					 3, args);
	return pg_strtoint64(dp_spi_getvalue(0, 1));
}

bool
dp_agreement_revoke_unrestricted(const char *role_name)
{
	const char *args[2];

	if (!agreements_installed())
		return false;
	args[0] = role_name;
	args[1] = GetUserNameFromId(dp_caller_id(), false);
	dp_spi_exec_text("UPDATE dataplatform.agreement SET status = 'revoked', closed_by = $2::name, "
					 "closed_at = pg_catalog.clock_timestamp(), close_reason = 'revoke_consumer' "
					 "WHERE role_name = $1::name AND product IS NULL AND status = 'active'",
					 2, args);
	return dp_spi_exec_text("SELECT 1 FROM dataplatform.agreement WHERE role_name = $1::name "
							"AND status = 'active'", 1, args) > 0;
}

int
dp_agreement_expire(void)
{
	uint64		n = 0;

	dp_bg_xact_begin("dataplatform: expire access agreements", false);
	if (agreements_installed())
	{
		n = dp_spi_exec_text("UPDATE dataplatform.agreement SET status = 'expired', closed_at = valid_until, "
							 "close_reason = 'validity ended' "
							 "WHERE status = 'active' AND valid_until <= pg_catalog.clock_timestamp() "
							 "RETURNING id, role_name, product, valid_until", 0, NULL);
		if (n > 0)
		{
			SPITupleTable *tt = SPI_tuptable;

			SPI_tuptable = NULL;
			for (uint64 i = 0; i < n; i++)
			{
				char	   *id = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
				char	   *role = SPI_getvalue(tt->vals[i], tt->tupdesc, 2);
				char	   *product = SPI_getvalue(tt->vals[i], tt->tupdesc, 3);
				char	   *until = SPI_getvalue(tt->vals[i], tt->tupdesc, 4);

				dp_audit("expire_access", product ? product : "*",
						 psprintf("{\"agreement\": %s, \"role\": %s, \"valid_until\": %s}",
								  id, json_str(role), json_str(until)));
			}
		}
	}
	dp_bg_xact_end();
	return (int) n;
}
