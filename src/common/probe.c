/*
 * probe.c
 *		Finding rows through a btree index without a SQL statement: "is this
 *		key stored, and what does the row hold?" (DpProbe, declared in
 *		bulk.h beside the writer it serves).
 *
 * A probe opens the table and one of its btree indexes (the primary key,
 * a named index, a unique index on given columns, or one that leads with
 * a column; a partitioned table walked leaf by leaf) and keeps one index
 * scan, rescanned per key.  It sees committed rows and the transaction's
 * own earlier writes (SnapshotSelf): callers hold a lock that keeps other
 * writers out.  Memory: everything in the context current at its creation;
 * the index scan's own state too, so a probe is called in that context
 * (or one that lives as long), never in a per-row context reset between
 * calls.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "executor/tuptable.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "bulk.h"
#include "bulk_internal.h"

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
	FmgrInfo   *outputs;		/* per attribute, made on first use */
	bool	   *output_ready;
	ScanDirection direction;
	MemoryContext cxt;			/* where the DpProbe lives */

	/*
	 * A partitioned table (dp_probe_begin_on): no index of its own (idx is
	 * NULL) but one probe per leaf, walked in turn; each row found is put
	 * in slot in the parent's row type.
	 */
	int			nleaves;
	struct DpProbe **leaves;
	TupleConversionMap **maps;	/* a leaf's row to the parent's; NULL: alike */
	int			leaf;			/* the leaf being walked */
	bool		leaf_started;
	Datum		leaf_key;		/* the key being looked for */
};

/*
 * A probe of index idx of rel (both open), on its first nkeys key columns.
 */
static DpProbe *
probe_open(Relation rel, Relation idx, int nkeys)
{
	DpProbe    *p = palloc0(sizeof(DpProbe));
	int			natts = RelationGetDescr(rel)->natts;

	p->rel = rel;
	p->idx = idx;
	p->cxt = CurrentMemoryContext;
	if (idx->rd_rel->relam != BTREE_AM_OID)
		elog(ERROR, "index \"%s\" is not a btree", RelationGetRelationName(idx));
	p->nkeys = nkeys > 0 ? nkeys : IndexRelationGetNumberOfKeyAttributes(idx);
	if (p->nkeys > IndexRelationGetNumberOfKeyAttributes(idx))
		elog(ERROR, "index \"%s\" has fewer than %d key columns", RelationGetRelationName(idx),
			 p->nkeys);
	p->skeys = palloc0(sizeof(ScanKeyData) * p->nkeys);
	p->heap_atts = palloc0(sizeof(AttrNumber) * p->nkeys);
	p->inputs = palloc0(sizeof(DpInput) * p->nkeys);
	for (int i = 0; i < p->nkeys; i++)
	{
		Oid			opfamily = idx->rd_opfamily[i];
		Oid			opcintype = idx->rd_opcintype[i];
		Oid			eqop = get_opfamily_member(opfamily, opcintype, opcintype,
											   BTEqualStrategyNumber);

		if (!OidIsValid(eqop) || idx->rd_index->indkey.values[i] == 0)
			elog(ERROR, "key column %d of index \"%s\" cannot be probed", i + 1,
				 RelationGetRelationName(idx));
		p->heap_atts[i] = idx->rd_index->indkey.values[i];
		ScanKeyEntryInitialize(&p->skeys[i], 0, i + 1, BTEqualStrategyNumber,
							   InvalidOid, idx->rd_indcollation[i],
							   get_opcode(eqop), (Datum) 0);
	}
	p->slot = table_slot_create(rel, NULL);

	/*
	 * A whole key of a unique index finds one live row among the entries
	 * of its dead versions, which sit in the order of their addresses: a
	 * version written later mostly sits later in the table, so the search
	 * starts from the last entry.
	 */
	p->direction = idx->rd_index->indisunique &&
		p->nkeys == IndexRelationGetNumberOfKeyAttributes(idx) ?
		BackwardScanDirection : ForwardScanDirection;
	p->outputs = palloc0(sizeof(FmgrInfo) * natts);
	p->output_ready = palloc0(sizeof(bool) * natts);

	/*
	 * SnapshotSelf: committed rows and this transaction's own writes up to
	 * now; the caller's lock keeps other writers out meanwhile.
	 */
	p->scan = index_beginscan(rel, idx, SnapshotSelf, p->nkeys, 0);
	return p;
}

DpProbe *
dp_probe_begin(const char *schema, const char *table)
{
	Relation	rel = dp_bulk_open_table(schema, table, AccessShareLock);
	Oid			pk = RelationGetPrimaryKeyIndex(rel);

	if (!OidIsValid(pk))
		elog(ERROR, "relation \"%s.%s\" has no primary key", schema, table);
	return probe_open(rel, index_open(pk, AccessShareLock), 0);
}

