/*
 * openlineage_fail.c
 *		FAIL events of direct SQL calls that raise an error (push, push_csv,
 *		load_snapshot, apply_events, refresh): the error rolls back the
 *		caller's transaction, outbox rows included, so the call's error path
 *		leaves a small record in shared memory and the database's worker
 *		writes START and FAIL to the outbox from it (dp_ol_fail_drain).
 *
 * Shared state: DP_OL_FAIL_SLOTS fixed-size slots under one LWLock (the
 * "dataplatform openlineage" tranche), requested when the library is
 * preloaded; without preloading nothing is remembered.  A slot holds the
 * database, the job's kind and object, when the run started and failed,
 * the caller and the error (cut to DP_OL_FAIL_MESSAGE bytes).  When every
 * slot is taken the oldest record is replaced (so records of a database
 * whose worker sends nothing cannot fill them for good) and counted; a
 * worker logs the count.  A worker takes its own database's slots (copying them out under
 * the lock) and writes them in its transaction: an error there loses
 * them, and is logged.
 *
 * The record is made in PG_CATCH of the SQL entry points, before the
 * error is re-thrown: no allocation but the copy of the error, no SPI.
 * Errors that mean there was no run (the dataset or view does not exist,
 * the caller may not write to it) are not recorded.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/memutils.h"

#include "openlineage.h"

#define DP_OL_FAIL_SLOTS	256
#define DP_OL_FAIL_MESSAGE	1024

typedef struct DpOlFailSlot
{
	bool		used;
	uint64		seq;
	Oid			dboid;
	TimestampTz started;
	TimestampTz failed;
	char		kind[32];
	char		object[2 * NAMEDATALEN];
	Oid			role;
	char		message[DP_OL_FAIL_MESSAGE];
} DpOlFailSlot;

typedef struct DpOlFailShared
{
	LWLock	   *lock;
	uint64		next_seq;
	uint64		dropped;
	DpOlFailSlot slots[DP_OL_FAIL_SLOTS];
} DpOlFailShared;

static DpOlFailShared *fail_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
fail_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(DpOlFailShared));
	RequestNamedLWLockTranche("dataplatform openlineage", 1);
}

static void
fail_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	fail_shared = ShmemInitStruct("dataplatform openlineage", sizeof(DpOlFailShared), &found);
	if (!found)
	{
		memset(fail_shared, 0, sizeof(DpOlFailShared));
		fail_shared->lock = &(GetNamedLWLockTranche("dataplatform openlineage"))->lock;
		fail_shared->next_seq = 1;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
dp_ol_fail_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = fail_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = fail_shmem_startup;
}

static void
remember(const char *kind, const char *object, TimestampTz started, ErrorData *edata)
{
	DpOlFailSlot *slot = NULL;

	if (fail_shared == NULL || !dp_ol_enabled() || edata == NULL ||
		edata->sqlerrcode == ERRCODE_UNDEFINED_OBJECT ||
		edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE ||
		edata->sqlerrcode == ERRCODE_NULL_VALUE_NOT_ALLOWED)
		return;
	LWLockAcquire(fail_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < DP_OL_FAIL_SLOTS; i++)
		if (!fail_shared->slots[i].used)
		{
			slot = &fail_shared->slots[i];
			break;
		}
	if (slot == NULL)
	{
		/* full: the oldest record goes (e.g. of a database no worker drains) */
		slot = &fail_shared->slots[0];
		for (int i = 1; i < DP_OL_FAIL_SLOTS; i++)
			if (fail_shared->slots[i].seq < slot->seq)
				slot = &fail_shared->slots[i];
		fail_shared->dropped++;
	}
	{
		slot->used = true;
		slot->seq = fail_shared->next_seq++;
		slot->dboid = MyDatabaseId;
		slot->started = started;
		slot->failed = GetCurrentTimestamp();
		strlcpy(slot->kind, kind, sizeof(slot->kind));
		strlcpy(slot->object, object ? object : "", sizeof(slot->object));
		slot->role = GetUserId();
		strlcpy(slot->message, edata->message ? edata->message : "unknown error", sizeof(slot->message));
	}
	LWLockRelease(fail_shared->lock);
}

static int
seq_cmp(const void *a, const void *b)
{
	uint64		x = ((const DpOlFailSlot *) a)->seq;
	uint64		y = ((const DpOlFailSlot *) b)->seq;

	return x < y ? -1 : (x > y ? 1 : 0);
}

bool
dp_ol_fail_waiting(void)
{
	/* a hint read without the lock: a slot taken meanwhile waits a tick */
	if (fail_shared == NULL)
		return false;
	for (int i = 0; i < DP_OL_FAIL_SLOTS; i++)
		if (fail_shared->slots[i].used && fail_shared->slots[i].dboid == MyDatabaseId)
			return true;
	return fail_shared->dropped > 0;
}

int
dp_ol_fail_drain(void)
{
	DpOlFailSlot *mine;
	int			n = 0;
	uint64		dropped;

	if (fail_shared == NULL)
		return 0;
	mine = palloc(sizeof(DpOlFailSlot) * DP_OL_FAIL_SLOTS);
	LWLockAcquire(fail_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < DP_OL_FAIL_SLOTS; i++)
		if (fail_shared->slots[i].used && fail_shared->slots[i].dboid == MyDatabaseId)
		{
			mine[n++] = fail_shared->slots[i];
			fail_shared->slots[i].used = false;
		}
	dropped = fail_shared->dropped;
	fail_shared->dropped = 0;
	LWLockRelease(fail_shared->lock);
	if (dropped > 0)	/* any database's: logged by the first worker that looks */
		ereport(LOG,
				(errmsg("dataplatform worker: %llu OpenLineage FAIL events of failed calls were dropped (the shared slots were full)",
						(unsigned long long) dropped)));
	qsort(mine, n, sizeof(DpOlFailSlot), seq_cmp);
	for (int i = 0; i < n; i++)
	{
		DpOlRun    *run = dp_ol_begin(mine[i].kind, mine[i].object[0] ? mine[i].object : NULL,
									  mine[i].started);
		MemoryContext old;
		char	   *role = GetUserNameFromId(mine[i].role, true);

		if (run == NULL)
			break;				/* the URL was unset meanwhile */
		old = MemoryContextSwitchTo(run->cxt);
		dp_ol_facet(run, NULL, NULL, "dataplatform_call", DP_OL_FACET_DOC "#dataplatform_call",
					json_pack("{s:s, s:s}", "calledBy", role ? role : "", "kind", mine[i].kind));
		MemoryContextSwitchTo(old);
		dp_ol_finish(run, mine[i].message);
	}
	pfree(mine);
	return n;
}

Datum
dp_ol_call(FunctionCallInfo fcinfo, PGFunction fn, const char *kind)
{
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext cxt = CurrentMemoryContext;
	volatile Datum result = (Datum) 0;

	PG_TRY();
	{
		result = fn(fcinfo);
	}
	PG_CATCH();
	{
		if (fail_shared != NULL && dp_ol_enabled())
		{
			MemoryContext ecxt = MemoryContextSwitchTo(cxt);
			ErrorData  *edata = CopyErrorData();
			char	   *object = NULL;

			if (PG_NARGS() > 0 && !PG_ARGISNULL(0))
				object = text_to_cstring(PG_GETARG_TEXT_PP(0));
			remember(kind, object, started, edata);
			MemoryContextSwitchTo(ecxt);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	return result;
}
