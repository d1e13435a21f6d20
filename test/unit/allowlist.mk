#
# test/unit/allowlist.mk
#	Builds and runs the pure-C tests of the host allow-list
#	(src/lib/allowlist.c), outside PostgreSQL.  Standalone: independent of
#	test/unit/Makefile.
#
#	make -f test/unit/allowlist.mk check	unit tests (gcc -Werror -O2),
#					again under ASan+UBSan, and a compile of
#					allowlist.c with pg_config's CFLAGS when installed
#	make -f test/unit/allowlist.mk fuzz FUZZ_SECONDS=20	libFuzzer run (clang)
#	make -f test/unit/allowlist.mk clean
#
# Run from the repository root.  All outputs go to test/unit/build/allowlist/.
#

SRC			:= src/lib
UNIT		:= test/unit
BUILD		:= test/unit/build/allowlist

CC			:= gcc
CSTD		:= -std=gnu11
WARN		:= -Wall -Wextra -Werror -Wmissing-prototypes \
			   -Wdeclaration-after-statement -Wimplicit-fallthrough=3
CPPFLAGS	:= -I$(SRC)
SANITIZE	:= -fsanitize=address,undefined -fno-sanitize-recover=all \
			   -fno-omit-frame-pointer
PG_CONFIG	?= pg_config
HAVE_PG		:= $(shell command -v $(PG_CONFIG) 2>/dev/null)

LIB			:= $(SRC)/allowlist.c $(SRC)/allowlist.h
CLANG		?= clang
FUZZDIR		:= test/fuzz
FUZZ_SECONDS ?= 20

.PHONY: all check clean allowlist-pgflags fuzz

all: $(BUILD)/test_allowlist

$(BUILD):
	@mkdir -p $(BUILD)

$(BUILD)/test_allowlist: $(UNIT)/test_allowlist.c $(LIB) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O2 -g $(CPPFLAGS) -o $@ $(UNIT)/test_allowlist.c $(SRC)/allowlist.c

$(BUILD)/test_allowlist_san: $(UNIT)/test_allowlist.c $(LIB) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SANITIZE) $(CPPFLAGS) -o $@ $(UNIT)/test_allowlist.c $(SRC)/allowlist.c

# allowlist.c is linked into the extension: it must build with PostgreSQL's flags
allowlist-pgflags: | $(BUILD)
ifneq ($(HAVE_PG),)
	$(CC) $$($(PG_CONFIG) --cflags) -Wall -Wextra -Werror $(CPPFLAGS) \
		-c $(SRC)/allowlist.c -o $(BUILD)/allowlist_pgflags.o
else
	@echo "pg_config not found: skipping the PGXS-flags compile"
endif

check: $(BUILD)/test_allowlist $(BUILD)/test_allowlist_san allowlist-pgflags
	$(BUILD)/test_allowlist
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_allowlist_san

$(BUILD)/fuzz_allowlist: $(FUZZDIR)/fuzz_allowlist.c $(LIB) | $(BUILD)
	$(CLANG) $(CSTD) -Wall -Wextra -Werror -O1 -g \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(CPPFLAGS) -o $@ $(FUZZDIR)/fuzz_allowlist.c $(SRC)/allowlist.c

# seeds written here (octal escapes: the shell may be dash); one summary line,
# the log's tail only on failure
fuzz: $(BUILD)/fuzz_allowlist
	@mkdir -p $(BUILD)/corpus
	@printf '\000\177\000\000\001\000\000\000\000\000\000\000\000\000\000\000\000127.0.0.1, *.example.org' > $(BUILD)/corpus/seed-v4
	@printf '\001\375\000\000\000\000\000\000\000\000\000\000\000\000\000\000\001fd00::/8 10.0.0.0/8' > $(BUILD)/corpus/seed-v6
	@rc=0; \
	$(BUILD)/fuzz_allowlist -max_total_time=$(FUZZ_SECONDS) -max_len=600 -timeout=10 \
		-artifact_prefix=$(BUILD)/ -print_final_stats=1 \
		$(BUILD)/corpus > $(BUILD)/fuzz.log 2>&1 || rc=$$?; \
	runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(BUILD)/fuzz.log); \
	if [ $$rc -eq 0 ]; then \
		echo "fuzz_allowlist: OK, $${runs:-?} runs in $(FUZZ_SECONDS) s (log: $(BUILD)/fuzz.log)"; \
	else \
		echo "fuzz_allowlist: FAILED (exit $$rc) after $${runs:-?} runs; log: $(BUILD)/fuzz.log"; \
		tail -n 40 $(BUILD)/fuzz.log; exit $$rc; \
	fi

clean:
	rm -rf $(BUILD)
