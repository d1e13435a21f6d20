/*
 * bulk.c
 *		Writing rows into a table the way COPY does (the table AM's
 *		multi-insert, then the executor's index insertion), without a SQL
 *		statement; finding rows through an index is probe.c's.
 *
 * Used by the data path where SQL would cost more than the work: clean
 * rows with new keys, raw rows, history rows, the event log; updates and
 * deletes of rows found by a probe (current state written back by events).
 * Values come either as datums or as text, converted by the column type's
 * input function (the path COPY takes; the spellings the data path's
 * harmonised values have are read directly, bulk_input.c); columns asked for get their
 * default (an identity, a clock) as COPY gives it.  Constraints (NOT NULL,
 * CHECK) are checked as the executor would; the table must have no
 * triggers for what is done to it (ours have none), so none are skipped
 * silently.  An update is HOT when no indexed column changes (the heap
 * decides), otherwise every index gets its new entry, as UPDATE does.
 *
 * Memory: a DpBulk's buffered values live in a context of its own, reset
 * after each write of the buffer; everything else in the context current
 * at dp_bulk_begin.  Locks: the relation stays locked (RowExclusiveLock, or
 * the caller's stronger lock) until the end of the transaction.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "rewrite/rewriteHandler.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "bulk.h"
#include "bulk_internal.h"
#include "change_feed.h"

#define DP_BULK_SLOTS 1000


struct DpBulk
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	BulkInsertState bis;
	CommandId	cid;
	bool		check_constraints;
	MemoryContext buf_cxt;		/* values of the buffered rows */
	TupleTableSlot *slots[DP_BULK_SLOTS];
	int			nslots;			/* filled */
	TupleTableSlot *current;	/* being filled, or NULL */
	DpInput    *inputs;			/* per attribute, made on first use */
	int			ndefaults;		/* columns that take their default */
	AttrNumber *default_atts;
	ExprState **defaults;
	MemoryContext cxt;			/* where the DpBulk lives */
	bool		checked_update; /* no update trigger */
	bool		checked_delete; /* no delete trigger */
	uint64		written;
	/* dp_bulk_take_back: rows whose primary key was held already */
	List	   *arbiter;		/* the primary key index, or NIL */
	int			tags[DP_BULK_SLOTS];	/* of the buffered rows */
	int			ntaken;
	int			maxtaken;
	int		   *taken_tags;
	ItemPointerData *taken_tids;
	/* dp_bulk_feed: the TIDs written, for the change feed */
	DpTids	   *feed;
	char	   *feed_dataset;
	int64		feed_batch;
};


Relation
dp_bulk_open_table(const char *schema, const char *table, LOCKMODE mode)
{
	Oid			nsp = get_namespace_oid(schema, false);
	Oid			relid = get_relname_relid(table, nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", schema, table)));
	return table_open(relid, mode);
}

AttrNumber
dp_bulk_attnum_of(TupleDesc desc, const char *column)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), column) == 0)
			return a->attnum;
	}
	return InvalidAttrNumber;
}

/* The attribute number of a column of rel, or an ERROR naming it. */
AttrNumber
dp_bulk_column(Relation rel, const char *column)
{
	AttrNumber	att = dp_bulk_attnum_of(RelationGetDescr(rel), column);

	if (att == InvalidAttrNumber)
		elog(ERROR, "column \"%s\" of relation \"%s\" does not exist", column,
			 RelationGetRelationName(rel));
	return att;
}

Datum
dp_bulk_input_value(DpInput *in, Form_pg_attribute attr, const char *text)
{
	Datum		d;

	if (!in->ready)
	{
		Oid			func;

		getTypeInputInfo(attr->atttypid, &func, &in->ioparam);
		fmgr_info(func, &in->fn);
		in->typmod = attr->atttypmod;
		in->typid = attr->atttypid;
		in->ready = true;
	}
	if (dp_bulk_fast_input(in->typid, in->typmod, text, &d))
		return d;
	return InputFunctionCall(&in->fn, (char *) text, in->ioparam, in->typmod);
}

