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

BUILD		:= test/unit/build/csv

LIB_SRCS	:= src/lib/csv.c
LIB_HDRS	:= src/lib/csv.h
TESTS		:= test_csv
PGFLAGS_CPPFLAGS = $(CPPFLAGS) -isystem $$($(PG_CONFIG) --includedir-server)
FUZZER		:= fuzz_csv
FUZZ_MAX_LEN := 8192
BENCH_MB	?= 100

# Seeds are written here rather than kept in the repository (octal
# escapes: the shell may be dash, whose printf has no \x).
define FUZZ_SEEDS
@printf '\000\000\000\002\000a,b\n1,2\n' > $(BUILD)/corpus/seed-simple
@printf '\001\000\000\004\002\357\273\277a;b\r\n"x;""y""\r\nz";2\r\n\r\n' > $(BUILD)/corpus/seed-semi
@printf '\002\000\000\001\000a\tb\r\r"\t"\tq"\r"ab"c\t"open' > $(BUILD)/corpus/seed-tab
@printf '\165\073\047\003\001h;k\n\047a\047\047b\047;x\n' > $(BUILD)/corpus/seed-options
@printf '\200\000\000\060\000a\376b\377c\3761\3772\3773' > $(BUILD)/corpus/seed-roundtrip
endef

include test/unit/common.mk

.PHONY: bench

bench: $(BUILD)/test_csv
	$(BUILD)/test_csv --bench $(BENCH_MB)
