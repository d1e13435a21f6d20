/*
 * config.c
 *		Per-dataset configuration: parsing and validation against the spec
 *		(dp_config_parse), and the SQL function configure().
 *
 * The configuration is JSON; every rule whose order matters is a list,
 * because jsonb does not keep object key order:
 *
 *	{"column":  {"Tenure Ref": "paymentReference", "Internal Notes": "IGNORE"},
 *	 "skip":    ["^#", "^Total,"],
 *	 "filter":  {"lease-type": "^(SEC|FLT)"},
 *	 "concat":  {"address": {"fields": ["Line 1", "Town"], "separator": ", ",
 *							 "prepend": "", "append": ""}},
 *	 "patch":   [{"field": "grade", "pattern": "^2 ?star$", "replacement": "II*"},
 *				 {"pattern": "^unknown$", "replacement": ""}],
 *	 "lookup":  {"ward": {"Hackney Ctrl": "Hackney Central"}},
 *	 "default": {"end-date": {"value": "2099-12-31"}, "name": {"field": "reference"}},
 *	 "strict":  false,
 *	 "boundary": "POLYGON ((...))",
 *	 "point":   [{"field": "point", "x": "Easting", "y": "Northing"}]}
 *
 * Versions: each change of a dataset's configuration is a new integer
 * version in dataplatform.config_version; an identical configuration is a
 * no-op.  Concurrent configure() calls are serialised like define_dataset
 * (SHARE ROW EXCLUSIVE on dataplatform.datasets).
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"

#include "access.h"
#include "config.h"
#include "harmonise.h"
#include "normalise.h"
#include "spatial.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dp_configure);

static const char *const config_keys[] = {
	"column", "skip", "filter", "concat", "patch", "lookup", "default", "strict", "events",
	"processing", "boundary", "point"
};

#define CONFIG_KEYS_TEXT "column, skip, filter, concat, patch, lookup, default, strict, events, processing, boundary, point"

int
dp_spec_field_index(const DpSpec *spec, const char *ref)
{
	int			i;

	for (i = 0; i < spec->nfields; i++)
		if (strcmp(spec->fields[i].name, ref) == 0)
			return i;
	for (i = 0; i < spec->nfields; i++)
		if (strcmp(spec->fields[i].column, ref) == 0)
			return i;
	return -1;
}

static int
config_field(const DpSpec *spec, const char *rule, const char *ref)
{
	int			i = dp_spec_field_index(spec, ref);

	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("configuration of dataset \"%s\" names unknown field \"%s\" in \"%s\"",
						spec->dataset, ref, rule),
				 errhint("Fields are named as in the specification (dataplatform.field lists them).")));
	return i;
}

static void
config_type_error(const DpSpec *spec, const char *rule, const char *expected, const json_t *got)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("invalid \"%s\" in configuration of dataset \"%s\"", rule, spec->dataset),
			 errdetail("Expected %s, got %s.", expected, dp_json_type_name(got))));
}

static DpPattern *
config_pattern(const DpSpec *spec, const char *rule, const char *regex, bool icase, bool capture)
{
	char		err[256];
	DpPattern  *p = dp_pattern_in_context(regex, icase, capture, err, sizeof(err));

	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("invalid pattern in \"%s\" of the configuration of dataset \"%s\": %s",
						rule, spec->dataset, err),
				 errdetail("Pattern: %s", regex),
				 errhint("Patterns are POSIX extended regular expressions.")));
	return p;
}

static char *
string_member(const DpSpec *spec, const char *rule, json_t *obj, const char *key, bool required)
{
	json_t	   *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" rule in the configuration of dataset \"%s\" has no \"%s\"",
							rule, spec->dataset, key)));
		return NULL;
	}
	if (!json_is_string(v))
		config_type_error(spec, psprintf("%s.%s", rule, key), "a string", v);
	return pstrdup(json_string_value(v));
}

static void
check_members(const DpSpec *spec, const char *rule, json_t *obj, const char *const *keys,
			  int nkeys, const char *keys_text)
{
	const char *key;
	json_t	   *v;

	json_object_foreach(obj, key, v)
	{
		int			i;

		for (i = 0; i < nkeys; i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (i == nkeys && rule == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in the configuration of dataset \"%s\"",
							key, spec->dataset),
					 errhint("Known keys: %s.", keys_text)));
		if (i == nkeys)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in \"%s\" of the configuration of dataset \"%s\"",
							key, rule, spec->dataset),
					 errhint("Known keys: %s.", keys_text)));
	}
}

/*
 * "boundary": WKT (WGS84) of a Polygon or MultiPolygon the dataset's
 * geometries must start in (the pipeline's per-dataset boundary).
 */
