/*
 * spec.c
 *		Specifications: parsing and validation (jansson), the change
 *		classification that decides the next version, and the SQL functions
 *		define_dataset and describe.
 *
 * Concurrency: define_dataset takes SHARE ROW EXCLUSIVE on
 * dataplatform.datasets before reading the current version, so concurrent
 * definitions of any dataset run one after another and the version history
 * of each dataset is a single line.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "access.h"
#include "clean_table.h"
#include "harmonise.h"
#include "spec.h"
#include "spec_internal.h"
#include "util.h"
#include "spatial.h"

PG_FUNCTION_INFO_V1(dp_define_dataset);
PG_FUNCTION_INFO_V1(dp_describe);

static const char *const spec_keys[] = {
	"dataset", "product", "description", "key", "fields", "title",
	"classification", "fresh_within"
};
static const char *const field_keys[] = {
	"name", "datatype", "required", "codelist", "pattern", "minimum",
	"maximum", "pii", "description", "unique", "references", "min_length",
	"max_length", "examples", "deprecated", "replaced_by", "classification"
};

#define SPEC_KEYS_TEXT "dataset, product, title, description, key, fields, classification, fresh_within"
#define FIELD_KEYS_TEXT "name, datatype, required, codelist, pattern, minimum, maximum, pii, description, unique, references, min_length, max_length, examples, deprecated, replaced_by, classification"

static bool
key_known(const char *key, const char *const *keys, int nkeys)
{
	int			i;

	for (i = 0; i < nkeys; i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

/* ERROR: member of the wrong JSON type. */
void
dp_spec_type_error(const char *dataset, const char *field, const char *member,
				   const char *expected, const json_t *got)
{
	if (field)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("invalid \"%s\" for field \"%s\" of dataset \"%s\"",
						member, field, dataset),
				 errdetail("Expected %s, got %s.", expected, dp_json_type_name(got))));
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("invalid \"%s\" in specification of dataset \"%s\"",
					member, dataset),
			 errdetail("Expected %s, got %s.", expected, dp_json_type_name(got))));
}

static const char *
get_string(json_t *obj, const char *member, const char *dataset, const char *field)
{
	json_t	   *v = json_object_get(obj, member);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		dp_spec_type_error(dataset, field, member, "a string", v);
	return json_string_value(v);
}

static bool
get_bool(json_t *obj, const char *member, const char *dataset, const char *field)
{
	json_t	   *v = json_object_get(obj, member);

	if (v == NULL || json_is_null(v))
		return false;
	if (!json_is_boolean(v))
		dp_spec_type_error(dataset, field, member, "true or false", v);
	return json_is_true(v);
}

static char *
get_number(json_t *obj, const char *member, const char *dataset, const char *field)
{
	json_t	   *v = json_object_get(obj, member);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_number(v))
		return psprintf("%.15g", json_number_value(v));
	dp_spec_type_error(dataset, field, member, "a number", v);
	return NULL;				/* keep compiler quiet */
}

/* An unknown member: an ERROR, or a note the spec keeps (allow_unknown). */
void
dp_spec_unknown_member(DpSpec *spec, bool allow_unknown, const char *field,
					   const char *member, const char *known)
{
	if (!allow_unknown)
	{
		if (field)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" for field \"%s\" of dataset \"%s\"",
							member, field, spec->dataset),
					 errhint("Field options are: %s. define_dataset(spec, allow_unknown => true) keeps unknown members as notes.", known)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown member \"%s\" in specification of dataset \"%s\"",
						member, spec->dataset),
				 errhint("Specification members are: %s. define_dataset(spec, allow_unknown => true) keeps unknown members as notes.", known)));
	}
	spec->notes = spec->nnotes ? repalloc(spec->notes, sizeof(char *) * (spec->nnotes + 1)) :
		palloc(sizeof(char *));
	spec->notes[spec->nnotes++] = field ?
		psprintf("unknown option \"%s\" of field \"%s\" kept and ignored", member, field) :
		psprintf("unknown member \"%s\" kept and ignored", member);
}

