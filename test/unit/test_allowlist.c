/*
 * test_allowlist.c
 *		Unit tests of the host allow-list (src/lib/allowlist.c), outside
 *		PostgreSQL: matching hosts against dataplatform.allowed_hosts and
 *		checking its patterns.
 */
#include <stdio.h>
#include <string.h>

#include "allowlist.h"

static int	failures = 0;
static int	checks = 0;

static void
match_is(const char *list, const char *host, int want)
{
	int			got = dp_allowlist_match(list, host);

	checks++;
	if (got != want)
	{
		printf("FAIL: match(\"%s\", \"%s\") = %d, want %d\n",
			   list ? list : "(null)", host ? host : "(null)", got, want);
		failures++;
	}
}

static void
check_is(const char *list, DpAllowlistProblem want, const char *want_bad)
{
	char		bad[DP_ALLOWLIST_MAX_PATTERN + 1] = "";
	DpAllowlistProblem got = dp_allowlist_check(list, bad, sizeof(bad));

	checks++;
	if (got != want || (want_bad && strcmp(bad, want_bad) != 0))
	{
		printf("FAIL: check(\"%s\") = %d \"%s\", want %d \"%s\"\n",
			   list ? list : "(null)", (int) got, bad, (int) want, want_bad ? want_bad : "");
		failures++;
	}
}

int
main(void)
{
	char		longname[DP_ALLOWLIST_MAX_PATTERN + 2];
	char		longlist[DP_ALLOWLIST_MAX_PATTERN + 40];

	/* matching */
	match_is("", "example.org", 0);
	match_is(NULL, "example.org", 0);
	match_is("example.org", NULL, 0);
	match_is("example.org", "", 0);
	match_is("*", "anything.example", 1);
	match_is("example.org", "example.org", 1);
	match_is("Example.ORG", "example.org", 1);
	match_is("example.org", "EXAMPLE.org", 1);
	match_is("example.org", "www.example.org", 0);
	match_is("example.org", "example.org.evil", 0);
	match_is("*.example.org", "www.example.org", 1);
	match_is("*.example.org", "a.b.example.org", 1);
	match_is("*.example.org", "WWW.Example.Org", 1);
	match_is("*.example.org", "example.org", 0);
	match_is("*.example.org", "evilexample.org", 0);
	match_is("*.example.org", ".example.org", 0);
	match_is("a.test, b.test", "b.test", 1);
	match_is("a.test,b.test", "b.test", 1);
	match_is("  a.test \t b.test ,, ", "b.test", 1);
	match_is("a.test b.test", "c.test", 0);
	match_is("127.0.0.1", "127.0.0.1", 1);
	match_is("127.0.0.1", "127.0.0.10", 0);
	match_is("[::1]", "[::1]", 1);

	/* a pattern too long is skipped, the others still count */
	memset(longname, 'a', DP_ALLOWLIST_MAX_PATTERN + 1);
	longname[DP_ALLOWLIST_MAX_PATTERN + 1] = '\0';
	snprintf(longlist, sizeof(longlist), "%s, ok.test", longname);
	match_is(longlist, longname, 0);
	match_is(longlist, "ok.test", 1);
	longname[DP_ALLOWLIST_MAX_PATTERN] = '\0';
	match_is(longname, longname, 1);

	/* checking */
	check_is("", DP_ALLOWLIST_OK, NULL);
	check_is(NULL, DP_ALLOWLIST_OK, NULL);
	check_is("*", DP_ALLOWLIST_OK, NULL);
	check_is("example.org, *.example.net 10.0.0.1 [::1] my_host:8080", DP_ALLOWLIST_OK, NULL);
	check_is("example.org, http://x.test", DP_ALLOWLIST_BAD_PATTERN, "http://x.test");
	check_is("Bad!Host", DP_ALLOWLIST_BAD_PATTERN, "bad!host");
	check_is("*.", DP_ALLOWLIST_BAD_PATTERN, "*.");
	check_is("a.*.test", DP_ALLOWLIST_BAD_PATTERN, "a.*.test");
	check_is(longlist, DP_ALLOWLIST_TOO_LONG, NULL);
	check_is(longname, DP_ALLOWLIST_OK, NULL);
	{
		/* the offending pattern is cut to the caller's buffer */
		char		small[4];

		checks++;
		if (dp_allowlist_check("ok.test bad!pattern", small, sizeof(small)) != DP_ALLOWLIST_BAD_PATTERN ||
			strcmp(small, "bad") != 0)
		{
			printf("FAIL: check into a 4-byte buffer gave \"%s\"\n", small);
			failures++;
		}
	}

	if (failures)
	{
		printf("test_allowlist: %d of %d checks FAILED\n", failures, checks);
		return 1;
	}
	printf("test_allowlist: all %d checks passed\n", checks);
	return 0;
}
