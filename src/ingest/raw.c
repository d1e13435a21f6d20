/*
 * raw.c
 *		The raw layer's storage: every batch exactly as received, kept in
 *		dp_raw.chunk as runs of up to DP_RAW_CHUNK_ROWS consecutive rows
 *		(ordinals first_ordinal .. first_ordinal + n - 1), each run one heap
 *		row whose arrays (data jsonb[], raw text[], line_numbers bigint[])
 *		TOAST compresses (lz4) and stores out of line.  One row per run
 *		instead of one per element makes landing a few inserts per batch.
 *
 *		dp_raw.rows, the view every reader uses, unnests the runs into one
 *		row per element with the columns of 0.1's table (batch_id, ordinal,
 *		line_number, data, raw).  A lookup by (batch_id, ordinal) reads the
 *		batch's runs through the primary key (batch_id, first_ordinal),
 *		filters the generated ordinals, and detoasts the one run it needs:
 *		raw_element() extracts an element and remembers the last run it
 *		detoasted, so a scan of a whole batch detoasts each run once.
 *
 *		Here: landing JSON payloads (dp_raw_land_json) and CSV records
 *		(dp_raw_land_records), reading a batch back for replay
 *		(dp_raw_read_batch), and raw_element().  purge_raw and the guard
 *		trigger stay in rebuild.c.
 *
 * Called connected to SPI, in the load's transaction.  Memory: each run is
 * built in a context of its own, deleted once it is stored.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "commands/trigger.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "partition.h"
#include "pipeline.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_raw_element);
PG_FUNCTION_INFO_V1(dp_raw_insert);

/* a run ends at this many rows, or at the first row past this many bytes */
#define DP_RAW_CHUNK_ROWS 1000
#define DP_RAW_CHUNK_BYTES (1024 * 1024)

/*
 * Store one run: n rows from first_ordinal on.  Each array is NULL when
 * every element of it would be (JSON rows have no raw text nor line).
 */
static void
store_chunk(int64 batch_id, int64 first_ordinal, int n, Datum line_numbers, Datum data, Datum raw)
{
	Oid			types[6] = {INT8OID, INT8OID, INT4OID, INT8ARRAYOID, JSONBARRAYOID, TEXTARRAYOID};
	Datum		values[6];
	char		nulls[7] = "      ";

	values[0] = Int64GetDatum(batch_id);
	values[1] = Int64GetDatum(first_ordinal);
	values[2] = Int32GetDatum(n);
	values[3] = line_numbers;
	values[4] = data;
	values[5] = raw;
	for (int i = 3; i < 6; i++)
		if (values[i] == (Datum) 0)
			nulls[i] = 'n';
	/* a relcache lookup when the batch's partition is there */
	dp_partition_ensure("dp_raw", "chunk", batch_id);
	dp_spi_exec_kept("INSERT INTO dp_raw.chunk (batch_id, first_ordinal, n, line_numbers, data, raw) "
				"VALUES ($1, $2, $3, $4, $5, $6)", 6, types, values, nulls);
}

static Datum
jsonb_array_datum(Datum *elems, int n)
{
	return PointerGetDatum(construct_array(elems, n, JSONBOID, -1, false, TYPALIGN_INT));
}

/*
 * Land a JSON payload: an array's elements in runs, from ordinal 1 on, or
 * the one object as row 1.  Each element is copied as it is (a container
 * element is its bytes, not parsed again).
 */
void
dp_raw_land_json(int64 batch_id, Jsonb *rows)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform raw run",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	Datum	   *elems = palloc(sizeof(Datum) * DP_RAW_CHUNK_ROWS);
	int			n = 0;
	Size		bytes = 0;
	int64		next = 1;

	if (JB_ROOT_IS_OBJECT(rows) || JB_ROOT_IS_SCALAR(rows))
	{
		elems[0] = JsonbPGetDatum(rows);
		old = MemoryContextSwitchTo(cxt);
		store_chunk(batch_id, 1, 1, (Datum) 0, jsonb_array_datum(elems, 1), (Datum) 0);
		MemoryContextSwitchTo(old);
	}
	else
	{
		JsonbIterator *it = JsonbIteratorInit(&rows->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			Jsonb	   *e;

			if (tok != WJB_ELEM)
				continue;
			old = MemoryContextSwitchTo(cxt);
			e = JsonbValueToJsonb(&v);
			elems[n++] = JsonbPGetDatum(e);
			bytes += VARSIZE(e);
			if (n == DP_RAW_CHUNK_ROWS || bytes >= DP_RAW_CHUNK_BYTES)
			{
				store_chunk(batch_id, next, n, (Datum) 0, jsonb_array_datum(elems, n), (Datum) 0);
				next += n;
				n = 0;
				bytes = 0;
				MemoryContextSwitchTo(old);
				MemoryContextReset(cxt);
			}
			else
				MemoryContextSwitchTo(old);
		}
		if (n > 0)
		{
			old = MemoryContextSwitchTo(cxt);
			store_chunk(batch_id, next, n, (Datum) 0, jsonb_array_datum(elems, n), (Datum) 0);
			MemoryContextSwitchTo(old);
		}
	}
	pfree(elems);
	MemoryContextDelete(cxt);
}

