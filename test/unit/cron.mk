#
# test/unit/cron.mk
#	Builds and runs the pure-C tests of the schedule parser (src/lib/cron.c),
#	outside PostgreSQL.  Standalone: independent of test/unit/Makefile.
#
#	make -f test/unit/cron.mk check	unit tests (gcc -Werror -O2), again
#					under ASan+UBSan, and a compile of cron.c
#					with pg_config's CFLAGS when installed
#	make -f test/unit/cron.mk clean
#
# Run from the repository root.  All outputs go to test/unit/build/cron/.
#

SRC			:= src/lib
UNIT		:= test/unit
BUILD		:= test/unit/build/cron

CC			:= gcc
CSTD		:= -std=gnu11
WARN		:= -Wall -Wextra -Werror -Wmissing-prototypes \
			   -Wdeclaration-after-statement -Wimplicit-fallthrough=3
CPPFLAGS	:= -I$(SRC)
SANITIZE	:= -fsanitize=address,undefined -fno-sanitize-recover=all \
			   -fno-omit-frame-pointer
PG_CONFIG	?= pg_config
HAVE_PG		:= $(shell command -v $(PG_CONFIG) 2>/dev/null)

LIB			:= $(SRC)/cron.c $(SRC)/cron.h

.PHONY: all check clean cron-pgflags

all: $(BUILD)/test_cron

$(BUILD):
	@mkdir -p $(BUILD)

$(BUILD)/test_cron: $(UNIT)/test_cron.c $(LIB) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O2 -g $(CPPFLAGS) -o $@ $(UNIT)/test_cron.c $(SRC)/cron.c

$(BUILD)/test_cron_san: $(UNIT)/test_cron.c $(LIB) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SANITIZE) $(CPPFLAGS) -o $@ $(UNIT)/test_cron.c $(SRC)/cron.c

# cron.c is linked into the extension: it must build with PostgreSQL's flags
cron-pgflags: | $(BUILD)
ifneq ($(HAVE_PG),)
	$(CC) $$($(PG_CONFIG) --cflags) -Wall -Wextra -Werror $(CPPFLAGS) \
		-c $(SRC)/cron.c -o $(BUILD)/cron_pgflags.o
else
	@echo "pg_config not found: skipping the PGXS-flags compile"
endif

check: $(BUILD)/test_cron $(BUILD)/test_cron_san cron-pgflags
	$(BUILD)/test_cron
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_cron_san

clean:
	rm -rf $(BUILD)
