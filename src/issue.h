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

extern int	dp_issue_type_count(void);
extern DpIssueType dp_issue_type_at(int i);

#endif							/* DP_ISSUE_H */
