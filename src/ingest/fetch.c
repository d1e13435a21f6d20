/*
 * fetch.c
 *		A collection run's fetch, in the worker: reading the endpoint and
 *		its secrets, checking each URL (http or https, no credentials, the
 *		host on dataplatform.allowed_hosts: the setting's check hook is
 *		here, the matching in src/lib/allowlist.c), the request with
 *		libcurl, and the run's secrets in memory (redacting messages,
 *		wiping).  Storing the download is store.c's.
 *
 * The job runner (src/worker/runner.c) treats a run of an endpoint's job
 * (endpoint.c) as a collection run:
 *   1. dp_collect_fetch, outside any transaction: read the endpoint and its
 *      secrets in a short transaction, then fetch with libcurl (following at
 *      most DP_COLLECT_MAX_REDIRECTS redirects by hand, checking the scheme
 *      and dataplatform.allowed_hosts before every request);
 *   2. dp_collect_store (store.c), in the run's transaction: unchanged (same
 *      sha256 as the endpoint's last stored download: no batch) or a batch
 *      through push_csv / push, run as the endpoint's owner; a
 *      collection_log row;
 *   3. on any error, dp_collect_log_failure (store.c) in the runner's
 *      failure transaction.
 * So no HTTP request is ever made in a user's transaction, and none holds a
 * snapshot while it waits on the network.
 *
 * Addresses: the host of every URL must be on the allow-list, and every
 * address libcurl connects to (after its own resolution, so a name that
 * resolves to an internal address, or rebinds to one between two lookups,
 * is caught) passes the open-socket callback: a public address, or one an
 * entry of dataplatform.allowed_hosts names explicitly (an address or a
 * range; src/lib/allowlist.c).  A refused address gets no socket, so not a
 * byte is sent to it.  dataplatform.resolve_override (superuser, for tests)
 * pins names to addresses with CURLOPT_RESOLVE; those are checked the same.
 * Behind a proxy (http_proxy in the server's environment) the address
 * checked is the proxy's.
 *
 * libcurl rules: no ereport inside a callback (the write callback sets
 * too_big / out_of_memory, the progress callback notices cancel, die and
 * postmaster death without processing them, the open-socket callback sets
 * refused), and the easy handle and header lists are freed in PG_FINALLY;
 * interrupts are processed after.  The body
 * is collected in the per-run memory context, grown with non-throwing
 * allocations.
 *
 * Secrets: their values go into curl header lists only; they are sent only
 * to the endpoint's own origin (scheme, host, port), never after a redirect
 * to another; every message recorded for a run is redacted of them; they
 * are wiped from memory after the run.
 */
#include "postgres.h"

#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/pmsignal.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "allowlist.h"
#include "collect_internal.h"
#include "guc.h"
#include "util.h"

/* What every request says it is: the extension and its version. */
#define DP_COLLECT_USER_AGENT	"dataplatform/" DP_EXTVERSION " (PostgreSQL extension; +https://github.com/dataplatform)"

/* ------------------------------------------------------------------------
 * URLs and the allow-list
 * ------------------------------------------------------------------------
 */

/* GUC check hook of dataplatform.allowed_hosts: every item a host pattern. */
bool
dp_collect_check_allowed_hosts(char **newval, void **extra, GucSource source)
{
	char		item[DP_ALLOWLIST_MAX_PATTERN + 1];

	(void) extra;
	(void) source;

	switch (dp_allowlist_check(*newval ? *newval : "", item, sizeof(item)))
	{
		case DP_ALLOWLIST_OK:
			return true;
		case DP_ALLOWLIST_TOO_LONG:
			GUC_check_errdetail("A host pattern has at most 255 characters.");
			return false;
		case DP_ALLOWLIST_BAD_PATTERN:
			GUC_check_errdetail("\"%s\" is not a host pattern: use a host name, an IP address, "
								"an address range (10.20.0.0/16), \"*.domain\" or \"*\".", item);
			return false;
	}
	return false;
}

/*
 * GUC check hook of dataplatform.resolve_override: every item
 * "host:port:address" (an IPv6 address in brackets), as CURLOPT_RESOLVE
 * takes it.
 */
