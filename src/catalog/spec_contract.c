/*
 * spec_contract.c
 *		The contract members of a specification (issue 15): unique,
 *		references, min_length / max_length, examples, labelled codelists,
 *		deprecated / replaced_by, classification (field and dataset) and
 *		fresh_within.  Owns their parsing and validation (every problem an
 *		ERROR naming dataset and field), the classification of their changes
 *		between versions (loosening minor, tightening breaking), their
 *		catalog form (field options, column and table comments) and the
 *		check of a reference against the referenced dataset.  Enforcement at
 *		ingest is the pipeline's (src/ingest/contract.c, src/lib/harmonise.c
 *		for lengths).
 */
#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "spec_internal.h"			/* before any backend builtins.h: util.h */
#include "harmonise.h"

static const char *const classifications[] = {
	"public", "internal", "confidential", "restricted"
};

/* Rank of a classification (0 = public), -1 when unknown. */
static int
classification_rank(const char *c)
{
	int			i;

	for (i = 0; c && i < (int) lengthof(classifications); i++)
		if (strcmp(c, classifications[i]) == 0)
			return i;
	return -1;
}

static const char *
get_classification(json_t *obj, const char *ds, const char *field)
{
	json_t	   *v = json_object_get(obj, "classification");
	int			r;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		dp_spec_type_error(ds, field, "classification", "a string", v);
	r = classification_rank(json_string_value(v));
	if (r < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 field ?
				 errmsg("unknown classification \"%s\" for field \"%s\" of dataset \"%s\"",
						json_string_value(v), field, ds) :
				 errmsg("unknown classification \"%s\" in specification of dataset \"%s\"",
						json_string_value(v), ds),
				 errhint("Classifications are: public, internal, confidential, restricted.")));
	return classifications[r];
}

const char *
dp_spec_field_classification(const DpField *f)
{
	if (f->classification)
		return f->classification;
	return f->pii ? "confidential" : NULL;
}

/* Codes compare case-insensitively, spaces as hyphens. */
static bool
codes_equivalent(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
	{
		char		ca = (*a == ' ') ? '-' : pg_ascii_tolower((unsigned char) *a);
		char		cb = (*b == ' ') ? '-' : pg_ascii_tolower((unsigned char) *b);

		if (ca != cb)
			return false;
	}
	return *a == *b;
}

/*
 * "codelist": an array whose entries are codes, or {"value": code, "label":
 * text} objects; both forms may be mixed.
 */
void
dp_spec_contract_codelist(DpSpec *spec, DpField *f, json_t *v)
{
	const char *ds = spec->dataset;
	size_t		i;
	json_t	   *code;

	if (!json_is_array(v))
		dp_spec_type_error(ds, f->name, "codelist", "an array of strings or {\"value\", \"label\"} objects", v);
	if (f->datatype != DP_DT_STRING && f->datatype != DP_DT_TEXT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"codelist\" does not apply to %s field \"%s\" of dataset \"%s\"",
						dp_datatype_name(f->datatype), f->name, ds),
				 errhint("A codelist belongs on a string or text field.")));
	if (json_array_size(v) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("empty codelist for field \"%s\" of dataset \"%s\"", f->name, ds),
				 errhint("List the allowed values, or drop the codelist.")));
	f->ncodelist = json_array_size(v);
	f->codelist = palloc(sizeof(char *) * f->ncodelist);
	f->codelabel = palloc0(sizeof(char *) * f->ncodelist);
	json_array_foreach(v, i, code)
	{
		int			j;
		json_t	   *value = code;

		if (json_is_object(code))
		{
			const char *key;
			json_t	   *m;
			json_t	   *label = json_object_get(code, "label");

			json_object_foreach(code, key, m)
			{
				if (strcmp(key, "value") != 0 && strcmp(key, "label") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("unknown member \"%s\" in codelist entry %zu of field \"%s\" of dataset \"%s\"",
									key, i + 1, f->name, ds),
							 errhint("A codelist entry is a string or {\"value\": \"SEC\", \"label\": \"Secure\"}.")));
			}
			value = json_object_get(code, "value");
			if (label != NULL && !json_is_null(label))
			{
				if (!json_is_string(label))
					dp_spec_type_error(ds, f->name, "label", "a string", label);
				f->codelabel[i] = pstrdup(json_string_value(label));
			}
			if (value == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("codelist entry %zu of field \"%s\" of dataset \"%s\" has no \"value\"",
								i + 1, f->name, ds)));
		}
		if (!json_is_string(value) || json_string_length(value) == 0)
			dp_spec_type_error(ds, f->name, "codelist", "an array of non-empty strings or {\"value\", \"label\"} objects", value);
		f->codelist[i] = pstrdup(json_string_value(value));
		for (j = 0; j < (int) i; j++)
			if (codes_equivalent(f->codelist[j], f->codelist[i]))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("codelist for field \"%s\" of dataset \"%s\" repeats \"%s\"",
								f->name, ds, f->codelist[i]),
						 errdetail("Codes match case-insensitively with spaces taken as hyphens, so \"%s\" and \"%s\" are the same code.",
								   f->codelist[j], f->codelist[i])));
	}
}

