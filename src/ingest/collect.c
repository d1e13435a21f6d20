/*
 * collect.c
 *		Collection from HTTP endpoints: secrets, the allow-list, the SQL API
 *		(set_secret, drop_secret, add_endpoint, drop_endpoint, collect) and
 *		the fetch the worker does with libcurl.
 *
 * An endpoint is a row of dataplatform.endpoint tied to a job of
 * dataplatform.job (named "collect:<endpoint>"): collect() and the job's
 * schedule queue runs of that job, and the job runner (src/jobs.c) treats a
 * run of such a job as a collection run:
 *   1. dp_collect_fetch, outside any transaction: read the endpoint and its
 *      secrets in a short transaction, then fetch with libcurl (following at
 *      most DP_COLLECT_MAX_REDIRECTS redirects by hand, checking the scheme
 *      and dataplatform.allowed_hosts before every request);
 *   2. dp_collect_store, in the run's transaction: unchanged (same sha256 as
 *      the endpoint's last stored download: no batch) or a batch through
 *      push_csv / push, run as the endpoint's owner; a collection_log row;
 *   3. on any error, dp_collect_log_failure in the runner's failure
 *      transaction.
 * So no HTTP request is ever made in a user's transaction, and none holds a
 * snapshot while it waits on the network.
 *
 * libcurl rules: no ereport inside a callback (the write callback sets
 * too_big / out_of_memory, the progress callback notices cancel, die and
 * postmaster death without processing them), and the easy handle and header
 * lists are freed in PG_FINALLY; interrupts are processed after.  The body
 * is collected in the per-run memory context, grown with non-throwing
 * allocations.
 *
 * Secrets: dataplatform.secret has no grants at all (only its owner, the
 * extension's owner, reads it: the SECURITY DEFINER API and the worker).
 * Their values go into curl header lists only; they are sent only to the
 * endpoint's own origin (scheme, host, port), never after a redirect to
 * another; every message recorded for a run is redacted of them; they are
 * wiped from memory after the run.  Audit rows name a secret, never its value.
 */
#include "postgres.h"

#include <ctype.h>
#include <curl/curl.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/pmsignal.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "access.h"
#include "collect.h"
#include "config.h"
#include "pipeline.h"
#include "spec.h"
#include "guc.h"
#include "jobs.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_set_secret);
PG_FUNCTION_INFO_V1(dp_drop_secret);
PG_FUNCTION_INFO_V1(dp_add_endpoint);
PG_FUNCTION_INFO_V1(dp_drop_endpoint);
PG_FUNCTION_INFO_V1(dp_collect);

#define MAX_ENDPOINT_NAME	100
#define MAX_SECRET_NAME		100
#define MAX_SECRET_BYTES	8192
#define DEFAULT_TIMEOUT_MS	30000
#define DEFAULT_CONNECT_MS	10000
#define DEFAULT_MAX_BYTES	(100 * 1024 * 1024)
#define MAX_MAX_BYTES		(512 * 1024 * 1024)
#define MAX_HEADERS			50

/* jansson's json_object() is shadowed by the backend's SQL function of that name at
 * run time (and json_pack calls it): new objects come from json_loads("{}"). */
struct DpFetch
{
	MemoryContext cxt;
	char	   *endpoint;
	/* settings, read from dataplatform.endpoint */
	char	   *dataset;
	char	   *url;
	char	   *format;			/* csv | json | ndjson | auto */
	char	   *csv_options;	/* jsonb text, or NULL */
	char	   *column_map;		/* the "column" option (jsonb text), or NULL */
	int			timeout_ms;
	int			connect_timeout_ms;
	int64		max_bytes;
	int			nheaders;
	char	  **headers;		/* "Name: value" */
	bool	   *header_secret;	/* carries a secret: same origin only */
	int			nsecrets;
	char	  **secrets;		/* values, for redaction and wiping */
	/* what happened */
	TimestampTz started;
	bool		requested;		/* a request was made */
	long		http_status;
	double		elapsed_ms;
	char	   *content_type;
	char	   *effective_format;
	char	   *sha256;
	StringInfoData body;
	bool		too_big;
	bool		out_of_memory;
	bool		interrupted;
};

/* ------------------------------------------------------------------------
 * The allow-list (pure: no backend calls)
 * ------------------------------------------------------------------------
 */

/* Next comma/space separated item of *p into buf; false at the end. */
static bool
next_item(const char **p, char *buf, size_t buflen, bool *toolong)
{
	const char *s = *p;
	size_t		n = 0;

	while (*s == ',' || isspace((unsigned char) *s))
		s++;
	if (*s == '\0')
		return false;
	*toolong = false;
	while (*s && *s != ',' && !isspace((unsigned char) *s))
	{
		if (n + 1 < buflen)
			buf[n++] = tolower((unsigned char) *s);
		else
			*toolong = true;
		s++;
	}
	buf[n] = '\0';
	*p = s;
	return true;
}

