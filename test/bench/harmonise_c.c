/*
 * harmonise_c.c
 *		Standalone benchmark of dp_harmonise (src/lib/harmonise*.c): for each
 *		datatype, builds a realistic mix of 1M raw values (mostly clean,
 *		some messy spellings, a few invalid), normalises them all and
 *		prints values/second.  Deterministic (fixed PRNG seed).
 *
 * Build and run: make -C test/unit bench   (BENCH_N=... to change the count)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harmonise.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t
rng(void)
{
	uint64_t	x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static int
rnd(int lo, int hi)
{
	return lo + (int) (rng() % (uint64_t) (hi - lo + 1));
}

typedef struct Values
{
	char	   *arena;
	size_t		used;
	size_t		cap;
	size_t	   *off;
	size_t	   *len;
	size_t		n;
} Values;

static void
add(Values *v, const char *s, size_t n)
{
	if (v->used + n > v->cap)
	{
		v->cap = (v->cap + n) * 2;
		v->arena = realloc(v->arena, v->cap);
		if (!v->arena)
			exit(2);
	}
	memcpy(v->arena + v->used, s, n);
	v->off[v->n] = v->used;
	v->len[v->n] = n;
	v->used += n;
	v->n++;
}

static const char *const months[12] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"
};

static int
gen_date(char *b)
{
	int			y = rnd(1950, 2030);
	int			m = rnd(1, 12);
	int			d = rnd(1, 28);
	int			p = rnd(0, 99);

	if (p < 45)
		return sprintf(b, "%04d-%02d-%02d", y, m, d);
	if (p < 60)
		return sprintf(b, "%02d/%02d/%04d", d, m, y);
	if (p < 70)
		return sprintf(b, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, rnd(0, 23), rnd(0, 59), rnd(0, 59));
	if (p < 75)
		return sprintf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%07d+01:00", y, m, d,
					   rnd(0, 23), rnd(0, 59), rnd(0, 59), rnd(0, 9999999));
	if (p < 80)
		return sprintf(b, "%d %s %04d", d, months[m - 1], y);
	if (p < 85)
		return sprintf(b, "%04d%02d%02d", y, m, d);
	if (p < 88)
		return sprintf(b, "%04d", y);
	if (p < 91)
		return sprintf(b, "%lld", (long long) rnd(0, 1700000000) * 1000LL + rnd(0, 999));
	if (p < 93)
		return sprintf(b, "Thu, %02d %.3s %04d 10:00:00 GMT", d, months[m - 1], y);
	if (p < 95)
		return sprintf(b, " \"%02d/%02d/%02d\"\xc2\xa0", d, m, y % 100);
	if (p < 97)
		return sprintf(b, "%s", "");
	if (p < 98)
		return sprintf(b, "%s", "n/a");
	return sprintf(b, "%04d-02-30", y);
}

static int
gen_decimal(char *b)
{
	int			p = rnd(0, 99);

	if (p < 40)
		return sprintf(b, "%d.%02d", rnd(0, 99999), rnd(0, 99));
	if (p < 55)
		return sprintf(b, "%d,%03d.%02d", rnd(1, 999), rnd(0, 999), rnd(0, 99));
	if (p < 65)
		return sprintf(b, "\xc2\xa3%d,%03d.00", rnd(1, 99), rnd(0, 999));
	if (p < 75)
		return sprintf(b, "%d", rnd(-1000, 100000));
	if (p < 85)
		return sprintf(b, "-%d.%09d", rnd(0, 180), rnd(0, 999999999));
	if (p < 90)
		return sprintf(b, "%d.%de%d", rnd(1, 9), rnd(0, 99), rnd(-5, 5));
	if (p < 95)
		return sprintf(b, "  000%d.5000  ", rnd(0, 999));
	if (p < 98)
		return sprintf(b, "%s", "");
	return sprintf(b, "%s", "approx 12");
}

static int
gen_integer(char *b)
{
	int			p = rnd(0, 99);

	if (p < 60)
		return sprintf(b, "%d", rnd(0, 1000000));
	if (p < 75)
		return sprintf(b, " %05d ", rnd(0, 99999));
	if (p < 85)
		return sprintf(b, "%d.0", rnd(-500, 500));
	if (p < 92)
		return sprintf(b, "%lld", (long long) rng() >> 2);
	if (p < 96)
		return sprintf(b, "%s", "");
	return sprintf(b, "%d,%03d", rnd(1, 99), rnd(0, 999));
}

static int
gen_flag(char *b)
{
	static const char *const f[] = {"yes", "no", "Yes", "NO", "y", "n", "true", "false", "", "maybe"};

	return sprintf(b, "%s", f[rnd(0, 9)]);
}

static int
gen_string(char *b)
{
	static const char *const w[] = {
		"Land", "at", "the", "rear", "of", "12", "High", "Street", "Conservation",
		"Area", "Tree", "Preservation", "Order", "\xc2\xa0", "  ", "Brownfield", "site"
	};
	int			nw = rnd(2, 10);
	int			k;
	int			n = 0;

	if (rnd(0, 3) == 0)
		b[n++] = ' ';
	for (k = 0; k < nw; k++)
		n += sprintf(b + n, "%s%s", k ? " " : "", w[rnd(0, 16)]);
	if (rnd(0, 3) == 0)
		b[n++] = '\t';
	return n;
}

static int
gen_text(char *b)
{
	int			np = rnd(1, 3);
	int			k;
	int			n = 0;

	for (k = 0; k < np; k++)
	{
		n += gen_string(b + n);
		n += sprintf(b + n, "%s", rnd(0, 1) ? ".\r\n\r\n" : ".  \n");
	}
	return n;
}

static int
gen_url(char *b)
{
	int			p = rnd(0, 99);

	if (p < 70)
		return sprintf(b, "https://www.council%d.gov.uk/planning/applications/%d?ref=%d",
					   rnd(1, 400), rnd(1, 999999), rnd(1, 99));
	if (p < 85)
		return sprintf(b, " http://example.org/docs/plan%d.pdf ", rnd(1, 999));
	if (p < 92)
		return sprintf(b, "https://example.com/a b\n/%d", rnd(0, 99));
	if (p < 96)
		return sprintf(b, "%s", "");
	return sprintf(b, "www.example%d.com", rnd(0, 9));
}

static int
gen_uuid(char *b)
{
	uint64_t	a = rng();
	uint64_t	c = rng();
	int			p = rnd(0, 99);
	char		t[40];

	sprintf(t, "%08x-%04x-%04x-%04x-%012llx", (unsigned) (a >> 32), (unsigned) (a >> 16) & 0xffff,
			(unsigned) a & 0xffff, (unsigned) (c >> 48), (unsigned long long) (c & 0xffffffffffffULL));
	if (p < 70)
		return sprintf(b, "%s", t);
	if (p < 85)
	{
		int			k;

		for (k = 0; t[k]; k++)
			if (t[k] >= 'a' && t[k] <= 'f')
				t[k] = (char) (t[k] - 32);
		return sprintf(b, "{%s}", t);
	}
	if (p < 97)
		return sprintf(b, "urn:uuid:%s", t);
	return sprintf(b, "%s", "not-a-uuid");
}

static int
gen_json(char *b)
{
	int			p = rnd(0, 99);

	if (p < 80)
		return sprintf(b, "{\"reference\": \"REF-%d\", \"count\": %d, \"tags\": [\"a\", \"b\"], \"ok\": true}",
					   rnd(1, 99999), rnd(0, 100));
	if (p < 95)
		return sprintf(b, "[%d, %d.5, null]", rnd(0, 9), rnd(0, 9));
	return sprintf(b, "%s", "{broken");
}

typedef int (*GenFn) (char *b);

typedef struct Case
{
	const char *label;
	DpDatatype	dt;
	GenFn		gen;
	int			constraints;	/* 0 today only, 1 min/max, 2 codelist, 3 pattern */
} Case;

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static const Case cases[] = {
		{"date", DP_DT_DATE, gen_date, 0},
		{"datetime", DP_DT_DATETIME, gen_date, 0},
		{"decimal", DP_DT_DECIMAL, gen_decimal, 0},
		{"decimal+min/max", DP_DT_DECIMAL, gen_decimal, 1},
		{"integer", DP_DT_INTEGER, gen_integer, 0},
		{"flag", DP_DT_FLAG, gen_flag, 0},
		{"string", DP_DT_STRING, gen_string, 0},
		{"string+codelist", DP_DT_STRING, gen_string, 2},
		{"string+pattern", DP_DT_STRING, gen_string, 3},
		{"text", DP_DT_TEXT, gen_text, 0},
		{"url", DP_DT_URL, gen_url, 0},
		{"uuid", DP_DT_UUID, gen_uuid, 0},
		{"json", DP_DT_JSON, gen_json, 0},
	};
	static const char *const codes[] = {
		"article-4-direction", "brownfield-land", "conservation-area", "listed-building",
		"tree-preservation-order", "tree", "land", "site", "area", "order",
		"green-belt", "flood-risk-zone", "local-plan", "heritage-coast", "park",
		"world-heritage-site", "ancient-woodland", "scheduled-monument", "border", "street"
	};
	size_t		nvalues = 1000000;
	char	   *out = malloc(65536);
	DpPattern  *re = malloc(dp_pattern_size());
	size_t		ci;
	Values		v;
	char		buf[1024];

	if (argc > 1)
		nvalues = (size_t) strtoull(argv[1], NULL, 10);
	else if (getenv("BENCH_N"))
		nvalues = (size_t) strtoull(getenv("BENCH_N"), NULL, 10);
	if (!re || !dp_pattern_compile(re, "^[A-Z][A-Za-z0-9 ]*$", NULL, 0))
		return 2;
	memset(&v, 0, sizeof(v));
	v.off = malloc(nvalues * sizeof(size_t));
	v.len = malloc(nvalues * sizeof(size_t));
	if (!out || !v.off || !v.len)
		return 2;

	printf("dp_harmonise benchmark: %zu values per datatype\n", nvalues);
	printf("%-18s %14s %10s %10s\n", "datatype", "values/s", "ns/value", "issues");
	for (ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++)
	{
		const Case *cs = &cases[ci];
		DpConstraints c;
		size_t		i;
		size_t		issues = 0;
		size_t		checksum = 0;
		double		t0;
		double		t1;

		rng_state = 0x9E3779B97F4A7C15ULL + ci;
		v.n = 0;
		v.used = 0;
		for (i = 0; i < nvalues; i++)
			add(&v, buf, (size_t) cs->gen(buf));

		memset(&c, 0, sizeof(c));
		c.has_today = true;
		c.today_days = dp_days_from_civil(2026, 11, 22);
		if (cs->constraints == 1)
		{
			c.minimum = "-100";
			c.maximum = "50000";
		}
		else if (cs->constraints == 2)
		{
			c.codelist = codes;
			c.ncodelist = 20;
		}
		else if (cs->constraints == 3)
			c.pattern = re;

		t0 = now_sec();
		for (i = 0; i < v.n; i++)
		{
			DpIssue		iss;

			checksum += dp_harmonise(cs->dt, v.arena + v.off[i], v.len[i], &c,
									 out, 65536, &iss);
			issues += (iss != DP_ISSUE_NONE);
		}
		t1 = now_sec();
		printf("%-18s %14.0f %10.1f %9.1f%%   (checksum %zu)\n", cs->label,
			   (double) v.n / (t1 - t0), (t1 - t0) * 1e9 / (double) v.n,
			   100.0 * (double) issues / (double) v.n, checksum);
	}
	dp_pattern_free(re);
	free(re);
	free(v.arena);
	free(v.off);
	free(v.len);
	free(out);
	return 0;
}
