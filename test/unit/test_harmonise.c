/*
 * test_harmonise.c
 *		Unit tests for src/lib/harmonise*.c: a table of vectors per datatype
 *		(datatype, input, expected output, expected issue), including the
 *		vectors of digital-land-python's tests/unit/datatype tests, plus
 *		constraint, buffer-size, catalogue and calendar tests.
 *
 * Prints one line per failure and a summary; exits non-zero on any failure.
 * "Today" is fixed at 2026-11-22 so far-future-date results are stable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmonise.h"

typedef struct Vec
{
	DpDatatype	dt;
	const char *in;
	const char *want;			/* expected output ("" on an issue) */
	DpIssue		issue;
	size_t		len;			/* input length; 0 means strlen(in) */
} Vec;

#define OK(dt, in, want)	{dt, in, want, DP_ISSUE_NONE, 0}
#define BAD(dt, in, iss)	{dt, in, "", iss, 0}

#define S	DP_DT_STRING
#define TX	DP_DT_TEXT
#define I	DP_DT_INTEGER
#define DEC	DP_DT_DECIMAL
#define F	DP_DT_FLAG
#define D	DP_DT_DATE
#define DT	DP_DT_DATETIME
#define U	DP_DT_URL
#define ID	DP_DT_UUID
#define J	DP_DT_JSON