bool
dp_collect_host_allowed(const char *list, const char *host)
{
	char		item[256];
	bool		toolong;
	size_t		hlen = strlen(host);

	if (list == NULL || host == NULL || hlen == 0)
		return false;
	while (next_item(&list, item, sizeof(item), &toolong))
	{
		size_t		ilen = strlen(item);

		if (toolong)
			continue;
		if (strcmp(item, "*") == 0)
			return true;
		if (item[0] == '*' && item[1] == '.')
		{
			/* "*.example.org": any name ending in ".example.org" */
			if (hlen > ilen - 1 &&
				pg_strcasecmp(host + hlen - (ilen - 1), item + 1) == 0)
				return true;
		}
		else if (pg_strcasecmp(host, item) == 0)
			return true;
	}
	return false;
}

bool
dp_collect_check_allowed_hosts(char **newval, void **extra, GucSource source)
{
	const char *p = *newval ? *newval : "";
	char		item[256];
	bool		toolong;

	(void) extra;
	(void) source;

	while (next_item(&p, item, sizeof(item), &toolong))
	{
		const char *c = item;

		if (toolong)
		{
			GUC_check_errdetail("A host pattern has at most 255 characters.");
			return false;
		}
		if (strcmp(item, "*") == 0)
			continue;
		if (c[0] == '*' && c[1] == '.' && c[2] != '\0')
			c += 2;
		for (; *c; c++)
			if (!(isalnum((unsigned char) *c) || *c == '.' || *c == '-' ||
				  *c == '_' || *c == ':' || *c == '[' || *c == ']'))
			{
				GUC_check_errdetail("\"%s\" is not a host pattern: use a host name, an IP address, "
									"\"*.domain\" or \"*\".", item);
				return false;
			}
	}
	return true;
}

/* ------------------------------------------------------------------------
 * URLs
 * ------------------------------------------------------------------------
 */

/*
 * Check a URL for a fetch: absolute, http or https, no user name or
 * password in it, host on the allow-list.  Returns NULL when fine (with
 * the lower-cased scheme, host and port in scheme, host and port, palloc'd,
 * when those are not NULL), else a message (palloc'd) and in *sqlstate its
 * code.  No ereport: the worker calls it between requests.
 */
static char *
url_problem(const char *url, int *sqlstate, char **scheme, char **host, char **port)
{
	CURLU	   *u = curl_url();
	CURLUcode	rc;
	char	   *sch = NULL;
	char	   *hst = NULL;
	char	   *prt = NULL;
	char	   *usr = NULL;
	char	   *pwd = NULL;
	char	   *problem = NULL;

	if (u == NULL)
	{
		*sqlstate = ERRCODE_OUT_OF_MEMORY;
		return pstrdup("out of memory parsing a URL");
	}
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK)
	{
		*sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		problem = psprintf("invalid URL \"%s\": %s", url, curl_url_strerror(rc));
		goto done;
	}
	(void) curl_url_get(u, CURLUPART_SCHEME, &sch, 0);
	(void) curl_url_get(u, CURLUPART_HOST, &hst, 0);
	(void) curl_url_get(u, CURLUPART_PORT, &prt, CURLU_DEFAULT_PORT);
	(void) curl_url_get(u, CURLUPART_USER, &usr, 0);
	(void) curl_url_get(u, CURLUPART_PASSWORD, &pwd, 0);
	if (sch == NULL || (pg_strcasecmp(sch, "http") != 0 && pg_strcasecmp(sch, "https") != 0))
	{
		*sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		problem = psprintf("URL scheme \"%s\" is not allowed", sch ? sch : "");
	}
	else if (hst == NULL || hst[0] == '\0')
	{
		*sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		problem = psprintf("invalid URL \"%s\": no host", url);
	}
	else if (usr != NULL || pwd != NULL)
	{
		*sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		problem = pstrdup("a URL may not carry a user name or password");
	}
	else if (!dp_collect_host_allowed(dp_collect_allowed_hosts, hst))
	{
		*sqlstate = ERRCODE_INSUFFICIENT_PRIVILEGE;
		problem = psprintf("host \"%s\" is not in dataplatform.allowed_hosts", hst);
	}
	else
	{
		if (scheme)
		{
			*scheme = pstrdup(sch);
			for (char *c = *scheme; *c; c++)
				*c = tolower((unsigned char) *c);
		}
		if (host)
		{
			*host = pstrdup(hst);
			for (char *c = *host; *c; c++)
				*c = tolower((unsigned char) *c);
		}
		if (port)
			*port = pstrdup(prt ? prt : "");
	}
done:
	curl_free(sch);
	curl_free(hst);
	curl_free(prt);
	curl_free(usr);
	curl_free(pwd);
	curl_url_cleanup(u);
	return problem;
}

/* ------------------------------------------------------------------------
 * The SQL API
 * ------------------------------------------------------------------------
 */

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

/* set_secret(name text, value text) RETURNS void */
Datum
dp_set_secret(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	text	   *value;
	Datum		values[3];
	Oid			types[3] = {TEXTOID, TEXTOID, NAMEOID};
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

	namestrcpy(&who, GetUserNameFromId(dp_caller_id(), false));
	values[0] = CStringGetTextDatum(name);
	values[1] = PointerGetDatum(value);
	values[2] = NameGetDatum(&who);
	SPI_connect();
	existed = dp_spi_exec("SELECT 1 FROM dataplatform.secret WHERE name = $1 FOR UPDATE",
						  1, types, values, NULL) > 0;
	dp_spi_exec("INSERT INTO dataplatform.secret (name, value, updated_by) VALUES ($1, $2, $3) "
				"ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, "
				"updated_by = EXCLUDED.updated_by, updated_at = pg_catalog.now()",
				3, types, values, NULL);
	dp_audit("set_secret", name, existed ? "{\"replaced\": true}" : "{\"replaced\": false}");
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
 * Validate the headers option; returns it normalised (jansson, new
 * reference).  Secrets referred to must exist.  Connected to SPI.
 */
static json_t *
check_headers(json_t *headers)
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
			const char *args[1] = {json_string_value(json_object_get(v, "secret"))};

			if (dp_spi_exec_text("SELECT 1 FROM dataplatform.secret WHERE name = $1", 1, args) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("secret \"%s\" does not exist", args[0]),
						 errhint("Store it first with dataplatform.set_secret.")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the value of header \"%s\" must be a string or {\"secret\": \"name\"}", key)));
	}
	return json_incref(headers);
}

