/*
 * harmonise.c
 *		Value normalisation for the dataplatform extension.
 *
 * Owns: dp_harmonise() and everything it needs -- trimming, the per-datatype
 * parsers and formatters (string, text, integer, decimal, flag, date,
 * datetime, url, uuid, json), the constraint checks (minimum, maximum,
 * pattern, codelist), the issue-type catalogue strings and the calendar
 * helpers.
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
 * Calendar (proleptic Gregorian, days since 1970-01-01)
 * ---------------------------------------------------------------------- */

int32_t
dp_days_from_civil(int year, int month, int day)
{
	int32_t		y = year - (month <= 2);
	int32_t		era = (y >= 0 ? y : y - 399) / 400;
	int32_t		yoe = y - era * 400;
	int32_t		doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int32_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void
dp_civil_from_days(int32_t days, int *year, int *month, int *day)
{
	int32_t		z = days + 719468;
	int32_t		era = (z >= 0 ? z : z - 146096) / 146097;
	int32_t		doe = z - era * 146097;
	int32_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int32_t		y = yoe + era * 400;
	int32_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int32_t		mp = (5 * doy + 2) / 153;
	int32_t		d = doy - (153 * mp + 2) / 5 + 1;
	int32_t		m = mp < 10 ? mp + 3 : mp - 9;

	*year = (int) (y + (m <= 2));
	*month = (int) m;
	*day = (int) d;
}

static int
days_in_month(int year, int month)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return mdays[month - 1];
}

bool
dp_valid_date(int year, int month, int day)
{
	if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1)
		return false;
	return day <= days_in_month(year, month);
}

/* ----------------------------------------------------------------------
 * Bounded output writer
 * ---------------------------------------------------------------------- */

typedef struct DpOut
{
	char	   *buf;
	size_t		cap;
	size_t		len;			/* bytes the value needs so far */
	unsigned	notes;			/* DP_NOTE_* about how the value was read */
} DpOut;

static inline void
out_c(DpOut *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void
out_s(DpOut *o, const char *s, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		out_c(o, s[i]);
}

/* Unsigned number, zero-padded to at least width digits. */
static void
out_u(DpOut *o, uint64_t v, int width)
{
	char		tmp[24];
	int			n = 0;

	do
	{
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < 20);
	while (n < width && n < 20)
		tmp[n++] = '0';
	while (n > 0)
		out_c(o, tmp[--n]);
}

/* NUL-terminate what fitted. */
static void
out_finish(DpOut *o)
{
	if (o->cap == 0)
		return;
	o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
}

/* ----------------------------------------------------------------------
 * Character classes (ASCII only, locale independent)
 * ---------------------------------------------------------------------- */

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_alnum(unsigned char c)
{
	return is_digit(c) || is_alpha(c);
}

static inline unsigned char
to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char) (c + 32) : c;
}

static inline int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = to_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

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
static void
trim(const unsigned char **s, size_t *n, bool strays)
{
	const unsigned char *p = *s;
	const unsigned char *e = *s + *n;
	size_t		k;

	while (p < e)
	{
		if ((k = ws_len(p, e)) > 0)
			p += k;
		else if (strays && is_stray(*p))
			p++;
		else
			break;
	}
	while (e > p)
	{
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

/* Case-insensitive ASCII compare of s[0..n) with the lower-case word w. */
static bool
word_eq(const unsigned char *s, size_t n, const char *w)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if (w[i] == '\0' || to_lower(s[i]) != (unsigned char) w[i])
			return false;
	}
	return w[n] == '\0';
}

/* Count digits at s[i..n). */
static size_t
count_digits(const unsigned char *s, size_t n, size_t i)
{
	size_t		j = i;

	while (j < n && is_digit(s[j]))
		j++;
	return j - i;
}