static void
parse_field(DpSpec *spec, DpField *f, json_t *obj, int ordinal, bool allow_unknown)
{
	const char *ds = spec->dataset;
	const char *key;
	json_t	   *v;
	const char *s;
	DpNameStatus ns;

	if (!json_is_object(obj))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("field %d of dataset \"%s\" is not a JSON object", ordinal, ds),
				 errdetail("Got %s.", dp_json_type_name(obj))));

	s = get_string(obj, "name", ds, NULL);
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("field %d of dataset \"%s\" has no \"name\"", ordinal, ds)));
	f->name = pstrdup(s);

	json_object_foreach(obj, key, v)
	{
		if (!key_known(key, field_keys, lengthof(field_keys)))
			dp_spec_unknown_member(spec, allow_unknown, f->name, key, FIELD_KEYS_TEXT);
	}

	ns = dp_snake_case(f->name, f->column);
	if (ns != DP_NAME_OK)
		ereport(ERROR,
				(errcode(ns == DP_NAME_TOO_LONG ? ERRCODE_NAME_TOO_LONG : ERRCODE_INVALID_NAME),
				 errmsg("field name \"%s\" of dataset \"%s\" cannot become a column name",
						f->name, ds),
				 errdetail("A field name %s.", dp_name_status_message(ns))));

	s = get_string(obj, "datatype", ds, f->name);
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("field \"%s\" of dataset \"%s\" has no \"datatype\"", f->name, ds),
				 errhint("Datatypes are: %s.", dp_datatype_list())));
	if (!dp_datatype_lookup(s, &f->datatype))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown datatype \"%s\" for field \"%s\" of dataset \"%s\"",
						s, f->name, ds),
				 errhint("Datatypes are: %s.", dp_datatype_list())));

	f->required = get_bool(obj, "required", ds, f->name);
	f->pii = get_bool(obj, "pii", ds, f->name);
	if (dp_datatype_is_spatial(f->datatype))
	{
		dp_spatial_require(ds, f->name);
		if (f->pii)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"pii\" does not apply to %s field \"%s\" of dataset \"%s\"",
							dp_datatype_name(f->datatype), f->name, ds),
					 errhint("A geometry cannot be obfuscated and stay a geometry; leave it out of the dataset, or keep a coarser one.")));
	}
	s = get_string(obj, "description", ds, f->name);
	f->description = s ? pstrdup(s) : NULL;

	s = get_string(obj, "pattern", ds, f->name);
	if (s != NULL)
	{
		DpPattern  *re = palloc(dp_pattern_size());
		char		msg[256];

		if (f->datatype == DP_DT_JSON || f->datatype == DP_DT_FLAG ||
			dp_datatype_is_spatial(f->datatype))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"pattern\" does not apply to %s field \"%s\" of dataset \"%s\"",
							dp_datatype_name(f->datatype), f->name, ds)));
		if (!dp_pattern_compile(re, s, msg, sizeof(msg)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
					 errmsg("invalid pattern for field \"%s\" of dataset \"%s\": %s",
							f->name, ds, msg),
					 errdetail("Pattern: %s", s),
					 errhint("Patterns are POSIX extended regular expressions.")));
		dp_pattern_free(re);
		pfree(re);
		f->pattern = pstrdup(s);
	}

	v = json_object_get(obj, "codelist");
	if (v != NULL && !json_is_null(v))
		dp_spec_contract_codelist(spec, f, v);

	f->minimum = get_number(obj, "minimum", ds, f->name);
	f->maximum = get_number(obj, "maximum", ds, f->name);
	if ((f->minimum || f->maximum) && !dp_datatype_is_numeric(f->datatype))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"minimum\" and \"maximum\" do not apply to %s field \"%s\" of dataset \"%s\"",
						dp_datatype_name(f->datatype), f->name, ds),
				 errhint("They apply to integer and decimal fields.")));
	if (f->minimum && f->maximum &&
		DatumGetBool(DirectFunctionCall2(numeric_gt,
										 DirectFunctionCall3(numeric_in, CStringGetDatum(f->minimum), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)),
										 DirectFunctionCall3(numeric_in, CStringGetDatum(f->maximum), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("minimum %s is greater than maximum %s for field \"%s\" of dataset \"%s\"",
						f->minimum, f->maximum, f->name, ds)));
	dp_spec_contract_field(spec, f, obj);
}

