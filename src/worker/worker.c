/*
 * worker.c
 *		The launcher and the per-database workers.
 *
 * With shared_preload_libraries = 'dataplatform' the postmaster starts one
 * launcher ("dataplatform launcher", no database).  It lists the connectable
 * databases in pg_database and starts a dynamic worker ("dataplatform
 * worker") for each one it has not seen yet.  A worker whose database lacks
 * the extension exits at once ("clean exit") and its database is not tried
 * again until something asks: CREATE EXTENSION (its script calls
 * dataplatform.worker_wake()), schedule() or run_now(), each at commit.  A
 * worker that dies of an error is restarted with exponential backoff (1 s up
 * to 5 min), so nothing crash-loops.  On a standby the launcher starts no
 * worker, unless dataplatform.audit_primary_conninfo is set: then each
 * worker only ships its database's reads to the primary (audit_ship.c) and
 * runs no job.  After a promotion the workers go on as a primary's: runs
 * left running are failed as interrupted (dp_jobs_recover), then jobs run.
 *
 * DROP DATABASE, ALTER DATABASE and CREATE DATABASE ... TEMPLATE need the
 * database free of connections: a ProcessUtility hook holds the database's
 * slot (no restart for a minute), sends the worker SIGTERM and waits for it
 * to go before the command runs.
 *
 * During an upgrade the library (built for DP_EXTVERSION) may be loaded
 * against an older version of the extension's SQL objects: between the
 * restart that loads a new library and ALTER EXTENSION dataplatform UPDATE.
 * A worker that finds another version installed runs nothing (no jobs, no
 * audit drain), says so once in the server log, and looks again every
 * naptime; the update script wakes it.
 *
 * Shared state: one DpWorkerShared with a slot per database, protected by
 * its LWLock.  The launcher alone adds, frees and starts slots; backends may
 * move a slot to WANTED or HELD and set latches; a worker writes only its
 * own slot's pid, latch and clean_exit.  Latch pointers are to PGPROC
 * latches (shared memory), valid while the pid is set.
 */
#include "postgres.h"

#include <signal.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "agreement.h"
#include "audit.h"
#include "freshness.h"
#include "partition.h"
#include "wake.h"
#include "worker.h"

PGDLLEXPORT void dp_launcher_main(Datum main_arg);
PGDLLEXPORT void dp_worker_main(Datum main_arg);

PG_FUNCTION_INFO_V1(dp_worker_wake);

typedef enum DpSlotState
{
	SLOT_FREE = 0,
	SLOT_WANTED,				/* start when start_after has passed */
	SLOT_RUNNING,				/* a worker was registered */
	SLOT_IDLE,					/* no extension there: start only on request */
	SLOT_HELD					/* DROP/ALTER DATABASE: keep away until start_after */
} DpSlotState;

typedef struct DpWorkerSlot
{
	Oid			dboid;
	DpSlotState state;
	TimestampTz start_after;
	int			failures;		/* consecutive abnormal exits */
	pid_t		pid;			/* the worker's, while it is connected */
	Latch	   *latch;
	bool		clean_exit;		/* the worker exited on purpose */
	bool		wake_pending;	/* start it even if it exits clean meanwhile */
} DpWorkerSlot;

typedef struct DpWorkerShared
{
	LWLock	   *lock;
	Latch	   *launcher_latch;
	int			nslots;
	DpWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} DpWorkerShared;


static DpWorkerShared *dp_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility_hook = NULL;
static DpWorkerSlot *my_slot = NULL;

#define RESTART_MAX_SECONDS	300
#define HOLD_SECONDS		60

static Size
shared_size(void)
{
	return add_size(offsetof(DpWorkerShared, slots),
					mul_size(sizeof(DpWorkerSlot), dp_worker_max_databases));
}

static void
dp_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche("dataplatform", 1);
}

