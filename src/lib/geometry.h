/*
 * geometry.h
 *		The pure part of the spatial datatypes (multipolygon, point): reading
 *		WKT (any case, with or without an "SRID=n;" prefix) and GeoJSON
 *		geometries, guessing the coordinate reference system from the
 *		coordinates' ranges (WGS84 degrees, British National Grid, Web
 *		Mercator, each also with its axes flipped), the boundary test,
 *		rounding, ring orientation, collections to MultiPolygons, and
 *		writing WKT and (E)WKB.
 *
 * Pure C: no backend calls.  Memory is malloc'd and owned by the DpGeom
 * (dp_geom_free releases a tree).  Reprojection, simplification and
 * validity are PostGIS's (src/spatial/), reached through the callback in
 * DpGeomDetect and the WKB writer/reader here.
 *
 * The rules follow digital-land-python's WKT datatype (see
 * docs/datatypes.md for the rules and the differences).
 */
#ifndef DP_GEOMETRY_H
#define DP_GEOMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Geometry types, numbered as in WKB. */
typedef enum DpGeomType
{
	DP_GEOM_POINT = 1,
	DP_GEOM_LINESTRING = 2,
	DP_GEOM_POLYGON = 3,
	DP_GEOM_MULTIPOINT = 4,
	DP_GEOM_MULTILINESTRING = 5,
	DP_GEOM_MULTIPOLYGON = 6,
	DP_GEOM_COLLECTION = 7
} DpGeomType;

/*
 * A geometry tree.  POINT and LINESTRING (and a polygon's rings, which are
 * LINESTRING parts) hold coordinates: ncoords (x, y) pairs in coords (Z and
 * M are dropped on reading).  POLYGON holds its rings in parts (exterior
 * first); MULTI* and COLLECTION hold their members in parts.  An empty
 * geometry has no coordinates and no parts.
 */
typedef struct DpGeom
{
	DpGeomType	type;
	int			ncoords;
	double	   *coords;
	int			nparts;
	struct DpGeom *parts;
} DpGeom;

/* Deepest nesting of collections a reader accepts. */
#define DP_GEOM_MAX_DEPTH 16

/* Release what a DpGeom holds (not the struct itself); safe on a zeroed one. */
extern void dp_geom_free(DpGeom *g);

/* Name of a type as WKT spells it ("MULTIPOLYGON"). */
extern const char *dp_geom_type_name(DpGeomType t);

/*
 * Read in[0..len) as WKT (any case, optional "SRID=n;" prefix, optional
 * Z/M/ZM, EMPTY) or, when it starts with '{', as a GeoJSON geometry.  On
 * success fills *g, sets *srid (0 when none was given) and *geojson, and
 * returns true; otherwise writes a reason to err and returns false (*g is
 * left empty).
 */
extern bool dp_geom_parse(const char *in, size_t len, DpGeom *g, int *srid,
						  bool *geojson, char *err, size_t errcap);

/*
 * Read a GeoJSON geometry object given as a jansson json_t *.  *srid is set
 * from a legacy "crs" member naming an EPSG code or CRS84, else 0.
 */
extern bool dp_geom_from_geojson_value(const void *json, DpGeom *g, int *srid,
									   char *err, size_t errcap);

/*
 * The point the CRS is guessed from (the pipeline's "first point"): a
 * point's or line's first coordinate, the exterior ring's first of a
 * polygon, of the first polygon of a multipolygon, the first line of a
 * multilinestring, and of the first member of a collection when that is a
 * polygon or multipolygon.  Returns NULL on success, otherwise the issue:
 * "Unexpected geom type" or "Unexpected geom type within GeometryCollection".
 */
extern const char *dp_geom_first_point(const DpGeom *g, double *x, double *y);

/* Point in polygon (edges count as inside), for a Polygon or MultiPolygon. */
extern bool dp_geom_covers_point(const DpGeom *area, double x, double y);

/* The default boundary: the pipeline's box around England (a Polygon). */
extern const DpGeom *dp_geom_england(void);

/*
 * Transform (x, y) from srid to WGS84 in place; false when it cannot.
 * The caller supplies it (PostGIS in the backend; tests use a stub).
 */
typedef bool (*DpGeomTransformFn) (void *arg, int srid, double *x, double *y);

/* What the CRS guess decided. */
typedef struct DpGeomDetect
{
	int			srid;			/* 4326, 27700 or 3857: the source CRS */
	bool		flip;			/* swap x and y before transforming */
	bool		reject;			/* the value is dropped */
	const char *issue;			/* issue type, or NULL */
	const char *severity;		/* of the issue */
	const char *message;		/* the pipeline's message, or NULL */
} DpGeomDetect;

/*
 * Guess the CRS from the first point (x, y) with the pipeline's ranges and
 * order: WGS84 degrees (as given, then flipped), British National Grid
 * eastings/northings (as given, then flipped), Web Mercator metres (as
 * given, then flipped), each accepted only when the (transformed) point
 * falls in the boundary.  custom says whether boundary is the dataset's
 * own (it names the out-of-bounds issue).  When declared_srid is non-zero
 * the value said its CRS: no guessing, only the boundary test.
 */
extern void dp_geom_detect(double x, double y, int declared_srid,
						   const DpGeom *boundary, bool custom,
						   DpGeomTransformFn fn, void *arg, DpGeomDetect *d);

/* Swap x and y of every coordinate. */
extern void dp_geom_flip(DpGeom *g);

/* Round every coordinate to `digits` decimal places (half away from zero). */
extern void dp_geom_round(DpGeom *g, int digits);

/*
 * Collect the polygons of g (Polygon, MultiPolygon, nested collections)
 * into a MultiPolygon in place; other members are dropped.  Returns false
 * (and leaves g alone) for a point or a line, which cannot become one.
 */
extern bool dp_geom_to_multipolygon(DpGeom *g);

/* Exterior rings counter-clockwise, interior rings clockwise. */
extern void dp_geom_orient(DpGeom *g);

/* Number of polygons (a MultiPolygon's members), coordinates of the whole. */
extern int	dp_geom_count_coords(const DpGeom *g);

/* A growable output buffer (malloc'd); a zeroed one is empty. */
typedef struct DpGeomBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		failed;			/* out of memory */
} DpGeomBuf;

extern void dp_geom_buf_free(DpGeomBuf *b);

/*
 * WKT as the pipeline writes it: "POINT (x y)", "MULTIPOLYGON (((x y,x
 * y,...)),(...))", coordinates with `digits` fixed decimals, no space after
 * commas.  Appends to b (NUL-terminated).
 */
extern void dp_geom_write_wkt(const DpGeom *g, int digits, DpGeomBuf *b);

/* Little-endian EWKB, with the SRID when srid > 0.  Appends to b. */
extern void dp_geom_write_wkb(const DpGeom *g, int srid, DpGeomBuf *b);

/*
 * Read (E)WKB (either byte order; ISO or EWKB Z/M flags, which are
 * dropped).  *srid is set when the EWKB carries one, else 0.
 */
extern bool dp_geom_read_wkb(const unsigned char *in, size_t len, DpGeom *g, int *srid,
							 char *err, size_t errcap);

#endif							/* DP_GEOMETRY_H */
