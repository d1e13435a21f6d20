/*
 * yaml_json.c
 *		YAML <-> jansson on libyaml: the reader (events to a tree, with an
 *		explicit stack, so deep input cannot exhaust the C stack) and the
 *		writer (a tree to emitter events).  Rules in yaml_json.h.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "yaml_json.h"

/*
 * A new empty object.  Never call jansson's json_object() here: linked into
 * the server, it binds to the server's SQL function of that name.
 */
static json_t *
new_object(void)
{
	return json_pack("{}");
}

/* ---------------------------------------------------------------- reading */

typedef struct Frame
{
	json_t	   *container;		/* borrowed: owned by its parent or root */
	char	   *key;			/* pending mapping key (malloc'd) or NULL */
} Frame;

typedef struct Reader
{
	Frame		stack[DP_YAML_MAX_DEPTH];
	int			depth;
	json_t	   *root;
	DpYamlError *err;
} Reader;

static void set_error(DpYamlError *err, const yaml_mark_t *mark, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static void
set_error(DpYamlError *err, const yaml_mark_t *mark, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->line = mark ? mark->line + 1 : 0;
	err->column = mark ? mark->column + 1 : 0;
}

static bool
all_in(const char *s, size_t len, const char *set)
{
	size_t		i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return false;
	return true;
}

static bool
is_one_of(const char *s, size_t len, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == len && memcmp(s, *words, len) == 0)
			return true;
	return false;
}

static const char *const null_words[] = {"~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};
static const char *const inf_nan_words[] = {
	".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
	".nan", ".NaN", ".NAN", NULL
};

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool
is_float(const char *s, size_t len)
{
	size_t		i = 0;
	size_t		digits = 0;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < len && s[i] == '.')
	{
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	if (digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		exp = 0;

		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, exp++;
		if (exp == 0)
			return false;
	}
	return i == len;
}

static bool
is_decimal_int(const char *s, size_t len)
{
	if (len > 0 && (s[0] == '-' || s[0] == '+'))
		s++, len--;
	return all_in(s, len, "0123456789");
}

int
dp_yaml_plain_is_special(const char *s, size_t len)
{
	if (len == 0 || is_one_of(s, len, null_words) ||
		is_one_of(s, len, true_words) || is_one_of(s, len, false_words) ||
		is_one_of(s, len, inf_nan_words))
		return 1;
	if (is_float(s, len))		/* decimal integers included */
		return 1;
	if (len > 2 && s[0] == '0' && s[1] == 'o' && all_in(s + 2, len - 2, "01234567"))
		return 1;
	if (len > 2 && s[0] == '0' && s[1] == 'x' &&
		all_in(s + 2, len - 2, "0123456789abcdefABCDEF"))
		return 1;
	return 0;
}

/* A scalar event's value as JSON; NULL with *err set when refused. */
static json_t *
scalar_value(const yaml_event_t *ev, DpYamlError *err)
{
	const char *s = (const char *) ev->data.scalar.value;
	size_t		len = ev->data.scalar.length;
	const char *tag = (const char *) ev->data.scalar.tag;
	char		buf[64];
	json_t	   *v;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
		(tag && strcmp(tag, YAML_STR_TAG) == 0) || (tag && strcmp(tag, "!") == 0))
		return json_stringn(s, len);
	if (len == 0 || is_one_of(s, len, null_words))
		return json_null();
	if (is_one_of(s, len, true_words))
		return json_true();
	if (is_one_of(s, len, false_words))
		return json_false();
	if (is_one_of(s, len, inf_nan_words))
	{
		set_error(err, &ev->start_mark, "\"%.*s\" is not a number JSON can hold",
				  (int) len, s);
		return NULL;
	}
	if (is_float(s, len) ||
		(len > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x') &&
		 dp_yaml_plain_is_special(s, len)))
	{
		char	   *copy = len < sizeof(buf) ? buf : malloc(len + 1);
		bool		radix = s[1] == 'o' || s[1] == 'x';

		if (copy == NULL)
		{
			set_error(err, &ev->start_mark, "out of memory");
			return NULL;
		}
		memcpy(copy, s, len);
		copy[len] = '\0';
		v = NULL;
		if (is_decimal_int(copy, len) || radix)
		{
			long long	n;
			char	   *end;

			errno = 0;
			if (radix)
				n = strtoll(copy + 2, &end, s[1] == 'o' ? 8 : 16);
			else
				n = strtoll(copy, &end, 10);
			if (errno == 0 && *end == '\0')
				v = json_integer(n);
			else if (radix)
				set_error(err, &ev->start_mark, "integer \"%.40s\" is too large", copy);
		}
		if (v == NULL && err->message[0] == '\0')
		{
			double		d = strtod(copy, NULL);

			if (!isfinite(d))
				set_error(err, &ev->start_mark, "number \"%.40s\" is too large", copy);
			else
				v = json_real(d);
		}
		if (copy != buf)
			free(copy);
		return v;
	}
	return json_stringn(s, len);
}