/* add_endpoint(dataset text, url text, options jsonb) RETURNS text */
Datum
dp_add_endpoint(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	char	   *url = dp_arg_cstring(fcinfo, 1, "url");
	json_t	   *opts;
	json_t	   *norm;
	json_t	   *csv;
	const char *key;
	json_t	   *v;
	const char *name;
	const char *format;
	const char *schedule;
	char	   *problem;
	int			sqlstate;
	char	   *jobname;
	char	   *command;
	int64		job_id;
	int64		retries;
	StringInfoData detail;
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
	if (!json_is_object(opts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("endpoint options must be a JSON object, not %s", dp_json_type_name(opts))));
	json_object_foreach(opts, key, v)
	{
		static const char *const known[] = {"name", "format", "schedule", "headers", "timeout_ms",
			"connect_timeout_ms", "max_bytes", "csv", "retries", "column", NULL};
		bool		found = false;

		for (int i = 0; known[i]; i++)
			found |= strcmp(key, known[i]) == 0;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown endpoint option \"%s\"", key),
					 errhint("Options are name, format, schedule, headers, timeout_ms, connect_timeout_ms, max_bytes, csv, column and retries.")));
	}

	name = opt_string(opts, "name");
	if (name != NULL)
		name = pstrdup(name);	/* outlives opts, which is freed before the return */
	if (name == NULL)
		name = dataset;
	check_name(name, "endpoint", MAX_ENDPOINT_NAME);
	format = opt_string(opts, "format");
	if (format == NULL)
		format = "auto";
	if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0 &&
		strcmp(format, "ndjson") != 0 && strcmp(format, "auto") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown endpoint format \"%s\"", format),
				 errhint("Use csv, json, ndjson or auto.")));
	schedule = opt_string(opts, "schedule");

	problem = url_problem(url, &sqlstate, NULL, NULL, NULL);
	if (problem)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("%s", problem),
				 sqlstate == ERRCODE_INSUFFICIENT_PRIVILEGE ?
				 errhint("A superuser lists the hosts the worker may reach in dataplatform.allowed_hosts.") :
				 errhint("Give an absolute http:// or https:// URL; put credentials in a header that refers to a secret.")));

	norm = json_loads("{}", 0, NULL);
	json_object_set_new(norm, "timeout_ms",
						json_integer(opt_int(opts, "timeout_ms", DEFAULT_TIMEOUT_MS, 100, 3600 * 1000)));
	json_object_set_new(norm, "connect_timeout_ms",
						json_integer(opt_int(opts, "connect_timeout_ms", DEFAULT_CONNECT_MS, 100, 600 * 1000)));
	json_object_set_new(norm, "max_bytes",
						json_integer(opt_int(opts, "max_bytes", DEFAULT_MAX_BYTES, 1, MAX_MAX_BYTES)));
	retries = opt_int(opts, "retries", 0, 0, 100);
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

	SPI_connect();
	{
		const char *args[2] = {dataset, name};

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
			json_object_set(norm, "column", column);
		}
		if (dp_spi_exec_text("SELECT 1 FROM dataplatform.endpoint WHERE name = $1", 1, args + 1) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("endpoint \"%s\" already exists", name),
					 errhint("Give another \"name\" in the options, or drop it with dataplatform.drop_endpoint.")));
	}
	json_object_set_new(norm, "headers", check_headers(json_object_get(opts, "headers")));

	/* its job: scheduled, or (no schedule) inactive, run only by collect() */
	jobname = psprintf("collect:%s", name);
	{
		StringInfoData cmd;

		initStringInfo(&cmd);
		appendStringInfoString(&cmd, "-- collection of endpoint ");
		for (const char *c = name; *c; c++)
			appendStringInfoChar(&cmd, (*c == '\n' || *c == '\r') ? ' ' : *c);
		appendStringInfoString(&cmd, ", run by the worker\nSELECT NULL");
		command = cmd.data;
	}
	job_id = dp_jobs_create(jobname, schedule ? schedule : "@yearly", command,
							schedule != NULL, NULL);
	if (retries > 0)
	{
		Datum		a[2] = {Int64GetDatum(job_id), Int32GetDatum((int32) retries)};
		Oid			t[2] = {INT8OID, INT4OID};

		dp_spi_exec("UPDATE dataplatform.job SET retries = $2 WHERE id = $1", 2, t, a, NULL);
	}

	text = json_dumps(norm, JSON_SORT_KEYS | JSON_COMPACT);
	namestrcpy(&owner, GetUserNameFromId(dp_caller_id(), false));
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(dataset);
	values[2] = CStringGetTextDatum(url);
	values[3] = CStringGetTextDatum(format);
	values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
	values[5] = Int64GetDatum(job_id);
	values[6] = NameGetDatum(&owner);
	dp_spi_exec("INSERT INTO dataplatform.endpoint (name, dataset, url, format, options, job_id, owner) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, types, values, NULL);

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"dataset\": ");
	escape_json(&detail, dataset);
	appendStringInfoString(&detail, ", \"url\": ");
	escape_json(&detail, url);
	appendStringInfoString(&detail, ", \"format\": ");
	escape_json(&detail, format);
	appendStringInfoString(&detail, ", \"schedule\": ");
	if (schedule)
		escape_json(&detail, schedule);
	else
		appendStringInfoString(&detail, "null");
	appendStringInfoString(&detail, ", \"job\": ");
	escape_json(&detail, jobname);
	appendStringInfoChar(&detail, '}');
	dp_audit("add_endpoint", name, detail.data);
	/* jansson's allocations may be in SPI's context: free before it goes */
	json_decref(norm);
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

