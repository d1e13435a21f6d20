/*
 * harmonise_geom.c
 *		One geometry value -> WKT in WGS84 and its issues, with the
 *		planning-data pipeline's rules: read (src/lib/geometry_io.c), guess
 *		the CRS from the first point and test the boundary
 *		(src/lib/geometry.c), flip, reproject (PostGIS's ST_Transform, so
 *		PROJ's best available transformation), round to 6 places, simplify
 *		at 1e-6 degrees when that keeps the polygon valid, make valid
 *		(ST_MakeValid, then ST_Buffer(0) when still invalid), collect the
 *		polygons into a MultiPolygon and orient the rings.
 *
 * Memory: DpSpatial lives in the context current at dp_spatial_begin; each
 * value's scratch lives in sp->cxt, reset at every call.  The DpGeom trees
 * (malloc'd by the pure library) are owned by sp->work and freed at the end
 * of every call, also when PostGIS raises.
 *
 * Errors: PostGIS's errors on a value (GEOS exceptions, a failed
 * transformation) are caught and become the issue "invalid geometry - not
 * fixable".  That is safe without a subtransaction because the functions
 * called on a value are pure computations: the one that reads tables
 * (ST_Transform, for spatial_ref_sys) is warmed up for every SRID it can
 * meet in dp_spatial_begin, outside the catch.
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/memutils.h"

#include "spatial.h"
#include "spatial_internal.h"

/* The SRIDs a value may declare ("SRID=n;"); all are warmed up. */
static const int known_srids[] = {4326, 4258, 27700, 3857};

#define N_KNOWN_SRIDS ((int) (sizeof(known_srids) / sizeof(known_srids[0])))

struct DpSpatial
{
	DpPostgis	pg;
	MemoryContext cxt;			/* per value, reset at each call */
	DpGeom		boundary;		/* WGS84 Polygon/MultiPolygon */
	bool		custom;			/* boundary is the dataset's own */
	DpGeom		work;			/* the value being harmonised */
	DpGeom		tmp;
	int			tmp_srid;		/* tmp holds work transformed from it, or 0 */
	DpGeomBuf	buf;
};

static void
release_work(DpSpatial *sp)
{
	dp_geom_free(&sp->work);
	dp_geom_free(&sp->tmp);
	dp_geom_buf_free(&sp->buf);
}

/* A geometry as PostGIS's, through EWKB. */
static Datum
to_postgis(DpSpatial *sp, const DpGeom *g, int srid)
{
	bytea	   *ba;

	sp->buf.len = 0;
	dp_geom_write_wkb(g, srid, &sp->buf);
	if (sp->buf.failed)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	ba = palloc(VARHDRSZ + sp->buf.len);
	SET_VARSIZE(ba, VARHDRSZ + sp->buf.len);
	memcpy(VARDATA(ba), sp->buf.data, sp->buf.len);
	return FunctionCall1(&sp->pg.from_wkb, PointerGetDatum(ba));
}

/* PostGIS's geometry into *out (freed first), through WKB. */
static void
from_postgis(DpSpatial *sp, Datum geom, DpGeom *out)
{
	bytea	   *ba = DatumGetByteaPP(FunctionCall1(&sp->pg.as_wkb, geom));
	int			srid;
	char		err[64];

	dp_geom_free(out);
	if (!dp_geom_read_wkb((const unsigned char *) VARDATA_ANY(ba), VARSIZE_ANY_EXHDR(ba),
						  out, &srid, err, sizeof(err)))
		elog(ERROR, "cannot read PostGIS's WKB: %s", err);
}

/* "Valid Geometry", or GEOS's reason ("Self-intersection[x y]"). */
static char *
validity(DpSpatial *sp, Datum geom)
{
	return TextDatumGetCString(FunctionCall1(&sp->pg.valid_reason, geom));
}

static bool
is_valid_reason(const char *r)
{
	return strcmp(r, "Valid Geometry") == 0;
}

/*
 * DpGeomTransformFn over PostGIS: a point from srid to WGS84.  When the
 * point asked for is the value's own first point, the whole value is
 * transformed into sp->tmp (kept for the reprojection step, which is then
 * not done twice) and its first point answered.
 */
