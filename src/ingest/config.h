/*
 * config.h
 *		Per-dataset configuration: how a producer's columns and values become
 *		spec fields.  Parsed and validated against the spec in config.c; used
 *		by the transform (transform.c).
 */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include "postgres.h"

#include "pattern.h"
#include "spec.h"

#define DP_FIELD_IGNORE	(-1)	/* "column": {"X": "IGNORE"} */

typedef struct DpColumnRule
{
	char	   *source;			/* column name in the data, exactly */
	int			field;			/* spec field index, or DP_FIELD_IGNORE */
} DpColumnRule;

typedef struct DpFilterRule
{
	int			field;
	char	   *pattern;
	DpPattern  *re;				/* matched at the start, case-sensitive */
} DpFilterRule;

typedef struct DpConcatRule
{
	int			field;
	int			nsources;
	char	  **sources;		/* source column names */
	char	   *separator;
	char	   *prepend;
	char	   *append;
} DpConcatRule;

typedef struct DpPatchRule
{
	int			field;			/* -1: any field */
	char	   *pattern;
	DpPattern  *re;				/* case-insensitive, anchored at the start */
	char	   *replacement;
} DpPatchRule;

typedef struct DpLookupRule
{
	int			field;
	char	   *from;			/* matched case-insensitively */
	char	   *to;
} DpLookupRule;

typedef struct DpDefaultRule
{
	int			field;
	char	   *value;			/* a constant, already harmonised; or NULL */
	int			from_field;		/* another field, or -1 */
} DpDefaultRule;

/* "point": a point field from two source columns (x, y as the source has them). */
typedef struct DpPointRule
{
	int			field;
	char	   *x;				/* longitude or easting column */
	char	   *y;				/* latitude or northing column */
} DpPointRule;

/* A path into an event envelope: "eventData.newData" -> {"eventData", "newData"}. */
typedef struct DpPath
{
	int			n;
	char	  **parts;
	char	   *text;			/* as configured, for messages */
} DpPath;

/* How event envelopes are read ("events" in the configuration). */
typedef struct DpEventsConfig
{
	DpPath		id;				/* default "id" */
	DpPath		entity;			/* default "entityId" */
	DpPath		time;			/* default "dateTime" */
	DpPath		type;			/* default "eventType" */
	DpPath		new_data;		/* default "eventData.newData" */
	DpPath		old_data;		/* default "eventData.oldData" */
	DpPath		sequence;		/* n == 0: order by time */
	int			ncreate;		/* 0: types ending in "CreatedEvent" create */
	char	  **create;
	int			ndelete;		/* 0: types ending in "DeletedEvent" delete */
	char	  **delete;
	int			nupdate;		/* 0: every other type updates */
	char	  **update;
	bool		upsert;			/* an update carrying a full valid row for an
								 * unknown entity inserts it */
} DpEventsConfig;

typedef struct DpConfig
{
	int			ncolumns;
	DpColumnRule *columns;
	int			nskip;
	char	  **skip;
	DpPattern **skip_re;		/* searched anywhere, case-sensitive */
	int			nfilters;
	DpFilterRule *filters;
	int			nconcats;
	DpConcatRule *concats;
	int			npatches;
	DpPatchRule *patches;		/* field-specific rules first, each group in order */
	int			nlookups;
	DpLookupRule *lookups;
	int			ndefaults;
	DpDefaultRule *defaults;
	bool		strict;
	char	   *boundary;		/* WKT, or NULL: England */
	int			npoints;
	DpPointRule *points;
	bool		async;			/* "processing": "async": pushes only land raw */
	DpEventsConfig events;
} DpConfig;

/*
 * Parse and validate a configuration for spec.  Every problem is an ERROR
 * naming the dataset and the rule.  config may be NULL (no configuration).
 * Everything, compiled patterns included, lives in CurrentMemoryContext.
 */
extern DpConfig *dp_config_parse(const DpSpec *spec, Jsonb *config);

/*
 * Field index for a field reference in a configuration: a spec field name,
 * or its column name; -1 if none.
 */
extern int	dp_spec_field_index(const DpSpec *spec, const char *ref);

#endif							/* DP_CONFIG_H */
