/*
 * guc.c
 *		The storage of every dataplatform.* setting (declared in guc.h,
 *		registered by _PG_init in src/dataplatform.c), with the defaults the
 *		library has before _PG_init runs.
 */
#include "postgres.h"

#include "guc.h"

bool		dp_worker_enabled = true;
int			dp_worker_naptime_ms = 10000;
int			dp_worker_max_jobs_per_tick = 10;
int			dp_worker_job_timeout_ms = 3600 * 1000;
int			dp_worker_history_days = 30;
int			dp_worker_max_databases = 32;

bool		dp_audit_reads = true;
int			dp_audit_buffer_size = 4096;
char	   *dp_audit_primary_conninfo = NULL;

char	   *dp_collect_allowed_hosts = NULL;
char	   *dp_collect_resolve_override = NULL;

char	   *dp_ol_url = NULL;
char	   *dp_ol_namespace = NULL;
char	   *dp_ol_dataset_namespace = NULL;
int			dp_ol_timeout_ms = 5000;

int			dp_environment = DP_ENV_DEVELOPMENT;
char	   *dp_obfuscation_key = NULL;
char	   *dp_catalogue_url = NULL;

const struct config_enum_entry dp_environment_options[] = {
	{"development", DP_ENV_DEVELOPMENT, false},
	{"staging", DP_ENV_STAGING, false},
	{"production", DP_ENV_PRODUCTION, false},
	{NULL, 0, false}
};
