/*
 * source.c
 *		The sources of a load, each record turned into a DpSourceRow for
 *		dp_load_row: JSON rows (a push payload's objects, a snapshot's or an
 *		event's object, a raw row replayed) and CSV records (read with the
 *		pure reader of src/lib/csv.c, PII cells made tokens as read where
 *		this environment wants it, each record's text landed in dp_raw a
 *		flush at a time); the shape checks of a JSON payload and the CSV
 *		options of push_csv and check_csv.
 *
 * Memory: a JSON row's values live in load->src_cxt (reset per row); CSV
 * cells point into the reader's buffers (in load->cxt) and records waiting
 * to be landed into load->raw_cxt (reset at each landing).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "csv.h"
#include "issue.h"
#include "obfuscate.h"
#include "pipeline.h"
#include "transform.h"
#include "util.h"

void
dp_row_builder_fit(DpRowBuilder *rb, int n)
{
	if (n <= rb->maxcells)
		return;
	rb->maxcells = Max(n, rb->maxcells * 2);
	rb->vals = rb->vals ? repalloc(rb->vals, sizeof(char *) * rb->maxcells)
		: palloc(sizeof(char *) * rb->maxcells);
	rb->lens = rb->lens ? repalloc(rb->lens, sizeof(size_t) * rb->maxcells)
		: palloc(sizeof(size_t) * rb->maxcells);
}

/* Room for column n in rb (new cells absent), in load->cxt. */
static void
fit_cells(DpLoad *load, DpRowBuilder *rb, int n)
{
	int			before = rb->maxcells;
	MemoryContext old;

	if (n <= rb->maxcells)
		return;
	old = MemoryContextSwitchTo(load->cxt);
	dp_row_builder_fit(rb, n);
	MemoryContextSwitchTo(old);
	for (int i = before; i < rb->maxcells; i++)
		rb->vals[i] = NULL;
}

/* A JSON value as a cell's text (see dp_load_json_row), in the current context. */
static void
json_cell(const JsonbValue *v, const char **s, size_t *len)
{
	switch (v->type)
	{
		case jbvString:
			*s = v->val.string.val;
			*len = v->val.string.len;
			break;
		case jbvNumeric:
			*s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
			*len = strlen(*s);
			break;
		case jbvBool:
			*s = v->val.boolean ? "true" : "false";
			*len = strlen(*s);
			break;
		case jbvBinary:
			*s = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
			*len = strlen(*s);
			break;
		default:
			/* null: present and empty (an update event clears the field) */
			*s = "";
			*len = 0;
			break;
	}
}

/*
 * The child of a jsonb container whose data starts at base, with entry je
 * and data from start to end (JBE_ADVANCE_OFFSET), as jsonb_util.c's
 * fillJsonbValue reads it: a nested container as jbvBinary.
 */
void
dp_jsonb_child_value(const char *base, JEntry je, uint32 start, uint32 end, JsonbValue *v)
{
	if (JBE_ISSTRING(je))
	{
		v->type = jbvString;
		v->val.string.val = unconstify(char *, base + start);
		v->val.string.len = (int) (end - start);
	}
	else if (JBE_ISNUMERIC(je))
	{
		v->type = jbvNumeric;
		v->val.numeric = (Numeric) unconstify(char *, base + INTALIGN(start));
	}
	else if (JBE_ISBOOL_TRUE(je) || JBE_ISBOOL_FALSE(je))
	{
		v->type = jbvBool;
		v->val.boolean = JBE_ISBOOL_TRUE(je);
	}
	else if (JBE_ISNULL(je))
		v->type = jbvNull;
	else
	{
		Assert(JBE_ISCONTAINER(je));
		v->type = jbvBinary;
		v->val.binary.data = (JsonbContainer *) unconstify(char *, base + INTALIGN(start));
		v->val.binary.len = (int) (end - start) - (INTALIGN(start) - start);
	}
}