/*
 * A probe through the index schema.index (any btree index: unique or not,
 * partial or not), matching its first nkeys key columns (0: all of them).
 * A row is found through a partial index only while it matches the index's
 * predicate: a row leaves the predicate only by an update of a column the
 * predicate reads, and such an update is never HOT, so the version the
 * index points to is the one that matched.
 */
DpProbe *
dp_probe_begin_index(const char *schema, const char *index, int nkeys)
{
	Oid			nsp = get_namespace_oid(schema, false);
	Oid			idxid = get_relname_relid(index, nsp);
	Relation	rel;

	if (!OidIsValid(idxid) || get_rel_relkind(idxid) != RELKIND_INDEX)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("index \"%s.%s\" does not exist", schema, index)));
	rel = table_open(IndexGetRelation(idxid, false), AccessShareLock);
	return probe_open(rel, index_open(idxid, AccessShareLock), nkeys);
}

/*
 * A probe of schema.table through a unique btree index whose key columns
 * are exactly columns, in that order (valid, not partial, no expressions),
 * or NULL when it has none.
 */
DpProbe *
dp_probe_begin_unique(const char *schema, const char *table, const char *const *columns, int ncolumns)
{
	Relation	rel = dp_bulk_open_table(schema, table, AccessShareLock);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		bool		match = idx->rd_rel->relam == BTREE_AM_OID && idx->rd_index->indisvalid &&
			idx->rd_index->indisunique && idx->rd_index->indimmediate &&
			IndexRelationGetNumberOfKeyAttributes(idx) == ncolumns &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indpred, NULL) &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indexprs, NULL);

		for (int i = 0; match && i < ncolumns; i++)
			match = idx->rd_index->indkey.values[i] == dp_bulk_attnum_of(RelationGetDescr(rel), columns[i]);
		if (match)
		{
			list_free(indexes);
			return probe_open(rel, idx, 0);
		}
		index_close(idx, AccessShareLock);
	}
	list_free(indexes);
	table_close(rel, AccessShareLock);
	return NULL;
}

/* A probe of rel (open) through a btree index that leads with column. */
static DpProbe *
probe_on(Relation rel, const char *schema, const char *column)
{
	AttrNumber	att = dp_bulk_attnum_of(RelationGetDescr(rel), column);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);

		if (idx->rd_rel->relam == BTREE_AM_OID && idx->rd_index->indisvalid &&
			heap_attisnull(idx->rd_indextuple, Anum_pg_index_indpred, NULL) &&
			att != InvalidAttrNumber && idx->rd_index->indkey.values[0] == att)
		{
			list_free(indexes);
			return probe_open(rel, idx, 1);
		}
		index_close(idx, AccessShareLock);
	}
	elog(ERROR, "relation \"%s.%s\" has no btree index that leads with \"%s\"",
		 schema, RelationGetRelationName(rel), column);
	return NULL;				/* keep the compiler quiet */
}

/*
 * A probe of schema.table through a btree index that leads with column
 * (not partial, valid), matching that column only: the versions of one
 * key in a table that has no unique index on it.  A partitioned table is
 * walked leaf by leaf (each through its own such index), its rows given
 * in the parent's row type: one index probe per leaf and key, so callers
 * walk one only for the keys that need it.
 */
