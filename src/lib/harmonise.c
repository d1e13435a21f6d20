/*
 * harmonise.c
 *		Value normalisation for the dataplatform extension.
 *
 * Owns: dp_harmonise() (the entry point: trimming, the dispatch by
 * datatype, then the codelist and pattern constraints on the normalised
 * value), white space and UTF-8 checks, the string, text, flag, uuid, url
 * and json datatypes, and the issue-type catalogue strings.  Decimal and
 * integer are in harmonise_number.c, date and datetime (and the calendar
 * helpers) in harmonise_date.c; the output writer and character classes
 * they all share are in harmonise_int.h.
 *
 * Pure C: no PostgreSQL backend calls, no global mutable state, no malloc
 * (except inside jansson for the json datatype).  Every parser works on
 * (pointer, length) and never reads outside it.  Output goes through a
 * small bounded writer (DpOut) that counts what it could not store, which
 * gives dp_harmonise its snprintf-like return value.
 *
 * Input is assumed to be UTF-8 (for the Unicode white space and currency
 * symbols); other bytes pass through untouched where a datatype keeps text.
 */
#include <string.h>
#include <jansson.h>

#include "harmonise.h"
#include "harmonise_int.h"

/* ----------------------------------------------------------------------
 * Issue catalogue
 * ---------------------------------------------------------------------- */

typedef struct DpIssueInfo
{
	const char *name;
	const char *severity;
	const char *description;
} DpIssueInfo;

static const DpIssueInfo issue_info[DP_ISSUE_COUNT] = {
	[DP_ISSUE_NONE] = {NULL, NULL, NULL},
	[DP_ISSUE_INVALID_DATE] = {"invalid date", "error",
	"It was not possible to process the field as a date value."},
	[DP_ISSUE_INVALID_DATETIME] = {"invalid datetime", "error",
	"It was not possible to process the field as a date and time value."},
	[DP_ISSUE_FAR_PAST_DATE] = {"far-past-date", "error",
	"The date is before 1799-12-31, the date considered to be the far past."},
	[DP_ISSUE_FAR_FUTURE_DATE] = {"far-future-date", "error",
	"The date is more than 50 years after today, the date considered to be the far future."},
	[DP_ISSUE_INVALID_DECIMAL] = {"invalid decimal", "error",
	"It was not possible to process the field as a decimal number."},
	[DP_ISSUE_INVALID_INTEGER] = {"invalid integer", "error",
	"It was not possible to process the field as a 64-bit integer value."},
	[DP_ISSUE_INVALID_FLAG] = {"invalid flag", "error",
	"It was not possible to process the field as a yes or no value."},
	[DP_ISSUE_INVALID_URI] = {"invalid URI", "error",
	"It was not possible to process the field as a URI with a scheme and a host."},
	[DP_ISSUE_INVALID_UUID] = {"invalid uuid", "error",
	"It was not possible to process the field as a UUID."},
	[DP_ISSUE_INVALID_JSON] = {"invalid json", "error",
	"It was not possible to parse the field as JSON."},
	[DP_ISSUE_TOO_SMALL] = {"too small", "error",
	"The number was less than the minimum value allowed for the field."},
	[DP_ISSUE_TOO_LARGE] = {"too large", "error",
	"The number was greater than the maximum value allowed for the field."},
	[DP_ISSUE_INVALID_PATTERN] = {"invalid pattern", "error",
	"The value does not match the pattern required for the field."},
	[DP_ISSUE_INVALID_CATEGORY_VALUE] = {"invalid category value", "error",
	"The category value given is not recognised."},
	[DP_ISSUE_TOO_SHORT] = {"too short", "error",
	"The value has fewer characters than the field's min_length."},
	[DP_ISSUE_TOO_LONG] = {"too long", "error",
	"The value has more characters than the field's max_length."},
};

const char *
dp_issue_name(DpIssue issue)
{
	if ((int) issue <= (int) DP_ISSUE_NONE || (int) issue >= (int) DP_ISSUE_COUNT)
		return NULL;
	return issue_info[issue].name;
}

const char *
dp_issue_severity(DpIssue issue)
{
	if ((int) issue <= (int) DP_ISSUE_NONE || (int) issue >= (int) DP_ISSUE_COUNT)
		return NULL;
	return issue_info[issue].severity;
}

