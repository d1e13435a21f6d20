/*
 * endpoint.c
 *		The SQL API of collection from HTTP endpoints: secrets (set_secret,
 *		drop_secret), endpoints (add_endpoint, alter_endpoint, drop_endpoint)
 *		and collect(),
 *		which queues a run of the endpoint's job.  Nothing here makes a
 *		request: the worker fetches (fetch.c) and stores (store.c).
 *
 * An endpoint is a row of dataplatform.endpoint tied to a job of
 * dataplatform.job (named "collect:<endpoint>"): collect() and the job's
 * schedule queue runs of that job, and the job runner (src/worker/runner.c)
 * treats a run of such a job as a collection run (see fetch.c).
 *
 * Secrets: dataplatform.secret has no grants at all (only its owner, the
 * extension's owner, reads it: the SECURITY DEFINER API and the worker).
 * No message shows a secret's value, and audit rows name a secret, never
 * its value.  A secret may name the origins it may be sent to (set_secret's
 * origins): an endpoint whose URL has another origin cannot use it
 * (add_endpoint, alter_endpoint and every fetch check), and the worker
 * sends it only to the endpoint's own origin, never after a redirect to
 * another (fetch.c).
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"

#include "access.h"
#include "collect_internal.h"
#include "config.h"
#include "jobs.h"
#include "spec.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_set_secret);
PG_FUNCTION_INFO_V1(dp_drop_secret);
PG_FUNCTION_INFO_V1(dp_add_endpoint);
PG_FUNCTION_INFO_V1(dp_drop_endpoint);
PG_FUNCTION_INFO_V1(dp_alter_endpoint);
PG_FUNCTION_INFO_V1(dp_collect);

#define MAX_ENDPOINT_NAME	100
#define MAX_SECRET_NAME		100
#define MAX_SECRET_BYTES	8192
#define MAX_HEADERS			50

/*
 * jansson's json_object() is shadowed by the backend's SQL function of that
 * name at run time (and json_pack calls it): new objects come from
 * json_loads("{}").
 */

/* "a, b and c" of a list of strings */
static char *
origins_text(List *origins)
{
	StringInfoData buf;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&buf);
	foreach(lc, origins)
	{
		if (i > 0)
			appendStringInfoString(&buf, i == list_length(origins) - 1 ? " and " : ", ");
		appendStringInfoString(&buf, lfirst(lc));
		i++;
	}
	return buf.data;
}

static void
check_name(const char *name, const char *what, int maxlen)
{
	size_t		len = strlen(name);

	if (len == 0 || len > (size_t) maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s name \"%s\"", what, name),
				 errdetail("Names have 1 to %d characters.", maxlen)));
	for (const char *p = name; *p; p++)
		if ((unsigned char) *p < 32 || *p == 127)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid %s name \"%s\"", what, name),
					 errdetail("Names may not contain control characters.")));
}

/*
 * 42501 unless endpoint `endpoint` (at url) may use secret `secret`, whose
 * origins are `origins` (NIL: any).
 */
static void
check_secret_origin(const char *secret, const char *endpoint, const char *url, List *origins)
{
	char	   *problem;
	char	   *origin;
	ListCell   *lc;

	if (origins == NIL)
		return;
	origin = dp_collect_origin(url, false, &problem);
	if (origin != NULL)
		foreach(lc, origins)
			if (strcmp(origin, lfirst(lc)) == 0)
				return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("secret \"%s\" may not be sent to %s (endpoint \"%s\")", secret,
					origin ? origin : url, endpoint),
			 errdetail("The secret may be sent to %s only.", origins_text(origins)),
			 errhint("Add the origin with dataplatform.set_secret(name, value, origins), or use another secret.")));
}

/*
 * The origins argument of set_secret normalised (a text[] datum), or NULL
 * (no restriction).  22023 for an empty array, a NULL element or anything
 * that is not an http(s) origin.
 */
