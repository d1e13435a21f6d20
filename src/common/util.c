/*
 * util.c
 *		Backend helpers shared by the API modules.
 *
 * Memory: jansson is routed through palloc in CurrentMemoryContext, so a
 * jansson object never outlives the memory context of the call that made it,
 * and an ERROR between json_loads and json_decref leaks nothing.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "pgstat.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "pattern.h"
#include "util.h"

static void *
dp_json_malloc(size_t size)
{
	/* never ereport from inside jansson: return NULL and let it fail */
	return MemoryContextAllocExtended(CurrentMemoryContext, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void
dp_json_free(void *ptr)
{
	if (ptr != NULL)
		pfree(ptr);
}

void
dp_json_init(void)
{
	json_set_alloc_funcs(dp_json_malloc, dp_json_free);
}

json_t *
dp_json_from_jsonb(Jsonb *jb, const char *what)
{
	char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	json_error_t err;
	json_t	   *value;

	value = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
	pfree(text);
	if (value == NULL)
	{
		/* jsonb is valid JSON: what jansson refuses is a number too large */
		if (strstr(err.text, "overflow") || strstr(err.text, "too big"))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("a number in %s is out of range", what),
					 errdetail("%s near position %d.", err.text, err.position),
					 errhint("Numbers up to about 1e308 are accepted here.")));
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not read %s: %s", what, err.text)));
	}
	return value;
}

/*
 * Push one jansson value into a jsonb being built: the value of a key
 * (WJB_VALUE), an element (WJB_ELEM), or a whole object or array.  What
 * jsonb_in would make of json_dumps' text, without the text: the same
 * numbers (integers exactly, reals through the 17 digits json_dumps
 * writes), and a string holding U+0000 refused as jsonb_in refuses
 * \u0000.
 */
static JsonbValue *
push_json(JsonbParseState **st, json_t *value, JsonbIteratorToken scalar_token)
{
	JsonbValue	v;

	check_stack_depth();
	switch (json_typeof(value))
	{
		case JSON_OBJECT:
			{
				const char *key;
				json_t	   *member;

				(void) pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
				json_object_foreach(value, key, member)
				{
					v.type = jbvString;
					v.val.string.val = (char *) key;
					v.val.string.len = strlen(key);
					(void) pushJsonbValue(st, WJB_KEY, &v);
					(void) push_json(st, member, WJB_VALUE);
				}
				return pushJsonbValue(st, WJB_END_OBJECT, NULL);
			}
		case JSON_ARRAY:
			{
				size_t		i;
				json_t	   *elem;

				(void) pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
				json_array_foreach(value, i, elem)
					(void) push_json(st, elem, WJB_ELEM);
				return pushJsonbValue(st, WJB_END_ARRAY, NULL);
			}
		case JSON_STRING:
			v.type = jbvString;
			v.val.string.val = (char *) json_string_value(value);
			v.val.string.len = json_string_length(value);
			if (memchr(v.val.string.val, '\0', v.val.string.len) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
						 errmsg("unsupported Unicode escape sequence"),
						 errdetail("\\u0000 cannot be converted to text.")));
			break;
		case JSON_INTEGER:
			v.type = jbvNumeric;
			v.val.numeric = int64_to_numeric((int64) json_integer_value(value));
			break;
		case JSON_REAL:
			{
				char		buf[64];

				snprintf(buf, sizeof(buf), "%.17g", json_real_value(value));
				v.type = jbvNumeric;
				v.val.numeric = DatumGetNumeric(OidInputFunctionCall(F_NUMERIC_IN, buf, InvalidOid, -1));
				break;
			}
		case JSON_TRUE:
		case JSON_FALSE:
			v.type = jbvBool;
			v.val.boolean = json_is_true(value);
			break;
		case JSON_NULL:
		default:
			v.type = jbvNull;
			break;
	}
	return pushJsonbValue(st, scalar_token, &v);
}

