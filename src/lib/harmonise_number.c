/*
 * harmonise_number.c
 *		The decimal and integer datatypes of dp_harmonise.
 *
 * Owns: parsing a decimal spelling (sign, currency symbol, thousands
 * commas, fraction, exponent) into exact decimal digits, rounding it
 * half-even to DP_DECIMAL_PLACES places, printing it, comparing it with the
 * minimum and maximum constraints, and the 64-bit integer range check.
 * No floating point anywhere: every step works on the digits of the input.
 *
 * Pure C, no backend calls, no allocation; every parser works on
 * (pointer, length) and never reads outside it.  Called from dp_harmonise
 * (harmonise.c) on input that is already trimmed.
 */
#include <string.h>

#include "harmonise.h"
#include "harmonise_int.h"

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
		dp_harmonise_trim(&bs, &bn, true);
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
		dp_harmonise_trim(&bs, &bn, true);
		if (parse_decimal(bs, bn, false, &bd))
		{
			dec_view(&bd, false, &bv);
			if (view_cmp(v, &bv) > 0)
				return DP_ISSUE_TOO_LARGE;
		}
	}
	return DP_ISSUE_NONE;
}

DpIssue
dp_harmonise_norm_decimal(const unsigned char *s, size_t n, const DpConstraints *c,
						  DpOut *o)
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

DpIssue
dp_harmonise_norm_integer(const unsigned char *s, size_t n, const DpConstraints *c,
						  DpOut *o)
{
	static const char int64_max[] = "9223372036854775807";
	DpDec		d;
	DpDecView	v;
	DpIssue		iss;
	size_t		first = 0;
	size_t		sig;

	/*
	 * [-]D{1,18} without a leading zero (or "0") and no bounds to check:
	 * already canonical, written back as it is
	 */
	if (n <= 19 && (c == NULL || (c->minimum == NULL && c->maximum == NULL)))
	{
		size_t		at = s[0] == '-' ? 1 : 0;

		if (n > at && n - at <= 18 && count_digits(s, n, at) == n - at &&
			(s[at] != '0' || n == 1))
		{
			out_s(o, (const char *) s, n);
			return DP_ISSUE_NONE;
		}
	}

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
