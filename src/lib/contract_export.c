/*
 * contract_export.c
 *		A specification and its product to an ODCS v3 contract or a Table
 *		Schema.  What the format has a member for goes there; every other
 *		member of the spec, its fields or the product goes into
 *		"dataplatform.<member>" (an ODCS custom property, a Table Schema
 *		member), which import reads back, so export then import gives the
 *		same spec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract_int.h"
#include "datatype.h"
#include "naming.h"

#define str dp_contract_str

static bool
listed(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static void
custom(json_t *target, const char *member, const json_t *value)
{
	json_t	   *cps = json_object_get(target, "customProperties");
	char		name[256];

	if (cps == NULL)
	{
		cps = json_array();
		json_object_set_new(target, "customProperties", cps);
	}
	snprintf(name, sizeof(name), DP_CONTRACT_NS "%s", member);
	json_array_append_new(cps, json_pack("{s:s,s:O}", "property", name, "value", value));
}

static const char *
logical_type(const char *dt)
{
	if (strcmp(dt, "integer") == 0)
		return "integer";
	if (strcmp(dt, "decimal") == 0)
		return "number";
	if (strcmp(dt, "flag") == 0)
		return "boolean";
	if (strcmp(dt, "date") == 0)
		return "date";
	if (strcmp(dt, "datetime") == 0)
		return "timestamp";
	if (strcmp(dt, "json") == 0)
		return "object";
	return "string";
}

static const char *
sql_type(const char *dt)
{
	DpDatatype	d;

	return dp_datatype_lookup(dt, &d) ? dp_datatype_sqltype(d) : "text";
}

static json_t *
odcs_property(const json_t *f, const json_t *key)
{
	static const char *const handled[] = {
		"name", "datatype", "required", "description", "examples", "classification",
		"pattern", "min_length", "max_length", "minimum", "maximum", "codelist",
		"references", "unique", NULL
	};
	const char *name = str(f, "name");
	const char *dt = str(f, "datatype") ? str(f, "datatype") : "string";
	json_t	   *p = new_object();
	json_t	   *opts = new_object();
	char		column[DP_IDENT_MAX + 1];
	size_t		i;
	json_t	   *k;
	const char *m;
	json_t	   *v;
	int			keypos = 0;

	json_array_foreach(key, i, k)
	{
		if (json_is_string(k) && name && strcmp(json_string_value(k), name) == 0)
			keypos = (int) i + 1;
	}
	json_object_set_new(p, "name", json_string(name ? name : ""));
	if (name && dp_snake_case(name, column) == DP_NAME_OK)
		json_object_set_new(p, "physicalName", json_string(column));
	json_object_set_new(p, "logicalType", json_string(logical_type(dt)));
	json_object_set_new(p, "physicalType", json_string(sql_type(dt)));
	if (strcmp(dt, "uuid") == 0)
		json_object_set_new(opts, "format", json_string("uuid"));
	else if (strcmp(dt, "url") == 0)
		json_object_set_new(opts, "format", json_string("uri"));
	else if (strcmp(dt, "text") == 0)
		custom(p, "datatype", json_object_get(f, "datatype"));
	if (keypos)
	{
		json_object_set_new(p, "primaryKey", json_true());
		json_object_set_new(p, "primaryKeyPosition", json_integer(keypos));
	}
	if (json_is_true(json_object_get(f, "required")) || keypos)
		json_object_set_new(p, "required", json_true());
	if (json_is_true(json_object_get(f, "unique")))
		json_object_set_new(p, "unique", json_true());
	else if (json_is_string(json_object_get(f, "unique")))
	{
		json_object_set_new(p, "unique", json_true());
		custom(p, "unique", json_object_get(f, "unique"));
	}
	if (str(f, "description"))
		json_object_set(p, "description", json_object_get(f, "description"));
	if (str(f, "classification"))
		json_object_set(p, "classification", json_object_get(f, "classification"));
	if (json_is_array(json_object_get(f, "examples")))
		json_object_set(p, "examples", json_object_get(f, "examples"));
	if (str(f, "pattern"))
		json_object_set(opts, "pattern", json_object_get(f, "pattern"));
	if (json_object_get(f, "min_length"))
		json_object_set(opts, "minLength", json_object_get(f, "min_length"));
	if (json_object_get(f, "max_length"))
		json_object_set(opts, "maxLength", json_object_get(f, "max_length"));
	if (json_is_number(json_object_get(f, "minimum")))
		json_object_set(opts, "minimum", json_object_get(f, "minimum"));
	if (json_is_number(json_object_get(f, "maximum")))
		json_object_set(opts, "maximum", json_object_get(f, "maximum"));
	if (json_object_size(opts) > 0)
		json_object_set(p, "logicalTypeOptions", opts);
	json_decref(opts);
	if (json_is_array(json_object_get(f, "codelist")))
	{
		json_t	   *en = json_array();

		json_array_foreach(json_object_get(f, "codelist"), i, v)
		{
			if (json_is_object(v))
				json_array_append_new(en, json_deep_copy(v));
			else
				json_array_append_new(en, json_pack("{s:O}", "value", v));
		}
		json_object_set_new(p, "enum", en);
	}
	if (json_is_object(json_object_get(f, "references")))
	{
		const json_t *r = json_object_get(f, "references");
		char		to[600];
		bool		plain = json_object_size(r) == 2;

		snprintf(to, sizeof(to), "%s.%s", str(r, "dataset") ? str(r, "dataset") : "",
				 str(r, "field") ? str(r, "field") : "");
		/* ODCS's shorthand reference is identifier.identifier */
		for (i = 0; to[i] && plain; i++)
			if (!((to[i] >= 'a' && to[i] <= 'z') || (to[i] >= 'A' && to[i] <= 'Z') ||
				  (to[i] >= '0' && to[i] <= '9') || to[i] == '_' || to[i] == '.'))
				plain = false;
		if (plain && (to[0] == '.' || (to[0] >= '0' && to[0] <= '9') ||
					  strchr(to, '.') != strrchr(to, '.') || strchr(to, '.')[1] == '\0' ||
					  (strchr(to, '.')[1] >= '0' && strchr(to, '.')[1] <= '9')))
			plain = false;
		if (plain)
			json_object_set_new(p, "relationships",
								json_pack("[{s:s,s:s}]", "type", "foreignKey", "to", to));
		else
			custom(p, "references", r);	/* a severity, or names ODCS cannot write */
	}
	json_object_foreach((json_t *) f, m, v)
	{
		if (!listed(m, handled))
			custom(p, m, v);
	}
	return p;
}

