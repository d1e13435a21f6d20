/*
 * test_csv.c
 *		Unit tests and benchmark for the CSV reader (src/lib/csv.c), outside
 *		PostgreSQL.
 *
 * Owns: the table of parsing cases (each run twice: with ample buffers, and
 * starting from one field slot and no scratch, growing on demand through
 * DP_CSV_SHORT / dp_csv_rewind), the header-check tests, the long-field /
 * many-field tests, a quote-everything writer round-trip property, and
 * "test_csv --bench [MB]" (MB/s on a generated realistic CSV).
 *
 * Build and run with "make -f test/unit/csv.mk check" from the repo root.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv.h"

static int	failures = 0;
static int	checks = 0;

#define CHECK(cond, ...) \
	do { \
		checks++; \
		if (!(cond)) \
		{ \
			failures++; \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
		} \
	} while (0)

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

/* ---- a growable string for the serialised parse result ---- */

typedef struct Buf
{
	char	   *s;
	size_t		len;
	size_t		cap;
} Buf;

static void
buf_putn(Buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
buf_puts(Buf *b, const char *s)
{
	buf_putn(b, s, strlen(s));
}

static void
buf_printf_zu(Buf *b, const char *prefix, size_t v)
{
	char		tmp[64];

	snprintf(tmp, sizeof(tmp), "%s%zu", prefix, v);
	buf_puts(b, tmp);
}

/* C-style escapes for everything not printable ASCII, and for backslash */
static void
buf_escaped(Buf *b, const char *s, size_t n)
{
	size_t		i;
	char		tmp[8];

	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\r')
			buf_puts(b, "\\r");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c == '\0')
			buf_puts(b, "\\0");
		else if (c == '\\')
			buf_puts(b, "\\\\");
		else if (c < 0x20 || c >= 0x7f)
		{
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			buf_puts(b, tmp);
		}
		else
			buf_putn(b, (const char *) &c, 1);
	}
}

/*
 * Parse and serialise:  H@line[...]  Rn@line[...]  En@line!errline msg[...]
 * with fields as [unquoted] or <quoted>, and {raw} after @line when
 * show_raw.  Items are separated by one space.
 *
 * tiny: start with one field slot and no scratch and grow on demand, which
 * must give exactly the same result as ample buffers.
 */
static char *
serialise(const char *in, size_t len, const DpCsvOptions *opt, bool show_raw,
		  bool tiny)
{
	Buf			b = {NULL, 0, 0};
	DpCsvReader r;
	DpCsvStatus st;
	size_t		maxf = tiny ? 1 : 256;
	size_t		scap = tiny ? 0 : len;
	DpCsvField *fields = xmalloc(maxf * sizeof(DpCsvField));
	char	   *scratch = scap ? xmalloc(scap) : NULL;
	size_t		guard = 0;

	dp_csv_init(&r, in, len, opt, fields, maxf, scratch, scap);
	buf_puts(&b, "");
	while ((st = dp_csv_next(&r)) != DP_CSV_END)
	{
		size_t		i;

		if (++guard > 4 * len + 100)
		{
			buf_puts(&b, " LOOP");
			break;
		}
		if (st == DP_CSV_SHORT)
		{
			CHECK(r.scratch_needed > scap, "SHORT with %zu needed, %zu present",
				  r.scratch_needed, scap);
			CHECK(r.scratch_needed <= r.raw_len, "scratch_needed %zu > raw_len %zu",
				  r.scratch_needed, r.raw_len);
			scap = r.scratch_needed;
			scratch = xrealloc(scratch, scap);
			dp_csv_set_buffers(&r, fields, maxf, scratch, scap);
			continue;
		}
		if (r.nfields > maxf)
		{
			maxf = r.nfields;
			fields = xrealloc(fields, maxf * sizeof(DpCsvField));
			dp_csv_set_buffers(&r, fields, maxf, scratch, scap);
			dp_csv_rewind(&r);
			continue;
		}
		if (b.len > 0)
			buf_puts(&b, " ");
		if (st == DP_CSV_HEADER)
			buf_puts(&b, "H");
		else if (st == DP_CSV_RECORD)
			buf_printf_zu(&b, "R", r.record_no);
		else
			buf_printf_zu(&b, "E", r.record_no);
		buf_printf_zu(&b, "@", r.line_no);
		if (st == DP_CSV_ERROR)
		{
			buf_printf_zu(&b, "!", r.error_line);
			buf_puts(&b, " ");
			buf_puts(&b, r.error);
		}
		if (show_raw)
		{
			buf_puts(&b, "{");
			buf_escaped(&b, r.raw, r.raw_len);
			buf_puts(&b, "}");
		}
		for (i = 0; i < r.nfields; i++)
		{
			buf_puts(&b, fields[i].quoted ? "<" : "[");
			buf_escaped(&b, fields[i].value, fields[i].len);
			buf_puts(&b, fields[i].quoted ? ">" : "]");
		}
	}
	free(fields);
	free(scratch);
	return b.s;
}

