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
 *
 * A job runs on its schedule (cron in UTC, or in the wall-clock time of its
 * time zone: src/lib/cron.c's dp_cron_next_local with the server's zone
 * database), after another job succeeds (after_job: the runner queues it),
 * or both.  A job with neither a schedule nor a job to run after runs only
 * when asked.  after_job chains are checked for cycles when written, and a
 * job others run after cannot be removed.
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
#include "pgtime.h"

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

/*
 * A job's time zone: NULL for UTC (timezone NULL or empty), else the zone;
 * 22023 when the zone database does not know it.  *canonical gets the
 * zone's name as the database spells it.
 */
static pg_tz *
job_zone(const char *timezone, const char *job, const char **canonical)
{
	pg_tz	   *tz;

	if (canonical)
		*canonical = NULL;
	if (timezone == NULL || timezone[0] == '\0')
		return NULL;
	tz = pg_tzset(timezone);
	if (tz == NULL || !pg_tz_acceptable(tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 job ? errmsg("unknown time zone \"%s\" for job \"%s\"", timezone, job)
				 : errmsg("unknown time zone \"%s\"", timezone),
				 errhint("Use a name of the IANA time zone database, such as Europe/London "
						 "(see pg_timezone_names).")));
	if (canonical)
		*canonical = pstrdup(pg_get_timezone_name(tz));
	return tz;
}

/* DpCronOffsetFn over the server's zone database. */
static int
zone_offset(int64_t t, void *arg)
{
	pg_time_t	pt = (pg_time_t) t;
	struct pg_tm *tm = pg_localtime(&pt, (const pg_tz *) arg);

	return tm ? (int) tm->tm_gmtoff : 0;
}

static TimestampTz
next_after(const DpCron *cron, TimestampTz after, pg_tz *tz)
{
	int64_t		t = (int64_t) timestamptz_to_time_t(after);
	int64_t		next = tz ? dp_cron_next_local(cron, t, zone_offset, tz) : dp_cron_next(cron, t);

	if (next < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the schedule never fires")));
	return time_t_to_timestamptz((pg_time_t) next);
}

/*
 * The job `after` that job `job` is to run after must exist (42704) and
 * must not lead back to `job` through the jobs it runs after (42P17).
 * Connected to SPI.
 */
static void
check_after(const char *job, const char *after)
{
	StringInfoData chain;
	const char *cur = after;

	initStringInfo(&chain);
	appendStringInfo(&chain, "%s -> %s", job, after);
	if (strcmp(after, job) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("job \"%s\" cannot run after itself", job)));
	for (int hops = 0; hops < 10000; hops++)
	{
		const char *args[1] = {cur};
		char	   *next;

		if (dp_spi_exec_text("SELECT after_job FROM dataplatform.job WHERE name = $1", 1, args) == 0)
		{
			if (cur == after)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("job \"%s\" cannot run after job \"%s\": it does not exist", job, after),
						 errhint("Define that job first (a collection job is named collect:<endpoint>).")));
			return;
		}
		next = dp_spi_getvalue(0, 1);
		if (next == NULL)
			return;
		appendStringInfo(&chain, " -> %s", next);
		if (strcmp(next, job) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("job \"%s\" cannot run after job \"%s\": that makes a cycle", job, after),
					 errdetail("The chain would be %s.", chain.data)));
		cur = next;
	}
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
			   bool active, const char *action, const char *timezone, const char *after)
{
	DpCron		cron;
	TimestampTz next;
	const char *args[1];
	Datum		values[8];
	Oid			types[8] = {TEXTOID, TEXTOID, TEXTOID, NAMEOID, TIMESTAMPTZOID, BOOLOID, TEXTOID, TEXTOID};
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	NameData	owner;
	int64		id;
	StringInfoData detail;
	const char *zone;
	pg_tz	   *tz;

	check_job_name(name);
	if (after && after[0] == '\0')
		after = NULL;
	if (schedule == NULL && after == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job \"%s\" needs a schedule or a job to run after", name),
				 errhint("Give a schedule, or after => 'another-job'.")));
	tz = job_zone(timezone, name, &zone);
	if (schedule)
	{
		parse_schedule(schedule, name, &cron);
		next = next_after(&cron, GetCurrentTransactionStartTimestamp(), tz);
	}
	else
		next = DT_NOEND;		/* runs after another job only */
	check_command(command);
	if (after)
		check_after(name, after);

	args[0] = name;
	if (dp_spi_exec_text("SELECT 1 FROM dataplatform.job WHERE name = $1", 1, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("job \"%s\" already exists", name),
				 errhint("Use dataplatform.alter_job to change it, or dataplatform.unschedule to remove it.")));
	namestrcpy(&owner, GetUserNameFromId(dp_caller_id(), false));
	values[0] = CStringGetTextDatum(name);
	values[2] = CStringGetTextDatum(command);
	values[3] = NameGetDatum(&owner);
	values[4] = TimestampTzGetDatum(next);
	values[5] = BoolGetDatum(active);
	values[6] = zone ? CStringGetTextDatum(zone) : (Datum) 0;
	values[7] = after ? CStringGetTextDatum(after) : (Datum) 0;
	if (schedule == NULL)
		nulls[1] = 'n';
	if (zone == NULL)
		nulls[6] = 'n';
	if (after == NULL)
		nulls[7] = 'n';
	values[1] = schedule ? CStringGetTextDatum(schedule) : (Datum) 0;
	dp_spi_exec("INSERT INTO dataplatform.job (name, schedule, command, owner, next_run_at, active, "
				"timezone, after_job) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
				8, types, values, nulls);
	id = pg_strtoint64(dp_spi_getvalue(0, 1));
	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"schedule\": ");
	if (schedule)
		escape_json(&detail, schedule);
	else
		appendStringInfoString(&detail, "null");
	if (zone)
	{
		appendStringInfoString(&detail, ", \"timezone\": ");
		escape_json(&detail, zone);
	}
	if (after)
	{
		appendStringInfoString(&detail, ", \"after\": ");
		escape_json(&detail, after);
	}
	appendStringInfoString(&detail, "}");
	if (action)
		dp_audit(action, name, detail.data);
	dp_wake_at_commit();
	return id;
}