/*
 * Land n CSV records (their text and line numbers, ordinals ascending):
 * runs break where the ordinals do, so a run's rows stay consecutive.
 */
void
dp_raw_land_records(int64 batch_id, int n, const int64 *ordinal, const int64 *line, char **raw)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform raw run",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			start = 0;

	while (start < n)
	{
		int			end = start + 1;
		Size		bytes = strlen(raw[start]);

		while (end < n && end - start < DP_RAW_CHUNK_ROWS && bytes < DP_RAW_CHUNK_BYTES &&
			   ordinal[end] == ordinal[end - 1] + 1)
			bytes += strlen(raw[end++]);
		store_chunk(batch_id, ordinal[start], end - start,
					dp_int8_array((int64 *) line + start, end - start),
					(Datum) 0,
					dp_text_array(raw + start, end - start, 1));
		MemoryContextReset(cxt);
		start = end;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Every raw row of a batch, in ordinal order, into *out (allocated in the
 * current memory context, which must not be SPI's): JSON rows as Jsonb, CSV records as C strings,
 * line numbers 0 where none.
 */
void
dp_raw_read_batch(int64 batch_id, DpRawBatch *out)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	uint64		nchunks;
	int64		total = 0;
	SPITupleTable *tt;

	values[0] = Int64GetDatum(batch_id);
	nchunks = dp_spi_exec("SELECT first_ordinal, n, line_numbers, data, raw FROM dp_raw.chunk "
						  "WHERE batch_id = $1 ORDER BY first_ordinal", 1, types, values, NULL);
	tt = SPI_tuptable;
	for (uint64 c = 0; c < nchunks; c++)
	{
		bool		isnull;

		total += DatumGetInt32(SPI_getbinval(tt->vals[c], tt->tupdesc, 2, &isnull));
	}
	out->n = total;
	out->ordinal = palloc(sizeof(int64) * Max(total, 1));
	out->line = palloc0(sizeof(int64) * Max(total, 1));
	out->data = palloc0(sizeof(Jsonb *) * Max(total, 1));
	out->raw = palloc0(sizeof(char *) * Max(total, 1));
	total = 0;
	for (uint64 c = 0; c < nchunks; c++)
	{
		bool		isnull;
		int64		first = DatumGetInt64(SPI_getbinval(tt->vals[c], tt->tupdesc, 1, &isnull));
		int			n = DatumGetInt32(SPI_getbinval(tt->vals[c], tt->tupdesc, 2, &isnull));
		Datum		d;
		Datum	   *elems;
		bool	   *nulls;
		int			ne;

		for (int i = 0; i < n; i++)
			out->ordinal[total + i] = first + i;
		d = SPI_getbinval(tt->vals[c], tt->tupdesc, 3, &isnull);
		if (!isnull)
		{
			deconstruct_array(DatumGetArrayTypePCopy(d), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
							  &elems, &nulls, &ne);
			for (int i = 0; i < Min(n, ne); i++)
				out->line[total + i] = nulls[i] ? 0 : DatumGetInt64(elems[i]);
		}
		d = SPI_getbinval(tt->vals[c], tt->tupdesc, 4, &isnull);
		if (!isnull)
		{
			deconstruct_array(DatumGetArrayTypePCopy(d), JSONBOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &ne);
			for (int i = 0; i < Min(n, ne); i++)
				out->data[total + i] = nulls[i] ? NULL : DatumGetJsonbP(elems[i]);
		}
		d = SPI_getbinval(tt->vals[c], tt->tupdesc, 5, &isnull);
		if (!isnull)
		{
			deconstruct_array(DatumGetArrayTypePCopy(d), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &ne);
			for (int i = 0; i < Min(n, ne); i++)
				out->raw[total + i] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
		}
		total += n;
	}
	SPI_freetuptable(tt);
}

/*
 * raw_element(anyarray, i integer) RETURNS anyelement: element i (from 0)
 * of a run's array, NULL past its end.  The view dp_raw.rows calls it for
 * every row it returns; it keeps the last array it detoasted (by its TOAST
 * pointer, which names one immutable value) in fn_extra, so the rows of a
 * run cost one detoast, not one each.
 */
typedef struct RawCache
{
	MemoryContext cxt;
	bool		valid;
	Oid			toastrelid;
	Oid			valueid;
	int			nelems;
	Datum	   *elems;
	bool	   *nulls;
	Oid			elemtype;
	int16		typlen;
	bool		typbyval;
	char		typalign;
} RawCache;

static void
cache_type(RawCache *c, Oid elemtype)
{
	if (c->elemtype != elemtype)
	{
		get_typlenbyvalalign(elemtype, &c->typlen, &c->typbyval, &c->typalign);
		c->elemtype = elemtype;
	}
}

Datum
dp_raw_element(PG_FUNCTION_ARGS)
{
	struct varlena *p = (struct varlena *) PG_GETARG_POINTER(0);
	int32		i = PG_GETARG_INT32(1);
	RawCache   *c = (RawCache *) fcinfo->flinfo->fn_extra;

	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RawCache));
		c->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "dataplatform raw_element",
									   ALLOCSET_DEFAULT_SIZES);
		fcinfo->flinfo->fn_extra = c;
	}
	if (VARATT_IS_EXTERNAL_ONDISK(p))
	{
		struct varatt_external ext;

		VARATT_EXTERNAL_GET_POINTER(ext, p);
		if (!c->valid || c->toastrelid != ext.va_toastrelid || c->valueid != ext.va_valueid)
		{
			MemoryContext old;
			ArrayType  *a;

			c->valid = false;
			MemoryContextReset(c->cxt);
			old = MemoryContextSwitchTo(c->cxt);
			a = DatumGetArrayTypeP(PointerGetDatum(p));
			cache_type(c, ARR_ELEMTYPE(a));
			deconstruct_array(a, c->elemtype, c->typlen, c->typbyval, c->typalign,
							  &c->elems, &c->nulls, &c->nelems);
			MemoryContextSwitchTo(old);
			c->toastrelid = ext.va_toastrelid;
			c->valueid = ext.va_valueid;
			c->valid = true;
		}
		if (i < 0 || i >= c->nelems || c->nulls[i])
			PG_RETURN_NULL();
		return datumCopy(c->elems[i], c->typbyval, c->typlen);
	}
	else
	{
		/* a small run stored in line: read it in place */
		ArrayType  *a = DatumGetArrayTypeP(PointerGetDatum(p));
		int			idx = i + ARR_LBOUND(a)[0];
		bool		isnull;
		Datum		d;

		if (ARR_NDIM(a) != 1 || i < 0 || i >= ARR_DIMS(a)[0])
			PG_RETURN_NULL();
		cache_type(c, ARR_ELEMTYPE(a));
		d = array_get_element(PointerGetDatum(a), 1, &idx, -1, c->typlen, c->typbyval,
							  c->typalign, &isnull);
		if (isnull)
			PG_RETURN_NULL();
		return datumCopy(d, c->typbyval, c->typlen);
	}
}

