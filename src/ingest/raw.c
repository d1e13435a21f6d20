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
 * A one-dimensional array of n elements of elemtype without nulls, nbytes
 * long in all (construct_array's layout): its header set, its data for
 * the caller to fill.
 */
static ArrayType *
new_run_array(Size nbytes, Oid elemtype, int n)
{
	ArrayType  *a;

	if (!AllocSizeIsValid(nbytes))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("array size exceeds the maximum allowed (%d)",
						(int) MaxAllocSize)));
	a = palloc(nbytes);
	memset(a, 0, ARR_OVERHEAD_NONULLS(1));
	SET_VARSIZE(a, nbytes);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = elemtype;
	ARR_DIMS(a)[0] = n;
	ARR_LBOUND(a)[0] = 1;
	return a;
}

/*
 * A run of a JSON array: a jsonb[] of elements first .. first + n - 1 of
 * the array container root, each element as JsonbValueToJsonb makes it
 * (a container's bytes behind a 4-byte header), laid out as construct_array
 * lays them out (no null bitmap, each element int-aligned, padding zero),
 * written once into the array instead of copied per element and again.
 * start_of[k] / end_of[k]: where the data of element first + k starts
 * and ends in the container (JBE_ADVANCE_OFFSET).
 */
static Datum
json_run_array(JsonbContainer *root, int first, int n, const uint32 *start_of,
			   const uint32 *end_of)
{
	const char *base = (const char *) &root->children[JsonContainerSize(root)];
	Size		nbytes = ARR_OVERHEAD_NONULLS(1);
	Jsonb	  **made = NULL;
	ArrayType  *a;
	char	   *p;

	for (int k = 0; k < n; k++)
	{
		JEntry		je = root->children[first + k];

		if (JBE_ISCONTAINER(je))
			nbytes += INTALIGN(VARHDRSZ + end_of[k] - INTALIGN(start_of[k]));
		else
		{
			/* a scalar element: its own jsonb, made as before */
			JsonbValue	v;

			if (made == NULL)
				made = palloc0(sizeof(Jsonb *) * n);
			dp_jsonb_child_value(base, je, start_of[k], end_of[k], &v);
			made[k] = JsonbValueToJsonb(&v);
			nbytes += INTALIGN(VARSIZE(made[k]));
		}
	}
	a = new_run_array(nbytes, JSONBOID, n);
	p = ARR_DATA_PTR(a);
	for (int k = 0; k < n; k++)
	{
		Size		size;

		if (made && made[k])
		{
			size = VARSIZE(made[k]);
			memcpy(p, made[k], size);
		}
		else
		{
			uint32		at = INTALIGN(start_of[k]);

			size = VARHDRSZ + end_of[k] - at;
			SET_VARSIZE(p, size);
			memcpy(p + VARHDRSZ, base + at, size - VARHDRSZ);
		}
		memset(p + size, 0, INTALIGN(size) - size);
		p += INTALIGN(size);
	}
	Assert(p == (char *) a + nbytes);
	return PointerGetDatum(a);
}

/*
 * Land a JSON payload: an array's elements in runs, from ordinal 1 on, or
 * the one object as row 1.  Each element is copied as it is (a container
 * element is its bytes, not parsed again), straight into its run's array.
 */
