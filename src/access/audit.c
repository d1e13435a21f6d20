/*
 * audit.c
 *		Reads of the consumer layer in the audit trail, and the guard that
 *		keeps dataplatform.audit_log append-only.
 *
 * Reads.  ExecutorCheckPerms_hook sees the range table of every plan the
 * executor starts once the standard permission checks passed: SELECT,
 * COPY (SELECT ...) TO, COPY table TO (DoCopy checks its relation the same
 * way), DECLARE CURSOR, each EXECUTE of a prepared statement, and the
 * relations under a view (the rewritten range table keeps them, checked as
 * the view's owner).  Each dp_consumer relation read (ACL_SELECT, not a
 * write target) becomes one entry.  An audit row cannot be written in the
 * reader's transaction, which may be read-only or roll back, so entries go
 * to a fixed array in shared memory and the database's background worker
 * moves them into dataplatform.audit_log (dp_audit_drain).  When the array
 * is full, on a standby, or without shared_preload_libraries (then only
 * sessions that have loaded the library have the hook at all), the entry is
 * written to the server log instead (ereport LOG, "dataplatform audit: ...").  A backend that repeats
 * one of its last RECENT_SLOTS reads (same relation, roles and statement
 * text) while the first is still waiting in the buffer adds to that slot's
 * count instead of taking a new slot: one audit row, every read counted.
 *
 * Locking: DpAuditShared and its slots are protected by the tranche
 * "dataplatform audit" LWLock, held only to copy an entry in or out.  A slot
 * is FREE, READY (written by a backend) or DRAINING (claimed by the worker
 * of its database, freed after the worker's insert commits).  Only one
 * worker runs per database, so a DRAINING slot found at the start of a drain
 * was left by a previous worker that died: it is taken again.
 *
 * Window of loss: buffered entries live in shared memory only, so a server
 * crash, an immediate shutdown, or the postmaster's reinitialisation after
 * any backend crash loses the entries not yet drained (at most
 * dataplatform.naptime of reads, or the buffer's size).  A worker killed
 * between its insert's commit and freeing the slots makes the next drain
 * write those entries again (duplicates, never a gap).  Entries of a
 * database without a worker (extension dropped, or created in a transaction
 * that rolled back) are moved to the server log by any worker after
 * STALE_MINUTES.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "agreement.h"
#include "audit.h"
#include "wake.h"

PG_FUNCTION_INFO_V1(dp_audit_guard);

/* the start of the statement text kept with a read */
#define DP_AUDIT_QUERY_LEN	512
#define DP_AUDIT_ADDR_LEN	64
/* buffered entries of a database nobody drains go to the log after this */
#define STALE_MINUTES		10

typedef enum DpAuditSlotState
{
	AUDIT_SLOT_FREE = 0,
	AUDIT_SLOT_READY,
	AUDIT_SLOT_DRAINING
} DpAuditSlotState;

typedef struct DpAuditEntry
{
	DpAuditSlotState state;
	Oid			dboid;
	uint64		seq;			/* order of recording */
	TimestampTz at;
	NameData	role;			/* the caller (login or SET ROLE) */
	NameData	session_role;
	NameData	current_role;	/* the effective role, when different */
	NameData	checked_as;		/* a view's owner, for reads under a view */
	NameData	relname;
	char		client_addr[DP_AUDIT_ADDR_LEN];
	char		statement_id[DP_AUDIT_STATEMENT_ID_LEN];
	/* repeats of the same read by the same backend before a drain */
	int64		count;
	TimestampTz last_at;
	char		last_statement_id[DP_AUDIT_STATEMENT_ID_LEN];
	char		agreements[DP_AGREEMENT_IDS_LEN];	/* ids that allowed the read */
	char		query[DP_AUDIT_QUERY_LEN];
} DpAuditEntry;

typedef struct DpAuditShared
{
	LWLock	   *lock;
	int			capacity;
	int			used;
	int			hint;			/* where to start looking for a free slot */
	uint64		next_seq;
	DpAuditEntry slots[FLEXIBLE_ARRAY_MEMBER];
} DpAuditShared;

bool		dp_audit_purging = false;

static DpAuditShared *audit_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ExecutorCheckPerms_hook_type prev_ExecutorCheckPerms_hook = NULL;

/*
 * The slots this backend filled last (index and seq), so that a repeat of
 * the same read (a prepared statement run again, the same query in a loop)
 * adds to a slot's count instead of taking a new one.
 */
