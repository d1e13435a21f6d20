/*
 * contract_odcs.c
 *		ODCS v3 contracts to specifications (after contract.c has checked
 *		apiVersion and kind): the product's metadata, one spec per schema
 *		object that is a table, the properties' types, keys and constraints,
 *		relationships to references, quality rules to expectations, and a
 *		note for every member a spec cannot say.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "contract_int.h"
#include "datatype.h"
#include "naming.h"

#define str dp_contract_str
#define note dp_contract_note

static const char *const top_known[] = {
	"apiVersion", "kind", "id", "version", "status", "name", "dataProduct", "domain",
	"description", "schema", "team", "support", "tags", "slaProperties",
	"customProperties", "tenant", "servers", "price", "roles", "authoritativeDefinitions",
	"contractCreatedTs", "slaDefaultElement", "context", NULL
};
/* top-level members noted, not mapped */
static const char *const top_noted[] = {
	"tenant", "servers", "price", "roles", "authoritativeDefinitions",
	"contractCreatedTs", "slaDefaultElement", "context", NULL
};
static const char *const prop_noted[] = {
	"id", "physicalType", "physicalName", "businessName", "tags", "partitioned",
	"partitionKeyPosition", "criticalDataElement", "encryptedName",
	"transformSourceObjects", "transformLogic", "transformDescription",
	"authoritativeDefinitions", "items", "properties", "map", "semanticType",
	"synonyms", "context", NULL
};
static const char *const classifications[] = {
	"public", "internal", "confidential", "restricted", NULL
};

static bool
listed(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* whether a member holds nothing worth a note (false, -1, [], {}, null) */
static bool
is_default(const json_t *v)
{
	return v == NULL || json_is_null(v) || json_is_false(v) ||
		(json_is_integer(v) && json_integer_value(v) == -1) ||
		(json_is_array(v) && json_array_size(v) == 0) ||
		(json_is_object(v) && json_object_size(v) == 0);
}

static void
note_member(json_t *notes, const char *where, const char *member, const json_t *v)
{
	char		buf[160];

	if (is_default(v))
		return;
	dp_contract_brief(v, buf, sizeof(buf));
	note(notes, "%s: %s %s not kept", where, member, buf);
}

/*
 * customProperties: ours ("dataplatform.<member>") set target's member;
 * the others become notes.
 */
static void
custom_properties(const json_t *cps, const char *where, json_t *target, json_t *notes)
{
	size_t		i;
	json_t	   *cp;

	json_array_foreach(cps, i, cp)
	{
		const char *p = str(cp, "property");

		if (p && strncmp(p, DP_CONTRACT_NS, strlen(DP_CONTRACT_NS)) == 0 &&
			p[strlen(DP_CONTRACT_NS)] && json_object_get(cp, "value"))
			json_object_set(target, p + strlen(DP_CONTRACT_NS), json_object_get(cp, "value"));
		else
		{
			char		buf[160];

			dp_contract_brief(cp, buf, sizeof(buf));
			note(notes, "%s: custom property %s not kept", where, buf);
		}
	}
}

/* ODCS duration ("4", "d") to a PostgreSQL interval text, or NULL */
static char *
interval_text(const json_t *value, const char *unit, char *buf, size_t size)
{
	static const char *const units[][2] = {
		{"d", "days"}, {"day", "days"}, {"days", "days"}, {"h", "hours"}, {"hr", "hours"},
		{"hour", "hours"}, {"hours", "hours"}, {"m", "minutes"}, {"min", "minutes"},
		{"minute", "minutes"}, {"minutes", "minutes"}, {"w", "weeks"}, {"week", "weeks"},
		{"weeks", "weeks"}, {"y", "years"}, {"yr", "years"}, {"year", "years"},
		{"years", "years"}, {"s", "seconds"}, {"second", "seconds"}, {"seconds", "seconds"}
	};
	size_t		i;

	if (!json_is_number(value) || unit == NULL || json_number_value(value) <= 0)
		return NULL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcasecmp(unit, units[i][0]) == 0)
		{
			if (json_number_value(value) == 1)
				snprintf(buf, size, "1 %.*s", (int) strlen(units[i][1]) - 1, units[i][1]);
			else
				snprintf(buf, size, "%g %s", json_number_value(value), units[i][1]);
			return buf;
		}
	return NULL;
}

