/*
 * csv.c
 *		CSV reader for the dataplatform extension: splits a payload into a
 *		header and data records, with line numbers and raw text.
 *
 * Owns the implementation of everything declared in csv.h; the rules are
 * described there.  Pure C (no postgres.h, no palloc, no ereport, no
 * global mutable state): the same file is linked into the extension and
 * into the unit tests and the fuzzer.
 *
 * Speed: unquoted fields are scanned with a 256-entry stop table (the
 * delimiter, CR, LF) kept in the reader; quoted fields jump from quote to
 * quote with memchr and point straight into the input unless they contain
 * "" (then the unescaped value is built in the caller's scratch buffer).
 */
#include <string.h>

#include "csv.h"

#define UTF8_BOM "\xEF\xBB\xBF"

static const char msg_after_quote[] = "unexpected character after closing quote";
static const char msg_unterminated[] = "unterminated quoted field";
static const char msg_no_header[] = "no header";
static const char msg_bad_options[] = "invalid CSV options";

bool
dp_csv_init(DpCsvReader *r, const char *data, size_t len,
			const DpCsvOptions *opt,
			DpCsvField *fields, size_t maxfields,
			char *scratch, size_t scratch_size)
{
	unsigned char delim = ',';
	unsigned char quote = '"';
	bool		quoting = true;
	bool		lenient = false;
	bool		ok = true;

	memset(r, 0, sizeof(*r));

	if (opt != NULL)
	{
		if (opt->delimiter != '\0')
			delim = (unsigned char) opt->delimiter;
		if (opt->quote != '\0')
			quote = (unsigned char) opt->quote;
		quoting = !opt->no_quote;
		lenient = opt->lenient;
	}
	if (delim == '\r' || delim == '\n')
		ok = false;
	if (quoting && (quote == '\r' || quote == '\n' || quote == delim))
		ok = false;

	/* never do arithmetic on a NULL pointer */
	if (data == NULL)
	{
		data = "";
		len = 0;
	}
	r->data = data;
	r->len = len;
	r->line = 1;
	r->delim = delim;
	r->quote = quote;
	r->quoting = quoting;
	r->lenient = lenient;
	r->stop[delim] = 1;
	r->stop['\r'] = 1;
	r->stop['\n'] = 1;
	r->state = ok ? 0 : 3;
	if (len >= 3 && memcmp(data, UTF8_BOM, 3) == 0)
		r->pos = 3;

	dp_csv_set_buffers(r, fields, maxfields, scratch, scratch_size);
	return ok;
}

void
dp_csv_set_buffers(DpCsvReader *r, DpCsvField *fields, size_t maxfields,
				   char *scratch, size_t scratch_size)
{
	r->fields = fields;
	r->maxfields = fields != NULL ? maxfields : 0;
	r->scratch = scratch;
	r->scratch_size = scratch != NULL ? scratch_size : 0;
}

void
dp_csv_rewind(DpCsvReader *r)
{
	if (r->last_kind == 0)
		return;
	r->pos = r->last_pos;
	r->line = r->last_line;
	if (r->last_kind == 1)
		r->state = 0;
	else
		r->nrecords--;
	r->last_kind = 0;
}

/*
 * First position at or after pos holding the delimiter, CR or LF, or len.
 */
static inline size_t
scan_plain(const DpCsvReader *r, size_t pos)
{
	const unsigned char *d = (const unsigned char *) r->data;
	const unsigned char *stop = r->stop;
	size_t		len = r->len;

	while (len - pos >= 4)
	{
		if (stop[d[pos]])
			return pos;
		if (stop[d[pos + 1]])
			return pos + 1;
		if (stop[d[pos + 2]])
			return pos + 2;
		if (stop[d[pos + 3]])
			return pos + 3;
		pos += 4;
	}
	while (pos < len && !stop[d[pos]])
		pos++;
	return pos;
}

/*
 * Number of line breaks (LF, CRLF, lone CR) in data[from..to).  A CR is
 * paired with an LF that follows it anywhere in the input.
 */
