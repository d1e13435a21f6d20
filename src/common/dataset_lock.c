/*
 * dataset_lock.c
 *		The dataset lock (see dataset_lock.h): a transaction-level advisory
 *		lock keyed on the dataset's clean table, then the table's own lock.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/lsyscache.h"

#include "dataset_lock.h"

void
dp_dataset_lock(const char *table, LOCKMODE mode)
{
	Oid			relid = get_relname_relid(table, get_namespace_oid("dp_clean", false));
	LOCKTAG		tag;

	if (!OidIsValid(relid))
		elog(ERROR, "clean table \"dp_clean.%s\" does not exist", table);
	/* the form pg_advisory_xact_lock(int4, int4) takes: objsubid 2 */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, DP_DATASET_LOCK_CLASS, relid, 2);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	LockRelationOid(relid, mode);
}
