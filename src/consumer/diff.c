/*
 * diff.c
 *		What every refresh method shares (refresh.c's keyed and full,
 *		aggregate.c's aggregate): running a statement under the refresh's
 *		snapshot (as the view reader role when it evaluates the view's
 *		expressions), the refresh's temporary tables, SQL over the view's key,
 *		the arrays an incremental refresh carries its rows in (no temporary
 *		table per call), the checks of the new rows' keys, and the diff that
 *		applies the new rows to the view's table: written in C through the
 *		view's key index for carried rows (diff_in_c), else a DELETE of keys
 *		that left, then a MERGE that inserts new keys and updates only rows
 *		that differ.
 *
 * Everything here runs inside a refresh begun by refresh.c: connected to
 * SPI, the view's catalog row locked, the refresh's snapshot registered.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "nodes/params.h"
#include "utils/plancache.h"
#include "utils/snapmgr.h"
#include "utils/sortsupport.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "access.h"
#include "bulk.h"
#include "consumer.h"

/* ------------------------------------------------------------------------
 * Execution
 * ------------------------------------------------------------------------
 */

/*
 * Run one statement with the refresh's snapshot (seeing this transaction's
 * own writes).  as_reader: as the view reader role in a security-restricted
 * operation, for statements that evaluate the view's expressions.
 */
uint64
dp_refresh_exec(DpRefresh *r, const char *sql, bool as_reader)
{
	return dp_refresh_exec_args(r, sql, as_reader, r->nparams, r->param_types, r->params);
}

static uint64
refresh_exec(DpRefresh *r, const char *sql, bool as_reader, bool keep, int nargs, Oid *types, Datum *values)
{
	Oid			save_user;
	int			save_sec;
	SPIPlanPtr	plan;
	int			rc = 0;

	GetUserIdAndSecContext(&save_user, &save_sec);
	if (as_reader)
		SetUserIdAndSecContext(dp_view_reader_role(),
							   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		SPIPlanPtr	kept = keep ? dp_spi_kept_plan(sql, nargs, types) : NULL;

		plan = kept ? kept : SPI_prepare(sql, nargs, types);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
		rc = SPI_execute_snapshot(plan, values, NULL, r->snap, InvalidSnapshot, false, true, 0);
		if (rc < 0)
			elog(ERROR, "SPI_execute_snapshot failed (%s): %s", SPI_result_code_string(rc), sql);
		if (kept == NULL)
			SPI_freeplan(plan);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	return SPI_processed;
}

uint64
dp_refresh_exec_args(DpRefresh *r, const char *sql, bool as_reader, int nargs, Oid *types, Datum *values)
{
	return refresh_exec(r, sql, as_reader, false, nargs, types, values);
}

/*
 * A statement of constant text that every refresh runs (the watermarks and
 * the like), with its plan kept by the backend (dp_spi_kept_plan), as the
 * current user.  Not for statements that carry the refresh's rows or batch
 * ids: their plans depend on those values (how many rows, which range), so
 * each is planned for its call.
 */
uint64
dp_refresh_exec_kept(DpRefresh *r, const char *sql, int nargs, Oid *types, Datum *values)
{
	return refresh_exec(r, sql, false, true, nargs, types, values);
}

int64
dp_refresh_int64(uint64 row, int col)
{
	char	   *v = dp_spi_getvalue(row, col);

	return v ? pg_strtoint64(v) : 0;
}

/* The view's table (dp_consumer_data.<view>), or an ERROR. */
static Oid
view_table(const DpView *view)
{
	Oid			relid = get_relname_relid(view->name, get_namespace_oid("dp_consumer_data", false));

	if (!OidIsValid(relid))
		elog(ERROR, "table of view \"%s\" not found", view->name);
	return relid;
}

void
dp_refresh_init_params(DpRefresh *r)
{
	Oid			type = get_rel_type_id(view_table(r->view));

	r->params[0] = r->params[1] = PointerGetDatum(construct_empty_array(type));
	r->param_types[0] = r->param_types[1] = get_array_type(type);
	r->nparams = 2;
	r->new_from = "pg_catalog.unnest($1)";
	r->aff_from = "pg_catalog.unnest($2)";
}

int
dp_refresh_keep_array(DpRefresh *r, int n, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);
	Oid			type = SPI_gettypeid(SPI_tuptable->tupdesc, col);
	ArrayType  *a;

	if (isnull)
		a = construct_empty_array(get_element_type(type));
	else
		a = DatumGetArrayTypePCopy(d);
	r->params[n - 1] = PointerGetDatum(a);
	r->param_types[n - 1] = type;
	return ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
}