bool
dp_collect_check_resolve_override(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval ? *newval : "");
	char	   *save = NULL;

	(void) extra;
	(void) source;
	for (char *item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save))
	{
		char	   *c1 = strchr(item, ':');
		char	   *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		DpAddr		a;
		char	   *end;
		long		port;

		if (c1 == NULL || c2 == NULL || c1 == item)
		{
			GUC_check_errdetail("\"%s\" is not host:port:address.", item);
			pfree(copy);
			return false;
		}
		port = strtol(c1 + 1, &end, 10);
		if (end != c2 || port < 1 || port > 65535)
		{
			GUC_check_errdetail("\"%s\" has no port from 1 to 65535.", item);
			pfree(copy);
			return false;
		}
		if (!dp_addr_parse(c2 + 1, &a))
		{
			GUC_check_errdetail("\"%s\" is not an IP address.", c2 + 1);
			pfree(copy);
			return false;
		}
	}
	pfree(copy);
	return true;
}

/* dataplatform.resolve_override as a CURLOPT_RESOLVE list; NULL if empty or out of memory. */
struct curl_slist *
dp_collect_resolve_list(void)
{
	char	   *copy = pstrdup(dp_collect_resolve_override ? dp_collect_resolve_override : "");
	char	   *save = NULL;
	struct curl_slist *list = NULL;

	for (char *item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save))
	{
		struct curl_slist *next = curl_slist_append(list, item);

		if (next == NULL)
			break;
		list = next;
	}
	pfree(copy);
	return list;
}

/*
 * libcurl open-socket callback: a socket only for an address the fetch may
 * connect to (src/lib/allowlist.c); else CURL_SOCKET_BAD and refused set.
 * No ereport, no palloc.
 */
