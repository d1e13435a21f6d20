/*
 * yaml_json.h
 *		YAML <-> JSON (jansson) for data contracts: a reader that turns one
 *		YAML document into a jansson value, and a writer that emits a
 *		jansson value as YAML that the reader reads back to the same value.
 *		Pure C on libyaml, no backend calls.
 *
 * Reading follows the YAML 1.2 core schema for plain scalars: null, ~ and
 * the empty scalar are null; true/false (also True, TRUE, ...) booleans;
 * decimal, 0o octal and 0x hex integers; decimal floats.  Everything else,
 * and every quoted or block scalar, is a string (so an unquoted date stays
 * the string "2022-10-03").  A scalar tagged !!str is a string.
 *
 * Refused, with a message and the line and column where it was found:
 * malformed YAML, more than one document, aliases (*name: a document that
 * refers to itself or expands a node many times is not a contract), keys
 * that are not scalars, a key repeated in one mapping, nesting deeper than
 * DP_YAML_MAX_DEPTH, and .inf/.nan (JSON has no such numbers).
 *
 * Memory: the result is jansson's (json_decref it); libyaml's parser and
 * emitter are freed before each function returns, on every path.  jansson
 * allocates through whatever json_set_alloc_funcs installed.
 */
#ifndef DP_YAML_JSON_H
#define DP_YAML_JSON_H

#include <stddef.h>

#include <jansson.h>

#define DP_YAML_MAX_DEPTH	128

typedef struct DpYamlError
{
	char		message[256];
	size_t		line;			/* 1-based; 0 when unknown */
	size_t		column;			/* 1-based; 0 when unknown */
} DpYamlError;

/*
 * Read one YAML document of len bytes.  Returns a new reference, or NULL
 * with *err filled in.
 */
extern json_t *dp_yaml_read(const char *text, size_t len, DpYamlError *err);

/*
 * Write value as a YAML document (block style, UTF-8, ending in a newline).
 * Returns a malloc'd NUL-terminated string (free it), or NULL when the
 * emitter fails (out of memory, or a value that is not JSON).
 */
extern char *dp_yaml_write(const json_t *value);

/*
 * Whether a plain (unquoted) scalar of this text reads as something other
 * than a string: the writer quotes such strings.
 */
extern int	dp_yaml_plain_is_special(const char *s, size_t len);

#endif							/* DP_YAML_JSON_H */