int
dp_refresh_keep_rows(DpRefresh *r)
{
	Oid			elemtype = get_element_type(r->param_types[0]);
	TupleDesc	td = lookup_rowtype_tupdesc_copy(elemtype, -1);
	TupleDesc	from = SPI_tuptable->tupdesc;
	uint64		n = SPI_processed,
				i;
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *fvalues = palloc(sizeof(Datum) * Max(from->natts, 1));
	bool	   *fnulls = palloc(sizeof(bool) * Max(from->natts, 1));
	Datum	   *values = palloc0(sizeof(Datum) * Max(td->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(td->natts, 1));
	int			a,
				j;

	for (i = 0; i < n; i++)
	{
		HeapTuple	t;

		heap_deform_tuple(SPI_tuptable->vals[i], from, fvalues, fnulls);
		for (a = 0, j = 0; a < td->natts; a++)
		{
			if (TupleDescAttr(td, a)->attisdropped || j >= from->natts)
			{
				nulls[a] = true;
				continue;
			}
			values[a] = fvalues[j];
			nulls[a] = fnulls[j];
			j++;
		}
		if (j != from->natts)
			elog(ERROR, "refresh of view \"%s\": %d columns for a row of %d", r->view->name, from->natts, j);
		t = heap_form_tuple(td, values, nulls);
		elems[i] = heap_copy_tuple_as_datum(t, td);
		heap_freetuple(t);
	}
	r->params[0] = PointerGetDatum(construct_array(elems, (int) n, elemtype, -1, false, TYPALIGN_DOUBLE));
	SPI_freetuptable(SPI_tuptable);
	return (int) n;
}

char *
dp_refresh_key_row(DpRefresh *r, char **exprs)
{
	DpView	   *view = r->view;
	StringInfoData buf;
	int			i,
				k;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "ROW(");
	for (i = 0; i < view->ncols; i++)
	{
		const char *e = "NULL";

		for (k = 0; k < view->nkey; k++)
			if (view->key[k] == i)
				e = exprs[k];
		appendStringInfo(&buf, "%s%s", i ? ", " : "", e);
	}
	appendStringInfo(&buf, ")::%s", r->qtable);
	return buf.data;
}

/* A temporary table for this refresh, readable and writable by the reader role. */
char *
dp_refresh_temp_table(DpRefresh *r, const char *name, const char *as)
{
	char	   *q = psprintf("pg_temp.%s", quote_identifier(name));

	dp_spi_exec(psprintf("CREATE TEMP TABLE %s %s", quote_identifier(name), as), 0, NULL, NULL, NULL);
	dp_spi_exec(psprintf("GRANT SELECT, INSERT, UPDATE ON %s TO %s", q, DP_ROLE_ADMIN), 0, NULL, NULL, NULL);
	r->temps = lappend(r->temps, q);
	return q;
}

/* "a.x = b.x AND a.y = b.y" over the view's key */
char *
dp_refresh_key_match(const DpView *view, const char *a, const char *b)
{
	StringInfoData buf;
	int			k;

	initStringInfo(&buf);
	for (k = 0; k < view->nkey; k++)
	{
		const char *c = quote_identifier(view->cols[view->key[k]].name);

		appendStringInfo(&buf, "%s%s.%s = %s.%s", k ? " AND " : "", a, c, b, c);
	}
	return buf.data;
}

char *
dp_refresh_key_list(const DpView *view, const char *prefix)
{
	return dp_view_column_list(view, view->nkey, view->key, prefix);
}

/* ------------------------------------------------------------------------
 * Checks and the diff
 * ------------------------------------------------------------------------
 */

