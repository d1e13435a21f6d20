/*
 * issue.c
 *		The catalogue of issue types (dataplatform.issue_type).  Pure C.
 *		Value issues are owned by the harmonise library; this file adds
 *		nothing of its own yet and is where the pipeline's issue types go.
 */
#include <stddef.h>

#include "harmonise.h"
#include "issue.h"

int
dp_issue_type_count(void)
{
	return DP_ISSUE_COUNT - 1;
}

DpIssueType
dp_issue_type_at(int i)
{
	DpIssue		issue = (DpIssue) (i + 1);
	DpIssueType t;

	t.name = dp_issue_name(issue);
	t.severity = dp_issue_severity(issue);
	t.description = dp_issue_description(issue);
	return t;
}
