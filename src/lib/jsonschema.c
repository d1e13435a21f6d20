/*
 * jsonschema.c
 *		JSON Schema validation on jansson values (keywords in jsonschema.h).
 *		Recursive over schema and instance, with a depth limit; the failure
 *		reported is the one deepest in the instance (the first among equals),
 *		which names the member at fault rather than "matches no branch".
 */
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonschema.h"

#define MAX_DEPTH 256

typedef struct Ctx
{
	const json_t *root;
	DpSchemaError *err;
	int			best;			/* depth of the recorded failure, -1: none */
	int			depth;
	bool		quiet;			/* inside "not": failures are expected */
} Ctx;

static json_t *
new_set(void)
{
	return json_pack("{}");		/* never json_object(): see contract_int.h */
}

static int
path_depth(const char *path)
{
	int			n = 0;

	for (; *path; path++)
		if (*path == '/')
			n++;
	return n;
}

static void report(Ctx *c, const char *path, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static void
report(Ctx *c, const char *path, const char *fmt,...)
{
	va_list		ap;
	int			d = path_depth(path);

	if (c->quiet || d <= c->best)
		return;
	c->best = d;
	snprintf(c->err->path, sizeof(c->err->path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
	va_end(ap);
}

/* equality with numbers compared by value (1 equals 1.0) */
static bool
jequal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_is_array(a) && json_is_array(b))
	{
		size_t		i;

		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!jequal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	if (json_is_object(a) && json_is_object(b))
	{
		const char *k;
		json_t	   *v;

		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *) a, k, v)
		{
			if (!jequal(v, json_object_get(b, k)))
				return false;
		}
		return true;
	}
	return json_equal(a, b);
}

