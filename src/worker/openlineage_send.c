/*
 * openlineage_send.c
 *		Delivering the OpenLineage outbox (dataplatform.openlineage_outbox,
 *		written by src/common/openlineage.c): the worker posts pending
 *		events to dataplatform.openlineage_url, oldest first, one at a time,
 *		and prunes the outbox.
 *
 * Each tick (dp_openlineage_deliver, outside any transaction):
 *   0. write the FAIL events of failed SQL calls kept in shared memory
 *      (src/common/openlineage_fail.c) to the outbox;
 *   1. prune, at most once a minute: delivered and rejected events, and
 *      pending ones, older than dataplatform.history_days (pending ones
 *      dropped so are counted in the server log);
 *   2. check the URL (http or https, no credentials, host on
 *      dataplatform.allowed_hosts: src/ingest/fetch.c's check, the one
 *      collection uses); a URL that fails keeps every event pending;
 *   3. read up to DP_OL_BATCH pending events in a short transaction; if the
 *      oldest is waiting for a retry, stop there (order is kept: a run's
 *      START is never overtaken by its COMPLETE);
 *   4. post each with libcurl, no transaction open and no snapshot held,
 *      then record the outcome in a transaction of its own: 2xx delivered
 *      (delivered_at, attempts); 4xx other than 408 and 429 rejected (the
 *      receiver refuses this event; retrying would not help; logged); any
 *      other failure (connection, timeout, 5xx, 408, 429) stays pending
 *      with next_attempt_at backed off (1 s, 2 s, 4 s ... at most 5
 *      minutes) and the tick stops.
 * Delivery is at least once: an event is posted again when an attempt
 * got no answer (a timeout, a connection lost) although the receiver may
 * have kept it, or when the worker stops between the receiver's answer and
 * that commit (OpenLineage receivers key events by run id, event type and
 * event time).  A 2xx whose recording fails (e.g. lock_timeout) is kept in
 * accepted_unrecorded and recorded at the next tick, before any post.  A
 * delivered event keeps the last_error of its last failed attempt.
 *
 * libcurl: the shared set-up of fetch.c (protocols, no redirects, time
 * limits, no signals, interrupt-noticing progress callback); the write
 * callback keeps at most DP_OL_MAX_RESPONSE bytes of the answer and never
 * raises; the handle and header list are freed in PG_FINALLY; interrupts
 * are processed after.  Memory: a context reset after every tick.  An
 * error while recording an outcome is caught, logged and ends the tick
 * (the worker's loop goes on).
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "collect.h"
#include "guc.h"
#include "openlineage.h"
#include "util.h"
#include "worker.h"

#define DP_OL_BATCH				100
#define DP_OL_MAX_EVENT			(4 * 1024 * 1024)
#define DP_OL_MAX_RESPONSE		1024
#define DP_OL_CONNECT_MS		2000
#define DP_OL_MAX_BACKOFF_S		300

static MemoryContext send_cxt = NULL;
static TimestampTz last_prune = 0;
static TimestampTz last_url_warning = 0;
/*
 * an event the receiver accepted (2xx) whose recording failed (e.g. the
 * lock_timeout): recorded first at the next tick, so that it is not posted
 * again; 0: none
 */
static int64 accepted_unrecorded = 0;

typedef struct Pending
{
	int64		id;
	int			attempts;
	char	   *body;
	size_t		len;
} Pending;

typedef struct Response
{
	char		text[DP_OL_MAX_RESPONSE + 1];
	size_t		len;
} Response;

/* libcurl write callback: keep the start of the answer; no ereport. */
static size_t
keep_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Response   *r = (Response *) userdata;
	size_t		n = size * nmemb;
	size_t		room = DP_OL_MAX_RESPONSE - r->len;

	memcpy(r->text + r->len, ptr, Min(n, room));
	r->len += Min(n, room);
	r->text[r->len] = '\0';
	return n;
}

/* Step 1: prune (own transaction). */
static void
prune(void)
{
	Datum		days = Int32GetDatum(dp_worker_history_days);
	Oid			type = INT4OID;
	uint64		dropped;

	if (dp_worker_history_days <= 0 ||
		!TimestampDifferenceExceeds(last_prune, GetCurrentTimestamp(), 60 * 1000))
		return;
	last_prune = GetCurrentTimestamp();
	dp_bg_xact_begin("dataplatform: prune the OpenLineage outbox", true);
	/*
	 * ids follow the time of writing: walk the primary key from the oldest
	 * end to the first event young enough to keep (no index on created_at,
	 * which every run would pay for)
	 */
	dp_spi_exec("WITH bound AS (SELECT COALESCE((SELECT o.id FROM dataplatform.openlineage_outbox o"
				"   WHERE o.created_at >= pg_catalog.now() - pg_catalog.make_interval(days => $1)"
				"   ORDER BY o.id LIMIT 1), pg_catalog.max(m.id) + 1) AS id"
				"   FROM dataplatform.openlineage_outbox m),"
				" gone AS (DELETE FROM dataplatform.openlineage_outbox o USING bound"
				"   WHERE o.id < bound.id RETURNING o.status)"
				" SELECT pg_catalog.count(*) FILTER (WHERE status = 'pending') FROM gone",
				1, &type, &days, NULL);
	dropped = pg_strtoint64(dp_spi_getvalue(0, 1));
	dp_bg_xact_end();
	if (dropped > 0)
		ereport(LOG,
				(errmsg("dataplatform worker: dropped %llu OpenLineage events never delivered in %d days",
						(unsigned long long) dropped, dp_worker_history_days)));
}

