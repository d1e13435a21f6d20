/*
 * pattern.c
 *		POSIX extended regular expressions behind DpPattern.  Pure C.
 */
#include <regex.h>
#include <string.h>

#include "pattern.h"

#define DP_PATTERN_GROUPS 10

struct DpPattern
{
	regex_t		re;
};

size_t
dp_pattern_size(void)
{
	return sizeof(struct DpPattern);
}

bool
dp_pattern_compile_ex(DpPattern *p, const char *regex, bool icase, bool capture,
					  char *errbuf, size_t errlen)
{
	int			flags = REG_EXTENDED;
	int			rc;

	if (icase)
		flags |= REG_ICASE;
	if (!capture)
		flags |= REG_NOSUB;
	rc = regcomp(&p->re, regex, flags);
	if (rc != 0)
	{
		if (errbuf != NULL && errlen > 0)
			regerror(rc, &p->re, errbuf, errlen);
		return false;
	}
	return true;
}

bool
dp_pattern_compile(DpPattern *p, const char *regex, char *errbuf, size_t errlen)
{
	return dp_pattern_compile_ex(p, regex, false, false, errbuf, errlen);
}

void
dp_pattern_free(DpPattern *p)
{
	regfree(&p->re);
}

bool
dp_pattern_match(const DpPattern *p, const char *value)
{
	return regexec(&p->re, value, 0, NULL, 0) == 0;
}

long
dp_pattern_expand(const DpPattern *p, const char *value, const char *replacement,
				  char *out, size_t outcap)
{
	regmatch_t	m[DP_PATTERN_GROUPS];
	size_t		n = 0;
	const char *r;

	if (regexec(&p->re, value, DP_PATTERN_GROUPS, m, 0) != 0 || m[0].rm_so != 0)
		return -1;
	for (r = replacement; *r; r++)
	{
		const char *piece = r;
		size_t		len = 1;

		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '9')
		{
			int			g = r[1] - '0';

			r++;
			if (m[g].rm_so < 0)
				continue;
			piece = value + m[g].rm_so;
			len = (size_t) (m[g].rm_eo - m[g].rm_so);
		}
		else if (r[0] == '\\' && r[1] == '\\')
			r++;
		if (n + len < outcap)
			memcpy(out + n, piece, len);
		n += len;
	}
	if (outcap > 0)
		out[n < outcap ? n : outcap - 1] = '\0';
	return (long) n;
}
