/*
 * pg_include_check.c
 *		Compile-only check (make check, when pg_config is installed) that
 *		harmonise.h can be included in an extension source file after
 *		PostgreSQL's headers, including regex/regex.h, which redefines
 *		regex_t; and that DpConstraints is usable there.
 */
#include "postgres.h"
#include "regex/regex.h"

#include "harmonise.h"

extern size_t pg_include_check(const DpPattern *p, char *out, size_t cap);

size_t
pg_include_check(const DpPattern *p, char *out, size_t cap)
{
	DpConstraints c;
	DpIssue		issue;

	memset(&c, 0, sizeof(c));
	c.pattern = p;
	return dp_harmonise(DP_DT_DATE, "2020-01-02", 10, &c, out, cap, &issue);
}
