#
# test/unit/allowlist.mk
#	Builds and runs the pure-C tests of the host allow-list
#	(src/lib/allowlist.c), outside PostgreSQL.  Standalone: independent of
#	test/unit/Makefile.
#
#	make -f test/unit/allowlist.mk check	unit tests (gcc -Werror -O2),
#					again under ASan+UBSan, and a compile of
#					allowlist.c with pg_config's CFLAGS when installed
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

.PHONY: all check clean allowlist-pgflags

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

clean:
	rm -rf $(BUILD)