static curl_socket_t
opensocket_cb(void *userdata, curlsocktype purpose, struct curl_sockaddr *address)
{
	DpSocketGuard *guard = (DpSocketGuard *) userdata;
	DpAddr		a;

	(void) purpose;
	memset(&a, 0, sizeof(a));
	if (address->family == AF_INET)
		dp_addr_from_bytes((const unsigned char *) &((struct sockaddr_in *) &address->addr)->sin_addr, 4, &a);
	else if (address->family == AF_INET6)
		dp_addr_from_bytes((const unsigned char *) &((struct sockaddr_in6 *) &address->addr)->sin6_addr, 16, &a);
	if (a.family == 0 || !dp_allowlist_address_ok(dp_collect_allowed_hosts, &a))
	{
		guard->refused = true;
		guard->addr = a;
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

/*
 * Why the open-socket check refused host's address (guard->refused set),
 * palloc'd: collection's failures and OpenLineage deliveries say the same.
 */
char *
dp_collect_refusal(const DpSocketGuard *guard, const char *host)
{
	char		addr[64];

	if (guard->addr.family == 0)
		return psprintf("host \"%s\" resolved to an address that is not an IP address: refused", host);
	dp_addr_format(&guard->addr, addr, sizeof(addr));
	return psprintf("host \"%s\" resolved to %s, a %s address that dataplatform.allowed_hosts does not name: "
					"refused before connecting", host, addr,
					dp_addr_class_name(dp_addr_classify(&guard->addr)));
}

/*
 * Check a URL for a fetch: absolute, http or https, no user name or
 * password in it, host on the allow-list.  Returns NULL when fine (with
 * the lower-cased scheme, host and port in scheme, host and port, palloc'd,
 * when those are not NULL), else a message (palloc'd) and in *sqlstate its
 * code.  No ereport: the worker calls it between requests.
 */
char *
dp_collect_url_problem(const char *url, int *sqlstate, char **scheme, char **host, char **port)
{
	CURLU	   *u = curl_url();
	CURLUcode	rc;
	char	   *sch = NULL;
	char	   *hst = NULL;
	char	   *prt = NULL;
	char	   *usr = NULL;
	char	   *pwd = NULL;
	char	   *problem = NULL;

	if (u == NULL)
	{
		*sqlstate = ERRCODE_OUT_OF_MEMORY;
		return pstrdup("out of memory parsing a URL");
	}
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK)
	{
		*sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		problem = psprintf("invalid URL \"%s\": %s", url, curl_url_strerror(rc));
		goto done;
	}
	(void) curl_url_get(u, CURLUPART_SCHEME, &sch, 0);
	(void) curl_url_get(u, CURLUPART_HOST, &hst, 0);
	(void) curl_url_get(u, CURLUPART_PORT, &prt, CURLU_DEFAULT_PORT);
	(void) curl_url_get(u, CURLUPART_USER, &usr, 0);
	(void) curl_url_get(u, CURLUPART_PASSWORD, &pwd, 0);
	if (sch == NULL || (pg_strcasecmp(sch, "http") != 0 && pg_strcasecmp(sch, "https") != 0))
	{
		*sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		problem = psprintf("URL scheme \"%s\" is not allowed", sch ? sch : "");
	}
	else if (hst == NULL || hst[0] == '\0')
	{
		*sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		problem = psprintf("invalid URL \"%s\": no host", url);
	}
	else if (usr != NULL || pwd != NULL)
	{
		*sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		problem = pstrdup("a URL may not carry a user name or password");
	}
	else if (!dp_allowlist_match(dp_collect_allowed_hosts, hst))
	{
		*sqlstate = ERRCODE_INSUFFICIENT_PRIVILEGE;
		problem = psprintf("host \"%s\" is not in dataplatform.allowed_hosts", hst);
	}
	else
	{
		if (scheme)
		{
			*scheme = pstrdup(sch);
			for (char *c = *scheme; *c; c++)
				*c = tolower((unsigned char) *c);
		}
		if (host)
		{
			*host = pstrdup(hst);
			for (char *c = *host; *c; c++)
				*c = tolower((unsigned char) *c);
		}
		if (port)
			*port = pstrdup(prt ? prt : "");
	}
done:
	curl_free(sch);
	curl_free(hst);
	curl_free(prt);
	curl_free(usr);
	curl_free(pwd);
	curl_url_cleanup(u);
	return problem;
}

/*
 * The origin ("scheme://host:port", lower case, the port always written) of
 * an http or https URL, or NULL with *problem set.  With bare, the URL must
 * be an origin alone (no path but "/", no query or fragment), as the
 * origins a secret may be sent to are written.  No allow-list check.
 */
char *
dp_collect_origin(const char *url, bool bare, char **problem)
{
	CURLU	   *u = curl_url();
	char	   *sch = NULL;
	char	   *hst = NULL;
	char	   *prt = NULL;
	char	   *usr = NULL;
	char	   *pth = NULL;
	char	   *qry = NULL;
	char	   *frg = NULL;
	char	   *origin = NULL;

	*problem = NULL;
	if (u == NULL)
	{
		*problem = pstrdup("out of memory parsing a URL");
		return NULL;
	}
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		*problem = psprintf("\"%s\" is not an absolute URL", url);
	else
	{
		(void) curl_url_get(u, CURLUPART_SCHEME, &sch, 0);
		(void) curl_url_get(u, CURLUPART_HOST, &hst, 0);
		(void) curl_url_get(u, CURLUPART_PORT, &prt, CURLU_DEFAULT_PORT);
		(void) curl_url_get(u, CURLUPART_USER, &usr, 0);
		(void) curl_url_get(u, CURLUPART_PATH, &pth, 0);
		(void) curl_url_get(u, CURLUPART_QUERY, &qry, 0);
		(void) curl_url_get(u, CURLUPART_FRAGMENT, &frg, 0);
		if (sch == NULL || (pg_strcasecmp(sch, "http") != 0 && pg_strcasecmp(sch, "https") != 0))
			*problem = psprintf("\"%s\" is not an http or https URL", url);
		else if (hst == NULL || hst[0] == '\0' || usr != NULL)
			*problem = psprintf("\"%s\" has no host, or carries a user name", url);
		else if (bare && ((pth && strcmp(pth, "/") != 0) || qry || frg))
			*problem = psprintf("\"%s\" is not an origin (scheme://host[:port], without a path)", url);
		else
		{
			origin = psprintf("%s://%s:%s", sch, hst, prt ? prt : "");
			for (char *c = origin; *c; c++)
				*c = tolower((unsigned char) *c);
		}
	}
	curl_free(sch);
	curl_free(hst);
	curl_free(prt);
	curl_free(usr);
	curl_free(pth);
	curl_free(qry);
	curl_free(frg);
	curl_url_cleanup(u);
	return origin;
}

/* ------------------------------------------------------------------------
 * The fetch (in the worker)
 * ------------------------------------------------------------------------
 */

DpFetch *
dp_collect_prepare(const char *endpoint, MemoryContext cxt)
{
	DpFetch    *f = MemoryContextAllocZero(cxt, sizeof(DpFetch));

	f->cxt = cxt;
	f->endpoint = MemoryContextStrdup(cxt, endpoint);
	return f;
}

/* Read the endpoint and its secrets into f (own transaction). */
static void
read_endpoint(DpFetch *f)
{
	const char *args[1] = {f->endpoint};
	json_t	   *opts;
	json_t	   *headers;
	const char *key;
	json_t	   *v;
	MemoryContext old;
	int			i = 0;

	dp_bg_xact_begin("dataplatform: read an endpoint", false);

	if (dp_spi_exec_text("SELECT dataset, url, format, options FROM dataplatform.endpoint WHERE name = $1",
						 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("endpoint \"%s\" does not exist", f->endpoint)));
	old = MemoryContextSwitchTo(f->cxt);
	f->dataset = dp_spi_getvalue(0, 1);
	f->url = dp_spi_getvalue(0, 2);
	f->format = dp_spi_getvalue(0, 3);
	MemoryContextSwitchTo(old);
	opts = dp_json_from_jsonb(DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																 CStringGetDatum(dp_spi_getvalue(0, 4)))),
							  "endpoint options");
	f->timeout_ms = (int) json_number_value(json_object_get(opts, "timeout_ms"));
	f->connect_timeout_ms = (int) json_number_value(json_object_get(opts, "connect_timeout_ms"));
	f->max_bytes = (int64) json_number_value(json_object_get(opts, "max_bytes"));
	if (f->timeout_ms <= 0)
		f->timeout_ms = DP_COLLECT_DEFAULT_TIMEOUT_MS;
	if (f->connect_timeout_ms <= 0)
		f->connect_timeout_ms = DP_COLLECT_DEFAULT_CONNECT_MS;
	if (f->max_bytes <= 0 || f->max_bytes > DP_COLLECT_MAX_MAX_BYTES)
		f->max_bytes = DP_COLLECT_DEFAULT_MAX_BYTES;
	if (json_is_object(json_object_get(opts, "csv")))
	{
		char	   *s = json_dumps(json_object_get(opts, "csv"), JSON_COMPACT);

		f->csv_options = MemoryContextStrdup(f->cxt, s);
	}
	if (json_is_object(json_object_get(opts, "column")))
		f->column_map = MemoryContextStrdup(f->cxt, json_dumps(json_object_get(opts, "column"),
															   JSON_COMPACT));
	headers = json_object_get(opts, "headers");
	if (json_is_object(headers))
	{
		size_t		n = json_object_size(headers);

		f->headers = MemoryContextAllocZero(f->cxt, sizeof(char *) * (n + 1));
		f->header_secret = MemoryContextAllocZero(f->cxt, sizeof(bool) * (n + 1));
		f->secrets = MemoryContextAllocZero(f->cxt, sizeof(char *) * (n + 1));
		json_object_foreach(headers, key, v)
		{
			if (json_is_string(v))
				f->headers[i] = MemoryContextStrdup(f->cxt, psprintf("%s: %s", key, json_string_value(v)));
			else
			{
				const char *sargs[2] = {json_string_value(json_object_get(v, "secret")), NULL};
				char	   *value;
				char	   *problem;

				sargs[1] = dp_collect_origin(f->url, false, &problem);
				if (sargs[0] == NULL ||
					dp_spi_exec_text("SELECT value, COALESCE(origins IS NULL OR $2 = ANY (origins), false) "
									 "FROM dataplatform.secret WHERE name = $1", 2, sargs) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_OBJECT),
							 errmsg("secret \"%s\" of header \"%s\" of endpoint \"%s\" does not exist",
									sargs[0] ? sargs[0] : "", key, f->endpoint),
							 errhint("Store it with dataplatform.set_secret.")));
				if (strcmp(dp_spi_getvalue(0, 2), "t") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("secret \"%s\" of header \"%s\" of endpoint \"%s\" may not be sent to %s",
									sargs[0], key, f->endpoint, sargs[1] ? sargs[1] : f->url),
							 errhint("Add the origin to the secret's origins with dataplatform.set_secret.")));
				value = dp_spi_getvalue(0, 1);
				f->secrets[f->nsecrets++] = MemoryContextStrdup(f->cxt, value);
				f->headers[i] = MemoryContextAlloc(f->cxt, strlen(key) + strlen(value) + 3);
				sprintf(f->headers[i], "%s: %s", key, value);
				f->header_secret[i] = true;
				explicit_bzero(value, strlen(value));
			}
			i++;
		}
		f->nheaders = i;
	}
	json_decref(opts);

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "dataplatform: collect an endpoint");
}