Datum
dp_json_to_jsonb(json_t *value)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;

	if (json_is_object(value) || json_is_array(value))
		res = push_json(&st, value, WJB_VALUE);
	else
	{
		/* a scalar alone: jsonb's one-element "raw scalar" array */
		JsonbValue	a;

		a.type = jbvArray;
		a.val.array.rawScalar = true;
		a.val.array.nElems = 1;
		(void) pushJsonbValue(&st, WJB_BEGIN_ARRAY, &a);
		(void) push_json(&st, value, WJB_ELEM);
		res = pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

const char *
dp_json_type_name(const json_t *value)
{
	switch (json_typeof(value))
	{
		case JSON_OBJECT:
			return "an object";
		case JSON_ARRAY:
			return "an array";
		case JSON_STRING:
			return "a string";
		case JSON_INTEGER:
		case JSON_REAL:
			return "a number";
		case JSON_TRUE:
		case JSON_FALSE:
			return "a boolean";
		case JSON_NULL:
			return "null";
	}
	return "an unknown JSON value";
}

uint64
dp_spi_exec(const char *sql, int nargs, Oid *types, Datum *values,
			const char *nulls)
{
	int			rc;

	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "SPI_execute_with_args failed (%s): %s",
			 SPI_result_code_string(rc), sql);
	return SPI_processed;
}

/* Plans kept by dp_spi_exec_kept: the statement's text, its types, the plan. */
#define DP_KEPT_PLANS 48

typedef struct KeptPlan
{
	char	   *sql;
	int			nargs;
	Oid		   *types;
	SPIPlanPtr	plan;
} KeptPlan;

static KeptPlan kept_plans[DP_KEPT_PLANS];
static int	nkept_plans = 0;

SPIPlanPtr
dp_spi_kept_plan(const char *sql, int nargs, Oid *types)
{
	KeptPlan   *k;
	SPIPlanPtr	plan;

	for (int i = 0; i < nkept_plans; i++)
		if (kept_plans[i].nargs == nargs && strcmp(kept_plans[i].sql, sql) == 0 &&
			memcmp(kept_plans[i].types, types, sizeof(Oid) * nargs) == 0)
			return kept_plans[i].plan;
	if (nkept_plans == DP_KEPT_PLANS)
		return NULL;
	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed: %s", sql);
	k = &kept_plans[nkept_plans];
	k->sql = MemoryContextStrdup(TopMemoryContext, sql);
	k->nargs = nargs;
	k->types = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * Max(nargs, 1));
	memcpy(k->types, types, sizeof(Oid) * nargs);
	k->plan = plan;
	nkept_plans++;
	return plan;
}

