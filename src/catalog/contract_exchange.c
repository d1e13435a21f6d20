/*
 * contract_exchange.c
 *		Data contracts in and out: the SQL functions import_contract (an ODCS
 *		v3 document in YAML or JSON, or a Table Schema, to products and
 *		datasets) and export_contract (a dataset and its product as ODCS
 *		YAML or a Table Schema).  The reading, mapping and writing are the
 *		pure library's (src/lib/yaml_json.c, contract*.c); this file checks
 *		the caller and the options, resolves references against the catalog
 *		and defines what the document describes through define_product and
 *		define_dataset, so the rules, the versioning and the audit are
 *		theirs.
 *
 * One call is one statement: an error anywhere (a bad document, a reference
 * to a missing dataset, a spec define_dataset refuses) leaves nothing
 * defined.  jansson allocates with palloc (dp_json_init) in the function's
 * context, which stays current while SPI is connected; libyaml's own
 * memory is freed inside the library calls before they return.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port.h"

#include "access.h"
#include "util.h"				/* before jansson.h: see util.h */
#include "contract.h"
#include "yaml_json.h"

PG_FUNCTION_INFO_V1(dp_import_contract);
PG_FUNCTION_INFO_V1(dp_export_contract);

/*
 * The function's context: jansson values live there.  SPI switches to its
 * own procedure context after every statement (deleted by SPI_finish), so
 * each statement here goes through spi(), which switches back.
 */
static MemoryContext fn_cxt;

static uint64
spi(const char *sql, int nargs, const char **args)
{
	uint64		n = dp_spi_exec_text(sql, nargs, args);

	MemoryContextSwitchTo(fn_cxt);
	return n;
}

/* SQLSTATE of each problem the mapping reports */
static int
problem_errcode(DpContractProblem p)
{
	switch (p)
	{
		case DP_CONTRACT_NOT_SUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case DP_CONTRACT_UNKNOWN_TYPE:
			return ERRCODE_UNDEFINED_OBJECT;
		case DP_CONTRACT_NO_TABLE:
			return ERRCODE_NO_DATA_FOUND;
		case DP_CONTRACT_INVALID:
		default:
			return ERRCODE_INVALID_PARAMETER_VALUE;
	}
}

/* the contract's text to a jansson value: JSON when it looks like it, else YAML */
static json_t *
read_document(const char *text, size_t len)
{
	const char *p = text;
	json_t	   *doc;

	while (p < text + len && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p < text + len && *p == '{')
	{
		json_error_t jerr;

		doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
		if (doc == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("contract is not valid JSON at line %d, column %d: %s",
							jerr.line, jerr.column, jerr.text)));
		return doc;
	}
	{
		DpYamlError yerr;

		doc = dp_yaml_read(text, len, &yerr);
		if (doc == NULL)
		{
			if (yerr.line > 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("contract is not valid YAML at line %zu, column %zu: %s",
								yerr.line, yerr.column, yerr.message)));
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("contract is not valid YAML: %s", yerr.message)));
		}
	}
	return doc;
}

/* the published JSON Schema of a format, installed beside the extension */
static json_t *
load_schema(DpContractFormat format)
{
	char		share[MAXPGPATH];
	char	   *path;
	json_t	   *schema;
	json_error_t jerr;

	get_share_path(my_exec_path, share);
	path = psprintf("%s/extension/dataplatform-%s.schema.json", share,
					format == DP_CONTRACT_ODCS ? "odcs-v3.2.0" : "table-schema-1.0");
	schema = json_load_file(path, 0, &jerr);
	if (schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("could not read the JSON Schema \"%s\": %s", path, jerr.text),
				 errhint("It is installed with the extension (make install); reinstall it.")));
	return schema;
}

typedef struct ImportOptions
{
	const char *product;
	const char *dataset;
	json_t	   *keys;			/* {"table": ["field", ...]} or NULL */
	bool		allow_breaking;
	bool		missing_references_note;
} ImportOptions;