static Datum
secret_origins(FunctionCallInfo fcinfo, int argno, const char *name, bool *isnull, List **list)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Datum	   *out;

	*isnull = PG_ARGISNULL(argno);
	if (*isnull)
		return (Datum) 0;
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the origins of secret \"%s\" are empty", name),
				 errhint("Give the origins it may be sent to, e.g. ARRAY['https://api.example.org'], or NULL.")));
	out = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		char	   *problem;
		char	   *origin;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("an origin of secret \"%s\" is NULL", name)));
		origin = dp_collect_origin(TextDatumGetCString(elems[i]), true, &problem);
		if (origin == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid origin for secret \"%s\": %s", name, problem),
					 errhint("An origin is scheme://host[:port], e.g. https://api.example.org.")));
		out[i] = CStringGetTextDatum(origin);
		*list = lappend(*list, origin);
	}
	return PointerGetDatum(construct_array(out, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* set_secret(name text, value text, origins text[]) RETURNS void */
Datum
dp_set_secret(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	text	   *value;
	Datum		values[4];
	Oid			types[4] = {TEXTOID, TEXTOID, NAMEOID, TEXTARRAYOID};
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		no_origins;
	List	   *origins = NIL;
	NameData	who;
	const char *v;
	int			len;
	bool		existed;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"value\" must not be NULL"),
				 errhint("Use dataplatform.drop_secret to remove a secret.")));
	dp_require_admin("set secrets");
	check_name(name, "secret", MAX_SECRET_NAME);
	value = PG_GETARG_TEXT_PP(1);
	v = VARDATA_ANY(value);
	len = VARSIZE_ANY_EXHDR(value);
	/* messages about the value never show it */
	if (len == 0 || len > MAX_SECRET_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the value of secret \"%s\" must have 1 to %d bytes", name, MAX_SECRET_BYTES)));
	for (int i = 0; i < len; i++)
		if ((unsigned char) v[i] < 32 && v[i] != '\t')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the value of secret \"%s\" contains a control character", name),
					 errdetail("A secret is sent as (part of) an HTTP header value: line breaks and other control characters are not allowed.")));

	values[3] = secret_origins(fcinfo, 2, name, &no_origins, &origins);
	if (no_origins)
		nulls[3] = 'n';
	namestrcpy(&who, GetUserNameFromId(dp_caller_id(), false));
	values[0] = CStringGetTextDatum(name);
	values[1] = PointerGetDatum(value);
	values[2] = NameGetDatum(&who);
	SPI_connect();
	existed = dp_spi_exec("SELECT 1 FROM dataplatform.secret WHERE name = $1 FOR UPDATE",
						  1, types, values, NULL) > 0;
	/* endpoints using it must stay within the origins it now allows */
	if (!no_origins)
	{
		uint64		n = dp_spi_exec("SELECT DISTINCT e.name, e.url "
									"FROM dataplatform.endpoint e, pg_catalog.jsonb_each(e.options->'headers') h "
									"WHERE h.value->>'secret' = $1 ORDER BY e.name",
									1, types, values, NULL);

		for (uint64 i = 0; i < n; i++)
			check_secret_origin(name, dp_spi_getvalue(i, 1), dp_spi_getvalue(i, 2), origins);
	}
	dp_spi_exec("INSERT INTO dataplatform.secret (name, value, updated_by, origins) "
				"VALUES ($1, $2, $3, $4) "
				"ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, "
				"updated_by = EXCLUDED.updated_by, updated_at = pg_catalog.now(), "
				"origins = EXCLUDED.origins",
				4, types, values, nulls);
	dp_audit("set_secret", name, existed ? (no_origins ? "{\"replaced\": true}" : "{\"replaced\": true, \"origins\": true}")
			 : (no_origins ? "{\"replaced\": false}" : "{\"replaced\": false, \"origins\": true}"));
	SPI_finish();
	PG_RETURN_VOID();
}

/* drop_secret(name text) RETURNS void */
Datum
dp_drop_secret(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	const char *args[1] = {name};

	dp_require_admin("drop secrets");
	SPI_connect();
	if (dp_spi_exec_text("SELECT pg_catalog.string_agg(e.name, ', ' ORDER BY e.name) "
						 "FROM dataplatform.endpoint e, pg_catalog.jsonb_each(e.options->'headers') h "
						 "WHERE h.value->>'secret' = $1 HAVING pg_catalog.count(*) > 0", 1, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("secret \"%s\" is in use", name),
				 errdetail("Endpoints using it: %s.", dp_spi_getvalue(0, 1)),
				 errhint("Drop those endpoints first, or set a new value with dataplatform.set_secret.")));
	if (dp_spi_exec_text("DELETE FROM dataplatform.secret WHERE name = $1", 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("secret \"%s\" does not exist", name)));
	dp_audit("drop_secret", name, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

static int64
opt_int(json_t *opts, const char *key, int64 deflt, int64 min, int64 max)
{
	json_t	   *v = json_object_get(opts, key);
	double		d;

	if (v == NULL || json_is_null(v))
		return deflt;
	d = json_is_number(v) ? json_number_value(v) : -1e300;
	if (!json_is_number(v) || d < (double) min || d > (double) max || d != (double) (int64) d)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("endpoint option \"%s\" must be an integer from " INT64_FORMAT " to " INT64_FORMAT,
						key, min, max)));
	return (int64) d;
}