static int64
get_length(json_t *obj, const char *member, DpSpec *spec, DpField *f, int64 none)
{
	json_t	   *v = json_object_get(obj, member);
	double		d;

	if (v == NULL || json_is_null(v))
		return none;
	if (!json_is_number(v))
		dp_spec_type_error(spec->dataset, f->name, member, "a whole number", v);
	d = json_number_value(v);
	if (d < 0 || d > PG_INT32_MAX || d != floor(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid \"%s\" for field \"%s\" of dataset \"%s\"", member, f->name,
						spec->dataset),
				 errdetail("Expected a whole number from 0 to %d, got %.15g.", PG_INT32_MAX, d)));
	if (f->datatype != DP_DT_STRING && f->datatype != DP_DT_TEXT && f->datatype != DP_DT_URL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" does not apply to %s field \"%s\" of dataset \"%s\"",
						member, dp_datatype_name(f->datatype), f->name, spec->dataset),
				 errhint("Lengths apply to string, text and url fields.")));
	return (int64) d;
}

/* An example as text: strings as they are, numbers and booleans spelled out. */
static char *
example_text(DpSpec *spec, DpField *f, json_t *v)
{
	if (json_is_string(v))
		return pstrdup(json_string_value(v));
	if (json_is_boolean(v))
		return pstrdup(json_is_true(v) ? "true" : "false");
	if (json_is_number(v))
	{
		double		d = json_number_value(v);

		if (d == floor(d) && fabs(d) < 1e15)
			return psprintf("%.0f", d);
		return psprintf("%.15g", d);
	}
	if (f->datatype == DP_DT_JSON)
	{
		char	   *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		char	   *r = pstrdup(s);

		free(s);
		return r;
	}
	dp_spec_type_error(spec->dataset, f->name, "examples", "an array of strings, numbers or booleans", v);
}

/* Each example must be a value the field accepts, constraints included. */
static void
check_example(DpSpec *spec, DpField *f, const char *example)
{
	DpConstraints c;
	DpPattern  *re = NULL;
	DpIssue		issue;
	size_t		n;
	char		small[2];

	memset(&c, 0, sizeof(c));
	c.minimum = f->minimum;
	c.maximum = f->maximum;
	c.codelist = (const char *const *) f->codelist;
	c.ncodelist = f->ncodelist;
	c.min_length = f->min_length;
	c.max_length = f->max_length;
	c.has_max_length = f->max_length >= 0;
	if (f->pattern)
	{
		re = palloc(dp_pattern_size());
		if (!dp_pattern_compile(re, f->pattern, NULL, 0))
			elog(ERROR, "pattern of field \"%s\" does not compile", f->name);
		c.pattern = re;
	}
	n = dp_harmonise(f->datatype, example, strlen(example), &c, small, sizeof(small), &issue);
	if (n >= sizeof(small))
	{
		char	   *buf = palloc(n + 1);

		(void) dp_harmonise(f->datatype, example, strlen(example), &c, buf, n + 1, &issue);
		pfree(buf);
	}
	if (re)
	{
		dp_pattern_free(re);
		pfree(re);
	}
	if (issue != DP_ISSUE_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("example \"%s\" of field \"%s\" of dataset \"%s\" is not a valid value",
						example, f->name, spec->dataset),
				 errdetail("It gives the issue \"%s\".", dp_issue_name(issue)),
				 errhint("Examples must be values the field accepts.")));
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("example of field \"%s\" of dataset \"%s\" is empty", f->name, spec->dataset)));
}