/*
 * The pairs of a jsonb object read in place, as JsonbIteratorNext would
 * give them (keys in stored order; each value as jsonb_util.c's
 * fillJsonbValue reads it), without the iterator's allocations.  The i-th
 * key's column is looked for first where the previous object's i-th key
 * was (rb->guess): a payload's objects mostly have the same keys, which
 * jsonb stores in one order.
 */
static void
json_object_cells(DpLoad *load, DpRowBuilder *rb, JsonbContainer *obj)
{
	int			n = JsonContainerSize(obj);
	const JEntry *children = obj->children;
	const char *base = (const char *) &children[n * 2];
	uint32		koff = 0;
	uint32		voff = n > 0 ? getJsonbOffset(obj, n) : 0;

	if (n > rb->maxguess)
	{
		MemoryContext old = MemoryContextSwitchTo(load->cxt);
		int			before = rb->maxguess;

		rb->maxguess = Max(n, rb->maxguess * 2);
		rb->guess = rb->guess ? repalloc(rb->guess, sizeof(int) * rb->maxguess)
			: palloc(sizeof(int) * rb->maxguess);
		for (int i = before; i < rb->maxguess; i++)
			rb->guess[i] = -1;
		MemoryContextSwitchTo(old);
	}
	for (int i = 0; i < n; i++)
	{
		JEntry		ke = children[i],
					ve = children[n + i];
		uint32		kend = koff,
					vend = voff;
		JsonbValue	v;
		int			col;

		JBE_ADVANCE_OFFSET(kend, ke);
		JBE_ADVANCE_OFFSET(vend, ve);
		col = dp_transform_column_guess(load->t, base + koff, (int) (kend - koff), rb->guess[i]);
		rb->guess[i] = col;
		fit_cells(load, rb, col + 1);
		dp_jsonb_child_value(base, ve, voff, vend, &v);
		json_cell(&v, &rb->vals[col], &rb->lens[col]);
		koff = kend;
		voff = vend;
	}
}

/*
 * Feed one JSON object (a jsonb container) as a row.  Values: strings as
 * they are, numbers and booleans as their JSON text, null as absent,
 * objects and arrays as JSON text.
 */
void
dp_load_json_row(DpLoad *load, DpRowBuilder *rb, JsonbContainer *obj, int64 ordinal,
				 DpSourceRow *out)
{
	DpSourceRow row;
	int			i;
	MemoryContext old;

	MemoryContextReset(load->src_cxt);
	old = MemoryContextSwitchTo(load->src_cxt);
	memset(&row, 0, sizeof(row));
	row.row_number = ordinal;
	for (i = 0; i < rb->maxcells; i++)
		rb->vals[i] = NULL;
	/* anything but an object (a scalar replayed from raw) has no cells */
	if (JsonContainerIsObject(obj))
		json_object_cells(load, rb, obj);
	row.ncells = load->t->ncolumns;
	row.vals = rb->vals;
	row.lens = rb->lens;
	MemoryContextSwitchTo(old);
	*out = row;
}

void
dp_load_json_object(DpLoad *load, DpRowBuilder *rb, JsonbContainer *obj, int64 ordinal)
{
	DpSourceRow row;

	dp_load_json_row(load, rb, obj, ordinal, &row);
	dp_load_row(load, &row);
}

/*
 * Feed every element of a push payload: an array of objects, or one
 * object.  Bad shapes are errors naming the dataset and the element.
 */
