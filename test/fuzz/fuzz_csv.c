/*
 * fuzz_csv.c
 *		libFuzzer target for the CSV reader (src/lib/csv.c).
 *
 * Owns: a byte-at-a-time reference parser written straight from the rules
 * in csv.h, and the checks run on every input:
 *	- the reader, growing its buffers on demand, gives exactly the
 *	  reference's records (status, record and line numbers, errors, raw
 *	  slice, fields);
 *	- with a fixed small field array it gives the same counts and the same
 *	  stored fields;
 *	- invariants: field values lie inside data or scratch, raw inside data,
 *	  record numbers go up by one, line numbers never go down, the scratch
 *	  a record needs is at most its raw length, and the reader ends within a
 *	  bounded number of calls;
 *	- round trip (flag bit 7): the rest of the input, split into records at
 *	  0xFE and fields at 0xFF, written with every field quoted, reads back
 *	  as the same fields.
 *
 * Input layout: byte 0 flags (bits 0-2 delimiter: , ; TAB | default,
 * else byte 1; bit 3 no_quote; bit 4 lenient; bits 5-6 quote: default,
 * '"', '\'', byte 2; bit 7 round trip), byte 3 initial field slots
 * (low 4 bits), byte 4 initial scratch bytes, then the CSV.
 *
 * Build and run with "make -f test/unit/csv.mk fuzz" from the repo root.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_csv: "); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

typedef struct Buf
{
	unsigned char *s;
	size_t		len;
	size_t		cap;
} Buf;

static void
put(Buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap)
	{
		b->cap = (b->len + n) * 2 + 64;
		b->s = realloc(b->s, b->cap);
		if (b->s == NULL)
			abort();
	}
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
}

static void
put_zu(Buf *b, size_t v)
{
	put(b, &v, sizeof(v));
}

/* one record in the common serialisation */
static void
put_event(Buf *b, int kind, size_t record_no, size_t line_no,
		  const char *error, size_t error_line, size_t raw_off, size_t raw_len,
		  size_t nfields)
{
	put_zu(b, (size_t) kind);
	put_zu(b, record_no);
	put_zu(b, line_no);
	put(b, error ? error : "-", strlen(error ? error : "-") + 1);
	put_zu(b, error_line);
	put_zu(b, raw_off);
	put_zu(b, raw_len);
	put_zu(b, nfields);
}

static void
put_field(Buf *b, bool quoted, const void *v, size_t n)
{
	put_zu(b, quoted);
	put_zu(b, n);
	put(b, v, n);
}

typedef struct Opts
{
	DpCsvOptions o;
	unsigned char delim;
	unsigned char quote;
	bool		valid;
} Opts;

/*
 * The reference: one byte at a time, straight from the rules.  Fields
 * beyond limit are counted but not written out.
 */