/* libcurl write callback: append to the body within max_bytes; no ereport. */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	DpFetch    *f = (DpFetch *) userdata;
	StringInfo	b = &f->body;
	size_t		n = size * nmemb;

	if ((int64) b->len + (int64) n > f->max_bytes)
	{
		f->too_big = true;
		return 0;				/* CURLE_WRITE_ERROR */
	}
	if ((size_t) b->len + n + 1 > (size_t) b->maxlen)
	{
		size_t		want = Max((size_t) b->maxlen * 2, (size_t) b->len + n + 1);
		char	   *grown;

		want = Min(want, (size_t) f->max_bytes + 1);
		grown = MemoryContextAllocExtended(f->cxt, want, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
		if (grown == NULL)
		{
			f->out_of_memory = true;
			return 0;
		}
		memcpy(grown, b->data, b->len);
		pfree(b->data);
		b->data = grown;
		b->maxlen = (int) want;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += (int) n;
	b->data[b->len] = '\0';
	return n;
}

/*
 * libcurl progress callback: abort on cancel, die, postmaster death,
 * setting the caller's flag (userdata: bool *); no ereport.
 */
static int
xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	bool	   *interrupted = (bool *) userdata;

	(void) dltotal;
	(void) dlnow;
	(void) ultotal;
	(void) ulnow;

	if (QueryCancelPending || ProcDiePending || !PostmasterIsAlive())
	{
		*interrupted = true;
		return 1;
	}
	return 0;
}