json_t *
dp_contract_export_odcs(const json_t *spec, const json_t *product)
{
	static const char *const spec_handled[] = {
		"dataset", "product", "title", "description", "key", "fields", "version",
		"clean_table", NULL
	};
	static const char *const product_handled[] = {
		"name", "description", "domain", "owner", "email", "status", "tags",
		"producers", "datasets", "created_at", "updated_at", NULL
	};
	const char *dataset = str(spec, "dataset") ? str(spec, "dataset") : "dataset";
	const char *version = str(spec, "version") ? str(spec, "version") : "1.0";
	const char *pstatus = str(product, "status");
	json_t	   *doc;
	json_t	   *obj;
	json_t	   *props = json_array();
	char		id[300];
	char		ver[64];
	char		table[DP_IDENT_MAX + 1];
	size_t		i;
	json_t	   *f;
	const char *m;
	json_t	   *v;

	snprintf(id, sizeof(id), "%s", dataset);
	for (i = 0; id[i]; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
			  (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_'))
			id[i] = '_';
	snprintf(ver, sizeof(ver), "%s.0", version);
	doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}",
					"apiVersion", DP_CONTRACT_ODCS_VERSION, "kind", "DataContract",
					"id", id, "name", dataset, "version", ver,
					"status", pstatus && strcmp(pstatus, "published") == 0 ? "active" :
					pstatus && strcmp(pstatus, "retired") == 0 ? "retired" : "draft");
	if (str(product, "name"))
		json_object_set(doc, "dataProduct", json_object_get(product, "name"));
	if (str(product, "domain"))
		json_object_set(doc, "domain", json_object_get(product, "domain"));
	if (str(product, "description"))
		json_object_set_new(doc, "description",
							json_pack("{s:O}", "purpose", json_object_get(product, "description")));
	if (json_is_array(json_object_get(product, "tags")) &&
		json_array_size(json_object_get(product, "tags")) > 0)
		json_object_set(doc, "tags", json_object_get(product, "tags"));
	if (str(product, "owner"))
		json_object_set_new(doc, "team", json_pack("{s:O}", "name", json_object_get(product, "owner")));
	if (str(product, "email"))
	{
		char		mail[512];

		snprintf(mail, sizeof(mail), "mailto:%s", str(product, "email"));
		json_object_set_new(doc, "support",
							json_pack("[{s:s,s:s,s:s}]", "channel", "email", "tool", "email",
									  "url", mail));
	}
	json_object_foreach((json_t *) product, m, v)
	{
		if (!listed(m, product_handled) && !json_is_null(v))
			custom(doc, m, v);
	}

	json_array_foreach(json_object_get(spec, "fields"), i, f)
		json_array_append_new(props, odcs_property(f, json_object_get(spec, "key")));
	obj = json_pack("{s:s,s:s,s:s}", "name", dataset, "physicalType", "table",
					"logicalType", "object");
	if (dp_snake_case(dataset, table) == DP_NAME_OK)
		json_object_set_new(obj, "physicalName", json_string(table));
	if (str(spec, "title"))
		json_object_set(obj, "businessName", json_object_get(spec, "title"));
	if (str(spec, "description"))
		json_object_set(obj, "description", json_object_get(spec, "description"));
	json_object_set_new(obj, "properties", props);
	json_object_foreach((json_t *) spec, m, v)
	{
		if (!listed(m, spec_handled))
			custom(obj, m, v);
	}
	json_object_set_new(doc, "schema", json_pack("[o]", obj));
	return doc;
}