typedef struct Case
{
	const char *name;
	const char *in;
	size_t		len;			/* 0: strlen(in) */
	DpCsvOptions opt;
	bool		raw;
	const char *expect;
} Case;

#define DEF {0, 0, false, false}
#define SEMI {';', 0, false, false}
#define TAB {'\t', 0, false, false}
#define LENIENT {0, 0, false, true}
#define NOQUOTE {0, 0, true, false}

static const Case cases[] = {
	{"simple LF", "a,b\n1,2\n", 0, DEF, false, "H@1[a][b] R1@2[1][2]"},
	{"no final newline", "a,b\n1,2", 0, DEF, false, "H@1[a][b] R1@2[1][2]"},
	{"CRLF", "a,b\r\n1,2\r\n3,4", 0, DEF, false, "H@1[a][b] R1@2[1][2] R2@3[3][4]"},
	{"lone CR", "a,b\r1,2\r3,4\r", 0, DEF, false, "H@1[a][b] R1@2[1][2] R2@3[3][4]"},
	{"mixed endings", "a\n1\r\n2\r3", 0, DEF, false, "H@1[a] R1@2[1] R2@3[2] R3@4[3]"},
	{"CR CR LF", "a\r\r\nb", 0, DEF, false, "H@1[a] R1@3[b]"},
	{"BOM", "\xEF\xBB\xBF" "a,b\n1,2", 0, DEF, false, "H@1[a][b] R1@2[1][2]"},
	{"BOM raw", "\xEF\xBB\xBF" "a,b\n1,2", 0, DEF, true, "H@1{a,b}[a][b] R1@2{1,2}[1][2]"},
	{"BOM not at start is data", "a\n\xEF\xBB\xBF" "b", 0, DEF, false, "H@1[a] R1@2[\\xef\\xbb\\xbfb]"},
	{"BOM only", "\xEF\xBB\xBF", 0, DEF, false, "E0@1!1 no header"},
	{"partial BOM is data", "\xEF\xBB", 0, DEF, false, "H@1[\\xef\\xbb]"},
	{"empty payload", "", 0, DEF, false, "E0@1!1 no header"},
	{"blank lines only", "\n\r\n\r", 0, DEF, false, "E0@4!4 no header"},
	{"BOM and blank lines", "\xEF\xBB\xBF\r\n\r\n", 0, DEF, false, "E0@3!3 no header"},
	{"blank lines skipped, counted", "\n\na,b\n\n1,2\n\n\n3,4\n\n", 0, DEF, false,
	"H@3[a][b] R1@5[1][2] R2@8[3][4]"},
	{"blank CRLF lines", "a\r\n\r\n1\r\n", 0, DEF, false, "H@1[a] R1@3[1]"},
	{"header only", "a,b\n", 0, DEF, false, "H@1[a][b]"},
	{"header only, no newline", "a,b", 0, DEF, false, "H@1[a][b]"},
	{"header only, blank lines after", "a,b\r\n\r\n\n", 0, DEF, false, "H@1[a][b]"},
	{"embedded LF", "a,b\n\"x\ny\",2\n3,4\n", 0, DEF, true,
	"H@1{a,b}[a][b] R1@2{\"x\\ny\",2}<x\\ny>[2] R2@4{3,4}[3][4]"},
	{"embedded CRLF kept", "a\r\n\"x\r\ny\"\r\nz", 0, DEF, true,
	"H@1{a}[a] R1@2{\"x\\r\\ny\"}<x\\r\\ny> R2@4{z}[z]"},
	{"embedded lone CRs", "a\n\"x\ry\rz\"\nb\n", 0, DEF, false, "H@1[a] R1@2<x\\ry\\rz> R2@5[b]"},
	{"embedded delimiter", "a,b\n\"1,2\",3\n", 0, DEF, false, "H@1[a][b] R1@2<1,2>[3]"},
	{"doubled quotes", "a\n\"he said \"\"hi\"\"\"\n", 0, DEF, true,
	"H@1{a}[a] R1@2{\"he said \"\"hi\"\"\"}<he said \"hi\">"},
	{"only a doubled quote", "a\n\"\"\"\"\n", 0, DEF, false, "H@1[a] R1@2<\">"},
	{"doubled quotes around newline", "a,b\n\"x\"\"\n\"\"y\",2\nz,3", 0, DEF, false,
	"H@1[a][b] R1@2<x\"\\n\"y>[2] R2@4[z][3]"},
	{"empty quoted fields", "a,b\n\"\",\"\"\n", 0, DEF, false, "H@1[a][b] R1@2<><>"},
	{"empty fields", "a,b,c\n1,,3\n", 0, DEF, false, "H@1[a][b][c] R1@2[1][][3]"},
	{"trailing delimiter", "a,b\n1,\n", 0, DEF, false, "H@1[a][b] R1@2[1][]"},
	{"trailing delimiter at EOF", "a,b\n1,", 0, DEF, false, "H@1[a][b] R1@2[1][]"},
	{"only delimiters", "a,b,c\n,,\n", 0, DEF, false, "H@1[a][b][c] R1@2[][][]"},
	{"quoted field at EOF", "a\n\"x\"", 0, DEF, false, "H@1[a] R1@2<x>"},
	{"quoted fields with CRLF", "a\n\"x\"\r\n\"y\"", 0, DEF, false, "H@1[a] R1@2<x> R2@3<y>"},
	{"semicolon", "a;b\n\"1;2\";3,4\n", 0, SEMI, false, "H@1[a][b] R1@2<1;2>[3,4]"},
	{"tab", "a\tb\n1\t\"2\t3\"\n", 0, TAB, false, "H@1[a][b] R1@2[1]<2\\t3>"},
	{"pipe and single quote", "a|b\n'x|y'|\"z\"\n'it''s'|\n", 0, {'|', '\'', false, false}, false,
	"H@1[a][b] R1@2<x|y>[\"z\"] R2@3<it's>[]"},
	{"no quoting", "a,b\n\"x,y\"\n", 0, NOQUOTE, false, "H@1[a][b] R1@2[\"x][y\"]"},
	{"no quoting, quote as delimiter", "a\"b\n1\"2", 0, {'"', 0, true, false}, false,
	"H@1[a][b] R1@2[1][2]"},
	{"quote inside unquoted field", "a\nab\"c\n", 0, DEF, false, "H@1[a] R1@2[ab\"c]"},
	{"space before quote: unquoted", "a,b\n \"x\",y\n", 0, DEF, false, "H@1[a][b] R1@2[ \"x\"][y]"},
	{"whitespace line is a record", "a\n \n", 0, DEF, false, "H@1[a] R1@2[ ]"},
	{"text after closing quote", "a,b\n\"ab\"c,d\n1,2\n", 0, DEF, true,
	"H@1{a,b}[a][b] E1@2!2 unexpected character after closing quote{\"ab\"c,d}<abc>[d] R2@3{1,2}[1][2]"},
	{"text after closing quote, lenient", "a,b\n\"ab\"c,d\n1,2\n", 0, LENIENT, false,
	"H@1[a][b] R1@2<abc>[d] R2@3[1][2]"},
	{"text after closing quote, with quotes", "a\n\"ab\"\"\"x\"y\n", 0, DEF, false,
	"H@1[a] E1@2!2 unexpected character after closing quote<ab\"x\"y>"},
	{"text after closing quote, later line", "a\n\"x\ny\"z\n", 0, DEF, false,
	"H@1[a] E1@2!3 unexpected character after closing quote<x\\nyz>"},
	{"text after quote, only first error kept", "a,b\n\"x\"y,\"z\"w\n", 0, DEF, false,
	"H@1[a][b] E1@2!2 unexpected character after closing quote<xy><zw>"},
	{"error in header", "\"a\"b,c\n1,2", 0, DEF, false,
	"E0@1!1 unexpected character after closing quote<ab>[c] R1@2[1][2]"},
	{"unterminated quote", "a,b\n1,2\n\"x\ny,3\n", 0, DEF, true,
	"H@1{a,b}[a][b] R1@2{1,2}[1][2] E2@3!3 unterminated quoted field{\"x\\ny,3\\n}<x\\ny,3\\n>"},
	{"unterminated quote, field starts on later line", "a,b\n\"p\nq\",\"open\n\n", 0, DEF, false,
	"H@1[a][b] E1@2!3 unterminated quoted field<p\\nq><open\\n\\n>"},
	{"unterminated with doubled quotes", "a\n1\n\n\"x\"\"\ny", 0, DEF, false,
	"H@1[a] R1@2[1] E2@4!4 unterminated quoted field<x\"\\ny>"},
	{"lone quote at EOF", "a\n\"", 0, DEF, false, "H@1[a] E1@2!2 unterminated quoted field<>"},
	{"unterminated header", "\"a", 0, DEF, false, "E0@1!1 unterminated quoted field<a>"},
	{"NUL bytes", "a,b\n\0x,\"y\0\"\n\0", 13, DEF, false, "H@1[a][b] R1@2[\\0x]<y\\0> R2@3[\\0]"},
	{"invalid UTF-8", "a,b\n\xff\xfe,\xc3\n", 0, DEF, false, "H@1[a][b] R1@2[\\xff\\xfe][\\xc3]"},
	{"ragged rows reported", "a,b,c\n1\n1,2,3,4\n", 0, DEF, false,
	"H@1[a][b][c] R1@2[1] R2@3[1][2][3][4]"},
	{"empty header name kept", "a,,b\n", 0, DEF, false, "H@1[a][][b]"},
	{"invalid options: delimiter LF", "a\n", 0, {'\n', 0, false, false}, false,
	"E0@1!1 invalid CSV options"},
	{"invalid options: quote is delimiter", "a\n", 0, {'\'', '\'', false, false}, false,
	"E0@1!1 invalid CSV options"},
	{"invalid options: quote CR", "a\n", 0, {0, '\r', false, false}, false,
	"E0@1!1 invalid CSV options"},
	{"NUL delimiter means comma", "a,b\n", 0, {'\0', 0, false, false}, false, "H@1[a][b]"},
};