static bool transform_one(DpSpatial *sp, int srid, double *x, double *y);

static bool
transform_point(void *arg, int srid, double *x, double *y)
{
	DpSpatial  *sp = arg;
	double		fx,
				fy;

	if (sp->work.type != 0 && dp_geom_first_point(&sp->work, &fx, &fy) == NULL &&
		fx == *x && fy == *y)
	{
		from_postgis(sp, FunctionCall2(&sp->pg.transform, to_postgis(sp, &sp->work, srid),
									   Int32GetDatum(4326)), &sp->tmp);
		sp->tmp_srid = srid;
		return dp_geom_first_point(&sp->tmp, x, y) == NULL && isfinite(*x) && isfinite(*y);
	}
	return transform_one(sp, srid, x, y);
}

/* A single point from srid to WGS84 through PostGIS. */
static bool
transform_one(DpSpatial *sp, int srid, double *x, double *y)
{
	double		c[2] = {*x, *y};
	DpGeom		p = {DP_GEOM_POINT, 1, c, 0, NULL};
	DpGeom		out = {0};
	Datum		g;
	bool		ok;

	g = FunctionCall2(&sp->pg.transform, to_postgis(sp, &p, srid), Int32GetDatum(4326));
	from_postgis(sp, g, &out);
	ok = out.ncoords == 1 && isfinite(out.coords[0]) && isfinite(out.coords[1]);
	if (ok)
	{
		*x = out.coords[0];
		*y = out.coords[1];
	}
	dp_geom_free(&out);
	return ok;
}

bool
dp_spatial_boundary_ok(const char *wkt, char *err, size_t errcap)
{
	DpGeom		g;
	int			srid;
	bool		geojson;
	bool		ok;

	if (!dp_geom_parse(wkt, strlen(wkt), &g, &srid, &geojson, err, errcap))
		return false;
	ok = g.type == DP_GEOM_POLYGON || g.type == DP_GEOM_MULTIPOLYGON;
	if (!ok)
		snprintf(err, errcap, "a boundary must be a Polygon or MultiPolygon, not %s",
				 dp_geom_type_name(g.type));
	dp_geom_free(&g);
	return ok;
}

static void
free_boundary(void *arg)
{
	dp_geom_free((DpGeom *) arg);
}

DpSpatial *
dp_spatial_begin(const char *boundary_wkt)
{
	DpSpatial  *sp = palloc0(sizeof(DpSpatial));
	int			i;

	dp_postgis_lookup(&sp->pg, CurrentMemoryContext);
	sp->cxt = AllocSetContextCreate(CurrentMemoryContext, "dataplatform geometry",
									ALLOCSET_DEFAULT_SIZES);
	if (boundary_wkt)
	{
		char		err[128];
		int			srid;
		bool		geojson;

		if (!dp_geom_parse(boundary_wkt, strlen(boundary_wkt), &sp->boundary, &srid,
						   &geojson, err, sizeof(err)) ||
			(sp->boundary.type != DP_GEOM_POLYGON && sp->boundary.type != DP_GEOM_MULTIPOLYGON))
		{
			dp_geom_free(&sp->boundary);
			elog(ERROR, "stored boundary does not read as a polygon: %s", err);
		}
		sp->custom = true;
		/* the DpGeom is malloc'd: free it with the context DpSpatial is in */
		{
			MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

			cb->func = free_boundary;
			cb->arg = &sp->boundary;
			MemoryContextRegisterResetCallback(GetMemoryChunkContext(sp), cb);
		}
	}

	/*
	 * Warm up ST_Transform for every SRID it can meet, outside any catch: the
	 * first use of an SRID reads spatial_ref_sys through SPI.
	 */
	for (i = 0; i < N_KNOWN_SRIDS; i++)
	{
		double		x = known_srids[i] == 27700 ? 530015 :
			known_srids[i] == 3857 ? -14245.78 : -0.128,
					y = known_srids[i] == 27700 ? 180415 :
			known_srids[i] == 3857 ? 6711600.07 : 51.5;

		if (known_srids[i] != 4326)
			(void) transform_one(sp, known_srids[i], &x, &y);
	}
	return sp;
}

