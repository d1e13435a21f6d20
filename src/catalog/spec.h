/*
 * spec.h
 *		Dataset specifications: the parsed form every other module reads.
 */
#ifndef DP_SPEC_H
#define DP_SPEC_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "datatype.h"
#include "naming.h"

typedef struct DpField
{
	char	   *name;			/* as in the spec: "paymentReference" */
	char		column[DP_IDENT_MAX + 1];	/* snake_case: "payment_reference" */
	DpDatatype	datatype;
	bool		required;		/* key fields are always required */
	bool		pii;
	bool		is_key;
	char	   *description;	/* NULL if none */
	char	   *pattern;		/* POSIX ERE, NULL if none */
	int			ncodelist;		/* 0 if no codelist */
	char	  **codelist;
	char	   *minimum;		/* numeric literal, NULL if none */
	char	   *maximum;
} DpField;

typedef struct DpSpec
{
	char	   *dataset;		/* as in the spec: "tenure" */
	char		table[DP_IDENT_MAX + 1];	/* dp_clean table name */
	char	   *product;
	char	   *description;	/* NULL if none */
	int			nkey;
	int		   *key;			/* indexes into fields, in key order */
	int			nfields;
	DpField    *fields;
} DpSpec;

/* Longest dataset table name, leaving room for "_history". */
#define DP_TABLE_NAME_MAX (DP_IDENT_MAX - 8)

/*
 * Parse and validate a specification.  Every problem is an ERROR naming the
 * dataset and field.  The result is palloc'd in CurrentMemoryContext.
 */
extern DpSpec *dp_spec_parse(Jsonb *spec);

/* Field by spec name or NULL. */
extern DpField *dp_spec_field(const DpSpec *spec, const char *name);

/* Field by column name or NULL. */
extern DpField *dp_spec_field_by_column(const DpSpec *spec, const char *column);

/* Key fields as "(a, b)" of their names, for messages. */
extern char *dp_spec_key_text(const DpSpec *spec);

#endif							/* DP_SPEC_H */
