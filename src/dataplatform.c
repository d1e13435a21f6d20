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
#include "openlineage.h"
#include "util.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * dataplatform.openlineage_url: empty, or an http or https URL.  Its host is
 * checked against dataplatform.allowed_hosts at each delivery (the list may
 * change meanwhile), by the worker.
 */
static bool
check_openlineage_url(char **newval, void **extra, GucSource source)
{
	const char *v = *newval ? *newval : "";

	(void) extra;
	(void) source;
	if (v[0] == '\0')
		return true;
	if (pg_strncasecmp(v, "http://", 7) != 0 && pg_strncasecmp(v, "https://", 8) != 0)
	{
		GUC_check_errdetail("The OpenLineage URL must be an http or https URL, or empty.");
		return false;
	}
	for (const char *c = v; *c; c++)
		if ((unsigned char) *c <= ' ')
		{
			GUC_check_errdetail("The OpenLineage URL must not contain spaces or control characters.");
			return false;
		}
	return true;
}

/* dataplatform.openlineage_dataset_namespace: empty or postgres://host:port */
static bool
check_openlineage_dataset_namespace(char **newval, void **extra, GucSource source)
{
	const char *v = *newval ? *newval : "";

	(void) extra;
	(void) source;
	if (v[0] == '\0' || (strncmp(v, "postgres://", 11) == 0 && strchr(v + 11, ':') != NULL &&
						 strchr(v + 11, '/') == NULL))
		return true;
	GUC_check_errdetail("OpenLineage names PostgreSQL datasets in the namespace postgres://host:port.");
	return false;
}

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
	DefineCustomStringVariable("dataplatform.audit_primary_conninfo",
							   "On a standby: the libpq connection string to the primary its reads are audited on.",
							   "The standby's worker ships buffered reads of dp_consumer to "
							   "dataplatform.audit_receive on the primary, connecting as a member of "
							   "dataplatform_audit_shipper; empty: reads on a standby go to the server log.",
							   &dp_audit_primary_conninfo, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

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

	/* OpenLineage events (src/common/openlineage.c, src/worker/openlineage_send.c) */
	DefineCustomStringVariable("dataplatform.openlineage_url",
							   "Where the background worker sends OpenLineage run events (empty: none are recorded).",
							   "An http or https URL, e.g. http://marquez:5000/api/v1/lineage; its host must be "
							   "in dataplatform.allowed_hosts.",
							   &dp_ol_url, "", PGC_SUSET, 0,
							   check_openlineage_url, NULL, NULL);
	DefineCustomStringVariable("dataplatform.openlineage_namespace",
							   "The OpenLineage job namespace of this platform's runs.",
							   NULL, &dp_ol_namespace, "dataplatform", PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("dataplatform.openlineage_dataset_namespace",
							   "The OpenLineage namespace of this database's tables, postgres://host:port.",
							   "Empty: this server's host name and port.  Set it to the address clients use, "
							   "so that the catalogue matches the tables other tools report.",
							   &dp_ol_dataset_namespace, "", PGC_SUSET, 0,
							   check_openlineage_dataset_namespace, NULL, NULL);
	DefineCustomIntVariable("dataplatform.openlineage_timeout",
							"Time limit of one delivery of an OpenLineage event.",
							NULL, &dp_ol_timeout_ms, 5000, 100, 300000, PGC_SUSET,
							GUC_UNIT_MS, NULL, NULL, NULL);

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

	/* the FAIL events of failed SQL calls wait in shared memory for the worker */
	if (process_shared_preload_libraries_in_progress)
		dp_ol_fail_init();

	/* no jobs while pg_upgrade runs the server */
	if (process_shared_preload_libraries_in_progress && !IsBinaryUpgrade)
		dp_worker_preload_init();
}