#define RECENT_SLOTS		8
static int	recent_slot[RECENT_SLOTS];
static uint64 recent_seq[RECENT_SLOTS];
static int	recent_next = 0;

/* the worker's copy of the entries it drains (see dp_audit_drain) */
static DpAuditEntry *drain_entries = NULL;

/* the statement counter behind dp_audit_statement_id */
static TimestampTz last_statement_start = 0;
static int64 statement_number = 0;

static Size
audit_shared_size(void)
{
	return add_size(offsetof(DpAuditShared, slots),
					mul_size(sizeof(DpAuditEntry), dp_audit_buffer_size));
}

static void
audit_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(audit_shared_size());
	RequestNamedLWLockTranche("dataplatform audit", 1);
}

static void
audit_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	audit_shared = ShmemInitStruct("dataplatform audit", audit_shared_size(), &found);
	if (!found)
	{
		memset(audit_shared, 0, audit_shared_size());
		audit_shared->lock = &(GetNamedLWLockTranche("dataplatform audit"))->lock;
		audit_shared->capacity = dp_audit_buffer_size;
		audit_shared->next_seq = 1;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
dp_audit_statement_id(char *buf)
{
	TimestampTz start = GetCurrentStatementStartTimestamp();

	if (start != last_statement_start)
	{
		last_statement_start = start;
		statement_number++;
	}
	snprintf(buf, DP_AUDIT_STATEMENT_ID_LEN, "%lx.%x:" INT64_FORMAT,
			 (long) MyStartTime, MyProcPid, statement_number);
}

/*
 * The client's address as text ("" for a unix socket or a background
 * process), as inet_client_addr() gives it; computed once per session.
 */
static const char *
client_address(void)
{
	static bool done = false;
	static char addr[DP_AUDIT_ADDR_LEN];

	if (!done)
	{
		LOCAL_FCINFO(fcinfo, 0);
		Datum		d;

		InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
		d = inet_client_addr(fcinfo);
		addr[0] = '\0';
		if (!fcinfo->isnull)
			strlcpy(addr, DatumGetCString(DirectFunctionCall1(inet_out, d)), sizeof(addr));
		done = true;
	}
	return addr;
}

static void
set_name(NameData *dst, Oid role)
{
	char	   *name = OidIsValid(role) ? GetUserNameFromId(role, true) : NULL;

	namestrcpy(dst, name ? name : "");
}

/*
 * The statement text kept with a read: its start, or nothing when it names
 * a function that takes a secret.
 */
static void
set_query(char *dst)
{
	const char *q = debug_query_string;

	dst[0] = '\0';
	if (q == NULL || q[0] == '\0')
		return;
	for (const char *p = q; *p; p++)
		if ((*p == 's' || *p == 'S') && pg_strncasecmp(p, "set_secret", 10) == 0)
		{
			strlcpy(dst, "(not kept: it calls set_secret)", DP_AUDIT_QUERY_LEN);
			return;
		}
	{
		/* the start, never cutting a multibyte character */
		int			len = pg_mbcliplen(q, strlen(q), DP_AUDIT_QUERY_LEN - 1);

		memcpy(dst, q, len);
		dst[len] = '\0';
	}
}

/* One entry in the server log (the fallback, and the drain's error path). */
static void
log_entry(const DpAuditEntry *e, const char *why)
{
	char	   *at = pstrdup(timestamptz_to_str(e->at));
	char	   *repeats = "";

	if (e->count > 1)
		repeats = psprintf(", read " INT64_FORMAT " times up to %s (statement %s)",
						   e->count, timestamptz_to_str(e->last_at), e->last_statement_id);
	ereport(LOG,
			(errmsg("dataplatform audit: read of dp_consumer.%s by role %s (%s)",
					NameStr(e->relname), NameStr(e->role), why),
			 errdetail("At %s, session role %s, client %s, statement %s%s%s%s: %s",
					   at, NameStr(e->session_role),
					   e->client_addr[0] ? e->client_addr : "local",
					   e->statement_id,
					   NameStr(e->checked_as)[0] ? ", through a view owned by " : "",
					   NameStr(e->checked_as), repeats, e->query),
			 errhidestmt(true)));
}

/* Whether a buffered entry and a new one are the same read (lock held). */
static bool
same_read(const DpAuditEntry *slot, const DpAuditEntry *e)
{
	return slot->state == AUDIT_SLOT_READY && slot->dboid == e->dboid &&
		strcmp(NameStr(slot->relname), NameStr(e->relname)) == 0 &&
		strcmp(NameStr(slot->role), NameStr(e->role)) == 0 &&
		strcmp(NameStr(slot->session_role), NameStr(e->session_role)) == 0 &&
		strcmp(NameStr(slot->current_role), NameStr(e->current_role)) == 0 &&
		strcmp(NameStr(slot->checked_as), NameStr(e->checked_as)) == 0 &&
		strcmp(slot->agreements, e->agreements) == 0 &&
		strcmp(slot->query, e->query) == 0;
}

/*
 * Put one entry into the buffer, or into the server log when there is no
 * buffer or it is full.  A repeat of one of this backend's last reads still
 * waiting in the buffer adds to its count.  Wakes the database's worker
 * when the buffer is half full.
 */
static void
record_entry(DpAuditEntry *e)
{
	bool		stored = false;
	bool		wake = false;

	if (audit_shared == NULL || RecoveryInProgress())
	{
		log_entry(e, audit_shared ? "on a standby" : "no audit buffer: dataplatform is not in shared_preload_libraries");
		return;
	}
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (int r = 0; r < RECENT_SLOTS && recent_seq[r] != 0; r++)
	{
		DpAuditEntry *slot = &audit_shared->slots[recent_slot[r]];

		if (slot->seq == recent_seq[r] && same_read(slot, e))
		{
			slot->count++;
			slot->last_at = e->at;
			strlcpy(slot->last_statement_id, e->statement_id, DP_AUDIT_STATEMENT_ID_LEN);
			stored = true;
			break;
		}
	}
	if (!stored && audit_shared->used < audit_shared->capacity)
	{
		int			n = audit_shared->capacity;

		for (int k = 0; k < n; k++)
		{
			int			i = (audit_shared->hint + k) % n;
			DpAuditEntry *slot = &audit_shared->slots[i];

			if (slot->state != AUDIT_SLOT_FREE)
				continue;
			e->seq = audit_shared->next_seq++;
			e->state = AUDIT_SLOT_READY;
			e->count = 1;
			e->last_at = e->at;
			strlcpy(e->last_statement_id, e->statement_id, DP_AUDIT_STATEMENT_ID_LEN);
			memcpy(slot, e, offsetof(DpAuditEntry, query) + strlen(e->query) + 1);
			audit_shared->used++;
			audit_shared->hint = (i + 1) % n;
			wake = (audit_shared->used == n / 2);
			recent_slot[recent_next] = i;
			recent_seq[recent_next] = e->seq;
			recent_next = (recent_next + 1) % RECENT_SLOTS;
			stored = true;
			break;
		}
	}
	LWLockRelease(audit_shared->lock);
	if (!stored)
		log_entry(e, "the audit buffer is full");
	else if (wake)
		dp_wake_now(MyDatabaseId);
}

/*
 * ExecutorCheckPerms_hook: record the dp_consumer relations a plan reads.
 * Runs after the standard checks passed, so a refused read is not a read.
 */
static bool
audit_check_perms(List *range_table, bool ereport_on_violation)
{
	bool		result = true;

	if (prev_ExecutorCheckPerms_hook)
		result = prev_ExecutorCheckPerms_hook(range_table, ereport_on_violation);
	if (result && dp_audit_reads && !IsParallelWorker() && IsTransactionState())
	{
		Oid			consumer = get_namespace_oid("dp_consumer", true);
		List	   *seen = NIL;
		ListCell   *lc;
		DpAuditEntry *e = NULL;

		if (!OidIsValid(consumer))
			return result;
		foreach(lc, range_table)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
			char	   *relname;

			if (rte->rtekind != RTE_RELATION || !(rte->requiredPerms & ACL_SELECT) ||
				(rte->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE)) ||
				list_member_oid(seen, rte->relid) ||
				get_rel_namespace(rte->relid) != consumer)
				continue;
			seen = lappend_oid(seen, rte->relid);
			relname = get_rel_name(rte->relid);
			if (relname == NULL)
				continue;
			if (e == NULL)
			{
				/* who, where and what: the same for every relation of the plan */
				e = palloc0(sizeof(DpAuditEntry));
				e->dboid = MyDatabaseId;
				e->at = GetCurrentTimestamp();
				set_name(&e->role, GetOuterUserId());
				set_name(&e->session_role, GetSessionUserId());
				if (GetUserId() != GetOuterUserId())
					set_name(&e->current_role, GetUserId());
				strlcpy(e->client_addr, client_address(), DP_AUDIT_ADDR_LEN);
				dp_audit_statement_id(e->statement_id);
				set_query(e->query);
			}
			namestrcpy(&e->relname, relname);
			if (OidIsValid(rte->checkAsUser) && rte->checkAsUser != GetUserId())
				set_name(&e->checked_as, rte->checkAsUser);
			else
				namestrcpy(&e->checked_as, "");
			dp_agreement_ids_for(rte->relid, e->agreements, DP_AGREEMENT_IDS_LEN);
			record_entry(e);
		}
		if (e)
			pfree(e);
		list_free(seen);
	}
	return result;
}