/* The attribute numbers, in the carried rows' type td, of the view's key columns. */
static AttrNumber *
key_attnums(DpView *view, TupleDesc td)
{
	AttrNumber *att = palloc(sizeof(AttrNumber) * view->nkey);

	for (int k = 0; k < view->nkey; k++)
	{
		const char *name = view->cols[view->key[k]].name;

		att[k] = InvalidAttrNumber;
		for (int i = 0; i < td->natts; i++)
			if (!TupleDescAttr(td, i)->attisdropped && strcmp(NameStr(TupleDescAttr(td, i)->attname), name) == 0)
				att[k] = i + 1;
		if (att[k] == InvalidAttrNumber)
			elog(ERROR, "key column \"%s\" of view \"%s\" not in the carried rows", name, view->name);
	}
	return att;
}

/* A carried element (a composite datum) as a tuple to read attributes from. */
static void
elem_tuple(Datum elem, HeapTupleData *t)
{
	t->t_data = DatumGetHeapTupleHeader(elem);
	t->t_len = HeapTupleHeaderGetDatumLength(t->t_data);
	ItemPointerSetInvalid(&t->t_self);
	t->t_tableOid = InvalidOid;
}

/*
 * Whether an element of the array carried as parameter n (see
 * dp_refresh_init_params) has a null in one of the view's key columns:
 * read in C, no statement.
 */
static bool
array_has_null_key(DpRefresh *r, int n)
{
	DpView	   *view = r->view;
	ArrayType  *a = DatumGetArrayTypeP(r->params[n - 1]);
	Oid			elemtype = ARR_ELEMTYPE(a);
	TupleDesc	td = lookup_rowtype_tupdesc(elemtype, -1);
	AttrNumber *att = key_attnums(view, td);
	Datum	   *elems;
	bool	   *enulls;
	int			nelems,
				i,
				k;
	bool		found = false;

	ReleaseTupleDesc(td);
	deconstruct_array(a, elemtype, -1, false, TYPALIGN_DOUBLE, &elems, &enulls, &nelems);
	for (i = 0; i < nelems && !found; i++)
	{
		HeapTupleData t;

		if (enulls[i])
			continue;
		elem_tuple(elems[i], &t);
		for (k = 0; k < view->nkey; k++)
			if (heap_attisnull(&t, att[k], NULL))
				found = true;
	}
	return found;
}

/* ERROR when a row of table (with the view's key columns) has a null key. */
void
dp_refresh_check_null_keys(DpRefresh *r, const char *table)
{
	DpView	   *view = r->view;
	StringInfoData cond;
	int			k;
	bool		found;

	/* the rows carried in arrays are checked in C */
	if (r->nparams == 2 && (table == r->new_from || table == r->aff_from))
		found = array_has_null_key(r, table == r->new_from ? 1 : 2);
	else
	{
		initStringInfo(&cond);
		for (k = 0; k < view->nkey; k++)
			appendStringInfo(&cond, "%s%s IS NULL", k ? " OR " : "",
							 quote_identifier(view->cols[view->key[k]].name));
		found = dp_refresh_exec(r, psprintf("SELECT 1 FROM %s WHERE %s LIMIT 1", table, cond.data), false) > 0;
	}
	if (found)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("key of view \"%s\" is null in some rows", view->name),
				 errdetail("Key columns: %s.", dp_refresh_key_list(view, NULL)),
				 errhint("Key columns must identify a row: wrap the expression in coalesce() or choose another key.")));
}

/* The new rows' keys are not null, and (for the full method) unique. */
void
dp_refresh_check_keys(DpRefresh *r, const char *table)
{
	DpView	   *view = r->view;

	if (view->method != DP_VIEW_KEYED)
		dp_refresh_check_null_keys(r, table);
	if (view->method == DP_VIEW_FULL &&
		dp_refresh_exec(r, psprintf("SELECT ROW(%s)::text, pg_catalog.count(*) FROM %s "
						  "GROUP BY %s HAVING pg_catalog.count(*) > 1 LIMIT 1",
						  dp_refresh_key_list(view, NULL), table, dp_refresh_key_list(view, NULL)), false) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("key of view \"%s\" is not unique", view->name),
				 errdetail("Key (%s)=%s has %s rows.", dp_refresh_key_list(view, NULL),
						   dp_spi_getvalue(0, 1), dp_spi_getvalue(0, 2)),
				 errhint("Name columns that identify a row with the \"key\" option, or change the query so that the key is unique.")));
}

