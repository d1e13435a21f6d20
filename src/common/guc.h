/*
 * guc.h
 *		Every dataplatform.* setting's variable, in one place.
 *
 * The variables are defined in guc.c and registered with the server by
 * _PG_init (src/dataplatform.c), which holds their names, descriptions,
 * bounds and contexts.  Any subsystem may read them; only the GUC machinery
 * writes them.
 */
#ifndef DP_GUC_H
#define DP_GUC_H

#include "postgres.h"

#include "utils/guc.h"

/* the background worker (src/worker/) */
extern bool dp_worker_enabled;
extern int	dp_worker_naptime_ms;
extern int	dp_worker_max_jobs_per_tick;
extern int	dp_worker_job_timeout_ms;
extern int	dp_worker_history_days;
extern int	dp_worker_max_databases;

/* the audit trail of consumer reads (src/access/audit.c) */
extern bool dp_audit_reads;
extern int	dp_audit_buffer_size;
/* a standby ships its reads to the primary (src/access/audit_ship.c) */
extern char *dp_audit_primary_conninfo;

/* collection from HTTP endpoints (src/ingest/fetch.c) */
extern char *dp_collect_allowed_hosts;
extern char *dp_collect_resolve_override;

/* OpenLineage events (src/common/openlineage.c, src/worker/openlineage_send.c) */
extern char *dp_ol_url;
extern char *dp_ol_namespace;
extern char *dp_ol_dataset_namespace;
extern int	dp_ol_timeout_ms;

/* environments and PII obfuscation (src/ingest/obfuscate.c) */
typedef enum DpEnvironment
{
	DP_ENV_DEVELOPMENT,
	DP_ENV_STAGING,
	DP_ENV_PRODUCTION
} DpEnvironment;

extern int	dp_environment;
extern char *dp_obfuscation_key;
extern const struct config_enum_entry dp_environment_options[];

/* the catalogue of published views (dataplatform.catalogue, part 60) */
extern char *dp_catalogue_url;

#endif							/* DP_GUC_H */
