/*
 * jobs.c
 *		Job definitions: the SQL API (schedule, unschedule, alter_job,
 *		run_now, wait_for_run, next_run) and the C calls other subsystems use
 *		to define, change, remove and queue jobs (jobs.h).
 *
 * A job is a row of dataplatform.job; each run is a row of
 * dataplatform.job_run.  This file only writes definitions and queues
 * runs; the worker (src/worker/runner.c) claims and runs them.  A commit
 * that changes what is due wakes the worker (src/common/wake.c).
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "access.h"
#include "cron.h"
#include "util.h"
#include "wake.h"
#include "jobs.h"

PG_FUNCTION_INFO_V1(dp_schedule);
PG_FUNCTION_INFO_V1(dp_unschedule);
PG_FUNCTION_INFO_V1(dp_alter_job);
PG_FUNCTION_INFO_V1(dp_run_now);
PG_FUNCTION_INFO_V1(dp_wait_for_run);
PG_FUNCTION_INFO_V1(dp_next_run);

#define MAX_JOB_NAME	200


/* Parse a schedule or raise 22023 naming the job and the reason. */
static void
parse_schedule(const char *schedule, const char *job, DpCron *cron)
{
	char		err[256];

	if (!dp_cron_parse(schedule, cron, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 job ? errmsg("invalid schedule \"%s\" for job \"%s\"", schedule, job)
				 : errmsg("invalid schedule \"%s\"", schedule),
				 errdetail("%c%s.", toupper((unsigned char) err[0]), err + 1),
				 errhint("Use five cron fields (minute hour day-of-month month day-of-week), "
						 "@hourly, @daily, @weekly, @monthly, @yearly, "
						 "or \"every N seconds|minutes|hours\".")));
}

static TimestampTz
next_after(const DpCron *cron, TimestampTz after)
{
	int64_t		next = dp_cron_next(cron, (int64_t) timestamptz_to_time_t(after));

	return time_t_to_timestamptz((pg_time_t) next);
}

/* Validate a job name (22023). */
static void
check_job_name(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > MAX_JOB_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid job name \"%s\"", name),
				 errdetail("A job name has 1 to %d characters.", MAX_JOB_NAME)));
	for (const char *p = name; *p; p++)
		if ((unsigned char) *p < 32)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid job name \"%s\"", name),
					 errdetail("A job name may not contain control characters.")));
}

/* The command must be non-empty SQL that parses (42601 otherwise). */
static void
check_command(const char *command)
{
	List	   *stmts;

	stmts = raw_parser(command, RAW_PARSE_DEFAULT);
	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the job command is empty"),
				 errhint("Give one or more SQL statements.")));
}

/* interval -> milliseconds, 1 ms .. INT_MAX (22023 otherwise) */
static int
interval_ms(Interval *iv, const char *what)
{
	double		ms = ((double) iv->time) / 1000.0 +
		((double) iv->day) * 86400000.0 + ((double) iv->month) * 30.0 * 86400000.0;

	if (ms < 1 || ms > (double) INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between 1 millisecond and 24 days", what)));
	return (int) ms;
}

/*
 * Look up a job for a change by the caller: 42704 if it does not exist,
 * 42501 unless the caller owns it or is a superuser.  Locks the row.
 * Returns the job id.  Caller is connected to SPI.
 */
int64
dp_jobs_for_change(const char *name, const char *action)
{
	const char *args[1] = {name};
	char	   *owner;
	int64		id;

	if (dp_spi_exec_text("SELECT id, owner FROM dataplatform.job WHERE name = $1 FOR UPDATE",
						 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("job \"%s\" does not exist", name),
				 errhint("See the table dataplatform.job for the jobs defined.")));
	id = pg_strtoint64(dp_spi_getvalue(0, 1));
	owner = dp_spi_getvalue(0, 2);
	if (!superuser_arg(dp_caller_id()) &&
		strcmp(owner, GetUserNameFromId(dp_caller_id(), false)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s job \"%s\"", action, name),
				 errdetail("The job belongs to role \"%s\".", owner),
				 errhint("Only a job's owner or a superuser may change or run it.")));
	return id;
}