const char *
dp_issue_description(DpIssue issue)
{
	if ((int) issue <= (int) DP_ISSUE_NONE || (int) issue >= (int) DP_ISSUE_COUNT)
		return NULL;
	return issue_info[issue].description;
}

bool
dp_issue_lookup(const char *name, DpIssue *issue)
{
	int			i;

	if (name == NULL)
		return false;
	for (i = 1; i < DP_ISSUE_COUNT; i++)
	{
		if (strcmp(issue_info[i].name, name) == 0)
		{
			if (issue)
				*issue = (DpIssue) i;
			return true;
		}
	}
	return false;
}

/* ----------------------------------------------------------------------
 * White space, UTF-8 and trimming
 * ---------------------------------------------------------------------- */

/*
 * White space: ASCII space, \t \n \v \f \r, NUL, and the UTF-8 encodings of
 * U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F,
 * U+3000 and the byte-order mark U+FEFF.  Returns the byte length of the
 * white-space character starting at p, or 0.
 */
static size_t
ws_len(const unsigned char *p, const unsigned char *end)
{
	size_t		avail = (size_t) (end - p);

	if (avail == 0)
		return 0;
	switch (p[0])
	{
		case ' ':
		case '\t':
		case '\n':
		case '\v':
		case '\f':
		case '\r':
		case '\0':
			return 1;
		case 0xC2:
			return (avail >= 2 && (p[1] == 0x85 || p[1] == 0xA0)) ? 2 : 0;
		case 0xE1:
			return (avail >= 3 && p[1] == 0x9A && p[2] == 0x80) ? 3 : 0;
		case 0xE2:
			if (avail < 3)
				return 0;
			if (p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8A) ||
								 p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
				return 3;
			if (p[1] == 0x81 && p[2] == 0x9F)
				return 3;
			return 0;
		case 0xE3:
			return (avail >= 3 && p[1] == 0x80 && p[2] == 0x80) ? 3 : 0;
		case 0xEF:
			return (avail >= 3 && p[1] == 0xBB && p[2] == 0xBF) ? 3 : 0;
		default:
			return 0;
	}
}

/* The bytes that can start a white-space character of ws_len. */
static const bool ws_first_byte[256] = {
	[' '] = true, ['\t'] = true, ['\n'] = true, ['\v'] = true, ['\f'] = true,
	['\r'] = true, ['\0'] = true, [0xC2] = true, [0xE1] = true, [0xE2] = true,
	[0xE3] = true, [0xEF] = true
};

/* Length of a white-space character ending just before p (>= start), or 0. */
static size_t
ws_len_back(const unsigned char *start, const unsigned char *p)
{
	size_t		avail = (size_t) (p - start);

	if (avail == 0)
		return 0;
	if (ws_len(p - 1, p) == 1)
		return 1;
	if (avail >= 2 && ws_len(p - 2, p) == 2)
		return 2;
	if (avail >= 3 && ws_len(p - 3, p) == 3)
		return 3;
	return 0;
}

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF). */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t		i = 0;

	while (i < n)
	{
		unsigned char c = s[i];
		size_t		need;
		unsigned char lo = 0x80;
		unsigned char hi = 0xBF;
		size_t		k;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			need = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			need = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		}
		else
			return false;
		if (n - i <= need)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (k = 2; k <= need; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return false;
		i += need + 1;
	}
	return true;
}

/* Extra characters "value" trimming removes: stray quotes and commas. */
static inline bool
is_stray(unsigned char c)
{
	return c == '"' || c == '\'' || c == ',';
}

/*
 * Trim white space (and, when strays is set, quotes and commas) from both
 * ends of [*s, *s + *n).
 */
void
dp_harmonise_trim(const unsigned char **s, size_t *n, bool strays)
{
	const unsigned char *p = *s;
	const unsigned char *e = *s + *n;
	size_t		k;

	while (p < e)
	{
		/* the common case first: a byte that starts neither */
		if (!ws_first_byte[*p] && !(strays && is_stray(*p)))
			break;
		if ((k = ws_len(p, e)) > 0)
			p += k;
		else if (strays && is_stray(*p))
			p++;
		else
			break;
	}
	while (e > p)
	{
		/* an ASCII byte ends white space only if it is white space itself */
		if (e[-1] < 0x80 && !ws_first_byte[e[-1]] && !(strays && is_stray(e[-1])))
			break;
		if ((k = ws_len_back(p, e)) > 0)
			e -= k;
		else if (strays && is_stray(e[-1]))
			e--;
		else
			break;
	}
	*s = p;
	*n = (size_t) (e - p);
}

