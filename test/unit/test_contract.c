/*
 * test_contract.c
 *		Unit tests of the contract mapping (src/lib/contract*.c): an ODCS
 *		contract's types, keys, constraints, references, quality rules and
 *		notes; a Table Schema's; refusals; export then import giving the
 *		same spec for both formats; and every contract under the directory
 *		given (the ODCS project's examples and negative tests) read and
 *		mapped without a crash or a leak.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "jsonschema.h"
#include "yaml_json.h"

static json_t *odcs_schema;
static json_t *ts_schema;
static int	failures = 0;
static int	tests = 0;

#define CHECK(cond, ...) \
	do { \
		tests++; \
		if (!(cond)) { \
			failures++; \
			printf("not ok - "); \
			printf(__VA_ARGS__); \
			printf("\n"); \
		} \
	} while (0)

static json_t *
yaml(const char *text)
{
	DpYamlError err;
	json_t	   *v = dp_yaml_read(text, strlen(text), &err);

	if (v == NULL)
		printf("bad test YAML: %s (line %zu)\n", err.message, err.line);
	return v;
}

static bool
has_note(const json_t *notes, const char *part)
{
	size_t		i;
	json_t	   *n;

	json_array_foreach(notes, i, n)
	{
		if (strstr(json_string_value(n), part))
			return true;
	}
	return false;
}

/* json_equal that takes (and drops) its second argument */
static bool
eq(const json_t *a, json_t *b)
{
	bool		r = json_equal(a, b);

	json_decref(b);
	return r;
}

static void
dump(const char *what, const json_t *v)
{
	char	   *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	printf("# %s: %s\n", what, s);
	free(s);
}

static const char *odcs =
"apiVersion: v3.1.0\n"
"kind: DataContract\n"
"id: c1\n"
"version: 1.0.0\n"
"status: active\n"
"dataProduct: Housing Data\n"
"domain: housing\n"
"servers: [{server: x, type: postgres}]\n"
"schema:\n"
"  - name: tenure\n"
"    physicalType: table\n"
"    description: Tenancies\n"
"    quality:\n"
"      - {type: library, metric: rowCount, mustBeGreaterThan: 10}\n"
"      - {type: text, description: looks right}\n"
"    properties:\n"
"      - {name: id, logicalType: string, logicalTypeOptions: {format: uuid}, primaryKey: true, primaryKeyPosition: 1}\n"
"      - name: rent\n"
"        logicalType: number\n"
"        logicalTypeOptions: {minimum: 0, maximum: 2000}\n"
"        quality: [{metric: nullValues, mustBe: 0}]\n"
"      - name: ref\n"
"        logicalType: string\n"
"        unique: true\n"
"        required: true\n"
"        classification: restricted\n"
"        examples: [A1]\n"
"        logicalTypeOptions: {minLength: 2, maxLength: 10, pattern: '^[A-Z][0-9]+$'}\n"
"        relationships: [{to: person.id, type: foreignKey}]\n"
"        tags: [x]\n"
"      - {name: n, logicalType: integer, logicalTypeOptions: {exclusiveMinimum: 0}}\n"
"      - {name: t, logicalType: time}\n"
"  - name: events\n"
"    physicalType: topic\n"
"    properties: [{name: a, logicalType: string}]\n";