/* the product's metadata, from the contract's own members */
static void
product_meta(const json_t *doc, json_t *product, json_t *notes)
{
	const json_t *desc = json_object_get(doc, "description");
	const json_t *team = json_object_get(doc, "team");
	const json_t *support = json_object_get(doc, "support");
	const char *status = str(doc, "status");
	size_t		i;
	json_t	   *v;

	if (json_is_string(desc))
		json_object_set(product, "description", (json_t *) desc);
	else if (json_is_object(desc))
	{
		const char *k;

		json_object_foreach((json_t *) desc, k, v)
		{
			if (strcmp(k, "purpose") == 0 && json_is_string(v))
				json_object_set(product, "description", v);
			else
				note_member(notes, "description", k, v);
		}
	}
	if (str(doc, "domain"))
		json_object_set(product, "domain", json_object_get(doc, "domain"));
	if (json_is_array(json_object_get(doc, "tags")))
		json_object_set(product, "tags", json_object_get(doc, "tags"));
	if (status)
	{
		if (strcmp(status, "active") == 0)
			json_object_set_new(product, "status", json_string("published"));
		else if (strcmp(status, "retired") == 0)
			json_object_set_new(product, "status", json_string("retired"));
		else
		{
			json_object_set_new(product, "status", json_string("draft"));
			if (strcmp(status, "draft") != 0 && strcmp(status, "proposed") != 0)
				note(notes, "status \"%s\" kept as the product status draft", status);
		}
	}
	if (json_is_object(team))
	{
		const char *k;

		json_object_foreach((json_t *) team, k, v)
		{
			if (strcmp(k, "name") == 0 && json_is_string(v))
				json_object_set(product, "owner", v);
			else
				note_member(notes, "team", k, v);
		}
	}
	else
		note_member(notes, "contract", "team", team);
	json_array_foreach(support, i, v)
	{
		const char *url = str(v, "url");
		const char *tool = str(v, "tool");
		const char *channel = str(v, "channel");

		if (url && strncmp(url, "mailto:", 7) == 0 && !json_object_get(product, "email"))
			json_object_set_new(product, "email", json_string(url + 7));
		else if (tool && strcmp(tool, "email") == 0 && channel && strchr(channel, '@') &&
				 !json_object_get(product, "email"))
			json_object_set_new(product, "email", json_string(channel));
		else if (!json_object_get(product, "contact") && (url || channel))
			json_object_set_new(product, "contact", json_string(url ? url : channel));
		else
			note_member(notes, "support", "channel", v);
	}
	json_array_foreach(json_object_get(doc, "slaProperties"), i, v)
	{
		const char *p = str(v, "property");
		char		buf[64];

		if (p && strcmp(p, "frequency") == 0 && !json_object_get(product, "update_frequency") &&
			interval_text(json_object_get(v, "value"), str(v, "unit"), buf, sizeof(buf)))
			json_object_set_new(product, "update_frequency", json_string(buf));
		else if (p && (strcmp(p, "latency") == 0 || strcmp(p, "freshness") == 0))
			;					/* per dataset: fresh_within */
		else
			note_member(notes, "slaProperties", p ? p : "?", v);
	}
	custom_properties(json_object_get(doc, "customProperties"), "contract", product, notes);
}

/* whether a physicalType is the column type our datatype gets */
static bool
same_sql_type(const char *dt, const char *physical)
{
	DpDatatype	d;

	return dp_datatype_lookup(dt, &d) && strcasecmp(dp_datatype_sqltype(d), physical) == 0;
}