static void
test_cases(void)
{
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const Case *c = &cases[i];
		size_t		len = c->len ? c->len : strlen(c->in);
		char	   *copy = xmalloc(len);	/* exact size: ASan sees overreads */
		char	   *got;
		char	   *got_tiny;

		memcpy(copy, c->in, len);
		got = serialise(copy, len, &c->opt, c->raw, false);
		got_tiny = serialise(copy, len, &c->opt, c->raw, true);
		CHECK(strcmp(got, c->expect) == 0, "%s:\n   got    %s\n   expect %s",
			  c->name, got, c->expect);
		CHECK(strcmp(got, got_tiny) == 0, "%s (growing buffers):\n   got    %s\n   ample  %s",
			  c->name, got_tiny, got);
		free(got);
		free(got_tiny);
		free(copy);
	}
}

/* NULL data with length 0, NULL options, NULL buffers */
static void
test_nulls(void)
{
	DpCsvReader r;

	CHECK(dp_csv_init(&r, NULL, 0, NULL, NULL, 0, NULL, 0), "init NULL");
	CHECK(dp_csv_next(&r) == DP_CSV_ERROR && strcmp(r.error, "no header") == 0, "no header");
	CHECK(dp_csv_next(&r) == DP_CSV_END, "END after no header");
	CHECK(dp_csv_next(&r) == DP_CSV_END, "END is sticky");

	/* counting only: no field slots at all */
	dp_csv_init(&r, "a,b,c\n1,2\n", 10, NULL, NULL, 0, NULL, 0);
	CHECK(dp_csv_next(&r) == DP_CSV_HEADER && r.nfields == 3, "header count");
	CHECK(dp_csv_next(&r) == DP_CSV_RECORD && r.nfields == 2 && r.record_no == 1,
		  "record count");
	CHECK(dp_csv_next(&r) == DP_CSV_END, "end");
	dp_csv_rewind(&r);			/* nothing to re-read after END */
	CHECK(dp_csv_next(&r) == DP_CSV_END, "end after rewind");
}

