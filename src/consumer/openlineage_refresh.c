/*
 * openlineage_refresh.c
 *		The OpenLineage run of a refresh or a publish of a consumer view
 *		(src/common/openlineage.c builds and writes the events): job
 *		"refresh.<view>" or "publish.<view>", inputs the clean tables of the
 *		view's datasets, output the published view dp_consumer.<view> with
 *		its schema and outputStatistics, run facet dataplatform_refresh
 *		(mode, method, rows inserted, updated, deleted, expectations).  A
 *		refresh rejected by its expectations is a FAIL, written with the
 *		refresh_log row; a refresh that failed inside refresh_all is a FAIL
 *		written after its subtransaction rolled back.  Unchanged refreshes
 *		emit nothing.  Called in the refresh's transaction, connected to SPI.
 */
#include "postgres.h"

#include "consumer.h"
#include "openlineage.h"

#define FACET(name) "https://openlineage.io/spec/facets/" name

static void
add_view(DpOlRun *run, const DpView *view, int64 rows, bool with_stats)
{
	json_t	   *fields = json_array();
	json_t	   *out;

	for (int i = 0; i < view->nsources; i++)
		(void) dp_ol_dataset(run, false, "dp_clean", view->sources[i].table);
	out = dp_ol_dataset(run, true, "dp_consumer", view->name);
	for (int c = 0; c < view->ncols; c++)
	{
		json_t	   *f = json_pack("{s:s, s:s}", "name", view->cols[c].name, "type", view->cols[c].type);

		if (view->cols[c].comment)
			json_object_set_new(f, "description", json_string(view->cols[c].comment));
		json_array_append_new(fields, f);
	}
	dp_ol_facet(run, out, "facets", "schema",
				FACET("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"),
				json_pack("{s:o}", "fields", fields));
	if (with_stats)
		dp_ol_facet(run, out, "outputFacets", "outputStatistics",
					FACET("1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"),
					json_pack("{s:I}", "rowCount", (json_int_t) rows));
}

/*
 * A refresh (or publish: r->publishing) that has been recorded with status
 * "ok" or "rejected", rows rows in the view, expectations their results
 * (JSON text).
 */
void
dp_refresh_openlineage(DpRefresh *r, const char *status, int64 rows, const char *expectations,
					   double ms)
{
	DpOlRun    *run;
	MemoryContext old;
	json_t	   *facet;
	json_error_t err;
	bool		ok = strcmp(status, "ok") == 0;

	if (!dp_ol_enabled())
		return;
	run = dp_ol_begin(r->publishing ? "publish" : "refresh", r->view->name,
					  GetCurrentTimestamp() - (TimestampTz) (ms * 1000.0));
	old = MemoryContextSwitchTo(run->cxt);
	add_view(run, r->view, rows, ok);
	facet = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}",
					  "status", status,
					  "mode", r->publishing ? "publish" : (r->full ? "full" : "incremental"),
					  "method", dp_view_method_name(r->view->method),
					  "inserted", (json_int_t) r->ins,
					  "updated", (json_int_t) r->upd,
					  "deleted", (json_int_t) r->del,
					  "rows", (json_int_t) rows);
	if (expectations)
	{
		json_t	   *ex = json_loads(expectations, JSON_DECODE_ANY, &err);

		if (ex)
			json_object_set_new(facet, "expectations", ex);
	}
	dp_ol_facet(run, NULL, NULL, "dataplatform_refresh", DP_OL_FACET_DOC "#dataplatform_refresh", facet);
	MemoryContextSwitchTo(old);
	dp_ol_finish(run, ok ? NULL : psprintf("refresh of view \"%s\" rejected: an expectation failed",
										   r->view->name));
}

/*
 * A refresh of view `name` that raised an error inside refresh_all, after
 * its subtransaction rolled back: START and FAIL in the caller's
 * transaction.
 */
void
dp_refresh_openlineage_failed(const char *name, TimestampTz started, const char *error)
{
	DpOlRun    *run = dp_ol_begin("refresh", name, started);
	MemoryContext old;

	if (run == NULL)
		return;
	old = MemoryContextSwitchTo(run->cxt);
	(void) dp_ol_dataset(run, true, "dp_consumer", name);
	MemoryContextSwitchTo(old);
	dp_ol_finish(run, error);
}