DpSpec *
dp_spec_parse(Jsonb *jb)
{
	return dp_spec_parse_new(jb, true);
}

/*
 * Stored specifications parsed before in this backend, found by their
 * bytes (so a new version, or a dataset dropped and defined again, is
 * simply another entry): a 1-row push spent about 4% of its time
 * parsing the same specification again.  Each entry's memory is its own
 * context under CacheMemoryContext; when the cache is full the oldest
 * entry goes, its memory freed at the end of the transaction (a load of
 * this transaction may still read it; none outlives it).
 */
#define SPEC_CACHE_SIZE 16

typedef struct SpecCacheEntry
{
	MemoryContext cxt;			/* holds jb and spec; NULL: empty */
	Jsonb	   *jb;
	DpSpec	   *spec;
} SpecCacheEntry;

static SpecCacheEntry spec_cache[SPEC_CACHE_SIZE];
static int	spec_cache_next;

const DpSpec *
dp_spec_parse_cached(Jsonb *jb)
{
	Size		size = VARSIZE(jb);
	SpecCacheEntry *e;
	MemoryContext cxt,
				old;
	Jsonb	   *copy;
	DpSpec	   *spec;
	int			i;

	for (i = 0; i < SPEC_CACHE_SIZE; i++)
	{
		e = &spec_cache[i];
		if (e->cxt && VARSIZE(e->jb) == size && memcmp(e->jb, jb, size) == 0)
			return e->spec;
	}

	/*
	 * Parsed in a context under the caller's, moved under CacheMemoryContext
	 * once the parse succeeded: an ERROR leaves nothing behind.
	 */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform parsed specification",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	copy = palloc(size);
	memcpy(copy, jb, size);
	spec = dp_spec_parse(copy);
	MemoryContextSwitchTo(old);

	e = &spec_cache[spec_cache_next];
	if (e->cxt)
		MemoryContextSetParent(e->cxt, TopTransactionContext);
	MemoryContextSetParent(cxt, CacheMemoryContext);
	e->cxt = cxt;
	e->jb = copy;
	e->spec = spec;
	spec_cache_next = (spec_cache_next + 1) % SPEC_CACHE_SIZE;
	return spec;
}