/* ------------------------------------------------------------------------
 * The carried rows in key order, and the keys that left (in C)
 * ------------------------------------------------------------------------
 */

/*
 * One carried row: its element of the array and its key columns, the first
 * in place (the sort compares it without following a pointer), the others
 * (a key of several columns) in key[1..].
 */
typedef struct KeyedElem
{
	Datum		key0;
	bool		null0;
	Datum		elem;
	Datum	   *key;
	bool	   *null;
} KeyedElem;

typedef struct KeyOrder
{
	int			nkey;
	SortSupport ssup;			/* per key column: its type's default order */
} KeyOrder;

static inline int
keyed_elem_cmp(const KeyedElem *x, const KeyedElem *y, KeyOrder *o)
{
	int			k,
				c;

	c = ApplySortComparator(x->key0, x->null0, y->key0, y->null0, &o->ssup[0]);
	for (k = 1; c == 0 && k < o->nkey; k++)
		c = ApplySortComparator(x->key[k], x->null[k], y->key[k], y->null[k], &o->ssup[k]);
	return c;
}

/* sort_keyed_elems(KeyedElem *, size_t, KeyOrder *): the comparison inlined */
#define ST_SORT sort_keyed_elems
#define ST_ELEMENT_TYPE KeyedElem
#define ST_COMPARE(a, b, arg) keyed_elem_cmp(a, b, arg)
#define ST_COMPARE_ARG_TYPE KeyOrder
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * The same for a key of one integer column with no null (the common key):
 * the comparison is two loads, with no call.
 */
static inline int
keyed_elem_cmp_int64(const KeyedElem *x, const KeyedElem *y)
{
	int64		a = DatumGetInt64(x->key0);
	int64		b = DatumGetInt64(y->key0);

	return a < b ? -1 : a > b ? 1 : 0;
}

static inline int
keyed_elem_cmp_int32(const KeyedElem *x, const KeyedElem *y)
{
	int32		a = DatumGetInt32(x->key0);
	int32		b = DatumGetInt32(y->key0);

	return a < b ? -1 : a > b ? 1 : 0;
}

#define ST_SORT sort_keyed_elems_int64
#define ST_ELEMENT_TYPE KeyedElem
#define ST_COMPARE(a, b) keyed_elem_cmp_int64(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

#define ST_SORT sort_keyed_elems_int32
#define ST_ELEMENT_TYPE KeyedElem
#define ST_COMPARE(a, b) keyed_elem_cmp_int32(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * The elements of the array carried as parameter n, with their key columns
 * (found by name), sorted by key; *count set.
 */
