/*
 * openlineage.c
 *		Building OpenLineage run events (spec 2-0-2) with jansson and writing
 *		them to dataplatform.openlineage_outbox in the caller's transaction
 *		(see openlineage.h).  Delivery is the worker's
 *		(src/worker/openlineage_send.c).
 *
 * Transactions: START and COMPLETE/FAIL of a run are written together when
 * the run ends, in the transaction that did the work, so they commit or
 * vanish with it: nothing is sent for work that rolled back.  A FAIL that
 * must outlive a failed piece of work is written by a caller that caught
 * the error after rolling back a subtransaction (process_queued,
 * refresh_all) or in a transaction of its own (the job runner).
 *
 * Memory: jansson allocates with palloc in CurrentMemoryContext
 * (dp_json_init), so every function here works in the run's context, and
 * dp_ol_finish / dp_ol_discard delete it: nothing outlives the run, on an
 * ERROR neither (the context is a child of the caller's).
 */
#include "postgres.h"

#include <time.h>
#include <unistd.h>

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/memutils.h"

#include "guc.h"
#include "openlineage.h"
#include "util.h"

/*
 * The outbox insert, planned once per backend (the plan cache re-plans it
 * after DDL, and re-resolves the table after DROP and CREATE EXTENSION).
 */
static SPIPlanPtr insert_plan = NULL;

bool
dp_ol_enabled(void)
{
	return dp_ol_url != NULL && dp_ol_url[0] != '\0';
}

/* ISO 8601 in UTC with microseconds: 2026-12-03T12:00:00.123456Z */
static char *
iso_time(TimestampTz t)
{
	pg_time_t	secs = timestamptz_to_time_t(t);
	int			usec = (int) (t % USECS_PER_SEC);
	struct tm	tm;
	char		buf[64];

	if (usec < 0)
	{
		usec += USECS_PER_SEC;
		secs--;
	}
	{
		time_t		tt = (time_t) secs;

		gmtime_r(&tt, &tm);
	}
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return psprintf("%s.%06dZ", buf, usec);
}

/* the generator of run ids' random bits, and the process that seeded it */
static pg_prng_state rng;
static int	rng_pid = 0;

/* A UUIDv7 (time-ordered, as OpenLineage recommends for run ids). */
void
dp_ol_new_run_id(TimestampTz now, char *out)
{
	uint8		b[16];
	uint64		ms = (uint64) (timestamptz_to_time_t(now)) * 1000 + (uint64) ((now % USECS_PER_SEC) / 1000);
	int			i;
	char	   *p = out;

	/*
	 * The random bits from a generator seeded once per process from the
	 * strong source: a run id must be unique, not secret, and drawing 16
	 * strong bytes per run was a tenth of a 1-row push's OpenLineage cost.
	 */
	if (rng_pid != MyProcPid)
	{
		if (!pg_prng_strong_seed(&rng))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not seed the generator of run ids")));
		rng_pid = MyProcPid;
	}
	for (i = 0; i < 16; i += 8)
	{
		uint64		r = pg_prng_uint64(&rng);

		memcpy(b + i, &r, 8);
	}
	for (i = 0; i < 6; i++)
		b[i] = (uint8) (ms >> (8 * (5 - i)));
	b[6] = (b[6] & 0x0F) | 0x70;
	b[8] = (b[8] & 0x3F) | 0x80;
	for (i = 0; i < 16; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		sprintf(p, "%02x", b[i]);
		p += 2;
	}
	*p = '\0';
}

/* postgres://host:port, from the setting or this server's host name and port */
static char *
dataset_namespace(void)
{
	static char host[256];		/* this server's, read once per process */

	if (dp_ol_dataset_namespace && dp_ol_dataset_namespace[0])
		return pstrdup(dp_ol_dataset_namespace);
	if (host[0] == '\0')
	{
		if (gethostname(host, sizeof(host)) != 0)
			strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		for (char *c = host; *c; c++)
			*c = pg_tolower((unsigned char) *c);
	}
	return psprintf("postgres://%s:%d", host, PostPortNumber);
}

char *
dp_ol_dataset_name(const char *schema, const char *table)
{
	char	   *db = get_database_name(MyDatabaseId);

	return psprintf("%s.%s.%s", db ? db : "postgres", schema, table);
}

