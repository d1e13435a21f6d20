/*
 * allowlist.c
 *		Host allow-lists (see allowlist.h): splitting a list into patterns,
 *		matching a host against them, checking a list's patterns.  Pure C:
 *		the backend's side (the GUC check hook, the URL check) is in
 *		src/ingest/fetch.c; unit tests in test/unit/test_allowlist.c.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

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

bool
dp_allowlist_match(const char *list, const char *host)
{
	char		item[DP_ALLOWLIST_MAX_PATTERN + 1];
	bool		toolong;
	size_t		hlen;

	if (list == NULL || host == NULL || host[0] == '\0')
		return false;
	hlen = strlen(host);
	while (next_item(&list, item, sizeof(item), &toolong))
	{
		size_t		ilen = strlen(item);

		if (toolong)
			continue;
		if (strcmp(item, "*") == 0)
			return true;
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