static void
parse_boundary(DpConfig *cfg, const DpSpec *spec, json_t *v)
{
	char		err[256];

	if (!json_is_string(v))
		config_type_error(spec, "boundary", "the WKT of a polygon (WGS84)", v);
	if (!dp_spatial_boundary_ok(json_string_value(v), err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid \"boundary\" in the configuration of dataset \"%s\": %s",
						spec->dataset, err),
				 errhint("Give the WKT of a Polygon or MultiPolygon in WGS84 degrees (longitude latitude).")));
	cfg->boundary = pstrdup(json_string_value(v));
}

/* The source column of a "point" rule's coordinate, by any of its names. */
static char *
point_source(const DpSpec *spec, json_t *rule, const char *a, const char *b, const char *c)
{
	json_t	   *v = json_object_get(rule, a);

	if (v == NULL)
		v = json_object_get(rule, b);
	if (v == NULL)
		v = json_object_get(rule, c);
	if (!json_is_string(v))
		config_type_error(spec, psprintf("point.%s", a), "a source column name", v ? v : json_null());
	return pstrdup(json_string_value(v));
}

/*
 * "point": [{"field": "point", "x": "Easting", "y": "Northing"}, ...]
 * (x may be written "longitude" or "easting", y "latitude" or "northing"):
 * a point field built from two source columns when it has no value.
 */
static void
parse_point(DpConfig *cfg, const DpSpec *spec, json_t *v)
{
	size_t		i,
				n;
	static const char *const keys[] = {"field", "x", "y", "longitude", "latitude", "easting", "northing"};

	if (!json_is_object(v) && !json_is_array(v))
		config_type_error(spec, "point", "a list of {\"field\", \"x\", \"y\"}", v);
	n = json_is_object(v) ? 1 : json_array_size(v);
	cfg->points = palloc0(sizeof(DpPointRule) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		json_t	   *rule = json_is_object(v) ? v : json_array_get(v, i);
		DpPointRule *r = &cfg->points[cfg->npoints++];
		json_t	   *f = json_object_get(rule, "field");

		if (!json_is_object(rule))
			config_type_error(spec, "point", "a list of {\"field\", \"x\", \"y\"}", rule);
		check_members(spec, "point", rule, keys, lengthof(keys),
					  "field, x (or longitude, easting), y (or latitude, northing)");
		if (!json_is_string(f))
			config_type_error(spec, "point.field", "a point field", f ? f : json_null());
		r->field = config_field(spec, "point", json_string_value(f));
		if (spec->fields[r->field].datatype != DP_DT_POINT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"point\" rule of dataset \"%s\" names field \"%s\", which is not a point",
							spec->dataset, spec->fields[r->field].name)));
		r->x = point_source(spec, rule, "x", "longitude", "easting");
		r->y = point_source(spec, rule, "y", "latitude", "northing");
	}
}

static void
parse_column(DpConfig *cfg, const DpSpec *spec, json_t *v)
{
	const char *key;
	json_t	   *target;

	if (!json_is_object(v))
		config_type_error(spec, "column", "an object of source column -> field", v);
	cfg->columns = palloc0(sizeof(DpColumnRule) * Max(json_object_size(v), 1));
	json_object_foreach(v, key, target)
	{
		DpColumnRule *r = &cfg->columns[cfg->ncolumns++];

		if (!json_is_string(target))
			config_type_error(spec, psprintf("column.%s", key), "a field name or \"IGNORE\"", target);
		r->source = pstrdup(key);
		if (strcmp(json_string_value(target), "IGNORE") == 0)
			r->field = DP_FIELD_IGNORE;
		else
			r->field = config_field(spec, "column", json_string_value(target));
	}
}