/* ------------------------------------------------------------------------
 * The fetch (in the worker)
 * ------------------------------------------------------------------------
 */

DpFetch *
dp_collect_prepare(const char *endpoint, MemoryContext cxt)
{
	DpFetch    *f = MemoryContextAllocZero(cxt, sizeof(DpFetch));

	f->cxt = cxt;
	f->endpoint = MemoryContextStrdup(cxt, endpoint);
	return f;
}

/* Read the endpoint and its secrets into f (own transaction). */
static void
read_endpoint(DpFetch *f)
{
	const char *args[1] = {f->endpoint};
	json_t	   *opts;
	json_t	   *headers;
	const char *key;
	json_t	   *v;
	MemoryContext old;
	int			i = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "dataplatform: read an endpoint");

	if (dp_spi_exec_text("SELECT dataset, url, format, options FROM dataplatform.endpoint WHERE name = $1",
						 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("endpoint \"%s\" does not exist", f->endpoint)));
	old = MemoryContextSwitchTo(f->cxt);
	f->dataset = dp_spi_getvalue(0, 1);
	f->url = dp_spi_getvalue(0, 2);
	f->format = dp_spi_getvalue(0, 3);
	MemoryContextSwitchTo(old);
	opts = dp_json_from_jsonb(DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																 CStringGetDatum(dp_spi_getvalue(0, 4)))),
							  "endpoint options");
	f->timeout_ms = (int) json_number_value(json_object_get(opts, "timeout_ms"));
	f->connect_timeout_ms = (int) json_number_value(json_object_get(opts, "connect_timeout_ms"));
	f->max_bytes = (int64) json_number_value(json_object_get(opts, "max_bytes"));
	if (f->timeout_ms <= 0)
		f->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (f->connect_timeout_ms <= 0)
		f->connect_timeout_ms = DEFAULT_CONNECT_MS;
	if (f->max_bytes <= 0 || f->max_bytes > MAX_MAX_BYTES)
		f->max_bytes = DEFAULT_MAX_BYTES;
	if (json_is_object(json_object_get(opts, "csv")))
	{
		char	   *s = json_dumps(json_object_get(opts, "csv"), JSON_COMPACT);

		f->csv_options = MemoryContextStrdup(f->cxt, s);
	}
	if (json_is_object(json_object_get(opts, "column")))
		f->column_map = MemoryContextStrdup(f->cxt, json_dumps(json_object_get(opts, "column"),
															   JSON_COMPACT));
	headers = json_object_get(opts, "headers");
	if (json_is_object(headers))
	{
		size_t		n = json_object_size(headers);

		f->headers = MemoryContextAllocZero(f->cxt, sizeof(char *) * (n + 1));
		f->header_secret = MemoryContextAllocZero(f->cxt, sizeof(bool) * (n + 1));
		f->secrets = MemoryContextAllocZero(f->cxt, sizeof(char *) * (n + 1));
		json_object_foreach(headers, key, v)
		{
			if (json_is_string(v))
				f->headers[i] = MemoryContextStrdup(f->cxt, psprintf("%s: %s", key, json_string_value(v)));
			else
			{
				const char *sargs[1] = {json_string_value(json_object_get(v, "secret"))};
				char	   *value;

				if (sargs[0] == NULL ||
					dp_spi_exec_text("SELECT value FROM dataplatform.secret WHERE name = $1", 1, sargs) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_OBJECT),
							 errmsg("secret \"%s\" of header \"%s\" of endpoint \"%s\" does not exist",
									sargs[0] ? sargs[0] : "", key, f->endpoint),
							 errhint("Store it with dataplatform.set_secret.")));
				value = dp_spi_getvalue(0, 1);
				f->secrets[f->nsecrets++] = MemoryContextStrdup(f->cxt, value);
				f->headers[i] = MemoryContextAlloc(f->cxt, strlen(key) + strlen(value) + 3);
				sprintf(f->headers[i], "%s: %s", key, value);
				f->header_secret[i] = true;
				explicit_bzero(value, strlen(value));
			}
			i++;
		}
		f->nheaders = i;
	}
	json_decref(opts);

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "dataplatform: collect an endpoint");
}

