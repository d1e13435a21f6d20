/*
 * contract_table.c
 *		Frictionless Table Schema (1.0) documents to one specification:
 *		fields and their types and constraints, the primary key, foreign keys
 *		to references, and notes for the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract_int.h"

#define str dp_contract_str
#define note dp_contract_note

static void
note_member(json_t *notes, const char *where, const char *member, const json_t *v)
{
	char		buf[160];

	dp_contract_brief(v, buf, sizeof(buf));
	note(notes, "%s: %s %s not kept", where, member, buf);
}

/* our datatype for a Table Schema type and format; NULL when unknown */
static const char *
ts_datatype(const char *type, const char *format, const char *where, json_t *notes)
{
	if (type == NULL || strcmp(type, "string") == 0)
	{
		if (format && strcmp(format, "uuid") == 0)
			return "uuid";
		if (format && strcmp(format, "uri") == 0)
			return "url";
		if (format && strcmp(format, "default") != 0)
			note(notes, "%s: format \"%s\" not kept", where, format);
		return "string";
	}
	if (strcmp(type, "integer") == 0)
		return "integer";
	if (strcmp(type, "number") == 0)
		return "decimal";
	if (strcmp(type, "boolean") == 0)
		return "flag";
	if (strcmp(type, "date") == 0)
		return "date";
	if (strcmp(type, "datetime") == 0)
		return "datetime";
	if (strcmp(type, "object") == 0 || strcmp(type, "array") == 0)
		return "json";
	if (strcmp(type, "geojson") == 0)
	{
		note(notes, "%s: type geojson kept as json", where);
		return "json";
	}
	if (strcmp(type, "year") == 0)
	{
		note(notes, "%s: type year kept as an integer", where);
		return "integer";
	}
	if (strcmp(type, "time") == 0 || strcmp(type, "yearmonth") == 0 ||
		strcmp(type, "duration") == 0 || strcmp(type, "geopoint") == 0 ||
		strcmp(type, "any") == 0)
	{
		note(notes, "%s: type %s kept as a string", where, type);
		return "string";
	}
	return NULL;
}

static bool
ts_field(const json_t *f, size_t idx, json_t *spec, json_t *notes, DpContractResult *res)
{
	const char *name = str(f, "name");
	const char *type = str(f, "type");
	const char *dt;
	json_t	   *field;
	char		where[300];
	const char *k;
	json_t	   *v;

	if (!json_is_object(f) || name == NULL)
	{
		dp_contract_fail(res, DP_CONTRACT_INVALID, "fields[%zu] has no name", idx);
		return false;
	}
	snprintf(where, sizeof(where), "field \"%s\"", name);
	if (json_object_get(f, "type") && type == NULL)
	{
		dp_contract_fail(res, DP_CONTRACT_INVALID, "%s: type is not a string", where);
		return false;
	}
	dt = ts_datatype(type, str(f, "format"), where, notes);
	if (dt == NULL)
	{
		dp_contract_fail(res, DP_CONTRACT_UNKNOWN_TYPE,
						 "%s: type \"%s\" is not a Table Schema type", where, type);
		return false;
	}
	if (str(f, DP_CONTRACT_NS "datatype"))
		dt = str(f, DP_CONTRACT_NS "datatype");
	field = json_pack("{s:s,s:s}", "name", name, "datatype", dt);
	json_array_append_new(json_object_get(spec, "fields"), field);
	json_object_foreach((json_t *) f, k, v)
	{
		if (strcmp(k, "name") == 0 || strcmp(k, "type") == 0 || strcmp(k, "format") == 0)
			continue;
		if (strcmp(k, "description") == 0 && json_is_string(v))
			json_object_set(field, "description", v);
		else if (strcmp(k, "example") == 0 && !json_is_null(v))
		{
			if (!json_object_get(field, "examples"))
				json_object_set_new(field, "examples", json_pack("[O]", v));
		}
		else if (strncmp(k, DP_CONTRACT_NS, strlen(DP_CONTRACT_NS)) == 0)
		{
			if (strcmp(k, DP_CONTRACT_NS "datatype") != 0)
				json_object_set(field, k + strlen(DP_CONTRACT_NS), v);
		}
		else if (strcmp(k, "constraints") == 0 && json_is_object(v))
		{
			const char *ck;
			json_t	   *cv;

			json_object_foreach(v, ck, cv)
			{
				if (strcmp(ck, "required") == 0 && json_is_boolean(cv))
				{
					if (json_is_true(cv))
						json_object_set_new(field, "required", json_true());
				}
				else if (strcmp(ck, "unique") == 0 && json_is_boolean(cv))
				{
					if (json_is_true(cv) && !json_object_get(field, "unique"))
						json_object_set_new(field, "unique", json_true());
				}
				else if (strcmp(ck, "minLength") == 0 && json_is_integer(cv))
					json_object_set(field, "min_length", cv);
				else if (strcmp(ck, "maxLength") == 0 && json_is_integer(cv))
					json_object_set(field, "max_length", cv);
				else if ((strcmp(ck, "minimum") == 0 || strcmp(ck, "maximum") == 0) &&
						 json_is_number(cv) &&
						 (strcmp(dt, "integer") == 0 || strcmp(dt, "decimal") == 0))
					json_object_set(field, ck, cv);
				else if (strcmp(ck, "pattern") == 0 && json_is_string(cv))
					json_object_set(field, "pattern", cv);
				else if (strcmp(ck, "enum") == 0 && json_is_array(cv) && json_array_size(cv) > 0 &&
						 (strcmp(dt, "string") == 0 || strcmp(dt, "text") == 0))
				{
					/* dataplatform.codelist, with labels, wins */
					if (!json_object_get(field, "codelist"))
						json_object_set(field, "codelist", cv);
				}
				else
					note_member(notes, where, ck, cv);
			}
		}
		else
			note_member(notes, where, k, v);
	}
	return true;
}