/* our datatype for a property; NULL with res failed when unknown */
static const char *
datatype_of(const json_t *prop, const char *where, json_t *notes, DpContractResult *res)
{
	const char *lt = str(prop, "logicalType");
	const char *fmt = str(json_object_get(prop, "logicalTypeOptions"), "format");

	if (lt == NULL)
	{
		if (json_object_get(prop, "logicalType"))
		{
			dp_contract_fail(res, DP_CONTRACT_INVALID, "%s: logicalType is not a string", where);
			return NULL;
		}
		note(notes, "%s: no logicalType: read as string", where);
		return "string";
	}
	if (strcmp(lt, "string") == 0)
	{
		if (fmt && strcasecmp(fmt, "uuid") == 0)
			return "uuid";
		if (fmt && (strcasecmp(fmt, "uri") == 0 || strcasecmp(fmt, "url") == 0))
			return "url";
		return "string";
	}
	if (strcmp(lt, "date") == 0)
		return "date";
	if (strcmp(lt, "timestamp") == 0)
		return "datetime";
	if (strcmp(lt, "time") == 0)
	{
		note(notes, "%s: logicalType time kept as a string", where);
		return "string";
	}
	if (strcmp(lt, "number") == 0)
		return "decimal";
	if (strcmp(lt, "integer") == 0)
		return "integer";
	if (strcmp(lt, "boolean") == 0)
		return "flag";
	if (strcmp(lt, "object") == 0 || strcmp(lt, "array") == 0 || strcmp(lt, "map") == 0)
		return "json";
	dp_contract_fail(res, DP_CONTRACT_UNKNOWN_TYPE,
					 "%s: logicalType \"%s\" is not an ODCS type (string, date, timestamp, time, number, integer, object, array, boolean, map)",
					 where, lt);
	return NULL;
}

static void
type_options(const json_t *opts, const char *dt, json_t *field, const char *where,
			 json_t *notes)
{
	const char *k;
	json_t	   *v;
	bool		numeric = strcmp(dt, "integer") == 0 || strcmp(dt, "decimal") == 0;
	bool		text = strcmp(dt, "string") == 0 || strcmp(dt, "text") == 0;

	json_object_foreach((json_t *) opts, k, v)
	{
		if (strcmp(k, "pattern") == 0 && json_is_string(v) && text)
			json_object_set(field, "pattern", v);
		else if (strcmp(k, "minLength") == 0 && json_is_integer(v) && text)
			json_object_set(field, "min_length", v);
		else if (strcmp(k, "maxLength") == 0 && json_is_integer(v) && text)
			json_object_set(field, "max_length", v);
		else if ((strcmp(k, "minimum") == 0 || strcmp(k, "maximum") == 0) &&
				 json_is_number(v) && numeric)
			json_object_set(field, k, v);
		else if (strcmp(k, "exclusiveMinimum") == 0 && json_is_integer(v) &&
				 strcmp(dt, "integer") == 0)
			json_object_set_new(field, "minimum", json_integer(json_integer_value(v) + 1));
		else if (strcmp(k, "exclusiveMaximum") == 0 && json_is_integer(v) &&
				 strcmp(dt, "integer") == 0)
			json_object_set_new(field, "maximum", json_integer(json_integer_value(v) - 1));
		else if (strcmp(k, "format") == 0 && json_is_string(v) &&
				 (strcmp(dt, "uuid") == 0 || strcmp(dt, "url") == 0))
			;					/* chose the datatype */
		else
			note_member(notes, where, k, v);
	}
}

