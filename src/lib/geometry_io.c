/*
 * geometry_io.c
 *		Reading a DpGeom: WKT (any case, optional "SRID=n;" prefix, Z/M
 *		dropped), GeoJSON geometries (jansson) and (E)WKB (what PostGIS
 *		gives back in src/spatial/).  Pure C (see geometry.h); the writers
 *		are in geometry_out.c.
 *
 * Every reader works on arbitrary bytes: bounded recursion
 * (DP_GEOM_MAX_DEPTH), counts checked against the bytes left, and nothing
 * allocated survives a failure.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geometry.h"

/* ---- growable arrays of coordinates and parts ---------------------------- */

static bool
push_coord(DpGeom *g, int *cap, double x, double y)
{
	if (g->ncoords == *cap)
	{
		int			ncap = *cap ? *cap * 2 : 8;
		double	   *c = realloc(g->coords, sizeof(double) * 2 * ncap);

		if (c == NULL)
			return false;
		g->coords = c;
		*cap = ncap;
	}
	g->coords[2 * g->ncoords] = x;
	g->coords[2 * g->ncoords + 1] = y;
	g->ncoords++;
	return true;
}

/* A new zeroed part of g, or NULL when out of memory. */
static DpGeom *
push_part(DpGeom *g, int *cap)
{
	if (g->nparts == *cap)
	{
		int			ncap = *cap ? *cap * 2 : 4;
		DpGeom	   *p = realloc(g->parts, sizeof(DpGeom) * ncap);

		if (p == NULL)
			return NULL;
		g->parts = p;
		*cap = ncap;
	}
	memset(&g->parts[g->nparts], 0, sizeof(DpGeom));
	return &g->parts[g->nparts++];
}

static void set_err(char *err, size_t errcap, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errcap, const char *fmt,...)
{
	va_list		ap;

	if (errcap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errcap, fmt, ap);
	va_end(ap);
}

/* A polygon's rings must be closed with at least 4 positions. */
static bool
check_ring(const DpGeom *r, char *err, size_t errcap)
{
	if (r->ncoords < 4)
	{
		set_err(err, errcap, "a polygon ring needs at least 4 positions, has %d", r->ncoords);
		return false;
	}
	if (r->coords[0] != r->coords[2 * r->ncoords - 2] ||
		r->coords[1] != r->coords[2 * r->ncoords - 1])
	{
		set_err(err, errcap, "a polygon ring is not closed");
		return false;
	}
	return true;
}

/* ---- WKT ----------------------------------------------------------------- */

typedef struct WktReader
{
	const char *p;
	const char *end;
	char	   *err;
	size_t		errcap;
} WktReader;

static void
skip_ws(WktReader *r)
{
	while (r->p < r->end && isspace((unsigned char) *r->p))
		r->p++;
}

static bool
accept_char(WktReader *r, char c)
{
	skip_ws(r);
	if (r->p < r->end && *r->p == c)
	{
		r->p++;
		return true;
	}
	return false;
}

/* The next word (letters only) as upper case into w; false when none. */
static bool
read_word(WktReader *r, char *w, size_t cap)
{
	size_t		n = 0;

	skip_ws(r);
	while (r->p < r->end && isalpha((unsigned char) *r->p))
	{
		if (n + 1 < cap)
			w[n++] = (char) toupper((unsigned char) *r->p);
		else
			return false;
		r->p++;
	}
	w[n] = '\0';
	return n > 0;
}

/* Peek whether the next word is w (case-insensitive); consume it if so. */
static bool
accept_word(WktReader *r, const char *w)
{
	const char *save = r->p;
	char		buf[24];

	if (read_word(r, buf, sizeof(buf)) && strcmp(buf, w) == 0)
		return true;
	r->p = save;
	return false;
}

