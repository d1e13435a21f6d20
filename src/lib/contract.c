/*
 * contract.c
 *		Import of data contracts: format detection, ODCS v3 and Table Schema
 *		documents to specifications, notes for what a spec cannot say, and
 *		ODCS quality rules to expectations of a published view.  Rules in
 *		contract.h and docs/contracts.md.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "contract_int.h"
#include "jsonschema.h"
#include "naming.h"



static const char *const odcs_versions[] = {
	"v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0", "v3.2.0", NULL
};

json_t *
dp_contract_note(json_t *notes, const char *fmt,...)
{
	char		buf[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(notes, json_string(buf));
	return notes;
}

const char *
dp_contract_format_name(DpContractFormat format)
{
	switch (format)
	{
		case DP_CONTRACT_ODCS:
			return "odcs";
		case DP_CONTRACT_TABLE_SCHEMA:
			return "table-schema";
		default:
			return "unknown";
	}
}

void
dp_contract_fail(DpContractResult *res, DpContractProblem p, const char *fmt,...)
{
	va_list		ap;

	if (res->problem != DP_CONTRACT_OK)
		return;
	res->problem = p;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
}

void
dp_contract_result_free(DpContractResult *res)
{
	json_decref(res->product);
	json_decref(res->datasets);
	json_decref(res->notes);
	res->product = res->datasets = res->notes = NULL;
}

const char *
dp_contract_str(const json_t *obj, const char *member)
{
	return json_string_value(json_object_get(obj, member));
}

static bool
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* a short text of a JSON value for notes */
void
dp_contract_brief(const json_t *v, char *buf, size_t size)
{
	char	   *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	json_free_t jfree;

	snprintf(buf, size, "%s", s ? s : "?");
	if (s && strlen(s) >= size && size > 4)
		strcpy(buf + size - 4, "...");
	/* json_dumps allocates with jansson's functions (palloc in the server) */
	json_get_alloc_funcs(NULL, &jfree);
	if (s)
		jfree(s);
}

/* a product name from free text: lower case, spaces to '-', others dropped */
char *
dp_contract_product_name(const char *s, char *out)
{
	size_t		n = 0;

	for (; *s && n < DP_IDENT_MAX; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (isalnum(c) && c < 128)
			out[n++] = (char) tolower(c);
		else if (c == ' ' || c == '-' || c == '_')
			out[n++] = c == '_' ? '_' : '-';
	}
	out[n] = '\0';
	return n > 0 && dp_product_name_valid(out) ? out : NULL;
}

/* ------------------------------------------------------------ quality */

typedef struct OpValue
{
	const char *op;				/* SQL operator, or "between" */
	const json_t *value;
} OpValue;

static bool
quality_operator(const json_t *rule, OpValue *ov)
{
	static const char *const names[][2] = {
		{"mustBe", "="}, {"mustNotBe", "<>"}, {"mustBeGreaterThan", ">"},
		{"mustBeGreaterOrEqualTo", ">="}, {"mustBeGreaterThanOrEqualTo", ">="},
		{"mustBeLessThan", "<"}, {"mustBeLessOrEqualTo", "<="},
		{"mustBeLessThanOrEqualTo", "<="}, {"mustBeBetween", "between"},
		{"mustNotBeBetween", "not between"}
	};
	size_t		i;
	int			found = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		const json_t *v = json_object_get(rule, names[i][0]);

		if (v)
		{
			ov->op = names[i][1];
			ov->value = v;
			found++;
		}
	}
	return found == 1;
}

static bool
is_zero(const json_t *v)
{
	return json_is_number(v) && json_number_value(v) == 0;
}

