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
	/* geometry (multipolygon, point): the planning-data pipeline's names */
	{"invalid WKT", "error",
	"The value does not read as a geometry (WKT, with or without an SRID=n; prefix, or a GeoJSON geometry); it was dropped."},
	{"invalid type geojson", "warning",
	"The value was a GeoJSON geometry rather than WKT; it was read as GeoJSON."},
	{"Unexpected geom type", "error",
	"The geometry is of a type the field cannot hold (a multipolygon field takes polygons, a point field points); it was dropped."},
	{"Unexpected geom type within GeometryCollection", "error",
	"A GeometryCollection does not start with a polygon; it was dropped."},
	{"invalid coordinates", "error",
	"The coordinates are neither WGS84 degrees, British National Grid eastings/northings nor Web Mercator metres inside the boundary (or a point's coordinate columns do not hold numbers); the value was dropped."},
	{"WGS84 flipped", "warning",
	"The latitude and longitude were the other way round; they were swapped."},
	{"WGS84 out of bounds of England", "error",
	"The WGS84 geometry starts outside the default boundary (a box around England); it was dropped."},
	{"WGS84 out of bounds of custom boundary", "error",
	"The WGS84 geometry starts outside the dataset's boundary; it was dropped."},
	{"OSGB", "warning",
	"The geometry was read as British National Grid (EPSG:27700) eastings and northings and reprojected to WGS84."},
	{"OSGB flipped", "warning",
	"The geometry was read as British National Grid northings and eastings (axes swapped) and reprojected to WGS84."},
	{"OSGB out of bounds of England", "error",
	"The British National Grid geometry starts outside the default boundary (a box around England); it was dropped."},
	{"OSGB out of bounds of custom boundary", "error",
	"The British National Grid geometry starts outside the dataset's boundary; it was dropped."},
	{"Mercator", "warning",
	"The geometry was read as Web Mercator (EPSG:3857) metres and reprojected to WGS84."},
	{"Mercator flipped", "warning",
	"The geometry was read as Web Mercator metres with its axes swapped and reprojected to WGS84."},
	{"invalid geometry - fixed", "warning",
	"The geometry was invalid (the message says why); it was made valid."},
	{"invalid geometry - not fixable", "error",
	"The geometry is invalid and could not be made valid, or nothing polygonal was left; it was dropped."},
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
