/*
 * naming.c
 *		The snake_case rule that turns spec names into SQL identifiers, and
 *		the product-name rule.  Pure C, no backend calls: unit-tested alone.
 */
#include <string.h>

#include "naming.h"

static bool
is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_separator(char c)
{
	return c == '-' || c == '_' || c == ' ' || c == '.';
}

DpNameStatus
dp_snake_case(const char *name, char *out)
{
	size_t		n = 0;
	size_t		i;
	size_t		len = strlen(name);
	bool		pending_sep = false;

	out[0] = '\0';
	/* skip leading separators */
	for (i = 0; i < len && is_separator(name[i]); i++)
		;
	if (i == len)
		return DP_NAME_EMPTY;
	if (!is_upper(name[i]) && !is_lower(name[i]))
		return is_digit(name[i]) ? DP_NAME_BAD_START : DP_NAME_BAD_CHAR;

	for (; i < len; i++)
	{
		char		c = name[i];
		char		prev = i > 0 ? name[i - 1] : '\0';
		char		next = i + 1 < len ? name[i + 1] : '\0';

		if (is_separator(c))
		{
			pending_sep = n > 0;
			continue;
		}
		if (!is_upper(c) && !is_lower(c) && !is_digit(c))
		{
			out[0] = '\0';
			return DP_NAME_BAD_CHAR;
		}
		/* a camelCase boundary: aB, 1B, or the last capital of ABc */
		if (is_upper(c) && n > 0 &&
			(is_lower(prev) || is_digit(prev) ||
			 (is_upper(prev) && is_lower(next))))
			pending_sep = true;

		if (pending_sep)
		{
			if (n >= DP_IDENT_MAX)
				goto too_long;
			out[n++] = '_';
			pending_sep = false;
		}
		if (n >= DP_IDENT_MAX)
			goto too_long;
		out[n++] = is_upper(c) ? (char) (c - 'A' + 'a') : c;
	}
	out[n] = '\0';
	return DP_NAME_OK;

too_long:
	out[0] = '\0';
	return DP_NAME_TOO_LONG;
}

const char *
dp_name_status_message(DpNameStatus status)
{
	switch (status)
	{
		case DP_NAME_OK:
			return "is valid";
		case DP_NAME_EMPTY:
			return "has no letters or digits";
		case DP_NAME_BAD_CHAR:
			return "may contain only ASCII letters, digits, hyphens, underscores, dots and spaces";
		case DP_NAME_BAD_START:
			return "must start with a letter";
		case DP_NAME_TOO_LONG:
			return "is longer than 63 bytes once converted to snake_case";
	}
	return "is invalid";
}

bool
dp_product_name_valid(const char *name)
{
	size_t		len = strlen(name);
	size_t		i;

	if (len == 0 || len > DP_IDENT_MAX)
		return false;
	if (!is_lower(name[0]) && !is_digit(name[0]))
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!is_lower(c) && !is_digit(c) && c != '_' && c != '-')
			return false;
	}
	return true;
}