static const Vec vectors[] = {
	/* ---- date: digital-land tests/unit/datatype/test_date.py ---- */
	OK(D, "2020-01-02", "2020-01-02"),
	OK(D, "20200102", "2020-01-02"),
	OK(D, "20200102000000", "2020-01-02"),
	OK(D, "2020/01/02", "2020-01-02"),
	OK(D, "2020 01 02", "2020-01-02"),
	OK(D, "2020.01.02", "2020-01-02"),
	OK(D, "12 March 2020", "2020-03-12"),
	OK(D, "02-01-2020", "2020-01-02"),
	OK(D, "02.01.20", "2020-01-02"),
	OK(D, "02/01/2020", "2020-01-02"),
	OK(D, "02/01/20", "2020-01-02"),
	OK(D, "02-Jan-2020", "2020-01-02"),
	OK(D, "02-Jan-20", "2020-01-02"),
	OK(D, "2 January 2020", "2020-01-02"),
	OK(D, "Jan 2, 2020", "2020-01-02"),
	OK(D, "Jan 2, 20", "2020-01-02"),
	OK(D, "2020-01-02T03:04:59", "2020-01-02"),
	OK(D, "2020-01-02 03:04:59", "2020-01-02"),
	OK(D, "2020-01-02T03:04:59Z", "2020-01-02"),
	OK(D, "20200102030459", "2020-01-02"),
	OK(D, "2024-07-02T13:49:47.676511", "2024-07-02"),
	OK(D, "2024-07-03T13:49:47.676511+01:00", "2024-07-03"),
	OK(D, "2024-07-04T13:41:46.7084023+01:00", "2024-07-04"),
	OK(D, "2024-07-04T13:41:46.708402345678", "2024-07-04"),
	OK(D, "2024-07-04T13:41:46.708402345678+01:00", "2024-07-04"),
	OK(D, "2024-07-04T13:41:46.708402345678Z", "2024-07-04"),
	OK(D, "1609459200", "2021-01-01"),
	OK(D, "1609459200000", "2021-01-01"),
	OK(D, "1609459200000.0", "2021-01-01"),
	OK(D, "2009/03/30 00:00:00+00", "2009-03-30"),
	OK(D, "2013/04/15 00:00:00", "2013-04-15"),
	OK(D, "2013/04/15 00:00", "2013-04-15"),
	OK(D, "2024/07/02T13:49:47.676511", "2024-07-02"),
	OK(D, "2024/07/03T13:49:47.676511+01:00", "2024-07-03"),
	OK(D, "2024/07/04T13:41:46.7084023+01:00", "2024-07-04"),
	OK(D, "2024/07/04T13:41:46.708402345678", "2024-07-04"),
	OK(D, "2024/07/04T13:41:46.708402345678+01:00", "2024-07-04"),
	OK(D, "2024/07/04T13:41:46.708402345678Z", "2024-07-04"),
	OK(D, "2020", "2020-01-01"),
	OK(D, "2020.0", "2020-01-01"),
	OK(D, "02/01/2020 03:04:59", "2020-01-02"),
	OK(D, "02/01/2020 03:04", "2020-01-02"),
	OK(D, "Jan-20", "2020-01-01"),
	OK(D, "1969-07", "1969-07-01"),
	OK(D, "1969.07", "1969-07-01"),
	OK(D, "1969/07", "1969-07-01"),
	OK(D, "1969 07", "1969-07-01"),
	OK(D, "2020-13-12", "2020-12-13"),
	OK(D, "13/12/2020", "2020-12-13"),
	OK(D, "22/05/2018\xc2\xa0", "2018-05-22"),
	BAD(D, "2019-02-29", DP_ISSUE_INVALID_DATE),
	BAD(D, "foo", DP_ISSUE_INVALID_DATE),
	BAD(D, "123abc", DP_ISSUE_INVALID_DATE),
	BAD(D, "1609459200000foo", DP_ISSUE_INVALID_DATE),
	BAD(D, "16094592000000", DP_ISSUE_INVALID_DATE),
	/* far past / far future (today 2026-11-22, cutoff 2076-11-22) */
	BAD(D, "1799-12-30", DP_ISSUE_FAR_PAST_DATE),
	OK(D, "1799-12-31", "1799-12-31"),
	BAD(D, "0987-01-07", DP_ISSUE_FAR_PAST_DATE),
	OK(D, "2076-11-22", "2076-11-22"),
	BAD(D, "2076-11-23", DP_ISSUE_FAR_FUTURE_DATE),
	BAD(D, "9999-12-31", DP_ISSUE_FAR_FUTURE_DATE),
	/* ---- date: more spellings ---- */
	OK(D, "12/13/2020", "2020-12-13"),
	OK(D, "2020-12-13", "2020-12-13"),
	BAD(D, "13/13/2020", DP_ISSUE_INVALID_DATE),
	BAD(D, "2020-13-13", DP_ISSUE_INVALID_DATE),
	BAD(D, "2020-13", DP_ISSUE_INVALID_DATE),
	OK(D, "March 2020", "2020-03-01"),
	OK(D, "march 2020", "2020-03-01"),
	OK(D, "SEPT 2020", "2020-09-01"),
	OK(D, "Sep 2020", "2020-09-01"),
	OK(D, "September 2, 2020", "2020-09-02"),
	OK(D, "1st March 2021", "2021-03-01"),
	OK(D, "22nd Feb 2021", "2021-02-22"),
	OK(D, "Thu, 11 Dec 2025 00:00:00 GMT", "2025-12-11"),
	OK(D, "Thursday, 11-Dec-25 00:00:00 GMT", "2025-12-11"),
	OK(D, "Thu, 11 Dec 2025 23:30:00 -0500", "2025-12-11"),
	OK(D, "2024-03-04T09:15:02.4581234Z", "2024-03-04"),
	OK(D, "2024-03-04T23:15:02-05:00", "2024-03-04"),
	OK(D, "20240304T091502Z", "2024-03-04"),
	OK(D, "02/01/2020 3:04 PM", "2020-01-02"),
	OK(D, "\"2020-01-02\"", "2020-01-02"),
	OK(D, "  '2020-01-02',", "2020-01-02"),
	OK(D, "\xc2\xa0\xc2\xa0" "2020-01-02 \t\r\n", "2020-01-02"),
	OK(D, "\xef\xbb\xbf" "2020-01-02", "2020-01-02"),
	OK(D, "", ""),
	OK(D, "   ", ""),
	OK(D, "\"\"", ""),
	OK(D, "123456789", "1973-11-29"),
	OK(D, "999999999999", "2001-09-09"),
	OK(D, "1.1.2020", "2020-01-01"),
	BAD(D, "1.0.2020", DP_ISSUE_INVALID_DATE),
	OK(D, "29/02/2024", "2024-02-29"),
	BAD(D, "29/02/2023", DP_ISSUE_INVALID_DATE),
	BAD(D, "31/04/2020", DP_ISSUE_INVALID_DATE),
	BAD(D, "2020-01-02T25:00:00", DP_ISSUE_INVALID_DATE),
	BAD(D, "2020-01-02T10:00:00+25:00", DP_ISSUE_INVALID_DATE),
	BAD(D, "2020-01-02 foo", DP_ISSUE_INVALID_DATE),
	BAD(D, "2020-01/02", DP_ISSUE_INVALID_DATE),
	OK(D, "2020.5", "2020-05-01"),
	BAD(D, "2020.13", DP_ISSUE_INVALID_DATE),
	BAD(D, "0000", DP_ISSUE_INVALID_DATE),
	BAD(D, "202001", DP_ISSUE_INVALID_DATE),
	BAD(D, "2020123", DP_ISSUE_INVALID_DATE),
	BAD(D, "12345678901", DP_ISSUE_INVALID_DATE),
	BAD(D, "-1609459200", DP_ISSUE_INVALID_DATE),
	BAD(D, "Foo 2020", DP_ISSUE_INVALID_DATE),
	BAD(D, "Jan", DP_ISSUE_INVALID_DATE),
	BAD(D, "Thu, 11 Dec", DP_ISSUE_INVALID_DATE),
	BAD(D, "13 PM", DP_ISSUE_INVALID_DATE),
	BAD(D, "2020-01-02T", DP_ISSUE_INVALID_DATE),
	BAD(D, "2020-01-02Z", DP_ISSUE_INVALID_DATE),
	BAD(D, "02/01/2020 13:00 PM", DP_ISSUE_INVALID_DATE),
	BAD(D, "2020-01-02T10:00:60", DP_ISSUE_INVALID_DATE),
	{D, "2020-01-02\0", "2020-01-02", DP_ISSUE_NONE, 11},
	{D, "2020\0-01-02", "", DP_ISSUE_INVALID_DATE, 11},

	/* ---- datetime ---- */
	OK(DT, "2020-01-02", "2020-01-02T00:00:00Z"),
	OK(DT, "2020-01-02T03:04:59", "2020-01-02T03:04:59Z"),
	OK(DT, "2020-01-02T03:04:59Z", "2020-01-02T03:04:59Z"),
	OK(DT, "2020-01-02 03:04:59+01:00", "2020-01-02T02:04:59Z"),
	OK(DT, "2020-01-02T00:30:00+01:00", "2020-01-01T23:30:00Z"),
	OK(DT, "2020-12-31T23:30:00-01:00", "2021-01-01T00:30:00Z"),
	OK(DT, "2024-03-04T09:15:02.4581234Z", "2024-03-04T09:15:02.458123Z"),
	OK(DT, "2024-07-02T13:49:47.676511", "2024-07-02T13:49:47.676511Z"),
	OK(DT, "2024-07-02T13:49:47.5", "2024-07-02T13:49:47.500000Z"),
	OK(DT, "2024-07-02T13:49:47.000", "2024-07-02T13:49:47Z"),
	OK(DT, "2024-07-02T13:49:47,25Z", "2024-07-02T13:49:47.250000Z"),
	OK(DT, "Thu, 11 Dec 2025 00:00:00 GMT", "2025-12-11T00:00:00Z"),
	OK(DT, "Thu, 11 Dec 2025 23:30:00 -0500", "2025-12-12T04:30:00Z"),
	OK(DT, "1609459200", "2021-01-01T00:00:00Z"),
	OK(DT, "1609459200.25", "2021-01-01T00:00:00.250000Z"),
	OK(DT, "1609459200123", "2021-01-01T00:00:00.123000Z"),
	OK(DT, "1609459200123.5", "2021-01-01T00:00:00.123500Z"),
	OK(DT, "20200102030459", "2020-01-02T03:04:59Z"),
	OK(DT, "20200102T030459+0100", "2020-01-02T02:04:59Z"),
	OK(DT, "02/01/2020 03:04", "2020-01-02T03:04:00Z"),
	OK(DT, "02/01/2020 12:04 am", "2020-01-02T00:04:00Z"),
	OK(DT, "02/01/2020 12:04 PM", "2020-01-02T12:04:00Z"),
	OK(DT, "2009/03/30 00:00:00+00", "2009-03-30T00:00:00Z"),
	OK(DT, "2020-01-02 03:04:59 UTC", "2020-01-02T03:04:59Z"),
	OK(DT, "2020", "2020-01-01T00:00:00Z"),
	OK(DT, "1799-12-31T01:30:00+01:00", "1799-12-31T00:30:00Z"),
	BAD(DT, "1799-12-31T00:30:00+01:00", DP_ISSUE_FAR_PAST_DATE),
	BAD(DT, "1799-12-30", DP_ISSUE_FAR_PAST_DATE),
	BAD(DT, "2080-01-01T00:00:00Z", DP_ISSUE_FAR_FUTURE_DATE),
	BAD(DT, "2019-02-29T00:00:00Z", DP_ISSUE_INVALID_DATETIME),
	BAD(DT, "foo", DP_ISSUE_INVALID_DATETIME),
	BAD(DT, "2020-01-02T03:04:59+0", DP_ISSUE_INVALID_DATETIME),
	BAD(DT, "2020-01-02T03:04:59 CET", DP_ISSUE_INVALID_DATETIME),
	OK(DT, "", ""),

	/* ---- decimal: digital-land test_decimal.py ---- */
	OK(DEC, "00034.33520000", "34.3352"),
	BAD(DEC, "foo", DP_ISSUE_INVALID_DECIMAL),
	OK(DEC, "1200.00", "1200"),
	OK(DEC, "1,200.00", "1200"),
	OK(DEC, "\xc2\xa3" "1,200.00", "1200"),
	OK(DEC, "3.1415926535897932384626433832795028841971", "3.141593"),
	/* ---- decimal: more ---- */
	OK(DEC, "1,200.50", "1200.5"),
	OK(DEC, "$12", "12"),
	OK(DEC, "\xe2\x82\xac" "-3.5", "-3.5"),
	OK(DEC, "-\xc2\xa3" "3.50", "-3.5"),
	OK(DEC, "\xc2\xa3 1,000", "1000"),
	OK(DEC, "1.5e3", "1500"),
	OK(DEC, "1.5E-3", "0.0015"),
	OK(DEC, "-1.5e+2", "-150"),
	OK(DEC, "  42  ", "42"),
	OK(DEC, "-0", "0"),
	OK(DEC, "-0.0000", "0"),
	OK(DEC, "+0.10", "0.1"),
	OK(DEC, "0.1", "0.1"),
	OK(DEC, ".5", "0.5"),
	OK(DEC, "5.", "5"),
	OK(DEC, "0.0000005", "0"),
	OK(DEC, "0.0000015", "0.000002"),
	OK(DEC, "0.0000025", "0.000002"),
	OK(DEC, "0.00000251", "0.000003"),
	OK(DEC, "0.00000049", "0"),
	OK(DEC, "0.0000051", "0.000005"),
	OK(DEC, "-0.0000004", "0"),
	OK(DEC, "2.5000005", "2.5"),
	OK(DEC, "2.5000015", "2.500002"),
	OK(DEC, "9.9999999", "10"),
	OK(DEC, "999.9999995", "1000"),
	OK(DEC, "0.9999995", "1"),
	OK(DEC, "0.0000009", "0.000001"),
	OK(DEC, "1e-7", "0"),
	OK(DEC, "6e-7", "0.000001"),
	OK(DEC, "123456789012345678901234567890.123", "123456789012345678901234567890.123"),
	OK(DEC, "1e20", "100000000000000000000"),
	OK(DEC, "1000e-3", "1"),
	OK(DEC, "0e5", "0"),
	OK(DEC, "12,345,678.9", "12345678.9"),
	OK(DEC, "\"1,000\"", "1000"),
	BAD(DEC, "12.5%", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "1 200", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "1,20", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "1,2345", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "1234,567", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "1.200,50", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "1.2.3", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "1e", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "1e1001", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "1e-1001", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "NaN", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "Infinity", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, ".", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "-", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "+-1", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "0x10", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "\xc2\xa3", DP_ISSUE_INVALID_DECIMAL),
	BAD(DEC, "1_000", DP_ISSUE_INVALID_DECIMAL),
	OK(DEC, "", ""),

	/* ---- integer: digital-land test_integer.py ---- */
	OK(I, "123", "123"),
	OK(I, " 0123 ", "123"),
	BAD(I, "foo", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "12foo", DP_ISSUE_INVALID_INTEGER),
	OK(I, "-1.0", "-1"),
	/* ---- integer: more ---- */
	OK(I, "+7", "7"),
	OK(I, "12.0", "12"),
	OK(I, "12.000", "12"),
	OK(I, "-0", "0"),
	OK(I, "000", "0"),
	OK(I, "9223372036854775807", "9223372036854775807"),
	OK(I, "-9223372036854775808", "-9223372036854775808"),
	OK(I, "00009223372036854775807", "9223372036854775807"),
	BAD(I, "9223372036854775808", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "-9223372036854775809", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "99999999999999999999", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "12.5", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "12.", DP_ISSUE_INVALID_INTEGER),
	BAD(I, ".0", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "1,000", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "1e3", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "1 000", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "\xc2\xa3" "5", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "+", DP_ISSUE_INVALID_INTEGER),
	BAD(I, "--1", DP_ISSUE_INVALID_INTEGER),
	OK(I, "\"42\"", "42"),
	OK(I, "", ""),

	/* ---- flag ---- */
	OK(F, "yes", "true"),
	OK(F, "YES", "true"),
	OK(F, " Yes ", "true"),
	OK(F, "y", "true"),
	OK(F, "true", "true"),
	OK(F, "True", "true"),
	OK(F, "1", "true"),
	OK(F, "t", "true"),
	OK(F, "no", "false"),
	OK(F, "No", "false"),
	OK(F, "n", "false"),
	OK(F, "FALSE", "false"),
	OK(F, "0", "false"),
	OK(F, "f", "false"),
	OK(F, "", ""),
	BAD(F, "maybe", DP_ISSUE_INVALID_FLAG),
	BAD(F, "ye", DP_ISSUE_INVALID_FLAG),
	BAD(F, "yess", DP_ISSUE_INVALID_FLAG),
	BAD(F, "2", DP_ISSUE_INVALID_FLAG),
	BAD(F, "y e s", DP_ISSUE_INVALID_FLAG),

	/* ---- url ---- */
	OK(U, "https://example.com", "https://example.com"),
	OK(U, " https://www.example.com/path?q=1#frag ", "https://www.example.com/path?q=1#frag"),
	OK(U, "https://example.com/a b\n/c", "https://example.com/ab/c"),
	OK(U, "http://localhost:8080/x", "http://localhost:8080/x"),
	OK(U, "http://127.0.0.1/", "http://127.0.0.1/"),
	OK(U, "http://[::1]:80/", "http://[::1]:80/"),
	OK(U, "ftp://user:pass@files.example.org/f.txt", "ftp://user:pass@files.example.org/f.txt"),
	OK(U, "HTTPS://Example.COM/Path", "HTTPS://Example.COM/Path"),
	OK(U, "https://www.planning.data.gov.uk/dataset/conservation-area",
	   "https://www.planning.data.gov.uk/dataset/conservation-area"),
	OK(U, "https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
	OK(U, "https://b\xc3\xbc" "cher.example/", "https://b\xc3\xbc" "cher.example/"),
	OK(U, "https://example.com?x", "https://example.com?x"),
	OK(U, "", ""),
	BAD(U, "example.com", DP_ISSUE_INVALID_URI),
	BAD(U, "www.example.com", DP_ISSUE_INVALID_URI),
	BAD(U, "not a url", DP_ISSUE_INVALID_URI),
	BAD(U, "http://", DP_ISSUE_INVALID_URI),
	BAD(U, "http:///path", DP_ISSUE_INVALID_URI),
	BAD(U, "http://example", DP_ISSUE_INVALID_URI),
	BAD(U, "http://example.c", DP_ISSUE_INVALID_URI),
	BAD(U, "http://example.123", DP_ISSUE_INVALID_URI),
	BAD(U, "http://-bad.com", DP_ISSUE_INVALID_URI),
	BAD(U, "http://a..com", DP_ISSUE_INVALID_URI),
	BAD(U, "http://example.com:99999", DP_ISSUE_INVALID_URI),
	BAD(U, "http://example.com:", DP_ISSUE_INVALID_URI),
	BAD(U, "http://256.1.1.1/", DP_ISSUE_INVALID_URI),
	BAD(U, "mailto:someone@example.com", DP_ISSUE_INVALID_URI),
	BAD(U, "1http://example.com", DP_ISSUE_INVALID_URI),
	BAD(U, "http://exa<mple.com", DP_ISSUE_INVALID_URI),
	BAD(U, "http://example.com/\x01", DP_ISSUE_INVALID_URI),
	BAD(U, "https://example.com/\xc2\xc2\x85\x85", DP_ISSUE_INVALID_URI),
	BAD(U, "https://example.com/\xff", DP_ISSUE_INVALID_URI),
	BAD(U, "https://example.com/\xed\xa0\x80", DP_ISSUE_INVALID_URI),

	/* ---- string ---- */
	OK(S, "  hello   world  ", "hello world"),
	OK(S, "a\tb\nc\r\nd", "a b c d"),
	OK(S, "a\xc2\xa0\xc2\xa0" "b", "a b"),
	OK(S, "\xe2\x80\x83" "em\xe3\x80\x80space", "em space"),
	OK(S, "caf\xc3\xa9", "caf\xc3\xa9"),
	OK(S, "\"quoted\"", "\"quoted\""),
	OK(S, "", ""),
	OK(S, " \t\n ", ""),
	{S, "a\0b", "a b", DP_ISSUE_NONE, 3},
	OK(S, "\xff\xfe bad utf8", "\xff\xfe bad utf8"),

	/* ---- text ---- */
	OK(TX, "  one  two  ", "one two"),
	OK(TX, "line one\nline two", "line one\nline two"),
	OK(TX, "line one  \r\n  line two", "line one\nline two"),
	OK(TX, "para one\n\npara two", "para one\n\npara two"),
	OK(TX, "para one\n \t\n\n\npara two", "para one\n\npara two"),
	OK(TX, "para one\r\n\r\npara two", "para one\n\npara two"),
	OK(TX, "para one\r\rpara two", "para one\n\npara two"),
	OK(TX, "a\xe2\x80\xa9" "b", "a\n\nb"),
	OK(TX, "a\xe2\x80\xa8" "b", "a\nb"),
	OK(TX, "\n\nleading and trailing\n\n", "leading and trailing"),

	/* ---- uuid ---- */
	OK(ID, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	OK(ID, "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	OK(ID, "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	OK(ID, "6ba7b8109dad11d180b400c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	OK(ID, "{6BA7B8109DAD11D180B400C04FD430C8}", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	OK(ID, "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	OK(ID, "URN:UUID:{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	OK(ID, " \"6ba7b810-9dad-11d1-80b4-00c04fd430c8\" ", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	OK(ID, "", ""),
	OK(ID, "6ba7b810-9dad-11d1-80b4-00c04fd430cF", "6ba7b810-9dad-11d1-80b4-00c04fd430cf"),
	OK(ID, "6Ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
	BAD(ID, "6ba7b810-9dad-11d1-80b4-00c04fd430c\xc3\xa9", DP_ISSUE_INVALID_UUID),
	BAD(ID, "6ba7b810-9dad-11d1-80b4-00c04fd430 8", DP_ISSUE_INVALID_UUID),
	BAD(ID, "6ba7b810-9dad-11d1-80b4-00c04fd430c", DP_ISSUE_INVALID_UUID),
	BAD(ID, "6ba7b810-9dad-11d1-80b4-00c04fd430cg", DP_ISSUE_INVALID_UUID),
	BAD(ID, "6ba7b8109-dad-11d1-80b4-00c04fd430c8", DP_ISSUE_INVALID_UUID),
	BAD(ID, "{6ba7b810-9dad-11d1-80b4-00c04fd430c8", DP_ISSUE_INVALID_UUID),
	BAD(ID, "6ba7b810-9dad-11d1-80b4-00c04fd430c8-", DP_ISSUE_INVALID_UUID),
	BAD(ID, "not-a-uuid", DP_ISSUE_INVALID_UUID),

	/* ---- json ---- */
	OK(J, "{\"a\": 1}", "{\"a\": 1}"),
	OK(J, "  [1, 2, 3]\n", "[1, 2, 3]"),
	OK(J, "\"a string\"", "\"a string\""),
	OK(J, "42", "42"),
	OK(J, "null", "null"),
	OK(J, "{\"big\": 123456789012345678901234567890}", "{\"big\": 123456789012345678901234567890}"),
	OK(J, "", ""),
	BAD(J, "{a: 1}", DP_ISSUE_INVALID_JSON),
	BAD(J, "{\"a\": 1", DP_ISSUE_INVALID_JSON),
	BAD(J, "[1, 2,]", DP_ISSUE_INVALID_JSON),
	BAD(J, "{\"a\": 1} x", DP_ISSUE_INVALID_JSON),
	BAD(J, "NaN", DP_ISSUE_INVALID_JSON),
	BAD(J, "\"\\u0000\"", DP_ISSUE_INVALID_JSON),
	{J, "[1,\0 2]", "", DP_ISSUE_INVALID_JSON, 7},
	{J, "{\"a\": [13\0,\"x\", true]}", "", DP_ISSUE_INVALID_JSON, 22},
};

static int	failures = 0;
static int	checks = 0;

static void
fail(const char *what, const Vec *v, const char *got, DpIssue giss)
{
	failures++;
	printf("not ok - %s: %s(\"", what, dp_datatype_name(v->dt));
	{
		size_t		n = v->len ? v->len : strlen(v->in);
		size_t		k;

		for (k = 0; k < n; k++)
		{
			unsigned char c = (unsigned char) v->in[k];

			if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
				printf("\\x%02x", c);
			else
				putchar(c);
		}
	}
	printf("\") want \"%s\" [%s] got \"%s\" [%s]\n", v->want,
		   v->issue ? dp_issue_name(v->issue) : "none", got,
		   giss ? dp_issue_name(giss) : "none");
}

static DpConstraints
today_only(void)
{
	DpConstraints c;

	memset(&c, 0, sizeof(c));
	c.has_today = true;
	c.today_days = dp_days_from_civil(2026, 11, 22);
	return c;
}

static void
run_vectors(void)
{
	DpConstraints c = today_only();
	size_t		i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
	{
		const Vec  *v = &vectors[i];
		size_t		n = v->len ? v->len : strlen(v->in);
		char		out[512];
		char		again[512];
		DpIssue		iss;
		DpIssue		iss2;
		size_t		r;
		size_t		r2;

		checks++;
		r = dp_harmonise(v->dt, v->in, n, &c, out, sizeof(out), &iss);
		if (iss != v->issue || strcmp(out, v->want) != 0 || r != strlen(out))
		{
			fail("vector", v, out, iss);
			continue;
		}
		/* normalising the output again changes nothing */
		if (iss == DP_ISSUE_NONE && r > 0)
		{
			checks++;
			r2 = dp_harmonise(v->dt, out, r, &c, again, sizeof(again), &iss2);
			if (iss2 != DP_ISSUE_NONE || r2 != r || strcmp(again, out) != 0)
				fail("idempotence", v, again, iss2);
		}
	}
}

/* ---- constraints ---- */

static void
expect(const char *what, DpDatatype dt, const char *in, const DpConstraints *c,
	   const char *want, DpIssue wiss)
{
	char		out[256];
	DpIssue		iss;
	size_t		r;
	Vec			v = {dt, in, want, wiss, 0};

	checks++;
	r = dp_harmonise(dt, in, strlen(in), c, out, sizeof(out), &iss);
	if (iss != wiss || strcmp(out, want) != 0 || r != strlen(want))
		fail(what, &v, out, iss);
}

static void
run_constraints(void)
{
	DpConstraints c;
	DpPattern  *re = malloc(dp_pattern_size());
	char		err[128];
	static const char *const codes[] = {
		"conservation-area", "Article-4-Direction", "tree", "listed building"
	};

	/* digital-land test_decimal.py: minimum 35, maximum 69 */
	memset(&c, 0, sizeof(c));
	c.minimum = "35";
	c.maximum = "69";
	expect("decimal range", DEC, "38.3", &c, "38.3", DP_ISSUE_NONE);
	expect("decimal range", DEC, "34.3", &c, "", DP_ISSUE_TOO_SMALL);
	expect("decimal range", DEC, "69.9", &c, "", DP_ISSUE_TOO_LARGE);
	expect("decimal range", DEC, "69", &c, "69", DP_ISSUE_NONE);
	expect("decimal range", DEC, "35.0000", &c, "35", DP_ISSUE_NONE);
	expect("decimal range", DEC, "69.0000001", &c, "69", DP_ISSUE_NONE);
	expect("decimal range", DEC, "69.0000006", &c, "", DP_ISSUE_TOO_LARGE);
	expect("decimal range", DEC, "foo", &c, "", DP_ISSUE_INVALID_DECIMAL);
	expect("decimal range", DEC, "", &c, "", DP_ISSUE_NONE);
	/* digital-land test_integer.py: minimum 35, maximum 68 */
	c.maximum = "68";
	expect("integer range", I, "38", &c, "38", DP_ISSUE_NONE);
	expect("integer range", I, "34", &c, "", DP_ISSUE_TOO_SMALL);
	expect("integer range", I, "69", &c, "", DP_ISSUE_TOO_LARGE);
	expect("integer range", I, "68.0", &c, "68", DP_ISSUE_NONE);
	/* decimal bounds, negative numbers, exponents */
	c.minimum = "-1.5";
	c.maximum = "1e3";
	expect("bounds", DEC, "-1.5", &c, "-1.5", DP_ISSUE_NONE);
	expect("bounds", DEC, "-1.50001", &c, "", DP_ISSUE_TOO_SMALL);
	expect("bounds", DEC, "-2", &c, "", DP_ISSUE_TOO_SMALL);
	expect("bounds", DEC, "1000", &c, "1000", DP_ISSUE_NONE);
	expect("bounds", DEC, "1,000.000001", &c, "", DP_ISSUE_TOO_LARGE);
	expect("bounds", DEC, "-0", &c, "0", DP_ISSUE_NONE);
	expect("bounds", I, "-1", &c, "-1", DP_ISSUE_NONE);
	expect("bounds", I, "-2", &c, "", DP_ISSUE_TOO_SMALL);
	expect("bounds", I, "9223372036854775807", &c, "", DP_ISSUE_TOO_LARGE);
	c.minimum = "0";
	c.maximum = NULL;
	expect("minimum 0", DEC, "-1", &c, "", DP_ISSUE_TOO_SMALL);
	expect("minimum 0", DEC, "-0.0000001", &c, "0", DP_ISSUE_NONE);
	expect("minimum 0", DEC, "0.0000001", &c, "0", DP_ISSUE_NONE);
	c.minimum = "0.000001";
	expect("minimum tiny", DEC, "0.0000004", &c, "", DP_ISSUE_TOO_SMALL);
	c.minimum = "not a number";
	expect("bad bound ignored", DEC, "-5", &c, "-5", DP_ISSUE_NONE);
	/* bounds do not apply to other datatypes */
	c.minimum = "100";
	expect("bounds on string", S, "5", &c, "5", DP_ISSUE_NONE);

	/* pattern: unanchored ERE on the normalised value */
	memset(&c, 0, sizeof(c));
	checks++;
	if (dp_pattern_compile(re, "([a-z]", err, sizeof(err)) || err[0] == '\0')
	{
		printf("not ok - bad pattern accepted\n");
		failures++;
	}
	if (!dp_pattern_compile(re, "^[A-Z]{2}[0-9]+$", err, sizeof(err)))
	{
		printf("not ok - pattern compile: %s\n", err);
		failures++;
		return;
	}
	c.pattern = re;
	expect("pattern", S, "  AB123 ", &c, "AB123", DP_ISSUE_NONE);
	expect("pattern", S, "AB12X", &c, "", DP_ISSUE_INVALID_PATTERN);
	expect("pattern", S, "", &c, "", DP_ISSUE_NONE);
	dp_pattern_free(re);
	dp_pattern_compile(re, "[0-9]", NULL, 0);
	expect("pattern unanchored", S, "abc1def", &c, "abc1def", DP_ISSUE_NONE);
	expect("pattern unanchored", S, "abcdef", &c, "", DP_ISSUE_INVALID_PATTERN);
	expect("pattern on date", D, "02/01/2020", &c, "2020-01-02", DP_ISSUE_NONE);
	dp_pattern_free(re);
	dp_pattern_compile(re, "^[0-9]{4}-01-", NULL, 0);
	expect("pattern on normalised date", D, "02/01/2020", &c, "2020-01-02", DP_ISSUE_NONE);
	expect("pattern on normalised date", D, "02/03/2020", &c, "", DP_ISSUE_INVALID_PATTERN);
	dp_pattern_free(re);

	/* codelist */
	memset(&c, 0, sizeof(c));
	c.codelist = codes;
	c.ncodelist = 4;
	expect("codelist", S, "conservation-area", &c, "conservation-area", DP_ISSUE_NONE);
	expect("codelist", S, "Conservation Area", &c, "conservation-area", DP_ISSUE_NONE);
	expect("codelist", S, "  CONSERVATION   area ", &c, "conservation-area", DP_ISSUE_NONE);
	expect("codelist", S, "conservation_area", &c, "conservation-area", DP_ISSUE_NONE);
	expect("codelist", S, "article 4 direction", &c, "Article-4-Direction", DP_ISSUE_NONE);
	expect("codelist", S, "Listed-Building", &c, "listed building", DP_ISSUE_NONE);
	expect("codelist", S, "TREE", &c, "tree", DP_ISSUE_NONE);
	expect("codelist", S, "trees", &c, "", DP_ISSUE_INVALID_CATEGORY_VALUE);
	expect("codelist", S, "tre", &c, "", DP_ISSUE_INVALID_CATEGORY_VALUE);
	expect("codelist", S, "conservationarea", &c, "", DP_ISSUE_INVALID_CATEGORY_VALUE);
	expect("codelist", S, "", &c, "", DP_ISSUE_NONE);
	/* lengths, in characters, on the normalised value */
	{
		DpConstraints lc;

		memset(&lc, 0, sizeof(lc));
		lc.min_length = 2;
		lc.max_length = 4;
		lc.has_max_length = true;
		expect("min_length", S, "a", &lc, "", DP_ISSUE_TOO_SHORT);
		expect("min_length", S, "  ab  ", &lc, "ab", DP_ISSUE_NONE);
		expect("max_length", S, "abcd", &lc, "abcd", DP_ISSUE_NONE);
		expect("max_length", S, "abcde", &lc, "", DP_ISSUE_TOO_LONG);
		expect("max_length utf-8", S, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", &lc,
			   "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", DP_ISSUE_NONE);
		expect("length of empty", S, "", &lc, "", DP_ISSUE_NONE);
		lc.has_max_length = false;
		expect("no max_length", S, "abcdefgh", &lc, "abcdefgh", DP_ISSUE_NONE);
		lc.max_length = 0;
		lc.has_max_length = true;
		lc.min_length = 0;
		expect("max_length 0", S, "a", &lc, "", DP_ISSUE_TOO_LONG);
	}
	/* codelist then pattern */
	dp_pattern_compile(re, "^[a-z -]+$", NULL, 0);
	c.pattern = re;
	expect("codelist+pattern", S, "TREE", &c, "tree", DP_ISSUE_NONE);
	expect("codelist+pattern", S, "article 4 direction", &c, "", DP_ISSUE_INVALID_PATTERN);
	dp_pattern_free(re);
	free(re);

	/* far-future only checked when today is given */
	expect("no today", D, "9999-12-31", NULL, "9999-12-31", DP_ISSUE_NONE);
	expect("no today", DT, "9999-12-31T23:59:59-01:00", NULL, "", DP_ISSUE_INVALID_DATETIME);
	c = today_only();
	c.today_days = dp_days_from_civil(2024, 2, 29);		/* cutoff 2074-02-28 */
	expect("leap today", D, "2074-02-28", &c, "2074-02-28", DP_ISSUE_NONE);
	expect("leap today", D, "2074-03-01", &c, "", DP_ISSUE_FAR_FUTURE_DATE);
	c.today_days = 2000000000;	/* absurd: clamped, must not crash */
	expect("absurd today", D, "2020-01-01", &c, "2020-01-01", DP_ISSUE_NONE);
	c.today_days = -2000000000;
	expect("absurd today", D, "2020-01-01", &c, "", DP_ISSUE_FAR_FUTURE_DATE);
}

/* ---- buffer sizes (snprintf contract) ---- */

static void
run_buffers(void)
{
	char		small[8];
	char		big[64];
	DpIssue		iss;
	size_t		r;
	static const char *const codes[] = {"a-much-longer-canonical-code"};
	DpConstraints c;

	checks++;
	r = dp_harmonise(DP_DT_DATE, "02/01/2020", 10, NULL, NULL, 0, &iss);
	if (r != 10 || iss != DP_ISSUE_NONE)
	{
		printf("not ok - NULL/0 buffer: r=%zu\n", r);
		failures++;
	}
	checks++;
	r = dp_harmonise(DP_DT_DATE, "02/01/2020", 10, NULL, small, sizeof(small), &iss);
	if (r != 10 || strcmp(small, "2020-01") != 0)
	{
		printf("not ok - truncation: r=%zu out=%s\n", r, small);
		failures++;
	}
	checks++;
	r = dp_harmonise(DP_DT_DATE, "02/01/2020", 10, NULL, small, 1, &iss);
	if (r != 10 || small[0] != '\0')
	{
		printf("not ok - cap 1\n");
		failures++;
	}
	checks++;
	r = dp_harmonise(DP_DT_DATE, "foo", 3, NULL, small, sizeof(small), &iss);
	if (r != 0 || small[0] != '\0' || iss != DP_ISSUE_INVALID_DATE)
	{
		printf("not ok - issue clears output\n");
		failures++;
	}
	/* grow loop with a codelist canonical longer than the value */
	memset(&c, 0, sizeof(c));
	c.codelist = codes;
	c.ncodelist = 1;
	checks++;
	{
		size_t		cap = 4;

		for (;;)
		{
			r = dp_harmonise(DP_DT_STRING, "A Much Longer Canonical Code", 28, &c,
							 big, cap, &iss);
			if (r < cap)
				break;
			cap = r + 1;
		}
		if (iss != DP_ISSUE_NONE || strcmp(big, codes[0]) != 0)
		{
			printf("not ok - grow loop: %s\n", big);
			failures++;
		}
	}
	/* NULL input pointer with zero length */
	checks++;
	r = dp_harmonise(DP_DT_STRING, NULL, 0, NULL, big, sizeof(big), &iss);
	if (r != 0 || big[0] != '\0' || iss != DP_ISSUE_NONE)
	{
		printf("not ok - NULL input\n");
		failures++;
	}
}

/*
 * The far-future cutoff (50 years after today, the 29th of February
 * becoming the 28th) for a "today" every 7 days over years 1800..9949: the
 * cutoff passes and the day after it does not; a day 18,250 days after
 * today (the check's shortcut) always passes.  Also the far-past limit.
 */
static void
run_far_future(void)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	DpConstraints c;
	int32_t		today;
	int			bad = 0;

	memset(&c, 0, sizeof(c));
	c.has_today = true;
	for (today = dp_days_from_civil(1800, 1, 1); today <= dp_days_from_civil(9949, 12, 31) && bad < 3;
		 today += 7)
	{
		int			y,
					m,
					d,
					dim;
		int32_t		cutoff;
		char		in[16];
		char		out[32];
		DpIssue		iss;
		int			k;

		c.today_days = today;
		dp_civil_from_days(today, &y, &m, &d);
		y += 50;
		dim = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
		cutoff = dp_days_from_civil(y, m, d < dim ? d : dim);
		for (k = 0; k < 3; k++)
		{
			int32_t		day = k == 0 ? cutoff : k == 1 ? cutoff + 1 : today + 18250;
			int			yy,
						mm,
						dd;

			dp_civil_from_days(day, &yy, &mm, &dd);
			snprintf(in, sizeof(in), "%04d-%02d-%02d", yy, mm, dd);
			checks++;
			dp_harmonise(DP_DT_DATE, in, strlen(in), &c, out, sizeof(out), &iss);
			if ((k == 1) != (iss == DP_ISSUE_FAR_FUTURE_DATE) ||
				(k != 1 && strcmp(out, in) != 0))
			{
				printf("not ok - far future: today %d, %s -> \"%s\" (%d)\n", (int) today, in, out, (int) iss);
				failures++;
				bad++;
			}
		}
	}
	checks++;
	if (dp_days_from_civil(1799, 12, 31) != -62092 || dp_days_from_civil(1, 1, 1) != -719162 ||
		dp_days_from_civil(9999, 12, 31) != 2932896)
	{
		printf("not ok - the calendar constants of harmonise_date.c\n");
		failures++;
	}
	c.today_days = dp_days_from_civil(2026, 11, 22);
	expect("far past", D, "1799-12-31", &c, "1799-12-31", DP_ISSUE_NONE);
	expect("far past", D, "1799-12-30", &c, "", DP_ISSUE_FAR_PAST_DATE);
}

/*
 * Every cap from 0 to past the value's length: the return value is the
 * whole length and out holds the prefix that fits (the writers' fast
 * paths copy in one go only what fits whole).
 */
static void
run_truncation(void)
{
	static const struct
	{
		DpDatatype	dt;
		const char *in;
		const char *want;
	}			cases[] = {
		{DP_DT_UUID, "{6BA7B810-9DAD-11D1-80B4-00C04FD430C8}", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{DP_DT_UUID, "6ba7b8109dad11d180b400c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{DP_DT_UUID, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{DP_DT_STRING, "  Needs   review,\tsee\xc2\xa0" "file 12  ", "Needs review, see file 12"},
		{DP_DT_TEXT, "line one\r\nline two\n\n\nthree\xe2\x80\xa9" "four", "line one\nline two\n\nthree\n\nfour"},
		{DP_DT_STRING, "abc\xc3\xa9\xe2\x82\xac def", "abc\xc3\xa9\xe2\x82\xac def"},
		{DP_DT_INTEGER, "  -00123  ", "-123"},
		{DP_DT_DATETIME, "2024-01-01 00:00:00+01", "2023-12-31T23:00:00Z"},
		{DP_DT_DATE, " 2 Jan 2020 \xe3\x80\x80", "2020-01-02"},
		{DP_DT_DATE, "'\"2020-01-02\",\xc2\x85", "2020-01-02"},
		{DP_DT_FLAG, "\xef\xbb\xbf yes ,", "true"},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		size_t		want = strlen(cases[i].want);
		size_t		cap;

		for (cap = 0; cap <= want + 2; cap++)
		{
			char		out[128];
			DpIssue		iss;
			size_t		r;

			memset(out, 'x', sizeof(out));
			r = dp_harmonise(cases[i].dt, cases[i].in, strlen(cases[i].in), NULL,
							 cap ? out : NULL, cap, &iss);
			checks++;
			if (r != want || iss != DP_ISSUE_NONE ||
				(cap > 0 && (strlen(out) != (cap - 1 < want ? cap - 1 : want) ||
							 strncmp(out, cases[i].want, strlen(out)) != 0)) ||
				(cap > 0 && out[cap] != 'x'))
			{
				printf("not ok - truncation of \"%s\" at cap %zu: r=%zu\n", cases[i].in, cap, r);
				failures++;
			}
		}
	}
}

/* The same output and issue for two spellings (a fast path against the general one). */
static void
same_as(const char *what, DpDatatype dt, const char *fast, const char *general,
		const DpConstraints *c)
{
	char		a[64],
				b[64];
	DpIssue		ia,
				ib;

	checks++;
	dp_harmonise(dt, fast, strlen(fast), c, a, sizeof(a), &ia);
	dp_harmonise(dt, general, strlen(general), c, b, sizeof(b), &ib);
	if (ia != ib || strcmp(a, b) != 0)
	{
		printf("not ok - %s: \"%s\" -> \"%s\" [%d], \"%s\" -> \"%s\" [%d]\n",
			   what, fast, a, (int) ia, general, b, (int) ib);
		failures++;
	}
}

/*
 * The canonical spellings that date, datetime and integer write back
 * without the general reader (YYYY-MM-DD; YYYY-MM-DD HH:MM:SS[.F] in UTC;
 * plain digits) give what the general reader gives for another spelling
 * of the same value, over years, months 0..13, days 0..32, times at and
 * past their limits, fractions and zones, with today set (far-past and
 * far-future issues) and without.
 */
static void
run_canonical(void)
{
	static const int years[] = {0, 1, 999, 1799, 1800, 1900, 1970, 2000, 2024, 2076, 2077, 9999};
	static const char *const times[] = {"00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "07:08:09"};
	static const char *const fracs[] = {"", ".5", ".000000", ".123456", ".1234567", ".", ".12a"};
	static const char *const zones[] = {"Z", "+00", "+00:00", "z", "+01", "-00", "+0000", " Z", ""};
	static const char *const ints[] = {"0", "7", "42", "-42", "123456789012345678", "-123456789012345678",
	"999999999999999999", "1234567890123456789", "9223372036854775807", "-9223372036854775808"};
	DpConstraints today;
	size_t		yi;
	int			m,
				d;
	char		fast[64],
				general[64];

	memset(&today, 0, sizeof(today));
	today.has_today = true;
	today.today_days = dp_days_from_civil(2026, 11, 22);
	for (yi = 0; yi < sizeof(years) / sizeof(years[0]); yi++)
		for (m = 0; m <= 13; m++)
			for (d = 0; d <= 32; d++)
			{
				snprintf(fast, sizeof(fast), "%04d-%02d-%02d", years[yi], m, d);
				snprintf(general, sizeof(general), "%04d/%02d/%02d", years[yi], m, d);
				same_as("canonical date", DP_DT_DATE, fast, general, &today);
				same_as("canonical date", DP_DT_DATE, fast, general, NULL);
				if (d % 7 == 1 || d >= 28)
				{
					size_t		ti,
								fi,
								zi;

					for (ti = 0; ti < sizeof(times) / sizeof(times[0]); ti++)
						for (fi = 0; fi < sizeof(fracs) / sizeof(fracs[0]); fi++)
							for (zi = 0; zi < sizeof(zones) / sizeof(zones[0]); zi++)
							{
								snprintf(fast, sizeof(fast), "%04d-%02d-%02d%c%s%s%s", years[yi], m, d,
										 (ti + zi) % 2 ? 'T' : ' ', times[ti], fracs[fi], zones[zi]);
								snprintf(general, sizeof(general), "%04d/%02d/%02d %s%s %s", years[yi], m, d,
										 times[ti], fracs[fi], zones[zi]);
								same_as("canonical datetime", DP_DT_DATETIME, fast, general, &today);
							}
				}
			}
	for (yi = 0; yi < sizeof(ints) / sizeof(ints[0]); yi++)
	{
		const char *v = ints[yi];

		snprintf(general, sizeof(general), "%s0%s", v[0] == '-' ? "-" : "+", v + (v[0] == '-'));
		same_as("canonical integer", DP_DT_INTEGER, v, general, NULL);
		same_as("canonical integer", DP_DT_INTEGER, v, general, &today);
	}
}

/* ---- catalogue and calendar ---- */

static void
run_catalogue(void)
{
	int			i;
	int32_t		days;

	checks++;
	if (dp_issue_name(DP_ISSUE_NONE) != NULL || dp_issue_name(DP_ISSUE_COUNT) != NULL ||
		dp_issue_severity((DpIssue) -1) != NULL)
	{
		printf("not ok - catalogue bounds\n");
		failures++;
	}
	for (i = 1; i < DP_ISSUE_COUNT; i++)
	{
		DpIssue		back;
		const char *sev = dp_issue_severity((DpIssue) i);

		checks++;
		if (!dp_issue_name((DpIssue) i) || !sev || !dp_issue_description((DpIssue) i) ||
			!(strcmp(sev, "error") == 0 || strcmp(sev, "warning") == 0 ||
			  strcmp(sev, "info") == 0) ||
			!dp_issue_lookup(dp_issue_name((DpIssue) i), &back) || back != (DpIssue) i)
		{
			printf("not ok - catalogue entry %d\n", i);
			failures++;
		}
	}
	checks++;
	if (strcmp(dp_issue_name(DP_ISSUE_INVALID_DATE), "invalid date") != 0 ||
		strcmp(dp_issue_name(DP_ISSUE_FAR_PAST_DATE), "far-past-date") != 0 ||
		strcmp(dp_issue_name(DP_ISSUE_INVALID_URI), "invalid URI") != 0 ||
		dp_issue_lookup("no such issue", NULL))
	{
		printf("not ok - catalogue names\n");
		failures++;
	}

	checks++;
	if (dp_days_from_civil(1970, 1, 1) != 0 || dp_days_from_civil(2000, 3, 1) != 11017 ||
		dp_days_from_civil(1969, 12, 31) != -1 || dp_days_from_civil(2026, 11, 22) != 20779)
	{
		printf("not ok - days_from_civil\n");
		failures++;
	}
	for (days = dp_days_from_civil(1, 1, 1); days <= dp_days_from_civil(9999, 12, 31); days += 13)
	{
		int			y;
		int			m;
		int			d;

		dp_civil_from_days(days, &y, &m, &d);
		if (!dp_valid_date(y, m, d) || dp_days_from_civil(y, m, d) != days)
		{
			printf("not ok - calendar round trip at %d\n", (int) days);
			failures++;
			break;
		}
	}
	checks++;
	if (dp_valid_date(2019, 2, 29) || !dp_valid_date(2000, 2, 29) ||
		dp_valid_date(1900, 2, 29) || dp_valid_date(0, 1, 1) || dp_valid_date(10000, 1, 1))
	{
		printf("not ok - valid_date\n");
		failures++;
	}
}

int
main(void)
{
	run_vectors();
	run_constraints();
	run_buffers();
	run_far_future();
	run_truncation();
	run_canonical();
	run_catalogue();
	printf("%s - %d checks, %d failures\n", failures ? "FAIL" : "ok", checks, failures);
	return failures ? 1 : 0;
}