/* fields beyond maxfields are counted, not stored; rewind re-reads */
static void
test_truncation_and_rewind(void)
{
	DpCsvReader r;
	DpCsvField	f[2];
	char		scratch[64];
	const char *in = "h1,h2,h3\n\"a\"\"\",b,\"c\"\"\"\n";

	dp_csv_init(&r, in, strlen(in), NULL, f, 2, scratch, sizeof(scratch));
	CHECK(dp_csv_next(&r) == DP_CSV_HEADER && r.nfields == 3, "header 3");
	dp_csv_rewind(&r);
	CHECK(dp_csv_next(&r) == DP_CSV_HEADER && r.nfields == 3 && r.record_no == 0,
		  "header again after rewind");
	CHECK(dp_csv_next(&r) == DP_CSV_RECORD && r.nfields == 3 && r.record_no == 1,
		  "record 1");
	CHECK(f[0].len == 2 && memcmp(f[0].value, "a\"", 2) == 0 && f[0].quoted, "f0");
	CHECK(f[1].len == 1 && f[1].value[0] == 'b' && !f[1].quoted, "f1");
	/* the unstored third field used no scratch */
	dp_csv_rewind(&r);
	CHECK(dp_csv_next(&r) == DP_CSV_RECORD && r.record_no == 1, "record 1 again");
	CHECK(dp_csv_next(&r) == DP_CSV_END, "end");

	/* SHORT leaves the reader in place; a big enough buffer then works */
	dp_csv_init(&r, in, strlen(in), NULL, f, 2, scratch, 1);
	CHECK(dp_csv_next(&r) == DP_CSV_HEADER, "header");
	CHECK(dp_csv_next(&r) == DP_CSV_SHORT && r.scratch_needed == 2 &&
		  r.record_no == 1 && r.line_no == 2, "short: needed %zu", r.scratch_needed);
	CHECK(dp_csv_next(&r) == DP_CSV_SHORT, "still short");
	dp_csv_set_buffers(&r, f, 2, scratch, 2);
	CHECK(dp_csv_next(&r) == DP_CSV_RECORD && r.record_no == 1 &&
		  f[0].value == scratch, "fits now");
}

