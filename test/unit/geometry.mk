#
# test/unit/geometry.mk
#	Builds and runs the pure-C tests of the geometry library
#	(src/lib/geometry.c, geometry_io.c), outside PostgreSQL.  Standalone.
#
#	make -f test/unit/geometry.mk check	unit tests (gcc -Werror -O2), again
#					under ASan+UBSan (leaks included), and a
#					compile with pg_config's CFLAGS
#	make -f test/unit/geometry.mk fuzz FUZZ_SECONDS=30
#					libFuzzer run (clang); non-zero exit on a
#					finding; the log goes to build/geometry/fuzz.log
#	make -f test/unit/geometry.mk clean
#
# Run from the repository root.  Needs gcc and libjansson-dev; fuzz needs
# clang and libclang-rt-14-dev.  All outputs go to test/unit/build/geometry/.
#

SRC			:= src/lib
UNIT		:= test/unit
FUZZDIR		:= test/fuzz
BUILD		:= test/unit/build/geometry

CC			:= gcc
CLANG		?= clang
CSTD		:= -std=gnu11
WARN		:= -Wall -Wextra -Werror -Wmissing-prototypes \
			   -Wdeclaration-after-statement -Wimplicit-fallthrough=3
CPPFLAGS	:= -I$(SRC)
LIBS		:= -ljansson -lm
SANITIZE	:= -fsanitize=address,undefined -fno-sanitize-recover=all \
			   -fno-omit-frame-pointer
FUZZ_SECONDS ?= 30
FUZZ_FLAGS	?=
PG_CONFIG	?= pg_config
HAVE_PG		:= $(shell command -v $(PG_CONFIG) 2>/dev/null)

LIB_SRCS	:= $(SRC)/geometry.c $(SRC)/geometry_io.c $(SRC)/geometry_out.c
LIB			:= $(LIB_SRCS) $(SRC)/geometry.h

.PHONY: all check fuzz fuzz-build clean geometry-pgflags

all: $(BUILD)/test_geometry

$(BUILD):
	@mkdir -p $(BUILD) $(BUILD)/corpus

$(BUILD)/test_geometry: $(UNIT)/test_geometry.c $(LIB) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O2 -g $(CPPFLAGS) -o $@ $(UNIT)/test_geometry.c $(LIB_SRCS) $(LIBS)

$(BUILD)/test_geometry_san: $(UNIT)/test_geometry.c $(LIB) | $(BUILD)
	$(CC) $(CSTD) $(WARN) -O1 -g $(SANITIZE) $(CPPFLAGS) -o $@ $(UNIT)/test_geometry.c $(LIB_SRCS) $(LIBS)

# linked into the extension: must build with PostgreSQL's flags
geometry-pgflags: | $(BUILD)
ifneq ($(HAVE_PG),)
	for f in $(LIB_SRCS); do \
		$(CC) $$($(PG_CONFIG) --cflags) -Wall -Wextra -Werror $(CPPFLAGS) \
			-isystem $$($(PG_CONFIG) --includedir-server) \
			-c $$f -o $(BUILD)/$$(basename $$f .c)_pgflags.o || exit 1; \
	done
else
	@echo "pg_config not found: skipping the PGXS-flags compile"
endif

check: $(BUILD)/test_geometry $(BUILD)/test_geometry_san geometry-pgflags
	$(BUILD)/test_geometry
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/test_geometry_san

$(BUILD)/fuzz_geometry: $(FUZZDIR)/fuzz_geometry.c $(LIB) | $(BUILD)
	$(CLANG) $(CSTD) -Wall -Wextra -Werror -O1 -g \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(CPPFLAGS) -o $@ $(FUZZDIR)/fuzz_geometry.c $(LIB_SRCS) $(LIBS)

fuzz-build: $(BUILD)/fuzz_geometry

# Seeds are written here (the shell may be dash: plain printf strings).
# libFuzzer's output goes to fuzz.log; one summary line is printed, the
# log's tail only on failure (exit status non-zero).
fuzz: $(BUILD)/fuzz_geometry
	@printf 'POINT (-0.127972 51.507722)' > $(BUILD)/corpus/seed-point
	@printf 'SRID=27700;MultiPolygon (((530000 180000, 530100 180000, 530100 180100, 530000 180000)),((1 2,3 4,5 6,1 2)))' > $(BUILD)/corpus/seed-multi
	@printf 'GEOMETRYCOLLECTION (POINT Z (1 2 3), POLYGON ((0 0, 1 0, 1 1, 0 0), (0.1 0.1, 0.2 0.1, 0.2 0.2, 0.1 0.1)), MULTIPOINT ((1 2), 3 4), LINESTRING EMPTY)' > $(BUILD)/corpus/seed-collection
	@printf '{"type": "MultiPolygon", "coordinates": [[[[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51], [-0.1, 51.5]]]], "crs": {"properties": {"name": "EPSG:27700"}}}' > $(BUILD)/corpus/seed-geojson
	@printf '{"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}, {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]]]}]}' > $(BUILD)/corpus/seed-geojson-collection
	@rc=0; \
	$(BUILD)/fuzz_geometry -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
		-artifact_prefix=$(BUILD)/ -print_final_stats=1 $(FUZZ_FLAGS) \
		$(BUILD)/corpus > $(BUILD)/fuzz.log 2>&1 || rc=$$?; \
	runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(BUILD)/fuzz.log); \
	cov=$$(grep -o 'cov: [0-9]*' $(BUILD)/fuzz.log | tail -1); \
	if [ $$rc -eq 0 ]; then \
		echo "fuzz_geometry: OK, $${runs:-?} runs in $(FUZZ_SECONDS) s, $${cov:-cov: ?}, corpus $$(ls $(BUILD)/corpus | wc -l) files (log: $(BUILD)/fuzz.log)"; \
	else \
		echo "fuzz_geometry: FAILED (exit $$rc) after $${runs:-?} runs; log: $(BUILD)/fuzz.log"; \
		tail -n 40 $(BUILD)/fuzz.log; \
		exit $$rc; \
	fi

clean:
	rm -rf $(BUILD)
