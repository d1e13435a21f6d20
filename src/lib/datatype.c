/*
 * datatype.c
 *		The table of specification datatypes.  Pure C: no backend calls.
 *		This is the one place that says which datatypes exist and which
 *		column type each becomes.
 */
#include <string.h>

#include "datatype.h"

typedef struct DpDatatypeInfo
{
	const char *name;
	const char *sqltype;
	bool		numeric;
} DpDatatypeInfo;

static const DpDatatypeInfo dp_datatypes[DP_DT_COUNT] = {
	[DP_DT_STRING] = {"string", "text", false},
	[DP_DT_TEXT] = {"text", "text", false},
	[DP_DT_INTEGER] = {"integer", "bigint", true},
	[DP_DT_DECIMAL] = {"decimal", "numeric", true},
	[DP_DT_FLAG] = {"flag", "boolean", false},
	[DP_DT_DATE] = {"date", "date", false},
	[DP_DT_DATETIME] = {"datetime", "timestamptz", false},
	[DP_DT_URL] = {"url", "text", false},
	[DP_DT_UUID] = {"uuid", "uuid", false},
	[DP_DT_JSON] = {"json", "jsonb", false},
	[DP_DT_MULTIPOLYGON] = {"multipolygon", "geometry(MultiPolygon,4326)", false},
	[DP_DT_POINT] = {"point", "geometry(Point,4326)", false},
};

bool
dp_datatype_is_spatial(DpDatatype dt)
{
	return dt == DP_DT_MULTIPOLYGON || dt == DP_DT_POINT;
}

const char *
dp_datatype_name(DpDatatype dt)
{
	return (dt >= 0 && dt < DP_DT_COUNT) ? dp_datatypes[dt].name : "?";
}

const char *
dp_datatype_sqltype(DpDatatype dt)
{
	return (dt >= 0 && dt < DP_DT_COUNT) ? dp_datatypes[dt].sqltype : "text";
}

bool
dp_datatype_is_numeric(DpDatatype dt)
{
	return dt >= 0 && dt < DP_DT_COUNT && dp_datatypes[dt].numeric;
}

bool
dp_datatype_lookup(const char *name, DpDatatype *dt)
{
	int			i;

	for (i = 0; i < DP_DT_COUNT; i++)
	{
		if (strcmp(name, dp_datatypes[i].name) == 0)
		{
			*dt = (DpDatatype) i;
			return true;
		}
	}
	return false;
}

const char *
dp_datatype_list(void)
{
	return "string, text, integer, decimal, flag, date, datetime, url, uuid, json, multipolygon, point";
}