int64
dp_load_json(DpLoad *load, Jsonb *rows)
{
	DpRowBuilder	rb = {0};
	MemoryContext old = MemoryContextSwitchTo(load->cxt);

	dp_row_builder_fit(&rb, 16);
	MemoryContextSwitchTo(old);
	/* JSON rows may carry geometries as GeoJSON objects: not an issue */
	load->t->geojson_source = true;
	if (JB_ROOT_IS_OBJECT(rows))
		dp_load_json_object(load, &rb, &rows->root, 1);
	else
	{
		JsonbIterator *it = JsonbIteratorInit(&rows->root);
		JsonbIteratorToken tok;
		JsonbValue	v;
		int64		ordinal = 0;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			ordinal++;
			if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("row %lld of the push to dataset \"%s\" is not a JSON object",
								(long long) ordinal, load->dataset),
						 errhint("Push an array of objects, one per row: [{\"id\": 1, ...}, ...].")));
			dp_load_json_object(load, &rb, v.val.binary.data, ordinal);
			CHECK_FOR_INTERRUPTS();
		}
	}
	return load->rows_in;
}

void
dp_check_json_shape(const char *dataset, Jsonb *rows)
{
	if (JB_ROOT_IS_SCALAR(rows))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("push to dataset \"%s\" must be a JSON array of objects or one object",
						dataset),
				 errdetail("Got a JSON scalar.")));
	if (JB_ROOT_IS_ARRAY(rows) && JB_ROOT_COUNT(rows) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("push to dataset \"%s\" has no rows", dataset),
				 errhint("An empty push is refused so that a broken extract is noticed; push only when there is data.")));
}

/* CSV options: {"delimiter": ";" | "\t" | "tab" | ",", "quote": "\""} */
static void
csv_options(const char *dataset, Jsonb *options, DpCsvOptions *opt)
{
	json_t	   *o;
	const char *key;
	json_t	   *v;

	memset(opt, 0, sizeof(*opt));
	if (options == NULL)
		return;
	o = dp_json_from_jsonb(options, "CSV options");
	if (!json_is_object(o))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("CSV options for dataset \"%s\" must be a JSON object", dataset)));
	json_object_foreach(o, key, v)
	{
		const char *s = json_is_string(v) ? json_string_value(v) : NULL;
		char		c;

		if (strcmp(key, "delimiter") != 0 && strcmp(key, "quote") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown CSV option \"%s\" for dataset \"%s\"", key, dataset),
					 errhint("CSV options are delimiter and quote.")));
		if (s && strcmp(s, "tab") == 0)
			s = "\t";
		if (s == NULL || strlen(s) != 1 || s[0] == '\n' || s[0] == '\r')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("CSV option \"%s\" for dataset \"%s\" must be one character", key, dataset),
					 errhint("For example {\"delimiter\": \";\"} or {\"delimiter\": \"tab\"}.")));
		c = s[0];
		if (strcmp(key, "delimiter") == 0)
			opt->delimiter = c;
		else
			opt->quote = c;
	}
	if (opt->quote && opt->quote == (opt->delimiter ? opt->delimiter : ','))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("CSV quote and delimiter for dataset \"%s\" must differ", dataset)));
	json_decref(o);
}

/*
 * The CSV arguments of push_csv, check_csv and collection: the options
 * into *opt, and data of len bytes that is not empty.
 */
void
dp_load_check_csv_args(const char *dataset, size_t len, Jsonb *csv_opts, DpCsvOptions *opt)
{
	csv_options(dataset, csv_opts, opt);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("push to dataset \"%s\" is empty", dataset),
				 errhint("Send CSV with a header line and at least one record.")));
}

typedef struct CsvRaw
{
	int			n;
	int64	   *ordinal;
	int64	   *line;
	char	  **raw;			/* into the data, or a copy in raw_cxt */
	size_t	   *len;
} CsvRaw;

static void
flush_csv_raw(DpLoad *load, CsvRaw *cr)
{
	if (cr->n == 0 || load->dry_run)
		return;
	dp_raw_land_records(load->batch_id, cr->n, cr->ordinal, cr->line, cr->raw, cr->len);
	cr->n = 0;
	MemoryContextReset(load->raw_cxt);
}

/*
 * Feed every record of a CSV payload.  land: also write each record's text
 * to dp_raw.  ordinals/lines (rebuild): use these numbers instead of the
 * parser's.  Returns the header line's text in *header.
 */