static void
dp_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	dp_shared = ShmemInitStruct("dataplatform worker", shared_size(), &found);
	if (!found)
	{
		memset(dp_shared, 0, shared_size());
		dp_shared->lock = &(GetNamedLWLockTranche("dataplatform"))->lock;
		dp_shared->nslots = dp_worker_max_databases;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The slot of dboid, or NULL (caller holds the lock). */
static DpWorkerSlot *
find_slot(Oid dboid)
{
	for (int i = 0; i < dp_shared->nslots; i++)
		if (dp_shared->slots[i].state != SLOT_FREE && dp_shared->slots[i].dboid == dboid)
			return &dp_shared->slots[i];
	return NULL;
}

/*
 * Wake the worker of dboid, or ask the launcher to start it.  Called at
 * commit (must not raise).
 */
static void
wake_database(Oid dboid)
{
	DpWorkerSlot *slot;
	Latch	   *latch = NULL;

	if (dp_shared == NULL)
		return;
	LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
	slot = find_slot(dboid);
	if (slot == NULL)
	{
		for (int i = 0; i < dp_shared->nslots; i++)
			if (dp_shared->slots[i].state == SLOT_FREE)
			{
				slot = &dp_shared->slots[i];
				memset(slot, 0, sizeof(*slot));
				slot->dboid = dboid;
				slot->state = SLOT_WANTED;
				break;
			}
		latch = dp_shared->launcher_latch;
	}
	else if (slot->state == SLOT_RUNNING)
	{
		slot->wake_pending = true;
		latch = slot->latch ? slot->latch : dp_shared->launcher_latch;
	}
	else if (slot->state == SLOT_IDLE || slot->state == SLOT_WANTED)
	{
		slot->state = SLOT_WANTED;
		slot->start_after = 0;
		slot->failures = 0;
		latch = dp_shared->launcher_latch;
	}
	LWLockRelease(dp_shared->lock);
	if (latch)
		SetLatch(latch);
}

/*
 * dataplatform.worker_wake(): start (or wake) this database's worker when
 * the calling transaction commits.  Returns whether a launcher is running.
 */
Datum
dp_worker_wake(PG_FUNCTION_ARGS)
{
	dp_wake_at_commit();
	PG_RETURN_BOOL(dp_shared != NULL && dp_shared->launcher_latch != NULL);
}

/*
 * Keep the worker of a database away while a command needs the database to
 * itself: hold its slot, terminate the worker, wait (up to 10 s) for it to
 * disconnect.
 */
static void
hold_database(const char *dbname)
{
	Oid			dboid;
	DpWorkerSlot *slot;
	pid_t		pid = 0;

	if (dp_shared == NULL || dbname == NULL)
		return;
	dboid = get_database_oid(dbname, true);
	if (!OidIsValid(dboid))
		return;
	LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
	slot = find_slot(dboid);
	if (slot)
	{
		slot->state = SLOT_HELD;
		slot->start_after = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														HOLD_SECONDS * 1000);
		pid = slot->pid;
	}
	LWLockRelease(dp_shared->lock);
	if (pid == 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 1000; i++)
	{
		bool		gone;

		LWLockAcquire(dp_shared->lock, LW_SHARED);
		gone = (slot->dboid != dboid || slot->pid != pid);
		LWLockRelease(dp_shared->lock);
		if (gone)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
dp_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *node = pstmt->utilityStmt;

	if (IsA(node, DropdbStmt))
		hold_database(((DropdbStmt *) node)->dbname);
	else if (IsA(node, AlterDatabaseStmt))
		hold_database(((AlterDatabaseStmt *) node)->dbname);
	else if (IsA(node, RenameStmt) && ((RenameStmt *) node)->renameType == OBJECT_DATABASE)
		hold_database(((RenameStmt *) node)->subname);
	else if (IsA(node, CreatedbStmt))
	{
		ListCell   *lc;

		foreach(lc, ((CreatedbStmt *) node)->options)
		{
			DefElem    *def = lfirst_node(DefElem, lc);

			if (strcmp(def->defname, "template") == 0 && def->arg)
				hold_database(defGetString(def));
		}
	}

	if (prev_ProcessUtility_hook)
		prev_ProcessUtility_hook(pstmt, queryString, readOnlyTree, context, params,
								 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
dp_worker_preload_init(void)
{
	BackgroundWorker worker;

	dp_wake_register(wake_database);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = dp_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = dp_shmem_startup;
	prev_ProcessUtility_hook = ProcessUtility_hook;
	ProcessUtility_hook = dp_process_utility;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* on a hot standby too: its workers ship reads to the primary */
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "dataplatform");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "dp_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "dataplatform launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "dataplatform launcher");
	RegisterBackgroundWorker(&worker);
}

/* ------------------------------------------------------------------------
 * The launcher
 * ------------------------------------------------------------------------
 */

/* Oids of the databases a worker may connect to (in the caller's context). */
static List *
connectable_databases(void)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext cxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate || database_is_invalid_form(db))
			continue;
		old = MemoryContextSwitchTo(cxt);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

