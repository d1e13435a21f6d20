/*
 * bulk.c
 *		Writing rows into a table the way COPY does (the table AM's
 *		multi-insert, then the executor's index insertion), and probing a
 *		table's primary key through its index, without a SQL statement.
 *
 * Used by the data path where SQL would cost more than the work: clean
 * rows with new keys, raw rows, history rows.  Values come either as
 * datums or as text, converted by the column type's input function (the
 * path COPY takes).  Constraints (NOT NULL, CHECK) are checked as the
 * executor would; the table must have no insert triggers (ours have none),
 * so none are skipped silently.
 *
 * Memory: a DpBulk's buffered values live in a context of its own, reset
 * after each write of the buffer; everything else in the context current
 * at dp_bulk_begin.  Locks: the relation stays locked (RowExclusiveLock, or
 * the caller's stronger lock) until the end of the transaction.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "bulk.h"

#define DP_BULK_SLOTS 1000

typedef struct DpInput
{
	bool		ready;
	FmgrInfo	fn;
	Oid			ioparam;
	int32		typmod;
} DpInput;

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
	uint64		written;
};

struct DpProbe
{
	Relation	rel;
	Relation	idx;
	int			nkeys;
	ScanKeyData *skeys;
	AttrNumber *heap_atts;
	DpInput    *inputs;
	IndexScanDesc scan;
	TupleTableSlot *slot;
};

static Relation
open_table(const char *schema, const char *table, LOCKMODE mode)
{
	Oid			nsp = get_namespace_oid(schema, false);
	Oid			relid = get_relname_relid(table, nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", schema, table)));
	return table_open(relid, mode);
}

static Datum
input_value(DpInput *in, Form_pg_attribute attr, const char *text)
{
	if (!in->ready)
	{
		Oid			func;

		getTypeInputInfo(attr->atttypid, &func, &in->ioparam);
		fmgr_info(func, &in->fn);
		in->typmod = attr->atttypmod;
		in->ready = true;
	}
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

	b->rel = open_table(schema, table, RowExclusiveLock);
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
	return b;
}

AttrNumber
dp_bulk_attnum(DpBulk *b, const char *column)
{
	TupleDesc	desc = RelationGetDescr(b->rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), column) == 0)
			return a->attnum;
	}
	elog(ERROR, "column \"%s\" of relation \"%s\" does not exist", column,
		 RelationGetRelationName(b->rel));
	return InvalidAttrNumber;	/* keep the compiler quiet */
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
	if (b->rri->ri_NumIndices > 0)
		for (int i = 0; i < b->nslots; i++)
		{
			List	   *recheck;

			recheck = ExecInsertIndexTuples(b->rri, b->slots[i], estate, false, false,
											NULL, NIL);
			list_free(recheck);
			ResetPerTupleExprContext(estate);
		}
	for (int i = 0; i < b->nslots; i++)
		ExecClearTuple(b->slots[i]);
	b->written += b->nslots;
	b->nslots = 0;
	MemoryContextReset(b->buf_cxt);
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

	d = input_value(&b->inputs[att - 1],
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

void
dp_bulk_store(DpBulk *b)
{
	Assert(b->current != NULL);
	ExecStoreVirtualTuple(b->current);
	b->current = NULL;
	b->nslots++;
}

uint64
dp_bulk_end(DpBulk *b)
{
	uint64		written;

	flush_buffer(b);
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

/* ------------------------------------------------------------------------
 * Primary key probes
 * ------------------------------------------------------------------------
 */

DpProbe *
dp_probe_begin(const char *schema, const char *table)
{
	DpProbe    *p = palloc0(sizeof(DpProbe));
	Oid			pk;

	p->rel = open_table(schema, table, AccessShareLock);
	pk = RelationGetPrimaryKeyIndex(p->rel);
	if (!OidIsValid(pk))
		elog(ERROR, "relation \"%s.%s\" has no primary key", schema, table);
	p->idx = index_open(pk, AccessShareLock);
	p->nkeys = IndexRelationGetNumberOfKeyAttributes(p->idx);
	p->skeys = palloc0(sizeof(ScanKeyData) * p->nkeys);
	p->heap_atts = palloc0(sizeof(AttrNumber) * p->nkeys);
	p->inputs = palloc0(sizeof(DpInput) * p->nkeys);
	for (int i = 0; i < p->nkeys; i++)
	{
		Oid			opfamily = p->idx->rd_opfamily[i];
		Oid			opcintype = p->idx->rd_opcintype[i];
		Oid			eqop = get_opfamily_member(opfamily, opcintype, opcintype,
											   BTEqualStrategyNumber);

		if (!OidIsValid(eqop))
			elog(ERROR, "no equality operator for key column %d of \"%s.%s\"",
				 i + 1, schema, table);
		p->heap_atts[i] = p->idx->rd_index->indkey.values[i];
		ScanKeyEntryInitialize(&p->skeys[i], 0, i + 1, BTEqualStrategyNumber,
							   InvalidOid, p->idx->rd_indcollation[i],
							   get_opcode(eqop), (Datum) 0);
	}
	p->slot = table_slot_create(p->rel, NULL);

	/*
	 * SnapshotSelf: committed rows and this transaction's own writes up to
	 * now; the caller's lock keeps other writers out meanwhile.
	 */
	p->scan = index_beginscan(p->rel, p->idx, SnapshotSelf, p->nkeys, 0);
	return p;
}

int
dp_probe_nkeys(DpProbe *p)
{
	return p->nkeys;
}

const char *
dp_probe_key_column(DpProbe *p, int i)
{
	return NameStr(TupleDescAttr(RelationGetDescr(p->rel), p->heap_atts[i] - 1)->attname);
}

Datum
dp_probe_input(DpProbe *p, int i, const char *text)
{
	return input_value(&p->inputs[i],
					   TupleDescAttr(RelationGetDescr(p->rel), p->heap_atts[i] - 1), text);
}

bool
dp_probe_exists(DpProbe *p, const Datum *key)
{
	bool		found;

	for (int i = 0; i < p->nkeys; i++)
		p->skeys[i].sk_argument = key[i];
	index_rescan(p->scan, p->skeys, p->nkeys, NULL, 0);
	found = index_getnext_slot(p->scan, ForwardScanDirection, p->slot);
	ExecClearTuple(p->slot);
	return found;
}

void
dp_probe_end(DpProbe *p)
{
	index_endscan(p->scan);
	ExecDropSingleTupleTableSlot(p->slot);
	index_close(p->idx, NoLock);
	table_close(p->rel, NoLock);
	pfree(p->skeys);
	pfree(p->heap_atts);
	pfree(p->inputs);
	pfree(p);
}