static void
read_options(Jsonb *jb, ImportOptions *o)
{
	json_t	   *opts = dp_json_from_jsonb(jb, "the options");
	const char *k;
	json_t	   *v;

	memset(o, 0, sizeof(*o));
	if (!json_is_object(opts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of import_contract must be an object")));
	json_object_foreach(opts, k, v)
	{
		if ((strcmp(k, "product") == 0 || strcmp(k, "dataset") == 0) && json_is_string(v))
		{
			if (strcmp(k, "product") == 0)
				o->product = pstrdup(json_string_value(v));
			else
				o->dataset = pstrdup(json_string_value(v));
		}
		else if (strcmp(k, "keys") == 0 && json_is_object(v))
			o->keys = json_incref(v);
		else if (strcmp(k, "allow_breaking") == 0 && json_is_boolean(v))
			o->allow_breaking = json_is_true(v);
		else if (strcmp(k, "missing_references") == 0 && json_is_string(v) &&
				 (strcmp(json_string_value(v), "error") == 0 ||
				  strcmp(json_string_value(v), "note") == 0))
			o->missing_references_note = strcmp(json_string_value(v), "note") == 0;
		else if (strcmp(k, "product") == 0 || strcmp(k, "dataset") == 0 ||
				 strcmp(k, "allow_breaking") == 0 || strcmp(k, "missing_references") == 0 ||
				 strcmp(k, "keys") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("invalid value for option \"%s\" of import_contract", k),
					 errhint("product and dataset are strings, keys an object of lists of field names, allow_breaking true or false, missing_references \"error\" or \"note\".")));
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" of import_contract", k),
					 errhint("Options: product, dataset, keys, allow_breaking, missing_references.")));
	}
	json_decref(opts);
}

/* the spec of a dataset: one of the contract's, else the catalog's, else NULL */
static json_t *
target_spec(json_t *datasets, const char *name)
{
	size_t		i;
	json_t	   *ds;
	const char *args[1];

	json_array_foreach(datasets, i, ds)
	{
		json_t	   *spec = json_object_get(ds, "spec");

		if (strcmp(json_string_value(json_object_get(spec, "dataset")), name) == 0)
			return json_incref(spec);
	}
	args[0] = name;
	if (spi("SELECT spec::text FROM dataplatform.datasets WHERE name = $1", 1, args) > 0)
	{
		json_error_t jerr;

		return json_loads(dp_spi_getvalue(0, 1), 0, &jerr);
	}
	return NULL;
}

static json_t *
spec_field(json_t *spec, const char *name)
{
	size_t		i;
	json_t	   *f;

	json_array_foreach(json_object_get(spec, "fields"), i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
			return f;
	}
	return NULL;
}

static void
drop_reference(json_t *ds, const char *field, const char *why)
{
	json_t	   *f = spec_field(json_object_get(ds, "spec"), field);

	if (f)
		json_object_del(f, "references");
	dp_contract_note(json_object_get(ds, "notes"), "field \"%s\": %s: reference not kept",
					 field, why);
}

/*
 * Check every reference: its dataset is in the contract or defined (else an
 * ERROR, or a note with missing_references "note"); its field exists and is
 * that dataset's only key field or a unique one, of the same datatype (else
 * a note: the spec could not say it).
 */
