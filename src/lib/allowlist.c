/*
 * allowlist.c
 *		Host allow-lists (see allowlist.h): splitting a list into patterns,
 *		matching a host against them, checking a list's patterns; and the
 *		addresses a fetch may connect to (classes of addresses, address
 *		ranges).  Pure C: the backend's side (the GUC check hook, the URL
 *		check, the check of every address connected to) is in
 *		src/ingest/fetch.c; unit tests in test/unit/test_allowlist.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "allowlist.h"

/* Next comma/space separated item of *p into buf; false at the end. */
static bool
next_item(const char **p, char *buf, size_t buflen, bool *toolong)
{
	const char *s = *p;
	size_t		n = 0;

	while (*s == ',' || isspace((unsigned char) *s))
		s++;
	if (*s == '\0')
		return false;
	*toolong = false;
	while (*s && *s != ',' && !isspace((unsigned char) *s))
	{
		if (n + 1 < buflen)
			buf[n++] = tolower((unsigned char) *s);
		else
			*toolong = true;
		s++;
	}
	buf[n] = '\0';
	*p = s;
	return true;
}

/* ------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------
 */

void
dp_addr_from_bytes(const unsigned char *bytes, size_t len, DpAddr *out)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(out, 0, sizeof(*out));
	if (len == 16 && memcmp(bytes, mapped, 12) == 0)
	{
		out->family = 4;
		memcpy(out->addr, bytes + 12, 4);
	}
	else if (len == 16)
	{
		out->family = 6;
		memcpy(out->addr, bytes, 16);
	}
	else
	{
		out->family = 4;
		memcpy(out->addr, bytes, 4);
	}
}

bool
dp_addr_parse(const char *text, DpAddr *out)
{
	char		buf[64];
	size_t		n = strlen(text);
	unsigned char bytes[16];

	if (n >= 2 && text[0] == '[' && text[n - 1] == ']')
	{
		text++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, bytes) == 1)
	{
		dp_addr_from_bytes(bytes, 4, out);
		return true;
	}
	if (inet_pton(AF_INET6, buf, bytes) == 1)
	{
		dp_addr_from_bytes(bytes, 16, out);
		return true;
	}
	return false;
}

/* Whether the first bits of a and b (each len bytes) are equal. */
static bool
prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int			whole = bits / 8;
	int			rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static DpAddrClass
classify4(const unsigned char *b)
{
	if (b[0] == 0)
		return DP_ADDR_UNSPECIFIED;
	if (b[0] == 127)
		return DP_ADDR_LOOPBACK;
	if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
		(b[0] == 100 && (b[1] & 0xc0) == 64))
		return DP_ADDR_PRIVATE;
	if (b[0] == 169 && b[1] == 254)
		return DP_ADDR_LINK_LOCAL;
	if ((b[0] & 0xf0) == 224)
		return DP_ADDR_MULTICAST;
	if ((b[0] & 0xf0) == 240 ||
		(b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2)) ||
		(b[0] == 192 && b[1] == 88 && b[2] == 99) ||
		(b[0] == 198 && (b[1] & 0xfe) == 18) ||
		(b[0] == 198 && b[1] == 51 && b[2] == 100) ||
		(b[0] == 203 && b[1] == 0 && b[2] == 113))
		return DP_ADDR_RESERVED;
	return DP_ADDR_PUBLIC;
}

DpAddrClass
dp_addr_classify(const DpAddr *a)
{
	const unsigned char *b = a->addr;
	static const unsigned char zero[16] = {0};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

	if (a->family == 4)
		return classify4(b);
	if (memcmp(b, zero, 16) == 0)
		return DP_ADDR_UNSPECIFIED;
	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return DP_ADDR_LOOPBACK;
	/* addresses that carry an IPv4 address: judged by it */
	if (memcmp(b, nat64, 12) == 0)
		return classify4(b + 12);
	if (b[0] == 0x20 && b[1] == 0x02)	/* 6to4, 2002::/16 */
		return classify4(b + 2);
	if ((b[0] & 0xfe) == 0xfc)
		return DP_ADDR_PRIVATE;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return DP_ADDR_LINK_LOCAL;
	if (b[0] == 0xff)
		return DP_ADDR_MULTICAST;
	if (memcmp(b, zero, 12) == 0 ||	/* IPv4-compatible, deprecated */
		(b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) ||	/* site-local */
		(b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) ||	/* documentation */
		(b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) ||	/* Teredo */
		(b[0] == 0x01 && b[1] == 0 && memcmp(b + 2, zero, 6) == 0) ||	/* discard */
		(b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b))	/* local NAT64 */
		return DP_ADDR_RESERVED;
	return DP_ADDR_PUBLIC;
}

const char *
dp_addr_class_name(DpAddrClass c)
{
	switch (c)
	{
		case DP_ADDR_PUBLIC:
			return "public";
		case DP_ADDR_LOOPBACK:
			return "loopback";
		case DP_ADDR_PRIVATE:
			return "private";
		case DP_ADDR_LINK_LOCAL:
			return "link-local";
		case DP_ADDR_UNSPECIFIED:
			return "unspecified";
		case DP_ADDR_MULTICAST:
			return "multicast";
		case DP_ADDR_RESERVED:
			return "reserved";
	}
	return "unknown";
}