static void
test_odcs(void)
{
	json_t	   *doc = yaml(odcs);
	DpContractResult res;
	json_t	   *ds;
	json_t	   *spec;
	json_t	   *f;

	dp_contract_import(doc, NULL, NULL, NULL, &res);
	CHECK(res.problem == DP_CONTRACT_OK, "odcs import: %s", res.message);
	CHECK(res.format == DP_CONTRACT_ODCS, "odcs detected");
	CHECK(json_array_size(res.datasets) == 1, "one table (the topic is not)");
	CHECK(has_note(res.notes, "not a table"), "the topic is noted");
	CHECK(has_note(res.notes, "servers"), "servers are noted");
	CHECK(strcmp(json_string_value(json_object_get(res.product, "name")), "housing-data") == 0,
		  "product name from dataProduct");
	CHECK(strcmp(json_string_value(json_object_get(res.product, "status")), "published") == 0,
		  "active -> published");
	ds = json_array_get(res.datasets, 0);
	spec = json_object_get(ds, "spec");
	f = json_array_get(json_object_get(spec, "fields"), 0);
	CHECK(strcmp(json_string_value(json_object_get(f, "datatype")), "uuid") == 0, "uuid");
	CHECK(eq(json_object_get(spec, "key"), json_pack("[s]", "id")), "key");
	f = json_array_get(json_object_get(spec, "fields"), 1);
	CHECK(strcmp(json_string_value(json_object_get(f, "datatype")), "decimal") == 0, "decimal");
	CHECK(json_number_value(json_object_get(f, "maximum")) == 2000, "maximum");
	f = json_array_get(json_object_get(spec, "fields"), 2);
	CHECK(json_is_true(json_object_get(f, "unique")) && json_is_true(json_object_get(f, "required")),
		  "unique, required");
	CHECK(json_integer_value(json_object_get(f, "min_length")) == 2 &&
		  json_integer_value(json_object_get(f, "max_length")) == 10, "lengths");
	CHECK(strcmp(json_string_value(json_object_get(f, "classification")), "restricted") == 0,
		  "classification");
	CHECK(eq(json_object_get(f, "references"),
					 json_pack("{s:s,s:s}", "dataset", "person", "field", "id")), "reference");
	f = json_array_get(json_object_get(spec, "fields"), 3);
	CHECK(json_integer_value(json_object_get(f, "minimum")) == 1, "exclusiveMinimum on an integer");
	CHECK(has_note(json_object_get(ds, "notes"), "time kept as a string"), "time noted");
	CHECK(has_note(json_object_get(ds, "notes"), "tags"), "tags noted");
	CHECK(has_note(json_object_get(ds, "notes"), "looks right"), "text rule noted");
	CHECK(eq(json_object_get(ds, "expect"),
					 json_pack("[{s:s},{s:i}]", "not_null", "rent", "row_count_min", 11)),
		  "expectations");
	if (failures)
		dump("dataset", ds);
	dp_contract_result_free(&res);
	json_decref(doc);
}

static void
refuses(const char *text, DpContractProblem want, const char *part)
{
	json_t	   *doc = yaml(text);
	DpContractResult res;

	dp_contract_import(doc, NULL, "p", NULL, &res);
	CHECK(res.problem == want && strstr(res.message, part),
		  "refused with %d \"%s\", got %d \"%s\"", want, part, res.problem, res.message);
	dp_contract_result_free(&res);
	json_decref(doc);
}

static void
round_trip(const char *spec_json, bool odcs_format)
{
	json_t	   *spec = json_loads(spec_json, 0, NULL);
	json_t	   *product = json_pack("{s:s,s:s,s:s}", "name", "housing", "status", "published",
									"owner", "Team");
	json_t	   *doc = odcs_format ? dp_contract_export_odcs(spec, product)
		: dp_contract_export_table_schema(spec);
	char	   *text = odcs_format ? dp_yaml_write(doc) : json_dumps(doc, JSON_INDENT(2));
	DpYamlError err;
	json_t	   *back = dp_yaml_read(text, strlen(text), &err);
	DpContractResult res;
	json_t	   *got;

	dp_contract_import(back, odcs_format ? odcs_schema : ts_schema, "housing", NULL, &res);
	got = json_deep_copy(json_object_get(json_array_get(res.datasets, 0), "spec"));
	json_object_del(spec, "version");
	CHECK(res.problem == DP_CONTRACT_OK && json_equal(got, spec),
		  "%s round trip: %s", odcs_format ? "odcs" : "table-schema", res.message);
	if (!json_equal(got, spec))
	{
		printf("%s", text);
		dump("got", got);
		dump("notes", json_object_get(json_array_get(res.datasets, 0), "notes"));
	}
	CHECK(json_array_size(json_object_get(json_array_get(res.datasets, 0), "notes")) == 0,
		  "no notes after a round trip");
	json_decref(got);
	dp_contract_result_free(&res);
	json_decref(back);
	free(text);
	json_decref(doc);
	json_decref(product);
	json_decref(spec);
}

/* every file of a directory: read, map, free; counts what happened */
static json_t *
load_json(const char *path)
{
	json_error_t e;
	json_t	   *v = json_load_file(path, 0, &e);

	if (v == NULL)
		printf("# %s: %s\n", path, e.text);
	return v;
}