/* A decimal number: [+-]digits[.digits][(e|E)[+-]digits]. */
static bool
read_number(WktReader *r, double *v)
{
	const char *s;
	char		buf[512];		/* %.6f of DBL_MAX is 316 bytes */
	size_t		n;
	bool		digits = false;
	char	   *endp;

	skip_ws(r);
	s = r->p;
	if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
		r->p++;
	while (r->p < r->end && isdigit((unsigned char) *r->p))
		r->p++, digits = true;
	if (r->p < r->end && *r->p == '.')
	{
		r->p++;
		while (r->p < r->end && isdigit((unsigned char) *r->p))
			r->p++, digits = true;
	}
	if (!digits)
	{
		r->p = s;
		return false;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E'))
	{
		const char *e = r->p++;

		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p < r->end && isdigit((unsigned char) *r->p))
			while (r->p < r->end && isdigit((unsigned char) *r->p))
				r->p++;
		else
			r->p = e;
	}
	n = (size_t) (r->p - s);
	if (n >= sizeof(buf))
	{
		r->p = s;
		return false;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	*v = strtod(buf, &endp);
	return isfinite(*v);
}

/* One position: 2 to 4 numbers, the first two kept. */
static bool
read_position(WktReader *r, double *x, double *y)
{
	double		z;
	int			k = 0;

	if (!read_number(r, x) || !read_number(r, y))
		return false;
	while (k < 2 && read_number(r, &z))
		k++;
	return true;
}

/* "(x y, x y, ...)" into g's coordinates; a MULTIPOINT may wrap each in (). */
static bool
read_coord_list(WktReader *r, DpGeom *g, bool wrapped_ok)
{
	int			cap = 0;

	if (!accept_char(r, '('))
		return false;
	do
	{
		double		x,
					y;
		bool		wrapped = wrapped_ok && accept_char(r, '(');

		if (!read_position(r, &x, &y) || !push_coord(g, &cap, x, y))
			return false;
		if (wrapped && !accept_char(r, ')'))
			return false;
	} while (accept_char(r, ','));
	return accept_char(r, ')');
}

static bool read_wkt_geom(WktReader *r, DpGeom *g, int depth);

/* The body after a type name (dimension flags and EMPTY already handled). */
static bool
read_wkt_body(WktReader *r, DpGeom *g, int depth)
{
	int			cap = 0;
	DpGeom	   *part;

	switch (g->type)
	{
		case DP_GEOM_POINT:
			{
				double		x,
							y;
				int			ccap = 0;

				return accept_char(r, '(') && read_position(r, &x, &y) &&
					push_coord(g, &ccap, x, y) && accept_char(r, ')');
			}
		case DP_GEOM_LINESTRING:
			return read_coord_list(r, g, false) && g->ncoords >= 2;
		case DP_GEOM_POLYGON:
			if (!accept_char(r, '('))
				return false;
			do
			{
				if ((part = push_part(g, &cap)) == NULL)
					return false;
				part->type = DP_GEOM_LINESTRING;
				if (!read_coord_list(r, part, false) || !check_ring(part, r->err, r->errcap))
					return false;
			} while (accept_char(r, ','));
			return accept_char(r, ')');
		case DP_GEOM_MULTIPOINT:
			{
				/* stored as points, one coordinate each */
				DpGeom		tmp = {0};
				int			i,
							n;

				if (!read_coord_list(r, &tmp, true))
				{
					dp_geom_free(&tmp);
					return false;
				}
				n = tmp.ncoords;
				for (i = 0; i < n; i++)
				{
					int			ccap = 0;

					if ((part = push_part(g, &cap)) == NULL)
						break;
					part->type = DP_GEOM_POINT;
					if (!push_coord(part, &ccap, tmp.coords[2 * i], tmp.coords[2 * i + 1]))
						break;
				}
				dp_geom_free(&tmp);
				return i == n;
			}
		case DP_GEOM_MULTILINESTRING:
		case DP_GEOM_MULTIPOLYGON:
			if (!accept_char(r, '('))
				return false;
			do
			{
				if ((part = push_part(g, &cap)) == NULL)
					return false;
				part->type = g->type == DP_GEOM_MULTIPOLYGON ? DP_GEOM_POLYGON : DP_GEOM_LINESTRING;
				if (accept_word(r, "EMPTY"))
					continue;
				if (!read_wkt_body(r, part, depth + 1))
					return false;
			} while (accept_char(r, ','));
			return accept_char(r, ')');
		case DP_GEOM_COLLECTION:
			if (depth >= DP_GEOM_MAX_DEPTH)
			{
				set_err(r->err, r->errcap, "collections nested too deep");
				return false;
			}
			if (!accept_char(r, '('))
				return false;
			do
			{
				if ((part = push_part(g, &cap)) == NULL || !read_wkt_geom(r, part, depth + 1))
					return false;
			} while (accept_char(r, ','));
			return accept_char(r, ')');
	}
	return false;
}

static const struct
{
	const char *name;
	DpGeomType	type;
}			wkt_types[] = {
	{"POINT", DP_GEOM_POINT},
	{"LINESTRING", DP_GEOM_LINESTRING},
	{"POLYGON", DP_GEOM_POLYGON},
	{"MULTIPOINT", DP_GEOM_MULTIPOINT},
	{"MULTILINESTRING", DP_GEOM_MULTILINESTRING},
	{"MULTIPOLYGON", DP_GEOM_MULTIPOLYGON},
	{"GEOMETRYCOLLECTION", DP_GEOM_COLLECTION},
};

static bool
read_wkt_geom(WktReader *r, DpGeom *g, int depth)
{
	char		word[24];
	size_t		i,
				n;
	bool		found = false;

	if (!read_word(r, word, sizeof(word)))
		return false;
	n = strlen(word);
	/* a trailing Z, M or ZM may be written joined to the name */
	for (i = 0; i < sizeof(wkt_types) / sizeof(wkt_types[0]) && !found; i++)
	{
		size_t		tn = strlen(wkt_types[i].name);

		if (n >= tn && strncmp(word, wkt_types[i].name, tn) == 0 &&
			(strcmp(word + tn, "") == 0 || strcmp(word + tn, "Z") == 0 ||
			 strcmp(word + tn, "M") == 0 || strcmp(word + tn, "ZM") == 0))
		{
			g->type = wkt_types[i].type;
			found = true;
		}
	}
	if (!found)
	{
		set_err(r->err, r->errcap, "unknown geometry type \"%s\"", word);
		return false;
	}
	if (!accept_word(r, "ZM") && !accept_word(r, "Z"))
		(void) accept_word(r, "M");
	if (accept_word(r, "EMPTY"))
		return true;
	return read_wkt_body(r, g, depth);
}

static bool
parse_wkt(const char *in, size_t len, DpGeom *g, int *srid, char *err, size_t errcap)
{
	WktReader	r = {in, in + len, err, errcap};

	skip_ws(&r);
	if (r.end - r.p >= 5 && strncasecmp(r.p, "SRID=", 5) == 0)
	{
		long		v = 0;

		r.p += 5;
		if (r.p == r.end || !isdigit((unsigned char) *r.p))
		{
			set_err(err, errcap, "SRID=n; needs a number");
			return false;
		}
		while (r.p < r.end && isdigit((unsigned char) *r.p) && v < 1000000000L)
			v = v * 10 + (*r.p++ - '0');
		if (!accept_char(&r, ';') || v > 999999)
		{
			set_err(err, errcap, "SRID=n; prefix malformed");
			return false;
		}
		*srid = (int) v;
	}
	if (!read_wkt_geom(&r, g, 0))
	{
		if (err && errcap && err[0] == '\0')
			set_err(err, errcap, "not well-known text near offset %d", (int) (r.p - in));
		return false;
	}
	skip_ws(&r);
	if (r.p != r.end)
	{
		set_err(err, errcap, "unexpected text after the geometry at offset %d", (int) (r.p - in));
		return false;
	}
	return true;
}

/* ---- GeoJSON ------------------------------------------------------------- */

static bool
json_position(json_t *pos, double *x, double *y)
{
	json_t	   *a,
			   *b;

	if (!json_is_array(pos) || json_array_size(pos) < 2 || json_array_size(pos) > 4)
		return false;
	a = json_array_get(pos, 0);
	b = json_array_get(pos, 1);
	if (!json_is_number(a) || !json_is_number(b))
		return false;
	*x = json_number_value(a);
	*y = json_number_value(b);
	return isfinite(*x) && isfinite(*y);
}

static bool
json_positions(json_t *arr, DpGeom *g)
{
	size_t		i;
	json_t	   *pos;
	int			cap = 0;

	if (!json_is_array(arr))
		return false;
	json_array_foreach(arr, i, pos)
	{
		double		x,
					y;

		if (!json_position(pos, &x, &y) || !push_coord(g, &cap, x, y))
			return false;
	}
	return true;
}

static bool
json_polygon(json_t *rings, DpGeom *g, char *err, size_t errcap)
{
	size_t		i;
	json_t	   *ring;
	int			cap = 0;

	if (!json_is_array(rings))
		return false;
	g->type = DP_GEOM_POLYGON;
	json_array_foreach(rings, i, ring)
	{
		DpGeom	   *part = push_part(g, &cap);

		if (part == NULL)
			return false;
		part->type = DP_GEOM_LINESTRING;
		if (!json_positions(ring, part) || !check_ring(part, err, errcap))
			return false;
	}
	return true;
}

static bool
geojson_geom(json_t *obj, DpGeom *g, int depth, char *err, size_t errcap)
{
	json_t	   *type = json_object_get(obj, "type");
	json_t	   *coords = json_object_get(obj, "coordinates");
	const char *t;
	size_t		i;
	json_t	   *m;
	int			cap = 0;

	if (!json_is_object(obj) || !json_is_string(type))
	{
		set_err(err, errcap, "a GeoJSON geometry needs a \"type\"");
		return false;
	}
	t = json_string_value(type);
	if (strcasecmp(t, "GeometryCollection") == 0)
	{
		json_t	   *geoms = json_object_get(obj, "geometries");

		g->type = DP_GEOM_COLLECTION;
		if (depth >= DP_GEOM_MAX_DEPTH || !json_is_array(geoms))
		{
			set_err(err, errcap, "a GeometryCollection needs \"geometries\"");
			return false;
		}
		json_array_foreach(geoms, i, m)
		{
			DpGeom	   *part = push_part(g, &cap);

			if (part == NULL || !geojson_geom(m, part, depth + 1, err, errcap))
				return false;
		}
		return true;
	}
	if (!json_is_array(coords))
	{
		set_err(err, errcap, "a GeoJSON %s needs \"coordinates\"", t);
		return false;
	}
	if (strcasecmp(t, "Point") == 0)
	{
		double		x,
					y;
		int			ccap = 0;

		g->type = DP_GEOM_POINT;
		if (json_array_size(coords) == 0)
			return true;
		return json_position(coords, &x, &y) && push_coord(g, &ccap, x, y);
	}
	if (strcasecmp(t, "LineString") == 0)
	{
		g->type = DP_GEOM_LINESTRING;
		return json_positions(coords, g) && (g->ncoords == 0 || g->ncoords >= 2);
	}
	if (strcasecmp(t, "Polygon") == 0)
		return json_polygon(coords, g, err, errcap);
	if (strcasecmp(t, "MultiPoint") == 0 || strcasecmp(t, "MultiLineString") == 0 ||
		strcasecmp(t, "MultiPolygon") == 0)
	{
		g->type = strcasecmp(t, "MultiPoint") == 0 ? DP_GEOM_MULTIPOINT :
			strcasecmp(t, "MultiLineString") == 0 ? DP_GEOM_MULTILINESTRING : DP_GEOM_MULTIPOLYGON;
		json_array_foreach(coords, i, m)
		{
			DpGeom	   *part = push_part(g, &cap);
			double		x,
						y;
			int			ccap = 0;

			if (part == NULL)
				return false;
			if (g->type == DP_GEOM_MULTIPOINT)
			{
				part->type = DP_GEOM_POINT;
				if (!json_position(m, &x, &y) || !push_coord(part, &ccap, x, y))
					return false;
			}
			else if (g->type == DP_GEOM_MULTILINESTRING)
			{
				part->type = DP_GEOM_LINESTRING;
				if (!json_positions(m, part) || part->ncoords < 2)
					return false;
			}
			else if (!json_polygon(m, part, err, errcap))
				return false;
		}
		return true;
	}
	set_err(err, errcap, "unknown GeoJSON geometry type \"%s\"", t);
	return false;
}

/* The SRID a legacy GeoJSON "crs" member names ("EPSG:27700", "urn:...:EPSG::27700", CRS84), or 0. */
static int
geojson_crs(json_t *obj)
{
	json_t	   *name = json_object_get(json_object_get(json_object_get(obj, "crs"), "properties"),
									   "name");
	const char *s,
			   *p;
	long		v = 0;

	if (!json_is_string(name))
		return 0;
	s = json_string_value(name);
	if (strstr(s, "CRS84") != NULL)
		return 4326;
	p = strstr(s, "EPSG:");
	if (p == NULL)
		return 0;
	p += 5;
	while (*p == ':')
		p++;
	while (isdigit((unsigned char) *p) && v < 1000000)
		v = v * 10 + (*p++ - '0');
	return *p == '\0' && v > 0 && v < 1000000 ? (int) v : 0;
}

bool
dp_geom_from_geojson_value(const void *json, DpGeom *g, int *srid, char *err, size_t errcap)
{
	memset(g, 0, sizeof(*g));
	*srid = geojson_crs((json_t *) json);
	if (errcap)
		err[0] = '\0';
	if (!geojson_geom((json_t *) json, g, 0, err, errcap))
	{
		if (errcap && err[0] == '\0')
			set_err(err, errcap, "not a GeoJSON geometry");
		dp_geom_free(g);
		return false;
	}
	return true;
}

bool
dp_geom_parse(const char *in, size_t len, DpGeom *g, int *srid, bool *geojson,
			  char *err, size_t errcap)
{
	size_t		i = 0;
	bool		ok;

	memset(g, 0, sizeof(*g));
	*srid = 0;
	*geojson = false;
	if (errcap)
		err[0] = '\0';
	while (i < len && isspace((unsigned char) in[i]))
		i++;
	if (i < len && in[i] == '{')
	{
		json_error_t jerr;
		json_t	   *j = json_loadb(in, len, JSON_REJECT_DUPLICATES, &jerr);

		*geojson = true;
		if (j == NULL)
		{
			set_err(err, errcap, "not JSON: %s", jerr.text);
			return false;
		}
		ok = dp_geom_from_geojson_value(j, g, srid, err, errcap);
		json_decref(j);
		return ok;
	}
	ok = parse_wkt(in, len, g, srid, err, errcap);
	if (!ok)
		dp_geom_free(g);
	return ok;
}

/* ---- WKB ----------------------------------------------------------------- */

typedef struct WkbReader
{
	const unsigned char *p;
	const unsigned char *end;
} WkbReader;

static bool
rd_u32(WkbReader *r, bool le, uint32_t *v)
{
	if (r->end - r->p < 4)
		return false;
	*v = le ? (uint32_t) r->p[0] | (uint32_t) r->p[1] << 8 | (uint32_t) r->p[2] << 16 | (uint32_t) r->p[3] << 24
		: (uint32_t) r->p[3] | (uint32_t) r->p[2] << 8 | (uint32_t) r->p[1] << 16 | (uint32_t) r->p[0] << 24;
	r->p += 4;
	return true;
}

static bool
rd_f64(WkbReader *r, bool le, double *d)
{
	uint64_t	v = 0;
	int			i;

	if (r->end - r->p < 8)
		return false;
	for (i = 0; i < 8; i++)
		v |= (uint64_t) r->p[le ? i : 7 - i] << (8 * i);
	memcpy(d, &v, 8);
	r->p += 8;
	return true;
}

static bool
rd_coords(WkbReader *r, bool le, int dims, DpGeom *g)
{
	uint32_t	n,
				i;
	int			k;

	if (!rd_u32(r, le, &n) || (uint64_t) n * 8 * dims > (uint64_t) (r->end - r->p))
		return false;
	g->coords = n ? malloc(sizeof(double) * 2 * n) : NULL;
	if (n && g->coords == NULL)
		return false;
	for (i = 0; i < n; i++)
	{
		double		extra;

		if (!rd_f64(r, le, &g->coords[2 * i]) || !rd_f64(r, le, &g->coords[2 * i + 1]))
			return false;
		g->ncoords++;
		for (k = 2; k < dims; k++)
			if (!rd_f64(r, le, &extra))
				return false;
	}
	return true;
}

static bool
rd_geom(WkbReader *r, DpGeom *g, int *srid, int depth)
{
	bool		le;
	uint32_t	t,
				n,
				i;
	int			dims = 2;
	uint32_t	base;

	if (r->p >= r->end || depth > DP_GEOM_MAX_DEPTH)
		return false;
	le = *r->p++ == 1;
	if (!rd_u32(r, le, &t))
		return false;
	if (t & 0x80000000u)
		dims++;
	if (t & 0x40000000u)
		dims++;
	if (t & 0x20000000u)
	{
		uint32_t	s;

		if (!rd_u32(r, le, &s))
			return false;
		if (srid)
			*srid = (int) s;
	}
	base = t & 0x0fffffffu;
	if (base >= 1000 && base < 4000)
	{
		dims += base / 1000 == 3 ? 2 : 1;
		base %= 1000;
	}
	if (base < DP_GEOM_POINT || base > DP_GEOM_COLLECTION)
		return false;
	g->type = (DpGeomType) base;
	switch (g->type)
	{
		case DP_GEOM_POINT:
			{
				double		x,
							y,
							extra;
				int			k;

				if (!rd_f64(r, le, &x) || !rd_f64(r, le, &y))
					return false;
				for (k = 2; k < dims; k++)
					if (!rd_f64(r, le, &extra))
						return false;
				if (isnan(x) && isnan(y))
					return true;	/* POINT EMPTY */
				if ((g->coords = malloc(sizeof(double) * 2)) == NULL)
					return false;
				g->coords[0] = x;
				g->coords[1] = y;
				g->ncoords = 1;
				return true;
			}
		case DP_GEOM_LINESTRING:
			return rd_coords(r, le, dims, g);
		default:
			/* polygons (rings), multis and collections (members) */
			if (!rd_u32(r, le, &n) || (uint64_t) n * 4 > (uint64_t) (r->end - r->p))
				return false;
			g->parts = n ? calloc(n, sizeof(DpGeom)) : NULL;
			if (n && g->parts == NULL)
				return false;
			for (i = 0; i < n; i++)
			{
				DpGeom	   *part = &g->parts[i];

				g->nparts++;
				if (g->type == DP_GEOM_POLYGON)
				{
					part->type = DP_GEOM_LINESTRING;
					if (!rd_coords(r, le, dims, part))
						return false;
				}
				else if (!rd_geom(r, part, NULL, depth + 1))
					return false;
			}
			return true;
	}
}

bool
dp_geom_read_wkb(const unsigned char *in, size_t len, DpGeom *g, int *srid,
				 char *err, size_t errcap)
{
	WkbReader	r = {in, in + len};

	memset(g, 0, sizeof(*g));
	*srid = 0;
	if (!rd_geom(&r, g, srid, 0) || r.p != r.end)
	{
		set_err(err, errcap, "malformed WKB");
		dp_geom_free(g);
		return false;
	}
	return true;
}