static void
test_header_problem(void)
{
	DpCsvField	f[4] = {{"a", 1, false}, {"b", 1, false}, {"ab", 2, true}, {"c", 1, false}};
	size_t		idx = 99;
	size_t		other = 99;

	CHECK(dp_csv_header_problem(f, 4, &idx, &other) == NULL, "clean header");
	CHECK(dp_csv_header_problem(f, 0, NULL, NULL) == NULL, "no columns");
	f[3].value = "b";
	{
		const char *m = dp_csv_header_problem(f, 4, &idx, &other);

		CHECK(m && strcmp(m, "duplicate column name") == 0 && idx == 3 && other == 1,
			  "duplicate: %s %zu %zu", m ? m : "NULL", idx, other);
	}
	f[2].len = 0;
	{
		const char *m = dp_csv_header_problem(f, 4, &idx, NULL);

		CHECK(m && strcmp(m, "empty column name") == 0 && idx == 2, "empty");
	}
	/* case and space are significant */
	{
		DpCsvField	g[3] = {{"Name", 4, false}, {"name", 4, false}, {"name ", 5, false}};

		CHECK(dp_csv_header_problem(g, 3, NULL, NULL) == NULL, "exact bytes");
	}
}

static void
test_long_field(void)
{
	size_t		n = 3 * 1024 * 1024;
	size_t		cap = 2 * n + 64;
	char	   *in = xmalloc(cap);
	char	   *scratch = xmalloc(cap);
	DpCsvField	f[4];
	DpCsvReader r;
	size_t		len = 0;
	size_t		i;
	bool		ok = true;

	memcpy(in + len, "h1,h2\n", 6);
	len += 6;
	for (i = 0; i < n; i++)
		in[len++] = (char) ('a' + i % 26);
	in[len++] = ',';
	in[len++] = '"';
	for (i = 0; i < n / 2; i++)
	{
		if (i % 7 == 0)
		{
			in[len++] = '"';
			in[len++] = '"';
		}
		else
			in[len++] = (i % 100 == 1) ? '\n' : 'x';
	}
	in[len++] = '"';

	dp_csv_init(&r, in, len, NULL, f, 4, scratch, cap);
	CHECK(dp_csv_next(&r) == DP_CSV_HEADER, "long: header");
	CHECK(dp_csv_next(&r) == DP_CSV_RECORD && r.nfields == 2, "long: record");
	CHECK(f[0].len == n && f[0].value == in + 6, "long unquoted field");
	for (i = 0; i < n && ok; i++)
		ok = f[0].value[i] == (char) ('a' + i % 26);
	CHECK(ok, "long unquoted content");
	CHECK(f[1].len == n / 2 && f[1].value == scratch, "long quoted field: %zu", f[1].len);
	ok = true;
	for (i = 0; i < n / 2 && ok; i++)
		ok = f[1].value[i] == (i % 7 == 0 ? '"' : (i % 100 == 1) ? '\n' : 'x');
	CHECK(ok, "long quoted content");
	CHECK(r.raw_len == len - 6, "long raw");
	CHECK(dp_csv_next(&r) == DP_CSV_END, "long: end");
	free(in);
	free(scratch);
}