static inline size_t
count_breaks(const DpCsvReader *r, size_t from, size_t to)
{
	const char *d = r->data;
	size_t		n = 0;
	size_t		i;

	for (i = from; i < to; i++)
	{
		if (d[i] == '\n')
			n++;
		else if (d[i] == '\r' && !(i + 1 < r->len && d[i + 1] == '\n'))
			n++;
	}
	return n;
}

/*
 * Append src[0..n) to the scratch area at *used.  Past the end of scratch
 * nothing is written but *used still grows, so that the caller learns how
 * much the record needs.
 */
static inline void
put_scratch(DpCsvReader *r, size_t *used, const char *src, size_t n)
{
	if (n == 0)
		return;
	if (*used <= r->scratch_size && n <= r->scratch_size - *used)
		memcpy(r->scratch + *used, src, n);
	*used += n;
}

/*
 * Read one record starting at r->pos (not at a blank line, not at the
 * end).  Fills the result members; returns DP_CSV_RECORD (the caller turns
 * it into DP_CSV_HEADER), DP_CSV_ERROR or DP_CSV_SHORT.
 */
static DpCsvStatus
read_record(DpCsvReader *r)
{
	const char *d = r->data;
	size_t		len = r->len;
	size_t		pos = r->pos;
	size_t		line = r->line;
	size_t		start = pos;
	size_t		end;
	size_t		nf = 0;
	size_t		used = 0;		/* scratch bytes this record needs */
	const char *err = NULL;
	size_t		errline = 0;
	bool		stored;

	for (;;)
	{
		DpCsvField *f = nf < r->maxfields ? &r->fields[nf] : NULL;
		unsigned char c;

		if (r->quoting && pos < len && (unsigned char) d[pos] == r->quote)
		{
			size_t		qline = line;
			size_t		s = pos + 1;	/* first byte of the content */
			bool		copying = false;
			size_t		vstart = used;

			pos = s;
			for (;;)
			{
				const char *qp = memchr(d + pos, r->quote, len - pos);
				size_t		qe = qp != NULL ? (size_t) (qp - d) : len;

				line += count_breaks(r, pos, qe);
				if (qp == NULL)
				{
					/* end of input inside the quotes: take the rest */
					if (f != NULL)
					{
						if (copying)
							put_scratch(r, &used, d + pos, len - pos);
						else
						{
							f->value = d + s;
							f->len = len - s;
						}
					}
					if (err == NULL)
					{
						err = msg_unterminated;
						errline = qline;
					}
					pos = len;
					break;
				}
				if (qe + 1 < len && (unsigned char) d[qe + 1] == r->quote)
				{
					/* "" stands for one quote */
					if (f != NULL)
					{
						if (!copying)
							put_scratch(r, &used, d + s, qe + 1 - s);
						else
							put_scratch(r, &used, d + pos, qe + 1 - pos);
					}
					copying = true;
					pos = qe + 2;
					continue;
				}
				/* the closing quote */
				if (copying && f != NULL)
					put_scratch(r, &used, d + pos, qe - pos);
				pos = qe + 1;
				if (pos < len && !r->stop[(unsigned char) d[pos]])
				{
					/* text after the closing quote: "ab"c */
					size_t		ts = pos;

					if (!r->lenient && err == NULL)
					{
						err = msg_after_quote;
						errline = line;
					}
					pos = scan_plain(r, pos);
					if (f != NULL)
					{
						if (!copying)
							put_scratch(r, &used, d + s, qe - s);
						put_scratch(r, &used, d + ts, pos - ts);
					}
					copying = true;
				}
				if (f != NULL && !copying)
				{
					f->value = d + s;
					f->len = qe - s;
				}
				break;
			}
			if (f != NULL)
			{
				f->quoted = true;
				if (copying)
				{
					/* a copied value is never empty, so scratch != NULL */
					f->value = used <= r->scratch_size ? r->scratch + vstart : NULL;
					f->len = used - vstart;
				}
			}
		}
		else
		{
			size_t		s = pos;

			pos = scan_plain(r, pos);
			if (f != NULL)
			{
				f->value = d + s;
				f->len = pos - s;
				f->quoted = false;
			}
		}
		nf++;

		if (pos >= len)
		{
			end = len;
			break;
		}
		c = (unsigned char) d[pos];
		if (c == r->delim)
		{
			pos++;
			continue;
		}
		/* CR or LF: end of the record */
		end = pos;
		pos++;
		if (c == '\r' && pos < len && d[pos] == '\n')
			pos++;
		line++;
		break;
	}

	r->nfields = nf;
	r->line_no = r->line;
	r->raw = d + start;
	r->raw_len = end - start;
	r->error = NULL;
	r->error_line = 0;
	r->scratch_needed = used;

	stored = used <= r->scratch_size;
	if (!stored)
		return DP_CSV_SHORT;	/* r->pos and r->line unchanged */

	r->last_pos = r->pos;
	r->last_line = r->line;
	r->pos = pos;
	r->line = line;
	if (err != NULL)
	{
		r->error = err;
		r->error_line = errline;
		return DP_CSV_ERROR;
	}
	return DP_CSV_RECORD;
}

