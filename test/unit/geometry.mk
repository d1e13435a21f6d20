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

BUILD		:= test/unit/build/geometry

LIB_SRCS	:= src/lib/geometry.c src/lib/geometry_io.c src/lib/geometry_out.c
LIB_HDRS	:= src/lib/geometry.h
LIBS		:= -ljansson -lm
TESTS		:= test_geometry
PGFLAGS_CPPFLAGS = $(CPPFLAGS) -isystem $$($(PG_CONFIG) --includedir-server)
FUZZER		:= fuzz_geometry
FUZZ_MAX_LEN := 4096

# seeds (the shell may be dash: plain printf strings)
define FUZZ_SEEDS
@printf 'POINT (-0.127972 51.507722)' > $(BUILD)/corpus/seed-point
@printf 'SRID=27700;MultiPolygon (((530000 180000, 530100 180000, 530100 180100, 530000 180000)),((1 2,3 4,5 6,1 2)))' > $(BUILD)/corpus/seed-multi
@printf 'GEOMETRYCOLLECTION (POINT Z (1 2 3), POLYGON ((0 0, 1 0, 1 1, 0 0), (0.1 0.1, 0.2 0.1, 0.2 0.2, 0.1 0.1)), MULTIPOINT ((1 2), 3 4), LINESTRING EMPTY)' > $(BUILD)/corpus/seed-collection
@printf '{"type": "MultiPolygon", "coordinates": [[[[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51], [-0.1, 51.5]]]], "crs": {"properties": {"name": "EPSG:27700"}}}' > $(BUILD)/corpus/seed-geojson
@printf '{"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}, {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]]]}]}' > $(BUILD)/corpus/seed-geojson-collection
endef

include test/unit/common.mk