/* Attach v (a new reference, stolen) to the container on top. */
static bool
attach(Reader *r, json_t *v, const yaml_mark_t *mark)
{
	Frame	   *top;

	if (r->depth == 0)
	{
		r->root = v;
		return true;
	}
	top = &r->stack[r->depth - 1];
	if (json_is_array(top->container))
	{
		if (json_array_append_new(top->container, v) != 0)
		{
			set_error(r->err, mark, "out of memory");
			return false;
		}
		return true;
	}
	if (json_object_set_new_nocheck(top->container, top->key, v) != 0)
	{
		set_error(r->err, mark, "out of memory");
		free(top->key);
		top->key = NULL;
		return false;
	}
	free(top->key);
	top->key = NULL;
	return true;
}

static bool
expecting_key(const Reader *r)
{
	const Frame *top;

	if (r->depth == 0)
		return false;
	top = &r->stack[r->depth - 1];
	return json_is_object(top->container) && top->key == NULL;
}

/* Handle one event; false with r->err set on a refusal. */
static bool
handle(Reader *r, const yaml_event_t *ev, int *docs, bool *done)
{
	switch (ev->type)
	{
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
		case YAML_NO_EVENT:
			return true;
		case YAML_STREAM_END_EVENT:
			*done = true;
			return true;
		case YAML_DOCUMENT_START_EVENT:
			if (++*docs > 1)
			{
				set_error(r->err, &ev->start_mark,
						  "more than one YAML document: a contract is one document");
				return false;
			}
			return true;
		case YAML_ALIAS_EVENT:
			set_error(r->err, &ev->start_mark,
					  "YAML aliases (*%s) are not supported: write the value out",
					  (const char *) ev->data.alias.anchor);
			return false;
		case YAML_SCALAR_EVENT:
			if (expecting_key(r))
			{
				Frame	   *top = &r->stack[r->depth - 1];
				const char *s = (const char *) ev->data.scalar.value;
				size_t		len = ev->data.scalar.length;

				if (memchr(s, '\0', len) != NULL)
				{
					set_error(r->err, &ev->start_mark, "a mapping key holds a NUL character");
					return false;
				}
				if (json_object_get(top->container, s) != NULL)
				{
					set_error(r->err, &ev->start_mark, "key \"%.100s\" repeated in one mapping", s);
					return false;
				}
				top->key = malloc(len + 1);
				if (top->key == NULL)
				{
					set_error(r->err, &ev->start_mark, "out of memory");
					return false;
				}
				memcpy(top->key, s, len + 1);
				return true;
			}
			else
			{
				json_t	   *v = scalar_value(ev, r->err);

				if (v == NULL)
				{
					if (r->err->message[0] == '\0')
						set_error(r->err, &ev->start_mark,
								  "a scalar that is not valid UTF-8 (or out of memory)");
					return false;
				}
				return attach(r, v, &ev->start_mark);
			}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			{
				json_t	   *c;

				if (expecting_key(r))
				{
					set_error(r->err, &ev->start_mark,
							  "a mapping key is a %s: keys must be scalars",
							  ev->type == YAML_SEQUENCE_START_EVENT ? "sequence" : "mapping");
					return false;
				}
				if (r->depth >= DP_YAML_MAX_DEPTH)
				{
					set_error(r->err, &ev->start_mark,
							  "nesting deeper than %d levels", DP_YAML_MAX_DEPTH);
					return false;
				}
				c = ev->type == YAML_SEQUENCE_START_EVENT ? json_array() : new_object();
				if (c == NULL)
				{
					set_error(r->err, &ev->start_mark, "out of memory");
					return false;
				}
				if (!attach(r, c, &ev->start_mark))
					return false;
				r->stack[r->depth].container = c;
				r->stack[r->depth].key = NULL;
				r->depth++;
				return true;
			}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (r->depth > 0)
			{
				r->depth--;
				free(r->stack[r->depth].key);
				r->stack[r->depth].key = NULL;
			}
			return true;
	}
	return true;
}

