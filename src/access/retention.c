/*
 * retention.c
 *		Retention: dataplatform.apply_retention (each product's
 *		retention_days over raw batches, history and issues) and
 *		dataplatform.purge_audit (the audit log itself).
 *
 * Both run in the caller's transaction and record what they removed in the
 * audit log.  Current state (dp_clean.<t>) and the batch log are never
 * touched: a batch whose raw rows are gone keeps its row, marked
 * raw_purged_at.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "access/xact.h"
#include "portability/instr_time.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "access.h"
#include "partition.h"
#include "audit.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_apply_retention);
PG_FUNCTION_INFO_V1(dp_purge_audit);

typedef struct DpRetentionTarget
{
	char	   *product;
	char	   *dataset;
	char	   *table_name;
	int			days;
	char	   *cutoff;			/* timestamptz as text */
} DpRetentionTarget;

static uint64
first_int8(void)
{
	char	   *v = dp_spi_getvalue(0, 1);

	return v ? (uint64) pg_strtoint64(v) : 0;
}

/*
 * Purge one dataset older than its product's cutoff; appends the dataset's
 * report (a JSON object) to report.  Connected to SPI.
 */
static void
purge_dataset(DpRetentionTarget *t, StringInfo report)
{
	const char *args[2];
	uint64		raw_rows;
	uint64		history_rows;
	uint64		issues;
	uint64		quarantined;
	StringInfoData sql;
	StringInfoData detail;

	/* raw rows through the one raw purge path (it records itself too) */
	args[0] = t->dataset;
	args[1] = psprintf("%d days", t->days);
	dp_spi_exec_text("SELECT dataplatform.purge_raw($1, $2::interval)", 2, args);
	raw_rows = first_int8();

	/*
	 * closed versions only: the current state is the clean table.  What is
	 * left of them once apply_retention dropped the partitions holding
	 * nothing newer (dp_partition_drop_expired), found through each
	 * partition's _valid_to range index, whose pages written since it was
	 * last summarised are summarised first (unsummarised ranges are always
	 * read).
	 */
	initStringInfo(&sql);
	dp_append_qualified(&sql, "dp_clean", psprintf("%s_history", t->table_name));
	args[1] = sql.data;
	dp_spi_exec_text("SELECT pg_catalog.brin_summarize_new_values(i.indexrelid) "
					 "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
					 "JOIN pg_catalog.pg_am a ON a.oid = c.relam "
					 "WHERE a.amname = 'brin' AND (i.indrelid = $1::pg_catalog.regclass "
					 "OR i.indrelid IN (SELECT h.inhrelid FROM pg_catalog.pg_inherits h "
					 "WHERE h.inhparent = $1::pg_catalog.regclass))", 1, &args[1]);
	args[1] = t->cutoff;
	initStringInfo(&sql);
	appendStringInfoString(&sql, "DELETE FROM ");
	dp_append_qualified(&sql, "dp_clean", psprintf("%s_history", t->table_name));
	appendStringInfoString(&sql, " WHERE _valid_to < $1::timestamptz");
	history_rows = dp_spi_exec_text(sql.data, 1, &args[1]);

	issues = dp_spi_exec_text("DELETE FROM dataplatform.issue i USING dataplatform.batch b "
							  "WHERE b.id = i.batch_id AND b.dataset = $1 "
							  "AND b.received_at < $2::timestamptz", 2, args);
	quarantined = dp_spi_exec_text("DELETE FROM dataplatform.quarantine_row q USING dataplatform.batch b "
								   "WHERE b.id = q.batch_id AND b.dataset = $1 "
								   "AND b.received_at < $2::timestamptz", 2, args);

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"product\": ");
	escape_json(&detail, t->product);
	appendStringInfoString(&detail, ", \"dataset\": ");
	escape_json(&detail, t->dataset);
	appendStringInfo(&detail, ", \"retention_days\": %d, \"cutoff\": ", t->days);
	escape_json(&detail, t->cutoff);
	appendStringInfo(&detail, ", \"raw_rows\": %llu, \"history_rows\": %llu, "
					 "\"issues\": %llu, \"quarantine_rows\": %llu}",
					 (unsigned long long) raw_rows, (unsigned long long) history_rows,
					 (unsigned long long) issues, (unsigned long long) quarantined);
	dp_audit("apply_retention", t->dataset, detail.data);
	appendStringInfoString(report, detail.data);
}

/*
 * dataplatform.apply_retention() RETURNS jsonb: detach and drop the
 * partitions of raw runs, issues and the event log all of whose batches
 * are past their product's retention, and of history that hold no version
 * ending after it ("partitions"); then for every dataset of every
 * product with retention_days > 0, purge raw rows, closed history versions,
 * issues and quarantine marks older than the retention that are left
 * ("datasets").  Admins only.
 */
