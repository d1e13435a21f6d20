/*
 * geometry.c
 *		Operations on a DpGeom: the first point, the CRS guess, the boundary
 *		test, flipping, rounding, collections to MultiPolygons and ring
 *		orientation.  Pure C (see geometry.h); the readers and writers are in
 *		geometry_io.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geometry.h"

void
dp_geom_free(DpGeom *g)
{
	int			i;

	if (g == NULL)
		return;
	for (i = 0; i < g->nparts; i++)
		dp_geom_free(&g->parts[i]);
	free(g->parts);
	free(g->coords);
	memset(g, 0, sizeof(*g));
}

const char *
dp_geom_type_name(DpGeomType t)
{
	switch (t)
	{
		case DP_GEOM_POINT:
			return "POINT";
		case DP_GEOM_LINESTRING:
			return "LINESTRING";
		case DP_GEOM_POLYGON:
			return "POLYGON";
		case DP_GEOM_MULTIPOINT:
			return "MULTIPOINT";
		case DP_GEOM_MULTILINESTRING:
			return "MULTILINESTRING";
		case DP_GEOM_MULTIPOLYGON:
			return "MULTIPOLYGON";
		case DP_GEOM_COLLECTION:
			return "GEOMETRYCOLLECTION";
	}
	return "GEOMETRY";
}

/* First coordinate of a coordinate-holding geometry, or false when empty. */
static bool
first_coord(const DpGeom *g, double *x, double *y)
{
	if (g->ncoords == 0)
		return false;
	*x = g->coords[0];
	*y = g->coords[1];
	return true;
}

static bool
polygon_first(const DpGeom *p, double *x, double *y)
{
	return p->nparts > 0 && first_coord(&p->parts[0], x, y);
}

const char *
dp_geom_first_point(const DpGeom *g, double *x, double *y)
{
	bool		ok = false;

	switch (g->type)
	{
		case DP_GEOM_POINT:
		case DP_GEOM_LINESTRING:
			ok = first_coord(g, x, y);
			break;
		case DP_GEOM_POLYGON:
			ok = polygon_first(g, x, y);
			break;
		case DP_GEOM_MULTIPOLYGON:
			ok = g->nparts > 0 && polygon_first(&g->parts[0], x, y);
			break;
		case DP_GEOM_MULTILINESTRING:
			ok = g->nparts > 0 && first_coord(&g->parts[0], x, y);
			break;
		case DP_GEOM_COLLECTION:
			if (g->nparts == 0)
				break;
			if (g->parts[0].type == DP_GEOM_MULTIPOLYGON)
				ok = g->parts[0].nparts > 0 && polygon_first(&g->parts[0].parts[0], x, y);
			else if (g->parts[0].type == DP_GEOM_POLYGON)
				ok = polygon_first(&g->parts[0], x, y);
			else
				return "Unexpected geom type within GeometryCollection";
			break;
		default:
			return "Unexpected geom type";
	}
	/* an empty geometry has no point to place: nothing to load */
	return ok ? NULL : "invalid WKT";
}

/* Whether (x, y) lies on the segment a-b (exactly). */
static bool
on_segment(double ax, double ay, double bx, double by, double x, double y)
{
	double		cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);

	if (cross != 0.0)
		return false;
	return x >= fmin(ax, bx) && x <= fmax(ax, bx) && y >= fmin(ay, by) && y <= fmax(ay, by);
}

/* Crossings of a ray to +x from (x, y) with a ring; -1 when on an edge. */
static int
ring_crossings(const DpGeom *r, double x, double y)
{
	int			i,
				n = 0;

	for (i = 0; i + 1 < r->ncoords; i++)
	{
		double		ax = r->coords[2 * i],
					ay = r->coords[2 * i + 1],
					bx = r->coords[2 * i + 2],
					by = r->coords[2 * i + 3];

		if (on_segment(ax, ay, bx, by, x, y))
			return -1;
		if ((ay > y) != (by > y) && x < ax + (y - ay) * (bx - ax) / (by - ay))
			n++;
	}
	return n;
}