/*
 * schedule(name text, schedule text, command text, timezone text, after
 * text) RETURNS bigint; schedule may be NULL when after is given.
 */
Datum
dp_schedule(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	char	   *schedule = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *command = dp_arg_cstring(fcinfo, 2, "command");
	char	   *timezone = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *after = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	int64		id;

	dp_require_admin("schedule jobs");
	SPI_connect();
	id = dp_jobs_create(name, schedule, command, true, "schedule", timezone, after);
	SPI_finish();
	PG_RETURN_INT64(id);
}

void
dp_jobs_redefine(const char *name, const char *schedule, bool active,
				 const char *timezone, const char *after, int retries)
{
	DpCron		cron;
	const char *zone;
	pg_tz	   *tz;
	TimestampTz next = DT_NOEND;
	Datum		values[7];
	Oid			types[7] = {TEXTOID, TEXTOID, BOOLOID, TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID};
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	if (after && after[0] == '\0')
		after = NULL;
	if (schedule == NULL && after == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job \"%s\" needs a schedule or a job to run after", name)));
	tz = job_zone(timezone, name, &zone);
	if (schedule)
	{
		parse_schedule(schedule, name, &cron);
		next = next_after(&cron, GetCurrentTransactionStartTimestamp(), tz);
	}
	if (after)
		check_after(name, after);
	values[0] = CStringGetTextDatum(name);
	values[1] = schedule ? CStringGetTextDatum(schedule) : (Datum) 0;
	nulls[1] = schedule ? ' ' : 'n';
	values[2] = BoolGetDatum(active);
	values[3] = zone ? CStringGetTextDatum(zone) : (Datum) 0;
	nulls[3] = zone ? ' ' : 'n';
	values[4] = after ? CStringGetTextDatum(after) : (Datum) 0;
	nulls[4] = after ? ' ' : 'n';
	values[5] = Int32GetDatum(retries);
	values[6] = TimestampTzGetDatum(next);
	dp_spi_exec("UPDATE dataplatform.job SET schedule = $2, active = $3, timezone = $4, after_job = $5, "
				"retries = $6, next_run_at = $7, updated_at = pg_catalog.now() WHERE name = $1",
				7, types, values, nulls);
	dp_wake_at_commit();
}

/*
 * Remove a job (connected to SPI; the caller's right to change it checked):
 * its queued runs are recorded as skipped, its history stays.
 */
