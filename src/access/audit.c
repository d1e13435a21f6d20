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
 * write target) is one read.  An audit row cannot be written in the
 * reader's transaction, which may be read-only or roll back, so reads go
 * to a fixed array of slots in shared memory and the database's background
 * worker moves them into dataplatform.audit_log (dp_audit_drain).  When the
 * array is full, on a standby, or without shared_preload_libraries (then
 * only sessions that have loaded the library have the hook at all), the
 * read is written to the server log instead (ereport LOG, "dataplatform
 * audit: ...").
 *
 * Grouping.  A slot holds the first read of a key and counts the repeats
 * until the worker drains it: one audit row, every read counted.  The key
 * is the database, the relation, the roles (caller, session, effective,
 * a view's owner), the client address, the access agreements that allowed
 * the read (enforce.c, whose hook runs first) and the top-level statement's query
 * id (pgstat_get_my_query_id: compute_query_id, which _PG_init turns on
 * through EnableQueryId when preloaded, as pg_stat_statements does), so
 * the same statement with other literals, by any session of that role
 * from that address, adds to one slot, whose text is the first read's.
 * Slots keyed by a query id are found through audit_index, a shared hash.
 * Without a query id (compute_query_id = off, track_activities = off) the
 * key holds a hash of the statement text instead, and only the backend
 * that filled the slot adds to it, when the text is the same.
 *
 * The hot path.  Each backend remembers the slots it used last
 * (local_slots, by key): a repeat takes only that slot's spinlock, checks
 * that the slot is still READY with the same seq (a drained and reused slot
 * has a new seq), and adds to its count.  The statement text, role names
 * and relation name are looked up only when a slot is filled.
 *
 * Locking: the tranche "dataplatform audit" LWLock protects DpAuditShared,
 * audit_index and the slots' state changes: FREE -> READY (a backend fills
 * a slot and indexes it), READY -> DRAINING (the worker of its database
 * claims it and removes it from the index), DRAINING -> FREE (freed after
 * the worker's insert commits).  Looking a key up in audit_index takes the
 * lock shared; filling, claiming and freeing take it exclusive.  Each
 * slot's spinlock guards its count and last_* and its state and seq as a
 * backend adding to the count sees them: the state changes above write
 * them under both locks, a repeat reads them under the spinlock alone.  A
 * slot found in audit_index under the LWLock is READY (claiming removes
 * it from the index).  Only one worker runs per database, so a DRAINING
 * slot found at the start of a drain was left by a previous worker that
 * died: it is taken again.
 *
 * On a standby with dataplatform.audit_primary_conninfo set, reads are
 * buffered the same way and the standby's worker ships them to the
 * primary's audit_log (audit_ship.c) instead of inserting them.
 *
 * Window of loss: buffered reads live in shared memory only, so a server
 * crash, an immediate shutdown, or the postmaster's reinitialisation after
 * any backend crash loses the reads not yet drained (at most
 * dataplatform.naptime of reads).  A read counted in a slot after the
 * worker claimed it cannot happen: the claim and the count take the same
 * spinlock, and a backend that finds its slot claimed takes a new one.  A
 * worker killed between its insert's commit and freeing the slots makes
 * the next drain write those entries again (duplicates, never a gap).
 * Entries of a database without a worker (extension dropped, or created in
 * a transaction that rolled back) are moved to the server log by any
 * worker after STALE_MINUTES.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/queryjumble.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "agreement.h"
#include "audit.h"
#include "partition.h"
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

/*
 * What makes two reads the same read.  Compared and hashed as bytes: always
 * zeroed before it is filled.
 */
typedef struct DpAuditKey
{
	Oid			dboid;
	Oid			relid;
	Oid			role;			/* the caller (login or SET ROLE) */
	Oid			session_role;
	Oid			current_role;	/* the effective role, when different */
	Oid			checked_as;		/* a view's owner, for reads under a view */
	uint64		query_id;		/* the top-level statement's; 0: none */
	uint32		text_hash;		/* without a query id: the kept text's hash */
	char		client_addr[DP_AUDIT_ADDR_LEN];
	char		agreements[DP_AGREEMENT_IDS_LEN];	/* ids that allowed the read */
} DpAuditKey;

/* A statement, as dp_audit_statement_id prints it. */
typedef struct DpStatementRef
{
	pg_time_t	session_start;
	int			pid;
	int64		number;
} DpStatementRef;

typedef struct DpAuditEntry
{
	DpAuditSlotState state;
	bool		indexed;		/* in audit_index (the key has a query id) */
	uint64		seq;			/* order of recording; never reused */
	DpAuditKey	key;
	TimestampTz at;				/* the first read */
	DpStatementRef first;
	NameData	role;
	NameData	session_role;
	NameData	current_role;
	NameData	checked_as;
	NameData	relname;
	/* the reads counted in this slot, and the last of them */
	int64		count;
	TimestampTz last_at;
	DpStatementRef last;
	char		query[DP_AUDIT_QUERY_LEN];	/* the first read's */
} DpAuditEntry;

typedef struct DpAuditSlot
{
	slock_t		mutex;			/* see the file header */
	DpAuditEntry e;
} DpAuditSlot;

typedef struct DpAuditShared
{
	LWLock	   *lock;
	int			capacity;
	int			used;
	int			hint;			/* where to start looking for a free slot */
	uint64		next_seq;
	DpAuditSlot slots[FLEXIBLE_ARRAY_MEMBER];
} DpAuditShared;

/* an entry of audit_index */
typedef struct DpAuditIndexEntry
{
	DpAuditKey	key;
	int			slot;
} DpAuditIndexEntry;

bool		dp_audit_purging = false;

static DpAuditShared *audit_shared = NULL;
static HTAB *audit_index = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ExecutorCheckPerms_hook_type prev_ExecutorCheckPerms_hook = NULL;

/*
 * The slots this backend used last, by key (direct-mapped), so that a
 * repeat of a read costs one spinlock.  seq 0: empty.
 */
#define LOCAL_SLOTS			64
typedef struct DpAuditLocalSlot
{
	DpAuditKey	key;
	int			slot;
	uint64		seq;
} DpAuditLocalSlot;
static DpAuditLocalSlot local_slots[LOCAL_SLOTS];

/* the oid of dp_consumer (InvalidOid: none), until pg_namespace changes */
static Oid	consumer_namespace = InvalidOid;
static bool consumer_namespace_valid = false;

/* the worker's copy of the entries it drains (see dp_audit_drain) */
static DpAuditEntry *drain_entries = NULL;

/* the statement counter behind dp_audit_statement_id */
static TimestampTz last_statement_start = 0;
static int64 statement_number = 0;

static Size
audit_shared_size(void)
{
	return add_size(offsetof(DpAuditShared, slots),
					mul_size(sizeof(DpAuditSlot), dp_audit_buffer_size));
}

static void
audit_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(audit_shared_size());
	RequestAddinShmemSpace(hash_estimate_size(dp_audit_buffer_size, sizeof(DpAuditIndexEntry)));
	RequestNamedLWLockTranche("dataplatform audit", 1);
}

static void
audit_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

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
		for (int i = 0; i < audit_shared->capacity; i++)
			SpinLockInit(&audit_shared->slots[i].mutex);
	}
	info.keysize = sizeof(DpAuditKey);
	info.entrysize = sizeof(DpAuditIndexEntry);
	audit_index = ShmemInitHash("dataplatform audit index",
								dp_audit_buffer_size, dp_audit_buffer_size,
								&info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/* The number of the current top-level statement in this session. */
static int64
current_statement_number(void)
{
	TimestampTz start = GetCurrentStatementStartTimestamp();

	if (start != last_statement_start)
	{
		last_statement_start = start;
		statement_number++;
	}
	return statement_number;
}

static void
format_statement_id(char *buf, const DpStatementRef *s)
{
	snprintf(buf, DP_AUDIT_STATEMENT_ID_LEN, "%lx.%x:" INT64_FORMAT,
			 (long) s->session_start, s->pid, s->number);
}

static void
current_statement(DpStatementRef *s)
{
	s->session_start = MyStartTime;
	s->pid = MyProcPid;
	s->number = current_statement_number();
}

void
dp_audit_statement_id(char *buf)
{
	DpStatementRef s;

	current_statement(&s);
	format_statement_id(buf, &s);
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

/* syscache callback: pg_namespace changed, look dp_consumer up again */
static void
consumer_namespace_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	consumer_namespace_valid = false;
}

/* The oid of dp_consumer, or InvalidOid; needs a transaction. */
static Oid
consumer_namespace_oid(void)
{
	if (!consumer_namespace_valid)
	{
		consumer_namespace = get_namespace_oid("dp_consumer", true);
		consumer_namespace_valid = true;
	}
	return consumer_namespace;
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
	char	   *query_id = "";
	char		first[DP_AUDIT_STATEMENT_ID_LEN];

	format_statement_id(first, &e->first);
	if (e->count > 1)
	{
		char		last[DP_AUDIT_STATEMENT_ID_LEN];

		format_statement_id(last, &e->last);
		repeats = psprintf(", read " INT64_FORMAT " times up to %s (statement %s)",
						   e->count, timestamptz_to_str(e->last_at), last);
	}
	if (e->key.query_id != 0)
		query_id = psprintf(", query id " INT64_FORMAT, (int64) e->key.query_id);
	ereport(LOG,
			(errmsg("dataplatform audit: read of dp_consumer.%s by role %s (%s)",
					NameStr(e->relname), NameStr(e->role), why),
			 errdetail("At %s, session role %s, client %s, statement %s%s%s%s%s: %s",
					   at, NameStr(e->session_role),
					   e->key.client_addr[0] ? e->key.client_addr : "local",
					   first,
					   NameStr(e->checked_as)[0] ? ", through a view owned by " : "",
					   NameStr(e->checked_as), query_id, repeats, e->query),
			 errhidestmt(true)));
}

/*
 * Count one more read in a slot this backend found before (with its seq),
 * if the slot still holds it.  Takes only the slot's spinlock.
 */
static bool
count_in_slot(int slot, uint64 seq, TimestampTz at, const DpStatementRef *stmt)
{
	DpAuditSlot *s = &audit_shared->slots[slot];
	bool		counted = false;

	SpinLockAcquire(&s->mutex);
	if (s->e.state == AUDIT_SLOT_READY && s->e.seq == seq)
	{
		s->e.count++;
		s->e.last_at = at;
		s->e.last = *stmt;
		counted = true;
	}
	SpinLockRelease(&s->mutex);
	return counted;
}

static DpAuditLocalSlot *
local_slot(const DpAuditKey *key)
{
	uint32		h = murmurhash32((uint32) key->query_id ^ (uint32) (key->query_id >> 32) ^
								 key->text_hash ^ key->relid ^ (key->checked_as << 7) ^
								 (key->role << 13) ^ (key->current_role << 19));

	return &local_slots[h % LOCAL_SLOTS];
}

/*
 * Fill a new entry for a read (outside any lock: this looks names up in
 * the syscache).  text is the kept statement text when already computed.
 */
static void
fill_entry(DpAuditEntry *e, const DpAuditKey *key, const char *text,
		   TimestampTz at, const DpStatementRef *stmt)
{
	char	   *relname = get_rel_name(key->relid);

	memset(e, 0, offsetof(DpAuditEntry, query));
	e->key = *key;
	e->at = at;
	e->first = *stmt;
	set_name(&e->role, key->role);
	set_name(&e->session_role, key->session_role);
	set_name(&e->current_role, key->current_role);
	set_name(&e->checked_as, key->checked_as);
	namestrcpy(&e->relname, relname ? relname : "");
	e->count = 1;
	e->last_at = at;
	e->last = *stmt;
	if (text)
		strlcpy(e->query, text, DP_AUDIT_QUERY_LEN);
	else
		set_query(e->query);
}

/*
 * Record one read: add it to the slot of the same key if there is one
 * (this backend's last slots first, then audit_index), or fill a new slot,
 * or write it to the server log when there is no buffer or it is full.
 * text: the kept statement text, needed (and given) only without a query
 * id.  Wakes the database's worker when the buffer is half full.
 */
static void
record_read(const DpAuditKey *key, const char *text)
{
	TimestampTz now = GetCurrentTimestamp();
	DpStatementRef stmt;
	DpAuditLocalSlot *local = local_slot(key);
	DpAuditEntry *e;
	int			slot = -1;
	uint64		seq = 0;
	bool		wake = false;

	current_statement(&stmt);
	if (audit_shared == NULL || (RecoveryInProgress() && !dp_audit_shipping()))
	{
		e = palloc(sizeof(DpAuditEntry));
		fill_entry(e, key, text, now, &stmt);
		log_entry(e, audit_shared ? "on a standby" : "no audit buffer: dataplatform is not in shared_preload_libraries");
		pfree(e);
		return;
	}

	/*
	 * A repeat of a read this backend recorded: its slot, if still waiting.
	 * Without a query id the texts must match too (the key has their hash);
	 * a READY slot's text does not change until its seq does, which
	 * count_in_slot checks after.
	 */
	if (local->seq != 0 && memcmp(&local->key, key, sizeof(DpAuditKey)) == 0 &&
		(key->query_id != 0 || strcmp(audit_shared->slots[local->slot].e.query, text) == 0) &&
		count_in_slot(local->slot, local->seq, now, &stmt))
		return;

	/* the same read by another session (or one this backend forgot) */
	if (key->query_id != 0)
	{
		DpAuditIndexEntry *found;

		LWLockAcquire(audit_shared->lock, LW_SHARED);
		found = hash_search(audit_index, key, HASH_FIND, NULL);
		if (found)
		{
			slot = found->slot;
			seq = audit_shared->slots[slot].e.seq;
			/* indexed, so READY: it cannot fail */
			if (!count_in_slot(slot, seq, now, &stmt))
				slot = -1;
		}
		LWLockRelease(audit_shared->lock);
	}

	/* a new slot: prepared outside the lock, copied in under it */
	if (slot < 0)
	{
		e = palloc(sizeof(DpAuditEntry));
		fill_entry(e, key, text, now, &stmt);
		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		if (key->query_id != 0)
		{
			DpAuditIndexEntry *found = hash_search(audit_index, key, HASH_FIND, NULL);

			if (found && count_in_slot(found->slot, audit_shared->slots[found->slot].e.seq, now, &stmt))
			{
				slot = found->slot;
				seq = audit_shared->slots[slot].e.seq;
			}
		}
		if (slot < 0 && audit_shared->used < audit_shared->capacity)
		{
			int			n = audit_shared->capacity;

			for (int k = 0; k < n; k++)
			{
				int			i = (audit_shared->hint + k) % n;
				DpAuditSlot *s = &audit_shared->slots[i];

				if (s->e.state != AUDIT_SLOT_FREE)
					continue;
				memcpy(&s->e, e, offsetof(DpAuditEntry, query) + strlen(e->query) + 1);
				s->e.indexed = false;
				if (key->query_id != 0)
				{
					bool		exists;
					DpAuditIndexEntry *entry = hash_search(audit_index, key, HASH_ENTER_NULL, &exists);

					/* out of room in the index: the slot is not shared */
					if (entry)
					{
						entry->slot = i;
						s->e.indexed = true;
					}
				}
				SpinLockAcquire(&s->mutex);
				s->e.seq = audit_shared->next_seq++;
				s->e.state = AUDIT_SLOT_READY;
				SpinLockRelease(&s->mutex);
				slot = i;
				seq = s->e.seq;
				audit_shared->used++;
				audit_shared->hint = (i + 1) % n;
				wake = (audit_shared->used == n / 2);
				break;
			}
		}
		LWLockRelease(audit_shared->lock);
		if (slot < 0)
			log_entry(e, "the audit buffer is full");
		pfree(e);
	}
	if (slot >= 0)
	{
		local->key = *key;
		local->slot = slot;
		local->seq = seq;
	}
	if (wake)
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
	Oid			consumer;
	List	   *seen = NIL;
	ListCell   *lc;
	DpAuditKey	key;
	bool		have_key = false;
	char	   *text = NULL;

	if (prev_ExecutorCheckPerms_hook)
		result = prev_ExecutorCheckPerms_hook(range_table, ereport_on_violation);
	if (!result || !dp_audit_reads || IsParallelWorker() || !IsTransactionState())
		return result;
	consumer = consumer_namespace_oid();
	if (!OidIsValid(consumer))
		return result;
	foreach(lc, range_table)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind != RTE_RELATION || !(rte->requiredPerms & ACL_SELECT) ||
			(rte->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE)) ||
			get_rel_namespace(rte->relid) != consumer ||
			list_member_oid(seen, rte->relid))
			continue;
		seen = lappend_oid(seen, rte->relid);
		if (!have_key)
		{
			/* who, where and which statement: the same for every relation */
			memset(&key, 0, sizeof(key));
			key.dboid = MyDatabaseId;
			key.role = GetOuterUserId();
			key.session_role = GetSessionUserId();
			if (GetUserId() != key.role)
				key.current_role = GetUserId();
			strlcpy(key.client_addr, client_address(), DP_AUDIT_ADDR_LEN);
			key.query_id = pgstat_get_my_query_id();
			if (key.query_id == 0)
			{
				/* no query id: reads are the same when their text is */
				text = palloc(DP_AUDIT_QUERY_LEN);
				set_query(text);
				key.text_hash = hash_bytes((const unsigned char *) text, strlen(text));
			}
			have_key = true;
		}
		key.relid = rte->relid;
		key.checked_as = InvalidOid;
		if (OidIsValid(rte->checkAsUser) && rte->checkAsUser != GetUserId())
			key.checked_as = rte->checkAsUser;
		memset(key.agreements, 0, DP_AGREEMENT_IDS_LEN);
		dp_agreement_ids_for(rte->relid, key.agreements, DP_AGREEMENT_IDS_LEN);
		record_read(&key, text);
	}
	list_free(seen);
	if (text)
		pfree(text);
	return result;
}

