/*
 * openlineage_refresh.c
 *		The OpenLineage run of a refresh or a publish of a consumer view
 *		(src/common/openlineage.c builds and writes the events): job
 *		"refresh.<view>" or "publish.<view>", inputs the clean tables of the
 *		view's datasets, output the published view dp_consumer.<view> with
 *		its schema, column lineage (dataplatform.view_column_lineage) and
 *		outputStatistics, run facet dataplatform_refresh
 *		(mode, method, rows inserted, updated, deleted, expectations).  A
 *		refresh rejected by its expectations is a FAIL, written with the
 *		refresh_log row; a refresh that failed inside refresh_all is a FAIL
 *		written after its subtransaction rolled back.  Unchanged refreshes
 *		emit nothing.  Called in the refresh's transaction, connected to SPI.
 */
#include "postgres.h"

#include "executor/spi.h"

#include "consumer.h"
#include "openlineage.h"

#define FACET(name) "https://openlineage.io/spec/facets/" name

/*
 * columnLineage of the view from dataplatform.view_column_lineage (stored
 * at publish, src/consumer/lineage.c): each column from the clean (or
 * history) table columns it reads, with how (identity, expression,
 * aggregate); constants have no inputs and are left out.
 */
static void
column_lineage(DpOlRun *run, const DpView *view, json_t *out)
{
	const char *args[1] = {view->name};
	json_t	   *fields = dp_json_new_object();
	json_t	   *in;
	uint64		n;

	n = dp_spi_exec_text("SELECT l.column_name, d.table_name || CASE WHEN l.history THEN '_history' ELSE '' END, "
						 "l.source_column, l.transformation, l.expression "
						 "FROM dataplatform.view_column_lineage l JOIN dataplatform.datasets d ON d.name = l.dataset "
						 "WHERE l.view = $1 AND l.source_column IS NOT NULL ORDER BY l.ordinal, l.dataset, l.field",
						 1, args);
	if (n == 0)
	{
		json_decref(fields);
		return;
	}
	/* the namespace of this database's tables, as the inputs have it */
	in = json_array_get(run->inputs, 0);
	for (uint64 i = 0; i < n; i++)
	{
		char	   *col = dp_spi_getvalue(i, 1);
		char	   *how = dp_spi_getvalue(i, 4);
		char	   *expr = dp_spi_getvalue(i, 5);
		json_t	   *c = json_object_get(fields, col);
		json_t	   *t;

		if (c == NULL)
		{
			c = json_pack("{s:[]}", "inputFields");
			json_object_set_new(fields, col, c);
		}
		t = json_pack("{s:s, s:s}", "type", "DIRECT",
					  "subtype", strcmp(how, "identity") == 0 ? "IDENTITY" :
					  strcmp(how, "aggregate") == 0 ? "AGGREGATION" : "TRANSFORMATION");
		if (expr)
			json_object_set_new(t, "description", json_string(expr));
		json_array_append_new(json_object_get(c, "inputFields"),
							  json_pack("{s:O, s:s, s:s, s:[o]}",
										"namespace", json_object_get(in, "namespace"),
										"name", dp_ol_dataset_name("dp_clean", dp_spi_getvalue(i, 2)),
										"field", dp_spi_getvalue(i, 3),
										"transformations", t));
	}
	dp_ol_facet(run, out, "facets", "columnLineage",
				FACET("1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"),
				json_pack("{s:o}", "fields", fields));
}

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
	if (view->nsources > 0)
		column_lineage(run, view, out);
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
