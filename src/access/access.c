/*
 * access.c
 *		The caller's identity and privileges, the audit record, and the
 *		grant/revoke API for producers and consumers.
 *
 * API functions are SECURITY DEFINER: they run as the extension owner, so
 * GetUserId() is the owner.  The caller is GetOuterUserId(), the role set by
 * login or SET ROLE, which a SECURITY DEFINER call does not change.  A
 * SECURITY DEFINER function of some other owner that calls our API is
 * therefore checked against the role that called it, which can only deny
 * more, never grant more.
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "access.h"
#include "agreement.h"
#include "audit.h"
#include "naming.h"
#include "partition.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_grant_producer);
PG_FUNCTION_INFO_V1(dp_revoke_producer);
PG_FUNCTION_INFO_V1(dp_grant_consumer);
PG_FUNCTION_INFO_V1(dp_revoke_consumer);

Oid
dp_caller_id(void)
{
	return GetOuterUserId();
}

bool
dp_caller_has_role(const char *role_name)
{
	Oid			caller = dp_caller_id();
	Oid			role = get_role_oid(role_name, true);

	if (superuser_arg(caller))
		return true;
	return OidIsValid(role) && has_privs_of_role(caller, role);
}

void
dp_require_admin(const char *action)
{
	if (!dp_caller_has_role(DP_ROLE_ADMIN))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", action),
				 errdetail("Role \"%s\" is not a member of %s.",
						   GetUserNameFromId(dp_caller_id(), false),
						   DP_ROLE_ADMIN),
				 errhint("Ask an administrator to grant %s to this role.",
						 DP_ROLE_ADMIN)));
}

void
dp_audit(const char *action, const char *object, const char *detail_json)
{
	const char *args[7];
	char		statement_id[DP_AUDIT_STATEMENT_ID_LEN];
	TimestampTz at = GetCurrentTimestamp();

	dp_audit_statement_id(statement_id);
	args[0] = GetUserNameFromId(dp_caller_id(), false);
	args[1] = GetUserNameFromId(GetSessionUserId(), false);
	args[2] = action;
	args[3] = object;
	args[4] = detail_json ? detail_json : "{}";
	args[5] = statement_id;
	/* ISO 8601 with its offset: read back the same whatever DateStyle */
	args[6] = pstrdup(timestamptz_to_str(at));

	/*
	 * The partition of this month (the worker makes it ahead): made here
	 * when missing, so a partition being attached meanwhile is never one
	 * this row should have gone to (the DEFAULT partition would refuse it).
	 */
	dp_partition_ensure("dataplatform", "audit_log", at);
	dp_spi_exec_text_kept("INSERT INTO dataplatform.audit_log "
						  "(role_name, session_role, client_addr, action, object, detail, statement_id, at) "
						  "VALUES ($1::name, $2::name, pg_catalog.inet_client_addr(), "
						  "$3, $4, $5::jsonb, $6, $7::timestamptz)",
						  7, args);
}

/*
 * Resolve a role argument for a grant: it must exist and must not be one of
 * the extension's own group roles or a superuser's business.
 */
static void
check_grantee(const char *role_name, const char *what)
{
	if (!OidIsValid(get_role_oid(role_name, true)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", role_name),
				 errhint("Create the role first, then %s.", what)));
	if (strncmp(role_name, "dataplatform_", 13) == 0 &&
		(strcmp(role_name, DP_ROLE_ADMIN) == 0 ||
		 strcmp(role_name, DP_ROLE_PRODUCER) == 0 ||
		 strcmp(role_name, DP_ROLE_CONSUMER) == 0 ||
		 strcmp(role_name, DP_ROLE_AUDITOR) == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_GRANT_OPERATION),
				 errmsg("cannot %s to the group role \"%s\"", what, role_name),
				 errhint("Grant to a member role instead.")));
}

static void
check_product_exists(const char *product)
{
	const char *args[1];

	args[0] = product;
	if (dp_spi_exec_text("SELECT 1 FROM dataplatform.products WHERE name = $1",
						 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("data product \"%s\" does not exist", product),
				 errhint("Call dataplatform.define_product first.")));
}

/* Whether role_name was granted group directly (caller is connected to SPI). */
static bool
is_direct_member(const char *group, const char *role_name)
{
	const char *args[2];

	args[0] = group;
	args[1] = role_name;
	return dp_spi_exec_text("SELECT 1 FROM pg_catalog.pg_auth_members m "
							"WHERE m.roleid = $1::regrole AND m.member = $2::regrole",
							2, args) > 0;
}

/* GRANT or REVOKE a group role to/from a role. */
static void
set_membership(const char *group, const char *role_name, bool grant)
{
	StringInfoData sql;

	initStringInfo(&sql);
	if (grant)
		appendStringInfo(&sql, "GRANT %s TO %s", quote_identifier(group),
						 quote_identifier(role_name));
	else
		appendStringInfo(&sql, "REVOKE %s FROM %s", quote_identifier(group),
						 quote_identifier(role_name));
	dp_spi_exec(sql.data, 0, NULL, NULL, NULL);
	pfree(sql.data);
}

static char *
quote_json(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s);
	return buf.data;
}

static char *
grant_detail(const char *role_name)
{
	return psprintf("{\"role\": %s}", quote_json(role_name));
}


/*
 * Whether the caller (the role set by login or SET ROLE: also inside a
 * SECURITY DEFINER function, a view, or an export) may see real PII values
 * in published views.
 */