static bool
is_type(const json_t *v, const char *t)
{
	if (strcmp(t, "object") == 0)
		return json_is_object(v);
	if (strcmp(t, "array") == 0)
		return json_is_array(v);
	if (strcmp(t, "string") == 0)
		return json_is_string(v);
	if (strcmp(t, "number") == 0)
		return json_is_number(v);
	if (strcmp(t, "integer") == 0)
		return json_is_integer(v) ||
			(json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
	if (strcmp(t, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(t, "null") == 0)
		return json_is_null(v);
	return false;
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			return "an object";
		case JSON_ARRAY:
			return "a list";
		case JSON_STRING:
			return "a string";
		case JSON_INTEGER:
		case JSON_REAL:
			return "a number";
		case JSON_TRUE:
		case JSON_FALSE:
			return "a boolean";
		default:
			return "null";
	}
}

/* "#/$defs/X" to its schema, or NULL */
static const json_t *
resolve(const json_t *root, const char *ref)
{
	const json_t *s = root;
	const char *p;

	if (ref[0] != '#')
		return NULL;
	p = ref + 1;
	while (*p == '/')
	{
		char		seg[256];
		size_t		n = 0;

		p++;
		while (*p && *p != '/' && n < sizeof(seg) - 1)
		{
			if (p[0] == '~' && p[1] == '1')
				seg[n++] = '/', p += 2;
			else if (p[0] == '~' && p[1] == '0')
				seg[n++] = '~', p += 2;
			else
				seg[n++] = *p++;
		}
		seg[n] = '\0';
		if (json_is_object(s))
			s = json_object_get(s, seg);
		else if (json_is_array(s))
			s = json_array_get(s, (size_t) atol(seg));
		else
			return NULL;
		if (s == NULL)
			return NULL;
	}
	return *p == '\0' ? s : NULL;
}

/* ECMA-262 pattern, read as POSIX extended; -1 when it does not compile */
static int
pattern_match(const char *pattern, const char *s)
{
	size_t		len = strlen(pattern);
	char	   *posix = malloc(len + 1);
	size_t		i,
				n = 0;
	regex_t		re;
	int			r;

	if (posix == NULL)
		return -1;
	for (i = 0; i < len; i++)
	{
		if (pattern[i] == '(' && pattern[i + 1] == '?' && pattern[i + 2] == ':')
		{
			posix[n++] = '(';
			i += 2;
		}
		else
			posix[n++] = pattern[i];
	}
	posix[n] = '\0';
	r = regcomp(&re, posix, REG_EXTENDED | REG_NOSUB);
	free(posix);
	if (r != 0)
		return -1;
	r = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return r;
}

static bool validate(Ctx *c, const json_t *s, const json_t *v, char *path, json_t *ev);

/* path + "/" + segment, restored by the caller */
static size_t
push_path(char *path, const char *seg)
{
	size_t		len = strlen(path);

	if (len + strlen(seg) + 2 < 256)
		snprintf(path + len, 256 - len, "/%s", seg);
	return len;
}

static void
merge(json_t *into, const json_t *from)
{
	const char *k;
	json_t	   *v;

	if (into == NULL || from == NULL)
		return;
	json_object_foreach((json_t *) from, k, v)
		json_object_set(into, k, json_true());
}

/* validate a subschema at the same instance; merge its annotations on success */
static bool
sub(Ctx *c, const json_t *s, const json_t *v, char *path, json_t *ev)
{
	json_t	   *child = json_is_object(v) ? new_set() : NULL;
	bool		ok = validate(c, s, v, path, child);

	if (ok)
		merge(ev, child);
	json_decref(child);
	return ok;
}

static bool
validate_object(Ctx *c, const json_t *s, const json_t *v, char *path, json_t *ev)
{
	bool		ok = true;
	const json_t *props = json_object_get(s, "properties");
	const json_t *pprops = json_object_get(s, "patternProperties");
	const json_t *addl = json_object_get(s, "additionalProperties");
	const json_t *req = json_object_get(s, "required");
	const json_t *dreq = json_object_get(s, "dependentRequired");
	const char *k;
	json_t	   *pv;
	size_t		i;
	json_t	   *r;

	json_array_foreach(req, i, r)
	{
		if (json_is_string(r) && !json_object_get(v, json_string_value(r)))
		{
			report(c, path, "\"%s\" is required", json_string_value(r));
			ok = false;
		}
	}
	json_object_foreach((json_t *) dreq, k, pv)
	{
		if (json_object_get(v, k))
			json_array_foreach(pv, i, r)
			{
				if (json_is_string(r) && !json_object_get(v, json_string_value(r)))
				{
					report(c, path, "\"%s\" is required with \"%s\"", json_string_value(r), k);
					ok = false;
				}
			}
	}
	if (json_is_integer(json_object_get(s, "minProperties")) &&
		json_object_size(v) < (size_t) json_integer_value(json_object_get(s, "minProperties")))
	{
		report(c, path, "fewer than %" JSON_INTEGER_FORMAT " members",
			   json_integer_value(json_object_get(s, "minProperties")));
		ok = false;
	}
	if (json_is_integer(json_object_get(s, "maxProperties")) &&
		json_object_size(v) > (size_t) json_integer_value(json_object_get(s, "maxProperties")))
	{
		report(c, path, "more than %" JSON_INTEGER_FORMAT " members",
			   json_integer_value(json_object_get(s, "maxProperties")));
		ok = false;
	}
	json_object_foreach((json_t *) v, k, pv)
	{
		bool		matched = false;
		size_t		saved = push_path(path, k);
		const json_t *ps = json_object_get(props, k);

		if (ps)
		{
			matched = true;
			if (!sub(c, ps, pv, path, NULL))
				ok = false;
		}
		if (json_is_object(pprops))
		{
			const char *pat;
			json_t	   *pschema;

			json_object_foreach((json_t *) pprops, pat, pschema)
			{
				if (pattern_match(pat, k) == 1)
				{
					matched = true;
					if (!sub(c, pschema, pv, path, NULL))
						ok = false;
				}
			}
		}
		if (!matched && addl)
		{
			matched = true;
			if (json_is_false(addl))
			{
				path[saved] = '\0';
				report(c, path, "\"%s\" is not allowed here", k);
				saved = push_path(path, k);
				ok = false;
			}
			else if (!sub(c, addl, pv, path, NULL))
				ok = false;
		}
		path[saved] = '\0';
		if (matched && ev)
			json_object_set(ev, k, json_true());
	}
	return ok;
}

static bool
validate_array(Ctx *c, const json_t *s, const json_t *v, char *path)
{
	bool		ok = true;
	const json_t *items = json_object_get(s, "items");
	const json_t *contains = json_object_get(s, "contains");
	size_t		n = json_array_size(v);
	size_t		i;
	json_t	   *item;
	char		seg[32];

	if (json_is_integer(json_object_get(s, "minItems")) &&
		n < (size_t) json_integer_value(json_object_get(s, "minItems")))
	{
		report(c, path, "fewer than %" JSON_INTEGER_FORMAT " items",
			   json_integer_value(json_object_get(s, "minItems")));
		ok = false;
	}
	if (json_is_integer(json_object_get(s, "maxItems")) &&
		n > (size_t) json_integer_value(json_object_get(s, "maxItems")))
	{
		report(c, path, "more than %" JSON_INTEGER_FORMAT " items",
			   json_integer_value(json_object_get(s, "maxItems")));
		ok = false;
	}
	if (json_is_true(json_object_get(s, "uniqueItems")))
	{
		size_t		j;

		for (i = 0; i < n && ok; i++)
			for (j = i + 1; j < n; j++)
				if (jequal(json_array_get(v, i), json_array_get(v, j)))
				{
					report(c, path, "items %zu and %zu are equal", i, j);
					ok = false;
					break;
				}
	}
	json_array_foreach(v, i, item)
	{
		const json_t *is = NULL;
		size_t		saved;

		if (json_is_array(items))
			is = i < json_array_size(items) ? json_array_get(items, i)
				: json_object_get(s, "additionalItems");
		else
			is = items;
		if (is == NULL)
			continue;
		snprintf(seg, sizeof(seg), "%zu", i);
		saved = push_path(path, seg);
		if (!sub(c, is, item, path, NULL))
			ok = false;
		path[saved] = '\0';
	}
	if (contains)
	{
		bool		any = false;
		bool		quiet = c->quiet;

		c->quiet = true;
		json_array_foreach(v, i, item)
		{
			if (sub(c, contains, item, path, NULL))
			{
				any = true;
				break;
			}
		}
		c->quiet = quiet;
		if (!any)
		{
			report(c, path, "no item is of the required form");
			ok = false;
		}
	}
	return ok;
}

static bool
validate_scalar(Ctx *c, const json_t *s, const json_t *v, char *path)
{
	bool		ok = true;

	if (json_is_number(v))
	{
		double		x = json_number_value(v);
		const json_t *t;

		if ((t = json_object_get(s, "minimum")) && json_is_number(t) && x < json_number_value(t))
			report(c, path, "%g is less than %g", x, json_number_value(t)), ok = false;
		if ((t = json_object_get(s, "maximum")) && json_is_number(t) && x > json_number_value(t))
			report(c, path, "%g is more than %g", x, json_number_value(t)), ok = false;
		if ((t = json_object_get(s, "exclusiveMinimum")) && json_is_number(t) && x <= json_number_value(t))
			report(c, path, "%g is not more than %g", x, json_number_value(t)), ok = false;
		if ((t = json_object_get(s, "exclusiveMaximum")) && json_is_number(t) && x >= json_number_value(t))
			report(c, path, "%g is not less than %g", x, json_number_value(t)), ok = false;
		if ((t = json_object_get(s, "multipleOf")) && json_is_number(t) && json_number_value(t) > 0 &&
			fmod(x, json_number_value(t)) != 0)
			report(c, path, "%g is not a multiple of %g", x, json_number_value(t)), ok = false;
	}
	if (json_is_string(v))
	{
		const char *str = json_string_value(v);
		size_t		chars = 0;
		const char *p;
		const json_t *t;

		for (p = str; *p; p++)
			if (((unsigned char) *p & 0xC0) != 0x80)
				chars++;
		if ((t = json_object_get(s, "minLength")) && json_is_integer(t) &&
			chars < (size_t) json_integer_value(t))
			report(c, path, "shorter than %" JSON_INTEGER_FORMAT " characters",
				   json_integer_value(t)), ok = false;
		if ((t = json_object_get(s, "maxLength")) && json_is_integer(t) &&
			chars > (size_t) json_integer_value(t))
			report(c, path, "longer than %" JSON_INTEGER_FORMAT " characters",
				   json_integer_value(t)), ok = false;
		if ((t = json_object_get(s, "pattern")) && json_is_string(t) &&
			pattern_match(json_string_value(t), str) == 0)
			report(c, path, "\"%.80s\" does not match %.100s", str, json_string_value(t)), ok = false;
	}
	return ok;
}

static bool
validate(Ctx *c, const json_t *s, const json_t *v, char *path, json_t *ev)
{
	bool		ok = true;
	const json_t *t;
	size_t		i;
	json_t	   *x;

	if (json_is_boolean(s))
	{
		if (json_is_false(s))
			report(c, path, "no value is allowed here");
		return json_is_true(s);
	}
	if (!json_is_object(s))
		return true;
	if (++c->depth > MAX_DEPTH)
	{
		c->depth--;
		report(c, path, "nested too deeply to check");
		return false;
	}

	if ((t = json_object_get(s, "$ref")) && json_is_string(t))
	{
		const json_t *target = resolve(c->root, json_string_value(t));

		if (target == NULL)
		{
			report(c, path, "the schema's reference %s cannot be followed", json_string_value(t));
			ok = false;
		}
		else if (!sub(c, target, v, path, ev))
			ok = false;
	}
	if ((t = json_object_get(s, "type")))
	{
		bool		match = false;

		if (json_is_string(t))
			match = is_type(v, json_string_value(t));
		else
			json_array_foreach(t, i, x)
			{
				if (json_is_string(x) && is_type(v, json_string_value(x)))
					match = true;
			}
		if (!match)
		{
			char	   *want = json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT);
			json_free_t jfree;

			report(c, path, "%s where %s is expected", type_name(v), want ? want : "?");
			json_get_alloc_funcs(NULL, &jfree);
			if (want)
				jfree(want);
			c->depth--;
			return false;		/* the other keywords would only repeat it */
		}
	}
	if ((t = json_object_get(s, "const")) && !jequal(t, v))
	{
		char	   *want = json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT);
		json_free_t jfree;

		report(c, path, "must be %.200s", want ? want : "?");
		json_get_alloc_funcs(NULL, &jfree);
		if (want)
			jfree(want);
		ok = false;
	}
	if ((t = json_object_get(s, "enum")) && json_is_array(t))
	{
		bool		found = false;

		json_array_foreach(t, i, x)
		{
			if (jequal(x, v))
				found = true;
		}
		if (!found)
		{
			char	   *want = json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT);
			json_free_t jfree;

			report(c, path, "must be one of %.300s", want ? want : "?");
			json_get_alloc_funcs(NULL, &jfree);
			if (want)
				jfree(want);
			ok = false;
		}
	}
	if (json_is_object(v) && !validate_object(c, s, v, path, ev))
		ok = false;
	if (json_is_array(v) && !validate_array(c, s, v, path))
		ok = false;
	if (!validate_scalar(c, s, v, path))
		ok = false;

	json_array_foreach(json_object_get(s, "allOf"), i, x)
	{
		if (!sub(c, x, v, path, ev))
			ok = false;
	}
	if ((t = json_object_get(s, "anyOf")) && json_is_array(t))
	{
		bool		any = false;
		DpSchemaError saved = *c->err;
		int			saved_best = c->best;

		json_array_foreach(t, i, x)
		{
			if (sub(c, x, v, path, ev))
				any = true;		/* every successful branch annotates */
		}
		if (any)
		{
			/* the failures of the other branches are not the document's */
			*c->err = saved;
			c->best = saved_best;
		}
		else
		{
			report(c, path, "matches none of the allowed forms");
			ok = false;
		}
	}
	if ((t = json_object_get(s, "oneOf")) && json_is_array(t))
	{
		int			n = 0;
		DpSchemaError saved = *c->err;
		int			saved_best = c->best;

		json_array_foreach(t, i, x)
		{
			if (sub(c, x, v, path, ev))
				n++;
		}
		if (n == 1)
		{
			*c->err = saved;
			c->best = saved_best;
		}
		else
		{
			report(c, path, n == 0 ? "matches none of the allowed forms"
				   : "matches more than one of the allowed forms");
			ok = false;
		}
	}
	if ((t = json_object_get(s, "not")))
	{
		bool		quiet = c->quiet;
		bool		r;

		c->quiet = true;
		r = sub(c, t, v, path, NULL);
		c->quiet = quiet;
		if (r)
		{
			report(c, path, "has a form that is not allowed");
			ok = false;
		}
	}
	if ((t = json_object_get(s, "if")))
	{
		bool		quiet = c->quiet;
		bool		r;

		c->quiet = true;
		r = sub(c, t, v, path, ev);
		c->quiet = quiet;
		if (r && json_object_get(s, "then") && !sub(c, json_object_get(s, "then"), v, path, ev))
			ok = false;
		if (!r && json_object_get(s, "else") && !sub(c, json_object_get(s, "else"), v, path, ev))
			ok = false;
	}
	if ((t = json_object_get(s, "unevaluatedProperties")) && json_is_object(v) && ev)
	{
		const char *k;
		json_t	   *pv;

		json_object_foreach((json_t *) v, k, pv)
		{
			size_t		saved;

			if (json_object_get(ev, k))
				continue;
			if (json_is_false(t))
			{
				report(c, path, "\"%s\" is not allowed here", k);
				ok = false;
				continue;
			}
			saved = push_path(path, k);
			if (!sub(c, t, pv, path, NULL))
				ok = false;
			path[saved] = '\0';
			json_object_set(ev, k, json_true());
		}
	}
	c->depth--;
	return ok;
}

bool
dp_schema_validate(const json_t *schema, const json_t *instance, DpSchemaError *err)
{
	Ctx			c;
	char		path[256] = "";
	json_t	   *ev = json_is_object(instance) ? new_set() : NULL;
	bool		ok;

	memset(err, 0, sizeof(*err));
	c.root = schema;
	c.err = err;
	c.best = -1;
	c.depth = 0;
	c.quiet = false;
	ok = validate(&c, schema, instance, path, ev);
	json_decref(ev);
	if (!ok && err->message[0] == '\0')
		snprintf(err->message, sizeof(err->message), "does not match the schema");
	return ok;
}