/* ODCS enum (v3.2) to a codelist */
static void
enum_codelist(const json_t *en, const char *dt, json_t *field, const char *where,
			  json_t *notes, DpContractResult *res)
{
	json_t	   *codes = json_array();
	size_t		i;
	json_t	   *e;
	bool		labelled = false;

	if (strcmp(dt, "string") != 0 && strcmp(dt, "text") != 0)
	{
		note_member(notes, where, "enum", en);
		json_decref(codes);
		return;
	}
	json_array_foreach(en, i, e)
	{
		const json_t *value = json_is_object(e) ? json_object_get(e, "value") : e;
		const char *k;
		json_t	   *v;

		if (!json_is_string(value))
		{
			dp_contract_fail(res, DP_CONTRACT_INVALID, "%s: enum[%zu] has no string value", where, i);
			json_decref(codes);
			return;
		}
		if (json_is_object(e) && str(e, "label"))
		{
			json_array_append_new(codes, json_pack("{s:O,s:O}", "value", value,
												   "label", json_object_get(e, "label")));
			labelled = true;
		}
		else
			json_array_append(codes, (json_t *) value);
		if (json_is_object(e))
			json_object_foreach(e, k, v)
			{
				if (strcmp(k, "value") != 0 && strcmp(k, "label") != 0)
				{
					char		w[200];

					snprintf(w, sizeof(w), "%.120s: enum value \"%.60s\"", where, json_string_value(value));
					note_member(notes, w, k, v);
				}
			}
	}
	if (json_array_size(codes) == 0)
	{
		dp_contract_fail(res, DP_CONTRACT_INVALID, "%s: enum is empty", where);
		json_decref(codes);
		return;
	}
	if (labelled)
	{
		/* every entry an object once one is labelled */
		json_array_foreach(codes, i, e)
		{
			if (json_is_string(e))
				json_array_set_new(codes, i, json_pack("{s:O}", "value", e));
		}
	}
	json_object_set_new(field, "codelist", codes);
}

/* "table.column" (or "column" for this table) to a reference */
static void
add_reference(json_t *field, const char *to, const char *where, json_t *notes,
			  json_t *refs, const char *field_name)
{
	const char *dot = strrchr(to, '.');
	char		ds[256];

	if (dot == NULL || dot == to || dot[1] == '\0' || (size_t) (dot - to) >= sizeof(ds) ||
		memchr(to, '.', dot - to) != NULL)
	{
		note(notes, "%s: relationship to \"%s\" is not \"dataset.field\": not kept", where, to);
		return;
	}
	memcpy(ds, to, dot - to);
	ds[dot - to] = '\0';
	if (json_object_get(field, "references"))
	{
		note(notes, "%s: second relationship (to \"%s\") not kept: a field references one dataset",
			 where, to);
		return;
	}
	json_object_set_new(field, "references", json_pack("{s:s,s:s}", "dataset", ds, "field", dot + 1));
	json_array_append_new(refs, json_pack("{s:s,s:s,s:s}", "field", field_name,
										  "dataset", ds, "to_field", dot + 1));
}

static void
property_relationships(const json_t *rels, json_t *field, const char *where,
					   json_t *notes, json_t *refs, const char *field_name,
					   DpContractResult *res)
{
	size_t		i;
	json_t	   *r;

	json_array_foreach(rels, i, r)
	{
		const json_t *to = json_object_get(r, "to");
		const char *type = str(r, "type");
		const char *k;
		json_t	   *v;

		if (json_object_get(r, "from"))
		{
			dp_contract_fail(res, DP_CONTRACT_INVALID,
							 "%s: relationships[%zu]: a property's relationship has no \"from\" (it is the property)",
							 where, i);
			return;
		}
		if (type && strcmp(type, "foreignKey") != 0)
		{
			note(notes, "%s: relationship of type \"%s\" not kept", where, type);
			continue;
		}
		if (json_is_string(to))
			add_reference(field, json_string_value(to), where, notes, refs, field_name);
		else
		{
			char		buf[160];

			dp_contract_brief(r, buf, sizeof(buf));
			note(notes, "%s: relationship %s not kept: a reference is to one field", where, buf);
			continue;
		}
		json_object_foreach((json_t *) r, k, v)
		{
			if (strcmp(k, "to") != 0 && strcmp(k, "type") != 0)
				note_member(notes, where, k, v);
		}
	}
}

