/*
 * dataplatform.c
 *		Module entry point: PG_MODULE_MAGIC, _PG_init, and the GUCs.
 *
 * The library works both from shared_preload_libraries (where later
 * modules start the background worker and install hooks) and when loaded
 * on first use by a plain SQL call.  Every dataplatform.* setting is
 * defined here.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "agreement.h"
#include "audit.h"
#include "collect.h"
#include "events.h"
#include "guc.h"
#include "obfuscate.h"
#include "util.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	dp_json_init();
	/* rebuild (ingest) replays snapshots and events through events/ */
	dp_replay_register(dp_events_replay_batch);

	/* the background worker (src/worker.c, src/jobs.c) */
	DefineCustomBoolVariable("dataplatform.enabled",
							 "Whether the background worker runs jobs.",
							 "Off: workers stay connected but run nothing (a kill switch).",
							 &dp_worker_enabled, true, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("dataplatform.naptime",
							"Longest time a worker sleeps between looks at its jobs.",
							"Workers also wake when a job falls due and when run_now or schedule commits.",
							&dp_worker_naptime_ms, 10000, 100, 3600 * 1000, PGC_SIGHUP,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("dataplatform.max_jobs_per_tick",
							"Most job runs a worker starts before it looks at the schedule again.",
							NULL, &dp_worker_max_jobs_per_tick, 10, 1, 1000, PGC_SIGHUP,
							0, NULL, NULL, NULL);
	DefineCustomIntVariable("dataplatform.job_timeout",
							"Default time limit of a job run (0: none).",
							"A job's own timeout (alter_job) overrides it.",
							&dp_worker_job_timeout_ms, 3600 * 1000, 0, INT_MAX, PGC_SIGHUP,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("dataplatform.history_days",
							"Days finished job runs are kept in dataplatform.job_run (0: forever).",
							NULL, &dp_worker_history_days, 30, 0, 36500, PGC_SIGHUP,
							0, NULL, NULL, NULL);

	/* the audit trail of consumer reads (src/audit.c) */
	DefineCustomBoolVariable("dataplatform.audit_reads",
							 "Whether reads of dp_consumer relations are recorded in the audit log.",
							 "Reads are buffered in shared memory and written by the database's worker.",
							 &dp_audit_reads, true, PGC_SUSET, 0,
							 NULL, NULL, NULL);

	/*
	 * Settings that size shared memory exist only when preloaded: the server
	 * refuses (FATAL) a PGC_POSTMASTER setting defined after start-up, which
	 * is when a library loaded on first use would define it.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("dataplatform.max_databases",
								"Most databases the launcher keeps a worker for.",
								NULL, &dp_worker_max_databases, 32, 1, 1024, PGC_POSTMASTER,
								0, NULL, NULL, NULL);
		DefineCustomIntVariable("dataplatform.audit_buffer_size",
								"Entries the shared audit buffer holds before reads go to the server log.",
								"An entry is one read or a group of repeated reads; each takes about 1.3 kB of shared memory.",
								&dp_audit_buffer_size, 4096, 16, 262144, PGC_POSTMASTER,
								0, NULL, NULL, NULL);
	}

	/* collection from HTTP endpoints (src/ingest/fetch.c, src/lib/allowlist.c) */
	DefineCustomStringVariable("dataplatform.allowed_hosts",
							   "Hosts the background worker may fetch endpoints from.",
							   "Comma-separated host names or IP addresses, \"*.domain\" for any name "
							   "under a domain, or \"*\"; empty: no endpoint may be fetched.",
							   &dp_collect_allowed_hosts, "", PGC_SUSET, GUC_LIST_INPUT,
							   dp_collect_check_allowed_hosts, NULL, NULL);
	DefineCustomStringVariable("dataplatform.resolve_override",
							   "For tests: host names the worker resolves to given addresses.",
							   "Comma-separated host:port:address entries (libcurl's CURLOPT_RESOLVE); "
							   "the addresses connected to are checked as any others.",
							   &dp_collect_resolve_override, "", PGC_SUSET,
							   GUC_LIST_INPUT | GUC_NOT_IN_SAMPLE,
							   dp_collect_check_resolve_override, NULL, NULL);

	/* environments and PII obfuscation (src/obfuscate.c) */
	DefineCustomEnumVariable("dataplatform.environment",
							 "What data this database may hold: development, staging or production.",
							 "Outside production, values of fields marked pii are obfuscated before they are stored.",
							 &dp_environment, DP_ENV_DEVELOPMENT, dp_environment_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("dataplatform.obfuscation_key",
							   "Key of the HMAC-SHA256 tokens that replace PII values outside production.",
							   "Without it, pushes of datasets with PII fields are refused outside production.",
							   &dp_obfuscation_key, "", PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);

	/* the catalogue of published views (src/sql/60_lineage.sql) */
	DefineCustomStringVariable("dataplatform.catalogue_url",
							   "Base URL of the published views in dataplatform.catalogue().",
							   "Identifiers and distribution URLs are this URL followed by the view's name; "
							   "empty: postgresql:// URLs naming the database and the view.",
							   &dp_catalogue_url, "", PGC_SUSET, 0, NULL, NULL, NULL);

	MarkGUCPrefixReserved("dataplatform");

	/* before the audit's hook, which calls it first: a refused read is not a read */
	dp_agreement_init();

	/*
	 * the read audit's executor hook and, when preloaded, its buffer and
	 * query ids (EnableQueryId: compute_query_id = auto turns them on)
	 */
	dp_audit_init(process_shared_preload_libraries_in_progress);

	/* no jobs while pg_upgrade runs the server */
	if (process_shared_preload_libraries_in_progress && !IsBinaryUpgrade)
		dp_worker_preload_init();
}