/* ------------------------------------------------------------------------
 * Bulk insertion
 * ------------------------------------------------------------------------
 */

DpBulk *
dp_bulk_begin(const char *schema, const char *table)
{
	DpBulk	   *b = palloc0(sizeof(DpBulk));
	RangeTblEntry *rte;
	TriggerDesc *td;

	b->rel = dp_bulk_open_table(schema, table, RowExclusiveLock);
	td = b->rel->trigdesc;
	if (td && (td->trig_insert_before_row || td->trig_insert_after_row ||
			   td->trig_insert_instead_row || td->trig_insert_before_statement ||
			   td->trig_insert_after_statement))
		elog(ERROR, "relation \"%s.%s\" has insert triggers: not written in bulk", schema, table);

	b->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(b->rel);
	rte->relkind = b->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(b->estate, list_make1(rte));
	b->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(b->rri, b->rel, 1, NULL, 0);
	ExecOpenIndices(b->rri, false);
	b->cid = GetCurrentCommandId(true);
	b->estate->es_output_cid = b->cid;
	b->check_constraints = b->rel->rd_att->constr != NULL;
	b->bis = GetBulkInsertState();
	b->buf_cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform bulk rows",
									   ALLOCSET_DEFAULT_SIZES);
	b->inputs = palloc0(sizeof(DpInput) * RelationGetDescr(b->rel)->natts);
	b->cxt = CurrentMemoryContext;
	return b;
}

AttrNumber
dp_bulk_attnum(DpBulk *b, const char *column)
{
	return dp_bulk_column(b->rel, column);
}

/* Remember buffered row i, stored but holding a stored key (dp_bulk_take_back). */
static void
take_back(DpBulk *b, int i)
{
	if (b->ntaken == b->maxtaken)
	{
		MemoryContext old = MemoryContextSwitchTo(b->cxt);

		b->maxtaken = Max(64, b->maxtaken * 2);
		if (b->taken_tags == NULL)
		{
			b->taken_tags = palloc(sizeof(int) * b->maxtaken);
			b->taken_tids = palloc(sizeof(ItemPointerData) * b->maxtaken);
		}
		else
		{
			b->taken_tags = repalloc(b->taken_tags, sizeof(int) * b->maxtaken);
			b->taken_tids = repalloc(b->taken_tids, sizeof(ItemPointerData) * b->maxtaken);
		}
		MemoryContextSwitchTo(old);
	}
	b->taken_tags[b->ntaken] = b->tags[i];
	ItemPointerCopy(&b->slots[i]->tts_tid, &b->taken_tids[b->ntaken]);
	b->ntaken++;
}

static void
flush_buffer(DpBulk *b)
{
	EState	   *estate = b->estate;

	if (b->nslots == 0)
		return;
	if (b->check_constraints)
		for (int i = 0; i < b->nslots; i++)
			ExecConstraints(b->rri, b->slots[i], estate);
	table_multi_insert(b->rel, b->slots, b->nslots, b->cid, 0, b->bis);
	if (b->feed)
		for (int i = 0; i < b->nslots; i++)
			dp_tids_add(b->feed, &b->slots[i]->tts_tid);
	if (b->rri->ri_NumIndices > 0)
		for (int i = 0; i < b->nslots; i++)
		{
			List	   *recheck;
			bool		conflict = false;

			recheck = ExecInsertIndexTuples(b->rri, b->slots[i], estate, false,
											b->arbiter != NIL, &conflict, b->arbiter);
			list_free(recheck);
			ResetPerTupleExprContext(estate);
			if (conflict)
				take_back(b, i);
		}
	for (int i = 0; i < b->nslots; i++)
		ExecClearTuple(b->slots[i]);
	b->written += b->nslots;
	b->nslots = 0;
	MemoryContextReset(b->buf_cxt);
}

