/*
 * datatype.h
 *		The specification's datatypes: names, SQL column types, and the
 *		lookup between them.  Pure C, no backend calls, so the harmonise
 *		library, its unit tests and fuzzers link it alone.
 */
#ifndef DP_DATATYPE_H
#define DP_DATATYPE_H

#include <stdbool.h>

typedef enum DpDatatype
{
	DP_DT_STRING = 0,
	DP_DT_TEXT,
	DP_DT_INTEGER,
	DP_DT_DECIMAL,
	DP_DT_FLAG,
	DP_DT_DATE,
	DP_DT_DATETIME,
	DP_DT_URL,
	DP_DT_UUID,
	DP_DT_JSON,
	DP_DT_MULTIPOLYGON,			/* needs PostGIS (src/spatial/) */
	DP_DT_POINT,				/* needs PostGIS (src/spatial/) */
	DP_DT_COUNT					/* number of datatypes, not a datatype */
} DpDatatype;

/* Name as written in a specification ("string", "decimal", ...). */
extern const char *dp_datatype_name(DpDatatype dt);

/*
 * PostgreSQL column type of a clean table column ("text", "numeric", ...).
 * The spatial ones are unqualified here ("geometry(MultiPolygon,4326)"):
 * the backend qualifies them with PostGIS's schema (dp_sqltype).
 */
extern const char *dp_datatype_sqltype(DpDatatype dt);

/* Look a spec name up; false when unknown. Exact, case-sensitive match. */
extern bool dp_datatype_lookup(const char *name, DpDatatype *dt);

/* Comma-separated list of every datatype name, for error hints. */
extern const char *dp_datatype_list(void);

/* Whether the datatype is a geometry (multipolygon, point): PostGIS's. */
extern bool dp_datatype_is_spatial(DpDatatype dt);

/* Whether minimum/maximum constraints apply to the datatype. */
extern bool dp_datatype_is_numeric(DpDatatype dt);

#endif							/* DP_DATATYPE_H */