static void
resolve_references(json_t *datasets, const ImportOptions *o)
{
	size_t		i;
	json_t	   *ds;

	json_array_foreach(datasets, i, ds)
	{
		json_t	   *spec = json_object_get(ds, "spec");
		const char *dsname = json_string_value(json_object_get(spec, "dataset"));
		size_t		j;
		json_t	   *r;

		json_array_foreach(json_object_get(ds, "references"), j, r)
		{
			const char *field = json_string_value(json_object_get(r, "field"));
			const char *target = json_string_value(json_object_get(r, "dataset"));
			const char *to = json_string_value(json_object_get(r, "to_field"));
			json_t	   *tspec = target_spec(datasets, target);
			json_t	   *tf;
			json_t	   *key;
			json_t	   *f = spec_field(spec, field);
			char		why[512];

			if (tspec == NULL)
			{
				if (o->missing_references_note)
				{
					snprintf(why, sizeof(why), "dataset \"%s\" is neither in the contract nor defined",
							 target);
					drop_reference(ds, field, why);
					continue;
				}
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_TABLE),
						 errmsg("field \"%s\" of dataset \"%s\" references dataset \"%s\", which does not exist",
								field, dsname, target),
						 errdetail("The dataset is neither in the contract nor defined."),
						 errhint("Import or define \"%s\" first, or pass options {\"missing_references\": \"note\"} to keep the reference as a note.",
								 target)));
			}
			tf = spec_field(tspec, to);
			key = json_object_get(tspec, "key");
			if (tf == NULL)
				snprintf(why, sizeof(why), "dataset \"%s\" has no field \"%s\"", target, to);
			else if (!(json_array_size(key) == 1 &&
					   strcmp(json_string_value(json_array_get(key, 0)), to) == 0) &&
					 !(json_object_get(tf, "unique") && !json_is_false(json_object_get(tf, "unique"))))
				snprintf(why, sizeof(why), "field \"%s\" of \"%s\" is neither its only key field nor unique",
						 to, target);
			else if (f && !json_equal(json_object_get(f, "datatype"), json_object_get(tf, "datatype")))
				snprintf(why, sizeof(why), "field \"%s\" of \"%s\" has another datatype", to, target);
			else
				why[0] = '\0';
			if (why[0])
				drop_reference(ds, field, why);
			json_decref(tspec);
		}
	}
}

/*
 * Keys from options.keys for the tables that have none; unique on a key
 * field says nothing more (or cannot be said): dropped.
 */
static void
tidy_keys(json_t *datasets, json_t *keys)
{
	size_t		i;
	json_t	   *ds;

	json_array_foreach(datasets, i, ds)
	{
		json_t	   *spec = json_object_get(ds, "spec");
		const char *name = json_string_value(json_object_get(spec, "dataset"));
		json_t	   *key = json_object_get(spec, "key");
		json_t	   *given = json_object_get(keys, name);
		size_t		j;
		json_t	   *k;

		if (given && json_array_size(key) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option keys names a key for table \"%s\", whose key the contract gives", name)));
		if (given)
		{
			json_object_set(spec, "key", given);
			key = given;
		}
		json_array_foreach(key, j, k)
		{
			json_t	   *f = spec_field(spec, json_string_value(k));

			if (f && json_object_get(f, "unique"))
			{
				json_object_del(f, "unique");
				if (json_array_size(key) > 1)
					dp_contract_note(json_object_get(ds, "notes"),
									 "field \"%s\": unique on a field of a composite key not kept",
									 json_string_value(k));
			}
		}
		if (json_array_size(key) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("table \"%s\" of the contract has no primary key",
							json_string_value(json_object_get(spec, "dataset"))),
					 errdetail("A dataset is keyed; the contract marks no property primaryKey (ODCS) or has no primaryKey (Table Schema)."),
					 errhint("Mark the key in the contract, or name it in options {\"keys\": {\"%s\": [\"field\"]}}.",
							 json_string_value(json_object_get(spec, "dataset")))));
	}
}

static bool
defined_before(json_t *order, const char *name)
{
	size_t		i;
	json_t	   *v;

	json_array_foreach(order, i, v)
	{
		if (strcmp(json_string_value(json_object_get(json_object_get(v, "spec"), "dataset")), name) == 0)
			return true;
	}
	return false;
}