/* libcurl write callback: append to the body within max_bytes; no ereport. */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	DpFetch    *f = (DpFetch *) userdata;
	StringInfo	b = &f->body;
	size_t		n = size * nmemb;

	if ((int64) b->len + (int64) n > f->max_bytes)
	{
		f->too_big = true;
		return 0;				/* CURLE_WRITE_ERROR */
	}
	if ((size_t) b->len + n + 1 > (size_t) b->maxlen)
	{
		size_t		want = Max((size_t) b->maxlen * 2, (size_t) b->len + n + 1);
		char	   *grown;

		want = Min(want, (size_t) f->max_bytes + 1);
		grown = MemoryContextAllocExtended(f->cxt, want, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
		if (grown == NULL)
		{
			f->out_of_memory = true;
			return 0;
		}
		memcpy(grown, b->data, b->len);
		pfree(b->data);
		b->data = grown;
		b->maxlen = (int) want;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += (int) n;
	b->data[b->len] = '\0';
	return n;
}

/* libcurl progress callback: abort on cancel, die, postmaster death. */
static int
xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	DpFetch    *f = (DpFetch *) userdata;

	(void) dltotal;
	(void) dlnow;
	(void) ultotal;
	(void) ulnow;

	if (QueryCancelPending || ProcDiePending || !PostmasterIsAlive())
	{
		f->interrupted = true;
		return 1;
	}
	return 0;
}

static const char *
http_reason(long status)
{
	switch (status)
	{
		case 400: return "Bad Request";
		case 401: return "Unauthorized";
		case 403: return "Forbidden";
		case 404: return "Not Found";
		case 405: return "Method Not Allowed";
		case 408: return "Request Timeout";
		case 410: return "Gone";
		case 429: return "Too Many Requests";
		case 500: return "Internal Server Error";
		case 502: return "Bad Gateway";
		case 503: return "Service Unavailable";
		case 504: return "Gateway Timeout";
		default: return NULL;
	}
}

/* Does the body look like an HTML page? */
static bool
looks_like_html(const DpFetch *f)
{
	const char *p = f->body.data;
	const char *end = p + f->body.len;

	if (f->content_type && (pg_strncasecmp(f->content_type, "text/html", 9) == 0 ||
							pg_strncasecmp(f->content_type, "application/xhtml", 17) == 0))
		return true;
	if (end - p >= 3 && (unsigned char) p[0] == 0xEF && (unsigned char) p[1] == 0xBB &&
		(unsigned char) p[2] == 0xBF)
		p += 3;
	while (p < end && isspace((unsigned char) *p))
		p++;
	return (end - p >= 14 && pg_strncasecmp(p, "<!doctype html", 14) == 0) ||
		(end - p >= 5 && pg_strncasecmp(p, "<html", 5) == 0) ||
		(end - p >= 5 && pg_strncasecmp(p, "<head", 5) == 0);
}

/* The format of an "auto" endpoint: Content-Type, then extension, then sniff. */
static const char *
decide_format(const DpFetch *f, const char *final_url)
{
	const char *ct = f->content_type;
	const char *p;
	const char *path_end;

	if (strcmp(f->format, "auto") != 0)
		return f->format;
	if (ct)
	{
		if (pg_strncasecmp(ct, "text/csv", 8) == 0 || pg_strncasecmp(ct, "application/csv", 15) == 0)
			return "csv";
		if (pg_strncasecmp(ct, "application/x-ndjson", 20) == 0 ||
			pg_strncasecmp(ct, "application/ndjson", 18) == 0 ||
			pg_strncasecmp(ct, "application/jsonl", 17) == 0 ||
			pg_strncasecmp(ct, "application/x-jsonlines", 23) == 0)
			return "ndjson";
		if (pg_strncasecmp(ct, "application/json", 16) == 0)
			return "json";
	}
	path_end = final_url + strcspn(final_url, "?#");
#define ENDS_WITH(s) (path_end - final_url >= (long) strlen(s) && \
					  pg_strncasecmp(path_end - strlen(s), s, strlen(s)) == 0)
	if (ENDS_WITH(".csv"))
		return "csv";
	if (ENDS_WITH(".ndjson") || ENDS_WITH(".jsonl"))
		return "ndjson";
	if (ENDS_WITH(".json"))
		return "json";
#undef ENDS_WITH
	p = f->body.data;
	while (*p && isspace((unsigned char) *p))
		p++;
	if (*p == '[')
		return "json";
	if (*p == '{')
	{
		/* one object per line is ndjson; one object is json */
		const char *nl = strchr(p, '\n');

		while (nl && isspace((unsigned char) *nl))
			nl++;
		return (nl && *nl == '{') ? "ndjson" : "json";
	}
	return "csv";
}

/* A failure found by the fetch: raised after every curl resource is freed. */
typedef struct FetchFailure
{
	int			sqlstate;
	char	   *message;
	char	   *hint;
} FetchFailure;

static void
fail(FetchFailure *ff, int sqlstate, const char *hint, const char *fmt,...)
	pg_attribute_printf(4, 5);

static void
fail(FetchFailure *ff, int sqlstate, const char *hint, const char *fmt,...)
{
	va_list		ap;
	StringInfoData buf;

	if (ff->message)
		return;
	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&buf, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	ff->sqlstate = sqlstate;
	ff->message = buf.data;
	ff->hint = hint ? pstrdup(hint) : NULL;
}

