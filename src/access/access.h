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

#endif							/* DP_ACCESS_H */
