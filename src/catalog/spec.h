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

/* A field's "unique" member. */
typedef enum DpUnique
{
	DP_UNIQUE_NONE = 0,
	DP_UNIQUE_WARN,				/* true: duplicate value, a warning */
	DP_UNIQUE_STRICT			/* "strict": duplicate value, quarantined */
} DpUnique;

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

	/* contract members (spec_contract.c) */
	char	  **codelabel;		/* per codelist entry: its label or NULL */
	DpUnique	unique;
	char	   *ref_dataset;	/* "references", NULL if none */
	char	   *ref_field;
	const char *ref_severity;	/* "error" | "warning" | "info" */
	int64		min_length;		/* 0: none */
	int64		max_length;		/* -1: none */
	int			nexamples;
	char	  **examples;		/* as given (JSON scalars as text) */
	bool		deprecated;
	char	   *replaced_by;	/* NULL if none */
	const char *classification; /* as given, NULL if none */
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

	/* contract members (spec_contract.c) */
	char	   *fresh_within;	/* interval text, NULL if none */
	const char *classification; /* NULL if none */
	int			nnotes;			/* unknown members kept (allow_unknown) */
	char	  **notes;
} DpSpec;

/* Longest dataset table name, leaving room for "_history". */
#define DP_TABLE_NAME_MAX (DP_IDENT_MAX - 8)

/*
 * Parse and validate a specification.  Every problem is an ERROR naming the
 * dataset and field.  The result is palloc'd in CurrentMemoryContext.
 * dp_spec_parse reads a stored specification (unknown members were
 * accepted when it was defined: they become notes); dp_spec_parse_new a
 * proposed one, where an unknown member is an error unless allow_unknown.
 */
extern DpSpec *dp_spec_parse(Jsonb *spec);
extern DpSpec *dp_spec_parse_new(Jsonb *spec, bool allow_unknown);
/*
 * dp_spec_parse of a stored specification, parsed once per backend and
 * shared: read-only, valid for the backend's life.
 */
extern const DpSpec *dp_spec_parse_cached(Jsonb *spec);

/*
 * The stored specification of a dataset, parsed (dp_spec_parse); an ERROR
 * when there is no such dataset.  SPI must be connected.
 */
extern DpSpec *dp_spec_of(const char *dataset);

/* A field's classification in force: its own, or "confidential" for PII. */
extern const char *dp_spec_field_classification(const DpField *f);

/*
 * Comments for BI tools (spec_contract.c): a column's (its description and
 * contract members) and the clean table's; NULL when there is nothing.
 */
extern char *dp_spec_field_comment(const DpField *f);
extern char *dp_spec_table_comment(const DpSpec *spec);

/* Field by spec name or NULL. */
extern DpField *dp_spec_field(const DpSpec *spec, const char *name);

/* Field by column name or NULL. */
extern DpField *dp_spec_field_by_column(const DpSpec *spec, const char *column);

/* Key fields as "(a, b)" of their names, for messages. */
extern char *dp_spec_key_text(const DpSpec *spec);

#endif							/* DP_SPEC_H */