static void
ref_parse(const unsigned char *d, size_t len, const Opts *op, size_t limit, Buf *out)
{
	size_t		pos = 0;
	size_t		line = 1;
	bool		header = false;
	size_t		recno = 0;
	bool		quoting = !op->o.no_quote;
	unsigned char dl = op->delim;
	unsigned char q = op->quote;
	Buf			rec = {NULL, 0, 0};
	Buf			fld = {NULL, 0, 0};

	if (!op->valid)
	{
		put_event(out, DP_CSV_ERROR, 0, 1, "invalid CSV options", 1, 0, 0, 0);
		return;
	}
	if (len >= 3 && d[0] == 0xEF && d[1] == 0xBB && d[2] == 0xBF)
		pos = 3;
	for (;;)
	{
		size_t		start;
		size_t		sline;
		size_t		end;
		size_t		nf = 0;
		const char *err = NULL;
		size_t		errline = 0;

		while (pos < len && (d[pos] == '\n' || d[pos] == '\r'))
		{
			if (d[pos] == '\r' && pos + 1 < len && d[pos + 1] == '\n')
				pos++;
			pos++;
			line++;
		}
		if (pos >= len)
		{
			if (!header)
				put_event(out, DP_CSV_ERROR, 0, line, "no header", line, len, 0, 0);
			break;
		}
		start = pos;
		sline = line;
		rec.len = 0;
		for (;;)
		{
			bool		quoted = false;

			fld.len = 0;
			if (quoting && pos < len && d[pos] == q)
			{
				size_t		fline = line;

				quoted = true;
				pos++;
				for (;;)
				{
					unsigned char c;

					if (pos >= len)
					{
						if (err == NULL)
						{
							err = "unterminated quoted field";
							errline = fline;
						}
						break;
					}
					c = d[pos];
					if (c == q)
					{
						if (pos + 1 < len && d[pos + 1] == q)
						{
							put(&fld, &q, 1);
							pos += 2;
							continue;
						}
						pos++;
						break;
					}
					if (c == '\n')
						line++;
					else if (c == '\r' && !(pos + 1 < len && d[pos + 1] == '\n'))
						line++;
					put(&fld, &c, 1);
					pos++;
				}
				while (pos < len && d[pos] != dl && d[pos] != '\r' && d[pos] != '\n')
				{
					if (!op->o.lenient && err == NULL)
					{
						err = "unexpected character after closing quote";
						errline = line;
					}
					put(&fld, &d[pos], 1);
					pos++;
				}
			}
			else
			{
				while (pos < len && d[pos] != dl && d[pos] != '\r' && d[pos] != '\n')
				{
					put(&fld, &d[pos], 1);
					pos++;
				}
			}
			if (nf < limit)
				put_field(&rec, quoted, fld.s, fld.len);
			nf++;
			/* pos < len can only fail here on an empty field at the end */
			if (pos >= len)
			{
				end = len;
				break;
			}
			if (d[pos] == dl)
			{
				pos++;
				continue;
			}
			end = pos;
			if (d[pos] == '\r' && pos + 1 < len && d[pos + 1] == '\n')
				pos++;
			pos++;
			line++;
			break;
		}
		if (!header)
		{
			header = true;
			put_event(out, err ? DP_CSV_ERROR : DP_CSV_HEADER, 0, sline, err, errline,
					  start, end - start, nf);
		}
		else
			put_event(out, err ? DP_CSV_ERROR : DP_CSV_RECORD, ++recno, sline, err,
					  errline, start, end - start, nf);
		put(out, rec.s, rec.len);
	}
	free(rec.s);
	free(fld.s);
}

static bool
inside(const char *p, size_t n, const char *base, size_t cap)
{
	return p >= base && p <= base + cap && n <= (size_t) (base + cap - p);
}

/*
 * Run the reader.  grow: enlarge the field array (and rewind) whenever a
 * record has more fields than slots; otherwise keep maxf slots and store a
 * prefix.  Scratch always grows on DP_CSV_SHORT.
 */