static bool
polygon_covers(const DpGeom *p, double x, double y)
{
	int			i;
	int			c;

	if (p->nparts == 0)
		return false;
	c = ring_crossings(&p->parts[0], x, y);
	if (c < 0)
		return true;
	if (c % 2 == 0)
		return false;
	for (i = 1; i < p->nparts; i++)
	{
		c = ring_crossings(&p->parts[i], x, y);
		if (c < 0)
			return true;
		if (c % 2 == 1)
			return false;		/* in a hole */
	}
	return true;
}

bool
dp_geom_covers_point(const DpGeom *area, double x, double y)
{
	int			i;

	if (area->type == DP_GEOM_POLYGON)
		return polygon_covers(area, x, y);
	if (area->type == DP_GEOM_MULTIPOLYGON)
		for (i = 0; i < area->nparts; i++)
			if (polygon_covers(&area->parts[i], x, y))
				return true;
	return false;
}

/* The pipeline's default boundary, a box around England. */
static double england_coords[] = {
	2.95, 56, 2.95, 49.5, -7, 49.5, -7, 53.4, -4, 53.4, -4, 56, 2.95, 56
};
static DpGeom england_ring = {DP_GEOM_LINESTRING, 7, england_coords, 0, NULL};
static const DpGeom england = {DP_GEOM_POLYGON, 0, NULL, 1, &england_ring};

const DpGeom *
dp_geom_england(void)
{
	return &england;
}

static bool
degrees_like(double x, double y)
{
	return x > -60.0 && x < 60.0 && y > -60.0 && y < 60.0;
}

static bool
easting_northing_like(double x, double y)
{
	return x > 1000.0 && x < 1000000.0 && y > 1000.0 && y < 1000000.0;
}

static bool
metres_like(double x, double y)
{
	(void) x;
	return y > 6000000.0 && y < 10000000.0;
}

/* Transform (x, y) from srid and test it against the boundary. */
static bool
lands_inside(int srid, double x, double y, const DpGeom *boundary,
			 DpGeomTransformFn fn, void *arg)
{
	if (srid != 4326 && (fn == NULL || !fn(arg, srid, &x, &y)))
		return false;
	return dp_geom_covers_point(boundary, x, y);
}

static void
set_issue(DpGeomDetect *d, const char *issue, const char *severity, const char *message,
		  bool reject)
{
	d->issue = issue;
	d->severity = severity;
	d->message = message;
	d->reject = reject;
}