/* the parent run of the runs begun now (dp_ol_set_parent) */
static char parent_run_id[37];
static char parent_job[256];

void
dp_ol_set_parent(const char *run_id, const char *kind, const char *object)
{
	if (run_id == NULL)
	{
		parent_run_id[0] = '\0';
		return;
	}
	strlcpy(parent_run_id, run_id, sizeof(parent_run_id));
	snprintf(parent_job, sizeof(parent_job), "%s.%s", kind, object);
}

DpOlRun *
dp_ol_begin(const char *kind, const char *object, TimestampTz started)
{
	return dp_ol_begin_id(kind, object, started, NULL);
}

DpOlRun *
dp_ol_begin_id(const char *kind, const char *object, TimestampTz started, const char *run_id)
{
	DpOlRun    *run;
	MemoryContext old;
	json_t	   *job;
	json_t	   *jt;
	char	   *upper;

	if (!dp_ol_enabled())
		return NULL;
	run = palloc0(sizeof(DpOlRun));
	run->cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform openlineage run",
									 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(run->cxt);
	run->started = started;
	if (run_id)
		strlcpy(run->run_id, run_id, sizeof(run->run_id));
	else
		dp_ol_new_run_id(started, run->run_id);
	run->job_name = object ? psprintf("%s.%s", kind, object) : pstrdup(kind);
	run->event = dp_json_new_object();
	run->inputs = json_array();
	run->outputs = json_array();
	run->run_facets = dp_json_new_object();
	job = dp_json_new_object();
	json_object_set_new(job, "namespace",
						json_string(dp_ol_namespace && dp_ol_namespace[0] ? dp_ol_namespace : "dataplatform"));
	json_object_set_new(job, "name", json_string(run->job_name));
	upper = pstrdup(kind);
	for (char *c = upper; *c; c++)
		*c = pg_toupper((unsigned char) *c);
	jt = json_pack("{s:s, s:s, s:s, s:s, s:s}",
				   "_producer", DP_OL_PRODUCER,
				   "_schemaURL", "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
				   "processingType", "BATCH",
				   "integration", "DATAPLATFORM",
				   "jobType", upper);
	json_object_set_new(job, "facets", json_pack("{s:o}", "jobType", jt));
	json_object_set_new(run->event, "producer", json_string(DP_OL_PRODUCER));
	json_object_set_new(run->event, "schemaURL", json_string(DP_OL_SCHEMA_URL));
	json_object_set_new(run->event, "job", job);
	json_object_set(run->event, "inputs", run->inputs);
	json_object_set(run->event, "outputs", run->outputs);
	MemoryContextSwitchTo(old);
	if (parent_run_id[0] && strcmp(parent_run_id, run->run_id) != 0)
	{
		old = MemoryContextSwitchTo(run->cxt);
		dp_ol_facet(run, NULL, NULL, "parent",
					"https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json#/$defs/ParentRunFacet",
					json_pack("{s:{s:s}, s:{s:s, s:s}}",
							  "run", "runId", parent_run_id,
							  "job", "namespace",
							  dp_ol_namespace && dp_ol_namespace[0] ? dp_ol_namespace : "dataplatform",
							  "name", parent_job));
		MemoryContextSwitchTo(old);
	}
	return run;
}

json_t *
dp_ol_dataset_ns(DpOlRun *run, bool output, const char *ns, const char *name)
{
	MemoryContext old;
	json_t	   *ds;

	if (run == NULL)
		return NULL;
	old = MemoryContextSwitchTo(run->cxt);
	ds = dp_json_new_object();
	json_object_set_new(ds, "namespace", json_string(ns));
	json_object_set_new(ds, "name", json_string(name));
	json_object_set_new(ds, "facets", dp_json_new_object());
	json_array_append_new(output ? run->outputs : run->inputs, ds);
	MemoryContextSwitchTo(old);
	return ds;
}

json_t *
dp_ol_dataset(DpOlRun *run, bool output, const char *schema, const char *table)
{
	MemoryContext old;
	json_t	   *ds;

	if (run == NULL)
		return NULL;
	old = MemoryContextSwitchTo(run->cxt);
	ds = dp_ol_dataset_ns(run, output, dataset_namespace(), dp_ol_dataset_name(schema, table));
	MemoryContextSwitchTo(old);
	return ds;
}