static void
parse_skip(DpConfig *cfg, const DpSpec *spec, json_t *v)
{
	size_t		i;
	json_t	   *p;

	if (!json_is_array(v))
		config_type_error(spec, "skip", "an array of patterns", v);
	cfg->nskip = json_array_size(v);
	cfg->skip = palloc0(sizeof(char *) * Max(cfg->nskip, 1));
	cfg->skip_re = palloc0(sizeof(DpPattern *) * Max(cfg->nskip, 1));
	json_array_foreach(v, i, p)
	{
		if (!json_is_string(p))
			config_type_error(spec, "skip", "an array of patterns", p);
		cfg->skip[i] = pstrdup(json_string_value(p));
		cfg->skip_re[i] = config_pattern(spec, "skip", cfg->skip[i], false, false);
	}
}

static void
parse_filter(DpConfig *cfg, const DpSpec *spec, json_t *v)
{
	const char *key;
	json_t	   *p;

	if (!json_is_object(v))
		config_type_error(spec, "filter", "an object of field -> pattern", v);
	cfg->filters = palloc0(sizeof(DpFilterRule) * Max(json_object_size(v), 1));
	json_object_foreach(v, key, p)
	{
		DpFilterRule *r = &cfg->filters[cfg->nfilters++];

		r->field = config_field(spec, "filter", key);
		if (!json_is_string(p))
			config_type_error(spec, psprintf("filter.%s", key), "a pattern", p);
		r->pattern = pstrdup(json_string_value(p));
		r->re = config_pattern(spec, "filter", r->pattern, false, true);
	}
}

static void
parse_concat(DpConfig *cfg, const DpSpec *spec, json_t *v)
{
	static const char *const keys[] = {"fields", "separator", "prepend", "append"};
	const char *key;
	json_t	   *rule;

	if (!json_is_object(v))
		config_type_error(spec, "concat", "an object of field -> {\"fields\": [...], ...}", v);
	cfg->concats = palloc0(sizeof(DpConcatRule) * Max(json_object_size(v), 1));
	json_object_foreach(v, key, rule)
	{
		DpConcatRule *r = &cfg->concats[cfg->nconcats++];
		json_t	   *sources;
		size_t		i;
		json_t	   *src;

		r->field = config_field(spec, "concat", key);
		if (!json_is_object(rule))
			config_type_error(spec, psprintf("concat.%s", key), "an object", rule);
		check_members(spec, "concat", rule, keys, lengthof(keys), "fields, separator, prepend, append");
		sources = json_object_get(rule, "fields");
		if (sources == NULL || !json_is_array(sources) || json_array_size(sources) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"concat\" rule for field \"%s\" of dataset \"%s\" needs a non-empty \"fields\" array",
							key, spec->dataset)));
		r->nsources = json_array_size(sources);
		r->sources = palloc(sizeof(char *) * r->nsources);
		json_array_foreach(sources, i, src)
		{
			if (!json_is_string(src))
				config_type_error(spec, psprintf("concat.%s.fields", key), "column names", src);
			r->sources[i] = pstrdup(json_string_value(src));
		}
		r->separator = string_member(spec, "concat", rule, "separator", false);
		r->prepend = string_member(spec, "concat", rule, "prepend", false);
		r->append = string_member(spec, "concat", rule, "append", false);
		if (!r->separator)
			r->separator = "";
		if (!r->prepend)
			r->prepend = "";
		if (!r->append)
			r->append = "";
	}
}

static void
parse_patch(DpConfig *cfg, const DpSpec *spec, json_t *v)
{
	static const char *const keys[] = {"field", "pattern", "replacement"};
	size_t		i;
	json_t	   *rule;
	int			pass;

	if (!json_is_array(v))
		config_type_error(spec, "patch", "an array of {\"field\", \"pattern\", \"replacement\"}", v);
	cfg->patches = palloc0(sizeof(DpPatchRule) * Max(json_array_size(v), 1));
	/* field-specific rules first, then rules for any field, each in order */
	for (pass = 0; pass < 2; pass++)
	{
		json_array_foreach(v, i, rule)
		{
			DpPatchRule *r;
			char	   *field;

			if (!json_is_object(rule))
				config_type_error(spec, "patch", "an array of objects", rule);
			field = string_member(spec, "patch", rule, "field", false);
			if ((pass == 0) != (field != NULL))
				continue;
			check_members(spec, "patch", rule, keys, lengthof(keys), "field, pattern, replacement");
			r = &cfg->patches[cfg->npatches++];
			r->field = field ? config_field(spec, "patch", field) : -1;
			r->pattern = string_member(spec, "patch", rule, "pattern", true);
			r->replacement = string_member(spec, "patch", rule, "replacement", true);
			r->re = config_pattern(spec, "patch", r->pattern, true, true);
		}
	}
}