/*
 * The options every request of the worker has (collection and OpenLineage
 * delivery): the URL, http and https only, no redirect followed by libcurl,
 * no signals, the connect and total time limits, the user agent, no proxy
 * for loopback, the progress callback that notices interrupts (setting
 * *interrupted) and the error buffer.  Call after curl_easy_reset.
 */
void
dp_collect_curl_setup(CURL *curl, const char *url, long connect_ms, long timeout_ms,
					  bool *interrupted, char *errbuf, DpSocketGuard *guard)
{
	errbuf[0] = '\0';
	*interrupted = false;
	guard->refused = false;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, Min(connect_ms, timeout_ms));
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, DP_COLLECT_USER_AGENT);
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, interrupted);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
	curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, guard);
}

/* curl_global_init once per process (before the first handle). */
void
dp_collect_curl_init(void)
{
	static bool curl_ready = false;

	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("could not initialise libcurl")));
		curl_ready = true;
	}
}

static const char *
http_reason(long status)
{
	switch (status)
	{
		case 400: return "Bad Request";
		case 401: return "Unauthorized";
		case 403: return "Forbidden";
		case 404: return "Not Found";
		case 405: return "Method Not Allowed";
		case 408: return "Request Timeout";
		case 410: return "Gone";
		case 429: return "Too Many Requests";
		case 500: return "Internal Server Error";
		case 502: return "Bad Gateway";
		case 503: return "Service Unavailable";
		case 504: return "Gateway Timeout";
		default: return NULL;
	}
}

/* Does the body look like an HTML page? */
static bool
looks_like_html(const DpFetch *f)
{
	const char *p = f->body.data;
	const char *end = p + f->body.len;

	if (f->content_type && (pg_strncasecmp(f->content_type, "text/html", 9) == 0 ||
							pg_strncasecmp(f->content_type, "application/xhtml", 17) == 0))
		return true;
	if (end - p >= 3 && (unsigned char) p[0] == 0xEF && (unsigned char) p[1] == 0xBB &&
		(unsigned char) p[2] == 0xBF)
		p += 3;
	while (p < end && isspace((unsigned char) *p))
		p++;
	return (end - p >= 14 && pg_strncasecmp(p, "<!doctype html", 14) == 0) ||
		(end - p >= 5 && pg_strncasecmp(p, "<html", 5) == 0) ||
		(end - p >= 5 && pg_strncasecmp(p, "<head", 5) == 0);
}

