/*
 * spatial.h
 *		The spatial datatypes' backend side: finding PostGIS (an optional
 *		dependency, never linked: its SQL-callable C functions are looked up
 *		by name in the schema where the extension sits and called through
 *		the fmgr), the column types, and harmonising one geometry value with
 *		the planning-data pipeline's rules (the pure part is
 *		src/lib/geometry.c).
 */
#ifndef DP_SPATIAL_H
#define DP_SPATIAL_H

#include "postgres.h"

#include "datatype.h"
#include "geometry.h"

/* Whether the postgis extension is installed in this database. */
extern bool dp_spatial_available(void);

/*
 * ERROR (feature not supported) unless PostGIS is installed, naming the
 * dataset and field, the Debian package and CREATE EXTENSION postgis.
 */
extern void dp_spatial_require(const char *dataset, const char *field);

/*
 * The SQL type of a datatype's column, schema-qualified for the spatial
 * ones ("public.geometry(MultiPolygon,4326)"); a spatial datatype without
 * PostGIS is an ERROR (dp_spatial_require).  The string is palloc'd or
 * static.
 */
extern const char *dp_sqltype(DpDatatype dt);

/* PostGIS's schema, quoted for SQL ("public"); ERROR without PostGIS. */
extern const char *dp_spatial_schema(void);

/* The boundary's WKT is checked when a configuration is written. */
extern bool dp_spatial_boundary_ok(const char *wkt, char *err, size_t errcap);

typedef struct DpSpatial DpSpatial;

/*
 * Set up for harmonising geometries: PostGIS's functions and the boundary
 * (WKT of a Polygon or MultiPolygon in WGS84; NULL for England).  Lives in
 * CurrentMemoryContext; ERROR without PostGIS.
 */
extern DpSpatial *dp_spatial_begin(const char *boundary_wkt);

#define DP_SPATIAL_MAX_ISSUES 4

typedef struct DpSpatialIssue
{
	const char *type;			/* issue type name (static) */
	const char *severity;
	char	   *detail;			/* palloc'd, or NULL: the issue's message */
} DpSpatialIssue;

typedef struct DpSpatialResult
{
	char	   *value;			/* WKT in WGS84 (palloc'd), or NULL: dropped */
	int			nissues;
	DpSpatialIssue issues[DP_SPATIAL_MAX_ISSUES];
} DpSpatialResult;

/*
 * Harmonise in[0..len) as datatype dt (DP_DT_MULTIPOLYGON or DP_DT_POINT).
 * from_geojson: the value came as a GeoJSON geometry where one is expected
 * (a GeoJSON feed), so GeoJSON is not itself an issue.  Never raises for a
 * bad value: PostGIS's own errors become "invalid geometry - not fixable".
 * The result's strings are palloc'd in CurrentMemoryContext.
 */
extern void dp_spatial_harmonise(DpSpatial *sp, DpDatatype dt, const char *in, size_t len,
								 bool from_geojson, DpSpatialResult *res);

/* The point "POINT (x y)" built from two coordinate values, or NULL. */
extern char *dp_spatial_point_text(const char *x, const char *y);

#endif							/* DP_SPATIAL_H */