static void
parse_lookup(DpConfig *cfg, const DpSpec *spec, json_t *v)
{
	const char *key;
	json_t	   *map;
	size_t		n = 0;

	if (!json_is_object(v))
		config_type_error(spec, "lookup", "an object of field -> {value: canonical value}", v);
	json_object_foreach(v, key, map)
	{
		if (!json_is_object(map))
			config_type_error(spec, psprintf("lookup.%s", key), "an object of value -> canonical value", map);
		n += json_object_size(map);
	}
	cfg->lookups = palloc0(sizeof(DpLookupRule) * Max(n, 1));
	json_object_foreach(v, key, map)
	{
		int			field = config_field(spec, "lookup", key);
		const char *from;
		json_t	   *to;

		json_object_foreach(map, from, to)
		{
			DpLookupRule *r = &cfg->lookups[cfg->nlookups++];

			if (!json_is_string(to))
				config_type_error(spec, psprintf("lookup.%s.%s", key, from), "a string", to);
			r->field = field;
			r->from = pstrdup(from);
			r->to = pstrdup(json_string_value(to));
		}
	}
}

static void
parse_default(DpConfig *cfg, const DpSpec *spec, json_t *v)
{
	static const char *const keys[] = {"value", "field"};
	const char *key;
	json_t	   *rule;

	if (!json_is_object(v))
		config_type_error(spec, "default", "an object of field -> {\"value\": ...} or {\"field\": ...}", v);
	cfg->defaults = palloc0(sizeof(DpDefaultRule) * Max(json_object_size(v), 1));
	json_object_foreach(v, key, rule)
	{
		DpDefaultRule *r = &cfg->defaults[cfg->ndefaults++];
		char	   *value;
		char	   *from;

		r->field = config_field(spec, "default", key);
		r->from_field = -1;
		if (!json_is_object(rule))
			config_type_error(spec, psprintf("default.%s", key), "{\"value\": ...} or {\"field\": ...}", rule);
		check_members(spec, "default", rule, keys, lengthof(keys), "value, field");
		value = string_member(spec, "default", rule, "value", false);
		from = string_member(spec, "default", rule, "field", false);
		if ((value == NULL) == (from == NULL))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"default\" rule for field \"%s\" of dataset \"%s\" needs exactly one of \"value\" and \"field\"",
							key, spec->dataset)));
		if (from)
			r->from_field = config_field(spec, "default", from);
		else
		{
			/* a constant must itself be a good value of the field */
			const DpField *f = &spec->fields[r->field];
			char	   *buf = NULL;
			size_t		bufsize = 0;
			DpIssue		issue;

			issue = dp_harmonise_value(f->datatype, value, strlen(value), NULL, &buf, &bufsize,
									   CurrentMemoryContext);
			if (issue != DP_ISSUE_NONE)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("default value \"%s\" for field \"%s\" of dataset \"%s\" is not a valid %s",
								value, f->name, spec->dataset, dp_datatype_name(f->datatype)),
						 errdetail("It gives the issue \"%s\".", dp_issue_name(issue))));
			r->value = buf;
		}
	}
}

static void
set_path(DpPath *p, const DpSpec *spec, const char *text)
{
	char	   *copy = pstrdup(text);
	char	   *part;
	char	   *save;

	p->text = pstrdup(text);
	p->n = 0;
	p->parts = palloc(sizeof(char *) * (strlen(text) / 2 + 2));
	for (part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save))
		p->parts[p->n++] = part;
	if (p->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("empty event path \"%s\" in the configuration of dataset \"%s\"",
						text, spec->dataset),
				 errhint("Paths are member names joined by dots, e.g. \"eventData.newData\".")));
}

static void
set_type_list(const DpSpec *spec, const char *rule, json_t *v, int *n, char ***list)
{
	size_t		i;
	json_t	   *t;

	if (!json_is_array(v))
		config_type_error(spec, rule, "an array of event type names", v);
	*n = json_array_size(v);
	*list = palloc(sizeof(char *) * Max(*n, 1));
	json_array_foreach(v, i, t)
	{
		if (!json_is_string(t))
			config_type_error(spec, rule, "an array of event type names", t);
		(*list)[i] = pstrdup(json_string_value(t));
	}
}