/* ----------------------------------------------------------------------
 * string and text
 * ---------------------------------------------------------------------- */

/*
 * string: every run of white space becomes one space.
 * text: a run holding one line break becomes "\n", a run holding two or
 * more (a blank line, a paragraph break) becomes "\n\n", any other run one
 * space.  CR LF and lone CR count as one line break, U+2028 as one and
 * U+2029 (paragraph separator) as two.
 */
static void
norm_string(const unsigned char *s, size_t n, bool keep_lines, DpOut *o)
{
	const unsigned char *p = s;
	const unsigned char *e = s + n;

	while (p < e)
	{
		const unsigned char *q = p;
		size_t		k;

		/* a run of bytes none of which can start white space: one copy */
		while (q < e && !ws_first_byte[*q])
			q++;
		if (q > p)
		{
			out_s(o, (const char *) p, (size_t) (q - p));
			p = q;
			continue;
		}
		k = ws_len(p, e);
		if (k == 0)
		{
			out_c(o, (char) *p++);
			continue;
		}
		else
		{
			int			breaks = 0;

			while (p < e && (k = ws_len(p, e)) > 0)
			{
				if (*p == '\n')
					breaks++;
				else if (*p == '\r')
				{
					breaks++;
					if (p + 1 < e && p[1] == '\n')
						k = 2;
				}
				else if (k == 3 && p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0xA8)
					breaks++;
				else if (k == 3 && p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0xA9)
					breaks += 2;
				p += k;
			}
			if (!keep_lines || breaks == 0)
				out_c(o, ' ');
			else if (breaks == 1)
				out_c(o, '\n');
			else
				out_s(o, "\n\n", 2);
		}
	}
}

/* ----------------------------------------------------------------------
 * flag
 * ---------------------------------------------------------------------- */

static DpIssue
norm_flag(const unsigned char *s, size_t n, DpOut *o)
{
	static const char *const yes[] = {"yes", "y", "true", "t", "1", NULL};
	static const char *const no[] = {"no", "n", "false", "f", "0", NULL};
	int			i;

	for (i = 0; yes[i]; i++)
	{
		if (word_eq(s, n, yes[i]))
		{
			out_s(o, "true", 4);
			return DP_ISSUE_NONE;
		}
	}
	for (i = 0; no[i]; i++)
	{
		if (word_eq(s, n, no[i]))
		{
			out_s(o, "false", 5);
			return DP_ISSUE_NONE;
		}
	}
	return DP_ISSUE_INVALID_FLAG;
}

/* ----------------------------------------------------------------------
 * uuid
 * ---------------------------------------------------------------------- */

/* hex_value as a table lookup: -1 for a byte that is not a hex digit */
#define DP_HEX_ROW(b) \
	(b) >= '0' && (b) <= '9' ? (b) - '0' : \
	(b) >= 'a' && (b) <= 'f' ? (b) - 'a' + 10 : \
	(b) >= 'A' && (b) <= 'F' ? (b) - 'A' + 10 : -1
#define DP_HEX_4(b) DP_HEX_ROW(b), DP_HEX_ROW((b) + 1), DP_HEX_ROW((b) + 2), DP_HEX_ROW((b) + 3)
#define DP_HEX_16(b) DP_HEX_4(b), DP_HEX_4((b) + 4), DP_HEX_4((b) + 8), DP_HEX_4((b) + 12)
#define DP_HEX_64(b) DP_HEX_16(b), DP_HEX_16((b) + 16), DP_HEX_16((b) + 32), DP_HEX_16((b) + 48)
const signed char dp_hex_table[256] = {
	DP_HEX_64(0), DP_HEX_64(64), DP_HEX_64(128), DP_HEX_64(192)
};
#undef DP_HEX_64
#undef DP_HEX_16
#undef DP_HEX_4
#undef DP_HEX_ROW

/*
 * [urn:uuid:] ['{'] 32 hex digits, either bare or hyphenated 8-4-4-4-12
 * ['}'] (braces only as a pair) -> lower-case 8-4-4-4-12.
 */