static void
test_many_fields(void)
{
	size_t		n = 200000;
	char	   *in = xmalloc(4 * n + 16);
	DpCsvField *f = xmalloc(n * sizeof(DpCsvField));
	DpCsvReader r;
	size_t		len = 0;
	size_t		i;
	bool		ok = true;

	in[len++] = 'h';
	in[len++] = '\n';
	for (i = 0; i < n; i++)
	{
		if (i % 3 == 0)
		{
			in[len++] = '"';
			in[len++] = (char) ('0' + i % 10);
			in[len++] = '"';
		}
		else if (i % 3 == 1)
			in[len++] = (char) ('0' + i % 10);
		if (i + 1 < n)
			in[len++] = ',';
	}
	dp_csv_init(&r, in, len, NULL, f, n, NULL, 0);
	CHECK(dp_csv_next(&r) == DP_CSV_HEADER && r.nfields == 1, "many: header");
	CHECK(dp_csv_next(&r) == DP_CSV_RECORD && r.nfields == n, "many: %zu fields", r.nfields);
	for (i = 0; i < n && ok; i++)
	{
		if (i % 3 == 2)
			ok = f[i].len == 0 && !f[i].quoted;
		else
			ok = f[i].len == 1 && f[i].value[0] == (char) ('0' + i % 10) &&
				f[i].quoted == (i % 3 == 0);
	}
	CHECK(ok, "many: contents (field %zu)", i - 1);
	CHECK(dp_csv_header_problem(f, n, NULL, NULL) != NULL, "many: duplicates found");
	free(in);
	free(f);
}

/* ---- round trip: quote-everything writer, then the reader ---- */

