/*
 * test_geometry.c
 *		Unit tests of src/lib/geometry*.c: WKT and GeoJSON reading (any
 *		case, SRID prefix, Z/M, EMPTY, garbage), the first point, the CRS
 *		guess with the pipeline's ranges and issue names (a stub stands in
 *		for PostGIS's transformation), the boundary test, flipping,
 *		rounding, collections to MultiPolygons, ring orientation, and the
 *		WKT and WKB writers (WKB read back).  Built with -Werror, run again
 *		under ASan+UBSan (test/unit/geometry.mk).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geometry.h"

static int	failures = 0;
static int	checks = 0;

#define CHECK(cond) \
	do { \
		checks++; \
		if (!(cond)) \
		{ \
			failures++; \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

/* Parse, write back as WKT with `digits`, compare. */
static void
roundtrip(const char *in, int digits, const char *want)
{
	DpGeom		g;
	DpGeomBuf	b = {0};
	int			srid;
	bool		gj;
	char		err[128];
	bool		ok = dp_geom_parse(in, strlen(in), &g, &srid, &gj, err, sizeof(err));

	CHECK(ok);
	if (!ok)
	{
		fprintf(stderr, "  parse of %s failed: %s\n", in, err);
		return;
	}
	dp_geom_write_wkt(&g, digits, &b);
	if (strcmp(b.data, want) != 0)
		fprintf(stderr, "  %s\n  gave %s\n  want %s\n", in, b.data, want);
	CHECK(strcmp(b.data, want) == 0);
	dp_geom_buf_free(&b);
	dp_geom_free(&g);
}

static void
bad(const char *in)
{
	DpGeom		g;
	int			srid;
	bool		gj;
	char		err[128];

	CHECK(!dp_geom_parse(in, strlen(in), &g, &srid, &gj, err, sizeof(err)));
	CHECK(err[0] != '\0');
	CHECK(g.nparts == 0 && g.ncoords == 0 && g.parts == NULL && g.coords == NULL);
}

/* Stub transformations: Web Mercator exactly, the National Grid roughly. */
static bool
stub_transform(void *arg, int srid, double *x, double *y)
{
	(void) arg;
	if (srid == 3857)
	{
		*x = *x / 6378137.0 * 180.0 / M_PI;
		*y = atan(sinh(*y / 6378137.0)) * 180.0 / M_PI;
		return true;
	}
	if (srid == 27700)
	{
		*x = (*x - 400000.0) / 69000.0 - 2.0;
		*y = (*y + 5527000.0) / 111200.0;
		return true;
	}
	return false;
}

static void
detect(double x, double y, int srid, const char *want_issue, bool want_reject, bool want_flip,
	   int want_srid)
{
	DpGeomDetect d;

	dp_geom_detect(x, y, srid, NULL, false, stub_transform, NULL, &d);
	if ((d.issue == NULL) != (want_issue == NULL) ||
		(d.issue && strcmp(d.issue, want_issue) != 0) || d.reject != want_reject ||
		d.flip != want_flip || d.srid != want_srid)
		fprintf(stderr, "  detect(%g, %g): issue %s reject %d flip %d srid %d\n",
				x, y, d.issue ? d.issue : "-", d.reject, d.flip, d.srid);
	CHECK((d.issue == NULL) == (want_issue == NULL));
	CHECK(d.issue == NULL || strcmp(d.issue, want_issue) == 0);
	CHECK(d.reject == want_reject);
	CHECK(d.flip == want_flip);
	CHECK(d.srid == want_srid);
}