/* datasets in an order where referenced ones come first (cycles: as written) */
static json_t *
definition_order(json_t *datasets)
{
	json_t	   *order = json_array();
	bool		progress = true;

	while (json_array_size(order) < json_array_size(datasets) && progress)
	{
		size_t		i;
		json_t	   *ds;

		progress = false;
		json_array_foreach(datasets, i, ds)
		{
			const char *name = json_string_value(json_object_get(json_object_get(ds, "spec"), "dataset"));
			bool		ready = true;
			size_t		j;
			json_t	   *f;

			if (defined_before(order, name))
				continue;
			json_array_foreach(json_object_get(json_object_get(ds, "spec"), "fields"), j, f)
			{
				const char *t = json_string_value(json_object_get(json_object_get(f, "references"), "dataset"));
				size_t		n;
				json_t	   *other;

				if (t == NULL || strcmp(t, name) == 0 || defined_before(order, t))
					continue;
				json_array_foreach(datasets, n, other)
				{
					if (strcmp(json_string_value(json_object_get(json_object_get(other, "spec"), "dataset")), t) == 0)
						ready = false;
				}
			}
			if (ready)
			{
				json_array_append(order, ds);
				progress = true;
			}
		}
	}
	if (json_array_size(order) < json_array_size(datasets))
	{
		size_t		i;
		json_t	   *ds;

		json_array_foreach(datasets, i, ds)
		{
			if (!defined_before(order, json_string_value(json_object_get(json_object_get(ds, "spec"), "dataset"))))
				json_array_append(order, ds);
		}
	}
	return order;
}

Datum
dp_import_contract(PG_FUNCTION_ARGS)
{
	text	   *contract;
	ImportOptions o;
	json_t	   *doc;
	json_t	   *schema;
	DpContractResult res;
	const char *product;
	json_t	   *result;
	json_t	   *out;
	json_t	   *order;
	size_t		i;
	json_t	   *ds;
	const char *args[2];
	Datum		d;

	fn_cxt = CurrentMemoryContext;
	dp_require_admin("import a contract");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("contract must not be null")));
	contract = PG_GETARG_TEXT_PP(0);
	if (PG_ARGISNULL(1))
		memset(&o, 0, sizeof(o));
	else
		read_options(PG_GETARG_JSONB_P(1), &o);

	doc = read_document(VARDATA_ANY(contract), VARSIZE_ANY_EXHDR(contract));
	schema = dp_contract_detect(doc) == DP_CONTRACT_UNKNOWN ? NULL
		: load_schema(dp_contract_detect(doc));
	dp_contract_import(doc, schema, o.product, o.dataset, &res);
	json_decref(schema);
	json_decref(doc);
	if (res.problem != DP_CONTRACT_OK)
	{
		char	   *msg = pstrdup(res.message);
		DpContractFormat fmt = res.format;
		DpContractProblem p = res.problem;

		dp_contract_result_free(&res);
		ereport(ERROR,
				(errcode(problem_errcode(p)),
				 errmsg("%s cannot be imported: %s",
						fmt == DP_CONTRACT_ODCS ? "ODCS contract" :
						fmt == DP_CONTRACT_TABLE_SCHEMA ? "Table Schema" : "document", msg),
				 p == DP_CONTRACT_NOT_SUPPORTED ?
				 errhint("import_contract reads ODCS v3.0.0 to v3.2.0 (apiVersion, kind: DataContract) and Frictionless Table Schema.") : 0));
	}
	product = json_string_value(json_object_get(res.product, "name"));
	if (product == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the contract names no data product"),
				 errhint("Pass options {\"product\": \"name\"}.")));
	json_array_foreach(res.datasets, i, ds)
		json_object_set_new(json_object_get(ds, "spec"), "product", json_string(product));
	tidy_keys(res.datasets, o.keys);

	SPI_connect();
	MemoryContextSwitchTo(fn_cxt);
	resolve_references(res.datasets, &o);

	/* the product: created from the contract's metadata when new */
	args[0] = product;
	if (spi("SELECT 1 FROM dataplatform.products WHERE name = $1", 1, args) == 0)
	{
		json_t	   *meta = json_deep_copy(res.product);
		char	   *s;

		json_object_del(meta, "name");
		s = json_dumps(meta, JSON_COMPACT);
		args[1] = s;
		spi("SELECT dataplatform.define_product($1, $2::jsonb)", 2, args);
		json_decref(meta);
	}
	else if (json_object_size(res.product) > 1)
		dp_contract_note(res.notes, "product \"%s\" exists: its metadata was left as it is",
						 product);

	result = json_pack("{s:s,s:s,s:[],s:O}", "format", dp_contract_format_name(res.format),
					   "product", product, "datasets", "notes", res.notes);
	if (res.api_version[0])
		json_object_set_new(result, "apiVersion", json_string(res.api_version));
	out = json_object_get(result, "datasets");
	order = definition_order(res.datasets);
	json_array_foreach(order, i, ds)
	{
		char	   *spec_text = json_dumps(json_object_get(ds, "spec"), JSON_COMPACT);
		const char *dargs[2];

		dargs[0] = spec_text;
		dargs[1] = o.allow_breaking ? "true" : "false";
		spi("SELECT dataplatform.define_dataset($1::jsonb, $2::boolean)", 2, dargs);
		json_array_append_new(out, json_pack("{s:O,s:s,s:O,s:O}",
											 "dataset", json_object_get(json_object_get(ds, "spec"), "dataset"),
											 "version", dp_spi_getvalue(0, 1),
											 "notes", json_object_get(ds, "notes"),
											 "expect", json_object_get(ds, "expect")));
	}
	json_decref(order);
	SPI_finish();
	MemoryContextSwitchTo(fn_cxt);
	d = dp_json_to_jsonb(result);
	json_decref(result);
	dp_contract_result_free(&res);
	PG_RETURN_DATUM(d);
}

