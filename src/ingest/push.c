/*
 * push.c
 *		The SQL entry points of the load: push and push_csv, with their C
 *		faces dp_push_rows and dp_push_csv_data (which collection and
 *		generate call with load options), and the dry runs check and
 *		check_csv with their report.  A push is one transaction, the
 *		caller's (see load.c); a dataset that is asynchronous, or has
 *		batches still queued, only lands its raw rows and queues the batch.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "portability/instr_time.h"
#include "utils/memutils.h"

#include "csv.h"
#include "obfuscate.h"
#include "openlineage.h"
#include "pipeline.h"
#include "transform.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_push);
PG_FUNCTION_INFO_V1(dp_push_csv);
PG_FUNCTION_INFO_V1(dp_check);
PG_FUNCTION_INFO_V1(dp_check_csv);

/* no load options: what the SQL functions use */
static const DpLoadOptions *const opts_none = NULL;

/*
 * The push of a JSON payload (an object or an array of objects) to a
 * dataset, as the current user: push() and the C callers that store rows
 * (collection, generate) with their load options (NULL: none).  Returns
 * the batch id.
 */
int64
dp_push_rows(const char *dataset, Jsonb *rows, const DpLoadOptions *opts)
{
	DpLoad	   *load;
	instr_time	start;
	int64		batch_id;

	INSTR_TIME_SET_CURRENT(start);
	SPI_connect();
	load = dp_load_open(dataset, false, opts);
	dp_check_json_shape(dataset, rows);
	rows = dp_load_obfuscate_json(load, rows);

	/*
	 * Lock first, then take the batch id: batch ids of one dataset then
	 * follow commit order, which consumer refreshes rely on (a refresh that
	 * has seen batch n has seen every earlier batch of the dataset).
	 */
	dp_load_lock(load, RowExclusiveLock);
	/* bytes and hash of the payload as stored (jsonb's binary form) */
	dp_load_create_batch(load, "push", VARSIZE(rows) - VARHDRSZ,
				 dp_sha256_hex(VARDATA(rows), VARSIZE(rows) - VARHDRSZ), "{}");

	/* raw first, exactly as received */
	dp_load_land_json(load, rows);

	if (dp_load_queued_behind(load))
	{
		load->rows_in = JB_ROOT_IS_OBJECT(rows) ? 1 : JB_ROOT_COUNT(rows);
		dp_load_queue_batch(load, load->rows_in);
	}
	else
	{
		dp_load_json(load, rows);
		dp_load_finish(load, start);
	}
	dp_load_audit(load, "push");
	batch_id = load->batch_id;
	SPI_finish();
	return batch_id;
}

static Datum
push_call(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rows pushed to dataset \"%s\" must not be null", dataset)));
	PG_RETURN_INT64(dp_push_rows(dataset, PG_GETARG_JSONB_P(1), opts_none));
}

/* the SQL function: a failed call leaves its OpenLineage FAIL (openlineage_fail.c) */
Datum
dp_push(PG_FUNCTION_ARGS)
{
	return dp_ol_call(fcinfo, push_call, "push");
}

/*
 * The push of CSV text (len bytes, not terminated) with its CSV options
 * (NULL: the defaults), as the current user: push_csv() and collection.
 * Returns the batch id.
 */
int64
dp_push_csv_data(const char *dataset, const char *data, size_t len, Jsonb *csv_opts,
				 const DpLoadOptions *opts)
{
	DpCsvOptions opt;
	DpLoad	   *load;
	instr_time	start;
	int64		batch_id;
	StringInfoData source;

	INSTR_TIME_SET_CURRENT(start);
	dp_load_check_csv_args(dataset, len, csv_opts, &opt);
	SPI_connect();
	load = dp_load_open(dataset, false, opts);
	load->obfuscate = dp_obfuscation_needed(load->spec);

	initStringInfo(&source);
	appendStringInfo(&source, "{\"delimiter\": ");
	escape_json(&source, psprintf("%c", opt.delimiter ? opt.delimiter : ','));
	appendStringInfo(&source, ", \"quote\": ");
	escape_json(&source, psprintf("%c", opt.quote ? opt.quote : '"'));
	appendStringInfoChar(&source, '}');
	dp_load_lock(load, RowExclusiveLock);	/* before the batch id: see dp_push_rows */
	dp_load_create_batch(load, "push_csv", len, dp_sha256_hex(data, len), source.data);
	{
		char	   *header = NULL;
		const char *args[2];

		load->raw_only = dp_load_queued_behind(load);
		dp_load_csv(load, data, len, &opt, true, NULL, NULL, 0, &header);
		args[0] = psprintf("%lld", (long long) load->batch_id);
		args[1] = header;
		dp_spi_exec_text_kept("UPDATE dataplatform.batch SET source = source || "
						 "pg_catalog.jsonb_build_object('header', $2) WHERE id = $1::bigint", 2, args);
	}
	if (load->raw_only)
		dp_load_queue_batch(load, load->rows_in);
	else
		dp_load_finish(load, start);
	dp_load_audit(load, "push_csv");
	batch_id = load->batch_id;
	SPI_finish();
	return batch_id;
}