/*
 * Create a job owned by the caller (connected to SPI; the caller's right
 * checked).  Validates the name, schedule and command; 42710 if the name is
 * in use.  An inactive job runs only when asked (run_now, collect).  Records
 * the audit row under `action` (none when NULL).  Returns the job id.
 */
int64
dp_jobs_create(const char *name, const char *schedule, const char *command,
			   bool active, const char *action)
{
	DpCron		cron;
	TimestampTz next;
	const char *args[1];
	Datum		values[6];
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, NAMEOID, TIMESTAMPTZOID, BOOLOID};
	NameData	owner;
	int64		id;
	StringInfoData detail;

	check_job_name(name);
	parse_schedule(schedule, name, &cron);
	check_command(command);
	next = next_after(&cron, GetCurrentTransactionStartTimestamp());

	args[0] = name;
	if (dp_spi_exec_text("SELECT 1 FROM dataplatform.job WHERE name = $1", 1, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("job \"%s\" already exists", name),
				 errhint("Use dataplatform.alter_job to change it, or dataplatform.unschedule to remove it.")));
	namestrcpy(&owner, GetUserNameFromId(dp_caller_id(), false));
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(schedule);
	values[2] = CStringGetTextDatum(command);
	values[3] = NameGetDatum(&owner);
	values[4] = TimestampTzGetDatum(next);
	values[5] = BoolGetDatum(active);
	dp_spi_exec("INSERT INTO dataplatform.job (name, schedule, command, owner, next_run_at, active) "
				"VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
				6, types, values, NULL);
	id = pg_strtoint64(dp_spi_getvalue(0, 1));
	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"schedule\": ");
	escape_json(&detail, schedule);
	appendStringInfoString(&detail, "}");
	if (action)
		dp_audit(action, name, detail.data);
	dp_wake_at_commit();
	return id;
}

/* schedule(name text, schedule text, command text) RETURNS bigint */
Datum
dp_schedule(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	char	   *schedule = dp_arg_cstring(fcinfo, 1, "schedule");
	char	   *command = dp_arg_cstring(fcinfo, 2, "command");
	int64		id;

	dp_require_admin("schedule jobs");
	SPI_connect();
	id = dp_jobs_create(name, schedule, command, true, "schedule");
	SPI_finish();
	PG_RETURN_INT64(id);
}

/*
 * Remove a job (connected to SPI; the caller's right to change it checked):
 * its queued runs are recorded as skipped, its history stays.
 */
void
dp_jobs_remove(const char *name)
{
	const char *args[1] = {name};

	dp_spi_exec_text("UPDATE dataplatform.job_run r SET status = 'skipped', "
					 "finished_at = pg_catalog.clock_timestamp(), message = 'the job was unscheduled' "
					 "FROM dataplatform.job j WHERE j.name = $1 AND r.job_id = j.id "
					 "AND r.status = 'queued'", 1, args);
	dp_spi_exec_text("DELETE FROM dataplatform.job WHERE name = $1", 1, args);
}

