#
# test/unit/common.mk
#	What the unit-test makefiles of test/unit share: the compilers and
#	their flags, each unit test's plain and sanitizer builds and their
#	run, the compile with PostgreSQL's flags, and the libFuzzer target's
#	build and run.  Included by test/unit/Makefile and test/unit/*.mk,
#	each of which names first:
#
#	BUILD			the output folder
#	SRC, UNIT, FUZZDIR	the library's, the tests' and the fuzz targets' folders,
#				when not run from the repository root (src/lib,
#				test/unit, test/fuzz)
#	LIB_SRCS, LIB_HDRS	the library's sources and headers; LIBS what they link
#	TESTS			the test programs, each built from $(UNIT)/<test>.c with
#				the library (gcc -O2, and ASan+UBSan -O1 as <test>_san);
#				"check" runs both, with the arguments TEST_ARGS_<test>
#	VALGRIND_TESTS		those "check" runs again under valgrind when installed
#	PGFLAGS_SRCS		what "check" compiles with pg_config's CFLAGS (when
#				pg_config is installed; default LIB_SRCS), with
#				PGFLAGS_CPPFLAGS (default CPPFLAGS)
#	FUZZER			the libFuzzer target $(FUZZDIR)/$(FUZZER).c, if any:
#				"fuzz" builds it, writes its seeds (the recipe lines
#				FUZZ_SEEDS) and runs it FUZZ_SECONDS with inputs up to
#				FUZZ_MAX_LEN bytes over FUZZ_CORPUS (default
#				$(BUILD)/corpus; new inputs go to the first folder)
#
#	make check | fuzz | fuzz-build | clean	(all: the test programs)
#

SRC			?= src/lib
UNIT		?= test/unit
FUZZDIR		?= test/fuzz

CC			:= gcc
CLANG		?= clang
CSTD		:= -std=gnu11
WARN		:= -Wall -Wextra -Werror -Wmissing-prototypes \
			   -Wdeclaration-after-statement -Wimplicit-fallthrough=3
CPPFLAGS	:= -I$(SRC)
SANITIZE	:= -fsanitize=address,undefined -fno-sanitize-recover=all \
			   -fno-omit-frame-pointer
FUZZ_SECONDS ?= 30
FUZZ_FLAGS	?=
FUZZ_CORPUS	?= $(BUILD)/corpus
PGFLAGS_SRCS ?= $(LIB_SRCS)
PGFLAGS_CPPFLAGS ?= $(CPPFLAGS)
PG_CONFIG	?= pg_config
HAVE_PG		:= $(shell command -v $(PG_CONFIG) 2>/dev/null)
VALGRIND	:= $(shell command -v valgrind 2>/dev/null)

# one recipe line per word of a $(foreach)
define newline


endef

.PHONY: all check pgflags fuzz fuzz-build clean

all: $(TESTS:%=$(BUILD)/%)

$(BUILD):
	@mkdir -p $(BUILD)

$(TESTS:%=$(BUILD)/%): $(BUILD)/%: $(UNIT)/%.c $(LIB_SRCS) $(LIB_HDRS) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O2 -g $(CPPFLAGS) -o $@ $< $(LIB_SRCS) $(LIBS)

$(TESTS:%=$(BUILD)/%_san): $(BUILD)/%_san: $(UNIT)/%.c $(LIB_SRCS) $(LIB_HDRS) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SANITIZE) $(CPPFLAGS) -o $@ $< $(LIB_SRCS) $(LIBS)

# the library is linked into the extension: it must build with PostgreSQL's flags
pgflags: | $(BUILD)
ifneq ($(HAVE_PG),)
	for f in $(PGFLAGS_SRCS); do \
		$(CC) $$($(PG_CONFIG) --cflags) -Wall -Wextra -Werror $(PGFLAGS_CPPFLAGS) \
			-c $$f -o $(BUILD)/$$(basename $$f .c)_pgflags.o || exit 1; \
	done
else
	@echo "pg_config not found: skipping the PGXS-flags compile"
endif

check: $(TESTS:%=$(BUILD)/%) $(TESTS:%=$(BUILD)/%_san) pgflags
	$(foreach t,$(TESTS),$(BUILD)/$(t) $(TEST_ARGS_$(t))$(newline))
	$(foreach t,$(TESTS),ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/$(t)_san $(TEST_ARGS_$(t))$(newline))
ifneq ($(VALGRIND_TESTS),)
ifneq ($(VALGRIND),)
	$(foreach t,$(VALGRIND_TESTS),$(VALGRIND) -q --error-exitcode=1 --leak-check=full $(BUILD)/$(t) $(TEST_ARGS_$(t))$(newline))
else
	@echo "valgrind not found: ran the sanitizer build only"
endif
endif

ifneq ($(FUZZER),)
$(BUILD)/$(FUZZER): $(FUZZDIR)/$(FUZZER).c $(LIB_SRCS) $(LIB_HDRS) | $(BUILD)
	$(CLANG) $(CSTD) -Wall -Wextra -Werror -O1 -g \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(CPPFLAGS) -o $@ $< $(LIB_SRCS) $(LIBS)

fuzz-build: $(BUILD)/$(FUZZER)

# libFuzzer exits non-zero on a crash, leak, timeout or failed invariant
# (abort); the reproducer is written to $(BUILD)/.  Its output goes to
# $(BUILD)/fuzz.log; one summary line is printed, and the log's tail only
# on failure (exit status non-zero).
fuzz: $(BUILD)/$(FUZZER)
	@mkdir -p $(firstword $(FUZZ_CORPUS))
	$(FUZZ_SEEDS)
	@rc=0; \
	$(BUILD)/$(FUZZER) -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) -timeout=10 \
		-artifact_prefix=$(BUILD)/ -print_final_stats=1 $(FUZZ_FLAGS) \
		$(FUZZ_CORPUS) > $(BUILD)/fuzz.log 2>&1 || rc=$$?; \
	runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(BUILD)/fuzz.log); \
	cov=$$(grep -o 'cov: [0-9]*' $(BUILD)/fuzz.log | tail -1); \
	if [ $$rc -eq 0 ]; then \
		echo "$(FUZZER): OK, $${runs:-?} runs in $(FUZZ_SECONDS) s, $${cov:-cov: ?}, corpus $$(ls $(firstword $(FUZZ_CORPUS)) | wc -l) files (log: $(BUILD)/fuzz.log)"; \
	else \
		echo "$(FUZZER): FAILED (exit $$rc) after $${runs:-?} runs; log: $(BUILD)/fuzz.log"; \
		tail -n 40 $(BUILD)/fuzz.log; \
		exit $$rc; \
	fi
endif

clean:
	rm -rf $(BUILD)
