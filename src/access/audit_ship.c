/*
 * audit_ship.c
 *		A standby's reads of the consumer layer, shipped to the primary's
 *		audit trail.
 *
 * A standby cannot write, so its reads (buffered in shared memory as on a
 * primary, see audit.c) are drained by the standby's worker and sent over
 * libpq to dataplatform.audit_receive on the primary, which appends them to
 * dataplatform.audit_log with the standby's name in each entry's detail.
 * The connection is dataplatform.audit_primary_conninfo (set by the
 * administrator; its role must be a member of dataplatform_audit_shipper).
 * One connection per drain, closed after it: a drain happens at most once
 * per dataplatform.naptime, so a lasting connection would save little.
 *
 * Window of loss: the same as on a primary (buffered reads are in shared
 * memory until shipped).  A batch the primary did not take (no connection,
 * an error) goes to the standby's server log, counted there, never lost
 * silently; a batch whose commit on the primary is not acknowledged (the
 * connection breaks after COMMIT) is logged too, so it may be both in the
 * primary's audit_log and the standby's log (a duplicate, never a gap).
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/string.h"
#include "fmgr.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "audit.h"
#include "guc.h"

/* The name a standby gives itself in the entries it ships. */
static const char *
standby_name(void)
{
	if (cluster_name && cluster_name[0])
		return cluster_name;
	return psprintf("standby on port %d", PostPortNumber);
}

bool
dp_audit_shipping(void)
{
	return dp_audit_primary_conninfo != NULL && dp_audit_primary_conninfo[0] != '\0';
}

void
dp_audit_ship(int ncols, const Oid *types, const Datum *values, int n)
{
	const char *params[DP_AUDIT_SHIP_COLS + 1];
	const char *keywords[] = {"connect_timeout", "application_name", "dbname", NULL};
	const char *conn_values[] = {"10", "dataplatform audit shipper", dp_audit_primary_conninfo, NULL};
	PGconn	   *conn;
	PGresult   *res;
	char	   *error = NULL;

	MemoryContext cxt = CurrentMemoryContext;

	Assert(ncols == DP_AUDIT_SHIP_COLS);
	/* the arrays as text (output functions look types up: a transaction) */
	StartTransactionCommand();
	MemoryContextSwitchTo(cxt);
	params[0] = standby_name();
	for (int c = 0; c < ncols; c++)
	{
		Oid			out;
		bool		varlena;

		getTypeOutputInfo(types[c], &out, &varlena);
		params[c + 1] = OidOutputFunctionCall(out, values[c]);
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	conn = PQconnectdbParams(keywords, conn_values, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		error = pstrdup(conn ? PQerrorMessage(conn) : "out of memory");
	else
	{
		res = PQexecParams(conn,
						   "SELECT dataplatform.audit_receive($1, $2::timestamptz[], $3::text[], "
						   "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int8[])",
						   ncols + 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			error = pstrdup(PQresultErrorMessage(res));
		else if (PQntuples(res) != 1 || atoi(PQgetvalue(res, 0, 0)) != n)
			error = psprintf("the primary took %s of %d entries",
							 PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "none", n);
		PQclear(res);
	}
	if (conn)
		PQfinish(conn);
	if (error)
	{
		pg_strip_crlf(error);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not ship %d reads to the primary: %s", n, error),
				 errhint("Check dataplatform.audit_primary_conninfo and that its role is a member of dataplatform_audit_shipper on the primary.")));
	}
}