static const char *
ts_type(const char *dt, const char **format)
{
	*format = NULL;
	if (strcmp(dt, "integer") == 0)
		return "integer";
	if (strcmp(dt, "decimal") == 0)
		return "number";
	if (strcmp(dt, "flag") == 0)
		return "boolean";
	if (strcmp(dt, "date") == 0)
		return "date";
	if (strcmp(dt, "datetime") == 0)
		return "datetime";
	if (strcmp(dt, "json") == 0)
		return "object";
	if (strcmp(dt, "uuid") == 0)
		*format = "uuid";
	else if (strcmp(dt, "url") == 0)
		*format = "uri";
	return "string";
}

json_t *
dp_contract_export_table_schema(const json_t *spec)
{
	static const char *const handled[] = {
		"name", "datatype", "required", "description", "examples", "pattern",
		"min_length", "max_length", "minimum", "maximum", "codelist", "references",
		"unique", NULL
	};
	static const char *const spec_handled[] = {
		"dataset", "product", "title", "description", "key", "fields", "version",
		"clean_table", NULL
	};
	json_t	   *doc = new_object();
	json_t	   *fields = json_array();
	json_t	   *fks = json_array();
	size_t		i;
	json_t	   *f;
	const char *m;
	json_t	   *v;
	char		member[256];

	if (str(spec, "dataset"))
		json_object_set(doc, "name", json_object_get(spec, "dataset"));
	if (str(spec, "title"))
		json_object_set(doc, "title", json_object_get(spec, "title"));
	if (str(spec, "description"))
		json_object_set(doc, "description", json_object_get(spec, "description"));
	json_array_foreach(json_object_get(spec, "fields"), i, f)
	{
		const char *dt = str(f, "datatype") ? str(f, "datatype") : "string";
		const char *format;
		json_t	   *tf = json_pack("{s:s?,s:s}", "name", str(f, "name"), "type",
								   ts_type(dt, &format));
		json_t	   *c = new_object();
		const json_t *cl = json_object_get(f, "codelist");

		if (format)
			json_object_set_new(tf, "format", json_string(format));
		if (strcmp(dt, "text") == 0)
			json_object_set_new(tf, DP_CONTRACT_NS "datatype", json_string(dt));
		if (str(f, "description"))
			json_object_set(tf, "description", json_object_get(f, "description"));
		if (json_array_size(json_object_get(f, "examples")) > 0)
		{
			json_object_set(tf, "example", json_array_get(json_object_get(f, "examples"), 0));
			if (json_array_size(json_object_get(f, "examples")) > 1)
				json_object_set(tf, DP_CONTRACT_NS "examples", json_object_get(f, "examples"));
		}
		if (json_is_true(json_object_get(f, "required")))
			json_object_set_new(c, "required", json_true());
		if (json_is_true(json_object_get(f, "unique")))
			json_object_set_new(c, "unique", json_true());
		else if (json_is_string(json_object_get(f, "unique")))
		{
			json_object_set_new(c, "unique", json_true());
			json_object_set(tf, DP_CONTRACT_NS "unique", json_object_get(f, "unique"));
		}
		if (json_object_get(f, "min_length"))
			json_object_set(c, "minLength", json_object_get(f, "min_length"));
		if (json_object_get(f, "max_length"))
			json_object_set(c, "maxLength", json_object_get(f, "max_length"));
		if (json_is_number(json_object_get(f, "minimum")))
			json_object_set(c, "minimum", json_object_get(f, "minimum"));
		if (json_is_number(json_object_get(f, "maximum")))
			json_object_set(c, "maximum", json_object_get(f, "maximum"));
		if (str(f, "pattern"))
			json_object_set(c, "pattern", json_object_get(f, "pattern"));
		if (json_is_array(cl))
		{
			json_t	   *en = json_array();
			bool		labelled = false;
			size_t		j;

			json_array_foreach(cl, j, v)
			{
				if (json_is_object(v))
				{
					json_array_append(en, json_object_get(v, "value"));
					labelled = true;
				}
				else
					json_array_append(en, v);
			}
			json_object_set_new(c, "enum", en);
			if (labelled)
				json_object_set(tf, DP_CONTRACT_NS "codelist", (json_t *) cl);
		}
		if (json_object_size(c) > 0)
			json_object_set(tf, "constraints", c);
		json_decref(c);
		if (json_is_object(json_object_get(f, "references")))
		{
			const json_t *r = json_object_get(f, "references");
			const char *rd = str(r, "dataset");

			json_array_append_new(fks, json_pack("{s:[s?],s:{s:s,s:[s?]}}",
												 "fields", str(f, "name"), "reference",
												 "resource", rd && str(spec, "dataset") &&
												 strcmp(rd, str(spec, "dataset")) == 0 ? "" :
												 rd ? rd : "",
												 "fields", str(r, "field")));
			if (json_object_size(r) > 2)
				json_object_set(tf, DP_CONTRACT_NS "references", (json_t *) r);
		}
		json_object_foreach((json_t *) f, m, v)
		{
			if (!listed(m, handled))
			{
				snprintf(member, sizeof(member), DP_CONTRACT_NS "%s", m);
				json_object_set(tf, member, v);
			}
		}
		json_array_append_new(fields, tf);
	}
	json_object_set_new(doc, "fields", fields);
	if (json_is_array(json_object_get(spec, "key")))
		json_object_set(doc, "primaryKey", json_object_get(spec, "key"));
	if (json_array_size(fks) > 0)
		json_object_set(doc, "foreignKeys", fks);
	json_decref(fks);
	json_object_foreach((json_t *) spec, m, v)
	{
		if (!listed(m, spec_handled))
		{
			snprintf(member, sizeof(member), DP_CONTRACT_NS "%s", m);
			json_object_set(doc, member, v);
		}
	}
	return doc;
}
