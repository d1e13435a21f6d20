/*
 * transform.h
 *		The transform: one producer row -> one row of typed spec fields and
 *		its issues, by the dataset's spec and configuration.
 *
 * Order (as digital-land's pipeline phases): normalise cells -> skip -> map
 * columns -> filter -> concat -> patch -> lookup -> harmonise datatypes ->
 * default -> validate.
 */
#ifndef DP_TRANSFORM_H
#define DP_TRANSFORM_H

#include "postgres.h"

#include "config.h"
#include "harmonise.h"
#include "spec.h"

/* Where a source column went. */
typedef enum DpColumnHow
{
	DP_COL_CONFIG,				/* "column" rule */
	DP_COL_MATCHED,				/* name matched a field */
	DP_COL_IGNORED,				/* "column" rule says IGNORE */
	DP_COL_CONCAT,				/* used only by a concat rule */
	DP_COL_UNKNOWN				/* matches nothing: dropped, "unknown field" */
} DpColumnHow;

typedef struct DpSourceColumn
{
	char	   *name;
	int			len;
	int			field;			/* field index, or -1 */
	DpColumnHow how;
} DpSourceColumn;

typedef enum DpRowStatus
{
	DP_ROW_LOADED,
	DP_ROW_QUARANTINED,
	DP_ROW_SKIPPED,				/* a skip pattern matched */
	DP_ROW_FILTERED				/* a filter did not match */
} DpRowStatus;

/* One recorded issue. */
typedef struct DpIssueRec
{
	int64		row_number;		/* 0: about the batch, not a row */
	int64		line_number;	/* 0: unknown */
	const char *field;
	const char *issue_type;
	const char *severity;
	char	   *value;
	char	   *normalised;
	char	   *message;
} DpIssueRec;

/* A row as the producer sent it: values by source column index. */
typedef struct DpSourceRow
{
	int64		row_number;
	int64		line_number;
	const char *raw;			/* CSV: the record's text; NULL for JSON */
	size_t		raw_len;
	int			ncells;			/* entries in vals/lens (<= ncolumns) */
	const char **vals;			/* NULL: absent */
	size_t	   *lens;
} DpSourceRow;

#define DP_VLEN_UNKNOWN ((size_t) -1)

typedef struct DpTransform
{
	const DpSpec *spec;
	const DpConfig *cfg;
	DpConstraints *constraints; /* per field */
	MemoryContext batch_cxt;	/* columns and issues live here */
	MemoryContext row_cxt;		/* reset for every row */

	int			ncolumns;
	int			maxcolumns;
	DpSourceColumn *columns;

	int			nissues;
	int			maxissues;
	DpIssueRec *issues;
	int64		issue_counts[3];	/* error, warning, info */
	/* and by type, in the order first met (types: the issue catalogue's) */
#define DP_TRANSFORM_ISSUE_TYPES 64
	int			ntypes;
	const char *type_names[DP_TRANSFORM_ISSUE_TYPES];
	int64		type_counts[DP_TRANSFORM_ISSUE_TYPES];
	bool		types_overflow; /* more types than slots: not counted */

	/*
	 * Partial rows (update events): only the fields the row mentions
	 * matter; no defaults and no required-field check (the caller merges
	 * the row onto the current state and validates the result).
	 */
	bool		partial;

	/* geometries: PostGIS's functions and the boundary (NULL: no spatial field) */
	struct DpSpatial *spatial;
	bool		geojson_source;	/* values of spatial fields are GeoJSON by design */
	bool	   *configured;		/* per field: a "column" rule feeds it */

	/* per-row scratch (row_cxt); after dp_transform_row, for the caller */
	char	  **value;			/* per field: current value, NULL = empty */
	char	  **original;		/* per field: value as sent */
	size_t	   *vlen;			/* per field: strlen(value) when known, else
								 * DP_VLEN_UNKNOWN */
	bool	   *dropped;		/* per field: harmonising dropped it */
	bool	   *mentioned;		/* per field: the row has a column for it */
	bool	   *deprecated_seen;	/* per field: "deprecated field" reported in this batch */
	char	   *buf;
	size_t		bufsize;

	/*
	 * The row's cells and harmonised values, one after another (batch_cxt;
	 * emptied at each row): fewer pallocs than one each.  A row that finds
	 * it full pallocs in row_cxt instead, and the next row has twice the
	 * room.
	 */
	char	   *arena;
	size_t		arena_size;
	size_t		arena_used;
	bool		arena_short;
} DpTransform;

/* Set up for one batch; everything lives in CurrentMemoryContext. */
extern DpTransform *dp_transform_begin(const DpSpec *spec, const DpConfig *cfg);

/* Index of a source column (added and resolved on first sight). */
extern int	dp_transform_column(DpTransform *t, const char *name, int len);
/* the same, trying column guess first (-1: no guess) */
extern int	dp_transform_column_guess(DpTransform *t, const char *name, int len, int guess);

/*
 * The PII field a source column feeds (mapped to it, or a source of its
 * concat rule), or -1.
 */
extern int	dp_transform_pii_field(const DpTransform *t, int col);

/* Cell normalisation (trim; the spellings of "no value" are NULL). */
extern char *dp_transform_normalise_cell(const char *v, size_t len);

/*
 * Transform one row.  out (nfields entries) receives the normalised values,
 * palloc'd in CurrentMemoryContext, NULL for empty.  Issues are appended to
 * t->issues.
 */
extern DpRowStatus dp_transform_row(DpTransform *t, const DpSourceRow *row, char **out);

/*
 * Record an issue about a row (row_number 0: about the batch) and a field
 * (index, or -1 with field_name); strings are copied.
 */
extern void dp_transform_add_issue(DpTransform *t, int64 row_number, int64 line_number,
								   int field, const char *type, const char *severity,
								   const char *value, const char *normalised,
								   const char *message);
extern void dp_transform_add_issue_named(DpTransform *t, int64 row_number, int64 line_number,
										 int field, const char *field_name, const char *type,
										 const char *severity, const char *value,
										 const char *normalised, const char *message);

/*
 * Whether a "skip" pattern drops the row (matched against the CSV record's
 * text, or the values joined by commas).  Scratch goes to CurrentMemoryContext.
 */
extern bool dp_transform_skips(DpTransform *t, const DpSourceRow *row);

/* Forget the issues recorded so far (after they were written). */
extern void dp_transform_reset_issues(DpTransform *t);

/* The column mapping as JSON text: [{"column", "field", "how"}, ...]. */
extern char *dp_transform_mapping_json(const DpTransform *t);

#endif							/* DP_TRANSFORM_H */