DpSpec *
dp_spec_parse_new(Jsonb *jb, bool allow_unknown)
{
	json_t	   *root = dp_json_from_jsonb(jb, "the specification");
	DpSpec	   *spec = palloc0(sizeof(DpSpec));
	json_t	   *v;
	const char *key;
	const char *s;
	DpNameStatus ns;
	size_t		i;
	json_t	   *item;

	if (!json_is_object(root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("specification must be a JSON object"),
				 errdetail("Got %s.", dp_json_type_name(root)),
				 errhint("A specification looks like {\"dataset\": \"tenure\", \"product\": \"housing\", \"key\": [\"id\"], \"fields\": [...]}.")));

	v = json_object_get(root, "dataset");
	if (v == NULL || json_is_null(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("specification has no \"dataset\""),
				 errhint("Name the dataset: {\"dataset\": \"tenure\", ...}.")));
	if (!json_is_string(v))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("invalid \"dataset\" in specification"),
				 errdetail("Expected a string, got %s.", dp_json_type_name(v))));
	spec->dataset = pstrdup(json_string_value(v));
	ns = dp_snake_case(spec->dataset, spec->table);
	if (ns == DP_NAME_OK && strlen(spec->table) > DP_TABLE_NAME_MAX)
		ns = DP_NAME_TOO_LONG;
	if (ns != DP_NAME_OK)
		ereport(ERROR,
				(errcode(ns == DP_NAME_TOO_LONG ? ERRCODE_NAME_TOO_LONG : ERRCODE_INVALID_NAME),
				 errmsg("dataset name \"%s\" cannot become a table name", spec->dataset),
				 ns == DP_NAME_TOO_LONG ?
				 errdetail("A dataset name is at most %d bytes once converted to snake_case.", DP_TABLE_NAME_MAX) :
				 errdetail("A dataset name %s.", dp_name_status_message(ns))));

	json_object_foreach(root, key, v)
	{
		if (!key_known(key, spec_keys, lengthof(spec_keys)))
			dp_spec_unknown_member(spec, allow_unknown, NULL, key, SPEC_KEYS_TEXT);
	}

	s = get_string(root, "product", spec->dataset, NULL);
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("specification of dataset \"%s\" has no \"product\"", spec->dataset),
				 errhint("Name the data product the dataset belongs to.")));
	spec->product = pstrdup(s);
	s = get_string(root, "description", spec->dataset, NULL);
	spec->description = s ? pstrdup(s) : NULL;
	(void) get_string(root, "title", spec->dataset, NULL);

	/* fields */
	v = json_object_get(root, "fields");
	if (v == NULL || json_is_null(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("specification of dataset \"%s\" has no \"fields\"", spec->dataset),
				 errhint("List the fields: \"fields\": [{\"name\": \"id\", \"datatype\": \"uuid\"}, ...].")));
	if (!json_is_array(v))
		dp_spec_type_error(spec->dataset, NULL, "fields", "an array of objects", v);
	if (json_array_size(v) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("specification of dataset \"%s\" has no fields", spec->dataset)));
	if (json_array_size(v) > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_COLUMNS),
				 errmsg("specification of dataset \"%s\" has %zu fields", spec->dataset,
						json_array_size(v)),
				 errdetail("A dataset has at most 1000 fields.")));
	spec->nfields = json_array_size(v);
	spec->fields = palloc0(sizeof(DpField) * spec->nfields);
	json_array_foreach(v, i, item)
	{
		int			j;
		DpField    *f = &spec->fields[i];

		parse_field(spec, f, item, (int) i + 1, allow_unknown);
		for (j = 0; j < (int) i; j++)
		{
			if (strcmp(spec->fields[j].name, f->name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("field \"%s\" of dataset \"%s\" is defined more than once",
								f->name, spec->dataset)));
			if (strcmp(spec->fields[j].column, f->column) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("fields \"%s\" and \"%s\" of dataset \"%s\" both become column \"%s\"",
								spec->fields[j].name, f->name, spec->dataset, f->column),
						 errhint("Rename one of them.")));
		}
	}

	/* key */
	v = json_object_get(root, "key");
	if (v == NULL || json_is_null(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("specification of dataset \"%s\" has no \"key\"", spec->dataset),
				 errhint("Name the fields that identify a record: \"key\": [\"id\"].")));
	if (json_is_string(v))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("invalid \"key\" in specification of dataset \"%s\"", spec->dataset),
				 errdetail("Expected an array of field names, got a string."),
				 errhint("Write \"key\": [\"%s\"].", json_string_value(v))));
	if (!json_is_array(v))
		dp_spec_type_error(spec->dataset, NULL, "key", "an array of field names", v);
	if (json_array_size(v) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("specification of dataset \"%s\" has an empty \"key\"", spec->dataset),
				 errhint("Name the fields that identify a record: \"key\": [\"id\"].")));
	if (json_array_size(v) > 32)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key of dataset \"%s\" has more than 32 fields", spec->dataset)));
	spec->nkey = json_array_size(v);
	spec->key = palloc(sizeof(int) * spec->nkey);
	json_array_foreach(v, i, item)
	{
		DpField    *f;
		int			j;

		if (!json_is_string(item))
			dp_spec_type_error(spec->dataset, NULL, "key", "an array of field names", item);
		f = dp_spec_field(spec, json_string_value(item));
		if (f == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("key field \"%s\" of dataset \"%s\" is not a field",
							json_string_value(item), spec->dataset),
					 errhint("Every key field must be listed in \"fields\".")));
		if (f->is_key)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("key of dataset \"%s\" names field \"%s\" more than once",
							spec->dataset, f->name)));
		if (json_is_false(json_object_get(json_array_get(json_object_get(root, "fields"), f - spec->fields), "required")))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key field \"%s\" of dataset \"%s\" cannot be optional",
							f->name, spec->dataset),
					 errhint("Key fields are always required; drop \"required\": false.")));
		if (dp_datatype_is_spatial(f->datatype))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key field \"%s\" of dataset \"%s\" cannot be a %s",
							f->name, spec->dataset, dp_datatype_name(f->datatype)),
					 errhint("Key a spatial dataset by its reference; the geometry is a value.")));
		f->is_key = true;
		f->required = true;
		j = f - spec->fields;
		spec->key[i] = j;
	}
	dp_spec_contract_spec(spec, root);

	json_decref(root);
	return spec;
}

