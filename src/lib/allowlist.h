/*
 * allowlist.h
 *		Host allow-lists (dataplatform.allowed_hosts): host patterns
 *		separated by commas or white space, each a host name or address,
 *		"*.domain" (any name ending in ".domain") or "*" (any host).
 *		Matching ignores case.  Pure C, no backend calls.
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

#endif							/* DP_ALLOWLIST_H */
