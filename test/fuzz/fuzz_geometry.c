/*
 * fuzz_geometry.c
 *		libFuzzer target for the geometry library (src/lib/geometry*.c):
 *		the WKT/GeoJSON reader on arbitrary bytes (exactly sized, so ASan
 *		sees any over-read), then every step the backend runs on what it
 *		reads: first point, CRS guess (a stub stands in for PostGIS),
 *		flip, round, collection to MultiPolygon, orientation, WKT and WKB
 *		out, and WKB back in; also the WKB reader on the raw bytes.
 *
 * Invariants (abort() on failure, which libFuzzer reports): a failed read
 * leaves an empty geometry and a reason; the WKB written reads back to the
 * same WKT; the WKT written reads again to the same WKT (idempotence);
 * orientation twice changes nothing.  Leaks are found by ASan at exit.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geometry.h"

#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); \
			abort(); \
		} \
	} while (0)

static bool
stub(void *arg, int srid, double *x, double *y)
{
	(void) arg;
	if (srid == 3857)
	{
		*x /= 111319.49;
		*y = atan(sinh(*y / 6378137.0)) * 57.29577951308232;
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

static char *
wkt_of(const DpGeom *g, int digits)
{
	DpGeomBuf	b = {0};

	dp_geom_write_wkt(g, digits, &b);
	CHECK(!b.failed && b.data != NULL);
	return b.data;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *in = malloc(size ? size : 1);
	DpGeom		g,
				back;
	int			srid,
				srid2;
	bool		gj;
	char		err[128];
	double		x,
				y;
	DpGeomDetect d;
	DpGeomBuf	w = {0};
	char	   *a,
			   *b;

	memcpy(in, data, size);

	/* raw bytes as WKB */
	if (dp_geom_read_wkb((const unsigned char *) in, size, &g, &srid, err, sizeof(err)))
		dp_geom_free(&g);
	else
		CHECK(g.parts == NULL && g.coords == NULL && g.nparts == 0 && g.ncoords == 0);

	if (!dp_geom_parse(in, size, &g, &srid, &gj, err, sizeof(err)))
	{
		CHECK(g.parts == NULL && g.coords == NULL && g.nparts == 0 && g.ncoords == 0);
		CHECK(err[0] != '\0');
		free(in);
		return 0;
	}

	/* WKB round trip */
	dp_geom_write_wkb(&g, srid, &w);
	CHECK(!w.failed);
	CHECK(dp_geom_read_wkb((unsigned char *) w.data, w.len, &back, &srid2, err, sizeof(err)));
	CHECK(srid2 == (srid > 0 ? srid : 0));
	a = wkt_of(&g, 17);
	b = wkt_of(&back, 17);
	CHECK(strcmp(a, b) == 0);
	free(a);
	free(b);
	dp_geom_free(&back);
	dp_geom_buf_free(&w);

	/* the backend's steps */
	if (dp_geom_first_point(&g, &x, &y) == NULL)
	{
		dp_geom_detect(x, y, srid, NULL, false, stub, NULL, &d);
		CHECK(d.reject || d.srid == 4326 || d.srid == 27700 || d.srid == 3857 || d.srid == srid);
		if (d.flip)
			dp_geom_flip(&g);
	}
	dp_geom_round(&g, 6);
	if (dp_geom_to_multipolygon(&g))
	{
		CHECK(g.type == DP_GEOM_MULTIPOLYGON);
		dp_geom_orient(&g);
		a = wkt_of(&g, 6);
		dp_geom_orient(&g);
		b = wkt_of(&g, 6);
		CHECK(strcmp(a, b) == 0);
		free(b);
		free(a);
	}

	/* what is written reads again, to the same text */
	a = wkt_of(&g, 6);
	{
		DpGeom		again;
		int			s2;
		bool		gj2;

		if (dp_geom_parse(a, strlen(a), &again, &s2, &gj2, err, sizeof(err)))
		{
			b = wkt_of(&again, 6);
			CHECK(strcmp(a, b) == 0);
			free(b);
			dp_geom_free(&again);
		}
		else
			/* only an empty member has no WKT reading ("POLYGON (EMPTY)") */
			CHECK(strstr(a, "EMPTY") != NULL || strstr(a, "nan") != NULL || strstr(a, "inf") != NULL);
	}
	free(a);
	dp_geom_free(&g);
	free(in);
	return 0;
}