Datum
dp_apply_retention(PG_FUNCTION_ARGS)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	DpRetentionTarget *targets;
	uint64		n;
	StringInfoData report;
	Datum		result;

	dp_require_admin("apply retention");
	SPI_connect();
	n = dp_spi_exec("SELECT p.name, d.name, d.table_name, p.retention_days, "
					"(pg_catalog.now() - pg_catalog.make_interval(days => p.retention_days))::text "
					"FROM dataplatform.products p JOIN dataplatform.datasets d ON d.product = p.name "
					"WHERE p.retention_days > 0 ORDER BY p.name, d.name FOR SHARE OF p",
					0, NULL, NULL, NULL);
	targets = palloc(sizeof(DpRetentionTarget) * (n + 1));
	for (uint64 i = 0; i < n; i++)
	{
		targets[i].product = dp_spi_getvalue(i, 1);
		targets[i].dataset = dp_spi_getvalue(i, 2);
		targets[i].table_name = dp_spi_getvalue(i, 3);
		targets[i].days = pg_strtoint32(dp_spi_getvalue(i, 4));
		targets[i].cutoff = dp_spi_getvalue(i, 5);
	}
	initStringInfo(&report);

	/*
	 * Whole partitions first: dropping one is a catalog change, however many
	 * rows it holds; what is left past retention (the partial edge) goes row
	 * by row below.
	 */
	{
		StringInfoData parts;
		instr_time	start;
		instr_time	took;

		initStringInfo(&parts);
		INSTR_TIME_SET_CURRENT(start);
		if (dp_partition_drop_expired(&parts) > 0)
		{
			INSTR_TIME_SET_CURRENT(took);
			INSTR_TIME_SUBTRACT(took, start);
			dp_audit("drop_partitions", NULL,
					 psprintf("{\"partitions\": %s, \"elapsed_ms\": %.3f}", parts.data,
							  INSTR_TIME_GET_MILLISEC(took)));
		}
		appendStringInfo(&report, "{\"partitions\": %s, ", parts.data);
	}
	appendStringInfoString(&report, "\"datasets\": [");
	for (uint64 i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&report, ", ");
		purge_dataset(&targets[i], &report);
	}
	appendStringInfoString(&report, "]}");
	MemoryContextSwitchTo(caller_cxt);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(pstrdup(report.data)));
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * dataplatform.purge_audit(older_than interval) RETURNS bigint: remove
 * audit rows older than older_than, whole monthly partitions by detaching
 * and dropping them, the rest by deleting; auditors and superusers only.
 * Returns the rows removed.  The purge itself is recorded (after the
 * delete, so it stays), with the partitions it dropped.
 */
Datum
dp_purge_audit(PG_FUNCTION_ARGS)
{
	Interval   *older_than;
	Oid			type = INTERVALOID;
	Datum		value;
	uint64		n = 0;
	char	   *text;
	StringInfoData parts;
	TimestampTz cutoff;
	int			ndropped;
	int64		in_parts = 0;

	if (!dp_caller_has_role(DP_ROLE_AUDITOR))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to purge the audit log"),
				 errdetail("Role \"%s\" is not a member of %s.",
						   GetUserNameFromId(dp_caller_id(), false), DP_ROLE_AUDITOR),
				 errhint("Only auditors and superusers purge the audit log.")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than must not be null"),
				 errhint("Give an interval such as '7 years'.")));
	older_than = PG_GETARG_INTERVAL_P(0);
	value = PG_GETARG_DATUM(0);
	text = DatumGetCString(DirectFunctionCall1(interval_out, value));
	if (older_than->month < 0 || older_than->day < 0 || older_than->time < 0 ||
		(older_than->month == 0 && older_than->day == 0 && older_than->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must be a positive interval, got \"%s\"", text),
				 errhint("Give an interval such as '7 years'.")));

	SPI_connect();

	/*
	 * Whole months first (partition_rule): every partition whose range ends
	 * by the cutoff is detached and dropped; the rows left older than the
	 * cutoff (the partial edge, and the DEFAULT partition's) row by row.
	 */
	initStringInfo(&parts);
	cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													 TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
													 value));
	ndropped = dp_partition_drop_before("dataplatform", "audit_log", cutoff, &parts, &in_parts);
	PG_TRY();
	{
		dp_audit_purging = true;
		n = dp_spi_exec("DELETE FROM dataplatform.audit_log WHERE at < pg_catalog.now() - $1",
						1, &type, &value, NULL);
	}
	PG_FINALLY();
	{
		dp_audit_purging = false;
	}
	PG_END_TRY();
	n += (uint64) in_parts;
	if (ndropped > 0)
		dp_audit("purge_audit", NULL,
				 psprintf("{\"older_than\": \"%s\", \"rows_deleted\": %llu, \"partitions\": %s}",
						  text, (unsigned long long) n, parts.data));
	else
		dp_audit("purge_audit", NULL,
				 psprintf("{\"older_than\": \"%s\", \"rows_deleted\": %llu}",
						  text, (unsigned long long) n));
	SPI_finish();
	PG_RETURN_INT64((int64) n);
}