void
dp_geom_detect(double x, double y, int declared_srid, const DpGeom *boundary, bool custom,
			   DpGeomTransformFn fn, void *arg, DpGeomDetect *d)
{
	const char *wgs84_out = custom ? "WGS84 out of bounds of custom boundary" :
		"WGS84 out of bounds of England";
	const char *osgb_out = custom ? "OSGB out of bounds of custom boundary" :
		"OSGB out of bounds of England";
	const char *outside = "Geometry must be in England";

	memset(d, 0, sizeof(*d));
	if (boundary == NULL)
		boundary = &england;
	d->srid = 4326;

	if (!isfinite(x) || !isfinite(y))
	{
		set_issue(d, "invalid coordinates", "error",
				  "Geometry must use WGS84, OSGB or Mercator coordinates", true);
		return;
	}

	/* the value named its CRS: no guessing */
	if (declared_srid > 0)
	{
		double		px = x,
					py = y;

		d->srid = declared_srid;
		if (declared_srid != 4326 && (fn == NULL || !fn(arg, declared_srid, &px, &py)))
			set_issue(d, "invalid coordinates", "error",
					  "The geometry's SRID is not one PostGIS can transform to WGS84.", true);
		else if (!dp_geom_covers_point(boundary, px, py))
			set_issue(d, declared_srid == 27700 ? osgb_out : wgs84_out, "error", outside, true);
		return;
	}

	if (degrees_like(x, y))
	{
		if (dp_geom_covers_point(boundary, x, y))
			return;
		if (dp_geom_covers_point(boundary, y, x))
		{
			d->flip = true;
			set_issue(d, "WGS84 flipped", "warning", NULL, false);
			return;
		}
		set_issue(d, wgs84_out, "error", outside, true);
		return;
	}

	if (easting_northing_like(x, y))
	{
		d->srid = 27700;
		if (lands_inside(27700, x, y, boundary, fn, arg))
			set_issue(d, "OSGB", "warning", NULL, false);
		else if (lands_inside(27700, y, x, boundary, fn, arg))
		{
			d->flip = true;
			set_issue(d, "OSGB flipped", "warning", NULL, false);
		}
		else
			set_issue(d, osgb_out, "error", outside, true);
		return;
	}

	d->srid = 3857;
	if (metres_like(x, y) && lands_inside(3857, x, y, boundary, fn, arg))
	{
		set_issue(d, "Mercator", "warning", NULL, false);
		return;
	}
	if (metres_like(y, x) && lands_inside(3857, y, x, boundary, fn, arg))
	{
		d->flip = true;
		set_issue(d, "Mercator flipped", "warning", NULL, false);
		return;
	}
	d->srid = 4326;
	set_issue(d, "invalid coordinates", "error",
			  "Geometry must use WGS84, OSGB or Mercator coordinates", true);
}

void
dp_geom_flip(DpGeom *g)
{
	int			i;

	for (i = 0; i < g->ncoords; i++)
	{
		double		t = g->coords[2 * i];

		g->coords[2 * i] = g->coords[2 * i + 1];
		g->coords[2 * i + 1] = t;
	}
	for (i = 0; i < g->nparts; i++)
		dp_geom_flip(&g->parts[i]);
}

void
dp_geom_round(DpGeom *g, int digits)
{
	double		scale = pow(10.0, digits);
	int			i;

	for (i = 0; i < 2 * g->ncoords; i++)
	{
		double		v = round(g->coords[i] * scale) / scale;

		g->coords[i] = v == 0.0 ? 0.0 : v;	/* no "-0.000000" */
	}
	for (i = 0; i < g->nparts; i++)
		dp_geom_round(&g->parts[i], digits);
}

/* Count the polygons under g (Polygon, MultiPolygon, collections). */
static int
count_polygons(const DpGeom *g)
{
	int			i,
				n = 0;

	if (g->type == DP_GEOM_POLYGON)
		return 1;
	if (g->type == DP_GEOM_MULTIPOLYGON || g->type == DP_GEOM_COLLECTION)
		for (i = 0; i < g->nparts; i++)
			n += count_polygons(&g->parts[i]);
	return n;
}

/* Move the polygons under g into out[*n...], leaving g's husks to free. */
static void
take_polygons(DpGeom *g, DpGeom *out, int *n)
{
	int			i;

	if (g->type == DP_GEOM_POLYGON)
	{
		out[(*n)++] = *g;
		memset(g, 0, sizeof(*g));
		return;
	}
	if (g->type == DP_GEOM_MULTIPOLYGON || g->type == DP_GEOM_COLLECTION)
		for (i = 0; i < g->nparts; i++)
			take_polygons(&g->parts[i], out, n);
}

bool
dp_geom_to_multipolygon(DpGeom *g)
{
	DpGeom	   *polys;
	int			n = 0,
				count;

	if (g->type == DP_GEOM_MULTIPOLYGON)
		return true;
	if (g->type != DP_GEOM_POLYGON && g->type != DP_GEOM_COLLECTION)
		return false;
	count = count_polygons(g);
	polys = count ? malloc(sizeof(DpGeom) * count) : NULL;
	if (count && polys == NULL)
		return false;
	take_polygons(g, polys, &n);
	dp_geom_free(g);
	g->type = DP_GEOM_MULTIPOLYGON;
	g->nparts = n;
	g->parts = polys;
	return true;
}

