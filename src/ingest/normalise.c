/*
 * normalise.c
 *		SQL face of the harmonise library: dataplatform.normalise() and the
 *		issue-type catalogue dataplatform.issue_types().
 *
 * normalise() is called once per value, so it keeps everything it can in
 * fn_extra (allocated in fn_mcxt): the parsed datatype, the compiled
 * constraints of the last options value, the result tuple descriptor and an
 * output buffer.  The compiled pattern is allocated by the C library; it is
 * freed when the options change, and otherwise lives as long as the query's
 * FmgrInfo (one pattern per distinct options value of a call site).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/date.h"

#include "harmonise.h"
#include "issue.h"
#include "normalise.h"
#include "util.h"
#include "spatial.h"

PG_FUNCTION_INFO_V1(dp_normalise);
PG_FUNCTION_INFO_V1(dp_issue_types);

int32
dp_today_days(void)
{
	/* DateADT counts from 2000-01-01; harmonise counts from 1970-01-01 */
	return (int32) GetSQLCurrentDate() + 10957;
}

typedef struct NormaliseCache
{
	char	   *datatype_name;	/* last datatype argument */
	DpDatatype	datatype;
	Jsonb	   *options;		/* copy of the last options argument, or NULL */
	DpConstraints constraints;
	DpPattern  *pattern;		/* compiled, or NULL */
	TupleDesc	tupdesc;
	char	   *buf;
	size_t		bufsize;
	struct DpSpatial *spatial;	/* PostGIS's functions, on first geometry */
} NormaliseCache;

static void
cache_datatype(NormaliseCache *cache, text *dt, MemoryContext mcxt)
{
	char	   *name = text_to_cstring(dt);

	if (cache->datatype_name && strcmp(cache->datatype_name, name) == 0)
	{
		pfree(name);
		return;
	}
	if (!dp_datatype_lookup(name, &cache->datatype))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown datatype \"%s\"", name),
				 errhint("Datatypes are: %s.", dp_datatype_list())));
	if (cache->datatype_name)
		pfree(cache->datatype_name);
	cache->datatype_name = MemoryContextStrdup(mcxt, name);
	pfree(name);
}

static const char *
option_string(const char *key, json_t *v)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_number(v))
		return psprintf("%.15g", json_number_value(v));
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("invalid \"%s\" in normalise options", key),
			 errdetail("Expected a number or a string, got %s.", dp_json_type_name(v))));
	return NULL;
}

/*
 * Compile the options {"minimum", "maximum", "pattern", "codelist"} into
 * cache->constraints; everything kept lives in mcxt.
 */
static void
cache_options(NormaliseCache *cache, Jsonb *options, MemoryContext mcxt)
{
	json_t	   *obj;
	const char *key;
	json_t	   *v;
	MemoryContext old;

	if (cache->options == NULL && options == NULL)
		return;
	if (cache->options && options && VARSIZE(cache->options) == VARSIZE(options) &&
		memcmp(cache->options, options, VARSIZE(options)) == 0)
		return;

	/* forget the previous constraints */
	if (cache->pattern)
	{
		dp_pattern_free(cache->pattern);
		pfree(cache->pattern);
		cache->pattern = NULL;
	}
	memset(&cache->constraints, 0, sizeof(DpConstraints));
	cache->options = NULL;
	cache->constraints.has_today = true;
	cache->constraints.today_days = dp_today_days();
	if (options == NULL)
		return;

	obj = dp_json_from_jsonb(options, "normalise options");
	if (!json_is_object(obj))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("normalise options must be a JSON object"),
				 errhint("Use {\"minimum\": 0, \"maximum\": 10, \"pattern\": \"^A\", \"codelist\": [\"A\", \"B\"]}.")));
	old = MemoryContextSwitchTo(mcxt);
	json_object_foreach(obj, key, v)
	{
		if (strcmp(key, "minimum") == 0)
			cache->constraints.minimum = pstrdup(option_string(key, v));
		else if (strcmp(key, "maximum") == 0)
			cache->constraints.maximum = pstrdup(option_string(key, v));
		else if (strcmp(key, "pattern") == 0)
		{
			char		err[256];

			if (!json_is_string(v))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("invalid \"pattern\" in normalise options"),
						 errdetail("Expected a string, got %s.", dp_json_type_name(v))));
			cache->pattern = palloc(dp_pattern_size());
			if (!dp_pattern_compile(cache->pattern, json_string_value(v), err, sizeof(err)))
			{
				pfree(cache->pattern);
				cache->pattern = NULL;
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
						 errmsg("invalid pattern in normalise options: %s", err)));
			}
			cache->constraints.pattern = cache->pattern;
		}
		else if (strcmp(key, "codelist") == 0)
		{
			size_t		i;
			json_t	   *code;
			const char **codes;

			if (!json_is_array(v) || json_array_size(v) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid \"codelist\" in normalise options"),
						 errdetail("Expected a non-empty array of strings.")));
			codes = palloc(sizeof(char *) * json_array_size(v));
			json_array_foreach(v, i, code)
			{
				if (!json_is_string(code))
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("invalid \"codelist\" in normalise options"),
							 errdetail("Expected strings, got %s.", dp_json_type_name(code))));
				codes[i] = pstrdup(json_string_value(code));
			}
			cache->constraints.codelist = codes;
			cache->constraints.ncodelist = json_array_size(v);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in normalise options", key),
					 errhint("Known keys: minimum, maximum, pattern, codelist.")));
	}
	cache->options = palloc(VARSIZE(options));
	memcpy(cache->options, options, VARSIZE(options));
	MemoryContextSwitchTo(old);
	json_decref(obj);
}

