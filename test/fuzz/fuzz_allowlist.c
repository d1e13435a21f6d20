/*
 * fuzz_allowlist.c
 *		libFuzzer target for host allow-lists and address classes
 *		(src/lib/allowlist.c).
 *
 * Input layout: byte 0 selects the address family (bit 0: IPv6), then 16
 * address bytes (4 used for IPv4), then the allow-list text.  Checks on
 * every input:
 *	- checking, matching and the address test never crash, whatever the
 *	  list;
 *	- an address formats and parses back to itself;
 *	- a public address is always allowed; any address is allowed by a list
 *	  that names it (its text, and its /32 or /128 range), and by no list
 *	  made only of host names and "*";
 *	- a host given as an address literal matches a list naming it.
 *
 * Build and run with "make -f test/unit/allowlist.mk fuzz" from the repo root.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allowlist.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_allowlist: "); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, "\n"); \
		abort(); \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	DpAddr		a;
	DpAddr		back;
	char		text[64];
	char		list[512];
	char		bad[DP_ALLOWLIST_MAX_PATTERN + 1];
	char	   *tail;
	size_t		n;

	if (size < 17)
		return 0;
	dp_addr_from_bytes(data + 1, (data[0] & 1) ? 16 : 4, &a);
	n = size - 17;
	tail = malloc(n + 1);
	if (tail == NULL)
		return 0;
	memcpy(tail, data + 17, n);
	tail[n] = '\0';

	/* whatever the list: no crash */
	(void) dp_allowlist_check(tail, bad, sizeof(bad));
	(void) dp_allowlist_match(tail, tail);
	(void) dp_allowlist_address_ok(tail, &a);

	/* format and parse back */
	dp_addr_format(&a, text, sizeof(text));
	if (!dp_addr_parse(text, &back) || back.family != a.family ||
		memcmp(back.addr, a.addr, a.family == 4 ? 4 : 16) != 0)
		FAIL("address \"%s\" does not parse back to itself", text);

	if (dp_addr_classify(&a) == DP_ADDR_PUBLIC && !dp_allowlist_address_ok("", &a))
		FAIL("public address %s refused by an empty list", text);
	if (!dp_allowlist_address_ok(text, &a))
		FAIL("address %s refused by a list naming it", text);
	snprintf(list, sizeof(list), "x.example, %s/%d", text, a.family == 4 ? 32 : 128);
	if (!dp_allowlist_address_ok(list, &a))
		FAIL("address %s refused by its own range (%s)", text, list);
	if (dp_allowlist_check(list, bad, sizeof(bad)) != DP_ALLOWLIST_OK)
		FAIL("list \"%s\" does not check", list);
	if (dp_addr_classify(&a) != DP_ADDR_PUBLIC &&
		dp_allowlist_address_ok("*, *.example.org, localhost", &a))
		FAIL("internal address %s allowed by names alone", text);
	if (a.family == 4 && !dp_allowlist_match(text, text))
		FAIL("host %s does not match a list naming it", text);
	free(tail);
	return 0;
}