static void
walk(const char *dir, bool valid)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	int			n = 0;
	int			ok = 0;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		char		path[1024];
		FILE	   *fp;
		char	   *buf;
		long		len;
		DpYamlError err;
		json_t	   *doc;

		if (strstr(e->d_name, ".yaml") == NULL && strstr(e->d_name, ".json") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fp = fopen(path, "rb");
		if (fp == NULL)
			continue;
		fseek(fp, 0, SEEK_END);
		len = ftell(fp);
		fseek(fp, 0, SEEK_SET);
		buf = malloc(len + 1);
		if (fread(buf, 1, len, fp) != (size_t) len)
			len = 0;
		fclose(fp);
		doc = dp_yaml_read(buf, len, &err);
		n++;
		if (doc)
		{
			DpContractResult res;

			DpContractFormat f = dp_contract_detect(doc);

			dp_contract_import(doc, f == DP_CONTRACT_ODCS ? odcs_schema : ts_schema, "p", "d", &res);
			if (res.problem == DP_CONTRACT_OK)
				ok++;
			/* the schema decides: valid ones pass it (they may lack a table or a key) */
			CHECK(valid ? !strstr(res.message, "schema refuses") : res.problem != DP_CONTRACT_OK,
				  "%s: %s", e->d_name, res.message[0] ? res.message : "imported");
			dp_contract_result_free(&res);
			json_decref(doc);
		}
		free(buf);
	}
	closedir(d);
	printf("# %s: %d documents read and mapped, %d imported\n", dir, n, ok);
}

/* the JSON Schema validator on its own: valid or not, and the path reported */
static void
schema_case(const char *schema, const char *doc, bool valid, const char *path)
{
	json_t	   *s = json_loads(schema, 0, NULL);
	json_t	   *d = json_loads(doc, JSON_DECODE_ANY, NULL);
	DpSchemaError err;
	bool		ok = dp_schema_validate(s, d, &err);

	CHECK(ok == valid && (valid || strcmp(err.path, path) == 0),
		  "schema %s on %s: %s at \"%s\" (%s)", schema, doc, ok ? "valid" : "invalid", err.path,
		  err.message);
	json_decref(s);
	json_decref(d);
}

static void
test_schema(void)
{
	const char *uneval = "{\"$defs\": {\"base\": {\"properties\": {\"a\": {\"type\": \"string\"}}}},"
		" \"allOf\": [{\"$ref\": \"#/$defs/base\"}], \"properties\": {\"b\": true},"
		" \"unevaluatedProperties\": false}";

	schema_case(uneval, "{\"a\": \"x\", \"b\": 1}", true, "");
	schema_case(uneval, "{\"a\": \"x\", \"c\": 1}", false, "");
	schema_case(uneval, "{\"a\": 1}", false, "/a");
	schema_case("{\"items\": [{\"type\": \"integer\"}], \"additionalItems\": {\"type\": \"string\"}}",
				"[1, \"x\", 2]", false, "/2");
	schema_case("{\"oneOf\": [{\"required\": [\"a\"]}, {\"required\": [\"b\"]}]}", "{\"a\": 1, \"b\": 2}",
				false, "");
	schema_case("{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}], \"minimum\": 2}", "3", true, "");
	schema_case("{\"if\": {\"properties\": {\"t\": {\"const\": \"sql\"}}}, \"then\": {\"required\": [\"query\"]}}",
				"{\"t\": \"sql\"}", false, "");
	schema_case("{\"properties\": {\"v\": {\"pattern\": \"^(?:ab)+$\", \"enum\": [\"abab\", \"ab\"]}}}",
				"{\"v\": \"abab\"}", true, "");
	schema_case("{\"type\": \"array\", \"uniqueItems\": true}", "[1, 1.0]", false, "");
	schema_case("{\"$ref\": \"#/definitions/x\", \"definitions\": {\"x\": {\"maxLength\": 2}}}", "\"abc\"",
				false, "");
}