void
dp_raw_land_json(int64 batch_id, Jsonb *rows)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform raw run",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;

	if (JB_ROOT_IS_OBJECT(rows) || JB_ROOT_IS_SCALAR(rows))
	{
		Datum		elem = JsonbPGetDatum(rows);

		old = MemoryContextSwitchTo(cxt);
		store_chunk(batch_id, 1, 1, (Datum) 0, jsonb_array_datum(&elem, 1), (Datum) 0);
		MemoryContextSwitchTo(old);
	}
	else
	{
		JsonbContainer *root = &rows->root;
		int			count = JsonContainerSize(root);
		uint32	   *start_of = palloc(sizeof(uint32) * DP_RAW_CHUNK_ROWS);
		uint32	   *end_of = palloc(sizeof(uint32) * DP_RAW_CHUNK_ROWS);
		uint32		off = 0;
		int			first = 0,
					n = 0;
		Size		bytes = 0;

		for (int i = 0; i < count; i++)
		{
			JEntry		je = root->children[i];
			uint32		end = off;

			JBE_ADVANCE_OFFSET(end, je);
			start_of[n] = off;
			end_of[n] = end;
			n++;
			/* the element's jsonb size, as JsonbValueToJsonb's VARSIZE */
			if (JBE_ISCONTAINER(je))
				bytes += VARHDRSZ + end - INTALIGN(off);
			else
			{
				JsonbValue	v;
				Jsonb	   *e;

				/* a scalar: measured as made (rare: push refuses such rows) */
				old = MemoryContextSwitchTo(cxt);
				dp_jsonb_child_value((const char *) &root->children[count], je, off, end, &v);
				e = JsonbValueToJsonb(&v);
				bytes += VARSIZE(e);
				pfree(e);
				MemoryContextSwitchTo(old);
			}
			off = end;
			if (n == DP_RAW_CHUNK_ROWS || bytes >= DP_RAW_CHUNK_BYTES || i == count - 1)
			{
				old = MemoryContextSwitchTo(cxt);
				store_chunk(batch_id, first + 1, n, (Datum) 0,
							json_run_array(root, first, n, start_of, end_of), (Datum) 0);
				MemoryContextSwitchTo(old);
				MemoryContextReset(cxt);
				first += n;
				n = 0;
				bytes = 0;
			}
		}
		pfree(start_of);
		pfree(end_of);
	}
	MemoryContextDelete(cxt);
}

/*
 * A text[] of n records (raw[k]: len[k] bytes, up to a NUL byte if one
 * comes first, as CStringGetTextDatum of a NUL-terminated copy would take
 * it), laid out as construct_array lays out each cstring_to_text (no null
 * bitmap, int-aligned, padding zero), each record copied once.
 */
static Datum
text_run_array(char **raw, const size_t *len, int n)
{
	Size		nbytes = ARR_OVERHEAD_NONULLS(1);
	size_t	   *size = palloc(sizeof(size_t) * n);
	ArrayType  *a;
	char	   *p;

	for (int k = 0; k < n; k++)
	{
		size[k] = strnlen(raw[k], len[k]);
		nbytes += INTALIGN(VARHDRSZ + size[k]);
	}
	a = new_run_array(nbytes, TEXTOID, n);
	p = ARR_DATA_PTR(a);
	for (int k = 0; k < n; k++)
	{
		Size		total = VARHDRSZ + size[k];

		SET_VARSIZE(p, total);
		memcpy(p + VARHDRSZ, raw[k], size[k]);
		memset(p + total, 0, INTALIGN(total) - total);
		p += INTALIGN(total);
	}
	Assert(p == (char *) a + nbytes);
	pfree(size);
	return PointerGetDatum(a);
}

/*
 * Land n CSV records (their text, raw[k] of len[k] bytes, and line
 * numbers, ordinals ascending): runs break where the ordinals do, so a
 * run's rows stay consecutive.
 */
void
dp_raw_land_records(int64 batch_id, int n, const int64 *ordinal, const int64 *line, char **raw,
					const size_t *len)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform raw run",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			start = 0;

	while (start < n)
	{
		int			end = start + 1;
		Size		bytes = strnlen(raw[start], len[start]);

		while (end < n && end - start < DP_RAW_CHUNK_ROWS && bytes < DP_RAW_CHUNK_BYTES &&
			   ordinal[end] == ordinal[end - 1] + 1)
		{
			bytes += strnlen(raw[end], len[end]);
			end++;
		}
		store_chunk(batch_id, ordinal[start], end - start,
					dp_int8_array((int64 *) line + start, end - start),
					(Datum) 0,
					text_run_array(raw + start, len + start, end - start));
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