static void
run_reader(const char *d, size_t len, const Opts *op, size_t maxf, size_t scap,
		   bool grow, Buf *out)
{
	DpCsvField *fields = malloc((maxf ? maxf : 1) * sizeof(DpCsvField));
	char	   *scratch = scap ? malloc(scap) : NULL;
	DpCsvReader r;
	DpCsvStatus st;
	size_t		calls = 0;
	size_t		last_record = 0;
	size_t		last_line = 0;
	bool		seen_header = false;
	bool		seen_any = false;
	bool		ok;

	ok = dp_csv_init(&r, d, len, &op->o, fields, maxf, scratch, scap);
	if (ok != op->valid)
		FAIL("init returned %d for valid=%d", ok, op->valid);

	while ((st = dp_csv_next(&r)) != DP_CSV_END)
	{
		size_t		i;
		size_t		sum = 0;
		size_t		nstored;

		if (++calls > 3 * len + 16)
			FAIL("no end after %zu calls on %zu bytes", calls, len);
		if (!inside(r.raw, r.raw_len, d ? d : r.raw, len))
			FAIL("raw slice outside data");
		if (st == DP_CSV_SHORT)
		{
			if (r.scratch_needed <= scap)
				FAIL("SHORT but %zu <= %zu", r.scratch_needed, scap);
			if (r.scratch_needed > r.raw_len)
				FAIL("scratch_needed %zu > raw_len %zu", r.scratch_needed, r.raw_len);
			scap = r.scratch_needed;
			free(scratch);
			scratch = malloc(scap);
			dp_csv_set_buffers(&r, fields, maxf, scratch, scap);
			continue;
		}
		if (grow && r.nfields > maxf)
		{
			maxf = r.nfields;
			free(fields);
			fields = malloc(maxf * sizeof(DpCsvField));
			dp_csv_set_buffers(&r, fields, maxf, scratch, scap);
			dp_csv_rewind(&r);
			continue;
		}

		/* invariants */
		if (st != DP_CSV_HEADER && st != DP_CSV_RECORD && st != DP_CSV_ERROR)
			FAIL("bad status %d", (int) st);
		if (st == DP_CSV_ERROR && (r.error == NULL || r.error_line < r.line_no))
			FAIL("error without message or before the record");
		if (st != DP_CSV_ERROR && r.error != NULL)
			FAIL("error message on success");
		if (st == DP_CSV_HEADER)
		{
			if (seen_header || seen_any || r.record_no != 0)
				FAIL("second header or header after records");
			seen_header = true;
		}
		else if (r.record_no != 0)
		{
			if (r.record_no != last_record + 1)
				FAIL("record_no %zu after %zu", r.record_no, last_record);
			last_record = r.record_no;
		}
		if (r.line_no < last_line)
			FAIL("line_no %zu after %zu", r.line_no, last_line);
		last_line = r.line_no;
		seen_any = true;

		nstored = r.nfields < maxf ? r.nfields : maxf;
		for (i = 0; i < nstored; i++)
		{
			const DpCsvField *f = &fields[i];

			if (f->value == NULL)
				FAIL("NULL value");
			if (!inside(f->value, f->len, d, len) &&
				!(scratch && inside(f->value, f->len, scratch, scap)))
				FAIL("field %zu outside data and scratch", i);
			if (!f->quoted && !inside(f->value, f->len, r.raw, r.raw_len))
				FAIL("unquoted field %zu outside raw", i);
			sum += f->len;
		}
		if (sum > r.raw_len)
			FAIL("fields longer than the raw record");

		put_event(out, (int) st, r.record_no, r.line_no, r.error, r.error_line,
				  (size_t) (r.raw - d), r.raw_len, r.nfields);
		for (i = 0; i < nstored; i++)
			put_field(out, fields[i].quoted, fields[i].value, fields[i].len);
	}
	if (dp_csv_next(&r) != DP_CSV_END)
		FAIL("END is not sticky");
	free(fields);
	free(scratch);
}

static void
compare(const Buf *a, const Buf *b, const char *what)
{
	if (a->len != b->len || (a->len && memcmp(a->s, b->s, a->len) != 0))
	{
		size_t		i = 0;

		while (i < a->len && i < b->len && a->s[i] == b->s[i])
			i++;
		FAIL("%s: reader and reference differ at byte %zu of %zu/%zu", what, i,
			 a->len, b->len);
	}
}