/*
 * Step 3: the pending events due now, oldest first, into send_cxt.  Sets
 * *wait_ms when the oldest waits for its retry (then returns 0).
 */
static pg_noinline int
read_pending(Pending *out, long *wait_ms)
{
	uint64		n;
	int			due = 0;

	dp_bg_xact_begin("dataplatform: read the OpenLineage outbox", true);
	n = dp_spi_exec("SELECT id, attempts, event::text, "
					" GREATEST(0, pg_catalog.date_part('epoch', next_attempt_at - pg_catalog.clock_timestamp()) * 1000)"
					" FROM dataplatform.openlineage_outbox WHERE status = 'pending' ORDER BY id LIMIT "
					CppAsString2(DP_OL_BATCH), 0, NULL, NULL, NULL);
	for (uint64 i = 0; i < n; i++)
	{
		double		ms = strtod(dp_spi_getvalue(i, 4), NULL);
		MemoryContext old;

		if (ms > 0)
		{
			if (i == 0)
				*wait_ms = (long) ms + 1;
			break;
		}
		old = MemoryContextSwitchTo(send_cxt);
		out[due].id = pg_strtoint64(dp_spi_getvalue(i, 1));
		out[due].attempts = pg_strtoint32(dp_spi_getvalue(i, 2));
		out[due].body = dp_spi_getvalue(i, 3);
		out[due].len = strlen(out[due].body);
		MemoryContextSwitchTo(old);
		due++;
	}
	dp_bg_xact_end();
	return due;
}

/* Record one outcome (own transaction): delivered, rejected, or retry. */
static void
record(const Pending *p, const char *status, const char *error)
{
	Datum		v[4];
	Oid			t[4] = {INT8OID, TEXTOID, TEXTOID, FLOAT8OID};
	char		nulls[4] = {' ', ' ', ' ', ' '};

	v[0] = Int64GetDatum(p->id);
	v[1] = CStringGetTextDatum(status);
	v[2] = error ? CStringGetTextDatum(error) : (Datum) 0;
	nulls[2] = error ? ' ' : 'n';
	v[3] = Float8GetDatum(Min(pow(2.0, p->attempts), (double) DP_OL_MAX_BACKOFF_S));
	dp_bg_xact_begin("dataplatform: record an OpenLineage delivery", true);
	/* delivered: last_error keeps why the last failed attempt failed */
	dp_spi_exec("UPDATE dataplatform.openlineage_outbox SET status = $2, attempts = attempts + 1, "
				"last_error = CASE WHEN $2 = 'delivered' THEN last_error ELSE $3 END, "
				"delivered_at = CASE WHEN $2 = 'delivered' THEN pg_catalog.clock_timestamp() END, "
				"next_attempt_at = CASE WHEN $2 = 'pending' "
				"  THEN pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => $4) "
				"  ELSE next_attempt_at END "
				"WHERE id = $1", 4, t, v, nulls);
	dp_bg_xact_end();
}

/*
 * Post one event.  Returns the HTTP status (0: no answer) and, when it
 * failed, why in *error (palloc'd).  No transaction is open.
 */