/*
 * The contract members of one field, after its core members (datatype,
 * pattern, codelist, minimum, maximum, pii) were read.
 */
void
dp_spec_contract_field(DpSpec *spec, DpField *f, json_t *obj)
{
	const char *ds = spec->dataset;
	json_t	   *v;

	/* unique */
	v = json_object_get(obj, "unique");
	if (v == NULL || json_is_null(v) || json_is_false(v))
		f->unique = DP_UNIQUE_NONE;
	else if (json_is_true(v))
		f->unique = DP_UNIQUE_WARN;
	else if (json_is_string(v) && strcmp(json_string_value(v), "strict") == 0)
		f->unique = DP_UNIQUE_STRICT;
	else
		dp_spec_type_error(ds, f->name, "unique", "true, false or \"strict\"", v);
	if (f->unique != DP_UNIQUE_NONE && f->datatype == DP_DT_JSON)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"unique\" does not apply to json field \"%s\" of dataset \"%s\"",
						f->name, ds)));

	/* references */
	v = json_object_get(obj, "references");
	if (v != NULL && !json_is_null(v))
	{
		const char *key;
		json_t	   *m;
		json_t	   *sev;

		if (!json_is_object(v))
			dp_spec_type_error(ds, f->name, "references", "an object {\"dataset\", \"field\", \"severity\"}", v);
		json_object_foreach(v, key, m)
		{
			if (strcmp(key, "dataset") != 0 && strcmp(key, "field") != 0 &&
				strcmp(key, "severity") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown member \"%s\" in \"references\" of field \"%s\" of dataset \"%s\"",
								key, f->name, ds),
						 errhint("\"references\" members are: dataset, field, severity.")));
		}
		m = json_object_get(v, "dataset");
		if (m == NULL || !json_is_string(m))
			dp_spec_type_error(ds, f->name, "references.dataset", "a dataset name", m ? m : json_null());
		f->ref_dataset = pstrdup(json_string_value(m));
		m = json_object_get(v, "field");
		if (m == NULL || !json_is_string(m))
			dp_spec_type_error(ds, f->name, "references.field", "a field name", m ? m : json_null());
		f->ref_field = pstrdup(json_string_value(m));
		f->ref_severity = "warning";
		sev = json_object_get(v, "severity");
		if (sev != NULL && !json_is_null(sev))
		{
			const char *s = json_is_string(sev) ? json_string_value(sev) : "";

			if (strcmp(s, "error") == 0)
				f->ref_severity = "error";
			else if (strcmp(s, "warning") == 0)
				f->ref_severity = "warning";
			else if (strcmp(s, "info") == 0)
				f->ref_severity = "info";
			else
				dp_spec_type_error(ds, f->name, "references.severity", "\"error\", \"warning\" or \"info\"", sev);
		}
	}

	/* lengths */
	f->min_length = get_length(obj, "min_length", spec, f, 0);
	f->max_length = get_length(obj, "max_length", spec, f, -1);
	if (f->max_length >= 0 && f->min_length > f->max_length)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_length %lld is greater than max_length %lld for field \"%s\" of dataset \"%s\"",
						(long long) f->min_length, (long long) f->max_length, f->name, ds)));

	/* deprecation */
	v = json_object_get(obj, "deprecated");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		dp_spec_type_error(ds, f->name, "deprecated", "true or false", v);
	f->deprecated = v != NULL && json_is_true(v);
	v = json_object_get(obj, "replaced_by");
	if (v != NULL && !json_is_null(v))
	{
		if (!json_is_string(v))
			dp_spec_type_error(ds, f->name, "replaced_by", "a field name", v);
		f->replaced_by = pstrdup(json_string_value(v));
	}

	/* classification */
	f->classification = get_classification(obj, ds, f->name);
	if (f->pii && f->classification && classification_rank(f->classification) < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("PII field \"%s\" of dataset \"%s\" cannot be classified \"%s\"",
						f->name, ds, f->classification),
				 errdetail("Personal data is at least confidential."),
				 errhint("Classify it confidential or restricted, or leave the classification out.")));

	/* examples, last: they must pass every constraint above */
	v = json_object_get(obj, "examples");
	if (v != NULL && !json_is_null(v))
	{
		size_t		i;
		json_t	   *e;

		if (!json_is_array(v))
			dp_spec_type_error(ds, f->name, "examples", "an array", v);
		if (json_array_size(v) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("empty \"examples\" for field \"%s\" of dataset \"%s\"", f->name, ds),
					 errhint("Give at least one example, or drop \"examples\".")));
		f->nexamples = json_array_size(v);
		f->examples = palloc(sizeof(char *) * f->nexamples);
		json_array_foreach(v, i, e)
		{
			f->examples[i] = example_text(spec, f, e);
			check_example(spec, f, f->examples[i]);
		}
	}
}

