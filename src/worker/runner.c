/*
 * runner.c
 *		The job runner the worker calls: queue due runs, claim one, run it
 *		as the job's owner, record the outcome.  Job definitions and the SQL
 *		API are src/catalog/jobs.c.
 *
 * A job is a row of dataplatform.job; each run is a row of
 * dataplatform.job_run that moves queued -> running -> succeeded | failed |
 * timed_out (or is recorded as skipped).  The worker's tick, each step in
 * its own transaction:
 *   1. queue due jobs (a run for each job whose next_run_at has passed,
 *      "skipped" if the job still has a run queued or running) and advance
 *      next_run_at (in the job's time zone); prune history older than
 *      dataplatform.history_days (job_run, collection_log, refresh_log);
 *   2. claim the oldest due queued run (FOR UPDATE SKIP LOCKED; a partial
 *      unique index allows one running run per job) and commit it as
 *      running, so a crash leaves it "running" for dp_jobs_recover;
 *   3. run it in a fresh transaction, as the job's owner, under a timer,
 *      and record success in the same transaction, queueing a run of every
 *      active job that runs after this one (trigger "after"); on error, abort and
 *      record the failure (and queue a retry with exponential backoff) in
 *      another.
 * Per-run allocations live in a memory context reset after every run.
 * A job that belongs to an endpoint (dataplatform.endpoint.job_id) is a
 * collection run: src/ingest/fetch.c fetches before step 3's transaction and
 * src/ingest/store.c stores in it (see execute_run).
 *
 * Running as the owner: SetCurrentRoleId (as SET ROLE does, so that the API's
 * caller checks see the owner) and SetUserIdAndSecContext with
 * SECURITY_LOCAL_USERID_CHANGE, which forbids SET ROLE / SET SESSION
 * AUTHORIZATION inside the command; both restored in every path.  SET
 * commands of the job are undone by a GUC nest level.
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
#include "collect.h"
#include "openlineage.h"
#include "util.h"
#include "wake.h"
#include "worker.h"


static MemoryContext run_cxt = NULL;
static TimestampTz last_prune = 0;

/* ------------------------------------------------------------------------
 * The runner (called by the worker, outside any transaction)
 * ------------------------------------------------------------------------
 */

/*
 * The worker's own bookkeeping gives up on a lock after a short wait
 * (dp_bg_xact_begin's bounded: DROP EXTENSION locks the job tables in its
 * own order) and the tick tries again later; job runs themselves are not
 * limited.
 */

/* Runs left "running" by a crash or a kill are failed. */
void
dp_jobs_recover(void)
{
	dp_bg_xact_begin("dataplatform: recover interrupted runs", true);
	dp_spi_exec("UPDATE dataplatform.job_run SET status = 'failed', "
				"finished_at = pg_catalog.clock_timestamp(), "
				"message = 'interrupted: the worker stopped during the run' "
				"WHERE status = 'running'", 0, NULL, NULL, NULL);
	dp_bg_xact_end();
}

/* Step 1: queue due scheduled runs, prune history; in one transaction. */
static void
queue_due_jobs(void)
{
	dp_bg_xact_begin("dataplatform: queue due jobs", true);
	dp_spi_exec("WITH due AS ("
				"  SELECT j.id, j.name, j.next_run_at,"
				"         EXISTS (SELECT 1 FROM dataplatform.job_run r WHERE r.job_id = j.id"
				"                 AND r.status IN ('queued', 'running')) AS busy"
				"    FROM dataplatform.job j"
				"   WHERE j.active AND j.schedule IS NOT NULL AND j.next_run_at <= pg_catalog.now()"
				"   FOR UPDATE OF j SKIP LOCKED),"
				" advanced AS ("
				"  UPDATE dataplatform.job j"
				"     SET next_run_at = dataplatform.next_run(j.schedule, pg_catalog.now(), j.timezone)"
				"    FROM due WHERE j.id = due.id)"
				"INSERT INTO dataplatform.job_run (job_id, job_name, trigger, status, scheduled_for,"
				"                                 started_at, finished_at, message)"
				"SELECT id, name, 'schedule', CASE WHEN busy THEN 'skipped' ELSE 'queued' END,"
				"       next_run_at,"
				"       CASE WHEN busy THEN pg_catalog.now() END,"
				"       CASE WHEN busy THEN pg_catalog.now() END,"
				"       CASE WHEN busy THEN 'the previous run had not finished' END"
				"  FROM due", 0, NULL, NULL, NULL);
	if (dp_worker_history_days > 0 &&
		TimestampDifferenceExceeds(last_prune, GetCurrentTimestamp(), 60 * 1000))
	{
		Datum		days = Int32GetDatum(dp_worker_history_days);
		Oid			type = INT4OID;

		dp_spi_exec("DELETE FROM dataplatform.job_run WHERE finished_at < "
					"pg_catalog.now() - pg_catalog.make_interval(days => $1)",
					1, &type, &days, NULL);
		/* the logs of collection and refresh age alike (by their time indexes) */
		dp_spi_exec("DELETE FROM dataplatform.collection_log WHERE started_at < "
					"pg_catalog.now() - pg_catalog.make_interval(days => $1)",
					1, &type, &days, NULL);
		dp_spi_exec("DELETE FROM dataplatform.refresh_log WHERE at < "
					"pg_catalog.now() - pg_catalog.make_interval(days => $1)",
					1, &type, &days, NULL);
		last_prune = GetCurrentTimestamp();
	}
	dp_bg_xact_end();
}