static void
test_read_write(void)
{
	roundtrip("POINT( -0.127972   51.507722 )", 6, "POINT (-0.127972 51.507722)");
	roundtrip("point(1 2)", 1, "POINT (1.0 2.0)");
	roundtrip("SRID=27700;Point (530015 180415)", 0, "POINT (530015 180415)");
	roundtrip("srid=4326; POINT Z (1 2 3)", 0, "POINT (1 2)");
	roundtrip("POINTZM (1 2 3 4)", 0, "POINT (1 2)");
	roundtrip("POINT EMPTY", 0, "POINT EMPTY");
	roundtrip("MultiPolygon (((0 0, 1 0, 1 1, 0 0)), ((2 2, 3 2, 3 3, 2 2)))", 0,
			  "MULTIPOLYGON (((0 0,1 0,1 1,0 0)),((2 2,3 2,3 3,2 2)))");
	roundtrip("MULTIPOINT ((1 2), (3 4))", 0, "MULTIPOINT ((1 2),(3 4))");
	roundtrip("MULTIPOINT (1 2, 3 4)", 0, "MULTIPOINT ((1 2),(3 4))");
	roundtrip("GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1e1 -1.5E0))", 1,
			  "GEOMETRYCOLLECTION (POINT (1.0 2.0),LINESTRING (0.0 0.0,10.0 -1.5))");
	roundtrip("{\"type\": \"MultiPolygon\", \"coordinates\": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]}", 0,
			  "MULTIPOLYGON (((0 0,1 0,1 1,0 0)))");
	roundtrip("{\"type\": \"GeometryCollection\", \"geometries\": [{\"type\": \"Point\", \"coordinates\": [1, 2, 3]}]}",
			  0, "GEOMETRYCOLLECTION (POINT (1 2))");

	bad("");
	bad("garbage");
	bad("POINT");
	bad("POINT ()");
	bad("POINT (1)");
	bad("POINT (1 2) trailing");
	bad("POLYGON ((0 0, 1 0, 1 1))");			/* too few positions */
	bad("POLYGON ((0 0, 1 0, 1 1, 0 1))");		/* not closed */
	bad("SRID=;POINT (1 2)");
	bad("SRID=99999999;POINT (1 2)");
	bad("POINT (nan 1)");
	bad("POINT (0x10 1)");
	bad("LINEARRING (0 0, 1 1, 1 0, 0 0)");
	bad("{\"type\": \"Point\"}");
	bad("{\"type\": \"Polygon\", \"coordinates\": [[[0, 0], [1, 0]]]}");
	bad("{not json");
	{
		/* collections nested deeper than DP_GEOM_MAX_DEPTH */
		char		deep[1024] = "";
		int			i;

		for (i = 0; i < DP_GEOM_MAX_DEPTH + 2; i++)
			strcat(deep, "GEOMETRYCOLLECTION (");
		strcat(deep, "POINT (1 2)");
		for (i = 0; i < DP_GEOM_MAX_DEPTH + 2; i++)
			strcat(deep, ")");
		bad(deep);
	}
	{
		/* not NUL-terminated: only len bytes are read */
		const char *s = "POINT (1 2)XYZ";
		DpGeom		g;
		int			srid;
		bool		gj;
		char		err[64];

		CHECK(dp_geom_parse(s, 11, &g, &srid, &gj, err, sizeof(err)));
		dp_geom_free(&g);
	}
	{
		/* SRID prefix and legacy GeoJSON crs are reported */
		DpGeom		g;
		int			srid;
		bool		gj;
		char		err[64];
		const char *s = "{\"type\": \"Point\", \"coordinates\": [530015, 180415], "
			"\"crs\": {\"type\": \"name\", \"properties\": {\"name\": \"urn:ogc:def:crs:EPSG::27700\"}}}";

		CHECK(dp_geom_parse("SRID=27700;POINT (1 2)", 22, &g, &srid, &gj, err, sizeof(err)) && srid == 27700 && !gj);
		dp_geom_free(&g);
		CHECK(dp_geom_parse(s, strlen(s), &g, &srid, &gj, err, sizeof(err)) && srid == 27700 && gj);
		dp_geom_free(&g);
	}
}