static uint64_t
rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t	z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void
test_round_trip(void)
{
	static const char alphabet[] = "ab,;\t\"'\r\n \0\xc3\xa9\xff|x";
	uint64_t	seed = 42;
	int			iter;
	int			bad = 0;

	for (iter = 0; iter < 3000 && bad < 5; iter++)
	{
		int			nrec = 1 + (int) (rng_next(&seed) % 6);
		int			nf = 1 + (int) (rng_next(&seed) % 6);
		char		vals[6][6][16];
		size_t		vlen[6][6];
		char		out[6 * 6 * 40 + 16];
		size_t		olen = 0;
		int			i;
		int			j;
		DpCsvOptions opt = {0, 0, false, false};
		char		delim;
		char		quote;
		DpCsvField	f[8];
		char		scratch[sizeof(out)];
		DpCsvReader r;
		DpCsvStatus st;

		switch (rng_next(&seed) % 4)
		{
			case 0:
				opt.delimiter = ';';
				break;
			case 1:
				opt.delimiter = '\t';
				break;
			case 2:
				opt.delimiter = '|';
				opt.quote = '\'';
				break;
			default:
				break;
		}
		opt.lenient = rng_next(&seed) % 2;
		delim = opt.delimiter ? opt.delimiter : ',';
		quote = opt.quote ? opt.quote : '"';
		if (rng_next(&seed) % 3 == 0)
		{
			/* a BOM, which the writer adds and the reader drops */
			memcpy(out, "\xEF\xBB\xBF", 3);
			olen = 3;
		}
		for (i = 0; i < nrec; i++)
		{
			for (j = 0; j < nf; j++)
			{
				size_t		k;

				vlen[i][j] = rng_next(&seed) % 16;
				for (k = 0; k < vlen[i][j]; k++)
					vals[i][j][k] = alphabet[rng_next(&seed) % (sizeof(alphabet) - 1)];
				if (j > 0)
					out[olen++] = delim;
				out[olen++] = quote;
				for (k = 0; k < vlen[i][j]; k++)
				{
					if (vals[i][j][k] == quote)
						out[olen++] = quote;
					out[olen++] = vals[i][j][k];
				}
				out[olen++] = quote;
			}
			if (i + 1 < nrec || rng_next(&seed) % 2)
			{
				if (rng_next(&seed) % 2)
					out[olen++] = '\r';
				out[olen++] = '\n';
			}
		}

		dp_csv_init(&r, out, olen, &opt, f, 8, scratch, sizeof(scratch));
		for (i = 0; i < nrec; i++)
		{
			st = dp_csv_next(&r);
			if (st != (i == 0 ? DP_CSV_HEADER : DP_CSV_RECORD) || r.nfields != (size_t) nf)
			{
				bad++;
				CHECK(false, "round trip %d: record %d status %d nfields %zu", iter, i,
					  (int) st, r.nfields);
				break;
			}
			for (j = 0; j < nf; j++)
			{
				if (f[j].len != vlen[i][j] || !f[j].quoted ||
					(vlen[i][j] && memcmp(f[j].value, vals[i][j], vlen[i][j]) != 0))
				{
					bad++;
					CHECK(false, "round trip %d: record %d field %d differs", iter, i, j);
					break;
				}
			}
		}
		if (i == nrec)
			CHECK(dp_csv_next(&r) == DP_CSV_END, "round trip %d: END", iter);
	}
}

/* ---- benchmark ---- */

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * About target_mb of CSV that looks like planning data: 10 columns
 * (reference, name, organisation, dates, a decimal, a UUID, a description,
 * a geometry, a flag), about 1 row in 4 with a quoted description holding
 * commas, 1 in 20 with an embedded newline, 1 in 50 with doubled quotes,
 * CRLF line endings.
 */