typedef struct DpClaimedRun
{
	int64		run_id;
	int64		job_id;
	char	   *job_name;
	char	   *command;
	char	   *owner;
	int			timeout_ms;		/* 0: none */
	int			retries;
	int			attempt;
	double		retry_delay_s;
	char	   *endpoint;		/* a collection run: the endpoint; else NULL */
} DpClaimedRun;

/* Step 2: claim one due queued run (into run_cxt); false if none. */
static bool
claim_run(DpClaimedRun *run)
{
	Datum		deflt = Int32GetDatum(dp_worker_job_timeout_ms);
	Oid			type = INT4OID;
	bool		found;

	dp_bg_xact_begin("dataplatform: claim a run", true);
	found = dp_spi_exec("UPDATE dataplatform.job_run r"
						"   SET status = 'running', started_at = pg_catalog.clock_timestamp()"
						"  FROM dataplatform.job j"
						" WHERE j.id = r.job_id AND r.run_id = ("
						"   SELECT q.run_id FROM dataplatform.job_run q"
						"    WHERE q.status = 'queued' AND q.scheduled_for <= pg_catalog.now()"
						"      AND NOT EXISTS (SELECT 1 FROM dataplatform.job_run x"
						"                       WHERE x.job_id = q.job_id AND x.status = 'running')"
						"    ORDER BY q.scheduled_for, q.run_id LIMIT 1 FOR UPDATE SKIP LOCKED)"
						" RETURNING r.run_id, r.job_id, j.name, j.command, j.owner,"
						"   COALESCE(pg_catalog.date_part('epoch', j.timeout) * 1000, $1)::integer,"
						"   j.retries, r.attempt, pg_catalog.date_part('epoch', j.retry_delay)::float8,"
						"   (SELECT e.name FROM dataplatform.endpoint e WHERE e.job_id = j.id)",
						1, &type, &deflt, NULL) > 0;
	if (found)
	{
		MemoryContext old = MemoryContextSwitchTo(run_cxt);

		run->run_id = pg_strtoint64(dp_spi_getvalue(0, 1));
		run->job_id = pg_strtoint64(dp_spi_getvalue(0, 2));
		run->job_name = dp_spi_getvalue(0, 3);
		run->command = dp_spi_getvalue(0, 4);
		run->owner = dp_spi_getvalue(0, 5);
		run->timeout_ms = pg_strtoint32(dp_spi_getvalue(0, 6));
		run->retries = pg_strtoint32(dp_spi_getvalue(0, 7));
		run->attempt = pg_strtoint32(dp_spi_getvalue(0, 8));
		run->retry_delay_s = strtod(dp_spi_getvalue(0, 9), NULL);
		run->endpoint = dp_spi_getvalue(0, 10);
		MemoryContextSwitchTo(old);
	}
	else
	{
		/* a run of a job deleted meanwhile has no job row: skip it */
		dp_spi_exec("UPDATE dataplatform.job_run r SET status = 'skipped',"
					" finished_at = pg_catalog.clock_timestamp(), message = 'the job no longer exists'"
					" WHERE r.status = 'queued' AND NOT EXISTS"
					" (SELECT 1 FROM dataplatform.job j WHERE j.id = r.job_id)", 0, NULL, NULL, NULL);
	}
	dp_bg_xact_end();
	return found;
}

/*
 * Run a SQL command as role `owner` (in the current transaction, connected
 * to SPI).  Returns the rows processed by its last statement.
 */