void
dp_audit_init(bool preloading)
{
	prev_ExecutorCheckPerms_hook = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = audit_check_perms;
	if (preloading)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = audit_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = audit_shmem_startup;
	}
}

/* The detail document of a buffered read. */
static char *
entry_detail(const DpAuditEntry *e)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"relation\": ");
	escape_json(&buf, psprintf("dp_consumer.%s", quote_identifier(NameStr(e->relname))));
	if (NameStr(e->current_role)[0])
	{
		appendStringInfoString(&buf, ", \"current_role\": ");
		escape_json(&buf, NameStr(e->current_role));
	}
	if (NameStr(e->checked_as)[0])
	{
		appendStringInfoString(&buf, ", \"view_owner\": ");
		escape_json(&buf, NameStr(e->checked_as));
	}
	if (e->agreements[0])
		appendStringInfo(&buf, ", \"agreements\": [%s]", e->agreements);
	if (e->count > 1)
	{
		appendStringInfo(&buf, ", \"reads\": " INT64_FORMAT ", \"last_at\": ", e->count);
		escape_json(&buf, timestamptz_to_str(e->last_at));
		appendStringInfoString(&buf, ", \"last_statement_id\": ");
		escape_json(&buf, e->last_statement_id);
	}
	appendStringInfoString(&buf, ", \"query\": ");
	escape_json(&buf, e->query);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