/* row count expectations from an operator; false if it does not fit */
static bool
row_count_expect(const OpValue *ov, json_t *expect)
{
	double		a,
				b;

	if (strcmp(ov->op, "between") == 0)
	{
		if (!json_is_array(ov->value) || json_array_size(ov->value) != 2 ||
			!json_is_number(json_array_get(ov->value, 0)) ||
			!json_is_number(json_array_get(ov->value, 1)))
			return false;
		a = json_number_value(json_array_get(ov->value, 0));
		b = json_number_value(json_array_get(ov->value, 1));
		json_array_append_new(expect, json_pack("{s:I}", "row_count_min", (json_int_t) a));
		json_array_append_new(expect, json_pack("{s:I}", "row_count_max", (json_int_t) b));
		return true;
	}
	if (!json_is_number(ov->value))
		return false;
	a = json_number_value(ov->value);
	if (strcmp(ov->op, ">") == 0)
		json_array_append_new(expect, json_pack("{s:I}", "row_count_min", (json_int_t) a + 1));
	else if (strcmp(ov->op, ">=") == 0)
		json_array_append_new(expect, json_pack("{s:I}", "row_count_min", (json_int_t) a));
	else if (strcmp(ov->op, "<") == 0)
		json_array_append_new(expect, json_pack("{s:I}", "row_count_max", (json_int_t) a - 1));
	else if (strcmp(ov->op, "<=") == 0)
		json_array_append_new(expect, json_pack("{s:I}", "row_count_max", (json_int_t) a));
	else if (strcmp(ov->op, "=") == 0)
	{
		json_array_append_new(expect, json_pack("{s:I}", "row_count_min", (json_int_t) a));
		json_array_append_new(expect, json_pack("{s:I}", "row_count_max", (json_int_t) a));
	}
	else
		return false;
	return true;
}