/* one property to one field; false when the contract is refused */
static bool
map_property(const json_t *prop, size_t idx, const char *objwhere, const char *table,
			 json_t *spec, json_t *ds, DpContractResult *res)
{
	json_t	   *notes = json_object_get(ds, "notes");
	json_t	   *field;
	const char *name = str(prop, "name");
	const char *dt;
	char		where[300];
	const char *k;
	json_t	   *v;
	char		column[DP_IDENT_MAX + 1];

	if (!json_is_object(prop) || name == NULL)
	{
		dp_contract_fail(res, DP_CONTRACT_INVALID, "%s: properties[%zu] has no name", objwhere, idx);
		return false;
	}
	snprintf(where, sizeof(where), "%.150s: property \"%.100s\"", objwhere, name);
	dt = datatype_of(prop, where, notes, res);
	if (dt == NULL)
		return false;
	field = json_pack("{s:s,s:s}", "name", name, "datatype", dt);
	json_array_append_new(json_object_get(spec, "fields"), field);
	if (dp_snake_case(name, column) != DP_NAME_OK)
		snprintf(column, sizeof(column), "%s", name);
	json_object_foreach((json_t *) prop, k, v)
	{
		if (strcmp(k, "name") == 0 || strcmp(k, "logicalType") == 0)
			continue;
		if (strcmp(k, "required") == 0 && json_is_boolean(v))
		{
			if (json_is_true(v))
				json_object_set_new(field, "required", json_true());
		}
		else if (strcmp(k, "primaryKey") == 0 && json_is_boolean(v))
			;					/* the key: below */
		else if (strcmp(k, "unique") == 0 && json_is_boolean(v))
		{
			if (json_is_true(v) && strcmp(dt, "json") == 0)
				note(notes, "%s: unique on a json field not kept", where);
			else if (json_is_true(v))
				json_object_set_new(field, "unique", json_true());
		}
		else if (strcmp(k, "description") == 0 && json_is_string(v))
			json_object_set(field, "description", v);
		else if (strcmp(k, "examples") == 0 && json_is_array(v))
		{
			if (json_array_size(v) > 0)
				json_object_set(field, "examples", v);
		}
		else if (strcmp(k, "classification") == 0 && json_is_string(v))
		{
			if (listed(json_string_value(v), classifications))
				json_object_set(field, "classification", v);
			else if (strcasecmp(json_string_value(v), "pii") == 0 ||
					 strcasecmp(json_string_value(v), "personal") == 0 ||
					 strcasecmp(json_string_value(v), "sensitive") == 0)
				json_object_set_new(field, "pii", json_true());
			else
				note_member(notes, where, k, v);
		}
		else if (strcmp(k, "logicalTypeOptions") == 0 && json_is_object(v))
			type_options(v, dt, field, where, notes);
		else if (strcmp(k, "enum") == 0 && json_is_array(v))
		{
			enum_codelist(v, dt, field, where, notes, res);
			if (res->problem)
				return false;
		}
		else if (strcmp(k, "relationships") == 0 && json_is_array(v))
		{
			property_relationships(v, field, where, notes,
								   json_object_get(ds, "references"), name, res);
			if (res->problem)
				return false;
		}
		else if (strcmp(k, "quality") == 0 && json_is_array(v))
		{
			size_t		i;
			json_t	   *rule;

			json_array_foreach(v, i, rule)
				dp_contract_map_quality(rule, where, table, column,
										json_object_get(ds, "expect"), notes);
		}
		else if (strcmp(k, "customProperties") == 0 && json_is_array(v))
			custom_properties(v, where, field, notes);
		else if (strcmp(k, "primaryKeyPosition") == 0 && json_is_integer(v))
			;					/* the key: below */
		else if (strcmp(k, "physicalType") == 0 && json_is_string(v) &&
				 (strcmp(dt, "text") == 0 || same_sql_type(dt, json_string_value(v))))
			;					/* what export writes: nothing lost */
		else if (strcmp(k, "physicalName") == 0 && json_is_string(v) &&
				 strcmp(json_string_value(v), column) == 0)
			;					/* the column it becomes anyway */
		else if (listed(k, prop_noted) || !is_default(v))
			note_member(notes, where, k, v);
	}
	(void) idx;
	return true;
}