static void
test_first_point_and_detect(void)
{
	DpGeom		g;
	int			srid;
	bool		gj;
	char		err[64];
	double		x,
				y;
	const char *s = "GEOMETRYCOLLECTION (POINT (1 2), POLYGON ((0 0, 1 0, 1 1, 0 0)))";

	CHECK(dp_geom_parse(s, strlen(s), &g, &srid, &gj, err, sizeof(err)));
	CHECK(strcmp(dp_geom_first_point(&g, &x, &y), "Unexpected geom type within GeometryCollection") == 0);
	dp_geom_free(&g);
	s = "MULTIPOINT (1 2)";
	CHECK(dp_geom_parse(s, strlen(s), &g, &srid, &gj, err, sizeof(err)));
	CHECK(strcmp(dp_geom_first_point(&g, &x, &y), "Unexpected geom type") == 0);
	dp_geom_free(&g);
	s = "MULTIPOLYGON (((5 6, 7 6, 7 7, 5 6)))";
	CHECK(dp_geom_parse(s, strlen(s), &g, &srid, &gj, err, sizeof(err)));
	CHECK(dp_geom_first_point(&g, &x, &y) == NULL && x == 5 && y == 6);
	dp_geom_free(&g);

	/* the pipeline's cases: Nelson's Column in every CRS and axis order */
	detect(-0.127972, 51.507722, 0, NULL, false, false, 4326);
	detect(51.507722, -0.127972, 0, "WGS84 flipped", false, true, 4326);
	detect(0.0, 0.0, 0, "WGS84 out of bounds of England", true, false, 4326);
	detect(0.0, 48.1, 0, "WGS84 out of bounds of England", true, false, 4326);
	detect(530015, 180415, 0, "OSGB", false, false, 27700);
	detect(180415, 530015, 0, "OSGB flipped", false, true, 27700);
	detect(-14245.780102, 6711600.069496, 0, "Mercator", false, false, 3857);
	detect(6711600.069496, -14245.780102, 0, "Mercator flipped", false, true, 3857);
	detect(1000, 100000000, 0, "invalid coordinates", true, false, 4326);
	detect(100000000, 10000, 0, "invalid coordinates", true, false, 4326);
	detect(NAN, 1, 0, "invalid coordinates", true, false, 4326);
	/* a declared SRID: no guessing, only the boundary */
	detect(530015, 180415, 27700, NULL, false, false, 27700);
	detect(51.5, -0.1, 4326, "WGS84 out of bounds of England", true, false, 4326);
	detect(1, 1, 2154, "invalid coordinates", true, false, 2154);

	/* a custom boundary names its issue */
	{
		const char *b = "POLYGON ((0 0, 0 1, 1 1, 1 0, 0 0))";
		DpGeomDetect d;

		CHECK(dp_geom_parse(b, strlen(b), &g, &srid, &gj, err, sizeof(err)));
		dp_geom_detect(0.5, 0.5, 0, &g, true, stub_transform, NULL, &d);
		CHECK(d.issue == NULL && !d.reject);
		dp_geom_detect(2, 2, 0, &g, true, stub_transform, NULL, &d);
		CHECK(d.issue && strcmp(d.issue, "WGS84 out of bounds of custom boundary") == 0 && d.reject);
		CHECK(dp_geom_covers_point(&g, 0, 0.5));	/* on an edge */
		dp_geom_free(&g);
	}
	/* the England box's corners */
	CHECK(dp_geom_covers_point(dp_geom_england(), -6.322778, 49.936111));
	CHECK(dp_geom_covers_point(dp_geom_england(), -2.007, 55.771));
	CHECK(!dp_geom_covers_point(dp_geom_england(), -5, 55));	/* Scotland's west, outside the step */
}