void
dp_jobs_remove(const char *name)
{
	const char *args[1] = {name};

	if (dp_spi_exec_text("SELECT pg_catalog.string_agg(name, ', ' ORDER BY name) FROM dataplatform.job "
						 "WHERE after_job = $1 HAVING pg_catalog.count(*) > 0", 1, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("jobs run after job \"%s\"", name),
				 errdetail("Jobs: %s.", dp_spi_getvalue(0, 1)),
				 errhint("Unschedule them, or change what they run after with alter_job(name, after => ...), first.")));

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
 * alter_job(name, schedule, command, active, timeout, retries, retry_delay,
 * timezone, after) RETURNS void; NULL arguments after the name keep the
 * stored value; timezone '' is UTC, after '' runs after no job.
 */
Datum
dp_alter_job(PG_FUNCTION_ARGS)
{
	char	   *name = dp_arg_cstring(fcinfo, 0, "name");
	StringInfoData sql;
	StringInfoData detail;
	Datum		values[12];
	Oid			types[12];
	char		nulls[13];
	int			n = 1;
	bool		recompute = false;

	memset(nulls, ' ', sizeof(nulls) - 1);
	nulls[12] = '\0';
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

		parse_schedule(schedule, name, &cron);
		types[n] = TEXTOID;
		values[n] = CStringGetTextDatum(schedule);
		appendStringInfo(&sql, ", schedule = $%d", ++n);
		appendStringInfoString(&detail, "\"schedule\": ");
		escape_json(&detail, schedule);
		recompute = true;
	}
	if (PG_NARGS() > 7 && !PG_ARGISNULL(7))
	{
		const char *zone;

		(void) job_zone(text_to_cstring(PG_GETARG_TEXT_PP(7)), name, &zone);
		types[n] = TEXTOID;
		values[n] = zone ? CStringGetTextDatum(zone) : (Datum) 0;
		nulls[n] = zone ? ' ' : 'n';
		appendStringInfo(&sql, ", timezone = $%d", ++n);
		appendStringInfo(&detail, "%s\"timezone\": ", detail.len > 1 ? ", " : "");
		if (zone)
			escape_json(&detail, zone);
		else
			appendStringInfoString(&detail, "null");
		recompute = true;
	}
	if (PG_NARGS() > 8 && !PG_ARGISNULL(8))
	{
		char	   *after = text_to_cstring(PG_GETARG_TEXT_PP(8));
		const char *args[1] = {name};

		if (after[0] != '\0')
			check_after(name, after);
		else if (PG_ARGISNULL(1) &&
				 dp_spi_exec_text("SELECT 1 FROM dataplatform.job WHERE name = $1 AND schedule IS NULL",
								  1, args) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("job \"%s\" would have neither a schedule nor a job to run after", name),
					 errhint("Give it a schedule in the same call, or unschedule it.")));
		types[n] = TEXTOID;
		values[n] = CStringGetTextDatum(after);
		appendStringInfo(&sql, ", after_job = NULLIF($%d, '')", ++n);
		appendStringInfo(&detail, "%s\"after\": ", detail.len > 1 ? ", " : "");
		if (after[0])
			escape_json(&detail, after);
		else
			appendStringInfoString(&detail, "null");
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
			appendStringInfoString(&sql, ", next_run_at = CASE WHEN active OR schedule IS NULL THEN next_run_at "
								   "ELSE dataplatform.next_run(schedule, pg_catalog.now(), timezone) END");
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
	dp_spi_exec(sql.data, n, types, values, nulls);
	{
		const char *args[1] = {name};

		if (recompute)
			dp_spi_exec_text("UPDATE dataplatform.job SET next_run_at = CASE WHEN schedule IS NULL "
							 "THEN 'infinity' ELSE dataplatform.next_run(schedule, pg_catalog.now(), timezone) END "
							 "WHERE name = $1", 1, args);
	}
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

/*
 * next_run(schedule text, after timestamptz [, timezone text]) RETURNS
 * timestamptz; a NULL or absent timezone is UTC.
 */
Datum
dp_next_run(PG_FUNCTION_ARGS)
{
	char	   *schedule = dp_arg_cstring(fcinfo, 0, "schedule");
	DpCron		cron;
	pg_tz	   *tz = NULL;

	if (PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("argument \"after\" must not be NULL")));
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
		tz = job_zone(text_to_cstring(PG_GETARG_TEXT_PP(2)), NULL, NULL);
	parse_schedule(schedule, NULL, &cron);
	PG_RETURN_TIMESTAMPTZ(next_after(&cron, PG_GETARG_TIMESTAMPTZ(1), tz));
}