/* key: primaryKey properties by primaryKeyPosition, then order */
static void
object_key(const json_t *props, json_t *spec)
{
	json_t	   *key = json_array();
	int			pos;
	size_t		i;
	json_t	   *p;

	for (pos = 1; pos <= 1000; pos++)
	{
		bool		any = false;

		json_array_foreach(props, i, p)
		{
			json_t	   *kp = json_object_get(p, "primaryKeyPosition");

			if (json_is_true(json_object_get(p, "primaryKey")) && json_is_integer(kp) &&
				json_integer_value(kp) == pos && str(p, "name"))
			{
				json_array_append(key, json_object_get(p, "name"));
				any = true;
				break;
			}
		}
		if (!any)
			break;
	}
	json_array_foreach(props, i, p)
	{
		json_t	   *kp = json_object_get(p, "primaryKeyPosition");

		if (json_is_true(json_object_get(p, "primaryKey")) && str(p, "name") &&
			!(json_is_integer(kp) && json_integer_value(kp) >= 1 &&
			  json_integer_value(kp) < pos))
			json_array_append(key, json_object_get(p, "name"));
	}
	json_object_set_new(spec, "key", key);
}

static void
object_relationships(const json_t *rels, json_t *spec, json_t *ds, const char *objname,
					 DpContractResult *res)
{
	json_t	   *notes = json_object_get(ds, "notes");
	size_t		i;
	json_t	   *r;
	char		where[300];

	snprintf(where, sizeof(where), "schema object \"%s\"", objname);
	json_array_foreach(rels, i, r)
	{
		const json_t *from = json_object_get(r, "from");
		const json_t *to = json_object_get(r, "to");
		const char *type = str(r, "type");

		if (from == NULL || to == NULL)
		{
			dp_contract_fail(res, DP_CONTRACT_INVALID,
							 "%s: relationships[%zu] needs \"from\" and \"to\"", where, i);
			return;
		}
		if (type && strcmp(type, "foreignKey") != 0)
		{
			note(notes, "%s: relationship of type \"%s\" not kept", where, type);
			continue;
		}
		if (json_is_string(from) && json_is_string(to))
		{
			const char *f = json_string_value(from);
			const char *dot = strrchr(f, '.');
			size_t		j;
			json_t	   *field;
			bool		found = false;

			if (dot)
				f = dot + 1;
			json_array_foreach(json_object_get(spec, "fields"), j, field)
			{
				if (strcmp(str(field, "name"), f) == 0)
				{
					add_reference(field, json_string_value(to), where, notes,
								  json_object_get(ds, "references"), f);
					found = true;
				}
			}
			if (!found)
				note(notes, "%s: relationship from \"%s\", not a property of it: not kept",
					 where, json_string_value(from));
		}
		else
		{
			char		buf[200];

			dp_contract_brief(r, buf, sizeof(buf));
			note(notes, "%s: relationship %s not kept: a reference is from one field to one field",
				 where, buf);
		}
	}
}