static struct curl_slist *
build_headers(DpFetch *f, bool with_secrets)
{
	struct curl_slist *list = NULL;

	for (int i = 0; i < f->nheaders; i++)
	{
		struct curl_slist *next;

		if (f->header_secret[i] && !with_secrets)
			continue;
		next = curl_slist_append(list, f->headers[i]);
		if (next == NULL)
		{
			curl_slist_free_all(list);
			return NULL;
		}
		list = next;
	}
	return list;
}

void
dp_collect_fetch(DpFetch *f)
{
	static bool curl_ready = false;
	CURL	   *volatile curl = NULL;
	struct curl_slist *volatile hdrs = NULL;
	FetchFailure ff = {0};
	char		errbuf[CURL_ERROR_SIZE];
	instr_time	start;
	instr_time	now;
	MemoryContext old;

	read_endpoint(f);

	old = MemoryContextSwitchTo(f->cxt);
	f->started = GetCurrentTimestamp();
	INSTR_TIME_SET_CURRENT(start);
	f->body.data = palloc(8192);
	f->body.maxlen = 8192;
	f->body.len = 0;
	f->body.data[0] = '\0';

	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("could not initialise libcurl")));
		curl_ready = true;
	}

	PG_TRY();
	{
		char	   *url = pstrdup(f->url);
		char	   *origin = NULL;

		curl = curl_easy_init();
		if (curl == NULL)
			fail(&ff, ERRCODE_OUT_OF_MEMORY, NULL, "could not create a libcurl handle");
		for (int hop = 0; curl != NULL && ff.message == NULL; hop++)
		{
			char	   *scheme = NULL;
			char	   *host = NULL;
			char	   *port = NULL;
			char	   *this_origin;
			int			sqlstate;
			char	   *problem;
			long		remaining;
			CURLcode	rc;
			char	   *redirect = NULL;
			char	   *ct = NULL;

			problem = url_problem(url, &sqlstate, &scheme, &host, &port);
			if (problem)
			{
				if (hop > 0)
					fail(&ff, sqlstate, "The worker follows a redirect only to an http or https URL on an allowed host.",
						 "redirect refused: %s", problem);
				else
					fail(&ff, sqlstate, NULL, "%s", problem);
				break;
			}
			this_origin = psprintf("%s://%s:%s", scheme, host, port);
			if (origin == NULL)
				origin = this_origin;

			INSTR_TIME_SET_CURRENT(now);
			INSTR_TIME_SUBTRACT(now, start);
			remaining = f->timeout_ms - (long) INSTR_TIME_GET_MILLISEC(now);
			if (remaining <= 0)
			{
				fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
					 "timed out after %d ms (endpoint timeout_ms)", f->timeout_ms);
				break;
			}

			if (hdrs)
				curl_slist_free_all(hdrs);
			hdrs = NULL;
			/* secrets go to the endpoint's own origin only */
			if (f->nheaders > 0)
			{
				hdrs = build_headers(f, strcmp(this_origin, origin) == 0);
				if (hdrs == NULL && f->nheaders > 0 && strcmp(this_origin, origin) == 0)
				{
					fail(&ff, ERRCODE_OUT_OF_MEMORY, NULL, "out of memory building request headers");
					break;
				}
			}

			curl_easy_reset(curl);
			errbuf[0] = '\0';
			f->body.len = 0;
			f->body.data[0] = '\0';
			f->too_big = f->out_of_memory = f->interrupted = false;
			curl_easy_setopt(curl, CURLOPT_URL, url);
			curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
			curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
			curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
			curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
			curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
							 (long) Min(f->connect_timeout_ms, remaining));
			curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, remaining);
			curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) f->max_bytes);
			curl_easy_setopt(curl, CURLOPT_USERAGENT, DP_COLLECT_USER_AGENT);
			curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
			curl_easy_setopt(curl, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
			curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
			curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
			curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
			curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
			curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
			curl_easy_setopt(curl, CURLOPT_XFERINFODATA, f);
			curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

			f->requested = true;
			rc = curl_easy_perform(curl);
			f->http_status = 0;
			(void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &f->http_status);

			if (rc != CURLE_OK)
			{
				const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);

				if (f->interrupted)
					fail(&ff, ERRCODE_QUERY_CANCELED, NULL, "the fetch was interrupted");
				else if (f->too_big || rc == CURLE_FILESIZE_EXCEEDED)
					fail(&ff, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
						 "Raise the endpoint's max_bytes option if the file is meant to be this large.",
						 "the response is larger than max_bytes (" INT64_FORMAT " bytes)", f->max_bytes);
				else if (f->out_of_memory)
					fail(&ff, ERRCODE_OUT_OF_MEMORY, NULL, "out of memory receiving the response");
				else if (rc == CURLE_COULDNT_RESOLVE_HOST)
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL, "could not resolve host \"%s\"", host);
				else if (rc == CURLE_COULDNT_CONNECT)
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
						 "could not connect to \"%s\": %s", host, why);
				else if (rc == CURLE_OPERATION_TIMEDOUT)
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
						 "timed out after %d ms (endpoint timeout_ms): %s", f->timeout_ms, why);
				else
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
						 "the request to \"%s\" failed: %s", host, why);
				break;
			}
			if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
				f->content_type = pstrdup(ct);
			else
				f->content_type = NULL;

			if (f->http_status == 301 || f->http_status == 302 || f->http_status == 303 ||
				f->http_status == 307 || f->http_status == 308)
			{
				if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &redirect) != CURLE_OK ||
					redirect == NULL)
				{
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
						 "HTTP status %ld without a usable Location", f->http_status);
					break;
				}
				if (hop >= DP_COLLECT_MAX_REDIRECTS)
				{
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
						 "more than %d redirects", DP_COLLECT_MAX_REDIRECTS);
					break;
				}
				url = pstrdup(redirect);
				continue;
			}
			if (f->http_status < 200 || f->http_status > 299)
			{
				const char *reason = http_reason(f->http_status);

				fail(&ff, ERRCODE_CONNECTION_EXCEPTION,
					 f->http_status >= 500 ? "A server error: the run is retried if the endpoint's job has retries." : NULL,
					 "HTTP status %ld%s%s%s from \"%s\"", f->http_status,
					 reason ? " (" : "", reason ? reason : "", reason ? ")" : "", host);
				break;
			}
			/* a usable response */
			f->effective_format = pstrdup(decide_format(f, url));
			break;
		}
	}
	PG_FINALLY();
	{
		if (hdrs)
			curl_slist_free_all(hdrs);
		if (curl)
			curl_easy_cleanup(curl);
	}
	PG_END_TRY();

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	f->elapsed_ms = INSTR_TIME_GET_MILLISEC(now);

	/* cancel, die, the job's timeout: processed now, outside every callback */
	if (f->interrupted)
		CHECK_FOR_INTERRUPTS();

	if (ff.message == NULL && f->effective_format)
	{
		const char *expected = strcmp(f->effective_format, "csv") == 0 ? "CSV" : "JSON";

		if (f->body.len == 0)
			fail(&ff, ERRCODE_INVALID_TEXT_REPRESENTATION, "An empty download is refused so that a broken source is noticed.",
				 "the response is empty");
		else if (looks_like_html(f))
			fail(&ff, ERRCODE_INVALID_TEXT_REPRESENTATION,
				 "The server may have answered with an error or sign-in page; check the URL.",
				 "the response is an HTML page, not %s", expected);
		else if (memchr(f->body.data, '\0', f->body.len) != NULL)
			fail(&ff, ERRCODE_INVALID_TEXT_REPRESENTATION, NULL,
				 "the response contains NUL bytes: it is binary, not %s", expected);
		else if (!pg_verify_mbstr(GetDatabaseEncoding(), f->body.data, f->body.len, true))
			fail(&ff, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE, NULL,
				 "the response is not valid %s text", GetDatabaseEncodingName());
	}
	MemoryContextSwitchTo(old);

	if (ff.message)
		ereport(ERROR,
				(errcode(ff.sqlstate),
				 errmsg("collecting endpoint \"%s\": %s", f->endpoint, ff.message),
				 ff.hint ? errhint("%s", ff.hint) : 0));
}