static void
test_steps(void)
{
	DpGeom		g;
	DpGeomBuf	b = {0};
	DpGeomBuf	w = {0};
	int			srid;
	bool		gj;
	char		err[64];
	DpGeom		back;
	/* clockwise exterior, counter-clockwise hole, in a collection with a point */
	const char *s = "GEOMETRYCOLLECTION (POLYGON ((0 0, 0 10, 10 10, 10 0, 0 0), (2 2, 4 2, 4 4, 2 2)), "
		"POINT (1 1), MULTIPOLYGON (((20 20, 21 20, 21 21, 20 20))), "
		"GEOMETRYCOLLECTION (POLYGON ((30 30, 31 30, 31 31, 30 30))))";

	CHECK(dp_geom_parse(s, strlen(s), &g, &srid, &gj, err, sizeof(err)));
	CHECK(dp_geom_to_multipolygon(&g));
	CHECK(g.type == DP_GEOM_MULTIPOLYGON && g.nparts == 3);
	dp_geom_orient(&g);
	dp_geom_write_wkt(&g, 0, &b);
	CHECK(strcmp(b.data, "MULTIPOLYGON (((0 0,10 0,10 10,0 10,0 0),(2 2,4 4,4 2,2 2)),"
				 "((20 20,21 20,21 21,20 20)),((30 30,31 30,31 31,30 30)))") == 0);
	if (strcmp(b.data, "MULTIPOLYGON (((0 0,10 0,10 10,0 10,0 0),(2 2,4 4,4 2,2 2)),"
			   "((20 20,21 20,21 21,20 20)),((30 30,31 30,31 31,30 30)))") != 0)
		fprintf(stderr, "  gave %s\n", b.data);
	CHECK(dp_geom_count_coords(&g) == 17);

	/* WKB out and back gives the same geometry */
	dp_geom_write_wkb(&g, 4326, &w);
	CHECK(dp_geom_read_wkb((unsigned char *) w.data, w.len, &back, &srid, err, sizeof(err)));
	CHECK(srid == 4326);
	{
		DpGeomBuf	b2 = {0};

		dp_geom_write_wkt(&back, 0, &b2);
		CHECK(strcmp(b.data, b2.data) == 0);
		dp_geom_buf_free(&b2);
	}
	/* truncated WKB is refused at every length */
	{
		size_t		n;

		for (n = 0; n < w.len; n++)
		{
			DpGeom		t;

			CHECK(!dp_geom_read_wkb((unsigned char *) w.data, n, &t, &srid, err, sizeof(err)));
		}
	}
	dp_geom_free(&back);
	dp_geom_buf_free(&w);
	dp_geom_buf_free(&b);
	dp_geom_free(&g);

	/* orienting twice changes nothing, also for rings that touch themselves or overflow */
	{
		const char *rings[] = {
			"POLYGON ((0 0, 2 0, 1 1, 0 0, -1 1, -2 0, 0 0))",
			"POLYGON ((0 0, 1e300 0, 1e300 1e300, 0 0))",
			"POLYGON ((0 0, 0 0, 1 0, 1 0, 1 1, 0 0))",
		};
		int			k;

		for (k = 0; k < 3; k++)
		{
			DpGeomBuf	b1 = {0},
						b2 = {0};

			CHECK(dp_geom_parse(rings[k], strlen(rings[k]), &g, &srid, &gj, err, sizeof(err)));
			dp_geom_orient(&g);
			dp_geom_write_wkt(&g, 0, &b1);
			dp_geom_orient(&g);
			dp_geom_write_wkt(&g, 0, &b2);
			CHECK(strcmp(b1.data, b2.data) == 0);
			dp_geom_buf_free(&b1);
			dp_geom_buf_free(&b2);
			dp_geom_free(&g);
		}
	}

	/* a point or a line cannot become a MultiPolygon */
	s = "LINESTRING (0 0, 1 1)";
	CHECK(dp_geom_parse(s, strlen(s), &g, &srid, &gj, err, sizeof(err)));
	CHECK(!dp_geom_to_multipolygon(&g));
	dp_geom_free(&g);

	/* rounding (half away from zero, no negative zero) and flipping */
	s = "POINT (-0.0000004 51.5077225)";
	CHECK(dp_geom_parse(s, strlen(s), &g, &srid, &gj, err, sizeof(err)));
	dp_geom_round(&g, 6);
	dp_geom_flip(&g);
	dp_geom_write_wkt(&g, 6, &b);
	CHECK(strcmp(b.data, "POINT (51.507723 0.000000)") == 0 ||
		  strcmp(b.data, "POINT (51.507722 0.000000)") == 0);
	dp_geom_buf_free(&b);
	dp_geom_free(&g);
}

int
main(void)
{
	test_read_write();
	test_first_point_and_detect();
	test_steps();
	printf("%s - geometry: %d checks, %d failed\n", failures ? "not ok" : "ok", checks, failures);
	return failures ? 1 : 0;
}