static uint64
exec_as(const char *owner, const char *sql)
{
	DpRoleSwitch sw;
	int			rc;
	volatile uint64 rows = 0;

	dp_role_become(dp_role_to_act_as(owner, "job's owner",
									 "Drop the job, or schedule it again as an existing role."),
				   false, &sw);
	PG_TRY();
	{
		rc = SPI_execute(sql, false, 0);
		if (rc < 0)
			elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
		rows = SPI_processed;
	}
	PG_CATCH();
	{
		dp_role_restore(&sw, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	dp_role_restore(&sw, true);
	return rows;
}

/*
 * The OpenLineage run of a job run (in a transaction, connected to SPI):
 * job "job.<name>", or "collect.<endpoint>" for a collection run with its
 * URL, raw output and collection facet; COMPLETE, or FAIL with error.
 * Emitted for every collection run and for failed job runs.
 */
static void
job_openlineage(DpClaimedRun *run, DpFetch *fetch, TimestampTz started, uint64 rows,
				const char *error, const char *run_id)
{
	DpOlRun    *ol = dp_ol_begin_id(fetch ? "collect" : "job", fetch ? run->endpoint : run->job_name,
									started, run_id);
	MemoryContext old;

	if (ol == NULL)
		return;
	if (fetch)
		dp_collect_openlineage(fetch, run->run_id, ol);
	old = MemoryContextSwitchTo(ol->cxt);
	dp_ol_facet(ol, NULL, NULL, "dataplatform_job", DP_OL_FACET_DOC "#dataplatform_job",
				json_pack("{s:I, s:s, s:i, s:I}", "jobRunId", (json_int_t) run->run_id,
						  "job", run->job_name, "attempt", run->attempt,
						  "rows", (json_int_t) rows));
	MemoryContextSwitchTo(old);
	dp_ol_finish(ol, error);
}

/*
 * A failed run's FAIL event, in a transaction of its own after the failure
 * is recorded: an error here loses the event, never the record.
 */
static void
job_openlineage_failed(DpClaimedRun *run, DpFetch *fetch, TimestampTz started, const char *error,
					   const char *run_id)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (!dp_ol_enabled())
		return;
	PG_TRY();
	{
		dp_bg_xact_begin("dataplatform: record a failed run's OpenLineage event", false);
		job_openlineage(run, fetch, started, 0, error, run_id);
		dp_bg_xact_end();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(WARNING,
				(errmsg("dataplatform worker: the OpenLineage event of failed run %lld was not recorded: %s",
						(long long) run->run_id, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * Step 3: run a claimed run and record its outcome.  A collection run
 * (src/ingest/fetch.c) fetches first, outside any transaction, under the
 * run's time limit; then stores what it fetched (src/ingest/store.c) in the
 * run's transaction instead of running the command.
 */
static void
execute_run(DpClaimedRun *run)
{
	volatile bool ok = false;
	volatile uint64 rows = 0;
	ErrorData  *volatile edata = NULL;
	volatile bool timed_out = false;
	DpFetch    *volatile fetch = NULL;
	TimestampTz started = GetCurrentTimestamp();
	char		ol_run_id[37];

	dp_ol_new_run_id(started, ol_run_id);

	PG_TRY();
	{
		Datum		args[2];
		Oid			types[2] = {INT8OID, INT8OID};

		if (run->timeout_ms > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, run->timeout_ms);
		if (run->endpoint)
		{
			fetch = dp_collect_prepare(run->endpoint, run_cxt);
			dp_collect_fetch(fetch);
		}
		dp_bg_xact_begin(run->command, false);
		debug_query_string = run->command;
		/* the collection's pushes name its run as their parent */
		if (fetch)
		{
			dp_ol_set_parent(ol_run_id, "collect", run->endpoint);
			rows = dp_collect_store(fetch, run->owner, run->run_id);
			dp_ol_set_parent(NULL, NULL, NULL);
		}
		else
			rows = exec_as(run->owner, run->command);
		disable_timeout(STATEMENT_TIMEOUT, false);
		args[0] = Int64GetDatum(run->run_id);
		args[1] = Int64GetDatum((int64) rows);
		dp_spi_exec("UPDATE dataplatform.job_run SET status = 'succeeded', rows = $2,"
					" finished_at = pg_catalog.clock_timestamp() WHERE run_id = $1",
					2, types, args, NULL);
		/* the jobs that run after this one, in the same transaction */
		dp_spi_exec("INSERT INTO dataplatform.job_run (job_id, job_name, trigger, status, scheduled_for, message)"
					" SELECT j.id, j.name, 'after', 'queued', pg_catalog.clock_timestamp(),"
					"        pg_catalog.format('after job %s succeeded (run %s)', r.job_name, r.run_id)"
					"   FROM dataplatform.job_run r JOIN dataplatform.job j ON j.after_job = r.job_name"
					"  WHERE r.run_id = $1 AND j.active AND NOT EXISTS"
					"        (SELECT 1 FROM dataplatform.job_run q WHERE q.job_id = j.id AND q.status = 'queued')",
					1, types, args, NULL);
		/*
		 * a collection run is a run of its own; a plain job's work (push,
		 * refresh, process_queued ...) emits its runs itself, so a job that
		 * succeeded adds none (a job every few seconds would flood the
		 * receiver); a failed job's FAIL is the only trace of its work
		 */
		if (fetch)
			job_openlineage(run, fetch, started, rows, NULL, ol_run_id);
		dp_bg_xact_end();
		debug_query_string = NULL;
		ok = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(run_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* ProcessInterrupts resets the timer's indicator: judge by the clock */
		timed_out = (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && run->timeout_ms > 0 &&
					 TimestampDifferenceExceeds(started, GetCurrentTimestamp(),
												run->timeout_ms - 1));
		disable_timeout(STATEMENT_TIMEOUT, false);
		debug_query_string = NULL;
		dp_ol_set_parent(NULL, NULL, NULL);
		AbortCurrentTransaction();
		SetCurrentRoleId(InvalidOid, false);
	}
	PG_END_TRY();

	if (!ok)
	{
		Datum		args[6];
		Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, BOOLOID, FLOAT8OID, INT4OID};
		StringInfoData msg;
		bool		retry = run->attempt <= run->retries;
		double		delay = run->retry_delay_s * pow(2.0, run->attempt - 1);

		initStringInfo(&msg);
		if (timed_out)
			appendStringInfo(&msg, "timed out after %d ms", run->timeout_ms);
		else
		{
			appendStringInfoString(&msg, edata->message ? edata->message : "unknown error");
			if (edata->detail)
				appendStringInfo(&msg, " (%s)", edata->detail);
		}
		if (fetch)
			dp_collect_redact(fetch, &msg);
		args[0] = Int64GetDatum(run->run_id);
		args[1] = CStringGetTextDatum(timed_out ? "timed_out" : "failed");
		args[2] = CStringGetTextDatum(msg.data);
		args[3] = BoolGetDatum(retry);
		args[4] = Float8GetDatum(Min(delay, 86400.0));
		args[5] = Int32GetDatum(run->attempt + 1);
		dp_bg_xact_begin("dataplatform: record a failed run", false);
		dp_spi_exec("UPDATE dataplatform.job_run SET status = $2, message = $3,"
					" finished_at = pg_catalog.clock_timestamp() WHERE run_id = $1",
					3, types, args, NULL);
		dp_spi_exec("INSERT INTO dataplatform.job_run (job_id, job_name, trigger, attempt, status,"
					"   scheduled_for, queued_by)"
					" SELECT r.job_id, r.job_name, 'retry', $6, 'queued',"
					"   pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => $5), r.queued_by"
					"  FROM dataplatform.job_run r JOIN dataplatform.job j ON j.id = r.job_id"
					" WHERE r.run_id = $1 AND $4",
					6, types, args, NULL);
		if (fetch)
			dp_collect_log_failure(fetch, run->run_id, msg.data);
		dp_bg_xact_end();
		job_openlineage_failed(run, fetch, started, msg.data, ol_run_id);
	}
	if (fetch)
		dp_collect_forget(fetch);
}

/*
 * One tick: queue due jobs, then run up to max_jobs_per_tick runs.  Sets
 * *sleep_ms to how long the worker may sleep before the next tick.  Returns
 * the runs done.
 */
int
dp_jobs_tick(long *sleep_ms)
{
	int			done = 0;
	bool		more = true;

	if (run_cxt == NULL)
		run_cxt = AllocSetContextCreate(TopMemoryContext, "dataplatform run",
										ALLOCSET_DEFAULT_SIZES);
	queue_due_jobs();
	while (done < dp_worker_max_jobs_per_tick)
	{
		DpClaimedRun run;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
			break;
		memset(&run, 0, sizeof(run));
		if (!claim_run(&run))
		{
			more = false;
			break;
		}
		execute_run(&run);
		MemoryContextReset(run_cxt);
		done++;
	}

	if (more)
		*sleep_ms = 0;
	else
	{
		double		ms;
		char	   *v;

		dp_bg_xact_begin("dataplatform: next wake-up", true);
		dp_spi_exec("SELECT pg_catalog.date_part('epoch', (LEAST("
					" (SELECT pg_catalog.min(next_run_at) FROM dataplatform.job"
					"   WHERE active AND schedule IS NOT NULL),"
					" (SELECT pg_catalog.min(scheduled_for) FROM dataplatform.job_run"
					"   WHERE status = 'queued')) - pg_catalog.clock_timestamp())) * 1000",
					0, NULL, NULL, NULL);
		v = dp_spi_getvalue(0, 1);
		ms = v ? strtod(v, NULL) : (double) dp_worker_naptime_ms;
		dp_bg_xact_end();
		*sleep_ms = (long) Max(0.0, Min(ms + 1.0, (double) dp_worker_naptime_ms));
	}
	return done;
}