/* unschedule(name text) RETURNS void */
Datum
dp_unschedule(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");

	const char *args[1] = {name};

	dp_require_admin("unschedule jobs");
	SPI_connect();
	(void) dp_jobs_for_change(name, "unschedule");
	if (dp_spi_exec_text("SELECT e.name FROM dataplatform.endpoint e JOIN dataplatform.job j "
						 "ON j.id = e.job_id WHERE j.name = $1", 1, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("job \"%s\" collects endpoint \"%s\"", name, dp_spi_getvalue(0, 1)),
				 errhint("Use dataplatform.drop_endpoint to remove the endpoint and its job.")));
	dp_jobs_remove(name);
	dp_audit("unschedule", name, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * alter_job(name, schedule, command, active, timeout, retries, retry_delay)
 * RETURNS void; NULL arguments after the name keep the stored value.
 */
Datum
dp_alter_job(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	StringInfoData sql;
	StringInfoData detail;
	Datum		values[8];
	Oid			types[8];
	int			n = 1;

	dp_require_admin("alter jobs");
	SPI_connect();
	(void) dp_jobs_for_change(name, "alter");

	initStringInfo(&sql);
	initStringInfo(&detail);
	appendStringInfoString(&sql, "UPDATE dataplatform.job SET updated_at = pg_catalog.now()");
	appendStringInfoChar(&detail, '{');
	types[0] = TEXTOID;
	values[0] = CStringGetTextDatum(name);

	if (!PG_ARGISNULL(1))
	{
		char	   *schedule = text_to_cstring(PG_GETARG_TEXT_PP(1));
		DpCron		cron;
		TimestampTz next;

		parse_schedule(schedule, name, &cron);
		next = next_after(&cron, GetCurrentTransactionStartTimestamp());
		types[n] = TEXTOID;
		values[n] = CStringGetTextDatum(schedule);
		types[n + 1] = TIMESTAMPTZOID;
		values[n + 1] = TimestampTzGetDatum(next);
		appendStringInfo(&sql, ", schedule = $%d, next_run_at = $%d", n + 1, n + 2);
		appendStringInfoString(&detail, "\"schedule\": ");
		escape_json(&detail, schedule);
		n += 2;
	}
	if (!PG_ARGISNULL(2))
	{
		char	   *command = text_to_cstring(PG_GETARG_TEXT_PP(2));

		check_command(command);
		types[n] = TEXTOID;
		values[n] = CStringGetTextDatum(command);
		appendStringInfo(&sql, ", command = $%d", ++n);
		appendStringInfo(&detail, "%s\"command\": true", detail.len > 1 ? ", " : "");
	}
	if (!PG_ARGISNULL(3))
	{
		bool		active = PG_GETARG_BOOL(3);

		types[n] = BOOLOID;
		values[n] = BoolGetDatum(active);
		appendStringInfo(&sql, ", active = $%d", ++n);
		appendStringInfo(&detail, "%s\"active\": %s", detail.len > 1 ? ", " : "",
						 active ? "true" : "false");
		/* re-activated: the next time counts from now */
		if (active)
			appendStringInfoString(&sql, ", next_run_at = CASE WHEN active THEN next_run_at "
								   "ELSE dataplatform.next_run(schedule, pg_catalog.now()) END");
	}
	if (!PG_ARGISNULL(4))
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(4);
		bool		reset = (iv->time == 0 && iv->day == 0 && iv->month == 0);

		if (!reset)
			(void) interval_ms(iv, "a job's timeout");
		types[n] = INTERVALOID;
		values[n] = IntervalPGetDatum(iv);
		appendStringInfo(&sql, ", timeout = NULLIF($%d, '0'::interval)", ++n);
		appendStringInfo(&detail, "%s\"timeout\": true", detail.len > 1 ? ", " : "");
	}
	if (!PG_ARGISNULL(5))
	{
		int32		retries = PG_GETARG_INT32(5);

		if (retries < 0 || retries > 100)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("retries for job \"%s\" must be between 0 and 100", name)));
		types[n] = INT4OID;
		values[n] = Int32GetDatum(retries);
		appendStringInfo(&sql, ", retries = $%d", ++n);
		appendStringInfo(&detail, "%s\"retries\": %d", detail.len > 1 ? ", " : "", retries);
	}
	if (!PG_ARGISNULL(6))
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(6);

		(void) interval_ms(iv, "a job's retry_delay");
		types[n] = INTERVALOID;
		values[n] = IntervalPGetDatum(iv);
		appendStringInfo(&sql, ", retry_delay = $%d", ++n);
		appendStringInfo(&detail, "%s\"retry_delay\": true", detail.len > 1 ? ", " : "");
	}
	appendStringInfoString(&sql, " WHERE name = $1");
	appendStringInfoChar(&detail, '}');
	dp_spi_exec(sql.data, n, types, values, NULL);
	dp_audit("alter_job", name, detail.data);
	SPI_finish();
	dp_wake_at_commit();
	PG_RETURN_VOID();
}

