/*
 * bulk_internal.h
 *		What bulk.c (writing rows) and probe.c (finding them) share: opening
 *		a table by name, a column's attribute number (or InvalidAttrNumber;
 *		dp_bulk_column: or an ERROR), and a column's value from text through
 *		its type's input function.
 */
#ifndef DP_BULK_INTERNAL_H
#define DP_BULK_INTERNAL_H

#include "postgres.h"

#include "access/attnum.h"
#include "access/tupdesc.h"
#include "catalog/pg_attribute.h"
#include "fmgr.h"
#include "storage/lockdefs.h"
#include "utils/relcache.h"

/* A column's input function, made on first use. */
typedef struct DpInput
{
	bool		ready;
	FmgrInfo	fn;
	Oid			ioparam;
	int32		typmod;
	Oid			typid;			/* the column's type (dp_bulk_fast_input) */
} DpInput;

extern Relation dp_bulk_open_table(const char *schema, const char *table, LOCKMODE mode);
extern AttrNumber dp_bulk_attnum_of(TupleDesc desc, const char *column);
extern AttrNumber dp_bulk_column(Relation rel, const char *column);
extern Datum dp_bulk_input_value(DpInput *in, Form_pg_attribute attr, const char *text);

#endif							/* DP_BULK_INTERNAL_H */