static BackgroundWorkerHandle *
start_worker(Oid dboid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "dataplatform");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "dp_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "dataplatform worker %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "dataplatform worker");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

/*
 * One pass of the launcher: add slots for new databases, free slots of
 * dropped ones, notice stopped workers, start the wanted ones.
 */
static void
launcher_pass(BackgroundWorkerHandle **handles, MemoryContext cxt)
{
	List	   *dbs;
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext old = MemoryContextSwitchTo(cxt);

	dbs = connectable_databases();
	MemoryContextSwitchTo(old);

	LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < dp_shared->nslots; i++)
	{
		DpWorkerSlot *slot = &dp_shared->slots[i];
		pid_t		pid;

		if (slot->state == SLOT_FREE)
			continue;
		if (handles[i] && GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
		{
			pfree(handles[i]);
			handles[i] = NULL;
			if (slot->state != SLOT_RUNNING)
				 /* held meanwhile: stays held */ ;
			else if (slot->wake_pending)
			{
				slot->state = SLOT_WANTED;
				slot->start_after = 0;
			}
			else if (slot->clean_exit)
				slot->state = SLOT_IDLE;
			else
			{
				slot->failures++;
				slot->state = SLOT_WANTED;
				slot->start_after = TimestampTzPlusMilliseconds(now,
																1000L * Min(RESTART_MAX_SECONDS, 1L << Min(slot->failures - 1, 9)));
			}
			slot->wake_pending = false;
			slot->pid = 0;
			slot->latch = NULL;
		}
		if (slot->state == SLOT_HELD && slot->start_after <= now)
			slot->state = SLOT_WANTED;
		if (slot->state != SLOT_RUNNING && handles[i] == NULL &&
			!list_member_oid(dbs, slot->dboid))
			slot->state = SLOT_FREE;
	}
	/* databases without a slot */
	{
		ListCell   *lc;

		foreach(lc, dbs)
		{
			Oid			dboid = lfirst_oid(lc);

			if (find_slot(dboid) != NULL)
				continue;
			for (int i = 0; i < dp_shared->nslots; i++)
				if (dp_shared->slots[i].state == SLOT_FREE)
				{
					memset(&dp_shared->slots[i], 0, sizeof(DpWorkerSlot));
					dp_shared->slots[i].dboid = dboid;
					dp_shared->slots[i].state = SLOT_WANTED;
					break;
				}
		}
	}
	for (int i = 0; i < dp_shared->nslots; i++)
	{
		DpWorkerSlot *slot = &dp_shared->slots[i];

		if (slot->state != SLOT_WANTED || slot->start_after > now ||
			!dp_worker_enabled || handles[i] != NULL)
			continue;
		old = MemoryContextSwitchTo(TopMemoryContext);
		handles[i] = start_worker(slot->dboid);
		MemoryContextSwitchTo(old);
		if (handles[i] == NULL)
		{
			/* no free background worker slot: try again later */
			slot->start_after = TimestampTzPlusMilliseconds(now, 10000);
			ereport(LOG,
					(errmsg("dataplatform launcher could not start a worker for database %u", slot->dboid),
					 errhint("Raise max_worker_processes.")));
			continue;
		}
		slot->state = SLOT_RUNNING;
		slot->clean_exit = false;
		slot->wake_pending = false;
	}
	LWLockRelease(dp_shared->lock);
	MemoryContextReset(cxt);
}

