/*
 * bulk_input.c
 *		Values of the common column types read from text without the type's
 *		input function (dp_bulk_fast_input): the data path stores harmonised
 *		values (src/lib/harmonise*.c), whose spellings are canonical, and
 *		reading those directly costs a fraction of the input functions'
 *		general parsers.  The one such reader: bulk.c's values and probe keys
 *		(dp_probe_input, the events' entity keys too) and the events' UTC
 *		times (dp_events_time) come through it.  Only exact canonical
 *		spellings are read here, each to exactly the datum the input
 *		function gives; anything else is left to the input function (errors
 *		included), so the result never depends on which path read it.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "bulk.h"
#include "harmonise.h"

/* n digits at s as a number, or -1 when one is not a digit */
static inline int
digits_value(const char *s, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* YYYY-MM-DD (year 1..9999, a real day) as days since 2000-01-01 */
static bool
fast_date(const char *s, int32 *days)
{
	int			y = digits_value(s, 4),
				m = digits_value(s + 5, 2),
				d = digits_value(s + 8, 2);

	if (s[4] != '-' || s[7] != '-' || y < 1 || m < 1 || m > 12 || d < 1 ||
		d > day_tab[isleap(y)][m - 1])
		return false;
	*days = date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
	return true;
}

/*
 * A value of the column's type read without its input function, for the
 * spellings the harmonised values have (harmonise.c) and only those:
 * uuid 8-4-4-4-12 hex digits; date YYYY-MM-DD; timestamptz
 * YYYY-MM-DDTHH:MM:SS[.F{1,6}]Z; boolean true/false; bigint (its input
 * function's own reader); numeric [-]D+[.D+] of at most 15 digits; text.
 * Each gives exactly the datum the input function gives for that text
 * (the type modifier must be -1); anything else returns false and goes
 * through the input function, errors included.
 */
bool
dp_bulk_fast_input(Oid typid, int32 typmod, const char *text, Datum *result)
{
	size_t		len;

	if (typmod != -1)
		return false;
	switch (typid)
	{
		case TEXTOID:
			*result = PointerGetDatum(cstring_to_text(text));
			return true;
		case INT8OID:
			*result = Int64GetDatum(pg_strtoint64(text));
			return true;
		case BOOLOID:
			if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)
			{
				*result = BoolGetDatum(text[0] == 't');
				return true;
			}
			return false;
		case UUIDOID:
			{
				/* the byte pairs' offsets in 8-4-4-4-12 */
				static const uint8 pair_at[UUID_LEN] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
				unsigned char data[UUID_LEN];
				pg_uuid_t  *u;

				/*
				 * Left to right, so that nothing past the text's NUL is read
				 * (the NUL is not a digit): each hyphen once the digits before
				 * it are, the end last.
				 */
				for (int k = 0; k < UUID_LEN; k++)
				{
					int			hi = dp_hex_table[(unsigned char) text[pair_at[k]]],
								lo;

					if (hi < 0 || (lo = dp_hex_table[(unsigned char) text[pair_at[k] + 1]]) < 0)
						return false;
					data[k] = (unsigned char) (hi << 4 | lo);
					if ((k == 3 || k == 5 || k == 7 || k == 9) && text[pair_at[k] + 2] != '-')
						return false;
				}
				if (text[36] != '\0')
					return false;
				u = palloc(sizeof(pg_uuid_t));
				memcpy(u->data, data, UUID_LEN);
				*result = UUIDPGetDatum(u);
				return true;
			}
		case DATEOID:
			{
				int32		days;

				if (strlen(text) != 10 || !fast_date(text, &days))
					return false;
				*result = DateADTGetDatum(days);
				return true;
			}
		case TIMESTAMPTZOID:
			{
				int32		days;
				int			h,
							mi,
							sec,
							nfrac = 0;
				int64		frac = 0;

				len = strlen(text);
				if (len < 20 || text[len - 1] != 'Z' || text[10] != 'T' ||
					text[13] != ':' || text[16] != ':' || !fast_date(text, &days))
					return false;
				h = digits_value(text + 11, 2);
				mi = digits_value(text + 14, 2);
				sec = digits_value(text + 17, 2);
				if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
					return false;
				if (len > 20)
				{
					nfrac = (int) len - 21;
					if (text[19] != '.' || nfrac < 1 || nfrac > 6 ||
						(frac = digits_value(text + 20, nfrac)) < 0)
						return false;
					for (int i = nfrac; i < 6; i++)
						frac *= 10;
				}
				*result = TimestampTzGetDatum(days * USECS_PER_DAY +
											  ((h * INT64CONST(60) + mi) * 60 + sec) * USECS_PER_SEC + frac);
				return true;
			}
		case NUMERICOID:
			{
				const char *p = text;
				int64		v = 0;
				int			ndigits = 0,
							scale = -1;

				if (*p == '-')
					p++;
				for (; *p; p++)
				{
					if (*p == '.' && scale < 0 && ndigits > 0)
						scale = 0;
					else if (*p >= '0' && *p <= '9' && ndigits < 15)
					{
						v = v * 10 + (*p - '0');
						ndigits++;
						if (scale >= 0)
							scale++;
					}
					else
						return false;
				}
				if (ndigits == 0 || scale == 0)
					return false;
				*result = NumericGetDatum(int64_div_fast_to_numeric(text[0] == '-' ? -v : v,
																	scale < 0 ? 0 : scale));
				return true;
			}
	}
	return false;
}