static void
add_issue(DpSpatialResult *res, const char *type, const char *severity, const char *detail)
{
	DpSpatialIssue *i;

	if (res->nissues == DP_SPATIAL_MAX_ISSUES)
		return;
	i = &res->issues[res->nissues++];
	i->type = type;
	i->severity = severity;
	i->detail = detail ? pstrdup(detail) : NULL;
}

static bool
known_srid(int srid)
{
	int			i;

	for (i = 0; i < N_KNOWN_SRIDS; i++)
		if (known_srids[i] == srid)
			return true;
	return false;
}

/*
 * The polygon steps on sp->work (WGS84, rounded): simplify when that keeps
 * it valid, round again, make valid, collect polygons, orient.  Returns
 * false when no polygon is left.  Runs in sp->cxt; may raise (PostGIS).
 */
static bool
polygon_steps(DpSpatial *sp, DpSpatialResult *res, MemoryContext caller)
{
	Datum		g = to_postgis(sp, &sp->work, 4326);
	char	   *reason = validity(sp, g);
	char	   *fix_reason = NULL;
	Datum		s = FunctionCall2(&sp->pg.simplify, g, Float8GetDatum(0.000001));

	/*
	 * Keep the simplification unless it made a valid shape invalid.  It only
	 * removes vertices, never moves them, and they are rounded already: when
	 * it removed none it is the same geometry, and what it keeps needs no
	 * second rounding (nor a validity check after one).
	 */
	from_postgis(sp, s, &sp->tmp);
	if (dp_geom_count_coords(&sp->tmp) != dp_geom_count_coords(&sp->work))
	{
		char	   *sreason = validity(sp, s);

		if (!is_valid_reason(reason) || is_valid_reason(sreason))
		{
			DpGeom		t = sp->work;

			sp->work = sp->tmp;
			sp->tmp = t;
			g = s;
			reason = sreason;
		}
	}
	if (!is_valid_reason(reason))
	{
		fix_reason = reason;
		from_postgis(sp, FunctionCall1(&sp->pg.make_valid, g), &sp->work);
		if (!dp_geom_to_multipolygon(&sp->work))
			return false;
		g = to_postgis(sp, &sp->work, 4326);
		if (!is_valid_reason(validity(sp, g)))
		{
			g = FunctionCall3(&sp->pg.buffer, g, Float8GetDatum(0.0), CStringGetTextDatum(""));
			from_postgis(sp, g, &sp->work);
			if (!dp_geom_to_multipolygon(&sp->work))
				return false;
		}
	}
	else if (!dp_geom_to_multipolygon(&sp->work))
		return false;
	if (sp->work.nparts == 0)
		return false;
	dp_geom_orient(&sp->work);
	if (fix_reason)
	{
		bool		fixed = is_valid_reason(validity(sp, to_postgis(sp, &sp->work, 4326)));
		MemoryContext old = MemoryContextSwitchTo(caller);

		add_issue(res, fixed ? "invalid geometry - fixed" : "invalid geometry - not fixable",
				  fixed ? "warning" : "error", fix_reason);
		MemoryContextSwitchTo(old);
		return fixed;
	}
	return true;
}

