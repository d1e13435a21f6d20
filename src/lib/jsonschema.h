/*
 * jsonschema.h
 *		A JSON Schema validator (draft 2019-09 and draft-07, the keywords
 *		the ODCS and Table Schema schemas use) on jansson values, so that
 *		import_contract refuses what the standard's own schema refuses.
 *		Pure C, no backend calls.
 *
 * Keywords: $ref (to "#" and "#/..." in the same document), type, enum,
 * const, required, properties, patternProperties, additionalProperties,
 * unevaluatedProperties (with the annotations of properties,
 * patternProperties, additionalProperties and of the successful branches
 * of allOf/anyOf/oneOf/if-then-else/$ref), allOf, anyOf, oneOf, not,
 * if/then/else, items (a schema or, draft-07, an array), additionalItems,
 * contains, minItems, maxItems, uniqueItems, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum (numbers), multipleOf, minLength,
 * maxLength, pattern (ECMA-262 read as POSIX extended; "(?:" as "("),
 * minProperties, maxProperties, dependentRequired.  format and the
 * annotations (title, description, examples, default, deprecated) are not
 * assertions.  Unknown keywords are ignored, as the drafts say.
 */
#ifndef DP_JSONSCHEMA_H
#define DP_JSONSCHEMA_H

#include <stdbool.h>

#include <jansson.h>

typedef struct DpSchemaError
{
	char		path[256];		/* JSON pointer into the instance, "" = root */
	char		message[512];
} DpSchemaError;

/*
 * Validate instance against schema (whose root is also the target of
 * "#..." references).  true when valid; otherwise false with the most
 * specific failure found in *err.
 */
extern bool dp_schema_validate(const json_t *schema, const json_t *instance,
							   DpSchemaError *err);

#endif							/* DP_JSONSCHEMA_H */