static DpIssue
norm_uuid(const unsigned char *s, size_t n, DpOut *o)
{
	static const char hexdig[] = "0123456789abcdef";
	unsigned char hex[32];
	size_t		i = 0;
	size_t		nh = 0;
	size_t		k;
	bool		hyphens;

	if (n >= 9 && word_eq(s, 9, "urn:uuid:"))
	{
		s += 9;
		n -= 9;
	}
	if (n >= 2 && s[0] == '{' && s[n - 1] == '}')
	{
		s++;
		n -= 2;
	}
	if (n == 32)
		hyphens = false;
	else if (n == 36)
		hyphens = true;
	else
		return DP_ISSUE_INVALID_UUID;
	if (hyphens && (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-'))
		return DP_ISSUE_INVALID_UUID;
	if (hyphens)
	{
		/* already canonical (lower-case hex): the output is the input */
		bool		lower = true;

		for (i = 0; i < 36; i++)
			lower &= (i == 8 || i == 13 || i == 18 || i == 23) ||
				(dp_hex_table[s[i]] >= 0 && !(s[i] >= 'A' && s[i] <= 'F'));
		if (lower)
		{
			out_s(o, (const char *) s, 36);
			return DP_ISSUE_NONE;
		}
	}
	for (i = 0; i < n; i++)
	{
		int			h;

		if (hyphens && (i == 8 || i == 13 || i == 18 || i == 23))
			continue;
		if ((h = dp_hex_table[s[i]]) < 0)
			return DP_ISSUE_INVALID_UUID;
		hex[nh++] = (unsigned char) h;
	}
	if (o->len + 36 < o->cap)
	{
		/* it fits: write the 36 characters in place */
		char	   *w = o->buf + o->len;

		for (k = 0; k < 32; k++)
		{
			if (k == 8 || k == 12 || k == 16 || k == 20)
				*w++ = '-';
			*w++ = hexdig[hex[k]];
		}
		o->len += 36;
		return DP_ISSUE_NONE;
	}
	for (k = 0; k < 32; k++)
	{
		if (k == 8 || k == 12 || k == 16 || k == 20)
			out_c(o, '-');
		out_c(o, hexdig[hex[k]]);
	}
	return DP_ISSUE_NONE;
}

/* ----------------------------------------------------------------------
 * url
 * ---------------------------------------------------------------------- */

#define DP_MAX_AUTHORITY 512

static bool
valid_ipv4(const unsigned char *h, size_t n)
{
	size_t		i = 0;
	int			parts;

	for (parts = 0; parts < 4; parts++)
	{
		size_t		nd = count_digits(h, n, i);

		if (nd < 1 || nd > 3 || digits_value(h, i, nd) > 255)
			return false;
		i += nd;
		if (parts < 3)
		{
			if (i >= n || h[i] != '.')
				return false;
			i++;
		}
	}
	return i == n;
}

static bool
all_digits(const unsigned char *s, size_t n)
{
	return n > 0 && count_digits(s, n, 0) == n;
}

/* A DNS name with at least two labels and an alphabetic (or IDN) TLD. */
static bool
valid_hostname(const unsigned char *h, size_t n)
{
	size_t		i = 0;
	size_t		labels = 0;
	size_t		start;

	if (n == 0 || n > 253)
		return false;
	if (word_eq(h, n, "localhost"))
		return true;
	if (all_digits(h, 1) && valid_ipv4(h, n))
		return true;
	while (i <= n)
	{
		size_t		len;
		bool		tld_ok = true;
		size_t		k;

		start = i;
		while (i < n && h[i] != '.')
		{
			if (!(is_alnum(h[i]) || h[i] == '-' || h[i] == '_' || h[i] >= 0x80))
				return false;
			i++;
		}
		len = i - start;
		if (len == 0 || len > 63 || h[start] == '-' || h[i - 1] == '-')
			return false;
		labels++;
		if (i == n)
		{
			/* the TLD */
			if (len < 2)
				return false;
			if (!(len > 4 && word_eq(h + start, 4, "xn--")))
			{
				for (k = start; k < n; k++)
					if (!(is_alpha(h[k]) || h[k] >= 0x80))
						tld_ok = false;
			}
			return tld_ok && labels >= 2;
		}
		i++;					/* the dot */
	}
	return false;
}

/* [userinfo@] (host | '[' v6 ']') [':' port] */
static bool
valid_authority(const unsigned char *a, size_t n)
{
	size_t		at = n;
	size_t		i;
	size_t		hs;
	size_t		he;

	for (i = 0; i < n; i++)
		if (a[i] == '@')
			at = i;
	hs = (at == n) ? 0 : at + 1;
	if (hs < n && a[hs] == '[')
	{
		size_t		colons = 0;

		for (i = hs + 1; i < n && a[i] != ']'; i++)
		{
			if (a[i] == ':')
				colons++;
			else if (!(hex_value(a[i]) >= 0 || a[i] == '.'))
				return false;
		}
		if (i >= n || colons < 2)
			return false;
		he = i + 1;
	}
	else
	{
		he = hs;
		while (he < n && a[he] != ':')
			he++;
		if (!valid_hostname(a + hs, he - hs))
			return false;
	}
	if (he == n)
		return true;
	if (a[he] != ':')
		return false;
	i = he + 1;
	return n - i >= 1 && n - i <= 5 && all_digits(a + i, n - i) &&
		digits_value(a, i, n - i) <= 65535;
}

/*
 * url: every white-space character removed (not only at the ends), then
 * scheme "://" authority [path, query, fragment].  The value is kept as
 * given otherwise (no case folding, no percent-encoding changes).
 */
static DpIssue
norm_url(const unsigned char *s, size_t n, DpOut *o)
{
	unsigned char auth[DP_MAX_AUTHORITY];
	size_t		nauth = 0;
	const unsigned char *p = s;
	const unsigned char *e = s + n;
	int			phase = 0;		/* 0 scheme, 1 '/', 2 '/', 3 authority, 4
								 * rest */
	size_t		nscheme = 0;

	/*
	 * Reject malformed UTF-8 first: removing white space from it could glue
	 * bytes into new white space and break idempotence.
	 */
	if (!utf8_valid(s, n))
		return DP_ISSUE_INVALID_URI;
	while (p < e)
	{
		size_t		k = ws_len(p, e);
		unsigned char c;

		if (k > 0)
		{
			p += k;
			continue;
		}
		c = *p++;
		if (c < 0x20 || c == 0x7F)
			return DP_ISSUE_INVALID_URI;
		out_c(o, (char) c);
		switch (phase)
		{
			case 0:
				if (c == ':' && nscheme > 0)
					phase = 1;
				else if (nscheme == 0 ? is_alpha(c) :
						 (is_alnum(c) || c == '+' || c == '-' || c == '.'))
					nscheme++;
				else
					return DP_ISSUE_INVALID_URI;
				break;
			case 1:
			case 2:
				if (c != '/')
					return DP_ISSUE_INVALID_URI;
				phase++;
				break;
			case 3:
				if (c == '/' || c == '?' || c == '#')
					phase = 4;
				else if (nauth < DP_MAX_AUTHORITY)
					auth[nauth++] = c;
				else
					return DP_ISSUE_INVALID_URI;
				break;
			default:
				break;
		}
	}
	if (phase < 3 || !valid_authority(auth, nauth))
		return DP_ISSUE_INVALID_URI;
	return DP_ISSUE_NONE;
}

/* ----------------------------------------------------------------------
 * json
 * ---------------------------------------------------------------------- */

/*
 * json: must parse as one JSON value (scalars allowed; integers too big for
 * jansson's json_int_t are read as reals rather than rejected).  Kept as
 * given, trimmed.
 */
static DpIssue
norm_json(const unsigned char *s, size_t n, DpOut *o)
{
	json_error_t err;
	json_t	   *j;

	/* jansson lets some raw NUL bytes through; JSON text never has them */
	if (memchr(s, '\0', n) != NULL)
		return DP_ISSUE_INVALID_JSON;
	j = json_loadb((const char *) s, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
	if (j == NULL)
		return DP_ISSUE_INVALID_JSON;
	json_decref(j);
	out_s(o, (const char *) s, n);
	return DP_ISSUE_NONE;
}

/* ----------------------------------------------------------------------
 * constraints on the normalised value
 * ---------------------------------------------------------------------- */

static inline unsigned char
code_fold(unsigned char c)
{
	if (c == ' ' || c == '_')
		return '-';
	return to_lower(c);
}

/* Index of the codelist entry matching v[0..n), or -1. */
static int
codelist_match(const char *v, size_t n, const char *const *list, int nlist)
{
	int			i;

	for (i = 0; i < nlist; i++)
	{
		const char *code = list[i];
		size_t		k;

		if (code == NULL)
			continue;
		for (k = 0; k < n; k++)
		{
			if (code[k] == '\0' ||
				code_fold((unsigned char) code[k]) != code_fold((unsigned char) v[k]))
				break;
		}
		if (k == n && code[n] == '\0')
			return i;
	}
	return -1;
}

/* ----------------------------------------------------------------------
 * Entry point
 * ---------------------------------------------------------------------- */

size_t
dp_harmonise(DpDatatype dt, const char *in, size_t len,
			 const DpConstraints *c, char *out, size_t outcap, DpIssue *issue)
{
	return dp_harmonise_noted(dt, in, len, c, out, outcap, issue, NULL);
}

/* Characters in a UTF-8 string: bytes that do not start a sequence's continuation. */
static int64_t
utf8_chars(const char *s, size_t len)
{
	int64_t		n = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

size_t
dp_harmonise_noted(DpDatatype dt, const char *in, size_t len,
				   const DpConstraints *c, char *out, size_t outcap, DpIssue *issue,
				   unsigned *notes)
{
	const unsigned char *s = (const unsigned char *) in;
	size_t		n = len;
	DpOut		o;
	DpIssue		iss = DP_ISSUE_NONE;
	bool		strays;

	o.buf = out;
	o.cap = (out == NULL) ? 0 : outcap;
	o.len = 0;
	o.notes = 0;

	if (s == NULL)
		n = 0;
	strays = !(dt == DP_DT_STRING || dt == DP_DT_TEXT || dt == DP_DT_JSON ||
			   dt == DP_DT_URL);
	dp_harmonise_trim(&s, &n, strays);

	if (n > 0)
	{
		switch (dt)
		{
			case DP_DT_STRING:
				norm_string(s, n, false, &o);
				break;
			case DP_DT_TEXT:
				norm_string(s, n, true, &o);
				break;
			case DP_DT_INTEGER:
				iss = dp_harmonise_norm_integer(s, n, c, &o);
				break;
			case DP_DT_DECIMAL:
				iss = dp_harmonise_norm_decimal(s, n, c, &o);
				break;
			case DP_DT_FLAG:
				iss = norm_flag(s, n, &o);
				break;
			case DP_DT_DATE:
				iss = dp_harmonise_norm_date(s, n, c, &o);
				break;
			case DP_DT_DATETIME:
				iss = dp_harmonise_norm_datetime(s, n, c, &o);
				break;
			case DP_DT_URL:
				iss = norm_url(s, n, &o);
				break;
			case DP_DT_UUID:
				iss = norm_uuid(s, n, &o);
				break;
			case DP_DT_JSON:
				iss = norm_json(s, n, &o);
				break;
			default:
				/* unknown datatype: treat as string */
				norm_string(s, n, false, &o);
				break;
		}
	}

	/*
	 * codelist, then pattern (on the final, canonical value); both need the
	 * whole value in the buffer.
	 */
	if (iss == DP_ISSUE_NONE && c != NULL && o.len > 0 && o.len < o.cap &&
		c->codelist != NULL && c->ncodelist > 0)
	{
		int			k;

		out_finish(&o);
		k = codelist_match(o.buf, o.len, c->codelist, c->ncodelist);
		if (k < 0)
			iss = DP_ISSUE_INVALID_CATEGORY_VALUE;
		else
		{
			o.len = 0;
			out_s(&o, c->codelist[k], strlen(c->codelist[k]));
		}
	}
	if (iss == DP_ISSUE_NONE && c != NULL && o.len > 0 && o.len < o.cap &&
		c->pattern != NULL)
	{
		out_finish(&o);
		if (!dp_pattern_match(c->pattern, o.buf))
			iss = DP_ISSUE_INVALID_PATTERN;
	}

	if (iss == DP_ISSUE_NONE && c != NULL && o.len > 0 && o.len < o.cap &&
		(c->min_length > 0 || c->has_max_length))
	{
		int64_t		chars = utf8_chars(o.buf, o.len);

		if (chars < c->min_length)
			iss = DP_ISSUE_TOO_SHORT;
		else if (c->has_max_length && c->max_length >= 0 && chars > c->max_length)
			iss = DP_ISSUE_TOO_LONG;
	}

	if (iss != DP_ISSUE_NONE)
	{
		o.len = 0;
		o.notes = 0;
	}
	out_finish(&o);
	if (issue)
		*issue = iss;
	if (notes)
		*notes = o.notes;
	return o.len;
}
