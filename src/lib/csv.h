/*
 * csv.h
 *		CSV reader for the dataplatform extension.
 *
 * Owns: DpCsvOptions, DpCsvField, DpCsvReader, DpCsvStatus and the
 * dp_csv_* functions, which split a CSV payload (RFC 4180 with a header
 * line, as real producers send it) into records and fields.  Pure C: no
 * backend calls, no global mutable state, no allocation at all (the caller
 * provides every buffer); safe on arbitrary bytes (the input need not be
 * NUL-terminated and may hold NUL bytes, invalid UTF-8, lone CRs, ...).
 *
 * Rules (the decisions are explained in test/unit/CSV_NOTES.md):
 *
 *	- Records end at LF, CRLF or a lone CR, or at the end of the input (a
 *	  trailing line terminator is optional).  A UTF-8 BOM at the very start
 *	  is skipped.  Completely empty lines are skipped but are counted in
 *	  line numbers.  A line holding anything (even one space, or "") is a
 *	  record.
 *	- The first non-blank record is the header; the following ones are
 *	  data records, numbered from 1.
 *	- A field that starts with the quote character is quoted: it runs to
 *	  the matching closing quote, "" inside it stands for one quote, and it
 *	  may contain delimiters, CR and LF.  The value is the text between the
 *	  quotes with "" turned into ", everything else byte for byte (an
 *	  embedded CRLF stays CRLF).
 *	- Any other field is unquoted and its value is exactly the bytes up to
 *	  the next delimiter or line end; a quote character inside it (ab"c) is
 *	  an ordinary byte.
 *	- Text after a closing quote and before the delimiter ("ab"c) is an
 *	  error "unexpected character after closing quote" by default; with
 *	  DpCsvOptions.lenient it is accepted without error and appended to the
 *	  value (abc), as Python's csv module does.  Either way the reader
 *	  resynchronises at the next delimiter or line end, so the following
 *	  records are read normally.
 *	- A quoted field still open at the end of the input is an error
 *	  "unterminated quoted field" reported at the line where that field
 *	  started; the field takes the rest of the input.
 *	- The reader never decides whether a record has the right number of
 *	  fields: it reports the count and the caller decides.
 *
 * Usage:
 *
 *		DpCsvReader r;
 *		DpCsvStatus st;
 *
 *		dp_csv_init(&r, data, len, NULL, fields, maxfields, scratch, scratchlen);
 *		while ((st = dp_csv_next(&r)) != DP_CSV_END)
 *		{
 *			if (st == DP_CSV_SHORT)		-- scratch too small for this record
 *			{
 *				grow scratch to at least r.scratch_needed bytes;
 *				dp_csv_set_buffers(&r, fields, maxfields, scratch, newlen);
 *				continue;					-- the same record is read again
 *			}
 *			if (r.nfields > maxfields && you want them all)
 *			{
 *				grow fields to r.nfields entries;
 *				dp_csv_set_buffers(&r, fields, r.nfields, scratch, scratchlen);
 *				dp_csv_rewind(&r);			-- the same record is read again
 *				continue;
 *			}
 *			st is DP_CSV_HEADER (once, first), DP_CSV_RECORD or DP_CSV_ERROR;
 *			use fields[0 .. min(r.nfields, maxfields)), r.record_no,
 *			r.line_no, r.raw / r.raw_len; on DP_CSV_ERROR also r.error and
 *			r.error_line;
 *		}
 *
 * Memory: field values point either into data (every unquoted field, and
 * every quoted field without "" inside, which is the common case) or into
 * the caller's scratch buffer (quoted fields containing "", and the lenient
 * "ab"c case).  The scratch buffer is reused for every record, so values in
 * it are valid only until the next dp_csv_next() / dp_csv_rewind(); values
 * in data live as long as data.  One record never needs more scratch than
 * its raw length, so scratch of len bytes never gives DP_CSV_SHORT; a
 * smaller buffer (even none: NULL, 0) works too, with the grow-and-retry
 * step above.  The payload is thus held at most twice, and in practice
 * scratch stays as small as the longest record that needs it.
 */
#ifndef DP_CSV_H
#define DP_CSV_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Options; pass NULL, or a zeroed struct, for RFC 4180 (',' and '"').
 *
 * delimiter: any single byte except CR and LF; '\0' means ','.
 * quote: any single byte except CR, LF and the delimiter; '\0' means '"'.
 * no_quote: no quoting at all: the quote byte is ordinary data.
 * lenient: accept text after a closing quote ("ab"c reads as abc) instead
 *		of reporting "unexpected character after closing quote".
 */
typedef struct DpCsvOptions
{
	char		delimiter;
	char		quote;
	bool		no_quote;
	bool		lenient;
} DpCsvOptions;

/* One field of the current record; value is not NUL-terminated. */
typedef struct DpCsvField
{
	const char *value;			/* into data or into scratch; see above */
	size_t		len;
	bool		quoted;			/* the field was written in quotes */
} DpCsvField;