void
dp_launcher_main(Datum main_arg)
{
	BackgroundWorkerHandle **handles;
	MemoryContext pass_cxt;

	(void) main_arg;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("dataplatform launcher");

	handles = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(BackgroundWorkerHandle *) * dp_shared->nslots);
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "dataplatform launcher pass",
									 ALLOCSET_DEFAULT_SIZES);

	LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
	dp_shared->launcher_latch = MyLatch;
	/* after a launcher restart, every database is looked at again */
	for (int i = 0; i < dp_shared->nslots; i++)
		if (dp_shared->slots[i].state == SLOT_RUNNING || dp_shared->slots[i].state == SLOT_IDLE)
			dp_shared->slots[i].state = SLOT_WANTED;
	LWLockRelease(dp_shared->lock);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/* a standby's workers only ship reads: none without a primary to ship to */
		if (!RecoveryInProgress() || dp_audit_shipping())
			launcher_pass(handles, pass_cxt);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(dp_worker_naptime_ms, 1000), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ------------------------------------------------------------------------
 * The per-database worker
 * ------------------------------------------------------------------------
 */

static void
worker_detach(int code, Datum arg)
{
	(void) code;
	(void) arg;
	if (my_slot == NULL)
		return;
	LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
	if (my_slot->pid == MyProcPid)
	{
		my_slot->pid = 0;
		my_slot->latch = NULL;
	}
	LWLockRelease(dp_shared->lock);
	if (dp_shared->launcher_latch)
		SetLatch(dp_shared->launcher_latch);
}

/* Exit on purpose: the launcher will not restart us until asked. */
static void
worker_exit_clean(const char *why)
{
	elog(DEBUG1, "dataplatform worker exits: %s", why);
	if (my_slot)
	{
		LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
		my_slot->clean_exit = true;
		LWLockRelease(dp_shared->lock);
	}
	proc_exit(0);
}

#ifndef DP_EXTVERSION
#error "DP_EXTVERSION (the extension version this library implements) is set by the Makefile"
#endif

typedef enum DpExtensionState
{
	EXT_ABSENT,					/* not installed in this database */
	EXT_OTHER_VERSION,			/* installed at a version other than ours */
	EXT_READY					/* installed at DP_EXTVERSION */
} DpExtensionState;

/*
 * Whether the extension is installed in this database, and at the version
 * this library implements (in its own transaction; allocates nothing that
 * outlives it).  The installed version and the database's name are copied
 * into version and dbname (NAMEDATALEN each).
 */
static DpExtensionState
extension_state(char *version, char *dbname)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	DpExtensionState state = EXT_ABSENT;

	version[0] = '\0';
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("dataplatform"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			strlcpy(version, text_to_cstring(DatumGetTextPP(d)), NAMEDATALEN);
		state = strcmp(version, DP_EXTVERSION) == 0 ? EXT_READY : EXT_OTHER_VERSION;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	strlcpy(dbname, get_database_name(MyDatabaseId), NAMEDATALEN);
	CommitTransactionCommand();
	return state;
}