/* Whether field f of spec may be referenced: the only key field, or unique. */
static bool
referable(const DpSpec *spec, const DpField *f)
{
	return (f->is_key && spec->nkey == 1) || f->unique != DP_UNIQUE_NONE;
}

/*
 * The spec-level contract members, and the checks that need every field
 * and the key.
 */
void
dp_spec_contract_spec(DpSpec *spec, json_t *root)
{
	const char *ds = spec->dataset;
	json_t	   *v;
	int			i;

	spec->classification = get_classification(root, ds, NULL);
	v = json_object_get(root, "fresh_within");
	if (v != NULL && !json_is_null(v))
	{
		MemoryContext cxt = CurrentMemoryContext;
		Interval   *volatile iv = NULL;
		volatile bool ok = true;

		if (!json_is_string(v))
			dp_spec_type_error(ds, NULL, "fresh_within", "an interval such as \"26 hours\"", v);
		PG_TRY();
		{
			iv = DatumGetIntervalP(DirectFunctionCall3(interval_in,
													   CStringGetDatum(json_string_value(v)),
													   ObjectIdGetDatum(InvalidOid),
													   Int32GetDatum(-1)));
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			FlushErrorState();
			ok = false;
		}
		PG_END_TRY();
		if (ok)
		{
			Interval	zero;

			memset(&zero, 0, sizeof(zero));
			ok = DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(iv),
												  IntervalPGetDatum(&zero)));
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid \"fresh_within\" in specification of dataset \"%s\": \"%s\"",
							ds, json_string_value(v)),
					 errhint("Give a positive interval, such as \"26 hours\" or \"7 days\".")));
		spec->fresh_within = pstrdup(json_string_value(v));
	}

	for (i = 0; i < spec->nfields; i++)
	{
		DpField    *f = &spec->fields[i];

		if (f->is_key && f->unique != DP_UNIQUE_NONE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key field \"%s\" of dataset \"%s\" cannot be \"unique\"", f->name, ds),
					 errdetail("The key is unique already: a later row with the same key replaces the earlier one."),
					 errhint("Drop \"unique\" from the key field.")));
		if (f->is_key && f->deprecated)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key field \"%s\" of dataset \"%s\" cannot be deprecated", f->name, ds),
					 errhint("Change the key first (a breaking change).")));
		if (f->replaced_by)
		{
			const DpField *r = dp_spec_field(spec, f->replaced_by);

			if (!f->deprecated)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("field \"%s\" of dataset \"%s\" has \"replaced_by\" but is not deprecated",
								f->name, ds),
						 errhint("Add \"deprecated\": true, or drop \"replaced_by\".")));
			if (r == NULL || r == f || r->deprecated)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("field \"%s\" of dataset \"%s\" is replaced by \"%s\", which is not a current field",
								f->name, ds, f->replaced_by),
						 errhint("\"replaced_by\" names another field of the dataset that is not deprecated.")));
		}
		if (f->ref_dataset && strcmp(f->ref_dataset, ds) == 0)
		{
			const DpField *t = dp_spec_field(spec, f->ref_field);

			if (t == NULL || !referable(spec, t))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("field \"%s\" of dataset \"%s\" references \"%s\", which is not the key or a unique field of the dataset",
								f->name, ds, f->ref_field),
						 errhint("A reference names the only key field or a \"unique\" field.")));
			if (t->datatype != f->datatype)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("field \"%s\" of dataset \"%s\" is %s but references %s field \"%s\"",
								f->name, ds, dp_datatype_name(f->datatype),
								dp_datatype_name(t->datatype), t->name)));
		}
	}
}

/* ------------------------------------------------------------------------
 * Changes between versions
 * ------------------------------------------------------------------------
 */

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
severity_rank(const char *s)
{
	if (s == NULL)
		return -1;
	return strcmp(s, "info") == 0 ? 0 : strcmp(s, "warning") == 0 ? 1 : 2;
}