static int
seq_cmp(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* an entry's place in the order of recording */
typedef struct DpSeqIndex
{
	uint64		seq;
	int			index;
} DpSeqIndex;

/* Free the DRAINING slots of this database whose seq is in order (sorted). */
static void
release_slots(DpSeqIndex *order, int n)
{
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < audit_shared->capacity; i++)
	{
		DpAuditEntry *slot = &audit_shared->slots[i];

		if (slot->state != AUDIT_SLOT_DRAINING || slot->dboid != MyDatabaseId)
			continue;
		if (bsearch(&slot->seq, order, n, sizeof(DpSeqIndex), seq_cmp))
		{
			slot->state = AUDIT_SLOT_FREE;
			audit_shared->used--;
		}
	}
	LWLockRelease(audit_shared->lock);
}

int
dp_audit_drain(void)
{
	MemoryContext cxt;
	MemoryContext old;
	DpAuditEntry *entries;
	DpAuditEntry *stale;
	DpSeqIndex *order;
	int			n = 0;
	int			nstale = 0;
	TimestampTz stale_before;

	if (audit_shared == NULL || audit_shared->used == 0)
		return 0;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform audit drain",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	/*
	 * Claim this database's entries (and any a dead worker had claimed).
	 * Entries of another database that nobody drained for STALE_MINUTES
	 * (its extension was dropped, or never committed) go to the server log,
	 * so they do not hold the buffer forever.
	 */
	if (drain_entries == NULL)
	{
		/*
		 * Allocated once (twice the buffer's size) and reused: a fresh
		 * allocation of this size per drain costs its page faults every time.
		 */
		drain_entries = MemoryContextAlloc(TopMemoryContext,
										   sizeof(DpAuditEntry) * audit_shared->capacity * 2);
	}
	entries = drain_entries;
	stale = drain_entries + audit_shared->capacity;
	stale_before = GetCurrentTimestamp() -
		Max((int64) STALE_MINUTES * USECS_PER_MINUTE, (int64) dp_worker_naptime_ms * 10000);
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < audit_shared->capacity; i++)
	{
		DpAuditEntry *slot = &audit_shared->slots[i];

		if (slot->state == AUDIT_SLOT_FREE)
			continue;
		if (slot->dboid == MyDatabaseId)
		{
			slot->state = AUDIT_SLOT_DRAINING;
			memcpy(&entries[n++], slot, offsetof(DpAuditEntry, query) + strlen(slot->query) + 1);
		}
		else if (slot->state == AUDIT_SLOT_READY && slot->at < stale_before)
		{
			memcpy(&stale[nstale++], slot, sizeof(DpAuditEntry));
			slot->state = AUDIT_SLOT_FREE;
			audit_shared->used--;
		}
	}
	LWLockRelease(audit_shared->lock);
	for (int i = 0; i < nstale; i++)
		log_entry(&stale[i], "not drained: the database has no dataplatform worker");
	if (n == 0)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return 0;
	}
	/*
	 * The order of recording: sort (seq, index) pairs, not the entries
	 * (about 1 kB each).  seq is the pair's first member, so seq_cmp sorts
	 * them and bsearch finds a seq in them.
	 */
	order = palloc(sizeof(DpSeqIndex) * n);
	for (int i = 0; i < n; i++)
	{
		order[i].seq = entries[i].seq;
		order[i].index = i;
	}
	qsort(order, n, sizeof(DpSeqIndex), seq_cmp);

	PG_TRY();
	{
		Oid			types[7] = {TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
		Datum	   *cols[7];
		Datum		values[7];
		int			rc;

		/* one INSERT for the whole batch: arrays of the columns, unnested */
		for (int c = 0; c < 7; c++)
			cols[c] = palloc(sizeof(Datum) * n);
		for (int i = 0; i < n; i++)
		{
			DpAuditEntry *e = &entries[order[i].index];

			cols[0][i] = TimestampTzGetDatum(e->at);
			cols[1][i] = CStringGetTextDatum(NameStr(e->role));
			cols[2][i] = CStringGetTextDatum(NameStr(e->session_role));
			cols[3][i] = CStringGetTextDatum(e->client_addr);
			cols[4][i] = CStringGetTextDatum(NameStr(e->relname));
			cols[5][i] = CStringGetTextDatum(entry_detail(e));
			cols[6][i] = CStringGetTextDatum(e->statement_id);
		}
		values[0] = PointerGetDatum(construct_array(cols[0], n, TIMESTAMPTZOID, sizeof(TimestampTz),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		for (int c = 1; c < 7; c++)
			values[c] = PointerGetDatum(construct_array(cols[c], n, TEXTOID, -1, false, TYPALIGN_INT));

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "dataplatform: write buffered audit entries");
		rc = SPI_execute_with_args("INSERT INTO dataplatform.audit_log "
								   "(at, role_name, session_role, client_addr, action, object, detail, statement_id) "
								   "SELECT u.at, u.r::name, u.s::name, NULLIF(u.c, '')::inet, 'read', u.o, "
								   "u.d::jsonb, u.st "
								   "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
								   "pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
								   "pg_catalog.unnest($6), pg_catalog.unnest($7)) AS u(at, r, s, c, o, d, st)",
								   7, types, values, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* not written: keep each entry in the server log, never lose it */
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		ereport(LOG,
				(errmsg("dataplatform audit: could not write %d buffered reads: %s",
						n, edata->message),
				 errdetail("The reads are written to the server log instead.")));
		for (int i = 0; i < n; i++)
			log_entry(&entries[order[i].index], "could not be written to the audit log");
		release_slots(order, n);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return 0;
	}
	PG_END_TRY();

	release_slots(order, n);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return n;
}

/*
 * Trigger on dataplatform.audit_log: UPDATE, DELETE and TRUNCATE are refused
 * for everyone, superusers included; only purge_audit and apply_retention
 * delete.
 */
Datum
dp_audit_guard(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("audit_guard must be called as a trigger")));
	if (dp_audit_purging && TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("the audit log is append-only"),
			 errdetail("%s on %s is not allowed.",
					   TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? "UPDATE" :
					   TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "DELETE" : "TRUNCATE",
					   RelationGetRelationName(td->tg_relation)),
			 errhint("Old audit rows are removed with dataplatform.purge_audit(older_than), which is recorded.")));
	return PointerGetDatum(NULL);
}
