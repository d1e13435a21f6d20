/*
 * obfuscate.h
 *		PII obfuscation outside production (see obfuscate.c).
 */
#ifndef DP_OBFUSCATE_H
#define DP_OBFUSCATE_H

#include "postgres.h"

#include "utils/guc.h"
#include "utils/jsonb.h"

#include "csv.h"
#include "guc.h"
#include "spec.h"
#include "transform.h"


/*
 * Whether pushes to this dataset are obfuscated (not production, and the
 * spec has PII fields); an ERROR when they must be but no key is set.
 */
extern bool dp_obfuscation_needed(const DpSpec *spec);

/* The token of one non-empty, trimmed value of a field of this datatype. */
extern char *dp_obfuscate_value(DpDatatype dt, const char *v, size_t len);

/* The token of a cell of a PII field, or NULL when the cell is empty. */
extern char *dp_obfuscate_cell(const DpField *f, const char *v, size_t len);

/* A JSON payload (an object or an array of objects) with PII members replaced. */
extern Jsonb *dp_obfuscate_rows(DpTransform *t, Jsonb *rows);

/*
 * A CSV record with PII cells replaced (in fields too); returns the
 * record's new text.  colmap: source column index per field of the record.
 */
extern char *dp_obfuscate_csv_record(DpTransform *t, const int *colmap, DpCsvField *fields,
									 size_t nfields, char delimiter, char quote, size_t *outlen);

#endif							/* DP_OBFUSCATE_H */