DpField *
dp_spec_field(const DpSpec *spec, const char *name)
{
	int			i;

	for (i = 0; i < spec->nfields; i++)
		if (strcmp(spec->fields[i].name, name) == 0)
			return &spec->fields[i];
	return NULL;
}

DpField *
dp_spec_field_by_column(const DpSpec *spec, const char *column)
{
	int			i;

	for (i = 0; i < spec->nfields; i++)
		if (strcmp(spec->fields[i].column, column) == 0)
			return &spec->fields[i];
	return NULL;
}

char *
dp_spec_key_text(const DpSpec *spec)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	for (i = 0; i < spec->nkey; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", spec->fields[spec->key[i]].name);
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* ------------------------------------------------------------------------
 * Change classification
 * ------------------------------------------------------------------------
 */

void
dp_spec_add_change(DpSpecChanges *c, bool breaking, const char *fmt,...)
{
	StringInfoData text;

	initStringInfo(&text);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&text, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&text, needed);
	}
	appendStringInfoString(&c->json, c->count ? ", {\"change\": " : "{\"change\": ");
	escape_json(&c->json, text.data);
	appendStringInfo(&c->json, ", \"breaking\": %s}", breaking ? "true" : "false");
	c->count++;
	if (breaking)
	{
		if (c->nbreaking)
			appendStringInfoString(&c->breaking, "; ");
		appendStringInfoString(&c->breaking, text.data);
		c->nbreaking++;
	}
	pfree(text.data);
}

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
codelists_equal(const DpField *a, const DpField *b)
{
	int			i;

	if (a->ncodelist != b->ncodelist)
		return false;
	for (i = 0; i < a->ncodelist; i++)
		if (strcmp(a->codelist[i], b->codelist[i]) != 0)
			return false;
	return true;
}

/*
 * Compare the current and the proposed specification.  Fields are matched
 * by column, so a field renamed to a name with the same column keeps its
 * data.  Breaking: a field removed or renamed, a datatype changed, a field
 * made required (including a new required field), the key or the product
 * changed.  Everything else is a minor change.
 */