typedef enum DpCsvStatus
{
	DP_CSV_HEADER,				/* the header record (record_no 0) */
	DP_CSV_RECORD,				/* a data record (record_no 1, 2, ...) */
	DP_CSV_END,					/* no more records; every later call too */
	DP_CSV_ERROR,				/* see error / error_line; calling again
								 * continues with what follows */
	DP_CSV_SHORT				/* scratch too small for this record: grow
								 * it to scratch_needed bytes with
								 * dp_csv_set_buffers and call again; the
								 * reader has not moved */
} DpCsvStatus;

/*
 * The reader.  The caller allocates it (stack or palloc, sizeof is
 * fixed) and must treat every member as read-only.  The first group
 * describes the result of the last dp_csv_next(); the rest is private.
 *
 * DP_CSV_ERROR comes in three kinds:
 *	- "unexpected character after closing quote": a record (header when
 *	  record_no is 0) that was read as if lenient: its fields, raw text,
 *	  record_no and line_no are all set, and error_line is the line of the
 *	  offending character.  The next call reads the next record.
 *	- "unterminated quoted field": likewise, but the record took the rest
 *	  of the input, so the next call returns DP_CSV_END.  error_line is
 *	  the line where the open quoted field started.
 *	- "no header" (the input is empty or holds only a BOM and blank lines)
 *	  and "invalid CSV options": no record; nfields is 0; the next call
 *	  returns DP_CSV_END.
 * So a loop until DP_CSV_END always terminates, whether or not the caller
 * stops at the first error.
 */
typedef struct DpCsvReader
{
	/* result of the last dp_csv_next() */
	size_t		nfields;		/* real number of fields in the record;
								 * only the first maxfields are stored */
	size_t		record_no;		/* 0 for the header, then 1, 2, ... */
	size_t		line_no;		/* physical line (1-based) where the
								 * record starts */
	const char *raw;			/* the record's text exactly as in data, */
	size_t		raw_len;		/* without its line terminator */
	const char *error;			/* static message, on DP_CSV_ERROR only */
	size_t		error_line;
	size_t		scratch_needed; /* on DP_CSV_SHORT: bytes of scratch this
								 * record needs */

	/* private */
	const char *data;
	size_t		len;
	size_t		pos;			/* next byte to read */
	size_t		line;			/* physical line number at pos */
	DpCsvField *fields;
	size_t		maxfields;
	char	   *scratch;
	size_t		scratch_size;
	size_t		nrecords;		/* data records returned so far */
	size_t		last_pos;		/* start of the last record, for rewind */
	size_t		last_line;
	int			last_kind;		/* 0 none, 1 header, 2 data record */
	int			state;			/* 0 before header, 1 data, 2 done, 3 bad
								 * options */
	unsigned char delim;
	unsigned char quote;
	bool		quoting;
	bool		lenient;
	unsigned char stop[256];	/* delimiter, CR, LF */
} DpCsvReader;

/*
 * Start reading data[0..len) (data may be NULL when len is 0).  fields
 * has room for maxfields entries (may be NULL when maxfields is 0);
 * scratch has scratch_size bytes (may be NULL when scratch_size is 0).
 * Nothing is copied: data and the buffers must outlive the reader.
 * Returns false on invalid options; the first dp_csv_next() then reports
 * "invalid CSV options".
 */
extern bool dp_csv_init(DpCsvReader *r, const char *data, size_t len,
						const DpCsvOptions *opt,
						DpCsvField *fields, size_t maxfields,
						char *scratch, size_t scratch_size);

/* Replace the field array and/or scratch buffer (e.g. larger ones). */
extern void dp_csv_set_buffers(DpCsvReader *r,
							   DpCsvField *fields, size_t maxfields,
							   char *scratch, size_t scratch_size);

/* Read the next record; see DpCsvStatus and DpCsvReader. */
extern DpCsvStatus dp_csv_next(DpCsvReader *r);

/*
 * Step back so that the next dp_csv_next() reads again the record it
 * returned last (header, record, or error with a record), with the same
 * record_no.  Use it after growing the field array.  A no-op when there
 * is nothing to re-read.
 */
extern void dp_csv_rewind(DpCsvReader *r);

/*
 * Check header names: returns NULL when fine, else a static message:
 * "empty column name" (*index is that column, 0-based) or "duplicate
 * column name" (*index is the later column, *other the first one with the
 * same name).  Names are compared as exact bytes: no trimming, no case
 * folding; do that beforehand if wanted.  index and other may be NULL.
 * Quadratic in nfields, which is fine for headers of a few thousand
 * columns.
 */
extern const char *dp_csv_header_problem(const DpCsvField *fields,
										 size_t nfields,
										 size_t *index, size_t *other);

#endif							/* DP_CSV_H */
