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

SRC			:= src/lib
UNIT		:= test/unit
FUZZDIR		:= test/fuzz
BUILD		:= test/unit/build/yaml

CC			:= gcc
CLANG		?= clang
CSTD		:= -std=gnu11
WARN		:= -Wall -Wextra -Werror -Wmissing-prototypes \
			   -Wdeclaration-after-statement -Wimplicit-fallthrough=3
CPPFLAGS	:= -I$(SRC)
LIBS		:= -lyaml -ljansson -lm
SANITIZE	:= -fsanitize=address,undefined -fno-sanitize-recover=all \
			   -fno-omit-frame-pointer
FUZZ_SECONDS ?= 30
FUZZ_FLAGS	?=
PG_CONFIG	?= pg_config
HAVE_PG		:= $(shell command -v $(PG_CONFIG) 2>/dev/null)

LIB_SRCS	:= $(SRC)/yaml_json.c $(SRC)/contract.c $(SRC)/contract_odcs.c \
			   $(SRC)/contract_table.c $(SRC)/contract_export.c $(SRC)/naming.c \
			   $(SRC)/datatype.c $(SRC)/jsonschema.c
LIB			:= $(LIB_SRCS) $(SRC)/yaml_json.h $(SRC)/contract.h $(SRC)/contract_int.h \
			   $(SRC)/jsonschema.h

.PHONY: all check fuzz fuzz-build clean yaml-pgflags

all: $(BUILD)/test_yaml

$(BUILD):
	@mkdir -p $(BUILD) $(BUILD)/corpus

$(BUILD)/test_yaml: $(UNIT)/test_yaml.c $(UNIT)/test_contract.c $(LIB) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O2 -g $(CPPFLAGS) -o $@ $(UNIT)/test_yaml.c $(LIB_SRCS) $(LIBS)
	$(CC) $(CSTD) $(WARN) -O2 -g $(CPPFLAGS) -o $(BUILD)/test_contract $(UNIT)/test_contract.c $(LIB_SRCS) $(LIBS)

$(BUILD)/test_yaml_san: $(UNIT)/test_yaml.c $(UNIT)/test_contract.c $(LIB) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SANITIZE) $(CPPFLAGS) -o $@ $(UNIT)/test_yaml.c $(LIB_SRCS) $(LIBS)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SANITIZE) $(CPPFLAGS) -o $(BUILD)/test_contract_san $(UNIT)/test_contract.c $(LIB_SRCS) $(LIBS)

# linked into the extension: must build with PostgreSQL's flags
yaml-pgflags: | $(BUILD)
ifneq ($(HAVE_PG),)
	for f in $(filter %.c,$(LIB_SRCS)); do \
		$(CC) $$($(PG_CONFIG) --cflags) -Wall -Wextra -Werror $(CPPFLAGS) \
			-c $$f -o $(BUILD)/$$(basename $$f .c)_pgflags.o || exit 1; \
	done
else
	@echo "pg_config not found: skipping the PGXS-flags compile"
endif

check: $(BUILD)/test_yaml $(BUILD)/test_yaml_san yaml-pgflags
	$(BUILD)/test_yaml
	$(BUILD)/test_contract test/contracts
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_yaml_san
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_contract_san test/contracts

$(BUILD)/fuzz_yaml: $(FUZZDIR)/fuzz_yaml.c $(LIB) | $(BUILD)
	$(CLANG) $(CSTD) -Wall -Wextra -Werror -O1 -g \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(CPPFLAGS) -o $@ $(FUZZDIR)/fuzz_yaml.c $(LIB_SRCS) $(LIBS)

fuzz-build: $(BUILD)/fuzz_yaml

# seeds: the corpus in test/fuzz/corpus_yaml and every contract of the test tree
fuzz: $(BUILD)/fuzz_yaml
	@cp test/fuzz/corpus_yaml/* $(BUILD)/corpus/ 2>/dev/null || true
	@for f in $$(find test/contracts -name '*.yaml' -o -name '*.json' | grep -v schema); do \
		cp "$$f" $(BUILD)/corpus/seed-$$(echo "$$f" | tr '/' '-'); done
	@rc=0; \
	$(BUILD)/fuzz_yaml -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 \
		-artifact_prefix=$(BUILD)/ -print_final_stats=1 $(FUZZ_FLAGS) \
		$(BUILD)/corpus > $(BUILD)/fuzz.log 2>&1 || rc=$$?; \
	runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(BUILD)/fuzz.log); \
	cov=$$(grep -o 'cov: [0-9]*' $(BUILD)/fuzz.log | tail -1); \
	if [ $$rc -eq 0 ]; then \
		echo "fuzz_yaml: OK, $${runs:-?} runs in $(FUZZ_SECONDS) s, $${cov:-cov: ?}, corpus $$(ls $(BUILD)/corpus | wc -l) files (log: $(BUILD)/fuzz.log)"; \
	else \
		echo "fuzz_yaml: FAILED (exit $$rc) after $${runs:-?} runs; log: $(BUILD)/fuzz.log"; \
		tail -n 40 $(BUILD)/fuzz.log; \
		exit $$rc; \
	fi

clean:
	rm -rf $(BUILD)