uint64
dp_spi_exec_kept(const char *sql, int nargs, Oid *types, Datum *values,
				 const char *nulls)
{
	SPIPlanPtr	plan = dp_spi_kept_plan(sql, nargs, types);
	int			rc;

	if (plan == NULL)
		return dp_spi_exec(sql, nargs, types, values, nulls);
	rc = SPI_execute_plan(plan, values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed (%s): %s", SPI_result_code_string(rc), sql);
	return SPI_processed;
}

uint64
dp_spi_exec_text_kept(const char *sql, int nargs, const char **args)
{
	Oid			types[FUNC_MAX_ARGS];
	Datum		values[FUNC_MAX_ARGS];
	char		nulls[FUNC_MAX_ARGS + 1];

	Assert(nargs <= FUNC_MAX_ARGS);
	for (int i = 0; i < nargs; i++)
	{
		types[i] = TEXTOID;
		values[i] = args[i] ? CStringGetTextDatum(args[i]) : (Datum) 0;
		nulls[i] = args[i] ? ' ' : 'n';
	}
	nulls[nargs] = '\0';
	return dp_spi_exec_kept(sql, nargs, types, values, nulls);
}

void
dp_spi_exec_returned(const char *sql, int nargs, const char **args)
{
	uint64		n = dp_spi_exec_text(sql, nargs, args);
	char	  **stmts = palloc(sizeof(char *) * (n + 1));

	for (uint64 i = 0; i < n; i++)
		stmts[i] = dp_spi_getvalue(i, 1);
	for (uint64 i = 0; i < n; i++)
		dp_spi_exec(stmts[i], 0, NULL, NULL, NULL);
}

uint64
dp_spi_exec_text(const char *sql, int nargs, const char **args)
{
	Oid		   *types = palloc(sizeof(Oid) * Max(nargs, 1));
	Datum	   *values = palloc(sizeof(Datum) * Max(nargs, 1));
	char	   *nulls = palloc(Max(nargs, 1) + 1);
	int			i;
	uint64		n;

	for (i = 0; i < nargs; i++)
	{
		types[i] = TEXTOID;
		values[i] = args[i] ? CStringGetTextDatum(args[i]) : (Datum) 0;
		nulls[i] = args[i] ? ' ' : 'n';
	}
	nulls[nargs] = '\0';
	n = dp_spi_exec(sql, nargs, types, values, nulls);
	pfree(types);
	pfree(values);
	pfree(nulls);
	return n;
}

char *
dp_spi_getvalue(uint64 row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

void
dp_append_qualified(StringInfo buf, const char *schema, const char *name)
{
	appendStringInfo(buf, "%s.%s", quote_identifier(schema),
					 quote_identifier(name));
}

Datum
dp_spi_row_as_result(FunctionCallInfo fcinfo, MemoryContext result_cxt)
{
	TupleDesc	tupdesc;
	MemoryContext spi_cxt;
	Datum	   *values;
	bool	   *nulls;
	HeapTuple	tuple;
	int			i;

	if (SPI_processed < 1)
		elog(ERROR, "expected a row to return");
	spi_cxt = MemoryContextSwitchTo(result_cxt);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "function must return a composite type");
	if (tupdesc->natts != SPI_tuptable->tupdesc->natts)
		elog(ERROR, "result row has %d columns, expected %d",
			 SPI_tuptable->tupdesc->natts, tupdesc->natts);
	values = palloc(sizeof(Datum) * tupdesc->natts);
	nulls = palloc(sizeof(bool) * tupdesc->natts);
	for (i = 0; i < tupdesc->natts; i++)
		values[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  i + 1, &nulls[i]);
	tuple = heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls);
	MemoryContextSwitchTo(spi_cxt);
	return HeapTupleGetDatum(tuple);
}

char *
dp_arg_cstring(FunctionCallInfo fcinfo, int n, const char *argname)
{
	Oid			type;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
	type = get_fn_expr_argtype(fcinfo->flinfo, n);
	if (type == NAMEOID)
		return pstrdup(NameStr(*PG_GETARG_NAME(n)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static void
pattern_reset_callback(void *arg)
{
	dp_pattern_free((DpPattern *) arg);
}

DpPattern *
dp_pattern_in_context(const char *regex, bool icase, bool capture,
					  char *errbuf, size_t errlen)
{
	DpPattern  *p = palloc(dp_pattern_size());
	MemoryContextCallback *cb;

	if (!dp_pattern_compile_ex(p, regex, icase, capture, errbuf, errlen))
	{
		pfree(p);
		return NULL;
	}
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = pattern_reset_callback;
	cb->arg = p;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return p;
}

json_t *
dp_json_new_object(void)
{
	json_t	   *o = json_loads("{}", 0, NULL);

	if (o == NULL)
		elog(ERROR, "could not create a JSON object");
	return o;
}

ErrorData *
dp_try_in_subxact(bool (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (fn(arg))
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		/* leave no subtransaction open behind the error */
		MemoryContextSwitchTo(cxt);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return error;
}

void
dp_bg_xact_begin(const char *activity, bool bounded)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
	if (bounded)
		(void) set_config_option("lock_timeout", "200", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
}

void
dp_bg_xact_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}