static long
post(CURL *curl, struct curl_slist *hdrs, struct curl_slist *resolve, const char *host,
	 const Pending *p, char **error)
{
	char		errbuf[CURL_ERROR_SIZE];
	bool		interrupted = false;
	DpSocketGuard guard;
	Response	resp = {{0}, 0};
	CURLcode	rc;
	long		status = 0;

	curl_easy_reset(curl);
	dp_collect_curl_setup(curl, dp_ol_url, DP_OL_CONNECT_MS, dp_ol_timeout_ms, &interrupted, errbuf, &guard);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, p->body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) p->len);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	if (resolve)
		curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
	rc = curl_easy_perform(curl);
	(void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	/* cancel, die: processed now, outside the callback */
	if (interrupted)
		CHECK_FOR_INTERRUPTS();
	if (rc != CURLE_OK && guard.refused)
	{
		*error = dp_collect_refusal(&guard, host);
		return 0;
	}
	if (rc != CURLE_OK)
	{
		*error = psprintf("%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return 0;
	}
	if (status < 200 || status > 299)
		*error = psprintf("HTTP status %ld: %.200s", status, resp.text);
	return status;
}

void
dp_openlineage_deliver(long *sleep_ms)
{
	Pending    *pending;
	volatile int due;
	long		wait_ms = 0;
	int			sqlstate;
	char	   *problem;
	char	   *host = NULL;
	CURL	   *volatile curl = NULL;
	struct curl_slist *volatile hdrs = NULL;
	struct curl_slist *volatile resolve = NULL;
	MemoryContext old;
	volatile int done = 0;
	volatile int64 accepted = 0;

	if (send_cxt == NULL)
		send_cxt = AllocSetContextCreate(TopMemoryContext, "dataplatform openlineage",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(send_cxt);
	prune();
	if (!dp_ol_enabled())
		return;
	old = MemoryContextSwitchTo(send_cxt);
	/* the FAIL events of failed SQL calls (openlineage_fail.c) join the outbox */
	if (dp_ol_fail_waiting())
	{
		dp_bg_xact_begin("dataplatform: write the OpenLineage events of failed calls", true);
		(void) dp_ol_fail_drain();
		dp_bg_xact_end();
	}

	/*
	 * an event the receiver accepted whose outcome the last tick failed to
	 * record (an error here ends the tick: it is kept for the next)
	 */
	if (accepted_unrecorded != 0)
	{
		Pending		p = {accepted_unrecorded, 0, NULL, 0};

		record(&p, "delivered", NULL);
		accepted_unrecorded = 0;
	}

	problem = dp_collect_url_problem(dp_ol_url, &sqlstate, NULL, &host, NULL);
	if (problem)
	{
		if (TimestampDifferenceExceeds(last_url_warning, GetCurrentTimestamp(), 300 * 1000))
		{
			ereport(WARNING,
					(errcode(sqlstate),
					 errmsg("dataplatform worker: OpenLineage events are kept, not sent: %s", problem),
					 errhint("Check dataplatform.openlineage_url and dataplatform.allowed_hosts.")));
			last_url_warning = GetCurrentTimestamp();
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(send_cxt);
		return;
	}
	pending = palloc(sizeof(Pending) * DP_OL_BATCH);
	due = read_pending(pending, &wait_ms);
	if (due == 0)
	{
		if (wait_ms > 0)
			*sleep_ms = Min(*sleep_ms, wait_ms);
		MemoryContextSwitchTo(old);
		MemoryContextReset(send_cxt);
		return;
	}

	dp_collect_curl_init();
	PG_TRY();
	{
		curl = curl_easy_init();
		hdrs = curl_slist_append(NULL, "Content-Type: application/json");
		if (curl == NULL || hdrs == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl handle")));
		resolve = dp_collect_resolve_list();
		for (int i = 0; i < due; i++)
		{
			Pending    *p = &pending[i];
			char	   *error = NULL;
			long		status;

			CHECK_FOR_INTERRUPTS();
			if (p->len > DP_OL_MAX_EVENT)
			{
				record(p, "rejected", psprintf("the event has %zu bytes, more than the %d a delivery may send",
											   p->len, DP_OL_MAX_EVENT));
				continue;
			}
			status = post(curl, hdrs, resolve, host, p, &error);
			if (status >= 200 && status <= 299)
			{
				accepted = p->id;
				record(p, "delivered", NULL);
				accepted = 0;
			}
			else if (status >= 400 && status <= 499 && status != 408 && status != 429)
			{
				record(p, "rejected", error);
				ereport(LOG,
						(errmsg("dataplatform worker: OpenLineage event %lld refused by the receiver: %s",
								(long long) p->id, error)));
			}
			else
			{
				/* the receiver is down, slow or failing: keep order, retry later */
				record(p, "pending", error);
				break;
			}
			done++;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/*
		 * an error recording an outcome: log it, end the tick, go on; an
		 * event the receiver accepted is recorded at the next tick, not
		 * posted again
		 */
		if (accepted != 0)
			accepted_unrecorded = accepted;
		if (hdrs)
			curl_slist_free_all(hdrs);
		if (resolve)
			curl_slist_free_all(resolve);
		if (curl)
			curl_easy_cleanup(curl);
		hdrs = NULL;
		resolve = NULL;
		curl = NULL;
		MemoryContextSwitchTo(send_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		ereport(LOG,
				(errmsg("dataplatform worker: delivering OpenLineage events: %s", edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	if (hdrs)
		curl_slist_free_all(hdrs);
	if (resolve)
		curl_slist_free_all(resolve);
	if (curl)
		curl_easy_cleanup(curl);
	/* a full batch delivered: more may wait */
	if (done == DP_OL_BATCH)
		*sleep_ms = 0;
	else
		*sleep_ms = Min(*sleep_ms, 1000L);
	MemoryContextSwitchTo(old);
	MemoryContextReset(send_cxt);
}
