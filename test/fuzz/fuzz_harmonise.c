/*
 * fuzz_harmonise.c
 *		libFuzzer target for dp_harmonise (src/lib/harmonise*.c).
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (see test/unit/Makefile,
 * target "fuzz").  Byte 0 of the input picks the datatype (byte % 10) and
 * the constraint set (byte / 10 % 4: none, min/max, codelist, pattern with
 * lengths); the
 * byte after it picks a small output capacity for a truncation check; the
 * rest is the value, exactly sized so ASan sees any over-read.
 *
 * Invariants checked (abort() on failure, which libFuzzer reports):
 *	- the return value equals strlen(out) and out is NUL-terminated;
 *	- an issue means return 0 and out == "", and the issue is in range;
 *	- no issue means the value is non-empty unless the input trims to empty;
 *	- a truncated call writes a NUL-terminated prefix of the full value and
 *	  returns the same length (when no codelist/pattern is in play);
 *	- the same call twice gives the same answer;
 *	- idempotence: normalising the output again gives the same output and
 *	  no issue, for every datatype;
 *	- shape of date / datetime / flag / uuid / integer / decimal outputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harmonise.h"

static DpPattern *fuzz_re;
static int	fuzz_re_ok = 0;

static const char *const fuzz_codes[] = {
	"conservation-area", "tree", "Article-4-Direction", "2020-01-02", "42",
	"true", "x"
};

#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); \
			abort(); \
		} \
	} while (0)

static void
make_constraints(int set, DpConstraints *c)
{
	memset(c, 0, sizeof(*c));
	c->has_today = true;
	c->today_days = dp_days_from_civil(2026, 11, 22);
	switch (set)
	{
		case 1:
			c->minimum = "-1000.5";
			c->maximum = "1e6";
			break;
		case 2:
			c->codelist = fuzz_codes;
			c->ncodelist = (int) (sizeof(fuzz_codes) / sizeof(fuzz_codes[0]));
			break;
		case 3:
			if (!fuzz_re_ok)
			{
				fuzz_re = malloc(dp_pattern_size());
				CHECK(fuzz_re != NULL);
				CHECK(dp_pattern_compile(fuzz_re, "^[^q]*[0-9a-z]", NULL, 0));
				fuzz_re_ok = 1;
			}
			c->pattern = fuzz_re;
			/* and lengths, checked last */
			c->min_length = 2;
			c->max_length = 40;
			c->has_max_length = true;
			break;
		default:
			break;
	}
}

/* Call with a big enough buffer, growing as the contract says. */
static char *
harmonise_all(DpDatatype dt, const char *in, size_t n, const DpConstraints *c,
			  size_t *len, DpIssue *iss)
{
	size_t		cap = 16;
	char	   *out = malloc(cap);
	size_t		r;
	int			rounds = 0;

	CHECK(out != NULL);
	for (;;)
	{
		r = dp_harmonise(dt, in, n, c, out, cap, iss);
		CHECK(out[cap - 1 < r ? cap - 1 : r] == '\0');
		if (r < cap)
			break;
		CHECK(++rounds < 4);
		free(out);
		cap = r + 1;
		out = malloc(cap);
		CHECK(out != NULL);
	}
	*len = r;
	return out;
}

static void
check_shape(DpDatatype dt, const char *v, size_t n)
{
	size_t		k;

	switch (dt)
	{
		case DP_DT_DATE:
			CHECK(n == 10 && v[4] == '-' && v[7] == '-');
			break;
		case DP_DT_DATETIME:
			CHECK((n == 20 || n == 27) && v[10] == 'T' && v[n - 1] == 'Z');
			break;
		case DP_DT_FLAG:
			CHECK(strcmp(v, "true") == 0 || strcmp(v, "false") == 0);
			break;
		case DP_DT_UUID:
			CHECK(n == 36);
			for (k = 0; k < n; k++)
				CHECK((k == 8 || k == 13 || k == 18 || k == 23) ? v[k] == '-' :
					  ((v[k] >= '0' && v[k] <= '9') || (v[k] >= 'a' && v[k] <= 'f')));
			break;
		case DP_DT_INTEGER:
			CHECK(n <= 20);
			CHECK(v[0] != '0' || n == 1);
			for (k = (v[0] == '-'); k < n; k++)
				CHECK(v[k] >= '0' && v[k] <= '9');
			break;
		case DP_DT_DECIMAL:
			CHECK(strcmp(v, "-0") != 0);
			CHECK(v[n - 1] != '.');
			if (strchr(v, '.'))
				CHECK(v[n - 1] != '0' && strlen(strchr(v, '.')) <= 7);
			for (k = (v[0] == '-'); k < n; k++)
				CHECK((v[k] >= '0' && v[k] <= '9') || v[k] == '.');
			break;
		default:
			break;
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	DpConstraints c;
	DpDatatype	dt;
	int			set;
	const char *in;
	size_t		n;
	size_t		smallcap;
	char	   *full;
	char	   *again;
	char	   *twice;
	char		small[32];
	size_t		r;
	size_t		r2;
	size_t		r3;
	size_t		rs;
	DpIssue		iss;
	DpIssue		iss2;
	DpIssue		iss3;
	DpIssue		iss_s;

	if (size < 2)
		return 0;
	dt = (DpDatatype) (data[0] % DP_DT_COUNT);
	set = (data[0] / DP_DT_COUNT) % 4;
	smallcap = data[1] % sizeof(small);
	in = (const char *) data + 2;
	n = size - 2;
	make_constraints(set, &c);

	full = harmonise_all(dt, in, n, &c, &r, &iss);
	CHECK((int) iss >= 0 && (int) iss < DP_ISSUE_COUNT);
	CHECK(strlen(full) == r);
	if (iss != DP_ISSUE_NONE)
	{
		CHECK(r == 0 && full[0] == '\0');
		CHECK(dp_issue_name(iss) != NULL && dp_issue_severity(iss) != NULL);
	}

	/* deterministic */
	twice = harmonise_all(dt, in, n, &c, &r3, &iss3);
	CHECK(r3 == r && iss3 == iss && strcmp(twice, full) == 0);
	free(twice);

	/* truncated call: NUL-terminated prefix, same length */
	memset(small, 'X', sizeof(small));
	rs = dp_harmonise(dt, in, n, (set == 1 || set == 0) ? &c : NULL,
					  smallcap ? small : NULL, smallcap, &iss_s);
	if (smallcap > 0)
	{
		size_t		w = rs < smallcap ? rs : smallcap - 1;

		CHECK(small[w] == '\0');
		CHECK(strlen(small) == w);
		if (set <= 1)
		{
			CHECK(rs == r && iss_s == iss);
			CHECK(memcmp(small, full, w) == 0);
		}
	}
	else if (set <= 1)
		CHECK(rs == r);

	if (iss == DP_ISSUE_NONE && r > 0)
	{
		check_shape(dt, full, r);
		again = harmonise_all(dt, full, r, &c, &r2, &iss2);
		if (iss2 != DP_ISSUE_NONE || r2 != r || strcmp(again, full) != 0)
		{
			fprintf(stderr, "not idempotent: %s: \"%s\" -> \"%s\" [%s]\n",
					dp_datatype_name(dt), full, again,
					iss2 ? dp_issue_name(iss2) : "none");
			abort();
		}
		free(again);
	}
	free(full);
	return 0;
}