static void
map_object(const json_t *obj, size_t idx, const json_t *doc, const char *product,
		   DpContractResult *res)
{
	const char *name = str(obj, "name");
	const char *pt = str(obj, "physicalType");
	const char *lt = str(obj, "logicalType");
	const json_t *props = json_object_get(obj, "properties");
	json_t	   *spec;
	json_t	   *ds;
	char		where[300];
	char		table[DP_IDENT_MAX + 1];
	const char *k;
	json_t	   *v;
	size_t		i;

	if (!json_is_object(obj) || name == NULL)
	{
		dp_contract_fail(res, DP_CONTRACT_INVALID, "schema[%zu] has no name", idx);
		return;
	}
	snprintf(where, sizeof(where), "schema object \"%s\"", name);
	if ((pt && strcasecmp(pt, "table") != 0) || (lt && strcmp(lt, "object") != 0))
	{
		note(res->notes, "%s of type \"%s\" is not a table: not imported", where, pt ? pt : lt);
		return;
	}
	if (!json_is_array(props) || json_array_size(props) == 0)
	{
		note(res->notes, "%s has no properties: not imported", where);
		return;
	}
	json_array_foreach(res->datasets, i, v)
	{
		if (strcmp(str(json_object_get(v, "spec"), "dataset"), name) == 0)
		{
			dp_contract_fail(res, DP_CONTRACT_INVALID, "schema[%zu]: table \"%s\" is described twice",
							 idx, name);
			return;
		}
	}
	if (dp_snake_case(name, table) != DP_NAME_OK)
		snprintf(table, sizeof(table), "%s", name);
	spec = json_pack("{s:s,s:s?,s:[]}", "dataset", name, "product", product, "fields");
	ds = json_pack("{s:o,s:[],s:[],s:[]}", "spec", spec, "notes", "expect", "references");
	json_array_append_new(res->datasets, ds);
	json_array_foreach(props, i, v)
	{
		if (!map_property(v, i, where, table, spec, ds, res))
			return;
	}
	object_key(props, spec);
	json_object_foreach((json_t *) obj, k, v)
	{
		if (strcmp(k, "name") == 0 || strcmp(k, "properties") == 0 ||
			strcmp(k, "physicalType") == 0 || strcmp(k, "logicalType") == 0)
			continue;
		if (strcmp(k, "physicalName") == 0 && json_is_string(v) &&
			strcmp(json_string_value(v), table) == 0)
			continue;
		if (strcmp(k, "description") == 0 && json_is_string(v))
			json_object_set(spec, "description", v);
		else if (strcmp(k, "businessName") == 0 && json_is_string(v))
			json_object_set(spec, "title", v);
		else if (strcmp(k, "relationships") == 0 && json_is_array(v))
		{
			object_relationships(v, spec, ds, name, res);
			if (res->problem)
				return;
		}
		else if (strcmp(k, "quality") == 0 && json_is_array(v))
		{
			size_t		j;
			json_t	   *rule;

			json_array_foreach(v, j, rule)
				dp_contract_map_quality(rule, where, table, NULL, json_object_get(ds, "expect"),
										json_object_get(ds, "notes"));
		}
		else if (strcmp(k, "customProperties") == 0 && json_is_array(v))
			custom_properties(v, where, spec, json_object_get(ds, "notes"));
		else
			note_member(json_object_get(ds, "notes"), where, k, v);
	}
	/* freshness: an SLA latency on this table (or on the contract) */
	json_array_foreach(json_object_get(doc, "slaProperties"), i, v)
	{
		const char *p = str(v, "property");
		const char *el = str(v, "element");
		char		buf[64];

		if (p && (strcmp(p, "latency") == 0 || strcmp(p, "freshness") == 0) &&
			(el == NULL || strncmp(el, name, strlen(name)) == 0))
		{
			if (interval_text(json_object_get(v, "value"), str(v, "unit"), buf, sizeof(buf)))
				json_object_set_new(spec, "fresh_within", json_string(buf));
			else
				note_member(json_object_get(ds, "notes"), "slaProperties", p, v);
		}
	}
}

void
dp_contract_import_odcs(const json_t *doc, const char *product, DpContractResult *res)
{
	const char *k;
	json_t	   *v;
	size_t		i;
	const json_t *schema = json_object_get(doc, "schema");
	char		pname[DP_IDENT_MAX + 1];
	const char *const required[] = {"id", "version", NULL};

	for (i = 0; required[i]; i++)
		if (!json_object_get(doc, required[i]))
		{
			dp_contract_fail(res, DP_CONTRACT_INVALID, "the contract has no \"%s\"", required[i]);
			return;
		}
	json_object_foreach((json_t *) doc, k, v)
	{
		if (!listed(k, top_known))
		{
			dp_contract_fail(res, DP_CONTRACT_INVALID,
							 "\"%s\" is not a member of an ODCS contract", k);
			return;
		}
		if (listed(k, top_noted))
			note_member(res->notes, "contract", k, v);
	}
	if (product == NULL)
	{
		const char *from = str(doc, "dataProduct");

		if (from == NULL)
			from = str(doc, "name");
		if (from)
		{
			product = dp_contract_product_name(from, pname);
			if (product && strcmp(product, from) != 0)
				note(res->notes, "product name \"%s\" made from \"%s\"", product, from);
		}
	}
	if (product)
		json_object_set_new(res->product, "name", json_string(product));
	product_meta(doc, res->product, res->notes);
	if (schema && !json_is_array(schema))
	{
		dp_contract_fail(res, DP_CONTRACT_INVALID, "\"schema\" is not a list");
		return;
	}
	json_array_foreach(schema, i, v)
	{
		map_object(v, i, doc, product, res);
		if (res->problem)
			return;
	}
}