void
dp_spatial_harmonise(DpSpatial *sp, DpDatatype dt, const char *in, size_t len,
					 bool from_geojson, DpSpatialResult *res)
{
	MemoryContext caller = CurrentMemoryContext;
	char		err[256];
	int			srid;
	bool		geojson;
	double		x,
				y;
	const char *bad;
	DpGeomDetect d;
	bool		ok = false;

	memset(res, 0, sizeof(*res));
	MemoryContextReset(sp->cxt);
	sp->tmp_srid = 0;

	if (!dp_geom_parse(in, len, &sp->work, &srid, &geojson, err, sizeof(err)))
	{
		add_issue(res, "invalid WKT", "error", psprintf("Geometry must be in Well-Known Text (WKT) format: %s.", err));
		return;
	}
	if (geojson && !from_geojson)
		add_issue(res, "invalid type geojson", "warning", NULL);

	bad = NULL;
	if (dt == DP_DT_POINT && sp->work.type != DP_GEOM_POINT)
		bad = "Geometry must be a point";
	else if (dt == DP_DT_MULTIPOLYGON && sp->work.type != DP_GEOM_POLYGON &&
			 sp->work.type != DP_GEOM_MULTIPOLYGON && sp->work.type != DP_GEOM_COLLECTION)
		bad = "Geometry must be a polygon";
	if (bad)
	{
		add_issue(res, "Unexpected geom type", "error",
				  psprintf("%s, not %s.", bad, dp_geom_type_name(sp->work.type)));
		release_work(sp);
		return;
	}
	bad = dp_geom_first_point(&sp->work, &x, &y);
	if (bad)
	{
		add_issue(res, bad, "error", strcmp(bad, "invalid WKT") == 0 ?
				  "The geometry is empty." : "Geometry must be a polygon.");
		release_work(sp);
		return;
	}
	if (srid > 0 && !known_srid(srid))
	{
		add_issue(res, "invalid coordinates", "error",
				  psprintf("SRID %d is not one of 4326, 4258, 27700 and 3857.", srid));
		release_work(sp);
		return;
	}

	PG_TRY();
	{
		MemoryContextSwitchTo(sp->cxt);
		dp_geom_detect(x, y, srid, sp->custom ? &sp->boundary : NULL, sp->custom,
					   transform_point, sp, &d);
		MemoryContextSwitchTo(caller);
		if (d.issue)
			add_issue(res, d.issue, d.severity, d.message ? psprintf("%s.", d.message) : NULL);
		if (!d.reject)
		{
			MemoryContextSwitchTo(sp->cxt);
			if (d.flip)
				dp_geom_flip(&sp->work);
			if (d.srid != 4326 && !d.flip && sp->tmp_srid == d.srid)
			{
				/* transformed whole already, to test its first point */
				DpGeom		t = sp->work;

				sp->work = sp->tmp;
				sp->tmp = t;
			}
			else if (d.srid != 4326)
				from_postgis(sp, FunctionCall2(&sp->pg.transform, to_postgis(sp, &sp->work, d.srid),
											   Int32GetDatum(4326)), &sp->work);
			dp_geom_round(&sp->work, 6);
			{
				int			before = res->nissues;

				ok = dt == DP_DT_POINT || polygon_steps(sp, res, caller);
				if (!ok && res->nissues == before)
				{
					MemoryContextSwitchTo(caller);
					add_issue(res, "invalid geometry - not fixable", "error",
							  "Nothing polygonal is left once the geometry is made valid.");
					MemoryContextSwitchTo(sp->cxt);
				}
			}
			if (ok)
			{
				sp->buf.len = 0;
				dp_geom_write_wkt(&sp->work, 6, &sp->buf);
				if (sp->buf.failed)
					ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
			}
			MemoryContextSwitchTo(caller);
			if (ok)
				res->value = pstrdup(sp->buf.data);
		}
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(caller);
		e = CopyErrorData();
		FlushErrorState();
		release_work(sp);
		/* a cancel or a lack of memory is not about the value */
		if (e->sqlerrcode == ERRCODE_QUERY_CANCELED || e->sqlerrcode == ERRCODE_OUT_OF_MEMORY ||
			e->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(e);
		add_issue(res, "invalid geometry - not fixable", "error", e->message);
		res->value = NULL;
		FreeErrorData(e);
	}
	PG_END_TRY();
	release_work(sp);
}

char *
dp_spatial_point_text(const char *x, const char *y)
{
	char	   *ex,
			   *ey;
	double		vx,
				vy;

	if (x == NULL || y == NULL)
		return NULL;
	vx = strtod(x, &ex);
	vy = strtod(y, &ey);
	if (ex == x || ey == y || *ex != '\0' || *ey != '\0' || !isfinite(vx) || !isfinite(vy))
		return NULL;
	return psprintf("POINT (%.17g %.17g)", vx, vy);
}
