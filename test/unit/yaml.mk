#
# test/unit/yaml.mk
#	Builds and runs the pure-C tests of the YAML reader and writer
#	(src/lib/yaml_json.c), the JSON Schema validator (jsonschema.c) and the
#	contract mapping (src/lib/contract*.c), outside PostgreSQL.  Standalone: independent of test/unit/Makefile.
#
#	make -f test/unit/yaml.mk check	unit tests (gcc -Werror -O2), again
#					under ASan+UBSan (leaks included), and a compile
#					with pg_config's CFLAGS when installed
#	make -f test/unit/yaml.mk fuzz FUZZ_SECONDS=30
#					libFuzzer run (clang) over the reader, the writer's
#					round trip and the contract mapping; non-zero exit on
#					a finding; the log goes to build/yaml/fuzz.log
#	make -f test/unit/yaml.mk clean
#
# Run from the repository root.  Needs gcc, libyaml-dev, libjansson-dev;
# fuzz needs clang and libclang-rt-14-dev.  Outputs go to test/unit/build/yaml/.
#

BUILD		:= test/unit/build/yaml

LIB_SRCS	:= src/lib/yaml_json.c src/lib/contract.c src/lib/contract_odcs.c \
			   src/lib/contract_table.c src/lib/contract_export.c src/lib/naming.c \
			   src/lib/datatype.c src/lib/jsonschema.c
LIB_HDRS	:= src/lib/yaml_json.h src/lib/contract.h src/lib/contract_int.h \
			   src/lib/jsonschema.h
LIBS		:= -lyaml -ljansson -lm
TESTS		:= test_yaml test_contract
TEST_ARGS_test_contract := test/contracts
FUZZER		:= fuzz_yaml
FUZZ_MAX_LEN := 16384

# seeds: the corpus in test/fuzz/corpus_yaml and every contract of the test tree
define FUZZ_SEEDS
@cp test/fuzz/corpus_yaml/* $(BUILD)/corpus/ 2>/dev/null || true
@for f in $$(find test/contracts -name '*.yaml' -o -name '*.json' | grep -v schema); do \
	cp "$$f" $(BUILD)/corpus/seed-$$(echo "$$f" | tr '/' '-'); done
endef

include test/unit/common.mk
