# dataplatform — PGXS build.
#
#   make demo   install what is missing, build, start a throwaway cluster,
#               run the sample end to end (test/cluster.sh demo)
#   make test   the same set-up, then every suite (test/cluster.sh test)
#
# Plain `make`, `make install` and `make installcheck` work as for any PGXS
# extension against the server PG_CONFIG points at.

EXTENSION = dataplatform
MODULE_big = dataplatform
EXTVERSION = 0.2

# src/lib/ is the pure library (no backend headers); every other folder of
# src/ is one backend subsystem (see src/README.md for who may use whom).
SUBSYSTEMS = lib common spatial access catalog ingest events consumer worker
SRCS = src/dataplatform.c $(foreach d,$(SUBSYSTEMS),$(wildcard src/$(d)/*.c))
OBJS = $(SRCS:.c=.o)

# The extension script is built from the parts in src/sql/, in name order
# (one part per concern), so that each part stays readable.
# Upgrade scripts, built from src/sql/upgrade/ with every "-- @part <file>"
# line replaced by that part of src/sql/ (a part new in a release is written
# once, for the fresh install and the update alike).
UPGRADES = $(notdir $(wildcard src/sql/upgrade/dataplatform--*--*.sql))
DATA_built = dataplatform--$(EXTVERSION).sql $(UPGRADES)
# the published JSON Schemas import_contract checks documents against
DATA = $(wildcard standards/dataplatform-*.schema.json)
# PostgreSQL's headers as system headers: -Wextra then judges our code only
PG_CPPFLAGS = $(foreach d,$(SUBSYSTEMS),-Isrc/$(d)) -isystem $(shell $(PG_CONFIG) --includedir-server) -isystem $(shell $(PG_CONFIG) --includedir)
PG_CFLAGS = -Wall -Wextra -Werror
SHLIB_LINK = -ljansson -lcurl -lyaml -lpq

# --- releases (docs/install.md) ---------------------------------------------
# The library knows the extension version it implements: its worker waits
# while the database holds another (until ALTER EXTENSION ... UPDATE).
PG_CPPFLAGS += -DDP_EXTVERSION=\"$(EXTVERSION)\"
# Upgrade scripts dataplatform--A--B.sql, installed beside the extension script.
# `make deb`: the Debian package (debian/) built from a copy of the working
# tree in DEB_DIR, where the .deb lands; nothing is written into the tree.
DEB_DIR ?= /tmp/dataplatform-deb
# ------------------------------------------------------------------------------

# pg_regress suites (sql/*.sql against expected/*.out), in order.
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=.

# isolation specs (test/isolation/specs/*.spec against test/isolation/expected/*.out)
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation

EXTRA_CLEAN = $(foreach d,$(SUBSYSTEMS),src/$(d)/*.bc) results regression.diffs regression.out output_iso

PG_CONFIG ?= $(shell test -x /usr/lib/postgresql/15/bin/pg_config && echo /usr/lib/postgresql/15/bin/pg_config || echo pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)

# PGXS tracks no header dependencies: any header change rebuilds every object
$(OBJS): $(foreach d,$(SUBSYSTEMS),$(wildcard src/$(d)/*.h))

# objects that compile in DP_EXTVERSION follow a change of EXTVERSION
$(patsubst %.c,%.o,$(shell grep -l DP_EXTVERSION $(SRCS))): Makefile
endif

# rebuilt every time (a cat): a part added or removed must show at once
.PHONY: dataplatform--$(EXTVERSION).sql
dataplatform--$(EXTVERSION).sql:
	cat $(sort $(wildcard src/sql/*.sql)) > $@

$(UPGRADES): %: src/sql/upgrade/% $(wildcard src/sql/*.sql)
	awk '$$1 == "--" && $$2 == "@part" { f = "src/sql/" $$3; n = 0; \
	       while ((r = (getline l < f)) > 0) { print l; n++ } \
	       if (r < 0 || n == 0) { print "$<: no part " f > "/dev/stderr"; exit 1 } \
	       close(f); next } { print }' $< > $@.tmp
	mv $@.tmp $@

.PHONY: demo test unit fuzz bench deps deb

deps:
	bash test/cluster.sh deps

demo:
	bash test/cluster.sh demo

test:
	bash test/cluster.sh test

unit:
	$(MAKE) -C test/unit check

fuzz:
	$(MAKE) -C test/unit fuzz

bench:
	bash test/cluster.sh bench

# the Debian package postgresql-15-dataplatform, from the working tree as it
# is (tracked and untracked files, not ignored ones), into $(DEB_DIR)
deb:
	rm -rf '$(DEB_DIR)' && mkdir -p '$(DEB_DIR)/dataplatform'
	git ls-files -z --cached --others --exclude-standard \
	  | xargs -0 sh -c 'for f; do [ -f "$$f" ] && printf "%s\0" "$$f"; done' sh \
	  | tar --null -T - -cf - | tar -xf - -C '$(DEB_DIR)/dataplatform'
	cd '$(DEB_DIR)/dataplatform' && dpkg-buildpackage --build=binary --no-sign
	@ls -1 '$(DEB_DIR)'/*.deb
