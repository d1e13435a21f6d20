/*
 * audit.h
 *		The audit trail beyond API writes: reads of dp_consumer relations
 *		(executor hook, shared-memory buffer of reads grouped by query id,
 *		drained by the worker), the
 *		guard that keeps dataplatform.audit_log append-only, and the
 *		statement id every audit row carries.
 */
#ifndef DP_AUDIT_H
#define DP_AUDIT_H

#include "postgres.h"

#include "guc.h"

/* Length of a statement id: "<session id>:<statement number>". */
#define DP_AUDIT_STATEMENT_ID_LEN 48

/*
 * Install the executor hook (any load) and, while shared_preload_libraries
 * is processed, request the read buffer and turn query ids on
 * (EnableQueryId).  Called once from _PG_init.
 */
extern void dp_audit_init(bool preloading);

/*
 * The current top-level statement's id: the session id as in
 * log_line_prefix %c ("<start time hex>.<pid hex>") and the number of the
 * statement in the session.  Writes into buf (DP_AUDIT_STATEMENT_ID_LEN).
 */
extern void dp_audit_statement_id(char *buf);

/*
 * Move this database's buffered reads into dataplatform.audit_log, in a
 * transaction of its own (called by the database's worker outside any
 * transaction).  An entry that cannot be written goes to the server log.
 * Returns the number of entries moved.
 */
extern int	dp_audit_drain(void);

/*
 * audit_ship.c: whether this server ships its reads to a primary
 * (dataplatform.audit_primary_conninfo is set), and the shipping of one
 * drained batch: DP_AUDIT_SHIP_COLS arrays of n entries (the columns of
 * dp_audit_drain's insert), sent to dataplatform.audit_receive on the
 * primary.  Called outside a transaction; ERROR when the primary did not
 * take them all.
 */
#define DP_AUDIT_SHIP_COLS 8
extern bool dp_audit_shipping(void);
extern void dp_audit_ship(int ncols, const Oid *types, const Datum *values, int n);

/* True while dataplatform.purge_audit deletes (the guard lets it). */
extern bool dp_audit_purging;

#endif							/* DP_AUDIT_H */