static const char *
opt_string(json_t *opts, const char *key)
{
	json_t	   *v = json_object_get(opts, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("endpoint option \"%s\" must be a string, not %s", key, dp_json_type_name(v))));
	return json_string_value(v);
}

/*
 * Validate the headers option of endpoint `endpoint` fetching `url`;
 * returns it normalised (jansson, new reference).  Secrets referred to must
 * exist (42704) and may be sent to the URL's origin (42501).  Connected to
 * SPI.
 */
static json_t *
check_headers(json_t *headers, const char *endpoint, const char *url)
{
	const char *key;
	json_t	   *v;

	if (headers == NULL || json_is_null(headers))
		return json_loads("{}", 0, NULL);
	if (!json_is_object(headers))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("endpoint option \"headers\" must be an object, not %s", dp_json_type_name(headers)),
				 errhint("For example {\"Accept\": \"text/csv\", \"Authorization\": {\"secret\": \"api-token\"}}.")));
	if (json_object_size(headers) > MAX_HEADERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an endpoint has at most %d headers", MAX_HEADERS)));
	json_object_foreach(headers, key, v)
	{
		if (key[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a header name is empty")));
		for (const char *c = key; *c; c++)
			if (!(isalnum((unsigned char) *c) || strchr("!#$%&'*+-.^_`|~", *c)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid header name \"%s\"", key),
						 errdetail("A header name is letters, digits and !#$%%&'*+-.^_`|~.")));
		if (pg_strcasecmp(key, "Host") == 0 || pg_strcasecmp(key, "Content-Length") == 0 ||
			pg_strcasecmp(key, "Transfer-Encoding") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("header \"%s\" may not be set", key)));
		if (json_is_string(v))
		{
			for (const char *c = json_string_value(v); *c; c++)
				if ((unsigned char) *c < 32 && *c != '\t')
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("the value of header \"%s\" contains a control character", key)));
		}
		else if (json_is_object(v) && json_object_size(v) == 1 &&
				 json_is_string(json_object_get(v, "secret")))
		{
			char	   *problem;
			const char *args[2] = {json_string_value(json_object_get(v, "secret")),
			dp_collect_origin(url, false, &problem)};

			if (dp_spi_exec_text("SELECT COALESCE(origins IS NULL OR $2 = ANY (origins), false), "
								 "pg_catalog.array_to_string(origins, ', ') "
								 "FROM dataplatform.secret WHERE name = $1", 2, args) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("secret \"%s\" does not exist", args[0]),
						 errhint("Store it first with dataplatform.set_secret.")));
			if (strcmp(dp_spi_getvalue(0, 1), "t") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("secret \"%s\" may not be sent to %s (endpoint \"%s\")", args[0],
								args[1] ? args[1] : url, endpoint),
						 errdetail("The secret may be sent to %s only.", dp_spi_getvalue(0, 2)),
						 errhint("Add the origin with dataplatform.set_secret(name, value, origins), or use another secret.")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the value of header \"%s\" must be a string or {\"secret\": \"name\"}", key)));
	}
	return json_incref(headers);
}

/* What an endpoint's options say, checked (endpoint_options). */
typedef struct EndpointSettings
{
	const char *format;
	const char *schedule;		/* NULL: none */
	const char *timezone;		/* NULL: UTC */
	const char *after;			/* NULL: none */
	int64		retries;
	json_t	   *norm;			/* the options stored: defaults filled in */
} EndpointSettings;

/*
 * Check the options of endpoint `name` of `dataset` fetching `url` (the
 * dataset must exist: 42704); fill *es.  Connected to SPI.  Strings in *es
 * are palloc'd; es->norm is a new jansson reference.
 */
