/*
 * collect_internal.h
 *		What the files of collection share among themselves (endpoint.c,
 *		fetch.c, store.c) and keep from the job runner, which sees only
 *		collect.h: a run's state (struct DpFetch), the defaults and limits
 *		of an endpoint's options, and the URL check.
 */
#ifndef DP_COLLECT_INTERNAL_H
#define DP_COLLECT_INTERNAL_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/timestamp.h"

#include "allowlist.h"
#include "collect.h"

#define DP_COLLECT_DEFAULT_TIMEOUT_MS	30000
#define DP_COLLECT_DEFAULT_CONNECT_MS	10000
#define DP_COLLECT_DEFAULT_MAX_BYTES	(100 * 1024 * 1024)
#define DP_COLLECT_MAX_MAX_BYTES		(512 * 1024 * 1024)

/*
 * One collection run (typedef in collect.h): the endpoint's settings and
 * what the fetch got.  Lives in the run's context (dp_collect_prepare).
 */
struct DpFetch
{
	MemoryContext cxt;
	char	   *endpoint;
	/* settings, read from dataplatform.endpoint */
	char	   *dataset;
	char	   *url;
	char	   *format;			/* csv | json | ndjson | auto */
	char	   *csv_options;	/* jsonb text, or NULL */
	char	   *column_map;		/* the "column" option (jsonb text), or NULL */
	int			timeout_ms;
	int			connect_timeout_ms;
	int64		max_bytes;
	int			nheaders;
	char	  **headers;		/* "Name: value" */
	bool	   *header_secret;	/* carries a secret: same origin only */
	int			nsecrets;
	char	  **secrets;		/* values, for redaction and wiping */
	/* what happened */
	TimestampTz started;
	bool		requested;		/* a request was made */
	long		http_status;
	double		elapsed_ms;
	char	   *content_type;
	char	   *effective_format;
	char	   *sha256;
	StringInfoData body;
	bool		too_big;
	bool		out_of_memory;
	bool		interrupted;
	DpSocketGuard guard;		/* what the open-socket callback refused */
};


/*
 * The origin "scheme://host:port" of an http(s) URL (fetch.c), or NULL and
 * *problem; with bare, the URL must be an origin alone.
 */
extern char *dp_collect_origin(const char *url, bool bare, char **problem);

#endif							/* DP_COLLECT_INTERNAL_H */