static void
round_trip(const unsigned char *p, size_t n, const Opts *op, bool crlf, bool bom)
{
	Buf			csv = {NULL, 0, 0};
	Buf			expect = {NULL, 0, 0};
	Buf			got = {NULL, 0, 0};
	size_t		i;
	size_t		nrec = 0;
	size_t		nf = 0;
	size_t		fstart = 0;
	char	   *scratch;
	DpCsvField *fields;
	DpCsvReader r;
	DpCsvStatus st;

	if (bom)
		put(&csv, "\xEF\xBB\xBF", 3);
	/* expected: per record, the field count then the fields */
	for (i = 0; i <= n; i++)
	{
		bool		end_field = i == n || p[i] == 0xFF || p[i] == 0xFE;
		bool		end_record = i == n || p[i] == 0xFE;
		size_t		k;

		if (!end_field)
			continue;
		put(&csv, &op->quote, 1);
		for (k = fstart; k < i; k++)
		{
			if (p[k] == op->quote)
				put(&csv, &op->quote, 1);
			put(&csv, &p[k], 1);
		}
		put(&csv, &op->quote, 1);
		put_field(&expect, true, p + fstart, i - fstart);
		nf++;
		fstart = i + 1;
		if (end_record)
		{
			if (crlf)
				put(&csv, "\r\n", 2);
			else
				put(&csv, "\n", 1);
			nrec++;
			nf = 0;
		}
		else
			put(&csv, &op->delim, 1);
	}

	/* a first quote byte 0xEF followed by BB BF would read as a BOM */
	if (!bom && csv.len >= 3 && memcmp(csv.s, "\xEF\xBB\xBF", 3) == 0)
	{
		free(csv.s);
		free(expect.s);
		return;
	}

	scratch = malloc(csv.len);
	fields = malloc((n + 1) * sizeof(DpCsvField));
	dp_csv_init(&r, (const char *) csv.s, csv.len, &op->o, fields, n + 1, scratch, csv.len);
	for (i = 0; i < nrec; i++)
	{
		size_t		k;

		st = dp_csv_next(&r);
		if (st != (i == 0 ? DP_CSV_HEADER : DP_CSV_RECORD))
			FAIL("round trip: record %zu has status %d (%s)", i, (int) st,
				 r.error ? r.error : "");
		for (k = 0; k < r.nfields; k++)
			put_field(&got, fields[k].quoted, fields[k].value, fields[k].len);
	}
	if (dp_csv_next(&r) != DP_CSV_END)
		FAIL("round trip: extra record");
	compare(&got, &expect, "round trip");
	free(scratch);
	free(fields);
	free(csv.s);
	free(expect.s);
	free(got.s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = {',', ';', '\t', '|', '\0'};
	Opts		op;
	unsigned char flags;
	size_t		maxf;
	size_t		scap;
	size_t		len;
	char	   *copy;
	Buf			ref = {NULL, 0, 0};
	Buf			got = {NULL, 0, 0};

	if (size < 5)
		return 0;
	flags = data[0];
	memset(&op, 0, sizeof(op));
	op.o.delimiter = (flags & 7) < 5 ? delims[flags & 7] : (char) data[1];
	op.o.no_quote = (flags & 8) != 0;
	op.o.lenient = (flags & 16) != 0;
	switch ((flags >> 5) & 3)
	{
		case 0:
			op.o.quote = '\0';
			break;
		case 1:
			op.o.quote = '"';
			break;
		case 2:
			op.o.quote = '\'';
			break;
		default:
			op.o.quote = (char) data[2];
			break;
	}
	op.delim = op.o.delimiter ? (unsigned char) op.o.delimiter : ',';
	op.quote = op.o.quote ? (unsigned char) op.o.quote : '"';
	op.valid = op.delim != '\r' && op.delim != '\n' &&
		(op.o.no_quote ||
		 (op.quote != '\r' && op.quote != '\n' && op.quote != op.delim));
	maxf = data[3] & 15;
	scap = data[4];
	data += 5;
	size -= 5;

	if ((flags & 128) && op.valid && !op.o.no_quote)
	{
		round_trip(data, size, &op, (data[-2] & 16) != 0, (data[-2] & 32) != 0);
		return 0;
	}

	/* an exact-size copy, so that ASan catches a read past the end */
	len = size;
	copy = malloc(len ? len : 1);
	if (len)
		memcpy(copy, data, len);

	ref_parse((const unsigned char *) copy, len, &op, SIZE_MAX, &ref);
	run_reader(copy, len, &op, maxf, scap, true, &got);
	compare(&got, &ref, "growing buffers");

	ref.len = got.len = 0;
	ref_parse((const unsigned char *) copy, len, &op, maxf, &ref);
	run_reader(copy, len, &op, maxf, scap, false, &got);
	compare(&got, &ref, "fixed field slots");

	free(ref.s);
	free(got.s);
	free(copy);
	return 0;
}