/*
 * Queue a run of a job now; returns the run id.  Caller is connected to SPI
 * and has checked the caller's right.
 */
int64
dp_jobs_queue_run(int64 job_id)
{
	Datum		values[2];
	Oid			types[2] = {INT8OID, NAMEOID};
	NameData	who;
	int64		run_id;

	namestrcpy(&who, GetUserNameFromId(dp_caller_id(), false));
	values[0] = Int64GetDatum(job_id);
	values[1] = NameGetDatum(&who);
	dp_spi_exec("INSERT INTO dataplatform.job_run (job_id, job_name, trigger, status, scheduled_for, queued_by) "
				"SELECT id, name, 'manual', 'queued', pg_catalog.now(), $2 FROM dataplatform.job WHERE id = $1 "
				"RETURNING run_id", 2, types, values, NULL);
	run_id = pg_strtoint64(dp_spi_getvalue(0, 1));
	dp_wake_at_commit();
	return run_id;
}

/* run_now(name text) RETURNS bigint */
Datum
dp_run_now(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	int64		run_id;
	char		detail[64];

	dp_require_admin("run jobs");
	SPI_connect();
	run_id = dp_jobs_queue_run(dp_jobs_for_change(name, "run"));
	snprintf(detail, sizeof(detail), "{\"run_id\": " INT64_FORMAT "}", run_id);
	dp_audit("run_now", name, detail);
	SPI_finish();
	PG_RETURN_INT64(run_id);
}

/*
 * wait_for_run(run_id bigint, timeout interval) RETURNS text: the run's
 * status once it has finished, or its current status when the timeout
 * passes.  Each look takes a new snapshot, so the caller must not be in a
 * REPEATABLE READ or SERIALIZABLE transaction.
 */
Datum
dp_wait_for_run(PG_FUNCTION_ARGS)
{
	int64		run_id;
	int			timeout_ms;
	TimestampTz deadline;
	char	   *status = NULL;
	Datum		arg;
	Oid			type = INT8OID;
	MemoryContext caller_cxt;
	text	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("argument \"run_id\" must not be NULL")));
	if (PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("argument \"timeout\" must not be NULL")));
	run_id = PG_GETARG_INT64(0);
	timeout_ms = interval_ms(PG_GETARG_INTERVAL_P(1), "the timeout of wait_for_run");
	dp_require_admin("wait for job runs");
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("wait_for_run cannot wait inside a REPEATABLE READ or SERIALIZABLE transaction"),
				 errhint("Call it in a READ COMMITTED transaction.")));
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	arg = Int64GetDatum(run_id);
	caller_cxt = CurrentMemoryContext;

	SPI_connect();
	for (;;)
	{
		if (dp_spi_exec("SELECT status FROM dataplatform.job_run WHERE run_id = $1",
						1, &type, &arg, NULL) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("job run " INT64_FORMAT " does not exist", run_id),
					 errhint("Runs are kept for dataplatform.history_days days.")));
		status = dp_spi_getvalue(0, 1);
		if (strcmp(status, "queued") != 0 && strcmp(status, "running") != 0)
			break;
		if (GetCurrentTimestamp() >= deadline)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 20, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	{
		MemoryContext old = MemoryContextSwitchTo(caller_cxt);

		result = cstring_to_text(status);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

/* next_run(schedule text, after timestamptz) RETURNS timestamptz */
Datum
dp_next_run(PG_FUNCTION_ARGS)
{
	char	   *schedule = dp_arg_cstring(fcinfo, 0, "schedule");
	DpCron		cron;

	if (PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("argument \"after\" must not be NULL")));
	parse_schedule(schedule, NULL, &cron);
	PG_RETURN_TIMESTAMPTZ(next_after(&cron, PG_GETARG_TIMESTAMPTZ(1)));
}