static void
parse_events(DpConfig *cfg, const DpSpec *spec, json_t *v)
{
	static const char *const keys[] = {
		"id", "entity", "time", "type", "new", "old", "sequence", "create", "delete",
		"update", "upsert"
	};
	DpEventsConfig *e = &cfg->events;
	const char *key;
	json_t	   *val;

	if (!json_is_object(v))
		config_type_error(spec, "events", "an object", v);
	check_members(spec, "events", v, keys, lengthof(keys),
				  "id, entity, time, type, new, old, sequence, create, delete, update, upsert");
	json_object_foreach(v, key, val)
	{
		DpPath	   *path = NULL;

		if (strcmp(key, "id") == 0)
			path = &e->id;
		else if (strcmp(key, "entity") == 0)
			path = &e->entity;
		else if (strcmp(key, "time") == 0)
			path = &e->time;
		else if (strcmp(key, "type") == 0)
			path = &e->type;
		else if (strcmp(key, "new") == 0)
			path = &e->new_data;
		else if (strcmp(key, "old") == 0)
			path = &e->old_data;
		else if (strcmp(key, "sequence") == 0)
			path = &e->sequence;
		if (path)
		{
			if (json_is_null(val) && path == &e->sequence)
				continue;
			if (!json_is_string(val))
				config_type_error(spec, psprintf("events.%s", key), "a path such as \"eventData.newData\"", val);
			set_path(path, spec, json_string_value(val));
		}
		else if (strcmp(key, "create") == 0)
			set_type_list(spec, "events.create", val, &e->ncreate, &e->create);
		else if (strcmp(key, "delete") == 0)
			set_type_list(spec, "events.delete", val, &e->ndelete, &e->delete);
		else if (strcmp(key, "update") == 0)
			set_type_list(spec, "events.update", val, &e->nupdate, &e->update);
		else if (strcmp(key, "upsert") == 0)
		{
			if (!json_is_boolean(val))
				config_type_error(spec, "events.upsert", "true or false", val);
			e->upsert = json_is_true(val);
		}
	}
}

static void
events_defaults(DpConfig *cfg, const DpSpec *spec)
{
	DpEventsConfig *e = &cfg->events;

	set_path(&e->id, spec, "id");
	set_path(&e->entity, spec, "entityId");
	set_path(&e->time, spec, "dateTime");
	set_path(&e->type, spec, "eventType");
	set_path(&e->new_data, spec, "eventData.newData");
	set_path(&e->old_data, spec, "eventData.oldData");
}

DpConfig *
dp_config_parse(const DpSpec *spec, Jsonb *config)
{
	DpConfig   *cfg = palloc0(sizeof(DpConfig));
	json_t	   *root;
	const char *key;
	json_t	   *v;

	events_defaults(cfg, spec);
	if (config == NULL)
		return cfg;
	root = dp_json_from_jsonb(config, "the configuration");
	if (!json_is_object(root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration of dataset \"%s\" must be a JSON object", spec->dataset),
				 errdetail("Got %s.", dp_json_type_name(root))));
	check_members(spec, NULL, root, config_keys, lengthof(config_keys), CONFIG_KEYS_TEXT);
	json_object_foreach(root, key, v)
	{
		if (json_is_null(v))
			continue;
		if (strcmp(key, "column") == 0)
			parse_column(cfg, spec, v);
		else if (strcmp(key, "skip") == 0)
			parse_skip(cfg, spec, v);
		else if (strcmp(key, "filter") == 0)
			parse_filter(cfg, spec, v);
		else if (strcmp(key, "concat") == 0)
			parse_concat(cfg, spec, v);
		else if (strcmp(key, "patch") == 0)
			parse_patch(cfg, spec, v);
		else if (strcmp(key, "lookup") == 0)
			parse_lookup(cfg, spec, v);
		else if (strcmp(key, "default") == 0)
			parse_default(cfg, spec, v);
		else if (strcmp(key, "strict") == 0)
		{
			if (!json_is_boolean(v))
				config_type_error(spec, "strict", "true or false", v);
			cfg->strict = json_is_true(v);
		}
		else if (strcmp(key, "events") == 0)
			parse_events(cfg, spec, v);
		else if (strcmp(key, "boundary") == 0)
			parse_boundary(cfg, spec, v);
		else if (strcmp(key, "point") == 0)
			parse_point(cfg, spec, v);
		else if (strcmp(key, "processing") == 0)
		{
			if (!json_is_string(v) ||
				(strcmp(json_string_value(v), "sync") != 0 && strcmp(json_string_value(v), "async") != 0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid \"processing\" in the configuration of dataset \"%s\"",
								spec->dataset),
						 errhint("Use \"sync\" (pushes are transformed at once) or \"async\" (pushes land raw and the background worker transforms them).")));
			cfg->async = strcmp(json_string_value(v), "async") == 0;
		}
	}
	json_decref(root);
	return cfg;
}