static void
endpoint_options(const char *dataset, const char *name, const char *url, json_t *opts,
				 EndpointSettings *es)
{
	json_t	   *norm;
	json_t	   *csv;
	const char *key;
	json_t	   *v;
	const char *s;
	char	   *problem;
	int			sqlstate;

	if (!json_is_object(opts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("endpoint options must be a JSON object, not %s", dp_json_type_name(opts))));
	json_object_foreach(opts, key, v)
	{
		static const char *const known[] = {"name", "format", "schedule", "headers", "timeout_ms",
			"connect_timeout_ms", "max_bytes", "csv", "retries", "column", "timezone", "after", NULL};
		bool		found = false;

		for (int i = 0; known[i]; i++)
			found |= strcmp(key, known[i]) == 0;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown endpoint option \"%s\"", key),
					 errhint("Options are name, format, schedule, timezone, after, headers, timeout_ms, connect_timeout_ms, max_bytes, csv, column and retries.")));
	}
	s = opt_string(opts, "format");
	es->format = pstrdup(s ? s : "auto");
	if (strcmp(es->format, "csv") != 0 && strcmp(es->format, "json") != 0 &&
		strcmp(es->format, "ndjson") != 0 && strcmp(es->format, "geojson") != 0 &&
		strcmp(es->format, "auto") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown endpoint format \"%s\"", es->format),
				 errhint("Use csv, json, ndjson, geojson or auto.")));
	s = opt_string(opts, "schedule");
	es->schedule = s ? pstrdup(s) : NULL;
	s = opt_string(opts, "timezone");
	es->timezone = s ? pstrdup(s) : NULL;
	s = opt_string(opts, "after");
	es->after = s && s[0] ? pstrdup(s) : NULL;

	problem = dp_collect_url_problem(url, &sqlstate, NULL, NULL, NULL);
	if (problem)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("%s", problem),
				 sqlstate == ERRCODE_INSUFFICIENT_PRIVILEGE ?
				 errhint("A superuser lists the hosts the worker may reach in dataplatform.allowed_hosts.") :
				 errhint("Give an absolute http:// or https:// URL; put credentials in a header that refers to a secret.")));

	norm = json_loads("{}", 0, NULL);
	json_object_set_new(norm, "timeout_ms",
						json_integer(opt_int(opts, "timeout_ms", DP_COLLECT_DEFAULT_TIMEOUT_MS, 100, 3600 * 1000)));
	json_object_set_new(norm, "connect_timeout_ms",
						json_integer(opt_int(opts, "connect_timeout_ms", DP_COLLECT_DEFAULT_CONNECT_MS, 100, 600 * 1000)));
	json_object_set_new(norm, "max_bytes",
						json_integer(opt_int(opts, "max_bytes", DP_COLLECT_DEFAULT_MAX_BYTES, 1, DP_COLLECT_MAX_MAX_BYTES)));
	es->retries = opt_int(opts, "retries", 0, 0, 100);
	csv = json_object_get(opts, "csv");
	if (csv != NULL && !json_is_null(csv))
	{
		if (!json_is_object(csv))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("endpoint option \"csv\" must be an object, not %s", dp_json_type_name(csv)),
					 errhint("For example {\"delimiter\": \";\"}: the options of push_csv.")));
		json_object_foreach(csv, key, v)
			if ((strcmp(key, "delimiter") != 0 && strcmp(key, "quote") != 0) || !json_is_string(v))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid CSV option \"%s\" for endpoint \"%s\"", key, name),
						 errhint("CSV options are \"delimiter\" and \"quote\", each a string.")));
		json_object_set(norm, "csv", csv);
	}

	{
		const char *args[1] = {dataset};
		json_t	   *column = json_object_get(opts, "column");

		if (dp_spi_exec_text("SELECT spec FROM dataplatform.datasets WHERE name = $1", 1, args) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("dataset \"%s\" does not exist", dataset),
					 errhint("Define it first with dataplatform.define_dataset.")));
		if (column != NULL && !json_is_null(column))
		{
			/* the endpoint's column mapping, checked as the dataset's "column" rule is */
			bool		isnull;
			DpSpec	   *spec = dp_spec_parse(DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0],
																		 SPI_tuptable->tupdesc, 1, &isnull)));
			json_t	   *wrap = json_loads("{}", 0, NULL);

			json_object_set(wrap, "column", column);
			(void) dp_config_parse(spec, DatumGetJsonbP(dp_json_to_jsonb(wrap)));
			json_decref(wrap);
			json_object_set(norm, "column", column);
		}
	}
	json_object_set_new(norm, "headers", check_headers(json_object_get(opts, "headers"), name, url));
	es->norm = norm;
}

/* The job command of an endpoint's job (never run: the runner collects). */
static char *
endpoint_command(const char *name)
{
	StringInfoData cmd;

	initStringInfo(&cmd);
	appendStringInfoString(&cmd, "-- collection of endpoint ");
	for (const char *c = name; *c; c++)
		appendStringInfoChar(&cmd, (*c == '\n' || *c == '\r') ? ' ' : *c);
	appendStringInfoString(&cmd, ", run by the worker\nSELECT NULL");
	return cmd.data;
}