DpProbe *
dp_probe_begin_on(const char *schema, const char *table, const char *column)
{
	Relation	rel = dp_bulk_open_table(schema, table, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	DpProbe    *p;
	List	   *oids;
	ListCell   *lc;

	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		return probe_on(rel, schema, column);

	p = palloc0(sizeof(DpProbe));
	p->rel = rel;
	p->cxt = CurrentMemoryContext;
	p->nkeys = 1;
	p->heap_atts = palloc0(sizeof(AttrNumber));
	p->heap_atts[0] = dp_bulk_attnum_of(desc, column);
	if (p->heap_atts[0] == InvalidAttrNumber)
		elog(ERROR, "column \"%s\" of relation \"%s.%s\" does not exist", column, schema, table);
	p->skeys = palloc0(sizeof(ScanKeyData));
	p->inputs = palloc0(sizeof(DpInput));
	p->slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	p->direction = ForwardScanDirection;
	p->outputs = palloc0(sizeof(FmgrInfo) * desc->natts);
	p->output_ready = palloc0(sizeof(bool) * desc->natts);
	oids = find_all_inheritors(RelationGetRelid(rel), AccessShareLock, NULL);
	p->leaves = palloc0(sizeof(DpProbe *) * (list_length(oids) + 1));
	p->maps = palloc0(sizeof(TupleConversionMap *) * (list_length(oids) + 1));
	foreach(lc, oids)
	{
		Oid			relid = lfirst_oid(lc);
		Relation	leaf;

		if (get_rel_relkind(relid) != RELKIND_RELATION)
			continue;
		leaf = table_open(relid, AccessShareLock);
		p->maps[p->nleaves] = convert_tuples_by_name(RelationGetDescr(leaf), desc);
		p->leaves[p->nleaves++] = probe_on(leaf, schema, column);
	}
	list_free(oids);
	return p;
}

/* The next row of a partitioned table's walk (dp_probe_begin_on), or NULL. */
static TupleTableSlot *
leaves_next(DpProbe *p)
{
	while (p->leaf < p->nleaves)
	{
		DpProbe    *lp = p->leaves[p->leaf];
		TupleTableSlot *found;

		found = p->leaf_started ? dp_probe_next(lp) : dp_probe_fetch(lp, &p->leaf_key);
		p->leaf_started = true;
		if (found == NULL)
		{
			p->leaf++;
			p->leaf_started = false;
			continue;
		}
		if (p->maps[p->leaf])
			execute_attr_map_slot(p->maps[p->leaf]->attrMap, found, p->slot);
		else
		{
			int			natts = RelationGetDescr(p->rel)->natts;

			ExecClearTuple(p->slot);
			slot_getallattrs(found);
			memcpy(p->slot->tts_values, found->tts_values, sizeof(Datum) * natts);
			memcpy(p->slot->tts_isnull, found->tts_isnull, sizeof(bool) * natts);
			ExecStoreVirtualTuple(p->slot);
		}
		p->slot->tts_tid = found->tts_tid;
		return p->slot;
	}
	ExecClearTuple(p->slot);
	return NULL;
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
	return dp_bulk_input_value(&p->inputs[i],
					   TupleDescAttr(RelationGetDescr(p->rel), p->heap_atts[i] - 1), text);
}

bool
dp_probe_exists(DpProbe *p, const Datum *key)
{
	bool		found = dp_probe_fetch(p, key) != NULL;

	ExecClearTuple(p->slot);
	return found;
}

/*
 * The first stored row with this key, or NULL; dp_probe_next gives the
 * next one (an index that is not unique, or fewer keys than it has).  The
 * slot holds the row (its tts_tid says where) until the next call.
 */
TupleTableSlot *
dp_probe_fetch(DpProbe *p, const Datum *key)
{
	if (p->leaves)
	{
		p->leaf_key = key[0];
		p->leaf = 0;
		p->leaf_started = false;
		return leaves_next(p);
	}
	for (int i = 0; i < p->nkeys; i++)
		p->skeys[i].sk_argument = key[i];
	index_rescan(p->scan, p->skeys, p->nkeys, NULL, 0);
	return dp_probe_next(p);
}

TupleTableSlot *
dp_probe_next(DpProbe *p)
{
	if (p->leaves)
		return leaves_next(p);
	if (index_getnext_slot(p->scan, p->direction, p->slot))
		return p->slot;
	ExecClearTuple(p->slot);
	return NULL;
}

/* The attribute number of a column of the probed table, or an ERROR. */
AttrNumber
dp_probe_attnum(DpProbe *p, const char *column)
{
	return dp_bulk_column(p->rel, column);
}

/*
 * A column of the row last found, as text (the type's output function, as
 * a cast to text gives it), or NULL for SQL NULL.  In CurrentMemoryContext.
 */
char *
dp_probe_text(DpProbe *p, AttrNumber att)
{
	bool		isnull;
	Datum		d = slot_getattr(p->slot, att, &isnull);

	if (isnull)
		return NULL;
	if (!p->output_ready[att - 1])
	{
		Oid			func;
		bool		varlena;

		getTypeOutputInfo(TupleDescAttr(RelationGetDescr(p->rel), att - 1)->atttypid,
						  &func, &varlena);
		fmgr_info_cxt(func, &p->outputs[att - 1], p->cxt);
		p->output_ready[att - 1] = true;
	}
	return OutputFunctionCall(&p->outputs[att - 1], d);
}

/* The type of a column of the probed table. */
Oid
dp_probe_atttype(DpProbe *p, AttrNumber att)
{
	return TupleDescAttr(RelationGetDescr(p->rel), att - 1)->atttypid;
}

/* A column of the row last found as a datum (valid while the row is held), and whether it is NULL. */
Datum
dp_probe_datum(DpProbe *p, AttrNumber att, bool *isnull)
{
	return slot_getattr(p->slot, att, isnull);
}

void
dp_probe_end(DpProbe *p)
{
	if (p->leaves)
	{
		for (int i = 0; i < p->nleaves; i++)
		{
			dp_probe_end(p->leaves[i]);
			if (p->maps[i])
				free_conversion_map(p->maps[i]);
		}
		pfree(p->leaves);
		pfree(p->maps);
	}
	else
	{
		index_endscan(p->scan);
		index_close(p->idx, NoLock);
	}
	ExecDropSingleTupleTableSlot(p->slot);
	table_close(p->rel, NoLock);
	pfree(p->skeys);
	pfree(p->heap_atts);
	pfree(p->inputs);
	pfree(p->outputs);
	pfree(p->output_ready);
	pfree(p);
}
