/*
 * naming.h
 *		Names in specifications and the SQL identifiers made from them.
 *		Pure C, no backend calls.
 */
#ifndef DP_NAMING_H
#define DP_NAMING_H

#include <stdbool.h>
#include <stddef.h>

/* Longest identifier PostgreSQL keeps (NAMEDATALEN - 1). */
#define DP_IDENT_MAX 63

typedef enum DpNameStatus
{
	DP_NAME_OK = 0,
	DP_NAME_EMPTY,				/* nothing usable */
	DP_NAME_BAD_CHAR,			/* a character outside letters, digits, - _ . space */
	DP_NAME_BAD_START,			/* does not start with a letter */
	DP_NAME_TOO_LONG			/* the identifier would exceed DP_IDENT_MAX */
} DpNameStatus;

/*
 * Convert a spec name (camelCase, kebab-case, spaces, dots) to a snake_case
 * identifier: "paymentReference" -> "payment_reference", "tenure-type" ->
 * "tenure_type", "HTTPServer" -> "http_server".  out must hold
 * DP_IDENT_MAX + 1 bytes.  On failure out is "" and the status says why.
 */
extern DpNameStatus dp_snake_case(const char *name, char *out);

/* A sentence fragment explaining a status, for error details. */
extern const char *dp_name_status_message(DpNameStatus status);

/*
 * Product names: lowercase letters, digits, underscore and hyphen, starting
 * with a letter or digit, at most DP_IDENT_MAX bytes.
 */
extern bool dp_product_name_valid(const char *name);

#endif							/* DP_NAMING_H */