int
dp_bulk_natts(DpBulk *b)
{
	return RelationGetDescr(b->rel)->natts;
}

TupleTableSlot *
dp_bulk_slot(DpBulk *b)
{
	TupleTableSlot *slot;

	if (b->nslots == DP_BULK_SLOTS)
		flush_buffer(b);
	if (b->slots[b->nslots] == NULL)
		b->slots[b->nslots] = table_slot_create(b->rel, NULL);
	slot = b->slots[b->nslots];
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	b->current = slot;
	return slot;
}

Datum
dp_bulk_input(DpBulk *b, AttrNumber att, const char *text)
{
	MemoryContext old = MemoryContextSwitchTo(b->buf_cxt);
	Datum		d;

	d = dp_bulk_input_value(&b->inputs[att - 1],
					TupleDescAttr(RelationGetDescr(b->rel), att - 1), text);
	MemoryContextSwitchTo(old);
	return d;
}

void
dp_bulk_set_text(DpBulk *b, AttrNumber att, const char *text)
{
	Assert(b->current != NULL);
	if (text == NULL)
		return;
	b->current->tts_values[att - 1] = dp_bulk_input(b, att, text);
	b->current->tts_isnull[att - 1] = false;
}

void
dp_bulk_set_datum(DpBulk *b, AttrNumber att, Datum value)
{
	Assert(b->current != NULL);
	b->current->tts_values[att - 1] = value;
	b->current->tts_isnull[att - 1] = false;
}

/*
 * A column that takes its default (as COPY gives it to columns it is not
 * sent) in every row stored from now on, unless a value was set.
 */
void
dp_bulk_default(DpBulk *b, AttrNumber att)
{
	Expr	   *expr = (Expr *) build_column_default(b->rel, att);
	MemoryContext old;

	if (expr == NULL)
		elog(ERROR, "column %d of relation \"%s\" has no default", att,
			 RelationGetRelationName(b->rel));
	old = MemoryContextSwitchTo(b->cxt);
	if (b->default_atts == NULL)
	{
		int			natts = RelationGetDescr(b->rel)->natts;

		b->default_atts = palloc(sizeof(AttrNumber) * natts);
		b->defaults = palloc(sizeof(ExprState *) * natts);
	}
	b->default_atts[b->ndefaults] = att;
	b->defaults[b->ndefaults] = ExecPrepareExpr(expr, b->estate);
	b->ndefaults++;
	MemoryContextSwitchTo(old);
}

/* The defaults of the current row's unset columns (see dp_bulk_default). */
static void
fill_defaults(DpBulk *b)
{
	TupleTableSlot *slot = b->current;
	ExprContext *econtext = GetPerTupleExprContext(b->estate);
	MemoryContext old = MemoryContextSwitchTo(b->buf_cxt);

	for (int i = 0; i < b->ndefaults; i++)
	{
		AttrNumber	att = b->default_atts[i];

		if (slot->tts_isnull[att - 1])
			slot->tts_values[att - 1] = ExecEvalExpr(b->defaults[i], econtext,
													 &slot->tts_isnull[att - 1]);
	}
	MemoryContextSwitchTo(old);
}

void
dp_bulk_store(DpBulk *b)
{
	Assert(b->current != NULL);
	if (b->ndefaults > 0)
		fill_defaults(b);
	ExecStoreVirtualTuple(b->current);
	b->current = NULL;
	b->nslots++;
}

/* The snapshot handed to the table AM (the heap does not read it). */
static Snapshot
current_snapshot(void)
{
	return ActiveSnapshotSet() ? GetActiveSnapshot() : InvalidSnapshot;
}