DpCsvStatus
dp_csv_next(DpCsvReader *r)
{
	const char *d = r->data;
	size_t		len = r->len;
	size_t		pos = r->pos;
	size_t		line = r->line;
	DpCsvStatus st;

	r->nfields = 0;
	r->raw = d;
	r->raw_len = 0;
	r->error = NULL;
	r->error_line = 0;
	r->scratch_needed = 0;

	if (r->state == 3)
	{
		r->state = 2;
		r->last_kind = 0;
		r->record_no = 0;
		r->line_no = r->line;
		r->error = msg_bad_options;
		r->error_line = r->line;
		return DP_CSV_ERROR;
	}
	if (r->state == 2)
		return DP_CSV_END;

	/* skip blank lines */
	while (pos < len && (d[pos] == '\n' || d[pos] == '\r'))
	{
		if (d[pos] == '\r' && pos + 1 < len && d[pos + 1] == '\n')
			pos++;
		pos++;
		line++;
	}
	r->pos = pos;
	r->line = line;

	if (pos >= len)
	{
		bool		had_header = r->state != 0;

		r->state = 2;
		r->last_kind = 0;
		r->line_no = line;
		r->raw = d + len;
		if (had_header)
			return DP_CSV_END;
		r->record_no = 0;
		r->error = msg_no_header;
		r->error_line = line;
		return DP_CSV_ERROR;
	}

	st = read_record(r);
	if (st == DP_CSV_SHORT)
	{
		r->record_no = r->state == 0 ? 0 : r->nrecords + 1;
		return st;
	}

	if (r->state == 0)
	{
		r->state = 1;
		r->last_kind = 1;
		r->record_no = 0;
		if (st == DP_CSV_RECORD)
			st = DP_CSV_HEADER;
	}
	else
	{
		r->last_kind = 2;
		r->record_no = ++r->nrecords;
	}
	return st;
}

const char *
dp_csv_header_problem(const DpCsvField *fields, size_t nfields,
					  size_t *index, size_t *other)
{
	size_t		i;
	size_t		j;

	for (i = 0; i < nfields; i++)
	{
		if (fields[i].len == 0)
		{
			if (index != NULL)
				*index = i;
			return "empty column name";
		}
	}
	for (i = 1; i < nfields; i++)
	{
		for (j = 0; j < i; j++)
		{
			if (fields[i].len == fields[j].len &&
				fields[i].value[0] == fields[j].value[0] &&
				memcmp(fields[i].value, fields[j].value, fields[i].len) == 0)
			{
				if (index != NULL)
					*index = i;
				if (other != NULL)
					*other = j;
				return "duplicate column name";
			}
		}
	}
	return NULL;
}