void
dp_load_csv(DpLoad *load, const char *data, size_t len, const DpCsvOptions *opt, bool land,
			const int64 *ordinals, const int64 *lines, int64 nknown, char **header)
{
	DpCsvReader r;
	DpCsvStatus st;
	size_t		maxfields = 64;
	DpCsvField *fields;
	size_t		scratch_size = 65536;
	char	   *scratch;
	int		   *colmap = NULL;
	size_t		ncols = 0;
	DpRowBuilder	rb = {0};
	CsvRaw		cr = {0};
	MemoryContext obf_cxt = AllocSetContextCreate(load->cxt, "dataplatform obfuscation",
												  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(load->cxt);

	fields = palloc(sizeof(DpCsvField) * maxfields);
	scratch = palloc(scratch_size);
	if (land)
	{
		cr.ordinal = palloc(sizeof(int64) * DP_FLUSH_ROWS);
		cr.line = palloc(sizeof(int64) * DP_FLUSH_ROWS);
		cr.raw = palloc(sizeof(char *) * DP_FLUSH_ROWS);
		cr.len = palloc(sizeof(size_t) * DP_FLUSH_ROWS);
	}
	dp_csv_init(&r, data, len, opt, fields, maxfields, scratch, scratch_size);
	MemoryContextSwitchTo(old);

	while ((st = dp_csv_next(&r)) != DP_CSV_END)
	{
		size_t		i;
		DpSourceRow row;

		if (st == DP_CSV_SHORT)
		{
			scratch_size = Max(r.scratch_needed, scratch_size * 2);
			scratch = MemoryContextAlloc(load->cxt, scratch_size);
			dp_csv_set_buffers(&r, fields, maxfields, scratch, scratch_size);
			continue;
		}
		if (r.nfields > maxfields)
		{
			maxfields = r.nfields;
			fields = MemoryContextAlloc(load->cxt, sizeof(DpCsvField) * maxfields);
			dp_csv_set_buffers(&r, fields, maxfields, scratch, scratch_size);
			dp_csv_rewind(&r);
			continue;
		}
		if (st == DP_CSV_ERROR)
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("malformed CSV for dataset \"%s\" at line %zu: %s",
							load->dataset, r.error_line ? r.error_line : r.line_no, r.error),
					 strcmp(r.error, "no header") == 0 ?
					 errhint("The first line must name the columns.") :
					 errhint("Quote fields that contain the delimiter, quotes or line breaks, and double quotes inside them.")));
		if (st == DP_CSV_HEADER)
		{
			size_t		bad,
						other;
			const char *problem = dp_csv_header_problem(fields, r.nfields, &bad, &other);

			if (problem)
				ereport(ERROR,
						(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
						 errmsg("malformed CSV header for dataset \"%s\": %s", load->dataset, problem),
						 errdetail("Column %zu of line %zu.", bad + 1, r.line_no)));
			ncols = r.nfields;
			colmap = MemoryContextAlloc(load->cxt, sizeof(int) * ncols);
			old = MemoryContextSwitchTo(load->cxt);
			for (i = 0; i < ncols; i++)
				colmap[i] = dp_transform_column(load->t, fields[i].value, (int) fields[i].len);
			dp_row_builder_fit(&rb, load->t->ncolumns);
			if (header)
				*header = pnstrdup(r.raw, r.raw_len);
			MemoryContextSwitchTo(old);
			continue;
		}
		memset(&row, 0, sizeof(row));
		if (ordinals && (int64) r.record_no <= nknown)
		{
			row.row_number = ordinals[r.record_no - 1];
			row.line_number = lines[r.record_no - 1];
		}
		else
		{
			row.row_number = r.record_no;
			row.line_number = r.line_no;
		}
		row.raw = r.raw;
		row.raw_len = r.raw_len;
		if (load->obfuscate)
		{
			/* PII cells become tokens before anything sees the record */
			MemoryContextReset(obf_cxt);
			old = MemoryContextSwitchTo(obf_cxt);
			if (r.nfields == ncols)
				row.raw = dp_obfuscate_csv_record(load->t, colmap, fields, ncols,
												  opt->delimiter ? opt->delimiter : ',',
												  opt->quote ? opt->quote : '"', &row.raw_len);
			MemoryContextSwitchTo(old);
		}
		if (r.nfields != ncols)
		{
			/* a line a skip pattern drops may have any shape (comments, totals) */
			bool		skipped;

			old = MemoryContextSwitchTo(load->src_cxt);
			skipped = dp_transform_skips(load->t, &row);
			MemoryContextSwitchTo(old);
			MemoryContextReset(load->src_cxt);
			if (!skipped && ordinals)
			{
				/*
				 * rebuild: the batch was accepted under a configuration
				 * that skipped this line; now it is quarantined, not an
				 * error that would make the dataset impossible to rebuild
				 */
				dp_transform_add_issue_named(load->t, row.row_number, row.line_number, -1, NULL,
											 DP_ISSUE_MALFORMED_ROW, "error", NULL, NULL,
											 psprintf("The record has %zu field%s; the header has %zu.",
													  r.nfields, r.nfields == 1 ? "" : "s", ncols));
				load->rows_in++;
				load->quarantined++;
				load->q_row[load->nquarantine] = row.row_number;
				load->q_line[load->nquarantine] = row.line_number;
				if (++load->nquarantine == DP_FLUSH_ROWS)
					dp_load_flush_quarantine(load);
				continue;
			}
			if (!skipped)
				ereport(ERROR,
						(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
						 errmsg("malformed CSV for dataset \"%s\" at line %zu: %zu field%s, the header has %zu",
								load->dataset, r.line_no, r.nfields, r.nfields == 1 ? "" : "s", ncols),
						 errhint("Every record needs one value per header column; quote values that contain the delimiter.")));
			row.ncells = 0;
			if (load->obfuscate)
			{
				/*
				 * A skipped line of another shape: which of its cells are
				 * PII cannot be told, so it is not stored at all (it is
				 * still counted as skipped).
				 */
				load->rows_in++;
				if (!load->raw_only)
					load->skipped++;
				continue;
			}
		}
		else
		{
			for (i = 0; i < (size_t) rb.maxcells; i++)
				rb.vals[i] = NULL;
			for (i = 0; i < ncols; i++)
			{
				rb.vals[colmap[i]] = fields[i].value;
				rb.lens[colmap[i]] = fields[i].len;
			}
			row.ncells = load->t->ncolumns;
		}
		row.vals = rb.vals;
		row.lens = rb.lens;
		if (land)
		{
			cr.ordinal[cr.n] = row.row_number;
			cr.line[cr.n] = row.line_number;
			/* a record's text stays in the data; an obfuscated one is copied */
			if (row.raw == r.raw)
				cr.raw[cr.n] = unconstify(char *, row.raw);
			else
			{
				cr.raw[cr.n] = MemoryContextAlloc(load->raw_cxt, row.raw_len + 1);
				memcpy(cr.raw[cr.n], row.raw, row.raw_len);
				cr.raw[cr.n][row.raw_len] = '\0';
			}
			cr.len[cr.n] = row.raw_len;
			if (++cr.n == DP_FLUSH_ROWS)
				flush_csv_raw(load, &cr);
		}
		if (load->raw_only)
			load->rows_in++;
		else
			dp_load_row(load, &row);
		CHECK_FOR_INTERRUPTS();
	}
	if (land)
		flush_csv_raw(load, &cr);
	if (ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("CSV for dataset \"%s\" has no header", load->dataset)));
	if (load->rows_in == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("push to dataset \"%s\" has no rows", load->dataset),
				 errdetail("The CSV holds a header and no records."),
				 errhint("An empty push is refused so that a broken extract is noticed; push only when there is data.")));
}
