/*
 * collect.h
 *		Collection from HTTP endpoints: the pieces of a collection run that
 *		the job runner (src/worker/runner.c) calls (fetch.c, store.c), and
 *		the dataplatform.allowed_hosts check hook (fetch.c).  The SQL API is
 *		endpoint.c; what those files share among themselves,
 *		collect_internal.h.
 */
#ifndef DP_COLLECT_H
#define DP_COLLECT_H

#include "postgres.h"

#include <curl/curl.h>

#include "lib/stringinfo.h"
#include "utils/guc.h"

#include "allowlist.h"

#define DP_COLLECT_MAX_REDIRECTS 3

/* One collection run: the endpoint's settings and what the fetch got. */
typedef struct DpFetch DpFetch;

/*
 * A run of endpoint `endpoint`, allocated in `cxt` (the runner's per-run
 * context).  Raises nothing.
 */
extern DpFetch *dp_collect_prepare(const char *endpoint, MemoryContext cxt);

/*
 * Read the endpoint's settings (a short transaction of its own), then fetch
 * its URL outside any transaction.  Raises an ERROR, after freeing every
 * curl resource, when the fetch fails (network, HTTP status, size, content
 * that is not what the format expects) or the run is cancelled.  Must be
 * called outside a transaction.
 */
extern void dp_collect_fetch(DpFetch *f);

/*
 * In the run's transaction (connected to SPI): record the download as
 * "unchanged" when its sha256 equals the endpoint's last stored one, else
 * land it as a batch through push/push_csv run as `owner`, and record it as
 * "stored".  Returns the batch's row count (0 when unchanged).
 */
extern uint64 dp_collect_store(DpFetch *f, const char *owner, int64 run_id);

/* In a transaction (connected to SPI): log a failed run with `message`. */
extern void dp_collect_log_failure(DpFetch *f, int64 run_id, const char *message);

/* Replace every secret value of the run found in msg by "[redacted]". */
extern void dp_collect_redact(DpFetch *f, StringInfo msg);

/* Wipe the run's secret values from memory (before its context goes). */
extern void dp_collect_forget(DpFetch *f);

/*
 * For every HTTP request of the worker (collection, OpenLineage delivery;
 * fetch.c): whether a URL may be requested (http or https, no credentials,
 * host on dataplatform.allowed_hosts): NULL, or why not (palloc'd) with
 * its SQLSTATE; the lower-cased scheme, host and port when wanted.  No
 * ereport.
 */
extern char *dp_collect_url_problem(const char *url, int *sqlstate, char **scheme,
									char **host, char **port);

/* libcurl set up once per process (ERROR if it cannot be). */
extern void dp_collect_curl_init(void);

/* What the open-socket check refused: an address (family 0: not an IP address). */
typedef struct DpSocketGuard
{
	bool		refused;
	DpAddr		addr;
} DpSocketGuard;

/*
 * The options every request of the worker has, on a handle just reset:
 * protocols, no redirects, no signals, time limits, user agent, the
 * interrupt-noticing progress callback (sets *interrupted; no ereport
 * inside it), the error buffer (CURL_ERROR_SIZE bytes), and the check of
 * every address connected to against dataplatform.allowed_hosts (a refused
 * one gets no socket; *guard says which).
 */
/* Why the open-socket check refused host's address (guard->refused set); palloc'd. */
extern char *dp_collect_refusal(const DpSocketGuard *guard, const char *host);

/* dataplatform.resolve_override as a CURLOPT_RESOLVE list (NULL: none); the caller frees it. */
extern struct curl_slist *dp_collect_resolve_list(void);

extern void dp_collect_curl_setup(CURL *curl, const char *url, long connect_ms, long timeout_ms,
								  bool *interrupted, char *errbuf, DpSocketGuard *guard);

/*
 * The OpenLineage description of collection run run_id (store.c, in a
 * transaction, connected to SPI): its input (the URL without its query),
 * its output (dp_raw.rows) and a dataplatform_collection run facet
 * (endpoint, HTTP status, bytes, sha256, outcome, batch).  run may be NULL.
 */
struct DpOlRun;
extern void dp_collect_openlineage(DpFetch *f, int64 run_id, struct DpOlRun *run);

/* GUC check hook of dataplatform.allowed_hosts (dataplatform.c). */
extern bool dp_collect_check_allowed_hosts(char **newval, void **extra, GucSource source);

/* GUC check hook of dataplatform.resolve_override (dataplatform.c). */
extern bool dp_collect_check_resolve_override(char **newval, void **extra, GucSource source);

#endif							/* DP_COLLECT_H */
