/*
 * issue.h
 *		The catalogue of issue types: every finding the platform records
 *		about a value, with its severity.  The harmonise library's issues
 *		come first (in DpIssue order), then the pipeline's own.
 */
#ifndef DP_ISSUE_H
#define DP_ISSUE_H

typedef struct DpIssueType
{
	const char *name;
	const char *severity;		/* "error" | "warning" | "info" */
	const char *description;
} DpIssueType;

/* The pipeline's own issue types (the harmonise library has the rest). */
#define DP_ISSUE_MISSING_VALUE	"missing value"
#define DP_ISSUE_UNKNOWN_FIELD	"unknown field"
#define DP_ISSUE_PATCH			"patch"
#define DP_ISSUE_LOOKUP			"lookup"
#define DP_ISSUE_DEFAULT_VALUE	"default-value"
#define DP_ISSUE_DEFAULT_FIELD	"default-field"
#define DP_ISSUE_DUPLICATE_KEY	"duplicate key"
#define DP_ISSUE_MALFORMED_ROW	"malformed row"
#define DP_ISSUE_REJECTED_EVENT	"rejected event"
#define DP_ISSUE_DAY_MONTH_SWAPPED	"day-month swapped"
#define DP_ISSUE_DUPLICATE_VALUE	"duplicate value"
#define DP_ISSUE_UNKNOWN_REFERENCE	"unknown reference"
#define DP_ISSUE_DEPRECATED_FIELD	"deprecated field"

extern int	dp_issue_type_count(void);
extern DpIssueType dp_issue_type_at(int i);

/* Description of an issue type by name ("" when unknown). */
extern const char *dp_issue_type_description(const char *name);

#endif							/* DP_ISSUE_H */