bool
dp_caller_sees_pii(void)
{
	Oid			caller = dp_caller_id();
	Oid			pii = get_role_oid(DP_ROLE_CONSUMER_PII, true);

	return superuser_arg(caller) || dp_caller_has_role(DP_ROLE_ADMIN) ||
		(OidIsValid(pii) && has_privs_of_role(caller, pii));
}

Datum
dp_grant_producer(PG_FUNCTION_ARGS)
{
	char	   *product = dp_arg_cstring(fcinfo, 0, "product");
	char	   *role_name = dp_arg_cstring(fcinfo, 1, "role");
	const char *args[3];

	dp_require_admin("grant producer access");
	SPI_connect();
	check_product_exists(product);
	check_grantee(role_name, "grant producer access");
	args[0] = product;
	args[1] = role_name;
	args[2] = GetUserNameFromId(dp_caller_id(), false);
	dp_spi_exec_text("INSERT INTO dataplatform.producer_grants "
					 "(product, role_name, granted_by) VALUES ($1, $2::name, $3::name) "
					 "ON CONFLICT (product, role_name) DO NOTHING",
					 3, args);
	if (!is_direct_member(DP_ROLE_PRODUCER, role_name))
		set_membership(DP_ROLE_PRODUCER, role_name, true);
	dp_audit("grant_producer", product, grant_detail(role_name));
	SPI_finish();
	PG_RETURN_VOID();
}

Datum
dp_revoke_producer(PG_FUNCTION_ARGS)
{
	char	   *product = dp_arg_cstring(fcinfo, 0, "product");
	char	   *role_name = dp_arg_cstring(fcinfo, 1, "role");
	const char *args[2];

	dp_require_admin("revoke producer access");
	SPI_connect();
	check_product_exists(product);
	args[0] = product;
	args[1] = role_name;
	if (dp_spi_exec_text("DELETE FROM dataplatform.producer_grants "
						 "WHERE product = $1 AND role_name = $2::name",
						 2, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" is not a producer of data product \"%s\"",
						role_name, product)));
	/* the group membership goes with the last product grant */
	if (OidIsValid(get_role_oid(role_name, true)) &&
		dp_spi_exec_text("SELECT 1 FROM dataplatform.producer_grants "
						 "WHERE role_name = $1::name",
						 1, &args[1]) == 0)
		set_membership(DP_ROLE_PRODUCER, role_name, false);
	dp_audit("revoke_producer", product, grant_detail(role_name));
	SPI_finish();
	PG_RETURN_VOID();
}

Datum
dp_grant_consumer(PG_FUNCTION_ARGS)
{
	char	   *role_name = dp_arg_cstring(fcinfo, 0, "role");
	bool		pii = PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	int64		id;

	dp_require_admin("grant consumer access");
	check_grantee(role_name, "grant consumer access");
	SPI_connect();
	if (!is_direct_member(DP_ROLE_CONSUMER, role_name))
		set_membership(DP_ROLE_CONSUMER, role_name, true);
	/* real PII values, or (the default) masked ones: a grant sets which */
	if (pii != is_direct_member(DP_ROLE_CONSUMER_PII, role_name))
		set_membership(DP_ROLE_CONSUMER_PII, role_name, pii);
	/* what the reads are checked against: an agreement over every product */
	id = dp_agreement_grant_unrestricted(role_name, pii);
	dp_audit("grant_consumer", role_name,
			 psprintf("{\"role\": %s, \"pii\": %s, \"agreement\": " INT64_FORMAT "}",
					  quote_json(role_name), pii ? "true" : "false", id));
	SPI_finish();
	PG_RETURN_VOID();
}

Datum
dp_revoke_consumer(PG_FUNCTION_ARGS)
{
	char	   *role_name = dp_arg_cstring(fcinfo, 0, "role");

	dp_require_admin("revoke consumer access");
	check_grantee(role_name, "revoke consumer access");
	SPI_connect();
	if (!is_direct_member(DP_ROLE_CONSUMER, role_name))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" is not a consumer", role_name),
				 errhint("dataplatform.grant_consumer gives a role consumer access.")));
	/* the group membership stays while other agreements of the role hold */
	if (!dp_agreement_revoke_unrestricted(role_name))
		set_membership(DP_ROLE_CONSUMER, role_name, false);
	if (is_direct_member(DP_ROLE_CONSUMER_PII, role_name))
		set_membership(DP_ROLE_CONSUMER_PII, role_name, false);
	dp_audit("revoke_consumer", role_name, grant_detail(role_name));
	SPI_finish();
	PG_RETURN_VOID();
}

/* ------------------------------------------------------------------------
 * Acting as another role (job runs, collections stored as the endpoint's
 * owner)
 * ------------------------------------------------------------------------
 */

Oid
dp_role_to_act_as(const char *role, const char *what, const char *hint)
{
	Oid			id = get_role_oid(role, true);

	if (!OidIsValid(id))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the %s \"%s\" no longer exists", what, role),
				 hint ? errhint("%s", hint) : 0));
	return id;
}

void
dp_role_become(Oid role, bool api_caller, DpRoleSwitch *sw)
{
	GetUserIdAndSecContext(&sw->save_user, &sw->save_sec);
	sw->save_nest = NewGUCNestLevel();
	SetCurrentRoleId(role, superuser_arg(role));
	SetUserIdAndSecContext(api_caller ? sw->save_user : role,
						   sw->save_sec | SECURITY_LOCAL_USERID_CHANGE);
}

void
dp_role_restore(DpRoleSwitch *sw, bool keep_gucs)
{
	SetUserIdAndSecContext(sw->save_user, sw->save_sec);
	SetCurrentRoleId(InvalidOid, false);
	if (keep_gucs)
		AtEOXact_GUC(true, sw->save_nest);
}
