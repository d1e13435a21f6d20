/*
 * issue.c
 *		The catalogue of issue types (dataplatform.issue_type).  Pure C.
 *		Value issues are owned by the harmonise library; the pipeline's
 *		own follow them here.
 */
#include <stddef.h>
#include <string.h>

#include "harmonise.h"
#include "issue.h"

static const DpIssueType pipeline_issues[] = {
	{DP_ISSUE_MISSING_VALUE, "error",
	"A required field (or a key field) has no value; the row is quarantined."},
	{DP_ISSUE_UNKNOWN_FIELD, "warning",
	"A column of the data matches no field of the specification; its values were dropped."},
	{DP_ISSUE_PATCH, "warning",
	"A patch rule of the configuration changed the value."},
	{DP_ISSUE_LOOKUP, "warning",
	"The configuration's lookup replaced the value with its canonical value."},
	{DP_ISSUE_DEFAULT_VALUE, "warning",
	"The field was empty and was given the configuration's default value."},
	{DP_ISSUE_DEFAULT_FIELD, "warning",
	"The field was empty and was given the value of another field."},
	{DP_ISSUE_DAY_MONTH_SWAPPED, "warning",
	"A date was read with day and month the other way round, because the first reading was impossible (12/13/2020, 2020-13-12)."},
	{DP_ISSUE_DUPLICATE_KEY, "warning",
	"A later row of the same batch has the same key; the later row was kept."},
	{DP_ISSUE_DUPLICATE_VALUE, "warning",
	"A unique field's value is already held by another record (a stored one, or an earlier row of the batch); the row loads, or is quarantined (severity error) when the field is \"unique\": \"strict\"."},
	{DP_ISSUE_UNKNOWN_REFERENCE, "warning",
	"The value matches no record of the dataset the field references; the severity is the reference's own (error: the row is quarantined)."},
	{DP_ISSUE_DEPRECATED_FIELD, "info",
	"The batch gives a value to a deprecated field (reported once per batch, on its first such row); the value loads."},
	{DP_ISSUE_REJECTED_EVENT, "error",
	"A change event could not be used (no id, entity or time, unreadable time, no new data, or a resulting row that does not validate); it was not applied."},
	{DP_ISSUE_MALFORMED_ROW, "error",
	"On rebuild, a CSV record that a skip pattern used to drop does not have one value per header column; it is quarantined."},
};

#define N_PIPELINE_ISSUES ((int) (sizeof(pipeline_issues) / sizeof(pipeline_issues[0])))

int
dp_issue_type_count(void)
{
	return DP_ISSUE_COUNT - 1 + N_PIPELINE_ISSUES;
}

DpIssueType
dp_issue_type_at(int i)
{
	DpIssue		issue = (DpIssue) (i + 1);
	DpIssueType t;

	if (i >= DP_ISSUE_COUNT - 1)
		return pipeline_issues[i - (DP_ISSUE_COUNT - 1)];

	t.name = dp_issue_name(issue);
	t.severity = dp_issue_severity(issue);
	t.description = dp_issue_description(issue);
	return t;
}

const char *
dp_issue_type_description(const char *name)
{
	int			i;

	for (i = 0; i < dp_issue_type_count(); i++)
	{
		DpIssueType t = dp_issue_type_at(i);

		if (strcmp(t.name, name) == 0)
			return t.description;
	}
	return "";
}
