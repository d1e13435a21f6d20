/*
 * test_yaml.c
 *		Unit tests of the YAML reader and writer (src/lib/yaml_json.c):
 *		scalar resolution, nesting, every refusal with its line, and the
 *		writer's output reading back to the same value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_json.h"

static int	failures = 0;
static int	tests = 0;

/* the YAML must read to the JSON given */
static void
reads_as(const char *yaml, const char *json)
{
	DpYamlError err;
	json_t	   *got = dp_yaml_read(yaml, strlen(yaml), &err);
	json_t	   *want = json_loads(json, JSON_DECODE_ANY, NULL);

	tests++;
	if (want == NULL)
	{
		printf("not ok - bad expected JSON %s\n", json);
		failures++;
	}
	else if (got == NULL)
	{
		printf("not ok - %s: refused: %s\n", yaml, err.message);
		failures++;
	}
	else if (!json_equal(got, want))
	{
		char	   *s = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);

		printf("not ok - %s: got %s, want %s\n", yaml, s, json);
		free(s);
		failures++;
	}
	json_decref(got);
	json_decref(want);
}

/* the YAML must be refused with a message containing what, at line */
static void
refused(const char *yaml, const char *what, size_t line)
{
	DpYamlError err;
	json_t	   *got = dp_yaml_read(yaml, strlen(yaml), &err);

	tests++;
	if (got != NULL)
	{
		printf("not ok - %s: accepted, want \"%s\"\n", yaml, what);
		json_decref(got);
		failures++;
	}
	else if (strstr(err.message, what) == NULL || (line && err.line != line))
	{
		printf("not ok - %s: got \"%s\" at line %zu, want \"%s\" at %zu\n",
			   yaml, err.message, err.line, what, line);
		failures++;
	}
}

/* JSON -> YAML -> JSON gives the same value */
static void
round_trip(const char *json)
{
	json_t	   *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	char	   *yaml = v ? dp_yaml_write(v) : NULL;
	DpYamlError err;
	json_t	   *back = yaml ? dp_yaml_read(yaml, strlen(yaml), &err) : NULL;

	tests++;
	if (back == NULL || !json_equal(v, back))
	{
		printf("not ok - round trip of %s: YAML\n%s\n", json, yaml ? yaml : "(none)");
		failures++;
	}
	json_decref(v);
	json_decref(back);
	free(yaml);
}

int
main(void)
{
	reads_as("a: 1\nb: [x, 'y', \"z\"]\n", "{\"a\": 1, \"b\": [\"x\", \"y\", \"z\"]}");
	reads_as("- ~\n- null\n-\n- true\n- False\n- 0x1F\n- 0o17\n- -12\n- 1.5e3\n- .5\n",
			 "[null, null, null, true, false, 31, 15, -12, 1500.0, 0.5]");
	reads_as("- 2022-10-03\n- '123'\n- !!str 123\n- yes\n- 1_000\n- 12:30\n",
			 "[\"2022-10-03\", \"123\", \"123\", \"yes\", \"1_000\", \"12:30\"]");
	reads_as("text: |\n  line one\n  line two\nfold: >\n  a\n  b\n",
			 "{\"text\": \"line one\\nline two\\n\", \"fold\": \"a b\\n\"}");
	reads_as("{}", "{}");
	reads_as("---\nx: &a 1\n...\n", "{\"x\": 1}");
	reads_as("# only a comment\nk: v # trailing\n", "{\"k\": \"v\"}");
	reads_as("1: one\nnull: two\n", "{\"1\": \"one\", \"null\": \"two\"}");
	reads_as("big: 123456789012345678901234567890\n", "{\"big\": 1.2345678901234568e29}");
	reads_as("s: \"caf\\u00e9 \\t\"\n", "{\"s\": \"caf\\u00e9 \\t\"}");

	refused("a: [1, 2\n", "malformed YAML", 0);
	refused("a: 1\n---\nb: 2\n", "more than one YAML document", 2);
	refused("a: &x 1\nb: *x\n", "aliases", 2);
	refused("? [1, 2]\n: v\n", "keys must be scalars", 1);
	refused("a: 1\nb: 2\na: 3\n", "repeated", 3);
	refused("a: .inf\n", "not a number", 1);
	refused("", "no YAML document", 0);
	refused("a:\n\tb: 1\n", "malformed YAML", 0);
	refused("a: \xc3\x28\n", "malformed YAML", 0);
	{
		char		deep[1000];
		int			i;

		for (i = 0; i < 300; i++)
			deep[i] = '[';
		deep[300] = '\0';
		refused(deep, "nesting deeper", 1);
	}

	round_trip("{\"apiVersion\": \"v3.0.2\", \"n\": 3, \"r\": 3.0, \"x\": 0.1, \"b\": true, \"z\": null}");
	round_trip("[\"true\", \"null\", \"\", \"123\", \"0x1F\", \".inf\", \"- a\", \"a: b\", \"#c\", \"'q'\", \"\\\"d\\\"\"]");
	round_trip("{\"multi\": \"line one\\nline two\\n\", \"tab\": \"a\\tb\", \"nul\": \"a\\u0000b\", \"lead\": \" sp \"}");
	round_trip("{\"empty\": {}, \"none\": [], \"nested\": [[1, [2]], {\"a\": {\"b\": []}}]}");
	round_trip("{\"unicode\": \"Montr\\u00e9al \\u2603\", \"key with: colon\": 1, \"2022-10-03\": \"date\"}");
	round_trip("[1e300, -2.5e-300, 9007199254740993, -0.0]");

	printf("%s - %d yaml tests, %d failed\n", failures ? "not ok" : "ok", tests, failures);
	return failures ? 1 : 0;
}
