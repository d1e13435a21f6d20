/*
 * fuzz_yaml.c
 *		libFuzzer target for the YAML reader and writer
 *		(src/lib/yaml_json.c) and the contract mapping (src/lib/contract.c).
 *
 * On every input: the reader either refuses it with a message or returns a
 * value; a value is written as YAML, which must read back to the same
 * value; and the value goes through the JSON Schema check (ODCS) and the
 * contract mapping (ODCS or Table Schema, whichever it looks like), which
 * must return specs or an error message, never crash or leak (ASan's leak
 * check runs at exit).
 *
 * Build and run with "make -f test/unit/yaml.mk fuzz" from the repo root.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "jsonschema.h"
#include "yaml_json.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	DpYamlError err;
	json_t	   *v;
	char	   *yaml;
	char	   *copy = malloc(size ? size : 1);

	/* an exact-size copy, so that ASan catches a read past the end */
	if (size)
		memcpy(copy, data, size);
	v = dp_yaml_read(copy, size, &err);
	free(copy);
	if (v == NULL)
	{
		if (err.message[0] == '\0')
			abort();
		return 0;
	}
	yaml = dp_yaml_write(v);
	if (yaml != NULL)
	{
		json_t	   *back = dp_yaml_read(yaml, strlen(yaml), &err);

		if (back == NULL)
		{
			fprintf(stderr, "written YAML does not read back (%s):\n%s\n", err.message, yaml);
			abort();
		}
		if (!json_equal(v, back))
		{
			fprintf(stderr, "written YAML reads back differently:\n%s\n", yaml);
			abort();
		}
		json_decref(back);
		free(yaml);
	}
	{
		DpContractResult res;

		static json_t *schema;
		static bool loaded;

		/* the ODCS schema, from the test tree, when run from the repository root */
		if (!loaded)
		{
			schema = json_load_file("test/contracts/schemas/odcs-json-schema-v3.2.0.json", 0, NULL);
			loaded = true;
		}
		dp_contract_import(v, dp_contract_detect(v) == DP_CONTRACT_ODCS ? schema : NULL,
						   NULL, NULL, &res);
		dp_contract_result_free(&res);
	}
	json_decref(v);
	return 0;
}
