/*
 * agreement.h
 *		Access agreements: the unit of consumer access (a role, a product or
 *		some of its published views, a purpose, PII or not, a row scope, a
 *		validity window), their API (agreement.c) and their enforcement on
 *		every read of a published view (enforce.c).
 */
#ifndef DP_AGREEMENT_H
#define DP_AGREEMENT_H

#include "postgres.h"

/* Room for the ids of the agreements behind one read, as "3,17" */
#define DP_AGREEMENT_IDS_LEN 64

/*
 * Install the executor hook that checks every read of a dp_consumer
 * relation against the reader's active agreements, and the cache
 * invalidation callback.  Called once from _PG_init, before
 * dp_audit_init, so that the audit hook (which calls this one first)
 * records only reads that were allowed.
 */
extern void dp_agreement_init(void);

/*
 * The agreements that allowed the read of relation relid in the range
 * table checked last, as comma-separated ids into buf (empty when none
 * was needed: an admin, a superuser, no agreements in this database).
 */
extern void dp_agreement_ids_for(Oid relid, char *buf, Size len);

/*
 * grant_consumer's agreement: one active agreement over every product with
 * purpose 'unrestricted' for role_name (replacing one with another pii).
 * Returns its id (0 before the update to 0.2: no agreement table).  Caller
 * is connected to SPI.
 */
extern int64 dp_agreement_grant_unrestricted(const char *role_name, bool pii);

/*
 * revoke_consumer: revoke role_name's unrestricted agreements.  Returns
 * whether the role keeps other active agreements.  Caller is connected to
 * SPI.
 */
extern bool dp_agreement_revoke_unrestricted(const char *role_name);

/*
 * Mark active agreements past their validity window 'expired' and audit
 * each, in a transaction of its own (the worker, outside any
 * transaction).  Returns the number expired.
 */
extern int	dp_agreement_expire(void);

#endif							/* DP_AGREEMENT_H */