/* The audit detail of an endpoint's settings. */
static char *
endpoint_detail(const char *dataset, const char *url, const EndpointSettings *es, const char *jobname)
{
	StringInfoData detail;

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"dataset\": ");
	escape_json(&detail, dataset);
	appendStringInfoString(&detail, ", \"url\": ");
	escape_json(&detail, url);
	appendStringInfoString(&detail, ", \"format\": ");
	escape_json(&detail, es->format);
	appendStringInfoString(&detail, ", \"schedule\": ");
	if (es->schedule)
		escape_json(&detail, es->schedule);
	else
		appendStringInfoString(&detail, "null");
	if (es->timezone)
	{
		appendStringInfoString(&detail, ", \"timezone\": ");
		escape_json(&detail, es->timezone);
	}
	if (es->after)
	{
		appendStringInfoString(&detail, ", \"after\": ");
		escape_json(&detail, es->after);
	}
	appendStringInfoString(&detail, ", \"job\": ");
	escape_json(&detail, jobname);
	appendStringInfoChar(&detail, '}');
	return detail.data;
}

/* add_endpoint(dataset text, url text, options jsonb) RETURNS text */
Datum
dp_add_endpoint(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	char	   *url = dp_arg_cstring(fcinfo, 1, "url");
	json_t	   *opts;
	const char *name;
	char	   *jobname;
	int64		job_id;
	EndpointSettings es;
	Datum		values[7];
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, INT8OID, NAMEOID};
	NameData	owner;
	char	   *text;

	if (PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("argument \"options\" must not be NULL"),
						errhint("Use '{}' for the defaults.")));
	dp_require_admin("add endpoints");
	opts = dp_json_from_jsonb(PG_GETARG_JSONB_P(2), "endpoint options");
	name = json_is_object(opts) ? opt_string(opts, "name") : NULL;
	if (name != NULL)
		name = pstrdup(name);	/* outlives opts, which is freed before the return */
	if (name == NULL)
		name = dataset;
	check_name(name, "endpoint", MAX_ENDPOINT_NAME);

	SPI_connect();
	endpoint_options(dataset, name, url, opts, &es);
	{
		const char *args[1] = {name};

		if (dp_spi_exec_text("SELECT 1 FROM dataplatform.endpoint WHERE name = $1", 1, args) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("endpoint \"%s\" already exists", name),
					 errhint("Give another \"name\" in the options, or drop it with dataplatform.drop_endpoint.")));
	}

	/* its job: scheduled (or run after another job), or inactive, run only by collect() */
	jobname = psprintf("collect:%s", name);
	job_id = dp_jobs_create(jobname, es.schedule || es.after ? es.schedule : "@yearly",
							endpoint_command(name), es.schedule != NULL || es.after != NULL, NULL,
							es.timezone, es.after);
	if (es.retries > 0)
	{
		Datum		a[2] = {Int64GetDatum(job_id), Int32GetDatum((int32) es.retries)};
		Oid			t[2] = {INT8OID, INT4OID};

		dp_spi_exec("UPDATE dataplatform.job SET retries = $2 WHERE id = $1", 2, t, a, NULL);
	}

	text = json_dumps(es.norm, JSON_SORT_KEYS | JSON_COMPACT);
	namestrcpy(&owner, GetUserNameFromId(dp_caller_id(), false));
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(dataset);
	values[2] = CStringGetTextDatum(url);
	values[3] = CStringGetTextDatum(es.format);
	values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
	values[5] = Int64GetDatum(job_id);
	values[6] = NameGetDatum(&owner);
	dp_spi_exec("INSERT INTO dataplatform.endpoint (name, dataset, url, format, options, job_id, owner) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, types, values, NULL);
	dp_audit("add_endpoint", name, endpoint_detail(dataset, url, &es, jobname));
	/* jansson's allocations may be in SPI's context: free before it goes */
	json_decref(es.norm);
	json_decref(opts);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(name));
}

/*
 * The endpoint's job name, for a change by the caller: 42704 when the
 * endpoint does not exist, 42501 unless the caller owns it (or is a
 * superuser).  Connected to SPI.
 */
