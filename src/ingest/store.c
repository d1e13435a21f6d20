/*
 * store.c
 *		Storing a collection run's download, in the run's transaction (step
 *		2 of fetch.c's file header): "unchanged" when its sha256 equals the
 *		endpoint's last stored download, else a batch through
 *		dp_push_csv_data / dp_push_rows (push.c) run as the endpoint's owner
 *		with the endpoint's column mapping; and the collection_log row of
 *		every run, failed ones included.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "access.h"
#include "collect_internal.h"
#include "openlineage.h"
#include "pipeline.h"
#include "util.h"

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
push_as(DpFetch *f, const char *owner, text *body, const char *format, Jsonb *csv_options)
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
		if (strcmp(format, "geojson") == 0)
			batch_id = dp_push_geojson_doc(f->dataset,
										   DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																			  CStringGetDatum(text_to_cstring(body)))),
										   &opts);
		else if (strcmp(format, "csv") == 0)
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
		batch_id = push_as(f, owner, cstring_to_text_with_len(f->body.data, f->body.len), "csv",
						   f->csv_options ?
						   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(f->csv_options))) :
						   NULL);
	else
	{
		text	   *json = strcmp(f->effective_format, "ndjson") == 0 ?
			ndjson_array(&f->body) :
			cstring_to_text_with_len(f->body.data, f->body.len);

		batch_id = push_as(f, owner, json, f->effective_format, NULL);
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
dp_collect_openlineage(DpFetch *f, int64 run_id, struct DpOlRun *run)
{
	MemoryContext old;
	json_t	   *facet;
	Datum		arg = Int64GetDatum(run_id);
	Oid			type = INT8OID;
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *port = NULL;
	int			sqlstate;

	if (run == NULL)
		return;
	old = MemoryContextSwitchTo(run->cxt);
	facet = json_pack("{s:s, s:s}", "endpoint", f->endpoint, "dataset", f->dataset ? f->dataset : "");
	if (f->url && dp_collect_url_problem(f->url, &sqlstate, &scheme, &host, &port) == NULL)
	{
		/* the path alone: a query may carry a token */
		const char *p = strstr(f->url, "://");
		char	   *path;

		p = p ? strchr(p + 3, '/') : NULL;
		path = pstrdup(p ? p : "/");
		path[strcspn(path, "?#")] = '\0';
		(void) dp_ol_dataset_ns(run, false, psprintf("%s://%s:%s", scheme, host, port), path);
	}
	if (f->requested)
		json_object_set_new(facet, "httpStatus", json_integer(f->http_status));
	if (f->body.data && f->body.len > 0)
		json_object_set_new(facet, "bytes", json_integer(f->body.len));
	if (f->sha256)
		json_object_set_new(facet, "sha256", json_string(f->sha256));
	if (f->effective_format)
		json_object_set_new(facet, "format", json_string(f->effective_format));
	if (dp_spi_exec("SELECT outcome, batch_id FROM dataplatform.collection_log WHERE run_id = $1 "
					"ORDER BY id DESC LIMIT 1", 1, &type, &arg, NULL) > 0)
	{
		char	   *batch = dp_spi_getvalue(0, 2);

		json_object_set_new(facet, "outcome", json_string(dp_spi_getvalue(0, 1)));
		if (batch)
			json_object_set_new(facet, "batchId", json_integer(pg_strtoint64(batch)));
		if (batch)
			(void) dp_ol_dataset(run, true, "dp_raw", "rows");
	}
	dp_ol_facet(run, NULL, NULL, "dataplatform_collection", DP_OL_FACET_DOC "#dataplatform_collection",
				facet);
	MemoryContextSwitchTo(old);
}