void
dp_worker_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	volatile bool recovered = false;
	volatile long backoff_ms = 0;	/* after errors of the worker's own: doubles, up to 5 minutes */
	volatile bool waiting = false;	/* for ALTER EXTENSION ... UPDATE (logged once) */
	char		installed[NAMEDATALEN];
	char		dbname[NAMEDATALEN];
	DpExtensionState ext;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
	my_slot = find_slot(dboid);
	if (my_slot && my_slot->state == SLOT_HELD)
		my_slot = NULL;
	else if (my_slot)
	{
		my_slot->pid = MyProcPid;
		my_slot->latch = MyLatch;
	}
	LWLockRelease(dp_shared->lock);
	if (my_slot == NULL)
		proc_exit(0);
	on_shmem_exit(worker_detach, 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("dataplatform worker");

	/*
	 * In a lock cycle with a user's session (DROP EXTENSION, a rebuild's
	 * ACCESS EXCLUSIVE lock), the worker gives way: its deadlock check runs
	 * well before the sessions' (deadlock_timeout, 1 s by default), so the
	 * cycle costs the worker's current step, which is recorded and retried
	 * at the next pass, not the user's statement.  A wait without a cycle
	 * is not affected.
	 */
	SetConfigOption("deadlock_timeout", "100ms", PGC_SUSET, PGC_S_OVERRIDE);

	for (;;)
	{
		long		sleep_ms = dp_worker_naptime_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		LWLockAcquire(dp_shared->lock, LW_EXCLUSIVE);
		my_slot->wake_pending = false;
		LWLockRelease(dp_shared->lock);

		if (RecoveryInProgress() && !dp_audit_shipping())
		{
			/* a standby runs no job; it may be promoted */
		}
		else if ((ext = extension_state(installed, dbname)) == EXT_ABSENT)
			worker_exit_clean("the extension is not installed in this database");
		else if (ext == EXT_OTHER_VERSION)
		{
			/* the SQL objects are another version's: touch none of them */
			if (!waiting)
				ereport(LOG,
						(errmsg("dataplatform worker waits: the extension in database \"%s\" is version %s, the library version %s",
								dbname, installed, DP_EXTVERSION),
						 errhint("Run ALTER EXTENSION dataplatform UPDATE in that database.")));
			waiting = true;
		}
		else
		{
			MemoryContext cxt = CurrentMemoryContext;

			if (waiting)
				ereport(LOG,
						(errmsg("dataplatform worker resumes: the extension in database \"%s\" is version %s",
								dbname, installed)));
			waiting = false;

			/*
			 * An error here is in the worker's own bookkeeping (each job's
			 * errors are caught by the job runner): log it, back off, go on.
			 * Buffered audit entries are written even when jobs are switched
			 * off (dataplatform.enabled is a kill switch for jobs only).
			 */
			PG_TRY();
			{
				dp_audit_drain();
				/* a standby only ships its reads (audit_ship.c): no job */
				if (!RecoveryInProgress())
				{
					dp_agreement_expire();
					dp_freshness_mark();
					/*
					 * partitions ahead of the batches (src/common/partition.c);
					 * with the kill switch off writers make their own
					 */
					if (dp_worker_enabled)
						(void) dp_partition_create_ahead();
					/* runs left running by a crash, or by the old primary */
					if (dp_worker_enabled && !recovered)
					{
						dp_jobs_recover();
						recovered = true;
					}
					if (dp_worker_enabled)
						dp_jobs_tick(&sleep_ms);
					/* OpenLineage events: outbound HTTP stops with the kill switch too */
					if (dp_worker_enabled)
						dp_openlineage_deliver(&sleep_ms);
				}
				backoff_ms = 0;
			}
			PG_CATCH();
			{
				ErrorData  *edata;

				MemoryContextSwitchTo(cxt);
				edata = CopyErrorData();
				FlushErrorState();
				AbortOutOfAnyTransaction();
				/* a lasting error (e.g. tables of an older version) backs off */
				backoff_ms = backoff_ms == 0 ? dp_worker_naptime_ms : Min(backoff_ms * 2, 300000L);
				ereport(LOG,
						(errmsg("dataplatform worker: %s", edata->message),
						 errdetail("Trying again in %ld ms.", (long) backoff_ms)));
				FreeErrorData(edata);
				sleep_ms = backoff_ms;
			}
			PG_END_TRY();
			pgstat_report_activity(STATE_IDLE, NULL);
		}

		if (sleep_ms > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}
