/*
 * openlineage_load.c
 *		The OpenLineage run of one load (src/common/openlineage.c builds and
 *		writes the events): push, push_csv, snapshot, events, and the replays
 *		of process_queued and rebuild, each a job "<kind>.<dataset>"; a push
 *		that only queues its batch is a run that wrote raw rows.
 *
 * A load's run reads the batch as landed in dp_raw.rows and writes the
 * dataset's clean table, dataplatform.issue and dataplatform.quarantine_row:
 *   - input dp_raw.rows: dataQualityMetrics (rows, bytes) and
 *     dataplatform_quality (rows in, loaded, quarantined, skipped,
 *     filtered; issues by severity and by type);
 *   - output dp_clean.<table>: schema (the spec's fields), columnLineage
 *     (each column from the source columns mapped to its field),
 *     outputStatistics (rows loaded);
 *   - run facet dataplatform_batch (batch id, dataset, product, kind,
 *     versions, who pushed).
 * Called in the load's transaction, connected to SPI; costs nothing when
 * dataplatform.openlineage_url is unset.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"

#include "access.h"
#include "datatype.h"
#include "openlineage.h"
#include "pipeline.h"
#include "util.h"

#define FACET(name) "https://openlineage.io/spec/facets/" name

/* The load's run: its job, the batch facet and the raw input. */
static DpOlRun *
load_run(DpLoad *load, json_t **raw)
{
	DpOlRun    *run = dp_ol_begin(load->run_kind ? load->run_kind : "load", load->dataset,
								  load->run_started);
	MemoryContext old;

	if (run == NULL)
		return NULL;
	old = MemoryContextSwitchTo(run->cxt);
	dp_ol_facet(run, NULL, NULL, "dataplatform_batch", DP_OL_FACET_DOC "#dataplatform_batch",
				json_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:i}",
						  "batchId", (json_int_t) load->batch_id,
						  "dataset", load->dataset,
						  "product", load->product,
						  "kind", load->run_kind ? load->run_kind : "load",
						  "pushedBy", GetUserNameFromId(dp_caller_id(), false),
						  "specVersion", psprintf("%d.%d", load->major, load->minor),
						  "configVersion", load->config_version));
	*raw = dp_ol_dataset(run, false, "dp_raw", "rows");
	MemoryContextSwitchTo(old);
	return run;
}

/*
 * Issues of the batch by type: as the transform counted them when it
 * recorded them (as it counts them by severity), else (more types than it
 * has slots for) from the issue table (index on issue (batch_id,
 * row_number)).
 */
static json_t *
issues_by_type(DpLoad *load)
{
	json_t	   *o = dp_json_new_object();
	const char *args[1];
	uint64		n;

	if (load->t->issue_counts[0] + load->t->issue_counts[1] + load->t->issue_counts[2] == 0)
		return o;
	if (!load->t->types_overflow)
	{
		for (int k = 0; k < load->t->ntypes; k++)
			json_object_set_new(o, load->t->type_names[k], json_integer(load->t->type_counts[k]));
		return o;
	}
	args[0] = psprintf("%lld", (long long) load->batch_id);
	n = dp_spi_exec_text("SELECT issue_type, pg_catalog.count(*) FROM dataplatform.issue "
						 "WHERE batch_id = $1::bigint GROUP BY 1 ORDER BY 1", 1, args);
	for (uint64 i = 0; i < n; i++)
		json_object_set_new(o, dp_spi_getvalue(i, 1),
							json_integer(pg_strtoint64(dp_spi_getvalue(i, 2))));
	return o;
}

/* schema and columnLineage facets of the clean table */
static void
clean_facets(DpOlRun *run, json_t *clean, json_t *raw, DpLoad *load)
{
	json_t	   *fields = json_array();
	json_t	   *lineage = dp_json_new_object();
	const DpSpec *spec = load->spec;
	DpTransform *t = load->t;

	for (int i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];
		json_t	   *fo = json_pack("{s:s, s:s}", "name", f->column,
								   "type", dp_datatype_sqltype(f->datatype));
		json_t	   *inputs = json_array();

		if (f->description)
			json_object_set_new(fo, "description", json_string(f->description));
		json_array_append_new(fields, fo);
		for (int c = 0; c < t->ncolumns; c++)
			if (t->columns[c].field == i)
				json_array_append_new(inputs,
									  json_pack("{s:O, s:O, s:s}",
												"namespace", json_object_get(raw, "namespace"),
												"name", json_object_get(raw, "name"),
												"field", t->columns[c].name));
		if (json_array_size(inputs) > 0)
			json_object_set_new(lineage, f->column, json_pack("{s:o}", "inputFields", inputs));
		else
			json_decref(inputs);
	}
	dp_ol_facet(run, clean, "facets", "schema",
				FACET("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"),
				json_pack("{s:o}", "fields", fields));
	dp_ol_facet(run, clean, "facets", "columnLineage",
				FACET("1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"),
				json_pack("{s:o}", "fields", lineage));
}