static void
classify_changes(const DpSpec *old, const DpSpec *new, DpSpecChanges *c)
{
	int			i;
	bool		same_key = old->nkey == new->nkey;
	bool		same_order = true;
	int			common = 0;

	initStringInfo(&c->json);
	initStringInfo(&c->breaking);
	c->count = c->nbreaking = 0;
	appendStringInfoChar(&c->json, '[');

	if (strcmp(old->product, new->product) != 0)
		dp_spec_add_change(c, true, "product changed from \"%s\" to \"%s\"",
				   old->product, new->product);
	for (i = 0; same_key && i < old->nkey; i++)
		same_key = strcmp(old->fields[old->key[i]].column,
						  new->fields[new->key[i]].column) == 0;
	if (!same_key)
		dp_spec_add_change(c, true, "key changed from %s to %s",
				   dp_spec_key_text(old), dp_spec_key_text(new));
	if (!str_eq(old->description, new->description))
		dp_spec_add_change(c, false, "description changed");

	for (i = 0; i < old->nfields; i++)
	{
		const DpField *o = &old->fields[i];
		const DpField *n = dp_spec_field_by_column(new, o->column);

		if (n == NULL)
		{
			dp_spec_add_change(c, true, "field \"%s\" removed", o->name);
			continue;
		}
		if ((n - new->fields) != common++)
			same_order = false;
		if (strcmp(o->name, n->name) != 0)
			dp_spec_add_change(c, true, "field \"%s\" renamed to \"%s\"", o->name, n->name);
		if (o->datatype != n->datatype)
			dp_spec_add_change(c, true, "field \"%s\": datatype changed from %s to %s",
					   n->name, dp_datatype_name(o->datatype),
					   dp_datatype_name(n->datatype));
		if (!o->required && n->required)
			dp_spec_add_change(c, true, "field \"%s\" is now required", n->name);
		if (o->required && !n->required)
			dp_spec_add_change(c, false, "field \"%s\" is now optional", n->name);
		if (o->pii != n->pii)
			dp_spec_add_change(c, false, "field \"%s\": pii changed to %s", n->name,
					   n->pii ? "true" : "false");
		if (!str_eq(o->description, n->description))
			dp_spec_add_change(c, false, "field \"%s\": description changed", n->name);
		if (!str_eq(o->pattern, n->pattern))
			dp_spec_add_change(c, false, "field \"%s\": pattern changed", n->name);
		if (!codelists_equal(o, n))
			dp_spec_add_change(c, false, "field \"%s\": codelist changed", n->name);
		if (!str_eq(o->minimum, n->minimum) || !str_eq(o->maximum, n->maximum))
			dp_spec_add_change(c, false, "field \"%s\": minimum or maximum changed", n->name);
		dp_spec_contract_field_changes(o, n, c);
	}
	for (i = 0; i < new->nfields; i++)
	{
		const DpField *n = &new->fields[i];

		if (dp_spec_field_by_column(old, n->column) != NULL)
			continue;
		if (n->required)
			dp_spec_add_change(c, true, "required field \"%s\" added", n->name);
		else
			dp_spec_add_change(c, false, "field \"%s\" added", n->name);
	}
	if (!same_order)
		dp_spec_add_change(c, false, "field order changed");
	dp_spec_contract_spec_changes(old, new, c);
	appendStringInfoChar(&c->json, ']');
}

/* ------------------------------------------------------------------------
 * Catalog writes
 * ------------------------------------------------------------------------
 */

static void
write_fields(const DpSpec *spec)
{
	int			i;
	const char *args[1];

	args[0] = spec->dataset;
	dp_spi_exec_text("DELETE FROM dataplatform.fields WHERE dataset = $1", 1, args);
	for (i = 0; i < spec->nfields; i++)
	{
		const DpField *f = &spec->fields[i];
		const char *fa[10];

		fa[0] = spec->dataset;
		fa[1] = psprintf("%d", i + 1);
		fa[2] = f->name;
		fa[3] = f->column;
		fa[4] = dp_datatype_name(f->datatype);
		fa[5] = f->is_key ? "true" : "false";
		fa[6] = f->required ? "true" : "false";
		fa[7] = f->pii ? "true" : "false";
		fa[8] = f->description;
		fa[9] = dp_spec_field_options_json(f);
		dp_spi_exec_text("INSERT INTO dataplatform.fields "
						 "(dataset, ordinal, name, column_name, datatype, is_key, "
						 " required, pii, description, options) "
						 "VALUES ($1, $2::integer, $3, $4::name, $5, $6::boolean, "
						 " $7::boolean, $8::boolean, $9, $10::jsonb)",
						 10, fa);
	}
}

/*
 * Refuse a dataset whose table would collide with another dataset's clean
 * or history table (or a partition of it) or removed keys, or with a
 * relation someone else put in dp_clean.
 */
static void
check_table_free(const DpSpec *spec)
{
	const char *args[2];

	args[0] = spec->dataset;
	args[1] = spec->table;
	/* its partitions (<t>_history_<n>, _min) and removed keys too */
	if (dp_spi_exec_text("SELECT name FROM dataplatform.datasets "
						 "WHERE name <> $1 AND (table_name = $2::name "
						 "   OR table_name || '_history' = $2 "
						 "   OR table_name = $2 || '_history' "
						 "   OR table_name || '_removed' = $2 "
						 "   OR table_name = $2 || '_removed' "
						 "   OR $2 ~ ('^' || table_name || '_history_(m?[0-9]+|min)$') "
						 "   OR table_name ~ ('^' || $2 || '_history_(m?[0-9]+|min)$'))",
						 2, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("dataset \"%s\" would use the same table as dataset \"%s\"",
						spec->dataset, dp_spi_getvalue(0, 1)),
				 errdetail("Both become dp_clean.%s or its history table.", spec->table),
				 errhint("Choose another dataset name.")));
	if (dp_spi_exec_text("SELECT 1 FROM pg_catalog.pg_class c "
						 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
						 "WHERE n.nspname = 'dp_clean' "
						 "AND c.relname IN ($2::name, ($2 || '_history')::name, ($2 || '_removed')::name) "
						 "AND NOT EXISTS (SELECT 1 FROM dataplatform.datasets d WHERE d.name = $1)",
						 2, args) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation dp_clean.%s already exists", spec->table),
				 errdetail("Dataset \"%s\" needs that name for its clean or history table.",
						   spec->dataset),
				 errhint("Drop or rename the existing relation, or choose another dataset name.")));
}