/* The format of an "auto" endpoint: Content-Type, then extension, then sniff. */
static const char *
decide_format(const DpFetch *f, const char *final_url)
{
	const char *ct = f->content_type;
	const char *p;
	const char *path_end;

	if (strcmp(f->format, "auto") != 0)
		return f->format;
	if (ct)
	{
		if (pg_strncasecmp(ct, "text/csv", 8) == 0 || pg_strncasecmp(ct, "application/csv", 15) == 0)
			return "csv";
		if (pg_strncasecmp(ct, "application/x-ndjson", 20) == 0 ||
			pg_strncasecmp(ct, "application/ndjson", 18) == 0 ||
			pg_strncasecmp(ct, "application/jsonl", 17) == 0 ||
			pg_strncasecmp(ct, "application/x-jsonlines", 23) == 0)
			return "ndjson";
		if (pg_strncasecmp(ct, "application/geo+json", 20) == 0)
			return "geojson";
		if (pg_strncasecmp(ct, "application/json", 16) == 0)
			return "json";
	}
	path_end = final_url + strcspn(final_url, "?#");
#define ENDS_WITH(s) (path_end - final_url >= (long) strlen(s) && \
					  pg_strncasecmp(path_end - strlen(s), s, strlen(s)) == 0)
	if (ENDS_WITH(".csv"))
		return "csv";
	if (ENDS_WITH(".geojson"))
		return "geojson";
	if (ENDS_WITH(".ndjson") || ENDS_WITH(".jsonl"))
		return "ndjson";
	if (ENDS_WITH(".json"))
		return "json";
#undef ENDS_WITH
	p = f->body.data;
	while (*p && isspace((unsigned char) *p))
		p++;
	if (*p == '[')
		return "json";
	if (*p == '{')
	{
		/* one object per line is ndjson; one object is json */
		const char *nl = strchr(p, '\n');

		while (nl && isspace((unsigned char) *nl))
			nl++;
		if (nl && *nl == '{')
			return "ndjson";
		/* a FeatureCollection names itself near the start */
		return strstr(pnstrdup(p, Min(strlen(p), 4096)), "\"FeatureCollection\"") ? "geojson" : "json";
	}
	return "csv";
}

/* A failure found by the fetch: raised after every curl resource is freed. */
typedef struct FetchFailure
{
	int			sqlstate;
	char	   *message;
	char	   *hint;
} FetchFailure;

static void
fail(FetchFailure *ff, int sqlstate, const char *hint, const char *fmt,...)
	pg_attribute_printf(4, 5);

static void
fail(FetchFailure *ff, int sqlstate, const char *hint, const char *fmt,...)
{
	va_list		ap;
	StringInfoData buf;

	if (ff->message)
		return;
	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&buf, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	ff->sqlstate = sqlstate;
	ff->message = buf.data;
	ff->hint = hint ? pstrdup(hint) : NULL;
}

static struct curl_slist *
build_headers(DpFetch *f, bool with_secrets)
{
	struct curl_slist *list = NULL;

	for (int i = 0; i < f->nheaders; i++)
	{
		struct curl_slist *next;

		if (f->header_secret[i] && !with_secrets)
			continue;
		next = curl_slist_append(list, f->headers[i]);
		if (next == NULL)
		{
			curl_slist_free_all(list);
			return NULL;
		}
		list = next;
	}
	return list;
}

