/*
 * allowlist.h
 *		Host allow-lists (dataplatform.allowed_hosts): host patterns
 *		separated by commas or white space, each a host name, an IPv4 or
 *		IPv6 address ("[::1]" or "::1"), an address range in CIDR notation
 *		("10.20.0.0/16", "fd00::/8"), "*.domain" (any name ending in
 *		".domain") or "*" (any host).  Matching ignores case; addresses
 *		compare as addresses.
 *
 *		And the addresses a fetch may connect to: loopback, private,
 *		link-local and other non-public addresses (IPv4 and IPv6, an
 *		IPv4-mapped IPv6 address judged as its IPv4 address) are refused
 *		unless an entry of the list names them explicitly (an address or a
 *		range: a host name or "*" never does).  Pure C, no backend calls.
 */
#ifndef DP_ALLOWLIST_H
#define DP_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>

/* The longest host pattern, in bytes. */
#define DP_ALLOWLIST_MAX_PATTERN	255

typedef enum DpAllowlistProblem
{
	DP_ALLOWLIST_OK,
	DP_ALLOWLIST_TOO_LONG,		/* a pattern is longer than the maximum */
	DP_ALLOWLIST_BAD_PATTERN	/* a pattern has a character no host has */
} DpAllowlistProblem;

/* Whether host matches one of the patterns of list (false for NULL or ""). */
extern bool dp_allowlist_match(const char *list, const char *host);

/*
 * Check every pattern of list.  On DP_ALLOWLIST_BAD_PATTERN the pattern
 * (lower-cased) is copied into bad (badlen bytes, NUL-terminated).
 */
extern DpAllowlistProblem dp_allowlist_check(const char *list, char *bad, size_t badlen);

/* What kind of address an address is (dp_addr_classify). */
typedef enum DpAddrClass
{
	DP_ADDR_PUBLIC,
	DP_ADDR_LOOPBACK,			/* 127.0.0.0/8, ::1 */
	DP_ADDR_PRIVATE,			/* 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7 */
	DP_ADDR_LINK_LOCAL,			/* 169.254/16, fe80::/10 */
	DP_ADDR_UNSPECIFIED,		/* 0.0.0.0/8, :: */
	DP_ADDR_MULTICAST,			/* 224/4, ff00::/8 */
	DP_ADDR_RESERVED			/* 240/4, 192.0.0/24, 198.18/15, fec0::/10, ... */
} DpAddrClass;

/*
 * An address in binary: family 4 (addr holds 4 bytes) or 6 (16 bytes).
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is stored as IPv4.
 */
typedef struct DpAddr
{
	int			family;
	unsigned char addr[16];
} DpAddr;

/* Parse an address literal ("192.0.2.1", "2001:db8::1", "[::1]"); false if none. */
extern bool dp_addr_parse(const char *text, DpAddr *out);

/* Make an address from bytes (len 4 or 16), unmapping IPv4-mapped ones. */
extern void dp_addr_from_bytes(const unsigned char *bytes, size_t len, DpAddr *out);

/* The class of an address. */
extern DpAddrClass dp_addr_classify(const DpAddr *a);

/* "loopback", "private", ... for messages. */
extern const char *dp_addr_class_name(DpAddrClass c);

/* The text of an address (IPv4 dotted, IPv6 as inet_ntop writes it). */
extern void dp_addr_format(const DpAddr *a, char *buf, size_t buflen);

/*
 * Whether a fetch may connect to address a: a public address, or one that
 * an entry of list names explicitly (the same address, or a range holding
 * it).
 */
extern bool dp_allowlist_address_ok(const char *list, const DpAddr *a);

#endif							/* DP_ALLOWLIST_H */