Datum
dp_export_contract(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	char	   *format = dp_arg_cstring(fcinfo, 1, "format");
	const char *args[1];
	json_t	   *spec;
	json_t	   *product;
	json_t	   *doc;
	char	   *out;
	text	   *result;
	json_error_t jerr;

	fn_cxt = CurrentMemoryContext;
	if (strcmp(format, "odcs") != 0 && strcmp(format, "table-schema") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown contract format \"%s\"", format),
				 errhint("Formats: odcs (ODCS v3 YAML), table-schema (Frictionless Table Schema JSON).")));
	SPI_connect();
	MemoryContextSwitchTo(fn_cxt);
	args[0] = dataset;
	if (spi("SELECT (d.spec || pg_catalog.jsonb_build_object('version', d.major || '.' || d.minor))::text,"
						 " (SELECT pg_catalog.to_jsonb(p) FROM dataplatform.products p WHERE p.name = d.product)::text"
						 " FROM dataplatform.datasets d WHERE d.name = $1",
						 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", dataset),
				 errhint("dataplatform.dataset lists the defined datasets.")));
	spec = json_loads(dp_spi_getvalue(0, 1), 0, &jerr);
	product = json_loads(dp_spi_getvalue(0, 2), 0, &jerr);
	SPI_finish();
	MemoryContextSwitchTo(fn_cxt);
	if (spec == NULL || product == NULL)
		elog(ERROR, "could not read the specification of dataset \"%s\"", dataset);
	/* what the catalog keeps beside the metadata is not the product's */
	json_object_del(product, "retention_days");
	if (strcmp(format, "odcs") == 0)
	{
		char	   *yaml;

		doc = dp_contract_export_odcs(spec, product);
		yaml = doc ? dp_yaml_write(doc) : NULL;
		if (yaml == NULL)
			elog(ERROR, "could not write dataset \"%s\" as YAML", dataset);
		out = pstrdup(yaml);
		free(yaml);
	}
	else
	{
		doc = dp_contract_export_table_schema(spec);
		out = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
		if (out == NULL)
			elog(ERROR, "could not write dataset \"%s\" as a Table Schema", dataset);
	}
	json_decref(doc);
	json_decref(spec);
	json_decref(product);
	result = cstring_to_text(out);
	PG_RETURN_TEXT_P(result);
}