static Datum
push_csv_call(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	text	   *data;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("CSV for dataset \"%s\" must not be null", dataset)));
	data = PG_GETARG_TEXT_PP(1);
	PG_RETURN_INT64(dp_push_csv_data(dataset, VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
									 PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), opts_none));
}

/* the SQL function: a failed call leaves its OpenLineage FAIL (openlineage_fail.c) */
Datum
dp_push_csv(PG_FUNCTION_ARGS)
{
	return dp_ol_call(fcinfo, push_csv_call, "push_csv");
}

/* The dry-run report. */
static Datum
check_report(DpLoad *load, MemoryContext result_cxt)
{
	StringInfoData buf;
	DpTransform *t = load->t;
	int			i;
	Datum		result;

	dp_load_check_rows_json(load);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"dataset\": ");
	escape_json(&buf, load->dataset);
	appendStringInfo(&buf, ", \"spec_version\": \"%d.%d\", \"config_version\": %d, "
					 "\"rows_in\": %lld, \"rows_valid\": %lld, \"rows_replaced\": %lld, \"rows_quarantined\": %lld, "
					 "\"rows_skipped\": %lld, \"rows_filtered\": %lld, \"column_mapping\": %s, \"issues\": [",
					 load->major, load->minor, load->config_version,
					 (long long) load->rows_in, (long long) load->loaded, (long long) load->replaced,
					 (long long) load->quarantined, (long long) load->skipped,
					 (long long) load->filtered, dp_transform_mapping_json(t));
	for (i = 0; i < t->nissues; i++)
	{
		DpIssueRec *r = &t->issues[i];

		appendStringInfoString(&buf, i ? ", {\"row\": " : "{\"row\": ");
		if (r->row_number > 0)
			appendStringInfo(&buf, "%lld", (long long) r->row_number);
		else
			appendStringInfoString(&buf, "null");
		if (r->line_number > 0)
			appendStringInfo(&buf, ", \"line\": %lld", (long long) r->line_number);
		appendStringInfoString(&buf, ", \"field\": ");
		escape_json(&buf, r->field);
		appendStringInfoString(&buf, ", \"issue\": ");
		escape_json(&buf, r->issue_type);
		appendStringInfoString(&buf, ", \"severity\": ");
		escape_json(&buf, r->severity);
		appendStringInfoString(&buf, ", \"value\": ");
		if (r->value)
			escape_json(&buf, r->value);
		else
			appendStringInfoString(&buf, "null");
		if (r->normalised)
		{
			appendStringInfoString(&buf, ", \"normalised\": ");
			escape_json(&buf, r->normalised);
		}
		appendStringInfoString(&buf, ", \"message\": ");
		escape_json(&buf, r->message);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfo(&buf, "], \"rows\": [%s]}", load->rows_json.data);
	MemoryContextSwitchTo(result_cxt);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	return result;
}

Datum
dp_check(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	MemoryContext result_cxt = CurrentMemoryContext;
	Jsonb	   *rows;
	DpLoad	   *load;
	Datum		result;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rows checked against dataset \"%s\" must not be null", dataset)));
	rows = PG_GETARG_JSONB_P(1);
	SPI_connect();
	load = dp_load_open(dataset, true, NULL);
	dp_check_json_shape(dataset, rows);
	rows = dp_load_obfuscate_json(load, rows);
	dp_load_json(load, rows);
	result = check_report(load, result_cxt);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* check_csv's CSV arguments: the data (not null) and the options, checked. */
static text *
csv_args(FunctionCallInfo fcinfo, const char *dataset, DpCsvOptions *opt)
{
	text	   *data;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("CSV for dataset \"%s\" must not be null", dataset)));
	data = PG_GETARG_TEXT_PP(1);
	dp_load_check_csv_args(dataset, VARSIZE_ANY_EXHDR(data), PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), opt);
	return data;
}

Datum
dp_check_csv(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	MemoryContext result_cxt = CurrentMemoryContext;
	text	   *data;
	DpCsvOptions opt;
	DpLoad	   *load;
	Datum		result;

	data = csv_args(fcinfo, dataset, &opt);
	SPI_connect();
	load = dp_load_open(dataset, true, NULL);
	load->obfuscate = dp_obfuscation_needed(load->spec);
	dp_load_csv(load, VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), &opt, false, NULL, NULL, 0, NULL);
	result = check_report(load, result_cxt);
	SPI_finish();
	PG_RETURN_DATUM(result);
}