static char *
make_realistic(size_t target, size_t *out_len, size_t *out_rows)
{
	static const char *const names[] = {"Mill Lane", "High Street", "Church Road",
	"Station Approach", "The Green", "Queen's Park", "Victoria Road"};
	static const char *const orgs[] = {"local-authority:ABC", "local-authority:XYZ",
	"government-organisation:D1342", "local-authority:BRT"};
	size_t		cap = target + 4096;
	char	   *buf = xmalloc(cap);
	size_t		len = 0;
	size_t		rows = 0;
	uint64_t	seed = 7;

	len += (size_t) snprintf(buf, cap,
							 "reference,name,organisation,entry-date,start-date,"
							 "amount,uuid,description,geometry,flag\r\n");
	while (len + 1024 < target)
	{
		uint64_t	x = rng_next(&seed);
		uint64_t	y = rng_next(&seed);
		const char *desc;
		int			kind = (int) (x % 100);

		if (kind < 2)
			desc = "\"Conversion of the \"\"old mill\"\", with parking, to 4 flats\"";
		else if (kind < 7)
			desc = "\"Two storey rear extension,\r\nsingle storey side extension\"";
		else if (kind < 25)
			desc = "\"Felling of 3 trees (T1, T2, T3) in conservation area\"";
		else
			desc = "Replacement windows to front elevation";
		len += (size_t) snprintf(buf + len, cap - len,
								 "REF-%06llu,%s%s%s,%s,2023-%02d-%02d,%s,%llu.%02llu,"
								 "%08llx-%04llx-4%03llx-a%03llx-%012llx,%s,"
								 "%sPOINT (-%d.%06d 51.%06d)%s,%s\r\n",
								 (unsigned long long) rows,
								 (y % 10 == 0) ? "\"" : "",
								 names[x % 7],
								 (y % 10 == 0) ? ", Upper\"" : "",
								 orgs[y % 4],
								 (int) (1 + x % 12), (int) (1 + y % 28),
								 (y % 3 == 0) ? "" : "2022-04-01",
								 (unsigned long long) (x % 100000),
								 (unsigned long long) (y % 100),
								 (unsigned long long) (x >> 32),
								 (unsigned long long) (y & 0xffff),
								 (unsigned long long) (x & 0xfff),
								 (unsigned long long) ((y >> 16) & 0xfff),
								 (unsigned long long) (y >> 16),
								 desc,
								 (x % 4 == 0) ? "\"" : "",
								 (int) (x % 3), (int) (y % 1000000), (int) (x % 1000000),
								 (x % 4 == 0) ? "\"" : "",
								 (y % 2) ? "yes" : "");
		rows++;
	}
	*out_len = len;
	*out_rows = rows;
	return buf;
}

static int
bench(size_t mb)
{
	size_t		len;
	size_t		rows;
	char	   *data = make_realistic(mb * 1024 * 1024, &len, &rows);
	char	   *scratch = xmalloc(len);
	DpCsvField	f[32];
	double		best = 1e9;
	double		best_lines = 1e9;
	size_t		nrec = 0;
	size_t		nfields = 0;
	size_t		bytes = 0;
	int			rep;

	for (rep = 0; rep < 5; rep++)
	{
		DpCsvReader r;
		DpCsvStatus st;
		double		t0 = now_seconds();
		double		t;
		const char *p;
		size_t		lines = 0;

		nrec = nfields = bytes = 0;
		dp_csv_init(&r, data, len, NULL, f, 32, scratch, len);
		while ((st = dp_csv_next(&r)) != DP_CSV_END)
		{
			size_t		i;

			if (st == DP_CSV_ERROR)
			{
				fprintf(stderr, "bench: unexpected error %s at line %zu\n", r.error, r.error_line);
				return 1;
			}
			nrec++;
			nfields += r.nfields;
			for (i = 0; i < r.nfields && i < 32; i++)
				bytes += f[i].len;
		}
		t = now_seconds() - t0;
		if (t < best)
			best = t;

		/* baseline: just find every LF with memchr */
		t0 = now_seconds();
		p = data;
		while ((p = memchr(p, '\n', len - (size_t) (p - data))) != NULL)
		{
			p++;
			lines++;
		}
		t = now_seconds() - t0;
		if (t < best_lines)
			best_lines = t;
		if (lines == 0)
			return 1;
	}
	printf("csv bench: %.1f MB, %zu records (+header), %zu fields, %zu value bytes\n",
		   len / 1048576.0, nrec - 1, nfields, bytes);
	printf("csv bench: dp_csv_next %.0f MB/s (best of 5: %.3f s); memchr('\\n') alone %.0f MB/s\n",
		   len / 1048576.0 / best, best, len / 1048576.0 / best_lines);
	if (nrec - 1 != rows || nfields != nrec * 10)
	{
		fprintf(stderr, "bench: expected %zu rows of 10 fields\n", rows);
		return 1;
	}
	free(scratch);
	free(data);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--bench") == 0)
		return bench(argc >= 3 ? (size_t) atol(argv[2]) : 100);

	test_cases();
	test_nulls();
	test_truncation_and_rewind();
	test_header_problem();
	test_long_field();
	test_many_fields();
	test_round_trip();

	if (failures)
	{
		printf("test_csv: %d of %d checks FAILED\n", failures, checks);
		return 1;
	}
	printf("test_csv: all %d checks passed (%zu table cases)\n", checks,
		   sizeof(cases) / sizeof(cases[0]));
	return 0;
}