/* Refuse a table with triggers of this kind: writing around them would skip them. */
static void
check_no_triggers(DpBulk *b, bool update)
{
	TriggerDesc *td = b->rel->trigdesc;

	if (td == NULL)
		return;
	if (update ? (td->trig_update_before_row || td->trig_update_after_row ||
				  td->trig_update_instead_row || td->trig_update_before_statement ||
				  td->trig_update_after_statement) :
		(td->trig_delete_before_row || td->trig_delete_after_row ||
		 td->trig_delete_instead_row || td->trig_delete_before_statement ||
		 td->trig_delete_after_statement))
		elog(ERROR, "relation \"%s\" has %s triggers: not written in bulk",
			 RelationGetRelationName(b->rel), update ? "update" : "delete");
}

/*
 * Whether the new version's index entries need the executor's general path:
 * an index on expressions, partial, deferrable or an exclusion constraint.
 */
static bool
indexes_plain(ResultRelInfo *rri)
{
	for (int i = 0; i < rri->ri_NumIndices; i++)
	{
		Relation	idx = rri->ri_IndexRelationDescs[i];
		IndexInfo  *ii = rri->ri_IndexRelationInfo[i];

		if (idx == NULL)
			continue;
		if (ii->ii_Expressions != NIL || ii->ii_Predicate != NIL || ii->ii_ExclusionOps != NULL ||
			(idx->rd_index->indisunique && !idx->rd_index->indimmediate))
			return false;
	}
	return true;
}

/*
 * Index entries of a new (not HOT) version.  An index whose columns all
 * keep their value (unchanged[att - 1]) gets its entry with the hint that
 * the row is logically unchanged (bottom-up deletion of the old versions)
 * and no uniqueness check: the value was unique in the version it
 * replaces, which the update locked.  The others are checked as UPDATE
 * checks them.
 */
static void
update_index_entries(DpBulk *b, TupleTableSlot *slot, const bool *unchanged)
{
	ResultRelInfo *rri = b->rri;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];

	if (unchanged == NULL || !indexes_plain(rri))
	{
		list_free(ExecInsertIndexTuples(rri, slot, b->estate, true, false, NULL, NIL));
		return;
	}
	for (int i = 0; i < rri->ri_NumIndices; i++)
	{
		Relation	idx = rri->ri_IndexRelationDescs[i];
		IndexInfo  *ii = rri->ri_IndexRelationInfo[i];
		bool		same = true;

		if (idx == NULL || !ii->ii_ReadyForInserts)
			continue;
		for (int k = 0; k < ii->ii_NumIndexAttrs && same; k++)
			same = unchanged[ii->ii_IndexAttrNumbers[k] - 1];
		FormIndexDatum(ii, slot, b->estate, values, isnull);
		(void) index_insert(idx, values, isnull, &slot->tts_tid, b->rel,
							idx->rd_index->indisunique && !same ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
							same, ii);
	}
}

/*
 * The current row (dp_bulk_slot, its values set) replaces the stored row
 * at tid, which the caller found under a lock that keeps other writers
 * out.  The heap makes it a HOT update when no indexed column changes;
 * otherwise the new version gets its index entries, as UPDATE does.
 * unchanged (per attribute, or NULL) says which columns the caller knows
 * keep the stored row's value.
 */
void
dp_bulk_update(DpBulk *b, ItemPointer tid, const bool *unchanged)
{
	TupleTableSlot *slot = b->current;
	TM_Result	res;
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	bool		update_indexes;

	Assert(slot != NULL);
	if (!b->checked_update)
	{
		check_no_triggers(b, true);
		/* as UPDATE refuses it: a publication could not replicate the change */
		CheckCmdReplicaIdentity(b->rel, CMD_UPDATE);
		b->checked_update = true;
	}
	if (b->ndefaults > 0)
		fill_defaults(b);
	ExecStoreVirtualTuple(slot);
	if (b->check_constraints)
		ExecConstraints(b->rri, slot, b->estate);
	res = table_tuple_update(b->rel, tid, slot, b->cid, current_snapshot(), InvalidSnapshot,
							 true, &tmfd, &lockmode, &update_indexes);
	if (res != TM_Ok)
		elog(ERROR, "could not update a row of \"%s\" in place (result %d)",
			 RelationGetRelationName(b->rel), (int) res);
	if (b->feed)
		dp_tids_add(b->feed, &slot->tts_tid);
	if (update_indexes && b->rri->ri_NumIndices > 0)
		update_index_entries(b, slot, unchanged);
	ResetPerTupleExprContext(b->estate);
	ExecClearTuple(slot);
	b->current = NULL;
	b->written++;
	if (b->nslots == 0)
		MemoryContextReset(b->buf_cxt);
}