/* sha256 of the body (in a transaction: the hash uses a resource owner). */
static const char *
body_sha(DpFetch *f)
{
	if (f->sha256 == NULL && f->body.data != NULL && f->body.len > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(f->cxt);

		f->sha256 = dp_sha256_hex(f->body.data, f->body.len);
		MemoryContextSwitchTo(old);
	}
	return f->sha256;
}

/* Insert a collection_log row. */
static void
log_run(DpFetch *f, int64 run_id, const char *outcome, int64 batch_id, const char *error)
{
	Datum		values[11];
	char		nulls[11];
	Oid			types[11] = {TEXTOID, INT8OID, TIMESTAMPTZOID, INT4OID, INT8OID, TEXTOID,
		FLOAT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID};
	const char *sha = body_sha(f);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(f->endpoint);
	values[1] = Int64GetDatum(run_id);
	values[2] = TimestampTzGetDatum(f->started ? f->started : GetCurrentTimestamp());
	values[3] = Int32GetDatum((int32) f->http_status);
	nulls[3] = f->http_status > 0 ? ' ' : 'n';
	values[4] = Int64GetDatum((int64) (f->body.data ? f->body.len : 0));
	nulls[4] = f->requested ? ' ' : 'n';
	values[5] = sha ? CStringGetTextDatum(sha) : (Datum) 0;
	nulls[5] = sha ? ' ' : 'n';
	values[6] = Float8GetDatum(f->elapsed_ms);
	nulls[6] = f->requested ? ' ' : 'n';
	values[7] = CStringGetTextDatum(outcome);
	values[8] = Int64GetDatum(batch_id);
	nulls[8] = batch_id > 0 ? ' ' : 'n';
	values[9] = error ? CStringGetTextDatum(error) : (Datum) 0;
	nulls[9] = error ? ' ' : 'n';
	values[10] = f->effective_format ? CStringGetTextDatum(f->effective_format) : (Datum) 0;
	nulls[10] = f->effective_format ? ' ' : 'n';
	dp_spi_exec("INSERT INTO dataplatform.collection_log (endpoint, run_id, started_at, http_status,"
				" bytes, sha256, elapsed_ms, outcome, batch_id, error, format)"
				" VALUES ($1, $2, $3, $4, $5, $6, pg_catalog.round($7::numeric, 3), $8, $9, $10, $11)",
				11, types, values, nulls);
}