/*
 * The run of a load that has finished (dp_load_finish, after the batch row
 * is final): START and COMPLETE in the outbox.
 */
void
dp_load_openlineage(DpLoad *load)
{
	json_t	   *raw = NULL;
	DpOlRun    *run;
	MemoryContext old;
	json_t	   *clean;
	json_t	   *ds;
	json_t	   *dqm;
	int64		nissues;

	if (!dp_ol_enabled() || load->dry_run)
		return;
	run = load_run(load, &raw);
	old = MemoryContextSwitchTo(run->cxt);
	nissues = load->t->issue_counts[0] + load->t->issue_counts[1] + load->t->issue_counts[2];
	dqm = json_pack("{s:I, s:{}}", "rowCount", (json_int_t) load->rows_in, "columnMetrics");
	if (load->bytes > 0)
		json_object_set_new(dqm, "bytes", json_integer(load->bytes));
	dp_ol_facet(run, raw, "inputFacets", "dataQualityMetrics",
				FACET("1-0-2/DataQualityMetricsInputDatasetFacet.json#/$defs/DataQualityMetricsInputDatasetFacet"),
				dqm);
	dp_ol_facet(run, raw, "inputFacets", "dataplatform_quality", DP_OL_FACET_DOC "#dataplatform_quality",
				json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}, s:o}",
						  "rowsIn", (json_int_t) load->rows_in,
						  "rowsLoaded", (json_int_t) load->loaded,
						  "rowsReplaced", (json_int_t) load->replaced,
						  "rowsQuarantined", (json_int_t) load->quarantined,
						  "rowsSkipped", (json_int_t) load->skipped,
						  "rowsFiltered", (json_int_t) load->filtered,
						  "rowsOrphaned", (json_int_t) load->orphaned,
						  "issuesBySeverity",
						  "error", (json_int_t) load->t->issue_counts[0],
						  "warning", (json_int_t) load->t->issue_counts[1],
						  "info", (json_int_t) load->t->issue_counts[2],
						  "issuesByType", issues_by_type(load)));

	clean = dp_ol_dataset(run, true, "dp_clean", load->spec->table);
	clean_facets(run, clean, raw, load);
	dp_ol_facet(run, clean, "outputFacets", "outputStatistics",
				FACET("1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"),
				json_pack("{s:I}", "rowCount", (json_int_t) load->loaded));
	ds = dp_ol_dataset(run, true, "dataplatform", "issue");
	dp_ol_facet(run, ds, "outputFacets", "outputStatistics",
				FACET("1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"),
				json_pack("{s:I}", "rowCount", (json_int_t) nissues));
	ds = dp_ol_dataset(run, true, "dataplatform", "quarantine_row");
	dp_ol_facet(run, ds, "outputFacets", "outputStatistics",
				FACET("1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"),
				json_pack("{s:I}", "rowCount", (json_int_t) load->quarantined));
	MemoryContextSwitchTo(old);
	dp_ol_finish(run, NULL);
}

/*
 * The run of a push that only landed its raw rows and queued the batch
 * (asynchronous processing): it wrote rows rows of dp_raw.rows.
 */
void
dp_load_openlineage_queued(DpLoad *load, int64 rows)
{
	json_t	   *raw = NULL;
	DpOlRun    *run;
	MemoryContext old;
	json_t	   *out;

	if (!dp_ol_enabled() || load->dry_run)
		return;
	run = load_run(load, &raw);
	old = MemoryContextSwitchTo(run->cxt);
	/* the queued push writes raw: no input, the raw table as its output */
	json_array_clear(run->inputs);
	out = dp_ol_dataset(run, true, "dp_raw", "rows");
	dp_ol_facet(run, out, "outputFacets", "outputStatistics",
				FACET("1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"),
				json_pack("{s:I, s:I}", "rowCount", (json_int_t) rows, "size", (json_int_t) load->bytes));
	MemoryContextSwitchTo(old);
	dp_ol_finish(run, NULL);
}

/*
 * The failed run of batch batch_id of dataset (process_queued, after its
 * subtransaction rolled back): START and FAIL with the error, written in
 * the caller's transaction, which goes on and marks the batch failed.
 */
void
dp_load_openlineage_failed(const char *kind, const char *dataset, int64 batch_id,
						   TimestampTz started, const char *error)
{
	DpOlRun    *run = dp_ol_begin(kind, dataset, started);
	MemoryContext old;

	if (run == NULL)
		return;
	old = MemoryContextSwitchTo(run->cxt);
	dp_ol_facet(run, NULL, NULL, "dataplatform_batch", DP_OL_FACET_DOC "#dataplatform_batch",
				json_pack("{s:I, s:s, s:s}", "batchId", (json_int_t) batch_id,
						  "dataset", dataset, "kind", kind));
	(void) dp_ol_dataset(run, false, "dp_raw", "rows");
	MemoryContextSwitchTo(old);
	dp_ol_finish(run, error);
}
