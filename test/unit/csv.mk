#
# test/unit/csv.mk
#	Builds and runs the pure-C tests of the CSV reader (src/lib/csv.c),
#	outside PostgreSQL.  Standalone: independent of test/unit/Makefile.
#
#	make -f test/unit/csv.mk check	unit tests (gcc -Werror -O2), again
#					under ASan+UBSan, and a compile of csv.c
#					with pg_config's CFLAGS when installed
#	make -f test/unit/csv.mk fuzz FUZZ_SECONDS=30
#					libFuzzer run (clang); non-zero exit on a
#					finding; the log goes to build/csv/fuzz.log
#	make -f test/unit/csv.mk bench [BENCH_MB=100]
#					MB/s on a generated realistic CSV
#	make -f test/unit/csv.mk clean
#
# Run from the repository root.  Needs gcc; fuzz needs clang and
# libclang-rt-14-dev.  All outputs go to test/unit/build/csv/.
#

SRC			:= src/lib
UNIT		:= test/unit
FUZZDIR		:= test/fuzz
BUILD		:= test/unit/build/csv

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
BENCH_MB	?= 100
PG_CONFIG	?= pg_config
HAVE_PG		:= $(shell command -v $(PG_CONFIG) 2>/dev/null)

LIB			:= $(SRC)/csv.c $(SRC)/csv.h

.PHONY: all check fuzz fuzz-build bench clean csv-pgflags

all: $(BUILD)/test_csv

$(BUILD):
	@mkdir -p $(BUILD) $(BUILD)/corpus

$(BUILD)/test_csv: $(UNIT)/test_csv.c $(LIB) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O2 -g $(CPPFLAGS) -o $@ $(UNIT)/test_csv.c $(SRC)/csv.c

$(BUILD)/test_csv_san: $(UNIT)/test_csv.c $(LIB) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SANITIZE) $(CPPFLAGS) -o $@ $(UNIT)/test_csv.c $(SRC)/csv.c

# csv.c is linked into the extension: it must build with PostgreSQL's flags
csv-pgflags: | $(BUILD)
ifneq ($(HAVE_PG),)
	$(CC) $$($(PG_CONFIG) --cflags) -Wall -Wextra -Werror $(CPPFLAGS) \
		-isystem $$($(PG_CONFIG) --includedir-server) \
		-c $(SRC)/csv.c -o $(BUILD)/csv_pgflags.o
else
	@echo "pg_config not found: skipping the PGXS-flags compile"
endif

check: $(BUILD)/test_csv $(BUILD)/test_csv_san csv-pgflags
	$(BUILD)/test_csv
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_csv_san

$(BUILD)/fuzz_csv: $(FUZZDIR)/fuzz_csv.c $(LIB) | $(BUILD)
	$(CLANG) $(CSTD) -Wall -Wextra -Werror -O1 -g \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(CPPFLAGS) -o $@ $(FUZZDIR)/fuzz_csv.c $(SRC)/csv.c

fuzz-build: $(BUILD)/fuzz_csv

# Seeds are written here rather than kept in the repository (octal
# escapes: the shell may be dash, whose printf has no \x).  libFuzzer's
# output goes to fuzz.log; one summary line is printed, and the log's tail
# and the reproducer's name only on failure (exit status non-zero).
fuzz: $(BUILD)/fuzz_csv
	@printf '\000\000\000\002\000a,b\n1,2\n' > $(BUILD)/corpus/seed-simple
	@printf '\001\000\000\004\002\357\273\277a;b\r\n"x;""y""\r\nz";2\r\n\r\n' > $(BUILD)/corpus/seed-semi
	@printf '\002\000\000\001\000a\tb\r\r"\t"\tq"\r"ab"c\t"open' > $(BUILD)/corpus/seed-tab
	@printf '\165\073\047\003\001h;k\n\047a\047\047b\047;x\n' > $(BUILD)/corpus/seed-options
	@printf '\200\000\000\060\000a\376b\377c\3761\3772\3773' > $(BUILD)/corpus/seed-roundtrip
	@rc=0; \
	$(BUILD)/fuzz_csv -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
		-artifact_prefix=$(BUILD)/ -print_final_stats=1 $(FUZZ_FLAGS) \
		$(BUILD)/corpus > $(BUILD)/fuzz.log 2>&1 || rc=$$?; \
	runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(BUILD)/fuzz.log); \
	cov=$$(grep -o 'cov: [0-9]*' $(BUILD)/fuzz.log | tail -1); \
	if [ $$rc -eq 0 ]; then \
		echo "fuzz_csv: OK, $${runs:-?} runs in $(FUZZ_SECONDS) s, $${cov:-cov: ?}, corpus $$(ls $(BUILD)/corpus | wc -l) files (log: $(BUILD)/fuzz.log)"; \
	else \
		echo "fuzz_csv: FAILED (exit $$rc) after $${runs:-?} runs; log: $(BUILD)/fuzz.log"; \
		tail -n 40 $(BUILD)/fuzz.log; \
		exit $$rc; \
	fi

bench: $(BUILD)/test_csv
	$(BUILD)/test_csv --bench $(BENCH_MB)

clean:
	rm -rf $(BUILD)