/* ndjson -> a JSON array text: non-blank lines joined by commas. */
static text *
ndjson_array(const StringInfo body)
{
	StringInfoData buf;
	const char *p = body->data;
	const char *end = p + body->len;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	while (p < end)
	{
		const char *nl = memchr(p, '\n', end - p);
		const char *e = nl ? nl : end;
		const char *s = p;

		while (s < e && isspace((unsigned char) *s))
			s++;
		if (s < e)
		{
			if (!first)
				appendStringInfoChar(&buf, ',');
			appendBinaryStringInfo(&buf, s, e - s);
			first = false;
		}
		p = nl ? nl + 1 : end;
	}
	appendStringInfoChar(&buf, ']');
	return cstring_to_text_with_len(buf.data, buf.len);
}

/*
 * Store the download through the push path as the endpoint's owner, with
 * the endpoint's column mapping for this load only; an error is raised
 * again naming the endpoint (the transaction is aborted by the runner).
 * Returns the batch id.
 */
static int64
push_as(DpFetch *f, const char *owner, text *body, bool csv, Jsonb *csv_options)
{
	MemoryContext cxt = CurrentMemoryContext;
	DpLoadOptions opts = {0};
	DpRoleSwitch sw;
	volatile int64 batch_id = 0;

	opts.column_override = f->column_map;
	dp_role_become(dp_role_to_act_as(owner, "endpoint's owner",
									 "Drop the endpoint, or add it again as an existing role."),
				   true, &sw);
	PG_TRY();
	{
		if (csv)
			batch_id = dp_push_csv_data(f->dataset, VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body),
										csv_options, &opts);
		else
			batch_id = dp_push_rows(f->dataset,
									DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																	   CStringGetDatum(text_to_cstring(body)))),
									&opts);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		dp_role_restore(&sw, false);
		MemoryContextSwitchTo(f->cxt);
		edata = CopyErrorData();
		FlushErrorState();
		MemoryContextSwitchTo(cxt);
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("collecting endpoint \"%s\": the %s download was refused: %s",
						f->endpoint, f->effective_format, edata->message),
				 edata->detail ? errdetail("%s", edata->detail) : 0,
				 edata->hint ? errhint("%s", edata->hint) : 0));
	}
	PG_END_TRY();
	dp_role_restore(&sw, true);
	return batch_id;
}

uint64
dp_collect_store(DpFetch *f, const char *owner, int64 run_id)
{
	const char *sha = body_sha(f);
	const char *args[2] = {f->endpoint, sha};
	int64		batch_id;
	uint64		rows;
	char	   *v;

	if (dp_spi_exec_text("SELECT 1 FROM (SELECT sha256 FROM dataplatform.collection_log"
						 " WHERE endpoint = $1 AND outcome = 'stored' ORDER BY id DESC LIMIT 1) l"
						 " WHERE l.sha256 = $2", 2, args) > 0)
	{
		log_run(f, run_id, "unchanged", 0, NULL);
		return 0;
	}

	if (strcmp(f->effective_format, "csv") == 0)
		batch_id = push_as(f, owner, cstring_to_text_with_len(f->body.data, f->body.len), true,
						   f->csv_options ?
						   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(f->csv_options))) :
						   NULL);
	else
	{
		text	   *json = strcmp(f->effective_format, "ndjson") == 0 ?
			ndjson_array(&f->body) :
			cstring_to_text_with_len(f->body.data, f->body.len);

		batch_id = push_as(f, owner, json, false, NULL);
	}
	log_run(f, run_id, "stored", batch_id, NULL);
	{
		Datum		b = Int64GetDatum(batch_id);
		Oid			t = INT8OID;

		dp_spi_exec("SELECT rows FROM dataplatform.batch WHERE id = $1", 1, &t, &b, NULL);
		v = dp_spi_getvalue(0, 1);
		rows = v ? (uint64) pg_strtoint64(v) : 0;
	}
	return rows;
}

void
dp_collect_log_failure(DpFetch *f, int64 run_id, const char *message)
{
	log_run(f, run_id, "failed", 0, message);
}

void
dp_collect_redact(DpFetch *f, StringInfo msg)
{
	for (int i = 0; i < f->nsecrets; i++)
	{
		const char *s = f->secrets[i];
		size_t		n = strlen(s);
		const char *p;
		const char *hit;
		StringInfoData out;

		if (n == 0 || strstr(msg->data, s) == NULL)
			continue;
		initStringInfo(&out);
		for (p = msg->data; (hit = strstr(p, s)) != NULL; p = hit + n)
		{
			appendBinaryStringInfo(&out, p, hit - p);
			appendStringInfoString(&out, "[redacted]");
		}
		appendStringInfoString(&out, p);
		resetStringInfo(msg);
		appendBinaryStringInfo(msg, out.data, out.len);
		pfree(out.data);
	}
}

void
dp_collect_forget(DpFetch *f)
{
	for (int i = 0; i < f->nsecrets; i++)
		explicit_bzero(f->secrets[i], strlen(f->secrets[i]));
	for (int i = 0; i < f->nheaders; i++)
		if (f->header_secret[i])
			explicit_bzero(f->headers[i], strlen(f->headers[i]));
	f->nsecrets = 0;
}