void
dp_ol_facet(DpOlRun *run, json_t *target, const char *where, const char *name,
			const char *schema_url, json_t *facet)
{
	MemoryContext old;
	json_t	   *holder;

	if (run == NULL || facet == NULL)
		return;
	old = MemoryContextSwitchTo(run->cxt);
	if (target == NULL)
		holder = run->run_facets;
	else
	{
		holder = json_object_get(target, where);
		if (holder == NULL)
		{
			holder = dp_json_new_object();
			json_object_set_new(target, where, holder);
		}
	}
	json_object_set_new(facet, "_producer", json_string(DP_OL_PRODUCER));
	json_object_set_new(facet, "_schemaURL", json_string(schema_url));
	json_object_set_new(holder, name, facet);
	MemoryContextSwitchTo(old);
}

/*
 * The START event: the run's job, run facets and dataset names; the
 * datasets' facets (schema, column lineage, statistics) are COMPLETE's,
 * which keeps START small.
 */
static json_t *
start_event(DpOlRun *run)
{
	json_t	   *ev = dp_json_new_object();
	const char *key;
	json_t	   *value;

	/* shares COMPLETE's values, but for the datasets and the run's facets */
	json_object_foreach(run->event, key, value)
	{
		if (strcmp(key, "inputs") == 0 || strcmp(key, "outputs") == 0)
		{
			json_t	   *names = json_array();
			size_t		i;
			json_t	   *ds;

			json_array_foreach(value, i, ds)
				json_array_append_new(names, json_pack("{s:O, s:O}",
													   "namespace", json_object_get(ds, "namespace"),
													   "name", json_object_get(ds, "name")));
			json_object_set_new(ev, key, names);
		}
		else if (strcmp(key, "run") == 0)
		{
			json_t	   *facets = json_copy(json_object_get(value, "facets"));

			if (facets)
				json_object_del(facets, "errorMessage");
			json_object_set_new(ev, key, json_pack("{s:O, s:o*}", "runId", json_object_get(value, "runId"),
												   "facets", facets));
		}
		else if (strcmp(key, "eventType") != 0 && strcmp(key, "eventTime") != 0)
			json_object_set(ev, key, value);
	}
	json_object_set_new(ev, "eventType", json_string("START"));
	json_object_set_new(ev, "eventTime", json_string(iso_time(run->started)));
	return ev;
}

void
dp_ol_finish(DpOlRun *run, const char *error)
{
	MemoryContext old;
	json_t	   *runobj;
	Datum		args[5];
	int			rc;

	if (run == NULL)
		return;
	old = MemoryContextSwitchTo(run->cxt);
	if (error)
		dp_ol_facet(run, NULL, NULL, "errorMessage",
					"https://openlineage.io/spec/facets/1-0-0/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
					json_pack("{s:s, s:s}", "message", error, "programmingLanguage", "C"));
	runobj = json_pack("{s:s, s:O}", "runId", run->run_id, "facets", run->run_facets);
	json_object_set_new(run->event, "run", runobj);
	json_object_set_new(run->event, "eventType", json_string(error ? "FAIL" : "COMPLETE"));
	json_object_set_new(run->event, "eventTime", json_string(iso_time(GetCurrentTimestamp())));
	/* jsonb built from the jansson values, with no JSON text to write and parse */
	args[0] = CStringGetTextDatum(run->run_id);
	args[1] = CStringGetTextDatum(run->job_name);
	args[2] = dp_json_to_jsonb(start_event(run));
	args[3] = CStringGetTextDatum(error ? "FAIL" : "COMPLETE");
	args[4] = dp_json_to_jsonb(run->event);
	if (insert_plan == NULL)
	{
		Oid			types[5] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID, JSONBOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare("INSERT INTO dataplatform.openlineage_outbox (run_id, event_type, job_name, event) "
						   "VALUES ($1::uuid, 'START', $2, $3), ($1::uuid, $4, $2, $5)",
						   5, types);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		insert_plan = plan;
	}
	rc = SPI_execute_plan(insert_plan, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not write OpenLineage events: %s", SPI_result_code_string(rc));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(run->cxt);
	pfree(run);
}

void
dp_ol_discard(DpOlRun *run)
{
	if (run == NULL)
		return;
	MemoryContextDelete(run->cxt);
	pfree(run);
}