/* Value of nd (<= 18) digits at s[i]. */
static int64_t
digits_value(const unsigned char *s, size_t i, size_t nd)
{
	int64_t		v = 0;
	size_t		k;

	for (k = 0; k < nd; k++)
		v = v * 10 + (s[i + k] - '0');
	return v;
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
		size_t		k = ws_len(p, e);

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
 * decimal and integer: exact decimal-string arithmetic
 * ---------------------------------------------------------------------- */

#define DP_DECIMAL_PLACES	6
#define DP_MAX_EXPONENT		1000

/*
 * A parsed decimal: logical digits are the integer-part digits (which may be
 * interleaved with thousands commas in strict groups of three) followed by
 * the fraction digits; value = (-1)^neg * digits * 10^(exp - nfrac).
 */
typedef struct DpDec
{
	const unsigned char *s;
	size_t		ipos;			/* start of the integer part in s */
	size_t		g0;				/* digits before the first comma */
	size_t		nint;			/* integer digits */
	size_t		fpos;			/* start of the fraction digits in s */
	size_t		nfrac;			/* fraction digits */
	int64_t		exp;			/* explicit exponent */
	bool		neg;
} DpDec;

static inline int
dec_digit(const DpDec *d, size_t i)
{
	if (i < d->nint)
	{
		size_t		j;

		if (i < d->g0)
			return d->s[d->ipos + i] - '0';
		j = i - d->g0;
		return d->s[d->ipos + d->g0 + (j / 3) * 4 + 1 + j % 3] - '0';
	}
	return d->s[d->fpos + (i - d->nint)] - '0';
}

/*
 * Parse [sign] [currency [spaces]] [sign] mantissa [exponent], where the
 * currency is one of $, £ (U+00A3), € (U+20AC).  With "integer_only" the
 * grammar is [sign] digits [. 0+] and nothing else.
 */
static bool
parse_decimal(const unsigned char *s, size_t n, bool integer_only, DpDec *d)
{
	size_t		i = 0;
	bool		have_sign = false;

	memset(d, 0, sizeof(*d));
	d->s = s;
	if (i < n && (s[i] == '+' || s[i] == '-'))
	{
		d->neg = (s[i] == '-');
		have_sign = true;
		i++;
	}
	if (!integer_only)
	{
		size_t		cur = 0;

		if (i < n && s[i] == '$')
			cur = 1;
		else if (i + 1 < n && s[i] == 0xC2 && s[i + 1] == 0xA3)
			cur = 2;
		else if (i + 2 < n && s[i] == 0xE2 && s[i + 1] == 0x82 && s[i + 2] == 0xAC)
			cur = 3;
		if (cur > 0)
		{
			i += cur;
			while (i < n && s[i] == ' ')
				i++;
			if (!have_sign && i < n && (s[i] == '+' || s[i] == '-'))
			{
				d->neg = (s[i] == '-');
				i++;
			}
		}
	}

	/* integer part, with optional strict thousands grouping */
	d->ipos = i;
	d->g0 = count_digits(s, n, i);
	d->nint = d->g0;
	i += d->g0;
	if (!integer_only && i < n && s[i] == ',')
	{
		if (d->g0 < 1 || d->g0 > 3)
			return false;
		while (i < n && s[i] == ',')
		{
			if (count_digits(s, n, i + 1) != 3)
				return false;
			d->nint += 3;
			i += 4;
		}
	}

	/* fraction */
	d->fpos = i;
	if (i < n && s[i] == '.')
	{
		i++;
		d->fpos = i;
		d->nfrac = count_digits(s, n, i);
		i += d->nfrac;
		if (integer_only)
		{
			size_t		k;

			if (d->nfrac == 0)
				return false;
			for (k = 0; k < d->nfrac; k++)
				if (s[d->fpos + k] != '0')
					return false;
		}
	}
	if (d->nint + d->nfrac == 0)
		return false;

	/* exponent */
	if (!integer_only && i < n && (s[i] == 'e' || s[i] == 'E'))
	{
		bool		eneg = false;
		size_t		nd;
		size_t		k;
		int64_t		ev = 0;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
		{
			eneg = (s[i] == '-');
			i++;
		}
		nd = count_digits(s, n, i);
		if (nd == 0)
			return false;
		for (k = 0; k < nd; k++)
		{
			ev = ev * 10 + (s[i + k] - '0');
			if (ev > DP_MAX_EXPONENT)
				return false;
		}
		i += nd;
		d->exp = eneg ? -ev : ev;
	}
	return i == n;
}

/*
 * A decimal result to print or compare: digits are positions
 * first .. first+len-1 of the DpDec, except that the last one is replaced
 * by "last" when last >= 0; value = digits * 10^scale.  len == 0 is zero.
 */
typedef struct DpDecView
{
	const DpDec *d;
	size_t		first;
	size_t		len;
	int			last;
	int64_t		scale;
	bool		neg;
	bool		one;			/* value is the single digit 1 (carry out) */
} DpDecView;

static inline int
view_digit(const DpDecView *v, size_t k)
{
	if (v->one)
		return 1;
	if (k + 1 == v->len && v->last >= 0)
		return v->last;
	return dec_digit(v->d, v->first + k);
}

/*
 * Build the view of d, rounded half-even to DP_DECIMAL_PLACES places when
 * round is set, with leading and trailing zeros removed.
 */
static void
dec_view(const DpDec *d, bool round, DpDecView *v)
{
	int64_t		n = (int64_t) (d->nint + d->nfrac);
	int64_t		scale = d->exp - (int64_t) d->nfrac;
	int64_t		first = 0;
	int64_t		keep_end;
	int64_t		j;

	memset(v, 0, sizeof(*v));
	v->d = d;
	v->last = -1;
	v->neg = d->neg;

	while (first < n && dec_digit(d, (size_t) first) == 0)
		first++;
	if (first == n)
		goto zero;

	keep_end = n + scale + DP_DECIMAL_PLACES;
	if (!round || keep_end >= n)
	{
		/* exact: strip trailing zeros */
		j = n - 1;
		while (dec_digit(d, (size_t) j) == 0)
			j--;
		v->first = (size_t) first;
		v->len = (size_t) (j - first + 1);
		v->scale = scale + (n - 1 - j);
		return;
	}
	if (keep_end < 0)
		goto zero;
	else
	{
		int			rd = dec_digit(d, (size_t) keep_end);
		int			lastkept = keep_end > 0 ? dec_digit(d, (size_t) keep_end - 1) : 0;
		bool		sticky = false;
		bool		up;

		for (j = keep_end + 1; j < n && !sticky; j++)
			sticky = dec_digit(d, (size_t) j) != 0;
		up = rd > 5 || (rd == 5 && (sticky || (lastkept & 1)));
		if (keep_end < first)
		{
			/* every significant digit dropped; only digit rd can round */
			if (!up)
				goto zero;
			v->one = true;
			v->len = 1;
			v->scale = -DP_DECIMAL_PLACES;
			return;
		}
		if (up)
		{
			j = keep_end - 1;
			while (j >= first && dec_digit(d, (size_t) j) == 9)
				j--;
			if (j < first)
			{
				v->one = true;
				v->len = 1;
				v->scale = -DP_DECIMAL_PLACES + (keep_end - first);
				return;
			}
			v->first = (size_t) first;
			v->len = (size_t) (j - first + 1);
			v->last = dec_digit(d, (size_t) j) + 1;
			v->scale = -DP_DECIMAL_PLACES + (keep_end - 1 - j);
			return;
		}
		j = keep_end - 1;
		while (j >= first && dec_digit(d, (size_t) j) == 0)
			j--;
		if (j < first)
			goto zero;
		v->first = (size_t) first;
		v->len = (size_t) (j - first + 1);
		v->scale = -DP_DECIMAL_PLACES + (keep_end - 1 - j);
		return;
	}

zero:
	v->len = 0;
	v->one = false;
	v->neg = false;
	v->scale = 0;
}

static void
out_view(DpOut *o, const DpDecView *v)
{
	int64_t		point;
	int64_t		k;

	if (v->len == 0)
	{
		out_c(o, '0');
		return;
	}
	if (v->neg)
		out_c(o, '-');
	point = (int64_t) v->len + v->scale;	/* digits before the point */
	if (v->scale >= 0)
	{
		for (k = 0; k < (int64_t) v->len; k++)
			out_c(o, (char) ('0' + view_digit(v, (size_t) k)));
		for (k = 0; k < v->scale; k++)
			out_c(o, '0');
	}
	else if (point > 0)
	{
		for (k = 0; k < (int64_t) v->len; k++)
		{
			if (k == point)
				out_c(o, '.');
			out_c(o, (char) ('0' + view_digit(v, (size_t) k)));
		}
	}
	else
	{
		out_s(o, "0.", 2);
		for (k = 0; k < -point; k++)
			out_c(o, '0');
		for (k = 0; k < (int64_t) v->len; k++)
			out_c(o, (char) ('0' + view_digit(v, (size_t) k)));
	}
}

/* Compare two views: -1, 0, 1. */
static int
view_cmp(const DpDecView *a, const DpDecView *b)
{
	int			sa = a->len == 0 ? 0 : (a->neg ? -1 : 1);
	int			sb = b->len == 0 ? 0 : (b->neg ? -1 : 1);
	int64_t		ea;
	int64_t		eb;
	size_t		k;
	size_t		maxlen;
	int			mag = 0;

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	/* place of the leading digit */
	ea = (int64_t) a->len - 1 + a->scale;
	eb = (int64_t) b->len - 1 + b->scale;
	if (ea != eb)
		mag = ea < eb ? -1 : 1;
	else
	{
		maxlen = a->len > b->len ? a->len : b->len;
		for (k = 0; k < maxlen && mag == 0; k++)
		{
			int			da = k < a->len ? view_digit(a, k) : 0;
			int			db = k < b->len ? view_digit(b, k) : 0;

			if (da != db)
				mag = da < db ? -1 : 1;
		}
	}
	return sa > 0 ? mag : -mag;
}

/* Check a value view against the caller's bounds. */
static DpIssue
check_bounds(const DpDecView *v, const DpConstraints *c)
{
	DpDec		bd;
	DpDecView	bv;
	const unsigned char *bs;
	size_t		bn;

	if (c == NULL)
		return DP_ISSUE_NONE;
	if (c->minimum)
	{
		bs = (const unsigned char *) c->minimum;
		bn = strlen(c->minimum);
		trim(&bs, &bn, true);
		if (parse_decimal(bs, bn, false, &bd))
		{
			dec_view(&bd, false, &bv);
			if (view_cmp(v, &bv) < 0)
				return DP_ISSUE_TOO_SMALL;
		}
	}
	if (c->maximum)
	{
		bs = (const unsigned char *) c->maximum;
		bn = strlen(c->maximum);
		trim(&bs, &bn, true);
		if (parse_decimal(bs, bn, false, &bd))
		{
			dec_view(&bd, false, &bv);
			if (view_cmp(v, &bv) > 0)
				return DP_ISSUE_TOO_LARGE;
		}
	}
	return DP_ISSUE_NONE;
}

static DpIssue
norm_decimal(const unsigned char *s, size_t n, const DpConstraints *c, DpOut *o)
{
	DpDec		d;
	DpDecView	v;
	DpIssue		iss;

	if (!parse_decimal(s, n, false, &d))
		return DP_ISSUE_INVALID_DECIMAL;
	dec_view(&d, true, &v);
	if ((iss = check_bounds(&v, c)) != DP_ISSUE_NONE)
		return iss;
	out_view(o, &v);
	return DP_ISSUE_NONE;
}

static DpIssue
norm_integer(const unsigned char *s, size_t n, const DpConstraints *c, DpOut *o)
{
	static const char int64_max[] = "9223372036854775807";
	DpDec		d;
	DpDecView	v;
	DpIssue		iss;
	size_t		first = 0;
	size_t		sig;

	if (!parse_decimal(s, n, true, &d) || d.nint == 0)
		return DP_ISSUE_INVALID_INTEGER;
	while (first < d.nint && s[d.ipos + first] == '0')
		first++;
	sig = d.nint - first;
	if (sig > 19)
		return DP_ISSUE_INVALID_INTEGER;
	if (sig == 19)
	{
		int			cmp = memcmp(s + d.ipos + first, int64_max, 19);

		/* -9223372036854775808 is the one value one above int64_max */
		if (cmp > 0 && !(d.neg && memcmp(s + d.ipos + first, "9223372036854775808", 19) == 0))
			return DP_ISSUE_INVALID_INTEGER;
	}
	dec_view(&d, false, &v);
	if ((iss = check_bounds(&v, c)) != DP_ISSUE_NONE)
		return iss;
	if (sig == 0)
		out_c(o, '0');
	else
	{
		if (d.neg)
			out_c(o, '-');
		out_s(o, (const char *) s + d.ipos + first, sig);
	}
	return DP_ISSUE_NONE;
}

/* ----------------------------------------------------------------------
 * date and datetime
 * ---------------------------------------------------------------------- */

typedef struct DpStamp
{
	int			year;
	int			month;
	int			day;
	int			hour;
	int			minute;
	int			second;
	int32_t		usec;
	int32_t		tzoff;			/* seconds east of UTC */
	bool		swapped;		/* day and month were read the other way round */
} DpStamp;

/* Two-digit years as Python's %y: 69..99 -> 19xx, 00..68 -> 20xx. */
static inline int
pivot_year(int yy)
{
	return yy >= 69 ? 1900 + yy : 2000 + yy;
}

static int
month_lookup(const unsigned char *s, size_t n)
{
	static const char *const names[12] = {
		"january", "february", "march", "april", "may", "june", "july",
		"august", "september", "october", "november", "december"
	};
	int			m;

	if (n < 3)
		return 0;
	for (m = 0; m < 12; m++)
	{
		if (n == 3)
		{
			if (to_lower(s[0]) == names[m][0] && to_lower(s[1]) == names[m][1] &&
				to_lower(s[2]) == names[m][2])
				return m + 1;
		}
		else if (word_eq(s, n, names[m]))
			return m + 1;
	}
	if (word_eq(s, n, "sept"))
		return 9;
	return 0;
}

static bool
is_weekday(const unsigned char *s, size_t n)
{
	static const char *const names[7] = {
		"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
	};
	int			i;

	for (i = 0; i < 7; i++)
	{
		if (n == 3 && to_lower(s[0]) == names[i][0] &&
			to_lower(s[1]) == names[i][1] && to_lower(s[2]) == names[i][2])
			return true;
		if (word_eq(s, n, names[i]))
			return true;
	}
	return false;
}

static size_t
alpha_len(const unsigned char *s, size_t n, size_t i)
{
	size_t		j = i;

	while (j < n && is_alpha(s[j]))
		j++;
	return j - i;
}

/* Skip an English ordinal suffix ("st", "nd", "rd", "th") after a day. */
static size_t
skip_ordinal(const unsigned char *s, size_t n, size_t i)
{
	if (alpha_len(s, n, i) == 2 &&
		(word_eq(s + i, 2, "st") || word_eq(s + i, 2, "nd") ||
		 word_eq(s + i, 2, "rd") || word_eq(s + i, 2, "th")))
		return i + 2;
	return i;
}

/*
 * Optional time of day and zone after a date, from s[i] to the end:
 *	('T' | [','] ' '+) (H[H]:MM[:SS[(.|,)F+]] | HHMM[SS][.F+]) [' '* (AM|PM)]
 *	[' '* (Z | UTC | GMT | UT)] [' '* (+|-)HH[[:]MM]]
 */
static bool
parse_time_tail(const unsigned char *s, size_t n, size_t i, DpStamp *st)
{
	size_t		nd;
	size_t		j;
	int			hh;
	int			mi;
	int			ss = 0;
	int32_t		usec = 0;
	int32_t		tz = 0;
	bool		have_seconds = false;

	if (i >= n)
		return true;
	if (s[i] == 'T' || s[i] == 't')
		i++;
	else
	{
		bool		sep = false;

		if (s[i] == ',')
		{
			i++;
			sep = true;
		}
		while (i < n && s[i] == ' ')
		{
			i++;
			sep = true;
		}
		if (!sep)
			return false;
	}

	nd = count_digits(s, n, i);
	if ((nd == 4 || nd == 6) && (i + nd == n || s[i + nd] != ':'))
	{
		hh = (int) digits_value(s, i, 2);
		mi = (int) digits_value(s, i + 2, 2);
		if (nd == 6)
		{
			ss = (int) digits_value(s, i + 4, 2);
			have_seconds = true;
		}
		i += nd;
	}
	else if (nd == 1 || nd == 2)
	{
		hh = (int) digits_value(s, i, nd);
		i += nd;
		if (i >= n || s[i] != ':' || count_digits(s, n, i + 1) != 2)
			return false;
		mi = (int) digits_value(s, i + 1, 2);
		i += 3;
		if (i < n && s[i] == ':')
		{
			if (count_digits(s, n, i + 1) != 2)
				return false;
			ss = (int) digits_value(s, i + 1, 2);
			i += 3;
			have_seconds = true;
		}
	}
	else
		return false;

	/* fractional seconds: any number of digits, truncated to microseconds */
	if (have_seconds && i + 1 < n && (s[i] == '.' || s[i] == ',') && is_digit(s[i + 1]))
	{
		size_t		k;

		i++;
		nd = count_digits(s, n, i);
		for (k = 0; k < 6; k++)
			usec = usec * 10 + (k < nd ? s[i + k] - '0' : 0);
		i += nd;
	}

	/* AM / PM */
	j = i;
	while (j < n && s[j] == ' ')
		j++;
	if (j + 1 < n && (to_lower(s[j]) == 'a' || to_lower(s[j]) == 'p') &&
		to_lower(s[j + 1]) == 'm' && (j + 2 == n || !is_alpha(s[j + 2])))
	{
		if (hh < 1 || hh > 12)
			return false;
		hh = hh % 12 + (to_lower(s[j]) == 'p' ? 12 : 0);
		i = j + 2;
	}

	/* zone name */
	j = i;
	while (j < n && s[j] == ' ')
		j++;
	if (j < n && (s[j] == 'Z' || s[j] == 'z') && j + 1 == n)
		i = j + 1;
	else if (j < n && is_alpha(s[j]))
	{
		size_t		al = alpha_len(s, n, j);

		if (!(word_eq(s + j, al, "utc") || word_eq(s + j, al, "gmt") ||
			  word_eq(s + j, al, "ut")))
			return false;
		i = j + al;
	}

	/* numeric offset */
	j = i;
	while (j < n && s[j] == ' ')
		j++;
	if (j < n && (s[j] == '+' || s[j] == '-'))
	{
		bool		neg = (s[j] == '-');
		int			oh;
		int			om = 0;

		j++;
		nd = count_digits(s, n, j);
		if (nd == 4)
		{
			oh = (int) digits_value(s, j, 2);
			om = (int) digits_value(s, j + 2, 2);
			j += 4;
		}
		else if (nd == 2)
		{
			oh = (int) digits_value(s, j, 2);
			j += 2;
			if (j < n && s[j] == ':')
			{
				if (count_digits(s, n, j + 1) != 2)
					return false;
				om = (int) digits_value(s, j + 1, 2);
				j += 3;
			}
		}
		else
			return false;
		if (oh > 23 || om > 59)
			return false;
		tz = (oh * 3600 + om * 60) * (neg ? -1 : 1);
		i = j;
	}

	if (i != n)
		return false;
	if (hh > 23 || mi > 59 || ss > 59)
		return false;
	st->hour = hh;
	st->minute = mi;
	st->second = ss;
	st->usec = usec;
	st->tzoff = tz;
	return true;
}

/* Read a year of exactly 2 or 4 digits at s[*i]. */
static bool
read_year(const unsigned char *s, size_t n, size_t *i, int *year)
{
	size_t		nd = count_digits(s, n, *i);

	if (nd == 4)
		*year = (int) digits_value(s, *i, 4);
	else if (nd == 2)
		*year = pivot_year((int) digits_value(s, *i, 2));
	else
		return false;
	*i += nd;
	return true;
}

/*
 * Day first: D[D][ordinal] sep (M[M] | month-name) sep (YY | YYYY) [time].
 * sep is one of - / . or a run of spaces; with a numeric month both
 * separators must be the same.  A numeric month above 12 with a day of 12
 * or less is read month first (12/13/2020).
 */
static bool
parse_dmy(const unsigned char *s, size_t n, size_t i, DpStamp *st)
{
	size_t		nd = count_digits(s, n, i);
	unsigned char sep;
	int			d;
	int			m;
	bool		textual = false;

	if (nd < 1 || nd > 2)
		return false;
	d = (int) digits_value(s, i, nd);
	i = skip_ordinal(s, n, i + nd);
	if (i >= n)
		return false;
	sep = s[i];
	if (sep == ' ')
		while (i < n && s[i] == ' ')
			i++;
	else if (sep == '-' || sep == '/' || sep == '.')
		i++;
	else
		return false;

	if (i < n && is_alpha(s[i]))
	{
		size_t		al = alpha_len(s, n, i);
		bool		any = false;

		if ((m = month_lookup(s + i, al)) == 0)
			return false;
		textual = true;
		i += al;
		if (i < n && s[i] == '.' && sep != '.')
			i++;
		if (i < n && s[i] == ',')
		{
			i++;
			any = true;
		}
		if (i < n && s[i] == ' ')
		{
			while (i < n && s[i] == ' ')
				i++;
			any = true;
		}
		else if (!any && i < n && (s[i] == '-' || s[i] == '/' || s[i] == '.'))
		{
			i++;
			any = true;
		}
		if (!any)
			return false;
	}
	else
	{
		nd = count_digits(s, n, i);
		if (nd < 1 || nd > 2)
			return false;
		m = (int) digits_value(s, i, nd);
		i += nd;
		if (i >= n || s[i] != sep)
			return false;
		if (sep == ' ')
			while (i < n && s[i] == ' ')
				i++;
		else
			i++;
	}
	if (!read_year(s, n, &i, &st->year))
		return false;
	if (!parse_time_tail(s, n, i, st))
		return false;
	if (!textual && m > 12 && d >= 1 && d <= 12)
	{
		int			t = m;

		m = d;
		d = t;
		st->swapped = true;
	}
	st->month = m;
	st->day = d;
	return true;
}

/*
 * Year first: YYYY sep M[M] [sep D[D] [time]], sep one of - / . or spaces
 * (the same both times).  No day means the first of the month.  A month
 * above 12 with a day of 12 or less is read as YYYY-DD-MM.
 */
static bool
parse_ymd(const unsigned char *s, size_t n, DpStamp *st)
{
	unsigned char sep = s[4];
	size_t		i = 5;
	size_t		nd;
	int			m;
	int			d = 1;

	st->year = (int) digits_value(s, 0, 4);
	if (sep == ' ')
		while (i < n && s[i] == ' ')
			i++;
	nd = count_digits(s, n, i);
	if (nd < 1 || nd > 2)
		return false;
	m = (int) digits_value(s, i, nd);
	i += nd;
	if (i < n)
	{
		if (s[i] != sep)
			return false;
		i++;
		if (sep == ' ')
			while (i < n && s[i] == ' ')
				i++;
		nd = count_digits(s, n, i);
		if (nd < 1 || nd > 2)
			return false;
		d = (int) digits_value(s, i, nd);
		i += nd;
		if (!parse_time_tail(s, n, i, st))
			return false;
		if (m > 12 && d >= 1 && d <= 12)
		{
			int			t = m;

			m = d;
			d = t;
			st->swapped = true;
		}
	}
	st->month = m;
	st->day = d;
	return true;
}

/*
 * Month first: month-name sep (YY | YYYY)  -- "Jan-20", "March 2020"
 *           or month-name sep D[D][ordinal] [','] ' '* (YY | YYYY) [time]
 *				-- "Jan 2, 2020"
 */
static bool
parse_mdy_text(const unsigned char *s, size_t n, size_t i, DpStamp *st)
{
	size_t		al = alpha_len(s, n, i);
	size_t		nd;
	int			m;
	bool		any = false;

	if ((m = month_lookup(s + i, al)) == 0)
		return false;
	i += al;
	if (i < n && s[i] == '.')
		i++;
	if (i < n && s[i] == ',')
	{
		i++;
		any = true;
	}
	if (i < n && s[i] == ' ')
	{
		while (i < n && s[i] == ' ')
			i++;
		any = true;
	}
	else if (!any && i < n && (s[i] == '-' || s[i] == '/'))
	{
		i++;
		any = true;
	}
	if (!any)
		return false;

	nd = count_digits(s, n, i);
	st->month = m;
	if (nd == 4 && i + 4 == n)
	{
		st->year = (int) digits_value(s, i, 4);
		st->day = 1;
		return true;
	}
	if (nd == 2 && i + 2 == n)
	{
		st->year = pivot_year((int) digits_value(s, i, 2));
		st->day = 1;
		return true;
	}
	if (nd < 1 || nd > 2)
		return false;
	st->day = (int) digits_value(s, i, nd);
	i = skip_ordinal(s, n, i + nd);
	any = false;
	if (i < n && s[i] == ',')
	{
		i++;
		any = true;
	}
	while (i < n && s[i] == ' ')
	{
		i++;
		any = true;
	}
	if (!any)
		return false;
	if (!read_year(s, n, &i, &st->year))
		return false;
	return parse_time_tail(s, n, i, st);
}

/* Fill st (UTC) from seconds since the epoch. */
static void
stamp_from_epoch(int64_t secs, int32_t usec, DpStamp *st)
{
	int64_t		days = secs / 86400;
	int64_t		sod = secs % 86400;

	dp_civil_from_days((int32_t) days, &st->year, &st->month, &st->day);
	st->hour = (int) (sod / 3600);
	st->minute = (int) (sod / 60 % 60);
	st->second = (int) (sod % 60);
	st->usec = usec;
	st->tzoff = 0;
}

/*
 * All digits, optionally with a fraction:
 *	4 digits			year (fraction must be zeros: "2020.0")
 *	8 digits			YYYYMMDD (optionally followed by a time: T030459)
 *	14 digits			YYYYMMDDhhmmss
 *	9 or 10 digits		unix seconds (fraction kept to microseconds)
 *	12 or 13 digits		unix milliseconds
 */
static bool
parse_numeric_date(const unsigned char *s, size_t n, size_t nd, DpStamp *st)
{
	size_t		fd = 0;
	size_t		k;
	int32_t		usec = 0;

	if (nd < n)
	{
		if (s[nd] != '.')
			return false;
		fd = count_digits(s, n, nd + 1);
		if (fd == 0 || nd + 1 + fd != n)
			return false;
	}
	switch (nd)
	{
		case 4:
			for (k = 0; k < fd; k++)
				if (s[nd + 1 + k] != '0')
					return false;
			st->year = (int) digits_value(s, 0, 4);
			st->month = 1;
			st->day = 1;
			return true;
		case 8:
		case 14:
			if (fd > 0)
				return false;
			st->year = (int) digits_value(s, 0, 4);
			st->month = (int) digits_value(s, 4, 2);
			st->day = (int) digits_value(s, 6, 2);
			if (nd == 14)
			{
				st->hour = (int) digits_value(s, 8, 2);
				st->minute = (int) digits_value(s, 10, 2);
				st->second = (int) digits_value(s, 12, 2);
				if (st->hour > 23 || st->minute > 59 || st->second > 59)
					return false;
			}
			return true;
		case 9:
		case 10:
			for (k = 0; k < 6; k++)
				usec = usec * 10 + (k < fd ? s[nd + 1 + k] - '0' : 0);
			stamp_from_epoch(digits_value(s, 0, nd), usec, st);
			return true;
		case 12:
		case 13:
			{
				int64_t		ms = digits_value(s, 0, nd);

				for (k = 0; k < 3; k++)
					usec = usec * 10 + (k < fd ? s[nd + 1 + k] - '0' : 0);
				stamp_from_epoch(ms / 1000, (int32_t) (ms % 1000) * 1000 + usec, st);
				return true;
			}
		default:
			return false;
	}
}

/* Parse any accepted date or date-time spelling into st (fields unchecked). */
static bool
parse_stamp(const unsigned char *s, size_t n, DpStamp *st)
{
	size_t		nd;

	memset(st, 0, sizeof(*st));
	if (n == 0)
		return false;
	nd = count_digits(s, n, 0);
	if (nd == n)
		return parse_numeric_date(s, n, nd, st);
	if (nd > 2 && s[nd] == '.')
	{
		size_t		fd = count_digits(s, n, nd + 1);
		size_t		k;
		bool		zeros = true;

		for (k = 0; k < fd; k++)
			zeros = zeros && s[nd + 1 + k] == '0';
		/* "2020.0" is a year, but "1969.07" is a year and month */
		if (fd > 0 && nd + 1 + fd == n && (nd != 4 || zeros))
			return parse_numeric_date(s, n, nd, st);
	}
	if (nd == 8 && (s[8] == 'T' || s[8] == 't' || s[8] == ' '))
	{
		st->year = (int) digits_value(s, 0, 4);
		st->month = (int) digits_value(s, 4, 2);
		st->day = (int) digits_value(s, 6, 2);
		return parse_time_tail(s, n, 8, st);
	}
	if (nd == 4 && (s[4] == '-' || s[4] == '/' || s[4] == '.' || s[4] == ' '))
		return parse_ymd(s, n, st);
	if (nd == 1 || nd == 2)
		return parse_dmy(s, n, 0, st);
	if (nd == 0 && is_alpha(s[0]))
	{
		size_t		al = alpha_len(s, n, 0);
		size_t		i = al;

		if (is_weekday(s, al))
		{
			bool		any = false;

			if (i < n && s[i] == '.')
				i++;
			if (i < n && s[i] == ',')
			{
				i++;
				any = true;
			}
			while (i < n && s[i] == ' ')
			{
				i++;
				any = true;
			}
			if (!any || i >= n)
				return false;
			if (is_digit(s[i]))
				return parse_dmy(s, n, i, st);
			return parse_mdy_text(s, n, i, st);
		}
		return parse_mdy_text(s, n, 0, st);
	}
	return false;
}

/* Far-past / far-future checks on a day number. */
static DpIssue
check_date_range(int32_t days, const DpConstraints *c)
{
	if (days < dp_days_from_civil(1799, 12, 31))
		return DP_ISSUE_FAR_PAST_DATE;
	if (c != NULL && c->has_today)
	{
		int32_t		today = c->today_days;
		int			y;
		int			m;
		int			d;
		int			dim;

		/* keep a wild "today" inside years 1..9999 */
		if (today < dp_days_from_civil(1, 1, 1))
			today = dp_days_from_civil(1, 1, 1);
		if (today > dp_days_from_civil(9999, 12, 31))
			today = dp_days_from_civil(9999, 12, 31);
		dp_civil_from_days(today, &y, &m, &d);
		y += 50;
		dim = days_in_month(y, m);
		if (d > dim)
			d = dim;
		if (days > dp_days_from_civil(y, m, d))
			return DP_ISSUE_FAR_FUTURE_DATE;
	}
	return DP_ISSUE_NONE;
}

static void
out_date(DpOut *o, int y, int m, int d)
{
	out_u(o, (uint64_t) y, 4);
	out_c(o, '-');
	out_u(o, (uint64_t) m, 2);
	out_c(o, '-');
	out_u(o, (uint64_t) d, 2);
}

/* date: the calendar date as written (a zone offset does not move it). */
static DpIssue
norm_date(const unsigned char *s, size_t n, const DpConstraints *c, DpOut *o)
{
	DpStamp		st;
	DpIssue		iss;

	if (!parse_stamp(s, n, &st) || !dp_valid_date(st.year, st.month, st.day))
		return DP_ISSUE_INVALID_DATE;
	iss = check_date_range(dp_days_from_civil(st.year, st.month, st.day), c);
	if (iss != DP_ISSUE_NONE)
		return iss;
	if (st.swapped)
		o->notes |= DP_NOTE_DAY_MONTH_SWAPPED;
	out_date(o, st.year, st.month, st.day);
	return DP_ISSUE_NONE;
}

/* datetime: converted to UTC; no zone means UTC; a bare date is midnight. */
static DpIssue
norm_datetime(const unsigned char *s, size_t n, const DpConstraints *c, DpOut *o)
{
	DpStamp		st;
	DpIssue		iss;
	int64_t		secs;
	int64_t		days;
	int64_t		sod;
	int			y;
	int			m;
	int			d;

	if (!parse_stamp(s, n, &st) || !dp_valid_date(st.year, st.month, st.day))
		return DP_ISSUE_INVALID_DATETIME;
	secs = (int64_t) dp_days_from_civil(st.year, st.month, st.day) * 86400 +
		st.hour * 3600 + st.minute * 60 + st.second - st.tzoff;
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = secs - days * 86400;
	iss = check_date_range((int32_t) days, c);
	if (iss != DP_ISSUE_NONE)
		return iss;
	dp_civil_from_days((int32_t) days, &y, &m, &d);
	if (y < 1 || y > 9999)
		return DP_ISSUE_INVALID_DATETIME;
	if (st.swapped)
		o->notes |= DP_NOTE_DAY_MONTH_SWAPPED;
	out_date(o, y, m, d);
	out_c(o, 'T');
	out_u(o, (uint64_t) (sod / 3600), 2);
	out_c(o, ':');
	out_u(o, (uint64_t) (sod / 60 % 60), 2);
	out_c(o, ':');
	out_u(o, (uint64_t) (sod % 60), 2);
	if (st.usec > 0)
	{
		out_c(o, '.');
		out_u(o, (uint64_t) st.usec, 6);
	}
	out_c(o, 'Z');
	return DP_ISSUE_NONE;
}

/* ----------------------------------------------------------------------
 * uuid
 * ---------------------------------------------------------------------- */

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
	for (i = 0; i < n; i++)
	{
		int			h;

		if (hyphens && (i == 8 || i == 13 || i == 18 || i == 23))
		{
			if (s[i] != '-')
				return DP_ISSUE_INVALID_UUID;
			continue;
		}
		if ((h = hex_value(s[i])) < 0)
			return DP_ISSUE_INVALID_UUID;
		hex[nh++] = (unsigned char) h;
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
	trim(&s, &n, strays);

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
				iss = norm_integer(s, n, c, &o);
				break;
			case DP_DT_DECIMAL:
				iss = norm_decimal(s, n, c, &o);
				break;
			case DP_DT_FLAG:
				iss = norm_flag(s, n, &o);
				break;
			case DP_DT_DATE:
				iss = norm_date(s, n, c, &o);
				break;
			case DP_DT_DATETIME:
				iss = norm_datetime(s, n, c, &o);
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