/* The contract members of a field both versions have (o old, n new). */
void
dp_spec_contract_field_changes(const DpField *o, const DpField *n, DpSpecChanges *c)
{
	static const char *const uniq[] = {"false", "true", "\"strict\""};
	int			i;
	bool		labels_same = true;

	if (o->unique != n->unique)
		dp_spec_add_change(c, n->unique > o->unique, "field \"%s\": unique changed from %s to %s",
						   n->name, uniq[o->unique], uniq[n->unique]);
	if (!str_eq(o->ref_dataset, n->ref_dataset) || !str_eq(o->ref_field, n->ref_field))
	{
		if (n->ref_dataset == NULL)
			dp_spec_add_change(c, false, "field \"%s\": reference removed", n->name);
		else
			dp_spec_add_change(c, true, "field \"%s\": now references %s.%s", n->name,
							   n->ref_dataset, n->ref_field);
	}
	else if (n->ref_dataset && !str_eq(o->ref_severity, n->ref_severity))
		dp_spec_add_change(c, severity_rank(n->ref_severity) > severity_rank(o->ref_severity),
						   "field \"%s\": reference severity changed from %s to %s",
						   n->name, o->ref_severity, n->ref_severity);
	if (o->min_length != n->min_length)
		dp_spec_add_change(c, n->min_length > o->min_length,
						   "field \"%s\": min_length changed from %lld to %lld", n->name,
						   (long long) o->min_length, (long long) n->min_length);
	if (o->max_length != n->max_length)
		dp_spec_add_change(c, n->max_length >= 0 && (o->max_length < 0 || n->max_length < o->max_length),
						   "field \"%s\": max_length changed from %s to %s", n->name,
						   o->max_length < 0 ? "none" : psprintf("%lld", (long long) o->max_length),
						   n->max_length < 0 ? "none" : psprintf("%lld", (long long) n->max_length));
	if (o->nexamples != n->nexamples)
		dp_spec_add_change(c, false, "field \"%s\": examples changed", n->name);
	else
		for (i = 0; i < n->nexamples; i++)
			if (strcmp(o->examples[i], n->examples[i]) != 0)
			{
				dp_spec_add_change(c, false, "field \"%s\": examples changed", n->name);
				break;
			}
	for (i = 0; labels_same && o->ncodelist == n->ncodelist && i < n->ncodelist; i++)
	{
		/* labels of the same codes (a changed codelist is reported as such) */
		if (strcmp(o->codelist[i], n->codelist[i]) != 0)
			break;
		labels_same = str_eq(o->codelabel[i], n->codelabel[i]);
	}
	if (!labels_same)
		dp_spec_add_change(c, false, "field \"%s\": codelist labels changed", n->name);
	if (o->deprecated != n->deprecated || !str_eq(o->replaced_by, n->replaced_by))
		dp_spec_add_change(c, false, "field \"%s\": %s", n->name,
						   n->deprecated ? (n->replaced_by ? psprintf("deprecated, replaced by \"%s\"", n->replaced_by) : "deprecated") :
						   "no longer deprecated");
	if (!str_eq(o->classification, n->classification))
		dp_spec_add_change(c, false, "field \"%s\": classification changed from %s to %s", n->name,
						   o->classification ? o->classification : "none",
						   n->classification ? n->classification : "none");
}

void
dp_spec_contract_spec_changes(const DpSpec *old, const DpSpec *new, DpSpecChanges *c)
{
	if (!str_eq(old->fresh_within, new->fresh_within))
		dp_spec_add_change(c, false, "fresh_within changed from %s to %s",
						   old->fresh_within ? old->fresh_within : "none",
						   new->fresh_within ? new->fresh_within : "none");
	if (!str_eq(old->classification, new->classification))
		dp_spec_add_change(c, false, "classification changed from %s to %s",
						   old->classification ? old->classification : "none",
						   new->classification ? new->classification : "none");
}

/* ------------------------------------------------------------------------
 * Catalog form
 * ------------------------------------------------------------------------
 */

