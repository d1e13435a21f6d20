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

BUILD		:= test/unit/build/cron

LIB_SRCS	:= src/lib/cron.c
LIB_HDRS	:= src/lib/cron.h
TESTS		:= test_cron

include test/unit/common.mk