int
main(int argc, char **argv)
{
	test_schema();
	test_odcs();
	refuses("apiVersion: v4.0.0\nkind: DataContract\nid: x\nversion: 1\n",
			DP_CONTRACT_NOT_SUPPORTED, "apiVersion");
	refuses("apiVersion: v3.0.2\nkind: DataModel\nid: x\nversion: 1\n",
			DP_CONTRACT_NOT_SUPPORTED, "kind");
	refuses("apiVersion: v3.0.2\nkind: DataContract\nversion: 1\n", DP_CONTRACT_INVALID, "\"id\"");
	refuses("apiVersion: v3.0.2\nkind: DataContract\nid: x\nversion: 1\nbogus: 1\n",
			DP_CONTRACT_INVALID, "bogus");
	refuses("apiVersion: v3.0.2\nkind: DataContract\nid: x\nversion: 1\n"
			"schema: [{name: t, properties: [{name: a, logicalType: decimal128}]}]\n",
			DP_CONTRACT_UNKNOWN_TYPE, "decimal128");
	refuses("apiVersion: v3.0.2\nkind: DataContract\nid: x\nversion: 1\n",
			DP_CONTRACT_NO_TABLE, "no table");
	refuses("apiVersion: v3.0.2\nkind: DataContract\nid: x\nversion: 1\n"
			"schema: [{name: t, properties: [{name: a}]}, {name: t, properties: [{name: b}]}]\n",
			DP_CONTRACT_INVALID, "described twice");
	refuses("name: t\nfields: [{name: a, type: varchar}]\n", DP_CONTRACT_UNKNOWN_TYPE, "varchar");
	refuses("[1, 2]\n", DP_CONTRACT_NOT_SUPPORTED, "not an object");
	refuses("a: 1\n", DP_CONTRACT_NOT_SUPPORTED, "neither");

	round_trip("{\"dataset\": \"tenure\", \"product\": \"housing\", \"title\": \"Tenure\","
			   " \"description\": \"Tenancies\", \"key\": [\"id\", \"seq\"], \"version\": \"2.1\","
			   " \"fresh_within\": \"26 hours\", \"fields\": ["
			   "{\"name\": \"id\", \"datatype\": \"uuid\", \"required\": true},"
			   "{\"name\": \"seq\", \"datatype\": \"integer\", \"required\": true, \"minimum\": 1},"
			   "{\"name\": \"tenure-type\", \"datatype\": \"string\", \"codelist\": [{\"value\": \"SEC\", \"label\": \"Secure\"}, {\"value\": \"FLT\"}]},"
			   "{\"name\": \"kind\", \"datatype\": \"text\", \"codelist\": [\"a\", \"b\"], \"description\": \"true\"},"
			   "{\"name\": \"rent\", \"datatype\": \"decimal\", \"minimum\": 0, \"maximum\": 2000.5, \"pii\": true},"
			   "{\"name\": \"ref\", \"datatype\": \"string\", \"unique\": \"strict\", \"min_length\": 2, \"max_length\": 10,"
			   " \"pattern\": \"^[A-Z]+$\", \"examples\": [\"AB\", \"CD\"], \"classification\": \"confidential\","
			   " \"deprecated\": true, \"replaced_by\": \"ref2\"},"
			   "{\"name\": \"person\", \"datatype\": \"uuid\", \"references\": {\"dataset\": \"person\", \"field\": \"id\"}},"
			   "{\"name\": \"home\", \"datatype\": \"url\"}, {\"name\": \"on\", \"datatype\": \"flag\"},"
			   "{\"name\": \"d\", \"datatype\": \"date\"}, {\"name\": \"at\", \"datatype\": \"datetime\"},"
			   "{\"name\": \"j\", \"datatype\": \"json\"}]}", true);
	round_trip("{\"dataset\": \"tenure\", \"product\": \"housing\", \"title\": \"Tenure\","
			   " \"key\": [\"id\"], \"fields\": ["
			   "{\"name\": \"id\", \"datatype\": \"uuid\", \"required\": true},"
			   "{\"name\": \"tenure-type\", \"datatype\": \"string\", \"codelist\": [{\"value\": \"SEC\", \"label\": \"Secure\"}, {\"value\": \"FLT\"}]},"
			   "{\"name\": \"kind\", \"datatype\": \"text\", \"codelist\": [\"a\", \"b\"]},"
			   "{\"name\": \"ref\", \"datatype\": \"string\", \"unique\": \"strict\", \"min_length\": 2,"
			   " \"examples\": [\"AB\", \"CD\"], \"classification\": \"confidential\", \"pii\": true},"
			   "{\"name\": \"person\", \"datatype\": \"uuid\", \"references\": {\"dataset\": \"person\", \"field\": \"id\"}},"
			   "{\"name\": \"j\", \"datatype\": \"json\"}, {\"name\": \"n\", \"datatype\": \"decimal\", \"minimum\": 0.5}]}",
			   false);

	if (argc > 1)
	{
		char		path[1024];

		snprintf(path, sizeof(path), "%s/schemas/odcs-json-schema-v3.2.0.json", argv[1]);
		odcs_schema = load_json(path);
		snprintf(path, sizeof(path), "%s/schemas/table-schema-1.0.profile.json", argv[1]);
		ts_schema = load_json(path);

		snprintf(path, sizeof(path), "%s/odcs/examples", argv[1]);
		walk(path, true);
		snprintf(path, sizeof(path), "%s/odcs/negative", argv[1]);
		walk(path, false);
	}
	json_decref(odcs_schema);
	json_decref(ts_schema);
	printf("%s - %d contract tests, %d failed\n", failures ? "not ok" : "ok", tests, failures);
	return failures ? 1 : 0;
}