static void
check_product(const DpSpec *spec)
{
	const char *args[1];
	char	   *status;

	args[0] = spec->product;
	if (dp_spi_exec_text("SELECT status FROM dataplatform.products WHERE name = $1",
						 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("data product \"%s\" of dataset \"%s\" does not exist",
						spec->product, spec->dataset),
				 errhint("Call dataplatform.define_product('%s', ...) first.", spec->product)));
	status = dp_spi_getvalue(0, 1);
	if (strcmp(status, "retired") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product \"%s\" of dataset \"%s\" is retired",
						spec->product, spec->dataset),
				 errhint("Set the product's status to draft or published first.")));
}

Datum
dp_define_dataset(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb;
	bool		allow_breaking = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	bool		allow_unknown = PG_NARGS() > 2 && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	MemoryContext result_cxt = CurrentMemoryContext;
	DpSpec	   *spec;
	DpSpec	   *old = NULL;
	int			major = 1;
	int			minor = 0;
	const char *change = "initial";
	DpSpecChanges changes;
	char	   *version;
	const char *args[8];
	char	   *spec_text;

	dp_require_admin("define a dataset");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("specification must not be null")));
	jb = PG_GETARG_JSONB_P(0);
	spec = dp_spec_parse_new(jb, allow_unknown);
	for (int i = 0; i < spec->nnotes; i++)
		ereport(NOTICE,
				(errmsg("dataset \"%s\": %s", spec->dataset, spec->notes[i])));
	spec_text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

	SPI_connect();
	dp_spi_exec("LOCK TABLE dataplatform.datasets IN SHARE ROW EXCLUSIVE MODE",
				0, NULL, NULL, NULL);
	check_product(spec);
	check_table_free(spec);
	dp_spec_check_references(spec);

	args[0] = spec->dataset;
	if (dp_spi_exec_text("SELECT spec, major, minor FROM dataplatform.datasets WHERE name = $1",
						 1, args) > 0)
	{
		bool		isnull;
		Datum		old_spec = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		major = atoi(dp_spi_getvalue(0, 2));
		minor = atoi(dp_spi_getvalue(0, 3));
		old = dp_spec_parse(DatumGetJsonbP(old_spec));
		classify_changes(old, spec, &changes);
		if (changes.count == 0)
		{
			/* identical: nothing to do */
			version = MemoryContextStrdup(result_cxt, psprintf("%d.%d", major, minor));
			SPI_finish();
			PG_RETURN_TEXT_P(cstring_to_text(version));
		}
		if (changes.nbreaking > 0 && !allow_breaking)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("specification change for dataset \"%s\" is breaking", spec->dataset),
					 errdetail("Breaking changes: %s.", changes.breaking.data),
					 errhint("Call define_dataset(spec, allow_breaking => true) to apply it as version %d.0.",
							 major + 1)));
		if (changes.nbreaking > 0)
		{
			major++;
			minor = 0;
			change = "breaking";
		}
		else
		{
			minor++;
			change = "minor";
		}
	}
	else
	{
		initStringInfo(&changes.json);
		appendStringInfoString(&changes.json, "[]");
	}
	version = MemoryContextStrdup(result_cxt, psprintf("%d.%d", major, minor));

	args[0] = spec->dataset;
	args[1] = spec->product;
	args[2] = spec->table;
	args[3] = psprintf("%d", major);
	args[4] = psprintf("%d", minor);
	args[5] = spec_text;
	args[6] = change;
	args[7] = changes.json.data;
	if (old == NULL)
	{
		dp_clean_table_create(spec);
		dp_spi_exec_text("INSERT INTO dataplatform.datasets "
						 "(name, product, table_name, major, minor, spec) "
						 "VALUES ($1, $2, $3::name, $4::integer, $5::integer, $6::jsonb)",
						 6, args);
	}
	else
	{
		dp_clean_table_migrate(old, spec);
		dp_spi_exec_text("UPDATE dataplatform.datasets SET product = $2, "
						 "major = $4::integer, minor = $5::integer, spec = $6::jsonb, "
						 "updated_at = pg_catalog.now() WHERE name = $1 AND table_name = $3::name",
						 6, args);
	}
	args[2] = GetUserNameFromId(dp_caller_id(), false);
	dp_spi_exec_text("INSERT INTO dataplatform.spec_version "
					 "(dataset, defined_by, major, minor, spec, change, changes) "
					 "VALUES ($1, $3::name, $4::integer, $5::integer, $6::jsonb, $7, $8::jsonb)",
					 8, args);
	write_fields(spec);
	{
		StringInfoData detail;

		initStringInfo(&detail);
		appendStringInfo(&detail, "{\"version\": \"%s\", \"change\": \"%s\", \"changes\": %s",
						 version, change, changes.json.data);
		if (spec->nnotes > 0)
		{
			appendStringInfoString(&detail, ", \"notes\": [");
			for (int i = 0; i < spec->nnotes; i++)
			{
				if (i)
					appendStringInfoString(&detail, ", ");
				escape_json(&detail, spec->notes[i]);
			}
			appendStringInfoChar(&detail, ']');
		}
		appendStringInfoChar(&detail, '}');
		dp_audit("define_dataset", spec->dataset, detail.data);
	}
	SPI_finish();

	MemoryContextSwitchTo(result_cxt);
	PG_RETURN_TEXT_P(cstring_to_text(version));
}