/* dataplatform.fields.options: every member beyond the core columns. */
char *
dp_spec_field_options_json(const DpField *f)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	if (f->codelist)
	{
		appendStringInfoString(&buf, ", \"codelist\": [");
		for (i = 0; i < f->ncodelist; i++)
		{
			if (i)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, f->codelist[i]);
		}
		appendStringInfoChar(&buf, ']');
		for (i = 0; i < f->ncodelist && f->codelabel[i] == NULL; i++)
			;
		if (i < f->ncodelist)
		{
			appendStringInfoString(&buf, ", \"labels\": {");
			for (i = 0; i < f->ncodelist; i++)
			{
				if (f->codelabel[i] == NULL)
					continue;
				if (buf.data[buf.len - 1] != '{')
					appendStringInfoString(&buf, ", ");
				escape_json(&buf, f->codelist[i]);
				appendStringInfoString(&buf, ": ");
				escape_json(&buf, f->codelabel[i]);
			}
			appendStringInfoChar(&buf, '}');
		}
	}
	if (f->pattern)
	{
		appendStringInfoString(&buf, ", \"pattern\": ");
		escape_json(&buf, f->pattern);
	}
	if (f->minimum)
		appendStringInfo(&buf, ", \"minimum\": %s", f->minimum);
	if (f->maximum)
		appendStringInfo(&buf, ", \"maximum\": %s", f->maximum);
	if (f->unique)
		appendStringInfo(&buf, ", \"unique\": %s", f->unique == DP_UNIQUE_STRICT ? "\"strict\"" : "true");
	if (f->ref_dataset)
	{
		appendStringInfoString(&buf, ", \"references\": {\"dataset\": ");
		escape_json(&buf, f->ref_dataset);
		appendStringInfoString(&buf, ", \"field\": ");
		escape_json(&buf, f->ref_field);
		appendStringInfo(&buf, ", \"severity\": \"%s\"}", f->ref_severity);
	}
	if (f->min_length > 0)
		appendStringInfo(&buf, ", \"min_length\": %lld", (long long) f->min_length);
	if (f->max_length >= 0)
		appendStringInfo(&buf, ", \"max_length\": %lld", (long long) f->max_length);
	if (f->nexamples)
	{
		appendStringInfoString(&buf, ", \"examples\": [");
		for (i = 0; i < f->nexamples; i++)
		{
			if (i)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, f->examples[i]);
		}
		appendStringInfoChar(&buf, ']');
	}
	if (f->deprecated)
		appendStringInfoString(&buf, ", \"deprecated\": true");
	if (f->replaced_by)
	{
		appendStringInfoString(&buf, ", \"replaced_by\": ");
		escape_json(&buf, f->replaced_by);
	}
	if (dp_spec_field_classification(f))
		appendStringInfo(&buf, ", \"classification\": \"%s\"", dp_spec_field_classification(f));
	appendStringInfoChar(&buf, '}');
	if (buf.len > 2)
	{
		/* drop the leading ", " */
		memmove(buf.data + 1, buf.data + 3, buf.len - 2);
		buf.len -= 2;
	}
	return buf.data;
}

/*
 * A column's comment: its description, then what the contract says about
 * it, for BI tools that show comments.  NULL when there is nothing to say.
 */
char *
dp_spec_field_comment(const DpField *f)
{
	StringInfoData buf;
	int			i;
	const char *cls = dp_spec_field_classification(f);

	initStringInfo(&buf);
	if (f->description)
		appendStringInfoString(&buf, f->description);
#define SEP() appendStringInfoString(&buf, buf.len ? (buf.data[buf.len - 1] == '.' ? " " : ". ") : "")
	if (f->deprecated)
	{
		SEP();
		if (f->replaced_by)
			appendStringInfo(&buf, "Deprecated: use %s", f->replaced_by);
		else
			appendStringInfoString(&buf, "Deprecated");
	}
	if (cls)
	{
		SEP();
		appendStringInfo(&buf, "Classification: %s", cls);
	}
	if (f->unique)
	{
		SEP();
		appendStringInfoString(&buf, f->unique == DP_UNIQUE_STRICT ? "Unique (strict)" : "Unique");
	}
	if (f->ref_dataset)
	{
		SEP();
		appendStringInfo(&buf, "References %s.%s", f->ref_dataset, f->ref_field);
	}
	if (f->min_length > 0 || f->max_length >= 0)
	{
		SEP();
		if (f->max_length < 0)
			appendStringInfo(&buf, "Length: at least %lld", (long long) f->min_length);
		else
			appendStringInfo(&buf, "Length: %lld to %lld", (long long) f->min_length,
							 (long long) f->max_length);
	}
	for (i = 0; f->codelabel && i < f->ncodelist && f->codelabel[i] == NULL; i++)
		;
	if (f->codelabel && i < f->ncodelist)
	{
		SEP();
		appendStringInfoString(&buf, "Codes: ");
		for (i = 0; i < f->ncodelist; i++)
			appendStringInfo(&buf, "%s%s%s%s", i ? ", " : "", f->codelist[i],
							 f->codelabel[i] ? " = " : "", f->codelabel[i] ? f->codelabel[i] : "");
	}
	if (f->nexamples)
	{
		SEP();
		appendStringInfoString(&buf, "Examples: ");
		for (i = 0; i < f->nexamples; i++)
			appendStringInfo(&buf, "%s%s", i ? ", " : "", f->examples[i]);
	}
#undef SEP
	if (buf.len == 0)
	{
		pfree(buf.data);
		return NULL;
	}
	return buf.data;
}