void
dp_contract_import_table_schema(const json_t *doc, const char *product, const char *dataset,
								DpContractResult *res)
{
	json_t	   *spec;
	json_t	   *ds;
	json_t	   *notes;
	const char *k;
	json_t	   *v;
	size_t		i;
	const json_t *pk = json_object_get(doc, "primaryKey");

	res->format = DP_CONTRACT_TABLE_SCHEMA;
	if (dataset == NULL)
		dataset = str(doc, "name");
	if (dataset == NULL)
	{
		dp_contract_fail(res, DP_CONTRACT_INVALID,
						 "a Table Schema does not name its dataset: give options.dataset");
		return;
	}
	if (product)
		json_object_set_new(res->product, "name", json_string(product));
	spec = json_pack("{s:s,s:s?,s:[]}", "dataset", dataset, "product", product, "fields");
	ds = json_pack("{s:o,s:[],s:[],s:[]}", "spec", spec, "notes", "expect", "references");
	json_array_append_new(res->datasets, ds);
	notes = json_object_get(ds, "notes");
	json_array_foreach(json_object_get(doc, "fields"), i, v)
	{
		if (!ts_field(v, i, spec, notes, res))
			return;
	}
	if (json_is_string(pk))
		json_object_set_new(spec, "key", json_pack("[O]", pk));
	else if (json_is_array(pk))
		json_object_set(spec, "key", (json_t *) pk);
	else
		json_object_set_new(spec, "key", json_array());
	json_object_foreach((json_t *) doc, k, v)
	{
		if (strcmp(k, "fields") == 0 || strcmp(k, "primaryKey") == 0 || strcmp(k, "name") == 0)
			continue;
		if ((strcmp(k, "title") == 0 || strcmp(k, "description") == 0) && json_is_string(v))
			json_object_set(spec, k, v);
		else if (strncmp(k, DP_CONTRACT_NS, strlen(DP_CONTRACT_NS)) == 0)
			json_object_set(spec, k + strlen(DP_CONTRACT_NS), v);
		else if (strcmp(k, "foreignKeys") == 0 && json_is_array(v))
		{
			size_t		j;
			json_t	   *fk;

			json_array_foreach(v, j, fk)
			{
				const json_t *from = json_object_get(fk, "fields");
				const json_t *ref = json_object_get(fk, "reference");
				const json_t *to = json_object_get(ref, "fields");
				const char *resource = str(ref, "resource");

				if (json_is_array(from) && json_array_size(from) == 1)
					from = json_array_get(from, 0);
				if (json_is_array(to) && json_array_size(to) == 1)
					to = json_array_get(to, 0);
				if (json_is_string(from) && json_is_string(to) && resource)
				{
					size_t		n;
					json_t	   *field;
					const char *target = resource[0] ? resource : dataset;

					json_array_foreach(json_object_get(spec, "fields"), n, field)
					{
						if (strcmp(str(field, "name"), json_string_value(from)) == 0 &&
							!json_object_get(field, "references"))
						{
							json_object_set_new(field, "references",
												json_pack("{s:s,s:O}", "dataset", target,
														  "field", to));
							json_array_append_new(json_object_get(ds, "references"),
												  json_pack("{s:O,s:s,s:O}", "field", from,
															"dataset", target, "to_field", to));
						}
					}
				}
				else
					note_member(notes, "foreignKeys", "entry", fk);
			}
		}
		else
			note_member(notes, "table schema", k, v);
	}
}