Datum
dp_describe(PG_FUNCTION_ARGS)
{
	char	   *dataset = dp_arg_cstring(fcinfo, 0, "dataset");
	MemoryContext result_cxt = CurrentMemoryContext;
	const char *args[1];
	bool		isnull;
	Datum		d;
	Jsonb	   *result;

	SPI_connect();
	args[0] = dataset;
	if (dp_spi_exec_text("SELECT d.spec || pg_catalog.jsonb_build_object("
						 " 'version', d.major || '.' || d.minor,"
						 " 'clean_table', 'dp_clean.' || pg_catalog.quote_ident(d.table_name)), d.spec"
						 " FROM dataplatform.datasets d WHERE d.name = $1",
						 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", dataset),
				 errhint("dataplatform.dataset lists the defined datasets.")));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	{
		/* the unknown members kept (allow_unknown), as notes */
		DpSpec	   *spec = dp_spec_parse(DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0],
																		 SPI_tuptable->tupdesc, 2,
																		 &isnull)));

		if (spec->nnotes > 0)
		{
			StringInfoData notes;
			Datum		nd;

			initStringInfo(&notes);
			appendStringInfoString(&notes, "{\"notes\": [");
			for (int i = 0; i < spec->nnotes; i++)
			{
				if (i)
					appendStringInfoString(&notes, ", ");
				escape_json(&notes, spec->notes[i]);
			}
			appendStringInfoString(&notes, "]}");
			nd = DirectFunctionCall1(jsonb_in, CStringGetDatum(notes.data));
			d = DirectFunctionCall2(jsonb_concat, d, nd);
		}
	}
	MemoryContextSwitchTo(result_cxt);
	result = DatumGetJsonbPCopy(d);
	SPI_finish();
	PG_RETURN_JSONB_P(result);
}

DpSpec *
dp_spec_of(const char *dataset)
{
	const char *args[1] = {dataset};
	bool		isnull;

	if (dp_spi_exec_text("SELECT spec FROM dataplatform.datasets WHERE name = $1", 1, args) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", dataset),
				 errhint("dataplatform.dataset lists the defined datasets.")));
	return dp_spec_parse(DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1, &isnull)));
}