void
dp_collect_fetch(DpFetch *f)
{
	CURL	   *volatile curl = NULL;
	struct curl_slist *volatile hdrs = NULL;
	struct curl_slist *volatile resolve = NULL;
	FetchFailure ff = {0};
	char		errbuf[CURL_ERROR_SIZE];
	instr_time	start;
	instr_time	now;
	MemoryContext old;

	read_endpoint(f);

	old = MemoryContextSwitchTo(f->cxt);
	f->started = GetCurrentTimestamp();
	INSTR_TIME_SET_CURRENT(start);
	f->body.data = palloc(8192);
	f->body.maxlen = 8192;
	f->body.len = 0;
	f->body.data[0] = '\0';

	dp_collect_curl_init();

	PG_TRY();
	{
		char	   *url = pstrdup(f->url);
		char	   *origin = NULL;

		resolve = dp_collect_resolve_list();
		curl = curl_easy_init();
		if (curl == NULL)
			fail(&ff, ERRCODE_OUT_OF_MEMORY, NULL, "could not create a libcurl handle");
		for (int hop = 0; curl != NULL && ff.message == NULL; hop++)
		{
			char	   *scheme = NULL;
			char	   *host = NULL;
			char	   *port = NULL;
			char	   *this_origin;
			int			sqlstate;
			char	   *problem;
			long		remaining;
			CURLcode	rc;
			char	   *redirect = NULL;
			char	   *ct = NULL;

			problem = dp_collect_url_problem(url, &sqlstate, &scheme, &host, &port);
			if (problem)
			{
				if (hop > 0)
					fail(&ff, sqlstate, "The worker follows a redirect only to an http or https URL on an allowed host.",
						 "redirect refused: %s", problem);
				else
					fail(&ff, sqlstate, NULL, "%s", problem);
				break;
			}
			this_origin = psprintf("%s://%s:%s", scheme, host, port);
			if (origin == NULL)
				origin = this_origin;

			INSTR_TIME_SET_CURRENT(now);
			INSTR_TIME_SUBTRACT(now, start);
			remaining = f->timeout_ms - (long) INSTR_TIME_GET_MILLISEC(now);
			if (remaining <= 0)
			{
				fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
					 "timed out after %d ms (endpoint timeout_ms)", f->timeout_ms);
				break;
			}

			if (hdrs)
				curl_slist_free_all(hdrs);
			hdrs = NULL;
			/* secrets go to the endpoint's own origin only */
			if (f->nheaders > 0)
			{
				hdrs = build_headers(f, strcmp(this_origin, origin) == 0);
				if (hdrs == NULL && f->nheaders > 0 && strcmp(this_origin, origin) == 0)
				{
					fail(&ff, ERRCODE_OUT_OF_MEMORY, NULL, "out of memory building request headers");
					break;
				}
			}

			curl_easy_reset(curl);
			f->body.len = 0;
			f->body.data[0] = '\0';
			f->too_big = f->out_of_memory = false;
			dp_collect_curl_setup(curl, url, f->connect_timeout_ms, remaining,
								  &f->interrupted, errbuf, &f->guard);
			curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
			curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) f->max_bytes);
			curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
			curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
			curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
			curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
			if (resolve)
				curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);

			f->requested = true;
			rc = curl_easy_perform(curl);
			f->http_status = 0;
			(void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &f->http_status);

			if (rc != CURLE_OK)
			{
				const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);

				if (f->interrupted)
					fail(&ff, ERRCODE_QUERY_CANCELED, NULL, "the fetch was interrupted");
				else if (f->guard.refused)
					fail(&ff, ERRCODE_INSUFFICIENT_PRIVILEGE,
						 f->guard.addr.family != 0 ?
						 "The worker connects to loopback, private, link-local and other non-public addresses only when "
						 "dataplatform.allowed_hosts names the address or its range explicitly (e.g. 10.20.0.0/16)." : NULL,
						 "%s", dp_collect_refusal(&f->guard, host));
				else if (f->too_big || rc == CURLE_FILESIZE_EXCEEDED)
					fail(&ff, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
						 "Raise the endpoint's max_bytes option if the file is meant to be this large.",
						 "the response is larger than max_bytes (" INT64_FORMAT " bytes)", f->max_bytes);
				else if (f->out_of_memory)
					fail(&ff, ERRCODE_OUT_OF_MEMORY, NULL, "out of memory receiving the response");
				else if (rc == CURLE_COULDNT_RESOLVE_HOST)
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL, "could not resolve host \"%s\"", host);
				else if (rc == CURLE_COULDNT_CONNECT)
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
						 "could not connect to \"%s\": %s", host, why);
				else if (rc == CURLE_OPERATION_TIMEDOUT)
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
						 "timed out after %d ms (endpoint timeout_ms): %s", f->timeout_ms, why);
				else
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
						 "the request to \"%s\" failed: %s", host, why);
				break;
			}
			if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
				f->content_type = pstrdup(ct);
			else
				f->content_type = NULL;

			if (f->http_status == 301 || f->http_status == 302 || f->http_status == 303 ||
				f->http_status == 307 || f->http_status == 308)
			{
				if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &redirect) != CURLE_OK ||
					redirect == NULL)
				{
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
						 "HTTP status %ld without a usable Location", f->http_status);
					break;
				}
				if (hop >= DP_COLLECT_MAX_REDIRECTS)
				{
					fail(&ff, ERRCODE_CONNECTION_EXCEPTION, NULL,
						 "more than %d redirects", DP_COLLECT_MAX_REDIRECTS);
					break;
				}
				url = pstrdup(redirect);
				continue;
			}
			if (f->http_status < 200 || f->http_status > 299)
			{
				const char *reason = http_reason(f->http_status);

				fail(&ff, ERRCODE_CONNECTION_EXCEPTION,
					 f->http_status >= 500 ? "A server error: the run is retried if the endpoint's job has retries." : NULL,
					 "HTTP status %ld%s%s%s from \"%s\"", f->http_status,
					 reason ? " (" : "", reason ? reason : "", reason ? ")" : "", host);
				break;
			}
			/* a usable response */
			f->effective_format = pstrdup(decide_format(f, url));
			break;
		}
	}
	PG_FINALLY();
	{
		if (hdrs)
			curl_slist_free_all(hdrs);
		if (curl)
			curl_easy_cleanup(curl);
		if (resolve)
			curl_slist_free_all(resolve);
	}
	PG_END_TRY();

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	f->elapsed_ms = INSTR_TIME_GET_MILLISEC(now);

	/* cancel, die, the job's timeout: processed now, outside every callback */
	if (f->interrupted)
		CHECK_FOR_INTERRUPTS();

	if (ff.message == NULL && f->effective_format)
	{
		const char *expected = strcmp(f->effective_format, "csv") == 0 ? "CSV" :
			strcmp(f->effective_format, "geojson") == 0 ? "GeoJSON" : "JSON";

		if (f->body.len == 0)
			fail(&ff, ERRCODE_INVALID_TEXT_REPRESENTATION, "An empty download is refused so that a broken source is noticed.",
				 "the response is empty");
		else if (looks_like_html(f))
			fail(&ff, ERRCODE_INVALID_TEXT_REPRESENTATION,
				 "The server may have answered with an error or sign-in page; check the URL.",
				 "the response is an HTML page, not %s", expected);
		else if (memchr(f->body.data, '\0', f->body.len) != NULL)
			fail(&ff, ERRCODE_INVALID_TEXT_REPRESENTATION, NULL,
				 "the response contains NUL bytes: it is binary, not %s", expected);
		else if (!pg_verify_mbstr(GetDatabaseEncoding(), f->body.data, f->body.len, true))
			fail(&ff, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE, NULL,
				 "the response is not valid %s text", GetDatabaseEncodingName());
	}
	MemoryContextSwitchTo(old);

	if (ff.message)
		ereport(ERROR,
				(errcode(ff.sqlstate),
				 errmsg("collecting endpoint \"%s\": %s", f->endpoint, ff.message),
				 ff.hint ? errhint("%s", ff.hint) : 0));
}

/* ------------------------------------------------------------------------
 * The run's secrets in memory
 * ------------------------------------------------------------------------
 */

void
dp_collect_redact(DpFetch *f, StringInfo msg)
{
	for (int i = 0; i < f->nsecrets; i++)
	{
		const char *s = f->secrets[i];
		size_t		n = strlen(s);
		const char *p;
		const char *hit;
		StringInfoData out;

		if (n == 0 || strstr(msg->data, s) == NULL)
			continue;
		initStringInfo(&out);
		for (p = msg->data; (hit = strstr(p, s)) != NULL; p = hit + n)
		{
			appendBinaryStringInfo(&out, p, hit - p);
			appendStringInfoString(&out, "[redacted]");
		}
		appendStringInfoString(&out, p);
		resetStringInfo(msg);
		appendBinaryStringInfo(msg, out.data, out.len);
		pfree(out.data);
	}
}

void
dp_collect_forget(DpFetch *f)
{
	for (int i = 0; i < f->nsecrets; i++)
		explicit_bzero(f->secrets[i], strlen(f->secrets[i]));
	for (int i = 0; i < f->nheaders; i++)
		if (f->header_secret[i])
			explicit_bzero(f->headers[i], strlen(f->headers[i]));
	f->nsecrets = 0;
}
