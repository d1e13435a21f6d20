/*
 * harmonise.h
 *		Value normalisation ("harmonise") for the dataplatform extension.
 *
 * Owns: the issue types (names, severities, descriptions), the constraint
 * description a caller passes per field, and dp_harmonise(), which turns one
 * raw field value of a given datatype into its normalised spelling or into
 * exactly one issue.  Pure C: no backend calls, no global mutable state,
 * no allocation except inside jansson for the json datatype; safe to call
 * from any thread and on arbitrary bytes (the input need not be
 * NUL-terminated and may hold NUL bytes or invalid UTF-8).
 *
 * The rules follow digital-land-python's datatype normalisers; the
 * differences are listed in test/unit/NOTES.md.
 */
#ifndef DP_HARMONISE_H
#define DP_HARMONISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datatype.h"
#include "pattern.h"

typedef enum DpIssue
{
	DP_ISSUE_NONE = 0,
	DP_ISSUE_INVALID_DATE,			/* "invalid date" */
	DP_ISSUE_INVALID_DATETIME,		/* "invalid datetime" */
	DP_ISSUE_FAR_PAST_DATE,			/* "far-past-date" */
	DP_ISSUE_FAR_FUTURE_DATE,		/* "far-future-date" */
	DP_ISSUE_INVALID_DECIMAL,		/* "invalid decimal" */
	DP_ISSUE_INVALID_INTEGER,		/* "invalid integer" */
	DP_ISSUE_INVALID_FLAG,			/* "invalid flag" */
	DP_ISSUE_INVALID_URI,			/* "invalid URI" */
	DP_ISSUE_INVALID_UUID,			/* "invalid uuid" */
	DP_ISSUE_INVALID_JSON,			/* "invalid json" */
	DP_ISSUE_TOO_SMALL,				/* "too small" */
	DP_ISSUE_TOO_LARGE,				/* "too large" */
	DP_ISSUE_INVALID_PATTERN,		/* "invalid pattern" */
	DP_ISSUE_INVALID_CATEGORY_VALUE,	/* "invalid category value" */
	DP_ISSUE_TOO_SHORT,				/* "too short" */
	DP_ISSUE_TOO_LONG,				/* "too long" */
	DP_ISSUE_COUNT					/* number of issue types, not an issue */
} DpIssue;

/*
 * Catalogue strings for an issue type.  All three return NULL for
 * DP_ISSUE_NONE and for values outside the enum.
 */
/* a byte's value as a hex digit, -1 for any other byte (index by unsigned char) */
extern const signed char dp_hex_table[256];

extern const char *dp_issue_name(DpIssue issue);
extern const char *dp_issue_severity(DpIssue issue);	/* "error" | "warning" | "info" */
extern const char *dp_issue_description(DpIssue issue);

/* Reverse of dp_issue_name (exact match); false when unknown. */
extern bool dp_issue_lookup(const char *name, DpIssue *issue);

/* DpPattern, the compiled "pattern" constraint: see pattern.h */

/*
 * Per-field constraints, applied after the datatype rule.  Pass NULL for
 * "no constraints"; a zeroed struct is also "no constraints".
 *
 * minimum / maximum: decimal strings in any spelling the decimal datatype
 *		accepts ("35", "-0.5", "1e3"); NULL for none.  Compared exactly
 *		(no floating point) with the normalised value, i.e. after decimal
 *		rounding to 6 places, so a stored value always passes again.
 *		Only used for integer and decimal.  A bound that does not parse is
 *		ignored: validate bounds once with dp_harmonise(DP_DT_DECIMAL, ...).
 * pattern: compiled with dp_pattern_compile, or NULL; the normalised
 *		value must match it somewhere (unanchored, regexec semantics: write
 *		^...$ for a whole-value match).
 * codelist / ncodelist: allowed values in their canonical spelling.  The
 *		normalised value is matched ASCII-case-insensitively with space,
 *		hyphen and underscore treated as equal, and replaced by the
 *		canonical spelling.
 * min_length / max_length: bounds on the normalised value's length in
 *		characters (bytes that are not UTF-8 continuation bytes), checked
 *		last; min_length 0 is none, max_length counts only when
 *		has_max_length is set.
 * has_today / today_days: "today" as days since 1970-01-01 (see
 *		dp_days_from_civil); when has_today is false no far-future-date
 *		check is made.
 */
typedef struct DpConstraints
{
	const char *minimum;
	const char *maximum;
	const DpPattern *pattern;
	const char *const *codelist;
	int			ncodelist;
	int64_t		min_length;
	int64_t		max_length;
	bool		has_max_length;
	bool		has_today;
	int32_t		today_days;
} DpConstraints;

/*
 * Normalise in[0..len) as datatype dt.
 *
 * Writes the normalised value, NUL-terminated, to out (capacity outcap;
 * out may be NULL when outcap is 0) and returns the length the value needs
 * excluding the NUL, like snprintf.  When the return value is >= outcap the
 * output was truncated and *issue is provisional (pattern and codelist need
 * the whole value): grow the buffer to at least return+1 bytes and call
 * again, until the return value is < outcap.
 *
 * *issue is set to DP_ISSUE_NONE or to exactly one issue type.  On an issue
 * the return value is 0 and out holds "".  An input that is empty after
 * trimming gives "" and DP_ISSUE_NONE (constraints are not applied to it).
 */
extern size_t dp_harmonise(DpDatatype dt, const char *in, size_t len,
						   const DpConstraints *c,
						   char *out, size_t outcap, DpIssue *issue);

/*
 * Notes about how a good value was read (bits of *notes; 0 when none or on
 * an issue): the caller may record them as warnings.
 */
#define DP_NOTE_DAY_MONTH_SWAPPED	0x01	/* the first reading was impossible */

/* dp_harmonise, also returning the notes (notes may be NULL). */
extern size_t dp_harmonise_noted(DpDatatype dt, const char *in, size_t len,
								 const DpConstraints *c, char *out, size_t outcap,
								 DpIssue *issue, unsigned *notes);

/*
 * Proleptic Gregorian calendar helpers.  dp_days_from_civil returns days
 * since 1970-01-01 for year/month/day (no validation; month 1..12).
 * dp_civil_from_days is its inverse.  dp_valid_date checks a y/m/d triple
 * (years 1..9999).
 */
extern int32_t dp_days_from_civil(int year, int month, int day);
extern void dp_civil_from_days(int32_t days, int *year, int *month, int *day);
extern bool dp_valid_date(int year, int month, int day);

#endif							/* DP_HARMONISE_H */