json_t *
dp_yaml_read(const char *text, size_t len, DpYamlError *err)
{
	yaml_parser_t parser;
	Reader		r;
	int			docs = 0;
	bool		done = false;
	bool		ok = true;

	memset(err, 0, sizeof(*err));
	memset(&r, 0, sizeof(r));
	r.err = err;
	if (!yaml_parser_initialize(&parser))
	{
		set_error(err, NULL, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
	while (ok && !done)
	{
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev))
		{
			yaml_mark_t mark = parser.problem_mark;

			if (parser.context)
				set_error(err, &mark, "malformed YAML: %s %s", parser.problem ? parser.problem : "error",
						  parser.context);
			else
				set_error(err, &mark, "malformed YAML: %s",
						  parser.problem ? parser.problem : "error");
			ok = false;
			break;
		}
		ok = handle(&r, &ev, &docs, &done);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	while (r.depth > 0)
	{
		r.depth--;
		free(r.stack[r.depth].key);
	}
	if (ok && r.root == NULL)
	{
		set_error(err, NULL, "no YAML document");
		ok = false;
	}
	if (!ok)
	{
		json_decref(r.root);
		return NULL;
	}
	return r.root;
}

/* ---------------------------------------------------------------- writing */

typedef struct OutBuf
{
	char	   *s;
	size_t		len;
	size_t		cap;
	bool		failed;
} OutBuf;

static int
out_write(void *data, unsigned char *buffer, size_t size)
{
	OutBuf	   *b = data;

	if (b->len + size + 1 > b->cap)
	{
		size_t		cap = (b->len + size + 1) * 2;
		char	   *s = realloc(b->s, cap);

		if (s == NULL)
		{
			b->failed = true;
			return 0;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, buffer, size);
	b->len += size;
	b->s[b->len] = '\0';
	return 1;
}

static int
emit_scalar(yaml_emitter_t *em, const char *s, size_t len, bool is_string)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;

	if (is_string)
	{
		bool		printable = true;
		size_t		i;

		for (i = 0; i < len; i++)
			if ((unsigned char) s[i] < 0x20 && s[i] != '\n')
				printable = false;
		if (dp_yaml_plain_is_special(s, len) || !printable)
			style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		else
			style = YAML_ANY_SCALAR_STYLE;
	}
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s, (int) len,
									  1, 1, style))
		return 0;
	return yaml_emitter_emit(em, &ev);
}

/* shortest %g that reads back as d, with ".0" when it looks integral */
static void
format_real(double d, char *buf, size_t size)
{
	int			prec;

	for (prec = 15; prec <= 17; prec++)
	{
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (strspn(buf, "-0123456789") == strlen(buf))
		strncat(buf, ".0", size - strlen(buf) - 1);
}

static int
emit_value(yaml_emitter_t *em, const json_t *v, int depth)
{
	yaml_event_t ev;
	char		buf[64];

	if (depth > DP_YAML_MAX_DEPTH * 4)
		return 0;
	switch (json_typeof(v))
	{
		case JSON_OBJECT:
			{
				const char *key;
				json_t	   *val;

				if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
														 YAML_BLOCK_MAPPING_STYLE) ||
					!yaml_emitter_emit(em, &ev))
					return 0;
				json_object_foreach((json_t *) v, key, val)
				{
					if (!emit_scalar(em, key, strlen(key), true) ||
						!emit_value(em, val, depth + 1))
						return 0;
				}
				return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
			}
		case JSON_ARRAY:
			{
				size_t		i;
				json_t	   *val;

				if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
														  YAML_BLOCK_SEQUENCE_STYLE) ||
					!yaml_emitter_emit(em, &ev))
					return 0;
				json_array_foreach(v, i, val)
				{
					if (!emit_value(em, val, depth + 1))
						return 0;
				}
				return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
			}
		case JSON_STRING:
			return emit_scalar(em, json_string_value(v), json_string_length(v), true);
		case JSON_INTEGER:
			snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			return emit_scalar(em, buf, strlen(buf), false);
		case JSON_REAL:
			if (!isfinite(json_real_value(v)))
				return 0;
			format_real(json_real_value(v), buf, sizeof(buf));
			return emit_scalar(em, buf, strlen(buf), false);
		case JSON_TRUE:
			return emit_scalar(em, "true", 4, false);
		case JSON_FALSE:
			return emit_scalar(em, "false", 5, false);
		case JSON_NULL:
			return emit_scalar(em, "null", 4, false);
	}
	return 0;
}

char *
dp_yaml_write(const json_t *value)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	OutBuf		out = {NULL, 0, 0, false};
	int			ok;

	if (value == NULL || !yaml_emitter_initialize(&em))
		return NULL;
	yaml_emitter_set_output(&em, out_write, &out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_indent(&em, 2);
	ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
		yaml_emitter_emit(&em, &ev) &&
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
		yaml_emitter_emit(&em, &ev) &&
		emit_value(&em, value, 0) &&
		yaml_document_end_event_initialize(&ev, 1) &&
		yaml_emitter_emit(&em, &ev) &&
		yaml_stream_end_event_initialize(&ev) &&
		yaml_emitter_emit(&em, &ev) &&
		yaml_emitter_flush(&em);
	yaml_emitter_delete(&em);
	if (!ok || out.failed)
	{
		free(out.s);
		return NULL;
	}
	return out.s;
}