/* replace every {object}/${object}/{property}/${property} placeholder */
static char *
fill_placeholders(const char *query, const char *object, const char *property)
{
	size_t		cap = strlen(query) * 2 + 256;
	char	   *out = malloc(cap);
	size_t		n = 0;
	const char *p = query;
	bool		any = false;

	if (out == NULL)
		return NULL;
	while (*p)
	{
		const char *rep = NULL;
		size_t		skip = 0;

		if (strncmp(p, "${object}", 9) == 0)
			rep = object, skip = 9;
		else if (strncmp(p, "{object}", 8) == 0)
			rep = object, skip = 8;
		else if (property && strncmp(p, "${property}", 11) == 0)
			rep = property, skip = 11;
		else if (property && strncmp(p, "{property}", 10) == 0)
			rep = property, skip = 10;
		if (rep)
		{
			size_t		l = strlen(rep);

			if (n + l + 1 > cap)
			{
				char	   *o;

				cap = (n + l + 1) * 2;
				o = realloc(out, cap);
				if (o == NULL)
				{
					free(out);
					return NULL;
				}
				out = o;
			}
			memcpy(out + n, rep, l);
			n += l;
			p += skip;
			any = true;
			continue;
		}
		if (n + 2 > cap)
		{
			char	   *o;

			cap *= 2;
			o = realloc(out, cap);
			if (o == NULL)
			{
				free(out);
				return NULL;
			}
			out = o;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	if (!any)
	{
		free(out);
		return NULL;
	}
	return out;
}

/*
 * One ODCS quality rule to an expectation of the dataset's published view
 * (named after its table), or a note.  column: NULL for a table rule.
 */
void
dp_contract_map_quality(const json_t *rule, const char *where, const char *table,
			const char *column, json_t *expect, json_t *notes)
{
	const char *type = dp_contract_str(rule, "type");
	const char *metric = dp_contract_str(rule, "metric");
	const char *desc = dp_contract_str(rule, "description");
	OpValue		ov = {NULL, NULL};
	bool		has_op;
	char		buf[200];

	if (metric == NULL)
		metric = dp_contract_str(rule, "rule");	/* v3.0 */
	has_op = quality_operator(rule, &ov);
	dp_contract_brief(rule, buf, sizeof(buf));
	if (!json_is_object(rule))
	{
		dp_contract_note(notes, "%s: quality rule %s is not an object: not mapped", where, buf);
		return;
	}
	if (json_object_get(rule, "unit") && strcmp(dp_contract_str(rule, "unit") ? dp_contract_str(rule, "unit") : "", "rows") != 0)
	{
		dp_contract_note(notes, "%s: quality rule %s counts in %s: not mapped", where, buf,
						 dp_contract_str(rule, "unit") ? dp_contract_str(rule, "unit") : "?");
		return;
	}
	if ((type == NULL || strcmp(type, "library") == 0) && metric && has_op)
	{
		const json_t *args = json_object_get(rule, "arguments");

		if (strcmp(metric, "rowCount") == 0 && column == NULL &&
			row_count_expect(&ov, expect))
			return;
		if ((strcmp(metric, "nullValues") == 0 || strcmp(metric, "nullCheck") == 0 ||
			 strcmp(metric, "missingValues") == 0) &&
			column && strcmp(ov.op, "=") == 0 && is_zero(ov.value) &&
			json_object_get(args, "missingValues") == NULL)
		{
			json_array_append_new(expect, json_pack("{s:s}", "not_null", column));
			return;
		}
		if ((strcmp(metric, "duplicateValues") == 0 || strcmp(metric, "duplicateCount") == 0) &&
			strcmp(ov.op, "=") == 0 && is_zero(ov.value))
		{
			if (column)
			{
				json_array_append_new(expect, json_pack("{s:s}", "unique", column));
				return;
			}
		}
		if (strcmp(metric, "invalidValues") == 0 && column && strcmp(ov.op, "=") == 0 &&
			is_zero(ov.value) && json_is_array(json_object_get(args, "validValues")))
		{
			json_t	   *values = json_array();
			size_t		i;
			json_t	   *v;

			json_array_foreach(json_object_get(args, "validValues"), i, v)
			{
				if (!json_is_null(v))
					json_array_append(values, v);
			}
			json_array_append_new(expect,
								  json_pack("{s:{s:s,s:o}}", "accepted_values",
											"column", column, "values", values));
			return;
		}
	}
	if (type && strcmp(type, "sql") == 0 && dp_contract_str(rule, "query") && has_op &&
		strcmp(ov.op, "between") != 0 && strcmp(ov.op, "not between") != 0 &&
		json_is_number(ov.value))
	{
		char		object[DP_IDENT_MAX + 16];
		char	   *q;

		snprintf(object, sizeof(object), "dp_consumer.%s", table);
		q = fill_placeholders(dp_contract_str(rule, "query"), object, column);
		if (q)
		{
			char	   *sql = malloc(strlen(q) + 128);
			char		num[64];

			snprintf(num, sizeof(num), "%.17g", json_number_value(ov.value));
			sprintf(sql, "SELECT (%s) %s %s", q, ov.op, num);
			json_array_append_new(expect, json_pack("{s:s}", "sql", sql));
			free(sql);
			free(q);
			return;
		}
	}
	if (desc)
		dp_contract_note(notes, "%s: quality rule not mapped to an expectation (%s): %s",
						 where, desc, buf);
	else
		dp_contract_note(notes, "%s: quality rule not mapped to an expectation: %s", where, buf);
}

/* ------------------------------------------------------------ ODCS */

/* the document against its format's schema; false (res failed) when refused */
static bool
schema_check(const json_t *doc, const json_t *schema, DpContractResult *res)
{
	DpSchemaError err;

	if (schema == NULL || dp_schema_validate(schema, doc, &err))
		return true;
	dp_contract_fail(res, DP_CONTRACT_INVALID, "at %s: %s (the %s schema refuses it)",
					 err.path[0] ? err.path : "the top", err.message,
					 res->format == DP_CONTRACT_ODCS ? "ODCS" : "Table Schema");
	return false;
}

static void
import_odcs(const json_t *doc, const json_t *schema, const char *product, DpContractResult *res)
{
	const char *api = dp_contract_str(doc, "apiVersion");
	const char *kind = dp_contract_str(doc, "kind");

	res->format = DP_CONTRACT_ODCS;
	if (api == NULL || !in_list(api, odcs_versions))
	{
		char		buf[64];

		dp_contract_brief(json_object_get(doc, "apiVersion"), buf, sizeof(buf));
		dp_contract_fail(res, DP_CONTRACT_NOT_SUPPORTED,
			 "apiVersion %s is not one this platform reads (v3.0.0, v3.0.1, v3.0.2, v3.1.0, v3.2.0)",
			 buf);
		return;
	}
	snprintf(res->api_version, sizeof(res->api_version), "%s", api);
	if (kind == NULL || strcmp(kind, "DataContract") != 0)
	{
		char		buf[64];

		dp_contract_brief(json_object_get(doc, "kind"), buf, sizeof(buf));
		dp_contract_fail(res, DP_CONTRACT_NOT_SUPPORTED, "kind %s is not \"DataContract\"", buf);
		return;
	}
	/* an unknown type is its own problem, before the schema's verdict */
	{
		size_t		i,
					j;
		json_t	   *obj,
				   *prop;
		static const char *const types[] = {
			"string", "date", "timestamp", "time", "number", "integer", "object",
			"array", "boolean", "map", NULL
		};

		json_array_foreach(json_object_get(doc, "schema"), i, obj)
		{
			json_array_foreach(json_object_get(obj, "properties"), j, prop)
			{
				const char *lt = dp_contract_str(prop, "logicalType");

				if (lt && !in_list(lt, types))
				{
					dp_contract_fail(res, DP_CONTRACT_UNKNOWN_TYPE,
									 "at /schema/%zu/properties/%zu: logicalType \"%s\" is not an ODCS type (string, date, timestamp, time, number, integer, object, array, boolean, map)",
									 i, j, lt);
					return;
				}
			}
		}
	}
	if (schema_check(doc, schema, res))
		dp_contract_import_odcs(doc, product, res);
}

/* ------------------------------------------------------------ entry */

DpContractFormat
dp_contract_detect(const json_t *doc)
{
	if (!json_is_object(doc))
		return DP_CONTRACT_UNKNOWN;
	if (json_object_get(doc, "apiVersion") || json_object_get(doc, "kind"))
		return DP_CONTRACT_ODCS;
	if (json_is_array(json_object_get(doc, "fields")))
		return DP_CONTRACT_TABLE_SCHEMA;
	return DP_CONTRACT_UNKNOWN;
}

void
dp_contract_import(const json_t *doc, const json_t *schema, const char *product,
				   const char *dataset, DpContractResult *res)
{
	memset(res, 0, sizeof(*res));
	res->product = new_object();
	res->datasets = json_array();
	res->notes = json_array();
	if (!json_is_object(doc))
	{
		dp_contract_fail(res, DP_CONTRACT_NOT_SUPPORTED,
			 "the document is not an object: neither an ODCS contract nor a Table Schema");
		return;
	}
	if (dp_contract_detect(doc) == DP_CONTRACT_ODCS)
		import_odcs(doc, schema, product, res);
	else if (dp_contract_detect(doc) == DP_CONTRACT_TABLE_SCHEMA)
	{
		static const char *const types[] = {
			"string", "number", "integer", "boolean", "object", "array", "date", "time",
			"datetime", "year", "yearmonth", "duration", "geopoint", "geojson", "any", NULL
		};
		size_t		i;
		json_t	   *f;

		res->format = DP_CONTRACT_TABLE_SCHEMA;
		json_array_foreach(json_object_get(doc, "fields"), i, f)
		{
			const char *t = dp_contract_str(f, "type");

			if (t && !in_list(t, types))
			{
				dp_contract_fail(res, DP_CONTRACT_UNKNOWN_TYPE,
								 "at /fields/%zu: type \"%s\" is not a Table Schema type", i, t);
				return;
			}
		}
		if (res->problem == DP_CONTRACT_OK && schema_check(doc, schema, res))
			dp_contract_import_table_schema(doc, product, dataset, res);
	}
	else
		dp_contract_fail(res, DP_CONTRACT_NOT_SUPPORTED,
			 "the document is neither an ODCS contract (no apiVersion or kind) nor a Table Schema (no fields)");
	if (res->problem == DP_CONTRACT_OK && json_array_size(res->datasets) == 0)
		dp_contract_fail(res, DP_CONTRACT_NO_TABLE, "the contract describes no table");
}
