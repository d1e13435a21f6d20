/*
 * harmonise_int.h
 *		Internals shared by the files of the harmonise library
 *		(harmonise.c, harmonise_number.c, harmonise_date.c).  Not for use
 *		outside src/lib/harmonise*.c.
 *
 * Owns: the bounded output writer (DpOut) that every normaliser writes
 * through, the ASCII character classes, the small scanning helpers
 * (word_eq, count_digits, digits_value) -- all static inline, so each file
 * gets its own copy and nothing extra is exported -- and the prototypes of
 * the per-datatype normalisers and of the trimming that cross files.
 *
 * Pure C, no backend headers; the rules of harmonise.h apply (no global
 * mutable state, every helper works on (pointer, length) and never reads
 * outside it).
 */
#ifndef DP_HARMONISE_INT_H
#define DP_HARMONISE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "harmonise.h"

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

static inline void
out_s(DpOut *o, const char *s, size_t n)
{
	size_t		i;

	/* all of it fits: one copy (what out_c would store, byte for byte) */
	if (o->len + n < o->cap)
	{
		memcpy(o->buf + o->len, s, n);
		o->len += n;
		return;
	}
	for (i = 0; i < n; i++)
		out_c(o, s[i]);
}

/* Unsigned number, zero-padded to at least width digits. */
static inline void
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
static inline void
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


/* ----------------------------------------------------------------------
 * Scanning helpers
 * ---------------------------------------------------------------------- */

/* Case-insensitive ASCII compare of s[0..n) with the lower-case word w. */
static inline bool
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
static inline size_t
count_digits(const unsigned char *s, size_t n, size_t i)
{
	size_t		j = i;

	while (j < n && is_digit(s[j]))
		j++;
	return j - i;
}

/* Value of nd (<= 18) digits at s[i]. */
static inline int64_t
digits_value(const unsigned char *s, size_t i, size_t nd)
{
	int64_t		v = 0;
	size_t		k;

	for (k = 0; k < nd; k++)
		v = v * 10 + (s[i + k] - '0');
	return v;
}

/* ----------------------------------------------------------------------
 * Across the files
 * ---------------------------------------------------------------------- */

/*
 * Trim white space (and, when strays is set, stray quotes and commas) from
 * both ends of [*s, *s + *n).  In harmonise.c.
 */
extern void dp_harmonise_trim(const unsigned char **s, size_t *n, bool strays);

/*
 * The per-datatype normalisers: s[0..n) is already trimmed and not empty;
 * the normalised value goes to o (and DP_NOTE_* bits to o->notes).  Return
 * DP_ISSUE_NONE or the one issue (then o holds something to discard).
 * Decimal and integer are in harmonise_number.c, date and datetime in
 * harmonise_date.c.
 */
extern DpIssue dp_harmonise_norm_decimal(const unsigned char *s, size_t n,
										 const DpConstraints *c, DpOut *o);
extern DpIssue dp_harmonise_norm_integer(const unsigned char *s, size_t n,
										 const DpConstraints *c, DpOut *o);
extern DpIssue dp_harmonise_norm_date(const unsigned char *s, size_t n,
									  const DpConstraints *c, DpOut *o);
extern DpIssue dp_harmonise_norm_datetime(const unsigned char *s, size_t n,
										  const DpConstraints *c, DpOut *o);

#endif							/* DP_HARMONISE_INT_H */