/* Delete the stored row at tid (found under the caller's lock). */
void
dp_bulk_delete(DpBulk *b, ItemPointer tid)
{
	TM_Result	res;
	TM_FailureData tmfd;

	if (!b->checked_delete)
	{
		check_no_triggers(b, false);
		CheckCmdReplicaIdentity(b->rel, CMD_DELETE);
		b->checked_delete = true;
	}
	res = table_tuple_delete(b->rel, tid, b->cid, current_snapshot(), InvalidSnapshot,
							 true, &tmfd, false);
	if (res != TM_Ok)
		elog(ERROR, "could not delete a row of \"%s\" (result %d)",
			 RelationGetRelationName(b->rel), (int) res);
	b->written++;
}

void
dp_bulk_take_back(DpBulk *b)
{
	Oid			pk = RelationGetPrimaryKeyIndex(b->rel);

	if (!OidIsValid(pk))
		elog(ERROR, "relation \"%s\" has no primary key", RelationGetRelationName(b->rel));
	b->arbiter = list_make1_oid(pk);
}

void
dp_bulk_tag(DpBulk *b, int tag)
{
	b->tags[b->nslots] = tag;
}

/*
 * Write what is buffered, delete again the rows dp_bulk_take_back took
 * back (once this command's rows are visible), and close the relation.
 */
uint64
dp_bulk_end_taken_back(DpBulk *b, int **tags, int *ntags)
{
	int			n;
	int		   *t;
	ItemPointerData *tids;
	Relation	rel;
	uint64		written;

	flush_buffer(b);
	n = b->ntaken;
	t = b->taken_tags;
	tids = b->taken_tids;
	rel = b->rel;
	/* keep the relation's lock and reference past dp_bulk_end */
	rel = table_open(RelationGetRelid(rel), NoLock);
	written = dp_bulk_end(b);
	for (int i = 0; i < n; i++)
		simple_heap_delete(rel, &tids[i]);
	table_close(rel, NoLock);
	if (n > 0)
		CommandCounterIncrement();
	*tags = t;
	*ntags = n;
	return written - n;
}

void
dp_bulk_feed(DpBulk *b, const char *dataset, int64 batch_id)
{
	MemoryContext old = MemoryContextSwitchTo(b->cxt);

	b->feed = dp_tids_new();
	b->feed_dataset = pstrdup(dataset);
	b->feed_batch = batch_id;
	MemoryContextSwitchTo(old);
}

uint64
dp_bulk_end(DpBulk *b)
{
	uint64		written;

	flush_buffer(b);
	if (b->feed)
		dp_change_feed_write(b->feed_dataset, b->feed_batch, b->feed->tids, b->feed->n);
	written = b->written;
	ExecCloseIndices(b->rri);
	FreeBulkInsertState(b->bis);
	table_finish_bulk_insert(b->rel, 0);
	for (int i = 0; i < DP_BULK_SLOTS && b->slots[i]; i++)
		ExecDropSingleTupleTableSlot(b->slots[i]);
	FreeExecutorState(b->estate);
	table_close(b->rel, NoLock);
	MemoryContextDelete(b->buf_cxt);
	pfree(b->inputs);
	pfree(b);
	/* what was written is seen by the statements that follow */
	CommandCounterIncrement();
	return written;
}
