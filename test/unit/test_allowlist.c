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

/* Whether a fetch may connect to addr (text) with list; and its class. */
static void
address_is(const char *list, const char *addr, int want, const char *want_class)
{
	DpAddr		a;
	int			got;
	const char *cls;

	checks++;
	if (!dp_addr_parse(addr, &a))
	{
		printf("FAIL: \"%s\" does not parse as an address\n", addr);
		failures++;
		return;
	}
	got = dp_allowlist_address_ok(list, &a);
	cls = dp_addr_class_name(dp_addr_classify(&a));
	if (got != want || strcmp(cls, want_class) != 0)
	{
		printf("FAIL: address_ok(\"%s\", \"%s\") = %d (%s), want %d (%s)\n",
			   list ? list : "(null)", addr, got, cls, want, want_class);
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

	/* addresses compare as addresses; ranges match addresses only */
	match_is("::1", "[::1]", 1);
	match_is("[0:0::1]", "[::1]", 1);
	match_is("10.0.0.0/8", "10.1.2.3", 1);
	match_is("10.0.0.0/8", "11.1.2.3", 0);
	match_is("10.0.0.0/8", "10.example.org", 0);
	match_is("fd00::/8", "[fd12::1]", 1);
	match_is("127.0.0.1", "[::ffff:127.0.0.1]", 1);

	/* the addresses a fetch may connect to */
	address_is("", "93.184.216.34", 1, "public");
	address_is("*", "2606:2800:220:1:248:1893:25c8:1946", 1, "public");
	address_is("*", "127.0.0.1", 0, "loopback");
	address_is("*, localhost, *.internal", "127.0.0.1", 0, "loopback");
	address_is("127.0.0.1", "127.0.0.1", 1, "loopback");
	address_is("127.0.0.1", "127.0.0.2", 0, "loopback");
	address_is("127.0.0.0/8", "127.0.0.2", 1, "loopback");
	address_is("127.0.0.1", "::ffff:127.0.0.1", 1, "loopback");
	address_is("*", "::ffff:10.0.0.1", 0, "private");
	address_is("*", "::1", 0, "loopback");
	address_is("127.0.0.1", "::1", 0, "loopback");
	address_is("[::1]", "::1", 1, "loopback");
	address_is("*", "10.20.30.40", 0, "private");
	address_is("10.20.0.0/16", "10.20.30.40", 1, "private");
	address_is("10.20.0.0/16", "10.21.0.1", 0, "private");
	address_is("*", "172.16.0.1", 0, "private");
	address_is("*", "172.31.255.255", 0, "private");
	address_is("*", "172.32.0.1", 1, "public");
	address_is("*", "192.168.1.1", 0, "private");
	address_is("*", "100.64.0.1", 0, "private");
	address_is("*", "169.254.169.254", 0, "link-local");
	address_is("169.254.169.254", "169.254.169.254", 1, "link-local");
	address_is("*", "0.0.0.0", 0, "unspecified");
	address_is("*", "::", 0, "unspecified");
	address_is("*", "224.0.0.1", 0, "multicast");
	address_is("*", "255.255.255.255", 0, "reserved");
	address_is("*", "fd00::1", 0, "private");
	address_is("fd00::/8", "fd00::1", 1, "private");
	address_is("*", "fe80::1", 0, "link-local");
	address_is("*", "ff02::1", 0, "multicast");
	address_is("*", "64:ff9b::7f00:1", 0, "loopback");
	address_is("*", "64:ff9b::5db8:d822", 1, "public");
	address_is("*", "2002:a00:1::", 0, "private");
	address_is("*", "::127.0.0.1", 0, "reserved");
	address_is("::ffff:10.0.0.0/104", "10.9.9.9", 1, "private");

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
	check_is("10.0.0.0/8 fd00::/8 ::ffff:10.0.0.0/104 0.0.0.0/0", DP_ALLOWLIST_OK, NULL);
	check_is("10.0.0.0/33", DP_ALLOWLIST_BAD_PATTERN, "10.0.0.0/33");
	check_is("10.0.0.0/", DP_ALLOWLIST_BAD_PATTERN, "10.0.0.0/");
	check_is("example.org/8", DP_ALLOWLIST_BAD_PATTERN, "example.org/8");
	check_is("fd00::/129", DP_ALLOWLIST_BAD_PATTERN, "fd00::/129");
	check_is("10.0.0.0/-1", DP_ALLOWLIST_BAD_PATTERN, "10.0.0.0/-1");
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
