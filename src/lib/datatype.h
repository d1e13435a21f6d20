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
	DP_DT_COUNT					/* number of datatypes, not a datatype */
} DpDatatype;

/* Name as written in a specification ("string", "decimal", ...). */
extern const char *dp_datatype_name(DpDatatype dt);

/* PostgreSQL column type of a clean table column ("text", "numeric", ...). */
extern const char *dp_datatype_sqltype(DpDatatype dt);

/* Look a spec name up; false when unknown. Exact, case-sensitive match. */
extern bool dp_datatype_lookup(const char *name, DpDatatype *dt);

/* Comma-separated list of every datatype name, for error hints. */
extern const char *dp_datatype_list(void);

/* Whether minimum/maximum constraints apply to the datatype. */
extern bool dp_datatype_is_numeric(DpDatatype dt);

#endif							/* DP_DATATYPE_H */