/*
 * configure(dataset text, config jsonb) RETURNS integer
 *		Validate and store a dataset's configuration; returns its version.
 */
Datum
dp_configure(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	Jsonb	   *config;
	const char *args[4];
	DpSpec	   *spec;
	int			version = 1;
	bool		isnull;
	Datum		d;

	dp_require_admin("configure a dataset");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("configuration must not be null"),
				 errhint("Pass '{}' for no configuration.")));
	config = PG_GETARG_JSONB_P(1);

	SPI_connect();
	dp_spi_exec("LOCK TABLE dataplatform.datasets IN SHARE ROW EXCLUSIVE MODE", 0, NULL, NULL, NULL);
	args[0] = dataset;
	if (dp_spi_exec_text("SELECT spec, config, config_version FROM dataplatform.datasets WHERE name = $1",
						 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", dataset),
				 errhint("Define it with dataplatform.define_dataset first.")));
	spec = dp_spec_parse(DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (!isnull)
	{
		Jsonb	   *current = DatumGetJsonbP(d);

		version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
		if (compareJsonbContainers(&current->root, &config->root) == 0)
		{
			SPI_finish();
			PG_RETURN_INT32(version);
		}
		version++;
	}
	{
		DpConfig   *cfg = dp_config_parse(spec, config);
		const char *jargs[2];

		/* asynchronous processing: a job of the background worker per dataset */
		jargs[0] = psprintf("dataplatform: process %s", dataset);
		jargs[1] = psprintf("SELECT dataplatform.process_queued(%s)", quote_literal_cstr(dataset));
		if (cfg->async &&
			dp_spi_exec_text("SELECT 1 FROM dataplatform.job WHERE name = $1", 1, jargs) == 0)
			dp_spi_exec_text("SELECT dataplatform.schedule($1, 'every 1 second', $2)", 2, jargs);
		else if (!cfg->async &&
				 dp_spi_exec_text("SELECT 1 FROM dataplatform.job WHERE name = $1", 1, jargs) > 0)
			dp_spi_exec_text("SELECT dataplatform.unschedule($1)", 1, jargs);
	}

	args[1] = JsonbToCString(NULL, &config->root, VARSIZE(config));
	args[2] = psprintf("%d", version);
	args[3] = GetUserNameFromId(dp_caller_id(), false);
	dp_spi_exec_text("UPDATE dataplatform.datasets SET config = $2::jsonb, config_version = $3::integer, "
					 "updated_at = pg_catalog.now() WHERE name = $1", 3, args);
	dp_spi_exec_text("INSERT INTO dataplatform.config_version (dataset, version, config, defined_by) "
					 "VALUES ($1, $3::integer, $2::jsonb, $4::name)", 4, args);
	dp_audit("configure", dataset, psprintf("{\"version\": %d}", version));
	/* back to synchronous: what was queued is processed now, in order */
	if (dp_spi_exec_text("SELECT 1 FROM dataplatform.datasets d WHERE d.name = $1 "
						 "AND COALESCE(d.config ->> 'processing', 'sync') = 'sync' "
						 "AND EXISTS (SELECT 1 FROM dataplatform.batch b WHERE b.dataset = d.name "
						 "  AND b.status = 'queued')", 1, args) > 0)
		dp_spi_exec_text("SELECT dataplatform.process_queued($1, 2147483647)", 1, args);
	SPI_finish();
	PG_RETURN_INT32(version);
}
