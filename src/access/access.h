/*
 * access.h
 *		Who is calling, whether they may, and the audit record of what they did.
 */
#ifndef DP_ACCESS_H
#define DP_ACCESS_H

#include "postgres.h"

#define DP_ROLE_ADMIN		"dataplatform_admin"
#define DP_ROLE_PRODUCER	"dataplatform_producer"
#define DP_ROLE_CONSUMER	"dataplatform_consumer"
#define DP_ROLE_CONSUMER_PII "dataplatform_consumer_pii"
#define DP_ROLE_AUDITOR		"dataplatform_auditor"

/*
 * The role on whose behalf an API function runs: the current role as set by
 * login or SET ROLE, not the SECURITY DEFINER owner the function runs as.
 */
extern Oid	dp_caller_id(void);

/* True when the caller is a superuser or has the privileges of role_name. */
extern bool dp_caller_has_role(const char *role_name);

/* ERROR (42501) unless the caller is an admin; action names the operation. */
extern bool dp_caller_sees_pii(void);
extern void dp_require_admin(const char *action);

/*
 * Record an API write in dataplatform.audit_log, in the caller's transaction:
 * the caller, the session role, the client address, the statement id (see
 * dp_audit_statement_id), action, object and detail.  detail_json is a JSON
 * object as text (NULL for '{}'); it never holds a secret value.  Caller is
 * connected to SPI.
 */
extern void dp_audit(const char *action, const char *object, const char *detail_json);

/*
 * Acting as another role inside the current transaction: as SET ROLE does
 * (so the API's caller checks see that role) and with
 * SECURITY_LOCAL_USERID_CHANGE, which forbids SET ROLE / SET SESSION
 * AUTHORIZATION meanwhile.  SET commands made meanwhile are undone by a GUC
 * nest level.  dp_role_restore must run on every path (PG_FINALLY);
 * keep_gucs is false on the error path (the abort undoes them).
 */
typedef struct DpRoleSwitch
{
	Oid			save_user;
	int			save_sec;
	int			save_nest;
} DpRoleSwitch;

/*
 * The id of a role that must exist to act as it: ERROR 42704 "the <what>
 * \"<role>\" no longer exists" with the hint given.
 */
extern Oid	dp_role_to_act_as(const char *role, const char *what, const char *hint);
/*
 * api_caller: the role becomes only the caller the API's checks see
 * (dp_caller_id), while the current user stays what it was, as when the
 * role calls a SECURITY DEFINER API function; for C code that calls the
 * API's C entry on a role's behalf.
 */
extern void dp_role_become(Oid role, bool api_caller, DpRoleSwitch *sw);
extern void dp_role_restore(DpRoleSwitch *sw, bool keep_gucs);

#endif							/* DP_ACCESS_H */