static KeyedElem *
sorted_elems(DpRefresh *r, int n, KeyOrder *order, int *count)
{
	DpView	   *view = r->view;
	ArrayType  *a = DatumGetArrayTypeP(r->params[n - 1]);
	Oid			elemtype = ARR_ELEMTYPE(a);
	TupleDesc	td = lookup_rowtype_tupdesc(elemtype, -1);
	AttrNumber *att = key_attnums(view, td);
	Datum	   *elems;
	bool	   *enulls;
	KeyedElem  *out;
	int			nelems,
				i,
				k,
				m = 0;

	deconstruct_array(a, elemtype, -1, false, TYPALIGN_DOUBLE, &elems, &enulls, &nelems);
	out = palloc(sizeof(KeyedElem) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
	{
		HeapTupleData t;

		if (enulls[i])
			continue;
		elem_tuple(elems[i], &t);
		out[m].elem = elems[i];
		out[m].key0 = heap_getattr(&t, att[0], td, &out[m].null0);
		out[m].key = NULL;
		out[m].null = NULL;
		if (view->nkey > 1)
		{
			out[m].key = palloc(sizeof(Datum) * view->nkey);
			out[m].null = palloc(sizeof(bool) * view->nkey);
			out[m].key[0] = out[m].key0;
			out[m].null[0] = out[m].null0;
			for (k = 1; k < view->nkey; k++)
				out[m].key[k] = heap_getattr(&t, att[k], td, &out[m].null[k]);
		}
		m++;
	}
	ReleaseTupleDesc(td);
	for (i = 0; i < m && order->nkey == 1; i++)
		if (out[i].null0)
			break;
	if (order->nkey == 1 && i == m && order->ssup[0].comparator == ssup_datum_signed_cmp)
		sort_keyed_elems_int64(out, m);
	else if (order->nkey == 1 && i == m && order->ssup[0].comparator == ssup_datum_int32_cmp)
		sort_keyed_elems_int32(out, m);
	else
		sort_keyed_elems(out, m, order);
	*count = m;
	return out;
}

/*
 * The order of the view's key: each key column's default btree order and
 * collation, as its unique index (and the diff's "=") compare it.
 */
static KeyOrder *
key_order(DpRefresh *r)
{
	DpView	   *view = r->view;
	TupleDesc	td = lookup_rowtype_tupdesc(get_element_type(r->param_types[0]), -1);
	KeyOrder   *o = palloc(sizeof(KeyOrder));
	int			k,
				i;

	if (view->nkey < 1)
		elog(ERROR, "view \"%s\" has no key", view->name);
	o->nkey = view->nkey;
	o->ssup = palloc0(sizeof(SortSupportData) * view->nkey);
	for (k = 0; k < view->nkey; k++)
	{
		const char *name = view->cols[view->key[k]].name;
		Form_pg_attribute att = NULL;
		TypeCacheEntry *tc;

		for (i = 0; i < td->natts; i++)
			if (!TupleDescAttr(td, i)->attisdropped && strcmp(NameStr(TupleDescAttr(td, i)->attname), name) == 0)
				att = TupleDescAttr(td, i);
		if (att == NULL)
			elog(ERROR, "key column \"%s\" of view \"%s\" not in its table", name, view->name);
		tc = lookup_type_cache(att->atttypid, TYPECACHE_LT_OPR);
		if (!OidIsValid(tc->lt_opr))
			elog(ERROR, "key column \"%s\" of view \"%s\" has no ordering", name, view->name);
		o->ssup[k].ssup_cxt = CurrentMemoryContext;
		o->ssup[k].ssup_collation = att->attcollation;
		o->ssup[k].ssup_nulls_first = false;
		PrepareSortSupportFromOrderingOp(tc->lt_opr, &o->ssup[k]);
	}
	ReleaseTupleDesc(td);
	return o;
}

/*
 * The carried rows in key order: the new rows ($1), *nn of them, and the
 * affected keys ($2) that have no new row, each once (a key may be
 * affected by several batches), *ngone of them: the keys to delete.  Read
 * in C: no anti-join and no sort in the diff.
 */
static KeyedElem *
carried_in_order(DpRefresh *r, KeyOrder *order, int *nn, KeyedElem **gone, int *ngone)
{
	KeyedElem  *nw,
			   *af;
	int			na,
				i,
				j = 0;

	nw = sorted_elems(r, 1, order, nn);
	af = sorted_elems(r, 2, order, &na);
	*gone = palloc(sizeof(KeyedElem) * Max(na, 1));
	*ngone = 0;
	for (i = 0; i < na; i++)
	{
		if (i > 0 && keyed_elem_cmp(&af[i - 1], &af[i], order) == 0)
			continue;
		while (j < *nn && keyed_elem_cmp(&nw[j], &af[i], order) < 0)
			j++;
		if (j < *nn && keyed_elem_cmp(&nw[j], &af[i], order) == 0)
			continue;
		(*gone)[(*ngone)++] = af[i];
	}
	return nw;
}

/* The elements of n KeyedElems as an array of the element type of parameter param. */
static ArrayType *
elems_array(DpRefresh *r, int param, KeyedElem *e, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = e[i].elem;
	return construct_array(elems, n, get_element_type(r->param_types[param - 1]), -1, false,
						   TYPALIGN_DOUBLE);
}

/* The key of a carried row, in the order of the view's key (and its index). */
static const Datum *
elem_key(const KeyedElem *e, Datum *buf)
{
	if (e->key != NULL)
		return e->key;
	buf[0] = e->key0;
	return buf;
}

/*
 * The diff of carried rows written in C, as COPY writes: each key that
 * left found through the view's key index and deleted; each new row found
 * the same way, compared column by column with the stored one (as the
 * image equality "*=" compares) and, when it differs, updated (HOT when
 * only columns no index reads changed), or, when its key is new, inserted
 * with the table AM's multi-insert.  No statement to parse, plan or run
 * per call, and no probe of a key from a joined array.  Returns false,
 * having written nothing, when the view's table is not a plain table
 * with its unique key index and no triggers (the SQL diff then does it).
 */
static bool
diff_in_c(DpRefresh *r, KeyedElem *nw, int nn, KeyedElem *gone, int ngone)
{
	DpView	   *view = r->view;
	const char **cols = palloc(sizeof(char *) * view->nkey);
	Relation	rel;
	bool		plain;
	DpProbe    *p;
	DpBulk	   *b;
	TupleDesc	td;
	Datum	   *values,
				keybuf[1];
	bool	   *nulls,
			   *unchanged;
	MemoryContext cxt,
				old;
	int			i,
				a;

	rel = table_open(view_table(view), RowExclusiveLock);
	plain = rel->rd_rel->relkind == RELKIND_RELATION && rel->trigdesc == NULL;
	table_close(rel, NoLock);
	for (i = 0; i < view->nkey; i++)
		cols[i] = view->cols[view->key[i]].name;
	if (!plain || (p = dp_probe_begin_unique("dp_consumer_data", view->name, cols, view->nkey)) == NULL)
		return false;
	b = dp_bulk_begin("dp_consumer_data", view->name);
	td = lookup_rowtype_tupdesc_copy(get_element_type(r->param_types[0]), -1);
	values = palloc(sizeof(Datum) * Max(td->natts, 1));
	nulls = palloc(sizeof(bool) * Max(td->natts, 1));
	unchanged = palloc(sizeof(bool) * Max(td->natts, 1));
	cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform refresh diff row", ALLOCSET_SMALL_SIZES);

	for (i = 0; i < ngone; i++)
	{
		TupleTableSlot *slot = dp_probe_fetch(p, elem_key(&gone[i], keybuf));
		ItemPointerData tid;

		if (slot == NULL)
			continue;			/* a key that was not in the view */
		tid = slot->tts_tid;
		ExecClearTuple(slot);
		dp_bulk_delete(b, &tid);
		r->del++;
	}

	for (i = 0; i < nn; i++)
	{
		HeapTupleData t;
		TupleTableSlot *slot;
		ItemPointerData tid;
		bool		same = true;

		elem_tuple(nw[i].elem, &t);
		heap_deform_tuple(&t, td, values, nulls);
		slot = dp_probe_fetch(p, elem_key(&nw[i], keybuf));
		if (slot != NULL)
		{
			/* what the comparison detoasts, freed per row (not the probe's state) */
			MemoryContextReset(cxt);
			old = MemoryContextSwitchTo(cxt);
			slot_getallattrs(slot);
			for (a = 0; a < td->natts; a++)
			{
				Form_pg_attribute att = TupleDescAttr(td, a);

				unchanged[a] = att->attisdropped ||
					(nulls[a] == slot->tts_isnull[a] &&
					 (nulls[a] || datum_image_eq(values[a], slot->tts_values[a], att->attbyval, att->attlen)));
				same = same && unchanged[a];
			}
			MemoryContextSwitchTo(old);
			tid = slot->tts_tid;
			ExecClearTuple(slot);
		}
		if (slot != NULL && same)
			continue;
		(void) dp_bulk_slot(b);
		for (a = 0; a < td->natts; a++)
			if (!nulls[a] && !TupleDescAttr(td, a)->attisdropped)
				dp_bulk_set_datum(b, a + 1, values[a]);
		if (slot != NULL)
		{
			dp_bulk_update(b, &tid, unchanged);
			r->upd++;
		}
		else
		{
			dp_bulk_store(b);
			r->ins++;
		}
	}
	(void) dp_bulk_end(b);
	dp_probe_end(p);
	MemoryContextDelete(cxt);
	return true;
}

/*
 * Whether the diff should find the view's rows by probing its key index once
 * per carried row: when they are few against the view (under 1 in 20).  The
 * planner's alternative, a merge or hash join reading the whole view, costs
 * about as much by its estimate at a 1% change (its random page cost assumes
 * the probes read from disk), and measured takes 5 to 7 times longer (0.1 us
 * a view row against 2 us a probe): without this, which plan a refresh gets
 * depends on the view's last ANALYZE.
 */
static bool
probe_by_key(DpRefresh *r, int64 carried)
{
	return r->rows_before > 0 && carried * 20 < r->rows_before;
}

/*
 * Plan one statement of the diff, with hash and merge joins off when by_key
 * (see probe_by_key; the statements have no other join), and run it with the
 * refresh's snapshot and the given parameters, as the current user.
 * Returns the rows it inserted, updated and deleted, read from its
 * ModifyTable node (SPI gives only their sum of a MERGE).  Expects to be
 * connected to SPI; leaves the command counter advanced, as SPI does.
 */
static void
exec_diff(DpRefresh *r, const char *sql, bool by_key, int nparams, Oid *types, Datum *values,
		  int64 *inserted, int64 *updated, int64 *deleted)
{
	SPIPlanPtr	plan;
	CachedPlan *cplan;
	PlannedStmt *stmt;
	ParamListInfo params;
	QueryDesc  *qd;
	ModifyTableState *mt;
	int			i;

	plan = SPI_prepare(sql, nparams, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
	params = makeParamList(nparams);
	for (i = 0; i < nparams; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = types[i];
	}
	if (by_key)
	{
		/* restored right after planning, or by the (sub)transaction's abort */
		int			nest = NewGUCNestLevel();

		(void) set_config_option("enable_hashjoin", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("enable_mergejoin", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		cplan = GetCachedPlan((CachedPlanSource *) linitial(SPI_plan_get_plan_sources(plan)), params,
							  NULL, NULL);
		AtEOXact_GUC(true, nest);
	}
	else
		cplan = GetCachedPlan((CachedPlanSource *) linitial(SPI_plan_get_plan_sources(plan)), params,
							  NULL, NULL);
	if (list_length(cplan->stmt_list) != 1)
		elog(ERROR, "refresh of view \"%s\": the diff planned as %d statements",
			 r->view->name, list_length(cplan->stmt_list));
	stmt = linitial_node(PlannedStmt, cplan->stmt_list);

	/* as SPI_execute_snapshot does: the refresh's snapshot, seeing this command's predecessors */
	CommandCounterIncrement();
	PushCopiedSnapshot(r->snap);
	UpdateActiveSnapshotCommandId();
	qd = CreateQueryDesc(stmt, sql, GetActiveSnapshot(), InvalidSnapshot, None_Receiver, params, NULL, 0);
	ExecutorStart(qd, 0);
	ExecutorRun(qd, ForwardScanDirection, 0, true);
	mt = castNode(ModifyTableState, qd->planstate);
	if (stmt->commandType == CMD_MERGE)
	{
		*inserted = (int64) mt->mt_merge_inserted;
		*updated = (int64) mt->mt_merge_updated;
		*deleted = (int64) mt->mt_merge_deleted;
	}
	else
	{
		*inserted = *updated = 0;
		*deleted = (int64) qd->estate->es_processed;
	}
	ExecutorFinish(qd);
	ExecutorEnd(qd);
	FreeQueryDesc(qd);
	PopActiveSnapshot();
	ReleaseCachedPlan(cplan, NULL);
	SPI_freeplan(plan);
	CommandCounterIncrement();
}

/*
 * Apply the new rows (r->new_from) to the view: delete the rows of the keys
 * that left (the affected keys, r->aff_from, with no new row; all keys with
 * no new row when r->aff_from is NULL), insert new keys and update only
 * rows that differ.
 *
 * Carried in arrays (an incremental refresh), the keys that left are found
 * in C and the new rows put in key order, and the diff is written in C
 * (diff_in_c): no statement to parse and plan, no executor, each carried
 * row one probe of the view's key index.  Otherwise (a full refresh, or a
 * view's table with triggers of its own) it is SQL: a DELETE (none when no
 * key left), then one MERGE on the view's key, each one join of the new
 * rows to the view, by probing its key index when they are few
 * (probe_by_key).  MERGE rather than INSERT ... ON CONFLICT: it joins the
 * new rows to the view once and updates the matched rows without the
 * speculative insertion and the row lock (and its WAL record) ON CONFLICT
 * takes per row; measured on a 1% change of a projection of 1M rows, the
 * write of the rows costs about 40% less.  Refreshes of one view are
 * serialised by its catalog row lock, so no concurrent insert of a key can
 * meet either.
 */
void
dp_refresh_apply_diff(DpRefresh *r)
{
	DpView	   *view = r->view;
	StringInfoData sql;
	int			i,
				k;
	bool		any = false;
	bool		carried = r->aff_from != NULL && r->nparams == 2;
	bool		by_key = false;
	int64		ins,
				upd,
				del;

	if (r->publishing)
	{
		/* a new, empty table (its index comes after the fill) */
		r->ins += dp_refresh_exec(r, psprintf("INSERT INTO %s SELECT * FROM %s", r->qtable, r->new_from), false);
		return;
	}
	initStringInfo(&sql);
	if (carried)
	{
		KeyOrder   *order = key_order(r);
		KeyedElem  *nw,
				   *gone;
		int			nn,
					nleft;
		Datum		value;
		Oid			type = r->param_types[1];

		nw = carried_in_order(r, order, &nn, &gone, &nleft);
		if (diff_in_c(r, nw, nn, gone, nleft))
			return;
		/* the new rows in key order, the order in which the diff probes the view's index */
		r->params[0] = PointerGetDatum(elems_array(r, 1, nw, nn));
		value = PointerGetDatum(elems_array(r, 2, gone, nleft));
		by_key = probe_by_key(r, (int64) nn + nleft);
		if (nleft > 0)
		{
			appendStringInfo(&sql, "DELETE FROM %s v USING pg_catalog.unnest($1) d WHERE %s",
							 r->qtable, dp_refresh_key_match(view, "v", "d"));
			exec_diff(r, sql.data, by_key, 1, &type, &value, &ins, &upd, &del);
			r->del += del;
		}
	}
	else
		r->del += dp_refresh_exec(r, psprintf("DELETE FROM %s v WHERE NOT EXISTS (SELECT 1 FROM %s n WHERE %s)",
											  r->qtable, r->new_from, dp_refresh_key_match(view, "v", "n")), false);

	/*
	 * The source as a subquery: its n.* is a row made of its columns after
	 * the join, where the table's or function's own whole row would be
	 * carried through the join (measured on a full refresh of 800k rows: 10
	 * to 25% slower).
	 */
	resetStringInfo(&sql);
	appendStringInfo(&sql, "MERGE INTO %s v USING (SELECT * FROM %s) n ON %s",
					 r->qtable, r->new_from, dp_refresh_key_match(view, "v", "n"));
	for (i = 0; i < view->ncols; i++)
	{
		bool		is_key = false;

		for (k = 0; k < view->nkey; k++)
			if (view->key[k] == i)
				is_key = true;
		if (is_key)
			continue;
		appendStringInfo(&sql, "%s%s = n.%s",
						 any ? ", " : " WHEN MATCHED AND NOT (v.* OPERATOR(pg_catalog.*=) n.*) THEN UPDATE SET ",
						 quote_identifier(view->cols[i].name), quote_identifier(view->cols[i].name));
		any = true;
	}
	appendStringInfo(&sql, " WHEN NOT MATCHED THEN INSERT (%s) VALUES (%s)",
					 dp_view_column_list(view, view->ncols, NULL, NULL),
					 dp_view_column_list(view, view->ncols, NULL, "n."));
	exec_diff(r, sql.data, by_key, r->nparams, r->param_types, r->params, &ins, &upd, &del);
	r->ins += ins;
	r->upd += upd;
}