void
dp_addr_format(const DpAddr *a, char *buf, size_t buflen)
{
	char		tmp[64];

	if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, tmp, sizeof(tmp)) == NULL)
		snprintf(tmp, sizeof(tmp), "?");
	snprintf(buf, buflen, "%s", tmp);
}

/*
 * An item that is an address or a range: its network and prefix length
 * (32 or 128 for an address).  False for anything else, and for a range
 * with a bad prefix length.
 */
static bool
parse_range(const char *item, DpAddr *net, int *bits)
{
	const char *slash = strchr(item, '/');
	char		addr[64];
	char	   *end;
	long		n;
	bool		v6_text;

	if (slash == NULL)
	{
		if (!dp_addr_parse(item, net))
			return false;
		*bits = net->family == 4 ? 32 : 128;
		return true;
	}
	if ((size_t) (slash - item) >= sizeof(addr) || slash[1] == '\0')
		return false;
	memcpy(addr, item, slash - item);
	addr[slash - item] = '\0';
	if (!dp_addr_parse(addr, net))
		return false;
	v6_text = strchr(addr, ':') != NULL;
	n = strtol(slash + 1, &end, 10);
	if (*end != '\0' || !isdigit((unsigned char) slash[1]) || n < 0 || n > (v6_text ? 128 : 32))
		return false;
	/* an IPv4-mapped range (::ffff:a.b.c.d/n, n >= 96) is an IPv4 range */
	if (v6_text && net->family == 4)
	{
		if (n < 96)
			return false;
		n -= 96;
	}
	*bits = (int) n;
	return true;
}

static bool
in_range(const DpAddr *a, const DpAddr *net, int bits)
{
	return a->family == net->family && prefix_equal(a->addr, net->addr, bits);
}

/* ------------------------------------------------------------------------
 * Lists
 * ------------------------------------------------------------------------
 */

bool
dp_allowlist_match(const char *list, const char *host)
{
	char		item[DP_ALLOWLIST_MAX_PATTERN + 1];
	bool		toolong;
	size_t		hlen;
	DpAddr		addr;
	bool		is_addr;

	if (list == NULL || host == NULL || host[0] == '\0')
		return false;
	hlen = strlen(host);
	is_addr = dp_addr_parse(host, &addr);
	while (next_item(&list, item, sizeof(item), &toolong))
	{
		size_t		ilen = strlen(item);
		DpAddr		net;
		int			bits;

		if (toolong)
			continue;
		if (strcmp(item, "*") == 0)
			return true;
		if (parse_range(item, &net, &bits))
		{
			/* an address or a range: matches addresses only, as addresses */
			if (is_addr && in_range(&addr, &net, bits))
				return true;
			continue;
		}
		if (item[0] == '*' && item[1] == '.')
		{
			/* "*.example.org": any name ending in ".example.org" */
			if (hlen > ilen - 1 &&
				strcasecmp(host + hlen - (ilen - 1), item + 1) == 0)
				return true;
		}
		else if (strcasecmp(host, item) == 0)
			return true;
	}
	return false;
}

DpAllowlistProblem
dp_allowlist_check(const char *list, char *bad, size_t badlen)
{
	const char *p = list ? list : "";
	char		item[DP_ALLOWLIST_MAX_PATTERN + 1];
	bool		toolong;

	while (next_item(&p, item, sizeof(item), &toolong))
	{
		const char *c = item;

		if (toolong)
			return DP_ALLOWLIST_TOO_LONG;
		if (strcmp(item, "*") == 0)
			continue;
		if (strchr(item, '/') != NULL)
		{
			DpAddr		net;
			int			bits;

			if (parse_range(item, &net, &bits))
				continue;
			c = "/";			/* a range that does not read: refused below */
		}
		if (c[0] == '*' && c[1] == '.' && c[2] != '\0')
			c += 2;
		for (; *c; c++)
			if (!(isalnum((unsigned char) *c) || *c == '.' || *c == '-' ||
				  *c == '_' || *c == ':' || *c == '[' || *c == ']'))
			{
				if (badlen > 0)
				{
					size_t		n = strlen(item);

					if (n > badlen - 1)
						n = badlen - 1;
					memcpy(bad, item, n);
					bad[n] = '\0';
				}
				return DP_ALLOWLIST_BAD_PATTERN;
			}
	}
	return DP_ALLOWLIST_OK;
}

bool
dp_allowlist_address_ok(const char *list, const DpAddr *a)
{
	char		item[DP_ALLOWLIST_MAX_PATTERN + 1];
	bool		toolong;

	if (dp_addr_classify(a) == DP_ADDR_PUBLIC)
		return true;
	if (list == NULL)
		return false;
	while (next_item(&list, item, sizeof(item), &toolong))
	{
		DpAddr		net;
		int			bits;

		if (!toolong && parse_range(item, &net, &bits) && in_range(a, &net, bits))
			return true;
	}
	return false;
}