/* The turn at vertex m of a ring of n positions, from the nearest distinct ones around it. */
static double
turn_at(const double *c, int n, int m)
{
	int			p,
				q;

	for (p = (m + n - 1) % n; p != m && c[2 * p] == c[2 * m] && c[2 * p + 1] == c[2 * m + 1];)
		p = (p + n - 1) % n;
	for (q = (m + 1) % n; q != m && c[2 * q] == c[2 * m] && c[2 * q + 1] == c[2 * m + 1];)
		q = (q + 1) % n;
	if (p == m || q == m)
		return 0.0;
	return (c[2 * m] - c[2 * p]) * (c[2 * q + 1] - c[2 * m + 1]) -
		(c[2 * m + 1] - c[2 * p + 1]) * (c[2 * q] - c[2 * m]);
}

/*
 * The orientation of a ring: > 0 counter-clockwise, < 0 clockwise, 0 when
 * undecided.  Taken at its lowest (then leftmost) vertex: the turn from the
 * nearest distinct vertex before it to the nearest distinct one after it,
 * for a simple ring the same answer as the signed area.  Reversing the ring
 * negates every such turn exactly (the same points, the same arithmetic), so
 * orienting twice changes nothing, even where an area would round or
 * overflow; a ring that passes its lowest vertex more than once takes the
 * sharpest turn there, and is left alone when two turns disagree.
 */
static double
ring_turn(const DpGeom *r)
{
	int			n = r->ncoords;
	int			i,
				m = 0;
	const double *c = r->coords;
	double		best = 0.0;

	/* a closed ring repeats its first position last: leave that out */
	if (n >= 2 && c[0] == c[2 * (n - 1)] && c[1] == c[2 * (n - 1) + 1])
		n--;
	if (n < 3)
		return 0.0;
	for (i = 1; i < n; i++)
		if (c[2 * i + 1] < c[2 * m + 1] ||
			(c[2 * i + 1] == c[2 * m + 1] && c[2 * i] < c[2 * m]))
			m = i;
	/* the sharpest turn there, then whether the equally sharp ones agree */
	for (i = 0; i < n; i++)
	{
		double		t;

		if (c[2 * i] != c[2 * m] || c[2 * i + 1] != c[2 * m + 1])
			continue;
		t = turn_at(c, n, i);
		if (isnan(t))
			return 0.0;
		if (fabs(t) > fabs(best))
			best = t;
	}
	for (i = 0; i < n; i++)
		if (c[2 * i] == c[2 * m] && c[2 * i + 1] == c[2 * m + 1] &&
			turn_at(c, n, i) == -best && best != 0.0)
			return 0.0;			/* as sharp one way as the other */
	return best;
}

static void
reverse_ring(DpGeom *r)
{
	int			i,
				j;

	for (i = 0, j = r->ncoords - 1; i < j; i++, j--)
	{
		double		tx = r->coords[2 * i],
					ty = r->coords[2 * i + 1];

		r->coords[2 * i] = r->coords[2 * j];
		r->coords[2 * i + 1] = r->coords[2 * j + 1];
		r->coords[2 * j] = tx;
		r->coords[2 * j + 1] = ty;
	}
}

void
dp_geom_orient(DpGeom *g)
{
	int			i;

	if (g->type == DP_GEOM_POLYGON)
	{
		for (i = 0; i < g->nparts; i++)
		{
			double		a = ring_turn(&g->parts[i]);

			if ((i == 0 && a < 0.0) || (i > 0 && a > 0.0))
				reverse_ring(&g->parts[i]);
		}
		return;
	}
	for (i = 0; i < g->nparts; i++)
		dp_geom_orient(&g->parts[i]);
}

int
dp_geom_count_coords(const DpGeom *g)
{
	int			i,
				n = g->ncoords;

	for (i = 0; i < g->nparts; i++)
		n += dp_geom_count_coords(&g->parts[i]);
	return n;
}