/*
 * dp_harmonise_value
 *		Harmonise one value into *buf (grown in mcxt as needed); returns the
 *		issue.  The normalised value is NUL-terminated in *buf.
 */
DpIssue
dp_harmonise_value(DpDatatype dt, const char *in, size_t len, const DpConstraints *c,
				   char **buf, size_t *bufsize, MemoryContext mcxt)
{
	size_t		outlen;

	return dp_harmonise_value_noted(dt, in, len, c, buf, bufsize, mcxt, NULL, &outlen);
}

DpIssue
dp_harmonise_value_noted(DpDatatype dt, const char *in, size_t len, const DpConstraints *c,
						 char **buf, size_t *bufsize, MemoryContext mcxt, unsigned *notes,
						 size_t *outlen)
{
	DpIssue		issue;
	size_t		need;

	for (;;)
	{
		need = dp_harmonise_noted(dt, in, len, c, *buf, *bufsize, &issue, notes);
		if (need < *bufsize)
		{
			*outlen = need;
			return issue;
		}
		if (need >= MaxAllocSize - 1)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("normalised value is too long")));
		if (*buf)
			pfree(*buf);
		*bufsize = Max(need + 1, *bufsize * 2);
		*buf = MemoryContextAlloc(mcxt, *bufsize);
	}
}

Datum
dp_normalise(PG_FUNCTION_ARGS)
{
	NormaliseCache *cache = fcinfo->flinfo->fn_extra;
	MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
	text	   *value;
	DpIssue		issue;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("datatype must not be null"),
				 errhint("Datatypes are: %s.", dp_datatype_list())));
	if (cache == NULL)
	{
		TupleDesc	tupdesc;
		MemoryContext old = MemoryContextSwitchTo(mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "normalise must return a composite type");
		cache = palloc0(sizeof(NormaliseCache));
		cache->tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		cache->bufsize = 256;
		cache->buf = palloc(cache->bufsize);
		cache->constraints.has_today = true;
		cache->constraints.today_days = dp_today_days();
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = cache;
	}
	cache_datatype(cache, PG_GETARG_TEXT_PP(0), mcxt);
	cache_options(cache, PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), mcxt);

	if (PG_ARGISNULL(1))
	{
		/* no value: nothing to normalise and nothing wrong */
		nulls[0] = nulls[1] = true;
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(cache->tupdesc, values, nulls)));
	}
	value = PG_GETARG_TEXT_PP(1);
	if (dp_datatype_is_spatial(cache->datatype))
	{
		DpSpatialResult res;
		int			i,
					pick = -1;

		if (cache->spatial == NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(mcxt);

			cache->spatial = dp_spatial_begin(NULL);
			MemoryContextSwitchTo(old);
		}
		dp_spatial_harmonise(cache->spatial, cache->datatype, VARDATA_ANY(value),
							 VARSIZE_ANY_EXHDR(value), false, &res);
		/* the issue reported: the first error, else the first warning */
		for (i = 0; i < res.nissues; i++)
			if (pick < 0 || (strcmp(res.issues[i].severity, "error") == 0 &&
							 strcmp(res.issues[pick].severity, "error") != 0))
				pick = i;
		nulls[0] = res.value == NULL;
		if (res.value)
			values[0] = PointerGetDatum(cstring_to_text(res.value));
		nulls[1] = pick < 0;
		if (pick >= 0)
			values[1] = PointerGetDatum(cstring_to_text(res.issues[pick].type));
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(cache->tupdesc, values, nulls)));
	}
	issue = dp_harmonise_value(cache->datatype, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value),
							   &cache->constraints, &cache->buf, &cache->bufsize, mcxt);
	if (issue == DP_ISSUE_NONE)
	{
		values[0] = PointerGetDatum(cstring_to_text(cache->buf));
		nulls[1] = true;
	}
	else
	{
		nulls[0] = true;
		values[1] = PointerGetDatum(cstring_to_text(dp_issue_name(issue)));
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(cache->tupdesc, values, nulls)));
}

/*
 * dp_issue_types
 *		The catalogue of issue types: those of the harmonise library and
 *		those the pipeline raises, with severity and description.
 */
Datum
dp_issue_types(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < dp_issue_type_count(); i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		DpIssueType t = dp_issue_type_at(i);

		values[0] = CStringGetTextDatum(t.name);
		values[1] = CStringGetTextDatum(t.severity);
		values[2] = CStringGetTextDatum(t.description);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
