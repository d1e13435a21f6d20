/*
 * geometry_out.c
 *		Writing a DpGeom: the pipeline's WKT spelling ("MULTIPOLYGON (((x
 *		y,x y)))", fixed decimals) and little-endian (E)WKB, the form
 *		PostGIS takes in src/spatial/.  Pure C (see geometry.h); output goes
 *		to a malloc'd DpGeomBuf that records a failed allocation instead of
 *		crashing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geometry.h"

/* ---- output -------------------------------------------------------------- */

void
dp_geom_buf_free(DpGeomBuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void
buf_reserve(DpGeomBuf *b, size_t more)
{
	if (b->failed)
		return;
	if (b->len + more + 1 > b->cap)
	{
		size_t		ncap = b->cap ? b->cap : 64;
		char	   *d;

		while (ncap < b->len + more + 1)
			ncap *= 2;
		d = realloc(b->data, ncap);
		if (d == NULL)
		{
			b->failed = true;
			return;
		}
		b->data = d;
		b->cap = ncap;
	}
}

static void
buf_append(DpGeomBuf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
buf_str(DpGeomBuf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

static void
wkt_coords(const DpGeom *g, int digits, DpGeomBuf *b)
{
	int			i;
	char		num[2 * 340 + 4];	/* two %.*f of up to DBL_MAX, digits <= 17 */

	buf_str(b, "(");
	for (i = 0; i < g->ncoords; i++)
	{
		int			n = snprintf(num, sizeof(num), "%s%.*f %.*f", i ? "," : "",
								 digits, g->coords[2 * i], digits, g->coords[2 * i + 1]);

		buf_append(b, num, (size_t) n < sizeof(num) ? (size_t) n : sizeof(num) - 1);
	}
	buf_str(b, ")");
}

static void
wkt_body(const DpGeom *g, int digits, DpGeomBuf *b)
{
	int			i;

	switch (g->type)
	{
		case DP_GEOM_POINT:
		case DP_GEOM_LINESTRING:
			wkt_coords(g, digits, b);
			return;
		case DP_GEOM_MULTIPOINT:
			buf_str(b, "(");
			for (i = 0; i < g->nparts; i++)
			{
				if (i)
					buf_str(b, ",");
				wkt_coords(&g->parts[i], digits, b);
			}
			buf_str(b, ")");
			return;
		case DP_GEOM_COLLECTION:
			buf_str(b, "(");
			for (i = 0; i < g->nparts; i++)
			{
				if (i)
					buf_str(b, ",");
				dp_geom_write_wkt(&g->parts[i], digits, b);
			}
			buf_str(b, ")");
			return;
		default:
			buf_str(b, "(");
			for (i = 0; i < g->nparts; i++)
			{
				if (i)
					buf_str(b, ",");
				if (g->parts[i].ncoords == 0 && g->parts[i].nparts == 0)
					buf_str(b, "EMPTY");
				else
					wkt_body(&g->parts[i], digits, b);
			}
			buf_str(b, ")");
			return;
	}
}

void
dp_geom_write_wkt(const DpGeom *g, int digits, DpGeomBuf *b)
{
	digits = digits < 0 ? 0 : digits > 17 ? 17 : digits;
	buf_str(b, dp_geom_type_name(g->type));
	if (g->ncoords == 0 && g->nparts == 0)
	{
		buf_str(b, " EMPTY");
		return;
	}
	buf_str(b, " ");
	wkt_body(g, digits, b);
}

/* ---- WKB ----------------------------------------------------------------- */

static void
wkb_u32(DpGeomBuf *b, uint32_t v)
{
	unsigned char c[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};

	buf_append(b, c, 4);
}

static void
wkb_f64(DpGeomBuf *b, double d)
{
	uint64_t	v;
	unsigned char c[8];
	int			i;

	memcpy(&v, &d, 8);
	for (i = 0; i < 8; i++)
		c[i] = (unsigned char) (v >> (8 * i));
	buf_append(b, c, 8);
}

static void
wkb_coords(const DpGeom *g, DpGeomBuf *b)
{
	int			i;

	wkb_u32(b, (uint32_t) g->ncoords);
	for (i = 0; i < 2 * g->ncoords; i++)
		wkb_f64(b, g->coords[i]);
}

void
dp_geom_write_wkb(const DpGeom *g, int srid, DpGeomBuf *b)
{
	unsigned char order = 1;
	int			i;

	buf_append(b, &order, 1);
	wkb_u32(b, (uint32_t) g->type | (srid > 0 ? 0x20000000u : 0));
	if (srid > 0)
		wkb_u32(b, (uint32_t) srid);
	switch (g->type)
	{
		case DP_GEOM_POINT:
			wkb_f64(b, g->ncoords ? g->coords[0] : NAN);
			wkb_f64(b, g->ncoords ? g->coords[1] : NAN);
			return;
		case DP_GEOM_LINESTRING:
			wkb_coords(g, b);
			return;
		case DP_GEOM_POLYGON:
			wkb_u32(b, (uint32_t) g->nparts);
			for (i = 0; i < g->nparts; i++)
				wkb_coords(&g->parts[i], b);
			return;
		default:
			wkb_u32(b, (uint32_t) g->nparts);
			for (i = 0; i < g->nparts; i++)
				dp_geom_write_wkb(&g->parts[i], 0, b);
			return;
	}
}