void
dp_audit_init(bool preloading)
{
	prev_ExecutorCheckPerms_hook = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = audit_check_perms;
	CacheRegisterSyscacheCallback(NAMESPACEOID, consumer_namespace_reset, (Datum) 0);
	if (preloading)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = audit_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = audit_shmem_startup;
		/* reads are grouped by query id: compute it (compute_query_id = auto) */
		EnableQueryId();
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
	if (e->key.agreements[0])
		appendStringInfo(&buf, ", \"agreements\": [%s]", e->key.agreements);
	if (e->count > 1)
	{
		char		last[DP_AUDIT_STATEMENT_ID_LEN];

		format_statement_id(last, &e->last);
		appendStringInfo(&buf, ", \"reads\": " INT64_FORMAT ", \"last_at\": ", e->count);
		escape_json(&buf, timestamptz_to_str(e->last_at));
		appendStringInfoString(&buf, ", \"last_statement_id\": ");
		escape_json(&buf, last);
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

/*
 * Take a READY slot out of the buffer's reach (lock held exclusive): no
 * read is counted in it any more, and audit_index no longer finds it.
 * Copies it into *copy.
 */
static void
claim_slot(DpAuditSlot *s, DpAuditSlotState to, DpAuditEntry *copy)
{
	SpinLockAcquire(&s->mutex);
	s->e.state = to;
	SpinLockRelease(&s->mutex);
	memcpy(copy, &s->e, offsetof(DpAuditEntry, query) + strlen(s->e.query) + 1);
	if (s->e.indexed)
	{
		hash_search(audit_index, &s->e.key, HASH_REMOVE, NULL);
		s->e.indexed = false;
	}
}

/*
 * Claim this database's READY slots (and the DRAINING ones a dead worker
 * left) into entries, and free the READY slots of other databases older
 * than STALE_MINUTES into stale.  Returns the number of entries; sets
 * *nstale.
 */
static int
claim_entries(DpAuditEntry *entries, DpAuditEntry *stale, int *nstale)
{
	TimestampTz stale_before = GetCurrentTimestamp() -
		Max((int64) STALE_MINUTES * USECS_PER_MINUTE, (int64) dp_worker_naptime_ms * 10000);
	int			n = 0;

	*nstale = 0;
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < audit_shared->capacity; i++)
	{
		DpAuditSlot *s = &audit_shared->slots[i];

		if (s->e.state == AUDIT_SLOT_FREE)
			continue;
		if (s->e.key.dboid == MyDatabaseId)
			claim_slot(s, AUDIT_SLOT_DRAINING, &entries[n++]);
		else if (s->e.state == AUDIT_SLOT_READY && s->e.at < stale_before)
		{
			claim_slot(s, AUDIT_SLOT_FREE, &stale[(*nstale)++]);
			audit_shared->used--;
		}
	}
	LWLockRelease(audit_shared->lock);
	return n;
}

/* Free the DRAINING slots of this database whose seq is in order (sorted). */
static void
release_slots(DpSeqIndex *order, int n)
{
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < audit_shared->capacity; i++)
	{
		DpAuditSlot *s = &audit_shared->slots[i];

		if (s->e.state != AUDIT_SLOT_DRAINING || s->e.key.dboid != MyDatabaseId)
			continue;
		if (bsearch(&s->e.seq, order, n, sizeof(DpSeqIndex), seq_cmp))
		{
			SpinLockAcquire(&s->mutex);
			s->e.state = AUDIT_SLOT_FREE;
			SpinLockRelease(&s->mutex);
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
	int			n;
	int			nstale;

	if (audit_shared == NULL || audit_shared->used == 0)
		return 0;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform audit drain",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	/*
	 * Claim this database's entries.  Entries of another database that
	 * nobody drained for STALE_MINUTES (its extension was dropped, or never
	 * committed) go to the server log, so they do not hold the buffer.
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
	n = claim_entries(entries, stale, &nstale);
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
#define DRAIN_COLS 8
		Oid			types[DRAIN_COLS] = {TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
			TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
		Datum	   *cols[DRAIN_COLS];
		Datum		values[DRAIN_COLS];
		int			rc;

		/* one INSERT for the whole batch: arrays of the columns, unnested */
		for (int c = 0; c < DRAIN_COLS; c++)
			cols[c] = palloc(sizeof(Datum) * n);
		for (int i = 0; i < n; i++)
		{
			DpAuditEntry *e = &entries[order[i].index];
			char		first[DP_AUDIT_STATEMENT_ID_LEN];

			format_statement_id(first, &e->first);
			cols[0][i] = TimestampTzGetDatum(e->at);
			cols[1][i] = CStringGetTextDatum(NameStr(e->role));
			cols[2][i] = CStringGetTextDatum(NameStr(e->session_role));
			cols[3][i] = CStringGetTextDatum(e->key.client_addr);
			cols[4][i] = CStringGetTextDatum(NameStr(e->relname));
			cols[5][i] = CStringGetTextDatum(entry_detail(e));
			cols[6][i] = CStringGetTextDatum(first);
			/* as pg_stat_activity.query_id shows it; 0: none (NULL) */
			cols[7][i] = Int64GetDatum((int64) e->key.query_id);
		}
		values[0] = PointerGetDatum(construct_array(cols[0], n, TIMESTAMPTZOID, sizeof(TimestampTz),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		for (int c = 1; c < 7; c++)
			values[c] = PointerGetDatum(construct_array(cols[c], n, TEXTOID, -1, false, TYPALIGN_INT));
		values[7] = PointerGetDatum(construct_array(cols[7], n, INT8OID, sizeof(int64),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));

		if (RecoveryInProgress())
		{
			/* a standby: to the primary (audit_ship.c) */
			dp_audit_ship(DRAIN_COLS, types, values, n);
			goto shipped;
		}
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "dataplatform: write buffered audit entries");
		/* the partitions of their months, made when missing (see dp_audit) */
		for (int i = 0; i < n; i++)
			dp_partition_ensure("dataplatform", "audit_log", entries[order[i].index].at);
		rc = SPI_execute_with_args("INSERT INTO dataplatform.audit_log "
								   "(at, role_name, session_role, client_addr, action, object, detail, "
								   "statement_id, query_id) "
								   "SELECT u.at, u.r::name, u.s::name, NULLIF(u.c, '')::inet, 'read', u.o, "
								   "u.d::jsonb, u.st, NULLIF(u.q, 0) "
								   "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
								   "pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
								   "pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8)) "
								   "AS u(at, r, s, c, o, d, st, q)",
								   DRAIN_COLS, types, values, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
shipped:
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