/*
 * INSTEAD OF INSERT on dp_raw.rows: the row becomes a run of one (raw stays
 * append-only; a dump of 0.1 restores its raw rows this way).
 */
Datum
dp_raw_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		v[5];
	bool		isnull[5];
	Datum		elem;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BY_INSERT(td->tg_event) ||
		!TRIGGER_FIRED_INSTEAD(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("raw_insert must be called as an INSTEAD OF INSERT row trigger")));
	tup = td->tg_trigtuple;
	desc = td->tg_relation->rd_att;
	if (desc->natts != 5)
		elog(ERROR, "dp_raw.rows has %d columns, not 5", desc->natts);
	for (int i = 0; i < 5; i++)
		v[i] = heap_getattr(tup, i + 1, desc, &isnull[i]);
	if (isnull[0] || isnull[1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a raw row needs its batch_id and ordinal")));
	for (int i = 3; i < 5; i++)
		if (!isnull[i])
			v[i] = PointerGetDatum(PG_DETOAST_DATUM(v[i]));
	SPI_connect();
	elem = v[2];
	store_chunk(DatumGetInt64(v[0]), DatumGetInt64(v[1]), 1,
				isnull[2] ? (Datum) 0 : PointerGetDatum(construct_array(&elem, 1, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
				isnull[3] ? (Datum) 0 : jsonb_array_datum(&v[3], 1),
				isnull[4] ? (Datum) 0 : PointerGetDatum(construct_array(&v[4], 1, TEXTOID, -1, false, TYPALIGN_INT)));
	SPI_finish();
	return PointerGetDatum(tup);
}