static int64
endpoint_job(const char *name, const char *action)
{
	const char *args[1] = {name};

	if (dp_spi_exec_text("SELECT j.name FROM dataplatform.endpoint e "
						 "JOIN dataplatform.job j ON j.id = e.job_id WHERE e.name = $1", 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("endpoint \"%s\" does not exist", name),
				 errhint("See the table dataplatform.endpoint for the endpoints defined.")));
	return dp_jobs_for_change(dp_spi_getvalue(0, 1), action);
}

/* drop_endpoint(name text) RETURNS void */
Datum
dp_drop_endpoint(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	const char *args[1] = {name};
	char	   *jobname = psprintf("collect:%s", name);

	dp_require_admin("drop endpoints");
	SPI_connect();
	(void) endpoint_job(name, "drop the endpoint of");
	dp_spi_exec_text("DELETE FROM dataplatform.endpoint WHERE name = $1", 1, args);
	dp_jobs_remove(jobname);
	dp_audit("drop_endpoint", name, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * alter_endpoint(name text, url text, options jsonb) RETURNS void: a new
 * URL and/or options merged onto the stored ones (a key set to null goes
 * back to its default), all checked again as add_endpoint checks them.
 */
Datum
dp_alter_endpoint(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	const char *args[1] = {name};
	char	   *dataset;
	char	   *url;
	json_t	   *merged;
	json_t	   *given = NULL;
	const char *key;
	json_t	   *v;
	EndpointSettings es;
	char	   *jobname = psprintf("collect:%s", name);
	char	   *stored;
	Datum		values[4];
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID};

	if (PG_ARGISNULL(1) && PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nothing to change for endpoint \"%s\"", name),
				 errhint("Give a new url, or options to change.")));
	dp_require_admin("alter endpoints");
	SPI_connect();
	(void) endpoint_job(name, "alter the endpoint of");
	dp_spi_exec_text("SELECT e.dataset, e.url, "
					 "e.options || pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
					 "  'format', e.format, 'schedule', CASE WHEN j.active THEN j.schedule END,"
					 "  'timezone', j.timezone, 'after', j.after_job, 'retries', j.retries)) "
					 "FROM dataplatform.endpoint e JOIN dataplatform.job j ON j.id = e.job_id "
					 "WHERE e.name = $1", 1, args);
	dataset = dp_spi_getvalue(0, 1);
	url = PG_ARGISNULL(1) ? dp_spi_getvalue(0, 2) : text_to_cstring(PG_GETARG_TEXT_PP(1));
	merged = dp_json_from_jsonb(DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																   CStringGetDatum(dp_spi_getvalue(0, 3)))),
								"endpoint options");
	if (!PG_ARGISNULL(2))
	{
		given = dp_json_from_jsonb(PG_GETARG_JSONB_P(2), "endpoint options");
		if (!json_is_object(given))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("endpoint options must be a JSON object, not %s", dp_json_type_name(given))));
		json_object_foreach(given, key, v)
		{
			if (strcmp(key, "name") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("endpoint \"%s\" cannot be renamed", name),
						 errhint("Add an endpoint under the new name and drop this one.")));
			if (json_is_null(v))
				json_object_del(merged, key);	/* back to the default */
			else
				json_object_set(merged, key, v);
		}
	}
	endpoint_options(dataset, name, url, merged, &es);

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(url);
	values[2] = CStringGetTextDatum(es.format);
	stored = json_dumps(es.norm, JSON_SORT_KEYS | JSON_COMPACT);
	values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(stored));
	dp_spi_exec("UPDATE dataplatform.endpoint SET url = $2, format = $3, options = $4 WHERE name = $1",
				4, types, values, NULL);
	dp_jobs_redefine(jobname, es.schedule || es.after ? es.schedule : "@yearly",
					 es.schedule != NULL || es.after != NULL, es.timezone, es.after, (int) es.retries);
	dp_audit("alter_endpoint", name, endpoint_detail(dataset, url, &es, jobname));
	json_decref(es.norm);
	json_decref(merged);
	if (given)
		json_decref(given);
	SPI_finish();
	PG_RETURN_VOID();
}

/* collect(endpoint text) RETURNS bigint */
Datum
dp_collect(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "endpoint");
	int64		run_id;
	char		detail[64];

	dp_require_admin("collect endpoints");
	SPI_connect();
	run_id = dp_jobs_queue_run(endpoint_job(name, "collect"));
	snprintf(detail, sizeof(detail), "{\"run_id\": " INT64_FORMAT "}", run_id);
	dp_audit("collect", name, detail);
	SPI_finish();
	PG_RETURN_INT64(run_id);
}
