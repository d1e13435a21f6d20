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

BUILD		:= test/unit/build/allowlist

LIB_SRCS	:= src/lib/allowlist.c
LIB_HDRS	:= src/lib/allowlist.h
TESTS		:= test_allowlist
FUZZER		:= fuzz_allowlist
FUZZ_MAX_LEN := 600
FUZZ_SECONDS ?= 20

# seeds (octal escapes: the shell may be dash)
define FUZZ_SEEDS
@printf '\000\177\000\000\001\000\000\000\000\000\000\000\000\000\000\000\000127.0.0.1, *.example.org' > $(BUILD)/corpus/seed-v4
@printf '\001\375\000\000\000\000\000\000\000\000\000\000\000\000\000\000\001fd00::/8 10.0.0.0/8' > $(BUILD)/corpus/seed-v6
endef

include test/unit/common.mk