/* The clean table's comment: the description, classification and freshness. */
char *
dp_spec_table_comment(const DpSpec *spec)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (spec->description)
		appendStringInfoString(&buf, spec->description);
	if (spec->classification)
		appendStringInfo(&buf, "%sClassification: %s", buf.len ? ". " : "", spec->classification);
	if (spec->fresh_within)
		appendStringInfo(&buf, "%sFresh within %s", buf.len ? ". " : "", spec->fresh_within);
	if (buf.len == 0)
	{
		pfree(buf.data);
		return NULL;
	}
	return buf.data;
}

/* ------------------------------------------------------------------------
 * References between datasets (connected to SPI)
 * ------------------------------------------------------------------------
 */

/*
 * Every reference of spec to another dataset names a dataset that exists
 * and its only key field or a unique field of the same datatype; and every
 * reference of another dataset to this one still finds such a field here.
 */
void
dp_spec_check_references(const DpSpec *spec)
{
	int			i;
	const char *args[2];
	uint64		n;

	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];
		DpSpec	   *target;
		const DpField *t;
		bool		isnull;

		if (f->ref_dataset == NULL || strcmp(f->ref_dataset, spec->dataset) == 0)
			continue;
		args[0] = f->ref_dataset;
		if (dp_spi_exec_text("SELECT spec FROM dataplatform.datasets WHERE name = $1", 1, args) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("field \"%s\" of dataset \"%s\" references dataset \"%s\", which does not exist",
							f->name, spec->dataset, f->ref_dataset),
					 errhint("Define the referenced dataset first.")));
		target = dp_spec_parse(DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 1, &isnull)));
		t = dp_spec_field(target, f->ref_field);
		if (t == NULL || !referable(target, t))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("field \"%s\" of dataset \"%s\" references %s.%s, which is not the key or a unique field of \"%s\"",
							f->name, spec->dataset, f->ref_dataset, f->ref_field, f->ref_dataset),
					 errhint("A reference names the only key field or a \"unique\" field of the referenced dataset.")));
		if (t->datatype != f->datatype)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("field \"%s\" of dataset \"%s\" is %s but references %s field %s.%s",
							f->name, spec->dataset, dp_datatype_name(f->datatype),
							dp_datatype_name(t->datatype), f->ref_dataset, f->ref_field)));
	}

	/* datasets referencing this one */
	args[0] = spec->dataset;
	n = dp_spi_exec_text("SELECT d.name, f ->> 'name', f -> 'references' ->> 'field' "
						 "FROM dataplatform.datasets d, "
						 "     pg_catalog.jsonb_array_elements(d.spec -> 'fields') f "
						 "WHERE d.name <> $1 AND f -> 'references' ->> 'dataset' = $1 "
						 "ORDER BY 1, 2", 1, args);
	if (n > 0)
	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		k;

		for (k = 0; k < n; k++)
		{
			char	   *from = SPI_getvalue(tt->vals[k], tt->tupdesc, 1);
			char	   *field = SPI_getvalue(tt->vals[k], tt->tupdesc, 2);
			char	   *target = SPI_getvalue(tt->vals[k], tt->tupdesc, 3);
			const DpField *t = dp_spec_field(spec, target);

			if (t == NULL || !referable(spec, t))
				ereport(ERROR,
						(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
						 errmsg("field \"%s\" of dataset \"%s\" must stay the key or a unique field",
								target, spec->dataset),
						 errdetail("Field \"%s\" of dataset \"%s\" references it.", field, from),
						 errhint("Change or drop that reference first.")));
		}
	}
}
